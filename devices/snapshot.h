// Snapshot serialisation: a versioned little-endian binary format, written beside every device
// (each device has save(SnapshotWriter&) and load(SnapshotReader&)).
//
// A snapshot is a sequence of sections. A section is: a 4-byte tag, a u32 version, a u32 byte
// length, then the payload. The reader checks the tag, refuses versions newer than it knows, and
// checks that the payload is consumed exactly, so a device that reads too little or too much is an
// error, not silent corruption. Snapshots are hostile input: every read is bounds-checked and throws
// SnapshotError on truncated or malformed data; loaders also validate every value they keep
// (range checks through SnapshotReader::check) so a crafted file cannot put a device into an
// impossible state.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace vx86 {

class SnapshotError : public std::runtime_error {
 public:
  explicit SnapshotError(const std::string& what) : std::runtime_error("snapshot: " + what) {}
};

class SnapshotWriter {
 public:
  explicit SnapshotWriter(std::vector<uint8_t>& out) : out_(out) {}

  void u8(uint8_t v) { out_.push_back(v); }
  void boolean(bool v) { u8(v ? 1 : 0); }
  void u16(uint16_t v) { le(v, 2); }
  void u32(uint32_t v) { le(v, 4); }
  void u64(uint64_t v) { le(v, 8); }
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void bytes(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    out_.insert(out_.end(), p, p + n);
  }
  // A length-prefixed byte string (u32 length).
  void blob(const std::vector<uint8_t>& v) {
    u32(static_cast<uint32_t>(v.size()));
    bytes(v.data(), v.size());
  }

  // Sections nest; each begin_section needs its end_section.
  void begin_section(const char (&tag)[5], uint32_t version) {
    bytes(tag, 4);
    u32(version);
    open_.push_back(out_.size());
    u32(0);  // length, patched by end_section
  }
  void end_section() {
    if (open_.empty()) throw std::logic_error("SnapshotWriter: end_section without begin_section");
    size_t at = open_.back();
    open_.pop_back();
    uint64_t len = out_.size() - at - 4;
    if (len > 0xFFFFFFFFu) throw std::logic_error("SnapshotWriter: section larger than 4 GiB");
    for (int i = 0; i < 4; ++i) out_[at + i] = static_cast<uint8_t>(len >> (8 * i));
  }

 private:
  void le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  std::vector<uint8_t>& out_;
  std::vector<size_t> open_;
};

class SnapshotReader {
 public:
  SnapshotReader(const uint8_t* data, size_t size) : data_(data), end_(size) {}
  explicit SnapshotReader(const std::vector<uint8_t>& v) : SnapshotReader(v.data(), v.size()) {}

  uint8_t u8() {
    need(1);
    return data_[pos_++];
  }
  bool boolean() {
    uint8_t v = u8();
    check(v <= 1, "boolean field is not 0 or 1");
    return v != 0;
  }
  uint16_t u16() { return static_cast<uint16_t>(le(2)); }
  uint32_t u32() { return static_cast<uint32_t>(le(4)); }
  uint64_t u64() { return le(8); }
  int64_t i64() { return static_cast<int64_t>(u64()); }
  void bytes(void* dst, size_t n) {
    need(n);
    std::memcpy(dst, data_ + pos_, n);
    pos_ += n;
  }
  // A length-prefixed byte string; `max` bounds the length a loader accepts.
  std::vector<uint8_t> blob(size_t max) {
    uint32_t n = u32();
    check(n <= max, "byte string longer than allowed");
    need(n);
    std::vector<uint8_t> v(data_ + pos_, data_ + pos_ + n);
    pos_ += n;
    return v;
  }
  // A u8/u32 that must be <= max.
  uint8_t u8_max(uint8_t max, const char* what) {
    uint8_t v = u8();
    check(v <= max, what);
    return v;
  }
  uint32_t u32_max(uint32_t max, const char* what) {
    uint32_t v = u32();
    check(v <= max, what);
    return v;
  }

  // Enters a section: checks the tag, returns its version (1..max_version).
  uint32_t begin_section(const char (&tag)[5], uint32_t max_version) {
    char got[4];
    bytes(got, 4);
    if (std::memcmp(got, tag, 4) != 0)
      throw SnapshotError(std::string("expected section '") + tag + "', found '" + printable(got) + "'");
    uint32_t version = u32();
    if (version == 0 || version > max_version)
      throw SnapshotError(std::string("section '") + tag + "' has unsupported version " +
                          std::to_string(version));
    uint32_t len = u32();
    if (len > end_ - pos_) throw SnapshotError(std::string("section '") + tag + "' is truncated");
    stack_.push_back(end_);
    end_ = pos_ + len;
    return version;
  }
  void end_section() {
    if (stack_.empty()) throw std::logic_error("SnapshotReader: end_section without begin_section");
    if (pos_ != end_) throw SnapshotError("section has " + std::to_string(end_ - pos_) + " unread bytes");
    end_ = stack_.back();
    stack_.pop_back();
  }

  void check(bool ok, const char* what) const {
    if (!ok) throw SnapshotError(std::string("malformed data: ") + what);
  }
  size_t remaining() const { return end_ - pos_; }
  bool at_end() const { return pos_ == end_; }

 private:
  void need(size_t n) const {
    if (n > end_ - pos_) throw SnapshotError("truncated data");
  }
  uint64_t le(int n) {
    need(static_cast<size_t>(n));
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= uint64_t{data_[pos_ + i]} << (8 * i);
    pos_ += static_cast<size_t>(n);
    return v;
  }
  static std::string printable(const char* s) {
    std::string r;
    for (int i = 0; i < 4; ++i) r += (s[i] >= 0x20 && s[i] < 0x7F) ? s[i] : '?';
    return r;
  }

  const uint8_t* data_;
  size_t pos_ = 0;
  size_t end_;
  std::vector<size_t> stack_;
};

}  // namespace vx86
