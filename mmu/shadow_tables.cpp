#include "mmu/shadow_tables.h"

#include <algorithm>
#include <utility>

namespace vx86 {

ShadowTables::ShadowTables(PhysicalMemory& mem) : mem_(mem), bit_(mem.add_table_watcher(this)) {}

ShadowTables::~ShadowTables() {
  if (bit_) mem_.remove_table_watcher(bit_);
}

uint64_t ShadowTables::key_of(const PagingMode& m) {
  const uint32_t cr3 = m.pae ? (m.cr3 & ~0x1Fu) : (m.cr3 & ~PAGE_MASK);
  const uint32_t bits =
      (m.pae ? 1u : 0u) | (m.pse ? 2u : 0u) | (m.wp ? 4u : 0u) | (m.nxe ? 8u : 0u) | (m.pge ? 16u : 0u);
  return (uint64_t{bits} << 32) | cr3;
}

size_t ShadowTables::spaces() const {
  size_t n = 0;
  for (const Space& s : spaces_) n += s.live;
  return n;
}

void ShadowTables::select(const PagingMode& mode) {
  drain();
  if (!mode.enabled || !bit_) {
    cur_ = nullptr;
    return;
  }
  const uint64_t key = key_of(mode);
  if (cur_ && cur_->key == key) return;  // (a reload: the shadow is still what a walk gives)
  Space* victim = &spaces_[0];
  for (Space& s : spaces_) {
    if (s.live && s.key == key) {
      s.stamp = ++clock_;
      cur_ = &s;
      returned_ = true;
      ++stats_.switch_known;
      return;
    }
    if (!victim->live) continue;
    if (!s.live || s.stamp < victim->stamp) victim = &s;
  }
  if (victim->live) {
    ++stats_.evicted;
    empty_slot(*victim, stats_.inv_evict);
    sweep_uses();
  }
  victim->live = true;
  victim->key = key;
  victim->wp = mode.wp;
  victim->stamp = ++clock_;
  cur_ = victim;
  returned_ = false;
  ++stats_.switch_new;
  account();
}

bool ShadowTables::lookup(uint32_t lpage, Access acc, bool user, Translation& t) {
  if (pending_.load(std::memory_order_acquire)) [[unlikely]]
    drain();
  if (!cur_) return false;
  const uint32_t e = cur_->table.get(lpage);
  const bool rw = e & ShadowSpace::RW, us = e & ShadowSpace::US;
  const bool writable = user ? (rw && us) : (rw || !cur_->wp);
  // Whatever this entry would not allow (or would make the walker set D) is the walker's to do.
  if (!(e & ShadowSpace::VALID) || (user && !us) ||
      (acc == Access::Write && (!writable || !(e & ShadowSpace::DIRTY))) ||
      (acc == Access::Exec && (e & ShadowSpace::NX))) {
    ++stats_.misses;
    return false;
  }
  ++stats_.hits;
  stats_.hits_returned += returned_;
  t = Translation{true,
                  0,
                  e & ~PAGE_MASK,
                  writable,
                  (e & ShadowSpace::DIRTY) != 0,
                  !(e & ShadowSpace::NX),
                  (e & ShadowSpace::GLOBAL) != 0};
  return true;
}

void ShadowTables::fill(uint32_t lpage, uint32_t phys, const WalkPath& path) {
  if (!cur_) return;
  // Mark the table pages first (every CPU's TLB loses write access to them), then check that the
  // entries still hold what the walk read: a store that got in between is seen either way.
  for (unsigned k = 0; k < path.levels; ++k) {
    const uint32_t page = path.level[k].addr >> PAGE_SHIFT;
    if (uses_.count(page)) continue;
    mem_.set_page_table(page << PAGE_SHIFT, bit_, true);
    if (protect && !protect(page << PAGE_SHIFT)) {
      mem_.set_page_table(page << PAGE_SHIFT, bit_, false);
      ++stats_.races;
      return;
    }
    uses_.emplace(page, std::vector<Use>{});
  }
  for (unsigned k = 0; k < path.levels; ++k) {
    const WalkPath::Level& l = path.level[k];
    const uint64_t now = path.pae ? mem_.read64(l.addr) : mem_.read(l.addr, 4);
    if (now != l.value) {
      ++stats_.races;
      return;
    }
  }
  const uint8_t slot = static_cast<uint8_t>(cur_ - spaces_);
  for (unsigned k = 0; k < path.levels; ++k) {
    const WalkPath::Level& l = path.level[k];
    const uint8_t size = path.pae ? 8 : 4;
    const uint32_t count = l.shift == 30 ? 4 : PAGE_SIZE / size;
    const uint32_t index = (lpage >> l.shift) & (count - 1);
    const uint64_t span = uint64_t{count} << l.shift;
    Use u;
    u.base = span >> 32 ? 0 : static_cast<uint32_t>(lpage & ~(span - 1));
    u.off = static_cast<uint16_t>((l.addr - index * size) & PAGE_MASK);
    u.count = static_cast<uint16_t>(count);
    u.slot = slot;
    u.shift = l.shift;
    u.size = size;
    u.gen = cur_->gen;
    std::vector<Use>& v = uses_[l.addr >> PAGE_SHIFT];
    if (std::find(v.begin(), v.end(), u) == v.end()) {
      v.push_back(u);
      ++use_count_;
    }
  }
  uint32_t e = (phys & ~PAGE_MASK) | (path.all_rw ? ShadowSpace::RW : 0) |
               (path.all_us ? ShadowSpace::US : 0) | (path.any_nx ? ShadowSpace::NX : 0) |
               (path.dirty ? ShadowSpace::DIRTY : 0) | (path.global ? ShadowSpace::GLOBAL : 0);
  const size_t leaves_before = cur_->table.leaves();
  cur_->table.set(lpage, e);
  ++stats_.fills;
  if (cur_->table.leaves() == leaves_before) return;
  // Over the memory bound: the least recently used other spaces go, then this one.
  for (;;) {
    size_t leaves = 0;
    Space* lru = nullptr;
    for (Space& s : spaces_) {
      leaves += s.table.leaves();
      if (s.live && &s != cur_ && (!lru || s.stamp < lru->stamp)) lru = &s;
    }
    if (leaves <= kMaxLeaves) break;
    ++stats_.evicted;
    if (!lru) {  // (this space alone: it starts again, empty)
      Space* self = cur_;
      empty_slot(*self, stats_.inv_evict);
      self->live = true;
      cur_ = self;
      break;
    }
    empty_slot(*lru, stats_.inv_evict);
  }
  sweep_uses();
  account();
}

void ShadowTables::invlpg(uint32_t lin) {
  drain();
  if (cur_) stats_.inv_invlpg += erase(static_cast<unsigned>(cur_ - spaces_), lin & ~PAGE_MASK, PAGE_SIZE);
}

void ShadowTables::clear_all() {
  {
    std::lock_guard g(pending_mu_);
    notices_.clear();
    overflow_ = false;
    pending_.store(false);
  }
  for (Space& s : spaces_)
    if (s.live) empty_slot(s, stats_.inv_flush);
  for (auto& [page, v] : uses_) mem_.set_page_table(page << PAGE_SHIFT, bit_, false);
  uses_.clear();
  use_count_ = 0;
  cur_ = nullptr;
  account();
}

void ShadowTables::page_table_written(uint32_t paddr, unsigned size, bool dma) {
  if (!concurrent_) {  // (one host thread: the owner is between two of its own operations)
    apply_write(paddr, size, dma);
    return;
  }
  std::lock_guard g(pending_mu_);
  if (notices_.size() >= 4096)
    overflow_ = true;  // too many to keep: drop every shadow instead
  else
    notices_.push_back({paddr, size, dma});
  pending_.store(true, std::memory_order_release);
}

void ShadowTables::drain() {
  if (!pending_.load(std::memory_order_acquire)) return;
  std::vector<Notice> work;
  bool overflow;
  {
    std::lock_guard g(pending_mu_);
    work.swap(notices_);
    overflow = std::exchange(overflow_, false);
    pending_.store(false);
  }
  if (overflow) {
    const Space* cur = cur_;
    const uint64_t key = cur ? cur->key : 0;
    const bool wp = cur && cur->wp;
    clear_all();
    if (cur) {  // the current space stays current, empty
      Space& s = spaces_[cur - spaces_];
      s.live = true;
      s.key = key;
      s.wp = wp;
      s.stamp = ++clock_;
      cur_ = &s;
    }
    return;
  }
  for (const Notice& n : work) apply_write(n.paddr, n.size, n.dma);
  account();
}

void ShadowTables::apply_write(uint32_t paddr, uint32_t size, bool dma) {
  ++(dma ? stats_.dma_writes : stats_.table_writes);
  const auto it = uses_.find(paddr >> PAGE_SHIFT);
  if (it == uses_.end()) return;
  const uint32_t lo = paddr & PAGE_MASK, hi = std::min<uint32_t>(lo + size, PAGE_SIZE);
  std::vector<Use>& v = it->second;
  for (size_t i = 0; i < v.size();) {
    const Use& u = v[i];
    Space& s = spaces_[u.slot];
    const uint32_t end = u.off + uint32_t{u.count} * u.size;
    if (s.gen == u.gen && hi > u.off && lo < end) {
      const uint32_t first = (std::max(lo, uint32_t{u.off}) - u.off) / u.size;
      const uint32_t last = (std::min(hi, end) - 1 - u.off) / u.size;
      const uint64_t from = u.base + (uint64_t{first} << u.shift);
      const size_t n = erase(u.slot, static_cast<uint32_t>(from), uint64_t{last - first + 1} << u.shift);
      (dma ? stats_.inv_dma : stats_.inv_store) += n;
    }
    // A use with nothing derived through it left is forgotten: the page may be data again.
    if (s.gen != u.gen || use_empty(u)) {
      v[i] = v.back();
      v.pop_back();
      --use_count_;
    } else {
      ++i;
    }
  }
  if (v.empty()) {
    uses_.erase(it);
    unmark(paddr >> PAGE_SHIFT);
  }
}

bool ShadowTables::use_empty(const Use& u) const {
  const Space& s = spaces_[u.slot];
  if (u.shift == 12) return s.table.region_empty(u.base);
  return s.table.entries() == 0;
}

size_t ShadowTables::erase(unsigned slot, uint32_t lin, uint64_t len) {
  const size_t n = spaces_[slot].table.erase(lin, len);
  if (n && observer_) observer_->shadow_erased(slot, lin, len);
  return n;
}

void ShadowTables::empty_slot(Space& s, uint64_t& counter) {
  counter += s.table.entries();
  s.table.clear();
  if (observer_) observer_->shadow_cleared(static_cast<unsigned>(&s - spaces_));
  ++s.gen;
  s.live = false;
  if (cur_ == &s) cur_ = nullptr;
}

void ShadowTables::sweep_uses() {
  for (auto it = uses_.begin(); it != uses_.end();) {
    std::vector<Use>& v = it->second;
    for (size_t i = 0; i < v.size();) {
      if (spaces_[v[i].slot].gen != v[i].gen) {
        v[i] = v.back();
        v.pop_back();
        --use_count_;
      } else {
        ++i;
      }
    }
    if (v.empty()) {
      unmark(it->first);
      it = uses_.erase(it);
    } else {
      ++it;
    }
  }
}

void ShadowTables::unmark(uint32_t ppage) { mem_.set_page_table(ppage << PAGE_SHIFT, bit_, false); }

void ShadowTables::account() {
  size_t leaves = 0;
  for (const Space& s : spaces_) leaves += s.table.leaves();
  stats_.bytes = leaves * ShadowSpace::kLeafBytes + spaces() * sizeof(ShadowSpace) +
                 use_count_ * sizeof(Use) + uses_.size() * 32;
  stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.bytes);
}

void ShadowTables::print_stats(FILE* out, unsigned cpu) const {
  const ShadowStats& s = stats_;
  std::fprintf(out,
               "mmu: cpu %u shadow: %llu TLB misses answered without a walk (%llu after switching back to a "
               "known address space), %llu walked (%llu filled, %llu not kept: changed while walking)\n",
               cpu, (unsigned long long)s.hits, (unsigned long long)s.hits_returned,
               (unsigned long long)s.misses, (unsigned long long)s.fills, (unsigned long long)s.races);
  std::fprintf(out,
               "mmu: cpu %u shadow: address spaces: %llu switches to a known one, %llu to a new one, %llu "
               "evicted, %zu live; memory %zu KiB (peak %zu KiB)\n",
               cpu, (unsigned long long)s.switch_known, (unsigned long long)s.switch_new,
               (unsigned long long)s.evicted, spaces(), s.bytes / 1024, s.peak_bytes / 1024);
  std::fprintf(out,
               "mmu: cpu %u shadow: entries dropped by a store to a page table %llu (%llu stores), by "
               "DMA %llu (%llu writes), INVLPG %llu, flush %llu, eviction %llu\n",
               cpu, (unsigned long long)s.inv_store, (unsigned long long)s.table_writes,
               (unsigned long long)s.inv_dma, (unsigned long long)s.dma_writes,
               (unsigned long long)s.inv_invlpg, (unsigned long long)s.inv_flush,
               (unsigned long long)s.inv_evict);
}

}  // namespace vx86
