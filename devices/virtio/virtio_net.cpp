#include "devices/virtio/virtio_net.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "devices/net/tx_offload.h"
#include "devices/snapshot.h"

namespace vx86 {

using namespace virtio;

namespace {
constexpr size_t kEthHeader = 14;
constexpr uint16_t kEtherIpv4 = 0x0800;
uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
uint32_t fold16(uint32_t s) {
  while (s >> 16) s = (s & 0xFFFF) + (s >> 16);
  return s;
}

// Whether `f` is an unfragmented IPv4 TCP or UDP frame whose transport checksum is right: what
// GUEST_CSUM's DATA_VALID promises the guest. (Its IP header checksum the guest checks itself.)
bool l4_checksum_ok(const uint8_t* f, size_t len) {
  if (len < kEthHeader + 20 || be16(f + 12) != kEtherIpv4) return false;
  const uint8_t* ip = f + kEthHeader;
  const size_t ihl = (ip[0] & 0xF) * 4u;
  const size_t total = be16(ip + 2);
  if ((ip[0] >> 4) != 4 || ihl < 20 || total < ihl || kEthHeader + total > len) return false;
  if (be16(ip + 6) & 0x3FFF) return false;  // a fragment (MF or an offset)
  const uint8_t proto = ip[9];
  const size_t l4_len = total - ihl;
  if (proto == 6 ? l4_len < 20 : proto == 17 ? l4_len < 8 || be16(ip + ihl + 6) == 0 : true) return false;
  uint32_t s = inet_sum(ip + 12, 8);  // the pseudo-header: addresses, protocol, length
  s += proto + static_cast<uint32_t>(l4_len);
  return inet_fold(inet_sum(ip + ihl, l4_len, s)) == 0;
}
}  // namespace

VirtioNet::VirtioNet(PhysicalMemory& mem, const MacAddress& mac)
    : VirtioPciDevice(mem, kDeviceType, kPciDevice, kClass, 2, kQueueSize, kConfigSize), mac_(mac) {
  tx_buf_.reserve(kMaxTxPacket);
}

VirtioNet::~VirtioNet() { set_backend(nullptr); }

void VirtioNet::set_backend(NetBackend* b) {
  if (backend_) backend_->set_receiver(nullptr);
  backend_ = b;
  if (backend_) backend_->set_receiver(this);
}

uint64_t VirtioNet::device_features() const {
  return bit(kFeatureVersion1) | bit(kFeatureRingIndirectDesc) | bit(kFeatureRingEventIdx) | bit(F_MAC) |
         bit(F_STATUS) | bit(F_MRG_RXBUF) | bit(F_CSUM) | bit(F_HOST_TSO4) | bit(F_GUEST_CSUM);
}

uint32_t VirtioNet::header_size() const {
  return negotiated(kFeatureVersion1) || negotiated(F_MRG_RXBUF) ? 12 : 10;
}

uint8_t VirtioNet::device_config_byte(uint32_t offset) {
  if (offset < 6) return mac_[offset];
  const uint16_t status = link_up_ ? S_LINK_UP : 0;
  switch (offset) {
    case 6:
      return static_cast<uint8_t>(status);
    case 8:
      return 1;  // max_virtqueue_pairs
    case 10:
      return 1500 & 0xFF;  // mtu (F_MTU is not offered)
    case 11:
      return 1500 >> 8;
    default:
      return 0;
  }
}

void VirtioNet::set_link(bool up) {
  if (link_up_ == up) return;
  link_up_ = up;
  config_changed();
}

void VirtioNet::device_reset() {
  rx_fifo_.clear();
  rx_fifo_bytes_ = 0;
}

void VirtioNet::queue_notified(unsigned q) {
  if (q == kTxQueue) {
    transmit();
  } else if (q == kRxQueue) {
    // New receive buffers: the frames waiting here, then those the backend held back.
    rx_drain();
    if (backend_ && ready()) backend_->poll();
  }
}

// ---- transmit ----

void VirtioNet::transmit() {
  VirtqChain c;
  bool pushed = false;
  const uint32_t hs = header_size();
  while (pop(kTxQueue, c) == Virtqueue::Pop::Chain) {
    uint8_t hdr[12] = {};
    const uint64_t len = c.readable >= hs ? c.readable - hs : 0;
    if (len < kEthHeader || len > kMaxTxPacket || !c.read(guest(), 0, hdr, hs)) {
      ++tx_dropped_;
    } else {
      tx_buf_.resize(static_cast<size_t>(len));
      if (c.read(guest(), hs, tx_buf_.data(), tx_buf_.size()))
        transmit_packet(tx_buf_.data(), tx_buf_.size(), hdr);
      else
        ++tx_dropped_;
    }
    push(kTxQueue, c.head, 0);  // the device writes nothing into a transmit chain
    pushed = true;
    if (device_status() & kStatusNeedsReset) break;
  }
  if (pushed) interrupt_if_wanted(kTxQueue);
}

void VirtioNet::transmit_packet(uint8_t* pkt, size_t len, const uint8_t* hdr) {
  const uint8_t flags = hdr[0], gso = hdr[1] & static_cast<uint8_t>(~GSO_ECN);
  const uint16_t csum_start = le16(hdr + 6), csum_offset = le16(hdr + 8), gso_size = le16(hdr + 4);
  if (gso != GSO_NONE) {
    // Only TCP over IPv4 was offered, and it needs the partial checksum (5.1.6.2).
    if (gso != GSO_TCPV4 || !negotiated(F_HOST_TSO4) || !(flags & HDR_F_NEEDS_CSUM) ||
        !segment_tcp4(pkt, len, csum_start, gso_size))
      ++tx_dropped_;
    return;
  }
  if (flags & HDR_F_NEEDS_CSUM) {
    // The driver put the pseudo-header sum in the field; the rest is summed from csum_start on.
    if (!negotiated(F_CSUM) ||
        !insert_checksum(pkt, len, csum_start, 0, uint32_t{csum_start} + csum_offset)) {
      ++tx_dropped_;
      return;
    }
  }
  if (len > NetBackend::kMaxFrame) {
    ++tx_dropped_;
    return;
  }
  send_frame(pkt, len);
}

// A TCP/IPv4 packet of up to 64 KiB cut into frames of gso_size payload bytes. The header length
// comes from the packets' own headers (Linux's hdr_len is its linear part, not the headers).
bool VirtioNet::segment_tcp4(uint8_t* pkt, size_t len, uint16_t csum_start, uint16_t mss) {
  if (len < kEthHeader + 20 || be16(pkt + 12) != kEtherIpv4 || mss == 0) return false;
  uint8_t* ip = pkt + kEthHeader;
  const size_t ihl = (ip[0] & 0xF) * 4u;
  if ((ip[0] >> 4) != 4 || ihl < 20 || csum_start != kEthHeader + ihl || ip[9] != 6) return false;
  if (size_t{csum_start} + 20 > len) return false;
  const size_t hdr_len = csum_start + (pkt[csum_start + 12] >> 4) * 4u;
  if (hdr_len < size_t{csum_start} + 20 || hdr_len > len) return false;
  if (hdr_len + mss > NetBackend::kMaxFrame) return false;
  if (hdr_len == len) {  // no payload: one frame as it is, checksummed
    ip[10] = ip[11] = 0;
    insert_checksum(pkt, len, kEthHeader, csum_start - 1, kEthHeader + 10);
    insert_checksum(pkt, len, csum_start, 0, csum_start + 16u);
    send_frame(pkt, len);
    return true;
  }
  // tso_segment's convention (the e1000's): IP checksum zero, the TCP field seeded with the
  // pseudo-header without the length. Rebuilt here instead of trusting the guest's seed.
  ip[10] = ip[11] = 0;
  const uint32_t seed = fold16(inet_sum(ip + 12, 8) + 6);
  pkt[csum_start + 16] = static_cast<uint8_t>(seed >> 8);
  pkt[csum_start + 17] = static_cast<uint8_t>(seed);
  TxOffload o;
  o.ipcss = kEthHeader;
  o.ipcso = kEthHeader + 10;
  o.ipcse = csum_start - 1u;
  o.tucss = csum_start;
  o.tucso = csum_start + 16u;
  o.hdr_len = static_cast<uint32_t>(hdr_len);
  o.mss = mss;
  return tso_segment(pkt, len, o, true, true, [this](const uint8_t* f, size_t n) { send_frame(f, n); });
}

void VirtioNet::send_frame(const uint8_t* frame, size_t len) {
  if (!link_up_) return;
  ++tx_frames_;
  if (backend_) backend_->send(frame, len);
}

// ---- receive ----

bool VirtioNet::rx_usable() const {
  return (device_status() & kStatusDriverOk) && !(device_status() & kStatusNeedsReset) &&
         queue(kRxQueue).enabled();
}

void VirtioNet::receive_frame(const uint8_t* frame, size_t len) {
  if (!link_up_ || !rx_usable() || len < kEthHeader || len > NetBackend::kMaxFrame) return;
  if (rx_fifo_bytes_ + len > kRxFifoBytes) {
    ++rx_dropped_;
    return;
  }
  rx_fifo_.emplace_back(frame, frame + len);
  rx_fifo_bytes_ += len;
  rx_drain();
}

bool VirtioNet::ready() const {
  // Frames wait here until the driver gives buffers; the backend keeps the rest.
  return !rx_usable() || rx_fifo_bytes_ + NetBackend::kMaxFrame <= kRxFifoBytes;
}

void VirtioNet::rx_drain() {
  bool pushed = false;
  unsigned rechecks = 0;
  while (!rx_fifo_.empty() && rx_usable()) {
    const Rx r = rx_write(rx_fifo_.front());
    if (r == Rx::Wait) {
      // pop() asked the driver (event index) to notify with its next buffer; one it added just
      // before that request would go unnoticed, so look once more.
      std::atomic_thread_fence(std::memory_order_seq_cst);
      if (++rechecks <= 2 && vq(kRxQueue).pending(guest()) > 0) continue;
      break;
    }
    pushed |= r == Rx::Done;
    rx_fifo_bytes_ -= rx_fifo_.front().size();
    rx_fifo_.pop_front();
  }
  if (pushed) interrupt_if_wanted(kRxQueue);
}

VirtioNet::Rx VirtioNet::rx_write(const std::vector<uint8_t>& f) {
  const uint32_t hs = header_size();
  const bool mrg = negotiated(F_MRG_RXBUF);
  const uint64_t total = hs + f.size();
  Virtqueue& q = vq(kRxQueue);
  // Enough chains for header + frame (one, unless the buffers may be merged).
  uint64_t room = 0;
  uint16_t n = 0;
  while (room < total && (mrg || n == 0)) {
    if (rx_chains_.size() <= n) rx_chains_.resize(n + 1u);
    switch (pop(kRxQueue, rx_chains_[n])) {
      case Virtqueue::Pop::Chain:
        room += rx_chains_[n++].writable;
        continue;
      case Virtqueue::Pop::Error:
        return Rx::Dropped;  // (a device error: the driver resets)
      case Virtqueue::Pop::Empty:
        break;
    }
    q.unpop(n);
    if (n >= q.size) {  // the whole ring would not hold it
      ++rx_dropped_;
      return Rx::Dropped;
    }
    return Rx::Wait;
  }
  if (room < total) {  // a buffer too small for the frame: dropped, the buffer kept for the next
    q.unpop(n);
    ++rx_dropped_;
    return Rx::Dropped;
  }
  uint8_t hdr[12] = {};
  if (negotiated(F_GUEST_CSUM) && l4_checksum_ok(f.data(), f.size())) hdr[0] = HDR_F_DATA_VALID;
  hdr[10] = static_cast<uint8_t>(n);  // num_buffers (1 without MRG_RXBUF)
  hdr[11] = static_cast<uint8_t>(n >> 8);
  // The stream header + frame, cut at the chains' writable sizes.
  uint64_t at = 0;
  for (uint16_t k = 0; k < n; ++k) {
    const VirtqChain& c = rx_chains_[k];
    const uint64_t take = std::min<uint64_t>(c.writable, total - at);
    uint64_t off = 0;
    bool ok = true;
    if (at < hs) {
      const uint64_t h = std::min<uint64_t>(take, hs - at);
      ok = c.write(guest(), 0, hdr + at, static_cast<size_t>(h));
      off = h;
    }
    if (ok && off < take)
      ok = c.write(guest(), off, f.data() + (at + off - hs), static_cast<size_t>(take - off));
    if (!ok) {
      device_error();
      return Rx::Dropped;
    }
    push(kRxQueue, c.head, static_cast<uint32_t>(take));
    at += take;
  }
  ++rx_frames_;
  return Rx::Done;
}

// ---- snapshots ----

void VirtioNet::save(SnapshotWriter& w) const {
  w.begin_section("VNET", 1);
  for (uint8_t b : mac_) w.u8(b);
  w.boolean(link_up_);
  save_transport(w);
  w.u32(static_cast<uint32_t>(rx_fifo_.size()));
  for (const auto& f : rx_fifo_) w.blob(f);
  for (uint64_t v : {tx_frames_, rx_frames_, tx_dropped_, rx_dropped_}) w.u64(v);
  w.end_section();
}

void VirtioNet::load(SnapshotReader& r) {
  r.begin_section("VNET", 1);
  MacAddress mac;
  for (uint8_t& b : mac) b = r.u8();
  r.check(mac == mac_, "virtio-net MAC address differs");
  const bool link = r.boolean();
  load_transport(r);
  std::deque<std::vector<uint8_t>> fifo;
  size_t bytes = 0;
  const uint32_t n = r.u32_max(static_cast<uint32_t>(kRxFifoBytes / kEthHeader), "virtio-net FIFO frames");
  for (uint32_t k = 0; k < n; ++k) {
    std::vector<uint8_t> f = r.blob(NetBackend::kMaxFrame);
    r.check(f.size() >= kEthHeader && bytes + f.size() <= kRxFifoBytes, "virtio-net FIFO overflows");
    bytes += f.size();
    fifo.push_back(std::move(f));
  }
  uint64_t counters[4];
  for (uint64_t& v : counters) v = r.u64();
  r.end_section();
  link_up_ = link;
  rx_fifo_ = std::move(fifo);
  rx_fifo_bytes_ = bytes;
  tx_frames_ = counters[0];
  rx_frames_ = counters[1];
  tx_dropped_ = counters[2];
  rx_dropped_ = counters[3];
}

}  // namespace vx86
