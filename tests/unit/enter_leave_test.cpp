// ENTER and LEAVE against the SDM's pseudo-code (Vol. 2A, "ENTER" and "LEAVE"), in every
// combination of operand size (16/32), stack size (SS.B) and nesting level (0, 1, 2, 31, and 32
// and 36, which are 0 and 4 modulo 32), in both tiers; then the faults ENTER must raise after its
// pushes: #PF for a final stack pointer on a page the write may not reach, #SS when it leaves the
// stack segment, with ESP and EBP left as they were.
//
// The expected values come from `sdm_enter`/`sdm_leave` below, a transcription of the manual's
// pseudo-code (not of vx86's code), and from a few cases worked out by hand.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "devices/port_bus.h"
#include "emu/cpu.h"
#include "jit/jit.h"
#include "tests/unit/pm_guest.h"

using namespace vx86;

namespace {

// ---- the matrix (real mode, 386, a big-real-mode stack where SS.B = 1) ----

constexpr uint32_t CODE = 0x10000, STACK = 0x20000;  // CS and SS bases

struct Frame {
  uint32_t esp, ebp;
  std::map<uint32_t, uint8_t> stack;  // offset in SS -> byte
};

uint32_t read_le(const std::map<uint32_t, uint8_t>& m, uint32_t off, unsigned n) {
  uint32_t v = 0;
  for (unsigned k = 0; k < n; ++k) {
    auto it = m.find(off + k);
    v |= uint32_t{it == m.end() ? uint8_t{0} : it->second} << (8 * k);
  }
  return v;
}
void write_le(std::map<uint32_t, uint8_t>& m, uint32_t off, uint32_t v, unsigned n) {
  for (unsigned k = 0; k < n; ++k) m[off + k] = static_cast<uint8_t>(v >> (8 * k));
}

// The SDM's ENTER (non-64-bit): Push(EBP or BP) by operand size; FrameTemp := ESP or SP by stack
// size; for i := 1 to level - 1: (E)BP := (E)BP - opsize (by stack size), Push([(E)BP]); then
// Push(FrameTemp); finally, by stack size, EBP := FrameTemp, ESP := ESP - Size, or BP := FrameTemp,
// SP := SP - Size.
Frame sdm_enter(Frame f, unsigned opsize, bool stack32, uint16_t size, uint8_t level_imm) {
  const uint32_t mask = stack32 ? 0xFFFFFFFFu : 0xFFFFu;
  auto sp = [&] { return f.esp & mask; };
  auto set_sp = [&](uint32_t v) { f.esp = (f.esp & ~mask) | (v & mask); };
  auto push = [&](uint32_t v) {
    set_sp(sp() - opsize);
    write_le(f.stack, sp(), v, opsize);
  };
  const unsigned level = level_imm % 32;
  push(f.ebp);
  const uint32_t frame_temp = sp();
  if (level > 0) {
    uint32_t bp = f.ebp;
    for (unsigned i = 1; i < level; ++i) {
      bp = (bp & ~mask) | ((bp - opsize) & mask);
      push(read_le(f.stack, bp & mask, opsize));
    }
    push(frame_temp);
  }
  f.ebp = (f.ebp & ~mask) | frame_temp;
  set_sp(sp() - size);
  return f;
}

// The SDM's LEAVE: ESP := EBP or SP := BP by stack size; then EBP := Pop() or BP := Pop() by
// operand size.
Frame sdm_leave(Frame f, unsigned opsize, bool stack32) {
  const uint32_t mask = stack32 ? 0xFFFFFFFFu : 0xFFFFu;
  f.esp = (f.esp & ~mask) | (f.ebp & mask);
  const uint32_t v = read_le(f.stack, f.esp & mask, opsize);
  f.esp = (f.esp & ~mask) | ((f.esp + opsize) & mask);
  f.ebp = opsize == 4 ? v : (f.ebp & 0xFFFF0000u) | (v & 0xFFFF);
  return f;
}

struct Rig {
  PhysicalMemory mem{1u << 20};
  PortBus io;
  Cpu cpu{mem, io};
  Rig(bool jit, bool stack32) {
    cpu.s.model = CpuModel::i386;
    cpu.reset();
    if (jit) {
      cpu.enable_jit(true);
      cpu.jit->threshold = 0;
    }
    cpu.load_seg_real(CS, CODE >> 4);
    cpu.load_seg_real(SS, STACK >> 4);
    if (stack32) cpu.s.seg[SS].attr |= SEG_ATTR_DB;  // a big-real-mode stack (limit 64 KiB)
    cpu.s.eip = 0;
    cpu.update_mode();
  }
  void code(const std::vector<uint8_t>& bytes) {
    std::memcpy(mem.ram() + CODE, bytes.data(), bytes.size());
    mem.ram()[CODE + bytes.size()] = 0xF4;  // hlt
  }
};

// Runs one ENTER (and then a LEAVE) from `before` in both tiers and compares with the SDM.
void check_enter_leave(unsigned opsize, bool stack32, uint16_t size, uint8_t level, const Frame& before) {
  const Frame entered = sdm_enter(before, opsize, stack32, size, level);
  const Frame left = sdm_leave(entered, opsize, stack32);
  for (bool jit : {false, true}) {
    SCOPED_TRACE(testing::Message() << "o" << opsize * 8 << " stack" << (stack32 ? 32 : 16) << " enter "
                                    << size << ", " << unsigned{level} << (jit ? " jit" : " interpreter"));
    Rig t(jit, stack32);
    std::vector<uint8_t> enter = {0xC8, uint8_t(size), uint8_t(size >> 8), level};
    if (opsize == 4) enter.insert(enter.begin(), 0x66);
    t.code(enter);
    for (auto& [off, b] : before.stack) t.mem.ram()[STACK + off] = b;
    t.cpu.s.regs[ESP] = before.esp;
    t.cpu.s.regs[EBP] = before.ebp;
    t.cpu.run(1000);
    ASSERT_TRUE(t.cpu.s.halted);
    EXPECT_EQ(t.cpu.s.regs[ESP], entered.esp);
    EXPECT_EQ(t.cpu.s.regs[EBP], entered.ebp);
    for (auto& [off, b] : entered.stack) EXPECT_EQ(t.mem.ram()[STACK + off], b) << "SS:" << std::hex << off;
    // LEAVE from there.
    std::vector<uint8_t> leave = {0xC9};
    if (opsize == 4) leave.insert(leave.begin(), 0x66);
    t.code(leave);
    t.cpu.blocks.flush();
    t.cpu.s.eip = 0;
    t.cpu.s.halted = false;
    t.cpu.run(1000);
    EXPECT_EQ(t.cpu.s.regs[ESP], left.esp);
    EXPECT_EQ(t.cpu.s.regs[EBP], left.ebp);
  }
}

TEST(EnterLeave, EveryOperandSizeStackSizeAndLevel) {
  for (unsigned opsize : {2u, 4u})
    for (bool stack32 : {false, true})
      for (uint8_t level : {0, 1, 2, 3, 31, 32, 36}) {
        Frame f;
        f.esp = 0xABCD8000u & (stack32 ? 0x0000FFFFu : 0xFFFFFFFFu);  // the 64 KiB limit for SS.B = 1
        f.ebp = 0x56787000u & (stack32 ? 0x0000FFFFu : 0xFFFFFFFFu);
        for (uint32_t k = 0; k < 32 * 4; ++k)
          f.stack[0x7000 - 32 * 4 + k] = static_cast<uint8_t>(0x11 + 7 * k);
        check_enter_leave(opsize, stack32, 0x10, level, f);
      }
}

// The case, by hand: o32 ENTER 8, 36 (level 4) on a 16-bit stack. Only BP and SP change.
TEST(EnterLeave, O32OnA16BitStackChangesOnlyBpAndSp) {
  for (bool jit : {false, true}) {
    Rig t(jit, false);
    t.code({0x66, 0xC8, 0x08, 0x00, 36});
    t.cpu.s.regs[ESP] = 0xABCD1000;
    t.cpu.s.regs[EBP] = 0x56780F00;
    const uint32_t outer[3] = {0x11111111, 0x22222222, 0x33333333};  // at BP-4, BP-8, BP-12
    for (unsigned k = 0; k < 3; ++k) std::memcpy(t.mem.ram() + STACK + 0x0F00 - 4 * (k + 1), &outer[k], 4);
    t.cpu.run(1000);
    ASSERT_TRUE(t.cpu.s.halted);
    auto at = [&](uint32_t off) {
      uint32_t v;
      std::memcpy(&v, t.mem.ram() + STACK + off, 4);
      return v;
    };
    EXPECT_EQ(at(0x0FFC), 0x56780F00u);  // the old EBP
    EXPECT_EQ(at(0x0FF8), 0x11111111u);
    EXPECT_EQ(at(0x0FF4), 0x22222222u);
    EXPECT_EQ(at(0x0FF0), 0x33333333u);
    EXPECT_EQ(at(0x0FEC), 0x00000FFCu);  // FrameTemp = SP after the first push
    EXPECT_EQ(t.cpu.s.regs[EBP], 0x56780FFCu);
    EXPECT_EQ(t.cpu.s.regs[ESP], 0xABCD0FE4u);
  }
}

// By hand: o16 ENTER 4, 1 on a 32-bit stack sets all of EBP to FrameTemp (the stack size decides).
TEST(EnterLeave, O16OnA32BitStackSetsEbp) {
  for (bool jit : {false, true}) {
    Rig t(jit, true);
    t.code({0xC8, 0x04, 0x00, 0x01});
    t.cpu.s.regs[ESP] = 0x8000;
    t.cpu.s.regs[EBP] = 0x12347000;
    t.cpu.run(1000);
    ASSERT_TRUE(t.cpu.s.halted);
    uint16_t w[2];
    std::memcpy(w, t.mem.ram() + STACK + 0x7FFC, 4);
    EXPECT_EQ(w[1], 0x7000);  // BP
    EXPECT_EQ(w[0], 0x7FFE);  // FrameTemp
    EXPECT_EQ(t.cpu.s.regs[EBP], 0x00007FFEu);
    EXPECT_EQ(t.cpu.s.regs[ESP], 0x00007FF8u);
  }
}

// ---- faults (flat protected mode, paging, an IDT whose gate v leads to a HLT at HANDLER + v) ----

constexpr uint32_t IDT = 0x600, HANDLER = 0x5000, PD = 0x10000, PT = 0x11000;
constexpr uint16_t SEL_SMALL_STACK = 0x20;  // data, base 0, limit 0x2FFF, B = 1

struct FaultRig : test::PmGuest {
  explicit FaultRig(bool jit) : PmGuest(jit) {
    // GDT entry 0x20: the small stack segment.
    const uint8_t small[8] = {0xFF, 0x2F, 0, 0, 0, 0x92, 0x40, 0};
    std::memcpy(mem.ram() + GDT + SEL_SMALL_STACK, small, 8);
    cpu.s.gdtr.limit = SEL_SMALL_STACK + 7;
    for (unsigned v = 0; v < 32; ++v) {  // 32-bit interrupt gates
      const uint32_t at = HANDLER + v;
      const uint8_t gate[8] = {uint8_t(at), uint8_t(at >> 8), 0x08, 0, 0, 0x8E, 0, 0};
      std::memcpy(mem.ram() + IDT + 8 * v, gate, 8);
      mem.ram()[at] = 0xF4;
    }
    cpu.s.idtr.base = IDT;
    cpu.s.idtr.limit = 32 * 8 - 1;
  }
  // Identity paging for the first 4 MiB with `flags` per page; `cr0_wp` sets CR0.WP.
  void page(uint32_t lin, uint32_t flags) { put32(PT + 4 * (lin >> 12), (lin & ~0xFFFu) | flags); }
  void paging_on(bool cr0_wp) {
    for (uint32_t p = 0; p < 1024; ++p) put32(PT + 4 * p, (p << 12) | 3);
    put32(PD, PT | 3);
    cpu.s.cr[3] = PD;
    cpu.s.cr[0] |= 0x80000000u | (cr0_wp ? 0x10000u : 0);
    cpu.update_mode();
    cpu.update_paging();
  }
  uint32_t get32(uint32_t at) {
    uint32_t v;
    std::memcpy(&v, mem.ram() + at, 4);
    return v;
  }
};

// ENTER 0x1000, 0 with ESP = 0x4800 pushes EBP on a present page; the final ESP, 0x37FC, is on
// page 3, which the write may not reach: not present, or read-only under CR0.WP.
void enter_final_page_fault(uint32_t page3_flags, uint32_t expected_error) {
  for (bool jit : {false, true}) {
    SCOPED_TRACE(jit ? "jit" : "interpreter");
    FaultRig g(jit);
    g.load([](asmjit::x86::Assembler& a) { a.enter(asmjit::imm(0x1000), asmjit::imm(0)); });
    g.paging_on(true);
    g.page(0x3000, page3_flags);
    g.cpu.s.regs[ESP] = 0x4800;
    g.cpu.s.regs[EBP] = 0xCAFE0000;
    g.cpu.run(1000);
    ASSERT_TRUE(g.cpu.s.halted);
    EXPECT_EQ(g.cpu.s.eip, HANDLER + VEC_PF + 1u) << "#PF's handler ran";
    EXPECT_EQ(g.cpu.s.cr[2], 0x37FCu);
    EXPECT_EQ(g.get32(0x4800 - 16), expected_error);       // the error code
    EXPECT_EQ(g.get32(0x4800 - 12), test::PmGuest::CODE);  // EIP: the ENTER
    EXPECT_EQ(g.cpu.s.regs[ESP], 0x4800u - 16) << "ENTER left ESP as it was";
    EXPECT_EQ(g.cpu.s.regs[EBP], 0xCAFE0000u) << "and EBP";
  }
}

TEST(EnterLeave, FinalStackPointerOnANotPresentPageFaults) { enter_final_page_fault(0, PF_W); }
TEST(EnterLeave, FinalStackPointerOnAReadOnlyPageFaults) { enter_final_page_fault(1, PF_P | PF_W); }

// ENTER 0x20, 0 with ESP = 0x10 in a stack segment with limit 0x2FFF: the push fits, the final ESP
// (0xFFFFFFEC) is past the limit: #SS(0).
TEST(EnterLeave, FinalStackPointerPastTheLimitRaisesSs) {
  for (bool jit : {false, true}) {
    SCOPED_TRACE(jit ? "jit" : "interpreter");
    FaultRig g(jit);
    g.load([](asmjit::x86::Assembler& a) { a.enter(asmjit::imm(0x20), asmjit::imm(0)); });
    g.cpu.s.seg[SS] = SegReg{SEL_SMALL_STACK, uint16_t{0x0093 | SEG_ATTR_DB}, 0, 0x2FFF};
    g.cpu.update_mode();
    g.cpu.s.regs[ESP] = 0x10;
    g.cpu.s.regs[EBP] = 0xCAFE0000;
    g.cpu.run(1000);
    ASSERT_TRUE(g.cpu.s.halted);
    EXPECT_EQ(g.cpu.s.eip, HANDLER + VEC_SS + 1u) << "#SS's handler ran";
    EXPECT_EQ(g.get32(0x10 - 16), 0u);                   // the error code
    EXPECT_EQ(g.get32(0x10 - 12), test::PmGuest::CODE);  // EIP: the ENTER
    EXPECT_EQ(g.cpu.s.regs[ESP], 0u);
    EXPECT_EQ(g.cpu.s.regs[EBP], 0xCAFE0000u);
  }
}

}  // namespace

namespace {

// The same class of rule for every stack instruction: with a 16-bit stack (SS.B = 0) only SP moves
// (the stack size, not the operand size, picks SP or ESP), whatever the operand size; with a
// 32-bit stack all of ESP. Each sequence's net stack movement is given; ESP starts at
// 0xABCD1000 (16-bit stack) or 0x1000 (32-bit stack).
TEST(StackSize, EveryStackInstructionMovesOnlySpOnA16BitStack) {
  struct Case {
    const char* name;
    std::vector<uint8_t> code;
    int32_t moved;  // ESP change in bytes
  };
  const std::vector<Case> cases = {
      {"push ax", {0x50}, -2},
      {"o32 push eax", {0x66, 0x50}, -4},
      {"o32 push imm", {0x66, 0x68, 1, 2, 3, 4}, -4},
      {"pusha", {0x60}, -16},
      {"o32 pushad", {0x66, 0x60}, -32},
      {"o32 pushad; popad", {0x66, 0x60, 0x66, 0x61}, 0},
      {"o32 pushfd", {0x66, 0x9C}, -4},
      {"o32 push fs", {0x66, 0x0F, 0xA0}, -4},
      {"o32 call +0", {0x66, 0xE8, 0, 0, 0, 0}, -4},
      {"o32 push eax; o32 pop ecx", {0x66, 0x50, 0x66, 0x59}, 0},
      {"o32 pushfd; o32 popfd", {0x66, 0x9C, 0x66, 0x9D}, 0},
  };
  for (bool stack32 : {false, true})
    for (const Case& c : cases) {
      SCOPED_TRACE(testing::Message() << c.name << (stack32 ? " (32-bit stack)" : " (16-bit stack)"));
      Rig t(false, stack32);
      t.code(c.code);
      const uint32_t esp0 = stack32 ? 0x1000u : 0xABCD1000u;
      t.cpu.s.regs[ESP] = esp0;
      t.cpu.run(100);
      ASSERT_TRUE(t.cpu.s.halted);
      const uint32_t mask = stack32 ? 0xFFFFFFFFu : 0xFFFFu;
      EXPECT_EQ(t.cpu.s.regs[ESP], (esp0 & ~mask) | ((esp0 + static_cast<uint32_t>(c.moved)) & mask));
    }
}

}  // namespace
