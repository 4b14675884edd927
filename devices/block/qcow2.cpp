#include "devices/block/qcow2.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <stdexcept>

#include "devices/block/open_image.h"
#include "devices/block/raw_file.h"

namespace vx86 {

namespace {

constexpr uint64_t kCopied = 1ull << 63;                 // L1/L2: refcount is exactly one
constexpr uint64_t kCompressed = 1ull << 62;             // L2: compressed cluster descriptor
constexpr uint64_t kZeroFlag = 1;                        // L2 standard descriptor (v3): reads as zeros
constexpr uint64_t kOffsetMask = 0x00FFFFFFFFFFFE00ull;  // bits 9-55
constexpr uint64_t kL1Reserved = 0x7F000000000001FFull;  // bits 0-8, 56-62
constexpr uint64_t kL2Reserved = 0x3F000000000001FEull;  // bits 1-8, 56-61
constexpr uint64_t kReftableReserved = 0x1FFull;         // bits 0-8
constexpr uint64_t kMaxHostOffset = 1ull << 56;          // L1/L2 offsets have 56 bits
constexpr uint64_t kMaxVirtualSize = 1ull << 56;
constexpr uint64_t kMaxL1Bytes = 32ull << 20;
constexpr uint64_t kMaxReftableBytes = 8ull << 20;
constexpr uint32_t kMaxSnapshots = 65536;
constexpr uint32_t kMaxBackingName = 1023;

constexpr uint64_t kIncDirty = 1, kIncCorrupt = 2, kIncDataFile = 4, kIncCompression = 8, kIncExtL2 = 16;
constexpr uint64_t kIncKnown = kIncDirty | kIncCorrupt | kIncDataFile | kIncCompression | kIncExtL2;

constexpr uint32_t kExtEnd = 0;
constexpr uint32_t kExtBackingFormat = 0xE2792ACA;
constexpr uint32_t kExtFeatureNames = 0x6803F857;

uint64_t be(const uint8_t* p, unsigned bytes) {
  uint64_t v = 0;
  for (unsigned i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}
uint64_t be64(const uint8_t* p) { return be(p, 8); }
uint32_t be32(const uint8_t* p) { return static_cast<uint32_t>(be(p, 4)); }

void put_be(uint8_t* p, uint64_t v, unsigned bytes) {
  for (unsigned i = bytes; i-- > 0;) {
    p[i] = static_cast<uint8_t>(v);
    v >>= 8;
  }
}

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

// Directory of path with a trailing '/', or "" if path has none (QEMU's rule for relative
// backing file names: relative to the directory of the image that names them).
std::string dir_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
}

}  // namespace

void Qcow2Image::fail(const std::string& what) const {
  throw std::runtime_error("disk image '" + path_ + "': " + what);
}

Qcow2Image::Qcow2Image(const std::string& path, bool writable, int depth)
    : path_(path), writable_(writable), depth_(depth) {
  if (depth >= kMaxChainDepth)
    fail("backing chain longer than " + std::to_string(kMaxChainDepth) + " images (a loop?)");
  fd_ = ::open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd_ < 0) throw std::runtime_error("cannot open disk image '" + path + "': " + std::strerror(errno));
  try {
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) fail("not a regular file");
    parse_header(static_cast<uint64_t>(st.st_size));
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

Qcow2Image::~Qcow2Image() {
  if (fd_ >= 0) ::close(fd_);
}

void Qcow2Image::parse_header(uint64_t file_size) {
  if (file_size < 72) fail("qcow2 header: file too short (" + std::to_string(file_size) + " bytes)");
  uint8_t h[72];
  if (!pread_all(fd_, h, sizeof h, 0)) fail("qcow2 header: read error");
  if (std::memcmp(h, "QFI\xfb", 4) != 0) fail("qcow2 header: bad magic");
  version_ = be32(h + 4);
  if (version_ != 2 && version_ != 3)
    fail("qcow2 header: version " + std::to_string(version_) + " not supported (2 or 3)");
  const uint64_t backing_offset = be64(h + 8);
  const uint32_t backing_len = be32(h + 16);
  cluster_bits_ = be32(h + 20);
  if (cluster_bits_ < 9 || cluster_bits_ > 21)
    fail("qcow2 header: cluster_bits " + std::to_string(cluster_bits_) + " out of range (9-21)");
  cluster_size_ = 1ull << cluster_bits_;
  const uint64_t C = cluster_size_;
  size_ = be64(h + 24);
  if (size_ > kMaxVirtualSize) fail("qcow2 header: virtual size " + std::to_string(size_) + " too large");
  const uint32_t crypt = be32(h + 32);
  if (crypt != 0)
    fail("qcow2 header: encrypted images (crypt_method " + std::to_string(crypt) + ") not supported");
  const uint32_t l1_size = be32(h + 36);
  l1_offset_ = be64(h + 40);
  reftable_offset_ = be64(h + 48);
  const uint32_t reftable_clusters = be32(h + 56);
  const uint32_t nb_snapshots = be32(h + 60);
  const uint64_t snapshots_offset = be64(h + 64);

  // The whole first cluster: v3 fields, header extensions, backing file name.
  std::vector<uint8_t> first(C, 0);
  if (!read_host(0, first.data(), C)) fail("qcow2 header: read error");
  uint64_t header_len = 72, incompat = 0, autoclear = 0;
  uint32_t compression_type = 0;
  refcount_order_ = 4;
  if (version_ == 3) {
    header_len = be32(&first[100]);
    if (header_len < 104 || header_len % 8 != 0 || header_len > C)
      fail("qcow2 header: header_length " + std::to_string(header_len) + " invalid");
    incompat = be64(&first[72]);
    autoclear = be64(&first[88]);
    refcount_order_ = be32(&first[96]);
    if (refcount_order_ > 6)
      fail("qcow2 header: refcount_order " + std::to_string(refcount_order_) + " not supported (0-6)");
    if (header_len > 104) compression_type = first[104];
  }

  std::string backing_name;
  if (backing_offset != 0 && backing_len != 0) {
    if (backing_len > kMaxBackingName)
      fail("qcow2 header: backing file name length " + std::to_string(backing_len) + " too long");
    if (backing_offset < 72 || backing_offset > C || backing_len > C - backing_offset)
      fail("qcow2 header: backing file name outside the header cluster");
    backing_name.assign(reinterpret_cast<const char*>(&first[backing_offset]), backing_len);
    if (backing_name.find('\0') != std::string::npos)
      fail("qcow2 header: backing file name contains a NUL byte");
  }

  // Header extensions: between the header and the backing file name (or the end of the cluster).
  uint64_t ext_end = C;
  if (backing_offset > header_len && backing_offset < C) ext_end = backing_offset;
  std::string backing_format;
  std::map<unsigned, std::string> incompat_names;
  for (uint64_t pos = header_len; pos + 8 <= ext_end;) {
    const uint32_t type = be32(&first[pos]);
    const uint32_t len = be32(&first[pos + 4]);
    pos += 8;
    if (type == kExtEnd) break;
    if (len > ext_end - pos)
      fail("qcow2 header extension " + hex(type) + ": length " + std::to_string(len) +
           " runs past the header cluster");
    if (type == kExtBackingFormat) {
      if (len == 0 || len > 32)
        fail("qcow2 header: backing file format name length " + std::to_string(len) + " invalid");
      backing_format.assign(reinterpret_cast<const char*>(&first[pos]), len);
    } else if (type == kExtFeatureNames) {
      for (uint64_t e = 0; e + 48 <= len; e += 48) {
        const uint8_t* f = &first[pos + e];
        if (f[0] != 0 || f[1] > 63) continue;
        const char* name = reinterpret_cast<const char*>(f + 2);
        incompat_names[f[1]] = std::string(name, strnlen(name, 46));
      }
    }
    pos += (static_cast<uint64_t>(len) + 7) & ~7ull;
  }

  // Incompatible features.
  if (incompat & ~kIncKnown) {
    std::string bits;
    for (unsigned b = 0; b < 64; ++b) {
      if (!((incompat & ~kIncKnown) >> b & 1)) continue;
      if (!bits.empty()) bits += ", ";
      bits += std::to_string(b);
      auto it = incompat_names.find(b);
      bool printable = it != incompat_names.end() && !it->second.empty();
      if (printable)
        for (char c : it->second) printable = printable && c >= 0x20 && c < 0x7f;
      if (printable) bits += " ('" + it->second + "')";
    }
    fail("qcow2 header: unsupported incompatible feature bits " + bits);
  }
  if (incompat & kIncDataFile)
    fail("qcow2 header: external data files (incompatible feature bit 2) not supported");
  if ((incompat & kIncCompression) || compression_type != 0)
    fail("qcow2 header: compression type " + std::to_string(compression_type) + " not supported (only zlib)");
  if (incompat & kIncExtL2)
    fail("qcow2 header: extended L2 entries (incompatible feature bit 4) not supported");
  if ((incompat & kIncDirty) && writable_)
    fail(
        "qcow2 image is marked dirty (refcounts may be stale): open it read-only or repair it with "
        "'qemu-img check -r all'");
  if ((incompat & kIncCorrupt) && writable_)
    fail("qcow2 image is marked corrupt: open it read-only or repair it with 'qemu-img check -r all'");

  // Geometry.
  l2_bits_ = cluster_bits_ - 3;
  refblock_bits_ = cluster_bits_ + 3 - refcount_order_;
  max_clusters_ = kMaxHostOffset >> cluster_bits_;
  const uint32_t l2_span_bits = cluster_bits_ + l2_bits_;
  const uint64_t l1_needed = (size_ + (1ull << l2_span_bits) - 1) >> l2_span_bits;
  if (l1_size < l1_needed)
    fail("qcow2 header: L1 table too small (" + std::to_string(l1_size) + " entries for " +
         std::to_string(size_) + " bytes)");
  const uint64_t l1_bytes = static_cast<uint64_t>(l1_size) * 8;
  if (l1_bytes > kMaxL1Bytes)
    fail("qcow2 header: L1 table of " + std::to_string(l1_size) + " entries too large");
  auto check_table = [&](const char* what, uint64_t off, uint64_t bytes) {
    if (off == 0 || (off & (C - 1)) != 0 || off >= kMaxHostOffset)
      fail(std::string("qcow2 header: ") + what + " offset " + hex(off) + " invalid");
    if (bytes > file_size || off > file_size - bytes)
      fail(std::string("qcow2 header: ") + what + " at " + hex(off) + " extends past the end of the file");
  };
  if (l1_size > 0) check_table("L1 table", l1_offset_, l1_bytes);
  if (reftable_clusters == 0) fail("qcow2 header: no refcount table");
  if (static_cast<uint64_t>(reftable_clusters) > kMaxReftableBytes / C)
    fail("qcow2 header: refcount table of " + std::to_string(reftable_clusters) + " clusters too large");
  const uint64_t reftable_bytes = static_cast<uint64_t>(reftable_clusters) * C;
  check_table("refcount table", reftable_offset_, reftable_bytes);
  if (nb_snapshots > kMaxSnapshots) fail("qcow2 header: " + std::to_string(nb_snapshots) + " snapshots");
  if (nb_snapshots > 0 &&
      (snapshots_offset == 0 || (snapshots_offset & (C - 1)) != 0 || snapshots_offset >= kMaxHostOffset))
    fail("qcow2 header: snapshot table offset " + hex(snapshots_offset) + " invalid");

  // Tables.
  std::vector<uint8_t> raw(std::max(l1_bytes, reftable_bytes));
  if (!pread_all(fd_, raw.data(), l1_bytes, l1_offset_)) fail("cannot read the L1 table");
  l1_.resize(l1_size);
  for (uint64_t i = 0; i < l1_size; ++i) l1_[i] = be64(&raw[i * 8]);
  if (!pread_all(fd_, raw.data(), reftable_bytes, reftable_offset_)) fail("cannot read the refcount table");
  reftable_.resize(reftable_bytes / 8);
  for (uint64_t i = 0; i < reftable_.size(); ++i) reftable_[i] = be64(&raw[i * 8]);

  dbuf_.resize(C);
  cbuf_.resize(2 * C);  // the largest compressed descriptor: 2^(cluster_bits-8) sectors
  wbuf_.resize(C);

  if (!backing_name.empty()) {
    if (backing_name[0] != '/') backing_name = dir_of(path_) + backing_name;
    open_backing(backing_name, backing_format);
  }

  // Autoclear features (e.g. persistent dirty bitmaps) would go stale under our writes: the spec
  // has a writer that does not maintain them clear their bits first. The only header change made.
  if (writable_ && version_ == 3 && autoclear != 0) {
    uint8_t zero[8] = {};
    if (!pwrite_all(fd_, zero, 8, 88)) fail("cannot clear the autoclear feature bits");
  }
}

void Qcow2Image::open_backing(const std::string& name, const std::string& format_name) {
  ImageFormat format = ImageFormat::Probe;
  if (!format_name.empty()) {
    auto f = parse_image_format(format_name);
    if (!f) fail("backing file format '" + format_name + "' not supported (raw or qcow2)");
    format = *f;
  }
  try {
    backing_ = open_block_image(name, format, false, depth_ + 1);
  } catch (const std::runtime_error& e) {
    if (depth_ > 0) throw;  // only the top image adds its name, so a long chain stays one short line
    fail(std::string("backing file: ") + e.what());
  }
}

namespace {

constexpr uint64_t kL2CacheBytes = 32ull << 20;
constexpr uint64_t kRefblockCacheBytes = 8ull << 20;

// Entry idx of a refcount block with 2^order-bit entries: the bytes holding it, its value.
uint64_t rb_span(uint64_t idx, uint32_t order, unsigned* count) {
  const uint32_t bits = 1u << order;
  *count = bits >= 8 ? bits / 8 : 1;
  return idx * bits / 8;
}

uint64_t rb_get(const uint8_t* block, uint64_t idx, uint32_t order) {
  const uint32_t bits = 1u << order;
  unsigned count;
  const uint64_t pos = rb_span(idx, order, &count);
  if (bits >= 8) return be(block + pos, count);
  return (block[pos] >> (idx * bits % 8)) & ((1u << bits) - 1);
}

// Stores v, which must fit in the entry.
void rb_set(uint8_t* block, uint64_t idx, uint32_t order, uint64_t v) {
  const uint32_t bits = 1u << order;
  unsigned count;
  const uint64_t pos = rb_span(idx, order, &count);
  if (bits >= 8) {
    put_be(block + pos, v, count);
    return;
  }
  const unsigned shift = idx * bits % 8;
  const uint8_t mask = static_cast<uint8_t>(((1u << bits) - 1) << shift);
  block[pos] = static_cast<uint8_t>((block[pos] & ~mask) | ((v << shift) & mask));
}

}  // namespace

bool Qcow2Image::read_host(uint64_t offset, uint8_t* buf, uint64_t n) {
  if (offset > 2 * kMaxHostOffset) return false;
  while (n) {
    const ssize_t r = ::pread(fd_, buf, n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return false;
    if (r == 0) {  // past the end of the file: zeros, as a sparse tail would read
      std::memset(buf, 0, n);
      return true;
    }
    buf += r;
    n -= static_cast<uint64_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return true;
}

bool Qcow2Image::read_backing(uint64_t offset, uint8_t* buf, uint64_t n) {
  uint64_t have = 0;
  if (backing_) {
    const uint64_t bsize = backing_->size();
    if (offset < bsize) have = std::min(n, bsize - offset);
    if (have && !backing_->read(offset, buf, have)) return false;
  }
  std::memset(buf + have, 0, n - have);
  return true;
}

bool Qcow2Image::is_metadata(uint64_t c) const {
  if (c == 0) return true;
  const uint32_t cb = cluster_bits_;
  if (!l1_.empty() && c >= (l1_offset_ >> cb) && c <= ((l1_offset_ + l1_.size() * 8 - 1) >> cb)) return true;
  return c >= (reftable_offset_ >> cb) && c <= ((reftable_offset_ + reftable_.size() * 8 - 1) >> cb);
}

bool Qcow2Image::is_reserved(uint64_t c) const {
  return is_metadata(c) || std::find(pending_.begin(), pending_.end(), c) != pending_.end();
}

void Qcow2Image::forget_cached(uint64_t offset) {
  l2_cache_.erase(offset);
  rb_cache_.erase(offset);
  dbuf_valid_ = false;
}

// ---- L1 / L2 ----

bool Qcow2Image::l1_to_l2_offset(uint64_t e, uint64_t* l2_offset) const {
  if (e & kL1Reserved) return false;
  *l2_offset = e & kOffsetMask;
  return (*l2_offset & (cluster_size_ - 1)) == 0;
}

const std::vector<uint64_t>* Qcow2Image::l2_table(uint64_t offset) {
  auto it = l2_cache_.find(offset);
  if (it != l2_cache_.end()) return &it->second;
  std::vector<uint8_t> raw(cluster_size_);
  if (!read_host(offset, raw.data(), cluster_size_)) return nullptr;
  std::vector<uint64_t> t(cluster_size_ / 8);
  for (size_t i = 0; i < t.size(); ++i) t[i] = be64(&raw[i * 8]);
  if ((l2_cache_.size() + 1) * cluster_size_ > kL2CacheBytes) l2_cache_.clear();
  return &l2_cache_.emplace(offset, std::move(t)).first->second;
}

bool Qcow2Image::l2_entry(uint64_t l2_offset, uint64_t index, uint64_t* entry) {
  const auto* t = l2_table(l2_offset);
  if (!t) return false;
  *entry = (*t)[index];
  return true;
}

bool Qcow2Image::set_l2_entry(uint64_t l2_offset, uint64_t index, uint64_t entry) {
  if (is_metadata(l2_offset >> cluster_bits_)) return false;
  uint8_t raw[8];
  put_be(raw, entry, 8);
  if (!pwrite_all(fd_, raw, 8, l2_offset + index * 8)) return false;
  auto it = l2_cache_.find(l2_offset);
  if (it != l2_cache_.end()) it->second[index] = entry;
  return true;
}

bool Qcow2Image::set_l1_entry(uint64_t index, uint64_t entry) {
  uint8_t raw[8];
  put_be(raw, entry, 8);
  if (!pwrite_all(fd_, raw, 8, l1_offset_ + index * 8)) return false;
  l1_[index] = entry;
  return true;
}

bool Qcow2Image::decode_l2(uint64_t e, Mapping* m) const {
  *m = Mapping{};
  m->entry = e;
  if (e & kCompressed) {
    const uint32_t x = 70 - cluster_bits_;  // 62 - (cluster_bits - 8): the offset field's width
    const uint64_t off = e & ((1ull << x) - 1);
    if (off >= kMaxHostOffset) return false;
    const uint64_t sectors = ((e >> x) & ((1ull << (cluster_bits_ - 8)) - 1)) + 1;
    m->kind = Kind::Compressed;
    m->host = off;
    m->csize = sectors * 512 - (off & 511);
    return true;
  }
  if (e & kL2Reserved) return false;
  const uint64_t off = e & kOffsetMask;
  if (off & (cluster_size_ - 1)) return false;
  m->host = off;
  if (e & kZeroFlag) {
    m->kind = Kind::Zero;
    return version_ >= 3;
  }
  if (off == 0) return !(e & kCopied);  // offset 0 with COPIED is only valid with a data file
  m->kind = Kind::Data;
  return true;
}

bool Qcow2Image::map_cluster(uint64_t gc, Mapping* m) {
  *m = Mapping{};
  const uint64_t l1i = gc >> l2_bits_;
  if (l1i >= l1_.size()) return true;
  uint64_t l2_offset;
  if (!l1_to_l2_offset(l1_[l1i], &l2_offset)) return false;
  if (l2_offset == 0) return true;
  uint64_t e;
  return l2_entry(l2_offset, gc & ((1ull << l2_bits_) - 1), &e) && decode_l2(e, m);
}

bool Qcow2Image::decompress(const Mapping& m) {
  if (dbuf_valid_ && dbuf_entry_ == m.entry) return true;
  dbuf_valid_ = false;
  if (m.csize > cbuf_.size() || !read_host(m.host, cbuf_.data(), m.csize)) return false;
  z_stream z{};
  if (inflateInit2(&z, -12) != Z_OK) return false;  // raw deflate, 4 KiB window, as qcow2 writes it
  z.next_in = cbuf_.data();
  z.avail_in = static_cast<uInt>(m.csize);
  z.next_out = dbuf_.data();
  z.avail_out = static_cast<uInt>(cluster_size_);
  const int ret = inflate(&z, Z_FINISH);
  const bool ok = z.avail_out == 0 && (ret == Z_STREAM_END || ret == Z_OK || ret == Z_BUF_ERROR);
  inflateEnd(&z);
  if (!ok) return false;
  dbuf_entry_ = m.entry;
  dbuf_valid_ = true;
  return true;
}

bool Qcow2Image::read(uint64_t offset, void* buf, size_t n) {
  if (offset > size_ || n > size_ - offset) return false;
  auto* out = static_cast<uint8_t*>(buf);
  // Neighbouring clusters of the same kind (and contiguous on the host) are read in one go.
  Kind run_kind = Kind::Zero;
  uint64_t run_guest = 0, run_host = 0, run_len = 0;
  uint8_t* run_dst = nullptr;
  auto flush_run = [&]() {
    bool ok = true;
    if (run_len == 0) return ok;
    if (run_kind == Kind::Zero) std::memset(run_dst, 0, run_len);
    if (run_kind == Kind::Unallocated) ok = read_backing(run_guest, run_dst, run_len);
    if (run_kind == Kind::Data) ok = read_host(run_host, run_dst, run_len);
    run_len = 0;
    return ok;
  };
  while (n) {
    const uint64_t in = offset & (cluster_size_ - 1);
    const uint64_t len = std::min<uint64_t>(n, cluster_size_ - in);
    Mapping m;
    if (!map_cluster(offset >> cluster_bits_, &m)) return false;
    if (m.kind == Kind::Compressed) {
      if (!flush_run() || !decompress(m)) return false;
      std::memcpy(out, dbuf_.data() + in, len);
    } else {
      const uint64_t host = m.kind == Kind::Data ? m.host + in : 0;
      if (run_len && run_kind == m.kind && (m.kind != Kind::Data || run_host + run_len == host)) {
        run_len += len;
      } else {
        if (!flush_run()) return false;
        run_kind = m.kind;
        run_guest = offset;
        run_host = host;
        run_len = len;
        run_dst = out;
      }
    }
    out += len;
    offset += len;
    n -= len;
  }
  return flush_run();
}

// ---- refcounts and allocation ----

bool Qcow2Image::refblock_offset(uint64_t r, uint64_t* offset) const {
  *offset = 0;
  if (r >= reftable_.size()) return true;
  const uint64_t e = reftable_[r];
  if (e & kReftableReserved) return false;
  *offset = e;
  return (e & (cluster_size_ - 1)) == 0 && e < kMaxHostOffset;
}

std::vector<uint8_t>* Qcow2Image::refblock(uint64_t offset) {
  auto it = rb_cache_.find(offset);
  if (it != rb_cache_.end()) return &it->second;
  std::vector<uint8_t> b(cluster_size_);
  if (!read_host(offset, b.data(), cluster_size_)) return nullptr;
  if ((rb_cache_.size() + 1) * cluster_size_ > kRefblockCacheBytes) rb_cache_.clear();
  return &rb_cache_.emplace(offset, std::move(b)).first->second;
}

bool Qcow2Image::refcount(uint64_t cluster, uint64_t* value) {
  *value = 0;
  uint64_t off;
  if (!refblock_offset(cluster >> refblock_bits_, &off)) return false;
  if (off == 0) return true;
  const auto* b = refblock(off);
  if (!b) return false;
  *value = rb_get(b->data(), cluster & ((1ull << refblock_bits_) - 1), refcount_order_);
  return true;
}

bool Qcow2Image::update_refcount(uint64_t cluster, int delta) {
  if (cluster >= max_clusters_) return false;
  const uint64_t r = cluster >> refblock_bits_;
  if (r >= reftable_.size() && (delta < 0 || !grow_reftable(r))) return false;
  uint64_t off;
  if (!refblock_offset(r, &off)) return false;
  if (off == 0) {
    if (delta < 0 || !new_refblock(r) || !refblock_offset(r, &off)) return false;
  }
  if (is_metadata(off >> cluster_bits_)) return false;  // a refcount block over the header: corrupt
  auto* b = refblock(off);
  if (!b) return false;
  const uint64_t idx = cluster & ((1ull << refblock_bits_) - 1);
  const uint64_t old = rb_get(b->data(), idx, refcount_order_);
  const uint64_t max = refcount_order_ == 6 ? ~0ull : (1ull << (1u << refcount_order_)) - 1;
  if ((delta > 0 && old >= max) || (delta < 0 && old == 0)) return false;
  unsigned count;
  const uint64_t pos = rb_span(idx, refcount_order_, &count);
  uint8_t saved[8];
  std::memcpy(saved, b->data() + pos, count);
  rb_set(b->data(), idx, refcount_order_, delta > 0 ? old + 1 : old - 1);
  if (!pwrite_all(fd_, b->data() + pos, count, off + pos)) {
    std::memcpy(b->data() + pos, saved, count);
    return false;
  }
  const uint64_t v = delta > 0 ? old + 1 : old - 1;
  if (v == 0 && cluster < free_hint_) free_hint_ = cluster;
  return true;
}

// A refcount block for table entry r, placed inside the range it covers (all of whose clusters
// are free, having no block) so that it counts itself. Written before the table entry.
bool Qcow2Image::new_refblock(uint64_t r) {
  const uint64_t base = r << refblock_bits_;
  uint64_t c = base;
  while (is_reserved(c)) {
    if (++c - base >= (1ull << refblock_bits_)) return false;
  }
  if (c >= max_clusters_) return false;
  std::vector<uint8_t> block(cluster_size_, 0);
  rb_set(block.data(), c - base, refcount_order_, 1);
  const uint64_t off = c << cluster_bits_;
  if (!pwrite_all(fd_, block.data(), cluster_size_, off)) return false;
  forget_cached(off);
  uint8_t raw[8];
  put_be(raw, off, 8);
  if (!pwrite_all(fd_, raw, 8, reftable_offset_ + r * 8)) return false;
  reftable_[r] = off;
  if ((rb_cache_.size() + 1) * cluster_size_ > kRefblockCacheBytes) rb_cache_.clear();
  rb_cache_[off] = std::move(block);
  return true;
}

// A larger refcount table (covering at least entry `needed`), placed in a free run followed by the
// new refcount blocks that count the run. Written in full before the header points at it; the
// old table is freed afterwards, so a crash in between leaks at most.
bool Qcow2Image::grow_reftable(uint64_t needed) {
  const uint64_t C = cluster_size_;
  const uint64_t old_entries = reftable_.size();
  uint64_t entries = std::max(needed + 1, old_entries * 2);
  uint64_t first = 0, table_clusters = 0, blocks = 0;
  std::vector<uint64_t> missing;  // table indices that get a new block
  bool settled = false;
  for (int iter = 0; iter < 64 && !settled; ++iter) {
    table_clusters = (entries * 8 + C - 1) / C;
    if (table_clusters * C > kMaxReftableBytes) return false;
    entries = table_clusters * C / 8;
    if (!find_free(table_clusters + blocks, &first)) return false;
    const uint64_t last_range = (first + table_clusters + blocks - 1) >> refblock_bits_;
    if (last_range >= entries) {
      entries = last_range + 1;
      continue;
    }
    missing.clear();
    for (uint64_t r = first >> refblock_bits_; r <= last_range; ++r) {
      uint64_t off;
      if (!refblock_offset(r, &off)) return false;
      if (off == 0) missing.push_back(r);
    }
    if (missing.size() <= blocks)
      settled = true;
    else
      blocks = missing.size();
  }
  if (!settled) return false;

  // Refcounts of the table and the new blocks: in the new blocks, or (leak-safe, the table not
  // being live yet) incremented in existing ones.
  const uint64_t used_end = first + table_clusters + missing.size();
  std::map<uint64_t, std::vector<uint8_t>> new_blocks;
  for (uint64_t r : missing) new_blocks[r].assign(C, 0);
  for (uint64_t c = first; c < used_end; ++c) {
    auto it = new_blocks.find(c >> refblock_bits_);
    if (it != new_blocks.end()) {
      rb_set(it->second.data(), c & ((1ull << refblock_bits_) - 1), refcount_order_, 1);
    } else if (!update_refcount(c, +1)) {
      return false;
    }
  }
  std::vector<uint64_t> table(entries, 0);
  std::copy(reftable_.begin(), reftable_.end(), table.begin());
  for (size_t j = 0; j < missing.size(); ++j) {
    const uint64_t off = (first + table_clusters + j) << cluster_bits_;
    if (!pwrite_all(fd_, new_blocks[missing[j]].data(), C, off)) return false;
    forget_cached(off);
    table[missing[j]] = off;
  }
  std::vector<uint8_t> raw(table_clusters * C, 0);
  for (uint64_t i = 0; i < entries; ++i) put_be(&raw[i * 8], table[i], 8);
  if (!pwrite_all(fd_, raw.data(), raw.size(), first << cluster_bits_)) return false;
  for (uint64_t c = first; c < first + table_clusters; ++c) forget_cached(c << cluster_bits_);
  uint8_t hdr[12];
  put_be(hdr, first << cluster_bits_, 8);
  put_be(hdr + 8, table_clusters, 4);
  if (!pwrite_all(fd_, hdr, sizeof hdr, 48)) return false;  // refcount_table_offset, _clusters

  const uint64_t old_first = reftable_offset_ >> cluster_bits_;
  const uint64_t old_clusters = old_entries * 8 / C;
  reftable_ = std::move(table);
  reftable_offset_ = first << cluster_bits_;
  for (size_t j = 0; j < missing.size(); ++j) {
    const uint64_t off = (first + table_clusters + j) << cluster_bits_;
    if ((rb_cache_.size() + 1) * C > kRefblockCacheBytes) rb_cache_.clear();
    rb_cache_[off] = std::move(new_blocks[missing[j]]);
  }
  for (uint64_t i = 0; i < old_clusters; ++i) (void)update_refcount(old_first + i, -1);  // else a leak
  return true;
}

// The first run of `count` free clusters at or after the hint: a scan of the refcount blocks.
//
// A refcount block with a used entry lies inside the file (past its end it reads as zeros), so a
// scan that passes more blocks than the file has clusters has met one block several times: a
// hostile refcount table, refused rather than scanned for hours.
bool Qcow2Image::find_free(uint64_t count, uint64_t* first) {
  const uint64_t mask = (1ull << refblock_bits_) - 1;
  uint64_t run = 0, start = 0, ranges = 0, max_ranges = 0;
  for (uint64_t c = free_hint_; c < max_clusters_;) {
    if (++ranges > 2) {
      if (max_ranges == 0) {
        struct stat st {};
        if (::fstat(fd_, &st) != 0) return false;
        max_ranges = static_cast<uint64_t>(st.st_size) / cluster_size_ + (count >> refblock_bits_) + 3;
      }
      if (ranges > max_ranges) return false;
    }
    uint64_t off;
    if (!refblock_offset(c >> refblock_bits_, &off)) return false;
    const uint8_t* block = nullptr;  // no block: the whole range is free
    if (off != 0) {
      const auto* b = refblock(off);
      if (!b) return false;
      block = b->data();
    }
    for (const uint64_t end = std::min(((c >> refblock_bits_) + 1) << refblock_bits_, max_clusters_); c < end;
         ++c) {
      const bool pending = std::find(pending_.begin(), pending_.end(), c) != pending_.end();
      const bool used = pending || is_metadata(c) || (block && rb_get(block, c & mask, refcount_order_) != 0);
      if (used) {
        run = 0;
        if (c == free_hint_ && !pending)
          ++free_hint_;  // in use until freed (update_refcount lowers the hint)
        continue;
      }
      if (run++ == 0) start = c;
      if (run == count) {
        *first = start;
        return true;
      }
    }
  }
  return false;
}

// A new cluster holding `contents`: written first, then counted.
bool Qcow2Image::alloc_cluster(const uint8_t* contents, uint64_t* offset) {
  uint64_t c;
  if (!find_free(1, &c)) return false;
  const uint64_t off = c << cluster_bits_;
  if (!pwrite_all(fd_, contents, cluster_size_, off)) return false;
  forget_cached(off);
  pending_.push_back(c);
  const bool ok = update_refcount(c, +1);
  pending_.pop_back();
  if (!ok) return false;
  *offset = off;
  return true;
}

// Drops the references an L2 entry held, after the entry has been rewritten.
bool Qcow2Image::release(const Mapping& m) {
  if (m.kind == Kind::Compressed) {
    const uint64_t last = (m.host + m.csize - 1) >> cluster_bits_;
    for (uint64_t c = m.host >> cluster_bits_; c <= last; ++c)
      if (!update_refcount(c, -1)) return false;
    return true;
  }
  if (m.host == 0) return true;
  return update_refcount(m.host >> cluster_bits_, -1);
}

// ---- writes ----

bool Qcow2Image::l2_for_write(uint64_t l1i, uint64_t* l2_offset) {
  if (l1i >= l1_.size()) return false;
  const uint64_t e = l1_[l1i];
  uint64_t off;
  if (!l1_to_l2_offset(e, &off)) return false;
  if (off == 0) {  // a new, empty L2 table: written and counted, then linked
    std::fill(wbuf_.begin(), wbuf_.end(), 0);
    if (!alloc_cluster(wbuf_.data(), &off)) return false;
    if ((l2_cache_.size() + 1) * cluster_size_ > kL2CacheBytes) l2_cache_.clear();
    l2_cache_[off].assign(cluster_size_ / 8, 0);
    if (!set_l1_entry(l1i, off | kCopied)) return false;
  } else if (!(e & kCopied)) {
    uint64_t rc;
    if (!refcount(off >> cluster_bits_, &rc) || rc == 0) return false;
    if (rc == 1) {
      if (!set_l1_entry(l1i, e | kCopied)) return false;
    } else {  // shared with a snapshot: copy the table, link the copy, then drop our reference
      const auto* t = l2_table(off);
      if (!t) return false;
      std::vector<uint64_t> copy = *t;
      for (size_t i = 0; i < copy.size(); ++i) put_be(&wbuf_[i * 8], copy[i], 8);
      uint64_t fresh;
      if (!alloc_cluster(wbuf_.data(), &fresh)) return false;
      if ((l2_cache_.size() + 1) * cluster_size_ > kL2CacheBytes) l2_cache_.clear();
      l2_cache_[fresh] = std::move(copy);
      if (!set_l1_entry(l1i, fresh | kCopied)) return false;
      if (!update_refcount(off >> cluster_bits_, -1)) return false;
      off = fresh;
    }
  }
  *l2_offset = off;
  return true;
}

bool Qcow2Image::write_cluster(uint64_t gc, uint64_t in, const uint8_t* src, uint64_t len) {
  uint64_t l2;
  if (!l2_for_write(gc >> l2_bits_, &l2)) return false;
  const uint64_t idx = gc & ((1ull << l2_bits_) - 1);
  uint64_t e;
  Mapping m;
  if (!l2_entry(l2, idx, &e) || !decode_l2(e, &m)) return false;
  if (m.kind == Kind::Data) {
    const uint64_t c = m.host >> cluster_bits_;
    if (is_metadata(c)) return false;
    if (!(e & kCopied)) {
      uint64_t rc;
      if (!refcount(c, &rc) || rc == 0) return false;
      if (rc == 1) {
        if (!set_l2_entry(l2, idx, e | kCopied)) return false;
        e |= kCopied;
      }
    }
    if (e & kCopied) return pwrite_all(fd_, src, len, m.host + in);
  }
  // A fresh cluster: the old contents around the written bytes, then the new bytes.
  uint8_t* buf = wbuf_.data();
  if (len < cluster_size_) {
    bool ok = true;
    switch (m.kind) {
      case Kind::Unallocated:
        ok = read_backing(gc << cluster_bits_, buf, cluster_size_);
        break;
      case Kind::Zero:
        std::memset(buf, 0, cluster_size_);
        break;
      case Kind::Data:
        ok = read_host(m.host, buf, cluster_size_);
        break;
      case Kind::Compressed:
        ok = decompress(m);
        if (ok) std::memcpy(buf, dbuf_.data(), cluster_size_);
        break;
    }
    if (!ok) return false;
  }
  std::memcpy(buf + in, src, len);
  uint64_t fresh;
  if (!alloc_cluster(buf, &fresh)) return false;
  if (!set_l2_entry(l2, idx, fresh | kCopied)) return false;
  return release(m);
}

bool Qcow2Image::write(uint64_t offset, const void* buf, size_t n) {
  if (!writable_ || offset > size_ || n > size_ - offset) return false;
  dbuf_valid_ = false;
  const auto* src = static_cast<const uint8_t*>(buf);
  while (n) {
    const uint64_t in = offset & (cluster_size_ - 1);
    const uint64_t len = std::min<uint64_t>(n, cluster_size_ - in);
    if (!write_cluster(offset >> cluster_bits_, in, src, len)) return false;
    src += len;
    offset += len;
    n -= len;
  }
  return true;
}

bool Qcow2Image::flush() { return !writable_ || ::fdatasync(fd_) == 0; }

}  // namespace vx86
