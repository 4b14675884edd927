// The block translator. Guest state lives in CpuState (rbx); up to five guest registers are
// cached in host registers within a block, so every point in a block can leave with the
// interpreter's exact state.
//
// Native forms: MOV (r/m/imm), MOVZX/MOVSX, LEA, the ALU ops (ADD OR ADC SBB AND SUB XOR CMP TEST,
// INC DEC NEG NOT), shifts and rotates by a constant, SHL/SHR/SAR r/m32 by CL, IMUL, XCHG r,r,
// CBW/CWDE/CWD/CDQ, PUSH/POP r, PUSH imm, LEAVE, Jcc/JMP/CALL rel, RET near, SETcc, CMOVcc, NOP,
// BSWAP r32, REP MOVS/STOS (32-bit addresses, flat segments). A native instruction touches guest
// state only after its last check: when a check fails (segment bound, TLB miss, page crossing,
// MMIO, a code page, a branch outside CS) it "bails": its interpreter handler runs the whole
// instruction instead, faults included. Everything else calls its handler (Insn::fn, read at run
// time, so a dropped block's handlers become exits).
//
// EFLAGS: ADD SUB ADC SBB AND OR XOR CMP TEST INC DEC leave their flags unevaluated (jit/
// lazy_flags.h, see Lazy): readers re-execute a host instruction, exits hand the operation and its
// operands to the next block in CpuState::cc_op/cc_a/cc_b. Other flag writers capture the host's
// flags in r11 only when a later reader may need them (flag liveness runs backwards over the
// block; every helper call, bail point and the block's end count as readers of all flags), and
// merge them into CpuState::eflags only where they are read there (see capture_flags).
#include "jit/translator.h"

#include <Zydis/Zydis.h>
#include <asmjit/x86.h>

#include <cstddef>
#include <cstring>
#include <functional>
#include <iterator>
#include <span>
#include <string>
#include <utility>

#include "emu/block_cache.h"
#include "emu/cpu.h"
#include "jit/flag_recompute.h"
#include "jit/jit.h"
#include "jit/lazy_flags.h"

namespace vx86 {

// Defined in jit/jit.cpp: runs an interpreter handler and reports how the block goes on.
uint32_t jit_call_handler(Cpu* c, const Insn* i);
uint32_t jit_call_handler_lazy(Cpu* c, const Insn* i);
void jit_trace_block(Cpu* c, Block* b);

namespace {

using namespace asmjit;
using x86::Gp;

constexpr int32_t kEip = offsetof(CpuState, eip);
constexpr int32_t kEflags = offsetof(CpuState, eflags);
constexpr int32_t kSpMask = offsetof(CpuState, sp_mask);
constexpr int32_t kReg(unsigned r) { return static_cast<int32_t>(offsetof(CpuState, regs) + 4 * r); }
constexpr int32_t kSegBase(unsigned s) {
  return static_cast<int32_t>(offsetof(CpuState, seg) + s * sizeof(SegReg) + offsetof(SegReg, base));
}
constexpr int32_t kSegLimit(unsigned s) {
  return static_cast<int32_t>(offsetof(CpuState, seg) + s * sizeof(SegReg) + offsetof(SegReg, limit));
}
constexpr int32_t kRmax(unsigned s) { return static_cast<int32_t>(offsetof(CpuState, seg_rmax) + 8 * s); }
constexpr int32_t kWmax(unsigned s) { return static_cast<int32_t>(offsetof(CpuState, seg_wmax) + 8 * s); }
constexpr int32_t kIcount = offsetof(CpuState, icount);
constexpr int32_t kCcOp = offsetof(CpuState, cc_op);
constexpr int32_t kCcA = offsetof(CpuState, cc_a);
constexpr int32_t kCcB = offsetof(CpuState, cc_b);
constexpr int32_t kCcOrig(int k) { return static_cast<int32_t>(offsetof(CpuState, cc_orig) + 4 * k); }
constexpr int32_t kCcCarry = offsetof(CpuState, cc_carry);

static_assert(sizeof(TlbEntry) == 32, "the TLB index is scaled by 32");
constexpr int32_t kTagRead = offsetof(TlbEntry, tag_read);
constexpr int32_t kTagWrite = offsetof(TlbEntry, tag_write);
constexpr int32_t kAddend = offsetof(TlbEntry, addend);

// Guest flags each form reads and writes.
constexpr uint32_t kAllFlags = F_ARITH;
// The flags condition code cc (0-15) tests, by cc >> 1.
constexpr uint32_t kCondNeeds[8] = {F_OF, F_CF, F_ZF,        F_CF | F_ZF,
                                    F_SF, F_PF, F_SF | F_OF, F_ZF | F_SF | F_OF};

Gp gp(unsigned id, unsigned size) {
  switch (size) {
    case 1:
      return x86::gpb_lo(id);
    case 2:
      return x86::gpw(id);
    default:
      return x86::gpd(id);
  }
}
x86::Mem state(int32_t off, unsigned size) { return x86::ptr(x86::rbx, off, size); }

// Condition code (0-15, Intel order) of a Jcc/SETcc/CMOVcc mnemonic, or -1.
int cond_of(unsigned m) {
  switch (m) {
    case ZYDIS_MNEMONIC_JO:
    case ZYDIS_MNEMONIC_SETO:
    case ZYDIS_MNEMONIC_CMOVO:
      return 0;
    case ZYDIS_MNEMONIC_JNO:
    case ZYDIS_MNEMONIC_SETNO:
    case ZYDIS_MNEMONIC_CMOVNO:
      return 1;
    case ZYDIS_MNEMONIC_JB:
    case ZYDIS_MNEMONIC_SETB:
    case ZYDIS_MNEMONIC_CMOVB:
      return 2;
    case ZYDIS_MNEMONIC_JNB:
    case ZYDIS_MNEMONIC_SETNB:
    case ZYDIS_MNEMONIC_CMOVNB:
      return 3;
    case ZYDIS_MNEMONIC_JZ:
    case ZYDIS_MNEMONIC_SETZ:
    case ZYDIS_MNEMONIC_CMOVZ:
      return 4;
    case ZYDIS_MNEMONIC_JNZ:
    case ZYDIS_MNEMONIC_SETNZ:
    case ZYDIS_MNEMONIC_CMOVNZ:
      return 5;
    case ZYDIS_MNEMONIC_JBE:
    case ZYDIS_MNEMONIC_SETBE:
    case ZYDIS_MNEMONIC_CMOVBE:
      return 6;
    case ZYDIS_MNEMONIC_JNBE:
    case ZYDIS_MNEMONIC_SETNBE:
    case ZYDIS_MNEMONIC_CMOVNBE:
      return 7;
    case ZYDIS_MNEMONIC_JS:
    case ZYDIS_MNEMONIC_SETS:
    case ZYDIS_MNEMONIC_CMOVS:
      return 8;
    case ZYDIS_MNEMONIC_JNS:
    case ZYDIS_MNEMONIC_SETNS:
    case ZYDIS_MNEMONIC_CMOVNS:
      return 9;
    case ZYDIS_MNEMONIC_JP:
    case ZYDIS_MNEMONIC_SETP:
    case ZYDIS_MNEMONIC_CMOVP:
      return 10;
    case ZYDIS_MNEMONIC_JNP:
    case ZYDIS_MNEMONIC_SETNP:
    case ZYDIS_MNEMONIC_CMOVNP:
      return 11;
    case ZYDIS_MNEMONIC_JL:
    case ZYDIS_MNEMONIC_SETL:
    case ZYDIS_MNEMONIC_CMOVL:
      return 12;
    case ZYDIS_MNEMONIC_JNL:
    case ZYDIS_MNEMONIC_SETNL:
    case ZYDIS_MNEMONIC_CMOVNL:
      return 13;
    case ZYDIS_MNEMONIC_JLE:
    case ZYDIS_MNEMONIC_SETLE:
    case ZYDIS_MNEMONIC_CMOVLE:
      return 14;
    case ZYDIS_MNEMONIC_JNLE:
    case ZYDIS_MNEMONIC_SETNLE:
    case ZYDIS_MNEMONIC_CMOVNLE:
      return 15;
    default:
      return -1;
  }
}

// The host instruction of a native ALU mnemonic (two operands) or unary one.
InstId alu_inst(unsigned m) {
  switch (m) {
    case ZYDIS_MNEMONIC_ADD:
      return x86::Inst::kIdAdd;
    case ZYDIS_MNEMONIC_OR:
      return x86::Inst::kIdOr;
    case ZYDIS_MNEMONIC_ADC:
      return x86::Inst::kIdAdc;
    case ZYDIS_MNEMONIC_SBB:
      return x86::Inst::kIdSbb;
    case ZYDIS_MNEMONIC_AND:
      return x86::Inst::kIdAnd;
    case ZYDIS_MNEMONIC_SUB:
      return x86::Inst::kIdSub;
    case ZYDIS_MNEMONIC_XOR:
      return x86::Inst::kIdXor;
    case ZYDIS_MNEMONIC_CMP:
      return x86::Inst::kIdCmp;
    case ZYDIS_MNEMONIC_TEST:
      return x86::Inst::kIdTest;
    case ZYDIS_MNEMONIC_INC:
      return x86::Inst::kIdInc;
    case ZYDIS_MNEMONIC_DEC:
      return x86::Inst::kIdDec;
    case ZYDIS_MNEMONIC_NEG:
      return x86::Inst::kIdNeg;
    default:
      return x86::Inst::kIdNot;
  }
}

enum class Form : uint8_t {
  Helper,
  Mov,
  Movx,
  Lea,
  Alu,
  Unary,
  Xchg,
  SignExt,
  Push,
  Pop,
  Jcc,
  Jmp,
  Call,
  Ret,
  Setcc,
  Cmov,
  Shift,
  Imul,
  Leave,
  Nop,
  Bswap,
  RepString,
  ShiftCl,
};

struct FormInfo {
  Form form = Form::Helper;
  uint32_t reads = kAllFlags;  // flags read (helpers and bail points read them all)
  uint32_t writes = 0;         // flags written
  bool af_zero = false;        // logic ops: AF is 0 on a P6 (the host leaves it undefined)
};

unsigned kind(const Insn& i, unsigned k) { return (i.kinds >> (3 * k)) & 7; }
bool has_mem(const Insn& i) { return kind(i, 0) == JK_MEM || kind(i, 1) == JK_MEM; }
bool gpr_or_mem(unsigned k) { return k == JK_GPR || k == JK_MEM; }

FormInfo classify(const Insn& i) {
  FormInfo f;
  if (i.flags & (INSN_LOCK | INSN_MODEL_ALIAS)) return f;  // LOCK forms keep the interpreter's checks
  if (i.fn == &op_ud || i.fn == &op_gp_too_long) return f;
  // REP MOVS/STOS (A4/A5/AA/AB: F2 0F 10 is SSE's MOVSD) with 32-bit addresses; the rest (and
  // non-flat segments, decided when emitting) stay with the handler.
  if ((i.opcode == 0xA4 || i.opcode == 0xA5 || i.opcode == 0xAA || i.opcode == 0xAB) && i.rep == REP_E &&
      i.amask == 0xFFFFFFFFu) {
    f.form = Form::RepString;
    return f;  // reads all flags (DF, and a bail), writes none
  }
  // Three operands: only IMUL r, r/m, imm (SHLD/SHRD stay with their handlers).
  if ((i.kinds & (1u << 6)) && i.mnem != ZYDIS_MNEMONIC_IMUL) return f;
  const unsigned k0 = kind(i, 0), k1 = kind(i, 1);
  const unsigned sz = i.opsize;
  const bool sized = sz == 1 || sz == 2 || sz == 4;
  const bool mem = has_mem(i);
  const uint32_t rd = mem ? kAllFlags : 0;  // a memory access may bail: then all flags are read
  auto set = [&](Form form, uint32_t reads, uint32_t writes) {
    f.form = form;
    f.reads = reads | rd;
    f.writes = writes;
  };
  const int cc = cond_of(i.mnem);
  switch (i.mnem) {
    case ZYDIS_MNEMONIC_MOV:
      if (sized && gpr_or_mem(k0) && (k1 == JK_GPR || k1 == JK_IMM || k1 == JK_MEM) &&
          !(k0 == JK_MEM && k1 == JK_MEM))
        set(Form::Mov, 0, 0);
      break;
    case ZYDIS_MNEMONIC_MOVZX:
    case ZYDIS_MNEMONIC_MOVSX:
      if ((sz == 2 || sz == 4) && k0 == JK_GPR && gpr_or_mem(k1) && (i.size1 == 1 || i.size1 == 2))
        set(Form::Movx, 0, 0);
      break;
    case ZYDIS_MNEMONIC_LEA:
      if ((sz == 2 || sz == 4) && k0 == JK_GPR && k1 == JK_MEM) {
        set(Form::Lea, 0, 0);
        f.reads = 0;  // no access: LEA cannot fault
      }
      break;
    case ZYDIS_MNEMONIC_ADD:
    case ZYDIS_MNEMONIC_OR:
    case ZYDIS_MNEMONIC_AND:
    case ZYDIS_MNEMONIC_SUB:
    case ZYDIS_MNEMONIC_XOR:
    case ZYDIS_MNEMONIC_CMP:
    case ZYDIS_MNEMONIC_TEST:
    case ZYDIS_MNEMONIC_ADC:
    case ZYDIS_MNEMONIC_SBB:
      if (sized && gpr_or_mem(k0) && (k1 == JK_GPR || k1 == JK_IMM || k1 == JK_MEM) &&
          !(k0 == JK_MEM && k1 == JK_MEM)) {
        const bool carry_in = i.mnem == ZYDIS_MNEMONIC_ADC || i.mnem == ZYDIS_MNEMONIC_SBB;
        set(Form::Alu, carry_in ? uint32_t{F_CF} : 0u, F_ARITH);
        f.af_zero = i.mnem == ZYDIS_MNEMONIC_OR || i.mnem == ZYDIS_MNEMONIC_AND ||
                    i.mnem == ZYDIS_MNEMONIC_XOR || i.mnem == ZYDIS_MNEMONIC_TEST;
      }
      break;
    case ZYDIS_MNEMONIC_INC:
    case ZYDIS_MNEMONIC_DEC:
      if (sized && gpr_or_mem(k0) && k1 == JK_NONE) set(Form::Unary, 0, F_ARITH & ~F_CF);
      break;
    case ZYDIS_MNEMONIC_NEG:
      if (sized && gpr_or_mem(k0) && k1 == JK_NONE) set(Form::Unary, 0, F_ARITH);
      break;
    case ZYDIS_MNEMONIC_NOT:
      if (sized && gpr_or_mem(k0) && k1 == JK_NONE) set(Form::Unary, 0, 0);
      break;
    case ZYDIS_MNEMONIC_SHL:
    case ZYDIS_MNEMONIC_SHR:
    case ZYDIS_MNEMONIC_SAR:
    case ZYDIS_MNEMONIC_ROL:
    case ZYDIS_MNEMONIC_ROR:
      // Constant counts (by 1, by imm8) that move bits: 1 <= count < width for shifts, a count
      // that is not a multiple of the width for rotates. By CL and the rest stay with the handler.
      // SHL/SHR/SAR r/m32 by CL: the count is masked to 5 bits, so it never reaches the width.
      if (sz == 4 && gpr_or_mem(k0) && k1 == JK_GPR && i.mnem != ZYDIS_MNEMONIC_ROL &&
          i.mnem != ZYDIS_MNEMONIC_ROR) {
        set(Form::ShiftCl, kAllFlags, F_ARITH);  // a count of 0 keeps (so reads) every flag
      }
      if (sized && gpr_or_mem(k0) && k1 == JK_IMM) {
        const unsigned cnt = i.imm & 31, width = 8 * sz;
        const bool rot = i.mnem == ZYDIS_MNEMONIC_ROL || i.mnem == ZYDIS_MNEMONIC_ROR;
        if (cnt != 0 && (rot ? cnt % width != 0 : cnt < width)) {
          set(Form::Shift, 0, rot ? (F_CF | F_OF) : F_ARITH);
          f.af_zero = !rot;
        }
      }
      break;
    case ZYDIS_MNEMONIC_IMUL:
      // IMUL r, r/m and IMUL r, r/m, imm: CF = OF = overflow; SF ZF AF PF stay (the interpreter's
      // choice for the undefined flags).
      if ((sz == 2 || sz == 4) && k0 == JK_GPR && gpr_or_mem(k1)) set(Form::Imul, 0, F_CF | F_OF);
      break;
    case ZYDIS_MNEMONIC_XCHG:
      if (sized && k0 == JK_GPR && k1 == JK_GPR) set(Form::Xchg, 0, 0);
      break;
    case ZYDIS_MNEMONIC_NOP:  // 90 and the hint NOPs (0F 1F /0): no access, no fault
      set(Form::Nop, 0, 0);
      f.reads = 0;
      break;
    case ZYDIS_MNEMONIC_BSWAP:  // the 16-bit form (undefined, the handler's rule) stays
      if (sz == 4 && k0 == JK_GPR) set(Form::Bswap, 0, 0);
      break;
    case ZYDIS_MNEMONIC_CBW:
    case ZYDIS_MNEMONIC_CWDE:
    case ZYDIS_MNEMONIC_CWD:
    case ZYDIS_MNEMONIC_CDQ:
      set(Form::SignExt, 0, 0);
      break;
    case ZYDIS_MNEMONIC_PUSH:
      // PUSH ESP stays with the handler: what it pushes depends on the CPU model.
      if ((sz == 2 || sz == 4) &&
          ((k0 == JK_GPR && i.r0 != reg_offset(ESP)) || k0 == JK_IMM || k0 == JK_MEM) && k1 == JK_NONE)
        set(Form::Push, kAllFlags, 0);
      break;
    case ZYDIS_MNEMONIC_LEAVE:
      if ((sz == 2 || sz == 4) && k0 == JK_NONE) set(Form::Leave, kAllFlags, 0);
      break;
    case ZYDIS_MNEMONIC_POP:
      if ((sz == 2 || sz == 4) && k0 == JK_GPR && k1 == JK_NONE) set(Form::Pop, kAllFlags, 0);
      break;
    case ZYDIS_MNEMONIC_JMP:
      if (k0 == JK_IMM && k1 == JK_NONE && (i.opcode == 0xE9 || i.opcode == 0xEB))
        set(Form::Jmp, kAllFlags, 0);
      break;
    case ZYDIS_MNEMONIC_CALL:
      if (k0 == JK_IMM && (sz == 2 || sz == 4) && i.opcode == 0xE8) set(Form::Call, kAllFlags, 0);
      break;
    case ZYDIS_MNEMONIC_RET:
      // C3 / C2 iw (near); CB / CA are far returns.
      if ((sz == 2 || sz == 4) && (i.opcode == 0xC3 || i.opcode == 0xC2)) set(Form::Ret, kAllFlags, 0);
      break;
    default:
      if (cc >= 0 && i.mnem >= ZYDIS_MNEMONIC_JB && i.mnem <= ZYDIS_MNEMONIC_JZ && k0 == JK_IMM)
        set(Form::Jcc, kAllFlags, 0);
      else if (cc >= 0 && sz == 1 && gpr_or_mem(k0) && k1 == JK_NONE && i.mnem >= ZYDIS_MNEMONIC_SETB &&
               i.mnem <= ZYDIS_MNEMONIC_SETZ)
        set(Form::Setcc, F_ARITH, 0);
      else if (cc >= 0 && (sz == 2 || sz == 4) && k0 == JK_GPR && gpr_or_mem(k1) &&
               i.mnem >= ZYDIS_MNEMONIC_CMOVB && i.mnem <= ZYDIS_MNEMONIC_CMOVZ)
        set(Form::Cmov, F_ARITH, 0);
      break;
  }
  return f;
}

class Emitter {
 public:
  // A block's chainable exits: the two ways out of its final conditional branch, or a CALL's
  // target and its return.
  static constexpr size_t kMaxExits = 3;

  Emitter(Jit& jit, Block& b, CodeHolder& code) : jit_(jit), b_(b), a_(&code) {
    ip_mask_ = (b.mode & 1) ? 0xFFFFFFFFu : 0xFFFFu;
    flat_ = b.jit_flat;
    host_disp_ = jit.host_base_disp();
    tlb_checks_ = jit.tlb_checks;
  }

  unsigned run() {
    const unsigned n = b_.ninsn;
    std::vector<FormInfo> info(n);
    for (unsigned k = 0; k < n; ++k) info[k] = classify(b_.insns[k]);
    // Flag liveness, backwards: everything is live at the block's end.
    std::vector<uint32_t> live_after(n);
    uint32_t live = kAllFlags;
    for (unsigned k = n; k-- > 0;) {
      live_after[k] = live;
      live = (live & ~info[k].writes) | info[k].reads;
    }
    plan_ = plan_lazy_flags(info, live_after);

    if (jit_.trace()) {
      // -d trace / exec: the lines the run loop prints before an interpreted block, for every
      // block run here, chained ones included.
      a_.mov(x86::rdi, x86::rbx);
      a_.mov(x86::rsi, imm(reinterpret_cast<uintptr_t>(&b_)));
      a_.call(imm(reinterpret_cast<uintptr_t>(&jit_trace_block)));
    }
    a_.add(state(kIcount, 8), static_cast<int32_t>(n));
    plan_cache(info);
    cache_load();
    unsigned native = 0;
    off_ = 0;
    for (unsigned k = 0; k < n; ++k) {
      const Insn& i = b_.insns[k];
      cur_ = &i;
      fi_ = info[k];
      save_flags_ = (fi_.writes & live_after[k]) != 0 && plan_[k].kind == CC_EFLAGS;
      if (fi_.form == Form::RepString && !rep_string_flat(i)) fi_.form = Form::Helper;
      if (fi_.form == Form::Helper) {
        emit_helper();
      } else {
        ++native;
        emit_native();
        if (site_start_.isValid()) {  // -mmu host: where a window fault runs this one's slow path
          const Label end = a_.newLabel();
          a_.bind(end);
          site_labels_.push_back({site_start_, end, bail_, std::move(site_patches_)});
          site_start_ = Label();
          site_patches_.clear();
        }
      }
      if (ended_) break;
      off_ += i.len;
    }
    if (!ended_) {
      // The block ran off its end (size limit, page end, IP wrap): go on at the next instruction.
      const uint32_t rel = off_;
      flush_eip();
      if (ip_mask_ != 0xFFFFFFFFu) a_.and_(state(kEip, 4), static_cast<int32_t>(ip_mask_));
      exit_to(rel, true);
    }
    // Tails may add tails (a bail path's handler exit): iterate by index, on copies.
    for (size_t t = 0; t < tails_.size(); ++t) {
      Tail tail = tails_[t];
      tail();
    }
    return native;
  }

 private:
  using Tail = std::function<void()>;

  // ---- lazy flags (jit/lazy_flags.h) ----
  // ADD SUB AND OR XOR CMP TEST with a register destination (and a register or immediate source,
  // or a memory source for ADD SUB AND OR XOR) write no EFLAGS at all: the translator remembers
  // the operation and where its operands are (`Lazy`), and readers re-execute a host instruction
  // with the same flags: Jcc, SETcc and CMOVcc branch on the host's flags right after it; slow
  // paths, handlers and instructions that keep some flags get them merged into EFLAGS; the
  // block's exits store the operation and its operands in CpuState::cc_op/cc_a/cc_b, so the
  // next block evaluates them only if it reads them before overwriting them. An operand register
  // that changes while the flags are still needed is saved (spilled) into cc_a/cc_b right after
  // the writer; ADD/SUB with a memory source keep the destination's old value in cc_orig.
  struct Lazy {
    CcKind kind = CC_EFLAGS;  // CC_EFLAGS: no lazy writer
    unsigned size = 4;
    Operand a, b;   // the operand values now: a host register, a CpuState slot or an immediate
    int orig = -1;  // the cc_orig slot that b is (ADD/SUB with a memory source)
    // A writer with a memory operand stored its operation and operands in CpuState::cc_op/cc_a/
    // cc_b: valid while cc_op still holds its operation (its slow path leaves cc_op = 0, EFLAGS set).
    bool guarded = false;
    bool af0() const { return kind == CC_LOGIC || kind == CC_TEST; }
  };
  struct LazyPlan {
    CcKind kind = CC_EFLAGS;
    bool spill_a = false, spill_b = false;  // a register operand changes: saved after the writer
    bool mem = false;                       // a memory operand's value is one of them (guarded)
  };
  // Writers whose flags need a memory operand's value: CMP/TEST r, m and op m, r/imm, INC/DEC m.
  static bool lazy_mem_form(const Insn& i, const FormInfo& f) {
    if (f.form == Form::Unary) return kind(i, 0) == JK_MEM;
    return f.form == Form::Alu &&
           (kind(i, 0) == JK_MEM ||
            (kind(i, 1) == JK_MEM && (i.mnem == ZYDIS_MNEMONIC_CMP || i.mnem == ZYDIS_MNEMONIC_TEST)));
  }
  static CcKind lazy_kind(const Insn& i, const FormInfo& f) {
    if (f.form == Form::Unary && (kind(i, 0) == JK_MEM || (kind(i, 0) == JK_GPR && i.r0 < 32)) &&
        f.writes == (F_ARITH & ~F_CF))
      return i.mnem == ZYDIS_MNEMONIC_INC ? CC_INC : CC_DEC;
    if (f.form != Form::Alu || f.writes != F_ARITH) return CC_EFLAGS;
    CcKind k = CC_EFLAGS;
    switch (i.mnem) {
      case ZYDIS_MNEMONIC_ADD:
        k = CC_ADD;
        break;
      case ZYDIS_MNEMONIC_SUB:
        k = CC_SUB;
        break;
      case ZYDIS_MNEMONIC_AND:
      case ZYDIS_MNEMONIC_OR:
      case ZYDIS_MNEMONIC_XOR:
        k = CC_LOGIC;
        break;
      case ZYDIS_MNEMONIC_CMP:
        k = CC_CMP;
        break;
      case ZYDIS_MNEMONIC_TEST:
        k = CC_TEST;
        break;
      case ZYDIS_MNEMONIC_ADC:  // (the carry in goes to cc_carry first: see save_carry)
        k = CC_ADC;
        break;
      case ZYDIS_MNEMONIC_SBB:
        k = CC_SBB;
        break;
      default:
        return CC_EFLAGS;
    }
    const unsigned k0 = kind(i, 0), k1 = kind(i, 1);
    if (k0 == JK_MEM)  // op m, r/imm (the register operand is i.r0 here)
      return (k1 == JK_IMM || (k1 == JK_GPR && i.r0 < 32)) && k != CC_ADC && k != CC_SBB ? k : CC_EFLAGS;
    if (k0 != JK_GPR || i.r0 >= 32) return CC_EFLAGS;
    const bool reg_src = k1 == JK_IMM || (k1 == JK_GPR && i.r1 < 32);
    const bool same = k1 == JK_GPR && i.r1 / 4 == i.r0 / 4;  // one register both ways
    if (reg_src && !same) return k;
    if (!reg_src && k1 != JK_MEM) return CC_EFLAGS;
    // A memory source, or a source the result overwrites: ADD/SUB keep the value before;
    // CMP/TEST r, m and AND/OR/XOR need only the result or the loaded value.
    if (k == CC_ADD) return CC_ADD_ORIG;
    if (k == CC_SUB) return CC_SUB_ORIG;
    return k == CC_ADC || k == CC_SBB ? CC_EFLAGS : k;
  }
  // Guest registers (bit per register) a native instruction may write, slow paths included.
  static uint8_t regs_written(const Insn& i, const FormInfo& f) {
    uint8_t m = 0;
    auto reg = [&m](unsigned off) {
      if (off < 32) m |= uint8_t(1u << (off / 4));
    };
    if (kind(i, 0) == JK_GPR) reg(i.r0);
    if (f.form == Form::Xchg && kind(i, 1) == JK_GPR) reg(i.r1);
    switch (f.form) {
      case Form::Push:
      case Form::Pop:
      case Form::Call:
      case Form::Ret:
        m |= 1u << ESP;
        break;
      case Form::Leave:
        m |= (1u << ESP) | (1u << EBP);
        break;
      case Form::SignExt:
        m |= (1u << EAX) | (1u << EDX);
        break;
      case Form::RepString:  // (also before its own slow path: the native loop goes page by page)
        m |= (1u << ECX) | (1u << ESI) | (1u << EDI);
        break;
      default:
        break;
    }
    return m;
  }
  // Which writers are lazy, and which of their operand registers change while their flags may
  // still be read (up to the next flag writer or handler, or the block's end).
  std::vector<LazyPlan> plan_lazy_flags(const std::vector<FormInfo>& info,
                                        const std::vector<uint32_t>& live_after) {
    const unsigned n = b_.ninsn;
    std::vector<LazyPlan> plan(n);
    for (unsigned w = 0; w < n; ++w) {
      const Insn& wi = b_.insns[w];
      if (!(info[w].writes & live_after[w])) continue;
      const CcKind k = lazy_kind(wi, info[w]);
      if (k == CC_EFLAGS) continue;
      // (A writer of some flags whose values nobody reads leaves the others to this one.)
      uint8_t changed = 0;
      for (unsigned j = w + 1; j < n && info[j].form != Form::Helper; ++j) {
        if (info[j].writes == F_ARITH || (info[j].writes & live_after[j])) break;
        changed |= regs_written(b_.insns[j], info[j]);
      }
      plan[w].kind = k;
      plan[w].mem = lazy_mem_form(wi, info[w]);
      plan[w].spill_a = !plan[w].mem && (changed & (1u << (wi.r0 / 4)));
      plan[w].spill_b = !plan[w].mem && kind(wi, 1) == JK_GPR && (changed & (1u << (wi.r1 / 4)));
    }
    return plan;
  }
  // A value into a CpuState slot (at the operand size; readers truncate).
  void store_slot(int32_t off, const Operand& v, unsigned size) {
    if (v.isImm()) {
      a_.mov(state(off, 4), v.as<Imm>());
    } else if (v.isReg()) {
      a_.mov(state(off, size), v.as<Gp>());
    } else {
      emit2(x86::Inst::kIdMov, gp(x86::Gp::kIdAx, size), v);
      a_.mov(state(off, size), gp(x86::Gp::kIdAx, size));
    }
  }
  // The host's flags as the lazy writer left them (clobbers eax, ecx).
  void recompute_host_flags(const Lazy& l) {
    if (!l.guarded) return emit_recompute(a_, l.kind, l.size, l.a, l.b, state(kCcCarry, 4));
    Label slow = a_.newLabel(), back = a_.newLabel();
    a_.cmp(state(kCcOp, 4), cc_op(l.kind, l.size));
    a_.jne(slow);
    emit_recompute(a_, l.kind, l.size, l.a, l.b, state(kCcCarry, 4));
    a_.bind(back);
    tails_.push_back([this, slow, back] {  // the writer took its slow path: EFLAGS has them
      a_.bind(slow);
      a_.mov(x86::eax, state(kEflags, 4));
      a_.and_(x86::eax, F_ARITH);
      a_.push(x86::rax);
      a_.popfq();
      a_.jmp(back);
    });
  }
  // The lazy writer's flags become pending flags in r11 (for a reader that needs them there).
  void lazy_to_r11() {
    if (lazy_.guarded) {  // in CpuState already
      lazy_ = Lazy();
      return dyn_to_r11();
    }
    recompute_host_flags(lazy_);
    a_.pushfq();
    a_.pop(x86::r11);
    pend_w_ = r11_w_ = F_ARITH;
    pend_af0_ = lazy_.af0();
    lazy_ = Lazy();
  }
  // Flags as the state `st` holds them, into CpuState::eflags (for a handler; clobbers eax, ecx,
  // r11). With nothing pending the handler's caller evaluates CpuState::cc_op itself.
  struct FlagState {
    Lazy lazy;
    uint32_t pend_w;
    bool pend_af0, dyn;
  };
  FlagState flag_state() const { return {lazy_, pend_w_, pend_af0_, dyn_}; }
  void flags_to_memory(const FlagState& st) {
    if (st.lazy.guarded) return;  // in CpuState: the handler's caller evaluates them
    if (st.lazy.kind != CC_EFLAGS) {
      recompute_host_flags(st.lazy);
      a_.pushfq();
      a_.pop(x86::r11);
      emit_merge(F_ARITH, st.lazy.af0(), st.dyn);
    } else if (st.pend_w) {
      emit_merge(st.pend_w, st.pend_af0, st.dyn);
    }
  }
  // At a way out of the block: EFLAGS as the next block (or the run loop) expects them: the
  // lazy writer's operation and operands in cc_op/cc_a/cc_b, or pending flags merged. Changes
  // no translation state (a Jcc emits two exits from one state).
  void exit_flags() {
    if (lazy_.guarded) return;  // in CpuState already
    if (lazy_.kind != CC_EFLAGS) {
      const unsigned sz = lazy_.size;
      if (!lazy_.a.isMem() || lazy_.a.as<x86::Mem>().offset() != kCcA) store_slot(kCcA, lazy_.a, sz);
      if (lazy_.kind != CC_LOGIC && (!lazy_.b.isMem() || lazy_.b.as<x86::Mem>().offset() != kCcB))
        store_slot(kCcB, lazy_.b, sz);
      a_.mov(state(kCcOp, 4), cc_op(lazy_.kind, sz));
    } else if (pend_w_) {
      emit_merge(pend_w_, pend_af0_, dyn_);
    }
  }
  // After a lazy writer (and its slow path): where its operands are from here on.
  void start_lazy(const LazyPlan& p) {
    const Insn& i = *cur_;
    const unsigned sz = i.opsize;
    Lazy l;
    l.kind = p.kind;
    l.size = sz;
    if (p.mem) {  // emit_lazy_mem stored them
      l.a = state(kCcA, sz);
      l.b = p.kind == CC_INC || p.kind == CC_DEC ? state(kCcB, 4) : state(kCcB, sz);
      l.guarded = true;
      lazy_ = l;
      pend_w_ = r11_w_ = 0;
      dyn_ = true;  // (CpuState::cc_op is set)
      return;
    }
    l.a = greg(i.r0, sz);
    if (p.spill_a) {
      store_slot(kCcA, l.a, sz);
      l.a = state(kCcA, sz);
    }
    if (p.kind == CC_LOGIC) {
      l.b = imm(0);  // (unused; a memory source is gone after the instruction)
    } else if (p.kind == CC_INC || p.kind == CC_DEC) {
      l.b = state(kCcCarry, 4);  // CF before, saved by save_carry
    } else if (p.kind == CC_ADD_ORIG || p.kind == CC_SUB_ORIG) {
      l.b = state(kCcOrig(orig_slot_), sz);
      l.orig = orig_slot_;
    } else {
      l.b = operand(1, sz);
      if (p.spill_b) {
        store_slot(kCcB, l.b, sz);
        l.b = state(kCcB, sz);
      }
    }
    lazy_ = l;
    pend_w_ = r11_w_ = 0;  // what was pending is overwritten by this writer
  }
  // Before a lazy INC/DEC: the CF it keeps, into bit 0 of cc_carry (clobbers eax, ecx; not
  // cc_b, which may still hold the flags' operands).
  void save_carry() {
    // A lazy ADC/SBB's own carry in is in cc_carry: where this instruction has a slow path that
    // still needs those flags, they go to r11 first.
    if ((lazy_.kind == CC_ADC || lazy_.kind == CC_SBB) && has_mem(*cur_)) lazy_to_r11();
    if (lazy_.kind != CC_EFLAGS) {
      recompute_host_flags(lazy_);
      a_.setc(state(kCcCarry, 1));
    } else if (r11_w_ & F_CF) {
      a_.mov(state(kCcCarry, 4), x86::r11d);
    } else if (dyn_) {
      dyn_to_r11();
      a_.mov(state(kCcCarry, 4), x86::r11d);
    } else {
      a_.mov(x86::eax, state(kEflags, 4));
      a_.mov(state(kCcCarry, 4), x86::eax);
    }
  }
  // The flags as the block was entered with them (the block before may have left them
  // unevaluated: CpuState::cc_op) become pending flags in r11, by the shared stub (which keeps
  // every register but rax, rcx and r11). EFLAGS in memory stays stale until they are merged.
  void dyn_to_r11() {
    if (!dyn_) return;
    a_.inc(x86::qword_ptr(x86::rbp, offsetof(JitStats, flag_evaluations)));
    a_.call(imm(jit_.flags_to_r11_addr()));
    pend_w_ = r11_w_ = F_ARITH;
    pend_af0_ = false;
  }
  // Before an instruction: where its flag reads will find the flags. Jcc, SETcc and CMOVcc take
  // a lazy writer's host flags directly; other readers and writers that keep some flags need
  // them in r11 or in memory.
  void prepare_flags() {
    const bool cond = fi_.form == Form::Jcc || fi_.form == Form::Setcc || fi_.form == Form::Cmov;
    const CcKind planned = plan_[static_cast<size_t>(cur_ - b_.insns.data())].kind;
    const bool carry = fi_.form == Form::Alu &&
                       (cur_->mnem == ZYDIS_MNEMONIC_ADC || cur_->mnem == ZYDIS_MNEMONIC_SBB) &&
                       planned != CC_ADC && planned != CC_SBB;  // (a lazy one saves its carry itself)
    const bool partial = save_flags_ && fi_.writes != F_ARITH;  // keeps some flags
    const bool shift_cl = fi_.form == Form::ShiftCl;            // a count of 0 keeps them all
    if (!cond && !carry && !partial && !shift_cl) return;
    if (lazy_.kind != CC_EFLAGS) {
      if (!cond) lazy_to_r11();
      return;
    }
    if (pend_w_ == F_ARITH) return;  // r11 has them all (merging them clears cc_op)
    if (cond && (r11_w_ & kCondNeeds[cond_of(cur_->mnem) >> 1]) == kCondNeeds[cond_of(cur_->mnem) >> 1])
      return;
    if (carry && (r11_w_ & F_CF)) return;
    dyn_to_r11();
  }

  // ---- EIP: native instructions accumulate their lengths and write EIP only when needed ----
  void flush_eip() {
    if (delta_) a_.add(state(kEip, 4), static_cast<int32_t>(delta_));
    delta_ = 0;
  }

  // ---- helper calls ----
  // Runs the interpreter handler of `i` with EIP at its start. `delta` is what the native code
  // has not yet added to EIP at this point; `rejoin` is where a successful handler continues
  // (with the instruction's length added to the pending delta there).
  void emit_call_handler(const Insn* i, uint32_t delta, bool keep_lazy_flags = false) {
    if (delta) a_.add(state(kEip, 4), static_cast<int32_t>(delta));
    cache_store();  // the handler works on CpuState
    a_.mov(x86::rdi, x86::rbx);
    a_.mov(x86::rsi, imm(reinterpret_cast<uintptr_t>(i)));
    // rel32: the cache is near our code
    a_.call(imm(reinterpret_cast<uintptr_t>(keep_lazy_flags ? &jit_call_handler_lazy : &jit_call_handler)));
    a_.cmp(x86::eax, JIT_CONTINUE_CHECKED);
    a_.ja(handler_exit_label());
    a_.or_(x86::r14d, x86::eax);  // CHECKED: the next exit takes the dispatcher's full checks
    cache_load();  // what the handler left
  }

  // ---- guest registers cached in host registers for the whole block ----
  // Up to five of the guest's 32-bit registers that the block's native instructions use most
  // live in r10, r12, rdi, r9 and r13 (free in generated code; rdi and r9 are argument registers,
  // but the cache is written back before every call anyway; r10 carries a chain request to the
  // dispatcher, after the write-back): loaded at the block's entry, written back
  // (those the block may write) before every handler call and exit, reloaded after a handler.
  // A register whose high byte (AH..BH) the block names stays in memory.
  static constexpr unsigned kCacheHost[] = {x86::Gp::kIdR10, x86::Gp::kIdR12, x86::Gp::kIdDi, x86::Gp::kIdR9,
                                            x86::Gp::kIdR13};
  static_assert(offsetof(CpuState, regs) == 0, "guest registers at CpuState offset 0..31");

  void plan_cache(const std::vector<FormInfo>& info) {
    unsigned uses[8] = {};
    uint8_t high = 0, wr = 0;
    auto use_off = [&](unsigned off) {
      if (off >= 32) return;
      if (off % 4) high |= uint8_t(1u << (off / 4));
      ++uses[off / 4];
      wr |= uint8_t(1u << (off / 4));  // a superset of the written ones: storing a clean value is harmless
    };
    auto use_reg = [&](unsigned r, bool w) {
      if (r >= 8) return;
      ++uses[r];
      if (w) wr |= uint8_t(1u << r);
    };
    for (unsigned k = 0; k < b_.ninsn; ++k) {
      if (info[k].form == Form::Helper) continue;
      const Insn& i = b_.insns[k];
      const unsigned k0 = kind(i, 0), k1 = kind(i, 1);
      if (k0 == JK_GPR) use_off(i.r0);
      if (k1 == JK_GPR) use_off(k0 == JK_GPR ? i.r1 : i.r0);
      if (has_mem(i)) {
        if (i.base != REG_ZERO) use_reg(i.base, false);
        if (i.index != REG_ZERO) use_reg(i.index, false);
      }
      switch (info[k].form) {
        case Form::Push:
        case Form::Pop:
        case Form::Call:
        case Form::Ret:
          use_reg(ESP, true);
          break;
        case Form::Leave:
          use_reg(ESP, true);
          use_reg(EBP, true);
          break;
        case Form::SignExt:
          use_reg(EAX, true);
          use_reg(EDX, true);
          break;
        default:
          break;
      }
    }
    for (unsigned slot = 0; slot < std::size(kCacheHost); ++slot) {
      int best = -1;
      for (unsigned r = 0; r < 8; ++r)
        if (!(high & (1u << r)) && host_of_[r] < 0 && uses[r] >= 2 && (best < 0 || uses[r] > uses[best]))
          best = static_cast<int>(r);
      if (best < 0) break;
      host_of_[best] = static_cast<int8_t>(kCacheHost[slot]);
      cached_ |= uint8_t(1u << best);
    }
    written_ = cached_ & wr;
  }
  void cache_load() {
    for (unsigned r = 0; r < 8; ++r)
      if (cached_ & (1u << r)) a_.mov(x86::gpd(static_cast<uint32_t>(host_of_[r])), state(kReg(r), 4));
  }
  void cache_store() {
    for (unsigned r = 0; r < 8; ++r)
      if (written_ & (1u << r)) a_.mov(state(kReg(r), 4), x86::gpd(static_cast<uint32_t>(host_of_[r])));
  }
  // A guest register operand at CpuState offset `off`: its host register when cached.
  Operand greg(int32_t off, unsigned size) const {
    if (off >= 0 && off < 32 && off % 4 == 0 && host_of_[off / 4] >= 0)
      return gp(static_cast<unsigned>(host_of_[off / 4]), size);
    return state(off, size);
  }
  void emit2(InstId id, const Operand& a, const Operand& b) { a_.emit(id, a, b); }

  Label handler_exit_label() {
    if (!handler_exit_.isValid()) {
      handler_exit_ = a_.newLabel();
      tails_.push_back([this] {
        a_.bind(handler_exit_);
        a_.cmp(x86::eax, JIT_FAULT);
        a_.je(imm(jit_.exit_fault_addr()));
        a_.jmp(imm(jit_.dispatch_addr()));
      });
    }
    return handler_exit_;
  }

  // Handlers that neither read nor write the arithmetic flags, and save no EFLAGS image (no INT,
  // IRET, far transfer or PUSHF): frequent ones in Linux and BIOS code.
  static bool keeps_arith_flags(const Insn& i) {
    switch (i.mnem) {
      case ZYDIS_MNEMONIC_RDTSC:
      case ZYDIS_MNEMONIC_PAUSE:
      case ZYDIS_MNEMONIC_CLI:
      case ZYDIS_MNEMONIC_STI:
      case ZYDIS_MNEMONIC_CLD:
      case ZYDIS_MNEMONIC_STD:
      case ZYDIS_MNEMONIC_IN:
      case ZYDIS_MNEMONIC_OUT:
      case ZYDIS_MNEMONIC_LOOP:
      case ZYDIS_MNEMONIC_CPUID:
      case ZYDIS_MNEMONIC_RDMSR:
      case ZYDIS_MNEMONIC_WRMSR:
      case ZYDIS_MNEMONIC_INVLPG:
      case ZYDIS_MNEMONIC_LODSB:
      case ZYDIS_MNEMONIC_LODSW:
      case ZYDIS_MNEMONIC_LODSD:
      case ZYDIS_MNEMONIC_STOSB:
      case ZYDIS_MNEMONIC_STOSW:
      case ZYDIS_MNEMONIC_STOSD:
      case ZYDIS_MNEMONIC_MOVSB:
      case ZYDIS_MNEMONIC_MOVSW:
      case ZYDIS_MNEMONIC_MOV:
      case ZYDIS_MNEMONIC_MOVZX:
      case ZYDIS_MNEMONIC_MOVSX:
      case ZYDIS_MNEMONIC_PUSH:
      case ZYDIS_MNEMONIC_POP:
      case ZYDIS_MNEMONIC_XCHG:
      case ZYDIS_MNEMONIC_LEA:
        return true;
      default:
        return false;
    }
  }

  void emit_helper() {
    // With nothing of this block's own pending, such a handler leaves flags the block before
    // left unevaluated (CpuState::cc_op) as they are.
    const bool keep =
        dyn_ && !pend_w_ && (lazy_.kind == CC_EFLAGS || lazy_.guarded) && keeps_arith_flags(*cur_);
    flags_to_memory(flag_state());
    emit_call_handler(cur_, delta_, keep);
    lazy_ = Lazy();
    r11_lost();
    if (!keep) dyn_ = false;  // jit_call_handler evaluated CpuState::cc_op
    flat_ = 0;                // the handler may have loaded a segment register
    delta_ = 0;
    // A handler that returned normally advanced EIP itself; one that jumped returned
    // JIT_DISPATCH. The last one (RDTSC, IN, OUT, CPUID, ... end their blocks) fell through to
    // the next EIP: an exit there, chained if nothing the handler changed forbids it.
    if (&b_.insns[b_.ninsn - 1] == cur_) {
      exit_to(static_cast<int64_t>(off_) + cur_->len, true);
      ended_ = true;
    }
  }

  // The out-of-line slow path of a native instruction: its handler, then back to `rejoin`.
  Label bail_label() {
    if (bail_.isValid()) return bail_;
    bail_ = a_.newLabel();
    Label rejoin = a_.newLabel();
    rejoin_ = rejoin;
    const Insn* i = cur_;
    const uint32_t delta = delta_;
    const bool last = &b_.insns[b_.ninsn - 1] == cur_;
    Label bail = bail_;
    const FlagState flags = flag_state();  // as before this instruction
    tails_.push_back([this, i, delta, rejoin, last, bail, flags] {
      a_.bind(bail);
      flags_to_memory(flags);
      a_.inc(x86::qword_ptr(x86::rbp, offsetof(JitStats, bails)));
      a_.mov(x86::rax,
             imm(reinterpret_cast<uintptr_t>(&jit_.histogram().bail[i->mnem % JitHistogram::kSize])));
      a_.inc(x86::qword_ptr(x86::rax));
      emit_call_handler(i, delta);
      if (last) {
        a_.jmp(imm(jit_.dispatch_addr()));
      } else {
        // The handler advanced EIP past the instruction: take that back into the pending delta.
        a_.sub(state(kEip, 4), static_cast<int32_t>(delta + i->len));
        // The main path may hold flags in r11 here: all of them are in memory now.
        a_.mov(x86::r11d, state(kEflags, 4));
        a_.jmp(rejoin);
      }
    });
    return bail_;
  }

  // ---- operands ----
  // Effective address of the memory operand into ecx (masked to the address size).
  void emit_ea() {
    const Insn& i = *cur_;
    const int32_t disp = static_cast<int32_t>(i.disp);
    // A cached register is used in place (32-bit LEA: the host register's upper half is ignored).
    auto reg = [this](unsigned r, const Gp& tmp) {
      if (host_of_[r] >= 0) return x86::gpq(static_cast<uint32_t>(host_of_[r]));
      a_.mov(tmp.r32(), state(kReg(r), 4));
      return tmp.r64();
    };
    if (i.base != REG_ZERO && i.index != REG_ZERO) {
      const Gp b = reg(i.base, x86::rcx), x = reg(i.index, x86::rax);
      a_.lea(x86::ecx, x86::ptr(b, x, i.scale, disp));
    } else if (i.base != REG_ZERO) {
      const Gp b = reg(i.base, x86::rcx);
      a_.lea(x86::ecx, x86::ptr(b, disp));
    } else if (i.index != REG_ZERO) {
      emit2(x86::Inst::kIdMov, x86::ecx, greg(kReg(i.index), 4));
      if (i.scale) a_.shl(x86::ecx, i.scale);
      if (disp) a_.add(x86::ecx, disp);
    } else {
      a_.mov(x86::ecx, static_cast<uint32_t>(i.disp));
    }
    if (i.amask == 0xFFFFu) a_.movzx(x86::ecx, x86::cx);
  }

  // The inline access check for `size` bytes at seg:ecx. Leaves the host address in r8; on any
  // failure jumps to the bail path. Clobbers rax, rsi, r8. Keeps ecx and edx.
  // A segment that was flat when the block was translated (Block::jit_flat; the block is entered
  // only while it still is, and after a handler call in the block nothing is assumed) needs neither the bound
  // check nor the base: the offset is the linear address. An access that wraps past 4 GiB fails the tag
  // compare (its last byte's page is not the entry's) and bails.
  //
  // -mmu host: the host address is the current window's base plus the linear address, unchecked.
  // The instruction's code from here to its end is a "site": a window fault in it (all this
  // instruction's accesses come before anything else it changes) maps the page or runs the slow
  // path (jit/host_faults.h).
  void emit_access(unsigned seg, unsigned size, bool write) {
    Label bail = bail_label();
    const bool flat = seg < SEG_COUNT && (flat_ & jit_flat_bit(seg));
    const Gp lin = flat ? x86::rcx : x86::rsi;
    if (!flat) {
      a_.lea(x86::rsi, x86::ptr(x86::rcx, static_cast<int32_t>(size - 1)));
      a_.cmp(x86::rsi, x86::qword_ptr(x86::rbx, write ? kWmax(seg) : kRmax(seg)));
      a_.jg(bail);
      a_.mov(x86::esi, x86::ecx);
      a_.add(x86::esi, state(kSegBase(seg), 4));  // linear address
    }
    if (host_disp_) {
      // The window base's load, in its 7-byte form (disp32), is where the fault handler writes a
      // jump to the TLB's check (out of line) when this access keeps needing the slow path (page
      // tables, code pages, MMIO): no NOP to decode on every access.
      const Label patch = a_.newLabel(), via_tlb = a_.newLabel(), loaded = a_.newLabel(),
                  back = a_.newLabel();
      a_.bind(patch);
      // mov r8, qword ptr [r15 + disp32] (asmjit would pick the short disp8 form)
      uint8_t load[7] = {0x4D, 0x8B, 0x87};
      std::memcpy(load + 3, &host_disp_, 4);
      a_.embed(load, sizeof(load));  // the window
      a_.bind(loaded);
      a_.add(x86::r8, lin);  // (32-bit: zero-extended)
      a_.bind(back);
      patch_room_.push_back({patch, loaded});
      if (!site_start_.isValid()) site_start_ = back;
      site_patches_.push_back({patch, via_tlb});
      tails_.push_back([this, lin, size, write, bail, via_tlb, back] {
        a_.bind(via_tlb);
        emit_tlb_lookup(lin, size, write, bail);
        a_.jmp(back);
      });
      return;
    }
    emit_tlb_lookup(lin, size, write, bail);
  }

  // The TLB's fast path for `size` bytes at linear `lin`: the host address in r8, or the bail.
  void emit_tlb_lookup(const Gp& lin, unsigned size, bool write, const Label& bail) {
    for (unsigned k = 1; k < tlb_checks_; ++k) emit_tlb_check(lin, size, write, bail);
    emit_tlb_check(lin, size, write, bail);
  }
  void emit_tlb_check(const Gp& lin, unsigned size, bool write, const Label& bail) {
    a_.mov(x86::r8, x86::qword_ptr(x86::r15));  // current TLB
    a_.mov(x86::eax, lin.r32());
    a_.shr(x86::eax, PAGE_SHIFT - 5);  // the entry's offset: page number * 32
    a_.and_(x86::eax, (Mmu::TLB_SIZE - 1) << 5);
    a_.add(x86::r8, x86::rax);  // the entry
    a_.lea(x86::eax, x86::ptr(lin, static_cast<int32_t>(size - 1)));
    a_.and_(x86::eax, ~PAGE_MASK);  // page of the last byte
    a_.cmp(x86::eax, x86::dword_ptr(x86::r8, write ? kTagWrite : kTagRead));
    a_.jne(bail);
    a_.mov(x86::r8, x86::qword_ptr(x86::r8, kAddend));
    a_.add(x86::r8, lin);  // the host address
  }

  // When operand k is the memory operand: its address and the inline access check (host pointer
  // in r8, bail on failure).
  void access_operand(unsigned k, unsigned size, bool write) {
    if (kind(*cur_, k) != JK_MEM) return;
    emit_ea();
    emit_access(cur_->seg, size, write);
  }

  // Loads operand k (GPR or immediate) into register `id` (zero-extended to 32 bits). Memory
  // operands are read from [r8] by the caller's access.
  void load_operand(unsigned k, unsigned id, unsigned size) {
    const Insn& i = *cur_;
    const unsigned kd = kind(i, k);
    const Gp d = x86::gpd(id);
    if (kd == JK_IMM) {
      a_.mov(d, imm(i.imm & (size == 4 ? 0xFFFFFFFFu : size == 2 ? 0xFFFFu : 0xFFu)));
    } else if (kd == JK_MEM) {
      if (size == 4)
        a_.mov(d, x86::dword_ptr(x86::r8));
      else
        a_.movzx(d, x86::ptr(x86::r8, 0, size));
    } else {
      const uint16_t off = gpr_slot(k);
      emit2(size == 4 ? x86::Inst::kIdMov : x86::Inst::kIdMovzx, d, greg(off, size));
    }
  }
  // The CpuState offset of GPR operand k: GPRs take r0, r1 in the order they appear.
  uint16_t gpr_slot(unsigned k) const {
    const Insn& i = *cur_;
    if (k == 1 && kind(i, 0) == JK_GPR) return i.r1;
    return i.r0;
  }
  void store_operand(unsigned k, unsigned id, unsigned size) {
    if (kind(*cur_, k) == JK_MEM)
      a_.mov(x86::ptr(x86::r8, 0, size), gp(id, size));
    else
      emit2(x86::Inst::kIdMov, greg(gpr_slot(k), size), gp(id, size));
  }

  // ---- EFLAGS ----
  // A flag writer whose flags may be read (liveness counts bail points as readers) captures the
  // host's flags in r11 right after its host instruction. Merging them into CpuState::eflags (two
  // read-modify-writes of one memory word) waits until something reads EFLAGS there: a handler
  // (also on a bail path, which merges before its call), an exit, or a writer that leaves some of
  // the pending flags alone. Conditions (Jcc, SETcc, CMOVcc, ADC/SBB) read r11 when it holds them.
  void capture_flags() {
    if (!save_flags_) return;
    a_.pushfq();
    a_.pop(x86::r11);
  }
  // Called after the writer's flag fix-ups in r11: they become the pending flags.
  void merge_flags() {
    if (!save_flags_) {
      r11_w_ &= ~fi_.writes;  // r11 no longer holds these flags' current values
      return;
    }
    pend_w_ = fi_.writes;
    pend_af0_ = fi_.af_zero;
    r11_w_ = fi_.writes;
  }
  // Writes the pending flags into CpuState::eflags (r11 keeps them, masked). Where the block
  // began with flags the block before may have left unevaluated (`dyn`), all six replace them
  // (cc_op = 0); a merge of some over unevaluated ones would be a translator bug.
  void emit_merge(uint32_t w, bool af0, bool dyn) {
    a_.and_(x86::r11d, w & (af0 ? ~F_AF : ~0u));
    a_.and_(state(kEflags, 4), static_cast<int32_t>(~w));
    a_.or_(state(kEflags, 4), x86::r11d);
    if (dyn) {
      if (w == F_ARITH)
        a_.mov(state(kCcOp, 4), 0);
      else
        bad_merge_ = true;
    }
  }
  void merge_pending() {
    if (!pend_w_) return;
    emit_merge(pend_w_, pend_af0_, dyn_);
    if (pend_w_ == F_ARITH) dyn_ = false;
    pend_w_ = 0;
  }
  // Before a host flag writer: pending flags it does not overwrite go to memory first.
  void before_flag_write() {
    if (save_flags_ && (pend_w_ & ~fi_.writes)) merge_pending();
  }
  // r11 is clobbered (a handler ran).
  void r11_lost() {
    pend_w_ = 0;
    r11_w_ = 0;
  }

  // ---- native forms ----
  void emit_native() {
    const Insn& i = *cur_;
    bail_ = Label();
    rejoin_ = Label();
    prepare_flags();
    if (fi_.writes) before_flag_write();
    switch (fi_.form) {
      case Form::Mov:
        emit_mov();
        break;
      case Form::Movx:
        emit_movx();
        break;
      case Form::Lea:
        emit_lea();
        break;
      case Form::Alu:
        emit_alu();
        break;
      case Form::Unary:
        emit_unary();
        break;
      case Form::Xchg:
        emit_xchg();
        break;
      case Form::SignExt:
        emit_signext();
        break;
      case Form::Push:
        emit_push();
        break;
      case Form::Pop:
        emit_pop();
        break;
      case Form::Jcc:
        emit_jcc();
        return;
      case Form::Jmp:
        emit_jmp();
        return;
      case Form::Call:
        emit_call();
        return;
      case Form::Ret:
        emit_ret();
        return;
      case Form::Setcc:
        emit_setcc();
        break;
      case Form::Cmov:
        emit_cmov();
        break;
      case Form::Shift:
        emit_shift();
        break;
      case Form::ShiftCl:
        emit_shift_cl();
        break;
      case Form::Imul:
        emit_imul();
        break;
      case Form::Leave:
        emit_leave();
        break;
      case Form::Nop:
        break;
      case Form::RepString:
        emit_rep_string();
        break;
      case Form::Bswap:
        emit2(x86::Inst::kIdMov, x86::eax, greg(gpr_slot(0), 4));
        a_.bswap(x86::eax);
        emit2(x86::Inst::kIdMov, greg(gpr_slot(0), 4), x86::eax);
        break;
      case Form::Helper:
        break;
    }
    // (After its own bail path, which still needed them. A writer of some flags that nobody
    // reads leaves the lazy writer in charge of the others.)
    if (fi_.writes == F_ARITH || save_flags_) lazy_ = Lazy();
    if (rejoin_.isValid()) a_.bind(rejoin_);
    const LazyPlan& plan = plan_[static_cast<size_t>(cur_ - b_.insns.data())];
    if (plan.kind != CC_EFLAGS) start_lazy(plan);  // (after the rejoin: the slow path spills too)
    delta_ += i.len;
  }

  // Operand k as the host sees it once the access check ran: a cached guest register's host
  // register, the register's CpuState slot, an immediate (at the operand size), or [r8].
  Operand operand(unsigned k, unsigned size) const {
    const Insn& i = *cur_;
    switch (kind(i, k)) {
      case JK_IMM:
        return imm(i.imm & (size == 4 ? 0xFFFFFFFFu : size == 2 ? 0xFFFFu : 0xFFu));
      case JK_MEM:
        return x86::ptr(x86::r8, 0, size);
      default:
        return greg(gpr_slot(k), size);
    }
  }
  // `src` where an instruction with `dst` can take it: x86 has no memory-to-memory forms, so a
  // memory source for a memory destination goes through edx first.
  Operand source_for(const Operand& dst, const Operand& src, unsigned size) {
    if (!(dst.isMem() && src.isMem())) return src;
    emit2(size == 4 ? x86::Inst::kIdMov : x86::Inst::kIdMovzx, x86::edx, src);
    return gp(x86::Gp::kIdDx, size);
  }

  void emit_mov() {
    const Insn& i = *cur_;
    const unsigned sz = i.opsize;
    access_operand(kind(i, 0) == JK_MEM ? 0 : 1, sz, kind(i, 0) == JK_MEM);
    const Operand dst = operand(0, sz);
    emit2(x86::Inst::kIdMov, dst, source_for(dst, operand(1, sz), sz));
  }

  void emit_movx() {
    const Insn& i = *cur_;
    const bool sx = i.mnem == ZYDIS_MNEMONIC_MOVSX;
    Operand src;
    if (kind(i, 1) == JK_MEM) {
      emit_ea();
      emit_access(i.seg, i.size1, false);
      src = x86::ptr(x86::r8, 0, i.size1);
    } else {
      src = greg(i.r1, i.size1);
    }
    emit2(sx ? x86::Inst::kIdMovsx : x86::Inst::kIdMovzx, x86::edx, src);
    emit2(x86::Inst::kIdMov, greg(i.r0, i.opsize), gp(x86::Gp::kIdDx, i.opsize));
  }

  void emit_lea() {
    const Insn& i = *cur_;
    emit_ea();
    emit2(x86::Inst::kIdMov, greg(i.r0, i.opsize), gp(x86::Gp::kIdCx, i.opsize));
  }

  void emit_alu() {
    const Insn& i = *cur_;
    const unsigned sz = i.opsize;
    const LazyPlan& plan = plan_[static_cast<size_t>(cur_ - b_.insns.data())];
    if (plan.kind != CC_EFLAGS && plan.mem) return emit_lazy_mem(plan.kind);
    const CcKind lazy = plan.kind;
    if (lazy == CC_ADC || lazy == CC_SBB) save_carry();
    if (lazy == CC_ADD_ORIG || lazy == CC_SUB_ORIG) {
      // The destination's value before, on both paths (before the access check); not in the
      // slot the lazy writer before may still need.
      orig_slot_ = lazy_.orig == 0 ? 1 : 0;
      store_slot(kCcOrig(orig_slot_), greg(i.r0, sz), sz);
    }
    const bool writes = i.mnem != ZYDIS_MNEMONIC_CMP && i.mnem != ZYDIS_MNEMONIC_TEST;
    if (has_mem(i)) {
      emit_ea();
      emit_access(i.seg, sz, writes && kind(i, 0) == JK_MEM);
    }
    // In place: on the cached register, the CpuState slot or guest memory ([r8], checked for a
    // write when the instruction writes it). CMP and TEST write nothing either way.
    Operand dst = operand(0, sz);
    Operand src = source_for(dst, operand(1, sz), sz);
    // TEST has no reg, mem form; it commutes.
    if (i.mnem == ZYDIS_MNEMONIC_TEST && dst.isReg() && src.isMem()) std::swap(dst, src);
    if (lazy == CC_ADC || lazy == CC_SBB) {
      a_.bt(state(kCcCarry, 4), 0);
    } else if (i.mnem == ZYDIS_MNEMONIC_ADC || i.mnem == ZYDIS_MNEMONIC_SBB) {
      if (r11_w_ & F_CF) {
        a_.bt(x86::r11d, 0);
      } else {
        merge_pending();
        a_.bt(state(kEflags, 4), 0);
      }
    }
    a_.emit(alu_inst(i.mnem), dst, src);
    capture_flags();
    merge_flags();
  }

  // A lazy flag writer with a memory operand (lazy_mem_form): its operation and operands go to
  // CpuState::cc_op/cc_a/cc_b at once, as at a block's exit (its slow path sets EFLAGS and leaves
  // cc_op 0; readers in the block check which).
  void emit_lazy_mem(CcKind k) {
    const Insn& i = *cur_;
    const unsigned sz = i.opsize;
    const bool dst_mem = kind(i, 0) == JK_MEM;
    const bool unary = k == CC_INC || k == CC_DEC;
    const bool writes = dst_mem && i.mnem != ZYDIS_MNEMONIC_CMP && i.mnem != ZYDIS_MNEMONIC_TEST;
    if (unary) save_carry();  // (before the access: r8 stays)
    emit_ea();
    emit_access(i.seg, sz, writes);
    const Gp ax = gp(x86::Gp::kIdAx, sz);
    a_.mov(ax, x86::ptr(x86::r8, 0, sz));
    if (!dst_mem) {  // CMP/TEST r, m
      a_.mov(state(kCcB, sz), ax);
      store_slot(kCcA, greg(i.r0, sz), sz);
    } else {
      if (unary)
        a_.emit(alu_inst(i.mnem), ax);
      else if (writes)
        emit2(alu_inst(i.mnem), ax, operand(1, sz));
      if (writes) a_.mov(x86::ptr(x86::r8, 0, sz), ax);
      a_.mov(state(kCcA, sz), ax);
      if (unary) {
        a_.mov(x86::ecx, state(kCcCarry, 4));
        a_.mov(state(kCcB, 4), x86::ecx);
      } else if (k != CC_LOGIC) {
        store_slot(kCcB, operand(1, sz), sz);
      }
    }
    a_.mov(state(kCcOp, 4), cc_op(k, sz));
  }

  void emit_unary() {
    const Insn& i = *cur_;
    const unsigned sz = i.opsize;
    const LazyPlan& plan = plan_[static_cast<size_t>(cur_ - b_.insns.data())];
    if (plan.kind != CC_EFLAGS && plan.mem) return emit_lazy_mem(plan.kind);
    if (plan.kind == CC_INC || plan.kind == CC_DEC) save_carry();
    access_operand(0, sz, true);
    a_.emit(alu_inst(i.mnem), operand(0, sz));  // in place, as the ALU ops
    capture_flags();
    merge_flags();
  }

  // Shifts and rotates by a constant. The host computes result, CF and SZP; OF follows the
  // interpreter's rule for counts above 1 (SHL: MSB(result) ^ CF; SHR, SAR: 0), AF is 0, and
  // rotates take CF and OF from the result (ROL: CF = LSB, OF = MSB ^ CF; ROR: CF = MSB,
  // OF = MSB ^ next bit).
  void emit_shift() {
    const Insn& i = *cur_;
    const unsigned sz = i.opsize, msb = 8 * sz - 1, cnt = i.imm & 31;
    access_operand(0, sz, true);
    InstId id = x86::Inst::kIdShl;
    switch (i.mnem) {
      case ZYDIS_MNEMONIC_SHR:
        id = x86::Inst::kIdShr;
        break;
      case ZYDIS_MNEMONIC_SAR:
        id = x86::Inst::kIdSar;
        break;
      case ZYDIS_MNEMONIC_ROL:
        id = x86::Inst::kIdRol;
        break;
      case ZYDIS_MNEMONIC_ROR:
        id = x86::Inst::kIdRor;
        break;
      default:
        break;
    }
    if (!save_flags_) {  // nobody reads its flags: in place
      a_.emit(id, operand(0, sz), imm(cnt));
      merge_flags();
      return;
    }
    load_operand(0, x86::Gp::kIdAx, sz);
    const Gp a = gp(x86::Gp::kIdAx, sz);
    a_.emit(id, a, imm(cnt));
    capture_flags();
    store_operand(0, x86::Gp::kIdAx, sz);
    if (save_flags_) {
      // eax holds the result (zero-extended); r11 the host's flags.
      switch (i.mnem) {
        case ZYDIS_MNEMONIC_SHL:  // OF = MSB(r) ^ CF
          a_.mov(x86::ecx, x86::eax);
          a_.shr(x86::ecx, msb);
          a_.xor_(x86::ecx, x86::r11d);
          a_.and_(x86::ecx, 1);
          a_.shl(x86::ecx, 11);
          a_.and_(x86::r11d, ~F_OF);
          a_.or_(x86::r11d, x86::ecx);
          break;
        case ZYDIS_MNEMONIC_SHR:  // count 1: OF = the original MSB (the host's); else 0
        case ZYDIS_MNEMONIC_SAR:
          if (cnt != 1 || i.mnem == ZYDIS_MNEMONIC_SAR) a_.and_(x86::r11d, ~F_OF);
          break;
        case ZYDIS_MNEMONIC_ROL:  // CF = LSB(r), OF = MSB(r) ^ CF
          a_.mov(x86::ecx, x86::eax);
          a_.and_(x86::ecx, 1);
          a_.mov(x86::edx, x86::eax);
          a_.shr(x86::edx, msb);
          a_.xor_(x86::edx, x86::ecx);
          a_.shl(x86::edx, 11);
          a_.or_(x86::ecx, x86::edx);
          a_.mov(x86::r11d, x86::ecx);
          break;
        default:  // ROR: CF = MSB(r), OF = MSB(r) ^ bit msb-1
          a_.mov(x86::ecx, x86::eax);
          a_.shr(x86::ecx, msb);
          a_.mov(x86::edx, x86::eax);
          a_.shr(x86::edx, msb - 1);
          a_.xor_(x86::edx, x86::ecx);
          a_.and_(x86::edx, 1);
          a_.shl(x86::edx, 11);
          a_.or_(x86::ecx, x86::edx);
          a_.mov(x86::r11d, x86::ecx);
          break;
      }
    }
    merge_flags();
  }

  // ---- REP MOVS / REP STOS as native loops ----
  // With flat segments: per page, as many elements as fit in the destination's (and the
  // source's) page and remain before the count reaches a multiple of REP_CHUNK, moved by the
  // host's own REP MOVS/STOS through the TLB's host pointers; ECX, ESI and EDI are updated after
  // each page. DF set, an element across a page boundary, a TLB miss (MMIO, code pages, faults)
  // bail: the handler resumes from the registers as they are. At a multiple of REP_CHUNK the
  // instruction stops with EIP unchanged, as the interpreter's does, for the run loop's checks.
  bool rep_string_flat(const Insn& i) const {
    const bool movs = i.opcode == 0xA4 || i.opcode == 0xA5;
    return (flat_ & jit_flat_bit(ES)) && (!movs || (i.seg < SEG_COUNT && (flat_ & jit_flat_bit(i.seg))));
  }
  // lin (32-bit linear address, zero-extended) -> its host address via the TLB, or bail.
  // Clobbers rax and `ent`.
  void tlb_host(const Gp& lin, const Gp& ent, bool write, Label bail) {
    a_.mov(ent.r32(), lin.r32());
    a_.shr(ent.r32(), PAGE_SHIFT - 5);
    a_.and_(ent.r32(), (Mmu::TLB_SIZE - 1) << 5);
    a_.add(ent, x86::qword_ptr(x86::r15));
    a_.mov(x86::eax, lin.r32());
    a_.and_(x86::eax, ~PAGE_MASK);
    a_.cmp(x86::eax, x86::dword_ptr(ent, write ? kTagWrite : kTagRead));
    a_.jne(bail);
    a_.add(lin, x86::qword_ptr(ent, kAddend));
  }
  void emit_rep_string() {
    const Insn& i = *cur_;
    const bool movs = i.opcode == 0xA4 || i.opcode == 0xA5;
    const unsigned sz = i.opsize, sh = sz == 4 ? 2 : sz == 2 ? 1 : 0;
    const Label bail = bail_label();
    Label top = a_.newLabel(), done = a_.newLabel();
    a_.test(state(kEflags, 4), F_DF);  // DF is never pending in r11 (only arithmetic flags are)
    a_.jnz(bail);
    a_.bind(top);
    emit2(x86::Inst::kIdMov, x86::ecx, greg(kReg(ECX), 4));
    a_.test(x86::ecx, x86::ecx);
    a_.jz(done);
    static_assert(REP_CHUNK == 0x10000, "edx = elements before ECX reaches a multiple of REP_CHUNK");
    a_.lea(x86::edx, x86::ptr(x86::rcx, -1));
    a_.movzx(x86::edx, x86::dx);
    a_.inc(x86::edx);
    const unsigned regs[] = {EDI, ESI};
    for (unsigned r : std::span(regs, movs ? 2 : 1)) {
      emit2(x86::Inst::kIdMov, x86::eax, greg(kReg(r), 4));  // elements left in its page
      a_.and_(x86::eax, PAGE_MASK);
      a_.neg(x86::eax);
      a_.add(x86::eax, PAGE_SIZE);
      if (sh) a_.shr(x86::eax, sh);
      a_.cmp(x86::edx, x86::eax);
      a_.cmova(x86::edx, x86::eax);
    }
    a_.test(x86::edx, x86::edx);
    a_.jz(bail);  // an element across a page boundary
    emit2(x86::Inst::kIdMov, x86::r8d, greg(kReg(EDI), 4));
    tlb_host(x86::r8, x86::rsi, true, bail);
    if (movs) {
      emit2(x86::Inst::kIdMov, x86::esi, greg(kReg(ESI), 4));
      tlb_host(x86::rsi, x86::rcx, false, bail);
    } else {
      emit2(x86::Inst::kIdMov, gp(x86::Gp::kIdAx, sz), greg(kReg(EAX), sz));  // before rdi is reused
    }
    a_.push(x86::rdi);  // a guest register may live in rdi
    a_.mov(x86::rdi, x86::r8);
    a_.mov(x86::ecx, x86::edx);
    if (movs)
      a_.rep().emit(x86::Inst::kIdMovs, x86::ptr(x86::rdi, 0, sz), x86::ptr(x86::rsi, 0, sz));
    else
      a_.rep().emit(x86::Inst::kIdStos, x86::ptr(x86::rdi, 0, sz), gp(x86::Gp::kIdAx, sz));
    a_.pop(x86::rdi);
    a_.mov(x86::eax, x86::edx);
    if (sh) a_.shl(x86::eax, sh);
    emit2(x86::Inst::kIdAdd, greg(kReg(EDI), 4), x86::eax);
    if (movs) emit2(x86::Inst::kIdAdd, greg(kReg(ESI), 4), x86::eax);
    emit2(x86::Inst::kIdSub, greg(kReg(ECX), 4), x86::edx);
    a_.jz(done);
    a_.emit(x86::Inst::kIdTest, greg(kReg(ECX), 2), imm(0xFFFF));
    a_.jnz(top);
    // The count is at a multiple of REP_CHUNK: leave with EIP at this instruction.
    if (delta_) a_.add(state(kEip, 4), static_cast<int32_t>(delta_));
    exit_flags();
    cache_store();
    a_.jmp(imm(jit_.dispatch_addr()));
    a_.bind(done);
  }

  // SHL/SHR/SAR r/m32, CL. A count of 0 (CL & 31) changes nothing, flags included: pending flags
  // are merged first, so that path leaves all of EFLAGS in memory (and in r11, so the pending
  // merge of this writer's flags stays correct on both paths). Otherwise the host's shift gives
  // the result, CF and SZP; OF as emit_shift's rules (SHL: MSB(result) ^ CF; SHR: the original
  // MSB for a count of 1, else 0; SAR: 0); AF is 0.
  void emit_shift_cl() {
    const Insn& i = *cur_;
    access_operand(0, 4, true);
    merge_pending();
    load_operand(0, x86::Gp::kIdAx, 4);
    emit2(x86::Inst::kIdMov, x86::ecx, greg(kReg(ECX), 4));  // after the access: ecx held its address
    Label zero = a_.newLabel(), done = a_.newLabel();
    a_.and_(x86::ecx, 31);
    a_.jz(zero);
    const InstId id = i.mnem == ZYDIS_MNEMONIC_SHL   ? x86::Inst::kIdShl
                      : i.mnem == ZYDIS_MNEMONIC_SHR ? x86::Inst::kIdShr
                                                     : x86::Inst::kIdSar;
    a_.emit(id, x86::eax, x86::cl);
    capture_flags();
    store_operand(0, x86::Gp::kIdAx, 4);
    if (save_flags_) {
      a_.and_(x86::r11d, ~F_AF);           // here, not by the merge: the count-0 path keeps AF
      if (i.mnem == ZYDIS_MNEMONIC_SHL) {  // OF = MSB(r) ^ CF
        a_.mov(x86::edx, x86::eax);
        a_.shr(x86::edx, 31);
        a_.xor_(x86::edx, x86::r11d);
        a_.and_(x86::edx, 1);
        a_.shl(x86::edx, 11);
        a_.and_(x86::r11d, ~F_OF);
        a_.or_(x86::r11d, x86::edx);
      } else if (i.mnem == ZYDIS_MNEMONIC_SHR) {  // count 1: the host's OF (the original MSB)
        a_.cmp(x86::ecx, 1);
        a_.je(done);
        a_.and_(x86::r11d, ~F_OF);
      } else {
        a_.and_(x86::r11d, ~F_OF);
      }
    }
    a_.jmp(done);
    a_.bind(zero);
    if (save_flags_) a_.mov(x86::r11d, state(kEflags, 4));
    a_.bind(done);
    merge_flags();
  }

  void emit_imul() {
    const Insn& i = *cur_;
    const unsigned sz = i.opsize;
    access_operand(1, sz, false);
    load_operand(1, x86::Gp::kIdDx, sz);
    const Gp a = gp(x86::Gp::kIdAx, sz), d = gp(x86::Gp::kIdDx, sz);
    if (i.kinds & (1u << 6)) {
      a_.imul(a, d, imm(sz == 2 ? static_cast<int16_t>(i.imm) : static_cast<int32_t>(i.imm)));
    } else {
      load_operand(0, x86::Gp::kIdAx, sz);
      a_.imul(a, d);
    }
    capture_flags();
    emit2(x86::Inst::kIdMov, greg(i.r0, sz), a);
    merge_flags();
  }

  void emit_xchg() {
    const Insn& i = *cur_;
    const unsigned sz = i.opsize;
    emit2(x86::Inst::kIdMov, gp(x86::Gp::kIdAx, sz), greg(i.r0, sz));
    emit2(x86::Inst::kIdMov, gp(x86::Gp::kIdDx, sz), greg(i.r1, sz));
    emit2(x86::Inst::kIdMov, greg(i.r0, sz), gp(x86::Gp::kIdDx, sz));
    emit2(x86::Inst::kIdMov, greg(i.r1, sz), gp(x86::Gp::kIdAx, sz));
  }

  void emit_signext() {
    switch (cur_->mnem) {
      case ZYDIS_MNEMONIC_CBW:
        emit2(x86::Inst::kIdMovsx, x86::ax, greg(kReg(EAX), 1));
        emit2(x86::Inst::kIdMov, greg(kReg(EAX), 2), x86::ax);
        break;
      case ZYDIS_MNEMONIC_CWDE:
        emit2(x86::Inst::kIdMovsx, x86::eax, greg(kReg(EAX), 2));
        emit2(x86::Inst::kIdMov, greg(kReg(EAX), 4), x86::eax);
        break;
      case ZYDIS_MNEMONIC_CWD:
        emit2(x86::Inst::kIdMovsx, x86::eax, greg(kReg(EAX), 2));
        a_.sar(x86::eax, 16);
        emit2(x86::Inst::kIdMov, greg(kReg(EDX), 2), x86::ax);
        break;
      default:  // CDQ
        emit2(x86::Inst::kIdMov, x86::eax, greg(kReg(EAX), 4));
        a_.sar(x86::eax, 31);
        emit2(x86::Inst::kIdMov, greg(kReg(EDX), 4), x86::eax);
        break;
    }
  }

  // ESP = (ESP & ~sp_mask) | (esi & sp_mask): the stack pointer moves within the stack's size
  // (after the access: esi is free again).
  void set_sp_from_esi() {
    a_.mov(x86::eax, state(kSpMask, 4));
    a_.and_(x86::esi, x86::eax);
    a_.not_(x86::eax);
    emit2(x86::Inst::kIdAnd, x86::eax, greg(kReg(ESP), 4));
    a_.or_(x86::eax, x86::esi);
    emit2(x86::Inst::kIdMov, greg(kReg(ESP), 4), x86::eax);
  }

  // Pushes edx (size bytes) on SS:ESP; all checks first, then the write, then ESP.
  void push_edx(unsigned size) {
    emit2(x86::Inst::kIdMov, x86::ecx, greg(kReg(ESP), 4));
    a_.sub(x86::ecx, static_cast<int32_t>(size));
    a_.and_(x86::ecx, state(kSpMask, 4));
    emit_access(SS, size, true);
    a_.mov(x86::ptr(x86::r8, 0, size), gp(x86::Gp::kIdDx, size));
    a_.mov(x86::esi, x86::ecx);
    set_sp_from_esi();
  }

  void emit_push() {
    const Insn& i = *cur_;
    access_operand(0, i.opsize, false);
    if (kind(i, 0) == JK_IMM)
      a_.mov(x86::edx, imm(i.opsize == 2 ? (i.imm & 0xFFFF) : i.imm));
    else
      load_operand(0, x86::Gp::kIdDx, i.opsize);
    push_edx(i.opsize);
  }

  // Reads `size` bytes from SS:(sp_reg & sp_mask) into edx; then, after an optional CS-limit
  // check of the value (RET), sets ESP past it (+ `extra`). POP, RET and LEAVE.
  void pop_edx(unsigned size, unsigned sp_reg, uint32_t extra, bool check_cs_limit) {
    emit2(x86::Inst::kIdMov, x86::ecx, greg(kReg(sp_reg), 4));
    a_.and_(x86::ecx, state(kSpMask, 4));
    emit_access(SS, size, false);
    if (size == 4)
      a_.mov(x86::edx, x86::dword_ptr(x86::r8));
    else
      a_.movzx(x86::edx, x86::word_ptr(x86::r8));
    if (check_cs_limit) {
      a_.cmp(x86::edx, state(kSegLimit(CS), 4));
      a_.ja(bail_label());
    }
    a_.lea(x86::esi, x86::ptr(x86::rcx, static_cast<int32_t>(size + extra)));
    set_sp_from_esi();
  }

  void emit_pop() {
    const Insn& i = *cur_;
    pop_edx(i.opsize, ESP, 0, false);
    emit2(x86::Inst::kIdMov, greg(i.r0, i.opsize),
          gp(x86::Gp::kIdDx, i.opsize));  // after ESP: POP ESP loads the value
  }

  // LEAVE: ESP <- EBP (by the stack size), then pop EBP (by the operand size).
  void emit_leave() {
    const Insn& i = *cur_;
    pop_edx(i.opsize, EBP, 0, false);
    emit2(x86::Inst::kIdMov, greg(kReg(EBP), i.opsize), gp(x86::Gp::kIdDx, i.opsize));
  }

  // eax = the relative branch target (wrapped at the operand size, as the interpreter does).
  void rel_target_to_eax() {
    const Insn& i = *cur_;
    a_.mov(x86::eax, state(kEip, 4));
    a_.add(x86::eax, static_cast<int32_t>(delta_ + i.len));
    if (ip_mask_ != 0xFFFFFFFFu) a_.and_(x86::eax, ip_mask_);  // the next EIP wraps at the IP size
    if (i.imm) a_.add(x86::eax, static_cast<int32_t>(i.imm));
    if (i.opsize == 2) a_.movzx(x86::eax, x86::ax);  // the target at the operand size
  }
  // EIP = eax after the CS limit check (a target past the limit bails: the handler raises #GP).
  void jump_to_eax() {
    a_.cmp(x86::eax, state(kSegLimit(CS), 4));
    a_.ja(bail_label());
    a_.mov(state(kEip, 4), x86::eax);
    exit_to(branch_rel(), cur_->opsize == 4);
  }
  // The relative target's distance from the block's entry EIP (before any IP-size wrap).
  int64_t branch_rel() const {
    return static_cast<int64_t>(off_) + cur_->len + static_cast<int32_t>(cur_->imm);
  }
  void fall_through() {
    a_.add(state(kEip, 4), static_cast<int32_t>(delta_ + cur_->len));
    if (ip_mask_ != 0xFFFFFFFFu) a_.and_(state(kEip, 4), static_cast<int32_t>(ip_mask_));
    exit_to(static_cast<int64_t>(off_) + cur_->len, true);
  }
  void end_block() {
    ended_ = true;
    delta_ = 0;
  }

  // Tests guest EFLAGS for condition cc; returns the host condition that means "true".
  x86::CondCode emit_cond(int cc) {
    if (lazy_.kind != CC_EFLAGS) {  // the host's flags of the lazy writer: the same condition
      recompute_host_flags(lazy_);
      return static_cast<x86::CondCode>(cc);
    }
    if ((kCondNeeds[cc >> 1] & r11_w_) == kCondNeeds[cc >> 1]) {
      a_.mov(x86::eax, x86::r11d);
    } else {
      merge_pending();
      a_.mov(x86::eax, state(kEflags, 4));
    }
    switch (cc >> 1) {
      case 0:
        a_.test(x86::eax, F_OF);
        break;
      case 1:
        a_.test(x86::eax, F_CF);
        break;
      case 2:
        a_.test(x86::eax, F_ZF);
        break;
      case 3:
        a_.test(x86::eax, F_CF | F_ZF);
        break;
      case 4:
        a_.test(x86::eax, F_SF);
        break;
      case 5:
        a_.test(x86::eax, F_PF);
        break;
      case 6:  // SF != OF
        a_.mov(x86::ecx, x86::eax);
        a_.shr(x86::ecx, 4);
        a_.xor_(x86::eax, x86::ecx);
        a_.test(x86::eax, F_SF);
        break;
      default:  // ZF or SF != OF
        a_.mov(x86::ecx, x86::eax);
        a_.shr(x86::ecx, 4);
        a_.xor_(x86::ecx, x86::eax);
        a_.and_(x86::ecx, F_SF);
        a_.and_(x86::eax, F_ZF);
        a_.or_(x86::eax, x86::ecx);
        break;
    }
    return (cc & 1) ? x86::CondCode::kZ : x86::CondCode::kNZ;
  }

  void emit_jcc() {
    const int cc = cond_of(cur_->mnem);
    Label taken = a_.newLabel();
    a_.j(emit_cond(cc), taken);
    fall_through();
    a_.bind(taken);
    rel_target_to_eax();
    jump_to_eax();
    end_block();
  }

  void emit_jmp() {
    rel_target_to_eax();
    jump_to_eax();
    end_block();
  }

  void emit_call() {
    const Insn& i = *cur_;
    const unsigned sz = i.opsize;
    rel_target_to_eax();
    a_.cmp(x86::eax, state(kSegLimit(CS), 4));
    a_.ja(bail_label());
    a_.mov(x86::edx, state(kEip, 4));
    a_.add(x86::edx, static_cast<int32_t>(delta_ + i.len));
    if (ip_mask_ != 0xFFFFFFFFu) a_.and_(x86::edx, ip_mask_);
    push_edx(sz);
    if (sz == 4) ras_push(static_cast<int64_t>(off_) + i.len);  // edx: the return address
    rel_target_to_eax();
    a_.mov(state(kEip, 4), x86::eax);
    exit_to(branch_rel(), sz == 4);
    end_block();
  }

  void emit_ret() {
    const Insn& i = *cur_;
    pop_edx(i.opsize, ESP, kind(i, 0) == JK_IMM ? (i.imm & 0xFFFF) : 0, true);
    a_.mov(state(kEip, 4), x86::edx);
    exit_flags();  // (keeps edx)
    cache_store();
    if (ip_mask_ == 0xFFFFFFFFu) ras_pop();  // edx: the return address
    a_.jmp(imm(jit_.dispatch_addr()));
    end_block();
  }

  // rax = the current TLB's entry for the linear address in `lin` (which becomes its page), or
  // a jump to `miss` when that entry cannot fetch from the page.
  void exec_tlb_entry(const Gp& lin, Label miss) {
    a_.mov(x86::eax, lin.r32());
    a_.shr(x86::eax, PAGE_SHIFT - 5);
    a_.and_(x86::eax, (Mmu::TLB_SIZE - 1) << 5);
    a_.add(x86::rax, x86::qword_ptr(x86::r15));
    a_.and_(lin.r32(), ~PAGE_MASK);
    a_.cmp(lin.r32(), x86::dword_ptr(x86::rax, offsetof(TlbEntry, tag_exec)));
    a_.jne(miss);
  }

  // ---- the return-address stack (jit/jit.h: JitRas) ----
  static constexpr int32_t kRasTop = offsetof(JitRas, top), kRasEntries = offsetof(JitRas, entries);
  static_assert(sizeof(RasEntry) == 32, "RAS entries are indexed by a shift");
  // At a CALL (after its push; edx = the return EIP): a new top entry whose stub (out of line)
  // is a chainable exit to the instruction after the CALL, when that lies in this block's page.
  void ras_push(int64_t ret_rel) {
    JitExit* e = new_exit(ret_rel, false);  // the RET checks the return's page itself
    if (!e) return;
    Label stub = a_.newLabel();
    tails_.push_back([this, stub, e] {
      a_.bind(stub);
      emit_chain_stub(*e);
    });
    a_.mov(x86::rcx, imm(reinterpret_cast<uintptr_t>(&jit_.ras())));
    a_.mov(x86::eax, x86::dword_ptr(x86::rcx, kRasTop));
    a_.inc(x86::eax);
    a_.and_(x86::eax, JitRas::kSize - 1);
    a_.mov(x86::dword_ptr(x86::rcx, kRasTop), x86::eax);
    a_.shl(x86::eax, 5);
    a_.lea(x86::r8, x86::ptr(x86::rcx, x86::rax, 0, kRasEntries));
    a_.mov(x86::esi, x86::edx);
    a_.add(x86::esi, state(kSegBase(CS), 4));
    a_.mov(x86::dword_ptr(x86::r8, offsetof(RasEntry, lin)), x86::esi);
    a_.mov(x86::eax, state(offsetof(CpuState, jit_mode), 4));
    a_.mov(x86::dword_ptr(x86::r8, offsetof(RasEntry, mode)), x86::eax);
    a_.mov(x86::dword_ptr(x86::r8, offsetof(RasEntry, page)), b_.phys >> PAGE_SHIFT);
    a_.lea(x86::rax, x86::ptr(stub));
    a_.mov(x86::qword_ptr(x86::r8, offsetof(RasEntry, stub)), x86::rax);
    a_.mov(x86::rax, imm(reinterpret_cast<uintptr_t>(e)));
    a_.mov(x86::qword_ptr(x86::r8, offsetof(RasEntry, exit)), x86::rax);
  }
  // At a RET (EIP, flags and registers stored; edx = the return EIP): pops the top entry and
  // enters its stub if it predicted this return: the same linear address and mode, and the exec
  // TLB still maps that address to the same physical page (so no flush, remap or privilege
  // change got in between). Otherwise falls through to the dispatcher.
  void ras_pop() {
    Label miss = a_.newLabel();
    a_.mov(x86::rcx, imm(reinterpret_cast<uintptr_t>(&jit_.ras())));
    a_.mov(x86::eax, x86::dword_ptr(x86::rcx, kRasTop));
    a_.lea(x86::esi, x86::ptr(x86::rax, -1));
    a_.and_(x86::esi, JitRas::kSize - 1);
    a_.mov(x86::dword_ptr(x86::rcx, kRasTop), x86::esi);
    a_.shl(x86::eax, 5);
    a_.lea(x86::r8, x86::ptr(x86::rcx, x86::rax, 0, kRasEntries));
    a_.add(x86::edx, state(kSegBase(CS), 4));  // the linear return address
    a_.cmp(x86::edx, x86::dword_ptr(x86::r8, offsetof(RasEntry, lin)));
    a_.jne(miss);
    a_.mov(x86::eax, state(offsetof(CpuState, jit_mode), 4));
    a_.cmp(x86::eax, x86::dword_ptr(x86::r8, offsetof(RasEntry, mode)));
    a_.jne(miss);
    exec_tlb_entry(x86::edx, miss);
    a_.mov(x86::edx, x86::dword_ptr(x86::rax, offsetof(TlbEntry, phys_page)));
    a_.cmp(x86::edx, x86::dword_ptr(x86::r8, offsetof(RasEntry, page)));
    a_.jne(miss);
    a_.inc(x86::qword_ptr(x86::rbp, offsetof(JitStats, ras_hits)));
    a_.jmp(x86::qword_ptr(x86::r8, offsetof(RasEntry, stub)));
    a_.bind(miss);
    a_.inc(x86::qword_ptr(x86::rbp, offsetof(JitStats, ras_misses)));
  }

  void emit_setcc() {
    const Insn& i = *cur_;
    access_operand(0, 1, true);
    const x86::CondCode c = emit_cond(cond_of(i.mnem));
    a_.set(c, x86::dl);
    store_operand(0, x86::Gp::kIdDx, 1);
  }

  void emit_cmov() {
    const Insn& i = *cur_;
    const unsigned sz = i.opsize;
    access_operand(1, sz, false);
    load_operand(1, x86::Gp::kIdDx, sz);
    Label skip = a_.newLabel();
    a_.j(x86::negateCond(emit_cond(cond_of(i.mnem))), skip);
    emit2(x86::Inst::kIdMov, greg(i.r0, sz), gp(x86::Gp::kIdDx, sz));
    a_.bind(skip);
  }

 public:
  bool bad_merge() const { return bad_merge_; }
  // After relocation: the executable addresses of the window access sites.
  void place_sites(CodeHolder& code, uint64_t base, std::vector<HostSite>& out) const {
    auto at = [&](const Label& l) { return static_cast<uintptr_t>(base + code.labelOffsetFromBase(l)); };
    for (const auto& [start, end] : patch_room_)
      if (at(end) - at(start) < 5) throw JitEncodeError("a window access has no room for its patch jump");
    for (const SiteLabels& l : site_labels_) {
      HostSite s{at(l.start), at(l.end), at(l.bail)};
      for (const auto& [patch, target] : l.patches)
        if (s.npatch < HostSite::kMaxPatches) {
          s.patch[s.npatch] = at(patch);
          s.target[s.npatch++] = at(target);
        }
      out.push_back(s);
    }
  }
  // After relocation: the executable addresses of each chainable exit's jmp rel32 and request.
  void place_exits(CodeHolder& code, uint64_t base) {
    for (auto& [e, after_jmp, request, after_imm, after_jne, generic] : exit_labels_) {
      e->jmp_rel32 = static_cast<uintptr_t>(base + code.labelOffsetFromBase(after_jmp) - 4);
      e->unlinked = static_cast<uintptr_t>(base + code.labelOffsetFromBase(request));
      e->generic = static_cast<uintptr_t>(base + code.labelOffsetFromBase(generic));
      if (e->page_imm32) {
        e->page_imm32 = static_cast<uintptr_t>(base + code.labelOffsetFromBase(after_imm) - 4);
        e->miss_rel32 = static_cast<uintptr_t>(base + code.labelOffsetFromBase(after_jne) - 4);
      }
    }
  }

 private:
  // Leaves the block for the instruction at block entry EIP + rel (EIP already stored). Where
  // that target is in this block's page in every context (32-bit code, no wrap, `direct`), the
  // exit can be chained: after the icount budget check and the handler taint (r14), a patchable
  // jmp goes straight to the target's translation (at first: to the request asking the dispatcher
  // to chain it).
  void exit_to(int64_t rel, bool direct) {
    exit_flags();
    cache_store();
    JitExit* e = direct ? new_exit(rel) : nullptr;
    if (e)
      emit_chain_stub(*e);
    else
      a_.jmp(imm(jit_.dispatch_addr()));
  }
  // A chainable exit to block entry EIP + rel (32-bit code): near when that stays in this block's
  // page, else far (when `far_ok`), checked against the exec TLB when taken.
  JitExit* new_exit(int64_t rel, bool far_ok = true) {
    const int64_t off = static_cast<int64_t>(b_.phys & PAGE_MASK) + rel;
    const bool near = off >= 0 && off < PAGE_SIZE;
    if (ip_mask_ != 0xFFFFFFFFu || (!near && !far_ok) || b_.exits.size() >= kMaxExits) return nullptr;
    JitExit& e = b_.exits.emplace_back();
    e.src = &b_;
    e.rel = static_cast<int32_t>(rel);
    e.page_imm32 = near ? 0 : 1;  // placed after relocation
    return &e;
  }
  // The exit's code, run with EIP, flags and registers in CpuState.
  void emit_chain_stub(JitExit& e) {
    Label generic = a_.newLabel(), request = a_.newLabel(), after_jmp = a_.newLabel();
    Label after_imm, after_jne;
    a_.mov(x86::rax, state(kIcount, 8));
    a_.cmp(x86::rax, state(offsetof(CpuState, jit_end), 8));
    a_.jae(generic);
    a_.test(x86::r14d, x86::r14d);
    a_.jnz(generic);
    if (e.page_imm32) {
      // Far: the target's linear page must map, in the exec TLB, to the physical page the chain
      // was made for (an imm32 patched by Jit::link; kUnchainedPage never matches).
      after_imm = a_.newLabel();
      after_jne = a_.newLabel();
      a_.mov(x86::esi, state(kEip, 4));
      a_.add(x86::esi, state(kSegBase(CS), 4));
      exec_tlb_entry(x86::esi, generic);
      static_assert(kUnchainedPage > 0x7F, "an imm32 encoding, patchable");
      a_.cmp(x86::dword_ptr(x86::rax, offsetof(TlbEntry, phys_page)), kUnchainedPage);
      a_.bind(after_imm);
      a_.long_().jne(request);
      a_.bind(after_jne);
    }
    // No TLB check: the page's exec entry was valid when this block was entered (the run loop
    // and the dispatcher fill or check it, a chained exit inherits it), and only C++ (a handler,
    // which sets r14 if it changed that entry: Mmu::generation) changes the TLB.
    a_.long_().jmp(request);
    a_.bind(after_jmp);
    a_.bind(request);
    a_.mov(x86::r10, imm(reinterpret_cast<uintptr_t>(&e)));
    a_.jmp(imm(jit_.dispatch_request_addr()));
    a_.bind(generic);
    a_.jmp(imm(jit_.dispatch_addr()));
    exit_labels_.push_back({&e, after_jmp, request, after_imm, after_jne, generic});
  }

  struct ExitLabels {
    JitExit* exit;
    Label after_jmp, request, after_imm, after_jne, generic;
  };
  std::vector<ExitLabels> exit_labels_;
  int8_t host_of_[8] = {-1, -1, -1, -1, -1, -1, -1, -1};  // guest register -> host register id
  uint8_t cached_ = 0, written_ = 0;                      // masks of guest registers

  Jit& jit_;
  Block& b_;
  x86::Assembler a_;
  uint32_t ip_mask_;
  const Insn* cur_ = nullptr;
  FormInfo fi_;
  bool save_flags_ = false;
  std::vector<LazyPlan> plan_;  // per instruction
  Lazy lazy_;                   // the writer whose flags are unevaluated now
  int orig_slot_ = 0;           // the cc_orig slot of the lazy writer being emitted
  bool dyn_ = true;             // EFLAGS in memory may be stale: the block before may have left cc_op set
  bool bad_merge_ = false;      // a translator bug: some flags merged over unevaluated ones
  uint32_t pend_w_ = 0;         // flags captured in r11 and not yet merged into CpuState::eflags
  bool pend_af0_ = false;
  uint32_t r11_w_ = 0;  // flags whose current values r11 holds
  uint32_t flat_;       // segments still flat here (Block::jit_flat until a handler runs)
  uint32_t delta_ = 0;  // what EIP in CpuState lacks (a handler or a flush stores it)
  uint32_t off_ = 0;    // the current instruction's offset from the block's entry EIP
  bool ended_ = false;
  Label bail_, rejoin_, handler_exit_;
  std::vector<Tail> tails_;
  int32_t host_disp_ = 0;  // -mmu host: the window base's displacement from r15; 0: the TLB
  unsigned tlb_checks_ = 1;  // copies of each inline TLB check (Jit::tlb_checks)
  Label site_start_;       // the current instruction's first window access
  std::vector<std::pair<Label, Label>> site_patches_;  // its patch points and their TLB variants
  std::vector<std::pair<Label, Label>> patch_room_;    // each patch point's instruction (start, end)
  struct SiteLabels {
    Label start, end, bail;
    std::vector<std::pair<Label, Label>> patches;
  };
  std::vector<SiteLabels> site_labels_;
};

}  // namespace

namespace {
// asmjit reports an operand combination it cannot encode here (and emits nothing): collected, so a
// translator bug is a clear error instead of a silently missing instruction.
struct EncodeErrors : ErrorHandler {
  std::string first;
  void handleError(Error, const char* message, BaseEmitter*) override {
    if (first.empty()) first = message ? message : "?";
  }
};
}  // namespace

unsigned translate_block(Jit& jit, Block& b, uint64_t base, std::vector<uint8_t>& out,
                         std::vector<HostSite>& sites) {
  CodeHolder code;
  EncodeErrors errors;
  code.init(Environment::host(), base);
  code.setErrorHandler(&errors);
  b.exits.clear();
  b.exits.reserve(Emitter::kMaxExits);  // generated code points into it: never reallocated
  Emitter e(jit, b, code);
  unsigned native = e.run();
  if (!errors.first.empty()) throw JitEncodeError(errors.first);
  if (e.bad_merge()) throw JitEncodeError("lazy flags: some flags merged over unevaluated ones");
  code.flatten();
  code.resolveUnresolvedLinks();
  code.relocateToBase(base);
  e.place_exits(code, base);
  e.place_sites(code, base, sites);
  out.resize(code.codeSize());
  code.copyFlattenedData(out.data(), out.size(), CopySectionFlags::kPadSectionBuffer);
  return native;
}

}  // namespace vx86
