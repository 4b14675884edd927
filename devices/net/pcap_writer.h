// Packet capture in the classic libpcap file format (what tcpdump -r and Wireshark read):
// a global header with LINKTYPE_ETHERNET, then one record per frame with a host timestamp.
#pragma once
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>

namespace vx86 {

class PcapWriter {
 public:
  static constexpr uint32_t kSnapLen = 65535;
  // Creates (truncates) `path`; throws std::runtime_error naming the file on failure.
  explicit PcapWriter(const std::string& path);
  ~PcapWriter();
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;

  // One frame, captured now. Thread-safe (the in-process switch's ports may share a file).
  void write(const uint8_t* frame, size_t len);
  uint64_t frames() const { return frames_; }

 private:
  std::mutex mu_;
  FILE* f_;
  uint64_t frames_ = 0;
};

}  // namespace vx86
