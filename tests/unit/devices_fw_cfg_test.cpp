// fw_cfg: the signature and ID SeaBIOS probes, legacy items, the file directory (big-endian,
// sorted, selectors), reads past the end, bad file names, snapshots.
#include <gtest/gtest.h>

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

TEST(FwCfg, SignatureAndTraditionalInterfaceId) {
  FwBoard b;
  b.select(FwCfg::SIGNATURE);
  EXPECT_EQ(b.read(5), (std::vector<uint8_t>{'Q', 'E', 'M', 'U', 0}));  // then zeros past the end
  b.select(FwCfg::ID);
  EXPECT_EQ(b.read(4), (std::vector<uint8_t>{1, 0, 0, 0}));  // bit 0: traditional; no DMA bit
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
  bad[bad.size() - 4] = 9;
  FwBoard c;
  c.fw.add_file("etc/f", {10, 20, 30});
  SnapshotReader rb(bad);
  EXPECT_THROW(c.fw.load(rb), SnapshotError);
  EXPECT_EQ(c.read(1), (std::vector<uint8_t>{'Q'}));
}
