// Integer arithmetic and logic: ADD OR ADC SBB AND SUB XOR CMP TEST (binary, every operand form)
// and INC DEC NEG NOT (unary), 8/16/32-bit. Flags are computed eagerly by the helpers in common.h.
//
// LOCK: Zydis already rejects LOCK on forms that cannot take it (register destinations, CMP, TEST),
// which the decoder turns into #UD; the selectors check it again so that stays true whatever the
// decoder does. Locked memory forms run through locked<> with OpMLocked (emu/interp/locked_rmw.h).
#include "emu/interp/locked_rmw.h"

namespace vx86 {
namespace {

enum BinOp : unsigned { ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST };

// Computes `a op b` into `r` and returns the new arithmetic flags.
template <class T, unsigned Op>
inline uint32_t binop(const Cpu& c, T a, T b, T& r) {
  if constexpr (Op == ADD) {
    r = static_cast<T>(a + b);
    return add_flags<T>(a, b, r);
  } else if constexpr (Op == ADC) {
    r = static_cast<T>(a + b + (c.s.eflags & F_CF));
    return add_flags<T>(a, b, r);
  } else if constexpr (Op == SUB || Op == CMP) {
    r = static_cast<T>(a - b);
    return sub_flags<T>(a, b, r);
  } else if constexpr (Op == SBB) {
    r = static_cast<T>(a - b - (c.s.eflags & F_CF));
    return sub_flags<T>(a, b, r);
  } else if constexpr (Op == OR) {
    r = static_cast<T>(a | b);
    return logic_flags<T>(r);
  } else if constexpr (Op == AND || Op == TEST) {
    r = static_cast<T>(a & b);
    return logic_flags<T>(r);
  } else {
    static_assert(Op == XOR);
    r = static_cast<T>(a ^ b);
    return logic_flags<T>(r);
  }
}

template <unsigned Op>
constexpr bool writes_dst() { return Op != CMP && Op != TEST; }

template <class T, class Dst, class Src, unsigned Op>
const Insn* alu(Cpu& c, const Insn* i) {
  const uint32_t a = op_addr<Dst>(c, i) | op_addr<Src>(c, i);  // at most one memory operand
  const T x = Dst::template get<T>(c, i, a);
  const T y = Src::template get<T>(c, i, a);
  T r;
  const uint32_t f = binop<T, Op>(c, x, y, r);
  if constexpr (writes_dst<Op>()) Dst::template set<T>(c, i, a, r);
  set_arith(c, f);
  return next(c, i);
}

// XOR/SUB reg,reg with the same register: the zeroing idiom, very common in real code.
template <class T, unsigned Op>
const Insn* alu_zero_idiom(Cpu& c, const Insn* i) {
  setr<T>(c, i->r0, 0);
  set_arith(c, F_ZF | F_PF);
  return next(c, i);
}

template <class T, unsigned Op>
Handler select_bin_sized(const DecodeCtx& x) {
  const OpKind k0 = x.kind[0], k1 = x.kind[1];
  if (k0 == OpKind::Reg && k1 == OpKind::Reg) {
    if constexpr (Op == XOR || Op == SUB)
      if (x.insn.r0 == x.insn.r1) return &alu_zero_idiom<T, Op>;
    return &alu<T, OpR0, OpR1, Op>;
  }
  if (k0 == OpKind::Reg && k1 == OpKind::Mem) return &alu<T, OpR0, OpM, Op>;
  const bool lock = x.insn.flags & INSN_LOCK;
  if constexpr (writes_dst<Op>()) {
    if (lock && k0 == OpKind::Mem && k1 == OpKind::Reg) return &locked<&alu<T, OpMLocked, OpR0, Op>>;
    if (lock && k0 == OpKind::Mem && k1 == OpKind::Imm) return &locked<&alu<T, OpMLocked, OpI, Op>>;
  }
  if (k0 == OpKind::Mem && k1 == OpKind::Reg) return &alu<T, OpM, OpR0, Op>;
  if (k0 == OpKind::Reg && k1 == OpKind::Imm) return &alu<T, OpR0, OpI, Op>;
  if (k0 == OpKind::Mem && k1 == OpKind::Imm) return &alu<T, OpM, OpI, Op>;
  return nullptr;
}

template <unsigned Op>
Handler select_bin(DecodeCtx& x) {
  if (x.nops != 2) return nullptr;
  if ((x.insn.flags & INSN_LOCK) && (!writes_dst<Op>() || x.kind[0] != OpKind::Mem)) return nullptr;
  switch (x.size[0]) {
    case 1: return select_bin_sized<uint8_t, Op>(x);
    case 2: return select_bin_sized<uint16_t, Op>(x);
    case 4: return select_bin_sized<uint32_t, Op>(x);
    default: return nullptr;
  }
}

// ---- unary ----
enum UnOp : unsigned { INC, DEC, NEG, NOT };

template <class T, class Dst, unsigned Op>
const Insn* unary(Cpu& c, const Insn* i) {
  const uint32_t a = op_addr<Dst>(c, i);
  const T x = Dst::template get<T>(c, i, a);
  if constexpr (Op == NOT) {
    Dst::template set<T>(c, i, a, static_cast<T>(~x));
  } else if constexpr (Op == NEG) {
    const T r = static_cast<T>(T{0} - x);
    Dst::template set<T>(c, i, a, r);
    set_arith(c, sub_flags<T>(T{0}, x, r));  // CF = (x != 0)
  } else {
    const T r = static_cast<T>(Op == INC ? x + 1 : x - 1);
    Dst::template set<T>(c, i, a, r);
    // INC/DEC leave CF alone.
    set_arith(c, Op == INC ? add_flags<T>(x, T{1}, r) : sub_flags<T>(x, T{1}, r), F_ARITH & ~F_CF);
  }
  return next(c, i);
}

template <unsigned Op>
Handler select_unary(DecodeCtx& x) {
  if (x.nops != 1) return nullptr;
  if (x.kind[0] == OpKind::Reg) {
    if (x.insn.flags & INSN_LOCK) return nullptr;
    switch (x.size[0]) {
      case 1: return &unary<uint8_t, OpR0, Op>;
      case 2: return &unary<uint16_t, OpR0, Op>;
      case 4: return &unary<uint32_t, OpR0, Op>;
      default: return nullptr;
    }
  }
  if (x.kind[0] == OpKind::Mem && (x.insn.flags & INSN_LOCK)) {
    switch (x.size[0]) {
      case 1: return &locked<&unary<uint8_t, OpMLocked, Op>>;
      case 2: return &locked<&unary<uint16_t, OpMLocked, Op>>;
      case 4: return &locked<&unary<uint32_t, OpMLocked, Op>>;
      default: return nullptr;
    }
  }
  if (x.kind[0] == OpKind::Mem) {
    switch (x.size[0]) {
      case 1: return &unary<uint8_t, OpM, Op>;
      case 2: return &unary<uint16_t, OpM, Op>;
      case 4: return &unary<uint32_t, OpM, Op>;
      default: return nullptr;
    }
  }
  return nullptr;
}

}  // namespace

void register_alu(SelectorTable& t) {
  t[ZYDIS_MNEMONIC_ADD] = select_bin<ADD>;
  t[ZYDIS_MNEMONIC_OR] = select_bin<OR>;
  t[ZYDIS_MNEMONIC_ADC] = select_bin<ADC>;
  t[ZYDIS_MNEMONIC_SBB] = select_bin<SBB>;
  t[ZYDIS_MNEMONIC_AND] = select_bin<AND>;
  t[ZYDIS_MNEMONIC_SUB] = select_bin<SUB>;
  t[ZYDIS_MNEMONIC_XOR] = select_bin<XOR>;
  t[ZYDIS_MNEMONIC_CMP] = select_bin<CMP>;
  t[ZYDIS_MNEMONIC_TEST] = select_bin<TEST>;
  t[ZYDIS_MNEMONIC_INC] = select_unary<INC>;
  t[ZYDIS_MNEMONIC_DEC] = select_unary<DEC>;
  t[ZYDIS_MNEMONIC_NEG] = select_unary<NEG>;
  t[ZYDIS_MNEMONIC_NOT] = select_unary<NOT>;
}

}  // namespace vx86
