// vx86: the command-line emulator.
//
// Exit status (documented in docs/cli.md):
//   (V << 1) | 1  the guest wrote V to isa-debug-exit (port 0xf4), as QEMU
//   0             the guest reset or triple-faulted and -no-reboot was given (as QEMU)
//   2             vx86 could not run: bad option, unreadable or malformed file, internal error
//   4             the guest stopped for good: HLT with nothing that could ever wake it
//   124           -timeout expired (as timeout(1))
#include <poll.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>

#include "emu/board/linux_boot.h"
#include "emu/board/machine.h"
#include "frontend/cli.h"
#include "frontend/gdb_stub.h"
#include "jit/jit.h"

using namespace vx86;

namespace {

constexpr int EXIT_ERROR = 2;
constexpr int EXIT_STUCK = 4;
constexpr int EXIT_TIMEOUT = 124;

[[noreturn]] void die(const std::string& msg) {
  std::fflush(stdout);
  std::fprintf(stderr, "vx86: %s\n", msg.c_str());
  std::exit(EXIT_ERROR);
}

FILE* open_sink(const std::string& spec, const char* what) {
  if (spec == "none") return nullptr;
  if (spec == "stdio") return stdout;
  const std::string path = spec.substr(5);  // file:PATH
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) die(std::string("cannot open ") + what + " file '" + path + "': " + std::strerror(errno));
  return f;
}

// ---- the terminal: raw mode while the guest runs (-nographic with a tty on stdin) ----
// Restored on every way out: normal return, exit() (atexit), and fatal or terminating signals.
struct termios g_saved_tty;
volatile sig_atomic_t g_tty_raw = 0;

void restore_tty() {
  if (g_tty_raw) {
    tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_tty);
    g_tty_raw = 0;
  }
}

void tty_signal(int sig) {
  restore_tty();  // tcsetattr is async-signal-safe
  signal(sig, SIG_DFL);
  raise(sig);
}

void enter_raw_tty() {
  if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &g_saved_tty) != 0) return;
  struct termios raw = g_saved_tty;
  // No line editing, echo, signals from keys (Ctrl-C goes to the guest) or input translation;
  // output post-processing stays on so the host terminal still turns "\n" into a new line.
  raw.c_iflag &= ~static_cast<tcflag_t>(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
  raw.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
  raw.c_cflag = (raw.c_cflag & ~static_cast<tcflag_t>(CSIZE | PARENB)) | CS8;
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  static bool hooked = false;
  if (!hooked) {
    hooked = true;
    std::atexit(restore_tty);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) {
      struct sigaction sa {};
      sa.sa_handler = tty_signal;
      sigemptyset(&sa.sa_mask);
      sigaction(sig, &sa, nullptr);
    }
  }
  if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0) g_tty_raw = 1;
}

// COM1 on the terminal with QEMU's escape keys: Ctrl-A x quits, Ctrl-A h lists the keys,
// Ctrl-A Ctrl-A sends one Ctrl-A to the guest.
class ConsoleBackend : public StdioCharBackend {
 public:
  explicit ConsoleBackend(bool escapes) : StdioCharBackend(stdout, STDIN_FILENO), escapes_(escapes) {}
  size_t poll_input(uint8_t* buf, size_t max) override {
    size_t n = StdioCharBackend::poll_input(buf, max);
    if (!escapes_) return n;
    size_t out = 0;
    for (size_t k = 0; k < n; ++k) {
      uint8_t b = buf[k];
      if (!escape_) {
        if (b == 0x01) escape_ = true;
        else buf[out++] = b;
        continue;
      }
      escape_ = false;
      if (b == 'x' || b == 'X') {
        quit = true;
      } else if (b == 'h' || b == 'H' || b == '?') {
        std::fputs("\r\nC-a h    print this help\r\nC-a x    exit vx86\r\nC-a C-a  send C-a\r\n", stderr);
      } else if (b == 0x01) {
        buf[out++] = b;
      }
    }
    return out;
  }
  bool quit = false;

 private:
  bool escapes_;
  bool escape_ = false;
};

// Reads a whole file the user named; `what` names it in the one-line error ("BIOS image", ...).
std::vector<uint8_t> read_image(const std::string& path, const std::string& what = "BIOS image") {
  std::error_code ec;
  auto st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st)) die("cannot open " + what + " '" + path + "': No such file or directory");
  if (!std::filesystem::is_regular_file(st)) die(what + " '" + path + "' is not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) die("cannot open " + what + " '" + path + "': " + std::strerror(errno));
  std::vector<uint8_t> data{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) die("cannot read " + what + " '" + path + "'");
  return data;
}

// -kernel/-initrd/-append: what the loader needs, read once; loaded again after every reset.
struct DirectBoot {
  std::vector<uint8_t> kernel;
  std::vector<BootModule> modules;
  std::string cmdline, name;
};

DirectBoot read_direct_boot(const CliOptions& o) {
  DirectBoot b;
  b.kernel = read_image(o.kernel, "kernel");
  b.cmdline = o.append;
  b.name = o.kernel;
  KernelKind kind = detect_kernel(b.kernel);
  if (kind == KernelKind::Unknown) die("'" + o.kernel + "' is neither a Linux bzImage nor a Multiboot kernel");
  if (o.initrd.empty()) return b;
  if (kind == KernelKind::Linux) {
    b.modules.push_back({read_image(o.initrd, "initrd"), ""});
  } else {
    for (const std::string& m : split_module_list(o.initrd))
      b.modules.push_back({read_image(module_file_name(m), "Multiboot module"), m});
  }
  return b;
}

int run(const CliOptions& o) {
  MachineConfig cfg;
  cfg.ram_mb = o.ram_mb;
  cfg.jit = o.jit;
  cfg.apic = o.apic || o.cpus > 1;
  cfg.cpus = o.cpus;
  cfg.threads = o.threads;
  if (o.threads && o.icount_shift >= 0)
    die("CPUs on host threads (threads=on) cannot run in deterministic time (-icount shift=N)");
  if (o.threads && (o.gdb_port || !o.gdb_unix.empty()))
    die("the gdb stub cannot be used with CPUs on host threads (threads=on)");
  cfg.acpi = o.acpi;
  cfg.jit_threshold = o.jit_threshold;
  cfg.perfmap = o.perfmap;
  cfg.bios = read_image(o.bios);
  if (std::string e = validate_bios(cfg.bios); !e.empty()) die("'" + o.bios + "': " + e);
  cfg.debugcon = open_sink(o.debugcon, "debugcon");
  cfg.bioslog = open_sink(o.bioslog, "bioslog");
  if (!o.log_path.empty()) {
    cfg.log_file = std::fopen(o.log_path.c_str(), "w");
    if (!cfg.log_file) die("cannot open log file '" + o.log_path + "': " + std::strerror(errno));
    std::setvbuf(cfg.log_file, nullptr, _IOFBF, 1 << 20);  // -d exec writes a line per instruction
  }
  cfg.log_filter = o.log_filter;
  for (const auto& d : o.debug_items) {
    if (d == "in_asm") cfg.log_mask |= LOG_IN_ASM;
    if (d == "out_asm") cfg.log_mask |= LOG_OUT_ASM;
    if (d == "cpu") cfg.log_mask |= LOG_CPU;
    if (d == "int") cfg.log_mask |= LOG_INT;
    if (d == "jit") cfg.log_mask |= LOG_JIT;
    if (d == "trace") cfg.log_mask |= LOG_TRACE;
    if (d == "exec") cfg.log_mask |= LOG_EXEC;
    if (d == "post") {
      cfg.log_mask |= LOG_POST;
      cfg.post_log = cfg.log_file;
    }
  }

  // Time and the RTC.
  if (o.icount_shift >= 0) {
    cfg.deterministic = true;
    cfg.ps_per_insn = Clock::kDefaultPsPerInsn << o.icount_shift;
  } else if (o.icount_auto) {
    std::fprintf(stderr, "vx86: note: -icount shift=auto runs in realtime mode (not deterministic)\n");
  }
  if (o.rtc_date) {
    cfg.rtc_epoch = o.rtc_date;
  } else if (o.rtc_base == "localtime" && !cfg.deterministic) {
    std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    cfg.rtc_epoch = static_cast<int64_t>(now) + local.tm_gmtoff;
  }

  // COM1's host side. Default: the terminal (until a display exists to hold a serial console,
  // also without -nographic; input and raw mode only with -nographic).
  const std::string serial = o.serial.empty() ? "stdio" : o.serial;
  std::unique_ptr<CharBackend> serial_backend;
  ConsoleBackend* console = nullptr;
  FILE* serial_file = nullptr;
  if (serial == "none") {
    cfg.com1 = false;
  } else if (serial == "null") {
    cfg.com1_backend = nullptr;
  } else if (serial == "stdio") {
    if (o.nographic) {
      auto c = std::make_unique<ConsoleBackend>(true);
      console = c.get();
      serial_backend = std::move(c);
    } else {
      serial_backend = std::make_unique<FileCharBackend>(stdout);
    }
  } else {
    serial_file = open_sink(serial, "serial");
    serial_backend = std::make_unique<FileCharBackend>(serial_file);
  }
  if (serial_backend) cfg.com1_backend = serial_backend.get();

  // IDE drives. -snapshot (or snapshot=on): writes stay in memory; CD-ROMs are read-only.
  for (const DriveOption& d : o.drives) {
    std::error_code ec;
    if (!std::filesystem::exists(d.file, ec))
      die(std::string("cannot open ") + (d.cdrom ? "CD-ROM image '" : "disk image '") + d.file +
          "': No such file or directory");
    const DiskImage::Mode mode = (o.snapshot || d.snapshot) ? DiskImage::Mode::Snapshot
                                 : (d.readonly || d.cdrom)  ? DiskImage::Mode::ReadOnly
                                                            : DiskImage::Mode::ReadWrite;
    try {
      const ImageFormat format = d.format.empty() ? ImageFormat::Probe : *parse_image_format(d.format);
      cfg.drives[static_cast<size_t>(d.index)] = {std::make_shared<DiskImage>(d.file, mode, format), d.cdrom};
    } catch (const std::exception& e) {
      die(e.what());
    }
  }
  cfg.boot_order = o.boot_order.empty() ? "cad" : o.boot_order;  // QEMU's default order
  if (o.boot_order.find('n') != std::string::npos)
    die("network boot (-boot n) is not available: vx86's e1000 has no boot ROM (boot from a disk, CD or "
        "-kernel)");

  // Network cards and their backends (QEMU's default: one e1000 on user networking).
  std::unique_ptr<NetworkSetup> network;
  try {
    network = std::make_unique<NetworkSetup>(o.net);
  } catch (const std::exception& e) {
    die(e.what());
  }
  for (const auto& card : network->cards()) cfg.nics.push_back({card.backend, card.mac});

  // VGA: Debian's SeaVGABIOS as the VGA PCI function's expansion ROM when it is installed (as QEMU).
  cfg.vga = o.vga != "none";
  if (cfg.vga) {
    std::error_code ec;
    const std::string vgabios = o.vga_bios.empty() ? VX86_DEFAULT_VGABIOS : o.vga_bios;
    if (!o.vga_bios.empty() || std::filesystem::is_regular_file(vgabios, ec)) {
      cfg.vga_bios = read_image(vgabios, "VGA BIOS image");
      if (std::string e = validate_vga_bios(cfg.vga_bios); !e.empty()) die("'" + vgabios + "': " + e);
    }
  }

  std::optional<DirectBoot> boot;
  if (!o.kernel.empty()) boot = read_direct_boot(o);
  Machine m(cfg);
  // -kernel-loader bios: the BIOS boots the kernel from fw_cfg (the items stay across resets).
  const bool firmware_kernel = boot && o.kernel_loader == "bios";
  if (firmware_kernel) {
    const std::vector<uint8_t> none;
    std::string err = load_linux_fw_cfg(m.fw_cfg(), m.memory().ram_size(), boot->kernel,
                                        boot->modules.empty() ? none : boot->modules[0].data, boot->cmdline);
    if (!err.empty()) die("'" + o.kernel + "': " + err);
  }
  auto load_boot = [&] {
    if (!boot || firmware_kernel) return;
    m.setup_pci_like_bios();
    std::string err = load_kernel(m, boot->kernel, boot->modules, boot->cmdline, boot->name);
    if (!err.empty()) die("'" + o.kernel + "': " + err);
  };
  load_boot();
  // -loadvm: the whole machine as a snapshot left it (the kernel loaded above is overwritten).
  if (!o.loadvm.empty()) {
    try {
      m.load_snapshot(o.loadvm);
    } catch (const std::exception& e) {
      die(e.what());
    }
  }
  // -s / -gdb: the gdb stub; -S waits for gdb before the first instruction.
  std::unique_ptr<GdbStub> gdb;
  if (o.gdb_wait && !o.gdb_port && o.gdb_unix.empty())
    die("-S needs a debugger to continue the CPU: add -s or -gdb tcp::PORT");
  if (o.gdb_port || !o.gdb_unix.empty()) {
    try {
      gdb = o.gdb_unix.empty() ? std::make_unique<GdbStub>(m, o.gdb_host, o.gdb_port)
                               : std::make_unique<GdbStub>(m, o.gdb_unix);
    } catch (const std::runtime_error& e) {
      die(e.what());
    }
  }
  // Applies what gdb asked for when it let the stopped guest go on.
  auto resume = [&](GdbStub::Resume r) {
    Cpu& c = m.cpu();
    const uint32_t lin = c.s.seg[CS].base + c.s.eip;
    if (r == GdbStub::Resume::Continue || r == GdbStub::Resume::Step) c.debug_resume_at = lin;
    if (r == GdbStub::Resume::Step) c.debug_step = true;
    if (r == GdbStub::Resume::Detach) {
      c.set_debug_breakpoints({});
      c.mmu.clear_watchpoints();
    }
    return r != GdbStub::Resume::Kill;
  };
  if (gdb && o.gdb_wait) {
    if (o.gdb_unix.empty())
      std::fprintf(stderr, "vx86: waiting for gdb on %s:%u\n", o.gdb_host.c_str(), unsigned{o.gdb_port});
    else
      std::fprintf(stderr, "vx86: waiting for gdb on %s\n", o.gdb_unix.c_str());
    gdb->accept_client();
    if (!resume(gdb->stopped(5, false))) return 0;
  }
  if (console) enter_raw_tty();
  const auto start = std::chrono::steady_clock::now();
  auto finish = [&](int status) {
    m.pause();  // (CPUs on threads: stopped before their state is read)
    std::fflush(stdout);
    restore_tty();
    if ((cfg.log_mask & LOG_JIT) && m.cpu().jit) m.cpu().jit->print_stats(cfg.log_file);
    if (!o.vga_dump.empty()) {  // -vga-dump: the text screen as the guest left it
      FILE* f = std::fopen(o.vga_dump.c_str(), "w");
      if (!f) {
        std::fprintf(stderr, "vx86: cannot write -vga-dump file '%s': %s\n", o.vga_dump.c_str(), std::strerror(errno));
      } else {
        const std::string text = m.vga() ? m.vga()->text_screen() : "";
        std::fwrite(text.data(), 1, text.size(), f);
        std::fclose(f);
      }
    }
    if (serial_file) std::fclose(serial_file);
    if (cfg.debugcon && cfg.debugcon != stdout) std::fclose(cfg.debugcon);
    if (cfg.bioslog && cfg.bioslog != stdout) std::fclose(cfg.bioslog);
    if (cfg.log_file && cfg.log_file != stderr) std::fclose(cfg.log_file);
    return status;
  };
  for (;;) {
    // Slices short enough that -timeout is honoured promptly even at a few MIPS with logging on.
    uint64_t slice = 1'000'000;
    if (o.insn_limit) {
      const uint64_t done = m.icount();
      if (done >= o.insn_limit) {
        restore_tty();
        std::fflush(stdout);
        std::fprintf(stderr, "vx86: instruction limit %llu reached at %04x:%04x\n",
                     static_cast<unsigned long long>(o.insn_limit), m.cpu().s.seg[CS].sel, m.cpu().s.eip);
        return finish(EXIT_TIMEOUT);
      }
      slice = std::min<uint64_t>(slice, o.insn_limit - done);
    }
    MachineExit r = m.run(slice);
    if (gdb && r != MachineExit::Debug && r != MachineExit::Budget && r != MachineExit::Idle &&
        !(r == MachineExit::Reset && !o.no_reboot)) {
      const std::optional<int> st = m.guest_exit_status();
      gdb->guest_exited(st ? *st : 0);  // the guest is gone: gdb hears why it stopped
    }
    switch (r) {
      case MachineExit::Debug:
        if (gdb && !resume(gdb->stopped(5))) return finish(0);
        break;
      case MachineExit::GuestExit:
        return finish(*m.guest_exit_status());
      case MachineExit::PowerOff:  // ACPI S5, as QEMU: status 0
        return finish(0);
      case MachineExit::Shutdown:
      case MachineExit::Reset:
        if (o.no_reboot) {
          std::fflush(stdout);
          std::fprintf(stderr, "vx86: %s; exiting because of -no-reboot\n",
                       r == MachineExit::Shutdown ? "triple fault (shutdown)" : "guest requested a reset");
          return finish(0);
        }
        m.reset();
        load_boot();
        break;
      case MachineExit::Halted:
        // HLT with interrupts disabled: nothing can wake the CPU.
        restore_tty();
        std::fflush(stdout);
        std::fprintf(stderr, "vx86: guest halted for good (HLT with interrupts disabled) at %04x:%04x\n",
                     m.cpu().s.seg[CS].sel, m.cpu().s.eip);
        return finish(EXIT_STUCK);
      case MachineExit::Idle: {
        // HLT waiting for an interrupt: sleep until the next timer event, waking early on input.
        const bool input = console && !console->input_closed();
        uint64_t ns = m.idle_host_ns();
        if (ns == Clock::kNever && !input) {
          restore_tty();
          std::fflush(stdout);
          std::fprintf(stderr, "vx86: guest halted for good (HLT with no timer event or input pending) at %04x:%04x\n",
                       m.cpu().s.seg[CS].sel, m.cpu().s.eip);
          return finish(EXIT_STUCK);
        }
        constexpr uint64_t kMaxWait = 50'000'000;  // keep -timeout and Ctrl-A x prompt
        if (ns > kMaxWait) ns = kMaxWait;
        if (ns > 0) {
          // Also woken by frames for the guest (the network backends' threads).
          struct timespec ts {static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
          struct pollfd p[2];
          nfds_t n = 0;
          if (input) p[n++] = {STDIN_FILENO, POLLIN, 0};
          if (m.wake_fd() >= 0) p[n++] = {m.wake_fd(), POLLIN, 0};
          if (n)
            ppoll(p, n, &ts, nullptr);
          else
            nanosleep(&ts, nullptr);
          m.drain_wake();
        }
        break;
      }
      case MachineExit::Budget:
        break;
    }
    if (gdb && gdb->interrupt_requested() && !resume(gdb->stopped(2))) return finish(0);
    if (console && console->quit) {
      restore_tty();
      std::fflush(stdout);
      std::fprintf(stderr, "vx86: terminated (Ctrl-A x)\n");
      return finish(0);
    }
    if (o.timeout_s > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > o.timeout_s) {
      restore_tty();
      std::fflush(stdout);
      std::fprintf(stderr, "vx86: timeout after %g seconds at %04x:%04x\n", o.timeout_s,
                   m.cpu().s.seg[CS].sel, m.cpu().s.eip);
      return finish(EXIT_TIMEOUT);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CliOptions o;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (auto err = parse_cli(args, o)) die(*err);
  if (o.help) {
    std::fputs(cli_usage().c_str(), stdout);
    return 0;
  }
  if (o.version) {
    std::printf("vx86 %s\n", VX86_VERSION);
    return 0;
  }
  if (o.debug_help) {
    std::fputs(cli_debug_help().c_str(), stdout);
    return 0;
  }
  try {
    return run(o);
  } catch (const std::exception& e) {
    die(std::string("internal error: ") + e.what());
  }
}
