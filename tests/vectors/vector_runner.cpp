// vx86_vectors: runs hardware-captured SingleStepTests vectors (../shared/vectors/README.md) through
// the interpreter and compares registers, flags and memory with what the real chip did.
//
//   vx86_vectors [--only FORM] [--set NAME] [--verbose] [--exclusions FILE] [--min-pass N] [DIR...]
//
// A DIR is a vector set (a folder with metadata.json) or a folder of sets. Undefined flags are masked
// exactly as each set's metadata says; forms the 386-class CPU does differently from the captured
// chip are listed, with reasons, in the exclusions file and counted separately.
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "devices/port_bus.h"
#include "emu/cpu.h"
#include "emu/decoder.h"
#include "jit/jit.h"
#include "mmu/physical_memory.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace vx86;

namespace {

struct Exclusion {
  std::string set, form, hash, rule, reason;
};

// Rules for tests that differ between the captured chip and the 386-class CPU vx86 models. They
// classify a test by its instruction bytes alone (never by what vx86 does with it).
bool is_prefix(uint8_t b) {
  return b == 0x26 || b == 0x2E || b == 0x36 || b == 0x3E || b == 0xF0 || b == 0xF2 || b == 0xF3;
}

// LOCK on an instruction the 386 refuses to lock (#UD): anything but the read-modify-write forms
// with a memory destination (SDM Vol. 2, LOCK).
bool lock_invalid(const std::vector<uint8_t>& b) {
  size_t k = 0;
  bool lock = false;
  while (k < b.size() && is_prefix(b[k])) lock |= b[k++] == 0xF0;
  if (!lock || k + 1 >= b.size()) return false;
  uint8_t op = b[k], modrm = b[k + 1], reg = (modrm >> 3) & 7;
  bool mem = (modrm >> 6) != 3;
  bool lockable = false;
  switch (op) {
    case 0x00: case 0x01: case 0x08: case 0x09: case 0x10: case 0x11: case 0x18: case 0x19:
    case 0x20: case 0x21: case 0x28: case 0x29: case 0x30: case 0x31: case 0x86: case 0x87:
      lockable = true; break;
    case 0x80: case 0x81: case 0x82: case 0x83: lockable = reg != 7; break;
    case 0xF6: case 0xF7: lockable = reg == 2 || reg == 3; break;
    case 0xFE: case 0xFF: lockable = reg <= 1; break;
    default: break;
  }
  return !(lockable && mem);
}

struct Parsed {
  uint8_t seg_override = 0;  // last segment prefix byte, or 0
  uint8_t op = 0, modrm = 0;
  bool has_modrm_byte = false;
};
Parsed parse(const std::vector<uint8_t>& b) {
  Parsed p;
  size_t k = 0;
  while (k < b.size() && is_prefix(b[k])) {
    if (b[k] == 0x26 || b[k] == 0x2E || b[k] == 0x36 || b[k] == 0x3E) p.seg_override = b[k];
    ++k;
  }
  if (k < b.size()) p.op = b[k];
  if (k + 1 < b.size()) {
    p.modrm = b[k + 1];
    p.has_modrm_byte = true;
  }
  return p;
}

// The instruction's whole length, prefixes included, as a 286 decodes it: the captured bytes run
// past the instruction (random bytes, then the HLT), so their count is not its length. 62 (BOUND)
// and C4/C5 (LES/LDS) with a register operand are two-byte #UD forms there, which a VEX/EVEX-aware
// decoder would read as longer instructions.
size_t instruction_length(const std::vector<uint8_t>& b) {
  static const Decoder decoder;
  size_t k = 0;
  while (k < b.size() && is_prefix(b[k])) ++k;
  if (k + 1 < b.size() && (b[k] == 0x62 || b[k] == 0xC4 || b[k] == 0xC5) && (b[k + 1] >> 6) == 3)
    return k + 2;
  ZydisDecodedInstruction zi;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  if (!decoder.decode_raw(b.data(), b.size(), false, zi, ops)) return b.size();
  return zi.length;
}

// Does the instruction touch the stack segment: implicitly (stack operations) or through an
// SS-based ModR/M memory operand (BP-based without an override, or an SS: override)?
bool uses_ss(const Parsed& p) {
  static const std::set<uint8_t> stack_ops = {0x06, 0x07, 0x0E, 0x16, 0x17, 0x1E, 0x1F, 0x60, 0x61, 0x68,
                                              0x6A, 0x8F, 0x9A, 0x9C, 0x9D, 0xC2, 0xC3, 0xC8, 0xC9, 0xCA,
                                              0xCB, 0xCC, 0xCD, 0xCE, 0xCF, 0xE8};
  if (stack_ops.count(p.op) || (p.op >= 0x50 && p.op <= 0x5F)) return true;
  uint8_t reg = (p.modrm >> 3) & 7;
  if (p.op == 0xFF && (reg == 2 || reg == 3 || reg == 6)) return true;
  if (!p.has_modrm_byte || (p.modrm >> 6) == 3) return false;
  if (p.seg_override) return p.seg_override == 0x36;
  unsigned rm = p.modrm & 7, mod = p.modrm >> 6;
  return rm == 2 || rm == 3 || (rm == 6 && mod != 0);
}

bool rule_matches(const std::string& rule, const json& t) {
  std::vector<uint8_t> bytes = t["bytes"].get<std::vector<uint8_t>>();
  Parsed p = parse(bytes);
  uint8_t reg = (p.modrm >> 3) & 7;
  if (rule == "lock-invalid") return lock_invalid(bytes);
  // The 286 faults on instructions longer than 10 bytes; the 386 and later allow 15.
  if (rule == "longer-than-10") return instruction_length(bytes) > 10;
  // The 286 reports a real-mode stack-segment overrun as #GP (13); the 386 as #SS (12).
  if (rule == "ss-overrun-gp")
    return t.contains("exception") && t["exception"]["number"].get<int>() == 13 && uses_ss(p);
  // Word string operations at offset FFFF: the 286 wraps inside the segment, the 386 raises #GP.
  if (rule == "string-word-at-ffff") {
    if (p.op != 0xA5 && p.op != 0xA7 && p.op != 0xAB && p.op != 0xAD && p.op != 0xAF && p.op != 0x6D &&
        p.op != 0x6F)
      return false;
    // Walk the offsets the captured run used (iterations = CX consumed, from the test's own data).
    const json& ir = t["initial"]["regs"];
    const json& fr = t["final"]["regs"];
    bool rep = std::find_if(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0xF2 || b == 0xF3; }) !=
               bytes.end();
    uint32_t cx0 = ir["cx"].get<uint32_t>(), cx1 = fr.contains("cx") ? fr["cx"].get<uint32_t>() : cx0;
    uint32_t n = rep ? ((cx0 - cx1) & 0xFFFF) + 1 : 1;
    int step = (ir["flags"].get<uint32_t>() & F_DF) ? -2 : 2;
    for (const char* r : {"si", "di"}) {
      uint32_t off = ir[r].get<uint32_t>();
      for (uint32_t k = 0; k < n; ++k, off = (off + static_cast<uint32_t>(step)) & 0xFFFF)
        if (off == 0xFFFF) return true;
    }
    return false;
  }
  // MOV to/from Sreg with reg field 4-7: FS/GS (or #UD) on the 386, not on the captured chip.
  if (rule == "sreg-above-ds") return (p.op == 0x8C || p.op == 0x8E) && reg >= 4;
  // 8F/C6/C7 with a non-zero reg field: 8086 aliases of POP/MOV, #UD on the 386.
  if (rule == "reg-field-alias") return (p.op == 0x8F || p.op == 0xC6 || p.op == 0xC7) && reg != 0;
  return false;
}

const std::set<std::string> known_rules = {"lock-invalid", "longer-than-10", "ss-overrun-gp",
                                           "string-word-at-ffff", "sreg-above-ds", "reg-field-alias"};

struct FormResult {
  std::string set, form;
  size_t passed = 0, failed = 0, skipped = 0;
  std::map<std::string, size_t> by_rule;  // tests skipped per exclusion rule
  size_t masked = 0;                      // tests run with more flags masked (stated in run_form)
  std::string excluded;  // reason, when the whole form is excluded
  std::vector<std::string> failures;  // first few, for --verbose
};

struct SetInfo {
  fs::path dir;
  std::string name;
  bool is_8086;
  json metadata;
  std::set<std::string> revoked;
};

bool read_gz(const fs::path& p, std::string& out) {
  gzFile f = gzopen(p.c_str(), "rb");
  if (!f) return false;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  bool ok = n == 0;
  gzclose(f);
  return ok;
}

// Metadata entry for a form "XX" or "XX.R".
const json* form_meta(const json& md, const std::string& form) {
  const json& ops = md.at("opcodes");
  std::string op = form.substr(0, 2);
  auto it = ops.find(op);
  if (it == ops.end()) return nullptr;
  if (form.size() > 3 && it->contains("reg")) {
    const json& regs = (*it)["reg"];
    auto r = regs.find(form.substr(3));
    return r == regs.end() ? nullptr : &*r;
  }
  return &*it;
}

const char* const REG_NAMES[] = {"ax", "cx", "dx", "bx", "sp", "bp", "si", "di"};
const char* const SEG_NAMES[] = {"es", "cs", "ss", "ds"};

// --jit on: every block is translated on its first run, so each vector runs as host code.
bool g_jit = false;

class Runner {
 public:
  explicit Runner(const SetInfo& set)
      : set_(set), mem_(set.is_8086 ? 1u << 20 : 16u << 20), cpu_(mem_, io_) {
    if (g_jit) {
      cpu_.enable_jit(true);
      cpu_.jit->threshold = 0;
    }
    cpu_.s.model = set.is_8086 ? CpuModel::i8086 : CpuModel::i386;
    cpu_.mmu.set_a20(!set.is_8086);  // the 8086 has 20 address lines: wrap at 1 MiB
    // The 8086 captures end right after the instruction (no HLT follows): run exactly one.
    if (set.is_8086) cpu_.set_max_block_insns(1);
  }

  void run_form(const fs::path& file, const std::string& form, const std::vector<Exclusion>& excl, FormResult& res,
                bool verbose) {
    std::string text;
    if (!read_gz(file, text)) {
      res.failed = 1;
      res.failures.push_back("cannot read " + file.string());
      return;
    }
    json tests = json::parse(text);
    const json* meta = form_meta(set_.metadata, form);
    uint32_t flags_mask = 0xFFFF;
    if (meta && meta->contains("flags-mask")) flags_mask = (*meta)["flags-mask"].get<uint32_t>();
    if (!set_.is_8086) flags_mask &= 0x0FFF;  // 286 real mode: IOPL/NT random in the captures
    for (const json& t : tests) {
      std::string hash = t.contains("hash") ? t["hash"].get<std::string>() : t.value("test_hash", "");
      if (set_.revoked.count(hash)) {
        ++res.skipped;
        continue;
      }
      bool skip = false;
      for (const auto& e : excl) {
        if ((!e.hash.empty() && e.hash == hash) || (!e.rule.empty() && rule_matches(e.rule, t))) {
          skip = true;
          ++res.by_rule[e.rule.empty() ? "hash" : e.rule];
          break;
        }
      }
      if (skip) {
        ++res.skipped;
        continue;
      }
      // AAM 0 raises #DE. The captured 286 leaves SF/ZF/PF at values of its own (two samples);
      // the SDM defines a fault as leaving the flags alone, which vx86's P6 does. Two samples
      // cannot establish a rule of the inputs, so these flags are masked (counted, not skipped).
      uint32_t test_mask = flags_mask;
      if (!set_.is_8086 && t.contains("exception") && !t["bytes"].empty() &&
          t["bytes"][0].get<int>() == 0xD4) {
        test_mask &= ~uint32_t{F_SF | F_ZF | F_PF};
        ++res.masked;
      }
      std::string why = run_test(t, test_mask);
      if (why.empty()) {
        ++res.passed;
      } else {
        ++res.failed;
        if (verbose && res.failures.size() < 5) res.failures.push_back(t.value("name", "?") + " [" + hash + "]: " + why);
      }
    }
  }

 private:
  std::string run_test(const json& t, uint32_t flags_mask) {
    const json& ir = t["initial"]["regs"];
    const json& fr = t["final"]["regs"];
    cpu_.reset();
    CpuState& s = cpu_.s;
    for (unsigned r = 0; r < 8; ++r) s.regs[r] = ir[REG_NAMES[r]].get<uint32_t>();
    for (unsigned k = 0; k < 4; ++k) {
      uint16_t sel = ir[SEG_NAMES[k]].get<uint16_t>();
      s.seg[k] = SegReg{sel, static_cast<uint16_t>(k == CS ? 0x9B : 0x93), uint32_t{sel} << 4, 0xFFFF};
    }
    s.eip = ir["ip"].get<uint32_t>();
    uint32_t f0 = ir["flags"].get<uint32_t>();
    s.eflags = (set_.is_8086 ? f0 & 0x0FFF : f0 & 0x0FFF) | F_BIT1;
    s.eflags &= ~0x8028u;
    cpu_.update_mode();
    uint8_t* ram = mem_.ram();
    const uint32_t ram_mask = mem_.ram_size() - 1;
    for (const json& b : t["initial"]["ram"]) ram[b[0].get<uint32_t>() & ram_mask] = b[1].get<uint8_t>();

    // 286 captures end at the HLT after the instruction (or at the exception handler's HLT).
    StopReason r = cpu_.run(set_.is_8086 ? 1 : 50);
    std::ostringstream why;
    if (!set_.is_8086 && r != StopReason::Halted) why << "did not reach HLT (stop " << static_cast<int>(r) << ") ";

    auto expect = [&](const char* name) -> uint32_t {
      return fr.contains(name) ? fr[name].get<uint32_t>() : ir[name].get<uint32_t>();
    };
    for (unsigned k = 0; k < 8; ++k) {
      uint32_t e = expect(REG_NAMES[k]), a = s.regs[k] & 0xFFFF;
      if (a != e) why << REG_NAMES[k] << "=" << std::hex << a << " want " << e << std::dec << " ";
    }
    for (unsigned k = 0; k < 4; ++k) {
      uint32_t e = expect(SEG_NAMES[k]), a = s.seg[k].sel;
      if (a != e) why << SEG_NAMES[k] << "=" << std::hex << a << " want " << e << std::dec << " ";
    }
    if ((s.eip & 0xFFFF) != expect("ip")) why << "ip=" << std::hex << s.eip << " want " << expect("ip") << std::dec << " ";
    uint32_t af = cpu_.flags_image() & flags_mask, ef = expect("flags") & flags_mask;
    if (af != ef) why << "flags=" << std::hex << af << " want " << ef << " (mask " << flags_mask << ")" << std::dec << " ";

    // An exception pushed FLAGS, CS, IP: the flags image (with its undefined bits) is at the
    // final SS:SP+4. (The captures' flag_address is off by one when SP is odd, and the 8086 set has
    // none, so it is located from the final registers.)
    uint32_t flag_addr = 0xFFFFFFFFu;
    const bool pushed_frame = ((ir["sp"].get<uint32_t>() - 6) & 0xFFFF) == expect("sp");
    if (t.contains("exception") || (set_.is_8086 && pushed_frame)) {
      uint32_t ss = expect("ss"), sp = expect("sp");
      flag_addr = ((ss << 4) + ((sp + 4) & 0xFFFF)) & ram_mask;
    }
    for (const json& b : t["final"]["ram"]) {
      uint32_t addr = b[0].get<uint32_t>();
      uint8_t e = b[1].get<uint8_t>(), a = ram[addr & ram_mask];
      uint8_t m = 0xFF;
      if (addr == flag_addr) m = static_cast<uint8_t>(flags_mask);
      if (addr == flag_addr + 1) m = static_cast<uint8_t>(flags_mask >> 8);
      if ((a & m) != (e & m)) why << "[" << std::hex << addr << "]=" << unsigned(a) << " want " << unsigned(e) << std::dec << " ";
    }
    // Leave RAM as it was for the next test.
    for (const json& b : t["initial"]["ram"]) ram[b[0].get<uint32_t>() & ram_mask] = 0;
    for (const json& b : t["final"]["ram"]) ram[b[0].get<uint32_t>() & ram_mask] = 0;
    return why.str();
  }

  const SetInfo& set_;
  PhysicalMemory mem_;

 public:
  const Jit* jit() const { return cpu_.jit.get(); }

 private:
  PortBus io_;
  Cpu cpu_;
};

std::vector<Exclusion> load_exclusions(const fs::path& p) {
  std::vector<Exclusion> out;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    Exclusion e;
    ls >> e.set >> e.form;
    std::string word;
    ls >> std::ws;
    if (ls.peek() == 'h' || ls.peek() == 'r') {
      std::streampos pos = ls.tellg();
      ls >> word;
      if (word.rfind("hash:", 0) == 0) e.hash = word.substr(5);
      else if (word.rfind("rule:", 0) == 0) e.rule = word.substr(5);
      else ls.seekg(pos);
    }
    std::getline(ls >> std::ws, e.reason);
    if (e.set.empty() || e.form.empty() || e.reason.empty() ||
        (!e.rule.empty() && !known_rules.count(e.rule))) {
      std::fprintf(stderr, "vx86_vectors: bad exclusion line (want: SET FORM [hash:H|rule:R] REASON): %s\n",
                   line.c_str());
      std::exit(2);
    }
    out.push_back(e);
  }
  return out;
}

std::vector<SetInfo> find_sets(const fs::path& dir) {
  std::vector<SetInfo> sets;
  auto add = [&](const fs::path& d) {
    SetInfo s;
    s.dir = d;
    s.name = d.filename().string();
    std::ifstream in(d / "metadata.json");
    s.metadata = json::parse(in);
    s.is_8086 = s.metadata.value("cpu", "") == "8086";
    std::ifstream rv(d / "revocation_list.txt");
    std::string line;
    while (std::getline(rv, line))
      if (!line.empty() && line[0] != '#') s.revoked.insert(line.substr(0, line.find_first_of(" \t\r")));
    sets.push_back(std::move(s));
  };
  if (fs::exists(dir / "metadata.json")) {
    add(dir);
  } else if (fs::is_directory(dir)) {
    std::vector<fs::path> subs;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_directory() && fs::exists(e.path() / "metadata.json")) subs.push_back(e.path());
    std::sort(subs.begin(), subs.end());
    for (const auto& d : subs) add(d);
  }
  return sets;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<fs::path> dirs;
  std::string only, only_set;
  bool verbose = false;
  fs::path excl_path = VX86_VECTORS_EXCLUSIONS;
  long long min_pass = -1;
  unsigned jobs = std::max(1u, std::thread::hardware_concurrency());
  for (int k = 1; k < argc; ++k) {
    std::string a = argv[k];
    auto need = [&]() -> std::string {
      if (k + 1 >= argc) {
        std::fprintf(stderr, "vx86_vectors: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++k];
    };
    if (a == "--only") only = need();
    else if (a == "--set") only_set = need();
    else if (a == "--verbose" || a == "-v") verbose = true;
    else if (a == "--exclusions") excl_path = need();
    else if (a == "--min-pass") min_pass = std::stoll(need());
    else if (a == "--jobs") jobs = static_cast<unsigned>(std::stoul(need()));
    else if (a == "--jit") {
      std::string v = need();
      if (v != "on" && v != "off") {
        std::fprintf(stderr, "vx86_vectors: --jit takes on or off\n");
        return 2;
      }
      g_jit = v == "on";
    }
    else if (a == "--help") {
      std::puts("usage: vx86_vectors [--only FORM] [--set NAME] [--verbose] [--exclusions FILE] [--min-pass N] [--jobs N] [--jit on|off] [DIR...]");
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "vx86_vectors: unknown option '%s'\n", a.c_str());
      return 2;
    } else dirs.push_back(a);
  }
  if (dirs.empty()) dirs.push_back(VX86_VECTORS_DIR);
  std::vector<Exclusion> excl = load_exclusions(excl_path);

  std::vector<SetInfo> sets;
  for (const auto& d : dirs) {
    auto found = find_sets(d);
    if (found.empty()) {
      std::fprintf(stderr, "vx86_vectors: no vector set (metadata.json) in '%s'\n", d.c_str());
      return 2;
    }
    for (auto& s : found)
      if (only_set.empty() || s.name == only_set) sets.push_back(std::move(s));
  }

  struct Work {
    const SetInfo* set;
    fs::path file;
    FormResult res;
  };
  std::vector<Work> work;
  for (const auto& s : sets) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(s.dir))
      if (e.path().string().ends_with(".json.gz")) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::string form = f.filename().string();
      form = form.substr(0, form.size() - std::string(".json.gz").size());
      if (!only.empty() && form != only) continue;
      Work w{&s, f, {}};
      w.res.set = s.name;
      w.res.form = form;
      for (const auto& e : excl)
        if (e.set == s.name && e.form == form && e.hash.empty()) w.res.excluded = e.reason;
      work.push_back(std::move(w));
    }
  }

  std::atomic<size_t> next{0};
  std::atomic<uint64_t> jit_blocks{0}, jit_native{0};
  auto worker = [&] {
    std::map<const SetInfo*, std::unique_ptr<Runner>> runners;
    for (size_t k; (k = next++) < work.size();) {
      Work& w = work[k];
      if (!w.res.excluded.empty()) continue;
      auto& r = runners[w.set];
      if (!r) r = std::make_unique<Runner>(*w.set);
      std::vector<Exclusion> mine;
      for (const auto& e : excl)
        if (e.set == w.set->name && (e.form == w.res.form || e.form == "*") && (!e.hash.empty() || !e.rule.empty()))
          mine.push_back(e);
      r->run_form(w.file, w.res.form, mine, w.res, verbose);
    }
    for (auto& [set, r] : runners)
      if (r->jit()) {
        jit_blocks += r->jit()->stats().blocks;
        jit_native += r->jit()->stats().native_insns;
      }
  };
  std::vector<std::thread> threads;
  for (unsigned j = 0; j < std::min<size_t>(jobs, work.size()); ++j) threads.emplace_back(worker);
  for (auto& t : threads) t.join();

  if (g_jit)
    std::printf("jit: %llu blocks translated, %llu instructions in them native\n",
                static_cast<unsigned long long>(jit_blocks.load()), static_cast<unsigned long long>(jit_native.load()));
  size_t passed = 0, failed = 0, skipped = 0, excluded_forms = 0, masked = 0;
  std::map<std::string, size_t> rule_counts;
  for (const auto& w : work) {
    const FormResult& r = w.res;
    if (!r.excluded.empty()) {
      ++excluded_forms;
      std::printf("%-6s %-5s excluded: %s\n", r.set.c_str(), r.form.c_str(), r.excluded.c_str());
      continue;
    }
    std::printf("%-6s %-5s %5zu passed %5zu failed", r.set.c_str(), r.form.c_str(), r.passed, r.failed);
    if (r.skipped) std::printf(" %4zu skipped (revoked or excluded by hash)", r.skipped);
    std::printf("\n");
    for (const auto& f : r.failures) std::printf("    %s\n", f.c_str());
    passed += r.passed;
    failed += r.failed;
    skipped += r.skipped;
    masked += r.masked;
    for (const auto& [rule, n] : r.by_rule) rule_counts[rule] += n;
  }
  if (masked) std::printf("tests run with SF/ZF/PF masked (AAM 0 #DE on the 286): %zu\n", masked);
  for (const auto& [rule, n] : rule_counts) std::printf("excluded tests (%s): %zu\n", rule.c_str(), n);
  std::printf("excluded forms: %zu (see %s); tests skipped: %zu\n", excluded_forms, excl_path.c_str(), skipped);
  std::printf("vectors: %zu passed, %zu failed\n", passed, failed);
  if (min_pass >= 0 && static_cast<long long>(passed) < min_pass) {
    std::printf("FAIL: %zu vectors passed, fewer than the recorded %lld\n", passed, min_pass);
    return 1;
  }
  return 0;
}
