// PortBus: the x86 I/O port space. Devices claim port ranges; unclaimed ports read as all ones
// and ignore writes, as on a PC's ISA bus.
#pragma once
#include <cstdint>
#include <vector>

#include "emu/device_lock.h"

namespace vx86 {

class IoDevice {
 public:
  virtual ~IoDevice() = default;
  virtual uint32_t io_read(uint16_t port, unsigned size) = 0;
  virtual void io_write(uint16_t port, uint32_t value, unsigned size) = 0;
};

class PortBus {
 public:
  PortBus() : devices_(65536, nullptr) {}
  void attach(uint16_t first, uint16_t count, IoDevice* dev);
  uint32_t read(uint16_t port, unsigned size);
  void write(uint16_t port, uint32_t value, unsigned size);
  // -smp N,threads=on: accesses hold the device lock.
  void set_lock(DeviceLock* l) { lock_ = l; }

 private:
  DeviceLock* lock_ = nullptr;
  std::vector<IoDevice*> devices_;
};

}  // namespace vx86
