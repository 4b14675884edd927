#include "devices/apic_bus.h"
#include "devices/local_apic.h"

#include "devices/snapshot.h"

namespace vx86 {

namespace {
// Writable bits of the LVT entries (vector, delivery mode, polarity, trigger, mask, timer mode);
// delivery status and remote IRR read 0.
constexpr uint32_t kLvtWritable[5] = {0x300FFu, 0x107FFu, 0x1A7FFu, 0x1A7FFu, 0x100FFu};
constexpr uint32_t kLvtReset = LocalApic::LVT_MASKED;
constexpr uint32_t kLint0VirtualWire = 0x700;  // ExtINT, unmasked
}  // namespace

LocalApic::LocalApic(Clock& clock, PhysicalMemory& mem, Cpu& cpu, InterruptSource* extint, uint8_t id,
                     bool map_self)
    : clock_(clock), mem_(mem), cpu_(cpu), extint_(extint), initial_id_(id), map_self_(map_self) {
  reset();
}

LocalApic::~LocalApic() {
  clock_.cancel(timer_event_);
  if (mapped_) mem_.unmap_mmio(this);
}

void LocalApic::reset() {
  clock_.cancel(timer_event_);
  timer_event_ = 0;
  id_ = uint32_t{initial_id_} << 24;
  tpr_ = ldr_ = esr_ = esr_pending_ = icr_lo_ = icr_hi_ = 0;
  dfr_ = 0xFFFFFFFFu;
  svr_ = 0xFF;
  for (uint32_t& l : lvt_) l = kLvtReset;
  if (cpu_.bsp) lvt_[2] = kLint0VirtualWire;
  isr_ = tmr_ = irr_ = Bits{};
  timer_initial_ = timer_divide_ = 0;
  timer_armed_ = false;
  timer_owed_ = 0;
  timer_start_ns_ = 0;
  base_changed();
  notify();
}

void LocalApic::receive_nmi() {
  cpu_.request([c = &cpu_] { c->raise_nmi(); });
}

void LocalApic::receive_init() {
  const uint32_t id = id_;
  cpu_.request([c = &cpu_] { c->init(); });
  reset();
  id_ = id;  // INIT keeps the APIC ID
}

void LocalApic::receive_startup(uint8_t vector) {
  cpu_.request([c = &cpu_, vector] { c->sipi(vector); });
}

void LocalApic::base_changed() {
  if (!map_self_) {
    notify();
    return;
  }
  const uint32_t base = static_cast<uint32_t>(cpu_.s.msr.apic_base) & ~0xFFFu;
  if (mapped_ && (!enabled() || base != mapped_base_)) {
    mem_.unmap_mmio(this);
    mapped_ = false;
  }
  if (enabled() && !mapped_) {
    mem_.map_mmio(base, 0x1000, this);
    mapped_base_ = base;
    mapped_ = true;
  }
  notify();
}

int LocalApic::highest(const Bits& b) {
  for (int w = 7; w >= 0; --w)
    if (b[static_cast<size_t>(w)]) return w * 32 + 31 - __builtin_clz(b[static_cast<size_t>(w)]);
  return -1;
}

uint32_t LocalApic::ppr() const {
  const int isrv = highest(isr_);
  const uint32_t isr_class = isrv < 0 ? 0 : static_cast<uint32_t>(isrv) & 0xF0;
  return (tpr_ & 0xF0) >= isr_class ? tpr_ : isr_class;
}

int LocalApic::deliverable() const {
  const int v = highest(irr_);
  if (v < 0 || (static_cast<uint32_t>(v) & 0xF0) <= (ppr() & 0xF0)) return -1;
  return v;
}

bool LocalApic::extint_open() const {
  const uint32_t l = lvt_[2];
  return !(l & LVT_MASKED) && ((l >> 8) & 7) == 7;
}

void LocalApic::notify() {
  if (on_intr_change) on_intr_change(pending());
}

bool LocalApic::pending() {
  if (!enabled()) return extint_ && extint_->pending();
  if (deliverable() >= 0) return true;
  return extint_ && extint_open() && extint_->pending();
}

uint8_t LocalApic::acknowledge() {
  if (!enabled()) return extint_ ? extint_->acknowledge() : 0xFF;
  const int v = deliverable();
  if (v >= 0) {
    irr_[static_cast<size_t>(v) / 32] &= ~(1u << (v % 32));
    isr_[static_cast<size_t>(v) / 32] |= 1u << (v % 32);
    if (timer_owed_ && static_cast<uint32_t>(v) == (lvt_[0] & 0xFF)) {
      --timer_owed_;  // the next owed tick waits in the IRR (taken after this one's EOI)
      irr_[static_cast<size_t>(v) / 32] |= 1u << (v % 32);
    }
    notify();
    return static_cast<uint8_t>(v);
  }
  if (extint_ && extint_open() && extint_->pending()) return extint_->acknowledge();
  return static_cast<uint8_t>(svr_ & 0xFF);  // nothing left by INTA time: the spurious vector
}

void LocalApic::accept(uint8_t vector, bool level) {
  if (vector < 16) {
    esr_pending_ |= 1u << 6;  // received illegal vector
    return;
  }
  irr_[vector / 32] |= 1u << (vector % 32);
  if (level)
    tmr_[vector / 32] |= 1u << (vector % 32);
  else
    tmr_[vector / 32] &= ~(1u << (vector % 32));
  notify();
}

// ---- registers ----

uint32_t LocalApic::read_reg(uint32_t off) {
  if (off >= ISR0 && off < ISR0 + 0x80) return isr_[(off - ISR0) / 16];
  if (off >= TMR0 && off < TMR0 + 0x80) return tmr_[(off - TMR0) / 16];
  if (off >= IRR0 && off < IRR0 + 0x80) return irr_[(off - IRR0) / 16];
  switch (off) {
    case ID:
      return id_;
    case VERSION:
      return kVersion;
    case TPR:
      return tpr_;
    case PPR:
      return ppr();
    case LDR:
      return ldr_;
    case DFR:
      return dfr_;
    case SVR:
      return svr_;
    case ESR:
      return esr_;
    case ICR_LO:
      return icr_lo_;
    case ICR_HI:
      return icr_hi_;
    case LVT_TIMER:
      return lvt_[0];
    case LVT_PERF:
      return lvt_[1];
    case LVT_LINT0:
      return lvt_[2];
    case LVT_LINT1:
      return lvt_[3];
    case LVT_ERROR:
      return lvt_[4];
    case TIMER_INITIAL:
      return timer_initial_;
    case TIMER_CURRENT:
      return timer_current();
    case TIMER_DIVIDE:
      return timer_divide_;
    default:
      return 0;  // APR, EOI, RRD and reserved offsets
  }
}

void LocalApic::lvt_write(unsigned index, uint32_t value) {
  uint32_t v = value & kLvtWritable[index];
  if (!(svr_ & SVR_ENABLE)) v |= LVT_MASKED;  // software-disabled: the masks stay set
  if (index == 0 && (v & 0xFF) < 16 && !(v & LVT_MASKED)) esr_pending_ |= 1u << 5;  // illegal vector
  lvt_[index] = v;
}

void LocalApic::write_reg(uint32_t off, uint32_t v) {
  switch (off) {
    case ID:
      id_ = v & 0xFF000000u;
      break;
    case TPR:
      tpr_ = v & 0xFF;
      break;
    case EOI: {
      const int s = highest(isr_);
      if (s >= 0) {
        const size_t w = static_cast<size_t>(s) / 32;
        const uint32_t bit = 1u << (s % 32);
        isr_[w] &= ~bit;
        if (tmr_[w] & bit) {
          tmr_[w] &= ~bit;
          if (on_level_eoi) on_level_eoi(static_cast<uint8_t>(s));  // to the I/O APIC
        }
      }
      break;
    }
    case LDR:
      ldr_ = v & 0xFF000000u;
      break;
    case DFR:
      dfr_ = (v & 0xF0000000u) | 0x0FFFFFFFu;
      break;
    case SVR:
      // P6: bits 0-3 of the spurious vector are hardwired to 1. Disabling masks every LVT entry.
      svr_ = (v & 0x3F0) | 0xF;
      if (!(svr_ & SVR_ENABLE))
        for (uint32_t& l : lvt_) l |= LVT_MASKED;
      break;
    case ESR:  // a write latches the errors seen since the last one
      esr_ = esr_pending_;
      esr_pending_ = 0;
      break;
    case ICR_HI:
      icr_hi_ = v & 0xFF000000u;
      break;
    case ICR_LO: {
      icr_lo_ = v & 0x000CCFFFu;  // delivery status (bit 12) reads idle: sent at once
      if (bus_) {
        bus_->send_ipi(this, v, icr_hi_);
        break;
      }
      const unsigned mode = (v >> 8) & 7, shorthand = (v >> 18) & 3;
      // The only CPU: self, all-including-self, or a physical destination naming its own ID.
      const bool to_self = shorthand == 1 || shorthand == 2 ||
                           (shorthand == 0 && !(v & (1u << 11)) && (icr_hi_ >> 24) == (id_ >> 24));
      if (to_self && (mode == 0 || mode == 1))
        accept(static_cast<uint8_t>(v & 0xFF), false);
      else if (to_self && mode == 4)
        receive_nmi();
      break;
    }
    case LVT_TIMER: {
      const bool was_periodic = lvt_[0] & LVT_PERIODIC;
      lvt_write(0, v);
      timer_owed_ = 0;
      if (was_periodic && !(lvt_[0] & LVT_PERIODIC)) timer_rearm_if_running();  // periodic -> one-shot
      timer_schedule();
      break;
    }
    case LVT_PERF:
      lvt_write(1, v);
      break;
    case LVT_LINT0:
      lvt_write(2, v);
      break;
    case LVT_LINT1:
      lvt_write(3, v);
      break;
    case LVT_ERROR:
      lvt_write(4, v);
      break;
    case TIMER_INITIAL:
      timer_initial_ = v;
      timer_armed_ = v != 0;
      timer_owed_ = 0;
      timer_start(clock_.now());
      break;
    case TIMER_DIVIDE: {
      // The count goes on from where it is at the new rate.
      const uint32_t current = timer_current();
      timer_divide_ = v & 0xB;
      if (timer_initial_)
        timer_start(clock_.now() -
                    std::min<uint64_t>(clock_.now(), uint64_t{timer_initial_ - current} * tick_ns()));
      break;
    }
    default:
      break;  // read-only and reserved registers ignore writes
  }
  notify();
}

uint32_t LocalApic::mmio_read(uint32_t addr, unsigned size) {
  const uint32_t off = addr & 0xFFF;
  const uint32_t v = read_reg(off & ~0xFu) >> (8 * (off & 3));
  return size >= 4 ? v : v & ((1u << (8 * size)) - 1);
}

void LocalApic::mmio_write(uint32_t addr, uint32_t value, unsigned size) {
  const uint32_t off = addr & 0xFFF;
  if (size != 4 || (off & 0xF)) return;  // the registers take aligned 32-bit writes only
  write_reg(off, value);
}

// ---- timer ----

uint64_t LocalApic::tick_ns() const {
  const uint32_t d = ((timer_divide_ >> 1) & 4) | (timer_divide_ & 3);  // bits 3, 1, 0
  return uint64_t{1} << ((d + 1) & 7);                                  // 111b: 1, 000b: 2, ... 110b: 128
}

uint32_t LocalApic::timer_current() const {
  if (!timer_initial_) return 0;
  const uint64_t now = clock_.now();
  const uint64_t elapsed = now > timer_start_ns_ ? (now - timer_start_ns_) / tick_ns() : 0;
  if (lvt_[0] & LVT_PERIODIC) return timer_initial_ - static_cast<uint32_t>(elapsed % timer_initial_);
  return elapsed >= timer_initial_ ? 0 : timer_initial_ - static_cast<uint32_t>(elapsed);
}

void LocalApic::timer_start(uint64_t from_ns) {
  timer_start_ns_ = from_ns;
  timer_schedule();
}

void LocalApic::timer_schedule() {
  clock_.cancel(timer_event_);
  timer_event_ = 0;
  if (!timer_initial_) return;
  const uint64_t period = uint64_t{timer_initial_} * tick_ns(), now = clock_.now();
  const uint64_t elapsed = now > timer_start_ns_ ? now - timer_start_ns_ : 0;
  uint64_t deadline;
  if (lvt_[0] & LVT_PERIODIC) {
    deadline = timer_start_ns_ + (elapsed / period + 1) * period;
  } else {
    if (!timer_armed_) return;  // its interrupt went out: a one-shot count stays at 0
    deadline = timer_start_ns_ + period;  // (maybe already past: due at once)
  }
  timer_deadline_ = deadline;
  timer_event_ = clock_.schedule(deadline, [this] { timer_fire(); });
}

void LocalApic::timer_rearm_if_running() {
  if (!timer_initial_) return;
  const uint64_t now = clock_.now();
  const uint64_t elapsed = now > timer_start_ns_ ? now - timer_start_ns_ : 0;
  timer_armed_ = elapsed < uint64_t{timer_initial_} * tick_ns();
}

void LocalApic::timer_fire() {
  timer_event_ = 0;
  timer_armed_ = false;
  if (!(lvt_[0] & LVT_MASKED)) {
    const uint8_t v = static_cast<uint8_t>(lvt_[0] & 0xFF);
    if (v < 16) {
      esr_pending_ |= 1u << 5;  // send illegal vector
    } else {
      uint64_t ticks = 1;
      if (lvt_[0] & LVT_PERIODIC) {
        // Periods that passed since the deadline (the event ran late) are ticks too.
        const uint64_t period = uint64_t{timer_initial_} * tick_ns(), now = clock_.now();
        if (period && now > timer_deadline_) ticks += (now - timer_deadline_) / period;
      }
      if (!((irr_[v / 32] >> (v % 32)) & 1)) {
        accept(v, false);
        --ticks;
      }
      if ((lvt_[0] & LVT_PERIODIC) && catch_up_ticks)
        timer_owed_ = static_cast<uint32_t>(std::min<uint64_t>(timer_owed_ + ticks, kMaxOwedTicks));
    }
  }
  if (lvt_[0] & LVT_PERIODIC) timer_schedule();
}

// ---- snapshot ----

void LocalApic::save(SnapshotWriter& w) const {
  w.begin_section("LAPC", 1);
  for (uint32_t v : {id_, tpr_, ldr_, dfr_, svr_, esr_, esr_pending_, icr_lo_, icr_hi_}) w.u32(v);
  for (uint32_t l : lvt_) w.u32(l);
  for (const Bits* b : {&isr_, &tmr_, &irr_})
    for (uint32_t v : *b) w.u32(v);
  w.u32(timer_initial_);
  w.u32(timer_divide_);
  w.u64(timer_start_ns_);
  w.end_section();
}

void LocalApic::load(SnapshotReader& r) {
  r.begin_section("LAPC", 1);
  for (uint32_t* v : {&id_, &tpr_, &ldr_, &dfr_, &svr_, &esr_, &esr_pending_, &icr_lo_, &icr_hi_})
    *v = r.u32();
  for (uint32_t& l : lvt_) l = r.u32();
  for (Bits* b : {&isr_, &tmr_, &irr_})
    for (uint32_t& v : *b) v = r.u32();
  timer_initial_ = r.u32();
  timer_divide_ = r.u32();
  timer_start_ns_ = r.u64();
  r.end_section();
  // Only values a guest could have written.
  r.check((id_ & 0x00FFFFFFu) == 0 && tpr_ <= 0xFF && (ldr_ & 0x00FFFFFFu) == 0 &&
              (dfr_ & 0x0FFFFFFFu) == 0x0FFFFFFFu && (svr_ & ~0x3FFu) == 0 && (svr_ & 0xF) == 0xF &&
              (icr_hi_ & 0x00FFFFFFu) == 0 && timer_divide_ <= 0xB && (timer_divide_ & 4) == 0 &&
              timer_start_ns_ < Clock::kMaxTime,
          "local APIC register out of range");
  for (unsigned k = 0; k < 5; ++k)
    r.check((lvt_[k] & ~kLvtWritable[k]) == 0, "local APIC LVT entry out of range");
  timer_armed_ = false;
  timer_owed_ = 0;
  timer_rearm_if_running();
  timer_schedule();
  base_changed();
}

}  // namespace vx86
