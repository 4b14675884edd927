// ShadowSpace: one guest address space's shadow page table: linear page -> physical page and the
// raw permissions of the path the page walker took (R/W and U/S ANDed, NX ORed, the leaf's D, G).
// Two levels like the guest's own (a directory of 1024 leaves of 1024 entries), leaves allocated
// when first filled and freed when emptied, so its memory follows what the guest touched.
#pragma once
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace vx86 {

class ShadowSpace {
 public:
  // Entry bits below the physical page number (bits 31:12).
  static constexpr uint32_t VALID = 1, RW = 2, US = 4, NX = 8, DIRTY = 16, GLOBAL = 32;
  static constexpr size_t kLeafBytes = sizeof(uint32_t) * 1024 + sizeof(uint32_t);

  uint32_t get(uint32_t lin) const {
    const Leaf* l = dir_[lin >> 22].get();
    return l ? l->e[(lin >> 12) & 1023] : 0;
  }
  void set(uint32_t lin, uint32_t entry);
  // Drops the entries of linear pages [lin, lin + len) (len a multiple of 4 KiB, may be 4 GiB).
  // Returns how many were valid.
  size_t erase(uint32_t lin, uint64_t len);
  void clear();

  // Calls f(linear page, entry) for each valid entry in [lin, lin + len).
  template <class F>
  void for_each(uint32_t lin, uint64_t len, F f) const {
    const uint64_t end = uint64_t{lin} + len;
    for (uint64_t a = lin; a < end;) {
      const uint64_t region_end = std::min<uint64_t>(end, (a | 0x3FFFFF) + 1);
      if (const Leaf* l = dir_[a >> 22].get())
        for (uint64_t p = a; p < region_end; p += 0x1000)
          if (const uint32_t e = l->e[(p >> 12) & 1023]; e & VALID) f(static_cast<uint32_t>(p), e);
      a = region_end;
    }
  }
  // No entry in the 4 MiB region holding `lin`.
  bool region_empty(uint32_t lin) const { return !dir_[lin >> 22]; }
  size_t entries() const { return entries_; }
  size_t leaves() const { return leaves_; }

 private:
  struct Leaf {
    uint32_t e[1024] = {};
    uint32_t count = 0;
  };
  std::array<std::unique_ptr<Leaf>, 1024> dir_;
  size_t entries_ = 0, leaves_ = 0;
};

}  // namespace vx86
