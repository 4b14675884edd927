// A port on a VDE switch (Debian's vde_switch, through libvdeplug): "-netdev vde,sock=PATH", so
// guests in several vx86 (or QEMU) processes share one Ethernet segment.
#pragma once
#include <string>

#include "devices/net/host_io_backend.h"

struct vdeconn;

namespace vx86 {

class VdeBackend : public HostIoBackend {
 public:
  // Connects to the switch's control socket (`sock`: its directory or a vde:// URL; `port` 0: any).
  // Throws std::runtime_error naming the socket when the switch is not there.
  VdeBackend(const std::string& sock, int port);
  ~VdeBackend() override;
  std::string describe() const override { return "vde: " + sock_; }

 protected:
  void io_transmit(const uint8_t* frame, size_t len) override;
  void io_fill(std::vector<pollfd>& fds, int& timeout_ms) override;
  void io_dispatch(const std::vector<pollfd>& fds) override;

 private:
  std::string sock_;
  vdeconn* conn_ = nullptr;
};

}  // namespace vx86
