#include "devices/virtio/virtio_blk.h"

#include <algorithm>
#include <cstring>

#include "devices/snapshot.h"

namespace vx86 {

using namespace virtio;

namespace {
constexpr size_t kChunk = 64 * 1024;
constexpr uint32_t kHeader = 16;   // type, reserved (ioprio), sector
constexpr uint32_t kSegment = 16;  // discard / write-zeroes: sector, num_sectors, flags
uint32_t le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}
uint64_t le64(const uint8_t* p) { return le32(p) | uint64_t{le32(p + 4)} << 32; }
void put(std::vector<uint8_t>& b, size_t at, uint64_t v, unsigned n) {
  for (unsigned i = 0; i < n; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
}
}  // namespace

VirtioBlk::VirtioBlk(PhysicalMemory& mem, std::shared_ptr<DiskImage> image, std::string serial)
    : VirtioPciDevice(mem, kDeviceType, kPciDevice, kClass, 1, kQueueSize, kConfigSize),
      image_(std::move(image)),
      serial_(std::move(serial)),
      config_(kConfigSize, 0),
      chunk_(kChunk) {
  // The configuration space (5.2.4); it never changes.
  const uint64_t sectors = capacity_sectors();
  put(config_, 0, sectors, 8);          // capacity
  put(config_, 12, kQueueSize - 2, 4);  // seg_max: the header and the status take two
  const uint64_t cyl = std::min<uint64_t>(sectors / (16 * 63), 65535);
  put(config_, 16, cyl, 2);  // geometry: cylinders, 16 heads, 63 sectors
  config_[18] = 16;
  config_[19] = 63;
  put(config_, 20, kSector, 4);             // blk_size
  put(config_, 34, 1, 2);                   // num_queues
  put(config_, 36, kMaxDiscardSectors, 4);  // max_discard_sectors
  put(config_, 40, 1, 4);                   // max_discard_seg
  put(config_, 44, 1, 4);                   // discard_sector_alignment
  put(config_, 48, kMaxDiscardSectors, 4);  // max_write_zeroes_sectors
  put(config_, 52, 1, 4);                   // max_write_zeroes_seg
}

uint64_t VirtioBlk::device_features() const {
  uint64_t f = bit(kFeatureVersion1) | bit(kFeatureRingIndirectDesc) | bit(kFeatureRingEventIdx) |
               bit(F_SEG_MAX) | bit(F_GEOMETRY) | bit(F_BLK_SIZE) | bit(F_FLUSH) | bit(F_DISCARD) |
               bit(F_WRITE_ZEROES);
  if (!image_->writable()) f |= bit(F_RO);
  return f;
}

uint8_t VirtioBlk::device_config_byte(uint32_t offset) {
  return offset < config_.size() ? config_[offset] : 0;
}

void VirtioBlk::queue_notified(unsigned q) {
  if (q != 0) return;
  VirtqChain c;
  bool pushed = false;
  while (pop(0, c) == Virtqueue::Pop::Chain) {
    uint32_t used = 0;
    bool fatal = false;
    const uint8_t status = execute(c, used, fatal);
    // The status byte is the chain's last writable byte (5.2.6).
    if (fatal || !c.write(guest(), c.writable - 1, &status, 1)) {
      device_error();
      break;
    }
    push(0, c.head, used);
    pushed = true;
    if (device_status() & kStatusNeedsReset) break;
  }
  if (pushed) interrupt_if_wanted(0);
}

bool VirtioBlk::in_disk(uint64_t sector, uint64_t sectors) const {
  const uint64_t cap = capacity_sectors();
  return sector <= cap && sectors <= cap - sector;
}

uint8_t VirtioBlk::execute(const VirtqChain& c, uint32_t& used, bool& fatal) {
  used = 1;  // the status byte
  uint8_t h[kHeader];
  if (c.writable < 1 || !c.read(guest(), 0, h, sizeof h)) {
    fatal = true;  // no room for the header or the status: nothing can be answered
    return S_IOERR;
  }
  const uint32_t type = le32(h);
  const uint64_t sector = le64(h + 8);
  const uint64_t in_bytes = c.writable - 1;  // data the device writes, before the status byte
  const uint64_t out_bytes = c.readable - kHeader;
  switch (type) {
    case T_IN: {
      const uint8_t s = read_sectors(c, sector, in_bytes, fatal);
      if (s == S_OK) used = static_cast<uint32_t>(in_bytes + 1);
      return s;
    }
    case T_OUT:
      return write_sectors(c, sector, out_bytes, fatal);
    case T_FLUSH:
      return image_->flush() ? S_OK : S_IOERR;
    case T_GET_ID: {
      uint8_t id[kIdBytes] = {};
      std::memcpy(id, serial_.data(), std::min<size_t>(serial_.size(), kIdBytes));
      const size_t n = static_cast<size_t>(std::min<uint64_t>(in_bytes, kIdBytes));
      if (!c.write(guest(), 0, id, n)) {
        fatal = true;
        return S_IOERR;
      }
      used = static_cast<uint32_t>(n + 1);
      return S_OK;
    }
    case T_DISCARD:
      return discard_or_zero(c, out_bytes, false, fatal);
    case T_WRITE_ZEROES:
      return discard_or_zero(c, out_bytes, true, fatal);
    default:
      return S_UNSUPP;
  }
}

uint8_t VirtioBlk::read_sectors(const VirtqChain& c, uint64_t sector, uint64_t bytes, bool& fatal) {
  if (bytes % kSector || !in_disk(sector, bytes / kSector)) return S_IOERR;
  for (uint64_t off = 0; off < bytes;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(bytes - off, kChunk));
    if (!image_->read(sector * kSector + off, chunk_.data(), n)) return S_IOERR;
    if (!c.write(guest(), off, chunk_.data(), n)) {
      fatal = true;
      return S_IOERR;
    }
    off += n;
  }
  return S_OK;
}

uint8_t VirtioBlk::write_sectors(const VirtqChain& c, uint64_t sector, uint64_t bytes, bool& fatal) {
  if (bytes % kSector || !in_disk(sector, bytes / kSector) || !image_->writable()) return S_IOERR;
  for (uint64_t off = 0; off < bytes;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(bytes - off, kChunk));
    if (!c.read(guest(), kHeader + off, chunk_.data(), n)) {
      fatal = true;
      return S_IOERR;
    }
    if (!image_->write(sector * kSector + off, chunk_.data(), n)) return S_IOERR;
    off += n;
  }
  return S_OK;
}

uint8_t VirtioBlk::discard_or_zero(const VirtqChain& c, uint64_t bytes, bool zero, bool& fatal) {
  // max_discard_seg / max_write_zeroes_seg are 1.
  if (bytes != kSegment) return S_IOERR;
  uint8_t s[kSegment];
  if (!c.read(guest(), kHeader, s, sizeof s)) {
    fatal = true;
    return S_IOERR;
  }
  const uint64_t sector = le64(s);
  const uint32_t count = le32(s + 8), flags = le32(s + 12);
  // Bit 0 is UNMAP, meaningful for write-zeroes only; anything else is unknown (5.2.6.2).
  if (flags & ~(zero ? 1u : 0u)) return S_UNSUPP;
  if (count > kMaxDiscardSectors || !in_disk(sector, count) || !image_->writable()) return S_IOERR;
  if (!zero) return S_OK;  // discarded data may read back as anything: keeping it is allowed
  std::fill(chunk_.begin(), chunk_.end(), 0);
  const uint64_t bytes_total = uint64_t{count} * kSector;
  for (uint64_t off = 0; off < bytes_total;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(bytes_total - off, kChunk));
    if (!image_->write(sector * kSector + off, chunk_.data(), n)) return S_IOERR;
    off += n;
  }
  return S_OK;
}

void VirtioBlk::save(SnapshotWriter& w) const {
  w.begin_section("VBLK", 1);
  w.u64(image_->size());
  save_transport(w);
  w.end_section();
}

void VirtioBlk::load(SnapshotReader& r) {
  r.begin_section("VBLK", 1);
  r.check(r.u64() == image_->size(), "virtio-blk disk size differs");
  load_transport(r);
  r.end_section();
}

}  // namespace vx86
