#include "devices/virtio/virtio_pci.h"

#include "devices/snapshot.h"

namespace vx86 {

using namespace virtio;

namespace {

uint32_t pow2_at_least(uint32_t v) {
  uint32_t p = 4;
  while (p < v) p <<= 1;
  return p;
}

struct Field {
  uint32_t off;
  unsigned width;
};

// The common configuration's fields (4.1.4.3) and the legacy BAR's registers (4.1.4.10).
constexpr Field kCommonFields[] = {
    {kCommonDeviceFeatureSelect, 4}, {kCommonDeviceFeature, 4},    {kCommonDriverFeatureSelect, 4},
    {kCommonDriverFeature, 4},       {kCommonMsixConfig, 2},       {kCommonNumQueues, 2},
    {kCommonDeviceStatus, 1},        {kCommonConfigGeneration, 1}, {kCommonQueueSelect, 2},
    {kCommonQueueSize, 2},           {kCommonQueueMsixVector, 2},  {kCommonQueueEnable, 2},
    {kCommonQueueNotifyOff, 2},      {kCommonQueueDesc, 8},        {kCommonQueueDriver, 8},
    {kCommonQueueDevice, 8},
};
constexpr Field kLegacyFields[] = {
    {kLegacyHostFeatures, 4}, {kLegacyGuestFeatures, 4}, {kLegacyQueuePfn, 4}, {kLegacyQueueNum, 2},
    {kLegacyQueueSel, 2},     {kLegacyQueueNotify, 2},   {kLegacyStatus, 1},   {kLegacyIsr, 1},
};

// An access of `size` bytes at `off` over registers of various widths: reads assemble the bytes
// of every register they touch, writes merge their bytes into each register touched (drivers use
// the registers' own widths, 64-bit ones as two halves; anything else still means something).
template <class Get>
uint32_t read_fields(const Field* fields, size_t n, uint32_t off, unsigned size, Get get) {
  uint32_t v = 0;
  for (unsigned i = 0; i < size; ++i) {
    const uint32_t o = off + i;
    for (size_t k = 0; k < n; ++k)
      if (o >= fields[k].off && o < fields[k].off + fields[k].width)
        v |= static_cast<uint32_t>((get(fields[k]) >> (8 * (o - fields[k].off))) & 0xFF) << (8 * i);
  }
  return v;
}

template <class Get, class Set>
void write_fields(const Field* fields, size_t n, uint32_t off, uint32_t value, unsigned size, Get get,
                  Set set) {
  for (size_t k = 0; k < n; ++k) {
    const Field& f = fields[k];
    if (off + size <= f.off || off >= f.off + f.width) continue;
    uint64_t v = get(f);
    for (unsigned i = 0; i < size; ++i) {
      const uint32_t o = off + i;
      if (o < f.off || o >= f.off + f.width) continue;
      const unsigned sh = 8 * (o - f.off);
      v = (v & ~(uint64_t{0xFF} << sh)) | (uint64_t{(value >> (8 * i)) & 0xFF} << sh);
    }
    set(f, v);
  }
}

}  // namespace

VirtioPciDevice::VirtioPciDevice(PhysicalMemory& mem, uint16_t device_type, uint16_t transitional_id,
                                 uint32_t class_code, unsigned num_queues, uint16_t queue_max,
                                 uint32_t config_size)
    : PciDevice(kVendor, transitional_id, 0, class_code),  // revision 0: transitional (4.1.2.1)
      dma_(mem),
      queue_max_(queue_max),
      config_size_(config_size),
      legacy_size_(pow2_at_least(kLegacyConfig + config_size)),
      queues_(num_queues) {
  dma_.on_write = [this](uint32_t addr, uint32_t len) {
    if (on_dma_write) on_dma_write(addr, len);
  };
  define_bar(kLegacyBar, legacy_size_, true);
  define_bar(kModernBar, kModernSize, false);
  set_default16(0x2C, kVendor);  // subsystem: the virtio device type (what legacy drivers match)
  set_default16(0x2E, device_type);
  set_default8(0x3D, 1);                   // INTA
  set_default16(0x06, 0x0010, 0, 0xF900);  // a capabilities list
  set_default8(0x34, 0x40);
  // The four vendor capabilities of the modern interface (4.1.4), all in BAR4.
  auto cap = [&](unsigned at, uint8_t next, uint8_t type, uint32_t offset, uint32_t length, uint8_t len) {
    set_default8(at, 0x09);
    set_default8(at + 1, next);
    set_default8(at + 2, len);
    set_default8(at + 3, type);
    set_default8(at + 4, kModernBar);
    set_default32(at + 8, offset);
    set_default32(at + 12, length);
  };
  cap(0x40, 0x50, kCapCommonCfg, kCommonOffset, kCommonSize, 16);
  cap(0x50, 0x60, kCapIsrCfg, kIsrOffset, 1, 16);
  cap(0x60, 0x70, kCapDeviceCfg, kDeviceOffset, config_size, 16);
  cap(0x70, 0x00, kCapNotifyCfg, kNotifyOffset, kNotifyMultiplier * num_queues, 20);
  set_default32(0x80, kNotifyMultiplier);
  cfg_ = defaults_;
  for (Virtqueue& q : queues_) q.reset(queue_max_);
}

void VirtioPciDevice::reset() {
  PciDevice::reset();
  virtio_reset();
}

void VirtioPciDevice::virtio_reset() {
  for (Virtqueue& q : queues_) q.reset(queue_max_);
  status_ = 0;
  isr_ = 0;
  device_feature_select_ = driver_feature_select_ = 0;
  driver_features_ = 0;
  queue_select_ = 0;
  device_reset();
  update_irq();
}

void VirtioPciDevice::bar_changed(unsigned index, const PciBar& old_bar, const PciBar& new_bar) {
  if (index == kLegacyBar && ports_) {
    if (old_bar.enabled)
      ports_->attach(static_cast<uint16_t>(old_bar.base), static_cast<uint16_t>(old_bar.size), nullptr);
    if (new_bar.enabled)
      ports_->attach(static_cast<uint16_t>(new_bar.base), static_cast<uint16_t>(new_bar.size), this);
  }
  PciDevice::bar_changed(index, old_bar, new_bar);
}

// ---- interrupts, errors ----

void VirtioPciDevice::set_isr(uint8_t bits) {
  isr_ |= bits;
  update_irq();
}

void VirtioPciDevice::update_irq() { set_intx(isr_ != 0); }

uint8_t VirtioPciDevice::read_isr() {
  const uint8_t v = isr_;
  isr_ = 0;
  update_irq();
  return v;
}

void VirtioPciDevice::device_error() {
  ++device_errors_;
  if (status_ & kStatusNeedsReset) return;
  status_ |= kStatusNeedsReset;
  if (status_ & kStatusDriverOk) set_isr(kIsrConfig);
}

void VirtioPciDevice::config_changed() {
  ++config_generation_;
  if (status_ & kStatusDriverOk) set_isr(kIsrConfig);
}

// ---- queues ----

bool VirtioPciDevice::queues_usable() const {
  if (status_ & (kStatusNeedsReset | kStatusFailed)) return false;
  // Legacy drivers may use the queues once DRIVER is set (4.1.4.10: they predate DRIVER_OK rules).
  return (status_ & kStatusDriverOk) || (!negotiated(kFeatureVersion1) && (status_ & kStatusDriver));
}

void VirtioPciDevice::notify(uint32_t q) {
  if (q >= queues_.size() || !queues_[q].enabled() || !queues_usable()) return;
  queue_notified(q);
}

Virtqueue::Pop VirtioPciDevice::pop(unsigned q, VirtqChain& out) {
  Virtqueue& v = queues_[q];
  if (!queues_usable()) return Virtqueue::Pop::Empty;
  v.indirect = negotiated(kFeatureRingIndirectDesc);
  v.event_idx = negotiated(kFeatureRingEventIdx);
  const Virtqueue::Pop r = v.pop(dma_, out);
  if (r == Virtqueue::Pop::Error) device_error();
  return r;
}

void VirtioPciDevice::push(unsigned q, uint16_t head, uint32_t len) {
  if (!queues_[q].push(dma_, head, len)) device_error();
}

void VirtioPciDevice::interrupt_if_wanted(unsigned q) {
  Virtqueue& v = queues_[q];
  v.event_idx = negotiated(kFeatureRingEventIdx);
  const bool want = v.should_interrupt(dma_);
  if (v.broken()) device_error();
  if (want) set_isr(kIsrQueue);
}

// ---- status and features ----

void VirtioPciDevice::write_status(uint8_t v, bool legacy) {
  if (v == 0) {
    virtio_reset();
    return;
  }
  if (!legacy && (v & kStatusFeaturesOk) && !(status_ & kStatusFeaturesOk)) {
    // 3.1.1: accepted only if the driver took nothing that was not offered; the modern interface
    // needs VERSION_1 (drivers without it use the legacy BAR).
    const bool ok = !(driver_features_ & ~device_features()) && negotiated(kFeatureVersion1);
    if (!ok) v &= static_cast<uint8_t>(~kStatusFeaturesOk);
  }
  status_ = static_cast<uint8_t>(v | (status_ & kStatusNeedsReset));
}

// ---- the modern interface (BAR4) ----

uint64_t VirtioPciDevice::common_field(uint32_t off, unsigned width) const {
  (void)width;
  const bool have_q = queue_select_ < queues_.size();
  const Virtqueue* q = have_q ? &queues_[queue_select_] : nullptr;
  switch (off) {
    case kCommonDeviceFeatureSelect:
      return device_feature_select_;
    case kCommonDeviceFeature:
      return device_feature_select_ < 2
                 ? static_cast<uint32_t>(device_features() >> (32 * device_feature_select_))
                 : 0;
    case kCommonDriverFeatureSelect:
      return driver_feature_select_;
    case kCommonDriverFeature:
      return driver_feature_select_ < 2
                 ? static_cast<uint32_t>(driver_features_ >> (32 * driver_feature_select_))
                 : 0;
    case kCommonMsixConfig:
      return kNoVector;
    case kCommonNumQueues:
      return queues_.size();
    case kCommonDeviceStatus:
      return status_;
    case kCommonConfigGeneration:
      return config_generation_;
    case kCommonQueueSelect:
      return queue_select_;
    case kCommonQueueSize:
      return q ? q->size : 0;
    case kCommonQueueMsixVector:
      return kNoVector;
    case kCommonQueueEnable:
      return q && q->enabled() ? 1 : 0;
    case kCommonQueueNotifyOff:
      return have_q ? queue_select_ : 0;
    case kCommonQueueDesc:
      return q ? q->desc_addr : 0;
    case kCommonQueueDriver:
      return q ? q->avail_addr : 0;
    case kCommonQueueDevice:
      return q ? q->used_addr : 0;
    default:
      return 0;
  }
}

void VirtioPciDevice::common_write_field(uint32_t off, uint64_t v) {
  Virtqueue* q = queue_select_ < queues_.size() ? &queues_[queue_select_] : nullptr;
  // A queue's configuration is fixed while it is enabled (4.1.4.3.2).
  Virtqueue* qc = q && !q->enabled() ? q : nullptr;
  switch (off) {
    case kCommonDeviceFeatureSelect:
      device_feature_select_ = static_cast<uint32_t>(v);
      break;
    case kCommonDriverFeatureSelect:
      driver_feature_select_ = static_cast<uint32_t>(v);
      break;
    case kCommonDriverFeature:
      if (driver_feature_select_ < 2 && !(status_ & kStatusFeaturesOk)) {
        const unsigned sh = 32 * driver_feature_select_;
        driver_features_ =
            (driver_features_ & ~(uint64_t{0xFFFFFFFF} << sh)) | (uint64_t{static_cast<uint32_t>(v)} << sh);
      }
      break;
    case kCommonDeviceStatus:
      write_status(static_cast<uint8_t>(v), false);
      break;
    case kCommonQueueSelect:
      queue_select_ = static_cast<uint16_t>(v);
      break;
    case kCommonQueueSize:
      if (qc) qc->size = static_cast<uint16_t>(v);
      break;
    case kCommonQueueEnable:
      if (qc && (v & 0xFFFF) == 1 && !qc->enable(queue_max_)) device_error();
      break;
    case kCommonQueueDesc:
      if (qc) qc->desc_addr = v;
      break;
    case kCommonQueueDriver:
      if (qc) qc->avail_addr = v;
      break;
    case kCommonQueueDevice:
      if (qc) qc->used_addr = v;
      break;
    default:
      break;  // read-only, or MSI-X vectors (none: they read NO_VECTOR)
  }
}

uint32_t VirtioPciDevice::common_read(uint32_t off, unsigned size) const {
  return read_fields(kCommonFields, std::size(kCommonFields), off, size,
                     [this](const Field& f) { return common_field(f.off, f.width); });
}

void VirtioPciDevice::common_write(uint32_t off, uint32_t value, unsigned size) {
  write_fields(
      kCommonFields, std::size(kCommonFields), off, value, size,
      [this](const Field& f) { return common_field(f.off, f.width); },
      [this](const Field& f, uint64_t v) { common_write_field(f.off, v); });
}

uint32_t VirtioPciDevice::config_read_bytes(uint32_t off, unsigned size) {
  uint32_t v = 0;
  for (unsigned i = 0; i < size; ++i)
    if (off + i < config_size_) v |= uint32_t{device_config_byte(off + i)} << (8 * i);
  return v;
}

uint32_t VirtioPciDevice::mmio_read(uint32_t addr, unsigned size) {
  const uint32_t off = addr & (kModernSize - 1);
  if (off < kIsrOffset) return common_read(off - kCommonOffset, size);
  if (off < kDeviceOffset) return off == kIsrOffset ? read_isr() : 0;  // reading clears it (4.1.4.5)
  if (off < kNotifyOffset) return config_read_bytes(off - kDeviceOffset, size);
  return 0;
}

void VirtioPciDevice::mmio_write(uint32_t addr, uint32_t value, unsigned size) {
  const uint32_t off = addr & (kModernSize - 1);
  if (off < kIsrOffset) {
    common_write(off - kCommonOffset, value, size);
  } else if (off < kDeviceOffset) {
    // The ISR status is read-only.
  } else if (off < kNotifyOffset) {
    if (off - kDeviceOffset < config_size_) device_config_write(off - kDeviceOffset, value, size);
  } else {
    // The address names the queue (queue_notify_off * multiplier); the value is its index.
    notify((off - kNotifyOffset) / kNotifyMultiplier);
  }
}

// ---- the legacy interface (BAR0) ----

uint32_t VirtioPciDevice::legacy_read(uint32_t off, unsigned size) {
  if (off >= kLegacyConfig) return config_read_bytes(off - kLegacyConfig, size);
  const Virtqueue* q = queue_select_ < queues_.size() ? &queues_[queue_select_] : nullptr;
  uint32_t v =
      read_fields(kLegacyFields, std::size(kLegacyFields), off, size, [&](const Field& f) -> uint64_t {
        switch (f.off) {
          case kLegacyHostFeatures:
            return static_cast<uint32_t>(device_features());
          case kLegacyGuestFeatures:
            return static_cast<uint32_t>(driver_features_);
          case kLegacyQueuePfn:
            return q && q->enabled() ? q->desc_addr / kLegacyQueueAlign : 0;
          case kLegacyQueueNum:
            return q ? queue_max_ : 0;
          case kLegacyQueueSel:
            return queue_select_;
          case kLegacyStatus:
            return status_;
          default:
            return 0;
        }
      });
  if (off <= kLegacyIsr && off + size > kLegacyIsr) v |= uint32_t{read_isr()} << (8 * (kLegacyIsr - off));
  return v;
}

void VirtioPciDevice::legacy_write(uint32_t off, uint32_t value, unsigned size) {
  if (off >= kLegacyConfig) {
    if (off - kLegacyConfig < config_size_) device_config_write(off - kLegacyConfig, value, size);
    return;
  }
  write_fields(
      kLegacyFields, std::size(kLegacyFields), off, value, size,
      [&](const Field& f) -> uint64_t {
        return f.off == kLegacyGuestFeatures ? static_cast<uint32_t>(driver_features_) : 0;
      },
      [&](const Field& f, uint64_t v) {
        switch (f.off) {
          case kLegacyGuestFeatures:
            // Legacy drivers see only the low 32 bits (never VERSION_1); what was not offered is dropped.
            if (!(status_ & kStatusDriverOk)) driver_features_ = v & device_features() & 0xFFFFFFFFu;
            break;
          case kLegacyQueuePfn:
            if (queue_select_ < queues_.size() &&
                !queues_[queue_select_].enable_legacy(static_cast<uint32_t>(v), queue_max_))
              device_error();
            break;
          case kLegacyQueueSel:
            queue_select_ = static_cast<uint16_t>(v);
            break;
          case kLegacyQueueNotify:
            notify(static_cast<uint16_t>(v));
            break;
          case kLegacyStatus:
            write_status(static_cast<uint8_t>(v), true);
            break;
          default:
            break;
        }
      });
}

uint32_t VirtioPciDevice::io_read(uint16_t port, unsigned size) {
  const PciBar b = bar(kLegacyBar);
  return legacy_read(static_cast<uint32_t>(port - b.base) & (legacy_size_ - 1), size);
}

void VirtioPciDevice::io_write(uint16_t port, uint32_t value, unsigned size) {
  const PciBar b = bar(kLegacyBar);
  legacy_write(static_cast<uint32_t>(port - b.base) & (legacy_size_ - 1), value, size);
}

// ---- snapshots ----

void VirtioPciDevice::save_transport(SnapshotWriter& w) const {
  w.begin_section("VPCI", 1);
  save_config(w);
  w.u8(status_);
  w.u8(isr_);
  w.u8(config_generation_);
  w.u32(device_feature_select_);
  w.u32(driver_feature_select_);
  w.u64(driver_features_);
  w.u16(queue_select_);
  w.u32(static_cast<uint32_t>(queues_.size()));
  for (const Virtqueue& q : queues_) q.save(w);
  w.end_section();
}

void VirtioPciDevice::load_transport(SnapshotReader& r) {
  r.begin_section("VPCI", 1);
  load_config(r);
  const uint8_t status = r.u8();
  const uint8_t isr = r.u8_max(kIsrQueue | kIsrConfig, "virtio ISR status");
  const uint8_t gen = r.u8();
  const uint32_t dsel = r.u32(), gsel = r.u32();
  const uint64_t features = r.u64();
  r.check(!(features & ~device_features()), "virtio driver features not offered by the device");
  const uint16_t qsel = r.u16();
  r.check(r.u32() == queues_.size(), "virtio queue count differs");
  std::vector<Virtqueue> queues(queues_.size());
  for (Virtqueue& q : queues) q.load(r, queue_max_);
  r.end_section();
  apply_loaded_config();
  status_ = status;
  isr_ = isr;
  config_generation_ = gen;
  device_feature_select_ = dsel;
  driver_feature_select_ = gsel;
  driver_features_ = features;
  queue_select_ = qsel;
  queues_ = std::move(queues);
  set_intx(false);
  update_irq();
}

}  // namespace vx86
