// ShadowTables: one CPU's shadow page tables (-mmu shadow). A TLB miss asks the current address
// space's shadow before walking the guest's tables; a walk fills it. Spaces are keyed by CR3 and
// the paging-mode bits and kept across CR3 loads (an LRU of kMaxSpaces, at most kMaxLeaves leaves
// of entries in all), so a switch back to a process refills the TLB without walking.
//
// Coherence: every page holding an entry a shadow entry was derived from (PDPTE, PDE, PTE) is
// marked in PhysicalMemory, which takes every store to it off the TLB fast path (as for code
// pages) and reports it here, as do device DMA writes (Machine::dma_written). A write drops
// exactly the shadow entries derived from the entries it overwrote, so a shadow entry is always
// what a fresh walk would give, and a CR3 load keeps every space. Only a successful walk fills an
// entry (A is then set on its whole path), and an entry grants a write only once the leaf's D is
// set; the guest clearing A or D is a write to the table, which drops the entry.
//
// Threads (-smp N,threads=on): each CPU owns its ShadowTables and is the only thread that reads
// or changes them; another thread's write only queues a notice, which the owner applies before
// its next lookup. Marking a page first makes every CPU drop writable TLB entries for it
// (`protect`), then re-reads the walked entries: a store that raced with the walk is seen.
#pragma once
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "mmu/page_walker.h"
#include "mmu/physical_memory.h"
#include "mmu/shadow_space.h"

namespace vx86 {

struct ShadowStats {
  uint64_t hits = 0;           // TLB misses answered by a shadow (no walk)
  uint64_t hits_returned = 0;  // ... of them, in a space the CPU had switched back to
  uint64_t misses = 0;         // TLB misses that walked (no entry, or its rights did not suffice)
  uint64_t fills = 0;          // entries filled by a walk
  uint64_t races = 0;          // walks not kept: an entry changed while walking, or protecting failed
  uint64_t switch_known = 0;   // CR3 loads / mode changes to an address space already shadowed
  uint64_t switch_new = 0;     // ... to a new one
  uint64_t evicted = 0;        // address spaces dropped (LRU, or over the memory bound)
  uint64_t table_writes = 0;   // guest stores to marked pages seen
  uint64_t dma_writes = 0;     // device DMA writes to marked pages seen
  // Entries dropped, by cause.
  uint64_t inv_store = 0, inv_dma = 0, inv_invlpg = 0, inv_flush = 0, inv_evict = 0;
  size_t bytes = 0, peak_bytes = 0;  // memory of the entries, directories and bookkeeping
};

// Told when entries of an address space (by its slot) go: -mmu host unmaps them from its windows.
class ShadowObserver {
 public:
  virtual ~ShadowObserver() = default;
  virtual void shadow_erased(unsigned slot, uint32_t lin, uint64_t len) = 0;
  virtual void shadow_cleared(unsigned slot) = 0;
};

class ShadowTables : public PageTableWatcher {
 public:
  static constexpr unsigned kMaxSpaces = 32;
  static constexpr size_t kMaxLeaves = 4096;  // 16 MiB of entries per CPU

  explicit ShadowTables(PhysicalMemory& mem);
  ~ShadowTables() override;
  ShadowTables(const ShadowTables&) = delete;
  ShadowTables& operator=(const ShadowTables&) = delete;

  // False when PhysicalMemory had no watcher bit left (more than 8 CPUs): the MMU walks instead.
  bool usable() const { return bit_ != 0; }
  // Drops the write permission of every TLB entry, in every CPU, that maps the page at `paddr`;
  // false if it could not be done now (the walk's result is then not kept).
  std::function<bool(uint32_t paddr)> protect;

  // The address space `mode` describes becomes current (none when paging is off).
  void select(const PagingMode& mode);
  // A TLB miss: the translation of `lpage` for this access if the current shadow holds a
  // mapping that allows it (exactly what walk() would return), else false.
  bool lookup(uint32_t lpage, Access acc, bool user, Translation& t);
  // A successful walk of `lpage` (its page at `phys`) went through `path`.
  void fill(uint32_t lpage, uint32_t phys, const WalkPath& path);
  void invlpg(uint32_t lin);
  void clear_all();
  // The current address space's slot (0 .. kMaxSpaces - 1), or -1 (paging off).
  int current_slot() const { return cur_ ? static_cast<int>(cur_ - spaces_) : -1; }
  void set_observer(ShadowObserver* o) { observer_ = o; }

  void page_table_written(uint32_t paddr, unsigned size, bool dma) override;
  // CPUs on host threads: other threads' writes are queued for the owner (else applied at once).
  void set_concurrent(bool on) { concurrent_ = on; }

  const ShadowStats& stats() const { return stats_; }
  size_t spaces() const;
  void print_stats(FILE* out, unsigned cpu) const;

 private:
  struct Space {
    ShadowSpace table;
    uint64_t key = 0;
    uint32_t gen = 0;  // bumped when the slot is emptied: older uses no longer apply
    uint64_t stamp = 0;
    bool live = false;
    bool wp = false;
  };
  // A page-table page some entries of a space were derived through: the table starts at `off`
  // in the page, has `count` entries of `size` bytes, each mapping 2^shift bytes from `base`.
  struct Use {
    uint32_t base;
    uint16_t off, count;
    uint8_t slot, shift, size;
    uint32_t gen;
    bool operator==(const Use&) const = default;
  };
  struct Notice {
    uint32_t paddr, size;
    bool dma;
  };

  static uint64_t key_of(const PagingMode& m);
  void drain();
  void apply_write(uint32_t paddr, uint32_t size, bool dma);
  bool use_empty(const Use& u) const;
  void empty_slot(Space& s, uint64_t& counter);
  void sweep_uses();
  void unmark(uint32_t ppage);
  // Drops [lin, lin + len) of the space in `slot`; returns how many entries went.
  size_t erase(unsigned slot, uint32_t lin, uint64_t len);
  void account();

  PhysicalMemory& mem_;
  uint8_t bit_ = 0;
  Space spaces_[kMaxSpaces];
  Space* cur_ = nullptr;
  bool returned_ = false;  // cur_ was known when the CPU switched to it
  uint64_t clock_ = 0;
  std::unordered_map<uint32_t, std::vector<Use>> uses_;  // physical page -> uses
  size_t use_count_ = 0;
  std::atomic<bool> pending_{false};
  std::mutex pending_mu_;
  std::vector<Notice> notices_;
  bool overflow_ = false;
  bool concurrent_ = false;
  ShadowObserver* observer_ = nullptr;
  ShadowStats stats_;
};

}  // namespace vx86
