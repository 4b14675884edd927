// The PC's two cascaded Intel 8259A programmable interrupt controllers: master at 0x20/0x21
// (IRQ0-7), slave at 0xA0/0xA1 (IRQ8-15) on the master's IR2, and the PIIX edge/level control
// registers (ELCR) at 0x4D0/0x4D1. Implements the CPU's InterruptSource: pending() is the INTR
// line, acknowledge() the INTA cycle that returns the vector.
#pragma once
#include <cstdint>
#include <functional>

#include "devices/port_bus.h"
#include "emu/cpu.h"

namespace vx86 {

class SnapshotWriter;
class SnapshotReader;

class Pic8259 : public IoDevice, public InterruptSource {
 public:
  Pic8259() { power_on(); }
  void attach(PortBus& bus);
  // Machine reset: both chips back to their power-on state (nothing requested or in service, IMR 0,
  // vector base 0: the BIOS must send the ICWs), ELCR cleared. Input line levels are kept: the
  // devices driving them are reset separately and lower their lines themselves.
  void reset();

  // Devices drive their IRQ line (0-15). Edge-triggered lines latch a request on 0 -> 1 (the
  // request stays latched until acknowledged, even if the line drops); level lines request while
  // high. Line 2 is the cascade: as on the ISA bus, a device on "IRQ2" drives IRQ9.
  void set_irq(unsigned line, bool level);

  // InterruptSource
  bool pending() override { return intr_; }
  uint8_t acknowledge() override;

  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, uint32_t value, unsigned size) override;

  // Called whenever the INTR output changes (the board may mirror it into CpuState::irq_pending
  // or end a HLT early).
  std::function<void(bool)> on_intr_change;

  // Introspection for tests and the debugger.
  uint8_t irr(unsigned chip) const { return chips_[chip & 1].irr; }
  uint8_t isr(unsigned chip) const { return chips_[chip & 1].isr; }
  uint8_t imr(unsigned chip) const { return chips_[chip & 1].imr; }
  uint8_t elcr(unsigned chip) const { return chips_[chip & 1].elcr; }
  uint8_t vector_base(unsigned chip) const { return chips_[chip & 1].base; }

  void save(SnapshotWriter& w) const;
  void load(SnapshotReader& r);

 private:
  struct Chip {
    uint8_t irr = 0, isr = 0, imr = 0;
    uint8_t elcr = 0;        // 1 = level-triggered (from the ELCR register)
    uint8_t elcr_mask = 0;   // which ELCR bits are writable
    uint8_t lines = 0;       // current input levels (edge detection, level requests)
    uint8_t base = 0;        // ICW2 vector base (low 3 bits zero)
    uint8_t lowest = 7;      // the line with the lowest priority (rotation)
    uint8_t init_step = 0;   // 0 = operational, 1..3 = expecting ICW2..ICW4
    bool icw4_needed = false;
    bool single = false;     // ICW1 SNGL (no cascade, no ICW3)
    bool auto_eoi = false;
    bool rotate_on_aeoi = false;
    bool special_mask = false;
    bool sfnm = false;       // special fully nested mode (ICW4 bit 4)
    bool read_isr = false;   // OCW3 RR/RIS: next read of the even port returns ISR, else IRR
    bool poll = false;       // OCW3 poll command pending
  };

  void power_on();
  // Highest-priority requested line that may interrupt now, or -1.
  int best_request(const Chip& c, bool is_master) const;
  // The priority rank of `line` (0 = highest) under the chip's rotation.
  int rank(const Chip& c, unsigned line) const { return (line - c.lowest - 1) & 7; }
  void chip_set_line(Chip& c, unsigned line, bool level);
  void intack(Chip& c, unsigned line);
  void eoi(Chip& c, int line, bool rotate);
  void write_command(Chip& c, uint8_t v);
  void write_data(Chip& c, uint8_t v);
  uint8_t poll_read(unsigned chip);
  void update();

  Chip chips_[2];
  bool intr_ = false;
};

}  // namespace vx86
