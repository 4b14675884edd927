// BlockDriver: one image format's view of a disk as a flat byte array (raw file, qcow2).
//
// DiskImage (devices/disk_image.h) sits on top: it picks the driver by probing the file, adds the
// -snapshot overlay and is what the IDE (and later virtio-blk) drives talk to. Drivers never
// report a partial success: a read or write either moves every byte or returns false (the drive
// then reports an I/O error to the guest). Image files are hostile input: a driver validates every
// header field and table entry it uses, and a bad one is an error, never a crash.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace vx86 {

class BlockDriver {
 public:
  virtual ~BlockDriver() = default;
  // The guest-visible size in bytes.
  virtual uint64_t size() const = 0;
  virtual bool writable() const = 0;
  // The format's name as -drive format= spells it ("raw", "qcow2").
  virtual const char* format() const = 0;
  // [offset, offset+n) must lie inside size(); false on a range outside it or a host I/O error.
  virtual bool read(uint64_t offset, void* buf, size_t n) = 0;
  virtual bool write(uint64_t offset, const void* buf, size_t n) = 0;
  // Makes every completed write durable (fdatasync, in the order the format needs).
  virtual bool flush() = 0;
};

}  // namespace vx86
