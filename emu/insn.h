// Insn: one decoded guest instruction, compact and ready to run. The decoder (Zydis) fills the
// operand fields once; a handler chosen for the exact form (operation, operand kinds and size)
// runs it. A handler returns the next Insn to run, or nullptr to leave the block (branches,
// faults, anything that needs the run loop).
#pragma once
#include <cstdint>

namespace vx86 {

class Cpu;
struct Insn;
using Handler = const Insn* (*)(Cpu&, const Insn*);

enum : uint8_t { REP_NONE = 0, REP_E = 1, REP_NE = 2 };
// A REP string instruction stops (EIP unchanged, resumed after the run loop's checks) whenever
// its count reaches a multiple of this, in both tiers.
constexpr uint32_t REP_CHUNK = 1u << 16;
// INSN_MODEL_ALIAS: an encoding whose meaning depends on the CPU model (group 2 /6: SHL on a 386,
// SETMO/SETMOC on an 8086); only its handler knows both.
enum : uint8_t { INSN_LOCK = 1, INSN_MODEL_ALIAS = 2 };
// Operand kinds as the JIT sees them (Insn::kinds): general registers apart from the rest.
enum : uint8_t { JK_NONE = 0, JK_GPR = 1, JK_MEM = 2, JK_IMM = 3, JK_OTHER = 4 };

struct Insn {
  Handler fn;
  uint32_t imm;     // immediate, relative branch displacement, or far-pointer offset
  uint32_t disp;    // memory operand displacement
  uint32_t amask;   // address-size mask: 0xFFFF or 0xFFFFFFFF
  uint16_t r0, r1;  // register operands: byte offset into CpuState (GPRs) or an index (Sreg, CRn)
  uint16_t imm2;    // second immediate: ENTER's level, far pointer selector
  uint8_t base, index, scale;  // memory operand: Reg (REG_ZERO = none) and shift count
  uint8_t seg;      // SegIndex of the memory operand (overrides applied)
  uint8_t len;      // instruction length in bytes
  uint8_t opsize;   // operand size in bytes: 1, 2 or 4
  uint8_t rep;      // REP_NONE / REP_E / REP_NE
  uint8_t aux;      // handler-specific: condition code, operation selector
  uint8_t flags;    // INSN_LOCK ...
  uint8_t opcode;   // the primary opcode byte (after prefixes, 0F escape dropped), for logs
  uint16_t mnem;    // Zydis mnemonic: the JIT picks native forms by it
  uint8_t kinds;    // JK_* of operands 0 and 1 (bits 0-2, 3-5); bit 6: a third operand exists
  uint8_t size1;    // size in bytes of operand 1 (MOVZX/MOVSX sources)
};
static_assert(sizeof(Insn) <= 40, "Insn stays compact");

}  // namespace vx86
