// The APIC bus between several local APICs: destination matching (physical, broadcast, logical flat
// and cluster), shorthands, lowest priority, INIT / STARTUP / NMI on the target CPU as the SDM
// describes them (an AP waits for STARTUP after INIT and starts in real mode at vector * 1000h; a
// STARTUP to a running CPU is ignored; INIT level de-assert does nothing), and the board being told
// when a message reaches another CPU.
#include "devices/apic_bus.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "devices/local_apic.h"
#include "devices/port_bus.h"

using namespace vx86;

namespace {

struct TwoCpus {
  static constexpr unsigned kCpus = 3;
  uint64_t icount = 0;
  Clock clock{Clock::Mode::Deterministic, &icount};
  PhysicalMemory mem{1u << 20};
  PortBus io;
  std::vector<std::unique_ptr<Cpu>> cpus;
  std::vector<std::unique_ptr<LocalApic>> apics;
  ApicBus bus;
  int remote = 0;
  TwoCpus() {
    for (unsigned i = 0; i < kCpus; ++i) {
      auto c = std::make_unique<Cpu>(mem, io);
      c->bsp = i == 0;
      c->apic_id = static_cast<uint8_t>(i);
      c->has_apic = true;
      c->reset();
      cpus.push_back(std::move(c));
      apics.push_back(
          std::make_unique<LocalApic>(clock, mem, *cpus[i], nullptr, static_cast<uint8_t>(i), false));
      apics[i]->set_bus(&bus);
      apics[i]->write_reg(LocalApic::SVR, 0x1FF);
      bus.add(apics[i].get());
    }
    bus.on_remote = [this] { ++remote; };
  }
  LocalApic& a(unsigned i) { return *apics[i]; }
  void ipi(unsigned from, uint32_t hi, uint32_t lo) {
    a(from).write_reg(LocalApic::ICR_HI, hi);
    a(from).write_reg(LocalApic::ICR_LO, lo);
  }
  bool irr(unsigned i, unsigned v) {
    return (a(i).read_reg(LocalApic::IRR0 + 0x10 * (v / 32)) >> (v % 32)) & 1;
  }
};

}  // namespace

TEST(ApicBus, DestinationMatching) {
  TwoCpus t;
  EXPECT_TRUE(ApicBus::matches(t.a(1), 1, false));
  EXPECT_FALSE(ApicBus::matches(t.a(1), 2, false));
  EXPECT_TRUE(ApicBus::matches(t.a(2), 0xFF, false));
  // Flat model: a bit mask of logical IDs.
  t.a(1).write_reg(LocalApic::DFR, 0xFFFFFFFFu);
  t.a(1).write_reg(LocalApic::LDR, 0x04000000u);
  EXPECT_TRUE(ApicBus::matches(t.a(1), 0x0C, true));
  EXPECT_FALSE(ApicBus::matches(t.a(1), 0x03, true));
  // Cluster model: cluster 2, member bit 1; cluster Fh reaches every cluster.
  t.a(1).write_reg(LocalApic::DFR, 0x0FFFFFFFu);
  t.a(1).write_reg(LocalApic::LDR, 0x22000000u);
  EXPECT_TRUE(ApicBus::matches(t.a(1), 0x22, true));
  EXPECT_TRUE(ApicBus::matches(t.a(1), 0xF2, true));
  EXPECT_FALSE(ApicBus::matches(t.a(1), 0x32, true));
  EXPECT_FALSE(ApicBus::matches(t.a(1), 0x21, true));
}

TEST(ApicBus, FixedIpisByDestinationAndShorthand) {
  TwoCpus t;
  t.ipi(0, 2u << 24, 0x00000061);  // fixed, physical 2
  EXPECT_FALSE(t.irr(0, 0x61));
  EXPECT_FALSE(t.irr(1, 0x61));
  EXPECT_TRUE(t.irr(2, 0x61));
  EXPECT_EQ(t.remote, 1);
  t.ipi(1, 0, 0x000C0062);  // all excluding self
  EXPECT_TRUE(t.irr(0, 0x62));
  EXPECT_FALSE(t.irr(1, 0x62));
  EXPECT_TRUE(t.irr(2, 0x62));
  t.ipi(1, 0, 0x00080063);  // all including self
  for (unsigned i = 0; i < 3; ++i) EXPECT_TRUE(t.irr(i, 0x63)) << i;
  const int before = t.remote;
  t.ipi(2, 0, 0x00040064);  // self
  EXPECT_TRUE(t.irr(2, 0x64));
  EXPECT_FALSE(t.irr(0, 0x64));
  EXPECT_EQ(t.remote, before);  // nobody else to run
  // A hardware-disabled APIC (IA32_APIC_BASE bit 11 clear) is off the bus.
  t.cpus[1]->s.msr.apic_base &= ~uint64_t{0x800};
  t.ipi(0, 0, 0x00080065);
  EXPECT_FALSE(t.irr(1, 0x65));
  EXPECT_TRUE(t.irr(2, 0x65));
}

TEST(ApicBus, LowestPriorityGoesToTheLowestTprThenTheLowestIndex) {
  TwoCpus t;
  for (unsigned i = 0; i < 3; ++i) {
    t.a(i).write_reg(LocalApic::DFR, 0xFFFFFFFFu);
    t.a(i).write_reg(LocalApic::LDR, (1u << i) << 24);
  }
  t.a(0).write_reg(LocalApic::TPR, 0x20);
  t.ipi(0, 0x07u << 24, 0x00000971);  // lowest priority, logical 07h: all three
  EXPECT_FALSE(t.irr(0, 0x71));
  EXPECT_TRUE(t.irr(1, 0x71));  // TPR 0, lower index than CPU 2
  EXPECT_FALSE(t.irr(2, 0x71));
  t.a(1).write_reg(LocalApic::TPR, 0x30);
  t.ipi(0, 0x07u << 24, 0x00000972);
  EXPECT_TRUE(t.irr(2, 0x72));
  EXPECT_FALSE(t.irr(1, 0x72));
}

TEST(ApicBus, InitStartupAndNmi) {
  TwoCpus t;
  Cpu& ap = *t.cpus[1];
  // An AP out of reset waits for STARTUP, with the BSP bit clear; it runs nothing.
  EXPECT_TRUE(ap.s.wait_sipi);
  EXPECT_EQ(ap.s.msr.apic_base & 0x100, 0u);
  EXPECT_EQ(t.cpus[0]->s.msr.apic_base & 0x100, 0x100u);
  EXPECT_EQ(ap.run(100), StopReason::Halted);
  EXPECT_EQ(ap.s.icount, 0u);
  // STARTUP vector 9Ah: real mode at 9A00:0000.
  t.ipi(0, 1u << 24, 0x0000469A);
  EXPECT_FALSE(ap.s.wait_sipi);
  EXPECT_EQ(ap.s.seg[CS].sel, 0x9A00);
  EXPECT_EQ(ap.s.seg[CS].base, 0x9A000u);
  EXPECT_EQ(ap.s.eip, 0u);
  EXPECT_FALSE(ap.pe());
  // A second STARTUP while it runs: ignored.
  ap.s.eip = 0x1234;
  t.ipi(0, 1u << 24, 0x00004611);
  EXPECT_EQ(ap.s.seg[CS].sel, 0x9A00);
  EXPECT_EQ(ap.s.eip, 0x1234u);
  // INIT level de-assert (level trigger, deassert): nothing.
  t.ipi(0, 1u << 24, 0x00008500);
  EXPECT_FALSE(ap.s.wait_sipi);
  // INIT: waiting again; the MSRs and the APIC ID stay, the rest of the APIC resets.
  ap.s.msr.sysenter_cs = 0x42;
  t.a(1).write_reg(LocalApic::TPR, 0x50);
  t.ipi(0, 1u << 24, 0x00004500);
  EXPECT_TRUE(ap.s.wait_sipi);
  EXPECT_EQ(ap.s.msr.sysenter_cs, 0x42u);
  EXPECT_EQ(t.a(1).apic_id(), 1);
  EXPECT_EQ(t.a(1).task_priority(), 0u);
  // NMI: pending on the target only.
  t.ipi(0, 2u << 24, 0x00004400);
  EXPECT_TRUE(t.cpus[2]->s.nmi_pending);
  EXPECT_FALSE(t.cpus[0]->s.nmi_pending);
}
