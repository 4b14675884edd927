// The local APIC of one CPU (xAPIC, as a P6's integrated APIC: version 14h, five LVT entries):
// memory-mapped at the IA32_APIC_BASE MSR's address (FEE00000h after reset), with the ID, task
// and processor priorities, EOI, the ISR/TMR/IRR bit arrays, the spurious-interrupt vector, the
// error status, the interrupt command register (self-IPIs; no other CPUs yet), the LVT entries and
// the timer (one-shot and periodic, with the divide register). It is the CPU's interrupt source:
// its own vectors by priority, and the 8259's through LINT0 in ExtINT ("virtual wire") mode, or
// directly while the APIC is disabled in the MSR.
//
// The timer counts the board's 1 GHz bus clock (virtual ns) divided by the divide register, and
// fires through clock events at its exact deadlines, so deterministic runs repeat it exactly.
#pragma once
#include <array>
#include <cstdint>
#include <functional>

#include "emu/clock.h"
#include "emu/cpu.h"
#include "mmu/physical_memory.h"

namespace vx86 {

class ApicBus;

class SnapshotWriter;
class SnapshotReader;

class LocalApic : public InterruptSource, public MmioHandler {
 public:
  static constexpr uint32_t kDefaultBase = 0xFEE00000u;
  static constexpr uint32_t kVersion = 0x00040014u;  // max LVT entry 4 (five entries), version 14h
  // Register offsets (SDM Vol. 3, table "Local APIC Register Address Map").
  enum : uint32_t {
    ID = 0x20,
    VERSION = 0x30,
    TPR = 0x80,
    APR = 0x90,
    PPR = 0xA0,
    EOI = 0xB0,
    RRD = 0xC0,
    LDR = 0xD0,
    DFR = 0xE0,
    SVR = 0xF0,
    ISR0 = 0x100,
    TMR0 = 0x180,
    IRR0 = 0x200,
    ESR = 0x280,
    ICR_LO = 0x300,
    ICR_HI = 0x310,
    LVT_TIMER = 0x320,
    LVT_PERF = 0x340,
    LVT_LINT0 = 0x350,
    LVT_LINT1 = 0x360,
    LVT_ERROR = 0x370,
    TIMER_INITIAL = 0x380,
    TIMER_CURRENT = 0x390,
    TIMER_DIVIDE = 0x3E0,
  };
  enum : uint32_t { LVT_MASKED = 1u << 16, LVT_PERIODIC = 1u << 17, SVR_ENABLE = 1u << 8 };

  // `extint`: the 8259 pair (LINT0). `mem`: where the registers are mapped (unless `map_self` is
  // false: with several CPUs the board routes FEE00000h to the running CPU's APIC). `id`: its
  // APIC ID after reset.
  LocalApic(Clock& clock, PhysicalMemory& mem, Cpu& cpu, InterruptSource* extint, uint8_t id = 0,
            bool map_self = true);
  ~LocalApic() override;
  LocalApic(const LocalApic&) = delete;
  LocalApic& operator=(const LocalApic&) = delete;

  // Power-on state: the ID it was made with, software-disabled (SVR FFh), LVTs masked but the
  // BSP's LINT0, which is ExtINT as a BIOS leaves it for the 8259 (as QEMU's), timer stopped.
  void reset();
  // Several CPUs: IPIs go out on the bus (without one, only to this APIC itself).
  void set_bus(ApicBus* bus) { bus_ = bus; }
  Cpu& cpu() { return cpu_; }
  uint8_t apic_id() const { return static_cast<uint8_t>(id_ >> 24); }
  uint8_t logical_id() const { return static_cast<uint8_t>(ldr_ >> 24); }
  bool flat_model() const { return (dfr_ >> 28) == 0xF; }
  uint32_t task_priority() const { return tpr_ & 0xFF; }
  // Messages from the bus: NMI, INIT (the CPU and this APIC reset, the ID kept), STARTUP.
  void receive_nmi();
  void receive_init();
  void receive_startup(uint8_t vector);
  // The IA32_APIC_BASE MSR changed (Cpu::on_apic_base): moves or unmaps the registers.
  void base_changed();
  bool enabled() const { return (cpu_.s.msr.apic_base & 0x800) != 0; }

  // InterruptSource: the highest vector above the processor priority, else the 8259's.
  bool pending() override;
  uint8_t acknowledge() override;
  // Told whenever what pending() answers may have changed (the board sets CpuState::irq_pending).
  std::function<void(bool)> on_intr_change;
  // The EOI of a level-triggered vector (TMR set): the I/O APIC clears its remote IRR.
  std::function<void(uint8_t)> on_level_eoi;
  // The 8259's INTR changed.
  void extint_changed() { notify(); }
  // CPUs on host threads: a periodic tick that comes while its vector still waits in the IRR (the
  // host did not run that CPU's thread for a while) is owed and delivered once the one before is
  // taken, as QEMU's "delay" lost-tick policy does for its PIT, so a guest that counts ticks
  // (Linux's jiffies before its TSC clock is trusted) does not fall behind the other clocks.
  // Hardware drops it (the IRR holds one): off otherwise. Bounded; not in snapshots.
  bool catch_up_ticks = false;
  // A fixed interrupt for this CPU (an LVT entry, an IPI, later the I/O APIC).
  void accept(uint8_t vector, bool level);

  uint32_t read_reg(uint32_t offset);
  void write_reg(uint32_t offset, uint32_t value);
  uint32_t mmio_read(uint32_t addr, unsigned size) override;
  void mmio_write(uint32_t addr, uint32_t value, unsigned size) override;

  void save(SnapshotWriter& w) const;
  void load(SnapshotReader& r);  // needs the clock loaded first

 private:
  using Bits = std::array<uint32_t, 8>;
  static int highest(const Bits& b);
  uint32_t ppr() const;
  int deliverable() const;  // the IRR vector above PPR, or -1
  bool extint_open() const;
  void notify();
  void lvt_write(unsigned index, uint32_t value);
  // Timer.
  uint64_t tick_ns() const;
  uint32_t timer_current() const;
  void timer_start(uint64_t from_ns);
  void timer_schedule();
  void timer_fire();

  Clock& clock_;
  PhysicalMemory& mem_;
  Cpu& cpu_;
  InterruptSource* extint_;
  ApicBus* bus_ = nullptr;
  uint8_t initial_id_ = 0;
  bool map_self_ = true;
  uint32_t mapped_base_ = 0;
  bool mapped_ = false;

  uint32_t id_ = 0, tpr_ = 0, ldr_ = 0, dfr_ = 0xFFFFFFFFu, svr_ = 0xFF, esr_ = 0, esr_pending_ = 0;
  uint32_t icr_lo_ = 0, icr_hi_ = 0;
  uint32_t lvt_[5] = {};  // timer, perf, LINT0, LINT1, error
  Bits isr_{}, tmr_{}, irr_{};
  uint32_t timer_initial_ = 0, timer_divide_ = 0;
  uint64_t timer_start_ns_ = 0;  // when the current count was (re)loaded with timer_initial_
  Clock::EventId timer_event_ = 0;
  // One-shot: the count was loaded and its interrupt not yet sent. The interrupt goes out even when
  // the count has run down before the event could be scheduled (a tiny count, or a host clock that
  // moved on between two reads: CPUs on threads).
  bool timer_armed_ = false;
  void timer_rearm_if_running();  // armed = the one-shot count has not yet reached 0
  // Periodic: the deadline the pending event was set for, and (catch_up_ticks) ticks owed.
  uint64_t timer_deadline_ = 0;
  uint32_t timer_owed_ = 0;
  static constexpr uint32_t kMaxOwedTicks = 256;
};

}  // namespace vx86
