// The board's ACPI tables (ACPI 2.0 layout): RSDP (revision 0) -> RSDT -> FADT (revision 3) ->
// FACS and the DSDT (roms/acpi/dsdt.asl, compiled by iasl at build time), and the MADT when the
// board has APICs.
//
// The tables are built as two relocatable blobs, the way QEMU hands them to SeaBIOS through fw_cfg
// ("etc/acpi/rsdp" for the F segment, "etc/acpi/tables" for high memory): every pointer field holds
// an offset into the tables blob, listed in `pointers`, and every checksum is listed in
// `checksums`. table_loader_commands() turns those lists into QEMU's "etc/table-loader" script
// (SeaBIOS's romfile_loader runs it); link() does the same for the direct kernel loader, which
// places the blobs in guest RAM itself.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace vx86 {

struct AcpiConfig {
  uint32_t ram_size = 0;     // bytes below 4 GiB: the PCI memory window starts here
  bool apic = false;         // a MADT with the local APICs and the I/O APIC
  unsigned cpus = 1;         // processors (APIC IDs 0..cpus-1)
  uint8_t ioapic_id = 0;     // the I/O APIC's ID register after reset
  uint16_t pm_base = 0x600;  // the PM function's PMBA (PM1a event/control, PM timer)
  uint8_t sci_irq = 9;
  bool com1 = true;  // COM1 present (its _STA)
};

struct AcpiTables {
  static constexpr const char* kTablesFile = "etc/acpi/tables";
  static constexpr const char* kRsdpFile = "etc/acpi/rsdp";
  static constexpr const char* kLoaderFile = "etc/table-loader";
  // Where the tables must go (the FACS needs 64-byte alignment, the RSDP 16 in 0xE0000-0xFFFFF).
  static constexpr uint32_t kTablesAlign = 64;
  static constexpr uint32_t kRsdpAlign = 16;

  std::vector<uint8_t> tables;
  std::vector<uint8_t> rsdp;
  struct Pointer {
    bool in_rsdp;     // the field is in the RSDP blob (else in the tables blob)
    uint32_t offset;  // of the field
    uint8_t size;     // 4 or 8 bytes; it holds an offset into `tables`
  };
  struct Checksum {
    bool in_rsdp;
    uint32_t offset;  // of the checksum byte
    uint32_t start, length;
  };
  std::vector<Pointer> pointers;
  std::vector<Checksum> checksums;

  // QEMU's table-loader script (128-byte ALLOCATE / ADD_POINTER / ADD_CHECKSUM commands).
  std::vector<uint8_t> table_loader_commands() const;
  // Patches the pointers for the tables blob at guest address `tables_addr` (the RSDP may go
  // anywhere: nothing points at it), then sets every checksum: the blobs are then ready to copy.
  void link(uint32_t tables_addr);
};

// Builds the tables for `cfg`. Throws std::logic_error if the compiled DSDT lacks a patch site.
AcpiTables build_acpi_tables(const AcpiConfig& cfg);

// Offsets in the PM function's I/O block (the PIIX4's PMBA space) the FADT describes.
namespace acpi_pm {
constexpr uint16_t kPm1Status = 0x00, kPm1Enable = 0x02, kPm1Control = 0x04, kTimer = 0x08;
constexpr uint16_t kBlockSize = 0x40;
}  // namespace acpi_pm

}  // namespace vx86
