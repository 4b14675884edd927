// The e1000 (82540EM) NIC alone: registers through its MMIO window, descriptor rings in a small
// guest RAM, a backend that records what the NIC sends.
#include "devices/e1000.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <random>
#include <vector>

#include "devices/e1000_regs.h"
#include "devices/snapshot.h"

using namespace vx86;
using namespace vx86::e1000;

namespace {

class RecordingBackend : public NetBackend {
 public:
  std::vector<std::vector<uint8_t>> sent;
  void poll() override {}
  std::string describe() const override { return "test"; }
  void inject(const std::vector<uint8_t>& f) { deliver(f.data(), f.size()); }

 protected:
  void transmit(const uint8_t* frame, size_t len) override { sent.emplace_back(frame, frame + len); }
};

// Reference one's-complement sum, written out word by word (RFC 1071).
uint32_t ref_sum(const uint8_t* p, size_t n, uint32_t s = 0) {
  for (size_t i = 0; i < n; i += 2) s += (uint32_t{p[i]} << 8) | (i + 1 < n ? p[i + 1] : 0);
  return s;
}
uint16_t ref_fold(uint32_t s) {
  while (s >> 16) s = (s & 0xFFFF) + (s >> 16);
  return static_cast<uint16_t>(s);
}
// A valid checksum makes the sum over the covered bytes (field included) 0xFFFF.
bool ip_header_ok(const uint8_t* ip) { return ref_fold(ref_sum(ip, (ip[0] & 15) * 4u)) == 0xFFFF; }
bool l4_ok(const uint8_t* ip, size_t ip_total, uint8_t proto) {
  const size_t ihl = (ip[0] & 15) * 4u;
  const size_t l4len = ip_total - ihl;
  uint32_t s = ref_sum(ip + 12, 8);  // pseudo-header: addresses, protocol, length
  s += proto;
  s += static_cast<uint32_t>(l4len);
  return ref_fold(ref_sum(ip + ihl, l4len, s)) == 0xFFFF;
}
uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) { return uint32_t{be16(p)} << 16 | be16(p + 2); }

constexpr MacAddress kMac{0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
constexpr uint32_t kTxRing = 0x10000, kRxRing = 0x20000, kTxBuf = 0x40000, kRxBuf = 0x80000;

struct NicTest : ::testing::Test {
  uint64_t icount = 0;
  Clock clock{Clock::Mode::Deterministic, &icount};
  PhysicalMemory mem{4 * 1024 * 1024};
  E1000 nic{clock, mem, kMac};
  RecordingBackend backend;

  NicTest() { nic.set_backend(&backend); }
  ~NicTest() override { nic.set_backend(nullptr); }

  void w(uint32_t reg, uint32_t v) { nic.mmio_write(reg, v, 4); }
  uint32_t r(uint32_t reg) { return nic.mmio_read(reg, 4); }
  void put(uint32_t addr, const void* p, size_t n) { std::memcpy(mem.ram() + addr, p, n); }
  uint8_t* at(uint32_t addr) { return mem.ram() + addr; }

  void tx_desc(unsigned i, uint64_t addr, uint32_t lower, uint32_t upper, uint32_t ring = kTxRing) {
    uint8_t d[16];
    for (int k = 0; k < 8; ++k) d[k] = static_cast<uint8_t>(addr >> (8 * k));
    for (int k = 0; k < 4; ++k) d[8 + k] = static_cast<uint8_t>(lower >> (8 * k));
    for (int k = 0; k < 4; ++k) d[12 + k] = static_cast<uint8_t>(upper >> (8 * k));
    put(ring + 16 * i, d, 16);
  }
  void setup_tx(unsigned descriptors = 8) {
    w(TDBAL, kTxRing);
    w(TDBAH, 0);
    w(TDLEN, descriptors * 16);
    w(TDH, 0);
    w(TDT, 0);
    w(TCTL, TCTL_EN | TCTL_PSP);
  }
  void setup_rx(unsigned descriptors = 8, uint32_t rctl_extra = 0, uint32_t buf_size = 2048) {
    for (unsigned i = 0; i < descriptors; ++i) {
      uint8_t d[16] = {};
      const uint64_t a = kRxBuf + uint64_t{i} * buf_size;
      for (int k = 0; k < 8; ++k) d[k] = static_cast<uint8_t>(a >> (8 * k));
      put(kRxRing + 16 * i, d, 16);
    }
    w(RDBAL, kRxRing);
    w(RDLEN, descriptors * 16);
    w(RDH, 0);
    w(RDT, descriptors - 1);  // all but one descriptor belong to the NIC
    w(RCTL, RCTL_EN | RCTL_BAM | rctl_extra);
  }
  std::vector<uint8_t> frame(size_t len, const MacAddress& dst = kMac, uint8_t fill = 0xA5) {
    std::vector<uint8_t> f(len, fill);
    std::memcpy(f.data(), dst.data(), 6);
    const uint8_t src[6] = {0x52, 0x54, 0x00, 0xAA, 0xBB, 0xCC};
    std::memcpy(f.data() + 6, src, 6);
    f[12] = 0x08;
    f[13] = 0x00;
    for (size_t i = 14; i < len; ++i) f[i] = static_cast<uint8_t>(i * 7 + fill);
    return f;
  }
};

// ---- EEPROM and PHY ----

TEST_F(NicTest, EepromThroughEerdHoldsMacAndChecksum) {
  uint16_t sum = 0;
  std::vector<uint16_t> words;
  for (unsigned i = 0; i < 64; ++i) {
    w(EERD, i << 8 | 1);
    const uint32_t v = r(EERD);
    ASSERT_TRUE(v & 0x10) << "DONE";
    words.push_back(static_cast<uint16_t>(v >> 16));
    sum = static_cast<uint16_t>(sum + words.back());
  }
  EXPECT_EQ(sum, 0xBABA);
  EXPECT_EQ(words[0], 0x5452);
  EXPECT_EQ(words[1], 0x1200);
  EXPECT_EQ(words[2], 0x5634);
  EXPECT_EQ(words[0x0D], 0x100E);
  EXPECT_EQ(words[0x0E], 0x8086);
}

// The Microwire protocol as Linux's e1000_read_eeprom drives it for the 82540.
uint16_t bitbang_read(NicTest& t, unsigned addr, unsigned words = 1, std::vector<uint16_t>* more = nullptr) {
  uint32_t eecd = t.r(EECD);
  eecd |= E1000Eeprom::REQ;
  t.w(EECD, eecd);
  EXPECT_TRUE(t.r(EECD) & E1000Eeprom::GNT);
  eecd &= ~(E1000Eeprom::DI | E1000Eeprom::SK);
  t.w(EECD, eecd);
  eecd |= E1000Eeprom::CS;
  t.w(EECD, eecd);
  auto shift_out = [&](uint32_t data, int count) {
    for (int i = count - 1; i >= 0; --i) {
      eecd = (data >> i & 1) ? eecd | E1000Eeprom::DI : eecd & ~E1000Eeprom::DI;
      t.w(EECD, eecd);
      t.w(EECD, eecd | E1000Eeprom::SK);
      t.w(EECD, eecd);
    }
  };
  auto shift_in = [&] {
    uint16_t d = 0;
    for (int i = 0; i < 16; ++i) {
      t.w(EECD, eecd | E1000Eeprom::SK);
      d = static_cast<uint16_t>(d << 1 | ((t.r(EECD) & E1000Eeprom::DO) ? 1 : 0));
      t.w(EECD, eecd);
    }
    return d;
  };
  shift_out(0x6, 3);  // start bit + READ
  shift_out(addr, 6);
  const uint16_t first = shift_in();
  for (unsigned k = 1; k < words && more; ++k) more->push_back(shift_in());  // sequential read
  t.w(EECD, eecd & ~(E1000Eeprom::CS | E1000Eeprom::REQ));
  return first;
}

TEST_F(NicTest, EepromBitBangedReadsEqualEerd) {
  for (unsigned i = 0; i < 64; ++i) {
    w(EERD, i << 8 | 1);
    ASSERT_EQ(bitbang_read(*this, i), r(EERD) >> 16) << "word " << i;
  }
  std::vector<uint16_t> seq;
  const uint16_t w0 = bitbang_read(*this, 0, 3, &seq);  // on into words 1 and 2
  ASSERT_EQ(seq.size(), 2u);
  EXPECT_EQ(w0, 0x5452);
  EXPECT_EQ(seq[0], 0x1200);
  EXPECT_EQ(seq[1], 0x5634);
}

uint32_t mdic(NicTest& t, uint32_t op, unsigned phy, unsigned reg, uint16_t data = 0) {
  t.w(MDIC, op | phy << 21 | reg << 16 | data);
  return t.r(MDIC);
}

TEST_F(NicTest, PhyThroughMdic) {
  uint32_t v = mdic(*this, MDIC_OP_READ, 1, E1000Phy::ID1);
  EXPECT_TRUE(v & MDIC_READY);
  EXPECT_FALSE(v & MDIC_ERROR);
  EXPECT_EQ(v & 0xFFFF, 0x0141u);
  EXPECT_EQ(mdic(*this, MDIC_OP_READ, 1, E1000Phy::ID2) & 0xFFFF, 0x0C20u);
  EXPECT_TRUE(mdic(*this, MDIC_OP_READ, 1, E1000Phy::STATUS) & E1000Phy::STATUS_LINK);
  // A writable register keeps what is written; the status register is read-only.
  mdic(*this, MDIC_OP_WRITE, 1, E1000Phy::AUTONEG_ADV, 0x01E1);
  EXPECT_EQ(mdic(*this, MDIC_OP_READ, 1, E1000Phy::AUTONEG_ADV) & 0xFFFF, 0x01E1u);
  // Another PHY address, a register the PHY lacks: error bit.
  EXPECT_TRUE(mdic(*this, MDIC_OP_READ, 2, E1000Phy::ID1) & MDIC_ERROR);
  EXPECT_TRUE(mdic(*this, MDIC_OP_READ, 1, 0x1F) & MDIC_ERROR);
  // MDIC.I: the MDAC interrupt cause.
  r(ICR);
  mdic(*this, MDIC_OP_READ | MDIC_INT, 1, E1000Phy::ID1);
  EXPECT_TRUE(r(ICR) & ICR_MDAC);
  // A PHY reset through its control register leaves the link up and negotiated.
  mdic(*this, MDIC_OP_WRITE, 1, E1000Phy::CTRL, E1000Phy::CTRL_RESET);
  EXPECT_TRUE(mdic(*this, MDIC_OP_READ, 1, E1000Phy::STATUS) & E1000Phy::STATUS_AN_COMPLETE);
  EXPECT_TRUE(r(STATUS) & STATUS_LU);
}

TEST_F(NicTest, LinkDownClearsStatusAndRaisesLsc) {
  r(ICR);
  nic.set_link(false);
  EXPECT_FALSE(r(STATUS) & STATUS_LU);
  EXPECT_TRUE(r(ICR) & ICR_LSC);
  EXPECT_FALSE(mdic(*this, MDIC_OP_READ, 1, E1000Phy::STATUS) & E1000Phy::STATUS_LINK);
  nic.set_link(true);
  EXPECT_TRUE(r(STATUS) & STATUS_LU);
}

// ---- transmit ----

TEST_F(NicTest, LegacyDescriptorsGatherOneFrameAndWriteBackDd) {
  setup_tx();
  auto f = frame(100);
  put(kTxBuf, f.data(), 40);
  put(kTxBuf + 0x1000, f.data() + 40, 60);
  tx_desc(0, kTxBuf, 40, 0);
  tx_desc(1, kTxBuf + 0x1000, 60 | TXD_CMD_EOP | TXD_CMD_IFCS | TXD_CMD_RS, 0);
  r(ICR);
  w(TDT, 2);
  ASSERT_EQ(backend.sent.size(), 1u);
  EXPECT_EQ(backend.sent[0], f);
  EXPECT_EQ(r(TDH), 2u);
  EXPECT_EQ(at(kTxRing + 16 + 12)[0] & TXD_STAT_DD, TXD_STAT_DD);  // RS: written back
  EXPECT_EQ(at(kTxRing + 12)[0] & TXD_STAT_DD, 0);                 // no RS: untouched
  const uint32_t icr = r(ICR);
  EXPECT_TRUE(icr & ICR_TXDW);
  EXPECT_TRUE(icr & ICR_TXQE);
  // Statistics: one good packet, 100 + 4 (FCS) octets; cleared by reading.
  EXPECT_EQ(r(GPTC), 1u);
  EXPECT_EQ(r(GPTC), 0u);
  EXPECT_EQ(r(GOTCL), 104u);
  r(GOTCH);
  EXPECT_EQ(r(GOTCL), 0u);
}

TEST_F(NicTest, ShortFramesArePaddedWithPsp) {
  setup_tx();
  auto f = frame(42);
  put(kTxBuf, f.data(), f.size());
  tx_desc(0, kTxBuf, 42 | TXD_CMD_EOP, 0);
  w(TDT, 1);
  ASSERT_EQ(backend.sent.size(), 1u);
  ASSERT_EQ(backend.sent[0].size(), 60u);
  EXPECT_TRUE(std::equal(f.begin(), f.end(), backend.sent[0].begin()));
  EXPECT_EQ(backend.sent[0][59], 0);
}

TEST_F(NicTest, LegacyChecksumInsertion) {
  setup_tx();
  auto f = frame(80);
  f[30] = f[31] = 0;  // the field (CSO 30) starts at 0; the sum runs from CSS 20 to the end
  put(kTxBuf, f.data(), f.size());
  tx_desc(0, kTxBuf, 80 | 30u << 16 | TXD_CMD_EOP | TXD_CMD_IC, 20u << 8);
  w(TDT, 1);
  ASSERT_EQ(backend.sent.size(), 1u);
  const auto& s = backend.sent[0];
  EXPECT_EQ(ref_fold(ref_sum(s.data() + 20, 60)), 0xFFFF);
}

// An IPv4/UDP frame, its UDP checksum seeded with the pseudo-header sum (as Linux does).
std::vector<uint8_t> udp_frame(size_t payload) {
  std::vector<uint8_t> f(14 + 20 + 8 + payload);
  for (size_t i = 0; i < f.size(); ++i) f[i] = static_cast<uint8_t>(i * 13 + 1);
  uint8_t* ip = f.data() + 14;
  f[12] = 0x08, f[13] = 0x00;
  ip[0] = 0x45, ip[1] = 0;
  ip[2] = static_cast<uint8_t>((20 + 8 + payload) >> 8), ip[3] = static_cast<uint8_t>(20 + 8 + payload);
  ip[6] = ip[7] = 0;
  ip[8] = 64, ip[9] = 17, ip[10] = ip[11] = 0;
  uint8_t* udp = ip + 20;
  udp[4] = static_cast<uint8_t>((8 + payload) >> 8), udp[5] = static_cast<uint8_t>(8 + payload);
  const uint16_t seed = ref_fold(ref_sum(ip + 12, 8) + 17 + static_cast<uint32_t>(8 + payload));
  udp[6] = static_cast<uint8_t>(seed >> 8), udp[7] = static_cast<uint8_t>(seed);
  return f;
}

TEST_F(NicTest, ContextAndDataDescriptorsOffloadIpAndUdpChecksums) {
  setup_tx();
  auto f = udp_frame(300);
  put(kTxBuf, f.data(), f.size());
  // Context: IP checksum over 14..33 at 24, UDP from 34 to the end at 40.
  tx_desc(0, 14 | 24u << 8 | 33u << 16 | uint64_t{34} << 32 | uint64_t{40} << 40,
          TXD_CMD_DEXT | TXD_DTYP_C | TXD_TUCMD_IP, 0);
  tx_desc(1, kTxBuf, static_cast<uint32_t>(f.size()) | TXD_CMD_DEXT | TXD_DTYP_D | TXD_CMD_EOP | TXD_CMD_RS,
          (TXD_POPTS_IXSM | TXD_POPTS_TXSM) << 8);
  w(TDT, 2);
  ASSERT_EQ(backend.sent.size(), 1u);
  const uint8_t* ip = backend.sent[0].data() + 14;
  EXPECT_TRUE(ip_header_ok(ip));
  EXPECT_TRUE(l4_ok(ip, backend.sent[0].size() - 14, 17));
  EXPECT_EQ(at(kTxRing + 16 + 12)[0] & TXD_STAT_DD, TXD_STAT_DD);
}

// A TCP packet of 54 header bytes and `payload` bytes, as Linux hands it to TSO: IP length and
// checksum 0, TCP checksum seeded with the pseudo-header sum without the length.
std::vector<uint8_t> tso_packet(size_t payload) {
  std::vector<uint8_t> p(54 + payload);
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>(i * 31 + 5);
  p[12] = 0x08, p[13] = 0x00;
  uint8_t* ip = p.data() + 14;
  ip[0] = 0x45, ip[1] = 0, ip[2] = ip[3] = 0;
  ip[4] = 0x12, ip[5] = 0x34;  // IP ID
  ip[6] = 0x40, ip[7] = 0;
  ip[8] = 64, ip[9] = 6, ip[10] = ip[11] = 0;
  uint8_t* tcp = ip + 20;
  tcp[4] = 0x10, tcp[5] = 0x20, tcp[6] = 0x30, tcp[7] = 0x40;  // sequence number
  tcp[12] = 0x50;
  tcp[13] = 0x18 | 0x01;  // ACK, PSH, FIN
  const uint16_t seed = ref_fold(ref_sum(ip + 12, 8) + 6);
  tcp[16] = static_cast<uint8_t>(seed >> 8), tcp[17] = static_cast<uint8_t>(seed);
  return p;
}

TEST_F(NicTest, TcpSegmentationOffload) {
  setup_tx(16);
  const size_t payload = 4000, mss = 1460;
  auto p = tso_packet(payload);
  put(kTxBuf, p.data(), p.size());
  // TSO context: IP 14..33 (checksum at 24), TCP from 34 (checksum at 50), header 54, MSS 1460.
  tx_desc(
      0, 14 | 24u << 8 | 33u << 16 | uint64_t{34} << 32 | uint64_t{50} << 40,
      static_cast<uint32_t>(payload) | TXD_CMD_DEXT | TXD_DTYP_C | TXD_CMD_TSE | TXD_TUCMD_IP | TXD_TUCMD_TCP,
      54u << 8 | static_cast<uint32_t>(mss) << 16);
  // The packet in three data descriptors (the header alone first, as Linux does).
  const uint32_t d = TXD_CMD_DEXT | TXD_DTYP_D | TXD_CMD_TSE;
  const uint32_t popts = (TXD_POPTS_IXSM | TXD_POPTS_TXSM) << 8;
  tx_desc(1, kTxBuf, 54 | d, popts);
  tx_desc(2, kTxBuf + 54, 2000 | d, popts);
  tx_desc(3, kTxBuf + 2054, 2000 | d | TXD_CMD_EOP | TXD_CMD_RS, popts);
  w(TDT, 4);
  ASSERT_EQ(backend.sent.size(), 3u);
  std::vector<uint8_t> data;
  for (size_t k = 0; k < 3; ++k) {
    const auto& s = backend.sent[k];
    const size_t n = k < 2 ? mss : payload - 2 * mss;
    ASSERT_EQ(s.size(), 54 + n) << "segment " << k;
    const uint8_t* ip = s.data() + 14;
    EXPECT_EQ(be16(ip + 2), 40 + n);
    EXPECT_EQ(be16(ip + 4), 0x1234 + k);
    EXPECT_TRUE(ip_header_ok(ip)) << "segment " << k;
    EXPECT_TRUE(l4_ok(ip, s.size() - 14, 6)) << "segment " << k;
    EXPECT_EQ(be32(ip + 24), 0x10203040u + k * mss);
    EXPECT_EQ(ip[33] & 0x09, k == 2 ? 0x09 : 0x00) << "FIN/PSH on the last segment only";
    EXPECT_TRUE(std::equal(s.begin(), s.begin() + 14, p.begin()));
    data.insert(data.end(), s.begin() + 54, s.end());
  }
  EXPECT_TRUE(std::equal(data.begin(), data.end(), p.begin() + 54));
  EXPECT_EQ(r(TSCTC), 1u);
}

TEST_F(NicTest, TsoAndChecksumContextsAreSeparate) {
  // A TSO context, then a checksum context, then a TSO packet: it must use the TSO context.
  setup_tx(16);
  auto p = tso_packet(2000);
  put(kTxBuf, p.data(), p.size());
  tx_desc(0, 14 | 24u << 8 | 33u << 16 | uint64_t{34} << 32 | uint64_t{50} << 40,
          2000 | TXD_CMD_DEXT | TXD_DTYP_C | TXD_CMD_TSE | TXD_TUCMD_IP | TXD_TUCMD_TCP,
          54u << 8 | 1000u << 16);
  tx_desc(1, 14 | 24u << 8 | 33u << 16 | uint64_t{34} << 32 | uint64_t{40} << 40,
          TXD_CMD_DEXT | TXD_DTYP_C | TXD_TUCMD_IP, 0);
  tx_desc(2, kTxBuf, static_cast<uint32_t>(p.size()) | TXD_CMD_DEXT | TXD_DTYP_D | TXD_CMD_TSE | TXD_CMD_EOP,
          (TXD_POPTS_IXSM | TXD_POPTS_TXSM) << 8);
  w(TDT, 3);
  ASSERT_EQ(backend.sent.size(), 2u);
  for (const auto& s : backend.sent) EXPECT_TRUE(l4_ok(s.data() + 14, s.size() - 14, 6));
}

TEST_F(NicTest, TransmitRingWraps) {
  setup_tx(8);
  w(TDH, 6);
  w(TDT, 6);
  for (unsigned i = 0; i < 4; ++i) {
    auto f = frame(64, kMac, static_cast<uint8_t>(i));
    put(kTxBuf + i * 0x100, f.data(), f.size());
    tx_desc((6 + i) % 8, kTxBuf + i * 0x100, 64 | TXD_CMD_EOP | TXD_CMD_RS, 0);
  }
  w(TDT, 2);  // descriptors 6, 7, 0, 1
  ASSERT_EQ(backend.sent.size(), 4u);
  for (unsigned i = 0; i < 4; ++i) EXPECT_EQ(backend.sent[i], frame(64, kMac, static_cast<uint8_t>(i)));
  EXPECT_EQ(r(TDH), 2u);
}

TEST_F(NicTest, BadTransmitDescriptorsAreContained) {
  setup_tx(8);
  // A buffer outside RAM: the frame is dropped, the ring goes on.
  tx_desc(0, 0xF0000000u, 64 | TXD_CMD_EOP | TXD_CMD_RS, 0);
  // A 64-bit address beyond 4 GiB.
  tx_desc(1, uint64_t{1} << 40, 64 | TXD_CMD_EOP, 0);
  // Zero length with EOP: nothing to send.
  tx_desc(2, kTxBuf, TXD_CMD_EOP, 0);
  // Huge lengths: a packet that outgrows the TSO limit is dropped whole.
  tx_desc(3, kTxBuf, 0xFFFFF | TXD_CMD_DEXT | TXD_DTYP_D, 0);
  tx_desc(4, kTxBuf, 0xFFFFF | TXD_CMD_DEXT | TXD_DTYP_D | TXD_CMD_EOP, 0);
  // Then a good frame.
  auto f = frame(64);
  put(kTxBuf, f.data(), f.size());
  tx_desc(5, kTxBuf, 64 | TXD_CMD_EOP, 0);
  w(TDT, 6);
  ASSERT_EQ(backend.sent.size(), 1u);
  EXPECT_EQ(backend.sent[0], f);
  EXPECT_EQ(r(TDH), 6u);
  EXPECT_GE(nic.guest_errors(), 3u);
  // A tail beyond the ring: nothing runs.
  w(TDT, 200);
  EXPECT_EQ(r(TDH), 6u);
  // A ring outside RAM: stops at once.
  w(TDBAL, 0xFFFF0000u);
  w(TDH, 0);
  w(TDT, 3);
  EXPECT_EQ(r(TDH), 0u);
  EXPECT_EQ(backend.sent.size(), 1u);
}

// ---- receive ----

TEST_F(NicTest, ReceiveWritesBufferFcsAndDescriptor) {
  setup_rx();
  r(ICR);
  w(IMS, ICR_RXT0);
  auto f = frame(200);
  backend.inject(f);
  EXPECT_EQ(r(RDH), 1u);
  EXPECT_TRUE(std::equal(f.begin(), f.end(), at(kRxBuf)));
  const uint32_t crc = static_cast<uint32_t>(crc32(0, f.data(), static_cast<uInt>(f.size())));
  uint32_t fcs;
  std::memcpy(&fcs, at(kRxBuf + 200), 4);
  EXPECT_EQ(fcs, crc);
  const uint8_t* d = at(kRxRing);
  EXPECT_EQ(d[8] | d[9] << 8, 204);
  EXPECT_EQ(d[12] & (RXD_STAT_DD | RXD_STAT_EOP), RXD_STAT_DD | RXD_STAT_EOP);
  EXPECT_EQ(d[13], 0);
  EXPECT_TRUE(nic.intx_level());
  EXPECT_TRUE(r(ICR) & ICR_RXT0);
  EXPECT_FALSE(nic.intx_level());
  EXPECT_EQ(r(GPRC), 1u);
}

TEST_F(NicTest, ReceiveStripsCrcWithSecrcAndPadsRunts) {
  setup_rx(8, RCTL_SECRC);
  auto f = frame(30);
  backend.inject(f);
  const uint8_t* d = at(kRxRing);
  EXPECT_EQ(d[8] | d[9] << 8, 60);  // padded to the minimum frame, no FCS
  EXPECT_TRUE(std::equal(f.begin(), f.end(), at(kRxBuf)));
  EXPECT_EQ(at(kRxBuf)[59], 0);
}

TEST_F(NicTest, LargeFrameSpansSeveralBuffers) {
  setup_rx(8, RCTL_LPE | 3u << 16, 256);  // BSIZE 256
  auto f = frame(700);
  backend.inject(f);
  EXPECT_EQ(r(RDH), 3u);  // 704 bytes with FCS: 256 + 256 + 192
  for (unsigned i = 0; i < 3; ++i) {
    const uint8_t* d = at(kRxRing + 16 * i);
    EXPECT_EQ(d[8] | d[9] << 8, i < 2 ? 256 : 192);
    EXPECT_EQ(d[12] & RXD_STAT_EOP, i == 2 ? RXD_STAT_EOP : 0);
    EXPECT_TRUE(d[12] & RXD_STAT_DD);
  }
  EXPECT_TRUE(std::equal(f.begin(), f.begin() + 256, at(kRxBuf)));
  EXPECT_TRUE(std::equal(f.begin() + 512, f.end(), at(kRxBuf + 512)));
}

TEST_F(NicTest, RingFullFramesWaitThenFifoOverflows) {
  setup_rx(8);
  w(RDT, 2);  // two descriptors for the NIC
  for (int i = 0; i < 5; ++i) backend.inject(frame(1000, kMac, static_cast<uint8_t>(i)));
  EXPECT_EQ(r(RDH), 2u);
  EXPECT_EQ(nic.rx_fifo_frames(), 3u);
  // The driver returns buffers: the waiting frames land, in order.
  w(RDT, 7);
  EXPECT_EQ(nic.rx_fifo_frames(), 0u);
  EXPECT_EQ(r(RDH), 5u);
  auto f2 = frame(1000, kMac, 2);
  EXPECT_TRUE(std::equal(f2.begin(), f2.end(), at(kRxBuf + 2 * 2048)));
  // Ring empty again (RDH == RDT): 48 KiB of FIFO fills, then frames are lost (MPC, RXO).
  w(RDT, 5);
  r(ICR);
  r(MPC);
  for (int i = 0; i < 60; ++i) backend.inject(frame(1500));
  EXPECT_LE(nic.rx_fifo_frames() * 1504, E1000::kRxFifoBytes);
  EXPECT_GT(r(MPC), 0u);
  EXPECT_TRUE(r(ICR) & ICR_RXO);
}

TEST_F(NicTest, AddressFilter) {
  setup_rx(8, 0);
  w(RCTL, RCTL_EN);  // no broadcast accept
  const MacAddress other{0x52, 0x54, 0x00, 0x99, 0x99, 0x99};
  const MacAddress bcast{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
  const MacAddress mcast{0x01, 0x00, 0x5E, 0x00, 0x00, 0xFB};
  backend.inject(frame(64, other));
  backend.inject(frame(64, bcast));
  backend.inject(frame(64, mcast));
  EXPECT_EQ(r(RDH), 0u);
  backend.inject(frame(64, kMac));
  EXPECT_EQ(r(RDH), 1u);
  w(RCTL, RCTL_EN | RCTL_BAM);
  backend.inject(frame(64, bcast));
  EXPECT_EQ(r(RDH), 2u);
  // The multicast table (MO 0: address bits 47:36 -> bit 0x5E0 >> ... of the table).
  const unsigned h = ((mcast[4] >> 4) | (mcast[5] << 4)) & 0xFFF;
  w(MTA + 4 * (h >> 5), 1u << (h & 31));
  backend.inject(frame(64, mcast));
  EXPECT_EQ(r(RDH), 3u);
  // A second receive address; then promiscuous mode.
  w(RA + 8, other[0] | other[1] << 8 | other[2] << 16 | static_cast<uint32_t>(other[3]) << 24);
  w(RA + 12, other[4] | other[5] << 8 | RAH_AV);
  backend.inject(frame(64, other));
  EXPECT_EQ(r(RDH), 4u);
  const MacAddress third{0x52, 0x54, 0x00, 0x77, 0x77, 0x77};
  backend.inject(frame(64, third));
  EXPECT_EQ(r(RDH), 4u);
  w(RCTL, RCTL_EN | RCTL_UPE);
  backend.inject(frame(64, third));
  EXPECT_EQ(r(RDH), 5u);
}

TEST_F(NicTest, OversizeNeedsLongPacketEnable) {
  setup_rx(8);
  backend.inject(frame(1600));
  EXPECT_EQ(r(RDH), 0u);
  EXPECT_EQ(r(ROC), 1u);
  w(RCTL, r(RCTL) | RCTL_LPE | RCTL_BSEX | 1u << 16);  // 16 KiB buffers
  backend.inject(frame(1600));
  EXPECT_EQ(r(RDH), 1u);
}

TEST_F(NicTest, BadReceiveBufferIsReportedInTheDescriptor) {
  setup_rx(8);
  uint8_t d[16] = {};
  const uint64_t bad = 0xFFF00000u;
  for (int k = 0; k < 8; ++k) d[k] = static_cast<uint8_t>(bad >> (8 * k));
  put(kRxRing, d, 16);
  backend.inject(frame(100));
  EXPECT_EQ(at(kRxRing)[13], RXD_ERR_RXE);
  EXPECT_TRUE(at(kRxRing)[12] & RXD_STAT_DD);
  // A ring outside RAM and a tail beyond the ring: frames wait, nothing is written.
  w(RDBAL, 0xFFFF0000u);
  backend.inject(frame(100));
  w(RDBAL, kRxRing);
  w(RDT, 100);
  backend.inject(frame(100));
  EXPECT_EQ(r(RDH), 1u);
}

// ---- interrupts ----

TEST_F(NicTest, InterruptCauseAndMask) {
  r(ICR);
  w(ICS, ICR_LSC);
  EXPECT_FALSE(nic.intx_level()) << "masked";
  w(IMS, ICR_LSC);
  EXPECT_TRUE(nic.intx_level());
  EXPECT_EQ(r(IMS), ICR_LSC);
  w(IMC, ICR_LSC);
  EXPECT_FALSE(nic.intx_level());
  w(IMS, ICR_LSC | ICR_RXT0);
  EXPECT_TRUE(nic.intx_level());
  EXPECT_EQ(r(ICR), ICR_LSC);
  EXPECT_FALSE(nic.intx_level());
  EXPECT_EQ(r(ICR), 0u);
}

TEST_F(NicTest, ThrottlingDelaysTheNextAssertion) {
  w(ITR, 1000);  // 256 us between assertions
  w(IMS, ICR_LSC);
  r(ICR);
  w(ICS, ICR_LSC);
  EXPECT_TRUE(nic.intx_level());
  r(ICR);
  w(ICS, ICR_LSC);
  EXPECT_FALSE(nic.intx_level()) << "too soon after the last one";
  icount += 100'000;  // 100 us
  clock.run_due();
  EXPECT_FALSE(nic.intx_level());
  icount += 200'000;
  clock.run_due();
  EXPECT_TRUE(nic.intx_level());
}

// ---- reset and snapshots ----

TEST_F(NicTest, SoftwareResetRestoresDefaults) {
  setup_tx();
  w(IMS, 0xFF);
  w(CTRL, CTRL_RST);
  EXPECT_EQ(r(TCTL), 0u);
  EXPECT_EQ(r(IMS), 0u);
  EXPECT_EQ(r(CTRL) & CTRL_RST, 0u);
  EXPECT_EQ(r(RA + 4), kMac[4] | kMac[5] << 8 | RAH_AV);
}

TEST_F(NicTest, SnapshotRoundTripAndDamage) {
  setup_rx(8);
  setup_tx(8);
  w(RDT, 1);
  w(IMS, ICR_RXT0);
  for (int i = 0; i < 3; ++i) backend.inject(frame(300, kMac, static_cast<uint8_t>(i)));  // 2 wait
  std::vector<uint8_t> snap;
  SnapshotWriter sw(snap);
  nic.save(sw);

  E1000 copy{clock, mem, MacAddress{}};
  SnapshotReader sr(snap);
  copy.load(sr);
  for (uint32_t reg :
       {uint32_t{RDH}, uint32_t{RDT}, uint32_t{RCTL}, uint32_t{TDLEN}, uint32_t{IMS}, uint32_t{RA}})
    EXPECT_EQ(copy.reg(reg), nic.reg(reg)) << std::hex << reg;
  EXPECT_EQ(copy.rx_fifo_frames(), 2u);
  EXPECT_EQ(copy.mac(), kMac);
  // Damaged snapshots: truncated, or a FIFO frame count beyond the packet buffer.
  for (size_t cut : {size_t{10}, snap.size() / 2, snap.size() - 1}) {
    std::vector<uint8_t> t(snap.begin(), snap.begin() + static_cast<long>(cut));
    SnapshotReader r2(t);
    EXPECT_THROW(copy.load(r2), SnapshotError) << cut;
  }
}

// ---- hostile guest: random registers and descriptors ----

TEST_F(NicTest, RandomRegistersAndDescriptorsNeverCrash) {
  std::mt19937 rng(12345);
  setup_rx(8);
  setup_tx(8);
  auto heads_ok = [&] {
    const uint32_t tn = nic.reg(TDLEN) / 16, rn = nic.reg(RDLEN) / 16;
    return std::make_pair(tn && nic.reg(TDH) < tn, rn && nic.reg(RDH) < rn);
  };
  for (int iter = 0; iter < 200000; ++iter) {
    const auto before = heads_ok();
    bool guest_moved_heads = false;
    const unsigned what = rng() % 16;
    if (what < 6) {
      // Random write to a register; often the ring registers.
      static constexpr uint32_t kHot[] = {TDT,  TDH,  TDLEN, TDBAL, TDBAH, RDT, RDH, RDLEN, RDBAL, RDBAH,
                                          RCTL, TCTL, CTRL,  ICS,   IMS,   IMC, ITR, EECD,  EERD,  MDIC};
      const uint32_t reg = (rng() % 3) ? kHot[rng() % std::size(kHot)] : (rng() % E1000::kMmioSize) & ~3u;
      uint32_t v = rng();
      if (reg == CTRL && (v & CTRL_RST) && rng() % 8) v &= ~CTRL_RST;
      if ((reg == TDBAL || reg == RDBAL) && rng() % 2) v &= 0x3FFFFF;  // mostly inside RAM
      if ((reg == TDBAH || reg == RDBAH) && rng() % 4) v = 0;
      if ((reg == TDT || reg == RDT || reg == TDH || reg == RDH) && rng() % 4) v %= 64;
      guest_moved_heads = reg == TDH || reg == RDH || reg == TDLEN || reg == RDLEN || reg == CTRL;
      nic.mmio_write(reg, v, 4);
    } else if (what < 8) {
      (void)nic.mmio_read((rng() % E1000::kMmioSize) & ~3u, 1u << (rng() % 3));
    } else if (what < 12) {
      // Random descriptor contents in the rings' area.
      const uint32_t a = (rng() % 0x3FFF0) & ~3u;
      const uint32_t v = rng();
      std::memcpy(mem.ram() + a, &v, 4);
    } else if (what < 15) {
      std::vector<uint8_t> f(rng() % 2000 + 1);
      for (auto& b : f) b = static_cast<uint8_t>(rng());
      if (rng() % 2) std::memcpy(f.data(), kMac.data(), std::min<size_t>(6, f.size()));
      backend.inject(f);
    } else {
      icount += rng() % 100000;
      clock.run_due();
    }
    // What the NIC does by itself keeps a head that was inside its ring inside it, and the FIFO
    // inside the packet buffer.
    if (!guest_moved_heads) {
      const auto after = heads_ok();
      if (before.first) ASSERT_TRUE(after.first) << "iteration " << iter;
      if (before.second) ASSERT_TRUE(after.second) << "iteration " << iter;
    }
    ASSERT_LE(nic.rx_fifo_frames() * 60, E1000::kRxFifoBytes);
    if (backend.sent.size() > 1000) backend.sent.clear();
  }
}

}  // namespace
