// The VGA's picture: what the monitor would show for the registers and VRAM as they are now, as
// 32-bit 0x00RRGGBB pixels. render_vga is a pure function of the Vga's state, used by screendumps
// (QMP `screendump`, `-screendump`); the window redraws only what changed through VgaDisplay
// (devices/vga_display.h), which uses the layout and band renderer below.
//
// Modes: alphanumeric (8- or 9-dot characters from the font in plane 2, character maps A/B, the
// attribute byte with blink or bright backgrounds, the line-graphics 9th column, the cursor as a
// bar over its scan lines), graphics as the CRT controller scans them out (byte, word and
// doubleword addressing, the CGA and Hercules bank bits, double scanning, the preset row scan,
// byte and pixel panning, the line compare split screen) with the three shift modes: 16-colour
// planar (modes 0Dh-12h, and 640x200 2-colour mode 6), CGA interleaved 4-colour (modes 4/5) and
// 256-colour (mode 13h, chained, and unchained "mode X"); and the Bochs VBE linear framebuffer at
// 8 (through the DAC), 15, 16, 24 and 32 bits per pixel with its virtual width and offsets.
// Colours go through the attribute controller's palette and the DAC as on the hardware.
//
// Lines that repeat (character rows of a graphics mode without CGA banking, double scanning) are
// drawn once: mode 13h is 320x200, mode 12h 640x480, 80x25 text 720x400. Text with the halved
// dot clock (the 40-column modes) is drawn with its dots twice as wide, as the monitor shows it:
// 40x25 is 720x400 too.
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

// Blink phases: character blink (attribute bit 7 with blinking enabled) and the text cursor. A
// screendump shows both "on".
struct BlinkState {
  bool chars_on = true;
  bool cursor_on = true;
};

// How the current mode lays the picture out: horizontal bands of pixel rows (a character row in
// text mode, one pixel row in graphics), each with the VRAM bytes it reads.
struct VgaLayout {
  enum class Kind { Text, Planar, Cga4, Colour256, Vbe } kind = Kind::Text;
  unsigned width = 0, height = 0;
  struct Band {
    unsigned y0 = 0, y1 = 0;            // pixel rows [y0, y1)
    uint32_t vram_lo = 0, vram_hi = 0;  // VRAM bytes it reads, [lo, hi)
    uint32_t address = 0;               // text: CRTC address of the row; graphics: plane offset
    uint8_t row_scan = 0;               // graphics: the row scan counter (CGA/Hercules banks)
    uint8_t pan = 0;                    // graphics: pixels skipped at the left
    bool blinks = false;                // text: the row has blinking characters (filled by rendering)
  };
  std::vector<Band> bands;
  // Text: the cursor's band and position (band index == bands.size(): none shown).
  unsigned cursor_band = 0, cursor_col = 0;
};

VgaLayout layout_vga(const Vga& vga);
// Draws band `b` of `layout` into `f` (already layout.width x layout.height); updates its
// `blinks` flag.
void render_band(const Vga& vga, VgaLayout& layout, unsigned b, Frame& f, BlinkState blink);

Frame render_vga(const Vga& vga, BlinkState blink = {});

}  // namespace vx86
