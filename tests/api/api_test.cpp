// The library API (include/vx86/vx86.h, vx86.hpp) on a small machine: error codes and messages
// for bad calls, and the lifecycle (start, pause, resume, save, stop with a snapshot, restore,
// wait) driven from several threads, checked through the API alone.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "vx86/vx86.h"
#include "vx86/vx86.hpp"

namespace {

const std::string kLoopRom = std::string(VX86_ROMS_DIR) + "/tests/loop_forever.bin";

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/vx86-api-" + std::to_string(getpid()) + "-" + name;
}

std::vector<char> read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<char>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

struct CEngine {
  vx86_engine* e = nullptr;
  CEngine() { EXPECT_EQ(vx86_init(&e), VX86_OK); }
  ~CEngine() { vx86_destroy(e); }
  vx86_vm* vm() {
    vx86_vm* v = nullptr;
    EXPECT_EQ(vx86_create_vm(e, &v), VX86_OK);
    return v;
  }
};

bool mentions(const char* needle) { return std::string(vx86_last_error()).find(needle) != std::string::npos; }

TEST(Api, BadArgumentsAreCodesWithMessages) {
  EXPECT_EQ(vx86_init(nullptr), VX86_E_INVALID);
  EXPECT_TRUE(mentions("NULL"));
  CEngine eng;
  EXPECT_EQ(vx86_create_vm(eng.e, nullptr), VX86_E_INVALID);
  vx86_vm* vm = eng.vm();
  EXPECT_EQ(vx86_vm_set_mem(vm, 0), VX86_E_INVALID);
  EXPECT_TRUE(mentions("memory size 0 MiB out of range"));
  EXPECT_EQ(vx86_vm_set_cpu(vm, 0, VX86_CPU_32BIT), VX86_E_INVALID);
  EXPECT_EQ(vx86_vm_set_cpu(vm, 1, VX86_CPU_64BIT), VX86_E_UNSUPPORTED);
  EXPECT_TRUE(mentions("64-bit"));
  EXPECT_EQ(vx86_vm_set_drive(vm, "floppy", "a.img"), VX86_E_INVALID);
  EXPECT_TRUE(mentions("unknown drive device 'floppy'"));
  EXPECT_EQ(vx86_vm_set_drive(vm, "ide-hd", nullptr), VX86_E_INVALID);
  EXPECT_EQ(vx86_vm_set_net(vm, "rtl8139", ""), VX86_E_INVALID);
  EXPECT_EQ(vx86_vm_set_net(vm, "e1000", "hostfwd=bogus"), VX86_E_INVALID);
  EXPECT_EQ(vx86_vm_set_option(vm, "-m", "lots"), VX86_E_INVALID);
  EXPECT_TRUE(mentions("invalid -m value 'lots'"));
  EXPECT_EQ(vx86_vm_set_option(vm, "-frobnicate", nullptr), VX86_E_INVALID);
  EXPECT_TRUE(mentions("unknown option"));
  // Not started yet.
  int st = 0;
  EXPECT_EQ(vx86_vm_wait_exit(vm, 0, &st), VX86_E_STATE);
  EXPECT_EQ(vx86_vm_pause(vm), VX86_E_STATE);
  EXPECT_EQ(vx86_vm_stop(vm, nullptr), VX86_E_STATE);
  EXPECT_EQ(vx86_vm_get_state(vm), VX86_VM_CREATED);
  // A file that is not there: found at start, as an I/O error; the VM stays configurable.
  ASSERT_EQ(vx86_vm_set_option(vm, "-bios", kLoopRom.c_str()), VX86_OK);
  ASSERT_EQ(vx86_vm_set_drive(vm, "ide-hd", "qcow2:/nonexistent/vx86.qcow2"), VX86_OK);
  EXPECT_EQ(vx86_vm_start(vm), VX86_E_IO);
  EXPECT_TRUE(mentions("cannot open disk image '/nonexistent/vx86.qcow2'"));
  EXPECT_EQ(vx86_vm_get_state(vm), VX86_VM_CREATED);
  vx86_vm_destroy(vm);
  // Missing and damaged snapshots.
  vx86_vm* vm2 = eng.vm();
  ASSERT_EQ(vx86_vm_set_option(vm2, "-bios", kLoopRom.c_str()), VX86_OK);
  EXPECT_EQ(vx86_vm_restore(vm2, "/nonexistent/snap.vxs"), VX86_E_IO);
  const std::string junk = temp_path("junk.vxs");
  std::ofstream(junk) << "not a snapshot at all, but long enough to have a header of sixty-four bytes......";
  EXPECT_EQ(vx86_vm_restore(vm2, junk.c_str()), VX86_E_SNAPSHOT);
  EXPECT_TRUE(mentions("not a vx86 snapshot"));
  std::filesystem::remove(junk);
}

// virtio-blk-device: accepted in the qcow2:/raw: forms, opened at start (a missing image is an
// I/O error naming it), part of the machine's snapshots (a VM without the disk refuses them).
TEST(Api, VirtioBlkDevice) {
  CEngine eng;
  vx86_vm* vm = eng.vm();
  ASSERT_EQ(vx86_vm_set_option(vm, "-bios", kLoopRom.c_str()), VX86_OK);
  ASSERT_EQ(vx86_vm_set_drive(vm, "virtio-blk-device", "qcow2:/nonexistent/virtual-disk.img"), VX86_OK);
  EXPECT_EQ(vx86_vm_start(vm), VX86_E_IO);
  EXPECT_TRUE(mentions("cannot open disk image '/nonexistent/virtual-disk.img'"));
  vx86_vm_destroy(vm);

  const std::string disk = temp_path("virtio.img"), snap = temp_path("virtio.vxs");
  std::ofstream(disk, std::ios::binary) << std::string(1 << 20, '\0');
  auto make = [&](bool with_disk) {
    vx86_vm* v = eng.vm();
    EXPECT_EQ(vx86_vm_set_mem(v, 8), VX86_OK);
    EXPECT_EQ(vx86_vm_set_option(v, "-bios", kLoopRom.c_str()), VX86_OK);
    if (with_disk) {
      EXPECT_EQ(vx86_vm_set_drive(v, "virtio-blk-pci", ("raw:" + disk).c_str()), VX86_OK);
    }
    return v;
  };
  vx86_vm* a = make(true);
  ASSERT_EQ(vx86_vm_start(a), VX86_OK);
  ASSERT_EQ(vx86_vm_stop(a, snap.c_str()), VX86_OK);
  vx86_vm* b = make(true);
  EXPECT_EQ(vx86_vm_restore(b, snap.c_str()), VX86_OK);
  EXPECT_EQ(vx86_vm_get_state(b), VX86_VM_RUNNING);
  EXPECT_EQ(vx86_vm_stop(b, nullptr), VX86_OK);
  vx86_vm* c = make(false);
  EXPECT_NE(vx86_vm_restore(c, snap.c_str()), VX86_OK);
  EXPECT_TRUE(mentions("virtio disk count"));
  for (vx86_vm* v : {a, b, c}) vx86_vm_destroy(v);
  std::filesystem::remove(disk);
  std::filesystem::remove(snap);
}

TEST(Api, LifecycleFromSeveralThreads) {
  vx86::Engine engine;
  ASSERT_TRUE(engine.status());
  std::unique_ptr<vx86::Vm> vm;
  ASSERT_TRUE(engine.create_vm(vm));
  std::mutex mu;
  std::vector<vx86::VmState> seen;
  ASSERT_TRUE(vm->on_state([&](vx86::VmState s, int) {
    std::lock_guard lk(mu);
    seen.push_back(s);
  }));
  ASSERT_TRUE(vm->set_mem(4));
  ASSERT_TRUE(vm->set_option("-bios", kLoopRom));
  ASSERT_TRUE(vm->start());
  EXPECT_EQ(vm->state(), vx86::VmState::Running);
  EXPECT_EQ(vm->set_mem(8).code, VX86_E_STATE);  // (configuration is over while it runs)
  int status = -1;
  EXPECT_EQ(vm->wait_exit(status, 50).code, VX86_E_TIMEOUT);  // loop_forever never ends by itself

  // Paused from another thread: two snapshots taken while paused are the same file.
  std::thread([&] { EXPECT_TRUE(vm->pause()); }).join();
  EXPECT_EQ(vm->state(), vx86::VmState::Paused);
  const std::string a = temp_path("a.vxs"), b = temp_path("b.vxs"), c = temp_path("c.vxs"),
                    d = temp_path("d.vxs");
  ASSERT_TRUE(vm->save(a));
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  ASSERT_TRUE(vm->save(b));
  EXPECT_EQ(read_all(a), read_all(b));
  // Resumed from yet another thread, it runs on: a later snapshot differs.
  std::thread([&] { EXPECT_TRUE(vm->resume()); }).join();
  EXPECT_EQ(vm->state(), vx86::VmState::Running);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  ASSERT_TRUE(vm->save(c));  // (a running VM is paused for the save and goes on)
  EXPECT_EQ(vm->state(), vx86::VmState::Running);
  EXPECT_NE(read_all(a), read_all(c));

  // Stopped with its state saved; then restored from that file, and from the first one in place.
  ASSERT_TRUE(vm->stop(d));
  EXPECT_EQ(vm->state(), vx86::VmState::Exited);
  ASSERT_TRUE(vm->wait_exit(status, 1000));
  EXPECT_EQ(status, 0);
  ASSERT_TRUE(vm->restore(d));
  EXPECT_EQ(vm->state(), vx86::VmState::Running);
  ASSERT_TRUE(vm->pause());
  ASSERT_TRUE(vm->restore(a));  // (in place: it stays paused)
  EXPECT_EQ(vm->state(), vx86::VmState::Paused);
  ASSERT_TRUE(vm->save(b));
  EXPECT_EQ(read_all(a), read_all(b)) << "restoring a snapshot and saving again gave another file";
  ASSERT_TRUE(vm->stop());
  {
    std::lock_guard lk(mu);
    using S = vx86::VmState;
    const std::vector<S> want{S::Running, S::Paused, S::Running, S::Exited, S::Running, S::Paused, S::Exited};
    EXPECT_EQ(seen, want);
  }
  for (const auto& p : {a, b, c, d}) std::filesystem::remove(p);
}

}  // namespace
