#include "devices/net/pcap_writer.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace vx86 {

namespace {
void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
}  // namespace

PcapWriter::PcapWriter(const std::string& path) : f_(std::fopen(path.c_str(), "wb")) {
  if (!f_)
    throw std::runtime_error("cannot create packet capture file '" + path + "': " + std::strerror(errno));
  // Magic (microsecond timestamps, written little-endian), version 2.4, GMT offset 0, accuracy 0,
  // snapshot length, link type 1 (Ethernet).
  uint8_t h[24] = {};
  put32(h, 0xA1B2C3D4u);
  h[4] = 2;
  h[6] = 4;
  put32(h + 16, kSnapLen);
  put32(h + 20, 1);
  std::fwrite(h, 1, sizeof h, f_);
  std::fflush(f_);
}

PcapWriter::~PcapWriter() { std::fclose(f_); }

void PcapWriter::write(const uint8_t* frame, size_t len) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const uint64_t us =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(now).count());
  const uint32_t caplen = static_cast<uint32_t>(len < kSnapLen ? len : kSnapLen);
  uint8_t r[16];
  put32(r, static_cast<uint32_t>(us / 1000000));
  put32(r + 4, static_cast<uint32_t>(us % 1000000));
  put32(r + 8, caplen);
  put32(r + 12, static_cast<uint32_t>(len));
  std::lock_guard g(mu_);
  std::fwrite(r, 1, sizeof r, f_);
  std::fwrite(frame, 1, caplen, f_);
  std::fflush(f_);  // a capture of a guest that is killed stays readable
  ++frames_;
}

}  // namespace vx86
