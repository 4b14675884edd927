#include "devices/i440fx.h"

#include "devices/snapshot.h"

namespace vx86 {

I440fx::I440fx() : PciDevice(0x8086, 0x1237, 0x02, 0x060000) {
  set_default16(0x04, 0x0006, 0x0146);  // memory + bus master on
  set_default16(0x06, 0x0280, 0, 0x3000 | 0xF900);
  set_default8(0x0D, 0x00, 0xF8);
  set_default8(0x0F, 0x00);
  set_default16(0x50, 0x0000, 0x7FFF);  // PMCCFG
  set_default8(0x52, 0x00, 0xFF);       // DETURBO / DBC
  set_default8(0x53, 0x80, 0xFF);       // DBC
  set_default8(0x54, 0x00, 0xFF);
  set_default8(0x55, 0x00, 0xFF);       // DRT
  set_default8(0x56, 0x00, 0xFF);
  set_default8(0x57, 0x01, 0x3F);       // DRAMC
  set_default8(0x58, 0x10, 0xFF);       // DRAMT
  set_default8(0x59, 0x00, 0x30);       // PAM0: only the 0xF0000 attribute bits
  for (unsigned o = 0x5A; o <= 0x5F; ++o) set_default8(o, 0x00, 0x33);
  for (unsigned o = 0x60; o <= 0x67; ++o) set_default8(o, 0x01, 0xFF);  // DRB
  set_default8(0x68, 0x00, 0xC0);       // FDHC
  set_default8(0x70, 0x00, 0xF8);       // MTT
  set_default8(0x71, 0x10, 0x07);       // CLT
  set_default8(0x72, 0x02);             // SMRAM (handled in write_config_byte)
  set_default8(0x90, 0x00, 0xFF);       // ERRCMD
  set_default8(0x91, 0x00, 0, 0x11);    // ERRSTS (write-one-to-clear)
  set_default8(0x93, 0x00, 0x06);       // TRC
  cfg_ = defaults_;
  for (auto& a : applied_) a = 0xFF;  // force the first report
}

I440fx::PamRegion I440fx::pam_region(unsigned i) {
  if (i == 0) return {0xF0000, 0x10000};
  return {0xC0000 + (i - 1) * 0x4000u, 0x4000};
}

unsigned I440fx::pam(unsigned region) const {
  if (region == 0) return (cfg8(0x59) >> 4) & 3;
  if (region >= kPamRegions) return 0;
  const uint8_t reg = cfg8(0x5A + (region - 1) / 2);
  return ((region - 1) & 1 ? reg >> 4 : reg) & 3;
}

bool I440fx::smram_open() const {
  const uint8_t s = cfg8(0x72);
  return (s & 0x08) && (s & 0x40) && !(s & 0x20);
}

void I440fx::reset() { PciDevice::reset(); }

void I440fx::write_config_byte(unsigned o, uint8_t v) {
  if (o != 0x72) return PciDevice::write_config_byte(o, v);
  uint8_t cur = cfg_[0x72];
  if (cur & 0x10) {
    // D_LCK: only D_CLS stays writable; D_OPEN reads 0 until reset.
    cur = static_cast<uint8_t>((cur & ~0x20) | (v & 0x20));
  } else {
    cur = static_cast<uint8_t>((v & 0x78) | 0x02);
    if (cur & 0x10) cur &= static_cast<uint8_t>(~0x40);
  }
  cfg_[0x72] = cur;
}

void I440fx::config_written(unsigned offset, unsigned size) {
  if (loading_) return;
  const bool all = offset == 0 && size == 256;
  if (all || (offset < 0x73 && offset + size > 0x59)) apply(all);
}

void I440fx::apply(bool all) {
  for (unsigned i = 0; i < kPamRegions; ++i) {
    const uint8_t a = static_cast<uint8_t>(pam(i));
    if (!all && a == applied_[i]) continue;
    applied_[i] = a;
    const PamRegion r = pam_region(i);
    if (on_pam_change) on_pam_change(r.base, r.size, a & 1, a & 2);
  }
  const bool open = smram_open();
  if (all || open != smram_applied_) {
    smram_applied_ = open;
    if (on_smram_change) on_smram_change(open);
  }
}

void I440fx::report_all() { apply(true); }

void I440fx::save(SnapshotWriter& w) const {
  w.begin_section("I440", 1);
  save_config(w);
  w.u8(cfg8(0x72));
  w.end_section();
}

void I440fx::load(SnapshotReader& r) {
  r.begin_section("I440", 1);
  load_config(r);
  const uint8_t smram = r.u8();
  r.check((smram & 0x87) == 0x02 && !((smram & 0x10) && (smram & 0x40)), "i440FX SMRAM register malformed");
  r.end_section();
  loading_ = true;
  apply_loaded_config();
  loading_ = false;
  cfg_[0x72] = smram;
  apply(true);
}

}  // namespace vx86
