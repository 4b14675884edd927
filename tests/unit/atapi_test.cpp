// ATAPI CD-ROM on the PIIX3's secondary channel, driven like Linux's libata/sr and SeaBIOS's
// cdrom code: signature, IDENTIFY PACKET DEVICE, PACKET commands with PIO (byte count limit) and
// DMA, sense data, medium handling, snapshots.
#include <gtest/gtest.h>

#include "ide_test_util.h"

using namespace vx86;
using vx86test::Board;
using vx86test::TempFile;

namespace {
constexpr uint16_t S = 0x170, CTL = 0x376;
constexpr uint64_t kIsoSectors = 64;

struct CdBoard : Board {
  TempFile iso{kIsoSectors * 2048, 2048};
  CdBoard(bool empty = false) {
    ide.channel(1).attach_cdrom(0, empty ? nullptr : std::make_shared<DiskImage>(iso.path, DiskImage::Mode::ReadOnly));
    bios_setup_ide();
    outb(S + 6, 0xA0);
  }
  // Issues a PACKET command; returns the data-in bytes (PIO, following the byte counts) and leaves
  // the status phase to the caller's checks.
  std::vector<uint8_t> packet(std::vector<uint8_t> cdb, uint16_t limit = 0xFFFE, std::vector<uint16_t>* chunks = nullptr) {
    cdb.resize(12, 0);
    outb(S + 1, 0);
    outb(S + 4, static_cast<uint8_t>(limit));
    outb(S + 5, static_cast<uint8_t>(limit >> 8));
    outb(S + 7, 0xA0);
    EXPECT_EQ(inb(CTL), 0x58);
    EXPECT_EQ(inb(S + 2) & 3, 1);  // C/D, out
    EXPECT_FALSE(irq[15]);
    pio_out(S, cdb);
    std::vector<uint8_t> out;
    for (int guard = 0; guard < 100000; ++guard) {
      EXPECT_TRUE(irq[15]);
      const uint8_t st = inb(S + 7);
      if (!(st & 0x08)) break;
      EXPECT_EQ(inb(S + 2) & 3, 2);  // data in
      const uint16_t n = static_cast<uint16_t>(inb(S + 4) | inb(S + 5) << 8);
      if (chunks) chunks->push_back(n);
      auto d = pio_in(S, n);
      out.insert(out.end(), d.begin(), d.end());
    }
    return out;
  }
  // Asserts a good status phase.
  void ok() {
    EXPECT_EQ(inb(CTL), 0x50);
    EXPECT_EQ(inb(S + 2) & 3, 3);
  }
  std::vector<uint8_t> sense() { return packet({0x03, 0, 0, 0, 18}); }
};
}  // namespace

TEST(Atapi, SignatureAndIdentifyPacket) {
  CdBoard b;
  b.outb(CTL, 0x04);
  b.outb(CTL, 0x00);
  EXPECT_EQ(b.inb(S + 2), 1);
  EXPECT_EQ(b.inb(S + 3), 1);
  EXPECT_EQ(b.inb(S + 4), 0x14);
  EXPECT_EQ(b.inb(S + 5), 0xEB);
  EXPECT_EQ(b.inb(S + 7), 0x00);  // DRDY is not set for a packet device after reset
  // IDENTIFY DEVICE aborts, keeping the signature.
  b.outb(S + 7, 0xEC);
  EXPECT_EQ(b.inb(S + 7), 0x51);
  EXPECT_EQ(b.inb(S + 1), 0x04);
  EXPECT_EQ(b.inb(S + 4), 0x14);
  EXPECT_EQ(b.inb(S + 5), 0xEB);
  b.outb(S + 7, 0xA1);
  EXPECT_EQ(b.inb(S + 7), 0x58);
  auto id = b.pio_in(S, 512);
  EXPECT_EQ(b.inb(S + 7), 0x50);
  EXPECT_EQ(id[0] | id[1] << 8, 0x85C0);
  std::string model;
  for (int i = 54; i < 94; i += 2) {
    model += static_cast<char>(id[i + 1]);
    model += static_cast<char>(id[i]);
  }
  EXPECT_EQ(model.substr(0, 11), "VX86 CD-ROM");
  EXPECT_EQ(b.inb(S + 4), 0x14);  // IDENTIFY PACKET leaves the signature alone
  // DEVICE RESET: signature, no interrupt.
  b.irq_edges[15] = 0;
  b.outb(S + 7, 0x08);
  EXPECT_EQ(b.irq_edges[15], 0);
  EXPECT_EQ(b.inb(S + 5), 0xEB);
}

TEST(Atapi, InquiryCapacityTurSense) {
  CdBoard b;
  EXPECT_TRUE(b.packet({0x00}).empty());
  b.ok();
  auto inq = b.packet({0x12, 0, 0, 0, 36});
  b.ok();
  ASSERT_EQ(inq.size(), 36u);
  EXPECT_EQ(inq[0], 0x05);
  EXPECT_EQ(inq[1], 0x80);
  EXPECT_EQ(std::string(inq.begin() + 8, inq.begin() + 12), "VX86");
  // Allocation length truncates (odd length too).
  EXPECT_EQ(b.packet({0x12, 0, 0, 0, 5}).size(), 5u);
  auto cap = b.packet({0x25});
  b.ok();
  ASSERT_EQ(cap.size(), 8u);
  EXPECT_EQ(cap[3], kIsoSectors - 1);
  EXPECT_EQ(cap[6], 0x08);
  // Unknown opcode: CHECK CONDITION, ILLEGAL REQUEST / invalid command.
  EXPECT_TRUE(b.packet({0xEE}).empty());
  EXPECT_EQ(b.inb(S + 7), 0x41);
  EXPECT_EQ(b.inb(S + 1) >> 4, 5);
  auto s = b.sense();
  b.ok();
  ASSERT_EQ(s.size(), 18u);
  EXPECT_EQ(s[0], 0x70);
  EXPECT_EQ(s[2], 5);
  EXPECT_EQ(s[12], 0x20);
  EXPECT_EQ(b.sense()[2], 0);  // cleared once reported
}

TEST(Atapi, Read10And12Pio) {
  CdBoard b;
  auto d = b.packet({0x28, 0, 0, 0, 0, 5, 0, 0, 3});
  b.ok();
  EXPECT_EQ(d, TempFile::expect(5, 3, 2048));
  // A byte count limit smaller than a sector: chunks of 1000 bytes.
  std::vector<uint16_t> chunks;
  d = b.packet({0x28, 0, 0, 0, 0, 1, 0, 0, 1}, 1000, &chunks);
  b.ok();
  EXPECT_EQ(d, TempFile::expect(1, 1, 2048));
  EXPECT_EQ(chunks, (std::vector<uint16_t>{1000, 1000, 48}));
  d = b.packet({0xA8, 0, 0, 0, 0, 60, 0, 0, 0, 4});
  b.ok();
  EXPECT_EQ(d, TempFile::expect(60, 4, 2048));
  // Beyond the disc.
  EXPECT_TRUE(b.packet({0x28, 0, 0, 0, 0, 62, 0, 0, 3}).empty());
  EXPECT_EQ(b.inb(S + 7), 0x41);
  auto s = b.sense();
  EXPECT_EQ(s[2], 5);
  EXPECT_EQ(s[12], 0x21);
}

TEST(Atapi, ReadDma) {
  CdBoard b;
  const uint16_t BM = Board::kBm + 8;
  b.put_prd(0x2000, 0x60000, 4096, false);
  b.put_prd(0x2008, 0x70000, 2048, true);
  b.outl(BM + 4, 0x2000);
  b.outb(BM, 0x08);
  std::vector<uint8_t> cdb = {0x28, 0, 0, 0, 0, 10, 0, 0, 3, 0, 0, 0};
  b.outb(S + 1, 0x01);  // DMA
  b.outb(S + 7, 0xA0);
  b.pio_out(S, cdb);
  EXPECT_FALSE(b.irq[15]);
  b.outb(BM, 0x09);
  EXPECT_TRUE(b.irq[15]);
  EXPECT_EQ(b.inb(BM + 2) & 7, 0x04);
  b.ok();
  auto want = TempFile::expect(10, 3, 2048);
  EXPECT_EQ(b.ram(0x60000, 4096), std::vector<uint8_t>(want.begin(), want.begin() + 4096));
  EXPECT_EQ(b.ram(0x70000, 2048), std::vector<uint8_t>(want.begin() + 4096, want.end()));
  // A hostile table: sense ABORTED COMMAND, no crash.
  b.outb(BM, 0x00);
  b.outb(BM + 2, 0x06);
  b.outl(BM + 4, 0xFFFFFFF8);
  b.outb(BM, 0x08);
  b.outb(S + 1, 0x01);
  b.outb(S + 7, 0xA0);
  b.pio_out(S, cdb);
  b.outb(BM, 0x09);
  EXPECT_EQ(b.inb(BM + 2) & 7, 0x06);
  EXPECT_EQ(b.inb(S + 7), 0x41);
}

TEST(Atapi, TocModeSenseConfigurationEvents) {
  CdBoard b;
  auto toc = b.packet({0x43, 0, 0, 0, 0, 0, 0, 0, 100});
  b.ok();
  ASSERT_EQ(toc.size(), 20u);
  EXPECT_EQ(toc[1], 18);
  EXPECT_EQ(toc[2], 1);
  EXPECT_EQ(toc[3], 1);
  EXPECT_EQ(toc[6], 1);      // track 1
  EXPECT_EQ(toc[5], 0x14);   // data track
  EXPECT_EQ(toc[14], 0xAA);  // lead-out
  EXPECT_EQ(toc[19], kIsoSectors);
  auto msf = b.packet({0x43, 0x02, 0, 0, 0, 0, 0, 0, 100});
  EXPECT_EQ(msf[10], 2);  // track 1 at 00:02:00
  EXPECT_EQ(b.packet({0x43, 0, 1, 0, 0, 0, 0, 0, 12}).size(), 12u);  // multi-session info

  auto ms = b.packet({0x5A, 0, 0x2A, 0, 0, 0, 0, 0, 64});
  b.ok();
  ASSERT_GE(ms.size(), 28u);
  EXPECT_EQ(ms[1] + 2u, ms.size());
  EXPECT_EQ(ms[8], 0x2A);
  EXPECT_TRUE(b.packet({0x5A, 0, 0x05, 0, 0, 0, 0, 0, 64}).empty());  // unsupported page
  EXPECT_EQ(b.inb(S + 7), 0x41);

  auto cfg = b.packet({0x46, 0, 0, 0, 0, 0, 0, 0, 255});
  b.ok();
  ASSERT_GE(cfg.size(), 8u);
  EXPECT_EQ(cfg[6] << 8 | cfg[7], 0x0008);
  EXPECT_EQ(cfg[3] + 4u, cfg.size());

  auto ev = b.packet({0x4A, 0x01, 0, 0, 0x10, 0, 0, 0, 8});
  b.ok();
  ASSERT_EQ(ev.size(), 8u);
  EXPECT_EQ(ev[2], 0x04);
  EXPECT_EQ(ev[5], 0x02);  // medium present
  EXPECT_TRUE(b.packet({0x4A, 0x00, 0, 0, 0x10, 0, 0, 0, 8}).empty());  // asynchronous: refused
  EXPECT_EQ(b.inb(S + 7), 0x41);
}

TEST(Atapi, LockEjectAndEmptyDrive) {
  CdBoard b;
  b.packet({0x1E, 0, 0, 0, 1});
  b.ok();
  b.packet({0x1B, 0, 0, 0, 0x02});  // eject while locked
  EXPECT_EQ(b.inb(S + 7), 0x41);
  auto s = b.sense();
  EXPECT_EQ(s[12], 0x53);
  b.packet({0x1E});
  b.packet({0x1B, 0, 0, 0, 0x02});
  b.ok();
  b.packet({0x00});
  EXPECT_EQ(b.inb(S + 7), 0x41);
  EXPECT_EQ(b.sense()[12], 0x3A);
  auto ev = b.packet({0x4A, 0x01, 0, 0, 0x10, 0, 0, 0, 8});
  EXPECT_EQ(ev[4], 3);  // media removal
  EXPECT_EQ(ev[5], 0x01);  // tray open
  b.packet({0x1B, 0, 0, 0, 0x03});  // load
  b.packet({0x00});
  b.ok();

  CdBoard e(true);
  e.packet({0x00});
  EXPECT_EQ(e.inb(S + 7), 0x41);
  EXPECT_EQ(e.inb(S + 1) >> 4, 2);  // NOT READY
  // Inserting a medium: UNIT ATTENTION once, then ready.
  e.ide.channel(1).change_medium(0, std::make_shared<DiskImage>(e.iso.path, DiskImage::Mode::ReadOnly));
  e.packet({0x00});
  EXPECT_EQ(e.inb(S + 1) >> 4, 6);
  e.packet({0x00});
  e.ok();
}

TEST(Atapi, SnapshotRoundTripAndTruncation) {
  CdBoard a;
  // Mid-transfer: first chunk of a 2-sector read with a 2048-byte limit.
  a.outb(S + 1, 0);
  a.outb(S + 4, 0x00);
  a.outb(S + 5, 0x08);
  a.outb(S + 7, 0xA0);
  a.pio_out(S, {0x28, 0, 0, 0, 0, 7, 0, 0, 2, 0, 0, 0});
  (void)a.inb(S + 7);
  auto d = a.pio_in(S, 1000);
  std::vector<uint8_t> snap;
  SnapshotWriter w(snap);
  a.ide.save(w);

  CdBoard b;
  SnapshotReader r(snap);
  b.ide.load(r);
  auto rest = b.pio_in(S, 1048);
  d.insert(d.end(), rest.begin(), rest.end());
  EXPECT_EQ(b.inb(S + 7), 0x58);
  rest = b.pio_in(S, 2048);
  d.insert(d.end(), rest.begin(), rest.end());
  b.ok();
  EXPECT_EQ(d, TempFile::expect(7, 2, 2048));

  for (size_t n = 0; n < snap.size(); n += 11) {
    std::vector<uint8_t> cut(snap.begin(), snap.begin() + static_cast<long>(n));
    SnapshotReader rc(cut);
    EXPECT_THROW(b.ide.load(rc), SnapshotError) << n;
  }
  b.ok();
}
