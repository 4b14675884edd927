// Model-specific registers: the MSR storage in CpuState and RDMSR/WRMSR's view of it.
// The set is a Pentium II's (plus EFER for NX); docs/cpuid.md lists every MSR and its behaviour.
#pragma once
#include <cstdint>

namespace vx86 {

class Cpu;

enum : uint32_t {
  MSR_TSC = 0x10,
  MSR_PLATFORM_ID = 0x17,
  MSR_APIC_BASE = 0x1B,
  MSR_BIOS_SIGN_ID = 0x8B,  // microcode revision (Linux reads it on every family-6 CPU)
  MSR_MTRRCAP = 0xFE,
  MSR_SYSENTER_CS = 0x174,
  MSR_SYSENTER_ESP = 0x175,
  MSR_SYSENTER_EIP = 0x176,
  MSR_MISC_ENABLE = 0x1A0,
  MSR_MTRR_PHYS_FIRST = 0x200,  // 0x200-0x20F: PHYSBASE0/PHYSMASK0 .. PHYSBASE7/PHYSMASK7
  MSR_MTRR_PHYS_LAST = 0x20F,
  MSR_MTRR_FIX64K_00000 = 0x250,
  MSR_MTRR_FIX16K_80000 = 0x258,
  MSR_MTRR_FIX16K_A0000 = 0x259,
  MSR_MTRR_FIX4K_C0000 = 0x268,  // 0x268-0x26F: FIX4K_C0000 .. FIX4K_F8000
  MSR_MTRR_FIX4K_F8000 = 0x26F,
  MSR_PAT = 0x277,
  MSR_MTRR_DEF_TYPE = 0x2FF,
  MSR_EFER = 0xC0000080u,
};

enum : uint64_t { EFER_NXE = 1u << 11 };
enum : uint32_t { CR4_TSD = 1u << 2 };

// MTRRcap: 8 variable ranges, fixed ranges supported, write-combining supported.
constexpr uint64_t MTRRCAP_VALUE = 0x508;

// Reset values are the P6's (SDM Vol. 3, "Initialization": APIC base FEE00000h, BSP, enabled;
// PAT 0007040600070406h; MTRRs disabled). CpuState{} applies them. The TSC's offset is
// CpuState::tsc_offset.
struct MsrState {
  uint64_t apic_base = 0xFEE00900u;
  uint64_t efer = 0;
  uint64_t pat = 0x0007040600070406ull;
  uint64_t misc_enable = 1;  // fast strings enabled
  uint64_t mtrr_def_type = 0;
  uint64_t mtrr_var[16] = {};   // 0x200-0x20F
  uint64_t mtrr_fixed[11] = {};  // 0x250, 0x258, 0x259, 0x268-0x26F
  uint64_t bios_sign_id = 0;
  uint32_t sysenter_cs = 0, sysenter_esp = 0, sysenter_eip = 0;
};

// The time-stamp counter: derived from the retired-instruction count, so a deterministic run
// reads the same TSC values every time.
uint64_t read_tsc(const Cpu& c);

// RDMSR/WRMSR: false means the MSR does not exist or the value is invalid (#GP(0)).
bool msr_read(Cpu& c, uint32_t index, uint64_t& value);
bool msr_write(Cpu& c, uint32_t index, uint64_t value);

}  // namespace vx86
