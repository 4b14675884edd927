#include "emu/block_cache.h"

#include <algorithm>

namespace vx86 {

const Insn* op_block_exit(Cpu&, const Insn*) { return nullptr; }

BlockCache::BlockCache(Mmu& mmu) : mmu_(mmu) { mmu_.set_code_listener(this); }

BlockCache::~BlockCache() { mmu_.set_code_listener(nullptr); }

Block* BlockCache::find_slow(uint32_t phys, uint32_t mode) {
  auto it = blocks_.find(key(phys, mode));
  if (it == blocks_.end()) return nullptr;
  fast_[fast_index(phys, mode)] = it->second.get();
  return it->second.get();
}

Block* BlockCache::insert(std::unique_ptr<Block> block) {
  Block* b = block.get();
  auto old = blocks_.find(key(b->phys, b->mode));
  if (old != blocks_.end()) retire(old->second.get());
  blocks_.emplace(key(b->phys, b->mode), std::move(block));
  for (unsigned k = 0; k < (b->pages[1] != b->pages[0] ? 2u : 1u); ++k) {
    uint32_t page = b->pages[k];
    by_page_[page].push_back(b);
    if (!mmu_.memory().page_has_code(page << PAGE_SHIFT)) {
      mmu_.memory().set_page_has_code(page << PAGE_SHIFT, true);
      mmu_.protect_code_page(page << PAGE_SHIFT);
    }
  }
  fast_[fast_index(b->phys, b->mode)] = b;
  return b;
}

void BlockCache::retire(Block* b) {
  if (on_retire) on_retire(b);
  for (auto& insn : b->insns) insn.fn = op_block_exit;
  unsigned slot = fast_index(b->phys, b->mode);
  if (fast_[slot] == b) fast_[slot] = nullptr;
  for (unsigned k = 0; k < (b->pages[1] != b->pages[0] ? 2u : 1u); ++k) {
    auto it = by_page_.find(b->pages[k]);
    if (it == by_page_.end()) continue;
    auto& v = it->second;
    v.erase(std::remove(v.begin(), v.end(), b), v.end());
  }
  auto it = blocks_.find(key(b->phys, b->mode));
  if (it != blocks_.end() && it->second.get() == b) {
    retired_.push_back(std::move(it->second));
    blocks_.erase(it);
  }
}

void BlockCache::invalidate_page(uint32_t paddr) {
  uint32_t page = paddr >> PAGE_SHIFT;
  auto it = by_page_.find(page);
  if (it != by_page_.end()) {
    std::vector<Block*> victims = std::move(it->second);
    by_page_.erase(it);
    for (Block* b : victims) retire(b);
  }
  mmu_.memory().set_page_has_code(paddr, false);
}

void BlockCache::code_page_written(uint32_t paddr) { invalidate_page(paddr); }

void BlockCache::flush() {
  std::vector<Block*> all;
  for (auto& [k, b] : blocks_) all.push_back(b.get());
  for (Block* b : all) {
    for (unsigned k = 0; k < 2; ++k) mmu_.memory().set_page_has_code(b->pages[k] << PAGE_SHIFT, false);
    retire(b);
  }
  by_page_.clear();
}

}  // namespace vx86
