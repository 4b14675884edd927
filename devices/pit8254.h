// Intel 8254 programmable interval timer at 0x40-0x43 (1.193182 MHz), plus the PC's port 0x61
// (channel 2 gate and output, speaker enable, refresh toggle).
//
// Counters are not stepped: each channel remembers the PIT tick at which it started counting and
// computes its counter value and output from the clock's virtual time when asked. Channel 0's output
// drives IRQ0 through clock events placed exactly at its output transitions, so no per-instruction
// polling happens and deterministic mode gives identical interrupt timing run after run.
#pragma once
#include <cstdint>

#include "devices/io_util.h"
#include "devices/port_bus.h"
#include "emu/clock.h"

namespace vx86 {

class SnapshotWriter;
class SnapshotReader;

class Pit8254 : public IoDevice {
 public:
  static constexpr uint64_t kFrequencyHz = 1193182;

  explicit Pit8254(Clock& clock) : clock_(clock) { reset(); }
  ~Pit8254() override;
  void attach(PortBus& bus);  // 0x40-0x43 and 0x61
  // Counters unprogrammed (no counting until a control word and a count are written), gates of
  // channels 0 and 1 high, channel 2's gate low; IRQ0 low.
  void reset();

  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, uint32_t value, unsigned size) override;

  IrqOutput irq0;  // channel 0 OUT -> IRQ0

  // Current OUT level and counter value (as the counter holds it, BCD-encoded in BCD mode).
  bool output(unsigned ch);
  uint16_t counter(unsigned ch);
  // Channel 2 gate (port 0x61 bit 0). Channels 0 and 1 have their gates tied high on a PC.
  void set_gate(unsigned ch, bool level);
  // The speaker sounds channel 2's output while port 0x61 bits 0 and 1 are both set.
  bool speaker_enabled() const { return (port61_ & 3) == 3; }

  // PIT ticks <-> virtual nanoseconds.
  static uint64_t ns_to_ticks(uint64_t ns);
  static uint64_t ticks_to_ns(uint64_t ticks);  // rounded up: ns_to_ticks(ticks_to_ns(t)) >= t

  void save(SnapshotWriter& w) const;
  // Needs the clock already loaded (deadlines are absolute virtual times).
  void load(SnapshotReader& r);

 private:
  struct Channel {
    uint32_t count = 0x10000;  // reload value N, binary (a BCD count is converted)
    uint8_t mode = 0;          // 0..5
    uint8_t rw = 3;            // 1 = LSB, 2 = MSB, 3 = LSB then MSB
    bool bcd = false;
    bool gate = true;
    bool armed = false;        // a count was written after the control word: counting
    bool triggered = false;    // modes 1 and 5: a gate edge started the count
    bool frozen = false;       // gate low stops counting (modes 0, 2, 3, 4)
    uint64_t load_tick = 0;    // PIT tick at which counting (re)started
    uint64_t frozen_d = 0;     // ticks elapsed when frozen
    uint16_t held = 0;         // counter value while not armed
    bool null_count = true;
    bool count_latched = false;
    uint16_t latch = 0;
    bool latch_msb_next = false;   // rw 3: a latched LSB was read, MSB next
    bool status_latched = false;
    uint8_t status = 0;
    bool read_msb_next = false;    // rw 3 unlatched reads
    bool write_msb_next = false;   // rw 3 writes
    uint8_t write_lsb = 0;
    uint8_t control = 0;           // RW/mode/BCD bits as written (status byte bits 5:0)
  };
  static constexpr uint64_t kNone = UINT64_MAX;

  uint64_t now_tick() const { return ns_to_ticks(clock_.now()); }
  uint64_t elapsed(const Channel& c) const;
  uint32_t period(const Channel& c) const;  // N, with the modes' minimums
  bool out_at(const Channel& c, uint64_t d) const;
  uint32_t counter_at(const Channel& c, uint64_t d) const;  // binary
  uint64_t next_transition(const Channel& c, uint64_t d) const;  // > d, or kNone
  uint16_t encode(const Channel& c, uint32_t v) const;
  void load_count(unsigned ch, uint32_t raw);
  void write_control(uint8_t v);
  void latch_count(Channel& c);
  uint8_t read_counter(unsigned ch);
  void write_counter(unsigned ch, uint8_t v);

  void set_irq0(bool level);
  void schedule_ch0(uint64_t after_d);
  void ch0_fire(uint64_t d_event);

  Clock& clock_;
  Channel ch_[3];
  uint8_t port61_ = 0;  // bits 0-3 as written
  bool irq_level_ = false;
  Clock::EventId ch0_event_ = 0;
};

}  // namespace vx86
