// Constants of the virtio 1.2 specification (OASIS, "Virtual I/O Device Version 1.2") that the
// PCI transport, the split virtqueue and the devices share.
#pragma once
#include <cstdint>

namespace vx86::virtio {

// Device status (2.1).
enum : uint8_t {
  kStatusAcknowledge = 1,
  kStatusDriver = 2,
  kStatusDriverOk = 4,
  kStatusFeaturesOk = 8,
  kStatusNeedsReset = 0x40,
  kStatusFailed = 0x80,
};

// Feature bits common to every device type (6).
constexpr unsigned kFeatureRingIndirectDesc = 28;
constexpr unsigned kFeatureRingEventIdx = 29;
constexpr unsigned kFeatureVersion1 = 32;
constexpr uint64_t bit(unsigned n) { return uint64_t{1} << n; }

// Split virtqueue descriptor flags (2.7.5) and ring flags (2.7.6, 2.7.8).
enum : uint16_t { kDescNext = 1, kDescWrite = 2, kDescIndirect = 4 };
enum : uint16_t { kAvailNoInterrupt = 1, kUsedNoNotify = 1 };

// ISR status bits (4.1.4.5).
enum : uint8_t { kIsrQueue = 1, kIsrConfig = 2 };

// PCI vendor capability types (4.1.4).
enum : uint8_t { kCapCommonCfg = 1, kCapNotifyCfg = 2, kCapIsrCfg = 3, kCapDeviceCfg = 4, kCapPciCfg = 5 };

// Common configuration structure offsets (4.1.4.3).
enum : uint32_t {
  kCommonDeviceFeatureSelect = 0x00,
  kCommonDeviceFeature = 0x04,
  kCommonDriverFeatureSelect = 0x08,
  kCommonDriverFeature = 0x0C,
  kCommonMsixConfig = 0x10,
  kCommonNumQueues = 0x12,
  kCommonDeviceStatus = 0x14,
  kCommonConfigGeneration = 0x15,
  kCommonQueueSelect = 0x16,
  kCommonQueueSize = 0x18,
  kCommonQueueMsixVector = 0x1A,
  kCommonQueueEnable = 0x1C,
  kCommonQueueNotifyOff = 0x1E,
  kCommonQueueDesc = 0x20,
  kCommonQueueDriver = 0x28,
  kCommonQueueDevice = 0x30,
  kCommonSize = 0x38,
};

// The legacy (0.9.5) I/O BAR layout without MSI-X (4.1.4.10).
enum : uint32_t {
  kLegacyHostFeatures = 0x00,
  kLegacyGuestFeatures = 0x04,
  kLegacyQueuePfn = 0x08,
  kLegacyQueueNum = 0x0C,
  kLegacyQueueSel = 0x0E,
  kLegacyQueueNotify = 0x10,
  kLegacyStatus = 0x12,
  kLegacyIsr = 0x13,
  kLegacyConfig = 0x14,
};
constexpr uint32_t kLegacyQueueAlign = 4096;  // the legacy ring's used part starts on a page

constexpr uint16_t kNoVector = 0xFFFF;  // MSI-X vector registers without MSI-X

}  // namespace vx86::virtio
