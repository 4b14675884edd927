// BlockCache: decoded basic blocks indexed by the guest physical address of their first byte plus
// the mode bits that change decoding (CS.D). A guest write to a page holding code drops every block
// on that page; a block that is running when it is dropped has its remaining handlers replaced by
// an exit, so code that patches the next instruction sees the new bytes.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "emu/insn.h"
#include "mmu/mmu.h"

namespace vx86 {

struct Block;

// A direct exit of a translated block (jit/): a jump whose rel32 is patched to enter the target
// block's translation directly once the dispatcher has found it ("chaining"), and patched back
// when the target is dropped.
struct JitExit {
  Block* src = nullptr;
  Block* target = nullptr;  // the block it is chained to, or null
  int32_t rel = 0;          // target EIP - the block's entry EIP
  uintptr_t jmp_rel32 = 0;  // executable address of the chaining jmp's rel32
  uintptr_t unlinked = 0;   // where that jmp goes while unchained (asks the dispatcher to chain)
  // A far exit (its target on another page) checks the target's exec TLB entry first: the
  // expected physical page (an imm32, kUnchainedPage while unchained) and the jne taken on a
  // mismatch (to the chain request while unchained, to the plain dispatcher once chained).
  uintptr_t page_imm32 = 0;  // 0: a near exit (same page, no check)
  uintptr_t miss_rel32 = 0;
  uintptr_t generic = 0;  // the plain dispatcher jump
};

struct Block {
  uint32_t phys;  // physical address of the first byte
  uint32_t mode;  // decoding mode key (CS.D)
  uint32_t lin;   // linear address it was decoded at (for logs)
  uint32_t ninsn;
  uint32_t pages[2];           // physical pages holding its bytes (pages[1] == pages[0] if one)
  uint32_t bytes = 0;          // length of its code (set by BlockCache::insert)
  std::vector<Insn> insns;     // ninsn instructions then an exit sentinel
  const void* host = nullptr;  // its translation (jit/), once it has run often enough
  uint32_t runs = 0;           // times the interpreter ran it (the JIT's tier-up counter)
  bool no_translate = false;   // the JIT could not translate it: it stays interpreted
  // The flat segments its translation assumes (CpuState::jit_mode): each translation narrows it to
  // those flat now, so a block run with different segments settles after a few retranslations.
  uint32_t jit_flat = ~0u;
  std::vector<JitExit> exits;      // its chainable exits (capacity fixed when translated)
  std::vector<JitExit*> incoming;  // other blocks' exits chained to it
  // -d exec: its instructions' disassembly, made when it first ran at `exec_eip` (log_block).
  std::unique_ptr<std::vector<std::string>> exec_text;
  uint32_t exec_eip = 0;
};

class BlockCache : public CodeWriteListener {
 public:
  explicit BlockCache(Mmu& mmu);
  ~BlockCache() override;

  Block* find(uint32_t phys, uint32_t mode) {
    Block* b = fast_[fast_index(phys, mode)];
    if (b && b->phys == phys && b->mode == mode) [[likely]]
      return b;
    return find_slow(phys, mode);
  }
  Block* insert(std::unique_ptr<Block> block);
  // A write of `size` bytes at paddr (within one page): drops the blocks whose bytes it touches.
  void code_page_written(uint32_t paddr, unsigned size) override { invalidate_range(paddr, size); }
  void invalidate_range(uint32_t paddr, unsigned size);
  void invalidate_page(uint32_t paddr);
  void flush();
  void free_retired() {
    if (!retired_.empty()) retired_.clear();
  }
  size_t size() const { return blocks_.size(); }
  template <class F>
  void for_each(F f) {
    for (auto& [k, b] : blocks_) f(b.get());
  }
  // The front table as generated code probes it (jit/jit.cpp repeats fast_index).
  static constexpr unsigned kFastBits = 16;
  // Called for every block that is dropped (the JIT unchains it first).
  std::function<void(Block*)> on_retire;
  // Several CPUs (each with its cache and TLB): this cache's bit in the pages' code owners
  // (PhysicalMemory::page_code_owners), and where else a newly claimed code page must lose its
  // writable TLB entries (the other CPUs' MMUs).
  void set_code_owner(uint8_t bit) { owner_bit_ = bit; }
  uint8_t code_owner() const { return owner_bit_; }
  std::function<void(uint32_t paddr)> protect_elsewhere;
  Block* const* fast_table() const { return fast_; }
  // The 64-byte chunks [lo, hi) within a page covers, as a mask.
  static uint64_t chunk_bits(unsigned lo, unsigned hi);
  // Writes to pages holding code: all of them, those that touched no code, blocks dropped.
  struct SmcStats {
    uint64_t code_writes = 0, spared_writes = 0, blocks_dropped = 0;
  };
  const SmcStats& smc_stats() const { return smc_; }

 private:
  static constexpr unsigned FAST_BITS = kFastBits;
  static unsigned fast_index(uint32_t phys, uint32_t mode) {
    return ((phys ^ (phys >> FAST_BITS) ^ (mode << 7)) & ((1u << FAST_BITS) - 1));
  }
  static uint64_t key(uint32_t phys, uint32_t mode) { return (uint64_t{mode} << 32) | phys; }
  Block* find_slow(uint32_t phys, uint32_t mode);
  void retire(Block* b);

  Mmu& mmu_;
  uint8_t owner_bit_ = 1;
  Block* fast_[1u << FAST_BITS] = {};
  std::unordered_map<uint64_t, std::unique_ptr<Block>> blocks_;
  // Per physical page: its blocks and a mask of the 64-byte chunks their bytes cover, so a write
  // to data that shares a page with code drops nothing (self-modifying code at sub-page grain).
  struct PageCode {
    std::vector<Block*> blocks;
    uint64_t chunks = 0;
  };
  static void range_in_page(const Block* b, uint32_t page, unsigned& lo, unsigned& hi);
  std::unordered_map<uint32_t, PageCode> by_page_;
  std::vector<std::unique_ptr<Block>> retired_;
  SmcStats smc_;
};

// Handler of the sentinel after a block's last instruction, and of a dropped block's remainder.
const Insn* op_block_exit(Cpu&, const Insn*);

}  // namespace vx86
