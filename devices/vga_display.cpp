#include "devices/vga_display.h"

#include <algorithm>

namespace vx86 {

namespace {
constexpr uint64_t kCursorPeriodNs = 266'666'667;  // 16 frames at 60 Hz
}  // namespace

bool VgaDisplay::band_dirty(const VgaLayout::Band& b) const {
  if (b.vram_hi <= b.vram_lo) return false;
  const uint32_t first = b.vram_lo >> Vga::kDirtyPageShift, last = (b.vram_hi - 1) >> Vga::kDirtyPageShift;
  for (uint32_t p = first; p <= last; ++p)
    if (dirty_[p / 64] & (uint64_t{1} << (p % 64))) return true;
  return false;
}

VgaDisplay::Update VgaDisplay::refresh(uint64_t now_ns) {
  Update u;
  // What changed is collected before drawing: a write that lands while a band is being drawn
  // marks its page again and is drawn next time.
  dirty_.fill(0);
  vga_.take_dirty(dirty_);
  const bool font = vga_.take_font_written();
  const uint64_t gen = vga_.picture_generation();
  bool full = first_ || gen != generation_;
  const unsigned old_cursor_band = layout_.cursor_band, old_cursor_col = layout_.cursor_col;
  if (full) {
    layout_ = layout_vga(vga_);
    generation_ = gen;
    first_ = false;
    if (layout_.width != frame_.width || layout_.height != frame_.height) {
      frame_.width = layout_.width;
      frame_.height = layout_.height;
      frame_.pixels.assign(size_t{frame_.width} * frame_.height, 0);
      u.resized = true;
    }
  } else if (layout_.kind == VgaLayout::Kind::Text) {
    const Vga::Cursor cur = vga_.text_cursor();  // (the cursor location moves no generation)
    layout_.cursor_band = cur.visible ? cur.row : static_cast<unsigned>(layout_.bands.size());
    layout_.cursor_col = cur.col;
  }
  const bool text = layout_.kind == VgaLayout::Kind::Text;
  if (text && font) full = true;

  const BlinkState blink{(now_ns / (2 * kCursorPeriodNs)) % 2 == 0, (now_ns / kCursorPeriodNs) % 2 == 0};
  const bool cursor_turned = blink.cursor_on != blink_.cursor_on;
  const bool chars_turned = blink.chars_on != blink_.chars_on;
  const bool cursor_moved = layout_.cursor_band != old_cursor_band || layout_.cursor_col != old_cursor_col;
  blink_ = blink;

  for (unsigned b = 0; b < layout_.bands.size(); ++b) {
    const VgaLayout::Band& band = layout_.bands[b];
    bool redraw = full || band_dirty(band);
    if (text && !redraw) {
      const bool cursor_row = b == layout_.cursor_band || b == old_cursor_band;
      redraw = (cursor_row && (cursor_moved || cursor_turned)) || (band.blinks && chars_turned);
    }
    if (!redraw) continue;
    render_band(vga_, layout_, b, frame_, blink);
    ++bands_drawn_;
    if (u.empty()) u.y0 = band.y0;
    u.y0 = std::min(u.y0, band.y0);
    u.y1 = std::max(u.y1, band.y1);
  }
  return u;
}

}  // namespace vx86
