#include "jit/code_cache.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace vx86 {

CodeCache::CodeCache(size_t capacity) : capacity_(capacity) {
  int fd = memfd_create("vx86-jit", MFD_CLOEXEC);
  if (fd < 0) throw std::runtime_error("jit: memfd_create failed");
  if (ftruncate(fd, static_cast<off_t>(capacity)) != 0) {
    close(fd);
    throw std::runtime_error("jit: cannot size the code cache");
  }
  void* w = mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  void* x = mmap(nullptr, capacity, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
  close(fd);
  if (w == MAP_FAILED || x == MAP_FAILED) {
    if (w != MAP_FAILED) munmap(w, capacity);
    if (x != MAP_FAILED) munmap(x, capacity);
    throw std::runtime_error("jit: cannot map the code cache");
  }
  write_ = static_cast<uint8_t*>(w);
  exec_ = static_cast<uint8_t*>(x);
}

CodeCache::~CodeCache() {
  munmap(write_, capacity_);
  munmap(exec_, capacity_);
}

void* CodeCache::append(const void* code, size_t n) {
  if (n > free_bytes()) return nullptr;
  std::memcpy(write_ + used_, code, n);
  void* at = exec_ + used_;
  used_ += (n + 15) & ~size_t{15};
  if (used_ > capacity_) used_ = capacity_;
  return at;
}

void CodeCache::patch32(uintptr_t exec_addr, uint32_t value) {
  const size_t off = exec_addr - reinterpret_cast<uintptr_t>(exec_);
  if (off + 4 > used_) return;  // not ours: never write outside the code
  // Only the thread that runs this code patches it, from C++ (never while the patched code runs);
  // x86 keeps instruction fetch coherent with the store.
  std::memcpy(write_ + off, &value, 4);
}

}  // namespace vx86
