#include "jit/jit.h"

#include <Zydis/Zydis.h>
#include <asmjit/x86.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "emu/block_cache.h"
#include "emu/cpu.h"
#include "emu/disasm.h"
#include "emu/interp/common.h"
#include "jit/flag_recompute.h"
#include "jit/lazy_flags.h"
#include "jit/translator.h"

namespace vx86 {

// Runs one interpreter handler for generated code. Guest faults (and anything else a handler
// throws) stop here: generated code has no unwind information, so no exception may cross it.
// jit_call_handler evaluates flags a block left unevaluated (CpuState::cc_op) first;
// jit_call_handler_lazy is for a handler that neither reads nor writes the arithmetic flags nor
// saves EFLAGS (a fault it raises is delivered by the run loop, which evaluates them first).
namespace {

// After a handler that fell through: whether the block's next exit must take the dispatcher's full
// checks (the run loop's, but the icount budget, which every exit checks itself) rather than a
// chained jump. Either those checks fail now, or what a chained exit relies on changed: the mode
// and flat segments its target was translated for (jit_mode), the TLB that mapped this block's
// page (a flush, CR3 load, INVLPG or privilege change).
bool needs_dispatcher(const Cpu& c, uint32_t jit_mode, uint64_t tlb_generation, const TlbEntry* tlb) {
  const CpuState& s = c.s;
  return s.halted || s.shutdown || s.int_shadow || (s.irq_pending && (s.eflags & F_IF)) || s.nmi_pending ||
         s.exit_request || (s.eflags & (F_TF | F_RF)) || (s.dr[7] & 0xFF) || s.jit_mode != jit_mode ||
         c.mmu.generation() != tlb_generation || *c.mmu.current_tlb_slot() != tlb;
}

// A MOV between a general register (or an immediate) and memory, about to run its handler (the
// slow path of a native MOV that missed the TLB): if its one access would raise #PF, the fault,
// found without throwing. A C++ throw and catch costs about 2.7 us, and this is the common fault
// (a process's first touch of a page: 50 K of the 85 K #PFs of the benchmark guest). The check
// is the handler's own up to the fault (its segment test, then the same TLB fill); any other
// case is left to the handler.
bool mov_page_fault(Cpu& c, const Insn* i, CpuFault& f) {
  const unsigned k0 = i->kinds & 7, k1 = (i->kinds >> 3) & 7;
  const bool load = k0 == JK_GPR && k1 == JK_MEM;
  if (!load && !(k0 == JK_MEM && (k1 == JK_GPR || k1 == JK_IMM))) return false;
  const uint32_t off = ea(c, i);
  if (static_cast<int64_t>(off) + i->opsize - 1 > (load ? c.s.seg_rmax[i->seg] : c.s.seg_wmax[i->seg]))
    return false;
  return c.mmu.probe_fault(c.s.seg[i->seg].base + off, i->opsize, load ? Access::Read : Access::Write, f);
}

}  // namespace

uint32_t jit_call_handler_lazy(Cpu* c, const Insn* i) {
  Jit& jit = *c->jit;
  ++jit.mutable_stats().helper_calls;
  ++jit.histogram().helper[i->mnem % JitHistogram::kSize];
  try {
    const uint32_t mode = c->s.jit_mode;
    const uint64_t generation = c->mmu.generation();
    const TlbEntry* tlb = *c->mmu.current_tlb_slot();
    if (i->mnem == ZYDIS_MNEMONIC_MOV) {
      CpuFault f;
      if (mov_page_fault(*c, i, f)) {
        jit.set_fault(f);
        return JIT_FAULT;
      }
    }
    const Insn* r = i->fn(*c, i);
    // Go on only if the handler fell through, to the next instruction or off the block's end
    // (the generated code then exits to the next EIP), and the block is still there (a write
    // into its code retires it, which replaces all its handlers with exits).
    if (r == i + 1 && i->fn != &op_block_exit)
      return needs_dispatcher(*c, mode, generation, tlb) ? JIT_CONTINUE_CHECKED : JIT_CONTINUE;
    return JIT_DISPATCH;
  } catch (const CpuFault& f) {
    jit.set_fault(f);
  } catch (...) {
    jit.set_exception(std::current_exception());
  }
  return JIT_FAULT;
}

uint32_t jit_call_handler(Cpu* c, const Insn* i) {
  if (materialize_flags(c->s)) ++c->jit->mutable_stats().flag_evaluations;
  return jit_call_handler_lazy(c, i);
}

namespace {

using namespace asmjit;

x86::Mem st(size_t off, unsigned size) { return x86::ptr(x86::rbx, static_cast<int32_t>(off), size); }

}  // namespace

void jit_trace_block(Cpu* c, Block* b) {
  materialize_flags(c->s);
  log_block(*c, *b);
}

bool Jit::trace() const { return cpu_.log_mask & LOG_PER_BLOCK; }

// The dispatcher's slow path (r10 = an exit asking to be chained, or null).
bool Jit::fits(const Block* b, uint32_t jit_mode) { return (b->jit_flat & ~jit_mode) == 0; }

const void* jit_lookup(Jit* jit, JitExit* request) { return jit->lookup(request); }

// What the run loop does to find the next block, without running or translating anything: the
// exec translation (filling the TLB, setting A bits, exactly as the run loop would at this
// boundary), the block, the second page's mapping for a block on two pages. Null: the run loop
// takes over (a #PF on the fetch, a block not decoded or not translated yet).
const void* Jit::lookup(JitExit* request) {
  ++stats_.slow_lookups;
  const CpuState& s = cpu_.s;
  const uint32_t lin = s.seg[CS].base + s.eip;
  uint32_t phys;
  CpuFault fault;
  if (!cpu_.mmu.translate_exec(lin, phys, fault)) return nullptr;                  // the run loop raises it
  if (!cpu_.debug_breakpoints.empty() && cpu_.mmu.exec_hole(lin)) return nullptr;  // breakpoints there
  Block* b = cpu_.blocks.find(phys, s.code32);
  if (!b || !b->host || !fits(b, s.jit_mode)) return nullptr;
  const bool two_pages = b->pages[1] != b->pages[0];
  if (two_pages) {
    uint32_t p2;
    const uint32_t next_lin = (lin & ~PAGE_MASK) + PAGE_SIZE;
    if (!cpu_.mmu.try_translate(next_lin, Access::Exec, p2) || (p2 >> PAGE_SHIFT) != b->pages[1])
      return nullptr;
  }
  JumpEntry& j = jumps_[jump_index(phys)];
  j.key = (uint64_t{s.jit_mode} << 32) | phys;
  j.host = b->host;
  j.page2 = two_pages ? b->pages[1] + 1 : 0;
  if (request) link(request, b);
  return b->host;
}

Jit::Jit(Cpu& cpu, size_t cache_bytes) : cpu_(cpu), cache_(cache_bytes) {
  if (reinterpret_cast<void*>(&cpu.s) != reinterpret_cast<void*>(&cpu))
    throw std::logic_error("jit: CpuState must start the Cpu object");
  emit_stubs();
  cpu_.blocks.on_retire = [this](Block* b) { unchain(b); };
}

Jit::~Jit() {
  if (perf_map_) std::fclose(perf_map_);
  cpu_.blocks.on_retire = nullptr;
  cpu_.blocks.for_each([](Block* b) {
    b->exits.clear();
    b->incoming.clear();
  });
}

// A chained exit jumps from block S into block T in the same physical page without any lookup.
// The translator emits chainable exits only where that is correct in every context S can run
// in: 32-bit code, a target EIP that is S's entry EIP + a constant, in the same linear page as
// S's first byte (decided from S's page offset alone), so T is S's physical page + an offset
// whatever the mapping S was entered under. What the dispatcher's checks cover either cannot
// change without a helper call (which taints r14 when it did, so the exit takes the dispatcher:
// needs_dispatcher) or is checked
// at the exit itself (the icount budget).
//
// A far exit (its target on another page) is chained the same way, behind a check of the
// target's exec TLB entry against T's physical page (patched in here): the target linear page
// may map elsewhere in another context.
void Jit::link(JitExit* e, Block* t) {
  Block* s = e->src;
  if (!s || e->target || !t->host) return;
  const uint32_t target = s->phys + static_cast<uint32_t>(e->rel);
  const bool far = e->page_imm32 != 0;
  const bool placed = far ? (t->phys & PAGE_MASK) == (target & PAGE_MASK) : t->phys == target;
  if (t->mode != s->mode || t->pages[0] != t->pages[1] || (t->jit_flat & ~s->jit_flat) || !placed) {
    // T cannot be chained to from here (another mode, on two pages, assuming a flat segment S
    // runs without): the exit stops asking and goes to the dispatcher like any other.
    cache_.patch32(e->jmp_rel32, static_cast<uint32_t>(dispatch_ - (e->jmp_rel32 + 4)));
    if (far) cache_.patch32(e->miss_rel32, static_cast<uint32_t>(e->generic - (e->miss_rel32 + 4)));
    ++stats_.unchainable;
    return;
  }
  if (far) {
    cache_.patch32(e->page_imm32, t->phys >> PAGE_SHIFT);
    cache_.patch32(e->miss_rel32, static_cast<uint32_t>(e->generic - (e->miss_rel32 + 4)));
  }
  const uintptr_t host = reinterpret_cast<uintptr_t>(t->host);
  cache_.patch32(e->jmp_rel32, static_cast<uint32_t>(host - (e->jmp_rel32 + 4)));
  e->target = t;
  t->incoming.push_back(e);
  ++stats_.chains;
}

// Block b is dropped (SMC, flush): exits chained into it go back to the dispatcher, and its own
// exits leave their targets' lists.
void Jit::unchain(Block* b) {
  if (b->host) {
    JumpEntry& j = jumps_[jump_index(b->phys)];
    if (j.host == b->host) j = JumpEntry{};
  }
  for (JitExit* e : b->incoming) {
    if (e->page_imm32) {
      cache_.patch32(e->page_imm32, kUnchainedPage);
      cache_.patch32(e->miss_rel32, static_cast<uint32_t>(e->unlinked - (e->miss_rel32 + 4)));
    }
    cache_.patch32(e->jmp_rel32, static_cast<uint32_t>(e->unlinked - (e->jmp_rel32 + 4)));
    e->target = nullptr;
    ++stats_.unchains;
  }
  b->incoming.clear();
  for (RasEntry& r : ras_.entries)
    if (r.exit && r.exit->src == b) r = RasEntry{};
  for (JitExit& e : b->exits) {
    if (!e.target) continue;
    auto& in = e.target->incoming;
    in.erase(std::remove(in.begin(), in.end(), &e), in.end());
    e.target = nullptr;
  }
  b->exits.clear();
  b->host = nullptr;
}

// The fixed code at the start of the cache: entry (saves the host's callee-saved registers and
// loads the pinned ones), the two exits, and the dispatcher every block ends with.
namespace {
// An instruction the stubs cannot encode is a bug in vx86: stop at once, not with a stub missing
// an instruction.
struct StubErrors : ErrorHandler {
  void handleError(Error, const char* message, BaseEmitter*) override {
    throw std::logic_error(std::string("jit: cannot encode a stub instruction: ") +
                           (message ? message : "?"));
  }
};
}  // namespace

void Jit::emit_stubs() {
  const uint64_t base = cache_.next_exec();
  CodeHolder code;
  StubErrors errors;
  code.init(Environment::host(), base);
  code.setErrorHandler(&errors);
  x86::Assembler a(&code);
  Label enter = a.newLabel(), leave = a.newLabel(), exit_ok = a.newLabel(), exit_fault = a.newLabel(),
        dispatch = a.newLabel(), dispatch_req = a.newLabel(), miss = a.newLabel(), lookup_miss = a.newLabel(),
        table_miss = a.newLabel();

  // The host's callee-saved registers: generated code pins some and may use all of them.
  const x86::Gp saved[] = {x86::rbx, x86::rbp, x86::r12, x86::r13, x86::r14, x86::r15};
  a.bind(enter);
  for (const x86::Gp& r : saved) a.push(r);
  a.sub(x86::rsp, 8);  // 16-byte aligned for the helper calls
  a.mov(x86::rbx, x86::rdi);
  a.mov(x86::r15, x86::rsi);
  a.mov(x86::rbp, x86::rdx);
  // The first exit takes the dispatcher's full checks: the run loop may have let something pending
  // wait for one boundary (an interrupt after STI or MOV SS), which chained exits would skip.
  a.mov(x86::r14d, 1);
  a.jmp(x86::rcx);

  a.bind(exit_fault);
  a.mov(x86::eax, 1);
  a.jmp(leave);
  a.bind(exit_ok);
  a.xor_(x86::eax, x86::eax);
  a.bind(leave);
  a.add(x86::rsp, 8);
  for (auto r = std::rbegin(saved); r != std::rend(saved); ++r) a.pop(*r);
  a.ret();

  // Dispatcher: the run loop's per-block checks, then its lookup (TLB exec entry, block front
  // table), entering the next block's translation directly. Anything unusual goes back.
  // r10 = the exit asking to be chained (entered at dispatch_req), else 0.
  a.bind(dispatch);
  a.xor_(x86::r10d, x86::r10d);
  a.bind(dispatch_req);
  a.xor_(x86::r14d, x86::r14d);  // the full checks run here
  a.mov(x86::rax, st(offsetof(CpuState, icount), 8));
  a.cmp(x86::rax, st(offsetof(CpuState, jit_end), 8));
  a.jae(miss);
  static_assert(offsetof(CpuState, shutdown) == offsetof(CpuState, halted) + 1 &&
                    offsetof(CpuState, irq_pending) == offsetof(CpuState, halted) + 2 &&
                    offsetof(CpuState, int_shadow) == offsetof(CpuState, halted) + 3,
                "one 32-bit test covers halted, shutdown and int_shadow (irq_pending is byte 2)");
  a.test(st(offsetof(CpuState, halted), 4), 0xFF00FFFF);  // halted, shutdown, int_shadow
  a.jnz(miss);
  Label no_irq = a.newLabel();
  a.cmp(st(offsetof(CpuState, irq_pending), 1), 0);  // INTR matters only with IF set
  a.je(no_irq);
  a.test(st(offsetof(CpuState, eflags), 4), F_IF);
  a.jnz(miss);
  a.bind(no_irq);
  a.cmp(st(offsetof(CpuState, nmi_pending), 1), 0);
  a.jne(miss);
  a.cmp(st(offsetof(CpuState, exit_request), 1), 0);
  a.jne(miss);
  a.test(st(offsetof(CpuState, eflags), 4), F_TF | F_RF);  // single-step, or RF to clear
  a.jnz(miss);
  a.test(st(offsetof(CpuState, dr) + 7 * 4, 1), 0xFF);  // DR7 L0-G3: breakpoints step
  a.jnz(miss);
  a.mov(x86::esi, st(offsetof(CpuState, eip), 4));
  a.add(x86::esi, st(offsetof(CpuState, seg) + CS * sizeof(SegReg) + offsetof(SegReg, base), 4));
  a.mov(x86::r8, x86::qword_ptr(x86::r15));
  a.mov(x86::eax, x86::esi);
  a.shr(x86::eax, PAGE_SHIFT);
  a.and_(x86::eax, Mmu::TLB_SIZE - 1);
  a.shl(x86::eax, 5);
  a.add(x86::r8, x86::rax);
  a.mov(x86::eax, x86::esi);
  a.and_(x86::eax, ~PAGE_MASK);
  a.cmp(x86::eax, x86::dword_ptr(x86::r8, offsetof(TlbEntry, tag_exec)));
  a.jne(table_miss);
  a.mov(x86::eax, x86::dword_ptr(x86::r8, offsetof(TlbEntry, phys_page)));
  a.shl(x86::eax, PAGE_SHIFT);
  a.and_(x86::esi, PAGE_MASK);
  a.or_(x86::esi, x86::eax);  // physical address (the upper half of rsi is zero)
  // The jump table: r9 = key, rdx = its entry.
  a.mov(x86::r9d, st(offsetof(CpuState, jit_mode), 4));
  a.shl(x86::r9, 32);
  a.or_(x86::r9, x86::rsi);
  a.mov(x86::eax, x86::esi);
  a.shr(x86::eax, kJumpBits);
  a.xor_(x86::eax, x86::esi);
  a.and_(x86::eax, (1u << kJumpBits) - 1);
  a.shl(x86::eax, 5);
  static_assert(sizeof(JumpEntry) == 32 && offsetof(JumpEntry, host) == 8 && offsetof(JumpEntry, page2) == 16,
                "the jump table's layout");
  a.mov(x86::rdx, imm(reinterpret_cast<uintptr_t>(jumps_.get())));
  a.add(x86::rdx, x86::rax);
  a.cmp(x86::r9, x86::qword_ptr(x86::rdx));
  a.jne(table_miss);
  a.test(x86::r10, x86::r10);  // an exit to chain: the slow path links it
  a.jnz(table_miss);
  Label second_page = a.newLabel();
  a.mov(x86::eax, x86::dword_ptr(x86::rdx, offsetof(JumpEntry, page2)));
  a.test(x86::eax, x86::eax);
  a.jnz(second_page);
  a.inc(x86::qword_ptr(x86::rbp, offsetof(JitStats, jump_hits)));
  a.jmp(x86::qword_ptr(x86::rdx, 8));
  // A block on two pages: the next linear page must still map to its second physical page.
  a.bind(second_page);
  a.mov(x86::esi, st(offsetof(CpuState, eip), 4));
  a.add(x86::esi, st(offsetof(CpuState, seg) + CS * sizeof(SegReg) + offsetof(SegReg, base), 4));
  a.and_(x86::esi, ~PAGE_MASK);
  a.add(x86::esi, PAGE_SIZE);  // the next page (wraps at 4 GiB as the fetch does)
  a.mov(x86::ecx, x86::esi);
  a.shr(x86::ecx, PAGE_SHIFT);
  a.and_(x86::ecx, Mmu::TLB_SIZE - 1);
  a.shl(x86::ecx, 5);
  a.add(x86::rcx, x86::qword_ptr(x86::r15));
  a.cmp(x86::esi, x86::dword_ptr(x86::rcx, offsetof(TlbEntry, tag_exec)));
  a.jne(table_miss);
  a.dec(x86::eax);
  a.cmp(x86::eax, x86::dword_ptr(x86::rcx, offsetof(TlbEntry, phys_page)));
  a.jne(table_miss);
  a.inc(x86::qword_ptr(x86::rbp, offsetof(JitStats, jump_hits)));
  a.jmp(x86::qword_ptr(x86::rdx, 8));
  a.bind(table_miss);
  // Anything else (no exec TLB entry, a block on two pages, not in the jump table, an exit to
  // chain): Jit::lookup in C++, which finds the block as the run loop would, or gives up.
  a.mov(x86::rdi, imm(reinterpret_cast<uintptr_t>(this)));
  a.mov(x86::rsi, x86::r10);
  a.call(imm(reinterpret_cast<uintptr_t>(&jit_lookup)));
  a.test(x86::rax, x86::rax);
  a.jz(lookup_miss);
  a.inc(x86::qword_ptr(x86::rbp, offsetof(JitStats, lookup_hits)));
  a.jmp(x86::rax);
  a.bind(miss);
  a.inc(x86::qword_ptr(x86::rbp, offsetof(JitStats, dispatch_misses)));
  a.jmp(exit_ok);
  a.bind(lookup_miss);
  a.inc(x86::qword_ptr(x86::rbp, offsetof(JitStats, lookup_misses)));
  a.jmp(exit_ok);

  Label flags_to_r11 = a.newLabel();
  emit_flags_to_r11(a, flags_to_r11);

  code.flatten();
  code.resolveUnresolvedLinks();
  code.relocateToBase(base);
  std::vector<uint8_t> buf(code.codeSize());
  code.copyFlattenedData(buf.data(), buf.size(), CopySectionFlags::kPadSectionBuffer);
  auto* at = static_cast<uint8_t*>(cache_.append(buf.data(), buf.size()));
  if (!at) throw std::runtime_error("jit: code cache too small for its stubs");
  auto addr = [&](Label l) { return reinterpret_cast<uintptr_t>(at) + code.labelOffsetFromBase(l); };
  enter_ = reinterpret_cast<EnterFn>(addr(enter));
  exit_ = addr(exit_ok);
  exit_fault_ = addr(exit_fault);
  dispatch_ = addr(dispatch);
  dispatch_req_ = addr(dispatch_req);
  flags_to_r11_ = addr(flags_to_r11);
  stubs_end_ = cache_.used();
  if (cpu_.log_mask & LOG_OUT_ASM) {
    std::fprintf(cpu_.log_file, "OUT: the stubs (entry, exits, dispatcher at %016llx), %zu bytes\n",
                 static_cast<unsigned long long>(dispatch_), buf.size());
    log_host_code(cpu_.log_file, at, buf.size());
  }
}

void Jit::open_perf_map() {
  if (perf_map_) return;
  const std::string path = "/tmp/perf-" + std::to_string(getpid()) + ".map";
  perf_map_ = std::fopen(path.c_str(), "w");
  if (!perf_map_) throw std::runtime_error("cannot write " + path);
  std::setvbuf(perf_map_, nullptr, _IOLBF, 0);
  // The stubs: the entry/exit code and the dispatcher every block ends in (they start the cache).
  const uintptr_t base = reinterpret_cast<uintptr_t>(enter_);
  std::fprintf(perf_map_, "%lx %lx vx86-jit-entry\n", static_cast<unsigned long>(base),
               static_cast<unsigned long>(dispatch_ - base));
  std::fprintf(perf_map_, "%lx %lx vx86-jit-dispatcher\n", static_cast<unsigned long>(dispatch_),
               static_cast<unsigned long>(base + stubs_end_ - dispatch_));
}

void Jit::flush_cache() {
  cpu_.blocks.for_each([](Block* b) {
    b->host = nullptr;
    b->exits.clear();
    b->incoming.clear();
  });
  std::fill_n(jumps_.get(), 1u << kJumpBits, JumpEntry{});
  for (RasEntry& r : ras_.entries) r = RasEntry{};
  cache_.reset_to(stubs_end_);
  sites_.clear();
  ++stats_.flushes;
}

int32_t Jit::host_base_disp() const { return host_ ? cpu_.mmu.host_base_disp() : 0; }

HostSite* Jit::host_site(uintptr_t rip) {
  auto it = std::upper_bound(sites_.begin(), sites_.end(), rip,
                             [](uintptr_t r, const HostSite& s) { return r < s.start; });
  if (it == sites_.begin()) return nullptr;
  --it;
  return rip < it->end ? &*it : nullptr;
}

void Jit::host_slow(HostSite& s) {
  ++stats_.host_slow;
  if (++s.slow == HostSite::kSlowLimit) host_patch(s);
}

void Jit::host_mapped(HostSite& s) {
  if (++s.maps == HostSite::kMapLimit && s.slow < HostSite::kSlowLimit) {
    ++stats_.host_patched_maps;
    host_patch(s);
  }
}

void Jit::host_patch(HostSite& s) {
  ++stats_.host_patched;
  for (unsigned k = 0; k < s.npatch; ++k) cache_.patch_jump(s.patch[k], s.target[k]);
}

bool Jit::translate(Block* b) {
  if (b->no_translate) return false;
  b->jit_flat &= cpu_.s.jit_mode & JIT_FLAT_SEGS;
  if (host_ != (cpu_.mmu.windows() != nullptr)) {  // (the scheme is chosen before the guest runs)
    flush_cache();
    host_ = !host_;
    if (host_) install_host_fault_handler();
  }
  std::vector<uint8_t> buf;
  std::vector<HostSite> sites;
  for (int attempt = 0; attempt < 2; ++attempt) {
    unsigned native = 0;
    try {
      sites.clear();
      native = translate_block(*this, *b, cache_.next_exec(), buf, sites);  // fills b->exits
    } catch (const JitEncodeError& e) {
      // A translator bug: say so once, keep the guest right (the interpreter runs the block).
      if (stats_.encode_errors++ == 0)
        std::fprintf(stderr, "vx86: jit: cannot encode the block at %08x (%s); it stays interpreted\n",
                     b->lin, e.what());
      b->exits.clear();
      b->no_translate = true;
      return false;
    }
    if (buf.size() > cache_.free_bytes()) {
      flush_cache();
      continue;
    }
    b->host = cache_.append(buf.data(), buf.size());
    sites_.insert(sites_.end(), sites.begin(), sites.end());
    if (cpu_.log_mask & LOG_OUT_ASM) {
      std::fprintf(cpu_.log_file, "OUT: block at lin %08x (phys %08x), %zu bytes\n", b->lin, b->phys,
                   buf.size());
      log_host_code(cpu_.log_file, static_cast<const uint8_t*>(b->host), buf.size());
    }
    if (perf_map_)
      std::fprintf(perf_map_, "%lx %zx vx86:%08x%s\n",
                   static_cast<unsigned long>(reinterpret_cast<uintptr_t>(b->host)), buf.size(), b->lin,
                   (b->mode & 1) ? "" : ".16");
    ++stats_.blocks;
    stats_.bytes += buf.size();
    stats_.native_insns += native;
    stats_.helper_insns += b->ninsn - native;
    return true;
  }
  return false;
}

bool Jit::run(Block* b) {
  ++stats_.entries;
  uint32_t r;
  if (host_) {
    HostFaultScope scope(*this, cpu_.mmu);
    r = enter_(&cpu_.s, const_cast<TlbEntry**>(cpu_.mmu.current_tlb_slot()), &stats_, b->host);
  } else {
    r = enter_(&cpu_.s, const_cast<TlbEntry**>(cpu_.mmu.current_tlb_slot()), &stats_, b->host);
  }
  if (materialize_flags(cpu_.s)) ++stats_.flag_evaluations;  // the run loop reads EFLAGS
  if (r == 0) return true;
  if (foreign_) {
    std::exception_ptr e = std::move(foreign_);
    foreign_ = nullptr;
    std::rethrow_exception(e);
  }
  return false;
}

void Jit::print_stats(FILE* out) const {
  const JitStats& s = stats_;
  std::fprintf(
      out,
      "jit: %llu blocks, %llu bytes of host code, %llu cache flushes\n"
      "jit: %llu instructions native, %llu through their handler (static)\n"
      "jit: %llu entries from the run loop, %llu block-to-block dispatches (%llu from the jump table, %llu"
      " lookups in C++), back to the loop: %llu for its checks, %llu for a block without translation\n"
      "jit: %llu handler calls, %llu native slow paths, %llu blocks the assembler rejected, %llu evaluations"
      " of flags a block left lazy\n",
      static_cast<unsigned long long>(s.blocks), static_cast<unsigned long long>(s.bytes),
      static_cast<unsigned long long>(s.flushes), static_cast<unsigned long long>(s.native_insns),
      static_cast<unsigned long long>(s.helper_insns), static_cast<unsigned long long>(s.entries),
      static_cast<unsigned long long>(s.dispatch_hits()), static_cast<unsigned long long>(s.jump_hits),
      static_cast<unsigned long long>(s.slow_lookups), static_cast<unsigned long long>(s.dispatch_misses),
      static_cast<unsigned long long>(s.lookup_misses), static_cast<unsigned long long>(s.helper_calls),
      static_cast<unsigned long long>(s.bails), static_cast<unsigned long long>(s.encode_errors),
      static_cast<unsigned long long>(s.flag_evaluations));
  const BlockCache::SmcStats& smc = cpu_.blocks.smc_stats();
  std::fprintf(out,
               "jit: %llu chained exits, %llu unchained, %llu never chainable; writes to code pages: %llu, "
               "%llu of them"
               " next to the code (nothing dropped), %llu blocks dropped (invalidations)\n",
               static_cast<unsigned long long>(s.chains), static_cast<unsigned long long>(s.unchains),
               static_cast<unsigned long long>(s.unchainable),
               static_cast<unsigned long long>(smc.code_writes),
               static_cast<unsigned long long>(smc.spared_writes),
               static_cast<unsigned long long>(smc.blocks_dropped));
  if (host_)
    std::fprintf(
        out,
        "jit: -mmu host: %llu window faults ran the slow path; %llu accesses switched to the TLB (%llu "
        "of them for reaching new pages)\n",
        static_cast<unsigned long long>(s.host_slow), static_cast<unsigned long long>(s.host_patched),
        static_cast<unsigned long long>(s.host_patched_maps));
  const uint64_t rets = s.ras_hits + s.ras_misses;
  std::fprintf(out, "jit: %llu returns, %llu (%.1f%%) predicted by the return-address stack\n",
               static_cast<unsigned long long>(rets), static_cast<unsigned long long>(s.ras_hits),
               rets ? 100.0 * static_cast<double>(s.ras_hits) / static_cast<double>(rets) : 0.0);
  // The busiest handler-called forms and native slow paths: what to translate (better) next.
  for (int which = 0; which < 2; ++which) {
    const uint64_t* h = which ? hist_->bail : hist_->helper;
    std::vector<std::pair<uint64_t, unsigned>> top;
    for (unsigned m = 0; m < JitHistogram::kSize; ++m)
      if (h[m]) top.emplace_back(h[m], m);
    std::sort(top.rbegin(), top.rend());
    if (top.size() > 20) top.resize(20);
    std::fprintf(out, "jit: %s:", which ? "native slow paths by mnemonic" : "handler calls by mnemonic");
    for (auto& [n, m] : top) {
      const char* name =
          m <= ZYDIS_MNEMONIC_MAX_VALUE ? ZydisMnemonicGetString(static_cast<ZydisMnemonic>(m)) : "?";
      std::fprintf(out, " %s=%llu", name ? name : "?", static_cast<unsigned long long>(n));
    }
    std::fprintf(out, "\n");
  }
}

}  // namespace vx86
