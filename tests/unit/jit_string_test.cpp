// REP MOVS and REP STOS run as native loops under the JIT (a page at a time through the TLB's
// host pointers). Each case runs in both tiers from the same flat protected-mode machine and
// must leave the same registers, flags, instruction count and all of RAM; the main cases also
// check the memory against what C++ computes. Each snippet runs twice: the first pass fills the
// TLB (so the second is native), and both passes count.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <vector>

#include "tests/unit/pm_guest.h"

using namespace vx86;
using vx86::test::PmGuest;
using Asm = asmjit::x86::Assembler;

namespace {

// Runs `body` twice (ebp counts the passes) in both tiers and compares the machines.
// `check_jit` sees the JIT tier's machine afterwards.
void both_tiers(const std::function<void(Asm&)>& body,
                const std::function<void(const uint8_t*)>& check_ram = {},
                const std::function<void(const Cpu&)>& check_jit = {}) {
  std::vector<uint8_t> ram[2];
  CpuState st[2];
  for (int t = 0; t < 2; ++t) {
    PmGuest g(t == 1);
    for (uint32_t a = 0x20000; a < 0x80000; a += 4) g.put32(a, a * 2654435761u);  // a known pattern
    g.load([&](Asm& a) {
      using namespace asmjit;
      Label again = a.newLabel();
      a.mov(x86::ebp, 2);
      a.bind(again);
      body(a);
      a.dec(x86::ebp);
      a.jnz(again);
    });
    g.cpu.run(10'000'000);
    ASSERT_TRUE(g.cpu.s.halted) << (t ? "jit" : "interpreter");
    st[t] = g.cpu.s;
    ram[t].assign(g.mem.ram(), g.mem.ram() + (1u << 20));
    if (t == 1) {
      EXPECT_EQ(g.cpu.jit->stats().encode_errors, 0u);
      if (check_jit) check_jit(g.cpu);
    }
  }
  for (unsigned r = 0; r < 8; ++r) EXPECT_EQ(st[0].regs[r], st[1].regs[r]) << "register " << r;
  EXPECT_EQ(st[0].eflags, st[1].eflags);
  EXPECT_EQ(st[0].eip, st[1].eip);
  EXPECT_EQ(st[0].icount, st[1].icount);
  EXPECT_TRUE(ram[0] == ram[1]) << "RAM differs";
  if (check_ram) check_ram(ram[1].data());
}

// The first pass's REP meets a cold TLB and bails to its handler (which finishes the instruction);
// the second pass runs natively all the way: one slow path (a handler call) in all.
void native_on_the_second_pass(const Cpu& c, unsigned mnem) {
  EXPECT_EQ(c.jit->histogram().bail[mnem], 1u);
  EXPECT_EQ(c.jit->histogram().helper[mnem], 1u);
}

uint32_t pattern(uint32_t a) { return (a & ~3u) * 2654435761u >> (8 * (a & 3)); }

TEST(JitString, RepStosdAcrossPagesFromAnUnalignedAddress) {
  // 10000 dwords from 0x20003: dwords straddle every page boundary on the way.
  both_tiers(
      [](Asm& a) {
        using namespace asmjit;
        a.mov(x86::edi, 0x20003);
        a.mov(x86::ecx, 10000);
        a.mov(x86::eax, 0xA1B2C3D4);
        a.rep().stosd();
      },
      [](const uint8_t* ram) {
        const uint8_t v[4] = {0xD4, 0xC3, 0xB2, 0xA1};
        for (uint32_t k = 0; k < 40000; ++k) ASSERT_EQ(ram[0x20003 + k], v[k % 4]) << k;
        ASSERT_EQ(ram[0x20003 + 40000], static_cast<uint8_t>(pattern(0x20003 + 40000)));
      },
      [](const Cpu& c) {
        // The second pass bails at the first dword that straddles a page: the handler finishes.
        EXPECT_EQ(c.jit->histogram().bail[ZYDIS_MNEMONIC_STOSD], 2u);
        EXPECT_EQ(c.jit->histogram().helper[ZYDIS_MNEMONIC_STOSD], 2u);
      });
}

TEST(JitString, RepMovsbAndMovswCopyAcrossPages) {
  both_tiers(
      [](Asm& a) {
        using namespace asmjit;
        a.mov(x86::esi, 0x30001);
        a.mov(x86::edi, 0x50123);
        a.mov(x86::ecx, 20000);
        a.rep().movsb();
        a.mov(x86::esi, 0x40000);
        a.mov(x86::edi, 0x60FFE);
        a.mov(x86::ecx, 3000);
        a.rep().movsw();
      },
      [](const uint8_t* ram) {
        for (uint32_t k = 0; k < 20000; ++k)
          ASSERT_EQ(ram[0x50123 + k], static_cast<uint8_t>(pattern(0x30001 + k))) << k;
        for (uint32_t k = 0; k < 6000; ++k)
          ASSERT_EQ(ram[0x60FFE + k], static_cast<uint8_t>(pattern(0x40000 + k))) << k;
      },
      [](const Cpu& c) {
        native_on_the_second_pass(c, ZYDIS_MNEMONIC_MOVSB);
        native_on_the_second_pass(c, ZYDIS_MNEMONIC_MOVSW);
      });
}

TEST(JitString, OverlappingForwardCopyRepeatsTheFirstByte) {
  // movsb with EDI = ESI + 1 copies element by element: every byte becomes the first one.
  both_tiers(
      [](Asm& a) {
        using namespace asmjit;
        a.mov(x86::esi, 0x44000);
        a.mov(x86::edi, 0x44001);
        a.mov(x86::ecx, 9000);
        a.rep().movsb();
      },
      [](const uint8_t* ram) {
        for (uint32_t k = 0; k <= 9000; ++k) ASSERT_EQ(ram[0x44000 + k], ram[0x44000]) << k;
      },
      [](const Cpu& c) { native_on_the_second_pass(c, ZYDIS_MNEMONIC_MOVSB); });
}

TEST(JitString, CountsPastTheChunkStopAtTheSamePoints) {
  // 0x10003 words: the instruction stops at ECX = 0x10000 and resumes; the instruction counts
  // of both tiers (compared by both_tiers) show the same stops.
  both_tiers([](Asm& a) {
    using namespace asmjit;
    a.mov(x86::esi, 0x20000);
    a.mov(x86::edi, 0x48000);
    a.mov(x86::ecx, 0x10003);
    a.rep().movsw();
    a.mov(x86::edi, 0x21000);
    a.xor_(x86::ecx, x86::ecx);  // a zero count does nothing
    a.rep().stosb();
  });
}

TEST(JitString, BackwardsPastTheEndOfRamAndOverCode) {
  both_tiers([](Asm& a) {
    using namespace asmjit;
    a.std();  // DF: the handler's path
    a.mov(x86::esi, 0x33000);
    a.mov(x86::edi, 0x52000);
    a.mov(x86::ecx, 1500);
    a.rep().movsd();
    a.cld();
    a.mov(x86::edi, 0xFF000);  // runs off the end of RAM (1 MiB): writes there go nowhere
    a.mov(x86::ecx, 0x800);
    a.mov(x86::eax, 0x55AA55AA);
    a.rep().stosd();
    a.mov(x86::edi, PmGuest::CODE + 0x800);  // the code's own page (not the running bytes)
    a.mov(x86::ecx, 0x100);
    a.rep().stosb();
  });
}

}  // namespace
