// DiskImage: a disk or ISO image as the drives see it, accessed by byte offset, bounds-checked.
// The bytes come from a BlockDriver (devices/block/: raw file or qcow2, probed or named).
//
// Modes: ReadWrite (writes go to the file), ReadOnly (writes fail: the drive reports an error),
// Snapshot (QEMU's -snapshot: the file is opened read-only and writes go to an in-memory
// copy-on-write overlay of 512-byte blocks, discarded when the image is closed).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "devices/block/block_driver.h"
#include "devices/block/open_image.h"

namespace vx86 {

class SnapshotWriter;
class SnapshotReader;

class DiskImage {
 public:
  enum class Mode { ReadWrite, ReadOnly, Snapshot };
  static constexpr uint32_t kBlock = 512;

  // Throws std::runtime_error (one line naming the file) if it cannot be opened or is malformed.
  DiskImage(const std::string& path, Mode mode, ImageFormat format = ImageFormat::Probe);
  ~DiskImage();
  DiskImage(const DiskImage&) = delete;
  DiskImage& operator=(const DiskImage&) = delete;

  uint64_t size() const { return size_; }
  Mode mode() const { return mode_; }
  bool writable() const { return mode_ != Mode::ReadOnly; }
  const std::string& path() const { return path_; }
  const char* format() const { return driver_->format(); }

  // false if [offset, offset+n) is not inside the image or the host I/O fails; never a partial
  // success that is reported as success.
  bool read(uint64_t offset, void* buf, size_t n);
  bool write(uint64_t offset, const void* buf, size_t n);
  bool flush();
  size_t overlay_blocks() const { return overlay_.size(); }

  // Snapshots: the -snapshot overlay's blocks (the image file itself is not saved: a machine
  // restored from a snapshot must find its disks as they were when it was taken). load() checks
  // the size, and that an overlay goes only to an image in Snapshot mode.
  void save(SnapshotWriter& w) const;
  void load(SnapshotReader& r);

 private:
  bool in_range(uint64_t offset, size_t n) const { return offset <= size_ && n <= size_ - offset; }
  std::string path_;
  Mode mode_;
  std::unique_ptr<BlockDriver> driver_;
  uint64_t size_ = 0;
  std::unordered_map<uint64_t, std::unique_ptr<uint8_t[]>> overlay_;  // block index -> 512 bytes
};

}  // namespace vx86
