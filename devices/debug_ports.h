// The debug ports QEMU users rely on: 0xe9 (debugcon), 0x402 (SeaBIOS log), 0x80 (POST codes)
// and isa-debug-exit at 0xf4 (a write of V ends the emulator with status (V << 1) | 1).
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>

#include "devices/port_bus.h"

namespace vx86 {

class SnapshotWriter;
class SnapshotReader;

class DebugPorts : public IoDevice {
 public:
  // Null sinks drop the bytes.
  DebugPorts(FILE* debugcon, FILE* bioslog, FILE* post_log)
      : debugcon_(debugcon), bioslog_(bioslog), post_log_(post_log) {}
  void attach(PortBus& bus);
  void reset() {
    exit_status_.reset();
    last_post_ = 0;
  }

  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, uint32_t value, unsigned size) override;

  // Set once the guest wrote to isa-debug-exit; the run loop stops and vx86 exits with it.
  std::optional<int> exit_status() const { return exit_status_; }
  uint8_t last_post_code() const { return last_post_; }
  void save(SnapshotWriter& w) const;
  void load(SnapshotReader& r);
  std::function<void()> on_exit;  // called when the guest writes isa-debug-exit

 private:
  FILE* debugcon_;
  FILE* bioslog_;
  FILE* post_log_;
  std::optional<int> exit_status_;
  uint8_t last_post_ = 0;
};

}  // namespace vx86
