// Protected-mode segmentation: descriptors, the one routine every segment-register load goes
// through, far control transfers (JMP/CALL through call gates and TSSs, RET to an outer level),
// IRET, hardware task switches and the I/O permission check. SDM Vol. 3, chapters 3, 5, 6, 7.
//
// Every routine checks everything that can fault before it changes any register, so a fault
// leaves the instruction restartable (except after the point of no return of a task switch, where
// the SDM, too, delivers the fault in the context of the new task).
#pragma once
#include <cstdint>

#include "emu/cpu.h"

namespace vx86 {

// Descriptor access byte bits as kept in SegReg::attr (low byte) and the flags nibble (bits 12-15).
enum : uint16_t {
  ATTR_ACCESSED = 0x01,
  ATTR_RW = 0x02,        // data: writable; code: readable
  ATTR_DC = 0x04,        // data: expand-down; code: conforming
  ATTR_CODE = 0x08,
  ATTR_S = 0x10,         // code/data (not system)
  ATTR_DPL = 0x60,
  ATTR_P = 0x80,
  ATTR_G = 0x8000,
};

// System descriptor types (S = 0).
enum : unsigned {
  SYS_TSS16_AVAIL = 1, SYS_LDT = 2, SYS_TSS16_BUSY = 3, SYS_CALLGATE16 = 4, SYS_TASKGATE = 5,
  SYS_INTGATE16 = 6, SYS_TRAPGATE16 = 7, SYS_TSS32_AVAIL = 9, SYS_TSS32_BUSY = 11,
  SYS_CALLGATE32 = 12, SYS_INTGATE32 = 14, SYS_TRAPGATE32 = 15,
};

struct Desc {
  uint32_t lo = 0, hi = 0;

  uint32_t base() const { return (lo >> 16) | ((hi & 0xFF) << 16) | (hi & 0xFF000000u); }
  uint32_t raw_limit() const { return (lo & 0xFFFF) | (hi & 0x000F0000u); }
  uint32_t limit() const { return (hi & (1u << 23)) ? (raw_limit() << 12) | 0xFFF : raw_limit(); }
  uint16_t attr() const { return static_cast<uint16_t>(((hi >> 8) & 0xFF) | ((hi >> 8) & 0xF000)); }
  unsigned type() const { return (hi >> 8) & 0xF; }
  bool s() const { return hi & 0x1000; }
  unsigned dpl() const { return (hi >> 13) & 3; }
  bool present() const { return hi & 0x8000; }
  bool is_code() const { return s() && (hi & 0x800); }
  bool is_data() const { return s() && !(hi & 0x800); }
  bool conforming() const { return is_code() && (hi & 0x400); }
  bool readable() const { return is_data() || (hi & 0x200); }   // for code: R bit
  bool writable() const { return is_data() && (hi & 0x200); }
  bool is_sys(unsigned t) const { return !s() && type() == t; }
  // Gates.
  uint16_t gate_sel() const { return static_cast<uint16_t>(lo >> 16); }
  uint32_t gate_offset() const { return (lo & 0xFFFF) | (hi & 0xFFFF0000u); }
  unsigned gate_params() const { return hi & 0x1F; }
};

// An error code for a selector fault: the selector's index and TI, plus EXT.
inline uint32_t sel_error(const Cpu& c, uint16_t sel) { return (sel & 0xFFFCu) | c.fault_ext; }
[[noreturn]] inline void sel_fault(const Cpu& c, uint8_t vector, uint16_t sel) {
  raise_fault(vector, sel_error(c, sel));
}

// Linear address of a selector's descriptor; false if it lies beyond the GDT/LDT limit.
bool desc_addr(Cpu& c, uint16_t sel, uint32_t& addr);
// Reads a descriptor; false if the selector is beyond its table's limit.
bool fetch_desc(Cpu& c, uint16_t sel, Desc& d);
// Sets the accessed bit of a code/data descriptor in memory (and in `d`) if it is clear.
void set_accessed(Cpu& c, uint16_t sel, Desc& d);
SegReg seg_from_desc(uint16_t sel, const Desc& d);

// MOV/POP Sreg, LDS/LES/LFS/LGS/LSS: real mode, virtual-8086 mode and protected mode.
// Loading SS also refreshes the stack size; the caller sets the interrupt shadow.
void load_seg(Cpu& c, unsigned seg, uint16_t sel);
// The protected-mode checks of a data/stack segment load. `fault` is VEC_GP for instructions and
// VEC_TS for task switches (not-present is #NP, or #SS for SS, either way).
void load_seg_pm(Cpu& c, unsigned seg, uint16_t sel, uint8_t fault);
// Virtual-8086 style: base = sel << 4, limit 64 KiB, a writable DPL 3 data segment.
void load_seg_v86(Cpu& c, unsigned seg, uint16_t sel);
// Sets CS from a checked descriptor with RPL = cpl; updates CPL and the mode.
void commit_cs(Cpu& c, uint16_t sel, const Desc& d, unsigned cpl);
// Data segments whose DPL is below the new CPL become null on a return to an outer level.
void null_outer_segments(Cpu& c);

// Protected-mode far transfers (the real-mode forms stay in the interpreter).
void far_jmp(Cpu& c, uint16_t sel, uint32_t off, uint32_t next_eip);
void far_call(Cpu& c, uint16_t sel, uint32_t off, unsigned opsize, uint32_t next_eip);
void far_ret(Cpu& c, unsigned opsize, uint16_t imm);
// IRET/IRETD in protected mode and virtual-8086 mode.
void iret_pm(Cpu& c, unsigned opsize, uint32_t next_eip);

// Hardware task switch to the TSS `sel` (descriptor `d`).
enum class TaskSwitch : uint8_t { Jmp, Call, Iret };
void task_switch(Cpu& c, uint16_t sel, Desc d, TaskSwitch kind, uint32_t next_eip, bool has_error = false,
                 uint32_t error = 0);

// SS:ESP for privilege level `dpl` from the current TSS (#TS if the TSS is too short).
void tss_stack(Cpu& c, unsigned dpl, uint16_t& ss, uint32_t& esp);
// Checks a new stack segment selected for a privilege change (#TS / #SS as the SDM says).
void check_new_ss(Cpu& c, uint16_t ss, unsigned dpl, Desc& d);

// IN/OUT/INS/OUTS: #GP(0) unless CPL <= IOPL (not V86) or the TSS I/O bitmap allows the ports.
inline bool io_needs_check(const Cpu& c) {
  return (c.s.cr[0] & 1) && ((c.s.eflags & F_VM) || c.s.cpl > ((c.s.eflags >> 12) & 3));
}
void check_io_bitmap(Cpu& c, uint16_t port, unsigned size);
inline void check_io(Cpu& c, uint16_t port, unsigned size) {
  if (io_needs_check(c)) [[unlikely]] check_io_bitmap(c, port, size);
}

// True if an offset range lies inside a segment (expand-down aware).
bool seg_range_ok(const SegReg& sr, uint32_t off, unsigned size);

}  // namespace vx86
