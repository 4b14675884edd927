#include "emu/clock.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "devices/snapshot.h"

namespace vx86 {

namespace {
uint64_t host_steady_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}
}  // namespace

Clock::Clock(Mode mode, const uint64_t* icount, uint64_t ps_per_insn)
    : mode_(mode), icount_(icount), ps_per_insn_(ps_per_insn), host_(host_steady_ns) {
  if (mode_ == Mode::Deterministic && !icount_)
    throw std::invalid_argument("Clock: deterministic mode needs the instruction counter");
  if (ps_per_insn_ == 0) throw std::invalid_argument("Clock: time per instruction must be > 0");
  reset();
}

void Clock::set_host_clock(HostClock host) {
  uint64_t t = now();
  host_ = std::move(host);
  set_now(t);
}

uint64_t Clock::insns_to_ns(uint64_t n) const {
  // n * ps / 1000 without overflowing for any realistic n.
  return (n / 1000) * ps_per_insn_ + (n % 1000) * ps_per_insn_ / 1000;
}

uint64_t Clock::raw_now() const {
  if (paused_) return base_ns_;      // (realtime only: pause() does nothing in deterministic mode)
  if (!icount_) return host_time();  // a realtime clock without a CPU (deterministic needs one)
  const uint64_t ic = *icount_;
  if (ic < last_icount_) {
    // The counter went backwards (something zeroed it): keep time continuous from here.
    base_ns_ = last_now_;
    base_icount_ = ic;
  }
  last_icount_ = ic;
  const uint64_t n = ic - base_icount_;
  if (mode_ == Mode::Deterministic) return base_ns_ + insns_to_ns(n);
  return base_ns_ + static_cast<uint64_t>(static_cast<unsigned __int128>(n) * rate_fs_ / 1'000'000);
}

uint64_t Clock::host_time() const {
  if (paused_) return base_ns_;
  const uint64_t h = host_();
  return host_base_ns_ + (h > base_host_ ? h - base_host_ : 0);
}

namespace {
// How smooth realtime steers: the error between virtual and host time is closed over about
// kHorizonNs of host time; beyond kMaxLagNs behind, virtual time jumps (the host stalled). The
// first speed measured replaces the initial guess outright.
constexpr int64_t kHorizonNs = 20'000'000, kMaxLagNs = 1'000'000'000;
constexpr uint64_t kMinSpeedInsns = 100'000;  // a speed measured over fewer instructions is noise
}  // namespace

void Clock::sync() {
  if (!smooth() || paused_) return;
  const uint64_t ic = *icount_;
  const uint64_t host = host_();
  if (ic == base_icount_) {
    // Nothing ran since the last re-base (the CPU idled: catch_up's business): the host time
    // since then is not the CPU's, so the speed measurement restarts here.
    speed_icount_ = ic;
    speed_host_ = host;
    return;
  }
  const uint64_t v = now();
  base_ns_ = v;
  base_icount_ = last_icount_ = ic;
  const uint64_t guess = speed_fs_;
  learn_speed(ic, host);
  if (!warmed_up_) {
    // The first window of instructions is not the guest's time: set-up before the CPU started,
    // cold translations. Its host time is no error to steer away (nor a jump the guest sees), and
    // its speed is not the CPU's: the next window gives the first one.
    host_base_ns_ = v;
    base_host_ = host;
    if (speed_learnt_) {
      warmed_up_ = true;
      speed_learnt_ = false;
      speed_fs_ = guess;
    }
  }
  int64_t err = static_cast<int64_t>(host_time() - v);  // > 0: virtual time is behind
  if (err > kMaxLagNs) {
    base_ns_ = last_now_ = v + static_cast<uint64_t>(err);  // the host stalled: jump, do not race
    err = 0;
  }
  // The rate that closes the error in kHorizonNs at the measured speed, within 1/8x..8x of it.
  const int64_t num = std::max<int64_t>(kHorizonNs + err, kHorizonNs / 8);
  uint64_t rate = static_cast<uint64_t>(static_cast<unsigned __int128>(speed_fs_) *
                                        static_cast<uint64_t>(num) / static_cast<uint64_t>(kHorizonNs));
  rate_fs_ = std::max<uint64_t>(std::min(rate, speed_fs_ * 8), 1);
}

// The host time per instruction while the CPU runs: accumulated between marks (idle periods are
// left out: sync() with nothing run and catch_up() move the mark), averaged over a few windows.
void Clock::learn_speed(uint64_t ic, uint64_t host) {
  if (ic >= speed_icount_ && host >= speed_host_) {
    acc_insns_ += ic - speed_icount_;
    acc_host_ += host - speed_host_;
  }
  speed_icount_ = ic;
  speed_host_ = host;
  if (acc_insns_ < kMinSpeedInsns) return;
  const uint64_t measured =
      static_cast<uint64_t>(static_cast<unsigned __int128>(acc_host_) * 1'000'000 / acc_insns_);
  speed_fs_ = std::max<uint64_t>(speed_learnt_ ? (3 * speed_fs_ + measured) / 4 : measured, 1);
  speed_learnt_ = true;
  acc_insns_ = acc_host_ = 0;
}

void Clock::catch_up() {
  if (!smooth() || paused_) return;
  const uint64_t ic = *icount_;
  const uint64_t host = host_();
  learn_speed(ic, host);  // the CPU ran until it halted just now
  if (!warmed_up_) {
    // The CPU idles before its first full window (see sync): the host's time so far (set-up, cold
    // translations) is not the guest's to catch up. From here on it is.
    host_base_ns_ = now();
    base_host_ = host;
    warmed_up_ = true;
  }
  // Idle: virtual time moves up to the host's, but no further than the next timer event: when it
  // is several periods behind (the CPU fell behind while busy), a periodic interrupt is delivered
  // each period, one idle step at a time, instead of merging into one (lost ticks, which Linux's
  // clocksource watchdog counts against the TSC).
  const uint64_t v = now(), target = std::max(v, host_time()), dl = next_deadline();
  base_ns_ = last_now_ = dl > v && dl < target ? dl : target;
  base_icount_ = last_icount_ = ic;
  rate_fs_ = speed_fs_;
}

uint64_t Clock::now() const {
  uint64_t t = raw_now();
  if (t < last_now_) t = last_now_;
  last_now_ = t;
  return t;
}

void Clock::set_now(uint64_t t) {
  base_ns_ = host_base_ns_ = t;
  base_icount_ = icount_ ? *icount_ : 0;
  last_icount_ = speed_icount_ = base_icount_;
  base_host_ = speed_host_ = host_();
  acc_insns_ = acc_host_ = 0;
  last_now_ = t;
}

Clock::EventId Clock::schedule(uint64_t deadline_ns, Callback cb) {
  if (!cb) throw std::invalid_argument("Clock::schedule: empty callback");
  EventId id = next_seq_++;
  events_.emplace(Key{deadline_ns, id}, std::move(cb));
  ids_.emplace(id, deadline_ns);
  if (deadline_ns < horizon_) {
    horizon_ = deadline_ns;
    if (on_earlier_event) on_earlier_event();
  }
  return id;
}

bool Clock::cancel(EventId id) {
  auto it = ids_.find(id);
  if (it == ids_.end()) return false;
  events_.erase(Key{it->second, id});
  ids_.erase(it);
  return true;
}

unsigned Clock::run_due() {
  unsigned ran = 0;
  if (events_.empty()) return 0;
  uint64_t t = now();
  while (!events_.empty() && events_.begin()->first.deadline <= t) {
    auto it = events_.begin();
    Callback cb = std::move(it->second);
    ids_.erase(it->first.seq);
    events_.erase(it);
    cb();
    ++ran;
  }
  return ran;
}

uint64_t Clock::insns_until_next_event(uint64_t cap, uint64_t insns_per_ms) const {
  if (cap == 0) cap = 1;
  uint64_t dl = next_deadline();
  if (dl == kNever) return cap;
  uint64_t t = now();
  if (dl <= t) return 1;
  uint64_t delta = dl - t;
  uint64_t n;
  if (mode_ == Mode::Deterministic) {
    // ceil(delta * 1000 / ps), overflow-safe.
    uint64_t q = delta / ps_per_insn_, r = delta % ps_per_insn_;
    if (q > cap / 1000) return cap;
    n = q * 1000 + (r * 1000 + ps_per_insn_ - 1) / ps_per_insn_;
  } else if (smooth()) {
    // Exact at the current rate, and at most kMaxSliceNs, so sync() steers often (and, until the
    // host's speed is known, a few measuring windows of instructions: the first guess may be far off).
    constexpr uint64_t kMaxSliceNs = 2'000'000;
    const unsigned __int128 want =
        (static_cast<unsigned __int128>(std::min(delta, kMaxSliceNs)) * 1'000'000 + rate_fs_ - 1) / rate_fs_;
    n = want > cap ? cap : static_cast<uint64_t>(want);
    if (!speed_learnt_) n = std::min<uint64_t>(n, 2 * kMinSpeedInsns);
  } else {
    uint64_t ms = delta / 1000000;
    if (insns_per_ms != 0 && ms > cap / insns_per_ms) return cap;
    n = ms * insns_per_ms + (delta % 1000000) * insns_per_ms / 1000000;
  }
  if (n == 0) n = 1;
  return n < cap ? n : cap;
}

void Clock::skip_to(uint64_t deadline_ns) {
  if (mode_ != Mode::Deterministic || deadline_ns == kNever) return;
  if (deadline_ns > now()) set_now(deadline_ns);
}

uint64_t Clock::host_ns_until(uint64_t deadline_ns) const {
  if (mode_ == Mode::Deterministic) return 0;
  const uint64_t t = std::max(now(), host_time());
  return deadline_ns > t ? deadline_ns - t : 0;
}

void Clock::pause() {
  if (paused_ || mode_ == Mode::Deterministic) return;
  base_ns_ = now();
  paused_ = true;
}

void Clock::resume() {
  if (!paused_) return;
  paused_ = false;
  set_now(base_ns_);
}

void Clock::reset() {
  events_.clear();
  ids_.clear();
  paused_ = false;
  set_now(0);
}

void Clock::save(SnapshotWriter& w) const {
  w.begin_section("CLCK", 1);
  w.u64(now());
  w.end_section();
}

void Clock::load(SnapshotReader& r) {
  r.begin_section("CLCK", 1);
  uint64_t t = r.u64();
  // Far more than any run; keeps every device's deadline arithmetic clear of overflow.
  if (t > kMaxTime) throw SnapshotError("clock: virtual time out of range");
  r.end_section();
  events_.clear();
  ids_.clear();
  bool was_paused = paused_;
  paused_ = false;
  set_now(t);
  if (was_paused) {
    base_ns_ = t;
    paused_ = true;
  }
}

}  // namespace vx86
