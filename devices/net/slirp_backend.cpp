#include "devices/net/slirp_backend.h"

#include <arpa/inet.h>
#include <poll.h>
#include <slirp/libslirp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>

namespace vx86 {

namespace {

bool parse_ipv4(const std::string& s, in_addr& out) { return inet_pton(AF_INET, s.c_str(), &out) == 1; }

bool parse_port(const std::string& s, uint16_t& out) {
  if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos) return false;
  const unsigned long v = std::stoul(s);
  if (v == 0 || v > 65535) return false;
  out = static_cast<uint16_t>(v);
  return true;
}

std::string ip_text(in_addr a) {
  char b[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, b, sizeof b);
  return b;
}

int64_t host_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string parse_hostfwd(const std::string& text, SlirpOptions::HostForward& f) {
  f = {};
  f.text = text;
  const std::string bad =
      "bad hostfwd rule '" + text + "' (expected [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT)";
  std::string rest = text;
  size_t colon = rest.find(':');
  if (colon == std::string::npos) return bad;
  const std::string proto = rest.substr(0, colon);
  if (proto == "udp")
    f.udp = true;
  else if (proto != "tcp" && !proto.empty())
    return bad;
  rest = rest.substr(colon + 1);
  const size_t dash = rest.find('-');
  if (dash == std::string::npos) return bad;
  const std::string host = rest.substr(0, dash), guest = rest.substr(dash + 1);
  const size_t hc = host.find(':'), gc = guest.find(':');
  if (hc == std::string::npos || gc == std::string::npos) return bad;
  const std::string haddr = host.substr(0, hc), gaddr = guest.substr(0, gc);
  f.host_addr.s_addr = htonl(INADDR_LOOPBACK);  // 127.0.0.1 unless the rule names an address
  if (!haddr.empty() && !parse_ipv4(haddr, f.host_addr)) return bad + ": bad host address";
  if (!gaddr.empty() && !parse_ipv4(gaddr, f.guest_addr)) return bad + ": bad guest address";
  if (!parse_port(host.substr(hc + 1), f.host_port)) return bad + ": bad host port";
  if (!parse_port(guest.substr(gc + 1), f.guest_port)) return bad + ": bad guest port";
  return "";
}

std::string parse_slirp_option(const std::string& key, const std::string& value, SlirpOptions& o) {
  auto onoff = [&](bool& b) -> std::string {
    if (value == "on" || value == "yes" || value == "true")
      b = true;
    else if (value == "off" || value == "no" || value == "false")
      b = false;
    else
      return "bad value '" + value + "' for '" + key + "' (expected on or off)";
    return "";
  };
  if (key == "net") {
    std::string addr = value;
    unsigned bits = 24;
    if (size_t slash = value.find('/'); slash != std::string::npos) {
      addr = value.substr(0, slash);
      const std::string b = value.substr(slash + 1);
      if (b.empty() || b.size() > 2 || b.find_first_not_of("0123456789") != std::string::npos)
        return "bad net '" + value + "'";
      bits = static_cast<unsigned>(std::stoul(b));
      if (bits < 8 || bits > 30) return "bad net '" + value + "' (prefix must be 8-30 bits)";
    }
    if (!parse_ipv4(addr, o.net)) return "bad net '" + value + "'";
    o.mask.s_addr = htonl(~0u << (32 - bits));
    o.net.s_addr &= o.mask.s_addr;
    return "";
  }
  if (key == "host") return parse_ipv4(value, o.host) ? "" : "bad host address '" + value + "'";
  if (key == "dhcpstart")
    return parse_ipv4(value, o.dhcp_start) ? "" : "bad dhcpstart address '" + value + "'";
  if (key == "dns") return parse_ipv4(value, o.dns) ? "" : "bad dns address '" + value + "'";
  if (key == "restrict") return onoff(o.restrict_guest);
  if (key == "ipv6") return onoff(o.ipv6);
  if (key == "ipv4") {
    bool v = true;
    std::string e = onoff(v);
    if (e.empty() && !v) return "ipv4=off is not supported";
    return e;
  }
  if (key == "hostname") {
    o.hostname = value;
    return "";
  }
  if (key == "hostfwd") {
    SlirpOptions::HostForward f;
    std::string e = parse_hostfwd(value, f);
    if (e.empty()) o.forwards.push_back(f);
    return e;
  }
  return "unknown option '" + key + "' for -netdev user";
}

std::string finish_slirp_options(SlirpOptions& o) {
  if (o.net.s_addr == 0) {
    inet_pton(AF_INET, "10.0.2.0", &o.net);
    inet_pton(AF_INET, "255.255.255.0", &o.mask);
  }
  const uint32_t net = ntohl(o.net.s_addr), mask = ntohl(o.mask.s_addr);
  auto in_net = [&](in_addr a) { return (ntohl(a.s_addr) & mask) == net; };
  if (o.host.s_addr == 0) o.host.s_addr = htonl(net | 2);
  if (o.dns.s_addr == 0) o.dns.s_addr = htonl(net | 3);
  if (o.dhcp_start.s_addr == 0) o.dhcp_start.s_addr = htonl(net | 15);
  if (!in_net(o.host)) return "host address " + ip_text(o.host) + " is outside net " + ip_text(o.net);
  if (!in_net(o.dns)) return "dns address " + ip_text(o.dns) + " is outside net " + ip_text(o.net);
  if (!in_net(o.dhcp_start))
    return "dhcpstart " + ip_text(o.dhcp_start) + " is outside net " + ip_text(o.net);
  for (const auto& f : o.forwards)
    if (f.guest_addr.s_addr && !in_net(f.guest_addr))
      return "hostfwd '" + f.text + "': guest address is outside net " + ip_text(o.net);
  return "";
}

// ---- the backend ----

struct SlirpBackend::Impl {
  struct Timer {
    SlirpTimerCb cb;
    void* opaque;
    int64_t expire_ms = -1;  // -1: not armed
  };
  SlirpBackend* self = nullptr;
  Slirp* slirp = nullptr;
  SlirpCb cb{};
  std::vector<pollfd>* fds = nullptr;  // the I/O thread's, while io_fill/io_dispatch run
  std::vector<std::unique_ptr<Timer>> timers;
  std::string hostname;

  static ssize_t send_packet(const void* buf, size_t len, void* opaque) {
    static_cast<Impl*>(opaque)->self->io_deliver(static_cast<const uint8_t*>(buf), len);
    return static_cast<ssize_t>(len);
  }
  static void guest_error(const char* msg, void*) {
    std::fprintf(stderr, "vx86: user network: guest error: %s\n", msg);
  }
  static int64_t clock_get_ns(void*) { return host_ns(); }
  static void* timer_new(SlirpTimerCb cb, void* cb_opaque, void* opaque) {
    auto* impl = static_cast<Impl*>(opaque);
    impl->timers.push_back(std::make_unique<Timer>(Timer{cb, cb_opaque, -1}));
    return impl->timers.back().get();
  }
  static void timer_free(void* timer, void* opaque) {
    auto& ts = static_cast<Impl*>(opaque)->timers;
    for (auto it = ts.begin(); it != ts.end(); ++it)
      if (it->get() == timer) {
        ts.erase(it);
        return;
      }
  }
  static void timer_mod(void* timer, int64_t expire_ms, void*) {
    static_cast<Timer*>(timer)->expire_ms = expire_ms;
  }
  static void register_poll_fd(int, void*) {}
  static void unregister_poll_fd(int, void*) {}
  static void notify(void*) {}
  static int add_poll(int fd, int events, void* opaque) {
    auto* impl = static_cast<Impl*>(opaque);
    short ev = 0;
    if (events & SLIRP_POLL_IN) ev |= POLLIN;
    if (events & SLIRP_POLL_OUT) ev |= POLLOUT;
    if (events & SLIRP_POLL_PRI) ev |= POLLPRI;
    if (events & SLIRP_POLL_ERR) ev |= POLLERR;
    if (events & SLIRP_POLL_HUP) ev |= POLLHUP;
    impl->fds->push_back({fd, ev, 0});
    return static_cast<int>(impl->fds->size() - 1);
  }
  static int get_revents(int idx, void* opaque) {
    auto* impl = static_cast<Impl*>(opaque);
    if (idx < 0 || static_cast<size_t>(idx) >= impl->fds->size()) return 0;
    const short r = (*impl->fds)[static_cast<size_t>(idx)].revents;
    int ev = 0;
    if (r & POLLIN) ev |= SLIRP_POLL_IN;
    if (r & POLLOUT) ev |= SLIRP_POLL_OUT;
    if (r & POLLPRI) ev |= SLIRP_POLL_PRI;
    if (r & POLLERR) ev |= SLIRP_POLL_ERR;
    if (r & POLLHUP) ev |= SLIRP_POLL_HUP;
    return ev;
  }
};

SlirpBackend::SlirpBackend(const SlirpOptions& o) : impl_(std::make_unique<Impl>()), opts_(o) {
  Impl& m = *impl_;
  m.self = this;
  m.hostname = o.hostname;
  m.cb.send_packet = Impl::send_packet;
  m.cb.guest_error = Impl::guest_error;
  m.cb.clock_get_ns = Impl::clock_get_ns;
  m.cb.timer_new = Impl::timer_new;
  m.cb.timer_free = Impl::timer_free;
  m.cb.timer_mod = Impl::timer_mod;
  m.cb.register_poll_fd = Impl::register_poll_fd;
  m.cb.unregister_poll_fd = Impl::unregister_poll_fd;
  m.cb.notify = Impl::notify;

  SlirpConfig c{};
  c.version = 1;
  c.restricted = o.restrict_guest;
  c.in_enabled = true;
  c.vnetwork = o.net;
  c.vnetmask = o.mask;
  c.vhost = o.host;
  c.in6_enabled = o.ipv6;
  inet_pton(AF_INET6, "fec0::", &c.vprefix_addr6);
  c.vprefix_len = 64;
  inet_pton(AF_INET6, "fec0::2", &c.vhost6);
  inet_pton(AF_INET6, "fec0::3", &c.vnameserver6);
  c.vhostname = m.hostname.empty() ? nullptr : m.hostname.c_str();
  c.vdhcp_start = o.dhcp_start;
  c.vnameserver = o.dns;
  m.slirp = slirp_new(&c, &m.cb, &m);
  if (!m.slirp) throw std::runtime_error("cannot start user-mode networking (libslirp)");
  for (const auto& f : o.forwards) {
    if (slirp_add_hostfwd(m.slirp, f.udp, f.host_addr, f.host_port, f.guest_addr, f.guest_port) < 0) {
      slirp_cleanup(m.slirp);
      m.slirp = nullptr;
      throw std::runtime_error("cannot forward host port for hostfwd=" + f.text + " (port in use?)");
    }
  }
  start();
}

SlirpBackend::~SlirpBackend() {
  stop();
  if (impl_->slirp) slirp_cleanup(impl_->slirp);
}

void SlirpBackend::io_transmit(const uint8_t* frame, size_t len) {
  slirp_input(impl_->slirp, frame, static_cast<int>(len));
}

void SlirpBackend::io_fill(std::vector<pollfd>& fds, int& timeout_ms) {
  Impl& m = *impl_;
  m.fds = &fds;
  uint32_t timeout = static_cast<uint32_t>(timeout_ms);
  slirp_pollfds_fill(m.slirp, &timeout, Impl::add_poll, &m);
  const int64_t now_ms = host_ns() / 1000000;
  for (const auto& t : m.timers)
    if (t->expire_ms >= 0)
      timeout =
          static_cast<uint32_t>(std::min<int64_t>(timeout, std::max<int64_t>(0, t->expire_ms - now_ms)));
  timeout_ms = static_cast<int>(std::min<uint32_t>(timeout, static_cast<uint32_t>(timeout_ms)));
}

void SlirpBackend::io_dispatch(const std::vector<pollfd>& fds) {
  Impl& m = *impl_;
  m.fds = const_cast<std::vector<pollfd>*>(&fds);
  slirp_pollfds_poll(m.slirp, 0, Impl::get_revents, &m);
  m.fds = nullptr;
  const int64_t now_ms = host_ns() / 1000000;
  for (size_t i = 0; i < m.timers.size(); ++i) {  // (a callback may add or free timers)
    Impl::Timer* t = m.timers[i].get();
    if (t->expire_ms >= 0 && t->expire_ms <= now_ms) {
      t->expire_ms = -1;
      t->cb(t->opaque);
    }
  }
}

std::string SlirpBackend::describe() const {
  std::string s =
      "user: net " + ip_text(opts_.net) + ", host " + ip_text(opts_.host) + ", dns " + ip_text(opts_.dns);
  for (const auto& f : opts_.forwards) s += ", hostfwd " + f.text;
  if (opts_.restrict_guest) s += ", restricted";
  return s;
}

}  // namespace vx86
