// Intel 82540EM gigabit Ethernet controller (PCI 8086:100E, QEMU's "-device e1000"), the NIC
// Linux's e1000 driver and iPXE know.
//
// PCI: BAR0 is the 128 KiB register window (memory), BAR1 the 64-byte I/O window (IOADDR at 0
// selects a register, IODATA at 4 reads or writes it); interrupt pin INTA.
//
// Transmit: writing TDT (with TCTL.EN) runs the descriptors from TDH up to TDT at once: legacy
// descriptors (with the CSO/CSS checksum), context descriptors (a TSO context and a checksum
// context, kept apart as the hardware does) and data descriptors (IP/TCP/UDP checksums, TCP
// segmentation, VLAN tag insertion). Frames go to the backend.
// Receive: frames from the backend pass the address filter (RCTL's promiscuous and broadcast bits,
// the 16 receive addresses, the 4096-bit multicast table), wait in the receive FIFO (the packet
// buffer) until the ring has room, then are written into the buffers of the descriptors from RDH
// up to RDT, spread over several when larger than RCTL's buffer size, with the FCS appended unless
// RCTL.SECRC. A full FIFO drops the frame (MPC, RXO).
// Interrupts: ICR (cleared on read), ICS, IMS/IMC; INTA is asserted while ICR & IMS is not zero,
// no sooner than ITR * 256 ns after the last assertion (interrupt throttling).
//
// Every descriptor and buffer address the guest gives is checked against guest RAM: a descriptor
// that cannot be read stops the ring there; a buffer that cannot be read drops its frame; a
// receive buffer that cannot be written is reported in the descriptor's errors (RXE).
#pragma once
#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

#include "devices/e1000_eeprom.h"
#include "devices/e1000_phy.h"
#include "devices/net/net_backend.h"
#include "devices/net/tx_offload.h"
#include "devices/pci_bus.h"
#include "emu/clock.h"
#include "mmu/physical_memory.h"

namespace vx86 {

class E1000 : public PciDevice, public IoDevice, public MmioHandler, public NetReceiver {
 public:
  static constexpr uint16_t kVendor = 0x8086, kDevice = 0x100E;
  static constexpr uint32_t kClass = 0x020000;
  static constexpr uint32_t kMmioSize = 0x20000, kIoSize = 0x40;
  static constexpr size_t kRxFifoBytes = 48 * 1024;      // the packet buffer's receive part (PBA)
  static constexpr size_t kMaxTxPacket = 0x10000 + 256;  // a TSO packet: 64 KiB payload + headers

  E1000(Clock& clock, PhysicalMemory& mem, const MacAddress& mac);
  ~E1000() override;

  void reset() override;  // power-on (PCI reset): registers, rings, FIFO, PHY
  void set_backend(NetBackend* b);
  // Where the I/O window is claimed when BAR1 moves (the board maps BAR0 itself).
  void attach(PortBus& ports) { ports_ = &ports; }
  std::function<void(uint32_t addr, uint32_t len)> on_dma_write;  // bytes DMA wrote (code there)

  uint32_t mmio_read(uint32_t addr, unsigned size) override;
  void mmio_write(uint32_t addr, uint32_t value, unsigned size) override;
  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, uint32_t value, unsigned size) override;
  void receive_frame(const uint8_t* frame, size_t len) override;
  // Room in the receive FIFO for a full-size frame (or receive off: frames are dropped anyway).
  bool ready() const override;

  // The register file by offset (what the guest reads, without read side effects), for tests.
  uint32_t reg(uint32_t offset) const { return regs_[(offset & (kMmioSize - 1)) >> 2]; }
  const MacAddress& mac() const { return mac_; }
  E1000Eeprom& eeprom() { return eeprom_; }
  E1000Phy& phy() { return phy_; }
  void set_link(bool up);
  size_t rx_fifo_frames() const { return rx_fifo_.size(); }
  // Guest errors seen (bad descriptors, DMA outside RAM, oversized packets), for tests and -d net.
  uint64_t guest_errors() const { return guest_errors_; }

  void save(SnapshotWriter& w) const;
  void load(SnapshotReader& r);

 protected:
  void bar_changed(unsigned index, const PciBar& old_bar, const PciBar& new_bar) override;

 private:
  uint32_t read_reg(uint32_t off);
  void write_reg(uint32_t off, uint32_t v);
  static bool known(uint32_t off);
  void reset_registers();
  void set_cause(uint32_t bits);
  void update_irq();
  void irq_timer_fired();
  void mdic_write(uint32_t v);

  // Transmit.
  void start_xmit();
  void tx_descriptor(uint64_t addr, const uint8_t (&d)[16]);
  void tx_finish_packet();
  void tx_frame(uint8_t* frame, size_t len);
  // Receive.
  bool accept(const uint8_t* frame, size_t len) const;
  void rx_drain();
  bool rx_write(const std::vector<uint8_t>& frame);
  unsigned rx_free_descriptors() const;
  uint32_t rx_buffer_size() const;
  void count_rx(const uint8_t* frame, size_t len);
  void count_tx(const uint8_t* frame, size_t len);
  void add_stat(uint32_t off, uint32_t n = 1);
  void add_stat64(uint32_t lo, uint64_t n);

  Clock& clock_;
  PhysicalMemory& mem_;
  PortBus* ports_ = nullptr;
  NetBackend* backend_ = nullptr;
  MacAddress mac_;
  E1000Eeprom eeprom_;
  E1000Phy phy_;
  std::vector<uint32_t> regs_;  // kMmioSize / 4 registers
  uint32_t io_addr_ = 0;        // IOADDR
  uint16_t io_base_ = 0;        // BAR1's decoded base (0: not decoded)
  // Interrupt throttling: the earliest time INTA may be asserted again, the pending timer.
  uint64_t next_irq_ns_ = 0;
  Clock::EventId irq_timer_ = 0;
  // The packet being gathered from data descriptors, its options, and the two contexts.
  std::vector<uint8_t> tx_packet_;
  bool tx_bad_ = false;  // a buffer could not be read or the packet grew too large
  bool tx_tse_ = false;  // segmentation asked for by the packet's first data descriptor
  uint8_t tx_popts_ = 0;
  bool tx_vle_ = false;
  uint16_t tx_vlan_ = 0;
  bool tx_legacy_ic_ = false;
  uint8_t tx_legacy_cso_ = 0, tx_legacy_css_ = 0;
  TxOffload ctx_csum_, ctx_tso_;
  bool in_xmit_ = false;  // (a frame looped back to this NIC while transmitting)
  std::deque<std::vector<uint8_t>> rx_fifo_;
  size_t rx_fifo_bytes_ = 0;
  uint64_t guest_errors_ = 0;
};

}  // namespace vx86
