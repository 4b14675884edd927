// System instructions: LGDT/LIDT/SGDT/SIDT, LLDT/SLDT, LTR/STR, MOV to/from CR0-CR4 and DR0-DR7,
// LMSW/SMSW, CLTS, INVD/WBINVD, INVLPG, LAR/LSL/VERR/VERW, ARPL.
//
// Privileged ones raise #GP(0) unless CPL is 0 (real mode counts as CPL 0; virtual-8086 mode is
// CPL 3). The protected-mode-only ones (LLDT SLDT LTR STR LAR LSL VERR VERW ARPL) are #UD in real
// and virtual-8086 mode. Everything that changes the mode or the address space ends the block.
#include "emu/interp/common.h"
#include "emu/segmentation.h"

namespace vx86 {
namespace {

inline void require_cpl0(const Cpu& c) {
  if (c.s.cpl != 0) raise_fault(VEC_GP, 0);
}
inline void require_pm(const Cpu& c) {
  if (!c.protected_mode()) raise_fault(VEC_UD);
}
inline void set_zf(Cpu& c, bool z) { c.s.eflags = z ? (c.s.eflags | F_ZF) : (c.s.eflags & ~F_ZF); }

// r/m16 source operand (a selector): register r0 or memory.
template <class Src>
uint16_t get16(Cpu& c, const Insn* i) { return Src::template get<uint16_t>(c, i, op_addr<Src>(c, i)); }

// ---- LGDT / LIDT / SGDT / SIDT ----
template <bool Idt, bool Wide>
const Insn* lxdt(Cpu& c, const Insn* i) {
  require_cpl0(c);
  uint32_t a = ea(c, i);
  uint16_t limit = c.read<uint16_t>(i->seg, a);
  uint32_t base = c.read<uint32_t>(i->seg, a + 2);
  if (!Wide) base &= 0xFFFFFF;
  TableReg& t = Idt ? c.s.idtr : c.s.gdtr;
  t.base = base;
  t.limit = limit;
  return next(c, i);
}
template <bool Idt>
const Insn* sxdt(Cpu& c, const Insn* i) {
  uint32_t a = ea(c, i);
  const TableReg& t = Idt ? c.s.idtr : c.s.gdtr;
  // Both writes are checked before either lands (a fault leaves memory as it was).
  c.write<uint16_t>(i->seg, a, t.limit);
  c.write<uint32_t>(i->seg, a + 2, t.base);
  return next(c, i);
}
template <bool Idt>
Handler select_lxdt(DecodeCtx& x) {
  if (x.kind[0] != OpKind::Mem) return nullptr;
  return x.zi.operand_width == 32 ? &lxdt<Idt, true> : &lxdt<Idt, false>;
}
template <bool Idt>
Handler select_sxdt(DecodeCtx& x) {
  if (x.kind[0] != OpKind::Mem) return nullptr;
  return &sxdt<Idt>;
}

// ---- LLDT / SLDT / LTR / STR ----
template <class Src>
const Insn* lldt(Cpu& c, const Insn* i) {
  require_pm(c);
  require_cpl0(c);
  uint16_t sel = get16<Src>(c, i);
  if ((sel & 0xFFFC) == 0) {
    c.s.ldtr = SegReg{sel, 0, 0, 0};
    return next(c, i);
  }
  if (sel & 4) sel_fault(c, VEC_GP, sel);
  Desc d;
  if (!fetch_desc(c, sel, d) || !d.is_sys(SYS_LDT)) sel_fault(c, VEC_GP, sel);
  if (!d.present()) sel_fault(c, VEC_NP, sel);
  c.s.ldtr = SegReg{sel, d.attr(), d.base(), d.limit()};
  return next(c, i);
}
template <class Src>
const Insn* ltr(Cpu& c, const Insn* i) {
  require_pm(c);
  require_cpl0(c);
  uint16_t sel = get16<Src>(c, i);
  if ((sel & 0xFFFC) == 0) raise_fault(VEC_GP, 0);
  if (sel & 4) sel_fault(c, VEC_GP, sel);
  Desc d;
  if (!fetch_desc(c, sel, d) || !(d.is_sys(SYS_TSS16_AVAIL) || d.is_sys(SYS_TSS32_AVAIL))) sel_fault(c, VEC_GP, sel);
  if (!d.present()) sel_fault(c, VEC_NP, sel);
  uint32_t a;
  desc_addr(c, sel, a);
  d.hi |= 0x200;  // busy
  c.mmu.write_system<uint32_t>(a + 4, d.hi);
  c.s.tr = SegReg{sel, d.attr(), d.base(), d.limit()};
  return next(c, i);
}
// SLDT/STR: a 32-bit register destination gets the selector zero-extended; memory takes 16 bits.
template <bool Tr, class Dst, class T>
const Insn* sxxx(Cpu& c, const Insn* i) {
  require_pm(c);
  uint16_t v = Tr ? c.s.tr.sel : c.s.ldtr.sel;
  Dst::template set<T>(c, i, op_addr<Dst>(c, i), static_cast<T>(v));
  return next(c, i);
}
template <template <class> class H>
Handler rm16_form(DecodeCtx& x) {
  if (x.kind[0] == OpKind::Mem) return &H<OpM>::run;
  if (x.kind[0] == OpKind::Reg) return &H<OpR0>::run;
  return nullptr;
}
template <class S> struct LldtH { static const Insn* run(Cpu& c, const Insn* i) { return lldt<S>(c, i); } };
template <class S> struct LtrH { static const Insn* run(Cpu& c, const Insn* i) { return ltr<S>(c, i); } };
Handler select_lldt(DecodeCtx& x) {
  x.end_block = true;
  return rm16_form<LldtH>(x);
}
Handler select_ltr(DecodeCtx& x) { return rm16_form<LtrH>(x); }
template <bool Tr>
Handler select_sxxx(DecodeCtx& x) {
  if (x.kind[0] == OpKind::Mem) return &sxxx<Tr, OpM, uint16_t>;
  if (x.kind[0] != OpKind::Reg) return nullptr;
  return x.size[0] == 4 ? &sxxx<Tr, OpR0, uint32_t> : &sxxx<Tr, OpR0, uint16_t>;
}

// ---- control registers ----
constexpr uint32_t CR0_PE = 1, CR0_TS = 8, CR0_ET = 0x10, CR0_WP = 1u << 16, CR0_NW = 1u << 29,
                   CR0_CD = 1u << 30, CR0_PG = 1u << 31;
constexpr uint32_t CR0_VALID = 0x3F | CR0_WP | (1u << 18) | CR0_NW | CR0_CD | CR0_PG;
// CR4: TSD DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT (no VME/PVI: CPUID does not report VME).
constexpr uint32_t CR4_VALID = 0x7FC;

void write_cr0(Cpu& c, uint32_t v) {
  if ((v & CR0_PG) && !(v & CR0_PE)) raise_fault(VEC_GP, 0);
  if ((v & CR0_NW) && !(v & CR0_CD)) raise_fault(VEC_GP, 0);
  if (v & ~CR0_VALID) raise_fault(VEC_GP, 0);
  v |= CR0_ET;
  const uint32_t old = c.s.cr[0];
  c.s.cr[0] = v;
  if ((old ^ v) & (CR0_PE | CR0_PG | CR0_WP)) c.update_paging();
  if ((old ^ v) & CR0_PE) c.update_mode();
}

void write_cr(Cpu& c, unsigned n, uint32_t v) {
  switch (n) {
    case 0: write_cr0(c, v); break;
    case 2: c.s.cr[2] = v; break;
    case 3:
      c.s.cr[3] = v;
      c.mmu.set_cr3(v);
      break;
    case 4: {
      if (v & ~CR4_VALID) raise_fault(VEC_GP, 0);
      const uint32_t old = c.s.cr[4];
      c.s.cr[4] = v;
      if ((old ^ v) & 0xB0) c.update_paging();  // PSE PAE PGE
      break;
    }
    default: raise_fault(VEC_UD);
  }
}

const Insn* mov_to_cr(Cpu& c, const Insn* i) {
  require_cpl0(c);
  write_cr(c, i->r0, getr<uint32_t>(c, i->r1));
  return jump_to(c, next_eip(c, i));
}
const Insn* mov_from_cr(Cpu& c, const Insn* i) {
  require_cpl0(c);
  const unsigned n = i->r1;
  if (n == 1 || n > 4) raise_fault(VEC_UD);
  setr<uint32_t>(c, i->r0, c.s.cr[n]);
  return next(c, i);
}

// ---- debug registers ----
unsigned dr_index(const Cpu& c, unsigned n) {
  if (n == 4 || n == 5) {
    if (c.s.cr[4] & 8) raise_fault(VEC_UD);  // CR4.DE: DR4/DR5 are reserved
    return n + 2;
  }
  return n;
}
// DR7.GD: any debug register access is a #DB fault (DR6.BD) first; entering #DB clears GD.
void general_detect(Cpu& c) {
  if (!(c.s.dr[7] & DR7_GD)) return;
  c.s.dr[6] = (c.s.dr[6] & ~0xFu) | DR6_BD | 0xFFFF0FF0u;
  c.s.eflags |= F_RF;  // a fault: the image it saves has RF
  raise_fault(VEC_DB);
}
const Insn* mov_to_dr(Cpu& c, const Insn* i) {
  require_cpl0(c);
  const unsigned n = dr_index(c, i->r0);
  general_detect(c);
  uint32_t v = getr<uint32_t>(c, i->r1);
  if (n == 6) v = (v & 0xE00F) | 0xFFFF0FF0u;
  if (n == 7) v = (v & 0xFFFF2BFFu) | 0x400;
  c.s.dr[n] = v;
  if (n == 7) c.update_debug();
  return jump_to(c, next_eip(c, i));
}
const Insn* mov_from_dr(Cpu& c, const Insn* i) {
  require_cpl0(c);
  const unsigned n = dr_index(c, i->r1);
  general_detect(c);
  uint32_t v = c.s.dr[n];
  if (n == 6) v |= 0xFFFF0FF0u;
  if (n == 7) v |= 0x400;
  setr<uint32_t>(c, i->r0, v);
  return next(c, i);
}

Selector g_prev_mov = nullptr;

Handler select_mov_sys(DecodeCtx& x) {
  if (x.kind[0] == OpKind::Reg && x.kind[1] == OpKind::Reg) {
    auto c0 = x.reg_class(0), c1 = x.reg_class(1);
    auto id = [&](unsigned k) { return static_cast<uint16_t>(ZydisRegisterGetId(x.ops[k].reg.value)); };
    if (c0 == ZYDIS_REGCLASS_CONTROL || c0 == ZYDIS_REGCLASS_DEBUG) {
      x.end_block = true;
      x.insn.r0 = id(0);
      x.insn.r1 = reg_offset(id(1));
      return c0 == ZYDIS_REGCLASS_CONTROL ? &mov_to_cr : &mov_to_dr;
    }
    if (c1 == ZYDIS_REGCLASS_CONTROL || c1 == ZYDIS_REGCLASS_DEBUG) {
      x.insn.r0 = reg_offset(id(0));
      x.insn.r1 = id(1);
      return c1 == ZYDIS_REGCLASS_CONTROL ? &mov_from_cr : &mov_from_dr;
    }
  }
  return g_prev_mov ? g_prev_mov(x) : nullptr;
}

// ---- LMSW / SMSW / CLTS ----
template <class Src>
const Insn* lmsw(Cpu& c, const Insn* i) {
  require_cpl0(c);
  uint16_t v = get16<Src>(c, i);
  // Loads PE (it cannot clear it), MP, EM, TS.
  uint32_t cr0 = (c.s.cr[0] & ~0xEu) | (v & 0xF) | (c.s.cr[0] & 1);
  write_cr0(c, cr0);
  return jump_to(c, next_eip(c, i));
}
template <class S> struct LmswH { static const Insn* run(Cpu& c, const Insn* i) { return lmsw<S>(c, i); } };
Handler select_lmsw(DecodeCtx& x) {
  x.end_block = true;
  return rm16_form<LmswH>(x);
}
template <class Dst, class T>
const Insn* smsw(Cpu& c, const Insn* i) {
  Dst::template set<T>(c, i, op_addr<Dst>(c, i), static_cast<T>(c.s.cr[0]));
  return next(c, i);
}
Handler select_smsw(DecodeCtx& x) {
  if (x.kind[0] == OpKind::Mem) return &smsw<OpM, uint16_t>;
  if (x.kind[0] != OpKind::Reg) return nullptr;
  return x.size[0] == 4 ? &smsw<OpR0, uint32_t> : &smsw<OpR0, uint16_t>;
}
const Insn* clts(Cpu& c, const Insn* i) {
  require_cpl0(c);
  c.s.cr[0] &= ~CR0_TS;
  return next(c, i);
}
Handler select_clts(DecodeCtx&) { return &clts; }

// ---- INVD / WBINVD (no caches to manage), INVLPG ----
const Insn* invd(Cpu& c, const Insn* i) {
  require_cpl0(c);
  return next(c, i);
}
Handler select_invd(DecodeCtx&) { return &invd; }
const Insn* invlpg(Cpu& c, const Insn* i) {
  require_cpl0(c);
  c.mmu.invlpg(c.s.seg[i->seg].base + ea(c, i));
  return jump_to(c, next_eip(c, i));
}
Handler select_invlpg(DecodeCtx& x) {
  if (x.kind[0] != OpKind::Mem) return nullptr;
  x.end_block = true;
  return &invlpg;
}

// ---- LAR / LSL / VERR / VERW ----
// The privilege check shared by all four: for data and non-conforming code (and system
// descriptors) the DPL must be >= CPL and >= RPL.
bool visible(const Cpu& c, uint16_t sel, const Desc& d) {
  if (d.conforming()) return true;
  return d.dpl() >= c.s.cpl && d.dpl() >= (sel & 3u);
}

template <bool Lsl, class T, class Src>
const Insn* lar_lsl(Cpu& c, const Insn* i) {
  require_pm(c);
  uint16_t sel = get16<Src>(c, i);
  Desc d;
  bool ok = (sel & 0xFFFC) != 0 && fetch_desc(c, sel, d);
  if (ok && !d.s()) {
    const unsigned t = d.type();
    if (Lsl) ok = t == 1 || t == 2 || t == 3 || t == 9 || t == 11;
    else ok = t == 1 || t == 2 || t == 3 || t == 4 || t == 5 || t == 9 || t == 11 || t == 12;
  }
  if (ok) ok = visible(c, sel, d);
  if (ok) {
    uint32_t v = Lsl ? d.limit() : (d.hi & 0x00F0FF00u);
    setr<T>(c, i->r0, static_cast<T>(v));
  }
  set_zf(c, ok);
  return next(c, i);
}
template <bool Lsl>
Handler select_lar_lsl(DecodeCtx& x) {
  if (x.kind[0] != OpKind::Reg) return nullptr;
  const bool mem = x.kind[1] == OpKind::Mem;
  if (x.size[0] == 4) return mem ? &lar_lsl<Lsl, uint32_t, OpM> : &lar_lsl<Lsl, uint32_t, OpR1>;
  return mem ? &lar_lsl<Lsl, uint16_t, OpM> : &lar_lsl<Lsl, uint16_t, OpR1>;
}

template <bool Write, class Src>
const Insn* verx(Cpu& c, const Insn* i) {
  require_pm(c);
  uint16_t sel = get16<Src>(c, i);
  Desc d;
  bool ok = (sel & 0xFFFC) != 0 && fetch_desc(c, sel, d) && d.s() && visible(c, sel, d);
  if (ok) ok = Write ? d.writable() : d.readable();
  set_zf(c, ok);
  return next(c, i);
}
template <class S> struct VerrH { static const Insn* run(Cpu& c, const Insn* i) { return verx<false, S>(c, i); } };
template <class S> struct VerwH { static const Insn* run(Cpu& c, const Insn* i) { return verx<true, S>(c, i); } };
Handler select_verr(DecodeCtx& x) { return rm16_form<VerrH>(x); }
Handler select_verw(DecodeCtx& x) { return rm16_form<VerwH>(x); }

// ---- ARPL r/m16, r16 ----
template <class Dst>
const Insn* arpl(Cpu& c, const Insn* i) {
  require_pm(c);
  const uint32_t a = op_addr<Dst>(c, i);
  uint16_t dst = Dst::template get<uint16_t>(c, i, a);
  uint16_t src = getr<uint16_t>(c, Dst::is_mem ? i->r0 : i->r1);
  if ((dst & 3) < (src & 3)) {
    Dst::template set<uint16_t>(c, i, a, static_cast<uint16_t>((dst & ~3) | (src & 3)));
    set_zf(c, true);
  } else {
    set_zf(c, false);
  }
  return next(c, i);
}
Handler select_arpl(DecodeCtx& x) {
  if (x.kind[0] == OpKind::Mem) return &arpl<OpM>;
  if (x.kind[0] == OpKind::Reg) return &arpl<OpR0>;
  return nullptr;
}

}  // namespace

void register_system(SelectorTable& t) {
  g_prev_mov = t[ZYDIS_MNEMONIC_MOV];
  t[ZYDIS_MNEMONIC_MOV] = select_mov_sys;
  t[ZYDIS_MNEMONIC_LGDT] = select_lxdt<false>;
  t[ZYDIS_MNEMONIC_LIDT] = select_lxdt<true>;
  t[ZYDIS_MNEMONIC_SGDT] = select_sxdt<false>;
  t[ZYDIS_MNEMONIC_SIDT] = select_sxdt<true>;
  t[ZYDIS_MNEMONIC_LLDT] = select_lldt;
  t[ZYDIS_MNEMONIC_SLDT] = select_sxxx<false>;
  t[ZYDIS_MNEMONIC_LTR] = select_ltr;
  t[ZYDIS_MNEMONIC_STR] = select_sxxx<true>;
  t[ZYDIS_MNEMONIC_LMSW] = select_lmsw;
  t[ZYDIS_MNEMONIC_SMSW] = select_smsw;
  t[ZYDIS_MNEMONIC_CLTS] = select_clts;
  t[ZYDIS_MNEMONIC_INVD] = select_invd;
  t[ZYDIS_MNEMONIC_WBINVD] = select_invd;
  t[ZYDIS_MNEMONIC_INVLPG] = select_invlpg;
  t[ZYDIS_MNEMONIC_LAR] = select_lar_lsl<false>;
  t[ZYDIS_MNEMONIC_LSL] = select_lar_lsl<true>;
  t[ZYDIS_MNEMONIC_VERR] = select_verr;
  t[ZYDIS_MNEMONIC_VERW] = select_verw;
  t[ZYDIS_MNEMONIC_ARPL] = select_arpl;
}

}  // namespace vx86
