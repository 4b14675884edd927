// The VGA as a PCI function (QEMU's "-vga std" identity): 1234:1111, class 0x030000 (VGA
// compatible display controller), rev 02.
//
// BAR0: the Bochs VBE linear framebuffer, kVramSize of prefetchable memory. Expansion ROM BAR
// (config 0x30): the VGA BIOS, its size rounded up to a power of two (at least 4 KiB, a page); the
// address bits down to the ROM size and the enable bit 0 are writable. The ROM decodes when bit
// 0 and the command register's memory space enable are set and the address is not 0. The board
// maps both windows through on_bar_change (BAR0) and on_rom_change; the legacy VGA ports and the
// 0xA0000 window are decoded regardless (as on real hardware with VGA palette/enable routing).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "devices/pci_bus.h"

namespace vx86 {

class SnapshotWriter;
class SnapshotReader;

class VgaPci : public PciDevice {
 public:
  static constexpr uint16_t kVendor = 0x1234, kDevice = 0x1111;
  static constexpr uint32_t kClass = 0x030000;

  // `rom`: the VGA BIOS image (empty: no ROM BAR; reads 0). `fb_size`: BAR0's size.
  VgaPci(uint32_t fb_size, std::vector<uint8_t> rom);

  // The decoded expansion ROM window (size 0: no ROM).
  PciBar rom_bar() const { return rom_decoded_; }
  // The ROM image padded with 0xFF to the ROM BAR's size (what the window reads).
  const std::vector<uint8_t>& rom_image() const { return rom_; }
  std::function<void(const PciBar& old_bar, const PciBar& new_bar)> on_rom_change;

  void save(SnapshotWriter& w) const;
  void load(SnapshotReader& r);

 protected:
  void config_written(unsigned offset, unsigned size) override;

 private:
  void update_rom();
  std::vector<uint8_t> rom_;
  PciBar rom_decoded_{};
};

}  // namespace vx86
