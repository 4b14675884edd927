#include "devices/vga_render.h"

#include <algorithm>

#include "devices/vga.h"

namespace vx86 {

namespace {

// DAC entry -> 0x00RRGGBB (6-bit components, or 8-bit while VBE's 8-bit DAC flag is set).
uint32_t dac_rgb(const Vga& v, uint8_t index, bool dac8) {
  const auto e = v.dac_entry(static_cast<uint8_t>(index & v.pel_mask()));
  auto c = [dac8](uint8_t x) -> uint32_t {
    return dac8 ? x : static_cast<uint32_t>((x << 2) | (x >> 4)) & 0xFF;
  };
  return c(e[0]) << 16 | c(e[1]) << 8 | c(e[2]);
}

// A 4-bit pixel or text colour through the attribute controller's palette, to a DAC index.
uint8_t ac_to_dac(const Vga& v, unsigned colour) {
  uint8_t i = v.ac(colour & 0x0F);
  const uint8_t mode = v.ac(0x10), select = v.ac(0x14);
  if (mode & 0x80)
    i = static_cast<uint8_t>((i & 0x0F) | ((select & 0x03) << 4));  // P5/P4 from colour select
  else
    i &= 0x3F;
  return static_cast<uint8_t>(i | ((select & 0x0C) << 4));
}

uint8_t plane(const Vga& v, unsigned p, uint32_t offset) { return v.plane_byte(p, offset & 0xFFFF); }

unsigned display_lines(const Vga& v) {
  return (v.crtc(0x12) | ((v.crtc(7) & 0x02u) << 7) | ((v.crtc(7) & 0x40u) << 3)) + 1u;
}

uint32_t start_address(const Vga& v) { return uint32_t{v.crtc(0x0C)} << 8 | v.crtc(0x0D); }

// CRTC addresses per row (the offset register counts words).
uint32_t row_stride(const Vga& v, unsigned fallback) { return v.crtc(0x13) ? v.crtc(0x13) * 2u : fallback; }

Frame render_text(const Vga& v) {
  Frame f;
  const unsigned cols = v.text_cols(), rows = v.text_rows();
  const unsigned char_h = (v.crtc(9) & 0x1Fu) + 1u;
  const unsigned char_w = (v.seq(1) & 1) ? 8u : 9u;
  f.width = cols * char_w;
  f.height = rows * char_h;
  f.pixels.assign(size_t{f.width} * f.height, 0);
  const uint32_t start = start_address(v), stride = row_stride(v, cols);
  const unsigned shift = (v.crtc(0x14) & 0x40) ? 2 : (v.crtc(0x17) & 0x40) ? 0 : 1;
  // Character maps A and B (sequencer register 3): 8 KiB blocks at 0, 16, 32, 48, 8, 24, 40, 56 KiB.
  const uint8_t sel = v.seq(3);
  const unsigned map_a = ((sel >> 5) & 1u) << 2 | ((sel >> 2) & 3u),
                 map_b = ((sel >> 4) & 1u) << 2 | (sel & 3u);
  auto map_base = [](unsigned m) { return (((m & 3u) * 2u) + (m >> 2)) * 8192u; };
  const uint8_t mode = v.ac(0x10);
  const bool blink = mode & 0x08, line_graphics = mode & 0x04;
  const Vga::Cursor cur = v.text_cursor();
  const unsigned cur_top = v.crtc(0x0A) & 0x1F, cur_bottom = v.crtc(0x0B) & 0x1F;
  for (unsigned r = 0; r < rows; ++r)
    for (unsigned c = 0; c < cols; ++c) {
      const uint32_t po = (start + r * stride + c) << shift;
      const uint8_t ch = plane(v, 0, po), at = plane(v, 1, po);
      const uint32_t fg = dac_rgb(v, ac_to_dac(v, at & 0x0F), false);
      const uint32_t bg = dac_rgb(v, ac_to_dac(v, blink ? (at >> 4) & 7 : at >> 4), false);
      const uint32_t glyph = map_base((at & 0x08) ? map_a : map_b) + ch * 32u;
      const bool cursor_here = cur.visible && cur.row == r && cur.col == c;
      for (unsigned y = 0; y < char_h; ++y) {
        uint8_t bits = plane(v, 2, glyph + y);
        uint32_t* out = &f.pixels[size_t{r * char_h + y} * f.width + c * char_w];
        const bool ninth = char_w == 9 && line_graphics && ch >= 0xC0 && ch <= 0xDF && (bits & 1);
        const bool bar = cursor_here && y >= cur_top && y <= cur_bottom;
        for (unsigned x = 0; x < 8; ++x) out[x] = (bar || (bits & (0x80u >> x))) ? fg : bg;
        if (char_w == 9) out[8] = (bar || ninth) ? fg : bg;
      }
    }
  return f;
}

Frame render_graphics(const Vga& v) {
  Frame f;
  const bool colour256 = v.ac(0x10) & 0x40;
  const unsigned chars = v.crtc(1) + 1u;
  unsigned scan = (v.crtc(9) & 0x1Fu) + 1u;
  if (v.crtc(9) & 0x80) scan *= 2;
  f.width = colour256 ? chars * 4 : chars * 8;
  f.height = std::max(1u, display_lines(v) / scan);
  f.pixels.assign(size_t{f.width} * f.height, 0);
  const uint32_t start = start_address(v), stride = row_stride(v, chars);
  for (unsigned y = 0; y < f.height; ++y) {
    uint32_t* out = &f.pixels[size_t{y} * f.width];
    const uint32_t row = start + y * stride;
    for (unsigned x = 0; x < f.width; ++x) {
      if (colour256) {
        // Four pixels per CRTC address, one from each plane (chained: vx86 keeps chain-4 bytes at
        // their CPU addresses, which is the same place).
        out[x] = dac_rgb(v, plane(v, x & 3, row + x / 4), false);
      } else {
        const unsigned bit = 7 - (x & 7);
        unsigned colour = 0;
        for (unsigned p = 0; p < 4; ++p) colour |= ((plane(v, p, row + x / 8) >> bit) & 1u) << p;
        colour &= v.ac(0x12) & 0x0F;  // colour plane enable
        out[x] = dac_rgb(v, ac_to_dac(v, colour), false);
      }
    }
  }
  return f;
}

Frame render_vbe(const Vga& v) {
  Frame f;
  const unsigned bpp = v.dispi(3);
  f.width = std::min<unsigned>(v.dispi(1), Vga::kMaxXres);
  f.height = std::min<unsigned>(v.dispi(2), Vga::kMaxYres);
  f.pixels.assign(size_t{f.width} * f.height, 0);
  const unsigned bytes = (bpp + 7) / 8;
  if (bytes == 0 || bytes > 4) return f;
  const uint64_t virt_w = std::max<unsigned>(v.dispi(6), f.width);
  const uint64_t line = virt_w * bytes;
  const uint64_t start = uint64_t{v.dispi(9)} * line + uint64_t{v.dispi(8)} * bytes;
  const bool dac8 = v.dispi(4) & 0x20;
  const std::vector<uint8_t>& vram = v.vram();
  for (unsigned y = 0; y < f.height; ++y)
    for (unsigned x = 0; x < f.width; ++x) {
      const uint64_t a = start + y * line + uint64_t{x} * bytes;
      if (a + bytes > vram.size()) continue;  // beyond VRAM: black
      const uint8_t* p = &vram[a];
      uint32_t rgb = 0;
      switch (bpp) {
        case 8:
          rgb = dac_rgb(v, p[0], dac8);
          break;
        case 15:
        case 16: {
          const unsigned w = p[0] | p[1] << 8;
          const unsigned gbits = bpp == 16 ? 6 : 5;
          const unsigned r = (w >> (5 + gbits)) & 0x1F, g = (w >> 5) & ((1u << gbits) - 1), b = w & 0x1F;
          const unsigned g8 = gbits == 6 ? (g << 2 | g >> 4) : (g << 3 | g >> 2);
          rgb = (r << 3 | r >> 2) << 16 | g8 << 8 | (b << 3 | b >> 2);
          break;
        }
        default:  // 24 and 32: B, G, R (, X) in memory
          rgb = uint32_t{p[2]} << 16 | uint32_t{p[1]} << 8 | p[0];
          break;
      }
      f.pixels[size_t{y} * f.width + x] = rgb;
    }
  return f;
}

}  // namespace

Frame render_vga(const Vga& v) {
  if (v.dispi(4) & 0x01) return render_vbe(v);
  if ((v.gc(6) & 1) || (v.ac(0x10) & 1)) return render_graphics(v);
  return render_text(v);
}

}  // namespace vx86
