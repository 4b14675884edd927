// virtio-net (virtio 1.2, 5.1) on PCI: a network card on the same backends as the e1000 (user
// networking, VDE, the in-process switch).
//
// Two queues: receiveq (0) and transmitq (1); no control queue (the device delivers every frame,
// as a card in promiscuous mode would, and the guest's stack filters). Features: MAC, STATUS
// (always LINK_UP unless set_link(false)), MRG_RXBUF (a frame spread over several receive chains),
// CSUM and HOST_TSO4 (the guest hands over partial checksums and TCP packets up to 64 KiB, which
// devices/net/tx_offload.* finishes and cuts into frames), GUEST_CSUM (received IPv4 TCP/UDP
// frames whose checksum the host verified are marked DATA_VALID, sparing the guest the sum).
//
// Every chain is checked by Virtqueue; on top: a transmit chain shorter than the header, or a
// frame larger than kMaxTxPacket, is dropped and counted (the chain is returned); a received
// frame that does not fit the buffers the driver gave is dropped and counted. Received frames
// wait in a small FIFO (like the e1000's packet buffer) until the driver adds receive buffers;
// ready() holds the backend's frames back while it is full.
//
// Threading: like the e1000 — receive_frame() runs from NetBackend::poll(), with the machine's
// device lock held; backends on an I/O thread only queue frames and wake the board.
#pragma once
#include <cstdint>
#include <deque>
#include <vector>

#include "devices/net/net_backend.h"
#include "devices/virtio/virtio_pci.h"

namespace vx86 {

class VirtioNet : public VirtioPciDevice, public NetReceiver {
 public:
  static constexpr uint16_t kDeviceType = 1, kPciDevice = 0x1000;  // transitional network device
  static constexpr uint32_t kClass = 0x020000;                     // Ethernet controller
  static constexpr uint16_t kQueueSize = 256;
  static constexpr uint32_t kConfigSize = 12;  // mac, status, max_virtqueue_pairs, mtu
  static constexpr unsigned kRxQueue = 0, kTxQueue = 1;
  static constexpr size_t kMaxTxPacket = 0x10000 + 256;  // a TSO packet: 64 KiB + headers
  static constexpr size_t kRxFifoBytes = 256 * 1024;     // frames waiting for receive buffers
  // Feature bits (5.1.3).
  enum : unsigned {
    F_CSUM = 0,
    F_GUEST_CSUM = 1,
    F_MTU = 3,
    F_MAC = 5,
    F_GUEST_TSO4 = 7,
    F_HOST_TSO4 = 11,
    F_MRG_RXBUF = 15,
    F_STATUS = 16,
    F_CTRL_VQ = 17,
  };
  // virtio_net_hdr (5.1.6).
  enum : uint8_t { HDR_F_NEEDS_CSUM = 1, HDR_F_DATA_VALID = 2 };
  enum : uint8_t { GSO_NONE = 0, GSO_TCPV4 = 1, GSO_UDP = 3, GSO_TCPV6 = 4, GSO_ECN = 0x80 };
  enum : uint16_t { S_LINK_UP = 1 };

  VirtioNet(PhysicalMemory& mem, const MacAddress& mac);
  ~VirtioNet() override;

  void set_backend(NetBackend* b);
  const MacAddress& mac() const { return mac_; }
  void set_link(bool up);

  void receive_frame(const uint8_t* frame, size_t len) override;
  bool ready() const override;

  // Counters, for tests and -d net.
  uint64_t tx_frames() const { return tx_frames_; }
  uint64_t rx_frames() const { return rx_frames_; }
  uint64_t tx_dropped() const { return tx_dropped_; }  // bad chains, oversize packets
  uint64_t rx_dropped() const { return rx_dropped_; }  // no room: FIFO full or buffers too small
  size_t rx_fifo_frames() const { return rx_fifo_.size(); }
  // The header's size as negotiated (12 with VERSION_1 or MRG_RXBUF, else 10).
  uint32_t header_size() const;

  void save(SnapshotWriter& w) const;
  void load(SnapshotReader& r);

 protected:
  uint64_t device_features() const override;
  uint8_t device_config_byte(uint32_t offset) override;
  void queue_notified(unsigned q) override;
  void device_reset() override;

 private:
  void transmit();
  void transmit_packet(uint8_t* pkt, size_t len, const uint8_t* hdr);
  bool segment_tcp4(uint8_t* pkt, size_t len, uint16_t csum_start, uint16_t mss);
  void send_frame(const uint8_t* frame, size_t len);
  void rx_drain();
  // Writes one frame into the receive queue; false when the buffers are not there yet.
  enum class Rx { Done, Wait, Dropped };
  Rx rx_write(const std::vector<uint8_t>& frame);
  bool rx_usable() const;

  NetBackend* backend_ = nullptr;
  MacAddress mac_;
  bool link_up_ = true;
  std::vector<uint8_t> tx_buf_;
  std::deque<std::vector<uint8_t>> rx_fifo_;
  size_t rx_fifo_bytes_ = 0;
  std::vector<VirtqChain> rx_chains_;  // (reused between frames)
  bool in_xmit_ = false;
  uint64_t tx_frames_ = 0, rx_frames_ = 0, tx_dropped_ = 0, rx_dropped_ = 0;
};

}  // namespace vx86
