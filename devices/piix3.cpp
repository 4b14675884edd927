#include "devices/piix3.h"

#include "devices/snapshot.h"

namespace vx86 {

// ---- function 0: PCI-to-ISA bridge ----

Piix3::Piix3() : PciDevice(0x8086, 0x7000, 0x00, 0x060100, 0x80) {
  set_default16(0x04, 0x0007, 0x0008);   // I/O, memory, bus master always on; special cycles
  set_default16(0x06, 0x0200, 0, 0x7800);
  set_default8(0x0D, 0x00, 0x00);
  set_default8(0x3C, 0x00, 0x00);
  set_default8(0x4C, 0x4D, 0xFF);        // IORT
  set_default16(0x4E, 0x0003, 0x07FF);   // XBCS
  for (unsigned o = 0x60; o <= 0x63; ++o) set_default8(o, 0x80, 0x8F);  // PIRQRC[A-D]
  set_default8(0x69, 0x02, 0xFE);        // TOM
  set_default16(0x6A, 0x0000, 0x00FF);   // MSTAT
  set_default8(0x70, 0x80, 0xEF);        // MBIRQ0
  set_default8(0x76, 0x0C, 0x8F);        // MBDMA0
  set_default8(0x77, 0x0C, 0x8F);        // MBDMA1
  set_default16(0x78, 0x0002, 0xFFFF);   // PCSC
  set_default8(0x80, 0x00, 0x7F);        // APICBASE
  set_default8(0x82, 0x00, 0x0F);        // DLC
  set_default16(0xA0, 0x0008, 0x001F);   // SMICNTL
  set_default16(0xA2, 0x0000, 0x00FF);   // SMIEN
  set_default32(0xA4, 0x00000000, 0x000000FF);  // SEE
  set_default8(0xA8, 0x0F, 0xFF);        // FTMR
  set_default16(0xAA, 0x0000, 0x0000);   // SMIREQ (status bits, not modelled)
  set_default8(0xAC, 0x00, 0xFF);        // CTLTMR
  set_default8(0xAE, 0x00, 0xFF);        // CTHTMR
  cfg_ = defaults_;
}

void Piix3::reset() {
  PciDevice::reset();
  update_irqs();
}

int Piix3::pirq_route(unsigned pirq) const {
  if (pirq > 3) return -1;
  const uint8_t r = cfg8(0x60 + pirq);
  if (r & 0x80) return -1;
  const unsigned irq = r & 0x0F;
  if (irq < 3 || irq == 8 || irq == 13) return -1;  // 0, 1, 2, 8, 13 are reserved routes
  return static_cast<int>(irq);
}

void Piix3::set_pirq(unsigned pirq, bool level) {
  if (pirq > 3 || pirq_[pirq] == level) return;
  pirq_[pirq] = level;
  update_irqs();
}

void Piix3::config_written(unsigned offset, unsigned size) {
  if (offset < 0x64 && offset + size > 0x60) update_irqs();
}

void Piix3::update_irqs() {
  uint16_t want = 0;
  for (unsigned i = 0; i < 4; ++i) {
    const int irq = pirq_route(i);
    if (irq >= 0 && pirq_[i]) want |= static_cast<uint16_t>(1u << irq);
  }
  const uint16_t changed = want ^ driven_;
  driven_ = want;
  for (unsigned irq = 0; irq < 16; ++irq)
    if ((changed >> irq) & 1 && irq_out) irq_out(irq, (want >> irq) & 1);
}

void Piix3::save(SnapshotWriter& w) const {
  w.begin_section("PIX3", 1);
  save_config(w);
  for (bool b : pirq_) w.boolean(b);
  w.end_section();
}

void Piix3::load(SnapshotReader& r) {
  r.begin_section("PIX3", 1);
  load_config(r);
  std::array<bool, 4> p{};
  for (bool& b : p) b = r.boolean();
  r.end_section();
  pirq_ = p;
  apply_loaded_config();
  update_irqs();
}

// ---- function 1: IDE ----

PiixIde::PiixIde() : PciDevice(0x8086, 0x7010, 0x00, 0x010180) {
  set_default16(0x04, 0x0000, 0x0005);          // I/O space, bus master
  set_default16(0x06, 0x0280, 0, 0x3800);
  set_default8(0x0D, 0x00, 0xF0);
  set_default8(0x3C, 0x00, 0x00);               // legacy mode: no PCI interrupt
  define_bar(4, 16, true);                      // BMIBA
  set_default16(0x40, 0x0000, 0xF377);          // IDETIM primary
  set_default16(0x42, 0x0000, 0xF377);          // IDETIM secondary
  set_default8(0x44, 0x00, 0xFF);               // SIDETIM
  channels_[0] = std::make_unique<IdeChannel>(0x1F0, 0x3F6);
  channels_[1] = std::make_unique<IdeChannel>(0x170, 0x376);
}

void PiixIde::attach(PortBus& bus) {
  bus_ports_ = &bus;
  channels_[0]->attach(bus);
  channels_[1]->attach(bus);
  const PciBar b = bar(4);
  if (b.enabled) bus.attach(static_cast<uint16_t>(b.base), 16, this);
}

void PiixIde::set_dma_memory(PhysicalMemory* mem) {
  channels_[0]->set_dma_memory(mem);
  channels_[1]->set_dma_memory(mem);
}

void PiixIde::reset() {
  PciDevice::reset();
  channels_[0]->reset();
  channels_[1]->reset();
}

void PiixIde::enable_like_bios(uint16_t bm_base) {
  config_write(0x20, bm_base, 4);
  config_write(0x40, 0x8000, 2);
  config_write(0x42, 0x8000, 2);
  config_write(0x04, 0x0005, 2);
}

void PiixIde::bar_changed(unsigned index, const PciBar& old_bar, const PciBar& new_bar) {
  if (index == 4 && bus_ports_) {
    if (old_bar.enabled) bus_ports_->attach(static_cast<uint16_t>(old_bar.base), 16, nullptr);
    if (new_bar.enabled) bus_ports_->attach(static_cast<uint16_t>(new_bar.base), 16, this);
  }
  PciDevice::bar_changed(index, old_bar, new_bar);
}

uint32_t PiixIde::io_read(uint16_t port, unsigned size) {
  const PciBar b = bar(4);
  if (!b.enabled || port < b.base || port >= b.base + 16) return size == 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
  const unsigned off = port - b.base;
  return channels_[off >> 3]->bm_read(off & 7, size);
}

void PiixIde::io_write(uint16_t port, uint32_t value, unsigned size) {
  const PciBar b = bar(4);
  if (!b.enabled || port < b.base || port >= b.base + 16) return;
  const unsigned off = port - b.base;
  channels_[off >> 3]->bm_write(off & 7, value, size);
}

void PiixIde::save(SnapshotWriter& w) const {
  w.begin_section("PIDE", 1);
  save_config(w);
  channels_[0]->save(w);
  channels_[1]->save(w);
  w.end_section();
}

void PiixIde::load(SnapshotReader& r) {
  // Everything is validated before anything changes: a bad snapshot leaves the function as it was.
  r.begin_section("PIDE", 1);
  load_config(r);
  auto c0 = channels_[0]->parse(r);
  auto c1 = channels_[1]->parse(r);
  r.end_section();
  channels_[0]->apply(*c0);
  channels_[1]->apply(*c1);
  apply_loaded_config();
}

}  // namespace vx86
