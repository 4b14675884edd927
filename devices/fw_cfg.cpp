#include "devices/fw_cfg.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "devices/snapshot.h"

namespace vx86 {

namespace {
// Bit 14 of the selector asks for the write channel (not offered: writes are ignored); the rest
// names the item (bit 15 the architecture-specific ones).
constexpr uint16_t kWriteChannel = 0x4000;
enum : uint32_t { DMA_ERROR = 1, DMA_READ = 2, DMA_SKIP = 4, DMA_SELECT = 8, DMA_WRITE = 0x10 };
constexpr char kDmaSignature[] = "QEMU CFG";
uint32_t bswap32(uint32_t v) { return __builtin_bswap32(v); }
}  // namespace

FwCfg::FwCfg() {
  set_item(SIGNATURE, {'Q', 'E', 'M', 'U'});
  set_item(ID, {0x03, 0x00, 0x00, 0x00});  // traditional interface and DMA
  rebuild_directory();
}

void FwCfg::attach(PortBus& ports) {
  ports.attach(kSelectorPort, 2, this);
  ports.attach(kDmaPort, 8, this);
}

void FwCfg::reset() {
  selector_ = SIGNATURE;
  pos_ = 0;
  dma_hi_ = 0;
}

void FwCfg::set_item(uint16_t key, std::vector<uint8_t> data) {
  items_[key & ~kWriteChannel] = std::move(data);
}

void FwCfg::add_file(const std::string& name, std::vector<uint8_t> data) {
  if (name.empty() || name.size() > kMaxNameLength)
    throw std::invalid_argument("fw_cfg: bad file name '" + name + "'");
  if (files_.count(name)) throw std::invalid_argument("fw_cfg: file '" + name + "' added twice");
  if (next_file_ >= FILE_FIRST + kMaxFiles) throw std::invalid_argument("fw_cfg: too many files");
  if (data.size() > 0xFFFFFFFFu) throw std::invalid_argument("fw_cfg: file '" + name + "' too large");
  files_[name] = next_file_;
  items_[next_file_++] = std::move(data);
  rebuild_directory();
}

const std::vector<uint8_t>* FwCfg::find_file(const std::string& name) const {
  auto it = files_.find(name);
  return it == files_.end() ? nullptr : &items_.at(it->second);
}

void FwCfg::rebuild_directory() {
  std::vector<uint8_t> dir;
  auto be = [&dir](uint32_t v, unsigned n) {
    for (unsigned i = n; i-- > 0;) dir.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  be(static_cast<uint32_t>(files_.size()), 4);
  for (const auto& [name, sel] : files_) {  // std::map: sorted by name
    be(static_cast<uint32_t>(items_.at(sel).size()), 4);
    be(sel, 2);
    be(0, 2);
    std::string padded = name;
    padded.resize(56, '\0');
    dir.insert(dir.end(), padded.begin(), padded.end());
  }
  items_[FILE_DIR] = std::move(dir);
}

const std::vector<uint8_t>* FwCfg::selected() const {
  auto it = items_.find(static_cast<uint16_t>(selector_ & ~kWriteChannel));
  return it == items_.end() ? nullptr : &it->second;
}

uint32_t FwCfg::io_read(uint16_t port, unsigned size) {
  if (port >= kDmaPort && port < kDmaPort + 8) {
    uint32_t v = 0;
    for (unsigned i = 0; i < size && port - kDmaPort + i < 8; ++i)
      v |= uint32_t{static_cast<uint8_t>(kDmaSignature[port - kDmaPort + i])} << (8 * i);
    return v;
  }
  if (port != kDataPort) return 0;
  const std::vector<uint8_t>* item = selected();
  uint32_t v = 0;
  for (unsigned i = 0; i < size; ++i) {
    const uint8_t b = item && pos_ < item->size() ? (*item)[pos_] : 0;
    if (item && pos_ < item->size()) ++pos_;
    v |= uint32_t{b} << (8 * i);
  }
  return v;
}

void FwCfg::io_write(uint16_t port, uint32_t value, unsigned size) {
  // The DMA address, big-endian dwords as the guest's bytes arrive (the low one starts it).
  if (port == kDmaPort && size == 4) {
    dma_hi_ = bswap32(value);
    return;
  }
  if (port == kDmaPort + 4 && size == 4) {
    const uint64_t addr = (uint64_t{dma_hi_} << 32) | bswap32(value);
    dma_hi_ = 0;
    dma(addr);
    return;
  }
  if (port != kSelectorPort) return;  // data writes: no writable items
  selector_ = static_cast<uint16_t>(size == 1 ? value & 0xFF : value & 0xFFFF);
  pos_ = 0;
}

bool FwCfg::in_ram(uint64_t addr, uint64_t len) const {
  return mem_ && addr <= mem_->ram_size() && len <= mem_->ram_size() - addr;
}

void FwCfg::dma(uint64_t descriptor) {
  if (!in_ram(descriptor, 16)) return;  // nowhere to report the error either
  uint8_t* d = mem_->ram() + descriptor;
  auto be32 = [](const uint8_t* p) { return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3]; };
  const uint32_t control = be32(d);
  uint32_t length = be32(d + 4);
  uint64_t addr = (uint64_t{be32(d + 8)} << 32) | be32(d + 12);
  bool error = false;
  if (control & DMA_SELECT) {
    selector_ = static_cast<uint16_t>(control >> 16);
    pos_ = 0;
  }
  const std::vector<uint8_t>* item = selected();
  const uint32_t avail = item && pos_ < item->size() ? static_cast<uint32_t>(item->size()) - pos_ : 0;
  if (control & DMA_READ) {
    if (!in_ram(addr, length)) {
      error = true;
    } else {
      const uint32_t n = std::min(length, avail);
      if (n) std::memcpy(mem_->ram() + addr, item->data() + pos_, n);
      std::memset(mem_->ram() + addr + n, 0, length - n);  // past the item's end: zeros
      pos_ += n;
      if (length && dma_written_) dma_written_(static_cast<uint32_t>(addr), length);
    }
  } else if (control & DMA_SKIP) {
    pos_ += std::min(length, avail);
  } else if (control & DMA_WRITE) {
    error = true;  // nothing is writable
  }
  // The result in the descriptor's control word (big-endian): 0, or the error bit.
  const uint32_t result = error ? uint32_t{DMA_ERROR} : 0u;
  d[0] = d[1] = d[2] = 0;
  d[3] = static_cast<uint8_t>(result);
  if (dma_written_) dma_written_(static_cast<uint32_t>(descriptor), 4);
}

void FwCfg::save(SnapshotWriter& w) const {
  w.begin_section("FWCF", 2);
  w.u16(selector_);
  w.u32(pos_);
  w.u32(dma_hi_);
  w.end_section();
}

void FwCfg::load(SnapshotReader& r) {
  const uint32_t version = r.begin_section("FWCF", 2);
  const uint16_t sel = r.u16();
  const uint32_t pos = r.u32();
  const uint32_t hi = version >= 2 ? r.u32() : 0;  // (version 1: no DMA interface)
  r.end_section();
  auto it = items_.find(static_cast<uint16_t>(sel & ~kWriteChannel));
  r.check(pos <= (it == items_.end() ? 0 : it->second.size()), "fw_cfg read position beyond its item");
  selector_ = sel;
  pos_ = pos;
  dma_hi_ = hi;
}

}  // namespace vx86
