// Decimal adjust: DAA DAS AAA AAS AAM AAD.
//
// 286 and later (and the P6 modelled): SDM semantics, AAA/AAS carry into AH (AX +/- 0x106).
// 8086 model: AAA/AAS adjust AL alone and step AH; DAA/DAS compare the original AL with 0x9F
// instead of 0x99 when AF is set, and take CF from that comparison only (as captured from a
// P80C86A). AAM with a zero base raises #DE (8086: pushing the next instruction's address).
#include "emu/interp/common.h"

namespace vx86 {
namespace {

inline uint8_t al(const Cpu& c) { return static_cast<uint8_t>(c.s.regs[EAX]); }
inline uint8_t ah(const Cpu& c) { return static_cast<uint8_t>(c.s.regs[EAX] >> 8); }
inline void set_al(Cpu& c, uint8_t v) { setr<uint8_t>(c, reg8_offset(0), v); }
inline void set_ax(Cpu& c, uint16_t v) { set_reg<uint16_t>(c, EAX, v); }

// DAA (Sub = false) / DAS (Sub = true). OF is undefined: left unchanged.
template <bool Sub>
const Insn* decimal_adjust(Cpu& c, const Insn* i) {
  const uint8_t old_al = al(c);
  const bool old_cf = c.s.eflags & F_CF;
  const bool old_af = c.s.eflags & F_AF;
  uint8_t v = old_al;
  uint32_t f = 0;
  if (c.s.model != CpuModel::i8086) [[likely]] {
    if ((v & 0x0F) > 9 || old_af) {
      const bool carry = Sub ? (v < 6) : (v > 0xF9);
      v = static_cast<uint8_t>(Sub ? v - 6 : v + 6);
      f |= F_AF | ((old_cf || carry) ? uint32_t{F_CF} : 0u);
    }
    if (old_al > 0x99 || old_cf) {
      v = static_cast<uint8_t>(Sub ? v - 0x60 : v + 0x60);
      f |= F_CF;
    } else if (!Sub) {
      f &= ~F_CF;
    }
  } else {
    const uint8_t limit = old_af ? 0x9F : 0x99;
    if ((v & 0x0F) > 9 || old_af) {
      v = static_cast<uint8_t>(Sub ? v - 6 : v + 6);
      f |= F_AF;
    }
    if (old_al > limit || old_cf) {
      v = static_cast<uint8_t>(Sub ? v - 0x60 : v + 0x60);
      f |= F_CF;
    }
  }
  set_al(c, v);
  set_arith(c, f | szp_flags<uint8_t>(v), F_ARITH & ~F_OF);
  return next(c, i);
}

// AAA (Sub = false) / AAS (Sub = true). OF, SF, ZF and PF are undefined: left unchanged.
template <bool Sub>
const Insn* ascii_adjust(Cpu& c, const Insn* i) {
  const uint16_t ax = static_cast<uint16_t>(c.s.regs[EAX]);
  if ((ax & 0x0F) > 9 || (c.s.eflags & F_AF)) {
    uint16_t r;
    if (c.s.model != CpuModel::i8086) [[likely]] {
      r = static_cast<uint16_t>(Sub ? ax - 0x106 : ax + 0x106);
    } else {
      const uint8_t lo = static_cast<uint8_t>(Sub ? (ax & 0xFF) - 6 : (ax & 0xFF) + 6);
      const uint8_t hi = static_cast<uint8_t>(Sub ? (ax >> 8) - 1 : (ax >> 8) + 1);
      r = static_cast<uint16_t>((hi << 8) | lo);
    }
    set_ax(c, r & 0xFF0F);
    set_arith(c, F_AF | F_CF, F_AF | F_CF);
  } else {
    set_ax(c, ax & 0xFF0F);
    set_arith(c, 0, F_AF | F_CF);
  }
  return next(c, i);
}

// AAM imm8: AH = AL / base, AL = AL % base. OF, AF, CF undefined: cleared.
const Insn* aam(Cpu& c, const Insn* i) {
  const uint8_t base = static_cast<uint8_t>(i->imm);
  if (base == 0) [[unlikely]] {
    if (c.s.model == CpuModel::i8086) {
      set_arith(c, F_ZF | F_PF);  // the 8086 microcode tests the zero base before trapping
      c.software_interrupt(VEC_DE, next_eip(c, i));
      return nullptr;
    }
    raise_fault(VEC_DE);  // a fault: the flags stay as they were (the 286 leaves others behind)
  }
  const uint8_t a = al(c);
  const uint8_t lo = static_cast<uint8_t>(a % base);
  set_ax(c, static_cast<uint16_t>(((a / base) << 8) | lo));
  set_arith(c, szp_flags<uint8_t>(lo));
  return next(c, i);
}

// AAD imm8: AL = AL + AH * base, AH = 0. OF, AF, CF undefined: set as by the final 8-bit ADD.
const Insn* aad(Cpu& c, const Insn* i) {
  const uint8_t x = al(c);
  const uint8_t y = static_cast<uint8_t>(ah(c) * static_cast<uint8_t>(i->imm));
  const uint8_t r = static_cast<uint8_t>(x + y);
  set_ax(c, r);
  set_arith(c, add_flags<uint8_t>(x, y, r));
  return next(c, i);
}

Handler select_daa(DecodeCtx&) { return &decimal_adjust<false>; }
Handler select_das(DecodeCtx&) { return &decimal_adjust<true>; }
Handler select_aaa(DecodeCtx&) { return &ascii_adjust<false>; }
Handler select_aas(DecodeCtx&) { return &ascii_adjust<true>; }
Handler select_aam(DecodeCtx& x) { return x.kind[0] == OpKind::Imm ? &aam : nullptr; }
Handler select_aad(DecodeCtx& x) { return x.kind[0] == OpKind::Imm ? &aad : nullptr; }

}  // namespace

void register_bcd(SelectorTable& t) {
  t[ZYDIS_MNEMONIC_DAA] = select_daa;
  t[ZYDIS_MNEMONIC_DAS] = select_das;
  t[ZYDIS_MNEMONIC_AAA] = select_aaa;
  t[ZYDIS_MNEMONIC_AAS] = select_aas;
  t[ZYDIS_MNEMONIC_AAM] = select_aam;
  t[ZYDIS_MNEMONIC_AAD] = select_aad;
}

}  // namespace vx86
