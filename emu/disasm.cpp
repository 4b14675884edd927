#include "emu/disasm.h"

#include <Zydis/Zydis.h>

#include <charconv>
#include <cinttypes>

#include "emu/cpu.h"

namespace vx86 {

std::string disassemble(const uint8_t* bytes, unsigned len, bool code32, uint32_t eip) {
  ZydisDisassembledInstruction di;
  if (!ZYAN_SUCCESS(ZydisDisassembleIntel(code32 ? ZYDIS_MACHINE_MODE_LEGACY_32 : ZYDIS_MACHINE_MODE_LEGACY_16,
                                          eip, bytes, len ? len : 15, &di)))
    return "(bad)";
  return di.text;
}

void log_host_code(FILE* out, const uint8_t* host, size_t len) {
  size_t off = 0;
  while (off < len) {
    ZydisDisassembledInstruction di;
    const uint64_t at = reinterpret_cast<uintptr_t>(host) + off;
    if (!ZYAN_SUCCESS(ZydisDisassembleIntel(ZYDIS_MACHINE_MODE_LONG_64, at, host + off, len - off, &di))) {
      std::fprintf(out, "OUT: %016llx  (bad)\n", static_cast<unsigned long long>(at));
      ++off;
      continue;
    }
    std::fprintf(out, "OUT: %016llx  %s\n", static_cast<unsigned long long>(at), di.text);
    off += di.info.length;
  }
}

void log_insn(Cpu& cpu, uint32_t cs_base, uint32_t eip, const uint8_t* bytes, unsigned len) {
  std::string text = disassemble(bytes, 15, cpu.s.code32, eip);
  std::fprintf(cpu.log_file, "IN: %04x:%08x (lin %08x)  ", cpu.s.seg[CS].sel, eip, cs_base + eip);
  for (unsigned k = 0; k < 8; ++k) {
    if (k < len) std::fprintf(cpu.log_file, "%02x", bytes[k]);
    else std::fprintf(cpu.log_file, "  ");
  }
  std::fprintf(cpu.log_file, "  %s\n", text.c_str());
}

void log_interrupt(Cpu& cpu, uint8_t vector, bool has_error, uint32_t error, bool software) {
  std::fprintf(cpu.log_file, "INT: vector 0x%02x%s at %04x:%08x", vector, software ? " (software)" : "",
               cpu.s.seg[CS].sel, cpu.s.eip);
  // Real mode pushes no error code; show one only where the CPU would push it.
  if (has_error && (cpu.s.cr[0] & 1)) std::fprintf(cpu.log_file, " error 0x%x", error);
  std::fprintf(cpu.log_file, "\n");
}

void dump_cpu_state(Cpu& cpu) {
  const CpuState& s = cpu.s;
  if (!cpu.log_wanted(s.seg[CS].base + s.eip)) return;
  std::fprintf(cpu.log_file,
               "EAX=%08x EBX=%08x ECX=%08x EDX=%08x ESI=%08x EDI=%08x EBP=%08x ESP=%08x\n"
               "EIP=%08x EFL=%08x ES=%04x CS=%04x SS=%04x DS=%04x FS=%04x GS=%04x icount=%" PRIu64 "\n",
               s.regs[EAX], s.regs[EBX], s.regs[ECX], s.regs[EDX], s.regs[ESI], s.regs[EDI], s.regs[EBP],
               s.regs[ESP], s.eip, s.eflags, s.seg[ES].sel, s.seg[CS].sel, s.seg[SS].sel, s.seg[DS].sel,
               s.seg[FS].sel, s.seg[GS].sel, s.icount);
}

namespace {
char* put_hex(char* p, uint32_t v, int digits) {
  static const char hex[] = "0123456789abcdef";
  for (int k = digits - 1; k >= 0; --k, v >>= 4) p[k] = hex[v & 15];
  return p + digits;
}
}  // namespace

void log_block(Cpu& cpu, Block& b) {
  const CpuState& s = cpu.s;
  if (!cpu.log_wanted(s.seg[CS].base + s.eip)) return;
  if (cpu.log_mask & LOG_TRACE) trace_state(cpu);
  if (cpu.log_mask & LOG_TRACESUM) trace_sum(cpu);
  if (!(cpu.log_mask & LOG_EXEC)) return;
  // The text is made once per block and EIP (the same bytes may run at another address: the
  // branch targets it shows would differ), from the block's bytes in physical memory.
  if (!b.exec_text || b.exec_eip != s.eip) {
    auto text = std::make_unique<std::vector<std::string>>();
    PhysicalMemory& mem = cpu.mmu.memory();
    uint32_t off = 0, eip = s.eip;
    for (uint32_t k = 0; k < b.ninsn; ++k) {
      const unsigned len = b.insns[k].len;
      uint8_t bytes[15] = {};
      for (unsigned j = 0; j < len && j < 15; ++j) {
        const uint32_t at = (b.phys & PAGE_MASK) + off + j;  // past the page end: the second page
        const uint32_t phys = at < PAGE_SIZE ? (b.pages[0] << PAGE_SHIFT) + at : (b.pages[1] << PAGE_SHIFT) + at - PAGE_SIZE;
        bytes[j] = mem.read8(phys);
      }
      text->push_back(disassemble(bytes, len, s.code32, eip));
      off += len;
      eip = (eip + len) & s.ip_mask;
    }
    b.exec_text = std::move(text);
    b.exec_eip = s.eip;
  }
  // Formatted by hand into one buffer per block: fprintf per line would cost more than the
  // instructions it logs (a whole boot is billions of lines).
  static thread_local std::string out;
  out.clear();
  uint32_t eip = s.eip;
  for (uint32_t k = 0; k < b.ninsn; ++k) {
    char line[40];
    char* p = line;
    *p++ = 'E';
    *p++ = ' ';
    p = std::to_chars(p, line + 24, s.icount + k).ptr;
    *p++ = ' ';
    p = put_hex(p, s.seg[CS].sel, 4);
    *p++ = ':';
    p = put_hex(p, eip, 8);
    *p++ = ' ';
    *p++ = ' ';
    out.append(line, p);
    out += (*b.exec_text)[k];
    out += '\n';
    eip = (eip + b.insns[k].len) & s.ip_mask;
  }
  std::fwrite(out.data(), 1, out.size(), cpu.log_file);
}

void trace_state(Cpu& cpu) {
  const CpuState& s = cpu.s;
  char line[256];
  char* p = line;
  *p++ = 'T';
  *p++ = ' ';
  p = std::to_chars(p, line + 24, s.icount).ptr;
  for (Reg r : {EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI}) {
    *p++ = ' ';
    p = put_hex(p, s.regs[r], 8);
  }
  *p++ = ' ';
  p = put_hex(p, s.seg[CS].base + s.eip, 8);
  auto field = [&p](const char* name, uint32_t v, int digits) {
    *p++ = ' ';
    while (*name) *p++ = *name++;
    p = put_hex(p, v, digits);
  };
  field("eip=", s.eip, 8);
  field("efl=", s.eflags, 8);
  for (unsigned seg : {ES, CS, SS, DS, FS, GS}) field("", s.seg[seg].sel, 4);
  field("cr0=", s.cr[0], 8);
  field("cr3=", s.cr[3], 8);
  *p++ = '\n';
  std::fwrite(line, 1, static_cast<size_t>(p - line), cpu.log_file);
}

namespace {
// FNV-1a-style over 64-bit words (two fields each), the high half folded back so that every bit
// reaches the low ones: collisions only matter between two runs that already differ.
void fold(uint64_t& h, uint32_t lo, uint32_t hi) {
  h = (h ^ (uint64_t{hi} << 32 | lo)) * 0x100000001b3ull;
  h ^= h >> 32;
}

void put_sum(Cpu& cpu, const char* tail) {
  std::fprintf(cpu.log_file, "S %" PRIu64 " %016" PRIx64 "%s\n", cpu.s.icount, cpu.trace_sum, tail);
}
}  // namespace

void trace_sum(Cpu& cpu) {
  const CpuState& s = cpu.s;
  uint64_t h = cpu.trace_sum_blocks ? cpu.trace_sum : 0xcbf29ce484222325ull;
  fold(h, static_cast<uint32_t>(s.icount), static_cast<uint32_t>(s.icount >> 32));
  fold(h, s.regs[EAX], s.regs[ECX]);
  fold(h, s.regs[EDX], s.regs[EBX]);
  fold(h, s.regs[ESP], s.regs[EBP]);
  fold(h, s.regs[ESI], s.regs[EDI]);
  fold(h, s.seg[CS].base + s.eip, s.eflags);
  fold(h, uint32_t{s.seg[ES].sel} << 16 | s.seg[CS].sel, uint32_t{s.seg[SS].sel} << 16 | s.seg[DS].sel);
  fold(h, uint32_t{s.seg[FS].sel} << 16 | s.seg[GS].sel, s.eip);
  fold(h, s.cr[0], s.cr[3]);
  cpu.trace_sum = h;
  if (++cpu.trace_sum_blocks % kTraceSumBlocks == 0) put_sum(cpu, "");
}

void trace_sum_end(Cpu& cpu) {
  if (cpu.trace_sum_blocks % kTraceSumBlocks)
    put_sum(cpu, " end");
  else
    std::fprintf(cpu.log_file, "S end\n");
}

}  // namespace vx86
