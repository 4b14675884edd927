#include "mmu/host_windows.h"

#include <sys/mman.h>

#include <algorithm>
#include <fstream>
#include <iterator>

#include "mmu/physical_memory.h"

namespace vx86 {

namespace {

// Puts [p, p + len) back to reserved, inaccessible address space.
bool reserve(uint8_t* p, uint64_t len) {
  return mmap(p, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (p ? MAP_FIXED : 0), -1, 0) !=
         MAP_FAILED;
}

// An isolated page splits the reservation around it: up to two more kernel mappings a page.
size_t default_budget() {
  size_t max_maps = 65530;
  std::ifstream f("/proc/sys/vm/max_map_count");
  f >> max_maps;
  return max_maps > 8192 ? (max_maps - 4096) / 2 : 2048;
}

}  // namespace

HostWindows::HostWindows(int ram_fd, unsigned views)
    : fd_(ram_fd), views_(views), budget_(default_budget()) {}

HostWindows::~HostWindows() {
  for (View& v : views_)
    if (v.base) munmap(v.base, kSpan + kGuard);
}

uint8_t* HostWindows::reserve_view(unsigned view) {
  View& v = views_[view];
  void* p = mmap(nullptr, kSpan + kGuard, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p != MAP_FAILED) v.base = static_cast<uint8_t*>(p);
  return v.base;
}

bool HostWindows::map(unsigned view, uint32_t lpage, uint32_t ppage, bool writable) {
  View& v = views_[view];
  if (!v.base) return false;
  if (stats_.mapped >= budget_) over_budget(view);
  const uint32_t old = v.mapped.get(lpage);
  const int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  uint8_t* at = v.base + lpage;
  if ((old & ShadowSpace::VALID) && (old & ~PAGE_MASK) == ppage) {
    // Same page, other rights (a clean page written, or code that went away): mprotect keeps the
    // mapping.
    if (mprotect(at, PAGE_SIZE, prot) != 0) return false;
  } else if (mmap(at, PAGE_SIZE, prot, MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd_, ppage) == MAP_FAILED) {
    reserve(at, PAGE_SIZE);
    if (old & ShadowSpace::VALID) {
      v.mapped.erase(lpage, PAGE_SIZE);
      --stats_.mapped;
    }
    return false;
  }
  if (!(old & ShadowSpace::VALID)) {
    ++stats_.mapped;
    stats_.peak_mapped = std::max(stats_.peak_mapped, stats_.mapped);
  }
  v.mapped.set(lpage, ppage | (writable ? ShadowSpace::RW : 0));
  if (writable) {
    std::vector<uint32_t>& w = writers_[ppage >> PAGE_SHIFT];
    w.push_back(view << 20 | lpage >> PAGE_SHIFT);
    if (w.size() > 32) prune(w, ppage);
  }
  ++stats_.maps;
  return true;
}

void HostWindows::unmap(unsigned view, uint32_t lin, uint64_t len) {
  View& v = views_[view];
  if (v.base && v.mapped.entries()) unmap_range(v, lin, len);
}

void HostWindows::unmap_range(View& v, uint32_t lin, uint64_t len) {
  if (len == PAGE_SIZE && !(v.mapped.get(lin) & ShadowSpace::VALID)) return;
  const size_t n = v.mapped.erase(lin, len);
  if (!n) return;
  reserve(v.base + lin, len);
  stats_.mapped -= n;
  stats_.unmaps += n;
}

void HostWindows::mark_stale(unsigned view, uint32_t lin, uint64_t len) {
  View& v = views_[view];
  if (!v.base || !v.mapped.entries()) return;
  v.mapped.for_each(lin, len, [&](uint32_t lpage, uint32_t e) {
    if (e & STALE) return;
    v.mapped.set(lpage, e | STALE);
    v.stale.push_back(lpage);
    ++stats_.stale;
  });
}

void HostWindows::keep(unsigned view, uint32_t lpage) {
  View& v = views_[view];
  const uint32_t e = v.mapped.get(lpage);
  if (e & STALE) {
    v.mapped.set(lpage, e & ~STALE);
    ++stats_.kept;
  }
}

void HostWindows::unmap_stale(unsigned view, std::vector<uint32_t>& pages) {
  View& v = views_[view];
  std::sort(pages.begin(), pages.end());
  for (size_t i = 0; i < pages.size();) {
    if (!(v.mapped.get(pages[i]) & STALE)) {
      ++i;
      continue;
    }
    size_t j = i + 1;
    while (j < pages.size() && pages[j] == pages[j - 1] + PAGE_SIZE && (v.mapped.get(pages[j]) & STALE)) ++j;
    unmap_range(v, pages[i], uint64_t{pages[j - 1] - pages[i]} + PAGE_SIZE);
    i = j;
  }
}

void HostWindows::clear(unsigned view) {
  View& v = views_[view];
  v.stale.clear();
  if (!v.base || !v.mapped.entries()) return;
  stats_.mapped -= v.mapped.entries();
  v.mapped.clear();
  reserve(v.base, kSpan);
  ++stats_.clears;
}

void HostWindows::clear_all() {
  for (unsigned i = 0; i < views_.size(); ++i) clear(i);
  writers_.clear();
}

void HostWindows::over_budget(unsigned keep) {
  ++stats_.budget_clears;
  for (unsigned i = 0; i < views_.size(); ++i)
    if (i != keep) clear(i);
  if (stats_.mapped >= budget_) clear(keep);
  for (auto it = writers_.begin(); it != writers_.end();) {
    prune(it->second, it->first << PAGE_SHIFT);
    it = it->second.empty() ? writers_.erase(it) : std::next(it);
  }
}

void HostWindows::prune(std::vector<uint32_t>& w, uint32_t ppage) const {
  std::sort(w.begin(), w.end());
  w.erase(std::unique(w.begin(), w.end()), w.end());
  std::erase_if(w, [&](uint32_t ref) {
    const uint32_t e = views_[ref >> 20].mapped.get(ref << PAGE_SHIFT);
    return !(e & ShadowSpace::RW) || (e & ~PAGE_MASK) != ppage;
  });
}

void HostWindows::downgrade(uint32_t ppage) {
  const auto it = writers_.find(ppage >> PAGE_SHIFT);
  if (it == writers_.end()) return;
  for (uint32_t ref : it->second) {
    View& v = views_[ref >> 20];
    const uint32_t lpage = ref << PAGE_SHIFT;
    const uint32_t e = v.mapped.get(lpage);
    // (The mapping may have gone, or now be another page's.)
    if (!(e & ShadowSpace::VALID) || !(e & ShadowSpace::RW) || (e & ~PAGE_MASK) != (ppage & ~PAGE_MASK))
      continue;
    mprotect(v.base + lpage, PAGE_SIZE, PROT_READ);
    v.mapped.set(lpage, e & ~ShadowSpace::RW);
    ++stats_.downgrades;
  }
  writers_.erase(it);
}

void HostWindows::print_stats(FILE* out, unsigned cpu) const {
  const HostWindowStats& s = stats_;
  std::fprintf(
      out,
      "mmu: cpu %u host: %llu pages mapped into windows; %llu turned stale with their shadow entry (%llu "
      "found unchanged at the next flush); %llu unmapped, %llu made read-only (code or page tables), "
      "%llu views emptied (%llu over the budget of %zu pages); %zu mapped now, at most %zu\n",
      cpu, (unsigned long long)s.maps, (unsigned long long)s.stale, (unsigned long long)s.kept,
      (unsigned long long)s.unmaps, (unsigned long long)s.downgrades, (unsigned long long)s.clears,
      (unsigned long long)s.budget_clears, budget_, s.mapped, s.peak_mapped);
}

}  // namespace vx86
