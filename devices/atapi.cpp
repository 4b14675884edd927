// ATAPI (the PACKET command set of an IDE CD-ROM): the part of IdeChannel that runs SCSI/MMC
// commands against an ISO image of 2048-byte sectors.
#include <algorithm>
#include <cstring>

#include "devices/ide.h"

namespace vx86 {

namespace {
enum : uint8_t { NO_SENSE = 0, NOT_READY = 2, MEDIUM_ERROR = 3, ILLEGAL_REQUEST = 5, UNIT_ATTENTION = 6 };
enum : uint8_t { ASC_INVALID_OPCODE = 0x20, ASC_LBA_OUT_OF_RANGE = 0x21, ASC_INVALID_FIELD = 0x24,
                 ASC_MEDIUM_CHANGED = 0x28, ASC_SAVING_NOT_SUPPORTED = 0x39, ASC_NO_MEDIUM = 0x3A,
                 ASC_REMOVAL_PREVENTED = 0x53 };
constexpr uint8_t kIntReasonCoD = 0x01, kIntReasonIO = 0x02;

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) { return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3]; }
void put16(std::vector<uint8_t>& v, uint16_t x) {
  v.push_back(static_cast<uint8_t>(x >> 8));
  v.push_back(static_cast<uint8_t>(x));
}
void put32(std::vector<uint8_t>& v, uint32_t x) {
  put16(v, static_cast<uint16_t>(x >> 16));
  put16(v, static_cast<uint16_t>(x));
}
void set16(std::vector<uint8_t>& v, size_t at, uint16_t x) {
  v[at] = static_cast<uint8_t>(x >> 8);
  v[at + 1] = static_cast<uint8_t>(x);
}
void put_addr(std::vector<uint8_t>& v, uint32_t lba, bool msf) {
  if (!msf) return put32(v, lba);
  const uint32_t f = lba + 150;
  v.push_back(0);
  v.push_back(static_cast<uint8_t>(f / (75 * 60)));
  v.push_back(static_cast<uint8_t>(f / 75 % 60));
  v.push_back(static_cast<uint8_t>(f % 75));
}
void put_text(std::vector<uint8_t>& v, const char* s, size_t width) {
  const size_t n = std::strlen(s);
  for (size_t i = 0; i < width; ++i) v.push_back(static_cast<uint8_t>(i < n ? s[i] : ' '));
}
}  // namespace

void IdeChannel::atapi_packet_cmd(Drive& d) {
  d.packet_dma = d.feature & 1;
  d.byte_limit = uint32_t{d.lba_high} << 8 | d.lba_mid;
  d.buf.assign(12, 0);
  d.pos = 0;
  d.end = 12;
  d.phase = Phase::Packet;
  d.count = kIntReasonCoD;  // C/D = 1, I/O = 0: the device wants the command packet
  d.status = ST_DRDY | ST_DSC | ST_DRQ;  // accelerated DRQ: no interrupt for the packet
}

void IdeChannel::atapi_error(Drive& d, uint8_t key, uint8_t asc, uint8_t ascq) {
  d.sense_key = key;
  d.asc = asc;
  d.ascq = ascq;
  d.phase = Phase::Idle;
  d.stream_left = 0;
  d.dma_bytes = 0;
  d.error = static_cast<uint8_t>(key << 4 | (key == ILLEGAL_REQUEST || key == NOT_READY ? ER_ABRT : 0));
  d.status = ST_DRDY | ST_ERR;
  d.count = kIntReasonIO | kIntReasonCoD;
  raise(d);
}

void IdeChannel::atapi_ok(Drive& d) {
  d.sense_key = d.asc = d.ascq = 0;
  d.phase = Phase::Idle;
  d.stream_left = 0;
  d.error = 0;
  d.status = ST_DRDY | ST_DSC;
  d.count = kIntReasonIO | kIntReasonCoD;
  raise(d);
}

bool IdeChannel::medium_ready(Drive& d) {
  if (!d.image || d.tray_open) {
    atapi_error(d, NOT_READY, ASC_NO_MEDIUM, d.tray_open ? 0x02 : 0x01);
    return false;
  }
  return true;
}

void IdeChannel::atapi_reply(Drive& d, std::vector<uint8_t> data, uint32_t alloc) {
  if (data.size() > alloc) data.resize(alloc);
  if (data.empty()) return atapi_ok(d);
  d.reply = std::move(data);
  d.reply_pos = 0;
  d.stream_sectors = false;
  d.stream_left = d.reply.size();
  atapi_begin_data(d);
}

void IdeChannel::atapi_start_read(Drive& d, uint64_t lba, uint32_t count) {
  if (count == 0) return atapi_ok(d);
  d.lba = lba;
  d.secpos = 2048;
  d.stream_sectors = true;
  d.stream_left = uint64_t{count} * 2048;
  atapi_begin_data(d);
}

void IdeChannel::atapi_begin_data(Drive& d) {
  if (d.packet_dma) {
    d.phase = Phase::DmaIn;
    d.dma_bytes = d.stream_left;
    d.count = kIntReasonIO;
    d.status = ST_DRDY | ST_DSC | ST_DRQ;
    start_dma(d);
    return;
  }
  atapi_next_chunk(d);
}

void IdeChannel::atapi_next_chunk(Drive& d) {
  if (d.stream_left == 0) return atapi_ok(d);
  uint32_t limit = d.byte_limit & ~1u;
  if (limit == 0 || limit > 0xFFFE) limit = 0xFFFE;
  const uint32_t chunk = static_cast<uint32_t>(std::min<uint64_t>(d.stream_left, limit));
  d.buf.assign(chunk + (chunk & 1), 0);  // an odd final count still moves whole words
  if (!atapi_produce(d, d.buf.data(), chunk)) return atapi_error(d, MEDIUM_ERROR, 0x11);
  d.stream_left -= chunk;
  d.pos = 0;
  d.end = static_cast<uint32_t>(d.buf.size());
  d.lba_mid = static_cast<uint8_t>(chunk);
  d.lba_high = static_cast<uint8_t>(chunk >> 8);
  d.count = kIntReasonIO;
  d.phase = Phase::PioIn;
  d.status = ST_DRDY | ST_DSC | ST_DRQ;
  raise(d);
}

bool IdeChannel::atapi_produce(Drive& d, uint8_t* out, size_t n) {
  if (!d.stream_sectors) {
    const size_t avail = d.reply.size() - d.reply_pos;
    const size_t k = std::min(avail, n);
    std::memcpy(out, d.reply.data() + d.reply_pos, k);
    std::memset(out + k, 0, n - k);
    d.reply_pos += static_cast<uint32_t>(k);
    return true;
  }
  while (n) {
    if (d.secpos >= 2048) {
      if (!d.image || d.lba >= d.sectors || !d.image->read(d.lba * 2048, d.secbuf.data(), 2048)) return false;
      ++d.lba;
      d.secpos = 0;
    }
    const size_t k = std::min<size_t>(n, 2048 - d.secpos);
    std::memcpy(out, d.secbuf.data() + d.secpos, k);
    d.secpos += static_cast<uint32_t>(k);
    out += k;
    n -= k;
  }
  return true;
}

void IdeChannel::atapi_execute(Drive& d) {
  std::copy(d.buf.begin(), d.buf.begin() + 12, d.packet.begin());
  const uint8_t* p = d.packet.data();
  const uint8_t op = p[0];
  d.status &= static_cast<uint8_t>(~ST_DRQ);
  // A pending UNIT ATTENTION fails the next command, except those that report status.
  if (d.unit_attention && op != 0x12 && op != 0x03 && op != 0x4A && op != 0x46) {
    d.unit_attention = false;
    return atapi_error(d, UNIT_ATTENTION, ASC_MEDIUM_CHANGED);
  }
  switch (op) {
    case 0x00:  // TEST UNIT READY
      if (medium_ready(d)) atapi_ok(d);
      return;
    case 0x03: {  // REQUEST SENSE
      std::vector<uint8_t> s(18, 0);
      s[0] = 0x70;
      s[2] = d.sense_key;
      s[7] = 10;
      s[12] = d.asc;
      s[13] = d.ascq;
      if (d.unit_attention) {
        s[2] = UNIT_ATTENTION;
        s[12] = ASC_MEDIUM_CHANGED;
        s[13] = 0;
        d.unit_attention = false;
      }
      d.sense_key = d.asc = d.ascq = 0;
      return atapi_reply(d, std::move(s), p[4]);
    }
    case 0x12: {  // INQUIRY
      if (p[1] & 1) return atapi_error(d, ILLEGAL_REQUEST, ASC_INVALID_FIELD);
      std::vector<uint8_t> s = {0x05, 0x80, 0x05, 0x32, 31, 0, 0, 0};
      put_text(s, "VX86", 8);
      put_text(s, "VX86 CD-ROM", 16);
      put_text(s, "1.0", 4);
      return atapi_reply(d, std::move(s), be16(p + 3));
    }
    case 0x25: {  // READ CAPACITY
      if (!medium_ready(d)) return;
      std::vector<uint8_t> s;
      put32(s, static_cast<uint32_t>(std::min<uint64_t>(d.sectors ? d.sectors - 1 : 0, 0xFFFFFFFF)));
      put32(s, 2048);
      return atapi_reply(d, std::move(s), 8);
    }
    case 0x28:
    case 0xA8: {  // READ(10), READ(12)
      if (!medium_ready(d)) return;
      const uint32_t lba = be32(p + 2);
      const uint32_t count = op == 0x28 ? be16(p + 7) : be32(p + 6);
      if (uint64_t{lba} + count > d.sectors) return atapi_error(d, ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
      return atapi_start_read(d, lba, count);
    }
    case 0x2B:  // SEEK(10)
      if (medium_ready(d)) atapi_ok(d);
      return;
    case 0x1B: {  // START STOP UNIT
      const bool loej = p[4] & 2, start = p[4] & 1;
      if (loej && !start) {
        if (d.locked) return atapi_error(d, ILLEGAL_REQUEST, ASC_REMOVAL_PREVENTED, 0x02);
        if (!d.tray_open) d.media_event = 3;  // MediaRemoval
        d.tray_open = true;
      } else if (loej && start) {
        if (d.tray_open && d.image) d.media_event = 2;  // NewMedia
        d.tray_open = false;
      }
      return atapi_ok(d);
    }
    case 0x1E:  // PREVENT ALLOW MEDIUM REMOVAL
      d.locked = p[4] & 1;
      return atapi_ok(d);
    case 0x5A: {
      std::vector<uint8_t> s;
      bool ok = true;
      mode_sense(d, s, ok);
      if (ok) atapi_reply(d, std::move(s), be16(p + 7));
      return;
    }
    case 0x43: {
      if (!medium_ready(d)) return;
      std::vector<uint8_t> s;
      bool ok = true;
      read_toc(d, s, ok);
      if (ok) atapi_reply(d, std::move(s), be16(p + 7));
      return;
    }
    case 0x46: {
      std::vector<uint8_t> s;
      get_configuration(d, s);
      return atapi_reply(d, std::move(s), be16(p + 7));
    }
    case 0x4A: {
      std::vector<uint8_t> s;
      bool ok = true;
      event_status(d, s, ok);
      if (ok) atapi_reply(d, std::move(s), be16(p + 7));
      return;
    }
    case 0xBD: {  // MECHANISM STATUS
      std::vector<uint8_t> s(8, 0);
      s[1] = d.tray_open ? 0x10 : 0;
      return atapi_reply(d, std::move(s), be16(p + 8));
    }
    case 0xBB:  // SET CD SPEED
      return atapi_ok(d);
    default:
      return atapi_error(d, ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
  }
}

void IdeChannel::mode_sense(Drive& d, std::vector<uint8_t>& s, bool& ok) {
  const uint8_t* p = d.packet.data();
  const unsigned pc = p[2] >> 6, page = p[2] & 0x3F;
  if (pc == 3) {
    ok = false;
    return atapi_error(d, ILLEGAL_REQUEST, ASC_SAVING_NOT_SUPPORTED);
  }
  if (page != 0x01 && page != 0x2A && page != 0x3F) {
    ok = false;
    return atapi_error(d, ILLEGAL_REQUEST, ASC_INVALID_FIELD);
  }
  const bool changeable = pc == 1;
  s.assign(8, 0);
  s[2] = (d.image && !d.tray_open) ? 0x01 : 0x70;  // 120 mm data disc / door open
  if (page == 0x01 || page == 0x3F) {
    const uint8_t pg[8] = {0x01, 0x06, 0x00, 0x05, 0, 0, 0, 0};
    for (unsigned i = 0; i < 8; ++i) s.push_back(changeable && i >= 2 ? 0 : pg[i]);
  }
  if (page == 0x2A || page == 0x3F) {
    uint8_t pg[20] = {0x2A, 0x12, 0x03, 0x00, 0x71, 0xFF, static_cast<uint8_t>(0x29 | (d.locked ? 0x02 : 0)),
                      0x00, 0x02, 0xC2, 0x00, 0x02, 0x02, 0x00, 0x02, 0xC2, 0, 0, 0, 0};
    for (unsigned i = 0; i < 20; ++i) s.push_back(changeable && i >= 2 ? 0 : pg[i]);
  }
  set16(s, 0, static_cast<uint16_t>(s.size() - 2));
}

void IdeChannel::read_toc(Drive& d, std::vector<uint8_t>& s, bool& ok) {
  const uint8_t* p = d.packet.data();
  const bool msf = p[1] & 2;
  unsigned format = p[2] & 0x0F;
  if (format == 0 && (p[9] >> 6)) format = p[9] >> 6;  // the old SFF-8020 location
  const uint8_t start = p[6];
  const uint32_t leadout = static_cast<uint32_t>(std::min<uint64_t>(d.sectors, 0xFFFFFFFF));
  if (format == 0) {
    if (start > 1 && start != 0xAA) {
      ok = false;
      return atapi_error(d, ILLEGAL_REQUEST, ASC_INVALID_FIELD);
    }
    s = {0, 0, 1, 1};
    if (start <= 1) {
      s.insert(s.end(), {0, 0x14, 1, 0});
      put_addr(s, 0, msf);
    }
    s.insert(s.end(), {0, 0x14, 0xAA, 0});
    put_addr(s, leadout, msf);
  } else if (format == 1) {  // multi-session information: one session starting at track 1
    s = {0, 0, 1, 1, 0, 0x14, 1, 0};
    put_addr(s, 0, msf);
  } else {
    ok = false;
    return atapi_error(d, ILLEGAL_REQUEST, ASC_INVALID_FIELD);
  }
  set16(s, 0, static_cast<uint16_t>(s.size() - 2));
}

void IdeChannel::get_configuration(Drive& d, std::vector<uint8_t>& s) {
  const uint8_t* p = d.packet.data();
  const unsigned rt = p[1] & 3;
  const uint16_t first = be16(p + 2);
  const bool media = d.image && !d.tray_open;
  s.assign(8, 0);
  set16(s, 6, media ? 0x0008 : 0x0000);  // current profile: CD-ROM
  auto feature = [&](uint16_t code, std::vector<uint8_t> body) {
    const bool want = rt == 2 ? code == first : code >= first;
    if (!want) return;
    put16(s, code);
    s.insert(s.end(), body.begin(), body.end());
  };
  feature(0x0000, {0x03, 0x04, 0x00, 0x08, static_cast<uint8_t>(media ? 1 : 0), 0x00});    // profile list
  feature(0x0001, {0x0B, 0x08, 0x00, 0x00, 0x00, 0x02, 0x01, 0x00, 0x00, 0x00});           // core: ATAPI
  feature(0x0002, {0x07, 0x04, 0x02, 0x00, 0x00, 0x00});                                    // morphing
  feature(0x0003, {0x03, 0x04, static_cast<uint8_t>(0x29 | (d.locked ? 0x04 : 0)), 0, 0, 0});  // removable
  const uint32_t len = static_cast<uint32_t>(s.size() - 4);
  s[0] = static_cast<uint8_t>(len >> 24);
  s[1] = static_cast<uint8_t>(len >> 16);
  s[2] = static_cast<uint8_t>(len >> 8);
  s[3] = static_cast<uint8_t>(len);
}

void IdeChannel::event_status(Drive& d, std::vector<uint8_t>& s, bool& ok) {
  const uint8_t* p = d.packet.data();
  if (!(p[1] & 1)) {  // only polled operation is supported
    ok = false;
    return atapi_error(d, ILLEGAL_REQUEST, ASC_INVALID_FIELD);
  }
  if (p[4] & 0x10) {  // media class
    const uint8_t status = static_cast<uint8_t>((d.image && !d.tray_open ? 0x02 : 0) | (d.tray_open ? 0x01 : 0));
    s = {0, 6, 0x04, 0x10, d.media_event, status, 0, 0};
    d.media_event = 0;
  } else {
    s = {0, 2, 0x80, 0x10};  // no event available; media class supported
  }
}

}  // namespace vx86
