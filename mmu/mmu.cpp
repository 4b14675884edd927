#include "mmu/mmu.h"

#include <algorithm>

namespace vx86 {

void Mmu::set_a20(bool enabled) {
  uint32_t mask = enabled ? 0xFFFFFFFFu : ~(1u << 20);
  if (mask != a20_mask_) {
    a20_mask_ = mask;
    flush();
  }
}

void Mmu::set_scheme(MmuScheme s) {
  windows_.reset();
  host_base_ = nullptr;
  shadow_.reset();
  if (s != MmuScheme::Tlb) {
    shadow_ = std::make_unique<ShadowTables>(mem_);
    if (!shadow_->usable()) {
      shadow_.reset();
    } else {
      shadow_->protect = [this](uint32_t paddr) {
        protect_code_page(paddr);
        return !protect_elsewhere || protect_elsewhere(paddr);
      };
      if (s == MmuScheme::Host && mem_.ram_fd() >= 0) {
        windows_ = std::make_unique<HostWindows>(mem_.ram_fd(), kIdentityView + 1);
        shadow_->set_observer(this);
      }
    }
  }
  flush();
}

void Mmu::shadow_erased(unsigned slot, uint32_t lin, uint64_t len) {
  windows_->mark_stale(2 * slot, lin, len);
  windows_->mark_stale(2 * slot + 1, lin, len);
}

// A TLB flush point for the current address space: its stale window pages are walked again (with
// no A/D bits to set: else the slow path does it); those that still map the same page with at
// least the rights they were mapped with stay, and their shadow entries come back; the rest go.
void Mmu::check_stale() {
  const int slot = mode_.enabled ? shadow_->current_slot() : -1;
  if (slot < 0) return;
  for (unsigned user = 0; user < 2; ++user) {
    const unsigned view = 2 * static_cast<unsigned>(slot) + user;
    std::vector<uint32_t> pages = windows_->take_stale(view);
    if (pages.empty()) continue;
    for (uint32_t lpage : pages) {
      const uint32_t e = windows_->mapped(view, lpage);
      if (!(e & HostWindows::STALE)) continue;
      const bool rw = e & ShadowSpace::RW;
      WalkPath path;
      Translation t;
      if (quiet_walk(lpage, rw ? Access::Write : Access::Read, user != 0, path, t) &&
          (t.phys & a20_mask_ & ~PAGE_MASK) == (e & ~PAGE_MASK)) {
        shadow_->fill(lpage, t.phys, path);
        windows_->keep(view, lpage);
      }
    }
    windows_->unmap_stale(view, pages);
  }
}

void Mmu::shadow_cleared(unsigned slot) {
  windows_->clear(2 * slot);
  windows_->clear(2 * slot + 1);
}

// The shadow may lack an entry the TLB has (a global page after a switch to another address
// space, an entry a table write dropped): a walk fills it when it would change nothing in the
// guest's tables (every A bit, and D for a write, already set), else the slow path walks.
bool Mmu::quiet_walk(uint32_t lpage, Access acc, bool user, WalkPath& path, Translation& t) {
  ++stats_.walks;
  t = walk(mem_, mode_, lpage, acc, user, false, &path);
  if (!t.ok || (acc == Access::Write && !path.dirty)) return false;
  for (unsigned k = 0; k < path.levels; ++k)
    if (path.level[k].shift != 30 && !(path.level[k].value & 0x20)) return false;  // (PDPTEs have no A)
  return true;
}

bool Mmu::host_walk(uint32_t lpage, Access acc) {
  WalkPath path;
  Translation t;
  if (!quiet_walk(lpage, acc, user_, path, t)) return false;
  shadow_->fill(lpage, t.phys, path);
  return true;
}

bool Mmu::host_map(uint64_t off, bool write) {
  if (!host_base_ || off >= HostWindows::kSpan) return false;  // (past 4 GiB: the guard)
  const uint32_t lpage = static_cast<uint32_t>(off) & ~PAGE_MASK;
  uint32_t ppage;
  bool writable = true;
  if (mode_.enabled) {
    const Access acc = write ? Access::Write : Access::Read;
    Translation t;
    if (!shadow_->lookup(lpage, acc, user_, t) &&
        !(host_walk(lpage, acc) && shadow_->lookup(lpage, acc, user_, t))) {
      ++stats_.host_slow_walk;  // #PF, or A/D bits to set
      return false;
    }
    ppage = t.phys & a20_mask_;
    writable = t.writable && t.dirty;
  } else {
    ppage = lpage & a20_mask_;
  }
  writable = writable && mem_.page_writable(ppage) && !mem_.page_write_tracked(ppage);
  // Not RAM (MMIO, ROM), watched, or mapped already with these rights (then the fault is not the
  // window's: the slow path finds out what it is): the slow path.
  const uint32_t had = windows_->mapped(view_, lpage);
  if (!mem_.plain_ram(ppage) || (!watches_.empty() && watched_page(lpage)) ||
      ((had & ShadowSpace::VALID) && (!write || (had & ShadowSpace::RW)))) {
    ++stats_.host_slow_other;
    return false;
  }
  if (write && !writable) {
    ++stats_.host_slow_tracked;
    return false;
  }
  if (!windows_->map(view_, lpage, ppage, writable)) {
    ++stats_.host_slow_other;
    return false;
  }
  ++stats_.host_mapped;
  return true;
}

void Mmu::set_paging(const PagingMode& mode) {
  ++stats_.mode_changes;
  mode_ = mode;
  // The TLB holds no mode; each mode has its own shadow (keyed by the mode bits).
  flush_tlb();
  if (shadow_) shadow_->select(mode_);
  if (windows_) {
    select_view();
    check_stale();
  }
}

void Mmu::set_cr3(uint32_t cr3) {
  ++stats_.cr3_loads;
  if (cr3 == mode_.cr3) ++stats_.cr3_reloads;
  mode_.cr3 = cr3;
  ++generation_;
  if (nfilled_ <= kMaxFilled) {
    for (size_t k = 0; k < nfilled_; ++k) {
      TlbEntry& e = tlb_[filled_[k] / TLB_SIZE][filled_[k] % TLB_SIZE];
      if (!e.global) e = TlbEntry{};
    }
  } else {
    for (auto& set : tlb_)
      for (auto& e : set)
        if (!e.global) e = TlbEntry{};
  }
  nfilled_ = 0;
  if (shadow_) shadow_->select(mode_);
  if (windows_) {
    select_view();
    check_stale();
  }
}

void Mmu::invlpg(uint32_t lin) {
  ++stats_.invlpgs;
  if (shadow_) shadow_->invlpg(lin);
  if (windows_) check_stale();
  ++generation_;
  for (auto& set : tlb_) {
    TlbEntry& e = set[(lin >> PAGE_SHIFT) & (TLB_SIZE - 1)];
    if (e.tag_read == (lin & ~PAGE_MASK) || e.tag_write == (lin & ~PAGE_MASK) ||
        e.tag_exec == (lin & ~PAGE_MASK))
      e = TlbEntry{};
  }
}

void Mmu::flush_tlb() {
  ++generation_;
  nfilled_ = 0;
  for (auto& set : tlb_)
    for (auto& e : set) e = TlbEntry{};
}

void Mmu::flush() {
  ++stats_.flushes;
  flush_tlb();
  if (shadow_) {  // (memory may have changed behind the write tracking's back)
    shadow_->clear_all();
    shadow_->select(mode_);
  }
  if (windows_) {
    windows_->clear_all();
    select_view();
  }
}

void Mmu::print_stats(FILE* out, unsigned cpu) const {
  std::fprintf(out,
               "mmu: cpu %u (%s): %llu page walks; CR3 loads %llu (%llu of the same value), paging-mode "
               "changes %llu, INVLPG %llu, flushes %llu\n",
               cpu,
               windows_  ? "host"
               : shadow_ ? "shadow"
                         : "tlb",
               (unsigned long long)stats_.walks, (unsigned long long)stats_.cr3_loads,
               (unsigned long long)stats_.cr3_reloads, (unsigned long long)stats_.mode_changes,
               (unsigned long long)stats_.invlpgs, (unsigned long long)stats_.flushes);
  if (shadow_) shadow_->print_stats(out, cpu);
  if (windows_) {
    std::fprintf(out,
                 "mmu: cpu %u host: %llu faults in a window mapped the page; slow paths: %llu to walk (#PF, or A/D "
                 "bits to set), %llu writes to code or page-table pages, %llu MMIO, ROM or watched\n",
                 cpu, (unsigned long long)stats_.host_mapped, (unsigned long long)stats_.host_slow_walk,
                 (unsigned long long)stats_.host_slow_tracked, (unsigned long long)stats_.host_slow_other);
    windows_->print_stats(out, cpu);
  }
}

Translation Mmu::page_translation(uint32_t lpage, Access acc) {
  Translation t;
  if (shadow_ && shadow_->lookup(lpage, acc, user_, t)) return t;
  ++stats_.walks;
  if (!shadow_) return walk(mem_, mode_, lpage, acc, user_);
  WalkPath path;
  t = walk(mem_, mode_, lpage, acc, user_, true, &path);
  if (t.ok) shadow_->fill(lpage, t.phys, path);
  return t;
}

void Mmu::protect_code_page(uint32_t paddr) {
  uint32_t page = paddr >> PAGE_SHIFT;
  for (auto& set : tlb_)
    for (auto& e : set)
      if (e.phys_page == page) e.tag_write = 1;
  if (windows_) windows_->downgrade(paddr);
}

bool Mmu::debug_translate(uint32_t lin, uint32_t& phys) const {
  if (!mode_.enabled) {
    phys = lin & a20_mask_;
    return true;
  }
  const Translation t = walk(mem_, mode_, lin, Access::Read, false, false);
  if (!t.ok) return false;
  phys = t.phys & a20_mask_;
  return true;
}

bool Mmu::try_translate(uint32_t lin, Access acc, uint32_t& phys) {
  if (!mode_.enabled) {
    phys = lin & a20_mask_;
    return true;
  }
  const TlbEntry& e = cur_[(lin >> PAGE_SHIFT) & (TLB_SIZE - 1)];
  uint32_t tag = acc == Access::Read ? e.tag_read : acc == Access::Write ? e.tag_write : e.tag_exec;
  if (tag == (lin & ~PAGE_MASK)) {
    phys = (e.phys_page << PAGE_SHIFT) | (lin & PAGE_MASK);
    return true;
  }
  Translation t = walk(mem_, mode_, lin, acc, user_);
  phys = t.phys & a20_mask_;
  return t.ok;
}

uint32_t Mmu::translate(uint32_t lin, Access acc) {
  // Paging off: code fetches still fill the TLB, so translated code finds its next block there.
  if (!mode_.enabled && acc != Access::Exec) return lin & a20_mask_;
  const TlbEntry& e = fill(lin, acc);
  return (e.phys_page << PAGE_SHIFT) | (lin & PAGE_MASK);
}

TlbEntry* Mmu::fill_checked(uint32_t lin, Access acc, uint32_t& error) {
  const uint32_t lpage = lin & ~PAGE_MASK;
  TlbEntry& e = cur_[(lin >> PAGE_SHIFT) & (TLB_SIZE - 1)];
  uint32_t ppage;
  bool writable = true, dirty = true, exec = true, global = false;
  if (mode_.enabled) {
    const Translation t = page_translation(lpage, acc);
    if (!t.ok) {
      error = t.error;
      return nullptr;
    }
    ppage = t.phys & a20_mask_;
    writable = t.writable;
    dirty = t.dirty;
    exec = t.executable;
    global = t.global;
  } else {
    ppage = lpage & a20_mask_;
  }
  // Replacing a fetch translation (another page, another frame, or no longer executable) is a
  // change that translated code chaining on it must notice.
  if (e.tag_exec != TlbEntry{}.tag_exec &&
      (e.tag_exec != lpage || e.phys_page != ppage >> PAGE_SHIFT || !exec))
    ++generation_;
  e = TlbEntry{};
  e.phys_page = ppage >> PAGE_SHIFT;
  e.global = global;
  if (!global) {
    if (nfilled_ < kMaxFilled) filled_[nfilled_] = static_cast<uint16_t>(&e - tlb_[0]);
    nfilled_ += nfilled_ <= kMaxFilled;  // (one past: scan at the next CR3 load)
  }
  uint8_t* host = mem_.host_page(ppage);
  if (!host) {
    // MMIO or open bus: keep the translation for translate(), but no fast-path tags.
    if (exec && !exec_hole(lpage)) e.tag_exec = lpage;
    return &e;
  }
  e.addend = reinterpret_cast<uintptr_t>(host) - lpage;
  if (exec && !exec_hole(lpage)) e.tag_exec = lpage;
  if (!watches_.empty() && watched_page(lpage)) [[unlikely]]
    return &e;  // data accesses take the slow path, which checks the watchpoints
  e.tag_read = lpage;
  // Writes stay on the slow path until the page is dirty (so D gets set) and while it holds code.
  if (writable && dirty && mem_.page_writable(ppage) && !mem_.page_write_tracked(ppage)) e.tag_write = lpage;
  return &e;
}

bool Mmu::add_watchpoint(const Watchpoint& w) {
  if (std::find(watches_.begin(), watches_.end(), w) != watches_.end()) return true;
  if (watches_.size() >= 64) return false;
  watches_.push_back(w);
  flush();  // the pages it touches lose their fast-path tags
  return true;
}

bool Mmu::remove_watchpoint(const Watchpoint& w) {
  const auto it = std::find(watches_.begin(), watches_.end(), w);
  if (it == watches_.end()) return false;
  watches_.erase(it);
  flush();
  return true;
}

void Mmu::clear_watchpoints() {
  watches_.clear();
  watch_hit_.reset();
  flush();
}

void Mmu::set_exec_holes(std::vector<uint32_t> pages) {
  exec_holes_ = std::move(pages);
  flush();
}

bool Mmu::watched_page(uint32_t lpage) const {
  for (const Watchpoint& w : watches_)
    if (lpage <= w.addr + (w.len - 1) && w.addr <= lpage + PAGE_MASK) return true;
  return false;
}

void Mmu::check_watch(uint32_t lin, unsigned size, bool write) {
  for (const Watchpoint& w : watches_) {
    if (!(lin <= w.addr + (w.len - 1) && w.addr <= lin + (size - 1))) continue;
    if (w.kind == (write ? WatchKind::Read : WatchKind::Write)) continue;
    if (!watch_record_) throw CpuFault{VEC_WATCHPOINT, false, 0, lin};
    if (!watch_hit_) watch_hit_ = w;
    return;
  }
}

uint32_t Mmu::read_slow(uint32_t lin, unsigned size) {
  if (!watches_.empty()) [[unlikely]]
    check_watch(lin, size, false);
  if ((lin & PAGE_MASK) + size > PAGE_SIZE) {  // crosses a page: byte by byte
    uint32_t v = 0;
    for (unsigned i = 0; i < size; ++i) v |= read_slow(lin + i, 1) << (8 * i);
    return v;
  }
  TlbEntry& e = fill(lin, Access::Read);
  if (e.tag_read == (lin & ~PAGE_MASK)) {
    uint32_t v = 0;
    std::memcpy(&v, reinterpret_cast<const void*>(e.addend + lin), size);
    return v;
  }
  return mem_.read((e.phys_page << PAGE_SHIFT) | (lin & PAGE_MASK), size);
}

void Mmu::write_phys(uint32_t paddr, uint32_t value, unsigned size) {
  if (mem_.page_has_code(paddr) && code_listener_) code_listener_->code_page_written(paddr, size);
  mem_.write(paddr, value, size);
}

void Mmu::write_slow(uint32_t lin, uint32_t value, unsigned size) {
  if (!watches_.empty()) [[unlikely]]
    check_watch(lin, size, true);
  if ((lin & PAGE_MASK) + size > PAGE_SIZE) {
    // Both pages must allow the write before any byte is written.
    const unsigned first = PAGE_SIZE - (lin & PAGE_MASK);
    const uint32_t p0 = translate(lin, Access::Write);
    const uint32_t p1 = translate(lin + first, Access::Write);
    for (unsigned i = 0; i < size; ++i)
      write_phys(i < first ? p0 + i : p1 + (i - first), (value >> (8 * i)) & 0xFF, 1);
    return;
  }
  TlbEntry* e = &fill(lin, Access::Write);
  const uint32_t paddr = (e->phys_page << PAGE_SHIFT) | (lin & PAGE_MASK);
  if (mem_.page_has_code(paddr) && code_listener_) {
    code_listener_->code_page_written(paddr, size);
    e = &fill(lin, Access::Write);  // if the page no longer holds code, the fast path applies
  }
  if (e->tag_write == (lin & ~PAGE_MASK)) {
    std::memcpy(reinterpret_cast<void*>(e->addend + lin), &value, size);
    return;
  }
  mem_.write(paddr, value, size);
}

}  // namespace vx86
