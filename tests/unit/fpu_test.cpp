// x87 FPU: host-differential tests. The host is an x86-64, so every x87 instruction form can run
// natively in this process and in vx86 from the same state, and the results must match bit for bit:
// the eight registers, the control, status and tag words, the memory operand, EFLAGS (FCOMI,
// FCMOVcc) and AX (FNSTSW AX). The same instruction bytes serve both sides: ModRM rm = 7, mod = 0
// means [BX] in 16-bit code and [RDI] in 64-bit code.
//
// States are random with many special values (zeros, denormals, pseudo-denormals, unnormals,
// infinities, pseudo-infinities, QNaN/SNaN, indefinite), every precision and rounding control,
// masked and unmasked exceptions, empty registers and full stacks.
//
// Hand-written tests below cover what the host cannot show in a 64-bit process: the real-mode
// FNSTENV/FNSAVE layouts, FXSAVE, CR0.EM/TS/MP (#NM), #MF and FERR#, precise faulting stores.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <Zydis/Zydis.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "devices/port_bus.h"
#include "emu/cpu.h"
#include "mmu/physical_memory.h"

using namespace vx86;

namespace {

constexpr uint32_t CODE = 0x1000;
constexpr uint32_t MEM = 0x3000;
constexpr uint32_t HANDLER = 0x2000;  // every IVT entry points at a HLT here

struct Vm {
  PhysicalMemory mem{1u << 20};
  PortBus io;
  Cpu cpu{mem, io};

  // Prepares the machine for `code` at 0000:1000 followed by HLT, without touching the FPU.
  void load(const std::vector<uint8_t>& code) {
    FpuState f = cpu.s.fpu;
    uint32_t cr0 = cpu.s.cr[0];
    cpu.reset();
    cpu.s.fpu = f;
    cpu.s.cr[0] = cr0;
    for (unsigned k = 0; k < SEG_COUNT; ++k) cpu.load_seg_real(k, 0);
    cpu.update_mode();
    cpu.s.eip = CODE;
    cpu.s.regs[ESP] = 0x8000;
    cpu.s.regs[EBX] = MEM;
    uint8_t* ram = mem.ram();
    std::copy(code.begin(), code.end(), ram + CODE);
    ram[CODE + code.size()] = 0xF4;
    for (unsigned v = 0; v < 32; ++v) {
      ram[4 * v] = HANDLER & 0xFF;
      ram[4 * v + 1] = HANDLER >> 8;
      ram[4 * v + 2] = ram[4 * v + 3] = 0;
    }
    ram[HANDLER] = 0xF4;
  }
  void run(const std::vector<uint8_t>& code) {
    load(code);
    ASSERT_EQ(cpu.run(10000), StopReason::Halted);
  }
  // After a run: the vector taken (by the pushed return address in the handler), or -1.
  bool faulted() const { return cpu.s.eip == HANDLER + 1; }
  uint16_t pushed_ip() { return static_cast<uint16_t>(mem.ram()[0x8000 - 6] | mem.ram()[0x8000 - 5] << 8); }
};

// ---- the 108-byte FNSAVE image (32-bit protected-mode format, as a 64-bit process uses it) ----
struct Image {
  uint8_t b[108];
  uint16_t cw() const { return static_cast<uint16_t>(b[0] | b[1] << 8); }
  uint16_t sw() const { return static_cast<uint16_t>(b[4] | b[5] << 8); }
  uint16_t tw() const { return static_cast<uint16_t>(b[8] | b[9] << 8); }
  const uint8_t* reg(unsigned i) const { return b + 28 + 10 * i; }
};

unsigned full_tag(const uint8_t* v) {
  uint64_t m;
  uint16_t se;
  std::memcpy(&m, v, 8);
  std::memcpy(&se, v + 8, 2);
  unsigned e = se & 0x7FFF;
  if (e == 0x7FFF) return 2;
  if (e == 0) return m ? 2 : 1;
  return (m >> 63) ? 0 : 2;
}

void image_to_fpu(const Image& im, FpuState& f) {
  f.cw = im.cw();
  f.sw = im.sw();
  unsigned top = (f.sw >> 11) & 7;
  f.tags = 0;
  for (unsigned r = 0; r < 8; ++r)
    if (((im.tw() >> (2 * r)) & 3) != 3) f.tags = static_cast<uint8_t>(f.tags | 1u << r);
  for (unsigned i = 0; i < 8; ++i) std::memcpy(f.st[(top + i) & 7], im.reg(i), 10);
}
void fpu_to_image(const FpuState& f, Image& im) {
  std::memset(im.b, 0, sizeof im.b);
  im.b[0] = static_cast<uint8_t>(f.cw);
  im.b[1] = static_cast<uint8_t>(f.cw >> 8);
  im.b[4] = static_cast<uint8_t>(f.sw);
  im.b[5] = static_cast<uint8_t>(f.sw >> 8);
  uint16_t tw = 0;
  for (unsigned r = 0; r < 8; ++r)
    tw = static_cast<uint16_t>(tw | (((f.tags >> r) & 1) ? full_tag(f.st[r]) : 3u) << (2 * r));
  im.b[8] = static_cast<uint8_t>(tw);
  im.b[9] = static_cast<uint8_t>(tw >> 8);
  unsigned top = (f.sw >> 11) & 7;
  for (unsigned i = 0; i < 8; ++i) std::memcpy(im.b + 28 + 10 * i, f.st[(top + i) & 7], 10);
}

std::string hex(const uint8_t* p, unsigned n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (unsigned k = n; k-- > 0;) {
    s += d[p[k] >> 4];
    s += d[p[k] & 15];
  }
  return s;
}

#if defined(__x86_64__)

// fpu_host_run(code, mem, in, out, rflags): FRSTOR in, set the arithmetic flags, call code (one
// instruction + RET, [RDI] = mem), save RFLAGS and RAX, FNSAVE out (no wait: an unmasked exception
// the instruction raised stays pending in the image and never traps; FNSAVE re-initialises the
// host FPU).
extern "C" uint64_t fpu_host_run(const uint8_t* code, uint8_t* mem, const uint8_t* in, uint8_t* out, uint64_t* rflags);
asm(R"(
  .pushsection .text
  .globl fpu_host_run
  .type fpu_host_run, @function
fpu_host_run:
  push %rbx
  push %r12
  push %r13
  mov %r8, %rbx
  mov %rcx, %r12
  frstor (%rdx)
  mov %rdi, %r13
  mov %rsi, %rdi
  xor %eax, %eax
  pushq (%rbx)
  popfq
  call *%r13
  pushfq
  popq (%rbx)
  fnsave (%r12)
  pop %r13
  pop %r12
  pop %rbx
  ret
  .size fpu_host_run, .-fpu_host_run
  .popsection
)");

enum class MemKind { None, F32, F64, I16, I32, I64, F80, Bcd, Raw16, Env };

struct Form {
  std::vector<uint8_t> bytes;
  MemKind mem;
  unsigned mem_size;  // bytes of the memory operand compared afterwards
  std::string name;
  std::vector<uint8_t> host_bytes = {};  // when the host needs another encoding (operand size)
  bool protected_mode = false;            // run the guest with CR0.PE = 1 (protected image formats)
};

class FpuHost : public ::testing::Test {
 protected:
  Vm vm;
  std::mt19937_64 rng{0x5eed};
  uint8_t* code_page = nullptr;

  void SetUp() override {
    void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(p, MAP_FAILED);
    code_page = static_cast<uint8_t*>(p);
  }
  void TearDown() override { munmap(code_page, 4096); }

  uint64_t r64() { return rng(); }
  unsigned pick(unsigned n) { return static_cast<unsigned>(rng() % n); }

  void f80(uint8_t* v) {
    uint64_t m = r64();
    unsigned e;
    unsigned sign = pick(2) << 15;
    switch (pick(20)) {
      case 0: m = 0; e = 0; break;                                      // zero
      case 1: m &= ~(1ull << 63); m >>= pick(64); e = 0; break;          // denormal (or zero)
      case 2: m |= 1ull << 63; e = 0; break;                             // pseudo-denormal
      case 3: m = 1ull << 63; e = 0x7FFF; break;                         // infinity
      case 4: m |= 3ull << 62; e = 0x7FFF; break;                        // QNaN
      case 5: m = (m & ~(1ull << 62)) | 1ull << 63 | 1; e = 0x7FFF; break;  // SNaN
      case 6: m = 3ull << 62; e = 0x7FFF; sign = 0x8000; break;         // indefinite
      case 7: m &= ~(1ull << 63); e = 1 + pick(0x7FFE); break;           // unnormal
      case 8: m &= ~(1ull << 63); e = 0x7FFF; break;                     // pseudo-NaN/infinity
      case 9: {                                                          // small integers
        long double x = static_cast<long double>(pick(2000)) - 1000;
        std::memcpy(v, &x, 10);
        return;
      }
      case 10: m = (m | 1ull << 63) & ~0x7FFull; m |= pick(2) ? 0x400 : 0x3FF; e = 0x3FFF - 40 + pick(80); break;
      case 11: m |= 1ull << 63; e = pick(2) ? 1 + pick(70) : 0x7FFE - pick(70); break;  // extremes
      case 12: m |= 1ull << 63; e = pick(0x7FFF); break;
      case 13: m = (1ull << 63) | (m & 0xFFFFFF0000000000ull); e = 0x3FFF - 30 + pick(60); break;  // short mantissa
      default: m |= 1ull << 63; e = 0x3FFF - 64 + pick(128); break;
    }
    uint16_t se = static_cast<uint16_t>(sign | e);
    std::memcpy(v, &m, 8);
    std::memcpy(v + 8, &se, 2);
  }

  void mem_value(MemKind k, uint8_t* p) {
    for (unsigned j = 0; j < 128; ++j) p[j] = static_cast<uint8_t>(rng());
    switch (k) {
      case MemKind::Env: {  // an FLDENV/FRSTOR image: 32-bit (28-byte) or 16-bit (14-byte) header
        for (unsigned i = 0; i < 8; ++i) f80(p + 28 + 10 * i);
        if (pick(2)) {  // mostly sane tags: empty or valid
          uint16_t tw = 0;
          for (unsigned r = 0; r < 8; ++r) tw = static_cast<uint16_t>(tw | (pick(2) ? 3u : 0u) << (2 * r));
          p[8] = static_cast<uint8_t>(tw);
          p[9] = static_cast<uint8_t>(tw >> 8);
        }
        break;
      }
      case MemKind::F32: {
        uint32_t v = static_cast<uint32_t>(r64());
        uint32_t s = static_cast<uint32_t>(pick(2)) << 31;
        switch (pick(10)) {
          case 0: v = s; break;
          case 1: v = s | (v & 0x7FFFFF); break;                  // denormal
          case 2: v = s | 0x7F800000; break;                      // inf
          case 3: v = s | 0x7FC00000 | (v & 0x3FFFFF); break;     // QNaN
          case 4: v = s | 0x7F800001 | (v & 0x3FFFFF); break;     // SNaN
          case 5: v = s | static_cast<uint32_t>(127 - 20 + pick(40)) << 23 | (v & 0x7FFFFF); break;
          default: break;
        }
        std::memcpy(p, &v, 4);
        break;
      }
      case MemKind::F64: {
        uint64_t v = r64();
        uint64_t s = r64() & (1ull << 63);
        switch (pick(10)) {
          case 0: v = s; break;
          case 1: v = s | (v & 0xFFFFFFFFFFFFFull); break;
          case 2: v = s | 0x7FF0000000000000ull; break;
          case 3: v = s | 0x7FF8000000000000ull | (v & 0x7FFFFFFFFFFFFull); break;
          case 4: v = s | 0x7FF0000000000001ull | (v & 0x7FFFFFFFFFFFFull); break;
          case 5: v = s | static_cast<uint64_t>(1023 - 30 + pick(60)) << 52 | (v & 0xFFFFFFFFFFFFFull); break;
          default: break;
        }
        std::memcpy(p, &v, 8);
        break;
      }
      case MemKind::I16: case MemKind::I32: case MemKind::I64: {
        static const uint64_t edges[] = {0, 1, ~0ull, 0x7FFF, 0x8000, 0x7FFFFFFF, 0x80000000, 0x7FFFFFFFFFFFFFFFull,
                                         0x8000000000000000ull, 2, 10, 1000};
        uint64_t v = pick(3) == 0 ? edges[pick(std::size(edges))] : r64() >> pick(64);
        if (pick(2)) v = ~v + 1;
        std::memcpy(p, &v, 8);
        break;
      }
      case MemKind::F80: f80(p); break;
      case MemKind::Bcd:
        for (unsigned j = 0; j < 9; ++j) {
          unsigned lo = pick(10), hi = pick(10);
          if (pick(50) == 0) lo = 10 + pick(6);
          p[j] = static_cast<uint8_t>(hi << 4 | lo);
        }
        p[9] = static_cast<uint8_t>(pick(2) ? 0x80 : 0x00);
        if (pick(20) == 0) p[9] = static_cast<uint8_t>(rng());
        if (pick(10) == 0) std::memset(p, 0, 9);
        break;
      default: break;
    }
  }

  // A random state with no pending unmasked exception.
  void random_state(Image& im) {
    std::memset(im.b, 0, sizeof im.b);
    unsigned cw = 0x0040 | pick(4) << 8 | pick(4) << 10;
    if (pick(8) == 0) cw |= 0x100 * 0;  // PC may be 0 (single), 2 (double), 3 (extended)
    cw |= pick(3) == 0 ? static_cast<unsigned>(rng() & 0x3F) : 0x3Fu;
    if (pick(3) == 0) cw |= 0x300;  // bias towards extended precision
    unsigned flags = static_cast<unsigned>(rng() & 0x3F) & cw & (pick(2) ? 0x3F : 0);
    unsigned top = pick(8);
    unsigned sw = flags | top << 11 | (static_cast<unsigned>(rng()) & (FPU_C0 | FPU_C1 | FPU_C2 | FPU_C3));
    uint16_t tw = 0;
    for (unsigned i = 0; i < 8; ++i) {
      f80(im.b + 28 + 10 * i);
      bool valid;
      if (i < 2) valid = pick(30) != 0;
      else if (i == 7) valid = pick(10) == 0;
      else valid = pick(2);
      tw = static_cast<uint16_t>(tw | (valid ? 0u : 3u) << (2 * ((top + i) & 7)));
    }
    uint32_t w[3] = {0xFFFF0000u | cw, 0xFFFF0000u | sw, 0xFFFF0000u | tw};
    std::memcpy(im.b, w, 12);
  }

  unsigned failures = 0, form_failures = 0;
  std::string failing_forms;

  // Runs one form from one random state on both sides and compares.
  void run_case(const Form& form) {
    Image in, host_out, guest_out;
    random_state(in);
    uint8_t host_mem[128], guest_mem[128];
    mem_value(form.mem, host_mem);
    std::memcpy(guest_mem, host_mem, 128);
    uint8_t mem_in[128];
    std::memcpy(mem_in, host_mem, 128);
    uint64_t fl = (r64() & F_ARITH) | 2;
    const uint64_t fl_in = fl;

    const std::vector<uint8_t>& hb = form.host_bytes.empty() ? form.bytes : form.host_bytes;
    std::copy(hb.begin(), hb.end(), code_page);
    code_page[hb.size()] = 0xC3;
    const uint64_t host_rax = fpu_host_run(code_page, host_mem, in.b, host_out.b, &fl);

    image_to_fpu(in, vm.cpu.s.fpu);
    vm.cpu.s.cr[0] = 0x60000010u | (form.protected_mode ? 1u : 0u);
    std::memcpy(vm.mem.ram() + MEM, guest_mem, 128);
    vm.cpu.s.regs[EAX] = 0;
    vm.load(form.bytes);
    vm.cpu.s.eflags = static_cast<uint32_t>(fl_in) | F_BIT1;
    ASSERT_EQ(vm.cpu.run(100), StopReason::Halted) << form.name;
    ASSERT_FALSE(vm.faulted()) << form.name;
    fpu_to_image(vm.cpu.s.fpu, guest_out);
    std::memcpy(guest_mem, vm.mem.ram() + MEM, 128);

    std::string diff;
    if (guest_out.cw() != host_out.cw()) diff += " cw";
    if (guest_out.sw() != host_out.sw()) diff += " sw";
    if (guest_out.tw() != host_out.tw()) diff += " tw";
    for (unsigned i = 0; i < 8; ++i)
      if (std::memcmp(guest_out.reg(i), host_out.reg(i), 10)) diff += " st" + std::to_string(i);
    if (std::memcmp(guest_mem, host_mem, form.mem_size)) diff += " mem";
    if ((vm.cpu.s.eflags & F_ARITH) != (fl & F_ARITH)) diff += " eflags";
    if ((vm.cpu.s.regs[EAX] & 0xFFFF) != (host_rax & 0xFFFF)) diff += " ax";
    if (diff.empty()) return;
    ++failures;
    if (++form_failures > 2) return;
    std::string msg = form.name + ":" + diff + "\n  in  cw " + hex(in.b, 2) + " sw " + hex(in.b + 4, 2) + " tw " +
                      hex(in.b + 8, 2) + " mem " + hex(mem_in, form.mem_size) + " fl " + std::to_string(fl_in);
    for (unsigned i = 0; i < 8; ++i) msg += "\n  st" + std::to_string(i) + " in " + hex(in.reg(i), 10) + " host " +
                                          hex(host_out.reg(i), 10) + " vx86 " + hex(guest_out.reg(i), 10);
    msg += "\n  host: cw " + hex(host_out.b, 2) + " sw " + hex(host_out.b + 4, 2) + " tw " + hex(host_out.b + 8, 2) +
           " mem " + hex(host_mem, form.mem_size) + " fl " + std::to_string(fl & F_ARITH) + " ax " +
           std::to_string(host_rax & 0xFFFF);
    msg += "\n  vx86: cw " + hex(guest_out.b, 2) + " sw " + hex(guest_out.b + 4, 2) + " tw " + hex(guest_out.b + 8, 2) +
           " mem " + hex(guest_mem, form.mem_size) + " fl " + std::to_string(vm.cpu.s.eflags & F_ARITH) + " ax " +
           std::to_string(vm.cpu.s.regs[EAX] & 0xFFFF);
    ADD_FAILURE() << msg;
  }

  void run_forms(const std::vector<Form>& forms, unsigned n) {
    uint64_t total = 0;
    for (const Form& f : forms) {
      form_failures = 0;
      for (unsigned k = 0; k < n; ++k) {
        run_case(f);
        if (HasFatalFailure()) return;
      }
      if (form_failures) failing_forms += " [" + f.name + ": " + std::to_string(form_failures) + "]";
      total += n;
    }
    EXPECT_EQ(failures, 0u) << "failing cases of " << total << ":" << failing_forms;
    std::printf("[          ] %zu forms x %u random states = %llu cases\n", forms.size(), n,
                static_cast<unsigned long long>(total));
  }
};

// Every register form (mod = 3) of D8-DF that Zydis accepts in 16-bit code.
std::vector<Form> register_forms() {
  ZydisDecoder d;
  ZydisDecoderInit(&d, ZYDIS_MACHINE_MODE_LEGACY_16, ZYDIS_STACK_WIDTH_16);
  std::vector<Form> v;
  for (unsigned op = 0xD8; op <= 0xDF; ++op)
    for (unsigned m = 0xC0; m <= 0xFF; ++m) {
      uint8_t b[2] = {static_cast<uint8_t>(op), static_cast<uint8_t>(m)};
      ZydisDecodedInstruction zi;
      ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
      if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&d, b, 2, &zi, ops))) continue;
      char name[32];
      std::snprintf(name, sizeof name, "%s (%02X %02X)", ZydisMnemonicGetString(zi.mnemonic), op, m);
      v.push_back({{b[0], b[1]}, MemKind::None, 0, name});
    }
  return v;
}

std::vector<Form> memory_forms() {
  struct G {
    uint8_t op;
    unsigned reg;
    MemKind k;
    unsigned size;
    const char* name;
  };
  const G g[] = {
      {0xD8, 0, MemKind::F32, 4, "fadd m32"},   {0xD8, 1, MemKind::F32, 4, "fmul m32"},
      {0xD8, 2, MemKind::F32, 4, "fcom m32"},   {0xD8, 3, MemKind::F32, 4, "fcomp m32"},
      {0xD8, 4, MemKind::F32, 4, "fsub m32"},   {0xD8, 5, MemKind::F32, 4, "fsubr m32"},
      {0xD8, 6, MemKind::F32, 4, "fdiv m32"},   {0xD8, 7, MemKind::F32, 4, "fdivr m32"},
      {0xDC, 0, MemKind::F64, 8, "fadd m64"},   {0xDC, 1, MemKind::F64, 8, "fmul m64"},
      {0xDC, 2, MemKind::F64, 8, "fcom m64"},   {0xDC, 3, MemKind::F64, 8, "fcomp m64"},
      {0xDC, 4, MemKind::F64, 8, "fsub m64"},   {0xDC, 5, MemKind::F64, 8, "fsubr m64"},
      {0xDC, 6, MemKind::F64, 8, "fdiv m64"},   {0xDC, 7, MemKind::F64, 8, "fdivr m64"},
      {0xDA, 0, MemKind::I32, 4, "fiadd m32"},  {0xDA, 1, MemKind::I32, 4, "fimul m32"},
      {0xDA, 2, MemKind::I32, 4, "ficom m32"},  {0xDA, 3, MemKind::I32, 4, "ficomp m32"},
      {0xDA, 4, MemKind::I32, 4, "fisub m32"},  {0xDA, 5, MemKind::I32, 4, "fisubr m32"},
      {0xDA, 6, MemKind::I32, 4, "fidiv m32"},  {0xDA, 7, MemKind::I32, 4, "fidivr m32"},
      {0xDE, 0, MemKind::I16, 2, "fiadd m16"},  {0xDE, 1, MemKind::I16, 2, "fimul m16"},
      {0xDE, 2, MemKind::I16, 2, "ficom m16"},  {0xDE, 3, MemKind::I16, 2, "ficomp m16"},
      {0xDE, 4, MemKind::I16, 2, "fisub m16"},  {0xDE, 5, MemKind::I16, 2, "fisubr m16"},
      {0xDE, 6, MemKind::I16, 2, "fidiv m16"},  {0xDE, 7, MemKind::I16, 2, "fidivr m16"},
      {0xD9, 0, MemKind::F32, 4, "fld m32"},    {0xD9, 2, MemKind::Raw16, 4, "fst m32"},
      {0xD9, 3, MemKind::Raw16, 4, "fstp m32"}, {0xDD, 0, MemKind::F64, 8, "fld m64"},
      {0xDD, 2, MemKind::Raw16, 8, "fst m64"},  {0xDD, 3, MemKind::Raw16, 8, "fstp m64"},
      {0xDB, 0, MemKind::I32, 4, "fild m32"},   {0xDB, 2, MemKind::Raw16, 4, "fist m32"},
      {0xDB, 3, MemKind::Raw16, 4, "fistp m32"}, {0xDB, 5, MemKind::F80, 10, "fld m80"},
      {0xDB, 7, MemKind::Raw16, 10, "fstp m80"}, {0xDF, 0, MemKind::I16, 2, "fild m16"},
      {0xDF, 2, MemKind::Raw16, 2, "fist m16"}, {0xDF, 3, MemKind::Raw16, 2, "fistp m16"},
      {0xDF, 4, MemKind::Bcd, 10, "fbld"},      {0xDF, 5, MemKind::I64, 8, "fild m64"},
      {0xDF, 6, MemKind::Raw16, 10, "fbstp"},   {0xDF, 7, MemKind::Raw16, 8, "fistp m64"},
      {0xD9, 5, MemKind::Raw16, 2, "fldcw"},    {0xD9, 7, MemKind::Raw16, 2, "fnstcw"},
      {0xDD, 7, MemKind::Raw16, 2, "fnstsw m16"},
  };
  std::vector<Form> v;
  for (const G& x : g) v.push_back({{x.op, static_cast<uint8_t>(x.reg << 3 | 7)}, x.k, x.size, x.name});
  return v;
}

// The environment and state images in the protected-mode formats (the ones a 64-bit host uses):
// the control, status and tag words as stored (tags computed from the contents), and what FLDENV
// and FRSTOR make of arbitrary images (ES/B recomputed, tags reduced to empty/non-empty). The
// pointer fields differ by construction (host addresses) and are not compared here.
std::vector<Form> env_forms() {
  return {
      {{0x66, 0xD9, 0x37}, MemKind::Raw16, 12, "fnstenv m28", {0xD9, 0x37}, true},
      {{0xD9, 0x37}, MemKind::Raw16, 6, "fnstenv m14", {0x66, 0xD9, 0x37}, true},
      {{0x66, 0xDD, 0x37}, MemKind::Raw16, 12, "fnsave m108", {0xDD, 0x37}, true},
      {{0x66, 0xD9, 0x27}, MemKind::Env, 0, "fldenv m28", {0xD9, 0x27}, true},
      {{0xD9, 0x27}, MemKind::Env, 0, "fldenv m14", {0x66, 0xD9, 0x27}, true},
      {{0x66, 0xDD, 0x27}, MemKind::Env, 0, "frstor m108", {0xDD, 0x27}, true},
      {{0xDB, 0xE2}, MemKind::None, 0, "fnclex"},
      {{0xDB, 0xE3}, MemKind::None, 0, "fninit"},
  };
}

TEST_F(FpuHost, RegisterForms) { run_forms(register_forms(), 1000); }
TEST_F(FpuHost, MemoryForms) { run_forms(memory_forms(), 5000); }
TEST_F(FpuHost, EnvironmentImages) { run_forms(env_forms(), 5000); }

#endif  // __x86_64__

// ---- hand-written cases: what the host differential cannot show ----

class FpuGuest : public ::testing::Test {
 protected:
  Vm vm;
  uint8_t* ram() { return vm.mem.ram(); }
  uint16_t w(uint32_t a) { return static_cast<uint16_t>(ram()[a] | ram()[a + 1] << 8); }
  uint32_t d(uint32_t a) { return w(a) | uint32_t{w(a + 2)} << 16; }
  void fresh() {
    vm.cpu.s.fpu = FpuState{};
    vm.cpu.s.fpu.cw = 0x037F;
    vm.cpu.s.fpu.mxcsr = 0x1F80;
    vm.cpu.s.cr[0] = 0x60000010u;
  }
};

// fld1; fldpi; fnstenv [bx] (16-bit real-mode format) and the 32-bit one (66 prefix).
TEST_F(FpuGuest, RealModeEnvironmentLayouts) {
  fresh();
  // 1000: D9 E8 fld1 / 1002: D9 EB fldpi / 1004: DD 47 08 fld qword [bx+8] / 1007: D9 37 fnstenv [bx]
  // 1009: 66 D9 77 20 fnstenv [bx+0x20]
  std::memset(ram() + MEM, 0, 0x80);
  vm.run({0xD9, 0xE8, 0xD9, 0xEB, 0xDD, 0x47, 0x08, 0xD9, 0x37, 0x66, 0xD9, 0x77, 0x20});
  ASSERT_FALSE(vm.faulted());
  // 16-bit: CW SW TW IP[15:0] (IP[19:16]<<12 | FOP) DP[15:0] (DP[19:16]<<12)
  EXPECT_EQ(w(MEM + 0), 0x037F);
  EXPECT_EQ(w(MEM + 2), 5u << 11);           // TOP = 5, no flags
  EXPECT_EQ(w(MEM + 4), 0x07FF);             // R5 +0.0 (zero), R6 pi and R7 1.0 (valid), others empty
  EXPECT_EQ(w(MEM + 6), 0x1004);             // linear address of the FLD m64
  EXPECT_EQ(w(MEM + 8), 0x547);              // FOP of DD 47 = (5 << 8) | 0x47
  EXPECT_EQ(w(MEM + 10), MEM + 8);
  EXPECT_EQ(w(MEM + 12), 0);
  // 32-bit: each word in a dword; IP/DP bits 31:16 in bits 27:12 of the next dword.
  EXPECT_EQ(d(MEM + 0x20), 0xFFFF037Fu);
  EXPECT_EQ(d(MEM + 0x24), 0xFFFF0000u | 5u << 11);
  EXPECT_EQ(d(MEM + 0x28), 0xFFFF07FFu);
  EXPECT_EQ(d(MEM + 0x2C), 0xFFFF1004u);
  EXPECT_EQ(d(MEM + 0x30), 0x547u);
  EXPECT_EQ(d(MEM + 0x34), 0xFFFF0000u | (MEM + 8));
  EXPECT_EQ(d(MEM + 0x38), 0u);
  // FNSTENV masks every exception afterwards.
  EXPECT_EQ(vm.cpu.s.fpu.cw, 0x037F);
}

// FNSAVE re-initialises; FRSTOR brings everything back; FNSAVE again gives the same image.
TEST_F(FpuGuest, SaveRestoreRoundTrip) {
  for (bool op32 : {false, true}) {
    fresh();
    std::vector<uint8_t> code = {0xD9, 0xEB, 0xD9, 0xE8, 0xDE, 0xF1, 0xD9, 0xEE, 0xD9, 0x2F};  // fldpi fld1 fdivrp fldz fldcw [bx]
    ram()[MEM] = 0x7F;
    ram()[MEM + 1] = 0x0B;  // CW 0B7F: round up, extended precision
    std::vector<uint8_t> save = {0xDD, 0xB7, 0x00, 0x01}, restore = {0xDD, 0xA7, 0x00, 0x01},
                         save2 = {0xDD, 0xB7, 0x00, 0x02};
    if (op32) {
      save.insert(save.begin(), 0x66);
      restore.insert(restore.begin(), 0x66);
      save2.insert(save2.begin(), 0x66);
    }
    for (auto* v : {&save, &restore, &save2}) code.insert(code.end(), v->begin(), v->end());
    vm.run(code);
    ASSERT_FALSE(vm.faulted());
    const unsigned n = op32 ? 108 : 94;
    EXPECT_EQ(0, std::memcmp(ram() + MEM + 0x100, ram() + MEM + 0x200, n)) << "op32 " << op32;
    EXPECT_EQ(vm.cpu.s.fpu.cw, 0x037F);  // FNSAVE re-initialised
    EXPECT_EQ(vm.cpu.s.fpu.tags, 0);
    // The register area: ST(0) = +0, ST(1) = 1/pi.
    const uint8_t* regs = ram() + MEM + 0x100 + (op32 ? 28 : 14);
    long double st1;
    std::memcpy(&st1, regs + 10, 10);
    EXPECT_EQ(static_cast<double>(st1), static_cast<double>(1.0L / 3.14159265358979323846264338327950288L));
    EXPECT_EQ(w(MEM + 0x100), 0x0B7F);
  }
}

TEST_F(FpuGuest, FxsaveFxrstor) {
  fresh();
  // fldpi; fld1; fxsave [bx]; fninit; fxrstor [bx]; fxsave [bx+0x200]
  vm.run({0xD9, 0xEB, 0xD9, 0xE8, 0x0F, 0xAE, 0x07, 0xDB, 0xE3, 0x0F, 0xAE, 0x0F, 0x0F, 0xAE, 0x87, 0x00, 0x02});
  ASSERT_FALSE(vm.faulted());
  EXPECT_EQ(w(MEM), 0x037F);
  EXPECT_EQ(w(MEM + 2), 6u << 11);
  EXPECT_EQ(ram()[MEM + 4], 0xC0);  // abridged tags: R6, R7
  EXPECT_EQ(d(MEM + 24), 0x1F80u);  // MXCSR
  long double st0;
  std::memcpy(&st0, ram() + MEM + 32, 10);
  EXPECT_EQ(st0, 1.0L);
  EXPECT_EQ(0, std::memcmp(ram() + MEM, ram() + MEM + 0x200, 160));
  // A misaligned operand is #GP(0).
  fresh();
  vm.cpu.s.regs[EBX] = MEM + 8;
  vm.load({0x0F, 0xAE, 0x07});
  vm.cpu.s.regs[EBX] = MEM + 8;
  ASSERT_EQ(vm.cpu.run(100), StopReason::Halted);
  EXPECT_TRUE(vm.faulted());
  EXPECT_EQ(vm.pushed_ip(), CODE);
}

// CR0.EM or CR0.TS: #NM before anything happens; WAIT only with TS and MP together.
TEST_F(FpuGuest, DeviceNotAvailable) {
  struct Case {
    uint32_t cr0_bits;
    std::vector<uint8_t> code;
    bool nm;
  };
  const Case cases[] = {
      {0x4, {0xD9, 0xE8}, true},          // EM: fld1
      {0x8, {0xD9, 0xE8}, true},          // TS: fld1
      {0x8, {0xDB, 0xE3}, true},          // TS: fninit
      {0x8, {0x0F, 0xAE, 0x07}, true},    // TS: fxsave
      {0x4, {0x9B}, false},               // EM: wait is fine
      {0x8, {0x9B}, false},               // TS without MP: wait is fine
      {0xA, {0x9B}, true},                // TS + MP: wait -> #NM
      {0x2, {0xD9, 0xE8}, false},         // MP alone
  };
  for (const Case& k : cases) {
    fresh();
    vm.cpu.s.cr[0] |= k.cr0_bits;
    vm.load(k.code);
    ASSERT_EQ(vm.cpu.run(100), StopReason::Halted);
    EXPECT_EQ(vm.faulted(), k.nm) << "cr0 bits " << k.cr0_bits;
    if (k.nm) {
      EXPECT_EQ(vm.pushed_ip(), CODE);
      EXPECT_EQ(vm.cpu.s.fpu.tags, 0) << "nothing may change before #NM";
      EXPECT_EQ(w(4 * 7), HANDLER);  // the IVT entry used is vector 7's (all point at HANDLER)
    }
  }
}

// An unmasked exception sets ES/B; the next waiting instruction raises #MF with CR0.NE = 1 (before
// it executes), or asserts FERR# with CR0.NE = 0; FNCLEX clears both.
TEST_F(FpuGuest, PendingExceptionReporting) {
  // fldz; fld1; fldcw [bx] (CW 0x037B: ZE unmasked); fdiv st0, st1 -> ZE pending; fld1
  for (bool ne : {true, false}) {
    fresh();
    if (ne) vm.cpu.s.cr[0] |= 0x20;
    ram()[MEM] = 0x7B;
    ram()[MEM + 1] = 0x03;
    // Vector 16 points somewhere else than the other vectors, to tell #MF apart.
    vm.load({0xD9, 0xEE, 0xD9, 0xE8, 0xD9, 0x2F, 0xD8, 0xF1, 0xD9, 0xE8});
    ram()[16 * 4] = 0x00;
    ram()[16 * 4 + 1] = 0x24;
    ram()[0x2400] = 0xF4;
    ASSERT_EQ(vm.cpu.run(100), StopReason::Halted);
    const FpuState& f = vm.cpu.s.fpu;
    EXPECT_TRUE(f.sw & FPU_ES);
    EXPECT_TRUE(f.sw & FPU_B);
    EXPECT_TRUE(f.sw & FPU_ZE);
    if (ne) {
      EXPECT_EQ(vm.cpu.s.eip, 0x2401u);
      EXPECT_EQ(vm.pushed_ip(), CODE + 8);                // the FLD1 after the FDIV
      EXPECT_EQ((f.sw >> 11) & 7, 6u) << "FLD1 must not have run";
      EXPECT_EQ(f.ferr, 0);
      EXPECT_EQ(f.fip, CODE + 6u) << "pointers still name the FDIV";
      EXPECT_EQ(f.fop, 0x0F1);
    } else {
      EXPECT_EQ(vm.cpu.s.eip, CODE + 11u);  // ran to the HLT
      EXPECT_EQ(f.ferr, 1);
      EXPECT_EQ((f.sw >> 11) & 7, 5u);
    }
    // The unmasked ZE left the destination alone.
    long double st;
    std::memcpy(&st, vm.cpu.s.fpu.st[6], 10);
    EXPECT_EQ(st, 1.0L);
  }
  // FNCLEX (no wait) clears ES, B and FERR#.
  vm.load({0xDB, 0xE2, 0x9B});
  ASSERT_EQ(vm.cpu.run(100), StopReason::Halted);
  EXPECT_FALSE(vm.faulted());
  EXPECT_EQ(vm.cpu.s.fpu.sw & (FPU_ES | FPU_B | FPU_ZE), 0);
  EXPECT_EQ(vm.cpu.s.fpu.ferr, 0);
}

// A store that faults (segment limit) changes nothing: no memory, no pop, no flags.
TEST_F(FpuGuest, FaultingStoreIsPrecise) {
  fresh();
  vm.load({0xD9, 0xE8});
  ASSERT_EQ(vm.cpu.run(100), StopReason::Halted);
  const FpuState before = vm.cpu.s.fpu;
  vm.load({0xDD, 0x1F});  // fstp qword [bx] with BX = FFFC: crosses the 64 KiB limit
  vm.cpu.s.regs[EBX] = 0xFFFC;
  ram()[0xFFFC] = 0xAA;
  ASSERT_EQ(vm.cpu.run(100), StopReason::Halted);
  EXPECT_TRUE(vm.faulted());
  EXPECT_EQ(vm.pushed_ip(), CODE);
  EXPECT_EQ(ram()[0xFFFC], 0xAA);
  EXPECT_EQ(vm.cpu.s.fpu.sw, before.sw);
  EXPECT_EQ(vm.cpu.s.fpu.tags, before.tags);
}

}  // namespace
