// Translations made while a data segment is flat (base 0, no limit) skip its base and bound
// checks; they must never run once the segment is not flat any more. A protected-mode guest
// (assembled with asmjit) reloads DS each loop iteration, flat or based, and runs the same blocks
// in both states, in both tiers; a load right after the reload, in the same block, must use the
// new DS.
#include <gtest/gtest.h>

#include "tests/unit/pm_guest.h"

using namespace vx86;
using vx86::test::PmGuest;

namespace {

constexpr uint32_t DATA = 0x3000, BASED = PmGuest::BASED;

// The guest: 30 iterations. DS is based (0x100) for iterations 30..21 and 10..1, flat for 20..11.
// Block S reads [DATA] through DS; in the first phase it skips block T, after that falls into T,
// which reads [DATA+4]. So S is first translated with DS based and T with DS flat: an exit of S
// chained into T would run T's flat translation with DS based.
void guest_code(asmjit::x86::Assembler& a) {
  using namespace asmjit;
  Label top = a.newLabel(), set_ds = a.newLabel(), s = a.newLabel(), back = a.newLabel();
  a.mov(x86::eax, x86::dword_ptr(DATA));  // the data page in the TLB: no slow path hides a wrong address
  a.mov(x86::ecx, 30);
  a.xor_(x86::esi, x86::esi);
  a.xor_(x86::edi, x86::edi);
  a.xor_(x86::ebp, x86::ebp);
  a.bind(top);
  a.mov(x86::edx, PmGuest::SEL_BASED);
  a.cmp(x86::ecx, 20);
  a.jg(set_ds);
  a.cmp(x86::ecx, 10);
  a.jle(set_ds);
  a.mov(x86::edx, PmGuest::SEL_FLAT);
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
}

struct Guest : PmGuest {
  explicit Guest(bool jit) : PmGuest(jit) {
    put32(DATA, 1);
    put32(DATA + 4, 0x10);
    put32(DATA + BASED, 0x100);
    put32(DATA + BASED + 4, 0x1000);
    put32(DATA + 8, 7);
    put32(DATA + BASED + 8, 0x70000);
    load(guest_code);
  }
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
