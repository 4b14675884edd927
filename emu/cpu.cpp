#include "emu/cpu.h"

#include <algorithm>

#include "devices/port_bus.h"
#include "emu/disasm.h"
#include "emu/segmentation.h"
#include "jit/jit.h"

namespace vx86 {

Cpu::Cpu(PhysicalMemory& mem, PortBus& io_bus) : mmu(mem), io(io_bus), blocks(mmu) { reset(); }

Cpu::~Cpu() = default;

void Cpu::enable_jit(bool on, size_t cache_bytes) {
  if (on && !jit) jit = cache_bytes ? std::make_unique<Jit>(*this, cache_bytes) : std::make_unique<Jit>(*this);
  if (!on) {
    blocks.for_each([](Block* b) { b->host = nullptr; });
    jit.reset();
  }
}

void Cpu::reset() {
  CpuModel model = s.model;
  s = CpuState{};
  s.model = model;
  fpu_power_on(s.fpu);
  for (auto& sr : s.seg) sr = SegReg{0, 0x0093, 0, 0xFFFF};
  s.seg[CS] = SegReg{0xF000, 0x009B, 0xFFFF0000u, 0xFFFF};
  s.eip = 0xFFF0;
  s.eflags = F_BIT1;
  s.cr[0] = 0x60000010u;
  s.regs[EDX] = 0x0633;  // family 6, model 3, stepping 3: a Pentium II
  s.idtr = {0, 0x3FF};
  s.gdtr = {0, 0xFFFF};
  s.ldtr = SegReg{0, 0x0082, 0, 0xFFFF};
  s.tr = SegReg{0, 0x008B, 0, 0xFFFF};
  update_mode();
  update_paging();
  update_debug();
  if (!bsp) {
    s.msr.apic_base &= ~uint64_t{0x100};
    s.wait_sipi = true;
  }
  mmu.flush();
  blocks.flush();
  delivering_fault_ = false;
  fault_ext = 0;
}

void Cpu::init() {
  const MsrState msrs = s.msr;
  const uint64_t icount = s.icount;
  reset();
  s.msr = msrs;
  s.icount = icount;
  update_paging();
}

void Cpu::sipi(uint8_t v) {
  if (!s.wait_sipi) return;
  s.wait_sipi = false;
  s.halted = false;
  s.seg[CS] = SegReg{static_cast<uint16_t>(v << 8), 0x009B, uint32_t{v} << 12, 0xFFFF};
  s.eip = 0;
  update_mode();
}

void Cpu::update_mode() {
  s.code32 = (s.seg[CS].attr & SEG_ATTR_DB) ? 1 : 0;
  s.ip_mask = s.code32 ? 0xFFFFFFFFu : 0xFFFFu;
  s.sp_mask = (s.seg[SS].attr & SEG_ATTR_DB) ? 0xFFFFFFFFu : 0xFFFFu;
  if (!pe()) set_cpl(0);
  else if (v86()) set_cpl(3);
  else mmu.set_user(s.cpl == 3);
  for (unsigned k = 0; k < SEG_COUNT; ++k) refresh_seg_bounds(k);
  s.jit_mode = (s.jit_mode & ~1u) | s.code32;
}

void Cpu::refresh_seg_bounds(unsigned seg) {
  const SegReg& sr = s.seg[seg];
  int64_t r = sr.limit, w = sr.limit;
  if (protected_mode()) {
    const uint16_t a = sr.attr;
    if (!(a & ATTR_P)) {
      r = w = -1;  // null selector: #GP(0) on use
    } else if (a & ATTR_CODE) {
      w = -1;
      if (!(a & ATTR_RW)) r = -1;
    } else {
      if (a & ATTR_DC) r = w = -1;  // expand-down: checked in the slow path
      if (!(a & ATTR_RW)) w = -1;
    }
  }
  if (data_bps_) r = w = -1;
  s.seg_rmax[seg] = r;
  s.seg_wmax[seg] = w;
  if (JIT_FLAT_SEGS & jit_flat_bit(seg)) {
    const bool flat = sr.base == 0 && r == 0xFFFFFFFF && w == 0xFFFFFFFF;
    s.jit_mode = flat ? (s.jit_mode | jit_flat_bit(seg)) : (s.jit_mode & ~jit_flat_bit(seg));
  }
}

void Cpu::update_paging() {
  PagingMode m;
  m.enabled = (s.cr[0] & 0x80000001u) == 0x80000001u;
  m.pae = s.cr[4] & (1u << 5);
  m.pse = s.cr[4] & (1u << 4);
  m.pge = s.cr[4] & (1u << 7);
  m.wp = s.cr[0] & (1u << 16);
  m.nxe = (s.msr.efer & EFER_NXE) != 0;
  m.cr3 = s.cr[3];
  mmu.set_paging(m);
}

void Cpu::update_debug() {
  const uint32_t dr7 = s.dr[7];
  bool data = false;
  for (unsigned k = 0; k < 4; ++k) {
    if (!((dr7 >> (2 * k)) & 3)) continue;
    unsigned rw = (dr7 >> (16 + 4 * k)) & 3;
    if (rw == 1 || rw == 3) data = true;
  }
  if (data != data_bps_) {
    data_bps_ = data;
    for (unsigned k = 0; k < SEG_COUNT; ++k) refresh_seg_bounds(k);
  }
}

void Cpu::check_data_bp(uint32_t lin, unsigned size, bool write) {
  const uint32_t dr7 = s.dr[7];
  for (unsigned k = 0; k < 4; ++k) {
    if (!((dr7 >> (2 * k)) & 3)) continue;
    unsigned rw = (dr7 >> (16 + 4 * k)) & 3;
    if (!(rw == 3 || (rw == 1 && write))) continue;
    static constexpr uint32_t lens[4] = {1, 2, 8, 4};
    uint32_t len = lens[(dr7 >> (18 + 4 * k)) & 3];
    uint32_t lo = s.dr[k] & ~(len - 1);
    if (lin <= lo + len - 1 && lo <= lin + size - 1) dr6_pending_ |= 1u << k;
  }
}

uint32_t Cpu::flags_image() const {
  if (s.model == CpuModel::i8086) return (s.eflags & 0x0FFF) | 0xF000;  // 8086: bits 12-15 read as 1
  return s.eflags & ~(F_VM | F_RF);
}

void Cpu::set_flags(uint32_t value, uint32_t writable_mask) {
  s.eflags = ((s.eflags & ~writable_mask) | (value & writable_mask) | F_BIT1) & ~0x8028u;
  if (s.model == CpuModel::i8086) s.eflags &= 0x0FFF | F_BIT1;
}

void Cpu::segment_fault(unsigned seg) {
  if (seg == SS) raise_fault(VEC_SS, 0);
  raise_fault(VEC_GP, 0);
}

namespace {
// The checks of the slow path: true if the access may go ahead (real and V86 mode: the limit only).
bool seg_access_ok(const Cpu& c, const SegReg& sr, uint32_t off, unsigned size, bool write) {
  if (!c.protected_mode()) return uint64_t{off} + size - 1 <= sr.limit;
  const uint16_t a = sr.attr;
  if (!(a & ATTR_P)) return false;
  if (a & ATTR_CODE) {
    if (write || !(a & ATTR_RW)) return false;
  } else if (write && !(a & ATTR_RW)) {
    return false;
  }
  return seg_range_ok(sr, off, size);
}
}  // namespace

uint32_t Cpu::read_seg_slow(unsigned seg, uint32_t off, unsigned size) {
  const SegReg& sr = s.seg[seg];
  if (s.model == CpuModel::i8086) {
    // The 8086 has no limit check: offsets wrap inside the 64 KiB segment.
    uint32_t v = 0;
    for (unsigned k = 0; k < size; ++k) v |= uint32_t{mmu.read<uint8_t>(sr.base + ((off + k) & 0xFFFF))} << (8 * k);
    return v;
  }
  if (!seg_access_ok(*this, sr, off, size, false)) segment_fault(seg);
  const uint32_t lin = sr.base + off;
  if (data_bps_) check_data_bp(lin, size, false);
  switch (size) {
    case 1: return mmu.read<uint8_t>(lin);
    case 2: return mmu.read<uint16_t>(lin);
    default: return mmu.read<uint32_t>(lin);
  }
}

void Cpu::write_seg_slow(unsigned seg, uint32_t off, uint32_t v, unsigned size) {
  const SegReg& sr = s.seg[seg];
  if (s.model == CpuModel::i8086) {
    for (unsigned k = 0; k < size; ++k) mmu.write<uint8_t>(sr.base + ((off + k) & 0xFFFF), static_cast<uint8_t>(v >> (8 * k)));
    return;
  }
  if (!seg_access_ok(*this, sr, off, size, true)) segment_fault(seg);
  const uint32_t lin = sr.base + off;
  if (data_bps_) check_data_bp(lin, size, true);
  switch (size) {
    case 1: return mmu.write<uint8_t>(lin, static_cast<uint8_t>(v));
    case 2: return mmu.write<uint16_t>(lin, static_cast<uint16_t>(v));
    default: return mmu.write<uint32_t>(lin, v);
  }
}

void Cpu::probe_write(unsigned seg, uint32_t off, unsigned size) {
  const SegReg& sr = s.seg[seg];
  if (s.model == CpuModel::i8086) return;  // no limits, no paging
  if (static_cast<int64_t>(off) + size - 1 > s.seg_wmax[seg] && !seg_access_ok(*this, sr, off, size, true))
    segment_fault(seg);
  const uint32_t lin = sr.base + off;
  mmu.translate(lin, Access::Write);
  if ((lin & PAGE_MASK) + size > PAGE_SIZE) mmu.translate(lin + size - 1, Access::Write);
}

bool Cpu::irq_ready() {
  if (!device_lock) return intr->pending();
  // Threads: irq_pending mirrors the controller (its owner updates it under the lock), so the
  // lock is only taken when an interrupt may be there.
  if (!__atomic_load_n(&s.irq_pending, __ATOMIC_SEQ_CST)) return false;
  DeviceGuard g(device_lock);
  s.irq_pending = intr->pending();
  return s.irq_pending;
}

Block* Cpu::translate_block(uint32_t lin, uint32_t phys) {
  auto b = std::make_unique<Block>();
  b->phys = phys;
  b->mode = s.code32 | (step_mode_ ? 2u : 0u);
  const unsigned max_insns = step_mode_ ? 1 : max_block_insns_;
  b->lin = lin;
  b->pages[0] = b->pages[1] = phys >> PAGE_SHIFT;
  b->insns.reserve(16);
  uint32_t ip = s.eip;
  const uint32_t cs_base = s.seg[CS].base;
  // With threads, the bytes as decoded (physical address, value), checked again once the block's
  // pages are claimed as code (below).
  std::vector<std::pair<uint32_t, uint8_t>> decoded;
  for (unsigned n = 0; n < max_insns; ++n) {
    // Fetch up to 15 bytes; stop at the first byte whose page cannot be executed.
    uint8_t bytes[15];
    uint32_t byte_phys[15];
    unsigned avail = 0;
    for (; avail < 15; ++avail) {
      if (!mmu.try_translate(cs_base + ((ip + avail) & s.ip_mask), Access::Exec, byte_phys[avail])) break;
      bytes[avail] = mmu.memory().read8(byte_phys[avail]);
    }
    Insn insn;
    DecodeResult r = decoder_.decode(bytes, avail, s.code32, insn);
    if (r.truncated) {
      // The instruction runs into a page that faults: end the block before it, or, when it is
      // the first, raise the #PF for the missing byte (the instruction never starts).
      if (n > 0) break;
      mmu.translate(cs_base + ((ip + avail) & s.ip_mask), Access::Exec);
    }
    uint32_t first_page = byte_phys[0] >> PAGE_SHIFT;
    uint32_t last_page = r.length ? byte_phys[r.length - 1] >> PAGE_SHIFT : first_page;
    // A block spans at most two physical pages, so a write to either finds it.
    uint32_t pages[2] = {b->pages[0], b->pages[1]};
    auto add_page = [&pages](uint32_t p) {
      if (p == pages[0] || p == pages[1]) return true;
      if (pages[0] != pages[1]) return false;
      pages[1] = p;
      return true;
    };
    bool fits = add_page(first_page) && add_page(last_page);
    if (!fits) {
      if (n > 0) break;
      pages[0] = first_page;  // cannot happen for the first instruction; keep it consistent anyway
      pages[1] = last_page;
    }
    b->pages[0] = pages[0];
    b->pages[1] = pages[1];
    if ((log_mask & LOG_IN_ASM) && in_log_filter(cs_base + ip)) log_insn(*this, cs_base, ip, bytes, r.length);
    b->insns.push_back(insn);
    if (device_lock)
      for (unsigned k = 0; k < insn.len && k < avail; ++k) decoded.emplace_back(byte_phys[k], bytes[k]);
    uint32_t next = (ip + insn.len) & s.ip_mask;
    if (r.end_block || r.length == 0) break;
    // Stop at a page end or an IP wrap, so the block's bytes stay one contiguous run.
    if (((cs_base + next) >> PAGE_SHIFT) != ((cs_base + ip) >> PAGE_SHIFT) || next < ip) break;
    ip = next;
  }
  b->ninsn = static_cast<uint32_t>(b->insns.size());
  Insn sentinel{};
  sentinel.fn = op_block_exit;
  b->insns.push_back(sentinel);
  ++blocks_translated_;
  Block* inserted = blocks.insert(std::move(b));
  if (device_lock) {
    // Another CPU may have written these bytes while they were decoded, before insert() took the
    // write permission of its TLB for a newly claimed page (it waits for that CPU): decode again
    // if any byte differs now. Later writes find the page claimed and drop the block.
    for (const auto& [pa, v] : decoded)
      if (mmu.memory().read8(pa) != v) {
        blocks.invalidate_range(inserted->phys, 1);
        return translate_block(lin, phys);
      }
  }
  return inserted;
}

// A block found by its first physical page may run into a second page whose mapping has changed
// since it was decoded: then decode it afresh from the current mapping.
Block* Cpu::check_second_page(Block* b, uint32_t lin, uint32_t phys) {
  uint32_t next_lin = (lin & ~PAGE_MASK) + PAGE_SIZE;
  uint32_t p2;
  if (mmu.try_translate(next_lin, Access::Exec, p2) && (p2 >> PAGE_SHIFT) == b->pages[1]) return b;
  return translate_block(lin, phys);
}

// One instruction with the debug checks around it: instruction breakpoints (a fault, before it
// runs, unless RF), then data breakpoints and single-step (traps, after it). After MOV SS / POP SS
// (`after_ss_load`) the SDM inhibits all of them until the next instruction has run: its
// instruction breakpoint is not checked, and the MOV SS's own traps are taken after it.
void Cpu::run_stepped(uint32_t lin, bool after_ss_load) {
  const uint32_t dr7 = s.dr[7];
  if (!after_ss_load && !(s.eflags & F_RF) && (dr7 & 0xFF)) {
    uint32_t hits = 0;
    for (unsigned k = 0; k < 4; ++k)
      if (((dr7 >> (2 * k)) & 3) && ((dr7 >> (16 + 4 * k)) & 3) == 0 && s.dr[k] == lin) hits |= 1u << k;
    if (hits) {
      s.dr[6] = (s.dr[6] & ~0x400Fu) | hits | 0xFFFF0FF0u;
      raise_fault(VEC_DB);
    }
  }
  const bool tf = s.eflags & F_TF;
  const bool rf = s.eflags & F_RF;
  delivered_ = false;
  dr6_pending_ = 0;
  ss_loaded = false;
  const uint32_t phys = mmu.translate_exec(lin);
  Block* b = blocks.find(phys, s.code32 | 2u);
  if (!b) b = translate_block(lin, phys);
  else if (b->pages[1] != b->pages[0]) b = check_second_page(b, lin, phys);
  if (log_mask & LOG_CPU) [[unlikely]] dump_cpu_state(*this);
  if (log_mask & LOG_PER_BLOCK) [[unlikely]]
    log_block(*this, *b);
  s.icount += b->ninsn;
  const Insn* i = b->insns.data();
  do {
    i = i->fn(*this, i);
  } while (i);
  if (rf) s.eflags &= ~F_RF;
  uint32_t dr6 = dr6_pending_;
  if (tf && !delivered_) dr6 |= 1u << 14;  // BS
  if (ss_loaded && !delivered_) {
    dr6_deferred_ |= dr6;  // after the next instruction
    return;
  }
  dr6 |= dr6_deferred_;
  dr6_deferred_ = 0;
  if (dr6) {
    s.dr[6] = (s.dr[6] & ~0x400Fu) | dr6 | 0xFFFF0FF0u;
    deliver_exception(CpuFault{VEC_DB, false, 0});
  }
}

// The debugger's checks at an instruction boundary: a breakpoint at `lin` stops (unless execution
// resumes there), a single step runs one instruction and stops, and a block that holds a
// breakpoint further on runs one instruction at a time (`ran`) so its breakpoint is seen.
// Otherwise nothing: the block runs normally.
std::optional<StopReason> Cpu::debug_boundary(uint32_t lin, bool after_ss_load, bool& ran) {
  const bool resuming = debug_resume_at == lin;
  debug_resume_at = UINT32_MAX;
  if (!resuming &&
      std::find(debug_breakpoints.begin(), debug_breakpoints.end(), lin) != debug_breakpoints.end())
    return StopReason::Breakpoint;
  if (debug_step) {
    debug_step = false;
    ran = step_mode_ = true;  // (step_mode_: run_stepped's one-instruction blocks)
    run_stepped(lin, after_ss_load);
    return StopReason::Step;
  }
  // Does the block starting here reach a breakpoint? (Up to the block size limit's bytes.)
  for (uint32_t bp : debug_breakpoints)
    if (bp - lin < 15u * max_block_insns_) {
      ran = step_mode_ = true;
      run_stepped(lin, after_ss_load);
      return std::nullopt;
    }
  return std::nullopt;
}

// After a watchpoint hit: the instruction it undid runs again with the watchpoints recording
// (one instruction, stepped), then run() stops for the debugger if a hit was recorded there or
// in an event delivery before.
std::optional<StopReason> Cpu::watch_stop() {
  if (watch_rerun_) {
    watch_rerun_ = false;
    const bool was = mmu.watch_recording(true);
    try {
      step_mode_ = true;
      run_stepped(s.seg[CS].base + s.eip, false);
    } catch (const CpuFault& f) {
      deliver_exception(f);
    }
    mmu.watch_recording(was);
  }
  debug_watch_hit = mmu.take_watch_hit();
  if (debug_watch_hit) return StopReason::Watchpoint;
  return std::nullopt;
}

void Cpu::set_debug_breakpoints(std::vector<uint32_t> bps) {
  debug_breakpoints = std::move(bps);
  std::vector<uint32_t> holes;
  for (uint32_t bp : debug_breakpoints)
    for (uint32_t page : {bp & ~PAGE_MASK, (bp & ~PAGE_MASK) - PAGE_SIZE})
      if (std::find(holes.begin(), holes.end(), page) == holes.end()) holes.push_back(page);
  mmu.set_exec_holes(std::move(holes));
}

StopReason Cpu::run(uint64_t max_insns) {
  const uint64_t end = s.icount + max_insns;
  for (;;) {
    if ((watch_rerun_ || mmu.watch_hit()) && !s.shutdown) [[unlikely]] {
      if (const auto r = watch_stop()) return *r;
    }
    if (s.shutdown) return StopReason::Shutdown;
    if (s.wait_sipi) [[unlikely]]
      return StopReason::Halted;  // no interrupt or NMI wakes it
    if (s.exit_request) {
      s.exit_request = false;
      return StopReason::ExitRequest;
    }
    // An interrupt shadow (STI, MOV/POP SS) holds off interrupts until the next instruction has
    // run: it is consumed below only when that instruction runs, not by a return for the budget
    // (or the next run() would deliver an interrupt before it; where run() returns depends on
    // its caller's budgets, so the guest's timeline would too).
    const bool shadow = s.int_shadow;
    if (shadow) {
    } else if (s.nmi_pending && !s.nmi_blocked) [[unlikely]] {
      s.halted = false;
      s.nmi_pending = false;
      s.nmi_blocked = true;
      const bool was = mmu.watch_recording(true);  // a watchpoint on the stack stops after delivery
      try {
        fault_ext = 1;
        deliver(VEC_NMI, false, 0, false, s.eip);
        fault_ext = 0;
      } catch (const CpuFault& f) {
        fault_ext = 0;
        deliver_exception(f);
      }
      mmu.watch_recording(was);
      continue;
    } else if ((s.eflags & F_IF) && intr && irq_ready()) {
      s.halted = false;
      const bool was = mmu.watch_recording(true);
      try {
        fault_ext = 1;
        uint8_t vector;
        {
          DeviceGuard g(device_lock);
          vector = intr->acknowledge();
        }
        deliver(vector, false, 0, false, s.eip);
        fault_ext = 0;
      } catch (const CpuFault& f) {
        fault_ext = 0;
        deliver_exception(f);
      }
      mmu.watch_recording(was);
      continue;
    }
    if (s.halted) return StopReason::Halted;
    if (s.icount >= end) return StopReason::Budget;
    bool after_ss_load = false;
    if (shadow) {
      s.int_shadow = false;
      after_ss_load = ss_loaded;
      ss_loaded = false;
    }
    blocks.free_retired();
    // (RF, set by IRET or a task switch, is cleared once an instruction completes: one stepped.)
    step_mode_ = (s.eflags & (F_TF | F_RF)) || (s.dr[7] & 0xFF);
    try {
      const uint32_t lin = s.seg[CS].base + s.eip;
      if (debug_step || !debug_breakpoints.empty()) [[unlikely]] {
        bool ran = false;
        if (const auto r = debug_boundary(lin, after_ss_load, ran)) {
          if (*r == StopReason::Breakpoint && shadow) {  // (the instruction did not run)
            s.int_shadow = true;
            ss_loaded = after_ss_load;
          }
          return *r;
        }
        if (ran) continue;  // debug_boundary ran the instruction stepped
      }
      if (step_mode_) [[unlikely]] {
        run_stepped(lin, after_ss_load);
        continue;
      }
      uint32_t phys;
      CpuFault fetch_fault;
      if (!mmu.translate_exec(lin, phys, fetch_fault)) [[unlikely]] {
        deliver_exception(fetch_fault);
        continue;
      }
      Block* b = blocks.find(phys, s.code32);
      if (!b) [[unlikely]] b = translate_block(lin, phys);
      else if (b->pages[1] != b->pages[0]) [[unlikely]] b = check_second_page(b, lin, phys);
      if (log_mask & LOG_CPU) [[unlikely]] dump_cpu_state(*this);
      if (jit && !(log_mask & LOG_CPU)) {
        if (b->host && !jit->fits(b, s.jit_mode)) [[unlikely]]
          jit->drop(b);  // translated while a segment was flat that is not now
        if (!b->host && ++b->runs >= jit->threshold) jit->translate(b);
        // (Not on a breakpoint's exec hole: interpreted there, so each block start is checked.)
        if (b->host && (debug_breakpoints.empty() || !mmu.exec_hole(lin))) {
          // Translated code runs block after block until one of the checks above is due
          // (with -d trace, each translated block logs its own line as it starts).
          s.jit_end = end;
          if (!device_lock) {
            s.irq_pending = intr && intr->pending();
          } else {
            // Threads: a kick() (jit_end = 0) from now on is seen by the chained blocks; one that
            // came since the checks above (and that the store above undid) is seen here.
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
            if (__atomic_load_n(&s.exit_request, __ATOMIC_SEQ_CST) ||
                ((s.eflags & F_IF) && __atomic_load_n(&s.irq_pending, __ATOMIC_SEQ_CST)) ||
                (__atomic_load_n(&s.nmi_pending, __ATOMIC_SEQ_CST) && !s.nmi_blocked))
              continue;
          }
          if (!jit->run(b)) deliver_exception(jit->take_fault());
          continue;
        }
      }
      if (log_mask & LOG_PER_BLOCK) [[unlikely]]
        log_block(*this, *b);
      s.icount += b->ninsn;
      const Insn* i = b->insns.data();
      do {
        i = i->fn(*this, i);
      } while (i);
    } catch (const CpuFault& f) {
      deliver_exception(f);
    }
  }
}

}  // namespace vx86
