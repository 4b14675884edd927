#include "devices/io_apic.h"

#include "devices/snapshot.h"

namespace vx86 {

IoApic::IoApic(PhysicalMemory& mem, LocalApic& lapic, Cpu& cpu) : mem_(mem), lapic_(lapic), cpu_(cpu) {
  mem_.map_mmio(kBase, 0x1000, this);
  reset();
}

IoApic::~IoApic() { mem_.unmap_mmio(this); }

void IoApic::reset() {
  id_ = 0;
  select_ = 0;
  for (uint64_t& e : redir_) e = MASKED;
  input_ = 0;
}

bool IoApic::to_this_cpu(uint64_t entry) const {
  const uint32_t dest = static_cast<uint32_t>(entry >> 56);
  if (entry & LOGICAL) return (dest & (lapic_.read_reg(LocalApic::LDR) >> 24)) != 0;  // flat model
  return dest == 0xFF || dest == (lapic_.read_reg(LocalApic::ID) >> 24);
}

void IoApic::service(unsigned pin) {
  uint64_t& e = redir_[pin];
  if ((e & MASKED) || !((input_ >> pin) & 1)) return;
  if (bus_) {
    bool named = false;
    for (size_t i = 0; i < bus_->size(); ++i)
      named |= bus_->apic(i)->enabled() &&
               ApicBus::matches(*bus_->apic(i), static_cast<uint8_t>(e >> 56), e & LOGICAL);
    if (!named) return;
  } else if (!to_this_cpu(e)) {
    return;
  }
  if (e & LEVEL) {
    if (e & REMOTE_IRR) return;  // the last one is still in service
    e |= REMOTE_IRR;
  }
  const unsigned mode = (e >> 8) & 7;
  if (bus_) {
    if (mode == 0 || mode == 1 || mode == 4)
      bus_->deliver(nullptr, ApicBus::NONE, static_cast<uint8_t>(e >> 56), e & LOGICAL, mode,
                    static_cast<uint8_t>(e & 0xFF), (e & LEVEL) != 0);
    return;
  }
  if (mode == 0 || mode == 1)
    lapic_.accept(static_cast<uint8_t>(e & 0xFF), (e & LEVEL) != 0);
  else if (mode == 4)
    cpu_.request([c = &cpu_] { c->raise_nmi(); });
  // SMI, INIT, start-up and ExtINT through the I/O APIC: nothing on this board uses them.
}

void IoApic::set_irq(unsigned pin, bool level) {
  if (pin >= kPins) return;
  const bool was = (input_ >> pin) & 1;
  input_ = level ? input_ | (1u << pin) : input_ & ~(1u << pin);
  // Edge entries fire on the rising edge, level entries whenever asserted and not in service.
  if (level && (!was || (redir_[pin] & LEVEL))) service(pin);
}

void IoApic::eoi(uint8_t vector) {
  for (unsigned pin = 0; pin < kPins; ++pin) {
    uint64_t& e = redir_[pin];
    if ((e & REMOTE_IRR) && (e & 0xFF) == vector) {
      e &= ~REMOTE_IRR;
      service(pin);
    }
  }
}

uint32_t IoApic::read_reg(uint8_t index) const {
  if (index == 0x00) return id_;
  if (index == 0x01) return kVersion;
  if (index == 0x02) return id_;  // arbitration ID
  if (index >= 0x10 && index < 0x10 + 2 * kPins) {
    const uint64_t e = redir_[(index - 0x10) / 2];
    return static_cast<uint32_t>(index & 1 ? e >> 32 : e);
  }
  return 0;
}

void IoApic::write_reg(uint8_t index, uint32_t value) {
  if (index == 0x00) {
    id_ = value & 0x0F000000u;
    return;
  }
  if (index < 0x10 || index >= 0x10 + 2 * kPins) return;  // version, arbitration: read-only
  const unsigned pin = (index - 0x10) / 2;
  uint64_t& e = redir_[pin];
  const uint64_t kept = e & ~WRITABLE;  // remote IRR
  uint64_t v = index & 1 ? (e & 0xFFFFFFFFull) | (uint64_t{value} << 32) : (e & ~0xFFFFFFFFull) | value;
  v = (v & WRITABLE) | kept;
  if (!(v & LEVEL)) v &= ~REMOTE_IRR;  // an edge entry has nothing in service (Linux's EOI on 11h)
  e = v;
  service(pin);  // unmasked with the input asserted (a level one waits for no EOI)
}

uint32_t IoApic::mmio_read(uint32_t addr, unsigned size) {
  const uint32_t off = addr & 0xFFF;
  uint32_t v = 0xFFFFFFFFu;
  if (off < 4)
    v = select_ >> (8 * off);
  else if (off >= 0x10 && off < 0x14)
    v = read_reg(select_) >> (8 * (off - 0x10));
  else
    v = 0;
  return size >= 4 ? v : v & ((1u << (8 * size)) - 1);
}

void IoApic::mmio_write(uint32_t addr, uint32_t value, unsigned size) {
  const uint32_t off = addr & 0xFFF;
  if (off == 0)
    select_ = static_cast<uint8_t>(value);
  else if (off == 0x10 && size == 4)
    write_reg(select_, value);
}

void IoApic::save(SnapshotWriter& w) const {
  w.begin_section("IOAP", 1);
  w.u32(id_);
  w.u8(select_);
  for (uint64_t e : redir_) w.u64(e);
  w.u32(input_);
  w.end_section();
}

void IoApic::load(SnapshotReader& r) {
  r.begin_section("IOAP", 1);
  id_ = r.u32();
  select_ = r.u8();
  for (uint64_t& e : redir_) e = r.u64();
  input_ = r.u32();
  r.end_section();
  r.check((id_ & ~0x0F000000u) == 0 && input_ < (1u << kPins), "I/O APIC state out of range");
  for (uint64_t e : redir_)
    r.check((e & ~(WRITABLE | REMOTE_IRR)) == 0, "I/O APIC redirection entry out of range");
}

}  // namespace vx86
