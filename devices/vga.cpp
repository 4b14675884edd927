#include "devices/vga.h"

#include <algorithm>

#include "devices/snapshot.h"

namespace vx86 {

namespace {

// Bochs VBE register indices and ENABLE bits.
enum : unsigned {
  kDispiId = 0, kDispiXres, kDispiYres, kDispiBpp, kDispiEnable, kDispiBank, kDispiVirtWidth,
  kDispiVirtHeight, kDispiXOffset, kDispiYOffset, kDispiVideoMemory64k
};
constexpr uint16_t kDispiEnabled = 0x01, kDispiGetCaps = 0x02, kDispi8BitDac = 0x20, kDispiNoClearMem = 0x80;

// The standard 80x25 colour text mode (mode 3) register set: the adapter powers on programmed
// as a VGA BIOS leaves it, so firmware without a VGA BIOS can still write to B800:0000.
constexpr uint8_t kMode3Seq[5] = {0x03, 0x00, 0x03, 0x00, 0x02};
constexpr uint8_t kMode3Crtc[0x19] = {0x5F, 0x4F, 0x50, 0x82, 0x55, 0x81, 0xBF, 0x1F, 0x00, 0x4F, 0x0D, 0x0E, 0x00,
                                      0x00, 0x00, 0x00, 0x9C, 0x8E, 0x8F, 0x28, 0x1F, 0x96, 0xB9, 0xA3, 0xFF};
constexpr uint8_t kMode3Gc[9] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0E, 0x00, 0xFF};
constexpr uint8_t kMode3Ac[0x15] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3A,
                                    0x3B, 0x3C, 0x3D, 0x3E, 0x3F, 0x0C, 0x00, 0x0F, 0x08, 0x00};

// Code page 437 as Unicode code points (0x00 and 0xFF are shown as blanks).
constexpr char16_t kCp437[256] = {
    0x0020, 0x263A, 0x263B, 0x2665, 0x2666, 0x2663, 0x2660, 0x2022, 0x25D8, 0x25CB, 0x25D9, 0x2642, 0x2640,
    0x266A, 0x266B, 0x263C, 0x25BA, 0x25C4, 0x2195, 0x203C, 0x00B6, 0x00A7, 0x25AC, 0x21A8, 0x2191, 0x2193,
    0x2192, 0x2190, 0x221F, 0x2194, 0x25B2, 0x25BC, 0x0020, 0x0021, 0x0022, 0x0023, 0x0024, 0x0025, 0x0026,
    0x0027, 0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F, 0x0030, 0x0031, 0x0032, 0x0033,
    0x0034, 0x0035, 0x0036, 0x0037, 0x0038, 0x0039, 0x003A, 0x003B, 0x003C, 0x003D, 0x003E, 0x003F, 0x0040,
    0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047, 0x0048, 0x0049, 0x004A, 0x004B, 0x004C, 0x004D,
    0x004E, 0x004F, 0x0050, 0x0051, 0x0052, 0x0053, 0x0054, 0x0055, 0x0056, 0x0057, 0x0058, 0x0059, 0x005A,
    0x005B, 0x005C, 0x005D, 0x005E, 0x005F, 0x0060, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067,
    0x0068, 0x0069, 0x006A, 0x006B, 0x006C, 0x006D, 0x006E, 0x006F, 0x0070, 0x0071, 0x0072, 0x0073, 0x0074,
    0x0075, 0x0076, 0x0077, 0x0078, 0x0079, 0x007A, 0x007B, 0x007C, 0x007D, 0x007E, 0x2302, 0x00C7, 0x00FC,
    0x00E9, 0x00E2, 0x00E4, 0x00E0, 0x00E5, 0x00E7, 0x00EA, 0x00EB, 0x00E8, 0x00EF, 0x00EE, 0x00EC, 0x00C4,
    0x00C5, 0x00C9, 0x00E6, 0x00C6, 0x00F4, 0x00F6, 0x00F2, 0x00FB, 0x00F9, 0x00FF, 0x00D6, 0x00DC, 0x00A2,
    0x00A3, 0x00A5, 0x20A7, 0x0192, 0x00E1, 0x00ED, 0x00F3, 0x00FA, 0x00F1, 0x00D1, 0x00AA, 0x00BA, 0x00BF,
    0x2310, 0x00AC, 0x00BD, 0x00BC, 0x00A1, 0x00AB, 0x00BB, 0x2591, 0x2592, 0x2593, 0x2502, 0x2524, 0x2561,
    0x2562, 0x2556, 0x2555, 0x2563, 0x2551, 0x2557, 0x255D, 0x255C, 0x255B, 0x2510, 0x2514, 0x2534, 0x252C,
    0x251C, 0x2500, 0x253C, 0x255E, 0x255F, 0x255A, 0x2554, 0x2569, 0x2566, 0x2560, 0x2550, 0x256C, 0x2567,
    0x2568, 0x2564, 0x2565, 0x2559, 0x2558, 0x2552, 0x2553, 0x256B, 0x256A, 0x2518, 0x250C, 0x2588, 0x2584,
    0x258C, 0x2590, 0x2580, 0x03B1, 0x00DF, 0x0393, 0x03C0, 0x03A3, 0x03C3, 0x00B5, 0x03C4, 0x03A6, 0x0398,
    0x03A9, 0x03B4, 0x221E, 0x03C6, 0x03B5, 0x2229, 0x2261, 0x00B1, 0x2265, 0x2264, 0x2320, 0x2321, 0x00F7,
    0x2248, 0x00B0, 0x2219, 0x00B7, 0x221A, 0x207F, 0x00B2, 0x25A0, 0x0020};

void append_utf8(std::string& s, char16_t c) {
  if (c < 0x80) {
    s += static_cast<char>(c);
  } else if (c < 0x800) {
    s += static_cast<char>(0xC0 | (c >> 6));
    s += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    s += static_cast<char>(0xE0 | (c >> 12));
    s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (c & 0x3F));
  }
}

uint8_t rotate_right(uint8_t v, unsigned n) {
  n &= 7;
  return n ? static_cast<uint8_t>((v >> n) | (v << (8 - n))) : v;
}

}  // namespace

Vga::Vga(uint32_t lfb_base) : lfb_base_(lfb_base), vram_(kVramSize, 0) { reset(); }

void Vga::attach(PortBus& bus) {
  bus.attach(0x3B0, 0x30, this);
  bus.attach(0x1CE, 2, this);
}

void Vga::reset() {
  misc_ = 0x67;
  feature_ = 0;
  vga_enable_ = 1;
  seq_index_ = crtc_index_ = gc_index_ = ac_index_ = 0;
  seq_.fill(0);
  std::copy(std::begin(kMode3Seq), std::end(kMode3Seq), seq_.begin());
  std::copy(std::begin(kMode3Crtc), std::end(kMode3Crtc), crtc_.begin());
  std::copy(std::begin(kMode3Gc), std::end(kMode3Gc), gc_.begin());
  std::copy(std::begin(kMode3Ac), std::end(kMode3Ac), ac_.begin());
  ac_index_ = 0x20;  // palette address source: the screen is on
  ac_flipflop_ = false;
  st01_ = 0;
  latch_.fill(0);
  pel_mask_ = 0xFF;
  dac_write_index_ = dac_read_index_ = dac_sub_ = 0;
  dac_reading_ = false;
  dac_cache_.fill(0);
  dispi_index_ = 0;
  dispi_.fill(0);
  dispi_[kDispiId] = kDispiIdMax;
  dispi_[kDispiXres] = 640;
  dispi_[kDispiYres] = 480;
  dispi_[kDispiBpp] = 8;
  picture_changed();
  // VRAM and the DAC keep their contents, as the memory of a real card does over a reset.
}

// ---- I/O ports ----

uint32_t Vga::io_read(uint16_t port, unsigned size) {
  if (port == 0x1CE || port == 0x1CF) {
    uint16_t v = port == 0x1CE ? dispi_index_ : dispi_read(dispi_index_);
    return size == 1 ? (v & 0xFFu) : size == 2 ? v : (0xFFFF0000u | v);
  }
  uint32_t v = 0;
  for (unsigned i = 0; i < size; ++i) v |= uint32_t{read_port(static_cast<uint16_t>(port + i))} << (8 * i);
  return v;
}

void Vga::io_write(uint16_t port, uint32_t value, unsigned size) {
  if (port == 0x1CE || port == 0x1CF) {
    const uint16_t v = static_cast<uint16_t>(size == 1 ? value & 0xFF : value & 0xFFFF);
    if (port == 0x1CE) dispi_index_ = v;
    else dispi_write(dispi_index_, v);
    return;
  }
  for (unsigned i = 0; i < size; ++i) write_port(static_cast<uint16_t>(port + i), static_cast<uint8_t>(value >> (8 * i)));
}

uint8_t Vga::read_port(uint16_t port) {
  // The CRTC and input status 1 answer at 0x3Bx or 0x3Dx as misc bit 0 chooses.
  if ((port >= 0x3B0 && port <= 0x3BF && !mono()) || (port >= 0x3D0 && port <= 0x3DF && mono())) return 0xFF;
  switch (port) {
    case 0x3C0: return ac_index_;
    case 0x3C1: return (ac_index_ & 0x1F) < ac_.size() ? ac_[ac_index_ & 0x1F] : 0;
    case 0x3C2: return 0x10;  // input status 0: switch sense high (a colour monitor), no CRT interrupt
    case 0x3C3: return vga_enable_;
    case 0x3C4: return seq_index_;
    case 0x3C5: return seq_index_ < seq_.size() ? seq_[seq_index_] : 0xFF;
    case 0x3C6: return pel_mask_;
    case 0x3C7: return dac_reading_ ? 0x03 : 0x00;
    case 0x3C8: return dac_write_index_;
    case 0x3C9: {
      if (dac_sub_ == 0)
        for (unsigned i = 0; i < 3; ++i) dac_cache_[i] = dac_[dac_read_index_ * 3 + i];
      uint8_t v = dac_cache_[dac_sub_];
      if (++dac_sub_ == 3) {
        dac_sub_ = 0;
        ++dac_read_index_;
      }
      return v;
    }
    case 0x3CA: return feature_;
    case 0x3CC: return misc_;
    case 0x3CE: return gc_index_;
    case 0x3CF: return gc_index_ < gc_.size() ? gc_[gc_index_] : 0xFF;
    case 0x3B4:
    case 0x3D4: return crtc_index_;
    case 0x3B5:
    case 0x3D5: return crtc_index_ < crtc_.size() ? crtc_[crtc_index_] : 0xFF;
    case 0x3BA:
    case 0x3DA:
      // Input status 1: the retrace (bit 3) and display-disabled (bit 0) bits change on every read.
      st01_ ^= 0x09;
      ac_flipflop_ = false;
      return st01_;
    default: return 0xFF;
  }
}

void Vga::write_port(uint16_t port, uint8_t v) {
  if ((port >= 0x3B0 && port <= 0x3BF && !mono()) || (port >= 0x3D0 && port <= 0x3DF && mono())) return;
  switch (port) {
    case 0x3C0:
      if (!ac_flipflop_) {
        ac_index_ = v & 0x3F;
      } else if ((ac_index_ & 0x1F) < ac_.size()) {
        const unsigned i = ac_index_ & 0x1F;
        set_reg(ac_[i], i < 0x10 ? (v & 0x3F) : i == 0x14 ? (v & 0x0F) : v);
      }
      ac_flipflop_ = !ac_flipflop_;
      break;
    case 0x3C2:
      set_reg(misc_, v);
      break;
    case 0x3C3: vga_enable_ = v & 1; break;
    case 0x3C4: seq_index_ = v & 7; break;
    case 0x3C5:
      // The map mask (2) and memory mode (4) steer CPU accesses only; the rest shape the picture.
      if (seq_index_ == 2 || seq_index_ == 4)
        seq_[seq_index_] = v;
      else if (seq_index_ < seq_.size())
        set_reg(seq_[seq_index_], v);
      break;
    case 0x3C6:
      set_reg(pel_mask_, v);
      break;
    case 0x3C7:
      dac_read_index_ = v;
      dac_sub_ = 0;
      dac_reading_ = true;
      break;
    case 0x3C8:
      dac_write_index_ = v;
      dac_sub_ = 0;
      dac_reading_ = false;
      break;
    case 0x3C9:
      dac_cache_[dac_sub_] = (dispi_[kDispiEnable] & kDispi8BitDac) ? v : (v & 0x3F);
      if (++dac_sub_ == 3) {
        for (unsigned i = 0; i < 3; ++i) set_reg(dac_[dac_write_index_ * 3 + i], dac_cache_[i]);
        dac_sub_ = 0;
        ++dac_write_index_;
      }
      break;
    case 0x3CE: gc_index_ = v & 0x0F; break;
    case 0x3CF:
      // Of the graphics controller, only the shift modes (5 bits 5-6) and graphics/text (6 bit 0)
      // reach the picture; drawing code rewrites the others all the time.
      if (gc_index_ < gc_.size()) {
        const uint8_t shown = gc_index_ == 5 ? 0x60 : gc_index_ == 6 ? 0x01 : 0x00;
        if ((gc_[gc_index_] ^ v) & shown) picture_changed();
        gc_[gc_index_] = v;
      }
      break;
    case 0x3B4:
    case 0x3D4: crtc_index_ = v & 0x3F; break;
    case 0x3B5:
    case 0x3D5:
      if (crtc_index_ >= crtc_.size()) break;
      // CRTC 0x11 bit 7 write-protects registers 0-7, except the line compare bit in register 7.
      if ((crtc_[0x11] & 0x80) && crtc_index_ <= 7) {
        if (crtc_index_ == 7) set_reg(crtc_[7], static_cast<uint8_t>((crtc_[7] & ~0x10) | (v & 0x10)));
        break;
      }
      if (crtc_index_ == 0x0E || crtc_index_ == 0x0F)
        crtc_[crtc_index_] = v;  // the cursor location: the display follows it by itself
      else
        set_reg(crtc_[crtc_index_], v);
      break;
    case 0x3BA:
    case 0x3DA: feature_ = v; break;
    default: break;
  }
}

// ---- Bochs VBE ----

uint16_t Vga::dispi_read(unsigned index) const {
  if (index == kDispiVideoMemory64k) return static_cast<uint16_t>(kVramSize >> 16);
  if (index >= dispi_.size()) return 0;
  if (dispi_[kDispiEnable] & kDispiGetCaps) {
    if (index == kDispiXres) return kMaxXres;
    if (index == kDispiYres) return kMaxYres;
    if (index == kDispiBpp) return kMaxBpp;
  }
  return dispi_[index];
}

void Vga::dispi_write(unsigned index, uint16_t v) {
  const bool enabled = dispi_[kDispiEnable] & kDispiEnabled;
  auto line_bytes = [this](uint32_t width) {
    const uint32_t bpp = dispi_[kDispiBpp] == 15 ? 16 : dispi_[kDispiBpp];
    return bpp == 4 ? width / 2 : width * ((bpp + 7) / 8);
  };
  auto update_virt_height = [&] {
    const uint32_t lb = line_bytes(dispi_[kDispiVirtWidth]);
    dispi_[kDispiVirtHeight] = static_cast<uint16_t>(lb ? std::min<uint32_t>(kVramSize / lb, 0xFFFF) : 0);
  };
  picture_changed();
  switch (index) {
    case kDispiId:
      if (v >= 0xB0C0 && v <= kDispiIdMax) dispi_[kDispiId] = v;
      break;
    case kDispiXres:
      if (!enabled && v <= kMaxXres && (v & 7) == 0) dispi_[kDispiXres] = v;
      break;
    case kDispiYres:
      if (!enabled && v <= kMaxYres) dispi_[kDispiYres] = v;
      break;
    case kDispiBpp:
      if (v == 0) v = 8;
      if (!enabled && (v == 4 || v == 8 || v == 15 || v == 16 || v == 24 || v == 32)) dispi_[kDispiBpp] = v;
      break;
    case kDispiBank:
      if (v < (kVramSize >> 16)) dispi_[kDispiBank] = v;
      break;
    case kDispiEnable: {
      const bool on = v & kDispiEnabled;
      if (on && !enabled) {
        dispi_[kDispiVirtWidth] = dispi_[kDispiXres];
        update_virt_height();
        dispi_[kDispiXOffset] = dispi_[kDispiYOffset] = 0;
        dispi_[kDispiBank] = 0;
        if (!(v & kDispiNoClearMem)) {
          const uint64_t bytes = uint64_t{line_bytes(dispi_[kDispiXres])} * dispi_[kDispiYres];
          std::fill_n(vram_.begin(), std::min<uint64_t>(bytes, kVramSize), uint8_t{0});
        }
      }
      dispi_[kDispiEnable] = v & (kDispiEnabled | kDispiGetCaps | kDispi8BitDac | 0x40);
      break;
    }
    case kDispiVirtWidth:
      if (v <= kMaxXres * 4) {
        dispi_[kDispiVirtWidth] = v;
        update_virt_height();
      }
      break;
    case kDispiXOffset:
    case kDispiYOffset: dispi_[index] = v; break;
    default: break;  // VIRT_HEIGHT and VIDEO_MEMORY_64K are read-only
  }
}

// ---- the memory window ----

int64_t Vga::window_offset(uint32_t addr) const {
  const int64_t off = int64_t{addr} - kWindowBase;
  switch ((gc_[6] >> 2) & 3) {
    case 0: return off >= 0 && off < 0x20000 ? off : -1;
    case 1: return off >= 0 && off < 0x10000 ? off : -1;
    case 2: return off >= 0x10000 && off < 0x18000 ? off - 0x10000 : -1;
    default: return off >= 0x18000 && off < 0x20000 ? off - 0x18000 : -1;
  }
}

uint32_t Vga::bank_offset() const {
  return (dispi_[kDispiEnable] & kDispiEnabled) ? uint32_t{dispi_[kDispiBank]} << 16 : 0;
}

uint8_t Vga::mem_read8(uint32_t addr) {
  const int64_t w = window_offset(addr);
  if (w < 0) return 0xFF;
  const uint32_t off = static_cast<uint32_t>(w);
  if (seq_[4] & 0x08) {  // chain-4: the low two address bits pick the plane
    const uint32_t a = bank_offset() + off;
    if (a >= kVramSize) return 0xFF;
    for (unsigned p = 0; p < 4; ++p) latch_[p] = vram_[(a & ~3u) + p];
    return vram_[a];
  }
  uint32_t po;
  unsigned plane;
  if (gc_[5] & 0x10) {  // host odd/even: A0 picks plane 0/1 (2/3 with read map select bit 1)
    plane = (gc_[4] & 2) | (off & 1);
    po = off & ~1u;
  } else {
    plane = gc_[4] & 3;
    po = off;
  }
  po &= 0xFFFF;
  for (unsigned p = 0; p < 4; ++p) latch_[p] = vram_[po * 4 + p];
  if (!(gc_[5] & 0x08)) return latch_[plane];
  // Read mode 1: colour compare over the planes selected by colour don't care.
  uint8_t match = 0xFF;
  for (unsigned p = 0; p < 4; ++p) {
    if (!(gc_[7] & (1u << p))) continue;
    const uint8_t want = (gc_[2] & (1u << p)) ? 0xFF : 0x00;
    match &= static_cast<uint8_t>(~(latch_[p] ^ want));
  }
  return match;
}

void Vga::mem_write8(uint32_t addr, uint8_t v) {
  const int64_t w = window_offset(addr);
  if (w < 0) return;
  const uint32_t off = static_cast<uint32_t>(w);
  const uint8_t map_mask = seq_[2] & 0x0F;
  if (seq_[4] & 0x08) {  // chain-4
    const uint32_t a = bank_offset() + off;
    if (a < kVramSize && (map_mask & (1u << (a & 3)))) {
      vram_[a] = v;
      mark_dirty(a);
      if ((a & 3) == 2 && a < 0x40000) font_written();
    }
    return;
  }
  if (!(seq_[4] & 0x04)) {  // odd/even: A0 picks planes 0/2 or 1/3, the offset drops A0
    const uint8_t mask = map_mask & ((off & 1) ? 0x0A : 0x05);
    const uint32_t po = (off & ~1u) & 0xFFFF;
    for (unsigned p = 0; p < 4; ++p)
      if (mask & (1u << p)) vram_[po * 4 + p] = v;
    if (mask) mark_dirty(po * 4);
    if (mask & 4) font_written();
    return;
  }
  // Planar: write modes 0-3 with set/reset, rotate, logical function and bit mask.
  const uint32_t po = off & 0xFFFF;
  const unsigned mode = gc_[5] & 3;
  const uint8_t rotated = rotate_right(v, gc_[3] & 7);
  uint8_t bit_mask = gc_[8];
  std::array<uint8_t, 4> d{};
  for (unsigned p = 0; p < 4; ++p) {
    const uint8_t sr = (gc_[0] & (1u << p)) ? 0xFF : 0x00;
    switch (mode) {
      case 0: d[p] = (gc_[1] & (1u << p)) ? sr : rotated; break;
      case 1: d[p] = latch_[p]; break;
      case 2: d[p] = (v & (1u << p)) ? 0xFF : 0x00; break;
      default: d[p] = sr; break;
    }
  }
  if (mode == 3) bit_mask &= rotated;
  if (mode != 1) {
    for (unsigned p = 0; p < 4; ++p) {
      switch ((gc_[3] >> 3) & 3) {
        case 1: d[p] &= latch_[p]; break;
        case 2: d[p] |= latch_[p]; break;
        case 3: d[p] ^= latch_[p]; break;
        default: break;
      }
      d[p] = static_cast<uint8_t>((d[p] & bit_mask) | (latch_[p] & ~bit_mask));
    }
  }
  for (unsigned p = 0; p < 4; ++p)
    if (map_mask & (1u << p)) vram_[po * 4 + p] = d[p];
  if (map_mask) mark_dirty(po * 4);
  if (map_mask & 4) font_written();
}

uint32_t Vga::mmio_read(uint32_t addr, unsigned size) {
  uint32_t v = 0;
  for (unsigned i = 0; i < size; ++i) v |= uint32_t{mem_read8(addr + i)} << (8 * i);
  return v;
}

void Vga::mmio_write(uint32_t addr, uint32_t value, unsigned size) {
  for (unsigned i = 0; i < size; ++i) mem_write8(addr + i, static_cast<uint8_t>(value >> (8 * i)));
}

uint32_t Vga::Lfb::mmio_read(uint32_t addr, unsigned size) {
  uint32_t v = 0;
  for (unsigned i = 0; i < size; ++i) {
    const uint32_t o = addr + i - v_.lfb_base_;
    v |= uint32_t{o < kVramSize ? v_.vram_[o] : uint8_t{0xFF}} << (8 * i);
  }
  return v;
}

void Vga::Lfb::mmio_write(uint32_t addr, uint32_t value, unsigned size) {
  for (unsigned i = 0; i < size; ++i) {
    const uint32_t o = addr + i - v_.lfb_base_;
    if (o < kVramSize) {
      v_.vram_[o] = static_cast<uint8_t>(value >> (8 * i));
      v_.mark_dirty(o);
      if ((o & 3) == 2 && o < 0x40000) v_.font_written();
    }
  }
}

void Vga::take_dirty(DirtyBits& out) {
  for (unsigned i = 0; i < kDirtyWords; ++i)
    if (dirty_[i].load(std::memory_order_relaxed)) out[i] |= dirty_[i].exchange(0, std::memory_order_relaxed);
}

// ---- the text screen ----

bool Vga::graphics_mode() const { return (gc_[6] & 1) || (ac_[0x10] & 1) || (dispi_[kDispiEnable] & kDispiEnabled); }

unsigned Vga::text_cols() const { return crtc_[1] ? crtc_[1] + 1u : 80u; }

unsigned Vga::text_rows() const {
  const unsigned lines = (crtc_[0x12] | ((crtc_[7] & 0x02u) << 7) | ((crtc_[7] & 0x40u) << 3)) + 1u;
  unsigned char_h = (crtc_[9] & 0x1Fu) + 1u;
  if (crtc_[9] & 0x80) char_h *= 2;  // double scanning
  const unsigned rows = lines / char_h;
  return rows == 0 ? 25u : std::min(rows, 128u);
}

std::string Vga::text_screen() const {
  if (graphics_mode()) return "";
  const unsigned cols = text_cols(), rows = text_rows();
  const uint32_t start = uint32_t{crtc_[0x0C]} << 8 | crtc_[0x0D];
  const uint32_t stride = crtc_[0x13] ? crtc_[0x13] * 2u : cols;
  const unsigned shift = (crtc_[0x14] & 0x40) ? 2 : (crtc_[0x17] & 0x40) ? 0 : 1;
  std::string out;
  for (unsigned r = 0; r < rows; ++r) {
    std::string line;
    for (unsigned c = 0; c < cols; ++c) {
      const uint32_t po = ((start + r * stride + c) << shift) & 0xFFFF;
      append_utf8(line, kCp437[vram_[po * 4]]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  }
  return out;
}

Vga::Cursor Vga::text_cursor() const {
  Cursor cur;
  const uint32_t start = uint32_t{crtc_[0x0C]} << 8 | crtc_[0x0D];
  const uint32_t loc = uint32_t{crtc_[0x0E]} << 8 | crtc_[0x0F];
  const uint32_t stride = crtc_[0x13] ? crtc_[0x13] * 2u : text_cols();
  const uint32_t pos = (loc - start) & 0xFFFF;
  cur.row = pos / stride;
  cur.col = pos % stride;
  cur.visible = !graphics_mode() && !(crtc_[0x0A] & 0x20) && cur.row < text_rows() && cur.col < text_cols();
  return cur;
}

// ---- snapshots ----

void Vga::save(SnapshotWriter& w) const {
  w.begin_section("VGA ", 1);
  w.u8(misc_);
  w.u8(feature_);
  w.u8(vga_enable_);
  w.u8(seq_index_);
  w.bytes(seq_.data(), seq_.size());
  w.u8(crtc_index_);
  w.bytes(crtc_.data(), crtc_.size());
  w.u8(gc_index_);
  w.bytes(gc_.data(), gc_.size());
  w.u8(ac_index_);
  w.boolean(ac_flipflop_);
  w.bytes(ac_.data(), ac_.size());
  w.u8(st01_);
  w.bytes(latch_.data(), latch_.size());
  w.u8(pel_mask_);
  w.u8(dac_write_index_);
  w.u8(dac_read_index_);
  w.u8(dac_sub_);
  w.boolean(dac_reading_);
  w.bytes(dac_cache_.data(), dac_cache_.size());
  w.bytes(dac_.data(), dac_.size());
  w.u16(dispi_index_);
  for (uint16_t v : dispi_) w.u16(v);
  // VRAM without its trailing zeros (most of the 16 MiB in text mode).
  size_t used = vram_.size();
  while (used > 0 && vram_[used - 1] == 0) --used;
  w.u32(static_cast<uint32_t>(used));
  w.bytes(vram_.data(), used);
  w.end_section();
}

void Vga::load(SnapshotReader& r) {
  r.begin_section("VGA ", 1);
  Vga t(lfb_base_);  // parse into a temporary, commit only a fully valid section
  std::vector<uint8_t>().swap(t.vram_);
  t.misc_ = r.u8();
  t.feature_ = r.u8();
  t.vga_enable_ = r.u8_max(1, "VGA enable out of range");
  t.seq_index_ = r.u8_max(7, "VGA sequencer index out of range");
  r.bytes(t.seq_.data(), t.seq_.size());
  t.crtc_index_ = r.u8_max(0x3F, "VGA CRTC index out of range");
  r.bytes(t.crtc_.data(), t.crtc_.size());
  t.gc_index_ = r.u8_max(0x0F, "VGA graphics controller index out of range");
  r.bytes(t.gc_.data(), t.gc_.size());
  t.ac_index_ = r.u8_max(0x3F, "VGA attribute index out of range");
  t.ac_flipflop_ = r.boolean();
  r.bytes(t.ac_.data(), t.ac_.size());
  t.st01_ = r.u8();
  r.check((t.st01_ & ~0x09) == 0, "VGA input status bits malformed");
  r.bytes(t.latch_.data(), t.latch_.size());
  t.pel_mask_ = r.u8();
  t.dac_write_index_ = r.u8();
  t.dac_read_index_ = r.u8();
  t.dac_sub_ = r.u8_max(2, "VGA DAC component index out of range");
  t.dac_reading_ = r.boolean();
  r.bytes(t.dac_cache_.data(), t.dac_cache_.size());
  r.bytes(t.dac_.data(), t.dac_.size());
  t.dispi_index_ = r.u16();
  for (uint16_t& v : t.dispi_) v = r.u16();
  r.check(t.dispi_[kDispiBank] < (kVramSize >> 16), "VGA VBE bank out of range");
  r.check(t.dispi_[kDispiXres] <= kMaxXres && t.dispi_[kDispiYres] <= kMaxYres && t.dispi_[kDispiBpp] <= kMaxBpp,
          "VGA VBE mode out of range");
  const uint32_t used = r.u32_max(kVramSize, "VGA VRAM image larger than the VRAM");
  std::vector<uint8_t> vram(kVramSize, 0);
  r.bytes(vram.data(), used);
  r.end_section();
  t.vram_ = std::move(vram);
  // Commit (the LFB handler keeps pointing at this object).
  misc_ = t.misc_, feature_ = t.feature_, vga_enable_ = t.vga_enable_;
  seq_index_ = t.seq_index_, crtc_index_ = t.crtc_index_, gc_index_ = t.gc_index_, ac_index_ = t.ac_index_;
  seq_ = t.seq_, crtc_ = t.crtc_, gc_ = t.gc_, ac_ = t.ac_;
  ac_flipflop_ = t.ac_flipflop_, st01_ = t.st01_, latch_ = t.latch_;
  pel_mask_ = t.pel_mask_, dac_write_index_ = t.dac_write_index_, dac_read_index_ = t.dac_read_index_;
  dac_sub_ = t.dac_sub_, dac_reading_ = t.dac_reading_, dac_cache_ = t.dac_cache_, dac_ = t.dac_;
  dispi_index_ = t.dispi_index_, dispi_ = t.dispi_;
  vram_ = std::move(t.vram_);
  picture_changed();  // everything may differ: the display redraws it all
}

}  // namespace vx86
