// The 82540EM's integrated copper PHY (an M88E1011-compatible gigabit PHY), reached through the
// MAC's MDIC register at PHY address 1: the IEEE 802.3 clause-22 registers 0-15 and the vendor
// registers the e1000 drivers touch (0x10 specific control, 0x11 specific status, 0x14 extended
// control). The link partner is always a 1000BASE-T full-duplex switch port: auto-negotiation
// completes at once when it is enabled or restarted.
#pragma once
#include <array>
#include <cstdint>

namespace vx86 {

class SnapshotWriter;
class SnapshotReader;

class E1000Phy {
 public:
  static constexpr unsigned kAddress = 1;
  enum Reg : unsigned {
    CTRL = 0x00,
    STATUS = 0x01,
    ID1 = 0x02,
    ID2 = 0x03,
    AUTONEG_ADV = 0x04,
    LP_ABILITY = 0x05,
    AUTONEG_EXP = 0x06,
    NEXT_PAGE_TX = 0x07,
    GBIT_CTRL = 0x09,
    GBIT_STATUS = 0x0A,
    EXT_STATUS = 0x0F,
    SPEC_CTRL = 0x10,
    SPEC_STATUS = 0x11,
    EXT_SPEC_CTRL = 0x14,
  };
  enum : uint16_t {
    CTRL_RESTART_AN = 1u << 9,
    CTRL_AN_ENABLE = 1u << 12,
    CTRL_RESET = 1u << 15,
    STATUS_LINK = 1u << 2,
    STATUS_AN_COMPLETE = 1u << 5,
  };

  E1000Phy() { reset(); }
  void reset();
  // The cable: with the link down the status reads no link (the MAC's STATUS.LU follows it).
  void set_link(bool up);
  bool link_up() const { return regs_[STATUS] & STATUS_LINK; }

  // False for a register the PHY does not have (MDIC then reports an error).
  bool read(unsigned reg, uint16_t& value) const;
  bool write(unsigned reg, uint16_t value);

  void save(SnapshotWriter& w) const;
  void load(SnapshotReader& r);

 private:
  void negotiate();
  static bool exists(unsigned reg);
  std::array<uint16_t, 32> regs_{};
  bool cable_ = true;
};

}  // namespace vx86
