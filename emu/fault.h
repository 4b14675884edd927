// CpuFault: thrown by an instruction handler or a memory access to raise a processor exception.
// Handlers change architectural state only after their last access that can fault, so the run
// loop can deliver the exception with EIP still at the faulting instruction (precise faults).
#pragma once
#include <cstdint>

namespace vx86 {

enum Vector : uint8_t {
  VEC_DE = 0,
  VEC_DB = 1,
  VEC_NMI = 2,
  VEC_BP = 3,
  VEC_OF = 4,
  VEC_BR = 5,
  VEC_UD = 6,
  VEC_NM = 7,
  VEC_DF = 8,
  VEC_TS = 10,
  VEC_NP = 11,
  VEC_SS = 12,
  VEC_GP = 13,
  VEC_PF = 14,
  VEC_MF = 16,
  VEC_AC = 17,
  // Not the guest's: a debugger's watchpoint hit (Mmu::check_watch); the CPU stops for the debugger.
  VEC_WATCHPOINT = 0xFF,
};

struct CpuFault {
  uint8_t vector;
  bool has_error;
  uint32_t error;
  uint32_t address = 0;  // #PF: the linear address, for CR2
};

[[noreturn]] inline void raise_fault(uint8_t vector) { throw CpuFault{vector, false, 0}; }
[[noreturn]] inline void raise_fault(uint8_t vector, uint32_t error) { throw CpuFault{vector, true, error}; }
[[noreturn]] inline void raise_page_fault(uint32_t lin, uint32_t error) { throw CpuFault{VEC_PF, true, error, lin}; }

}  // namespace vx86
