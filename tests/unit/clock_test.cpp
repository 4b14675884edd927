// Virtual clock: deterministic and realtime time, timer events, snapshot of the time.
#include "emu/clock.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "devices/snapshot.h"

using namespace vx86;

TEST(Clock, DeterministicTimeFollowsInstructions) {
  uint64_t icount = 0;
  Clock c(Clock::Mode::Deterministic, &icount, 2500);  // 2.5 ns per instruction
  EXPECT_EQ(c.now(), 0u);
  icount = 1000;
  EXPECT_EQ(c.now(), 2500u);
  icount = 1001;
  EXPECT_EQ(c.now(), 2502u);  // rounded down
  icount = 4000000000000ull;  // no overflow for huge counts
  EXPECT_EQ(c.now(), 10000000000000ull);
}

TEST(Clock, EventsRunInDeadlineThenScheduleOrder) {
  uint64_t icount = 0;
  Clock c(Clock::Mode::Deterministic, &icount);
  std::string log;
  c.schedule(500, [&] { log += "c"; });
  c.schedule(200, [&] { log += "a"; });
  c.schedule(200, [&] { log += "b"; });
  Clock::EventId d = c.schedule(300, [&] { log += "X"; });
  EXPECT_EQ(c.next_deadline(), 200u);
  EXPECT_EQ(c.insns_until_next_event(1000000), 200u);
  EXPECT_TRUE(c.cancel(d));
  EXPECT_FALSE(c.cancel(d));
  icount = 199;
  EXPECT_EQ(c.run_due(), 0u);
  icount = 300;
  EXPECT_EQ(c.run_due(), 2u);
  EXPECT_EQ(log, "ab");
  EXPECT_EQ(c.next_deadline(), 500u);
  EXPECT_EQ(c.insns_until_next_event(1000000), 200u);
  EXPECT_EQ(c.insns_until_next_event(50), 50u);  // capped
  icount = 600;
  c.run_due();
  EXPECT_EQ(log, "abc");
  EXPECT_EQ(c.next_deadline(), Clock::kNever);
}

TEST(Clock, CallbacksMayRescheduleThemselves) {
  uint64_t icount = 0;
  Clock c(Clock::Mode::Deterministic, &icount);
  std::vector<uint64_t> fired;
  std::function<void()> tick = [&] {
    fired.push_back(c.now());
    if (fired.size() < 5) c.schedule(100 * (fired.size() + 1), tick);
  };
  c.schedule(100, tick);
  // A run loop: run up to the next deadline, then the due events.
  while (c.next_deadline() != Clock::kNever) {
    icount += c.insns_until_next_event(1 << 20);
    c.run_due();
  }
  EXPECT_EQ(fired, (std::vector<uint64_t>{100, 200, 300, 400, 500}));
}

TEST(Clock, SkipToJumpsOverHaltInDeterministicMode) {
  uint64_t icount = 0;
  Clock c(Clock::Mode::Deterministic, &icount);
  icount = 10;
  bool ran = false;
  c.schedule(1000000, [&] { ran = true; });
  c.skip_to(c.next_deadline());
  EXPECT_EQ(c.now(), 1000000u);
  c.run_due();
  EXPECT_TRUE(ran);
  icount += 5;
  EXPECT_EQ(c.now(), 1000005u);
  c.skip_to(10);  // never backwards
  EXPECT_EQ(c.now(), 1000005u);
}

TEST(Clock, InstructionCounterResetKeepsTimeMonotonic) {
  uint64_t icount = 0;
  Clock c(Clock::Mode::Deterministic, &icount);
  icount = 5000;
  EXPECT_EQ(c.now(), 5000u);
  icount = 0;
  EXPECT_EQ(c.now(), 5000u);
  icount = 10;
  EXPECT_EQ(c.now(), 5010u);
}

TEST(Clock, RealtimeFollowsHostAndPauses) {
  uint64_t host = 1000000;
  Clock c(Clock::Mode::Realtime, nullptr);
  c.set_host_clock([&] { return host; });
  uint64_t t0 = c.now();
  host += 5000;
  EXPECT_EQ(c.now(), t0 + 5000);
  c.pause();
  host += 100000;
  EXPECT_EQ(c.now(), t0 + 5000);
  c.resume();
  host += 10;
  EXPECT_EQ(c.now(), t0 + 5010);
  bool ran = false;
  c.schedule(t0 + 6000, [&] { ran = true; });
  EXPECT_EQ(c.host_ns_until(c.next_deadline()), 990u);
  EXPECT_EQ(c.insns_until_next_event(1000000, 1000000), 990u);  // 1000 insns per us
  c.run_due();
  EXPECT_FALSE(ran);
  host += 990;
  c.run_due();
  EXPECT_TRUE(ran);
}

// Realtime with an instruction counter (a machine's clock): smooth between syncs, steered to the
// host's clock across them, caught up while idle.
struct SmoothClock {
  uint64_t host = 1'000'000'000, icount = 0;
  Clock c{Clock::Mode::Realtime, &icount};
  SmoothClock() {
    c.set_host_clock([this] { return host; });
  }
  // One run-loop slice: `insns` instructions that took `host_ns` of host time, then a sync.
  uint64_t slice(uint64_t insns, uint64_t host_ns) {
    const uint64_t t0 = c.now();
    icount += insns;
    host += host_ns;
    const uint64_t dt = c.now() - t0;
    c.sync();
    return dt;
  }
};

TEST(Clock, SmoothRealtimeHidesHostHiccupsBetweenSyncs) {
  SmoothClock s;
  const uint64_t t0 = s.c.now();
  s.host += 5'000'000;  // the host stalls 5 ms with no instruction retired
  EXPECT_EQ(s.c.now(), t0);
  s.icount += 1000;
  EXPECT_EQ(s.c.now(), t0 + 1000);  // 1000 instructions at the initial 1 ns each
}

TEST(Clock, SmoothRealtimeConvergesOnTheHostsClock) {
  SmoothClock s;
  const uint64_t v0 = s.c.now(), h0 = s.host;
  // The emulator runs at 100 MIPS (10 ns an instruction), in 1 ms slices, with host jitter:
  // the slices alternate between 0.5 and 1.5 ms of host time.
  uint64_t lo = UINT64_MAX, hi = 0, prev = v0;
  for (int k = 0; k < 400; ++k) {
    const uint64_t dt = s.slice(100'000, k % 2 ? 1'500'000 : 500'000);
    EXPECT_GE(s.c.now(), prev);
    prev = s.c.now();
    if (k >= 200) {
      lo = std::min(lo, dt);
      hi = std::max(hi, dt);
    }
  }
  const double virt = static_cast<double>(s.c.now() - v0), host = static_cast<double>(s.host - h0);
  EXPECT_NEAR(virt, host, 1e6) << "within 1 ms of the host after 400 ms";
  // Each slice's virtual duration stays near the mean (1 ms), far steadier than the host's.
  EXPECT_GT(lo, 800'000u);
  EXPECT_LT(hi, 1'200'000u);
}

TEST(Clock, SmoothRealtimeCatchesUpWhileIdleAndAfterAStall) {
  SmoothClock s;
  for (int k = 0; k < 50; ++k) s.slice(100'000, 1'000'000);
  s.host += 30'000'000;  // HLT: 30 ms idle
  s.c.catch_up();
  const uint64_t host_elapsed = s.host - 1'000'000'000;
  EXPECT_NEAR(static_cast<double>(s.c.now()), static_cast<double>(host_elapsed), 1e6);
  // Busy through a 2 s host stall (a suspended process): one jump, no race of tiny steps.
  s.slice(1000, 2'000'000'000);
  EXPECT_NEAR(static_cast<double>(s.c.now() + 1000), static_cast<double>(s.host - 1'000'000'000), 2e6);
  // Events: the slice to the next deadline is exact at the current rate.
  bool ran = false;
  s.c.schedule(s.c.now() + 1'000'000, [&] { ran = true; });
  const uint64_t n = s.c.insns_until_next_event(UINT64_MAX);
  s.icount += n - 1;
  s.c.run_due();
  EXPECT_FALSE(ran);
  s.icount += 1;
  s.c.run_due();
  EXPECT_TRUE(ran);
}

// The first slice is slow (set-up before the CPU started, cold translations): that host time is
// not the guest's, so virtual time neither jumps nor races to make it up; from then on it follows
// the host. (A guest timing its first milliseconds saw tens of ms vanish in a jump or a race.)
TEST(Clock, SmoothRealtimeForgetsTheWarmUp) {
  SmoothClock s;
  s.slice(1'000'000, 66'000'000);  // 66 ns an instruction: warming up
  const uint64_t v0 = s.c.now(), h0 = s.host;
  uint64_t prev = v0;
  for (int k = 0; k < 40; ++k) {
    const uint64_t dt = s.slice(100'000, 1'000'000);  // then 10 ns an instruction
    EXPECT_GE(s.c.now(), prev);
    prev = s.c.now();
    EXPECT_LT(dt, 2'000'000u) << "slice " << k << ": virtual time raced the host";
  }
  EXPECT_NEAR(static_cast<double>(s.c.now() - v0), static_cast<double>(s.host - h0), 1e6);
}

// The same when the CPU idles (HLT) before its first full window: the set-up time is not caught
// up in one jump (a ROM that halts at once saw 70 ms vanish); idle time after that is.
TEST(Clock, SmoothRealtimeForgetsTheWarmUpWhenIdleFirst) {
  SmoothClock s;
  s.icount += 10;
  s.host += 70'000'000;
  s.c.catch_up();
  EXPECT_LT(s.c.now(), 1'000u);
  const uint64_t v0 = s.c.now();
  s.host += 5'000'000;  // then 5 ms idle
  s.c.catch_up();
  EXPECT_NEAR(static_cast<double>(s.c.now() - v0), 5e6, 1e3);
}

// Idle after falling behind: virtual time reaches the host's one timer event at a time, so a
// periodic timer (rescheduling itself one period after it ran, as the local APIC's) fires once per
// period it was due, not once for all of them.
TEST(Clock, SmoothRealtimeCatchesUpOneEventAtATime) {
  SmoothClock s;
  for (int k = 0; k < 300; ++k) s.slice(100'000, 1'000'000);  // settled on the host's clock
  int fired = 0;
  std::function<void()> tick = [&] {
    ++fired;
    s.c.schedule(s.c.now() + 1'000'000, tick);
  };
  s.c.schedule(s.c.now() + 1'000'000, tick);
  s.host += 10'500'000;  // HLT while the host moves 10.5 ms on
  uint64_t prev = UINT64_MAX;
  for (int k = 0; k < 40 && s.c.now() != prev; ++k) {
    prev = s.c.now();
    s.c.catch_up();  // the run loop: idle, run the due events (the CPU takes the interrupt), HLT
    s.c.run_due();
  }
  EXPECT_GE(fired, 10);  // one jump would have fired it once
  EXPECT_LE(fired, 11);
}

// A slice planned up to a deadline: an event scheduled before it (a device reprogrammed mid-slice)
// asks the run loop to end the slice; later ones, and any outside a slice, do not.
TEST(Clock, AnEarlierEventDuringASliceEndsIt) {
  uint64_t icount = 0;
  Clock c(Clock::Mode::Deterministic, &icount);
  int asked = 0;
  c.on_earlier_event = [&] { ++asked; };
  c.schedule(1000, [] {});
  c.set_horizon(c.next_deadline());
  c.schedule(2000, [] {});
  EXPECT_EQ(asked, 0);
  c.schedule(500, [] {});
  EXPECT_EQ(asked, 1);
  c.schedule(700, [] {});  // before the first planned deadline, after the new one
  EXPECT_EQ(asked, 1);
  c.set_horizon(0);  // between slices (run_due's callbacks): nothing to end
  c.schedule(10, [] {});
  EXPECT_EQ(asked, 1);
}

TEST(Clock, SnapshotRestoresTimeAndDropsEvents) {
  uint64_t icount = 99;
  Clock a(Clock::Mode::Deterministic, &icount);  // time starts at 0 at construction
  EXPECT_EQ(a.now(), 0u);
  icount += 123456;
  a.schedule(999999, [] {});
  std::vector<uint8_t> buf;
  SnapshotWriter w(buf);
  a.save(w);

  uint64_t icount2 = 7;
  Clock b(Clock::Mode::Deterministic, &icount2);
  b.schedule(5, [] {});
  SnapshotReader r(buf);
  b.load(r);
  EXPECT_EQ(b.now(), 123456u);
  EXPECT_EQ(b.pending_events(), 0u);
  icount2 += 4;
  EXPECT_EQ(b.now(), 123460u);
}
