#include "devices/e1000.h"

#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "devices/e1000_regs.h"
#include "devices/snapshot.h"

namespace vx86 {

using namespace e1000;

namespace {
uint32_t le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}
uint64_t le64(const uint8_t* p) { return le32(p) | uint64_t{le32(p + 4)} << 32; }
constexpr size_t kMinFrame = 60;  // without FCS
constexpr size_t kFcs = 4;
}  // namespace

E1000::E1000(Clock& clock, PhysicalMemory& mem, const MacAddress& mac)
    : PciDevice(kVendor, kDevice, 0x03, kClass),
      clock_(clock),
      mem_(mem),
      mac_(mac),
      eeprom_(mac, kDevice, kVendor),
      regs_(kMmioSize / 4, 0) {
  define_bar(0, kMmioSize, false);
  define_bar(1, kIoSize, true);
  set_default16(0x2C, kVendor);  // subsystem vendor / ID, as the EEPROM has them
  set_default16(0x2E, kDevice);
  set_default8(0x3D, 1);  // INTA
  cfg_ = defaults_;
  reset_registers();
}

E1000::~E1000() {
  if (irq_timer_) clock_.cancel(irq_timer_);
}

void E1000::set_backend(NetBackend* b) {
  if (backend_) backend_->set_receiver(nullptr);
  backend_ = b;
  if (b) b->set_receiver(this);
}

void E1000::reset() {
  PciDevice::reset();
  phy_.reset();
  reset_registers();
}

void E1000::reset_registers() {
  std::fill(regs_.begin(), regs_.end(), 0);
  eeprom_.reset();
  auto r = [&](uint32_t off) -> uint32_t& { return regs_[off >> 2]; };
  r(CTRL) = 0x00140240;  // full duplex, ASDE, speed 1000, link reset released (as after power-on)
  r(LEDCTL) = 0x07068302;
  r(PBA) = 0x00100030;  // 48 KiB receive, 16 KiB transmit
  r(TIPG) = 0x0060200A;
  r(VET) = 0x8100;
  r(TXDCTL) = 0x01000000;  // GRAN (descriptor granularity)
  r(MANC) = 0x00060000;
  // Receive address 0 from the EEPROM, valid.
  r(RA) = uint32_t{mac_[0]} | uint32_t{mac_[1]} << 8 | uint32_t{mac_[2]} << 16 | uint32_t{mac_[3]} << 24;
  r(RA + 4) = uint32_t{mac_[4]} | uint32_t{mac_[5]} << 8 | RAH_AV;
  r(STATUS) = STATUS_FD | STATUS_SPEED_1000 | STATUS_ASDV_1000 | (phy_.link_up() ? uint32_t{STATUS_LU} : 0u);
  io_addr_ = 0;
  if (irq_timer_) clock_.cancel(irq_timer_);
  irq_timer_ = 0;
  next_irq_ns_ = 0;
  tx_packet_.clear();
  tx_bad_ = tx_tse_ = tx_vle_ = tx_legacy_ic_ = false;
  tx_popts_ = tx_legacy_cso_ = tx_legacy_css_ = 0;
  tx_vlan_ = 0;
  ctx_csum_ = ctx_tso_ = TxOffload{};
  rx_fifo_.clear();
  rx_fifo_bytes_ = 0;
  set_intx(false);
}

void E1000::set_link(bool up) {
  phy_.set_link(up);
  uint32_t& st = regs_[STATUS >> 2];
  const bool was = st & STATUS_LU;
  st = up ? st | STATUS_LU : st & ~STATUS_LU;
  if (was != up) set_cause(ICR_LSC);
}

void E1000::bar_changed(unsigned index, const PciBar& old_bar, const PciBar& new_bar) {
  if (index == 1 && ports_) {
    if (old_bar.enabled)
      ports_->attach(static_cast<uint16_t>(old_bar.base), static_cast<uint16_t>(old_bar.size), nullptr);
    if (new_bar.enabled)
      ports_->attach(static_cast<uint16_t>(new_bar.base), static_cast<uint16_t>(new_bar.size), this);
    io_base_ = new_bar.enabled ? static_cast<uint16_t>(new_bar.base) : 0;
  }
  PciDevice::bar_changed(index, old_bar, new_bar);
}

// ---- register access ----

bool E1000::known(uint32_t off) {
  switch (off) {
    case CTRL:
    case STATUS:
    case EECD:
    case EERD:
    case CTRL_EXT:
    case FLA:
    case MDIC:
    case FCAL:
    case FCAH:
    case FCT:
    case VET:
    case ICR:
    case ITR:
    case ICS:
    case IMS:
    case IMC:
    case RCTL:
    case FCTTV:
    case TXCW:
    case RXCW:
    case TCTL:
    case TIPG:
    case AIT:
    case LEDCTL:
    case PBA:
    case FCRTL:
    case FCRTH:
    case RDFH:
    case RDFT:
    case RDFHS:
    case RDFTS:
    case RDFPC:
    case RDBAL:
    case RDBAH:
    case RDLEN:
    case RDH:
    case RDT:
    case RDTR:
    case RXDCTL:
    case RADV:
    case RSRPD:
    case TXDMAC:
    case TDFH:
    case TDFT:
    case TDFHS:
    case TDFTS:
    case TDFPC:
    case TDBAL:
    case TDBAH:
    case TDLEN:
    case TDH:
    case TDT:
    case TIDV:
    case TXDCTL:
    case TADV:
    case TSPMT:
    case RXCSUM:
    case WUC:
    case WUFC:
    case WUS:
    case MANC:
    case IPAV:
    case WUPL:
      return true;
    default:
      break;
  }
  return (off >= STATS_FIRST && off <= STATS_LAST) || (off >= MTA && off < MTA + 0x200) ||
         (off >= RA && off < RA + 0x80) || (off >= VFTA && off < VFTA + 0x200) ||
         (off >= IP4AT && off < IP4AT + 0x20) || (off >= IP6AT && off < IP6AT + 0x10) ||
         (off >= WUPM && off < WUPM + 0x80) || (off >= FFLT && off < FFLT + 0x20) ||
         (off >= FFMT && off < FFMT + 0x400) || (off >= FFVT && off < FFVT + 0x400) || off >= PBM;
}

uint32_t E1000::mmio_read(uint32_t addr, unsigned size) {
  const uint32_t off = addr & (kMmioSize - 1);
  const uint32_t v = read_reg(off & ~3u) >> (8 * (off & 3));
  return size == 4 ? v : v & ((1u << (8 * size)) - 1);
}

void E1000::mmio_write(uint32_t addr, uint32_t value, unsigned size) {
  const uint32_t off = addr & (kMmioSize - 1);
  if (size != 4 || (off & 3)) {
    // Narrow writes merge into the register (no driver does them; no read side effects here).
    const unsigned shift = 8 * (off & 3);
    const uint32_t mask = (size == 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1) << shift;
    value = (regs_[(off & ~3u) >> 2] & ~mask) | ((value << shift) & mask);
  }
  write_reg(off & ~3u, value);
}

uint32_t E1000::io_read(uint16_t port, unsigned size) {
  const unsigned off = static_cast<unsigned>(port - io_base_);
  uint32_t v = 0;
  if (off < 4)
    v = io_addr_ >> (8 * off);
  else if (off < 8)
    v = read_reg(io_addr_ & (kMmioSize - 4)) >> (8 * (off - 4));
  return size == 4 ? v : v & ((1u << (8 * size)) - 1);
}

void E1000::io_write(uint16_t port, uint32_t value, unsigned size) {
  const unsigned off = static_cast<unsigned>(port - io_base_);
  if (off == 0 && size == 4)
    io_addr_ = value & (kMmioSize - 4);
  else if (off == 4 && size == 4)
    write_reg(io_addr_, value);
}

uint32_t E1000::read_reg(uint32_t off) {
  if (!known(off)) return 0;
  uint32_t& r = regs_[off >> 2];
  switch (off) {
    case EECD:
      return eeprom_.eecd_read();
    case EERD:
      return eeprom_.eerd_read();
    case ICR: {
      const uint32_t v = r;
      r = 0;  // reading clears every cause and deasserts INTA
      update_irq();
      return v;
    }
    case IMC:
    case ICS:
      return 0;  // write-only
    case GORCL:
    case GOTCL:
    case TORL:
    case TOTL:
      return r;  // the low halves of the 64-bit counters clear with their high halves
    case GORCH:
    case GOTCH:
    case TORH:
    case TOTH: {
      const uint32_t v = r;
      r = 0;
      regs_[(off - 4) >> 2] = 0;
      return v;
    }
    default:
      break;
  }
  if (off >= STATS_FIRST && off <= STATS_LAST) {
    const uint32_t v = r;
    r = 0;
    return v;
  }
  return r;
}

void E1000::write_reg(uint32_t off, uint32_t v) {
  if (!known(off)) return;
  uint32_t& r = regs_[off >> 2];
  switch (off) {
    case CTRL:
      if (v & CTRL_RST) {  // software reset: everything but the PCI configuration
        reset_registers();
        return;
      }
      if (v & CTRL_PHY_RST) phy_.reset();
      r = v & ~(CTRL_RST | CTRL_PHY_RST);
      return;
    case STATUS:
    case ICR:
    case RDFPC:
    case TDFPC:
      return;  // read-only
    case EECD:
      eeprom_.eecd_write(v);
      return;
    case EERD:
      eeprom_.eerd_write(v);
      return;
    case MDIC:
      mdic_write(v);
      return;
    case ICS:
      set_cause(v & ICR_ALL);
      return;
    case IMS:
      regs_[IMS >> 2] |= v & ICR_ALL;
      update_irq();
      return;
    case IMC:
      regs_[IMS >> 2] &= ~v;
      update_irq();
      return;
    case ITR:
      r = v & 0xFFFF;
      return;
    case RCTL:
      r = v;
      rx_drain();
      return;
    case RDBAL:
    case TDBAL:
      r = v & ~0xFu;
      return;
    case RDLEN:
    case TDLEN:
      r = v & 0xFFF80u;  // a multiple of 128 bytes (8 descriptors), below 1 MiB
      return;
    case RDH:
    case TDH:
      r = v & 0xFFFF;
      return;
    case RDT:
      r = v & 0xFFFF;
      rx_drain();
      if (backend_ && ready()) backend_->poll();  // frames the backend held while the FIFO was full
      return;
    case TDT:
      r = v & 0xFFFF;
      start_xmit();
      return;
    case TCTL:
      r = v;
      start_xmit();
      return;
    default:
      break;
  }
  if (off >= STATS_FIRST && off <= STATS_LAST) return;  // read-only counters
  r = v;
}

void E1000::mdic_write(uint32_t v) {
  const unsigned phy = v >> 21 & 31, reg = v >> 16 & 31;
  uint32_t out = v & ~(MDIC_READY | MDIC_ERROR);
  bool ok = phy == E1000Phy::kAddress;
  if (ok && (v & MDIC_OP_READ) && !(v & MDIC_OP_WRITE)) {
    uint16_t d = 0;
    ok = phy_.read(reg, d);
    out = (out & ~MDIC_DATA) | d;
  } else if (ok && (v & MDIC_OP_WRITE) && !(v & MDIC_OP_READ)) {
    ok = phy_.write(reg, static_cast<uint16_t>(v));
    const bool lu = phy_.link_up();
    uint32_t& st = regs_[STATUS >> 2];
    if (lu != ((st & STATUS_LU) != 0)) {
      st = lu ? st | STATUS_LU : st & ~STATUS_LU;
      set_cause(ICR_LSC);
    }
  } else {
    ok = false;
  }
  regs_[MDIC >> 2] = out | MDIC_READY | (ok ? 0u : uint32_t{MDIC_ERROR});
  if (v & MDIC_INT) set_cause(ICR_MDAC);
}

// ---- interrupts ----

void E1000::set_cause(uint32_t bits) {
  regs_[ICR >> 2] |= bits;
  update_irq();
}

void E1000::update_irq() {
  const bool want = (regs_[ICR >> 2] & regs_[IMS >> 2]) != 0;
  if (!want) {
    set_intx(false);
    return;
  }
  if (intx_level() || irq_timer_) return;
  const uint64_t now = clock_.now();
  if (now < next_irq_ns_) {  // throttled: assert when the interval has passed
    irq_timer_ = clock_.schedule(next_irq_ns_, [this] { irq_timer_fired(); });
    return;
  }
  next_irq_ns_ = now + uint64_t{regs_[ITR >> 2] & 0xFFFF} * 256;
  set_intx(true);
}

void E1000::irq_timer_fired() {
  irq_timer_ = 0;
  update_irq();
}

// ---- transmit ----

void E1000::start_xmit() {
  if (!(regs_[TCTL >> 2] & TCTL_EN) || in_xmit_) return;
  const uint32_t n = regs_[TDLEN >> 2] / 16;
  uint32_t& tdh = regs_[TDH >> 2];
  const uint32_t tdt = regs_[TDT >> 2];
  if (n == 0) return;
  if (tdh >= n || tdt >= n) {  // a head or tail beyond the ring: nothing runs
    ++guest_errors_;
    return;
  }
  in_xmit_ = true;
  uint32_t cause = 0;
  const uint64_t base = uint64_t{regs_[TDBAH >> 2]} << 32 | regs_[TDBAL >> 2];
  for (uint32_t done = 0; tdh != tdt && done < n; ++done) {
    const uint64_t at = base + uint64_t{tdh} * 16;
    uint8_t d[16];
    if (!mem_.dma_read(at, d, sizeof d)) {  // the ring is not in RAM: stop here
      ++guest_errors_;
      break;
    }
    tx_descriptor(at, d);
    const uint32_t lower = le32(d + 8);
    if (lower & TXD_CMD_RS) {
      const uint8_t status = d[12] | TXD_STAT_DD;
      if (mem_.dma_write(at + 12, &status, 1)) {
        if (on_dma_write) on_dma_write(static_cast<uint32_t>(at + 12), 1);
      }
    }
    tdh = (tdh + 1) % n;
    cause |= ICR_TXDW;
  }
  if (tdh == tdt) cause |= ICR_TXQE;
  in_xmit_ = false;
  if (cause) set_cause(cause);
}

void E1000::tx_descriptor(uint64_t, const uint8_t (&d)[16]) {
  const uint64_t addr = le64(d);
  const uint32_t lower = le32(d + 8), upper = le32(d + 12);
  const bool dext = lower & TXD_CMD_DEXT;
  if (dext && (lower & TXD_DTYP_MASK) == TXD_DTYP_C) {  // context descriptor
    TxOffload& c = (lower & TXD_CMD_TSE) ? ctx_tso_ : ctx_csum_;
    c.ipcss = d[0];
    c.ipcso = d[1];
    c.ipcse = uint32_t{d[2]} | uint32_t{d[3]} << 8;
    c.tucss = d[4];
    c.tucso = d[5];
    c.tucse = uint32_t{d[6]} | uint32_t{d[7]} << 8;
    c.ipv4 = lower & TXD_TUCMD_IP;
    c.tcp = lower & TXD_TUCMD_TCP;
    c.hdr_len = d[13];
    c.mss = uint32_t{d[14]} | uint32_t{d[15]} << 8;
    (void)upper;
    return;
  }
  uint32_t len;
  const bool first = tx_packet_.empty() && !tx_bad_;
  if (dext && (lower & TXD_DTYP_MASK) == TXD_DTYP_D) {  // data descriptor
    len = lower & 0xFFFFF;
    if (first) {
      tx_popts_ = static_cast<uint8_t>(upper >> 8);
      tx_tse_ = lower & TXD_CMD_TSE;
      tx_legacy_ic_ = false;
    }
  } else if (!dext) {  // legacy descriptor
    len = lower & 0xFFFF;
    if (first) {
      tx_popts_ = 0;
      tx_tse_ = false;
    }
    tx_legacy_ic_ = lower & TXD_CMD_IC;
    tx_legacy_cso_ = static_cast<uint8_t>(lower >> 16);
    tx_legacy_css_ = static_cast<uint8_t>(upper >> 8);
  } else {
    ++guest_errors_;  // a reserved descriptor type: skipped
    return;
  }
  if (lower & TXD_CMD_VLE) {
    tx_vle_ = true;
    tx_vlan_ = static_cast<uint16_t>(upper >> 16);
  }
  if (!tx_bad_ && len) {
    if (tx_packet_.size() + len > kMaxTxPacket) {
      tx_bad_ = true;
      ++guest_errors_;
    } else {
      const size_t at = tx_packet_.size();
      tx_packet_.resize(at + len);
      if (!mem_.dma_read(addr, tx_packet_.data() + at, len)) {
        tx_bad_ = true;
        ++guest_errors_;
      }
    }
  }
  if (lower & TXD_CMD_EOP) tx_finish_packet();
}

void E1000::tx_finish_packet() {
  if (!tx_bad_ && !tx_packet_.empty()) {
    const bool ixsm = tx_popts_ & TXD_POPTS_IXSM, txsm = tx_popts_ & TXD_POPTS_TXSM;
    if (tx_tse_) {
      std::vector<uint8_t> frame;
      if (!tso_segment(tx_packet_.data(), tx_packet_.size(), ctx_tso_, ixsm, txsm,
                       [&](const uint8_t* f, size_t n) {
                         frame.assign(f, f + n);
                         tx_frame(frame.data(), frame.size());
                       })) {
        ++guest_errors_;  // a context that does not describe the packet
      } else {
        add_stat(TSCTC);
      }
    } else if (tx_packet_.size() <= NetBackend::kMaxFrame) {
      if (tx_legacy_ic_)
        insert_checksum(tx_packet_.data(), tx_packet_.size(), tx_legacy_css_, 0, tx_legacy_cso_);
      else
        apply_checksums(tx_packet_.data(), tx_packet_.size(), ctx_csum_, ixsm, txsm);
      tx_frame(tx_packet_.data(), tx_packet_.size());
    } else {
      ++guest_errors_;  // larger than any frame, without segmentation
    }
  }
  tx_packet_.clear();
  tx_bad_ = tx_tse_ = tx_vle_ = tx_legacy_ic_ = false;
  tx_popts_ = 0;
}

void E1000::tx_frame(uint8_t* frame, size_t len) {
  if (len < 14) {
    ++guest_errors_;
    return;
  }
  uint8_t buf[NetBackend::kMaxFrame + 4];
  const uint8_t* out = frame;
  if (tx_vle_ && (regs_[CTRL >> 2] & CTRL_VME) && len + 4 <= NetBackend::kMaxFrame) {
    // Insert the 802.1Q tag (VET, then the descriptor's special field) after the addresses.
    std::memcpy(buf, frame, 12);
    const uint16_t vet = static_cast<uint16_t>(regs_[VET >> 2]);
    buf[12] = static_cast<uint8_t>(vet >> 8);
    buf[13] = static_cast<uint8_t>(vet);
    buf[14] = static_cast<uint8_t>(tx_vlan_ >> 8);
    buf[15] = static_cast<uint8_t>(tx_vlan_);
    std::memcpy(buf + 16, frame + 12, len - 12);
    out = buf;
    len += 4;
  }
  uint8_t padded[kMinFrame];
  if (len < kMinFrame && (regs_[TCTL >> 2] & TCTL_PSP)) {  // pad short packets
    std::memset(padded, 0, sizeof padded);
    std::memcpy(padded, out, len);
    out = padded;
    len = kMinFrame;
  }
  count_tx(out, len);
  if (!phy_.link_up()) return;
  if ((regs_[RCTL >> 2] >> 6 & 3) == 1) {  // MAC loopback (RCTL.LBM = 01)
    receive_frame(out, len);
    return;
  }
  if (backend_) backend_->send(out, len);
}

// ---- receive ----

bool E1000::accept(const uint8_t* f, size_t len) const {
  if (len < 14) return false;
  const uint32_t rctl = regs_[RCTL >> 2];
  // VLAN filter: a tagged frame whose VLAN is not in the table is dropped when VFE is set.
  const uint16_t vet = static_cast<uint16_t>(regs_[VET >> 2]);
  if ((rctl & RCTL_VFE) && (regs_[CTRL >> 2] & CTRL_VME) && len >= 18 && (f[12] << 8 | f[13]) == vet) {
    const unsigned vid = (f[14] << 8 | f[15]) & 0xFFF;
    if (!(regs_[(VFTA >> 2) + (vid >> 5)] >> (vid & 31) & 1)) return false;
  }
  const bool multicast = f[0] & 1;
  if (multicast) {
    static constexpr uint8_t kBroadcast[6] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    if (std::memcmp(f, kBroadcast, 6) == 0) return (rctl & RCTL_BAM) || (rctl & RCTL_MPE);
    if (rctl & RCTL_MPE) return true;
  } else if (rctl & RCTL_UPE) {
    return true;
  }
  // Exact matches: the 16 receive addresses.
  for (unsigned i = 0; i < 16; ++i) {
    const uint32_t lo = regs_[(RA >> 2) + 2 * i], hi = regs_[(RA >> 2) + 2 * i + 1];
    if (!(hi & RAH_AV)) continue;
    const uint8_t a[6] = {static_cast<uint8_t>(lo),       static_cast<uint8_t>(lo >> 8),
                          static_cast<uint8_t>(lo >> 16), static_cast<uint8_t>(lo >> 24),
                          static_cast<uint8_t>(hi),       static_cast<uint8_t>(hi >> 8)};
    if (std::memcmp(f, a, 6) == 0) return true;
  }
  if (!multicast) return false;
  // The multicast table: 12 bits of the address, where RCTL.MO says, index 4096 bits.
  static constexpr unsigned kShift[4] = {4, 3, 2, 0};
  const unsigned mo = rctl_mo(rctl);
  const unsigned h = ((f[4] >> kShift[mo]) | (f[5] << (8 - kShift[mo]))) & 0xFFF;
  return regs_[(MTA >> 2) + (h >> 5)] >> (h & 31) & 1;
}

void E1000::receive_frame(const uint8_t* frame, size_t len) {
  const uint32_t rctl = regs_[RCTL >> 2];
  if (!(rctl & RCTL_EN) || !phy_.link_up() || !accept(frame, len)) return;
  const bool tagged = len >= 18 && (frame[12] << 8 | frame[13]) == static_cast<uint16_t>(regs_[VET >> 2]);
  if (len > (tagged ? 1522u : 1518u) - kFcs && !(rctl & RCTL_LPE)) {
    add_stat(ROC);  // oversize without long packet enable
    return;
  }
  std::vector<uint8_t> f(frame, frame + len);
  if (f.size() < kMinFrame) f.resize(kMinFrame, 0);
  if (!(rctl & RCTL_SECRC)) {  // the FCS goes to memory too (the driver strips it)
    const uint32_t crc = static_cast<uint32_t>(crc32(0, f.data(), static_cast<uInt>(f.size())));
    for (int i = 0; i < 4; ++i) f.push_back(static_cast<uint8_t>(crc >> (8 * i)));
  }
  if (rx_fifo_bytes_ + f.size() > kRxFifoBytes) {  // the packet buffer is full: the frame is lost
    add_stat(MPC);
    set_cause(ICR_RXO);
    return;
  }
  rx_fifo_bytes_ += f.size();
  rx_fifo_.push_back(std::move(f));
  rx_drain();
}

bool E1000::ready() const {
  return !(regs_[RCTL >> 2] & RCTL_EN) || rx_fifo_bytes_ + 1522 + kFcs <= kRxFifoBytes;
}

uint32_t E1000::rx_buffer_size() const {
  const uint32_t rctl = regs_[RCTL >> 2];
  static constexpr uint32_t kSizes[4] = {2048, 1024, 512, 256};
  const uint32_t s = kSizes[rctl_bsize(rctl)];
  return (rctl & RCTL_BSEX) && rctl_bsize(rctl) ? s * 16 : s;
}

unsigned E1000::rx_free_descriptors() const {
  const uint32_t n = regs_[RDLEN >> 2] / 16, h = regs_[RDH >> 2], t = regs_[RDT >> 2];
  if (n == 0 || h >= n || t >= n) return 0;
  return (t + n - h) % n;
}

void E1000::rx_drain() {
  if (!(regs_[RCTL >> 2] & RCTL_EN)) return;
  while (!rx_fifo_.empty()) {
    const std::vector<uint8_t>& f = rx_fifo_.front();
    const uint32_t bs = rx_buffer_size();
    const unsigned need = static_cast<unsigned>((f.size() + bs - 1) / bs);
    if (rx_free_descriptors() < need) {
      add_stat(RNBC);
      return;  // waits for the driver to give buffers back (RDT)
    }
    const bool ok = rx_write(f);
    rx_fifo_bytes_ -= f.size();
    rx_fifo_.pop_front();
    if (!ok) return;
  }
}

bool E1000::rx_write(const std::vector<uint8_t>& f) {
  const uint32_t n = regs_[RDLEN >> 2] / 16;
  uint32_t& rdh = regs_[RDH >> 2];
  const uint64_t base = uint64_t{regs_[RDBAH >> 2]} << 32 | regs_[RDBAL >> 2];
  const uint32_t bs = rx_buffer_size();
  const size_t payload = f.size() - ((regs_[RCTL >> 2] & RCTL_SECRC) ? 0 : kFcs);
  count_rx(f.data(), payload);
  for (size_t done = 0; done < f.size();) {
    const uint64_t at = base + uint64_t{rdh} * 16;
    uint8_t d[16];
    if (!mem_.dma_read(at, d, sizeof d)) {  // the ring is not in RAM
      ++guest_errors_;
      return false;
    }
    const uint64_t buf = le64(d);
    const size_t chunk = std::min<size_t>(bs, f.size() - done);
    uint8_t errors = 0;
    if (mem_.dma_write(buf, f.data() + done, chunk)) {
      if (on_dma_write) on_dma_write(static_cast<uint32_t>(buf), static_cast<uint32_t>(chunk));
    } else {
      ++guest_errors_;
      errors = RXD_ERR_RXE;
    }
    done += chunk;
    // Write-back: length, checksum 0, status (DD, EOP on the last, IXSM: no checksum offload
    // result), errors, special. The data is visible before DD (the driver polls DD).
    uint8_t wb[8] = {
        static_cast<uint8_t>(chunk),
        static_cast<uint8_t>(chunk >> 8),
        0,
        0,
        static_cast<uint8_t>(RXD_STAT_DD | RXD_STAT_IXSM | (done == f.size() ? RXD_STAT_EOP : 0)),
        errors,
        0,
        0};
    std::atomic_thread_fence(std::memory_order_release);
    if (mem_.dma_write(at + 8, wb, sizeof wb)) {
      if (on_dma_write) on_dma_write(static_cast<uint32_t>(at + 8), sizeof wb);
    }
    rdh = (rdh + 1) % n;
  }
  uint32_t cause = ICR_RXT0;
  const unsigned threshold = n >> (rctl_rdmts(regs_[RCTL >> 2]) + 1);
  if (rx_free_descriptors() <= threshold) cause |= ICR_RXDMT0;
  set_cause(cause);
  return true;
}

// ---- statistics ----

void E1000::add_stat(uint32_t off, uint32_t n) {
  uint32_t& r = regs_[off >> 2];
  r = r > 0xFFFFFFFFu - n ? 0xFFFFFFFFu : r + n;  // the counters stick at their maximum
}

void E1000::add_stat64(uint32_t lo, uint64_t n) {
  uint64_t v = (uint64_t{regs_[(lo + 4) >> 2]} << 32 | regs_[lo >> 2]) + n;
  regs_[lo >> 2] = static_cast<uint32_t>(v);
  regs_[(lo + 4) >> 2] = static_cast<uint32_t>(v >> 32);
}

namespace {
uint32_t size_bin(size_t len, uint32_t first) {  // the 64/127/255/511/1023/1522-byte bins
  const size_t l = len + 4;                      // counted with the FCS
  unsigned i = l <= 64 ? 0 : l <= 127 ? 1 : l <= 255 ? 2 : l <= 511 ? 3 : l <= 1023 ? 4 : 5;
  return first + 4 * i;
}
}  // namespace

void E1000::count_rx(const uint8_t* f, size_t len) {
  add_stat(TPR);
  add_stat(GPRC);
  add_stat64(TORL, len + kFcs);
  add_stat64(GORCL, len + kFcs);
  if (len + kFcs <= 1522) add_stat(size_bin(len, PRC64));
  if (f[0] & 1) add_stat(std::all_of(f, f + 6, [](uint8_t b) { return b == 0xFF; }) ? BPRC : MPRC);
}

void E1000::count_tx(const uint8_t* f, size_t len) {
  add_stat(TPT);
  add_stat(GPTC);
  add_stat64(TOTL, len + kFcs);
  add_stat64(GOTCL, len + kFcs);
  if (len + kFcs <= 1522) add_stat(size_bin(len, PTC64));
  if (f[0] & 1) add_stat(std::all_of(f, f + 6, [](uint8_t b) { return b == 0xFF; }) ? BPTC : MPTC);
}

// ---- snapshots ----

namespace {
void save_offload(SnapshotWriter& w, const TxOffload& o) {
  for (uint32_t v : {o.ipcss, o.ipcso, o.ipcse, o.tucss, o.tucso, o.tucse, o.hdr_len, o.mss}) w.u32(v);
  w.boolean(o.ipv4);
  w.boolean(o.tcp);
}
TxOffload load_offload(SnapshotReader& r) {
  TxOffload o;
  for (uint32_t* v : {&o.ipcss, &o.ipcso, &o.ipcse, &o.tucss, &o.tucso, &o.tucse, &o.hdr_len, &o.mss})
    *v = r.u32_max(0xFFFF, "offload context field");
  o.ipv4 = r.boolean();
  o.tcp = r.boolean();
  return o;
}
}  // namespace

void E1000::save(SnapshotWriter& w) const {
  w.begin_section("E1K0", 1);
  save_config(w);
  eeprom_.save(w);
  phy_.save(w);
  w.bytes(mac_.data(), mac_.size());
  for (uint32_t r : regs_) w.u32(r);
  w.u32(io_addr_);
  w.u64(next_irq_ns_);
  w.boolean(irq_timer_ != 0);
  w.blob(tx_packet_);
  w.boolean(tx_bad_);
  w.boolean(tx_tse_);
  w.u8(tx_popts_);
  w.boolean(tx_vle_);
  w.u16(tx_vlan_);
  w.boolean(tx_legacy_ic_);
  w.u8(tx_legacy_cso_);
  w.u8(tx_legacy_css_);
  save_offload(w, ctx_csum_);
  save_offload(w, ctx_tso_);
  w.u32(static_cast<uint32_t>(rx_fifo_.size()));
  for (const auto& f : rx_fifo_) w.blob(f);
  w.end_section();
}

void E1000::load(SnapshotReader& r) {
  r.begin_section("E1K0", 1);
  load_config(r);
  eeprom_.load(r);
  phy_.load(r);
  MacAddress mac;
  r.bytes(mac.data(), mac.size());
  std::vector<uint32_t> regs(regs_.size());
  for (uint32_t& x : regs) x = r.u32();
  const uint32_t io_addr = r.u32_max(kMmioSize - 4, "e1000 IOADDR");
  r.check((io_addr & 3) == 0, "e1000 IOADDR alignment");
  const uint64_t next_irq = r.u64();
  const bool timer = r.boolean();
  std::vector<uint8_t> tx = r.blob(kMaxTxPacket);
  const bool tx_bad = r.boolean(), tx_tse = r.boolean();
  const uint8_t popts = r.u8();
  const bool vle = r.boolean();
  const uint16_t vlan = r.u16();
  const bool ic = r.boolean();
  const uint8_t cso = r.u8(), css = r.u8();
  const TxOffload csum = load_offload(r), tso = load_offload(r);
  const uint32_t frames = r.u32_max(kRxFifoBytes / kMinFrame, "e1000 receive FIFO frames");
  std::deque<std::vector<uint8_t>> fifo;
  size_t bytes = 0;
  for (uint32_t i = 0; i < frames; ++i) {
    fifo.push_back(r.blob(NetBackend::kMaxFrame + kFcs));
    r.check(fifo.back().size() >= kMinFrame, "e1000 receive FIFO frame too short");
    bytes += fifo.back().size();
  }
  r.check(bytes <= kRxFifoBytes, "e1000 receive FIFO larger than the packet buffer");
  r.end_section();
  apply_loaded_config();
  mac_ = mac;
  regs_ = std::move(regs);
  io_addr_ = io_addr;
  if (irq_timer_) clock_.cancel(irq_timer_);
  irq_timer_ = 0;
  next_irq_ns_ = next_irq;
  tx_packet_ = std::move(tx);
  tx_bad_ = tx_bad;
  tx_tse_ = tx_tse;
  tx_popts_ = popts;
  tx_vle_ = vle;
  tx_vlan_ = vlan;
  tx_legacy_ic_ = ic;
  tx_legacy_cso_ = cso;
  tx_legacy_css_ = css;
  ctx_csum_ = csum;
  ctx_tso_ = tso;
  rx_fifo_ = std::move(fifo);
  rx_fifo_bytes_ = bytes;
  (void)timer;  // re-armed by update_irq if still throttled
  set_intx(false);
  update_irq();
}

}  // namespace vx86
