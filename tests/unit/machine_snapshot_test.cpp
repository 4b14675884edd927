// Whole-machine snapshots on a small board: round trips (state, file), configuration checks,
// version and damage detection, and a randomized test of hostile snapshot data.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "devices/snapshot.h"
#include "emu/board/machine.h"
#include "emu/board/snapshot_file.h"

namespace vx86 {
namespace {

// A BIOS that is all INC AX: from the reset vector the CPU increments AX forever, wrapping around
// its 64 KiB code segment; the timers and the RTC run beside it.
MachineConfig small_config(bool vga = false) {
  MachineConfig cfg;
  cfg.ram_mb = 2;
  cfg.bios.assign(64 * 1024, 0x40);
  cfg.debugcon = nullptr;
  cfg.deterministic = true;
  cfg.vga = vga;
  return cfg;
}

std::vector<uint8_t> state_of(Machine& m) {
  std::vector<uint8_t> v;
  SnapshotWriter w(v);
  m.save_state(w);
  return v;
}

std::string temp_path(const char* name) {
  return ::testing::TempDir() + "/vx86-" + std::to_string(getpid()) + "-" + name;
}

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void write_all(const std::string& path, const std::vector<uint8_t>& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

// Some RAM contents that are not all zero pages (and some that are).
void scribble(Machine& m, uint32_t seed) {
  std::mt19937 rng(seed);
  uint8_t* ram = m.memory().ram();
  for (uint32_t page = 0; page < m.memory().ram_size() / 4096; page += 3)
    for (uint32_t i = 0; i < 4096; i += 64) ram[page * 4096 + i] = static_cast<uint8_t>(rng());
}

TEST(MachineSnapshot, RoundTripThroughAFile) {
  MachineConfig cfg = small_config(true);
  Machine a(cfg);
  a.run(20000);
  scribble(a, 1);
  const std::string path = temp_path("roundtrip.vxs");
  a.save_snapshot(path);
  Machine b(cfg);
  b.load_snapshot(path);
  EXPECT_EQ(b.cpu().s.regs[EAX], a.cpu().s.regs[EAX]);
  EXPECT_EQ(b.icount(), a.icount());
  EXPECT_EQ(std::memcmp(b.memory().ram(), a.memory().ram(), a.memory().ram_size()), 0);
  EXPECT_TRUE(state_of(b) == state_of(a));
  // Both go on the same way (deterministic time: the same timer interrupts at the same places).
  a.run(50000);
  b.run(50000);
  EXPECT_EQ(b.cpu().s.regs[EAX], a.cpu().s.regs[EAX]);
  EXPECT_TRUE(state_of(b) == state_of(a));
  std::filesystem::remove(path);
}

TEST(MachineSnapshot, SavedAfterRunningDiffersFromPowerOn) {
  Machine a(small_config());
  const auto before = state_of(a);
  a.run(1000);
  EXPECT_FALSE(state_of(a) == before);
  EXPECT_EQ(a.cpu().s.regs[EAX] & 0xFFFF, a.icount() & 0xFFFF);  // (every instruction is INC AX)
}

TEST(MachineSnapshot, ZeroPagesAreNotStored) {
  Machine a(small_config());
  const size_t empty = state_of(a).size();
  a.memory().ram()[5 * 4096 + 7] = 1;
  EXPECT_EQ(state_of(a).size(), empty + 4096);
}

TEST(MachineSnapshot, ADifferentMachineIsRefused) {
  Machine a(small_config());
  a.run(1000);
  const auto st = state_of(a);
  auto refused = [&](MachineConfig cfg, const char* what) {
    Machine b(cfg);
    SnapshotReader r(st);
    try {
      b.load_state(r);
      ADD_FAILURE() << "loaded into a machine with another " << what;
    } catch (const SnapshotError& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  MachineConfig c = small_config();
  c.ram_mb = 4;
  refused(c, "memory size");
  c = small_config();
  c.bios.assign(64 * 1024, 0x48);
  refused(c, "BIOS image");
  c = small_config();
  c.acpi = false;
  refused(c, "ACPI");
  c = small_config();
  c.apic = true;
  c.cpus = 2;
  refused(c, "CPU count");
}

// virtio-blk disks: PCI functions after the NICs, their registers and -snapshot overlays in the
// machine's snapshot, and a machine with other virtio disks refuses it.
TEST(MachineSnapshot, VirtioDisks) {
  const std::string p1 = temp_path("vd1.img"), p2 = temp_path("vd2.img");
  write_all(p1, std::vector<uint8_t>(64 * 1024, 0x11));
  write_all(p2, std::vector<uint8_t>(128 * 1024, 0x22));
  auto config = [&](size_t disks) {
    MachineConfig cfg = small_config();
    MacAddress mac{0x52, 0x54, 0, 0x12, 0x34, 0x56};
    cfg.nics.push_back({nullptr, mac});
    const std::string paths[] = {p1, p2};
    for (size_t k = 0; k < disks; ++k)
      cfg.virtio_disks.push_back({std::make_shared<DiskImage>(paths[k], DiskImage::Mode::Snapshot), "S"});
    return cfg;
  };
  MachineConfig ca = config(2);
  Machine a(ca);
  // The NIC at 00:03.0, the disks at 00:04.0 and 00:05.0.
  EXPECT_EQ(a.pci().config_read(3, 0, 0, 4), 0x100E8086u);
  EXPECT_EQ(a.pci().config_read(4, 0, 0, 4), 0x10011AF4u);
  EXPECT_EQ(a.pci().config_read(5, 0, 0, 4), 0x10011AF4u);
  EXPECT_EQ(a.pci().config_read(6, 0, 0, 2), 0xFFFFu);
  a.setup_pci_like_bios();
  a.run(1000);
  const uint8_t blk[512] = {0xAB};
  ASSERT_TRUE(ca.virtio_disks[1].image->write(512 * 7, blk, sizeof blk));  // into the overlay
  const auto st = state_of(a);
  MachineConfig cb = config(2);
  Machine b(cb);
  SnapshotReader r(st);
  b.load_state(r);
  uint8_t got[512];
  ASSERT_TRUE(cb.virtio_disks[1].image->read(512 * 7, got, sizeof got));
  EXPECT_EQ(0, std::memcmp(got, blk, sizeof got));
  EXPECT_TRUE(state_of(b) == st);
  EXPECT_TRUE(b.virtio_blk(0).bar(VirtioPciDevice::kModernBar).enabled);
  MachineConfig cc = config(1);
  Machine c(cc);
  SnapshotReader r2(st);
  EXPECT_THROW(c.load_state(r2), SnapshotError);
  std::filesystem::remove(p1);
  std::filesystem::remove(p2);
}

TEST(MachineSnapshot, OtherVersionAndDamageAreClearErrors) {
  Machine a(small_config());
  a.run(1000);
  const std::string path = temp_path("damage.vxs");
  a.save_snapshot(path);
  const auto good = read_all(path);
  Machine b(small_config());
  auto message = [&](const std::vector<uint8_t>& bytes) -> std::string {
    write_all(path, bytes);
    try {
      b.load_snapshot(path);
    } catch (const SnapshotError& e) {
      return e.what();
    }
    return "(loaded)";
  };
  // Another format version (with a valid header checksum): refused by name.
  auto v2 = good;
  v2[8] = 2;
  const uint32_t crc = crc32_of(std::vector<uint8_t>(v2.begin(), v2.begin() + 60));
  for (int i = 0; i < 4; ++i) v2[60 + i] = static_cast<uint8_t>(crc >> (8 * i));
  EXPECT_NE(message(v2).find("format version 2"), std::string::npos) << message(v2);
  auto magic = good;
  magic[0] = 'W';
  EXPECT_NE(message(magic).find("not a vx86 snapshot"), std::string::npos);
  auto body = good;
  body[good.size() / 2] ^= 0x10;
  EXPECT_NE(message(body).find("checksum"), std::string::npos);
  EXPECT_NE(message(std::vector<uint8_t>(good.begin(), good.end() - 1)).find("truncated"), std::string::npos);
  EXPECT_NE(message({}).find("too short"), std::string::npos);
  // A missing file is a runtime_error naming it.
  EXPECT_THROW(b.load_snapshot(temp_path("missing.vxs")), std::runtime_error);
  // The good file still loads after all that.
  write_all(path, good);
  b.load_snapshot(path);
  EXPECT_TRUE(state_of(b) == state_of(a));
  std::filesystem::remove(path);
}

// Hostile data: mutated machine states (bit flips, boundary values over 1-, 2-, 4- and 8-byte
// fields, truncation, inserted bytes) fed to load_state directly (past the checksums that would
// otherwise catch them). Each load either succeeds or throws SnapshotError; either way the
// machine runs on afterwards without a crash (the sanitizer build runs this too).
TEST(MachineSnapshot, RandomizedHostileStates) {
  MachineConfig cfg = small_config();
  Machine a(cfg);
  a.run(30000);
  scribble(a, 2);
  const auto good = state_of(a);
  Machine b(cfg);
  std::mt19937_64 rng(20261201);
  static constexpr uint64_t kBoundary[] = {
      0,      1,       2,          0x7F,       0x80,       0xFF,           0x100,
      0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x100000000ull, ~0ull};
  unsigned loaded = 0, refused = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    auto st = good;
    const unsigned kind = rng() % 4;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !st.empty(); ++e) {
      // Most device state is in the first few KiB (RAM comes after the CPUs and the clock).
      const size_t span = std::min<size_t>(st.size(), (rng() % 4) ? 4096 : st.size());
      const size_t at = rng() % span;
      if (kind == 0) {
        st[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
      } else if (kind == 1) {
        const unsigned width = 1u << (rng() % 4);
        const uint64_t v = kBoundary[rng() % std::size(kBoundary)];
        for (unsigned i = 0; i < width && at + i < st.size(); ++i)
          st[at + i] = static_cast<uint8_t>(v >> (8 * i));
      } else if (kind == 2) {
        st.resize(at);
      } else {
        st.insert(st.begin() + static_cast<std::ptrdiff_t>(at), static_cast<uint8_t>(rng()));
      }
    }
    SnapshotReader r(st);
    try {
      b.load_state(r);
      ++loaded;
      // What was accepted is a state the machine keeps: saved again, it loads to itself.
      const auto again = state_of(b);
      SnapshotReader r2(again);
      b.load_state(r2);
      EXPECT_TRUE(state_of(b) == again) << "iteration " << iter;
    } catch (const SnapshotError&) {
      ++refused;
    }
    b.run(2000);
  }
  EXPECT_GT(refused, 1000u);
  EXPECT_GT(loaded, 10u);  // (flips in register values and RAM load fine)
  // And after all that, the good state loads exactly.
  SnapshotReader r(good);
  b.load_state(r);
  EXPECT_TRUE(state_of(b) == good);
}

}  // namespace
}  // namespace vx86
