// PhysicalMemory: the guest's physical address space. RAM is one host allocation; ROM images and
// MMIO regions are mapped over it page by page. Pages that hold translated code are flagged so a
// write to them can find and drop the stale blocks.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "emu/device_lock.h"

namespace vx86 {

constexpr uint32_t PAGE_SHIFT = 12;
constexpr uint32_t PAGE_SIZE = 1u << PAGE_SHIFT;
constexpr uint32_t PAGE_MASK = PAGE_SIZE - 1;
constexpr uint32_t PAGE_COUNT = 1u << (32 - PAGE_SHIFT);

class MmioHandler {
 public:
  virtual ~MmioHandler() = default;
  virtual uint32_t mmio_read(uint32_t addr, unsigned size) = 0;
  virtual void mmio_write(uint32_t addr, uint32_t value, unsigned size) = 0;
};

// Told when the guest (a CPU's store or a device's DMA) wrote `size` bytes at `paddr`, in a page
// this watcher marked as holding page-table entries (PhysicalMemory::set_page_table). Called on
// the writing thread, after the bytes are in memory.
class PageTableWatcher {
 public:
  virtual ~PageTableWatcher() = default;
  virtual void page_table_written(uint32_t paddr, unsigned size, bool dma) = 0;
};

class PhysicalMemory {
 public:
  // `shared`: RAM lives in a memfd (ram_fd(); -1 if the host has none), so -mmu host can map its
  // pages elsewhere too.
  explicit PhysicalMemory(uint32_t ram_bytes, bool shared = false);
  ~PhysicalMemory();
  PhysicalMemory(const PhysicalMemory&) = delete;
  PhysicalMemory& operator=(const PhysicalMemory&) = delete;

  uint32_t ram_size() const { return ram_size_; }
  uint8_t* ram() { return ram_; }
  int ram_fd() const { return fd_; }  // -1 unless shared
  // `paddr`'s page is RAM reached at its own offset (not ROM, MMIO, or a shadow region's ROM).
  bool plain_ram(uint32_t paddr) const {
    return paddr < ram_size_ && pages_[paddr >> PAGE_SHIFT].host == ram_ + (paddr & ~PAGE_MASK);
  }

  // Maps a read-only copy of `image` at `base` (page-aligned, size a multiple of 4 KiB).
  // The same image may be mapped at several addresses (the BIOS at 0xF0000 and below 4 GiB).
  void map_rom(uint32_t base, const std::vector<uint8_t>& image);
  void map_mmio(uint32_t base, uint32_t size, MmioHandler* handler);
  // Relocatable mappings (PCI BARs). unmap_mmio drops every region of `handler` (its pages go back
  // to RAM below ram_size(), else open bus). map_rom_view maps caller-owned bytes read-only
  // (page-aligned base and size; the bytes stay alive while mapped); unmap_pages puts
  // [base, base+size) back to RAM / open bus (MMIO regions still listed there answer again).
  // The caller drops TLB entries and translated code of the ranges afterwards.
  void unmap_mmio(MmioHandler* handler);
  void map_rom_view(uint32_t base, const uint8_t* bytes, uint32_t size);
  void unmap_pages(uint32_t base, uint32_t size);
  // Shadow RAM below 1 MiB (the i440FX's PAM regions): maps [base, base+size) (page-aligned, below
  // 1 MiB, inside RAM) page by page. Reads come from RAM if `read_ram`, else from `rom` (the bytes
  // for `base`, owned by the caller and kept alive; nullptr: nothing, reads 0xFF). Writes go to RAM
  // if `write_ram`, else are dropped. "Read ROM, write RAM" is how a BIOS copies itself into its
  // shadow. The caller drops TLB entries and translated code of the range afterwards.
  void map_shadow(uint32_t base, uint32_t size, const uint8_t* rom, bool read_ram, bool write_ram);

  // Host pointer to the start of the page holding `paddr`, or nullptr for MMIO / unmapped.
  uint8_t* host_page(uint32_t paddr) const { return pages_[paddr >> PAGE_SHIFT].host; }
  bool page_writable(uint32_t paddr) const { return pages_[paddr >> PAGE_SHIFT].writable; }

  // Byte-exact accesses of 1, 2 or 4 bytes, any alignment, any region (the slow path).
  uint32_t read(uint32_t paddr, unsigned size);
  void write(uint32_t paddr, uint32_t value, unsigned size);
  uint8_t read8(uint32_t paddr);
  void write8(uint32_t paddr, uint8_t value);

  // Bus-master DMA by a device (addresses are the device's 64-bit ones): copies between host
  // memory and guest RAM only. Returns false, moving nothing, unless all of [addr, addr+len) is
  // RAM that the guest can read (dma_read) or write (dma_write); the caller turns that into the
  // device's error. The caller tells the board which bytes it wrote (translated code there).
  bool dma_read(uint64_t addr, void* dst, size_t len) const;
  bool dma_write(uint64_t addr, const void* src, size_t len);
  bool dma_range_ok(uint64_t addr, size_t len, bool write) const;

  // Page-table entries as the page walker updates them: the accessed and dirty bits are ORed in
  // with one locked host instruction when the entry is in RAM (other CPUs may be changing the
  // entry), and PAE entries are read in one 64-bit load.
  void atomic_or32(uint32_t paddr, uint32_t bits);
  uint64_t read64(uint32_t paddr);

  // -smp N,threads=on: MMIO accesses hold the device lock.
  void set_lock(DeviceLock* l) { lock_ = l; }

  // Write tracking: per page, a bit for each block cache (one per CPU) holding code decoded from
  // it (low byte), and one for each shadow page table set (mmu/shadow_tables.h) holding entries
  // derived from page-table entries in it (high byte). A tracked page gets no writable TLB entry,
  // so every store to it reaches the slow path. Atomic: with threads each CPU sets its own bits.
  bool page_write_tracked(uint32_t paddr) const { return marks(paddr) != 0; }
  bool page_has_code(uint32_t paddr) const { return page_code_owners(paddr) != 0; }
  uint8_t page_code_owners(uint32_t paddr) const { return static_cast<uint8_t>(marks(paddr)); }
  void set_page_code(uint32_t paddr, uint8_t owner_bit, bool v) { set_mark(paddr, owner_bit, v); }
  uint8_t page_table_owners(uint32_t paddr) const { return static_cast<uint8_t>(marks(paddr) >> 8); }
  void set_page_table(uint32_t paddr, uint8_t owner_bit, bool v) {
    set_mark(paddr, static_cast<uint16_t>(owner_bit << 8), v);
  }
  // Page-table watchers (at most 8, registered before CPUs run): the owner bit, or 0 if all taken.
  uint8_t add_table_watcher(PageTableWatcher* w);
  void remove_table_watcher(uint8_t owner_bit);
  // The same for [paddr, paddr + len) across pages (a device's DMA: `dma` set).
  void tables_written_range(uint32_t paddr, uint32_t len, bool dma);
  // Tells the watchers of the page holding `paddr` (within one page) that it was written.
  void tables_written(uint32_t paddr, unsigned size, bool dma = false) {
    if (page_table_owners(paddr)) [[unlikely]]
      notify_tables(paddr, size, dma);
  }
  void set_page_has_code(uint32_t paddr, bool v) { set_page_code(paddr, 1, v); }
  // The 64-byte chunks of a page any block cache has held code in (only ever grows): with threads,
  // a write to a code page that touches none of them concerns no other CPU.
  uint64_t code_chunks(uint32_t paddr) const {
    return __atomic_load_n(&chunks_[paddr >> PAGE_SHIFT], __ATOMIC_SEQ_CST);
  }
  void add_code_chunks(uint32_t paddr, uint64_t bits) {
    __atomic_fetch_or(&chunks_[paddr >> PAGE_SHIFT], bits, __ATOMIC_SEQ_CST);
  }

 private:
  struct Page {
    uint8_t* host = nullptr;
    bool writable = false;
  };
  struct MmioRegion {
    uint32_t base, size;
    MmioHandler* handler;
  };
  const MmioRegion* find_mmio(uint32_t paddr) const;
  uint32_t mmio_read(uint32_t paddr, unsigned size);  // open bus where no region answers
  bool mmio_write(uint32_t paddr, uint32_t value, unsigned size);  // false: no region there
  uint16_t marks(uint32_t paddr) const {
    return __atomic_load_n(&code_[paddr >> PAGE_SHIFT], __ATOMIC_SEQ_CST);
  }
  void set_mark(uint32_t paddr, uint16_t bits, bool v) {
    uint16_t* c = &code_[paddr >> PAGE_SHIFT];
    if (v)
      __atomic_fetch_or(c, bits, __ATOMIC_SEQ_CST);
    else
      __atomic_fetch_and(c, static_cast<uint16_t>(~bits), __ATOMIC_SEQ_CST);
  }
  void notify_tables(uint32_t paddr, unsigned size, bool dma);
  DeviceLock* lock_ = nullptr;
  PageTableWatcher* table_watchers_[8] = {};

  uint32_t ram_size_;
  uint8_t* ram_;
  int fd_ = -1;
  std::vector<Page> pages_;
  std::vector<uint16_t> code_;  // write-tracking marks (code: low byte, page tables: high byte)
  std::vector<uint64_t> chunks_;
  std::vector<std::unique_ptr<uint8_t[]>> roms_;
  std::vector<MmioRegion> mmio_;
  // Pages below 1 MiB whose reads come from somewhere else (ROM) but whose writes go to RAM.
  static constexpr uint32_t kShadowPages = 0x100000 >> PAGE_SHIFT;
  uint8_t* write_redirect_[kShadowPages] = {};
};

}  // namespace vx86
