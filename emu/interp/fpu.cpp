// x87 FPU: the numeric instructions (loads, stores, arithmetic, compares, transcendentals, stack
// manipulation) and the opcode-level decoding of the whole D8-DF space. The control instructions
// (FNINIT, FLDCW, FNSTENV, FNSAVE, FXSAVE, FWAIT, ...) are in fpu_env.cpp.
//
// Handlers follow the x87 protocol (docs/fpu.md): #NM / pending-#MF checks, memory operand read,
// stack checks (underflow/overflow -> IE+SF with the masked "indefinite" response), the arithmetic
// proper in the backend (fpu_backend.h), then the result and the pops/pushes unless an unmasked
// IE/DE/ZE (or, for memory destinations, OE/UE) suppresses them. Stores to memory write before any
// FPU state changes, so a faulting store is precise.
#include "emu/interp/fpu_internal.h"

namespace vx86 {

using namespace x87;

namespace {

inline const Insn* done(Cpu& c, const Insn* i) {
  record(c, i);
  return next(c, i);
}
inline const Insn* done_mem(Cpu& c, const Insn* i, uint32_t a) {
  record_mem(c, i, a);
  return next(c, i);
}

inline void call_init(X87Call& k, const FpuState& f, unsigned nin, unsigned nout, uint8_t* mem = nullptr) {
  k.cw = f.cw;
  k.sw_in = f.sw;
  k.nin = nin;
  k.nout = nout;
  k.mem = mem;
}

// ---- arithmetic: FADD FMUL FSUB FSUBR FDIV FDIVR (aux = ModRM.reg, r0 = i) ----
// ToSti: the DC/DE forms (ST(i) <- ST(i) op ST(0)); Pop: the DE forms.
template <bool ToSti, bool Pop>
const Insn* arith_reg(Cpu& c, const Insn* i) {
  enter(c, true);
  FpuState& f = c.s.fpu;
  const unsigned si = i->r0, dst = ToSti ? si : 0;
  if (empty(f, 0) || empty(f, si)) {
    if (!stack_fault(f, false)) return done(c, i);
    set_st(f, dst, INDEFINITE);
  } else {
    X87Call k;
    call_init(k, f, 2, 2);
    std::memcpy(k.in[0], st(f, 0), 10);
    std::memcpy(k.in[1], st(f, si), 10);
    const uint16_t sw = x87_exec(k, ToSti ? 0xDC : 0xD8, static_cast<uint8_t>(0xC1 | i->aux << 3));
    set_cond(f, FPU_C1, sw);
    if (signal(f, sw)) return done(c, i);
    set_st(f, dst, k.out[ToSti ? 1 : 0]);
  }
  if (Pop) pop(f);
  return done(c, i);
}

// D8 m32real, DC m64real, DA m32int, DE m16int: ST(0) <- ST(0) op [mem].
template <unsigned N>
const Insn* arith_mem(Cpu& c, const Insn* i) {
  enter(c, true);
  const uint32_t a = ea(c, i);
  uint8_t buf[16];
  read_mem(c, i->seg, a, buf, N);
  FpuState& f = c.s.fpu;
  if (empty(f, 0)) {
    if (stack_fault(f, false)) set_st(f, 0, INDEFINITE);
  } else {
    X87Call k;
    call_init(k, f, 1, 1, buf);
    std::memcpy(k.in[0], st(f, 0), 10);
    const uint16_t sw = x87_exec(k, i->opcode, static_cast<uint8_t>(i->aux << 3 | 7));
    set_cond(f, FPU_C1, sw);
    if (!signal(f, sw)) set_st(f, 0, k.out[0]);
  }
  return done_mem(c, i, a);
}

// ---- compares ----
// FCOM/FCOMP/FCOMPP (Unordered = false) and FUCOM/FUCOMP/FUCOMPP with ST(i) (r0).
template <bool Unordered, unsigned Pops>
const Insn* com_reg(Cpu& c, const Insn* i) {
  enter(c, true);
  FpuState& f = c.s.fpu;
  const unsigned si = i->r0;
  if (empty(f, 0) || empty(f, si)) {
    set_cond(f, COND, FPU_C0 | FPU_C2 | FPU_C3);
    if (!stack_fault(f, false)) return done(c, i);
  } else {
    X87Call k;
    call_init(k, f, 2, 0);
    std::memcpy(k.in[0], st(f, 0), 10);
    std::memcpy(k.in[1], st(f, si), 10);
    const uint16_t sw = Unordered ? x87_exec(k, 0xDD, 0xE1) : x87_exec(k, 0xD8, 0xD1);
    set_cond(f, COND, sw);
    if (signal(f, sw)) return done(c, i);
  }
  for (unsigned n = 0; n < Pops; ++n) pop(f);
  return done(c, i);
}

// FCOM/FCOMP m32real/m64real (D8/DC), FICOM/FICOMP m32int/m16int (DA/DE).
template <unsigned N, bool Pop>
const Insn* com_mem(Cpu& c, const Insn* i) {
  enter(c, true);
  const uint32_t a = ea(c, i);
  uint8_t buf[16];
  read_mem(c, i->seg, a, buf, N);
  FpuState& f = c.s.fpu;
  if (empty(f, 0)) {
    set_cond(f, COND, FPU_C0 | FPU_C2 | FPU_C3);
    if (!stack_fault(f, false)) return done_mem(c, i, a);
  } else {
    X87Call k;
    call_init(k, f, 1, 0, buf);
    std::memcpy(k.in[0], st(f, 0), 10);
    const uint16_t sw = x87_exec(k, i->opcode, 2 << 3 | 7);
    set_cond(f, COND, sw);
    if (signal(f, sw)) return done_mem(c, i, a);
  }
  if (Pop) pop(f);
  return done_mem(c, i, a);
}

// FCOMI/FCOMIP/FUCOMI/FUCOMIP: the result goes to ZF, PF, CF (OF, SF, AF cleared).
template <bool Unordered, bool Pop>
const Insn* comi(Cpu& c, const Insn* i) {
  enter(c, true);
  FpuState& f = c.s.fpu;
  const unsigned si = i->r0;
  // EFLAGS get the result even when an unmasked exception suppresses the pop.
  if (empty(f, 0) || empty(f, si)) {
    set_arith(c, F_ZF | F_PF | F_CF);
    if (!stack_fault(f, false)) return done(c, i);
  } else {
    X87Call k;
    call_init(k, f, 2, 0);
    std::memcpy(k.in[0], st(f, 0), 10);
    std::memcpy(k.in[1], st(f, si), 10);
    const uint16_t sw = Unordered ? x87_exec(k, 0xDD, 0xE1) : x87_exec(k, 0xD8, 0xD1);
    set_arith(c, ((sw & FPU_C3) ? uint32_t{F_ZF} : 0u) | ((sw & FPU_C2) ? uint32_t{F_PF} : 0u) |
                     ((sw & FPU_C0) ? uint32_t{F_CF} : 0u));
    if (signal(f, sw)) return done(c, i);
  }
  if (Pop) pop(f);
  return done(c, i);
}

// FTST (host D9 E4) and FXAM (D9 E5): ST(0) alone, result in C0-C3.
const Insn* ftst(Cpu& c, const Insn* i) {
  enter(c, true);
  FpuState& f = c.s.fpu;
  if (empty(f, 0)) {
    set_cond(f, COND, FPU_C0 | FPU_C2 | FPU_C3);
    stack_fault(f, false);
    return done(c, i);
  }
  X87Call k;
  call_init(k, f, 1, 0);
  std::memcpy(k.in[0], st(f, 0), 10);
  const uint16_t sw = x87_exec(k, 0xD9, 0xE4);
  set_cond(f, COND, sw);
  signal(f, sw);
  return done(c, i);
}
const Insn* fxam(Cpu& c, const Insn* i) {
  enter(c, true);
  FpuState& f = c.s.fpu;
  const uint16_t sign = (st(f, 0)[9] & 0x80) ? FPU_C1 : 0;
  if (empty(f, 0)) {
    set_cond(f, COND, FPU_C3 | FPU_C0 | sign);
  } else {
    X87Call k;
    call_init(k, f, 1, 0);
    std::memcpy(k.in[0], st(f, 0), 10);
    set_cond(f, COND, x87_exec(k, 0xD9, 0xE5));
  }
  return done(c, i);
}

// ---- one-operand operations on ST(0) ----
// FSQRT FRNDINT F2XM1 (C1) and FSIN FCOS (C1, C2 = operand out of range). Host ModRM in imm.
template <uint16_t CondMask>
const Insn* unary_host(Cpu& c, const Insn* i) {
  enter(c, true);
  FpuState& f = c.s.fpu;
  if (empty(f, 0)) {
    set_cond(f, CondMask & FPU_C2, 0);
    if (stack_fault(f, false)) set_st(f, 0, INDEFINITE);
    return done(c, i);
  }
  X87Call k;
  call_init(k, f, 1, 1);
  std::memcpy(k.in[0], st(f, 0), 10);
  const uint16_t sw = x87_exec(k, 0xD9, static_cast<uint8_t>(i->imm));
  set_cond(f, CondMask, sw);
  if (!signal(f, sw)) set_st(f, 0, k.out[0]);
  return done(c, i);
}

// FCHS / FABS: sign-bit operations, no exceptions besides stack underflow; C1 = 0.
template <bool Abs>
const Insn* sign_op(Cpu& c, const Insn* i) {
  enter(c, true);
  FpuState& f = c.s.fpu;
  if (empty(f, 0)) {
    if (stack_fault(f, false)) set_st(f, 0, INDEFINITE);
    return done(c, i);
  }
  uint8_t* v = st(f, 0);
  v[9] = static_cast<uint8_t>(Abs ? (v[9] & 0x7F) : (v[9] ^ 0x80));
  set_cond(f, FPU_C1, 0);
  return done(c, i);
}

// FSCALE FPREM FPREM1 (result in ST(0)) and FYL2X FYL2XP1 FPATAN (result in ST(1), then pop).
template <bool ToSt1Pop, uint16_t CondMask>
const Insn* binary_host(Cpu& c, const Insn* i) {
  enter(c, true);
  FpuState& f = c.s.fpu;
  const unsigned dst = ToSt1Pop ? 1 : 0;
  if (empty(f, 0) || empty(f, 1)) {
    set_cond(f, CondMask & FPU_C2, 0);
    if (!stack_fault(f, false)) return done(c, i);
    set_st(f, dst, INDEFINITE);
  } else {
    X87Call k;
    call_init(k, f, 2, 1);
    std::memcpy(k.in[0], st(f, 0), 10);
    std::memcpy(k.in[1], st(f, 1), 10);
    // FPREM/FPREM1 leave C0/C3 alone for NaN operands: run with the guest's condition bits.
    const uint16_t sw = x87_exec(k, 0xD9, static_cast<uint8_t>(i->imm), CondMask == COND);
    set_cond(f, CondMask, sw);
    if (signal(f, sw)) return done(c, i);
    set_st(f, dst, k.out[0]);
  }
  if (ToSt1Pop) pop(f);
  return done(c, i);
}

// FXTRACT FPTAN FSINCOS: ST(0) <- one result, then push the other. FPTAN/FSINCOS leave everything
// unchanged with C2 = 1 when the operand is out of range.
template <bool CheckC2>
const Insn* split_host(Cpu& c, const Insn* i) {
  enter(c, true);
  FpuState& f = c.s.fpu;
  if (empty(f, 0) || !empty(f, 7)) {
    if (CheckC2) set_cond(f, FPU_C2, 0);
    if (!stack_fault(f, !empty(f, 0))) return done(c, i);
    set_st(f, 0, INDEFINITE);
    push(f, INDEFINITE);
    return done(c, i);
  }
  X87Call k;
  call_init(k, f, 1, 2);
  std::memcpy(k.in[0], st(f, 0), 10);
  const uint16_t sw = x87_exec(k, 0xD9, static_cast<uint8_t>(i->imm));
  set_cond(f, CheckC2 ? FPU_C1 | FPU_C2 : FPU_C1, sw);
  if (signal(f, sw)) return done(c, i);
  if (CheckC2 && (sw & FPU_C2)) return done(c, i);
  set_st(f, 0, k.out[1]);
  push(f, k.out[0]);
  return done(c, i);
}

// ---- loads ----
// Pushes a value: stack overflow when ST(7) is in use.
inline bool push_room(FpuState& f) {
  if (empty(f, 7)) return true;
  if (stack_fault(f, true)) push(f, INDEFINITE);
  return false;
}

// FLD m32real/m64real, FILD m16/m32/m64, FBLD: converted by the backend (same opcode, [mem]).
template <unsigned N>
const Insn* load_host(Cpu& c, const Insn* i) {
  enter(c, true);
  const uint32_t a = ea(c, i);
  uint8_t buf[16];
  read_mem(c, i->seg, a, buf, N);
  FpuState& f = c.s.fpu;
  if (push_room(f)) {
    X87Call k;
    call_init(k, f, 0, 1, buf);
    const uint16_t sw = x87_exec(k, i->opcode, static_cast<uint8_t>(i->aux << 3 | 7));
    set_cond(f, FPU_C1, sw);
    signal(f, sw);
    // A denormal m32/m64 operand (DE) still loads, even with DE unmasked; IE (SNaN) does not.
    if (!(sw & ~f.cw & FPU_IE)) push(f, k.out[0]);
  }
  return done_mem(c, i, a);
}

// FLD m80real: no conversion, no exceptions.
const Insn* fld_m80(Cpu& c, const Insn* i) {
  enter(c, true);
  const uint32_t a = ea(c, i);
  uint8_t buf[12];
  read_mem(c, i->seg, a, buf, 10);
  FpuState& f = c.s.fpu;
  if (push_room(f)) {
    set_cond(f, FPU_C1, 0);
    push(f, buf);
  }
  return done_mem(c, i, a);
}

// FLD ST(i).
const Insn* fld_st(Cpu& c, const Insn* i) {
  enter(c, true);
  FpuState& f = c.s.fpu;
  const unsigned si = i->r0;
  uint8_t v[10];
  std::memcpy(v, st(f, si), 10);
  if (empty(f, si)) {
    if (stack_fault(f, false)) push(f, INDEFINITE);
  } else if (push_room(f)) {
    set_cond(f, FPU_C1, 0);
    push(f, v);
  }
  return done(c, i);
}

// FLD1 FLDL2T FLDL2E FLDPI FLDLG2 FLDLN2 FLDZ (rounded per RC by the backend; host ModRM in imm).
const Insn* fld_const(Cpu& c, const Insn* i) {
  enter(c, true);
  FpuState& f = c.s.fpu;
  if (push_room(f)) {
    X87Call k;
    call_init(k, f, 0, 1);
    const uint16_t sw = x87_exec(k, 0xD9, static_cast<uint8_t>(i->imm));
    set_cond(f, FPU_C1, sw);
    if (!signal(f, sw)) push(f, k.out[0]);
  }
  return done(c, i);
}

// ---- stores ----
// FST/FSTP m32real/m64real, FIST/FISTP m16int/m32int, FISTP m64int, FBSTP. The backend runs
// HostOp /HostReg (a non-popping form where one exists; HostPops for FISTP m64 and FBSTP).
template <unsigned N, bool Pop, uint8_t HostOp, uint8_t HostReg, bool HostPops>
const Insn* store_host(Cpu& c, const Insn* i) {
  enter(c, true);
  const uint32_t a = ea(c, i);
  FpuState& f = c.s.fpu;
  const bool underflow = empty(f, 0);
  uint8_t buf[16];
  X87Call k;
  call_init(k, f, 1, HostPops ? 0 : 1, buf);
  std::memcpy(k.in[0], underflow ? INDEFINITE : st(f, 0), 10);
  const uint16_t sw = x87_exec(k, HostOp, HostReg << 3 | 7);
  const uint16_t exc = underflow ? uint16_t{FPU_IE | FPU_SF} : static_cast<uint16_t>(sw & (FPU_EXC | FPU_SF));
  const bool store = !(exc & ~f.cw & (FPU_IE | FPU_DE | FPU_ZE | FPU_OE | FPU_UE));
  if (store) write_mem(c, i->seg, a, buf, N);  // may fault: nothing changed yet
  set_cond(f, FPU_C1, underflow ? 0 : sw);
  signal(f, exc);
  if (store && Pop) pop(f);
  return done_mem(c, i, a);
}

// FSTP m80real: the register as it is.
const Insn* fstp_m80(Cpu& c, const Insn* i) {
  enter(c, true);
  const uint32_t a = ea(c, i);
  FpuState& f = c.s.fpu;
  const bool underflow = empty(f, 0);
  if (underflow && !(f.cw & FPU_IE)) {
    stack_fault(f, false);
    return done_mem(c, i, a);
  }
  write_mem(c, i->seg, a, underflow ? INDEFINITE : st(f, 0), 10);
  if (underflow) stack_fault(f, false);
  else set_cond(f, FPU_C1, 0);
  pop(f);
  return done_mem(c, i, a);
}

// FST/FSTP ST(i).
template <bool Pop>
const Insn* fst_st(Cpu& c, const Insn* i) {
  enter(c, true);
  FpuState& f = c.s.fpu;
  if (empty(f, 0)) {
    if (!stack_fault(f, false)) return done(c, i);
    set_st(f, i->r0, INDEFINITE);
  } else {
    set_cond(f, FPU_C1, 0);
    uint8_t v[10];
    std::memcpy(v, st(f, 0), 10);
    set_st(f, i->r0, v);
  }
  if (Pop) pop(f);
  return done(c, i);
}

// FSTP1 (D9 D8+i, "FSTPNCE"): FSTP ST(i) without the stack-underflow check; an empty ST(0) is
// just popped.
const Insn* fstp_nce(Cpu& c, const Insn* i) {
  enter(c, true);
  FpuState& f = c.s.fpu;
  if (!empty(f, 0)) {
    uint8_t v[10];
    std::memcpy(v, st(f, 0), 10);
    set_st(f, i->r0, v);
  }
  set_cond(f, FPU_C1, 0);
  pop(f);
  return done(c, i);
}

// ---- register stack ----
const Insn* fxch(Cpu& c, const Insn* i) {
  enter(c, true);
  FpuState& f = c.s.fpu;
  const unsigned si = i->r0;
  if (empty(f, 0) || empty(f, si)) {
    if (!stack_fault(f, false)) return done(c, i);
    if (empty(f, 0)) set_st(f, 0, INDEFINITE);
    if (empty(f, si)) set_st(f, si, INDEFINITE);
  } else {
    set_cond(f, FPU_C1, 0);
  }
  uint8_t t[10];
  std::memcpy(t, st(f, 0), 10);
  std::memcpy(st(f, 0), st(f, si), 10);
  std::memcpy(st(f, si), t, 10);
  return done(c, i);
}

// FCMOVcc ST(0), ST(i): cc 0 B, 1 E, 2 BE, 3 U; Neg for the DB forms (NB NE NBE NU).
template <unsigned Cc, bool Neg>
const Insn* fcmov(Cpu& c, const Insn* i) {
  enter(c, true);
  FpuState& f = c.s.fpu;
  const unsigned si = i->r0;
  if (empty(f, 0) || empty(f, si)) {
    if (stack_fault(f, false)) set_st(f, 0, INDEFINITE);
    return done(c, i);
  }
  const uint32_t fl = c.s.eflags;
  bool t = Cc == 0 ? (fl & F_CF) : Cc == 1 ? (fl & F_ZF) : Cc == 2 ? (fl & (F_CF | F_ZF)) : (fl & F_PF);
  if (t != Neg) {
    uint8_t v[10];
    std::memcpy(v, st(f, si), 10);
    set_st(f, 0, v);
  }
  return done(c, i);
}

template <bool Pop>
const Insn* ffree(Cpu& c, const Insn* i) {
  enter(c, true);
  FpuState& f = c.s.fpu;
  f.tags = static_cast<uint8_t>(f.tags & ~(1u << phys(f, i->r0)));
  set_cond(f, FPU_C1, 0);
  if (Pop) pop(f);
  return done(c, i);
}

template <int Delta>
const Insn* fstp_move(Cpu& c, const Insn* i) {  // FINCSTP / FDECSTP
  enter(c, true);
  FpuState& f = c.s.fpu;
  set_top(f, static_cast<unsigned>(static_cast<int>(top(f)) + Delta));
  set_cond(f, FPU_C1, 0);
  return done(c, i);
}

const Insn* fnop(Cpu& c, const Insn* i) {
  enter(c, true);
  return done(c, i);
}
// FENI/FDISI/FSETPM (8087/287 leftovers): no operation on the 387 and later.
const Insn* fnop_legacy(Cpu& c, const Insn* i) {
  enter(c, false);
  return next(c, i);
}

// ---- opcode-level decoding of D8-DF ----
Handler mem_arith_group(unsigned reg, unsigned n) {
  // reg: 0 ADD 1 MUL 2 COM 3 COMP 4 SUB 5 SUBR 6 DIV 7 DIVR
  if (reg == 2 || reg == 3) {
    switch (n) {
      case 2: return reg == 2 ? &com_mem<2, false> : &com_mem<2, true>;
      case 4: return reg == 2 ? &com_mem<4, false> : &com_mem<4, true>;
      default: return reg == 2 ? &com_mem<8, false> : &com_mem<8, true>;
    }
  }
  return n == 2 ? &arith_mem<2> : n == 4 ? &arith_mem<4> : &arith_mem<8>;
}

Handler select_mem(Insn& in, uint8_t op, unsigned reg) {
  switch (op) {
    case 0xD8: return mem_arith_group(reg, 4);
    case 0xDC: return mem_arith_group(reg, 8);
    case 0xDA: return mem_arith_group(reg, 4);
    case 0xDE: return mem_arith_group(reg, 2);
    case 0xD9:
      switch (reg) {
        case 0: return &load_host<4>;
        case 2: return &store_host<4, false, 0xD9, 2, false>;
        case 3: return &store_host<4, true, 0xD9, 2, false>;
        case 4: return fpu_fldenv_handler(in);
        case 5: return fpu_fldcw_handler();
        case 6: return fpu_fnstenv_handler(in);
        case 7: return fpu_fnstcw_handler();
        default: return nullptr;
      }
    case 0xDB:
      switch (reg) {
        case 0: return &load_host<4>;
        case 2: return &store_host<4, false, 0xDB, 2, false>;
        case 3: return &store_host<4, true, 0xDB, 2, false>;
        case 5: return &fld_m80;
        case 7: return &fstp_m80;
        default: return nullptr;  // 1: FISTTP (SSE3)
      }
    case 0xDD:
      switch (reg) {
        case 0: return &load_host<8>;
        case 2: return &store_host<8, false, 0xDD, 2, false>;
        case 3: return &store_host<8, true, 0xDD, 2, false>;
        case 4: return fpu_frstor_handler(in);
        case 6: return fpu_fnsave_handler(in);
        case 7: return fpu_fnstsw_m16_handler();
        default: return nullptr;
      }
    case 0xDF:
      switch (reg) {
        case 0: return &load_host<2>;
        case 2: return &store_host<2, false, 0xDF, 2, false>;
        case 3: return &store_host<2, true, 0xDF, 2, false>;
        case 4: return &load_host<10>;  // FBLD
        case 5: return &load_host<8>;   // FILD m64
        case 6: return &store_host<10, true, 0xDF, 6, true>;  // FBSTP
        case 7: return &store_host<8, true, 0xDF, 7, true>;   // FISTP m64
        default: return nullptr;
      }
    default: return nullptr;
  }
}

Handler select_reg(Insn& in, uint8_t op, unsigned reg, unsigned rm) {
  const uint8_t modrm = static_cast<uint8_t>(0xC0 | reg << 3 | rm);
  in.imm = modrm;  // the host ModRM for the D9 single-byte operations (same encoding)
  switch (op) {
    case 0xD8:
      if (reg == 2) return &com_reg<false, 0>;
      if (reg == 3) return &com_reg<false, 1>;
      return &arith_reg<false, false>;
    case 0xDC:
      if (reg == 2) return &com_reg<false, 0>;  // undocumented aliases of D8 D0/D8
      if (reg == 3) return &com_reg<false, 1>;
      return &arith_reg<true, false>;
    case 0xDE:
      if (reg == 2) return &com_reg<false, 1>;
      if (reg == 3) return rm == 1 ? &com_reg<false, 2> : nullptr;
      return &arith_reg<true, true>;
    case 0xD9:
      switch (reg) {
        case 0: return &fld_st;
        case 1: return &fxch;
        case 2: return rm == 0 ? &fnop : nullptr;
        case 3: return &fstp_nce;
        case 4:
          switch (rm) {
            case 0: return &sign_op<false>;
            case 1: return &sign_op<true>;
            case 4: return &ftst;
            case 5: return &fxam;
            default: return nullptr;
          }
        case 5: return rm == 7 ? nullptr : &fld_const;
        case 6:
          switch (rm) {
            case 0: return &unary_host<FPU_C1>;            // F2XM1
            case 1: return &binary_host<true, FPU_C1>;     // FYL2X
            case 2: return &split_host<true>;              // FPTAN
            case 3: return &binary_host<true, FPU_C1>;     // FPATAN
            case 4: return &split_host<false>;             // FXTRACT
            case 5: return &binary_host<false, COND>;      // FPREM1
            case 6: return &fstp_move<-1>;                 // FDECSTP
            default: return &fstp_move<1>;                 // FINCSTP
          }
        default:
          switch (rm) {
            case 0: return &binary_host<false, COND>;      // FPREM
            case 1: return &binary_host<true, FPU_C1>;     // FYL2XP1
            case 2: return &unary_host<FPU_C1>;            // FSQRT
            case 3: return &split_host<true>;              // FSINCOS
            case 4: return &unary_host<FPU_C1>;            // FRNDINT
            case 5: return &binary_host<false, FPU_C1>;    // FSCALE
            default: return &unary_host<FPU_C1 | FPU_C2>;  // FSIN FCOS
          }
      }
    case 0xDA:
      switch (reg) {
        case 0: return &fcmov<0, false>;
        case 1: return &fcmov<1, false>;
        case 2: return &fcmov<2, false>;
        case 3: return &fcmov<3, false>;
        case 5: return rm == 1 ? &com_reg<true, 2> : nullptr;  // FUCOMPP
        default: return nullptr;
      }
    case 0xDB:
      switch (reg) {
        case 0: return &fcmov<0, true>;
        case 1: return &fcmov<1, true>;
        case 2: return &fcmov<2, true>;
        case 3: return &fcmov<3, true>;
        case 4:
          switch (rm) {
            case 0: case 1: case 4: return &fnop_legacy;
            case 2: return fpu_fnclex_handler();
            case 3: return fpu_fninit_handler();
            default: return nullptr;
          }
        case 5: return &comi<true, false>;
        case 6: return &comi<false, false>;
        default: return nullptr;
      }
    case 0xDD:
      switch (reg) {
        case 0: return &ffree<false>;
        case 1: return &fxch;
        case 2: return &fst_st<false>;
        case 3: return &fst_st<true>;
        case 4: return &com_reg<true, 0>;
        case 5: return &com_reg<true, 1>;
        default: return nullptr;
      }
    case 0xDF:
      switch (reg) {
        case 0: return &ffree<true>;  // FFREEP
        case 1: return &fxch;
        case 2: case 3: return &fst_st<true>;
        case 4: return rm == 0 ? fpu_fnstsw_ax_handler() : nullptr;
        case 5: return &comi<true, true>;
        case 6: return &comi<false, true>;
        default: return nullptr;
      }
    default: return nullptr;
  }
}

Handler select_x87(DecodeCtx& x) {
  const ZydisDecodedInstruction& zi = x.zi;
  const uint8_t op = zi.opcode;
  if (zi.opcode_map != ZYDIS_OPCODE_MAP_DEFAULT || op < 0xD8 || op > 0xDF) return nullptr;
  const unsigned mod = zi.raw.modrm.mod, reg = zi.raw.modrm.reg, rm = zi.raw.modrm.rm;
  Insn& in = x.insn;
  in.imm2 = static_cast<uint16_t>((op & 7u) << 8 | mod << 6 | reg << 3 | rm);  // FOP
  in.aux = static_cast<uint8_t>(reg);
  in.r0 = static_cast<uint16_t>(rm);
  in.opcode = op;
  if (mod != 3) {
    in.imm = x.size[0];  // memory operand size in bytes (environment/save formats)
    return select_mem(in, op, reg);
  }
  return select_reg(in, op, reg, rm);
}

}  // namespace

void register_fpu(SelectorTable& t) {
  static constexpr ZydisMnemonic x87[] = {
      ZYDIS_MNEMONIC_F2XM1,   ZYDIS_MNEMONIC_FABS,    ZYDIS_MNEMONIC_FADD,          ZYDIS_MNEMONIC_FADDP,
      ZYDIS_MNEMONIC_FBLD,    ZYDIS_MNEMONIC_FBSTP,   ZYDIS_MNEMONIC_FCHS,          ZYDIS_MNEMONIC_FCMOVB,
      ZYDIS_MNEMONIC_FCMOVBE, ZYDIS_MNEMONIC_FCMOVE,  ZYDIS_MNEMONIC_FCMOVNB,       ZYDIS_MNEMONIC_FCMOVNBE,
      ZYDIS_MNEMONIC_FCMOVNE, ZYDIS_MNEMONIC_FCMOVNU, ZYDIS_MNEMONIC_FCMOVU,        ZYDIS_MNEMONIC_FCOM,
      ZYDIS_MNEMONIC_FCOMI,   ZYDIS_MNEMONIC_FCOMIP,  ZYDIS_MNEMONIC_FCOMP,         ZYDIS_MNEMONIC_FCOMPP,
      ZYDIS_MNEMONIC_FCOS,    ZYDIS_MNEMONIC_FDECSTP, ZYDIS_MNEMONIC_FDISI8087_NOP, ZYDIS_MNEMONIC_FDIV,
      ZYDIS_MNEMONIC_FDIVP,   ZYDIS_MNEMONIC_FDIVR,   ZYDIS_MNEMONIC_FDIVRP,        ZYDIS_MNEMONIC_FENI8087_NOP,
      ZYDIS_MNEMONIC_FFREE,   ZYDIS_MNEMONIC_FFREEP,  ZYDIS_MNEMONIC_FIADD,         ZYDIS_MNEMONIC_FICOM,
      ZYDIS_MNEMONIC_FICOMP,  ZYDIS_MNEMONIC_FIDIV,   ZYDIS_MNEMONIC_FIDIVR,        ZYDIS_MNEMONIC_FILD,
      ZYDIS_MNEMONIC_FIMUL,   ZYDIS_MNEMONIC_FINCSTP, ZYDIS_MNEMONIC_FIST,          ZYDIS_MNEMONIC_FISTP,
      ZYDIS_MNEMONIC_FISUB,   ZYDIS_MNEMONIC_FISUBR,  ZYDIS_MNEMONIC_FLD,           ZYDIS_MNEMONIC_FLD1,
      ZYDIS_MNEMONIC_FLDCW,   ZYDIS_MNEMONIC_FLDENV,  ZYDIS_MNEMONIC_FLDL2E,        ZYDIS_MNEMONIC_FLDL2T,
      ZYDIS_MNEMONIC_FLDLG2,  ZYDIS_MNEMONIC_FLDLN2,  ZYDIS_MNEMONIC_FLDPI,         ZYDIS_MNEMONIC_FLDZ,
      ZYDIS_MNEMONIC_FMUL,    ZYDIS_MNEMONIC_FMULP,   ZYDIS_MNEMONIC_FNCLEX,        ZYDIS_MNEMONIC_FNINIT,
      ZYDIS_MNEMONIC_FNOP,    ZYDIS_MNEMONIC_FNSAVE,  ZYDIS_MNEMONIC_FNSTCW,        ZYDIS_MNEMONIC_FNSTENV,
      ZYDIS_MNEMONIC_FNSTSW,  ZYDIS_MNEMONIC_FPATAN,  ZYDIS_MNEMONIC_FPREM,         ZYDIS_MNEMONIC_FPREM1,
      ZYDIS_MNEMONIC_FPTAN,   ZYDIS_MNEMONIC_FRNDINT, ZYDIS_MNEMONIC_FRSTOR,        ZYDIS_MNEMONIC_FSCALE,
      ZYDIS_MNEMONIC_FSETPM287_NOP, ZYDIS_MNEMONIC_FSIN, ZYDIS_MNEMONIC_FSINCOS,    ZYDIS_MNEMONIC_FSQRT,
      ZYDIS_MNEMONIC_FST,     ZYDIS_MNEMONIC_FSTP,    ZYDIS_MNEMONIC_FSTPNCE,       ZYDIS_MNEMONIC_FSUB,
      ZYDIS_MNEMONIC_FSUBP,   ZYDIS_MNEMONIC_FSUBR,   ZYDIS_MNEMONIC_FSUBRP,        ZYDIS_MNEMONIC_FTST,
      ZYDIS_MNEMONIC_FUCOM,   ZYDIS_MNEMONIC_FUCOMI,  ZYDIS_MNEMONIC_FUCOMIP,       ZYDIS_MNEMONIC_FUCOMP,
      ZYDIS_MNEMONIC_FUCOMPP, ZYDIS_MNEMONIC_FXAM,    ZYDIS_MNEMONIC_FXCH,          ZYDIS_MNEMONIC_FXTRACT,
      ZYDIS_MNEMONIC_FYL2X,   ZYDIS_MNEMONIC_FYL2XP1,
  };
  for (ZydisMnemonic m : x87) t[m] = select_x87;
  register_fpu_control(t);
}

}  // namespace vx86
