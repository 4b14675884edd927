#include "devices/port_bus.h"

#include <stdexcept>

namespace vx86 {

void PortBus::attach(uint16_t first, uint16_t count, IoDevice* dev) {
  if (uint32_t{first} + count > 65536) throw std::invalid_argument("port range beyond 0xFFFF");
  for (uint32_t p = first; p < uint32_t{first} + count; ++p) devices_[p] = dev;
}

uint32_t PortBus::read(uint16_t port, unsigned size) {
  if (IoDevice* d = devices_[port]) {
    DeviceGuard g(lock_);
    return d->io_read(port, size);
  }
  return size == 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
}

void PortBus::write(uint16_t port, uint32_t value, unsigned size) {
  if (IoDevice* d = devices_[port]) {
    DeviceGuard g(lock_);
    d->io_write(port, value, size);
  }
}

}  // namespace vx86
