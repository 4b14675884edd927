// An Ethernet switch inside vx86: the NICs of several machines in one process (or several NICs of
// one machine) on one segment, without a host switch. A learning switch: a frame goes to the port
// its destination address was last seen on, else (broadcast, multicast, unknown) to every other
// port.
//
// Each port is a NetBackend owned by one machine. A frame sent through a port is queued on the
// destination ports (bounded, with a lock: the machines may run on different host threads) and
// reaches their NICs at their machines' next network poll.
#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "devices/net/net_backend.h"

namespace vx86 {

class NetSwitch : public std::enable_shared_from_this<NetSwitch> {
 public:
  static constexpr size_t kQueueFrames = 512;  // per port: more waiting frames are dropped

  class Port : public NetBackend {
   public:
    ~Port() override;
    void poll() override;
    std::string describe() const override;
    uint64_t dropped() const { return dropped_; }

   protected:
    void transmit(const uint8_t* frame, size_t len) override;

   private:
    friend class NetSwitch;
    Port(std::shared_ptr<NetSwitch> sw, unsigned index) : sw_(std::move(sw)), index_(index) {}
    std::shared_ptr<NetSwitch> sw_;
    unsigned index_;
    std::deque<std::vector<uint8_t>> inbox_;  // under the switch's lock
    uint64_t dropped_ = 0;
  };

  static std::shared_ptr<NetSwitch> create(std::string name) {
    return std::shared_ptr<NetSwitch>(new NetSwitch(std::move(name)));
  }
  std::unique_ptr<Port> add_port();
  const std::string& name() const { return name_; }

 private:
  explicit NetSwitch(std::string name) : name_(std::move(name)) {}
  void forward(Port* from, const uint8_t* frame, size_t len);
  void remove(Port* p);
  std::mutex mu_;
  std::string name_;
  std::vector<Port*> ports_;
  std::map<uint64_t, unsigned> learned_;  // MAC address -> port index
  unsigned next_index_ = 0;
};

}  // namespace vx86
