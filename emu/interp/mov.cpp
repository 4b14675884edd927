// Data movement: MOV (GPR, memory, immediate, segment registers), MOVZX/MOVSX, LEA, XCHG,
// LDS/LES/LSS/LFS/LGS, XLAT, CBW/CWDE/CWD/CDQ, LAHF/SAHF.
#include "emu/interp/locked_rmw.h"
#include "emu/segmentation.h"

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

// MOV Sreg, r/m16 (through load_seg: real, V86 and protected mode). Loading CS is #UD; SS
// inhibits interrupts for one instruction.
template <class Src>
const Insn* mov_to_sreg(Cpu& c, const Insn* i) {
  uint16_t v = Src::template get<uint16_t>(c, i, op_addr<Src>(c, i));
  load_seg(c, i->r0, v);
  if (i->r0 == SS) c.s.int_shadow = c.ss_loaded = true;
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


// ---- MOVZX / MOVSX: D is the destination width, S the source width ----
template <class D, class S, class Src, bool Signed>
const Insn* movx(Cpu& c, const Insn* i) {
  S v = Src::template get<S>(c, i, op_addr<Src>(c, i));
  D r;
  if constexpr (Signed) r = static_cast<D>(static_cast<std::make_signed_t<D>>(static_cast<std::make_signed_t<S>>(v)));
  else r = static_cast<D>(v);
  setr<D>(c, i->r0, r);
  return next(c, i);
}

template <bool Signed, class D, class S>
Handler movx_form(const DecodeCtx& x) {
  return x.kind[1] == OpKind::Mem ? &movx<D, S, OpM, Signed> : &movx<D, S, OpR1, Signed>;
}

template <bool Signed>
Handler select_movx(DecodeCtx& x) {
  if (x.kind[0] != OpKind::Reg) return nullptr;
  if (x.size[0] == 2 && x.size[1] == 1) return movx_form<Signed, uint16_t, uint8_t>(x);
  if (x.size[0] == 2 && x.size[1] == 2) return movx_form<Signed, uint16_t, uint16_t>(x);
  if (x.size[0] == 4 && x.size[1] == 1) return movx_form<Signed, uint32_t, uint8_t>(x);
  if (x.size[0] == 4 && x.size[1] == 2) return movx_form<Signed, uint32_t, uint16_t>(x);
  return nullptr;
}

// ---- XCHG (90+r, 86/87 reg and memory forms). The memory form reads, then writes, then sets the
// register; it is locked with or without the prefix (emu/interp/locked_rmw.h). ----
template <class T>
const Insn* xchg_rr(Cpu& c, const Insn* i) {
  T a = getr<T>(c, i->r0), b = getr<T>(c, i->r1);
  setr<T>(c, i->r0, b);
  setr<T>(c, i->r1, a);
  return next(c, i);
}
template <class T>
const Insn* xchg_mr(Cpu& c, const Insn* i) {  // r0 is the register operand
  uint32_t a = ea(c, i);
  T m = OpMLocked::get<T>(c, i, a);
  OpMLocked::set<T>(c, i, a, getr<T>(c, i->r0));
  setr<T>(c, i->r0, m);
  return next(c, i);
}
Handler select_xchg(DecodeCtx& x) {
  const bool mem = x.kind[0] == OpKind::Mem || x.kind[1] == OpKind::Mem;
  switch (x.size[0]) {
    case 1: return mem ? &locked<&xchg_mr<uint8_t>> : &xchg_rr<uint8_t>;
    case 2: return mem ? &locked<&xchg_mr<uint16_t>> : &xchg_rr<uint16_t>;
    case 4: return mem ? &locked<&xchg_mr<uint32_t>> : &xchg_rr<uint32_t>;
    default: return nullptr;
  }
}

// ---- LDS LES LSS LFS LGS: offset (16/32 bits) then the selector. The segment load (which may
// fault) comes before the register changes. LSS inhibits interrupts for one instruction, like
// MOV SS. The segment index is in aux. ----
template <class T>
const Insn* load_far(Cpu& c, const Insn* i) {
  uint32_t a = ea(c, i);
  T off = c.read<T>(i->seg, a);
  uint16_t sel = c.read<uint16_t>(i->seg, a + sizeof(T));
  load_seg(c, i->aux, sel);
  setr<T>(c, i->r0, off);
  if (i->aux == SS) c.s.int_shadow = true;
  return next(c, i);
}
template <unsigned Seg>
Handler select_load_far(DecodeCtx& x) {
  if (x.kind[0] != OpKind::Reg || x.kind[1] != OpKind::Mem) return nullptr;
  x.insn.aux = Seg;
  if (Seg == SS) x.end_block = true;
  return x.size[0] == 4 ? &load_far<uint32_t> : &load_far<uint16_t>;
}

// ---- XLAT: AL <- seg:[(E)BX + AL] (address size wraps the sum) ----
const Insn* xlat(Cpu& c, const Insn* i) {
  uint32_t a = (c.s.regs[EBX] + (c.s.regs[EAX] & 0xFF)) & i->amask;
  set_reg<uint8_t>(c, EAX, c.read<uint8_t>(i->seg, a));
  return next(c, i);
}

// ---- CBW/CWDE, CWD/CDQ ----
const Insn* cbw(Cpu& c, const Insn* i) {
  set_reg<uint16_t>(c, EAX, static_cast<uint16_t>(static_cast<int8_t>(c.s.regs[EAX])));
  return next(c, i);
}
const Insn* cwde(Cpu& c, const Insn* i) {
  c.s.regs[EAX] = static_cast<uint32_t>(static_cast<int32_t>(static_cast<int16_t>(c.s.regs[EAX])));
  return next(c, i);
}
const Insn* cwd(Cpu& c, const Insn* i) {
  set_reg<uint16_t>(c, EDX, (c.s.regs[EAX] & 0x8000) ? 0xFFFF : 0);
  return next(c, i);
}
const Insn* cdq(Cpu& c, const Insn* i) {
  c.s.regs[EDX] = (c.s.regs[EAX] & 0x80000000u) ? 0xFFFFFFFFu : 0;
  return next(c, i);
}

// ---- LAHF / SAHF: AH <-> SF ZF AF PF CF (bit 1 reads as 1, bits 3 and 5 as 0) ----
constexpr uint32_t AHF_MASK = F_SF | F_ZF | F_AF | F_PF | F_CF;
const Insn* lahf(Cpu& c, const Insn* i) {
  setr<uint8_t>(c, reg8_offset(4), static_cast<uint8_t>((c.s.eflags & AHF_MASK) | F_BIT1));
  return next(c, i);
}
const Insn* sahf(Cpu& c, const Insn* i) {
  c.s.eflags = (c.s.eflags & ~AHF_MASK) | ((c.s.regs[EAX] >> 8) & AHF_MASK);
  return next(c, i);
}

Handler select_xlat(DecodeCtx&) { return &xlat; }
Handler select_cbw(DecodeCtx&) { return &cbw; }
Handler select_cwde(DecodeCtx&) { return &cwde; }
Handler select_cwd(DecodeCtx&) { return &cwd; }
Handler select_cdq(DecodeCtx&) { return &cdq; }
Handler select_lahf(DecodeCtx&) { return &lahf; }
Handler select_sahf(DecodeCtx&) { return &sahf; }

}  // namespace

void register_mov(SelectorTable& t) {
  t[ZYDIS_MNEMONIC_MOV] = select_mov;
  t[ZYDIS_MNEMONIC_LEA] = select_lea;
  t[ZYDIS_MNEMONIC_MOVZX] = select_movx<false>;
  t[ZYDIS_MNEMONIC_MOVSX] = select_movx<true>;
  t[ZYDIS_MNEMONIC_XCHG] = select_xchg;
  t[ZYDIS_MNEMONIC_LDS] = select_load_far<DS>;
  t[ZYDIS_MNEMONIC_LES] = select_load_far<ES>;
  t[ZYDIS_MNEMONIC_LSS] = select_load_far<SS>;
  t[ZYDIS_MNEMONIC_LFS] = select_load_far<FS>;
  t[ZYDIS_MNEMONIC_LGS] = select_load_far<GS>;
  t[ZYDIS_MNEMONIC_XLAT] = select_xlat;
  t[ZYDIS_MNEMONIC_CBW] = select_cbw;
  t[ZYDIS_MNEMONIC_CWDE] = select_cwde;
  t[ZYDIS_MNEMONIC_CWD] = select_cwd;
  t[ZYDIS_MNEMONIC_CDQ] = select_cdq;
  t[ZYDIS_MNEMONIC_LAHF] = select_lahf;
  t[ZYDIS_MNEMONIC_SAHF] = select_sahf;
}

}  // namespace vx86
