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

// Walks the tables for `lin`; sets accessed (and, for writes, dirty) bits when the access is
// allowed, unless `set_bits` is false (a debugger's look, which the guest must not see). `user`
// is CPL 3 for ordinary accesses.
Translation walk(PhysicalMemory& mem, const PagingMode& mode, uint32_t lin, Access acc, bool user,
                 bool set_bits = true);

}  // namespace vx86
