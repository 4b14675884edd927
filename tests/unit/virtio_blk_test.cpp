// virtio-blk over PCI at the register level: the PCI identity and capabilities, feature
// negotiation and the status byte through the common configuration, requests through a driver
// written from the specification (virtio_driver.h) in guest RAM, checked against the backing
// file read back independently; the legacy I/O interface; hostile chains; snapshots.
#include "devices/virtio/virtio_blk.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <random>

#include "devices/snapshot.h"
#include "virtio_driver.h"

using namespace vx86;
using vx86::test::DriverRing;
using vx86::test::Seg;

namespace {

constexpr uint64_t kDiskBytes = 1 << 20;  // 2048 sectors
constexpr uint64_t kDesc = 0x10000, kAvail = 0x11000, kUsed = 0x12000, kTable = 0x13000;
constexpr uint64_t kHdr = 0x20000, kStatus = 0x21000, kData = 0x30000;
// Spec values (5.2.6, 2.1, 6), written here rather than taken from the device's headers.
constexpr uint32_t kIn = 0, kOut = 1, kFlush = 4, kGetId = 8, kDiscard = 11, kWriteZeroes = 13;
constexpr uint8_t kOk = 0, kIoErr = 1, kUnsupp = 2;
constexpr uint8_t kAck = 1, kDriver = 2, kDriverOk = 4, kFeaturesOk = 8, kNeedsReset = 0x40;
constexpr uint64_t kVersion1 = 1ull << 32, kIndirect = 1ull << 28, kEventIdx = 1ull << 29;
constexpr uint64_t kFlushF = 1ull << 9, kBlkSize = 1ull << 6, kSegMax = 1ull << 2, kRo = 1ull << 5;

struct TempDisk {
  std::string path;
  std::vector<uint8_t> content;
  TempDisk() {
    char name[] = "/tmp/vx86-virtio-XXXXXX";
    const int fd = mkstemp(name);
    if (fd < 0) throw std::runtime_error("mkstemp");
    close(fd);
    path = name;
    std::mt19937 rng(7);
    content.resize(kDiskBytes);
    for (auto& b : content) b = static_cast<uint8_t>(rng());
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(content.data()), kDiskBytes);
  }
  ~TempDisk() { unlink(path.c_str()); }
  // The file's bytes as the host sees them now.
  std::vector<uint8_t> file(uint64_t off, size_t n) const {
    std::vector<uint8_t> v(n);
    std::ifstream f(path, std::ios::binary);
    f.seekg(static_cast<std::streamoff>(off));
    f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n));
    return v;
  }
};

struct BlkTest : ::testing::Test {
  PhysicalMemory mem{4 << 20};
  TempDisk disk;
  std::shared_ptr<DiskImage> image;
  std::unique_ptr<VirtioBlk> dev;
  DriverRing drv{mem.ram(), 16, kDesc, kAvail, kUsed};

  explicit BlkTest(DiskImage::Mode mode = DiskImage::Mode::ReadWrite) {
    image = std::make_shared<DiskImage>(disk.path, mode, ImageFormat::Raw);
    dev = std::make_unique<VirtioBlk>(mem, image, "vx86-test-serial");
    dev->reset();
  }

  uint32_t common(uint32_t off, unsigned size = 4) {
    return dev->mmio_read(VirtioPciDevice::kCommonOffset + off, size);
  }
  void common_w(uint32_t off, uint32_t v, unsigned size = 4) {
    dev->mmio_write(VirtioPciDevice::kCommonOffset + off, v, size);
  }
  uint8_t status() { return static_cast<uint8_t>(common(0x14, 1)); }
  uint64_t device_features() {
    common_w(0x00, 0);
    const uint64_t lo = common(0x04);
    common_w(0x00, 1);
    return lo | uint64_t{common(0x04)} << 32;
  }
  // 3.1.1 up to FEATURES_OK; returns whether the device accepted.
  bool negotiate(uint64_t f) {
    common_w(0x14, 0, 1);
    common_w(0x14, kAck, 1);
    common_w(0x14, kAck | kDriver, 1);
    common_w(0x08, 0);
    common_w(0x0C, static_cast<uint32_t>(f));
    common_w(0x08, 1);
    common_w(0x0C, static_cast<uint32_t>(f >> 32));
    common_w(0x14, kAck | kDriver | kFeaturesOk, 1);
    return status() & kFeaturesOk;
  }
  void setup_queue(uint16_t size = 16) {
    common_w(0x16, 0, 2);
    EXPECT_EQ(common(0x18, 2), VirtioBlk::kQueueSize);  // the maximum, before the driver shrinks it
    common_w(0x18, size, 2);
    for (auto [off, addr] : {std::pair{0x20u, kDesc}, {0x28u, kAvail}, {0x30u, kUsed}}) {
      common_w(off, static_cast<uint32_t>(addr));
      common_w(off + 4, static_cast<uint32_t>(addr >> 32));
    }
    common_w(0x1C, 1, 2);
    drv = DriverRing(mem.ram(), size, kDesc, kAvail, kUsed);
  }
  void start(uint64_t f = kVersion1 | kFlushF | kBlkSize | kSegMax) {
    ASSERT_TRUE(negotiate(f));
    setup_queue();
    common_w(0x14, kAck | kDriver | kFeaturesOk | kDriverOk, 1);
  }
  void notify() { dev->mmio_write(VirtioPciDevice::kNotifyOffset, 0, 2); }
  void header(uint32_t type, uint64_t sector) {
    vx86::test::put_le(mem.ram() + kHdr, type, 4);
    vx86::test::put_le(mem.ram() + kHdr + 4, 0, 4);
    vx86::test::put_le(mem.ram() + kHdr + 8, sector, 8);
    mem.ram()[kStatus] = 0xEE;  // a value no request leaves
  }
  // One request: the header, data buffers (device-writable for IN and GET_ID), the status byte.
  uint8_t request(uint32_t type, uint64_t sector, uint32_t data_len, bool indirect = false) {
    header(type, sector);
    std::vector<Seg> segs{{kHdr, 16, false}};
    const bool in = type == kIn || type == kGetId;
    if (data_len) segs.push_back({kData, data_len, in});
    segs.push_back({kStatus, 1, true});
    drv.publish(indirect ? drv.add_indirect(kTable, segs) : drv.add_chain(segs));
    notify();
    return mem.ram()[kStatus];
  }
  uint8_t* data() { return mem.ram() + kData; }
};

TEST_F(BlkTest, PciIdentityAndCapabilities) {
  EXPECT_EQ(dev->config_read(0x00, 2), 0x1AF4u);
  EXPECT_EQ(dev->config_read(0x02, 2), 0x1001u);  // transitional block device
  EXPECT_EQ(dev->config_read(0x08, 1), 0u);       // transitional devices have revision 0
  EXPECT_EQ(dev->config_read(0x2C, 2), 0x1AF4u);
  EXPECT_EQ(dev->config_read(0x2E, 2), 2u);       // subsystem: virtio device type 2 (block)
  EXPECT_EQ(dev->config_read(0x3D, 1), 1u);       // INTA
  ASSERT_TRUE(dev->config_read(0x06, 2) & 0x10);  // a capabilities list
  // Walk it: the four virtio capabilities in BAR4, no MSI-X (ID 0x11).
  std::map<unsigned, std::pair<uint32_t, uint32_t>> caps;
  unsigned at = dev->config_read(0x34, 1), hops = 0;
  while (at && hops++ < 48) {
    const unsigned id = dev->config_read(at, 1);
    EXPECT_NE(id, 0x11u);
    if (id == 0x09) {
      EXPECT_EQ(dev->config_read(at + 4, 1), 4u);
      caps[dev->config_read(at + 3, 1)] = {dev->config_read(at + 8, 4), dev->config_read(at + 12, 4)};
      if (dev->config_read(at + 3, 1) == 2) EXPECT_EQ(dev->config_read(at + 16, 4), 4u);  // multiplier
    }
    at = dev->config_read(at + 1, 1);
  }
  ASSERT_EQ(caps.size(), 4u);
  EXPECT_EQ(caps[1].second, 0x38u);  // common configuration
  EXPECT_EQ(caps[3].second, 1u);     // ISR
  EXPECT_GE(caps[4].second, 20u);    // device configuration: at least up to blk_size
  // BAR sizing: BAR0 is I/O, BAR4 a 16 KiB memory window.
  dev->config_write(0x10, 0xFFFFFFFF, 4);
  EXPECT_EQ(dev->config_read(0x10, 4) & 1, 1u);
  dev->config_write(0x20, 0xFFFFFFFF, 4);
  EXPECT_EQ(dev->config_read(0x20, 4), ~uint32_t{0x4000 - 1} & ~15u);
}

TEST_F(BlkTest, FeatureNegotiationAndStatus) {
  const uint64_t f = device_features();
  for (uint64_t want :
       {kVersion1, kIndirect, kEventIdx, kFlushF, kBlkSize, kSegMax, uint64_t{1} << 13, uint64_t{1} << 14})
    EXPECT_TRUE(f & want) << std::hex << want;
  EXPECT_FALSE(f & kRo);
  EXPECT_FALSE(f & (1ull << 12));  // no multiqueue
  // Only what was offered, and VERSION_1 on the modern interface.
  EXPECT_FALSE(negotiate(kVersion1 | (1ull << 12)));
  EXPECT_FALSE(negotiate(kFlushF));
  EXPECT_TRUE(negotiate(kVersion1 | kFlushF));
  EXPECT_EQ(status(), kAck | kDriver | kFeaturesOk);
  // After FEATURES_OK the driver's features are fixed.
  common_w(0x08, 0);
  common_w(0x0C, 0);
  EXPECT_EQ(common(0x0C), static_cast<uint32_t>(kFlushF));
  // No MSI-X: the vector registers read NO_VECTOR whatever is written.
  common_w(0x10, 0, 2);
  EXPECT_EQ(common(0x10, 2), 0xFFFFu);
  EXPECT_EQ(common(0x12, 2), 1u);  // one queue
  // The configuration: capacity in sectors (read as two halves), blk_size, seg_max.
  const uint64_t cap = dev->mmio_read(VirtioPciDevice::kDeviceOffset, 4) |
                       uint64_t{dev->mmio_read(VirtioPciDevice::kDeviceOffset + 4, 4)} << 32;
  EXPECT_EQ(cap, kDiskBytes / 512);
  EXPECT_EQ(dev->mmio_read(VirtioPciDevice::kDeviceOffset + 20, 4), 512u);
  EXPECT_EQ(dev->mmio_read(VirtioPciDevice::kDeviceOffset + 12, 4), VirtioBlk::kQueueSize - 2u);
  // Status 0 resets.
  common_w(0x14, 0, 1);
  EXPECT_EQ(status(), 0);
  common_w(0x08, 0);
  EXPECT_EQ(common(0x0C), 0u);
}

TEST_F(BlkTest, QueueSizeMustBeAPowerOfTwo) {
  ASSERT_TRUE(negotiate(kVersion1));
  common_w(0x16, 0, 2);
  common_w(0x18, 100, 2);
  common_w(0x1C, 1, 2);
  EXPECT_EQ(common(0x1C, 2), 0u);
  EXPECT_TRUE(status() & kNeedsReset);
}

TEST_F(BlkTest, ReadMatchesTheFileAndInterrupts) {
  start();
  EXPECT_FALSE(dev->intx_level());
  ASSERT_EQ(request(kIn, 5, 8 * 512), kOk);
  EXPECT_EQ(0, std::memcmp(data(), disk.content.data() + 5 * 512, 8 * 512));
  EXPECT_EQ(drv.used_idx(), 1);
  EXPECT_EQ(drv.used_len(0), 8 * 512 + 1u);
  EXPECT_TRUE(dev->intx_level());
  EXPECT_EQ(dev->mmio_read(VirtioPciDevice::kIsrOffset, 1), 1u);  // queue interrupt; reading clears
  EXPECT_FALSE(dev->intx_level());
  EXPECT_EQ(dev->mmio_read(VirtioPciDevice::kIsrOffset, 1), 0u);
}

TEST_F(BlkTest, WriteReachesTheFileAndFlush) {
  start();
  for (int i = 0; i < 3 * 512; ++i) data()[i] = static_cast<uint8_t>(i * 13 + 1);
  const std::vector<uint8_t> written(data(), data() + 3 * 512);
  ASSERT_EQ(request(kOut, 100, 3 * 512), kOk);
  EXPECT_EQ(drv.used_len(0), 1u);
  ASSERT_EQ(request(kFlush, 0, 0), kOk);
  EXPECT_EQ(disk.file(100 * 512, 3 * 512), written);
  // Neighbours untouched.
  const auto before = disk.file(99 * 512, 512), after = disk.file(103 * 512, 512);
  EXPECT_EQ(0, std::memcmp(before.data(), disk.content.data() + 99 * 512, 512));
  EXPECT_EQ(0, std::memcmp(after.data(), disk.content.data() + 103 * 512, 512));
  // Read back through the device too.
  std::memset(data(), 0, 3 * 512);
  ASSERT_EQ(request(kIn, 100, 3 * 512), kOk);
  EXPECT_EQ(std::vector<uint8_t>(data(), data() + 3 * 512), written);
}

TEST_F(BlkTest, GetIdAnswersTheSerial) {
  start();
  std::memset(data(), 0xAA, 20);
  ASSERT_EQ(request(kGetId, 0, 20), kOk);
  char want[20] = "vx86-test-serial";  // zero-padded to 20 bytes
  EXPECT_EQ(0, std::memcmp(data(), want, 20));
  EXPECT_EQ(drv.used_len(0), 21u);
}

TEST_F(BlkTest, BadRequestsGetStatusesNotResets) {
  start();
  EXPECT_EQ(request(kIn, kDiskBytes / 512 - 1, 2 * 512), kIoErr);  // runs past the end
  EXPECT_EQ(request(kIn, ~uint64_t{0}, 512), kIoErr);              // sector overflow
  EXPECT_EQ(request(kIn, 0, 100), kIoErr);                         // not whole sectors
  EXPECT_EQ(request(kOut, kDiskBytes / 512, 512), kIoErr);
  EXPECT_EQ(request(99, 0, 0), kUnsupp);
  EXPECT_FALSE(status() & kNeedsReset);
  EXPECT_EQ(drv.used_idx(), 5);
  EXPECT_EQ(disk.file(0, kDiskBytes), disk.content);
}

TEST_F(BlkTest, WriteZeroesAndDiscard) {
  start(kVersion1 | (1ull << 13) | (1ull << 14));
  auto segment = [&](uint64_t sector, uint32_t count, uint32_t flags) {
    vx86::test::put_le(data(), sector, 8);
    vx86::test::put_le(data() + 8, count, 4);
    vx86::test::put_le(data() + 12, flags, 4);
  };
  segment(20, 4, 0);
  ASSERT_EQ(request(kWriteZeroes, 0, 16), kOk);
  EXPECT_EQ(disk.file(20 * 512, 4 * 512), std::vector<uint8_t>(4 * 512, 0));
  EXPECT_EQ(0, std::memcmp(disk.file(24 * 512, 512).data(), disk.content.data() + 24 * 512, 512));
  segment(20, 4, 1);  // UNMAP is allowed with write-zeroes
  EXPECT_EQ(request(kWriteZeroes, 0, 16), kOk);
  segment(20, 4, 1);  // but not with discard
  EXPECT_EQ(request(kDiscard, 0, 16), kUnsupp);
  segment(2040, 16, 0);  // past the end
  EXPECT_EQ(request(kDiscard, 0, 16), kIoErr);
  segment(0, 8, 0);
  EXPECT_EQ(request(kDiscard, 0, 16), kOk);
}

TEST_F(BlkTest, IndirectRequest) {
  start(kVersion1 | kIndirect);
  ASSERT_EQ(request(kIn, 40, 4096, true), kOk);
  EXPECT_EQ(0, std::memcmp(data(), disk.content.data() + 40 * 512, 4096));
}

TEST_F(BlkTest, EventIdxSuppressesInterrupts) {
  start(kVersion1 | kEventIdx);
  drv.set_used_event(0);
  ASSERT_EQ(request(kIn, 0, 512), kOk);  // used 0 -> 1 passes used_event 0
  EXPECT_EQ(dev->mmio_read(VirtioPciDevice::kIsrOffset, 1), 1u);
  EXPECT_EQ(drv.avail_event(), 1);  // the device asks to be notified of the next buffer
  drv.set_used_event(4);            // "interrupt me when the used index passes 4"
  for (int n = 1; n < 4; ++n) {
    ASSERT_EQ(request(kIn, 0, 512), kOk);
    EXPECT_FALSE(dev->intx_level()) << n;
  }
  ASSERT_EQ(request(kIn, 0, 512), kOk);  // used index 4 -> 5
  EXPECT_TRUE(dev->intx_level());
}

TEST_F(BlkTest, LoopingChainNeedsResetThenWorksAgain) {
  start();
  drv.set_desc(kDesc, 0, kHdr, 16, DriverRing::NEXT, 1);
  drv.set_desc(kDesc, 1, kStatus, 1, DriverRing::NEXT | DriverRing::WRITE, 0);
  drv.publish(0);
  notify();
  EXPECT_TRUE(status() & kNeedsReset);
  EXPECT_EQ(drv.used_idx(), 0);
  EXPECT_EQ(dev->mmio_read(VirtioPciDevice::kIsrOffset, 1), 2u);  // a configuration interrupt
  // Nothing more is processed until the driver resets the device.
  drv.next_free = 2;
  header(kIn, 0);
  drv.publish(drv.add_chain({{kHdr, 16, false}, {kData, 512, true}, {kStatus, 1, true}}));
  notify();
  EXPECT_EQ(drv.used_idx(), 0);
  common_w(0x14, 0, 1);
  EXPECT_EQ(status(), 0);
  EXPECT_EQ(common(0x1C, 2), 0u);  // the queue is disabled by the reset
  start();
  EXPECT_EQ(request(kIn, 3, 512), kOk);
  EXPECT_EQ(0, std::memcmp(data(), disk.content.data() + 3 * 512, 512));
}

TEST_F(BlkTest, ChainWithoutRoomForHeaderOrStatusIsADeviceError) {
  start();
  drv.publish(drv.add_chain({{kHdr, 8, false}, {kStatus, 1, true}}));  // half a header
  notify();
  EXPECT_TRUE(status() & kNeedsReset);
  EXPECT_EQ(drv.used_idx(), 0);
}

TEST_F(BlkTest, BufferOutsideRamIsADeviceError) {
  start();
  header(kIn, 0);
  drv.publish(drv.add_chain({{kHdr, 16, false}, {(4u << 20) - 256, 512, true}, {kStatus, 1, true}}));
  notify();
  EXPECT_TRUE(status() & kNeedsReset);
  EXPECT_EQ(mem.ram()[kStatus], 0xEE);
}

TEST_F(BlkTest, LegacyInterface) {
  // BAR0 at 0xC000 with I/O decoding on: the 0.9.5 registers.
  dev->config_write(0x10, 0xC000, 4);
  dev->config_write(0x04, 0x0005, 2);
  ASSERT_TRUE(dev->bar(0).enabled);
  const uint16_t io = 0xC000;
  const uint32_t host = dev->io_read(io + 0x00, 4);
  EXPECT_EQ(host, static_cast<uint32_t>(device_features()));  // the low 32 bits only
  EXPECT_TRUE(host & kFlushF);
  dev->io_write(io + 0x12, kAck | kDriver, 1);
  dev->io_write(io + 0x04, static_cast<uint32_t>(kFlushF | kSegMax | (1u << 12)), 4);  // MQ not offered
  EXPECT_EQ(dev->io_read(io + 0x04, 4), static_cast<uint32_t>(kFlushF | kSegMax));
  dev->io_write(io + 0x0E, 0, 2);
  EXPECT_EQ(dev->io_read(io + 0x0C, 2), VirtioBlk::kQueueSize);
  drv = DriverRing::legacy(mem.ram(), VirtioBlk::kQueueSize, 0x40);
  dev->io_write(io + 0x08, 0x40, 4);
  EXPECT_EQ(dev->io_read(io + 0x08, 4), 0x40u);
  dev->io_write(io + 0x12, kAck | kDriver | kDriverOk, 1);
  // Capacity from the device configuration at 0x14.
  const uint64_t cap = dev->io_read(io + 0x14, 4) | uint64_t{dev->io_read(io + 0x18, 4)} << 32;
  EXPECT_EQ(cap, kDiskBytes / 512);
  header(kIn, 7);
  drv.publish(drv.add_chain({{kHdr, 16, false}, {kData, 1024, true}, {kStatus, 1, true}}));
  dev->io_write(io + 0x10, 0, 2);
  ASSERT_EQ(mem.ram()[kStatus], kOk);
  EXPECT_EQ(0, std::memcmp(data(), disk.content.data() + 7 * 512, 1024));
  EXPECT_EQ(drv.used_idx(), 1);
  EXPECT_TRUE(dev->intx_level());
  EXPECT_EQ(dev->io_read(io + 0x13, 1), 1u);
  EXPECT_FALSE(dev->intx_level());
  // Status 0 resets; PFN 0 reads back.
  dev->io_write(io + 0x12, 0, 1);
  EXPECT_EQ(dev->io_read(io + 0x08, 4), 0u);
}

TEST_F(BlkTest, SnapshotContinues) {
  start(kVersion1 | kEventIdx | kFlushF);
  ASSERT_EQ(request(kIn, 1, 512), kOk);
  std::vector<uint8_t> blob;
  SnapshotWriter w(blob);
  dev->save(w);
  auto other = std::make_unique<VirtioBlk>(mem, image, "vx86-test-serial");
  other->reset();
  SnapshotReader r(blob);
  other->load(r);
  EXPECT_TRUE(r.at_end());
  dev = std::move(other);
  EXPECT_EQ(status(), kAck | kDriver | kFeaturesOk | kDriverOk);
  EXPECT_EQ(dev->driver_features(), kVersion1 | kEventIdx | kFlushF);
  ASSERT_EQ(request(kIn, 2, 512), kOk);
  EXPECT_EQ(drv.used_idx(), 2);
  EXPECT_EQ(0, std::memcmp(data(), disk.content.data() + 2 * 512, 512));
  // A snapshot with features the device does not offer is refused.
  std::vector<uint8_t> bad = blob;
  SnapshotReader rb(bad);
  VirtioBlk third(mem, image, "");
  bad.clear();
  SnapshotWriter wb(bad);
  wb.begin_section("VBLK", 1);
  wb.u64(999);  // another disk size
  wb.end_section();
  SnapshotReader rb2(bad);
  EXPECT_THROW(third.load(rb2), SnapshotError);
}

struct ReadOnlyBlkTest : BlkTest {
  ReadOnlyBlkTest() : BlkTest(DiskImage::Mode::ReadOnly) {}
};

TEST_F(ReadOnlyBlkTest, OffersRoAndRefusesWrites) {
  EXPECT_TRUE(device_features() & kRo);
  start(kVersion1 | kRo);
  std::memset(data(), 0x55, 512);
  EXPECT_EQ(request(kOut, 0, 512), kIoErr);
  EXPECT_EQ(disk.file(0, 512), std::vector<uint8_t>(disk.content.begin(), disk.content.begin() + 512));
  EXPECT_EQ(request(kIn, 0, 512), kOk);
}

}  // namespace
