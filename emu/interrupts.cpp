// Interrupt and exception delivery. Real mode: through the IVT at IDTR.base, pushing 16-bit
// FLAGS, CS and IP. Protected mode (and virtual-8086 mode): through the IDT's interrupt, trap and
// task gates, with a stack switch through the TSS on a privilege change (SDM Vol. 3, 6.12).
// Double faults follow the SDM's table 6-5 (benign / contributory / page fault); a fault while
// delivering a double fault shuts the processor down (triple fault).
#include "emu/cpu.h"
#include "emu/disasm.h"
#include "emu/segmentation.h"

namespace vx86 {

namespace {

// Pushes onto a stack segment that is not (yet) SS: checks the limit (#SS(err)) and writes with
// the privilege of the level the stack belongs to.
struct FramePusher {
  Cpu& c;
  const SegReg& ss;
  uint32_t sp;
  uint32_t mask;
  bool supervisor;
  uint32_t err;  // #SS error code

  template <class T>
  void push(T v) {
    sp = (sp - sizeof(T)) & mask;
    if (!seg_range_ok(ss, sp, sizeof(T))) raise_fault(VEC_SS, err);
    if (supervisor) c.mmu.write_system<T>(ss.base + sp, v);
    else c.mmu.write<T>(ss.base + sp, v);
  }
  void push_sized(bool is32, uint32_t v) {
    if (is32) push<uint32_t>(v);
    else push<uint16_t>(static_cast<uint16_t>(v));
  }
};

}  // namespace

void Cpu::deliver(uint8_t vector, bool has_error, uint32_t error, bool software, uint32_t return_eip) {
  if (log_mask & LOG_INT) log_interrupt(*this, vector, has_error, error, software);
  if (pe()) deliver_pm(vector, has_error, error, software, return_eip);
  else deliver_real(vector, return_eip);
  delivered_ = true;
}

void Cpu::deliver_real(uint8_t vector, uint32_t return_eip) {
  uint32_t idx = uint32_t{vector} * 4;
  if (idx + 3 > s.idtr.limit) raise_fault(VEC_GP, idx + 2);
  uint16_t new_ip = mmu.read<uint16_t>(s.idtr.base + idx);
  uint16_t new_cs = mmu.read<uint16_t>(s.idtr.base + idx + 2);
  uint16_t flags = static_cast<uint16_t>(flags_image());
  // Push all three before changing anything, so a stack fault leaves the state as it was.
  uint32_t sp = s.regs[ESP];
  uint32_t old_cs = s.seg[CS].sel;
  try {
    push<uint16_t>(flags);
    push<uint16_t>(static_cast<uint16_t>(old_cs));
    push<uint16_t>(static_cast<uint16_t>(return_eip));
  } catch (...) {
    s.regs[ESP] = sp;
    throw;
  }
  s.eflags &= ~(F_IF | F_TF | F_AC | F_RF);
  load_seg_real(CS, new_cs);
  s.eip = new_ip;
  s.halted = false;
}

void Cpu::deliver_pm(uint8_t vector, bool has_error, uint32_t error, bool software, uint32_t return_eip) {
  const uint32_t ext = software ? 0 : 1;
  const uint32_t idt_err = uint32_t{vector} * 8 + 2 + ext;
  const uint32_t idx = uint32_t{vector} * 8;
  if (idx + 7 > s.idtr.limit) raise_fault(VEC_GP, idt_err);
  Desc gate;
  gate.lo = mmu.read_system<uint32_t>(s.idtr.base + idx);
  gate.hi = mmu.read_system<uint32_t>(s.idtr.base + idx + 4);
  const unsigned type = gate.type();
  const bool valid = !gate.s() && (type == SYS_TASKGATE || type == SYS_INTGATE16 || type == SYS_TRAPGATE16 ||
                                   type == SYS_INTGATE32 || type == SYS_TRAPGATE32);
  if (!valid) raise_fault(VEC_GP, idt_err);
  if (software && gate.dpl() < s.cpl) raise_fault(VEC_GP, idt_err);
  if (!gate.present()) raise_fault(VEC_NP, idt_err);

  struct ExtScope {
    Cpu& c;
    uint32_t saved;
    ~ExtScope() { c.fault_ext = saved; }
  } scope{*this, fault_ext};
  fault_ext = ext;

  if (type == SYS_TASKGATE) {
    const uint16_t tss_sel = gate.gate_sel();
    if (tss_sel & 4) sel_fault(*this, VEC_GP, tss_sel);
    Desc d;
    if (!fetch_desc(*this, tss_sel, d)) sel_fault(*this, VEC_GP, tss_sel);
    if (!d.is_sys(SYS_TSS16_AVAIL) && !d.is_sys(SYS_TSS32_AVAIL)) sel_fault(*this, VEC_GP, tss_sel);
    if (!d.present()) sel_fault(*this, VEC_NP, tss_sel);
    task_switch(*this, tss_sel, d, TaskSwitch::Call, return_eip, has_error, error);
    s.halted = false;
    return;
  }

  const bool gate32 = type & 8;
  const uint16_t cs_sel = gate.gate_sel();
  uint32_t target = gate.gate_offset();
  if (!gate32) target &= 0xFFFF;
  if ((cs_sel & 0xFFFC) == 0) raise_fault(VEC_GP, ext);
  Desc cd;
  if (!fetch_desc(*this, cs_sel, cd)) sel_fault(*this, VEC_GP, cs_sel);
  if (!cd.is_code() || cd.dpl() > s.cpl) sel_fault(*this, VEC_GP, cs_sel);
  if (!cd.present()) sel_fault(*this, VEC_NP, cs_sel);
  if (target > cd.limit()) raise_fault(VEC_GP, ext);

  const bool from_v86 = v86();
  const uint32_t old_flags = flags_image() | (s.eflags & (F_VM | F_RF));
  const uint16_t old_cs = s.seg[CS].sel;
  const uint16_t old_ss = s.seg[SS].sel;
  const uint32_t old_esp = s.regs[ESP];

  if (!cd.conforming() && cd.dpl() < s.cpl) {
    // Inner privilege: a new stack from the TSS.
    const unsigned dpl = cd.dpl();
    if (from_v86 && dpl != 0) sel_fault(*this, VEC_GP, cs_sel);
    uint16_t ss_sel;
    uint32_t esp;
    tss_stack(*this, dpl, ss_sel, esp);
    Desc sd;
    check_new_ss(*this, ss_sel, dpl, sd);
    SegReg nss = seg_from_desc(ss_sel, sd);
    const uint32_t mask = (nss.attr & SEG_ATTR_DB) ? 0xFFFFFFFFu : 0xFFFFu;
    FramePusher f{*this, nss, esp & mask, mask, dpl != 3, sel_error(*this, ss_sel)};
    if (from_v86) {
      f.push_sized(gate32, s.seg[GS].sel);
      f.push_sized(gate32, s.seg[FS].sel);
      f.push_sized(gate32, s.seg[DS].sel);
      f.push_sized(gate32, s.seg[ES].sel);
    }
    f.push_sized(gate32, old_ss);
    f.push_sized(gate32, old_esp);
    f.push_sized(gate32, old_flags);
    f.push_sized(gate32, old_cs);
    f.push_sized(gate32, return_eip);
    if (has_error) f.push_sized(gate32, error);
    // Point of no return: load the new state.
    set_accessed(*this, ss_sel, sd);
    nss = seg_from_desc(ss_sel, sd);
    s.seg[SS] = nss;
    s.regs[ESP] = (mask == 0xFFFFu) ? ((esp & ~0xFFFFu) | f.sp) : f.sp;
    if (from_v86) {
      s.eflags &= ~F_VM;
      for (unsigned k : {ES, DS, FS, GS}) s.seg[k] = SegReg{0, 0, 0, 0};
    }
    commit_cs(*this, cs_sel, cd, dpl);
  } else {
    if (from_v86) sel_fault(*this, VEC_GP, cs_sel);
    // Same privilege (or a conforming segment): push on the current stack.
    FramePusher f{*this, s.seg[SS], s.regs[ESP] & s.sp_mask, s.sp_mask, s.cpl != 3, ext};
    f.push_sized(gate32, old_flags);
    f.push_sized(gate32, old_cs);
    f.push_sized(gate32, return_eip);
    if (has_error) f.push_sized(gate32, error);
    set_sp(f.sp);
    commit_cs(*this, cs_sel, cd, s.cpl);
  }
  s.eip = target;
  s.eflags &= ~(F_TF | F_NT | F_VM | F_RF);
  if (!(type & 1)) s.eflags &= ~F_IF;  // interrupt gate (trap gates leave IF)
  update_mode();
  s.halted = false;
}

void Cpu::software_interrupt(uint8_t vector, uint32_t next_eip) {
  deliver(vector, false, 0, true, next_eip);
}

namespace {
enum class ExcClass { Benign, Contributory, PageFault };
ExcClass exc_class(uint8_t v) {
  switch (v) {
    case VEC_DE: case VEC_TS: case VEC_NP: case VEC_SS: case VEC_GP: return ExcClass::Contributory;
    case VEC_PF: return ExcClass::PageFault;
    default: return ExcClass::Benign;
  }
}
bool has_error_code(uint8_t v) {
  return v == VEC_DF || v == VEC_TS || v == VEC_NP || v == VEC_SS || v == VEC_GP || v == VEC_PF || v == VEC_AC;
}

// Fault-class exceptions: the EFLAGS image they save has RF set (SDM Vol. 3 17.3.1.1), so the
// handler's IRET re-runs the instruction without hitting its instruction breakpoint again. (#DB is
// a fault only for DR7.GD, whose handler sets RF itself; the others are traps or aborts.)
bool fault_class(uint8_t v) {
  switch (v) {
    case VEC_DE:
    case VEC_BR:
    case VEC_UD:
    case VEC_NM:
    case VEC_TS:
    case VEC_NP:
    case VEC_SS:
    case VEC_GP:
    case VEC_PF:
    case VEC_MF:
    case VEC_AC:
      return true;
    default:
      return false;
  }
}
}  // namespace

void Cpu::deliver_exception(const CpuFault& f) {
  if (f.vector == VEC_WATCHPOINT) {  // not the guest's: run() re-runs the instruction and stops
    watch_rerun_ = true;
    return;
  }
  // A watchpoint hit while delivering is noted (the stop comes after the delivery).
  struct Recording {
    Mmu& m;
    bool was;
    ~Recording() { m.watch_recording(was); }
  } recording{mmu, mmu.watch_recording(true)};
  CpuFault cur = f;
  const uint32_t saved_ext = fault_ext;
  for (int guard = 0; guard < 8; ++guard) {
    if (cur.vector == VEC_PF) s.cr[2] = cur.address;
    if (fault_class(cur.vector)) s.eflags |= F_RF;  // delivery clears it again
    if (cur.vector == VEC_DB) s.dr[7] &= ~DR7_GD;   // the handler may use the debug registers
    // Faults are precise and push the faulting EIP; traps (#DB after an instruction) were raised
    // with EIP already at the next instruction.
    try {
      fault_ext = 1;
      deliver(cur.vector, cur.has_error || (pe() && has_error_code(cur.vector)), cur.error, false, s.eip);
      fault_ext = saved_ext;
      return;
    } catch (const CpuFault& g) {
      if (cur.vector == VEC_DF) break;  // a fault while delivering #DF: shutdown
      const ExcClass a = exc_class(cur.vector), b = exc_class(g.vector);
      const bool dbl = (a == ExcClass::Contributory && b == ExcClass::Contributory) ||
                       (a == ExcClass::PageFault && b != ExcClass::Benign);
      cur = dbl ? CpuFault{VEC_DF, true, 0} : g;
    }
  }
  fault_ext = saved_ext;
  if (log_mask & LOG_INT) std::fprintf(log_file, "triple fault: shutdown\n");
  s.shutdown = true;
}

}  // namespace vx86
