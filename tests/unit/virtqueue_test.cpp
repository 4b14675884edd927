// The split virtqueue's device side against a driver written from the specification
// (virtio_driver.h), in a plain byte array standing for guest RAM: normal and indirect chains,
// event index suppression, and hostile rings (loops, addresses outside RAM, huge lengths, nested
// indirect tables, index jumps), also thousands of random rings checked against a reference
// walker that follows the specification's rules its own way (a visited set instead of a count).
#include "devices/virtio/virtqueue.h"

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <set>
#include <vector>

#include "devices/snapshot.h"
#include "virtio_driver.h"

using namespace vx86;
using vx86::test::DriverRing;
using vx86::test::get_le;
using vx86::test::Seg;

namespace {

// Guest RAM as a byte array; every access outside it fails and is counted.
class FakeRam : public GuestMemory {
 public:
  explicit FakeRam(size_t n) : bytes(n, 0) {}
  bool read(uint64_t addr, void* dst, size_t n) override {
    if (!range_ok(addr, n, false)) return refuse();
    std::memcpy(dst, bytes.data() + addr, n);
    return true;
  }
  bool write(uint64_t addr, const void* src, size_t n) override {
    if (!range_ok(addr, n, true)) return refuse();
    std::memcpy(bytes.data() + addr, src, n);
    ++writes;
    return true;
  }
  bool range_ok(uint64_t addr, uint64_t n, bool) const override {
    return addr <= bytes.size() && n <= bytes.size() - addr;
  }
  bool refuse() {
    ++refused;
    return false;
  }
  std::vector<uint8_t> bytes;
  unsigned refused = 0, writes = 0;
};

constexpr uint64_t kDesc = 0x1000, kAvail = 0x2000, kUsed = 0x3000, kIndirect = 0x4000;

struct VirtqueueTest : ::testing::Test {
  FakeRam ram{64 * 1024};
  Virtqueue q;
  DriverRing drv{ram.bytes.data(), 8, kDesc, kAvail, kUsed};

  void SetUp() override {
    q.reset(256);
    q.size = 8;
    q.desc_addr = kDesc;
    q.avail_addr = kAvail;
    q.used_addr = kUsed;
    ASSERT_TRUE(q.enable(256));
  }
  Virtqueue::Pop pop(VirtqChain& c) { return q.pop(ram, c); }
};

TEST_F(VirtqueueTest, NormalChainInOrderThenUsed) {
  const uint16_t head = drv.add_chain({{0x8000, 16, false}, {0x9000, 512, true}, {0x9400, 1, true}});
  drv.publish(head);
  VirtqChain c;
  ASSERT_EQ(pop(c), Virtqueue::Pop::Chain);
  EXPECT_EQ(c.head, head);
  ASSERT_EQ(c.bufs.size(), 3u);
  EXPECT_EQ(c.bufs[0].addr, 0x8000u);
  EXPECT_EQ(c.bufs[0].len, 16u);
  EXPECT_FALSE(c.bufs[0].writable);
  EXPECT_EQ(c.bufs[1].addr, 0x9000u);
  EXPECT_TRUE(c.bufs[1].writable);
  EXPECT_EQ(c.readable, 16u);
  EXPECT_EQ(c.writable, 513u);
  EXPECT_EQ(pop(c), Virtqueue::Pop::Empty);
  ASSERT_TRUE(q.push(ram, head, 513));
  EXPECT_EQ(drv.used_idx(), 1);
  EXPECT_EQ(drv.used_id(0), head);
  EXPECT_EQ(drv.used_len(0), 513u);
  EXPECT_FALSE(q.broken());
}

TEST_F(VirtqueueTest, ChainReadAndWriteGatherAcrossBuffers) {
  for (int i = 0; i < 10; ++i) ram.bytes[0x8000 + i] = static_cast<uint8_t>(i);
  for (int i = 0; i < 10; ++i) ram.bytes[0x8100 + i] = static_cast<uint8_t>(10 + i);
  drv.publish(
      drv.add_chain({{0x8000, 10, false}, {0x8100, 10, false}, {0x9000, 3, true}, {0x9100, 5, true}}));
  VirtqChain c;
  ASSERT_EQ(pop(c), Virtqueue::Pop::Chain);
  uint8_t got[6];
  ASSERT_TRUE(c.read(ram, 7, got, 6));  // 3 bytes of the first buffer, 3 of the second
  const uint8_t want[6] = {7, 8, 9, 10, 11, 12};
  EXPECT_EQ(0, std::memcmp(got, want, 6));
  EXPECT_FALSE(c.read(ram, 15, got, 6));  // past the readable part
  const uint8_t out[4] = {0xA1, 0xA2, 0xA3, 0xA4};
  ASSERT_TRUE(c.write(ram, 1, out, 4));
  EXPECT_EQ(ram.bytes[0x9001], 0xA1);
  EXPECT_EQ(ram.bytes[0x9002], 0xA2);
  EXPECT_EQ(ram.bytes[0x9100], 0xA3);
  EXPECT_EQ(ram.bytes[0x9101], 0xA4);
  EXPECT_FALSE(c.write(ram, 6, out, 4));  // past the writable part
}

TEST_F(VirtqueueTest, IndicesWrapAround16Bits) {
  // 70000 requests through an 8-entry queue: the free-running 16-bit indices wrap.
  for (unsigned n = 0; n < 70000; ++n) {
    const uint16_t head = drv.add_chain({{0x8000 + (n % 16) * 64, 64, (n & 1) != 0}});
    drv.publish(head);
    VirtqChain c;
    ASSERT_EQ(pop(c), Virtqueue::Pop::Chain) << n;
    ASSERT_EQ(c.head, head);
    ASSERT_TRUE(q.push(ram, c.head, n & 0xFF));
    ASSERT_EQ(drv.used_idx(), static_cast<uint16_t>(n + 1));
    ASSERT_EQ(drv.used_id(static_cast<uint16_t>(n)), head);
  }
  EXPECT_EQ(q.last_avail(), static_cast<uint16_t>(70000));
}

TEST_F(VirtqueueTest, IndirectTable) {
  q.indirect = true;
  const uint16_t head =
      drv.add_indirect(kIndirect, {{0x8000, 16, false}, {0x8800, 4096, true}, {0x9900, 1, true}});
  drv.publish(head);
  VirtqChain c;
  ASSERT_EQ(pop(c), Virtqueue::Pop::Chain);
  EXPECT_EQ(c.head, head);
  ASSERT_EQ(c.bufs.size(), 3u);
  EXPECT_EQ(c.bufs[1].addr, 0x8800u);
  EXPECT_EQ(c.bufs[1].len, 4096u);
  EXPECT_EQ(c.readable, 16u);
  EXPECT_EQ(c.writable, 4097u);
}

TEST_F(VirtqueueTest, IndirectWithoutTheFeatureIsAnError) {
  drv.publish(drv.add_indirect(kIndirect, {{0x8000, 16, false}}));
  VirtqChain c;
  EXPECT_EQ(pop(c), Virtqueue::Pop::Error);
  EXPECT_TRUE(q.broken());
}

TEST_F(VirtqueueTest, NoInterruptFlagWithoutEventIdx) {
  drv.publish(drv.add_chain({{0x8000, 8, true}}));
  VirtqChain c;
  ASSERT_EQ(pop(c), Virtqueue::Pop::Chain);
  ASSERT_TRUE(q.push(ram, c.head, 8));
  EXPECT_TRUE(q.should_interrupt(ram));
  drv.set_avail_flags(1);  // VIRTQ_AVAIL_F_NO_INTERRUPT
  EXPECT_FALSE(q.should_interrupt(ram));
}

TEST_F(VirtqueueTest, EventIdxSuppressesInterruptsAndAsksForNotifications) {
  q.event_idx = true;
  VirtqChain c;
  // The driver wants an interrupt once the used index passes 2 (used_event = 2: after the third).
  drv.set_used_event(2);
  for (uint16_t n = 0; n < 3; ++n) {
    drv.publish(drv.add_chain({{0x8000, 8, true}}));
    ASSERT_EQ(pop(c), Virtqueue::Pop::Chain);
    // avail_event: notify me when you make the next one available.
    EXPECT_EQ(drv.avail_event(), static_cast<uint16_t>(n + 1));
    ASSERT_TRUE(q.push(ram, c.head, 8));
    // 2.7.10: interrupt iff (used_idx - used_event - 1) < (used_idx - last signalled): n + 1 > 2.
    // The first decision has nothing signalled before it and always interrupts.
    const bool want = n == 0 || n + 1 > 2;
    EXPECT_EQ(q.should_interrupt(ram), want) << n;
  }
  // Several completions at once: one interrupt if used_event lies among them.
  drv.set_used_event(4);
  for (int k = 0; k < 3; ++k) {
    drv.publish(drv.add_chain({{0x8000, 8, true}}));
    ASSERT_EQ(pop(c), Virtqueue::Pop::Chain);
    ASSERT_TRUE(q.push(ram, c.head, 8));
  }
  EXPECT_TRUE(q.should_interrupt(ram));   // used index 3 -> 6 passed 4
  EXPECT_FALSE(q.should_interrupt(ram));  // nothing new since
  EXPECT_EQ(pop(c), Virtqueue::Pop::Empty);
  EXPECT_EQ(drv.avail_event(), 6);
}

// ---- hostile rings ----

struct Hostile : VirtqueueTest {
  void expect_error(const char* what) {
    VirtqChain c;
    const unsigned writes = ram.writes;
    EXPECT_EQ(pop(c), Virtqueue::Pop::Error) << what;
    EXPECT_TRUE(q.broken()) << what;
    EXPECT_FALSE(q.error().empty()) << what;
    EXPECT_EQ(ram.writes, writes) << what;  // nothing written for a bad chain
    // Broken stays broken: no more chains, no completions.
    EXPECT_EQ(pop(c), Virtqueue::Pop::Error) << what;
    EXPECT_FALSE(q.push(ram, 0, 0)) << what;
    EXPECT_EQ(drv.used_idx(), 0) << what;
  }
};

TEST_F(Hostile, LoopingChain) {
  drv.set_desc(kDesc, 0, 0x8000, 8, DriverRing::NEXT, 1);
  drv.set_desc(kDesc, 1, 0x8100, 8, DriverRing::NEXT, 2);
  drv.set_desc(kDesc, 2, 0x8200, 8, DriverRing::NEXT, 0);
  drv.publish(0);
  expect_error("0 -> 1 -> 2 -> 0");
}

TEST_F(Hostile, SelfLoop) {
  drv.set_desc(kDesc, 5, 0x8000, 8, DriverRing::NEXT, 5);
  drv.publish(5);
  expect_error("5 -> 5");
}

TEST_F(Hostile, NextOutOfRange) {
  drv.set_desc(kDesc, 0, 0x8000, 8, DriverRing::NEXT, 8);
  drv.publish(0);
  expect_error("next = queue size");
}

TEST_F(Hostile, HeadOutOfRange) {
  drv.publish(0xFFFF);
  expect_error("head 0xFFFF");
}

TEST_F(Hostile, BufferOutsideRam) {
  drv.set_desc(kDesc, 0, 0x10000, 1, 0, 0);  // the first byte past RAM
  drv.publish(0);
  expect_error("address past RAM");
}

TEST_F(Hostile, HugeLength) {
  drv.set_desc(kDesc, 0, 0x8000, 0xFFFFFFFFu, DriverRing::WRITE, 0);
  drv.publish(0);
  expect_error("4 GiB buffer");
}

TEST_F(Hostile, AddressWrapsAround) {
  drv.set_desc(kDesc, 0, 0xFFFFFFFFFFFFFF00ull, 0x200, 0, 0);
  drv.publish(0);
  expect_error("address + length wraps past 2^64");
}

TEST_F(Hostile, ReadableAfterWritable) {
  drv.publish(drv.add_chain({{0x8000, 8, true}, {0x8100, 8, false}}));
  expect_error("readable after writable");
}

TEST_F(Hostile, IndirectInsideIndirect) {
  q.indirect = true;
  drv.set_desc(kIndirect, 0, 0x8000, 8, DriverRing::NEXT, 1);
  drv.set_desc(kIndirect, 1, kIndirect + 0x100, 16, DriverRing::INDIRECT, 0);
  drv.set_desc(kIndirect + 0x100, 0, 0x8000, 8, 0, 0);
  drv.set_desc(kDesc, 0, kIndirect, 32, DriverRing::INDIRECT, 0);
  drv.publish(0);
  expect_error("nested indirect table");
}

TEST_F(Hostile, IndirectWithNext) {
  q.indirect = true;
  drv.set_desc(kIndirect, 0, 0x8000, 8, 0, 0);
  drv.set_desc(kDesc, 0, kIndirect, 16, DriverRing::INDIRECT | DriverRing::NEXT, 1);
  drv.set_desc(kDesc, 1, 0x8000, 8, 0, 0);
  drv.publish(0);
  expect_error("INDIRECT | NEXT");
}

TEST_F(Hostile, IndirectBadLengths) {
  for (uint32_t len : {0u, 15u, 24u, 0xFFFFFFF0u}) {
    SetUp();
    drv.set_desc(kDesc, 0, kIndirect, len, DriverRing::INDIRECT, 0);
    q.indirect = true;
    drv.publish(0);
    expect_error("indirect table length");
    drv = DriverRing(ram.bytes.data(), 8, kDesc, kAvail, kUsed);
  }
}

TEST_F(Hostile, IndirectTableOutsideRam) {
  q.indirect = true;
  drv.set_desc(kDesc, 0, 0xFFF0, 32, DriverRing::INDIRECT, 0);  // runs 16 bytes past RAM
  drv.publish(0);
  expect_error("indirect table past RAM");
}

TEST_F(Hostile, IndirectLoop) {
  q.indirect = true;
  drv.set_desc(kIndirect, 0, 0x8000, 8, DriverRing::NEXT, 1);
  drv.set_desc(kIndirect, 1, 0x8000, 8, DriverRing::NEXT, 0);
  drv.set_desc(kDesc, 0, kIndirect, 32, DriverRing::INDIRECT, 0);
  drv.publish(0);
  expect_error("loop inside an indirect table");
}

TEST_F(Hostile, AvailIndexJump) {
  drv.publish(drv.add_chain({{0x8000, 8, true}}));
  drv.set_avail_idx(9);  // 9 buffers in an 8-entry queue
  expect_error("available index moved by 9");
}

TEST_F(Hostile, RingsOutsideRam) {
  q.reset(256);
  q.size = 8;
  q.desc_addr = kDesc;
  q.avail_addr = 0xFFFFFFF0;
  q.used_addr = kUsed;
  ASSERT_TRUE(q.enable(256));
  expect_error("available ring past RAM");
}

TEST(VirtqueueSetup, SizeAndAlignmentChecked) {
  Virtqueue q;
  for (uint16_t size : {0, 3, 100, 512}) {
    q.reset(256);
    q.size = size;
    EXPECT_FALSE(q.enable(256)) << size;
    EXPECT_FALSE(q.enabled());
    EXPECT_TRUE(q.broken());
  }
  q.reset(256);
  q.desc_addr = 0x1008;  // descriptors need 16-byte alignment
  EXPECT_FALSE(q.enable(256));
  q.reset(256);
  q.used_addr = 0x3002;  // the used ring 4
  EXPECT_FALSE(q.enable(256));
  q.reset(256);
  EXPECT_TRUE(q.enable(256));
  EXPECT_EQ(q.size, 256);
}

TEST(VirtqueueSetup, LegacyLayout) {
  Virtqueue q;
  q.reset(256);
  ASSERT_TRUE(q.enable_legacy(5, 256));
  EXPECT_EQ(q.desc_addr, 5u * 4096);
  EXPECT_EQ(q.avail_addr, 5u * 4096 + 16 * 256);
  // avail ends at 5*4096 + 4096 + 6 + 512: the used ring on the next page.
  EXPECT_EQ(q.used_addr, 7u * 4096);
  ASSERT_TRUE(q.enable_legacy(0, 256));
  EXPECT_FALSE(q.enabled());
}

TEST_F(VirtqueueTest, SnapshotRoundTrip) {
  q.event_idx = true;
  drv.publish(drv.add_chain({{0x8000, 8, true}}));
  VirtqChain c;
  ASSERT_EQ(pop(c), Virtqueue::Pop::Chain);
  ASSERT_TRUE(q.push(ram, c.head, 8));
  std::vector<uint8_t> blob;
  SnapshotWriter w(blob);
  q.save(w);
  Virtqueue r;
  SnapshotReader rd(blob);
  r.load(rd, 256);
  EXPECT_TRUE(rd.at_end());
  EXPECT_TRUE(r.enabled());
  EXPECT_EQ(r.last_avail(), 1);
  EXPECT_EQ(r.used_idx(), 1);
  // The restored queue continues where the first stopped.
  drv.publish(drv.add_chain({{0x8000, 8, true}}));
  ASSERT_EQ(r.pop(ram, c), Virtqueue::Pop::Chain);
  ASSERT_TRUE(r.push(ram, c.head, 8));
  EXPECT_EQ(drv.used_idx(), 2);
  // A snapshot naming an impossible queue is refused.
  blob[0] = 3;  // size 3 while enabled
  SnapshotReader bad(blob);
  Virtqueue b;
  EXPECT_THROW(b.load(bad, 256), SnapshotError);
}

// ---- random rings against a reference walker ----

// What the specification allows (2.7.5, 2.7.5.3), decided by walking with a visited set.
struct Reference {
  const std::vector<uint8_t>& ram;
  bool indirect_ok;
  bool ok(uint64_t addr, uint64_t n) const { return addr <= ram.size() && n <= ram.size() - addr; }
  uint64_t le(uint64_t a, unsigned n) const { return get_le(ram.data() + a, n); }

  // nullopt: the device must report an error; else the buffers in order.
  std::optional<std::vector<VirtqBuffer>> chain(const Virtqueue& q) const {
    if (!ok(q.avail_addr, 4)) return std::nullopt;
    const uint16_t avail_idx = static_cast<uint16_t>(le(q.avail_addr + 2, 2));
    const uint16_t pending = static_cast<uint16_t>(avail_idx - q.last_avail());
    if (pending > q.size) return std::nullopt;
    if (pending == 0) return std::vector<VirtqBuffer>{};  // (empty: no error)
    const uint64_t slot = q.avail_addr + 4 + 2u * (q.last_avail() % q.size);
    if (!ok(slot, 2)) return std::nullopt;
    const uint16_t head = static_cast<uint16_t>(le(slot, 2));
    if (head >= q.size) return std::nullopt;
    std::vector<VirtqBuffer> out;
    uint64_t table = q.desc_addr;
    uint32_t n = q.size, i = head;
    bool nested = false, first = true, seen_write = false;
    std::set<uint32_t> visited;
    for (;;) {
      if (i >= n || !visited.insert(i).second) return std::nullopt;
      if (!ok(table + 16u * i, 16)) return std::nullopt;
      const uint64_t a = le(table + 16u * i, 8);
      const uint32_t len = static_cast<uint32_t>(le(table + 16u * i + 8, 4));
      const uint16_t fl = static_cast<uint16_t>(le(table + 16u * i + 12, 2));
      const uint16_t nx = static_cast<uint16_t>(le(table + 16u * i + 14, 2));
      if (fl & 4) {
        if (!indirect_ok || nested || !first || (fl & 1) || len == 0 || len % 16 ||
            len / 16 > Virtqueue::kMaxChain || !ok(a, len))
          return std::nullopt;
        table = a;
        n = len / 16;
        i = 0;
        nested = true;
        first = false;
        visited.clear();
        continue;
      }
      first = false;
      const bool w = fl & 2;
      if (!w && seen_write) return std::nullopt;
      seen_write |= w;
      if (!ok(a, len)) return std::nullopt;
      out.push_back({a, len, w});
      if (!(fl & 1)) return out;
      i = nx;
    }
  }
};

TEST(VirtqueueRandom, ThousandsOfHostileRingsMatchTheReference) {
  std::mt19937_64 rng(20240612);
  FakeRam ram(64 * 1024);
  unsigned chains = 0, errors = 0;
  for (int round = 0; round < 4000; ++round) {
    const uint16_t size = static_cast<uint16_t>(1u << (rng() % 7));  // 1..64
    Virtqueue q;
    q.reset(256);
    q.size = size;
    q.desc_addr = 0x1000;
    q.avail_addr = 0x1800;
    q.used_addr = 0x1A00;
    // Sometimes a ring partly outside RAM.
    if (rng() % 20 == 0) q.avail_addr = 0xFFFE + 2 * (rng() % 8);
    if (rng() % 20 == 0) q.used_addr = 0xFFF8 + 4 * (rng() % 8);
    ASSERT_TRUE(q.enable(256));
    q.indirect = rng() % 2;
    q.event_idx = rng() % 2;
    std::uniform_int_distribution<uint64_t> addr_any(0, 0x11000);
    auto rnd_addr = [&]() -> uint64_t {
      switch (rng() % 8) {
        case 0:
          return rng();  // anywhere in 64 bits
        case 1:
          return 0x10000 - (rng() % 64);  // at the end of RAM
        case 2:
          return 0x4000 + 16 * (rng() % 64);  // an indirect table region
        default:
          return addr_any(rng) & ~uint64_t{15};
      }
    };
    auto rnd_len = [&]() -> uint32_t {
      switch (rng() % 6) {
        case 0:
          return static_cast<uint32_t>(rng());
        case 1:
          return 16u * static_cast<uint32_t>(rng() % 80);
        default:
          return static_cast<uint32_t>(rng() % 2048);
      }
    };
    auto rnd_desc = [&](uint64_t table, unsigned count, unsigned next_range) {
      for (unsigned i = 0; i < count; ++i) {
        uint16_t flags = static_cast<uint16_t>(rng() % 8);
        if (rng() % 4 == 0) flags &= static_cast<uint16_t>(~4);  // indirect descriptors less often
        vx86::test::put_le(ram.bytes.data() + table + 16 * i, rnd_addr(), 8);
        vx86::test::put_le(ram.bytes.data() + table + 16 * i + 8, rnd_len(), 4);
        vx86::test::put_le(ram.bytes.data() + table + 16 * i + 12, flags, 2);
        vx86::test::put_le(ram.bytes.data() + table + 16 * i + 14, rng() % next_range, 2);
      }
    };
    std::fill(ram.bytes.begin(), ram.bytes.end(), 0);
    rnd_desc(q.desc_addr, size, size + 2);
    rnd_desc(0x4000, 64, 70);  // tables indirect descriptors may point at
    for (unsigned i = 0; i < size; ++i)
      vx86::test::put_le(ram.bytes.data() + 0x1800 + 4 + 2 * i, rng() % (size + 1), 2);
    // A few rounds of "the driver moved its index", each checked against the reference.
    uint16_t avail = 0;
    for (int step = 0; step < 6 && !q.broken(); ++step) {
      avail = static_cast<uint16_t>(avail + (rng() % 10 == 0 ? rng() : rng() % (size + 2)));
      if (q.avail_addr + 4 <= ram.bytes.size())
        vx86::test::put_le(ram.bytes.data() + q.avail_addr + 2, avail, 2);
      for (int k = 0; k < size + 2; ++k) {
        const Reference ref{ram.bytes, q.indirect};
        const auto want = ref.chain(q);
        VirtqChain c;
        const Virtqueue::Pop got = q.pop(ram, c);
        if (!want) {
          ASSERT_EQ(got, Virtqueue::Pop::Error) << "round " << round;
          ++errors;
          break;
        }
        if (want->empty() && got == Virtqueue::Pop::Empty) break;
        if (got == Virtqueue::Pop::Error) {
          // Only the device's own writes (avail_event with EVENT_IDX) may fail where the
          // reference, which only reads, saw nothing wrong.
          ASSERT_TRUE(q.event_idx) << "round " << round << ": " << q.error();
          ASSERT_FALSE(ram.range_ok(q.used_addr + 4 + 8u * size, 2, true));
          break;
        }
        ASSERT_EQ(got, Virtqueue::Pop::Chain) << "round " << round;
        ASSERT_EQ(c.bufs.size(), want->size());
        uint64_t rd = 0, wr = 0;
        for (size_t b = 0; b < c.bufs.size(); ++b) {
          ASSERT_EQ(c.bufs[b].addr, (*want)[b].addr);
          ASSERT_EQ(c.bufs[b].len, (*want)[b].len);
          ASSERT_EQ(c.bufs[b].writable, (*want)[b].writable);
          ASSERT_TRUE(ram.range_ok(c.bufs[b].addr, c.bufs[b].len, true));
          (c.bufs[b].writable ? wr : rd) += c.bufs[b].len;
        }
        ASSERT_EQ(c.readable, rd);
        ASSERT_EQ(c.writable, wr);
        ++chains;
        // Completions land in the used ring when it is in RAM, and break the queue when not.
        const bool used_ok = ram.range_ok(q.used_addr, 4 + 8u * size, true);
        ASSERT_EQ(q.push(ram, c.head, static_cast<uint32_t>(wr)), used_ok);
        if (!used_ok) break;
        (void)q.should_interrupt(ram);
        if (q.broken()) break;  // (used_event outside RAM: the reference does not model that read)
      }
    }
  }
  // The generator makes both kinds.
  EXPECT_GT(chains, 500u);
  EXPECT_GT(errors, 500u);
}

}  // namespace
