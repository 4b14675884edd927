// IDE/ATA disk on the PIIX3 IDE function, driven through its ports as SeaBIOS and Linux's ata_piix
// do: IDENTIFY, PIO (LBA28, CHS, LBA48, multiple), bus-master DMA with PRD tables in guest RAM,
// hostile PRD tables, reset, snapshots.
#include <gtest/gtest.h>

#include "ide_test_util.h"

using namespace vx86;
using vx86test::Board;
using vx86test::TempFile;

namespace {
constexpr uint16_t P = 0x1F0, CTL = 0x3F6;

struct DiskBoard : Board {
  TempFile file;
  std::shared_ptr<DiskImage> img;
  explicit DiskBoard(uint64_t sectors = 4096, DiskImage::Mode mode = DiskImage::Mode::ReadWrite)
      : file(sectors * 512), img(std::make_shared<DiskImage>(file.path, mode)) {
    ide.channel(0).attach_disk(0, img);
    bios_setup_ide();
  }
  void lba28(uint32_t lba, uint8_t count) {
    outb(P + 6, static_cast<uint8_t>(0xE0 | (lba >> 24)));
    outb(P + 2, count);
    outb(P + 3, static_cast<uint8_t>(lba));
    outb(P + 4, static_cast<uint8_t>(lba >> 8));
    outb(P + 5, static_cast<uint8_t>(lba >> 16));
  }
  void lba48(uint64_t lba, uint16_t count) {
    outb(P + 6, 0x40);
    outb(P + 2, static_cast<uint8_t>(count >> 8));
    outb(P + 3, static_cast<uint8_t>(lba >> 24));
    outb(P + 4, static_cast<uint8_t>(lba >> 32));
    outb(P + 5, static_cast<uint8_t>(lba >> 40));
    outb(P + 2, static_cast<uint8_t>(count));
    outb(P + 3, static_cast<uint8_t>(lba));
    outb(P + 4, static_cast<uint8_t>(lba >> 8));
    outb(P + 5, static_cast<uint8_t>(lba >> 16));
  }
  std::vector<uint16_t> identify() {
    outb(P + 6, 0xA0);
    outb(P + 7, 0xEC);
    EXPECT_EQ(inb(CTL), 0x58);
    std::vector<uint16_t> w(256);
    for (auto& x : w) x = inw(P);
    EXPECT_EQ(inb(P + 7), 0x50);
    return w;
  }
  // A PIO read the way a driver does it: wait for each DRQ block's interrupt, read the block.
  std::vector<uint8_t> pio_read(uint8_t cmd, unsigned sectors, unsigned per_block = 1) {
    std::vector<uint8_t> out;
    outb(P + 7, cmd);
    for (unsigned done = 0; done < sectors; done += per_block) {
      EXPECT_TRUE(irq[14]) << "block at sector " << done;
      const uint8_t st = inb(P + 7);  // acknowledges
      EXPECT_EQ(st, 0x58) << "block at sector " << done;
      EXPECT_FALSE(irq[14]);
      if (st != 0x58) break;
      auto blk = pio_in(P, 512 * std::min(per_block, sectors - done));
      out.insert(out.end(), blk.begin(), blk.end());
    }
    EXPECT_EQ(inb(CTL), 0x50);
    return out;
  }
};

std::string ata_string(const std::vector<uint16_t>& w, unsigned first, unsigned words) {
  std::string s;
  for (unsigned i = first; i < first + words; ++i) {
    s += static_cast<char>(w[i] >> 8);
    s += static_cast<char>(w[i] & 0xFF);
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}
}  // namespace

TEST(Ide, IdentifyDevice) {
  DiskBoard b(20000);
  auto w = b.identify();
  EXPECT_EQ(w[0], 0x0040);
  EXPECT_EQ(ata_string(w, 27, 20), "VX86 HARDDISK");
  EXPECT_EQ(w[1], 20000 / (16 * 63));
  EXPECT_EQ(w[3], 16);
  EXPECT_EQ(w[6], 63);
  EXPECT_EQ(w[60] | w[61] << 16, 20000);
  EXPECT_EQ(w[100] | w[101] << 16, 20000);
  EXPECT_EQ(w[102] | w[103], 0);
  EXPECT_TRUE(w[49] & 0x0200);  // LBA
  EXPECT_TRUE(w[49] & 0x0100);  // DMA
  EXPECT_TRUE(w[83] & 0x0400);  // LBA48
  EXPECT_TRUE(w[86] & 0x0400);
  EXPECT_EQ(w[47] & 0xFF, 16);
  EXPECT_EQ(w[255] & 0xFF, 0xA5);
  uint8_t sum = 0;
  for (uint16_t x : w) sum = static_cast<uint8_t>(sum + (x & 0xFF) + (x >> 8));
  EXPECT_EQ(sum, 0);
  EXPECT_EQ(b.irq_edges[14], 1);
}

TEST(Ide, SignatureAfterSoftResetAndAbsentSlave) {
  DiskBoard b;
  b.outb(CTL, 0x04);  // SRST
  EXPECT_EQ(b.inb(CTL) & 0x80, 0x80);
  b.outb(CTL, 0x00);
  EXPECT_EQ(b.inb(P + 2), 1);
  EXPECT_EQ(b.inb(P + 3), 1);
  EXPECT_EQ(b.inb(P + 4), 0);
  EXPECT_EQ(b.inb(P + 5), 0);
  EXPECT_EQ(b.inb(P + 1), 1);  // diagnostic code
  EXPECT_EQ(b.inb(P + 7), 0x50);
  // The absent slave: status 0, commands ignored, the task file shadows what was written.
  b.outb(P + 6, 0xB0);
  EXPECT_EQ(b.inb(P + 7), 0x00);
  b.outb(P + 2, 0x55);
  EXPECT_EQ(b.inb(P + 2), 0x55);
  b.outb(P + 7, 0xEC);
  EXPECT_EQ(b.inb(CTL), 0x00);
  EXPECT_FALSE(b.irq[14]);
  // An empty channel floats.
  EXPECT_EQ(b.inb(0x177), 0xFF);
  EXPECT_EQ(b.inb(0x376), 0xFF);
}

TEST(Ide, PioReadLba28MultiSector) {
  DiskBoard b;
  b.lba28(5, 3);
  auto got = b.pio_read(0x20, 3);
  EXPECT_EQ(got, TempFile::expect(5, 3));
  EXPECT_EQ(b.irq_edges[14], 3);
  // The task file holds the last sector read.
  EXPECT_EQ(b.inb(P + 3), 7);
  // 32-bit data port accesses (ata_piix uses them).
  b.lba28(9, 1);
  b.outb(P + 7, 0x20);
  (void)b.inb(P + 7);
  std::vector<uint8_t> v;
  for (int i = 0; i < 128; ++i) {
    uint32_t x = b.inl(P);
    for (int k = 0; k < 4; ++k) v.push_back(static_cast<uint8_t>(x >> (8 * k)));
  }
  EXPECT_EQ(v, TempFile::expect(9, 1));
  EXPECT_EQ(b.inb(P + 7), 0x50);
}

TEST(Ide, PioReadChs) {
  DiskBoard b;
  // C/H/S 0/1/1 = LBA 63 with the default 16 heads x 63 sectors.
  b.outb(P + 6, 0xA1);
  b.outb(P + 2, 1);
  b.outb(P + 3, 1);
  b.outb(P + 4, 0);
  b.outb(P + 5, 0);
  EXPECT_EQ(b.pio_read(0x20, 1), TempFile::expect(63, 1));
  // Sector 0 does not exist.
  b.outb(P + 6, 0xA0);
  b.outb(P + 3, 0);
  b.outb(P + 7, 0x20);
  EXPECT_EQ(b.inb(P + 7), 0x51);
  EXPECT_EQ(b.inb(P + 1) & 0x10, 0x10);
  // INITIALIZE DEVICE PARAMETERS: 4 heads, 17 sectors per track: 0/1/1 = LBA 17.
  b.outb(P + 6, 0xA3);
  b.outb(P + 2, 17);
  b.outb(P + 7, 0x91);
  EXPECT_EQ(b.inb(P + 7), 0x50);
  b.outb(P + 6, 0xA1);
  b.outb(P + 2, 1);
  b.outb(P + 3, 1);
  EXPECT_EQ(b.pio_read(0x20, 1), TempFile::expect(17, 1));
}

TEST(Ide, PioWriteSectors) {
  DiskBoard b;
  std::vector<uint8_t> data(1024);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 13 + 1);
  b.lba28(100, 2);
  b.outb(P + 7, 0x30);
  EXPECT_EQ(b.inb(CTL), 0x58);
  EXPECT_FALSE(b.irq[14]);  // the first block is requested without an interrupt
  b.pio_out(P, {data.begin(), data.begin() + 512});
  EXPECT_TRUE(b.irq[14]);
  EXPECT_EQ(b.inb(P + 7), 0x58);
  b.pio_out(P, {data.begin() + 512, data.end()});
  EXPECT_TRUE(b.irq[14]);
  EXPECT_EQ(b.inb(P + 7), 0x50);
  EXPECT_EQ(b.file.read(100 * 512, 1024), data);
  // Read back through the device.
  b.lba28(100, 2);
  EXPECT_EQ(b.pio_read(0x20, 2), data);
}

TEST(Ide, ReadOnlyImageRejectsWrites) {
  DiskBoard b(64, DiskImage::Mode::ReadOnly);
  b.lba28(1, 1);
  b.outb(P + 7, 0x30);
  EXPECT_EQ(b.inb(P + 7), 0x51);
  EXPECT_EQ(b.inb(P + 1), 0x04);
}

TEST(Ide, SnapshotModeKeepsTheFile) {
  DiskBoard b(64, DiskImage::Mode::Snapshot);
  std::vector<uint8_t> data(512, 0xAB);
  b.lba28(3, 1);
  b.outb(P + 7, 0x30);
  b.pio_out(P, data);
  EXPECT_EQ(b.inb(P + 7), 0x50);
  b.lba28(3, 1);
  EXPECT_EQ(b.pio_read(0x20, 1), data);
  EXPECT_EQ(b.file.read(3 * 512, 512), TempFile::expect(3, 1));
  EXPECT_EQ(b.img->overlay_blocks(), 1u);
}

TEST(Ide, Lba48BeyondTwoTo28) {
  const uint64_t sectors = (1ull << 28) + 64;
  DiskBoard b(sectors);  // sparse file
  const uint64_t lba = (1ull << 28) + 5;
  std::vector<uint8_t> data(1024);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i ^ 0x5A);
  auto w = b.identify();
  EXPECT_EQ(w[60] | w[61] << 16, 0x0FFFFFFF);
  EXPECT_EQ(uint64_t{w[100]} | uint64_t{w[101]} << 16 | uint64_t{w[102]} << 32, sectors);
  b.lba48(lba, 2);
  b.outb(P + 7, 0x34);  // WRITE SECTORS EXT
  b.pio_out(P, {data.begin(), data.begin() + 512});
  EXPECT_EQ(b.inb(P + 7), 0x58);
  b.pio_out(P, {data.begin() + 512, data.end()});
  EXPECT_EQ(b.inb(P + 7), 0x50);
  EXPECT_EQ(b.file.read(lba * 512, 1024), data);
  b.lba48(lba, 2);
  EXPECT_EQ(b.pio_read(0x24, 2), data);
  // HOB readback: the high bytes of the last sector.
  b.outb(CTL, 0x80);
  EXPECT_EQ(b.inb(P + 3), 0x10);  // bits 31:24 of 0x10000006
  b.outb(CTL, 0x00);
  EXPECT_EQ(b.inb(P + 3), 0x06);
  // Beyond the end: IDNF.
  b.lba48(sectors - 1, 2);
  b.outb(P + 7, 0x24);
  EXPECT_EQ(b.inb(P + 7), 0x51);
  EXPECT_EQ(b.inb(P + 1) & 0x10, 0x10);
}

TEST(Ide, ReadWriteMultiple) {
  DiskBoard b;
  b.lba28(0, 8);
  b.outb(P + 7, 0xC4);  // no multiple mode yet
  EXPECT_EQ(b.inb(P + 7), 0x51);
  b.outb(P + 2, 3);
  b.outb(P + 7, 0xC6);  // not a power of two
  EXPECT_EQ(b.inb(P + 7), 0x51);
  b.outb(P + 2, 4);
  b.outb(P + 7, 0xC6);
  EXPECT_EQ(b.inb(P + 7), 0x50);
  EXPECT_EQ(b.identify()[59], 0x0104);
  b.irq_edges[14] = 0;
  b.lba28(10, 10);
  EXPECT_EQ(b.pio_read(0xC4, 10, 4), TempFile::expect(10, 10));
  EXPECT_EQ(b.irq_edges[14], 3);  // blocks of 4, 4, 2
  // WRITE MULTIPLE EXT, 6 sectors in blocks of 4 + 2.
  std::vector<uint8_t> data(6 * 512);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 3);
  b.lba48(200, 6);
  b.outb(P + 7, 0x39);
  EXPECT_EQ(b.inb(CTL), 0x58);
  b.pio_out(P, {data.begin(), data.begin() + 2048});
  EXPECT_EQ(b.inb(P + 7), 0x58);
  b.pio_out(P, {data.begin() + 2048, data.end()});
  EXPECT_EQ(b.inb(P + 7), 0x50);
  EXPECT_EQ(b.file.read(200 * 512, data.size()), data);
}

TEST(Ide, MiscCommandsAndAborts) {
  DiskBoard b;
  b.outb(P + 6, 0xA0);
  b.outb(P + 7, 0x50);  // not a command
  EXPECT_TRUE(b.irq[14]);
  EXPECT_EQ(b.inb(P + 7), 0x51);
  EXPECT_EQ(b.inb(P + 1), 0x04);
  b.outb(P + 7, 0xA0);  // PACKET on a disk
  EXPECT_EQ(b.inb(P + 7), 0x51);
  // SET FEATURES: MWDMA2 ok, UDMA 7 rejected.
  b.outb(P + 1, 0x03);
  b.outb(P + 2, 0x22);
  b.outb(P + 7, 0xEF);
  EXPECT_EQ(b.inb(P + 7), 0x50);
  EXPECT_EQ(b.identify()[63] & 0x0400, 0x0400);
  b.outb(P + 1, 0x03);
  b.outb(P + 2, 0x47);
  b.outb(P + 7, 0xEF);
  EXPECT_EQ(b.inb(P + 7), 0x51);
  // Power management.
  b.outb(P + 7, 0xE0);
  EXPECT_EQ(b.inb(P + 7), 0x50);
  b.outb(P + 7, 0xE5);
  EXPECT_EQ(b.inb(P + 7), 0x50);
  EXPECT_EQ(b.inb(P + 2), 0x00);
  b.outb(P + 7, 0xE1);
  b.outb(P + 7, 0xE5);
  EXPECT_EQ(b.inb(P + 2), 0xFF);
  b.outb(P + 7, 0xE7);
  EXPECT_EQ(b.inb(P + 7), 0x50);
  b.outb(P + 7, 0xEA);
  EXPECT_EQ(b.inb(P + 7), 0x50);
  b.outb(P + 7, 0x90);  // EXECUTE DEVICE DIAGNOSTIC
  EXPECT_EQ(b.inb(P + 1), 0x01);
  EXPECT_EQ(b.inb(P + 7), 0x50);
}

TEST(Ide, NienMasksTheInterrupt) {
  DiskBoard b;
  b.outb(CTL, 0x02);
  b.outb(P + 6, 0xA0);
  b.outb(P + 7, 0xEC);
  EXPECT_FALSE(b.irq[14]);
  b.outb(CTL, 0x00);  // the pending interrupt shows once unmasked
  EXPECT_TRUE(b.irq[14]);
  (void)b.inb(CTL);   // alternate status does not acknowledge
  EXPECT_TRUE(b.irq[14]);
  (void)b.inb(P + 7);
  EXPECT_FALSE(b.irq[14]);
}

TEST(Ide, DmaReadAndWrite) {
  DiskBoard b;
  const uint16_t BM = Board::kBm;
  b.put_prd(0x1000, 0x10000, 512, false);
  b.put_prd(0x1008, 0x20000, 1024, true);
  b.outl(BM + 4, 0x1000);
  b.outb(BM, 0x08);  // direction: to memory
  b.lba28(7, 3);
  b.outb(P + 7, 0xC8);
  EXPECT_EQ(b.inb(CTL) & 0x08, 0x08);  // waiting for the bus master
  EXPECT_FALSE(b.irq[14]);
  b.outb(BM, 0x09);  // start
  EXPECT_TRUE(b.irq[14]);
  EXPECT_EQ(b.inb(BM + 2) & 0x07, 0x04);  // interrupt, not active, no error
  EXPECT_EQ(b.inb(P + 7), 0x50);
  auto want = TempFile::expect(7, 3);
  EXPECT_EQ(b.ram(0x10000, 512), std::vector<uint8_t>(want.begin(), want.begin() + 512));
  EXPECT_EQ(b.ram(0x20000, 1024), std::vector<uint8_t>(want.begin() + 512, want.end()));
  b.outb(BM, 0x08);
  b.outb(BM + 2, 0x04);  // clear the interrupt bit
  EXPECT_EQ(b.inb(BM + 2), 0x00);

  // WRITE DMA EXT: command after start (either order works).
  for (uint32_t i = 0; i < 1536; ++i) b.mem.write8(0x30000 + i, static_cast<uint8_t>(i * 5 + 3));
  b.put_prd(0x1000, 0x30000, 1536, true);
  b.outb(BM, 0x01);
  b.lba48(300, 3);
  b.outb(P + 7, 0x35);
  EXPECT_EQ(b.inb(P + 7), 0x50);
  EXPECT_EQ(b.inb(BM + 2) & 0x07, 0x04);
  EXPECT_EQ(b.file.read(300 * 512, 1536), b.ram(0x30000, 1536));
  b.outb(BM, 0x00);

  // A table larger than the transfer: Active stays set.
  b.outb(BM + 2, 0x06);
  b.put_prd(0x1000, 0x40000, 0, true);  // 64 KiB
  b.outb(BM, 0x08);
  b.lba28(0, 1);
  b.outb(P + 7, 0xC8);
  b.outb(BM, 0x09);
  EXPECT_EQ(b.inb(BM + 2) & 0x07, 0x05);
  EXPECT_EQ(b.inb(P + 7), 0x50);
  EXPECT_EQ(b.ram(0x40000, 512), TempFile::expect(0, 1));
}

TEST(Ide, HostilePrdTables) {
  DiskBoard b;
  const uint16_t BM = Board::kBm;
  const uint32_t ram = b.mem.ram_size();
  auto run = [&](uint32_t table, uint8_t sectors) {
    b.outb(BM, 0x00);
    b.outb(BM + 2, 0x06);
    b.outl(BM + 4, table);
    b.outb(BM, 0x08);
    b.lba28(0, sectors);
    b.outb(P + 7, 0xC8);
    b.outb(BM, 0x09);
  };
  // The table itself outside RAM.
  run(0xFFFFF000, 1);
  EXPECT_EQ(b.inb(BM + 2) & 0x07, 0x06);  // error + interrupt, not active
  EXPECT_EQ(b.inb(P + 7), 0x51);
  EXPECT_EQ(b.inb(P + 1), 0x04);
  // An entry pointing outside RAM, and one straddling its end.
  b.put_prd(0x1000, 0xF0000000, 512, true);
  run(0x1000, 1);
  EXPECT_EQ(b.inb(BM + 2) & 0x07, 0x06);
  EXPECT_EQ(b.inb(P + 7), 0x51);
  b.put_prd(0x1000, ram - 256, 512, true);
  run(0x1000, 1);
  EXPECT_EQ(b.inb(BM + 2) & 0x07, 0x06);
  // No EOT, running off the end of RAM.
  b.put_prd(ram - 16, 0x50000, 2, false);
  b.put_prd(ram - 8, 0x50000, 2, false);
  run(ram - 16, 1);
  EXPECT_EQ(b.inb(BM + 2) & 0x07, 0x06);
  EXPECT_EQ(b.inb(P + 7), 0x51);
  // No EOT, tiny entries: bounded to one 64 KiB table (8192 entries).
  for (uint32_t i = 0; i < 9000; ++i) b.put_prd(0x100000 + 8 * i, 0x50000, 2, false);
  run(0x100000, 64);
  EXPECT_EQ(b.inb(BM + 2) & 0x07, 0x06);
  EXPECT_EQ(b.inb(P + 7), 0x51);
  // A table that ends before the transfer does.
  b.put_prd(0x1000, 0x50000, 512, true);
  run(0x1000, 2);
  EXPECT_EQ(b.inb(BM + 2) & 0x07, 0x06);
  EXPECT_EQ(b.inb(P + 7), 0x51);
  // No DMA memory at all.
  b.ide.set_dma_memory(nullptr);
  b.put_prd(0x1000, 0x50000, 512, true);
  run(0x1000, 1);
  EXPECT_EQ(b.inb(P + 7), 0x51);
  b.ide.set_dma_memory(&b.mem);
  // The device still works afterwards.
  b.put_prd(0x1000, 0x50000, 512, true);
  run(0x1000, 1);
  EXPECT_EQ(b.inb(BM + 2) & 0x07, 0x04);
  EXPECT_EQ(b.inb(P + 7), 0x50);
  EXPECT_EQ(b.ram(0x50000, 512), TempFile::expect(0, 1));
}

TEST(Ide, SnapshotMidTransferAndTruncation) {
  DiskBoard a;
  a.lba28(20, 2);
  a.outb(P + 7, 0x20);
  (void)a.inb(P + 7);
  auto first = a.pio_in(P, 256);
  std::vector<uint8_t> snap;
  SnapshotWriter w(snap);
  a.ide.save(w);

  Board b;
  auto img = std::make_shared<DiskImage>(a.file.path, DiskImage::Mode::ReadWrite);
  b.ide.channel(0).attach_disk(0, img);
  SnapshotReader r(snap);
  b.ide.load(r);
  auto rest = b.pio_in(P, 256);
  EXPECT_EQ(b.inb(P + 7), 0x58);
  auto second = b.pio_in(P, 512);
  EXPECT_EQ(b.inb(P + 7), 0x50);
  first.insert(first.end(), rest.begin(), rest.end());
  first.insert(first.end(), second.begin(), second.end());
  EXPECT_EQ(first, TempFile::expect(20, 2));

  // Truncated: an error, and the channel is unchanged.
  for (size_t n = 0; n < snap.size(); n += 7) {
    std::vector<uint8_t> cut(snap.begin(), snap.begin() + static_cast<long>(n));
    SnapshotReader rc(cut);
    EXPECT_THROW(b.ide.load(rc), SnapshotError) << n;
  }
  EXPECT_EQ(b.inb(P + 7), 0x50);
  // A snapshot for a different disk is refused.
  Board c;
  TempFile other(128 * 512);
  c.ide.channel(0).attach_disk(0, std::make_shared<DiskImage>(other.path, DiskImage::Mode::ReadOnly));
  SnapshotReader r2(snap);
  EXPECT_THROW(c.ide.load(r2), SnapshotError);
}

TEST(DiskImage, BoundsChecked) {
  TempFile f(4096);
  DiskImage img(f.path, DiskImage::Mode::ReadWrite);
  uint8_t buf[1024];
  EXPECT_TRUE(img.read(3072, buf, 1024));
  EXPECT_FALSE(img.read(3584, buf, 1024));
  EXPECT_FALSE(img.read(~0ull - 10, buf, 100));
  EXPECT_FALSE(img.write(4096, buf, 1));
  EXPECT_TRUE(img.write(4095, buf, 1));
  EXPECT_THROW(DiskImage("/nonexistent/vx86.img", DiskImage::Mode::ReadOnly), std::runtime_error);
}
