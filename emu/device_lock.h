// DeviceLock: with -smp N,threads=on, the lock every vCPU thread holds while it is inside the
// device models (QEMU's "big lock"). The devices are written for one thread; the buses (PortBus,
// PhysicalMemory's MMIO), interrupt acknowledge and the board clock take it on their way in.
// Re-entrant, so a device that reaches another bus while it holds it does not deadlock. A null
// lock (one host thread, the default) costs a pointer test.
#pragma once
#include <mutex>

namespace vx86 {

using DeviceLock = std::recursive_mutex;

class DeviceGuard {
 public:
  explicit DeviceGuard(DeviceLock* l) : l_(l) {
    if (l_) l_->lock();
  }
  ~DeviceGuard() {
    if (l_) l_->unlock();
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  DeviceLock* l_;
};

}  // namespace vx86
