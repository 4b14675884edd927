// Cpu: one x86 processor. Holds the architectural state, the MMU and the block cache, runs decoded
// blocks through the interpreter's handlers, and delivers exceptions and interrupts.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "emu/block_cache.h"
#include "emu/cpu_state.h"
#include "emu/decoder.h"
#include "emu/device_lock.h"
#include "emu/fault.h"
#include "mmu/mmu.h"

namespace vx86 {

class PortBus;
class Jit;
class SnapshotWriter;
class SnapshotReader;

// An interrupt controller as the CPU sees it (the 8259 pair, later the APIC).
class InterruptSource {
 public:
  virtual ~InterruptSource() = default;
  virtual bool pending() = 0;        // INTR line asserted
  virtual uint8_t acknowledge() = 0; // INTA cycle: the vector
};

enum LogFlags : uint32_t {
  LOG_IN_ASM = 1,
  LOG_CPU = 2,
  LOG_INT = 4,
  LOG_POST = 8,
  LOG_JIT = 16,
  LOG_TRACE = 32,
  LOG_OUT_ASM = 64,
  LOG_EXEC = 128,
  LOG_MMU = 256,
  LOG_TRACESUM = 512,
  // The logs that need a call before every block (the JIT emits one into each block).
  LOG_PER_BLOCK = LOG_TRACE | LOG_EXEC | LOG_TRACESUM
};

// Breakpoint, Step and Watchpoint: a debugger's stop (Cpu::debug_breakpoints, Cpu::debug_step,
// Mmu::add_watchpoint).
enum class StopReason { Halted, ExitRequest, Budget, Shutdown, Breakpoint, Step, Watchpoint };

class Cpu {
 public:
  Cpu(PhysicalMemory& mem, PortBus& io);
  ~Cpu();
  Cpu(const Cpu&) = delete;
  Cpu& operator=(const Cpu&) = delete;

  CpuState s{};
  Mmu mmu;
  PortBus& io;
  BlockCache blocks;
  InterruptSource* intr = nullptr;
  // FERR#: called when an x87 error is reported the legacy way (CR0.NE = 0); the board latches it
  // onto IRQ13. Rare, so a std::function is fine.
  std::function<void()> on_ferr;
  // The local APIC (devices/local_apic): told when the IA32_APIC_BASE MSR changes; CPUID reports
  // the APIC while one is attached and enabled in that MSR.
  std::function<void()> on_apic_base;
  bool has_apic = false;
  // The bootstrap processor; an application processor (false) comes out of reset and INIT waiting
  // for a STARTUP IPI, with IA32_APIC_BASE's BSP bit clear.
  bool bsp = true;
  // Its local APIC's ID (CPUID leaf 1 EBX[31:24]).
  uint8_t apic_id = 0;
  // Several CPUs time-sliced: PAUSE ends the slice (a spin-wait yields to the other CPUs).
  bool yield_on_pause = false;
  // -smp N,threads=on: this CPU runs on its own host thread beside the others.
  //  - `device_lock` is held while it acknowledges an interrupt (the buses take it themselves);
  //  - LOCK-prefixed read-modify-writes and XCHG with memory use one host compare-and-swap on the
  //    guest's RAM (`atomic_rmw`, emu/interp/locked_rmw.h);
  //  - CpuState::irq_pending is kept by the interrupt controller alone (under the lock);
  //  - other threads stop its translated code through kick().
  DeviceLock* device_lock = nullptr;
  bool atomic_rmw = false;
  // The locked read-modify-write in flight (emu/interp/locked_rmw.h).
  struct LockedRmw {
    uint8_t* host = nullptr;  // where the CAS goes; null: the plain (non-atomic) path
    uint32_t phys = 0;
    uint64_t old = 0;
    bool failed = false;      // another CPU changed the operand between read and write: run again
    bool holds_lock = false;  // the plain path holds the device lock for the whole instruction
  } lk;
  // Another thread wants this CPU back in its run loop soon (an interrupt, work for it): translated
  // code leaves at its next block boundary (chained blocks check icount against jit_end).
  void kick() { __atomic_store_n(&s.jit_end, uint64_t{0}, __ATOMIC_SEQ_CST); }
  // What another CPU's IPI does to this one (INIT, STARTUP, NMI): done at once on one host
  // thread; with threads the board hands it to this CPU's own thread (`post`), between blocks.
  std::function<void(std::function<void()>)> post;
  void request(std::function<void()> fn) {
    if (post) post(std::move(fn));
    else fn();
  }
  // The TSC's time base in ns (the board's clock); unset (a bare Cpu): the TSC counts icount.
  std::function<uint64_t()> tsc_clock;
  uint32_t log_mask = 0;
  FILE* log_file = stderr;
  // -d tracesum: the trace's fields folded into a hash, and the blocks folded so far.
  uint64_t trace_sum = 0, trace_sum_blocks = 0;
  // -dfilter: the per-block logs (in_asm, cpu, trace, tracesum, exec) only for blocks that start
  // in one of these inclusive linear ranges; empty = everywhere. -dstart: those that run (not
  // in_asm: a block may run long after it was decoded) only from this instruction count on (a
  // span of a long run, e.g. where two runs' trace hashes part).
  std::vector<std::pair<uint32_t, uint32_t>> log_filter;
  uint64_t log_start = 0;
  bool log_wanted(uint32_t lin) const { return s.icount >= log_start && in_log_filter(lin); }
  bool in_log_filter(uint32_t lin) const {
    if (log_filter.empty()) return true;
    for (const auto& [lo, hi] : log_filter)
      if (lin >= lo && lin <= hi) return true;
    return false;
  }
  // The translation tier (jit/); null = the interpreter runs everything.
  std::unique_ptr<Jit> jit;
  // cache_bytes: the code cache's size (0 = the default); tests use small ones to force flushes.
  void enable_jit(bool on, size_t cache_bytes = 0);

  void reset();
  // The INIT signal: the processor state as after reset, but the MSRs kept; an application
  // processor then waits for a STARTUP IPI, the BSP starts at the reset vector.
  void init();
  // A STARTUP IPI with vector `v`: a waiting processor starts in real mode at v*1000h. Otherwise
  // ignored (as on hardware).
  void sipi(uint8_t v);
  // Runs until HLT, an exit request, a shutdown, or `max_insns` instructions (checked per block).
  StopReason run(uint64_t max_insns);

  // Mode bookkeeping: call after changing CS/SS descriptors, EFLAGS.VM or CR0 (or after editing
  // any segment register's cache directly). Derives CPL for real and virtual-8086 mode.
  void update_mode();
  // Recomputes the fast-path bounds of one segment register after its cache changed.
  void refresh_seg_bounds(unsigned seg);
  bool pe() const { return s.cr[0] & 1; }
  bool v86() const { return s.eflags & F_VM; }
  bool protected_mode() const { return (s.cr[0] & 1) && !(s.eflags & F_VM); }
  unsigned iopl() const { return (s.eflags >> 12) & 3; }
  void set_cpl(unsigned cpl) {
    s.cpl = static_cast<uint8_t>(cpl);
    mmu.set_user(cpl == 3);
  }
  // CR0/CR4 changed: tell the MMU the new paging mode (flushes the TLB).
  void update_paging();
  // DR7 or EFLAGS.TF changed the debug state: recompute what the run loop must check.
  void update_debug();
  // Error-code EXT bit while the processor delivers an event it raised itself (see sel_error).
  uint32_t fault_ext = 0;
  void load_seg_real(unsigned seg, uint16_t sel) {
    s.seg[seg].sel = sel;
    s.seg[seg].base = uint32_t{sel} << 4;
  }

  // Segmented memory access. One compare against the precomputed bound (CpuState::seg_rmax /
  // seg_wmax); everything unusual (limits, null, expand-down, read-only, execute-only, data
  // breakpoints) is in the slow path.
  template <class T>
  T read(unsigned seg, uint32_t off) {
    if (static_cast<int64_t>(off) + static_cast<int64_t>(sizeof(T) - 1) > s.seg_rmax[seg]) [[unlikely]]
      return static_cast<T>(read_seg_slow(seg, off, sizeof(T)));
    return mmu.read<T>(s.seg[seg].base + off);
  }
  template <class T>
  void write(unsigned seg, uint32_t off, T v) {
    if (static_cast<int64_t>(off) + static_cast<int64_t>(sizeof(T) - 1) > s.seg_wmax[seg]) [[unlikely]]
      return write_seg_slow(seg, off, v, sizeof(T));
    mmu.write<T>(s.seg[seg].base + off, v);
  }

  // A debugger (frontend/gdb_stub): breakpoints on linear addresses that do not change guest memory
  // (the run loop steps the blocks that hold one, and translated code runs one block per entry
  // while any is set), and a single step: run() executes one instruction (an interrupt due first
  // is delivered, so the step lands in its handler) and returns Step. `debug_resume_at` lets the
  // instruction a breakpoint stopped at run once when execution resumes there.
  // Breakpoints only cost where they are: their page and the one before (where a block reaching
  // them may start) are exec holes (Mmu::set_exec_holes), interpreted block by block; translated
  // code elsewhere runs and chains as usual. Change them through set_debug_breakpoints.
  std::vector<uint32_t> debug_breakpoints;
  void set_debug_breakpoints(std::vector<uint32_t> bps);
  bool debug_step = false;
  uint32_t debug_resume_at = UINT32_MAX;
  // The watchpoint that stopped run() with Watchpoint, right after the instruction (or the event
  // delivery) that accessed it.
  std::optional<Watchpoint> debug_watch_hit;

  // Set by MOV SS and POP SS (with CpuState::int_shadow): debug exceptions, single-step traps and
  // instruction breakpoints wait for the end of the next instruction too (not after STI).
  bool ss_loaded = false;

  // Raises the fault a write of `size` bytes at seg:off would raise (segment, then paging), without
  // writing (ENTER's check of its final stack pointer).
  void probe_write(unsigned seg, uint32_t off, unsigned size);

  // Stack, sized by SS.B.
  template <class T>
  void push(T v) {
    uint32_t sp = (s.regs[ESP] - sizeof(T)) & s.sp_mask;
    write<T>(SS, sp, v);
    set_sp(sp);
  }
  template <class T>
  T pop() {
    uint32_t sp = s.regs[ESP] & s.sp_mask;
    T v = read<T>(SS, sp);
    set_sp(sp + sizeof(T));
    return v;
  }
  void set_sp(uint32_t sp) { s.regs[ESP] = (s.regs[ESP] & ~s.sp_mask) | (sp & s.sp_mask); }

  // Writes EFLAGS as POPF/IRET may in real mode (reserved bits fixed, model quirks applied).
  void set_flags(uint32_t value, uint32_t writable_mask);
  uint32_t flags_image() const;  // EFLAGS as PUSHF stores it for the current model

  // Interrupt delivery; `next_eip` is the return address for software interrupts and traps.
  void software_interrupt(uint8_t vector, uint32_t next_eip);
  // ICEBP (F1): #DB delivered like an external event (no gate DPL check).
  void icebp(uint32_t next_eip) { deliver(VEC_DB, false, 0, false, next_eip); }
  void deliver_exception(const CpuFault& f);
  // Non-maskable interrupt request (edge): taken at the next instruction boundary.
  void raise_nmi() { s.nmi_pending = true; }
  // Called by IRET: NMIs are accepted again.
  void nmi_iret() { s.nmi_blocked = false; }
  void a20_changed() { blocks.flush(); }

  // Snapshots (emu/cpu_snapshot.cpp): the architectural state (registers, segment caches, control
  // and debug registers, the x87, the MSRs, the run-loop flags, icount). Taken between blocks.
  // load() validates what could put the model into an impossible state, then drops every
  // translation (TLB, decoded blocks and their JIT code); the board sets the A20 gate and the interrupt
  // line afterwards.
  void save(SnapshotWriter& w) const;
  void load(SnapshotReader& r);

  uint64_t blocks_translated() const { return blocks_translated_; }
  // Limits how many instructions a block may hold; 1 makes run(1) execute exactly one
  // instruction (single-stepping for debuggers and single-instruction tests).
  void set_max_block_insns(unsigned n) {
    max_block_insns_ = n ? n : 1;
    blocks.flush();
  }

 private:
  uint32_t read_seg_slow(unsigned seg, uint32_t off, unsigned size);
  void write_seg_slow(unsigned seg, uint32_t off, uint32_t v, unsigned size);
  [[noreturn]] void segment_fault(unsigned seg);
  Block* translate_block(uint32_t lin, uint32_t phys);
  bool irq_ready();  // INTR asserted (IF is the caller's)
  Block* check_second_page(Block* b, uint32_t lin, uint32_t phys);
  void deliver(uint8_t vector, bool has_error, uint32_t error, bool software, uint32_t return_eip);
  void deliver_real(uint8_t vector, uint32_t return_eip);
  void deliver_pm(uint8_t vector, bool has_error, uint32_t error, bool software, uint32_t return_eip);
  void run_stepped(uint32_t lin, bool after_ss_load);
  std::optional<StopReason> debug_boundary(uint32_t lin, bool after_ss_load, bool& ran);
  std::optional<StopReason> watch_stop();
  bool watch_rerun_ = false;  // a watchpoint hit undid an instruction: run it again, recording
  void dump_state();

  // Debug state (DR7 breakpoints, TF): the run loop then runs one instruction per block.
  bool step_mode_ = false;
  bool data_bps_ = false;      // a data breakpoint is armed: all accesses take the slow path
  bool delivered_ = false;     // an interrupt or exception was delivered (no single-step trap)
  uint32_t dr6_pending_ = 0;   // data breakpoint hits of the current instruction
  uint32_t dr6_deferred_ = 0;  // a MOV SS / POP SS's own #DB conditions, taken after the next one
  void check_data_bp(uint32_t lin, unsigned size, bool write);

  Decoder decoder_;
  uint64_t blocks_translated_ = 0;
  bool delivering_fault_ = false;
  unsigned max_block_insns_ = 64;
};

}  // namespace vx86
