#include "devices/cmos_rtc.h"

#include <algorithm>
#include <chrono>

#include "devices/snapshot.h"

namespace vx86 {

namespace {
using u128 = unsigned __int128;
constexpr uint64_t kSecond = 1000000000;
constexpr uint64_t kUipWindowNs = 244000;  // UIP rises 244 us before each update

// Days since 1970-01-01 <-> proleptic Gregorian date (H. Hinnant's algorithms).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}
void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  d = static_cast<unsigned>(doy - (153 * mp + 2) / 5 + 1);
  m = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
  y = yoe + era * 400 + (m <= 2);
}
uint64_t units_32k(uint64_t ns) { return static_cast<uint64_t>(u128{ns} * 32768 / kSecond); }
uint64_t ns_of_units_32k(uint64_t u) { return static_cast<uint64_t>((u128{u} * kSecond + 32767) / 32768); }
}  // namespace

CmosRtc::CmosRtc(Clock& clock, std::optional<int64_t> fixed_epoch) : clock_(clock) {
  ram_[0x0A] = 0x26;  // 32.768 kHz time base, 1024 Hz periodic rate
  ram_[0x0B] = B_24H;
  ram_[0x0C] = 0;
  ram_[0x0D] = 0x80;  // VRT: the battery is good
  ram_[0x14] = 0x06;  // equipment: FPU, PS/2 mouse, VGA, no floppy
  set_memory(0, 0);
  uint64_t start;
  if (fixed_epoch) {
    start = *fixed_epoch > 0 ? static_cast<uint64_t>(*fixed_epoch) * kSecond : 0;
  } else {
    auto host = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
    start = host > 0 ? static_cast<uint64_t>(host) : 0;
  }
  const uint64_t now = clock_.now();
  checked_virt_ = now;
  rebase(start);
  encode_time(start / kSecond);
}

CmosRtc::~CmosRtc() { clock_.cancel(event_); }

void CmosRtc::attach(PortBus& bus) { bus.attach(0x70, 2, this); }

void CmosRtc::reset() {
  update_flags();
  ram_[0x0B] &= static_cast<uint8_t>(~(B_PIE | B_AIE | B_UIE | 0x08));
  ram_[0x0C] = 0;
  update_irq();
  schedule();
}

bool CmosRtc::running() const {
  return !(ram_[0x0B] & B_SET) && ((ram_[0x0A] >> 4) & 6) != 6;
}

uint64_t CmosRtc::guest_ns() const {
  if (!running()) return base_guest_ns_;
  const uint64_t now = clock_.now();
  return base_guest_ns_ + (now > base_virt_ ? now - base_virt_ : 0);
}

void CmosRtc::rebase(uint64_t g) {
  base_guest_ns_ = g;
  base_virt_ = clock_.now();
  checked_guest_ = g;
}

uint8_t CmosRtc::to_reg(unsigned v) const {
  if (ram_[0x0B] & B_DM) return static_cast<uint8_t>(v);
  return static_cast<uint8_t>(((v / 10 % 10) << 4) | (v % 10));
}

unsigned CmosRtc::from_reg(uint8_t v) const {
  if (ram_[0x0B] & B_DM) return v;
  return (v >> 4) * 10u + (v & 0xF);
}

uint8_t CmosRtc::hour_reg(unsigned h) const {
  if (ram_[0x0B] & B_24H) return to_reg(h);
  unsigned h12 = h % 12 == 0 ? 12 : h % 12;
  return static_cast<uint8_t>(to_reg(h12) | (h >= 12 ? 0x80 : 0));
}

void CmosRtc::encode_time(uint64_t secs) {
  const int64_t days = static_cast<int64_t>(secs / 86400);
  const unsigned sod = static_cast<unsigned>(secs % 86400);
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  ram_[0x00] = to_reg(sod % 60);
  ram_[0x02] = to_reg(sod / 60 % 60);
  ram_[0x04] = hour_reg(sod / 3600);
  ram_[0x06] = to_reg(static_cast<unsigned>((days + 4) % 7) + 1);  // 1970-01-01 was a Thursday; Sunday = 1
  ram_[0x07] = to_reg(d);
  ram_[0x08] = to_reg(m);
  ram_[0x09] = to_reg(static_cast<unsigned>(y % 100));
  ram_[0x32] = to_reg(static_cast<unsigned>(y / 100));
}

uint64_t CmosRtc::decode_time() const {
  unsigned sec = std::min(from_reg(ram_[0x00]), 59u);
  unsigned min = std::min(from_reg(ram_[0x02]), 59u);
  unsigned hour;
  if (ram_[0x0B] & B_24H) {
    hour = from_reg(ram_[0x04]);
  } else {
    hour = from_reg(ram_[0x04] & 0x7F) % 12 + ((ram_[0x04] & 0x80) ? 12 : 0);
  }
  hour = std::min(hour, 23u);
  unsigned day = std::clamp(from_reg(ram_[0x07]), 1u, 31u);
  unsigned mon = std::clamp(from_reg(ram_[0x08]), 1u, 12u);
  int64_t year = int64_t{from_reg(ram_[0x32])} * 100 + from_reg(ram_[0x09]);
  int64_t days = days_from_civil(year, mon, day);
  int64_t s = days * 86400 + hour * 3600 + min * 60 + sec;
  return s > 0 ? static_cast<uint64_t>(s) : 0;
}

void CmosRtc::set_time(int64_t unix_seconds) {
  update_flags();
  uint64_t g = unix_seconds > 0 ? static_cast<uint64_t>(unix_seconds) * kSecond : 0;
  if (running()) {
    rebase(g);
  } else {
    base_guest_ns_ = g;
    checked_guest_ = g;
  }
  encode_time(g / kSecond);
  schedule();
}

int64_t CmosRtc::time_seconds() const { return static_cast<int64_t>(guest_ns() / kSecond); }

bool CmosRtc::alarm_matches(uint64_t secs) const {
  const unsigned sod = static_cast<unsigned>(secs % 86400);
  auto match = [](uint8_t alarm, uint8_t value) { return (alarm & 0xC0) == 0xC0 || alarm == value; };
  return match(ram_[0x01], to_reg(sod % 60)) && match(ram_[0x03], to_reg(sod / 60 % 60)) &&
         match(ram_[0x05], hour_reg(sod / 3600));
}

uint64_t CmosRtc::period_units() const {
  const unsigned rate = ram_[0x0A] & 0x0F;
  if (rate == 0 || ((ram_[0x0A] >> 4) & 6) == 6) return 0;
  if (rate <= 2) return uint64_t{1} << (rate + 6);  // rates 1 and 2 are 256 Hz and 128 Hz
  return uint64_t{1} << (rate - 1);
}

void CmosRtc::update_flags() {
  const uint64_t now = clock_.now();
  if (uint64_t p = period_units(); p && now > checked_virt_) {
    if (units_32k(now) / p > units_32k(checked_virt_) / p) ram_[0x0C] |= C_PF;
  }
  checked_virt_ = std::max(checked_virt_, now);
  if (running()) {
    const uint64_t g = guest_ns();
    const uint64_t s_now = g / kSecond, s_last = checked_guest_ / kSecond;
    if (g > checked_guest_ && s_now > s_last) {
      ram_[0x0C] |= C_UF;
      // Every update in (s_last, s_now] could match the alarm; a day covers every combination.
      const uint64_t from = std::max(s_last + 1, s_now >= 86399 ? s_now - 86399 : 0);
      for (uint64_t s = from; s <= s_now; ++s)
        if (alarm_matches(s)) {
          ram_[0x0C] |= C_AF;
          break;
        }
    }
    checked_guest_ = std::max(checked_guest_, g);
  }
  update_irq();
}

void CmosRtc::update_irq() {
  if (ram_[0x0C] & ram_[0x0B] & (C_PF | C_AF | C_UF))
    ram_[0x0C] |= C_IRQF;
  else
    ram_[0x0C] &= static_cast<uint8_t>(~C_IRQF);
  const bool level = (ram_[0x0C] & C_IRQF) != 0;
  if (level != irq_level_) {
    irq_level_ = level;
    if (irq) irq(level);
  }
}

void CmosRtc::schedule() {
  clock_.cancel(event_);
  event_ = 0;
  const uint64_t now = clock_.now();
  uint64_t next = Clock::kNever;
  if (uint64_t p = period_units(); p && (ram_[0x0B] & B_PIE)) {
    next = ns_of_units_32k((units_32k(now) / p + 1) * p);
  }
  if ((ram_[0x0B] & (B_AIE | B_UIE)) && running()) {
    const uint64_t g = guest_ns();
    const uint64_t boundary = (g / kSecond + 1) * kSecond;
    next = std::min(next, now + (boundary - g));
  }
  if (next == Clock::kNever) return;
  event_ = clock_.schedule(next, [this] {
    event_ = 0;
    update_flags();
    schedule();
  });
}

void CmosRtc::update_checksum() {
  unsigned sum = 0;
  for (unsigned i = 0x10; i <= 0x2D; ++i) sum += ram_[i];
  ram_[0x2E] = static_cast<uint8_t>(sum >> 8);
  ram_[0x2F] = static_cast<uint8_t>(sum);
}

void CmosRtc::set_byte(uint8_t index, uint8_t v) {
  index &= 0x7F;
  ram_[index] = v;
  if (index >= 0x10 && index <= 0x2D) update_checksum();
}

void CmosRtc::set_memory(uint64_t below_4g, uint64_t above_4g) {
  constexpr uint64_t MiB = 1024 * 1024;
  ram_[0x15] = 0x80;  // 640 KiB of base memory
  ram_[0x16] = 0x02;
  const uint64_t ext_kib = std::min<uint64_t>(below_4g > MiB ? (below_4g - MiB) / 1024 : 0, 0xFFFF);
  ram_[0x17] = ram_[0x30] = static_cast<uint8_t>(ext_kib);
  ram_[0x18] = ram_[0x31] = static_cast<uint8_t>(ext_kib >> 8);
  const uint64_t blocks = std::min<uint64_t>(below_4g > 16 * MiB ? (below_4g - 16 * MiB) / 65536 : 0, 0xFFFF);
  ram_[0x34] = static_cast<uint8_t>(blocks);
  ram_[0x35] = static_cast<uint8_t>(blocks >> 8);
  const uint64_t high = std::min<uint64_t>(above_4g / 65536, 0xFFFFFF);
  ram_[0x5B] = static_cast<uint8_t>(high);
  ram_[0x5C] = static_cast<uint8_t>(high >> 8);
  ram_[0x5D] = static_cast<uint8_t>(high >> 16);
  update_checksum();
}

void CmosRtc::set_cpu_count(unsigned n) { ram_[0x5F] = static_cast<uint8_t>(n ? n - 1 : 0); }

uint8_t CmosRtc::read_reg(uint8_t idx) {
  switch (idx) {
    case 0x00: case 0x02: case 0x04: case 0x06: case 0x07: case 0x08: case 0x09: case 0x32:
      if (running()) encode_time(guest_ns() / kSecond);
      return ram_[idx];
    case 0x0A: {
      bool uip = running() && guest_ns() % kSecond >= kSecond - kUipWindowNs;
      return static_cast<uint8_t>((ram_[0x0A] & 0x7F) | (uip ? A_UIP : 0));
    }
    case 0x0C: {
      update_flags();
      const uint8_t v = ram_[0x0C];
      ram_[0x0C] = 0;
      update_irq();
      return v;
    }
    case 0x0D:
      return 0x80;
    default:
      return ram_[idx];
  }
}

void CmosRtc::write_reg(uint8_t idx, uint8_t v) {
  switch (idx) {
    case 0x00: case 0x02: case 0x04: case 0x06: case 0x07: case 0x08: case 0x09: case 0x32:
      if (running()) {
        update_flags();
        const uint64_t g = guest_ns();
        encode_time(g / kSecond);
        ram_[idx] = v;
        rebase(decode_time() * kSecond + g % kSecond);
        schedule();
      } else {
        ram_[idx] = v;  // takes effect when SET is cleared
      }
      return;
    case 0x01: case 0x03: case 0x05:
      ram_[idx] = v;
      return;
    case 0x0A:
    case 0x0B: {
      update_flags();
      const bool was = running();
      const bool was_set = ram_[0x0B] & B_SET;
      const bool was_div_reset = ((ram_[0x0A] >> 4) & 6) == 6;
      const uint64_t g = guest_ns();
      if (was) encode_time(g / kSecond);  // the registers hold the time at which it stopped
      if (idx == 0x0A) {
        ram_[0x0A] = v & 0x7F;  // UIP is read-only
      } else {
        ram_[0x0B] = (v & B_SET) ? static_cast<uint8_t>(v & ~B_UIE) : v;  // SET clears UIE
      }
      const bool is = running();
      if (was && !is) {
        base_guest_ns_ = g;
        base_virt_ = clock_.now();
      } else if (!was && is) {
        uint64_t ng = base_guest_ns_;
        if (was_set) ng = decode_time() * kSecond;  // the guest may have set new time registers
        if (was_div_reset) ng = ng / kSecond * kSecond + kSecond / 2;  // first update 500 ms later
        rebase(ng);
      }
      update_irq();
      schedule();
      return;
    }
    case 0x0C:
    case 0x0D:
      return;  // read-only
    default:
      ram_[idx] = v;
      return;
  }
}

uint32_t CmosRtc::io_read(uint16_t port, unsigned size) {
  uint8_t b = 0xFF;  // 0x70 is write-only
  if (port == 0x71) b = read_reg(index_);
  return b | open_bus_upper(size);
}

void CmosRtc::io_write(uint16_t port, uint32_t value, unsigned) {
  const uint8_t v = static_cast<uint8_t>(value);
  if (port == 0x70) {
    index_ = v & 0x7F;
    nmi_masked_ = (v & 0x80) != 0;
  } else if (port == 0x71) {
    write_reg(index_, v);
  }
}

void CmosRtc::save(SnapshotWriter& w) const {
  w.begin_section("RTC ", 1);
  w.bytes(ram_, sizeof ram_);
  w.u8(index_);
  w.boolean(nmi_masked_);
  w.u64(base_guest_ns_);
  w.u64(base_virt_);
  w.u64(checked_virt_);
  w.u64(checked_guest_);
  w.boolean(irq_level_);
  w.end_section();
}

void CmosRtc::load(SnapshotReader& r) {
  r.begin_section("RTC ", 1);
  uint8_t ram[128];
  r.bytes(ram, sizeof ram);
  uint8_t index = r.u8_max(0x7F, "CMOS index out of range");
  bool nmi = r.boolean();
  uint64_t bg = r.u64(), bv = r.u64(), cv = r.u64(), cg = r.u64();
  bool level = r.boolean();
  r.check(bg < (uint64_t{1} << 62) && cg < (uint64_t{1} << 62), "RTC time out of range");
  r.end_section();
  std::copy(ram, ram + 128, ram_);
  ram_[0x0A] &= 0x7F;
  index_ = index;
  nmi_masked_ = nmi;
  base_guest_ns_ = bg;
  base_virt_ = bv;
  checked_virt_ = cv;
  checked_guest_ = cg;
  irq_level_ = level;
  if (irq) irq(level);
  update_irq();
  schedule();
}

}  // namespace vx86
