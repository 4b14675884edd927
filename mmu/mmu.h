// Mmu: turns guest linear addresses into host pointers. A direct-mapped software TLB holds, per
// linear page, separate read/write/execute tags and an addend (host = addend + linear), as QEMU's
// cputlb does. Misses, MMIO, ROM writes, page-crossing accesses and writes to pages holding
// translated code take the slow path. With paging off, linear = physical & A20 mask; the page
// walker and per-CR3 shadow tables plug in behind fill() (a later issue).
#pragma once
#include <cstdint>
#include <cstring>

#include "mmu/physical_memory.h"

namespace vx86 {

// Told when the guest writes to a page that holds translated code.
class CodeWriteListener {
 public:
  virtual ~CodeWriteListener() = default;
  virtual void code_page_written(uint32_t paddr) = 0;
};

struct TlbEntry {
  uint32_t tag_read = 1, tag_write = 1, tag_exec = 1;  // linear page, or 1 = invalid
  uint32_t phys_page = 0;
  uintptr_t addend = 0;
};

class Mmu {
 public:
  static constexpr unsigned TLB_BITS = 10;
  static constexpr unsigned TLB_SIZE = 1u << TLB_BITS;

  explicit Mmu(PhysicalMemory& mem) : mem_(mem) {}

  PhysicalMemory& memory() { return mem_; }
  void set_code_listener(CodeWriteListener* l) { code_listener_ = l; }

  bool a20() const { return a20_mask_ == 0xFFFFFFFFu; }
  void set_a20(bool enabled);
  void flush();
  // Drops the write permission of every entry mapping this physical page (it now holds code).
  void protect_code_page(uint32_t paddr);

  // Linear -> physical for instruction fetch; paging off cannot fault.
  uint32_t translate(uint32_t lin) const { return lin & a20_mask_; }

  template <class T>
  T read(uint32_t lin) {
    const TlbEntry& e = tlb_[(lin >> PAGE_SHIFT) & (TLB_SIZE - 1)];
    if (e.tag_read == (lin & ~PAGE_MASK) && (lin & PAGE_MASK) <= PAGE_SIZE - sizeof(T)) [[likely]] {
      T v;
      std::memcpy(&v, reinterpret_cast<const void*>(e.addend + lin), sizeof(T));
      return v;
    }
    return static_cast<T>(read_slow(lin, sizeof(T)));
  }

  template <class T>
  void write(uint32_t lin, T v) {
    const TlbEntry& e = tlb_[(lin >> PAGE_SHIFT) & (TLB_SIZE - 1)];
    if (e.tag_write == (lin & ~PAGE_MASK) && (lin & PAGE_MASK) <= PAGE_SIZE - sizeof(T)) [[likely]] {
      std::memcpy(reinterpret_cast<void*>(e.addend + lin), &v, sizeof(T));
      return;
    }
    write_slow(lin, v, sizeof(T));
  }

  uint32_t read_slow(uint32_t lin, unsigned size);
  void write_slow(uint32_t lin, uint32_t value, unsigned size);

 private:
  TlbEntry& fill(uint32_t lin);

  PhysicalMemory& mem_;
  CodeWriteListener* code_listener_ = nullptr;
  uint32_t a20_mask_ = 0xFFFFFFFFu;
  TlbEntry tlb_[TLB_SIZE];
};

}  // namespace vx86
