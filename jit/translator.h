// Translator: one decoded block in, x86-64 host code out (asmjit). Forms that dominate real guests
// are emitted natively (jit/translator.cpp lists them); every other instruction calls its
// interpreter handler from the generated code, so every form the interpreter runs also runs here.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "jit/host_faults.h"

namespace vx86 {

class Jit;
struct Block;

// The assembler rejected an instruction the translator emitted (a translator bug): the block is
// not translated and runs in the interpreter.
struct JitEncodeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Translates `b` into machine code relocated for address `base`; fills `out`. Returns the number
// of natively translated instructions (the rest call their handler).
// Also fills b.exits (its chainable exits) and, under -mmu host, `sites` with its window
// accesses. Throws JitEncodeError.
unsigned translate_block(Jit& jit, Block& b, uint64_t base, std::vector<uint8_t>& out,
                         std::vector<HostSite>& sites);

}  // namespace vx86
