#include "devices/vga_pci.h"

#include "devices/snapshot.h"

namespace vx86 {

VgaPci::VgaPci(uint32_t fb_size, std::vector<uint8_t> rom)
    : PciDevice(kVendor, kDevice, 0x02, kClass), rom_(std::move(rom)) {
  define_bar(0, fb_size, false, true);
  if (!rom_.empty()) {
    uint32_t size = 4096;  // page-granular (the PCI minimum is 2 KiB)
    while (size < rom_.size()) size <<= 1;
    rom_.resize(size, 0xFF);
    set_default32(0x30, 0, ~(size - 1) | 1u);
    rom_decoded_ = PciBar{0, size, false, false};
  }
  cfg_ = defaults_;
}

void VgaPci::config_written(unsigned offset, unsigned size) {
  // The ROM window depends on its BAR and on the command register's memory enable.
  if ((offset < 0x34 && offset + size > 0x30) || (offset <= 0x04 && offset + size > 0x04)) update_rom();
}

void VgaPci::update_rom() {
  if (rom_.empty()) return;
  PciBar b{cfg32(0x30) & ~uint32_t{0x7FF}, static_cast<uint32_t>(rom_.size()), false, false};
  b.enabled = (cfg32(0x30) & 1) && (command() & 2) && b.base != 0 && uint64_t{b.base} + b.size <= 0x100000000ull;
  const PciBar old = rom_decoded_;
  rom_decoded_ = b;
  if (old.enabled != b.enabled || (b.enabled && old.base != b.base))
    if (on_rom_change) on_rom_change(old, b);
}

void VgaPci::save(SnapshotWriter& w) const {
  w.begin_section("VPCI", 1);
  save_config(w);
  w.end_section();
}

void VgaPci::load(SnapshotReader& r) {
  r.begin_section("VPCI", 1);
  load_config(r);
  r.end_section();
  apply_loaded_config();
}

}  // namespace vx86
