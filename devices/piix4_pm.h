// The PIIX4's power-management function (00:01.3, 8086:7113, as on QEMU's pc board): the ACPI
// fixed hardware the FADT describes.
//
// Configuration space: PMBA (0x40, a 64-byte I/O block, bits 15:6) decoded while PMREGMISC (0x80)
// bit 0 is set; DEVACTB (0x58) reads APMC_EN set, because this board has no System Management
// Mode: firmware (SeaBIOS) then skips installing an SMI handler. The SMBus registers (0x90, 0xD2)
// hold what firmware writes and decode nothing.
//
// The I/O block (acpi_pm offsets): PM1 status (write one to clear) and enable, PM1 control, the PM
// timer. The timer counts at 3.579545 MHz on the board's virtual clock, 24 bits wide; TMR_STS is
// set each time its bit 23 changes. SCI_EN reads 1 (the FADT names no SMI command port: the
// hardware is always in ACPI mode). The SCI is asserted while a status bit and its enable bit are
// both set (timer, power button, global). Writing SLP_EN with SLP_TYP 0 (the PIIX4's soft-off
// type, which the DSDT's _S5 names) powers the board off; other sleep types are not offered.
#pragma once
#include <cstdint>
#include <functional>

#include "devices/io_util.h"
#include "devices/pci_bus.h"
#include "emu/board/acpi_tables.h"
#include "emu/clock.h"

namespace vx86 {

class Piix4Pm : public PciDevice, public IoDevice {
 public:
  static constexpr uint64_t kTimerHz = 3579545;
  enum : uint16_t {
    STS_TMR = 1u << 0,
    STS_BM = 1u << 4,
    STS_GBL = 1u << 5,
    STS_PWRBTN = 1u << 8,
    STS_RTC = 1u << 10,
    STS_WAK = 1u << 15,
  };
  enum : uint16_t { CNT_SCI_EN = 1u << 0, CNT_SLP_TYP = 7u << 10, CNT_SLP_EN = 1u << 13 };

  explicit Piix4Pm(Clock& clock);
  ~Piix4Pm() override;
  // Remembers the port bus: the I/O block is claimed there wherever PMBA puts it.
  void attach(PortBus& ports) { ports_ = &ports; }
  void reset() override;

  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, uint32_t value, unsigned size) override;

  // The PM timer's current 24-bit value.
  uint32_t timer() const;
  // The I/O block's base while it decodes, else 0.
  uint16_t io_base() const { return decoded_; }
  // The fixed-feature power button was pressed (PWRBTN_STS; an SCI if enabled).
  void press_power_button();
  // Direct kernel boot: PMBA and PMREGMISC as SeaBIOS programs them, the SCI's interrupt line.
  void enable_like_bios(uint16_t base);

  IrqOutput sci;
  std::function<void()> on_power_off;

  void save(SnapshotWriter& w) const;
  void load(SnapshotReader& r);

 protected:
  void config_written(unsigned offset, unsigned size) override;

 private:
  uint64_t ticks() const;  // timer ticks since power-on
  void latch_timer_status();
  void update_sci();
  void arm_timer_event();
  void update_decode();
  uint8_t read_byte(unsigned off, uint32_t tmr);
  void write_byte(unsigned off, uint8_t v);

  Clock& clock_;
  PortBus* ports_ = nullptr;
  uint16_t decoded_ = 0;
  uint16_t sts_ = 0, en_ = 0, cnt_ = CNT_SCI_EN;
  uint64_t tmr_half_ = 0;  // ticks >> 23 when TMR_STS was last evaluated
  Clock::EventId tmr_event_ = 0;
  bool sci_level_ = false;
};

}  // namespace vx86
