// VgaDisplay keeps a Vga's picture up to date for a window, frame after frame, redrawing only
// what changed: the bands (character rows, pixel rows) whose VRAM pages were written since the
// last refresh, the cursor's row when it moves or blinks, and rows with blinking characters when
// their phase turns. Everything is redrawn when a register that shapes the picture changes (the
// Vga's generation counter), when the font is written in text mode, or when the size changes. An
// idle screen costs one pass over the dirty bitmap.
//
// Blink rates as the VGA's: the cursor turns every 16 frames and blinking characters every 32, at
// 60 Hz (267 and 533 ms).
#pragma once
#include <cstdint>

#include "devices/vga.h"
#include "devices/vga_render.h"

namespace vx86 {

class VgaDisplay {
 public:
  explicit VgaDisplay(Vga& vga) : vga_(vga) {}

  struct Update {
    bool resized = false;     // the frame has a new size (and is all new)
    unsigned y0 = 0, y1 = 0;  // pixel rows redrawn, [y0, y1)
    bool empty() const { return y0 >= y1; }
  };
  // Brings frame() up to date; `now_ns` is a monotonic time for the blink phases.
  Update refresh(uint64_t now_ns);
  const Frame& frame() const { return frame_; }

  uint64_t bands_drawn() const { return bands_drawn_; }  // (statistics: benchmarks, tests)

 private:
  bool band_dirty(const VgaLayout::Band& b) const;

  Vga& vga_;
  Frame frame_;
  VgaLayout layout_;
  bool first_ = true;
  uint64_t generation_ = 0;
  Vga::DirtyBits dirty_{};
  BlinkState blink_{};
  uint64_t bands_drawn_ = 0;
};

}  // namespace vx86
