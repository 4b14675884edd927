#include "frontend/cli.h"

#include <charconv>
#include <utility>
#include <vector>

namespace vx86 {

std::string cli_usage() {
  return "usage: vx86 -bios FILE [options]\n"
         "  -bios FILE             firmware image (64-256 KiB), mapped below 1 MiB and 4 GiB\n"
         "                         (default: " VX86_DEFAULT_BIOS
         ", Debian's SeaBIOS)\n"
         "  -kernel FILE           boot a Linux bzImage or a Multiboot kernel directly\n"
         "  -initrd FILE           Linux: the initrd; Multiboot: modules \"file args,file2\"\n"
         "  -append STRING         the kernel command line\n"
         "  -kernel-loader direct|bios  direct: vx86 loads -kernel and starts it (the default without\n"
         "                         a window); bios: the BIOS boots it (fw_cfg and an option ROM,\n"
         "                         as QEMU's -kernel; the default with a window: the VGA BIOS\n"
         "                         loads the text font)\n"
         "  -hda/-hdb/-hdc/-hdd FILE  raw IDE hard disk image (primary master/slave, secondary\n"
         "                         master/slave)\n"
         "  -cdrom FILE            ISO image in an ATAPI CD-ROM drive (secondary master, as -hdc)\n"
         "  -drive file=FILE[,format=raw|qcow2][,if=ide][,index=0-3|bus=B,unit=U][,media=disk|cdrom]\n"
         "         [,readonly=on][,snapshot=on]  an IDE drive (no index: the first free slot)\n"
         "  -drive file=FILE,if=virtio[,format=..][,readonly=on][,snapshot=on][,serial=S]\n"
         "                         a virtio-blk disk (PCI, in the slots after the network cards)\n"
         "  -drive id=ID,file=FILE,if=none[,...] + -device virtio-blk-pci,drive=ID[,serial=S]\n"
         "                         the same disk, as a drive and a device\n"
         "  -snapshot              writes to every disk go to a copy in memory, discarded at exit\n"
         "  -boot [order=]DRIVES   BIOS boot order: c (hard disk), d (CD-ROM), a (floppy),\n"
         "                         n (network), e.g. -boot d or -boot order=dc (default cad)\n"
         "  -netdev user,id=ID[,net=A.B.C.D/N][,hostfwd=[tcp|udp]:[HOSTADDR]:PORT-[GUESTADDR]:PORT]\n"
         "         [,restrict=on][,dns=ADDR][,dhcpstart=ADDR][,dump=FILE]  user-mode networking\n"
         "                         (DHCP, DNS; forwarded ports listen on 127.0.0.1 by default)\n"
         "  -netdev vde,id=ID,sock=PATH[,port=N]   a port on a VDE switch (vde_switch -s PATH)\n"
         "  -netdev hubport,id=ID,hubid=N          a port on vx86's in-process switch N\n"
         "  -device e1000,netdev=ID[,mac=MAC]      an Intel 82540EM network card on that backend\n"
         "  -device virtio-net-pci,netdev=ID[,mac=MAC]  a virtio-net card on that backend\n"
         "  -nic user|vde|hubport[,model=e1000|virtio-net-pci|virtio][,mac=MAC][,backend options]\n"
         "                         both at once (default: -nic user, an e1000)\n"
         "  -net none / -nic none  no network card\n"
         "  -object filter-dump,id=F,netdev=ID,file=FILE  capture the netdev's frames (pcap;\n"
         "                         the same as dump=FILE on the -netdev)\n"
         "  -m SIZE                guest RAM: MiB, or with a suffix M or G (1M-3G, default 32)\n"
         "  -nographic             no display window; serial and debug output on the terminal\n"
         "  -display sdl[,full-screen=on]|none   the VGA in a window (the default when the\n"
         "                         host has a display: $DISPLAY or $WAYLAND_DISPLAY), or none;\n"
         "                         in the window Ctrl+Alt+G releases the mouse, Ctrl+Alt+F\n"
         "                         toggles full screen\n"
         "  -full-screen           start the window in full screen\n"
         "  -debugcon stdio|file:PATH|none   where bytes written to port 0xe9 go (default stdio)\n"
         "  -bioslog stdio|file:PATH|none    where bytes written to port 0x402 go (default none)\n"
         "  -serial stdio|file:PATH|none|null  COM1's host side (default stdio; none: no COM1,\n"
         "                         null: COM1 present, output dropped); -nographic puts a terminal\n"
         "                         in raw mode, Ctrl-A x exits, Ctrl-A h lists the keys\n"
         "  -icount shift=N|auto   deterministic time: 2^N ns of virtual time per instruction\n"
         "                         (N 0-10); auto = realtime (the host's clock, the default)\n"
         "  -rtc base=utc|localtime|YYYY-MM-DD[THH:MM:SS]  the RTC's starting date (default utc;\n"
         "                         with -icount 2024-01-01T00:00:00 unless a date is given)\n"
         "  -d ITEM[,ITEM...]      log: in_asm (new blocks), cpu (registers per block),\n"
         "                         int (interrupts and exceptions), post (port 0x80 writes),\n"
         "                         jit (translation statistics at exit); -d help lists them\n"
         "  -D FILE                write the -d log to FILE instead of stderr\n"
         "  -dfilter RANGE[,...]   log blocks (in_asm, cpu, trace, exec) only at these linear\n"
         "                         addresses: START..END, START+SIZE or END-SIZE\n"
         "  -dstart N              log blocks only from guest instruction N on\n"
         "  -no-reboot             exit instead of resetting on a triple fault\n"
         "  -apic on|off           a local APIC at FEE00000h (CPUID reports it; default off)\n"
         "  -smp N[,threads=on|off] N CPUs (1-8; N > 1 turns the APIC on), time-sliced on one\n"
         "                         host thread, or each on its own host thread with threads=on\n"
         "  -accel tcg[,thread=multi|single]  QEMU's spelling of threads=on|off\n"
         "  -acpi on|off           ACPI: the PIIX4 PM function (PM timer, SCI, S5 power-off) and\n"
         "                         the ACPI tables (default on; -no-acpi is -acpi off)\n"
         "  -jit on|off            translate guest code to host code (default on; off: the\n"
         "                         interpreter runs everything, the reference tier)\n"
         "  -jit-threshold N       interpreted runs of a block before it is translated (default 2)\n"
         "  -jit-tlb-checks N      emit each inline TLB check N times (1-4, default 1): the\n"
         "                         added time per copy is what the checks cost (a measurement aid)\n"
         "  -mmu tlb|shadow|host   TLB misses walk the guest's page tables (tlb), or ask shadow\n"
         "                         page tables kept per address space first (shadow), or\n"
         "                         translated code reaches guest RAM through host-MMU windows of\n"
         "                         each address space (host; the default with the JIT, unless\n"
         "                         threads=on: there tlb, and an explicit host means shadow)\n"
         "  -gdb tcp:[HOST]:PORT   a gdb remote stub (HOST default 127.0.0.1); -s: tcp::1234\n"
         "  -gdb unix:PATH         the same on a Unix socket (gdb: target remote PATH)\n"
         "  -S                     do not start the CPU until gdb connects and continues\n"
         "  -perfmap               write /tmp/perf-PID.map naming each translated block by its\n"
         "                         guest address, so perf report attributes JIT samples\n"
         "  -vga std|none          VGA adapter (default std, with " VX86_DEFAULT_VGABIOS
         "\n"
         "                         in its PCI ROM BAR when it exists)\n"
         "  -vga-dump FILE         vx86: write the VGA text screen to FILE when vx86 exits\n"
         "  -screendump FILE       vx86: write the screen as an image when vx86 exits (PNG for\n"
         "                         *.png, else PPM), as QMP screendump does\n"
         "  -timeout SECONDS       stop after SECONDS of wall-clock time (exit status 124)\n"
         "  -insn-limit N          stop after about N guest instructions, at a block boundary\n"
         "                         (exit status 124; exact and repeatable with -icount)\n"
         "  -loadvm FILE           start from a snapshot file (saved by the library API or the\n"
         "                         QMP socket) instead of power-on; the other options must\n"
         "                         describe the same machine (memory, CPUs, firmware, devices)\n"
         "  -qmp unix:PATH,server[,nowait]\n"
         "                         the QMP control socket (docs/cli.md: stop, cont, savevm FILE,\n"
         "                         loadvm FILE, system_reset, system_powerdown, quit; events);\n"
         "                         without nowait vx86 waits for a client before the VM runs\n"
         "  --help, --version\n"
         "Exit status: (V << 1) | 1 when the guest writes V to port 0xf4 (isa-debug-exit);\n"
         "0 on a guest reset or triple fault with -no-reboot; 2 on an error (bad option or file);\n"
         "4 when the guest halts with nothing to wake it; 124 on -timeout.\n";
}

std::string cli_debug_help() {
  return "Log items for -d (comma-separated; the log goes to stderr or the -D file):\n"
         "  in_asm   disassembly of each newly translated block (lines start with \"IN:\")\n"
         "  out_asm  host code of each block the JIT translates (lines start with \"OUT:\")\n"
         "  cpu      registers before each block runs\n"
         "  int      interrupts and exceptions as they are delivered (\"INT:\")\n"
         "  post     writes to POST port 0x80 (\"POST:\")\n"
         "  jit      translation statistics when vx86 exits (\"jit:\")\n"
         "  mmu      page walks, shadow-table hits, invalidations by cause and address spaces\n"
         "           evicted, per CPU, when vx86 exits (\"mmu:\")\n"
         "  trace    one line of state per block (\"T \"), the same with -jit on and off;\n"
         "           scripts/trace-diff.py names the first difference of two such logs\n"
         "  tracesum the same state folded into a hash, one \"S icount hash\" line per 2^20\n"
         "           blocks: whole runs compare quickly (scripts/trace-diff.py --sum)\n"
         "  exec     each executed instruction: \"E count CS:EIP  disassembly\" (the lines of a\n"
         "           block are written as it starts); -dfilter limits both to address ranges\n";
}

namespace {
// One address of -dfilter: hex with 0x, or decimal; up to 32 bits.
bool parse_address(const std::string& s, uint64_t& v) {
  const bool hex = s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
  const char* first = s.data() + (hex ? 2 : 0);
  const auto r = std::from_chars(first, s.data() + s.size(), v, hex ? 16 : 10);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && first != r.ptr && v <= 0xFFFFFFFFu;
}
}  // namespace

// -dfilter RANGE[,RANGE...], as QEMU's: START..END (inclusive), START+SIZE, END-SIZE (the SIZE
// bytes that end at END).
std::optional<std::string> parse_dfilter(const std::string& v, std::vector<std::pair<uint32_t, uint32_t>>& out) {
  size_t start = 0;
  while (start <= v.size()) {
    const size_t comma = v.find(',', start);
    const std::string r = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const std::string bad = "invalid -dfilter range '" + r + "' (START..END, START+SIZE or END-SIZE)";
    uint64_t a, b;
    size_t op;
    if ((op = r.find("..")) != std::string::npos) {
      if (!parse_address(r.substr(0, op), a) || !parse_address(r.substr(op + 2), b) || b < a) return bad;
    } else if ((op = r.find_first_of("+-", 2)) != std::string::npos) {
      uint64_t n;
      if (!parse_address(r.substr(0, op), a) || !parse_address(r.substr(op + 1), n) || n == 0) return bad;
      if (r[op] == '+') {
        b = a + n - 1;
      } else {
        b = a;
        a = n - 1 > b ? 0 : b - (n - 1);
      }
      if (b > 0xFFFFFFFFu) b = 0xFFFFFFFFu;
    } else {
      if (!parse_address(r, a)) return bad;
      b = a;
    }
    out.emplace_back(static_cast<uint32_t>(a), static_cast<uint32_t>(b));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return std::nullopt;
}

namespace {
// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's civil algorithm).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SS" (years 1970-2099, what the RTC's century byte covers).
std::optional<int64_t> parse_date(const std::string& s) {
  auto num = [&](size_t pos, size_t len, unsigned lo, unsigned hi, unsigned& out) {
    if (pos + len > s.size()) return false;
    unsigned v = 0;
    for (size_t k = pos; k < pos + len; ++k) {
      if (s[k] < '0' || s[k] > '9') return false;
      v = v * 10 + static_cast<unsigned>(s[k] - '0');
    }
    out = v;
    return v >= lo && v <= hi;
  };
  unsigned y, mo, d, h = 0, mi = 0, sec = 0;
  if (!(s.size() == 10 || s.size() == 19)) return std::nullopt;
  if (!num(0, 4, 1970, 2099, y) || s[4] != '-' || !num(5, 2, 1, 12, mo) || s[7] != '-' || !num(8, 2, 1, 31, d))
    return std::nullopt;
  static constexpr unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap)) return std::nullopt;
  if (s.size() == 19 && (s[10] != 'T' || !num(11, 2, 0, 23, h) || s[13] != ':' || !num(14, 2, 0, 59, mi) ||
                         s[16] != ':' || !num(17, 2, 0, 59, sec)))
    return std::nullopt;
  return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
}

// "key=value,key=value" -> pairs; an item without '=' gets the key "" (QEMU's implied option).
std::vector<std::pair<std::string, std::string>> split_opts(const std::string& v) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t start = 0;
  while (start <= v.size()) {
    size_t comma = v.find(',', start);
    std::string item = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    size_t eq = item.find('=');
    if (eq == std::string::npos) out.emplace_back("", item);
    else out.emplace_back(item.substr(0, eq), item.substr(eq + 1));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::optional<bool> on_off(const std::string& v) {
  if (v == "on" || v == "yes" || v == "true") return true;
  if (v == "off" || v == "no" || v == "false") return false;
  return std::nullopt;
}

std::optional<std::string> parse_drive(const std::string& v, DriveOption& d) {
  int bus = -1, unit = -1;
  for (const auto& [key, val] : split_opts(v)) {
    if (key == "file") {
      d.file = val;
    } else if (key == "format") {
      if (val != "raw" && val != "qcow2") return "unsupported -drive format '" + val + "' (raw or qcow2)";
      d.format = val;
    } else if (key == "if") {
      if (val != "ide" && val != "virtio" && val != "none")
        return "unsupported -drive interface '" + val + "' (ide, virtio or none)";
      d.iface = val;
    } else if (key == "id") {
      if (val.empty()) return std::string("-drive id= needs a name");
      d.id = val;
    } else if (key == "serial") {
      if (val.size() > 20) return "-drive serial '" + val + "' is longer than 20 characters";
      d.serial = val;
    } else if (key == "index") {
      if (val.size() != 1 || val[0] < '0' || val[0] > '3') return "invalid -drive index '" + val + "' (0-3)";
      d.index = val[0] - '0';
    } else if (key == "bus" || key == "unit") {
      if (val != "0" && val != "1") return "invalid -drive " + key + " '" + val + "' (0 or 1)";
      (key == "bus" ? bus : unit) = val[0] - '0';
    } else if (key == "media") {
      if (val != "disk" && val != "cdrom") return "invalid -drive media '" + val + "' (disk or cdrom)";
      d.cdrom = val == "cdrom";
    } else if (key == "readonly" || key == "snapshot") {
      auto b = on_off(val);
      if (!b) return "invalid -drive " + key + " value '" + val + "' (on or off)";
      (key == "readonly" ? d.readonly : d.snapshot) = *b;
    } else {
      return "unsupported -drive option '" + (key.empty() ? val : key) +
             "' (file, format, if, id, index, bus, unit, media, readonly, snapshot, serial)";
    }
  }
  if (d.file.empty()) return std::string("-drive needs file=FILE");
  if (d.iface != "ide") {
    if (d.index >= 0 || bus >= 0 || unit >= 0)
      return "-drive if=" + d.iface + " takes no index=, bus= or unit=";
    if (d.cdrom) return "-drive if=" + d.iface + " is a disk (media=cdrom is IDE only)";
    if (d.iface == "none" && d.id.empty())
      return std::string("-drive if=none needs id=ID (for -device ...,drive=ID)");
    return std::nullopt;
  }
  if (!d.serial.empty()) return std::string("-drive serial= is for virtio disks (if=virtio or if=none)");
  if (bus >= 0 || unit >= 0) {
    const int index = (bus < 0 ? 0 : bus) * 2 + (unit < 0 ? 0 : unit);
    if (d.index >= 0 && d.index != index) return std::string("-drive index= disagrees with bus=/unit=");
    d.index = index;
  }
  return std::nullopt;
}

// -device virtio-blk-pci,drive=ID[,serial=S] (QEMU's bus=, addr= and id= are accepted and ignored).
std::optional<std::string> parse_virtio_blk_device(const std::string& v, VirtioBlkDeviceOption& dev) {
  const auto kv = split_opts(v);
  for (size_t i = 1; i < kv.size(); ++i) {
    const auto& [key, val] = kv[i];
    if (key == "drive") {
      dev.drive = val;
    } else if (key == "serial") {
      if (val.size() > 20) return "-device virtio-blk-pci: serial '" + val + "' is longer than 20 characters";
      dev.serial = val;
    } else if (key == "id" || key == "bus" || key == "addr") {
    } else {
      return "-device virtio-blk-pci: unknown option '" + (key.empty() ? val : key) + "' (drive, serial)";
    }
  }
  if (dev.drive.empty()) return std::string("-device virtio-blk-pci needs drive=ID");
  return std::nullopt;
}

bool is_virtio_blk_device(const std::string& v) {
  const std::string model = v.substr(0, v.find(','));
  return model == "virtio-blk-pci" || model == "virtio-blk";
}

// The virtio disks in command-line order: each -drive if=virtio, and each -device with the
// -drive if=none it names (used once); every if=none drive must be used.
std::optional<std::string> resolve_virtio_drives(CliOptions& o) {
  std::vector<bool> used(o.drives.size(), false);
  for (size_t i = 0; i < o.drives.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (!o.drives[i].id.empty() && o.drives[i].id == o.drives[j].id)
        return "-drive id '" + o.drives[i].id + "' is given twice";
  for (const auto& [dev, at] : o.virtio_order) {
    if (dev.drive.empty()) {
      o.virtio_drives.push_back(o.drives[at]);
      continue;
    }
    size_t k = 0;
    while (k < o.drives.size() && o.drives[k].id != dev.drive) ++k;
    if (k == o.drives.size()) return "-device virtio-blk-pci: no -drive with id '" + dev.drive + "'";
    if (o.drives[k].iface != "none")
      return "-device virtio-blk-pci: drive '" + dev.drive + "' must be given with if=none";
    if (used[k]) return "-device virtio-blk-pci: drive '" + dev.drive + "' is used twice";
    used[k] = true;
    DriveOption d = o.drives[k];
    if (!dev.serial.empty()) d.serial = dev.serial;
    o.virtio_drives.push_back(d);
  }
  for (size_t k = 0; k < o.drives.size(); ++k)
    if (o.drives[k].iface == "none" && !used[k])
      return "-drive id '" + o.drives[k].id + "' (if=none) is not used by any -device";
  std::vector<DriveOption> ide;
  for (DriveOption& d : o.drives)
    if (d.iface == "ide") ide.push_back(std::move(d));
  o.drives = std::move(ide);
  o.virtio_order.clear();
  return std::nullopt;
}

std::optional<std::string> parse_boot(const std::string& v, std::string& order) {
  auto valid = [](const std::string& s) {
    if (s.empty() || s.size() > 3) return false;
    for (char c : s)
      if (c != 'a' && c != 'c' && c != 'd' && c != 'n') return false;
    return true;
  };
  for (const auto& [key, val] : split_opts(v)) {
    if (key.empty() || key == "order" || key == "once") {
      if (!valid(val)) return "invalid -boot order '" + val + "' (up to 3 of a, c, d, n)";
      order = val;
    } else if (key != "menu" && key != "splash" && key != "splash-time" && key != "reboot-timeout" &&
               key != "strict") {
      return "unsupported -boot option '" + key + "' (order=, once=)";
    }
  }
  return std::nullopt;
}

bool valid_sink(const std::string& s) {
  return s == "stdio" || s == "none" || (s.rfind("file:", 0) == 0 && s.size() > 5);
}
}  // namespace

std::optional<std::string> parse_cli(const std::vector<std::string>& args, CliOptions& o) {
  for (size_t k = 0; k < args.size(); ++k) {
    std::string a = args[k];
    if (a.rfind("--", 0) == 0 && a != "--help" && a != "--version") a = a.substr(1);  // --m == -m
    auto value = [&](std::string& v) -> std::optional<std::string> {
      if (k + 1 >= args.size()) return "option " + a + " needs a value";
      v = args[++k];
      return std::nullopt;
    };
    std::string v;
    if (a == "--help" || a == "-help" || a == "-h") {
      o.help = true;
    } else if (a == "--version" || a == "-version") {
      o.version = true;
    } else if (a == "-bios") {
      if (auto e = value(o.bios)) return e;
    } else if (a == "-kernel") {
      if (auto e = value(o.kernel)) return e;
    } else if (a == "-kernel-loader") {
      if (auto e = value(o.kernel_loader)) return e;
      if (o.kernel_loader != "direct" && o.kernel_loader != "bios")
        return "invalid -kernel-loader value '" + o.kernel_loader + "' (direct or bios)";
    } else if (a == "-initrd") {
      if (auto e = value(o.initrd)) return e;
    } else if (a == "-append") {
      if (auto e = value(o.append)) return e;
    } else if (a == "-m") {
      if (auto e = value(v)) return e;
      unsigned scale = 1;
      if (!v.empty() && (v.back() == 'M' || v.back() == 'm')) {
        v.pop_back();
      } else if (!v.empty() && (v.back() == 'G' || v.back() == 'g')) {
        v.pop_back();
        scale = 1024;
      }
      unsigned n = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (v.empty() || ec != std::errc() || p != v.data() + v.size() || n < 1 || n > 3072 / scale)
        return "invalid -m value '" + args[k] + "' (MiB, or with suffix M or G; 1M-3G)";
      o.ram_mb = n * scale;
    } else if (a == "-nographic") {
      o.nographic = true;
    } else if (a == "-display") {
      if (auto e = value(v)) return e;
      const size_t comma = v.find(',');
      const std::string kind = v.substr(0, comma);
      if (kind != "sdl" && kind != "none") return "invalid -display value '" + v + "' (sdl or none)";
      o.display = kind;
      if (comma != std::string::npos) {
        const std::string opt = v.substr(comma + 1);
        if (kind != "sdl" || (opt != "full-screen=on" && opt != "full-screen=off"))
          return "invalid -display option '" + opt + "' (sdl takes full-screen=on|off)";
        o.full_screen = opt == "full-screen=on";
      }
    } else if (a == "-full-screen") {
      o.full_screen = true;
    } else if (a == "-debugcon" || a == "-bioslog") {
      if (auto e = value(v)) return e;
      if (!valid_sink(v)) return "invalid " + a + " value '" + v + "' (stdio, file:PATH or none)";
      (a == "-debugcon" ? o.debugcon : o.bioslog) = v;
    } else if (a == "-serial") {
      if (auto e = value(v)) return e;
      if (!valid_sink(v) && v != "null")
        return "invalid -serial value '" + v + "' (stdio, file:PATH, none or null)";
      o.serial = v;
    } else if (a == "-icount") {
      if (auto e = value(v)) return e;
      std::string n = v.rfind("shift=", 0) == 0 ? v.substr(6) : v;
      if (n == "auto") {
        o.icount_auto = true;
        o.icount_shift = -1;
        continue;
      }
      int shift = -1;
      auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), shift);
      if (n.empty() || ec != std::errc() || p != n.data() + n.size() || shift < 0 || shift > 10)
        return "invalid -icount value '" + v + "' (shift=N with N 0-10, or shift=auto)";
      o.icount_shift = shift;
      o.icount_auto = false;
    } else if (a == "-rtc") {
      if (auto e = value(v)) return e;
      // Comma-separated suboptions; base= is the one vx86 uses (clock=, driftfix= are accepted).
      size_t start = 0;
      while (start <= v.size()) {
        size_t comma = v.find(',', start);
        std::string item = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (item.rfind("base=", 0) == 0) {
          std::string b = item.substr(5);
          if (b == "utc" || b == "localtime") {
            o.rtc_base = b;
            o.rtc_date.reset();
          } else if (auto t = parse_date(b)) {
            o.rtc_base = b;
            o.rtc_date = t;
          } else {
            return "invalid -rtc base '" + b + "' (utc, localtime or YYYY-MM-DDTHH:MM:SS, 1970-2099)";
          }
        } else if (item.rfind("clock=", 0) != 0 && item.rfind("driftfix=", 0) != 0) {
          return "invalid -rtc option '" + item + "' (base=utc|localtime|DATE)";
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else if (a == "-d") {
      if (auto e = value(v)) return e;
      if (v == "help") {
        o.debug_help = true;
        continue;
      }
      size_t start = 0;
      while (start <= v.size()) {
        size_t comma = v.find(',', start);
        std::string item = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (item != "in_asm" && item != "out_asm" && item != "cpu" && item != "int" && item != "post" &&
            item != "jit" && item != "trace" && item != "tracesum" && item != "exec" && item != "mmu")
          return "unknown -d item '" + item +
                 "' (in_asm, out_asm, cpu, int, post, jit, trace, tracesum, exec, mmu)";
        o.debug_items.push_back(item);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else if (a == "-D") {
      if (auto e = value(o.log_path)) return e;
    } else if (a == "-dfilter") {
      if (auto e = value(v)) return e;
      if (auto e = parse_dfilter(v, o.log_filter)) return e;
    } else if (a == "-hda" || a == "-hdb" || a == "-hdc" || a == "-hdd" || a == "-cdrom") {
      DriveOption d;
      if (auto e = value(d.file)) return e;
      d.cdrom = a == "-cdrom";
      d.index = d.cdrom ? 2 : a[3] - 'a';
      o.drives.push_back(d);
    } else if (a == "-drive") {
      if (auto e = value(v)) return e;
      DriveOption d;
      if (auto e = parse_drive(v, d)) return e;
      if (d.iface == "virtio") o.virtio_order.push_back({VirtioBlkDeviceOption{}, o.drives.size()});
      o.drives.push_back(d);
    } else if (a == "-device" && k + 1 < args.size() && is_virtio_blk_device(args[k + 1])) {
      if (auto e = value(v)) return e;
      VirtioBlkDeviceOption dev;
      if (auto e = parse_virtio_blk_device(v, dev)) return e;
      o.virtio_order.push_back({dev, 0});
    } else if (a == "-netdev" || a == "-nic" || a == "-device" || a == "-net" || a == "-object") {
      if (auto e = value(v)) return e;
      auto err = a == "-netdev"   ? parse_netdev(v, o.net)
                 : a == "-nic"    ? parse_nic(v, o.net)
                 : a == "-device" ? parse_device(v, o.net)
                 : a == "-net"    ? parse_net(v, o.net)
                                  : parse_object(v, o.net);
      if (err) return err;
    } else if (a == "-snapshot") {
      o.snapshot = true;
    } else if (a == "-loadvm") {
      if (auto e = value(v)) return e;
      o.loadvm = v;
    } else if (a == "-qmp") {
      if (auto e = value(o.qmp)) return e;
    } else if (a == "-boot") {
      if (auto e = value(v)) return e;
      if (auto e = parse_boot(v, o.boot_order)) return e;
    } else if (a == "-vga") {
      if (auto e = value(v)) return e;
      if (v != "std" && v != "none") return "invalid -vga value '" + v + "' (std or none)";
      o.vga = v;
    } else if (a == "-vga-dump") {
      if (auto e = value(o.vga_dump)) return e;
    } else if (a == "-screendump") {
      if (auto e = value(o.screendump)) return e;
    } else if (a == "-apic") {
      if (auto e = value(v)) return e;
      if (v != "on" && v != "off") return "invalid -apic value '" + v + "' (on or off)";
      o.apic = v == "on";
    } else if (a == "-smp") {
      if (auto e = value(v)) return e;
      std::string n = v.substr(0, v.find(','));
      if (n.rfind("cpus=", 0) == 0) n = n.substr(5);
      char* endp = nullptr;
      const unsigned long k = std::strtoul(n.c_str(), &endp, 10);
      if (n.empty() || *endp || k < 1 || k > 8) return "invalid -smp value '" + v + "' (1-8 CPUs)";
      o.cpus = static_cast<unsigned>(k);
      for (size_t at = v.find(','); at != std::string::npos;) {
        const size_t next = v.find(',', at + 1);
        const std::string opt = v.substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1);
        if (opt == "threads=on") o.threads = true;
        else if (opt == "threads=off") o.threads = false;
        else return "invalid -smp option '" + opt + "' (threads=on or threads=off)";
        at = next;
      }
    } else if (a == "-accel") {
      if (auto e = value(v)) return e;
      if (v == "tcg" || v == "tcg,thread=single") o.threads = false;
      else if (v == "tcg,thread=multi") o.threads = true;
      else return "invalid -accel value '" + v + "' (tcg, tcg,thread=single or tcg,thread=multi)";
    } else if (a == "-acpi") {
      if (auto e = value(v)) return e;
      if (v != "on" && v != "off") return "invalid -acpi value '" + v + "' (on or off)";
      o.acpi = v == "on";
    } else if (a == "-no-acpi") {
      o.acpi = false;
    } else if (a == "-jit") {
      if (auto e = value(v)) return e;
      if (v != "on" && v != "off") return "invalid -jit value '" + v + "' (on or off)";
      o.jit = v == "on";
    } else if (a == "-mmu") {
      if (auto e = value(v)) return e;
      if (v != "tlb" && v != "shadow" && v != "host")
        return "invalid -mmu value '" + v + "' (tlb, shadow or host)";
      o.mmu = v == "host" ? MmuScheme::Host : v == "shadow" ? MmuScheme::Shadow : MmuScheme::Tlb;
    } else if (a == "-jit-threshold") {
      if (auto e = value(v)) return e;
      unsigned t = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), t);
      if (ec != std::errc() || p != v.data() + v.size() || t > 1000000)
        return "invalid -jit-threshold value '" + v + "' (0-1000000)";
      o.jit_threshold = t;
    } else if (a == "-jit-tlb-checks") {
      if (auto e = value(v)) return e;
      unsigned n = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || p != v.data() + v.size() || n < 1 || n > 4)
        return "invalid -jit-tlb-checks value '" + v + "' (1-4)";
      o.jit_tlb_checks = n;
    } else if (a == "-s") {
      o.gdb_port = 1234;
    } else if (a == "-S") {
      o.gdb_wait = true;
    } else if (a == "-gdb") {
      if (auto e = value(v)) return e;
      if (v.rfind("unix:", 0) == 0) {
        // QEMU's spelling may add ",server=on,wait=off": vx86 is always the server and never waits.
        o.gdb_unix = v.substr(5, v.find(',') == std::string::npos ? std::string::npos : v.find(',') - 5);
        if (o.gdb_unix.empty() || o.gdb_unix.size() > 100)
          return "invalid -gdb socket path '" + o.gdb_unix + "' (1-100 characters)";
        continue;
      }
      const size_t colon = v.rfind(':');
      if (v.rfind("tcp:", 0) != 0 || colon == std::string::npos || colon < 3)
        return "invalid -gdb value '" + v + "' (tcp:[HOST]:PORT or unix:PATH)";
      const std::string host = v.substr(4, colon - 4), port = v.substr(colon + 1);
      unsigned n = 0;
      auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
      if (ec != std::errc() || p != port.data() + port.size() || n == 0 || n > 65535)
        return "invalid -gdb port '" + port + "' (1-65535)";
      o.gdb_port = static_cast<uint16_t>(n);
      if (!host.empty()) o.gdb_host = host;
    } else if (a == "-perfmap") {
      o.perfmap = true;
    } else if (a == "-no-reboot") {
      o.no_reboot = true;
    } else if (a == "-dstart") {
      if (auto e = value(v)) return e;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), o.log_start);
      if (ec != std::errc() || p != v.data() + v.size())
        return "invalid -dstart value '" + v + "' (an instruction count)";
    } else if (a == "-insn-limit") {
      if (auto e = value(v)) return e;
      uint64_t n = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || p != v.data() + v.size() || n == 0)
        return "invalid -insn-limit value '" + v + "' (instructions > 0)";
      o.insn_limit = n;
    } else if (a == "-timeout") {
      if (auto e = value(v)) return e;
      double t = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), t);
      if (ec != std::errc() || p != v.data() + v.size() || t <= 0)
        return "invalid -timeout value '" + v + "' (seconds > 0)";
      o.timeout_s = t;
    } else {
      return "unknown option '" + args[k] + "' (see --help)";
    }
  }
  if (o.help || o.version || o.debug_help) return std::nullopt;
  if (o.nographic && !o.display.empty()) return std::string("-nographic cannot be used with -display");
  if (o.kernel.empty() && (!o.initrd.empty() || !o.append.empty()))
    return std::string(o.initrd.empty() ? "-append" : "-initrd") + " needs -kernel";
  if (auto e = resolve_virtio_drives(o)) return e;
  // IDE slots: explicit indexes first, then -drive without index= in the first free slot.
  bool used[4] = {};
  for (const DriveOption& d : o.drives) {
    if (d.index < 0) continue;
    if (used[d.index]) return "IDE drive index " + std::to_string(d.index) + " is given twice";
    used[d.index] = true;
  }
  for (DriveOption& d : o.drives) {
    if (d.index >= 0) continue;
    for (int k = 0; k < 4 && d.index < 0; ++k)
      if (!used[k]) used[d.index = k] = true;
    if (d.index < 0) return "too many IDE drives (4 at most)";
  }
  if (auto e = finish_net_options(o.net)) return e;
  if (o.bios.empty()) o.bios = VX86_DEFAULT_BIOS;  // QEMU, too, boots its SeaBIOS by default
  return std::nullopt;
}

}  // namespace vx86
