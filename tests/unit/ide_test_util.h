// Shared helpers for the PCI/IDE/ATAPI unit tests: a small i440FX/PIIX3 board driven through ports.
#pragma once
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "devices/i440fx.h"
#include "devices/ide.h"
#include "devices/pci_bus.h"
#include "devices/piix3.h"
#include "devices/port_bus.h"
#include "devices/snapshot.h"
#include "mmu/physical_memory.h"

namespace vx86test {

// A temporary file removed when the object dies.
struct TempFile {
  std::string path;
  explicit TempFile(uint64_t size, uint32_t sector = 512) {
    char name[] = "/tmp/vx86-ide-XXXXXX";
    int fd = mkstemp(name);
    if (fd < 0) throw std::runtime_error("mkstemp");
    path = name;
    if (ftruncate(fd, static_cast<off_t>(size)) != 0) throw std::runtime_error("ftruncate");
    // A pattern in the first 256 sectors: byte j of sector i is (i * 7 + j) & 0xFF, the sector
    // number in its first 4 bytes.
    const uint64_t n = std::min<uint64_t>(size / sector, 256);
    std::vector<uint8_t> buf(sector);
    for (uint64_t i = 0; i < n; ++i) {
      fill(buf, i);
      if (pwrite(fd, buf.data(), sector, static_cast<off_t>(i * sector)) != static_cast<ssize_t>(sector))
        throw std::runtime_error("pwrite");
    }
    close(fd);
  }
  ~TempFile() { unlink(path.c_str()); }
  static void fill(std::vector<uint8_t>& buf, uint64_t i) {
    for (size_t j = 0; j < buf.size(); ++j) buf[j] = static_cast<uint8_t>(i * 7 + j);
    for (int k = 0; k < 4; ++k) buf[k] = static_cast<uint8_t>(i >> (8 * k));
  }
  static std::vector<uint8_t> expect(uint64_t first, uint64_t count, uint32_t sector = 512) {
    std::vector<uint8_t> out, buf(sector);
    for (uint64_t i = first; i < first + count; ++i) {
      fill(buf, i);
      out.insert(out.end(), buf.begin(), buf.end());
    }
    return out;
  }
  std::vector<uint8_t> read(uint64_t off, size_t n) const {
    std::vector<uint8_t> v(n);
    FILE* f = fopen(path.c_str(), "rb");
    fseek(f, static_cast<long>(off), SEEK_SET);
    size_t got = fread(v.data(), 1, n, f);
    fclose(f);
    v.resize(got);
    return v;
  }
};

struct Board {
  static constexpr uint16_t kBm = 0xC000;
  vx86::PortBus ports;
  vx86::PhysicalMemory mem{4u << 20};
  vx86::PciBus pci;
  vx86::I440fx host;
  vx86::Piix3 isa;
  vx86::PiixIde ide;
  bool irq[16] = {};
  int irq_edges[16] = {};
  Board() {
    pci.attach(ports);
    pci.add(&host, 0, 0);
    pci.add(&isa, 1, 0);
    pci.add(&ide, 1, 1);
    pci.on_pirq = [this](unsigned p, bool l) { isa.set_pirq(p, l); };
    isa.irq_out = [this](unsigned i, bool l) { set_irq(i, l); };
    ide.attach(ports);
    ide.set_dma_memory(&mem);
    ide.channel(0).irq = [this](bool l) { set_irq(14, l); };
    ide.channel(1).irq = [this](bool l) { set_irq(15, l); };
  }
  void set_irq(unsigned i, bool l) {
    if (l && !irq[i]) ++irq_edges[i];
    irq[i] = l;
  }
  // Configuration space through mechanism #1, as a BIOS does.
  uint32_t cfg_read(unsigned dev, unsigned fn, unsigned off, unsigned size) {
    ports.write(0xCF8, 0x80000000u | dev << 11 | fn << 8 | (off & 0xFC), 4);
    return ports.read(static_cast<uint16_t>(0xCFC + (off & 3)), size);
  }
  void cfg_write(unsigned dev, unsigned fn, unsigned off, uint32_t v, unsigned size) {
    ports.write(0xCF8, 0x80000000u | dev << 11 | fn << 8 | (off & 0xFC), 4);
    ports.write(static_cast<uint16_t>(0xCFC + (off & 3)), v, size);
  }
  // What SeaBIOS's piix_ide_setup + BAR assignment leave behind.
  void bios_setup_ide() {
    cfg_write(1, 1, 0x20, kBm, 4);
    cfg_write(1, 1, 0x40, 0x8000, 2);
    cfg_write(1, 1, 0x42, 0x8000, 2);
    cfg_write(1, 1, 0x04, 0x0005, 2);
  }
  uint8_t inb(uint16_t p) { return static_cast<uint8_t>(ports.read(p, 1)); }
  uint16_t inw(uint16_t p) { return static_cast<uint16_t>(ports.read(p, 2)); }
  uint32_t inl(uint16_t p) { return ports.read(p, 4); }
  void outb(uint16_t p, uint8_t v) { ports.write(p, v, 1); }
  void outw(uint16_t p, uint16_t v) { ports.write(p, v, 2); }
  void outl(uint16_t p, uint32_t v) { ports.write(p, v, 4); }
  // Reads n bytes from a data port with 16-bit accesses.
  std::vector<uint8_t> pio_in(uint16_t base, size_t n) {
    std::vector<uint8_t> v;
    for (size_t i = 0; i < n; i += 2) {
      uint16_t w = inw(base);
      v.push_back(static_cast<uint8_t>(w));
      v.push_back(static_cast<uint8_t>(w >> 8));
    }
    v.resize(n);
    return v;
  }
  void pio_out(uint16_t base, const std::vector<uint8_t>& d) {
    for (size_t i = 0; i < d.size(); i += 2) outw(base, static_cast<uint16_t>(d[i] | d[i + 1] << 8));
  }
  void put_prd(uint32_t at, uint32_t base, uint32_t len, bool eot) {
    mem.write(at, base, 4);
    mem.write(at + 4, (len & 0xFFFF) | (eot ? 0x80000000u : 0), 4);
  }
  std::vector<uint8_t> ram(uint32_t addr, size_t n) { return {mem.ram() + addr, mem.ram() + addr + n}; }
};

}  // namespace vx86test
