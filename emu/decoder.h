// Decoder: Zydis 4 turns guest bytes into a ZydisDecodedInstruction; we pre-decode its operands
// into an Insn and ask the selector registered for its mnemonic which handler runs that form.
#pragma once
#include <Zydis/Zydis.h>

#include <array>
#include <cstddef>
#include <cstdint>

#include "emu/insn.h"

namespace vx86 {

enum class OpKind : uint8_t { None, Reg, Mem, Imm, Ptr };

// What a selector sees: the Zydis view plus our pre-decoded Insn.
struct DecodeCtx {
  const ZydisDecodedInstruction& zi;
  const ZydisDecodedOperand* ops;  // explicit (visible) operands first
  unsigned nops;                   // number of visible operands
  OpKind kind[4];
  uint8_t size[4];                 // operand sizes in bytes
  Insn& insn;
  bool end_block = false;          // set by a selector whose instruction must end the block

  ZydisRegisterClass reg_class(unsigned k) const { return ZydisRegisterGetClass(ops[k].reg.value); }
  bool is_gpr(unsigned k) const;
  bool is_sreg(unsigned k, unsigned* index = nullptr) const;
};

// A selector returns the handler for this form, or nullptr when the form is invalid (#UD).
using Selector = Handler (*)(DecodeCtx&);
using SelectorTable = std::array<Selector, ZYDIS_MNEMONIC_MAX_VALUE + 1>;

const SelectorTable& selectors();  // built once from every group's register_* function

struct DecodeResult {
  uint8_t length;   // bytes consumed (0 if the bytes could not be decoded)
  bool end_block;   // the block must end after this instruction
  bool truncated;   // the bytes ran out before the instruction ended (length is 0)
};

class Decoder {
 public:
  Decoder();
  // Decodes one instruction. On invalid bytes, fills `out` with a #UD (or #GP for >15 bytes)
  // handler and ends the block.
  DecodeResult decode(const uint8_t* bytes, size_t avail, bool code32, Insn& out) const;
  // Full Zydis decode, for disassembly logs and tools.
  bool decode_raw(const uint8_t* bytes, size_t avail, bool code32, ZydisDecodedInstruction& zi,
                  ZydisDecodedOperand* ops) const;

 private:
  ZydisDecoder dec16_, dec32_;
};

// Handlers every group can use for invalid forms.
const Insn* op_ud(Cpu& cpu, const Insn* i);
const Insn* op_gp_too_long(Cpu& cpu, const Insn* i);

}  // namespace vx86
