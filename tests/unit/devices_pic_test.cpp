// Dual 8259A: driven through its ports the way SeaBIOS and Linux program it.
#include <gtest/gtest.h>

#include "devices/pic8259.h"
#include "devices/port_bus.h"

using namespace vx86;

namespace {

struct PicBoard {
  PortBus bus;
  Pic8259 pic;
  int intr_changes = 0;
  PicBoard() {
    pic.attach(bus);
    pic.on_intr_change = [this](bool) { ++intr_changes; };
  }
  void out(uint16_t p, uint8_t v) { bus.write(p, v, 1); }
  uint8_t in(uint16_t p) { return static_cast<uint8_t>(bus.read(p, 1)); }
  // The BIOS's standard initialisation: vectors 0x08 and 0x70, cascade on IR2, 8086 mode.
  void init(uint8_t icw4 = 0x01) {
    out(0x20, 0x11);
    out(0x21, 0x08);
    out(0x21, 0x04);
    out(0x21, icw4);
    out(0xA0, 0x11);
    out(0xA1, 0x70);
    out(0xA1, 0x02);
    out(0xA1, icw4);
    out(0x21, 0x00);
    out(0xA1, 0x00);
  }
  uint8_t isr(uint16_t cmd) {
    out(cmd, 0x0B);
    uint8_t v = in(cmd);
    out(cmd, 0x0A);
    return v;
  }
};

}  // namespace

TEST(Pic8259, InitialisationAndMaskRegister) {
  PicBoard b;
  b.init();
  EXPECT_EQ(b.pic.vector_base(0), 0x08);
  EXPECT_EQ(b.pic.vector_base(1), 0x70);
  b.out(0x21, 0xB8);
  EXPECT_EQ(b.in(0x21), 0xB8);
  b.out(0xA1, 0x8F);
  EXPECT_EQ(b.in(0xA1), 0x8F);
  EXPECT_FALSE(b.pic.pending());
}

TEST(Pic8259, EdgeRequestAcknowledgeAndEoi) {
  PicBoard b;
  b.init();
  b.pic.set_irq(0, true);
  EXPECT_TRUE(b.pic.pending());
  EXPECT_EQ(b.in(0x20), 0x01);  // IRR
  EXPECT_EQ(b.pic.acknowledge(), 0x08);
  EXPECT_EQ(b.isr(0x20), 0x01);
  EXPECT_EQ(b.in(0x20), 0x00);  // edge request consumed
  EXPECT_FALSE(b.pic.pending());
  // A new edge on the same line is latched but waits for the EOI.
  b.pic.set_irq(0, false);
  b.pic.set_irq(0, true);
  EXPECT_FALSE(b.pic.pending());
  b.pic.set_irq(1, true);  // lower priority: also blocked
  EXPECT_FALSE(b.pic.pending());
  b.out(0x20, 0x20);  // non-specific EOI
  EXPECT_EQ(b.isr(0x20), 0x00);
  EXPECT_TRUE(b.pic.pending());
  EXPECT_EQ(b.pic.acknowledge(), 0x08);
  b.out(0x20, 0x60);  // specific EOI for IRQ0
  EXPECT_EQ(b.pic.acknowledge(), 0x09);
  EXPECT_GT(b.intr_changes, 0);
}

TEST(Pic8259, EdgeLatchSurvivesLineDrop) {
  PicBoard b;
  b.init();
  b.pic.set_irq(4, true);
  b.pic.set_irq(4, false);  // a pulse between two instructions is not lost
  EXPECT_TRUE(b.pic.pending());
  EXPECT_EQ(b.pic.acknowledge(), 0x0C);
}

TEST(Pic8259, PriorityAndMasking) {
  PicBoard b;
  b.init();
  b.out(0x21, 0x02);  // mask IRQ1
  b.pic.set_irq(3, true);
  b.pic.set_irq(1, true);
  EXPECT_EQ(b.pic.acknowledge(), 0x0B);  // IRQ1 masked
  // A higher-priority request nests over one in service.
  b.out(0x21, 0x00);
  EXPECT_EQ(b.pic.acknowledge(), 0x09);
  EXPECT_EQ(b.isr(0x20), 0x0A);
  b.out(0x20, 0x20);  // EOI goes to IRQ1, the highest in service
  EXPECT_EQ(b.isr(0x20), 0x08);
}

TEST(Pic8259, CascadeDeliversSlaveVectors) {
  PicBoard b;
  b.init();
  b.pic.set_irq(12, true);
  EXPECT_TRUE(b.pic.pending());
  EXPECT_EQ(b.pic.acknowledge(), 0x74);
  EXPECT_EQ(b.isr(0x20), 0x04);  // master: IR2 in service
  EXPECT_EQ(b.isr(0xA0), 0x10);
  b.pic.set_irq(8, true);  // higher priority on the slave, but master IR2 is in service
  EXPECT_FALSE(b.pic.pending());
  b.out(0xA0, 0x20);
  b.out(0x20, 0x20);
  EXPECT_TRUE(b.pic.pending());
  EXPECT_EQ(b.pic.acknowledge(), 0x70);
  // Masking the cascade line masks the whole slave.
  b.out(0xA0, 0x20);
  b.out(0x20, 0x20);
  b.pic.set_irq(9, true);
  b.out(0x21, 0x04);
  EXPECT_FALSE(b.pic.pending());
  b.out(0x21, 0x00);
  EXPECT_EQ(b.pic.acknowledge(), 0x71);
}

TEST(Pic8259, LevelTriggeredThroughElcr) {
  PicBoard b;
  b.init();
  b.out(0x4D0, 0xFF);
  b.out(0x4D1, 0xFF);
  EXPECT_EQ(b.in(0x4D0), 0xF8);  // IRQ0-2 are always edge
  EXPECT_EQ(b.in(0x4D1), 0xDE);  // IRQ8 and IRQ13 too
  EXPECT_EQ(b.bus.read(0x4D0, 2), 0xDEF8u);
  b.out(0x4D0, 0x00);
  b.out(0x4D1, 0x08);  // IRQ11 level
  b.pic.set_irq(11, true);
  EXPECT_EQ(b.pic.acknowledge(), 0x73);
  b.out(0xA0, 0x20);
  b.out(0x20, 0x20);
  EXPECT_TRUE(b.pic.pending());  // still high: requests again
  b.pic.set_irq(11, false);
  EXPECT_FALSE(b.pic.pending());
  // A level request that goes away before the INTA cycle is not latched.
  b.pic.set_irq(11, true);
  b.pic.set_irq(11, false);
  EXPECT_FALSE(b.pic.pending());
}

TEST(Pic8259, SpuriousIrq7) {
  PicBoard b;
  b.init();
  EXPECT_FALSE(b.pic.pending());
  EXPECT_EQ(b.pic.acknowledge(), 0x0F);
  EXPECT_EQ(b.isr(0x20), 0x00);  // spurious: not in service
}

TEST(Pic8259, AutoEoi) {
  PicBoard b;
  b.init(0x03);
  b.pic.set_irq(5, true);
  EXPECT_EQ(b.pic.acknowledge(), 0x0D);
  EXPECT_EQ(b.isr(0x20), 0x00);
  b.pic.set_irq(6, true);
  EXPECT_TRUE(b.pic.pending());
}

TEST(Pic8259, RotationChangesPriority) {
  PicBoard b;
  b.init();
  b.out(0x20, 0xC3);  // set priority: IRQ3 lowest, IRQ4 highest
  b.pic.set_irq(1, true);
  b.pic.set_irq(5, true);
  EXPECT_EQ(b.pic.acknowledge(), 0x0D);
  b.out(0x20, 0xA0);  // rotate on non-specific EOI: IRQ5 becomes lowest
  EXPECT_EQ(b.pic.acknowledge(), 0x09);
  b.out(0x20, 0x20);
  b.pic.set_irq(5, false);
  b.pic.set_irq(5, true);
  b.pic.set_irq(6, true);
  EXPECT_EQ(b.pic.acknowledge(), 0x0E);  // 6 is now the highest
}

TEST(Pic8259, SpecialMaskModeAllowsLowerPriorities) {
  PicBoard b;
  b.init();
  b.pic.set_irq(0, true);
  EXPECT_EQ(b.pic.acknowledge(), 0x08);
  b.pic.set_irq(3, true);
  EXPECT_FALSE(b.pic.pending());
  b.out(0x20, 0x68);  // OCW3: set special mask mode
  b.out(0x21, 0x01);  // mask the level in service
  EXPECT_TRUE(b.pic.pending());
  EXPECT_EQ(b.pic.acknowledge(), 0x0B);
  b.out(0x20, 0x48);  // clear special mask mode
  b.out(0x20, 0x63);
  b.out(0x20, 0x60);
  EXPECT_EQ(b.isr(0x20), 0x00);
}

TEST(Pic8259, PollCommand) {
  PicBoard b;
  b.init();
  EXPECT_EQ((b.out(0x20, 0x0C), b.in(0x20)), 0x00);  // nothing requested
  b.pic.set_irq(6, true);
  b.out(0x20, 0x0C);
  EXPECT_EQ(b.in(0x20), 0x86);
  EXPECT_EQ(b.isr(0x20), 0x40);
  EXPECT_FALSE(b.pic.pending());
}

TEST(Pic8259, Icw1ClearsStateButKeepsElcr) {
  PicBoard b;
  b.init();
  b.out(0x4D1, 0x0C);
  b.pic.set_irq(3, true);
  b.out(0x21, 0xFF);
  b.init();
  EXPECT_EQ(b.in(0x20), 0x00);  // edge latch cleared
  EXPECT_EQ(b.in(0x4D1), 0x0C);
  b.pic.reset();
  EXPECT_EQ(b.in(0x4D1), 0x00);
}
