#include "frontend/session.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>

#include "devices/vga_render.h"
#include "frontend/net_options.h"
#include "frontend/screendump.h"

namespace vx86 {

std::vector<uint8_t> read_user_file(const std::string& path, const std::string& what) {
  std::error_code ec;
  auto st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st))
    throw SetupError("cannot open " + what + " '" + path + "': No such file or directory",
                     SetupError::Kind::Io);
  if (!std::filesystem::is_regular_file(st))
    throw SetupError(what + " '" + path + "' is not a regular file", SetupError::Kind::Io);
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw SetupError("cannot open " + what + " '" + path + "': " + std::strerror(errno),
                     SetupError::Kind::Io);
  std::vector<uint8_t> data{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) throw SetupError("cannot read " + what + " '" + path + "'", SetupError::Kind::Io);
  return data;
}

// -kernel/-initrd/-append: what the loader needs, read once; loaded again after every reset.
struct Session::DirectBoot {
  std::vector<uint8_t> kernel;
  std::vector<BootModule> modules;
  std::string cmdline, name;
  bool through_firmware = false;  // -kernel-loader bios: SeaBIOS boots it from fw_cfg
};

namespace {

FILE* open_sink(const std::string& spec, const char* what) {
  if (spec == "none") return nullptr;
  if (spec == "stdio") return stdout;
  const std::string path = spec.substr(5);  // file:PATH
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f)
    throw SetupError(std::string("cannot open ") + what + " file '" + path + "': " + std::strerror(errno));
  return f;
}

void close_sink(FILE* f) {
  if (f && f != stdout && f != stderr) std::fclose(f);
}

}  // namespace

Session::Session(const CliOptions& o, CharBackend* serial) : opts_(o), serial_override_(serial) {
  try {
    build();
  } catch (...) {
    release();  // (the destructor does not run for a constructor that throws)
    throw;
  }
}

void Session::build() {
  try {
    build_config();
    machine_ = std::make_unique<Machine>(cfg_);
  } catch (const SetupError&) {
    throw;
  } catch (const std::exception& e) {
    throw SetupError(e.what());
  }
  Machine& m = *machine_;
  control_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  // -kernel-loader bios: the BIOS boots the kernel from fw_cfg (the items stay across resets).
  if (boot_ && boot_->through_firmware) {
    const std::vector<uint8_t> none;
    std::string err =
        load_linux_fw_cfg(m.fw_cfg(), m.memory().ram_size(), boot_->kernel,
                          boot_->modules.empty() ? none : boot_->modules[0].data, boot_->cmdline);
    if (!err.empty()) throw SetupError("'" + opts_.kernel + "': " + err);
  }
  load_boot();
  // -loadvm: the whole machine as a snapshot left it (the kernel loaded above is overwritten).
  if (!opts_.loadvm.empty()) {
    try {
      m.load_snapshot(opts_.loadvm);
    } catch (const SnapshotError& e) {
      throw SetupError(e.what(), SetupError::Kind::Snapshot);
    } catch (const std::exception& e) {
      throw SetupError(e.what(), SetupError::Kind::Io);
    }
  }
}

Session::~Session() { release(); }

void Session::release() {
  machine_.reset();  // (before the backends and sinks it uses)
  network_.reset();
  serial_backend_.reset();
  close_sink(serial_file_);
  serial_file_ = nullptr;
  close_sink(cfg_.debugcon);
  close_sink(cfg_.bioslog);
  close_sink(cfg_.log_file);
  cfg_.debugcon = cfg_.bioslog = cfg_.log_file = nullptr;
  if (control_fd_ >= 0) close(control_fd_);
  control_fd_ = -1;
}

void Session::build_config() {
  const CliOptions& o = opts_;
  MachineConfig& cfg = cfg_;
  cfg.log_file = stderr;
  cfg.ram_mb = o.ram_mb;
  cfg.jit = o.jit;
  // The default is the fastest scheme measured (docs/performance.md, issue 15): host windows
  // when translated code runs, else the TLB.
  cfg.mmu = o.mmu.value_or(o.jit && !o.threads ? MmuScheme::Host : MmuScheme::Tlb);
  cfg.apic = o.apic || o.cpus > 1;
  cfg.cpus = o.cpus;
  cfg.threads = o.threads;
  if (o.threads && cfg.mmu == MmuScheme::Host) {
    std::fprintf(stderr,
                 "vx86: -mmu host: CPUs on host threads use -mmu shadow (only a CPU's own thread may "
                 "change its host windows)\n");
    cfg.mmu = MmuScheme::Shadow;
  }
  if (o.threads && o.icount_shift >= 0)
    throw SetupError("CPUs on host threads (threads=on) cannot run in deterministic time (-icount shift=N)");
  if (o.threads && (o.gdb_port || !o.gdb_unix.empty()))
    throw SetupError("the gdb stub cannot be used with CPUs on host threads (threads=on)");
  cfg.acpi = o.acpi;
  cfg.jit_threshold = o.jit_threshold;
  cfg.jit_tlb_checks = o.jit_tlb_checks;
  cfg.perfmap = o.perfmap;
  cfg.bios = read_user_file(o.bios, "BIOS image");
  if (std::string e = validate_bios(cfg.bios); !e.empty()) throw SetupError("'" + o.bios + "': " + e);
  cfg.debugcon = nullptr;
  cfg.debugcon = open_sink(o.debugcon, "debugcon");
  cfg.bioslog = open_sink(o.bioslog, "bioslog");
  if (!o.log_path.empty()) {
    cfg.log_file = std::fopen(o.log_path.c_str(), "w");
    if (!cfg.log_file) throw SetupError("cannot open log file '" + o.log_path + "': " + std::strerror(errno));
    std::setvbuf(cfg.log_file, nullptr, _IOFBF, 1 << 20);  // -d exec writes a line per instruction
  }
  cfg.log_filter = o.log_filter;
  cfg.log_start = o.log_start;
  for (const auto& d : o.debug_items) {
    if (d == "in_asm") cfg.log_mask |= LOG_IN_ASM;
    if (d == "out_asm") cfg.log_mask |= LOG_OUT_ASM;
    if (d == "cpu") cfg.log_mask |= LOG_CPU;
    if (d == "int") cfg.log_mask |= LOG_INT;
    if (d == "jit") cfg.log_mask |= LOG_JIT;
    if (d == "mmu") cfg.log_mask |= LOG_MMU;
    if (d == "trace") cfg.log_mask |= LOG_TRACE;
    if (d == "tracesum") cfg.log_mask |= LOG_TRACESUM;
    if (d == "exec") cfg.log_mask |= LOG_EXEC;
    if (d == "post") {
      cfg.log_mask |= LOG_POST;
      cfg.post_log = cfg.log_file;
    }
  }

  // Time and the RTC.
  if (o.icount_shift >= 0) {
    cfg.deterministic = true;
    cfg.ps_per_insn = Clock::kDefaultPsPerInsn << o.icount_shift;
  } else if (o.icount_auto) {
    std::fprintf(stderr, "vx86: note: -icount shift=auto runs in realtime mode (not deterministic)\n");
  }
  if (o.rtc_date) {
    cfg.rtc_epoch = o.rtc_date;
  } else if (o.rtc_base == "localtime" && !cfg.deterministic) {
    std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    cfg.rtc_epoch = static_cast<int64_t>(now) + local.tm_gmtoff;
  }

  // COM1's host side (a frontend may replace it: Session's `serial`).
  const std::string serial = o.serial.empty() ? "stdio" : o.serial;
  if (serial_override_ && serial != "none") {
    cfg.com1_backend = serial_override_;
  } else if (serial == "none") {
    cfg.com1 = false;
  } else if (serial == "null") {
    cfg.com1_backend = nullptr;
  } else if (serial == "stdio") {
    serial_backend_ = std::make_unique<FileCharBackend>(stdout);
  } else {
    serial_file_ = open_sink(serial, "serial");
    serial_backend_ = std::make_unique<FileCharBackend>(serial_file_);
  }
  if (serial_backend_) cfg.com1_backend = serial_backend_.get();

  // IDE drives. -snapshot (or snapshot=on): writes stay in memory; CD-ROMs are read-only.
  for (const DriveOption& d : o.drives) {
    std::error_code ec;
    if (!std::filesystem::exists(d.file, ec))
      throw SetupError(std::string("cannot open ") + (d.cdrom ? "CD-ROM image '" : "disk image '") + d.file +
                           "': No such file or directory",
                       SetupError::Kind::Io);
    const DiskImage::Mode mode = (o.snapshot || d.snapshot) ? DiskImage::Mode::Snapshot
                                 : (d.readonly || d.cdrom)  ? DiskImage::Mode::ReadOnly
                                                            : DiskImage::Mode::ReadWrite;
    const ImageFormat format = d.format.empty() ? ImageFormat::Probe : *parse_image_format(d.format);
    try {
      cfg.drives[static_cast<size_t>(d.index)] = {std::make_shared<DiskImage>(d.file, mode, format), d.cdrom};
    } catch (const std::exception& e) {
      throw SetupError(e.what(), SetupError::Kind::Io);
    }
  }
  // virtio-blk disks, opened the same way (after the NICs on the PCI bus).
  for (const DriveOption& d : o.virtio_drives) {
    std::error_code ec;
    if (!std::filesystem::exists(d.file, ec))
      throw SetupError("cannot open disk image '" + d.file + "': No such file or directory",
                       SetupError::Kind::Io);
    const DiskImage::Mode mode = (o.snapshot || d.snapshot) ? DiskImage::Mode::Snapshot
                                 : d.readonly               ? DiskImage::Mode::ReadOnly
                                                            : DiskImage::Mode::ReadWrite;
    const ImageFormat format = d.format.empty() ? ImageFormat::Probe : *parse_image_format(d.format);
    try {
      cfg.virtio_disks.push_back({std::make_shared<DiskImage>(d.file, mode, format), d.serial});
    } catch (const std::exception& e) {
      throw SetupError(e.what(), SetupError::Kind::Io);
    }
  }
  cfg.boot_order = o.boot_order.empty() ? "cad" : o.boot_order;  // QEMU's default order
  if (o.boot_order.find('n') != std::string::npos)
    throw SetupError(
        "network boot (-boot n) is not available: vx86's e1000 has no boot ROM (boot from a disk, CD or "
        "-kernel)");

  // Network cards and their backends (QEMU's default: one e1000 on user networking).
  try {
    network_ = std::make_unique<NetworkSetup>(o.net);
  } catch (const std::exception& e) {
    throw SetupError(e.what());
  }
  for (const auto& card : network_->cards())
    cfg.nics.push_back({card.backend, card.mac,
                        card.virtio ? MachineConfig::NicModel::VirtioNet : MachineConfig::NicModel::E1000});

  // VGA: Debian's SeaVGABIOS as the VGA PCI function's expansion ROM when it is installed (as QEMU).
  cfg.vga = o.vga != "none";
  if (cfg.vga) {
    std::error_code ec;
    const std::string vgabios = o.vga_bios.empty() ? VX86_DEFAULT_VGABIOS : o.vga_bios;
    if (!o.vga_bios.empty() || std::filesystem::is_regular_file(vgabios, ec)) {
      cfg.vga_bios = read_user_file(vgabios, "VGA BIOS image");
      if (std::string e = validate_vga_bios(cfg.vga_bios); !e.empty())
        throw SetupError("'" + vgabios + "': " + e);
    }
  }

  if (!o.kernel.empty()) {
    boot_ = std::make_unique<DirectBoot>();
    DirectBoot& b = *boot_;
    b.kernel = read_user_file(o.kernel, "kernel");
    b.cmdline = o.append;
    b.name = o.kernel;
    KernelKind kind = detect_kernel(b.kernel);
    if (kind == KernelKind::Unknown)
      throw SetupError("'" + o.kernel + "' is neither a Linux bzImage nor a Multiboot kernel");
    // "auto" (the program, for a window): Linux through the firmware when a VGA BIOS will load the
    // text font; Multiboot kernels always directly.
    b.through_firmware = o.kernel_loader == "bios" ||
                         (o.kernel_loader == "auto" && kind == KernelKind::Linux && !cfg.vga_bios.empty());
    if (!o.initrd.empty()) {
      if (kind == KernelKind::Linux) {
        b.modules.push_back({read_user_file(o.initrd, "initrd"), ""});
      } else {
        for (const std::string& mod : split_module_list(o.initrd))
          b.modules.push_back({read_user_file(module_file_name(mod), "Multiboot module"), mod});
      }
    }
  }
}

void Session::load_boot() {
  if (!boot_ || boot_->through_firmware) return;
  machine_->setup_pci_like_bios();
  std::string err = load_kernel(*machine_, boot_->kernel, boot_->modules, boot_->cmdline, boot_->name);
  if (!err.empty()) throw SetupError("'" + opts_.kernel + "': " + err);
}

// ---- control from other threads ----

void Session::wake() {
  const uint64_t one = 1;
  if (control_fd_ >= 0) [[maybe_unused]]
    ssize_t n = write(control_fd_, &one, sizeof one);
  if (machine_) machine_->interrupt();
}

void Session::request_pause() {
  std::unique_lock lk(mu_);
  if (ended_) return;
  want_pause_ = true;
  wake();
  cv_.wait(lk, [this] { return parked_ || ended_ || want_stop_; });
}

void Session::request_resume() {
  std::lock_guard lk(mu_);
  want_pause_ = false;
  cv_.notify_all();
}

void Session::request_stop() {
  std::lock_guard lk(mu_);
  want_stop_ = true;
  wake();
  cv_.notify_all();
}

void Session::request_reset() {
  std::lock_guard lk(mu_);
  want_reset_ = true;
  wake();
}

void Session::request_powerdown() {
  std::lock_guard lk(mu_);
  want_powerdown_ = true;
  wake();
}

bool Session::paused() const {
  std::lock_guard lk(mu_);
  return parked_ && want_pause_;  // (a resume takes effect for the caller at once)
}

bool Session::ended() const {
  std::lock_guard lk(mu_);
  return ended_;
}

template <class F>
void Session::while_paused(F&& f) {
  std::lock_guard s(snapshot_mu_);
  bool was_paused;
  {
    std::lock_guard lk(mu_);
    was_paused = want_pause_;
  }
  request_pause();
  if (!paused() && !ended()) throw std::runtime_error("the VM is stopping");
  // (An ended run leaves the machine alone too: its thread is done with it.)
  try {
    f();
  } catch (...) {
    if (!was_paused) request_resume();
    throw;
  }
  if (!was_paused) request_resume();
}

void Session::save_snapshot(const std::string& path) {
  while_paused([&] { machine_->save_snapshot(path); });
}

void Session::load_snapshot(const std::string& path) {
  while_paused([&] { machine_->load_snapshot(path); });
}

void Session::screendump(const std::string& path, bool png) {
  while_paused([&] {
    if (!machine_->vga()) throw std::runtime_error("screendump: the machine has no display (-vga none)");
    write_image(path, render_vga(*machine_->vga()), png ? ImageFormat2D::Png : ImageFormat2D::Ppm);
  });
}

void Session::serve_requests() {
  bool reset, powerdown;
  {
    std::lock_guard lk(mu_);
    reset = std::exchange(want_reset_, false);
    powerdown = std::exchange(want_powerdown_, false);
  }
  if (reset) {
    machine_->reset();
    load_boot();
    if (on_reset) on_reset();
  }
  if (powerdown && machine_->pm()) machine_->pm()->press_power_button();
}

bool Session::park_if_asked() {
  std::unique_lock lk(mu_);
  if (want_stop_) return false;
  if (!want_pause_) return true;
  machine_->pause();          // (CPUs on threads: stopped)
  machine_->clock().pause();  // the guest's time stands still while the VM is paused
  parked_ = true;
  cv_.notify_all();
  if (on_pause_change) {
    lk.unlock();
    on_pause_change(true);
    lk.lock();
  }
  cv_.wait(lk, [this] { return !want_pause_ || want_stop_; });
  parked_ = false;
  machine_->clock().resume();
  const bool go_on = !want_stop_;
  if (on_pause_change && go_on) {
    lk.unlock();
    on_pause_change(false);
    lk.lock();
  }
  return go_on;
}

// ---- the run loop ----

RunResult Session::run(const Hooks& hooks) {
  Machine& m = *machine_;
  const CliOptions& o = opts_;
  const auto start = std::chrono::steady_clock::now();
  auto where = [&m] {
    char b[32];
    std::snprintf(b, sizeof b, "%04x:%04x", m.cpu().s.seg[CS].sel, m.cpu().s.eip);
    return std::string(b);
  };
  auto end = [&](RunResult::Reason reason, int status, std::string message, std::optional<MachineExit> exit) {
    m.pause();  // (CPUs on threads: stopped before their state is read)
    if (exit && hooks.on_guest_end) hooks.on_guest_end(*exit);
    {
      std::lock_guard lk(mu_);
      ended_ = true;
      cv_.notify_all();
    }
    return RunResult{reason, status, std::move(message)};
  };
  for (;;) {
    if (!park_if_asked()) return end(RunResult::Reason::Stopped, 0, "", std::nullopt);
    serve_requests();
    // Slices short enough that -timeout and control requests are honoured promptly even at a few
    // MIPS with logging on.
    uint64_t slice = 1'000'000;
    if (o.insn_limit) {
      const uint64_t done = m.icount();
      if (done >= o.insn_limit)
        return end(RunResult::Reason::InsnLimit, kExitTimeout,
                   "instruction limit " + std::to_string(o.insn_limit) + " reached at " + where(),
                   std::nullopt);
      slice = std::min<uint64_t>(slice, o.insn_limit - done);
    }
    const MachineExit r = m.run(slice);
    switch (r) {
      case MachineExit::Debug:
        if (hooks.on_debug && !hooks.on_debug()) return end(RunResult::Reason::Quit, 0, "", r);
        break;
      case MachineExit::GuestExit:
        return end(RunResult::Reason::GuestExit, *m.guest_exit_status(), "", r);
      case MachineExit::PowerOff:  // ACPI S5, as QEMU: status 0
        return end(RunResult::Reason::PowerOff, 0, "", r);
      case MachineExit::Shutdown:
      case MachineExit::Reset:
        if (o.no_reboot)
          return end(RunResult::Reason::NoReboot, 0,
                     std::string(r == MachineExit::Shutdown ? "triple fault (shutdown)"
                                                            : "guest requested a reset") +
                         "; exiting because of -no-reboot",
                     r);
        m.reset();
        load_boot();
        break;
      case MachineExit::Halted:
        // HLT with interrupts disabled: nothing can wake the CPU.
        return end(RunResult::Reason::Halted, kExitStuck,
                   "guest halted for good (HLT with interrupts disabled) at " + where(), r);
      case MachineExit::Idle: {
        // HLT waiting for an interrupt: sleep until the next timer event, waking early on input,
        // frames for the guest (the network backends' threads) or a control request.
        uint64_t ns = m.idle_host_ns();
        const int input_fd = hooks.input_fd ? hooks.input_fd() : -1;
        if (ns == Clock::kNever && input_fd < 0 && !hooks.max_idle_ns)  // (a window's keys can wake it)
          return end(RunResult::Reason::Halted, kExitStuck,
                     "guest halted for good (HLT with no timer event or input pending) at " + where(), r);
        constexpr uint64_t kMaxWait = 50'000'000;  // keep -timeout prompt
        if (ns > kMaxWait) ns = kMaxWait;
        if (hooks.max_idle_ns) ns = std::min(ns, hooks.max_idle_ns());
        if (ns > 0) {
          struct timespec ts {
            static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)
          };
          struct pollfd p[3];
          nfds_t n = 0;
          if (input_fd >= 0) p[n++] = {input_fd, POLLIN, 0};
          if (m.wake_fd() >= 0) p[n++] = {m.wake_fd(), POLLIN, 0};
          if (control_fd_ >= 0) p[n++] = {control_fd_, POLLIN, 0};
          ppoll(p, n, &ts, nullptr);
          m.drain_wake();
          uint64_t v;
          if (control_fd_ >= 0) [[maybe_unused]]
            ssize_t k = read(control_fd_, &v, sizeof v);
        }
        break;
      }
      case MachineExit::Budget:
        break;
    }
    if (hooks.after_slice)
      if (std::optional<int> st = hooks.after_slice())
        return end(RunResult::Reason::Quit, *st, "", std::nullopt);
    if (o.timeout_s > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > o.timeout_s) {
      char secs[32];
      std::snprintf(secs, sizeof secs, "%g", o.timeout_s);
      return end(RunResult::Reason::Timeout, kExitTimeout,
                 "timeout after " + std::string(secs) + " seconds at " + where(), std::nullopt);
    }
  }
}

}  // namespace vx86
