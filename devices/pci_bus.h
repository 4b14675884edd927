// PCI configuration mechanism #1 and a bus of PCI functions.
//
// PciBus claims 0xCF8-0xCFF: a dword access to 0xCF8 is CONFIG_ADDRESS (bit 31 enable, bus 23:16,
// device 15:11, function 10:8, register 7:2); 0xCFC-0xCFF is CONFIG_DATA, read or written with
// byte, word or dword accesses at any of the four offsets (the offset selects the byte lanes of
// the addressed dword). Non-dword accesses to 0xCF8-0xCFB are not CONFIG_ADDRESS; a byte access to
// 0xCF9 is the PIIX reset control register. Only bus 0 exists; absent functions read all ones.
//
// PciDevice is one function: a 256-byte configuration space with per-byte writable and
// write-one-to-clear masks (read-only bytes simply have mask 0), BARs with sizing (writing all ones
// reads back the size mask, because the low address bits are not writable), I/O and memory BAR
// decoding gated by the command register, and a callback when a BAR's decoded window changes.
#pragma once
#include <array>
#include <cstdint>
#include <functional>

#include "devices/port_bus.h"

namespace vx86 {

class SnapshotWriter;
class SnapshotReader;
class PciBus;

// A BAR as the function currently decodes it. `enabled` is: the BAR exists, its space is enabled in
// the command register, and the programmed window is a valid address range (not 0, no wrap, below
// 64 KiB for I/O).
struct PciBar {
  uint32_t base = 0;
  uint32_t size = 0;  // 0 = the BAR does not exist
  bool io = false;
  bool enabled = false;
  bool operator==(const PciBar&) const = default;
};

class PciDevice {
 public:
  static constexpr unsigned kBars = 6;

  PciDevice(uint16_t vendor, uint16_t device, uint8_t revision, uint32_t class_code, uint8_t header_type = 0);
  virtual ~PciDevice() = default;
  PciDevice(const PciDevice&) = delete;
  PciDevice& operator=(const PciDevice&) = delete;

  // Configuration space back to its power-on values (BARs unassigned, decoding off).
  virtual void reset();

  // Configuration cycles (offset 0-255, size 1/2/4; bytes beyond 255 read as ones / are dropped).
  uint32_t config_read(unsigned offset, unsigned size);
  void config_write(unsigned offset, uint32_t value, unsigned size);

  uint8_t cfg8(unsigned o) const { return cfg_[o & 0xFF]; }
  uint16_t cfg16(unsigned o) const { return static_cast<uint16_t>(cfg8(o) | cfg8(o + 1) << 8); }
  uint32_t cfg32(unsigned o) const { return cfg16(o) | uint32_t{cfg16(o + 2)} << 16; }
  uint16_t command() const { return cfg16(0x04); }

  PciBar bar(unsigned index) const;
  // Called with the BAR's old and new decoded window whenever it changes (guest moves the BAR,
  // toggles the command register's I/O or memory enable, reset, snapshot load).
  std::function<void(unsigned bar, const PciBar& old_bar, const PciBar& new_bar)> on_bar_change;

  // The function's INTx pin (as given by the interrupt pin register 0x3D). Shown in status bit 3;
  // masked by the command register's interrupt disable bit; routed by the bus to a PIRQ line.
  void set_intx(bool level);
  bool intx_level() const { return intx_; }

  PciBus* bus() const { return bus_; }
  uint8_t devfn() const { return devfn_; }

  // The configuration space (through the write masks: a snapshot cannot set read-only bits).
  void save_config(SnapshotWriter& w) const;
  void load_config(SnapshotReader& r);  // parses into temporaries; call apply_loaded_config() after
                                        // the whole section has been validated
  void apply_loaded_config();

 protected:
  // Setup helpers for subclasses (constructor time).
  void define_bar(unsigned index, uint32_t size, bool io, bool prefetchable = false);
  void set_default8(unsigned o, uint8_t v, uint8_t wmask = 0, uint8_t w1c = 0);
  void set_default16(unsigned o, uint16_t v, uint16_t wmask = 0, uint16_t w1c = 0);
  void set_default32(unsigned o, uint32_t v, uint32_t wmask = 0);

  // One byte of a guest configuration write. The default applies the masks; devices with
  // registers whose writability depends on state (lock bits) override it.
  virtual void write_config_byte(unsigned o, uint8_t v);
  // After a whole guest write (and after reset / snapshot load with offset 0, size 256).
  virtual void config_written(unsigned offset, unsigned size) {
    (void)offset;
    (void)size;
  }
  // Decoded BAR window changed. Default: calls on_bar_change.
  virtual void bar_changed(unsigned index, const PciBar& old_bar, const PciBar& new_bar);

  std::array<uint8_t, 256> cfg_{};
  std::array<uint8_t, 256> wmask_{};
  std::array<uint8_t, 256> w1c_{};
  std::array<uint8_t, 256> defaults_{};

 private:
  friend class PciBus;
  void update_bars();
  void update_status_intx();
  std::array<uint32_t, kBars> bar_size_{};
  std::array<bool, kBars> bar_io_{};
  std::array<PciBar, kBars> decoded_{};
  std::array<uint8_t, 256> loaded_{};
  PciBus* bus_ = nullptr;
  uint8_t devfn_ = 0;
  bool intx_ = false;
};

class PciBus : public IoDevice {
 public:
  void attach(PortBus& ports);  // 0xCF8-0xCFF
  // Places a function at 00:device.function (device 0-31, function 0-7).
  void add(PciDevice* dev, unsigned device, unsigned function);
  PciDevice* find(unsigned device, unsigned function) const { return slots_[(device & 31) << 3 | (function & 7)]; }
  // CONFIG_ADDRESS back to 0, reset control cleared. The functions are reset by the board.
  void reset();

  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, uint32_t value, unsigned size) override;

  // Direct configuration access (board and tests): bus 0 only.
  uint32_t config_read(unsigned device, unsigned function, unsigned offset, unsigned size);
  void config_write(unsigned device, unsigned function, unsigned offset, uint32_t value, unsigned size);

  // INTx routing: device D's pin P (1 = INTA..4 = INTD) drives PIRQ (D + P - 1) mod 4, the swizzle
  // of the i440FX boards (QEMU's and Bochs's). on_pirq receives the wired-OR level of each PIRQ
  // (connect it to Piix3::set_pirq).
  std::function<void(unsigned pirq, bool level)> on_pirq;
  static unsigned pirq_of(unsigned device, unsigned pin) { return (device + pin - 1) & 3; }
  bool pirq_level(unsigned pirq) const;

  // A write to 0xCF9 with bit 2 (RST_CPU) set: bit 1 (SYS_RST) selects a hard reset.
  std::function<void(bool hard)> on_reset_request;

  uint32_t config_address() const { return address_; }
  void save(SnapshotWriter& w) const;
  void load(SnapshotReader& r);

 private:
  friend class PciDevice;
  void intx_changed(PciDevice* dev);
  std::array<PciDevice*, 256> slots_{};
  uint32_t address_ = 0;
  uint8_t reset_control_ = 0;
  std::array<bool, 4> pirq_{};
};

}  // namespace vx86
