#include "devices/pit8254.h"

#include "devices/snapshot.h"

namespace vx86 {

namespace {
using u128 = unsigned __int128;

uint32_t from_bcd16(uint32_t v) {
  return (v & 0xF) + ((v >> 4) & 0xF) * 10 + ((v >> 8) & 0xF) * 100 + ((v >> 12) & 0xF) * 1000;
}
uint16_t to_bcd16(uint32_t v) {
  return static_cast<uint16_t>((v % 10) | ((v / 10 % 10) << 4) | ((v / 100 % 10) << 8) | ((v / 1000 % 10) << 12));
}
}  // namespace

uint64_t Pit8254::ns_to_ticks(uint64_t ns) {
  return static_cast<uint64_t>(u128{ns} * kFrequencyHz / 1000000000u);
}

uint64_t Pit8254::ticks_to_ns(uint64_t ticks) {
  const u128 ns = (u128{ticks} * 1000000000u + kFrequencyHz - 1) / kFrequencyHz;
  return ns > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(ns);
}

Pit8254::~Pit8254() { clock_.cancel(ch0_event_); }

void Pit8254::attach(PortBus& bus) {
  bus.attach(0x40, 4, this);
  bus.attach(0x61, 1, this);
}

void Pit8254::reset() {
  clock_.cancel(ch0_event_);
  ch0_event_ = 0;
  for (unsigned i = 0; i < 3; ++i) {
    ch_[i] = Channel{};
    ch_[i].gate = i != 2;
  }
  port61_ = 0;
  set_irq0(false);
}

uint64_t Pit8254::elapsed(const Channel& c) const {
  if (c.frozen) return c.frozen_d;
  uint64_t t = now_tick();
  return t > c.load_tick ? t - c.load_tick : 0;
}

uint32_t Pit8254::period(const Channel& c) const {
  // Counts of 1 are illegal in modes 2 and 3; treat them as 2 so the output still toggles.
  if ((c.mode == 2 || c.mode == 3) && c.count < 2) return 2;
  return c.count;
}

bool Pit8254::out_at(const Channel& c, uint64_t d) const {
  if (!c.armed) return c.mode != 0;
  const uint64_t n = period(c);
  switch (c.mode) {
    case 0: return d >= n;
    case 1: return !c.triggered || d >= n;
    case 2: return !c.gate || d % n != n - 1;
    case 3: return !c.gate || d % n < (n + 1) / 2;
    case 4: return d != n;
    case 5: return !c.triggered || d != n;
    default: return true;
  }
}

uint32_t Pit8254::counter_at(const Channel& c, uint64_t d) const {
  const uint64_t n = period(c);
  const uint64_t m = c.bcd ? 10000 : 0x10000;
  switch (c.mode) {
    case 2: return static_cast<uint32_t>(n - d % n);
    case 3: return static_cast<uint32_t>(n - (2 * d) % n);
    case 1:
    case 5:
      if (!c.triggered) return static_cast<uint32_t>(n % m);
      [[fallthrough]];
    default:  // 0, 4: count down through zero and wrap
      return static_cast<uint32_t>((n % m + m - d % m) % m);
  }
}

uint64_t Pit8254::next_transition(const Channel& c, uint64_t d) const {
  if (!c.armed || c.frozen) return kNone;
  const uint64_t n = period(c);
  switch (c.mode) {
    case 0: return d < n ? n : kNone;
    case 1: return c.triggered && d < n ? n : kNone;
    case 2:
    case 3: {
      if (!c.gate) return kNone;
      const uint64_t k = d % n, base = d - k;
      const uint64_t fall = c.mode == 2 ? n - 1 : (n + 1) / 2;
      return k < fall ? base + fall : base + n;
    }
    case 5:
      if (!c.triggered) return kNone;
      [[fallthrough]];
    case 4: return d < n ? n : d == n ? n + 1 : kNone;
    default: return kNone;
  }
}

uint16_t Pit8254::encode(const Channel& c, uint32_t v) const {
  return c.bcd ? to_bcd16(v % 10000) : static_cast<uint16_t>(v);
}

bool Pit8254::output(unsigned ch) {
  const Channel& c = ch_[ch % 3];
  return out_at(c, elapsed(c));
}

uint16_t Pit8254::counter(unsigned ch) {
  const Channel& c = ch_[ch % 3];
  return c.armed ? encode(c, counter_at(c, elapsed(c))) : c.held;
}

void Pit8254::set_irq0(bool level) {
  irq_level_ = level;
  if (irq0) irq0(level);
}

void Pit8254::schedule_ch0(uint64_t after_d) {
  clock_.cancel(ch0_event_);
  ch0_event_ = 0;
  const Channel& c = ch_[0];
  uint64_t nd = next_transition(c, after_d);
  if (nd == kNone) return;
  ch0_event_ = clock_.schedule(ticks_to_ns(c.load_tick + nd), [this, nd] { ch0_fire(nd); });
}

void Pit8254::ch0_fire(uint64_t d_event) {
  ch0_event_ = 0;
  const Channel& c = ch_[0];
  bool level = out_at(c, d_event);
  set_irq0(level);
  uint64_t d = d_event;
  if (level) {
    // If the run loop fell behind by whole periods (realtime mode, host stalls), skip the lost
    // edges rather than replaying them; a falling edge is never skipped, so every rising edge the
    // PIC sees is a real edge.
    uint64_t now_d = elapsed(c);
    if (now_d > d && next_transition(c, d) <= now_d) {
      d = now_d;
      if (!out_at(c, d)) set_irq0(false);
    }
  }
  schedule_ch0(d);
}

void Pit8254::set_gate(unsigned ch, bool level) {
  Channel& c = ch_[ch % 3];
  if (c.gate == level) return;
  c.gate = level;
  if (!c.armed) return;
  const uint64_t t = now_tick();
  if (level) {
    switch (c.mode) {
      case 1:
      case 5:
        c.triggered = true;
        c.load_tick = t;
        break;
      case 2:
      case 3:
        c.frozen = false;
        c.load_tick = t;  // a rising gate reloads the count
        break;
      default:  // 0, 4: resume counting where it stopped
        c.frozen = false;
        c.load_tick = t - c.frozen_d;
        break;
    }
  } else if (c.mode != 1 && c.mode != 5 && !c.frozen) {
    c.frozen_d = t > c.load_tick ? t - c.load_tick : 0;
    c.frozen = true;
  }
  if (ch % 3 == 0) {
    set_irq0(out_at(c, elapsed(c)));
    schedule_ch0(elapsed(c));
  }
}

void Pit8254::load_count(unsigned ch, uint32_t raw) {
  Channel& c = ch_[ch];
  uint32_t n = c.bcd ? from_bcd16(raw) : raw;
  if (n == 0) n = c.bcd ? 10000 : 0x10000;
  c.count = n;
  c.null_count = false;
  c.armed = true;
  c.triggered = !(c.mode == 1 || c.mode == 5);
  c.load_tick = now_tick();
  c.frozen = !c.gate && c.triggered;
  c.frozen_d = 0;
  if (ch == 0) {
    set_irq0(out_at(c, 0));
    schedule_ch0(0);
  }
}

void Pit8254::latch_count(Channel& c) {
  if (c.count_latched) return;  // a second latch before the read is ignored
  c.latch = c.armed ? encode(c, counter_at(c, elapsed(c))) : c.held;
  c.count_latched = true;
  c.latch_msb_next = false;
}

void Pit8254::write_control(uint8_t v) {
  const unsigned sc = v >> 6;
  if (sc == 3) {
    // Read-back: bit 5 clear = latch count, bit 4 clear = latch status, bits 3:1 select channels.
    for (unsigned i = 0; i < 3; ++i) {
      if (!(v & (2u << i))) continue;
      Channel& c = ch_[i];
      if (!(v & 0x20)) latch_count(c);
      if (!(v & 0x10) && !c.status_latched) {
        c.status = static_cast<uint8_t>((out_at(c, elapsed(c)) ? 0x80 : 0) | (c.null_count ? 0x40 : 0) |
                                        (c.control & 0x3F));
        c.status_latched = true;
      }
    }
    return;
  }
  Channel& c = ch_[sc];
  const unsigned rw = (v >> 4) & 3;
  if (rw == 0) {
    latch_count(c);
    return;
  }
  c.held = c.armed ? encode(c, counter_at(c, elapsed(c))) : c.held;
  c.rw = static_cast<uint8_t>(rw);
  unsigned mode = (v >> 1) & 7;
  if (mode >= 6) mode -= 4;  // 6 and 7 are aliases of 2 and 3
  c.mode = static_cast<uint8_t>(mode);
  c.bcd = v & 1;
  c.control = static_cast<uint8_t>(v & 0x3F);
  c.armed = false;
  c.triggered = false;
  c.frozen = false;
  c.null_count = true;
  c.count_latched = false;
  c.status_latched = false;
  c.read_msb_next = false;
  c.write_msb_next = false;
  if (sc == 0) {
    clock_.cancel(ch0_event_);
    ch0_event_ = 0;
    set_irq0(mode != 0);  // a control word sets OUT low in mode 0, high otherwise
  }
}

uint8_t Pit8254::read_counter(unsigned ch) {
  Channel& c = ch_[ch];
  if (c.status_latched) {
    c.status_latched = false;
    return c.status;
  }
  if (c.count_latched) {
    uint8_t b;
    if (c.rw == 1) {
      b = static_cast<uint8_t>(c.latch);
      c.count_latched = false;
    } else if (c.rw == 2) {
      b = static_cast<uint8_t>(c.latch >> 8);
      c.count_latched = false;
    } else if (!c.latch_msb_next) {
      b = static_cast<uint8_t>(c.latch);
      c.latch_msb_next = true;
    } else {
      b = static_cast<uint8_t>(c.latch >> 8);
      c.count_latched = false;
      c.latch_msb_next = false;
    }
    return b;
  }
  const uint16_t v = counter(ch);
  if (c.rw == 1) return static_cast<uint8_t>(v);
  if (c.rw == 2) return static_cast<uint8_t>(v >> 8);
  c.read_msb_next = !c.read_msb_next;
  return static_cast<uint8_t>(c.read_msb_next ? v : v >> 8);
}

void Pit8254::write_counter(unsigned ch, uint8_t v) {
  Channel& c = ch_[ch];
  if (c.rw == 1) {
    load_count(ch, v);
  } else if (c.rw == 2) {
    load_count(ch, uint32_t{v} << 8);
  } else if (!c.write_msb_next) {
    c.write_lsb = v;
    c.write_msb_next = true;
  } else {
    c.write_msb_next = false;
    load_count(ch, c.write_lsb | (uint32_t{v} << 8));
  }
}

uint32_t Pit8254::io_read(uint16_t port, unsigned size) {
  uint8_t b = 0xFF;
  if (port >= 0x40 && port <= 0x42) {
    b = read_counter(port - 0x40u);
  } else if (port == 0x61) {
    // Bit 4 toggles every 15.085 us (DRAM refresh request, polled by BIOS delay loops); bit 5 is
    // channel 2's output.
    const bool refresh = (clock_.now() / 15085) & 1;
    b = static_cast<uint8_t>((port61_ & 0x0F) | (refresh ? 0x10 : 0) | (output(2) ? 0x20 : 0));
  }
  // 0x43 (control word) is write-only: reads see open bus.
  return b | open_bus_upper(size);
}

void Pit8254::io_write(uint16_t port, uint32_t value, unsigned) {
  const uint8_t v = static_cast<uint8_t>(value);
  if (port >= 0x40 && port <= 0x42) {
    write_counter(port - 0x40u, v);
  } else if (port == 0x43) {
    write_control(v);
  } else if (port == 0x61) {
    port61_ = v & 0x0F;
    set_gate(2, v & 1);
  }
}

void Pit8254::save(SnapshotWriter& w) const {
  w.begin_section("PIT ", 1);
  for (const Channel& c : ch_) {
    w.u32(c.count);
    w.u8(c.mode);
    w.u8(c.rw);
    w.boolean(c.bcd);
    w.boolean(c.gate);
    w.boolean(c.armed);
    w.boolean(c.triggered);
    w.boolean(c.frozen);
    w.u64(c.load_tick);
    w.u64(c.frozen_d);
    w.u16(c.held);
    w.boolean(c.null_count);
    w.boolean(c.count_latched);
    w.u16(c.latch);
    w.boolean(c.latch_msb_next);
    w.boolean(c.status_latched);
    w.u8(c.status);
    w.boolean(c.read_msb_next);
    w.boolean(c.write_msb_next);
    w.u8(c.write_lsb);
    w.u8(c.control);
  }
  w.u8(port61_);
  w.boolean(irq_level_);
  w.end_section();
}

void Pit8254::load(SnapshotReader& r) {
  r.begin_section("PIT ", 1);
  Channel loaded[3];
  for (Channel& c : loaded) {
    c.count = r.u32();
    c.mode = r.u8_max(5, "PIT mode out of range");
    c.rw = r.u8();
    r.check(c.rw >= 1 && c.rw <= 3, "PIT access mode out of range");
    c.bcd = r.boolean();
    r.check(c.count >= 1 && c.count <= (c.bcd ? 10000u : 0x10000u), "PIT count out of range");
    c.gate = r.boolean();
    c.armed = r.boolean();
    c.triggered = r.boolean();
    c.frozen = r.boolean();
    c.load_tick = r.u64();
    c.frozen_d = r.u64();
    r.check(c.load_tick <= now_tick() && c.frozen_d <= now_tick(), "PIT counter started in the future");
    c.held = r.u16();
    c.null_count = r.boolean();
    c.count_latched = r.boolean();
    c.latch = r.u16();
    c.latch_msb_next = r.boolean();
    c.status_latched = r.boolean();
    c.status = r.u8();
    c.read_msb_next = r.boolean();
    c.write_msb_next = r.boolean();
    c.write_lsb = r.u8();
    c.control = r.u8_max(0x3F, "PIT control byte out of range");
  }
  uint8_t p61 = r.u8_max(0x0F, "port 0x61 value out of range");
  bool level = r.boolean();
  r.end_section();
  for (unsigned i = 0; i < 3; ++i) ch_[i] = loaded[i];
  port61_ = p61;
  set_irq0(level);
  schedule_ch0(elapsed(ch_[0]));
}

}  // namespace vx86
