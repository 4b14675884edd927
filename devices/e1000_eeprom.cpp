#include "devices/e1000_eeprom.h"

#include "devices/snapshot.h"

namespace vx86 {

E1000Eeprom::E1000Eeprom(const MacAddress& mac, uint16_t device_id, uint16_t vendor_id) {
  words_.fill(0xFFFF);
  for (unsigned i = 0; i < 3; ++i) words_[i] = static_cast<uint16_t>(mac[2 * i] | mac[2 * i + 1] << 8);
  words_[0x03] = 0x0000;     // compatibility: no special features
  words_[0x0A] = 0x0000;     // init control 1: defaults
  words_[0x0B] = device_id;  // subsystem ID
  words_[0x0C] = vendor_id;  // subsystem vendor
  words_[0x0D] = device_id;
  words_[0x0E] = vendor_id;
  words_[0x0F] = 0x3000;  // init control 2: both pause bits (full flow control advertised)
  uint16_t sum = 0;
  for (unsigned i = 0; i < kWords - 1; ++i) sum = static_cast<uint16_t>(sum + words_[i]);
  words_[kWords - 1] = static_cast<uint16_t>(kChecksumSum - sum);
}

void E1000Eeprom::reset() {
  eecd_ = 0;
  eerd_ = 0;
  shift_in_ = 0;
  bits_in_ = 0;
  reading_ = false;
  address_ = 0;
  bit_out_ = -1;
}

uint32_t E1000Eeprom::eecd_read() const {
  uint32_t v = (eecd_ & (SK | CS | DI | FWE_MASK | REQ)) | PRES;
  if (eecd_ & REQ) v |= GNT;  // no other agent competes for the EEPROM
  if (reading_ && bit_out_ >= 0 && (words_[address_ % kWords] >> bit_out_ & 1)) v |= DO;
  return v;
}

void E1000Eeprom::eecd_write(uint32_t v) {
  const bool rising = !(eecd_ & SK) && (v & SK);
  eecd_ = v;
  if (!(v & CS)) {  // chip deselected: the command ends
    shift_in_ = 0;
    bits_in_ = 0;
    reading_ = false;
    bit_out_ = -1;
    return;
  }
  if (!rising) return;
  if (reading_) {
    if (--bit_out_ < 0) {  // on into the next word
      address_ = static_cast<uint8_t>((address_ + 1) % kWords);
      bit_out_ = 15;
    }
    return;
  }
  // Leading zeros before the start bit are ignored.
  if (bits_in_ == 0 && !(v & DI)) return;
  shift_in_ = static_cast<uint16_t>(shift_in_ << 1 | ((v & DI) ? 1 : 0));
  if (++bits_in_ < 9) return;  // start bit + 2 opcode bits + 6 address bits
  const unsigned opcode = shift_in_ >> 6 & 3;
  if (opcode == 2) {  // READ: DO drives a dummy 0, then the data from the next edge on
    reading_ = true;
    address_ = static_cast<uint8_t>(shift_in_ & 0x3F);
    bit_out_ = 16;
  }
  // Other commands (write, erase, EWEN/EWDS): ignored until CS drops.
  bits_in_ = 0;
  shift_in_ = 0;
}

void E1000Eeprom::eerd_write(uint32_t v) {
  if (!(v & RD_START)) {
    eerd_ = v & ~RD_DONE;
    return;
  }
  const unsigned addr = v >> 8 & 0xFF;
  const uint16_t data = addr < kWords ? words_[addr] : 0;
  eerd_ = (v & 0xFF00u) | RD_DONE | uint32_t{data} << 16;
}

void E1000Eeprom::save(SnapshotWriter& w) const {
  w.begin_section("EEPR", 1);
  for (uint16_t x : words_) w.u16(x);
  w.u32(eecd_);
  w.u32(eerd_);
  w.u16(shift_in_);
  w.u8(bits_in_);
  w.boolean(reading_);
  w.u8(address_);
  w.u8(static_cast<uint8_t>(bit_out_));
  w.end_section();
}

void E1000Eeprom::load(SnapshotReader& r) {
  r.begin_section("EEPR", 1);
  std::array<uint16_t, kWords> words;
  for (uint16_t& x : words) x = r.u16();
  const uint32_t eecd = r.u32(), eerd = r.u32();
  const uint16_t shift = r.u16();
  const uint8_t bits = r.u8_max(8, "EEPROM command bit count");
  const bool reading = r.boolean();
  const uint8_t addr = r.u8_max(kWords - 1, "EEPROM address");
  const int8_t bit_out = static_cast<int8_t>(r.u8());
  r.check(bit_out >= -1 && bit_out <= 16, "EEPROM output bit");
  r.end_section();
  words_ = words;
  eecd_ = eecd;
  eerd_ = eerd;
  shift_in_ = shift;
  bits_in_ = bits;
  reading_ = reading;
  address_ = addr;
  bit_out_ = bit_out;
}

}  // namespace vx86
