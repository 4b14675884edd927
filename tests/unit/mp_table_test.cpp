// The MP tables of the direct loader, walked as the MultiProcessor Specification 1.4 describes them
// (floating pointer, configuration table header, entries by type and length), and placed by the
// Linux loader at 639 KiB with that KiB reserved when there are APICs but no ACPI.
#include "emu/board/mp_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "emu/board/linux_boot.h"
#include "emu/board/machine.h"

using namespace vx86;

namespace {
uint32_t le(const std::vector<uint8_t>& b, size_t at, unsigned n) {
  uint32_t v = 0;
  for (unsigned i = 0; i < n; ++i) v |= uint32_t{b[at + i]} << (8 * i);
  return v;
}
uint8_t sum(const std::vector<uint8_t>& b, size_t at, size_t n) {
  uint8_t s = 0;
  for (size_t i = at; i < at + n; ++i) s = static_cast<uint8_t>(s + b[i]);
  return s;
}
}  // namespace

TEST(MpTable, FloatingPointerAndConfigurationTable) {
  const uint32_t at = 0x9FC00;
  const std::vector<uint8_t> b = build_mp_table(3, at);
  ASSERT_GE(b.size(), 16u + 44u);
  EXPECT_EQ(std::string(b.begin(), b.begin() + 4), "_MP_");
  EXPECT_EQ(le(b, 4, 4), at + 16);
  EXPECT_EQ(b[8], 1);  // 16 bytes
  EXPECT_EQ(b[9], 4);  // revision 1.4
  EXPECT_EQ(sum(b, 0, 16), 0);
  EXPECT_EQ(b[11], 0);  // a configuration table, no default configuration
  const size_t t = 16;
  EXPECT_EQ(std::string(b.begin() + t, b.begin() + t + 4), "PCMP");
  const uint32_t len = le(b, t + 4, 2);
  ASSERT_EQ(t + len, b.size());
  EXPECT_EQ(sum(b, t, len), 0);
  EXPECT_EQ(le(b, t + 36, 4), 0xFEE00000u);
  // Entries: processors 20 bytes, the rest 8.
  std::map<unsigned, unsigned> count;
  std::vector<unsigned> irqs;
  unsigned n = 0;
  for (size_t e = t + 44; e < t + len; ++n) {
    const uint8_t type = b[e];
    ++count[type];
    if (type == 0) {
      EXPECT_EQ(b[e + 1], count[0] - 1);                                   // APIC ID
      EXPECT_EQ(b[e + 3], count[0] == 1 ? 3 : 1) << "CPU " << count[0] - 1;  // enabled, BSP
    }
    if (type == 2) EXPECT_EQ(le(b, e + 4, 4), 0xFEC00000u);
    if (type == 3) {
      EXPECT_EQ(b[e + 5], b[e + 7]);  // ISA IRQ n on pin n
      irqs.push_back(b[e + 5]);
    }
    e += type == 0 ? 20 : 8;
  }
  EXPECT_EQ(n, le(b, t + 34, 2));
  EXPECT_EQ(count[0], 3u);
  EXPECT_EQ(count[1], 1u);
  EXPECT_EQ(count[2], 1u);
  EXPECT_EQ(count[4], 2u);
  EXPECT_EQ(irqs.size(), 15u);
  EXPECT_EQ(std::count(irqs.begin(), irqs.end(), 2u), 0);
}

TEST(MpTable, LinuxLoaderPlacesItOnlyWithApicsAndNoAcpi) {
  for (bool acpi : {false, true}) {
    MachineConfig cfg;
    cfg.bios.assign(64 * 1024, 0xF4);
    cfg.apic = true;
    cfg.cpus = 2;
    cfg.acpi = acpi;
    cfg.debugcon = nullptr;
    Machine m(cfg);
    // A minimal bzImage: the setup header and a few bytes of protected-mode code.
    std::vector<uint8_t> k(2048 + 512, 0);
    k[0x1F1] = 3;
    k[0x1F4] = 512 / 16;
    k[0x1FE] = 0x55, k[0x1FF] = 0xAA;
    k[0x200] = 0xEB, k[0x201] = 0x66;
    k[0x202] = 'H', k[0x203] = 'd', k[0x204] = 'r', k[0x205] = 'S';
    k[0x206] = 0x0F, k[0x207] = 0x02;
    k[0x211] = 0x01;
    k[0x216] = 0x10;  // code32_start 0x100000
    k[0x238] = 0xFF;  // cmdline_size
    ASSERT_EQ(load_kernel(m, k, std::vector<uint8_t>{}, ""), "");
    const bool found = m.memory().read(0x9FC00, 4) == 0x5F504D5Fu;  // "_MP_"
    EXPECT_EQ(found, !acpi);
    const uint32_t low_len = m.memory().read(0x7000 + 0x2D0 + 8, 4);  // e820 entry 0's length
    EXPECT_EQ(low_len, acpi ? 0xA0000u : 0x9FC00u);
  }
}
