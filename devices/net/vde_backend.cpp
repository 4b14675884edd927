#include "devices/net/vde_backend.h"

extern "C" {  // (the header has no C++ guards)
#include <libvdeplug.h>
}
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace vx86 {

VdeBackend::VdeBackend(const std::string& sock, int port) : sock_(sock) {
  vde_open_args args{};
  args.port = port;
  args.mode = 0700;
  std::vector<char> url(sock.begin(), sock.end());
  url.push_back('\0');
  char descr[] = "vx86";
  conn_ = vde_open(url.data(), descr, &args);
  if (!conn_)
    throw std::runtime_error("cannot connect to the VDE switch at '" + sock + "': " + std::strerror(errno));
}

VdeBackend::~VdeBackend() {
  if (conn_) vde_close(conn_);
}

void VdeBackend::transmit(const uint8_t* frame, size_t len) { vde_send(conn_, frame, len, 0); }

void VdeBackend::poll() {
  uint8_t buf[kMaxFrame];
  // A bounded number of frames per poll, so a flood cannot hold the machine here.
  for (int i = 0; i < 256; ++i) {
    struct pollfd p {
      vde_datafd(conn_), POLLIN, 0
    };
    if (::poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN)) return;
    const ssize_t n = vde_recv(conn_, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) return;
    deliver(buf, static_cast<size_t>(n));
  }
}

}  // namespace vx86
