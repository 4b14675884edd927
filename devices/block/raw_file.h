// RawFile: a raw image file (every byte of the disk at its own offset), read and written with
// pread/pwrite. Also the bottom of a qcow2 backing chain.
#pragma once
#include <string>

#include "devices/block/block_driver.h"

namespace vx86 {

class RawFile final : public BlockDriver {
 public:
  // Throws std::runtime_error (naming the file) if it cannot be opened or is not a regular file.
  RawFile(const std::string& path, bool writable);
  ~RawFile() override;
  RawFile(const RawFile&) = delete;
  RawFile& operator=(const RawFile&) = delete;

  uint64_t size() const override { return size_; }
  bool writable() const override { return writable_; }
  const char* format() const override { return "raw"; }
  bool read(uint64_t offset, void* buf, size_t n) override;
  bool write(uint64_t offset, const void* buf, size_t n) override;
  bool flush() override;

 private:
  bool in_range(uint64_t offset, size_t n) const { return offset <= size_ && n <= size_ - offset; }
  int fd_ = -1;
  bool writable_;
  uint64_t size_ = 0;
};

// Whole-buffer pread/pwrite on a file descriptor, retried on EINTR and short transfers; false on
// an error or end of file. Shared by the raw and qcow2 drivers.
bool pread_all(int fd, void* buf, size_t n, uint64_t offset);
bool pwrite_all(int fd, const void* buf, size_t n, uint64_t offset);

}  // namespace vx86
