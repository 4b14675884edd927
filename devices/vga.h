// Standard VGA with the Bochs VBE ("dispi") extension, as QEMU's and Bochs's stdvga: what
// vgabios-stdvga.bin (SeaVGABIOS) programs.
//
// Registers: miscellaneous output (write 0x3C2, read 0x3CC), sequencer (0x3C4/0x3C5), CRT
// controller (0x3D4/0x3D5, or 0x3B4/0x3B5 while misc bit 0 selects mono addressing), graphics
// controller (0x3CE/0x3CF), attribute controller (0x3C0 index/data flip-flop, 0x3C1 read; reading
// input status 1 at 0x3DA/0x3BA resets the flip-flop), DAC (0x3C6 pel mask, 0x3C7 read index and
// state, 0x3C8 write index, 0x3C9 data, 6-bit components in R, G, B order), input status 0/1,
// feature control (write 0x3DA/0x3BA, read 0x3CA), VGA enable 0x3C3. 16-bit port writes to the
// index registers are split into index and data bytes. Bochs VBE: index 0x1CE, data 0x1CF (16-bit).
//
// Memory: VRAM is one buffer (kVramSize); the 256 KiB of the four VGA planes are interleaved in
// its start (plane p, offset o at byte o*4+p), so chain-4 (mode 13h) addresses are VRAM offsets
// and the linear framebuffer shows the same bytes. The legacy window 0xA0000-0xBFFFF decodes as
// the graphics controller's memory map select says; CPU accesses go through chain-4, odd/even or
// planar addressing (seq memory mode, GC mode), with read modes 0/1, write modes 0-3, the latches,
// set/reset, data rotate and logical function, bit mask and map mask. Input status 1 alternates
// its retrace/display bits on every read, so polling loops end without a time base.
//
// Change tracking for the display (devices/vga_display.h): every VRAM write marks its 4 KiB page,
// and a counter moves whenever a register that shapes the picture changes value, so a display can
// redraw only what changed. (Relaxed atomics: the display may look from another thread than the
// CPUs that write.)
//
// Nothing is rendered here: text_screen() decodes the alphanumeric screen (start address, offset,
// rows and columns from the CRTC) into text, and text_cursor() reports the cursor.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "devices/port_bus.h"
#include "mmu/physical_memory.h"

namespace vx86 {

class SnapshotWriter;
class SnapshotReader;

class Vga : public IoDevice, public MmioHandler {
 public:
  static constexpr uint32_t kVramSize = 16u << 20;        // 16 MiB, as QEMU's default
  static constexpr uint32_t kLfbDefaultBase = 0xE0000000;  // VBE_DISPI_LFB_PHYSICAL_ADDRESS
  static constexpr uint32_t kWindowBase = 0xA0000, kWindowSize = 0x20000;
  static constexpr uint16_t kDispiIdMax = 0xB0C5;
  static constexpr uint16_t kMaxXres = 2560, kMaxYres = 1600, kMaxBpp = 32;

  explicit Vga(uint32_t lfb_base = kLfbDefaultBase);
  void attach(PortBus& bus);  // 0x3B0-0x3DF, 0x1CE-0x1CF
  void reset();

  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, uint32_t value, unsigned size) override;

  // The legacy window (map at kWindowBase, kWindowSize): addresses are physical.
  uint32_t mmio_read(uint32_t addr, unsigned size) override;
  void mmio_write(uint32_t addr, uint32_t value, unsigned size) override;

  // The linear framebuffer (map at lfb_base(), kVramSize): plain VRAM bytes. On the board it is
  // BAR0 of the VGA's PCI function (devices/vga_pci.h), mapped where the guest programs it.
  MmioHandler& lfb() { return lfb_; }
  uint32_t lfb_base() const { return lfb_base_; }
  // Where the board maps the framebuffer now (the PCI function's BAR0 moved).
  void set_lfb_base(uint32_t base) { lfb_base_ = base; }

  // The alphanumeric screen as text: one line per row ("\n"-terminated, trailing blanks dropped),
  // CP437 shown as UTF-8 (NUL and 0xFF as blanks). Empty in a graphics or VBE mode.
  std::string text_screen() const;
  struct Cursor {
    unsigned row = 0, col = 0;
    bool visible = false;  // enabled in the CRTC and on the screen
  };
  Cursor text_cursor() const;
  unsigned text_cols() const;
  unsigned text_rows() const;
  bool graphics_mode() const;

  // Direct views (tests, a future display): plane p byte o; the DAC entry i as 6-bit R, G, B.
  uint8_t plane_byte(unsigned plane, uint32_t offset) const { return vram_[(offset & 0xFFFF) * 4 + (plane & 3)]; }
  std::array<uint8_t, 3> dac_entry(uint8_t i) const { return {dac_[i * 3], dac_[i * 3 + 1], dac_[i * 3 + 2]}; }
  const std::vector<uint8_t>& vram() const { return vram_; }
  uint16_t dispi(unsigned index) const { return index < dispi_.size() ? dispi_[index] : 0; }
  // The registers as the display side reads them (devices/vga_render.h).
  uint8_t misc() const { return misc_; }
  uint8_t seq(unsigned i) const { return i < seq_.size() ? seq_[i] : 0; }
  uint8_t crtc(unsigned i) const { return i < crtc_.size() ? crtc_[i] : 0; }
  uint8_t gc(unsigned i) const { return i < gc_.size() ? gc_[i] : 0; }
  uint8_t ac(unsigned i) const { return i < ac_.size() ? ac_[i] : 0; }
  uint8_t pel_mask() const { return pel_mask_; }

  // Change tracking. take_dirty ORs the pages written since the last call into `out` (bit i of
  // word w: page w*64+i, kDirtyPageShift bytes each) and clears them; take_font_written says
  // whether plane 2 (the text font) was written since the last call.
  static constexpr unsigned kDirtyPageShift = 12;
  static constexpr unsigned kDirtyWords = (kVramSize >> kDirtyPageShift) / 64;
  using DirtyBits = std::array<uint64_t, kDirtyWords>;
  void take_dirty(DirtyBits& out);
  bool take_font_written() { return font_written_.exchange(false, std::memory_order_relaxed); }
  uint64_t picture_generation() const { return picture_gen_.load(std::memory_order_relaxed); }

  void save(SnapshotWriter& w) const;
  void load(SnapshotReader& r);

 private:
  class Lfb : public MmioHandler {
   public:
    explicit Lfb(Vga& v) : v_(v) {}
    uint32_t mmio_read(uint32_t addr, unsigned size) override;
    void mmio_write(uint32_t addr, uint32_t value, unsigned size) override;

   private:
    Vga& v_;
  };

  uint8_t read_port(uint16_t port);
  void write_port(uint16_t port, uint8_t v);
  bool mono() const { return (misc_ & 1) == 0; }
  uint16_t dispi_read(unsigned index) const;
  void dispi_write(unsigned index, uint16_t v);
  uint8_t mem_read8(uint32_t addr);
  void mem_write8(uint32_t addr, uint8_t v);
  // Offset of `addr` in the window the GC's memory map select decodes, or -1 outside it.
  int64_t window_offset(uint32_t addr) const;
  uint32_t bank_offset() const;
  void mark_dirty(uint32_t vram_byte) {
    std::atomic<uint64_t>& w = dirty_[(vram_byte >> kDirtyPageShift) / 64];
    const uint64_t bit = uint64_t{1} << ((vram_byte >> kDirtyPageShift) % 64);
    if (!(w.load(std::memory_order_relaxed) & bit)) w.fetch_or(bit, std::memory_order_relaxed);
  }
  void font_written() {
    if (!font_written_.load(std::memory_order_relaxed)) font_written_.store(true, std::memory_order_relaxed);
  }
  void picture_changed() { picture_gen_.fetch_add(1, std::memory_order_relaxed); }
  // Sets a register the picture depends on, moving the generation if its value changes.
  void set_reg(uint8_t& reg, uint8_t v) {
    if (reg != v) picture_changed();
    reg = v;
  }

  uint32_t lfb_base_;
  Lfb lfb_{*this};
  std::vector<uint8_t> vram_;

  uint8_t misc_ = 0, feature_ = 0, vga_enable_ = 1;
  uint8_t seq_index_ = 0, crtc_index_ = 0, gc_index_ = 0, ac_index_ = 0;
  std::array<uint8_t, 8> seq_{};
  std::array<uint8_t, 0x19> crtc_{};
  std::array<uint8_t, 9> gc_{};
  std::array<uint8_t, 0x15> ac_{};
  bool ac_flipflop_ = false;  // false: next 0x3C0 write is the index
  uint8_t st01_ = 0;          // input status 1 retrace/display bits (toggle on read)
  std::array<uint8_t, 4> latch_{};
  // DAC
  uint8_t pel_mask_ = 0xFF, dac_write_index_ = 0, dac_read_index_ = 0, dac_sub_ = 0;
  bool dac_reading_ = false;  // the last index written was the read index (0x3C7 state)
  std::array<uint8_t, 3> dac_cache_{};
  std::array<uint8_t, 768> dac_{};
  // Bochs VBE
  uint16_t dispi_index_ = 0;
  std::array<uint16_t, 10> dispi_{};  // ID, XRES, YRES, BPP, ENABLE, BANK, VIRT_W, VIRT_H, X_OFF, Y_OFF
  // Change tracking.
  std::array<std::atomic<uint64_t>, kDirtyWords> dirty_{};
  std::atomic<uint64_t> picture_gen_{0};
  std::atomic<bool> font_written_{false};
};

}  // namespace vx86
