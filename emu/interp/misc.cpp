// Processor control and I/O: HLT, NOP, flag operations (CLC/STC/CMC/CLD/STD/CLI/STI), IN/OUT,
// and other single instructions that fit no other group. CPUID and PAUSE are in p6.cpp.
#include "emu/interp/common.h"
#include "emu/segmentation.h"

#include "devices/port_bus.h"

namespace vx86 {
namespace {

const Insn* hlt(Cpu& c, const Insn* i) {
  if (c.s.cpl != 0) raise_fault(VEC_GP, 0);
  c.s.halted = true;
  next(c, i);
  return nullptr;
}
const Insn* nop(Cpu& c, const Insn* i) { return next(c, i); }

// OUT imm8/DX, AL/AX/EAX. The block ends after any port access so device effects are seen.
template <class T, bool DX>
const Insn* out(Cpu& c, const Insn* i) {
  uint16_t port = DX ? static_cast<uint16_t>(c.s.regs[EDX]) : static_cast<uint16_t>(i->imm & 0xFF);
  check_io(c, port, sizeof(T));
  c.io.write(port, static_cast<T>(c.s.regs[EAX]), sizeof(T));
  next(c, i);
  return nullptr;
}
template <class T, bool DX>
const Insn* in(Cpu& c, const Insn* i) {
  uint16_t port = DX ? static_cast<uint16_t>(c.s.regs[EDX]) : static_cast<uint16_t>(i->imm & 0xFF);
  check_io(c, port, sizeof(T));
  T v = static_cast<T>(c.io.read(port, sizeof(T)));
  set_reg<T>(c, EAX, v);
  next(c, i);
  return nullptr;
}

template <bool IsIn>
Handler select_io(DecodeCtx& x) {
  // IN acc, port / OUT port, acc
  unsigned acc = IsIn ? 0 : 1, port = IsIn ? 1 : 0;
  bool dx = x.kind[port] == OpKind::Reg;
  switch (x.size[acc]) {
    case 1: return dx ? (IsIn ? &in<uint8_t, true> : &out<uint8_t, true>) : (IsIn ? &in<uint8_t, false> : &out<uint8_t, false>);
    case 2: return dx ? (IsIn ? &in<uint16_t, true> : &out<uint16_t, true>) : (IsIn ? &in<uint16_t, false> : &out<uint16_t, false>);
    case 4: return dx ? (IsIn ? &in<uint32_t, true> : &out<uint32_t, true>) : (IsIn ? &in<uint32_t, false> : &out<uint32_t, false>);
    default: return nullptr;
  }
}

Handler select_hlt(DecodeCtx&) { return &hlt; }
Handler select_nop(DecodeCtx&) { return &nop; }


// ---- flag operations ----
template <uint32_t Clear, uint32_t Set, uint32_t Toggle>
const Insn* flag_op(Cpu& c, const Insn* i) {
  c.s.eflags = ((c.s.eflags & ~Clear) | Set) ^ Toggle;
  return next(c, i);
}
// STI: interrupts stay blocked until after the next instruction when IF goes 0 -> 1. The
// selector ends the block so the run loop sees the new IF.
// CLI/STI are IOPL-sensitive in protected and virtual-8086 mode (CPL > IOPL: #GP(0); no VME/PVI).
inline void check_iopl(const Cpu& c) {
  if (c.pe() && c.s.cpl > c.iopl()) raise_fault(VEC_GP, 0);
}
const Insn* cli(Cpu& c, const Insn* i) {
  check_iopl(c);
  c.s.eflags &= ~F_IF;
  return next(c, i);
}
Handler select_cli(DecodeCtx&) { return &cli; }
const Insn* sti(Cpu& c, const Insn* i) {
  check_iopl(c);
  if (!(c.s.eflags & F_IF)) c.s.int_shadow = true;
  c.s.eflags |= F_IF;
  return next(c, i);
}
template <uint32_t Clear, uint32_t Set, uint32_t Toggle>
Handler select_flag_op(DecodeCtx&) { return &flag_op<Clear, Set, Toggle>; }
Handler select_sti(DecodeCtx& x) {
  x.end_block = true;
  return &sti;
}

// ---- BOUND r, m: #BR (a fault) unless lower <= index <= upper, signed ----
template <class T>
const Insn* bound(Cpu& c, const Insn* i) {
  using S = std::make_signed_t<T>;
  uint32_t a = ea(c, i);
  S lo = static_cast<S>(c.read<T>(i->seg, a));
  S hi = static_cast<S>(c.read<T>(i->seg, a + sizeof(T)));
  S idx = static_cast<S>(getr<T>(c, i->r0));
  if (idx < lo || idx > hi) raise_fault(VEC_BR);
  return next(c, i);
}
Handler select_bound(DecodeCtx& x) {
  if (x.kind[0] != OpKind::Reg || x.kind[1] != OpKind::Mem) return nullptr;
  return x.size[0] == 4 ? &bound<uint32_t> : &bound<uint16_t>;
}

// ---- SALC (D6, undocumented): AL <- CF ? FF : 00, flags unchanged ----
const Insn* salc(Cpu& c, const Insn* i) {
  set_reg<uint8_t>(c, EAX, (c.s.eflags & F_CF) ? 0xFF : 0x00);
  return next(c, i);
}
Handler select_salc(DecodeCtx&) { return &salc; }

}  // namespace

void register_misc(SelectorTable& t) {
  t[ZYDIS_MNEMONIC_HLT] = select_hlt;
  t[ZYDIS_MNEMONIC_NOP] = select_nop;
  t[ZYDIS_MNEMONIC_FWAIT] = select_nop;  // no FPU yet: WAIT checks nothing
  t[ZYDIS_MNEMONIC_IN] = select_io<true>;
  t[ZYDIS_MNEMONIC_OUT] = select_io<false>;
  t[ZYDIS_MNEMONIC_CLC] = select_flag_op<F_CF, 0, 0>;
  t[ZYDIS_MNEMONIC_STC] = select_flag_op<0, F_CF, 0>;
  t[ZYDIS_MNEMONIC_CMC] = select_flag_op<0, 0, F_CF>;
  t[ZYDIS_MNEMONIC_CLD] = select_flag_op<F_DF, 0, 0>;
  t[ZYDIS_MNEMONIC_STD] = select_flag_op<0, F_DF, 0>;
  t[ZYDIS_MNEMONIC_CLI] = select_cli;
  t[ZYDIS_MNEMONIC_STI] = select_sti;
  t[ZYDIS_MNEMONIC_BOUND] = select_bound;
  t[ZYDIS_MNEMONIC_SALC] = select_salc;
}

}  // namespace vx86
