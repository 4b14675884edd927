// MC146818 RTC/CMOS: time in BCD and binary, 12/24 h, setting the clock, UIP, the three interrupt
// sources on IRQ8, and the memory-size bytes SeaBIOS reads.
#include <gtest/gtest.h>

#include <ctime>

#include "devices/cmos_rtc.h"
#include "devices/port_bus.h"

using namespace vx86;

namespace {

constexpr uint64_t kSec = 1000000000;

struct RtcBoard {
  uint64_t icount = 0;
  Clock clock{Clock::Mode::Deterministic, &icount};
  PortBus bus;
  CmosRtc rtc;
  bool irq = false;
  int irq_rises = 0;
  explicit RtcBoard(int64_t epoch = CmosRtc::kDefaultEpoch) : rtc(clock, epoch) {
    rtc.attach(bus);
    rtc.irq = [this](bool l) {
      if (l && !irq) ++irq_rises;
      irq = l;
    };
  }
  uint8_t rd(uint8_t idx) {
    bus.write(0x70, idx, 1);
    return static_cast<uint8_t>(bus.read(0x71, 1));
  }
  void wr(uint8_t idx, uint8_t v) {
    bus.write(0x70, idx, 1);
    bus.write(0x71, v, 1);
  }
  void run_ns(uint64_t ns) {
    const uint64_t end = icount + ns;
    while (icount < end) {
      icount += std::min<uint64_t>(clock.insns_until_next_event(end - icount), end - icount);
      clock.run_due();
    }
  }
};

}  // namespace

TEST(CmosRtc, FixedEpochInBcd) {
  RtcBoard b;  // 2024-01-01 00:00:00 UTC, a Monday
  EXPECT_EQ(b.rd(0x00), 0x00);
  EXPECT_EQ(b.rd(0x02), 0x00);
  EXPECT_EQ(b.rd(0x04), 0x00);
  EXPECT_EQ(b.rd(0x06), 0x02);
  EXPECT_EQ(b.rd(0x07), 0x01);
  EXPECT_EQ(b.rd(0x08), 0x01);
  EXPECT_EQ(b.rd(0x09), 0x24);
  EXPECT_EQ(b.rd(0x32), 0x20);
  EXPECT_EQ(b.rd(0x0A), 0x26);
  EXPECT_EQ(b.rd(0x0B), 0x02);
  EXPECT_EQ(b.rd(0x0D), 0x80);
  b.run_ns(3723 * kSec + kSec / 2);  // 01:02:03.5
  EXPECT_EQ(b.rd(0x00), 0x03);
  EXPECT_EQ(b.rd(0x02), 0x02);
  EXPECT_EQ(b.rd(0x04), 0x01);
}

TEST(CmosRtc, LeapDayAndCenturyBoundary) {
  RtcBoard b(951868799);  // 2000-02-29 23:59:59 UTC, Tuesday
  EXPECT_EQ(b.rd(0x07), 0x29);
  EXPECT_EQ(b.rd(0x08), 0x02);
  EXPECT_EQ(b.rd(0x09), 0x00);
  EXPECT_EQ(b.rd(0x32), 0x20);
  EXPECT_EQ(b.rd(0x06), 0x03);
  b.run_ns(kSec);
  EXPECT_EQ(b.rd(0x07), 0x01);
  EXPECT_EQ(b.rd(0x08), 0x03);
  EXPECT_EQ(b.rd(0x04), 0x00);
}

TEST(CmosRtc, BinaryAnd12HourFormats) {
  RtcBoard b(CmosRtc::kDefaultEpoch + 13 * 3600 + 45 * 60 + 59);  // 13:45:59
  EXPECT_EQ(b.rd(0x00), 0x59);
  EXPECT_EQ(b.rd(0x04), 0x13);
  b.wr(0x0B, 0x06);  // binary, 24 h
  EXPECT_EQ(b.rd(0x00), 59);
  EXPECT_EQ(b.rd(0x02), 45);
  EXPECT_EQ(b.rd(0x04), 13);
  EXPECT_EQ(b.rd(0x09), 24);
  EXPECT_EQ(b.rd(0x32), 20);
  b.wr(0x0B, 0x04);  // binary, 12 h
  EXPECT_EQ(b.rd(0x04), 0x81);  // 1 PM
  b.wr(0x0B, 0x00);  // BCD, 12 h
  EXPECT_EQ(b.rd(0x04), 0x81);
  b.run_ns(11 * 3600 * kSec);  // 00:45 next day: 12 AM
  EXPECT_EQ(b.rd(0x04), 0x12);
}

TEST(CmosRtc, SettingTheClockWithSetBit) {
  RtcBoard b;
  b.wr(0x0B, 0x82);  // SET: updates stop, registers are writable
  b.wr(0x04, 0x23);
  b.wr(0x02, 0x59);
  b.wr(0x00, 0x58);
  b.wr(0x07, 0x31);
  b.wr(0x08, 0x12);
  b.wr(0x09, 0x99);
  b.wr(0x32, 0x19);
  b.run_ns(5 * kSec);
  EXPECT_EQ(b.rd(0x00), 0x58);  // frozen while SET
  EXPECT_EQ(b.rd(0x0A) & 0x80, 0);
  b.wr(0x0B, 0x02);
  EXPECT_EQ(b.rtc.time_seconds(), 946684798);  // 1999-12-31 23:59:58
  b.run_ns(3 * kSec);
  EXPECT_EQ(b.rd(0x00), 0x01);
  EXPECT_EQ(b.rd(0x09), 0x00);
  EXPECT_EQ(b.rd(0x32), 0x20);
  EXPECT_EQ(b.rd(0x08), 0x01);
}

TEST(CmosRtc, WriteWhileRunningAdjustsOneField) {
  RtcBoard b;
  b.wr(0x02, 0x30);  // minutes
  b.run_ns(kSec);
  EXPECT_EQ(b.rd(0x02), 0x30);
  EXPECT_EQ(b.rd(0x00), 0x01);
}

TEST(CmosRtc, UpdateInProgressBeforeEachSecond) {
  RtcBoard b;
  EXPECT_EQ(b.rd(0x0A) & 0x80, 0);
  b.run_ns(kSec - 100000);  // 100 us before the update
  EXPECT_EQ(b.rd(0x0A) & 0x80, 0x80);
  b.run_ns(200000);
  EXPECT_EQ(b.rd(0x0A) & 0x80, 0);
  b.wr(0x0A, 0xA6);  // UIP is read-only
  EXPECT_EQ(b.rd(0x0A) & 0x7F, 0x26);
}

TEST(CmosRtc, PeriodicInterrupt) {
  RtcBoard b;
  b.wr(0x0A, 0x26);  // 1024 Hz
  b.wr(0x0B, 0x42);  // PIE
  b.run_ns(900000);
  EXPECT_FALSE(b.irq);
  b.run_ns(100000);  // first period ends at 976.5625 us
  EXPECT_TRUE(b.irq);
  EXPECT_EQ(b.rd(0x0C), 0xC0);  // IRQF | PF, and reading clears
  EXPECT_FALSE(b.irq);
  EXPECT_EQ(b.rd(0x0C), 0x00);
  // Linux's handler reads C each time: count interrupts over 1 s.
  int count = 1;
  for (int i = 0; i < 1998; ++i) {  // up to t = 1 s
    b.run_ns(500000);
    if (b.irq) {
      ++count;
      b.rd(0x0C);
    }
  }
  EXPECT_EQ(count, 1024);
}

TEST(CmosRtc, PeriodicFlagWithoutInterrupt) {
  RtcBoard b;
  b.run_ns(2000000);
  EXPECT_EQ(b.rd(0x0C), 0x40);  // PF is set even with PIE off, IRQF is not
  EXPECT_FALSE(b.irq);
  EXPECT_EQ(b.clock.pending_events(), 0u);  // and no events run for it
}

TEST(CmosRtc, UpdateEndedInterrupt) {
  RtcBoard b;
  b.wr(0x0A, 0x20);  // no periodic rate
  b.wr(0x0B, 0x12);  // UIE
  b.run_ns(kSec / 2);
  EXPECT_FALSE(b.irq);
  b.run_ns(kSec / 2);
  EXPECT_TRUE(b.irq);
  EXPECT_EQ(b.rd(0x0C), 0x90);
}

TEST(CmosRtc, AlarmInterrupt) {
  RtcBoard b;
  b.wr(0x0A, 0x20);
  b.wr(0x01, 0x05);  // alarm at hh:mm:05 for any hour and minute
  b.wr(0x03, 0xC0);
  b.wr(0x05, 0xFF);
  b.wr(0x0B, 0x22);  // AIE
  b.run_ns(4 * kSec);
  EXPECT_FALSE(b.irq);
  b.run_ns(kSec);
  EXPECT_TRUE(b.irq);
  EXPECT_EQ(b.rd(0x0C) & 0xA0, 0xA0);
  b.run_ns(30 * kSec);
  EXPECT_FALSE(b.irq);
  b.run_ns(30 * kSec);  // next minute
  EXPECT_TRUE(b.irq);
}

TEST(CmosRtc, MemorySizeBytesAndChecksum) {
  RtcBoard b;
  b.rtc.set_memory(128ull << 20, 0);
  EXPECT_EQ(b.rd(0x15) | (b.rd(0x16) << 8), 640);
  EXPECT_EQ(b.rd(0x17) | (b.rd(0x18) << 8), 0xFFFF);  // 127 MiB does not fit: capped
  EXPECT_EQ(b.rd(0x30) | (b.rd(0x31) << 8), 0xFFFF);
  EXPECT_EQ(b.rd(0x34) | (b.rd(0x35) << 8), (112 << 20) / 65536);
  EXPECT_EQ(b.rd(0x5B), 0);
  EXPECT_EQ(b.rd(0x5C), 0);
  EXPECT_EQ(b.rd(0x5D), 0);
  b.rtc.set_memory(32ull << 20, 0);
  EXPECT_EQ(b.rd(0x17) | (b.rd(0x18) << 8), 31 * 1024);
  b.rtc.set_memory(3ull << 30, 1ull << 32);
  EXPECT_EQ(b.rd(0x5B) | (b.rd(0x5C) << 8) | (b.rd(0x5D) << 16), 0x10000);
  unsigned sum = 0;
  for (uint8_t i = 0x10; i <= 0x2D; ++i) sum += b.rd(i);
  EXPECT_EQ((b.rd(0x2E) << 8) | b.rd(0x2F), sum);
  b.rtc.set_byte(0x10, 0x40);
  sum += 0x40;
  EXPECT_EQ((b.rd(0x2E) << 8) | b.rd(0x2F), sum);
  EXPECT_EQ(b.rd(0x14), 0x06);
}

TEST(CmosRtc, NmiMaskAndPlainRam) {
  RtcBoard b;
  b.bus.write(0x70, 0x8F, 1);
  EXPECT_TRUE(b.rtc.nmi_masked());
  b.bus.write(0x71, 0x0A, 1);  // shutdown status byte
  b.bus.write(0x70, 0x0F, 1);
  EXPECT_FALSE(b.rtc.nmi_masked());
  EXPECT_EQ(b.bus.read(0x71, 1), 0x0Au);
  b.wr(0x7F, 0x5A);
  EXPECT_EQ(b.rd(0x7F), 0x5A);
  b.wr(0x0D, 0x00);  // read-only
  EXPECT_EQ(b.rd(0x0D), 0x80);
}

TEST(CmosRtc, ResetClearsEnablesButKeepsTimeAndRam) {
  RtcBoard b;
  b.wr(0x40, 0x77);
  b.wr(0x0B, 0x72);
  b.run_ns(3 * kSec);
  EXPECT_TRUE(b.irq);
  b.rtc.reset();
  EXPECT_FALSE(b.irq);
  EXPECT_EQ(b.rd(0x0B), 0x02);
  EXPECT_EQ(b.rd(0x40), 0x77);
  EXPECT_EQ(b.rd(0x00), 0x03);
}

TEST(CmosRtc, HostTimeIsCurrent) {
  uint64_t icount = 0;
  Clock clock(Clock::Mode::Realtime, &icount);
  CmosRtc rtc(clock, std::nullopt);
  EXPECT_NEAR(static_cast<double>(rtc.time_seconds()), static_cast<double>(time(nullptr)), 5.0);
}
