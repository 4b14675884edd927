#include "devices/block/raw_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace vx86 {

namespace {

// Repeats `op` (pread or pwrite) until all of [buf, buf+n) moved; false on an error or end of file.
template <class Op, class Ptr>
bool transfer_all(Op op, int fd, Ptr buf, size_t n, uint64_t offset) {
  while (n) {
    const ssize_t r = op(fd, buf, n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    buf += r;
    n -= static_cast<size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return true;
}

}  // namespace

bool pread_all(int fd, void* buf, size_t n, uint64_t offset) {
  return transfer_all(::pread, fd, static_cast<uint8_t*>(buf), n, offset);
}

bool pwrite_all(int fd, const void* buf, size_t n, uint64_t offset) {
  return transfer_all(::pwrite, fd, static_cast<const uint8_t*>(buf), n, offset);
}

RawFile::RawFile(const std::string& path, bool writable) : writable_(writable) {
  fd_ = ::open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd_ < 0) throw std::runtime_error("cannot open disk image '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw std::runtime_error("disk image '" + path + "' is not a regular file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

RawFile::~RawFile() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawFile::read(uint64_t offset, void* buf, size_t n) {
  if (!in_range(offset, n)) return false;
  return n == 0 || pread_all(fd_, buf, n, offset);
}

bool RawFile::write(uint64_t offset, const void* buf, size_t n) {
  if (!writable_ || !in_range(offset, n)) return false;
  return n == 0 || pwrite_all(fd_, buf, n, offset);
}

bool RawFile::flush() { return !writable_ || ::fdatasync(fd_) == 0; }

}  // namespace vx86
