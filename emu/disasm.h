// Logging helpers for -d in_asm / cpu / int: Zydis's formatter for disassembly.
#pragma once
#include <cstdint>
#include <string>

namespace vx86 {
class Cpu;
std::string disassemble(const uint8_t* bytes, unsigned len, bool code32, uint32_t eip);
void log_insn(Cpu& cpu, uint32_t cs_base, uint32_t eip, const uint8_t* bytes, unsigned len);
void log_interrupt(Cpu& cpu, uint8_t vector, bool has_error, uint32_t error, bool software);
void dump_cpu_state(Cpu& cpu);
}  // namespace vx86
