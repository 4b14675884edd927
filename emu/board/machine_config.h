// MachineConfig: everything the frontend (CLI, library API) decides about the board before it is
// built: memory, firmware, CPUs, time, the devices present and their host sides.
#pragma once
#include <array>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "devices/disk_image.h"
#include "devices/net/net_backend.h"
#include "devices/uart16550.h"
#include "emu/clock.h"
#include "mmu/mmu_scheme.h"

namespace vx86 {

struct MachineConfig {
  uint32_t ram_mb = 32;
  std::vector<uint8_t> bios;  // 64-256 KiB image, mapped below 1 MiB and below 4 GiB
  FILE* debugcon = stdout;    // port 0xe9
  FILE* bioslog = nullptr;    // port 0x402
  FILE* post_log = nullptr;   // port 0x80 (-d post)
  uint32_t log_mask = 0;
  FILE* log_file = stderr;
  std::vector<std::pair<uint32_t, uint32_t>> log_filter;  // -dfilter (Cpu::log_filter)
  uint64_t log_start = 0;                                 // -dstart (Cpu::log_start)
  // The translation tier (-jit on|off) and how often a block runs before it is translated.
  bool jit = true;
  // A local APIC (-apic on): CPUID reports it, Linux runs it in virtual-wire mode. Off until the
  // I/O APIC and the MP/ACPI tables exist (issue 13): SeaBIOS's MP table names an I/O APIC.
  bool apic = false;
  // CPUs (-smp N, 1-kMaxCpus; more than one needs the APIC): time-sliced round robin on this
  // thread, kSliceInsns instructions at a time.
  unsigned cpus = 1;
  // -smp N,threads=on: each CPU on its own host thread, in parallel (realtime only; the thread
  // that calls Machine::run runs the timers and host input). Off: time-sliced on one thread.
  bool threads = false;
  // ACPI (-acpi on|off): the PIIX4 PM function at 00:01.3 (PM timer, SCI on IRQ 9, S5 soft-off)
  // and the ACPI tables, handed to SeaBIOS through fw_cfg or placed in RAM by the direct loader.
  bool acpi = true;
  unsigned jit_threshold = 2;
  unsigned jit_tlb_checks = 1;  // -jit-tlb-checks: copies of each inline TLB check (Jit::tlb_checks)
  // -mmu shadow: each CPU keeps shadow page tables per guest address space (mmu/shadow_tables.h);
  // -mmu host: and translated code reaches guest RAM through host windows (mmu/host_windows.h).
  MmuScheme mmu = MmuScheme::Tlb;
  bool perfmap = false;  // the JIT names its blocks in /tmp/perf-PID.map

  // Time. Deterministic: virtual time = instructions * ps_per_insn (-icount shift=N: 2^N ns);
  // realtime: the host's clock.
  bool deterministic = false;
  uint64_t ps_per_insn = Clock::kDefaultPsPerInsn;
  // The RTC's date at power-on (Unix seconds, as the guest's wall clock reads it). Unset: the
  // host's UTC time in realtime mode, CmosRtc::kDefaultEpoch in deterministic mode.
  std::optional<int64_t> rtc_epoch;

  // COM1 (0x3F8, IRQ4): present or not (-serial none), and its host side (nullptr: output dropped,
  // as -serial null). The backend must outlive the machine.
  bool com1 = true;
  CharBackend* com1_backend = nullptr;

  // VGA (-vga std; false with -vga none): the PCI function 00:02.0 (1234:1111, QEMU's stdvga),
  // ports 0x3B0-0x3DF and Bochs VBE 0x1CE/0x1CF, the window 0xA0000-0xBFFFF, the linear
  // framebuffer at BAR0 (where the guest programs it). `vga_bios` (e.g. Debian's
  // vgabios-stdvga.bin; empty: none) is the function's expansion ROM (config 0x30): the BIOS
  // copies it to 0xC0000 and runs it (nothing maps it there by itself).
  bool vga = true;
  std::vector<uint8_t> vga_bios;

  // IDE drives: index 0-3 = primary master, primary slave, secondary master, secondary slave
  // (-hda..-hdd; -cdrom is index 2). A null image leaves the slot empty (an empty CD-ROM drive
  // when `cdrom` is set).
  struct Drive {
    std::shared_ptr<DiskImage> image;
    bool cdrom = false;
  };
  std::array<Drive, 4> drives;
  // SeaBIOS's boot order without fw_cfg: the CMOS bytes QEMU's BIOSes read (0x3D, 0x38): up to
  // three devices from 'a' (floppy), 'c' (hard disk), 'd' (CD-ROM), 'n' (network). Empty: the
  // BIOS's default.
  std::string boot_order;

  // Network cards (-device e1000,netdev=ID, -device virtio-net-pci,netdev=ID, -nic): Intel
  // 82540EM (e1000) or virtio-net functions at 00:03.0, 00:04.0, ... in this order, each on its
  // backend (user networking, a VDE switch, the in-process switch). The backends must outlive the
  // machine.
  enum class NicModel : uint8_t { E1000, VirtioNet };
  struct Nic {
    NetBackend* backend = nullptr;
    MacAddress mac{};
    NicModel model = NicModel::E1000;
  };
  std::vector<Nic> nics;
  static constexpr unsigned kFirstNicSlot = 3;

  // virtio-blk disks (-drive if=virtio, -device virtio-blk-pci,drive=ID): PCI functions in the
  // slots after the NICs (00:03.0 + nics.size() onwards), in this order. `serial` is what the
  // guest's GET_ID request reads (at most 20 bytes).
  struct VirtioDisk {
    std::shared_ptr<DiskImage> image;
    std::string serial;
  };
  std::vector<VirtioDisk> virtio_disks;
  unsigned first_virtio_slot() const { return kFirstNicSlot + static_cast<unsigned>(nics.size()); }
};

}  // namespace vx86
