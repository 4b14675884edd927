#include "jit/code_cache.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace vx86 {

namespace {
// Where the executable view should go: within 1 GiB of vx86's own code, so generated code can
// reach the interpreter's handlers with a 5-byte call rel32 (a hint; far away still works).
void* near_our_code(size_t capacity) {
  const uintptr_t text = reinterpret_cast<uintptr_t>(&near_our_code);
  const uintptr_t gap = uintptr_t{1} << 30;
  if (text < gap + capacity) return nullptr;
  return reinterpret_cast<void*>((text - gap - capacity) & ~uintptr_t{0xFFFFF});
}
}  // namespace

// Shared anonymous memory mapped twice (mremap with old size 0 duplicates a shared mapping). Its
// name in /proc/PID/maps is "/dev/zero (deleted)", which perf treats as anonymous memory: samples
// there are symbolized from /tmp/perf-PID.map (-perfmap).
CodeCache::CodeCache(size_t capacity) : capacity_(capacity) {
  void* w = mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (w == MAP_FAILED) throw std::runtime_error("jit: cannot map the code cache");
  // A placeholder reserves the place (the hint is only taken if free), then the second view
  // replaces it.
  void* x = MAP_FAILED;
  void* spot =
      mmap(near_our_code(capacity), capacity, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (spot != MAP_FAILED) {
    x = mremap(w, 0, capacity, MREMAP_MAYMOVE | MREMAP_FIXED, spot);
    if (x == MAP_FAILED) munmap(spot, capacity);
  }
  if (x == MAP_FAILED) x = mremap(w, 0, capacity, MREMAP_MAYMOVE);
  if (x == MAP_FAILED || mprotect(x, capacity, PROT_READ | PROT_EXEC) != 0) {
    if (x != MAP_FAILED) munmap(x, capacity);
    munmap(w, capacity);
    throw std::runtime_error("jit: cannot map the code cache twice");
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

void CodeCache::patch_jump(uintptr_t exec_addr, uintptr_t target) {
  const size_t off = exec_addr - reinterpret_cast<uintptr_t>(exec_);
  if (off + 5 > used_) return;
  const uint8_t jmp = 0xE9;
  const uint32_t rel = static_cast<uint32_t>(target - (exec_addr + 5));
  // The rel32 first, then the opcode over the first byte: the thread that runs this code is the one
  // patching it (from its SIGSEGV handler), so it never sees half of it.
  std::memcpy(write_ + off + 1, &rel, 4);
  std::memcpy(write_ + off, &jmp, 1);
}

void CodeCache::patch32(uintptr_t exec_addr, uint32_t value) {
  const size_t off = exec_addr - reinterpret_cast<uintptr_t>(exec_);
  if (off + 4 > used_) return;  // not ours: never write outside the code
  // Only the thread that runs this code patches it, from C++ (never while the patched code runs);
  // x86 keeps instruction fetch coherent with the store.
  std::memcpy(write_ + off, &value, 4);
}

}  // namespace vx86
