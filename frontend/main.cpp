// vx86: the command-line emulator.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

#include "emu/machine.h"
#include "frontend/cli.h"

using namespace vx86;

namespace {

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "vx86: %s\n", msg.c_str());
  std::exit(1);
}

FILE* open_sink(const std::string& spec) {
  if (spec == "none") return nullptr;
  if (spec == "stdio") return stdout;
  FILE* f = std::fopen(spec.substr(5).c_str(), "wb");
  if (!f) die("cannot open '" + spec.substr(5) + "': " + std::strerror(errno));
  return f;
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) die("cannot open '" + path + "': " + std::strerror(errno));
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
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

  MachineConfig cfg;
  cfg.ram_mb = o.ram_mb;
  cfg.bios = read_file(o.bios);
  if (std::string e = validate_bios(cfg.bios); !e.empty()) die("'" + o.bios + "': " + e);
  cfg.debugcon = open_sink(o.debugcon);
  cfg.bioslog = open_sink(o.bioslog);
  if (!o.log_path.empty()) {
    cfg.log_file = std::fopen(o.log_path.c_str(), "w");
    if (!cfg.log_file) die("cannot open log file '" + o.log_path + "': " + std::strerror(errno));
  }
  for (const auto& d : o.debug_items) {
    if (d == "in_asm") cfg.log_mask |= LOG_IN_ASM;
    if (d == "cpu") cfg.log_mask |= LOG_CPU;
    if (d == "int") cfg.log_mask |= LOG_INT;
    if (d == "post") cfg.post_log = cfg.log_file;
  }

  Machine m(cfg);
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    MachineExit r = m.run(10'000'000);
    if (r == MachineExit::GuestExit) {
      std::fflush(stdout);
      return *m.guest_exit_status();
    }
    if (r == MachineExit::Shutdown) {
      if (o.no_reboot) {
        std::fprintf(stderr, "vx86: triple fault (shutdown); exiting because of -no-reboot\n");
        return 1;
      }
      m.reset();
    }
    if (r == MachineExit::Halted && !(m.cpu().s.eflags & F_IF)) {
      std::fprintf(stderr, "vx86: guest halted with interrupts disabled at %04x:%08x\n", m.cpu().s.seg[CS].sel,
                   m.cpu().s.eip);
      return 1;
    }
    if (o.timeout_s > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > o.timeout_s) {
      std::fprintf(stderr, "vx86: timeout after %g seconds\n", o.timeout_s);
      return 124;
    }
  }
}
