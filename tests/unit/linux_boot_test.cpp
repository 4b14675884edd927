// The direct-boot loader (emu/board/linux_boot.cpp): synthetic bzImages around a nasm payload
// (roms/tests/linux_boot_payload.asm) and a nasm Multiboot kernel (roms/tests/multiboot_kernel.asm)
// run in a Machine and check what the loader built from inside the guest; malformed images must
// give an error message, never a crash.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>

#include "emu/board/linux_boot.h"
#include "emu/board/machine.h"

using namespace vx86;

namespace {

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void put16(std::vector<uint8_t>& v, size_t off, uint16_t x) { std::memcpy(&v[off], &x, 2); }
void put32(std::vector<uint8_t>& v, size_t off, uint32_t x) { std::memcpy(&v[off], &x, 4); }
void put64(std::vector<uint8_t>& v, size_t off, uint64_t x) { std::memcpy(&v[off], &x, 8); }
uint32_t get32(const std::vector<uint8_t>& v, size_t off) {
  uint32_t x;
  std::memcpy(&x, &v[off], 4);
  return x;
}

struct BzOptions {
  uint8_t setup_sects = 1;
  uint16_t version = 0x020F;
  uint8_t loadflags = 0x01;
  uint16_t boot_flag = 0xAA55;
  uint32_t magic = 0x53726448;
  uint32_t code32_start = 0x100000;
  uint32_t initrd_addr_max = 0x7FFFFFFF;
  uint32_t kernel_alignment = 0x200000;
  uint8_t relocatable = 0;
  uint32_t cmdline_size = 2047;
  uint64_t pref_address = 0x100000;
  uint32_t init_size = 0;      // 0: the payload's size
  int32_t syssize_delta = 0;   // added to the honest syssize
};

// A bzImage: setup sectors holding just the setup header, then the protected-mode payload.
std::vector<uint8_t> make_bzimage(const std::vector<uint8_t>& payload, const BzOptions& o = {}) {
  const size_t setup = (size_t{o.setup_sects ? o.setup_sects : 4u} + 1) * 512;
  std::vector<uint8_t> img(std::max<size_t>(setup, 1024) + payload.size(), 0);
  img[0x1F1] = o.setup_sects;
  put32(img, 0x1F4, static_cast<uint32_t>((payload.size() + 15) / 16 + o.syssize_delta));
  put16(img, 0x1FA, 0xFFFF);
  put16(img, 0x1FE, o.boot_flag);
  img[0x200] = 0xEB;
  img[0x201] = 0x6A;  // jump over the header: it ends at 0x26c
  put32(img, 0x202, o.magic);
  put16(img, 0x206, o.version);
  img[0x211] = o.loadflags;
  put32(img, 0x214, o.code32_start);
  put32(img, 0x22C, o.initrd_addr_max);
  put32(img, 0x230, o.kernel_alignment);
  img[0x234] = o.relocatable;
  put32(img, 0x238, o.cmdline_size);
  put64(img, 0x258, o.pref_address);
  put32(img, 0x260, o.init_size ? o.init_size : static_cast<uint32_t>(payload.size()));
  std::memcpy(img.data() + setup, payload.data(), payload.size());
  img.resize(setup + payload.size());
  return img;
}

std::vector<uint8_t> make_data(size_t size, const std::string& head, const std::string& tail) {
  std::vector<uint8_t> d(size);
  for (size_t i = 0; i < size; ++i) d[i] = static_cast<uint8_t>(i * 7 + 3);
  std::memcpy(d.data(), head.data(), head.size());
  std::memcpy(d.data() + size - tail.size(), tail.data(), tail.size());
  return d;
}

class BootTest : public ::testing::Test {
 protected:
  // Without ACPI by default: the payload checks the plain three-entry memory map.
  void make_machine(uint32_t ram_mb = 32, bool acpi = false) {
    if (!out_) out_ = std::tmpfile();
    MachineConfig cfg;
    cfg.ram_mb = ram_mb;
    cfg.acpi = acpi;
    cfg.bios.assign(64 * 1024, 0xF4);  // never runs: the loader sets the CPU up directly
    cfg.debugcon = out_;
    m_ = std::make_unique<Machine>(cfg);
  }
  void TearDown() override {
    m_.reset();
    if (out_) std::fclose(out_);
  }
  std::string output() {
    std::fflush(out_);
    std::rewind(out_);
    std::string s;
    int c;
    while ((c = std::fgetc(out_)) != EOF) s += static_cast<char>(c);
    return s;
  }
  uint32_t rd32(uint32_t addr) { return m_->memory().read(addr, 4); }
  uint8_t rd8(uint32_t addr) { return m_->memory().read8(addr); }

  FILE* out_ = nullptr;
  std::unique_ptr<Machine> m_;
};

const std::vector<uint8_t>& payload() {
  static const std::vector<uint8_t> p = read_file(VX86_LINUX_PAYLOAD);
  return p;
}
const std::vector<uint8_t>& mb_kernel() {
  static const std::vector<uint8_t> k = read_file(VX86_MULTIBOOT_KERNEL);
  return k;
}
const std::vector<uint8_t>& mb_kernel_low() {  // the same, loaded at 0x8000
  static const std::vector<uint8_t> k = read_file(VX86_MULTIBOOT_KERNEL_LOW);
  return k;
}

const std::string kCmdline = "console=ttyS0 vx86-test";

}  // namespace

TEST_F(BootTest, LinuxPayloadSeesBootParams) {
  ASSERT_FALSE(payload().empty()) << VX86_LINUX_PAYLOAD;
  make_machine(32);
  const auto kernel = make_bzimage(payload());
  EXPECT_EQ(detect_kernel(kernel), KernelKind::Linux);
  const auto initrd = make_data(8192 + 100, "INITRD<<", ">>END");
  ASSERT_EQ(load_kernel(*m_, kernel, initrd, kCmdline), "");

  // Host-side view of what the loader built.
  const uint32_t bp = LINUX_BOOT_PARAMS_ADDR;
  EXPECT_EQ(m_->cpu().s.regs[ESI], bp);
  EXPECT_EQ(m_->cpu().s.eip, 0x100000u);
  EXPECT_EQ(rd8(bp + 0x210), 0xFF);
  EXPECT_EQ(rd32(bp + 0x218), (32u * 1024 * 1024 - 8292) & ~0xFFFu);  // as high as possible
  EXPECT_EQ(rd32(bp + 0x21C), 8292u);
  EXPECT_EQ(rd8(bp + 0x1E8), 3);
  EXPECT_EQ(rd32(bp + 0x2D0 + 48), 31u * 1024 * 1024);  // entry 2's length (low dword)

  EXPECT_EQ(m_->run(1'000'000), MachineExit::GuestExit) << output();
  EXPECT_EQ(m_->guest_exit_status(), 1) << output();
  EXPECT_NE(output().find("linux_boot_payload: PASS"), std::string::npos) << output();
}

// With ACPI the tables take the top 64 KiB of RAM, reserved in the e820 map, the initrd goes below
// them, and boot_params.acpi_rsdp_addr names the RSDP (checksum, RSDT inside the area).
TEST_F(BootTest, LinuxAcpiTablesAtTheTopOfRam) {
  make_machine(32, true);
  const auto initrd = make_data(8192 + 100, "INITRD<<", ">>END");
  ASSERT_EQ(load_kernel(*m_, make_bzimage(payload()), initrd, kCmdline), "");
  const uint32_t bp = LINUX_BOOT_PARAMS_ADDR, top = 32u << 20, area = top - 64 * 1024;
  EXPECT_EQ(rd32(bp + 0x218), (area - 8292) & ~0xFFFu);
  ASSERT_EQ(rd8(bp + 0x1E8), 4);
  const uint32_t e3 = bp + 0x2D0 + 3 * 20;
  EXPECT_EQ(rd32(e3), area);
  EXPECT_EQ(rd32(e3 + 8), 64u * 1024);
  EXPECT_EQ(rd32(e3 + 16), 2u);  // reserved
  EXPECT_EQ(rd32(bp + 0x2D0 + 2 * 20 + 8), area - 0x100000);  // RAM from 1 MiB ends there
  const uint32_t rsdp = rd32(bp + 0x70);
  ASSERT_GE(rsdp, area);
  ASSERT_LT(rsdp + 20, top);
  std::string sig;
  uint8_t sum = 0;
  for (uint32_t i = 0; i < 20; ++i) sum = static_cast<uint8_t>(sum + rd8(rsdp + i));
  for (uint32_t i = 0; i < 8; ++i) sig += static_cast<char>(rd8(rsdp + i));
  EXPECT_EQ(sig, "RSD PTR ");
  EXPECT_EQ(sum, 0);
  const uint32_t rsdt = rd32(rsdp + 16);
  EXPECT_GE(rsdt, area);
  EXPECT_EQ(rd32(rsdt), 0x54445352u);  // "RSDT"
}

TEST_F(BootTest, LinuxInitrdBelowInitrdAddrMax) {
  make_machine(32);
  BzOptions o;
  o.initrd_addr_max = 0x00FFFFFF;  // 16 MiB - 1
  const auto initrd = make_data(10000, "INITRD<<", ">>END");
  ASSERT_EQ(load_kernel(*m_, make_bzimage(payload(), o), initrd, kCmdline), "");
  EXPECT_EQ(rd32(LINUX_BOOT_PARAMS_ADDR + 0x218), (0x1000000u - 10000) & ~0xFFFu);
  EXPECT_EQ(m_->run(1'000'000), MachineExit::GuestExit) << output();
  EXPECT_EQ(m_->guest_exit_status(), 1) << output();
}

TEST_F(BootTest, LinuxNoInitrd) {
  make_machine(16);
  ASSERT_EQ(load_kernel(*m_, make_bzimage(payload()), std::vector<uint8_t>{}, ""), "");
  EXPECT_EQ(rd32(LINUX_BOOT_PARAMS_ADDR + 0x218), 0u);
  EXPECT_EQ(rd32(LINUX_BOOT_PARAMS_ADDR + 0x21C), 0u);
  EXPECT_EQ(rd8(rd32(LINUX_BOOT_PARAMS_ADDR + 0x228)), 0);  // empty command line
}

TEST_F(BootTest, LinuxMalformedHeaders) {
  make_machine(32);
  const auto initrd = make_data(4096, "INITRD<<", ">>END");
  auto err_of = [&](const BzOptions& o, const std::vector<uint8_t>& rd = {}, const std::string& cl = "x") {
    return load_kernel(*m_, make_bzimage(payload(), o), rd, cl);
  };
  auto expect_error = [](const std::string& err, const char* what) {
    EXPECT_NE(err.find(what), std::string::npos) << "error was: '" << err << "', want '" << what << "'";
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  };
  BzOptions o;
  o.magic = 0x12345678;
  expect_error(err_of(o), "not a Linux bzImage");
  o = {};
  o.version = 0x0205;
  expect_error(err_of(o), "boot protocol 2.05 is too old");
  o = {};
  o.setup_sects = 200;
  {
    auto img = make_bzimage(payload());
    img[0x1F1] = 200;
    expect_error(load_kernel(*m_, img, std::vector<uint8_t>{}, ""), "setup_sects 200 reaches beyond");
  }
  o = {};
  o.loadflags = 0;
  expect_error(err_of(o), "zImage");
  o = {};
  o.boot_flag = 0x1234;
  expect_error(err_of(o), "boot_flag");
  o = {};
  o.syssize_delta = 1000;
  expect_error(err_of(o), "syssize");
  o = {};
  o.code32_start = 0x2000000;
  expect_error(err_of(o), "code32_start");
  o = {};
  o.init_size = 64u << 20;
  expect_error(err_of(o), "MiB of RAM to unpack");
  o = {};
  o.relocatable = 1;
  o.kernel_alignment = 0x3000;
  expect_error(err_of(o), "kernel_alignment");
  o = {};
  o.cmdline_size = 5;
  expect_error(err_of(o, {}, "console=ttyS0"), "command line too long");
  o = {};
  expect_error(err_of(o, make_data(40u << 20, "I", "E")), "initrd: ");
  o = {};
  o.initrd_addr_max = 0x100FFF;  // below the kernel
  expect_error(err_of(o, initrd), "initrd: ");
  expect_error(load_kernel(*m_, std::vector<uint8_t>(100, 0), std::vector<uint8_t>{}, ""), "not a Linux bzImage");
  expect_error(load_kernel(*m_, std::vector<uint8_t>{}, std::vector<uint8_t>{}, ""), "not a Linux bzImage");
  // Truncated right after the magic: too small to hold the header.
  auto img = make_bzimage(payload());
  img.resize(0x210);
  expect_error(load_kernel(*m_, img, std::vector<uint8_t>{}, ""), "too small");
  // A kernel that does not fit in RAM.
  make_machine(2);
  expect_error(load_kernel(*m_, make_bzimage(std::vector<uint8_t>(3u << 20, 0x90)), std::vector<uint8_t>{}, ""),
               "do not fit");
}

// Random damage to headers and sizes: the loader answers with "" or an error, and never touches
// memory outside guest RAM (run under ASan to see that).
TEST_F(BootTest, HostileImagesNeverCrash) {
  make_machine(4);
  std::mt19937 rng(1234);
  const auto bz = make_bzimage(payload());
  std::vector<uint8_t> mb = mb_kernel();
  ASSERT_FALSE(mb.empty());
  const auto mod = make_data(3000, "MODULE0-", "=END");
  for (int iter = 0; iter < 3000; ++iter) {
    const bool linux = iter % 2 == 0;
    std::vector<uint8_t> img = linux ? bz : mb;
    const size_t lo = linux ? 0x1F0 : 0, hi = linux ? 0x270 : 48;
    const int n = 1 + static_cast<int>(rng() % 6);
    for (int j = 0; j < n; ++j) {
      const size_t off = lo + rng() % (hi - lo);
      img[off] = static_cast<uint8_t>(rng());
    }
    if (!linux) {  // keep the checksum right half of the time so the address fields get parsed
      if (rng() % 2) put32(img, 8, 0u - 0x1BADB002u - get32(img, 4));
    }
    if (rng() % 4 == 0) img.resize(rng() % (img.size() + 1));
    std::vector<BootModule> mods;
    if (rng() % 2) mods.push_back({mod, "m"});
    const std::string err = load_kernel(*m_, img, mods, "x");
    EXPECT_EQ(err.find('\n'), std::string::npos);
  }
}

// Multiboot: a.out-kludge addresses (flag 16) as assembled.
TEST_F(BootTest, MultibootKernelChecksItsInfo) {
  ASSERT_FALSE(mb_kernel().empty()) << VX86_MULTIBOOT_KERNEL;
  EXPECT_EQ(detect_kernel(mb_kernel()), KernelKind::Multiboot);
  make_machine(32);
  std::vector<BootModule> mods;
  mods.push_back({make_data(5000, "MODULE0-", "=END"), "mod0.bin arg1 arg2"});
  mods.push_back({make_data(100, "MODULE1-", "!"), "mod1.bin"});
  ASSERT_EQ(load_kernel(*m_, mb_kernel(), mods, "opt=42", "multiboot_kernel"), "");
  EXPECT_EQ(m_->cpu().s.regs[EAX], 0x2BADB002u);
  EXPECT_EQ(m_->cpu().s.regs[EBX], MULTIBOOT_INFO_ADDR);
  EXPECT_EQ(m_->run(1'000'000), MachineExit::GuestExit) << output();
  EXPECT_EQ(m_->guest_exit_status(), 1) << output();
  EXPECT_NE(output().find("multiboot_kernel: PASS"), std::string::npos) << output();
}

// A kernel that loads at 0x8000, over the loader's usual area (0x5000-0x9000+): the loader puts its
// GDT, stack and information elsewhere (the kernel checks that none of it is inside its image).
TEST_F(BootTest, MultibootKernelAt0x8000) {
  ASSERT_FALSE(mb_kernel_low().empty()) << VX86_MULTIBOOT_KERNEL_LOW;
  make_machine(32);
  std::vector<BootModule> mods;
  mods.push_back({make_data(5000, "MODULE0-", "=END"), "mod0.bin arg1 arg2"});
  mods.push_back({make_data(100, "MODULE1-", "!"), "mod1.bin"});
  ASSERT_EQ(load_kernel(*m_, mb_kernel_low(), mods, "opt=42", "multiboot_kernel"), "");
  EXPECT_NE(m_->cpu().s.regs[EBX], MULTIBOOT_INFO_ADDR);
  EXPECT_EQ(m_->run(1'000'000), MachineExit::GuestExit) << output();
  EXPECT_EQ(m_->guest_exit_status(), 1) << output();
  EXPECT_NE(output().find("multiboot_kernel: PASS"), std::string::npos) << output();
}

namespace {
// The same kernel as an ELF32 executable: flag 16 cleared, one PT_LOAD whose virtual addresses are
// 3 GiB above the physical ones (so the loader must translate e_entry).
std::vector<uint8_t> multiboot_as_elf(std::vector<uint8_t> flat) {
  const uint32_t hdr_off = 0, flags = get32(flat, hdr_off + 4) & ~0x10000u;
  const uint32_t load_addr = get32(flat, hdr_off + 16), bss_end = get32(flat, hdr_off + 24),
                 entry = get32(flat, hdr_off + 28);
  put32(flat, hdr_off + 4, flags);
  put32(flat, hdr_off + 8, 0u - 0x1BADB002u - flags);
  const uint32_t virt = 0xC0000000u;
  std::vector<uint8_t> elf(52 + 32 + flat.size(), 0);
  const uint8_t ident[] = {0x7F, 'E', 'L', 'F', 1, 1, 1};
  std::memcpy(elf.data(), ident, sizeof ident);
  put16(elf, 16, 2);   // ET_EXEC
  put16(elf, 18, 3);   // EM_386
  put32(elf, 20, 1);
  put32(elf, 24, entry + virt);
  put32(elf, 28, 52);  // e_phoff
  put16(elf, 40, 52);
  put16(elf, 42, 32);
  put16(elf, 44, 1);
  put32(elf, 52 + 0, 1);  // PT_LOAD
  put32(elf, 52 + 4, 84);
  put32(elf, 52 + 8, load_addr + virt);
  put32(elf, 52 + 12, load_addr);
  put32(elf, 52 + 16, static_cast<uint32_t>(flat.size()));
  put32(elf, 52 + 20, bss_end - load_addr);
  put32(elf, 52 + 24, 7);
  put32(elf, 52 + 28, 4096);
  std::memcpy(elf.data() + 84, flat.data(), flat.size());
  return elf;
}
}  // namespace

TEST_F(BootTest, MultibootElfKernel) {
  make_machine(32);
  std::vector<BootModule> mods;
  mods.push_back({make_data(5000, "MODULE0-", "=END"), "mod0.bin arg1 arg2"});
  mods.push_back({make_data(100, "MODULE1-", "!"), "mod1.bin"});
  // Dirty the bss first: the loader must zero it.
  for (uint32_t a = 0x100800; a < 0x102000; a += 4) m_->memory().write(a, 0xDEADBEEF, 4);
  ASSERT_EQ(load_kernel(*m_, multiboot_as_elf(mb_kernel()), mods, "opt=42", "multiboot_kernel"), "");
  EXPECT_EQ(m_->run(1'000'000), MachineExit::GuestExit) << output();
  EXPECT_EQ(m_->guest_exit_status(), 1) << output();
  EXPECT_NE(output().find("multiboot_kernel: PASS"), std::string::npos) << output();
}

TEST_F(BootTest, MultibootMalformed) {
  make_machine(32);
  auto expect_error = [&](const std::vector<uint8_t>& k, const char* what, std::vector<BootModule> mods = {}) {
    const std::string err = load_kernel(*m_, k, mods, "", "k");
    EXPECT_NE(err.find(what), std::string::npos) << "error was: '" << err << "', want '" << what << "'";
  };
  auto k = mb_kernel();
  put32(k, 8, get32(k, 8) + 1);
  expect_error(k, "checksum");
  k = mb_kernel();
  put32(k, 4, get32(k, 4) | 8);  // unknown required feature bit 3
  put32(k, 8, 0u - 0x1BADB002u - get32(k, 4));
  expect_error(k, "unsupported features");
  k = mb_kernel();
  put32(k, 20, 0x100000 + 0x100000);  // load_end_addr beyond the file
  expect_error(k, "load_end_addr");
  k = mb_kernel();
  put32(k, 28, 0x500000);  // entry outside the image
  expect_error(k, "entry point");
  k = mb_kernel();
  put32(k, 12, 0x0FFFFF);  // header_addr below load_addr
  expect_error(k, "header_addr");
  k = mb_kernel();
  put32(k, 16, 0x3000000); put32(k, 12, 0x3000000); put32(k, 20, 0); put32(k, 24, 0); put32(k, 28, 0x3000040);
  expect_error(k, "outside RAM");
  k = mb_kernel();
  put32(k, 16, 0xB0000); put32(k, 12, 0xB0000); put32(k, 20, 0); put32(k, 24, 0); put32(k, 28, 0xB0040);
  expect_error(k, "hole");
  k = mb_kernel();  // all of low RAM, and a module filling the rest: nowhere for the boot information
  put32(k, 16, 0x1000);
  put32(k, 12, 0x1000);
  put32(k, 20, 0);
  put32(k, 24, 0x9F000);
  put32(k, 28, 0x1040);
  expect_error(k, "no room in RAM for the Multiboot information",
               {BootModule{std::vector<uint8_t>((31u << 20) - 0x2000), "big.bin"}});
  expect_error(mb_kernel(), "does not fit in RAM",
               {BootModule{std::vector<uint8_t>(40u << 20), "big.bin"}});
  auto elf = multiboot_as_elf(mb_kernel());
  elf[4] = 2;
  expect_error(elf, "64-bit");
  elf = multiboot_as_elf(mb_kernel());
  put32(elf, 52 + 16, 0x10000000);  // p_filesz beyond the file
  put32(elf, 52 + 20, 0x10000000);
  expect_error(elf, "beyond the end of the file");
  elf = multiboot_as_elf(mb_kernel());
  put16(elf, 44, 1000);  // program headers beyond the file
  expect_error(elf, "program headers");
}

TEST(BootModules, SplitsLikeQemu) {
  EXPECT_EQ(split_module_list("a.bin x y,b.bin"), (std::vector<std::string>{"a.bin x y", "b.bin"}));
  EXPECT_EQ(split_module_list("a,,b.bin z"), (std::vector<std::string>{"a,b.bin z"}));
  EXPECT_EQ(module_file_name("a.bin x y"), "a.bin");
  EXPECT_EQ(module_file_name("b.bin"), "b.bin");
}

// Debian's i386 kernel, when scripts/build-guest.sh has fetched it: the header must be accepted.
TEST_F(BootTest, DebianKernelHeaderAccepted) {
  const auto kernel = read_file(std::string(VX86_GUEST_DIR) + "/vmlinuz");
  if (kernel.empty()) GTEST_SKIP() << "no guest/vmlinuz (scripts/build-guest.sh builds it)";
  make_machine(256);
  EXPECT_EQ(detect_kernel(kernel), KernelKind::Linux);
  EXPECT_EQ(load_kernel(*m_, kernel, make_data(1 << 20, "07070", "TRAILER"), "console=ttyS0"), "");
  EXPECT_EQ(m_->cpu().s.eip, 0x100000u);
}

// -kernel through the firmware: the fw_cfg items the option ROM copies, with the setup header
// patched as the boot protocol asks of a loader that runs the real-mode setup code (loader type,
// CAN_USE_HEAP with heap_end_ptr, cmd_line_ptr, the initrd's place and size), and the option ROM
// (signature, size, checksum).
TEST(FirmwareKernel, FwCfgItemsForTheOptionRom) {
  FwCfg f;
  const auto kernel = make_bzimage(payload());
  const std::vector<uint8_t> initrd = make_data(100000, "INITRD", "END");
  const uint32_t ram = 64u << 20;
  ASSERT_EQ(load_linux_fw_cfg(f, ram, kernel, initrd, "console=ttyS0 quiet"), "");
  PortBus bus;
  f.attach(bus);
  auto item = [&bus](uint16_t key, size_t n) {
    bus.write(FwCfg::kSelectorPort, key, 2);
    std::vector<uint8_t> v;
    for (size_t i = 0; i < n; ++i) v.push_back(static_cast<uint8_t>(bus.read(FwCfg::kDataPort, 1)));
    return v;
  };
  auto u32 = [&item](uint16_t key) { return get32(item(key, 4), 0); };
  const uint32_t setup_size = 2 * 512;  // setup_sects 1
  EXPECT_EQ(u32(FwCfg::SETUP_ADDR), 0x10000u);
  EXPECT_EQ(u32(FwCfg::SETUP_SIZE), setup_size);
  const std::vector<uint8_t> setup = item(FwCfg::SETUP_DATA, setup_size);
  EXPECT_EQ(setup[0x210], 0xB0) << "type_of_loader";
  EXPECT_EQ(setup[0x211], 0x81) << "LOADED_HIGH kept, CAN_USE_HEAP set";
  EXPECT_EQ(get32(setup, 0x224) & 0xFFFF, 0x20000u - 0x10000u - 0x200u) << "heap_end_ptr";
  EXPECT_EQ(get32(setup, 0x228), 0x20000u) << "cmd_line_ptr";
  const uint32_t initrd_addr = get32(setup, 0x218);
  EXPECT_EQ(get32(setup, 0x21C), initrd.size());
  EXPECT_EQ(initrd_addr % 4096, 0u);
  EXPECT_LE(initrd_addr + initrd.size(), ram - (1u << 20)) << "below the firmware's top MiB";
  EXPECT_GT(initrd_addr + initrd.size() + 4096, ram - (1u << 20)) << "as high as it goes";
  EXPECT_EQ(std::vector<uint8_t>(setup.begin(), setup.begin() + 0x200),
            std::vector<uint8_t>(kernel.begin(), kernel.begin() + 0x200));
  EXPECT_EQ(u32(FwCfg::KERNEL_ADDR), 0x100000u);
  EXPECT_EQ(u32(FwCfg::KERNEL_SIZE), kernel.size() - setup_size);
  EXPECT_EQ(item(FwCfg::KERNEL_DATA, 64),
            std::vector<uint8_t>(kernel.begin() + setup_size, kernel.begin() + setup_size + 64));
  EXPECT_EQ(u32(FwCfg::INITRD_ADDR), initrd_addr);
  EXPECT_EQ(u32(FwCfg::INITRD_SIZE), initrd.size());
  EXPECT_EQ(item(FwCfg::INITRD_DATA, 6), std::vector<uint8_t>(initrd.begin(), initrd.begin() + 6));
  EXPECT_EQ(u32(FwCfg::CMDLINE_ADDR), 0x20000u);
  EXPECT_EQ(u32(FwCfg::CMDLINE_SIZE), 20u);
  const std::vector<uint8_t> line = item(FwCfg::CMDLINE_DATA, 20);
  EXPECT_EQ(std::string(line.begin(), line.end()), std::string("console=ttyS0 quiet") + '\0');
  // The option ROM: 55 AA, its size in 512-byte blocks, bytes summing to 0 (mod 256).
  const std::vector<uint8_t>* rom = f.find_file(kLinuxbootFile);
  ASSERT_NE(rom, nullptr);
  ASSERT_GE(rom->size(), 512u);
  EXPECT_EQ((*rom)[0], 0x55);
  EXPECT_EQ((*rom)[1], 0xAA);
  EXPECT_EQ(size_t{(*rom)[2]} * 512, rom->size());
  uint8_t sum = 0;
  for (uint8_t b : *rom) sum = static_cast<uint8_t>(sum + b);
  EXPECT_EQ(sum, 0);
}

TEST(FirmwareKernel, RefusesWhatItCannotBoot) {
  FwCfg f;
  EXPECT_NE(load_linux_fw_cfg(f, 64u << 20, mb_kernel(), {}, ""), "") << "Multiboot";
  EXPECT_NE(load_linux_fw_cfg(f, 2u << 20, make_bzimage(payload()), {}, ""), "") << "2 MiB of RAM";
  BzOptions big;
  big.setup_sects = 200;  // 100 KiB of setup code: beyond its 64 KiB
  EXPECT_NE(load_linux_fw_cfg(f, 64u << 20, make_bzimage(payload(), big), {}, ""), "");
  EXPECT_NE(load_linux_fw_cfg(f, 64u << 20, make_bzimage(payload()), std::vector<uint8_t>(80u << 20), ""), "")
      << "an initrd larger than RAM";
  EXPECT_EQ(f.find_file(kLinuxbootFile), nullptr) << "nothing added on an error";
}
