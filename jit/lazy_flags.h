// Guest arithmetic flags left unevaluated by translated code (QEMU calls this cc_op).
//
// A translated flag writer such as CMP or ADD does not store EFLAGS: the translator remembers
// which operation wrote the flags and where its operands are, and re-executes a host instruction
// with the same flags where a reader needs them (a branch, a slow path). When a block ends with
// such flags still unevaluated, it stores the operation and its operands in CpuState::cc_op,
// cc_a and cc_b instead of computing EFLAGS; the next block (or C++) evaluates them only if it
// reads them before overwriting them.
#pragma once

#include <cstdint>

#include "emu/cpu_state.h"

namespace vx86 {

// CpuState::cc_op = kind | operand size in bytes << 8.
enum CcKind : uint32_t {
  CC_EFLAGS = 0,    // nothing pending: EFLAGS holds the flags
  CC_ADD = 1,       // a = result, b = source (the destination was result - source)
  CC_SUB = 2,       // a = result, b = source (the destination was result + source)
  CC_CMP = 3,       // a - b
  CC_LOGIC = 4,     // a = result of AND/OR/XOR
  CC_TEST = 5,      // a & b
  CC_ADD_ORIG = 6,  // a = result, b = the destination's value before the addition
  CC_SUB_ORIG = 7,  // a = result, b = the destination's value before the subtraction
  CC_INC = 8,       // a = result; CF is bit 0 of b (INC keeps it)
  CC_DEC = 9,       // a = result; CF is bit 0 of b
  CC_ADC = 10,      // a = result, b = source; the carry in is bit 0 of CpuState::cc_carry
  CC_SBB = 11,      // a = result, b = source; the borrow in is bit 0 of CpuState::cc_carry
  CC_KINDS
};

constexpr uint32_t cc_op(CcKind k, unsigned size) { return k | size << 8; }

// The six arithmetic flags (EFLAGS bit positions) of `op` on a and b, as the interpreter
// defines them (logic ops and TEST clear AF, as a P6 does).
uint32_t lazy_flags(uint32_t op, uint32_t a, uint32_t b, uint32_t carry);

// Evaluates pending flags into EFLAGS. Returns whether there were any.
inline bool materialize_flags(CpuState& s) {
  if (s.cc_op == CC_EFLAGS) return false;
  s.eflags = (s.eflags & ~uint32_t{F_ARITH}) | lazy_flags(s.cc_op, s.cc_a, s.cc_b, s.cc_carry);
  s.cc_op = CC_EFLAGS;
  return true;
}

}  // namespace vx86
