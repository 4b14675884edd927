// Qcow2Image against QEMU's own tools: images made by qemu-img / qemu-io read back as the raw data
// they were made from; images written by the driver pass `qemu-img check` and convert back to the
// model the test kept; a writer killed with SIGKILL leaves at most leaked clusters; corrupted
// images are refused or fail reads/writes cleanly.
#include "devices/block/qcow2.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "devices/block/open_image.h"
#include "devices/disk_image.h"

// Crash injection for Qcow2Crash.EveryWritePrefixIsConsistent. This binary's pwrite() (which the
// driver's pwrite_all calls) is a plain pwrite64 system call unless a forked child sets a budget:
// when it runs out the child dies by SIGKILL instead of making the call, after writing the part of
// it a real SIGKILL could leave (writes are only torn at page boundaries).
static std::atomic<long> g_pwrites_left{-1};
static std::atomic<bool> g_tear{false};

extern "C" ssize_t pwrite(int fd, const void* buf, size_t n, off_t offset) {
  const long left = g_pwrites_left.load(std::memory_order_relaxed);
  if (left == 0) {
    const off_t page_end = (offset | 4095) + 1;
    if (g_tear.load() && page_end < offset + static_cast<off_t>(n))
      (void)::syscall(SYS_pwrite64, fd, buf, static_cast<size_t>(page_end - offset), offset);
    ::raise(SIGKILL);
  }
  if (left > 0) g_pwrites_left.store(left - 1, std::memory_order_relaxed);
  return static_cast<ssize_t>(::syscall(SYS_pwrite64, fd, buf, n, offset));
}

namespace vx86 {
namespace {

using Bytes = std::vector<uint8_t>;

// Sanitizer builds fork slowly: the crash tests then sample fewer crash points.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

constexpr const char* kQemuImg = "/usr/bin/qemu-img";
constexpr const char* kQemuIo = "/usr/bin/qemu-io";

bool have(const char* tool) { return ::access(tool, X_OK) == 0; }

#define REQUIRE_QEMU_IMG() \
  if (!have(kQemuImg)) GTEST_SKIP() << "qemu-img not installed (Debian: qemu-utils)"
#define REQUIRE_QEMU_IO()                                    \
  if (!have(kQemuImg) || !have(kQemuIo))                     \
  GTEST_SKIP() << "qemu-img/qemu-io not installed (Debian: " \
                  "qemu-utils)"

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/vx86_qcow2_XXXXXX";
    const char* p = ::mkdtemp(tmpl);
    if (!p) throw std::runtime_error("mkdtemp failed");
    path = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

struct Cmd {
  int status;
  std::string out;
};

// Runs a shell command; its exit status and combined output.
Cmd sh(const std::string& cmd) {
  Cmd r{-1, {}};
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, got);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string q(const std::string& s) { return "'" + s + "'"; }

Bytes read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// Overwrites in place and then sets the size: truncating to zero first would make ext4 flush the
// file on close (its replace-via-truncate heuristic), which the fuzz and crash loops cannot afford.
void write_file(const std::string& path, const Bytes& data) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << path;
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    ASSERT_GT(n, 0);
    done += static_cast<size_t>(n);
  }
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(data.size())), 0);
  ::close(fd);
}

uint64_t get_be(const Bytes& b, size_t off, unsigned n) {
  uint64_t v = 0;
  for (unsigned i = 0; i < n; ++i) v = (v << 8) | b.at(off + i);
  return v;
}

void set_be(Bytes& b, size_t off, uint64_t v, unsigned n) {
  for (unsigned i = n; i-- > 0;) {
    b.at(off + i) = static_cast<uint8_t>(v);
    v >>= 8;
  }
}

// The first differing offset, or -1.
int64_t mismatch_at(const uint8_t* a, const uint8_t* b, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return static_cast<int64_t>(i);
  return -1;
}

void fill_random(uint8_t* p, size_t n, std::mt19937_64& rng) {
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(rng() >> 29);
}

// Disk contents with random stretches, compressible text and zero runs (aligned and not).
Bytes make_content(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes v(size, 0);
  static const char kText[] = "the quick brown fox jumps over the lazy qcow2 cluster; ";
  for (size_t pos = 0; pos < size;) {
    const size_t len = std::min<size_t>(size - pos, 512 * (1 + rng() % 96));
    switch (rng() % 4) {
      case 0:
        break;  // zeros
      case 1:
        fill_random(&v[pos], len, rng);
        break;
      default:
        for (size_t i = 0; i < len; ++i)
          v[pos + i] = static_cast<uint8_t>(kText[(pos + i) % (sizeof kText - 1)]);
        v[pos + rng() % len] = static_cast<uint8_t>(rng());
        break;
    }
    pos += len;
  }
  for (int i = 0; i < 12; ++i) {
    const size_t off = rng() % size;
    std::fill_n(&v[off], std::min<size_t>(size - off, rng() % 6000), 0);
  }
  return v;
}

// Every byte of the driver, read whole, in random chunks covering it, and at random places.
void expect_reads(BlockDriver& d, const Bytes& want, uint64_t seed) {
  ASSERT_EQ(d.size(), want.size());
  Bytes got(want.size());
  ASSERT_TRUE(d.read(0, got.data(), got.size()));
  ASSERT_EQ(mismatch_at(got.data(), want.data(), want.size()), -1);
  std::mt19937_64 rng(seed);
  Bytes buf;
  for (uint64_t off = 0; off < want.size();) {
    const size_t n = std::min<uint64_t>(want.size() - off, 1 + rng() % 70000);
    buf.assign(n, 0xCC);
    ASSERT_TRUE(d.read(off, buf.data(), n)) << "offset " << off;
    ASSERT_EQ(mismatch_at(buf.data(), &want[off], n), -1) << "chunk at " << off;
    off += n;
  }
  for (int i = 0; i < 200; ++i) {
    const uint64_t off = rng() % want.size();
    const size_t n = std::min<uint64_t>(want.size() - off, 1 + rng() % 9000);
    buf.assign(n, 0xCC);
    ASSERT_TRUE(d.read(off, buf.data(), n));
    ASSERT_EQ(mismatch_at(buf.data(), &want[off], n), -1) << "read at " << off << "+" << n;
  }
  uint8_t b = 0;
  EXPECT_FALSE(d.read(want.size(), &b, 1));
  EXPECT_FALSE(d.read(want.size() - 1, &b, 2));
  EXPECT_TRUE(d.read(want.size(), &b, 0));
}

// qemu-img's verdict on an image the driver wrote: clean, and converting it gives the model.
void expect_qemu_agrees(const TempDir& dir, const std::string& img, const Bytes& model) {
  const Cmd check = sh(std::string(kQemuImg) + " check " + q(img));
  EXPECT_EQ(check.status, 0) << check.out;
  const std::string conv = dir / "converted.raw";
  const Cmd c = sh(std::string(kQemuImg) + " convert -O raw " + q(img) + " " + q(conv));
  ASSERT_EQ(c.status, 0) << c.out;
  const Bytes got = read_file(conv);
  ASSERT_EQ(got.size(), model.size());
  EXPECT_EQ(mismatch_at(got.data(), model.data(), model.size()), -1);
  const std::string m = dir / "model.raw";
  write_file(m, model);
  const Cmd cmp = sh(std::string(kQemuImg) + " compare -f qcow2 -F raw " + q(img) + " " + q(m));
  EXPECT_EQ(cmp.status, 0) << cmp.out;
}

// A qcow2 image holding `content`, made by qemu-img convert with the given options.
std::string convert_image(const TempDir& dir, const std::string& name, const Bytes& content,
                          const std::string& opts, bool compress) {
  const std::string raw = dir / (name + ".src.raw");
  write_file(raw, content);
  const std::string img = dir / name;
  const Cmd c = sh(std::string(kQemuImg) + " convert -f raw -O qcow2 " + (compress ? "-c " : "") + "-o " +
                   opts + " " + q(raw) + " " + q(img));
  if (c.status != 0) throw std::runtime_error("qemu-img convert failed: " + c.out);
  return img;
}

std::string create_image(const TempDir& dir, const std::string& name, const std::string& opts,
                         uint64_t size) {
  const std::string img = dir / name;
  const Cmd c = sh(std::string(kQemuImg) + " create -q -f qcow2 -o " + opts + " " + q(img) + " " +
                   std::to_string(size));
  if (c.status != 0) throw std::runtime_error("qemu-img create failed: " + c.out);
  return img;
}

// got must equal want except inside [torn_offset, +torn.size()), where each byte may also be the
// torn write's.
void expect_model_or_torn(const Bytes& got, const Bytes& want, uint64_t torn_offset, const Bytes& torn) {
  ASSERT_EQ(got.size(), want.size());
  const uint64_t lo = std::min<uint64_t>(torn_offset, got.size());
  const uint64_t hi = std::min<uint64_t>(torn_offset + torn.size(), got.size());
  ASSERT_EQ(mismatch_at(got.data(), want.data(), lo), -1);
  ASSERT_EQ(mismatch_at(got.data() + hi, want.data() + hi, got.size() - hi), -1) << "after the torn write";
  for (uint64_t i = lo; i < hi; ++i)
    ASSERT_TRUE(got[i] == want[i] || got[i] == torn[i - torn_offset]) << "byte " << i;
}

// Random writes of many shapes (whole clusters, partial, across L2-table boundaries, sector runs)
// through the driver and into the model; reads checked along the way.
void random_writes(BlockDriver& d, Bytes& model, uint64_t cluster, int count, std::mt19937_64& rng) {
  const uint64_t size = model.size();
  const uint64_t l2_span = cluster * cluster / 8;
  Bytes buf;
  for (int i = 0; i < count; ++i) {
    uint64_t off = 0, len = 0;
    switch (rng() % 5) {
      case 0:
        off = (rng() % (size / cluster)) * cluster;
        len = cluster * (1 + rng() % 4);
        break;
      case 1:
        off = rng() % size;
        len = 1 + rng() % cluster;
        break;
      case 2:
        if (size > l2_span) {
          const uint64_t boundary = l2_span * (1 + rng() % (size / l2_span));
          off = boundary - std::min<uint64_t>(boundary, rng() % (2 * cluster + 1));
        } else {
          off = rng() % size;
        }
        len = 1 + rng() % (4 * cluster);
        break;
      case 3:
        off = rng() % size;
        len = 1 + rng() % (16 * cluster);
        break;
      default:
        off = (rng() % (size / 512)) * 512;
        len = 512 * (1 + rng() % 16);
        break;
    }
    off = std::min(off, size - 1);
    len = std::min(len, size - off);
    buf.resize(len);
    fill_random(buf.data(), len, rng);
    ASSERT_TRUE(d.write(off, buf.data(), len)) << "write " << off << "+" << len;
    std::copy(buf.begin(), buf.end(), model.begin() + static_cast<ptrdiff_t>(off));
    if (i % 8 == 0) {
      const uint64_t roff = rng() % size;
      const uint64_t rlen = std::min<uint64_t>(size - roff, 1 + rng() % (8 * cluster));
      Bytes got(rlen);
      ASSERT_TRUE(d.read(roff, got.data(), rlen));
      ASSERT_EQ(mismatch_at(got.data(), &model[roff], rlen), -1) << "read " << roff << "+" << rlen;
    }
  }
}

// Header fields, parsed by the test itself.
struct Header {
  uint32_t version, cluster_bits, l1_size, reftable_clusters, header_length;
  uint64_t size, l1_offset, reftable_offset;
};

Header parse_header(const Bytes& f) {
  Header h{};
  h.version = static_cast<uint32_t>(get_be(f, 4, 4));
  h.cluster_bits = static_cast<uint32_t>(get_be(f, 20, 4));
  h.size = get_be(f, 24, 8);
  h.l1_size = static_cast<uint32_t>(get_be(f, 36, 4));
  h.l1_offset = get_be(f, 40, 8);
  h.reftable_offset = get_be(f, 48, 8);
  h.reftable_clusters = static_cast<uint32_t>(get_be(f, 56, 4));
  h.header_length = h.version >= 3 ? static_cast<uint32_t>(get_be(f, 100, 4)) : 72;
  return h;
}

// Offsets of the header extensions (type field) in f.
std::vector<size_t> extension_offsets(const Bytes& f) {
  std::vector<size_t> out;
  if (f.size() < 104) return out;
  const Header h = parse_header(f);
  const uint64_t end = std::min<uint64_t>(f.size(), uint64_t{1} << std::clamp(h.cluster_bits, 9u, 21u));
  for (uint64_t pos = h.header_length; pos + 8 <= end;) {
    const uint32_t type = static_cast<uint32_t>(get_be(f, pos, 4));
    if (type == 0) break;
    out.push_back(pos);
    pos += 8 + ((get_be(f, pos + 4, 4) + 7) & ~7ull);
  }
  return out;
}

// The active L2 entries of an image that have all bits of `flags` set.
size_t count_l2_entries(const std::string& path, uint64_t flags) {
  const Bytes f = read_file(path);
  const Header h = parse_header(f);
  size_t n = 0;
  for (uint32_t i = 0; i < h.l1_size; ++i) {
    const uint64_t l2 = get_be(f, h.l1_offset + i * 8, 8) & 0x00FFFFFFFFFFFE00ull;
    if (l2 == 0) continue;
    for (uint64_t j = 0; j < (uint64_t{1} << h.cluster_bits) / 8; ++j)
      if ((get_be(f, l2 + j * 8, 8) & flags) == flags) ++n;
  }
  return n;
}

// ------------------------------------------------------------------------------------------------

TEST(Qcow2Read, ConvertedImagesMatchTheirSource) {
  REQUIRE_QEMU_IMG();
  TempDir dir;
  struct Config {
    const char* opts;
    bool compress;
  };
  const Config configs[] = {
      {"compat=1.1", false},
      {"compat=0.10", false},
      {"compat=1.1,cluster_size=512", false},
      {"compat=0.10,cluster_size=1024", false},
      {"compat=1.1,cluster_size=4096", true},
      {"compat=0.10", true},
      {"compat=1.1,cluster_size=512", true},
      {"compat=1.1,cluster_size=2M", false},
      {"compat=1.1,cluster_size=2M", true},
      {"compat=1.1,cluster_size=8192,refcount_bits=1", true},
  };
  const Bytes content = make_content((3 << 20) + 3 * 512, 1);
  int n = 0;
  for (const Config& c : configs) {
    SCOPED_TRACE(std::string(c.opts) + (c.compress ? " -c" : ""));
    const std::string img = convert_image(dir, "img" + std::to_string(n++), content, c.opts, c.compress);
    if (c.compress) {  // the text stretches compress: some L2 entries must be compressed ones
      EXPECT_GT(count_l2_entries(img, uint64_t{1} << 62), 0u);
    }
    Qcow2Image q2(img, false);
    EXPECT_STREQ(q2.format(), "qcow2");
    EXPECT_FALSE(q2.writable());
    EXPECT_EQ(q2.version(), std::string(c.opts).find("0.10") != std::string::npos ? 2u : 3u);
    expect_reads(q2, content, 7 + n);
  }
}

TEST(Qcow2Read, ZeroClustersReadAsZerosNotBacking) {
  REQUIRE_QEMU_IO();
  TempDir dir;
  Bytes base = make_content(1 << 20, 2);
  for (auto& b : base) b |= 1;  // no zero bytes: a zero read can only come from the overlay
  write_file(dir / "base.raw", base);
  ASSERT_EQ(sh("cd " + q(dir.path) + " && " + kQemuImg +
               " create -q -f qcow2 -o cluster_size=4096 -b base.raw -F raw ov.qcow2 1M")
                .status,
            0);
  const std::string ov = dir / "ov.qcow2";
  // Allocated data, then zeroed: with the allocation kept (-z) and dropped (-z -u), partial too.
  const Cmd io = sh(std::string(kQemuIo) + " -f qcow2 -c 'write -P 0x5a 0 64k' -c 'write -z 8k 16k' -c " +
                    "'write -z -u 32k 8k' -c 'write -z 100k 12k' -c 'write -z 200k 1000' " + q(ov));
  ASSERT_EQ(io.status, 0) << io.out;
  Bytes model = base;
  std::fill_n(&model[0], 64 << 10, 0x5a);
  std::fill_n(&model[8 << 10], 16 << 10, 0);
  std::fill_n(&model[32 << 10], 8 << 10, 0);
  std::fill_n(&model[100 << 10], 12 << 10, 0);
  std::fill_n(&model[200 << 10], 1000, 0);
  {
    Qcow2Image q2(ov, false);
    expect_reads(q2, model, 3);
  }
  // Partial writes into the zero clusters (and around them) through the driver.
  {
    Qcow2Image q2(ov, true);
    std::mt19937_64 rng(5);
    for (uint64_t off : {uint64_t{9000}, uint64_t{33000}, uint64_t{101000}, uint64_t{200100}}) {
      Bytes buf(700);
      fill_random(buf.data(), buf.size(), rng);
      ASSERT_TRUE(q2.write(off, buf.data(), buf.size()));
      std::copy(buf.begin(), buf.end(), model.begin() + static_cast<ptrdiff_t>(off));
    }
    expect_reads(q2, model, 4);
  }
  expect_qemu_agrees(dir, ov, model);
}

TEST(Qcow2Backing, RawBackingSmallerThanOverlay) {
  REQUIRE_QEMU_IO();
  TempDir dir;
  const Bytes base = make_content((2 << 20) + 4096 + 512, 3);
  write_file(dir / "base.raw", base);
  // A relative backing name: resolved against the overlay's directory, not the cwd.
  ASSERT_EQ(sh("cd " + q(dir.path) + " && " + kQemuImg + " create -q -f qcow2 -b base.raw -F raw ov.qcow2 3M")
                .status,
            0);
  const std::string ov = dir / "ov.qcow2";
  const Cmd io =
      sh(std::string(kQemuIo) + " -f qcow2 -c 'write -P 0xa1 100000 5000' -c 'write -P 0xb2 2097000 9000' " +
         "-c 'write -P 0xc3 3000000 1000' " + q(ov));
  ASSERT_EQ(io.status, 0) << io.out;
  Bytes model(3 << 20, 0);
  std::copy(base.begin(), base.end(), model.begin());
  std::fill_n(&model[100000], 5000, 0xa1);
  std::fill_n(&model[2097000], 9000, 0xb2);
  std::fill_n(&model[3000000], 1000, 0xc3);
  {
    auto d = open_block_image(ov, ImageFormat::Probe, false);
    EXPECT_STREQ(d->format(), "qcow2");
    auto* q2 = dynamic_cast<Qcow2Image*>(d.get());
    ASSERT_NE(q2, nullptr);
    ASSERT_NE(q2->backing(), nullptr);
    EXPECT_STREQ(q2->backing()->format(), "raw");
    expect_reads(*d, model, 9);
  }
  {
    Qcow2Image q2(ov, true);
    std::mt19937_64 rng(11);
    random_writes(q2, model, 65536, 150, rng);
    // Partial clusters straddling the end of the backing file.
    Bytes buf(3000, 0x77);
    ASSERT_TRUE(q2.write(base.size() - 1000, buf.data(), buf.size()));
    std::copy(buf.begin(), buf.end(), model.begin() + static_cast<ptrdiff_t>(base.size() - 1000));
    EXPECT_TRUE(q2.flush());
    expect_reads(q2, model, 12);
  }
  EXPECT_EQ(read_file(dir / "base.raw"), base);  // the backing file is never written
  expect_qemu_agrees(dir, ov, model);
}

TEST(Qcow2Backing, Qcow2ChainWithProbedFormat) {
  REQUIRE_QEMU_IO();
  TempDir dir;
  const Bytes content = make_content(2 << 20, 4);
  convert_image(dir, "base.qcow2", content, "cluster_size=4096", true);
  const std::string cd = "cd " + q(dir.path) + " && ";
  ASSERT_EQ(
      sh(cd + kQemuImg + " create -q -f qcow2 -o cluster_size=512 -b base.qcow2 -F qcow2 mid.qcow2").status,
      0);
  ASSERT_EQ(
      sh(cd + kQemuImg + " create -q -f qcow2 -o compat=0.10 -b mid.qcow2 -F qcow2 top.qcow2 3M").status, 0);
  ASSERT_EQ(
      sh(cd + kQemuIo + " -f qcow2 -c 'write -P 0x11 1000 70000' -c 'write -P 0x22 1500000 3' mid.qcow2")
          .status,
      0);
  ASSERT_EQ(
      sh(cd + kQemuIo + " -f qcow2 -c 'write -P 0x33 60000 10000' -c 'write -P 0x44 2090000 60000' top.qcow2")
          .status,
      0);
  Bytes model(3 << 20, 0);
  std::copy(content.begin(), content.end(), model.begin());
  std::fill_n(&model[1000], 70000, 0x11);
  std::fill_n(&model[1500000], 3, 0x22);
  std::fill_n(&model[60000], 10000, 0x33);
  std::fill_n(&model[2090000], 60000, 0x44);

  // Hide top's backing-format extension (an unknown type is skipped): the format is then probed.
  const std::string top = dir / "top.qcow2";
  Bytes f = read_file(top);
  bool hidden = false;
  for (size_t pos : extension_offsets(f))
    if (get_be(f, pos, 4) == 0xE2792ACA) {
      set_be(f, pos, 0x0BADF00D, 4);
      hidden = true;
    }
  ASSERT_TRUE(hidden);
  write_file(top, f);
  {
    Qcow2Image q2(top, false);
    ASSERT_NE(q2.backing(), nullptr);
    EXPECT_STREQ(q2.backing()->format(), "qcow2");
    expect_reads(q2, model, 5);
  }
  {
    Qcow2Image q2(top, true);
    std::mt19937_64 rng(6);
    random_writes(q2, model, 65536, 120, rng);
  }
  expect_qemu_agrees(dir, top, model);
  // The lower images are untouched: mid still composes to its own contents.
  Bytes mid_model(content);
  std::fill_n(&mid_model[1000], 70000, 0x11);
  std::fill_n(&mid_model[1500000], 3, 0x22);
  Qcow2Image mid(dir / "mid.qcow2", false);
  expect_reads(mid, mid_model, 6);
}

TEST(Qcow2Backing, LoopsAndMissingFilesAreErrors) {
  REQUIRE_QEMU_IMG();
  TempDir dir;
  const std::string cd = "cd " + q(dir.path) + " && ";
  ASSERT_EQ(sh(cd + kQemuImg + " create -q -f qcow2 a.qcow2 1M").status, 0);
  ASSERT_EQ(sh(cd + kQemuImg + " create -q -f qcow2 -b a.qcow2 -F qcow2 b.qcow2").status, 0);
  ASSERT_EQ(sh(cd + kQemuImg + " rebase -u -f qcow2 -b b.qcow2 -F qcow2 a.qcow2").status, 0);
  try {
    Qcow2Image q2(dir / "b.qcow2", false);
    FAIL() << "a backing loop opened";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("backing chain longer than 16"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  }
  ASSERT_EQ(sh(cd + kQemuImg + " create -q -f qcow2 -b gone.raw -F raw -u c.qcow2 1M").status, 0);
  try {
    Qcow2Image q2(dir / "c.qcow2", false);
    FAIL() << "a missing backing file opened";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("gone.raw"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("c.qcow2"), std::string::npos) << e.what();
  }
}

TEST(Qcow2Write, RandomWritesMatchModel) {
  REQUIRE_QEMU_IMG();
  TempDir dir;
  struct Config {
    const char* opts;
    uint64_t cluster, size;
  };
  const Config configs[] = {
      {"compat=1.1,cluster_size=512", 512, 3 << 20},
      {"compat=0.10,cluster_size=512", 512, 3 << 20},
      {"cluster_size=4096,refcount_bits=1", 4096, 5 << 20},
      {"cluster_size=1024,refcount_bits=2", 1024, 3 << 20},
      {"cluster_size=512,refcount_bits=8", 512, 2 << 20},
      {"cluster_size=512,refcount_bits=32", 512, 2 << 20},
      {"cluster_size=512,refcount_bits=64", 512, 3 << 20},
      {"compat=1.1", 65536, 3 << 20},
      {"compat=0.10", 65536, 3 << 20},
      {"cluster_size=2M", 2 << 20, 5 << 20},
  };
  int n = 0;
  for (const Config& c : configs) {
    SCOPED_TRACE(c.opts);
    const std::string img = create_image(dir, "w" + std::to_string(n) + ".qcow2", c.opts, c.size);
    Bytes model(c.size, 0);
    std::mt19937_64 rng(100 + n++);
    {
      Qcow2Image q2(img, true);
      random_writes(q2, model, c.cluster, c.cluster >= 65536 ? 60 : 250, rng);
      EXPECT_TRUE(q2.flush());
    }
    expect_qemu_agrees(dir, img, model);
    Qcow2Image again(img, false);
    expect_reads(again, model, n);
  }
}

TEST(Qcow2Write, RefcountTableGrows) {
  REQUIRE_QEMU_IMG();
  TempDir dir;
  // 512-byte clusters: one refcount-table cluster covers 64 blocks of 64 (64-bit refcounts: 2 MiB of
  // file) or of 256 (16-bit: 8 MiB). Writing past that forces new tables, several times over.
  struct Config {
    const char* opts;
    uint64_t size;
  };
  for (const Config& c : {Config{"cluster_size=512,refcount_bits=64", 6 << 20},
                          Config{"cluster_size=512,refcount_bits=16", 10 << 20}}) {
    SCOPED_TRACE(c.opts);
    const std::string img = create_image(dir, "grow.qcow2", c.opts, c.size);
    const uint32_t before = parse_header(read_file(img)).reftable_clusters;
    Bytes model(c.size, 0);
    std::mt19937_64 rng(77);
    {
      Qcow2Image q2(img, true);
      Bytes buf(48 << 10);
      for (uint64_t off = 0; off < c.size; off += buf.size()) {
        const uint64_t len = std::min<uint64_t>(buf.size(), c.size - off);
        fill_random(buf.data(), len, rng);
        ASSERT_TRUE(q2.write(off, buf.data(), len));
        std::copy_n(buf.begin(), len, model.begin() + static_cast<ptrdiff_t>(off));
      }
      random_writes(q2, model, 512, 100, rng);
    }
    const Header h = parse_header(read_file(img));
    EXPECT_GT(h.reftable_clusters, before);
    expect_qemu_agrees(dir, img, model);
  }
}

TEST(Qcow2Write, OverwritesCompressedClusters) {
  REQUIRE_QEMU_IMG();
  TempDir dir;
  for (const char* opts : {"cluster_size=4096", "compat=0.10,cluster_size=65536", "cluster_size=512"}) {
    SCOPED_TRACE(opts);
    Bytes model = make_content(2 << 20, 8);
    const std::string img = convert_image(dir, "c.qcow2", model, opts, true);
    std::mt19937_64 rng(9);
    {
      Qcow2Image q2(img, true);
      const uint64_t cluster = uint64_t{1} << q2.cluster_bits();
      random_writes(q2, model, cluster, 200, rng);
    }
    // Compressed clusters share host clusters: each overwrite drops exactly its references, so
    // the check is clean (no leaks, no corruption).
    expect_qemu_agrees(dir, img, model);
  }
}

TEST(Qcow2Write, InternalSnapshotsAreCopiedOnWrite) {
  REQUIRE_QEMU_IMG();
  TempDir dir;
  struct Config {
    const char* opts;
    bool compress;
  };
  for (const Config& c : {Config{"cluster_size=4096", false}, Config{"compat=0.10,cluster_size=512", false},
                          Config{"cluster_size=4096", true}}) {
    SCOPED_TRACE(c.opts);
    const Bytes original = make_content(1 << 20, 10);
    const std::string img = convert_image(dir, "s.qcow2", original, c.opts, c.compress);
    ASSERT_EQ(sh(std::string(kQemuImg) + " snapshot -c s1 " + q(img)).status, 0);
    Bytes model = original;
    std::mt19937_64 rng(12);
    {
      Qcow2Image q2(img, true);
      const uint64_t cluster = uint64_t{1} << q2.cluster_bits();
      random_writes(q2, model, cluster, 200, rng);
    }
    expect_qemu_agrees(dir, img, model);
    // The snapshot still holds the original data.
    const Cmd apply = sh(std::string(kQemuImg) + " snapshot -a s1 " + q(img));
    ASSERT_EQ(apply.status, 0) << apply.out;
    expect_qemu_agrees(dir, img, original);
  }
}

// A child writes in a tight loop and is killed with SIGKILL; it reports each write before it
// starts and after it completes, so the parent knows the one write that may be torn.
TEST(Qcow2Crash, SigkillLeavesAtMostLeakedClusters) {
  REQUIRE_QEMU_IMG();
  TempDir dir;
  struct Record {
    uint64_t offset;
    uint32_t length;
    uint32_t seed;
    uint32_t done;
    uint32_t pad;
  };
  struct Config {
    const char* opts;
    uint64_t cluster;
    bool backing;
  };
  const Config configs[] = {
      {"cluster_size=512,refcount_bits=64", 512, true},
      {"compat=0.10,cluster_size=1024", 1024, false},
      {"cluster_size=65536", 65536, true},
  };
  // Large enough that most writes allocate (clusters, L2 tables, refcount blocks and tables).
  const uint64_t size = 16 << 20;
  std::mt19937_64 rng(2024);
  int cfg = 0;
  for (const Config& c : configs) {
    SCOPED_TRACE(c.opts);
    Bytes model(size, 0);
    std::string opts = c.opts;
    const std::string img = dir / ("k" + std::to_string(cfg++) + ".qcow2");
    std::string create = std::string(kQemuImg) + " create -q -f qcow2 -o " + opts + " ";
    if (c.backing) {
      const Bytes base = make_content(12 << 20, 13);
      write_file(dir / "kbase.raw", base);
      std::copy(base.begin(), base.end(), model.begin());
      create += "-b " + q(dir / "kbase.raw") + " -F raw ";
    }
    ASSERT_EQ(sh(create + q(img) + " " + std::to_string(size)).status, 0);
    for (int round = 0; round < (kSanitized ? 3 : 6); ++round) {
      SCOPED_TRACE("round " + std::to_string(round));
      int fds[2];
      ASSERT_EQ(::pipe(fds), 0);
      const uint32_t child_seed = static_cast<uint32_t>(rng());
      const pid_t pid = ::fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {
        ::close(fds[0]);
        try {
          Qcow2Image q2(img, true);
          std::mt19937_64 crng(child_seed);
          Bytes buf;
          for (;;) {
            Record r{};
            const bool big = crng() % 4 == 0;
            r.length = static_cast<uint32_t>(1 + crng() % (big ? 8 * c.cluster : c.cluster));
            r.offset = crng() % (size - r.length);
            r.seed = static_cast<uint32_t>(crng());
            if (::write(fds[1], &r, sizeof r) != sizeof r) ::_exit(4);
            buf.resize(r.length);
            std::mt19937_64 drng(r.seed);
            fill_random(buf.data(), buf.size(), drng);
            if (!q2.write(r.offset, buf.data(), buf.size())) ::_exit(3);
            r.done = 1;
            if (::write(fds[1], &r, sizeof r) != sizeof r) ::_exit(4);
          }
        } catch (...) {
          ::_exit(2);
        }
      }
      ::close(fds[1]);
      std::vector<Record> log;
      auto drain = [&](int timeout_ms) {
        pollfd p{fds[0], POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) <= 0) return false;
        Record r;
        const ssize_t got = ::read(fds[0], &r, sizeof r);
        if (got != sizeof r) return false;
        log.push_back(r);
        return true;
      };
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(10 + rng() % 90);
      while (std::chrono::steady_clock::now() < deadline) drain(1);
      ::kill(pid, SIGKILL);
      int status = 0;
      ASSERT_EQ(::waitpid(pid, &status, 0), pid);
      while (drain(100)) {
      }
      ::close(fds[0]);
      ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);

      const Cmd check = sh(std::string(kQemuImg) + " check " + q(img));
      EXPECT_TRUE(check.status == 0 || check.status == 3) << "exit " << check.status << "\n" << check.out;
      // Completed writes are in the image; the write in flight is old or new byte by byte.
      const Record* torn = nullptr;
      for (size_t i = 0; i < log.size(); ++i) {
        const Record& r = log[i];
        if (!r.done) {
          torn = &r;
          continue;
        }
        Bytes buf(r.length);
        std::mt19937_64 drng(r.seed);
        fill_random(buf.data(), buf.size(), drng);
        std::copy(buf.begin(), buf.end(), model.begin() + static_cast<ptrdiff_t>(r.offset));
        torn = nullptr;
      }
      const std::string conv = dir / "kconv.raw";
      ASSERT_EQ(sh(std::string(kQemuImg) + " convert -O raw " + q(img) + " " + q(conv)).status, 0);
      const Bytes got = read_file(conv);
      ASSERT_EQ(got.size(), size);
      Bytes fresh;
      if (torn) {
        fresh.resize(torn->length);
        std::mt19937_64 drng(torn->seed);
        fill_random(fresh.data(), fresh.size(), drng);
      }
      SCOPED_TRACE("after " + std::to_string(log.size() / 2) + " writes");
      expect_model_or_torn(got, model, torn ? torn->offset : 0, fresh);
      if (HasFatalFailure()) return;
      model = got;  // the torn write's outcome is now the image's contents
    }
  }
}

// The same guarantee, exhaustively: a scripted series of writes that allocates data clusters, L2
// tables and refcount blocks, grows the refcount table, and copies on write from compressed,
// zero, backing-file and snapshot-shared clusters, is cut short after each of its pwrite() calls
// in turn. Every prefix must check clean or with leaks only, and hold every completed write.
struct ScriptedWrite {
  uint64_t offset;
  Bytes data;
};

void crash_at_every_pwrite(const TempDir& dir, const std::string& pristine_path, const Bytes& before,
                           const std::vector<ScriptedWrite>& script, int* leaky_prefixes,
                           uint32_t* reftable_clusters_after = nullptr) {
  const Bytes pristine = read_file(pristine_path);
  const std::string work = dir / "crash.qcow2";
  // A full run, counting its pwrites.
  write_file(work, pristine);
  long total = 0;
  {
    g_pwrites_left = 1L << 40;
    Qcow2Image q2(work, true);
    for (const auto& w : script) ASSERT_TRUE(q2.write(w.offset, w.data.data(), w.data.size()));
    total = (1L << 40) - g_pwrites_left.load();
    g_pwrites_left = -1;
  }
  Bytes model = before;
  for (const auto& w : script)
    std::copy(w.data.begin(), w.data.end(), model.begin() + static_cast<ptrdiff_t>(w.offset));
  expect_qemu_agrees(dir, work, model);
  if (reftable_clusters_after) *reftable_clusters_after = parse_header(read_file(work)).reftable_clusters;
  ASSERT_GT(total, 20);

  for (long k = 0; k < total; k += kSanitized ? 1 + k % 4 : 1) {
    SCOPED_TRACE("crash before pwrite " + std::to_string(k) + " of " + std::to_string(total));
    write_file(work, pristine);
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      g_tear = k % 2 == 1;
      g_pwrites_left = k;
      try {
        Qcow2Image q2(work, true);
        for (const auto& w : script) {
          if (!q2.write(w.offset, w.data.data(), w.data.size())) ::_exit(3);
          const char done = 1;
          if (::write(fds[1], &done, 1) != 1) ::_exit(4);
        }
      } catch (...) {
        ::_exit(2);
      }
      ::_exit(0);
    }
    ::close(fds[1]);
    size_t completed = 0;
    char c;
    while (::read(fds[0], &c, 1) == 1) ++completed;
    ::close(fds[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
    ASSERT_LT(completed, script.size());

    const Cmd check = sh(std::string(kQemuImg) + " check " + q(work));
    ASSERT_TRUE(check.status == 0 || check.status == 3) << "exit " << check.status << "\n" << check.out;
    if (check.status == 3) ++*leaky_prefixes;
    Bytes want = before;
    for (size_t i = 0; i < completed; ++i)
      std::copy(script[i].data.begin(), script[i].data.end(),
                want.begin() + static_cast<ptrdiff_t>(script[i].offset));
    const ScriptedWrite& torn = script[completed];
    const std::string conv = dir / "crash.raw";
    ASSERT_EQ(sh(std::string(kQemuImg) + " convert -O raw " + q(work) + " " + q(conv)).status, 0);
    SCOPED_TRACE("write " + std::to_string(completed) + " torn");
    expect_model_or_torn(read_file(conv), want, torn.offset, torn.data);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(Qcow2Crash, EveryWritePrefixIsConsistent) {
  REQUIRE_QEMU_IO();
  TempDir dir;
  std::mt19937_64 rng(31);
  int leaky = 0;
  {
    SCOPED_TRACE("new clusters, L2 tables, refcount blocks, refcount table growth; raw backing");
    // 512-byte clusters, 64-bit refcounts: the one-cluster refcount table covers 2 MiB of file.
    // Filled to just under that (qemu-io), the script's new L2 tables and clusters push it over.
    const Bytes base = make_content(3 << 20, 32);
    write_file(dir / "cbase.raw", base);
    const std::string img = dir / "c1.qcow2";
    ASSERT_EQ(sh(std::string(kQemuImg) + " create -q -f qcow2 -o cluster_size=512,refcount_bits=64 -b " +
                 q(dir / "cbase.raw") + " -F raw " + q(img) + " 4M && " + kQemuIo +
                 " -f qcow2 -c 'write -P 7 0 1970k' " + q(img))
                  .status,
              0);
    const uint32_t rtc_before = parse_header(read_file(img)).reftable_clusters;
    Bytes before(4 << 20, 0);
    std::copy(base.begin(), base.end(), before.begin());
    std::fill_n(before.begin(), 1970 << 10, 7);
    std::vector<ScriptedWrite> script;
    for (int i = 0; i < 16; ++i) {
      ScriptedWrite w;
      w.offset = (2 << 20) + uint64_t(i) * (40 << 10) + rng() % 2000;  // a new L2 table each
      w.data.resize(1 + rng() % 1200);
      fill_random(w.data.data(), w.data.size(), rng);
      script.push_back(std::move(w));
    }
    uint32_t rtc_after = 0;
    crash_at_every_pwrite(dir, img, before, script, &leaky, &rtc_after);
    EXPECT_GT(rtc_after, rtc_before);  // the script did grow the refcount table
  }
  {
    SCOPED_TRACE("copy-on-write from compressed, zero and snapshot-shared clusters");
    const Bytes content = make_content(512 << 10, 33);
    const std::string img = convert_image(dir, "c2.qcow2", content, "cluster_size=4096", true);
    ASSERT_EQ(sh(std::string(kQemuIo) + " -f qcow2 -c 'write -z 64k 32k' " + q(img)).status, 0);
    ASSERT_EQ(sh(std::string(kQemuImg) + " snapshot -c s1 " + q(img)).status, 0);
    Bytes before = content;
    std::fill_n(before.begin() + (64 << 10), 32 << 10, 0);
    std::vector<ScriptedWrite> script;
    for (int i = 0; i < 10; ++i) {
      ScriptedWrite w;
      w.offset = rng() % (500 << 10);
      w.data.resize(1 + rng() % 6000);
      fill_random(w.data.data(), w.data.size(), rng);
      script.push_back(std::move(w));
    }
    script.push_back({(64 << 10) + 100, Bytes(300, 0x5c)});
    crash_at_every_pwrite(dir, img, before, script, &leaky);
  }
  // Crashing between a refcount update and the table entry that uses it leaks: some prefixes must.
  EXPECT_GT(leaky, 0);
}

// ------------------------------------------------------------------------------------------------
// Hostile images.

// A pristine image built by qemu-img: its bytes, and where its tables are.
struct Sample {
  std::string name;
  Bytes bytes;
  Header h;
  std::vector<uint64_t> l2_offsets, refblock_offsets;
};

Sample load_sample(const std::string& path) {
  Sample s;
  s.name = path;
  s.bytes = read_file(path);
  s.h = parse_header(s.bytes);
  for (uint32_t i = 0; i < s.h.l1_size; ++i) {
    const uint64_t e = get_be(s.bytes, s.h.l1_offset + i * 8, 8) & 0x00FFFFFFFFFFFE00ull;
    if (e) s.l2_offsets.push_back(e);
  }
  const uint64_t entries = (uint64_t{s.h.reftable_clusters} << s.h.cluster_bits) / 8;
  for (uint64_t i = 0; i < entries; ++i) {
    const uint64_t e = get_be(s.bytes, s.h.reftable_offset + i * 8, 8) & ~0x1FFull;
    if (e) s.refblock_offsets.push_back(e);
  }
  return s;
}

uint64_t boundary_value(std::mt19937_64& rng, uint64_t cluster, uint64_t file_size) {
  const uint64_t values[] = {0,
                             1,
                             2,
                             3,
                             4,
                             7,
                             8,
                             9,
                             20,
                             21,
                             22,
                             63,
                             64,
                             104,
                             cluster - 1,
                             cluster,
                             cluster + 1,
                             2 * cluster,
                             file_size,
                             file_size - cluster,
                             file_size + cluster,
                             0xFFFF,
                             0x7FFFFFFF,
                             0x80000000,
                             0xFFFFFFFF,
                             uint64_t{1} << 32,
                             uint64_t{1} << 55,
                             uint64_t{1} << 56,
                             uint64_t{1} << 62,
                             uint64_t{1} << 63,
                             ~uint64_t{0},
                             ~uint64_t{0} - 511};
  if (rng() % 4 == 0) return rng();
  uint64_t v = values[rng() % (sizeof values / sizeof values[0])];
  if (rng() % 4 == 0) v |= uint64_t{1} << 63;  // COPIED
  if (rng() % 6 == 0) v |= uint64_t{1} << 62;  // compressed
  return v;
}

void mutate(const Sample& s, Bytes& f, std::mt19937_64& rng) {
  const uint64_t cluster = uint64_t{1} << s.h.cluster_bits;
  auto flip = [&](size_t lo, size_t hi) {
    if (hi > f.size()) hi = f.size();
    if (lo >= hi) return;
    const size_t at = lo + rng() % (hi - lo);
    f[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
  };
  auto set_entry = [&](uint64_t table, uint64_t count) {
    if (count == 0 || table + count * 8 > f.size()) return;
    const uint64_t at = table + (rng() % count) * 8;
    if (rng() % 3 == 0) {
      f[at + rng() % 8] ^= static_cast<uint8_t>(1u << (rng() % 8));
    } else {
      uint64_t v = boundary_value(rng, cluster, f.size());
      if (rng() % 2) v = (get_be(f, at, 8) & ~uint64_t{0xFFFFFF}) | (v & 0xFFFFFF);
      set_be(f, at, v, 8);
    }
  };
  static const struct {
    unsigned off, width;
  } kFields[] = {{4, 4},  {8, 8},  {16, 4}, {20, 4}, {24, 8}, {32, 4}, {36, 4}, {40, 8},  {48, 8},
                 {56, 4}, {60, 4}, {64, 8}, {72, 8}, {80, 8}, {88, 8}, {96, 4}, {100, 4}, {104, 1}};
  const int rounds = 1 + static_cast<int>(rng() % 3);
  for (int i = 0; i < rounds; ++i) {
    switch (rng() % 10) {
      case 0:
        for (int k = 0; k < 4; ++k) flip(0, 512);
        break;
      case 1: {
        const auto& fld = kFields[rng() % (sizeof kFields / sizeof kFields[0])];
        if (s.h.version == 2 && fld.off >= 72) break;
        set_be(f, fld.off, boundary_value(rng, cluster, f.size()), fld.width);
        break;
      }
      case 2:
        set_entry(s.h.l1_offset, s.h.l1_size);
        break;
      case 3:
      case 4:
        if (!s.l2_offsets.empty()) set_entry(s.l2_offsets[rng() % s.l2_offsets.size()], cluster / 8);
        break;
      case 5:
        set_entry(s.h.reftable_offset, (uint64_t{s.h.reftable_clusters} << s.h.cluster_bits) / 8);
        break;
      case 6:
        if (!s.refblock_offsets.empty()) {
          const uint64_t b = s.refblock_offsets[rng() % s.refblock_offsets.size()];
          for (int k = 0; k < 4; ++k) flip(b, b + cluster);
        }
        break;
      case 7: {
        const auto exts = extension_offsets(f);
        if (exts.empty()) break;
        const size_t e = exts[rng() % exts.size()];
        set_be(f, e + (rng() % 2 ? 4 : 0), boundary_value(rng, cluster, f.size()), 4);
        break;
      }
      case 8:
        for (int k = 0; k < 16; ++k) flip(0, f.size());
        break;
      default:
        f.resize(rng() % (f.size() + 1));
        break;
    }
  }
}

TEST(Qcow2Hostile, CorruptedImagesFailCleanly) {
  REQUIRE_QEMU_IO();
  TempDir dir;
  const Bytes content = make_content(96 << 10, 14);
  std::vector<Sample> samples;
  samples.push_back(load_sample(convert_image(dir, "h1.qcow2", content, "cluster_size=1024", false)));
  samples.push_back(
      load_sample(convert_image(dir, "h2.qcow2", content, "compat=0.10,cluster_size=512", true)));
  samples.push_back(
      load_sample(convert_image(dir, "h3.qcow2", content, "cluster_size=2048,refcount_bits=1", true)));
  {
    const std::string img =
        convert_image(dir, "h4.qcow2", content, "cluster_size=1024,refcount_bits=8", true);
    EXPECT_EQ(sh(std::string(kQemuImg) + " snapshot -c s1 " + q(img)).status, 0);
    EXPECT_EQ(
        sh(std::string(kQemuIo) + " -f qcow2 -c 'write -P 1 0 10k' -c 'write -z 20k 8k' " + q(img)).status,
        0);
    samples.push_back(load_sample(img));
  }
  write_file(dir / "hbase.raw", content);
  ASSERT_EQ(sh("cd " + q(dir.path) + " && " + kQemuImg +
               " create -q -f qcow2 -o cluster_size=1024 -b hbase.raw -F raw h5.qcow2 128k && " + kQemuIo +
               " -f qcow2 -c 'write -P 9 3000 5000' h5.qcow2")
                .status,
            0);
  samples.push_back(load_sample(dir / "h5.qcow2"));

  const std::string path = dir / "fuzz.qcow2";  // same directory: h5's relative backing name resolves
  std::mt19937_64 rng(0x9C0E2);
  const int iterations = 5000;
  int opened = 0, failed_io = 0;
  Bytes buf;
  for (int it = 0; it < iterations; ++it) {
    const Sample& s = samples[rng() % samples.size()];
    Bytes f = s.bytes;
    mutate(s, f, rng);
    write_file(path, f);
    const bool writable = rng() % 2;
    std::unique_ptr<Qcow2Image> q2;
    try {
      q2 = std::make_unique<Qcow2Image>(path, writable);
    } catch (const std::runtime_error& e) {
      ASSERT_EQ(std::string(e.what()).find('\n'), std::string::npos);
      continue;
    }
    ++opened;
    const uint64_t size = q2->size();
    const uint64_t cluster = uint64_t{1} << q2->cluster_bits();
    const uint64_t span = std::min<uint64_t>(size, 160 << 10);
    for (uint64_t off = 0; off < span; off += cluster) {
      const size_t n = std::min<uint64_t>(cluster, size - off);
      buf.assign(n, 0);
      if (!q2->read(off, buf.data(), n)) ++failed_io;
    }
    if (size > 0) {
      buf.assign(std::min<uint64_t>(size, 48 << 10), 0);
      const uint64_t off = rng() % (size - buf.size() + 1);
      if (!q2->read(off, buf.data(), buf.size())) ++failed_io;
    }
    if (writable && size > 0) {
      for (int w = 0; w < 6; ++w) {
        const uint64_t off = rng() % std::max<uint64_t>(span, 1);
        buf.resize(std::min<uint64_t>(size - off, 1 + rng() % (3 * cluster)));
        fill_random(buf.data(), buf.size(), rng);
        if (!q2->write(off, buf.data(), buf.size())) ++failed_io;
      }
    }
  }
  // The corpus exercises both outcomes.
  EXPECT_GT(opened, iterations / 10);
  EXPECT_LT(opened, iterations);
  EXPECT_GT(failed_io, 0);
}

TEST(Qcow2Hostile, RefcountTableOfOneFullBlockIsNotScannedForever) {
  REQUIRE_QEMU_IMG();
  TempDir dir;
  // 64 KiB clusters, 1-bit refcounts: a block covers 2^19 clusters. A new one-cluster refcount
  // table whose 8192 entries all name one all-ones block claims 2^32 clusters in use: finding a
  // free one must fail at once, not after scanning them all.
  const std::string img = create_image(dir, "full.qcow2", "refcount_bits=1", 1 << 20);
  Bytes f = read_file(img);
  const uint64_t C = 65536;
  f.resize((f.size() + C - 1) / C * C);
  const uint64_t block = f.size();
  f.resize(block + C, 0xFF);
  const uint64_t table = f.size();
  f.resize(table + C);
  for (uint64_t i = 0; i < C / 8; ++i) set_be(f, table + i * 8, block, 8);
  set_be(f, 48, table, 8);
  set_be(f, 56, 1, 4);
  write_file(img, f);
  Qcow2Image q2(img, true);
  Bytes buf(512, 1);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(q2.write(4096, buf.data(), buf.size()));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  ASSERT_TRUE(q2.read(4096, buf.data(), buf.size()));
  EXPECT_EQ(buf, Bytes(512, 0));
}

// ------------------------------------------------------------------------------------------------
// Header validation: one-line messages naming the problem.

class Qcow2Header : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have(kQemuImg)) GTEST_SKIP() << "qemu-img not installed";
    // Created with a backing file and no size, qemu-img writes header extensions (backing format,
    // feature names).
    const Cmd c = sh("cd " + q(dir_.path) + " && " + kQemuImg + " create -q -f qcow2 zero.qcow2 1M && " +
                     kQemuImg + " create -q -f qcow2 -b zero.qcow2 -F qcow2 hdr.qcow2");
    ASSERT_EQ(c.status, 0) << c.out;
    img_ = dir_ / "hdr.qcow2";
    pristine_ = read_file(img_);
  }
  // Opening the mutated image fails with a message containing `want`.
  void expect_error(const Bytes& f, const std::string& want, bool writable = false) {
    write_file(img_, f);
    try {
      Qcow2Image q2(img_, writable);
      ADD_FAILURE() << "opened; expected: " << want;
    } catch (const std::runtime_error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(want), std::string::npos) << msg;
      EXPECT_NE(msg.find(img_), std::string::npos) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  }
  Bytes with(size_t off, uint64_t v, unsigned width) {
    Bytes f = pristine_;
    set_be(f, off, v, width);
    return f;
  }
  TempDir dir_;
  std::string img_;
  Bytes pristine_;
};

TEST_F(Qcow2Header, RejectsBadFields) {
  expect_error(with(0, 0x51464900, 4), "bad magic");
  expect_error(with(4, 4, 4), "version 4 not supported");
  expect_error(with(4, 1, 4), "version 1 not supported");
  expect_error(with(20, 30, 4), "cluster_bits 30 out of range (9-21)");
  expect_error(with(20, 8, 4), "cluster_bits 8 out of range");
  expect_error(with(24, uint64_t{1} << 60, 8), "virtual size");
  expect_error(with(32, 1, 4), "crypt_method 1");
  expect_error(with(32, 2, 4), "crypt_method 2");
  expect_error(with(36, 0, 4), "L1 table too small");
  expect_error(with(36, 0xFFFFFFFF, 4), "L1 table");
  expect_error(with(40, 65536 + 8, 8), "L1 table offset");
  expect_error(with(40, uint64_t{1} << 40, 8), "L1 table");
  expect_error(with(48, 0, 8), "refcount table offset");
  expect_error(with(56, 0, 4), "no refcount table");
  expect_error(with(56, 100000, 4), "refcount table of 100000 clusters too large");
  expect_error(with(56, 100, 4), "extends past the end of the file");
  expect_error(with(72, uint64_t{1} << 5, 8), "unsupported incompatible feature bits 5");
  expect_error(with(72, uint64_t{1} << 63, 8), "unsupported incompatible feature bits 63");
  expect_error(with(72, 4, 8), "external data files");
  expect_error(with(72, 8, 8), "compression type");
  expect_error(with(104, 1, 1), "compression type 1 not supported");
  expect_error(with(72, 16, 8), "extended L2 entries");
  expect_error(with(96, 7, 4), "refcount_order 7 not supported (0-6)");
  expect_error(with(100, 100, 4), "header_length 100 invalid");
  expect_error(with(100, 70000, 4), "header_length 70000 invalid");
  Bytes f = with(8, 200, 8);  // backing name at 200, 2000 bytes
  set_be(f, 16, 2000, 4);
  expect_error(f, "backing file name length 2000 too long");
  f = with(8, 65500, 8);
  set_be(f, 16, 200, 4);
  expect_error(f, "backing file name outside the header cluster");
  // A header extension whose length runs off the cluster.
  const auto exts = extension_offsets(pristine_);
  ASSERT_FALSE(exts.empty());
  expect_error(with(exts[0] + 4, 5000, 4), "runs past the header cluster");
}

TEST_F(Qcow2Header, UnknownFeatureIsNamedFromTheNameTable) {
  // Rename the feature table's first incompatible entry to bit 9, "frobnication".
  Bytes f = with(72, uint64_t{1} << 9, 8);
  bool found = false;
  for (size_t pos : extension_offsets(f)) {
    if (get_be(f, pos, 4) != 0x6803F857) continue;
    f[pos + 8] = 0;
    f[pos + 9] = 9;
    std::memset(&f[pos + 10], 0, 46);
    std::memcpy(&f[pos + 10], "frobnication", 12);
    found = true;
  }
  ASSERT_TRUE(found);
  expect_error(f, "unsupported incompatible feature bits 9 ('frobnication')");
}

TEST_F(Qcow2Header, DirtyAndCorruptImagesOpenReadOnlyOnly) {
  for (uint64_t bit : {1, 2}) {
    SCOPED_TRACE(bit);
    const Bytes f = with(72, bit, 8);
    expect_error(f, bit == 1 ? "marked dirty" : "marked corrupt", true);
    write_file(img_, f);
    Qcow2Image q2(img_, false);
    Bytes buf(4096, 1);
    ASSERT_TRUE(q2.read(0, buf.data(), buf.size()));
    EXPECT_EQ(buf, Bytes(4096, 0));
  }
}

TEST_F(Qcow2Header, BadTableEntriesFailTheAccessOnly) {
  // 512-byte clusters: each L1 entry covers 32 KiB. Entry 0 gets reserved bits set; an L2 entry
  // under entry 1 gets a misaligned offset. Only accesses through them fail.
  const std::string img = create_image(dir_, "bad.qcow2", "cluster_size=512", 1 << 20);
  ASSERT_EQ(sh(std::string(kQemuIo) + " -f qcow2 -c 'write -P 3 0 128k' " + q(img)).status, 0);
  Bytes f = read_file(img);
  const Header h = parse_header(f);
  set_be(f, h.l1_offset, get_be(f, h.l1_offset, 8) | 0x100, 8);
  const uint64_t l2 = get_be(f, h.l1_offset + 8, 8) & 0x00FFFFFFFFFFFE00ull;
  ASSERT_NE(l2, 0u);
  set_be(f, l2 + 8 * 5, get_be(f, l2 + 8 * 5, 8) + 8, 8);  // guest cluster 64+5: offset not aligned
  write_file(img, f);
  Qcow2Image q2(img, true);
  Bytes buf(512, 0);
  EXPECT_FALSE(q2.read(100, buf.data(), buf.size()));
  EXPECT_FALSE(q2.write(100, buf.data(), buf.size()));
  EXPECT_FALSE(q2.read((64 + 5) * 512 + 10, buf.data(), 100));
  EXPECT_FALSE(q2.write((64 + 5) * 512 + 10, buf.data(), 100));
  ASSERT_TRUE(q2.read((64 + 4) * 512, buf.data(), buf.size()));
  EXPECT_EQ(buf, Bytes(512, 3));
  ASSERT_TRUE(q2.write(100 << 10, buf.data(), buf.size()));
  ASSERT_TRUE(q2.read(64 << 10, buf.data(), buf.size()));
  EXPECT_EQ(buf, Bytes(512, 3));
}

// ------------------------------------------------------------------------------------------------

TEST(Qcow2Probe, OpenBlockImageAndDiskImageSnapshot) {
  REQUIRE_QEMU_IMG();
  TempDir dir;
  const Bytes content = make_content(1 << 20, 15);
  const std::string img = convert_image(dir, "p.qcow2", content, "cluster_size=4096", false);
  EXPECT_STREQ(open_block_image(img, ImageFormat::Probe, false)->format(), "qcow2");
  EXPECT_STREQ(open_block_image(img, ImageFormat::Qcow2, false)->format(), "qcow2");
  auto raw = open_block_image(img, ImageFormat::Raw, false);  // -drive format=raw: the file itself
  EXPECT_STREQ(raw->format(), "raw");
  EXPECT_EQ(raw->size(), std::filesystem::file_size(img));
  EXPECT_THROW(open_block_image(dir / "p.src.raw", ImageFormat::Qcow2, false), std::runtime_error);

  const Bytes file_before = read_file(img);
  {
    DiskImage d(img, DiskImage::Mode::Snapshot);
    EXPECT_STREQ(d.format(), "qcow2");
    EXPECT_EQ(d.size(), content.size());
    Bytes buf(1536, 0xEE);
    ASSERT_TRUE(d.write(4000, buf.data(), buf.size()));
    Bytes got(4096);
    ASSERT_TRUE(d.read(3000, got.data(), got.size()));
    Bytes want(content.begin() + 3000, content.begin() + 3000 + 4096);
    std::fill_n(&want[1000], 1536, 0xEE);
    EXPECT_EQ(got, want);
    EXPECT_TRUE(d.flush());
  }
  EXPECT_EQ(read_file(img), file_before);  // snapshot writes never reach the file
  {
    DiskImage d(img, DiskImage::Mode::ReadOnly);
    Bytes got(content.size());
    ASSERT_TRUE(d.read(0, got.data(), got.size()));
    EXPECT_EQ(got, content);
    EXPECT_FALSE(d.write(0, got.data(), 512));
  }
  {
    DiskImage d(img, DiskImage::Mode::ReadWrite);
    Bytes buf(512, 0x42);
    ASSERT_TRUE(d.write(512 * 7, buf.data(), buf.size()));
    EXPECT_TRUE(d.flush());
  }
  Bytes model = content;
  std::fill_n(&model[512 * 7], 512, 0x42);
  expect_qemu_agrees(dir, img, model);
}

}  // namespace
}  // namespace vx86
