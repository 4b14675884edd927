#include "frontend/gdb_monitor.h"

#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <functional>
#include <sstream>
#include <vector>

#include "emu/board/machine.h"

namespace vx86 {

namespace {

void appendf(std::string& out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void appendf(std::string& out, const char* fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) out.append(buf, std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1));
}

// RAM or ROM only: a debugger's read must not reach a device register.
bool read_phys(PhysicalMemory& mem, uint32_t phys, unsigned size, uint64_t& v) {
  v = 0;
  for (unsigned k = 0; k < size; ++k) {
    const uint8_t* page = mem.host_page(phys + k);
    if (!page) return false;
    v |= uint64_t{page[(phys + k) & PAGE_MASK]} << (8 * k);
  }
  return true;
}

std::string info_registers(const Cpu& c) {
  const CpuState& s = c.s;
  std::string o;
  appendf(o, "EAX=%08x EBX=%08x ECX=%08x EDX=%08x\nESI=%08x EDI=%08x EBP=%08x ESP=%08x\n", s.regs[EAX],
          s.regs[EBX], s.regs[ECX], s.regs[EDX], s.regs[ESI], s.regs[EDI], s.regs[EBP], s.regs[ESP]);
  const uint32_t f = s.eflags;
  appendf(o, "EIP=%08x EFL=%08x [%c%c%c%c%c%c%c%c%c] CPL=%u IOPL=%u%s%s\n", s.eip, f, f & F_OF ? 'O' : '-',
          f & F_DF ? 'D' : '-', f & F_IF ? 'I' : '-', f & F_TF ? 'T' : '-', f & F_SF ? 'S' : '-',
          f & F_ZF ? 'Z' : '-', f & F_AF ? 'A' : '-', f & F_PF ? 'P' : '-', f & F_CF ? 'C' : '-', s.cpl,
          (f >> 12) & 3, f & F_VM ? " VM86" : "", s.halted ? " HLT" : "");
  static const char* const names[SEG_COUNT] = {"ES", "CS", "SS", "DS", "FS", "GS"};
  auto seg = [&](const char* name, const SegReg& r) {
    appendf(o, "%-3s=%04x %08x %08x %04x\n", name, r.sel, r.base, r.limit, r.attr);
  };
  for (unsigned k = 0; k < SEG_COUNT; ++k) seg(names[k], s.seg[k]);
  seg("LDT", s.ldtr);
  seg("TR", s.tr);
  appendf(o, "GDT=     %08x %08x\nIDT=     %08x %08x\n", s.gdtr.base, unsigned{s.gdtr.limit}, s.idtr.base,
          unsigned{s.idtr.limit});
  appendf(o, "CR0=%08x CR2=%08x CR3=%08x CR4=%08x\n", s.cr[0], s.cr[2], s.cr[3], s.cr[4]);
  appendf(o, "DR0=%08x DR1=%08x DR2=%08x DR3=%08x\nDR6=%08x DR7=%08x\n", s.dr[0], s.dr[1], s.dr[2], s.dr[3],
          s.dr[6], s.dr[7]);
  appendf(o, "EFER=%016" PRIx64 " TSC offset=%016" PRIx64 "\n", s.msr.efer, s.tsc_offset);
  appendf(o, "FCW=%04x FSW=%04x icount=%" PRIu64 "\n", unsigned{s.fpu.cw}, unsigned{s.fpu.sw}, s.icount);
  return o;
}

// One leaf of the guest's page tables: `size` bytes at `lin` mapped to `phys`; `leaf` is the
// entry's flag bits (NX in bit 63), `user`/`write` the rights of the whole path.
struct Mapping {
  uint32_t lin, phys, size;
  uint64_t leaf;
  bool user, write;
};

// Every present mapping in ascending linear order, read from the tables as they are in memory
// (a table in MMIO or beyond RAM reads as absent).
void for_each_mapping(PhysicalMemory& mem, const PagingMode& mode,
                      const std::function<void(const Mapping&)>& f) {
  const unsigned esz = mode.pae ? 8 : 4, entries = mode.pae ? 512 : 1024;
  const uint64_t addr_mask = 0xFFFFF000ull;  // physical addresses below 4 GiB (no PAE beyond)
  auto table = [&](uint32_t base, const std::function<void(unsigned, uint64_t)>& g) {
    for (unsigned k = 0; k < entries; ++k) {
      uint64_t e;
      if (read_phys(mem, base + k * esz, esz, e) && (e & 1)) g(k, e);
    }
  };
  auto pd = [&](uint32_t pd_base, uint32_t lin_base, bool user, bool write) {
    const unsigned shift = mode.pae ? 21 : 22;
    table(pd_base, [&](unsigned k, uint64_t pde) {
      const uint32_t lin = lin_base + (uint32_t{k} << shift);
      const bool u = user && (pde & 4), w = write && (pde & 2);
      if ((pde & 0x80) && (mode.pae || mode.pse)) {
        const uint32_t size = 1u << shift;
        f({lin, static_cast<uint32_t>(pde & addr_mask & ~uint64_t{size - 1}), size, pde, u, w});
        return;
      }
      table(static_cast<uint32_t>(pde & addr_mask), [&](unsigned j, uint64_t pte) {
        f({lin + (uint32_t{j} << 12), static_cast<uint32_t>(pte & addr_mask), 4096, pte, u && (pte & 4),
           w && (pte & 2)});
      });
    });
  };
  if (!mode.pae) {
    pd(mode.cr3 & 0xFFFFF000u, 0, true, true);
    return;
  }
  for (unsigned k = 0; k < 4; ++k) {
    uint64_t pdpte;
    if (read_phys(mem, (mode.cr3 & 0xFFFFFFE0u) + 8 * k, 8, pdpte) && (pdpte & 1))
      pd(static_cast<uint32_t>(pdpte & addr_mask), k << 30, true, true);
  }
}

std::string info_tlb(Machine& m, bool ranges) {
  const PagingMode& mode = m.cpu().mmu.paging();
  if (!mode.enabled) return "paging is off: linear addresses are physical\n";
  std::string o;
  if (!ranges) {
    // As QEMU's `info tlb`: linear: physical and the leaf entry's flags.
    for_each_mapping(m.memory(), mode, [&](const Mapping& p) {
      const uint64_t e = p.leaf;
      appendf(o, "%08x: %08x %c%c%c%c%c%c%c%c%c%s\n", p.lin, p.phys, (e >> 63) ? 'X' : '-',
              e & 0x100 ? 'G' : '-', p.size > 4096 ? 'P' : '-', e & 0x40 ? 'D' : '-', e & 0x20 ? 'A' : '-',
              e & 0x10 ? 'C' : '-', e & 0x8 ? 'T' : '-', e & 4 ? 'U' : '-', e & 2 ? 'W' : '-',
              p.size > 4096 ? " (large page)" : "");
    });
    return o.empty() ? "no page is mapped\n" : o;
  }
  // As QEMU's `info mem`: runs of linear addresses with the same rights.
  bool open = false;
  uint32_t start = 0, end = 0;
  char rights[4] = {};
  auto close = [&] {
    if (open) appendf(o, "%08x-%08x %08x %s\n", start, end, end - start, rights);
  };
  for_each_mapping(m.memory(), mode, [&](const Mapping& p) {
    const char r[4] = {p.user ? 'u' : '-', 'r', p.write ? 'w' : '-', 0};
    if (open && p.lin == end && std::string(r) == rights) {
      end = p.lin + p.size;
      return;
    }
    close();
    open = true;
    start = p.lin;
    end = p.lin + p.size;
    std::copy(r, r + 4, rights);
  });
  close();
  return o.empty() ? "no page is mapped\n" : o;
}

// xp /Nfu ADDR (physical) and x /Nfu ADDR (linear): N items of u = b, h, w (default) or g bytes,
// in f = x (default), d or u.
std::string examine(Machine& m, const std::string& args, bool physical) {
  std::istringstream in(args);
  std::string first, addr_text;
  in >> first;
  const bool has_fmt = !first.empty() && first[0] == '/';
  if (has_fmt)
    in >> addr_text;
  else
    addr_text = first;
  const std::string fmt = has_fmt ? first : std::string();
  unsigned count = 0, size = 4;
  char format = 'x';
  for (size_t k = 1; k < fmt.size(); ++k) {  // (after the '/')
    const char ch = fmt[k];
    if (ch >= '0' && ch <= '9' && count < 100000)
      count = count * 10 + unsigned(ch - '0');
    else if (ch == 'b' || ch == 'h' || ch == 'w' || ch == 'g')
      size = ch == 'b' ? 1 : ch == 'h' ? 2 : ch == 'w' ? 4 : 8;
    else if (ch == 'x' || ch == 'd' || ch == 'u')
      format = ch;
    else
      return "bad format '" + fmt + "' (/Nfu: N items, f = x, d or u, u = b, h, w or g)\n";
  }
  if (count == 0) count = 1;
  if (count > 4096) count = 4096;
  char* end = nullptr;
  const unsigned long long addr = std::strtoull(addr_text.c_str(), &end, 0);
  if (addr_text.empty() || *end || addr > 0xFFFFFFFFull) return "bad address '" + addr_text + "'\n";
  std::string o;
  const unsigned per_line = 16 / size;
  for (unsigned k = 0; k < count; ++k) {
    const uint32_t at = static_cast<uint32_t>(addr) + k * size;
    if (k % per_line == 0) appendf(o, "%s%08x:", k ? "\n" : "", at);
    uint64_t v = 0;
    bool ok = true;
    for (unsigned b = 0; b < size && ok; ++b) {
      uint32_t phys = at + b;
      uint64_t byte;
      ok = (physical || m.cpu().mmu.debug_translate(at + b, phys)) && read_phys(m.memory(), phys, 1, byte);
      if (ok) v |= byte << (8 * b);
    }
    if (!ok) {
      appendf(o, " (cannot read %08x)", at);
      break;
    }
    if (format == 'x')
      appendf(o, " 0x%0*" PRIx64, static_cast<int>(2 * size), v);
    else if (format == 'u')
      appendf(o, " %" PRIu64, v);
    else
      appendf(o, " %" PRId64, static_cast<int64_t>(v << (64 - 8 * size)) >> (64 - 8 * size));
  }
  return o + "\n";
}

const char kHelp[] =
    "info registers    the CPU's state: general, segment (selector base limit attributes),\n"
    "                  table, control and debug registers, EFER, icount\n"
    "info tlb          every page the guest's page tables map: linear: physical flags\n"
    "                  (X=NX G=global P=large D=dirty A=accessed C=PCD T=PWT U=user W=writable)\n"
    "info mem          the mapped linear ranges with their rights (u=user, r, w)\n"
    "xp /Nfu ADDR      N items at physical ADDR (f: x d u; u: b h w g), RAM and ROM only\n"
    "x /Nfu ADDR       the same at a linear address (through the guest's page tables)\n";

}  // namespace

std::string monitor_command(Machine& m, const std::string& line) {
  std::istringstream in(line);
  std::string cmd, what;
  in >> cmd;
  if (cmd == "help" || cmd == "?") return kHelp;
  if (cmd == "info" || cmd == "i") {
    in >> what;
    if (what == "registers" || what == "r") return info_registers(m.cpu());
    if (what == "tlb") return info_tlb(m, false);
    if (what == "mem") return info_tlb(m, true);
    return "unknown: info " + what + " (info registers, info tlb, info mem)\n";
  }
  if (cmd == "xp" || cmd == "x") {
    std::string rest;
    std::getline(in, rest);
    return examine(m, rest, cmd == "xp");
  }
  return "unknown monitor command '" + cmd + "'\n" + kHelp;
}

}  // namespace vx86
