#include "devices/debug_ports.h"

#include "devices/snapshot.h"

namespace vx86 {

void DebugPorts::attach(PortBus& bus) {
  bus.attach(0xe9, 1, this);
  bus.attach(0x402, 1, this);
  bus.attach(0x80, 1, this);
  bus.attach(0xf4, 1, this);
}

uint32_t DebugPorts::io_read(uint16_t port, unsigned size) {
  // These are 8-bit devices: a wider access sees open bus (all ones) on the upper byte lanes, as on
  // QEMU, whose bus splits it into byte accesses to unclaimed neighbours.
  const uint32_t open_bus = size == 1 ? 0u : size == 2 ? 0xFF00u : 0xFFFFFF00u;
  if (port == 0xe9) return open_bus | 0xe9;  // debugcon reads back 0xe9 so guests can detect it
  // SeaBIOS's log port is a debugcon too: it reads back 0xe9 when connected (-bioslog), and SeaBIOS
  // stops logging when it does not (once its variables live in writable shadow RAM).
  if (port == 0x402 && bioslog_) return open_bus | 0xe9;
  return open_bus | 0xFF;
}

void DebugPorts::io_write(uint16_t port, uint32_t value, unsigned size) {
  switch (port) {
    case 0xe9:
      if (debugcon_) {
        std::fputc(static_cast<int>(value & 0xFF), debugcon_);
        std::fflush(debugcon_);
      }
      break;
    case 0x402:
      if (bioslog_) std::fputc(static_cast<int>(value & 0xFF), bioslog_);
      break;
    case 0x80:
      last_post_ = static_cast<uint8_t>(value);
      if (post_log_) std::fprintf(post_log_, "POST: 0x%02x\n", last_post_);
      break;
    case 0xf4: {
      uint32_t v = size == 1 ? (value & 0xFF) : size == 2 ? (value & 0xFFFF) : value;
      exit_status_ = static_cast<int>(((v << 1) | 1) & 0xFF);
      if (on_exit) on_exit();
      break;
    }
    default:
      break;
  }
}

void DebugPorts::save(SnapshotWriter& w) const {
  w.begin_section("DBGP", 1);
  w.u8(last_post_);
  w.boolean(exit_status_.has_value());
  w.u32(static_cast<uint32_t>(exit_status_.value_or(0)));
  w.end_section();
}

void DebugPorts::load(SnapshotReader& r) {
  r.begin_section("DBGP", 1);
  const uint8_t post = r.u8();
  const bool exited = r.boolean();
  const uint32_t status = r.u32_max(255, "isa-debug-exit status out of range");
  r.end_section();
  last_post_ = post;
  exit_status_.reset();
  if (exited) exit_status_ = static_cast<int>(status);
}

}  // namespace vx86
