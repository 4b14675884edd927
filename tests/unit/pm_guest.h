// A flat 32-bit protected-mode machine (no paging, 1 MiB of RAM) for guest snippets assembled
// with asmjit: the JIT tests run the same snippet in both tiers and compare.
#pragma once
#include <asmjit/x86.h>

#include <cstring>
#include <functional>
#include <vector>

#include "devices/port_bus.h"
#include "emu/cpu.h"
#include "jit/jit.h"

namespace vx86::test {

struct PmGuest {
  static constexpr uint32_t GDT = 0x500, CODE = 0x1000, STACK = 0x8000, BASED = 0x100;
  static constexpr uint16_t SEL_CODE = 0x08, SEL_FLAT = 0x10, SEL_BASED = 0x18;  // 0x18: base 0x100

  // `shared_ram`: RAM in a memfd, as -mmu host needs.
  explicit PmGuest(bool jit, bool shared_ram = false) : mem(1u << 20, shared_ram) {
    if (jit) {
      cpu.enable_jit(true);
      cpu.jit->threshold = 0;  // translate every block on its first run
    }
    enter_flat_pm(cpu, mem);
  }
  // Assembles `body` at CODE, followed by a HLT.
  void load(const std::function<void(asmjit::x86::Assembler&)>& body) { assemble_at_code(mem, body); }

  // The set-up above for any CPU on any memory (several CPUs share one).
  static void enter_flat_pm(Cpu& cpu, PhysicalMemory& mem) {
    const uint8_t gdt[] = {0,    0,    0,    0,    0, 0,    0,    0,   // null
                           0xFF, 0xFF, 0,    0,    0, 0x9A, 0xCF, 0,   // 0x08: code, flat, 32-bit
                           0xFF, 0xFF, 0,    0,    0, 0x92, 0xCF, 0,   // 0x10: data, flat
                           0xFF, 0xFF, 0x00, 0x01, 0, 0x92, 0xCF, 0};  // 0x18: data, base 0x100
    std::memcpy(mem.ram() + GDT, gdt, sizeof gdt);
    CpuState& st = cpu.s;
    st.gdtr.base = GDT;
    st.gdtr.limit = sizeof gdt - 1;
    for (unsigned k = 0; k < SEG_COUNT; ++k)
      st.seg[k] = SegReg{SEL_FLAT, uint16_t{0x0093 | SEG_ATTR_DB}, 0, 0xFFFFFFFF};
    st.seg[CS] = SegReg{SEL_CODE, uint16_t{0x009B | SEG_ATTR_DB}, 0, 0xFFFFFFFF};
    st.regs[ESP] = STACK;
    st.eflags = F_BIT1;
    st.eip = CODE;
    st.cr[0] |= 1;  // protected mode, no paging
    cpu.update_mode();
    cpu.update_paging();
  }
  static void assemble_at_code(PhysicalMemory& mem, const std::function<void(asmjit::x86::Assembler&)>& body) {
    asmjit::CodeHolder code;
    code.init(asmjit::Environment(asmjit::Arch::kX86), CODE);
    asmjit::x86::Assembler a(&code);
    body(a);
    a.hlt();
    code.flatten();
    code.resolveUnresolvedLinks();  // absolute label addresses (mov [label], ...)
    code.relocateToBase(CODE);
    std::vector<uint8_t> out(code.codeSize());
    code.copyFlattenedData(out.data(), out.size());
    std::memcpy(mem.ram() + CODE, out.data(), out.size());
  }
  void put32(uint32_t at, uint32_t v) { std::memcpy(mem.ram() + at, &v, 4); }

  PhysicalMemory mem;
  PortBus io;
  Cpu cpu{mem, io};
};

}  // namespace vx86::test
