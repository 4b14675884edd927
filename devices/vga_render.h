// The VGA's picture: what the monitor would show for the registers and VRAM as they are now, as
// 32-bit 0x00RRGGBB pixels. A pure function of the Vga's state (no timing, no side effects), used
// by screendumps (QMP `screendump`, `-screendump`); the window (issue 10) will add dirty tracking.
//
// Modes: alphanumeric (8- or 9-dot characters from the font in plane 2, character maps A/B, the
// attribute byte with blink or bright backgrounds, the line-graphics 9th column, the cursor as
// a bar over its scan lines), 16-colour planar graphics (modes 0Dh-12h), 256-colour (mode 13h,
// chained, and unchained "mode X"), and the Bochs VBE linear framebuffer at 8 (through the DAC),
// 15, 16, 24 and 32 bits per pixel with its virtual width and offsets. Colours go through the
// attribute controller's palette and the DAC as on the hardware. Not yet: CGA-compatible 4- and
// 2-colour modes, line compare and horizontal panning.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace vx86 {

class Vga;

struct Frame {
  unsigned width = 0, height = 0;
  std::vector<uint32_t> pixels;  // width * height, row by row, 0x00RRGGBB
  uint32_t at(unsigned x, unsigned y) const { return pixels[std::size_t{y} * width + x]; }
};

Frame render_vga(const Vga& vga);

}  // namespace vx86
