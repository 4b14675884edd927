// Machine: the board. Owns memory, the port bus, the CPU, the virtual clock and the devices, and
// wires them together (the PC's schematic is Machine::Machine in machine.cpp).
#pragma once
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "devices/cmos_rtc.h"
#include "devices/debug_ports.h"
#include "devices/fpu_error_latch.h"
#include "devices/i8042.h"
#include "devices/pic8259.h"
#include "devices/pit8254.h"
#include "devices/port_bus.h"
#include "devices/system_control_port.h"
#include "devices/uart16550.h"
#include "emu/clock.h"
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

  // Time. Deterministic: virtual time = instructions * ps_per_insn (-icount shift=N: 2^N ns);
  // realtime: the host's clock.
  bool deterministic = false;
  uint64_t ps_per_insn = Clock::kDefaultPsPerInsn;
  // The RTC's date at power-on (Unix seconds, as the guest's wall clock reads it). Unset: the
  // host's UTC time in realtime mode, CmosRtc::kDefaultEpoch in deterministic mode.
  std::optional<int64_t> rtc_epoch;

  // COM1 (0x3F8, IRQ4): present or not (-serial none), and its host side (nullptr: output dropped,
  // as -serial null). The backend must outlive the machine.
  bool com1 = true;
  CharBackend* com1_backend = nullptr;
};

// GuestExit: isa-debug-exit written; Shutdown: triple fault; Reset: the guest asked for a reset
// (port 0x92 bit 0, i8042 0xFE or output-port bit 0); the caller decides whether to reset() or
// stop (-no-reboot). Halted: HLT that nothing can end (IF=0, or IF=1 with no timer event pending
// in deterministic mode). Idle: realtime mode, the CPU waits in HLT for an interrupt; the caller
// sleeps up to idle_host_ns() (or until host input arrives) and runs again.
enum class MachineExit { GuestExit, Halted, Shutdown, Reset, Budget, Idle };

class Machine {
 public:
  explicit Machine(const MachineConfig& cfg);
  ~Machine();

  // Runs up to `max_insns` guest instructions (deterministic mode: also returns Budget after
  // skipping a bounded number of idle periods, so the caller's checks keep running).
  MachineExit run(uint64_t max_insns);
  // Machine reset (the RESET line): CPU and devices back to their reset state; RAM, CMOS contents
  // and virtual time survive.
  void reset();
  std::optional<int> guest_exit_status() const { return debug_.exit_status(); }

  // After Idle: host nanoseconds until the next timer event (Clock::kNever if none is pending).
  uint64_t idle_host_ns() const;
  // Pulls pending host input from COM1's backend (also done at the start of every run()).
  void poll_input();

  PhysicalMemory& memory() { return mem_; }
  PortBus& ports() { return ports_; }
  Cpu& cpu() { return *cpu_; }
  Clock& clock() { return *clock_; }
  Pic8259& pic() { return *pic_; }
  Pit8254& pit() { return *pit_; }
  CmosRtc& rtc() { return *rtc_; }
  I8042& kbc() { return *kbc_; }
  Uart16550* com1() { return com1_.get(); }  // null with -serial none

 private:
  void request_reset();
  void load_bios_shadow();
  void update_a20();

  MachineConfig cfg_;
  PhysicalMemory mem_;
  PortBus ports_;
  DebugPorts debug_;
  std::unique_ptr<Cpu> cpu_;
  std::unique_ptr<Clock> clock_;
  // Devices hold events on the clock: declared after it, destroyed before it.
  std::unique_ptr<Pic8259> pic_;
  std::unique_ptr<Pit8254> pit_;
  std::unique_ptr<CmosRtc> rtc_;
  std::unique_ptr<I8042> kbc_;
  std::unique_ptr<Uart16550> com1_;
  std::unique_ptr<SystemControlPort> sysctl_;  // port 0x92: fast A20, reset
  std::unique_ptr<FpuErrorLatch> ferr_;        // port 0xF0, IRQ13
  bool a20_92_ = true, a20_kbc_ = true;
  bool reset_requested_ = false;
};

// Checks a BIOS image's size (64-256 KiB, a multiple of 64 KiB); returns an error message or "".
std::string validate_bios(const std::vector<uint8_t>& image);

}  // namespace vx86
