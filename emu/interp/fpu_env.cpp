// x87 control instructions: FNINIT FNCLEX FLDCW FNSTCW FNSTSW, the environment and state images
// (FNSTENV/FLDENV, FNSAVE/FRSTOR in their 16- and 32-bit, real- and protected-mode formats),
// FXSAVE/FXRSTOR and FWAIT. None of them updates the last-instruction pointers.
//
// The FPU "no-wait" instructions (FNINIT FNCLEX FNSTSW FNSTCW FNSTENV FNSAVE) do not report a
// pending exception; the others here do (FXSAVE/FXRSTOR do not either).
#include "emu/interp/fpu_internal.h"

namespace vx86 {

using namespace x87;

namespace {

inline void put16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
inline void put32(uint8_t* p, uint32_t v) {
  put16(p, v);
  put16(p + 2, v >> 16);
}
inline uint32_t get16(const uint8_t* p) { return uint32_t{p[0]} | uint32_t{p[1]} << 8; }
inline uint32_t get32(const uint8_t* p) { return get16(p) | get16(p + 2) << 16; }

// Real-address and virtual-8086 mode use the real-mode image formats (20/32-bit linear pointers).
inline bool real_format(const Cpu& c) { return !(c.s.cr[0] & CR0_PE) || (c.s.eflags & F_VM); }

// Builds the 14- or 28-byte environment image.
void store_env(const Cpu& c, uint8_t* p, bool op32) {
  const FpuState& f = c.s.fpu;
  const uint16_t tw = full_tag_word(f);
  const bool real = real_format(c);
  const uint32_t lip = (uint32_t{f.fcs} << 4) + f.fip, ldp = (uint32_t{f.fds} << 4) + f.fdp;
  const uint32_t fop = f.fop & 0x7FFu;
  if (op32) {
    put32(p + 0, 0xFFFF0000u | f.cw);
    put32(p + 4, 0xFFFF0000u | f.sw);
    put32(p + 8, 0xFFFF0000u | tw);
    if (real) {
      put32(p + 12, 0xFFFF0000u | (lip & 0xFFFF));
      put32(p + 16, ((lip >> 16) & 0xFFFF) << 12 | fop);
      put32(p + 20, 0xFFFF0000u | (ldp & 0xFFFF));
      put32(p + 24, ((ldp >> 16) & 0xFFFF) << 12);
    } else {
      put32(p + 12, f.fip);
      put32(p + 16, fop << 16 | f.fcs);
      put32(p + 20, f.fdp);
      put32(p + 24, 0xFFFF0000u | f.fds);
    }
  } else {
    put16(p + 0, f.cw);
    put16(p + 2, f.sw);
    put16(p + 4, tw);
    if (real) {
      put16(p + 6, lip);
      put16(p + 8, ((lip >> 16) & 0xF) << 12 | fop);
      put16(p + 10, ldp);
      put16(p + 12, ((ldp >> 16) & 0xF) << 12);
    } else {
      put16(p + 6, f.fip);
      put16(p + 8, f.fcs);
      put16(p + 10, f.fdp);
      put16(p + 12, f.fds);
    }
  }
}

// Loads an environment image (the inverse of store_env). Real-mode pointers come back as linear
// addresses with a zero selector, so storing them again reproduces the image.
void load_env(Cpu& c, const uint8_t* p, bool op32) {
  FpuState& f = c.s.fpu;
  const bool real = real_format(c);
  if (op32) {
    f.cw = normalize_cw(static_cast<uint16_t>(get16(p + 0)));
    f.sw = static_cast<uint16_t>(get16(p + 4));
    f.tags = abridged_tags(static_cast<uint16_t>(get16(p + 8)));
    if (real) {
      f.fip = get16(p + 12) | ((get32(p + 16) >> 12) & 0xFFFF) << 16;
      f.fop = static_cast<uint16_t>(get32(p + 16) & 0x7FF);
      f.fdp = get16(p + 20) | ((get32(p + 24) >> 12) & 0xFFFF) << 16;
      f.fcs = f.fds = 0;
    } else {
      f.fip = get32(p + 12);
      f.fcs = static_cast<uint16_t>(get16(p + 16));
      f.fop = static_cast<uint16_t>(get16(p + 18) & 0x7FF);
      f.fdp = get32(p + 20);
      f.fds = static_cast<uint16_t>(get16(p + 24));
    }
  } else {
    f.cw = normalize_cw(static_cast<uint16_t>(get16(p + 0)));
    f.sw = static_cast<uint16_t>(get16(p + 2));
    f.tags = abridged_tags(static_cast<uint16_t>(get16(p + 4)));
    if (real) {
      f.fip = get16(p + 6) | (get16(p + 8) >> 12) << 16;
      f.fop = static_cast<uint16_t>(get16(p + 8) & 0x7FF);
      f.fdp = get16(p + 10) | (get16(p + 12) >> 12) << 16;
      f.fcs = f.fds = 0;
    } else {
      f.fip = get16(p + 6);
      f.fcs = static_cast<uint16_t>(get16(p + 8));
      f.fdp = get16(p + 10);
      f.fds = static_cast<uint16_t>(get16(p + 12));
    }
  }
  update_es(f);
}

template <bool Op32>
const Insn* fnstenv(Cpu& c, const Insn* i) {
  enter(c, false);
  constexpr unsigned N = Op32 ? 28 : 14;
  uint8_t img[N];
  store_env(c, img, Op32);
  write_mem(c, i->seg, ea(c, i), img, N);
  c.s.fpu.cw |= FPU_EXC;  // FNSTENV masks all exceptions afterwards
  return next(c, i);
}
template <bool Op32>
const Insn* fldenv(Cpu& c, const Insn* i) {
  enter(c, true);
  constexpr unsigned N = Op32 ? 28 : 14;
  uint8_t img[N];
  read_mem(c, i->seg, ea(c, i), img, N);
  load_env(c, img, Op32);
  return next(c, i);
}
template <bool Op32>
const Insn* fnsave(Cpu& c, const Insn* i) {
  enter(c, false);
  constexpr unsigned E = Op32 ? 28 : 14, N = E + 80;
  uint8_t img[N];
  store_env(c, img, Op32);
  FpuState& f = c.s.fpu;
  for (unsigned k = 0; k < 8; ++k) std::memcpy(img + E + 10 * k, st(f, k), 10);
  write_mem(c, i->seg, ea(c, i), img, N);
  finit(f);
  return next(c, i);
}
template <bool Op32>
const Insn* frstor(Cpu& c, const Insn* i) {
  enter(c, true);
  constexpr unsigned E = Op32 ? 28 : 14, N = E + 80;
  uint8_t img[N];
  read_mem(c, i->seg, ea(c, i), img, N);
  load_env(c, img, Op32);
  FpuState& f = c.s.fpu;
  for (unsigned k = 0; k < 8; ++k) std::memcpy(st(f, k), img + E + 10 * k, 10);
  return next(c, i);
}

const Insn* fldcw(Cpu& c, const Insn* i) {
  enter(c, true);
  const uint16_t v = c.read<uint16_t>(i->seg, ea(c, i));
  FpuState& f = c.s.fpu;
  f.cw = normalize_cw(v);
  update_es(f);
  return next(c, i);
}
const Insn* fnstcw(Cpu& c, const Insn* i) {
  enter(c, false);
  c.write<uint16_t>(i->seg, ea(c, i), c.s.fpu.cw);
  return next(c, i);
}
const Insn* fnstsw_m16(Cpu& c, const Insn* i) {
  enter(c, false);
  c.write<uint16_t>(i->seg, ea(c, i), c.s.fpu.sw);
  return next(c, i);
}
const Insn* fnstsw_ax(Cpu& c, const Insn* i) {
  enter(c, false);
  set_reg<uint16_t>(c, EAX, c.s.fpu.sw);
  return next(c, i);
}
const Insn* fnclex(Cpu& c, const Insn* i) {
  enter(c, false);
  c.s.fpu.sw &= static_cast<uint16_t>(~(FPU_EXC | FPU_SF | FPU_ES | FPU_B));
  c.s.fpu.ferr = 0;
  return next(c, i);
}
const Insn* fninit(Cpu& c, const Insn* i) {
  enter(c, false);
  finit(c.s.fpu);
  return next(c, i);
}

// FWAIT: #NM only when CR0.TS and CR0.MP are both set (EM does not matter), then the pending
// exception check.
const Insn* fwait(Cpu& c, const Insn* i) {
  const uint32_t cr0 = c.s.cr[0];
  if ((cr0 & (CR0_TS | CR0_MP)) == (CR0_TS | CR0_MP)) raise_fault(VEC_NM);
  if (c.s.fpu.sw & FPU_ES) {
    if (cr0 & CR0_NE) raise_fault(VEC_MF);
    assert_ferr(c);
  }
  return next(c, i);
}

// ---- FXSAVE / FXRSTOR: the 512-byte image; only bytes 0-159 (x87 state, MXCSR) are touched
// until SSE exists. The operand must be 16-byte aligned (#GP(0) otherwise, in every mode).
constexpr uint32_t MXCSR_MASK = 0x0000FFBFu;

const Insn* fxsave(Cpu& c, const Insn* i) {
  if (c.s.cr[0] & (CR0_EM | CR0_TS)) raise_fault(VEC_NM);
  const uint32_t a = ea(c, i);
  if (a & 15) raise_fault(VEC_GP, 0);
  const FpuState& f = c.s.fpu;
  uint8_t img[160] = {};
  put16(img + 0, f.cw);
  put16(img + 2, f.sw);
  img[4] = f.tags;
  put16(img + 6, f.fop & 0x7FFu);
  put32(img + 8, f.fip);
  put16(img + 12, f.fcs);
  put32(img + 16, f.fdp);
  put16(img + 20, f.fds);
  put32(img + 24, f.mxcsr);
  put32(img + 28, MXCSR_MASK);
  for (unsigned k = 0; k < 8; ++k) std::memcpy(img + 32 + 16 * k, f.st[(top(f) + k) & 7], 10);
  write_mem(c, i->seg, a, img, sizeof img);
  return next(c, i);
}

const Insn* fxrstor(Cpu& c, const Insn* i) {
  if (c.s.cr[0] & (CR0_EM | CR0_TS)) raise_fault(VEC_NM);
  const uint32_t a = ea(c, i);
  if (a & 15) raise_fault(VEC_GP, 0);
  uint8_t img[160];
  read_mem(c, i->seg, a, img, sizeof img);
  const uint32_t mxcsr = get32(img + 24);
  if (mxcsr & ~MXCSR_MASK) raise_fault(VEC_GP, 0);
  FpuState& f = c.s.fpu;
  f.cw = normalize_cw(static_cast<uint16_t>(get16(img + 0)));
  f.sw = static_cast<uint16_t>(get16(img + 2));
  f.tags = img[4];
  f.fop = static_cast<uint16_t>(get16(img + 6) & 0x7FF);
  f.fip = get32(img + 8);
  f.fcs = static_cast<uint16_t>(get16(img + 12));
  f.fdp = get32(img + 16);
  f.fds = static_cast<uint16_t>(get16(img + 20));
  f.mxcsr = mxcsr;
  for (unsigned k = 0; k < 8; ++k) std::memcpy(f.st[(top(f) + k) & 7], img + 32 + 16 * k, 10);
  return next(c, i);
}

Handler select_fwait(DecodeCtx&) { return &fwait; }
Handler select_fxsave(DecodeCtx& x) { return x.kind[0] == OpKind::Mem ? &fxsave : nullptr; }
Handler select_fxrstor(DecodeCtx& x) { return x.kind[0] == OpKind::Mem ? &fxrstor : nullptr; }

}  // namespace

Handler fpu_fldenv_handler(const Insn& in) { return in.imm >= 28 ? &fldenv<true> : &fldenv<false>; }
Handler fpu_fnstenv_handler(const Insn& in) { return in.imm >= 28 ? &fnstenv<true> : &fnstenv<false>; }
Handler fpu_frstor_handler(const Insn& in) { return in.imm >= 108 ? &frstor<true> : &frstor<false>; }
Handler fpu_fnsave_handler(const Insn& in) { return in.imm >= 108 ? &fnsave<true> : &fnsave<false>; }
Handler fpu_fldcw_handler() { return &fldcw; }
Handler fpu_fnstcw_handler() { return &fnstcw; }
Handler fpu_fnstsw_m16_handler() { return &fnstsw_m16; }
Handler fpu_fnstsw_ax_handler() { return &fnstsw_ax; }
Handler fpu_fnclex_handler() { return &fnclex; }
Handler fpu_fninit_handler() { return &fninit; }

void register_fpu_control(SelectorTable& t) {
  t[ZYDIS_MNEMONIC_FWAIT] = select_fwait;
  t[ZYDIS_MNEMONIC_FXSAVE] = select_fxsave;
  t[ZYDIS_MNEMONIC_FXRSTOR] = select_fxrstor;
}

}  // namespace vx86
