// Multiplication and division: MUL, IMUL (one, two and three operands), DIV, IDIV.
//
// CF = OF = "the upper half is significant"; SF, ZF, AF and PF are undefined after MUL/IMUL and all
// six after DIV/IDIV: they are left unchanged.
//
// #DE on a zero divisor or a quotient that does not fit. 286 and later: a precise fault (the
// pushed IP is the DIV's). 8086 model: the pushed IP is the next instruction's, a quotient equal to
// the most negative value also faults, and a REP prefix negates the IMUL product / IDIV quotient
// (the microcode reuses the REP flag as its sign flag).
#include <limits>

#include "emu/interp/common.h"

namespace vx86 {
namespace {

template <class T> struct Wide;
template <> struct Wide<uint8_t> { using type = uint16_t; };
template <> struct Wide<uint16_t> { using type = uint32_t; };
template <> struct Wide<uint32_t> { using type = uint64_t; };
template <class T> using wide_t = typename Wide<T>::type;

// The double-width accumulator: AX, DX:AX or EDX:EAX.
template <class T>
inline wide_t<T> get_acc(const Cpu& c) {
  if constexpr (sizeof(T) == 1) return static_cast<uint16_t>(c.s.regs[EAX]);
  else if constexpr (sizeof(T) == 2) return (uint32_t{static_cast<uint16_t>(c.s.regs[EDX])} << 16) | static_cast<uint16_t>(c.s.regs[EAX]);
  else return (uint64_t{c.s.regs[EDX]} << 32) | c.s.regs[EAX];
}
// Stores low:high as AL:AH, AX:DX or EAX:EDX.
template <class T>
inline void set_pair(Cpu& c, T lo, T hi) {
  if constexpr (sizeof(T) == 1) {
    set_reg<uint16_t>(c, EAX, static_cast<uint16_t>(lo | (uint32_t{hi} << 8)));
  } else {
    set_reg<T>(c, EAX, lo);
    set_reg<T>(c, EDX, hi);
  }
}

// Only called by the handlers chosen for an instruction that carries an F2/F3 prefix.
inline bool rep_negates(const Cpu& c) { return c.s.model == CpuModel::i8086; }

// Zydis does not report REP on instructions that do not take it, so look at the raw prefixes.
bool has_rep_prefix(const DecodeCtx& x) {
  for (unsigned k = 0; k < x.zi.raw.prefix_count; ++k)
    if (x.zi.raw.prefixes[k].value == 0xF2 || x.zi.raw.prefixes[k].value == 0xF3) return true;
  return false;
}

// ---- MUL / IMUL r/m (accumulator forms) ----
template <class T, class Src, bool Signed, bool Rep>
const Insn* mul1(Cpu& c, const Insn* i) {
  using W = wide_t<T>;
  using S = std::make_signed_t<T>;
  using SW = std::make_signed_t<W>;
  constexpr unsigned n = sizeof(T) * 8;
  const T s = Src::template get<T>(c, i, op_addr<Src>(c, i));
  const T a = reg<T>(c, EAX);
  W p;
  bool wide;
  if constexpr (Signed) {
    SW sp = static_cast<SW>(SW{static_cast<S>(a)} * SW{static_cast<S>(s)});
    if constexpr (Rep) if (rep_negates(c)) sp = static_cast<SW>(W{0} - static_cast<W>(sp));
    p = static_cast<W>(sp);
    wide = sp != SW{static_cast<S>(static_cast<T>(p))};
  } else {
    p = static_cast<W>(W{a} * W{s});
    wide = (p >> n) != 0;
  }
  set_pair<T>(c, static_cast<T>(p), static_cast<T>(p >> n));
  set_arith(c, wide ? (F_CF | F_OF) : 0, F_CF | F_OF);
  return next(c, i);
}

// ---- IMUL r, r/m [, imm] ----
// Src1 is r/m (or the destination itself for the two-operand form), Src2 r/m or the immediate.
template <class T, class Src1, class Src2>
const Insn* imul_n(Cpu& c, const Insn* i) {
  using W = wide_t<T>;
  using S = std::make_signed_t<T>;
  using SW = std::make_signed_t<W>;
  const uint32_t a = op_addr<Src1>(c, i) | op_addr<Src2>(c, i);
  const T x = Src1::template get<T>(c, i, a);
  const T y = Src2::template get<T>(c, i, a);
  const SW p = static_cast<SW>(SW{static_cast<S>(x)} * SW{static_cast<S>(y)});
  const T r = static_cast<T>(p);
  setr<T>(c, i->r0, r);
  set_arith(c, p != SW{static_cast<S>(r)} ? (F_CF | F_OF) : 0, F_CF | F_OF);
  return next(c, i);
}

// ---- DIV / IDIV ----
const Insn* divide_error(Cpu& c, const Insn* i) {
  if (c.s.model == CpuModel::i8086) {
    c.software_interrupt(VEC_DE, next_eip(c, i));
    return nullptr;
  }
  raise_fault(VEC_DE);
}

template <class T, class Src, bool Signed, bool Rep>
const Insn* div1(Cpu& c, const Insn* i) {
  using W = wide_t<T>;
  using S = std::make_signed_t<T>;
  using SW = std::make_signed_t<W>;
  constexpr unsigned n = sizeof(T) * 8;
  const T s = Src::template get<T>(c, i, op_addr<Src>(c, i));
  if (s == 0) [[unlikely]] return divide_error(c, i);
  const W d = get_acc<T>(c);
  T q, r;
  if constexpr (Signed) {
    const SW sd = static_cast<SW>(d);
    const S ss = static_cast<S>(s);
    // The one quotient that overflows W itself (most negative / -1) is out of range anyway.
    if (ss == -1 && sd == std::numeric_limits<SW>::min()) [[unlikely]] return divide_error(c, i);
    const SW sq = sd / ss;
    const SW sr = sd % ss;
    constexpr SW lo = std::numeric_limits<S>::min(), hi = std::numeric_limits<S>::max();
    if (sq > hi || sq < lo) [[unlikely]] return divide_error(c, i);
    if (sq == lo && c.s.model == CpuModel::i8086) [[unlikely]] return divide_error(c, i);
    q = static_cast<T>(sq);
    if constexpr (Rep) if (rep_negates(c)) q = static_cast<T>(T{0} - q);
    r = static_cast<T>(sr);
  } else {
    const W wq = d / s;
    if ((wq >> n) != 0) [[unlikely]] return divide_error(c, i);
    q = static_cast<T>(wq);
    r = static_cast<T>(d % s);
  }
  set_pair<T>(c, q, r);
  return next(c, i);
}

template <class T, class Src, bool Signed, bool Rep>
struct MulH { static constexpr Handler h = &mul1<T, Src, Signed, Rep>; };
template <class T, class Src, bool Signed, bool Rep>
struct DivH { static constexpr Handler h = &div1<T, Src, Signed, Rep>; };

template <template <class, class, bool, bool> class H, bool Signed, bool Rep>
Handler select_one_rep(const DecodeCtx& x) {
  const bool mem = x.kind[0] == OpKind::Mem;
  if (!mem && x.kind[0] != OpKind::Reg) return nullptr;
  switch (x.size[0]) {
    case 1: return mem ? H<uint8_t, OpM, Signed, Rep>::h : H<uint8_t, OpR0, Signed, Rep>::h;
    case 2: return mem ? H<uint16_t, OpM, Signed, Rep>::h : H<uint16_t, OpR0, Signed, Rep>::h;
    case 4: return mem ? H<uint32_t, OpM, Signed, Rep>::h : H<uint32_t, OpR0, Signed, Rep>::h;
    default: return nullptr;
  }
}

// A REP prefix only matters (8086 model, signed forms) at run time; the handler without it pays
// nothing for the quirk.
template <template <class, class, bool, bool> class H, bool Signed>
Handler select_one(const DecodeCtx& x) {
  if (Signed && has_rep_prefix(x)) return select_one_rep<H, Signed, true>(x);
  return select_one_rep<H, Signed, false>(x);
}

template <class T>
Handler select_imul_sized(const DecodeCtx& x) {
  if (x.nops == 2) {
    if (x.kind[1] == OpKind::Reg) return &imul_n<T, OpR0, OpR1>;
    if (x.kind[1] == OpKind::Mem) return &imul_n<T, OpR0, OpM>;
    return nullptr;
  }
  if (x.kind[2] != OpKind::Imm) return nullptr;
  if (x.kind[1] == OpKind::Reg) return &imul_n<T, OpR1, OpI>;
  if (x.kind[1] == OpKind::Mem) return &imul_n<T, OpM, OpI>;
  return nullptr;
}

Handler select_mul(DecodeCtx& x) {
  if (x.nops != 1) return nullptr;
  return select_one<MulH, false>(x);
}

Handler select_imul(DecodeCtx& x) {
  if (x.nops == 1) return select_one<MulH, true>(x);
  if (x.kind[0] != OpKind::Reg) return nullptr;
  switch (x.size[0]) {
    case 2: return select_imul_sized<uint16_t>(x);
    case 4: return select_imul_sized<uint32_t>(x);
    default: return nullptr;
  }
}

Handler select_div(DecodeCtx& x) {
  if (x.nops != 1) return nullptr;
  return select_one<DivH, false>(x);
}

Handler select_idiv(DecodeCtx& x) {
  if (x.nops != 1) return nullptr;
  return select_one<DivH, true>(x);
}

}  // namespace

void register_muldiv(SelectorTable& t) {
  t[ZYDIS_MNEMONIC_MUL] = select_mul;
  t[ZYDIS_MNEMONIC_IMUL] = select_imul;
  t[ZYDIS_MNEMONIC_DIV] = select_div;
  t[ZYDIS_MNEMONIC_IDIV] = select_idiv;
}

}  // namespace vx86
