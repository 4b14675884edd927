#include "mmu/mmu.h"

namespace vx86 {

void Mmu::set_a20(bool enabled) {
  uint32_t mask = enabled ? 0xFFFFFFFFu : ~(1u << 20);
  if (mask != a20_mask_) {
    a20_mask_ = mask;
    flush();
  }
}

void Mmu::flush() {
  for (auto& e : tlb_) e = TlbEntry{};
}

void Mmu::protect_code_page(uint32_t paddr) {
  uint32_t page = paddr >> PAGE_SHIFT;
  for (auto& e : tlb_)
    if (e.phys_page == page) e.tag_write = 1;
}

TlbEntry& Mmu::fill(uint32_t lin) {
  uint32_t lpage = lin & ~PAGE_MASK;
  uint32_t ppage = translate(lpage);
  TlbEntry& e = tlb_[(lin >> PAGE_SHIFT) & (TLB_SIZE - 1)];
  e = TlbEntry{};
  uint8_t* host = mem_.host_page(ppage);
  if (!host) return e;  // MMIO or open bus: always the slow path
  e.phys_page = ppage >> PAGE_SHIFT;
  e.addend = reinterpret_cast<uintptr_t>(host) - lpage;
  e.tag_read = lpage;
  e.tag_exec = lpage;
  if (mem_.page_writable(ppage) && !mem_.page_has_code(ppage)) e.tag_write = lpage;
  return e;
}

uint32_t Mmu::read_slow(uint32_t lin, unsigned size) {
  if ((lin & PAGE_MASK) + size > PAGE_SIZE) {  // crosses a page: byte by byte
    uint32_t v = 0;
    for (unsigned i = 0; i < size; ++i) v |= read_slow(lin + i, 1) << (8 * i);
    return v;
  }
  TlbEntry& e = fill(lin);
  if (e.tag_read == (lin & ~PAGE_MASK)) {
    uint32_t v = 0;
    std::memcpy(&v, reinterpret_cast<const void*>(e.addend + lin), size);
    return v;
  }
  return mem_.read(translate(lin), size);
}

void Mmu::write_slow(uint32_t lin, uint32_t value, unsigned size) {
  if ((lin & PAGE_MASK) + size > PAGE_SIZE) {
    for (unsigned i = 0; i < size; ++i) write_slow(lin + i, (value >> (8 * i)) & 0xFF, 1);
    return;
  }
  uint32_t paddr = translate(lin);
  if (mem_.page_has_code(paddr) && code_listener_) code_listener_->code_page_written(paddr);
  TlbEntry& e = fill(lin);
  if (e.tag_write == (lin & ~PAGE_MASK)) {
    std::memcpy(reinterpret_cast<void*>(e.addend + lin), &value, size);
    return;
  }
  mem_.write(paddr, value, size);
}

}  // namespace vx86
