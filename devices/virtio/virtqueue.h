// The device side of a split virtqueue (virtio 1.2, 2.7): the descriptor table, the driver's
// available ring and the device's used ring in guest RAM.
//
// Everything in those rings is written by the guest and is hostile: pop() checks every index
// against the queue size, every buffer against guest RAM, the chain's length (a chain longer than
// its table must loop), indirect tables (negotiated, the chain's only descriptor, a whole number
// of descriptors, not nested), the order of readable and writable buffers, and how far the
// driver's index moved. Any violation is a device error: the queue stops (broken()) and its owner
// sets DEVICE_NEEDS_RESET; nothing the guest writes makes the host loop, allocate without bound
// or touch memory outside RAM.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "devices/virtio/guest_memory.h"

namespace vx86 {

class SnapshotWriter;
class SnapshotReader;

// One buffer of a chain: guest-physical, already checked to be RAM.
struct VirtqBuffer {
  uint64_t addr = 0;
  uint32_t len = 0;
  bool writable = false;
};

// A popped descriptor chain: readable buffers first, then writable ones.
struct VirtqChain {
  uint16_t head = 0;
  std::vector<VirtqBuffer> bufs;
  uint64_t readable = 0;  // bytes in the readable buffers
  uint64_t writable = 0;  // bytes in the writable buffers

  // Copies from the readable part at byte `offset` / into the writable part; false when the range
  // is outside that part or RAM refused the access.
  bool read(GuestMemory& mem, uint64_t offset, void* dst, size_t n) const;
  bool write(GuestMemory& mem, uint64_t offset, const void* src, size_t n) const;
};

class Virtqueue {
 public:
  static constexpr uint16_t kMaxSize = 32768;             // the split ring's limit
  static constexpr uint32_t kMaxChain = 1024;             // descriptors in one chain, indirect included
  static constexpr uint64_t kMaxChainBytes = 128u << 20;  // bytes in one chain

  enum class Pop { Empty, Chain, Error };

  // Back to the reset state: disabled, no addresses, size `max_size`.
  void reset(uint16_t max_size);

  // Configuration (the transport writes these while the queue is disabled).
  uint16_t size = 0;
  uint64_t desc_addr = 0, avail_addr = 0, used_addr = 0;
  bool enabled() const { return enabled_; }
  // Enables the queue with the current size and addresses. false (the queue stays disabled and
  // broken) when the size is not a power of two in 1..max_size or an address is misaligned.
  bool enable(uint16_t max_size);
  // The legacy interface's layout: the three parts one after another from the page `pfn`, the used
  // ring on the next 4 KiB boundary (pfn 0 disables the queue).
  bool enable_legacy(uint32_t pfn, uint16_t max_size);

  // Negotiated features (the transport sets them when the driver's features are accepted).
  bool indirect = false;
  bool event_idx = false;

  // Takes the next available chain. Error: the queue is broken from now on (see error()).
  Pop pop(GuestMemory& mem, VirtqChain& out);
  // Chains the driver made available that pop() has not taken yet (no side effects; 0 when the
  // queue is disabled or broken, or the ring is unreadable or its index is hostile).
  uint16_t pending(GuestMemory& mem) const;
  // Gives the last `n` popped (and not pushed) chains back: the next pop() takes them again.
  void unpop(uint16_t n) { last_avail_ = static_cast<uint16_t>(last_avail_ - n); }
  // Returns a chain to the driver with `len` bytes written into it. false: the used ring is not
  // in RAM (the queue breaks).
  bool push(GuestMemory& mem, uint16_t head, uint32_t len);
  // After push(): whether the driver wants an interrupt for what was pushed since the last one
  // (its used_event index, or the avail ring's NO_INTERRUPT flag).
  bool should_interrupt(GuestMemory& mem);

  bool broken() const { return broken_; }
  const std::string& error() const { return error_; }
  uint16_t last_avail() const { return last_avail_; }
  uint16_t used_idx() const { return used_idx_; }

  void save(SnapshotWriter& w) const;
  void load(SnapshotReader& r, uint16_t max_size);

 private:
  Pop fail(std::string why);
  bool walk(GuestMemory& mem, uint16_t head, VirtqChain& out);
  bool add_buffer(GuestMemory& mem, uint64_t addr, uint32_t len, bool writable, VirtqChain& out);

  bool enabled_ = false;
  bool broken_ = false;
  std::string error_;
  uint16_t last_avail_ = 0;  // the next available ring entry to take
  uint16_t used_idx_ = 0;    // the used ring's index as last written
  // The used index at the last interrupt decision (event index suppression).
  uint16_t signalled_used_ = 0;
  bool signalled_valid_ = false;
};

}  // namespace vx86
