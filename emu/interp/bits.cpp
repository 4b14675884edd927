// Bit instructions: BT BTS BTR BTC (register and imm8 bit offsets), BSF BSR, SETcc.
//
// BTx with a register bit offset and a memory operand addresses the bit string that starts at the
// operand: the signed offset selects the word/dword (offset >> 4 or >> 5) and the bit within it.
// An imm8 offset is taken modulo the operand size. Only CF is written (OF SF AF PF are undefined
// and left unchanged; ZF is unaffected, as on the P6).
// BSF/BSR with a zero source set ZF and leave the destination unchanged; the other flags are
// undefined and left unchanged.
#include <bit>

#include "emu/interp/locked_rmw.h"

namespace vx86 {
namespace {

enum BitOp : unsigned { BT, BTS, BTR, BTC };

template <class T, unsigned Op>
inline T bit_apply(T v, T m) {
  if constexpr (Op == BTS) return static_cast<T>(v | m);
  else if constexpr (Op == BTR) return static_cast<T>(v & ~m);
  else return static_cast<T>(v ^ m);
}

// Register destination: bit offset from the second register (r1) or the immediate.
template <class T, unsigned Op, bool ImmOff>
const Insn* bt_reg(Cpu& c, const Insn* i) {
  constexpr unsigned n = sizeof(T) * 8;
  const unsigned bit = (ImmOff ? i->imm : getr<T>(c, i->r1)) & (n - 1);
  const T v = getr<T>(c, i->r0);
  if constexpr (Op != BT) setr<T>(c, i->r0, bit_apply<T, Op>(v, static_cast<T>(T{1} << bit)));
  set_arith(c, (v >> bit) & 1u, F_CF);
  return next(c, i);
}

// Memory destination. With a register offset (in r0) the address moves by the signed offset.
// M: OpM, or OpMLocked for the LOCK forms.
template <class T, unsigned Op, bool ImmOff, class M = OpM>
const Insn* bt_mem(Cpu& c, const Insn* i) {
  constexpr unsigned n = sizeof(T) * 8;
  constexpr unsigned lg = sizeof(T) == 2 ? 4 : 5;
  uint32_t a = ea(c, i);
  unsigned bit;
  if constexpr (ImmOff) {
    bit = i->imm & (n - 1);
  } else {
    using S = std::make_signed_t<T>;
    const int32_t off = static_cast<S>(getr<T>(c, i->r0));
    bit = static_cast<unsigned>(off) & (n - 1);
    a = (a + static_cast<uint32_t>((off >> lg) * static_cast<int32_t>(sizeof(T)))) & i->amask;
  }
  const T v = M::template get<T>(c, i, a);
  if constexpr (Op != BT) M::template set<T>(c, i, a, bit_apply<T, Op>(v, static_cast<T>(T{1} << bit)));
  set_arith(c, (v >> bit) & 1u, F_CF);
  return next(c, i);
}

template <class T, unsigned Op>
Handler select_bt_sized(const DecodeCtx& x) {
  const bool imm = x.kind[1] == OpKind::Imm;
  if (!imm && x.kind[1] != OpKind::Reg) return nullptr;
  if (x.kind[0] == OpKind::Reg) {
    if (x.insn.flags & INSN_LOCK) return nullptr;
    return imm ? &bt_reg<T, Op, true> : &bt_reg<T, Op, false>;
  }
  if (x.kind[0] == OpKind::Mem) {
    if (x.insn.flags & INSN_LOCK) {
      if constexpr (Op == BT) return nullptr;
      else return imm ? &locked<&bt_mem<T, Op, true, OpMLocked>> : &locked<&bt_mem<T, Op, false, OpMLocked>>;
    }
    return imm ? &bt_mem<T, Op, true> : &bt_mem<T, Op, false>;
  }
  return nullptr;
}

template <unsigned Op>
Handler select_bt(DecodeCtx& x) {
  if (x.nops != 2) return nullptr;
  switch (x.size[0]) {
    case 2: return select_bt_sized<uint16_t, Op>(x);
    case 4: return select_bt_sized<uint32_t, Op>(x);
    default: return nullptr;
  }
}

// ---- BSF / BSR ----
template <class T, class Src, bool Reverse>
const Insn* bsx(Cpu& c, const Insn* i) {
  const T s = Src::template get<T>(c, i, op_addr<Src>(c, i));
  if (s == 0) {
    c.s.eflags |= F_ZF;
  } else {
    const unsigned idx = Reverse ? (sizeof(T) * 8 - 1 - static_cast<unsigned>(std::countl_zero(s)))
                                 : static_cast<unsigned>(std::countr_zero(s));
    setr<T>(c, i->r0, static_cast<T>(idx));
    c.s.eflags &= ~F_ZF;
  }
  return next(c, i);
}

template <bool Reverse>
Handler select_bsx(DecodeCtx& x) {
  if (x.nops != 2 || x.kind[0] != OpKind::Reg) return nullptr;
  const bool mem = x.kind[1] == OpKind::Mem;
  if (!mem && x.kind[1] != OpKind::Reg) return nullptr;
  switch (x.size[0]) {
    case 2: return mem ? &bsx<uint16_t, OpM, Reverse> : &bsx<uint16_t, OpR1, Reverse>;
    case 4: return mem ? &bsx<uint32_t, OpM, Reverse> : &bsx<uint32_t, OpR1, Reverse>;
    default: return nullptr;
  }
}

// ---- SETcc r/m8 ----
template <class Dst, unsigned CC>
const Insn* setcc(Cpu& c, const Insn* i) {
  Dst::template set<uint8_t>(c, i, op_addr<Dst>(c, i), cond(c, CC) ? 1 : 0);
  return next(c, i);
}

template <unsigned CC>
Handler select_setcc(DecodeCtx& x) {
  if (x.nops != 1 || x.size[0] != 1) return nullptr;
  x.insn.aux = CC;
  if (x.kind[0] == OpKind::Reg) return &setcc<OpR0, CC>;
  if (x.kind[0] == OpKind::Mem) return &setcc<OpM, CC>;
  return nullptr;
}

}  // namespace

void register_bits(SelectorTable& t) {
  t[ZYDIS_MNEMONIC_BT] = select_bt<BT>;
  t[ZYDIS_MNEMONIC_BTS] = select_bt<BTS>;
  t[ZYDIS_MNEMONIC_BTR] = select_bt<BTR>;
  t[ZYDIS_MNEMONIC_BTC] = select_bt<BTC>;
  t[ZYDIS_MNEMONIC_BSF] = select_bsx<false>;
  t[ZYDIS_MNEMONIC_BSR] = select_bsx<true>;
  t[ZYDIS_MNEMONIC_SETO] = select_setcc<0>;
  t[ZYDIS_MNEMONIC_SETNO] = select_setcc<1>;
  t[ZYDIS_MNEMONIC_SETB] = select_setcc<2>;
  t[ZYDIS_MNEMONIC_SETNB] = select_setcc<3>;
  t[ZYDIS_MNEMONIC_SETZ] = select_setcc<4>;
  t[ZYDIS_MNEMONIC_SETNZ] = select_setcc<5>;
  t[ZYDIS_MNEMONIC_SETBE] = select_setcc<6>;
  t[ZYDIS_MNEMONIC_SETNBE] = select_setcc<7>;
  t[ZYDIS_MNEMONIC_SETS] = select_setcc<8>;
  t[ZYDIS_MNEMONIC_SETNS] = select_setcc<9>;
  t[ZYDIS_MNEMONIC_SETP] = select_setcc<10>;
  t[ZYDIS_MNEMONIC_SETNP] = select_setcc<11>;
  t[ZYDIS_MNEMONIC_SETL] = select_setcc<12>;
  t[ZYDIS_MNEMONIC_SETNL] = select_setcc<13>;
  t[ZYDIS_MNEMONIC_SETLE] = select_setcc<14>;
  t[ZYDIS_MNEMONIC_SETNLE] = select_setcc<15>;
}

}  // namespace vx86
