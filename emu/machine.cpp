#include "emu/machine.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace vx86 {

std::string validate_bios(const std::vector<uint8_t>& image) {
  if (image.size() < 64 * 1024 || image.size() > 256 * 1024 || image.size() % (64 * 1024) != 0)
    return "BIOS image must be 64, 128, 192 or 256 KiB (got " + std::to_string(image.size()) + " bytes)";
  return "";
}

// The board, like a schematic: every device, its ports, its IRQ line and its side wires.
Machine::Machine(const MachineConfig& cfg)
    : cfg_(cfg), mem_(cfg.ram_mb * 1024u * 1024u), debug_(cfg.debugcon, cfg.bioslog, cfg.post_log) {
  std::string err = validate_bios(cfg.bios);
  if (!err.empty()) throw std::invalid_argument(err);
  // The BIOS sits at the top of the 4 GiB space (ROM); its last 128 KiB (or all of a smaller image)
  // also at the top of the first megabyte, where the reset vector F000:FFF0 finds it. That low copy
  // is shadow RAM loaded with the image at every reset (load_bios_shadow): without a PCI host
  // bridge there are no PAM registers to unlock it, and SeaBIOS keeps its variables there (as on
  // QEMU's isapc machine, whose low BIOS is RAM too).
  mem_.map_rom(static_cast<uint32_t>(0x100000000ull - cfg.bios.size()), cfg.bios);

  cpu_ = std::make_unique<Cpu>(mem_, ports_);
  cpu_->log_mask = cfg.log_mask;
  cpu_->log_file = cfg.log_file;
  clock_ = std::make_unique<Clock>(cfg.deterministic ? Clock::Mode::Deterministic : Clock::Mode::Realtime,
                                   &cpu_->s.icount, cfg.ps_per_insn);

  // Debug ports: 0xe9, 0x402, 0x80, 0xf4 (isa-debug-exit stops the run loop).
  debug_.attach(ports_);
  debug_.on_exit = [this] { cpu_->s.exit_request = true; };

  // Dual 8259A: the CPU's INTR.
  pic_ = std::make_unique<Pic8259>();
  pic_->attach(ports_);
  cpu_->intr = pic_.get();
  Pic8259* pic = pic_.get();

  // 8254 PIT on IRQ0 (and port 0x61).
  pit_ = std::make_unique<Pit8254>(*clock_);
  pit_->attach(ports_);
  pit_->irq0 = [pic](bool l) { pic->set_irq(0, l); };

  // MC146818 RTC/CMOS on IRQ8; the memory-size bytes SeaBIOS reads without fw_cfg.
  std::optional<int64_t> epoch = cfg.rtc_epoch;
  if (!epoch && cfg.deterministic) epoch = CmosRtc::kDefaultEpoch;
  rtc_ = std::make_unique<CmosRtc>(*clock_, epoch);
  rtc_->attach(ports_);
  rtc_->irq = [pic](bool l) { pic->set_irq(8, l); };
  rtc_->set_memory(uint64_t{cfg.ram_mb} * 1024 * 1024, 0);
  rtc_->set_cpu_count(1);

  // i8042 on IRQ1/IRQ12; its output port drives A20 and the reset line.
  kbc_ = std::make_unique<I8042>();
  kbc_->attach(ports_);
  kbc_->irq1 = [pic](bool l) { pic->set_irq(1, l); };
  kbc_->irq12 = [pic](bool l) { pic->set_irq(12, l); };
  kbc_->on_a20 = [this](bool on) {
    a20_kbc_ = on;
    update_a20();
  };
  kbc_->on_reset = [this] { request_reset(); };

  // 16550A COM1 at 0x3F8 on IRQ4 (absent with -serial none).
  if (cfg.com1) {
    com1_ = std::make_unique<Uart16550>(*clock_, 0x3F8, cfg.com1_backend);
    com1_->attach(ports_);
    com1_->irq = [pic](bool l) { pic->set_irq(4, l); };
  }

  // Port 0x92: fast A20 (ORed with the i8042's) and the fast reset.
  sysctl_ = std::make_unique<SystemControlPort>();
  sysctl_->attach(ports_);
  sysctl_->on_a20 = [this](bool on) {
    a20_92_ = on;
    update_a20();
  };
  sysctl_->on_reset_request = [this] { request_reset(); };

  // The x87 error latch: FERR# (CR0.NE = 0) -> IRQ13, cleared by a write to port 0xF0.
  ferr_ = std::make_unique<FpuErrorLatch>();
  ferr_->attach(ports_);
  ferr_->irq13 = [pic](bool l) { pic->set_irq(13, l); };
  cpu_->on_ferr = [this] { ferr_->ferr(); };

  reset();
}

Machine::~Machine() = default;

void Machine::request_reset() {
  reset_requested_ = true;
  cpu_->s.exit_request = true;
}

void Machine::update_a20() {
  const bool on = a20_92_ || a20_kbc_;
  if (cpu_->mmu.a20() == on) return;
  cpu_->mmu.set_a20(on);
  cpu_->a20_changed();
}

void Machine::load_bios_shadow() {
  const size_t low = std::min<size_t>(cfg_.bios.size(), 128 * 1024);
  const size_t at = 0x100000 - low;
  if (mem_.ram_size() < 0x100000) return;  // -m is at least 1 MiB; never happens
  std::memcpy(mem_.ram() + at, cfg_.bios.data() + (cfg_.bios.size() - low), low);
}

void Machine::reset() {
  load_bios_shadow();  // before the CPU reset, which drops every decoded block
  debug_.reset();
  reset_requested_ = false;
  cpu_->reset();
  pic_->reset();
  pit_->reset();
  rtc_->reset();
  kbc_->reset();
  if (com1_) com1_->reset();
  sysctl_->reset();
  ferr_->reset();
  a20_92_ = true;
  a20_kbc_ = kbc_->a20();
  update_a20();
}

uint64_t Machine::idle_host_ns() const {
  const uint64_t dl = clock_->next_deadline();
  if (dl == Clock::kNever) return Clock::kNever;
  return clock_->host_ns_until(dl);
}

void Machine::poll_input() {
  if (com1_ && cfg_.com1_backend) com1_->poll_backend();
}

MachineExit Machine::run(uint64_t max_insns) {
  Cpu& cpu = *cpu_;
  Clock& clock = *clock_;
  const uint64_t end = cpu.s.icount + max_insns;
  unsigned idle_skips = 0;
  poll_input();
  for (;;) {
    clock.run_due();
    if (cpu.s.icount >= end) return MachineExit::Budget;
    // Run to the next timer deadline (exact in deterministic mode), then let the events fire.
    StopReason r = cpu.run(clock.insns_until_next_event(end - cpu.s.icount));
    if (debug_.exit_status()) return MachineExit::GuestExit;
    if (reset_requested_) return MachineExit::Reset;
    if (r == StopReason::Shutdown) return MachineExit::Shutdown;
    if (r != StopReason::Halted) continue;
    // HLT. Only an interrupt ends it: with IF=0 (and no NMI source on this board) never.
    clock.run_due();
    if (!(cpu.s.eflags & F_IF) && !cpu.s.nmi_pending) return MachineExit::Halted;
    if (pic_->pending() && (cpu.s.eflags & F_IF)) continue;
    const uint64_t dl = clock.next_deadline();
    if (!cfg_.deterministic || dl == Clock::kNever) return MachineExit::Idle;
    // Deterministic: nothing happens until the next event, so jump virtual time there. Bounded,
    // so a guest idling with its interrupts masked still lets the caller check its timeout.
    clock.skip_to(dl);
    if (++idle_skips >= 4096) {
      clock.run_due();
      return MachineExit::Budget;
    }
  }
}

}  // namespace vx86
