// Session: one virtual machine as a frontend runs it. Built from the options (CliOptions: what the
// command line and the library API both fill in), it owns everything the board needs from the
// host (firmware bytes, the serial sink, the drives, the network backends, the kernel for a
// direct boot) and the Machine, and runs the machine until it ends (power-off, guest exit,
// -no-reboot, a halt for good, -timeout, -insn-limit, or a stop request).
//
// The vx86 program runs a Session on its main thread, with the gdb stub and the terminal hooked
// in; the library API (include/vx86/) runs each VM's Session on a thread of its own and controls
// it from others through request_pause / request_resume / request_stop, which are thread-safe.
#pragma once
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "emu/board/linux_boot.h"
#include "emu/board/machine.h"
#include "frontend/cli.h"

namespace vx86 {

// A problem with the options or the files they name: one line, for the user. The kind lets the
// library API report a code beside the message.
class SetupError : public std::runtime_error {
 public:
  enum class Kind { Invalid, Io, Snapshot };
  explicit SetupError(const std::string& what, Kind kind = Kind::Invalid)
      : std::runtime_error(what), kind(kind) {}
  Kind kind;
};

// How a run ended, and the exit status the vx86 program reports for it (docs/cli.md).
struct RunResult {
  enum class Reason { PowerOff, GuestExit, NoReboot, Halted, Timeout, InsnLimit, Quit, Stopped };
  Reason reason = Reason::Stopped;
  int status = 0;
  std::string message;  // for stderr; empty when the end needs no explanation (power-off, exit)
};

class Session {
 public:
  static constexpr int kExitError = 2, kExitStuck = 4, kExitTimeout = 124;

  // Builds the machine. `serial` (optional) replaces the -serial sink: the library API's
  // callback, or the program's terminal console. Throws SetupError.
  Session(const CliOptions& o, CharBackend* serial = nullptr);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  Machine& machine() { return *machine_; }
  const CliOptions& options() const { return opts_; }

  // What the vx86 program hooks into the loop (all optional).
  struct Hooks {
    // MachineExit::Debug (a breakpoint or step): false ends the run (Quit).
    std::function<bool()> on_debug;
    // After every slice: a status ends the run (Quit) with it (gdb's kill, Ctrl-A x).
    std::function<std::optional<int>()> after_slice;
    // Just before the run ends, with the machine stopped (gdb hears why).
    std::function<void(MachineExit)> on_guest_end;
    // A descriptor that also ends the idle wait when readable (the terminal's stdin while it is
    // open), or -1.
    std::function<int()> input_fd;
    // The longest the idle wait may sleep, in ns (a display's next frame), or unset.
    std::function<uint64_t()> max_idle_ns;
  };
  RunResult run(const Hooks& hooks);
  RunResult run() { return run(Hooks{}); }

  // From any thread. A pause takes effect between slices: request_pause returns once the loop is
  // parked (the machine's state may then be read, saved or loaded by the caller) or has ended.
  void request_pause();
  void request_resume();
  void request_stop();
  // Handled by the loop between slices (the machine is never touched from another thread while
  // it runs): the RESET line, and the ACPI power button (the guest shuts itself down).
  void request_reset();
  void request_powerdown();
  bool paused() const;
  bool ended() const;
  // From any thread: ends an idle wait early (input for the guest arrived).
  void notify() { wake(); }
  // From any thread: the whole machine to / from a snapshot file. A running machine is paused for
  // it and goes on after; a paused one stays paused. Throw std::runtime_error (SnapshotError for a
  // refused snapshot; after a load that failed past its checks the machine is reset).
  void save_snapshot(const std::string& path);
  void load_snapshot(const std::string& path);
  // The screen as the monitor would show it, to a PPM or PNG file (throws std::runtime_error;
  // without a VGA, "no display").
  void screendump(const std::string& path, bool png);
  // Called by the loop's thread whenever it parks or goes on (true = paused), and after a reset
  // it was asked for.
  std::function<void(bool)> on_pause_change;
  std::function<void()> on_reset;

 private:
  void build();
  void build_config();
  void release();  // idempotent: the destructor, and a constructor that throws
  void load_boot();
  void wake();            // ends an idle wait early
  bool park_if_asked();   // false: a stop was requested
  void serve_requests();  // reset / power button asked for from another thread
  template <class F>
  void while_paused(F&& f);

  CliOptions opts_;
  CharBackend* serial_override_ = nullptr;
  MachineConfig cfg_;
  std::unique_ptr<CharBackend> serial_backend_;
  FILE* serial_file_ = nullptr;
  std::unique_ptr<class NetworkSetup> network_;
  struct DirectBoot;
  std::unique_ptr<DirectBoot> boot_;
  std::unique_ptr<Machine> machine_;
  int control_fd_ = -1;  // eventfd: a control request for an idling loop

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool want_pause_ = false, want_stop_ = false, parked_ = false, ended_ = false;
  bool want_reset_ = false, want_powerdown_ = false;
  std::mutex snapshot_mu_;  // one save/load at a time
};

// Reads a whole file the user named; `what` names it in the error ("BIOS image", ...).
std::vector<uint8_t> read_user_file(const std::string& path, const std::string& what);

}  // namespace vx86
