// HostWindows: one CPU's host-MMU windows (-mmu host). Each view is 4 GiB of reserved host
// address space standing for the 32-bit linear addresses of one guest address space at one
// privilege (supervisor or user; one more view for paging off); guest RAM pages (a memfd, see
// PhysicalMemory) are mapped into it at view + linear with the rights the guest's tables give, so
// translated code reaches guest memory with one host instruction. Pages not mapped fault: the
// JIT's SIGSEGV handler (jit/host_faults.h) asks the MMU to map the page, or runs the
// instruction's slow path.
//
// A view only ever maps what its address space's shadow entries (mmu/shadow_tables.h) allowed.
// When the shadow drops an entry (the guest wrote the page-table entry behind it), the page turns
// stale: it stays mapped, as a real TLB keeps a translation until the processor is told to look
// again (INVLPG, a CR3 load, a paging-mode change), and only then does the MMU check it again
// (mostly it still holds: a table rewritten with the same entries) or unmap it, many pages in one
// call. Write access is taken back at once from every view mapping a physical page that starts
// holding code or page tables.
// The kernel allows a process vm.max_map_count mappings: past a budget of mapped pages, views
// are emptied whole (they refill on demand).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <unordered_map>
#include <vector>

#include "mmu/shadow_space.h"

namespace vx86 {

struct HostWindowStats {
  uint64_t maps = 0;                   // pages mapped into a view
  uint64_t unmaps = 0;                 // pages unmapped (their shadow entry went)
  uint64_t downgrades = 0;             // pages made read-only (they became code or page-table pages)
  uint64_t stale = 0;                  // pages whose shadow entry went (checked at the next TLB flush)
  uint64_t kept = 0;                   // ... found unchanged then, and kept
  uint64_t clears = 0;                 // views emptied whole
  uint64_t budget_clears = 0;          // ... of them, because too many pages were mapped
  size_t mapped = 0, peak_mapped = 0;  // pages mapped now, and at most
};

class HostWindows {
 public:
  // The window of a view: 4 GiB of linear addresses plus a guard above, never mapped, that an
  // access wrapping past 4 GiB faults in.
  static constexpr uint64_t kSpan = uint64_t{1} << 32;
  static constexpr uint64_t kGuard = 64 * 1024;

  // `ram_fd`: the memfd guest RAM lives in (RAM offset = physical address).
  HostWindows(int ram_fd, unsigned views);
  ~HostWindows();
  HostWindows(const HostWindows&) = delete;
  HostWindows& operator=(const HostWindows&) = delete;

  // The view's base (reserved on first use); null if the host has no address space left.
  uint8_t* base(unsigned view) {
    uint8_t* b = views_[view].base;
    return b ? b : reserve_view(view);
  }
  // Maps linear page `lpage` of `view` to RAM page `ppage`, writable or read-only.
  bool map(unsigned view, uint32_t lpage, uint32_t ppage, bool writable);
  // Unmaps linear pages [lin, lin + len) of `view` (what is mapped there).
  void unmap(unsigned view, uint32_t lin, uint64_t len);
  // Marks what `view` maps in [lin, lin + len) stale (see above).
  void mark_stale(unsigned view, uint32_t lin, uint64_t len);
  // The stale pages of `view`, handed over once (some may have been mapped again since).
  std::vector<uint32_t> take_stale(unsigned view) { return std::move(views_[view].stale); }
  // A stale page still maps what the guest's tables give: it is kept.
  void keep(unsigned view, uint32_t lpage);
  // Unmaps those of `pages` that are still stale (sorted; consecutive pages in one call).
  void unmap_stale(unsigned view, std::vector<uint32_t>& pages);
  static constexpr uint32_t STALE = ShadowSpace::NX;  // (a bit mapped entries do not use)
  void clear(unsigned view);
  void clear_all();
  // Every view mapping RAM page `ppage` writable gets it read-only.
  void downgrade(uint32_t ppage);
  // What `view` maps at `lpage`: RAM page | ShadowSpace::VALID | RW, or 0.
  uint32_t mapped(unsigned view, uint32_t lpage) const { return views_[view].mapped.get(lpage); }

  const HostWindowStats& stats() const { return stats_; }
  void print_stats(FILE* out, unsigned cpu) const;
  // Mapped pages allowed across all views before views are emptied (from vm.max_map_count).
  size_t budget() const { return budget_; }
  void set_budget(size_t pages) { budget_ = pages; }

 private:
  struct View {
    uint8_t* base = nullptr;
    ShadowSpace mapped;           // linear page -> RAM page | VALID | RW | STALE: what the window maps
    std::vector<uint32_t> stale;  // pages marked stale since the view's last check
  };
  uint8_t* reserve_view(unsigned view);
  void unmap_range(View& v, uint32_t lin, uint64_t len);
  void over_budget(unsigned keep);
  // Forgets duplicate references and those whose writable mapping of `ppage` went.
  void prune(std::vector<uint32_t>& w, uint32_t ppage) const;

  int fd_;
  std::vector<View> views_;
  // RAM page -> (view << 20 | linear page number) of its writable mappings (some may be gone).
  std::unordered_map<uint32_t, std::vector<uint32_t>> writers_;
  size_t budget_;
  HostWindowStats stats_;
};

}  // namespace vx86
