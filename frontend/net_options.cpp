#include "frontend/net_options.h"

#include <map>
#include <stdexcept>

#include "devices/net/net_switch.h"
#include "devices/net/pcap_writer.h"
#include "devices/net/vde_backend.h"

namespace vx86 {

namespace {

std::vector<std::pair<std::string, std::string>> split_kv(const std::string& v) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t start = 0;
  for (;;) {
    const size_t comma = v.find(',', start);
    const std::string item = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const size_t eq = item.find('=');
    if (eq == std::string::npos)
      out.emplace_back("", item);
    else
      out.emplace_back(item.substr(0, eq), item.substr(eq + 1));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

bool valid_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') return false;
  return true;
}

// The backend options of -netdev TYPE,... and -nic TYPE,... (keys other than type/id/model/mac).
std::optional<std::string> backend_option(NetdevSpec& d, const std::string& key, const std::string& val,
                                          const char* opt) {
  if (key == "dump") {
    if (val.empty()) return std::string(opt) + " dump= needs a file name";
    d.dump = val;
    return std::nullopt;
  }
  if (d.type == "user") {
    std::string e = parse_slirp_option(key, val, d.user);
    if (!e.empty()) return std::string(opt) + " user: " + e;
    return std::nullopt;
  }
  if (d.type == "vde") {
    if (key == "sock") {
      d.vde_sock = val;
      return std::nullopt;
    }
    if (key == "port") {
      if (val.empty() || val.size() > 4 || val.find_first_not_of("0123456789") != std::string::npos)
        return std::string(opt) + " vde: bad port '" + val + "'";
      d.vde_port = std::stoi(val);
      return std::nullopt;
    }
    return std::string(opt) + " vde: unknown option '" + key + "' (sock, port, dump)";
  }
  if (d.type == "hubport") {
    if (key == "hubid") {
      if (val.empty() || val.size() > 9 || val.find_first_not_of("0123456789") != std::string::npos)
        return std::string(opt) + " hubport: bad hubid '" + val + "'";
      d.hubid = val;
      return std::nullopt;
    }
    return std::string(opt) + " hubport: unknown option '" + key + "' (hubid, dump)";
  }
  return std::nullopt;
}

std::optional<std::string> check_type(const std::string& type, const char* opt) {
  if (type == "user" || type == "vde" || type == "hubport") return std::nullopt;
  if (type.empty()) return std::string(opt) + " needs a type (user, vde or hubport)";
  return std::string(opt) + ": unsupported network backend '" + type + "' (user, vde or hubport)";
}

std::optional<std::string> check_model(const std::string& m, const char* opt) {
  if (m == "e1000" || m == "e1000-82540em" || is_virtio_net_model(m)) return std::nullopt;
  return std::string(opt) + ": unsupported NIC model '" + m + "' (vx86 has e1000 and virtio-net-pci)";
}

std::optional<std::string> parse_mac_into(const std::string& v, NicSpec& n) {
  n.mac = parse_mac(v);
  if (!n.mac) return "bad MAC address '" + v + "' (expected six hex pairs, e.g. 52:54:00:12:34:56)";
  if ((*n.mac)[0] & 1) return "MAC address '" + v + "' is a multicast address";
  return std::nullopt;
}

}  // namespace

std::optional<std::string> parse_netdev(const std::string& v, NetOptions& o) {
  o.given = true;
  auto kv = split_kv(v);
  NetdevSpec d;
  d.type = kv[0].first.empty() ? kv[0].second : "";
  if (auto e = check_type(d.type, "-netdev")) return e;
  for (size_t i = 1; i < kv.size(); ++i) {
    const auto& [key, val] = kv[i];
    if (key == "id") {
      if (!valid_id(val)) return "-netdev: bad id '" + val + "'";
      d.id = val;
    } else if (key.empty()) {
      return "-netdev: option '" + val + "' needs a value";
    } else if (auto e = backend_option(d, key, val, "-netdev")) {
      return e;
    }
  }
  if (d.id.empty()) return std::string("-netdev needs id=ID");
  for (const auto& x : o.netdevs)
    if (x.id == d.id) return "-netdev id '" + d.id + "' is given twice";
  o.netdevs.push_back(std::move(d));
  return std::nullopt;
}

std::optional<std::string> parse_nic(const std::string& v, NetOptions& o) {
  o.given = true;
  auto kv = split_kv(v);
  const std::string type = kv[0].first.empty() ? kv[0].second : "";
  if (type == "none") {
    if (kv.size() > 1) return std::string("-nic none takes no options");
    o.none = true;
    return std::nullopt;
  }
  if (auto e = check_type(type, "-nic")) return e;
  NetdevSpec d;
  d.type = type;
  NicSpec n;
  for (size_t i = 1; i < kv.size(); ++i) {
    const auto& [key, val] = kv[i];
    if (key == "model") {
      if (auto e = check_model(val, "-nic")) return e;
      n.model = val;
    } else if (key == "mac") {
      if (auto e = parse_mac_into(val, n)) return "-nic: " + *e;
    } else if (key == "id") {
      if (!valid_id(val)) return "-nic: bad id '" + val + "'";
      d.id = val;
    } else if (key.empty()) {
      return "-nic: option '" + val + "' needs a value";
    } else if (auto e = backend_option(d, key, val, "-nic")) {
      return e;
    }
  }
  if (d.id.empty()) d.id = "__nic" + std::to_string(o.nics.size());
  for (const auto& x : o.netdevs)
    if (x.id == d.id) return "-nic id '" + d.id + "' is given twice";
  n.netdev = d.id;
  o.netdevs.push_back(std::move(d));
  o.nics.push_back(std::move(n));
  return std::nullopt;
}

std::optional<std::string> parse_device(const std::string& v, NetOptions& o) {
  auto kv = split_kv(v);
  const std::string model = kv[0].first.empty() ? kv[0].second : "";
  if (model != "e1000" && model != "e1000-82540em" && model != "virtio-net-pci" && model != "virtio-net")
    return "-device: unsupported device '" + model + "' (vx86 has e1000 and virtio-net-pci)";
  o.given = true;
  const std::string what = "-device " + model;
  NicSpec n;
  n.model = model;
  for (size_t i = 1; i < kv.size(); ++i) {
    const auto& [key, val] = kv[i];
    if (key == "netdev")
      n.netdev = val;
    else if (key == "mac") {
      if (auto e = parse_mac_into(val, n)) return what + ": " + *e;
    } else if (key == "id" || key == "bus" || key == "addr") {
      // accepted for QEMU command lines; the card goes to the next free slot from 00:03.0
    } else {
      return what + ": unknown option '" + (key.empty() ? val : key) + "' (netdev, mac)";
    }
  }
  if (n.netdev.empty()) return what + " needs netdev=ID";
  o.nics.push_back(std::move(n));
  return std::nullopt;
}

std::optional<std::string> parse_net(const std::string& v, NetOptions& o) {
  if (v == "none") {
    o.given = true;
    o.none = true;
    return std::nullopt;
  }
  return "-net " + v + ": vx86 takes -net none only (use -nic or -netdev with -device)";
}

std::optional<std::string> parse_object(const std::string& v, NetOptions& o) {
  auto kv = split_kv(v);
  const std::string type = kv[0].first.empty() ? kv[0].second : "";
  if (type != "filter-dump") return "-object: unsupported object '" + type + "' (vx86 has filter-dump)";
  std::string netdev, file;
  for (size_t i = 1; i < kv.size(); ++i) {
    const auto& [key, val] = kv[i];
    if (key == "netdev")
      netdev = val;
    else if (key == "file")
      file = val;
    else if (key != "id" && key != "maxlen")
      return "-object filter-dump: unknown option '" + key + "'";
  }
  if (netdev.empty() || file.empty()) return std::string("-object filter-dump needs netdev=ID and file=FILE");
  for (auto& d : o.netdevs)
    if (d.id == netdev) {
      d.dump = file;
      return std::nullopt;
    }
  return "-object filter-dump: no -netdev with id '" + netdev + "' (give -netdev first)";
}

std::optional<std::string> finish_net_options(NetOptions& o) {
  if (o.none) {
    if (!o.nics.empty() || !o.netdevs.empty())
      return std::string("-net none / -nic none with other network options");
    return std::nullopt;
  }
  if (!o.given) {  // QEMU's default: one e1000 on user networking
    NetdevSpec d;
    d.type = "user";
    d.id = "__default";
    o.netdevs.push_back(d);
    NicSpec n;
    n.netdev = d.id;
    o.nics.push_back(n);
  }
  for (auto& d : o.netdevs) {
    if (d.type == "user") {
      std::string e = finish_slirp_options(d.user);
      if (!e.empty()) return "-netdev " + d.id + ": " + e;
    }
    if (d.type == "vde" && d.vde_sock.empty()) return "-netdev " + d.id + ": vde needs sock=PATH";
    if (d.type == "hubport" && d.hubid.empty()) return "-netdev " + d.id + ": hubport needs hubid=N";
    d.used = false;
  }
  if (o.nics.size() > 8) return std::string("too many network cards (8 at most)");
  unsigned next_mac = 0x56;
  for (auto& n : o.nics) {
    NetdevSpec* d = nullptr;
    for (auto& x : o.netdevs)
      if (x.id == n.netdev) d = &x;
    if (!d) return "-device " + n.model + ": no -netdev with id '" + n.netdev + "'";
    if (d->used) return "-netdev '" + n.netdev + "' is used by two network cards";
    d->used = true;
    if (!n.mac) n.mac = MacAddress{0x52, 0x54, 0x00, 0x12, 0x34, static_cast<uint8_t>(next_mac++)};
  }
  for (size_t i = 0; i < o.nics.size(); ++i)
    for (size_t j = i + 1; j < o.nics.size(); ++j)
      if (*o.nics[i].mac == *o.nics[j].mac)
        return "two network cards have the MAC address " + format_mac(*o.nics[i].mac);
  return std::nullopt;
}

NetworkSetup::NetworkSetup(const NetOptions& o) {
  std::map<std::string, std::shared_ptr<NetSwitch>> hubs;
  for (const NicSpec& n : o.nics) {
    const NetdevSpec* d = nullptr;
    for (const auto& x : o.netdevs)
      if (x.id == n.netdev) d = &x;
    if (!d) throw std::logic_error("NIC without netdev");
    std::unique_ptr<NetBackend> b;
    if (d->type == "user") {
      b = std::make_unique<SlirpBackend>(d->user);
    } else if (d->type == "vde") {
      b = std::make_unique<VdeBackend>(d->vde_sock, d->vde_port);
    } else {
      auto& hub = hubs[d->hubid];
      if (!hub) hub = NetSwitch::create("hub" + d->hubid);
      b = hub->add_port();
    }
    if (!d->dump.empty()) b->set_dump(std::make_shared<PcapWriter>(d->dump));
    cards_.push_back({b.get(), *n.mac, is_virtio_net_model(n.model)});
    backends_.push_back(std::move(b));
  }
}

NetworkSetup::~NetworkSetup() = default;

}  // namespace vx86
