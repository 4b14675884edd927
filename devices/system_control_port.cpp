#include "devices/system_control_port.h"

#include "devices/snapshot.h"

namespace vx86 {

void SystemControlPort::attach(PortBus& bus) { bus.attach(0x92, 1, this); }

void SystemControlPort::reset() {
  value_ = 0x02;
  if (on_a20) on_a20(true);
}

uint32_t SystemControlPort::io_read(uint16_t, unsigned size) {
  // An 8-bit device: wider reads see open bus (all ones) on the other byte lanes.
  return size == 1 ? value_ : ((size == 2 ? 0xFF00u : 0xFFFFFF00u) | value_);
}

void SystemControlPort::io_write(uint16_t, uint32_t value, unsigned) {
  const uint8_t old = value_;
  value_ = static_cast<uint8_t>(value);
  if (on_a20 && ((old ^ value_) & 0x02)) on_a20(a20());
  if ((value_ & 0x01) && !(old & 0x01) && on_reset_request) on_reset_request();
}

void SystemControlPort::save(SnapshotWriter& w) const {
  w.begin_section("P92 ", 1);
  w.u8(value_);
  w.end_section();
}

void SystemControlPort::load(SnapshotReader& r) {
  r.begin_section("P92 ", 1);
  const uint8_t v = r.u8();
  r.end_section();
  value_ = v;
}

}  // namespace vx86
