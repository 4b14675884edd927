#include "jit/host_faults.h"

#include <signal.h>
#include <ucontext.h>

#include <mutex>

#include "jit/jit.h"
#include "mmu/mmu.h"

namespace vx86 {

namespace {

thread_local HostFaultScope* t_scope = nullptr;
struct sigaction g_previous;

// Hands a fault that is not ours to the handler before us; the default action re-faults at once
// and ends the process as it would have.
void pass_on(int sig, siginfo_t* info, void* ctx) {
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction) return g_previous.sa_sigaction(sig, info, ctx);
  } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    return g_previous.sa_handler(sig);
  }
  signal(sig, SIG_DFL);
}

void on_segv(int sig, siginfo_t* info, void* ctx) {
  auto* uc = static_cast<ucontext_t*>(ctx);
  HostFaultScope* s = t_scope;
  if (s) {
    const uintptr_t base = reinterpret_cast<uintptr_t>(s->mmu.host_base());
    const uintptr_t addr = reinterpret_cast<uintptr_t>(info->si_addr);
    const uintptr_t rip = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
    if (base && addr - base < HostWindows::kSpan + HostWindows::kGuard) {
      if (HostSite* site = s->jit.host_site(rip)) {
        const bool write = uc->uc_mcontext.gregs[REG_ERR] & 2;  // the page-fault error code's W/R
        if (!s->mmu.host_map(addr - base, write)) {
          uc->uc_mcontext.gregs[REG_RIP] = static_cast<greg_t>(site->bail);
          s->jit.host_slow(*site);
        } else {
          s->jit.host_mapped(*site);
        }
        return;
      }
    }
  }
  pass_on(sig, info, ctx);
}

}  // namespace

HostFaultScope::HostFaultScope(Jit& j, Mmu& m) : jit(j), mmu(m), prev_(t_scope) { t_scope = this; }

HostFaultScope::~HostFaultScope() { t_scope = prev_; }

void install_host_fault_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa = {};
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &g_previous);
  });
}

}  // namespace vx86
