#include "devices/disk_image.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace vx86 {

DiskImage::DiskImage(const std::string& path, Mode mode) : path_(path), mode_(mode) {
  fd_ = ::open(path.c_str(), (mode == Mode::ReadWrite ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd_ < 0) throw std::runtime_error("cannot open disk image '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw std::runtime_error("disk image '" + path + "' is not a regular file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

DiskImage::~DiskImage() {
  if (fd_ >= 0) ::close(fd_);
}

bool DiskImage::file_read(uint64_t offset, void* buf, size_t n) {
  auto* p = static_cast<uint8_t*>(buf);
  while (n) {
    const ssize_t r = ::pread(fd_, p, n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return true;
}

bool DiskImage::read(uint64_t offset, void* buf, size_t n) {
  if (!in_range(offset, n)) return false;
  if (n == 0) return true;
  if (!file_read(offset, buf, n)) return false;
  if (overlay_.empty()) return true;
  auto* out = static_cast<uint8_t*>(buf);
  for (uint64_t blk = offset / kBlock; blk * kBlock < offset + n; ++blk) {
    auto it = overlay_.find(blk);
    if (it == overlay_.end()) continue;
    const uint64_t lo = std::max<uint64_t>(blk * kBlock, offset);
    const uint64_t hi = std::min<uint64_t>((blk + 1) * kBlock, offset + n);
    std::memcpy(out + (lo - offset), it->second.get() + (lo - blk * kBlock), hi - lo);
  }
  return true;
}

bool DiskImage::write(uint64_t offset, const void* buf, size_t n) {
  if (mode_ == Mode::ReadOnly || !in_range(offset, n)) return false;
  if (n == 0) return true;
  const auto* in = static_cast<const uint8_t*>(buf);
  if (mode_ == Mode::ReadWrite) {
    while (n) {
      const ssize_t r = ::pwrite(fd_, in, n, static_cast<off_t>(offset));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      in += r;
      n -= static_cast<size_t>(r);
      offset += static_cast<uint64_t>(r);
    }
    return true;
  }
  for (uint64_t blk = offset / kBlock; blk * kBlock < offset + n; ++blk) {
    auto& slot = overlay_[blk];
    if (!slot) {
      slot = std::make_unique<uint8_t[]>(kBlock);
      const uint64_t start = blk * kBlock;
      const size_t avail = static_cast<size_t>(std::min<uint64_t>(kBlock, size_ - start));
      std::memset(slot.get(), 0, kBlock);
      if (!file_read(start, slot.get(), avail)) {
        overlay_.erase(blk);
        return false;
      }
    }
    const uint64_t lo = std::max<uint64_t>(blk * kBlock, offset);
    const uint64_t hi = std::min<uint64_t>((blk + 1) * kBlock, offset + n);
    std::memcpy(slot.get() + (lo - blk * kBlock), in + (lo - offset), hi - lo);
  }
  return true;
}

bool DiskImage::flush() {
  if (mode_ != Mode::ReadWrite) return true;
  return ::fdatasync(fd_) == 0;
}

}  // namespace vx86
