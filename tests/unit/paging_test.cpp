// Page walker and TLB against hand-built page tables: 32-bit, PSE, PAE/NX, U/S, R/W with WP,
// accessed/dirty write-back, #PF error codes, INVLPG/CR3/global flush rules, page-crossing writes.
#include <gtest/gtest.h>

#include "mmu/mmu.h"

using namespace vx86;

namespace {

constexpr uint32_t P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80, G = 0x100;

// Every test runs under both MMU schemes (-mmu tlb, -mmu shadow): the same outcomes.
class Paging : public ::testing::TestWithParam<MmuScheme> {
 protected:
  Paging() : mem(16 << 20), mmu(mem) { mmu.set_scheme(GetParam()); }
  void pde(uint32_t lin, uint32_t v) { mem.write(PD + (lin >> 22) * 4, v, 4); }
  void pte(uint32_t lin, uint32_t v) { mem.write(PT + ((lin >> 12) & 0x3FF) * 4, v, 4); }
  uint32_t read_pte(uint32_t lin) { return mem.read(PT + ((lin >> 12) & 0x3FF) * 4, 4); }
  void enable(bool wp = false, bool pse = false, bool pge = false) {
    PagingMode m;
    m.enabled = true;
    m.wp = wp;
    m.pse = pse;
    m.pge = pge;
    m.cr3 = PD;
    mmu.set_paging(m);
  }
  // Runs `f`, expecting a #PF; returns its error code (or 0xFFFFFFFF if none happened).
  template <class F>
  uint32_t fault_of(F f, uint32_t* addr = nullptr) {
    try {
      f();
    } catch (const CpuFault& e) {
      EXPECT_EQ(e.vector, VEC_PF);
      if (addr) *addr = e.address;
      return e.error;
    }
    return 0xFFFFFFFFu;
  }
  static constexpr uint32_t PD = 0x10000, PT = 0x11000;
  PhysicalMemory mem;
  Mmu mmu;
};

TEST_P(Paging, FourKPagesTranslateAndSetAccessedDirty) {
  pde(0x00400000, PT | P | RW | US);
  pte(0x00401000, 0x00123000 | P | RW | US);
  enable();
  mem.write(0x00123010, 0xCAFEBABE, 4);
  EXPECT_EQ(mmu.read<uint32_t>(0x00401010), 0xCAFEBABEu);
  EXPECT_TRUE(mem.read(PD + 4, 4) & A);
  EXPECT_TRUE(read_pte(0x00401000) & A);
  EXPECT_FALSE(read_pte(0x00401000) & D);  // a read does not dirty
  mmu.write<uint16_t>(0x00401020, 0x1234);
  EXPECT_TRUE(read_pte(0x00401000) & D);   // the first write does (through the slow path)
  EXPECT_EQ(mem.read(0x00123020, 2), 0x1234u);
}

TEST_P(Paging, NotPresentFaultsWithErrorCodeAndAddress) {
  pde(0x00400000, PT | P | RW | US);
  pte(0x00402000, 0);
  enable();
  uint32_t addr = 0;
  EXPECT_EQ(fault_of([&] { mmu.read<uint8_t>(0x00402ABC); }, &addr), 0u);
  EXPECT_EQ(addr, 0x00402ABCu);
  EXPECT_EQ(fault_of([&] { mmu.write<uint8_t>(0x00402000, 1); }), uint32_t{PF_W});
  mmu.set_user(true);
  EXPECT_EQ(fault_of([&] { mmu.write<uint8_t>(0x00402000, 1); }), uint32_t{PF_W | PF_U});
  EXPECT_EQ(fault_of([&] { mmu.read<uint8_t>(0x00C00000); }), uint32_t{PF_U});  // PDE not present
}

TEST_P(Paging, UserSupervisorAndWriteProtect) {
  pde(0x00400000, PT | P | RW | US);
  pte(0x00401000, 0x00200000 | P | RW);  // supervisor page
  pte(0x00402000, 0x00201000 | P | US);  // user read-only page
  enable(/*wp=*/false);
  mmu.set_user(true);
  EXPECT_EQ(fault_of([&] { mmu.read<uint8_t>(0x00401000); }), uint32_t{PF_P | PF_U});
  EXPECT_EQ(fault_of([&] { mmu.write<uint8_t>(0x00402000, 1); }), uint32_t{PF_P | PF_W | PF_U});
  EXPECT_NO_THROW(mmu.read<uint8_t>(0x00402000));
  mmu.set_user(false);
  EXPECT_NO_THROW(mmu.write<uint8_t>(0x00402000, 5));  // WP=0: the supervisor may write
  EXPECT_EQ(mem.read(0x00201000, 1), 5u);
  enable(/*wp=*/true);
  EXPECT_EQ(fault_of([&] { mmu.write<uint8_t>(0x00402000, 1); }), uint32_t{PF_P | PF_W});
}

// SDM vol. 3A 6.15 (#PF): a protection violation sets the PDE's accessed bit; the PTE's is model
// specific (vx86 leaves it), and a refused write sets no dirty bit. A not-present PTE is left alone.
TEST_P(Paging, ProtectionFaultSetsThePdeAccessedBit) {
  pde(0x00400000, PT | P | RW);  // supervisor table
  pte(0x00401000, 0x00200000 | P | RW | US);
  pte(0x00402000, 0x00201000 | P | US);   // read-only
  pte(0x00403000, 0x00202000 | RW | US);  // not present
  enable(/*wp=*/true);
  mmu.set_user(true);
  EXPECT_EQ(fault_of([&] { mmu.read<uint8_t>(0x00401000); }), uint32_t{PF_P | PF_U});
  EXPECT_EQ(mem.read(PD + 4, 4), PT | P | RW | A);
  EXPECT_EQ(read_pte(0x00401000), 0x00200000 | P | RW | US);
  mmu.set_user(false);
  pde(0x00400000, PT | P | RW);
  EXPECT_EQ(fault_of([&] { mmu.write<uint8_t>(0x00402000, 1); }), uint32_t{PF_P | PF_W});
  EXPECT_EQ(mem.read(PD + 4, 4), PT | P | RW | A);
  EXPECT_EQ(read_pte(0x00402000), 0x00201000 | P | US);
  EXPECT_EQ(fault_of([&] { mmu.write<uint8_t>(0x00403000, 1); }), uint32_t{PF_W});
  EXPECT_EQ(read_pte(0x00403000), 0x00202000 | RW | US);
  // A debugger's look sets nothing.
  pde(0x00400000, PT | P | RW);
  mmu.set_user(true);
  EXPECT_FALSE(walk(mem, mmu.paging(), 0x00401000, Access::Read, true, /*set_bits=*/false).ok);
  EXPECT_EQ(mem.read(PD + 4, 4), PT | P | RW);
}

// The checks that raise no exception (the JIT's MOV slow path and fetches: Mmu::probe_fault and the
// non-throwing translate_exec) give the fault the access itself throws, with the same bits set.
TEST_P(Paging, FaultProbesFindWhatTheAccessesThrow) {
  pde(0x00400000, PT | P | RW);  // supervisor table
  pte(0x00401000, 0x00200000 | P | RW | US);
  pte(0x00402000, 0x00201000 | P | US);   // read-only
  pte(0x00403000, 0x00202000 | RW | US);  // not present
  pte(0x00404000, 0x00203000 | P | RW);
  enable(/*wp=*/true);
  CpuFault f{};
  mmu.set_user(true);
  ASSERT_TRUE(mmu.probe_fault(0x00401000, 1, Access::Read, f));
  EXPECT_EQ(f.vector, VEC_PF);
  EXPECT_EQ(f.error, uint32_t{PF_P | PF_U});
  EXPECT_EQ(f.address, 0x00401000u);
  EXPECT_EQ(mem.read(PD + 4, 4), PT | P | RW | A);  // as the throwing access sets it
  mmu.set_user(false);
  ASSERT_TRUE(mmu.probe_fault(0x00402010, 4, Access::Write, f));
  EXPECT_EQ(f.error, uint32_t{PF_P | PF_W});
  EXPECT_EQ(f.address, 0x00402010u);
  ASSERT_TRUE(mmu.probe_fault(0x00403ffc, 4, Access::Read, f));
  EXPECT_EQ(f.error, 0u);
  uint32_t phys = 0;
  ASSERT_FALSE(mmu.translate_exec(0x00403000, phys, f));
  EXPECT_EQ(f.error, 0u);
  EXPECT_EQ(f.address, 0x00403000u);
  // No fault: the probe filled the TLB and set A as the access would; D waits for the write.
  EXPECT_FALSE(mmu.probe_fault(0x00404008, 4, Access::Read, f));
  EXPECT_EQ(read_pte(0x00404000), 0x00203000 | P | RW | A);
  EXPECT_FALSE(mmu.probe_fault(0x00404008, 4, Access::Write, f));
  EXPECT_EQ(read_pte(0x00404000), 0x00203000 | P | RW | A | D);
  ASSERT_TRUE(mmu.translate_exec(0x00404123, phys, f));
  EXPECT_EQ(phys, 0x00203123u);
  // A page crossing is the access's own business (it faults on the second page).
  EXPECT_FALSE(mmu.probe_fault(0x00402ffe, 4, Access::Read, f));
  EXPECT_EQ(fault_of([&] { mmu.read<uint32_t>(0x00402ffe); }), 0u);
}

TEST_P(Paging, FourMegabytePagesNeedPse) {
  pde(0x00800000, 0x00C00000 | P | RW | PS);
  enable(false, /*pse=*/true);
  mem.write(0x00C12344, 0x77, 1);
  EXPECT_EQ(mmu.read<uint8_t>(0x00812344), 0x77);
  EXPECT_TRUE(mem.read(PD + 8, 4) & A);
  mmu.write<uint8_t>(0x00812345, 1);
  EXPECT_TRUE(mem.read(PD + 8, 4) & D);  // large pages are dirtied in the PDE
}

TEST_P(Paging, TlbKeepsStaleEntriesUntilInvlpgOrCr3Write) {
  pde(0x00400000, PT | P | RW);
  pte(0x00401000, 0x00300000 | P | RW | G);
  pte(0x00402000, 0x00301000 | P | RW);
  enable(false, false, /*pge=*/true);
  mem.write(0x00300000, 0x11, 1);
  mem.write(0x00301000, 0x22, 1);
  mem.write(0x00302000, 0x33, 1);
  EXPECT_EQ(mmu.read<uint8_t>(0x00401000), 0x11);
  EXPECT_EQ(mmu.read<uint8_t>(0x00402000), 0x22);
  pte(0x00401000, 0x00302000 | P | RW | G);
  pte(0x00402000, 0x00302000 | P | RW);
  EXPECT_EQ(mmu.read<uint8_t>(0x00401000), 0x11);  // as hardware: cached until flushed
  mmu.set_cr3(PD);                                  // flushes non-global entries only
  EXPECT_EQ(mmu.read<uint8_t>(0x00402000), 0x33);
  EXPECT_EQ(mmu.read<uint8_t>(0x00401000), 0x11);  // global entry survived
  mmu.invlpg(0x00401000);
  EXPECT_EQ(mmu.read<uint8_t>(0x00401000), 0x33);
}

TEST_P(Paging, CrossingWriteChecksBothPagesFirst) {
  pde(0x00400000, PT | P | RW);
  pte(0x00401000, 0x00300000 | P | RW);
  pte(0x00402000, 0x00301000 | P);  // read-only
  enable(/*wp=*/true);
  mem.write(0x00300FFE, 0xAAAA, 2);
  EXPECT_EQ(fault_of([&] { mmu.write<uint32_t>(0x00401FFE, 0x12345678); }), uint32_t{PF_P | PF_W});
  EXPECT_EQ(mem.read(0x00300FFE, 2), 0xAAAAu);  // nothing was written on the first page
}

TEST_P(Paging, PaeWithLargePagesNxAndReservedBits) {
  constexpr uint32_t PDPT = 0x20000, PD0 = 0x21000, PT0 = 0x22000;
  mem.write(PDPT, PD0 | P, 4);
  mem.write(PD0 + 0 * 8, PT0 | P | RW | US, 4);               // 0-2 MiB through a table
  mem.write(PD0 + 1 * 8, 0x00400000 | P | RW | PS, 4);        // 2-4 MiB: one 2 MiB page
  mem.write(PT0 + 5 * 8, 0x00500000 | P | RW | US, 4);        // 0x5000 -> 0x500000, NX set:
  mem.write(PT0 + 5 * 8 + 4, 0x80000000u, 4);
  mem.write(PT0 + 6 * 8, 0x00501000 | P | RW | US, 4);        // 0x6000: reserved bit 40
  mem.write(PT0 + 6 * 8 + 4, 0x00000100u, 4);
  PagingMode m;
  m.enabled = m.pae = m.nxe = true;
  m.cr3 = PDPT;
  mmu.set_paging(m);
  mem.write(0x00412345, 0x5A, 1);
  EXPECT_EQ(mmu.read<uint8_t>(0x00212345), 0x5A);
  EXPECT_NO_THROW(mmu.read<uint8_t>(0x5000));
  EXPECT_EQ(fault_of([&] { mmu.translate(0x5000, Access::Exec); }), uint32_t{PF_P | PF_I});
  EXPECT_EQ(fault_of([&] { mmu.read<uint8_t>(0x6000); }), uint32_t{PF_P | PF_RSVD});
  m.nxe = false;  // without EFER.NXE, bit 63 is reserved
  mmu.set_paging(m);
  EXPECT_EQ(fault_of([&] { mmu.read<uint8_t>(0x5000); }), uint32_t{PF_P | PF_RSVD});
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Schemes, Paging, ::testing::Values(MmuScheme::Tlb, MmuScheme::Shadow),
                         [](const auto& info) { return info.param == MmuScheme::Tlb ? "tlb" : "shadow"; });
