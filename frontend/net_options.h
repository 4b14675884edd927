// The network options, in QEMU's spelling:
//   -netdev user,id=ID[,net=..][,hostfwd=..]...[,dump=FILE]   user-mode networking (libslirp)
//   -netdev vde,id=ID,sock=PATH[,port=N][,dump=FILE]            a port on a VDE switch
//   -netdev hubport,id=ID,hubid=N[,dump=FILE]                   a port on vx86's in-process switch N
//   -device e1000,netdev=ID[,mac=MAC]                           an Intel 82540EM on that backend
//   -device virtio-net-pci,netdev=ID[,mac=MAC]                  a virtio-net card on that backend
//   -nic TYPE[,model=e1000|virtio-net-pci|virtio][,mac=MAC][,backend options]  both at once
//   -net none / -nic none                                       no network card
//   -object filter-dump,id=F,netdev=ID,file=FILE                 QEMU's spelling of dump=
// Without any of them the machine has one e1000 on user networking, as QEMU's default.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "devices/net/net_backend.h"
#include "devices/net/slirp_backend.h"

namespace vx86 {

struct NetdevSpec {
  std::string type;  // user, vde, hubport
  std::string id;
  SlirpOptions user;
  std::string vde_sock;
  int vde_port = 0;
  std::string hubid;
  std::string dump;  // pcap file ("" = none)
  bool used = false;
};

// virtio-net-pci, or QEMU's other names for it (virtio-net, and -nic's model=virtio).
inline bool is_virtio_net_model(const std::string& m) {
  return m == "virtio-net-pci" || m == "virtio-net" || m == "virtio";
}

struct NicSpec {
  std::string model = "e1000";
  std::string netdev;
  std::optional<MacAddress> mac;
};

struct NetOptions {
  std::vector<NetdevSpec> netdevs;
  std::vector<NicSpec> nics;
  bool none = false;   // -net none / -nic none
  bool given = false;  // any network option at all
};

// Each returns an error message (one line) or nullopt.
std::optional<std::string> parse_netdev(const std::string& v, NetOptions& o);
std::optional<std::string> parse_nic(const std::string& v, NetOptions& o);
std::optional<std::string> parse_device(const std::string& v, NetOptions& o);
std::optional<std::string> parse_net(const std::string& v, NetOptions& o);
std::optional<std::string> parse_object(const std::string& v, NetOptions& o);
// After all options: the default NIC, every NIC's netdev exists and is used once, MACs assigned
// (52:54:00:12:34:56 upwards, as QEMU), no MAC twice.
std::optional<std::string> finish_net_options(NetOptions& o);

// The backends for a machine, made from the options; owns them (and the in-process switches).
class NetworkSetup {
 public:
  // Throws std::runtime_error (a port in use, no VDE switch at the socket, an unwritable dump).
  explicit NetworkSetup(const NetOptions& o);
  ~NetworkSetup();
  struct Card {
    NetBackend* backend;
    MacAddress mac;
    bool virtio = false;  // virtio-net (else e1000)
  };
  const std::vector<Card>& cards() const { return cards_; }

 private:
  std::vector<std::unique_ptr<NetBackend>> backends_;
  std::vector<Card> cards_;
};

}  // namespace vx86
