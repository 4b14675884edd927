// Control transfer: JMP, Jcc, JCXZ/JECXZ, LOOP/LOOPE/LOOPNE, CALL, RET, far forms, INT/INTO/INT3,
// INT1, IRET.
//
// Real and virtual-8086 mode far forms load CS as selector << 4 here; protected mode goes through
// emu/segmentation.cpp (gates, TSSs, privilege checks). Every target is
// checked against the CS limit before anything changes (#GP(0)), and every stack access happens
// before ESP, CS or EIP change, so a fault leaves the instruction restartable.
#include "emu/interp/common.h"
#include "emu/segmentation.h"

namespace vx86 {
namespace {

// Relative targets wrap at the operand size (16-bit IP in 16-bit code).
inline uint32_t rel_target(const Cpu& c, const Insn* i) {
  uint32_t t = next_eip(c, i) + i->imm;
  return i->opsize == 2 ? (t & 0xFFFF) : t;
}

inline void check_cs_limit(const Cpu& c, uint32_t eip) {
  if (eip > c.s.seg[CS].limit) [[unlikely]] raise_fault(VEC_GP, 0);
}

// Ends the block at a new EIP inside the current code segment.
inline const Insn* branch(Cpu& c, uint32_t eip) {
  check_cs_limit(c, eip);
  return jump_to(c, eip);
}

// Offsets of stack slots below / above the current top, wrapped by the stack size.
inline uint32_t stack_slot(const Cpu& c, unsigned bytes) { return (c.s.regs[ESP] - bytes) & c.s.sp_mask; }
inline uint32_t stack_top(const Cpu& c, unsigned bytes_above) {
  return (c.s.regs[ESP] + bytes_above) & c.s.sp_mask;
}

// ---- JMP ----
const Insn* jmp_rel(Cpu& c, const Insn* i) { return branch(c, rel_target(c, i)); }

template <class T, class Src>
const Insn* jmp_near_indirect(Cpu& c, const Insn* i) {
  uint32_t t = Src::template get<T>(c, i, op_addr<Src>(c, i));
  return branch(c, t);
}

// JMP ptr16:16 / ptr16:32: offset in imm, selector in imm2.
// The far JMP itself, once selector and offset are known (from the instruction or from memory).
const Insn* far_jmp_to(Cpu& c, const Insn* i, uint16_t sel, uint32_t t) {
  if (c.protected_mode()) {
    far_jmp(c, sel, t, next_eip(c, i));
    return nullptr;
  }
  check_cs_limit(c, t);
  c.load_seg_real(CS, sel);
  return jump_to(c, t);
}

const Insn* jmp_far_ptr(Cpu& c, const Insn* i) {
  return far_jmp_to(c, i, i->imm2, i->opsize == 2 ? (i->imm & 0xFFFF) : i->imm);
}

// JMP m16:16 / m16:32: offset first, selector after it.
template <class T>
const Insn* jmp_far_mem(Cpu& c, const Insn* i) {
  uint32_t a = ea(c, i);
  uint32_t t = c.read<T>(i->seg, a);
  uint16_t sel = c.read<uint16_t>(i->seg, a + sizeof(T));
  return far_jmp_to(c, i, sel, t);
}

Handler select_jmp(DecodeCtx& x) {
  if (x.kind[0] == OpKind::Imm && x.ops[0].imm.is_relative) return &jmp_rel;
  if (x.kind[0] == OpKind::Ptr) return &jmp_far_ptr;
  const bool far = x.zi.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR;
  if (far) {
    if (x.kind[0] != OpKind::Mem) return nullptr;
    return x.zi.operand_width == 32 ? &jmp_far_mem<uint32_t> : &jmp_far_mem<uint16_t>;
  }
  if (x.kind[0] == OpKind::Reg)
    return x.size[0] == 4 ? &jmp_near_indirect<uint32_t, OpR0> : &jmp_near_indirect<uint16_t, OpR0>;
  if (x.kind[0] == OpKind::Mem)
    return x.size[0] == 4 ? &jmp_near_indirect<uint32_t, OpM> : &jmp_near_indirect<uint16_t, OpM>;
  return nullptr;
}

// ---- Jcc, JCXZ, LOOP ----
const Insn* jcc(Cpu& c, const Insn* i) {
  return cond(c, i->aux) ? branch(c, rel_target(c, i)) : jump_to(c, next_eip(c, i));
}

template <unsigned CC>
Handler select_jcc(DecodeCtx& x) {
  x.insn.aux = CC;
  return &jcc;
}

// JCXZ / JECXZ: the address size selects CX or ECX (Insn::amask).
const Insn* jcxz(Cpu& c, const Insn* i) {
  return (c.s.regs[ECX] & i->amask) == 0 ? branch(c, rel_target(c, i)) : jump_to(c, next_eip(c, i));
}

enum LoopKind : uint8_t { LOOP_ALWAYS, LOOP_E, LOOP_NE };

// LOOP/LOOPE/LOOPNE: decrement CX or ECX (address size) without touching flags, then branch if
// the count is not zero and the ZF condition holds. The target is checked before ECX changes.
template <LoopKind K>
const Insn* loop(Cpu& c, const Insn* i) {
  const uint32_t m = i->amask;
  const uint32_t count = (c.s.regs[ECX] - 1) & m;
  bool taken = count != 0;
  if constexpr (K == LOOP_E) taken = taken && (c.s.eflags & F_ZF);
  if constexpr (K == LOOP_NE) taken = taken && !(c.s.eflags & F_ZF);
  uint32_t t = taken ? rel_target(c, i) : next_eip(c, i);
  if (taken) check_cs_limit(c, t);
  c.s.regs[ECX] = (c.s.regs[ECX] & ~m) | count;
  return jump_to(c, t);
}

template <LoopKind K>
Handler select_loop(DecodeCtx&) { return &loop<K>; }
Handler select_jcxz(DecodeCtx&) { return &jcxz; }

// ---- CALL ----
template <class T>
const Insn* call_rel(Cpu& c, const Insn* i) {
  uint32_t t = rel_target(c, i);
  check_cs_limit(c, t);
  c.push<T>(static_cast<T>(next_eip(c, i)));
  return jump_to(c, t);
}

template <class T, class Src>
const Insn* call_near_indirect(Cpu& c, const Insn* i) {
  uint32_t t = Src::template get<T>(c, i, op_addr<Src>(c, i));
  check_cs_limit(c, t);
  c.push<T>(static_cast<T>(next_eip(c, i)));
  return jump_to(c, t);
}

// Pushes CS then the return offset, both before ESP moves.
template <class T>
inline void push_far_return(Cpu& c, uint32_t ret) {
  uint32_t p1 = stack_slot(c, sizeof(T));
  uint32_t p2 = stack_slot(c, 2 * sizeof(T));
  // A 32-bit far call writes only the selector's 16 bits into its 4-byte slot, as P6 does (the
  // read-modify-write keeps the upper half and checks the whole slot against the limit).
  if constexpr (sizeof(T) == 4) c.write<uint32_t>(SS, p1, (c.read<uint32_t>(SS, p1) & 0xFFFF0000u) | c.s.seg[CS].sel);
  else c.write<uint16_t>(SS, p1, c.s.seg[CS].sel);
  c.write<T>(SS, p2, static_cast<T>(ret));
  c.set_sp(p2);
}

// The far CALL itself, once selector and offset are known (from the instruction or from memory).
template <class T>
const Insn* far_call_to(Cpu& c, const Insn* i, uint16_t sel, uint32_t t) {
  if (c.protected_mode()) {
    far_call(c, sel, t, sizeof(T), next_eip(c, i));
    return nullptr;
  }
  check_cs_limit(c, t);
  push_far_return<T>(c, next_eip(c, i));
  c.load_seg_real(CS, sel);
  return jump_to(c, t);
}

template <class T>
const Insn* call_far_ptr(Cpu& c, const Insn* i) {
  return far_call_to<T>(c, i, i->imm2, sizeof(T) == 2 ? (i->imm & 0xFFFF) : i->imm);
}

template <class T>
const Insn* call_far_mem(Cpu& c, const Insn* i) {
  uint32_t a = ea(c, i);
  uint32_t t = c.read<T>(i->seg, a);
  uint16_t sel = c.read<uint16_t>(i->seg, a + sizeof(T));
  return far_call_to<T>(c, i, sel, t);
}

Handler select_call(DecodeCtx& x) {
  const bool o32 = x.zi.operand_width == 32;
  if (x.kind[0] == OpKind::Imm && x.ops[0].imm.is_relative)
    return o32 ? &call_rel<uint32_t> : &call_rel<uint16_t>;
  if (x.kind[0] == OpKind::Ptr) return o32 ? &call_far_ptr<uint32_t> : &call_far_ptr<uint16_t>;
  if (x.zi.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR) {
    if (x.kind[0] != OpKind::Mem) return nullptr;
    return o32 ? &call_far_mem<uint32_t> : &call_far_mem<uint16_t>;
  }
  if (x.kind[0] == OpKind::Reg)
    return o32 ? &call_near_indirect<uint32_t, OpR0> : &call_near_indirect<uint16_t, OpR0>;
  if (x.kind[0] == OpKind::Mem)
    return o32 ? &call_near_indirect<uint32_t, OpM> : &call_near_indirect<uint16_t, OpM>;
  return nullptr;
}

// ---- RET / RETF (imm16 in Insn::imm, 0 without it) ----
template <class T>
const Insn* ret_near(Cpu& c, const Insn* i) {
  uint32_t sp = c.s.regs[ESP] & c.s.sp_mask;
  uint32_t t = c.read<T>(SS, sp);
  check_cs_limit(c, t);
  c.set_sp(sp + sizeof(T) + (i->imm & 0xFFFF));
  return jump_to(c, t);
}

template <class T>
const Insn* ret_far(Cpu& c, const Insn* i) {
  if (c.protected_mode()) {
    far_ret(c, sizeof(T), static_cast<uint16_t>(i->imm));
    return nullptr;
  }
  uint32_t sp = c.s.regs[ESP] & c.s.sp_mask;
  uint32_t t = c.read<T>(SS, sp);
  uint16_t sel = static_cast<uint16_t>(c.read<T>(SS, stack_top(c, sizeof(T))));
  check_cs_limit(c, t);
  c.set_sp(sp + 2 * sizeof(T) + (i->imm & 0xFFFF));
  c.load_seg_real(CS, sel);
  return jump_to(c, t);
}

Handler select_ret(DecodeCtx& x) {
  const bool o32 = x.zi.operand_width == 32;
  if (x.zi.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR) return o32 ? &ret_far<uint32_t> : &ret_far<uint16_t>;
  return o32 ? &ret_near<uint32_t> : &ret_near<uint16_t>;
}

// ---- INT n / INT3 / INTO / INT1 ----
const Insn* int_n(Cpu& c, const Insn* i) {
  if (c.v86() && c.iopl() != 3) raise_fault(VEC_GP, 0);  // IOPL-sensitive in virtual-8086 mode
  c.software_interrupt(static_cast<uint8_t>(i->imm), next_eip(c, i));
  return nullptr;
}
const Insn* int3(Cpu& c, const Insn* i) {
  c.software_interrupt(VEC_BP, next_eip(c, i));
  return nullptr;
}
const Insn* into(Cpu& c, const Insn* i) {
  if (c.s.eflags & F_OF) {
    c.software_interrupt(VEC_OF, next_eip(c, i));
    return nullptr;
  }
  return jump_to(c, next_eip(c, i));
}
// ICEBP (F1): a #DB trap with the next instruction's address. In protected mode it is not a
// software interrupt for the gate DPL check; real mode makes no difference.
const Insn* int1(Cpu& c, const Insn* i) {
  c.icebp(next_eip(c, i));
  return nullptr;
}

Handler select_int(DecodeCtx&) { return &int_n; }
Handler select_int3(DecodeCtx&) { return &int3; }
Handler select_into(DecodeCtx&) { return &into; }
Handler select_int1(DecodeCtx&) { return &int1; }

// ---- IRET / IRETD (real mode) ----
// IRET pops IP, CS and FLAGS (16 bits each); IRETD pops EIP, CS and EFLAGS (32 bits each) and
// keeps VM, VIF and VIP. Reading all three before changing anything keeps a fault precise.
template <class T>
const Insn* iret(Cpu& c, const Insn* i) {
  if (c.pe()) {
    iret_pm(c, sizeof(T), next_eip(c, i));
    return nullptr;
  }
  c.nmi_iret();
  uint32_t sp = c.s.regs[ESP] & c.s.sp_mask;
  uint32_t t = c.read<T>(SS, sp);
  uint16_t sel = static_cast<uint16_t>(c.read<T>(SS, stack_top(c, sizeof(T))));
  uint32_t fl = c.read<T>(SS, stack_top(c, 2 * sizeof(T)));
  check_cs_limit(c, t);
  c.set_sp(sp + 3 * sizeof(T));
  c.load_seg_real(CS, sel);
  if constexpr (sizeof(T) == 4) {
    c.set_flags(fl, 0x257FD5u);
  } else {
    c.set_flags(fl, 0xFFFFu);
  }
  return jump_to(c, t);
}

Handler select_iret(DecodeCtx& x) {
  return x.zi.operand_width == 32 ? &iret<uint32_t> : &iret<uint16_t>;
}

}  // namespace

void register_control(SelectorTable& t) {
  t[ZYDIS_MNEMONIC_JMP] = select_jmp;
  t[ZYDIS_MNEMONIC_JO] = select_jcc<0>;
  t[ZYDIS_MNEMONIC_JNO] = select_jcc<1>;
  t[ZYDIS_MNEMONIC_JB] = select_jcc<2>;
  t[ZYDIS_MNEMONIC_JNB] = select_jcc<3>;
  t[ZYDIS_MNEMONIC_JZ] = select_jcc<4>;
  t[ZYDIS_MNEMONIC_JNZ] = select_jcc<5>;
  t[ZYDIS_MNEMONIC_JBE] = select_jcc<6>;
  t[ZYDIS_MNEMONIC_JNBE] = select_jcc<7>;
  t[ZYDIS_MNEMONIC_JS] = select_jcc<8>;
  t[ZYDIS_MNEMONIC_JNS] = select_jcc<9>;
  t[ZYDIS_MNEMONIC_JP] = select_jcc<10>;
  t[ZYDIS_MNEMONIC_JNP] = select_jcc<11>;
  t[ZYDIS_MNEMONIC_JL] = select_jcc<12>;
  t[ZYDIS_MNEMONIC_JNL] = select_jcc<13>;
  t[ZYDIS_MNEMONIC_JLE] = select_jcc<14>;
  t[ZYDIS_MNEMONIC_JNLE] = select_jcc<15>;
  t[ZYDIS_MNEMONIC_JCXZ] = select_jcxz;
  t[ZYDIS_MNEMONIC_JECXZ] = select_jcxz;
  t[ZYDIS_MNEMONIC_LOOP] = select_loop<LOOP_ALWAYS>;
  t[ZYDIS_MNEMONIC_LOOPE] = select_loop<LOOP_E>;
  t[ZYDIS_MNEMONIC_LOOPNE] = select_loop<LOOP_NE>;
  t[ZYDIS_MNEMONIC_CALL] = select_call;
  t[ZYDIS_MNEMONIC_RET] = select_ret;
  t[ZYDIS_MNEMONIC_INT] = select_int;
  t[ZYDIS_MNEMONIC_INT3] = select_int3;
  t[ZYDIS_MNEMONIC_INTO] = select_into;
  t[ZYDIS_MNEMONIC_INT1] = select_int1;
  t[ZYDIS_MNEMONIC_IRET] = select_iret;
  t[ZYDIS_MNEMONIC_IRETD] = select_iret;
}

}  // namespace vx86
