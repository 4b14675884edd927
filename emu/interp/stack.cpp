// Stack: PUSH/POP (register, memory, immediate, segment register), PUSHA/POPA, PUSHF/POPF,
// ENTER/LEAVE. The stack width comes from SS.B (Cpu::sp_mask); the operand size from the
// instruction. Multi-slot operations write or read every slot before ESP moves, so a stack fault
// leaves the registers as they were.
#include "emu/interp/common.h"
#include "emu/segmentation.h"

namespace vx86 {
namespace {

inline uint32_t below_top(const Cpu& c, uint32_t bytes) { return (c.s.regs[ESP] - bytes) & c.s.sp_mask; }
inline uint32_t above_top(const Cpu& c, uint32_t bytes) { return (c.s.regs[ESP] + bytes) & c.s.sp_mask; }

// ---- PUSH ----
template <class T, class Src>
const Insn* push(Cpu& c, const Insn* i) {
  c.push<T>(Src::template get<T>(c, i, op_addr<Src>(c, i)));
  return next(c, i);
}

// PUSH SP/ESP: 286 and later push the value before the decrement; the 8086 pushes the new one.
template <class T>
const Insn* push_sp(Cpu& c, const Insn* i) {
  T v = static_cast<T>(c.s.regs[ESP]);
  if (c.s.model == CpuModel::i8086) [[unlikely]] v = static_cast<T>(v - sizeof(T));
  c.push<T>(v);
  return next(c, i);
}

// PUSH Sreg: a 32-bit push moves ESP by 4 and writes only the 16-bit selector (P6 behaviour).
template <class T>
const Insn* push_sreg(Cpu& c, const Insn* i) {
  uint32_t sp = below_top(c, sizeof(T));
  const uint16_t sel = c.s.seg[i->r0].sel;
  // The read-modify-write keeps the upper half and checks the whole 4-byte slot.
  if constexpr (sizeof(T) == 4) c.write<uint32_t>(SS, sp, (c.read<uint32_t>(SS, sp) & 0xFFFF0000u) | sel);
  else c.write<uint16_t>(SS, sp, sel);
  c.set_sp(sp);
  return next(c, i);
}

Handler select_push(DecodeCtx& x) {
  const bool o32 = x.zi.operand_width == 32;
  unsigned sreg;
  if (x.is_sreg(0, &sreg)) {
    x.insn.r0 = static_cast<uint16_t>(sreg);
    return o32 ? &push_sreg<uint32_t> : &push_sreg<uint16_t>;
  }
  switch (x.kind[0]) {
    case OpKind::Imm: return o32 ? &push<uint32_t, OpI> : &push<uint16_t, OpI>;
    case OpKind::Mem: return o32 ? &push<uint32_t, OpM> : &push<uint16_t, OpM>;
    case OpKind::Reg:
      if (!x.is_gpr(0)) return nullptr;
      if (ZydisRegisterGetId(x.ops[0].reg.value) == ESP) return o32 ? &push_sp<uint32_t> : &push_sp<uint16_t>;
      return o32 ? &push<uint32_t, OpR0> : &push<uint16_t, OpR0>;
    default: return nullptr;
  }
}

// ---- POP ----
// POP reg: for POP SP/ESP the popped value wins over the increment.
template <class T>
const Insn* pop_reg(Cpu& c, const Insn* i) {
  T v = c.pop<T>();
  setr<T>(c, i->r0, v);
  return next(c, i);
}

// POP m: ESP is incremented before the destination address is computed (it matters when ESP is
// the base); a fault on the write puts ESP back.
template <class T>
const Insn* pop_mem(Cpu& c, const Insn* i) {
  const uint32_t old_esp = c.s.regs[ESP];
  T v = c.pop<T>();
  try {
    c.write<T>(i->seg, ea(c, i), v);
  } catch (...) {
    c.s.regs[ESP] = old_esp;
    throw;
  }
  return next(c, i);
}

// POP Sreg. POP SS inhibits interrupts until after the next instruction; the selector ends the
// block for it. The segment load (which may fault) comes before ESP moves; ESP moves by the old
// stack size.
template <class T>
const Insn* pop_sreg(Cpu& c, const Insn* i) {
  const uint32_t mask = c.s.sp_mask;
  uint32_t sp = c.s.regs[ESP] & mask;
  uint16_t v = c.read<uint16_t>(SS, sp);
  load_seg(c, i->r0, v);
  c.s.regs[ESP] = (c.s.regs[ESP] & ~mask) | ((sp + sizeof(T)) & mask);
  if (i->r0 == SS) c.s.int_shadow = c.ss_loaded = true;
  return next(c, i);
}

Handler select_pop(DecodeCtx& x) {
  const bool o32 = x.zi.operand_width == 32;
  unsigned sreg;
  if (x.is_sreg(0, &sreg)) {
    if (sreg == CS) return nullptr;
    if (sreg == SS) x.end_block = true;
    x.insn.r0 = static_cast<uint16_t>(sreg);
    return o32 ? &pop_sreg<uint32_t> : &pop_sreg<uint16_t>;
  }
  switch (x.kind[0]) {
    case OpKind::Mem: return o32 ? &pop_mem<uint32_t> : &pop_mem<uint16_t>;
    case OpKind::Reg:
      if (!x.is_gpr(0)) return nullptr;
      return o32 ? &pop_reg<uint32_t> : &pop_reg<uint16_t>;
    default: return nullptr;
  }
}

// ---- PUSHA / POPA ----
// PUSHA stores AX, CX, DX, BX, the original SP, BP, SI, DI (DI at the lowest address).
template <class T>
const Insn* pusha(Cpu& c, const Insn* i) {
  for (unsigned r = 0; r < 8; ++r) c.write<T>(SS, below_top(c, (r + 1) * sizeof(T)), static_cast<T>(c.s.regs[r]));
  c.set_sp(below_top(c, 8 * sizeof(T)));
  return next(c, i);
}

// POPA loads DI, SI, BP, (skips SP), BX, DX, CX, AX.
template <class T>
const Insn* popa(Cpu& c, const Insn* i) {
  T v[8] = {};
  for (unsigned r = 0; r < 8; ++r) {
    if (r == ESP) continue;
    v[r] = c.read<T>(SS, above_top(c, (7 - r) * sizeof(T)));
  }
  for (unsigned r = 0; r < 8; ++r) {
    if (r != ESP) set_reg<T>(c, r, v[r]);
  }
  c.set_sp(above_top(c, 8 * sizeof(T)));
  return next(c, i);
}

Handler select_pusha(DecodeCtx& x) { return x.zi.operand_width == 32 ? &pusha<uint32_t> : &pusha<uint16_t>; }
Handler select_popa(DecodeCtx& x) { return x.zi.operand_width == 32 ? &popa<uint32_t> : &popa<uint16_t>; }

// ---- PUSHF / POPF (real mode: IOPL, NT and IF are writable; VM, VIF, VIP keep their values and
// POPFD clears RF). Protected mode: IOPL only at CPL 0, IF only at CPL <= IOPL (else silently
// kept). Virtual-8086 mode: #GP(0) unless IOPL is 3, and then IOPL stays. ----
template <class T>
const Insn* pushf(Cpu& c, const Insn* i) {
  if (c.v86() && c.iopl() != 3) raise_fault(VEC_GP, 0);
  c.push<T>(static_cast<T>(c.flags_image()));
  return next(c, i);
}

constexpr uint32_t POPF_MASK16 = 0x7FD5u;                         // CF PF AF ZF SF TF IF DF OF IOPL NT
constexpr uint32_t POPF_MASK32 = POPF_MASK16 | F_AC | F_ID | F_RF;  // RF is written with 0

template <class T>
const Insn* popf(Cpu& c, const Insn* i) {
  uint32_t mask = sizeof(T) == 4 ? POPF_MASK32 : POPF_MASK16;
  if (c.pe()) [[unlikely]] {
    if (c.v86()) {
      if (c.iopl() != 3) raise_fault(VEC_GP, 0);
      mask &= ~F_IOPL;
    } else {
      if (c.s.cpl != 0) mask &= ~F_IOPL;
      if (c.s.cpl > c.iopl()) mask &= ~F_IF;
    }
  }
  uint32_t v = c.pop<T>();
  if constexpr (sizeof(T) == 4) {
    c.set_flags(v & ~F_RF, mask);
  } else {
    c.set_flags(v, mask);
  }
  return next(c, i);
}

// POPF may set IF (or TF): end the block so the run loop sees it.
Handler select_pushf(DecodeCtx& x) { return x.zi.operand_width == 32 ? &pushf<uint32_t> : &pushf<uint16_t>; }
Handler select_popf(DecodeCtx& x) {
  x.end_block = true;
  return x.zi.operand_width == 32 ? &popf<uint32_t> : &popf<uint16_t>;
}

// ---- ENTER / LEAVE ----
// ENTER alloc (imm), level (imm2 mod 32), as the SDM's pseudo-code: the operand size sizes the
// pushes (the old frame pointer, the level - 1 copied ones, FrameTemp); the stack size picks
// SP/BP or ESP/EBP, both for the pointers walked and for what is written at the end (a 16-bit
// stack changes only BP and SP, whatever the operand size). Last, a write at the final stack
// pointer must be allowed (#SS at the limit, #PF), checked without writing; a fault leaves ESP
// and EBP as they were.
template <class T>
const Insn* enter(Cpu& c, const Insn* i) {
  const uint32_t m = c.s.sp_mask;
  const unsigned level = i->imm2 & 31;
  const uint32_t alloc = i->imm & 0xFFFF;
  uint32_t sp = c.s.regs[ESP];
  uint32_t bp = c.s.regs[EBP];
  sp -= sizeof(T);
  c.write<T>(SS, sp & m, static_cast<T>(bp));
  const uint32_t frame = sp & m;  // FrameTemp: SP or ESP after the push
  if (level > 0) {
    for (unsigned k = 1; k < level; ++k) {
      bp = (bp & ~m) | ((bp - sizeof(T)) & m);
      T v = c.read<T>(SS, bp & m);
      sp -= sizeof(T);
      c.write<T>(SS, sp & m, v);
    }
    sp -= sizeof(T);
    c.write<T>(SS, sp & m, static_cast<T>(frame));
  }
  sp = (sp - alloc) & m;
  c.probe_write(SS, sp, sizeof(T));
  c.s.regs[EBP] = (c.s.regs[EBP] & ~m) | frame;
  c.set_sp(sp);
  return next(c, i);
}

// LEAVE: (E)SP <- (E)BP by the stack size, then pop (E)BP by the operand size.
template <class T>
const Insn* leave(Cpu& c, const Insn* i) {
  const uint32_t sp = c.s.regs[EBP] & c.s.sp_mask;
  T v = c.read<T>(SS, sp);
  c.set_sp(sp + sizeof(T));
  set_reg<T>(c, EBP, v);
  return next(c, i);
}

Handler select_enter(DecodeCtx& x) { return x.zi.operand_width == 32 ? &enter<uint32_t> : &enter<uint16_t>; }
Handler select_leave(DecodeCtx& x) { return x.zi.operand_width == 32 ? &leave<uint32_t> : &leave<uint16_t>; }

}  // namespace

void register_stack(SelectorTable& t) {
  t[ZYDIS_MNEMONIC_PUSH] = select_push;
  t[ZYDIS_MNEMONIC_POP] = select_pop;
  t[ZYDIS_MNEMONIC_PUSHA] = select_pusha;
  t[ZYDIS_MNEMONIC_PUSHAD] = select_pusha;
  t[ZYDIS_MNEMONIC_POPA] = select_popa;
  t[ZYDIS_MNEMONIC_POPAD] = select_popa;
  t[ZYDIS_MNEMONIC_PUSHF] = select_pushf;
  t[ZYDIS_MNEMONIC_PUSHFD] = select_pushf;
  t[ZYDIS_MNEMONIC_POPF] = select_popf;
  t[ZYDIS_MNEMONIC_POPFD] = select_popf;
  t[ZYDIS_MNEMONIC_ENTER] = select_enter;
  t[ZYDIS_MNEMONIC_LEAVE] = select_leave;
}

}  // namespace vx86
