// DisplayLink: what passes between the machine's thread and a display window's thread.
//
// The machine's thread calls tick() between slices. At most 60 times a second it brings the
// VgaDisplay up to date (only the bands that changed are drawn) and copies the changed rows into
// the shared frame; every time it delivers the queued keyboard and mouse input to the i8042; and
// once a second it samples what the window's title shows (guest MIPS, halted or running, the
// keyboard LEDs). The window's thread queues input and takes the shared frame's damage. One mutex
// guards what both touch; neither thread waits for the other beyond a copy.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "devices/vga_display.h"

namespace vx86 {

class Machine;

class DisplayLink {
 public:
  static constexpr uint64_t kFrameNs = 1'000'000'000 / 60;

  explicit DisplayLink(Machine& m);

  // ---- the machine's thread ----
  void tick(uint64_t now_ns);
  // How long the machine's idle wait may sleep before the next frame is due.
  uint64_t ns_to_next_frame(uint64_t now_ns) const;

  // ---- the window's thread ----
  void key(uint16_t set1, bool pressed);
  void mouse(int dx, int dy, int dz, uint8_t buttons);
  struct Status {
    double mips = 0;
    bool halted = false;  // the boot CPU sat in HLT when sampled
    uint8_t leds = 0;     // the i8042's: bit 0 Scroll, 1 Num, 2 Caps Lock
  };
  Status status() const;
  // If rows changed since the last call: upload(frame, y0, y1, resized) under the lock, true.
  bool take_damage(const std::function<void(const Frame&, unsigned, unsigned, bool)>& upload);

  // Set before the threads start. on_frame: called on the machine's thread when damage waits (wake
  // the window); on_input: called on the window's thread after queuing input (wake the machine).
  std::function<void()> on_frame;
  std::function<void()> on_input;

 private:
  struct Input {
    bool is_key;
    uint16_t code;
    bool pressed;
    int dx, dy, dz;
    uint8_t buttons;
  };

  Machine& m_;
  VgaDisplay display_;
  uint64_t next_frame_ns_ = 0;
  uint64_t sample_ns_ = 0, sample_icount_ = 0;

  mutable std::mutex mu_;
  std::vector<Input> input_;
  Frame shared_;
  bool damaged_ = false, resized_ = false;
  unsigned dmg_y0_ = 0, dmg_y1_ = 0;
  Status status_;
};

}  // namespace vx86
