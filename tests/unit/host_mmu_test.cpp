// Host-MMU windows (-mmu host, mmu/host_windows.h) at the MMU's level: what a window maps and with
// which rights, checked with real host accesses (a pipe's system calls report EFAULT for a page the
// window does not map), and every way a mapping goes: page-table stores (stale until the next TLB
// flush, then kept if unchanged), DMA, INVLPG, code and page-table pages losing write access, MMIO,
// the user/supervisor views, flushes, the mapping budget, paging off. Expected values are the
// frames' contents, which the tests write themselves.
#include <gtest/gtest.h>

#include <cstring>

#include "host_access.h"
#include "mmu/mmu.h"

using namespace vx86;
using vx86::test::host_readable;
using vx86::test::host_writable;

namespace {

constexpr uint32_t P = 1, RW = 2, US = 4, A = 0x20, D = 0x40;
constexpr uint32_t PD = 0x10000, PT_LOW = 0x12000, PT = 0x13000, LIN = 0x00400000;

struct Mmio : MmioHandler {
  uint32_t mmio_read(uint32_t, unsigned) override { return 0x12345678; }
  void mmio_write(uint32_t, uint32_t, unsigned) override {}
};

class HostMmu : public ::testing::Test {
 protected:
  static constexpr uint32_t frame(uint32_t n) { return 0x100000 + n * PAGE_SIZE; }

  HostMmu() : mem(8 << 20, /*shared=*/true), mmu(mem) {
    mmu.set_scheme(MmuScheme::Host);
    for (uint32_t i = 0; i < 1024; ++i) mem.write(PT_LOW + i * 4, i * PAGE_SIZE | P | RW | US | A | D, 4);
    mem.write(PD, PT_LOW | P | RW | US | A, 4);
    mem.write(PD + 4, PT | P | RW | US | A, 4);
    for (uint32_t n = 0; n < 64; ++n)
      for (uint32_t k = 0; k < PAGE_SIZE; k += 4) mem.write(frame(n) + k, n, 4);
    mode.enabled = true;
    mode.cr3 = PD;
  }
  void map(uint32_t lin, uint32_t n, uint32_t flags) {
    mem.write(PT + ((lin >> 12) & 1023) * 4, frame(n) | flags, 4);
  }
  uint8_t* at(uint32_t lin) const { return mmu.host_base() + lin; }
  uint32_t window_read(uint32_t lin) const {
    uint32_t v;
    std::memcpy(&v, at(lin), 4);
    return v;
  }

  PhysicalMemory mem;
  Mmu mmu;
  PagingMode mode;
};

TEST_F(HostMmu, SchemeNeedsRamInAMemfd) {
  PhysicalMemory anon(1 << 20);
  Mmu m(anon);
  m.set_scheme(MmuScheme::Host);
  EXPECT_EQ(m.scheme(), MmuScheme::Shadow);
  EXPECT_EQ(mmu.scheme(), MmuScheme::Host);
}

TEST_F(HostMmu, ACleanPageIsMappedReadOnlyUntilItsDirtyBitIsSet) {
  map(LIN, 1, P | RW | US | A);  // accessed, clean
  mmu.set_paging(mode);
  EXPECT_FALSE(host_readable(at(LIN)));
  ASSERT_TRUE(mmu.host_map(LIN, false));
  EXPECT_EQ(window_read(LIN), 1u);
  EXPECT_FALSE(host_writable(at(LIN)));
  EXPECT_FALSE(mmu.host_map(LIN, true));  // D must be set: the slow path does it
  mmu.write<uint32_t>(LIN, 0x77);
  EXPECT_EQ(mem.read(PT, 4) & D, D);
  ASSERT_TRUE(mmu.host_map(LIN, true));
  std::memcpy(at(LIN + 4), "\x99\0\0\0", 4);
  EXPECT_EQ(mem.read(frame(1) + 4, 4), 0x99u);  // the window writes guest RAM itself
}

TEST_F(HostMmu, AnUnaccessedPageTakesTheSlowPathFirst) {
  map(LIN, 2, P | RW | US);
  mmu.set_paging(mode);
  EXPECT_FALSE(mmu.host_map(LIN, false));  // A is clear: the walker must set it
  EXPECT_EQ(mem.read(PT, 4) & A, 0u);
  EXPECT_EQ(mmu.read<uint32_t>(LIN), 2u);
  EXPECT_TRUE(mmu.host_map(LIN, false));
  EXPECT_EQ(window_read(LIN), 2u);
}

TEST_F(HostMmu, UserAndSupervisorViews) {
  map(LIN, 3, P | RW | A | D);  // supervisor only
  mmu.set_paging(mode);
  mmu.set_user(true);
  EXPECT_FALSE(mmu.host_map(LIN, false));
  EXPECT_FALSE(host_readable(at(LIN)));
  mmu.set_user(false);
  ASSERT_TRUE(mmu.host_map(LIN, true));
  EXPECT_EQ(window_read(LIN), 3u);
  mmu.set_user(true);
  EXPECT_FALSE(host_readable(at(LIN)));  // the user view is another window
}

TEST_F(HostMmu, AStoreToAPageTableLeavesTheMappingStaleUntilAFlush) {
  map(LIN, 4, P | RW | US | A | D);
  map(LIN + PAGE_SIZE, 5, P | RW | US | A | D);
  mmu.set_paging(mode);
  ASSERT_TRUE(mmu.host_map(LIN, false));
  ASSERT_TRUE(mmu.host_map(LIN + PAGE_SIZE, false));
  // The page table is a tracked page: its own identity mapping is read-only in the window.
  ASSERT_TRUE(mmu.host_map(PT, false));
  EXPECT_FALSE(host_writable(at(PT)));
  EXPECT_FALSE(mmu.host_map(PT, true));
  // Rewrite LIN's entry (another frame) and LIN+4K's (the same value), as the slow path does.
  mmu.write<uint32_t>(PT, frame(6) | P | RW | US | A | D);
  mmu.write<uint32_t>(PT + 4, frame(5) | P | RW | US | A | D);
  EXPECT_EQ(window_read(LIN), 4u);  // stale, as a TLB entry may be
  mmu.set_cr3(PD);
  EXPECT_FALSE(host_readable(at(LIN)));         // changed: unmapped
  EXPECT_EQ(window_read(LIN + PAGE_SIZE), 5u);  // unchanged: kept, no fault
  EXPECT_EQ(mmu.windows()->stats().kept, 1u);
  ASSERT_TRUE(mmu.host_map(LIN, false));
  EXPECT_EQ(window_read(LIN), 6u);
}

TEST_F(HostMmu, InvlpgAndDmaRewrites) {
  map(LIN, 7, P | RW | US | A | D);
  mmu.set_paging(mode);
  ASSERT_TRUE(mmu.host_map(LIN, true));
  ASSERT_TRUE(mmu.host_map(PT, false));  // (the walk marked the table page)
  // A device writes the entry (DMA into the page table).
  const uint32_t v = frame(8) | P | RW | US | A | D;
  std::memcpy(mem.ram() + PT, &v, 4);
  mem.tables_written_range(PT, 4, true);
  EXPECT_EQ(window_read(LIN), 7u);
  mmu.invlpg(LIN);
  EXPECT_FALSE(host_readable(at(LIN)));
  ASSERT_TRUE(mmu.host_map(LIN, false));
  EXPECT_EQ(window_read(LIN), 8u);
}

TEST_F(HostMmu, ACodePageLosesWriteAccessInEveryView) {
  map(LIN, 9, P | RW | US | A | D);
  mmu.set_paging(mode);
  ASSERT_TRUE(mmu.host_map(LIN, true));
  mmu.set_user(true);
  ASSERT_TRUE(mmu.host_map(LIN, true));
  EXPECT_TRUE(host_writable(at(LIN)));
  mem.set_page_has_code(frame(9), true);
  mmu.protect_code_page(frame(9));
  EXPECT_FALSE(host_writable(at(LIN)));
  EXPECT_TRUE(host_readable(at(LIN)));
  mmu.set_user(false);
  EXPECT_FALSE(host_writable(at(LIN)));
  EXPECT_FALSE(mmu.host_map(LIN, true));  // writes take the slow path while it holds code
}

TEST_F(HostMmu, MmioRomAndTheGuardAreNeverMapped) {
  Mmio dev;
  mem.map_mmio(0x600000, PAGE_SIZE, &dev);
  map(LIN, 0, P | RW | A | D);
  mem.write(PT, 0x600000 | P | RW | A | D, 4);
  mmu.set_paging(mode);
  EXPECT_FALSE(mmu.host_map(LIN, false));
  EXPECT_EQ(mmu.read<uint32_t>(LIN), 0x12345678u);
  EXPECT_FALSE(mmu.host_map(HostWindows::kSpan + 16, false));  // an access wrapping past 4 GiB
}

TEST_F(HostMmu, AddressSpacesKeepTheirWindows) {
  constexpr uint32_t PD2 = 0x14000, PT2 = 0x15000;
  mem.write(PD2, PT_LOW | P | RW | US | A, 4);
  mem.write(PD2 + 4, PT2 | P | RW | US | A, 4);
  map(LIN, 10, P | RW | US | A | D);
  mem.write(PT2, frame(11) | P | RW | US | A | D, 4);
  mmu.set_paging(mode);
  ASSERT_TRUE(mmu.host_map(LIN, false));
  uint8_t* first = mmu.host_base();
  mmu.set_cr3(PD2);
  EXPECT_NE(mmu.host_base(), first);
  ASSERT_TRUE(mmu.host_map(LIN, false));
  EXPECT_EQ(window_read(LIN), 11u);
  mmu.set_cr3(PD);
  EXPECT_EQ(mmu.host_base(), first);
  EXPECT_EQ(window_read(LIN), 10u);  // still mapped: no fault, no walk
}

TEST_F(HostMmu, PagingOffUsesTheIdentityViewAndAFlushEmptiesIt) {
  mmu.set_paging(PagingMode{});
  ASSERT_TRUE(mmu.host_map(frame(12), true));
  EXPECT_EQ(window_read(frame(12)), 12u);
  mmu.set_a20(false);  // a new meaning for addresses: everything goes
  EXPECT_FALSE(host_readable(at(frame(12))));
  EXPECT_EQ(mmu.windows()->stats().mapped, 0u);
}

TEST_F(HostMmu, TheBudgetEmptiesViews) {
  mmu.windows()->set_budget(8);
  mmu.set_paging(PagingMode{});
  for (uint32_t n = 0; n < 20; ++n) ASSERT_TRUE(mmu.host_map(frame(n), false));
  EXPECT_LE(mmu.windows()->stats().mapped, 8u);
  EXPECT_GE(mmu.windows()->stats().budget_clears, 2u);
  EXPECT_EQ(window_read(frame(19)), 19u);  // the newest is mapped
}

}  // namespace
