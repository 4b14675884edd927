#include "devices/i8042.h"

#include <algorithm>
#include <array>
#include <span>

#include "devices/snapshot.h"

namespace vx86 {

namespace {

constexpr size_t kKbdQueueMax = 64;
constexpr size_t kMouseQueueMax = 96;
constexpr size_t kCtrlQueueMax = 16;

// Set 1 make code -> set 2 make code, for the keys without the E0 prefix (0 = no key).
constexpr std::array<uint8_t, 0x59> kSet2 = {
    0x00, 0x76, 0x16, 0x1E, 0x26, 0x25, 0x2E, 0x36, 0x3D, 0x3E, 0x46, 0x45, 0x4E, 0x55, 0x66, 0x0D,  // 00-0F
    0x15, 0x1D, 0x24, 0x2D, 0x2C, 0x35, 0x3C, 0x43, 0x44, 0x4D, 0x54, 0x5B, 0x5A, 0x14, 0x1C, 0x1B,  // 10-1F
    0x23, 0x2B, 0x34, 0x33, 0x3B, 0x42, 0x4B, 0x4C, 0x52, 0x0E, 0x12, 0x5D, 0x1A, 0x22, 0x21, 0x2A,  // 20-2F
    0x32, 0x31, 0x3A, 0x41, 0x49, 0x4A, 0x59, 0x7C, 0x11, 0x29, 0x58, 0x05, 0x06, 0x04, 0x0C, 0x03,  // 30-3F
    0x0B, 0x83, 0x0A, 0x01, 0x09, 0x77, 0x7E, 0x6C, 0x75, 0x7D, 0x7B, 0x6B, 0x73, 0x74, 0x79, 0x69,  // 40-4F
    0x72, 0x7A, 0x70, 0x71, 0x84, 0x00, 0x61, 0x78, 0x07,                                            // 50-58
};

// E0-prefixed keys: set 1 second byte -> set 2 second byte.
struct ExtKey {
  uint8_t set1, set2;
};
constexpr ExtKey kExtKeys[] = {
    {0x1C, 0x5A}, {0x1D, 0x14}, {0x35, 0x4A}, {0x37, 0x7C}, {0x38, 0x11}, {0x47, 0x6C},
    {0x48, 0x75}, {0x49, 0x7D}, {0x4B, 0x6B}, {0x4D, 0x74}, {0x4F, 0x69}, {0x50, 0x72},
    {0x51, 0x7A}, {0x52, 0x70}, {0x53, 0x71}, {0x5B, 0x1F}, {0x5C, 0x27}, {0x5D, 0x2F},
};

// The controller's translation table (set 2 byte -> set 1 byte), the inverse of the key tables.
// Bytes that no key produces pass through unchanged.
struct XlatTable {
  uint8_t t[256];
  constexpr XlatTable() : t() {
    for (unsigned i = 0; i < 256; ++i) t[i] = static_cast<uint8_t>(i);
    for (unsigned s1 = 1; s1 < kSet2.size(); ++s1)
      if (kSet2[s1]) t[kSet2[s1]] = static_cast<uint8_t>(s1);
    for (const ExtKey& k : kExtKeys) t[k.set2] = k.set1;
  }
};
constexpr XlatTable kXlat;

void push_capped(std::deque<uint8_t>& q, uint8_t b, size_t max) {
  if (q.size() < max) q.push_back(b);
}

}  // namespace

void I8042::attach(PortBus& bus) {
  bus.attach(0x60, 1, this);
  bus.attach(0x64, 1, this);
}

void I8042::reset() {
  std::fill(std::begin(ram_), std::end(ram_), 0);
  ram_[0] = 0x41;  // XLAT, keyboard interrupt; the BIOS writes its own command byte
  status_ = 0;
  const bool old_a20 = (output_port_ & 0x02) != 0;
  output_port_ = 0x03;  // CPU running, A20 enabled (vx86 starts with A20 on, like port 0x92)
  pending_cmd_ = 0;
  obf_ = false;
  out_byte_ = 0;
  out_src_ = kController;
  xlat_break_ = false;
  ctrl_queue_.clear();
  aux_loop_pending_ = false;
  kbd_reset_state();
  kbd_pending_ = 0;
  last_kbd_byte_ = 0;
  mouse_reset_state();
  mouse_pending_ = 0;
  if (!old_a20 && on_a20) on_a20(true);
  update();
}

void I8042::kbd_reset_state() {
  kbd_queue_.clear();
  scanning_ = true;
  set_ = 2;
  leds_ = 0;
  typematic_ = 0x2B;
}

void I8042::mouse_reset_state() {
  mouse_queue_.clear();
  mouse_streaming_ = false;
  mouse_remote_ = false;
  mouse_wrap_ = false;
  mouse_scaling21_ = false;
  mouse_rate_ = 100;
  mouse_resolution_ = 2;
  mouse_dx_ = mouse_dy_ = 0;
  mouse_dz_ = 0;
}

uint8_t I8042::translate(uint8_t b) {
  uint8_t t = kXlat.t[b];
  if (xlat_break_) {
    xlat_break_ = false;
    t |= 0x80;
  }
  return t;
}

void I8042::update() {
  if (!obf_) {
    if (!ctrl_queue_.empty()) {
      out_byte_ = ctrl_queue_.front();
      ctrl_queue_.pop_front();
      out_src_ = kController;
      obf_ = true;
    } else if (aux_loop_pending_) {
      out_byte_ = aux_loop_;
      aux_loop_pending_ = false;
      out_src_ = kMouse;
      obf_ = true;
    } else if (!(ram_[0] & 0x10)) {
      while (!kbd_queue_.empty() && !obf_) {
        uint8_t b = kbd_queue_.front();
        kbd_queue_.pop_front();
        if (ram_[0] & 0x40) {
          if (b == 0xF0) {
            xlat_break_ = true;  // folded into the next byte's bit 7
            continue;
          }
          b = translate(b);
        }
        out_byte_ = b;
        out_src_ = kKeyboard;
        obf_ = true;
      }
    }
    if (!obf_ && !(ram_[0] & 0x20) && !mouse_queue_.empty()) {
      out_byte_ = mouse_queue_.front();
      mouse_queue_.pop_front();
      out_src_ = kMouse;
      obf_ = true;
    }
  }
  update_irqs();
}

void I8042::update_irqs() {
  const bool l1 = obf_ && out_src_ != kMouse && (ram_[0] & 0x01);
  const bool l12 = obf_ && out_src_ == kMouse && (ram_[0] & 0x02);
  if (l1 != irq1_level_) {
    irq1_level_ = l1;
    if (irq1) irq1(l1);
  }
  if (l12 != irq12_level_) {
    irq12_level_ = l12;
    if (irq12) irq12(l12);
  }
}

void I8042::controller_reply(uint8_t b) { push_capped(ctrl_queue_, b, kCtrlQueueMax); }

void I8042::kbd_reply(uint8_t b) {
  push_capped(kbd_queue_, b, kKbdQueueMax);
  last_kbd_byte_ = b;
}

void I8042::mouse_reply(uint8_t b) { push_capped(mouse_queue_, b, kMouseQueueMax); }

void I8042::write_output_port(uint8_t v) {
  const uint8_t old = output_port_;
  output_port_ = static_cast<uint8_t>(v | 0x01);  // the reset line is a pulse, it comes back high
  if (((old ^ output_port_) & 0x02) && on_a20) on_a20((output_port_ & 0x02) != 0);
  if (!(v & 0x01) && on_reset) on_reset();
}

void I8042::command(uint8_t c) {
  pending_cmd_ = 0;
  if (c >= 0x20 && c <= 0x3F) {
    controller_reply(ram_[c & 0x1F]);
  } else if (c >= 0x60 && c <= 0x7F) {
    pending_cmd_ = c;
  } else {
    switch (c) {
      case 0xA7: ram_[0] |= 0x20; break;                       // disable aux port
      case 0xA8: ram_[0] &= static_cast<uint8_t>(~0x20); break;  // enable aux port
      case 0xA9: controller_reply(0x00); break;                // aux interface test: OK
      case 0xAA:                                               // self-test
        status_ |= 0x04;
        controller_reply(0x55);
        break;
      case 0xAB: controller_reply(0x00); break;                // keyboard interface test: OK
      case 0xAD: ram_[0] |= 0x10; break;                       // disable keyboard
      case 0xAE: ram_[0] &= static_cast<uint8_t>(~0x10); break;  // enable keyboard
      case 0xC0: controller_reply(0x80); break;                // input port: keyboard not inhibited
      case 0xD0: {                                             // read output port
        uint8_t v = output_port_ & 0xCF;
        if (obf_ && out_src_ != kMouse) v |= 0x10;
        if (obf_ && out_src_ == kMouse) v |= 0x20;
        controller_reply(v);
        break;
      }
      case 0xD1: case 0xD2: case 0xD3: case 0xD4:
        pending_cmd_ = c;
        break;
      case 0xDD: write_output_port(output_port_ & static_cast<uint8_t>(~0x02)); break;
      case 0xDF: write_output_port(output_port_ | 0x02); break;
      case 0xE0: controller_reply(0x00); break;                // test inputs
      default:
        // 0xF0-0xFF pulse the output port lines whose bits are 0; bit 0 is the CPU reset.
        if (c >= 0xF0 && !(c & 0x01) && on_reset) on_reset();
        break;
    }
  }
  update();
}

void I8042::data_write(uint8_t v) {
  const uint8_t cmd = pending_cmd_;
  pending_cmd_ = 0;
  if (cmd >= 0x60 && cmd <= 0x7F) {
    ram_[cmd & 0x1F] = v;
    if ((cmd & 0x1F) == 0) status_ = static_cast<uint8_t>((status_ & ~0x04) | (v & 0x04));
  } else if (cmd == 0xD1) {
    write_output_port(v);
  } else if (cmd == 0xD2) {
    controller_reply(v);  // appears as keyboard data, untranslated
  } else if (cmd == 0xD3) {
    // The controller puts the byte in its output buffer as if the mouse had sent it, whether
    // or not the aux port is disabled (Linux's AUX loopback and IRQ tests rely on it).
    aux_loop_ = v;
    aux_loop_pending_ = true;
  } else if (cmd == 0xD4) {
    mouse_command(v);
  } else {
    kbd_command(v);
  }
  update();
}

void I8042::kbd_command(uint8_t v) {
  if (kbd_pending_ && v < 0xED) {
    const uint8_t cmd = kbd_pending_;
    kbd_pending_ = 0;
    switch (cmd) {
      case 0xED:
        leds_ = v & 7;
        kbd_reply(0xFA);
        break;
      case 0xF3:
        typematic_ = v & 0x7F;
        kbd_reply(0xFA);
        break;
      case 0xF0:
        if (v == 0) {
          kbd_reply(0xFA);
          kbd_reply(set_);
        } else if (v <= 3) {
          set_ = v;
          kbd_reply(0xFA);
        } else {
          kbd_reply(0xFE);
        }
        break;
      default:
        break;
    }
    return;
  }
  kbd_pending_ = 0;
  kbd_queue_.clear();  // a command clears the keyboard's output buffer
  xlat_break_ = false;
  switch (v) {
    case 0xED: case 0xF3: case 0xF0:
      kbd_reply(0xFA);
      kbd_pending_ = v;
      break;
    case 0xEE: kbd_reply(0xEE); break;  // echo
    case 0xF2:                          // identify: MF2 keyboard
      kbd_reply(0xFA);
      kbd_reply(0xAB);
      kbd_reply(0x83);
      break;
    case 0xF4:
      scanning_ = true;
      kbd_reply(0xFA);
      break;
    case 0xF5:
      typematic_ = 0x2B;
      scanning_ = false;
      kbd_reply(0xFA);
      break;
    case 0xF6:
      typematic_ = 0x2B;
      scanning_ = true;
      kbd_reply(0xFA);
      break;
    case 0xF7: case 0xF8: case 0xF9: case 0xFA: case 0xFB: case 0xFC: case 0xFD:
      kbd_reply(0xFA);  // set-3 key types: accepted, no effect
      break;
    case 0xFE: kbd_reply(last_kbd_byte_); break;
    case 0xFF:
      kbd_reset_state();
      kbd_reply(0xFA);
      kbd_reply(0xAA);  // basic assurance test passed
      break;
    default: kbd_reply(0xFE); break;
  }
}

void I8042::mouse_command(uint8_t v) {
  if (mouse_wrap_ && v != 0xEC && v != 0xFF) {
    mouse_reply(v);  // wrap mode echoes
    return;
  }
  if (mouse_pending_) {
    if (mouse_pending_ == 0xF3) {
      mouse_rate_ = v;
      rate_knock_ = {rate_knock_[1], rate_knock_[2], v};
      if (rate_knock_ == std::array<uint8_t, 3>{200, 100, 80}) mouse_id_ = 3;
    } else
      mouse_resolution_ = v & 3;
    mouse_pending_ = 0;
    mouse_reply(0xFA);
    return;
  }
  mouse_queue_.clear();
  switch (v) {
    case 0xE6: mouse_scaling21_ = false; mouse_reply(0xFA); break;
    case 0xE7: mouse_scaling21_ = true; mouse_reply(0xFA); break;
    case 0xE8: case 0xF3:
      mouse_pending_ = v;
      mouse_reply(0xFA);
      break;
    case 0xE9:  // status request
      mouse_reply(0xFA);
      mouse_reply(static_cast<uint8_t>((mouse_remote_ ? 0x40 : 0) | (mouse_streaming_ ? 0x20 : 0) |
                                       (mouse_scaling21_ ? 0x10 : 0) | ((mouse_buttons_ & 1) << 2) |
                                       ((mouse_buttons_ & 4) >> 1) | ((mouse_buttons_ & 2) >> 1)));
      mouse_reply(mouse_resolution_);
      mouse_reply(mouse_rate_);
      break;
    case 0xEA: mouse_remote_ = false; mouse_reply(0xFA); break;
    case 0xF0: mouse_remote_ = true; mouse_reply(0xFA); break;
    case 0xEB: {  // read data
      mouse_reply(0xFA);
      const int dx = mouse_dx_, dy = mouse_dy_;
      mouse_dx_ = mouse_dy_ = 0;
      mouse_dz_ = 0;
      const bool was_streaming = mouse_streaming_, was_remote = mouse_remote_;
      mouse_streaming_ = true;
      mouse_remote_ = false;
      mouse_event(dx, dy, mouse_buttons_, mouse_dz_);
      mouse_streaming_ = was_streaming;
      mouse_remote_ = was_remote;
      break;
    }
    case 0xEC: mouse_wrap_ = false; mouse_reply(0xFA); break;
    case 0xEE: mouse_wrap_ = true; mouse_reply(0xFA); break;
    case 0xF2:
      mouse_reply(0xFA);
      mouse_reply(mouse_id_);
      break;
    case 0xF4: mouse_streaming_ = true; mouse_reply(0xFA); break;
    case 0xF5: mouse_streaming_ = false; mouse_reply(0xFA); break;
    case 0xF6:
      mouse_reset_state();
      mouse_reply(0xFA);
      break;
    case 0xFF:  // (set defaults, 0xF6, keeps the wheel; a reset drops it)
      mouse_reset_state();
      mouse_id_ = 0;
      rate_knock_ = {};
      mouse_reply(0xFA);
      mouse_reply(0xAA);
      mouse_reply(0x00);
      break;
    default: mouse_reply(0xFE); break;
  }
}

void I8042::key(uint16_t set1, bool pressed) {
  if (!scanning_) return;
  if (set1 == kPrintScreen || set1 == kPause) {
    special_key(set1 == kPause, pressed);
    return;
  }
  const bool ext = (set1 >> 8) == 0xE0;
  const uint8_t code = static_cast<uint8_t>(set1);
  uint8_t bytes[3];
  size_t n = 0;
  if (set_ == 1) {
    if (code == 0 || code >= 0x80) return;
    if (ext) bytes[n++] = 0xE0;
    bytes[n++] = static_cast<uint8_t>(code | (pressed ? 0 : 0x80));
  } else {
    // Set 2 (set 3 is accepted but the keyboard keeps sending set 2 codes).
    uint8_t s2 = 0;
    if (ext) {
      for (const ExtKey& k : kExtKeys)
        if (k.set1 == code) s2 = k.set2;
    } else if (code < kSet2.size()) {
      s2 = kSet2[code];
    }
    if (!s2) return;
    if (ext) bytes[n++] = 0xE0;
    if (!pressed) bytes[n++] = 0xF0;
    bytes[n++] = s2;
  }
  if (kbd_queue_.size() + n > kKbdQueueMax) return;  // buffer full: the key is lost
  for (size_t i = 0; i < n; ++i) kbd_queue_.push_back(bytes[i]);
  update();
}

void I8042::special_key(bool pause, bool pressed) {
  // Both are multi-key sequences on the real keyboard (Print Screen is a fake left Shift plus
  // keypad *, Pause a Ctrl+NumLock make with no break); in set 2 the controller translates them
  // into the set 1 sequences.
  static constexpr uint8_t kPrtSc1Make[] = {0xE0, 0x2A, 0xE0, 0x37},
                           kPrtSc1Break[] = {0xE0, 0xB7, 0xE0, 0xAA};
  static constexpr uint8_t kPrtSc2Make[] = {0xE0, 0x12, 0xE0, 0x7C},
                           kPrtSc2Break[] = {0xE0, 0xF0, 0x7C, 0xE0, 0xF0, 0x12};
  static constexpr uint8_t kPause1[] = {0xE1, 0x1D, 0x45, 0xE1, 0x9D, 0xC5},
                           kPause2[] = {0xE1, 0x14, 0x77, 0xE1, 0xF0, 0x14, 0xF0, 0x77};
  std::span<const uint8_t> seq;
  if (pause) {
    if (!pressed) return;
    seq = set_ == 1 ? std::span<const uint8_t>(kPause1) : std::span<const uint8_t>(kPause2);
  } else if (set_ == 1) {
    seq = pressed ? std::span<const uint8_t>(kPrtSc1Make) : std::span<const uint8_t>(kPrtSc1Break);
  } else {
    seq = pressed ? std::span<const uint8_t>(kPrtSc2Make) : std::span<const uint8_t>(kPrtSc2Break);
  }
  if (kbd_queue_.size() + seq.size() > kKbdQueueMax) return;
  kbd_queue_.insert(kbd_queue_.end(), seq.begin(), seq.end());
  update();
}

void I8042::mouse_event(int dx, int dy, uint8_t buttons, int dz) {
  mouse_buttons_ = buttons & 7;
  if (!mouse_streaming_ || mouse_remote_) {
    mouse_dx_ = std::clamp(mouse_dx_ + dx, -4096, 4096);
    mouse_dy_ = std::clamp(mouse_dy_ + dy, -4096, 4096);
    mouse_dz_ = std::clamp(mouse_dz_ + dz, -8, 7);
    return;
  }
  const size_t packet = mouse_id_ == 3 ? 4 : 3;
  if (mouse_queue_.size() + packet > kMouseQueueMax) return;
  const bool ox = dx < -256 || dx > 255, oy = dy < -256 || dy > 255;
  dx = std::clamp(dx, -256, 255);
  dy = std::clamp(dy, -256, 255);
  mouse_reply(static_cast<uint8_t>(0x08 | mouse_buttons_ | (dx < 0 ? 0x10 : 0) | (dy < 0 ? 0x20 : 0) |
                                   (ox ? 0x40 : 0) | (oy ? 0x80 : 0)));
  mouse_reply(static_cast<uint8_t>(dx));
  mouse_reply(static_cast<uint8_t>(dy));
  if (packet == 4) mouse_reply(static_cast<uint8_t>(std::clamp(dz, -8, 7)));  // 4-bit two's complement
  update();
}

uint32_t I8042::io_read(uint16_t port, unsigned size) {
  uint8_t b;
  if (port == 0x60) {
    b = out_byte_;
    if (obf_) {
      obf_ = false;
      // The IRQ drops when the buffer is read; the next queued byte raises it again, so every
      // byte is a fresh edge at the PIC.
      update_irqs();
      update();
    }
  } else {
    b = static_cast<uint8_t>((obf_ ? 0x01 : 0) | (status_ & 0x0C) | 0x10 |
                             (obf_ && out_src_ == kMouse ? 0x20 : 0));
  }
  return b | open_bus_upper(size);
}

void I8042::io_write(uint16_t port, uint32_t value, unsigned) {
  const uint8_t v = static_cast<uint8_t>(value);
  if (port == 0x64) {
    status_ |= 0x08;
    command(v);
  } else {
    status_ &= static_cast<uint8_t>(~0x08);
    data_write(v);
  }
}

namespace {
std::vector<uint8_t> to_vec(const std::deque<uint8_t>& q) { return {q.begin(), q.end()}; }
}  // namespace

void I8042::save(SnapshotWriter& w) const {
  w.begin_section("KBC ", 2);
  w.bytes(ram_, sizeof ram_);
  w.u8(status_);
  w.u8(output_port_);
  w.u8(pending_cmd_);
  w.boolean(obf_);
  w.u8(out_byte_);
  w.u8(out_src_);
  w.boolean(xlat_break_);
  w.blob(to_vec(ctrl_queue_));
  w.boolean(irq1_level_);
  w.boolean(irq12_level_);
  w.blob(to_vec(kbd_queue_));
  w.u8(kbd_pending_);
  w.boolean(scanning_);
  w.u8(set_);
  w.u8(leds_);
  w.u8(typematic_);
  w.u8(last_kbd_byte_);
  w.blob(to_vec(mouse_queue_));
  w.u8(mouse_pending_);
  w.boolean(mouse_streaming_);
  w.boolean(mouse_remote_);
  w.boolean(mouse_wrap_);
  w.boolean(mouse_scaling21_);
  w.u8(mouse_rate_);
  w.u8(mouse_resolution_);
  w.u8(mouse_buttons_);
  w.u32(static_cast<uint32_t>(mouse_dx_));
  w.u32(static_cast<uint32_t>(mouse_dy_));
  w.u8(mouse_id_);
  w.bytes(rate_knock_.data(), rate_knock_.size());
  w.u8(static_cast<uint8_t>(mouse_dz_));
  w.boolean(aux_loop_pending_);
  w.u8(aux_loop_);
  w.end_section();
}

void I8042::load(SnapshotReader& r) {
  r.begin_section("KBC ", 2);
  I8042 n;  // parse into a scratch object: a malformed snapshot leaves this one untouched
  r.bytes(n.ram_, sizeof n.ram_);
  n.status_ = r.u8() & 0x0C;
  n.output_port_ = r.u8() | 0x01;
  n.pending_cmd_ = r.u8();
  r.check(n.pending_cmd_ == 0 || (n.pending_cmd_ >= 0x60 && n.pending_cmd_ <= 0x7F) ||
              (n.pending_cmd_ >= 0xD1 && n.pending_cmd_ <= 0xD4),
          "i8042 pending command invalid");
  n.obf_ = r.boolean();
  n.out_byte_ = r.u8();
  n.out_src_ = static_cast<Source>(r.u8_max(kMouse, "i8042 output source invalid"));
  n.xlat_break_ = r.boolean();
  auto q = r.blob(kCtrlQueueMax);
  n.ctrl_queue_.assign(q.begin(), q.end());
  n.irq1_level_ = r.boolean();
  n.irq12_level_ = r.boolean();
  q = r.blob(kKbdQueueMax);
  n.kbd_queue_.assign(q.begin(), q.end());
  n.kbd_pending_ = r.u8();
  r.check(n.kbd_pending_ == 0 || n.kbd_pending_ == 0xED || n.kbd_pending_ == 0xF0 || n.kbd_pending_ == 0xF3,
          "keyboard pending command invalid");
  n.scanning_ = r.boolean();
  n.set_ = r.u8();
  r.check(n.set_ >= 1 && n.set_ <= 3, "keyboard scan code set invalid");
  n.leds_ = r.u8_max(7, "keyboard LEDs invalid");
  n.typematic_ = r.u8_max(0x7F, "keyboard typematic invalid");
  n.last_kbd_byte_ = r.u8();
  q = r.blob(kMouseQueueMax);
  n.mouse_queue_.assign(q.begin(), q.end());
  n.mouse_pending_ = r.u8();
  r.check(n.mouse_pending_ == 0 || n.mouse_pending_ == 0xE8 || n.mouse_pending_ == 0xF3,
          "mouse pending command invalid");
  n.mouse_streaming_ = r.boolean();
  n.mouse_remote_ = r.boolean();
  n.mouse_wrap_ = r.boolean();
  n.mouse_scaling21_ = r.boolean();
  n.mouse_rate_ = r.u8();
  n.mouse_resolution_ = r.u8_max(3, "mouse resolution invalid");
  n.mouse_buttons_ = r.u8_max(7, "mouse buttons invalid");
  n.mouse_dx_ = static_cast<int32_t>(r.u32());
  n.mouse_dy_ = static_cast<int32_t>(r.u32());
  r.check(n.mouse_dx_ >= -4096 && n.mouse_dx_ <= 4096 && n.mouse_dy_ >= -4096 && n.mouse_dy_ <= 4096,
          "mouse motion out of range");
  n.mouse_id_ = r.u8();
  r.check(n.mouse_id_ == 0 || n.mouse_id_ == 3, "mouse ID invalid");
  r.bytes(n.rate_knock_.data(), n.rate_knock_.size());
  n.mouse_dz_ = static_cast<int8_t>(r.u8());
  r.check(n.mouse_dz_ >= -8 && n.mouse_dz_ <= 7, "mouse wheel out of range");
  n.aux_loop_pending_ = r.boolean();
  n.aux_loop_ = r.u8();
  r.end_section();

  const bool old_a20 = a20();
  std::copy(std::begin(n.ram_), std::end(n.ram_), ram_);
  status_ = n.status_;
  output_port_ = n.output_port_;
  pending_cmd_ = n.pending_cmd_;
  obf_ = n.obf_;
  out_byte_ = n.out_byte_;
  out_src_ = n.out_src_;
  xlat_break_ = n.xlat_break_;
  ctrl_queue_ = std::move(n.ctrl_queue_);
  kbd_queue_ = std::move(n.kbd_queue_);
  kbd_pending_ = n.kbd_pending_;
  scanning_ = n.scanning_;
  set_ = n.set_;
  leds_ = n.leds_;
  typematic_ = n.typematic_;
  last_kbd_byte_ = n.last_kbd_byte_;
  mouse_queue_ = std::move(n.mouse_queue_);
  mouse_pending_ = n.mouse_pending_;
  mouse_streaming_ = n.mouse_streaming_;
  mouse_remote_ = n.mouse_remote_;
  mouse_wrap_ = n.mouse_wrap_;
  mouse_scaling21_ = n.mouse_scaling21_;
  mouse_rate_ = n.mouse_rate_;
  mouse_resolution_ = n.mouse_resolution_;
  mouse_buttons_ = n.mouse_buttons_;
  mouse_dx_ = n.mouse_dx_;
  mouse_dy_ = n.mouse_dy_;
  mouse_dz_ = n.mouse_dz_;
  mouse_id_ = n.mouse_id_;
  rate_knock_ = n.rate_knock_;
  aux_loop_pending_ = n.aux_loop_pending_;
  aux_loop_ = n.aux_loop_;
  irq1_level_ = n.irq1_level_;
  irq12_level_ = n.irq12_level_;
  if (irq1) irq1(irq1_level_);
  if (irq12) irq12(irq12_level_);
  if (a20() != old_a20 && on_a20) on_a20(a20());
  update();
}

}  // namespace vx86
