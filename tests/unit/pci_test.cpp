// PCI configuration mechanism #1, the i440FX host bridge and the PIIX3 ISA bridge, driven through
// ports 0xCF8/0xCFC the way SeaBIOS and Linux probe them.
#include <gtest/gtest.h>

#include "ide_test_util.h"

using namespace vx86;
using vx86test::Board;

namespace {
// A plain PCI function with a memory BAR and INTA, for routing tests.
class TestDev : public PciDevice {
 public:
  TestDev() : PciDevice(0x1234, 0x1111, 0x01, 0xFF0000) {
    define_bar(0, 0x1000, false);
    define_bar(1, 0x20, true);
    set_default8(0x3D, 1);  // INTA
    cfg_ = defaults_;
  }
};
}  // namespace

TEST(Pci, ProbeIdsAndAbsentFunctions) {
  Board b;
  EXPECT_EQ(b.cfg_read(0, 0, 0, 4), 0x12378086u);
  EXPECT_EQ(b.cfg_read(1, 0, 0, 4), 0x70008086u);
  EXPECT_EQ(b.cfg_read(1, 1, 0, 4), 0x70108086u);
  // Word and byte reads at every lane.
  EXPECT_EQ(b.cfg_read(0, 0, 2, 2), 0x1237u);
  EXPECT_EQ(b.cfg_read(0, 0, 1, 1), 0x80u);
  EXPECT_EQ(b.cfg_read(0, 0, 3, 1), 0x12u);
  // Class codes, header type (PIIX3 is multi-function).
  EXPECT_EQ(b.cfg_read(0, 0, 8, 4) >> 8, 0x060000u);
  EXPECT_EQ(b.cfg_read(1, 0, 8, 4) >> 8, 0x060100u);
  EXPECT_EQ(b.cfg_read(1, 1, 8, 4) >> 8, 0x010180u);
  EXPECT_EQ(b.cfg_read(1, 0, 0x0E, 1), 0x80u);
  EXPECT_EQ(b.cfg_read(0, 0, 0x0E, 1), 0x00u);
  // Absent device, absent function, other bus: all ones.
  EXPECT_EQ(b.cfg_read(5, 0, 0, 4), 0xFFFFFFFFu);
  EXPECT_EQ(b.cfg_read(0, 3, 0, 2), 0xFFFFu);
  b.outl(0xCF8, 0x80010000u);
  EXPECT_EQ(b.inl(0xCFC), 0xFFFFFFFFu);
  // Enable bit clear: no configuration cycle.
  b.outl(0xCF8, 0x00000000u);
  EXPECT_EQ(b.inl(0xCFC), 0xFFFFFFFFu);
  // CONFIG_ADDRESS reads back (low two bits zero); byte accesses to 0xCF8 do not touch it.
  b.outl(0xCF8, 0x80000803u);
  EXPECT_EQ(b.inl(0xCF8), 0x80000800u);
  b.outb(0xCF8, 0x00);
  EXPECT_EQ(b.inl(0xCF8), 0x80000800u);
}

TEST(Pci, ReadOnlyAndWriteOneToClear) {
  Board b;
  b.cfg_write(0, 0, 0, 0xFFFFFFFF, 4);
  EXPECT_EQ(b.cfg_read(0, 0, 0, 4), 0x12378086u);
  b.cfg_write(1, 1, 0x3C, 0x0B, 1);  // interrupt line: read-only 0 on the PIIX IDE? (legacy)
  b.cfg_write(1, 1, 0x0D, 0x40, 1);
  EXPECT_EQ(b.cfg_read(1, 1, 0x0D, 1), 0x40u);
  // Status error bits are write-one-to-clear: writing ones to a clear bit leaves it clear.
  b.cfg_write(0, 0, 0x06, 0xFFFF, 2);
  EXPECT_EQ(b.cfg_read(0, 0, 0x06, 2), 0x0280u);
}

TEST(Pci, BarSizingAndDecoding) {
  Board b;
  TestDev dev;
  b.pci.add(&dev, 3, 0);
  std::vector<std::pair<unsigned, PciBar>> changes;
  dev.on_bar_change = [&](unsigned i, const PciBar&, const PciBar& n) { changes.push_back({i, n}); };
  // Sizing: write all ones, read the mask, restore.
  b.cfg_write(3, 0, 0x10, 0xFFFFFFFF, 4);
  EXPECT_EQ(b.cfg_read(3, 0, 0x10, 4), 0xFFFFF000u);
  b.cfg_write(3, 0, 0x14, 0xFFFFFFFF, 4);
  EXPECT_EQ(b.cfg_read(3, 0, 0x14, 4), 0xFFFFFFE1u);
  b.cfg_write(3, 0, 0x18, 0xFFFFFFFF, 4);  // no BAR 2
  EXPECT_EQ(b.cfg_read(3, 0, 0x18, 4), 0u);
  EXPECT_TRUE(changes.empty());  // decoding is off: nothing mapped
  b.cfg_write(3, 0, 0x10, 0xFEB00000, 4);
  b.cfg_write(3, 0, 0x14, 0x0000C100, 4);
  EXPECT_FALSE(dev.bar(0).enabled);
  b.cfg_write(3, 0, 0x04, 0x0003, 2);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].first, 0u);
  EXPECT_EQ(changes[0].second.base, 0xFEB00000u);
  EXPECT_EQ(changes[0].second.size, 0x1000u);
  EXPECT_FALSE(changes[0].second.io);
  EXPECT_TRUE(changes[0].second.enabled);
  EXPECT_EQ(changes[1].second.base, 0xC100u);
  EXPECT_TRUE(changes[1].second.io);
  // Sizing while enabled moves the window to an invalid place: reported as disabled.
  changes.clear();
  b.cfg_write(3, 0, 0x14, 0xFFFFFFFF, 4);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_FALSE(changes[0].second.enabled);
  b.cfg_write(3, 0, 0x14, 0xC200, 4);
  EXPECT_EQ(dev.bar(1).base, 0xC200u);
  EXPECT_TRUE(dev.bar(1).enabled);
  // Memory enable off: only BAR 0 changes.
  changes.clear();
  b.cfg_write(3, 0, 0x04, 0x0001, 2);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].first, 0u);
  EXPECT_FALSE(changes[0].second.enabled);
  // Reset unmaps.
  changes.clear();
  dev.reset();
  EXPECT_EQ(changes.size(), 1u);
  EXPECT_EQ(b.cfg_read(3, 0, 0x14, 4), 1u);
}

TEST(Pci, IdeBusMasterBarMovesItsPorts) {
  Board b;
  EXPECT_EQ(b.cfg_read(1, 1, 0x20, 4), 1u);
  b.cfg_write(1, 1, 0x20, 0xFFFFFFFF, 4);
  EXPECT_EQ(b.cfg_read(1, 1, 0x20, 4), 0xFFFFFFF1u);  // 16 bytes of I/O
  b.bios_setup_ide();
  b.outl(Board::kBm + 4, 0x12345678);
  EXPECT_EQ(b.inl(Board::kBm + 4), 0x12345678u & ~3u);
  b.cfg_write(1, 1, 0x20, 0xD000, 4);
  EXPECT_EQ(b.inl(Board::kBm + 4), 0xFFFFFFFFu);
  EXPECT_EQ(b.inl(0xD004), 0x12345678u & ~3u);
  b.cfg_write(1, 1, 0x04, 0x0000, 2);
  EXPECT_EQ(b.inl(0xD004), 0xFFFFFFFFu);
  EXPECT_EQ(b.cfg_read(1, 1, 0x40, 2), 0x8000u);
}

TEST(Pci, PirqRouting) {
  Board b;
  TestDev dev;  // slot 3, INTA -> PIRQD
  b.pci.add(&dev, 3, 0);
  EXPECT_EQ(PciBus::pirq_of(3, 1), 3u);
  EXPECT_EQ(b.cfg_read(1, 0, 0x60, 4), 0x80808080u);
  dev.set_intx(true);
  EXPECT_TRUE(b.pci.pirq_level(3));
  EXPECT_EQ(b.cfg_read(3, 0, 0x06, 1) & 0x08, 0x08u);  // interrupt status
  for (bool l : b.irq) EXPECT_FALSE(l);                 // not routed yet
  b.cfg_write(1, 0, 0x63, 0x0B, 1);                     // PIRQD -> IRQ11
  EXPECT_TRUE(b.irq[11]);
  EXPECT_EQ(b.isa.pirq_route(3), 11);
  b.cfg_write(1, 0, 0x63, 0x0A, 1);                     // move to IRQ10
  EXPECT_FALSE(b.irq[11]);
  EXPECT_TRUE(b.irq[10]);
  b.cfg_write(3, 0, 0x04, 0x0400, 2);                   // INTx disable
  EXPECT_FALSE(b.irq[10]);
  b.cfg_write(3, 0, 0x04, 0x0000, 2);
  EXPECT_TRUE(b.irq[10]);
  dev.set_intx(false);
  EXPECT_FALSE(b.irq[10]);
  // Reserved routes (IRQ 0, 1, 2, 8, 13) and the disable bit are not driven.
  dev.set_intx(true);
  b.cfg_write(1, 0, 0x63, 0x08, 1);
  for (bool l : b.irq) EXPECT_FALSE(l);
  b.cfg_write(1, 0, 0x63, 0x8B, 1);
  for (bool l : b.irq) EXPECT_FALSE(l);
  // Two PIRQs sharing one IRQ are wired-OR.
  b.cfg_write(1, 0, 0x63, 0x05, 1);
  b.cfg_write(1, 0, 0x60, 0x05, 1);
  b.isa.set_pirq(0, true);
  dev.set_intx(false);
  EXPECT_TRUE(b.irq[5]);
  b.isa.set_pirq(0, false);
  EXPECT_FALSE(b.irq[5]);
}

TEST(Pci, PamAndSmram) {
  Board b;
  struct Ev {
    uint32_t base, size;
    bool r, w;
  };
  std::vector<Ev> ev;
  b.host.on_pam_change = [&](uint32_t base, uint32_t size, bool r, bool w) { ev.push_back({base, size, r, w}); };
  b.host.report_all();
  ASSERT_EQ(ev.size(), 13u);
  for (const Ev& e : ev) EXPECT_FALSE(e.r || e.w);
  ev.clear();
  // SeaBIOS make_bios_writable: PAM0 = 0x30, PAM1-6 = 0x33.
  b.cfg_write(0, 0, 0x59, 0x30, 1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].base, 0xF0000u);
  EXPECT_EQ(ev[0].size, 0x10000u);
  EXPECT_TRUE(ev[0].r && ev[0].w);
  ev.clear();
  b.cfg_write(0, 0, 0x5A, 0x3333, 2);      // PAM1-2: 4 regions
  b.cfg_write(0, 0, 0x5C, 0x33333333, 4);  // PAM3-6: 8 regions
  ASSERT_EQ(ev.size(), 12u);
  EXPECT_EQ(ev[0].base, 0xC0000u);
  EXPECT_EQ(ev[1].base, 0xC4000u);
  EXPECT_EQ(ev[11].base, 0xEC000u);
  EXPECT_EQ(ev[11].size, 0x4000u);
  ev.clear();
  // make_bios_readonly: read RAM, write to ROM (0x11 / 0x10).
  b.cfg_write(0, 0, 0x59, 0x10, 1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_TRUE(ev[0].r);
  EXPECT_FALSE(ev[0].w);
  EXPECT_EQ(b.host.pam(0), 1u);
  EXPECT_EQ(b.cfg_read(0, 0, 0x59, 1), 0x10u);
  b.cfg_write(0, 0, 0x59, 0xFF, 1);  // reserved bits stay 0
  EXPECT_EQ(b.cfg_read(0, 0, 0x59, 1), 0x30u);

  // SMRAM: open, close, lock.
  std::vector<bool> sm;
  b.host.on_smram_change = [&](bool o) { sm.push_back(o); };
  EXPECT_EQ(b.cfg_read(0, 0, 0x72, 1), 0x02u);
  b.cfg_write(0, 0, 0x72, 0x4A, 1);
  EXPECT_TRUE(b.host.smram_open());
  ASSERT_EQ(sm.size(), 1u);
  b.cfg_write(0, 0, 0x72, 0x1A, 1);  // D_LCK, D_OPEN dropped
  EXPECT_FALSE(b.host.smram_open());
  EXPECT_EQ(b.cfg_read(0, 0, 0x72, 1), 0x1Au);
  b.cfg_write(0, 0, 0x72, 0x4A, 1);  // locked: cannot open or unlock
  EXPECT_EQ(b.cfg_read(0, 0, 0x72, 1), 0x1Au);
  b.host.reset();
  EXPECT_EQ(b.cfg_read(0, 0, 0x72, 1), 0x02u);
}

TEST(Pci, ResetControlRegister) {
  Board b;
  int resets = 0;
  bool hard = false;
  b.pci.on_reset_request = [&](bool h) {
    ++resets;
    hard = h;
  };
  b.outb(0xCF9, 0x02);
  EXPECT_EQ(resets, 0);
  b.outb(0xCF9, 0x06);
  EXPECT_EQ(resets, 1);
  EXPECT_TRUE(hard);
  EXPECT_EQ(b.inb(0xCF9), 0x02u);
}

TEST(Pci, SnapshotRoundTripAndTruncation) {
  Board a;
  a.cfg_write(0, 0, 0x59, 0x30, 1);
  a.cfg_write(0, 0, 0x72, 0x4A, 1);
  a.cfg_write(1, 0, 0x61, 0x0B, 1);
  a.bios_setup_ide();
  a.outl(0xCF8, 0x80000860u);
  std::vector<uint8_t> snap;
  SnapshotWriter w(snap);
  a.pci.save(w);
  a.host.save(w);
  a.isa.save(w);
  a.ide.save(w);

  Board b;
  std::vector<uint32_t> pam_events;
  b.host.on_pam_change = [&](uint32_t base, uint32_t, bool, bool) { pam_events.push_back(base); };
  SnapshotReader r(snap);
  b.pci.load(r);
  b.host.load(r);
  b.isa.load(r);
  b.ide.load(r);
  EXPECT_TRUE(r.at_end());
  EXPECT_EQ(b.inl(0xCF8), 0x80000860u);
  EXPECT_EQ(b.cfg_read(0, 0, 0x59, 1), 0x30u);
  EXPECT_TRUE(b.host.smram_open());
  EXPECT_EQ(b.isa.pirq_route(1), 11);
  EXPECT_EQ(pam_events.size(), 13u);
  b.outl(Board::kBm + 4, 0x1000);  // BAR4 decoded again after load
  EXPECT_EQ(b.inl(Board::kBm + 4), 0x1000u);

  Board c;
  for (size_t n = 0; n < snap.size(); ++n) {
    std::vector<uint8_t> cut(snap.begin(), snap.begin() + static_cast<long>(n));
    SnapshotReader rc(cut);
    EXPECT_THROW(
        {
          c.pci.load(rc);
          c.host.load(rc);
          c.isa.load(rc);
          c.ide.load(rc);
        },
        SnapshotError)
        << "truncated at " << n;
  }
}
