#include "mmu/physical_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace vx86 {

PhysicalMemory::PhysicalMemory(uint32_t ram_bytes, bool shared)
    : ram_size_(ram_bytes & ~PAGE_MASK), pages_(PAGE_COUNT), code_(PAGE_COUNT, 0), chunks_(PAGE_COUNT, 0) {
  // Anonymous pages (and a memfd's) come zeroed and are only backed once touched, so a large -m
  // starts instantly.
  const size_t bytes = ram_size_ ? ram_size_ : PAGE_SIZE;
  void* p = MAP_FAILED;
  if (shared) {  // (if the host cannot, anonymous memory: -mmu host then falls back to shadow)
    fd_ = memfd_create("vx86-ram", MFD_CLOEXEC);
    if (fd_ >= 0 && ftruncate(fd_, static_cast<off_t>(bytes)) == 0)
      p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (p == MAP_FAILED && fd_ >= 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  if (p == MAP_FAILED) {
    p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }
  if (p == MAP_FAILED) throw std::runtime_error("cannot allocate guest RAM");
  ram_ = static_cast<uint8_t*>(p);
  for (uint32_t p = 0; p < ram_size_ / PAGE_SIZE; ++p) pages_[p] = {ram_ + p * PAGE_SIZE, true};
}

PhysicalMemory::~PhysicalMemory() {
  munmap(ram_, ram_size_ ? ram_size_ : PAGE_SIZE);
  if (fd_ >= 0) close(fd_);
}

void PhysicalMemory::map_rom(uint32_t base, const std::vector<uint8_t>& image) {
  if ((base & PAGE_MASK) || (image.size() & PAGE_MASK) || image.empty() ||
      uint64_t{base} + image.size() > (uint64_t{1} << 32))
    throw std::invalid_argument("ROM must be page-aligned and fit below 4 GiB");
  auto copy = std::make_unique<uint8_t[]>(image.size());
  std::memcpy(copy.get(), image.data(), image.size());
  for (size_t off = 0; off < image.size(); off += PAGE_SIZE)
    pages_[(base + off) >> PAGE_SHIFT] = {copy.get() + off, false};
  roms_.push_back(std::move(copy));
}

void PhysicalMemory::map_mmio(uint32_t base, uint32_t size, MmioHandler* handler) {
  if ((base & PAGE_MASK) || (size & PAGE_MASK) || size == 0)
    throw std::invalid_argument("MMIO regions are page-granular");
  for (uint32_t off = 0; off < size; off += PAGE_SIZE) pages_[(base + off) >> PAGE_SHIFT] = {};
  mmio_.push_back({base, size, handler});
}

void PhysicalMemory::unmap_mmio(MmioHandler* handler) {
  for (size_t i = 0; i < mmio_.size();) {
    if (mmio_[i].handler != handler) {
      ++i;
      continue;
    }
    const MmioRegion r = mmio_[i];
    mmio_.erase(mmio_.begin() + static_cast<std::ptrdiff_t>(i));
    unmap_pages(r.base, r.size);
  }
}

void PhysicalMemory::map_rom_view(uint32_t base, const uint8_t* bytes, uint32_t size) {
  if ((base & PAGE_MASK) || (size & PAGE_MASK) || size == 0 || uint64_t{base} + size > (uint64_t{1} << 32))
    throw std::invalid_argument("ROM must be page-aligned and fit below 4 GiB");
  for (uint32_t off = 0; off < size; off += PAGE_SIZE)
    pages_[(base + off) >> PAGE_SHIFT] = {const_cast<uint8_t*>(bytes + off), false};
}

void PhysicalMemory::unmap_pages(uint32_t base, uint32_t size) {
  for (uint64_t a = base & ~PAGE_MASK; a < uint64_t{base} + size && a < (uint64_t{1} << 32); a += PAGE_SIZE) {
    const uint32_t pa = static_cast<uint32_t>(a);
    pages_[pa >> PAGE_SHIFT] = pa < ram_size_ ? Page{ram_ + pa, true} : Page{};
  }
}

void PhysicalMemory::map_shadow(uint32_t base, uint32_t size, const uint8_t* rom, bool read_ram, bool write_ram) {
  if ((base & PAGE_MASK) || (size & PAGE_MASK) || uint64_t{base} + size > 0x100000 || base + size > ram_size_)
    throw std::invalid_argument("shadow regions are page-granular, below 1 MiB and inside RAM");
  for (uint32_t off = 0; off < size; off += PAGE_SIZE) {
    const uint32_t page = (base + off) >> PAGE_SHIFT;
    uint8_t* ram = ram_ + base + off;
    if (read_ram) {
      pages_[page] = {ram, write_ram};
      write_redirect_[page] = nullptr;
    } else {
      pages_[page] = {rom ? const_cast<uint8_t*>(rom + off) : nullptr, false};
      write_redirect_[page] = write_ram ? ram : nullptr;
    }
  }
}

const PhysicalMemory::MmioRegion* PhysicalMemory::find_mmio(uint32_t paddr) const {
  for (const auto& r : mmio_)
    if (paddr - r.base < r.size) return &r;
  return nullptr;
}

bool PhysicalMemory::dma_range_ok(uint64_t addr, size_t len, bool write) const {
  if (len == 0) return true;
  if (addr >= 0x100000000ull || len > 0x100000000ull - addr) return false;
  for (uint64_t a = addr & ~uint64_t{PAGE_MASK}; a < addr + len; a += PAGE_SIZE) {
    const Page& p = pages_[a >> PAGE_SHIFT];
    if (!p.host || (write && !p.writable)) return false;
  }
  return true;
}

bool PhysicalMemory::dma_read(uint64_t addr, void* dst, size_t len) const {
  if (!dma_range_ok(addr, len, false)) return false;
  auto* out = static_cast<uint8_t*>(dst);
  for (size_t done = 0; done < len;) {
    const uint32_t a = static_cast<uint32_t>(addr + done);
    const size_t n = std::min<size_t>(len - done, PAGE_SIZE - (a & PAGE_MASK));
    std::memcpy(out + done, pages_[a >> PAGE_SHIFT].host + (a & PAGE_MASK), n);
    done += n;
  }
  return true;
}

bool PhysicalMemory::dma_write(uint64_t addr, const void* src, size_t len) {
  if (!dma_range_ok(addr, len, true)) return false;
  const auto* in = static_cast<const uint8_t*>(src);
  for (size_t done = 0; done < len;) {
    const uint32_t a = static_cast<uint32_t>(addr + done);
    const size_t n = std::min<size_t>(len - done, PAGE_SIZE - (a & PAGE_MASK));
    std::memcpy(pages_[a >> PAGE_SHIFT].host + (a & PAGE_MASK), in + done, n);
    done += n;
  }
  return true;
}

uint8_t PhysicalMemory::add_table_watcher(PageTableWatcher* w) {
  for (unsigned i = 0; i < 8; ++i)
    if (!table_watchers_[i]) {
      table_watchers_[i] = w;
      return static_cast<uint8_t>(1u << i);
    }
  return 0;
}

void PhysicalMemory::remove_table_watcher(uint8_t owner_bit) {
  for (unsigned i = 0; i < 8; ++i)
    if (owner_bit & (1u << i)) table_watchers_[i] = nullptr;
  for (auto& m : code_) m &= static_cast<uint16_t>(~(owner_bit << 8));
}

void PhysicalMemory::tables_written_range(uint32_t paddr, uint32_t len, bool dma) {
  for (uint64_t a = paddr, end = uint64_t{paddr} + len; a < end;) {
    const uint64_t next = std::min(end, (a & ~uint64_t{PAGE_MASK}) + PAGE_SIZE);
    tables_written(static_cast<uint32_t>(a), static_cast<unsigned>(next - a), dma);
    a = next;
  }
}

void PhysicalMemory::notify_tables(uint32_t paddr, unsigned size, bool dma) {
  const uint8_t owners = page_table_owners(paddr);
  for (unsigned i = 0; i < 8; ++i)
    if ((owners & (1u << i)) && table_watchers_[i]) table_watchers_[i]->page_table_written(paddr, size, dma);
}

uint8_t PhysicalMemory::read8(uint32_t paddr) {
  const Page& p = pages_[paddr >> PAGE_SHIFT];
  if (p.host) return p.host[paddr & PAGE_MASK];
  return static_cast<uint8_t>(mmio_read(paddr, 1));
}

void PhysicalMemory::write8(uint32_t paddr, uint8_t value) {
  const Page& p = pages_[paddr >> PAGE_SHIFT];
  if (p.writable) {
    p.host[paddr & PAGE_MASK] = value;
    tables_written(paddr, 1);
    return;
  }
  if (paddr < 0x100000 && write_redirect_[paddr >> PAGE_SHIFT]) {
    write_redirect_[paddr >> PAGE_SHIFT][paddr & PAGE_MASK] = value;
    return;
  }
  if (p.host) return;
  mmio_write(paddr, value, 1);
}

uint32_t PhysicalMemory::mmio_read(uint32_t paddr, unsigned size) {
  DeviceGuard g(lock_);  // (the region list too: devices move their BARs under the lock)
  if (const MmioRegion* r = find_mmio(paddr)) return r->handler->mmio_read(paddr, size);
  return size == 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;  // open bus
}

bool PhysicalMemory::mmio_write(uint32_t paddr, uint32_t value, unsigned size) {
  DeviceGuard g(lock_);
  const MmioRegion* r = find_mmio(paddr);
  if (r) r->handler->mmio_write(paddr, value, size);
  return r != nullptr;
}

void PhysicalMemory::atomic_or32(uint32_t paddr, uint32_t bits) {
  const Page& p = pages_[paddr >> PAGE_SHIFT];
  if (p.writable && (paddr & 3) == 0) {
    __atomic_fetch_or(reinterpret_cast<uint32_t*>(p.host + (paddr & PAGE_MASK)), bits, __ATOMIC_SEQ_CST);
    return;
  }
  write(paddr, read(paddr, 4) | bits, 4);
}

uint64_t PhysicalMemory::read64(uint32_t paddr) {
  const Page& p = pages_[paddr >> PAGE_SHIFT];
  if (p.host && (paddr & 7) == 0)
    return __atomic_load_n(reinterpret_cast<const uint64_t*>(p.host + (paddr & PAGE_MASK)), __ATOMIC_SEQ_CST);
  return read(paddr, 4) | (uint64_t{read(paddr + 4, 4)} << 32);
}

uint32_t PhysicalMemory::read(uint32_t paddr, unsigned size) {
  if ((paddr & PAGE_MASK) + size <= PAGE_SIZE) {
    const uint8_t* host = pages_[paddr >> PAGE_SHIFT].host;
    // Whole access inside one MMIO page goes to the device at its natural size.
    if (!host) return mmio_read(paddr, size);
    if (size == 4 && (paddr & 3) == 0)  // one load: a page-table entry another CPU may be writing
      return __atomic_load_n(reinterpret_cast<const uint32_t*>(host + (paddr & PAGE_MASK)), __ATOMIC_RELAXED);
  }
  uint32_t v = 0;
  for (unsigned i = 0; i < size; ++i) v |= uint32_t{read8(paddr + i)} << (8 * i);
  return v;
}

void PhysicalMemory::write(uint32_t paddr, uint32_t value, unsigned size) {
  if ((paddr & PAGE_MASK) + size <= PAGE_SIZE) {
    const Page& p = pages_[paddr >> PAGE_SHIFT];
    if (!p.host && mmio_write(paddr, value, size)) return;
    if (p.writable) {  // one store, then the page-table watchers (they read what was written)
      std::memcpy(p.host + (paddr & PAGE_MASK), &value, size);
      tables_written(paddr, size);
      return;
    }
  }
  for (unsigned i = 0; i < size; ++i) write8(paddr + i, static_cast<uint8_t>(value >> (8 * i)));
}

}  // namespace vx86
