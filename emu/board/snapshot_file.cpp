#include "emu/board/snapshot_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "devices/block/raw_file.h"
#include "devices/snapshot.h"

namespace vx86 {

namespace {

constexpr char kMagic[8] = {'V', 'X', '8', '6', 'S', 'N', 'A', 'P'};
constexpr size_t kHeaderSize = 64;
constexpr size_t kVersionField = 36, kVersionLen = 24, kHeaderCrc = 60;

void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t get32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{p[i]} << (8 * i);
  return v;
}
uint64_t get64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}
uint32_t crc(const uint8_t* p, size_t n) {
  uLong c = crc32(0L, Z_NULL, 0);
  while (n) {
    const uInt chunk = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    c = crc32(c, p, chunk);
    p += chunk;
    n -= chunk;
  }
  return static_cast<uint32_t>(c);
}

std::vector<uint8_t> compress(const std::vector<uint8_t>& in) {
  // zstd at level 1, on several threads where the library has them: the RAM of a busy guest is
  // hundreds of MiB, often incompressible, and the VM stands still while it is saved.
  ZSTD_CCtx* z = ZSTD_createCCtx();
  if (!z) throw std::runtime_error("snapshot: out of memory");
  ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, 1);
  ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 0);  // (the file has its own CRC)
  const unsigned threads = std::min(4u, std::max(1u, std::thread::hardware_concurrency()));
  if (threads > 1) ZSTD_CCtx_setParameter(z, ZSTD_c_nbWorkers, static_cast<int>(threads));  // (ignored if single-threaded)
  std::vector<uint8_t> out(ZSTD_compressBound(in.size()));
  const size_t n = ZSTD_compress2(z, out.data(), out.size(), in.data(), in.size());
  ZSTD_freeCCtx(z);
  if (ZSTD_isError(n)) throw std::runtime_error(std::string("snapshot: compression failed: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

std::vector<uint8_t> decompress(const uint8_t* in, size_t n, uint64_t expect) {
  // The frame must say it holds exactly `expect` bytes (bounded by the caller before this
  // allocation), and decompress to exactly that.
  const unsigned long long declared = ZSTD_getFrameContentSize(in, n);
  if (declared != expect) throw SnapshotError("compressed machine state is damaged (size mismatch)");
  std::vector<uint8_t> out(expect);
  const size_t got = ZSTD_decompress(out.data(), out.size(), in, n);
  if (ZSTD_isError(got) || got != expect) throw SnapshotError("compressed machine state is damaged");
  return out;
}

}  // namespace

uint32_t crc32_of(const std::vector<uint8_t>& data) { return crc(data.data(), data.size()); }

void write_snapshot_file(const std::string& path, const std::vector<uint8_t>& payload) {
  const std::vector<uint8_t> body = compress(payload);
  uint8_t h[kHeaderSize] = {};
  std::memcpy(h, kMagic, sizeof kMagic);
  put32(h + 8, kSnapshotFormatVersion);
  put32(h + 12, kHeaderSize);
  put64(h + 16, payload.size());
  put64(h + 24, body.size());
  put32(h + 32, crc(body.data(), body.size()));
  std::strncpy(reinterpret_cast<char*>(h + kVersionField), VX86_VERSION_STRING, kVersionLen - 1);
  put32(h + kHeaderCrc, crc(h, kHeaderCrc));

  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot write snapshot '" + path + "': " + std::strerror(errno));
  const bool ok = pwrite_all(fd, h, sizeof h, 0) && pwrite_all(fd, body.data(), body.size(), sizeof h) &&
                  ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = ok ? errno : err;
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot write snapshot '" + path + "': " + std::strerror(e));
  }
}

std::vector<uint8_t> read_snapshot_file(const std::string& path, uint64_t max_payload) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open snapshot '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw std::runtime_error("snapshot '" + path + "' is not a regular file");
  }
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  uint8_t h[kHeaderSize] = {};
  auto fail = [&](const std::string& what) {
    ::close(fd);
    throw SnapshotError("'" + path + "': " + what);
  };
  if (file_size < kHeaderSize || !pread_all(fd, h, sizeof h, 0)) fail("too short to be a vx86 snapshot");
  if (std::memcmp(h, kMagic, sizeof kMagic) != 0) fail("not a vx86 snapshot (bad magic)");
  if (get32(h + kHeaderCrc) != crc(h, kHeaderCrc)) fail("header checksum mismatch (the file is damaged)");
  const uint32_t version = get32(h + 8);
  if (version != kSnapshotFormatVersion) {
    char who[kVersionLen + 1] = {};
    std::memcpy(who, h + kVersionField, kVersionLen);
    for (char& ch : who)
      if (ch && (ch < 0x20 || ch > 0x7E)) ch = '?';
    fail("snapshot format version " + std::to_string(version) + " (written by vx86 " + who +
         "); this vx86 reads version " + std::to_string(kSnapshotFormatVersion));
  }
  if (get32(h + 12) != kHeaderSize) fail("header size malformed");
  const uint64_t payload_size = get64(h + 16), body_size = get64(h + 24);
  if (body_size != file_size - kHeaderSize) fail("file size does not match the header (truncated?)");
  if (payload_size > max_payload)
    fail("machine state of " + std::to_string(payload_size) + " bytes is larger than this machine's can be");
  std::vector<uint8_t> body(body_size);
  if (!pread_all(fd, body.data(), body.size(), kHeaderSize)) fail("cannot read the machine state");
  ::close(fd);
  if (crc(body.data(), body.size()) != get32(h + 32))
    throw SnapshotError("'" + path + "': checksum mismatch (the file is damaged)");
  try {
    return decompress(body.data(), body.size(), payload_size);
  } catch (const SnapshotError& e) {
    throw SnapshotError("'" + path + "': " + std::string(e.what()).substr(10));  // (drop "snapshot: ")
  }
}

}  // namespace vx86
