// vx86: the command-line emulator.
//
// Exit status (documented in docs/cli.md):
//   (V << 1) | 1  the guest wrote V to isa-debug-exit (port 0xf4), as QEMU
//   0             the guest reset or triple-faulted and -no-reboot was given (as QEMU)
//   2             vx86 could not run: bad option, unreadable or malformed file, internal error
//   4             the guest stopped for good: HLT with nothing that could ever wake it
//   124           -timeout expired (as timeout(1))
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "emu/machine.h"
#include "frontend/cli.h"

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

std::vector<uint8_t> read_image(const std::string& path) {
  std::error_code ec;
  auto st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st))
    die("cannot open BIOS image '" + path + "': No such file or directory");
  if (!std::filesystem::is_regular_file(st)) die("BIOS image '" + path + "' is not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) die("cannot open BIOS image '" + path + "': " + std::strerror(errno));
  std::vector<uint8_t> data{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) die("cannot read BIOS image '" + path + "'");
  return data;
}

int run(const CliOptions& o) {
  MachineConfig cfg;
  cfg.ram_mb = o.ram_mb;
  cfg.bios = read_image(o.bios);
  if (std::string e = validate_bios(cfg.bios); !e.empty()) die("'" + o.bios + "': " + e);
  cfg.debugcon = open_sink(o.debugcon, "debugcon");
  cfg.bioslog = open_sink(o.bioslog, "bioslog");
  if (!o.log_path.empty()) {
    cfg.log_file = std::fopen(o.log_path.c_str(), "w");
    if (!cfg.log_file) die("cannot open log file '" + o.log_path + "': " + std::strerror(errno));
  }
  for (const auto& d : o.debug_items) {
    if (d == "in_asm") cfg.log_mask |= LOG_IN_ASM;
    if (d == "cpu") cfg.log_mask |= LOG_CPU;
    if (d == "int") cfg.log_mask |= LOG_INT;
    if (d == "post") {
      cfg.log_mask |= LOG_POST;
      cfg.post_log = cfg.log_file;
    }
  }

  Machine m(cfg);
  const auto start = std::chrono::steady_clock::now();
  auto finish = [&](int status) {
    std::fflush(stdout);
    if (cfg.debugcon && cfg.debugcon != stdout) std::fclose(cfg.debugcon);
    if (cfg.bioslog && cfg.bioslog != stdout) std::fclose(cfg.bioslog);
    if (cfg.log_file && cfg.log_file != stderr) std::fclose(cfg.log_file);
    return status;
  };
  for (;;) {
    // Slices short enough that -timeout is honoured promptly even at a few MIPS with logging on.
    MachineExit r = m.run(1'000'000);
    switch (r) {
      case MachineExit::GuestExit:
        return finish(*m.guest_exit_status());
      case MachineExit::Shutdown:
      case MachineExit::Reset:
        if (o.no_reboot) {
          std::fflush(stdout);
          std::fprintf(stderr, "vx86: %s; exiting because of -no-reboot\n",
                       r == MachineExit::Shutdown ? "triple fault (shutdown)" : "guest requested a reset");
          return finish(0);
        }
        m.reset();
        break;
      case MachineExit::Halted:
        // Nothing can wake the CPU: interrupts disabled, or no interrupt controller on the board yet.
        if (!(m.cpu().s.eflags & F_IF) || !m.cpu().intr) {
          std::fflush(stdout);
          std::fprintf(stderr, "vx86: guest halted for good (HLT with %s) at %04x:%04x\n",
                       (m.cpu().s.eflags & F_IF) ? "no interrupt source" : "interrupts disabled",
                       m.cpu().s.seg[CS].sel, m.cpu().s.eip);
          return finish(EXIT_STUCK);
        }
        break;
      case MachineExit::Budget:
        break;
    }
    if (o.timeout_s > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > o.timeout_s) {
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
