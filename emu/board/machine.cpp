#include "emu/board/machine.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "emu/board/machine_threads.h"
#include "jit/jit.h"

namespace vx86 {

std::string validate_vga_bios(const std::vector<uint8_t>& image) {
  if (image.size() < 3 || image[0] != 0x55 || image[1] != 0xAA)
    return "VGA BIOS image has no 0x55AA option ROM signature";
  if (image.size() > 128 * 1024) return "VGA BIOS image is larger than 128 KiB";
  return "";
}

std::string validate_bios(const std::vector<uint8_t>& image) {
  if (image.size() < 64 * 1024 || image.size() > 256 * 1024 || image.size() % (64 * 1024) != 0)
    return "BIOS image must be 64, 128, 192 or 256 KiB (got " + std::to_string(image.size()) + " bytes)";
  return "";
}

// The board, like a schematic: every device, its ports, its IRQ line and its side wires.
Machine::Machine(const MachineConfig& cfg)
    : cfg_(cfg),
      mem_(cfg.ram_mb * 1024u * 1024u, cfg.mmu == MmuScheme::Host),
      debug_(cfg.debugcon, cfg.bioslog, cfg.post_log) {
  std::string err = validate_bios(cfg.bios);
  if (!err.empty()) throw std::invalid_argument(err);
  // The BIOS sits at the top of the 4 GiB space (ROM); its last 128 KiB (or all of a smaller image)
  // also at the top of the first megabyte, where the reset vector F000:FFF0 finds it. That low
  // alias is steered by the i440FX's PAM registers (apply_pam): after reset reads come from the
  // ROM and writes are dropped; SeaBIOS then copies itself into the shadow RAM underneath and
  // runs from there (its variables live in it), and write-protects it at the end of POST.
  const size_t low = std::min<size_t>(cfg.bios.size(), 128 * 1024);
  low_bios_.assign(cfg.bios.end() - static_cast<std::ptrdiff_t>(low), cfg.bios.end());
  mem_.map_rom(static_cast<uint32_t>(0x100000000ull - cfg.bios.size()), cfg.bios);
  if (!cfg.vga_bios.empty())
    if (std::string e = validate_vga_bios(cfg.vga_bios); !e.empty()) throw std::invalid_argument(e);

  // The CPUs: CPU 0 is the bootstrap processor, the others (-smp N) wait for a STARTUP IPI.
  const unsigned ncpu = std::max(1u, cfg.cpus);
  if (ncpu > kMaxCpus) throw std::invalid_argument("at most " + std::to_string(kMaxCpus) + " CPUs");
  if (ncpu > 1 && !cfg.apic) throw std::invalid_argument("several CPUs need the APIC (-apic on)");
  if (cfg.threads && cfg.deterministic)
    throw std::invalid_argument("CPUs on host threads cannot run in deterministic time (-icount)");
  // With threads, the device models are entered under one lock (emu/device_lock.h).
  DeviceLock* const dl = cfg.threads ? &device_lock_ : nullptr;
  ports_.set_lock(dl);
  mem_.set_lock(dl);
  for (unsigned i = 0; i < ncpu; ++i) {
    auto c = std::make_unique<Cpu>(mem_, ports_);
    c->bsp = i == 0;
    c->apic_id = static_cast<uint8_t>(i);
    c->log_mask = cfg.log_mask;
    c->log_file = cfg.log_file;
    c->log_filter = cfg.log_filter;
    c->log_start = cfg.log_start;
    c->enable_jit(cfg.jit);
    c->device_lock = dl;
    c->atomic_rmw = cfg.threads;
    // (-mmu host: CPUs on threads would change each other's windows; they get the shadow alone.)
    if (cfg.mmu != MmuScheme::Tlb)
      c->mmu.set_scheme(cfg.mmu == MmuScheme::Host && cfg.threads ? MmuScheme::Shadow : cfg.mmu);
    if (c->mmu.shadow()) c->mmu.shadow()->set_concurrent(cfg.threads);
    if (cfg.threads) c->post = [this, i](std::function<void()> fn) { post_to(i, std::move(fn)); };
    if (c->jit) {
      c->jit->threshold = cfg.jit_threshold;
      c->jit->tlb_checks = cfg.jit_tlb_checks;
      if (cfg.perfmap && i == 0) c->jit->open_perf_map();
    }
    cpus_.push_back(std::move(c));
  }
  cpu_ = cpus_[0].get();
  current_ = cpu_;
  if (cfg.threads) setup_threads();
  if (ncpu > 1) {
    // Each CPU's block cache owns one bit of the pages' code marks; a write to a code page reaches
    // every cache holding code from it, and a page one cache claims loses its writable TLB
    // entries in every MMU (so no CPU's fast path writes it unseen).
    code_fanout_.mem = &mem_;
    code_fanout_.machine = this;
    for (unsigned i = 0; i < ncpu; ++i) {
      Cpu& c = *cpus_[i];
      c.blocks.set_code_owner(static_cast<uint8_t>(1u << i));
      c.yield_on_pause = !cfg.threads;
      c.blocks.protect_elsewhere = [this, &c](uint32_t paddr) {
        for (size_t k = 0; k < cpus_.size(); ++k) {
          if (cpus_[k].get() == &c) continue;
          if (threads_) protect_on(k, paddr);  // (it may be running: it does it, this waits)
          else cpus_[k]->mmu.protect_code_page(paddr);
        }
      };
      c.mmu.set_code_listener(&code_fanout_);
      // Shadow page tables: a page-table page marked by one CPU is written through no CPU's TLB.
      c.mmu.protect_elsewhere = [this, &c](uint32_t paddr) {
        if (threads_ && c.lk.holds_lock) return false;  // (another CPU may wait for that lock)
        c.blocks.protect_elsewhere(paddr);
        return true;
      };
      code_fanout_.caches.push_back(&c.blocks);
    }
  }
  // (With threads there is no one instruction counter: realtime follows the host's clock alone.)
  clock_ = std::make_unique<Clock>(cfg.deterministic ? Clock::Mode::Deterministic : Clock::Mode::Realtime,
                                   cfg.threads ? nullptr : &cpu_->s.icount, cfg.ps_per_insn);
  // The TSC is the board's virtual time (a fixed 1 GHz), in both modes: consistent with the PIT and
  // the RTC whatever the instruction rate, and across HLT (deterministic mode skips time there).
  // Every CPU reads the same clock: their TSCs are synchronised.
  for (auto& c : cpus_)
    c->tsc_clock = [clock = clock_.get(), dl] {
      DeviceGuard g(dl);
      return clock->now();
    };
  // A device that schedules an event before the end of the running slice ends the slice at the
  // next block boundary, so the event is not late (a one-shot timer reprogrammed mid-slice).
  clock_->on_earlier_event = [this] {
    if (threads_) wake_timer_thread();  // (it sleeps until the next event)
    else current_->s.exit_request = true;
  };

  // Debug ports: 0xe9, 0x402, 0x80, 0xf4 (isa-debug-exit stops the run loop).
  debug_.attach(ports_);
  debug_.on_exit = [this] { request_stop(); };

  // Dual 8259A: the CPU's INTR.
  pic_ = std::make_unique<Pic8259>();
  pic_->attach(ports_);
  Pic8259* pic = pic_.get();
  // Mirrored INTR: translated code checks it between blocks without asking the controllers.
  auto set_intr = [this, cpu = cpu_](bool level) { intr_changed(*cpu, level); };
  if (cfg.apic) {
    // A local APIC per CPU (FEE00000h): its interrupt source, with the 8259s on the BSP's LINT0
    // (virtual wire). With several CPUs the APICs share the bus and the board routes the register
    // page to the running CPU's APIC.
    for (unsigned i = 0; i < ncpu; ++i) {
      Cpu& c = *cpus_[i];
      auto a = std::make_unique<LocalApic>(*clock_, mem_, c, pic, static_cast<uint8_t>(i), ncpu == 1);
      LocalApic* lapic = a.get();
      c.intr = lapic;
      c.has_apic = true;
      c.on_apic_base = [lapic, dl] {
        DeviceGuard g(dl);
        lapic->base_changed();
      };
      lapic->on_intr_change = [this, cpu = &c](bool level) { intr_changed(*cpu, level); };
      lapic->catch_up_ticks = cfg.threads;
      if (ncpu > 1) {
        lapic->set_bus(&apic_bus_);
        apic_bus_.add(lapic);
      }
      lapics_.push_back(std::move(a));
    }
    pic_->on_intr_change = [this](bool) {
      for (auto& a : lapics_) a->extint_changed();
    };
    if (ncpu > 1) {
      apic_bus_.on_remote = [this] {
        if (!threads_) current_->s.exit_request = true;  // (threads: the target was kicked)
      };
      mem_.map_mmio(LocalApic::kDefaultBase, 0x1000, &lapic_router_);
      lapic_router_.machine = this;
    }
    // The I/O APIC (FEC00000h): ISA IRQ n on pin n, beside the 8259's input n.
    ioapic_ = std::make_unique<IoApic>(mem_, *lapics_[0], *cpu_);
    if (ncpu > 1) ioapic_->set_bus(&apic_bus_);
    for (auto& a : lapics_) a->on_level_eoi = [io = ioapic_.get()](uint8_t vector) { io->eoi(vector); };
  } else {
    cpu_->intr = pic;
    pic_->on_intr_change = set_intr;
  }

  // 8254 PIT on IRQ0 (and port 0x61).
  pit_ = std::make_unique<Pit8254>(*clock_);
  pit_->attach(ports_);
  pit_->irq0 = [this](bool l) { isa_irq(0, l); };

  // MC146818 RTC/CMOS on IRQ8; the memory-size bytes SeaBIOS reads without fw_cfg.
  std::optional<int64_t> epoch = cfg.rtc_epoch;
  if (!epoch && cfg.deterministic) epoch = CmosRtc::kDefaultEpoch;
  rtc_ = std::make_unique<CmosRtc>(*clock_, epoch);
  rtc_->attach(ports_);
  rtc_->irq = [this](bool l) { isa_irq(8, l); };
  rtc_->set_memory(uint64_t{cfg.ram_mb} * 1024 * 1024, 0);
  rtc_->set_cpu_count(ncpu);

  // i8042 on IRQ1/IRQ12; its output port drives A20 and the reset line.
  kbc_ = std::make_unique<I8042>();
  kbc_->attach(ports_);
  kbc_->irq1 = [this](bool l) { isa_irq(1, l); };
  kbc_->irq12 = [this](bool l) { isa_irq(12, l); };
  kbc_->on_a20 = [this](bool on) {
    a20_kbc_ = on;
    update_a20();
  };
  kbc_->on_reset = [this] { request_reset(); };

  // 16550A COM1 at 0x3F8 on IRQ4 (absent with -serial none).
  if (cfg.com1) {
    com1_ = std::make_unique<Uart16550>(*clock_, 0x3F8, cfg.com1_backend);
    com1_->attach(ports_);
    com1_->irq = [this](bool l) { isa_irq(4, l); };
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
  ferr_->irq13 = [this](bool l) { isa_irq(13, l); };
  for (auto& c : cpus_)
    c->on_ferr = [this, dl] {
      DeviceGuard g(dl);
      ferr_->ferr();
    };

  // VGA (-vga std): ports 0x3B0-0x3DF and Bochs VBE 0x1CE/0x1CF, the window 0xA0000-0xBFFFF
  // (over the RAM there); the linear framebuffer and the VGA BIOS are BARs of its PCI function
  // (00:02.0, below), mapped where the guest programs them.
  if (cfg.vga) {
    vga_ = std::make_unique<Vga>();
    vga_->attach(ports_);
    mem_.map_mmio(Vga::kWindowBase, Vga::kWindowSize, vga_.get());
  }

  // PCI configuration mechanism #1 (0xCF8/0xCFC) and the reset control register 0xCF9.
  pci_ = std::make_unique<PciBus>();
  pci_->attach(ports_);
  pci_->on_reset_request = [this](bool) { request_reset(); };

  // i440FX host bridge at 00:00.0: its PAM registers map 0xC0000-0xFFFFF as RAM or ROM.
  host_ = std::make_unique<I440fx>();
  pci_->add(host_.get(), 0, 0);
  host_->on_pam_change = [this](uint32_t base, uint32_t size, bool read_ram, bool write_ram) {
    apply_pam(base, size, read_ram, write_ram);
  };

  // PIIX3 ISA bridge at 00:01.0: PCI INTx -> PIRQ A-D -> its route registers -> the PIC.
  isa_ = std::make_unique<Piix3>();
  pci_->add(isa_.get(), 1, 0);
  Piix3* isa = isa_.get();
  pci_->on_pirq = [isa](unsigned pirq, bool level) { isa->set_pirq(pirq, level); };
  isa_->irq_out = [this](unsigned irq, bool level) { isa_irq(irq, level); };

  // PIIX3 IDE at 00:01.1, legacy mode: primary 0x1F0/0x3F6 on IRQ14, secondary 0x170/0x376 on
  // IRQ15; bus-master DMA into RAM drops the translated code it overwrites.
  ide_ = std::make_unique<PiixIde>();
  pci_->add(ide_.get(), 1, 1);
  ide_->attach(ports_);
  ide_->set_dma_memory(&mem_);
  for (unsigned ch = 0; ch < 2; ++ch) {
    IdeChannel& c = ide_->channel(ch);
    const unsigned irq = ch ? 15 : 14;
    c.irq = [this, irq](bool l) { isa_irq(irq, l); };
    c.on_dma_write = [this](uint32_t addr, uint32_t len) { dma_written(addr, len); };
  }
  // VGA at 00:02.0 (QEMU's -vga std: 1234:1111): BAR0 is the linear framebuffer, the expansion
  // ROM BAR holds the VGA BIOS, which SeaBIOS copies to 0xC0000 and runs.
  if (cfg.vga) {
    vga_pci_ = std::make_unique<VgaPci>(Vga::kVramSize, cfg.vga_bios);
    pci_->add(vga_pci_.get(), 2, 0);
    vga_pci_->on_bar_change = [this](unsigned bar, const PciBar& old_bar, const PciBar& new_bar) {
      if (bar != 0) return;
      if (old_bar.enabled) {
        mem_.unmap_mmio(&vga_->lfb());
        memory_map_changed(old_bar.base, old_bar.size, false);
      }
      if (new_bar.enabled) {
        vga_->set_lfb_base(new_bar.base);
        mem_.map_mmio(new_bar.base, new_bar.size, &vga_->lfb());
        memory_map_changed(new_bar.base, new_bar.size, false);
      }
    };
    vga_pci_->on_rom_change = [this](const PciBar& old_bar, const PciBar& new_bar) {
      if (old_bar.enabled) {
        mem_.unmap_pages(old_bar.base, old_bar.size);
        memory_map_changed(old_bar.base, old_bar.size, true);
      }
      if (new_bar.enabled) {
        mem_.map_rom_view(new_bar.base, vga_pci_->rom_image().data(), new_bar.size);
        memory_map_changed(new_bar.base, new_bar.size, true);
      }
    };
  }

  // PIIX4 power management at 00:01.3 (-acpi on): its I/O block where PMBA puts it, the SCI on
  // IRQ 9 (level-triggered: the guest sets the ELCR or the I/O APIC entry), S5 ends the run.
  if (cfg.acpi) {
    pm_ = std::make_unique<Piix4Pm>(*clock_);
    pci_->add(pm_.get(), 1, 3);
    pm_->attach(ports_);
    pm_->sci = [this](bool l) { isa_irq(9, l); };
    pm_->on_power_off = [this] {
      power_off_requested_ = true;
      request_stop();
    };
  }
  // fw_cfg (0x510/0x511): what SeaBIOS asks QEMU for, the ACPI tables among it.
  fw_cfg_ = std::make_unique<FwCfg>();
  fw_cfg_->attach(ports_);
  fw_cfg_->set_dma_memory(&mem_, [this](uint32_t addr, uint32_t len) { dma_written(addr, len); });
  setup_fw_cfg();

  // Network cards from 00:03.0 on (INTA: PIRQ (slot + 0) mod 4 through the PIIX3's routing).
  for (size_t k = 0; k < cfg.nics.size(); ++k) {
    const unsigned slot = MachineConfig::kFirstNicSlot + static_cast<unsigned>(k);
    if (cfg.nics[k].model == MachineConfig::NicModel::VirtioNet)
      add_virtio_net(slot, cfg.nics[k]);
    else
      add_nic(slot, cfg.nics[k]);
  }
  // virtio-blk disks in the slots after the NICs (INTA through the PIIX3's routing, as the NICs).
  if (cfg.first_virtio_slot() + cfg.virtio_disks.size() > 32)
    throw std::invalid_argument("too many PCI devices (network cards and virtio disks): 32 slots");
  for (size_t k = 0; k < cfg.virtio_disks.size(); ++k)
    add_virtio_blk(cfg.first_virtio_slot() + static_cast<unsigned>(k), cfg.virtio_disks[k]);

  for (unsigned k = 0; k < cfg.drives.size(); ++k) {
    const auto& d = cfg.drives[k];
    if (d.cdrom)
      ide_->channel(k / 2).attach_cdrom(k % 2, d.image);
    else if (d.image)
      ide_->channel(k / 2).attach_disk(k % 2, d.image);
  }

  // Boot order for SeaBIOS without fw_cfg: CMOS 0x3D (first and second device) and 0x38 bits 7:4
  // (third); 1 = floppy, 2 = hard disk, 3 = CD-ROM, 4 = network.
  if (!cfg.boot_order.empty()) {
    unsigned codes[3] = {0, 0, 0};
    for (size_t k = 0; k < cfg.boot_order.size() && k < 3; ++k) {
      const char ch = cfg.boot_order[k];
      codes[k] = ch == 'a' ? 1 : ch == 'c' ? 2 : ch == 'd' ? 3 : ch == 'n' ? 4 : 0;
    }
    rtc_->set_byte(0x3D, static_cast<uint8_t>(codes[0] | codes[1] << 4));
    rtc_->set_byte(0x38, static_cast<uint8_t>((rtc_->byte(0x38) & 0x0F) | codes[2] << 4));
  }

  reset();
}

Machine::~Machine() {
  stop_threads();
  for (auto& n : nics_) n->set_backend(nullptr);
  for (auto& n : virtio_nets_) n->set_backend(nullptr);
  for (const auto& n : cfg_.nics)
    if (n.backend) n.backend->on_frames_ready = nullptr;
  if (wake_fd_ >= 0) close(wake_fd_);
}

void Machine::add_nic(unsigned slot, const MachineConfig::Nic& n) {
  auto nic = std::make_unique<E1000>(*clock_, mem_, n.mac);
  E1000* e = nic.get();
  pci_->add(e, slot, 0);
  e->attach(ports_);
  e->on_dma_write = [this](uint32_t addr, uint32_t len) { dma_written(addr, len); };
  e->on_bar_change = [this, e](unsigned bar, const PciBar& old_bar, const PciBar& new_bar) {
    if (bar != 0) return;  // (BAR1, the I/O window, the device claims itself)
    if (old_bar.enabled) {
      mem_.unmap_mmio(e);
      memory_map_changed(old_bar.base, old_bar.size, false);
    }
    if (new_bar.enabled) {
      mem_.map_mmio(new_bar.base, new_bar.size, e);
      memory_map_changed(new_bar.base, new_bar.size, false);
    }
  };
  e->set_backend(n.backend);
  if (n.backend) n.backend->on_frames_ready = [this] { notify_network(); };
  if (wake_fd_ < 0) wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  nics_.push_back(std::move(nic));
}

void Machine::map_bar_mmio(PciDevice& dev, MmioHandler* handler, unsigned bar_index) {
  dev.on_bar_change = [this, handler, bar_index](unsigned bar, const PciBar& old_bar, const PciBar& new_bar) {
    if (bar != bar_index) return;
    if (old_bar.enabled) {
      mem_.unmap_mmio(handler);
      memory_map_changed(old_bar.base, old_bar.size, false);
    }
    if (new_bar.enabled) {
      mem_.map_mmio(new_bar.base, new_bar.size, handler);
      memory_map_changed(new_bar.base, new_bar.size, false);
    }
  };
}

void Machine::add_virtio_net(unsigned slot, const MachineConfig::Nic& n) {
  auto dev = std::make_unique<VirtioNet>(mem_, n.mac);
  VirtioNet* v = dev.get();
  pci_->add(v, slot, 0);
  v->attach(ports_);  // (BAR0, the legacy I/O window, the device claims itself)
  v->on_dma_write = [this](uint32_t addr, uint32_t len) { dma_written(addr, len); };
  map_bar_mmio(*v, v, VirtioPciDevice::kModernBar);
  v->set_backend(n.backend);
  // Frames arrive on the backend's thread: it wakes the board, which polls (as for the e1000).
  if (n.backend) n.backend->on_frames_ready = [this] { notify_network(); };
  if (wake_fd_ < 0) wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  virtio_nets_.push_back(std::move(dev));
}

void Machine::add_virtio_blk(unsigned slot, const MachineConfig::VirtioDisk& d) {
  if (!d.image) throw std::invalid_argument("virtio-blk device without a disk image");
  auto dev = std::make_unique<VirtioBlk>(mem_, d.image, d.serial);
  VirtioBlk* v = dev.get();
  pci_->add(v, slot, 0);
  v->attach(ports_);  // (BAR0, the legacy I/O window, the device claims itself)
  v->on_dma_write = [this](uint32_t addr, uint32_t len) { dma_written(addr, len); };
  map_bar_mmio(*v, v, VirtioPciDevice::kModernBar);
  virtio_blks_.push_back(std::move(dev));
}

void Machine::notify_network() {
  net_pending_.store(true);
  // The CPU leaves its slice at the next block boundary (a kick that races with the start of a
  // slice is lost: the periodic poll catches up).
  interrupt();
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
}

void Machine::interrupt() {
  if (threads_) {
    wake_timer_thread();
    return;
  }
  for (auto& c : cpus_) {
    __atomic_store_n(&c->s.exit_request, true, __ATOMIC_SEQ_CST);
    c->kick();
  }
}

void Machine::drain_wake() {
  uint64_t v;
  if (wake_fd_ >= 0) {
    [[maybe_unused]] ssize_t n = read(wake_fd_, &v, sizeof v);
  }
}

void Machine::service_network() {
  if (net_pending_.load(std::memory_order_relaxed) && net_pending_.exchange(false)) poll_network();
}

void Machine::poll_network() {
  for (const auto& n : cfg_.nics)
    if (n.backend) n.backend->poll();
}

void Machine::schedule_net_poll() {
  if (cfg_.nics.empty()) return;
  if (net_poll_event_) clock_->cancel(net_poll_event_);
  net_poll_event_ = clock_->schedule_in(kNetPollNs, [this] {
    net_poll_event_ = 0;
    poll_network();
    schedule_net_poll();
  });
}

void Machine::setup_fw_cfg() {
  auto le = [](uint64_t v, unsigned n) {
    std::vector<uint8_t> b(n);
    for (unsigned i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(v >> (8 * i));
    return b;
  };
  const uint64_t ram = uint64_t{cfg_.ram_mb} * 1024 * 1024;
  FwCfg& f = *fw_cfg_;
  f.set_item(FwCfg::UUID, std::vector<uint8_t>(16, 0));
  f.set_item(FwCfg::RAM_SIZE, le(ram, 8));
  f.set_item(FwCfg::NB_CPUS, le(cpus_.size(), 2));
  f.set_item(FwCfg::MAX_CPUS, le(cpus_.size(), 2));
  f.set_item(FwCfg::BOOT_MENU, le(0, 2));
  f.set_item(FwCfg::ACPI_TABLES, le(0, 2));     // none beyond the table loader's
  f.set_item(FwCfg::SMBIOS_ENTRIES, le(0, 2));  // SeaBIOS builds its own SMBIOS tables
  f.set_item(FwCfg::IRQ0_OVERRIDE, le(0, 1));   // the PIT is I/O APIC pin 0 (IoApic)
  f.set_item(FwCfg::E820_TABLE, le(0, 4));      // no reservations beyond "etc/e820"
  // "etc/e820": RAM below 4 GiB (SeaBIOS also reads it from the CMOS).
  std::vector<uint8_t> e820 = le(0, 8);
  for (uint8_t b : le(ram, 8)) e820.push_back(b);
  for (uint8_t b : le(1, 4)) e820.push_back(b);
  f.add_file("etc/e820", std::move(e820));
  if (!pm_) return;
  AcpiConfig ac;
  ac.ram_size = static_cast<uint32_t>(ram);
  ac.apic = cfg_.apic;
  ac.cpus = static_cast<unsigned>(cpus_.size());
  ac.pm_base = kPmBase;
  ac.com1 = cfg_.com1;
  acpi_ = build_acpi_tables(ac);
  f.add_file(AcpiTables::kTablesFile, acpi_->tables);
  f.add_file(AcpiTables::kRsdpFile, acpi_->rsdp);
  f.add_file(AcpiTables::kLoaderFile, acpi_->table_loader_commands());
}

void Machine::apply_pam(uint32_t base, uint32_t size, bool read_ram, bool write_ram) {
  if (mem_.ram_size() < base + size) return;  // -m is at least 1 MiB; never happens
  const uint32_t low_base = static_cast<uint32_t>(0x100000 - low_bios_.size());
  const uint8_t* rom = base >= low_base ? low_bios_.data() + (base - low_base) : nullptr;
  mem_.map_shadow(base, size, rom, read_ram, write_ram);
  memory_map_changed(base, size, true);
}

void Machine::memory_map_changed(uint32_t base, uint32_t size, bool drop_code) {
  // Host pointers in the TLB and blocks decoded from the old contents are stale now.
  if (!cpu_) return;
  for (size_t i = 0; i < cpus_.size(); ++i)
    post_to(i, [c = cpus_[i].get(), base, size, drop_code] {
      c->mmu.flush();
      if (!drop_code) return;
      for (uint64_t off = 0; off < size; off += PAGE_SIZE)
        c->blocks.invalidate_page(static_cast<uint32_t>(base + off));
    });
}

void Machine::dma_written(uint32_t addr, uint32_t len) {
  if (len == 0) return;
  mem_.tables_written_range(addr, len, true);  // shadow page tables derived from what it overwrote
  // Page by page, only the blocks whose bytes the transfer overwrote.
  const uint64_t end = uint64_t{addr} + len;
  for (uint64_t a = addr; a < end;) {
    const uint64_t page_end = (a & ~uint64_t{PAGE_MASK}) + PAGE_SIZE;
    const uint64_t n = std::min(end, page_end) - a;
    if (mem_.page_has_code(static_cast<uint32_t>(a)))
      for (size_t i = 0; i < cpus_.size(); ++i)
        post_to(i, [c = cpus_[i].get(), a, n] {
          c->blocks.invalidate_range(static_cast<uint32_t>(a), static_cast<unsigned>(n));
        });
    a += n;
  }
}

void Machine::setup_pci_like_bios() {
  // The bus-master registers where SeaBIOS puts them on this board (legacy IRQs need no routing);
  // PIRQ A-D to IRQ 10, 10, 11, 11, level-triggered in the ELCR, as SeaBIOS programs them.
  ide_->enable_like_bios(0xC000);
  pci_->config_write(1, 0, 0x60, 0x0B0B0A0Au, 4);
  ports_.write(0x4D1, 0x0C, 1);
  // The VGA's framebuffer at the Bochs VBE default address, memory decoding on.
  if (pm_) pm_->enable_like_bios(kPmBase);
  if (vga_pci_) {
    pci_->config_write(2, 0, 0x10, Vga::kLfbDefaultBase, 4);
    pci_->config_write(2, 0, 0x04, 0x0003, 2);
  }
  // The NICs: registers below the framebuffer, I/O windows from 0xC100, memory, I/O and bus
  // mastering on, and the interrupt line their PIRQ is routed to.
  // virtio-net cards as the virtio disks below, after them.
  for (size_t k = 0; k < cfg_.nics.size(); ++k) {
    const unsigned slot = MachineConfig::kFirstNicSlot + static_cast<unsigned>(k);
    const auto kk = static_cast<uint32_t>(k);
    if (cfg_.nics[k].model == MachineConfig::NicModel::VirtioNet) {
      const uint32_t j = static_cast<uint32_t>(cfg_.virtio_disks.size()) + kk;
      pci_->config_write(slot, 0, 0x10 + 4 * VirtioPciDevice::kLegacyBar, 0xC400u + j * 0x100, 4);
      pci_->config_write(slot, 0, 0x10 + 4 * VirtioPciDevice::kModernBar,
                         0xFE800000u + j * VirtioPciDevice::kModernSize, 4);
    } else {
      pci_->config_write(slot, 0, 0x10, 0xFEB00000u + kk * E1000::kMmioSize, 4);
      pci_->config_write(slot, 0, 0x14, 0xC100u + kk * E1000::kIoSize, 4);
    }
    pci_->config_write(slot, 0, 0x04, 0x0007, 2);
    static constexpr uint8_t kPirqIrq[4] = {10, 10, 11, 11};
    pci_->config_write(slot, 0, 0x3C, kPirqIrq[PciBus::pirq_of(slot, 1)], 1);
  }
  // virtio disks: the modern BAR4 below the NICs' registers, the legacy I/O window from 0xC400.
  for (size_t k = 0; k < virtio_blks_.size(); ++k) {
    const unsigned slot = cfg_.first_virtio_slot() + static_cast<unsigned>(k);
    const auto kk = static_cast<uint32_t>(k);
    pci_->config_write(slot, 0, 0x10 + 4 * VirtioPciDevice::kLegacyBar, 0xC400u + kk * 0x100, 4);
    pci_->config_write(slot, 0, 0x10 + 4 * VirtioPciDevice::kModernBar,
                       0xFE800000u + kk * VirtioPciDevice::kModernSize, 4);
    pci_->config_write(slot, 0, 0x04, 0x0007, 2);
    static constexpr uint8_t kPirqIrq[4] = {10, 10, 11, 11};
    pci_->config_write(slot, 0, 0x3C, kPirqIrq[PciBus::pirq_of(slot, 1)], 1);
  }
}

void Machine::request_reset() {
  reset_requested_ = true;
  request_stop();
}

void Machine::update_a20() {
  const bool on = a20_92_ || a20_kbc_;
  if (a20_ == on) return;
  a20_ = on;
  for (size_t i = 0; i < cpus_.size(); ++i)
    post_to(i, [c = cpus_[i].get(), on] {
      c->mmu.set_a20(on);
      c->a20_changed();
    });
}

void Machine::isa_irq(unsigned irq, bool level) {
  pic_->set_irq(irq, level);
  if (ioapic_) ioapic_->set_irq(irq, level);
}

void Machine::reset() {
  // The PCI functions first: the host bridge's reset maps the BIOS ROM back at 0xE0000-0xFFFFF
  // (PAM 0) before the CPU reset, which drops every decoded block.
  pci_->reset();
  host_->reset();
  isa_->reset();
  ide_->reset();
  if (vga_pci_) vga_pci_->reset();
  for (auto& n : nics_) n->reset();
  for (auto& n : virtio_nets_) n->reset();
  for (auto& v : virtio_blks_) v->reset();
  if (pm_) pm_->reset();
  fw_cfg_->reset();
  debug_.reset();
  reset_requested_ = false;
  power_off_requested_ = false;
  for (auto& c : cpus_) c->reset();
  current_ = cpu_;
  if (!threads_) clock_->set_counter(&cpu_->s.icount);  // (-smp N: the counter may have been another CPU's)
  for (auto& a : lapics_) a->reset();  // (after the CPUs': the APIC base MSR is reset there)
  if (ioapic_) ioapic_->reset();
  pic_->reset();
  pit_->reset();
  rtc_->reset();
  kbc_->reset();
  if (com1_) com1_->reset();
  if (vga_) vga_->reset();
  sysctl_->reset();
  ferr_->reset();
  a20_92_ = true;
  a20_kbc_ = kbc_->a20();
  update_a20();
  schedule_net_poll();
}

uint64_t Machine::idle_host_ns() const {
  const uint64_t dl = clock_->next_deadline();
  if (dl == Clock::kNever) return Clock::kNever;
  return clock_->host_ns_until(dl);
}

void Machine::poll_input() {
  if (com1_ && cfg_.com1_backend) com1_->poll_backend();
  poll_network();
}

MachineExit Machine::run(uint64_t max_insns) {
  if (threads_) return run_threaded(max_insns);
  if (cpus_.size() > 1) return run_smp(max_insns);
  Cpu& cpu = *cpu_;
  Clock& clock = *clock_;
  const uint64_t end = cpu.s.icount + max_insns;
  unsigned idle_skips = 0;
  poll_input();
  for (;;) {
    clock.sync();
    clock.run_due();
    service_network();
    if (cpu.s.icount >= end) return MachineExit::Budget;
    // Run to the next timer deadline (exact in deterministic mode), then let the events fire.
    StopReason r;
    if (auto e = run_slice(cpu, clock.insns_until_next_event(end - cpu.s.icount), r)) return *e;
    if (r != StopReason::Halted) continue;
    // HLT. Only an interrupt ends it: with IF=0 (and no NMI source on this board) never. (Realtime:
    // idle time is where virtual time catches up with the host's.)
    clock.catch_up();
    clock.run_due();
    if (!(cpu.s.eflags & F_IF) && !cpu.s.nmi_pending) return MachineExit::Halted;
    if (cpu.intr->pending() && (cpu.s.eflags & F_IF)) continue;
    if (auto e = idle_until_event(idle_skips)) return *e;
  }
}

std::optional<MachineExit> Machine::run_slice(Cpu& cpu, uint64_t budget, StopReason& r) {
  clock_->set_horizon(clock_->next_deadline());
  r = cpu.run(budget);
  clock_->set_horizon(0);
  if (debug_.exit_status()) return MachineExit::GuestExit;
  if (power_off_requested_) return MachineExit::PowerOff;
  if (reset_requested_) return MachineExit::Reset;
  if (r == StopReason::Shutdown) return MachineExit::Shutdown;
  if (r == StopReason::Breakpoint || r == StopReason::Step || r == StopReason::Watchpoint)
    return MachineExit::Debug;
  return std::nullopt;
}

std::optional<MachineExit> Machine::idle_until_event(unsigned& skips) {
  const uint64_t dl = clock_->next_deadline();
  if (!cfg_.deterministic || dl == Clock::kNever) return MachineExit::Idle;
  // Deterministic: nothing happens until the next event, so jump virtual time there. Bounded,
  // so a guest idling with its interrupts masked still lets the caller check its timeout.
  clock_->skip_to(dl);
  if (++skips >= 4096) {
    clock_->run_due();
    return MachineExit::Budget;
  }
  return std::nullopt;
}

}  // namespace vx86

namespace vx86 {

// ---- several CPUs, time-sliced ----

void Machine::CodeWriteFanout::code_page_written(uint32_t paddr, unsigned size) {
  const uint8_t owners = mem->page_code_owners(paddr);
  const Cpu* self = machine->self();
  const unsigned lo = paddr & PAGE_MASK;
  // With threads, another CPU's cache is told only if the write touches chunks that held code.
  const bool others = !machine->threads_ ||
                      (mem->code_chunks(paddr) & BlockCache::chunk_bits(lo, std::min(lo + size, PAGE_SIZE)));
  for (size_t i = 0; i < caches.size(); ++i) {
    BlockCache* c = caches[i];
    if (!(owners & c->code_owner())) continue;
    if (!machine->threads_ || &machine->cpus_[i]->blocks == &self->blocks) c->invalidate_range(paddr, size);
    else if (others) machine->post_to(i, [c, paddr, size] { c->invalidate_range(paddr, size); });
  }
}

uint32_t Machine::LapicRouter::mmio_read(uint32_t addr, unsigned size) {
  LocalApic& a = *machine->lapics_[machine->self()->apic_id];
  return a.enabled() ? a.mmio_read(addr, size) : (size == 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1);
}

void Machine::LapicRouter::mmio_write(uint32_t addr, uint32_t value, unsigned size) {
  LocalApic& a = *machine->lapics_[machine->self()->apic_id];
  if (a.enabled()) a.mmio_write(addr, value, size);
}

size_t Machine::current_index() const {
  for (size_t i = 0; i < cpus_.size(); ++i)
    if (cpus_[i].get() == current_) return i;
  return 0;
}

bool Machine::runnable(const Cpu& c) const {
  if (c.s.wait_sipi || c.s.shutdown) return false;
  if (c.s.exit_request || !c.s.halted) return true;
  if (c.s.nmi_pending && !c.s.nmi_blocked) return true;
  return (c.s.eflags & F_IF) && c.intr && c.intr->pending();
}

// The board's instruction counter moves to `next` (it continues where the last CPU left it), and
// the clock reads it there.
void Machine::switch_to(Cpu* next) {
  if (next == current_) return;
  next->s.icount = current_->s.icount;
  clock_->set_counter(&next->s.icount);
  current_ = next;
}

MachineExit Machine::run_smp(uint64_t max_insns) {
  Clock& clock = *clock_;
  const uint64_t end = current_->s.icount + max_insns;
  unsigned idle_skips = 0;
  poll_input();
  for (;;) {
    clock.sync();
    clock.run_due();
    service_network();
    if (current_->s.icount >= end) return MachineExit::Budget;
    // Round robin: the first runnable CPU after the one that ran last.
    const size_t n = cpus_.size(), last = current_index();
    Cpu* next = nullptr;
    for (size_t k = 1; k <= n && !next; ++k)
      if (runnable(*cpus_[(last + k) % n])) next = cpus_[(last + k) % n].get();
    if (!next) {
      // Every CPU halted or waiting for a STARTUP IPI: time moves on to the next event.
      clock.catch_up();
      clock.run_due();
      bool any = false, wakeable = false;
      for (auto& c : cpus_) {
        any |= runnable(*c);
        wakeable |= !c->s.wait_sipi && ((c->s.eflags & F_IF) || c->s.nmi_pending);
      }
      if (any) continue;
      if (!wakeable) return MachineExit::Halted;
      if (auto e = idle_until_event(idle_skips)) return *e;
      continue;
    }
    switch_to(next);
    StopReason r;
    const uint64_t budget = clock.insns_until_next_event(std::min<uint64_t>(kSliceInsns, end - next->s.icount));
    if (auto e = run_slice(*next, budget, r)) return *e;
  }
}

}  // namespace vx86
