// The local APIC (devices/local_apic): register reset values and write masks as the SDM gives
// them (Vol. 3, "Advanced Programmable Interrupt Controller"), priorities, EOI, the timer in
// one-shot and periodic mode with the divide register, LINT0 virtual wire to the 8259, self-IPIs,
// the APIC base MSR, CPUID, and snapshots. Expected values come from the manual, not from vx86.
#include "devices/local_apic.h"

#include <gtest/gtest.h>

#include <vector>

#include "devices/port_bus.h"
#include "devices/snapshot.h"
#include "emu/cpuid.h"
#include "emu/msr.h"

using namespace vx86;

namespace {

// A stand-in for the 8259 pair on LINT0.
struct FakePic : InterruptSource {
  bool line = false;
  uint8_t vector = 0x08;
  int acks = 0;
  bool pending() override { return line; }
  uint8_t acknowledge() override {
    ++acks;
    line = false;
    return vector;
  }
};

struct ApicBoard {
  uint64_t icount = 0;
  Clock clock{Clock::Mode::Deterministic, &icount};  // 1 ns per instruction
  PhysicalMemory mem{1u << 20};
  PortBus io;
  Cpu cpu{mem, io};
  FakePic pic;
  LocalApic apic{clock, mem, cpu, &pic};
  ApicBoard() {
    cpu.has_apic = true;
    cpu.on_apic_base = [this] { apic.base_changed(); };
  }
  uint32_t rd(uint32_t off) { return mem.read(LocalApic::kDefaultBase + off, 4); }
  void wr(uint32_t off, uint32_t v) { mem.write(LocalApic::kDefaultBase + off, v, 4); }
  void run_ns(uint64_t ns) {
    const uint64_t end = icount + ns;
    while (icount < end) {
      icount += std::min<uint64_t>(clock.insns_until_next_event(end - icount), end - icount);
      clock.run_due();
    }
  }
  void enable() { wr(LocalApic::SVR, 0x1FF); }
  bool irr(unsigned v) { return (rd(LocalApic::IRR0 + 0x10 * (v / 32)) >> (v % 32)) & 1; }
  bool isr(unsigned v) { return (rd(LocalApic::ISR0 + 0x10 * (v / 32)) >> (v % 32)) & 1; }
};

TEST(LocalApic, ResetValues) {
  ApicBoard b;
  EXPECT_EQ(b.rd(LocalApic::ID), 0u);
  EXPECT_EQ(b.rd(LocalApic::VERSION) & 0xFF, 0x14u);       // integrated APIC, 1xh
  EXPECT_EQ((b.rd(LocalApic::VERSION) >> 16) & 0xFF, 4u);  // five LVT entries
  EXPECT_EQ(b.rd(LocalApic::TPR), 0u);
  EXPECT_EQ(b.rd(LocalApic::DFR), 0xFFFFFFFFu);
  EXPECT_EQ(b.rd(LocalApic::SVR), 0xFFu);  // software-disabled
  for (uint32_t lvt : {LocalApic::LVT_TIMER, LocalApic::LVT_PERF, LocalApic::LVT_LINT1, LocalApic::LVT_ERROR})
    EXPECT_EQ(b.rd(lvt), 0x10000u) << std::hex << lvt;
  EXPECT_EQ(b.rd(LocalApic::LVT_LINT0), 0x700u);  // ExtINT: the 8259 goes through (virtual wire)
  EXPECT_EQ(b.rd(LocalApic::TIMER_CURRENT), 0u);
  EXPECT_EQ(b.cpu.s.msr.apic_base, 0xFEE00900u);  // base, BSP, enabled
}

TEST(LocalApic, WriteMasks) {
  ApicBoard b;
  b.wr(LocalApic::ID, 0xFFFFFFFF);
  EXPECT_EQ(b.rd(LocalApic::ID), 0xFF000000u);
  b.wr(LocalApic::TPR, 0xFFFFFFFF);
  EXPECT_EQ(b.rd(LocalApic::TPR), 0xFFu);
  b.wr(LocalApic::LDR, 0xFFFFFFFF);
  EXPECT_EQ(b.rd(LocalApic::LDR), 0xFF000000u);
  b.wr(LocalApic::DFR, 0);
  EXPECT_EQ(b.rd(LocalApic::DFR), 0x0FFFFFFFu);  // flat -> cluster model; bits 0-27 read 1
  b.wr(LocalApic::SVR, 0xFFFFFFFF);
  EXPECT_EQ(b.rd(LocalApic::SVR), 0x3FFu);  // vector, enable, focus; bits 0-3 read 1 on a P6
  b.wr(LocalApic::SVR, 0x120);
  EXPECT_EQ(b.rd(LocalApic::SVR), 0x12Fu);
  b.wr(LocalApic::LVT_TIMER, 0xFFFFFFFF);
  EXPECT_EQ(b.rd(LocalApic::LVT_TIMER), 0x300FFu);  // vector, mask, periodic; no delivery mode
  b.wr(LocalApic::LVT_LINT0, 0xFFFFFFFF);
  EXPECT_EQ(b.rd(LocalApic::LVT_LINT0), 0x1A7FFu);  // delivery status and remote IRR read 0
  b.wr(LocalApic::LVT_ERROR, 0xFFFFFFFF);
  EXPECT_EQ(b.rd(LocalApic::LVT_ERROR), 0x100FFu);
  b.wr(LocalApic::TIMER_DIVIDE, 0xFFFFFFFF);
  EXPECT_EQ(b.rd(LocalApic::TIMER_DIVIDE), 0xBu);
  // Read-only registers ignore writes.
  b.wr(LocalApic::VERSION, 0);
  EXPECT_EQ(b.rd(LocalApic::VERSION), LocalApic::kVersion);
  b.wr(LocalApic::PPR, 0xFF);
  b.wr(LocalApic::TPR, 0);
  EXPECT_EQ(b.rd(LocalApic::PPR), 0u);
  // Software-disabled: LVT masks stay set, and clearing SVR bit 8 masks every entry.
  b.wr(LocalApic::SVR, 0xFF);
  b.wr(LocalApic::LVT_TIMER, 0x40);
  EXPECT_EQ(b.rd(LocalApic::LVT_TIMER), 0x10040u);
  b.enable();
  b.wr(LocalApic::LVT_TIMER, 0x40);
  EXPECT_EQ(b.rd(LocalApic::LVT_TIMER), 0x40u);
  b.wr(LocalApic::SVR, 0xFF);
  EXPECT_EQ(b.rd(LocalApic::LVT_TIMER), 0x10040u);
}

TEST(LocalApic, PrioritiesAndEoi) {
  ApicBoard b;
  b.enable();
  b.apic.accept(0x31, false);
  b.apic.accept(0x52, false);
  b.apic.accept(0x55, true);  // level: TMR
  EXPECT_TRUE(b.irr(0x31) && b.irr(0x52) && b.irr(0x55));
  EXPECT_TRUE((b.rd(LocalApic::TMR0 + 0x20) >> (0x55 - 64)) & 1);
  b.wr(LocalApic::TPR, 0x60);  // class 6 blocks classes 0-6
  EXPECT_FALSE(b.apic.pending());
  b.wr(LocalApic::TPR, 0x40);
  ASSERT_TRUE(b.apic.pending());
  EXPECT_EQ(b.apic.acknowledge(), 0x55);  // the highest first
  EXPECT_TRUE(b.isr(0x55));
  EXPECT_FALSE(b.irr(0x55));
  EXPECT_EQ(b.rd(LocalApic::PPR), 0x50u);  // the ISR's class is above the TPR's
  EXPECT_FALSE(b.apic.pending());          // 0x52 is in the same class as the one in service
  b.wr(LocalApic::EOI, 0);
  EXPECT_FALSE(b.isr(0x55));
  EXPECT_FALSE((b.rd(LocalApic::TMR0 + 0x20) >> (0x55 - 64)) & 1);
  EXPECT_EQ(b.rd(LocalApic::PPR), 0x40u);
  EXPECT_EQ(b.apic.acknowledge(), 0x52);
  EXPECT_FALSE(b.apic.pending());  // 0x31: class 3 <= TPR class 4
  // Vectors 0-15 are illegal: not accepted, the error is latched by the next ESR write.
  b.apic.accept(0x05, false);
  EXPECT_FALSE(b.irr(0x05));
  EXPECT_EQ(b.rd(LocalApic::ESR), 0u);
  b.wr(LocalApic::ESR, 0);
  EXPECT_EQ(b.rd(LocalApic::ESR), 0x40u);  // received illegal vector
}

TEST(LocalApic, TimerOneShotAndPeriodicWithDivide) {
  ApicBoard b;
  b.enable();
  b.wr(LocalApic::TIMER_DIVIDE, 0xB);  // divide by 1: one count per ns of the 1 GHz bus
  b.wr(LocalApic::LVT_TIMER, 0x40);    // one-shot, vector 0x40
  b.wr(LocalApic::TIMER_INITIAL, 1000);
  b.run_ns(400);
  EXPECT_EQ(b.rd(LocalApic::TIMER_CURRENT), 600u);
  b.run_ns(599);
  EXPECT_FALSE(b.irr(0x40));
  b.run_ns(1);
  EXPECT_TRUE(b.irr(0x40));
  EXPECT_EQ(b.rd(LocalApic::TIMER_CURRENT), 0u);
  EXPECT_EQ(b.apic.acknowledge(), 0x40);
  b.wr(LocalApic::EOI, 0);
  b.run_ns(5000);
  EXPECT_FALSE(b.irr(0x40)) << "a one-shot timer fires once";

  // Periodic, divide by 16 (0011b): 100 counts = 1600 ns per period.
  b.wr(LocalApic::TIMER_DIVIDE, 0x3);
  b.wr(LocalApic::LVT_TIMER, 0x20041);
  b.wr(LocalApic::TIMER_INITIAL, 100);
  unsigned fired = 0;
  for (int k = 0; k < 10; ++k) {
    b.run_ns(800);
    EXPECT_EQ(b.rd(LocalApic::TIMER_CURRENT), (k % 2) ? 100u : 50u) << k;
    if (b.irr(0x41)) {
      ++fired;
      EXPECT_EQ(b.apic.acknowledge(), 0x41);
      b.wr(LocalApic::EOI, 0);
    }
  }
  EXPECT_EQ(fired, 5u);
  // Masked: counts on, no interrupt. Initial count 0: stopped.
  b.wr(LocalApic::LVT_TIMER, 0x30041);
  b.run_ns(3200);
  EXPECT_FALSE(b.irr(0x41));
  b.wr(LocalApic::TIMER_INITIAL, 0);
  EXPECT_EQ(b.rd(LocalApic::TIMER_CURRENT), 0u);
  // Every divide encoding (bits 3, 1, 0): 000b = 2 ... 110b = 128, 111b = 1.
  const uint32_t enc[8] = {0x0, 0x1, 0x2, 0x3, 0x8, 0x9, 0xA, 0xB};
  const uint32_t div[8] = {2, 4, 8, 16, 32, 64, 128, 1};
  b.wr(LocalApic::LVT_TIMER, 0x10041);
  for (int k = 0; k < 8; ++k) {
    b.wr(LocalApic::TIMER_DIVIDE, enc[k]);
    b.wr(LocalApic::TIMER_INITIAL, 1000);
    b.run_ns(256);
    EXPECT_EQ(b.rd(LocalApic::TIMER_CURRENT), 1000u - 256u / div[k]) << "divide " << div[k];
  }
}

// A one-shot count that has already run down when the timer event is scheduled (a realtime clock
// that moves between two reads, as with CPUs on host threads) still interrupts, once.
TEST(LocalApic, OneShotThatRanDownBeforeSchedulingStillFires) {
  PhysicalMemory mem{1u << 20};
  PortBus io;
  Cpu cpu{mem, io};
  FakePic pic;
  Clock clock{Clock::Mode::Realtime, nullptr};
  uint64_t host = 1'000'000;
  clock.set_host_clock([&host] { return host += 1000; });  // 1 us passes at every read
  LocalApic apic{clock, mem, cpu, &pic};
  cpu.has_apic = true;
  cpu.on_apic_base = [&apic] { apic.base_changed(); };
  auto wr = [&mem](uint32_t off, uint32_t v) { mem.write(LocalApic::kDefaultBase + off, v, 4); };
  auto irr40 = [&mem] { return (mem.read(LocalApic::kDefaultBase + LocalApic::IRR0 + 0x20, 4) & 1) != 0; };
  wr(LocalApic::SVR, 0x1FF);
  wr(LocalApic::TIMER_DIVIDE, 0xB);  // divide by 1: 1 ns per count
  wr(LocalApic::LVT_TIMER, 0x40);    // one-shot, vector 0x40
  wr(LocalApic::TIMER_INITIAL, 10);  // 10 ns: gone before the next clock read
  clock.run_due();
  EXPECT_TRUE(irr40());
  EXPECT_EQ(apic.acknowledge(), 0x40);
  wr(LocalApic::EOI, 0);
  wr(LocalApic::LVT_TIMER, 0x40);  // (rewriting the LVT does not restart a count that ran out)
  clock.run_due();
  EXPECT_FALSE(irr40()) << "a one-shot timer fires once";
}

// Periodic ticks that come while the last one still waits in the IRR: dropped, as on hardware;
// with catch_up_ticks (CPUs on host threads) each is delivered after the one before is taken.
TEST(LocalApic, PeriodicTicksMissedWhileTheVectorWaits) {
  for (bool catch_up : {false, true}) {
    ApicBoard b;
    b.apic.catch_up_ticks = catch_up;
    b.enable();
    b.wr(LocalApic::TIMER_DIVIDE, 0xB);    // 1 ns per count
    b.wr(LocalApic::LVT_TIMER, 0x20045);   // periodic, vector 0x45
    b.wr(LocalApic::TIMER_INITIAL, 100);   // every 100 ns
    b.run_ns(1050);                        // 10 ticks, the CPU taking none
    unsigned taken = 0;
    while (b.apic.pending() && taken < 100) {
      EXPECT_EQ(b.apic.acknowledge(), 0x45);
      b.wr(LocalApic::EOI, 0);
      ++taken;
    }
    EXPECT_EQ(taken, catch_up ? 10u : 1u) << "catch_up_ticks " << catch_up;
    b.run_ns(100);
    EXPECT_TRUE(b.irr(0x45)) << "the next period ticks as before";
  }
}

TEST(LocalApic, Lint0VirtualWireAndBaseMsr) {
  ApicBoard b;
  b.pic.line = true;
  EXPECT_TRUE(b.apic.pending());  // LINT0 ExtINT after reset: the 8259's INTR goes through
  EXPECT_EQ(b.apic.acknowledge(), 0x08);
  EXPECT_EQ(b.pic.acks, 1);
  b.enable();
  b.wr(LocalApic::LVT_LINT0, 0x10700);  // masked
  b.pic.line = true;
  EXPECT_FALSE(b.apic.pending());
  // Disabled in the MSR: the registers are gone, the 8259 drives INTR directly, CPUID clears the bit.
  ASSERT_TRUE(msr_write(b.cpu, MSR_APIC_BASE, 0xFEE00100));
  EXPECT_TRUE(b.apic.pending());
  EXPECT_EQ(b.mem.read(LocalApic::kDefaultBase + LocalApic::VERSION, 4), 0xFFFFFFFFu);
  // Enabled again at another base.
  ASSERT_TRUE(msr_write(b.cpu, MSR_APIC_BASE, 0xFEC80900));
  EXPECT_EQ(b.mem.read(0xFEC80000 + LocalApic::VERSION, 4), LocalApic::kVersion);
}

TEST(LocalApic, SelfIpiThroughIcr) {
  ApicBoard b;
  b.enable();
  b.wr(LocalApic::ICR_LO, 0x40000 | 0x61);  // shorthand self, fixed
  EXPECT_TRUE(b.irr(0x61));
  EXPECT_EQ(b.rd(LocalApic::ICR_LO) & (1u << 12), 0u) << "delivery status: idle";
  b.wr(LocalApic::ICR_HI, 0);  // physical destination 0: this CPU
  b.wr(LocalApic::ICR_LO, 0x62);
  EXPECT_TRUE(b.irr(0x62));
  b.wr(LocalApic::ICR_HI, 0x05000000);  // another CPU: nobody there
  b.wr(LocalApic::ICR_LO, 0x63);
  EXPECT_FALSE(b.irr(0x63));
  b.wr(LocalApic::ICR_LO, 0xC0000 | 0x64);  // all excluding self
  EXPECT_FALSE(b.irr(0x64));
}

TEST(LocalApic, SnapshotRoundTripAndHostileInput) {
  ApicBoard a;
  a.enable();
  a.wr(LocalApic::TPR, 0x20);
  a.wr(LocalApic::TIMER_DIVIDE, 0xB);
  a.wr(LocalApic::LVT_TIMER, 0x20045);
  a.wr(LocalApic::TIMER_INITIAL, 700);
  a.apic.accept(0x90, true);
  a.run_ns(300);
  std::vector<uint8_t> snap;
  SnapshotWriter w(snap);
  a.clock.save(w);
  a.apic.save(w);

  ApicBoard b;
  SnapshotReader r(snap);
  b.icount = a.icount;
  b.clock.load(r);
  b.apic.load(r);
  for (uint32_t off = 0x20; off < 0x400; off += 0x10) EXPECT_EQ(b.rd(off), a.rd(off)) << std::hex << off;
  a.run_ns(400);
  b.run_ns(400);
  EXPECT_TRUE(a.irr(0x45));
  EXPECT_TRUE(b.irr(0x45)) << "the timer goes on after a restore";

  std::vector<uint8_t> bad = snap;
  // The SVR field (the section's fifth u32, after its tag, version and length): a value no guest
  // can write.
  const std::string tag = "LAPC";
  const size_t at = std::string(bad.begin(), bad.end()).find(tag);
  ASSERT_NE(at, std::string::npos);
  bad[at + 12 + 4 * 4 + 1] = 0xF0;
  ApicBoard c;
  SnapshotReader r2(bad);
  c.clock.load(r2);
  EXPECT_THROW(c.apic.load(r2), SnapshotError);
}

TEST(LocalApic, CpuidReportsTheApicWhileEnabled) {
  ApicBoard b;
  auto cpuid_edx = [&] {
    b.cpu.s.regs[EAX] = 1;
    const uint8_t code[] = {0x0F, 0xA2, 0xF4};  // cpuid; hlt
    std::memcpy(b.mem.ram() + 0x7000, code, sizeof code);
    b.cpu.s.eip = 0x7000;
    b.cpu.s.seg[CS].base = 0;
    b.cpu.s.seg[CS].sel = 0;
    b.cpu.s.halted = false;
    b.cpu.blocks.flush();
    b.cpu.run(10);
    return b.cpu.s.regs[EDX];
  };
  EXPECT_TRUE(cpuid_edx() & CPUID_APIC);
  ASSERT_TRUE(msr_write(b.cpu, MSR_APIC_BASE, 0xFEE00100));
  EXPECT_FALSE(cpuid_edx() & CPUID_APIC);
}

}  // namespace
