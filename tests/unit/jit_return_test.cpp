// The return-address stack: translated RETs that return where the matching CALL said go
// straight into the code after that CALL; everything else (a return address the callee changed,
// code after the CALL rewritten, the caller's page remapped while the callee runs) must behave
// exactly as in the interpreter. Each guest runs in both tiers (tests/unit/pm_guest.h).
#include <gtest/gtest.h>

#include <functional>

#include "tests/unit/pm_guest.h"

using namespace vx86;
using vx86::test::PmGuest;
using Asm = asmjit::x86::Assembler;

namespace {

struct Result {
  CpuState s;
  JitStats stats;
};

// Runs the guest in both tiers; returns the JIT tier's state and statistics after checking that
// the registers, flags, instruction count and RAM are the interpreter's.
Result both_tiers(const std::function<void(PmGuest&)>& setup) {
  Result r[2];
  std::vector<uint8_t> ram[2];
  for (int t = 0; t < 2; ++t) {
    PmGuest g(t == 1);
    setup(g);
    g.cpu.run(1'000'000);
    EXPECT_TRUE(g.cpu.s.halted) << (t ? "jit" : "interpreter");
    r[t].s = g.cpu.s;
    if (t == 1) r[t].stats = g.cpu.jit->stats();
    ram[t].assign(g.mem.ram(), g.mem.ram() + (1u << 20));
  }
  for (unsigned k = 0; k < 8; ++k) EXPECT_EQ(r[0].s.regs[k], r[1].s.regs[k]) << "register " << k;
  EXPECT_EQ(r[0].s.eflags, r[1].s.eflags);
  EXPECT_EQ(r[0].s.icount, r[1].s.icount);
  EXPECT_TRUE(ram[0] == ram[1]) << "RAM differs";
  return r[1];
}

TEST(JitReturns, NestedCallsArePredicted) {
  Result r = both_tiers([](PmGuest& g) {
    g.load([](Asm& a) {
      using namespace asmjit;
      Label l = a.newLabel(), f = a.newLabel(), g2 = a.newLabel(), done = a.newLabel();
      a.mov(x86::ecx, 1000);
      a.xor_(x86::esi, x86::esi);
      a.bind(l);
      a.call(f);
      a.add(x86::esi, x86::eax);
      a.dec(x86::ecx);
      a.jnz(l);
      a.jmp(done);
      a.bind(f);
      a.call(g2);
      a.add(x86::eax, 3);
      a.ret();
      a.bind(g2);
      a.mov(x86::eax, x86::ecx);
      a.ret();
      a.bind(done);
    });
  });
  EXPECT_EQ(r.s.regs[ESI], 1000u * 1001 / 2 + 3 * 1000);
  EXPECT_GT(r.stats.ras_hits, 1900u);  // 2000 returns; the first few meet untranslated code
}

TEST(JitReturns, ReturnAddressChangedByTheCallee) {
  // f adds 3 to its return address: the RET skips `add esi, 1` and is never predicted.
  Result r = both_tiers([](PmGuest& g) {
    g.load([](Asm& a) {
      using namespace asmjit;
      Label l = a.newLabel(), f = a.newLabel(), done = a.newLabel();
      a.mov(x86::ecx, 500);
      a.xor_(x86::esi, x86::esi);
      a.bind(l);
      a.call(f);
      a.add(x86::esi, 1);  // 83 C6 01: 3 bytes
      a.add(x86::esi, 100);
      a.dec(x86::ecx);
      a.jnz(l);
      a.jmp(done);
      a.bind(f);
      a.add(x86::dword_ptr(x86::esp), 3);
      a.ret();
      a.bind(done);
    });
  });
  EXPECT_EQ(r.s.regs[ESI], 500u * 100);
  EXPECT_EQ(r.stats.ras_hits, 0u);
  EXPECT_GE(r.stats.ras_misses, 500u);
}

TEST(JitReturns, CodeAfterTheCallRewrittenByTheCallee) {
  // At ECX = 5, f turns the `inc eax` after the CALL into `inc edx`.
  Result r = both_tiers([](PmGuest& g) {
    g.load([](Asm& a) {
      using namespace asmjit;
      Label l = a.newLabel(), cont = a.newLabel(), f = a.newLabel(), skip = a.newLabel(), done = a.newLabel();
      a.mov(x86::ecx, 10);
      a.xor_(x86::eax, x86::eax);
      a.xor_(x86::edx, x86::edx);
      a.bind(l);
      a.call(f);
      a.bind(cont);
      a.inc(x86::eax);
      a.dec(x86::ecx);
      a.jnz(l);
      a.jmp(done);
      a.bind(f);
      a.cmp(x86::ecx, 5);
      a.jne(skip);
      a.mov(x86::byte_ptr(cont), 0x42);  // inc edx
      a.bind(skip);
      a.ret();
      a.bind(done);
    });
  });
  EXPECT_EQ(r.s.regs[EAX], 5u);
  EXPECT_EQ(r.s.regs[EDX], 5u);
}

TEST(JitReturns, CallingBlockDroppedDuringTheCall) {
  // f stores into the CALL instruction itself (the same byte): the calling block is dropped, and
  // with it the return-address stack's entry, which pointed into its code.
  Result r = both_tiers([](PmGuest& g) {
    g.load([](Asm& a) {
      using namespace asmjit;
      Label l = a.newLabel(), f = a.newLabel(), done = a.newLabel();
      a.mov(x86::ecx, 20);
      a.bind(l);
      a.call(f);
      a.inc(x86::eax);
      a.dec(x86::ecx);
      a.jnz(l);
      a.jmp(done);
      a.bind(f);
      a.mov(x86::byte_ptr(l), 0xE8);  // the CALL's opcode, unchanged
      a.ret();
      a.bind(done);
    });
  });
  EXPECT_EQ(r.s.regs[EAX], 20u);
  EXPECT_EQ(r.stats.ras_hits, 0u);
}

TEST(JitReturns, CallersPageRemappedDuringTheCall) {
  // Linear 0x400000 holds the loop (physical A1, later A2: the same code adding another
  // constant); the callee at 0x401000 points 0x400000 at A2 and flushes it with INVLPG when
  // ECX = 50, so that call returns into A2.
  constexpr uint32_t PD = 0x10000, PT0 = 0x11000, PT1 = 0x12000, A1 = 0x5000, A2 = 0x6000,
                     F = 0x9000;  // (the stack is at 0x7000-0x7fff)
  Result r = both_tiers([&](PmGuest& g) {
    g.put32(PD, PT0 | 7);
    g.put32(PD + 4, PT1 | 7);
    for (uint32_t p = 0; p < 0x100; ++p) g.put32(PT0 + 4 * p, (p << 12) | 7);  // identity, 1 MiB
    g.put32(PT1, A1 | 7);
    g.put32(PT1 + 4, F | 7);
    uint8_t* ram = g.mem.ram();
    for (uint32_t copy : {A1, A2}) {
      const uint32_t k = copy == A1 ? 1 : 0x100;
      const uint8_t loop[] = {0xB9, 0x64,       0x00,
                              0x00, 0x00,  // mov ecx, 100
                              0xE8, 0xF6,       0x0F,
                              0x00, 0x00,  // l: call 0x401000
                              0x05, uint8_t(k), uint8_t(k >> 8),
                              0x00, 0x00,  // add eax, k
                              0x49, 0x75,       0xF3,
                              0xF4};  // dec ecx; jnz l; hlt
      std::memcpy(ram + copy, loop, sizeof loop);
    }
    const uint8_t callee[] = {0x83, 0xF9, 0x32, 0x75,
                              0x11,  // cmp ecx, 50; jnz r
                              0xC7, 0x05, 0x00, 0x20, 0x01, 0x00, uint8_t(A2 | 7), uint8_t(A2 >> 8), 0x00,
                              0x00,  // mov [PT1], A2|7
                              0x0F, 0x01, 0x3D, 0x00, 0x00, 0x40,
                              0x00,   // invlpg [0x400000]
                              0xC3};  // r: ret
    std::memcpy(ram + F, callee, sizeof callee);
    CpuState& s = g.cpu.s;
    s.regs[EAX] = 0;
    s.eip = 0x400000;
    s.cr[3] = PD;
    s.cr[0] |= 0x80000000u;
    g.cpu.update_paging();
  });
  EXPECT_EQ(r.s.regs[EAX], 50u * 1 + 50u * 0x100);
  EXPECT_GT(r.stats.ras_hits, 40u);
}

}  // namespace
