#include "emu/board/mp_table.h"

#include <cstddef>

#include "emu/cpuid.h"

namespace vx86 {

namespace {
void put(std::vector<uint8_t>& b, uint64_t v, unsigned n) {
  for (unsigned i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_str(std::vector<uint8_t>& b, const char* s, unsigned n) {
  for (unsigned i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(s[i]));
}
void checksum(std::vector<uint8_t>& b, size_t start, size_t len, size_t at) {
  uint8_t sum = 0;
  for (size_t i = start; i < start + len; ++i) sum = static_cast<uint8_t>(sum + b[i]);
  b[at] = static_cast<uint8_t>(-sum);
}
constexpr uint8_t kIoApicId = 0;  // IoApic's ID after reset
}  // namespace

std::vector<uint8_t> build_mp_table(unsigned cpus, uint32_t at) {
  std::vector<uint8_t> b;
  // Floating pointer: "_MP_", the table's address, 1 paragraph, revision 1.4, no default
  // configuration, IMCR absent (virtual wire mode).
  put_str(b, "_MP_", 4);
  put(b, at + 16, 4);
  put(b, 1, 1), put(b, 4, 1), put(b, 0, 1), put(b, 0, 1), put(b, 0, 4);
  checksum(b, 0, 16, 10);

  const size_t t = b.size();
  put_str(b, "PCMP", 4);
  put(b, 0, 2);  // length, below
  put(b, 4, 1), put(b, 0, 1);
  put_str(b, "VX86    ", 8);
  put_str(b, "VX86 PC     ", 12);
  put(b, 0, 4), put(b, 0, 2);
  put(b, 0, 2);  // entry count, below
  put(b, 0xFEE00000u, 4);
  put(b, 0, 2), put(b, 0, 1), put(b, 0, 1);
  unsigned entries = 0;
  for (unsigned i = 0; i < cpus; ++i, ++entries) {  // processors: enabled, CPU 0 the BSP
    put(b, 0, 1), put(b, i, 1), put(b, 0x14, 1), put(b, i == 0 ? 3 : 1, 1);
    put(b, CPUID_SIGNATURE, 4), put(b, CPUID_FEATURES_EDX | CPUID_APIC, 4), put(b, 0, 8);
  }
  put(b, 1, 1), put(b, 0, 1), put_str(b, "ISA   ", 6), ++entries;            // bus 0: ISA
  put(b, 2, 1), put(b, kIoApicId, 1), put(b, 0x11, 1), put(b, 1, 1), put(b, 0xFEC00000u, 4), ++entries;
  for (unsigned irq = 0; irq < 16; ++irq) {  // ISA IRQ n -> pin n, conforming; 2 is the cascade
    if (irq == 2) continue;
    ++entries;
    put(b, 3, 1), put(b, 0, 1), put(b, 0, 2), put(b, 0, 1), put(b, irq, 1), put(b, kIoApicId, 1), put(b, irq, 1);
  }
  // Local interrupts: ExtINT on LINT0, NMI on LINT1, every local APIC (FFh).
  put(b, 4, 1), put(b, 3, 1), put(b, 0, 2), put(b, 0, 1), put(b, 0, 1), put(b, 0xFF, 1), put(b, 0, 1), ++entries;
  put(b, 4, 1), put(b, 1, 1), put(b, 0, 2), put(b, 0, 1), put(b, 0, 1), put(b, 0xFF, 1), put(b, 1, 1), ++entries;
  const size_t len = b.size() - t;
  b[t + 4] = static_cast<uint8_t>(len), b[t + 5] = static_cast<uint8_t>(len >> 8);
  b[t + 34] = static_cast<uint8_t>(entries), b[t + 35] = static_cast<uint8_t>(entries >> 8);
  checksum(b, t, len, t + 7);
  return b;
}

}  // namespace vx86
