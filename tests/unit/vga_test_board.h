// Shared by the VGA renderer and display tests: a Vga driven through its ports as a VGA BIOS
// would, the IBM VGA BIOS register tables of the modes the tests use, a DAC pattern, and a frame
// comparison.
#pragma once
#include <gtest/gtest.h>

#include <array>
#include <cstdint>

#include "devices/vga.h"
#include "devices/vga_render.h"

namespace vx86::vga_test {

struct Regs {
  uint8_t misc;
  std::array<uint8_t, 5> seq;
  std::array<uint8_t, 25> crtc;
  std::array<uint8_t, 9> gc;
  std::array<uint8_t, 21> ac;
};

// The standard VGA BIOS parameter tables for these modes (IBM VGA Technical Reference).
inline constexpr Regs kMode13{0x63,
                              {0x03, 0x01, 0x0F, 0x00, 0x0E},
                              {0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0xBF, 0x1F, 0x00, 0x41, 0x00, 0x00, 0x00,
                               0x00, 0x00, 0x00, 0x9C, 0x0E, 0x8F, 0x28, 0x40, 0x96, 0xB9, 0xA3, 0xFF},
                              {0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x05, 0x0F, 0xFF},
                              {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A,
                               0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x41, 0x00, 0x0F, 0x00, 0x00}};
inline constexpr Regs kMode12{0xE3,
                              {0x03, 0x01, 0x0F, 0x00, 0x06},
                              {0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0x0B, 0x3E, 0x00, 0x40, 0x00, 0x00, 0x00,
                               0x00, 0x00, 0x00, 0xEA, 0x0C, 0xDF, 0x28, 0x00, 0xE7, 0x04, 0xE3, 0xFF},
                              {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x0F, 0xFF},
                              {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3A,
                               0x3B, 0x3C, 0x3D, 0x3E, 0x3F, 0x01, 0x00, 0x0F, 0x00, 0x00}};
// Mode 3's attribute palette (what Vga::reset programs).
inline constexpr uint8_t kMode3Palette[16] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07,
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
inline std::array<uint8_t, 3> dac_pattern(unsigned i) {
  return {static_cast<uint8_t>(i & 63), static_cast<uint8_t>((i * 5 + 7) & 63),
          static_cast<uint8_t>(63 - (i & 63))};
}
inline uint32_t dac_colour(unsigned i) {
  const auto e = dac_pattern(i & 0xFF);
  auto x = [](uint8_t c) { return static_cast<uint32_t>(c << 2 | c >> 4); };
  return x(e[0]) << 16 | x(e[1]) << 8 | x(e[2]);
}
inline void load_dac(Board& b) {
  b.out(0x3C8, 0);
  for (unsigned i = 0; i < 256; ++i)
    for (uint8_t c : dac_pattern(i)) b.out(0x3C9, c);
}

void expect_frame(const Frame& f, unsigned w, unsigned h, uint32_t (*want)(unsigned, unsigned));

}  // namespace vx86::vga_test
