// The PC/AT's x87 error latch: with CR0.NE = 0, the CPU's FERR# output sets a latch that drives
// IRQ13; a write to port 0xF0 clears it (and, on a real chipset, asserts IGNNE#). DOS-era FPU
// exception handlers and Linux's "no_387 / fpu_irq13" path rely on it.
#pragma once
#include <cstdint>
#include <functional>

#include "devices/port_bus.h"
#include "devices/snapshot.h"

namespace vx86 {

class FpuErrorLatch : public IoDevice {
 public:
  void attach(PortBus& bus) { bus.attach(0xF0, 1, this); }
  void reset() { set(false); }
  // FERR# went active.
  void ferr() { set(true); }
  bool latched() const { return latched_; }

  uint32_t io_read(uint16_t, unsigned size) override { return size == 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1; }
  void io_write(uint16_t, uint32_t, unsigned) override { set(false); }

  void save(SnapshotWriter& w) const {
    w.begin_section("FERR", 1);
    w.boolean(latched_);
    w.end_section();
  }
  void load(SnapshotReader& r) {
    r.begin_section("FERR", 1);
    bool v = r.u8_max(1, "FERR latch") != 0;
    r.end_section();
    set(v);
  }

  std::function<void(bool)> irq13;

 private:
  void set(bool v) {
    latched_ = v;
    if (irq13) irq13(v);
  }
  bool latched_ = false;
};

}  // namespace vx86
