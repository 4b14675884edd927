// Intel 8042 keyboard controller (data port 0x60, status/command port 0x64) with a PS/2 keyboard
// on its first port (IRQ1) and a PS/2 mouse on the auxiliary port (IRQ12): the standard 3-byte
// protocol, and the IntelliMouse wheel (4-byte packets, ID 3) once the driver knocks with sample
// rates 200, 100, 80 as Microsoft's protocol defines.
//
// The keyboard produces scan code set 2 (or 1 or 3 if the guest selects them with 0xF0); the
// controller translates set 2 to set 1 when command-byte bit 6 (XLAT) is set, as on every PC.
// The controller's output port carries the A20 gate (bit 1) and the CPU reset line (bit 0); both
// are reported through callbacks, as is the 0xFE reset pulse.
#pragma once
#include <array>
#include <cstdint>
#include <deque>
#include <functional>

#include "devices/io_util.h"
#include "devices/port_bus.h"

namespace vx86 {

class SnapshotWriter;
class SnapshotReader;

class I8042 : public IoDevice {
 public:
  I8042() { reset(); }
  void attach(PortBus& bus);  // 0x60, 0x64
  // Controller, keyboard and mouse to power-on state. A20 (output port bit 1) is reported enabled.
  void reset();

  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, uint32_t value, unsigned size) override;

  IrqOutput irq1;   // keyboard
  IrqOutput irq12;  // mouse
  std::function<void(bool)> on_a20;  // output port bit 1 changed
  std::function<void()> on_reset;    // the guest pulsed the CPU reset line (0xFE, or 0xD1 bit 0 = 0)

  // Host input. `set1` is a PC/XT (set 1) make code; 0xE0xx for the extended keys (arrows, right
  // Ctrl/Alt, keypad Enter and /, Insert/Delete/Home/End/PgUp/PgDn, Windows keys). The keyboard
  // sends it in its current scan code set; nothing is sent while scanning is disabled.
  // kPrintScreen and kPause are the two keys with sequences of their own (E0 2A E0 37 and
  // E1 1D 45 E1 9D C5 in set 1; Pause has no break code).
  static constexpr uint16_t kPrintScreen = 0xE037, kPause = 0xE11D;
  void key(uint16_t set1, bool pressed);
  // Mouse motion (dx right, dy up, as PS/2 counts), buttons (bit 0 left, 1 right, 2 middle) and
  // wheel clicks (dz > 0 towards the user, as the IntelliMouse reports; dropped for a standard
  // mouse).
  void mouse_event(int dx, int dy, uint8_t buttons, int dz = 0);
  uint8_t mouse_id() const { return mouse_id_; }  // 0 standard, 3 IntelliMouse

  bool a20() const { return (output_port_ & 0x02) != 0; }
  uint8_t command_byte() const { return ram_[0]; }
  uint8_t leds() const { return leds_; }         // bit 0 Scroll, 1 Num, 2 Caps Lock
  uint8_t scancode_set() const { return set_; }

  void save(SnapshotWriter& w) const;
  void load(SnapshotReader& r);

 private:
  enum Source : uint8_t { kController, kKeyboard, kMouse };
  void update();  // moves a byte into the output buffer if it is empty; drives the IRQs
  void update_irqs();
  void controller_reply(uint8_t b);
  void kbd_reply(uint8_t b);
  void mouse_reply(uint8_t b);
  void command(uint8_t c);
  void data_write(uint8_t v);
  void kbd_command(uint8_t v);
  void mouse_command(uint8_t v);
  void kbd_reset_state();
  void mouse_reset_state();
  void special_key(bool pause, bool pressed);
  void write_output_port(uint8_t v);
  uint8_t translate(uint8_t b);  // the controller's set 2 -> set 1 translation

  // Controller.
  uint8_t ram_[32] = {};          // ram_[0] is the command byte
  uint8_t status_ = 0;            // bits 2 (SYS) and 3 (A2, last write was a command) kept here
  uint8_t output_port_ = 0;
  uint8_t pending_cmd_ = 0;       // controller command awaiting its data byte (0 = none)
  bool obf_ = false;
  uint8_t out_byte_ = 0;
  Source out_src_ = kController;
  bool xlat_break_ = false;       // translation saw 0xF0
  std::deque<uint8_t> ctrl_queue_;
  uint8_t aux_loop_ = 0;  // 0xD3's byte, waiting for the output buffer
  bool aux_loop_pending_ = false;
  bool irq1_level_ = false, irq12_level_ = false;

  // Keyboard.
  std::deque<uint8_t> kbd_queue_;
  uint8_t kbd_pending_ = 0;       // keyboard command awaiting its parameter (0 = none)
  bool scanning_ = true;
  uint8_t set_ = 2;
  uint8_t leds_ = 0;
  uint8_t typematic_ = 0x2B;
  uint8_t last_kbd_byte_ = 0;     // for 0xFE resend

  // Mouse.
  std::deque<uint8_t> mouse_queue_;
  uint8_t mouse_pending_ = 0;
  bool mouse_streaming_ = false;  // data reporting enabled
  bool mouse_remote_ = false;
  bool mouse_wrap_ = false;
  bool mouse_scaling21_ = false;
  uint8_t mouse_rate_ = 100;
  uint8_t mouse_resolution_ = 2;
  uint8_t mouse_buttons_ = 0;
  int mouse_dx_ = 0, mouse_dy_ = 0, mouse_dz_ = 0;  // accumulated for remote-mode reads
  uint8_t mouse_id_ = 0;
  std::array<uint8_t, 3> rate_knock_{};  // the last three sample rates set (IntelliMouse unlock)
};

}  // namespace vx86
