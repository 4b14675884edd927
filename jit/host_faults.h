// The SIGSEGV handler of -mmu host. Translated code reaches guest RAM through a host window
// (mmu/host_windows.h) with no check; a page the window does not map (yet) faults. The handler
// looks the faulting instruction up among the current thread's translated memory accesses: if it
// is one, the MMU maps the page when the guest's tables allow the access (the access then runs
// again), else execution goes on at the guest instruction's slow path, its interpreter handler,
// which does exactly what it does under the TLB (MMIO, A/D bits, #PF, code pages). Any other
// fault goes to the handler installed before (a sanitizer's, or the default: a crash).
#pragma once
#include <cstdint>

namespace vx86 {

class Jit;
class Mmu;

// One translated guest instruction's window accesses: a fault with the host's instruction pointer
// in [start, end) goes on at `bail`, its slow path. Each access starts with the window base's load
// (7 bytes) at `patch[k]`; after kSlowLimit slow paths its first 5 bytes become a jump to
// `target[k]`, the same access through the TLB's inline check, so an access that keeps needing the
// slow path (a store to page tables or code, MMIO) costs what it costs under -mmu tlb instead of a
// signal each time.
struct HostSite {
  static constexpr unsigned kMaxPatches = 3, kSlowLimit = 8, kMapLimit = 16;
  uintptr_t start, end, bail;
  uint32_t slow = 0, maps = 0, npatch = 0;
  uintptr_t patch[kMaxPatches] = {}, target[kMaxPatches] = {};
};

// Marks the current thread as running `jit`'s translated code for `mmu` (nests).
class HostFaultScope {
 public:
  HostFaultScope(Jit& jit, Mmu& mmu);
  ~HostFaultScope();
  HostFaultScope(const HostFaultScope&) = delete;
  HostFaultScope& operator=(const HostFaultScope&) = delete;

  Jit& jit;
  Mmu& mmu;

 private:
  HostFaultScope* prev_;
};

// Installs the handler (once per process; later calls do nothing).
void install_host_fault_handler();

}  // namespace vx86
