// The -mmu host SIGSEGV handler (jit/host_faults.h) with faults that are not its own: they must
// reach the handler installed before it, as if it were not there. Each case runs in a child process
// started afresh (the "threadsafe" death-test style re-runs the test binary), so that the test's
// own handler is installed first and the host handler second, as in a program that embeds vx86.
#include "jit/host_faults.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "jit/jit.h"
#include "pm_guest.h"

using namespace vx86;
using vx86::test::PmGuest;

namespace {

constexpr int kPassedOn = 42;

void previous_handler(int) { _exit(kPassedOn); }

// A page no one may touch (not null: the sanitizers check null loads themselves).
volatile uint8_t* inaccessible_page() {
  void* p = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) _exit(1);
  return static_cast<volatile uint8_t*>(p);
}

// The embedding program's handler, then the host handler over it.
void install_both() {
  struct sigaction sa = {};
  sa.sa_handler = previous_handler;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, nullptr);
  install_host_fault_handler();
}

class HostFaults : public ::testing::Test {
 protected:
  HostFaults() { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// A fault outside any window while translated code is running (a scope is open).
TEST_F(HostFaults, AFaultOutsideTheWindowGoesToThePreviousHandler) {
  EXPECT_EXIT(
      {
        install_both();
        PmGuest g(true, true);
        g.cpu.mmu.set_scheme(MmuScheme::Host);
        volatile uint8_t* p = inaccessible_page();
        HostFaultScope scope(*g.cpu.jit, g.cpu.mmu);
        (void)*p;
      },
      ::testing::ExitedWithCode(kPassedOn), "");
}

// A fault inside the window from code that is not a translated access (vx86's own C++): not the
// handler's to map either.
TEST_F(HostFaults, AWindowFaultFromOtherCodeGoesToThePreviousHandler) {
  EXPECT_EXIT(
      {
        install_both();
        PmGuest g(true, true);
        g.cpu.mmu.set_scheme(MmuScheme::Host);
        g.cpu.mmu.flush();
        volatile uint8_t* p = g.cpu.mmu.host_base();
        if (!p) _exit(1);
        HostFaultScope scope(*g.cpu.jit, g.cpu.mmu);
        (void)p[0x1000];
      },
      ::testing::ExitedWithCode(kPassedOn), "");
}

// With no handler of its own before it (the default action), a foreign fault still ends the
// program by SIGSEGV, as it would without vx86.
TEST_F(HostFaults, AForeignFaultWithNoPreviousHandlerKillsTheProcess) {
  EXPECT_EXIT(
      {
        signal(SIGSEGV, SIG_DFL);
        install_host_fault_handler();
        volatile uint8_t* p = inaccessible_page();
        (void)*p;
      },
      ::testing::KilledBySignal(SIGSEGV), "");
}

}  // namespace
