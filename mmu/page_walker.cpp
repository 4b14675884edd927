#include "mmu/page_walker.h"

namespace vx86 {

namespace {

constexpr uint64_t P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80, G = 0x100;
constexpr uint64_t NX = 1ull << 63;
// PAE: physical address bits above 36 (the P6's MAXPHYADDR) are reserved.
constexpr uint64_t PAE_HIGH_RSVD = 0x7FFFFFF000000000ull;

uint64_t read64(PhysicalMemory& m, uint32_t a) { return m.read64(a); }

Translation fail(uint32_t error) { return Translation{false, error, 0, false, false, false, false}; }

uint32_t access_bits(Access acc, bool user, bool nx_active) {
  uint32_t e = 0;
  if (acc == Access::Write) e |= PF_W;
  if (user) e |= PF_U;
  if (acc == Access::Exec && nx_active) e |= PF_I;
  return e;
}

}  // namespace

Translation walk(PhysicalMemory& mem, const PagingMode& mode, uint32_t lin, Access acc, bool user,
                 bool set_bits, WalkPath* path) {
  const bool nx_active = mode.pae && mode.nxe;
  const uint32_t base_err = access_bits(acc, user, nx_active);
  uint64_t entries[3];  // the entries on the path, for permission checks and A/D updates
  uint32_t addrs[3];
  uint8_t shifts[3];
  unsigned levels = 0;
  uint64_t pdpte = 0;
  uint32_t pdpte_addr = 0;
  uint64_t leaf;
  uint32_t phys;

  if (!mode.pae) {
    uint32_t pde_addr = (mode.cr3 & ~PAGE_MASK) + ((lin >> 22) << 2);
    uint64_t pde = mem.read(pde_addr, 4);
    if (!(pde & P)) return fail(base_err);
    entries[levels] = pde;
    shifts[levels] = 22;
    addrs[levels++] = pde_addr;
    if ((pde & PS) && mode.pse) {
      leaf = pde;
      phys = static_cast<uint32_t>((pde & 0xFFC00000u) | (lin & 0x3FFFFFu));
    } else {
      uint32_t pte_addr = static_cast<uint32_t>(pde & ~uint64_t{PAGE_MASK}) + (((lin >> 12) & 0x3FF) << 2);
      uint64_t pte = mem.read(pte_addr, 4);
      if (!(pte & P)) return fail(base_err);
      entries[levels] = pte;
      shifts[levels] = 12;
      addrs[levels++] = pte_addr;
      leaf = pte;
      phys = static_cast<uint32_t>((pte & ~uint64_t{PAGE_MASK}) | (lin & PAGE_MASK));
    }
  } else {
    const uint64_t nx_rsvd = mode.nxe ? 0 : NX;
    pdpte_addr = (mode.cr3 & ~0x1Fu) + ((lin >> 30) << 3);
    pdpte = read64(mem, pdpte_addr);
    if (!(pdpte & P)) return fail(base_err);
    if (pdpte & (PAE_HIGH_RSVD | NX | 0x1E6)) return fail(base_err | PF_P | PF_RSVD);
    uint32_t pde_addr = static_cast<uint32_t>(pdpte & 0xFFFFF000u) + (((lin >> 21) & 0x1FF) << 3);
    uint64_t pde = read64(mem, pde_addr);
    if (!(pde & P)) return fail(base_err);
    if (pde & (PAE_HIGH_RSVD | nx_rsvd)) return fail(base_err | PF_P | PF_RSVD);
    entries[levels] = pde;
    shifts[levels] = 21;
    addrs[levels++] = pde_addr;
    if (pde & PS) {
      if (pde & 0x1FE000) return fail(base_err | PF_P | PF_RSVD);  // bits 20:13 of a 2 MiB PDE
      leaf = pde;
      phys = static_cast<uint32_t>((pde & 0xFFE00000u) | (lin & 0x1FFFFFu));
    } else {
      uint32_t pte_addr = static_cast<uint32_t>(pde & 0xFFFFF000u) + (((lin >> 12) & 0x1FF) << 3);
      uint64_t pte = read64(mem, pte_addr);
      if (!(pte & P)) return fail(base_err);
      if (pte & (PAE_HIGH_RSVD | nx_rsvd)) return fail(base_err | PF_P | PF_RSVD);
      entries[levels] = pte;
      shifts[levels] = 12;
      addrs[levels++] = pte_addr;
      leaf = pte;
      phys = static_cast<uint32_t>((pte & 0xFFFFF000u) | (lin & PAGE_MASK));
    }
  }

  // Effective permissions: the AND of R/W and U/S over the path, NX if any level has it.
  bool all_rw = true, all_us = true, any_nx = false;
  for (unsigned k = 0; k < levels; ++k) {
    all_rw &= (entries[k] & RW) != 0;
    all_us &= (entries[k] & US) != 0;
    any_nx |= nx_active && (entries[k] & NX);
  }
  const bool writable = user ? (all_rw && all_us) : (all_rw || !mode.wp);
  if ((user && !all_us) || (acc == Access::Write && !writable) || (acc == Access::Exec && any_nx)) {
    // A protection violation still sets the PDE's accessed bit (SDM vol. 3A 6.15, #PF); the
    // leaf's is model specific, and left alone here.
    for (unsigned k = 0; set_bits && k + 1 < levels; ++k)
      if (!(entries[k] & A)) mem.atomic_or32(addrs[k], static_cast<uint32_t>(A));
    return fail(base_err | PF_P);
  }

  // Accessed bits on every level; dirty on the leaf for writes. Only the bits being set are ORed
  // in (atomically): another CPU may be rewriting the entry meanwhile.
  for (unsigned k = 0; set_bits && k < levels; ++k) {
    uint64_t want = entries[k] | A;
    if (k == levels - 1 && acc == Access::Write) want |= D;
    if (want != entries[k]) mem.atomic_or32(addrs[k], static_cast<uint32_t>(want & ~entries[k]));
    entries[k] = want;
  }
  bool dirty = (leaf & D) || acc == Access::Write;
  if (path) {
    path->levels = 0;
    path->pae = mode.pae;
    if (mode.pae) path->level[path->levels++] = {pdpte_addr, pdpte, 30};
    for (unsigned k = 0; k < levels; ++k) path->level[path->levels++] = {addrs[k], entries[k], shifts[k]};
    path->all_rw = all_rw;
    path->all_us = all_us;
    path->any_nx = any_nx;
    path->dirty = set_bits ? dirty : (leaf & D) != 0;
    path->global = mode.pge && (leaf & G);
  }
  return Translation{true, 0, phys, writable, dirty, !any_nx, mode.pge && (leaf & G)};
}

}  // namespace vx86
