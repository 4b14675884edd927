// Snapshot format: primitives, sections, and every device's save -> load round trip; truncated or
// corrupted snapshots must fail with SnapshotError, never crash or half-load.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "devices/cmos_rtc.h"
#include "devices/i8042.h"
#include "devices/pic8259.h"
#include "devices/pit8254.h"
#include "devices/port_bus.h"
#include "devices/snapshot.h"
#include "devices/uart16550.h"
#include "emu/clock.h"

using namespace vx86;

TEST(Snapshot, PrimitivesRoundTrip) {
  std::vector<uint8_t> buf;
  SnapshotWriter w(buf);
  w.begin_section("TEST", 3);
  w.u8(0xAB);
  w.u16(0x1234);
  w.u32(0xDEADBEEF);
  w.u64(0x0123456789ABCDEFull);
  w.i64(-5);
  w.boolean(true);
  w.blob({1, 2, 3});
  w.begin_section("SUB ", 1);
  w.u8(7);
  w.end_section();
  w.end_section();
  EXPECT_EQ(buf[0], 'T');
  EXPECT_EQ(buf[8] | (buf[9] << 8), static_cast<int>(buf.size() - 12));  // payload length, little-endian

  SnapshotReader r(buf);
  EXPECT_EQ(r.begin_section("TEST", 5), 3u);
  EXPECT_EQ(r.u8(), 0xAB);
  EXPECT_EQ(r.u16(), 0x1234);
  EXPECT_EQ(r.u32(), 0xDEADBEEFu);
  EXPECT_EQ(r.u64(), 0x0123456789ABCDEFull);
  EXPECT_EQ(r.i64(), -5);
  EXPECT_TRUE(r.boolean());
  EXPECT_EQ(r.blob(16), (std::vector<uint8_t>{1, 2, 3}));
  r.begin_section("SUB ", 1);
  EXPECT_EQ(r.u8(), 7);
  r.end_section();
  r.end_section();
  EXPECT_TRUE(r.at_end());
}

TEST(Snapshot, ReaderRejectsMalformedInput) {
  std::vector<uint8_t> buf;
  SnapshotWriter w(buf);
  w.begin_section("ABCD", 2);
  w.u32(5);
  w.u8(2);
  w.end_section();

  {  // wrong tag
    SnapshotReader r(buf);
    EXPECT_THROW(r.begin_section("WXYZ", 2), SnapshotError);
  }
  {  // version from the future
    SnapshotReader r(buf);
    EXPECT_THROW(r.begin_section("ABCD", 1), SnapshotError);
  }
  {  // reading past the section end
    SnapshotReader r(buf);
    r.begin_section("ABCD", 2);
    r.u32();
    r.u8();
    EXPECT_THROW(r.u8(), SnapshotError);
  }
  {  // unread bytes in a section
    SnapshotReader r(buf);
    r.begin_section("ABCD", 2);
    r.u32();
    EXPECT_THROW(r.end_section(), SnapshotError);
  }
  {  // booleans are 0 or 1; blobs are bounded
    SnapshotReader r(buf);
    r.begin_section("ABCD", 2);
    EXPECT_THROW(r.blob(4), SnapshotError);
  }
  {
    SnapshotReader r(buf);
    r.begin_section("ABCD", 2);
    r.u32();
    EXPECT_THROW(r.boolean(), SnapshotError);
  }
  {  // a section length beyond the data
    std::vector<uint8_t> bad = buf;
    bad[8] = 0xFF;
    SnapshotReader r(bad);
    EXPECT_THROW(r.begin_section("ABCD", 2), SnapshotError);
  }
  for (size_t n = 0; n < buf.size(); ++n) {  // every truncation
    SnapshotReader r(buf.data(), n);
    EXPECT_THROW(
        {
          r.begin_section("ABCD", 2);
          r.u32();
          r.u8();
          r.end_section();
        },
        SnapshotError)
        << n;
  }
}

namespace {

// All devices of this issue on one bus, with the IRQ lines wired to the PIC as the board will.
struct Devices {
  uint64_t icount = 0;
  Clock clock{Clock::Mode::Deterministic, &icount};
  PortBus bus;
  Pic8259 pic;
  Pit8254 pit{clock};
  CmosRtc rtc{clock, CmosRtc::kDefaultEpoch};
  BufferCharBackend host;
  Uart16550 uart{clock, 0x3F8, &host};
  I8042 kbc;
  Devices() {
    pic.attach(bus);
    pit.attach(bus);
    rtc.attach(bus);
    uart.attach(bus);
    kbc.attach(bus);
    pit.irq0 = [this](bool l) { pic.set_irq(0, l); };
    kbc.irq1 = [this](bool l) { pic.set_irq(1, l); };
    uart.irq = [this](bool l) { pic.set_irq(4, l); };
    rtc.irq = [this](bool l) { pic.set_irq(8, l); };
    kbc.irq12 = [this](bool l) { pic.set_irq(12, l); };
  }
  void out(uint16_t p, uint8_t v) { bus.write(p, v, 1); }
  uint8_t in(uint16_t p) { return static_cast<uint8_t>(bus.read(p, 1)); }
  void run_ns(uint64_t ns) {
    const uint64_t end = icount + ns;
    while (icount < end) {
      icount += std::min<uint64_t>(clock.insns_until_next_event(end - icount), end - icount);
      clock.run_due();
    }
  }
  void program() {
    for (auto [p, v] : std::initializer_list<std::pair<uint16_t, uint8_t>>{
             {0x20, 0x11}, {0x21, 0x08}, {0x21, 0x04}, {0x21, 0x01}, {0xA0, 0x11}, {0xA1, 0x70},
             {0xA1, 0x02}, {0xA1, 0x01}, {0x21, 0xA0}, {0xA1, 0x00}, {0x4D1, 0x0C},
             {0x43, 0x34}, {0x40, 0xA9}, {0x40, 0x04}, {0x61, 0x01}, {0x43, 0xB6}, {0x42, 0x33},
             {0x70, 0x0B}, {0x71, 0x42}, {0x70, 0x50}, {0x71, 0x99},
             {0x3FB, 0x83}, {0x3F8, 0x01}, {0x3FB, 0x03}, {0x3FA, 0xC7}, {0x3FC, 0x0B}, {0x3F9, 0x03},
             {0x64, 0x60}, {0x60, 0x47}, {0x60, 0xED}}) {
      out(p, v);
    }
    uart.receive(std::string("typed"));
    kbc.key(0x1E, true);
    run_ns(2500000);
    pic.acknowledge();
  }
  std::vector<uint8_t> save() const {
    std::vector<uint8_t> buf;
    SnapshotWriter w(buf);
    w.begin_section("VX86", 1);
    clock.save(w);
    pic.save(w);
    pit.save(w);
    rtc.save(w);
    uart.save(w);
    kbc.save(w);
    w.end_section();
    return buf;
  }
  void load(const std::vector<uint8_t>& buf) {
    SnapshotReader r(buf);
    r.begin_section("VX86", 1);
    clock.load(r);
    pic.load(r);
    pit.load(r);
    rtc.load(r);
    uart.load(r);
    kbc.load(r);
    r.end_section();
  }
};

}  // namespace

TEST(Snapshot, AllDevicesRoundTripAndContinueIdentically) {
  Devices a;
  a.program();
  const std::vector<uint8_t> snap = a.save();

  Devices b;
  b.load(snap);
  EXPECT_EQ(b.save(), snap);

  // Both machines continue the same way from the snapshot.
  a.run_ns(10000000);
  b.run_ns(10000000);
  EXPECT_EQ(a.save(), b.save());
  EXPECT_EQ(a.pic.pending(), b.pic.pending());
  EXPECT_EQ(a.pic.acknowledge(), b.pic.acknowledge());
}

TEST(Snapshot, TruncatedSnapshotIsAnErrorNotACrash) {
  Devices a;
  a.program();
  const std::vector<uint8_t> snap = a.save();
  for (size_t n = 0; n < snap.size(); ++n) {
    Devices b;
    std::vector<uint8_t> cut(snap.begin(), snap.begin() + static_cast<long>(n));
    EXPECT_THROW(b.load(cut), SnapshotError) << "length " << n;
  }
}

TEST(Snapshot, CorruptedSnapshotsFailCleanly) {
  Devices a;
  a.program();
  const std::vector<uint8_t> snap = a.save();
  std::mt19937 rng(1234);
  int rejected = 0;
  for (int i = 0; i < 3000; ++i) {
    std::vector<uint8_t> bad = snap;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) bad[rng() % bad.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    Devices b;
    try {
      b.load(bad);
      // Accepted: the devices must still work.
      b.run_ns(1000000);
      b.in(0x40);
      b.in(0x3F8);
      b.in(0x60);
      b.pic.acknowledge();
    } catch (const SnapshotError&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 0);
}
