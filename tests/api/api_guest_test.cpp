// The library API with the Debian guest (label guest): two VMs booting Linux at once in one
// process, one paused and resumed from another thread while the other runs on; and a snapshot
// taken through the API continued by the vx86 program's -loadvm.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "vx86/vx86.hpp"

namespace {

const std::string kGuest = VX86_GUEST_DIR;
const std::string kKernel = kGuest + "/vmlinuz", kInitrd = kGuest + "/initramfs.cpio.gz";

bool guest_available() { return std::filesystem::exists(kKernel) && std::filesystem::exists(kInitrd); }

// A VM booting the guest's kernel and initramfs directly, its console collected.
struct GuestVm {
  std::unique_ptr<vx86::Vm> vm;
  mutable std::mutex mu;
  std::string out;
  explicit GuestVm(vx86::Engine& engine) {
    EXPECT_TRUE(engine.create_vm(vm));
    EXPECT_TRUE(vm->set_cpu(1));
    EXPECT_TRUE(vm->set_mem(128));
    EXPECT_TRUE(vm->set_option("-kernel", kKernel));
    EXPECT_TRUE(vm->set_option("-initrd", kInitrd));
    EXPECT_TRUE(vm->set_option("-append", "console=ttyS0"));
    EXPECT_TRUE(vm->on_serial([this](std::string_view s) {
      std::lock_guard lk(mu);
      out.append(s);
    }));
  }
  std::string console() const {
    std::lock_guard lk(mu);
    return out;
  }
  bool printed(const std::string& s) const { return console().find(s) != std::string::npos; }
  // Polls until the console shows `s` (false after `seconds`).
  bool wait_for(const std::string& s, int seconds) const {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (!printed(s)) {
      if (std::chrono::steady_clock::now() > until || vm->state() == vx86::VmState::Exited) return printed(s);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
  }
};

TEST(ApiGuest, TwoVmsBootAtOnceOnePausedFromAnotherThread) {
  if (!guest_available()) GTEST_SKIP() << "no guest (scripts/build-guest.sh)";
  vx86::Engine engine;
  GuestVm a(engine), b(engine);
  ASSERT_TRUE(a.vm->start());
  ASSERT_TRUE(b.vm->start());
  ASSERT_TRUE(a.wait_for("Linux version", 120));
  ASSERT_TRUE(b.wait_for("Linux version", 120));
  // Both are up and running at once. Pause A from a controller thread: its console stands
  // still while B's goes on.
  std::thread controller([&] {
    ASSERT_TRUE(a.vm->pause());
    const size_t a_before = a.console().size(), b_before = b.console().size();
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    EXPECT_EQ(a.console().size(), a_before) << "a paused VM printed";
    EXPECT_EQ(a.vm->state(), vx86::VmState::Paused);
    if (b.vm->state() == vx86::VmState::Running) {
      EXPECT_GT(b.console().size(), b_before) << "B stood still";
    }
    ASSERT_TRUE(a.vm->resume());
  });
  controller.join();
  int sa = -1, sb = -1;
  ASSERT_TRUE(a.vm->wait_exit(sa, 300'000));
  ASSERT_TRUE(b.vm->wait_exit(sb, 300'000));
  EXPECT_EQ(sa, 0);
  EXPECT_EQ(sb, 0);
  for (const GuestVm* g : {&a, &b}) {
    EXPECT_TRUE(g->printed("VX86-GUEST-UP"));
    EXPECT_TRUE(g->printed("VX86-GUEST-DONE"));
    EXPECT_TRUE(g->printed("reboot: Power down"));
  }
}

TEST(ApiGuest, ProgramLoadvmContinuesAnApiSnapshot) {
  if (!guest_available()) GTEST_SKIP() << "no guest (scripts/build-guest.sh)";
  const std::string dir = ::testing::TempDir();
  const std::string snap = dir + "/vx86-apiguest-" + std::to_string(getpid()) + ".vxs";
  const std::string out = dir + "/vx86-apiguest-" + std::to_string(getpid()) + ".txt";
  {
    vx86::Engine engine;
    GuestVm g(engine);
    ASSERT_TRUE(g.vm->start());
    ASSERT_TRUE(g.wait_for("VX86-GUEST-UP", 200));
    ASSERT_TRUE(g.vm->stop(snap));  // stopped with its state saved, before the guest's work is done
    EXPECT_FALSE(g.printed("VX86-GUEST-DONE"));
  }
  const std::string cmd = std::string(VX86_BINARY) + " -m 128 -nic none -kernel " + kKernel + " -initrd " +
                          kInitrd + " -append console=ttyS0 -serial file:" + out + " -timeout 300 -loadvm " +
                          snap + " > /dev/null 2>&1";
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  std::ifstream f(out);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string console = ss.str();
  EXPECT_EQ(console.find("Linux version"), std::string::npos) << "the restored guest booted again";
  EXPECT_NE(console.find("VX86-GUEST-DONE"), std::string::npos) << console.substr(0, 2000);
  EXPECT_NE(console.find("reboot: Power down"), std::string::npos);
  std::filesystem::remove(snap);
  std::filesystem::remove(out);
}

}  // namespace
