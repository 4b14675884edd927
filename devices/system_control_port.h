// System Control Port A (port 0x92, "fast A20"): bit 1 gates address line 20, a 0 -> 1 write to
// bit 0 resets the machine. The other bits are kept and read back as written. vx86 starts with A20
// enabled, as QEMU does; a real PC starts with it disabled. SeaBIOS does not depend on either: its
// switch to 32-bit mode (transition32) sets bit 1 of this port itself.
// The board ORs bit 1 with the i8042's output-port A20 bit into the one A20 line (on_a20).
#pragma once
#include <cstdint>
#include <functional>

#include "devices/port_bus.h"

namespace vx86 {

class SnapshotWriter;
class SnapshotReader;

class SystemControlPort : public IoDevice {
 public:
  void attach(PortBus& bus);
  // Back to power-on: A20 bit set, reset bit clear (reports on_a20(true)).
  void reset();

  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, uint32_t value, unsigned size) override;

  bool a20() const { return (value_ & 0x02) != 0; }
  // load() does not call on_a20: the board sets the A20 line from its own saved state.
  void save(SnapshotWriter& w) const;
  void load(SnapshotReader& r);
  std::function<void(bool)> on_a20;        // bit 1 written (the board recomputes the A20 line)
  std::function<void()> on_reset_request;  // bit 0 written 0 -> 1 (the board resets)

 private:
  uint8_t value_ = 0x02;
};

}  // namespace vx86
