// Processor control and I/O: HLT, NOP, flag operations (CLC/STC/CMC/CLD/STD/CLI/STI), IN/OUT,
// CPUID, and other single instructions that fit no other group.
#include "emu/interp/common.h"

#include "devices/port_bus.h"

namespace vx86 {
namespace {

const Insn* hlt(Cpu& c, const Insn* i) {
  c.s.halted = true;
  next(c, i);
  return nullptr;
}
const Insn* nop(Cpu& c, const Insn* i) { return next(c, i); }

// OUT imm8/DX, AL/AX/EAX. The block ends after any port access so device effects are seen.
template <class T, bool DX>
const Insn* out(Cpu& c, const Insn* i) {
  uint16_t port = DX ? static_cast<uint16_t>(c.s.regs[EDX]) : static_cast<uint16_t>(i->imm & 0xFF);
  c.io.write(port, static_cast<T>(c.s.regs[EAX]), sizeof(T));
  next(c, i);
  return nullptr;
}
template <class T, bool DX>
const Insn* in(Cpu& c, const Insn* i) {
  uint16_t port = DX ? static_cast<uint16_t>(c.s.regs[EDX]) : static_cast<uint16_t>(i->imm & 0xFF);
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

}  // namespace

void register_misc(SelectorTable& t) {
  t[ZYDIS_MNEMONIC_HLT] = select_hlt;
  t[ZYDIS_MNEMONIC_NOP] = select_nop;
  t[ZYDIS_MNEMONIC_IN] = select_io<true>;
  t[ZYDIS_MNEMONIC_OUT] = select_io<false>;
}

}  // namespace vx86
