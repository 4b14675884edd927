#include "emu/interp/locked_rmw.h"

namespace vx86 {

uint8_t* locked_host_slow(Cpu& c, uint32_t lin) {
  if (c.mmu.has_watchpoints()) return nullptr;                // (their accesses go through the normal path)
  const uint32_t phys = c.mmu.translate(lin, Access::Write);  // sets D, faults as the write would
  PhysicalMemory& m = c.mmu.memory();
  if (!m.page_writable(phys)) return nullptr;
  c.lk.phys = phys;  // the page may hold code: the write is reported (Mmu::code_written)
  return m.host_page(phys) + (phys & PAGE_MASK);
}

}  // namespace vx86
