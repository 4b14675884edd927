// Host-differential testing: run one instruction natively on the host CPU (an x86-64 runs 32-bit
// operand-size instructions with the same encoding in 64-bit mode) and in vx86 from the same
// registers, flags and memory, then compare. Used by diff32_test.cpp and p6_test.cpp.
//
// An instruction is given in its 32-bit-code encoding. vx86 runs it two ways:
//  - Real: 16-bit real mode, the way a BIOS or DOS program runs 32-bit code: the operand-size
//    prefix 66 is toggled (added to 32-bit forms, removed from 16-bit ones) and 67 is added so the
//    ModRM keeps its 32-bit addressing meaning;
//  - Code32: the same bytes with CS.D = 1 (32-bit code), flat segments.
// Memory operands are based on one register (EBX unless the instruction uses EBX as data): the
// host's register points at a host buffer, vx86's at guest RAM holding the same bytes; the base
// register itself is then not compared, the buffers are.
#pragma once
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "devices/port_bus.h"
#include "emu/cpu.h"
#include "mmu/physical_memory.h"

namespace vx86::test {

constexpr unsigned DIFF_MEM = 64;         // bytes of the memory operand area
constexpr unsigned DIFF_MEM_BASE = 32;    // EBX points this far into it (room for negative offsets)

struct DiffState {
  uint32_t r[8] = {};  // EAX..EDI; ESP is never an operand and never compared
  uint32_t flags = 0;  // arithmetic flags in, EFLAGS out
  uint8_t mem[DIFF_MEM] = {};
};

struct DiffInsn {
  std::vector<uint8_t> code;       // 32-bit-code encoding
  std::vector<uint8_t> host_code;  // host bytes when they differ (INC/DEC 40+r are REX in 64-bit)
  bool mem = false;                // has a memory operand based on `base`
  uint8_t base = EBX;              // its base register
};

enum class GuestMode { Real, Code32 };

inline const char* mode_name(GuestMode m) { return m == GuestMode::Real ? "real mode (66/67)" : "32-bit code"; }

#if defined(__x86_64__)
// Runs instruction bytes natively: a trampoline loads RAX..RDI (not RSP) and RFLAGS from a
// context, runs the bytes, stores them back. The instruction must not touch RSP or R15.
class HostRunner {
 public:
  HostRunner() {
    page_ = static_cast<uint8_t*>(mmap(nullptr, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (page_ == MAP_FAILED) page_ = nullptr;
  }
  ~HostRunner() {
    if (page_) munmap(page_, 4096);
  }
  HostRunner(const HostRunner&) = delete;
  HostRunner& operator=(const HostRunner&) = delete;
  bool ok() const { return page_ != nullptr; }

  void run(const std::vector<uint8_t>& insn, DiffState& st, bool mem, unsigned base = EBX) {
    struct Ctx {
      uint64_t r[8];
      uint64_t flags;
    } ctx{};
    alignas(16) uint8_t buf[DIFF_MEM];
    std::memcpy(buf, st.mem, DIFF_MEM);
    for (unsigned k = 0; k < 8; ++k) ctx.r[k] = st.r[k];
    if (mem) ctx.r[base] = reinterpret_cast<uint64_t>(buf + DIFF_MEM_BASE);
    ctx.flags = (st.flags & F_ARITH) | F_BIT1;
    static const uint8_t pre[] = {
        0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57,  // push rbx rbp r12 r13 r14 r15
        0x49, 0x89, 0xFF,                                            // mov r15, rdi
        0x41, 0xFF, 0x77, 0x40, 0x9D,                                // push [r15+64]; popfq
        0x49, 0x8B, 0x07, 0x49, 0x8B, 0x4F, 0x08, 0x49, 0x8B, 0x57, 0x10, 0x49, 0x8B, 0x5F, 0x18,
        0x49, 0x8B, 0x6F, 0x28, 0x49, 0x8B, 0x77, 0x30, 0x49, 0x8B, 0x7F, 0x38,  // rax..rdi <- [r15+8k]
    };
    static const uint8_t post[] = {
        0x49, 0x89, 0x07, 0x49, 0x89, 0x4F, 0x08, 0x49, 0x89, 0x57, 0x10, 0x49, 0x89, 0x5F, 0x18,
        0x49, 0x89, 0x6F, 0x28, 0x49, 0x89, 0x77, 0x30, 0x49, 0x89, 0x7F, 0x38,  // [r15+8k] <- rax..rdi
        0x9C, 0x41, 0x8F, 0x47, 0x40,                                // pushfq; pop [r15+64]
        0x41, 0x5F, 0x41, 0x5E, 0x41, 0x5D, 0x41, 0x5C, 0x5D, 0x5B,  // pop r15 r14 r13 r12 rbp rbx
        0xC3,
    };
    uint8_t* p = page_;
    std::memcpy(p, pre, sizeof pre);
    p += sizeof pre;
    std::memcpy(p, insn.data(), insn.size());
    p += insn.size();
    std::memcpy(p, post, sizeof post);
    reinterpret_cast<void (*)(Ctx*)>(page_)(&ctx);
    for (unsigned k = 0; k < 8; ++k) st.r[k] = static_cast<uint32_t>(ctx.r[k]);
    st.flags = static_cast<uint32_t>(ctx.flags);
    std::memcpy(st.mem, buf, DIFF_MEM);
  }

 private:
  uint8_t* page_ = nullptr;
};
#endif

// vx86 side: a 1 MiB real-mode machine; the instruction runs at 0000:1000 followed by HLT, #DE
// goes to a HLT at 0000:2000, the memory operand area is at 0000:3000.
class GuestRunner {
 public:
  static constexpr uint32_t CODE = 0x1000;
  static constexpr uint32_t DE_HANDLER = 0x2000;
  static constexpr uint32_t MEM = 0x3000;

  GuestRunner() {
    cpu.reset();
    uint8_t* ram = mem.ram();
    ram[0] = DE_HANDLER & 0xFF;
    ram[1] = DE_HANDLER >> 8;
    ram[2] = ram[3] = 0;
    ram[DE_HANDLER] = 0xF4;
  }

  // Guest bytes for a 32-bit-code encoding in the given mode.
  static std::vector<uint8_t> encode(const std::vector<uint8_t>& code, GuestMode mode) {
    if (mode == GuestMode::Code32) return code;
    std::vector<uint8_t> out{0x67};
    if (!code.empty() && code[0] == 0x66) out.insert(out.end(), code.begin() + 1, code.end());
    else {
      out.push_back(0x66);
      out.insert(out.end(), code.begin(), code.end());
    }
    return out;
  }

  // Runs; returns false if the instruction raised #DE (state then as the handler saw it).
  bool run(const std::vector<uint8_t>& code, DiffState& st, bool use_mem, GuestMode mode, unsigned base = EBX) {
    CpuState& s = cpu.s;
    for (unsigned k = 0; k < SEG_COUNT; ++k) {
      cpu.load_seg_real(k, 0);
      s.seg[k].limit = 0xFFFF;
      s.seg[k].attr = 0x0093;
    }
    s.seg[CS].attr = mode == GuestMode::Code32 ? uint16_t{0x009B | SEG_ATTR_DB} : uint16_t{0x009B};
    s.halted = false;
    for (unsigned k = 0; k < 8; ++k) s.regs[k] = st.r[k];
    s.regs[ESP] = 0x8000;
    if (use_mem) s.regs[base] = MEM + DIFF_MEM_BASE;
    s.eflags = (st.flags & F_ARITH) | F_BIT1;
    s.eip = CODE;
    cpu.update_mode();
    uint8_t* ram = mem.ram();
    std::memcpy(ram + CODE, code.data(), code.size());
    ram[CODE + code.size()] = 0xF4;
    std::memcpy(ram + MEM, st.mem, DIFF_MEM);
    cpu.blocks.flush();
    EXPECT_EQ(cpu.run(100), StopReason::Halted);
    for (unsigned k = 0; k < 8; ++k) st.r[k] = s.regs[k];
    st.flags = s.eflags;
    std::memcpy(st.mem, ram + MEM, DIFF_MEM);
    return s.eip != DE_HANDLER + 1;
  }

  PhysicalMemory mem{1u << 20};
  PortBus io;
  Cpu cpu{mem, io};
};

inline std::string hex_bytes(const std::vector<uint8_t>& b) {
  std::ostringstream o;
  o << std::hex;
  for (uint8_t x : b) o << (x < 16 ? "0" : "") << unsigned{x} << ' ';
  return o.str();
}

inline std::string describe(const DiffState& s, bool mem) {
  static const char* names[8] = {"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"};
  std::ostringstream o;
  o << std::hex;
  for (unsigned k = 0; k < 8; ++k)
    if (k != ESP) o << names[k] << '=' << s.r[k] << ' ';
  o << "flags=" << s.flags;
  if (mem) {
    o << " mem[base..+8]=";
    for (unsigned k = 0; k < 8; ++k) o << unsigned{s.mem[DIFF_MEM_BASE + k]} << ' ';
  }
  return o.str();
}

// Random operands with the edge values mixed in.
class OperandGen {
 public:
  explicit OperandGen(uint32_t seed) : rng_(seed) {}
  uint32_t u32() { return static_cast<uint32_t>(rng_()); }
  uint32_t below(uint32_t n) { return u32() % n; }
  uint32_t value() {
    static const uint32_t edges[] = {0,      1,      2,           0x7F,        0x80,        0xFF,        0x100,
                                     0x7FFF, 0x8000, 0xFFFF,      0x10000,     0x7FFFFFFF,  0x80000000u, 0x80000001u,
                                     0xFFFFFFFEu, 0xFFFFFFFFu, 0x55555555u, 0xAAAAAAAAu};
    switch (below(8)) {
      case 0:
      case 1: return edges[below(std::size(edges))];
      case 2: return u32() >> below(32);                     // small magnitudes
      case 3: return ~(u32() >> below(32));                  // small negatives
      default: return u32();
    }
  }
  uint32_t count() {  // shift counts: 0, 1, 31, 32+ and the rest
    static const uint32_t edges[] = {0, 1, 2, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 255};
    return below(2) ? edges[below(std::size(edges))] : below(256);
  }
  uint32_t flags() { return u32() & F_ARITH; }
  void fill(DiffState& s) {
    for (uint32_t& r : s.r) r = value();
    s.r[ESP] = 0;
    s.flags = flags();
    for (unsigned k = 0; k < DIFF_MEM; k += 4) {
      uint32_t v = value();
      std::memcpy(s.mem + k, &v, 4);
    }
  }

 private:
  std::mt19937 rng_;
};

}  // namespace vx86::test
