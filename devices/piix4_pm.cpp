#include "devices/piix4_pm.h"

#include "devices/snapshot.h"

namespace vx86 {

namespace {
constexpr unsigned kPmba = 0x40, kDevactb = 0x58, kPmregmisc = 0x80;
constexpr uint16_t kSciSources = Piix4Pm::STS_TMR | Piix4Pm::STS_GBL | Piix4Pm::STS_PWRBTN | Piix4Pm::STS_RTC;
constexpr uint64_t kNsPerSec = 1'000'000'000;
}  // namespace

Piix4Pm::Piix4Pm(Clock& clock) : PciDevice(0x8086, 0x7113, 0x03, 0x068000), clock_(clock) {
  set_default16(0x04, 0x0000, 0x0001);
  set_default16(0x06, 0x0280, 0, 0x3000 | 0xF900);
  set_default8(0x3C, 0x00, 0xFF);  // interrupt line
  set_default8(0x3D, 0x01);        // INTA (the SCI itself is ISA IRQ 9)
  set_default32(kPmba, 0x00000001, 0x0000FFC0);
  set_default32(0x5C, 0x00000000, 0xFFFFFFFF);    // DEVACTA
  set_default32(kDevactb, 1u << 25, 0xFDFFFFFF);  // APMC_EN: set, read-only (no SMM)
  set_default8(kPmregmisc, 0x00, 0x01);
  set_default32(0x90, 0x00000001, 0x0000FFF0);  // SMBBA
  set_default8(0xD2, 0x00, 0x0F);               // SMBHSTCFG
  cfg_ = defaults_;
}

Piix4Pm::~Piix4Pm() { clock_.cancel(tmr_event_); }

void Piix4Pm::reset() {
  PciDevice::reset();
  clock_.cancel(tmr_event_);
  tmr_event_ = 0;
  sts_ = 0;
  en_ = 0;
  cnt_ = CNT_SCI_EN;
  tmr_half_ = ticks() >> 23;
  update_decode();
  update_sci();
}

void Piix4Pm::enable_like_bios(uint16_t base) {
  config_write(kPmba, base | 1u, 4);
  config_write(kPmregmisc, 0x01, 1);
  config_write(0x3C, 9, 1);
}

uint64_t Piix4Pm::ticks() const {
  return static_cast<uint64_t>(static_cast<unsigned __int128>(clock_.now()) * kTimerHz / kNsPerSec);
}

uint32_t Piix4Pm::timer() const { return static_cast<uint32_t>(ticks() & 0xFFFFFF); }

void Piix4Pm::latch_timer_status() {
  const uint64_t half = ticks() >> 23;
  if (half != tmr_half_) {
    sts_ |= STS_TMR;
    tmr_half_ = half;
  }
}

void Piix4Pm::update_sci() {
  const bool level = (cnt_ & CNT_SCI_EN) && (sts_ & en_ & kSciSources);
  if (level == sci_level_) return;
  sci_level_ = level;
  if (sci) sci(level);
}

// With TMR_EN set the SCI must come when bit 23 changes, not only when the guest next looks.
void Piix4Pm::arm_timer_event() {
  clock_.cancel(tmr_event_);
  tmr_event_ = 0;
  if (!(en_ & STS_TMR)) return;
  const uint64_t next_tick = (tmr_half_ + 1) << 23;
  const uint64_t deadline = static_cast<uint64_t>(
      (static_cast<unsigned __int128>(next_tick) * kNsPerSec + kTimerHz - 1) / kTimerHz);
  tmr_event_ = clock_.schedule(deadline, [this] {
    tmr_event_ = 0;
    latch_timer_status();
    update_sci();
    arm_timer_event();
  });
}

void Piix4Pm::press_power_button() {
  sts_ |= STS_PWRBTN;
  update_sci();
}

void Piix4Pm::config_written(unsigned offset, unsigned size) {
  (void)offset;
  (void)size;
  update_decode();
}

void Piix4Pm::update_decode() {
  const uint16_t base = (cfg8(kPmregmisc) & 1) ? static_cast<uint16_t>(cfg32(kPmba) & 0xFFC0) : 0;
  if (base == decoded_) return;
  if (ports_ && decoded_) ports_->attach(decoded_, acpi_pm::kBlockSize, nullptr);
  decoded_ = base;
  if (ports_ && decoded_) ports_->attach(decoded_, acpi_pm::kBlockSize, this);
}

uint8_t Piix4Pm::read_byte(unsigned off, uint32_t tmr) {
  switch (off) {
    case 0:
    case 1:
      return static_cast<uint8_t>(sts_ >> (8 * (off & 1)));
    case 2:
    case 3:
      return static_cast<uint8_t>(en_ >> (8 * (off & 1)));
    case 4:
    case 5:
      return static_cast<uint8_t>(cnt_ >> (8 * (off & 1)));  // SLP_EN reads 0
    case 8:
    case 9:
    case 10:
    case 11:
      return static_cast<uint8_t>(tmr >> (8 * (off - 8)));
    default:
      return 0;  // the general-purpose and device registers: not modelled
  }
}

void Piix4Pm::write_byte(unsigned off, uint8_t v) {
  const unsigned shift = 8 * (off & 1);
  switch (off) {
    case 0:
    case 1:
      latch_timer_status();
      sts_ = static_cast<uint16_t>(sts_ & ~(uint16_t{v} << shift));
      break;
    case 2:
    case 3:
      en_ = static_cast<uint16_t>((en_ & ~(0xFFu << shift)) | (uint16_t{v} << shift));
      en_ &= kSciSources;
      latch_timer_status();
      arm_timer_event();
      break;
    case 4:
    case 5: {
      const uint16_t w = static_cast<uint16_t>((cnt_ & ~(0xFFu << shift)) | (uint16_t{v} << shift));
      cnt_ = static_cast<uint16_t>((w & (CNT_SLP_TYP | 0x0006)) | CNT_SCI_EN);
      if ((w & CNT_SLP_EN) && ((w & CNT_SLP_TYP) >> 10) == 0 && on_power_off) on_power_off();
      break;
    }
    default:
      break;
  }
}

uint32_t Piix4Pm::io_read(uint16_t port, unsigned size) {
  const unsigned off = static_cast<unsigned>(port - decoded_);
  if (!decoded_ || off >= acpi_pm::kBlockSize) return size == 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
  if (off < 2) latch_timer_status();
  const uint32_t tmr = timer();
  uint32_t v = 0;
  for (unsigned i = 0; i < size && off + i < acpi_pm::kBlockSize; ++i)
    v |= uint32_t{read_byte(off + i, tmr)} << (8 * i);
  return v;
}

void Piix4Pm::io_write(uint16_t port, uint32_t value, unsigned size) {
  const unsigned off = static_cast<unsigned>(port - decoded_);
  if (!decoded_ || off >= acpi_pm::kBlockSize) return;
  for (unsigned i = 0; i < size && off + i < acpi_pm::kBlockSize; ++i)
    write_byte(off + i, static_cast<uint8_t>(value >> (8 * i)));
  update_sci();
}

void Piix4Pm::save(SnapshotWriter& w) const {
  w.begin_section("PIX4", 1);
  save_config(w);
  w.u16(sts_);
  w.u16(en_);
  w.u16(cnt_);
  w.u64(tmr_half_);
  w.end_section();
}

void Piix4Pm::load(SnapshotReader& r) {
  r.begin_section("PIX4", 1);
  load_config(r);
  const uint16_t sts = r.u16(), en = r.u16(), cnt = r.u16();
  const uint64_t half = r.u64();
  r.check((sts & ~(STS_TMR | STS_BM | STS_GBL | STS_PWRBTN | STS_RTC | STS_WAK)) == 0,
          "PM1 status has undefined bits");
  r.check((en & ~kSciSources) == 0, "PM1 enable has undefined bits");
  r.check((cnt & ~(CNT_SLP_TYP | 0x0006 | CNT_SCI_EN)) == 0 && (cnt & CNT_SCI_EN),
          "PM1 control out of range");
  r.end_section();
  apply_loaded_config();
  sts_ = sts;
  en_ = en;
  cnt_ = cnt;
  tmr_half_ = half;
  update_decode();
  arm_timer_event();
  update_sci();
}

}  // namespace vx86
