// Whether the host can read or write 4 bytes at an address, without faulting: a pipe's system
// calls report EFAULT for memory the process cannot access (tests of the -mmu host windows).
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstring>

namespace vx86::test {

inline bool host_readable(const void* p) {
  int fd[2];
  if (pipe(fd) != 0) return false;
  const bool ok = write(fd[1], p, 4) == 4;
  close(fd[0]);
  close(fd[1]);
  return ok;
}

// (Writes the same bytes back.)
inline bool host_writable(void* p) {
  if (!host_readable(p)) return false;
  uint32_t v;
  std::memcpy(&v, p, 4);
  int fd[2];
  if (pipe(fd) != 0) return false;
  const bool ok = write(fd[1], &v, 4) == 4 && read(fd[0], p, 4) == 4;
  close(fd[0]);
  close(fd[1]);
  return ok;
}

}  // namespace vx86::test
