// virtio-blk (virtio 1.2, 5.2) on PCI: a disk on the same DiskImage as the IDE drives (raw or
// qcow2, backing files, -snapshot overlays).
//
// One request queue. Requests complete synchronously, like the IDE's commands: the notification
// that makes a request available returns with its data moved, its status written and the
// interrupt raised. Types: IN, OUT, FLUSH, GET_ID, DISCARD (a no-op after its checks: the spec
// lets a device keep discarded data) and WRITE_ZEROES. A request outside the disk, of a length
// that is not whole sectors, or failing in the host is VIRTIO_BLK_S_IOERR; a chain too short to
// hold the header and the status byte is a device error (DEVICE_NEEDS_RESET).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "devices/disk_image.h"
#include "devices/virtio/virtio_pci.h"

namespace vx86 {

class VirtioBlk : public VirtioPciDevice {
 public:
  static constexpr uint16_t kDeviceType = 2, kPciDevice = 0x1001;  // transitional block device
  static constexpr uint32_t kClass = 0x010000;                     // mass storage (QEMU's choice)
  static constexpr uint16_t kQueueSize = 256;
  static constexpr uint32_t kConfigSize = 60;
  static constexpr uint32_t kSector = 512;
  static constexpr uint32_t kMaxDiscardSectors = 0x400000;  // 2 GiB per discard / write-zeroes
  // Feature bits (5.2.3).
  enum : unsigned {
    F_SIZE_MAX = 1,
    F_SEG_MAX = 2,
    F_GEOMETRY = 4,
    F_RO = 5,
    F_BLK_SIZE = 6,
    F_FLUSH = 9,
    F_TOPOLOGY = 10,
    F_CONFIG_WCE = 11,
    F_MQ = 12,
    F_DISCARD = 13,
    F_WRITE_ZEROES = 14,
  };
  // Request types and status values (5.2.6).
  enum : uint32_t { T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8, T_DISCARD = 11, T_WRITE_ZEROES = 13 };
  enum : uint8_t { S_OK = 0, S_IOERR = 1, S_UNSUPP = 2 };
  static constexpr unsigned kIdBytes = 20;

  // `serial`: what GET_ID answers (at most 20 bytes are used).
  VirtioBlk(PhysicalMemory& mem, std::shared_ptr<DiskImage> image, std::string serial);

  DiskImage& image() { return *image_; }
  uint64_t capacity_sectors() const { return image_->size() / kSector; }

  void save(SnapshotWriter& w) const;
  void load(SnapshotReader& r);

 protected:
  uint64_t device_features() const override;
  uint8_t device_config_byte(uint32_t offset) override;
  void queue_notified(unsigned q) override;

 private:
  // The request's status, and the bytes written into the chain (used length) through `used`.
  uint8_t execute(const VirtqChain& c, uint32_t& used, bool& fatal);
  uint8_t read_sectors(const VirtqChain& c, uint64_t sector, uint64_t bytes, bool& fatal);
  uint8_t write_sectors(const VirtqChain& c, uint64_t sector, uint64_t bytes, bool& fatal);
  uint8_t discard_or_zero(const VirtqChain& c, uint64_t bytes, bool zero, bool& fatal);
  bool in_disk(uint64_t sector, uint64_t sectors) const;

  std::shared_ptr<DiskImage> image_;
  std::string serial_;
  std::vector<uint8_t> config_;  // the configuration space (5.2.4), built once
  std::vector<uint8_t> chunk_;   // bounce buffer between the image and guest RAM
};

}  // namespace vx86
