// Logging helpers for -d in_asm / cpu / int: Zydis's formatter for disassembly.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

namespace vx86 {
class Cpu;
struct Block;
std::string disassemble(const uint8_t* bytes, unsigned len, bool code32, uint32_t eip);
// -d out_asm: the host (x86-64) code at `host`, `len` bytes, one "OUT:" line per instruction.
void log_host_code(FILE* out, const uint8_t* host, size_t len);
void log_insn(Cpu& cpu, uint32_t cs_base, uint32_t eip, const uint8_t* bytes, unsigned len);
void log_interrupt(Cpu& cpu, uint8_t vector, bool has_error, uint32_t error, bool software);
void dump_cpu_state(Cpu& cpu);
// One line per block for the differential trace (-d trace; scripts/trace-diff.py compares two):
// "T icount EAX ECX EDX EBX ESP EBP ESI EDI linear-EIP eip= efl= ES CS SS DS FS GS cr0= cr3=".
void trace_state(Cpu& cpu);
// -d tracesum: the same fields folded into a hash, printed every kTraceSumBlocks blocks as
// "S icount hash" (icount: the instructions before the last block folded), so that two runs of
// billions of blocks compare in seconds; trace_sum_end prints the rest at the end of the run.
constexpr uint64_t kTraceSumBlocks = uint64_t{1} << 20;
void trace_sum(Cpu& cpu);
void trace_sum_end(Cpu& cpu);
// -d trace, tracesum and exec for block `b` about to run at the current CS:EIP (-dfilter applied).
// exec: one line per instruction of the block, "E icount CS:EIP  disassembly"; a block that
// faults part-way lists instructions that did not complete (the next line's count tells).
void log_block(Cpu& cpu, Block& b);
}  // namespace vx86
