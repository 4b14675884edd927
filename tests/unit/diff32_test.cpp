// Host-differential test of the 32-bit integer forms (issue 3, point 6): each instruction form
// runs thousands of times with random operands (edge values 0, 1, 7FFFFFFF, 80000000, FFFFFFFF
// mixed in; shift counts 0, 1, 31, 32 and above) natively on the host CPU and in vx86, in real
// mode with the 66/67 prefixes and as 32-bit code, and the results are compared: every register,
// the memory operand, and the flags the SDM defines for that instruction (undefined ones masked).
// Integer divides that would raise #DE are not run on the host: vx86 must raise #DE (through the
// IVT) and leave the registers as they were.
#include <functional>
#include <string>

#include "host_diff.h"

#if defined(__x86_64__)

using namespace vx86;
using namespace vx86::test;

namespace {

constexpr uint32_t ALL = F_ARITH;                // every arithmetic flag (defined or unchanged)
constexpr uint32_t LOGIC = F_ARITH & ~F_AF;      // AND OR XOR TEST: AF undefined
constexpr uint32_t CFOF = F_CF | F_OF;           // MUL IMUL: SF ZF AF PF undefined
constexpr int kCases = 2000;                     // random cases per form (real mode; 32-bit code gets half)

struct Case {
  DiffInsn insn;
  DiffState in;
  uint32_t flag_mask = ALL;
  bool de = false;  // vx86 must raise #DE; the host does not run it
};

uint8_t modrm(unsigned mod, unsigned reg, unsigned rm) { return static_cast<uint8_t>(mod << 6 | reg << 3 | rm); }
void put32(std::vector<uint8_t>& v, uint32_t x) {
  for (unsigned k = 0; k < 4; ++k) v.push_back(static_cast<uint8_t>(x >> (8 * k)));
}

class Diff32 : public ::testing::Test {
 protected:
  HostRunner host;
  GuestRunner guest;
  OperandGen gen{0x5EED1234};
  long cases_run = 0;

  void SetUp() override {
    if (!host.ok()) GTEST_SKIP() << "no executable memory for the host side";
  }
  void TearDown() override { RecordProperty("cases", static_cast<int>(cases_run)); }

  // A random register operand (never ESP); `not_ebx` when EBX is the memory base.
  unsigned reg(bool not_ebx = false) {
    static const uint8_t any[] = {0, 1, 2, 3, 5, 6, 7};
    static const uint8_t no_bx[] = {0, 1, 2, 5, 6, 7};
    return not_ebx ? no_bx[gen.below(6)] : any[gen.below(7)];
  }
  // An 8-bit register operand: any of AL..BH, but not BL/BH when EBX is the memory base.
  unsigned reg8(bool not_ebx = false) {
    static const uint8_t no_bx[] = {0, 1, 2, 4, 5, 6};
    return not_ebx ? no_bx[gen.below(6)] : gen.below(8);
  }
  // [base] or [base + disp8] (disp in -16..16): appends ModRM (+disp) with the given reg field.
  void memop(std::vector<uint8_t>& code, unsigned regfield, unsigned base = EBX) {
    if (gen.below(2)) {
      code.push_back(modrm(0, regfield, base));
    } else {
      code.push_back(modrm(1, regfield, base));
      code.push_back(static_cast<uint8_t>(static_cast<int8_t>(static_cast<int>(gen.below(33)) - 16)));
    }
  }
  // The memory operand's effective offset from the base, for predicates that need its value.
  static int32_t mem_disp(const std::vector<uint8_t>& code, size_t modrm_at) {
    return (code[modrm_at] >> 6) == 1 ? static_cast<int8_t>(code[modrm_at + 1]) : 0;
  }
  static uint32_t mem32(const DiffState& s, int32_t disp) {
    uint32_t v;
    std::memcpy(&v, s.mem + DIFF_MEM_BASE + disp, 4);
    return v;
  }
  static void set_mem32(DiffState& s, int32_t disp, uint32_t v) { std::memcpy(s.mem + DIFF_MEM_BASE + disp, &v, 4); }

  // Runs `n` random cases built by `make` (which gets a randomly filled state to adjust).
  void run_form(const std::string& name, const std::function<void(Case&)>& make, int n = kCases) {
    int failures = 0;
    for (int k = 0; k < n && failures < 3; ++k) {
      Case c;
      gen.fill(c.in);
      make(c);
      DiffState h = c.in;
      if (!c.de) host.run(c.insn.host_code.empty() ? c.insn.code : c.insn.host_code, h, c.insn.mem, c.insn.base);
      for (GuestMode mode : {GuestMode::Real, GuestMode::Code32}) {
        if (mode == GuestMode::Code32 && (k & 1)) continue;
        ++cases_run;
        const std::vector<uint8_t> bytes = GuestRunner::encode(c.insn.code, mode);
        DiffState g = c.in;
        const bool completed = guest.run(bytes, g, c.insn.mem, mode, c.insn.base);
        std::string where = name + " in " + mode_name(mode) + ", bytes " + hex_bytes(bytes) + "\n  in:    " +
                            describe(c.in, c.insn.mem);
        if (c.de) {
          bool same = !completed;
          for (unsigned r = 0; r < 8; ++r)
            if (r != ESP && g.r[r] != c.in.r[r] && !(c.insn.mem && r == c.insn.base)) same = false;
          if (!same) {
            ADD_FAILURE() << where << "\n  expected #DE with registers unchanged\n  vx86:  " << describe(g, c.insn.mem);
            ++failures;
          }
          continue;
        }
        bool same = completed && std::memcmp(g.mem, h.mem, DIFF_MEM) == 0 && ((g.flags ^ h.flags) & c.flag_mask) == 0;
        for (unsigned r = 0; r < 8; ++r)
          if (r != ESP && g.r[r] != h.r[r] && !(c.insn.mem && r == c.insn.base)) same = false;
        if (!same) {
          ADD_FAILURE() << where << "\n  host:  " << describe(h, c.insn.mem) << "\n  vx86:  " << describe(g, c.insn.mem)
                        << (completed ? "" : " (raised #DE)") << "\n  flags compared: " << std::hex << c.flag_mask;
          ++failures;
        }
      }
    }
  }
};

// ---- ADD OR ADC SBB AND SUB XOR CMP, TEST: every 32-bit operand form ----
TEST_F(Diff32, BinaryOps) {
  static const char* names[] = {"add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"};
  for (unsigned o = 0; o < 8; ++o) {
    const uint32_t mask = (o == 1 || o == 4 || o == 6) ? LOGIC : ALL;
    const uint8_t base = static_cast<uint8_t>(o * 8);
    const std::string n = names[o];
    auto f = [&](Case& c) { c.flag_mask = mask; };
    run_form(n + " r/m32,r32 (reg)", [&](Case& c) { f(c); c.insn.code = {static_cast<uint8_t>(base + 1), modrm(3, reg(), reg())}; });
    run_form(n + " r32,r/m32 (reg)", [&](Case& c) { f(c); c.insn.code = {static_cast<uint8_t>(base + 3), modrm(3, reg(), reg())}; });
    run_form(n + " m32,r32", [&](Case& c) {
      f(c);
      c.insn.mem = true;
      c.insn.code = {static_cast<uint8_t>(base + 1)};
      memop(c.insn.code, reg(true));
    });
    run_form(n + " r32,m32", [&](Case& c) {
      f(c);
      c.insn.mem = true;
      c.insn.code = {static_cast<uint8_t>(base + 3)};
      memop(c.insn.code, reg(true));
    });
    run_form(n + " r32,imm32", [&](Case& c) {
      f(c);
      c.insn.code = {0x81, modrm(3, o, reg())};
      put32(c.insn.code, gen.value());
    });
    run_form(n + " m32,imm32", [&](Case& c) {
      f(c);
      c.insn.mem = true;
      c.insn.code = {0x81};
      memop(c.insn.code, o);
      put32(c.insn.code, gen.value());
    });
    run_form(n + " r32,imm8", [&](Case& c) {
      f(c);
      c.insn.code = {0x83, modrm(3, o, reg()), static_cast<uint8_t>(gen.value())};
    });
    run_form(n + " m32,imm8", [&](Case& c) {
      f(c);
      c.insn.mem = true;
      c.insn.code = {0x83};
      memop(c.insn.code, o);
      c.insn.code.push_back(static_cast<uint8_t>(gen.value()));
    });
    run_form(n + " eax,imm32", [&](Case& c) {
      f(c);
      c.insn.code = {static_cast<uint8_t>(base + 5)};
      put32(c.insn.code, gen.value());
    });
  }
  run_form("test r/m32,r32", [&](Case& c) { c.flag_mask = LOGIC; c.insn.code = {0x85, modrm(3, reg(), reg())}; });
  run_form("test m32,r32", [&](Case& c) {
    c.flag_mask = LOGIC;
    c.insn.mem = true;
    c.insn.code = {0x85};
    memop(c.insn.code, reg(true));
  });
  run_form("test r32,imm32", [&](Case& c) {
    c.flag_mask = LOGIC;
    c.insn.code = {0xF7, modrm(3, 0, reg())};
    put32(c.insn.code, gen.value());
  });
  run_form("test m32,imm32", [&](Case& c) {
    c.flag_mask = LOGIC;
    c.insn.mem = true;
    c.insn.code = {0xF7};
    memop(c.insn.code, 0);
    put32(c.insn.code, gen.value());
  });
  run_form("test eax,imm32", [&](Case& c) {
    c.flag_mask = LOGIC;
    c.insn.code = {0xA9};
    put32(c.insn.code, gen.value());
  });
}

// ---- INC DEC NEG NOT ----
TEST_F(Diff32, UnaryOps) {
  struct Op {
    const char* name;
    uint8_t opc, ext;
  };
  const Op ops[] = {{"inc", 0xFF, 0}, {"dec", 0xFF, 1}, {"not", 0xF7, 2}, {"neg", 0xF7, 3}};
  for (const Op& op : ops) {
    run_form(std::string(op.name) + " r32", [&](Case& c) { c.insn.code = {op.opc, modrm(3, op.ext, reg())}; });
    run_form(std::string(op.name) + " m32", [&](Case& c) {
      c.insn.mem = true;
      c.insn.code = {op.opc};
      memop(c.insn.code, op.ext);
    });
  }
  // The one-byte INC/DEC r32 (40+r, 48+r): REX prefixes on the host, which runs FF /0, FF /1.
  for (unsigned dec = 0; dec < 2; ++dec)
    run_form(dec ? "dec r32 (48+r)" : "inc r32 (40+r)", [&](Case& c) {
      const unsigned r = reg();
      c.insn.code = {static_cast<uint8_t>(0x40 + 8 * dec + r)};
      c.insn.host_code = {0xFF, modrm(3, dec, r)};
    });
}

// ---- ROL ROR RCL RCR SHL SHR SAR by CL, imm8 and 1 ----
TEST_F(Diff32, ShiftsAndRotates) {
  static const char* names[] = {"rol", "ror", "rcl", "rcr", "shl", "shr", nullptr, "sar"};
  for (unsigned o = 0; o < 8; ++o) {
    if (!names[o]) continue;
    const bool rotate = o < 4;
    auto mask_for = [rotate](uint32_t count) -> uint32_t {
      const unsigned m = count & 31;
      if (m == 0) return ALL;  // nothing changes
      const uint32_t of = m == 1 ? uint32_t{F_OF} : 0u;
      return rotate ? (F_CF | of | F_SF | F_ZF | F_AF | F_PF)  // rotates leave SF ZF AF PF alone
                    : (F_CF | of | F_SF | F_ZF | F_PF);        // shifts: AF undefined
    };
    for (unsigned form = 0; form < 3; ++form)
      for (bool mem : {false, true}) {
        std::string n = std::string(names[o]) + (mem ? " m32" : " r32") + (form == 0 ? ",cl" : form == 1 ? ",imm8" : ",1");
        run_form(n, [&, form, mem](Case& c) {
          c.insn.mem = mem;
          const uint8_t opc = form == 0 ? 0xD3 : form == 1 ? 0xC1 : 0xD1;
          c.insn.code = {opc};
          if (mem) memop(c.insn.code, o);
          else c.insn.code.push_back(modrm(3, o, reg()));
          uint32_t count;
          if (form == 0) {
            c.in.r[ECX] = (c.in.r[ECX] & ~0xFFu) | gen.count();
            count = c.in.r[ECX];
          } else if (form == 1) {
            count = gen.count();
            c.insn.code.push_back(static_cast<uint8_t>(count));
          } else {
            count = 1;
          }
          c.flag_mask = mask_for(count);
        });
      }
  }
}

// ---- SHLD SHRD by CL and imm8 ----
TEST_F(Diff32, DoubleShifts) {
  for (bool right : {false, true})
    for (bool by_cl : {false, true})
      for (bool mem : {false, true}) {
        std::string n = std::string(right ? "shrd" : "shld") + (mem ? " m32" : " r32") + ",r32" + (by_cl ? ",cl" : ",imm8");
        run_form(n, [&, right, by_cl, mem](Case& c) {
          c.insn.mem = mem;
          c.insn.code = {0x0F, static_cast<uint8_t>((right ? 0xAC : 0xA4) + (by_cl ? 1 : 0))};
          if (mem) memop(c.insn.code, reg(true));
          else c.insn.code.push_back(modrm(3, reg(), reg()));
          uint32_t count;
          if (by_cl) {
            c.in.r[ECX] = (c.in.r[ECX] & ~0xFFu) | gen.count();
            count = c.in.r[ECX];
          } else {
            count = gen.count();
            c.insn.code.push_back(static_cast<uint8_t>(count));
          }
          const unsigned m = count & 31;
          c.flag_mask = m == 0 ? ALL : (F_CF | F_SF | F_ZF | F_PF | (m == 1 ? uint32_t{F_OF} : 0u));
        });
      }
}

// ---- MUL IMUL (one, two, three operands) DIV IDIV ----
TEST_F(Diff32, MultiplyDivide) {
  static const char* names[] = {"mul", "imul", "div", "idiv"};
  for (unsigned o = 0; o < 4; ++o)
    for (bool mem : {false, true}) {
      run_form(std::string(names[o]) + (mem ? " m32" : " r32"), [&, o, mem](Case& c) {
        c.insn.mem = mem;
        c.insn.code = {0xF7};
        const unsigned ext = 4 + o;
        uint32_t divisor;
        if (mem) {
          memop(c.insn.code, ext);
          divisor = mem32(c.in, mem_disp(c.insn.code, 1));
        } else {
          const unsigned r = reg();
          c.insn.code.push_back(modrm(3, ext, r));
          divisor = c.in.r[r];
        }
        if (o < 2) {
          c.flag_mask = CFOF;
          return;
        }
        c.flag_mask = 0;  // all flags undefined after DIV/IDIV
        // Mostly divides that fit (EDX small against the divisor), some that overflow.
        uint32_t& edx = c.in.r[EDX];
        const bool divisor_is_edx = !mem && (c.insn.code[1] & 7) == EDX;
        const bool divisor_is_eax = !mem && (c.insn.code[1] & 7) == EAX;
        if (!divisor_is_edx && gen.below(4) != 0) {
          if (o == 2) edx = divisor ? gen.u32() % divisor : 0;
          else edx = static_cast<int32_t>(c.in.r[EAX]) < 0 ? 0xFFFFFFFFu : 0;
        }
        if (divisor_is_eax) divisor = c.in.r[EAX];
        if (divisor_is_edx) divisor = edx;
        const uint64_t dividend = (uint64_t{edx} << 32) | c.in.r[EAX];
        if (o == 2) {
          c.de = divisor == 0 || dividend / divisor > 0xFFFFFFFFu;
        } else {
          const int64_t sd = static_cast<int64_t>(dividend);
          const int32_t sv = static_cast<int32_t>(divisor);
          c.de = sv == 0 || (sv == -1 && sd == INT64_MIN);
          if (!c.de) {
            const int64_t q = sd / sv;
            c.de = q > INT32_MAX || q < INT32_MIN;
          }
        }
      });
    }
  for (bool mem : {false, true}) {
    run_form(std::string("imul r32,") + (mem ? "m32" : "r32"), [&, mem](Case& c) {
      c.flag_mask = CFOF;
      c.insn.mem = mem;
      c.insn.code = {0x0F, 0xAF};
      if (mem) memop(c.insn.code, reg(true));
      else c.insn.code.push_back(modrm(3, reg(), reg()));
    });
    for (bool imm8 : {false, true})
      run_form(std::string("imul r32,") + (mem ? "m32" : "r32") + (imm8 ? ",imm8" : ",imm32"), [&, mem, imm8](Case& c) {
        c.flag_mask = CFOF;
        c.insn.mem = mem;
        c.insn.code = {static_cast<uint8_t>(imm8 ? 0x6B : 0x69)};
        if (mem) memop(c.insn.code, reg(true));
        else c.insn.code.push_back(modrm(3, reg(), reg()));
        if (imm8) c.insn.code.push_back(static_cast<uint8_t>(gen.value()));
        else put32(c.insn.code, gen.value());
      });
  }
}

// ---- BT BTS BTR BTC (register and immediate offsets), BSF BSR ----
TEST_F(Diff32, BitOps) {
  static const char* names[] = {"bt", "bts", "btr", "btc"};
  static const uint8_t reg_opc[] = {0xA3, 0xAB, 0xB3, 0xBB};
  const uint32_t mask = F_CF | F_ZF;  // CF defined; ZF unaffected; OF SF AF PF undefined
  for (unsigned o = 0; o < 4; ++o) {
    const std::string n = names[o];
    run_form(n + " r32,r32", [&](Case& c) {
      c.flag_mask = mask;
      c.insn.code = {0x0F, reg_opc[o], modrm(3, reg(), reg())};
    });
    run_form(n + " r32,imm8", [&](Case& c) {
      c.flag_mask = mask;
      c.insn.code = {0x0F, 0xBA, modrm(3, 4 + o, reg()), static_cast<uint8_t>(gen.count())};
    });
    run_form(n + " m32,imm8", [&](Case& c) {
      c.flag_mask = mask;
      c.insn.mem = true;
      c.insn.code = {0x0F, 0xBA};
      memop(c.insn.code, 4 + o);
      c.insn.code.push_back(static_cast<uint8_t>(gen.count()));
    });
    // Register bit offset into memory: the offset selects a dword anywhere in the bit string.
    run_form(n + " m32,r32 (bit string)", [&](Case& c) {
      c.flag_mask = mask;
      c.insn.mem = true;
      const unsigned r = reg(true);
      c.in.r[r] = static_cast<uint32_t>(static_cast<int32_t>(gen.below(384)) - 128);  // bytes -16..+31
      c.insn.code = {0x0F, reg_opc[o], modrm(0, r, 3)};
    });
  }
  for (bool rev : {false, true})
    for (bool mem : {false, true})
      run_form(std::string(rev ? "bsr" : "bsf") + (mem ? " r32,m32" : " r32,r32"), [&, rev, mem](Case& c) {
        c.flag_mask = F_ZF;  // CF OF SF AF PF undefined; the destination keeps its value for a zero source
        c.insn.mem = mem;
        c.insn.code = {0x0F, static_cast<uint8_t>(rev ? 0xBD : 0xBC)};
        if (mem) {
          memop(c.insn.code, reg(true));
          if (gen.below(8) == 0) set_mem32(c.in, mem_disp(c.insn.code, 2), 0);
        } else {
          const unsigned src = reg();
          c.insn.code.push_back(modrm(3, reg(), src));
          if (gen.below(8) == 0) c.in.r[src] = 0;
        }
      });
}

// ---- CMOVcc r32/r16, r/m: all 16 conditions ----
TEST_F(Diff32, Cmov) {
  for (unsigned cc = 0; cc < 16; ++cc)
    for (bool op16 : {false, true})
      for (bool mem : {false, true})
        run_form("cmov" + std::to_string(cc) + (op16 ? " r16," : " r32,") + (mem ? "m" : "r"), [&, cc, op16, mem](Case& c) {
          c.insn.mem = mem;
          c.insn.code = {};
          if (op16) c.insn.code.push_back(0x66);
          c.insn.code.push_back(0x0F);
          c.insn.code.push_back(static_cast<uint8_t>(0x40 + cc));
          if (mem) memop(c.insn.code, reg(true));
          else c.insn.code.push_back(modrm(3, reg(), reg()));
        }, kCases / 4);
}

// ---- XADD and CMPXCHG, 8/16/32-bit, register and memory destinations ----
TEST_F(Diff32, XaddCmpxchg) {
  for (bool cx : {false, true})
    for (unsigned size : {1u, 2u, 4u})
      for (bool mem : {false, true}) {
        std::string n = std::string(cx ? "cmpxchg" : "xadd") + (size == 1 ? " 8" : size == 2 ? " 16" : " 32") + (mem ? " m,r" : " r,r");
        run_form(n, [&, cx, size, mem](Case& c) {
          c.insn.mem = mem;
          c.insn.code = {};
          if (size == 2) c.insn.code.push_back(0x66);
          c.insn.code.push_back(0x0F);
          c.insn.code.push_back(static_cast<uint8_t>((cx ? 0xB0 : 0xC0) + (size > 1)));
          const unsigned src = size == 1 ? reg8(mem) : reg(mem);
          unsigned dst = 0;
          const size_t at = c.insn.code.size();
          if (mem) memop(c.insn.code, src);
          else {
            dst = size == 1 ? reg8() : reg();
            c.insn.code.push_back(modrm(3, src, dst));
          }
          // CMPXCHG: half the time the accumulator matches the destination.
          if (cx && gen.below(2)) {
            uint32_t d;
            if (mem) d = mem32(c.in, mem_disp(c.insn.code, at));
            else if (size == 1) d = dst < 4 ? c.in.r[dst] : c.in.r[dst - 4] >> 8;
            else d = c.in.r[dst];
            const uint32_t m = size == 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
            c.in.r[EAX] = (c.in.r[EAX] & ~m) | (d & m);
          }
        });
      }
}

// ---- CMPXCHG8B m64 ----
TEST_F(Diff32, Cmpxchg8b) {
  run_form("cmpxchg8b m64", [&](Case& c) {
    c.insn.mem = true;
    c.insn.base = ESI;  // EBX is an operand
    c.insn.code = {0x0F, 0xC7};
    memop(c.insn.code, 1, ESI);
    const int32_t d = mem_disp(c.insn.code, 2);
    if (gen.below(2)) {
      c.in.r[EAX] = mem32(c.in, d);
      c.in.r[EDX] = mem32(c.in, d + 4);
      if (gen.below(4) == 0) c.in.r[EDX] ^= 1u << gen.below(32);  // equal low half only
    }
  });
}

// ---- BSWAP r32, and r16 (undefined by the SDM: vx86 must do what the host does) ----
TEST_F(Diff32, Bswap) {
  for (bool op16 : {false, true})
    run_form(op16 ? "bswap r16" : "bswap r32", [&, op16](Case& c) {
      c.insn.code = {};
      if (op16) c.insn.code.push_back(0x66);
      c.insn.code.push_back(0x0F);
      c.insn.code.push_back(static_cast<uint8_t>(0xC8 + reg()));
    });
}

// ---- MOVZX MOVSX (r32 <- r/m8, r/m16; r16 <- r/m8) ----
TEST_F(Diff32, Movx) {
  for (bool sx : {false, true})
    for (unsigned form = 0; form < 3; ++form)
      for (bool mem : {false, true}) {
        static const char* forms[] = {" r32,r/m8", " r32,r/m16", " r16,r/m8"};
        run_form(std::string(sx ? "movsx" : "movzx") + forms[form] + (mem ? " (m)" : " (r)"), [&, sx, form, mem](Case& c) {
          c.insn.mem = mem;
          c.insn.code = {};
          if (form == 2) c.insn.code.push_back(0x66);
          c.insn.code.push_back(0x0F);
          c.insn.code.push_back(static_cast<uint8_t>((sx ? 0xBE : 0xB6) + (form == 1)));
          if (mem) memop(c.insn.code, reg(true));
          else c.insn.code.push_back(modrm(3, reg(), form == 1 ? reg() : reg8()));
        });
      }
}

// ---- SETcc r/m8: all 16 conditions ----
TEST_F(Diff32, Setcc) {
  for (unsigned cc = 0; cc < 16; ++cc)
    for (bool mem : {false, true})
      run_form("set" + std::to_string(cc) + (mem ? " m8" : " r8"), [&, cc, mem](Case& c) {
        c.insn.mem = mem;
        c.insn.code = {0x0F, static_cast<uint8_t>(0x90 + cc)};
        if (mem) memop(c.insn.code, 0);
        else c.insn.code.push_back(modrm(3, 0, reg8()));
      }, kCases / 4);
}

// ---- CBW CWDE CWD CDQ ----
TEST_F(Diff32, SignExtendAccumulator) {
  run_form("cbw", [&](Case& c) { c.insn.code = {0x66, 0x98}; });
  run_form("cwde", [&](Case& c) { c.insn.code = {0x98}; });
  run_form("cwd", [&](Case& c) { c.insn.code = {0x66, 0x99}; });
  run_form("cdq", [&](Case& c) { c.insn.code = {0x99}; });
}

// ---- LEA with 32-bit addressing: base+disp8/32, SIB with every scale, index only ----
TEST_F(Diff32, Lea) {
  for (bool op16 : {false, true}) {
    auto start = [op16](Case& c) {
      c.insn.code = {};
      if (op16) c.insn.code.push_back(0x66);
      c.insn.code.push_back(0x8D);
    };
    const std::string sz = op16 ? " r16" : " r32";
    run_form("lea" + sz + ",[base+disp8]", [&](Case& c) {
      start(c);
      c.insn.code.push_back(modrm(1, reg(), reg()));
      c.insn.code.push_back(static_cast<uint8_t>(gen.value()));
    });
    run_form("lea" + sz + ",[base+disp32]", [&](Case& c) {
      start(c);
      c.insn.code.push_back(modrm(2, reg(), reg()));
      put32(c.insn.code, gen.value());
    });
    run_form("lea" + sz + ",[base+index*scale]", [&](Case& c) {
      start(c);
      unsigned base = reg();
      if (base == 5) base = 3;  // mod 00 base 101 means "no base"
      c.insn.code.push_back(modrm(0, reg(), 4));
      c.insn.code.push_back(static_cast<uint8_t>(gen.below(4) << 6 | reg() << 3 | base));
    });
    run_form("lea" + sz + ",[base+index*scale+disp8]", [&](Case& c) {
      start(c);
      c.insn.code.push_back(modrm(1, reg(), 4));
      c.insn.code.push_back(static_cast<uint8_t>(gen.below(4) << 6 | reg() << 3 | reg()));
      c.insn.code.push_back(static_cast<uint8_t>(gen.value()));
    });
    run_form("lea" + sz + ",[index*scale+disp32]", [&](Case& c) {
      start(c);
      c.insn.code.push_back(modrm(0, reg(), 4));
      c.insn.code.push_back(static_cast<uint8_t>(gen.below(4) << 6 | reg() << 3 | 5));
      put32(c.insn.code, gen.value());
    });
  }
}

// ---- XCHG r32,r32 / eax,r32 (90+r) / m32,r32 ----
TEST_F(Diff32, Xchg) {
  run_form("xchg r32,r32", [&](Case& c) { c.insn.code = {0x87, modrm(3, reg(), reg())}; });
  run_form("xchg eax,r32", [&](Case& c) { c.insn.code = {static_cast<uint8_t>(0x90 + reg())}; });
  run_form("xchg m32,r32", [&](Case& c) {
    c.insn.mem = true;
    c.insn.code = {0x87};
    memop(c.insn.code, reg(true));
  });
}

}  // namespace

#endif  // __x86_64__
