// The JIT against the interpreter: each natively translated form runs with random operands, flags
// and memory in both tiers from the same state (32-bit code), and every register, EFLAGS, EIP and
// the memory operand must come out identical. Also: a fault in the middle of a translated block,
// a write into the running block's own code, and a guest loop that chains blocks.
#include "jit/jit.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "devices/port_bus.h"
#include "emu/cpu.h"

using namespace vx86;

namespace {

constexpr uint32_t CODE = 0x1000, MEM = 0x3000, STACK = 0x8000, HANDLER = 0x2000;

struct Tier {
  explicit Tier(bool jit, size_t cache_bytes = 0) {
    cpu.reset();
    if (jit) {
      cpu.enable_jit(true, cache_bytes);
      cpu.jit->threshold = 0;  // translate every block on its first run
    }
    // Every exception vector points at a HLT, so a fault ends the run with a visible state.
    uint8_t* ram = mem.ram();
    for (unsigned v = 0; v < 32; ++v) {
      ram[4 * v] = HANDLER & 0xFF;
      ram[4 * v + 1] = HANDLER >> 8;
      ram[4 * v + 2] = ram[4 * v + 3] = 0;
    }
    ram[HANDLER] = 0xF4;
  }
  // Loads code + state and runs to the HLT after the code.
  void run(const std::vector<uint8_t>& code, const uint32_t (&regs)[8], uint32_t flags, const uint8_t* m,
           bool code32 = true, uint64_t budget = 10000) {
    CpuState& s = cpu.s;
    for (unsigned k = 0; k < SEG_COUNT; ++k) {
      cpu.load_seg_real(k, 0);
      s.seg[k].limit = 0xFFFF;
      s.seg[k].attr = 0x0093;
    }
    // 32-bit code in real mode (as the host-diff tests), or plain 16-bit code
    s.seg[CS].attr = code32 ? uint16_t{0x009B | SEG_ATTR_DB} : uint16_t{0x009B};
    s.halted = false;
    for (unsigned k = 0; k < 8; ++k) s.regs[k] = regs[k];
    s.eflags = (flags & F_ARITH) | F_BIT1;
    s.eip = CODE;
    cpu.update_mode();
    uint8_t* ram = mem.ram();
    std::memcpy(ram + CODE, code.data(), code.size());
    ram[CODE + code.size()] = 0xF4;
    std::memcpy(ram + MEM, m, 64);
    cpu.blocks.flush();
    cpu.run(budget);
  }
  PhysicalMemory mem{1u << 20};
  PortBus io;
  Cpu cpu{mem, io};
};

std::string hex(const std::vector<uint8_t>& b) {
  std::string s;
  char t[4];
  for (uint8_t x : b) {
    std::snprintf(t, sizeof t, "%02x ", x);
    s += t;
  }
  return s;
}

class JitDiff : public ::testing::Test {
 protected:
  Tier interp{false}, jit{true};
  std::mt19937 rng{0x11C0DE};

  uint32_t value() {
    static const uint32_t edges[] = {0,      1,      0x7F,       0x80,       0xFF,      0x7FFF,
                                     0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF};
    return (rng() % 4 == 0) ? edges[rng() % 11] : static_cast<uint32_t>(rng());
  }

  // Runs `code` in both tiers with `n` random states; EBX points at the memory operand area and
  // ESP at the stack. Then (straight-line code) the same instruction three times in one block,
  // where the registers it names are used often enough to live in host registers.
  void check(const std::vector<uint8_t>& code, int n = 200) {
    check_once(code, n);
    if (!straight_line) return;
    std::vector<uint8_t> thrice;
    for (int k = 0; k < 3; ++k) thrice.insert(thrice.end(), code.begin(), code.end());
    check_once(thrice, n / 2);
  }
  bool straight_line = true;
  void check_once(const std::vector<uint8_t>& code, int n) {
    for (int c = 0; c < n; ++c) {
      uint32_t regs[8];
      for (auto& r : regs) r = value();
      regs[EBX] = MEM + 16;
      regs[ESP] = STACK;
      const uint32_t flags = static_cast<uint32_t>(rng());
      uint8_t m[64];
      for (auto& b : m) b = static_cast<uint8_t>(rng());
      interp.run(code, regs, flags, m);
      jit.run(code, regs, flags, m);
      const CpuState& a = interp.cpu.s;
      const CpuState& b = jit.cpu.s;
      for (unsigned k = 0; k < 8; ++k) ASSERT_EQ(a.regs[k], b.regs[k]) << hex(code) << " register " << k;
      ASSERT_EQ(a.eflags, b.eflags) << hex(code);
      ASSERT_EQ(a.eip, b.eip) << hex(code);
      ASSERT_EQ(a.icount, b.icount) << hex(code);
      ASSERT_EQ(0, std::memcmp(interp.mem.ram() + MEM, jit.mem.ram() + MEM, 64)) << hex(code) << " memory";
      ASSERT_EQ(0, std::memcmp(interp.mem.ram() + STACK - 16, jit.mem.ram() + STACK - 16, 16))
          << hex(code) << " stack";
    }
    ASSERT_GT(jit.cpu.jit->stats().native_insns, 0u);
    ASSERT_EQ(jit.cpu.jit->stats().encode_errors, 0u) << hex(code);
  }
};

uint8_t modrm(unsigned mod, unsigned reg, unsigned rm) {
  return static_cast<uint8_t>(mod << 6 | reg << 3 | rm);
}

TEST_F(JitDiff, AluForms) {
  for (unsigned op = 0; op < 8; ++op) {
    const uint8_t b = static_cast<uint8_t>(op * 8);
    for (unsigned r1 = 0; r1 < 8; r1 += 3) {
      check({static_cast<uint8_t>(b + 1), modrm(3, r1, 1)});        // op ecx, r32
      check({0x66, static_cast<uint8_t>(b + 1), modrm(3, r1, 6)});  // op si, r16
      check({static_cast<uint8_t>(b + 0), modrm(3, r1, 5)});        // op ch, r8
    }
    check({static_cast<uint8_t>(b + 3), modrm(1, 2, 3), 0xFC});  // op edx, [ebx-4]
    check({static_cast<uint8_t>(b + 1), modrm(1, 0, 3), 0x08});  // op [ebx+8], eax
    check({static_cast<uint8_t>(b + 0), modrm(0, 4, 3)});        // op [ebx], ah
    check({0x81, modrm(3, op, 2), 0x78, 0x56, 0x34, 0x92});      // op edx, imm32
    check({0x83, modrm(1, op, 3), 0x04, 0x80});                  // op dword [ebx+4], imm8
    check({0x66, 0x83, modrm(3, op, 0), 0x7F});                  // op ax, imm8
    check({0x80, modrm(3, op, 7), 0xC3});                        // op bh, imm8
  }
  check({0x85, modrm(3, 1, 2)});          // test edx, ecx
  check({0xA9, 0x00, 0x80, 0x00, 0x00});  // test eax, imm32
  check({0x31, modrm(3, 0, 0)});          // xor eax, eax (zero idiom)
  // EAX used often enough to live in a host register, EDI and ESI not: the ALU ops work on the
  // host register with a CpuState operand (TEST has no reg, mem encoding: it is swapped).
  straight_line = false;
  for (unsigned op = 0; op < 8; ++op) {
    const uint8_t b = static_cast<uint8_t>(op * 8);
    check({0x8B, 0x03, 0x01, 0xC8, static_cast<uint8_t>(b + 1), modrm(3, 7, 0), 0x01,
           0xD0});  // mov eax, [ebx]; add eax, ecx; op eax, edi; add eax, edx
    check({0x8B, 0x03, 0x01, 0xC8, static_cast<uint8_t>(b + 3), modrm(3, 0, 6), 0x01,
           0xD0});  // ...; op eax, esi (reg, r/m form)
  }
  check({0x8B, 0x03, 0x01, 0xC8, 0x85, 0xF8, 0x0F, 0x94,
         0xC2});  // mov eax, [ebx]; add eax, ecx; test eax, edi; setz dl
  check({0x8B, 0x03, 0x01, 0xC8, 0x85, 0x43, 0x04, 0x0F, 0x95, 0xC2});  // ...; test [ebx+4], eax; setnz dl
}

TEST_F(JitDiff, UnaryAndMoves) {
  for (unsigned r = 0; r < 8; ++r) {
    if (r == ESP) continue;
    check({static_cast<uint8_t>(0x40 + r)});  // inc r32
    check({static_cast<uint8_t>(0x48 + r)});  // dec r32
  }
  for (unsigned ext : {0u, 1u, 2u, 3u}) {    // inc dec not neg
    const unsigned e = ext < 2 ? ext : ext;  // FF /0 /1, F7 /2 /3
    if (ext < 2)
      check({0xFF, modrm(1, e, 3), 0x0C});
    else
      check({0xF7, modrm(3, e, 1)});
    if (ext < 2)
      check({0xFE, modrm(3, e, 4)});
    else
      check({0x66, 0xF7, modrm(1, e, 3), 0x02});
  }
  check({0x89, modrm(3, 2, 6)});              // mov esi, edx
  check({0x8B, modrm(1, 1, 3), 0x10});        // mov ecx, [ebx+16]
  check({0x89, modrm(1, 0, 3), 0xF0});        // mov [ebx-16], eax
  check({0x88, modrm(0, 7, 3)});              // mov [ebx], bh
  check({0x66, 0x8B, modrm(0, 5, 3)});        // mov bp, [ebx]
  check({0xC6, modrm(1, 0, 3), 0x05, 0xAB});  // mov byte [ebx+5], 0xAB
  check({0xB9, 0x44, 0x33, 0x22, 0x11});      // mov ecx, imm32
  check({0x0F, 0xB6, modrm(3, 0, 7)});        // movzx eax, bh
  check({0x0F, 0xBF, modrm(1, 2, 3), 0x06});  // movsx edx, word [ebx+6]
  check({0x66, 0x0F, 0xBE, modrm(0, 1, 3)});  // movsx cx, byte [ebx]
  check({0x8D, 0x44, 0x8A, 0x7C});            // lea eax, [edx+ecx*4+0x7c]
  check({0x66, 0x8D, 0x74, 0x1D, 0x80});      // lea si, [ebp+ebx-0x80]
  check({0x87, modrm(3, 1, 6)});              // xchg esi, ecx
  check({0x98});                              // cwde
  check({0x66, 0x98});                        // cbw
  check({0x99});                              // cdq
  check({0x66, 0x99});                        // cwd
  for (unsigned r = 0; r < 8; ++r) check({0x0F, static_cast<uint8_t>(0xC8 + r)});  // bswap r32
  check({0x90});                                                                   // nop
  check({0x0F, 0x1F, 0x44, 0x00, 0x00});              // nop dword [eax+eax+0] (a hint: no access)
  check({0x66, 0x0F, 0x1F, 0x84, 0x00, 0, 0, 0, 0});  // nop word [eax+eax+0]
}

TEST_F(JitDiff, StackAndConditions) {
  check({0x50, 0x56, 0x5F, 0x59});                                // push eax; push esi; pop edi; pop ecx
  check({0x66, 0x52, 0x66, 0x5D});                                // push dx; pop bp
  check({0x68, 0x78, 0x56, 0x34, 0x12, 0x6A, 0x80, 0x58, 0x5A});  // push imm32; push imm8; pop; pop
  for (unsigned cc = 0; cc < 16; ++cc) {
    check({0x39, modrm(3, 1, 2), 0x0F, static_cast<uint8_t>(0x90 + cc), modrm(3, 0, 0)},
          60);                                                                 // cmp; setcc al
    check({0x0F, static_cast<uint8_t>(0x90 + cc), modrm(1, 0, 3), 0x03}, 30);  // setcc [ebx+3]
    check({0x0F, static_cast<uint8_t>(0x40 + cc), modrm(3, 6, 1)}, 60);        // cmovcc esi, ecx
    check({0x0F, static_cast<uint8_t>(0x40 + cc), modrm(1, 2, 3), 0x08}, 30);  // cmovcc edx, [ebx+8]
    // jcc over an instruction, then a second block
    check({0x01, modrm(3, 2, 0), static_cast<uint8_t>(0x70 + cc), 0x01, 0x41, 0x42}, 60);
  }
  check({0xFF, modrm(1, 6, 3), 0x04, 0x5E});        // push dword [ebx+4]; pop esi
  check({0x66, 0xFF, modrm(0, 6, 3), 0x66, 0x59});  // push word [ebx]; pop cx
  check({0x55, 0x89, 0xE5, 0x6A, 0x07, 0xC9});      // push ebp; mov ebp, esp; push 7; leave
  check({0x89, 0xDD, 0xC9});                        // mov ebp, ebx; leave (pops the memory area)
  check({0x66, 0x89, 0xDD, 0x66, 0xC9});            // mov bp, bx; o16 leave
  check({0xE8, 0x02, 0x00, 0x00, 0x00, 0xEB, 0x03, 0x41, 0xC3, 0x90, 0x90});  // call; ret; jmp
  check({0xE8, 0x01, 0x00, 0x00, 0x00, 0xF4, 0xC2, 0x04, 0x00});              // call; ret 4
}

TEST_F(JitDiff, ShiftsAndImul) {
  for (unsigned op : {0u, 1u, 4u, 5u, 7u}) {  // ROL ROR SHL SHR SAR
    for (uint8_t cnt : {1, 2, 5, 7, 8, 15, 16, 31, 33}) {
      check({0xC1, modrm(3, op, 2), cnt}, 40);              // op edx, imm8
      check({0x66, 0xC1, modrm(1, op, 3), 0x02, cnt}, 40);  // op word [ebx+2], imm8
      check({0xC0, modrm(3, op, 4), cnt}, 40);              // op ah, imm8
    }
    check({0xD1, modrm(3, op, 6)}, 40);  // op esi, 1
    check({0xD0, modrm(0, op, 3)}, 40);  // op byte [ebx], 1
  }
  for (unsigned op : {4u, 5u, 7u}) {           // SHL SHR SAR by CL (counts 0, 1 and more: ECX is random)
    check({0xD3, modrm(3, op, 2)}, 100);       // op edx, cl
    check({0xD3, modrm(3, op, 1)}, 60);        // op ecx, cl
    check({0xD3, modrm(1, op, 3), 0x04}, 60);  // op dword [ebx+4], cl
    check({0x01, 0xC6, 0xD3, modrm(3, op, 0), 0x72, 0x01, 0x47},
          60);  // add esi, eax; op eax, cl; jc; inc edi
  }
  check({0x0F, 0xAF, modrm(3, 1, 2)});                    // imul ecx, edx
  check({0x66, 0x0F, 0xAF, modrm(1, 5, 3), 0x04});        // imul bp, [ebx+4]
  check({0x69, modrm(3, 0, 6), 0x39, 0x30, 0x00, 0x80});  // imul eax, esi, imm32
  check({0x6B, modrm(1, 7, 3), 0x08, 0xF9});              // imul edi, [ebx+8], -7
  check({0x66, 0x6B, modrm(3, 2, 1), 0x7F});              // imul dx, cx, 127
}

// A loop of chained blocks (dispatched inside generated code), counting down 1000 times.
TEST_F(JitDiff, ChainedLoop) {
  // mov ecx, 1000; l: add eax, ecx; dec ecx; jnz l
  straight_line = false;
  check({0xB9, 0xE8, 0x03, 0x00, 0x00, 0x01, 0xC8, 0x49, 0x75, 0xFB}, 20);
  // The loop's back edge is chained (patched jump), so the dispatcher sees few transfers.
  EXPECT_GT(jit.cpu.jit->stats().chains, 0u);
  EXPECT_LT(jit.cpu.jit->stats().dispatch_hits(), 20u * 10);
}

// A page fault, #GP or #SS in the middle of a translated block leaves the interpreter's state:
// EIP at the faulting instruction, earlier instructions done, later ones not.
TEST_F(JitDiff, FaultMidBlock) {
  // inc eax; mov ecx, [ebx+0x7fff0000] (beyond the 64 KiB limit: #GP); inc edx
  check({0x40, 0x8B, 0x8B, 0x00, 0x00, 0xFF, 0x7F, 0x42}, 20);
  // add eax, ecx (flags live at the fault); mov [ebx+0xfffe], eax: #GP at the limit; inc edx
  check({0x01, 0xC8, 0x89, 0x83, 0xFE, 0xFF, 0x00, 0x00, 0x42}, 20);
  EXPECT_GT(jit.cpu.jit->stats().bails, 0u);
}

// Flags a writer leaves in a host register (merged into EFLAGS only when read) survive a slow
// path in between: an access that crosses a page always takes its handler, which must see the
// earlier flags, and the readers after it must see them too.
TEST_F(JitDiff, FlagsAcrossSlowPaths) {
  // add eax, ecx; mov edx, [ebx+0xfee] (crosses into the next page); setc al; adc esi, edi
  check({0x01, 0xC8, 0x8B, 0x93, 0xEE, 0x0F, 0x00, 0x00, 0x0F, 0x92, 0xC0, 0x11, 0xFE}, 60);
  // add eax, ecx; inc edx (keeps CF); mov [ebx+0xfee], eax (crosses); jc +1; inc ecx; inc esi
  check({0x01, 0xC8, 0x42, 0x89, 0x83, 0xEE, 0x0F, 0x00, 0x00, 0x72, 0x01, 0x41, 0x46}, 60);
  // A writer whose flags only a later access's slow path reads: that path recomputes them from
  // the registers. Here the access faults (#GP past the 64 KiB limit), so the flags are seen.
  for (uint8_t op : {0x01, 0x09, 0x21, 0x29, 0x31, 0x39, 0x85}) {  // ADD OR AND SUB XOR CMP TEST
    // op eax, ecx; mov edx, [ebx+0x7fff0000]; add esi, edi
    check({op, 0xC8, 0x8B, 0x93, 0x00, 0x00, 0xFF, 0x7F, 0x01, 0xFE}, 40);
    // op edx, edx (one register both ways)
    check({op, 0xD2, 0x8B, 0x93, 0x00, 0x00, 0xFF, 0x7F, 0x01, 0xFE}, 20);
  }
  for (uint8_t ext : {0u, 1u, 4u, 5u, 6u, 7u}) {  // ADD OR AND SUB XOR CMP eax, imm32
    check({0x81, modrm(3, ext, 0), 0x78, 0x56, 0x34, 0x92, 0x8B, 0x93, 0x00, 0x00, 0xFF, 0x7F, 0x01, 0xFE},
          40);
  }
  // add eax, ecx; mov ecx, 5 (the source changes before the access: the flags must be kept)
  check({0x01, 0xC8, 0xB9, 0x05, 0x00, 0x00, 0x00, 0x8B, 0x93, 0x00, 0x00, 0xFF, 0x7F, 0x01, 0xFE}, 40);
  // sub eax, ecx; cmovb edx, [ebx+0xffe] (crosses); sbb esi, esi; sete bl
  check({0x29, 0xC8, 0x0F, 0x42, 0x93, 0xFE, 0x0F, 0x00, 0x00, 0x19, 0xF6, 0x0F, 0x94, 0xC3}, 60);
  EXPECT_GT(jit.cpu.jit->stats().bails, 0u);
}

// Lazy flags (jit/lazy_flags.h): a block that ends after ADD/SUB/AND/OR/XOR/CMP/TEST/INC/DEC
// leaves the operation and its operands in CpuState::cc_op/cc_a/cc_b; the next block (`jmp $+2`
// ends the first) or the rest of the same block must read the same flags as the interpreter,
// also after the writer's own slow path, whatever reads them first: a branch,
// SETcc, CMOVcc, ADC/SBB, an instruction that keeps CF (INC), a handler (PUSHFD, RCL), a slow
// path (a page-crossing access, a #GP), or the run loop (the HLT after the code).
TEST_F(JitDiff, LazyFlagsAcrossBlocks) {
  using Bytes = std::vector<uint8_t>;
  const std::vector<Bytes> writers = {
      {0x01, 0xC8},
      {0x29, 0xC8},
      {0x21, 0xC8},
      {0x09, 0xC8},
      {0x31, 0xC8},
      {0x39, 0xC8},
      {0x85, 0xC8},
      {0x81, 0xC0, 0x78, 0x56, 0x34, 0x92},  // add eax, imm32
      {0x81, 0xE8, 0x01, 0x00, 0x00, 0x80},  // sub eax, imm32
      {0x83, 0xF8, 0x10},                    // cmp eax, 16
      {0xA9, 0x00, 0x80, 0x00, 0x00},        // test eax, 0x8000
      {0x03, 0x43, 0x04},
      {0x2B, 0x43, 0x04},
      {0x23, 0x43, 0x04},
      {0x0B, 0x43, 0x04},  // op eax, [ebx+4]
      {0x33, 0x43, 0x04},
      {0x66, 0x01, 0xC8},
      {0x66, 0x29, 0xC8},
      {0x66, 0x3D, 0x00, 0x80},  // 16-bit
      {0x00, 0xE0},
      {0x28, 0xE5},
      {0x38, 0xC4},
      {0x84, 0xE0},
      {0x80, 0xEC, 0x12},
      {0x02, 0x63, 0x04},
      {0x31, 0xC0},
      {0x85, 0xC0},
      {0x01, 0xC0},  // xor eax, eax; test eax, eax; add eax, eax
      {0x29, 0xC0},
      {0x66, 0x01, 0xC9},
      {0x29, 0xC9, 0x41},  // sub eax, eax; add cx, cx; sub ecx, ecx
      // ADC/SBB: carry chains, immediates, 16 and 8 bits, then INC on memory across a page
      {0x01, 0xC8, 0x11, 0xD6},
      {0x29, 0xC8, 0x19, 0xD6, 0x19, 0xC8},
      {0x83, 0xD6, 0x05},
      {0x66, 0x11, 0xD6},
      {0x10, 0xE0},
      {0x11, 0xD6, 0xFF, 0x8B, 0xEE, 0x0F, 0x00, 0x00},
      {0x19, 0xD6, 0x41},
      {0x11, 0xD6, 0xFF, 0x83, 0x00, 0x00, 0xFF, 0x7F},  // adc; inc dword [ebx+0x7fff0000]: #GP
      // an operand changes after the writer (spilled): mov ecx, 5 / mov eax, ecx / lea ecx, [ecx+1]
      {0x01, 0xC8, 0xB9, 0x05, 0x00, 0x00, 0x00},
      {0x39, 0xC8, 0x89, 0xC8},
      {0x29, 0xC8, 0x8D, 0x49, 0x01},
      {0x03, 0x43, 0x04, 0x89, 0xC8},
      {0x2B, 0x43, 0x04, 0xB8, 0x05, 0x00, 0x00, 0x00},
      // two lazy writers with memory sources in a row (their saved destinations must not collide)
      {0x03, 0x43, 0x04, 0x2B, 0x4B, 0x08},
      // memory operands: op [ebx+4], eax / cmp eax, [ebx+4] / test / imm / bytes with AH / INC DEC
      {0x01, 0x43, 0x04},
      {0x29, 0x43, 0x04},
      {0x31, 0x43, 0x04},
      {0x39, 0x43, 0x04},
      {0x3B, 0x43, 0x04},
      {0x85, 0x43, 0x04},
      {0x83, 0x7B, 0x04, 0x10},
      {0x80, 0x6B, 0x04, 0x7F},
      {0x38, 0x63, 0x04},
      {0xFF, 0x4B, 0x04},
      {0xFE, 0x43, 0x04},
      {0x66, 0xFF, 0x4B, 0x04},
      {0x66, 0x81, 0x43, 0x04, 0x34, 0x12},
      // ... across a page (the slow path leaves the block), and a register operand that changes
      {0x39, 0x83, 0xEE, 0x0F, 0x00, 0x00},
      {0xFF, 0x8B, 0xEE, 0x0F, 0x00, 0x00},
      {0x3B, 0x43, 0x04, 0x89, 0xD0},
      // INC/DEC keep CF: from EFLAGS, from a lazy writer, from flags in r11 (NEG), from INC
      {0x41},
      {0x49},
      {0x66, 0x41},
      {0xFE, 0xC4},
      {0x01, 0xC8, 0x41},
      {0x39, 0xC8, 0x49, 0x41},
      {0xF7, 0xDE, 0x49},
      {0x41, 0x8D, 0x49, 0x01},
      {0x8B, 0x93, 0xEE, 0x0F, 0x00, 0x00, 0x49},
  };
  std::vector<Bytes> readers = {
      {},
      {0xEB, 0x00},
      {0x11, 0xFE},
      {0x19, 0xFE},
      {0x42},
      {0x9C, 0x5A},
      {0x0F, 0x42, 0xD6},
      {0x0F, 0x4C, 0xD6},
      {0xD1, 0xD2},                                            // rcl edx, 1
      {0x8B, 0x93, 0x00, 0x00, 0xFF, 0x7F},                    // #GP past the segment's limit
      {0x8B, 0x93, 0xEE, 0x0F, 0x00, 0x00, 0x0F, 0x92, 0xC0},  // crosses a page; setc al
      {0xEB, 0x00, 0x7E, 0x01, 0x41},                          // a block later: jle
      // handlers that keep unevaluated flags as they are, then a reader: rdtsc, pause, cld, mov from DS
      {0x0F, 0x31, 0x9C, 0x5A},
      {0xF3, 0x90, 0x72, 0x01, 0x41},
      {0xFC, 0x0F, 0x92, 0xC2},
      {0x8C, 0xD8, 0x11, 0xFE},
  };
  for (uint8_t cc = 0; cc < 16; ++cc) {
    readers.push_back({static_cast<uint8_t>(0x70 + cc), 0x01, 0x41});  // jcc +1; inc ecx
    readers.push_back({0x0F, static_cast<uint8_t>(0x90 + cc), 0xC2});  // setcc dl
  }
  for (const Bytes& w : writers) {
    for (const Bytes& r : readers) {
      for (bool same_block : {false, true}) {
        Bytes code = w;
        // the block ends with the writer's flags unevaluated, or the reader is in the same block
        if (!same_block) code.insert(code.end(), {0xEB, 0x00});
        code.insert(code.end(), r.begin(), r.end());
        check_once(code, 12);
        if (HasFatalFailure()) return;
      }
    }
  }
  EXPECT_GT(jit.cpu.jit->stats().flag_evaluations, 0u);
}

// A store into the running block's next instruction: the new bytes run, in both tiers.
TEST_F(JitDiff, WriteIntoRunningBlock) {
  // mov byte [CODE+9], 0x42 (turns the `inc ecx` at offset 9 into `inc edx`); nop; nop; inc ecx
  std::vector<uint8_t> code = {0xC6, 0x05, 0x09, 0x10, 0x00, 0x00, 0x42, 0x90, 0x90, 0x41};
  straight_line = false;
  check(code, 10);
  EXPECT_EQ(jit.cpu.s.regs[ECX], interp.cpu.s.regs[ECX]);
}

}  // namespace

namespace {

// Random instruction bytes: both tiers start from the same machine (RAM, registers, flags, 16- or
// 32-bit code) and must end in the same state: registers, EFLAGS, EIP, segment selectors, the
// instruction count and every byte of RAM (exceptions go through the IVT to a HLT, so a fault is
// part of the state). VX86_JIT_RANDOM_CASES=N runs longer.
TEST(JitRandom, RandomBytesMatchTheInterpreter) {
  const char* env = std::getenv("VX86_JIT_RANDOM_CASES");
  const int cases = env ? std::atoi(env) : 3000;
  Tier interp{false}, jit{true};
  std::mt19937 rng{0xB17E5};
  std::vector<uint8_t> image(interp.mem.ram_size());
  std::memcpy(image.data(), interp.mem.ram(), image.size());  // the IVT and handler
  for (int c = 0; c < cases; ++c) {
    std::vector<uint8_t> code(24);
    for (auto& b : code) b = static_cast<uint8_t>(rng());
    uint32_t regs[8];
    for (auto& r : regs) r = (rng() % 3 == 0) ? (rng() & 0xFFFF) : static_cast<uint32_t>(rng());
    regs[ESP] = STACK;
    const uint32_t flags = static_cast<uint32_t>(rng());
    const bool code32 = rng() & 1;
    uint8_t m[64];
    for (auto& b : m) b = static_cast<uint8_t>(rng());
    for (Tier* t : {&interp, &jit}) {
      std::memcpy(t->mem.ram(), image.data(), image.size());
      t->run(code, regs, flags, m, code32);
    }
    char st[200];
    std::snprintf(st, sizeof st,
                  "(case %d, %s code, eflags %08x, regs %08x %08x %08x %08x %08x %08x %08x %08x) ", c,
                  code32 ? "32-bit" : "16-bit", flags, regs[0], regs[1], regs[2], regs[3], regs[4], regs[5],
                  regs[6], regs[7]);
    const std::string where = st + hex(code);
    const CpuState& a = interp.cpu.s;
    const CpuState& b = jit.cpu.s;
    for (unsigned k = 0; k < 8; ++k) ASSERT_EQ(a.regs[k], b.regs[k]) << where << " register " << k;
    ASSERT_EQ(a.eflags, b.eflags) << where;
    ASSERT_EQ(a.eip, b.eip) << where;
    ASSERT_EQ(a.icount, b.icount) << where;
    ASSERT_EQ(a.halted, b.halted) << where;
    for (unsigned k = 0; k < SEG_COUNT; ++k)
      ASSERT_EQ(a.seg[k].sel, b.seg[k].sel) << where << " segment " << k;
    ASSERT_EQ(0, std::memcmp(interp.mem.ram(), jit.mem.ram(), image.size())) << where << " RAM";
    ASSERT_EQ(jit.cpu.jit->stats().encode_errors, 0u) << where;
  }
  EXPECT_GT(jit.cpu.jit->stats().native_insns, 0u);
}

}  // namespace

namespace {

// A code cache far too small for the work: it is emptied again and again while blocks dispatch to
// each other, and the results stay the interpreter's.
TEST(JitCache, FlushWhileRunningMatchesTheInterpreter) {
  Tier interp{false}, jit{true, 16 * 1024};
  std::mt19937 rng{0xF1005};
  // 32 times: a tight inner loop (its blocks chain), then 200 distinct blocks ("add eax, imm32;
  // jmp +0": each jmp ends a block), more than the cache holds.
  std::vector<uint8_t> code = {0xB9, 0x20, 0x00, 0x00, 0x00};  // mov ecx, 32
  const size_t top = code.size();
  // mov edx, 50; inner: add eax, edx; dec edx; jnz inner
  code.insert(code.end(), {0xBA, 0x32, 0x00, 0x00, 0x00, 0x01, 0xD0, 0x4A, 0x75, 0xFB});
  for (int k = 0; k < 200; ++k) {
    const uint32_t v = static_cast<uint32_t>(rng());
    code.insert(code.end(),
                {0x05, uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24), 0xEB, 0x00});
  }
  const int32_t back = static_cast<int32_t>(top) - static_cast<int32_t>(code.size() + 3);
  code.insert(code.end(), {0x49, 0x0F, 0x85});  // dec ecx; jnz top (rel32)
  for (int b = 0; b < 4; ++b)
    code.push_back(static_cast<uint8_t>(static_cast<uint32_t>(back - 4) >> (8 * b)));
  uint32_t regs[8] = {1, 2, 3, 4, STACK, 6, 7, 8};
  uint8_t m[64] = {};
  interp.run(code, regs, 0, m, true, 100000);
  jit.run(code, regs, 0, m, true, 100000);
  for (unsigned k = 0; k < 8; ++k) EXPECT_EQ(interp.cpu.s.regs[k], jit.cpu.s.regs[k]) << "register " << k;
  EXPECT_EQ(interp.cpu.s.eflags, jit.cpu.s.eflags);
  EXPECT_EQ(interp.cpu.s.icount, jit.cpu.s.icount);
  EXPECT_TRUE(jit.cpu.s.halted);
  EXPECT_GT(jit.cpu.jit->stats().flushes, 2u);
  EXPECT_GT(jit.cpu.jit->stats().chains, 10u);  // chained again after every flush
}

// Stores to data in a code page drop no translation (sub-page self-modifying-code tracking): a
// loop that writes next to its own code runs translated throughout; a store into its bytes
// still drops the block.
TEST(JitSmc, DataNextToCodeKeepsTheTranslation) {
  uint64_t dropped[2], spared[2];
  uint32_t ecx_at[2], mem_at[2];
  for (int t = 0; t < 2; ++t) {
    Tier tier{t == 1};
    // mov ecx, 300; l: mov [CODE+0x800], ecx; dec ecx; jnz l; hlt
    const std::vector<uint8_t> code = {0xB9, 0x2C, 0x01, 0x00, 0x00, 0x89, 0x0D,
                                       0x00, 0x18, 0x00, 0x00, 0x49, 0x75, 0xF7};
    uint32_t regs[8] = {0, 0, 0, 0, STACK, 0, 0, 0};
    uint8_t m[64] = {};
    tier.run(code, regs, 0, m, true, 100000);
    EXPECT_TRUE(tier.cpu.s.halted);
    ecx_at[t] = tier.cpu.s.regs[ECX];
    std::memcpy(&mem_at[t], tier.mem.ram() + CODE + 0x800, 4);
    dropped[t] = tier.cpu.blocks.smc_stats().blocks_dropped;
    spared[t] = tier.cpu.blocks.smc_stats().spared_writes;
    // Translated once: the first block, the loop, the HLT (a dropped loop would be retranslated).
    if (t == 1) EXPECT_LE(tier.cpu.jit->stats().blocks, 3u);
  }
  EXPECT_EQ(ecx_at[0], ecx_at[1]);
  EXPECT_EQ(mem_at[0], 1u);  // the last store
  EXPECT_EQ(mem_at[1], 1u);
  for (int t = 0; t < 2; ++t) {
    EXPECT_EQ(dropped[t], 0u) << "tier " << t;
    EXPECT_GE(spared[t], 300u) << "tier " << t;
  }
}

TEST_F(JitDiff, WriteIntoRunningBlockDropsIt) {
  // As WriteIntoRunningBlock: the store hits the block's own bytes, so it is dropped.
  std::vector<uint8_t> code = {0xC6, 0x05, 0x09, 0x10, 0x00, 0x00, 0x42, 0x90, 0x90, 0x41};
  straight_line = false;
  check(code, 3);
  EXPECT_GT(jit.cpu.blocks.smc_stats().blocks_dropped, 0u);
  EXPECT_EQ(jit.cpu.blocks.smc_stats().spared_writes, 0u);
}

// Starts 32-bit code at `eip` with 4 GiB segments (base 0), paging on with the page directory
// at `pd`, EAX = 0 and the stack at STACK; runs it (the tests end it with a HLT).
void run_paged_flat(Cpu& cpu, uint32_t pd, uint32_t eip) {
  CpuState& s = cpu.s;
  for (unsigned k = 0; k < SEG_COUNT; ++k) {
    cpu.load_seg_real(k, 0);
    s.seg[k].limit = 0xFFFFFFFF;
    s.seg[k].attr = 0x0093;
  }
  s.seg[CS].attr = 0x009B | SEG_ATTR_DB;
  s.regs[ESP] = STACK;
  s.regs[EAX] = 0;
  s.eflags = F_BIT1;
  s.eip = eip;
  s.cr[3] = pd;
  s.cr[0] |= 0x80000001u;
  cpu.update_mode();
  cpu.update_paging();
  cpu.run(100000);
}

// A guest that changes its page tables under translated, chained code: a loop at linear 0x400000
// (its blocks chain; the jumps between the pages are far chained exits, which check the target's
// exec TLB entry) jumps to code at 0x401000 and back; halfway it points 0x401000's page-table
// entry at another physical copy of that code (with another constant) and flushes the TLB entry
// (INVLPG, or a CR3 reload). Any exit that kept entering the old copy's translation would add
// the wrong constant.
void remap_under_chained_code(bool reload_cr3) {
  constexpr uint32_t PD = 0x10000, PT0 = 0x11000, PT1 = 0x12000, A0 = 0x5000, B1 = 0x6000, B2 = 0x7000;
  uint32_t eax_at[2];
  for (int t = 0; t < 2; ++t) {
    Tier tier{t == 1};
    uint8_t* ram = tier.mem.ram();
    auto put32 = [ram](uint32_t at, uint32_t v) { std::memcpy(ram + at, &v, 4); };
    put32(PD, PT0 | 7);
    put32(PD + 4, PT1 | 7);                                                 // 0x400000-0x7FFFFF
    for (uint32_t p = 0; p < 0x40; ++p) put32(PT0 + 4 * p, (p << 12) | 7);  // identity, 256 KiB
    put32(PT1, A0 | 7);                                                     // 0x400000: the loop
    put32(PT1 + 4, B1 | 7);                                                 // 0x401000: the first copy
    std::vector<uint8_t> loop = {0xB9, 0x64, 0x00, 0x00, 0x00,              // mov ecx, 100
                                 0xE9, 0xF6, 0x0F, 0x00, 0x00,              // l: jmp 0x401000
                                 0x83, 0xF9, 0x32,                          // back: cmp ecx, 50
                                 0x75, 0x11,                                // jnz skip
                                 0xC7, 0x05, 0x04, 0x20, 0x01, 0x00, uint8_t(B2 | 7), uint8_t(B2 >> 8),
                                 0x00, 0x00};  // mov [PT1+4], B2|7
    if (reload_cr3)
      loop.insert(loop.end(), {0x0F, 0x20, 0xDA, 0x0F, 0x22, 0xDA, 0x90});  // mov edx, cr3; mov cr3, edx; nop
    else
      loop.insert(loop.end(), {0x0F, 0x01, 0x3D, 0x00, 0x10, 0x40, 0x00});  // invlpg [0x401000]
    loop.insert(loop.end(), {0x49, 0x75, 0xE2, 0xF4});                      // skip: dec ecx; jnz l; hlt
    std::memcpy(ram + A0, loop.data(), loop.size());
    for (uint32_t copy : {B1, B2}) {
      const uint32_t k = copy == B1 ? 1 : 0x100;
      const uint8_t c[] = {0x05, uint8_t(k), uint8_t(k >> 8),
                           0x00, 0x00,  // add eax, k
                           0xE9, 0x00,       0xF0,
                           0xFF, 0xFF};  // jmp back (0x40000A)
      std::memcpy(ram + copy, c, sizeof c);
    }
    Cpu& cpu = tier.cpu;
    CpuState& s = cpu.s;
    run_paged_flat(cpu, PD, 0x400000);
    EXPECT_TRUE(s.halted);
    eax_at[t] = s.regs[EAX];
    if (t == 1) EXPECT_GT(cpu.jit->stats().chains, 0u);
  }
  EXPECT_EQ(eax_at[0], 51u * 1 + 49u * 0x100);  // ECX 100..50 ran the first copy
  EXPECT_EQ(eax_at[1], eax_at[0]);
}

// A block on two pages (an ADD whose immediate straddles 0x402000) entered through the
// dispatcher's jump table every iteration; halfway, the second page is pointed at another copy
// (with other immediate bytes) and flushed with INVLPG: the jump table must stop entering the
// old translation, whose first page is unchanged.
TEST(JitPaging, RemapSecondPageOfATwoPageBlock) {
  constexpr uint32_t PD = 0x10000, PT0 = 0x11000, PT1 = 0x12000, A0 = 0x5000, B = 0x6000, C1 = 0x7000,
                     C2 = 0x9000;
  uint32_t eax_at[2];
  for (int t = 0; t < 2; ++t) {
    Tier tier{t == 1};
    uint8_t* ram = tier.mem.ram();
    auto put32 = [ram](uint32_t at, uint32_t v) { std::memcpy(ram + at, &v, 4); };
    put32(PD, PT0 | 7);
    put32(PD + 4, PT1 | 7);
    for (uint32_t p = 0; p < 0x40; ++p) put32(PT0 + 4 * p, (p << 12) | 7);
    put32(PT1, A0 | 7);      // 0x400000: the loop
    put32(PT1 + 4, B | 7);   // 0x401000: the block's first page
    put32(PT1 + 8, C1 | 7);  // 0x402000: its second page, first copy
    const uint8_t loop[] = {0xB9, 0x64, 0x00, 0x00,
                            0x00,  // mov ecx, 100
                            0xE9, 0xEE, 0x1F, 0x00,
                            0x00,  // l: jmp 0x401ff8
                            0x83, 0xF9,
                            0x32,  // back: cmp ecx, 50
                            0x75,
                            0x11,  // jnz skip
                            0xC7, 0x05, 0x08, 0x20, 0x01, 0x00, uint8_t(C2 | 7), uint8_t(C2 >> 8), 0x00,
                            0x00,  // mov [PT1+8], C2|7
                            0x0F, 0x01, 0x3D, 0x00, 0x20, 0x40,
                            0x00,                     // invlpg [0x402000]
                            0x49, 0x75, 0xE2, 0xF4};  // skip: dec ecx; jnz l; hlt
    std::memcpy(ram + A0, loop, sizeof loop);
    const uint8_t first[] = {0x83, 0xC0, 0x01, 0x90,
                             0x90, 0x05, 0x01, 0x00};  // add eax, 1; nop; nop; add eax, ..
    std::memcpy(ram + B + 0xFF8, first, sizeof first);
    for (uint32_t copy : {C1, C2}) {
      const uint8_t second[] = {uint8_t(copy == C1 ? 0x00 : 0x01),
                                0x00,  // .. the immediate's upper half
                                0xE9,
                                0x03,
                                0xE0,
                                0xFF,
                                0xFF};  // jmp back (0x40000a)
      std::memcpy(ram + copy, second, sizeof second);
    }
    Cpu& cpu = tier.cpu;
    CpuState& s = cpu.s;
    run_paged_flat(cpu, PD, 0x400000);
    EXPECT_TRUE(s.halted);
    eax_at[t] = s.regs[EAX];
    // Entered from the jump table, not from the C++ lookup, on most of its 100 runs.
    if (t == 1) EXPECT_LT(cpu.jit->stats().slow_lookups, 50u);
  }
  EXPECT_EQ(eax_at[0], 51u * 2 + 49u * 0x10002);  // ECX 100..50 ran the first copy
  EXPECT_EQ(eax_at[1], eax_at[0]);
}

TEST(JitPaging, RemapUnderChainedCodeWithInvlpg) { remap_under_chained_code(false); }
TEST(JitPaging, RemapUnderChainedCodeWithCr3Reload) { remap_under_chained_code(true); }

// -perfmap: /tmp/perf-PID.map names the stubs and every translated block by its linear address.
TEST(JitPerfMap, NamesStubsAndBlocks) {
  const std::string path = "/tmp/perf-" + std::to_string(getpid()) + ".map";
  std::remove(path.c_str());
  {
    Tier tier{true};
    tier.cpu.jit->open_perf_map();
    const std::vector<uint8_t> code = {0x40, 0x01, 0xC1};  // inc eax; add ecx, eax
    uint32_t regs[8] = {0, 0, 0, 0, STACK, 0, 0, 0};
    uint8_t m[64] = {};
    tier.run(code, regs, 0, m);
    EXPECT_GT(tier.cpu.jit->stats().blocks, 0u);
  }
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::remove(path.c_str());
  EXPECT_NE(text.find(" vx86-jit-dispatcher\n"), std::string::npos) << text;
  EXPECT_NE(text.find(" vx86:00001000\n"), std::string::npos) << text;  // the block at CODE
}

// An interrupt source the test raises between run slices, as the board's devices do.
struct TestIrq : InterruptSource {
  bool line = false;
  bool pending() override { return line; }
  uint8_t acknowledge() override {
    line = false;
    return 0x20;
  }
};

// STI holds off a pending interrupt until the next instruction has run, also when run() returns
// for its budget right after the STI: the next run() runs that instruction before it takes the
// interrupt, so where the caller's budgets end does not change the guest's timeline (a snapshot
// restored there ran the other way).
TEST(JitIrq, InterruptShadowOutlastsTheBudget) {
  for (int t = 0; t < 2; ++t) {
    uint32_t ebx_at[2];
    for (int split = 0; split < 2; ++split) {
      Tier tier{t == 1};
      TestIrq irq;
      Cpu& cpu = tier.cpu;
      cpu.intr = &irq;
      uint8_t* ram = tier.mem.ram();
      ram[0x20 * 4] = 0x00;  // vector 0x20 -> 0000:0x2100: mov ebx, eax (66 89 c3); hlt
      ram[0x20 * 4 + 1] = 0x21;
      ram[0x20 * 4 + 2] = ram[0x20 * 4 + 3] = 0;
      const uint8_t handler[] = {0x66, 0x89, 0xC3, 0xF4};
      std::memcpy(ram + 0x2100, handler, sizeof handler);
      // sti; inc eax; inc eax; inc eax; hlt
      const uint8_t code[] = {0xFB, 0x40, 0x40, 0x40, 0xF4};
      std::memcpy(ram + CODE, code, sizeof code);
      CpuState& s = cpu.s;
      for (unsigned k = 0; k < SEG_COUNT; ++k) {
        cpu.load_seg_real(k, 0);
        s.seg[k].limit = 0xFFFF;
      }
      s.seg[CS].attr = 0x009B | SEG_ATTR_DB;
      s.regs[ESP] = STACK;
      s.eflags = F_BIT1;  // IF clear until the STI
      s.eip = CODE;
      cpu.update_mode();
      irq.line = true;
      s.irq_pending = true;
      if (split) {
        EXPECT_EQ(cpu.run(1), StopReason::Budget);
        ASSERT_TRUE(s.int_shadow) << "the shadow went before the instruction after STI ran (tier " << t
                                  << ")";
      }
      cpu.run(100);
      EXPECT_TRUE(s.halted);
      EXPECT_FALSE(irq.line) << "the interrupt was not taken";
      ebx_at[split] = s.regs[EBX];
    }
    EXPECT_NE(ebx_at[1], 0u) << "taken before the instruction after STI ran (tier " << t << ")";
    EXPECT_EQ(ebx_at[0], ebx_at[1]) << "tier " << t;
  }
}

// An interrupt raised while translated code spins in a chained loop is taken at the same
// instruction count, with the same registers, as in the interpreter.
TEST(JitIrq, InterruptDuringChainedLoop) {
  uint64_t taken_at[2];
  uint32_t eax_at[2];
  for (int t = 0; t < 2; ++t) {
    Tier tier{t == 1};
    TestIrq irq;
    Cpu& cpu = tier.cpu;
    cpu.intr = &irq;
    uint8_t* ram = tier.mem.ram();
    ram[0x20 * 4] = 0x00;  // vector 0x20 -> 0000:0x2100: mov ebx, eax (66 89 c3); hlt
    ram[0x20 * 4 + 1] = 0x21;
    ram[0x20 * 4 + 2] = ram[0x20 * 4 + 3] = 0;
    const uint8_t handler[] = {0x66, 0x89, 0xC3, 0xF4};
    std::memcpy(ram + 0x2100, handler, sizeof handler);
    // l: inc eax; add ecx, eax; jmp l
    const std::vector<uint8_t> code = {0x40, 0x01, 0xC1, 0xEB, 0xFB};
    uint32_t regs[8] = {0, 0, 0, 0, STACK, 0, 0, 0};
    std::memcpy(ram + CODE, code.data(), code.size());
    CpuState& s = cpu.s;
    for (unsigned k = 0; k < SEG_COUNT; ++k) {
      cpu.load_seg_real(k, 0);
      s.seg[k].limit = 0xFFFF;
    }
    s.seg[CS].attr = 0x009B | SEG_ATTR_DB;
    for (unsigned k = 0; k < 8; ++k) s.regs[k] = regs[k];
    s.eflags = F_BIT1 | F_IF;
    s.eip = CODE;
    cpu.update_mode();
    for (int slice = 0; slice < 7; ++slice) EXPECT_EQ(cpu.run(1234), StopReason::Budget);
    irq.line = true;  // the board raises INTR between slices and mirrors it
    s.irq_pending = true;
    cpu.run(1000);
    EXPECT_TRUE(s.halted);
    taken_at[t] = s.icount;
    eax_at[t] = s.regs[EBX];
    if (t == 1) EXPECT_GT(cpu.jit->stats().chains, 0u);
  }
  EXPECT_EQ(taken_at[0], taken_at[1]);
  EXPECT_EQ(eax_at[0], eax_at[1]);
  EXPECT_GT(eax_at[0], 0u);
}

// -jit-tlb-checks (a measurement aid): extra copies of each inline TLB check lengthen the code and
// change nothing else, including the slow path of an access that misses.
TEST(JitTlbChecks, CopiesLengthenTheCodeAndChangeNothingElse) {
  // add [ebx+4], eax; mov ecx, [ebx+8]; mov [ebx+12], edx; mov esi, [ebx+0x8000] (another page)
  const std::vector<uint8_t> code = {0x01, 0x43, 0x04, 0x8B, 0x4B, 0x08, 0x89, 0x53,
                                     0x0C, 0x8B, 0xB3, 0x00, 0x80, 0x00, 0x00};
  Tier interp{false}, one{true}, three{true};
  three.cpu.jit->tlb_checks = 3;
  std::mt19937 rng{0x7CC};
  for (int c = 0; c < 50; ++c) {
    uint32_t regs[8];
    for (auto& r : regs) r = static_cast<uint32_t>(rng());
    regs[EBX] = MEM + 16;
    regs[ESP] = STACK;
    uint8_t m[64];
    for (auto& b : m) b = static_cast<uint8_t>(rng());
    const uint32_t flags = static_cast<uint32_t>(rng());
    interp.run(code, regs, flags, m);
    for (Tier* t : {&one, &three}) {
      t->run(code, regs, flags, m);
      for (unsigned k = 0; k < 8; ++k) ASSERT_EQ(interp.cpu.s.regs[k], t->cpu.s.regs[k]) << "register " << k;
      ASSERT_EQ(interp.cpu.s.eflags, t->cpu.s.eflags);
      ASSERT_EQ(interp.cpu.s.eip, t->cpu.s.eip);
      ASSERT_EQ(0, std::memcmp(interp.mem.ram() + MEM, t->mem.ram() + MEM, 64));
    }
  }
  const JitStats &a = one.cpu.jit->stats(), &b = three.cpu.jit->stats();
  EXPECT_EQ(a.blocks, b.blocks);
  EXPECT_EQ(a.native_insns, b.native_insns);
  // Each run translates the block again (Tier::run flushes): four accesses, two more copies each,
  // over 20 bytes a copy.
  EXPECT_GT(b.bytes, a.bytes + 50 * 4 * 2 * 20);
}

}  // namespace
