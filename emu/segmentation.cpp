#include "emu/segmentation.h"

namespace vx86 {

bool seg_range_ok(const SegReg& sr, uint32_t off, unsigned size) {
  const uint64_t last = uint64_t{off} + size - 1;
  if ((sr.attr & (ATTR_CODE | ATTR_DC)) == ATTR_DC) {  // expand-down data
    const uint64_t upper = (sr.attr & SEG_ATTR_DB) ? 0xFFFFFFFFu : 0xFFFFu;
    return off > sr.limit && last <= upper;
  }
  return last <= sr.limit;
}

bool desc_addr(Cpu& c, uint16_t sel, uint32_t& addr) {
  const uint32_t idx = sel & 0xFFF8u;
  if (sel & 4) {
    // LDT: an unusable (null) LDTR makes every LDT selector invalid.
    if ((c.s.ldtr.sel & 0xFFFC) == 0 || idx + 7 > c.s.ldtr.limit) return false;
    addr = c.s.ldtr.base + idx;
  } else {
    if (idx + 7 > c.s.gdtr.limit) return false;
    addr = c.s.gdtr.base + idx;
  }
  return true;
}

bool fetch_desc(Cpu& c, uint16_t sel, Desc& d) {
  uint32_t a;
  if (!desc_addr(c, sel, a)) return false;
  d.lo = c.mmu.read_system<uint32_t>(a);
  d.hi = c.mmu.read_system<uint32_t>(a + 4);
  return true;
}

void set_accessed(Cpu& c, uint16_t sel, Desc& d) {
  if (!d.s() || (d.hi & 0x100)) return;
  d.hi |= 0x100;
  uint32_t a;
  if (desc_addr(c, sel, a)) c.mmu.write_system<uint8_t>(a + 5, static_cast<uint8_t>(d.hi >> 8));
}

SegReg seg_from_desc(uint16_t sel, const Desc& d) { return SegReg{sel, d.attr(), d.base(), d.limit()}; }

void load_seg_v86(Cpu& c, unsigned seg, uint16_t sel) {
  c.s.seg[seg] = SegReg{sel, static_cast<uint16_t>(seg == CS ? 0xFB : 0xF3), uint32_t{sel} << 4, 0xFFFF};
  c.refresh_seg_bounds(seg);
}

void load_seg_pm(Cpu& c, unsigned seg, uint16_t sel, uint8_t fault) {
  const unsigned cpl = c.s.cpl;
  if ((sel & 0xFFFC) == 0) {
    if (seg == SS) raise_fault(fault, c.fault_ext);
    c.s.seg[seg] = SegReg{sel, 0, 0, 0};  // null: usable only for loading, #GP(0) on access
    c.refresh_seg_bounds(seg);
    return;
  }
  Desc d;
  if (!fetch_desc(c, sel, d)) sel_fault(c, fault, sel);
  const unsigned rpl = sel & 3;
  if (seg == SS) {
    if (rpl != cpl || !d.writable() || d.dpl() != cpl) sel_fault(c, fault, sel);
    if (!d.present()) sel_fault(c, VEC_SS, sel);
  } else {
    if (!d.readable()) sel_fault(c, fault, sel);  // system segments and execute-only code
    if (!d.conforming() && (rpl > d.dpl() || cpl > d.dpl())) sel_fault(c, fault, sel);
    if (!d.present()) sel_fault(c, VEC_NP, sel);
  }
  set_accessed(c, sel, d);
  c.s.seg[seg] = seg_from_desc(sel, d);
  if (seg == SS) c.update_mode();
  else c.refresh_seg_bounds(seg);
}

void load_seg(Cpu& c, unsigned seg, uint16_t sel) {
  if (!c.pe()) {
    SegReg& sr = c.s.seg[seg];
    sr.sel = sel;
    sr.base = uint32_t{sel} << 4;
    sr.attr = static_cast<uint16_t>((sr.attr & 0xF000) | 0x93);
    c.refresh_seg_bounds(seg);
    return;
  }
  if (c.v86()) {
    load_seg_v86(c, seg, sel);
    return;
  }
  load_seg_pm(c, seg, sel, VEC_GP);
}

void commit_cs(Cpu& c, uint16_t sel, const Desc& d, unsigned cpl) {
  Desc dd = d;
  set_accessed(c, sel, dd);
  c.s.seg[CS] = seg_from_desc(static_cast<uint16_t>((sel & 0xFFFC) | cpl), dd);
  c.set_cpl(cpl);
  c.update_mode();
}

void null_outer_segments(Cpu& c) {
  for (unsigned k : {ES, DS, FS, GS}) {
    const SegReg& sr = c.s.seg[k];
    if ((sr.sel & 0xFFFC) == 0 || !(sr.attr & ATTR_P)) continue;
    const bool conforming_code = (sr.attr & (ATTR_CODE | ATTR_DC)) == (ATTR_CODE | ATTR_DC);
    const unsigned dpl = (sr.attr >> 5) & 3;
    if (!conforming_code && dpl < c.s.cpl) {
      c.s.seg[k] = SegReg{0, 0, 0, 0};
      c.refresh_seg_bounds(k);
    }
  }
}

void tss_stack(Cpu& c, unsigned dpl, uint16_t& ss, uint32_t& esp) {
  const SegReg& tr = c.s.tr;
  const bool t32 = tr.attr & 8;
  const uint32_t off = t32 ? 4 + dpl * 8 : 2 + dpl * 4;
  if (off + (t32 ? 7 : 3) > tr.limit) sel_fault(c, VEC_TS, tr.sel);
  if (t32) {
    esp = c.mmu.read_system<uint32_t>(tr.base + off);
    ss = c.mmu.read_system<uint16_t>(tr.base + off + 4);
  } else {
    esp = c.mmu.read_system<uint16_t>(tr.base + off);
    ss = c.mmu.read_system<uint16_t>(tr.base + off + 2);
  }
}

void check_new_ss(Cpu& c, uint16_t ss, unsigned dpl, Desc& d) {
  if ((ss & 0xFFFC) == 0) raise_fault(VEC_TS, c.fault_ext);
  if (!fetch_desc(c, ss, d)) sel_fault(c, VEC_TS, ss);
  if ((ss & 3) != dpl || d.dpl() != dpl || !d.writable()) sel_fault(c, VEC_TS, ss);
  if (!d.present()) sel_fault(c, VEC_SS, ss);
}

namespace {

// Checks a code segment selector as a return target (far RET, IRET): RPL >= CPL, and the DPL
// rules for conforming and non-conforming segments.
void check_return_cs(Cpu& c, uint16_t sel, uint32_t eip, Desc& d) {
  if ((sel & 0xFFFC) == 0) raise_fault(VEC_GP, 0);
  if (!fetch_desc(c, sel, d)) sel_fault(c, VEC_GP, sel);
  const unsigned rpl = sel & 3;
  if (!d.is_code() || rpl < c.s.cpl) sel_fault(c, VEC_GP, sel);
  if (d.conforming() ? d.dpl() > rpl : d.dpl() != rpl) sel_fault(c, VEC_GP, sel);
  if (!d.present()) sel_fault(c, VEC_NP, sel);
  if (eip > d.limit()) raise_fault(VEC_GP, 0);
}

// The outer stack of a return to privilege `rpl`.
void check_return_ss(Cpu& c, uint16_t ss, unsigned rpl, Desc& d) {
  if ((ss & 0xFFFC) == 0) raise_fault(VEC_GP, 0);
  if (!fetch_desc(c, ss, d)) sel_fault(c, VEC_GP, ss);
  if ((ss & 3) != rpl || !d.writable() || d.dpl() != rpl) sel_fault(c, VEC_GP, ss);
  if (!d.present()) sel_fault(c, VEC_SS, ss);
}

template <class T>
T stack_read(Cpu& c, uint32_t bytes_above) {
  return c.read<T>(SS, (c.s.regs[ESP] + bytes_above) & c.s.sp_mask);
}
uint32_t stack_read_sized(Cpu& c, bool is32, uint32_t bytes_above) {
  return is32 ? stack_read<uint32_t>(c, bytes_above) : stack_read<uint16_t>(c, bytes_above);
}

void set_esp_for(Cpu& c, const SegReg& ss, uint32_t esp) {
  if (ss.attr & SEG_ATTR_DB) c.s.regs[ESP] = esp;
  else c.s.regs[ESP] = (c.s.regs[ESP] & 0xFFFF0000u) | (esp & 0xFFFF);
}

// Pushes a far return address on the current stack (offsets checked before ESP moves).
void push_return(Cpu& c, bool is32, uint32_t ret) {
  const unsigned sz = is32 ? 4 : 2;
  const uint32_t p1 = (c.s.regs[ESP] - sz) & c.s.sp_mask;
  const uint32_t p2 = (c.s.regs[ESP] - 2 * sz) & c.s.sp_mask;
  if (is32) {
    c.write<uint32_t>(SS, p1, (c.read<uint32_t>(SS, p1) & 0xFFFF0000u) | c.s.seg[CS].sel);
    c.write<uint32_t>(SS, p2, ret);
  } else {
    c.write<uint16_t>(SS, p1, c.s.seg[CS].sel);
    c.write<uint16_t>(SS, p2, static_cast<uint16_t>(ret));
  }
  c.set_sp(p2);
}

// A direct far JMP/CALL to a code segment: the privilege rules for the same level.
void check_direct_cs(Cpu& c, uint16_t sel, const Desc& d) {
  const unsigned rpl = sel & 3;
  if (d.conforming()) {
    if (d.dpl() > c.s.cpl) sel_fault(c, VEC_GP, sel);
  } else if (rpl > c.s.cpl || d.dpl() != c.s.cpl) {
    sel_fault(c, VEC_GP, sel);
  }
  if (!d.present()) sel_fault(c, VEC_NP, sel);
}

// The TSS of a task gate or a direct JMP/CALL to a TSS descriptor.
void gate_to_task(Cpu& c, uint16_t tss_sel, TaskSwitch kind, uint32_t next_eip) {
  if (tss_sel & 4) sel_fault(c, VEC_GP, tss_sel);
  Desc d;
  if (!fetch_desc(c, tss_sel, d)) sel_fault(c, VEC_GP, tss_sel);
  if (!d.is_sys(SYS_TSS16_AVAIL) && !d.is_sys(SYS_TSS32_AVAIL)) sel_fault(c, VEC_GP, tss_sel);
  if (!d.present()) sel_fault(c, VEC_NP, tss_sel);
  task_switch(c, tss_sel, d, kind, next_eip);
}

// Common part of far JMP and CALL: the checks for gates and TSSs. Returns true if it handled the
// transfer (task switch); otherwise fills the code segment target.
struct FarTarget {
  uint16_t cs_sel;
  Desc cs;
  uint32_t eip;
  bool via_gate = false;
  bool gate32 = false;
  unsigned params = 0;
};

bool far_target(Cpu& c, uint16_t sel, uint32_t off, TaskSwitch kind, uint32_t next_eip, FarTarget& t) {
  if ((sel & 0xFFFC) == 0) raise_fault(VEC_GP, 0);
  Desc d;
  if (!fetch_desc(c, sel, d)) sel_fault(c, VEC_GP, sel);
  const unsigned cpl = c.s.cpl, rpl = sel & 3;
  if (d.is_code()) {
    check_direct_cs(c, sel, d);
    if (off > d.limit()) raise_fault(VEC_GP, 0);
    t.cs_sel = sel;
    t.cs = d;
    t.eip = off;
    return false;
  }
  if (d.s()) sel_fault(c, VEC_GP, sel);
  switch (d.type()) {
    case SYS_TSS16_AVAIL:
    case SYS_TSS32_AVAIL:
      if (d.dpl() < cpl || d.dpl() < rpl) sel_fault(c, VEC_GP, sel);
      if (!d.present()) sel_fault(c, VEC_NP, sel);
      task_switch(c, sel, d, kind, next_eip);
      return true;
    case SYS_TASKGATE:
      if (d.dpl() < cpl || d.dpl() < rpl) sel_fault(c, VEC_GP, sel);
      if (!d.present()) sel_fault(c, VEC_NP, sel);
      gate_to_task(c, d.gate_sel(), kind, next_eip);
      return true;
    case SYS_CALLGATE16:
    case SYS_CALLGATE32: {
      if (d.dpl() < cpl || d.dpl() < rpl) sel_fault(c, VEC_GP, sel);
      if (!d.present()) sel_fault(c, VEC_NP, sel);
      const uint16_t cs_sel = d.gate_sel();
      if ((cs_sel & 0xFFFC) == 0) raise_fault(VEC_GP, 0);
      Desc cd;
      if (!fetch_desc(c, cs_sel, cd)) sel_fault(c, VEC_GP, cs_sel);
      if (!cd.is_code() || cd.dpl() > cpl) sel_fault(c, VEC_GP, cs_sel);
      if (kind == TaskSwitch::Jmp && !cd.conforming() && cd.dpl() != cpl) sel_fault(c, VEC_GP, cs_sel);
      if (!cd.present()) sel_fault(c, VEC_NP, cs_sel);
      t.gate32 = d.type() == SYS_CALLGATE32;
      t.eip = t.gate32 ? d.gate_offset() : (d.gate_offset() & 0xFFFF);
      if (t.eip > cd.limit()) raise_fault(VEC_GP, 0);
      t.cs_sel = cs_sel;
      t.cs = cd;
      t.via_gate = true;
      t.params = d.gate_params();
      return false;
    }
    default: sel_fault(c, VEC_GP, sel);
  }
}

}  // namespace

void far_jmp(Cpu& c, uint16_t sel, uint32_t off, uint32_t next_eip) {
  FarTarget t;
  if (far_target(c, sel, off, TaskSwitch::Jmp, next_eip, t)) return;
  commit_cs(c, t.cs_sel, t.cs, c.s.cpl);
  c.s.eip = t.eip;
}

void far_call(Cpu& c, uint16_t sel, uint32_t off, unsigned opsize, uint32_t next_eip) {
  FarTarget t;
  if (far_target(c, sel, off, TaskSwitch::Call, next_eip, t)) return;
  const unsigned cpl = c.s.cpl;
  if (!t.via_gate || t.cs.conforming() || t.cs.dpl() == cpl) {
    // Same privilege: the gate's size (or the operand size) decides the pushes.
    push_return(c, t.via_gate ? t.gate32 : opsize == 4, next_eip);
    commit_cs(c, t.cs_sel, t.cs, cpl);
    c.s.eip = t.eip;
    return;
  }
  // More privilege through a call gate: new stack from the TSS, parameters copied.
  const unsigned dpl = t.cs.dpl();
  uint16_t ss_sel;
  uint32_t esp;
  tss_stack(c, dpl, ss_sel, esp);
  Desc sd;
  check_new_ss(c, ss_sel, dpl, sd);
  SegReg nss = seg_from_desc(ss_sel, sd);
  const uint32_t mask = (nss.attr & SEG_ATTR_DB) ? 0xFFFFFFFFu : 0xFFFFu;
  const unsigned sz = t.gate32 ? 4 : 2;
  const uint32_t frame = (4 + t.params) * sz;
  uint32_t sp = esp & mask;
  // The whole frame must fit in the new stack: #SS(new SS) otherwise.
  if (!seg_range_ok(nss, (sp - frame) & mask, frame)) sel_fault(c, VEC_SS, ss_sel);
  // Read the parameters from the old stack first (they may fault with #SS(0) / #PF).
  uint32_t params[32];
  for (unsigned k = 0; k < t.params; ++k) params[k] = stack_read_sized(c, t.gate32, k * sz);
  auto put = [&](uint32_t v) {
    sp = (sp - sz) & mask;
    if (t.gate32) c.mmu.write_system<uint32_t>(nss.base + sp, v);
    else c.mmu.write_system<uint16_t>(nss.base + sp, static_cast<uint16_t>(v));
  };
  put(c.s.seg[SS].sel);
  put(c.s.regs[ESP]);
  for (unsigned k = t.params; k-- > 0;) put(params[k]);
  put(c.s.seg[CS].sel);
  put(next_eip);
  set_accessed(c, ss_sel, sd);
  c.s.seg[SS] = seg_from_desc(ss_sel, sd);
  set_esp_for(c, c.s.seg[SS], (esp & ~mask) | sp);
  commit_cs(c, t.cs_sel, t.cs, dpl);
  c.s.eip = t.eip;
}

void far_ret(Cpu& c, unsigned opsize, uint16_t imm) {
  const bool is32 = opsize == 4;
  const unsigned sz = is32 ? 4 : 2;
  const uint32_t eip = stack_read_sized(c, is32, 0);
  const uint16_t cs_sel = static_cast<uint16_t>(stack_read_sized(c, is32, sz));
  Desc cd;
  check_return_cs(c, cs_sel, eip, cd);
  const unsigned rpl = cs_sel & 3;
  if (rpl == c.s.cpl) {
    c.set_sp((c.s.regs[ESP] & c.s.sp_mask) + 2 * sz + imm);
    commit_cs(c, cs_sel, cd, rpl);
    c.s.eip = eip;
    return;
  }
  // Return to an outer level: SS:ESP follow the parameters.
  const uint32_t new_esp = stack_read_sized(c, is32, 2 * sz + imm);
  const uint16_t ss_sel = static_cast<uint16_t>(stack_read_sized(c, is32, 3 * sz + imm));
  Desc sd;
  check_return_ss(c, ss_sel, rpl, sd);
  set_accessed(c, ss_sel, sd);
  c.s.seg[SS] = seg_from_desc(ss_sel, sd);
  set_esp_for(c, c.s.seg[SS], new_esp + imm);
  commit_cs(c, cs_sel, cd, rpl);
  c.s.eip = eip;
  null_outer_segments(c);
}

void iret_pm(Cpu& c, unsigned opsize, uint32_t next_eip) {
  const bool is32 = opsize == 4;
  const unsigned sz = is32 ? 4 : 2;
  c.nmi_iret();
  if (c.v86()) {
    // Virtual-8086 mode: only with IOPL 3, as in real mode; IOPL and VM stay.
    if (c.iopl() != 3) raise_fault(VEC_GP, 0);
    const uint32_t eip = stack_read_sized(c, is32, 0);
    const uint16_t cs = static_cast<uint16_t>(stack_read_sized(c, is32, sz));
    const uint32_t fl = stack_read_sized(c, is32, 2 * sz);
    if (eip > c.s.seg[CS].limit) raise_fault(VEC_GP, 0);
    c.set_sp((c.s.regs[ESP] & c.s.sp_mask) + 3 * sz);
    load_seg_v86(c, CS, cs);
    const uint32_t mask = is32 ? (0x257FD5u & ~F_IOPL) : (0x7FD5u & ~F_IOPL);
    c.s.eflags = ((c.s.eflags & ~mask) | (fl & mask) | F_BIT1) & ~0x8028u;
    c.s.eip = eip;
    return;
  }
  if (c.s.eflags & F_NT) {
    // Task return: back to the task in the back link of the current TSS.
    const uint16_t link = c.mmu.read_system<uint16_t>(c.s.tr.base);
    if (link & 4) sel_fault(c, VEC_TS, link);
    Desc d;
    if (!fetch_desc(c, link, d)) sel_fault(c, VEC_TS, link);
    if (!d.is_sys(SYS_TSS16_BUSY) && !d.is_sys(SYS_TSS32_BUSY)) sel_fault(c, VEC_TS, link);
    if (!d.present()) sel_fault(c, VEC_NP, link);
    task_switch(c, link, d, TaskSwitch::Iret, next_eip);
    return;
  }
  const uint32_t eip = stack_read_sized(c, is32, 0);
  const uint16_t cs_sel = static_cast<uint16_t>(stack_read_sized(c, is32, sz));
  const uint32_t fl = stack_read_sized(c, is32, 2 * sz);
  const unsigned cpl = c.s.cpl;

  if (is32 && (fl & F_VM) && cpl == 0) {
    // Return to virtual-8086 mode: pops ESP, SS, ES, DS, FS, GS (32 bits each).
    const uint32_t esp = stack_read<uint32_t>(c, 12);
    const uint16_t ss = stack_read<uint16_t>(c, 16);
    const uint16_t es = stack_read<uint16_t>(c, 20);
    const uint16_t ds = stack_read<uint16_t>(c, 24);
    const uint16_t fs = stack_read<uint16_t>(c, 28);
    const uint16_t gs = stack_read<uint16_t>(c, 32);
    c.s.eflags = ((fl & 0x277FD5u) | F_BIT1) & ~0x8028u;
    load_seg_v86(c, CS, cs_sel);
    load_seg_v86(c, SS, ss);
    load_seg_v86(c, ES, es);
    load_seg_v86(c, DS, ds);
    load_seg_v86(c, FS, fs);
    load_seg_v86(c, GS, gs);
    c.s.regs[ESP] = esp;
    c.s.eip = eip & 0xFFFF;
    c.update_mode();  // CPL 3
    return;
  }

  Desc cd;
  check_return_cs(c, cs_sel, eip, cd);
  const unsigned rpl = cs_sel & 3;
  // EFLAGS: IOPL only at CPL 0, IF only at CPL <= IOPL; VM stays (checked above).
  uint32_t mask = is32 ? (F_ARITH | F_TF | F_DF | F_NT | F_RF | F_AC | F_ID | (1u << 19) | (1u << 20))
                       : (F_ARITH | F_TF | F_DF | F_NT);
  if (cpl == 0) mask |= F_IOPL;
  if (cpl <= c.iopl()) mask |= F_IF;
  if (!is32) mask &= 0xFFFF;
  if (rpl == cpl) {
    c.set_sp((c.s.regs[ESP] & c.s.sp_mask) + 3 * sz);
    commit_cs(c, cs_sel, cd, rpl);
  } else {
    const uint32_t new_esp = stack_read_sized(c, is32, 3 * sz);
    const uint16_t ss_sel = static_cast<uint16_t>(stack_read_sized(c, is32, 4 * sz));
    Desc sd;
    check_return_ss(c, ss_sel, rpl, sd);
    set_accessed(c, ss_sel, sd);
    c.s.seg[SS] = seg_from_desc(ss_sel, sd);
    set_esp_for(c, c.s.seg[SS], new_esp);
    commit_cs(c, cs_sel, cd, rpl);
  }
  c.s.eflags = ((c.s.eflags & ~mask) | (fl & mask) | F_BIT1) & ~0x8028u;
  c.s.eip = eip;
  if (rpl != cpl) null_outer_segments(c);
}

// ---- hardware task switch (SDM Vol. 3, 7.3) ----

namespace {

constexpr uint32_t busy_bit = 0x200;  // in the descriptor's high dword (type bit 1)

void set_busy(Cpu& c, uint16_t sel, bool busy) {
  uint32_t a;
  if (!desc_addr(c, sel, a)) return;
  uint32_t hi = c.mmu.read_system<uint32_t>(a + 4);
  hi = busy ? (hi | busy_bit) : (hi & ~busy_bit);
  c.mmu.write_system<uint32_t>(a + 4, hi);
}

}  // namespace

void task_switch(Cpu& c, uint16_t sel, Desc d, TaskSwitch kind, uint32_t next_eip, bool has_error, uint32_t error) {
  const bool new32 = d.type() & 8;
  const uint32_t nbase = d.base();
  if (d.limit() < (new32 ? 0x67u : 0x2Bu)) sel_fault(c, VEC_TS, sel);
  const SegReg old_tr = c.s.tr;
  const bool old32 = old_tr.attr & 8;
  // Read the whole new state first (page faults here leave the old task untouched).
  uint32_t n_eip, n_flags, n_cr3 = c.s.cr[3], n_regs[8];
  uint16_t n_seg[SEG_COUNT], n_ldt;
  bool debug_trap = false;
  auto r16 = [&](uint32_t off) { return c.mmu.read_system<uint16_t>(nbase + off); };
  auto r32 = [&](uint32_t off) { return c.mmu.read_system<uint32_t>(nbase + off); };
  if (new32) {
    n_cr3 = r32(0x1C);
    n_eip = r32(0x20);
    n_flags = r32(0x24);
    for (unsigned k = 0; k < 8; ++k) n_regs[k] = r32(0x28 + 4 * k);
    for (unsigned k = 0; k < SEG_COUNT; ++k) n_seg[k] = r16(0x48 + 4 * k);
    n_ldt = r16(0x60);
    debug_trap = r16(0x64) & 1;  // the T bit: a #DB trap (DR6.BT) before the task's first instruction
  } else {
    // A 16-bit (286) TSS: IP and FLAGS zero-extended; the general registers' upper halves read
    // FFFFh afterwards on 386-class processors (as Bochs models it), whatever they held.
    n_eip = r16(0x0E);
    n_flags = r16(0x10);
    for (unsigned k = 0; k < 8; ++k) n_regs[k] = 0xFFFF0000u | r16(0x12 + 2 * k);
    for (unsigned k = 0; k < 4; ++k) n_seg[k] = r16(0x22 + 2 * k);  // ES CS SS DS
    n_seg[FS] = n_seg[GS] = 0;
    n_ldt = r16(0x2A);
  }
  // The old TSS must be writable: probe it before changing anything.
  const uint32_t obase = old_tr.base;
  uint32_t old_flags = c.flags_image() | (c.s.eflags & (F_VM | F_RF));
  if (kind == TaskSwitch::Iret) old_flags &= ~F_NT;
  if (old32) {
    c.mmu.write_system<uint32_t>(obase + 0x20, next_eip);
    c.mmu.write_system<uint32_t>(obase + 0x24, old_flags);
    for (unsigned k = 0; k < 8; ++k) c.mmu.write_system<uint32_t>(obase + 0x28 + 4 * k, c.s.regs[k]);
    for (unsigned k = 0; k < SEG_COUNT; ++k) c.mmu.write_system<uint16_t>(obase + 0x48 + 4 * k, c.s.seg[k].sel);
  } else {
    c.mmu.write_system<uint16_t>(obase + 0x0E, static_cast<uint16_t>(next_eip));
    c.mmu.write_system<uint16_t>(obase + 0x10, static_cast<uint16_t>(old_flags));
    for (unsigned k = 0; k < 8; ++k) c.mmu.write_system<uint16_t>(obase + 0x12 + 2 * k, static_cast<uint16_t>(c.s.regs[k]));
    for (unsigned k = 0; k < 4; ++k) c.mmu.write_system<uint16_t>(obase + 0x22 + 2 * k, c.s.seg[k].sel);
  }
  if (kind == TaskSwitch::Jmp || kind == TaskSwitch::Iret) set_busy(c, old_tr.sel, false);
  if (kind == TaskSwitch::Call) {
    c.mmu.write_system<uint16_t>(nbase, old_tr.sel);  // back link
    n_flags |= F_NT;
  }
  if (kind != TaskSwitch::Iret) {
    set_busy(c, sel, true);
    d.hi |= busy_bit;
  }
  // Commit: the new task's state. Faults from here on belong to the new task.
  c.s.tr = SegReg{sel, d.attr(), d.base(), d.limit()};
  c.s.cr[0] |= 8;  // TS
  c.s.eip = n_eip;
  for (unsigned k = 0; k < 8; ++k) c.s.regs[k] = n_regs[k];
  c.s.eflags = (n_flags | F_BIT1) & ~0x8028u;
  if (new32 && (c.s.cr[0] & 0x80000000u)) {  // CR3 is loaded only with paging on
    c.s.cr[3] = n_cr3;
    c.mmu.set_cr3(n_cr3);
  }
  // Selectors first (as the SDM says, without descriptors), then the checked loads.
  for (unsigned k = 0; k < SEG_COUNT; ++k) c.s.seg[k].sel = n_seg[k];
  c.s.ldtr.sel = n_ldt;
  const bool vm = c.s.eflags & F_VM;
  if (vm) {
    for (unsigned k = 0; k < SEG_COUNT; ++k) load_seg_v86(c, k, n_seg[k]);
    c.s.ldtr = SegReg{n_ldt, 0, 0, 0};
    c.update_mode();
  } else {
    c.set_cpl(n_seg[CS] & 3);
    c.update_mode();
    // LDT
    if ((n_ldt & 0xFFFC) == 0) {
      c.s.ldtr = SegReg{n_ldt, 0, 0, 0};
    } else {
      Desc ld;
      if ((n_ldt & 4) || !fetch_desc(c, n_ldt, ld) || !ld.is_sys(SYS_LDT)) sel_fault(c, VEC_TS, n_ldt);
      if (!ld.present()) sel_fault(c, VEC_TS, n_ldt);
      c.s.ldtr = SegReg{n_ldt, ld.attr(), ld.base(), ld.limit()};
    }
    // CS
    const uint16_t cs = n_seg[CS];
    Desc cd;
    if ((cs & 0xFFFC) == 0 || !fetch_desc(c, cs, cd) || !cd.is_code()) sel_fault(c, VEC_TS, cs);
    if (cd.conforming() ? cd.dpl() > (cs & 3u) : cd.dpl() != (cs & 3u)) sel_fault(c, VEC_TS, cs);
    if (!cd.present()) sel_fault(c, VEC_NP, cs);
    load_seg_pm(c, SS, n_seg[SS], VEC_TS);
    commit_cs(c, cs, cd, cs & 3);
    for (unsigned k : {ES, DS, FS, GS}) load_seg_pm(c, k, n_seg[k], VEC_TS);
  }
  if (has_error) {
    const bool is32 = new32;
    const unsigned sz = is32 ? 4 : 2;
    const uint32_t sp = (c.s.regs[ESP] - sz) & c.s.sp_mask;
    if (is32) c.write<uint32_t>(SS, sp, error);
    else c.write<uint16_t>(SS, sp, static_cast<uint16_t>(error));
    c.set_sp(sp);
  }
  if (debug_trap) {
    c.s.dr[6] = (c.s.dr[6] & ~0xFu) | DR6_BT | 0xFFFF0FF0u;
    raise_fault(VEC_DB);
  }
  if (c.s.eip > c.s.seg[CS].limit) raise_fault(VEC_GP, 0);
}

void check_io_bitmap(Cpu& c, uint16_t port, unsigned size) {
  const SegReg& tr = c.s.tr;
  // Only a 32-bit TSS has an I/O bitmap.
  if ((tr.attr & 0xF) != SYS_TSS32_BUSY || tr.limit < 0x67) raise_fault(VEC_GP, 0);
  const uint32_t map = c.mmu.read_system<uint16_t>(tr.base + 0x66);
  const uint32_t byte = map + port / 8;
  if (byte + 1 > tr.limit) raise_fault(VEC_GP, 0);
  const uint32_t bits = c.mmu.read_system<uint16_t>(tr.base + byte) >> (port & 7);
  if (bits & ((1u << size) - 1)) raise_fault(VEC_GP, 0);
}

}  // namespace vx86
