// -smp N,threads=on: each CPU runs on its own host thread; the thread that calls Machine::run is
// the board's timer thread (clock events, host input, the exits the guest asks for).
//
// What the threads share and how:
//  - Guest RAM: directly, as the host's memory model (x86 TSO) orders it; locked instructions use
//    host compare-and-swap (emu/interp/locked_rmw.h), the page walker sets A/D bits atomically.
//  - Devices, the clock, the interrupt controllers: under the device lock (emu/device_lock.h).
//  - A CPU's own state (registers, TLB, block cache, translations): only its thread touches it
//    while it runs. Work for it from elsewhere (an INIT or STARTUP IPI, dropping code another CPU
//    or a DMA overwrote, a new memory map) is posted to it and done at its next block boundary,
//    or at once by the poster while the CPU idles (it then waits for its mailbox lock).
//  - Code pages: a CPU that starts translating code from a page takes the page's write permission
//    out of every other CPU's TLB and waits until each has done so (protect_on), so no CPU writes
//    that page afterwards without its slow path seeing the code there.
// Lock order: the device lock, then a CPU's mailbox lock; nothing is taken under a mailbox lock.
#include "emu/board/machine_threads.h"

#include <chrono>

namespace vx86 {

namespace {
thread_local Cpu* t_self = nullptr;  // the CPU of this vCPU thread

// A CPU runs this many instructions at most before its thread looks at its mailbox and the pause
// flag again (a kick ends it sooner).
constexpr uint64_t kThreadSliceInsns = 1'000'000;
// How long run() lets the CPUs run before it returns Budget to its caller (timeouts, Ctrl-A x).
constexpr auto kRunPeriod = std::chrono::milliseconds(20);
}  // namespace

void Machine::setup_threads() {
  threads_ = std::make_unique<Threads>();
  for (size_t i = 0; i < cpus_.size(); ++i) threads_->vcpus.push_back(std::make_unique<Vcpu>());
}

Cpu* Machine::self() const { return threads_ && t_self ? t_self : current_; }

uint64_t Machine::icount() const {
  if (!threads_) return current_->s.icount;
  uint64_t n = 0;
  for (auto& c : cpus_) n += __atomic_load_n(&c->s.icount, __ATOMIC_RELAXED);
  return n;
}

void Machine::intr_changed(Cpu& c, bool level) {
  if (!threads_) {
    c.s.irq_pending = level;
    return;
  }
  __atomic_store_n(&c.s.irq_pending, level, __ATOMIC_SEQ_CST);
  if (!level || t_self == &c) return;
  c.kick();
  Vcpu& v = *threads_->vcpus[c.apic_id];
  std::lock_guard g(v.mu);  // (a CPU about to idle checks irq_pending under it)
  v.cv.notify_one();
}

void Machine::wake_timer_thread() {
  threads_->wakeups.fetch_add(1);
  std::lock_guard g(threads_->mu);
  threads_->cv.notify_one();
}

void Machine::request_stop() {
  if (!threads_) {
    current_->s.exit_request = true;
    return;
  }
  // Every CPU stops at its next block boundary (as one CPU time-sliced would), then the timer
  // thread sees why.
  threads_->pause.store(true);
  for (auto& c : cpus_) {
    __atomic_store_n(&c->s.exit_request, true, __ATOMIC_SEQ_CST);
    c->kick();
  }
  wake_timer_thread();
}

namespace {
void mail(Cpu& c, std::atomic<bool>& has_mail) {
  has_mail.store(true);
  __atomic_store_n(&c.s.exit_request, true, __ATOMIC_SEQ_CST);
  c.kick();
}
}  // namespace

void Machine::post_to(size_t idx, std::function<void()> fn) {
  Cpu& c = *cpus_[idx];
  if (!threads_ || t_self == &c) {
    fn();
    return;
  }
  Vcpu& v = *threads_->vcpus[idx];
  std::lock_guard g(v.mu);
  if (v.idle) {
    fn();
    v.cv.notify_one();  // (it may have become runnable: a STARTUP IPI)
    return;
  }
  v.work.push_back(std::move(fn));
  mail(c, v.has_mail);
}

namespace {
// Does what the mailbox holds (its lock held).
void deliver_mail(Cpu& c, std::vector<uint32_t>& protect, uint64_t posted, std::atomic<uint64_t>& done,
                  std::vector<std::function<void()>>& work, std::atomic<bool>& has_mail) {
  has_mail.store(false);
  for (uint32_t p : protect) c.mmu.protect_code_page(p);
  protect.clear();
  done.store(posted);
  std::vector<std::function<void()>> w;
  w.swap(work);
  for (auto& f : w) f();
}
}  // namespace

void Machine::protect_on(size_t idx, uint32_t paddr) {
  Cpu& c = *cpus_[idx];
  Vcpu& v = *threads_->vcpus[idx];
  uint64_t ticket;
  {
    std::lock_guard g(v.mu);
    if (v.idle || !threads_->started) {
      c.mmu.protect_code_page(paddr);
      return;
    }
    v.protect.push_back(paddr);
    ticket = ++v.protect_posted;
    mail(c, v.has_mail);
  }
  // Wait for it, doing what other CPUs ask of this one meanwhile (they may be waiting for it too).
  Vcpu* me = t_self ? threads_->vcpus[t_self->apic_id].get() : nullptr;
  for (unsigned spins = 0; v.protect_done.load() < ticket; ++spins) {
    if (me && me->has_mail.load()) {
      std::lock_guard g(me->mu);
      for (uint32_t p : me->protect) t_self->mmu.protect_code_page(p);
      me->protect.clear();
      me->protect_done.store(me->protect_posted);
    }
    if (spins > 64) std::this_thread::yield();
  }
}

namespace {
bool runnable_threaded(const Cpu& c) {
  if (c.s.wait_sipi || c.s.shutdown) return false;
  if (!c.s.halted) return true;
  if (__atomic_load_n(&c.s.nmi_pending, __ATOMIC_SEQ_CST) && !c.s.nmi_blocked) return true;
  return (c.s.eflags & F_IF) && __atomic_load_n(&c.s.irq_pending, __ATOMIC_SEQ_CST);
}
}  // namespace

void Machine::vcpu_main(size_t idx) {
  Cpu& c = *cpus_[idx];
  Vcpu& v = *threads_->vcpus[idx];
  Threads& t = *threads_;
  t_self = &c;
  std::unique_lock lk(v.mu);
  for (;;) {
    deliver_mail(c, v.protect, v.protect_posted, v.protect_done, v.work, v.has_mail);
    v.idle = true;
    v.cv.wait(lk, [&] { return t.quit.load() || (!t.pause.load() && runnable_threaded(c)); });
    if (t.quit.load()) return;
    v.idle = false;
    lk.unlock();
    for (;;) {
      const StopReason r = c.run(kThreadSliceInsns);
      if (v.has_mail.load()) {
        std::lock_guard g(v.mu);
        deliver_mail(c, v.protect, v.protect_posted, v.protect_done, v.work, v.has_mail);
      }
      if (r == StopReason::Shutdown) {
        {
          DeviceGuard g(&device_lock_);
          shutdown_requested_ = true;
        }
        request_stop();
      }
      if (t.pause.load() || t.quit.load() || !runnable_threaded(c)) break;
    }
    lk.lock();
  }
}

void Machine::pause() {
  if (!threads_ || !threads_->started) return;
  threads_->pause.store(true);
  // Each CPU leaves its run at the next block boundary and idles.
  for (size_t i = 0; i < cpus_.size(); ++i) {
    Vcpu& v = *threads_->vcpus[i];
    for (;;) {
      {
        std::lock_guard g(v.mu);
        if (v.idle) break;
      }
      __atomic_store_n(&cpus_[i]->s.exit_request, true, __ATOMIC_SEQ_CST);
      cpus_[i]->kick();
      std::this_thread::yield();
    }
  }
  for (auto& c : cpus_) c->s.exit_request = false;
}

void Machine::stop_threads() {
  if (!threads_ || !threads_->started) return;
  pause();
  threads_->quit.store(true);
  for (auto& v : threads_->vcpus) {
    {
      std::lock_guard g(v->mu);
      v->cv.notify_one();
    }
    v->thread.join();
  }
  threads_->started = false;
}

MachineExit Machine::run_threaded(uint64_t max_insns) {
  Threads& t = *threads_;
  if (!t.started) {
    t.started = true;
    for (size_t i = 0; i < cpus_.size(); ++i) t.vcpus[i]->thread = std::thread([this, i] { vcpu_main(i); });
  }
  if (t.pause.load()) {
    t.pause.store(false);
    for (auto& v : t.vcpus) {
      std::lock_guard g(v->mu);
      v->cv.notify_one();
    }
  }
  const uint64_t end = icount() + max_insns;
  const auto until = std::chrono::steady_clock::now() + kRunPeriod;
  Clock& clock = *clock_;
  for (;;) {
    const uint64_t seen = t.wakeups.load();
    uint64_t deadline;
    std::optional<MachineExit> exit;
    {
      DeviceGuard g(&device_lock_);
      clock.run_due();
      poll_input();
      service_network();
      if (debug_.exit_status())
        exit = MachineExit::GuestExit;
      else if (power_off_requested_)
        exit = MachineExit::PowerOff;
      else if (reset_requested_)
        exit = MachineExit::Reset;
      else if (shutdown_requested_)
        exit = MachineExit::Shutdown;
      deadline = clock.next_deadline();
      clock.set_horizon(deadline);  // an earlier event wakes this thread (on_earlier_event)
    }
    if (!exit) {
      // Every CPU idle and none that an interrupt could wake: the machine is halted for good.
      bool stuck = true;
      for (size_t i = 0; i < cpus_.size() && stuck; ++i) {
        Vcpu& v = *t.vcpus[i];
        const Cpu& c = *cpus_[i];
        std::lock_guard g(v.mu);
        stuck =
            v.idle && !runnable_threaded(c) && (c.s.wait_sipi || (!(c.s.eflags & F_IF) && !c.s.nmi_pending));
      }
      if (stuck) exit = MachineExit::Halted;
    }
    if (exit) {
      pause();
      if (*exit == MachineExit::Shutdown) shutdown_requested_ = false;
      return *exit;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= until || icount() >= end) return MachineExit::Budget;  // (the CPUs run on)
    auto wake = until;
    if (deadline != Clock::kNever) {
      DeviceGuard g(&device_lock_);
      wake = std::min(wake, now + std::chrono::nanoseconds(clock.host_ns_until(deadline)));
    }
    std::unique_lock lk(t.mu);
    t.cv.wait_until(lk, wake, [&] { return t.wakeups.load() != seen; });
  }
}

}  // namespace vx86
