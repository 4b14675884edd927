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
#include <thread>

#include "emu/board/machine.h"
#include "emu/disasm.h"
#include "frontend/cli.h"
#include "frontend/gdb_stub.h"
#include "frontend/qmp_server.h"
#include "frontend/screendump.h"
#include "frontend/sdl_window.h"
#include "frontend/session.h"
#include "jit/jit.h"

using namespace vx86;

namespace {

constexpr int EXIT_ERROR = Session::kExitError;

[[noreturn]] void die(const std::string& msg) {
  std::fflush(stdout);
  std::fprintf(stderr, "vx86: %s\n", msg.c_str());
  std::exit(EXIT_ERROR);
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
        if (b == 0x01)
          escape_ = true;
        else
          buf[out++] = b;
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

// Whether the host has a display a window could open on.
bool host_has_display() {
  for (const char* var : {"DISPLAY", "WAYLAND_DISPLAY"})
    if (const char* v = std::getenv(var); v && *v) return true;
  return false;
}

uint64_t monotonic_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

int run(const CliOptions& given) {
  CliOptions o = given;
  // The window: -display sdl, or by default when the host has a display (QEMU's way too).
  const bool want_window = o.display == "sdl" || (o.display.empty() && !o.nographic && host_has_display());
  if (want_window && o.kernel_loader.empty()) o.kernel_loader = "auto";
  // -nographic with the serial port on the terminal: a console with input and QEMU's escape keys.
  const std::string serial = o.serial.empty() ? "stdio" : o.serial;
  std::unique_ptr<ConsoleBackend> console;
  if (serial == "stdio" && o.nographic) console = std::make_unique<ConsoleBackend>(true);
  if (o.gdb_wait && !o.gdb_port && o.gdb_unix.empty())
    die("-S needs a debugger to continue the CPU: add -s or -gdb tcp::PORT");
  std::unique_ptr<Session> session;
  try {
    session = std::make_unique<Session>(o, console.get());
  } catch (const SetupError& e) {
    die(e.what());
  }
  Machine& m = session->machine();

  std::unique_ptr<DisplayLink> link;
  std::unique_ptr<SdlWindow> window;
  if (want_window && m.vga()) {
    link = std::make_unique<DisplayLink>(m);
    try {
      window = std::make_unique<SdlWindow>(*link, SdlWindow::Options{o.full_screen, "vx86"});
    } catch (const std::exception& e) {
      if (o.display == "sdl") die(e.what());
      link.reset();  // (only asked for by default: go on without)
    }
    if (window) {
      link->on_frame = [w = window.get()] { w->frame_ready(); };
      link->on_input = [s = session.get()] { s->notify(); };
    }
  } else if (o.display == "sdl") {
    die("-display sdl: the machine has no display adapter (-vga none)");
  }

  // -qmp: the control socket, on its own thread; the VM's state changes are its events.
  std::unique_ptr<QmpServer> qmp;
  if (!o.qmp.empty()) {
    try {
      qmp = std::make_unique<QmpServer>(*session, o.qmp);
    } catch (const std::exception& e) {
      die(e.what());
    }
    session->on_pause_change = [&qmp, w = window.get()](bool paused) {
      qmp->event(paused ? "STOP" : "RESUME");
      if (w) w->set_paused(paused);
    };
    session->on_reset = [&qmp] {
      qmp->event("RESET", {{"guest", false}, {"reason", "host-qmp-system-reset"}});
    };
    qmp->start();
  }

  // -s / -gdb: the gdb stub; -S waits for gdb before the first instruction.
  std::unique_ptr<GdbStub> gdb;
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
    Cpu& c = m.current_cpu();  // (the CPU that stopped: it passes its breakpoint, or steps)
    const uint32_t lin = c.s.seg[CS].base + c.s.eip;
    if (r == GdbStub::Resume::Continue || r == GdbStub::Resume::Step) c.debug_resume_at = lin;
    if (r == GdbStub::Resume::Step) c.debug_step = true;
    if (r == GdbStub::Resume::Detach)
      for (size_t i = 0; i < m.cpu_count(); ++i) {
        m.cpu(i).set_debug_breakpoints({});
        m.cpu(i).mmu.clear_watchpoints();
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

  Session::Hooks hooks;
  hooks.on_debug = [&] { return !gdb || resume(gdb->stopped(5)); };
  hooks.on_guest_end = [&](MachineExit r) {
    if (!gdb || r == MachineExit::Debug || r == MachineExit::Idle) return;
    const std::optional<int> st = m.guest_exit_status();
    gdb->guest_exited(st ? *st : 0);  // the guest is gone: gdb hears why it stopped
  };
  hooks.after_slice = [&]() -> std::optional<int> {
    if (link) link->tick(monotonic_ns());
    if (gdb && gdb->interrupt_requested() && !resume(gdb->stopped(2))) return 0;
    if (console && console->quit) {
      restore_tty();
      std::fflush(stdout);
      std::fprintf(stderr, "vx86: terminated (Ctrl-A x)\n");
      return 0;
    }
    return std::nullopt;
  };
  hooks.input_fd = [&] { return console && !console->input_closed() ? STDIN_FILENO : -1; };

  if (link) hooks.max_idle_ns = [&] { return link->ns_to_next_frame(monotonic_ns()); };

  if (console) enter_raw_tty();
  RunResult res;
  if (window) {
    // SDL keeps its window on this thread; the machine runs beside it until one of them ends.
    if (!session->on_pause_change)
      session->on_pause_change = [w = window.get()](bool p) { w->set_paused(p); };
    std::thread machine([&] {
      res = session->run(hooks);
      window->close();
    });
    if (window->run()) session->request_stop();  // the user closed the window
    machine.join();
    window.reset();
  } else {
    res = session->run(hooks);
  }
  if (qmp) {
    using R = RunResult::Reason;
    const bool by_guest = res.reason == R::PowerOff || res.reason == R::GuestExit ||
                          res.reason == R::NoReboot || res.reason == R::Halted;
    const char* why = res.reason == R::NoReboot ? "guest-reset"
                      : by_guest                ? "guest-shutdown"
                      : qmp->quit_requested()   ? "host-qmp-quit"
                                                : "host-signal";
    qmp->shutdown_event(by_guest, why);
  }
  std::fflush(stdout);
  restore_tty();
  if (!res.message.empty()) std::fprintf(stderr, "vx86: %s\n", res.message.c_str());
  if (m.cpu().log_mask & LOG_TRACESUM)
    for (size_t i = 0; i < m.cpu_count(); ++i) trace_sum_end(m.cpu(i));
  if ((m.cpu().log_mask & LOG_JIT) && m.cpu().jit) m.cpu().jit->print_stats(m.cpu().log_file);
  if (m.cpu().log_mask & LOG_MMU)
    for (size_t i = 0; i < m.cpu_count(); ++i)
      m.cpu(i).mmu.print_stats(m.cpu().log_file, static_cast<unsigned>(i));
  if (!o.vga_dump.empty()) {  // -vga-dump: the text screen as the guest left it
    FILE* f = std::fopen(o.vga_dump.c_str(), "w");
    if (!f) {
      std::fprintf(stderr, "vx86: cannot write -vga-dump file '%s': %s\n", o.vga_dump.c_str(),
                   std::strerror(errno));
    } else {
      const std::string text = m.vga() ? m.vga()->text_screen() : "";
      std::fwrite(text.data(), 1, text.size(), f);
      std::fclose(f);
    }
  }
  if (!o.screendump.empty()) {  // -screendump: the screen as the guest left it, rendered
    try {
      if (!m.vga()) throw std::runtime_error("screendump: the machine has no display (-vga none)");
      write_image(o.screendump, render_vga(*m.vga()), image_format_for(o.screendump));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "vx86: %s\n", e.what());
    }
  }
  return res.status;
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
