// Intel 82441FX PMC (i440FX host bridge), PCI 00:00.0, 8086:1237 rev 02.
//
// Modelled: the PAM registers 0x59-0x5F that steer the BIOS areas 0xC0000-0xFFFFF between RAM and
// ROM (each region: reads from RAM or ROM, writes to RAM or dropped/ROM), the SMRAM control
// register 0x72 (D_OPEN / D_CLS / D_LCK / G_SMRAME, C_BASE_SEG fixed at 010b = 0xA0000), and the
// DRAM registers 0x50-0x67 as plain storage (the board, not the guest, decides the RAM size).
// The board applies the PAM settings to its memory map through on_pam_change.
#pragma once
#include <cstdint>
#include <functional>

#include "devices/pci_bus.h"

namespace vx86 {

class I440fx : public PciDevice {
 public:
  // PAM regions: 0 = 0xF0000-0xFFFFF (PAM0 bits 5:4); 1..12 = the 16 KiB regions 0xC0000,
  // 0xC4000, ..., 0xEC000 (PAM1 low nibble, PAM1 high nibble, PAM2 low, ...).
  static constexpr unsigned kPamRegions = 13;
  struct PamRegion {
    uint32_t base, size;
  };
  static PamRegion pam_region(unsigned i);

  I440fx();
  void reset() override;

  // Attribute of a region: bit 0 RE (reads go to RAM), bit 1 WE (writes go to RAM).
  // 0 = everything goes to the ROM / PCI (writes dropped), 1 = read RAM / write ROM (the state a
  // BIOS uses to write-protect its shadow copy), 2 = read ROM / write RAM (the state in which a
  // BIOS copies itself), 3 = RAM.
  unsigned pam(unsigned region) const;
  // Called for every region whose attribute changes (and for all of them on reset and snapshot
  // load, and from report_all()).
  std::function<void(uint32_t base, uint32_t size, bool read_ram, bool write_ram)> on_pam_change;
  void report_all();

  // SMRAM (0xA0000-0xBFFFF) visible to non-SMM accesses instead of the VGA window: G_SMRAME and
  // D_OPEN set, D_CLS clear.
  bool smram_open() const;
  bool smram_locked() const { return cfg8(0x72) & 0x10; }
  std::function<void(bool open)> on_smram_change;

  void save(SnapshotWriter& w) const;
  void load(SnapshotReader& r);

 protected:
  void write_config_byte(unsigned o, uint8_t v) override;
  void config_written(unsigned offset, unsigned size) override;

 private:
  void apply(bool all);
  uint8_t applied_[kPamRegions] = {};
  bool smram_applied_ = false;
  bool loading_ = false;
};

}  // namespace vx86
