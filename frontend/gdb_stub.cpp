#include "frontend/gdb_stub.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "emu/board/machine.h"
#include "frontend/gdb_monitor.h"

namespace vx86 {

namespace {

constexpr size_t kMaxPacket = 16384;  // what qSupported announces (PacketSize, hex)
// i386 core: 16 general/segment, 8 x87 data, 8 x87 control; then CR0, CR2, CR3, CR4, EFER (low half).
constexpr unsigned kCoreRegs = 32, kRegCount = 37;

// The target description gdb reads (qXfer:features:read:target.xml): i386's core registers.
const char kTargetXml[] =
    "<?xml version=\"1.0\"?><!DOCTYPE target SYSTEM \"gdb-target.dtd\">"
    "<target version=\"1.0\"><architecture>i386</architecture>"
    "<feature name=\"org.gnu.gdb.i386.core\">"
    "<reg name=\"eax\" bitsize=\"32\" type=\"int32\"/><reg name=\"ecx\" bitsize=\"32\" type=\"int32\"/>"
    "<reg name=\"edx\" bitsize=\"32\" type=\"int32\"/><reg name=\"ebx\" bitsize=\"32\" type=\"int32\"/>"
    "<reg name=\"esp\" bitsize=\"32\" type=\"data_ptr\"/><reg name=\"ebp\" bitsize=\"32\" type=\"data_ptr\"/>"
    "<reg name=\"esi\" bitsize=\"32\" type=\"int32\"/><reg name=\"edi\" bitsize=\"32\" type=\"int32\"/>"
    "<reg name=\"eip\" bitsize=\"32\" type=\"code_ptr\"/><reg name=\"eflags\" bitsize=\"32\" type=\"int32\"/>"
    "<reg name=\"cs\" bitsize=\"32\" type=\"int32\"/><reg name=\"ss\" bitsize=\"32\" type=\"int32\"/>"
    "<reg name=\"ds\" bitsize=\"32\" type=\"int32\"/><reg name=\"es\" bitsize=\"32\" type=\"int32\"/>"
    "<reg name=\"fs\" bitsize=\"32\" type=\"int32\"/><reg name=\"gs\" bitsize=\"32\" type=\"int32\"/>"
    "<reg name=\"st0\" bitsize=\"80\" type=\"i387_ext\"/><reg name=\"st1\" bitsize=\"80\" type=\"i387_ext\"/>"
    "<reg name=\"st2\" bitsize=\"80\" type=\"i387_ext\"/><reg name=\"st3\" bitsize=\"80\" type=\"i387_ext\"/>"
    "<reg name=\"st4\" bitsize=\"80\" type=\"i387_ext\"/><reg name=\"st5\" bitsize=\"80\" type=\"i387_ext\"/>"
    "<reg name=\"st6\" bitsize=\"80\" type=\"i387_ext\"/><reg name=\"st7\" bitsize=\"80\" type=\"i387_ext\"/>"
    "<reg name=\"fctrl\" bitsize=\"32\" type=\"int\" group=\"float\"/>"
    "<reg name=\"fstat\" bitsize=\"32\" type=\"int\" group=\"float\"/>"
    "<reg name=\"ftag\" bitsize=\"32\" type=\"int\" group=\"float\"/>"
    "<reg name=\"fiseg\" bitsize=\"32\" type=\"int\" group=\"float\"/>"
    "<reg name=\"fioff\" bitsize=\"32\" type=\"int\" group=\"float\"/>"
    "<reg name=\"foseg\" bitsize=\"32\" type=\"int\" group=\"float\"/>"
    "<reg name=\"fooff\" bitsize=\"32\" type=\"int\" group=\"float\"/>"
    "<reg name=\"fop\" bitsize=\"32\" type=\"int\" group=\"float\"/>"
    "</feature><feature name=\"org.vx86.i386.sys\">"
    "<reg name=\"cr0\" bitsize=\"32\" type=\"int32\" group=\"system\"/>"
    "<reg name=\"cr2\" bitsize=\"32\" type=\"int32\" group=\"system\"/>"
    "<reg name=\"cr3\" bitsize=\"32\" type=\"int32\" group=\"system\"/>"
    "<reg name=\"cr4\" bitsize=\"32\" type=\"int32\" group=\"system\"/>"
    "<reg name=\"efer\" bitsize=\"32\" type=\"int32\" group=\"system\"/>"
    "</feature></target>";

const char kHex[] = "0123456789abcdef";

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string to_hex(const uint8_t* p, size_t n) {
  std::string s;
  s.reserve(2 * n);
  for (size_t k = 0; k < n; ++k) {
    s += kHex[p[k] >> 4];
    s += kHex[p[k] & 15];
  }
  return s;
}

// Parses a hex number of at most 8 digits ending at `end` or at one of `stops`; false if malformed.
bool parse_hex32(const std::string& s, size_t& pos, uint32_t& v, const char* stops) {
  v = 0;
  size_t n = 0;
  while (pos < s.size() && !std::strchr(stops, s[pos])) {
    const int d = hex_digit(s[pos]);
    if (d < 0 || ++n > 8) return false;
    v = (v << 4) | static_cast<uint32_t>(d);
    ++pos;
  }
  return n > 0;
}

bool from_hex(const std::string& s, size_t pos, size_t count, std::string& out) {
  if (pos > s.size() || (s.size() - pos) < 2 * count) return false;
  out.resize(count);
  for (size_t k = 0; k < count; ++k) {
    const int hi = hex_digit(s[pos + 2 * k]), lo = hex_digit(s[pos + 2 * k + 1]);
    if (hi < 0 || lo < 0) return false;
    out[k] = static_cast<char>((hi << 4) | lo);
  }
  return true;
}

// gdb's segment register order (cs ss ds es fs gs) in CpuState's.
constexpr unsigned kSegOrder[6] = {CS, SS, DS, ES, FS, GS};

}  // namespace

GdbStub::GdbStub(Machine& m, const std::string& host, uint16_t port) : m_(m) {
  listen_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_ < 0) throw std::runtime_error(std::string("gdb: socket: ") + std::strerror(errno));
  const int one = 1;
  setsockopt(listen_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) {
    close(listen_);
    throw std::runtime_error("gdb: '" + host + "' is not an IPv4 address");
  }
  if (bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listen_, 1) != 0) {
    const std::string why = std::strerror(errno);
    close(listen_);
    throw std::runtime_error("gdb: cannot listen on " + host + ":" + std::to_string(port) + ": " + why);
  }
}

GdbStub::GdbStub(Machine& m, const std::string& path) : m_(m) {
  sockaddr_un a{};
  if (path.empty() || path.size() >= sizeof a.sun_path)
    throw std::runtime_error("gdb: socket path '" + path + "' is empty or too long");
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) throw std::runtime_error("gdb: '" + path + "' exists and is not a socket");
    unlink(path.c_str());  // a stale socket of an earlier run
  }
  listen_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_ < 0) throw std::runtime_error(std::string("gdb: socket: ") + std::strerror(errno));
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, path.c_str(), path.size());
  if (bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listen_, 1) != 0) {
    const std::string why = std::strerror(errno);
    close(listen_);
    throw std::runtime_error("gdb: cannot listen on " + path + ": " + why);
  }
  unix_path_ = path;
}

GdbStub::~GdbStub() {
  close_client();
  if (listen_ >= 0) close(listen_);
  if (!unix_path_.empty()) unlink(unix_path_.c_str());
}

void GdbStub::accept_client() {
  while (client_ < 0) {
    client_ = accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client_ < 0 && errno != EINTR)
      throw std::runtime_error(std::string("gdb: accept: ") + std::strerror(errno));
  }
  const int one = 1;
  setsockopt(client_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  in_.clear();
  fresh_ = true;
}

void GdbStub::close_client() {
  if (client_ >= 0) close(client_);
  client_ = -1;
  in_.clear();
}

bool GdbStub::interrupt_requested() {
  if (client_ < 0) {
    // A debugger may attach at any time: it finds the guest stopped.
    pollfd p{listen_, POLLIN, 0};
    if (poll(&p, 1, 0) == 1 && (p.revents & POLLIN)) {
      accept_client();
      return true;
    }
    return false;
  }
  pollfd p{client_, POLLIN, 0};
  if (poll(&p, 1, 0) != 1) return false;
  char buf[4096];
  const ssize_t n = read(client_, buf, sizeof buf);
  if (n <= 0) {
    close_client();  // gone while the guest runs: it runs on
    return false;
  }
  in_.append(buf, static_cast<size_t>(n));
  const size_t at = in_.find('\x03');
  if (at == std::string::npos) return false;
  in_.erase(at, 1);
  return true;
}

// Reads until one whole packet ($payload#cs) with a valid checksum; acks it ('+'). Bytes outside
// packets (acks, a stray Ctrl-C) are skipped; a bad checksum or an overlong packet gets a NAK.
bool GdbStub::read_packet(std::string& payload) {
  for (;;) {
    const size_t start = in_.find('$');
    if (start != std::string::npos) {
      in_.erase(0, start);
      const size_t hash = in_.find('#');
      if (hash != std::string::npos && in_.size() >= hash + 3) {
        payload = in_.substr(1, hash - 1);
        const int hi = hex_digit(in_[hash + 1]), lo = hex_digit(in_[hash + 2]);
        in_.erase(0, hash + 3);
        uint8_t sum = 0;
        for (char c : payload) sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(c));
        if (hi >= 0 && lo >= 0 && sum == ((hi << 4) | lo)) {
          const char ack = '+';
          if (write(client_, &ack, 1) != 1) return false;
          return true;
        }
        const char nak = '-';
        if (write(client_, &nak, 1) != 1) return false;
        continue;
      }
      if (in_.size() > kMaxPacket + 4) {  // no end in sight: drop it, ask again
        in_.clear();
        const char nak = '-';
        if (write(client_, &nak, 1) != 1) return false;
      }
    } else {
      in_.clear();
    }
    char buf[4096];
    const ssize_t n = read(client_, buf, sizeof buf);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
    in_.append(buf, static_cast<size_t>(n));
  }
}

void GdbStub::send_packet(const std::string& payload) {
  if (client_ < 0) return;
  uint8_t sum = 0;
  for (char c : payload) sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(c));
  std::string out = "$" + payload + "#";
  out += kHex[sum >> 4];
  out += kHex[sum & 15];
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = write(client_, out.data() + done, out.size() - done);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      close_client();
      return;
    }
    done += static_cast<size_t>(n);
  }
}

Cpu& GdbStub::sel() { return m_.cpu(std::min(sel_, m_.cpu_count() - 1)); }

std::string GdbStub::stop_reply(int signal) const {
  char buf[64];
  const Cpu& c = const_cast<Machine&>(m_).current_cpu();
  std::string thread;
  if (m_.cpu_count() > 1) thread = "thread:" + std::to_string(c.apic_id + 1) + ";";  // (ids in hex: < 9)
  if (const auto& w = c.debug_watch_hit) {
    // A watchpoint: gdb finds it by its kind and address (stopped after the accessing instruction).
    const char* what = w->kind == WatchKind::Write  ? "watch"
                       : w->kind == WatchKind::Read ? "rwatch"
                                                    : "awatch";
    std::snprintf(buf, sizeof buf, "T%02x%s:%x;", signal & 0xFF, what, w->addr);
  } else if (!thread.empty()) {
    std::snprintf(buf, sizeof buf, "T%02x", signal & 0xFF);
  } else {
    std::snprintf(buf, sizeof buf, "S%02x", signal & 0xFF);
  }
  return buf + thread;
}

GdbStub::Resume GdbStub::stopped(int signal, bool report) {
  Cpu& c = m_.current_cpu();
  sel_ = c.apic_id;  // gdb looks at the CPU that stopped
  if (report && !fresh_) send_packet(stop_reply(signal));
  for (size_t i = 0; i < m_.cpu_count(); ++i) m_.cpu(i).debug_watch_hit.reset();
  fresh_ = false;
  std::string payload;
  while (client_ >= 0) {
    if (!read_packet(payload)) break;
    std::optional<Resume> r;
    const std::string reply = handle(payload, r);
    if (!r) {
      send_packet(reply);
      continue;
    }
    if (*r == Resume::Kill) {
      close_client();
      return Resume::Kill;
    }
    if (*r == Resume::Detach) {
      send_packet(reply);
      close_client();
      return Resume::Detach;
    }
    return *r;  // c/s: the stop reply comes when the guest stops again
  }
  close_client();
  return Resume::Detach;
}

void GdbStub::guest_exited(int status) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "W%02x", status & 0xFF);
  send_packet(buf);
  // Wait (briefly) for gdb's ack: closing first can cost it the packet on a Unix socket.
  pollfd p{client_, POLLIN, 0};
  if (client_ >= 0 && poll(&p, 1, 1000) == 1) {
    char ack;
    [[maybe_unused]] const ssize_t n = read(client_, &ack, 1);
  }
  close_client();
}

std::string GdbStub::read_register(unsigned n) {
  const CpuState& s = sel().s;
  uint8_t b[10] = {};
  size_t len = 4;
  uint32_t v = 0;
  if (n < 8)
    v = s.regs[n];
  else if (n == 8)
    v = s.eip;
  else if (n == 9)
    v = s.eflags;
  else if (n < 16)
    v = s.seg[kSegOrder[n - 10]].sel;
  else if (n < 24) {
    const unsigned top = (s.fpu.sw >> 11) & 7;
    std::memcpy(b, s.fpu.st[(top + n - 16) & 7], 10);
    return to_hex(b, 10);
  } else if (n >= kCoreRegs) {
    const uint32_t sys[5] = {s.cr[0], s.cr[2], s.cr[3], s.cr[4], static_cast<uint32_t>(s.msr.efer)};
    v = sys[n - kCoreRegs];
  } else {
    uint32_t tag = 0;
    for (unsigned r = 0; r < 8; ++r) tag |= ((s.fpu.tags >> r) & 1 ? 0u : 3u) << (2 * r);
    const uint32_t fpu[8] = {s.fpu.cw, s.fpu.sw, tag, s.fpu.fcs, s.fpu.fip, s.fpu.fds, s.fpu.fdp, s.fpu.fop};
    v = fpu[n - 24];
  }
  std::memcpy(b, &v, 4);
  return to_hex(b, len);
}

std::string GdbStub::read_registers() {
  std::string out;
  for (unsigned n = 0; n < kRegCount; ++n) out += read_register(n);
  return out;
}

bool GdbStub::write_register(unsigned n, const std::string& bytes) {
  Cpu& c = sel();
  if (n >= 16 || bytes.size() != 4) return false;  // x87 and segment registers: read-only here
  uint32_t v;
  std::memcpy(&v, bytes.data(), 4);
  if (n < 8)
    c.s.regs[n] = v;
  else if (n == 8)
    c.s.eip = v;
  else if (n == 9) {
    c.s.eflags = (v | F_BIT1) & ~0x8028u;
    c.update_mode();
  } else {
    return c.s.seg[kSegOrder[n - 10]].sel == (v & 0xFFFF);  // a selector load would need its descriptor
  }
  return true;
}

bool GdbStub::read_memory(uint32_t lin, uint32_t len, std::string& hex) {
  hex.clear();
  Cpu& c = sel();
  PhysicalMemory& mem = m_.memory();
  for (uint32_t k = 0; k < len; ++k) {
    uint32_t phys;
    // A partial read is a short reply. Device memory is not read: it can have side effects.
    if (!c.mmu.debug_translate(lin + k, phys) || !mem.host_page(phys)) return k > 0;
    const uint8_t b = mem.host_page(phys)[phys & PAGE_MASK];
    hex += kHex[b >> 4];
    hex += kHex[b & 15];
  }
  return true;
}

bool GdbStub::write_memory(uint32_t lin, const std::string& bytes) {
  Cpu& c = sel();
  PhysicalMemory& mem = m_.memory();
  for (size_t k = 0; k < bytes.size(); ++k) {
    uint32_t phys;
    if (!c.mmu.debug_translate(lin + static_cast<uint32_t>(k), phys)) return false;
    if (!mem.host_page(phys) || !mem.page_writable(phys)) return false;  // RAM only
    mem.write(phys, static_cast<uint8_t>(bytes[k]), 1);
    for (size_t i = 0; i < m_.cpu_count(); ++i) m_.cpu(i).blocks.invalidate_range(phys, 1);  // decoded again
  }
  return true;
}

std::string GdbStub::handle(const std::string& p, std::optional<Resume>& resume) {
  if (p.empty()) return "";
  const size_t ncpu = m_.cpu_count();
  // Breakpoints and watchpoints go to every CPU.
  auto each_cpu = [&](auto&& f) {
    for (size_t i = 0; i < ncpu; ++i) f(m_.cpu(i));
  };
  // A thread id (gdb's hex; -1 = all, 0 = any): the CPU index, or nullopt if there is none such.
  auto thread_of = [&](const std::string& s) -> std::optional<size_t> {
    if (s == "-1" || s == "0") return sel_;
    size_t at = 0;
    uint32_t id;
    if (!parse_hex32(s, at, id, "") || id < 1 || id > ncpu) return std::nullopt;
    return id - 1;
  };
  const char cmd = p[0];
  size_t pos = 1;
  switch (cmd) {
    case '?':
      return stop_reply(5);
    case 'g':
      return read_registers();
    case 'G': {
      std::string bytes;
      if (!from_hex(p, 1, 16 * 4, bytes)) return "E01";
      for (unsigned n = 0; n < 10; ++n) write_register(n, bytes.substr(4 * n, 4));  // GPRs, EIP, EFLAGS
      return "OK";
    }
    case 'p': {
      uint32_t n;
      if (!parse_hex32(p, pos, n, "") || n >= kRegCount) return "E01";
      return read_register(n);
    }
    case 'P': {
      uint32_t n;
      std::string bytes;
      if (!parse_hex32(p, pos, n, "=") || pos >= p.size() || p[pos] != '=') return "E01";
      if (!from_hex(p, pos + 1, (p.size() - pos - 1) / 2, bytes) || !write_register(n, bytes)) return "E01";
      return "OK";
    }
    case 'm': {
      uint32_t addr, len;
      if (!parse_hex32(p, pos, addr, ",") || pos >= p.size() || !parse_hex32(p, ++pos, len, "")) return "E01";
      if (len > kMaxPacket / 2) len = kMaxPacket / 2;
      std::string hex;
      if (!read_memory(addr, len, hex)) return "E14";
      return hex;
    }
    case 'X': {  // binary write: 0x7d escapes the next byte (XOR 0x20); a zero length is gdb's probe
      uint32_t addr, len;
      if (!parse_hex32(p, pos, addr, ",") || pos >= p.size() || !parse_hex32(p, ++pos, len, ":") ||
          pos >= p.size() || len > kMaxPacket)
        return "E01";
      std::string bytes;
      for (size_t k = pos + 1; k < p.size(); ++k) {
        char ch = p[k];
        if (ch == 0x7d) {
          if (++k >= p.size()) return "E01";
          ch = static_cast<char>(p[k] ^ 0x20);
        }
        bytes += ch;
      }
      if (bytes.size() != len) return "E01";
      return len == 0 || write_memory(addr, bytes) ? "OK" : "E14";
    }
    case 'M': {
      uint32_t addr, len;
      std::string bytes;
      if (!parse_hex32(p, pos, addr, ",") || pos >= p.size() || !parse_hex32(p, ++pos, len, ":") ||
          pos >= p.size() || len > kMaxPacket || !from_hex(p, pos + 1, len, bytes))
        return "E01";
      return write_memory(addr, bytes) ? "OK" : "E14";
    }
    case 'c':
    case 's': {
      uint32_t addr;
      if (pos < p.size()) {
        if (!parse_hex32(p, pos, addr, "")) return "E01";
        m_.current_cpu().s.eip = addr;
      }
      resume = cmd == 'c' ? Resume::Continue : Resume::Step;
      return "";
    }
    case 'v':
      if (p == "vCont?") return "vCont;c;C;s;S";
      if (p.rfind("vCont;", 0) == 0) {
        const char a = p.size() > 6 ? p[6] : 0;
        if (a == 'c' || a == 'C')
          resume = Resume::Continue;
        else if (a == 's' || a == 'S')
          resume = Resume::Step;
        else
          return "E01";
        return "";
      }
      return "";
    case 'Z':
    case 'z': {
      uint32_t type, addr, kind;
      if (!parse_hex32(p, pos, type, ",") || pos >= p.size() || !parse_hex32(p, ++pos, addr, ",") ||
          pos >= p.size() || !parse_hex32(p, ++pos, kind, ";"))
        return "E01";
      if (type > 4) return "";  // unknown kinds: unsupported (empty reply)
      if (type >= 2) {
        // Watchpoints: `kind` is the length in bytes.
        if (kind == 0 || kind > 4096 || addr + (kind - 1) < addr) return "E01";
        const Watchpoint w{addr, kind, static_cast<WatchKind>(type)};
        if (cmd == 'z') return each_cpu([&](Cpu& c) { c.mmu.remove_watchpoint(w); }), "OK";
        bool added = true;
        each_cpu([&](Cpu& c) { added &= c.mmu.add_watchpoint(w); });
        if (!added) each_cpu([&](Cpu& c) { c.mmu.remove_watchpoint(w); });
        return added ? "OK" : "E0c";
      }
      std::vector<uint32_t> bps = m_.cpu().debug_breakpoints;
      const auto it = std::find(bps.begin(), bps.end(), addr);
      if (cmd == 'Z' && it == bps.end()) {
        if (bps.size() >= 256) return "E0c";
        bps.push_back(addr);
      } else if (cmd == 'z' && it != bps.end()) {
        bps.erase(it);
      } else {
        return "OK";
      }
      each_cpu([&](Cpu& c) { c.set_debug_breakpoints(bps); });
      return "OK";
    }
    case 'k':
      resume = Resume::Kill;
      return "";
    case 'D':
      each_cpu([](Cpu& c) {
        c.set_debug_breakpoints({});
        c.mmu.clear_watchpoints();
      });
      resume = Resume::Detach;
      return "OK";
    case 'H': {
      // Hg: the CPU for register and memory packets; Hc (continue/step): every CPU runs, the
      // one that stopped steps.
      const auto t = p.size() >= 2 ? thread_of(p.substr(2)) : std::nullopt;
      if (!t) return "E01";
      if (p[1] == 'g') sel_ = *t;
      return "OK";
    }
    case 'T':
      return thread_of(p.substr(1)) ? "OK" : "E01";
    case 'q':
      if (p.rfind("qRcmd,", 0) == 0) {
        // `monitor ...`: the output goes to gdb's console as O packets, then OK.
        std::string line;
        if (p.size() > 6 + 2 * 1024 || !from_hex(p, 6, (p.size() - 6) / 2, line)) return "E01";
        const std::string out = monitor_command(m_, line);
        for (size_t at = 0; at < out.size(); at += kMaxPacket / 4) {
          std::string packet(1, 'O');
          packet += to_hex(reinterpret_cast<const uint8_t*>(out.data()) + at,
                           std::min(kMaxPacket / 4, out.size() - at));
          send_packet(packet);
        }
        return "OK";
      }
      if (p.rfind("qSupported", 0) == 0) return "PacketSize=4000;qXfer:features:read+;vContSupported+";
      if (p == "qAttached") return "1";
      if (p == "qC") return std::string("QC") += std::to_string(m_.current_cpu().apic_id + 1);
      if (p == "qfThreadInfo") {
        std::string list = "m";
        for (size_t i = 0; i < ncpu; ++i) {
          if (i) list += ',';
          list += std::to_string(i + 1);
        }
        return list;
      }
      if (p == "qsThreadInfo") return "l";
      if (p.rfind("qThreadExtraInfo,", 0) == 0) {
        const auto t = thread_of(p.substr(17));
        if (!t) return "E01";
        const Cpu& c = m_.cpu(*t);
        std::string info = "CPU " + std::to_string(*t) + (c.bsp ? " (BSP)" : " (AP)");
        if (c.s.wait_sipi)
          info += " waiting for SIPI";
        else if (c.s.halted)
          info += " halted";
        return to_hex(reinterpret_cast<const uint8_t*>(info.data()), info.size());
      }
      if (p.rfind("qXfer:features:read:target.xml:", 0) == 0) {
        pos = std::strlen("qXfer:features:read:target.xml:");
        uint32_t off, len;
        if (!parse_hex32(p, pos, off, ",") || pos >= p.size() || !parse_hex32(p, ++pos, len, ""))
          return "E01";
        const size_t size = sizeof kTargetXml - 1;
        if (off >= size) return "l";
        const size_t n = std::min<size_t>({len, size - off, kMaxPacket - 1});
        return (off + n >= size ? "l" : "m") + std::string(kTargetXml + off, n);
      }
      return "";
    default:
      return "";
  }
}

}  // namespace vx86
