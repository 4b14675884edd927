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

bool vbe_on(const Vga& v) { return v.dispi(4) & 0x01; }
bool graphics(const Vga& v) { return (v.gc(6) & 1) || (v.ac(0x10) & 1); }

// The VRAM bytes of plane offsets [lo, hi) (all four planes); a range that wraps at 64 KiB
// counts as all of them.
void plane_range(VgaLayout::Band& b, uint32_t lo, uint32_t hi) {
  if (hi <= lo || hi > 0x10000) {
    b.vram_lo = 0;
    b.vram_hi = 0x40000;
    return;
  }
  b.vram_lo = lo * 4;
  b.vram_hi = hi * 4;
}

// ---- text ----

struct TextGeometry {
  unsigned cols, rows, char_h, char_w, shift;
  unsigned dot_w;  // output pixels per dot: 2 with the halved dot clock (40-column modes)
  uint32_t start, stride;
};

TextGeometry text_geometry(const Vga& v) {
  TextGeometry g;
  g.cols = v.text_cols();
  g.rows = v.text_rows();
  g.char_h = (v.crtc(9) & 0x1Fu) + 1u;
  g.char_w = (v.seq(1) & 1) ? 8u : 9u;
  g.dot_w = (v.seq(1) & 0x08) ? 2u : 1u;
  g.shift = (v.crtc(0x14) & 0x40) ? 2 : (v.crtc(0x17) & 0x40) ? 0 : 1;
  g.start = start_address(v);
  g.stride = row_stride(v, g.cols);
  return g;
}

void layout_text(const Vga& v, VgaLayout& l) {
  const TextGeometry g = text_geometry(v);
  l.kind = VgaLayout::Kind::Text;
  l.width = g.cols * g.char_w * g.dot_w;
  l.height = g.rows * g.char_h;
  for (unsigned r = 0; r < g.rows; ++r) {
    VgaLayout::Band b;
    b.y0 = r * g.char_h;
    b.y1 = b.y0 + g.char_h;
    b.address = g.start + r * g.stride;
    plane_range(b, b.address << g.shift, (b.address + g.cols) << g.shift);
    l.bands.push_back(b);
  }
  const Vga::Cursor cur = v.text_cursor();
  l.cursor_band = cur.visible ? cur.row : g.rows;
  l.cursor_col = cur.col;
}

void render_text_band(const Vga& v, VgaLayout::Band& band, unsigned r, const VgaLayout& l, Frame& f,
                      BlinkState blink) {
  const TextGeometry g = text_geometry(v);
  // Character maps A and B (sequencer register 3): 8 KiB blocks at 0, 16, 32, 48, 8, 24, 40, 56 KiB.
  const uint8_t sel = v.seq(3);
  const unsigned map_a = ((sel >> 5) & 1u) << 2 | ((sel >> 2) & 3u),
                 map_b = ((sel >> 4) & 1u) << 2 | (sel & 3u);
  auto map_base = [](unsigned m) { return (((m & 3u) * 2u) + (m >> 2)) * 8192u; };
  const uint8_t mode = v.ac(0x10);
  const bool blink_enabled = mode & 0x08, line_graphics = mode & 0x04;
  const unsigned cur_top = v.crtc(0x0A) & 0x1F, cur_bottom = v.crtc(0x0B) & 0x1F;
  band.blinks = false;
  for (unsigned c = 0; c < g.cols; ++c) {
    const uint32_t po = (band.address + c) << g.shift;
    const uint8_t ch = plane(v, 0, po), at = plane(v, 1, po);
    const bool blinking = blink_enabled && (at & 0x80);
    band.blinks |= blinking;
    const uint32_t bg = dac_rgb(v, ac_to_dac(v, blink_enabled ? (at >> 4) & 7 : at >> 4), false);
    const uint32_t fg = (blinking && !blink.chars_on) ? bg : dac_rgb(v, ac_to_dac(v, at & 0x0F), false);
    const uint32_t glyph = map_base((at & 0x08) ? map_a : map_b) + ch * 32u;
    const bool cursor_here = blink.cursor_on && l.cursor_band == r && l.cursor_col == c;
    for (unsigned y = 0; y < g.char_h; ++y) {
      const uint8_t bits = plane(v, 2, glyph + y);
      uint32_t* out = &f.pixels[size_t{band.y0 + y} * f.width + c * g.char_w * g.dot_w];
      const bool ninth = g.char_w == 9 && line_graphics && ch >= 0xC0 && ch <= 0xDF && (bits & 1);
      const bool bar = cursor_here && y >= cur_top && y <= cur_bottom;
      for (unsigned x = 0; x < g.char_w; ++x) {
        const bool on = bar || (x < 8 ? (bits & (0x80u >> x)) != 0 : ninth);
        for (unsigned d = 0; d < g.dot_w; ++d) out[x * g.dot_w + d] = on ? fg : bg;
      }
    }
  }
}

// ---- graphics, as the CRT controller scans it out ----

// The plane offset the CRTC puts out for character clock address `ma` on a line with row scan
// counter `row_scan`: byte, word (with the address wrap bit in A0) or doubleword addressing
// (vx86 keeps chain-4 bytes at their CPU addresses: no shift), then the CGA (A13) and Hercules
// (A14) bank substitutions.
uint32_t crtc_offset(const Vga& v, uint32_t ma, unsigned row_scan) {
  uint32_t o;
  if (v.crtc(0x14) & 0x40)
    o = ma;
  else if (v.crtc(0x17) & 0x40)
    o = ma;
  else
    o = (ma << 1) | ((ma >> ((v.crtc(0x17) & 0x20) ? 15 : 13)) & 1);
  if (!(v.crtc(0x17) & 0x01)) o = (o & ~0x2000u) | ((row_scan & 1u) << 13);
  if (!(v.crtc(0x17) & 0x02)) o = (o & ~0x4000u) | (((row_scan >> 1) & 1u) << 14);
  return o & 0xFFFF;
}

void layout_graphics(const Vga& v, VgaLayout& l) {
  const bool c256 = v.ac(0x10) & 0x40;
  l.kind = c256               ? VgaLayout::Kind::Colour256
           : (v.gc(5) & 0x60) ? VgaLayout::Kind::Cga4
                              : VgaLayout::Kind::Planar;
  if (v.gc(5) & 0x40) l.kind = VgaLayout::Kind::Colour256;
  const unsigned chars = v.crtc(1) + 1u;
  const unsigned px_per_char = l.kind == VgaLayout::Kind::Colour256 ? 4 : 8;
  l.width = chars * px_per_char;
  const unsigned msl = v.crtc(9) & 0x1F;
  const bool dbl = v.crtc(9) & 0x80;
  const bool banked = !(v.crtc(0x17) & 0x01) || !(v.crtc(0x17) & 0x02);
  const unsigned dup = (dbl ? 2u : 1u) * (banked ? 1u : msl + 1u);
  const unsigned lines = display_lines(v);
  l.height = std::max(1u, lines / dup);
  const uint32_t stride = row_stride(v, chars);
  const unsigned line_compare = v.crtc(0x18) | ((v.crtc(7) & 0x10u) << 4) | ((v.crtc(9) & 0x40u) << 3);
  // Horizontal pixel panning: 0-7 pixels, in 256-colour mode in steps of two dots.
  const unsigned pan_reg = v.ac(0x13) & 0x0F;
  uint8_t pan = l.kind == VgaLayout::Kind::Colour256 ? (pan_reg >> 1) & 3 : pan_reg < 8 ? pan_reg : 0;
  uint32_t row_addr = start_address(v) + ((v.crtc(8) >> 5) & 3);  // + byte panning
  unsigned row_scan = v.crtc(8) & 0x1F;                           // preset row scan
  bool second = false;                                            // double scanning's repeat
  for (unsigned line = 0; line < lines; ++line) {
    if (line % dup == 0 && line / dup < l.height) {
      VgaLayout::Band b;
      b.y0 = line / dup;
      b.y1 = b.y0 + 1;
      b.address = row_addr;
      b.row_scan = static_cast<uint8_t>(row_scan);
      b.pan = pan;
      // The row reads chars + 1 clocks (panning's extra one), two bytes each with word addressing;
      // a row that crosses a bank boundary counts as reading everything.
      const uint32_t lo = crtc_offset(v, row_addr, row_scan);
      const bool word = !(v.crtc(0x14) & 0x40) && !(v.crtc(0x17) & 0x40);
      const uint32_t hi = lo + (word ? 2 : 1) * (chars + 1);
      plane_range(b, lo, ((lo ^ hi) & 0x6000) ? 0 : hi);
      l.bands.push_back(b);
    }
    if (dbl) second = !second;
    if (!dbl || !second) {
      if (row_scan >= msl) {
        row_scan = 0;
        row_addr += stride;
      } else {
        ++row_scan;
      }
    }
    if (line == line_compare) {  // the split screen: the lines below show VRAM from address 0
      row_addr = 0;
      row_scan = 0;
      second = false;
      if (v.ac(0x10) & 0x20) pan = 0;
    }
  }
}

void render_graphics_band(const Vga& v, const VgaLayout& l, const VgaLayout::Band& b, Frame& f) {
  uint32_t* out = &f.pixels[size_t{b.y0} * f.width];
  const uint8_t plane_enable = v.ac(0x12) & 0x0F;
  uint32_t cached_ma = ~0u;
  uint8_t p[4] = {};
  auto fetch = [&](uint32_t ma) {
    if (ma == cached_ma) return;
    cached_ma = ma;
    const uint32_t o = crtc_offset(v, ma, b.row_scan);
    for (unsigned i = 0; i < 4; ++i) p[i] = plane(v, i, o);
  };
  for (unsigned x = 0; x < l.width; ++x) {
    const unsigned px = x + b.pan;
    switch (l.kind) {
      case VgaLayout::Kind::Colour256:
        fetch(b.address + px / 4);
        out[x] = dac_rgb(v, p[px & 3], false);
        break;
      case VgaLayout::Kind::Cga4: {
        // Interleaved shift: pixels 0-3 from planes 0 (low bit pair) and 2 (high pair), 4-7 from
        // planes 1 and 3, two bits each, most significant first.
        fetch(b.address + px / 8);
        const unsigned i = px & 7, sh = 6 - 2 * (i & 3);
        const unsigned lo = (p[i < 4 ? 0 : 1] >> sh) & 3, hi = (p[i < 4 ? 2 : 3] >> sh) & 3;
        out[x] = dac_rgb(v, ac_to_dac(v, (lo | hi << 2) & plane_enable), false);
        break;
      }
      default: {
        fetch(b.address + px / 8);
        const unsigned bit = 7 - (px & 7);
        unsigned colour = 0;
        for (unsigned i = 0; i < 4; ++i) colour |= ((p[i] >> bit) & 1u) << i;
        out[x] = dac_rgb(v, ac_to_dac(v, colour & plane_enable), false);
        break;
      }
    }
  }
}

// ---- the Bochs VBE framebuffer ----

struct VbeGeometry {
  unsigned bpp, bytes;
  uint64_t line, start;
};

VbeGeometry vbe_geometry(const Vga& v, unsigned width) {
  VbeGeometry g;
  g.bpp = v.dispi(3);
  g.bytes = (g.bpp + 7) / 8;
  const uint64_t virt_w = std::max<unsigned>(v.dispi(6), width);
  g.line = virt_w * g.bytes;
  g.start = uint64_t{v.dispi(9)} * g.line + uint64_t{v.dispi(8)} * g.bytes;
  return g;
}

void layout_vbe(const Vga& v, VgaLayout& l) {
  l.kind = VgaLayout::Kind::Vbe;
  l.width = std::min<unsigned>(v.dispi(1), Vga::kMaxXres);
  l.height = std::min<unsigned>(v.dispi(2), Vga::kMaxYres);
  const VbeGeometry g = vbe_geometry(v, l.width);
  for (unsigned y = 0; y < l.height; ++y) {
    VgaLayout::Band b;
    b.y0 = y;
    b.y1 = y + 1;
    const uint64_t lo = g.start + y * g.line, hi = lo + uint64_t{l.width} * g.bytes;
    b.vram_lo = static_cast<uint32_t>(std::min<uint64_t>(lo, Vga::kVramSize));
    b.vram_hi = static_cast<uint32_t>(std::min<uint64_t>(hi, Vga::kVramSize));
    l.bands.push_back(b);
  }
}

void render_vbe_band(const Vga& v, const VgaLayout& l, const VgaLayout::Band& b, Frame& f) {
  const VbeGeometry g = vbe_geometry(v, l.width);
  uint32_t* out = &f.pixels[size_t{b.y0} * f.width];
  std::fill_n(out, l.width, 0u);
  if (g.bytes == 0 || g.bytes > 4) return;
  const bool dac8 = v.dispi(4) & 0x20;
  const std::vector<uint8_t>& vram = v.vram();
  const uint64_t row = g.start + b.y0 * g.line;
  for (unsigned x = 0; x < l.width; ++x) {
    const uint64_t a = row + uint64_t{x} * g.bytes;
    if (a + g.bytes > vram.size()) break;  // beyond VRAM: black
    const uint8_t* p = &vram[a];
    switch (g.bpp) {
      case 8:
        out[x] = dac_rgb(v, p[0], dac8);
        break;
      case 15:
      case 16: {
        const unsigned w = p[0] | p[1] << 8;
        const unsigned gbits = g.bpp == 16 ? 6 : 5;
        const unsigned r = (w >> (5 + gbits)) & 0x1F, gr = (w >> 5) & ((1u << gbits) - 1), bl = w & 0x1F;
        const unsigned g8 = gbits == 6 ? (gr << 2 | gr >> 4) : (gr << 3 | gr >> 2);
        out[x] = (r << 3 | r >> 2) << 16 | g8 << 8 | (bl << 3 | bl >> 2);
        break;
      }
      default:  // 24 and 32: B, G, R (, X) in memory
        out[x] = uint32_t{p[2]} << 16 | uint32_t{p[1]} << 8 | p[0];
        break;
    }
  }
}

}  // namespace

VgaLayout layout_vga(const Vga& v) {
  VgaLayout l;
  if (vbe_on(v))
    layout_vbe(v, l);
  else if (graphics(v))
    layout_graphics(v, l);
  else
    layout_text(v, l);
  if (l.kind != VgaLayout::Kind::Text) l.cursor_band = static_cast<unsigned>(l.bands.size());
  return l;
}

void render_band(const Vga& v, VgaLayout& l, unsigned b, Frame& f, BlinkState blink) {
  VgaLayout::Band& band = l.bands[b];
  switch (l.kind) {
    case VgaLayout::Kind::Text:
      render_text_band(v, band, b, l, f, blink);
      break;
    case VgaLayout::Kind::Vbe:
      render_vbe_band(v, l, band, f);
      break;
    default:
      render_graphics_band(v, l, band, f);
      break;
  }
}

Frame render_vga(const Vga& v, BlinkState blink) {
  VgaLayout l = layout_vga(v);
  Frame f;
  f.width = l.width;
  f.height = l.height;
  f.pixels.assign(size_t{f.width} * f.height, 0);
  for (unsigned b = 0; b < l.bands.size(); ++b) render_band(v, l, b, f, blink);
  return f;
}

}  // namespace vx86
