#include "devices/fw_cfg.h"

#include <stdexcept>

#include "devices/snapshot.h"

namespace vx86 {

namespace {
// Bit 14 of the selector asks for the write channel (not offered: writes are ignored); the rest
// names the item (bit 15 the architecture-specific ones).
constexpr uint16_t kWriteChannel = 0x4000;
}  // namespace

FwCfg::FwCfg() {
  set_item(SIGNATURE, {'Q', 'E', 'M', 'U'});
  set_item(ID, {0x01, 0x00, 0x00, 0x00});  // traditional interface
  rebuild_directory();
}

void FwCfg::attach(PortBus& ports) { ports.attach(kSelectorPort, 2, this); }

void FwCfg::reset() {
  selector_ = SIGNATURE;
  pos_ = 0;
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
  if (port != kSelectorPort) return;  // data writes: no writable items
  selector_ = static_cast<uint16_t>(size == 1 ? value & 0xFF : value & 0xFFFF);
  pos_ = 0;
}

void FwCfg::save(SnapshotWriter& w) const {
  w.begin_section("FWCF", 1);
  w.u16(selector_);
  w.u32(pos_);
  w.end_section();
}

void FwCfg::load(SnapshotReader& r) {
  r.begin_section("FWCF", 1);
  const uint16_t sel = r.u16();
  const uint32_t pos = r.u32();
  r.end_section();
  auto it = items_.find(static_cast<uint16_t>(sel & ~kWriteChannel));
  r.check(pos <= (it == items_.end() ? 0 : it->second.size()), "fw_cfg read position beyond its item");
  selector_ = sel;
  pos_ = pos;
}

}  // namespace vx86
