// QEMU's firmware configuration interface (fw_cfg) in its x86 I/O form, which Debian's SeaBIOS
// reads: a 16-bit selector at 0x510 names an item, whose bytes are then read one by one from 0x511
// (past the end, and for unknown items, zeros). Items are the numbered legacy ones (signature
// "QEMU", the interface ID, RAM size, CPU counts, ...) and named files listed in the file
// directory (item 0x19: a big-endian count, then size, selector and a 56-byte name per file;
// files get selectors from 0x20 in the order they are added, the directory lists them sorted by
// name, as QEMU does).
//
// The DMA interface (ID bit 1, as QEMU's): the guest writes the guest-physical address of a
// 16-byte descriptor (big-endian: control, length, address) to 0x514 (high dword) and 0x518 (low
// dword, which starts the transfer); control may select an item (bits 31:16, bit 3), then read
// (bit 1: the item's bytes to RAM, zeros past its end), skip (bit 2) or write (bit 4: refused, no
// item is writable). The device then sets control to 0, or to 1 (error) for a descriptor or a
// buffer that is not wholly in guest RAM. 0x514-0x51B read "QEMU CFG".
//
// Everything here is built by the board from its configuration; the guest only selects and reads,
// so a snapshot holds just the selector, the read position and the latched high address dword.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "devices/port_bus.h"
#include "mmu/physical_memory.h"

namespace vx86 {

class SnapshotWriter;
class SnapshotReader;

class FwCfg : public IoDevice {
 public:
  static constexpr uint16_t kSelectorPort = 0x510;
  static constexpr uint16_t kDataPort = 0x511;
  static constexpr uint16_t kDmaPort = 0x514;  // 8 ports: address high dword, low dword
  enum Key : uint16_t {
    SIGNATURE = 0x00,
    ID = 0x01,
    UUID = 0x02,
    RAM_SIZE = 0x03,
    NB_CPUS = 0x05,
    BOOT_MENU = 0x0E,
    KERNEL_ADDR = 0x07,  // -kernel through the firmware: where each part goes, its size, its bytes
    KERNEL_SIZE = 0x08,
    INITRD_ADDR = 0x0A,
    INITRD_SIZE = 0x0B,
    MAX_CPUS = 0x0F,
    KERNEL_DATA = 0x11,
    INITRD_DATA = 0x12,
    CMDLINE_ADDR = 0x13,
    CMDLINE_SIZE = 0x14,
    CMDLINE_DATA = 0x15,
    SETUP_ADDR = 0x16,
    SETUP_SIZE = 0x17,
    SETUP_DATA = 0x18,
    FILE_DIR = 0x19,
    FILE_FIRST = 0x20,
    ACPI_TABLES = 0x8000,
    SMBIOS_ENTRIES = 0x8001,
    IRQ0_OVERRIDE = 0x8002,
    E820_TABLE = 0x8003,
  };
  static constexpr size_t kMaxNameLength = 55;  // the directory's 56-byte names end in a NUL
  static constexpr unsigned kMaxFiles = 0x1000;

  FwCfg();
  void attach(PortBus& ports);  // 0x510-0x511, 0x514-0x51B
  // The DMA interface reaches guest RAM here; `written` is told of each range it writes (the board
  // drops translated code there). Without memory, DMA transfers end in an error.
  void set_dma_memory(PhysicalMemory* mem, std::function<void(uint32_t, uint32_t)> written) {
    mem_ = mem;
    dma_written_ = std::move(written);
  }
  void reset();                 // selector 0 (the signature), position 0

  void set_item(uint16_t key, std::vector<uint8_t> data);
  // Adds a named file. Throws std::invalid_argument for a name that is empty, too long or taken.
  void add_file(const std::string& name, std::vector<uint8_t> data);
  const std::vector<uint8_t>* find_file(const std::string& name) const;

  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, uint32_t value, unsigned size) override;

  void save(SnapshotWriter& w) const;
  void load(SnapshotReader& r);

 private:
  const std::vector<uint8_t>* selected() const;
  void rebuild_directory();
  void dma(uint64_t descriptor);
  bool in_ram(uint64_t addr, uint64_t len) const;

  std::map<uint16_t, std::vector<uint8_t>> items_;
  std::map<std::string, uint16_t> files_;  // name -> selector
  uint16_t next_file_ = FILE_FIRST;
  uint16_t selector_ = SIGNATURE;
  uint32_t pos_ = 0;
  uint32_t dma_hi_ = 0;
  PhysicalMemory* mem_ = nullptr;
  std::function<void(uint32_t, uint32_t)> dma_written_;
};

}  // namespace vx86
