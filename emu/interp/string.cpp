// String instructions: MOVS CMPS SCAS LODS STOS INS OUTS (byte/word/dword) with REP/REPE/REPNE.
//
// The source is Insn::seg:(E)SI (overridable), the destination always ES:(E)DI. The address size
// (16 or 32) picks SI/DI/CX or ESI/EDI/ECX; 16-bit forms keep the upper halves. Each iteration
// does its memory accesses before it updates the registers, so a fault in the middle of a REP
// leaves a consistent state with EIP still at the instruction, and re-executing it resumes the
// loop. A long REP gives up with EIP unchanged whenever the count reaches a multiple of 65536
// (not the last), so the run loop can service interrupts and then resume it, as hardware does
// between iterations. The stopping points depend on the count alone, so the JIT's native loops
// (which move whole pages) stop at the same ones and -icount runs stay identical.
#include "emu/interp/common.h"
#include "emu/segmentation.h"

#include "devices/port_bus.h"

namespace vx86 {
namespace {

enum StrOp : uint8_t { MOVS, CMPS, SCAS, LODS, STOS, INS, OUTS };

template <class A>
inline A areg(const Cpu& c, unsigned r) { return static_cast<A>(c.s.regs[r]); }

constexpr bool uses_si(StrOp op) { return op == MOVS || op == CMPS || op == LODS || op == OUTS; }
constexpr bool uses_di(StrOp op) { return op != LODS && op != OUTS; }

// One iteration on local copies of (E)SI/(E)DI: every memory or port access comes before the
// index update, so when an access faults the locals still describe the state before it.
// `acc` is AL/AX/EAX for STOS and SCAS.
template <StrOp Op, class T, class A>
inline void once(Cpu& c, const Insn* i, A& si, A& di, A d, T acc) {
  if constexpr (Op == MOVS) {
    T v = c.read<T>(i->seg, si);
    c.write<T>(ES, di, v);
    si = static_cast<A>(si + d);
    di = static_cast<A>(di + d);
  } else if constexpr (Op == CMPS) {
    T a = c.read<T>(i->seg, si);
    T b = c.read<T>(ES, di);
    set_arith(c, sub_flags<T>(a, b, static_cast<T>(a - b)));
    si = static_cast<A>(si + d);
    di = static_cast<A>(di + d);
  } else if constexpr (Op == SCAS) {
    T b = c.read<T>(ES, di);
    set_arith(c, sub_flags<T>(acc, b, static_cast<T>(acc - b)));
    di = static_cast<A>(di + d);
  } else if constexpr (Op == LODS) {
    T v = c.read<T>(i->seg, si);
    set_reg<T>(c, EAX, v);
    si = static_cast<A>(si + d);
  } else if constexpr (Op == STOS) {
    c.write<T>(ES, di, acc);
    di = static_cast<A>(di + d);
  } else if constexpr (Op == INS) {
    T v = static_cast<T>(c.io.read(static_cast<uint16_t>(c.s.regs[EDX]), sizeof(T)));
    c.write<T>(ES, di, v);
    di = static_cast<A>(di + d);
  } else {  // OUTS
    T v = c.read<T>(i->seg, si);
    c.io.write(static_cast<uint16_t>(c.s.regs[EDX]), v, sizeof(T));
    si = static_cast<A>(si + d);
  }
}

template <StrOp Op, class A>
inline void store_index(Cpu& c, A si, A di) {
  if constexpr (uses_si(Op)) set_reg<A>(c, ESI, si);
  if constexpr (uses_di(Op)) set_reg<A>(c, EDI, di);
}

// The loop keeps SI/DI/CX in locals (writing a 16-bit register half and reading the whole
// register back every iteration would stall on store forwarding) and stores them on every exit,
// including a fault.
template <StrOp Op, class T, class A, uint8_t Rep>
const Insn* str(Cpu& c, const Insn* i) {
  const A d = static_cast<A>((c.s.eflags & F_DF) ? -static_cast<int32_t>(sizeof(T)) : static_cast<int32_t>(sizeof(T)));
  const T acc = static_cast<T>(c.s.regs[EAX]);
  if constexpr (Op == INS || Op == OUTS) check_io(c, static_cast<uint16_t>(c.s.regs[EDX]), sizeof(T));
  A si = areg<A>(c, ESI), di = areg<A>(c, EDI);
  if constexpr (Rep == REP_NONE) {
    once<Op, T, A>(c, i, si, di, d, acc);
    store_index<Op, A>(c, si, di);
    return next(c, i);
  } else {
    A cx = areg<A>(c, ECX);
    if (cx == 0) return next(c, i);
    bool done = false;
    try {
      for (;;) {
        once<Op, T, A>(c, i, si, di, d, acc);
        --cx;
        if (cx == 0) {
          done = true;
          break;
        }
        if constexpr (Rep == REP_E && (Op == CMPS || Op == SCAS)) {
          if (!(c.s.eflags & F_ZF)) {
            done = true;
            break;
          }
        }
        if constexpr (Rep == REP_NE) {
          if (c.s.eflags & F_ZF) {
            done = true;
            break;
          }
        }
        if ((cx & (REP_CHUNK - 1)) == 0) break;
      }
    } catch (...) {
      store_index<Op, A>(c, si, di);
      set_reg<A>(c, ECX, cx);
      throw;
    }
    store_index<Op, A>(c, si, di);
    set_reg<A>(c, ECX, cx);
    // Not done: EIP stays at the instruction; the run loop services events and comes back.
    return done ? next(c, i) : nullptr;
  }
}

template <StrOp Op, class T, class A>
Handler pick_rep(uint8_t rep) {
  if constexpr (Op == CMPS || Op == SCAS) {
    if (rep == REP_NE) return &str<Op, T, A, REP_NE>;
  }
  return rep != REP_NONE ? &str<Op, T, A, REP_E> : &str<Op, T, A, REP_NONE>;
}

template <StrOp Op, class T>
Handler pick_addr(const DecodeCtx& x) {
  return x.zi.address_width == 32 ? pick_rep<Op, T, uint32_t>(x.insn.rep) : pick_rep<Op, T, uint16_t>(x.insn.rep);
}

template <StrOp Op>
Handler select_str(DecodeCtx& x) {
  // MOVSD and CMPSD are also SSE2 mnemonics; those forms are not string instructions.
  if (x.zi.meta.category != ZYDIS_CATEGORY_STRINGOP && x.zi.meta.category != ZYDIS_CATEGORY_IOSTRINGOP)
    return nullptr;
  switch (x.zi.operand_width) {
    case 8: return pick_addr<Op, uint8_t>(x);
    case 16: return pick_addr<Op, uint16_t>(x);
    case 32: return pick_addr<Op, uint32_t>(x);
    default: return nullptr;
  }
}

}  // namespace

void register_string(SelectorTable& t) {
  for (auto m : {ZYDIS_MNEMONIC_MOVSB, ZYDIS_MNEMONIC_MOVSW, ZYDIS_MNEMONIC_MOVSD}) t[m] = select_str<MOVS>;
  for (auto m : {ZYDIS_MNEMONIC_CMPSB, ZYDIS_MNEMONIC_CMPSW, ZYDIS_MNEMONIC_CMPSD}) t[m] = select_str<CMPS>;
  for (auto m : {ZYDIS_MNEMONIC_SCASB, ZYDIS_MNEMONIC_SCASW, ZYDIS_MNEMONIC_SCASD}) t[m] = select_str<SCAS>;
  for (auto m : {ZYDIS_MNEMONIC_LODSB, ZYDIS_MNEMONIC_LODSW, ZYDIS_MNEMONIC_LODSD}) t[m] = select_str<LODS>;
  for (auto m : {ZYDIS_MNEMONIC_STOSB, ZYDIS_MNEMONIC_STOSW, ZYDIS_MNEMONIC_STOSD}) t[m] = select_str<STOS>;
  for (auto m : {ZYDIS_MNEMONIC_INSB, ZYDIS_MNEMONIC_INSW, ZYDIS_MNEMONIC_INSD}) t[m] = select_str<INS>;
  for (auto m : {ZYDIS_MNEMONIC_OUTSB, ZYDIS_MNEMONIC_OUTSW, ZYDIS_MNEMONIC_OUTSD}) t[m] = select_str<OUTS>;
}

}  // namespace vx86
