#include "devices/ide.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "devices/snapshot.h"
#include "mmu/physical_memory.h"

namespace vx86 {

namespace {
constexpr uint8_t kDevCtlNien = 0x02, kDevCtlSrst = 0x04, kDevCtlHob = 0x80;

void put_string(uint16_t* w, unsigned first, unsigned words, const char* s) {
  // ATA strings: two characters per word, first character in the high byte, space padded.
  const size_t len = std::strlen(s);
  for (unsigned i = 0; i < words; ++i) {
    const char a = 2 * i < len ? s[2 * i] : ' ';
    const char b = 2 * i + 1 < len ? s[2 * i + 1] : ' ';
    w[first + i] = static_cast<uint16_t>(static_cast<uint8_t>(a) << 8 | static_cast<uint8_t>(b));
  }
}

void finish_identify(uint16_t* w, std::vector<uint8_t>& out) {
  // Word 255: signature A5h and a checksum byte making the 512 bytes sum to zero.
  w[255] = 0x00A5;
  uint8_t sum = 0;
  for (unsigned i = 0; i < 255; ++i) sum = static_cast<uint8_t>(sum + (w[i] & 0xFF) + (w[i] >> 8));
  sum = static_cast<uint8_t>(sum + 0xA5);
  w[255] = static_cast<uint16_t>(0x00A5 | static_cast<uint8_t>(-sum) << 8);
  out.resize(512);
  for (unsigned i = 0; i < 256; ++i) {
    out[2 * i] = static_cast<uint8_t>(w[i]);
    out[2 * i + 1] = static_cast<uint8_t>(w[i] >> 8);
  }
}
}  // namespace

void IdeChannel::attach(PortBus& bus) {
  bus.attach(cmd_base_, 8, this);
  bus.attach(ctrl_port_, 1, this);
}

void IdeChannel::attach_disk(unsigned unit, std::shared_ptr<DiskImage> image) {
  if (!image) throw std::invalid_argument("IDE disk needs an image");
  Drive& d = drives_[unit & 1];
  d = Drive{};
  d.kind = Kind::Disk;
  d.sectors = image->size() / 512;
  d.image = std::move(image);
  d.heads = 16;
  d.spt = 63;
  d.cyls = static_cast<uint16_t>(std::clamp<uint64_t>(d.sectors / (16 * 63), 1, 16383));
  set_signature(d);
  soft_reset_drive(d);
  update_irq();
}

void IdeChannel::attach_cdrom(unsigned unit, std::shared_ptr<DiskImage> iso) {
  Drive& d = drives_[unit & 1];
  d = Drive{};
  d.kind = Kind::Cdrom;
  d.sectors = iso ? iso->size() / 2048 : 0;
  d.image = std::move(iso);
  set_signature(d);
  soft_reset_drive(d);
  update_irq();
}

void IdeChannel::detach(unsigned unit) {
  drives_[unit & 1] = Drive{};
  update_irq();
}

void IdeChannel::change_medium(unsigned unit, std::shared_ptr<DiskImage> iso) {
  Drive& d = drives_[unit & 1];
  if (d.kind != Kind::Cdrom) return;
  d.sectors = iso ? iso->size() / 2048 : 0;
  d.image = std::move(iso);
  d.tray_open = false;
  d.media_event = d.image ? 2 : 3;  // NewMedia / MediaRemoval
  d.unit_attention = true;
}

void IdeChannel::set_signature(Drive& d) {
  d.count = d.lba_low = 1;
  if (d.kind == Kind::Cdrom) {
    d.lba_mid = 0x14;
    d.lba_high = 0xEB;
  } else {
    d.lba_mid = d.lba_high = 0;
  }
  d.hob_count = d.hob_lba_low = d.hob_lba_mid = d.hob_lba_high = d.hob_feature = 0;
  d.device = 0;
}

void IdeChannel::soft_reset_drive(Drive& d) {
  d.phase = Phase::Idle;
  d.buf.clear();
  d.pos = d.end = 0;
  d.reply.clear();
  d.reply_pos = 0;
  d.stream_left = 0;
  d.dma_bytes = 0;
  d.intrq = false;
  d.error = 0x01;  // diagnostic code: no error
  d.status = d.kind == Kind::Disk ? (ST_DRDY | ST_DSC) : 0;
  d.standby = false;
  if (d.kind == Kind::Disk) {
    d.cur_heads = d.heads;
    d.cur_spt = d.spt;
  }
}

void IdeChannel::reset() {
  for (Drive& d : drives_) {
    set_signature(d);
    soft_reset_drive(d);
    d.mult = 0;
    d.xfer_mode = 0;
    d.wcache = true;
    d.sense_key = d.asc = d.ascq = 0;
    d.locked = false;
  }
  devctl_ = 0;
  devctl_shadow_select_ = 0;
  bm_reset();
  update_irq();
}

void IdeChannel::bm_reset() {
  bm_cmd_ = 0;
  bm_status_ = 0;
  bm_prd_ = 0;
}

void IdeChannel::update_irq() {
  const Drive& d = drives_[selected()];
  const bool level = d.kind != Kind::None && d.intrq && !(devctl_ & kDevCtlNien);
  if (level != irq_level_) {
    irq_level_ = level;
    if (irq) irq(level);
  }
}

void IdeChannel::raise(Drive& d) {
  d.intrq = true;
  bm_status_ |= 0x04;  // the bus master latches the drive's interrupt
  update_irq();
}

// ---- register file ----

uint8_t IdeChannel::read_taskfile(unsigned reg) {
  if (!any_drive()) return 0xFF;
  Drive& d = sel();
  const bool hob = devctl_ & kDevCtlHob;
  const bool absent = d.kind == Kind::None;
  switch (reg) {
    case 1: return absent ? 0 : hob ? d.hob_feature : d.error;
    case 2: return hob ? d.hob_count : d.count;
    case 3: return hob ? d.hob_lba_low : d.lba_low;
    case 4: return hob ? d.hob_lba_mid : d.lba_mid;
    case 5: return hob ? d.hob_lba_high : d.lba_high;
    case 6: return d.device | 0xA0;
    default: {  // status: reading it acknowledges the interrupt
      if (absent) return 0;
      const uint8_t s = d.status;
      d.intrq = false;
      update_irq();
      return s;
    }
  }
}

void IdeChannel::write_taskfile(unsigned reg, uint8_t v) {
  devctl_ &= static_cast<uint8_t>(~kDevCtlHob);  // a command block write clears HOB
  for (Drive& d : drives_) {
    switch (reg) {
      case 1: d.hob_feature = d.feature; d.feature = v; break;
      case 2: d.hob_count = d.count; d.count = v; break;
      case 3: d.hob_lba_low = d.lba_low; d.lba_low = v; break;
      case 4: d.hob_lba_mid = d.lba_mid; d.lba_mid = v; break;
      case 5: d.hob_lba_high = d.lba_high; d.lba_high = v; break;
      case 6: d.device = v & 0x5F; break;  // bits 7 and 5 are obsolete (read as 1)
      default: break;
    }
  }
  if (reg == 6) {
    devctl_shadow_select_ = (v >> 4) & 1;
    update_irq();
  }
}

uint32_t IdeChannel::io_read(uint16_t port, unsigned size) {
  if (port == ctrl_port_) {  // alternate status: no interrupt acknowledge
    if (!any_drive()) return 0xFF | open_bus_upper(size);
    const Drive& d = drives_[selected()];
    return (d.kind == Kind::None ? 0 : d.status) | open_bus_upper(size);
  }
  const unsigned reg = (port - cmd_base_) & 7u;
  if (reg == 0) return data_read(size);
  return read_taskfile(reg) | open_bus_upper(size);
}

void IdeChannel::io_write(uint16_t port, uint32_t value, unsigned size) {
  if (port == ctrl_port_) {
    const uint8_t v = static_cast<uint8_t>(value);
    const bool was_srst = devctl_ & kDevCtlSrst;
    const bool srst = v & kDevCtlSrst;
    devctl_ = v & (kDevCtlNien | kDevCtlSrst | kDevCtlHob);
    if (srst && !was_srst) {
      for (Drive& d : drives_) {
        soft_reset_drive(d);
        d.status = ST_BSY | ST_DSC;
      }
    } else if (!srst && was_srst) {
      for (Drive& d : drives_) {
        set_signature(d);
        soft_reset_drive(d);
      }
      devctl_shadow_select_ = 0;
    }
    update_irq();
    return;
  }
  const unsigned reg = (port - cmd_base_) & 7u;
  if (reg == 0) return data_write(value, size);
  if (reg == 7) return command(static_cast<uint8_t>(value));
  write_taskfile(reg, static_cast<uint8_t>(value));
}

uint32_t IdeChannel::data_read(unsigned size) {
  Drive& d = sel();
  if (d.kind == Kind::None || d.phase != Phase::PioIn || !(d.status & ST_DRQ)) return size == 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
  uint32_t v = 0;
  for (unsigned i = 0; i < size && d.pos < d.end; ++i) v |= uint32_t{d.buf[d.pos++]} << (8 * i);
  if (d.pos >= d.end) pio_block_consumed(d);
  return v;
}

void IdeChannel::data_write(uint32_t v, unsigned size) {
  Drive& d = sel();
  if (d.kind == Kind::None || !(d.status & ST_DRQ) || (d.phase != Phase::PioOut && d.phase != Phase::Packet)) return;
  for (unsigned i = 0; i < size && d.pos < d.end; ++i) d.buf[d.pos++] = static_cast<uint8_t>(v >> (8 * i));
  if (d.pos < d.end) return;
  if (d.phase == Phase::Packet)
    atapi_execute(d);
  else
    pio_out_block_done(d);
}

// ---- command dispatch ----

void IdeChannel::abort_cmd(Drive& d, uint8_t err) {
  d.phase = Phase::Idle;
  d.error = err;
  d.status = ST_DRDY | ST_DSC | ST_ERR;
  raise(d);
}

void IdeChannel::complete(Drive& d, bool irq_on) {
  d.phase = Phase::Idle;
  d.error = 0;
  d.status = ST_DRDY | ST_DSC;
  if (irq_on) raise(d);
}

void IdeChannel::command(uint8_t cmd) {
  if (devctl_ & kDevCtlSrst) return;
  Drive& d = sel();
  if (d.kind == Kind::None) return;  // the absent device does not respond
  if ((d.status & ST_BSY)) return;
  d.intrq = false;
  d.cmd = cmd;
  d.phase = Phase::Idle;
  d.status &= static_cast<uint8_t>(~(ST_DRQ | ST_ERR));
  update_irq();

  // Commands common to both kinds.
  switch (cmd) {
    case 0x90: {  // EXECUTE DEVICE DIAGNOSTIC: both devices
      for (Drive& x : drives_) {
        if (x.kind == Kind::None) continue;
        set_signature(x);
        soft_reset_drive(x);
      }
      devctl_shadow_select_ = 0;
      raise(drives_[0].kind != Kind::None ? drives_[0] : d);
      return;
    }
    case 0xEF: return set_features(d);
    case 0xE0: case 0x94: case 0xE2: case 0x96:  // STANDBY (IMMEDIATE)
      d.standby = true;
      return complete(d);
    case 0xE1: case 0x95: case 0xE3: case 0x97:  // IDLE (IMMEDIATE)
      d.standby = false;
      return complete(d);
    case 0xE5: case 0x98:  // CHECK POWER MODE
      d.count = d.standby ? 0x00 : 0xFF;
      return complete(d);
    default: break;
  }
  if (d.kind == Kind::Cdrom) {
    switch (cmd) {
      case 0xA0: return atapi_packet_cmd(d);
      case 0xA1: identify_packet(d); return;
      case 0x08:  // DEVICE RESET: signature, no interrupt
        set_signature(d);
        soft_reset_drive(d);
        update_irq();
        return;
      case 0xEC:  // IDENTIFY DEVICE on a packet device: abort with the signature in place
        set_signature(d);
        return abort_cmd(d);
      default:
        return abort_cmd(d);
    }
  }
  ata_command(d, cmd);
}

void IdeChannel::set_features(Drive& d) {
  switch (d.feature) {
    case 0x03: {  // set transfer mode from the count register
      const uint8_t m = d.count;
      const uint8_t mode = m & 7;
      const bool ok = (m >> 3) == 0 ? mode <= 1          // PIO default (with/without IORDY)
                      : (m >> 3) == 1 ? mode <= 4        // PIO flow control mode
                      : (m >> 3) == 4 ? mode <= 2        // multiword DMA
                      : (m >> 3) == 8 ? mode <= 5        // Ultra DMA
                                      : false;
      if (!ok) return abort_cmd(d);
      d.xfer_mode = m;
      return complete(d);
    }
    case 0x02: d.wcache = true; return complete(d);
    case 0x82: d.wcache = false; return complete(d);
    case 0x55: case 0xAA: case 0x66: case 0xCC: return complete(d);  // read look-ahead, defaults
    default: return abort_cmd(d);
  }
}

void IdeChannel::ata_command(Drive& d, uint8_t cmd) {
  switch (cmd) {
    case 0xEC: return identify(d);
    case 0x20: case 0x21: return ata_rw(d, cmd, false, false, false, false);
    case 0x24: return ata_rw(d, cmd, false, true, false, false);
    case 0x30: case 0x31: return ata_rw(d, cmd, true, false, false, false);
    case 0x34: return ata_rw(d, cmd, true, true, false, false);
    case 0xC4: return ata_rw(d, cmd, false, false, false, true);
    case 0x29: return ata_rw(d, cmd, false, true, false, true);
    case 0xC5: return ata_rw(d, cmd, true, false, false, true);
    case 0x39: return ata_rw(d, cmd, true, true, false, true);
    case 0xC8: case 0xC9: return ata_rw(d, cmd, false, false, true, false);
    case 0x25: return ata_rw(d, cmd, false, true, true, false);
    case 0xCA: case 0xCB: return ata_rw(d, cmd, true, false, true, false);
    case 0x35: return ata_rw(d, cmd, true, true, true, false);
    case 0x40: case 0x41: case 0x42: {  // READ VERIFY SECTORS (EXT): address check only
      uint64_t lba;
      uint32_t count;
      if (!ata_address(d, cmd == 0x42, lba, count)) return abort_cmd(d, ER_IDNF);
      set_address(d, lba + count - 1);
      return complete(d);
    }
    case 0xC6:  // SET MULTIPLE MODE
      if (d.count > kMaxMultiple || (d.count & (d.count - 1))) return abort_cmd(d);
      d.mult = d.count;
      return complete(d);
    case 0x91:  // INITIALIZE DEVICE PARAMETERS
      if (d.count == 0) return abort_cmd(d);
      d.cur_spt = d.count;
      d.cur_heads = static_cast<uint16_t>((d.device & 0x0F) + 1);
      return complete(d);
    case 0xE7: case 0xEA:  // FLUSH CACHE (EXT)
      if (!d.image->flush()) return abort_cmd(d);
      return complete(d);
    case 0x70:  // SEEK
      return complete(d);
    default:
      if (cmd >= 0x10 && cmd <= 0x1F) return complete(d);  // RECALIBRATE
      return abort_cmd(d);
  }
}

void IdeChannel::identify(Drive& d) {
  uint16_t w[256] = {};
  const uint64_t n = d.sectors;
  const uint32_t lba28 = static_cast<uint32_t>(std::min<uint64_t>(n, 0x0FFFFFFF));
  w[0] = 0x0040;  // fixed disk
  w[1] = d.cyls;
  w[3] = d.heads;
  w[6] = d.spt;
  put_string(w, 10, 10, "VX86-HD-0001");
  put_string(w, 23, 4, "1.0");
  put_string(w, 27, 20, "VX86 HARDDISK");
  w[47] = 0x8000 | kMaxMultiple;
  w[49] = 0x0B00;  // IORDY, LBA, DMA
  w[50] = 0x4000;
  w[51] = 0x0200;
  w[52] = 0x0200;
  w[53] = 0x0007;  // words 54-58, 64-70, 88 valid
  const uint64_t chs = uint64_t{d.cur_heads} * d.cur_spt * d.cyls;
  const uint64_t cur_cyls = d.cur_heads && d.cur_spt ? std::min<uint64_t>(n / (uint64_t{d.cur_heads} * d.cur_spt), 65535) : 0;
  w[54] = static_cast<uint16_t>(cur_cyls);
  w[55] = d.cur_heads;
  w[56] = d.cur_spt;
  const uint32_t cur_cap = static_cast<uint32_t>(std::min<uint64_t>(cur_cyls * d.cur_heads * d.cur_spt, 0xFFFFFFFF));
  (void)chs;
  w[57] = static_cast<uint16_t>(cur_cap);
  w[58] = static_cast<uint16_t>(cur_cap >> 16);
  w[59] = d.mult ? static_cast<uint16_t>(0x0100 | d.mult) : 0;
  w[60] = static_cast<uint16_t>(lba28);
  w[61] = static_cast<uint16_t>(lba28 >> 16);
  const uint8_t mode = d.xfer_mode & 7;
  w[62] = 0;
  w[63] = static_cast<uint16_t>(0x0007 | ((d.xfer_mode >> 3) == 4 ? 0x100 << mode : 0));
  w[64] = 0x0003;  // PIO 3 and 4
  w[65] = 120;
  w[66] = 120;
  w[67] = 120;
  w[68] = 120;
  w[80] = 0x00F0;  // ATA/ATAPI-4 to -7
  w[81] = 0x0016;
  w[82] = 0x0028;  // write cache, power management
  w[83] = 0x7400;  // FLUSH CACHE EXT, FLUSH CACHE, 48-bit addressing
  w[84] = 0x4000;
  w[85] = static_cast<uint16_t>(0x0008 | (d.wcache ? 0x20 : 0));
  w[86] = 0x3400;
  w[87] = 0x4000;
  w[88] = static_cast<uint16_t>(0x003F | ((d.xfer_mode >> 3) == 8 ? 0x100 << mode : 0));
  w[93] = 0x6001 | (0x4000);
  w[100] = static_cast<uint16_t>(n);
  w[101] = static_cast<uint16_t>(n >> 16);
  w[102] = static_cast<uint16_t>(n >> 32);
  w[103] = static_cast<uint16_t>(n >> 48);
  send_identify(d, w);
}

// Hands a finished IDENTIFY (PACKET) DEVICE block to the host as one 512-byte PIO-in transfer.
void IdeChannel::send_identify(Drive& d, uint16_t* w) {
  std::vector<uint8_t> out;
  finish_identify(w, out);
  d.buf = std::move(out);
  d.pos = 0;
  d.end = 512;
  d.left = 0;
  d.phase = Phase::PioIn;
  d.error = 0;
  d.status = ST_DRDY | ST_DSC | ST_DRQ;
  raise(d);
}

void IdeChannel::identify_packet(Drive& d) {
  uint16_t w[256] = {};
  w[0] = 0x85C0;  // ATAPI, CD-ROM, removable, accelerated DRQ, 12-byte packets
  put_string(w, 10, 10, "VX86-CD-0001");
  put_string(w, 23, 4, "1.0");
  put_string(w, 27, 20, "VX86 CD-ROM");
  w[49] = 0x0B00;  // IORDY, LBA, DMA
  w[53] = 0x0007;
  const uint8_t mode = d.xfer_mode & 7;
  w[62] = 0;
  w[63] = static_cast<uint16_t>(0x0007 | ((d.xfer_mode >> 3) == 4 ? 0x100 << mode : 0));
  w[64] = 0x0003;
  w[65] = 0x00B4;
  w[66] = 0x00B4;
  w[67] = 0x012C;
  w[68] = 0x00B4;
  w[71] = 30;
  w[72] = 30;
  w[80] = 0x001E;
  w[82] = 0x0014;  // PACKET, removable media
  w[83] = 0x4000;
  w[84] = 0x4000;
  w[85] = 0x0014;
  w[87] = 0x4000;
  w[88] = static_cast<uint16_t>(0x003F | ((d.xfer_mode >> 3) == 8 ? 0x100 << mode : 0));
  w[93] = 0x6001;
  send_identify(d, w);
}

// ---- ATA read/write ----

bool IdeChannel::ata_address(Drive& d, bool lba48, uint64_t& lba, uint32_t& count) {
  if (lba48) {
    lba = uint64_t{d.hob_lba_high} << 40 | uint64_t{d.hob_lba_mid} << 32 | uint64_t{d.hob_lba_low} << 24 |
          uint64_t{d.lba_high} << 16 | uint64_t{d.lba_mid} << 8 | d.lba_low;
    count = uint32_t{d.hob_count} << 8 | d.count;
    if (count == 0) count = 65536;
  } else {
    count = d.count ? d.count : 256;
    if (d.device & 0x40) {
      lba = uint64_t{d.device & 0x0Fu} << 24 | uint64_t{d.lba_high} << 16 | uint64_t{d.lba_mid} << 8 | d.lba_low;
    } else {
      const uint32_t cyl = uint32_t{d.lba_high} << 8 | d.lba_mid;
      const uint32_t head = d.device & 0x0Fu;
      const uint32_t sector = d.lba_low;
      if (sector == 0 || sector > d.cur_spt || head >= d.cur_heads) return false;
      lba = (uint64_t{cyl} * d.cur_heads + head) * d.cur_spt + (sector - 1);
    }
  }
  return lba < d.sectors && count <= d.sectors - lba;
}

void IdeChannel::set_address(Drive& d, uint64_t lba) {
  // The task file holds the last sector transferred (or the failing one).
  if (d.lba48) {
    d.lba_low = static_cast<uint8_t>(lba);
    d.lba_mid = static_cast<uint8_t>(lba >> 8);
    d.lba_high = static_cast<uint8_t>(lba >> 16);
    d.hob_lba_low = static_cast<uint8_t>(lba >> 24);
    d.hob_lba_mid = static_cast<uint8_t>(lba >> 32);
    d.hob_lba_high = static_cast<uint8_t>(lba >> 40);
  } else if (d.device & 0x40) {
    d.lba_low = static_cast<uint8_t>(lba);
    d.lba_mid = static_cast<uint8_t>(lba >> 8);
    d.lba_high = static_cast<uint8_t>(lba >> 16);
    d.device = static_cast<uint8_t>((d.device & 0xF0) | ((lba >> 24) & 0x0F));
  } else if (d.cur_heads && d.cur_spt) {
    const uint64_t cyl = lba / (uint64_t{d.cur_heads} * d.cur_spt);
    const uint64_t rem = lba % (uint64_t{d.cur_heads} * d.cur_spt);
    d.lba_mid = static_cast<uint8_t>(cyl);
    d.lba_high = static_cast<uint8_t>(cyl >> 8);
    d.device = static_cast<uint8_t>((d.device & 0xF0) | (rem / d.cur_spt));
    d.lba_low = static_cast<uint8_t>(rem % d.cur_spt + 1);
  }
}

void IdeChannel::ata_rw(Drive& d, uint8_t cmd, bool write, bool lba48, bool dma, bool multiple) {
  d.lba48 = lba48;
  if (multiple && d.mult == 0) return abort_cmd(d);
  if (write && !d.image->writable()) return abort_cmd(d);
  uint64_t lba;
  uint32_t count;
  if (!ata_address(d, lba48, lba, count)) return abort_cmd(d, ER_IDNF | ER_ABRT);
  d.cmd = cmd;
  d.lba = lba;
  d.error = 0;
  if (dma) {
    d.dma_bytes = uint64_t{count} * 512;
    d.phase = write ? Phase::DmaOut : Phase::DmaIn;
    d.status = ST_DRDY | ST_DSC | ST_DRQ;
    start_dma(d);
    return;
  }
  d.block = multiple ? d.mult : 1;
  d.left = count;
  if (write) {
    const uint32_t n = std::min(d.block, d.left);
    d.left -= n;
    d.buf.assign(n * 512u, 0);
    d.pos = 0;
    d.end = n * 512u;
    d.phase = Phase::PioOut;
    d.status = ST_DRDY | ST_DSC | ST_DRQ;  // the first block is requested without an interrupt
    return;
  }
  pio_in_block(d);
}

void IdeChannel::pio_in_block(Drive& d) {
  const uint32_t n = std::min(d.block, d.left);
  d.buf.resize(n * 512u);
  if (!d.image->read(d.lba * 512, d.buf.data(), d.buf.size())) {
    set_address(d, d.lba);
    return abort_cmd(d, ER_UNC);
  }
  d.left -= n;
  d.lba += n;
  d.pos = 0;
  d.end = n * 512u;
  d.phase = Phase::PioIn;
  d.status = ST_DRDY | ST_DSC | ST_DRQ;
  raise(d);
}

void IdeChannel::pio_block_consumed(Drive& d) {
  if (d.kind == Kind::Cdrom && d.cmd == 0xA0) return atapi_next_chunk(d);
  if (d.left == 0) {
    if (d.cmd != 0xEC && d.cmd != 0xA1) set_address(d, d.lba - 1);
    d.phase = Phase::Idle;
    d.status = ST_DRDY | ST_DSC;  // no interrupt after the last block of a PIO read
    return;
  }
  pio_in_block(d);
}

void IdeChannel::pio_out_block_done(Drive& d) {
  const uint32_t n = d.end / 512;
  if (!d.image->write(d.lba * 512, d.buf.data(), d.end)) {
    set_address(d, d.lba);
    return abort_cmd(d, ER_ABRT);
  }
  d.lba += n;
  if (d.left == 0) {
    set_address(d, d.lba - 1);
    return complete(d);
  }
  const uint32_t m = std::min(d.block, d.left);
  d.left -= m;
  d.buf.assign(m * 512u, 0);
  d.pos = 0;
  d.end = m * 512u;
  d.status = ST_DRDY | ST_DSC | ST_DRQ;
  raise(d);
}

// ---- bus-master DMA ----

uint32_t IdeChannel::bm_read(unsigned offset, unsigned size) {
  uint8_t regs[8] = {bm_cmd_, 0, bm_status_, 0,
                     static_cast<uint8_t>(bm_prd_), static_cast<uint8_t>(bm_prd_ >> 8),
                     static_cast<uint8_t>(bm_prd_ >> 16), static_cast<uint8_t>(bm_prd_ >> 24)};
  uint32_t v = 0;
  for (unsigned i = 0; i < size; ++i) v |= uint32_t{(offset + i) < 8 ? regs[offset + i] : uint8_t{0xFF}} << (8 * i);
  return v;
}

void IdeChannel::bm_write(unsigned offset, uint32_t value, unsigned size) {
  for (unsigned i = 0; i < size; ++i) {
    const unsigned o = offset + i;
    const uint8_t v = static_cast<uint8_t>(value >> (8 * i));
    if (o == 0) {
      const bool was = bm_cmd_ & 1;
      bm_cmd_ = v & 0x09;
      if ((v & 1) && !was) {
        bm_status_ |= 0x01;
        run_dma();
      } else if (!(v & 1)) {
        bm_status_ &= static_cast<uint8_t>(~0x01);  // stop: the transfer (if any) is abandoned
      }
    } else if (o == 2) {
      bm_status_ = static_cast<uint8_t>((bm_status_ & 0x01) | (v & 0x60) | (bm_status_ & 0x06 & ~v));
    } else if (o >= 4 && o < 8) {
      const unsigned sh = 8 * (o - 4);
      bm_prd_ = (bm_prd_ & ~(0xFFu << sh)) | (uint32_t{v} << sh);
      bm_prd_ &= ~3u;
    }
  }
}

void IdeChannel::start_dma(Drive& d) {
  (void)d;
  if (bm_cmd_ & 1) run_dma();
}

bool IdeChannel::dma_copy(bool to_memory, uint32_t addr, uint32_t len, std::vector<uint8_t>& tmp) {
  for (uint32_t done = 0; done < len;) {
    const uint32_t a = addr + done;
    const uint32_t n = std::min<uint32_t>(len - done, PAGE_SIZE - (a & PAGE_MASK));
    uint8_t* page = mem_->host_page(a);
    if (page && (!to_memory || mem_->page_writable(a))) {
      if (to_memory)
        std::memcpy(page + (a & PAGE_MASK), tmp.data() + done, n);
      else
        std::memcpy(tmp.data() + done, page + (a & PAGE_MASK), n);
    } else {
      for (uint32_t i = 0; i < n; ++i) {
        if (to_memory)
          mem_->write8(a + i, tmp[done + i]);
        else
          tmp[done + i] = mem_->read8(a + i);
      }
    }
    done += n;
  }
  if (to_memory && on_dma_write) on_dma_write(addr, len);
  return true;
}

void IdeChannel::run_dma() {
  Drive& d = sel();
  if (!(bm_status_ & 1) || (d.phase != Phase::DmaIn && d.phase != Phase::DmaOut)) return;
  const bool in = d.phase == Phase::DmaIn;
  const uint64_t ram = mem_ ? mem_->ram_size() : 0;
  uint32_t prd = bm_prd_;
  bool eot = false, bad = false, dev_error = false, table_done = false;
  std::vector<uint8_t> tmp;
  unsigned entries = 0;
  uint64_t done = 0;
  while (d.dma_bytes && !eot) {
    if (entries++ >= kMaxPrdEntries || uint64_t{prd} + 8 > ram) {
      bad = true;
      break;
    }
    const uint32_t base = (mem_->read(prd, 4)) & ~1u;
    const uint32_t ctl = mem_->read(prd + 4, 4);
    eot = ctl & 0x80000000u;
    uint32_t len = ctl & 0xFFFE;
    if (len == 0) len = 0x10000;
    prd += 8;
    const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(len, d.dma_bytes));
    if (uint64_t{base} + n > ram) {
      bad = true;
      break;
    }
    tmp.resize(n);
    if (in) {
      const bool ok = d.kind == Kind::Cdrom ? atapi_produce(d, tmp.data(), n)
                                            : d.image->read(d.lba * 512 + done, tmp.data(), n);
      if (!ok) {
        dev_error = true;
        break;
      }
      dma_copy(true, base, n, tmp);
    } else {
      dma_copy(false, base, n, tmp);
      if (!d.image->write(d.lba * 512 + done, tmp.data(), n)) {
        dev_error = true;
        break;
      }
    }
    done += n;
    d.dma_bytes -= n;
    table_done = eot && n == len;
  }
  if (!bad && !dev_error && d.dma_bytes) bad = true;  // the table ended before the transfer did
  if (d.kind == Kind::Disk) d.lba += done / 512;
  if (bad || dev_error) {
    bm_status_ = static_cast<uint8_t>((bm_status_ & ~0x01) | (bad ? 0x02 : 0));
    d.dma_bytes = 0;
    if (d.kind == Kind::Cdrom) {
      d.status &= static_cast<uint8_t>(~ST_DRQ);
      d.count = 3;
      if (dev_error)
        atapi_error(d, 0x03, 0x11);  // MEDIUM ERROR, unrecovered read error
      else
        atapi_error(d, 0x0B, 0x00);  // ABORTED COMMAND
    } else {
      abort_cmd(d, dev_error && in ? ER_UNC : ER_ABRT);
    }
    return;
  }
  // Success: Active stays set if the table describes more memory than was transferred.
  if (table_done) bm_status_ &= static_cast<uint8_t>(~0x01);
  if (d.kind == Kind::Cdrom) {
    d.stream_left = 0;
    d.count = 3;  // I/O + C/D: status phase
    d.phase = Phase::Idle;
    d.error = 0;
    d.status = ST_DRDY | ST_DSC;
    raise(d);
  } else {
    set_address(d, d.lba - 1);
    complete(d);
  }
}

// ---- snapshots ----

void IdeChannel::save(SnapshotWriter& w) const {
  w.begin_section("IDEC", 1);
  w.u16(cmd_base_);
  w.u8(devctl_);
  w.u8(devctl_shadow_select_);
  w.boolean(irq_level_);
  w.u8(bm_cmd_);
  w.u8(bm_status_);
  w.u32(bm_prd_);
  for (const Drive& d : drives_) {
    w.u8(static_cast<uint8_t>(d.kind));
    w.u64(d.sectors);
    for (uint8_t v : {d.feature, d.count, d.lba_low, d.lba_mid, d.lba_high, d.device, d.hob_feature, d.hob_count,
                      d.hob_lba_low, d.hob_lba_mid, d.hob_lba_high, d.status, d.error, d.mult, d.xfer_mode, d.cmd,
                      static_cast<uint8_t>(d.phase), d.sense_key, d.asc, d.ascq, d.media_event})
      w.u8(v);
    for (bool b : {d.intrq, d.wcache, d.standby, d.lba48, d.tray_open, d.locked, d.unit_attention, d.stream_sectors, d.packet_dma})
      w.boolean(b);
    w.u16(d.cur_heads);
    w.u16(d.cur_spt);
    w.blob(d.buf);
    w.u32(d.pos);
    w.u32(d.end);
    w.u64(d.lba);
    w.u32(d.left);
    w.u32(d.block);
    w.u64(d.dma_bytes);
    w.bytes(d.packet.data(), d.packet.size());
    w.blob(d.reply);
    w.u32(d.reply_pos);
    w.u64(d.stream_left);
    w.bytes(d.secbuf.data(), d.secbuf.size());
    w.u32(d.secpos);
    w.u32(d.byte_limit);
  }
  w.end_section();
}

void IdeChannel::load(SnapshotReader& r) {
  auto l = parse(r);
  apply(*l);
}

std::unique_ptr<IdeChannel::Loaded> IdeChannel::parse(SnapshotReader& r) const {
  auto l = std::make_unique<Loaded>();
  r.begin_section("IDEC", 1);
  r.check(r.u16() == cmd_base_, "IDE snapshot is for another channel");
  const uint8_t devctl = r.u8();
  r.check((devctl & ~(kDevCtlNien | kDevCtlSrst | kDevCtlHob)) == 0, "IDE device control malformed");
  const uint8_t selv = r.u8_max(1, "IDE selected drive out of range");
  const bool level = r.boolean();
  const uint8_t bmc = r.u8();
  r.check((bmc & ~0x09) == 0, "IDE bus master command malformed");
  const uint8_t bms = r.u8();
  r.check((bms & 0x98) == 0, "IDE bus master status malformed");
  const uint32_t prd = r.u32();
  r.check((prd & 3) == 0, "IDE PRD address unaligned");
  std::array<Drive, 2>& nd = l->drives;
  for (unsigned u = 0; u < 2; ++u) {
    Drive& d = nd[u];
    const Drive& cur = drives_[u];
    d.kind = static_cast<Kind>(r.u8_max(2, "IDE drive kind out of range"));
    d.sectors = r.u64();
    r.check(d.kind == cur.kind, "IDE snapshot drive kind differs from the attached drive");
    r.check(d.sectors == cur.sectors, "IDE snapshot drive size differs from the attached image");
    d.image = cur.image;
    d.cyls = cur.cyls, d.heads = cur.heads, d.spt = cur.spt;
    uint8_t* f[] = {&d.feature, &d.count, &d.lba_low, &d.lba_mid, &d.lba_high, &d.device, &d.hob_feature,
                    &d.hob_count, &d.hob_lba_low, &d.hob_lba_mid, &d.hob_lba_high, &d.status, &d.error,
                    &d.mult, &d.xfer_mode, &d.cmd};
    for (uint8_t* p : f) *p = r.u8();
    d.phase = static_cast<Phase>(r.u8_max(5, "IDE phase out of range"));
    d.sense_key = r.u8_max(15, "IDE sense key out of range");
    d.asc = r.u8();
    d.ascq = r.u8();
    d.media_event = r.u8_max(3, "IDE media event out of range");
    bool* b[] = {&d.intrq, &d.wcache, &d.standby, &d.lba48, &d.tray_open, &d.locked, &d.unit_attention, &d.stream_sectors, &d.packet_dma};
    for (bool* p : b) *p = r.boolean();
    d.cur_heads = r.u16();
    d.cur_spt = r.u16();
    d.buf = r.blob(kMaxPioChunk);
    d.pos = r.u32();
    d.end = r.u32();
    r.check(d.pos <= d.end && d.end <= d.buf.size(), "IDE buffer position out of range");
    d.lba = r.u64();
    d.left = r.u32();
    d.block = r.u32_max(kMaxMultiple, "IDE block size out of range");
    d.dma_bytes = r.u64();
    r.bytes(d.packet.data(), d.packet.size());
    d.reply = r.blob(kMaxPioChunk);
    d.reply_pos = r.u32();
    r.check(d.reply_pos <= d.reply.size(), "IDE reply position out of range");
    d.stream_left = r.u64();
    r.bytes(d.secbuf.data(), d.secbuf.size());
    d.secpos = r.u32_max(2048, "IDE sector buffer position out of range");
    d.byte_limit = r.u32_max(0xFFFF, "IDE byte count limit out of range");
    r.check(d.mult <= kMaxMultiple && (d.mult & (d.mult - 1)) == 0, "IDE multiple count malformed");
    r.check(d.kind != Kind::None || d.phase == Phase::Idle, "IDE absent drive has a command in progress");
    r.check(d.kind == Kind::Cdrom || d.phase != Phase::Packet, "IDE packet phase on a non-packet drive");
    if (d.kind == Kind::Disk && d.phase != Phase::Idle)
      r.check(d.lba <= d.sectors && d.left <= d.sectors - std::min(d.lba, d.sectors) &&
                  d.dma_bytes <= (d.sectors - std::min(d.lba, d.sectors)) * 512,
              "IDE transfer beyond the disk");
    if (d.kind == Kind::Cdrom && !d.stream_sectors)
      r.check(d.stream_left <= d.reply.size() - d.reply_pos, "IDE reply stream length malformed");
  }
  r.end_section();
  l->devctl = devctl;
  l->sel = selv;
  l->bmc = bmc;
  l->bms = bms;
  l->prd = prd;
  l->level = level;
  return l;
}

void IdeChannel::apply(Loaded& l) {
  drives_ = std::move(l.drives);
  devctl_ = l.devctl;
  devctl_shadow_select_ = l.sel;
  bm_cmd_ = l.bmc;
  bm_status_ = l.bms;
  bm_prd_ = l.prd;
  irq_level_ = l.level;
  if (irq) irq(irq_level_);
  update_irq();
}

}  // namespace vx86
