// Clock: the machine's virtual time, in nanoseconds since power-on, and its timer events.
//
// Two modes:
//  - Realtime: virtual time follows the host's steady clock (minus the time spent paused), for
//    interactive use. Guest timers fire at host-time rates whatever the emulation speed. With an
//    instruction counter (a machine), it follows it smoothly: between sync() calls (the run loop
//    makes one at every slice) virtual time advances by a steady amount per instruction, so host
//    hiccups (a translation, device work, the host scheduler) never show as a guest instruction
//    that took microseconds, and every guest clock (TSC, PIT, RTC) moves together. sync() steers
//    that rate so virtual time converges on the host's; catch_up() (the CPU idles) jumps to it.
//    Guests that calibrate one clock against another, as Linux does the TSC against the PIT with a
//    jitter check, see one stable frequency.
//  - Deterministic: virtual time = retired guest instructions * a fixed time per instruction (plus
//    the time skipped while the CPU idles in HLT), so the same run twice sees identical device
//    timing: same timer interrupts at the same instructions, same serial output.
//
// Devices schedule callbacks at absolute virtual deadlines; the run loop executes the CPU in slices
// bounded by next_deadline() and calls run_due() between slices (block boundaries), so no device
// polls per instruction. Events due at the same deadline run in the order they were scheduled.
//
// Snapshots: save()/load() keep the virtual time only. Events hold callbacks and are not saved:
// every device that owns a timer saves its own deadlines and re-arms them in its load(), so the
// clock must be loaded before the devices.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <unordered_map>

namespace vx86 {

class SnapshotWriter;
class SnapshotReader;

class Clock {
 public:
  enum class Mode { Realtime, Deterministic };
  using EventId = uint64_t;  // 0 is "no event"
  using Callback = std::function<void()>;
  using HostClock = std::function<uint64_t()>;  // host monotonic time in ns
  static constexpr uint64_t kNever = UINT64_MAX;
  static constexpr uint64_t kDefaultPsPerInsn = 1000;
  static constexpr uint64_t kMaxTime = uint64_t{1} << 62;  // ~146 years: a snapshot beyond is corrupt  // 1 ns per instruction: a 1 GHz-ish CPU

  // `icount` is the CPU's retired-instruction counter (CpuState::icount), read in deterministic
  // mode. `ps_per_insn` is the virtual time one instruction takes, in picoseconds.
  Clock(Mode mode, const uint64_t* icount, uint64_t ps_per_insn = kDefaultPsPerInsn);

  Mode mode() const { return mode_; }
  uint64_t ps_per_insn() const { return ps_per_insn_; }
  // For tests and replay tools: replaces the host's steady clock (realtime mode).
  void set_host_clock(HostClock host);

  // Several CPUs: the counter moves to the CPU about to run, which holds the same value.
  void set_counter(const uint64_t* icount) { icount_ = icount; }

  // Current virtual time in ns. Monotonic.
  uint64_t now() const;
  // Realtime with an instruction counter: re-bases at the current time and steers the time per
  // instruction towards the host's clock (run-loop slice boundaries). Otherwise nothing.
  void sync();
  // Realtime: the CPU idles (HLT), so virtual time may jump forward to the host's. Otherwise nothing.
  void catch_up();

  // Timer events. schedule() returns an id for cancel(); a callback may schedule and cancel events.
  EventId schedule(uint64_t deadline_ns, Callback cb);
  EventId schedule_in(uint64_t delay_ns, Callback cb) { return schedule(now() + delay_ns, std::move(cb)); }
  // While the CPU runs a slice planned up to `deadline` (set_horizon; 0 = none running): an event
  // scheduled before it calls on_earlier_event, so the run loop can end the slice at the next
  // block boundary instead of running past the new deadline (a device reprogrammed mid-slice).
  void set_horizon(uint64_t deadline) { horizon_ = deadline; }
  std::function<void()> on_earlier_event;
  // Cancels a pending event; returns false if it already ran, was cancelled, or id is 0.
  bool cancel(EventId id);
  bool is_pending(EventId id) const { return id != 0 && ids_.count(id) != 0; }
  // Deadline of the earliest pending event, or kNever.
  uint64_t next_deadline() const { return events_.empty() ? kNever : events_.begin()->first.deadline; }
  // Runs every event whose deadline is <= now(), earliest first; returns how many ran.
  unsigned run_due();
  size_t pending_events() const { return events_.size(); }

  // How many instructions the run loop may execute before the next event is due (at least 1).
  // Deterministic: exact. Realtime: an estimate from `insns_per_ms`, capped at `cap`.
  uint64_t insns_until_next_event(uint64_t cap, uint64_t insns_per_ms = 100000) const;

  // The CPU is idle (HLT) until `deadline`: deterministic mode jumps virtual time forward to it
  // (never backwards); realtime mode leaves time alone (the run loop sleeps on the host, see
  // host_ns_until()).
  void skip_to(uint64_t deadline_ns);
  // Realtime: host nanoseconds until virtual time reaches `deadline` (0 if already there).
  // Deterministic: always 0.
  uint64_t host_ns_until(uint64_t deadline_ns) const;

  // Realtime: stop virtual time while the emulator is stopped (debugger, menu); deterministic
  // time only moves with instructions, so these do nothing there.
  void pause();
  void resume();
  bool paused() const { return paused_; }

  // Back to virtual time 0 with no events (machine power-on).
  void reset();

  void save(SnapshotWriter& w) const;
  // Restores the virtual time; drops all pending events (their owners re-arm them in load()).
  void load(SnapshotReader& r);

 private:
  struct Key {
    uint64_t deadline;
    uint64_t seq;
    bool operator<(const Key& o) const { return deadline != o.deadline ? deadline < o.deadline : seq < o.seq; }
  };
  uint64_t insns_to_ns(uint64_t n) const;
  uint64_t raw_now() const;  // before the monotonic clamp
  void set_now(uint64_t t);  // rebases so that now() == t
  bool smooth() const { return mode_ == Mode::Realtime && icount_; }
  uint64_t host_time() const;  // realtime: virtual time as the host's clock has it

  Mode mode_;
  const uint64_t* icount_;
  uint64_t ps_per_insn_;
  HostClock host_;
  // Deterministic: now = base_ns_ + insns_to_ns(*icount_ - base_icount_).
  // Realtime:      host_time() = host_base_ns_ + (host() - base_host_), frozen while paused;
  //                now = host_time() without a counter, else base_ns_ + (*icount_ - base_icount_)
  //                * rate_fs_ / 10^6 (smooth()), frozen at base_ns_ while paused.
  // Mutable: now() rebases if the instruction counter is ever reset under it.
  mutable uint64_t base_ns_ = 0;
  mutable uint64_t base_icount_ = 0;
  mutable uint64_t last_icount_ = 0;
  uint64_t base_host_ = 0;
  uint64_t host_base_ns_ = 0;
  // smooth(): femtoseconds of virtual time per instruction now, the host's measured speed, and
  // where that measurement started.
  static constexpr uint64_t kInitialFsPerInsn = 1'000'000;  // 1 ns: a first guess
  uint64_t rate_fs_ = kInitialFsPerInsn;
  uint64_t speed_fs_ = kInitialFsPerInsn;
  uint64_t speed_icount_ = 0, speed_host_ = 0;
  uint64_t acc_insns_ = 0, acc_host_ = 0;  // the running time since the speed was last learnt
  bool speed_learnt_ = false;
  bool warmed_up_ = false;
  uint64_t horizon_ = 0;  // the first window of instructions has run (sync)
  void learn_speed(uint64_t icount, uint64_t host);
  bool paused_ = false;
  mutable uint64_t last_now_ = 0;  // keeps now() monotonic across rebases

  std::map<Key, Callback> events_;
  std::unordered_map<EventId, uint64_t> ids_;  // id -> deadline
  uint64_t next_seq_ = 1;
};

}  // namespace vx86
