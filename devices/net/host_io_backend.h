// A backend whose host side is file descriptors (libslirp's sockets, a VDE switch's data socket),
// run on a host thread of its own, as QEMU runs its network backends in its main loop beside the
// vCPU threads: sending to host sockets and reading from them costs the guest's CPU nothing.
//
// The machine's side (send() from the NIC, poll() from the board) only touches two queues:
//  - frames from the guest are queued for the I/O thread, which is woken (an eventfd) when the
//    queue was empty;
//  - frames the host side produces are queued for the guest; `on_frames_ready` tells the board
//    (from the I/O thread) when that queue stops being empty, and poll() hands them to the NIC
//    while it can take them (NetReceiver::ready), leaving the rest queued.
// Both queues are bounded (kQueueFrames): beyond, frames are dropped and counted, as a switch
// port whose buffer is full would (TCP resends).
//
// A derived class implements the io_* hooks, which run on the I/O thread only, calls start()
// at the end of its constructor and stop() first in its destructor.
#pragma once
#include <poll.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "devices/net/net_backend.h"

namespace vx86 {

class HostIoBackend : public NetBackend {
 public:
  static constexpr size_t kQueueFrames = 4096;
  ~HostIoBackend() override;
  void poll() final;
  uint64_t dropped() const { return dropped_.load(); }

 protected:
  HostIoBackend();
  void start();
  void stop();
  // I/O thread: a frame from the guest; the descriptors to wait on, appended to `fds` (whose
  // first entry is the thread's own; `timeout_ms` may be lowered); what poll() returned for them.
  virtual void io_transmit(const uint8_t* frame, size_t len) = 0;
  virtual void io_fill(std::vector<pollfd>& fds, int& timeout_ms) = 0;
  virtual void io_dispatch(const std::vector<pollfd>& fds) = 0;
  // I/O thread: a frame for the guest (queued; handed over at the board's next poll()).
  void io_deliver(const uint8_t* frame, size_t len);

 private:
  void transmit(const uint8_t* frame, size_t len) final;
  void loop();
  void flush_to_guest();
  void wake();
  int wake_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> quit_{false};
  std::mutex mu_;
  std::vector<std::vector<uint8_t>> to_host_;  // under mu_
  std::deque<std::vector<uint8_t>> to_guest_;  // under mu_
  std::atomic<uint64_t> dropped_{0};
  std::vector<std::vector<uint8_t>> out_batch_;  // I/O thread: frames for the guest this round
};

}  // namespace vx86
