#include "devices/pic8259.h"

#include "devices/io_util.h"
#include "devices/snapshot.h"

namespace vx86 {

namespace {
constexpr unsigned kMaster = 0, kSlave = 1;
constexpr unsigned kCascade = 2;
}  // namespace

void Pic8259::attach(PortBus& bus) {
  bus.attach(0x20, 2, this);
  bus.attach(0xA0, 2, this);
  bus.attach(0x4D0, 2, this);
}

void Pic8259::power_on() {
  for (unsigned i = 0; i < 2; ++i) {
    uint8_t lines = chips_[i].lines;
    chips_[i] = Chip{};
    chips_[i].lines = lines;
  }
  // PIIX: IRQ0-2 (timer, keyboard, cascade), IRQ8 (RTC) and IRQ13 (FPU) are always edge.
  chips_[kMaster].elcr_mask = 0xF8;
  chips_[kSlave].elcr_mask = 0xDE;
  update();
}

void Pic8259::reset() { power_on(); }

void Pic8259::chip_set_line(Chip& c, unsigned line, bool level) {
  const uint8_t bit = static_cast<uint8_t>(1u << line);
  if (c.elcr & bit) {
    if (level)
      c.irr |= bit;
    else
      c.irr &= static_cast<uint8_t>(~bit);
  } else if (level && !(c.lines & bit)) {
    c.irr |= bit;  // rising edge: latch the request
  }
  c.lines = level ? (c.lines | bit) : (c.lines & static_cast<uint8_t>(~bit));
}

void Pic8259::set_irq(unsigned line, bool level) {
  if (line >= 16) return;
  if (line == kCascade) line = 9;
  chip_set_line(chips_[line >> 3], line & 7, level);
  update();
}

int Pic8259::best_request(const Chip& c, bool is_master) const {
  uint8_t req = c.irr & static_cast<uint8_t>(~c.imr);
  if (!req) return -1;
  int best = -1, best_rank = 8;
  for (unsigned l = 0; l < 8; ++l)
    if ((req >> l) & 1) {
      int r = rank(c, l);
      if (r < best_rank) best_rank = r, best = static_cast<int>(l);
    }
  uint8_t in_service = c.isr;
  if (c.special_mask) in_service &= static_cast<uint8_t>(~c.imr);
  if (is_master && c.sfnm) in_service &= static_cast<uint8_t>(~(1u << kCascade));
  for (unsigned l = 0; l < 8; ++l)
    if (((in_service >> l) & 1) && rank(c, l) <= best_rank) return -1;
  return best;
}

void Pic8259::update() {
  Chip& m = chips_[kMaster];
  // The slave's INT output is wired to the master's IR2 and behaves as a level there.
  bool slave_out = !m.single && best_request(chips_[kSlave], false) >= 0;
  if (slave_out)
    m.irr |= 1u << kCascade;
  else
    m.irr &= static_cast<uint8_t>(~(1u << kCascade));
  bool out = best_request(m, true) >= 0;
  if (out != intr_) {
    intr_ = out;
    if (on_intr_change) on_intr_change(out);
  }
}

void Pic8259::intack(Chip& c, unsigned line) {
  const uint8_t bit = static_cast<uint8_t>(1u << line);
  if (c.auto_eoi) {
    if (c.rotate_on_aeoi) c.lowest = static_cast<uint8_t>(line);
  } else {
    c.isr |= bit;
  }
  // An edge request is consumed by the acknowledge; a level request stays while the line is high.
  if (!(c.elcr & bit)) c.irr &= static_cast<uint8_t>(~bit);
}

uint8_t Pic8259::acknowledge() {
  Chip& m = chips_[kMaster];
  uint8_t vector;
  int irq = best_request(m, true);
  if (irq < 0) {
    vector = static_cast<uint8_t>(m.base | 7);  // spurious IRQ7: ISR untouched
  } else {
    intack(m, static_cast<unsigned>(irq));
    if (irq == static_cast<int>(kCascade) && !m.single) {
      Chip& s = chips_[kSlave];
      int sirq = best_request(s, false);
      if (sirq < 0) {
        vector = static_cast<uint8_t>(s.base | 7);  // spurious IRQ15 (master IR2 is in service)
      } else {
        intack(s, static_cast<unsigned>(sirq));
        vector = static_cast<uint8_t>(s.base + sirq);
      }
    } else {
      vector = static_cast<uint8_t>(m.base + irq);
    }
  }
  update();
  return vector;
}

uint8_t Pic8259::poll_read(unsigned chip) {
  Chip& c = chips_[chip];
  c.poll = false;
  int irq = best_request(c, chip == kMaster);
  if (irq < 0) return 0;
  intack(c, static_cast<unsigned>(irq));
  update();
  return static_cast<uint8_t>(0x80 | irq);
}

void Pic8259::eoi(Chip& c, int line, bool rotate) {
  if (line < 0) {
    // Non-specific: the highest-priority level in service.
    int best_rank = 8;
    for (unsigned l = 0; l < 8; ++l)
      if (((c.isr >> l) & 1) && rank(c, l) < best_rank) best_rank = rank(c, l), line = static_cast<int>(l);
    if (line < 0) return;
  }
  c.isr &= static_cast<uint8_t>(~(1u << line));
  if (rotate) c.lowest = static_cast<uint8_t>(line);
}

void Pic8259::write_command(Chip& c, uint8_t v) {
  if (v & 0x10) {
    // ICW1. LTIM (bit 3) is ignored: on the PIIX the ELCR decides edge or level per line.
    uint8_t lines = c.lines, elcr = c.elcr, mask = c.elcr_mask;
    c = Chip{};
    c.lines = lines;
    c.elcr = elcr;
    c.elcr_mask = mask;
    c.irr = c.lines & c.elcr;  // the edge-sense latches are cleared; level requests remain
    c.icw4_needed = (v & 0x01) != 0;
    c.single = (v & 0x02) != 0;
    c.init_step = 1;
    return;
  }
  if (v & 0x08) {
    // OCW3.
    if (v & 0x04) c.poll = true;
    if (v & 0x02) c.read_isr = (v & 0x01) != 0;
    if (v & 0x40) c.special_mask = (v & 0x20) != 0;
    return;
  }
  // OCW2: R SL EOI, level in bits 2:0.
  const int level = v & 7;
  switch (v >> 5) {
    case 0: c.rotate_on_aeoi = false; break;             // clear rotate in AEOI mode
    case 4: c.rotate_on_aeoi = true; break;              // set rotate in AEOI mode
    case 1: eoi(c, -1, false); break;                    // non-specific EOI
    case 5: eoi(c, -1, true); break;                     // rotate on non-specific EOI
    case 3: eoi(c, level, false); break;                 // specific EOI
    case 7: eoi(c, level, true); break;                  // rotate on specific EOI
    case 6: c.lowest = static_cast<uint8_t>(level); break;  // set priority
    default: break;                                      // 2: no operation
  }
}

void Pic8259::write_data(Chip& c, uint8_t v) {
  switch (c.init_step) {
    case 1:  // ICW2
      c.base = v & 0xF8;
      c.init_step = c.single ? (c.icw4_needed ? 3 : 0) : 2;
      break;
    case 2:  // ICW3: the cascade wiring is fixed on a PC
      c.init_step = c.icw4_needed ? 3 : 0;
      break;
    case 3:  // ICW4: uPM (bit 0) assumed; buffered mode bits ignored
      c.auto_eoi = (v & 0x02) != 0;
      c.sfnm = (v & 0x10) != 0;
      c.init_step = 0;
      break;
    default:  // OCW1
      c.imr = v;
      break;
  }
}

uint32_t Pic8259::io_read(uint16_t port, unsigned size) {
  uint32_t result = 0;
  for (unsigned i = 0; i < size; ++i) {
    const uint16_t p = static_cast<uint16_t>(port + i);
    uint8_t b = 0xFF;
    if (p == 0x20 || p == 0x21 || p == 0xA0 || p == 0xA1) {
      const unsigned chip = p >= 0xA0 ? kSlave : kMaster;
      Chip& c = chips_[chip];
      if (c.poll)
        b = poll_read(chip);
      else if (p & 1)
        b = c.imr;
      else
        b = c.read_isr ? c.isr : c.irr;
    } else if (p == 0x4D0 || p == 0x4D1) {
      b = chips_[p - 0x4D0].elcr;
    }
    result |= uint32_t{b} << (8 * i);
  }
  return result;
}

void Pic8259::io_write(uint16_t port, uint32_t value, unsigned size) {
  for (unsigned i = 0; i < size; ++i) {
    const uint16_t p = static_cast<uint16_t>(port + i);
    const uint8_t v = static_cast<uint8_t>(value >> (8 * i));
    if (p == 0x20 || p == 0x21 || p == 0xA0 || p == 0xA1) {
      Chip& c = chips_[p >= 0xA0 ? kSlave : kMaster];
      if (p & 1)
        write_data(c, v);
      else
        write_command(c, v);
    } else if (p == 0x4D0 || p == 0x4D1) {
      Chip& c = chips_[p - 0x4D0];
      c.elcr = v & c.elcr_mask;
      // Lines that became level-triggered request exactly while high.
      c.irr = static_cast<uint8_t>((c.irr & ~c.elcr) | (c.lines & c.elcr));
    } else {
      continue;
    }
    update();
  }
}

void Pic8259::save(SnapshotWriter& w) const {
  w.begin_section("PIC ", 1);
  for (const Chip& c : chips_) {
    w.u8(c.irr);
    w.u8(c.isr);
    w.u8(c.imr);
    w.u8(c.elcr);
    w.u8(c.lines);
    w.u8(c.base);
    w.u8(c.lowest);
    w.u8(c.init_step);
    w.boolean(c.icw4_needed);
    w.boolean(c.single);
    w.boolean(c.auto_eoi);
    w.boolean(c.rotate_on_aeoi);
    w.boolean(c.special_mask);
    w.boolean(c.sfnm);
    w.boolean(c.read_isr);
    w.boolean(c.poll);
  }
  w.end_section();
}

void Pic8259::load(SnapshotReader& r) {
  r.begin_section("PIC ", 1);
  Chip loaded[2];
  for (unsigned i = 0; i < 2; ++i) {
    Chip& c = loaded[i];
    c.elcr_mask = chips_[i].elcr_mask;
    c.irr = r.u8();
    c.isr = r.u8();
    c.imr = r.u8();
    c.elcr = r.u8();
    r.check((c.elcr & ~c.elcr_mask) == 0, "PIC ELCR sets a reserved bit");
    c.lines = r.u8();
    c.base = r.u8();
    r.check((c.base & 7) == 0, "PIC vector base not a multiple of 8");
    c.lowest = r.u8_max(7, "PIC priority out of range");
    c.init_step = r.u8_max(3, "PIC init step out of range");
    c.icw4_needed = r.boolean();
    c.single = r.boolean();
    c.auto_eoi = r.boolean();
    c.rotate_on_aeoi = r.boolean();
    c.special_mask = r.boolean();
    c.sfnm = r.boolean();
    c.read_isr = r.boolean();
    c.poll = r.boolean();
  }
  r.end_section();
  chips_[0] = loaded[0];
  chips_[1] = loaded[1];
  update();  // recomputes INTR and tells the board if it changed
}

}  // namespace vx86
