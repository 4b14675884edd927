#include "devices/net/host_io_backend.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace vx86 {

HostIoBackend::HostIoBackend() : wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (wake_fd_ < 0)
    throw std::runtime_error(std::string("cannot create an eventfd: ") + std::strerror(errno));
}

HostIoBackend::~HostIoBackend() {
  stop();
  close(wake_fd_);
}

void HostIoBackend::start() {
  thread_ = std::thread([this] { loop(); });
}

void HostIoBackend::stop() {
  if (!thread_.joinable()) return;
  quit_.store(true);
  wake();
  thread_.join();
}

void HostIoBackend::wake() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
}

void HostIoBackend::transmit(const uint8_t* frame, size_t len) {
  bool was_empty;
  {
    std::lock_guard g(mu_);
    if (to_host_.size() >= kQueueFrames) {
      dropped_.fetch_add(1);
      return;
    }
    was_empty = to_host_.empty();
    to_host_.emplace_back(frame, frame + len);
  }
  if (was_empty) wake();
}

void HostIoBackend::poll() {
  std::vector<uint8_t> f;
  for (;;) {
    if (!receiver_ready()) return;  // the rest waits for the NIC's buffers
    {
      std::lock_guard g(mu_);
      if (to_guest_.empty()) return;
      f = std::move(to_guest_.front());
      to_guest_.pop_front();
    }
    deliver(f.data(), f.size());
  }
}

void HostIoBackend::io_deliver(const uint8_t* frame, size_t len) {
  out_batch_.emplace_back(frame, frame + len);
}

void HostIoBackend::loop() {
  std::vector<pollfd> fds;
  std::vector<std::vector<uint8_t>> batch;
  while (!quit_.load()) {
    {
      std::lock_guard g(mu_);
      batch.swap(to_host_);
    }
    for (const auto& f : batch) io_transmit(f.data(), f.size());
    batch.clear();
    flush_to_guest();  // (answers the host side gave at once: ARP, ICMP, DHCP)
    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    int timeout = 1000;
    io_fill(fds, timeout);
    ::poll(fds.data(), fds.size(), timeout);
    if (fds[0].revents & POLLIN) {
      uint64_t v;
      [[maybe_unused]] ssize_t n = read(wake_fd_, &v, sizeof v);
    }
    io_dispatch(fds);
    flush_to_guest();
  }
}

void HostIoBackend::flush_to_guest() {
  if (out_batch_.empty()) return;
  bool was_empty;
  {
    std::lock_guard g(mu_);
    was_empty = to_guest_.empty();
    for (auto& f : out_batch_) {
      if (to_guest_.size() >= kQueueFrames) {
        dropped_.fetch_add(1);
        continue;
      }
      to_guest_.push_back(std::move(f));
    }
  }
  out_batch_.clear();
  if (was_empty) frames_ready();
}

}  // namespace vx86
