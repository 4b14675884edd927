// The driver's side of a split virtqueue (virtio 1.2, 2.7), written from the specification for the
// tests: it lays descriptors and rings out in a byte array standing for guest RAM and reads the
// device's used ring back. Independent of devices/virtio/.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

namespace vx86::test {

inline void put_le(uint8_t* p, uint64_t v, unsigned n) {
  for (unsigned i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint64_t get_le(const uint8_t* p, unsigned n) {
  uint64_t v = 0;
  for (unsigned i = 0; i < n; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

struct Seg {
  uint64_t addr;
  uint32_t len;
  bool write;
};

struct DriverRing {
  enum : uint16_t { NEXT = 1, WRITE = 2, INDIRECT = 4 };
  uint8_t* ram;
  uint16_t size;
  uint64_t desc, avail, used;
  uint16_t avail_idx = 0;
  uint16_t next_free = 0;

  DriverRing(uint8_t* ram_, uint16_t size_, uint64_t desc_, uint64_t avail_, uint64_t used_)
      : ram(ram_), size(size_), desc(desc_), avail(avail_), used(used_) {
    std::memset(ram + desc, 0, 16u * size);
    std::memset(ram + avail, 0, 6 + 2u * size);
    std::memset(ram + used, 0, 6 + 8u * size);
  }
  // The legacy layout from a page frame (4.1.4.10 / 2.7 "Legacy Interfaces").
  static DriverRing legacy(uint8_t* ram, uint16_t size, uint64_t pfn) {
    const uint64_t d = pfn * 4096, a = d + 16u * size;
    const uint64_t u = (a + 6 + 2u * size + 4095) & ~uint64_t{4095};
    return DriverRing(ram, size, d, a, u);
  }

  void set_desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
    uint8_t* d = ram + table + 16u * i;
    put_le(d, addr, 8);
    put_le(d + 8, len, 4);
    put_le(d + 12, flags, 2);
    put_le(d + 14, next, 2);
  }
  // A chain in the descriptor table from the next free entries; returns its head.
  uint16_t add_chain(const std::vector<Seg>& segs) {
    const uint16_t head = next_free;
    for (size_t k = 0; k < segs.size(); ++k) {
      const uint16_t i = next_free;
      next_free = static_cast<uint16_t>((next_free + 1) % size);
      const bool last = k + 1 == segs.size();
      set_desc(desc, i, segs[k].addr, segs[k].len,
               static_cast<uint16_t>((segs[k].write ? WRITE : 0) | (last ? 0 : NEXT)), last ? 0 : next_free);
    }
    return head;
  }
  // The buffers in an indirect table at `table`, named by one descriptor of the ring.
  uint16_t add_indirect(uint64_t table, const std::vector<Seg>& segs) {
    for (size_t k = 0; k < segs.size(); ++k) {
      const bool last = k + 1 == segs.size();
      set_desc(table, static_cast<unsigned>(k), segs[k].addr, segs[k].len,
               static_cast<uint16_t>((segs[k].write ? WRITE : 0) | (last ? 0 : NEXT)),
               last ? 0 : static_cast<uint16_t>(k + 1));
    }
    const uint16_t head = next_free;
    next_free = static_cast<uint16_t>((next_free + 1) % size);
    set_desc(desc, head, table, static_cast<uint32_t>(16 * segs.size()), INDIRECT, 0);
    return head;
  }
  // Makes `head` available: the ring entry, then the index.
  void publish(uint16_t head) {
    put_le(ram + avail + 4 + 2u * (avail_idx % size), head, 2);
    ++avail_idx;
    put_le(ram + avail + 2, avail_idx, 2);
  }
  void set_avail_idx(uint16_t v) {
    avail_idx = v;
    put_le(ram + avail + 2, v, 2);
  }
  void set_avail_flags(uint16_t f) { put_le(ram + avail, f, 2); }
  void set_used_event(uint16_t v) { put_le(ram + avail + 4 + 2u * size, v, 2); }
  uint16_t avail_event() const { return static_cast<uint16_t>(get_le(ram + used + 4 + 8u * size, 2)); }
  uint16_t used_idx() const { return static_cast<uint16_t>(get_le(ram + used + 2, 2)); }
  uint32_t used_id(uint16_t n) const {
    return static_cast<uint32_t>(get_le(ram + used + 4 + 8u * (n % size), 4));
  }
  uint32_t used_len(uint16_t n) const {
    return static_cast<uint32_t>(get_le(ram + used + 8 + 8u * (n % size), 4));
  }
};

}  // namespace vx86::test
