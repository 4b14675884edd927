// Shadow page tables under guest code: a page table that is also mapped as data, rewritten by the
// CPU's own store paths (REP MOVS across a page boundary, with an element straddling it; LOCK OR
// and XCHG, plain and with the compare-and-swap path of CPUs on threads), then a CR3 reload. Both
// tiers, all three MMU schemes (under -mmu host the translated accesses go through the host window
// and its SIGSEGV handler); the values read afterwards are the frames' contents the test wrote.
#include <gtest/gtest.h>

#include "pm_guest.h"

using namespace vx86;
using vx86::test::PmGuest;
namespace x86 = asmjit::x86;
using Asm = x86::Assembler;

namespace {

constexpr uint32_t PD = 0x20000, PT0 = 0x21000, DATA = 0x22000, PT1 = 0x23000;  // all identity-mapped
constexpr uint32_t LIN = 0x00400000;                                            // PT1's first page
constexpr uint32_t F1 = 0x30000, F2 = 0x31000, F3 = 0x32000, F4 = 0x33000, SRC = 0x9000, OUT = 0xA000;
constexpr uint32_t PRESENT = 7;

struct Outcome {
  std::vector<uint32_t> out;
};

// The tables above (LIN -> F1) and frames F1-F4 filled with 0x11111111 * n; then paging on.
void map_and_fill(PmGuest& g) {
  for (uint32_t i = 0; i < 256; ++i) g.put32(PT0 + i * 4, i * PAGE_SIZE | PRESENT);
  g.put32(PD, PT0 | PRESENT);
  g.put32(PD + 4, PT1 | PRESENT);
  g.put32(PT1, F1 | PRESENT);
  const uint32_t frames[] = {F1, F2, F3, F4};
  for (uint32_t n = 0; n < 4; ++n)
    for (uint32_t k = 0; k < PAGE_SIZE; k += 4) g.put32(frames[n] + k, 0x11111111u * (n + 1));
}
void paging_on(PmGuest& g) {
  g.cpu.s.cr[3] = PD;
  g.cpu.s.cr[0] |= 0x80000000u;
  g.cpu.update_paging();
}

Outcome run(bool jit, MmuScheme scheme, bool atomic, const std::function<void(Asm&)>& body, unsigned nout) {
  PmGuest g(jit, scheme == MmuScheme::Host);
  g.cpu.atomic_rmw = atomic;
  g.cpu.mmu.set_scheme(scheme);
  map_and_fill(g);
  g.put32(SRC, 0xAAAAAAAA);
  g.put32(SRC + 4, 0xBBBBBBBB);
  g.put32(SRC + 8, F2 | PRESENT);
  g.put32(SRC + 12, 0xCCCCCCCC);
  g.put32(SRC + 16, (F3 | PRESENT) << 16 | 0xDDDD);
  paging_on(g);
  g.load(body);
  g.cpu.run(100000);
  EXPECT_TRUE(g.cpu.s.halted);
  Outcome r;
  for (unsigned k = 0; k < nout; ++k) r.out.push_back(g.mem.read(OUT + 4 * k, 4));
  return r;
}

void reload_cr3_and_read(Asm& a, unsigned slot) {
  a.mov(x86::eax, x86::cr3);
  a.mov(x86::cr3, x86::eax);
  a.mov(x86::eax, x86::dword_ptr(LIN + 4 * slot));
  a.mov(x86::dword_ptr(OUT + 4 * slot), x86::eax);
}

TEST(ShadowGuest, RepMovsAcrossAPageRewritesAPte) {
  const auto body = [](Asm& a) {
    a.mov(x86::eax, x86::dword_ptr(LIN));  // LIN -> F1, in the TLB and the shadow
    a.mov(x86::dword_ptr(OUT), x86::eax);
    a.cld();
    // Three dwords from the end of DATA into PT1: the third is LIN's entry (F2).
    a.mov(x86::esi, SRC);
    a.mov(x86::edi, PT1 - 8);
    a.mov(x86::ecx, 3);
    a.rep().movsd();
    reload_cr3_and_read(a, 1);
    // Two dwords at PT1 - 6: the second straddles the boundary, its high half becomes the low half
    // of LIN's entry (F2 -> F3).
    a.mov(x86::esi, SRC + 12);
    a.mov(x86::edi, PT1 - 6);
    a.mov(x86::ecx, 2);
    a.rep().movsd();
    reload_cr3_and_read(a, 2);
  };
  for (bool jit : {false, true})
    for (MmuScheme s : {MmuScheme::Tlb, MmuScheme::Shadow, MmuScheme::Host}) {
      const Outcome r = run(jit, s, false, body, 3);
      EXPECT_EQ(r.out, (std::vector<uint32_t>{0x11111111, 0x22222222, 0x33333333}))
          << "jit " << jit << " scheme " << static_cast<int>(s);
    }
}

TEST(ShadowGuest, LockedWritesRewriteAPte) {
  const auto body = [](Asm& a) {
    a.mov(x86::eax, x86::dword_ptr(LIN));
    a.mov(x86::dword_ptr(OUT), x86::eax);
    a.lock().or_(x86::dword_ptr(PT1), 0x3000);  // F1 -> F4
    reload_cr3_and_read(a, 1);
    a.mov(x86::eax, F2 | PRESENT);
    a.xchg(x86::dword_ptr(PT1), x86::eax);  // locked without the prefix
    reload_cr3_and_read(a, 2);
    a.mov(x86::eax, F2 | PRESENT | 0x20);  // (the walker set A)
    a.mov(x86::ecx, F3 | PRESENT | 0x20);
    a.lock().cmpxchg(x86::dword_ptr(PT1), x86::ecx);  // eax = F2|A matches: F3
    reload_cr3_and_read(a, 3);
  };
  for (bool jit : {false, true})
    for (bool atomic : {false, true})
      for (MmuScheme s : {MmuScheme::Tlb, MmuScheme::Shadow, MmuScheme::Host}) {
        const Outcome r = run(jit, s, atomic, body, 4);
        EXPECT_EQ(r.out, (std::vector<uint32_t>{0x11111111, 0x44444444, 0x22222222, 0x33333333}))
            << "jit " << jit << " atomic " << atomic << " scheme " << static_cast<int>(s);
      }
}

// -mmu host: a translated store that keeps needing the slow path (to a page table, to MMIO) takes
// it through the window's fault a few times, then the instruction's access is patched to the TLB's
// inline check; every store still lands (the page table's entry, each MMIO write).
TEST(ShadowGuest, HostWindowAccessesThatKeepFaultingSwitchToTheTlb) {
  struct Counter : MmioHandler {
    uint32_t writes = 0, last = 0;
    uint32_t mmio_read(uint32_t, unsigned) override { return 0; }
    void mmio_write(uint32_t, uint32_t v, unsigned) override {
      ++writes;
      last = v;
    }
  } dev;
  constexpr uint32_t MMIO = 0xC0000;  // (identity-mapped by PT0)
  const auto body = [](Asm& a) {
    a.mov(x86::eax, x86::dword_ptr(LIN));  // LIN -> F1: PT1 is now a page table
    a.mov(x86::dword_ptr(OUT), x86::eax);
    a.mov(x86::ecx, 100);
    a.mov(x86::edx, F1 | PRESENT);
    asmjit::Label loop = a.newLabel();
    a.bind(loop);
    a.mov(x86::dword_ptr(PT1), x86::edx);  // the same entry again: a store to a tracked page
    a.invlpg(x86::dword_ptr(LIN));         // (LIN walked again: PT1 is a page table again)
    a.mov(x86::eax, x86::dword_ptr(LIN));
    a.mov(x86::dword_ptr(MMIO), x86::ecx);
    a.dec(x86::ecx);
    a.jnz(loop);
    a.mov(x86::dword_ptr(PT1), F4 | PRESENT);
    reload_cr3_and_read(a, 1);
  };
  PmGuest g(true, true);
  g.cpu.mmu.set_scheme(MmuScheme::Host);
  g.mem.map_mmio(MMIO, PAGE_SIZE, &dev);
  map_and_fill(g);
  paging_on(g);
  g.load(body);
  g.cpu.run(100000);
  EXPECT_TRUE(g.cpu.s.halted);
  EXPECT_EQ(g.mem.read(OUT, 4), 0x11111111u);
  EXPECT_EQ(g.mem.read(OUT + 4, 4), 0x44444444u);
  EXPECT_EQ(dev.writes, 100u);
  EXPECT_EQ(dev.last, 1u);
  const JitStats& st = g.cpu.jit->stats();
  EXPECT_GE(st.host_patched, 2u);                      // both stores
  EXPECT_LE(st.host_slow, 4u * HostSite::kSlowLimit);  // not one signal per store
  EXPECT_GE(g.cpu.mmu.stats().host_mapped, 1u);        // LIN, OUT, ... through the window
}

}  // namespace

// -mmu host: a translated store that reaches a new page every time (a process's first touches of
// its memory) costs a signal and an mmap per page in the window; after HostSite::kMapLimit such
// faults its access goes through the TLB's check instead. Every store lands.
TEST(ShadowGuest, HostWindowAccessesThatKeepReachingNewPagesSwitchToTheTlb) {
  static constexpr uint32_t FIRST = 0x40000, PAGES = 64;  // (identity-mapped by PT0)
  const auto body = [](Asm& a) {
    a.mov(x86::ecx, PAGES);
    a.mov(x86::edi, FIRST);
    asmjit::Label loop = a.newLabel();
    a.bind(loop);
    a.mov(x86::dword_ptr(x86::edi, 8), x86::ecx);
    a.add(x86::edi, PAGE_SIZE);
    a.dec(x86::ecx);
    a.jnz(loop);
  };
  PmGuest g(true, true);
  g.cpu.mmu.set_scheme(MmuScheme::Host);
  map_and_fill(g);
  for (uint32_t k = 0; k < PAGES; ++k)  // (A and D set: the window maps them, no slow path)
    g.put32(PT0 + (FIRST >> PAGE_SHIFT) * 4 + k * 4, (FIRST + k * PAGE_SIZE) | PRESENT | 0x60);
  paging_on(g);
  g.load(body);
  g.cpu.run(100000);
  EXPECT_TRUE(g.cpu.s.halted);
  for (uint32_t k = 0; k < PAGES; ++k) EXPECT_EQ(g.mem.read(FIRST + k * PAGE_SIZE + 8, 4), PAGES - k) << k;
  const JitStats& st = g.cpu.jit->stats();
  EXPECT_EQ(st.host_patched_maps, 1u);
  EXPECT_EQ(st.host_patched, 1u);
  // The first kMapLimit pages through the window (and the few the set-up touches), then none.
  EXPECT_GE(g.cpu.mmu.stats().host_mapped, uint64_t{HostSite::kMapLimit});
  EXPECT_LT(g.cpu.mmu.stats().host_mapped, uint64_t{HostSite::kMapLimit} + 8);
}
