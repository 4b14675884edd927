// User-mode networking (QEMU's "-netdev user") on libslirp: the guest sees a router at 10.0.2.2
// with DHCP (addresses from 10.0.2.15) and a DNS forwarder at 10.0.2.3; its TCP and UDP go out
// through ordinary host sockets, and host ports can be forwarded to guest ports.
//
// Forwarded ports listen on 127.0.0.1 unless the rule names another address (QEMU listens on all
// addresses by default; a guest's server should not be reachable from the network by surprise).
#pragma once
#include <netinet/in.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "devices/net/host_io_backend.h"

struct Slirp;

namespace vx86 {

struct SlirpOptions {
  struct HostForward {
    bool udp = false;
    in_addr host_addr{};  // where the host listens
    uint16_t host_port = 0;
    in_addr guest_addr{};  // 0: the first DHCP address
    uint16_t guest_port = 0;
    std::string text;  // as the user wrote it, for messages
  };
  in_addr net{}, mask{}, host{}, dhcp_start{}, dns{};
  bool restrict_guest = false;  // restrict=on: the guest reaches only the host's forwarded ports
  bool ipv6 = true;
  std::string hostname;
  std::vector<HostForward> forwards;
};

// Parses the suboptions of "-netdev user" (without "user" and "id"): net=A.B.C.D[/N],
// host=, dhcpstart=, dns=, restrict=on|off, ipv6=on|off, hostname=, hostfwd=... (repeatable).
// Returns an error message, or "" with `out` filled (defaults as QEMU's).
std::string parse_slirp_option(const std::string& key, const std::string& value, SlirpOptions& out);
// Fills the addresses not given from `net` (host .2, DNS .3, DHCP from .15) and checks that they
// lie inside it. Returns an error message or "".
std::string finish_slirp_options(SlirpOptions& o);
// "tcp:127.0.0.1:8080-:80" (protocol, host address and guest address optional).
std::string parse_hostfwd(const std::string& text, SlirpOptions::HostForward& out);

class SlirpBackend : public HostIoBackend {
 public:
  // Throws std::runtime_error when a forwarded port cannot be bound.
  explicit SlirpBackend(const SlirpOptions& o);
  ~SlirpBackend() override;
  std::string describe() const override;

 protected:
  void io_transmit(const uint8_t* frame, size_t len) override;
  void io_fill(std::vector<pollfd>& fds, int& timeout_ms) override;
  void io_dispatch(const std::vector<pollfd>& fds) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  SlirpOptions opts_;
};

}  // namespace vx86
