// The I/O APIC (an 82093AA, as on P6 boards: version 11h, 24 redirection entries) at FEC00000h:
// IOREGSEL (+00h) and IOWIN (+10h) reach the ID, version, arbitration ID and the redirection table.
// Pin n takes ISA IRQ n (and the PCI interrupts the PIIX3 routes to ISA IRQs, level-triggered),
// the same numbering SeaBIOS's MP table gives without an IRQ0 override. Each entry sends its vector
// to the local APIC (fixed, lowest priority, NMI) when its destination names that CPU: edge
// entries on a rising input, level entries while the input is asserted and no earlier one is
// in service (remote IRR, cleared by the local APIC's EOI of that vector).
#pragma once
#include <cstdint>

#include "devices/apic_bus.h"
#include "devices/local_apic.h"
#include "mmu/physical_memory.h"

namespace vx86 {

class SnapshotWriter;
class SnapshotReader;

class IoApic : public MmioHandler {
 public:
  static constexpr uint32_t kBase = 0xFEC00000u;
  static constexpr unsigned kPins = 24;
  static constexpr uint32_t kVersion = 0x00170011u;  // max redirection entry 23, version 11h

  IoApic(PhysicalMemory& mem, LocalApic& lapic, Cpu& cpu);
  ~IoApic() override;
  IoApic(const IoApic&) = delete;
  IoApic& operator=(const IoApic&) = delete;

  void reset();  // every entry masked, edge, vector 0; ID 0
  // Several CPUs: messages go out on the APIC bus to the APICs an entry names (else only to the
  // local APIC given at construction).
  void set_bus(ApicBus* bus) { bus_ = bus; }
  // An interrupt input (true = asserted, whatever the entry's polarity: the wire is modelled
  // logically, as devices raise their lines).
  void set_irq(unsigned pin, bool level);
  // The local APIC's EOI of a level-triggered vector: clears remote IRR, delivers again if the
  // input is still asserted.
  void eoi(uint8_t vector);

  uint32_t read_reg(uint8_t index) const;
  void write_reg(uint8_t index, uint32_t value);
  uint32_t mmio_read(uint32_t addr, unsigned size) override;
  void mmio_write(uint32_t addr, uint32_t value, unsigned size) override;

  void save(SnapshotWriter& w) const;
  void load(SnapshotReader& r);

 private:
  enum : uint64_t {
    MASKED = 1ull << 16,
    LEVEL = 1ull << 15,
    REMOTE_IRR = 1ull << 14,
    LOGICAL = 1ull << 11,
    WRITABLE = 0xFF000000'0001AFFFull,  // all but delivery status and remote IRR
  };
  void service(unsigned pin);  // delivers if the entry and the input say so
  bool to_this_cpu(uint64_t entry) const;

  PhysicalMemory& mem_;
  LocalApic& lapic_;
  Cpu& cpu_;
  ApicBus* bus_ = nullptr;
  uint32_t id_ = 0;
  uint8_t select_ = 0;
  uint64_t redir_[kPins] = {};
  uint32_t input_ = 0;  // asserted inputs, one bit per pin
};

}  // namespace vx86
