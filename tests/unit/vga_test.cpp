#include "devices/vga.h"

#include <gtest/gtest.h>

#include "devices/port_bus.h"
#include "devices/snapshot.h"
#include "emu/board/machine.h"
#include "mmu/physical_memory.h"

using namespace vx86;

namespace {

struct VgaBoard {
  PortBus ports;
  PhysicalMemory mem{1u << 20};
  Vga vga;
  VgaBoard() {
    vga.attach(ports);
    mem.map_mmio(Vga::kWindowBase, Vga::kWindowSize, &vga);
  }
  void seq(uint8_t i, uint8_t v) { ports.write(0x3C4, uint32_t{v} << 8 | i, 2); }
  void gc(uint8_t i, uint8_t v) { ports.write(0x3CE, uint32_t{v} << 8 | i, 2); }
  void crtc(uint8_t i, uint8_t v) {
    ports.write(0x3D4, i, 1);
    ports.write(0x3D5, v, 1);
  }
  void ac(uint8_t i, uint8_t v) {
    ports.read(0x3DA, 1);  // flip-flop to index
    ports.write(0x3C0, i, 1);
    ports.write(0x3C0, v, 1);
    ports.write(0x3C0, 0x20, 1);  // screen back on
  }
  // Mode 3 as a VGA BIOS programs it (registers from the standard tables).
  void program_mode3() {
    static const uint8_t crtc_regs[25] = {0x5F, 0x4F, 0x50, 0x82, 0x55, 0x81, 0xBF, 0x1F, 0x00, 0x4F, 0x0D, 0x0E, 0x00,
                                          0x00, 0x00, 0x00, 0x9C, 0x8E, 0x8F, 0x28, 0x1F, 0x96, 0xB9, 0xA3, 0xFF};
    ports.write(0x3C2, 0x67, 1);
    seq(0, 0x01);
    seq(1, 0x00);
    seq(2, 0x03);
    seq(3, 0x00);
    seq(4, 0x02);
    seq(0, 0x03);
    crtc(0x11, 0x0E);  // unprotect 0-7
    for (uint8_t i = 0; i < 25; ++i) crtc(i, crtc_regs[i]);
    const uint8_t gcr[9] = {0, 0, 0, 0, 0, 0x10, 0x0E, 0, 0xFF};
    for (uint8_t i = 0; i < 9; ++i) gc(i, gcr[i]);
    ac(0x10, 0x0C);
  }
  void put_text(unsigned row, unsigned col, const char* s, uint8_t attr = 0x07) {
    uint32_t a = 0xB8000 + (row * 80 + col) * 2;
    for (; *s; ++s, a += 2) mem.write(a, uint32_t{attr} << 8 | static_cast<uint8_t>(*s), 2);
  }
};

std::string line(const std::string& screen, unsigned n) {
  size_t pos = 0;
  for (unsigned i = 0; i < n; ++i) pos = screen.find('\n', pos) + 1;
  return screen.substr(pos, screen.find('\n', pos) - pos);
}

}  // namespace

TEST(Vga, TextModeThroughPortsAndWindow) {
  VgaBoard b;
  // Scramble first, as a reset may leave anything, then program mode 3 the BIOS way.
  b.seq(4, 0x06);
  b.gc(6, 0x05);
  b.program_mode3();
  b.put_text(0, 0, "Hello, VGA");
  b.put_text(24, 70, "bottom");
  EXPECT_EQ(b.vga.plane_byte(0, 0), 'H');
  EXPECT_EQ(b.vga.plane_byte(1, 0), 0x07);  // attribute in plane 1 at the even offset
  EXPECT_EQ(b.mem.read(0xB8002, 2), 0x0765u);
  const std::string s = b.vga.text_screen();
  EXPECT_EQ(line(s, 0), "Hello, VGA");
  EXPECT_EQ(line(s, 24), std::string(70, ' ') + "bottom");
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 25);
  EXPECT_EQ(b.vga.text_cols(), 80u);
  EXPECT_EQ(b.vga.text_rows(), 25u);
  // CP437 beyond ASCII comes out as UTF-8.
  b.mem.write8(0xB8000 + 160, 0xC9);  // box corner
  EXPECT_EQ(line(b.vga.text_screen(), 1), "\u2554");
  // Start address scrolls by one row; the cursor is read from the CRTC.
  b.crtc(0x0C, 0);
  b.crtc(0x0D, 80);
  EXPECT_EQ(line(b.vga.text_screen(), 0), "\u2554");
  b.crtc(0x0E, 0);
  b.crtc(0x0F, 80 + 2 * 80 + 5);
  Vga::Cursor c = b.vga.text_cursor();
  EXPECT_EQ(c.row, 2u);
  EXPECT_EQ(c.col, 5u);
  EXPECT_TRUE(c.visible);
  b.crtc(0x0A, 0x20);  // cursor off
  EXPECT_FALSE(b.vga.text_cursor().visible);
  // Graphics mode: no text.
  b.gc(6, 0x05);
  EXPECT_EQ(b.vga.text_screen(), "");
}

TEST(Vga, MonoAddressingMovesTheCrtc) {
  VgaBoard b;
  b.ports.write(0x3C2, 0x66, 1);  // misc bit 0 clear: CRTC at 0x3B4
  b.ports.write(0x3B4, 0x0E, 1);
  b.ports.write(0x3B5, 0x12, 1);
  EXPECT_EQ(b.ports.read(0x3B5, 1), 0x12u);
  EXPECT_EQ(b.ports.read(0x3D5, 1), 0xFFu);
  EXPECT_EQ(b.ports.read(0x3CC, 1), 0x66u);
}

TEST(Vga, FontPlaneLoadedWithSequentialAddressing) {
  VgaBoard b;
  b.program_mode3();
  // What a BIOS does to load the font: plane 2 only, sequential, window at A0000.
  b.seq(2, 0x04);
  b.seq(4, 0x06);
  b.gc(4, 0x02);
  b.gc(5, 0x00);
  b.gc(6, 0x04);
  for (unsigned i = 0; i < 16; ++i) b.mem.write8(0xA0000 + 'A' * 32 + i, static_cast<uint8_t>(0x10 + i));
  EXPECT_EQ(b.vga.plane_byte(2, 'A' * 32 + 3), 0x13);
  EXPECT_EQ(b.vga.plane_byte(0, 'A' * 32 + 3), 0x00);
  EXPECT_EQ(b.mem.read8(0xA0000 + 'A' * 32 + 5), 0x15);  // read map select 2
  EXPECT_EQ(b.mem.read8(0xB8000), 0xFFu);                  // outside the 64 KiB window
}

TEST(Vga, PlanarWriteModesAndLatches) {
  VgaBoard b;
  b.seq(4, 0x06);  // planar, no chain-4
  b.gc(5, 0x00);
  b.gc(6, 0x05);   // graphics, A0000 64 KiB
  b.seq(2, 0x0F);
  b.gc(8, 0xFF);
  // Write mode 0 with set/reset on planes 0 and 2: those get 0xFF, the others the data.
  b.gc(0, 0x05);
  b.gc(1, 0x05);
  b.mem.write8(0xA0010, 0x3C);
  EXPECT_EQ(b.vga.plane_byte(0, 0x10), 0xFF);
  EXPECT_EQ(b.vga.plane_byte(1, 0x10), 0x3C);
  EXPECT_EQ(b.vga.plane_byte(2, 0x10), 0xFF);
  EXPECT_EQ(b.vga.plane_byte(3, 0x10), 0x3C);
  b.gc(1, 0x00);
  // Rotate by 4 and the bit mask keeps the latched bits outside the mask.
  b.mem.read8(0xA0010);  // latches = FF 3C FF 3C
  b.gc(3, 0x04);
  b.gc(8, 0x0F);
  b.mem.write8(0xA0010, 0xA5);  // rotated: 0x5A; low nibble A from data, high from latches
  EXPECT_EQ(b.vga.plane_byte(0, 0x10), 0xFA);
  EXPECT_EQ(b.vga.plane_byte(1, 0x10), 0x3A);
  // Logical function XOR with the latches.
  b.gc(3, 0x18);
  b.gc(8, 0xFF);
  b.mem.read8(0xA0010);  // latches = FA 3A FA 3A
  b.mem.write8(0xA0010, 0x0F);
  EXPECT_EQ(b.vga.plane_byte(0, 0x10), 0xF5);
  EXPECT_EQ(b.vga.plane_byte(1, 0x10), 0x35);
  b.gc(3, 0x00);
  // Write mode 1 copies the latches (a screen-to-screen copy).
  b.mem.read8(0xA0010);
  b.gc(5, 0x01);
  b.mem.write8(0xA0020, 0x00);
  for (unsigned p = 0; p < 4; ++p) EXPECT_EQ(b.vga.plane_byte(p, 0x20), b.vga.plane_byte(p, 0x10));
  // Write mode 2: the data's low 4 bits are the colour, through the bit mask.
  b.gc(5, 0x02);
  b.gc(8, 0x81);
  b.mem.read8(0xA0030);  // latches 0
  b.mem.write8(0xA0030, 0x06);  // colour 6: planes 1 and 2
  EXPECT_EQ(b.vga.plane_byte(0, 0x30), 0x00);
  EXPECT_EQ(b.vga.plane_byte(1, 0x30), 0x81);
  EXPECT_EQ(b.vga.plane_byte(2, 0x30), 0x81);
  // Write mode 3: set/reset colour, the rotated data ANDed into the bit mask.
  b.gc(5, 0x03);
  b.gc(0, 0x08);
  b.gc(8, 0xFF);
  b.mem.read8(0xA0040);
  b.mem.write8(0xA0040, 0xF0);
  EXPECT_EQ(b.vga.plane_byte(3, 0x40), 0xF0);
  EXPECT_EQ(b.vga.plane_byte(0, 0x40), 0x00);
  // Map mask: plane 1 only.
  b.gc(5, 0x00);
  b.gc(0, 0x00);
  b.seq(2, 0x02);
  b.mem.write8(0xA0050, 0x77);
  EXPECT_EQ(b.vga.plane_byte(1, 0x50), 0x77);
  EXPECT_EQ(b.vga.plane_byte(0, 0x50), 0x00);
  // Read mode 0 picks the plane from read map select; read mode 1 compares colours.
  b.gc(4, 0x01);
  EXPECT_EQ(b.mem.read8(0xA0050), 0x77u);
  b.gc(5, 0x08);
  b.gc(2, 0x02);  // colour 2 (plane 1 set, others clear)
  b.gc(7, 0x0F);
  EXPECT_EQ(b.mem.read8(0xA0050), 0x77u);  // bits set only in plane 1
  b.gc(7, 0x00);                            // don't care about any plane: all match
  EXPECT_EQ(b.mem.read8(0xA0050), 0xFFu);
}

TEST(Vga, Chain4Mode13hAndLinearFramebuffer) {
  VgaBoard b;
  b.seq(4, 0x0E);  // chain-4
  b.gc(5, 0x40);
  b.gc(6, 0x05);
  b.seq(2, 0x0F);
  b.mem.write(0xA0000 + 321, 0x0403, 2);
  EXPECT_EQ(b.vga.plane_byte(1, 80), 0x03);  // offset 321 = plane 1, byte 80
  EXPECT_EQ(b.vga.plane_byte(2, 80), 0x04);
  EXPECT_EQ(b.mem.read(0xA0000 + 321, 2), 0x0403u);
  EXPECT_EQ(b.vga.lfb().mmio_read(b.vga.lfb_base() + 321, 1), 0x03u);
  b.vga.lfb().mmio_write(b.vga.lfb_base() + 0x1000, 0xCAFEBABE, 4);
  EXPECT_EQ(b.mem.read(0xA1000, 4), 0xCAFEBABEu);
}

TEST(Vga, BochsVbeRegisters) {
  VgaBoard b;
  b.ports.write(0x1CE, 0, 2);
  EXPECT_EQ(b.ports.read(0x1CF, 2), 0xB0C5u);
  b.ports.write(0x1CF, 0xB0C0, 2);
  EXPECT_EQ(b.ports.read(0x1CF, 2), 0xB0C0u);
  b.ports.write(0x1CF, 0xB0C5, 2);
  b.ports.write(0x1CE, 0xA, 2);
  EXPECT_EQ(b.ports.read(0x1CF, 2), Vga::kVramSize >> 16);
  auto dw = [&](uint16_t i, uint16_t v) {
    b.ports.write(0x1CE, i, 2);
    b.ports.write(0x1CF, v, 2);
  };
  auto dr = [&](uint16_t i) {
    b.ports.write(0x1CE, i, 2);
    return b.ports.read(0x1CF, 2);
  };
  dw(4, 0x02);  // GETCAPS
  EXPECT_EQ(dr(1), Vga::kMaxXres);
  EXPECT_EQ(dr(3), 32u);
  dw(4, 0);
  dw(1, 800);
  dw(2, 600);
  dw(3, 32);
  b.vga.lfb().mmio_write(b.vga.lfb_base(), 0x12345678, 4);
  dw(4, 0x41);  // enable with LFB: clears the memory
  EXPECT_EQ(dr(1), 800u);
  EXPECT_EQ(dr(6), 800u);                           // virtual width
  EXPECT_EQ(dr(7), Vga::kVramSize / (800 * 4));     // virtual height
  EXPECT_EQ(b.vga.lfb().mmio_read(b.vga.lfb_base(), 4), 0u);
  dw(1, 1024);  // ignored while enabled
  EXPECT_EQ(dr(1), 800u);
  // Banked window: bank 2 shows VRAM at 128 KiB.
  b.seq(4, 0x0E);
  b.gc(6, 0x05);
  dw(5, 2);
  b.mem.write8(0xA0004, 0x5A);
  EXPECT_EQ(b.vga.vram()[0x20004], 0x5A);
  EXPECT_EQ(b.vga.text_screen(), "");  // VBE mode: no text
  dw(4, 0);
}

TEST(Vga, DacAndAttributeController) {
  VgaBoard b;
  b.ports.write(0x3C8, 5, 1);
  for (uint8_t v : {0x3F, 0x20, 0x41, 0x01, 0x02, 0x03}) b.ports.write(0x3C9, v, 1);
  EXPECT_EQ(b.vga.dac_entry(5), (std::array<uint8_t, 3>{0x3F, 0x20, 0x01}));  // 6-bit
  EXPECT_EQ(b.vga.dac_entry(6), (std::array<uint8_t, 3>{0x01, 0x02, 0x03}));
  EXPECT_EQ(b.ports.read(0x3C8, 1), 7u);
  EXPECT_EQ(b.ports.read(0x3C7, 1), 0u);  // write mode
  b.ports.write(0x3C7, 5, 1);
  EXPECT_EQ(b.ports.read(0x3C7, 1), 3u);  // read mode
  EXPECT_EQ(b.ports.read(0x3C9, 1), 0x3Fu);
  EXPECT_EQ(b.ports.read(0x3C9, 1), 0x20u);
  EXPECT_EQ(b.ports.read(0x3C9, 1), 0x01u);
  EXPECT_EQ(b.ports.read(0x3C9, 1), 0x01u);  // entry 6 follows
  // Attribute controller: reading 0x3DA resets the flip-flop to the index.
  b.ports.write(0x3C0, 0x01, 1);  // leaves the flip-flop at data
  b.ports.read(0x3DA, 1);
  b.ports.write(0x3C0, 0x03, 1);
  b.ports.write(0x3C0, 0x2A, 1);
  EXPECT_EQ(b.ports.read(0x3C0, 1), 0x03u);
  EXPECT_EQ(b.ports.read(0x3C1, 1), 0x2Au);
  // Input status 1 toggles retrace so polling loops end.
  const uint32_t s1 = b.ports.read(0x3DA, 1), s2 = b.ports.read(0x3DA, 1);
  EXPECT_NE(s1 & 8, s2 & 8);
}

TEST(Vga, CrtcWriteProtect) {
  VgaBoard b;
  b.crtc(0x11, 0x80);
  b.crtc(0x01, 0x27);
  EXPECT_NE(b.ports.read(0x3D5, 1), 0x27u);
  b.crtc(0x11, 0x00);
  b.crtc(0x01, 0x27);
  EXPECT_EQ(b.ports.read(0x3D5, 1), 0x27u);
  EXPECT_EQ(b.vga.text_cols(), 40u);
}

TEST(Vga, SnapshotRoundTripAndTruncation) {
  VgaBoard b;
  b.program_mode3();
  b.put_text(3, 4, "snapshot", 0x1E);
  b.crtc(0x0F, 42);
  b.ports.write(0x3C8, 9, 1);
  b.ports.write(0x3C9, 0x11, 1);  // a DAC write in progress
  b.ports.write(0x1CE, 5, 2);
  std::vector<uint8_t> snap;
  SnapshotWriter w(snap);
  b.vga.save(w);

  VgaBoard c;
  SnapshotReader r(snap);
  c.vga.load(r);
  EXPECT_EQ(c.vga.text_screen(), b.vga.text_screen());
  EXPECT_EQ(line(c.vga.text_screen(), 3), "    snapshot");
  EXPECT_EQ(c.vga.text_cursor().col, 42u);
  EXPECT_EQ(c.vga.vram(), b.vga.vram());
  c.ports.write(0x3C9, 0x22, 1);
  c.ports.write(0x3C9, 0x33, 1);
  EXPECT_EQ(c.vga.dac_entry(9), (std::array<uint8_t, 3>{0x11, 0x22, 0x33}));
  EXPECT_EQ(c.ports.read(0x1CE, 2), 5u);
  std::vector<uint8_t> again;
  SnapshotWriter w2(again);
  b.vga.save(w2);
  EXPECT_EQ(again, snap);

  for (size_t cut : {size_t{0}, size_t{5}, size_t{20}, snap.size() / 2, snap.size() - 1}) {
    std::vector<uint8_t> t(snap.begin(), snap.begin() + static_cast<std::ptrdiff_t>(cut));
    VgaBoard d;
    d.put_text(0, 0, "kept");
    SnapshotReader rt(t);
    EXPECT_THROW(d.vga.load(rt), SnapshotError) << "cut at " << cut;
    EXPECT_EQ(line(d.vga.text_screen(), 0), "kept");  // a failed load changes nothing
  }
  // A malformed value is rejected: the DAC component index (byte after the DAC read index).
  std::vector<uint8_t> bad = snap;
  const size_t sub_at = 12 + 4 + 8 + 1 + 25 + 1 + 9 + 1 + 1 + 21 + 1 + 4 + 3;
  ASSERT_EQ(bad[sub_at], 1);
  bad[sub_at] = 7;
  VgaBoard e;
  SnapshotReader rb(bad);
  EXPECT_THROW(e.vga.load(rb), SnapshotError);
}

// The VGA as PCI function 00:02.0 on the board: IDs, BAR0 (the linear framebuffer) mapped and moved
// where the guest programs it, the expansion ROM BAR holding the VGA BIOS, nothing at 0xC0000.
TEST(VgaPci, BoardFunctionBarsAndRom) {
  MachineConfig cfg;
  cfg.bios.assign(64 * 1024, 0xF4);
  cfg.vga_bios.assign(40 * 1024, 0x90);
  cfg.vga_bios[0] = 0x55;
  cfg.vga_bios[1] = 0xAA;
  cfg.vga_bios[2] = 80;
  Machine m(cfg);
  PciBus& pci = m.pci();
  EXPECT_EQ(pci.config_read(2, 0, 0x00, 4), 0x11111234u);
  EXPECT_EQ(pci.config_read(2, 0, 0x08, 4) >> 8, 0x030000u);
  // BAR sizing: 16 MiB prefetchable memory; ROM: 64 KiB (40 KiB rounded up).
  pci.config_write(2, 0, 0x10, 0xFFFFFFFFu, 4);
  EXPECT_EQ(pci.config_read(2, 0, 0x10, 4), 0xFF000008u);
  pci.config_write(2, 0, 0x30, 0xFFFFFFFFu, 4);
  EXPECT_EQ(pci.config_read(2, 0, 0x30, 4), 0xFFFF0001u);
  EXPECT_EQ(m.memory().read(0xC0000, 2), 0xFFFFu);  // no legacy VGA BIOS mapping
  // Decoding off: nothing at the programmed addresses.
  pci.config_write(2, 0, 0x10, 0xFD000000u, 4);
  pci.config_write(2, 0, 0x30, 0xFEB00001u, 4);
  EXPECT_EQ(m.memory().read(0xFEB00000, 2), 0xFFFFu);
  pci.config_write(2, 0, 0x04, 0x0002, 2);
  EXPECT_EQ(m.memory().read(0xFEB00000, 4), 0x9050AA55u);
  EXPECT_EQ(m.memory().read(0xFEB00000 + 40 * 1024, 1), 0xFFu);  // padding
  m.memory().write(0xFEB00000, 0, 4);                            // read-only
  EXPECT_EQ(m.memory().read(0xFEB00000, 2), 0xAA55u);
  m.memory().write(0xFD000010, 0xCAFEBABEu, 4);
  EXPECT_EQ(m.vga()->vram()[0x10], 0xBEu);
  // Move BAR0: the old window is gone, the new one shows the same VRAM.
  pci.config_write(2, 0, 0x10, 0xE0000000u, 4);
  EXPECT_EQ(m.memory().read(0xFD000010, 4), 0xFFFFFFFFu);
  EXPECT_EQ(m.memory().read(0xE0000010, 4), 0xCAFEBABEu);
  // ROM enable bit off: unmapped.
  pci.config_write(2, 0, 0x30, 0xFEB00000u, 4);
  EXPECT_EQ(m.memory().read(0xFEB00000, 2), 0xFFFFu);
  // Reset: both windows gone.
  pci.config_write(2, 0, 0x30, 0xFEB00001u, 4);
  m.reset();
  EXPECT_EQ(m.memory().read(0xE0000010, 4), 0xFFFFFFFFu);
  EXPECT_EQ(m.memory().read(0xFEB00000, 2), 0xFFFFu);
}
