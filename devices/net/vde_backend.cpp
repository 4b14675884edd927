#include "devices/net/vde_backend.h"

extern "C" {  // (the header has no C++ guards)
#include <libvdeplug.h>
}
#include <fcntl.h>
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
  // Never block the I/O thread (vde_send/vde_recv ignore MSG_DONTWAIT): a stopped or busy switch
  // then loses frames instead of hanging vx86, also at exit.
  const int fd = vde_datafd(conn_);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  start();
}

VdeBackend::~VdeBackend() {
  stop();
  if (conn_) vde_close(conn_);
}

void VdeBackend::io_transmit(const uint8_t* frame, size_t len) { vde_send(conn_, frame, len, 0); }

void VdeBackend::io_fill(std::vector<pollfd>& fds, int&) { fds.push_back({vde_datafd(conn_), POLLIN, 0}); }

void VdeBackend::io_dispatch(const std::vector<pollfd>& fds) {
  if (!(fds.back().revents & POLLIN)) return;
  uint8_t buf[kMaxFrame];
  // What is there now (the socket does not block), a bounded number of frames (the next round
  // takes the rest).
  for (int i = 0; i < 256; ++i) {
    const ssize_t n = vde_recv(conn_, buf, sizeof buf, 0);
    if (n <= 0) return;
    io_deliver(buf, static_cast<size_t>(n));
  }
}

}  // namespace vx86
