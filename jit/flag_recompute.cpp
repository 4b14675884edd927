#include "jit/flag_recompute.h"

#include <cstddef>

namespace vx86 {

using namespace asmjit;

namespace {

x86::Gp sized(unsigned id, unsigned size) {
  if (size == 1) return x86::gpb_lo(id);
  if (size == 2) return x86::gpw(id);
  return x86::gpd(id);
}

}  // namespace

void emit_recompute(x86::Assembler& as, CcKind kind, unsigned size, const Operand& a, const Operand& b,
                    const x86::Mem& carry) {
  const x86::Gp ax = sized(x86::Gp::kIdAx, size), cx = sized(x86::Gp::kIdCx, size);
  namespace I = x86::Inst;
  switch (kind) {
    case CC_ADD:  // the destination was result - source: add again
      as.emit(I::kIdMov, ax, a);
      as.emit(I::kIdSub, ax, b);
      as.emit(I::kIdAdd, ax, b);
      break;
    case CC_SUB:
      as.emit(I::kIdMov, ax, a);
      as.emit(I::kIdAdd, ax, b);
      as.emit(I::kIdSub, ax, b);
      break;
    case CC_CMP:
      as.emit(I::kIdMov, ax, a);
      as.emit(I::kIdCmp, ax, b);
      break;
    case CC_LOGIC:
      as.emit(I::kIdMov, ax, a);
      as.test(ax, ax);
      break;
    case CC_TEST:
      as.emit(I::kIdMov, ax, a);
      if (b.isMem())
        as.emit(I::kIdTest, b, ax);
      else
        as.emit(I::kIdTest, ax, b);
      break;
    case CC_ADD_ORIG:  // b = the destination before, a = the result: the source is a - b
      as.emit(I::kIdMov, ax, b);
      as.emit(I::kIdMov, cx, a);
      as.emit(I::kIdSub, cx, ax);
      as.emit(I::kIdAdd, ax, cx);
      break;
    case CC_SUB_ORIG:  // the source is b - a
      as.emit(I::kIdMov, ax, b);
      as.emit(I::kIdMov, cx, ax);
      as.emit(I::kIdSub, cx, a);
      as.emit(I::kIdCmp, ax, cx);
      break;
    case CC_INC:  // the value before, CF from b, then INC again (it keeps CF)
    case CC_DEC:
      as.emit(I::kIdMov, ax, a);
      as.emit(kind == CC_INC ? I::kIdSub : I::kIdAdd, ax, imm(1));
      as.bt(b.as<x86::Mem>().cloneResized(4), 0);
      as.emit(kind == CC_INC ? I::kIdInc : I::kIdDec, ax);
      break;
    case CC_ADC:  // the destination before was result - source - carry: then ADC again
    case CC_SBB:
      as.emit(I::kIdMov, ax, a);
      as.bt(carry, 0);
      as.emit(kind == CC_ADC ? I::kIdSbb : I::kIdAdc, ax, b);
      as.bt(carry, 0);
      as.emit(kind == CC_ADC ? I::kIdAdc : I::kIdSbb, ax, b);
      break;
    default:
      break;
  }
}

void emit_flags_to_r11(x86::Assembler& as, Label to_r11) {
  auto st = [](size_t off, unsigned size) { return x86::ptr(x86::rbx, static_cast<int32_t>(off), size); };
  // to_r11: a jump table indexed by kind | size << 4 (sizes 1, 2, 4): 128 entries.
  Label table = as.newLabel(), none = as.newLabel(), bad = as.newLabel();
  Label cases[CC_KINDS][3];
  as.bind(to_r11);
  as.mov(x86::eax, st(offsetof(CpuState, cc_op), 4));
  as.mov(x86::ecx, x86::eax);
  as.shr(x86::ecx, 4);
  as.and_(x86::eax, 0xFF);
  as.or_(x86::eax, x86::ecx);
  as.and_(x86::eax, 127);
  as.lea(x86::rcx, x86::ptr(table));
  as.jmp(x86::ptr(x86::rcx, x86::rax, 3));
  as.bind(none);  // cc_op = 0: EFLAGS has them
  as.mov(x86::r11d, st(offsetof(CpuState, eflags), 4));
  as.ret();
  static constexpr unsigned kSizes[3] = {1, 2, 4};
  for (unsigned k = 1; k < CC_KINDS; ++k) {
    for (unsigned s = 0; s < 3; ++s) {
      const unsigned size = kSizes[s];
      const CcKind kind = static_cast<CcKind>(k);
      cases[k][s] = as.newLabel();
      as.bind(cases[k][s]);
      emit_recompute(as, kind, size, st(offsetof(CpuState, cc_a), size), st(offsetof(CpuState, cc_b), size),
                     st(offsetof(CpuState, cc_carry), 4));
      as.pushfq();
      as.pop(x86::r11);
      if (kind == CC_LOGIC || kind == CC_TEST) as.and_(x86::r11d, ~uint32_t{F_AF});  // P6: AF is 0
      as.ret();
    }
  }
  as.bind(bad);  // cc_op is only ever set by generated code, to valid values: not reached
  as.ud2();

  as.align(AlignMode::kData, 8);
  as.bind(table);
  for (unsigned idx = 0; idx < 128; ++idx) {
    const unsigned kind = idx & 15, sz = idx >> 4;
    const int s = sz == 1 ? 0 : sz == 2 ? 1 : sz == 4 ? 2 : -1;
    if (kind == 0)
      as.embedLabel(none);
    else if (kind < CC_KINDS && s >= 0)
      as.embedLabel(cases[kind][s]);
    else
      as.embedLabel(bad);
  }
}

}  // namespace vx86
