// Data movement: MOV (GPR, memory, immediate, segment registers), MOVZX/MOVSX, LEA, XCHG,
// LDS/LES/LSS/LFS/LGS, XLAT, CBW/CWDE/CWD/CDQ, LAHF/SAHF.
#include "emu/interp/common.h"

namespace vx86 {
namespace {

template <class T, class Dst, class Src>
const Insn* mov(Cpu& c, const Insn* i) {
  uint32_t a = op_addr<Dst>(c, i) | op_addr<Src>(c, i);  // at most one memory operand
  Dst::template set<T>(c, i, a, Src::template get<T>(c, i, a));
  return next(c, i);
}

// MOV moffs forms (A0-A3): the offset is the displacement, already in Insn::disp.
template <class T, class Dst, class Src>
Handler mov_form(const DecodeCtx& x) {
  (void)x;
  return &mov<T, Dst, Src>;
}

template <class T>
Handler select_mov_sized(const DecodeCtx& x) {
  if (x.kind[0] == OpKind::Reg && x.kind[1] == OpKind::Reg) return &mov<T, OpR0, OpR1>;
  if (x.kind[0] == OpKind::Reg && x.kind[1] == OpKind::Mem) return &mov<T, OpR0, OpM>;
  if (x.kind[0] == OpKind::Mem && x.kind[1] == OpKind::Reg) return &mov<T, OpM, OpR0>;
  if (x.kind[0] == OpKind::Reg && x.kind[1] == OpKind::Imm) return &mov<T, OpR0, OpI>;
  if (x.kind[0] == OpKind::Mem && x.kind[1] == OpKind::Imm) return &mov<T, OpM, OpI>;
  return nullptr;
}

// MOV Sreg, r/m16 (real mode: base = selector << 4). Loading CS is #UD; SS inhibits interrupts
// for one instruction.
template <class Src>
const Insn* mov_to_sreg(Cpu& c, const Insn* i) {
  uint16_t v = Src::template get<uint16_t>(c, i, op_addr<Src>(c, i));
  c.load_seg_real(i->r0, v);
  if (i->r0 == SS) c.s.int_shadow = true;
  return next(c, i);
}
// MOV r/m, Sreg: a register destination of 32 bits gets the selector zero-extended.
template <class Dst, class T>
const Insn* mov_from_sreg(Cpu& c, const Insn* i) {
  unsigned sreg = Dst::is_mem ? i->r0 : i->r1;
  Dst::template set<T>(c, i, op_addr<Dst>(c, i), static_cast<T>(c.s.seg[sreg].sel));
  return next(c, i);
}

Handler select_mov(DecodeCtx& x) {
  unsigned sreg;
  if (x.is_sreg(0, &sreg)) {
    if (sreg == CS) return nullptr;
    if (sreg == SS) x.end_block = true;
    if (x.kind[1] == OpKind::Mem) return &mov_to_sreg<OpM>;
    x.insn.r0 = static_cast<uint16_t>(sreg);
    x.insn.r1 = reg_offset(ZydisRegisterGetId(x.ops[1].reg.value));
    return &mov_to_sreg<OpR1>;
  }
  if (x.is_sreg(1, &sreg)) {
    if (x.kind[0] == OpKind::Mem) {
      x.insn.r0 = static_cast<uint16_t>(sreg);
      return &mov_from_sreg<OpM, uint16_t>;
    }
    x.insn.r1 = static_cast<uint16_t>(sreg);
    return x.size[0] == 4 ? &mov_from_sreg<OpR0, uint32_t> : &mov_from_sreg<OpR0, uint16_t>;
  }
  switch (x.size[0]) {
    case 1: return select_mov_sized<uint8_t>(x);
    case 2: return select_mov_sized<uint16_t>(x);
    case 4: return select_mov_sized<uint32_t>(x);
    default: return nullptr;
  }
}

template <class T>
const Insn* lea(Cpu& c, const Insn* i) {
  setr<T>(c, i->r0, static_cast<T>(ea(c, i)));
  return next(c, i);
}
Handler select_lea(DecodeCtx& x) {
  if (x.kind[1] != OpKind::Mem) return nullptr;
  return x.size[0] == 4 ? &lea<uint32_t> : &lea<uint16_t>;
}

}  // namespace

void register_mov(SelectorTable& t) {
  t[ZYDIS_MNEMONIC_MOV] = select_mov;
  t[ZYDIS_MNEMONIC_LEA] = select_lea;
}

}  // namespace vx86
