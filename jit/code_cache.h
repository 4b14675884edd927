// CodeCache: a bounded region for generated host code, mapped twice (shared memory): a writable
// view the translator copies into and an executable view the CPU runs, so no page is ever
// writable and executable at the same time. Filled linearly; when full it is emptied whole (the
// translator then re-translates what runs), keeping a fixed prefix (the entry/exit stubs).
#pragma once
#include <cstddef>
#include <cstdint>

namespace vx86 {

class CodeCache {
 public:
  explicit CodeCache(size_t capacity);
  ~CodeCache();
  CodeCache(const CodeCache&) = delete;
  CodeCache& operator=(const CodeCache&) = delete;

  // The executable address the next piece of code will have.
  uintptr_t next_exec() const { return reinterpret_cast<uintptr_t>(exec_) + used_; }
  size_t free_bytes() const { return capacity_ - used_; }
  // Copies `n` bytes of code (already relocated to next_exec()) in and returns their address.
  void* append(const void* code, size_t n);
  // Writes a 32-bit value at an executable address inside the cache (patching a jump), through
  // the writable view.
  void patch32(uintptr_t exec_addr, uint32_t value);
  // Writes `jmp rel32` to `target` over the 5 bytes at `exec_addr`.
  void patch_jump(uintptr_t exec_addr, uintptr_t target);
  // Everything after the first `keep` bytes becomes free again.
  void reset_to(size_t keep) { used_ = keep; }
  size_t used() const { return used_; }
  size_t capacity() const { return capacity_; }

 private:
  size_t capacity_;
  size_t used_ = 0;
  uint8_t* write_ = nullptr;  // RW view
  uint8_t* exec_ = nullptr;   // RX view
};

}  // namespace vx86
