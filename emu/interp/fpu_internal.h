// Shared helpers of the x87 handlers (fpu.cpp, fpu_env.cpp): the register stack, the exception
// protocol, CR0 checks and memory operand transfer. See docs/fpu.md.
#pragma once
#include <cstring>

#include "emu/interp/common.h"
#include "emu/interp/fpu_backend.h"

namespace vx86::x87 {

enum : uint32_t { CR0_MP = 1u << 1, CR0_EM = 1u << 2, CR0_TS = 1u << 3, CR0_NE = 1u << 5, CR0_PE = 1u << 0 };
enum : uint16_t { COND = FPU_C0 | FPU_C1 | FPU_C2 | FPU_C3 };

inline constexpr uint8_t INDEFINITE[10] = {0, 0, 0, 0, 0, 0, 0, 0xC0, 0xFF, 0xFF};

inline unsigned top(const FpuState& f) { return (f.sw >> 11) & 7; }
inline void set_top(FpuState& f, unsigned t) { f.sw = static_cast<uint16_t>((f.sw & ~0x3800u) | ((t & 7u) << 11)); }
inline unsigned phys(const FpuState& f, unsigned i) { return (top(f) + i) & 7; }
inline bool empty(const FpuState& f, unsigned i) { return !((f.tags >> phys(f, i)) & 1); }
inline uint8_t* st(FpuState& f, unsigned i) { return f.st[phys(f, i)]; }
inline void set_st(FpuState& f, unsigned i, const uint8_t* v) {
  unsigned p = phys(f, i);
  std::memcpy(f.st[p], v, 10);
  f.tags = static_cast<uint8_t>(f.tags | (1u << p));
}
inline void push(FpuState& f, const uint8_t* v) {
  unsigned t = (top(f) - 1) & 7;
  std::memcpy(f.st[t], v, 10);
  f.tags = static_cast<uint8_t>(f.tags | (1u << t));
  set_top(f, t);
}
inline void pop(FpuState& f) {
  f.tags = static_cast<uint8_t>(f.tags & ~(1u << top(f)));
  set_top(f, top(f) + 1);
}
inline void set_cond(FpuState& f, uint16_t mask, uint16_t bits) {
  f.sw = static_cast<uint16_t>((f.sw & ~mask) | (bits & mask));
}

// Records exception flags; an unmasked one sets ES and B (the error summary, reported at the next
// waiting FPU instruction). Returns true when the instruction must not deliver its result: an
// unmasked invalid-operation, denormal-operand or divide-by-zero exception.
inline bool signal(FpuState& f, uint16_t exc) {
  exc &= FPU_EXC | FPU_SF;
  f.sw |= exc;
  const uint16_t unmasked = exc & ~f.cw & FPU_EXC;
  if (unmasked) f.sw |= FPU_ES | FPU_B;
  return unmasked & (FPU_IE | FPU_DE | FPU_ZE);
}
// Stack underflow (an empty source) or overflow (a push onto a full stack): IE + SF, C1 = 0 or 1.
// Returns true when IE is masked, i.e. the instruction goes on with the indefinite value.
inline bool stack_fault(FpuState& f, bool overflow) {
  set_cond(f, FPU_C1, overflow ? FPU_C1 : 0);
  signal(f, FPU_IE | FPU_SF);
  return f.cw & FPU_IE;
}

// FERR# goes active (once per pending error; FNCLEX/FNINIT release it).
inline void assert_ferr(Cpu& c) {
  if (c.s.fpu.ferr) return;
  c.s.fpu.ferr = 1;
  if (c.on_ferr) c.on_ferr();
}

// The checks every FPU instruction starts with: CR0.EM or CR0.TS -> #NM; for waiting instructions
// a pending unmasked exception (ES) -> #MF with CR0.NE = 1, or FERR# (IRQ13 path) with CR0.NE = 0.
inline void enter(Cpu& c, bool waiting) {
  const uint32_t cr0 = c.s.cr[0];
  if (cr0 & (CR0_EM | CR0_TS)) [[unlikely]] raise_fault(VEC_NM);
  if (waiting && (c.s.fpu.sw & FPU_ES)) [[unlikely]] {
    if (cr0 & CR0_NE) raise_fault(VEC_MF);
    // Legacy reporting: FERR# goes to the board, which latches it onto IRQ13; the instruction
    // proceeds as if IGNNE# were asserted. See docs/fpu.md.
    assert_ferr(c);
  }
}

// Last instruction/operand pointers, updated by non-control instructions (fop in Insn::imm2).
inline void record(Cpu& c, const Insn* i) {
  FpuState& f = c.s.fpu;
  f.fop = i->imm2;
  f.fip = c.s.eip;
  f.fcs = c.s.seg[CS].sel;
}
inline void record_mem(Cpu& c, const Insn* i, uint32_t addr) {
  record(c, i);
  c.s.fpu.fdp = addr;
  c.s.fpu.fds = c.s.seg[i->seg].sel;
}

// Memory operands of any even size, in 32/16-bit pieces (offsets are not wrapped: an operand
// crossing the segment limit faults, as on hardware).
inline void read_mem(Cpu& c, unsigned seg, uint32_t a, uint8_t* buf, unsigned n) {
  unsigned k = 0;
  for (; k + 4 <= n; k += 4) {
    uint32_t v = c.read<uint32_t>(seg, a + k);
    std::memcpy(buf + k, &v, 4);
  }
  if (k < n) {
    uint16_t v = c.read<uint16_t>(seg, a + k);
    std::memcpy(buf + k, &v, 2);
  }
}
// Writes the last piece first, so a limit or page fault at the end of the operand happens before
// any byte is written.
inline void write_mem(Cpu& c, unsigned seg, uint32_t a, const uint8_t* buf, unsigned n) {
  auto piece = [&](unsigned k, unsigned len) {
    if (len == 4) {
      uint32_t v;
      std::memcpy(&v, buf + k, 4);
      c.write<uint32_t>(seg, a + k, v);
    } else {
      uint16_t v;
      std::memcpy(&v, buf + k, 2);
      c.write<uint16_t>(seg, a + k, v);
    }
  };
  if (n > 4) piece(n - 2, 2);
  unsigned k = 0;
  for (; k + 4 <= n; k += 4) piece(k, 4);
  if (k < n) piece(k, 2);
}

// Full 2-bit tag of a non-empty register from its contents: 0 valid, 1 zero, 2 special.
inline unsigned content_tag(const uint8_t* v) {
  uint16_t se;
  uint64_t m;
  std::memcpy(&m, v, 8);
  std::memcpy(&se, v + 8, 2);
  const unsigned e = se & 0x7FFF;
  if (e == 0x7FFF) return 2;
  if (e == 0) return m == 0 ? 1 : 2;
  return (m >> 63) ? 0 : 2;  // unnormal: special
}
inline uint16_t full_tag_word(const FpuState& f) {
  uint16_t tw = 0;
  for (unsigned r = 0; r < 8; ++r) {
    unsigned t = ((f.tags >> r) & 1) ? content_tag(f.st[r]) : 3;
    tw = static_cast<uint16_t>(tw | (t << (2 * r)));
  }
  return tw;
}
inline uint8_t abridged_tags(uint16_t tw) {
  uint8_t t = 0;
  for (unsigned r = 0; r < 8; ++r)
    if (((tw >> (2 * r)) & 3) != 3) t = static_cast<uint8_t>(t | (1u << r));
  return t;
}

inline uint16_t normalize_cw(uint16_t v) { return static_cast<uint16_t>((v & 0x1F3F) | 0x0040); }
// ES and B follow the exception flags and masks.
inline void update_es(FpuState& f) {
  if (f.sw & ~f.cw & FPU_EXC) f.sw |= FPU_ES | FPU_B;
  else f.sw &= static_cast<uint16_t>(~(FPU_ES | FPU_B));
}

inline void finit(FpuState& f) {
  f.cw = 0x037F;
  f.sw = 0;
  f.tags = 0;
  f.fop = 0;
  f.fip = f.fdp = 0;
  f.fcs = f.fds = 0;
  f.ferr = 0;
}

}  // namespace vx86::x87

namespace vx86 {
// Control-instruction handlers (fpu_env.cpp), chosen by fpu.cpp's D8-DF decoder. The Insn's imm
// holds the memory operand size in bytes, which tells the 16- and 32-bit image formats apart.
Handler fpu_fldenv_handler(const Insn& in);
Handler fpu_fnstenv_handler(const Insn& in);
Handler fpu_frstor_handler(const Insn& in);
Handler fpu_fnsave_handler(const Insn& in);
Handler fpu_fldcw_handler();
Handler fpu_fnstcw_handler();
Handler fpu_fnstsw_m16_handler();
Handler fpu_fnstsw_ax_handler();
Handler fpu_fnclex_handler();
Handler fpu_fninit_handler();
void register_fpu_control(SelectorTable& t);  // FWAIT, FXSAVE, FXRSTOR
}  // namespace vx86
