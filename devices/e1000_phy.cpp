#include "devices/e1000_phy.h"

#include "devices/snapshot.h"

namespace vx86 {

bool E1000Phy::exists(unsigned reg) {
  switch (reg) {
    case CTRL:
    case STATUS:
    case ID1:
    case ID2:
    case AUTONEG_ADV:
    case LP_ABILITY:
    case AUTONEG_EXP:
    case NEXT_PAGE_TX:
    case GBIT_CTRL:
    case GBIT_STATUS:
    case EXT_STATUS:
    case SPEC_CTRL:
    case SPEC_STATUS:
    case EXT_SPEC_CTRL:
      return true;
    default:
      return false;
  }
}

void E1000Phy::reset() {
  regs_.fill(0);
  regs_[CTRL] = CTRL_AN_ENABLE | 0x0140;  // auto-negotiation on, full duplex, 1000 Mb/s select bits
  // Capabilities: 10/100 half and full, extended status, preamble suppression, extended registers.
  regs_[STATUS] = 0x7948 | 0x0100 | 0x0001;
  regs_[ID1] = 0x0141;          // Marvell's OUI
  regs_[ID2] = 0x0C20;          // M88E1011, revision 0
  regs_[AUTONEG_ADV] = 0x0DE1;  // 10/100 half/full, pause, asymmetric pause, 802.3
  regs_[GBIT_CTRL] = 0x0E00;    // 1000BASE-T full and half advertised, repeater mode
  regs_[EXT_STATUS] = 0x3000;   // 1000BASE-T full and half capable
  regs_[SPEC_CTRL] = 0x0068;    // auto MDI-X, CRS on transmit
  regs_[EXT_SPEC_CTRL] = 0x0D60;
  negotiate();
}

void E1000Phy::set_link(bool up) {
  cable_ = up;
  negotiate();
}

void E1000Phy::negotiate() {
  if (!cable_) {
    regs_[STATUS] &= static_cast<uint16_t>(~(STATUS_LINK | STATUS_AN_COMPLETE));
    regs_[LP_ABILITY] = 0;
    regs_[GBIT_STATUS] = 0;
    regs_[SPEC_STATUS] = 0;
    return;
  }
  regs_[STATUS] |= STATUS_LINK | STATUS_AN_COMPLETE;
  regs_[LP_ABILITY] = 0x45E1;   // the partner: 10/100 half/full, pause, acknowledge
  regs_[AUTONEG_EXP] = 0x0001;  // the partner negotiates
  regs_[GBIT_STATUS] = 0x3C00;  // local and remote receivers OK, partner 1000BASE-T full/half
  // Resolved: 1000 Mb/s, full duplex, speed and duplex resolved, link up.
  regs_[SPEC_STATUS] = 0xAC00 | 0x0400;
}

bool E1000Phy::read(unsigned reg, uint16_t& value) const {
  if (reg >= regs_.size() || !exists(reg)) return false;
  value = regs_[reg];
  return true;
}

bool E1000Phy::write(unsigned reg, uint16_t value) {
  if (reg >= regs_.size() || !exists(reg)) return false;
  switch (reg) {
    case CTRL:
      if (value & CTRL_RESET) {
        reset();
        return true;
      }
      regs_[CTRL] = value & static_cast<uint16_t>(~CTRL_RESTART_AN);  // self-clearing
      if (value & (CTRL_RESTART_AN | CTRL_AN_ENABLE)) negotiate();
      return true;
    case STATUS:
    case ID1:
    case ID2:
    case LP_ABILITY:
    case AUTONEG_EXP:
    case GBIT_STATUS:
    case EXT_STATUS:
    case SPEC_STATUS:
      return true;  // read-only
    default:
      regs_[reg] = value;
      return true;
  }
}

void E1000Phy::save(SnapshotWriter& w) const {
  w.begin_section("EPHY", 1);
  for (uint16_t r : regs_) w.u16(r);
  w.boolean(cable_);
  w.end_section();
}

void E1000Phy::load(SnapshotReader& r) {
  r.begin_section("EPHY", 1);
  std::array<uint16_t, 32> regs;
  for (uint16_t& x : regs) x = r.u16();
  const bool cable = r.boolean();
  r.end_section();
  regs_ = regs;
  cable_ = cable;
}

}  // namespace vx86
