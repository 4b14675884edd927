// CpuState: the architectural state of one x86 CPU as a plain struct with stable field offsets,
// so the interpreter, a future JIT and the snapshot code can all address it directly.
#pragma once
#include <cstddef>
#include <cstdint>

#include "emu/fpu_state.h"
#include "emu/msr.h"

namespace vx86 {

enum Reg : uint8_t { EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI, REG_ZERO };
enum SegIndex : uint8_t { ES, CS, SS, DS, FS, GS, SEG_COUNT };

// EFLAGS bits.
enum : uint32_t {
  F_CF = 1u << 0,
  F_BIT1 = 1u << 1,  // always 1
  F_PF = 1u << 2,
  F_AF = 1u << 4,
  F_ZF = 1u << 6,
  F_SF = 1u << 7,
  F_TF = 1u << 8,
  F_IF = 1u << 9,
  F_DF = 1u << 10,
  F_OF = 1u << 11,
  F_IOPL = 3u << 12,
  F_NT = 1u << 14,
  F_RF = 1u << 16,
  F_VM = 1u << 17,
  F_AC = 1u << 18,
  F_ID = 1u << 21,
  F_ARITH = F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF,
};

// A segment register with its hidden descriptor cache.
struct SegReg {
  uint16_t sel;
  uint16_t attr;   // descriptor access byte + flags (bit 14 = D/B), as loaded
  uint32_t base;
  uint32_t limit;  // byte-granular effective limit
};

enum : uint16_t { SEG_ATTR_DB = 1u << 14 };

// Debug register bits used outside the breakpoint logic.
enum : uint32_t { DR6_BD = 1u << 13, DR6_BS = 1u << 14, DR6_BT = 1u << 15, DR7_GD = 1u << 13 };

struct TableReg {
  uint32_t base;
  uint16_t limit;
};

// The CPU model decides the few places where 8086-era chips differ from the 386 we emulate.
enum class CpuModel : uint8_t { i386, i8086 };

struct CpuState {
  // Indexed by Reg; 8-bit registers are addressed by byte offset. regs[REG_ZERO] is always 0 and
  // stands for "no base/index" in effective addresses, which keeps address generation branch-free.
  uint32_t regs[9];
  uint32_t eip;
  uint32_t eflags;
  SegReg seg[SEG_COUNT];
  uint32_t cr[5];
  uint32_t dr[8];
  TableReg gdtr, idtr;
  FpuState fpu;
  SegReg ldtr, tr;

  // Derived mode bits, refreshed by Cpu::update_mode() whenever CR0 or a segment changes.
  uint32_t ip_mask;     // 0xFFFF for a 16-bit code segment, else 0xFFFFFFFF
  uint32_t sp_mask;     // 0xFFFF for a 16-bit stack segment, else 0xFFFFFFFF
  uint32_t code32;      // CS.D
  // What translated code may assume (jit/): CS.D in bit 0, and per data segment ES, SS, DS a bit
  // (jit_flat_bit) set while it is flat: base 0, every offset readable and writable without a
  // check (seg_rmax = seg_wmax = 4 GiB - 1). Refreshed with seg_rmax/seg_wmax and code32.
  uint32_t jit_mode;
  uint8_t cpl;          // current privilege level (0 in real mode, 3 in virtual-8086 mode)
  CpuModel model;
  // Per segment, the highest offset of an access's last byte that needs no further check (one
  // compare on the fast path of Cpu::read/write). -1 sends every access to the slow path, which
  // raises the fault or does the full check: null, expand-down, execute-only or read-only
  // segments, and all segments while data breakpoints are armed. Refreshed by
  // Cpu::refresh_seg_bounds / update_mode: call update_mode() after editing `seg` directly.
  int64_t seg_rmax[SEG_COUNT];
  int64_t seg_wmax[SEG_COUNT];

  // Run-loop state.
  bool halted;
  bool shutdown;           // triple fault: the board resets the machine (or exits with -no-reboot)
  bool irq_pending;        // set by the board's interrupt controller (later issues)
  bool int_shadow;         // STI / MOV SS: no interrupt before the next instruction
  bool nmi_pending;        // NMI line edge seen, not yet delivered
  bool nmi_blocked;        // inside an NMI handler: blocked until the next IRET
  bool exit_request;       // stop the run loop at the next block boundary
  bool wait_sipi;     // an application processor after INIT: only a STARTUP IPI wakes it
  uint64_t icount;         // guest instructions retired
  uint64_t jit_end;        // generated code returns to the run loop once icount reaches this
  // Arithmetic flags that translated code left unevaluated (jit/lazy_flags.h): while cc_op is not
  // 0, EFLAGS' six arithmetic flags are those of the operation cc_op on cc_a and cc_b, not the
  // ones in `eflags`. Only generated code leaves cc_op set; every way back to C++ (a handler, the
  // run loop) evaluates them first, so the rest of vx86 always finds cc_op == 0.
  uint32_t cc_op;
  uint32_t cc_a, cc_b;
  uint32_t cc_orig[2];  // the translator's scratch: an operand's value before its instruction,
  uint32_t cc_carry;    // and the CF that an INC or DEC keeps

  // Model-specific registers (emu/msr.h). The TSC reads icount + tsc_offset (WRMSR to
  // IA32_TIME_STAMP_COUNTER sets the offset), so deterministic runs see deterministic TSCs.
  uint64_t tsc_offset;
  MsrState msr;
};

constexpr uint32_t jit_flat_bit(unsigned seg) { return 2u << seg; }
constexpr uint32_t JIT_FLAT_SEGS = jit_flat_bit(ES) | jit_flat_bit(SS) | jit_flat_bit(DS);

static_assert(offsetof(CpuState, regs) == 0, "generated code addresses GPRs at offset 0");

// Byte offset of an 8-bit register (AL,CL,DL,BL,AH,CH,DH,BH) inside CpuState on a little-endian host.
constexpr uint16_t reg8_offset(unsigned r) {
  return static_cast<uint16_t>(r < 4 ? r * 4 : (r - 4) * 4 + 1);
}
constexpr uint16_t reg_offset(unsigned r) { return static_cast<uint16_t>(r * 4); }

}  // namespace vx86
