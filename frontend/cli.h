// Command-line parsing for the vx86 program (QEMU-style options).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "frontend/net_options.h"
#include "mmu/mmu_scheme.h"

namespace vx86 {

// One IDE drive (-hda..-hdd, -cdrom, -drive). index: 0-3 = primary master/slave, secondary
// master/slave; -1 = the first free slot (-drive without index=).
struct DriveOption {
  std::string file;
  int index = -1;
  bool cdrom = false;
  bool readonly = false;
  bool snapshot = false;
  std::string format;  // "raw", "qcow2", or "" (probed from the file)
  // if=: "ide", "virtio" (a virtio-blk disk), "none" (a backend for -device virtio-blk-pci,drive=ID)
  std::string iface = "ide";
  std::string id;      // id= (-drive if=none)
  std::string serial;  // serial= (virtio: what the guest reads with GET_ID)
};

// -device virtio-blk-pci,drive=ID[,serial=S] (before the options are finished).
struct VirtioBlkDeviceOption {
  std::string drive;
  std::string serial;
};

struct CliOptions {
  std::string bios;                      // default: Debian's SeaBIOS (VX86_DEFAULT_BIOS)
  std::string kernel, initrd, append;    // direct kernel boot (Linux bzImage or Multiboot)
  uint32_t ram_mb = 32;
  bool nographic = false;
  std::string display;                   // -display sdl|none; "": the program picks (a window if it can)
  bool full_screen = false;              // -full-screen, -display sdl,full-screen=on
  std::vector<std::string> debug_items;  // -d in_asm,cpu,int,post,jit
  std::string log_path;                  // -D
  std::vector<std::pair<uint32_t, uint32_t>> log_filter;  // -dfilter: inclusive linear ranges
  uint64_t log_start = 0;                // -dstart: per-block logs from this instruction count on
  std::string debugcon = "stdio";        // -debugcon stdio|file:PATH|none
  std::string bioslog = "none";          // -bioslog stdio|file:PATH|none
  std::string serial;                    // -serial stdio|file:PATH|none|null ("" = the default)
  int icount_shift = -1;                 // -icount shift=N: deterministic, 2^N ns per instruction
  bool icount_auto = false;              // -icount shift=auto: realtime (noted on stderr)
  std::string rtc_base = "utc";          // -rtc base=utc|localtime|YYYY-MM-DDTHH:MM:SS
  std::optional<int64_t> rtc_date;       // the parsed date of -rtc base=DATE (Unix seconds, as given)
  bool no_reboot = false;
  bool jit = true;                       // -jit on|off: translate guest code (off: interpreter only)
  bool apic = false;                     // -apic on|off: a local APIC
  unsigned cpus = 1;           // -smp N
  bool threads = false;          // -smp N,threads=on or -accel tcg,thread=multi: a host thread per CPU
  // -kernel-loader direct|bios: -kernel without or through SeaBIOS; "": direct; "auto" (set by the
  // program when it shows a window): a Linux kernel through SeaBIOS when there is a VGA BIOS (it
  // loads the font a text console needs).
  std::string kernel_loader;
  bool acpi = true;                      // -acpi on|off (-no-acpi): PM function, ACPI tables
  unsigned jit_threshold = 2;
  unsigned jit_tlb_checks = 1;
  std::optional<MmuScheme> mmu;  // -mmu tlb|shadow|host (default: host with the JIT, else tlb)
                                   // -jit-threshold N: runs in the interpreter before translation
  // -s / -gdb tcp:[HOST]:PORT: a gdb remote stub (gdb_port 0: none); -S: start paused for it.
  std::string gdb_host = "127.0.0.1";
  uint16_t gdb_port = 0;
  std::string gdb_unix;  // -gdb unix:PATH (instead of a TCP port)
  bool gdb_wait = false;
  bool perfmap = false;                  // -perfmap: name translated blocks for perf (/tmp/perf-PID.map)
  std::string vga = "std";               // -vga std|none
  std::string vga_bios;                  // default: Debian's vgabios-stdvga.bin when installed
  std::string vga_dump;                  // -vga-dump FILE: the VGA text screen, written at exit
  std::string screendump;                // -screendump FILE: the screen as an image (.png, else PPM), at exit
  std::vector<DriveOption> drives;       // after parsing: IDE drives only, every index 0-3 once
  // virtio-blk disks in command-line order (-drive if=virtio, and -device virtio-blk-pci with its
  // -drive if=none), resolved after parsing; PCI slots after the NICs in this order.
  std::vector<DriveOption> virtio_drives;
  // While parsing: each -drive if=virtio (an empty `drive`, with the DriveOption's position in
  // `drives`) or -device virtio-blk-pci, in command-line order.
  std::vector<std::pair<VirtioBlkDeviceOption, size_t>> virtio_order;
  bool snapshot = false;                 // -snapshot: every disk copy-on-write in memory
  std::string boot_order;                // -boot: device letters (a, c, d, n), "" = default
  NetOptions net;                        // -netdev, -nic, -device e1000, -net none, -object
  double timeout_s = 0;                                    // 0 = none
  uint64_t insn_limit = 0;                                 // -insn-limit N: stop after N instructions
  std::string loadvm;                                      // -loadvm FILE: start from a snapshot
  std::string qmp;                                         // -qmp unix:PATH,server[,nowait]
  bool help = false, version = false, debug_help = false;  // --help, --version, -d help
};

// Parses argv; on a bad option returns an error message (one line, no trailing newline).
std::optional<std::string> parse_cli(const std::vector<std::string>& args, CliOptions& out);
std::string cli_usage();
std::string cli_debug_help();  // the -d items, for `-d help`
// -dfilter's ranges (inclusive), appended to `out`; an error message if malformed.
std::optional<std::string> parse_dfilter(const std::string& v, std::vector<std::pair<uint32_t, uint32_t>>& out);

}  // namespace vx86
