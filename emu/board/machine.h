// Machine: the board. Owns memory, the port bus, the CPU, the virtual clock and the devices, and
// wires them together (the PC's schematic is Machine::Machine in machine.cpp).
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "devices/apic_bus.h"
#include "devices/cmos_rtc.h"
#include "devices/debug_ports.h"
#include "devices/disk_image.h"
#include "devices/e1000.h"
#include "devices/fpu_error_latch.h"
#include "devices/fw_cfg.h"
#include "devices/i440fx.h"
#include "devices/i8042.h"
#include "devices/io_apic.h"
#include "devices/local_apic.h"
#include "devices/net/net_backend.h"
#include "devices/pci_bus.h"
#include "devices/pic8259.h"
#include "devices/piix3.h"
#include "devices/piix4_pm.h"
#include "devices/pit8254.h"
#include "devices/port_bus.h"
#include "devices/system_control_port.h"
#include "devices/uart16550.h"
#include "devices/vga.h"
#include "devices/vga_pci.h"
#include "devices/virtio/virtio_blk.h"
#include "devices/virtio/virtio_net.h"
#include "emu/board/acpi_tables.h"
#include "emu/board/machine_config.h"
#include "emu/clock.h"
#include "emu/cpu.h"
#include "mmu/physical_memory.h"

namespace vx86 {

// GuestExit: isa-debug-exit written; Shutdown: triple fault; Reset: the guest asked for a reset
// (port 0x92 bit 0, i8042 0xFE or output-port bit 0); the caller decides whether to reset() or
// stop (-no-reboot). Halted: HLT that nothing can end (IF=0, or IF=1 with no timer event pending
// in deterministic mode). Idle: realtime mode, the CPU waits in HLT for an interrupt; the caller
// sleeps up to idle_host_ns() (or until host input arrives) and runs again.
// Debug: a debugger's breakpoint or single step stopped the CPU (Cpu::debug_breakpoints).
// PowerOff: the guest entered S5 (ACPI soft-off).
enum class MachineExit { GuestExit, Halted, Shutdown, Reset, Budget, Idle, Debug, PowerOff };

class Machine {
 public:
  // The PM function's I/O block: where SeaBIOS puts it when QEMU's table loader is present, and
  // where the direct loader puts it.
  static constexpr uint16_t kPmBase = 0x600;
  static constexpr unsigned kMaxCpus = 8;
  // With several CPUs, each runs this many instructions before the next runnable one (fewer when
  // it halts, a timer event is due, or an IPI reaches another CPU).
  static constexpr uint64_t kSliceInsns = 20000;

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
  // Network backends with frames for the guest wake the board through this eventfd (-1 without
  // NICs): a caller that sleeps while the machine idles waits on it too, then calls drain_wake().
  int wake_fd() const { return wake_fd_; }
  // Any thread: the running slice ends at the next block boundary (run() returns soon), so a
  // frontend's control request (pause, stop) is seen without waiting for the budget.
  void interrupt();
  void drain_wake();

  // With threads: the threads are stopped (the CPUs' state may be read and changed; run() starts
  // them again). Without: nothing to do.
  void pause();

  // Snapshots (emu/board/machine_snapshot.cpp): the whole machine's state (CPUs, RAM, clock,
  // every device, the -snapshot disk overlays) between run() calls. load_state() needs a machine
  // built from the same configuration (checked: memory, CPUs, firmware, devices, drives); on a
  // malformed snapshot it throws SnapshotError and leaves the machine reset. The file forms add
  // the versioned, checksummed, compressed container (emu/board/snapshot_file.h).
  void save_state(SnapshotWriter& w);
  void load_state(SnapshotReader& r);
  void save_snapshot(const std::string& path);  // throws std::runtime_error on host I/O errors
  void load_snapshot(const std::string& path);  // throws SnapshotError / std::runtime_error

  PhysicalMemory& memory() { return mem_; }
  PortBus& ports() { return ports_; }
  Cpu& cpu() { return *cpu_; }  // the bootstrap processor
  Cpu& cpu(size_t i) { return *cpus_[i]; }
  size_t cpu_count() const { return cpus_.size(); }
  Cpu& current_cpu() { return *current_; }  // the one running now (or last)
  // Instructions the board has run (all CPUs together).
  uint64_t icount() const;
  Clock& clock() { return *clock_; }
  Pic8259& pic() { return *pic_; }
  LocalApic* lapic(size_t i = 0) {
    return i < lapics_.size() ? lapics_[i].get() : nullptr;
  }  // null without -apic on
  Pit8254& pit() { return *pit_; }
  CmosRtc& rtc() { return *rtc_; }
  I8042& kbc() { return *kbc_; }
  // For a frontend touching devices between slices while CPUs run on host threads (-smp
  // N,threads=on): the device lock they take (emu/device_lock.h); null when one thread runs all.
  DeviceLock* device_lock() { return threads_ ? &device_lock_ : nullptr; }
  Uart16550* com1() { return com1_.get(); }  // null with -serial none
  Vga* vga() { return vga_.get(); }           // null with -vga none
  VgaPci* vga_pci() { return vga_pci_.get(); }  // 00:02.0, null with -vga none
  PciBus& pci() { return *pci_; }
  I440fx& host_bridge() { return *host_; }
  Piix3& isa_bridge() { return *isa_; }
  PiixIde& ide() { return *ide_; }
  size_t nic_count() const { return nics_.size(); }  // the e1000s
  E1000& nic(size_t i) { return *nics_[i]; }
  size_t virtio_net_count() const { return virtio_nets_.size(); }
  VirtioNet& virtio_net(size_t i) { return *virtio_nets_[i]; }
  size_t virtio_blk_count() const { return virtio_blks_.size(); }
  VirtioBlk& virtio_blk(size_t i) { return *virtio_blks_[i]; }
  // How often the machine polls its network backends anyway (a clock event while NICs exist): they
  // wake it themselves when frames arrive (notify_network); this catches a wake-up that raced
  // with the start of a slice.
  static constexpr uint64_t kNetPollNs = 10'000'000;
  Piix4Pm* pm() { return pm_.get(); }  // 00:01.3, null with -acpi off
  FwCfg& fw_cfg() { return *fw_cfg_; }
  // The ACPI tables as built for this board (unlinked), or null with -acpi off.
  const AcpiTables* acpi_tables() const { return acpi_ ? &*acpi_ : nullptr; }
  // Direct kernel boot (no BIOS): program the PCI functions the way SeaBIOS leaves them for what
  // Linux checks (the IDE function's decode enables and bus-master BAR).
  void setup_pci_like_bios();

 private:
  void request_reset();
  void save_config_fingerprint(SnapshotWriter& w) const;
  void check_config_fingerprint(SnapshotReader& r) const;
  void apply_pam(uint32_t base, uint32_t size, bool read_ram, bool write_ram);
  void dma_written(uint32_t addr, uint32_t len);
  void update_a20();
  void memory_map_changed(uint32_t base, uint32_t size, bool drop_code);

  MachineConfig cfg_;
  PhysicalMemory mem_;
  PortBus ports_;
  DebugPorts debug_;
  std::vector<std::unique_ptr<Cpu>> cpus_;
  Cpu* cpu_ = nullptr;      // the BSP
  Cpu* current_ = nullptr;  // the CPU running (or that ran last): its icount is the board's
  std::unique_ptr<Clock> clock_;
  // Several CPUs: a write to a code page reaches every CPU's block cache that holds code there.
  struct CodeWriteFanout : CodeWriteListener {
    Machine* machine = nullptr;
    PhysicalMemory* mem = nullptr;
    std::vector<BlockCache*> caches;
    void code_page_written(uint32_t paddr, unsigned size) override;
  } code_fanout_;
  // Several CPUs: FEE00000h reaches the running CPU's local APIC.
  struct LapicRouter : MmioHandler {
    Machine* machine = nullptr;
    uint32_t mmio_read(uint32_t addr, unsigned size) override;
    void mmio_write(uint32_t addr, uint32_t value, unsigned size) override;
  } lapic_router_;
  ApicBus apic_bus_;
  MachineExit run_smp(uint64_t max_insns);
  // One slice of `cpu` up to `budget` instructions (the clock's horizon set around it); the exit
  // it brings the board to, if any (`r`: why the CPU stopped).
  std::optional<MachineExit> run_slice(Cpu& cpu, uint64_t budget, StopReason& r);
  // No CPU can run before the next timer event: deterministic mode jumps there (a bounded number
  // of times per run() call); realtime mode returns Idle for the host to sleep.
  std::optional<MachineExit> idle_until_event(unsigned& skips);
  bool runnable(const Cpu& c) const;
  void switch_to(Cpu* next);
  size_t current_index() const;

  // ---- -smp N,threads=on (emu/board/machine_threads.cpp) ----
  struct Vcpu;
  struct Threads;
  std::unique_ptr<Threads> threads_;
  DeviceLock device_lock_;
  void setup_threads();
  MachineExit run_threaded(uint64_t max_insns);
  void vcpu_main(size_t idx);
  void stop_threads();
  // Runs `fn` on CPU `idx`'s own thread: at once when called there, on one host thread, or while
  // that CPU idles (it waits for a lock this holds); else at its next block boundary.
  void post_to(size_t idx, std::function<void()> fn);
  // Takes the write permission for `paddr` out of CPU `idx`'s TLB, and waits until it is done.
  void protect_on(size_t idx, uint32_t paddr);
  // The guest asked to stop the run (exit port, reset, power-off, triple fault): with threads,
  // every CPU stops at its next block boundary and the timer thread is woken.
  void request_stop();
  void wake_timer_thread();  // threads: a clock event earlier than the one it sleeps for
  // The CPU of the calling thread (threads), else the one running.
  Cpu* self() const;
  // A CPU's INTR changed (the interrupt controller, under the device lock).
  void intr_changed(Cpu& c, bool level);
  bool shutdown_requested_ = false;
  // Devices hold events on the clock: declared after it, destroyed before it.
  std::unique_ptr<Pic8259> pic_;
  std::vector<std::unique_ptr<LocalApic>> lapics_;
  std::unique_ptr<IoApic> ioapic_;
  // An ISA interrupt line (and a PCI one the PIIX3 routed to it): to the 8259s and the I/O APIC.
  void isa_irq(unsigned irq, bool level);
  std::unique_ptr<Pit8254> pit_;
  std::unique_ptr<CmosRtc> rtc_;
  std::unique_ptr<I8042> kbc_;
  std::unique_ptr<Uart16550> com1_;
  std::unique_ptr<SystemControlPort> sysctl_;  // port 0x92: fast A20, reset
  std::unique_ptr<Vga> vga_;                   // -vga std
  std::unique_ptr<FpuErrorLatch> ferr_;        // port 0xF0, IRQ13
  std::unique_ptr<PciBus> pci_;                // 0xCF8-0xCFF
  std::unique_ptr<I440fx> host_;               // 00:00.0, PAM
  std::unique_ptr<Piix3> isa_;                 // 00:01.0, PIRQ routing
  std::unique_ptr<PiixIde> ide_;               // 00:01.1, IRQ14/15
  std::unique_ptr<VgaPci> vga_pci_;            // 00:02.0 (-vga std): LFB BAR0, VGA BIOS ROM BAR
  std::unique_ptr<Piix4Pm> pm_;                // 00:01.3 (-acpi on): PM timer, SCI, S5
  std::unique_ptr<FwCfg> fw_cfg_;              // 0x510/0x511
  std::optional<AcpiTables> acpi_;
  void setup_fw_cfg();
  void add_nic(unsigned slot, const MachineConfig::Nic& n);
  void add_virtio_net(unsigned slot, const MachineConfig::Nic& n);
  void add_virtio_blk(unsigned slot, const MachineConfig::VirtioDisk& d);
  // A PCI function's memory BAR mapped as MMIO where the guest puts it.
  void map_bar_mmio(PciDevice& dev, MmioHandler* handler, unsigned bar_index);
  void poll_network();
  void schedule_net_poll();
  void notify_network();   // any host thread: a backend has frames for the guest
  void service_network();  // the run loop: polls if notified
  std::atomic<bool> net_pending_{false};
  int wake_fd_ = -1;
  std::vector<std::unique_ptr<E1000>> nics_;             // the e1000s among the NICs (00:03.0 onwards)
  std::vector<std::unique_ptr<VirtioNet>> virtio_nets_;  // the virtio-net cards among them
  std::vector<std::unique_ptr<VirtioBlk>> virtio_blks_;  // after the NICs
  Clock::EventId net_poll_event_ = 0;
  // What the PAM regions read when they are not RAM: the BIOS image's last 128 KiB at
  // 0x100000 - low_bios_.size() (the ISA BIOS alias; QEMU's "isa-bios").
  std::vector<uint8_t> low_bios_;
  bool a20_92_ = true, a20_kbc_ = true;
  bool a20_ = true;  // the gate as the CPUs' MMUs have it
  bool reset_requested_ = false;
  bool power_off_requested_ = false;
};

// Checks a BIOS image's size (64-256 KiB, a multiple of 64 KiB); returns an error message or "".
std::string validate_bios(const std::vector<uint8_t>& image);
// Checks a VGA BIOS option ROM (0x55AA signature, at most 128 KiB); returns an error message or "".
std::string validate_vga_bios(const std::vector<uint8_t>& image);

}  // namespace vx86
