// Translations made while a data segment is flat (base 0, no limit) skip its base and bound
// checks; they must never run once the segment is not flat any more. A protected-mode guest
// (assembled with asmjit) reloads DS each loop iteration, flat or based, and runs the same blocks
// in both states, in both tiers; a load right after the reload, in the same block, must use the
// new DS.
#include <asmjit/x86.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "devices/port_bus.h"
#include "emu/cpu.h"
#include "jit/jit.h"

using namespace vx86;

namespace {

constexpr uint32_t GDT = 0x500, CODE = 0x1000, DATA = 0x3000, BASED = 0x100, STACK = 0x8000;
constexpr uint16_t SEL_CODE = 0x08, SEL_FLAT = 0x10, SEL_BASED = 0x18;

// The guest: 30 iterations. DS is based (0x100) for iterations 30..21 and 10..1, flat for 20..11.
// Block S reads [DATA] through DS; in the first phase it skips block T, after that falls into T,
// which reads [DATA+4]. So S is first translated with DS based and T with DS flat: an exit of S
// chained into T would run T's flat translation with DS based.
std::vector<uint8_t> guest_code() {
  using namespace asmjit;
  CodeHolder code;
  code.init(Environment(Arch::kX86), CODE);
  x86::Assembler a(&code);
  Label top = a.newLabel(), set_ds = a.newLabel(), s = a.newLabel(), back = a.newLabel();
  a.mov(x86::eax, x86::dword_ptr(DATA));  // the data page in the TLB: no slow path hides a wrong address
  a.mov(x86::ecx, 30);
  a.xor_(x86::esi, x86::esi);
  a.xor_(x86::edi, x86::edi);
  a.xor_(x86::ebp, x86::ebp);
  a.bind(top);
  a.mov(x86::edx, SEL_BASED);
  a.cmp(x86::ecx, 20);
  a.jg(set_ds);
  a.cmp(x86::ecx, 10);
  a.jle(set_ds);
  a.mov(x86::edx, SEL_FLAT);
  a.bind(set_ds);
  a.mov(x86::ds, x86::dx);
  a.mov(x86::eax, x86::dword_ptr(DATA + 8));  // DS just changed, in the same block
  a.add(x86::ebp, x86::eax);
  a.jmp(s);
  a.bind(s);  // S
  a.mov(x86::eax, x86::dword_ptr(DATA));
  a.add(x86::esi, x86::eax);
  a.cmp(x86::ecx, 20);
  a.jg(back);
  a.mov(x86::eax, x86::dword_ptr(DATA + 4));  // T
  a.add(x86::edi, x86::eax);
  a.bind(back);
  a.dec(x86::ecx);
  a.jnz(top);
  a.hlt();
  code.flatten();
  std::vector<uint8_t> out(code.codeSize());
  code.copyFlattenedData(out.data(), out.size());
  return out;
}

struct Guest {
  explicit Guest(bool jit) {
    if (jit) {
      cpu.enable_jit(true);
      cpu.jit->threshold = 0;
    }
    uint8_t* ram = mem.ram();
    auto put32 = [ram](uint32_t at, uint32_t v) { std::memcpy(ram + at, &v, 4); };
    const uint8_t gdt[] = {0,    0,    0,    0,    0, 0,    0,    0,   // null
                           0xFF, 0xFF, 0,    0,    0, 0x9A, 0xCF, 0,   // 0x08: code, flat, 32-bit
                           0xFF, 0xFF, 0,    0,    0, 0x92, 0xCF, 0,   // 0x10: data, flat
                           0xFF, 0xFF, 0x00, 0x01, 0, 0x92, 0xCF, 0};  // 0x18: data, base 0x100
    std::memcpy(ram + GDT, gdt, sizeof gdt);
    put32(DATA, 1);
    put32(DATA + 4, 0x10);
    put32(DATA + BASED, 0x100);
    put32(DATA + BASED + 4, 0x1000);
    put32(DATA + 8, 7);
    put32(DATA + BASED + 8, 0x70000);
    const std::vector<uint8_t> code = guest_code();
    std::memcpy(ram + CODE, code.data(), code.size());
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
  PhysicalMemory mem{1u << 20};
  PortBus io;
  Cpu cpu{mem, io};
};

TEST(JitSegments, FlatTranslationsNeverRunWithABasedSegment) {
  for (bool jit : {false, true}) {
    Guest g(jit);
    ASSERT_NE(g.cpu.s.jit_mode & jit_flat_bit(DS), 0u) << "DS starts flat";
    g.cpu.run(100000);
    const CpuState& s = g.cpu.s;
    ASSERT_TRUE(s.halted) << (jit ? "jit" : "interpreter");
    // S: 10 based reads, 10 flat, 10 based; T: 10 flat, 10 based.
    EXPECT_EQ(s.regs[ESI], 10u * 0x100 + 10u * 1 + 10u * 0x100) << (jit ? "jit" : "interpreter");
    EXPECT_EQ(s.regs[EDI], 10u * 0x10 + 10u * 0x1000) << (jit ? "jit" : "interpreter");
    EXPECT_EQ(s.regs[EBP], 20u * 0x70000 + 10u * 7) << (jit ? "jit" : "interpreter");
    EXPECT_EQ(s.jit_mode & jit_flat_bit(DS), 0u) << "DS ends based";
    if (jit) EXPECT_GT(g.cpu.jit->stats().blocks, 4u);
  }
}

}  // namespace
