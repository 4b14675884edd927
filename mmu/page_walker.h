// PageWalker: the guest's page-table rules, exactly as the SDM gives them: 32-bit two-level paging
// with 4 MiB pages (PSE), PAE three-level paging with 2 MiB pages and NX; U/S and R/W checks with
// CR0.WP; accessed and dirty bits written back; #PF error codes.
#pragma once
#include <cstdint>

#include "mmu/physical_memory.h"

namespace vx86 {

enum class Access : uint8_t { Read, Write, Exec };

struct PagingMode {
  bool enabled = false;  // CR0.PG (with CR0.PE)
  bool pae = false;      // CR4.PAE
  bool pse = false;      // CR4.PSE (ignored under PAE, where large pages always exist)
  bool pge = false;      // CR4.PGE: global pages survive CR3 writes
  bool wp = false;       // CR0.WP: supervisor writes honour R/W
  bool nxe = false;      // EFER.NXE (PAE only)
  uint32_t cr3 = 0;
};

// #PF error-code bits.
enum : uint32_t { PF_P = 1, PF_W = 2, PF_U = 4, PF_RSVD = 8, PF_I = 16 };

struct Translation {
  bool ok;
  uint32_t error;      // #PF error code when !ok
  uint32_t phys;       // physical address of `lin` when ok
  bool writable;       // a write at this privilege would be allowed (ignoring the dirty bit)
  bool dirty;          // the mapping's dirty bit is set (so writes need no walk)
  bool executable;
  bool global;
};

// The entries a successful walk went through (PAE: PDPTE, PDE[, PTE]; else PDE[, PTE]), with the
// values they hold after the walk's A/D updates, and the raw permissions of the whole path: what
// a shadow page table needs to answer later walks and to know which writes change the answer.
struct WalkPath {
  struct Level {
    uint32_t addr;   // physical address of the entry
    uint64_t value;  // the entry after this walk's A/D bits
    uint8_t shift;   // log2 of the linear span one entry of this table maps (12, 21, 22 or 30)
  };
  Level level[3];
  unsigned levels = 0;
  bool pae = false;
  bool all_rw = false, all_us = false, any_nx = false;  // AND of R/W, AND of U/S, OR of NX
  bool dirty = false;                                   // the leaf's D bit after the walk
  bool global = false;                                  // G with CR4.PGE
};

// Walks the tables for `lin`; sets accessed (and, for writes, dirty) bits when the access is
// allowed, and the PDE's accessed bit when it is refused by a present mapping's rights (SDM 6.15),
// unless `set_bits` is false (a debugger's look, which the guest must not see). `user`
// is CPL 3 for ordinary accesses. `path`, if given, is filled when the walk succeeds.
Translation walk(PhysicalMemory& mem, const PagingMode& mode, uint32_t lin, Access acc, bool user,
                 bool set_bits = true, WalkPath* path = nullptr);

}  // namespace vx86
