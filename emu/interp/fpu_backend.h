// The x87 arithmetic backend: the one place where vx86 computes on 80-bit extended values.
//
// The interpreter (fpu*.cpp) does everything architectural itself: the register stack, TOP, tags,
// stack overflow/underflow, the masked/unmasked exception protocol, condition codes, memory
// operands, FSAVE/FSTENV images. For the arithmetic proper it asks the backend to execute ONE x87
// operation on a tiny private operand stack and report the status word that operation produced.
//
// The operation is named by its x87 encoding (opcode byte D8-DF and ModRM byte) in a canonical
// form: register forms use ST(0)/ST(1) only (rm = 0 or 1), memory forms address the backend's
// operand buffer (mod = 0, rm = 7). So "D8 C1" is FADD ST(0),ST(1); "DC E9" is FSUB ST(1),ST(0);
// "D9 07" is FLD m32real from `mem`; "DF 37" is FBSTP m80bcd to `mem`; "D9 FE" is FSIN.
//
// The x86 backend (fpu_backend_x86.cpp) runs that instruction on the host's own x87 with the
// guest's control word, so results are bit-exact with the host CPU. A backend for another host
// architecture would implement the same operations in software (e.g. Berkeley SoftFloat's
// extF80 functions plus the x87 special-case rules); see docs/fpu.md.
#pragma once
#include <cstdint>

namespace vx86 {

struct alignas(16) X87Call {
  uint8_t in[2][16];   // operand stack before: in[0] is pushed last (becomes ST(0)), 10 bytes used
  uint8_t out[2][16];  // operand stack after: out[0] = ST(0), out[1] = ST(1)
  uint8_t* mem;        // memory operand buffer (read and/or written by memory forms)
  const void* stub;    // internal to the backend
  uint32_t nin;        // values loaded (0-2)
  uint32_t nout;       // values read back (0-2); reading more than the operation left is harmless
  uint16_t cw;         // guest control word: precision, rounding, exception masks
  uint16_t sw;         // status word after the operation (exception flags, C0-C3; TOP meaningless)
  uint16_t sw_in;      // guest status word before (its C0-C3 matter where the operation leaves
                       // them unchanged, which happens when it stops on an unmasked exception)
  uint16_t mode;       // internal to the backend
  uint8_t env[28];     // internal to the backend
};

// Executes `opcode modrm` as described above and returns call.sw. With an exception unmasked in
// `cw`, the backend behaves as the hardware does for an unmasked exception (no result for
// IE/DE/ZE, biased exponent for OE/UE on register destinations) and never traps.
// `exact_cond` loads the guest's C0-C3 first for operations that may leave some of them unchanged.
uint16_t x87_exec(X87Call& call, uint8_t opcode, uint8_t modrm, bool exact_cond = false);

}  // namespace vx86
