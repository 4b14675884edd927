// Mmu: turns guest linear addresses into host pointers. A direct-mapped software TLB holds, per
// linear page, separate read/write/execute tags and an addend (host = addend + linear), as QEMU's
// cputlb does, with one set of entries for supervisor and one for user accesses. Misses go to the
// page walker (paging on) or the identity map (paging off), then through the A20 gate. MMIO, ROM
// writes, page-crossing accesses, clean pages and pages holding translated code or page tables
// take the slow path. With -mmu shadow a miss first asks the shadow page tables
// (mmu/shadow_tables.h), which keep each address space's translations across CR3 loads. With
// -mmu host translated code reaches guest RAM through host windows (mmu/host_windows.h) that
// mirror the shadow entries; the TLB stays for everything else.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "emu/fault.h"
#include "mmu/host_windows.h"
#include "mmu/mmu_scheme.h"
#include "mmu/page_walker.h"
#include "mmu/physical_memory.h"
#include "mmu/shadow_tables.h"

namespace vx86 {

struct MmuStats {
  uint64_t walks = 0;         // page walks for TLB fills
  uint64_t cr3_loads = 0;     // MOV CR3 / task switches (TLB: non-global entries dropped)
  uint64_t cr3_reloads = 0;   // ... of the value CR3 already held
  uint64_t mode_changes = 0;  // CR0.PG/WP, CR4.PSE/PAE/PGE, EFER.NXE (TLB: everything dropped)
  uint64_t invlpgs = 0;
  uint64_t flushes = 0;  // A20, memory-map changes, snapshots, reset, debugger
  // -mmu host: faults in a window that mapped the page, and those that ran the slow path, by cause.
  uint64_t host_mapped = 0, host_slow_walk = 0, host_slow_tracked = 0, host_slow_other = 0;
};

// Told when the guest writes `size` bytes (within one page) at `paddr`, a page that holds decoded
// or translated code; the page may stay a code page (the write missed the code in it).
class CodeWriteListener {
 public:
  virtual ~CodeWriteListener() = default;
  virtual void code_page_written(uint32_t paddr, unsigned size) = 0;
};

// A debugger's watchpoint (gdb's Z2/Z3/Z4): `len` bytes at linear `addr`, stopping on writes,
// reads or both.
enum class WatchKind : uint8_t { Write = 2, Read = 3, Access = 4 };
struct Watchpoint {
  uint32_t addr, len;
  WatchKind kind;
  bool operator==(const Watchpoint&) const = default;
};

struct TlbEntry {
  uint32_t tag_read = 1, tag_write = 1, tag_exec = 1;  // linear page, or 1 = invalid
  uint32_t phys_page = 0;                              // physical page number
  uintptr_t addend = 0;
  bool global = false;
};

class Mmu : private ShadowObserver {
 public:
  static constexpr unsigned TLB_BITS = 10;
  static constexpr unsigned TLB_SIZE = 1u << TLB_BITS;

  explicit Mmu(PhysicalMemory& mem) : mem_(mem) {}

  PhysicalMemory& memory() { return mem_; }
  // Shadow tables on or off (drops every translation). Falls back to Tlb if there is no
  // watcher bit left in PhysicalMemory, Host to Shadow if RAM is not in a memfd.
  void set_scheme(MmuScheme s);
  MmuScheme scheme() const {
    return windows_ ? MmuScheme::Host : shadow_ ? MmuScheme::Shadow : MmuScheme::Tlb;
  }
  HostWindows* windows() { return windows_.get(); }
  ShadowTables* shadow() { return shadow_.get(); }
  const MmuStats& stats() const { return stats_; }
  void print_stats(FILE* out, unsigned cpu) const;
  // Several CPUs: drops writable TLB entries of the page in the other CPUs (as for code pages);
  // false if it cannot be done now.
  std::function<bool(uint32_t paddr)> protect_elsewhere;
  void set_code_listener(CodeWriteListener* l) { code_listener_ = l; }

  bool a20() const { return a20_mask_ == 0xFFFFFFFFu; }
  void set_a20(bool enabled);
  // CR0/CR4/EFER changes: a new meaning for every mapping.
  void set_paging(const PagingMode& mode);
  const PagingMode& paging() const { return mode_; }
  // CR3 write: a new address space; global pages stay.
  void set_cr3(uint32_t cr3);
  void invlpg(uint32_t lin);
  void flush();
  // Counts the changes above (and A20's) and the fills that replace a fetch translation: translated
  // code that goes on under an exec mapping it saw earlier asks whether one happened in between.
  uint64_t generation() const { return generation_; }
  // CPL 3 accesses use the user entries and the user permission rules.
  void set_user(bool user) {
    cur_ = tlb_[user ? 1 : 0];
    user_ = user;
    if (windows_) select_view();
  }
  bool user() const { return user_; }
  // Where the current TLB set's pointer lives (generated code loads it on every access).
  TlbEntry* const* current_tlb_slot() const { return &cur_; }
  // -mmu host: where the current window's base lives, as an offset from current_tlb_slot()
  // (generated code keeps that slot's address in a register).
  int32_t host_base_disp() const {
    return static_cast<int32_t>(reinterpret_cast<const char*>(&host_base_) -
                                reinterpret_cast<const char*>(&cur_));
  }
  uint8_t* host_base() const { return host_base_; }
  // A translated access faulted at `off` (from the current window's base): maps the page if the
  // shadow allows the access and it is plain RAM, else false (the instruction's slow path runs).
  // Called from the SIGSEGV handler, on this CPU's thread, from translated code.
  bool host_map(uint64_t off, bool write);
  // Drops the write permission of every entry mapping this physical page (it now holds code).
  void protect_code_page(uint32_t paddr);

  // Whether a data access of `size` bytes (within one page) at `lin` faults, found the way the
  // access itself would (the same walk: A/D bits, the TLB fill), without throwing: true and the
  // #PF in `f`. False when it does not fault, or when the access goes where a probe does not
  // (a page crossing, watchpoints): the access itself then finds out.
  bool probe_fault(uint32_t lin, unsigned size, Access acc, CpuFault& f) {
    if (!mode_.enabled || !watches_.empty() || (lin & PAGE_MASK) > PAGE_SIZE - size) return false;
    const TlbEntry& e = cur_[(lin >> PAGE_SHIFT) & (TLB_SIZE - 1)];
    if ((acc == Access::Read ? e.tag_read : e.tag_write) == (lin & ~PAGE_MASK)) return false;
    uint32_t error;
    if (fill_checked(lin, acc, error)) return false;
    f = CpuFault{VEC_PF, true, error, lin};
    return true;
  }
  // Linear -> physical; throws #PF (CpuFault) when the access is not allowed.
  uint32_t translate(uint32_t lin, Access acc);
  // Same, without faulting: false when the access would fault.
  bool try_translate(uint32_t lin, Access acc, uint32_t& phys);
  // A debugger's translation: the page tables only (supervisor rights, no TLB fill, no accessed
  // or dirty bits written). False if nothing is mapped there.
  bool debug_translate(uint32_t lin, uint32_t& phys) const;
  uint32_t translate_exec(uint32_t lin) {
    uint32_t phys;
    CpuFault f;
    if (!translate_exec(lin, phys, f)) throw f;
    return phys;
  }
  // The same without throwing: false and the #PF in `f`. A new process's first fetch from each of
  // its code pages faults (23 K times in the benchmark guest), and the run loop and the JIT's
  // lookup take this path: a C++ throw and catch costs about 2.7 us.
  bool translate_exec(uint32_t lin, uint32_t& phys, CpuFault& f) {
    const TlbEntry& e = cur_[(lin >> PAGE_SHIFT) & (TLB_SIZE - 1)];
    if (e.tag_exec == (lin & ~PAGE_MASK)) [[likely]] {
      phys = (e.phys_page << PAGE_SHIFT) | (lin & PAGE_MASK);
      return true;
    }
    uint32_t error;
    if (const TlbEntry* t = fill_checked(lin, Access::Exec, error)) {
      phys = (t->phys_page << PAGE_SHIFT) | (lin & PAGE_MASK);
      return true;
    }
    f = CpuFault{VEC_PF, true, error, lin};
    return false;
  }

  template <class T>
  T read(uint32_t lin) {
    const TlbEntry& e = cur_[(lin >> PAGE_SHIFT) & (TLB_SIZE - 1)];
    if (e.tag_read == (lin & ~PAGE_MASK) && (lin & PAGE_MASK) <= PAGE_SIZE - sizeof(T)) [[likely]] {
      T v;
      std::memcpy(&v, reinterpret_cast<const void*>(e.addend + lin), sizeof(T));
      return v;
    }
    return static_cast<T>(read_slow(lin, sizeof(T)));
  }

  template <class T>
  void write(uint32_t lin, T v) {
    const TlbEntry& e = cur_[(lin >> PAGE_SHIFT) & (TLB_SIZE - 1)];
    if (e.tag_write == (lin & ~PAGE_MASK) && (lin & PAGE_MASK) <= PAGE_SIZE - sizeof(T)) [[likely]] {
      std::memcpy(reinterpret_cast<void*>(e.addend + lin), &v, sizeof(T));
      return;
    }
    write_slow(lin, v, sizeof(T));
  }

  // Supervisor-privilege accesses (descriptor tables, TSS, IDT), whatever the CPL.
  template <class T>
  T read_system(uint32_t lin) {
    if (!user_) return read<T>(lin);
    set_user(false);
    struct Restore {
      Mmu* m;
      ~Restore() { m->set_user(true); }
    } r{this};
    return read<T>(lin);
  }
  template <class T>
  void write_system(uint32_t lin, T v) {
    if (!user_) return write<T>(lin, v);
    set_user(false);
    struct Restore {
      Mmu* m;
      ~Restore() { m->set_user(true); }
    } r{this};
    write<T>(lin, v);
  }

  // The host address a write of `size` bytes at `lin` goes to on the fast path (a writable TLB
  // entry, within one page), or null.
  uint8_t* write_host(uint32_t lin, unsigned size) const {
    const TlbEntry& e = cur_[(lin >> PAGE_SHIFT) & (TLB_SIZE - 1)];
    if (e.tag_write == (lin & ~PAGE_MASK) && (lin & PAGE_MASK) + size <= PAGE_SIZE)
      return reinterpret_cast<uint8_t*>(e.addend + lin);
    return nullptr;
  }
  // A write to `paddr` went around write()/write_slow() (a locked compare-and-swap), after the
  // store: drops the translated code it overwrote, and the shadow entries derived from it.
  void code_written(uint32_t paddr, unsigned size) {
    if (!mem_.page_write_tracked(paddr)) return;
    if (mem_.page_has_code(paddr) && code_listener_) code_listener_->code_page_written(paddr, size);
    mem_.tables_written(paddr, size);
  }

  uint32_t read_slow(uint32_t lin, unsigned size);
  void write_slow(uint32_t lin, uint32_t value, unsigned size);

  // Watchpoints: the pages they touch get no fast-path tags, so every access to those pages (and
  // no other) reaches the slow path, which checks them. A hit throws CpuFault{VEC_WATCHPOINT}
  // before the access, so the instruction is undone like a fault and the CPU runs it again with
  // recording on (also on while the CPU delivers an event): then the hit is noted, the access done.
  bool add_watchpoint(const Watchpoint& w);  // false: too many
  bool has_watchpoints() const { return !watches_.empty(); }
  bool remove_watchpoint(const Watchpoint& w);
  void clear_watchpoints();
  bool watch_recording(bool on) { return std::exchange(watch_record_, on); }
  // The first watchpoint hit while recording, then forgotten; null: none.
  std::optional<Watchpoint> take_watch_hit() { return std::exchange(watch_hit_, std::nullopt); }
  bool watch_hit() const { return watch_hit_.has_value(); }

  // Linear pages whose fetch translations get no fast-path tag (a debugger's breakpoints are
  // there): translated code's own lookups (the dispatcher, far exits, returns) then never enter
  // code on them, and the run loop interprets it, checking each block.
  void set_exec_holes(std::vector<uint32_t> pages);
  bool exec_hole(uint32_t lin) const {
    for (uint32_t p : exec_holes_)
      if (p == (lin & ~PAGE_MASK)) return true;
    return false;
  }

 private:
  bool watched_page(uint32_t lpage) const;
  void check_watch(uint32_t lin, unsigned size, bool write);

  // Fills the TLB entry for `lin` for an access of kind `acc` (throws #PF).
  TlbEntry& fill(uint32_t lin, Access acc) {
    uint32_t error;
    if (TlbEntry* e = fill_checked(lin, acc, error)) return *e;
    raise_page_fault(lin, error);
  }
  // The same, or null and the #PF error code.
  TlbEntry* fill_checked(uint32_t lin, Access acc, uint32_t& error);
  // The walk (or the shadow's answer) behind a fill.
  Translation page_translation(uint32_t lpage, Access acc);
  void flush_tlb();
  void write_phys(uint32_t paddr, uint32_t value, unsigned size);
  // -mmu host: the view of the current address space and privilege; its base for generated code.
  // (Inline: every privilege change calls it, and a descriptor read from CPL 3 twice.)
  void select_view() {
    const int slot = mode_.enabled ? shadow_->current_slot() : -1;
    view_ = slot < 0 ? kIdentityView : 2 * static_cast<unsigned>(slot) + (user_ ? 1 : 0);
    host_base_ = windows_->base(view_);
  }
  bool host_walk(uint32_t lpage, Access acc);
  // A walk that sets no A/D bit: false if it fails or would have to set one.
  bool quiet_walk(uint32_t lpage, Access acc, bool user, WalkPath& path, Translation& t);
  void check_stale();
  void shadow_erased(unsigned slot, uint32_t lin, uint64_t len) override;
  void shadow_cleared(unsigned slot) override;
  static constexpr unsigned kIdentityView = 2 * ShadowTables::kMaxSpaces;  // paging off

  PhysicalMemory& mem_;
  CodeWriteListener* code_listener_ = nullptr;
  uint32_t a20_mask_ = 0xFFFFFFFFu;
  PagingMode mode_;
  bool user_ = false;
  uint64_t generation_ = 0;
  std::unique_ptr<ShadowTables> shadow_;
  std::unique_ptr<HostWindows> windows_;
  unsigned view_ = kIdentityView;
  MmuStats stats_;
  std::vector<Watchpoint> watches_;
  std::vector<uint32_t> exec_holes_;
  bool watch_record_ = false;
  std::optional<Watchpoint> watch_hit_;
  TlbEntry tlb_[2][TLB_SIZE];
  // The entries filled non-global since the last CR3 load (both sets: index + TLB_SIZE for the
  // user set), so a CR3 load drops them without scanning the TLB; past kMaxFilled it scans.
  static constexpr size_t kMaxFilled = 256;
  uint16_t filled_[kMaxFilled];
  size_t nfilled_ = 0;
  TlbEntry* cur_ = tlb_[0];
  uint8_t* host_base_ = nullptr;  // (next to cur_: generated code reaches both from one register)
};

}  // namespace vx86
