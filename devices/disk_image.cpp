#include "devices/disk_image.h"

#include <algorithm>
#include <cstring>

#include "devices/snapshot.h"

namespace vx86 {

DiskImage::DiskImage(const std::string& path, Mode mode, ImageFormat format)
    : path_(path), mode_(mode), driver_(open_block_image(path, format, mode == Mode::ReadWrite)) {
  size_ = driver_->size();
}

DiskImage::~DiskImage() = default;

bool DiskImage::read(uint64_t offset, void* buf, size_t n) {
  if (!in_range(offset, n)) return false;
  if (n == 0) return true;
  if (!driver_->read(offset, buf, n)) return false;
  if (overlay_.empty()) return true;
  auto* out = static_cast<uint8_t*>(buf);
  for (uint64_t blk = offset / kBlock; blk * kBlock < offset + n; ++blk) {
    auto it = overlay_.find(blk);
    if (it == overlay_.end()) continue;
    const uint64_t lo = std::max<uint64_t>(blk * kBlock, offset);
    const uint64_t hi = std::min<uint64_t>((blk + 1) * kBlock, offset + n);
    std::memcpy(out + (lo - offset), it->second.get() + (lo - blk * kBlock), hi - lo);
  }
  return true;
}

bool DiskImage::write(uint64_t offset, const void* buf, size_t n) {
  if (mode_ == Mode::ReadOnly || !in_range(offset, n)) return false;
  if (n == 0) return true;
  const auto* in = static_cast<const uint8_t*>(buf);
  if (mode_ == Mode::ReadWrite) return driver_->write(offset, in, n);
  for (uint64_t blk = offset / kBlock; blk * kBlock < offset + n; ++blk) {
    auto& slot = overlay_[blk];
    if (!slot) {
      slot = std::make_unique<uint8_t[]>(kBlock);
      const uint64_t start = blk * kBlock;
      const size_t avail = static_cast<size_t>(std::min<uint64_t>(kBlock, size_ - start));
      std::memset(slot.get(), 0, kBlock);
      if (!driver_->read(start, slot.get(), avail)) {
        overlay_.erase(blk);
        return false;
      }
    }
    const uint64_t lo = std::max<uint64_t>(blk * kBlock, offset);
    const uint64_t hi = std::min<uint64_t>((blk + 1) * kBlock, offset + n);
    std::memcpy(slot.get() + (lo - blk * kBlock), in + (lo - offset), hi - lo);
  }
  return true;
}

bool DiskImage::flush() {
  if (mode_ != Mode::ReadWrite) return true;
  return driver_->flush();
}

void DiskImage::save(SnapshotWriter& w) const {
  w.begin_section("DISK", 1);
  w.u64(size_);
  w.boolean(mode_ == Mode::Snapshot);
  std::vector<uint64_t> blocks;
  blocks.reserve(overlay_.size());
  for (const auto& [blk, data] : overlay_) blocks.push_back(blk);
  std::sort(blocks.begin(), blocks.end());  // the same machine state gives the same file
  w.u64(blocks.size());
  for (uint64_t blk : blocks) {
    w.u64(blk);
    w.bytes(overlay_.at(blk).get(), kBlock);
  }
  w.end_section();
}

void DiskImage::load(SnapshotReader& r) {
  r.begin_section("DISK", 1);
  r.check(r.u64() == size_, "disk image size differs from the snapshot's");
  const bool snapshot_mode = r.boolean();
  const uint64_t count = r.u64();
  const uint64_t max_blocks = (size_ + kBlock - 1) / kBlock;
  r.check(count <= max_blocks && count <= r.remaining() / (8 + kBlock), "disk overlay block count malformed");
  r.check(count == 0 || mode_ == Mode::Snapshot,
          "the snapshot holds unsaved writes of a -snapshot drive; open the drive with -snapshot");
  (void)snapshot_mode;  // (a saved -snapshot drive without writes loads onto a writable one too)
  std::unordered_map<uint64_t, std::unique_ptr<uint8_t[]>> loaded;
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t blk = r.u64();
    r.check(blk < max_blocks && !loaded.count(blk), "disk overlay block index malformed");
    auto data = std::make_unique<uint8_t[]>(kBlock);
    r.bytes(data.get(), kBlock);
    loaded.emplace(blk, std::move(data));
  }
  r.end_section();
  overlay_ = std::move(loaded);
}

}  // namespace vx86
