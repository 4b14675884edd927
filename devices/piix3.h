// Intel 82371SB PIIX3: function 0 is the PCI-to-ISA bridge (00:01.0, 8086:7000) with the PIRQ
// route registers 0x60-0x63; function 1 is the IDE controller (00:01.1, 8086:7010) in legacy mode
// (primary 0x1F0-0x1F7/0x3F6 on IRQ14, secondary 0x170-0x177/0x376 on IRQ15) with the bus-master
// registers in BAR4. The ELCR (0x4D0/0x4D1) lives in Pic8259.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <memory>

#include "devices/ide.h"
#include "devices/pci_bus.h"

namespace vx86 {

class Piix3 : public PciDevice {
 public:
  Piix3();
  void reset() override;

  // PciBus::on_pirq feeds the four PIRQ lines here.
  void set_pirq(unsigned pirq, bool level);
  // ISA IRQ outputs (connect to Pic8259::set_irq). A PIRQ routes to IRQ 3-7, 9-12, 14 or 15 when
  // its register's bit 7 is clear; several PIRQs on one IRQ are wired-OR.
  std::function<void(unsigned isa_irq, bool level)> irq_out;
  // The ISA IRQ a PIRQ currently drives, or -1.
  int pirq_route(unsigned pirq) const;

  void save(SnapshotWriter& w) const;
  void load(SnapshotReader& r);

 protected:
  void config_written(unsigned offset, unsigned size) override;

 private:
  void update_irqs();
  std::array<bool, 4> pirq_{};
  uint16_t driven_ = 0;  // ISA IRQs this bridge currently drives high
};

class PiixIde : public PciDevice, public IoDevice {
 public:
  PiixIde();
  // Claims the legacy ports of both channels; BAR4 is claimed wherever the guest puts it.
  void attach(PortBus& bus);
  void reset() override;  // configuration space and both channels
  IdeChannel& channel(unsigned i) { return *channels_[i & 1]; }
  void set_dma_memory(PhysicalMemory* mem);
  // The board may call this for direct kernel boot (no BIOS): IDETIM decode enable on both channels
  // and I/O + bus master in the command register, as SeaBIOS leaves them.
  void enable_like_bios(uint16_t bm_base);

  uint32_t io_read(uint16_t port, unsigned size) override;   // BAR4: bus-master registers
  void io_write(uint16_t port, uint32_t value, unsigned size) override;

  void save(SnapshotWriter& w) const;
  void load(SnapshotReader& r);

 protected:
  void bar_changed(unsigned index, const PciBar& old_bar, const PciBar& new_bar) override;

 private:
  std::array<std::unique_ptr<IdeChannel>, 2> channels_;
  PortBus* bus_ports_ = nullptr;
};

}  // namespace vx86
