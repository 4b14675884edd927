// Cpu::save / Cpu::load: one CPU's state in a snapshot section ("CPU ").
// Field by field (not the struct's bytes), so the layout of CpuState can change without breaking
// snapshots, and every value is checked on the way in.
#include "devices/snapshot.h"
#include "emu/cpu.h"

namespace vx86 {

namespace {

void save_seg(SnapshotWriter& w, const SegReg& s) {
  w.u16(s.sel);
  w.u16(s.attr);
  w.u32(s.base);
  w.u32(s.limit);
}

SegReg load_seg(SnapshotReader& r) {
  SegReg s{};
  s.sel = r.u16();
  s.attr = r.u16();
  s.base = r.u32();
  s.limit = r.u32();
  return s;
}

}  // namespace

void Cpu::save(SnapshotWriter& w) const {
  w.begin_section("CPU ", 1);
  for (unsigned i = 0; i < REG_ZERO; ++i) w.u32(s.regs[i]);
  w.u32(s.eip);
  w.u32(s.eflags);
  for (const SegReg& sr : s.seg) save_seg(w, sr);
  for (uint32_t v : s.cr) w.u32(v);
  for (uint32_t v : s.dr) w.u32(v);
  w.u32(s.gdtr.base);
  w.u16(s.gdtr.limit);
  w.u32(s.idtr.base);
  w.u16(s.idtr.limit);
  save_seg(w, s.ldtr);
  save_seg(w, s.tr);
  w.u8(s.cpl);
  w.u8(static_cast<uint8_t>(s.model));
  // x87
  const FpuState& f = s.fpu;
  w.bytes(f.st, sizeof f.st);
  w.u16(f.cw);
  w.u16(f.sw);
  w.u8(f.tags);
  w.u8(f.ferr);
  w.u16(f.fop);
  w.u32(f.fip);
  w.u32(f.fdp);
  w.u16(f.fcs);
  w.u16(f.fds);
  w.u32(f.mxcsr);
  // Run-loop state
  for (bool b : {s.halted, s.shutdown, s.irq_pending, s.int_shadow, s.nmi_pending, s.nmi_blocked, s.wait_sipi,
                 ss_loaded})
    w.boolean(b);
  w.u32(dr6_deferred_);
  w.u64(s.icount);
  w.u64(s.tsc_offset);
  // MSRs
  const MsrState& m = s.msr;
  for (uint64_t v : {m.apic_base, m.efer, m.pat, m.misc_enable, m.mtrr_def_type, m.bios_sign_id}) w.u64(v);
  for (uint64_t v : m.mtrr_var) w.u64(v);
  for (uint64_t v : m.mtrr_fixed) w.u64(v);
  w.u32(m.sysenter_cs);
  w.u32(m.sysenter_esp);
  w.u32(m.sysenter_eip);
  w.end_section();
}

void Cpu::load(SnapshotReader& r) {
  // Parsed into a copy first: a bad snapshot leaves this CPU as it was.
  CpuState n = s;
  r.begin_section("CPU ", 1);
  for (unsigned i = 0; i < REG_ZERO; ++i) n.regs[i] = r.u32();
  n.regs[REG_ZERO] = 0;
  n.eip = r.u32();
  n.eflags = r.u32();
  r.check((n.eflags & F_BIT1) != 0, "EFLAGS bit 1 clear");
  for (SegReg& sr : n.seg) sr = load_seg(r);
  for (uint32_t& v : n.cr) v = r.u32();
  r.check(!(n.cr[0] & 0x80000000u) || (n.cr[0] & 1), "CR0.PG set without CR0.PE");
  for (uint32_t& v : n.dr) v = r.u32();
  n.gdtr.base = r.u32();
  n.gdtr.limit = r.u16();
  n.idtr.base = r.u32();
  n.idtr.limit = r.u16();
  n.ldtr = load_seg(r);
  n.tr = load_seg(r);
  n.cpl = r.u8_max(3, "CPL out of range");
  n.model = static_cast<CpuModel>(r.u8_max(static_cast<uint8_t>(CpuModel::i8086), "CPU model out of range"));
  r.check(n.model == s.model, "snapshot is for another CPU model");
  FpuState& f = n.fpu;
  r.bytes(f.st, sizeof f.st);
  f.cw = r.u16();
  f.sw = r.u16();
  f.tags = r.u8();
  f.ferr = r.u8_max(1, "FERR# state malformed");
  f.fop = r.u16();
  r.check(f.fop < 0x800, "x87 opcode register wider than 11 bits");
  f.fip = r.u32();
  f.fdp = r.u32();
  f.fcs = r.u16();
  f.fds = r.u16();
  f.mxcsr = r.u32();
  bool* flags[] = {&n.halted,      &n.shutdown,    &n.irq_pending, &n.int_shadow,
                   &n.nmi_pending, &n.nmi_blocked, &n.wait_sipi};
  for (bool* b : flags) *b = r.boolean();
  const bool ss = r.boolean();
  const uint32_t dr6_deferred = r.u32();
  r.check((dr6_deferred & ~0xE00Fu) == 0, "deferred debug status malformed");
  n.icount = r.u64();
  n.tsc_offset = r.u64();
  MsrState& m = n.msr;
  for (uint64_t* v : {&m.apic_base, &m.efer, &m.pat, &m.misc_enable, &m.mtrr_def_type, &m.bios_sign_id})
    *v = r.u64();
  for (uint64_t& v : m.mtrr_var) v = r.u64();
  for (uint64_t& v : m.mtrr_fixed) v = r.u64();
  m.sysenter_cs = r.u32();
  m.sysenter_esp = r.u32();
  m.sysenter_eip = r.u32();
  r.end_section();

  // Only a state the run loop can be in between blocks: lazy flags evaluated, no exit pending.
  n.cc_op = 0;
  n.exit_request = false;
  n.jit_end = 0;
  s = n;
  ss_loaded = ss;
  dr6_deferred_ = dr6_deferred;
  dr6_pending_ = 0;
  delivering_fault_ = false;
  fault_ext = 0;
  watch_rerun_ = false;
  update_mode();  // (the MMU's user/supervisor view from CPL, the segments' fast-path bounds)
  update_paging();
  update_debug();
  mmu.flush();
  blocks.flush();
}

}  // namespace vx86
