// After an interpreter handler that generated code called, the block's next exit may still jump
// straight into a chained block, unless the handler changed something a chained exit relies on
// (jit_call_handler's needs_dispatcher): the mode and flat segments the target was translated
// for, or the fetch translation of the running page (INVLPG, or a data access whose TLB fill
// replaces that page's entry after the guest edited its page-table entry). Each guest below runs
// a handler before a near exit in every iteration, and once the handler has made that exit's
// chained target wrong; both tiers must agree with the expected sums.
#include <asmjit/x86.h>
#include <gtest/gtest.h>

#include <vector>

#include "tests/unit/pm_guest.h"

using namespace vx86;
using vx86::test::PmGuest;

namespace {

constexpr uint32_t DATA = 0x3000, BASED = PmGuest::BASED;

// 30 iterations. Block S reloads DS (flat for ECX 30..11, based for 10..1) and jumps to T, which
// reads [DATA]; S and T are translated while DS is flat, so S's exit is chained into T's flat
// translation, which must not run once S has made DS based.
void segment_guest(asmjit::x86::Assembler& a) {
  using namespace asmjit;
  Label top = a.newLabel(), s = a.newLabel(), t = a.newLabel();
  a.mov(x86::eax, x86::dword_ptr(DATA));  // the data page in the TLB: no slow path hides a wrong address
  a.mov(x86::ecx, 30);
  a.xor_(x86::esi, x86::esi);
  a.bind(top);
  a.mov(x86::ebx, PmGuest::SEL_FLAT);
  a.mov(x86::ds, x86::bx);  // DS flat as S starts
  a.mov(x86::edx, PmGuest::SEL_FLAT);
  a.cmp(x86::ecx, 10);
  a.jg(s);
  a.mov(x86::edx, PmGuest::SEL_BASED);
  a.jmp(s);   // (S is a block of its own in both phases)
  a.bind(s);  // S
  a.mov(x86::ds, x86::dx);
  a.jmp(t);
  a.bind(t);  // T
  a.mov(x86::eax, x86::dword_ptr(DATA));
  a.add(x86::esi, x86::eax);
  a.dec(x86::ecx);
  a.jnz(top);
}

TEST(JitHandlerTaint, SegmentReloadBeforeAChainedExit) {
  for (bool jit : {false, true}) {
    PmGuest g(jit);
    g.put32(DATA, 1);
    g.put32(DATA + BASED, 0x100);
    g.load(segment_guest);
    g.cpu.run(100000);
    ASSERT_TRUE(g.cpu.s.halted) << (jit ? "jit" : "interpreter");
    EXPECT_EQ(g.cpu.s.regs[ESI], 20u * 1 + 10u * 0x100) << (jit ? "jit" : "interpreter");
    // S's exit after its handler (a MOV DS that changed nothing) was chained.
    if (jit) EXPECT_GT(g.cpu.jit->stats().chains, 0u);
  }
}

// Paging on: linear 0x400000 maps to one of two physical copies of the same loop, which differ
// only in the constant T adds. Every iteration, block S stores the page's page-table entry (the
// first copy for ECX 100..51, the second from 50 on), then either flushes it with INVLPG or, with
// no flush, reads [0x800000], whose TLB entry is the same slot as 0x400000's (so the interpreter
// walks the page tables again at the next block), and jumps to T in the same page.
constexpr uint32_t PD = 0x10000, PT0 = 0x11000, PT1 = 0x12000, PT2 = 0x13000, COPY0 = 0x20000,
                   COPY1 = 0x30000, FAR_DATA = 0x40000, LIN = 0x400000, LIN_DATA = 0x800000;

std::vector<uint8_t> remap_loop(bool invlpg, uint32_t k) {
  using namespace asmjit;
  CodeHolder code;
  code.init(Environment(Arch::kX86), LIN);
  x86::Assembler a(&code);
  Label l = a.newLabel(), keep = a.newLabel(), t = a.newLabel();
  a.mov(x86::ecx, 100);
  a.bind(l);
  a.mov(x86::edx, COPY0 | 7);
  a.cmp(x86::ecx, 50);
  a.ja(keep);
  a.mov(x86::edx, COPY1 | 7);
  a.jmp(keep);   // (S is a block of its own in both phases)
  a.bind(keep);  // S
  a.mov(x86::dword_ptr(PT1), x86::edx);
  if (invlpg) {
    a.invlpg(x86::byte_ptr(LIN));
  } else {
    a.mov(x86::esi, LIN_DATA);
    a.lodsd();  // an interpreter handler
  }
  a.jmp(t);
  a.bind(t);  // T
  a.add(x86::edi, k);
  a.dec(x86::ecx);
  a.jnz(l);
  a.hlt();
  code.flatten();
  code.resolveUnresolvedLinks();
  code.relocateToBase(LIN);
  std::vector<uint8_t> out(code.codeSize());
  code.copyFlattenedData(out.data(), out.size());
  return out;
}

void remap_running_page(bool invlpg) {
  for (bool jit : {false, true}) {
    PmGuest g(jit);
    for (uint32_t p = 0; p < 0x80; ++p) g.put32(PT0 + 4 * p, (p << 12) | 7);  // identity, 512 KiB
    g.put32(PD, PT0 | 7);
    g.put32(PD + 4, PT1 | 7);
    g.put32(PD + 8, PT2 | 7);
    g.put32(PT1, COPY0 | 7);
    g.put32(PT2, FAR_DATA | 7);
    for (uint32_t copy : {COPY0, COPY1}) {
      const std::vector<uint8_t> loop = remap_loop(invlpg, copy == COPY0 ? 1 : 0x100);
      std::memcpy(g.mem.ram() + copy, loop.data(), loop.size());
    }
    CpuState& s = g.cpu.s;
    s.eip = LIN;
    s.regs[EDI] = 0;
    s.cr[3] = PD;
    s.cr[0] |= 0x80000000u;
    g.cpu.update_mode();
    g.cpu.update_paging();
    g.cpu.run(100000);
    ASSERT_TRUE(s.halted) << (jit ? "jit" : "interpreter");
    EXPECT_EQ(s.regs[EDI], 50u * 1 + 50u * 0x100) << (jit ? "jit" : "interpreter");
  }
}

TEST(JitHandlerTaint, InvlpgOfTheRunningPage) { remap_running_page(true); }
TEST(JitHandlerTaint, TlbFillEvictsTheRunningPage) { remap_running_page(false); }

}  // namespace
