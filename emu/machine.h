// Machine: the board. Owns memory, the port bus, the CPU and the devices, and wires them together.
#pragma once
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "devices/debug_ports.h"
#include "devices/port_bus.h"
#include "devices/system_control_port.h"
#include "emu/cpu.h"
#include "mmu/physical_memory.h"

namespace vx86 {

struct MachineConfig {
  uint32_t ram_mb = 32;
  std::vector<uint8_t> bios;   // 64-256 KiB image, mapped below 1 MiB and below 4 GiB
  FILE* debugcon = stdout;     // port 0xe9
  FILE* bioslog = nullptr;     // port 0x402
  FILE* post_log = nullptr;    // port 0x80 (-d post)
  uint32_t log_mask = 0;
  FILE* log_file = stderr;
};

// GuestExit: isa-debug-exit written; Shutdown: triple fault; Reset: the guest asked for a reset
// (port 0x92 bit 0); the caller decides whether to reset() or stop (-no-reboot).
enum class MachineExit { GuestExit, Halted, Shutdown, Reset, Budget };

class Machine {
 public:
  explicit Machine(const MachineConfig& cfg);

  // Runs up to `max_insns` guest instructions.
  MachineExit run(uint64_t max_insns);
  void reset();
  std::optional<int> guest_exit_status() const { return debug_.exit_status(); }

  PhysicalMemory& memory() { return mem_; }
  PortBus& ports() { return ports_; }
  Cpu& cpu() { return *cpu_; }

 private:
  MachineConfig cfg_;
  PhysicalMemory mem_;
  PortBus ports_;
  DebugPorts debug_;
  std::unique_ptr<Cpu> cpu_;
  std::unique_ptr<SystemControlPort> sysctl_;  // port 0x92: fast A20, reset
  bool reset_requested_ = false;
};

// Checks a BIOS image's size (64-256 KiB, a multiple of 64 KiB); returns an error message or "".
std::string validate_bios(const std::vector<uint8_t>& image);

}  // namespace vx86
