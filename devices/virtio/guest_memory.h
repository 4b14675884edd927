// What a virtio device reaches of the guest: RAM by physical address, every access checked.
// The PCI devices use GuestRamDma (PhysicalMemory's bus-master DMA); unit tests give a virtqueue a
// plain byte array.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>

#include "mmu/physical_memory.h"

namespace vx86 {

class GuestMemory {
 public:
  virtual ~GuestMemory() = default;
  // false, moving nothing, unless all of [addr, addr+n) is guest RAM.
  virtual bool read(uint64_t addr, void* dst, size_t n) = 0;
  virtual bool write(uint64_t addr, const void* src, size_t n) = 0;
  virtual bool range_ok(uint64_t addr, uint64_t n, bool write) const = 0;
};

class GuestRamDma : public GuestMemory {
 public:
  explicit GuestRamDma(PhysicalMemory& mem) : mem_(mem) {}
  bool read(uint64_t addr, void* dst, size_t n) override { return mem_.dma_read(addr, dst, n); }
  bool write(uint64_t addr, const void* src, size_t n) override {
    if (!mem_.dma_write(addr, src, n)) return false;
    if (on_write && n) on_write(static_cast<uint32_t>(addr), static_cast<uint32_t>(n));
    return true;
  }
  bool range_ok(uint64_t addr, uint64_t n, bool write) const override {
    return n <= SIZE_MAX && mem_.dma_range_ok(addr, static_cast<size_t>(n), write);
  }
  // Bytes written into RAM (the board drops translated code there).
  std::function<void(uint32_t addr, uint32_t len)> on_write;

 private:
  PhysicalMemory& mem_;
};

}  // namespace vx86
