#include "devices/virtio/virtqueue.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "devices/snapshot.h"
#include "devices/virtio/virtio_defs.h"

namespace vx86 {

using namespace virtio;

namespace {
// The rings are little-endian (virtio 1.x; the legacy interface is guest-endian, and x86 is little).
uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
uint32_t le32(const uint8_t* p) { return le16(p) | uint32_t{le16(p + 2)} << 16; }
uint64_t le64(const uint8_t* p) { return le32(p) | uint64_t{le32(p + 4)} << 32; }

bool read16(GuestMemory& mem, uint64_t addr, uint16_t& v) {
  uint8_t b[2];
  if (!mem.read(addr, b, 2)) return false;
  v = le16(b);
  return true;
}
bool write16(GuestMemory& mem, uint64_t addr, uint16_t v) {
  const uint8_t b[2] = {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8)};
  return mem.write(addr, b, 2);
}
bool power_of_two(uint32_t v) { return v && !(v & (v - 1)); }
}  // namespace

// ---- chains ----

bool VirtqChain::read(GuestMemory& mem, uint64_t offset, void* dst, size_t n) const {
  if (offset > readable || n > readable - offset) return false;
  auto* out = static_cast<uint8_t*>(dst);
  for (const VirtqBuffer& b : bufs) {
    if (n == 0) break;
    if (b.writable) break;
    if (offset >= b.len) {
      offset -= b.len;
      continue;
    }
    const size_t k = static_cast<size_t>(std::min<uint64_t>(n, b.len - offset));
    if (!mem.read(b.addr + offset, out, k)) return false;
    out += k;
    n -= k;
    offset = 0;
  }
  return n == 0;
}

bool VirtqChain::write(GuestMemory& mem, uint64_t offset, const void* src, size_t n) const {
  if (offset > writable || n > writable - offset) return false;
  const auto* in = static_cast<const uint8_t*>(src);
  for (const VirtqBuffer& b : bufs) {
    if (n == 0) break;
    if (!b.writable) continue;
    if (offset >= b.len) {
      offset -= b.len;
      continue;
    }
    const size_t k = static_cast<size_t>(std::min<uint64_t>(n, b.len - offset));
    if (!mem.write(b.addr + offset, in, k)) return false;
    in += k;
    n -= k;
    offset = 0;
  }
  return n == 0;
}

// ---- configuration ----

void Virtqueue::reset(uint16_t max_size) {
  *this = Virtqueue{};
  size = max_size;
}

bool Virtqueue::enable(uint16_t max_size) {
  if (!power_of_two(size) || size > max_size) {
    fail("queue size " + std::to_string(size) + " is not a power of two up to " + std::to_string(max_size));
    return false;
  }
  // Alignments of the three parts (2.7: 16, 2 and 4 bytes).
  if ((desc_addr & 15) || (avail_addr & 1) || (used_addr & 3)) {
    fail("misaligned ring address");
    return false;
  }
  enabled_ = true;
  return true;
}

bool Virtqueue::enable_legacy(uint32_t pfn, uint16_t max_size) {
  if (pfn == 0) {
    reset(max_size);
    return true;
  }
  size = max_size;
  desc_addr = uint64_t{pfn} * kLegacyQueueAlign;
  avail_addr = desc_addr + 16u * size;
  const uint64_t avail_end = avail_addr + 6 + 2u * size;
  used_addr = (avail_end + kLegacyQueueAlign - 1) & ~uint64_t{kLegacyQueueAlign - 1};
  return enable(max_size);
}

Virtqueue::Pop Virtqueue::fail(std::string why) {
  if (!broken_) error_ = std::move(why);
  broken_ = true;
  return Pop::Error;
}

// ---- the driver's chains ----

Virtqueue::Pop Virtqueue::pop(GuestMemory& mem, VirtqChain& out) {
  if (broken_) return Pop::Error;
  if (!enabled_) return Pop::Empty;
  uint16_t avail_idx;
  if (!read16(mem, avail_addr + 2, avail_idx)) return fail("available ring is not in RAM");
  const uint16_t pending = static_cast<uint16_t>(avail_idx - last_avail_);
  if (pending > size) return fail("available index moved by more than the queue size");
  if (pending == 0) {
    // Ask to be notified for the next buffer (the driver compares against avail_event).
    if (event_idx && !write16(mem, used_addr + 4 + 8u * size, last_avail_))
      return fail("used ring is not in RAM");
    return Pop::Empty;
  }
  // The ring entry and the descriptors were written before the index (the driver's barrier).
  std::atomic_thread_fence(std::memory_order_acquire);
  uint16_t head;
  if (!read16(mem, avail_addr + 4 + 2u * (last_avail_ % size), head))
    return fail("available ring is not in RAM");
  if (head >= size)
    return fail("available ring names descriptor " + std::to_string(head) + " of " + std::to_string(size));
  out.head = head;
  out.bufs.clear();
  out.readable = out.writable = 0;
  if (!walk(mem, head, out)) return Pop::Error;
  ++last_avail_;
  if (event_idx && !write16(mem, used_addr + 4 + 8u * size, last_avail_))
    return fail("used ring is not in RAM");
  return Pop::Chain;
}

uint16_t Virtqueue::pending(GuestMemory& mem) const {
  if (broken_ || !enabled_) return 0;
  uint16_t avail_idx;
  if (!read16(mem, avail_addr + 2, avail_idx)) return 0;
  const uint16_t n = static_cast<uint16_t>(avail_idx - last_avail_);
  return n > size ? 0 : n;  // (pop() reports the hostile index)
}

bool Virtqueue::walk(GuestMemory& mem, uint16_t head, VirtqChain& out) {
  uint64_t table = desc_addr;
  uint32_t table_size = size;
  bool in_indirect = false;
  uint32_t idx = head, seen = 0;
  for (;;) {
    if (idx >= table_size) {
      fail("descriptor index " + std::to_string(idx) + " outside a table of " + std::to_string(table_size));
      return false;
    }
    // A chain that visits more descriptors than its table holds has come back to one: a loop.
    if (++seen > table_size || seen > kMaxChain) {
      fail("descriptor chain loops or is too long");
      return false;
    }
    uint8_t d[16];
    if (!mem.read(table + 16u * idx, d, sizeof d)) {
      fail("descriptor table is not in RAM");
      return false;
    }
    const uint64_t addr = le64(d);
    const uint32_t len = le32(d + 8);
    const uint16_t flags = le16(d + 12), next = le16(d + 14);
    if (flags & kDescIndirect) {
      // 2.7.5.3: negotiated, never with NEXT, never inside another table; as Linux and QEMU use
      // it, the chain's only descriptor.
      if (!indirect) {
        fail("indirect descriptor without VIRTIO_F_RING_INDIRECT_DESC");
        return false;
      }
      if (in_indirect || seen != 1 || (flags & kDescNext)) {
        fail("indirect descriptor nested, chained or not at the head");
        return false;
      }
      if (len == 0 || len % 16 || len / 16 > kMaxChain) {
        fail("indirect table length " + std::to_string(len));
        return false;
      }
      if (!mem.range_ok(addr, len, false)) {
        fail("indirect table is not in RAM");
        return false;
      }
      table = addr;
      table_size = len / 16;
      in_indirect = true;
      idx = 0;
      seen = 0;
      continue;
    }
    if (!add_buffer(mem, addr, len, flags & kDescWrite, out)) return false;
    if (!(flags & kDescNext)) return true;
    idx = next;
  }
}

bool Virtqueue::add_buffer(GuestMemory& mem, uint64_t addr, uint32_t len, bool writable, VirtqChain& out) {
  if (!writable && out.writable) {
    fail("readable buffer after a writable one");
    return false;
  }
  if (len > kMaxChainBytes - (out.readable + out.writable)) {
    fail("chain larger than " + std::to_string(kMaxChainBytes) + " bytes");
    return false;
  }
  if (!mem.range_ok(addr, len, writable)) {
    fail("buffer outside guest RAM");
    return false;
  }
  out.bufs.push_back({addr, len, writable});
  (writable ? out.writable : out.readable) += len;
  return true;
}

// ---- completions ----

bool Virtqueue::push(GuestMemory& mem, uint16_t head, uint32_t len) {
  if (broken_ || !enabled_) return false;
  uint8_t e[8];
  for (int i = 0; i < 4; ++i) {
    e[i] = static_cast<uint8_t>(uint32_t{head} >> (8 * i));
    e[4 + i] = static_cast<uint8_t>(len >> (8 * i));
  }
  if (!mem.write(used_addr + 4 + 8u * (used_idx_ % size), e, sizeof e)) {
    fail("used ring is not in RAM");
    return false;
  }
  // The element before the index that publishes it.
  std::atomic_thread_fence(std::memory_order_release);
  ++used_idx_;
  if (!write16(mem, used_addr + 2, used_idx_)) {
    fail("used ring is not in RAM");
    return false;
  }
  return true;
}

bool Virtqueue::should_interrupt(GuestMemory& mem) {
  std::atomic_thread_fence(std::memory_order_seq_cst);  // the used index before the driver's flags
  if (!event_idx) {
    uint16_t flags;
    if (!read16(mem, avail_addr, flags)) {
      fail("available ring is not in RAM");
      return true;
    }
    return !(flags & kAvailNoInterrupt);
  }
  uint16_t used_event;
  if (!read16(mem, avail_addr + 4 + 2u * size, used_event)) {
    fail("available ring is not in RAM");
    return true;
  }
  const uint16_t old = signalled_used_;
  const bool valid = signalled_valid_;
  signalled_used_ = used_idx_;
  signalled_valid_ = true;
  // 2.7.10: interrupt when the used index passed used_event since the last interrupt.
  return !valid || static_cast<uint16_t>(used_idx_ - used_event - 1) < static_cast<uint16_t>(used_idx_ - old);
}

// ---- snapshots ----

void Virtqueue::save(SnapshotWriter& w) const {
  w.u16(size);
  w.u64(desc_addr);
  w.u64(avail_addr);
  w.u64(used_addr);
  for (bool b : {enabled_, broken_, indirect, event_idx, signalled_valid_}) w.boolean(b);
  w.u16(last_avail_);
  w.u16(used_idx_);
  w.u16(signalled_used_);
}

void Virtqueue::load(SnapshotReader& r, uint16_t max_size) {
  Virtqueue q;
  q.size = r.u16();
  q.desc_addr = r.u64();
  q.avail_addr = r.u64();
  q.used_addr = r.u64();
  bool* flags[] = {&q.enabled_, &q.broken_, &q.indirect, &q.event_idx, &q.signalled_valid_};
  for (bool* b : flags) *b = r.boolean();
  q.last_avail_ = r.u16();
  q.used_idx_ = r.u16();
  q.signalled_used_ = r.u16();
  r.check(q.size <= max_size, "virtqueue size larger than the device's");
  if (q.enabled_) {
    r.check(power_of_two(q.size), "enabled virtqueue size is not a power of two");
    r.check(!(q.desc_addr & 15) && !(q.avail_addr & 1) && !(q.used_addr & 3), "virtqueue address misaligned");
  }
  if (q.broken_) q.error_ = "broken when the snapshot was taken";
  *this = std::move(q);
}

}  // namespace vx86
