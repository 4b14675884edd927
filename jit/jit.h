// Jit: the translation tier. Decoded blocks (emu/block_cache.h) that run often become x86-64 host
// code (jit/translator.cpp); this class owns the code cache, the fixed stubs every block uses
// (entry, exit, the dispatcher that finds and enters the next block without the run loop) and the
// statistics that `-d jit` prints.
//
// Calling convention of generated code: rbx = CpuState*, r15 = the MMU's current-TLB pointer
// slot, rbp = JitStats*; the guest's registers and flags live in CpuState, so any point can leave
// with precise state. Interpreter handlers run from generated code through call_handler(), which
// turns a guest fault (a C++ exception in the interpreter) into a return code: no exception ever
// crosses generated code.
#pragma once
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <vector>

#include "emu/fault.h"
#include "jit/code_cache.h"
#include "jit/host_faults.h"

namespace vx86 {

class Cpu;
struct Block;
struct Insn;
struct JitExit;

struct JitStats {
  uint64_t blocks = 0;        // blocks translated
  uint64_t bytes = 0;         // host code bytes emitted
  uint64_t flushes = 0;       // code cache emptied because it was full
  uint64_t native_insns = 0;  // guest instructions translated natively (static count)
  uint64_t helper_insns = 0;  // guest instructions that call their interpreter handler
  uint64_t entries = 0;       // entries from the run loop
  // Block-to-block transfers inside generated code: found in the jump table, or by Jit::lookup.
  uint64_t dispatch_hits() const { return jump_hits + lookup_hits; }
  uint64_t lookup_hits = 0;
  uint64_t jump_hits = 0;         // found in the dispatcher's jump table
  uint64_t dispatch_misses = 0;   // transfers that went back to the run loop: a check was due
  uint64_t lookup_misses = 0;     // ... or the next block has no translation (or faults)
  uint64_t slow_lookups = 0;      // lookups the jump table could not answer (Jit::lookup)
  uint64_t helper_calls = 0;      // interpreter handlers called from generated code
  uint64_t bails = 0;             // native instructions that took their slow path (handler)
  uint64_t chains = 0;            // direct exits patched to jump straight into their target
  uint64_t unchains = 0;          // chained exits patched back because their target was dropped
  uint64_t unchainable = 0;       // exits whose target can never be chained to from there
  uint64_t ras_hits = 0;          // returns the return-address stack predicted (entered directly)
  uint64_t ras_misses = 0;        // returns it did not: they took the dispatcher
  uint64_t encode_errors = 0;     // blocks the assembler rejected (a translator bug; interpreted)
  uint64_t flag_evaluations = 0;  // flags a block left unevaluated (CpuState::cc_op) read by the next
  uint64_t host_slow = 0;         // -mmu host: window faults that ran the instruction's slow path
  uint64_t host_patched = 0;      // ... accesses switched to the TLB's check for good
  uint64_t host_patched_maps = 0;  // ... of them because they kept reaching pages not mapped yet
};

// Handler calls per Zydis mnemonic (the forms worth translating natively next), and per
// mnemonic the native instructions that took their slow path.
struct JitHistogram {
  static constexpr unsigned kSize = 2048;
  uint64_t helper[kSize] = {};
  uint64_t bail[kSize] = {};
};

// The dispatcher's own lookup table: (physical address, CS.D) of a translated single-page block
// -> its host code, 16 bytes an entry and small enough to stay in the host's L1/L2 (the block
// cache's front table and the Block objects it points to do not). Misses fall back to the front
// table and refill the entry; dropped blocks and cache flushes clear their entries.
struct JumpEntry {
  uint64_t key = ~uint64_t{0};  // phys | CpuState::jit_mode << 32; never matches while empty
  const void* host = nullptr;
  uint32_t page2 = 0;  // a block on two pages: its second physical page number + 1 (checked), else 0
  uint32_t pad = 0;
  uint64_t pad2 = 0;
};
constexpr unsigned kJumpBits = 14;
inline uint32_t jump_index(uint32_t phys) { return (phys ^ (phys >> kJumpBits)) & ((1u << kJumpBits) - 1); }

// The return-address stack. A translated CALL whose return address lies in its own block's page
// pushes (linear return address, jit_mode, that physical page, the block's chain stub for the
// return); a translated RET pops the top and, when the popped address, the mode and the exec
// TLB's page for it all match, jumps to that stub (which chains into the block after the CALL)
// instead of the dispatcher. Entries are cleared when their block is dropped or the cache flushed.
struct RasEntry {
  uint32_t lin = 0;     // linear return address
  uint32_t mode = ~0u;  // CpuState::jit_mode at the CALL; ~0 (never a mode): empty
  uint32_t page = 0;    // physical page number of the return address
  uint32_t pad = 0;
  uintptr_t stub = 0;  // executable address of the return's chain stub
  JitExit* exit = nullptr;
};
struct JitRas {
  static constexpr unsigned kSize = 16;
  uint32_t top = 0;
  uint32_t pad[7] = {};
  RasEntry entries[kSize];
};

// A far chained exit's expected physical page while unchained: never a page number.
constexpr uint32_t kUnchainedPage = 0x7FFFFFFF;

// What jit_call_handler() returns to generated code: go on in the block (the next exit may be
// chained, or must take the dispatcher's full checks: CONTINUE_CHECKED, which generated code ORs
// into its taint register r14), or leave it.
enum JitStatus : uint32_t { JIT_CONTINUE = 0, JIT_CONTINUE_CHECKED = 1, JIT_DISPATCH = 2, JIT_FAULT = 3 };

class Jit {
 public:
  explicit Jit(Cpu& cpu, size_t cache_bytes = 64u << 20);
  ~Jit();

  // Blocks run this many times in the interpreter before they are translated.
  unsigned threshold = 2;
  // Each inline TLB check is emitted this many times (1-4; -jit-tlb-checks): a measurement aid.
  // The extra copies change nothing but time, so the time per added copy is what the checks cost
  // (scripts/bench-guest.py --check-cost).
  unsigned tlb_checks = 1;

  // Translates `b` (sets b->host). False if it cannot be translated now.
  bool translate(Block* b);
  // A translation assumes the flat segments it was made under (CpuState::jit_mode): it may run
  // while those are still flat. drop() forgets one that may not, so it is translated again.
  static bool fits(const Block* b, uint32_t jit_mode);
  void drop(Block* b) { unchain(b); }
  // Runs translated code starting at `b` until a block boundary needs the run loop. Returns false
  // when a guest fault is pending: take it with take_fault().
  bool run(Block* b);
  CpuFault take_fault() { return fault_; }

  const JitStats& stats() const { return stats_; }
  void print_stats(FILE* out) const;

  // Guest-fault plumbing for call_handler (public for the generated code's helpers).
  void set_fault(const CpuFault& f) { fault_ = f; }
  void set_exception(std::exception_ptr e) { foreign_ = std::move(e); }
  JitStats& mutable_stats() { return stats_; }
  JitHistogram& histogram() { return *hist_; }
  // -d trace or exec is on: translated blocks log their entry state.
  bool trace() const;
  // Chains exit `e` to block `t` if that stays correct (called by the dispatcher).
  void link(JitExit* e, Block* t);
  // The dispatcher's slow path: the next block's translation, or null for the run loop.
  const void* lookup(JitExit* request);
  // Names every translated block (and the stubs) in /tmp/perf-PID.map, the file perf reads to
  // symbolize JIT code: "vx86:LIN" by the block's linear address, so samples add up per block.
  void open_perf_map();
  // Addresses of the stubs generated code jumps to.
  uintptr_t dispatch_addr() const { return dispatch_; }
  uintptr_t dispatch_request_addr() const { return dispatch_req_; }  // with r10 = a JitExit to chain
  uintptr_t exit_fault_addr() const { return exit_fault_; }
  uintptr_t flags_to_r11_addr() const { return flags_to_r11_; }  // jit/flag_recompute.h
  JitRas& ras() { return ras_; }
  // -mmu host: the displacement of the window base from the TLB slot register (r15), or 0 when
  // translated code goes through the TLB.
  int32_t host_base_disp() const;
  // The translated instruction whose window access faulted at `rip`, or null.
  HostSite* host_site(uintptr_t rip);
  // Its access needed the slow path: past HostSite::kSlowLimit, it goes through the TLB.
  void host_slow(HostSite& s);
  // It faulted and the page got mapped: past HostSite::kMapLimit, it goes through the TLB.
  void host_mapped(HostSite& s);

 private:
  void emit_stubs();
  void flush_cache();
  void host_patch(HostSite& s);
  void unchain(Block* b);

  Cpu& cpu_;
  CodeCache cache_;
  size_t stubs_end_ = 0;
  using EnterFn = uint32_t (*)(void* state, void* tlb_slot, void* stats, const void* code);
  EnterFn enter_ = nullptr;
  uintptr_t dispatch_ = 0, dispatch_req_ = 0, exit_ = 0, exit_fault_ = 0, flags_to_r11_ = 0;
  CpuFault fault_{};
  std::exception_ptr foreign_;
  JitStats stats_;
  std::unique_ptr<JitHistogram> hist_ = std::make_unique<JitHistogram>();
  std::FILE* perf_map_ = nullptr;
  JitRas ras_;
  std::unique_ptr<JumpEntry[]> jumps_ = std::make_unique<JumpEntry[]>(1u << kJumpBits);
  bool host_ = false;            // the translations in the cache reach memory through windows
  std::vector<HostSite> sites_;  // their window accesses, by address
};

}  // namespace vx86
