// Machine::save_state / load_state: the whole board in snapshot sections (devices/snapshot.h).
//
// Order matters on the way in: the CPUs first (the clock's deterministic time is based on the
// running CPU's instruction counter), then the clock (devices re-arm their timers against it),
// RAM, the PCI functions (the host bridge's PAM registers remap the BIOS area, BARs remap MMIO),
// the interrupt sources, and the interrupt controllers last, so the levels the sources re-drive
// while loading are overridden by the controllers' saved view of their inputs.
#include <algorithm>
#include <cstring>

#include "devices/snapshot.h"
#include "emu/board/machine.h"
#include "emu/board/snapshot_file.h"
#include "jit/jit.h"

namespace vx86 {

namespace {

// RAM: a bitmap of the 4 KiB pages that are not all zero, then those pages. Most of a guest's
// memory is zero (never touched), and skipping it here is much faster than compressing it.
bool page_is_zero(const uint8_t* p) {
  uint64_t acc = 0;
  for (unsigned i = 0; i < PAGE_SIZE; i += 64) {
    uint64_t v[8];
    std::memcpy(v, p + i, sizeof v);
    acc |= v[0] | v[1] | v[2] | v[3] | v[4] | v[5] | v[6] | v[7];
  }
  return acc == 0;
}

void save_ram(SnapshotWriter& w, const uint8_t* ram, uint32_t size) {
  w.begin_section("RAM ", 1);
  w.u32(size);
  const uint32_t pages = size / PAGE_SIZE;
  std::vector<uint8_t> bitmap((pages + 7) / 8, 0);
  for (uint32_t p = 0; p < pages; ++p)
    if (!page_is_zero(ram + uint64_t{p} * PAGE_SIZE)) bitmap[p / 8] |= static_cast<uint8_t>(1u << (p % 8));
  w.bytes(bitmap.data(), bitmap.size());
  for (uint32_t p = 0; p < pages; ++p)
    if (bitmap[p / 8] & (1u << (p % 8))) w.bytes(ram + uint64_t{p} * PAGE_SIZE, PAGE_SIZE);
  w.end_section();
}

void load_ram(SnapshotReader& r, uint8_t* ram, uint32_t size) {
  r.begin_section("RAM ", 1);
  r.check(r.u32() == size, "RAM size differs from the machine's");
  const uint32_t pages = size / PAGE_SIZE;
  std::vector<uint8_t> bitmap((pages + 7) / 8, 0);
  r.bytes(bitmap.data(), bitmap.size());
  uint64_t present = 0;
  for (uint8_t b : bitmap) present += static_cast<unsigned>(__builtin_popcount(b));
  r.check(present * PAGE_SIZE == r.remaining(), "RAM page count does not match the data");
  for (uint32_t p = 0; p < pages; ++p) {
    uint8_t* dst = ram + uint64_t{p} * PAGE_SIZE;
    if (bitmap[p / 8] & (1u << (p % 8)))
      r.bytes(dst, PAGE_SIZE);
    else
      std::memset(dst, 0, PAGE_SIZE);
  }
  r.end_section();
}

}  // namespace

// What must match between the machine that saved and the one loading: memory, firmware, CPUs
// and the devices present (a snapshot holds the devices' state, not their configuration).
void Machine::save_config_fingerprint(SnapshotWriter& w) const {
  w.begin_section("MCFG", 3);
  w.u32(cfg_.ram_mb);
  w.u32(static_cast<uint32_t>(cpus_.size()));
  w.u32(static_cast<uint32_t>(cfg_.bios.size()));
  w.u32(crc32_of(cfg_.bios));
  w.u32(crc32_of(cfg_.vga_bios));
  for (bool b : {cfg_.apic, cfg_.acpi, cfg_.vga, cfg_.com1}) w.boolean(b);
  w.u32(static_cast<uint32_t>(nics_.size()));
  for (const auto& d : cfg_.drives) {
    w.u8(d.cdrom ? 2 : d.image ? 1 : 0);
    w.u64(d.image ? d.image->size() : 0);
  }
  // Version 2: the virtio disks (a version 1 section, from before they existed, has none).
  w.u32(static_cast<uint32_t>(cfg_.virtio_disks.size()));
  for (const auto& d : cfg_.virtio_disks) w.u64(d.image->size());
  // Version 3: the virtio-net cards (count; version 2 and older had e1000s only).
  w.u32(static_cast<uint32_t>(virtio_nets_.size()));
  w.end_section();
}

void Machine::check_config_fingerprint(SnapshotReader& r) const {
  std::vector<uint8_t> mine;
  SnapshotWriter w(mine);
  save_config_fingerprint(w);
  // Compared field by field for a message that says what differs.
  SnapshotReader m(mine);
  const uint32_t version = r.begin_section("MCFG", 3);
  m.begin_section("MCFG", 3);
  auto same32 = [&](const char* what) {
    const uint32_t a = r.u32(), b = m.u32();
    if (a != b)
      throw SnapshotError(std::string("the snapshot's machine has a different ") + what + " (" +
                          std::to_string(a) + ", this one " + std::to_string(b) + ")");
  };
  same32("memory size in MiB (-m)");
  same32("CPU count (-smp)");
  same32("BIOS size");
  same32("BIOS image (CRC-32)");
  same32("VGA BIOS image (CRC-32)");
  for (const char* what :
       {"APIC setting (-apic)", "ACPI setting (-acpi)", "VGA setting (-vga)", "serial port (-serial)"})
    if (r.boolean() != m.boolean())
      throw SnapshotError(std::string("the snapshot's machine has a different ") + what);
  same32("network card count");
  for (unsigned k = 0; k < cfg_.drives.size(); ++k) {
    const uint8_t a = r.u8(), b = m.u8();
    const uint64_t sa = r.u64(), sb = m.u64();
    if (a != b || sa != sb)
      throw SnapshotError("the snapshot's machine has a different drive " + std::to_string(k) +
                          " (kind or image size)");
  }
  const uint32_t virtio_here = m.u32();
  const uint32_t virtio_there = version >= 2 ? r.u32() : 0;
  if (virtio_there != virtio_here)
    throw SnapshotError("the snapshot's machine has a different virtio disk count (" +
                        std::to_string(virtio_there) + ", this one " + std::to_string(virtio_here) + ")");
  for (uint32_t k = 0; k < virtio_here; ++k)
    if (r.u64() != m.u64())
      throw SnapshotError("the snapshot's machine has a different virtio disk " + std::to_string(k) +
                          " (image size)");
  const uint32_t vnet_here = m.u32();
  const uint32_t vnet_there = version >= 3 ? r.u32() : 0;
  if (vnet_there != vnet_here)
    throw SnapshotError("the snapshot's machine has a different virtio-net card count (" +
                        std::to_string(vnet_there) + ", this one " + std::to_string(vnet_here) + ")");
  r.end_section();
}

void Machine::save_state(SnapshotWriter& w) {
  pause();
  w.begin_section("VXSM", 1);
  save_config_fingerprint(w);
  w.begin_section("CPUS", 1);
  w.u32(static_cast<uint32_t>(current_index()));
  for (auto& c : cpus_) c->save(w);
  w.end_section();
  clock_->save(w);
  save_ram(w, mem_.ram(), mem_.ram_size());
  // PCI functions and the bus.
  host_->save(w);
  isa_->save(w);
  ide_->save(w);
  if (vga_pci_) vga_pci_->save(w);
  if (pm_) pm_->save(w);
  for (auto& n : nics_) n->save(w);
  for (auto& n : virtio_nets_) n->save(w);
  for (auto& v : virtio_blks_) v->save(w);
  pci_->save(w);
  // ISA devices, then the interrupt controllers.
  pit_->save(w);
  rtc_->save(w);
  kbc_->save(w);
  if (com1_) com1_->save(w);
  if (vga_) vga_->save(w);
  sysctl_->save(w);
  ferr_->save(w);
  fw_cfg_->save(w);
  debug_.save(w);
  pic_->save(w);
  if (ioapic_) ioapic_->save(w);
  for (auto& a : lapics_) a->save(w);
  // The board's own wires.
  w.begin_section("BORD", 1);
  for (bool b : {a20_92_, a20_kbc_, reset_requested_, power_off_requested_, shutdown_requested_})
    w.boolean(b);
  w.end_section();
  w.begin_section("DRVS", 1);
  for (const auto& d : cfg_.drives) {
    w.boolean(d.image != nullptr);
    if (d.image) d.image->save(w);
  }
  w.end_section();
  // The virtio disks' -snapshot overlays (only when there are virtio disks: older snapshots load).
  if (!cfg_.virtio_disks.empty()) {
    w.begin_section("VDRV", 1);
    for (const auto& d : cfg_.virtio_disks) d.image->save(w);
    w.end_section();
  }
  w.end_section();
}

void Machine::load_state(SnapshotReader& r) {
  pause();
  r.begin_section("VXSM", 1);
  check_config_fingerprint(r);  // (before anything changes)
  try {
    r.begin_section("CPUS", 1);
    const uint32_t cur = r.u32_max(static_cast<uint32_t>(cpus_.size() - 1), "running CPU index out of range");
    for (auto& c : cpus_) c->load(r);
    r.end_section();
    current_ = cpus_[cur].get();
    if (!threads_) clock_->set_counter(&current_->s.icount);
    clock_->load(r);
    load_ram(r, mem_.ram(), mem_.ram_size());
    host_->load(r);
    isa_->load(r);
    ide_->load(r);
    if (vga_pci_) vga_pci_->load(r);
    if (pm_) pm_->load(r);
    for (auto& n : nics_) n->load(r);
    for (auto& n : virtio_nets_) n->load(r);
    for (auto& v : virtio_blks_) v->load(r);
    pci_->load(r);
    pit_->load(r);
    rtc_->load(r);
    kbc_->load(r);
    if (com1_) com1_->load(r);
    if (vga_) vga_->load(r);
    sysctl_->load(r);
    ferr_->load(r);
    fw_cfg_->load(r);
    debug_.load(r);
    pic_->load(r);
    if (ioapic_) ioapic_->load(r);
    for (auto& a : lapics_) a->load(r);
    r.begin_section("BORD", 1);
    bool* wires[] = {&a20_92_, &a20_kbc_, &reset_requested_, &power_off_requested_, &shutdown_requested_};
    for (bool* b : wires) *b = r.boolean();
    r.end_section();
    r.begin_section("DRVS", 1);
    for (unsigned k = 0; k < cfg_.drives.size(); ++k) {
      const bool present = r.boolean();
      r.check(present == (cfg_.drives[k].image != nullptr), "drive present in the snapshot but not here");
      if (present) cfg_.drives[k].image->load(r);
    }
    r.end_section();
    if (!cfg_.virtio_disks.empty()) {
      r.begin_section("VDRV", 1);
      for (const auto& d : cfg_.virtio_disks) d.image->load(r);
      r.end_section();
    }
    r.end_section();
  } catch (...) {
    // Half a machine is worse than none: back to power-on, and the caller reports the error.
    reset();
    throw;
  }
  // Everything derived from what was loaded: the A20 line in every MMU (and no translation that
  // predates the new RAM contents), the network poll.
  a20_ = a20_92_ || a20_kbc_;
  for (auto& c : cpus_) {
    c->mmu.set_a20(a20_);
    c->a20_changed();
    c->mmu.flush();
  }
  schedule_net_poll();
}

void Machine::save_snapshot(const std::string& path) {
  std::vector<uint8_t> payload;
  payload.reserve(mem_.ram_size() / 4);
  SnapshotWriter w(payload);
  save_state(w);
  write_snapshot_file(path, payload);
}

void Machine::load_snapshot(const std::string& path) {
  // The largest payload this machine could have written: RAM, VRAM, the disks' overlays, and
  // room for every device's registers. Bounds the decompression of a hostile file.
  uint64_t max = uint64_t{mem_.ram_size()} + (vga_ ? Vga::kVramSize : 0) + (64u << 20);
  for (const auto& d : cfg_.drives)
    if (d.image) max += d.image->size() / DiskImage::kBlock * (DiskImage::kBlock + 8);
  for (const auto& d : cfg_.virtio_disks)
    max += d.image->size() / DiskImage::kBlock * (DiskImage::kBlock + 8);
  const std::vector<uint8_t> payload = read_snapshot_file(path, max);
  SnapshotReader r(payload);
  load_state(r);
  r.check(r.at_end(), "data after the machine's state");
}

}  // namespace vx86
