// Command-line parsing for the vx86 program (QEMU-style options).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vx86 {

struct CliOptions {
  std::string bios;
  uint32_t ram_mb = 32;
  bool nographic = false;
  std::vector<std::string> debug_items;  // -d in_asm,cpu,int,post
  std::string log_path;                  // -D
  std::string debugcon = "stdio";        // -debugcon stdio|file:PATH|none
  std::string bioslog = "none";          // -bioslog stdio|file:PATH|none
  bool no_reboot = false;
  double timeout_s = 0;                                    // 0 = none
  bool help = false, version = false, debug_help = false;  // --help, --version, -d help
};

// Parses argv; on a bad option returns an error message (one line, no trailing newline).
std::optional<std::string> parse_cli(const std::vector<std::string>& args, CliOptions& out);
std::string cli_usage();
std::string cli_debug_help();  // the -d items, for `-d help`

}  // namespace vx86
