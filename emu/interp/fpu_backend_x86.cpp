// x87 arithmetic backend for x86 hosts: runs each guest x87 operation on the host FPU.
//
// x87_exec_host (below, in assembly) saves the host control word, loads the guest's (precision,
// rounding and exception masks all as the guest set them), loads the operands with FLD m80 (which
// never raises exceptions, so unnormals, pseudo-denormals and SNaNs arrive untouched), calls a
// 4-byte stub holding the canonical instruction, and reads the status word with FNSTSW. FNCLEX then
// clears any exception the guest left unmasked before anything could wait on it, so the host never
// traps; the host control word is restored before the results are popped, and EMMS empties the
// host stack whatever the operation left there (an unmasked exception may leave values behind).
#include "emu/interp/fpu_backend.h"

#include <cstddef>
#include <cstring>

#if !(defined(__x86_64__) || defined(__i386__))
#error "vx86's x87 backend needs an x86 host; add a soft-float backend (see docs/fpu.md)"
#endif
#if !defined(__x86_64__)
#error "the x87 host backend is written for x86-64 (SysV ABI)"
#endif

namespace vx86 {

static_assert(offsetof(X87Call, in) == 0 && offsetof(X87Call, out) == 32 && offsetof(X87Call, mem) == 64 &&
              offsetof(X87Call, stub) == 72 && offsetof(X87Call, nin) == 80 && offsetof(X87Call, nout) == 84 &&
              offsetof(X87Call, cw) == 88 && offsetof(X87Call, sw) == 90 && offsetof(X87Call, mode) == 94 &&
              offsetof(X87Call, env) == 96);

extern "C" void vx86_x87_exec_host(X87Call* call);
extern "C" const unsigned char vx86_x87_stubs[];

// Stub table: for each opcode D8-DF and each ModRM byte, "opcode modrm; ret; int3" (4 bytes).
// Only the canonical forms described in fpu_backend.h are ever called.
asm(R"(
  .pushsection .text
  .p2align 4
  .globl vx86_x87_stubs
  .hidden vx86_x87_stubs
vx86_x87_stubs:
  .irp op, 0xD8, 0xD9, 0xDA, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF
    .set vx86_m, 0
    .rept 256
      .byte \op, vx86_m, 0xC3, 0xCC
      .set vx86_m, vx86_m + 1
    .endr
  .endr

  .p2align 4
  .globl vx86_x87_exec_host
  .hidden vx86_x87_exec_host
  .type vx86_x87_exec_host, @function
vx86_x87_exec_host:
  push %rbx
  mov %rdi, %rbx
  sub $16, %rsp
  fnstcw (%rsp)
  fnclex
  cmpw $0, 94(%rbx)
  jne 4f
  fldcw 88(%rbx)
  jmp 5f
4:
  fldenv 96(%rbx)
5:
  cmpl $2, 80(%rbx)
  jb 1f
  fldt 16(%rbx)
1:
  cmpl $1, 80(%rbx)
  jb 2f
  fldt 0(%rbx)
2:
  mov 64(%rbx), %rdi
  call *72(%rbx)
  fnstsw 90(%rbx)
  fnclex
  fldcw (%rsp)
  cmpl $1, 84(%rbx)
  jb 3f
  fstpt 32(%rbx)
  cmpl $2, 84(%rbx)
  jb 3f
  fstpt 48(%rbx)
3:
  emms
  fnclex
  add $16, %rsp
  pop %rbx
  ret
  .size vx86_x87_exec_host, .-vx86_x87_exec_host
  .popsection
)");

// The fast path loads only the control word, so the host's C0-C3 start out arbitrary. That is
// exact whenever the operation defines the condition bits the interpreter takes from it; an
// operation stopped by an unmasked exception may leave them unchanged instead, so those (rare)
// cases run again with the guest's condition bits loaded through FLDENV.
uint16_t x87_exec(X87Call& call, uint8_t opcode, uint8_t modrm, bool exact_cond) {
  call.stub = vx86_x87_stubs + ((static_cast<unsigned>(opcode & 7) << 8) | modrm) * 4;
  call.mode = 0;
  if (!exact_cond) vx86_x87_exec_host(&call);
  if (exact_cond || (call.sw & ~call.cw & 0x3F)) [[unlikely]] {
    const uint32_t words[7] = {0xFFFF0000u | call.cw, 0xFFFF0000u | (call.sw_in & 0x4700u), 0xFFFFFFFFu, 0, 0, 0, 0};
    std::memcpy(call.env, words, sizeof words);
    call.mode = 1;
    vx86_x87_exec_host(&call);
  }
  return call.sw;
}

}  // namespace vx86
