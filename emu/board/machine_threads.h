// The per-CPU threads of -smp N,threads=on (emu/board/machine_threads.cpp): what Machine keeps for them.
#pragma once
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "emu/board/machine.h"

namespace vx86 {

struct Machine::Vcpu {
  std::thread thread;
  std::mutex mu;  // the mailbox
  std::condition_variable cv;
  bool idle = true;  // (mu) waiting in vcpu_main: its CPU's state is the poster's to touch
  std::vector<std::function<void()>> work;  // (mu)
  std::vector<uint32_t> protect;            // (mu) pages to write-protect in its TLB
  uint64_t protect_posted = 0;              // (mu)
  std::atomic<uint64_t> protect_done{0};
  std::atomic<bool> has_mail{false};
};

struct Machine::Threads {
  std::vector<std::unique_ptr<Vcpu>> vcpus;
  bool started = false;
  std::atomic<bool> pause{true}, quit{false};
  // The timer thread's sleep: woken by an earlier clock event or a stop request.
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<uint64_t> wakeups{0};
};

}  // namespace vx86
