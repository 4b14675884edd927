// FpuState: the x87 register file and control/status state, part of CpuState (fixed layout).
#pragma once
#include <cstdint>

namespace vx86 {

struct FpuState {
  uint8_t st[8][10];  // physical registers R0-R7, 80-bit extended format, little-endian
  uint16_t cw;        // control word
  uint16_t sw;        // status word (TOP in bits 11-13)
  uint16_t tw;        // full tag word, 2 bits per physical register
  uint16_t fop;       // last opcode (11 bits)
  uint32_t fip, fdp;  // last instruction / operand pointers (offsets)
  uint16_t fcs, fds;  // their selectors
};

}  // namespace vx86
