// The VGA renderer (devices/vga_render.h) against pictures the test computes itself from the
// pattern it drew and the VGA's definition (attribute palette, DAC, font planes, CRTC layout):
// mode 3 text with a synthetic font and the cursor, mode 13h, unchained mode X, planar mode 12h
// (also split by line compare and panned), the CGA modes 4 and 6, and the Bochs VBE framebuffer
// at 32 and 16 bits per pixel with a virtual width and offsets.
#include "devices/vga_render.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

#include "devices/vga.h"
#include "tests/unit/vga_test_board.h"

namespace vx86 {

namespace vga_test {
void expect_frame(const Frame& f, unsigned w, unsigned h, uint32_t (*want)(unsigned, unsigned)) {
  ASSERT_EQ(f.width, w);
  ASSERT_EQ(f.height, h);
  unsigned bad = 0;
  for (unsigned y = 0; y < h; ++y)
    for (unsigned x = 0; x < w; ++x)
      if (f.at(x, y) != want(x, y) && ++bad <= 5)
        ADD_FAILURE() << "pixel (" << x << "," << y << "): " << std::hex << f.at(x, y) << " want "
                      << want(x, y);
  EXPECT_EQ(bad, 0u);
}

}  // namespace vga_test

namespace {
using namespace vga_test;

// ---- text: mode 3 (the reset state) with a synthetic font ----
uint8_t glyph(unsigned ch, unsigned line) {
  return static_cast<uint8_t>(((ch * 7 + line * 13) ^ (ch >> 3)) & 0xFF);
}
uint8_t text_char(unsigned cell) { return static_cast<uint8_t>(cell * 11); }
uint8_t text_attr(unsigned cell) { return static_cast<uint8_t>(cell * 29 + 3); }
constexpr unsigned kCursorRow = 3, kCursorCol = 5;

uint32_t text_pixel(unsigned x, unsigned y) {
  const unsigned col = x / 9, row = y / 16, line = y % 16, dot = x % 9, cell = row * 80 + col;
  const uint8_t ch = text_char(cell), at = text_attr(cell), bits = glyph(ch, line);
  const uint32_t fg = dac_colour(kMode3Palette[at & 15]);
  const uint32_t bg = dac_colour(kMode3Palette[(at >> 4) & 7]);  // blink enabled: 3 background bits
  if (row == kCursorRow && col == kCursorCol && line >= 13 && line <= 14) return fg;  // cursor 0Dh-0Eh
  if (dot == 8) return (ch >= 0xC0 && ch <= 0xDF && (bits & 1)) ? fg : bg;            // line graphics
  return (bits & (0x80 >> dot)) ? fg : bg;
}

void load_font(Board& b) {
  // The font into plane 2, as a VGA BIOS loads it: planar, map mask 4, 64 KiB at A0000h.
  b.seq(2, 0x04);
  b.seq(4, 0x07);
  b.gc(5, 0x00);
  b.gc(6, 0x04);
  for (unsigned ch = 0; ch < 256; ++ch)
    for (unsigned line = 0; line < 32; ++line) b.mem(0xA0000 + ch * 32 + line, glyph(ch, line));
  b.seq(2, 0x03);
  b.seq(4, 0x02);
  b.gc(5, 0x10);
  b.gc(6, 0x0E);
}

void fill_text(Board& b, unsigned cells) {
  for (unsigned cell = 0; cell < cells; ++cell) {
    b.mem(0xB8000 + cell * 2, text_char(cell));
    b.mem(0xB8000 + cell * 2 + 1, text_attr(cell));
  }
}

TEST(VgaRender, Mode3TextWithFontAttributesAndCursor) {
  Board b;
  load_font(b);
  fill_text(b, 80 * 25);
  load_dac(b);
  const unsigned loc = kCursorRow * 80 + kCursorCol;
  b.crtc(0x0E, static_cast<uint8_t>(loc >> 8));
  b.crtc(0x0F, static_cast<uint8_t>(loc));
  expect_frame(render_vga(b.vga), 720, 400, text_pixel);
}

// 40x25 (mode 1's layout): 40 characters a row with the dot clock halved, so each dot is two
// pixels wide and the picture 720x400 as in 80-column modes.
uint32_t text40_pixel(unsigned x, unsigned y) {
  const unsigned dot = (x / 2) % 9, col = x / 18, row = y / 16, line = y % 16, cell = row * 40 + col;
  const uint8_t ch = text_char(cell), at = text_attr(cell), bits = glyph(ch, line);
  const uint32_t fg = dac_colour(kMode3Palette[at & 15]), bg = dac_colour(kMode3Palette[(at >> 4) & 7]);
  if (dot == 8) return (ch >= 0xC0 && ch <= 0xDF && (bits & 1)) ? fg : bg;
  return (bits & (0x80 >> dot)) ? fg : bg;
}

TEST(VgaRender, Text40ColumnsHalvedDotClock) {
  Board b;
  load_font(b);
  fill_text(b, 40 * 25);
  load_dac(b);
  b.seq(1, 0x08);      // 9 dots, dot clock halved
  b.crtc(0x11, 0x0E);  // unprotect CRTC 0-7
  b.crtc(0x01, 0x27);  // 40 characters
  b.crtc(0x13, 0x14);  // 40 words a row
  b.crtc(0x0A, 0x20);  // no cursor
  expect_frame(render_vga(b.vga), 720, 400, text40_pixel);
}

// ---- mode 13h and mode X ----
uint8_t pattern256(unsigned x, unsigned y) { return static_cast<uint8_t>((x ^ (y * 3)) + y); }
uint32_t pixel256(unsigned x, unsigned y) { return dac_colour(pattern256(x, y)); }

TEST(VgaRender, Mode13hChained) {
  Board b;
  b.mode(kMode13);
  load_dac(b);
  for (unsigned y = 0; y < 200; ++y)
    for (unsigned x = 0; x < 320; ++x) b.mem(0xA0000 + y * 320 + x, pattern256(x, y));
  expect_frame(render_vga(b.vga), 320, 200, pixel256);
}

TEST(VgaRender, ModeXUnchained) {
  Board b;
  b.mode(kMode13);
  b.seq(4, 0x06);      // chain-4 off
  b.crtc(0x14, 0x00);  // doubleword mode off
  b.crtc(0x17, 0xE3);  // byte mode
  load_dac(b);
  for (unsigned p = 0; p < 4; ++p) {
    b.seq(2, static_cast<uint8_t>(1u << p));
    for (unsigned y = 0; y < 200; ++y)
      for (unsigned x = p; x < 320; x += 4) b.mem(0xA0000 + y * 80 + x / 4, pattern256(x, y));
  }
  expect_frame(render_vga(b.vga), 320, 200, pixel256);
}

// ---- mode 12h: 640x480, 16 colours in four planes ----
unsigned colour16(unsigned x, unsigned y) { return (x / 3 + y * 5) & 15; }
uint32_t pixel16(unsigned x, unsigned y) { return dac_colour(kMode12.ac[colour16(x, y)] & 0x3F); }

TEST(VgaRender, Mode12hPlanar) {
  Board b;
  b.mode(kMode12);
  load_dac(b);
  for (unsigned p = 0; p < 4; ++p) {
    b.seq(2, static_cast<uint8_t>(1u << p));
    for (unsigned y = 0; y < 480; ++y)
      for (unsigned xb = 0; xb < 80; ++xb) {
        uint8_t bits = 0;
        for (unsigned k = 0; k < 8; ++k)
          bits |= static_cast<uint8_t>(((colour16(xb * 8 + k, y) >> p) & 1) << (7 - k));
        b.mem(0xA0000 + y * 80 + xb, bits);
      }
  }
  expect_frame(render_vga(b.vga), 640, 480, pixel16);
}

// Line compare splits the screen: the lines up to and including line 99 show VRAM from the start
// address (row 200), panned by 3 pixels; the lines below show VRAM from address 0 with no panning
// (the attribute mode's pixel panning mode bit). Pixels are counted along VRAM: a panned row's
// last pixels come from the next row's first byte.
uint32_t split_pixel(unsigned x, unsigned y) {
  const unsigned pos = y <= 99 ? (y + 200) * 640 + x + 3 : (y - 100) * 640 + x;
  return pixel16(pos % 640, pos / 640);
}

TEST(VgaRender, Mode12hLineCompareAndPanning) {
  Board b;
  b.mode(kMode12);
  load_dac(b);
  for (unsigned p = 0; p < 4; ++p) {
    b.seq(2, static_cast<uint8_t>(1u << p));
    for (unsigned y = 0; y < 481; ++y)
      for (unsigned xb = 0; xb < 80; ++xb) {
        uint8_t bits = 0;
        for (unsigned k = 0; k < 8; ++k)
          bits |= static_cast<uint8_t>(((colour16(xb * 8 + k, y) >> p) & 1) << (7 - k));
        b.mem(0xA0000 + y * 80 + xb, bits);
      }
  }
  const unsigned start = 200 * 80;
  b.crtc(0x0C, static_cast<uint8_t>(start >> 8));
  b.crtc(0x0D, static_cast<uint8_t>(start));
  b.crtc(0x18, 99);
  b.crtc(0x07, kMode12.crtc[7] & ~0x10);  // line compare bit 8
  b.crtc(0x09, kMode12.crtc[9] & ~0x40);  // line compare bit 9
  b.ac(0x13, 3);
  b.ac(0x10, kMode12.ac[0x10] | 0x20);  // pixel panning mode: the split part is not panned
  b.vga.io_read(0x3DA, 1);
  b.out(0x3C0, 0x20);
  expect_frame(render_vga(b.vga), 640, 480, split_pixel);
}

// ---- the CGA modes: even lines in the first 8 KiB bank, odd lines in the second ----
constexpr Regs kMode4{0x63,
                      {0x03, 0x09, 0x03, 0x00, 0x02},
                      {0x2D, 0x27, 0x28, 0x90, 0x2B, 0x80, 0xBF, 0x1F, 0x00, 0xC1, 0x00, 0x00, 0x00,
                       0x00, 0x00, 0x00, 0x9C, 0x8E, 0x8F, 0x14, 0x00, 0x96, 0xB9, 0xA2, 0xFF},
                      {0x00, 0x00, 0x00, 0x00, 0x00, 0x30, 0x0F, 0x0F, 0xFF},
                      {0x00, 0x13, 0x15, 0x17, 0x02, 0x04, 0x06, 0x07, 0x10, 0x11, 0x12,
                       0x13, 0x14, 0x15, 0x16, 0x17, 0x01, 0x00, 0x03, 0x00, 0x00}};
constexpr Regs kMode6{0x63,
                      {0x03, 0x01, 0x01, 0x00, 0x06},
                      {0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0xBF, 0x1F, 0x00, 0xC1, 0x00, 0x00, 0x00,
                       0x00, 0x00, 0x00, 0x9C, 0x8E, 0x8F, 0x28, 0x00, 0x96, 0xB9, 0xC2, 0xFF},
                      {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0D, 0x0F, 0xFF},
                      {0x00, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17,
                       0x17, 0x17, 0x17, 0x17, 0x17, 0x01, 0x00, 0x01, 0x00, 0x00}};
// The CPU address of line y's byte xb in a CGA framebuffer at B800:0000.
uint32_t cga_address(unsigned y, unsigned xb) { return 0xB8000 + (y & 1) * 0x2000 + (y / 2) * 80 + xb; }

unsigned colour4(unsigned x, unsigned y) { return (x / 5 + y) & 3; }
uint32_t pixel4(unsigned x, unsigned y) { return dac_colour(kMode4.ac[colour4(x, y)]); }

TEST(VgaRender, Mode4Cga4Colour) {
  Board b;
  b.mode(kMode4);
  load_dac(b);
  for (unsigned y = 0; y < 200; ++y)
    for (unsigned xb = 0; xb < 80; ++xb) {
      uint8_t v = 0;  // four 2-bit pixels, the leftmost in the top bits
      for (unsigned k = 0; k < 4; ++k) v |= static_cast<uint8_t>(colour4(xb * 4 + k, y) << (6 - 2 * k));
      b.mem(cga_address(y, xb), v);
    }
  expect_frame(render_vga(b.vga), 320, 200, pixel4);
}

unsigned colour2(unsigned x, unsigned y) { return ((x / 3) ^ (y / 2)) & 1; }
uint32_t pixel2(unsigned x, unsigned y) { return dac_colour(kMode6.ac[colour2(x, y)]); }

TEST(VgaRender, Mode6Cga2Colour) {
  Board b;
  b.mode(kMode6);
  load_dac(b);
  for (unsigned y = 0; y < 200; ++y)
    for (unsigned xb = 0; xb < 80; ++xb) {
      uint8_t v = 0;
      for (unsigned k = 0; k < 8; ++k) v |= static_cast<uint8_t>(colour2(xb * 8 + k, y) << (7 - k));
      b.mem(cga_address(y, xb), v);
    }
  expect_frame(render_vga(b.vga), 640, 200, pixel2);
}

// ---- Bochs VBE ----
uint32_t rgb32(unsigned x, unsigned y) {
  return ((x * 3) & 0xFF) << 16 | ((y * 5) & 0xFF) << 8 | ((x + y) & 0xFF);
}

TEST(VgaRender, Vbe32bppWithVirtualWidthAndOffsets) {
  Board b;
  b.dispi(1, 640);
  b.dispi(2, 480);
  b.dispi(3, 32);
  b.dispi(4, 0x41);  // enabled, linear framebuffer
  b.dispi(6, 800);   // virtual width
  b.dispi(8, 16);    // x offset
  b.dispi(9, 10);    // y offset
  const uint32_t base = b.vga.lfb_base();
  // The visible pixel (x, y) is at (x + 16, y + 10) of an 800-pixel-wide virtual screen.
  for (unsigned y = 0; y < 480; ++y)
    for (unsigned x = 0; x < 640; ++x)
      b.vga.lfb().mmio_write(base + ((y + 10) * 800 + x + 16) * 4, rgb32(x, y), 4);
  expect_frame(render_vga(b.vga), 640, 480, rgb32);
}

uint32_t rgb565(unsigned x, unsigned y) {
  const unsigned r = x & 31, g = y & 63, bl = (x + y) & 31;
  return (r << 3 | r >> 2) << 16 | (g << 2 | g >> 4) << 8 | (bl << 3 | bl >> 2);
}

TEST(VgaRender, Vbe16bpp) {
  Board b;
  b.dispi(1, 320);
  b.dispi(2, 240);
  b.dispi(3, 16);
  b.dispi(4, 0x41);
  const uint32_t base = b.vga.lfb_base();
  for (unsigned y = 0; y < 240; ++y)
    for (unsigned x = 0; x < 320; ++x)
      b.vga.lfb().mmio_write(base + (y * 320 + x) * 2, (x & 31) << 11 | (y & 63) << 5 | ((x + y) & 31), 2);
  expect_frame(render_vga(b.vga), 320, 240, rgb565);
}

uint32_t rgb555(unsigned x, unsigned y) {
  const unsigned r = x & 31, g = y & 31, bl = (x ^ y) & 31;
  return (r << 3 | r >> 2) << 16 | (g << 3 | g >> 2) << 8 | (bl << 3 | bl >> 2);
}

TEST(VgaRender, Vbe15bpp) {
  Board b;
  b.dispi(1, 320), b.dispi(2, 200), b.dispi(3, 15), b.dispi(4, 0x41);
  const uint32_t base = b.vga.lfb_base();
  for (unsigned y = 0; y < 200; ++y)
    for (unsigned x = 0; x < 320; ++x)
      b.vga.lfb().mmio_write(base + (y * 320 + x) * 2, (x & 31) << 10 | (y & 31) << 5 | ((x ^ y) & 31), 2);
  expect_frame(render_vga(b.vga), 320, 200, rgb555);
}

// 24 bpp: three bytes a pixel (B, G, R), at 1920x1200, the largest mode the issue asks for.
TEST(VgaRender, Vbe24bpp1920x1200) {
  Board b;
  b.dispi(1, 1920), b.dispi(2, 1200), b.dispi(3, 24), b.dispi(4, 0x41);
  const uint32_t base = b.vga.lfb_base();
  for (unsigned y = 0; y < 1200; ++y)
    for (unsigned x = 0; x < 1920; ++x) {
      const uint32_t rgb = rgb32(x, y), a = base + (y * 1920 + x) * 3;
      b.vga.lfb().mmio_write(a, rgb & 0xFFFF, 2);
      b.vga.lfb().mmio_write(a + 2, rgb >> 16, 1);
    }
  expect_frame(render_vga(b.vga), 1920, 1200, rgb32);
}

// 8 bpp through the DAC: 6-bit entries widened, and with VBE's 8-bit DAC flag the entries as
// written.
TEST(VgaRender, Vbe8bppThroughTheDac) {
  Board b;
  load_dac(b);
  b.dispi(1, 256), b.dispi(2, 64), b.dispi(3, 8), b.dispi(4, 0x41);
  const uint32_t base = b.vga.lfb_base();
  for (unsigned y = 0; y < 64; ++y)
    for (unsigned x = 0; x < 256; ++x) b.vga.lfb().mmio_write(base + y * 256 + x, (x + y) & 0xFF, 1);
  expect_frame(render_vga(b.vga), 256, 64, [](unsigned x, unsigned y) { return dac_colour(x + y); });
  b.dispi(4, 0x41 | 0x20 | 0x80);  // 8-bit DAC (and keep the memory)
  b.out(0x3C8, 0);
  for (unsigned i = 0; i < 256; ++i) b.out(0x3C9, i), b.out(0x3C9, 255 - i), b.out(0x3C9, i ^ 0x5A);
  expect_frame(render_vga(b.vga), 256, 64, [](unsigned x, unsigned y) {
    const unsigned i = (x + y) & 0xFF;
    return uint32_t(i << 16 | (255 - i) << 8 | (i ^ 0x5A));
  });
}

// 80x50 with 8-dot characters (sequencer 1 bit 0): 8-line glyphs, 640x400.
uint32_t text50_pixel(unsigned x, unsigned y) {
  const unsigned col = x / 8, row = y / 8, line = y % 8, dot = x % 8, cell = row * 80 + col;
  const uint8_t ch = text_char(cell), at = text_attr(cell), bits = glyph(ch, line);
  const uint32_t fg = dac_colour(kMode3Palette[at & 15]), bg = dac_colour(kMode3Palette[(at >> 4) & 7]);
  return (bits & (0x80 >> dot)) ? fg : bg;
}

TEST(VgaRender, Text80x50EightDots) {
  Board b;
  load_font(b);
  fill_text(b, 80 * 50);
  load_dac(b);
  b.seq(1, 0x01);      // 8-dot characters
  b.crtc(0x09, 0x47);  // 8 scan lines a character (and line compare bit 9 as mode 3 has it)
  b.crtc(0x0A, 0x20);  // no cursor
  expect_frame(render_vga(b.vga), 640, 400, text50_pixel);
}

}  // namespace
}  // namespace vx86
