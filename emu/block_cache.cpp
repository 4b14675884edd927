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
  b->bytes = 0;
  for (uint32_t k = 0; k < b->ninsn; ++k) b->bytes += b->insns[k].len;
  uint32_t claimed[2];
  unsigned nclaimed = 0;
  for (unsigned k = 0; k < (b->pages[1] != b->pages[0] ? 2u : 1u); ++k) {
    uint32_t page = b->pages[k];
    PageCode& pc = by_page_[page];
    pc.blocks.push_back(b);
    unsigned lo, hi;
    range_in_page(b, page, lo, hi);
    pc.chunks |= chunk_bits(lo, hi);
    mmu_.memory().add_code_chunks(page << PAGE_SHIFT, chunk_bits(lo, hi));  // (before the owner bit)
    if (!(mmu_.memory().page_code_owners(page << PAGE_SHIFT) & owner_bit_)) {
      mmu_.memory().set_page_code(page << PAGE_SHIFT, owner_bit_, true);
      mmu_.protect_code_page(page << PAGE_SHIFT);
      claimed[nclaimed++] = page << PAGE_SHIFT;
    }
  }
  fast_[fast_index(b->phys, b->mode)] = b;
  // The other CPUs last, with this cache consistent (with threads that waits for them).
  if (protect_elsewhere)
    for (unsigned k = 0; k < nclaimed; ++k) protect_elsewhere(claimed[k]);
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
    auto& v = it->second.blocks;
    v.erase(std::remove(v.begin(), v.end(), b), v.end());
  }
  auto it = blocks_.find(key(b->phys, b->mode));
  if (it != blocks_.end() && it->second.get() == b) {
    retired_.push_back(std::move(it->second));
    blocks_.erase(it);
  }
}

uint64_t BlockCache::chunk_bits(unsigned lo, unsigned hi) {
  if (hi <= lo) return 0;
  const unsigned first = lo >> 6, last = (hi - 1) >> 6;
  const uint64_t upto = last == 63 ? ~uint64_t{0} : (uint64_t{1} << (last + 1)) - 1;
  return upto & ~((uint64_t{1} << first) - 1);
}

// A block's bytes are contiguous: from phys to the end of its first page, then (one straddling
// instruction) from the start of its second page.
void BlockCache::range_in_page(const Block* b, uint32_t page, unsigned& lo, unsigned& hi) {
  const unsigned off = b->phys & PAGE_MASK, end = off + b->bytes;
  if (page == b->pages[0]) {
    lo = off;
    hi = std::min<unsigned>(end, PAGE_SIZE);
  } else {
    lo = 0;
    hi = end > PAGE_SIZE ? end - PAGE_SIZE : 0;
  }
}

void BlockCache::invalidate_range(uint32_t paddr, unsigned size) {
  const uint32_t page = paddr >> PAGE_SHIFT;
  ++smc_.code_writes;
  auto it = by_page_.find(page);
  if (it == by_page_.end() || it->second.blocks.empty()) {
    if (it != by_page_.end()) by_page_.erase(it);
    mmu_.memory().set_page_code(paddr, owner_bit_, false);
    return;
  }
  const unsigned lo = paddr & PAGE_MASK, hi = std::min<unsigned>(lo + size, PAGE_SIZE);
  if (!(it->second.chunks & chunk_bits(lo, hi))) {
    ++smc_.spared_writes;  // data next to code: nothing to drop, the page stays protected
    return;
  }
  std::vector<Block*> victims;
  for (Block* b : it->second.blocks) {
    unsigned blo, bhi;
    range_in_page(b, page, blo, bhi);
    if (blo < hi && lo < bhi) victims.push_back(b);
  }
  smc_.blocks_dropped += victims.size();
  for (Block* b : victims) retire(b);  // also removes them from it->second.blocks
  it = by_page_.find(page);
  if (it == by_page_.end() || it->second.blocks.empty()) {
    if (it != by_page_.end()) by_page_.erase(it);
    mmu_.memory().set_page_code(paddr, owner_bit_, false);
    return;
  }
  uint64_t chunks = 0;
  for (Block* b : it->second.blocks) {
    unsigned blo, bhi;
    range_in_page(b, page, blo, bhi);
    chunks |= chunk_bits(blo, bhi);
  }
  it->second.chunks = chunks;
}

void BlockCache::invalidate_page(uint32_t paddr) {
  uint32_t page = paddr >> PAGE_SHIFT;
  auto it = by_page_.find(page);
  if (it != by_page_.end()) {
    std::vector<Block*> victims = std::move(it->second.blocks);
    by_page_.erase(it);
    smc_.blocks_dropped += victims.size();
    for (Block* b : victims) retire(b);
  }
  mmu_.memory().set_page_code(paddr, owner_bit_, false);
}

void BlockCache::flush() {
  std::vector<Block*> all;
  for (auto& [k, b] : blocks_) all.push_back(b.get());
  for (Block* b : all) {
    for (unsigned k = 0; k < 2; ++k)
      mmu_.memory().set_page_code(b->pages[k] << PAGE_SHIFT, owner_bit_, false);
    retire(b);
  }
  by_page_.clear();
}

}  // namespace vx86
