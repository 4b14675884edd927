// Interrupt and exception delivery. Real mode: through the IVT at IDTR.base, pushing 16-bit
// FLAGS, CS and IP. Protected-mode gates come with the protected-mode issue.
#include "emu/cpu.h"
#include "emu/disasm.h"

namespace vx86 {

void Cpu::deliver(uint8_t vector, bool has_error, uint32_t error, bool software, uint32_t return_eip) {
  if (log_mask & LOG_INT) log_interrupt(*this, vector, has_error, error, software);
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

void Cpu::software_interrupt(uint8_t vector, uint32_t next_eip) {
  deliver(vector, false, 0, true, next_eip);
}

void Cpu::deliver_exception(const CpuFault& f) {
  if (f.vector == VEC_PF) s.cr[2] = f.address;
  // 8086: a divide error pushes the address of the next instruction (handled by the DIV handler
  // through software_interrupt); every other fault here is precise and pushes the faulting EIP.
  try {
    deliver(f.vector, f.has_error, f.error, false, s.eip);
  } catch (const CpuFault&) {
    // A fault while delivering a fault: double fault; one more is a triple fault (shutdown).
    if (f.vector != VEC_DF) {
      try {
        deliver(VEC_DF, true, 0, false, s.eip);
        return;
      } catch (const CpuFault&) {
      }
    }
    if (log_mask & LOG_INT) std::fprintf(log_file, "triple fault: shutdown\n");
    s.shutdown = true;
  }
}

}  // namespace vx86
