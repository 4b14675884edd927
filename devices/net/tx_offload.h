// What an Ethernet controller's transmit offloads do to a frame: insert the IP header checksum and
// the TCP/UDP checksum (seeded by the driver with the pseudo-header sum), and TCP segmentation
// (TSO): cut a large TCP (or UDP) packet into frames of at most `mss` payload bytes, each with a
// copy of the header, its IP length, IP ID, TCP sequence number, flags and checksums fixed up.
// Offsets come from the guest's context descriptor and are checked against the frame: an
// offload that does not fit the frame is skipped (the frame goes out as it is).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace vx86 {

struct TxOffload {
  // IP checksum: computed over [ipcss, ipcse] (ipcse 0: to the frame's end), stored at ipcso.
  uint32_t ipcss = 0, ipcso = 0, ipcse = 0;
  // TCP/UDP checksum: computed over [tucss, tucse] (0: to the end), stored at tucso.
  uint32_t tucss = 0, tucso = 0, tucse = 0;
  // Segmentation: header length, payload bytes per segment; `ipv4` (else IPv6) and `tcp` (else
  // UDP) say which headers to fix.
  uint32_t hdr_len = 0, mss = 0;
  bool ipv4 = true, tcp = true;
};

// Internet checksum (RFC 1071) of `n` bytes added to a 32-bit partial sum.
uint32_t inet_sum(const uint8_t* p, size_t n, uint32_t sum = 0);
uint16_t inet_fold(uint32_t sum);  // folded and complemented

// Computes the checksum of frame[start..end] (end inclusive, 0 = the frame's last byte), the
// 16-bit field at `at` included, and stores it there. False (frame unchanged) if it does not fit.
bool insert_checksum(uint8_t* frame, size_t len, uint32_t start, uint32_t end, uint32_t at);

// Applies the checksum offloads the flags ask for (ip: IXSM, l4: TXSM) to one frame.
void apply_checksums(uint8_t* frame, size_t len, const TxOffload& o, bool ip, bool l4);

// Segments `packet` (header + payload) and calls `emit` for each frame. Returns false (nothing
// emitted) when the context does not describe this packet: header longer than the packet, mss 0,
// offsets outside the header.
bool tso_segment(const uint8_t* packet, size_t len, const TxOffload& o, bool ip_csum, bool l4_csum,
                 const std::function<void(const uint8_t*, size_t)>& emit);

}  // namespace vx86
