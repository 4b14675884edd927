// FpuState: the x87 register file and control/status state, part of CpuState (fixed layout).
// See docs/fpu.md for how the interpreter uses it.
#pragma once
#include <cstdint>

namespace vx86 {

struct FpuState {
  uint8_t st[8][10];  // physical registers R0-R7, 80-bit extended format, little-endian
  uint16_t cw;        // control word (stored as FNSTCW reads it: bit 6 set, bits 7/13-15 clear)
  uint16_t sw;        // status word (TOP in bits 11-13)
  uint8_t tags;       // abridged tag word: bit r set = physical register r is not empty. The full
                      // 2-bit tags (valid/zero/special) are derived from the contents on FSTENV.
  uint8_t ferr;       // FERR# output: set when a waiting FPU instruction meets a pending unmasked
                      // exception with CR0.NE = 0 (legacy IRQ13 reporting); cleared by FNINIT/FNCLEX
  uint16_t fop;       // last non-control opcode (11 bits)
  uint32_t fip, fdp;  // last instruction / operand pointers (offsets; real mode: see docs/fpu.md)
  uint16_t fcs, fds;  // their selectors
  uint32_t mxcsr;     // SSE control/status, saved by FXSAVE (SSE itself comes later)
};

// Control/status word bits.
enum : uint16_t {
  FPU_IE = 1u << 0, FPU_DE = 1u << 1, FPU_ZE = 1u << 2, FPU_OE = 1u << 3, FPU_UE = 1u << 4,
  FPU_PE = 1u << 5, FPU_SF = 1u << 6, FPU_ES = 1u << 7, FPU_C0 = 1u << 8, FPU_C1 = 1u << 9,
  FPU_C2 = 1u << 10, FPU_C3 = 1u << 14, FPU_B = 1u << 15,
  FPU_EXC = 0x3F,  // the six exception flags / mask bits
};

// Power-on state (P6: CW 0040h, SW 0, TW 5555h: all registers valid +0.0).
inline void fpu_power_on(FpuState& f) {
  f = FpuState{};
  f.cw = 0x0040;
  f.tags = 0xFF;
  f.mxcsr = 0x1F80;
}

}  // namespace vx86
