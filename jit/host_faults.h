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
// in [start, end) goes on at `bail`, its slow path.
struct HostSite {
  uintptr_t start, end, bail;
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
