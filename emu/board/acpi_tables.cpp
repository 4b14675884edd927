#include "emu/board/acpi_tables.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace vx86 {
namespace {

// The DSDT's AML, compiled from roms/acpi/dsdt.asl by iasl -tc (unsigned char dsdt_aml_code[]).
#include "roms/acpi/dsdt.hex"

constexpr uint32_t kLocalApicAddr = 0xFEE00000u;
constexpr uint32_t kIoApicAddr = 0xFEC00000u;
constexpr uint32_t kPciWindowEnd = 0xFEBFFFFFu;  // the I/O APIC follows
constexpr uint16_t kResetPort = 0xCF9;           // PciBus: RST_CPU | SYS_RST = hard reset
constexpr uint8_t kResetValue = 0x06;
constexpr uint8_t kCenturyCmos = 0x32;
// ISA IRQs that are level-triggered and active high at the I/O APIC: the SCI and the IRQs the
// PIIX3 can route PCI interrupts to (the link devices' _PRS).
constexpr uint8_t kLevelIrqs[] = {5, 9, 10, 11};

class Blob {
 public:
  explicit Blob(std::vector<uint8_t>& b) : b_(b) {}
  uint32_t size() const { return static_cast<uint32_t>(b_.size()); }
  void align(uint32_t a) { b_.resize((b_.size() + a - 1) / a * a, 0); }
  uint32_t reserve(uint32_t n) {
    const uint32_t at = size();
    b_.resize(b_.size() + n, 0);
    return at;
  }
  void put(uint32_t at, uint64_t v, unsigned n) {
    for (unsigned i = 0; i < n; ++i) b_[at + i] = static_cast<uint8_t>(v >> (8 * i));
  }
  void put_str(uint32_t at, const char* s, unsigned n) {
    for (unsigned i = 0; i < n; ++i) b_[at + i] = static_cast<uint8_t>(s[i]);
  }

 private:
  std::vector<uint8_t>& b_;
};

// The 36-byte header every table but the RSDP and the FACS starts with.
void put_header(Blob& b, uint32_t at, const char* sig, uint32_t length, uint8_t revision,
                const char* table_id) {
  b.put_str(at, sig, 4);
  b.put(at + 4, length, 4);
  b.put(at + 8, revision, 1);
  b.put_str(at + 10, "VX86  ", 6);
  b.put_str(at + 16, table_id, 8);
  b.put(at + 24, 1, 4);  // OEM revision
  b.put_str(at + 28, "VX86", 4);
  b.put(at + 32, 1, 4);  // creator revision
}

// A Generic Address Structure in system I/O space.
void put_gas_io(Blob& b, uint32_t at, uint16_t port, uint8_t bits) {
  b.put(at, 1, 1);  // system I/O
  b.put(at + 1, bits, 1);
  b.put(at + 2, 0, 1);
  b.put(at + 3, bits / 8 == 4 ? 3 : bits / 8 == 2 ? 2 : 1, 1);  // access size
  b.put(at + 4, port, 8);
}

// Writes `value` into the 32-bit constant of the DSDT's `Name (NAME, 0x........)` (AML: NameOp,
// the name, DWordPrefix): the ASL names each patch site once.
void patch_name(std::vector<uint8_t>& aml, const char* name, uint32_t value) {
  const uint8_t pat[6] = {0x08, uint8_t(name[0]), uint8_t(name[1]), uint8_t(name[2]), uint8_t(name[3]), 0x0C};
  auto it = std::search(aml.begin(), aml.end(), pat, pat + 6);
  if (it == aml.end() || std::search(it + 1, aml.end(), pat, pat + 6) != aml.end())
    throw std::logic_error(std::string("DSDT: patch site ") + name + " missing or not unique");
  const size_t at = static_cast<size_t>(it - aml.begin()) + 6;
  for (unsigned i = 0; i < 4; ++i) aml[at + i] = static_cast<uint8_t>(value >> (8 * i));
}

}  // namespace

AcpiTables build_acpi_tables(const AcpiConfig& cfg) {
  AcpiTables t;
  Blob b(t.tables);
  auto table_checksum = [&t](uint32_t at, uint32_t len) { t.checksums.push_back({false, at + 9, at, len}); };
  auto pointer = [&t](uint32_t at) { t.pointers.push_back({false, at, 4}); };

  // FACS first: 64-byte aligned with the blob.
  t.tables.assign(64, 0);
  const uint32_t facs = 0;
  b.put_str(facs, "FACS", 4);
  b.put(facs + 4, 64, 4);
  b.put(facs + 32, 1, 1);  // version

  // DSDT: the compiled AML with the board's values patched in.
  std::vector<uint8_t> aml(dsdt_aml_code, dsdt_aml_code + sizeof dsdt_aml_code);
  const uint32_t window_start = std::min<uint32_t>(cfg.ram_size, kPciWindowEnd);
  patch_name(aml, "P32S", window_start);
  patch_name(aml, "P32E", kPciWindowEnd);
  patch_name(aml, "C1ST", cfg.com1 ? 0x0F : 0x00);
  patch_name(aml, "NCPU", cfg.cpus);
  const uint32_t dsdt = b.reserve(static_cast<uint32_t>(aml.size()));
  std::copy(aml.begin(), aml.end(), t.tables.begin() + dsdt);
  table_checksum(dsdt, static_cast<uint32_t>(aml.size()));

  // FADT (revision 3, 244 bytes): the PM function's registers, S5 through PM1a_CNT, no SMI
  // command port (the hardware is always in ACPI mode: SCI_EN reads 1), no C2/C3, the reset register.
  b.align(4);
  const uint32_t fadt = b.reserve(244);
  put_header(b, fadt, "FACP", 244, 3, "VX86FACP");
  b.put(fadt + 36, facs, 4);
  pointer(fadt + 36);
  b.put(fadt + 40, dsdt, 4);
  pointer(fadt + 40);
  b.put(fadt + 46, cfg.sci_irq, 2);
  b.put(fadt + 48, 0, 4);                                   // SMI_CMD: none
  b.put(fadt + 56, cfg.pm_base + acpi_pm::kPm1Status, 4);   // PM1a_EVT_BLK
  b.put(fadt + 64, cfg.pm_base + acpi_pm::kPm1Control, 4);  // PM1a_CNT_BLK
  b.put(fadt + 76, cfg.pm_base + acpi_pm::kTimer, 4);       // PM_TMR_BLK
  b.put(fadt + 88, 4, 1);                                   // PM1_EVT_LEN
  b.put(fadt + 89, 2, 1);                                   // PM1_CNT_LEN
  b.put(fadt + 91, 4, 1);                                   // PM_TMR_LEN
  b.put(fadt + 96, 0x0FFF, 2);                              // P_LVL2_LAT > 100: no C2
  b.put(fadt + 98, 0xFFFF, 2);                              // P_LVL3_LAT > 1000: no C3
  b.put(fadt + 108, kCenturyCmos, 1);
  b.put(fadt + 109, 0x0003, 2);  // IAPC_BOOT_ARCH: LEGACY_DEVICES | 8042
  // Flags: WBINVD, PROC_C1, SLP_BUTTON (none; the power button is the fixed feature),
  // RESET_REG_SUP. The PM timer is 24 bits wide (no TMR_VAL_EXT).
  b.put(fadt + 112, (1u << 0) | (1u << 2) | (1u << 5) | (1u << 10), 4);
  put_gas_io(b, fadt + 116, kResetPort, 8);
  b.put(fadt + 128, kResetValue, 1);
  table_checksum(fadt, 244);

  // MADT: the local APIC, the I/O APIC, level-triggered active-high overrides for the SCI and the
  // PCI IRQs, LINT1 as NMI. (PCAT_COMPAT: the 8259s are there too.)
  uint32_t madt = 0;
  if (cfg.apic) {
    const uint32_t len = 44 + 8 * cfg.cpus + 12 + 10 * sizeof kLevelIrqs + 6;
    madt = b.reserve(len);
    put_header(b, madt, "APIC", len, 1, "VX86APIC");
    b.put(madt + 36, kLocalApicAddr, 4);
    b.put(madt + 40, 1, 4);
    uint32_t at = madt + 44;
    for (unsigned i = 0; i < cfg.cpus; ++i) {  // processor i: ACPI ID i, APIC ID i, enabled
      b.put(at, 0, 1), b.put(at + 1, 8, 1), b.put(at + 2, i, 1), b.put(at + 3, i, 1), b.put(at + 4, 1, 4);
      at += 8;
    }
    b.put(at, 1, 1), b.put(at + 1, 12, 1), b.put(at + 2, cfg.ioapic_id, 1), b.put(at + 4, kIoApicAddr, 4);
    b.put(at + 8, 0, 4);
    at += 12;
    for (uint8_t irq : kLevelIrqs) {
      b.put(at, 2, 1), b.put(at + 1, 10, 1), b.put(at + 2, 0, 1), b.put(at + 3, irq, 1),
          b.put(at + 4, irq, 4);
      b.put(at + 8, 0x000D, 2);  // active high, level
      at += 10;
    }
    b.put(at, 4, 1), b.put(at + 1, 6, 1), b.put(at + 2, 0xFF, 1), b.put(at + 3, 0, 2), b.put(at + 5, 1, 1);
    table_checksum(madt, len);
  }

  // RSDT.
  const uint32_t entries = cfg.apic ? 2 : 1;
  const uint32_t rsdt = b.reserve(36 + 4 * entries);
  put_header(b, rsdt, "RSDT", 36 + 4 * entries, 1, "VX86RSDT");
  b.put(rsdt + 36, fadt, 4);
  pointer(rsdt + 36);
  if (cfg.apic) {
    b.put(rsdt + 40, madt, 4);
    pointer(rsdt + 40);
  }
  table_checksum(rsdt, 36 + 4 * entries);

  // RSDP (revision 0: 20 bytes).
  t.rsdp.assign(20, 0);
  Blob r(t.rsdp);
  r.put_str(0, "RSD PTR ", 8);
  r.put_str(9, "VX86  ", 6);
  r.put(16, rsdt, 4);
  t.pointers.push_back({true, 16, 4});
  t.checksums.push_back({true, 8, 0, 20});
  return t;
}

std::vector<uint8_t> AcpiTables::table_loader_commands() const {
  std::vector<uint8_t> out((2 + pointers.size() + checksums.size()) * 128, 0);
  size_t next = 0;
  auto command = [&out, &next](uint32_t type) {
    const size_t at = next;
    next += 128;
    for (unsigned i = 0; i < 4; ++i) out[at + i] = static_cast<uint8_t>(type >> (8 * i));
    return at;
  };
  auto put_name = [&out](size_t at, const char* name) {
    std::strncpy(reinterpret_cast<char*>(&out[at]), name, 55);
  };
  auto put32 = [&out](size_t at, uint32_t v) {
    for (unsigned i = 0; i < 4; ++i) out[at + i] = static_cast<uint8_t>(v >> (8 * i));
  };
  const char* file[2] = {kTablesFile, kRsdpFile};
  // ALLOCATE (1): file, alignment, zone (1 = high memory, 2 = the F segment).
  size_t c = command(1);
  put_name(c + 4, kRsdpFile), put32(c + 60, kRsdpAlign), out[c + 64] = 2;
  c = command(1);
  put_name(c + 4, kTablesFile), put32(c + 60, kTablesAlign), out[c + 64] = 1;
  // ADD_POINTER (2): the file holding the field, the file it points into, field offset, size.
  for (const Pointer& p : pointers) {
    c = command(2);
    put_name(c + 4, file[p.in_rsdp]), put_name(c + 60, kTablesFile);
    put32(c + 116, p.offset), out[c + 120] = p.size;
  }
  // ADD_CHECKSUM (3): file, checksum offset, range start, range length.
  for (const Checksum& k : checksums) {
    c = command(3);
    put_name(c + 4, file[k.in_rsdp]);
    put32(c + 60, k.offset), put32(c + 64, k.start), put32(c + 68, k.length);
  }
  return out;
}

void AcpiTables::link(uint32_t tables_addr) {
  for (const Pointer& p : pointers) {
    std::vector<uint8_t>& blob = p.in_rsdp ? rsdp : tables;
    uint64_t v = 0;
    for (unsigned i = 0; i < p.size; ++i) v |= uint64_t{blob[p.offset + i]} << (8 * i);
    v += tables_addr;
    for (unsigned i = 0; i < p.size; ++i) blob[p.offset + i] = static_cast<uint8_t>(v >> (8 * i));
  }
  for (const Checksum& k : checksums) {
    std::vector<uint8_t>& blob = k.in_rsdp ? rsdp : tables;
    blob[k.offset] = 0;
    uint8_t sum = 0;
    for (uint32_t i = 0; i < k.length; ++i) sum = static_cast<uint8_t>(sum + blob[k.start + i]);
    blob[k.offset] = static_cast<uint8_t>(-sum);
  }
}

}  // namespace vx86
