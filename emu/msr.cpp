#include "emu/msr.h"

#include "emu/cpu.h"

namespace vx86 {
namespace {

// Memory types an MTRR may hold: UC WC WT WP WB. PAT adds UC- (7).
bool mtrr_type_ok(uint64_t t) { return t == 0 || t == 1 || t == 4 || t == 5 || t == 6; }
bool pat_type_ok(uint64_t t) { return mtrr_type_ok(t) || t == 7; }

// The P6 has 36 physical address bits.
constexpr uint64_t PHYS_MASK_36 = 0xFFFFFF000ull;  // bits 12-35

uint64_t* fixed_mtrr(MsrState& m, uint32_t index) {
  if (index == MSR_MTRR_FIX64K_00000) return &m.mtrr_fixed[0];
  if (index == MSR_MTRR_FIX16K_80000) return &m.mtrr_fixed[1];
  if (index == MSR_MTRR_FIX16K_A0000) return &m.mtrr_fixed[2];
  if (index >= MSR_MTRR_FIX4K_C0000 && index <= MSR_MTRR_FIX4K_F8000) return &m.mtrr_fixed[3 + index - MSR_MTRR_FIX4K_C0000];
  return nullptr;
}

}  // namespace

// The TSC counts instructions (deterministic runs) or, in realtime mode, the board's clock in
// nanoseconds (a 1 GHz TSC): a guest calibrates it against the PIT, which runs on host time, so
// an instruction count would drift with the emulation speed and the guest would find it unstable.
static uint64_t tsc_source(const Cpu& c) { return c.tsc_clock ? c.tsc_clock() : c.s.icount; }

uint64_t read_tsc(const Cpu& c) { return tsc_source(c) + c.s.tsc_offset; }

bool msr_read(Cpu& c, uint32_t index, uint64_t& v) {
  MsrState& m = c.s.msr;
  if (uint64_t* f = fixed_mtrr(m, index)) {
    v = *f;
    return true;
  }
  if (index >= MSR_MTRR_PHYS_FIRST && index <= MSR_MTRR_PHYS_LAST) {
    v = m.mtrr_var[index - MSR_MTRR_PHYS_FIRST];
    return true;
  }
  switch (index) {
    case MSR_TSC: v = read_tsc(c); return true;
    case MSR_PLATFORM_ID: v = 0; return true;
    case MSR_APIC_BASE: v = m.apic_base; return true;
    case MSR_BIOS_SIGN_ID: v = m.bios_sign_id; return true;
    case MSR_MTRRCAP: v = MTRRCAP_VALUE; return true;
    case MSR_SYSENTER_CS: v = m.sysenter_cs; return true;
    case MSR_SYSENTER_ESP: v = m.sysenter_esp; return true;
    case MSR_SYSENTER_EIP: v = m.sysenter_eip; return true;
    case MSR_MISC_ENABLE: v = m.misc_enable; return true;
    case MSR_PAT: v = m.pat; return true;
    case MSR_MTRR_DEF_TYPE: v = m.mtrr_def_type; return true;
    case MSR_EFER: v = m.efer; return true;
    default: return false;
  }
}

bool msr_write(Cpu& c, uint32_t index, uint64_t v) {
  MsrState& m = c.s.msr;
  if (uint64_t* f = fixed_mtrr(m, index)) {
    for (unsigned k = 0; k < 8; ++k)
      if (!mtrr_type_ok((v >> (8 * k)) & 0xFF)) return false;
    *f = v;
    return true;
  }
  if (index >= MSR_MTRR_PHYS_FIRST && index <= MSR_MTRR_PHYS_LAST) {
    const bool is_mask = index & 1;  // PHYSMASKn: valid bit 11 + mask; PHYSBASEn: type + base
    const bool bad = is_mask ? (v & ~(PHYS_MASK_36 | 0x800)) != 0
                             : (v & ~(PHYS_MASK_36 | 0xFF)) != 0 || !mtrr_type_ok(v & 0xFF);
    if (bad) return false;
    m.mtrr_var[index - MSR_MTRR_PHYS_FIRST] = v;
    return true;
  }
  switch (index) {
    case MSR_TSC:
      // P6: only the low 32 bits can be written; the high 32 bits are cleared.
      c.s.tsc_offset = (v & 0xFFFFFFFFu) - tsc_source(c);
      return true;
    case MSR_APIC_BASE:
      // Base (bits 12-35) and the global enable (bit 11) are writable; BSP (bit 8) is read-only.
      if (v & ~(PHYS_MASK_36 | 0x900)) return false;
      m.apic_base = (v & (PHYS_MASK_36 | 0x800)) | (m.apic_base & 0x100);
      if (c.on_apic_base) c.on_apic_base();
      return true;
    case MSR_BIOS_SIGN_ID: return true;  // "load the microcode revision": there is none (0)
    case MSR_SYSENTER_CS: m.sysenter_cs = static_cast<uint32_t>(v); return true;
    case MSR_SYSENTER_ESP: m.sysenter_esp = static_cast<uint32_t>(v); return true;
    case MSR_SYSENTER_EIP: m.sysenter_eip = static_cast<uint32_t>(v); return true;
    case MSR_MISC_ENABLE: m.misc_enable = v; return true;
    case MSR_PAT:
      for (unsigned k = 0; k < 8; ++k)
        if (!pat_type_ok((v >> (8 * k)) & 0xFF)) return false;
      m.pat = v;
      return true;
    case MSR_MTRR_DEF_TYPE:
      if ((v & ~uint64_t{0xCFF}) || !mtrr_type_ok(v & 0xFF)) return false;
      m.mtrr_def_type = v;
      return true;
    case MSR_EFER: {
      // Only NXE exists here (no SYSCALL, no long mode); LMA is read-only.
      if (v & ~uint64_t{EFER_NXE}) return false;
      const bool changed = (m.efer ^ v) & EFER_NXE;
      m.efer = v;
      if (changed) c.update_paging();
      return true;
    }
    default: return false;  // MTRRcap and PLATFORM_ID are read-only; the rest do not exist
  }
}

}  // namespace vx86
