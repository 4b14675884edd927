// The P6 additions to the integer set: CMOVcc, CMPXCHG, CMPXCHG8B, XADD, BSWAP, RDTSC,
// RDMSR/WRMSR, SYSENTER/SYSEXIT, CPUID, UD2, PAUSE and the hint NOPs (0F 18-0F 1F).
//
// Read-modify-write forms (CMPXCHG, CMPXCHG8B, XADD) write memory before any register, so a fault
// on the write leaves the registers untouched (precise). LOCK is accepted on their memory forms
// only, which then run through locked<> (emu/interp/locked_rmw.h).
#include "emu/cpuid.h"
#include "emu/interp/locked_rmw.h"
#include "emu/msr.h"

namespace vx86 {
namespace {

// ---- CMOVcc r, r/m: the source is read (and may fault) whatever the condition ----
template <class T, class Src, unsigned CC>
const Insn* cmov(Cpu& c, const Insn* i) {
  const T v = Src::template get<T>(c, i, op_addr<Src>(c, i));
  if (cond(c, CC)) setr<T>(c, i->r0, v);
  return next(c, i);
}

template <class T, unsigned CC>
Handler select_cmov_sized(const DecodeCtx& x) {
  if (x.kind[1] == OpKind::Reg) return &cmov<T, OpR1, CC>;
  if (x.kind[1] == OpKind::Mem) return &cmov<T, OpM, CC>;
  return nullptr;
}

template <unsigned CC>
Handler select_cmov(DecodeCtx& x) {
  if (x.nops != 2 || x.kind[0] != OpKind::Reg || (x.insn.flags & INSN_LOCK)) return nullptr;
  x.insn.aux = CC;
  switch (x.size[0]) {
    case 2: return select_cmov_sized<uint16_t, CC>(x);
    case 4: return select_cmov_sized<uint32_t, CC>(x);
    default: return nullptr;
  }
}

// ---- CMPXCHG r/m, r: compare the accumulator with the destination (flags as CMP acc, dest);
// equal: dest <- src; else acc <- dest. The destination is written either way (with its own value
// on a mismatch), as the SDM says, so a read-only destination faults even when the compare fails.
template <class T, class Dst, class Src>
const Insn* cmpxchg(Cpu& c, const Insn* i) {
  const uint32_t a = op_addr<Dst>(c, i);
  const T d = Dst::template get<T>(c, i, a);
  const T src = Src::template get<T>(c, i, a);
  const T acc = getr<T>(c, reg_offset(EAX));  // AL, AX and EAX all start at offset 0
  const T r = static_cast<T>(acc - d);
  const uint32_t f = sub_flags<T>(acc, d, r);
  if (acc == d) {
    Dst::template set<T>(c, i, a, src);
  } else {
    Dst::template set<T>(c, i, a, d);
    setr<T>(c, reg_offset(EAX), d);
  }
  set_arith(c, f);
  return next(c, i);
}

// ---- XADD r/m, r: tmp = dest + src; src <- dest; dest <- tmp (flags as ADD). With the same
// register on both sides the register ends up holding the sum.
template <class T, class Dst, class Src>
const Insn* xadd(Cpu& c, const Insn* i) {
  const uint32_t a = op_addr<Dst>(c, i);
  const T d = Dst::template get<T>(c, i, a);
  const T s = Src::template get<T>(c, i, a);
  const T r = static_cast<T>(d + s);
  if constexpr (Dst::is_mem) {
    Dst::template set<T>(c, i, a, r);  // the memory write may fault: first
    Src::template set<T>(c, i, a, d);
  } else {
    Src::template set<T>(c, i, a, d);
    Dst::template set<T>(c, i, a, r);
  }
  set_arith(c, add_flags<T>(d, s, r));
  return next(c, i);
}

// CMPXCHG and XADD: r/m, reg. Register forms keep the destination in r0 and the source in r1;
// memory forms have their only register (the source) in r0.
template <template <class, class, class> class H>
struct RmwForms {
  template <class T>
  static Handler pick(const DecodeCtx& x) {
    if (x.kind[0] == OpKind::Reg) return &H<T, OpR0, OpR1>::run;
    if (x.kind[0] == OpKind::Mem && (x.insn.flags & INSN_LOCK)) return &locked<&H<T, OpMLocked, OpR0>::run>;
    if (x.kind[0] == OpKind::Mem) return &H<T, OpM, OpR0>::run;
    return nullptr;
  }
};
template <class T, class Dst, class Src>
struct CmpxchgH {
  static const Insn* run(Cpu& c, const Insn* i) { return cmpxchg<T, Dst, Src>(c, i); }
};
template <class T, class Dst, class Src>
struct XaddH {
  static const Insn* run(Cpu& c, const Insn* i) { return xadd<T, Dst, Src>(c, i); }
};

template <template <class, class, class> class H>
Handler select_rmw(DecodeCtx& x) {
  if (x.nops != 2 || x.kind[1] != OpKind::Reg) return nullptr;
  if ((x.insn.flags & INSN_LOCK) && x.kind[0] != OpKind::Mem) return nullptr;
  switch (x.size[0]) {
    case 1: return RmwForms<H>::template pick<uint8_t>(x);
    case 2: return RmwForms<H>::template pick<uint16_t>(x);
    case 4: return RmwForms<H>::template pick<uint32_t>(x);
    default: return nullptr;
  }
}

// ---- CMPXCHG8B m64: EDX:EAX == m64 ? (m64 <- ECX:EBX, ZF = 1) : (EDX:EAX <- m64, ZF = 0).
// Only ZF changes. The destination is always written. The high dword is written first with its
// old value: if either half cannot be written, the fault comes before memory changes.
const Insn* cmpxchg8b(Cpu& c, const Insn* i) {
  const uint32_t a = ea(c, i);
  const uint32_t lo = c.read<uint32_t>(i->seg, a);
  const uint32_t hi = c.read<uint32_t>(i->seg, a + 4);
  const bool eq = lo == c.s.regs[EAX] && hi == c.s.regs[EDX];
  c.write<uint32_t>(i->seg, a + 4, hi);
  c.write<uint32_t>(i->seg, a, eq ? c.s.regs[EBX] : lo);
  c.write<uint32_t>(i->seg, a + 4, eq ? c.s.regs[ECX] : hi);
  if (eq) {
    c.s.eflags |= F_ZF;
  } else {
    c.s.regs[EAX] = lo;
    c.s.regs[EDX] = hi;
    c.s.eflags &= ~F_ZF;
  }
  return next(c, i);
}
// LOCK CMPXCHG8B with atomic_rmw: one 64-bit compare-and-swap (the plain path otherwise).
const Insn* cmpxchg8b_locked(Cpu& c, const Insn* i) {
  if (!c.atomic_rmw) return cmpxchg8b(c, i);
  const uint32_t a = ea(c, i);
  const uint64_t m = locked_read<uint64_t>(c, i->seg, a);
  if (!c.lk.host) return cmpxchg8b(c, i);  // not plain RAM: as on one thread, under the device lock
  const uint64_t cmp = (uint64_t{c.s.regs[EDX]} << 32) | c.s.regs[EAX];
  const bool eq = m == cmp;
  locked_write<uint64_t>(c, i->seg, a, eq ? (uint64_t{c.s.regs[ECX]} << 32) | c.s.regs[EBX] : m);
  if (eq) {
    c.s.eflags |= F_ZF;
  } else {
    c.s.regs[EAX] = static_cast<uint32_t>(m);
    c.s.regs[EDX] = static_cast<uint32_t>(m >> 32);
    c.s.eflags &= ~F_ZF;
  }
  return next(c, i);
}
Handler select_cmpxchg8b(DecodeCtx& x) {
  // The register form (mod = 3) is #UD; Zydis already rejects it.
  if (x.nops != 1 || x.kind[0] != OpKind::Mem || x.size[0] != 8) return nullptr;
  return (x.insn.flags & INSN_LOCK) ? &locked<&cmpxchg8b_locked> : &cmpxchg8b;
}

// ---- BSWAP r32. With a 16-bit operand the SDM leaves the result undefined; Intel and AMD
// processors clear the register's low 16 bits (checked against the host in diff32_test).
template <class T>
const Insn* bswap(Cpu& c, const Insn* i) {
  if constexpr (sizeof(T) == 4) setr<uint32_t>(c, i->r0, __builtin_bswap32(getr<uint32_t>(c, i->r0)));
  else setr<uint16_t>(c, i->r0, 0);
  return next(c, i);
}
Handler select_bswap(DecodeCtx& x) {
  if (x.nops != 1 || x.kind[0] != OpKind::Reg) return nullptr;
  return x.size[0] == 4 ? &bswap<uint32_t> : x.size[0] == 2 ? &bswap<uint16_t> : nullptr;
}

// ---- RDTSC: EDX:EAX <- TSC. #GP(0) at CPL > 0 when CR4.TSD is set. It ends its block, so the
// run loop's instruction count (which the TSC follows) includes it and nothing after it.
const Insn* rdtsc(Cpu& c, const Insn* i) {
  if ((c.s.cr[4] & CR4_TSD) && c.s.cpl > 0) raise_fault(VEC_GP, 0);
  const uint64_t t = read_tsc(c);
  c.s.regs[EAX] = static_cast<uint32_t>(t);
  c.s.regs[EDX] = static_cast<uint32_t>(t >> 32);
  return next(c, i);
}
Handler select_rdtsc(DecodeCtx& x) {
  x.end_block = true;
  return &rdtsc;
}

// ---- RDMSR / WRMSR: ECX selects the MSR (emu/msr.cpp); CPL 0 only. ----
const Insn* rdmsr(Cpu& c, const Insn* i) {
  uint64_t v;
  if (c.s.cpl != 0 || !msr_read(c, c.s.regs[ECX], v)) raise_fault(VEC_GP, 0);
  c.s.regs[EAX] = static_cast<uint32_t>(v);
  c.s.regs[EDX] = static_cast<uint32_t>(v >> 32);
  return next(c, i);
}
const Insn* wrmsr(Cpu& c, const Insn* i) {
  const uint64_t v = (uint64_t{c.s.regs[EDX]} << 32) | c.s.regs[EAX];
  if (c.s.cpl != 0 || !msr_write(c, c.s.regs[ECX], v)) raise_fault(VEC_GP, 0);
  next(c, i);
  return nullptr;  // EFER.NXE and the TSC may have changed: back to the run loop
}
Handler select_rdmsr(DecodeCtx&) { return &rdmsr; }
Handler select_wrmsr(DecodeCtx& x) {
  x.end_block = true;
  return &wrmsr;
}

// ---- SYSENTER / SYSEXIT: flat 4 GiB segments derived from IA32_SYSENTER_CS, no descriptor
// table access (SDM Vol. 2B). ----
void load_flat(Cpu& c, unsigned seg, uint16_t sel, bool code, unsigned dpl) {
  // Present, S, accessed, DPL; code: execute/read; data: read/write; G = 1, D/B = 1.
  const uint16_t access = static_cast<uint16_t>(0x91 | (dpl << 5) | (code ? 0x0A : 0x02));
  c.s.seg[seg] = SegReg{sel, static_cast<uint16_t>(0xC000 | access), 0, 0xFFFFFFFFu};
}
void set_privilege(Cpu& c, unsigned cpl) {
  c.s.cpl = static_cast<uint8_t>(cpl);
  c.mmu.set_user(cpl == 3);
  c.update_mode();
}

const Insn* sysenter(Cpu& c, const Insn*) {
  const uint16_t cs = static_cast<uint16_t>(c.s.msr.sysenter_cs);
  if (!(c.s.cr[0] & 1) || (cs & 0xFFFC) == 0) raise_fault(VEC_GP, 0);
  c.s.eflags &= ~(F_VM | F_IF | F_RF);
  load_flat(c, CS, cs & 0xFFFC, true, 0);
  load_flat(c, SS, static_cast<uint16_t>((cs & 0xFFFC) + 8), false, 0);
  set_privilege(c, 0);
  c.s.regs[ESP] = c.s.msr.sysenter_esp;
  return jump_to(c, c.s.msr.sysenter_eip);
}
const Insn* sysexit(Cpu& c, const Insn*) {
  const uint16_t cs = static_cast<uint16_t>(c.s.msr.sysenter_cs);
  if (!(c.s.cr[0] & 1) || (cs & 0xFFFC) == 0 || c.s.cpl != 0 || (c.s.eflags & F_VM)) raise_fault(VEC_GP, 0);
  load_flat(c, CS, static_cast<uint16_t>((cs + 16) | 3), true, 3);
  load_flat(c, SS, static_cast<uint16_t>((cs + 24) | 3), false, 3);
  set_privilege(c, 3);
  c.s.regs[ESP] = c.s.regs[ECX];
  return jump_to(c, c.s.regs[EDX]);
}
Handler select_sysenter(DecodeCtx& x) {
  x.end_block = true;
  return &sysenter;
}
Handler select_sysexit(DecodeCtx& x) {
  x.end_block = true;
  return &sysexit;
}

// ---- CPUID: the data lives in emu/cpuid.cpp ----
const Insn* cpuid(Cpu& c, const Insn* i) {
  CpuidResult r = cpuid_leaf(c.s.regs[EAX]);
  // The APIC bit follows the APIC: present on the board and enabled in IA32_APIC_BASE (as a P6's).
  if (c.s.regs[EAX] == 1 && c.has_apic && (c.s.msr.apic_base & 0x800)) r.edx |= CPUID_APIC;
  if (c.s.regs[EAX] == 1 && c.has_apic) r.ebx |= uint32_t{c.apic_id} << 24;  // initial APIC ID
  c.s.regs[EAX] = r.eax;
  c.s.regs[EBX] = r.ebx;
  c.s.regs[ECX] = r.ecx;
  c.s.regs[EDX] = r.edx;
  return next(c, i);
}
Handler select_cpuid(DecodeCtx&) { return &cpuid; }

// ---- UD2, PAUSE, hint NOPs ----
Handler select_ud2(DecodeCtx&) { return &op_ud; }

// PAUSE (F3 90) and the hint NOPs 0F 18-0F 1F (PREFETCHh on later CPUs): no memory access, so a
// memory operand never faults. The multi-byte NOP 0F 1F /0 decodes as NOP (emu/interp/misc.cpp).
const Insn* hint_nop(Cpu& c, const Insn* i) { return next(c, i); }
// PAUSE ends its block: with several CPUs time-sliced it also ends the slice, so a spin-wait
// loop lets the CPU it waits for run (a lock released just before a PAUSE is taken by another
// CPU, as on hardware), as QEMU's round-robin TCG does.
const Insn* pause(Cpu& c, const Insn* i) {
  if (c.yield_on_pause) c.s.exit_request = true;
  return next(c, i);
}
Handler select_hint_nop(DecodeCtx& x) {
  if (x.insn.flags & INSN_LOCK) return nullptr;
  if (x.insn.mnem == ZYDIS_MNEMONIC_PAUSE) {
    x.end_block = true;
    return &pause;
  }
  return &hint_nop;
}

}  // namespace

void register_p6(SelectorTable& t) {
  t[ZYDIS_MNEMONIC_CMOVO] = select_cmov<0>;
  t[ZYDIS_MNEMONIC_CMOVNO] = select_cmov<1>;
  t[ZYDIS_MNEMONIC_CMOVB] = select_cmov<2>;
  t[ZYDIS_MNEMONIC_CMOVNB] = select_cmov<3>;
  t[ZYDIS_MNEMONIC_CMOVZ] = select_cmov<4>;
  t[ZYDIS_MNEMONIC_CMOVNZ] = select_cmov<5>;
  t[ZYDIS_MNEMONIC_CMOVBE] = select_cmov<6>;
  t[ZYDIS_MNEMONIC_CMOVNBE] = select_cmov<7>;
  t[ZYDIS_MNEMONIC_CMOVS] = select_cmov<8>;
  t[ZYDIS_MNEMONIC_CMOVNS] = select_cmov<9>;
  t[ZYDIS_MNEMONIC_CMOVP] = select_cmov<10>;
  t[ZYDIS_MNEMONIC_CMOVNP] = select_cmov<11>;
  t[ZYDIS_MNEMONIC_CMOVL] = select_cmov<12>;
  t[ZYDIS_MNEMONIC_CMOVNL] = select_cmov<13>;
  t[ZYDIS_MNEMONIC_CMOVLE] = select_cmov<14>;
  t[ZYDIS_MNEMONIC_CMOVNLE] = select_cmov<15>;
  t[ZYDIS_MNEMONIC_CMPXCHG] = select_rmw<CmpxchgH>;
  t[ZYDIS_MNEMONIC_XADD] = select_rmw<XaddH>;
  t[ZYDIS_MNEMONIC_CMPXCHG8B] = select_cmpxchg8b;
  t[ZYDIS_MNEMONIC_BSWAP] = select_bswap;
  t[ZYDIS_MNEMONIC_RDTSC] = select_rdtsc;
  t[ZYDIS_MNEMONIC_RDMSR] = select_rdmsr;
  t[ZYDIS_MNEMONIC_WRMSR] = select_wrmsr;
  t[ZYDIS_MNEMONIC_SYSENTER] = select_sysenter;
  t[ZYDIS_MNEMONIC_SYSEXIT] = select_sysexit;
  t[ZYDIS_MNEMONIC_CPUID] = select_cpuid;
  t[ZYDIS_MNEMONIC_UD2] = select_ud2;
  t[ZYDIS_MNEMONIC_PAUSE] = select_hint_nop;
  t[ZYDIS_MNEMONIC_PREFETCHNTA] = select_hint_nop;
  t[ZYDIS_MNEMONIC_PREFETCHT0] = select_hint_nop;
  t[ZYDIS_MNEMONIC_PREFETCHT1] = select_hint_nop;
  t[ZYDIS_MNEMONIC_PREFETCHT2] = select_hint_nop;
}

}  // namespace vx86
