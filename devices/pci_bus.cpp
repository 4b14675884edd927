#include "devices/pci_bus.h"

#include <stdexcept>

#include "devices/snapshot.h"

namespace vx86 {

PciDevice::PciDevice(uint16_t vendor, uint16_t device, uint8_t revision, uint32_t class_code,
                     uint8_t header_type) {
  set_default16(0x00, vendor);
  set_default16(0x02, device);
  // Command: I/O, memory, bus master, parity error response, SERR#, interrupt disable.
  set_default16(0x04, 0, 0x0547);
  // Status: capability bits read-only, error bits write-one-to-clear; bit 3 is the INTx status.
  set_default16(0x06, 0, 0, 0xF900);
  set_default8(0x08, revision);
  set_default8(0x09, static_cast<uint8_t>(class_code));
  set_default8(0x0A, static_cast<uint8_t>(class_code >> 8));
  set_default8(0x0B, static_cast<uint8_t>(class_code >> 16));
  set_default8(0x0C, 0, 0xFF);  // cache line size
  set_default8(0x0D, 0, 0xFF);  // latency timer
  set_default8(0x0E, header_type);
  set_default8(0x3C, 0, 0xFF);  // interrupt line (BIOS scratch)
  cfg_ = defaults_;
}

void PciDevice::set_default8(unsigned o, uint8_t v, uint8_t wmask, uint8_t w1c) {
  defaults_[o & 0xFF] = v;
  wmask_[o & 0xFF] = wmask;
  w1c_[o & 0xFF] = w1c;
}
void PciDevice::set_default16(unsigned o, uint16_t v, uint16_t wmask, uint16_t w1c) {
  set_default8(o, static_cast<uint8_t>(v), static_cast<uint8_t>(wmask), static_cast<uint8_t>(w1c));
  set_default8(o + 1, static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(wmask >> 8), static_cast<uint8_t>(w1c >> 8));
}
void PciDevice::set_default32(unsigned o, uint32_t v, uint32_t wmask) {
  set_default16(o, static_cast<uint16_t>(v), static_cast<uint16_t>(wmask));
  set_default16(o + 2, static_cast<uint16_t>(v >> 16), static_cast<uint16_t>(wmask >> 16));
}

void PciDevice::define_bar(unsigned index, uint32_t size, bool io, bool prefetchable) {
  if (index >= kBars || size == 0 || (size & (size - 1)) || (io && size < 4) || (!io && size < 16))
    throw std::invalid_argument("PCI BAR size must be a power of two (>= 4 for I/O, >= 16 for memory)");
  bar_size_[index] = size;
  bar_io_[index] = io;
  decoded_[index] = PciBar{0, size, io, false};
  const uint32_t type = io ? 1u : (prefetchable ? 8u : 0u);
  const uint32_t mask = ~(size - 1) & (io ? ~3u : ~15u);
  set_default32(0x10 + 4 * index, type, mask);
  cfg_ = defaults_;
}

void PciDevice::reset() {
  cfg_ = defaults_;
  intx_ = false;
  update_status_intx();
  update_bars();  // reports windows that were decoded before the reset as gone
  config_written(0, 256);
  if (bus_) bus_->intx_changed(this);
}

uint32_t PciDevice::config_read(unsigned offset, unsigned size) {
  uint32_t v = 0;
  for (unsigned i = 0; i < size; ++i) {
    const unsigned o = offset + i;
    v |= uint32_t{o < 256 ? cfg_[o] : uint8_t{0xFF}} << (8 * i);
  }
  return v;
}

void PciDevice::write_config_byte(unsigned o, uint8_t v) {
  cfg_[o] = static_cast<uint8_t>((cfg_[o] & ~wmask_[o]) | (v & wmask_[o]));
  cfg_[o] = static_cast<uint8_t>(cfg_[o] & ~(v & w1c_[o]));
}

void PciDevice::config_write(unsigned offset, uint32_t value, unsigned size) {
  if (offset >= 256) return;
  if (offset + size > 256) size = 256 - offset;
  for (unsigned i = 0; i < size; ++i) write_config_byte(offset + i, static_cast<uint8_t>(value >> (8 * i)));
  update_status_intx();
  if (offset < 0x28 && offset + size > 0x04) update_bars();
  if (offset <= 0x05 && offset + size > 0x05 && bus_) bus_->intx_changed(this);  // INTx disable bit
  config_written(offset, size);
}

PciBar PciDevice::bar(unsigned index) const { return index < kBars ? decoded_[index] : PciBar{}; }

void PciDevice::update_bars() {
  const uint16_t cmd = command();
  for (unsigned i = 0; i < kBars; ++i) {
    PciBar b;
    if (bar_size_[i]) {
      b.size = bar_size_[i];
      b.io = bar_io_[i];
      b.base = cfg32(0x10 + 4 * i) & (b.io ? ~3u : ~15u);
      const uint64_t end = uint64_t{b.base} + b.size;
      const bool space_on = b.io ? (cmd & 1) : (cmd & 2);
      b.enabled = space_on && b.base != 0 && end <= (b.io ? 0x10000ull : 0x100000000ull);
    }
    const PciBar old = decoded_[i];
    decoded_[i] = b;
    // Only a change of the decoded window is reported (moving a disabled BAR, e.g. while sizing
    // it with decoding off, maps nothing).
    if (old.enabled != b.enabled || (b.enabled && (old.base != b.base || old.size != b.size)))
      bar_changed(i, old, b);
  }
}

void PciDevice::bar_changed(unsigned index, const PciBar& old_bar, const PciBar& new_bar) {
  if (on_bar_change) on_bar_change(index, old_bar, new_bar);
}

void PciDevice::update_status_intx() {
  if (intx_)
    cfg_[0x06] |= 0x08;
  else
    cfg_[0x06] &= static_cast<uint8_t>(~0x08);
}

void PciDevice::set_intx(bool level) {
  if (level == intx_) return;
  intx_ = level;
  update_status_intx();
  if (bus_) bus_->intx_changed(this);
}

void PciDevice::save_config(SnapshotWriter& w) const {
  w.bytes(cfg_.data(), cfg_.size());
  w.boolean(intx_);
}

void PciDevice::load_config(SnapshotReader& r) {
  r.bytes(loaded_.data(), loaded_.size());
  const bool intx = r.boolean();
  // Keep only what a guest could have written: read-only bytes come from the defaults.
  for (unsigned o = 0; o < 256; ++o) {
    const uint8_t m = static_cast<uint8_t>(wmask_[o] | w1c_[o]);
    loaded_[o] = static_cast<uint8_t>((defaults_[o] & ~m) | (loaded_[o] & m));
  }
  loaded_[0x06] = static_cast<uint8_t>((loaded_[0x06] & ~0x08) | (intx ? 0x08 : 0));
}

void PciDevice::apply_loaded_config() {
  cfg_ = loaded_;
  intx_ = cfg_[0x06] & 0x08;
  update_bars();
  config_written(0, 256);
  if (bus_) bus_->intx_changed(this);
}

// ---- bus ----

void PciBus::attach(PortBus& ports) { ports.attach(0xCF8, 8, this); }

void PciBus::add(PciDevice* dev, unsigned device, unsigned function) {
  if (device > 31 || function > 7) throw std::invalid_argument("PCI device/function out of range");
  const unsigned devfn = device << 3 | function;
  if (slots_[devfn]) throw std::invalid_argument("PCI slot already occupied");
  slots_[devfn] = dev;
  dev->bus_ = this;
  dev->devfn_ = static_cast<uint8_t>(devfn);
  intx_changed(dev);
}

void PciBus::reset() {
  address_ = 0;
  reset_control_ = 0;
}

uint32_t PciBus::config_read(unsigned device, unsigned function, unsigned offset, unsigned size) {
  PciDevice* d = find(device, function);
  if (!d) return size == 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
  return d->config_read(offset, size);
}

void PciBus::config_write(unsigned device, unsigned function, unsigned offset, uint32_t value, unsigned size) {
  if (PciDevice* d = find(device, function)) d->config_write(offset, value, size);
}

uint32_t PciBus::io_read(uint16_t port, unsigned size) {
  const uint32_t ones = size == 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
  if (port == 0xCF8 && size == 4) return address_;
  if (port == 0xCF9 && size == 1) return reset_control_;
  if (port < 0xCFC) return ones;
  const unsigned lane = port & 3u;
  if (lane + size > 4) size = 4 - lane;  // an access straddling 0xCFF: the extra lanes float
  uint32_t v = ones;
  if ((address_ & 0x80000000u) && ((address_ >> 16) & 0xFF) == 0) {
    const uint32_t data = config_read((address_ >> 11) & 31, (address_ >> 8) & 7, (address_ & 0xFC) + lane, size);
    const uint32_t m = size == 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
    v = (v & ~m) | (data & m);
  }
  return v;
}

void PciBus::io_write(uint16_t port, uint32_t value, unsigned size) {
  if (port == 0xCF8 && size == 4) {
    address_ = value & 0x80FFFFFCu;
    return;
  }
  if (port == 0xCF9 && size == 1) {
    const uint8_t v = static_cast<uint8_t>(value & 0x0E);
    const bool pulse = (v & 0x04) && !(reset_control_ & 0x04);
    reset_control_ = static_cast<uint8_t>(v & 0x0A);  // RST_CPU self-clears
    if (pulse && on_reset_request) on_reset_request(v & 0x02);
    return;
  }
  if (port < 0xCFC) return;
  const unsigned lane = port & 3u;
  if (lane + size > 4) size = 4 - lane;
  if (!(address_ & 0x80000000u) || ((address_ >> 16) & 0xFF) != 0) return;
  config_write((address_ >> 11) & 31, (address_ >> 8) & 7, (address_ & 0xFC) + lane, value, size);
}

void PciBus::intx_changed(PciDevice*) {
  std::array<bool, 4> lv{};
  for (unsigned devfn = 0; devfn < 256; ++devfn) {
    const PciDevice* d = slots_[devfn];
    if (!d || !d->intx_) continue;
    const unsigned pin = d->cfg8(0x3D);
    if (pin < 1 || pin > 4 || (d->command() & 0x0400)) continue;
    lv[pirq_of(devfn >> 3, pin)] = true;
  }
  for (unsigned i = 0; i < 4; ++i) {
    if (lv[i] != pirq_[i]) {
      pirq_[i] = lv[i];
      if (on_pirq) on_pirq(i, lv[i]);
    }
  }
}

bool PciBus::pirq_level(unsigned pirq) const { return pirq < 4 && pirq_[pirq]; }

void PciBus::save(SnapshotWriter& w) const {
  w.begin_section("PCIB", 1);
  w.u32(address_);
  w.u8(reset_control_);
  w.end_section();
}

void PciBus::load(SnapshotReader& r) {
  r.begin_section("PCIB", 1);
  const uint32_t a = r.u32();
  r.check((a & ~0x80FFFFFCu) == 0, "PCI CONFIG_ADDRESS reserved bits set");
  const uint8_t rc = r.u8();
  r.check((rc & ~0x0Au) == 0, "PCI reset control reserved bits set");
  r.end_section();
  address_ = a;
  reset_control_ = rc;
}

}  // namespace vx86
