// A debugger's watchpoints (Mmu::add_watchpoint, gdb's Z2/Z3/Z4): run() stops with Watchpoint
// right after the instruction that accessed the watched bytes, the access done, in both tiers;
// accesses to other bytes of the same page, and accesses of the kind not watched, run on.
#include <asmjit/x86.h>
#include <gtest/gtest.h>

#include <vector>

#include "tests/unit/pm_guest.h"

using namespace vx86;
using vx86::test::PmGuest;

namespace {

constexpr uint32_t DATA = 0x3000;

struct Stop {
  uint32_t eip;
  uint32_t watch_addr;
  uint32_t value;  // the watched dword when it stopped
};

// Runs until HLT, collecting every watchpoint stop.
std::vector<Stop> run_collecting(PmGuest& g, uint32_t at) {
  std::vector<Stop> stops;
  for (int guard = 0; guard < 1000; ++guard) {
    const StopReason r = g.cpu.run(1'000'000);
    if (r != StopReason::Watchpoint) break;
    EXPECT_TRUE(g.cpu.debug_watch_hit.has_value());
    uint32_t v;
    std::memcpy(&v, g.mem.ram() + at, 4);
    stops.push_back({g.cpu.s.eip, g.cpu.debug_watch_hit ? g.cpu.debug_watch_hit->addr : 0, v});
  }
  return stops;
}

const char* tier(bool jit) { return jit ? "jit" : "interpreter"; }

// Ten iterations: a read of DATA+8 (same page), a store to DATA+16 (same page), then a store of
// the counter to DATA, a read back, then the next iteration.
TEST(DebugWatchpoints, WriteWatchStopsAfterEachStoreOnly) {
  for (bool jit : {false, true}) {
    PmGuest g(jit);
    uint32_t after_store = 0;
    g.load([&](asmjit::x86::Assembler& a) {
      using namespace asmjit;
      Label top = a.newLabel();
      a.mov(x86::ecx, 10);
      a.bind(top);
      a.mov(x86::eax, x86::dword_ptr(DATA + 8));
      a.mov(x86::dword_ptr(DATA + 16), x86::ecx);
      a.mov(x86::dword_ptr(DATA), x86::ecx);
      after_store = PmGuest::CODE + static_cast<uint32_t>(a.offset());
      a.mov(x86::edx, x86::dword_ptr(DATA));
      a.dec(x86::ecx);
      a.jnz(top);
    });
    ASSERT_TRUE(g.cpu.mmu.add_watchpoint({DATA, 4, WatchKind::Write}));
    const std::vector<Stop> stops = run_collecting(g, DATA);
    EXPECT_TRUE(g.cpu.s.halted) << tier(jit);
    ASSERT_EQ(stops.size(), 10u) << tier(jit);
    for (unsigned k = 0; k < stops.size(); ++k) {
      EXPECT_EQ(stops[k].eip, after_store) << tier(jit) << " stop " << k;
      EXPECT_EQ(stops[k].watch_addr, DATA) << tier(jit);
      EXPECT_EQ(stops[k].value, 10 - k) << tier(jit) << ": the store was done before the stop";
    }
    EXPECT_EQ(g.cpu.s.regs[EDX], 1u) << tier(jit);
  }
}

// A read watchpoint ignores the stores; an access watchpoint sees both; a one-byte watch at
// DATA+2 is hit by a dword store at DATA (overlap, not equality).
TEST(DebugWatchpoints, ReadAndAccessKindsAndOverlap) {
  struct Case {
    Watchpoint w;
    unsigned stops;
  };
  const Case cases[] = {{{DATA, 4, WatchKind::Read}, 3},
                        {{DATA, 4, WatchKind::Access}, 6},
                        {{DATA + 2, 1, WatchKind::Write}, 3},
                        {{DATA + 4, 4, WatchKind::Access}, 0}};
  for (bool jit : {false, true}) {
    for (const Case& c : cases) {
      PmGuest g(jit);
      g.load([&](asmjit::x86::Assembler& a) {
        using namespace asmjit;
        Label top = a.newLabel();
        a.mov(x86::ecx, 3);
        a.bind(top);
        a.mov(x86::dword_ptr(DATA), x86::ecx);      // write
        a.add(x86::esi, x86::dword_ptr(DATA));      // read
        a.add(x86::esi, x86::dword_ptr(DATA + 8));  // neither
        a.dec(x86::ecx);
        a.jnz(top);
      });
      ASSERT_TRUE(g.cpu.mmu.add_watchpoint(c.w));
      const std::vector<Stop> stops = run_collecting(g, DATA);
      EXPECT_TRUE(g.cpu.s.halted) << tier(jit);
      EXPECT_EQ(stops.size(), c.stops) << tier(jit) << " kind " << int(c.w.kind) << " at " << c.w.addr;
      EXPECT_EQ(g.cpu.s.regs[ESI], 3u + 2u + 1u) << tier(jit);
    }
  }
}

// Writes the guest does not spell out: PUSH onto a watched stack slot, a REP STOSD across the
// watched dword (the stop comes after the whole instruction), a CALL's return address.
TEST(DebugWatchpoints, ImplicitAndStringWrites) {
  for (bool jit : {false, true}) {
    PmGuest g(jit);
    uint32_t after_push = 0, after_rep = 0, in_sub = 0;
    g.load([&](asmjit::x86::Assembler& a) {
      using namespace asmjit;
      Label sub = a.newLabel(), over = a.newLabel();
      a.push(x86::eax);
      after_push = PmGuest::CODE + static_cast<uint32_t>(a.offset());
      a.pop(x86::eax);
      a.mov(x86::edi, DATA - 0x20);
      a.mov(x86::ecx, 0x40);
      a.mov(x86::eax, 0x5A5A5A5A);
      a.rep().stosd();
      after_rep = PmGuest::CODE + static_cast<uint32_t>(a.offset());
      a.call(sub);
      a.jmp(over);
      a.bind(sub);
      in_sub = PmGuest::CODE + static_cast<uint32_t>(a.offset());
      a.ret();
      a.bind(over);
    });
    ASSERT_TRUE(g.cpu.mmu.add_watchpoint({PmGuest::STACK - 4, 4, WatchKind::Write}));
    ASSERT_TRUE(g.cpu.mmu.add_watchpoint({DATA, 4, WatchKind::Write}));
    const std::vector<Stop> stops = run_collecting(g, DATA);
    EXPECT_TRUE(g.cpu.s.halted) << tier(jit);
    ASSERT_EQ(stops.size(), 3u) << tier(jit);
    EXPECT_EQ(stops[0].eip, after_push) << tier(jit);
    EXPECT_EQ(stops[0].watch_addr, PmGuest::STACK - 4) << tier(jit);
    EXPECT_EQ(stops[1].eip, after_rep) << tier(jit);
    EXPECT_EQ(stops[1].value, 0x5A5A5A5Au) << tier(jit);
    EXPECT_EQ(stops[2].eip, in_sub) << tier(jit) << ": stopped in the callee, after the CALL";
    // Removed, the watchpoints stop nothing: the same code runs through.
    g.cpu.mmu.clear_watchpoints();
    g.cpu.s.halted = false;
    g.cpu.s.eip = PmGuest::CODE;
    EXPECT_TRUE(run_collecting(g, DATA).empty()) << tier(jit);
    EXPECT_TRUE(g.cpu.s.halted) << tier(jit);
  }
}

}  // namespace

namespace {

// A breakpoint costs only where it is: a hot loop on another page keeps running as chained
// translated code (few entries from the run loop), and the breakpoint still stops exactly at its
// address, in both tiers.
TEST(DebugBreakpoints, OnlyTheirPagesLeaveTranslatedCode) {
  constexpr uint32_t FAR_CODE = 0x6000;
  for (bool jit : {false, true}) {
    PmGuest g(jit);
    g.load([&](asmjit::x86::Assembler& a) {
      using namespace asmjit;
      Label top = a.newLabel(), skip = a.newLabel();
      a.mov(x86::ecx, 20000);
      a.bind(top);
      a.add(x86::esi, x86::ecx);
      a.test(x86::ecx, 1);
      a.jz(skip);  // two blocks per iteration, chained into each other
      a.inc(x86::edi);
      a.bind(skip);
      a.dec(x86::ecx);
      a.jnz(top);
      a.mov(x86::eax, FAR_CODE);
      a.jmp(x86::eax);
    });
    const uint8_t far_code[] = {0x90, 0x90, 0xF4};  // nop; nop; hlt
    std::memcpy(g.mem.ram() + FAR_CODE, far_code, sizeof far_code);
    g.cpu.set_debug_breakpoints({FAR_CODE + 1});
    EXPECT_EQ(g.cpu.run(10'000'000), StopReason::Breakpoint) << tier(jit);
    EXPECT_EQ(g.cpu.s.eip, FAR_CODE + 1) << tier(jit);
    EXPECT_EQ(g.cpu.s.regs[EDI], 10000u) << tier(jit);
    if (jit) EXPECT_LT(g.cpu.jit->stats().entries, 100u) << "the loop left translated code per block";
    g.cpu.set_debug_breakpoints({});
    g.cpu.debug_resume_at = FAR_CODE + 1;
    g.cpu.run(1000);
    EXPECT_TRUE(g.cpu.s.halted) << tier(jit);
  }
}

}  // namespace
