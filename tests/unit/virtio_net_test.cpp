// virtio-net over PCI at the register level, driven by the specification-written driver
// (virtio_driver.h): identity and configuration, transmit (plain, checksum offload, TCP
// segmentation) to a recording backend, receive from it into guest buffers (one chain, merged
// chains, waiting for buffers, frames that do not fit), DATA_VALID, the legacy interface, hostile
// chains and random rings, snapshots. Checksums are checked with a sum written out here.
#include "devices/virtio/virtio_net.h"

#include <gtest/gtest.h>

#include <random>

#include "devices/snapshot.h"
#include "virtio_driver.h"

using namespace vx86;
using vx86::test::DriverRing;
using vx86::test::get_le;
using vx86::test::put_le;
using vx86::test::Seg;

namespace {

constexpr uint64_t kRxDesc = 0x10000, kRxAvail = 0x11000, kRxUsed = 0x12000;
constexpr uint64_t kTxDesc = 0x14000, kTxAvail = 0x15000, kTxUsed = 0x16000;
constexpr uint64_t kTxHdr = 0x20000, kTxData = 0x30000, kRxBuf = 0x60000;
constexpr uint32_t kRxBufSize = 0x1000;  // receive buffer k at kRxBuf + k * kRxBufSize
// Spec values (5.1.3, 5.1.6, 2.1, 6), written here rather than taken from the device's header.
constexpr uint8_t kAck = 1, kDriver = 2, kDriverOk = 4, kFeaturesOk = 8, kNeedsReset = 0x40;
constexpr uint64_t kVersion1 = 1ull << 32, kEventIdx = 1ull << 29, kIndirect = 1ull << 28;
constexpr uint64_t kCsum = 1ull << 0, kGuestCsum = 1ull << 1, kMac = 1ull << 5, kHostTso4 = 1ull << 11;
constexpr uint64_t kMrg = 1ull << 15, kStatusF = 1ull << 16;
const MacAddress kMacAddr{0x52, 0x54, 0x00, 0xAB, 0xCD, 0xEF};

class RecordingBackend : public NetBackend {
 public:
  std::vector<std::vector<uint8_t>> sent;
  std::vector<std::vector<uint8_t>> held;  // delivered at poll() while the receiver is ready
  void poll() override {
    while (!held.empty() && receiver_ready()) {
      deliver(held.front().data(), held.front().size());
      held.erase(held.begin());
    }
  }
  std::string describe() const override { return "test"; }
  void inject(const std::vector<uint8_t>& f) { deliver(f.data(), f.size()); }

 protected:
  void transmit(const uint8_t* frame, size_t len) override { sent.emplace_back(frame, frame + len); }
};

// Reference one's-complement sum (RFC 1071), word by word.
uint32_t ref_sum(const uint8_t* p, size_t n, uint32_t s = 0) {
  for (size_t i = 0; i < n; i += 2) s += (uint32_t{p[i]} << 8) | (i + 1 < n ? p[i + 1] : 0);
  return s;
}
uint16_t ref_fold(uint32_t s) {
  while (s >> 16) s = (s & 0xFFFF) + (s >> 16);
  return static_cast<uint16_t>(s);
}
uint16_t be(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
bool ip_ok(const uint8_t* ip) { return ref_fold(ref_sum(ip, (ip[0] & 15) * 4u)) == 0xFFFF; }
bool l4_ok(const uint8_t* ip) {
  const size_t ihl = (ip[0] & 15) * 4u, len = be(ip + 2) - ihl;
  const uint32_t s = ref_sum(ip + 12, 8) + ip[9] + static_cast<uint32_t>(len);
  return ref_fold(ref_sum(ip + ihl, len, s)) == 0xFFFF;
}

// An Ethernet + IPv4 + UDP (proto 17) or TCP (6) frame with `payload` bytes, checksums valid
// unless `fill_l4_csum` is false (then the L4 field holds the pseudo-header sum, as Linux leaves
// it for the device).
std::vector<uint8_t> ip_frame(uint8_t proto, size_t payload, bool fill_l4_csum, uint32_t seed = 1) {
  const size_t l4h = proto == 6 ? 20 : 8, ip_total = 20 + l4h + payload;
  std::vector<uint8_t> f(14 + ip_total, 0);
  for (int i = 0; i < 6; ++i) f[i] = kMacAddr[i], f[6 + i] = static_cast<uint8_t>(0x10 + i);
  f[12] = 0x08;
  uint8_t* ip = f.data() + 14;
  ip[0] = 0x45;
  ip[2] = static_cast<uint8_t>(ip_total >> 8), ip[3] = static_cast<uint8_t>(ip_total);
  ip[4] = 0x12, ip[5] = 0x34, ip[6] = 0x40;  // ID, DF
  ip[8] = 64, ip[9] = proto;
  const uint8_t addrs[8] = {10, 0, 2, 15, 10, 0, 2, 2};
  std::memcpy(ip + 12, addrs, 8);
  const uint16_t ipc = static_cast<uint16_t>(~ref_fold(ref_sum(ip, 20)));
  ip[10] = static_cast<uint8_t>(ipc >> 8), ip[11] = static_cast<uint8_t>(ipc);
  uint8_t* l4 = ip + 20;
  l4[0] = 0x30, l4[1] = 0x39, l4[2] = 0x00, l4[3] = 0x16;  // ports 12345 -> 22
  if (proto == 6) {
    put_le(l4 + 4, 0, 4);
    l4[4] = 0x11, l4[5] = 0x22, l4[6] = 0x33, l4[7] = 0x44;  // sequence number
    l4[12] = 0x50, l4[13] = 0x18;                            // data offset 5, PSH|ACK
    l4[14] = 0xFF, l4[15] = 0xFF;
  } else {
    l4[4] = static_cast<uint8_t>((8 + payload) >> 8), l4[5] = static_cast<uint8_t>(8 + payload);
  }
  std::mt19937 rng(seed);
  for (size_t i = 0; i < payload; ++i) l4[l4h + i] = static_cast<uint8_t>(rng());
  const size_t csum_at = proto == 6 ? 16 : 6;
  const uint32_t pseudo = ref_sum(ip + 12, 8) + proto + static_cast<uint32_t>(l4h + payload);
  const uint16_t c =
      fill_l4_csum ? static_cast<uint16_t>(~ref_fold(ref_sum(l4, l4h + payload, pseudo))) : ref_fold(pseudo);
  l4[csum_at] = static_cast<uint8_t>(c >> 8), l4[csum_at + 1] = static_cast<uint8_t>(c);
  return f;
}

struct VirtioNetTest : ::testing::Test {
  PhysicalMemory mem{4 << 20};
  RecordingBackend backend;
  std::unique_ptr<VirtioNet> dev;
  DriverRing rx{mem.ram(), 16, kRxDesc, kRxAvail, kRxUsed};
  DriverRing tx{mem.ram(), 16, kTxDesc, kTxAvail, kTxUsed};
  uint32_t hdr_size = 12;

  VirtioNetTest() {
    dev = std::make_unique<VirtioNet>(mem, kMacAddr);
    dev->reset();
    dev->set_backend(&backend);
  }
  uint32_t common(uint32_t off, unsigned size = 4) { return dev->mmio_read(off, size); }
  void common_w(uint32_t off, uint32_t v, unsigned size = 4) { dev->mmio_write(off, v, size); }
  uint8_t status() { return static_cast<uint8_t>(common(0x14, 1)); }
  uint64_t device_features() {
    common_w(0x00, 0);
    const uint64_t lo = common(0x04);
    common_w(0x00, 1);
    return lo | uint64_t{common(0x04)} << 32;
  }
  void queue(uint16_t q, uint64_t d, uint64_t a, uint64_t u) {
    common_w(0x16, q, 2);
    common_w(0x18, 16, 2);
    for (auto [off, addr] : {std::pair{0x20u, d}, {0x28u, a}, {0x30u, u}}) {
      common_w(off, static_cast<uint32_t>(addr));
      common_w(off + 4, static_cast<uint32_t>(addr >> 32));
    }
    common_w(0x1C, 1, 2);
  }
  void start(uint64_t f = kVersion1 | kMac | kStatusF) {
    common_w(0x14, 0, 1);
    common_w(0x14, kAck | kDriver, 1);
    common_w(0x08, 0);
    common_w(0x0C, static_cast<uint32_t>(f));
    common_w(0x08, 1);
    common_w(0x0C, static_cast<uint32_t>(f >> 32));
    common_w(0x14, kAck | kDriver | kFeaturesOk, 1);
    ASSERT_TRUE(status() & kFeaturesOk);
    queue(0, kRxDesc, kRxAvail, kRxUsed);
    queue(1, kTxDesc, kTxAvail, kTxUsed);
    rx = DriverRing(mem.ram(), 16, kRxDesc, kRxAvail, kRxUsed);
    tx = DriverRing(mem.ram(), 16, kTxDesc, kTxAvail, kTxUsed);
    common_w(0x14, kAck | kDriver | kFeaturesOk | kDriverOk, 1);
  }
  void notify(uint16_t q) { dev->mmio_write(VirtioPciDevice::kNotifyOffset + 4u * q, q, 2); }
  // Transmits header + frame; the frame split in two buffers at `split`.
  void send(const std::vector<uint8_t>& frame, const uint8_t* hdr = nullptr, size_t split = 20) {
    uint8_t zero[12] = {};
    std::memcpy(mem.ram() + kTxHdr, hdr ? hdr : zero, hdr_size);
    std::memcpy(mem.ram() + kTxData, frame.data(), frame.size());
    const uint32_t a = static_cast<uint32_t>(std::min(split, frame.size()));
    std::vector<Seg> segs{{kTxHdr, hdr_size, false}, {kTxData, a, false}};
    if (frame.size() > a) segs.push_back({kTxData + a, static_cast<uint32_t>(frame.size() - a), false});
    tx.publish(tx.add_chain(segs));
    notify(1);
  }
  // Gives the device `n` receive buffers of `size` bytes each.
  void give_rx(unsigned n, uint32_t size = kRxBufSize) {
    for (unsigned k = 0; k < n; ++k) {
      const uint16_t slot = rx.next_free;
      std::memset(mem.ram() + kRxBuf + slot * kRxBufSize, 0xEE, kRxBufSize);
      rx.publish(rx.add_chain({{kRxBuf + slot * kRxBufSize, size, true}}));
    }
  }
  uint8_t* rx_buf(uint16_t used_n) { return mem.ram() + kRxBuf + rx.used_id(used_n) * kRxBufSize; }
};

TEST_F(VirtioNetTest, IdentityFeaturesAndConfig) {
  EXPECT_EQ(dev->config_read(0x00, 2), 0x1AF4u);
  EXPECT_EQ(dev->config_read(0x02, 2), 0x1000u);  // transitional network device
  EXPECT_EQ(dev->config_read(0x0A, 2), 0x0200u);  // Ethernet controller
  EXPECT_EQ(dev->config_read(0x2E, 2), 1u);       // subsystem: virtio device type 1
  const uint64_t f = device_features();
  for (uint64_t want : {kVersion1, kMac, kStatusF, kMrg, kCsum, kGuestCsum, kHostTso4, kIndirect, kEventIdx})
    EXPECT_TRUE(f & want) << std::hex << want;
  EXPECT_FALSE(f & (1ull << 17));  // no control queue
  EXPECT_EQ(common(0x12, 2), 2u);  // receiveq and transmitq
  for (unsigned i = 0; i < 6; ++i)
    EXPECT_EQ(dev->mmio_read(VirtioPciDevice::kDeviceOffset + i, 1), kMacAddr[i]);
  EXPECT_EQ(dev->mmio_read(VirtioPciDevice::kDeviceOffset + 6, 2), 1u);  // LINK_UP
  dev->set_link(false);
  EXPECT_EQ(dev->mmio_read(VirtioPciDevice::kDeviceOffset + 6, 2), 0u);
}

TEST_F(VirtioNetTest, TransmitReachesTheBackendAndInterrupts) {
  start();
  const auto frame = ip_frame(17, 300, true);
  send(frame);
  ASSERT_EQ(backend.sent.size(), 1u);
  EXPECT_EQ(backend.sent[0], frame);
  EXPECT_EQ(tx.used_idx(), 1);
  EXPECT_EQ(tx.used_len(0), 0u);
  EXPECT_TRUE(dev->intx_level());
  EXPECT_EQ(dev->mmio_read(VirtioPciDevice::kIsrOffset, 1), 1u);
  EXPECT_EQ(dev->tx_frames(), 1u);
}

TEST_F(VirtioNetTest, TransmitChecksumOffload) {
  start(kVersion1 | kCsum);
  auto frame = ip_frame(17, 501, false);  // odd length: the last byte padded in the sum
  uint8_t hdr[12] = {1};                  // NEEDS_CSUM
  put_le(hdr + 6, 34, 2);                 // csum_start: the UDP header
  put_le(hdr + 8, 6, 2);                  // csum_offset: its checksum field
  send(frame, hdr);
  ASSERT_EQ(backend.sent.size(), 1u);
  const auto& out = backend.sent[0];
  EXPECT_TRUE(l4_ok(out.data() + 14));
  EXPECT_EQ(out, ip_frame(17, 501, true));  // the same as a frame summed here
  // Without CSUM negotiated, NEEDS_CSUM is refused (dropped, counted).
  start(kVersion1);
  send(frame, hdr);
  EXPECT_EQ(backend.sent.size(), 1u);
  EXPECT_EQ(dev->tx_dropped(), 1u);
}

TEST_F(VirtioNetTest, TcpSegmentation) {
  start(kVersion1 | kCsum | kHostTso4);
  const size_t payload = 4000, mss = 1448;
  const auto packet = ip_frame(6, payload, false);
  // Linux's seed includes the packet's whole length; hdr_len is its linear part, not the headers.
  auto pkt = packet;
  uint8_t hdr[12] = {1, 1};  // NEEDS_CSUM, GSO_TCPV4
  put_le(hdr + 2, 1000, 2);  // hdr_len (not the headers' length)
  put_le(hdr + 4, mss, 2);
  put_le(hdr + 6, 34, 2);
  put_le(hdr + 8, 16, 2);
  send(pkt, hdr, 1000);
  ASSERT_EQ(backend.sent.size(), 3u);
  std::vector<uint8_t> joined;
  for (size_t k = 0; k < 3; ++k) {
    const auto& f = backend.sent[k];
    const size_t n = std::min(mss, payload - k * mss);
    ASSERT_EQ(f.size(), 54 + n);
    const uint8_t* ip = f.data() + 14;
    EXPECT_EQ(be(ip + 2), 40 + n);
    EXPECT_EQ(be(ip + 4), 0x1234 + k);  // IP ID counts up
    EXPECT_TRUE(ip_ok(ip)) << k;
    EXPECT_TRUE(l4_ok(ip)) << k;
    const uint32_t seq = uint32_t{be(ip + 24)} << 16 | be(ip + 26);
    EXPECT_EQ(seq, 0x11223344u + k * mss);
    EXPECT_EQ(ip[33] & 0x08, k == 2 ? 0x08 : 0);  // PSH on the last segment only
    joined.insert(joined.end(), f.begin() + 54, f.end());
  }
  EXPECT_EQ(joined, std::vector<uint8_t>(packet.begin() + 54, packet.end()));
  // GSO without HOST_TSO4, or a header that is not TCP/IPv4 at csum_start: dropped.
  auto bad = packet;
  put_le(hdr + 6, 30, 2);
  send(bad, hdr);
  EXPECT_EQ(backend.sent.size(), 3u);
  EXPECT_EQ(dev->tx_dropped(), 1u);
}

TEST_F(VirtioNetTest, ReceiveWritesHeaderAndFrame) {
  start();
  give_rx(2);
  notify(0);
  const auto frame = ip_frame(17, 200, true);
  backend.inject(frame);
  ASSERT_EQ(rx.used_idx(), 1);
  EXPECT_EQ(rx.used_len(0), 12 + frame.size());
  const uint8_t* b = rx_buf(0);
  EXPECT_EQ(b[0], 0);                // flags: no DATA_VALID without GUEST_CSUM
  EXPECT_EQ(get_le(b + 10, 2), 1u);  // num_buffers
  EXPECT_EQ(std::vector<uint8_t>(b + 12, b + 12 + frame.size()), frame);
  EXPECT_EQ(b[12 + frame.size()], 0xEE);  // nothing beyond
  EXPECT_TRUE(dev->intx_level());
}

TEST_F(VirtioNetTest, ReceiveWaitsForBuffersThenDelivers) {
  start(kVersion1 | kEventIdx);
  const auto a = ip_frame(17, 100, true, 1), b = ip_frame(6, 700, true, 2);
  backend.inject(a);
  backend.inject(b);
  EXPECT_EQ(dev->rx_fifo_frames(), 2u);
  EXPECT_EQ(rx.used_idx(), 0);
  give_rx(1);
  notify(0);
  ASSERT_EQ(rx.used_idx(), 1);
  EXPECT_EQ(std::vector<uint8_t>(rx_buf(0) + 12, rx_buf(0) + 12 + a.size()), a);
  EXPECT_EQ(rx.avail_event(), 1);  // (event index) notify with the next buffer
  give_rx(1);
  notify(0);
  ASSERT_EQ(rx.used_idx(), 2);
  EXPECT_EQ(std::vector<uint8_t>(rx_buf(1) + 12, rx_buf(1) + 12 + b.size()), b);
  EXPECT_EQ(dev->rx_fifo_frames(), 0u);
  // A full FIFO makes the device not ready: the backend holds the rest, handed over on notify.
  for (int i = 0; i < 200; ++i) backend.held.push_back(ip_frame(17, 1400, true, 10 + i));
  backend.poll();
  EXPECT_FALSE(dev->ready());
  EXPECT_GT(backend.held.size(), 0u);
  give_rx(16);
  notify(0);
  EXPECT_EQ(rx.used_idx(), 18);
  EXPECT_EQ(dev->rx_dropped(), 0u);
}

TEST_F(VirtioNetTest, MergeableBuffers) {
  start(kVersion1 | kMrg);
  give_rx(4, 1000);
  notify(0);
  const auto frame = ip_frame(6, 2400, true);  // 2454 bytes + 12: three buffers
  backend.inject(frame);
  ASSERT_EQ(rx.used_idx(), 3);
  EXPECT_EQ(rx.used_len(0), 1000u);
  EXPECT_EQ(rx.used_len(1), 1000u);
  EXPECT_EQ(rx.used_len(2), frame.size() + 12 - 2000);
  EXPECT_EQ(get_le(rx_buf(0) + 10, 2), 3u);
  std::vector<uint8_t> got(rx_buf(0) + 12, rx_buf(0) + 1000);
  got.insert(got.end(), rx_buf(1), rx_buf(1) + 1000);
  got.insert(got.end(), rx_buf(2), rx_buf(2) + rx.used_len(2));
  EXPECT_EQ(got, frame);
  // Not enough buffers for the next one: it waits (the popped buffer is given back).
  backend.inject(frame);
  EXPECT_EQ(rx.used_idx(), 3);
  EXPECT_EQ(dev->rx_fifo_frames(), 1u);
  give_rx(2, 1000);
  notify(0);
  EXPECT_EQ(rx.used_idx(), 6);
  EXPECT_EQ(get_le(rx_buf(3) + 10, 2), 3u);
}

TEST_F(VirtioNetTest, FrameLargerThanTheBufferIsDroppedAndCounted) {
  start();
  give_rx(1, 200);
  notify(0);
  backend.inject(ip_frame(17, 400, true));
  EXPECT_EQ(rx.used_idx(), 0);
  EXPECT_EQ(dev->rx_dropped(), 1u);
  const auto small = ip_frame(17, 50, true);
  backend.inject(small);  // the buffer was kept for it
  ASSERT_EQ(rx.used_idx(), 1);
  EXPECT_EQ(std::vector<uint8_t>(rx_buf(0) + 12, rx_buf(0) + 12 + small.size()), small);
}

TEST_F(VirtioNetTest, DataValidOnlyForVerifiedChecksums) {
  start(kVersion1 | kGuestCsum);
  give_rx(3);
  notify(0);
  backend.inject(ip_frame(17, 300, true));
  auto bad = ip_frame(6, 300, true);
  bad[100] ^= 1;
  backend.inject(bad);
  backend.inject(ip_frame(6, 301, true));
  ASSERT_EQ(rx.used_idx(), 3);
  EXPECT_EQ(rx_buf(0)[0], 2);  // DATA_VALID
  EXPECT_EQ(rx_buf(1)[0], 0);
  EXPECT_EQ(rx_buf(2)[0], 2);
}

TEST_F(VirtioNetTest, LegacyInterfaceUsesTenByteHeaders) {
  // The legacy BAR: features (no VERSION_1, no MRG_RXBUF), queues by page frame, notify register.
  auto io_w = [&](uint32_t off, uint32_t v, unsigned size) {
    dev->io_write(static_cast<uint16_t>(off), v, size);
  };
  dev->config_write(0x10, 0, 4);  // BAR0 at I/O 0
  io_w(0x12, kAck | kDriver, 1);
  io_w(0x04, static_cast<uint32_t>(kMac), 4);
  for (uint16_t q = 0; q < 2; ++q) {
    io_w(0x0E, q, 2);
    ASSERT_EQ(dev->io_read(0x0C, 2), 256u);
    io_w(0x08, 0x100 + 0x40 * q, 4);
  }
  io_w(0x12, kAck | kDriver | kDriverOk, 1);
  EXPECT_EQ(dev->io_read(0x14, 1), kMacAddr[0]);  // the configuration at 0x14
  DriverRing lrx = DriverRing::legacy(mem.ram(), 256, 0x100), ltx = DriverRing::legacy(mem.ram(), 256, 0x140);
  const auto frame = ip_frame(17, 64, true);
  std::memset(mem.ram() + kTxHdr, 0, 10);
  std::memcpy(mem.ram() + kTxHdr + 10, frame.data(), frame.size());
  ltx.publish(ltx.add_chain({{kTxHdr, static_cast<uint32_t>(10 + frame.size()), false}}));
  io_w(0x10, 1, 2);
  ASSERT_EQ(backend.sent.size(), 1u);
  EXPECT_EQ(backend.sent[0], frame);
  lrx.publish(lrx.add_chain({{kRxBuf, 2000, true}}));
  io_w(0x10, 0, 2);
  backend.inject(frame);
  ASSERT_EQ(lrx.used_idx(), 1);
  EXPECT_EQ(lrx.used_len(0), 10 + frame.size());
  EXPECT_EQ(std::vector<uint8_t>(mem.ram() + kRxBuf + 10, mem.ram() + kRxBuf + 10 + frame.size()), frame);
}

TEST_F(VirtioNetTest, HostileTransmitChains) {
  start();
  // Shorter than the header, or only an Ethernet header's worth missing: dropped, chain returned.
  tx.publish(tx.add_chain({{kTxHdr, 8, false}}));
  tx.publish(tx.add_chain({{kTxHdr, 12 + 10, false}}));
  // Larger than any packet: dropped.
  tx.publish(tx.add_chain({{kTxData, 0x20000, false}}));
  notify(1);
  EXPECT_EQ(tx.used_idx(), 3);
  EXPECT_EQ(dev->tx_dropped(), 3u);
  EXPECT_TRUE(backend.sent.empty());
  EXPECT_FALSE(status() & kNeedsReset);
  // A buffer outside RAM: a device error.
  tx.publish(tx.add_chain({{kTxHdr, 12, false}, {uint64_t{1} << 40, 100, false}}));
  notify(1);
  EXPECT_TRUE(status() & kNeedsReset);
  EXPECT_TRUE(backend.sent.empty());
  // Receiving into a broken device does nothing.
  backend.inject(ip_frame(17, 10, true));
  EXPECT_EQ(dev->rx_fifo_frames(), 0u);
}

TEST_F(VirtioNetTest, RandomRingsNeverCrash) {
  std::mt19937_64 rng(12);
  for (int round = 0; round < 200; ++round) {
    start((device_features() & rng()) | kVersion1);
    for (int step = 0; step < 50; ++step) {
      // Random descriptors and ring words in both queues, random frames, random notifies.
      for (uint64_t base : {kRxDesc, kTxDesc}) {
        for (int i = 0; i < 4; ++i) {
          uint8_t* d = mem.ram() + base + 16 * (rng() % 16);
          const uint64_t v = rng();
          put_le(d, rng() % 2 ? v % (5 << 20) : v, 8);
          put_le(d + 8, rng() % 3 ? rng() % 5000 : rng(), 4);
          put_le(d + 12, rng() % 8, 2);
          put_le(d + 14, rng() % 20, 2);
        }
        put_le(mem.ram() + base + 0x1000 + 4 + 2 * (rng() % 16), rng() % 18, 2);
        if (rng() % 4 == 0) put_le(mem.ram() + base + 0x1000 + 2, rng() % 40, 2);
      }
      if (rng() % 2) {
        std::vector<uint8_t> f(rng() % 3000);
        for (auto& b : f) b = static_cast<uint8_t>(rng());
        if (f.size() > 40 && rng() % 2) f = ip_frame(rng() % 2 ? 6 : 17, rng() % 1400, rng() % 2, 5);
        backend.inject(f);
      }
      notify(static_cast<uint16_t>(rng() % 3));
      if (rng() % 50 == 0) common_w(0x14, 0, 1);
    }
  }
  SUCCEED();
}

TEST_F(VirtioNetTest, SnapshotKeepsWaitingFrames) {
  start(kVersion1 | kMrg | kEventIdx);
  const auto frame = ip_frame(17, 900, true);
  backend.inject(frame);
  ASSERT_EQ(dev->rx_fifo_frames(), 1u);
  std::vector<uint8_t> blob;
  SnapshotWriter w(blob);
  dev->save(w);
  auto other = std::make_unique<VirtioNet>(mem, kMacAddr);
  other->reset();
  SnapshotReader r(blob);
  other->load(r);
  EXPECT_TRUE(r.at_end());
  dev = std::move(other);
  dev->set_backend(&backend);
  EXPECT_EQ(dev->driver_features(), kVersion1 | kMrg | kEventIdx);
  give_rx(1);
  notify(0);
  ASSERT_EQ(rx.used_idx(), 1);
  EXPECT_EQ(std::vector<uint8_t>(rx_buf(0) + 12, rx_buf(0) + 12 + frame.size()), frame);
  // Another MAC refuses the snapshot.
  VirtioNet third(mem, MacAddress{2, 0, 0, 0, 0, 1});
  SnapshotReader r2(blob);
  EXPECT_THROW(third.load(r2), SnapshotError);
}

}  // namespace
