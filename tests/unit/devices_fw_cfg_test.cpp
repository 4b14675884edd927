// fw_cfg: the signature and ID SeaBIOS probes, legacy items, the file directory (big-endian,
// sorted, selectors), reads past the end, bad file names, snapshots, and the DMA interface as
// QEMU's docs/specs/fw_cfg.rst describes it (descriptor layout, control bits, hostile addresses).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "devices/fw_cfg.h"
#include "devices/snapshot.h"

using namespace vx86;

namespace {

struct FwBoard {
  PortBus bus;
  FwCfg fw;
  FwBoard() { fw.attach(bus); }
  void select(uint16_t key) { bus.write(FwCfg::kSelectorPort, key, 2); }
  std::vector<uint8_t> read(size_t n) {
    std::vector<uint8_t> v;
    for (size_t i = 0; i < n; ++i) v.push_back(static_cast<uint8_t>(bus.read(FwCfg::kDataPort, 1)));
    return v;
  }
  uint32_t be32(const std::vector<uint8_t>& b, size_t at) {
    return uint32_t{b[at]} << 24 | uint32_t{b[at + 1]} << 16 | uint32_t{b[at + 2]} << 8 | b[at + 3];
  }
};

}  // namespace

TEST(FwCfg, SignatureAndInterfaceId) {
  FwBoard b;
  b.select(FwCfg::SIGNATURE);
  EXPECT_EQ(b.read(5), (std::vector<uint8_t>{'Q', 'E', 'M', 'U', 0}));  // then zeros past the end
  b.select(FwCfg::ID);
  EXPECT_EQ(b.read(4), (std::vector<uint8_t>{3, 0, 0, 0}));  // bit 0: traditional, bit 1: DMA
  // Reset selects the signature again.
  b.fw.reset();
  EXPECT_EQ(b.read(1), (std::vector<uint8_t>{'Q'}));
}

TEST(FwCfg, ItemsAndUnknownKeysAndWideReads) {
  FwBoard b;
  b.fw.set_item(FwCfg::RAM_SIZE, {0x00, 0x00, 0x00, 0x10, 0, 0, 0, 0});
  b.select(FwCfg::RAM_SIZE);
  EXPECT_EQ(b.bus.read(FwCfg::kDataPort, 4), 0x10000000u);  // bytes in order, little-endian packing
  EXPECT_EQ(b.bus.read(FwCfg::kDataPort, 4), 0u);
  b.select(0x1234);  // no such item
  EXPECT_EQ(b.read(3), (std::vector<uint8_t>{0, 0, 0}));
  // Selecting again restarts the item.
  b.select(FwCfg::RAM_SIZE);
  EXPECT_EQ(b.read(4), (std::vector<uint8_t>{0, 0, 0, 0x10}));
}

TEST(FwCfg, FileDirectoryIsSortedBigEndianWithSelectors) {
  FwBoard b;
  b.fw.add_file("etc/z-last", {1, 2, 3});
  b.fw.add_file("etc/a-first", std::vector<uint8_t>(300, 7));
  b.select(FwCfg::FILE_DIR);
  std::vector<uint8_t> dir = b.read(4 + 2 * 64);
  ASSERT_EQ(b.be32(dir, 0), 2u);
  // Entry 0: "etc/a-first", 300 bytes, selector 0x21 (added second).
  EXPECT_EQ(b.be32(dir, 4), 300u);
  EXPECT_EQ(dir[8] << 8 | dir[9], 0x21);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(&dir[12])), "etc/a-first");
  EXPECT_EQ(b.be32(dir, 68), 3u);
  const uint16_t sel = static_cast<uint16_t>(dir[72] << 8 | dir[73]);
  EXPECT_EQ(sel, 0x20);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(&dir[76])), "etc/z-last");
  b.select(sel);
  EXPECT_EQ(b.read(4), (std::vector<uint8_t>{1, 2, 3, 0}));
  ASSERT_NE(b.fw.find_file("etc/a-first"), nullptr);
  EXPECT_EQ(b.fw.find_file("etc/a-first")->size(), 300u);
  EXPECT_EQ(b.fw.find_file("etc/none"), nullptr);
}

TEST(FwCfg, BadFileNamesAreRefused) {
  FwBoard b;
  EXPECT_THROW(b.fw.add_file("", {}), std::invalid_argument);
  EXPECT_THROW(b.fw.add_file(std::string(56, 'x'), {}), std::invalid_argument);
  EXPECT_NO_THROW(b.fw.add_file(std::string(55, 'x'), {}));
  EXPECT_THROW(b.fw.add_file(std::string(55, 'x'), {}), std::invalid_argument);
}

TEST(FwCfg, SnapshotKeepsPositionAndChecksIt) {
  FwBoard a;
  a.fw.add_file("etc/f", {10, 20, 30});
  a.select(FwCfg::FILE_FIRST);
  a.read(1);
  std::vector<uint8_t> snap;
  SnapshotWriter w(snap);
  a.fw.save(w);

  FwBoard b;
  b.fw.add_file("etc/f", {10, 20, 30});
  SnapshotReader r(snap);
  b.fw.load(r);
  EXPECT_EQ(b.read(2), (std::vector<uint8_t>{20, 30}));

  // A position beyond the item: refused, the state untouched.
  std::vector<uint8_t> bad = snap;
  bad.at(bad.size() - 8) = 9;  // the position (the DMA address high dword follows)
  FwBoard c;
  c.fw.add_file("etc/f", {10, 20, 30});
  SnapshotReader rb(bad);
  EXPECT_THROW(c.fw.load(rb), SnapshotError);
  EXPECT_EQ(c.read(1), (std::vector<uint8_t>{'Q'}));
}

namespace {
// A board with 64 KiB of RAM behind the DMA interface.
struct DmaBoard : FwBoard {
  PhysicalMemory mem{64 * 1024};
  std::vector<std::pair<uint32_t, uint32_t>> written;
  DmaBoard() {
    fw.set_dma_memory(&mem, [this](uint32_t a, uint32_t n) { written.emplace_back(a, n); });
  }
  void put_be32(uint32_t at, uint32_t v) {
    for (unsigned i = 0; i < 4; ++i) mem.ram()[at + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
  }
  // Writes a descriptor at `at` and starts it as a guest does: each dword's bytes big-endian.
  uint32_t run(uint32_t at, uint32_t control, uint32_t length, uint64_t addr, uint32_t addr_hi = 0) {
    put_be32(at, control);
    put_be32(at + 4, length);
    put_be32(at + 8, static_cast<uint32_t>(addr >> 32));
    put_be32(at + 12, static_cast<uint32_t>(addr));
    bus.write(FwCfg::kDmaPort, __builtin_bswap32(addr_hi), 4);
    bus.write(FwCfg::kDmaPort + 4, __builtin_bswap32(at), 4);
    const uint8_t* c = mem.ram() + at;
    return uint32_t{c[0]} << 24 | uint32_t{c[1]} << 16 | uint32_t{c[2]} << 8 | c[3];
  }
};
}  // namespace

TEST(FwCfg, DmaSelectReadSkipAndZerosPastTheEnd) {
  DmaBoard b;
  b.fw.add_file("etc/blob", {1, 2, 3, 4, 5, 6});
  b.select(FwCfg::FILE_DIR);
  const std::vector<uint8_t> dir = b.read(4 + 64);
  const uint16_t sel = static_cast<uint16_t>(dir[8] << 8 | dir[9]);
  // Select and read 4 bytes to 0x1000.
  EXPECT_EQ(b.run(0x100, uint32_t{sel} << 16 | 0x08 | 0x02, 4, 0x1000), 0u);
  EXPECT_EQ(std::vector<uint8_t>(b.mem.ram() + 0x1000, b.mem.ram() + 0x1004), (std::vector<uint8_t>{1, 2, 3, 4}));
  // Skip 1, then read 4: the last byte, then zeros past the item's end.
  EXPECT_EQ(b.run(0x100, 0x04, 1, 0), 0u);
  std::memset(b.mem.ram() + 0x2000, 0xAA, 8);
  EXPECT_EQ(b.run(0x100, 0x02, 4, 0x2000), 0u);
  EXPECT_EQ(std::vector<uint8_t>(b.mem.ram() + 0x2000, b.mem.ram() + 0x2005),
            (std::vector<uint8_t>{6, 0, 0, 0, 0xAA}));
  // The board heard of each range DMA wrote (data and the descriptor's control word).
  EXPECT_NE(std::find(b.written.begin(), b.written.end(), std::make_pair(0x2000u, 4u)), b.written.end());
  // The traditional port goes on from the DMA's position: the item is used up.
  EXPECT_EQ(b.read(1), (std::vector<uint8_t>{0}));
  // 0x514 reads the DMA signature.
  EXPECT_EQ(b.bus.read(FwCfg::kDmaPort, 4), 0x554D4551u);  // "QEMU"
  EXPECT_EQ(b.bus.read(FwCfg::kDmaPort + 4, 4), 0x47464320u);  // " CFG"
}

TEST(FwCfg, DmaRefusesWritesAndBuffersOutsideRam) {
  DmaBoard b;
  b.fw.set_item(FwCfg::RAM_SIZE, {1, 2, 3, 4, 5, 6, 7, 8});
  EXPECT_EQ(b.run(0x100, FwCfg::RAM_SIZE << 16 | 0x08 | 0x10, 4, 0x1000), 1u) << "no item is writable";
  EXPECT_EQ(b.run(0x100, FwCfg::RAM_SIZE << 16 | 0x08 | 0x02, 16, 64 * 1024 - 8), 1u) << "runs past RAM";
  EXPECT_EQ(b.run(0x100, 0x02, 4, 0xFFFFFFFFFFFFFFF0ull), 1u) << "wraps";
  EXPECT_EQ(b.run(0x100, 0x02, 0xFFFFFFFFu, 0x1000), 1u) << "4 GiB long";
  EXPECT_EQ(b.mem.ram()[64 * 1024 - 8], 0) << "nothing written on an error";
  // A descriptor outside RAM (or above 4 GiB) is ignored: nothing to read it from or report to.
  b.run(0x100, 0, 0, 0);  // (the descriptor at 0x100 is fine; now aim elsewhere)
  b.bus.write(FwCfg::kDmaPort, __builtin_bswap32(1), 4);
  b.bus.write(FwCfg::kDmaPort + 4, __builtin_bswap32(0x100), 4);  // 0x1_0000_0100
  b.bus.write(FwCfg::kDmaPort + 4, __builtin_bswap32(64 * 1024 - 8), 4);  // straddles the end
  // And a good transfer still works afterwards.
  EXPECT_EQ(b.run(0x100, FwCfg::RAM_SIZE << 16 | 0x08 | 0x02, 2, 0x3000), 0u);
  EXPECT_EQ(b.mem.ram()[0x3001], 2);
}
