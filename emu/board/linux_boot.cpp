#include "emu/board/linux_boot.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "devices/fw_cfg.h"
#include "emu/board/machine.h"
#include "emu/board/mp_table.h"
#include "emu/segmentation.h"

namespace vx86 {

namespace {

constexpr uint32_t KIB = 1024, MIB = 1024 * 1024;
constexpr uint32_t LOW_RAM_END = 0xA0000;    // 640 KiB: VGA memory, option ROMs and BIOS above
constexpr uint32_t HIGH_RAM_START = 0x100000;

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

uint16_t rd16(const std::vector<uint8_t>& v, size_t off) {
  return static_cast<uint16_t>(v[off] | (v[off + 1] << 8));
}
uint32_t rd32(const std::vector<uint8_t>& v, size_t off) {
  return uint32_t{v[off]} | (uint32_t{v[off + 1]} << 8) | (uint32_t{v[off + 2]} << 16) |
         (uint32_t{v[off + 3]} << 24);
}
uint64_t rd64(const std::vector<uint8_t>& v, size_t off) {
  return uint64_t{rd32(v, off)} | (uint64_t{rd32(v, off + 4)} << 32);
}

// Guest RAM as the loaders see it: every write is checked against the RAM size by the caller
// (fits()) before it happens.
class Guest {
 public:
  explicit Guest(PhysicalMemory& mem) : mem_(mem), ram_(mem.ram_size()) {}
  uint32_t ram_size() const { return ram_; }
  bool fits(uint64_t addr, uint64_t len) const { return addr <= ram_ && len <= ram_ - addr; }
  void put(uint32_t addr, const void* src, size_t n) {
    if (n) std::memcpy(mem_.ram() + addr, src, n);
  }
  void zero(uint32_t addr, size_t n) {
    if (n) std::memset(mem_.ram() + addr, 0, n);
  }
  void put8(uint32_t addr, uint8_t v) { mem_.ram()[addr] = v; }
  void put16(uint32_t addr, uint16_t v) { put(addr, &v, 2); }  // little-endian host
  void put32(uint32_t addr, uint32_t v) { put(addr, &v, 4); }
  void put64(uint32_t addr, uint64_t v) { put(addr, &v, 8); }
  void put_str(uint32_t addr, const std::string& s) { put(addr, s.c_str(), s.size() + 1); }

 private:
  PhysicalMemory& mem_;
  uint32_t ram_;
};

struct MemRange {
  uint64_t base, size;
  uint32_t type;  // 1 = usable RAM, 2 = reserved (e820 / Multiboot numbering)
};

// The board's memory map: RAM below 640 KiB, the legacy hole reserved, RAM from 1 MiB up; the
// top `reserved_top` bytes of RAM reserved (the ACPI tables).
std::vector<MemRange> memory_map(uint32_t ram, uint32_t reserved_top = 0, uint32_t low_end = LOW_RAM_END) {
  std::vector<MemRange> map;
  map.push_back({0, std::min(ram, low_end), 1});
  map.push_back({low_end, HIGH_RAM_START - low_end, 2});
  if (ram > HIGH_RAM_START + reserved_top) map.push_back({HIGH_RAM_START, ram - reserved_top - HIGH_RAM_START, 1});
  if (reserved_top && ram > HIGH_RAM_START + reserved_top) map.push_back({ram - reserved_top, reserved_top, 2});
  return map;
}

// The ACPI tables (when the board has them) go in the top ACPI_AREA bytes of RAM, reserved in the
// e820 map; the kernel finds the RSDP through boot_params.acpi_rsdp_addr (protocol 2.14).
constexpr uint32_t ACPI_AREA = 64 * KIB;
// Without ACPI but with APICs, the MP tables go in the last KiB of base memory (639 KiB, where the
// MP specification lets the OS look), reserved in the e820 map.
constexpr uint32_t MP_TABLE_ADDR = 639 * KIB;

bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen) {
  return alen && blen && a < b + blen && b < a + alen;
}

// Flat 4 GiB segments, protected mode on, paging and interrupts off, at `eip`; the GDT at `gdt_addr`.
void enter_protected_mode(Machine& m, Guest& g, uint32_t eip, uint32_t gdt_addr = BOOT_GDT_ADDR,
                          uint32_t stack_top = BOOT_STACK_TOP) {
  Cpu& c = m.cpu();
  c.reset();
  const uint64_t gdt[4] = {0, 0, 0x00CF9B000000FFFFull, 0x00CF93000000FFFFull};
  g.put(gdt_addr, gdt, sizeof gdt);
  c.s.gdtr = {gdt_addr, sizeof gdt - 1};
  c.s.idtr = {0, 0};  // no IDT until the kernel loads one: a stray exception shuts down
  c.s.cr[0] = 0x00000011u;  // PE | ET; caches on, paging off
  const uint32_t flat = 0xFFFFFFFFu;
  const uint16_t code_attr = 0xC09B;  // G, D, present, DPL 0, code, readable, accessed
  const uint16_t data_attr = 0xC093;  // G, B, present, DPL 0, data, writable, accessed
  static_assert((ATTR_G | ATTR_P | ATTR_S | ATTR_CODE | ATTR_RW | ATTR_ACCESSED) == 0x809B);
  static_assert(SEG_ATTR_DB == 0x4000);
  for (unsigned k = 0; k < SEG_COUNT; ++k)
    c.s.seg[k] = SegReg{static_cast<uint16_t>(BOOT_SEL_DATA), data_attr, 0, flat};
  c.s.seg[CS] = SegReg{static_cast<uint16_t>(BOOT_SEL_CODE), code_attr, 0, flat};
  c.s.eflags = F_BIT1;
  c.s.eip = eip;
  for (unsigned r = 0; r < 8; ++r) c.s.regs[r] = 0;
  c.s.regs[ESP] = stack_top;
  c.set_cpl(0);
  c.update_mode();
  c.update_paging();
  c.mmu.flush();
  c.blocks.flush();
}

// ---------------------------------------------------------------------------------------------
// Linux boot protocol

// Setup header offsets in the bzImage file (and in boot_params, which embeds it at 0x1f1).
enum : uint32_t {
  HDR_SETUP_SECTS = 0x1F1,
  HDR_SYSSIZE = 0x1F4,
  HDR_VID_MODE = 0x1FA,
  HDR_BOOT_FLAG = 0x1FE,
  HDR_JUMP = 0x200,
  HDR_MAGIC = 0x202,
  HDR_VERSION = 0x206,
  HDR_TYPE_OF_LOADER = 0x210,
  HDR_LOADFLAGS = 0x211,
  HDR_CODE32_START = 0x214,
  HDR_RAMDISK_IMAGE = 0x218,
  HDR_RAMDISK_SIZE = 0x21C,
  HDR_HEAP_END_PTR = 0x224,
  HDR_CMD_LINE_PTR = 0x228,
  HDR_INITRD_ADDR_MAX = 0x22C,
  HDR_KERNEL_ALIGNMENT = 0x230,
  HDR_RELOCATABLE = 0x234,
  HDR_CMDLINE_SIZE = 0x238,
  HDR_PREF_ADDRESS = 0x258,
  HDR_INIT_SIZE = 0x260,
  HDR_END_MAX = 0x290,  // boot_params: the header region ends where edd_mbr_sig_buffer starts
};
// boot_params fields outside the setup header.
enum : uint32_t {
  BP_SCREEN_INFO = 0x000,
  BP_ACPI_RSDP_ADDR = 0x070,
  BP_ALT_MEM_K = 0x1E0,
  BP_E820_ENTRIES = 0x1E8,
  BP_E820_TABLE = 0x2D0,
  BP_SIZE = 0x1000,
};
constexpr uint32_t HDRS_MAGIC = 0x53726448;  // "HdrS"
constexpr uint8_t LOADED_HIGH = 0x01;

// What a bzImage needs and where its parts go, every header field checked against the file and the
// RAM below `usable_top` (shared by the direct loader and the firmware's, load_linux_fw_cfg).
struct LinuxPlan {
  uint16_t version;
  uint32_t setup_size, pm_size, hdr_end, code32_start, initrd_addr, initrd_size;
};

std::string plan_linux(const std::vector<uint8_t>& k, uint64_t initrd_bytes, const std::string& cmdline,
                       uint32_t ram_size, uint32_t usable_top, LinuxPlan& p) {
  const size_t size = k.size();
  if (size < HDR_END_MAX) return "kernel: file too small for a Linux bzImage (" + std::to_string(size) + " bytes)";
  if (rd32(k, HDR_MAGIC) != HDRS_MAGIC) return "kernel: no Linux setup header (\"HdrS\" missing at 0x202)";
  if (rd16(k, HDR_BOOT_FLAG) != 0xAA55)
    return "kernel: bad boot_flag " + hex(rd16(k, HDR_BOOT_FLAG)) + " in the setup header (want 0xaa55)";
  const uint16_t version = rd16(k, HDR_VERSION);
  char vbuf[16];
  std::snprintf(vbuf, sizeof vbuf, "%u.%02u", version >> 8, version & 0xFF);
  if (version < 0x0206)
    return std::string("kernel: boot protocol ") + vbuf + " is too old (vx86 needs 2.06 or later)";
  if (!(k[HDR_LOADFLAGS] & LOADED_HIGH))
    return "kernel: not a bzImage (LOADED_HIGH clear): zImage kernels are not supported";
  const uint32_t setup_sects = k[HDR_SETUP_SECTS] ? k[HDR_SETUP_SECTS] : 4;
  const uint32_t setup_size = (setup_sects + 1) * 512;
  if (setup_size >= size)
    return "kernel: setup_sects " + std::to_string(setup_sects) + " reaches beyond the end of the file (" +
           std::to_string(size) + " bytes)";
  // The header's extent: the 2-byte jump at 0x200 skips it.
  uint32_t hdr_end = 0x202 + k[HDR_JUMP + 1];
  if (k[HDR_JUMP] != 0xEB) return "kernel: setup header has no short jump at 0x200";
  if (hdr_end < HDR_CMDLINE_SIZE + 4) return "kernel: setup header too short for protocol " + std::string(vbuf);
  hdr_end = std::min<uint32_t>(hdr_end, HDR_END_MAX);
  if (hdr_end > setup_size) return "kernel: setup header extends beyond the setup sectors";

  const uint32_t pm_size = static_cast<uint32_t>(size - setup_size);
  const uint64_t syssize_bytes = uint64_t{rd32(k, HDR_SYSSIZE)} * 16;
  if (syssize_bytes == 0 || syssize_bytes > uint64_t{pm_size} + 15)
    return "kernel: truncated or bad syssize (header says " + std::to_string(syssize_bytes) + " bytes, file has " +
           std::to_string(pm_size) + ")";
  const bool relocatable = k[HDR_RELOCATABLE] != 0;
  const uint32_t align = rd32(k, HDR_KERNEL_ALIGNMENT);
  if (relocatable && (align < 4096 || (align & (align - 1))))
    return "kernel: bad kernel_alignment " + hex(align) + " (must be a power of two >= 4 KiB)";
  uint64_t initrd_max = rd32(k, HDR_INITRD_ADDR_MAX);  // address of the initrd's last byte
  if (initrd_max == 0) initrd_max = 0x37FFFFFF;        // the pre-2.03 default
  const uint32_t cmdline_size = rd32(k, HDR_CMDLINE_SIZE);
  const uint32_t code32_start = rd32(k, HDR_CODE32_START);

  // The protected-mode kernel at 1 MiB; code32_start must point into it.
  const uint64_t kernel_end = uint64_t{LINUX_KERNEL_ADDR} + pm_size;
  if (uint64_t{LINUX_KERNEL_ADDR} + pm_size > ram_size)
    return "kernel: " + std::to_string(pm_size) + " bytes do not fit in " + std::to_string(ram_size / MIB) +
           " MiB of RAM";
  if (code32_start < LINUX_KERNEL_ADDR || code32_start >= kernel_end)
    return "kernel: code32_start " + hex(code32_start) + " lies outside the kernel loaded at 1 MiB";
  // Room to decompress (protocol 2.10+): the kernel unpacks itself at pref_address (or its load
  // address aligned up, if relocatable and above it) and needs init_size bytes there.
  uint64_t needed_end = kernel_end;
  if (version >= 0x020A) {
    const uint64_t pref = rd64(k, HDR_PREF_ADDRESS);
    const uint32_t init_size = rd32(k, HDR_INIT_SIZE);
    uint64_t base = pref;
    if (relocatable) base = std::max<uint64_t>(pref, (uint64_t{LINUX_KERNEL_ADDR} + align - 1) & ~uint64_t{align - 1});
    if (pref >= (1ull << 32)) return "kernel: pref_address " + hex(pref) + " is above 4 GiB";
    needed_end = std::max(needed_end, base + init_size);
    if (needed_end > usable_top)
      return "kernel: needs " + std::to_string((needed_end + MIB - 1) / MIB) +
             " MiB of RAM to unpack (have " + std::to_string(ram_size / MIB) + " MiB)";
  }

  // Command line.
  if (cmdline.size() > cmdline_size)
    return "kernel: command line too long (" + std::to_string(cmdline.size()) + " bytes, the kernel takes " +
           std::to_string(cmdline_size) + ")";
  if (LINUX_CMDLINE_ADDR + cmdline.size() + 1 > LOW_RAM_END)
    return "kernel: command line too long (" + std::to_string(cmdline.size()) + " bytes)";
  if (cmdline.find('\0') != std::string::npos) return "kernel: command line contains a NUL byte";

  // Initrd: as high as allowed, page-aligned, above everything the kernel needs.
  uint32_t initrd_addr = 0, initrd_size = 0;
  if (initrd_bytes) {
    const uint64_t isz = initrd_bytes;
    const uint64_t top = std::min<uint64_t>(initrd_max + 1, usable_top);
    if (isz > top || ((top - isz) & ~uint64_t{0xFFF}) < needed_end)
      return "initrd: " + std::to_string(isz) + " bytes do not fit between the kernel (up to " +
             hex(needed_end) + ") and " + hex(top) + " (RAM " + std::to_string(ram_size / MIB) +
             " MiB, initrd_addr_max " + hex(initrd_max) + ")";
    initrd_addr = static_cast<uint32_t>((top - isz) & ~uint64_t{0xFFF});
    initrd_size = static_cast<uint32_t>(isz);
  }
  if (ram_size < HIGH_RAM_START) return "kernel: needs more than 1 MiB of RAM";

  p = LinuxPlan{version, setup_size, pm_size, hdr_end, code32_start, initrd_addr, initrd_size};
  return "";
}

std::string load_linux(Machine& m, const std::vector<uint8_t>& k, const std::vector<BootModule>& modules,
                       const std::string& cmdline) {
  Guest g(m.memory());
  const AcpiTables* acpi = m.acpi_tables();
  const uint32_t acpi_area = acpi && g.ram_size() >= 2 * HIGH_RAM_START ? ACPI_AREA : 0;
  const uint32_t usable_top = g.ram_size() - acpi_area;  // the kernel and initrd stay below
  if (acpi_area && acpi->tables.size() + 16 + acpi->rsdp.size() > acpi_area)
    return "kernel: the ACPI tables do not fit in their area";
  if (modules.size() > 1)
    return "kernel: a Linux kernel takes one initrd, not " + std::to_string(modules.size());
  const uint64_t initrd_bytes = modules.empty() ? 0 : modules[0].data.size();
  LinuxPlan plan;
  if (std::string err = plan_linux(k, initrd_bytes, cmdline, g.ram_size(), usable_top, plan); !err.empty())
    return err;
  const auto [version, setup_size, pm_size, hdr_end, code32_start, initrd_addr, initrd_size] = plan;

  // Everything checked: write guest memory.
  g.put(LINUX_KERNEL_ADDR, k.data() + setup_size, pm_size);
  if (initrd_size) g.put(initrd_addr, modules[0].data.data(), initrd_size);
  g.put_str(LINUX_CMDLINE_ADDR, cmdline);

  const uint32_t bp = LINUX_BOOT_PARAMS_ADDR;
  g.zero(bp, BP_SIZE);
  g.put(bp + HDR_SETUP_SECTS, k.data() + HDR_SETUP_SECTS, hdr_end - HDR_SETUP_SECTS);
  g.put16(bp + HDR_VID_MODE, 0xFFFF);  // "normal" VGA text mode
  g.put8(bp + HDR_TYPE_OF_LOADER, 0xFF);  // undefined boot loader
  g.put8(bp + HDR_LOADFLAGS, static_cast<uint8_t>(k[HDR_LOADFLAGS] & ~0x80u));  // no CAN_USE_HEAP: no setup code runs
  g.put16(bp + HDR_HEAP_END_PTR, 0);
  g.put32(bp + HDR_CMD_LINE_PTR, LINUX_CMDLINE_ADDR);
  g.put32(bp + HDR_RAMDISK_IMAGE, initrd_addr);
  g.put32(bp + HDR_RAMDISK_SIZE, initrd_size);
  // screen_info: the VGA text mode 3, 80x25, as the BIOS leaves it.
  const uint32_t ext_kib = (g.ram_size() - HIGH_RAM_START) / KIB;
  g.put16(bp + BP_SCREEN_INFO + 0x02, static_cast<uint16_t>(std::min<uint32_t>(ext_kib, 0xFFFF)));  // ext_mem_k
  g.put8(bp + BP_SCREEN_INFO + 0x06, 3);    // orig_video_mode
  g.put8(bp + BP_SCREEN_INFO + 0x07, 80);   // orig_video_cols
  g.put8(bp + BP_SCREEN_INFO + 0x0E, 25);   // orig_video_lines
  g.put8(bp + BP_SCREEN_INFO + 0x0F, 1);    // orig_video_isVGA
  g.put16(bp + BP_SCREEN_INFO + 0x10, 16);  // orig_video_points
  g.put32(bp + BP_ALT_MEM_K, ext_kib);
  const bool mp_table = !acpi && m.lapic();
  const auto map = memory_map(g.ram_size(), acpi_area, mp_table ? MP_TABLE_ADDR : LOW_RAM_END);
  g.put8(bp + BP_E820_ENTRIES, static_cast<uint8_t>(map.size()));
  for (size_t i = 0; i < map.size(); ++i) {
    const uint32_t e = bp + BP_E820_TABLE + static_cast<uint32_t>(i) * 20;
    g.put64(e, map[i].base);
    g.put64(e + 8, map[i].size);
    g.put32(e + 16, map[i].type);
  }

  if (acpi_area) {
    AcpiTables t = *acpi;
    t.link(usable_top);
    const uint32_t rsdp = usable_top + ((static_cast<uint32_t>(t.tables.size()) + 15) & ~15u);
    g.put(usable_top, t.tables.data(), t.tables.size());
    g.put(rsdp, t.rsdp.data(), t.rsdp.size());
    if (version >= 0x020E) g.put64(bp + BP_ACPI_RSDP_ADDR, rsdp);
  }

  if (mp_table) {
    const std::vector<uint8_t> mp = build_mp_table(static_cast<unsigned>(m.cpu_count()), MP_TABLE_ADDR);
    g.put(MP_TABLE_ADDR, mp.data(), std::min<size_t>(mp.size(), LOW_RAM_END - MP_TABLE_ADDR));
  }

  enter_protected_mode(m, g, code32_start);
  m.cpu().s.regs[ESI] = bp;
  return "";
}

}  // namespace

// -kernel through the firmware: the parts as fw_cfg items for roms/linuxboot.asm, placed as QEMU's
// loader places them for its linuxboot_dma.bin.
namespace {
constexpr uint32_t FW_SETUP_ADDR = 0x10000;
constexpr uint32_t FW_FIRMWARE_RESERVE = MIB;  // the top of RAM: SeaBIOS's tables
const uint8_t kLinuxbootRom[] = {
#include "roms/linuxboot.inc"
};
std::vector<uint8_t> le32(uint32_t v) {
  return {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v >> 16),
          static_cast<uint8_t>(v >> 24)};
}
}  // namespace

std::string load_linux_fw_cfg(FwCfg& f, uint32_t ram_size, const std::vector<uint8_t>& k,
                              const std::vector<uint8_t>& initrd, const std::string& cmdline) {
  if (detect_kernel(k) != KernelKind::Linux)
    return "kernel: only a Linux bzImage boots through the firmware (use the direct loader for Multiboot)";
  if (ram_size < 2 * FW_FIRMWARE_RESERVE + LINUX_KERNEL_ADDR) return "kernel: needs at least 3 MiB of RAM";
  LinuxPlan p;
  if (std::string err = plan_linux(k, initrd.size(), cmdline, ram_size, ram_size - FW_FIRMWARE_RESERVE, p);
      !err.empty())
    return err;
  // The setup code, its heap and its stack live in the 64 KiB from FW_SETUP_ADDR, below the
  // command line.
  const uint32_t heap_end = LINUX_CMDLINE_ADDR - FW_SETUP_ADDR - 0x200;
  if (p.setup_size > heap_end)
    return "kernel: the real-mode setup code is too large (" + std::to_string(p.setup_size) + " bytes)";
  std::vector<uint8_t> setup(k.begin(), k.begin() + p.setup_size);
  auto put16 = [&setup](uint32_t at, uint16_t v) { std::memcpy(setup.data() + at, &v, 2); };
  auto put32 = [&setup](uint32_t at, uint32_t v) { std::memcpy(setup.data() + at, &v, 4); };
  put16(HDR_VID_MODE, 0xFFFF);       // "normal"
  setup[HDR_TYPE_OF_LOADER] = 0xB0;  // QEMU's loader type
  setup[HDR_LOADFLAGS] |= 0x80;      // CAN_USE_HEAP: heap_end_ptr is valid
  put16(HDR_HEAP_END_PTR, static_cast<uint16_t>(heap_end));
  put32(HDR_CMD_LINE_PTR, LINUX_CMDLINE_ADDR);
  put32(HDR_RAMDISK_IMAGE, p.initrd_addr);
  put32(HDR_RAMDISK_SIZE, p.initrd_size);

  std::vector<uint8_t> line(cmdline.begin(), cmdline.end());
  line.push_back(0);
  f.set_item(FwCfg::SETUP_ADDR, le32(FW_SETUP_ADDR));
  f.set_item(FwCfg::SETUP_SIZE, le32(p.setup_size));
  f.set_item(FwCfg::SETUP_DATA, std::move(setup));
  f.set_item(FwCfg::KERNEL_ADDR, le32(LINUX_KERNEL_ADDR));
  f.set_item(FwCfg::KERNEL_SIZE, le32(p.pm_size));
  f.set_item(FwCfg::KERNEL_DATA, std::vector<uint8_t>(k.begin() + p.setup_size, k.end()));
  f.set_item(FwCfg::INITRD_ADDR, le32(p.initrd_addr));
  f.set_item(FwCfg::INITRD_SIZE, le32(p.initrd_size));
  f.set_item(FwCfg::INITRD_DATA, initrd);
  f.set_item(FwCfg::CMDLINE_ADDR, le32(LINUX_CMDLINE_ADDR));
  f.set_item(FwCfg::CMDLINE_SIZE, le32(static_cast<uint32_t>(line.size())));
  f.set_item(FwCfg::CMDLINE_DATA, std::move(line));
  // The option ROM, its checksum byte (the last) making the bytes sum to 0.
  std::vector<uint8_t> rom(std::begin(kLinuxbootRom), std::end(kLinuxbootRom));
  uint8_t sum = 0;
  for (size_t i = 0; i + 1 < rom.size(); ++i) sum = static_cast<uint8_t>(sum + rom[i]);
  rom.back() = static_cast<uint8_t>(-sum);
  if (!f.find_file(kLinuxbootFile)) f.add_file(kLinuxbootFile, std::move(rom));
  return "";
}

namespace {

// ---------------------------------------------------------------------------------------------
// Multiboot v1

constexpr uint32_t MB_MAGIC = 0x1BADB002;
constexpr uint32_t MB_BOOTLOADER_MAGIC = 0x2BADB002;
constexpr uint32_t MB_SEARCH = 8192;
constexpr uint32_t MB_PAGE_ALIGN = 1u << 0, MB_MEMORY_INFO = 1u << 1, MB_VIDEO_MODE = 1u << 2,
                   MB_AOUT_KLUDGE = 1u << 16;
enum : uint32_t {
  MBI_FLAGS = 0, MBI_MEM_LOWER = 4, MBI_MEM_UPPER = 8, MBI_CMDLINE = 16, MBI_MODS_COUNT = 20,
  MBI_MODS_ADDR = 24, MBI_MMAP_LENGTH = 44, MBI_MMAP_ADDR = 48, MBI_BOOT_LOADER_NAME = 64, MBI_SIZE = 88,
};
enum : uint32_t {
  MBI_F_MEM = 1u << 0, MBI_F_CMDLINE = 1u << 2, MBI_F_MODS = 1u << 3, MBI_F_MMAP = 1u << 6,
  MBI_F_LOADER_NAME = 1u << 9,
};

// Where a Multiboot kernel may be loaded: inside RAM, outside the legacy hole. (The loader's own
// structures go where the kernel is not: place_multiboot_area.)
std::string check_placement(const Guest& g, uint64_t addr, uint64_t len, const char* what) {
  if (!g.fits(addr, len))
    return std::string("kernel: ") + what + " " + hex(addr) + "+" + hex(len) + " lies outside RAM (" +
           std::to_string(g.ram_size() / MIB) + " MiB)";
  if (overlaps(addr, len, LOW_RAM_END, HIGH_RAM_START - LOW_RAM_END))
    return std::string("kernel: ") + what + " " + hex(addr) + "+" + hex(len) +
           " overlaps the 640 KiB-1 MiB hole";
  return "";
}

// The Multiboot loader's area, one block: the GDT at +0, the initial stack's top at +0x2000, the
// information (structure, memory map, module list, strings) from +0x4000. At BOOT_GDT_ADDR
// (0x5000) when the kernel and modules leave that free, else at the lowest 4 KiB-aligned place
// above the first page that is free (kernels that load at 0x8000 are common). 0 if none fits.
constexpr uint32_t MB_AREA_STACK_TOP = 0x2000, MB_AREA_INFO = 0x4000, MB_PAGE = 0x1000;
uint32_t place_multiboot_area(const Guest& g, uint64_t size, const std::vector<MemRange>& used) {
  auto free_at = [&](uint64_t a) {
    if (!g.fits(a, size) || overlaps(a, size, LOW_RAM_END, HIGH_RAM_START - LOW_RAM_END)) return false;
    for (const MemRange& r : used)
      if (overlaps(a, size, r.base, r.size)) return false;
    return true;
  };
  std::vector<uint64_t> candidates = {BOOT_GDT_ADDR, MB_PAGE, HIGH_RAM_START};
  for (const MemRange& r : used)
    candidates.push_back((r.base + r.size + MB_PAGE - 1) & ~uint64_t{MB_PAGE - 1});
  std::sort(candidates.begin() + 1, candidates.end());
  for (uint64_t a : candidates)
    if (free_at(a)) return static_cast<uint32_t>(a);
  return 0;
}

struct Segment {
  uint32_t addr;
  uint32_t file_off, file_size;
  uint32_t mem_size;
};

std::string load_multiboot(Machine& m, const std::vector<uint8_t>& k, const std::vector<BootModule>& modules,
                           const std::string& cmdline, const std::string& kernel_name) {
  Guest g(m.memory());
  const size_t size = k.size();
  // Find the header: 4-byte aligned in the first 8 KiB, magic + flags + checksum == 0.
  size_t hdr = SIZE_MAX;
  bool bad_checksum = false;
  const size_t search = std::min<size_t>(size, MB_SEARCH);
  for (size_t off = 0; off + 12 <= search; off += 4) {
    if (rd32(k, off) != MB_MAGIC) continue;
    if (static_cast<uint32_t>(MB_MAGIC + rd32(k, off + 4) + rd32(k, off + 8)) == 0) {
      hdr = off;
      break;
    }
    bad_checksum = true;
  }
  if (hdr == SIZE_MAX)
    return bad_checksum ? "kernel: Multiboot header checksum is wrong"
                        : "kernel: not a Linux bzImage nor a Multiboot kernel (no header found)";
  const uint32_t flags = rd32(k, hdr + 4);
  const uint32_t unknown_required = flags & 0xFFFFu & ~(MB_PAGE_ALIGN | MB_MEMORY_INFO | MB_VIDEO_MODE);
  if (unknown_required)
    return "kernel: Multiboot header requires unsupported features (flags " + hex(flags) + ")";
  // MB_VIDEO_MODE: like QEMU, vx86 sets no video mode and gives no VBE information (the info
  // structure's flags tell the kernel so).

  std::vector<Segment> segs;
  uint32_t entry = 0;
  const bool is_elf = size >= 52 && k[0] == 0x7F && k[1] == 'E' && k[2] == 'L' && k[3] == 'F';
  if (flags & MB_AOUT_KLUDGE) {
    if (hdr + 32 > size) return "kernel: Multiboot header truncated (address fields missing)";
    const uint32_t header_addr = rd32(k, hdr + 12), load_addr = rd32(k, hdr + 16),
                   load_end = rd32(k, hdr + 20), bss_end = rd32(k, hdr + 24);
    entry = rd32(k, hdr + 28);
    if (header_addr < load_addr || header_addr - load_addr > hdr)
      return "kernel: Multiboot header_addr " + hex(header_addr) + " and load_addr " + hex(load_addr) +
             " are inconsistent with the header at file offset " + hex(hdr);
    const uint32_t load_off = static_cast<uint32_t>(hdr - (header_addr - load_addr));
    uint64_t load_size;
    if (load_end == 0) {
      load_size = size - load_off;
    } else {
      if (load_end < load_addr) return "kernel: Multiboot load_end_addr is below load_addr";
      load_size = load_end - load_addr;
      if (load_off + load_size > size)
        return "kernel: Multiboot load_end_addr " + hex(load_end) + " reaches beyond the end of the file";
    }
    uint64_t mem_size = load_size;
    if (bss_end != 0) {
      if (bss_end < load_addr + load_size) return "kernel: Multiboot bss_end_addr is below the loaded image's end";
      mem_size = bss_end - uint64_t{load_addr};
    }
    segs.push_back({load_addr, load_off, static_cast<uint32_t>(load_size), static_cast<uint32_t>(mem_size)});
  } else if (is_elf) {
    if (k[4] == 2) return "kernel: 64-bit ELF Multiboot kernel: give a 32-bit one";
    if (k[4] != 1 || k[5] != 1) return "kernel: not a 32-bit little-endian ELF file";
    if (rd16(k, 16) != 2) return "kernel: ELF file is not an executable (e_type " + std::to_string(rd16(k, 16)) + ")";
    if (rd16(k, 18) != 3) return "kernel: ELF file is not for i386 (e_machine " + std::to_string(rd16(k, 18)) + ")";
    const uint32_t e_entry = rd32(k, 24), phoff = rd32(k, 28);
    const uint16_t phentsize = rd16(k, 42), phnum = rd16(k, 44);
    if (phentsize < 32) return "kernel: ELF e_phentsize " + std::to_string(phentsize) + " is too small";
    if (phnum == 0 || uint64_t{phoff} + uint64_t{phnum} * phentsize > size)
      return "kernel: ELF program headers lie outside the file";
    entry = e_entry;
    bool entry_mapped = false;
    for (unsigned i = 0; i < phnum; ++i) {
      const size_t ph = phoff + size_t{i} * phentsize;
      if (rd32(k, ph) != 1) continue;  // PT_LOAD only
      const uint32_t off = rd32(k, ph + 4), vaddr = rd32(k, ph + 8), paddr = rd32(k, ph + 12),
                     filesz = rd32(k, ph + 16), memsz = rd32(k, ph + 20);
      if (memsz == 0) continue;
      if (filesz > memsz) return "kernel: ELF segment " + std::to_string(i) + " has p_filesz > p_memsz";
      if (uint64_t{off} + filesz > size)
        return "kernel: ELF segment " + std::to_string(i) + " reaches beyond the end of the file";
      segs.push_back({paddr, off, filesz, memsz});
      // A kernel linked at a virtual address gives its entry as one: translate it as QEMU does.
      if (!entry_mapped && e_entry >= vaddr && uint64_t{e_entry} < uint64_t{vaddr} + memsz) {
        entry = e_entry - vaddr + paddr;
        entry_mapped = true;
      }
    }
    if (segs.empty()) return "kernel: ELF file has no loadable segment";
  } else {
    return "kernel: Multiboot kernel is not ELF and its header has no load addresses (flag 16)";
  }

  uint64_t highest = 0;
  for (size_t i = 0; i < segs.size(); ++i) {
    const Segment& s = segs[i];
    std::string err = check_placement(g, s.addr, s.mem_size, "image");
    if (!err.empty()) return err;
    for (size_t j = 0; j < i; ++j)
      if (overlaps(s.addr, s.mem_size, segs[j].addr, segs[j].mem_size)) return "kernel: ELF segments overlap";
    highest = std::max<uint64_t>(highest, uint64_t{s.addr} + s.mem_size);
  }
  bool entry_inside = false;
  for (const Segment& s : segs) entry_inside |= entry >= s.addr && uint64_t{entry} < uint64_t{s.addr} + s.mem_size;
  if (!entry_inside) return "kernel: Multiboot entry point " + hex(entry) + " lies outside the loaded image";

  // Modules: page-aligned, one after another above the kernel.
  std::vector<uint32_t> mod_addr;
  uint64_t next = (highest + 0xFFF) & ~uint64_t{0xFFF};
  for (size_t i = 0; i < modules.size(); ++i) {
    const uint64_t len = modules[i].data.size();
    if (next < HIGH_RAM_START && overlaps(next, std::max<uint64_t>(len, 1), 0, HIGH_RAM_START)) next = HIGH_RAM_START;
    if (!g.fits(next, len))
      return "module " + std::to_string(i) + " (" + module_file_name(modules[i].cmdline) + ", " +
             std::to_string(len) + " bytes) does not fit in RAM above the kernel";
    mod_addr.push_back(static_cast<uint32_t>(next));
    next = (next + len + 0xFFF) & ~uint64_t{0xFFF};
  }

  // The info area: structure, memory map, module list, then the strings.
  if (g.ram_size() < HIGH_RAM_START) return "kernel: Multiboot needs more than 1 MiB of RAM";
  const auto map = memory_map(g.ram_size());
  const uint32_t mmap_len = static_cast<uint32_t>(map.size()) * 24;
  const std::string full_cmdline = cmdline.empty() ? kernel_name : kernel_name + " " + cmdline;
  const std::string loader_name = "vx86";
  uint64_t info_size =
      MBI_SIZE + mmap_len + modules.size() * 16 + full_cmdline.size() + 1 + loader_name.size() + 1;
  for (const BootModule& mod : modules) info_size += mod.cmdline.size() + 1;
  std::vector<MemRange> used;
  for (const Segment& s : segs) used.push_back({s.addr, s.mem_size, 1});
  for (size_t i = 0; i < modules.size(); ++i) used.push_back({mod_addr[i], modules[i].data.size(), 1});
  const uint32_t area = place_multiboot_area(g, MB_AREA_INFO + info_size, used);
  if (!area)
    return "kernel: no room in RAM for the Multiboot information (" + std::to_string(info_size) +
           " bytes) outside the kernel and its modules";
  const uint32_t mbi = area + MB_AREA_INFO;
  const uint32_t mmap_addr = mbi + MBI_SIZE;
  const uint32_t mods_addr = mmap_addr + mmap_len;
  uint64_t strings = mods_addr + modules.size() * 16;

  // Everything checked: write guest memory.
  for (const Segment& s : segs) {
    g.put(s.addr, k.data() + s.file_off, s.file_size);
    g.zero(s.addr + s.file_size, s.mem_size - s.file_size);
  }
  for (size_t i = 0; i < modules.size(); ++i) g.put(mod_addr[i], modules[i].data.data(), modules[i].data.size());

  g.zero(mbi, MBI_SIZE);
  auto put_string = [&](const std::string& s) {
    const uint32_t at = static_cast<uint32_t>(strings);
    g.put_str(at, s);
    strings += s.size() + 1;
    return at;
  };
  uint32_t info_flags = MBI_F_MEM | MBI_F_CMDLINE | MBI_F_MMAP | MBI_F_LOADER_NAME;
  g.put32(mbi + MBI_MEM_LOWER, LOW_RAM_END / KIB);
  g.put32(mbi + MBI_MEM_UPPER, (g.ram_size() - HIGH_RAM_START) / KIB);
  g.put32(mbi + MBI_CMDLINE, put_string(full_cmdline));
  g.put32(mbi + MBI_BOOT_LOADER_NAME, put_string(loader_name));
  for (size_t i = 0; i < map.size(); ++i) {
    const uint32_t e = mmap_addr + static_cast<uint32_t>(i) * 24;
    g.put32(e, 20);  // size of the entry, not counting this field
    g.put64(e + 4, map[i].base);
    g.put64(e + 12, map[i].size);
    g.put32(e + 20, map[i].type);
  }
  g.put32(mbi + MBI_MMAP_LENGTH, mmap_len);
  g.put32(mbi + MBI_MMAP_ADDR, mmap_addr);
  if (!modules.empty()) {
    info_flags |= MBI_F_MODS;
    for (size_t i = 0; i < modules.size(); ++i) {
      const uint32_t e = mods_addr + static_cast<uint32_t>(i) * 16;
      g.put32(e, mod_addr[i]);
      g.put32(e + 4, mod_addr[i] + static_cast<uint32_t>(modules[i].data.size()));
      g.put32(e + 8, put_string(modules[i].cmdline));
      g.put32(e + 12, 0);
    }
    g.put32(mbi + MBI_MODS_COUNT, static_cast<uint32_t>(modules.size()));
    g.put32(mbi + MBI_MODS_ADDR, mods_addr);
  }
  g.put32(mbi + MBI_FLAGS, info_flags);

  enter_protected_mode(m, g, entry, area, area + MB_AREA_STACK_TOP);
  m.cpu().s.regs[EAX] = MB_BOOTLOADER_MAGIC;
  m.cpu().s.regs[EBX] = mbi;
  return "";
}

bool has_hdrs(const std::vector<uint8_t>& k) { return k.size() >= HDR_MAGIC + 4 && rd32(k, HDR_MAGIC) == HDRS_MAGIC; }

}  // namespace

KernelKind detect_kernel(const std::vector<uint8_t>& kernel) {
  if (has_hdrs(kernel)) return KernelKind::Linux;
  const size_t search = std::min<size_t>(kernel.size(), MB_SEARCH);
  for (size_t off = 0; off + 12 <= search; off += 4)
    if (rd32(kernel, off) == MB_MAGIC) return KernelKind::Multiboot;
  return KernelKind::Unknown;
}

std::vector<std::string> split_module_list(const std::string& arg) {
  std::vector<std::string> out;
  std::string cur;
  for (size_t i = 0; i < arg.size(); ++i) {
    if (arg[i] == ',') {
      if (i + 1 < arg.size() && arg[i + 1] == ',') {
        cur += ',';
        ++i;
        continue;
      }
      out.push_back(cur);
      cur.clear();
    } else {
      cur += arg[i];
    }
  }
  out.push_back(cur);
  return out;
}

std::string module_file_name(const std::string& module_string) {
  const size_t sp = module_string.find(' ');
  return module_string.substr(0, sp);
}

std::string load_kernel(Machine& m, const std::vector<uint8_t>& kernel, const std::vector<BootModule>& modules,
                        const std::string& cmdline, const std::string& kernel_name) {
  if (has_hdrs(kernel)) return load_linux(m, kernel, modules, cmdline);
  return load_multiboot(m, kernel, modules, cmdline, kernel_name);
}

std::string load_kernel(Machine& m, const std::vector<uint8_t>& kernel, const std::vector<uint8_t>& initrd,
                        const std::string& cmdline) {
  std::vector<BootModule> modules;
  if (!initrd.empty()) modules.push_back({initrd, "initrd"});
  return load_kernel(m, kernel, modules, cmdline);
}

}  // namespace vx86
