// Physical memory map, TLB-fronted MMU, A20 gate.
#include <gtest/gtest.h>

#include "mmu/mmu.h"
#include "mmu/physical_memory.h"

using namespace vx86;

namespace {

class RecordingMmio : public MmioHandler {
 public:
  uint32_t mmio_read(uint32_t addr, unsigned size) override {
    last_addr = addr;
    last_size = size;
    return 0x12345678u & (size == 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1);
  }
  void mmio_write(uint32_t addr, uint32_t value, unsigned size) override {
    last_addr = addr;
    last_size = size;
    last_value = value;
  }
  uint32_t last_addr = 0, last_value = 0;
  unsigned last_size = 0;
};

// The i440FX's PAM attributes on shadow RAM: ROM (writes dropped), read ROM / write RAM (the BIOS
// copying itself), RAM, and read RAM with writes dropped (write-protected shadow).
TEST(PhysicalMemory, ShadowRegionsSwitchBetweenRamAndRom) {
  PhysicalMemory mem(1 << 20);
  std::vector<uint8_t> rom(0x4000, 0xAB);
  mem.write(0xE0010, 0x11, 1);  // RAM underneath before any mapping
  mem.map_shadow(0xE0000, 0x4000, rom.data(), false, false);
  EXPECT_EQ(mem.read(0xE0010, 1), 0xABu);
  mem.write(0xE0010, 0x22, 1);
  EXPECT_EQ(mem.ram()[0xE0010], 0x11u);  // dropped
  EXPECT_FALSE(mem.page_writable(0xE0010));

  mem.map_shadow(0xE0000, 0x4000, rom.data(), false, true);
  mem.write(0xE0010, 0x33, 1);
  EXPECT_EQ(mem.read(0xE0010, 1), 0xABu);    // reads still the ROM
  EXPECT_EQ(mem.ram()[0xE0010], 0x33u);      // writes reach RAM
  EXPECT_FALSE(mem.page_writable(0xE0010));  // so the TLB sends writes to the slow path

  mem.map_shadow(0xE0000, 0x4000, rom.data(), true, true);
  EXPECT_EQ(mem.read(0xE0010, 1), 0x33u);
  EXPECT_TRUE(mem.page_writable(0xE3FFF));
  mem.write(0xE3FFF, 0x44, 1);
  EXPECT_EQ(mem.read(0xE3FFF, 1), 0x44u);

  mem.map_shadow(0xE0000, 0x4000, rom.data(), true, false);
  mem.write(0xE0010, 0x55, 1);
  EXPECT_EQ(mem.read(0xE0010, 1), 0x33u);

  mem.map_shadow(0xC0000, 0x4000, nullptr, false, false);  // no ROM there: open bus
  EXPECT_EQ(mem.read(0xC0000, 4), 0xFFFFFFFFu);
  EXPECT_THROW(mem.map_shadow(0xFF000, 0x2000, nullptr, true, true), std::invalid_argument);
}

TEST(PhysicalMemory, RamRomMmioAndOpenBus) {
  PhysicalMemory mem(1 << 20);
  std::vector<uint8_t> rom(4096, 0xAB);
  mem.map_rom(0xF0000, rom);
  RecordingMmio dev;
  mem.map_mmio(0xA0000, 0x1000, &dev);

  mem.write(0x1000, 0xDEADBEEF, 4);
  EXPECT_EQ(mem.read(0x1000, 4), 0xDEADBEEFu);
  EXPECT_EQ(mem.read(0x1002, 2), 0xDEADu);

  mem.write(0xF0010, 0x55, 1);  // ROM ignores writes
  EXPECT_EQ(mem.read(0xF0010, 1), 0xABu);

  EXPECT_EQ(mem.read(0xA0004, 2), 0x5678u);  // MMIO gets the access at its natural size
  EXPECT_EQ(dev.last_addr, 0xA0004u);
  EXPECT_EQ(dev.last_size, 2u);
  mem.write(0xA0008, 0xCAFE, 2);
  EXPECT_EQ(dev.last_value, 0xCAFEu);

  EXPECT_EQ(mem.read(0x200000, 4), 0xFFFFFFFFu);  // nothing mapped: open bus
  mem.write(0x200000, 1, 4);                      // and writes vanish without a crash
}

TEST(PhysicalMemory, RejectsMisalignedRegions) {
  PhysicalMemory mem(1 << 20);
  EXPECT_THROW(mem.map_rom(0xF0001, std::vector<uint8_t>(4096)), std::invalid_argument);
  EXPECT_THROW(mem.map_rom(0xF0000, std::vector<uint8_t>(100)), std::invalid_argument);
  EXPECT_THROW(mem.map_rom(0xFFFFF000u, std::vector<uint8_t>(8192)), std::invalid_argument);
}

TEST(Mmu, AccessesCrossingPagesAndRegions) {
  PhysicalMemory mem(1 << 20);
  Mmu mmu(mem);
  mmu.write<uint32_t>(0x1FFE, 0x11223344u);  // crosses 0x2000
  EXPECT_EQ(mmu.read<uint32_t>(0x1FFE), 0x11223344u);
  EXPECT_EQ(mem.read(0x1FFE, 2), 0x3344u);
  EXPECT_EQ(mem.read(0x2000, 2), 0x1122u);
  // RAM ends at 1 MiB: a dword straddling the end reads open bus for the missing bytes.
  mmu.write<uint16_t>(0xFFFFE, 0xBEEF);
  EXPECT_EQ(mmu.read<uint32_t>(0xFFFFE), 0xFFFFBEEFu);
}

TEST(Mmu, A20GateWrapsAtOneMegabyte) {
  PhysicalMemory mem(2 << 20);
  Mmu mmu(mem);
  mmu.write<uint8_t>(0x000010, 0x11);
  mmu.write<uint8_t>(0x100010, 0x22);
  EXPECT_EQ(mmu.read<uint8_t>(0x100010), 0x22);  // A20 on: the HMA is real memory
  mmu.set_a20(false);
  EXPECT_FALSE(mmu.a20());
  EXPECT_EQ(mmu.read<uint8_t>(0x100010), 0x11);  // A20 off: bit 20 is forced to 0
  mmu.write<uint8_t>(0x100010, 0x33);
  EXPECT_EQ(mem.read(0x10, 1), 0x33u);
  mmu.set_a20(true);
  EXPECT_EQ(mmu.read<uint8_t>(0x100010), 0x22);  // the TLB was flushed on the change
}

class CountingListener : public CodeWriteListener {
 public:
  explicit CountingListener(PhysicalMemory& m) : mem(m) {}
  void code_page_written(uint32_t paddr, unsigned) override {
    ++count;
    mem.set_page_has_code(paddr, false);
  }
  PhysicalMemory& mem;
  int count = 0;
};

TEST(Mmu, WritesToCodePagesReachTheListenerOnce) {
  PhysicalMemory mem(1 << 20);
  Mmu mmu(mem);
  CountingListener listener(mem);
  mmu.set_code_listener(&listener);
  mmu.write<uint8_t>(0x5000, 1);  // TLB now maps the page writable
  mem.set_page_has_code(0x5000, true);
  mmu.protect_code_page(0x5000);
  mmu.write<uint8_t>(0x5004, 2);
  EXPECT_EQ(listener.count, 1);
  mmu.write<uint8_t>(0x5008, 3);  // the listener dropped the code: fast path again
  EXPECT_EQ(listener.count, 1);
  EXPECT_EQ(mem.read(0x5004, 1), 2u);
}

}  // namespace
