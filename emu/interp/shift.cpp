// Shifts and rotates: ROL ROR RCL RCR SHL/SAL SHR SAR by 1, by CL and by imm8; SHLD/SHRD.
//
// Counts are masked to 5 bits (186 and later). The 8086 model shifts by the full CL count; the
// formulas below are written for any count 1..255 so both follow from one definition (shifts
// saturate, rotates reduce the count modulo the rotation width).
//
// Flags where the SDM calls them undefined follow the hardware-captured vectors: OF is computed as
// the last single-bit step would set it (SHL: MSB(result) ^ CF; SHR: the original MSB for a count
// of 1, else 0; SAR: 0; rotates: the count-1 formula on the result); AF is cleared.
#include <bit>

#include "emu/interp/common.h"

namespace vx86 {
namespace {

enum ShOp : unsigned { ROL, ROR, RCL, RCR, SHL, SHR, SAR, SHL6 };
enum CountSrc : unsigned { ONE, IMM, CL };

template <class T>
constexpr unsigned bits() { return sizeof(T) * 8; }

template <unsigned Op>
constexpr uint32_t written_flags() {
  return Op <= RCR ? (F_CF | F_OF) : F_ARITH;
}

// `cnt` is 1..255 (never 0). Returns the flags; `r` receives the result.
template <class T, unsigned Op>
inline uint32_t shift_op(const Cpu& c, T x, unsigned cnt, T& r) {
  constexpr unsigned n = bits<T>();
  constexpr unsigned msb = n - 1;
  if constexpr (Op == ROL) {
    const unsigned k = cnt % n;
    r = std::rotl(x, static_cast<int>(k));
    const uint32_t cf = r & 1u;
    return cf | ((((r >> msb) & 1u) ^ cf) << 11);
  } else if constexpr (Op == ROR) {
    const unsigned k = cnt % n;
    r = std::rotr(x, static_cast<int>(k));
    return ((r >> msb) & 1u) | ((((r >> msb) ^ (r >> (msb - 1))) & 1u) << 11);
  } else if constexpr (Op == RCL || Op == RCR) {
    // Rotate the (n+1)-bit value CF:x.
    const unsigned k = cnt % (n + 1);
    const uint64_t v = (uint64_t{c.s.eflags & F_CF} << n) | x;
    const uint64_t mask = (uint64_t{1} << (n + 1)) - 1;
    uint64_t w;
    if constexpr (Op == RCL) w = ((v << k) | (v >> (n + 1 - k))) & mask;
    else w = ((v >> k) | (v << (n + 1 - k))) & mask;
    r = static_cast<T>(w);
    const uint32_t cf = static_cast<uint32_t>(w >> n) & 1u;
    uint32_t of;
    if constexpr (Op == RCL) of = ((r >> msb) & 1u) ^ cf;
    else of = ((r >> msb) ^ (r >> (msb - 1))) & 1u;
    return cf | (of << 11);
  } else if constexpr (Op == SHL) {
    const unsigned k = cnt < n + 1 ? cnt : n + 1;
    const uint64_t w = uint64_t{x} << k;
    r = static_cast<T>(w);
    const uint32_t cf = static_cast<uint32_t>(w >> n) & 1u;
    return szp_flags<T>(r) | cf | ((((r >> msb) & 1u) ^ cf) << 11);
  } else if constexpr (Op == SHR) {
    const unsigned k = cnt < n + 1 ? cnt : n + 1;
    const uint64_t w = (uint64_t{x} << 1) >> k;  // bit 0: the last bit shifted out
    r = static_cast<T>(w >> 1);
    const uint32_t of = (cnt == 1) ? ((x >> msb) & 1u) : 0u;
    return szp_flags<T>(r) | (static_cast<uint32_t>(w) & 1u) | (of << 11);
  } else {
    static_assert(Op == SAR);
    using S = std::make_signed_t<T>;
    const unsigned k = cnt < n ? cnt : n;
    const int64_t w = int64_t{static_cast<S>(x)} >> (k - 1);
    r = static_cast<T>(w >> 1);
    return szp_flags<T>(r) | (static_cast<uint32_t>(w) & 1u);
  }
}

template <unsigned Src>
inline unsigned shift_count(const Cpu& c, const Insn* i) {
  if constexpr (Src == ONE) return 1;
  else if constexpr (Src == IMM) return i->imm & 31;
  else {
    const unsigned cl = c.s.regs[ECX] & 0xFF;
    return c.s.model == CpuModel::i8086 ? cl : (cl & 31);
  }
}

template <class T, class Dst, unsigned Op, unsigned Src>
const Insn* shift(Cpu& c, const Insn* i) {
  const unsigned cnt = shift_count<Src>(c, i);
  const uint32_t a = op_addr<Dst>(c, i);
  const T x = Dst::template get<T>(c, i, a);
  if (Src != ONE && cnt == 0) return next(c, i);
  T r;
  const uint32_t f = shift_op<T, Op>(c, x, cnt, r);
  Dst::template set<T>(c, i, a, r);
  set_arith(c, f, written_flags<Op>());
  return next(c, i);
}

// Group 2 with /6: an alias of SHL from the 186 on. The 8086 decodes it as SETMO (by 1) / SETMOC
// (by CL): the destination becomes all ones (SETMOC only when CL != 0), CF = OF = AF = 0.
template <class T, class Dst, unsigned Src>
const Insn* shift_slash6(Cpu& c, const Insn* i) {
  if (c.s.model != CpuModel::i8086) [[likely]] return shift<T, Dst, SHL, Src>(c, i);
  const uint32_t a = op_addr<Dst>(c, i);
  (void)Dst::template get<T>(c, i, a);
  if (Src == CL && (c.s.regs[ECX] & 0xFF) == 0) return next(c, i);
  const T r = static_cast<T>(~T{0});
  Dst::template set<T>(c, i, a, r);
  set_arith(c, szp_flags<T>(r));
  return next(c, i);
}

template <class T, class Dst, unsigned Op, unsigned Src>
Handler shift_form() {
  if constexpr (Op == SHL6) return &shift_slash6<T, Dst, Src>;
  else return &shift<T, Dst, Op, Src>;
}

template <class T, unsigned Op, unsigned Src>
Handler select_shift_sized(const DecodeCtx& x) {
  if (x.kind[0] == OpKind::Reg) return shift_form<T, OpR0, Op, Src>();
  if (x.kind[0] == OpKind::Mem) return shift_form<T, OpM, Op, Src>();
  return nullptr;
}

template <unsigned Op, unsigned Src>
Handler select_shift_src(const DecodeCtx& x) {
  switch (x.size[0]) {
    case 1: return select_shift_sized<uint8_t, Op, Src>(x);
    case 2: return select_shift_sized<uint16_t, Op, Src>(x);
    case 4: return select_shift_sized<uint32_t, Op, Src>(x);
    default: return nullptr;
  }
}

template <unsigned Op>
Handler select_shift(DecodeCtx& x) {
  if (x.nops != 2 || (x.insn.flags & INSN_LOCK)) return nullptr;
  constexpr unsigned Op6 = (Op == SHL) ? SHL6 : Op;
  // Zydis reports /4 and /6 both as SHL (or SAL); only /6 carries the 8086 SETMO behaviour.
  const bool slash6 = (Op == SHL) && x.zi.raw.modrm.reg == 6;
  if (x.kind[1] == OpKind::Imm) {
    // D0/D1 carry the count 1 in the opcode; C0/C1 carry an imm8 which may also be 1.
    const bool by1 = x.zi.opcode == 0xD0 || x.zi.opcode == 0xD1;
    if (by1) return slash6 ? select_shift_src<Op6, ONE>(x) : select_shift_src<Op, ONE>(x);
    return select_shift_src<Op, IMM>(x);
  }
  if (x.kind[1] == OpKind::Reg) return slash6 ? select_shift_src<Op6, CL>(x) : select_shift_src<Op, CL>(x);
  return nullptr;
}

// ---- SHLD / SHRD ----
// A 16-bit operand with a count above 16 is undefined; like the P6 we shift the 48-bit value
// dst:src:dst (SHLD) / dst:src:dst seen from the right (SHRD), so bits of dst come back in.
template <class T, bool Left>
inline uint32_t double_shift(T d, T s, unsigned cnt, T& r) {
  constexpr unsigned n = bits<T>();
  constexpr unsigned msb = n - 1;
  uint32_t cf;
  if constexpr (n == 32) {
    if constexpr (Left) {
      const uint64_t w = (uint64_t{d} << 32) | s;
      r = static_cast<T>((w << cnt) >> 32);
      cf = static_cast<uint32_t>(d >> (32 - cnt)) & 1u;
    } else {
      const uint64_t w = (uint64_t{s} << 32) | d;
      r = static_cast<T>(w >> cnt);
      cf = static_cast<uint32_t>(d >> (cnt - 1)) & 1u;
    }
  } else {
    static_assert(n == 16);
    if constexpr (Left) {
      const uint64_t w = (uint64_t{d} << 32) | (uint64_t{s} << 16) | d;  // 48 bits
      r = static_cast<T>((w << cnt) >> 32);
      cf = static_cast<uint32_t>((w << (cnt - 1)) >> 47) & 1u;
    } else {
      const uint64_t w = (uint64_t{d} << 32) | (uint64_t{s} << 16) | d;
      r = static_cast<T>(w >> cnt);
      cf = static_cast<uint32_t>(w >> (cnt - 1)) & 1u;
    }
  }
  const uint32_t of = ((r ^ d) >> msb) & 1u;  // sign change (defined for a count of 1)
  return szp_flags<T>(r) | cf | (of << 11);
}

template <class T, class Dst, class Src, bool Left, bool ByCL>
const Insn* shxd(Cpu& c, const Insn* i) {
  const unsigned cnt = (ByCL ? c.s.regs[ECX] : i->imm) & 31;
  const uint32_t a = op_addr<Dst>(c, i);
  const T d = Dst::template get<T>(c, i, a);
  if (cnt == 0) return next(c, i);
  const T s = Src::template get<T>(c, i, a);
  T r;
  const uint32_t f = double_shift<T, Left>(d, s, cnt, r);
  Dst::template set<T>(c, i, a, r);
  set_arith(c, f);
  return next(c, i);
}

template <class T, bool Left, bool ByCL>
Handler select_shxd_sized(const DecodeCtx& x) {
  if (x.kind[1] != OpKind::Reg) return nullptr;
  if (x.kind[0] == OpKind::Reg) return &shxd<T, OpR0, OpR1, Left, ByCL>;
  if (x.kind[0] == OpKind::Mem) return &shxd<T, OpM, OpR0, Left, ByCL>;
  return nullptr;
}

template <bool Left>
Handler select_shxd(DecodeCtx& x) {
  if (x.nops != 3 || (x.insn.flags & INSN_LOCK)) return nullptr;
  const bool by_cl = x.kind[2] == OpKind::Reg;
  switch (x.size[0]) {
    case 2: return by_cl ? select_shxd_sized<uint16_t, Left, true>(x) : select_shxd_sized<uint16_t, Left, false>(x);
    case 4: return by_cl ? select_shxd_sized<uint32_t, Left, true>(x) : select_shxd_sized<uint32_t, Left, false>(x);
    default: return nullptr;
  }
}

}  // namespace

void register_shift(SelectorTable& t) {
  t[ZYDIS_MNEMONIC_ROL] = select_shift<ROL>;
  t[ZYDIS_MNEMONIC_ROR] = select_shift<ROR>;
  t[ZYDIS_MNEMONIC_RCL] = select_shift<RCL>;
  t[ZYDIS_MNEMONIC_RCR] = select_shift<RCR>;
  t[ZYDIS_MNEMONIC_SHL] = select_shift<SHL>;
  t[ZYDIS_MNEMONIC_SHR] = select_shift<SHR>;
  t[ZYDIS_MNEMONIC_SAR] = select_shift<SAR>;
  t[ZYDIS_MNEMONIC_SHLD] = select_shxd<true>;
  t[ZYDIS_MNEMONIC_SHRD] = select_shxd<false>;
}

}  // namespace vx86
