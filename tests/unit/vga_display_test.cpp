// VgaDisplay (devices/vga_display.h): after every refresh its frame equals a full render of the
// VGA, while it redraws only the bands that changed; an idle screen redraws nothing.
#include "devices/vga_display.h"

#include <gtest/gtest.h>

#include <random>

#include "tests/unit/vga_test_board.h"

namespace vx86 {
namespace {

using namespace vga_test;

constexpr uint64_t kMs = 1'000'000;

void vbe_mode(Board& b, unsigned w, unsigned h, unsigned bpp) {
  b.dispi(4, 0);
  b.dispi(1, static_cast<uint16_t>(w));
  b.dispi(2, static_cast<uint16_t>(h));
  b.dispi(3, static_cast<uint16_t>(bpp));
  b.dispi(4, 0x41);
}

void expect_same(const Frame& a, const Frame& b) {
  ASSERT_EQ(a.width, b.width);
  ASSERT_EQ(a.height, b.height);
  EXPECT_TRUE(a.pixels == b.pixels);
}

TEST(VgaDisplay, IdleScreenRedrawsNothing) {
  Board b;
  vbe_mode(b, 1024, 768, 32);
  const uint32_t base = b.vga.lfb_base();
  for (uint32_t i = 0; i < 1024 * 768; i += 7) b.vga.lfb().mmio_write(base + i * 4, i * 2654435761u, 4);
  VgaDisplay d(b.vga);
  const VgaDisplay::Update first = d.refresh(0);
  EXPECT_TRUE(first.resized);
  EXPECT_EQ(first.y0, 0u);
  EXPECT_EQ(first.y1, 768u);
  EXPECT_EQ(d.bands_drawn(), 768u);
  expect_same(d.frame(), render_vga(b.vga));
  for (uint64_t t = 1; t < 100; ++t) EXPECT_TRUE(d.refresh(t * 16 * kMs).empty());
  EXPECT_EQ(d.bands_drawn(), 768u);
}

TEST(VgaDisplay, OnePixelRedrawsOnlyItsRow) {
  Board b;
  vbe_mode(b, 1024, 768, 32);
  VgaDisplay d(b.vga);
  d.refresh(0);
  // A 1024-pixel row at 32 bpp is one 4 KiB page: only row 300 is drawn again.
  b.vga.lfb().mmio_write(b.vga.lfb_base() + (300 * 1024 + 500) * 4, 0x123456, 4);
  const VgaDisplay::Update u = d.refresh(16 * kMs);
  EXPECT_FALSE(u.resized);
  EXPECT_EQ(u.y0, 300u);
  EXPECT_EQ(u.y1, 301u);
  EXPECT_EQ(d.bands_drawn(), 769u);
  EXPECT_EQ(d.frame().at(500, 300), 0x123456u);
  expect_same(d.frame(), render_vga(b.vga));
}

TEST(VgaDisplay, PaletteChangeRedrawsEverythingAndModeChangeResizes) {
  Board b;
  b.mode(kMode13);
  load_dac(b);
  for (unsigned i = 0; i < 320 * 200; ++i) b.mem(0xA0000 + i, static_cast<uint8_t>(i * 7));
  VgaDisplay d(b.vga);
  EXPECT_TRUE(d.refresh(0).resized);
  EXPECT_EQ(d.frame().width, 320u);
  EXPECT_EQ(d.frame().height, 200u);
  EXPECT_TRUE(d.refresh(1).empty());
  b.out(0x3C8, 7);  // one DAC entry: every pixel may use it
  b.out(0x3C9, 1), b.out(0x3C9, 2), b.out(0x3C9, 3);
  const VgaDisplay::Update u = d.refresh(2);
  EXPECT_EQ(u.y0, 0u);
  EXPECT_EQ(u.y1, 200u);
  expect_same(d.frame(), render_vga(b.vga));
  // The same value again changes nothing.
  b.out(0x3C8, 7);
  b.out(0x3C9, 1), b.out(0x3C9, 2), b.out(0x3C9, 3);
  EXPECT_TRUE(d.refresh(3).empty());
  vbe_mode(b, 800, 600, 16);
  const VgaDisplay::Update r = d.refresh(4);
  EXPECT_TRUE(r.resized);
  EXPECT_EQ(d.frame().width, 800u);
  expect_same(d.frame(), render_vga(b.vga));
}

// Text mode: a character written redraws the rows that share its page, not the screen; the cursor
// redraws its old and new rows when it moves, and its row when it blinks; writing the font
// redraws everything.
TEST(VgaDisplay, TextCharactersCursorBlinkAndFont) {
  Board b;
  load_dac(b);
  for (unsigned cell = 0; cell < 80 * 25; ++cell) {
    b.mem(0xB8000 + cell * 2, static_cast<uint8_t>('A' + cell % 26));
    b.mem(0xB8000 + cell * 2 + 1, 0x07);
  }
  VgaDisplay d(b.vga);
  d.refresh(0);
  uint64_t drawn = d.bands_drawn();
  EXPECT_EQ(drawn, 25u);
  b.mem(0xB8000 + (20 * 80 + 3) * 2, 'Z');
  VgaDisplay::Update u = d.refresh(1);
  EXPECT_LE(u.y0, 20u * 16);
  EXPECT_GE(u.y1, 21u * 16);
  EXPECT_LE(d.bands_drawn() - drawn, 7u);  // 640 VRAM bytes a row, 4 KiB a page
  expect_same(d.frame(), render_vga(b.vga));

  drawn = d.bands_drawn();
  const unsigned loc = 10 * 80 + 40;
  b.crtc(0x0E, static_cast<uint8_t>(loc >> 8));
  b.crtc(0x0F, static_cast<uint8_t>(loc));
  u = d.refresh(2);
  EXPECT_EQ(d.bands_drawn() - drawn, 2u);  // row 0 (where it was) and row 10
  EXPECT_EQ(u.y0, 0u);
  EXPECT_EQ(u.y1, 11u * 16);
  expect_same(d.frame(), render_vga(b.vga));

  drawn = d.bands_drawn();
  u = d.refresh(300 * kMs);  // the cursor's off phase
  EXPECT_EQ(d.bands_drawn() - drawn, 1u);
  EXPECT_EQ(u.y0, 10u * 16);
  expect_same(d.frame(), render_vga(b.vga, BlinkState{true, false}));
  EXPECT_NE(d.frame().pixels, render_vga(b.vga).pixels);

  drawn = d.bands_drawn();
  b.seq(2, 0x04);  // the font (plane 2), as a VGA BIOS loads it
  b.seq(4, 0x07);
  b.gc(5, 0x00);
  b.gc(6, 0x04);
  b.mem(0xA0000 + 'Z' * 32 + 5, 0xFF);
  b.seq(2, 0x03);
  b.seq(4, 0x02);
  b.gc(5, 0x10);
  b.gc(6, 0x0E);
  d.refresh(310 * kMs);
  EXPECT_EQ(d.bands_drawn() - drawn, 25u);
  expect_same(d.frame(), render_vga(b.vga, BlinkState{true, false}));
}

// Blinking characters turn every 32 frames: only rows holding one are drawn again.
TEST(VgaDisplay, BlinkingCharactersRedrawTheirRows) {
  Board b;
  load_dac(b);
  b.crtc(0x0A, 0x20);  // cursor off
  for (unsigned cell = 0; cell < 80 * 25; ++cell) {
    b.mem(0xB8000 + cell * 2, 0xDB);  // a full block, so the blink shows
    b.mem(0xB8000 + cell * 2 + 1, cell == 5 * 80 + 7 ? 0x8F : 0x0F);
  }
  b.seq(2, 0x04), b.seq(4, 0x07), b.gc(5, 0x00), b.gc(6, 0x04);
  for (unsigned line = 0; line < 16; ++line) b.mem(0xA0000 + 0xDB * 32 + line, 0xFF);
  b.seq(2, 0x03), b.seq(4, 0x02), b.gc(5, 0x10), b.gc(6, 0x0E);
  VgaDisplay d(b.vga);
  d.refresh(0);
  const uint64_t drawn = d.bands_drawn();
  d.refresh(300 * kMs);  // the cursor's phase turns, but it is off
  EXPECT_EQ(d.bands_drawn(), drawn);
  d.refresh(600 * kMs);  // the characters' phase turns
  EXPECT_EQ(d.bands_drawn() - drawn, 1u);
  expect_same(d.frame(), render_vga(b.vga, BlinkState{false, true}));
  // The blinking block shows its background; its neighbour keeps its white foreground.
  EXPECT_EQ(d.frame().at(7 * 9 + 2, 5 * 16 + 4), dac_colour(kMode3Palette[0]));
  EXPECT_EQ(d.frame().at(8 * 9 + 2, 5 * 16 + 4), dac_colour(kMode3Palette[15]));
}

// Random drawing in each mode with refreshes in between: the incremental frame always equals a
// full render.
TEST(VgaDisplay, RandomDrawingMatchesFullRenders) {
  std::mt19937 rng(12345);
  for (int mode = 0; mode < 4; ++mode) {
    Board b;
    load_dac(b);
    if (mode == 1) b.mode(kMode13);
    if (mode == 2) b.mode(kMode12);
    if (mode == 3) vbe_mode(b, 640, 480, 16);
    VgaDisplay d(b.vga);
    for (int frame = 0; frame < 60; ++frame) {
      for (int k = 0; k < 50; ++k) {
        const uint32_t r = rng();
        if (mode == 3)
          b.vga.lfb().mmio_write(b.vga.lfb_base() + (r % (640 * 480 * 2)), r >> 8, 1);
        else if (mode == 0)
          b.mem(0xB8000 + r % 4000, static_cast<uint8_t>(r >> 12));
        else
          b.mem(0xA0000 + r % 0x10000, static_cast<uint8_t>(r >> 16));
      }
      if (frame % 20 == 7)
        b.out(0x3C8, static_cast<uint8_t>(rng())), b.out(0x3C9, 9), b.out(0x3C9, 9), b.out(0x3C9, 9);
      d.refresh(0);
      ASSERT_EQ(d.frame().pixels, render_vga(b.vga).pixels) << "mode " << mode << " frame " << frame;
    }
  }
}

}  // namespace
}  // namespace vx86
