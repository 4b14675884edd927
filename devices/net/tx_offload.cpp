#include "devices/net/tx_offload.h"

#include <algorithm>
#include <cstring>

namespace vx86 {

namespace {
uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
void put16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
uint32_t get32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
void put32(uint8_t* p, uint32_t v) {
  put16(p, v >> 16);
  put16(p + 2, v);
}
}  // namespace

uint32_t inet_sum(const uint8_t* p, size_t n, uint32_t sum) {
  uint64_t s = sum;
  size_t i = 0;
  for (; i + 1 < n; i += 2) s += get16(p + i);
  if (i < n) s += uint32_t{p[i]} << 8;
  while (s >> 32) s = (s & 0xFFFFFFFFu) + (s >> 32);
  return static_cast<uint32_t>(s);
}

uint16_t inet_fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

bool insert_checksum(uint8_t* frame, size_t len, uint32_t start, uint32_t end, uint32_t at) {
  if (len == 0) return false;
  const size_t last = end ? std::min<size_t>(end, len - 1) : len - 1;
  if (start > last || size_t{at} + 2 > len) return false;
  put16(frame + at, inet_fold(inet_sum(frame + start, last - start + 1)));
  return true;
}

void apply_checksums(uint8_t* frame, size_t len, const TxOffload& o, bool ip, bool l4) {
  if (ip) insert_checksum(frame, len, o.ipcss, o.ipcse, o.ipcso);
  if (l4) insert_checksum(frame, len, o.tucss, o.tucse, o.tucso);
}

bool tso_segment(const uint8_t* packet, size_t len, const TxOffload& o, bool ip_csum, bool l4_csum,
                 const std::function<void(const uint8_t*, size_t)>& emit) {
  const size_t hdr = o.hdr_len;
  if (o.mss == 0 || hdr == 0 || hdr >= len) return false;
  // The fields fixed per segment must lie inside the header.
  const size_t ip_len_at = o.ipv4 ? o.ipcss + 2 : o.ipcss + 4;
  if (ip_len_at + 2 > hdr || o.ipcss + 6 > hdr) return false;
  if (o.tcp ? o.tucss + 14 > hdr : o.tucss + 6 > hdr) return false;
  if (l4_csum && size_t{o.tucso} + 2 > hdr) return false;
  if (ip_csum && size_t{o.ipcso} + 2 > hdr) return false;
  const size_t payload = len - hdr;
  const uint16_t ip_id = get16(packet + o.ipcss + 4);
  const uint32_t seq = o.tcp ? get32(packet + o.tucss + 4) : 0;
  const uint16_t l4_seed = get16(packet + o.tucso);
  std::vector<uint8_t> seg(hdr + std::min<size_t>(payload, o.mss));
  unsigned index = 0;
  for (size_t off = 0; off < payload; off += o.mss, ++index) {
    const size_t n = std::min<size_t>(o.mss, payload - off);
    const bool last = off + n == payload;
    const size_t flen = hdr + n;
    std::memcpy(seg.data(), packet, hdr);
    std::memcpy(seg.data() + hdr, packet + hdr + off, n);
    uint8_t* f = seg.data();
    if (o.ipv4) {
      put16(f + o.ipcss + 2, static_cast<uint32_t>(flen - o.ipcss));
      put16(f + o.ipcss + 4, static_cast<uint16_t>(ip_id + index));
    } else {
      put16(f + o.ipcss + 4, static_cast<uint32_t>(flen - o.ipcss - 40));
    }
    if (o.tcp) {
      put32(f + o.tucss + 4, static_cast<uint32_t>(seq + off));
      if (!last) f[o.tucss + 13] &= static_cast<uint8_t>(~0x09);  // FIN and PSH on the last only
    } else {
      put16(f + o.tucss + 4, static_cast<uint32_t>(flen - o.tucss));
    }
    if (l4_csum) {
      // The driver's seed is the pseudo-header sum without the length: add this segment's.
      const uint32_t s = uint32_t{l4_seed} + static_cast<uint32_t>(flen - o.tucss);
      put16(f + o.tucso, (s & 0xFFFF) + (s >> 16));
    }
    apply_checksums(f, flen, o, ip_csum, l4_csum);
    emit(f, flen);
  }
  return true;
}

}  // namespace vx86
