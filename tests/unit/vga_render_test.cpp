// The VGA renderer (devices/vga_render.h) against pictures the test computes itself from the
// pattern it drew and the VGA's definition (attribute palette, DAC, font planes, CRTC layout):
// mode 3 text with a synthetic font and the cursor, mode 13h, unchained mode X, planar mode 12h,
// and the Bochs VBE framebuffer at 32 and 16 bits per pixel with a virtual width and offsets.
#include "devices/vga_render.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

#include "devices/vga.h"

namespace vx86 {
namespace {

struct Regs {
  uint8_t misc;
  std::array<uint8_t, 5> seq;
  std::array<uint8_t, 25> crtc;
  std::array<uint8_t, 9> gc;
  std::array<uint8_t, 21> ac;
};

// The standard VGA BIOS parameter tables for these modes (IBM VGA Technical Reference).
constexpr Regs kMode13{0x63,
                       {0x03, 0x01, 0x0F, 0x00, 0x0E},
                       {0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0xBF, 0x1F, 0x00, 0x41, 0x00, 0x00, 0x00,
                        0x00, 0x00, 0x00, 0x9C, 0x0E, 0x8F, 0x28, 0x40, 0x96, 0xB9, 0xA3, 0xFF},
                       {0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x05, 0x0F, 0xFF},
                       {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A,
                        0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x41, 0x00, 0x0F, 0x00, 0x00}};
constexpr Regs kMode12{0xE3,
                       {0x03, 0x01, 0x0F, 0x00, 0x06},
                       {0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0x0B, 0x3E, 0x00, 0x40, 0x00, 0x00, 0x00,
                        0x00, 0x00, 0x00, 0xEA, 0x0C, 0xDF, 0x28, 0x00, 0xE7, 0x04, 0xE3, 0xFF},
                       {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x0F, 0xFF},
                       {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3A,
                        0x3B, 0x3C, 0x3D, 0x3E, 0x3F, 0x01, 0x00, 0x0F, 0x00, 0x00}};
// Mode 3's attribute palette (what Vga::reset programs).
constexpr uint8_t kMode3Palette[16] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07,
                                       0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F};

struct Board {
  Vga vga;
  Board() { vga.reset(); }
  void out(uint16_t port, uint32_t v, unsigned size = 1) { vga.io_write(port, v, size); }
  void seq(uint8_t i, uint8_t v) { out(0x3C4, i), out(0x3C5, v); }
  void crtc(uint8_t i, uint8_t v) { out(0x3D4, i), out(0x3D5, v); }
  void gc(uint8_t i, uint8_t v) { out(0x3CE, i), out(0x3CF, v); }
  void ac(uint8_t i, uint8_t v) {
    vga.io_read(0x3DA, 1);  // the flip-flop to "index"
    out(0x3C0, i);
    out(0x3C0, v);
  }
  void mode(const Regs& r) {
    out(0x3C2, r.misc);
    for (uint8_t i = 0; i < 5; ++i) seq(i, r.seq[i]);
    crtc(0x11, r.crtc[0x11] & 0x7F);  // unprotect CRTC 0-7
    for (uint8_t i = 0; i < 25; ++i) crtc(i, r.crtc[i]);
    for (uint8_t i = 0; i < 9; ++i) gc(i, r.gc[i]);
    for (uint8_t i = 0; i < 21; ++i) ac(i, r.ac[i]);
    vga.io_read(0x3DA, 1);
    out(0x3C0, 0x20);  // the screen on
  }
  void mem(uint32_t addr, uint8_t v) { vga.mmio_write(addr, v, 1); }
  void dispi(uint16_t index, uint16_t v) { out(0x1CE, index, 2), out(0x1CF, v, 2); }
};

// DAC entry i: a pattern of 6-bit components, and its 8-bit expansion.
std::array<uint8_t, 3> dac_pattern(unsigned i) {
  return {static_cast<uint8_t>(i & 63), static_cast<uint8_t>((i * 5 + 7) & 63),
          static_cast<uint8_t>(63 - (i & 63))};
}
uint32_t dac_colour(unsigned i) {
  const auto e = dac_pattern(i & 0xFF);
  auto x = [](uint8_t c) { return static_cast<uint32_t>(c << 2 | c >> 4); };
  return x(e[0]) << 16 | x(e[1]) << 8 | x(e[2]);
}
void load_dac(Board& b) {
  b.out(0x3C8, 0);
  for (unsigned i = 0; i < 256; ++i)
    for (uint8_t c : dac_pattern(i)) b.out(0x3C9, c);
}

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

TEST(VgaRender, Mode3TextWithFontAttributesAndCursor) {
  Board b;
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
  for (unsigned cell = 0; cell < 80 * 25; ++cell) {
    b.mem(0xB8000 + cell * 2, text_char(cell));
    b.mem(0xB8000 + cell * 2 + 1, text_attr(cell));
  }
  load_dac(b);
  const unsigned loc = kCursorRow * 80 + kCursorCol;
  b.crtc(0x0E, static_cast<uint8_t>(loc >> 8));
  b.crtc(0x0F, static_cast<uint8_t>(loc));
  expect_frame(render_vga(b.vga), 720, 400, text_pixel);
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

}  // namespace
}  // namespace vx86
