// The host side of a guest network card: where the frames the guest sends go and where the frames
// for the guest come from (user-mode networking on libslirp, a VDE switch, the in-process switch).
//
// Threading: send() and poll() belong to one machine and are called with that machine's device
// lock held (one host thread at a time): the NIC calls send() from the CPU that wrote its transmit
// tail, and the board calls poll() (a periodic clock event, and soon after on_frames_ready), which
// hands received frames to the NIC through the receiver. Backends with host sockets do their host
// side on a thread of their own (host_io_backend.h).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace vx86 {

class PcapWriter;

using MacAddress = std::array<uint8_t, 6>;
// "52:54:00:12:34:56" (hex pairs separated by ':' or '-'), or nullopt.
std::optional<MacAddress> parse_mac(const std::string& text);
std::string format_mac(const MacAddress& mac);

// The NIC side: takes a whole Ethernet frame (no FCS).
class NetReceiver {
 public:
  virtual ~NetReceiver() = default;
  virtual void receive_frame(const uint8_t* frame, size_t len) = 0;
  // Whether a frame handed over now would be kept (a backend that can hold frames waits otherwise).
  virtual bool ready() const { return true; }
};

class NetBackend {
 public:
  // Largest frame a backend passes on either way (a jumbo frame and then some; the NIC limits it
  // further by its receive control).
  static constexpr size_t kMaxFrame = 16384;

  virtual ~NetBackend();
  // A frame from the guest (Ethernet header onwards, no FCS; len <= kMaxFrame).
  void send(const uint8_t* frame, size_t len);
  // Moves what arrived from the host (or other guests) to the receiver; never blocks.
  virtual void poll() = 0;
  // One line for -d net and the monitor ("user: 10.0.2.0/24, 1 forward").
  virtual std::string describe() const = 0;

  void set_receiver(NetReceiver* r) { rx_ = r; }
  // Writes every frame in both directions to a pcap file (-netdev ...,dump=FILE).
  void set_dump(std::shared_ptr<PcapWriter> dump) { dump_ = std::move(dump); }
  // Called, from any host thread, when frames for the guest arrive while none were waiting: the
  // board then polls soon instead of at its next periodic poll. Set before the machine runs.
  std::function<void()> on_frames_ready;

 protected:
  // A frame for the guest (dropped while no NIC is attached).
  void deliver(const uint8_t* frame, size_t len);
  bool receiver_ready() const { return rx_ && rx_->ready(); }
  void frames_ready() {
    if (on_frames_ready) on_frames_ready();
  }
  virtual void transmit(const uint8_t* frame, size_t len) = 0;

 private:
  NetReceiver* rx_ = nullptr;
  std::shared_ptr<PcapWriter> dump_;
};

}  // namespace vx86
