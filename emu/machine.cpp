#include "emu/machine.h"

#include <stdexcept>

namespace vx86 {

std::string validate_bios(const std::vector<uint8_t>& image) {
  if (image.size() < 64 * 1024 || image.size() > 256 * 1024 || image.size() % (64 * 1024) != 0)
    return "BIOS image must be 64, 128, 192 or 256 KiB (got " + std::to_string(image.size()) + " bytes)";
  return "";
}

Machine::Machine(const MachineConfig& cfg)
    : cfg_(cfg), mem_(cfg.ram_mb * 1024u * 1024u), debug_(cfg.debugcon, cfg.bioslog, cfg.post_log) {
  std::string err = validate_bios(cfg.bios);
  if (!err.empty()) throw std::invalid_argument(err);
  // The BIOS sits at the top of the 4 GiB space; its last 128 KiB (or all of a smaller image) also
  // at the top of the first megabyte, where the reset vector F000:FFF0 finds it.
  mem_.map_rom(static_cast<uint32_t>(0x100000000ull - cfg.bios.size()), cfg.bios);
  size_t low = std::min<size_t>(cfg.bios.size(), 128 * 1024);
  std::vector<uint8_t> low_part(cfg.bios.end() - static_cast<long>(low), cfg.bios.end());
  mem_.map_rom(static_cast<uint32_t>(0x100000 - low), low_part);
  debug_.attach(ports_);
  cpu_ = std::make_unique<Cpu>(mem_, ports_);
  cpu_->log_mask = cfg.log_mask;
  cpu_->log_file = cfg.log_file;
  debug_.on_exit = [this] { cpu_->s.exit_request = true; };
  sysctl_ = std::make_unique<SystemControlPort>(*cpu_);
  sysctl_->attach(ports_);
  sysctl_->on_reset_request = [this] {
    reset_requested_ = true;
    cpu_->s.exit_request = true;
  };
  sysctl_->reset();
}

void Machine::reset() {
  debug_.reset();
  reset_requested_ = false;
  cpu_->reset();
  sysctl_->reset();
}

MachineExit Machine::run(uint64_t max_insns) {
  uint64_t end = cpu_->s.icount + max_insns;
  while (cpu_->s.icount < end) {
    StopReason r = cpu_->run(end - cpu_->s.icount);
    if (debug_.exit_status()) return MachineExit::GuestExit;
    if (reset_requested_) return MachineExit::Reset;
    if (r == StopReason::Shutdown) return MachineExit::Shutdown;
    if (r == StopReason::Halted) return MachineExit::Halted;
  }
  return MachineExit::Budget;
}

}  // namespace vx86
