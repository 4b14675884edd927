// Locked read-modify-writes: LOCK-prefixed ADD..XOR, INC/DEC/NEG/NOT, BTS/BTR/BTC, CMPXCHG, XADD
// and CMPXCHG8B on memory, and XCHG with memory (locked without the prefix).
//
// On one host thread (one CPU, or CPUs time-sliced) an instruction runs uninterrupted, so its read
// and write are atomic already: the handlers run as written. With -smp N,threads=on
// (Cpu::atomic_rmw) another CPU may store to the operand between the two, and a lost update there
// breaks the guest's locks (a spinlock released by a plain MOV while another CPU's XCHG spins on
// it). There the operand is read once from guest RAM and written back with one host
// compare-and-swap against that value; when the CAS fails, the instruction runs again from the
// start with its registers and flags restored. The operand is first read through the normal path,
// so an instruction faults exactly as on one thread.
//
// Operands that are not plain RAM (MMIO, ROM), misaligned or page-crossing, or under a data
// breakpoint take the normal path while holding the device lock: atomic against each other and
// against MMIO, not against a plain store by another CPU (split locks are a bug on hardware too).
#pragma once
#include "emu/interp/common.h"

namespace vx86 {

// The host address of a naturally aligned `size`-byte RAM operand at `lin` that the TLB has no
// writable entry for (a clean page, or a page holding code): nullptr if it is not plain RAM.
uint8_t* locked_host_slow(Cpu& c, uint32_t lin);

template <class T>
inline T plain_read(Cpu& c, unsigned seg, uint32_t off) {
  if constexpr (sizeof(T) == 8)
    return c.read<uint32_t>(seg, off) | (uint64_t{c.read<uint32_t>(seg, off + 4)} << 32);
  else
    return c.read<T>(seg, off);
}

template <class T>
T locked_read(Cpu& c, unsigned seg, uint32_t off) {
  const T plain = plain_read<T>(c, seg, off);  // the read's faults, as on one thread
  if (!c.atomic_rmw) return plain;
  const uint32_t lin = c.s.seg[seg].base + off;
  uint8_t* host = nullptr;
  c.lk.phys = UINT32_MAX;  // a writable TLB entry: no code on that page
  if ((lin & (sizeof(T) - 1)) == 0 &&
      static_cast<int64_t>(off) + static_cast<int64_t>(sizeof(T) - 1) <= c.s.seg_wmax[seg]) {
    host = c.mmu.write_host(lin, sizeof(T));
    if (!host) host = locked_host_slow(c, lin);
  }
  if (!host) {
    if (c.device_lock && !c.lk.holds_lock) {
      c.device_lock->lock();
      c.lk.holds_lock = true;
    }
    return plain_read<T>(c, seg, off);
  }
  c.lk.host = host;
  const T v = __atomic_load_n(reinterpret_cast<T*>(host), __ATOMIC_SEQ_CST);
  c.lk.old = v;
  return v;
}

template <class T>
void locked_write(Cpu& c, unsigned seg, uint32_t off, T v) {
  if (!c.lk.host) {
    if constexpr (sizeof(T) == 8) {
      c.write<uint32_t>(seg, off + 4, static_cast<uint32_t>(v >> 32));
      c.write<uint32_t>(seg, off, static_cast<uint32_t>(v));
    } else {
      c.write<T>(seg, off, v);
    }
    return;
  }
  T expected = static_cast<T>(c.lk.old);
  if (!__atomic_compare_exchange_n(reinterpret_cast<T*>(c.lk.host), &expected, v, false, __ATOMIC_SEQ_CST,
                                   __ATOMIC_SEQ_CST)) {
    c.lk.failed = true;
    return;
  }
  if (c.lk.phys != UINT32_MAX) c.mmu.code_written(c.lk.phys, sizeof(T));
}

// The memory operand of a locked form (Dst of the ALU, RMW and XCHG handlers).
struct OpMLocked {
  template <class T>
  static T get(Cpu& c, const Insn* i, uint32_t a) {
    return locked_read<T>(c, i->seg, a);
  }
  template <class T>
  static void set(Cpu& c, const Insn* i, uint32_t a, T v) {
    locked_write<T>(c, i->seg, a, v);
  }
  static constexpr bool is_mem = true;
};

// Runs a locked form's handler; with atomic_rmw, again until its compare-and-swap succeeds.
template <Handler H>
const Insn* locked(Cpu& c, const Insn* i) {
  if (!c.atomic_rmw) return H(c, i);
  uint32_t regs[9];
  std::memcpy(regs, c.s.regs, sizeof regs);
  const uint32_t eflags = c.s.eflags, eip = c.s.eip;
  struct Release {
    Cpu& c;
    ~Release() {
      if (c.lk.holds_lock) {
        c.lk.holds_lock = false;
        c.device_lock->unlock();
      }
    }
  } release{c};
  for (;;) {
    c.lk.host = nullptr;
    c.lk.failed = false;
    const Insn* next_insn = H(c, i);
    if (!c.lk.failed) {
      c.lk.host = nullptr;
      return next_insn;
    }
    std::memcpy(c.s.regs, regs, sizeof regs);
    c.s.eflags = eflags;
    c.s.eip = eip;
  }
}

}  // namespace vx86
