// Control transfer: JMP, Jcc, JCXZ/JECXZ, LOOP/LOOPE/LOOPNE, CALL, RET, far forms, INT/INTO/INT3,
// IRET.
#include "emu/interp/common.h"

namespace vx86 {
namespace {

// Relative targets wrap at the operand size (16-bit IP in 16-bit code).
inline uint32_t rel_target(const Cpu& c, const Insn* i) {
  uint32_t t = next_eip(c, i) + i->imm;
  return i->opsize == 2 ? (t & 0xFFFF) : t;
}

const Insn* jmp_rel(Cpu& c, const Insn* i) { return jump_to(c, rel_target(c, i)); }

const Insn* jcc(Cpu& c, const Insn* i) {
  return jump_to(c, cond(c, i->aux) ? rel_target(c, i) : next_eip(c, i));
}

Handler select_jmp(DecodeCtx& x) {
  if (x.kind[0] == OpKind::Imm && x.ops[0].imm.is_relative) return &jmp_rel;
  return nullptr;
}

template <unsigned CC>
Handler select_jcc(DecodeCtx& x) {
  x.insn.aux = CC;
  return &jcc;
}

}  // namespace

void register_control(SelectorTable& t) {
  t[ZYDIS_MNEMONIC_JMP] = select_jmp;
  t[ZYDIS_MNEMONIC_JO] = select_jcc<0>;
  t[ZYDIS_MNEMONIC_JNO] = select_jcc<1>;
  t[ZYDIS_MNEMONIC_JB] = select_jcc<2>;
  t[ZYDIS_MNEMONIC_JNB] = select_jcc<3>;
  t[ZYDIS_MNEMONIC_JZ] = select_jcc<4>;
  t[ZYDIS_MNEMONIC_JNZ] = select_jcc<5>;
  t[ZYDIS_MNEMONIC_JBE] = select_jcc<6>;
  t[ZYDIS_MNEMONIC_JNBE] = select_jcc<7>;
  t[ZYDIS_MNEMONIC_JS] = select_jcc<8>;
  t[ZYDIS_MNEMONIC_JNS] = select_jcc<9>;
  t[ZYDIS_MNEMONIC_JP] = select_jcc<10>;
  t[ZYDIS_MNEMONIC_JNP] = select_jcc<11>;
  t[ZYDIS_MNEMONIC_JL] = select_jcc<12>;
  t[ZYDIS_MNEMONIC_JNL] = select_jcc<13>;
  t[ZYDIS_MNEMONIC_JLE] = select_jcc<14>;
  t[ZYDIS_MNEMONIC_JNLE] = select_jcc<15>;
}

}  // namespace vx86
