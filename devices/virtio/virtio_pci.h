// A virtio device on PCI (virtio 1.2, 4.1): the transport that a device type (virtio-blk, ...)
// derives from. Transitional: both the modern interface and the legacy one.
//
// Modern: vendor capabilities point into BAR4 (memory, kModernSize): common configuration at
// 0x0000, ISR status at 0x1000, the device's configuration at 0x2000, notifications at 0x3000
// (queue q at 0x3000 + 4 * q). Legacy (0.9.5, what drivers without VIRTIO_F_VERSION_1 use): BAR0
// (I/O) with the registers of 4.1.4.10 and the device configuration at 0x14 (no MSI-X).
// No MSI-X capability: interrupts are INTA, through the PIIX3's PIRQ routing, asserted while the
// ISR status is not zero; reading the ISR clears it.
//
// The derived device supplies its features, its configuration space and what a notification of
// one of its queues does; the transport does feature negotiation, the status byte, reset, queue
// setup, and turns a broken queue into DEVICE_NEEDS_RESET with a configuration interrupt.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "devices/pci_bus.h"
#include "devices/port_bus.h"
#include "devices/virtio/guest_memory.h"
#include "devices/virtio/virtio_defs.h"
#include "devices/virtio/virtqueue.h"
#include "mmu/physical_memory.h"

namespace vx86 {

class SnapshotWriter;
class SnapshotReader;

class VirtioPciDevice : public PciDevice, public IoDevice, public MmioHandler {
 public:
  static constexpr uint16_t kVendor = 0x1AF4;
  static constexpr uint32_t kModernSize = 0x4000;
  static constexpr unsigned kModernBar = 4, kLegacyBar = 0;
  static constexpr uint32_t kCommonOffset = 0x0000, kIsrOffset = 0x1000, kDeviceOffset = 0x2000,
                            kNotifyOffset = 0x3000, kNotifyMultiplier = 4;

  // device_type: the virtio device ID (2 = block); transitional_id: its PCI device ID (0x1000 +
  // ...), with the subsystem ID = device_type as the legacy interface needs.
  VirtioPciDevice(PhysicalMemory& mem, uint16_t device_type, uint16_t transitional_id, uint32_t class_code,
                  unsigned num_queues, uint16_t queue_max, uint32_t config_size);

  void reset() override;  // PCI reset: configuration space and a virtio reset
  // Where the legacy I/O window is claimed when BAR0 moves (the board maps BAR4 itself).
  void attach(PortBus& ports) { ports_ = &ports; }
  // Bytes written into guest RAM (the board drops translated code there).
  std::function<void(uint32_t addr, uint32_t len)> on_dma_write;

  uint32_t mmio_read(uint32_t addr, unsigned size) override;
  void mmio_write(uint32_t addr, uint32_t value, unsigned size) override;
  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, uint32_t value, unsigned size) override;

  // Introspection, for tests and logs.
  uint8_t device_status() const { return status_; }
  uint8_t isr() const { return isr_; }
  uint64_t offered_features() const { return device_features(); }
  uint64_t driver_features() const { return driver_features_; }
  unsigned num_queues() const { return static_cast<unsigned>(queues_.size()); }
  const Virtqueue& queue(unsigned q) const { return queues_.at(q); }
  uint64_t device_errors() const { return device_errors_; }

 protected:
  // The device type's side.
  virtual uint64_t device_features() const = 0;
  virtual uint8_t device_config_byte(uint32_t offset) = 0;  // offset < config size
  virtual void device_config_write(uint32_t offset, uint32_t value, unsigned size) {
    (void)offset, (void)value, (void)size;
  }
  // The driver notified queue q (only while the device may use its queues).
  virtual void queue_notified(unsigned q) = 0;
  // A virtio reset (status 0 or a PCI reset): the device's own state back to its initial values.
  virtual void device_reset() {}

  // For the device type: its queues, RAM, and the completion of chains.
  Virtqueue& vq(unsigned q) { return queues_[q]; }
  GuestMemory& guest() { return dma_; }
  // Takes the next chain of queue q; a broken queue becomes a device error.
  Virtqueue::Pop pop(unsigned q, VirtqChain& out);
  // Returns chains (push), then raises the queue interrupt if the driver wants one.
  void push(unsigned q, uint16_t head, uint32_t len);
  void interrupt_if_wanted(unsigned q);
  // The device cannot go on: DEVICE_NEEDS_RESET, and a configuration interrupt when the driver
  // is running (4.1.4.3, 2.1.2).
  void device_error();
  // A configuration space change the driver should see (config_generation, ISR bit 1).
  void config_changed();
  bool negotiated(unsigned feature) const { return driver_features_ & virtio::bit(feature); }

  // Transport state, for the device type's snapshot section (nested inside it).
  void save_transport(SnapshotWriter& w) const;
  void load_transport(SnapshotReader& r);  // throws before changing anything when malformed

  void bar_changed(unsigned index, const PciBar& old_bar, const PciBar& new_bar) override;

 private:
  void virtio_reset();
  void set_isr(uint8_t bits);
  void update_irq();
  bool queues_usable() const;
  void notify(uint32_t q);
  void write_status(uint8_t v, bool legacy);
  uint8_t read_isr();
  // Field-wise access to the common configuration (narrow and split accesses merge bytes).
  uint64_t common_field(uint32_t off, unsigned width) const;
  void common_write_field(uint32_t off, uint64_t v);
  uint32_t common_read(uint32_t off, unsigned size) const;
  void common_write(uint32_t off, uint32_t value, unsigned size);
  uint32_t config_read_bytes(uint32_t off, unsigned size);
  uint32_t legacy_read(uint32_t off, unsigned size);
  void legacy_write(uint32_t off, uint32_t value, unsigned size);
  void apply_features_to_queues();

  GuestRamDma dma_;
  PortBus* ports_ = nullptr;
  const uint16_t queue_max_;
  const uint32_t config_size_;
  const uint32_t legacy_size_;
  std::vector<Virtqueue> queues_;
  uint8_t status_ = 0;
  uint8_t isr_ = 0;
  uint8_t config_generation_ = 0;
  uint32_t device_feature_select_ = 0, driver_feature_select_ = 0;
  uint64_t driver_features_ = 0;
  uint16_t queue_select_ = 0;
  uint64_t device_errors_ = 0;
};

}  // namespace vx86
