// ALU, shift, multiply/divide, bit and BCD handlers, checked against the host CPU (an x86-64 runs
// the same instruction natively) on the flags the SDM defines, plus hand-made cases for memory
// forms, faults and the 8086 model's quirks. The 8086/80286 hardware vectors cover the 16-bit
// forms; these tests mostly cover what they cannot: 32-bit operands and the 386 instructions.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "devices/port_bus.h"
#include "emu/cpu.h"
#include "mmu/physical_memory.h"

using namespace vx86;

namespace {

constexpr uint32_t CODE = 0x1000;  // 0000:1000
constexpr uint32_t DE_HANDLER = 0x2000;

struct Vm {
  PhysicalMemory mem{1u << 20};
  PortBus io;
  Cpu cpu{mem, io};

  // Runs `code` (16-bit real mode at 0000:1000, then HLT) from the current registers.
  void run(const std::vector<uint8_t>& code, uint32_t flags, CpuModel model = CpuModel::i386) {
    CpuState saved = cpu.s;
    cpu.s.model = model;
    cpu.reset();
    std::copy(saved.regs, saved.regs + 8, cpu.s.regs);
    for (unsigned k = 0; k < SEG_COUNT; ++k) cpu.load_seg_real(k, 0);
    cpu.update_mode();
    cpu.s.eip = CODE;
    cpu.s.eflags = (flags & (F_ARITH | F_DF)) | F_BIT1;
    cpu.s.regs[ESP] = 0x8000;
    uint8_t* ram = mem.ram();
    std::copy(code.begin(), code.end(), ram + CODE);
    ram[CODE + code.size()] = 0xF4;
    // IVT entry 0 (#DE) -> 0000:2000, a HLT.
    ram[0] = DE_HANDLER & 0xFF;
    ram[1] = DE_HANDLER >> 8;
    ram[2] = ram[3] = 0;
    ram[DE_HANDLER] = 0xF4;
    ASSERT_EQ(cpu.run(1000), StopReason::Halted);
  }
  uint32_t& r(unsigned k) { return cpu.s.regs[k]; }
  uint32_t flags() const { return cpu.s.eflags; }
  bool faulted() const { return cpu.s.eip == DE_HANDLER + 1; }
  uint16_t pushed_ip() { return static_cast<uint16_t>(mem.ram()[0x8000 - 6] | mem.ram()[0x8000 - 5] << 8); }
};

#if defined(__x86_64__)  // the reference is the host CPU itself
// ---- host reference ----
// Runs one host instruction with the given arithmetic flags in and returns the flags out. The
// stack pointer steps over the red zone around the PUSHF/POPF.
#define HOST_PRE "lea -128(%%rsp), %%rsp\n\tpush %[f]\n\tpopfq\n\t"
#define HOST_POST "\n\tpushfq\n\tpop %[f]\n\tlea 128(%%rsp), %%rsp"

using HostFn = uint32_t (*)(uint32_t a, uint32_t b, uint32_t c, uint32_t& flags);

#define HOST_BIN(NAME, MN)                                                                          \
  template <unsigned SZ>                                                                            \
  uint32_t NAME(uint32_t a, uint32_t b, uint32_t, uint32_t& fl) {                                   \
    uint64_t f = fl;                                                                                \
    if constexpr (SZ == 1)                                                                          \
      asm volatile(HOST_PRE MN "b %b[b], %b[a]" HOST_POST : [a] "+r"(a), [f] "+r"(f) : [b] "r"(b) : "cc", "memory"); \
    else if constexpr (SZ == 2)                                                                     \
      asm volatile(HOST_PRE MN "w %w[b], %w[a]" HOST_POST : [a] "+r"(a), [f] "+r"(f) : [b] "r"(b) : "cc", "memory"); \
    else                                                                                            \
      asm volatile(HOST_PRE MN "l %k[b], %k[a]" HOST_POST : [a] "+r"(a), [f] "+r"(f) : [b] "r"(b) : "cc", "memory"); \
    fl = static_cast<uint32_t>(f);                                                                  \
    return a;                                                                                       \
  }
HOST_BIN(h_add, "add")
HOST_BIN(h_or, "or")
HOST_BIN(h_adc, "adc")
HOST_BIN(h_sbb, "sbb")
HOST_BIN(h_and, "and")
HOST_BIN(h_sub, "sub")
HOST_BIN(h_xor, "xor")
HOST_BIN(h_cmp, "cmp")
HOST_BIN(h_test, "test")

#define HOST_UN(NAME, MN)                                                                           \
  template <unsigned SZ>                                                                            \
  uint32_t NAME(uint32_t a, uint32_t, uint32_t, uint32_t& fl) {                                     \
    uint64_t f = fl;                                                                                \
    if constexpr (SZ == 1)                                                                          \
      asm volatile(HOST_PRE MN "b %b[a]" HOST_POST : [a] "+r"(a), [f] "+r"(f) : : "cc", "memory");  \
    else if constexpr (SZ == 2)                                                                     \
      asm volatile(HOST_PRE MN "w %w[a]" HOST_POST : [a] "+r"(a), [f] "+r"(f) : : "cc", "memory");  \
    else                                                                                            \
      asm volatile(HOST_PRE MN "l %k[a]" HOST_POST : [a] "+r"(a), [f] "+r"(f) : : "cc", "memory");  \
    fl = static_cast<uint32_t>(f);                                                                  \
    return a;                                                                                       \
  }
HOST_UN(h_inc, "inc")
HOST_UN(h_dec, "dec")
HOST_UN(h_neg, "neg")
HOST_UN(h_not, "not")

#define HOST_SH(NAME, MN)                                                                           \
  template <unsigned SZ>                                                                            \
  uint32_t NAME(uint32_t a, uint32_t, uint32_t c, uint32_t& fl) {                                   \
    uint64_t f = fl;                                                                                \
    if constexpr (SZ == 1)                                                                          \
      asm volatile(HOST_PRE MN "b %%cl, %b[a]" HOST_POST : [a] "+r"(a), [f] "+r"(f) : "c"(c) : "cc", "memory"); \
    else if constexpr (SZ == 2)                                                                     \
      asm volatile(HOST_PRE MN "w %%cl, %w[a]" HOST_POST : [a] "+r"(a), [f] "+r"(f) : "c"(c) : "cc", "memory"); \
    else                                                                                            \
      asm volatile(HOST_PRE MN "l %%cl, %k[a]" HOST_POST : [a] "+r"(a), [f] "+r"(f) : "c"(c) : "cc", "memory"); \
    fl = static_cast<uint32_t>(f);                                                                  \
    return a;                                                                                       \
  }
HOST_SH(h_rol, "rol")
HOST_SH(h_ror, "ror")
HOST_SH(h_rcl, "rcl")
HOST_SH(h_rcr, "rcr")
HOST_SH(h_shl, "shl")
HOST_SH(h_shr, "shr")
HOST_SH(h_sar, "sar")

#define HOST_DSH(NAME, MN)                                                                          \
  template <unsigned SZ>                                                                            \
  uint32_t NAME(uint32_t a, uint32_t b, uint32_t c, uint32_t& fl) {                                 \
    uint64_t f = fl;                                                                                \
    if constexpr (SZ == 2)                                                                          \
      asm volatile(HOST_PRE MN "w %%cl, %w[b], %w[a]" HOST_POST : [a] "+r"(a), [f] "+r"(f) : [b] "r"(b), "c"(c) : "cc", "memory"); \
    else                                                                                            \
      asm volatile(HOST_PRE MN "l %%cl, %k[b], %k[a]" HOST_POST : [a] "+r"(a), [f] "+r"(f) : [b] "r"(b), "c"(c) : "cc", "memory"); \
    fl = static_cast<uint32_t>(f);                                                                  \
    return a;                                                                                       \
  }
HOST_DSH(h_shld, "shld")
HOST_DSH(h_shrd, "shrd")

// Two-operand forms without an 8-bit variant: BT family, BSF/BSR, IMUL r, r/m.
#define HOST_BIN16(NAME, MN)                                                                        \
  template <unsigned SZ>                                                                            \
  uint32_t NAME(uint32_t a, uint32_t b, uint32_t, uint32_t& fl) {                                   \
    uint64_t f = fl;                                                                                \
    if constexpr (SZ == 2)                                                                          \
      asm volatile(HOST_PRE MN "w %w[b], %w[a]" HOST_POST : [a] "+r"(a), [f] "+r"(f) : [b] "r"(b) : "cc", "memory"); \
    else                                                                                            \
      asm volatile(HOST_PRE MN "l %k[b], %k[a]" HOST_POST : [a] "+r"(a), [f] "+r"(f) : [b] "r"(b) : "cc", "memory"); \
    fl = static_cast<uint32_t>(f);                                                                  \
    return a;                                                                                       \
  }
HOST_BIN16(h_bt, "bt")
HOST_BIN16(h_bts, "bts")
HOST_BIN16(h_btr, "btr")
HOST_BIN16(h_btc, "btc")
HOST_BIN16(h_bsf, "bsf")
HOST_BIN16(h_bsr, "bsr")
HOST_BIN16(h_imul2, "imul")

std::vector<uint8_t> with_size(unsigned sz, std::vector<uint8_t> body) {
  if (sz == 4) body.insert(body.begin(), 0x66);
  return body;
}

uint32_t size_mask(unsigned sz) { return sz == 4 ? 0xFFFFFFFFu : (1u << (8 * sz)) - 1; }

class HostCompare : public ::testing::Test {
 protected:
  Vm vm;
  std::mt19937 rng{12345};

  uint32_t value(unsigned sz) {
    static const uint32_t edges[] = {0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000u, 0xFFFFFFFFu};
    uint32_t v = (rng() % 4 == 0) ? edges[rng() % std::size(edges)] : static_cast<uint32_t>(rng());
    return v & size_mask(sz);
  }
  uint32_t flags_in() { return (static_cast<uint32_t>(rng()) & F_ARITH) | F_BIT1; }

  // Runs `code` (operating on EAX with EBX/ECX as sources) and the host function on the same
  // inputs; compares EAX (sized), and the flags under `mask`.
  void check(const char* what, unsigned sz, const std::vector<uint8_t>& code, HostFn host, uint32_t a, uint32_t b,
             uint32_t c, uint32_t fin, uint32_t mask, bool check_result = true) {
    uint32_t hf = fin;
    uint32_t want = host(a, b, c, hf) & size_mask(sz);
    vm.r(EAX) = a;
    vm.r(EBX) = b;
    vm.r(ECX) = c;
    vm.run(code, fin);
    uint32_t got = vm.r(EAX) & size_mask(sz);
    if (check_result) {
      ASSERT_EQ(got, want) << what << " size " << sz << " a=" << std::hex << a << " b=" << b << " c=" << c
                           << " flags=" << fin;
    }
    ASSERT_EQ(vm.flags() & mask, hf & mask) << what << " size " << sz << " a=" << std::hex << a << " b=" << b
                                            << " c=" << c << " flags in=" << fin << " result=" << want;
  }
};

TEST_F(HostCompare, BinaryOps) {
  struct Op {
    const char* name;
    uint8_t opc;
    HostFn h1, h2, h4;
    uint32_t mask;
  };
  const uint32_t logic = F_ARITH & ~F_AF;
  const Op ops[] = {
      {"add", 0x00, h_add<1>, h_add<2>, h_add<4>, F_ARITH}, {"or", 0x08, h_or<1>, h_or<2>, h_or<4>, logic},
      {"adc", 0x10, h_adc<1>, h_adc<2>, h_adc<4>, F_ARITH}, {"sbb", 0x18, h_sbb<1>, h_sbb<2>, h_sbb<4>, F_ARITH},
      {"and", 0x20, h_and<1>, h_and<2>, h_and<4>, logic},   {"sub", 0x28, h_sub<1>, h_sub<2>, h_sub<4>, F_ARITH},
      {"xor", 0x30, h_xor<1>, h_xor<2>, h_xor<4>, logic},   {"cmp", 0x38, h_cmp<1>, h_cmp<2>, h_cmp<4>, F_ARITH},
      {"test", 0x84, h_test<1>, h_test<2>, h_test<4>, logic},
  };
  for (const Op& op : ops)
    for (unsigned sz : {1u, 2u, 4u})
      for (int n = 0; n < 300; ++n) {
        // op r/m(EAX/AL), reg(EBX/BL): modrm 0xD8
        auto code = with_size(sz, {static_cast<uint8_t>(op.opc + (sz > 1)), 0xD8});
        HostFn h = sz == 1 ? op.h1 : sz == 2 ? op.h2 : op.h4;
        check(op.name, sz, code, h, value(sz), value(sz), 0, flags_in(), op.mask);
      }
}

TEST_F(HostCompare, UnaryOps) {
  struct Op {
    const char* name;
    std::vector<uint8_t> code8, code;  // 8-bit form, 16/32-bit form
    HostFn h1, h2, h4;
    uint32_t mask;
  };
  const Op ops[] = {
      {"inc", {0xFE, 0xC0}, {0xFF, 0xC0}, h_inc<1>, h_inc<2>, h_inc<4>, F_ARITH},
      {"dec", {0xFE, 0xC8}, {0xFF, 0xC8}, h_dec<1>, h_dec<2>, h_dec<4>, F_ARITH},
      {"inc40", {0xFE, 0xC0}, {0x40}, h_inc<1>, h_inc<2>, h_inc<4>, F_ARITH},
      {"neg", {0xF6, 0xD8}, {0xF7, 0xD8}, h_neg<1>, h_neg<2>, h_neg<4>, F_ARITH},
      {"not", {0xF6, 0xD0}, {0xF7, 0xD0}, h_not<1>, h_not<2>, h_not<4>, F_ARITH},
  };
  for (const Op& op : ops)
    for (unsigned sz : {1u, 2u, 4u})
      for (int n = 0; n < 200; ++n) {
        HostFn h = sz == 1 ? op.h1 : sz == 2 ? op.h2 : op.h4;
        check(op.name, sz, with_size(sz, sz == 1 ? op.code8 : op.code), h, value(sz), 0, 0, flags_in(), op.mask);
      }
}

TEST_F(HostCompare, ShiftsByCl) {
  struct Op {
    const char* name;
    unsigned reg;
    HostFn h1, h2, h4;
    bool rotate;
  };
  const Op ops[] = {
      {"rol", 0, h_rol<1>, h_rol<2>, h_rol<4>, true},  {"ror", 1, h_ror<1>, h_ror<2>, h_ror<4>, true},
      {"rcl", 2, h_rcl<1>, h_rcl<2>, h_rcl<4>, true},  {"rcr", 3, h_rcr<1>, h_rcr<2>, h_rcr<4>, true},
      {"shl", 4, h_shl<1>, h_shl<2>, h_shl<4>, false}, {"shr", 5, h_shr<1>, h_shr<2>, h_shr<4>, false},
      {"sar", 7, h_sar<1>, h_sar<2>, h_sar<4>, false},
  };
  for (const Op& op : ops)
    for (unsigned sz : {1u, 2u, 4u})
      for (unsigned cnt = 0; cnt < 64; ++cnt)
        for (int n = 0; n < 8; ++n) {
          const unsigned bits = 8 * sz, m = cnt & 31;
          uint32_t mask;
          if (m == 0) mask = F_ARITH;                                  // nothing changes
          else if (op.rotate) mask = F_CF | (m == 1 ? uint32_t{F_OF} : 0u);       // rotates: CF, OF for 1
          else mask = F_SF | F_ZF | F_PF | (m == 1 ? uint32_t{F_OF} : 0u) | (m < bits ? uint32_t{F_CF} : 0u);
          HostFn h = sz == 1 ? op.h1 : sz == 2 ? op.h2 : op.h4;
          auto code = with_size(sz, {static_cast<uint8_t>(sz == 1 ? 0xD2 : 0xD3), static_cast<uint8_t>(0xC0 | op.reg << 3)});
          check(op.name, sz, code, h, value(sz), 0, cnt | (rng() & 0xFF00u), flags_in(), mask);
          // The same by imm8 (C0/C1) and, for a count of 1, by 1 (D0/D1).
          auto codei = with_size(sz, {static_cast<uint8_t>(sz == 1 ? 0xC0 : 0xC1), static_cast<uint8_t>(0xC0 | op.reg << 3),
                                      static_cast<uint8_t>(cnt)});
          check(op.name, sz, codei, h, value(sz), 0, cnt, flags_in(), mask);
          if (cnt == 1) {
            auto code1 = with_size(sz, {static_cast<uint8_t>(sz == 1 ? 0xD0 : 0xD1), static_cast<uint8_t>(0xC0 | op.reg << 3)});
            check(op.name, sz, code1, h, value(sz), 0, 1, flags_in(), mask);
          }
        }
}

TEST_F(HostCompare, DoubleShifts) {
  for (bool left : {true, false})
    for (unsigned sz : {2u, 4u})
      for (unsigned cnt = 0; cnt < 40; ++cnt)
        for (int n = 0; n < 10; ++n) {
          const unsigned m = cnt & 31;
          if (sz == 2 && m > 16) continue;  // undefined result
          uint32_t mask = m == 0 ? F_ARITH : (F_CF | F_SF | F_ZF | F_PF | (m == 1 ? uint32_t{F_OF} : 0u));
          HostFn h = left ? (sz == 2 ? h_shld<2> : h_shld<4>) : (sz == 2 ? h_shrd<2> : h_shrd<4>);
          // shld/shrd eax, ebx, cl : 0F A5/AD D8 ; by imm8: 0F A4/AC D8 ib
          auto code = with_size(sz, {0x0F, static_cast<uint8_t>(left ? 0xA5 : 0xAD), 0xD8});
          check(left ? "shld" : "shrd", sz, code, h, value(sz), value(sz), cnt, flags_in(), mask);
          auto codei = with_size(sz, {0x0F, static_cast<uint8_t>(left ? 0xA4 : 0xAC), 0xD8, static_cast<uint8_t>(cnt)});
          check(left ? "shld imm" : "shrd imm", sz, codei, h, value(sz), value(sz), cnt, flags_in(), mask);
        }
}

TEST_F(HostCompare, BitTestsAndScans) {
  struct Op {
    const char* name;
    uint8_t opc, ext;
    HostFn h2, h4;
  };
  const Op ops[] = {{"bt", 0xA3, 4, h_bt<2>, h_bt<4>},
                    {"bts", 0xAB, 5, h_bts<2>, h_bts<4>},
                    {"btr", 0xB3, 6, h_btr<2>, h_btr<4>},
                    {"btc", 0xBB, 7, h_btc<2>, h_btc<4>}};
  for (const Op& op : ops)
    for (unsigned sz : {2u, 4u})
      for (int n = 0; n < 200; ++n) {
        HostFn h = sz == 2 ? op.h2 : op.h4;
        uint32_t bit = rng() & 0xFF;
        check(op.name, sz, with_size(sz, {0x0F, op.opc, 0xD8}), h, value(sz), bit, 0, flags_in(), F_CF | F_ZF);
        check(op.name, sz, with_size(sz, {0x0F, 0xBA, static_cast<uint8_t>(0xC0 | op.ext << 3), static_cast<uint8_t>(bit)}), h,
              value(sz), bit & (8 * sz - 1), 0, flags_in(), F_CF | F_ZF);
      }
  for (bool rev : {false, true})
    for (unsigned sz : {2u, 4u})
      for (int n = 0; n < 300; ++n) {
        HostFn h = rev ? (sz == 2 ? h_bsr<2> : h_bsr<4>) : (sz == 2 ? h_bsf<2> : h_bsf<4>);
        uint32_t src = (n % 10 == 0) ? 0 : value(sz) >> (rng() % (8 * sz));
        // bsf/bsr eax, ebx: 0F BC/BD C3
        check(rev ? "bsr" : "bsf", sz, with_size(sz, {0x0F, static_cast<uint8_t>(rev ? 0xBD : 0xBC), 0xC3}), h, value(sz), src,
              0, flags_in(), F_ZF);
      }
}

TEST_F(HostCompare, SetccAllConditions) {
  for (unsigned cc = 0; cc < 16; ++cc)
    for (int n = 0; n < 64; ++n) {
      uint32_t f = flags_in();
      bool want;
      const bool cf = f & F_CF, zf = f & F_ZF, sf = f & F_SF, of = f & F_OF, pf = f & F_PF;
      switch (cc >> 1) {
        case 0: want = of; break;
        case 1: want = cf; break;
        case 2: want = zf; break;
        case 3: want = cf || zf; break;
        case 4: want = sf; break;
        case 5: want = pf; break;
        case 6: want = sf != of; break;
        default: want = zf || (sf != of); break;
      }
      want ^= cc & 1;
      vm.r(EAX) = 0xAAAAAAAA;
      vm.run({0x0F, static_cast<uint8_t>(0x90 + cc), 0xC0}, f);  // setcc al
      ASSERT_EQ(vm.r(EAX), 0xAAAAAA00u | want) << "cc " << cc;
      ASSERT_EQ(vm.flags() & F_ARITH, f & F_ARITH);
    }
}

TEST_F(HostCompare, MultiplyTwoOperand) {
  for (unsigned sz : {2u, 4u})
    for (int n = 0; n < 500; ++n) {
      HostFn h = sz == 2 ? h_imul2<2> : h_imul2<4>;
      // imul eax, ebx: 0F AF C3
      check("imul r,r", sz, with_size(sz, {0x0F, 0xAF, 0xC3}), h, value(sz), value(sz), 0, flags_in(), F_CF | F_OF);
    }
}

TEST_F(HostCompare, MultiplyThreeOperand) {
  for (int n = 0; n < 500; ++n) {
    uint32_t b = value(4), imm = value(4);
    int8_t imm8 = static_cast<int8_t>(imm);
    uint32_t hf = 0, hf8 = 0;
    uint32_t want = h_imul2<4>(b, imm, 0, hf);
    uint32_t want8 = h_imul2<4>(b, static_cast<uint32_t>(int32_t{imm8}), 0, hf8);
    vm.r(EBX) = b;
    vm.run({0x66, 0x69, 0xC3, static_cast<uint8_t>(imm), static_cast<uint8_t>(imm >> 8), static_cast<uint8_t>(imm >> 16),
            static_cast<uint8_t>(imm >> 24)},
           0);
    ASSERT_EQ(vm.r(EAX), want);
    ASSERT_EQ(vm.flags() & (F_CF | F_OF), hf & (F_CF | F_OF));
    vm.run({0x66, 0x6B, 0xC3, static_cast<uint8_t>(imm8)}, 0);
    ASSERT_EQ(vm.r(EAX), want8);
    ASSERT_EQ(vm.flags() & (F_CF | F_OF), hf8 & (F_CF | F_OF));
  }
}

// One-operand MUL/IMUL/DIV/IDIV against plain C++ arithmetic (32-bit, through 0x66).
TEST_F(HostCompare, MulDiv32) {
  for (int n = 0; n < 2000; ++n) {
    const uint32_t a = value(4), d = value(4) >> (rng() % 32), s = value(4) >> (rng() % 32);
    const unsigned kind = n % 4;  // mul imul div idiv
    vm.r(EAX) = a;
    vm.r(EDX) = d;
    vm.r(EBX) = s;
    vm.run({0x66, 0xF7, static_cast<uint8_t>(0xE3 | kind << 3)}, 0);
    if (kind == 0) {
      uint64_t p = uint64_t{a} * s;
      ASSERT_EQ(vm.r(EAX), static_cast<uint32_t>(p));
      ASSERT_EQ(vm.r(EDX), static_cast<uint32_t>(p >> 32));
      ASSERT_EQ((vm.flags() & F_CF) != 0, (p >> 32) != 0);
      ASSERT_EQ((vm.flags() & F_OF) != 0, (p >> 32) != 0);
    } else if (kind == 1) {
      int64_t p = int64_t{static_cast<int32_t>(a)} * static_cast<int32_t>(s);
      ASSERT_EQ(vm.r(EAX), static_cast<uint32_t>(p));
      ASSERT_EQ(vm.r(EDX), static_cast<uint32_t>(static_cast<uint64_t>(p) >> 32));
      ASSERT_EQ((vm.flags() & F_CF) != 0, p != static_cast<int32_t>(p));
    } else if (kind == 2) {
      uint64_t dd = (uint64_t{d} << 32) | a;
      bool fault = s == 0 || dd / s > 0xFFFFFFFFu;
      ASSERT_EQ(vm.faulted(), fault) << std::hex << dd << " / " << s;
      if (fault) {
        ASSERT_EQ(vm.pushed_ip(), CODE);
        ASSERT_EQ(vm.r(EAX), a);
        ASSERT_EQ(vm.r(EDX), d);
      } else {
        ASSERT_EQ(vm.r(EAX), static_cast<uint32_t>(dd / s));
        ASSERT_EQ(vm.r(EDX), static_cast<uint32_t>(dd % s));
      }
    } else {
      int64_t dd = static_cast<int64_t>((uint64_t{d} << 32) | a);
      int32_t ss = static_cast<int32_t>(s);
      bool fault = ss == 0 || (ss == -1 && dd == INT64_MIN) || dd / ss > INT32_MAX || dd / ss < INT32_MIN;
      ASSERT_EQ(vm.faulted(), fault) << std::hex << dd << " / " << ss;
      if (!fault) {
        ASSERT_EQ(vm.r(EAX), static_cast<uint32_t>(dd / ss));
        ASSERT_EQ(vm.r(EDX), static_cast<uint32_t>(dd % ss));
      }
    }
  }
}

#endif  // __x86_64__

TEST(AluEdge, IdivMostNegativeQuotient) {
  // AX = -256, BL = 2: quotient -128. Fine on a 286+, #DE on the 8086.
  Vm vm;
  vm.r(EAX) = 0xFF00;
  vm.r(EBX) = 2;
  vm.run({0xF6, 0xFB}, 0);  // idiv bl
  EXPECT_FALSE(vm.faulted());
  EXPECT_EQ(vm.r(EAX) & 0xFFFF, 0x0080u);
  vm.r(EAX) = 0xFF00;
  vm.run({0xF6, 0xFB}, 0, CpuModel::i8086);
  EXPECT_TRUE(vm.faulted());
  EXPECT_EQ(vm.pushed_ip(), CODE + 2);  // the 8086 pushes the next instruction's address
}

TEST(AluEdge, DivideByZeroIsPrecise) {
  Vm vm;
  vm.r(EAX) = 0x1234;
  vm.r(EBX) = 0;
  vm.run({0xF6, 0xF3}, 0);  // div bl
  EXPECT_TRUE(vm.faulted());
  EXPECT_EQ(vm.pushed_ip(), CODE);
  EXPECT_EQ(vm.r(EAX), 0x1234u);
}

// AAM 0: #DE, a fault, so the flags stay as they were (SDM); the pushed FLAGS image shows them.
TEST(AluEdge, AamZero) {
  for (uint32_t status : {uint32_t{0}, uint32_t{F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF}}) {
    Vm vm;
    vm.r(EAX) = 0x1234;
    vm.run({0xD4, 0x00}, status);
    EXPECT_TRUE(vm.faulted());
    EXPECT_EQ(vm.pushed_ip(), CODE);
    EXPECT_EQ(vm.r(EAX), 0x1234u);
    const uint16_t pushed = static_cast<uint16_t>(vm.mem.ram()[0x8000 - 2] | vm.mem.ram()[0x8000 - 1] << 8);
    EXPECT_EQ(pushed & F_ARITH, status);
  }
}

TEST(AluEdge, MemoryRmwAndLock) {
  Vm vm;
  vm.r(EBX) = 0x3000;
  vm.r(ECX) = 5;
  vm.mem.ram()[0x3000] = 0xFF;
  vm.run({0xF0, 0x00, 0x0F}, 0);  // lock add [bx], cl
  EXPECT_EQ(vm.mem.ram()[0x3000], 0x04);
  EXPECT_TRUE(vm.flags() & F_CF);
}

TEST(AluEdge, BtMemoryRegisterOffsetAddressesBeyondOperand) {
  Vm vm;
  uint8_t* ram = vm.mem.ram();
  vm.r(EBX) = 0x3000;
  // bts word [bx], ax with ax = 35: word at 0x3004, bit 3.
  vm.r(EAX) = 35;
  vm.run({0x0F, 0xAB, 0x07}, 0);
  EXPECT_EQ(ram[0x3004], 0x08);
  EXPECT_FALSE(vm.flags() & F_CF);
  // bt word [bx], ax with ax = -1: word at 0x2FFE, bit 15.
  ram[0x2FFF] = 0x80;
  vm.r(EAX) = 0xFFFF;
  vm.run({0x0F, 0xA3, 0x07}, 0);
  EXPECT_TRUE(vm.flags() & F_CF);
  // btr dword [bx], eax with eax = -33: dword at 0x3000 - 8, bit 31.
  ram[0x2FFB] = 0x80;
  vm.r(EAX) = static_cast<uint32_t>(-33);
  vm.run({0x66, 0x0F, 0xB3, 0x07}, 0);
  EXPECT_TRUE(vm.flags() & F_CF);
  EXPECT_EQ(ram[0x2FFB], 0x00);
  // bts word [bx], 35 (imm): offset modulo 16 -> word at 0x3000, bit 3.
  ram[0x3000] = 0;
  vm.run({0x0F, 0xBA, 0x2F, 35}, 0);
  EXPECT_EQ(ram[0x3000], 0x08);
}

TEST(AluEdge, ShiftCountsOn8086AreNotMasked) {
  Vm vm;
  // shl al, cl with CL = 33: 386+ shifts by 1, the 8086 by 33 (result 0).
  vm.r(EAX) = 0x41;
  vm.r(ECX) = 33;
  vm.run({0xD2, 0xE0}, 0);
  EXPECT_EQ(vm.r(EAX) & 0xFF, 0x82u);
  vm.r(EAX) = 0x41;
  vm.run({0xD2, 0xE0}, 0, CpuModel::i8086);
  EXPECT_EQ(vm.r(EAX) & 0xFF, 0x00u);
  // rcl al, cl with CL = 10 on the 8086: 10 mod 9 = 1.
  vm.r(EAX) = 0x80;
  vm.r(ECX) = 10;
  vm.run({0xD2, 0xD0}, 0, CpuModel::i8086);
  EXPECT_EQ(vm.r(EAX) & 0xFF, 0x00u);
  EXPECT_TRUE(vm.flags() & F_CF);
}

}  // namespace
