// Direct kernel boot (-kernel/-initrd/-append): the Linux/x86 32-bit boot protocol for bzImages
// (Documentation/arch/x86/boot.rst) and Multiboot v1 for test kernels and hobby OSes, as QEMU's
// -kernel does. The loader writes the kernel, its boot information and a flat GDT into guest RAM
// and sets the CPU up at the kernel's 32-bit entry point: no BIOS code runs.
//
// Every header field is treated as hostile: everything is bounds-checked against the file and guest
// RAM, and a bad image yields a one-line error message (never a crash or a partial boot).
//
// Guest memory used below 1 MiB (all of it RAM in the e820 map / Multiboot memory map; the kernel
// copies what it needs before it reuses low memory):
//   0x5000  GDT (null, null, 0x10 flat code, 0x18 flat data)
//   0x7000  initial ESP (the stack grows down towards the GDT page)
//   0x7000  Linux: boot_params (the "zero page", 4 KiB)
//   0x9000  Multiboot: info structure, memory map, module list and strings
//   (Multiboot moves its GDT, stack and info together to where its kernel and modules are not,
//   e.g. for kernels that load at 0x8000: place_multiboot_area)
//   0x20000 Linux: kernel command line (up to cmdline_size + 1 bytes)
//   0x9FC00 Linux with APICs but no ACPI: the MP tables (emu/board/mp_table.h), that KiB reserved
//   top 64 KiB of RAM, Linux with ACPI: the ACPI tables (emu/board/acpi_tables.h), reserved
// Linux's protected-mode kernel is loaded at 1 MiB, its initrd as high as the header allows.
// Multiboot kernels load where their header or ELF program headers say; modules follow them,
// page-aligned.
//
// The loader leaves the devices alone; after Machine::reset() call load_kernel() again.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace vx86 {

class Machine;

// One Multiboot module (or, for Linux, the initrd: at most one, its cmdline unused).
struct BootModule {
  std::vector<uint8_t> data;
  std::string cmdline;  // Multiboot: the module's string, e.g. "file1 args" as QEMU passes it
};

enum class KernelKind { Linux, Multiboot, Unknown };

// Which loader would take this image: Linux if the setup header's "HdrS" is present (as QEMU
// checks first), else Multiboot if a Multiboot v1 header magic sits in the first 8 KiB.
KernelKind detect_kernel(const std::vector<uint8_t>& kernel);

// Splits a QEMU-style Multiboot -initrd argument "file1 arg arg,file2" into module strings
// ("file1 arg arg", "file2"); ",," stands for a literal comma. The file name is each string's
// first space-separated word (module_file_name()).
std::vector<std::string> split_module_list(const std::string& arg);
std::string module_file_name(const std::string& module_string);

// Loads `kernel` into the machine and points the CPU at its entry. For Linux, `modules` holds at
// most one entry, the initrd. For Multiboot, the kernel's command line is `kernel_name` followed by
// `cmdline` (as GRUB and QEMU pass it). Returns "" on success or a one-line error message; on an
// error the machine's state is unspecified but nothing outside guest RAM was touched.
std::string load_kernel(Machine& m, const std::vector<uint8_t>& kernel,
                        const std::vector<BootModule>& modules, const std::string& cmdline,
                        const std::string& kernel_name = "kernel");

// The same with an optional initrd (empty = none); for Multiboot a non-empty initrd is one module.
std::string load_kernel(Machine& m, const std::vector<uint8_t>& kernel,
                        const std::vector<uint8_t>& initrd, const std::string& cmdline);

// -kernel through the firmware (as QEMU boots -kernel): the bzImage checked as load_kernel checks
// it, then its parts laid out for the firmware instead of written to RAM: fw_cfg items 07h-18h (the
// real-mode setup for 0x10000 with its header patched for the boot: loader type B0h, heap, command
// line at 0x20000, the initrd's place; the protected-mode kernel for 1 MiB; the initrd as high as
// allowed below the top 1 MiB of RAM, which SeaBIOS keeps for its tables) and the option ROM
// kLinuxbootFile (roms/linuxboot.asm) that SeaBIOS runs and that copies them there at boot.
// Returns "" or a one-line error message. The items stay across resets.
inline constexpr char kLinuxbootFile[] = "genroms/linuxboot.bin";
class FwCfg;
std::string load_linux_fw_cfg(FwCfg& f, uint32_t ram_size, const std::vector<uint8_t>& kernel,
                              const std::vector<uint8_t>& initrd, const std::string& cmdline);

// Addresses the loaders use (see the header comment), for tests and the debugger.
constexpr uint32_t BOOT_GDT_ADDR = 0x5000;
constexpr uint32_t BOOT_STACK_TOP = 0x7000;
constexpr uint32_t LINUX_BOOT_PARAMS_ADDR = 0x7000;
constexpr uint32_t LINUX_CMDLINE_ADDR = 0x20000;
constexpr uint32_t LINUX_KERNEL_ADDR = 0x100000;
constexpr uint32_t MULTIBOOT_INFO_ADDR = 0x9000;  // unless the kernel or a module is there
constexpr uint32_t BOOT_SEL_CODE = 0x10;
constexpr uint32_t BOOT_SEL_DATA = 0x18;

}  // namespace vx86
