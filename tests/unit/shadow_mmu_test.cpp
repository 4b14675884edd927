// Shadow page tables (-mmu shadow, mmu/shadow_tables.h) at the MMU's level: address spaces kept
// across CR3 loads, and every way a translation can change: stores to a page table (plain,
// page-crossing, supervisor-privilege as task switches write), IDE DMA, INVLPG, CR3 reloads,
// paging-mode toggles, A/D bits, eviction. Expected values come from the frames' contents, which
// the tests write themselves; the TLB scheme runs the same checks. Under -mmu host, every aligned
// access goes as translated code's does: through the current host window if the page is mapped
// there (checked with a real access), else the window fault's handling (Mmu::host_map), else the
// slow path.
#include <gtest/gtest.h>

#include "host_access.h"
#include "ide_test_util.h"
#include "mmu/mmu.h"

using namespace vx86;
using vx86::test::host_readable;
using vx86::test::host_writable;

namespace {

constexpr uint32_t P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80, G = 0x100;
constexpr uint32_t PRESENT = P | RW | US;

// Two address spaces, page directories PD_A and PD_B. Both map the first 4 MiB one to one through
// PT_LOW (so every table below is also data at its own linear address), and 4-8 MiB through
// their own tables PT_A and PT_B. Frames F(n) hold n in every dword.
class Shadow : public ::testing::TestWithParam<MmuScheme> {
 protected:
  static constexpr uint32_t PD_A = 0x10000, PD_B = 0x11000, PT_LOW = 0x12000, PT_A = 0x13000, PT_B = 0x14000;
  static constexpr uint32_t LIN = 0x00400000;  // 4 MiB: the first page PT_A / PT_B map
  static constexpr uint32_t frame(uint32_t n) { return 0x100000 + n * PAGE_SIZE; }

  Shadow() : mem(8 << 20, GetParam() == MmuScheme::Host), mmu(mem) {
    mmu.set_scheme(GetParam());
    for (uint32_t i = 0; i < 1024; ++i) mem.write(PT_LOW + i * 4, i * PAGE_SIZE | PRESENT, 4);
    for (uint32_t pd : {PD_A, PD_B}) mem.write(pd, PT_LOW | PRESENT, 4);
    mem.write(PD_A + 4, PT_A | PRESENT, 4);
    mem.write(PD_B + 4, PT_B | PRESENT, 4);
    for (uint32_t n = 0; n < 64; ++n)
      for (uint32_t k = 0; k < PAGE_SIZE; k += 4) mem.write(frame(n) + k, n, 4);
  }
  static uint32_t pte_of(uint32_t pt, uint32_t lin) { return pt + ((lin >> 12) & 1023) * 4; }
  void map(uint32_t pt, uint32_t lin, uint32_t n, uint32_t flags = PRESENT) {
    mem.write(pte_of(pt, lin), frame(n) | flags, 4);
  }
  void enable(uint32_t cr3, bool wp = false, bool pse = false, bool pge = false) {
    mode.enabled = true;
    mode.wp = wp;
    mode.pse = pse;
    mode.pge = pge;
    mode.cr3 = cr3;
    mmu.set_paging(mode);
  }
  template <class F>
  uint32_t fault_of(F f) {
    try {
      f();
    } catch (const CpuFault& e) {
      EXPECT_EQ(e.vector, VEC_PF);
      return e.error;
    }
    return 0xFFFFFFFFu;
  }
  bool shadow() const { return GetParam() != MmuScheme::Tlb; }
  bool host() const { return GetParam() == MmuScheme::Host; }

  uint8_t* window(uint32_t lin) const { return mmu.host_base() + lin; }
  uint32_t rd(uint32_t lin) {
    if (host() && (host_readable(window(lin)) || mmu.host_map(lin, false))) {
      ++window_reads;
      uint32_t v;
      std::memcpy(&v, window(lin), 4);  // (faults if the window's bookkeeping is wrong)
      return v;
    }
    return mmu.read<uint32_t>(lin);
  }
  void wr(uint32_t lin, uint32_t v) {
    if (host() && (host_writable(window(lin)) || mmu.host_map(lin, true))) {
      ++window_writes;
      std::memcpy(window(lin), &v, 4);
      return;
    }
    mmu.write<uint32_t>(lin, v);
  }
  unsigned window_reads = 0, window_writes = 0;
  uint64_t walks() const { return mmu.stats().walks; }

  PhysicalMemory mem;
  Mmu mmu;
  PagingMode mode;
};

TEST_P(Shadow, ASwitchBackRefillsTheTlbWithoutWalking) {
  map(PT_A, LIN, 1);
  map(PT_B, LIN, 2);
  enable(PD_A);
  EXPECT_EQ(rd(LIN), 1u);
  mmu.set_cr3(PD_B);
  EXPECT_EQ(rd(LIN), 2u);
  const uint64_t before = walks();
  mmu.set_cr3(PD_A);
  EXPECT_EQ(rd(LIN), 1u);
  mmu.set_cr3(PD_B);
  EXPECT_EQ(rd(LIN + 8), 2u);
  EXPECT_EQ(walks() - before, shadow() ? 0u : 2u);
  // (The first reads walk: the entries' A bits are clear. After the switches, the windows answer.)
  if (host()) EXPECT_EQ(window_reads, 2u);
  if (shadow()) {
    EXPECT_EQ(mmu.shadow()->stats().switch_known, 2u);
    EXPECT_EQ(mmu.shadow()->stats().switch_new, 2u);
  }
}

TEST_P(Shadow, PlainStoreToAPteThroughItsOwnMapping) {
  map(PT_A, LIN, 1);
  enable(PD_A);
  EXPECT_EQ(rd(LIN), 1u);
  // PT_A is data too: read it through its identity mapping, then rewrite the entry with a store.
  EXPECT_EQ(rd(pte_of(PT_A, LIN)) & ~PAGE_MASK, frame(1));
  wr(pte_of(PT_A, LIN), frame(3) | PRESENT);
  EXPECT_EQ(rd(LIN), 1u);  // the TLB may keep the old translation until...
  mmu.set_cr3(PD_B);
  mmu.set_cr3(PD_A);  // ...a CR3 load, after which the new one applies
  EXPECT_EQ(rd(LIN), 3u);
  EXPECT_EQ(rd(pte_of(PT_A, LIN)) & ~PAGE_MASK, frame(3));
  if (shadow()) EXPECT_GE(mmu.shadow()->stats().inv_store, 1u);
}

TEST_P(Shadow, StoreCrossingIntoAPageTable) {
  map(PT_A, LIN, 1);
  enable(PD_A);
  EXPECT_EQ(rd(LIN), 1u);
  // Four bytes at PT_A - 2: two in the page before, two in PT_A's first entry (LIN's), whose low
  // half becomes frame(5)'s.
  const uint32_t low = (frame(5) | PRESENT | A | D) & 0xFFFF;
  mmu.write<uint32_t>(PT_A - 2, low << 16 | 0xBEEF);
  EXPECT_EQ(mem.read(PT_A - 2, 2), 0xBEEFu);
  mmu.set_cr3(PD_A);
  EXPECT_EQ(rd(LIN), 5u);
}

TEST_P(Shadow, SupervisorStoreAsATaskSwitchWritesTheTss) {
  // A TSS written while CPL 3 runs (write_system, as task_switch saves the old task's state) on a
  // page that is also LIN's page table.
  map(PT_A, LIN, 1);
  enable(PD_A);
  mmu.set_user(true);
  EXPECT_EQ(rd(LIN), 1u);
  mmu.write_system<uint32_t>(pte_of(PT_A, LIN), frame(6) | PRESENT);
  mmu.set_cr3(PD_A);
  EXPECT_EQ(rd(LIN), 6u);
}

TEST_P(Shadow, InvlpgDropsWhatNoTrackedWriteChanged) {
  map(PT_A, LIN, 1);
  enable(PD_A);
  EXPECT_EQ(rd(LIN), 1u);
  // Rewritten behind every write path's back (no store the MMU sees): only INVLPG makes the
  // processor look again, and it must, whichever scheme.
  const uint32_t v = frame(7) | PRESENT;
  std::memcpy(mem.ram() + pte_of(PT_A, LIN), &v, 4);
  mmu.invlpg(LIN);
  EXPECT_EQ(rd(LIN), 7u);
}

TEST_P(Shadow, Cr3ReloadOfTheSameValue) {
  map(PT_A, LIN, 1);
  map(PT_A, LIN + PAGE_SIZE, 2, PRESENT | G);
  enable(PD_A, false, false, /*pge=*/true);
  EXPECT_EQ(rd(LIN), 1u);
  EXPECT_EQ(rd(LIN + PAGE_SIZE), 2u);
  wr(pte_of(PT_A, LIN), frame(8) | PRESENT);
  wr(pte_of(PT_A, LIN + PAGE_SIZE), frame(9) | PRESENT | G);
  mmu.set_cr3(PD_A);
  EXPECT_EQ(rd(LIN), 8u);              // non-global: looked up again
  EXPECT_EQ(rd(LIN + PAGE_SIZE), 2u);  // global: the TLB keeps it
  mmu.invlpg(LIN + PAGE_SIZE);
  EXPECT_EQ(rd(LIN + PAGE_SIZE), 9u);
}

TEST_P(Shadow, IdeDmaRewritesAPte) {
  using vx86test::Board;
  using vx86test::TempFile;
  constexpr uint16_t CMD = 0x1F0;
  TempFile file(64 * 512);
  // Sector 3 of the disk: a new PTE for LIN (frame 10) where the sector lands in PT_A.
  std::vector<uint8_t> sector(512);
  const uint32_t v = frame(10) | PRESENT;
  std::memcpy(sector.data(), &v, 4);
  FILE* f = std::fopen(file.path.c_str(), "r+b");
  ASSERT_TRUE(f);
  std::fseek(f, 3 * 512, SEEK_SET);
  std::fwrite(sector.data(), 1, sector.size(), f);
  std::fclose(f);
  map(PT_A, LIN, 1);
  Board b;
  b.ide.channel(0).attach_disk(0, std::make_shared<DiskImage>(file.path, DiskImage::Mode::ReadWrite));
  b.bios_setup_ide();
  // The board's own memory holds the guest's tables (the fixture's layout, copied).
  for (uint32_t a = 0; a < (4u << 20); a += 4) b.mem.write(a, mem.read(a, 4), 4);
  Mmu m(b.mem);
  m.set_scheme(GetParam());
  b.ide.channel(0).on_dma_write = [&b](uint32_t addr, uint32_t len) {
    b.mem.tables_written_range(addr, len, true);
  };
  PagingMode pm;
  pm.enabled = true;
  pm.cr3 = PD_A;
  m.set_paging(pm);
  EXPECT_EQ(m.read<uint32_t>(LIN), 1u);
  // READ DMA of sector 3 into PT_A (its first 512 bytes: LIN's entry and the next 127).
  b.put_prd(0x1000, pte_of(PT_A, LIN), 512, true);
  b.outl(Board::kBm + 4, 0x1000);
  b.outb(Board::kBm, 0x08);
  b.outb(CMD + 6, 0xE0);
  b.outb(CMD + 2, 1);
  b.outb(CMD + 3, 3);
  b.outb(CMD + 4, 0);
  b.outb(CMD + 5, 0);
  b.outb(CMD + 7, 0xC8);
  b.outb(Board::kBm, 0x09);
  EXPECT_EQ(b.mem.read(pte_of(PT_A, LIN), 4), v);
  m.set_cr3(PD_A);
  EXPECT_EQ(m.read<uint32_t>(LIN), 10u);
  if (shadow()) EXPECT_EQ(m.shadow()->stats().inv_dma, 1u);
}

TEST_P(Shadow, WriteProtectToggle) {
  map(PT_A, LIN, 1, P | US);  // read-only
  enable(PD_A, /*wp=*/false);
  wr(LIN, 0x11);  // a supervisor write without CR0.WP succeeds
  enable(PD_A, /*wp=*/true);
  EXPECT_EQ(fault_of([&] { wr(LIN, 0x22); }), uint32_t{PF_P | PF_W});
  enable(PD_A, /*wp=*/false);
  wr(LIN + 4, 0x33);
  EXPECT_EQ(mem.read(frame(1), 4), 0x11u);
  EXPECT_EQ(mem.read(frame(1) + 4, 4), 0x33u);
}

TEST_P(Shadow, PseToggleReinterpretsAPde) {
  // PD_A's entry for 8-12 MiB: a 4 MiB page at 4 MiB with PSE; without, bit 7 is ignored and the
  // entry points at a page table (the frame at 4 MiB, which holds 0s: nothing present).
  mem.write(PD_A + 8, 0x00400000 | PRESENT | PS, 4);
  for (uint32_t i = 0; i < 1024; ++i) mem.write(0x400000 + i * 4, frame(11) | PRESENT, 4);
  enable(PD_A, false, /*pse=*/true);
  EXPECT_EQ(rd(0x800000), frame(11) | PRESENT);  // the 4 MiB page's first dword
  enable(PD_A, false, /*pse=*/false);
  EXPECT_EQ(rd(0x800000), 11u);  // through the "table": frame 11
  enable(PD_A, false, /*pse=*/true);
  EXPECT_EQ(rd(0x800004), frame(11) | PRESENT);
}

TEST_P(Shadow, GlobalPagesFollowPge) {
  map(PT_A, LIN, 1, PRESENT | G);
  map(PT_B, LIN, 2);
  enable(PD_A, false, false, /*pge=*/false);
  EXPECT_EQ(rd(LIN), 1u);
  mmu.set_cr3(PD_B);
  EXPECT_EQ(rd(LIN), 2u);  // G without CR4.PGE: not kept
  enable(PD_A, false, false, /*pge=*/true);
  EXPECT_EQ(rd(LIN), 1u);
  mmu.set_cr3(PD_B);
  // Kept across the CR3 load by the TLB. A host window belongs to one address space: PD_B's maps
  // LIN as PD_B's tables do (a TLB may drop a global entry too; no guest can rely on it staying).
  EXPECT_EQ(rd(LIN), host() ? 2u : 1u);
  enable(PD_B, false, false, /*pge=*/false);
  EXPECT_EQ(rd(LIN), 2u);  // clearing PGE flushes it
}

TEST_P(Shadow, PaeAndNxeToggles) {
  // The same CR3 as a PAE PDPT: entry 0 -> a PD whose entry 2 (4-6 MiB) -> PAE table at 0x20000
  // mapping LIN to frame 12 with NX.
  constexpr uint32_t PDPT = 0x18000, PAE_PD = 0x19000, PAE_PT = 0x1A000;
  mem.write(PDPT, PAE_PD | P, 4);
  mem.write(PAE_PD + 2 * 8, PAE_PT | PRESENT, 4);
  mem.write(PAE_PT, frame(12) | PRESENT, 4);
  mem.write(PAE_PT + 4, 0x80000000u, 4);
  map(PT_A, LIN, 1);
  enable(PD_A);
  EXPECT_EQ(rd(LIN), 1u);
  mode.cr3 = PDPT;
  mode.pae = mode.nxe = true;
  mmu.set_paging(mode);
  EXPECT_EQ(rd(LIN), 12u);
  EXPECT_EQ(fault_of([&] { mmu.translate(LIN, Access::Exec); }), uint32_t{PF_P | PF_I});
  mode.nxe = false;  // bit 63 is reserved now
  mmu.set_paging(mode);
  EXPECT_EQ(fault_of([&] { rd(LIN); }), uint32_t{PF_P | PF_RSVD});
  mode.nxe = true;
  mmu.set_paging(mode);
  EXPECT_EQ(rd(LIN + 4), 12u);
  mode.pae = mode.nxe = false;
  mode.cr3 = PD_A;
  mmu.set_paging(mode);
  EXPECT_EQ(rd(LIN), 1u);
  EXPECT_EQ(mmu.translate(LIN, Access::Exec), frame(1));
}

TEST_P(Shadow, AccessedAndDirtyBitsAsTheWalkerSetsThem) {
  map(PT_A, LIN, 1);
  map(PT_B, LIN, 2);
  enable(PD_A);
  EXPECT_EQ(rd(LIN), 1u);
  EXPECT_EQ(mem.read(pte_of(PT_A, LIN), 4) & (A | D), A);
  mmu.set_cr3(PD_B);
  mmu.set_cr3(PD_A);
  wr(LIN, 0x44);  // the first write sets D, also after a switch back
  EXPECT_EQ(mem.read(pte_of(PT_A, LIN), 4) & (A | D), A | D);
  // The guest clears A and D (a store to the table): the next accesses set them again.
  wr(pte_of(PT_A, LIN), frame(1) | PRESENT);
  mmu.set_cr3(PD_B);
  mmu.set_cr3(PD_A);
  EXPECT_EQ(rd(LIN), 0x44u);
  EXPECT_EQ(mem.read(pte_of(PT_A, LIN), 4) & (A | D), A);
  wr(LIN, 0x55);
  EXPECT_EQ(mem.read(pte_of(PT_A, LIN), 4) & (A | D), A | D);
  // And a PDE's A bit, cleared, comes back on the next walk through it.
  wr(PD_A + 4, PT_A | PRESENT);
  mmu.set_cr3(PD_A);
  EXPECT_EQ(rd(LIN), 0x55u);
  EXPECT_EQ(mem.read(PD_A + 4, 4) & A, A);
}

TEST_P(Shadow, TwoSpacesSwitchingWhileBothAreModified) {
  // 16 pages in each space; each round rewrites one entry of each space (through the identity
  // mapping both share), switches, and checks every page against the model.
  uint32_t model[2][16];
  for (uint32_t k = 0; k < 16; ++k) {
    model[0][k] = k;
    model[1][k] = 16 + k;
    map(PT_A, LIN + k * PAGE_SIZE, model[0][k]);
    map(PT_B, LIN + k * PAGE_SIZE, model[1][k]);
  }
  enable(PD_A);
  for (uint32_t round = 0; round < 64; ++round) {
    const unsigned cur = round & 1;
    mmu.set_cr3(cur ? PD_B : PD_A);
    for (uint32_t k = 0; k < 16; ++k)
      ASSERT_EQ(rd(LIN + k * PAGE_SIZE + 4 * k), model[cur][k]) << "round " << round << " page " << k;
    const uint32_t k0 = (round * 5) % 16, k1 = (round * 7 + 3) % 16;
    model[0][k0] = (model[0][k0] + 3) % 64;
    model[1][k1] = (model[1][k1] + 5) % 64;
    wr(pte_of(PT_A, LIN + k0 * PAGE_SIZE), frame(model[0][k0]) | PRESENT);
    wr(pte_of(PT_B, LIN + k1 * PAGE_SIZE), frame(model[1][k1]) | PRESENT);
  }
  if (shadow()) EXPECT_GT(mmu.shadow()->stats().hits + window_reads, 500u);
}

TEST_P(Shadow, ManySpacesEvictTheLeastRecentlyUsed) {
  // 40 directories (more than ShadowTables::kMaxSpaces), each mapping LIN to its own frame.
  constexpr uint32_t DIRS = 0x200000;
  for (uint32_t s = 0; s < 40; ++s) {
    const uint32_t pd = DIRS + s * 2 * PAGE_SIZE, pt = pd + PAGE_SIZE;
    mem.write(pd, PT_LOW | PRESENT, 4);
    mem.write(pd + 4, pt | PRESENT, 4);
    map(pt, LIN, s);
  }
  enable(DIRS);
  for (unsigned pass = 0; pass < 2; ++pass)
    for (uint32_t s = 0; s < 40; ++s) {
      mmu.set_cr3(DIRS + s * 2 * PAGE_SIZE);
      ASSERT_EQ(rd(LIN), s);
    }
  if (shadow()) {
    EXPECT_GE(mmu.shadow()->stats().evicted, 40u);
    EXPECT_LE(mmu.shadow()->spaces(), ShadowTables::kMaxSpaces);
  }
}

TEST_P(Shadow, MemoryStaysBounded) {
  // Six spaces touching every 4 MiB region (4 MiB pages): 6144 leaves wanted, kMaxLeaves kept.
  constexpr uint32_t DIRS = 0x200000;
  for (uint32_t s = 0; s < 6; ++s) {
    const uint32_t pd = DIRS + s * PAGE_SIZE;
    for (uint32_t i = 0; i < 1024; ++i) mem.write(pd + i * 4, (i % 2) << 22 | PRESENT | PS, 4);
  }
  enable(DIRS, false, /*pse=*/true);
  for (uint32_t s = 0; s < 6; ++s) {
    mmu.set_cr3(DIRS + s * PAGE_SIZE);
    // (Even regions: PT_LOW's entry 18; odd ones: zeroed RAM.)
    for (uint32_t i = 0; i < 1024; ++i)
      ASSERT_EQ(rd(i << 22 | (PT_LOW + 18 * 4)), (i % 2) ? 0u : 18u * PAGE_SIZE + PRESENT);
  }
  if (shadow()) {
    EXPECT_GE(mmu.shadow()->stats().evicted, 1u);
    EXPECT_LE(mmu.shadow()->stats().peak_bytes,
              (ShadowTables::kMaxLeaves + 1) * ShadowSpace::kLeafBytes + (1u << 20));
  }
}

INSTANTIATE_TEST_SUITE_P(Schemes, Shadow,
                         ::testing::Values(MmuScheme::Tlb, MmuScheme::Shadow, MmuScheme::Host),
                         [](const auto& info) {
                           return info.param == MmuScheme::Tlb      ? "tlb"
                                  : info.param == MmuScheme::Shadow ? "shadow"
                                                                    : "host";
                         });

}  // namespace
