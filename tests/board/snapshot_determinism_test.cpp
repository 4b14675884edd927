// Whole-machine snapshots of a real guest: Debian's Linux booted by SeaBIOS from the IDE disk in
// deterministic time (-icount). A reference run saves the machine's state at several points (in
// SeaBIOS/syslinux, while the kernel is writing a line to the serial port, and while an IDE DMA
// command is in flight); each saved state, restored into a freshly built machine, must run to the
// guest's power-off with byte-identical serial output and a byte-identical final machine state
// (every register, RAM page and device field, as the snapshot writer serialises them).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "devices/snapshot.h"
#include "emu/board/machine.h"

namespace vx86 {
namespace {

const std::string kGuestDisk = std::string(VX86_GUEST_DIR) + "/disk.img";
const std::string kBios = "/usr/share/seabios/bios.bin";
const std::string kVgaBios = "/usr/share/seabios/vgabios-stdvga.bin";
constexpr uint64_t kChunk = 5'000'000;
constexpr uint64_t kMaxInsns = 40'000'000'000ull;  // far beyond the boot (about 4 G instructions)

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

class StringSerial : public CharBackend {
 public:
  void write(const uint8_t* data, size_t n) override { out.append(reinterpret_cast<const char*>(data), n); }
  std::string out;
};

// The machine `vx86 -hda disk.img -snapshot -m 128 -icount shift=0 -net none` builds.
struct Guest {
  StringSerial serial;
  std::unique_ptr<Machine> m;
  explicit Guest(unsigned cpus = 1) {
    MachineConfig cfg;
    cfg.cpus = cpus;
    cfg.apic = cpus > 1;
    cfg.ram_mb = 128;
    cfg.bios = read_file(kBios);
    cfg.vga_bios = read_file(kVgaBios);
    cfg.debugcon = nullptr;
    cfg.deterministic = true;
    cfg.ps_per_insn = 1000;
    cfg.com1_backend = &serial;
    cfg.drives[0].image = std::make_shared<DiskImage>(kGuestDisk, DiskImage::Mode::Snapshot);
    cfg.boot_order = "cad";
    m = std::make_unique<Machine>(cfg);
  }
  std::vector<uint8_t> state() {
    std::vector<uint8_t> v;
    SnapshotWriter w(v);
    m->save_state(w);
    return v;
  }
  // Runs in `chunk`-instruction calls until `done` says stop (true) or the guest powers off (false).
  template <class F>
  bool run_until(uint64_t chunk, F done) {
    while (m->icount() < kMaxInsns) {
      if (done()) return true;
      const MachineExit e = m->run(chunk);
      if (e == MachineExit::PowerOff) return false;
      if (e != MachineExit::Budget && e != MachineExit::Idle) ADD_FAILURE() << "unexpected exit " << int(e);
      if (e != MachineExit::Budget && e != MachineExit::Idle) return false;
    }
    ADD_FAILURE() << "no power-off within " << kMaxInsns << " instructions";
    return false;
  }
  void run_to_power_off() {
    run_until(kChunk, [] { return false; });
  }
};

struct SavePoint {
  std::string name;
  uint64_t icount = 0;
  size_t serial_len = 0;
  std::vector<uint8_t> state;
};

bool guest_available() { return std::filesystem::exists(kGuestDisk) && std::filesystem::exists(kBios); }

class SnapshotDeterminism : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!guest_available()) return;
    reference_ = std::make_unique<Reference>();
    Guest g;
    auto save = [&](const char* name) {
      reference_->points.push_back({name, g.m->icount(), g.serial.out.size(), g.state()});
    };
    // 1. In the firmware: SeaBIOS has handed over to syslinux, which reads the kernel with PIO.
    ASSERT_TRUE(g.run_until(kChunk, [&] { return g.m->icount() >= 150'000'000; }));
    save("firmware");
    // 2. In the middle of a line on the serial port (the kernel's console is printing).
    ASSERT_TRUE(g.run_until(kChunk, [&] { return g.serial.out.find("Linux version") != std::string::npos; }));
    ASSERT_TRUE(g.run_until(2'000, [&] { return !g.serial.out.empty() && g.serial.out.back() != '\n'; }));
    save("serial");
    // 3. An IDE DMA command issued, its transfer not yet started (ata_piix reading the disk).
    ASSERT_TRUE(g.run_until(kChunk, [&] { return g.serial.out.find("[sda]") != std::string::npos; }));
    ASSERT_TRUE(g.run_until(20, [&] { return g.m->ide().channel(0).dma_in_progress(); }))
        << "no IDE DMA command seen between two run() calls";
    save("ide-dma");
    g.run_to_power_off();
    reference_->serial = g.serial.out;
    reference_->final_icount = g.m->icount();
    reference_->final_state = g.state();
  }
  static void TearDownTestSuite() { reference_.reset(); }
  void SetUp() override {
    if (!guest_available()) GTEST_SKIP() << "no guest/disk.img or SeaBIOS (scripts/build-guest.sh, setup.sh)";
    ASSERT_TRUE(reference_);
    ASSERT_EQ(reference_->points.size(), 3u);
  }

  // Restores point `i` into a new machine and runs it to the end: the same output, the same state.
  void check_restore(size_t i, bool through_file) {
    const SavePoint& p = reference_->points[i];
    Guest g;
    if (through_file) {
      const std::string path = ::testing::TempDir() + "/vx86-snap-" + std::to_string(getpid()) + ".vxs";
      Guest saver;
      SnapshotReader r(p.state);
      saver.m->load_state(r);
      saver.m->save_snapshot(path);
      g.m->load_snapshot(path);
      std::filesystem::remove(path);
    } else {
      SnapshotReader r(p.state);
      g.m->load_state(r);
      EXPECT_TRUE(r.at_end());
    }
    EXPECT_EQ(g.m->icount(), p.icount);
    EXPECT_EQ(g.state(), p.state) << "restoring and saving again changed the state";
    g.run_to_power_off();
    const std::string expect = reference_->serial.substr(p.serial_len);
    EXPECT_EQ(g.serial.out.size(), expect.size());
    EXPECT_TRUE(g.serial.out == expect) << "serial output after '" << p.name << "' differs";
    EXPECT_EQ(g.m->icount(), reference_->final_icount);
    EXPECT_TRUE(g.state() == reference_->final_state)
        << "final machine state after '" << p.name << "' differs";
  }

  struct Reference {
    std::vector<SavePoint> points;
    std::string serial;
    uint64_t final_icount = 0;
    std::vector<uint8_t> final_state;
  };
  static std::unique_ptr<Reference> reference_;
};
std::unique_ptr<SnapshotDeterminism::Reference> SnapshotDeterminism::reference_;

TEST_F(SnapshotDeterminism, ReferenceRunReachesTheGuestsEnd) {
  const std::string& s = reference_->serial;
  EXPECT_NE(s.find("VX86-GUEST-UP"), std::string::npos);
  EXPECT_NE(s.find("VX86-DISK"), std::string::npos);
  EXPECT_NE(s.find("reboot: Power down"), std::string::npos);
  // The points are where they claim to be.
  EXPECT_LT(reference_->points[0].serial_len, s.find("Linux version"));
  EXPECT_NE(s[reference_->points[1].serial_len - 1], '\n');
}

TEST_F(SnapshotDeterminism, RestoreInFirmware) { check_restore(0, false); }
TEST_F(SnapshotDeterminism, RestoreDuringSerialOutput) { check_restore(1, true); }
TEST_F(SnapshotDeterminism, RestoreDuringDiskDma) { check_restore(2, false); }

// Two CPUs, time-sliced (deterministic): saved while the kernel prints, after the second CPU is
// up, and restored.
TEST(SnapshotDeterminismSmp, TwoCpusRestoreExactly) {
  if (!guest_available()) GTEST_SKIP() << "no guest/disk.img or SeaBIOS";
  Guest g(2);
  ASSERT_TRUE(g.run_until(kChunk, [&] { return g.serial.out.find("smp: Brought up") != std::string::npos; }));
  ASSERT_TRUE(g.run_until(2'000, [&] { return g.serial.out.back() != '\n'; }));
  const size_t at = g.serial.out.size();
  const uint64_t icount = g.m->icount();
  const auto saved = g.state();
  g.run_to_power_off();
  ASSERT_NE(g.serial.out.find("VX86-CPUS 2 2"), std::string::npos);
  Guest r(2);
  SnapshotReader rd(saved);
  r.m->load_state(rd);
  EXPECT_EQ(r.m->icount(), icount);
  r.run_to_power_off();
  EXPECT_TRUE(r.serial.out == g.serial.out.substr(at)) << "serial output after the restore differs";
  EXPECT_TRUE(r.state() == g.state()) << "final machine state differs";
  EXPECT_NE(r.serial.out.find("VX86-CPU 1 ran-on 1"), std::string::npos);
}

// The command line's -loadvm: a snapshot saved through the API, restored by the vx86 program with
// the options that describe the same machine, prints the rest of the reference output.
TEST_F(SnapshotDeterminism, CommandLineLoadvm) {
  const SavePoint& p = reference_->points[1];
  const std::string dir = ::testing::TempDir();
  const std::string snap = dir + "/vx86-cli-" + std::to_string(getpid()) + ".vxs";
  const std::string out = dir + "/vx86-cli-" + std::to_string(getpid()) + ".txt";
  {
    Guest saver;
    SnapshotReader r(p.state);
    saver.m->load_state(r);
    saver.m->save_snapshot(snap);
  }
  const std::string cmd = std::string(VX86_BINARY) + " -hda " + kGuestDisk +
                          " -snapshot -m 128 -icount shift=0 -net none -serial file:" + out +
                          " -no-reboot -timeout 300 -loadvm " + snap + " 2>&1";
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  std::ifstream f(out, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_TRUE(ss.str() == reference_->serial.substr(p.serial_len)) << "vx86 -loadvm printed something else";
  std::filesystem::remove(snap);
  std::filesystem::remove(out);
}

}  // namespace
}  // namespace vx86
