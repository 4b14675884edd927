// Locked read-modify-writes with Cpu::atomic_rmw (emu/interp/locked_rmw.h, CPUs on host threads):
// - every locked form gives the registers, flags and memory of the plain path (the reference),
//   in both tiers, including a failing CMPXCHG / CMPXCHG8B and a locked write into a code page;
// - two CPUs on two host threads sharing RAM race on LOCK INC/XADD, a CMPXCHG loop and an XCHG
//   spinlock released by a plain MOV: no update is lost.
#include <gtest/gtest.h>

#include <thread>

#include "tests/unit/pm_guest.h"

using namespace vx86;
using vx86::test::PmGuest;
using Asm = asmjit::x86::Assembler;

namespace {

constexpr uint32_t DATA = 0x3000;
constexpr uint32_t kRounds = 100000;  // per CPU, in the two-thread race

// Every locked form on byte, word and dword operands, with results folded into registers.
void locked_forms(Asm& a) {
  using namespace asmjit;
  const auto d = [](int off) { return x86::dword_ptr(DATA + off); };
  const auto w = [](int off) { return x86::word_ptr(DATA + off); };
  const auto b = [](int off) { return x86::byte_ptr(DATA + off); };
  a.mov(x86::eax, 0x7FFFFFF0);
  a.mov(d(0), x86::eax);
  a.lock().add(d(0), 0x20);  // overflow: OF, SF
  a.pushfd();
  a.lock().sub(w(4), 1);  // borrow: CF
  a.pushfd();
  a.stc();
  a.lock().adc(b(6), 0x7F);
  a.pushfd();
  a.stc();
  a.lock().sbb(d(8), x86::eax);
  a.lock().and_(d(0), 0x0F0F0F0F);
  a.lock().or_(w(4), 0x8000);
  a.lock().xor_(b(6), 0xFF);
  a.lock().neg(d(8));
  a.lock().not_(w(12));
  a.lock().inc(b(14));
  a.lock().dec(d(16));
  a.pushfd();
  a.mov(x86::ecx, 37);
  a.lock().bts(d(20), x86::ecx);  // bit 5 of the dword at +24
  a.lock().btr(d(0), 3);
  a.lock().btc(w(4), 15);
  a.pushfd();
  a.mov(x86::ebx, 5);
  a.lock().xadd(d(28), x86::ebx);
  a.mov(x86::eax, 5);  // matches: [32] <- esi
  a.mov(x86::esi, 0x1234);
  a.mov(d(32), 5);
  a.lock().cmpxchg(d(32), x86::esi);
  a.pushfd();
  a.lock().cmpxchg(d(32), x86::edi);  // eax 5 != 0x1234: eax <- [32]
  a.pushfd();
  a.mov(d(40), 0x11111111);
  a.mov(d(44), 0x22222222);
  a.mov(x86::eax, 0x11111111);
  a.mov(x86::edx, 0x22222222);
  a.mov(x86::ebx, 0x33333333);
  a.mov(x86::ecx, 0x44444444);
  a.lock().cmpxchg8b(x86::qword_ptr(DATA + 40));  // equal: written
  a.pushfd();
  a.lock().cmpxchg8b(x86::qword_ptr(DATA + 40));  // now different: EDX:EAX loaded
  a.pushfd();
  a.mov(x86::ebp, 0xABCD);
  a.xchg(d(48), x86::ebp);  // locked without the prefix
}

}  // namespace

TEST(LockedRmw, CompareAndSwapPathMatchesThePlainPath) {
  for (bool jit : {false, true}) {
    CpuState ref{};
    std::vector<uint8_t> ref_data;
    for (bool atomic : {false, true}) {
      PmGuest g(jit);
      g.cpu.atomic_rmw = atomic;
      g.load([](Asm& a) {
        locked_forms(a);
        a.hlt();
      });
      g.cpu.run(10000);
      ASSERT_TRUE(g.cpu.s.halted) << "jit " << jit << " atomic " << atomic;
      // The data and the stack (the flags each form left, pushed).
      std::vector<uint8_t> data(g.mem.ram() + DATA, g.mem.ram() + DATA + 64);
      data.insert(data.end(), g.mem.ram() + PmGuest::STACK - 64, g.mem.ram() + PmGuest::STACK);
      if (!atomic) {
        ref = g.cpu.s;
        ref_data = data;
        continue;
      }
      for (unsigned k = 0; k < 8; ++k)
        EXPECT_EQ(g.cpu.s.regs[k], ref.regs[k]) << "jit " << jit << " register " << k;
      EXPECT_EQ(g.cpu.s.eflags, ref.eflags) << "jit " << jit;
      EXPECT_EQ(data, ref_data) << "jit " << jit;
      // Spot checks against the SDM.
      EXPECT_EQ(g.mem.read(DATA + 40, 4), 0x33333333u);
      EXPECT_EQ(g.mem.read(DATA + 44, 4), 0x44444444u);
      EXPECT_EQ(g.cpu.s.regs[EBP], 0u);
      EXPECT_EQ(g.mem.read(DATA + 48, 4), 0xABCDu);
      EXPECT_EQ(g.mem.read(DATA + 24, 4) & 0x20, 0x20u);
    }
  }
}

TEST(LockedRmw, LockedWriteToACodePageDropsTheCode) {
  for (bool jit : {false, true}) {
    for (bool atomic : {false, true}) {
      PmGuest g(jit);
      g.cpu.atomic_rmw = atomic;
      // Runs `mov edi, imm32` at PATCH once, adds 1 to its immediate with LOCK ADD, runs it again.
      g.load([](Asm& a) {
        using namespace asmjit;
        Label patch = a.newLabel(), back1 = a.newLabel(), back2 = a.newLabel(), imm = a.newLabel();
        a.mov(x86::esi, 0);
        a.jmp(patch);
        a.bind(back1);
        a.mov(x86::esi, x86::edi);
        a.lock().add(x86::dword_ptr(imm), 1);
        a.jmp(patch);
        a.bind(back2);
        a.hlt();
        a.bind(patch);
        a.db(0xBF);  // mov edi, imm32
        a.bind(imm);
        a.dd(0x11111111);
        a.cmp(x86::esi, 0);
        a.je(back1);
        a.jmp(back2);
      });
      g.cpu.run(10000);
      ASSERT_TRUE(g.cpu.s.halted);
      EXPECT_EQ(g.cpu.s.regs[ESI], 0x11111111u) << "jit " << jit << " atomic " << atomic;
      EXPECT_EQ(g.cpu.s.regs[EDI], 0x11111112u)
          << "the patched instruction ran: jit " << jit << " atomic " << atomic;
    }
  }
}

TEST(LockedRmw, TwoHostThreadsLoseNoUpdate) {
  for (bool jit : {false, true}) {
    PhysicalMemory mem{1u << 20};
    PortBus io;
    DeviceLock lock;
    Cpu a{mem, io}, b{mem, io};
    uint8_t owner = 1;
    for (Cpu* c : {&a, &b}) {
      PmGuest::enter_flat_pm(*c, mem);
      c->atomic_rmw = true;
      c->device_lock = &lock;
      c->blocks.set_code_owner(owner);
      owner <<= 1;
      if (jit) c->enable_jit(true);
    }
    PmGuest::assemble_at_code(mem, [](Asm& g) {
      using namespace asmjit;
      Label round = g.newLabel(), cas = g.newLabel(), acquire = g.newLabel(), held = g.newLabel();
      g.mov(x86::ecx, kRounds);
      g.bind(round);
      g.lock().inc(x86::dword_ptr(DATA));
      g.mov(x86::eax, 1);
      g.lock().xadd(x86::dword_ptr(DATA + 4), x86::eax);
      g.mov(x86::eax, x86::dword_ptr(DATA + 8));
      g.bind(cas);
      g.lea(x86::edx, x86::ptr(x86::eax, 1));
      g.lock().cmpxchg(x86::dword_ptr(DATA + 8), x86::edx);
      g.jnz(cas);
      g.bind(acquire);
      g.mov(x86::eax, 1);
      g.xchg(x86::dword_ptr(DATA + 12), x86::eax);
      g.test(x86::eax, x86::eax);
      g.jz(held);
      g.pause();
      g.jmp(acquire);
      g.bind(held);
      g.inc(x86::dword_ptr(DATA + 16));     // plain, under the lock
      g.mov(x86::dword_ptr(DATA + 12), 0);  // released by a plain store
      g.dec(x86::ecx);
      g.jnz(round);
    });
    auto run = [](Cpu* c) {
      while (!c->s.halted) c->run(1'000'000);
    };
    std::thread ta(run, &a), tb(run, &b);
    ta.join();
    tb.join();
    for (uint32_t off : {0u, 4u, 8u, 16u})
      EXPECT_EQ(mem.read(DATA + off, 4), 2 * kRounds) << "counter at +" << off << ", jit " << jit;
    EXPECT_EQ(mem.read(DATA + 12, 4), 0u) << "the spinlock ends released";
  }
}
