#include "mmu/shadow_space.h"

#include <algorithm>

namespace vx86 {

void ShadowSpace::set(uint32_t lin, uint32_t entry) {
  std::unique_ptr<Leaf>& l = dir_[lin >> 22];
  if (!l) {
    l = std::make_unique<Leaf>();
    ++leaves_;
  }
  uint32_t& e = l->e[(lin >> 12) & 1023];
  if (!(e & VALID)) {
    ++l->count;
    ++entries_;
  }
  e = entry | VALID;
}

size_t ShadowSpace::erase(uint32_t lin, uint64_t len) {
  size_t dropped = 0;
  const uint64_t end = uint64_t{lin} + len;
  for (uint64_t a = lin; a < end;) {
    const uint64_t region_end = std::min(end, (a | 0x3FFFFF) + 1);
    std::unique_ptr<Leaf>& l = dir_[a >> 22];
    if (l) {
      if ((a & 0x3FFFFF) == 0 && region_end - a == 0x400000) {  // the whole leaf goes
        dropped += l->count;
        entries_ -= l->count;
        l.reset();
        --leaves_;
      } else {
        for (uint64_t p = a; p < region_end && l->count; p += 0x1000) {
          uint32_t& e = l->e[(p >> 12) & 1023];
          if (!(e & VALID)) continue;
          e = 0;
          --l->count;
          --entries_;
          ++dropped;
        }
        if (!l->count) {
          l.reset();
          --leaves_;
        }
      }
    }
    a = region_end;
  }
  return dropped;
}

void ShadowSpace::clear() {
  for (auto& l : dir_) l.reset();
  entries_ = leaves_ = 0;
}

}  // namespace vx86
