// Motorola MC146818 real-time clock with 128 bytes of CMOS RAM: index port 0x70 (bit 7 masks NMI),
// data port 0x71, interrupt on IRQ8.
//
// Time is computed, not ticked: the RTC keeps "guest wall-clock ns at virtual time V" and derives
// the date registers from the clock on each read. The wall clock starts from the host's time
// (realtime use) or from a fixed epoch (deterministic runs: same boot, same date). Periodic, alarm
// and update-ended flags are derived from the time elapsed since they were last computed; clock
// events are scheduled only while the matching interrupt is enabled.
#pragma once
#include <cstdint>
#include <optional>

#include "devices/io_util.h"
#include "devices/port_bus.h"
#include "emu/clock.h"

namespace vx86 {

class SnapshotWriter;
class SnapshotReader;

class CmosRtc : public IoDevice {
 public:
  static constexpr int64_t kDefaultEpoch = 1704067200;  // 2024-01-01 00:00:00 UTC

  // fixed_epoch: the RTC's time (Unix seconds, UTC) at virtual time 0; unset = the host's time now.
  CmosRtc(Clock& clock, std::optional<int64_t> fixed_epoch);
  ~CmosRtc() override;
  void attach(PortBus& bus);  // 0x70, 0x71
  // The RESET pin: clears the interrupt enables (PIE/AIE/UIE/SQWE) and flags. CMOS contents and the
  // time survive, as on a battery-backed PC.
  void reset();

  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, uint32_t value, unsigned size) override;

  IrqOutput irq;  // IRQ8
  bool nmi_masked() const { return nmi_masked_; }

  // Board set-up (these do not touch the guest-visible time).
  // RAM below and above 4 GiB: fills 0x15/0x16, 0x17/0x18, 0x30/0x31, 0x34/0x35, 0x5B-0x5D.
  void set_memory(uint64_t below_4g, uint64_t above_4g);
  void set_cpu_count(unsigned n);           // 0x5F (SeaBIOS without fw_cfg)
  void set_byte(uint8_t index, uint8_t v);  // any byte; keeps the 0x2E/0x2F checksum right
  uint8_t byte(uint8_t index) const { return ram_[index & 0x7F]; }
  // Sets the RTC's current time (Unix seconds, UTC).
  void set_time(int64_t unix_seconds);
  int64_t time_seconds() const;  // the RTC's current time

  void save(SnapshotWriter& w) const;
  void load(SnapshotReader& r);  // needs the clock already loaded

 private:
  enum : uint8_t { A_UIP = 0x80, B_SET = 0x80, B_PIE = 0x40, B_AIE = 0x20, B_UIE = 0x10, B_DM = 0x04, B_24H = 0x02 };
  enum : uint8_t { C_IRQF = 0x80, C_PF = 0x40, C_AF = 0x20, C_UF = 0x10 };

  uint8_t read_reg(uint8_t idx);
  void write_reg(uint8_t idx, uint8_t v);
  bool running() const;  // time advancing (SET clear, divider not held in reset)
  uint64_t guest_ns() const;
  void rebase(uint64_t guest_ns);  // the guest wall clock is `guest_ns` now
  void encode_time(uint64_t secs);  // writes the date/time registers in the current format
  uint64_t decode_time() const;     // the date/time registers as Unix seconds
  uint8_t to_reg(unsigned v) const;
  unsigned from_reg(uint8_t v) const;
  uint8_t hour_reg(unsigned h) const;
  bool alarm_matches(uint64_t secs) const;
  uint64_t period_units() const;  // periodic interrupt period in 1/32768 s, 0 = off
  void update_flags();
  void update_irq();
  void schedule();
  void update_checksum();

  Clock& clock_;
  uint8_t ram_[128] = {};
  uint8_t index_ = 0;
  bool nmi_masked_ = false;
  uint64_t base_guest_ns_ = 0;  // guest wall clock (ns since 1970) at virtual time base_virt_
  uint64_t base_virt_ = 0;
  uint64_t checked_virt_ = 0;   // flags computed up to this virtual time (periodic)
  uint64_t checked_guest_ = 0;  // ... and this guest time (update, alarm)
  bool irq_level_ = false;
  Clock::EventId event_ = 0;
};

}  // namespace vx86
