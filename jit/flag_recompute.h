// Host code that gives the host's flags of a lazy flag writer (jit/lazy_flags.h) by executing its
// operation again, and the shared stub that brings flags a block left unevaluated into r11.
#pragma once

#include <asmjit/x86.h>

#include "jit/lazy_flags.h"

namespace vx86 {

// The host's arithmetic flags of `kind` at `size` on the operand values a and b (a register, a
// memory operand or, for b, an immediate; for CC_INC/CC_DEC, b is a memory operand whose bit 0 is
// CF; for CC_ADC/CC_SBB, bit 0 of `carry` is the carry in). Clobbers eax and ecx. AF is undefined
// for CC_LOGIC and CC_TEST (the interpreter's is 0).
void emit_recompute(asmjit::x86::Assembler& as, CcKind kind, unsigned size, const asmjit::Operand& a,
                    const asmjit::Operand& b, const asmjit::x86::Mem& carry);

// The stub at `to_r11`, called (`call`) from generated code with rbx = CpuState: r11 = EFLAGS
// with the arithmetic flags as cc_op/cc_a/cc_b say (also when cc_op is 0). Stores nothing;
// clobbers rax, rcx and r11 only.
void emit_flags_to_r11(asmjit::x86::Assembler& as, asmjit::Label to_r11);

}  // namespace vx86
