// The I/O APIC (devices/io_apic): registers through IOREGSEL/IOWIN, edge and level delivery to
// the local APIC with remote IRR and the local APIC's EOI broadcast, masking, destinations, and
// snapshots (82093AA datasheet; SDM Vol. 3 for the local APIC side).
#include "devices/io_apic.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "devices/port_bus.h"
#include "devices/snapshot.h"

using namespace vx86;

namespace {

struct IoApicBoard {
  uint64_t icount = 0;
  Clock clock{Clock::Mode::Deterministic, &icount};
  PhysicalMemory mem{1u << 20};
  PortBus io;
  Cpu cpu{mem, io};
  LocalApic lapic{clock, mem, cpu, nullptr};
  IoApic ioapic{mem, lapic, cpu};
  IoApicBoard() {
    lapic.on_level_eoi = [this](uint8_t v) { ioapic.eoi(v); };
    lapic.write_reg(LocalApic::SVR, 0x1FF);
  }
  uint32_t rd(uint8_t index) {
    mem.write(IoApic::kBase, index, 4);
    return mem.read(IoApic::kBase + 0x10, 4);
  }
  void wr(uint8_t index, uint32_t v) {
    mem.write(IoApic::kBase, index, 4);
    mem.write(IoApic::kBase + 0x10, v, 4);
  }
  void route(unsigned pin, uint32_t low, uint32_t high = 0) {
    wr(static_cast<uint8_t>(0x11 + 2 * pin), high);
    wr(static_cast<uint8_t>(0x10 + 2 * pin), low);
  }
  bool irr(unsigned v) { return (lapic.read_reg(LocalApic::IRR0 + 0x10 * (v / 32)) >> (v % 32)) & 1; }
  // The CPU takes the interrupt (INTA) and, later, EOIs it.
  uint8_t take() { return lapic.acknowledge(); }
  void eoi() { lapic.write_reg(LocalApic::EOI, 0); }
};

TEST(IoApic, Registers) {
  IoApicBoard b;
  EXPECT_EQ(b.rd(0x01), 0x00170011u);  // 24 entries, version 11h
  b.wr(0x00, 0xFFFFFFFF);
  EXPECT_EQ(b.rd(0x00), 0x0F000000u);  // ID: bits 24-27
  EXPECT_EQ(b.rd(0x02), 0x0F000000u);  // arbitration ID follows it
  b.wr(0x01, 0);
  EXPECT_EQ(b.rd(0x01), 0x00170011u);
  for (unsigned pin = 0; pin < 24; ++pin)
    EXPECT_EQ(b.rd(static_cast<uint8_t>(0x10 + 2 * pin)), 0x10000u) << pin;
  b.wr(0x10, 0xFFFFFFFF);
  EXPECT_EQ(b.rd(0x10), 0x1AFFFu) << "delivery status (12) and remote IRR (14) are read-only";
  b.wr(0x11, 0xFFFFFFFF);
  EXPECT_EQ(b.rd(0x11), 0xFF000000u);
  EXPECT_EQ(b.rd(0x40), 0u);  // past the table
}

TEST(IoApic, EdgeDeliversOnRisingInputsOnly) {
  IoApicBoard b;
  b.route(4, 0x54);  // fixed, physical destination 0, edge, high
  b.ioapic.set_irq(4, true);
  EXPECT_TRUE(b.irr(0x54));
  EXPECT_EQ(b.take(), 0x54);
  b.ioapic.set_irq(4, true);  // still high: no new edge
  EXPECT_FALSE(b.irr(0x54));
  b.ioapic.set_irq(4, false);
  b.ioapic.set_irq(4, true);
  EXPECT_TRUE(b.irr(0x54));
  b.eoi();
}

TEST(IoApic, LevelWaitsForTheEoiAndRepeatsWhileAsserted) {
  IoApicBoard b;
  b.route(10, 0x8000 | 0x2000 | 0x5A);  // level, active low (the wire is modelled logically)
  b.ioapic.set_irq(10, true);
  EXPECT_TRUE(b.irr(0x5A));
  EXPECT_TRUE(b.rd(0x10 + 20) & 0x4000) << "remote IRR";
  EXPECT_EQ(b.take(), 0x5A);
  b.ioapic.set_irq(10, true);  // asserted again: in service, nothing new
  EXPECT_FALSE(b.irr(0x5A));
  b.eoi();  // the local APIC broadcasts the EOI (TMR set): delivered again, still asserted
  EXPECT_TRUE(b.irr(0x5A));
  EXPECT_TRUE(b.rd(0x10 + 20) & 0x4000) << "in service again";
  EXPECT_EQ(b.take(), 0x5A);
  b.ioapic.set_irq(10, false);
  b.eoi();
  EXPECT_FALSE(b.irr(0x5A));
  EXPECT_FALSE(b.rd(0x10 + 20) & 0x4000);
  // Remote IRR left set (the OS EOIs an I/O APIC 11h by toggling the trigger mode): edge clears it.
  b.ioapic.set_irq(10, true);
  EXPECT_EQ(b.take(), 0x5A);
  b.ioapic.set_irq(10, false);
  b.route(10, 0x5A);
  EXPECT_FALSE(b.rd(0x10 + 20) & 0x4000);
}

TEST(IoApic, MaskAndDestination) {
  IoApicBoard b;
  b.route(3, 0x10000 | 0x8000 | 0x63);  // masked, level
  b.ioapic.set_irq(3, true);
  EXPECT_FALSE(b.irr(0x63));
  b.route(3, 0x8000 | 0x63);  // unmasked while asserted: delivered now
  EXPECT_TRUE(b.irr(0x63));
  EXPECT_EQ(b.take(), 0x63);
  b.eoi();
  b.ioapic.set_irq(3, false);
  b.eoi();
  // Physical destination 5: not this CPU (ID 0).
  b.route(6, 0x66, 0x05000000);
  b.ioapic.set_irq(6, true);
  EXPECT_FALSE(b.irr(0x66));
  b.ioapic.set_irq(6, false);
  // Logical destination, flat model: a bit of this CPU's LDR.
  b.lapic.write_reg(LocalApic::LDR, 0x02000000);
  b.route(6, 0x800 | 0x66, 0x02000000);
  b.ioapic.set_irq(6, true);
  EXPECT_TRUE(b.irr(0x66));
}

TEST(IoApic, SnapshotRoundTripAndHostileInput) {
  IoApicBoard a;
  a.wr(0x00, 0x03000000);
  a.route(10, 0x8000 | 0x5A, 0xFF000000);
  a.ioapic.set_irq(10, true);
  std::vector<uint8_t> snap;
  SnapshotWriter w(snap);
  a.ioapic.save(w);
  IoApicBoard b;
  SnapshotReader r(snap);
  b.ioapic.load(r);
  for (uint8_t k = 0; k < 0x40; ++k) EXPECT_EQ(b.rd(k), a.rd(k)) << int(k);
  std::vector<uint8_t> bad = snap;
  const size_t at = std::string(bad.begin(), bad.end()).find("IOAP");
  bad[at + 12 + 4 + 1 + 1] = 0xFF;  // entry 0, bits 8-15: delivery status set
  IoApicBoard c;
  SnapshotReader r2(bad);
  EXPECT_THROW(c.ioapic.load(r2), SnapshotError);
}

}  // namespace
