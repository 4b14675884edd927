// The P6 integer additions (emu/interp/p6.cpp), MSRs (emu/msr.cpp) and CPUID (emu/cpuid.cpp):
// concrete semantics, faults, and a check that every feature CPUID reports works.
// The random host comparison of the same instructions is in diff32_test.cpp.
#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <vector>

#include "devices/port_bus.h"
#include "emu/cpu.h"
#include "emu/cpuid.h"
#include "emu/msr.h"
#include "mmu/physical_memory.h"

using namespace vx86;

namespace {

constexpr uint32_t CODE = 0x1000;

class P6 : public ::testing::Test {
 protected:
  P6() : mem(4u << 20), cpu(mem, io) { real_mode(); }

  // 16-bit real mode, all segments 0, stack at 0000:8000.
  void real_mode() {
    cpu.reset();
    for (unsigned k = 0; k < SEG_COUNT; ++k) {
      cpu.load_seg_real(k, 0);
      cpu.s.seg[k].limit = 0xFFFF;
      cpu.s.seg[k].attr = k == CS ? 0x009B : 0x0093;
    }
    cpu.s.regs[ESP] = 0x8000;
    cpu.s.eip = CODE;
    cpu.update_mode();
  }
  // Protected mode with flat 32-bit segments already in the descriptor caches, at `cpl`.
  void flat32(unsigned cpl) {
    cpu.reset();
    cpu.s.cr[0] |= 1;
    const uint16_t dpl = static_cast<uint16_t>(cpl << 5);
    for (unsigned k = 0; k < SEG_COUNT; ++k)
      cpu.s.seg[k] = SegReg{static_cast<uint16_t>(0x10 | cpl), static_cast<uint16_t>(0xC093 | dpl), 0, 0xFFFFFFFFu};
    cpu.s.seg[CS] = SegReg{static_cast<uint16_t>(0x08 | cpl), static_cast<uint16_t>(0xC09B | dpl), 0, 0xFFFFFFFFu};
    cpu.s.cpl = static_cast<uint8_t>(cpl);
    cpu.mmu.set_user(cpl == 3);
    cpu.s.eip = CODE;
    cpu.s.regs[ESP] = 0x8000;
    cpu.update_mode();
  }

  // Decodes and runs one instruction through its handler (no exception delivery): the fault it
  // raised, if any. EIP advances as the handler decides.
  std::optional<CpuFault> exec(const std::vector<uint8_t>& code) {
    Insn in[2];
    std::vector<uint8_t> bytes = code;
    bytes.resize(16, 0x90);
    decoder.decode(bytes.data(), bytes.size(), cpu.s.code32, in[0]);
    try {
      in[0].fn(cpu, &in[0]);
    } catch (const CpuFault& f) {
      return f;
    }
    return std::nullopt;
  }
  static bool is(const std::optional<CpuFault>& f, uint8_t vec) { return f && f->vector == vec; }
  static bool gp0(const std::optional<CpuFault>& f) { return f && f->vector == VEC_GP && f->has_error && f->error == 0; }

  // Places code (+ HLT) at 0000:1000 and runs it to the HLT.
  void run(const std::vector<uint8_t>& code) {
    std::memcpy(mem.ram() + CODE, code.data(), code.size());
    mem.ram()[CODE + code.size()] = 0xF4;
    cpu.blocks.flush();
    cpu.s.eip = CODE;
    cpu.s.halted = false;
    ASSERT_EQ(cpu.run(100000), StopReason::Halted);
  }

  uint32_t rd32(uint32_t a) { return mem.read(a, 4); }
  void wr32(uint32_t a, uint32_t v) { mem.write(a, v, 4); }
  uint32_t& r(unsigned k) { return cpu.s.regs[k]; }

  std::optional<CpuFault> rdmsr(uint32_t idx, uint64_t& v) {
    r(ECX) = idx;
    auto f = exec({0x0F, 0x32});
    v = (uint64_t{r(EDX)} << 32) | r(EAX);
    return f;
  }
  std::optional<CpuFault> wrmsr(uint32_t idx, uint64_t v) {
    r(ECX) = idx;
    r(EAX) = static_cast<uint32_t>(v);
    r(EDX) = static_cast<uint32_t>(v >> 32);
    return exec({0x0F, 0x30});
  }

  PhysicalMemory mem;
  PortBus io;
  Cpu cpu;
  Decoder decoder;
};

// ---- CMPXCHG ----
TEST_F(P6, CmpxchgRegisterSuccessAndFailure) {
  // cmpxchg ecx, edx (66 0F B1 D1): EAX == ECX -> ECX = EDX, ZF = 1
  r(EAX) = 5; r(ECX) = 5; r(EDX) = 0x77;
  ASSERT_FALSE(exec({0x66, 0x0F, 0xB1, 0xD1}));
  EXPECT_EQ(r(ECX), 0x77u);
  EXPECT_EQ(r(EAX), 5u);
  EXPECT_EQ(cpu.s.eflags & F_ARITH, uint32_t{F_ZF | F_PF});
  // mismatch: EAX = ECX, ECX unchanged, flags of CMP 3 - 5 (CF SF AF set, PF: 0xFE has 7 ones).
  r(EAX) = 3;
  ASSERT_FALSE(exec({0x66, 0x0F, 0xB1, 0xD1}));
  EXPECT_EQ(r(EAX), 0x77u);
  EXPECT_EQ(r(ECX), 0x77u);
  EXPECT_EQ(cpu.s.eflags & F_ARITH, uint32_t{F_CF | F_SF | F_AF});
  // 8-bit: cmpxchg bh, cl (0F B0 CF): AL = 0x12 vs BH = 0x12 -> BH = CL
  r(EAX) = 0xAAAA0012; r(EBX) = 0x1200; r(ECX) = 0x99;
  ASSERT_FALSE(exec({0x0F, 0xB0, 0xCF}));
  EXPECT_EQ(r(EBX), 0x9900u);
  EXPECT_TRUE(cpu.s.eflags & F_ZF);
  // 16-bit mismatch loads AX only.
  r(EAX) = 0xAAAA0001; r(EBX) = 0xBBBB0002;
  ASSERT_FALSE(exec({0x0F, 0xB1, 0xCB}));  // cmpxchg bx, cx
  EXPECT_EQ(r(EAX), 0xAAAA0002u);
  EXPECT_FALSE(cpu.s.eflags & F_ZF);
}

TEST_F(P6, CmpxchgMemoryWritesBackOnFailure) {
  // Paging on, the target page's PTE clean: a failed compare must still write (and dirty it).
  constexpr uint32_t PD = 0x100000, PT = 0x101000, PTE_D = 0x40;
  flat32(0);
  wr32(PD, PT | 7);
  for (uint32_t p = 0; p < 1024; ++p) wr32(PT + p * 4, (p << 12) | 7);  // identity, writable
  cpu.s.cr[3] = PD;
  cpu.s.cr[0] |= 0x80000000u;
  PagingMode m;
  m.enabled = true;
  m.cr3 = PD;
  cpu.mmu.set_paging(m);
  wr32(0x5000, 0x11111111);
  r(EBX) = 0x5000;
  r(EAX) = 0x22222222;
  r(ECX) = 0x33333333;
  ASSERT_FALSE(exec({0x0F, 0xB1, 0x0B}));  // cmpxchg [ebx], ecx
  EXPECT_EQ(r(EAX), 0x11111111u);
  EXPECT_EQ(rd32(0x5000), 0x11111111u);
  EXPECT_TRUE(rd32(PT + 5 * 4) & PTE_D) << "the failed CMPXCHG did not write its destination";
  // A plain CMP of another clean page does not dirty it (the check above means something).
  r(EBX) = 0x6000;
  ASSERT_FALSE(exec({0x39, 0x03}));  // cmp [ebx], eax
  EXPECT_FALSE(rd32(PT + 6 * 4) & PTE_D);
  // A read-only page with CR0.WP: the failing CMPXCHG faults as a write, registers unchanged.
  wr32(PT + 7 * 4, 0x7000 | 5);
  m.wp = true;
  cpu.mmu.set_paging(m);
  r(EBX) = 0x7000;
  r(EAX) = 0x22222222;
  auto f = exec({0x0F, 0xB1, 0x0B});
  ASSERT_TRUE(is(f, VEC_PF));
  EXPECT_EQ(f->error, uint32_t{PF_P | PF_W});
  EXPECT_EQ(r(EAX), 0x22222222u);
  // Success writes the source.
  r(EBX) = 0x5000;
  r(EAX) = 0x11111111;
  ASSERT_FALSE(exec({0x0F, 0xB1, 0x0B}));
  EXPECT_EQ(rd32(0x5000), 0x33333333u);
  EXPECT_TRUE(cpu.s.eflags & F_ZF);
}

// ---- CMPXCHG8B ----
TEST_F(P6, Cmpxchg8b) {
  wr32(0x3000, 0x89ABCDEF);
  wr32(0x3004, 0x01234567);
  r(EBX) = 0x3000;
  r(EAX) = 0x89ABCDEF; r(EDX) = 0x01234567;
  cpu.s.eflags = F_BIT1 | F_CF | F_SF;
  const uint32_t ebx = 0x3000, ecx = 0xFEEDFACE;
  r(ECX) = ecx;
  ASSERT_FALSE(exec({0x66, 0x0F, 0xC7, 0x0F}));  // cmpxchg8b [bx]: equal -> m64 = ECX:EBX
  EXPECT_EQ(rd32(0x3000), ebx);
  EXPECT_EQ(rd32(0x3004), ecx);
  EXPECT_EQ(cpu.s.eflags & F_ARITH, uint32_t{F_ZF | F_CF | F_SF});  // only ZF changes
  // Not equal (high half differs): EDX:EAX = m64, memory unchanged, ZF = 0.
  r(EAX) = ebx; r(EDX) = 0;
  ASSERT_FALSE(exec({0x0F, 0xC7, 0x0F}));
  EXPECT_EQ(r(EAX), ebx);
  EXPECT_EQ(r(EDX), ecx);
  EXPECT_EQ(rd32(0x3000), ebx);
  EXPECT_EQ(rd32(0x3004), ecx);
  EXPECT_EQ(cpu.s.eflags & F_ARITH, uint32_t{F_CF | F_SF});
  // The register form is #UD.
  EXPECT_TRUE(is(exec({0x0F, 0xC7, 0xC8}), VEC_UD));
  // The second dword beyond the segment limit: #GP, nothing written.
  r(EBX) = 0xFFFC;
  wr32(0xFFFC, 0);
  r(EAX) = 0; r(EDX) = 0;
  EXPECT_TRUE(gp0(exec({0x0F, 0xC7, 0x0F})));
  EXPECT_EQ(rd32(0xFFFC), 0u);
}

// ---- XADD ----
TEST_F(P6, Xadd) {
  wr32(0x3000, 0xFFFFFFFF);
  r(EBX) = 0x3000; r(ECX) = 1;
  ASSERT_FALSE(exec({0x66, 0x0F, 0xC1, 0x0F}));  // xadd [bx], ecx
  EXPECT_EQ(rd32(0x3000), 0u);
  EXPECT_EQ(r(ECX), 0xFFFFFFFFu);
  EXPECT_EQ(cpu.s.eflags & F_ARITH, uint32_t{F_CF | F_ZF | F_AF | F_PF});
  // Same register on both sides: it ends up with the sum.
  r(EAX) = 21;
  ASSERT_FALSE(exec({0x66, 0x0F, 0xC1, 0xC0}));  // xadd eax, eax
  EXPECT_EQ(r(EAX), 42u);
  // 8-bit: xadd ah, al
  r(EAX) = 0x0305;
  ASSERT_FALSE(exec({0x0F, 0xC0, 0xC4}));
  EXPECT_EQ(r(EAX) & 0xFFFF, 0x0803u);
  // LOCK on the register form is #UD; on the memory form fine.
  EXPECT_TRUE(is(exec({0xF0, 0x0F, 0xC1, 0xC0}), VEC_UD));
  EXPECT_FALSE(exec({0xF0, 0x0F, 0xC1, 0x0F}));
}

// ---- CMOVcc ----
TEST_F(P6, CmovReadsItsMemoryOperandEvenWhenFalse) {
  // cmovz eax, [ebx] (67 66 0F 44 03) with EBX beyond the 64 KiB limit: #GP whatever ZF is.
  r(EBX) = 0x10000;
  for (uint32_t zf : {0u, uint32_t{F_ZF}}) {
    cpu.s.eflags = F_BIT1 | zf;
    r(EAX) = 0x1234;
    EXPECT_TRUE(gp0(exec({0x67, 0x66, 0x0F, 0x44, 0x03}))) << "ZF=" << zf;
    EXPECT_EQ(r(EAX), 0x1234u);
  }
  // Through SS: #SS(0).
  r(EBP) = 0xFFFF;
  cpu.s.eflags = F_BIT1;
  auto f = exec({0x0F, 0x44, 0x46, 0x00});  // cmovz ax, [bp+0]
  ASSERT_TRUE(is(f, VEC_SS));
  // In range: moves only when the condition holds; 16-bit keeps the upper half.
  wr32(0x3000, 0xCAFEBABE);
  r(EBX) = 0x3000;
  r(EAX) = 0x11112222;
  cpu.s.eflags = F_BIT1;
  ASSERT_FALSE(exec({0x0F, 0x44, 0x07}));  // cmovz ax, [bx]: ZF = 0, no move
  EXPECT_EQ(r(EAX), 0x11112222u);
  ASSERT_FALSE(exec({0x0F, 0x45, 0x07}));  // cmovnz ax, [bx]
  EXPECT_EQ(r(EAX), 0x1111BABEu);
  ASSERT_FALSE(exec({0x66, 0x0F, 0x45, 0x07}));  // cmovnz eax, [bx]
  EXPECT_EQ(r(EAX), 0xCAFEBABEu);
}

// ---- BSWAP ----
TEST_F(P6, Bswap) {
  r(EDX) = 0x11223344;
  ASSERT_FALSE(exec({0x66, 0x0F, 0xCA}));  // bswap edx
  EXPECT_EQ(r(EDX), 0x44332211u);
  ASSERT_FALSE(exec({0x0F, 0xCA}));  // bswap dx: the low 16 bits become 0, as Intel and AMD do
  EXPECT_EQ(r(EDX), 0x44330000u);
}

// ---- RDTSC ----
TEST_F(P6, RdtscIsMonotonicAndDeterministic) {
  // rdtsc; mov esi, eax; mov edi, edx; nop x3; rdtsc
  const std::vector<uint8_t> code = {0x0F, 0x31, 0x66, 0x89, 0xC6, 0x66, 0x89, 0xD7, 0x90, 0x90, 0x90, 0x0F, 0x31};
  run(code);
  const uint64_t t0 = (uint64_t{r(EDI)} << 32) | r(ESI), t1 = (uint64_t{r(EDX)} << 32) | r(EAX);
  EXPECT_EQ(t1 - t0, 6u) << "the TSC counts retired instructions: 5 between, plus the second RDTSC";
  const uint64_t first = t0;
  // The same program from reset reads the same values.
  real_mode();
  run(code);
  EXPECT_EQ((uint64_t{r(EDI)} << 32) | r(ESI), first);
  EXPECT_EQ((uint64_t{r(EDX)} << 32) | r(EAX), t1);
  // Later reads are larger.
  run(code);
  EXPECT_GT((uint64_t{r(EDI)} << 32) | r(ESI), t1);
}

TEST_F(P6, RdtscTimeStampDisable) {
  flat32(3);
  EXPECT_FALSE(exec({0x0F, 0x31}));
  cpu.s.cr[4] |= CR4_TSD;
  EXPECT_TRUE(gp0(exec({0x0F, 0x31})));
  flat32(0);
  cpu.s.cr[4] |= CR4_TSD;
  EXPECT_FALSE(exec({0x0F, 0x31}));
}

TEST_F(P6, WrmsrTscSetsTheCounter) {
  // P6: WRMSR writes the low 32 bits and clears the high ones.
  ASSERT_FALSE(wrmsr(MSR_TSC, 0x0000000500001000ull));
  uint64_t v;
  ASSERT_FALSE(rdmsr(MSR_TSC, v));
  EXPECT_EQ(v, 0x1000u);
  cpu.s.icount += 10;  // ten instructions later
  ASSERT_FALSE(exec({0x0F, 0x31}));
  EXPECT_EQ(r(EAX), 0x100Au);
  EXPECT_EQ(r(EDX), 0u);
}

// ---- RDMSR / WRMSR ----
TEST_F(P6, MsrRoundTrips) {
  struct M {
    uint32_t idx;
    uint64_t value;
  };
  const M ms[] = {
      {MSR_SYSENTER_CS, 0x10},      {MSR_SYSENTER_ESP, 0x12345678}, {MSR_SYSENTER_EIP, 0xC0DE0000u},
      {MSR_APIC_BASE, 0xFEC00900u}, {MSR_PAT, 0x0007010600070106ull}, {MSR_MISC_ENABLE, 0x1},
      {MSR_MTRR_DEF_TYPE, 0xC06},   {0x200, 0x0000000F00000006ull},   {0x201, 0x0000000FF0000800ull},
      {0x20E, 0x80000000u | 4},     {0x250, 0x0606060606060606ull},   {0x258, 0x0505050504040404ull},
      {0x259, 0},                   {0x268, 0x0101010101010101ull},   {0x26F, 0x0606060606060606ull},
      {MSR_EFER, EFER_NXE},
  };
  for (const M& m : ms) {
    ASSERT_FALSE(wrmsr(m.idx, m.value)) << std::hex << m.idx;
    r(EAX) = r(EDX) = 0xDEAD;
    uint64_t v;
    ASSERT_FALSE(rdmsr(m.idx, v)) << std::hex << m.idx;
    EXPECT_EQ(v, m.value) << std::hex << m.idx;
  }
  uint64_t v;
  ASSERT_FALSE(rdmsr(MSR_MTRRCAP, v));
  EXPECT_EQ(v, 0x508u);
  ASSERT_FALSE(rdmsr(MSR_BIOS_SIGN_ID, v));
  EXPECT_EQ(v, 0u);
  EXPECT_FALSE(wrmsr(MSR_BIOS_SIGN_ID, 0));  // Linux's "read the microcode revision" sequence
}

TEST_F(P6, MsrResetValues) {
  uint64_t v;
  ASSERT_FALSE(rdmsr(MSR_APIC_BASE, v));
  EXPECT_EQ(v, 0xFEE00900u);
  ASSERT_FALSE(rdmsr(MSR_PAT, v));
  EXPECT_EQ(v, 0x0007040600070406ull);
  ASSERT_FALSE(rdmsr(MSR_EFER, v));
  EXPECT_EQ(v, 0u);
  ASSERT_FALSE(rdmsr(MSR_MTRR_DEF_TYPE, v));
  EXPECT_EQ(v, 0u);
}

TEST_F(P6, MsrFaults) {
  uint64_t v;
  for (uint32_t idx : {0x11u, 0x3Au, 0x179u, 0xC0000081u, 0xC0000100u, 0x12345678u, 0x4B564D00u}) {
    EXPECT_TRUE(gp0(rdmsr(idx, v))) << std::hex << idx;
    EXPECT_TRUE(gp0(wrmsr(idx, 0))) << std::hex << idx;
  }
  EXPECT_TRUE(gp0(wrmsr(MSR_MTRRCAP, 0x508)));            // read-only
  EXPECT_TRUE(gp0(wrmsr(MSR_PLATFORM_ID, 0)));            // read-only
  EXPECT_TRUE(gp0(wrmsr(MSR_PAT, 0x0000000000000002ull)));  // type 2 is reserved
  EXPECT_TRUE(gp0(wrmsr(MSR_MTRR_DEF_TYPE, 0x1000)));     // reserved bit
  EXPECT_TRUE(gp0(wrmsr(MSR_MTRR_DEF_TYPE, 0x3)));        // type 3 is reserved
  EXPECT_TRUE(gp0(wrmsr(0x200, 0x0000001000000006ull)));  // beyond 36 physical bits
  EXPECT_TRUE(gp0(wrmsr(MSR_EFER, 1u << 8)));             // LME: no long mode
  EXPECT_TRUE(gp0(wrmsr(MSR_EFER, 1u << 0)));             // SCE: no SYSCALL
  // CPL 3 (protected mode and virtual-8086 mode): #GP for any MSR.
  flat32(3);
  EXPECT_TRUE(gp0(rdmsr(MSR_SYSENTER_CS, v)));
  EXPECT_TRUE(gp0(wrmsr(MSR_SYSENTER_CS, 0)));
  flat32(0);
  cpu.s.eflags |= F_VM;
  cpu.update_mode();
  EXPECT_TRUE(gp0(rdmsr(MSR_SYSENTER_CS, v)));
}

TEST_F(P6, EferNxeReachesThePageWalker) {
  EXPECT_FALSE(cpu.mmu.paging().nxe);
  ASSERT_FALSE(wrmsr(MSR_EFER, EFER_NXE));
  EXPECT_TRUE(cpu.mmu.paging().nxe);
  ASSERT_FALSE(wrmsr(MSR_EFER, 0));
  EXPECT_FALSE(cpu.mmu.paging().nxe);
}

// ---- SYSENTER / SYSEXIT ----
TEST_F(P6, SysenterAndSysexit) {
  flat32(3);
  cpu.s.msr.sysenter_cs = 0x0063;  // RPL bits are ignored
  cpu.s.msr.sysenter_esp = 0x9000;
  cpu.s.msr.sysenter_eip = 0x4000;
  cpu.s.eflags |= F_IF;
  r(ECX) = 0x7777;
  r(EDX) = 0x5555;
  ASSERT_FALSE(exec({0x0F, 0x34}));
  EXPECT_EQ(cpu.s.cpl, 0);
  EXPECT_FALSE(cpu.mmu.user());
  EXPECT_EQ(cpu.s.seg[CS].sel, 0x60);
  EXPECT_EQ(cpu.s.seg[CS].base, 0u);
  EXPECT_EQ(cpu.s.seg[CS].limit, 0xFFFFFFFFu);
  EXPECT_EQ(cpu.s.seg[CS].attr, 0xC09B);
  EXPECT_EQ(cpu.s.seg[SS].sel, 0x68);
  EXPECT_EQ(cpu.s.seg[SS].attr, 0xC093);
  EXPECT_EQ(cpu.s.eip, 0x4000u);
  EXPECT_EQ(r(ESP), 0x9000u);
  EXPECT_FALSE(cpu.s.eflags & F_IF);
  EXPECT_EQ(cpu.s.code32, 1u);
  EXPECT_EQ(cpu.s.sp_mask, 0xFFFFFFFFu);
  // SYSEXIT: CPL 3, CS = SYSENTER_CS + 16 | 3, SS = + 24 | 3, ESP = ECX, EIP = EDX.
  ASSERT_FALSE(exec({0x0F, 0x35}));
  EXPECT_EQ(cpu.s.cpl, 3);
  EXPECT_TRUE(cpu.mmu.user());
  EXPECT_EQ(cpu.s.seg[CS].sel, 0x73);
  EXPECT_EQ(cpu.s.seg[CS].attr, 0xC0FB);
  EXPECT_EQ(cpu.s.seg[SS].sel, 0x7B);
  EXPECT_EQ(cpu.s.seg[SS].attr, 0xC0F3);
  EXPECT_EQ(cpu.s.eip, 0x5555u);
  EXPECT_EQ(r(ESP), 0x7777u);
  // SYSEXIT at CPL 3: #GP(0).
  EXPECT_TRUE(gp0(exec({0x0F, 0x35})));
}

TEST_F(P6, SysenterFaults) {
  flat32(3);
  cpu.s.msr.sysenter_cs = 0x0003;  // selector index 0
  EXPECT_TRUE(gp0(exec({0x0F, 0x34})));
  EXPECT_EQ(cpu.s.cpl, 3);
  real_mode();
  cpu.s.msr.sysenter_cs = 0x0008;
  EXPECT_TRUE(gp0(exec({0x0F, 0x34})));  // real mode
  EXPECT_TRUE(gp0(exec({0x0F, 0x35})));
}

// ---- UD2, NOPs, PAUSE, REP BSF ----
TEST_F(P6, Ud2AndHintNops) {
  EXPECT_TRUE(is(exec({0x0F, 0x0B}), VEC_UD));
  // Multi-byte NOP and the hint space 0F 18-0F 1F with a memory operand beyond the segment
  // limit: no access, no fault.
  r(EBX) = 0x20000;
  for (uint8_t op = 0x18; op <= 0x1F; ++op)
    for (uint8_t reg = 0; reg < 8; ++reg) {
      const uint32_t eip = cpu.s.eip;
      EXPECT_FALSE(exec({0x67, 0x0F, op, static_cast<uint8_t>(reg << 3 | 3)})) << std::hex << unsigned{op} << " /" << unsigned{reg};
      EXPECT_EQ(cpu.s.eip, eip + 4);
      EXPECT_FALSE(exec({0x0F, op, static_cast<uint8_t>(0xC0 | reg << 3)})) << std::hex << unsigned{op} << " reg";
    }
  EXPECT_FALSE(exec({0x66, 0x0F, 0x1F, 0x44, 0x00, 0x00}));  // nop word [si+0]
  EXPECT_FALSE(exec({0xF3, 0x90}));                          // pause
  EXPECT_FALSE(exec({0xF3, 0x0F, 0x1E, 0xFB}));              // "endbr32": a hint NOP here
  // F3 0F BC is BSF on a P6 (TZCNT came later): a zero source sets ZF, keeps the destination.
  r(EAX) = 0x1234; r(EBX) = 0;
  cpu.s.eflags = F_BIT1;
  ASSERT_FALSE(exec({0xF3, 0x0F, 0xBC, 0xC3}));
  EXPECT_EQ(r(EAX), 0x1234u);
  EXPECT_TRUE(cpu.s.eflags & F_ZF);
  r(EBX) = 0x80;
  ASSERT_FALSE(exec({0xF3, 0x0F, 0xBD, 0xC3}));  // BSR, not LZCNT
  EXPECT_EQ(r(EAX), 7u);
}

// ---- CPUID ----
TEST_F(P6, CpuidLeaves) {
  auto q = [&](uint32_t leaf) {
    r(EAX) = leaf;
    r(ECX) = 0;
    EXPECT_FALSE(exec({0x0F, 0xA2}));
    return CpuidResult{r(EAX), r(EBX), r(ECX), r(EDX)};
  };
  CpuidResult l0 = q(0);
  EXPECT_EQ(l0.eax, 1u);
  char vendor[13] = {};
  std::memcpy(vendor, &l0.ebx, 4);
  std::memcpy(vendor + 4, &l0.edx, 4);
  std::memcpy(vendor + 8, &l0.ecx, 4);
  EXPECT_STREQ(vendor, "GenuineIntel");
  CpuidResult l1 = q(1);
  EXPECT_EQ(l1.eax, 0x633u);
  EXPECT_EQ(l1.ebx, 0u);
  EXPECT_EQ(l1.ecx, 0u);
  // FPU PSE TSC MSR PAE CX8 SEP PGE CMOV
  EXPECT_EQ(l1.edx, 0x0000A979u);
  CpuidResult e0 = q(0x80000000u);
  EXPECT_EQ(e0.eax, 0x80000001u);
  EXPECT_EQ(e0.ebx | e0.ecx | e0.edx, 0u);
  CpuidResult e1 = q(0x80000001u);
  EXPECT_EQ(e1.eax | e1.ebx | e1.ecx, 0u);
  EXPECT_EQ(e1.edx, 1u << 20);  // NX
  // Beyond the highest leaves: the highest basic leaf's data (Intel behaviour).
  for (uint32_t leaf : {2u, 4u, 0x40000000u, 0x80000002u, 0x80000008u, 0xFFFFFFFFu}) {
    CpuidResult x = q(leaf);
    EXPECT_EQ(x.eax, l1.eax) << std::hex << leaf;
    EXPECT_EQ(x.edx, l1.edx) << std::hex << leaf;
  }
  // 16-bit code still writes all 32 bits of the four registers.
  EXPECT_EQ(cpu.s.code32, 0u);
}

// Every feature bit CPUID reports is backed by a working implementation.
TEST_F(P6, EveryReportedFeatureWorks) {
  const uint32_t edx = cpuid_leaf(1).edx;
  uint32_t checked = 0;
  if (edx & CPUID_FPU) {
    // fninit; fld1; fadd st0, st0; fstp dword [0x3000]
    run({0xDB, 0xE3, 0xD9, 0xE8, 0xD8, 0xC0, 0xD9, 0x1E, 0x00, 0x30});
    EXPECT_EQ(rd32(0x3000), 0x40000000u) << "1.0 + 1.0 as a float";
    checked |= CPUID_FPU;
  }
  if (edx & CPUID_TSC) {
    EXPECT_FALSE(exec({0x0F, 0x31}));
    checked |= CPUID_TSC;
  }
  if (edx & CPUID_MSR) {
    uint64_t v;
    EXPECT_FALSE(wrmsr(MSR_SYSENTER_EIP, 0x1234));
    EXPECT_FALSE(rdmsr(MSR_SYSENTER_EIP, v));
    EXPECT_EQ(v, 0x1234u);
    checked |= CPUID_MSR;
  }
  if (edx & CPUID_CX8) {
    r(EBX) = 0x3000;
    EXPECT_FALSE(exec({0x0F, 0xC7, 0x0F}));
    checked |= CPUID_CX8;
  }
  if (edx & CPUID_CMOV) {
    r(EAX) = 0; r(ECX) = 9;
    cpu.s.eflags = F_BIT1 | F_CF;
    EXPECT_FALSE(exec({0x66, 0x0F, 0x42, 0xC1}));  // cmovb eax, ecx
    EXPECT_EQ(r(EAX), 9u);
    checked |= CPUID_CMOV;
  }
  // PSE, PAE, PGE: MOV CR4 sets them and the MMU walks with them (the walker's rules themselves
  // are checked in paging_test.cpp: 4 MiB pages, PAE with NX, global pages).
  for (uint32_t bit : {CPUID_PSE, CPUID_PAE, CPUID_PGE}) {
    if (!(edx & bit)) continue;
    const uint32_t cr4 = bit == CPUID_PSE ? 0x10 : bit == CPUID_PAE ? 0x20 : 0x80;
    real_mode();
    r(EAX) = cr4;
    run({0x0F, 0x22, 0xE0});  // mov cr4, eax
    EXPECT_EQ(cpu.s.cr[4], cr4);
    const PagingMode& m = cpu.mmu.paging();
    EXPECT_TRUE(bit == CPUID_PSE ? m.pse : bit == CPUID_PAE ? m.pae : m.pge) << std::hex << bit;
    checked |= bit;
  }
  if (edx & CPUID_SEP) {
    flat32(3);
    cpu.s.msr.sysenter_cs = 0x08;
    cpu.s.msr.sysenter_eip = 0x4000;
    EXPECT_FALSE(exec({0x0F, 0x34}));
    EXPECT_EQ(cpu.s.cpl, 0);
    checked |= CPUID_SEP;
  }
  EXPECT_EQ(checked, edx) << "a reported feature bit without a check here";
  // NX (0x80000001 EDX bit 20): EFER.NXE exists and reaches the walker (PAE NX pages: paging_test).
  EXPECT_EQ(cpuid_leaf(0x80000001u).edx, uint32_t{CPUID_EXT_NX});
  real_mode();
  EXPECT_FALSE(wrmsr(MSR_EFER, EFER_NXE));
  EXPECT_TRUE(cpu.mmu.paging().nxe);
}

}  // namespace
