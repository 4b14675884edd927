// Shared building blocks for instruction handlers: register and memory operand access, effective
// addresses, EFLAGS computation and the "advance to the next instruction" step.
//
// Handler contract (see emu/insn.h): do every access that can fault first, then change state, then
// `return next(c, i)` (falls through to the next Insn of the block) or set EIP and `return nullptr`.
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "emu/cpu.h"
#include "emu/decoder.h"

namespace vx86 {

// ---- registers (Insn::r0 / r1 are byte offsets into CpuState) ----
template <class T>
inline T getr(const Cpu& c, uint16_t off) {
  T v;
  std::memcpy(&v, reinterpret_cast<const uint8_t*>(&c.s) + off, sizeof(T));
  return v;
}
template <class T>
inline void setr(Cpu& c, uint16_t off, T v) {
  std::memcpy(reinterpret_cast<uint8_t*>(&c.s) + off, &v, sizeof(T));
}
// 16-bit writes keep the upper half of the 32-bit register, as on hardware.
template <class T>
inline T reg(const Cpu& c, unsigned r) { return static_cast<T>(c.s.regs[r]); }
template <class T>
inline void set_reg(Cpu& c, unsigned r, T v) { setr<T>(c, reg_offset(r), v); }

// ---- effective address ----
inline uint32_t ea(const Cpu& c, const Insn* i) {
  return (c.s.regs[i->base] + (c.s.regs[i->index] << i->scale) + i->disp) & i->amask;
}

// ---- advancing ----
inline const Insn* next(Cpu& c, const Insn* i) {
  c.s.eip = (c.s.eip + i->len) & c.s.ip_mask;
  return i + 1;
}
inline uint32_t next_eip(const Cpu& c, const Insn* i) { return (c.s.eip + i->len) & c.s.ip_mask; }
// Ends the block at a new EIP (branches): the run loop looks up the next block.
inline const Insn* jump_to(Cpu& c, uint32_t eip) {
  c.s.eip = eip;
  return nullptr;
}

// ---- operand policies: Dst/Src template arguments of handlers ----
struct OpR0 {  // first register operand
  template <class T> static T get(Cpu& c, const Insn* i, uint32_t) { return getr<T>(c, i->r0); }
  template <class T> static void set(Cpu& c, const Insn* i, uint32_t, T v) { setr<T>(c, i->r0, v); }
  static constexpr bool is_mem = false;
};
struct OpR1 {  // second register operand
  template <class T> static T get(Cpu& c, const Insn* i, uint32_t) { return getr<T>(c, i->r1); }
  template <class T> static void set(Cpu& c, const Insn* i, uint32_t, T v) { setr<T>(c, i->r1, v); }
  static constexpr bool is_mem = false;
};
struct OpM {  // the memory operand; `a` is its effective address, computed once per instruction
  template <class T> static T get(Cpu& c, const Insn* i, uint32_t a) { return c.read<T>(i->seg, a); }
  template <class T> static void set(Cpu& c, const Insn* i, uint32_t a, T v) { c.write<T>(i->seg, a, v); }
  static constexpr bool is_mem = true;
};
struct OpI {  // immediate
  template <class T> static T get(Cpu&, const Insn* i, uint32_t) { return static_cast<T>(i->imm); }
  static constexpr bool is_mem = false;
};
template <class Op>
inline uint32_t op_addr(const Cpu& c, const Insn* i) {
  if constexpr (Op::is_mem) return ea(c, i);
  else return 0;
}

// ---- EFLAGS ----
extern const uint8_t parity_table[256];  // F_PF if the byte has even parity

template <class T>
constexpr uint32_t msb_shift() { return sizeof(T) * 8 - 1; }

template <class T>
inline uint32_t szp_flags(T r) {
  uint32_t f = parity_table[static_cast<uint8_t>(r)];
  if (r == 0) f |= F_ZF;
  f |= (static_cast<uint32_t>(r >> msb_shift<T>()) & 1) << 7;  // SF
  return f;
}
// a + b + carry = r
template <class T>
inline uint32_t add_flags(T a, T b, T r) {
  uint32_t f = szp_flags(r);
  f |= static_cast<uint32_t>(((a & b) | ((a | b) & ~r)) >> msb_shift<T>()) & 1;         // CF
  f |= (static_cast<uint32_t>(((a ^ r) & (b ^ r)) >> msb_shift<T>()) & 1) << 11;          // OF
  f |= (a ^ b ^ r) & F_AF;
  return f;
}
// a - b - borrow = r
template <class T>
inline uint32_t sub_flags(T a, T b, T r) {
  uint32_t f = szp_flags(r);
  f |= static_cast<uint32_t>(((~a & b) | ((~a | b) & r)) >> msb_shift<T>()) & 1;        // CF
  f |= (static_cast<uint32_t>(((a ^ b) & (a ^ r)) >> msb_shift<T>()) & 1) << 11;         // OF
  f |= (a ^ b ^ r) & F_AF;
  return f;
}
// Logic ops: CF = OF = 0, AF undefined (P6 clears it).
template <class T>
inline uint32_t logic_flags(T r) { return szp_flags(r); }

inline void set_arith(Cpu& c, uint32_t f, uint32_t mask = F_ARITH) {
  c.s.eflags = (c.s.eflags & ~mask) | (f & mask);
}

// Condition codes 0..15 as encoded in Jcc/SETcc/CMOVcc.
inline bool cond(const Cpu& c, unsigned cc) {
  const uint32_t f = c.s.eflags;
  bool r;
  switch (cc >> 1) {
    case 0: r = f & F_OF; break;
    case 1: r = f & F_CF; break;
    case 2: r = f & F_ZF; break;
    case 3: r = f & (F_CF | F_ZF); break;
    case 4: r = f & F_SF; break;
    case 5: r = f & F_PF; break;
    case 6: r = ((f >> 7) ^ (f >> 11)) & 1; break;             // SF != OF
    default: r = (f & F_ZF) || (((f >> 7) ^ (f >> 11)) & 1); break;  // ZF or SF != OF
  }
  return r ^ (cc & 1);
}

// ---- selector helpers ----
// Picks a handler instantiation by operand size (1, 2 or 4 bytes).
template <template <class> class H>
inline Handler by_size(unsigned size) {
  switch (size) {
    case 1: return &H<uint8_t>::run;
    case 2: return &H<uint16_t>::run;
    case 4: return &H<uint32_t>::run;
    default: return nullptr;
  }
}

// Each instruction group registers its selectors here (emu/interp/registry.cpp calls them all).
void register_mov(SelectorTable& t);
void register_alu(SelectorTable& t);
void register_shift(SelectorTable& t);
void register_muldiv(SelectorTable& t);
void register_bcd(SelectorTable& t);
void register_bits(SelectorTable& t);
void register_control(SelectorTable& t);
void register_stack(SelectorTable& t);
void register_string(SelectorTable& t);
void register_misc(SelectorTable& t);
void register_fpu(SelectorTable& t);
void register_p6(SelectorTable& t);  // CMOVcc CMPXCHG XADD BSWAP RDTSC RDMSR/WRMSR SYSENTER CPUID ...
void register_system(SelectorTable& t);  // after register_mov: takes over MOV CRn

}  // namespace vx86
