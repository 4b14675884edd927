// The PIIX4 PM function: PMBA decoding, the 3.579545 MHz PM timer and its status bit, the SCI from
// the timer and the power button, S5 through PM1a_CNT, the SMM-less DEVACTB, snapshots.
#include <gtest/gtest.h>

#include "devices/piix4_pm.h"
#include "devices/snapshot.h"

using namespace vx86;

namespace {

constexpr uint16_t kBase = 0x600;

struct PmBoard {
  uint64_t icount = 0;  // 1 ns per instruction
  Clock clock{Clock::Mode::Deterministic, &icount};
  PortBus bus;
  Piix4Pm pm{clock};
  bool sci = false;
  int power_offs = 0;
  PmBoard() {
    pm.attach(bus);
    pm.sci = [this](bool l) { sci = l; };
    pm.on_power_off = [this] { ++power_offs; };
    pm.reset();
  }
  void run_ns(uint64_t ns) {
    const uint64_t end = icount + ns;
    while (icount < end) {
      icount += std::min<uint64_t>(clock.insns_until_next_event(end - icount), end - icount);
      clock.run_due();
    }
  }
  uint32_t rd(uint16_t off, unsigned size) { return bus.read(static_cast<uint16_t>(kBase + off), size); }
  void wr(uint16_t off, uint32_t v, unsigned size) { bus.write(static_cast<uint16_t>(kBase + off), v, size); }
};

// The timer's value at `ns`, from the definition: 3579545 ticks per second, 24 bits.
uint32_t expected_timer(uint64_t ns) {
  return static_cast<uint32_t>((ns * 3579545ull / 1000000000ull) & 0xFFFFFF);
}

}  // namespace

TEST(Piix4Pm, IdentityAndNoSmm) {
  PmBoard b;
  EXPECT_EQ(b.pm.config_read(0x00, 4), 0x71138086u);
  EXPECT_EQ(b.pm.config_read(0x08, 4) >> 8, 0x068000u);
  // APMC_EN reads set and stays set: firmware must not try to install an SMI handler.
  EXPECT_TRUE(b.pm.config_read(0x58, 4) & (1u << 25));
  b.pm.config_write(0x58, 0, 4);
  EXPECT_TRUE(b.pm.config_read(0x58, 4) & (1u << 25));
}

TEST(Piix4Pm, BlockDecodesOnlyWithPmioseAtPmba) {
  PmBoard b;
  EXPECT_EQ(b.rd(acpi_pm::kPm1Control, 2), 0xFFFFu);  // nothing there after reset
  b.pm.config_write(0x40, kBase | 1, 4);
  EXPECT_EQ(b.rd(acpi_pm::kPm1Control, 2), 0xFFFFu);  // PMIOSE still clear
  b.pm.config_write(0x80, 1, 1);
  EXPECT_EQ(b.pm.io_base(), kBase);
  EXPECT_EQ(b.rd(acpi_pm::kPm1Control, 2) & 1, 1u);  // SCI_EN: always in ACPI mode
  EXPECT_EQ(b.pm.config_read(0x40, 4), uint32_t{kBase} | 1);
  // Moving the block releases the old ports.
  b.pm.config_write(0x40, 0x700, 4);
  EXPECT_EQ(b.pm.io_base(), 0x700);
  EXPECT_EQ(b.rd(acpi_pm::kPm1Control, 2), 0xFFFFu);
  EXPECT_EQ(b.bus.read(0x704, 2) & 1, 1u);
  b.pm.config_write(0x80, 0, 1);
  EXPECT_EQ(b.bus.read(0x704, 2), 0xFFFFu);
}

TEST(Piix4Pm, TimerCountsAt3579545HzAndWraps) {
  PmBoard b;
  b.pm.enable_like_bios(kBase);
  EXPECT_EQ(b.pm.config_read(0x3C, 1), 9u);
  for (uint64_t ns :
       {uint64_t{1}, uint64_t{279}, uint64_t{1'000'000}, uint64_t{999'999'721}, uint64_t{4'000'000'000}}) {
    b.run_ns(ns);
    EXPECT_EQ(b.rd(acpi_pm::kTimer, 4), expected_timer(b.icount)) << "at " << b.icount << " ns";
  }
  // 24 bits: after 2^24 ticks (~4.687 s) the value has wrapped at least once.
  EXPECT_LT(b.rd(acpi_pm::kTimer, 4), 1u << 24);
  // A byte read sees the same counter.
  EXPECT_EQ(b.rd(acpi_pm::kTimer, 1), expected_timer(b.icount) & 0xFF);
}

TEST(Piix4Pm, TimerStatusAtBit23AndSciWhenEnabled) {
  PmBoard b;
  b.pm.enable_like_bios(kBase);
  // Bit 23 first changes at tick 2^23: 2.3435 s.
  const uint64_t toggle_ns = ((1ull << 23) * 1000000000ull + 3579544) / 3579545;
  b.run_ns(toggle_ns - 10);
  EXPECT_EQ(b.rd(acpi_pm::kPm1Status, 2) & Piix4Pm::STS_TMR, 0u);
  b.run_ns(20);
  EXPECT_EQ(b.rd(acpi_pm::kPm1Status, 2) & Piix4Pm::STS_TMR, Piix4Pm::STS_TMR);
  EXPECT_FALSE(b.sci);                             // TMR_EN clear
  b.wr(acpi_pm::kPm1Status, Piix4Pm::STS_TMR, 2);  // write one to clear
  EXPECT_EQ(b.rd(acpi_pm::kPm1Status, 2) & Piix4Pm::STS_TMR, 0u);
  // With TMR_EN the SCI comes at the next change of bit 23, without the guest polling.
  b.wr(acpi_pm::kPm1Enable, Piix4Pm::STS_TMR, 2);
  b.run_ns(toggle_ns - 100);
  EXPECT_FALSE(b.sci);
  b.run_ns(200);
  EXPECT_TRUE(b.sci);
  b.wr(acpi_pm::kPm1Status, Piix4Pm::STS_TMR, 2);
  EXPECT_FALSE(b.sci);
}

TEST(Piix4Pm, PowerButtonRaisesSciOnlyWhenEnabled) {
  PmBoard b;
  b.pm.enable_like_bios(kBase);
  b.pm.press_power_button();
  EXPECT_EQ(b.rd(acpi_pm::kPm1Status, 2) & Piix4Pm::STS_PWRBTN, Piix4Pm::STS_PWRBTN);
  EXPECT_FALSE(b.sci);
  b.wr(acpi_pm::kPm1Enable + 1, Piix4Pm::STS_PWRBTN >> 8, 1);  // byte write of the high half
  EXPECT_TRUE(b.sci);
  EXPECT_EQ(b.rd(acpi_pm::kPm1Enable, 2), Piix4Pm::STS_PWRBTN);
  b.wr(acpi_pm::kPm1Status, Piix4Pm::STS_PWRBTN, 2);
  EXPECT_FALSE(b.sci);
  EXPECT_EQ(b.rd(acpi_pm::kPm1Status, 2) & Piix4Pm::STS_PWRBTN, 0u);
}

TEST(Piix4Pm, SleepEnableWithSoftOffTypePowersOff) {
  PmBoard b;
  b.pm.enable_like_bios(kBase);
  // SLP_TYP 5 (working, clock control) with SLP_EN: not offered, nothing happens.
  b.wr(acpi_pm::kPm1Control, (5u << 10) | Piix4Pm::CNT_SLP_EN, 2);
  EXPECT_EQ(b.power_offs, 0);
  EXPECT_EQ(b.rd(acpi_pm::kPm1Control, 2), (5u << 10) | Piix4Pm::CNT_SCI_EN);  // SLP_EN reads 0
  // SLP_TYP only, then SLP_EN: soft off once SLP_EN is written.
  b.wr(acpi_pm::kPm1Control, 0, 2);
  EXPECT_EQ(b.power_offs, 0);
  b.wr(acpi_pm::kPm1Control, Piix4Pm::CNT_SLP_EN, 2);
  EXPECT_EQ(b.power_offs, 1);
}

TEST(Piix4Pm, SnapshotKeepsRegistersAndRefusesBadBits) {
  PmBoard a;
  a.pm.enable_like_bios(kBase);
  a.pm.press_power_button();
  a.wr(acpi_pm::kPm1Enable, Piix4Pm::STS_PWRBTN | Piix4Pm::STS_TMR, 2);
  std::vector<uint8_t> snap;
  SnapshotWriter w(snap);
  a.pm.save(w);

  PmBoard b;
  SnapshotReader r(snap);
  b.pm.load(r);
  EXPECT_EQ(b.pm.io_base(), kBase);
  EXPECT_EQ(b.rd(acpi_pm::kPm1Enable, 2), Piix4Pm::STS_PWRBTN | Piix4Pm::STS_TMR);
  EXPECT_TRUE(b.sci);

  // PM1 enable with a bit no source has: refused.
  std::vector<uint8_t> bad = snap;
  const size_t en_at = bad.size() - 8 - 2 - 2;  // ..., sts, en, cnt, tmr_half
  bad[en_at] |= 0x02;
  PmBoard c;
  SnapshotReader rb(bad);
  EXPECT_THROW(c.pm.load(rb), SnapshotError);
}
