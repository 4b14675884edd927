// 8254 PIT: modes, latches, read-back, BCD, port 0x61, and IRQ0 timing in deterministic mode.
#include <gtest/gtest.h>

#include <vector>

#include "devices/pit8254.h"
#include "devices/port_bus.h"

using namespace vx86;

namespace {

struct Edge {
  uint64_t ns;
  bool level;
  bool operator==(const Edge& o) const { return ns == o.ns && level == o.level; }
};

struct PitBoard {
  uint64_t icount = 0;
  Clock clock{Clock::Mode::Deterministic, &icount};  // 1 ns per instruction
  PortBus bus;
  Pit8254 pit{clock};
  std::vector<Edge> edges;
  PitBoard() {
    pit.attach(bus);
    pit.irq0 = [this](bool l) {
      if (edges.empty() || edges.back().level != l) edges.push_back({clock.now(), l});
    };
  }
  void out(uint16_t p, uint8_t v) { bus.write(p, v, 1); }
  uint8_t in(uint16_t p) { return static_cast<uint8_t>(bus.read(p, 1)); }
  // The run loop: execute "instructions" up to the next event, run the due events.
  void run_ns(uint64_t ns) {
    const uint64_t end = icount + ns;
    while (icount < end) {
      icount += std::min<uint64_t>(clock.insns_until_next_event(end - icount), end - icount);
      clock.run_due();
    }
  }
  void advance_ticks(uint64_t t) { run_ns(Pit8254::ticks_to_ns(Pit8254::ns_to_ticks(clock.now()) + t) - clock.now()); }
  uint16_t latch_read(unsigned ch) {
    out(0x43, static_cast<uint8_t>(ch << 6));
    uint8_t lo = in(static_cast<uint16_t>(0x40 + ch));
    uint8_t hi = in(static_cast<uint16_t>(0x40 + ch));
    return static_cast<uint16_t>(lo | (hi << 8));
  }
};

}  // namespace

TEST(Pit8254, TickConversions) {
  EXPECT_EQ(Pit8254::ns_to_ticks(1000000000), 1193182u);
  for (uint64_t t : {0ull, 1ull, 7ull, 1193ull, 65536ull, 1193182ull, 123456789ull})
    EXPECT_GE(Pit8254::ns_to_ticks(Pit8254::ticks_to_ns(t)), t);
  EXPECT_EQ(Pit8254::ns_to_ticks(Pit8254::ticks_to_ns(1000) - 1), 999u);
}

TEST(Pit8254, Mode2RateGeneratorDrivesIrq0Periodically) {
  PitBoard b;
  b.out(0x43, 0x34);  // channel 0, lobyte/hibyte, mode 2, binary: what Linux and SeaBIOS program
  b.out(0x40, 1193 & 0xFF);
  b.out(0x40, 1193 >> 8);
  b.run_ns(5000000);  // 5 ms
  // OUT is high after the load, low for the last tick of each period.
  std::vector<uint64_t> rises;
  for (const Edge& e : b.edges)
    if (e.level) rises.push_back(e.ns);
  ASSERT_GE(rises.size(), 5u);
  EXPECT_EQ(rises[0], 0u);
  for (size_t k = 1; k < rises.size(); ++k) EXPECT_EQ(rises[k], Pit8254::ticks_to_ns(1193 * k)) << k;
  for (const Edge& e : b.edges)
    if (!e.level && e.ns) EXPECT_EQ(Pit8254::ns_to_ticks(e.ns) % 1193, 1192u);
}

TEST(Pit8254, DeterministicRunsGiveIdenticalTiming) {
  auto run = [] {
    PitBoard b;
    b.out(0x43, 0x36);  // mode 3 square wave (the BIOS's 18.2 Hz tick, here faster)
    b.out(0x40, 0xA9);
    b.out(0x40, 0x04);
    b.run_ns(20000000);
    return b.edges;
  };
  auto a = run(), c = run();
  EXPECT_EQ(a.size(), c.size());
  EXPECT_TRUE(a == c);
  EXPECT_GT(a.size(), 20u);
}

TEST(Pit8254, Mode3SquareWaveHalves) {
  PitBoard b;
  b.out(0x43, 0x36);
  b.out(0x40, 100);
  b.out(0x40, 0);
  b.run_ns(Pit8254::ticks_to_ns(350));
  // High for 50 ticks, low for 50.
  std::vector<uint64_t> ticks;
  for (const Edge& e : b.edges) ticks.push_back(Pit8254::ns_to_ticks(e.ns));
  ASSERT_GE(ticks.size(), 7u);
  EXPECT_EQ(ticks[1], 50u);
  EXPECT_EQ(ticks[2], 100u);
  EXPECT_EQ(ticks[3], 150u);
  EXPECT_EQ(ticks[4], 200u);
  EXPECT_FALSE(b.edges[1].level);
  EXPECT_TRUE(b.edges[2].level);
}

TEST(Pit8254, Mode0InterruptOnTerminalCount) {
  PitBoard b;
  b.out(0x43, 0x30);
  EXPECT_FALSE(b.pit.output(0));
  b.out(0x40, 0x10);
  b.out(0x40, 0x00);  // 16 ticks
  b.advance_ticks(10);
  EXPECT_FALSE(b.pit.output(0));
  EXPECT_EQ(b.latch_read(0), 6u);
  b.advance_ticks(10);
  EXPECT_TRUE(b.pit.output(0));
  ASSERT_EQ(b.edges.size(), 2u);  // low at the control word, high at terminal count
  EXPECT_EQ(Pit8254::ns_to_ticks(b.edges[1].ns), 16u);
  b.advance_ticks(100000);
  EXPECT_EQ(b.edges.size(), 2u);  // one-shot
}

TEST(Pit8254, Channel2GateAndOutputThroughPort61) {
  PitBoard b;
  // Linux's PIT calibration: gate high, speaker off, mode 0 count, poll bit 5.
  b.out(0x61, static_cast<uint8_t>((b.in(0x61) & ~0x02) | 0x01));
  b.out(0x43, 0xB0);
  b.out(0x42, 0xFF);
  b.out(0x42, 0x00);  // 255 ticks
  EXPECT_EQ(b.in(0x61) & 0x20, 0);
  b.advance_ticks(200);
  EXPECT_EQ(b.in(0x61) & 0x20, 0);
  b.advance_ticks(60);
  EXPECT_EQ(b.in(0x61) & 0x20, 0x20);
  EXPECT_EQ(b.in(0x61) & 0x03, 0x01);
  EXPECT_FALSE(b.pit.speaker_enabled());
  b.out(0x61, 0x03);
  EXPECT_TRUE(b.pit.speaker_enabled());
}

TEST(Pit8254, GateLowSuspendsMode0) {
  PitBoard b;
  b.out(0x61, 0x01);
  b.out(0x43, 0xB0);
  b.out(0x42, 100);
  b.out(0x42, 0);
  b.advance_ticks(40);
  b.out(0x61, 0x00);  // gate low: counting stops
  const uint16_t held = b.latch_read(2);
  b.advance_ticks(1000);
  EXPECT_EQ(b.latch_read(2), held);
  EXPECT_EQ(b.in(0x61) & 0x20, 0);
  b.out(0x61, 0x01);
  b.advance_ticks(held + 1);
  EXPECT_EQ(b.in(0x61) & 0x20, 0x20);
}

TEST(Pit8254, Mode1OneShotStartsOnGateEdge) {
  PitBoard b;
  b.out(0x43, 0xB2);  // channel 2, mode 1
  b.out(0x42, 50);
  b.out(0x42, 0);
  EXPECT_EQ(b.in(0x61) & 0x20, 0x20);  // waiting for the trigger: high
  b.out(0x61, 0x01);                   // rising gate triggers
  EXPECT_EQ(b.in(0x61) & 0x20, 0);
  b.advance_ticks(51);
  EXPECT_EQ(b.in(0x61) & 0x20, 0x20);
}

TEST(Pit8254, LatchHoldsValueUntilRead) {
  PitBoard b;
  b.out(0x43, 0x34);
  b.out(0x40, 0x00);
  b.out(0x40, 0x10);  // 4096
  b.advance_ticks(100);
  b.out(0x43, 0x00);  // latch channel 0
  b.advance_ticks(500);
  b.out(0x43, 0x00);  // a second latch before reading is ignored
  uint8_t lo = b.in(0x40), hi = b.in(0x40);
  EXPECT_EQ(lo | (hi << 8), 4096 - 100);
  // Unlatched reads follow the count.
  uint8_t lo2 = b.in(0x40), hi2 = b.in(0x40);
  EXPECT_EQ(lo2 | (hi2 << 8), 4096 - 600);
}

TEST(Pit8254, ReadBackStatusAndCount) {
  PitBoard b;
  b.out(0x43, 0x34);
  EXPECT_EQ((b.out(0x43, 0xE2), b.in(0x40)), 0xF4);  // OUT high, null count, rw 3, mode 2
  b.out(0x40, 0x00);
  b.out(0x40, 0x01);
  b.advance_ticks(16);
  b.out(0x43, 0xC2);  // latch count and status of channel 0
  EXPECT_EQ(b.in(0x40), 0xB4);  // status first: OUT high, count loaded
  EXPECT_EQ(b.in(0x40), 0xF0);
  EXPECT_EQ(b.in(0x40), 0x00);
}

TEST(Pit8254, SingleByteAccessModes) {
  PitBoard b;
  b.out(0x61, 0x01);  // channel 2 counts only with its gate high
  b.out(0x43, 0x90);  // channel 2, LSB only, mode 0
  b.out(0x42, 200);
  b.advance_ticks(50);
  EXPECT_EQ(b.in(0x42), 150);
  b.out(0x43, 0xA0);  // MSB only
  b.out(0x42, 0x02);  // 0x200
  b.advance_ticks(0x100);
  EXPECT_EQ(b.in(0x42), 0x01);
}

TEST(Pit8254, BcdCounting) {
  PitBoard b;
  b.out(0x61, 0x01);
  b.out(0x43, 0xB1);  // channel 2, rw 3, mode 0, BCD
  b.out(0x42, 0x00);
  b.out(0x42, 0x10);  // 1000 decimal
  b.advance_ticks(1);
  EXPECT_EQ(b.latch_read(2), 0x0999);
  b.advance_ticks(99);
  EXPECT_EQ(b.latch_read(2), 0x0900);
  b.advance_ticks(1000);  // wraps through 0000 to 9999 ...
  EXPECT_EQ(b.latch_read(2), 0x9900);
}

TEST(Pit8254, RefreshToggleMoves) {
  PitBoard b;
  const uint8_t first = b.in(0x61) & 0x10;
  b.run_ns(15085);
  EXPECT_NE(b.in(0x61) & 0x10, first);
}
