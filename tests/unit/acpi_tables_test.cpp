// The ACPI tables: run QEMU's table-loader script the way the firmware does (an interpreter written
// here from the fw_cfg loader specification), then walk the tables from the RSDP as an OS would:
// signatures, lengths, checksums, pointers, the FADT's PM registers, the DSDT's patched values, the
// MADT's entries. The direct loader's link() must give the same bytes.
#include "emu/board/acpi_tables.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>

#include "emu/board/machine.h"

using namespace vx86;

namespace {

constexpr uint32_t kHighZone = 0x80000, kFsegZone = 0xF0000;

struct Loaded {
  std::vector<uint8_t> mem = std::vector<uint8_t>(0x100000, 0);
  std::map<std::string, uint32_t> addr;
  uint32_t u32(uint32_t a) const {
    return mem[a] | mem[a + 1] << 8 | mem[a + 2] << 16 | uint32_t{mem[a + 3]} << 24;
  }
  uint16_t u16(uint32_t a) const { return static_cast<uint16_t>(mem[a] | mem[a + 1] << 8); }
  std::string sig(uint32_t a, size_t n = 4) const {
    return std::string(reinterpret_cast<const char*>(&mem[a]), n);
  }
  uint8_t sum(uint32_t a, uint32_t n) const {
    uint8_t s = 0;
    for (uint32_t i = 0; i < n; ++i) s = static_cast<uint8_t>(s + mem[a + i]);
    return s;
  }
};

uint32_t le32(const std::vector<uint8_t>& b, size_t at) {
  return b[at] | b[at + 1] << 8 | b[at + 2] << 16 | uint32_t{b[at + 3]} << 24;
}

// The firmware's side: ALLOCATE copies a file into a zone (aligned), ADD_POINTER adds the pointed-to
// file's address to a little-endian field, ADD_CHECKSUM makes a byte range sum to zero.
Loaded run_loader(const AcpiTables& t) {
  Loaded l;
  const std::map<std::string, const std::vector<uint8_t>*> files = {{AcpiTables::kTablesFile, &t.tables},
                                                                    {AcpiTables::kRsdpFile, &t.rsdp}};
  const std::vector<uint8_t> script = t.table_loader_commands();
  EXPECT_EQ(script.size() % 128, 0u);
  uint32_t next[3] = {0, kHighZone, kFsegZone};
  for (size_t c = 0; c + 128 <= script.size(); c += 128) {
    const uint32_t cmd = le32(script, c);
    const std::string f1(reinterpret_cast<const char*>(&script[c + 4]));
    if (cmd == 1) {
      const uint32_t align = le32(script, c + 60);
      const uint8_t zone = script[c + 64];
      EXPECT_TRUE(zone == 1 || zone == 2);
      const std::vector<uint8_t>& data = *files.at(f1);
      const uint32_t at = (next[zone] + align - 1) / align * align;
      std::copy(data.begin(), data.end(), l.mem.begin() + at);
      l.addr[f1] = at;
      next[zone] = at + static_cast<uint32_t>(data.size());
    } else if (cmd == 2) {
      const std::string src(reinterpret_cast<const char*>(&script[c + 60]));
      const uint32_t field = l.addr.at(f1) + le32(script, c + 116);
      const uint8_t size = script[c + 120];
      EXPECT_TRUE(size == 4 || size == 8);
      const uint32_t v = l.u32(field) + l.addr.at(src);
      for (unsigned i = 0; i < 4; ++i) l.mem[field + i] = static_cast<uint8_t>(v >> (8 * i));
    } else if (cmd == 3) {
      const uint32_t base = l.addr.at(f1);
      const uint32_t at = base + le32(script, c + 60), start = base + le32(script, c + 64),
                     len = le32(script, c + 68);
      l.mem[at] = static_cast<uint8_t>(l.mem[at] - l.sum(start, len));
    } else {
      ADD_FAILURE() << "unknown loader command " << cmd;
    }
  }
  return l;
}

// A table's header: signature, length, checksum.
void expect_table(const Loaded& l, uint32_t a, const char* sig) {
  EXPECT_EQ(l.sig(a), sig);
  EXPECT_EQ(l.sum(a, l.u32(a + 4)), 0) << sig << " checksum";
}

AcpiConfig config(bool apic) {
  AcpiConfig c;
  c.ram_size = 256u << 20;
  c.apic = apic;
  c.pm_base = 0x600;
  return c;
}

}  // namespace

TEST(AcpiTables, LoaderScriptGivesAValidTreeWithoutApic) {
  const AcpiTables t = build_acpi_tables(config(false));
  const Loaded l = run_loader(t);
  const uint32_t rsdp = l.addr.at(AcpiTables::kRsdpFile);
  EXPECT_EQ(rsdp % 16, 0u);
  EXPECT_EQ(l.sig(rsdp, 8), "RSD PTR ");
  EXPECT_EQ(l.sum(rsdp, 20), 0);
  EXPECT_EQ(l.mem[rsdp + 15], 0);  // revision 0: RSDT only
  const uint32_t rsdt = l.u32(rsdp + 16);
  expect_table(l, rsdt, "RSDT");
  ASSERT_EQ(l.u32(rsdt + 4), 36u + 4);  // the FADT only: no MADT without APICs
  const uint32_t fadt = l.u32(rsdt + 36);
  expect_table(l, fadt, "FACP");
  EXPECT_EQ(l.u32(fadt + 4), 244u);
  EXPECT_EQ(l.mem[fadt + 8], 3);
  const uint32_t facs = l.u32(fadt + 36);
  EXPECT_EQ(facs % 64, 0u);
  EXPECT_EQ(l.sig(facs), "FACS");
  EXPECT_EQ(l.u32(facs + 4), 64u);
  const uint32_t dsdt = l.u32(fadt + 40);
  expect_table(l, dsdt, "DSDT");
  // The PM registers where the PM function decodes them, the SCI on IRQ 9, no SMI port.
  EXPECT_EQ(l.u16(fadt + 46), 9);
  EXPECT_EQ(l.u32(fadt + 48), 0u);
  EXPECT_EQ(l.u32(fadt + 56), 0x600u + acpi_pm::kPm1Status);
  EXPECT_EQ(l.u32(fadt + 64), 0x600u + acpi_pm::kPm1Control);
  EXPECT_EQ(l.u32(fadt + 76), 0x600u + acpi_pm::kTimer);
  EXPECT_EQ(l.mem[fadt + 88], 4);
  EXPECT_EQ(l.mem[fadt + 89], 2);
  EXPECT_EQ(l.mem[fadt + 91], 4);
  EXPECT_EQ(l.u32(fadt + 112) & (1u << 8), 0u);  // 24-bit PM timer
  EXPECT_EQ(l.u32(fadt + 112) & (1u << 4), 0u);  // the power button is the fixed feature
  EXPECT_EQ(l.u16(fadt + 109) & 2, 2);           // an 8042
  // The reset register: system I/O 0xCF9, value 6.
  EXPECT_EQ(l.mem[fadt + 116], 1);
  EXPECT_EQ(l.u32(fadt + 120), 0xCF9u);
  EXPECT_EQ(l.mem[fadt + 128], 6);
}

TEST(AcpiTables, DsdtHasSoftOffAndThePatchedWindow) {
  const AcpiTables t = build_acpi_tables(config(false));
  const Loaded l = run_loader(t);
  const uint32_t fadt = l.u32(l.u32(l.addr.at(AcpiTables::kRsdpFile) + 16) + 36);
  const uint32_t dsdt = l.u32(fadt + 40);
  const std::vector<uint8_t> aml(l.mem.begin() + dsdt, l.mem.begin() + dsdt + l.u32(dsdt + 4));
  auto find = [&aml](std::vector<uint8_t> pat) {
    auto it = std::search(aml.begin(), aml.end(), pat.begin(), pat.end());
    return it == aml.end() ? -1 : static_cast<long>(it - aml.begin());
  };
  // Name (_S5, Package (4) {0, 0, 0, 0}): NameOp "_S5_" PackageOp len 4 elements ZeroOp x4.
  EXPECT_GE(find({0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00}), 0);
  // The PCI window from the top of RAM up to the I/O APIC.
  EXPECT_GE(find({0x08, 'P', '3', '2', 'S', 0x0C, 0x00, 0x00, 0x00, 0x10}), 0);
  EXPECT_GE(find({0x08, 'P', '3', '2', 'E', 0x0C, 0xFF, 0xFF, 0xBF, 0xFE}), 0);
  EXPECT_GE(find({0x08, 'C', '1', 'S', 'T', 0x0C, 0x0F, 0x00, 0x00, 0x00}), 0);
  EXPECT_LT(find({0xE0, 0xBE, 0xAD, 0xDE}), 0);  // no placeholder left
}

TEST(AcpiTables, MadtListsTheApicsAndLevelOverrides) {
  const AcpiTables t = build_acpi_tables(config(true));
  const Loaded l = run_loader(t);
  const uint32_t rsdt = l.u32(l.addr.at(AcpiTables::kRsdpFile) + 16);
  ASSERT_EQ(l.u32(rsdt + 4), 36u + 8);
  const uint32_t madt = l.u32(rsdt + 40);
  expect_table(l, madt, "APIC");
  EXPECT_EQ(l.u32(madt + 36), 0xFEE00000u);
  EXPECT_EQ(l.u32(madt + 40), 1u);  // PCAT_COMPAT
  bool lapic = false, ioapic = false, nmi = false;
  std::map<unsigned, std::pair<uint32_t, uint16_t>> overrides;  // source IRQ -> GSI, flags
  for (uint32_t a = madt + 44; a < madt + l.u32(madt + 4);) {
    const uint8_t type = l.mem[a], len = l.mem[a + 1];
    ASSERT_GE(len, 2);
    if (type == 0) lapic = l.mem[a + 3] == 0 && (l.u32(a + 4) & 1);
    if (type == 1) ioapic = l.u32(a + 4) == 0xFEC00000u && l.u32(a + 8) == 0;
    if (type == 2) overrides[l.mem[a + 3]] = {l.u32(a + 4), l.u16(a + 8)};
    if (type == 4) nmi = l.mem[a + 5] == 1;
    a += len;
  }
  EXPECT_TRUE(lapic);
  EXPECT_TRUE(ioapic);
  EXPECT_TRUE(nmi);
  EXPECT_EQ(overrides.count(0), 0u);  // the PIT stays on pin 0
  ASSERT_EQ(overrides.count(9), 1u);
  EXPECT_EQ(overrides[9].first, 9u);
  EXPECT_EQ(overrides[9].second, 0x000D);  // active high, level
}

TEST(AcpiTables, LinkGivesTheSameBytesAsTheLoader) {
  const AcpiTables t = build_acpi_tables(config(true));
  const Loaded l = run_loader(t);
  AcpiTables linked = t;
  linked.link(kHighZone);
  const uint32_t rsdp = l.addr.at(AcpiTables::kRsdpFile);
  EXPECT_EQ(l.addr.at(AcpiTables::kTablesFile), kHighZone);
  EXPECT_TRUE(std::equal(linked.tables.begin(), linked.tables.end(), l.mem.begin() + kHighZone));
  EXPECT_TRUE(std::equal(linked.rsdp.begin(), linked.rsdp.end(), l.mem.begin() + rsdp));
}

TEST(AcpiTables, Com1AbsentAndLargeRam) {
  AcpiConfig c = config(false);
  c.com1 = false;
  c.ram_size = 0xFF000000u;  // more than the window allows: clamped
  const AcpiTables t = build_acpi_tables(c);
  auto has = [&t](std::vector<uint8_t> pat) {
    return std::search(t.tables.begin(), t.tables.end(), pat.begin(), pat.end()) != t.tables.end();
  };
  EXPECT_TRUE(has({0x08, 'C', '1', 'S', 'T', 0x0C, 0, 0, 0, 0}));
  EXPECT_TRUE(has({0x08, 'P', '3', '2', 'S', 0x0C, 0xFF, 0xFF, 0xBF, 0xFE}));
}

// The board: -acpi off has neither the PM function nor the ACPI files; on, fw_cfg serves exactly
// the tables the board built, and "etc/e820" names the RAM.
TEST(AcpiBoard, TablesAndPmFunctionOnlyWithAcpi) {
  MachineConfig cfg;
  cfg.ram_mb = 64;
  cfg.bios.assign(64 * 1024, 0xF4);
  cfg.acpi = false;
  {
    Machine m(cfg);
    EXPECT_EQ(m.pci().find(1, 3), nullptr);
    EXPECT_EQ(m.pm(), nullptr);
    EXPECT_EQ(m.acpi_tables(), nullptr);
    EXPECT_EQ(m.fw_cfg().find_file(AcpiTables::kLoaderFile), nullptr);
    EXPECT_NE(m.fw_cfg().find_file("etc/e820"), nullptr);
  }
  cfg.acpi = true;
  Machine m(cfg);
  ASSERT_NE(m.pm(), nullptr);
  EXPECT_EQ(m.pci().find(1, 3), m.pm());
  ASSERT_NE(m.acpi_tables(), nullptr);
  const std::vector<uint8_t>* loader = m.fw_cfg().find_file(AcpiTables::kLoaderFile);
  ASSERT_NE(loader, nullptr);
  EXPECT_EQ(*loader, m.acpi_tables()->table_loader_commands());
  EXPECT_EQ(*m.fw_cfg().find_file(AcpiTables::kTablesFile), m.acpi_tables()->tables);
  const std::vector<uint8_t>* e820 = m.fw_cfg().find_file("etc/e820");
  ASSERT_NE(e820, nullptr);
  ASSERT_EQ(e820->size(), 20u);
  EXPECT_EQ(le32(*e820, 0), 0u);
  EXPECT_EQ(le32(*e820, 8), 64u << 20);
  EXPECT_EQ(le32(*e820, 16), 1u);
}
