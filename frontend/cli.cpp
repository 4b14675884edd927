#include "frontend/cli.h"

#include <charconv>

namespace vx86 {

std::string cli_usage() {
  return "usage: vx86 -bios FILE [options]\n"
         "  -bios FILE             firmware image (64-256 KiB), mapped below 1 MiB and 4 GiB\n"
         "  -m SIZE                guest RAM: MiB, or with a suffix M or G (1M-3G, default 32)\n"
         "  -nographic             no display window; serial and debug output on the terminal\n"
         "  -debugcon stdio|file:PATH|none   where bytes written to port 0xe9 go (default stdio)\n"
         "  -bioslog stdio|file:PATH|none    where bytes written to port 0x402 go (default none)\n"
         "  -d ITEM[,ITEM...]      log: in_asm (new blocks), cpu (registers per block),\n"
         "                         int (interrupts and exceptions), post (port 0x80 writes);\n"
         "                         -d help lists them\n"
         "  -D FILE                write the -d log to FILE instead of stderr\n"
         "  -no-reboot             exit instead of resetting on a triple fault\n"
         "  -timeout SECONDS       stop after SECONDS of wall-clock time (exit status 124)\n"
         "  --help, --version\n"
         "Exit status: (V << 1) | 1 when the guest writes V to port 0xf4 (isa-debug-exit);\n"
         "0 on a guest reset or triple fault with -no-reboot; 2 on an error (bad option or file);\n"
         "4 when the guest halts with nothing to wake it; 124 on -timeout.\n";
}

std::string cli_debug_help() {
  return "Log items for -d (comma-separated; the log goes to stderr or the -D file):\n"
         "  in_asm   disassembly of each newly translated block (lines start with \"IN:\")\n"
         "  cpu      registers before each block runs\n"
         "  int      interrupts and exceptions as they are delivered (\"INT:\")\n"
         "  post     writes to POST port 0x80 (\"POST:\")\n";
}

namespace {
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
    } else if (a == "-debugcon" || a == "-bioslog") {
      if (auto e = value(v)) return e;
      if (!valid_sink(v)) return "invalid " + a + " value '" + v + "' (stdio, file:PATH or none)";
      (a == "-debugcon" ? o.debugcon : o.bioslog) = v;
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
        if (item != "in_asm" && item != "cpu" && item != "int" && item != "post")
          return "unknown -d item '" + item + "' (in_asm, cpu, int, post)";
        o.debug_items.push_back(item);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else if (a == "-D") {
      if (auto e = value(o.log_path)) return e;
    } else if (a == "-no-reboot") {
      o.no_reboot = true;
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
  if (!o.help && !o.version && !o.debug_help && o.bios.empty())
    return "no firmware given: use -bios FILE (see --help)";
  return std::nullopt;
}

}  // namespace vx86
