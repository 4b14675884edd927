// The 82540EM's serial EEPROM: a 93C46-style Microwire part of 64 16-bit words, read by the
// driver either by bit-banging the EECD register (Linux's e1000 does, for this chip) or through
// the EERD read register (iPXE and newer drivers).
//
// Contents: the MAC address (words 0-2), the PCI IDs (words 0x0B-0x0E), the init control words,
// and word 0x3F chosen so that words 0x00-0x3F sum to 0xBABA (the check every driver makes).
//
// Microwire: with CS high, each rising edge of SK shifts DI in: a start bit 1, a 2-bit opcode
// (10 = READ), a 6-bit address. The part then drives DO with the addressed word, MSB first, one
// bit per rising edge, continuing into the next word (sequential read). Dropping CS ends the
// command. Other opcodes (write, erase, enable) are accepted and ignored: the EEPROM is read-only
// to the guest, as QEMU's is.
#pragma once
#include <array>
#include <cstdint>

#include "devices/net/net_backend.h"

namespace vx86 {

class SnapshotWriter;
class SnapshotReader;

class E1000Eeprom {
 public:
  static constexpr unsigned kWords = 64;
  static constexpr uint16_t kChecksumSum = 0xBABA;
  // EECD bits.
  enum : uint32_t {
    SK = 1u << 0,
    CS = 1u << 1,
    DI = 1u << 2,
    DO = 1u << 3,
    FWE_MASK = 3u << 4,
    REQ = 1u << 6,
    GNT = 1u << 7,
    PRES = 1u << 8,
  };
  // EERD bits.
  enum : uint32_t { RD_START = 1u << 0, RD_DONE = 1u << 4 };

  E1000Eeprom(const MacAddress& mac, uint16_t device_id, uint16_t vendor_id);
  uint16_t word(unsigned i) const { return words_[i % kWords]; }

  void reset();  // the bit-bang interface back to idle (contents kept)
  uint32_t eecd_read() const;
  void eecd_write(uint32_t v);
  // EERD: a write with START reads the word at bits 15:8; the read returns DONE and the data.
  uint32_t eerd_read() const { return eerd_; }
  void eerd_write(uint32_t v);

  void save(SnapshotWriter& w) const;
  void load(SnapshotReader& r);

 private:
  std::array<uint16_t, kWords> words_{};
  uint32_t eecd_ = 0;  // the bits the driver wrote (SK, CS, DI, FWE, REQ)
  uint32_t eerd_ = 0;
  uint16_t shift_in_ = 0;  // start bit, opcode and address as they arrive
  uint8_t bits_in_ = 0;
  bool reading_ = false;
  uint8_t address_ = 0;
  int8_t bit_out_ = -1;  // the DO bit being driven (15..0), -1 before the first data edge
};

}  // namespace vx86
