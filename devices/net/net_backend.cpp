#include "devices/net/net_backend.h"

#include <cstdio>

#include "devices/net/pcap_writer.h"

namespace vx86 {

std::optional<MacAddress> parse_mac(const std::string& text) {
  MacAddress m{};
  if (text.size() != 17) return std::nullopt;
  for (size_t i = 0; i < 6; ++i) {
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    const int hi = hex(text[3 * i]), lo = hex(text[3 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    if (i < 5 && text[3 * i + 2] != ':' && text[3 * i + 2] != '-') return std::nullopt;
    m[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return m;
}

std::string format_mac(const MacAddress& m) {
  char b[18];
  std::snprintf(b, sizeof b, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return b;
}

NetBackend::~NetBackend() = default;

void NetBackend::send(const uint8_t* frame, size_t len) {
  if (len == 0 || len > kMaxFrame) return;
  if (dump_) dump_->write(frame, len);
  transmit(frame, len);
}

void NetBackend::deliver(const uint8_t* frame, size_t len) {
  if (len == 0 || len > kMaxFrame || !rx_) return;
  if (dump_) dump_->write(frame, len);
  rx_->receive_frame(frame, len);
}

}  // namespace vx86
