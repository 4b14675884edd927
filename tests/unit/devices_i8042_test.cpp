// i8042 keyboard controller with a PS/2 keyboard and mouse, driven as SeaBIOS and Linux do.
#include <gtest/gtest.h>

#include <vector>

#include "devices/i8042.h"
#include "devices/port_bus.h"
#include "devices/snapshot.h"

using namespace vx86;

namespace {

struct KbcBoard {
  PortBus bus;
  I8042 kbc;
  bool irq1 = false, irq12 = false;
  int irq1_rises = 0;
  int resets = 0;
  std::vector<bool> a20;
  KbcBoard() {
    kbc.attach(bus);
    kbc.irq1 = [this](bool l) {
      if (l && !irq1) ++irq1_rises;
      irq1 = l;
    };
    kbc.irq12 = [this](bool l) { irq12 = l; };
    kbc.on_reset = [this] { ++resets; };
    kbc.on_a20 = [this](bool on) { a20.push_back(on); };
  }
  uint8_t status() { return static_cast<uint8_t>(bus.read(0x64, 1)); }
  void cmd(uint8_t c) { bus.write(0x64, c, 1); }
  void data(uint8_t v) { bus.write(0x60, v, 1); }
  // Reads everything in the output buffer, as a polling driver does.
  std::vector<uint8_t> drain() {
    std::vector<uint8_t> v;
    while (status() & 0x01) v.push_back(static_cast<uint8_t>(bus.read(0x60, 1)));
    return v;
  }
  using Bytes = std::vector<uint8_t>;
};

}  // namespace

TEST(I8042, SelfTestAndInterfaceTest) {
  KbcBoard b;
  EXPECT_EQ(b.status() & 0x01, 0);
  b.cmd(0xAA);
  EXPECT_EQ(b.status() & 0x0D, 0x0D);  // output full, SYS, last write was a command
  EXPECT_EQ(b.drain(), KbcBoard::Bytes{0x55});
  b.cmd(0xAB);
  EXPECT_EQ(b.drain(), KbcBoard::Bytes{0x00});
  b.cmd(0xA9);
  EXPECT_EQ(b.drain(), KbcBoard::Bytes{0x00});
}

TEST(I8042, CommandByte) {
  KbcBoard b;
  b.cmd(0x20);
  EXPECT_EQ(b.drain(), KbcBoard::Bytes{0x41});
  b.cmd(0x60);
  b.data(0x45);
  EXPECT_EQ(b.kbc.command_byte(), 0x45);
  EXPECT_EQ(b.status() & 0x0C, 0x04);  // SYS from bit 2, last write was data
  b.cmd(0xAD);
  b.cmd(0x20);
  EXPECT_EQ(b.drain(), KbcBoard::Bytes{0x55});
  b.cmd(0xAE);
  b.cmd(0xA7);
  b.cmd(0x20);
  EXPECT_EQ(b.drain(), KbcBoard::Bytes{0x65});
}

TEST(I8042, KeyboardResetIdentifyAndLeds) {
  KbcBoard b;
  b.data(0xFF);
  EXPECT_TRUE(b.irq1);
  EXPECT_EQ(b.drain(), (KbcBoard::Bytes{0xFA, 0xAA}));
  EXPECT_EQ(b.irq1_rises, 2);  // one interrupt per byte
  EXPECT_FALSE(b.irq1);
  b.data(0xF2);
  EXPECT_EQ(b.drain(), (KbcBoard::Bytes{0xFA, 0xAB, 0x41}));  // 0x83 translated, as on real PCs
  b.cmd(0x60);
  b.data(0x01);  // translation off
  b.data(0xF2);
  EXPECT_EQ(b.drain(), (KbcBoard::Bytes{0xFA, 0xAB, 0x83}));
  b.data(0xED);
  b.data(0x05);
  EXPECT_EQ(b.drain(), (KbcBoard::Bytes{0xFA, 0xFA}));
  EXPECT_EQ(b.kbc.leds(), 5);
  b.data(0xEE);
  EXPECT_EQ(b.drain(), KbcBoard::Bytes{0xEE});
  b.data(0xF3);
  b.data(0x20);
  EXPECT_EQ(b.drain(), (KbcBoard::Bytes{0xFA, 0xFA}));
  b.data(0xF0);
  b.data(0x00);
  EXPECT_EQ(b.drain(), (KbcBoard::Bytes{0xFA, 0xFA, 0x02}));  // ACK, ACK for the parameter, set
  b.data(0x12);  // not a command
  EXPECT_EQ(b.drain(), KbcBoard::Bytes{0xFE});
}

TEST(I8042, ScanCodesWithAndWithoutTranslation) {
  KbcBoard b;
  b.kbc.key(0x1E, true);  // A
  b.kbc.key(0x1E, false);
  b.kbc.key(0xE048, true);  // Up
  b.kbc.key(0xE048, false);
  b.kbc.key(0x41, false);  // F7 break: set 2 0x83 -> set 1 0xC1
  EXPECT_EQ(b.drain(), (KbcBoard::Bytes{0x1E, 0x9E, 0xE0, 0x48, 0xE0, 0xC8, 0xC1}));
  b.cmd(0x60);
  b.data(0x01);
  b.kbc.key(0x1E, true);
  b.kbc.key(0x1E, false);
  b.kbc.key(0xE01D, false);  // right Ctrl
  EXPECT_EQ(b.drain(), (KbcBoard::Bytes{0x1C, 0xF0, 0x1C, 0xE0, 0xF0, 0x14}));
  // Scan code set 1 selected on the keyboard.
  b.data(0xF0);
  b.data(0x01);
  b.drain();
  b.kbc.key(0x1E, false);
  EXPECT_EQ(b.drain(), KbcBoard::Bytes{0x9E});
}

TEST(I8042, DisabledKeyboardHoldsKeys) {
  KbcBoard b;
  b.cmd(0xAD);
  b.kbc.key(0x10, true);
  EXPECT_EQ(b.status() & 0x01, 0);
  b.cmd(0xAE);
  EXPECT_EQ(b.drain(), KbcBoard::Bytes{0x10});
  b.data(0xF5);  // scanning off
  b.drain();
  b.kbc.key(0x10, true);
  EXPECT_EQ(b.status() & 0x01, 0);
  b.data(0xF4);
  EXPECT_EQ(b.drain(), KbcBoard::Bytes{0xFA});
}

TEST(I8042, InterruptEnableBit) {
  KbcBoard b;
  b.cmd(0x60);
  b.data(0x40);  // no keyboard interrupt
  b.kbc.key(0x1C, true);
  EXPECT_FALSE(b.irq1);
  EXPECT_EQ(b.status() & 0x01, 0x01);
  b.cmd(0x60);
  b.data(0x41);
  EXPECT_TRUE(b.irq1);
}

TEST(I8042, A20AndResetThroughOutputPort) {
  KbcBoard b;
  EXPECT_TRUE(b.kbc.a20());
  b.cmd(0xD0);
  EXPECT_EQ(b.drain().at(0) & 0x03, 0x03);
  b.cmd(0xD1);
  b.data(0xDD);  // A20 off
  EXPECT_FALSE(b.kbc.a20());
  b.cmd(0xD1);
  b.data(0xDF);  // A20 on
  EXPECT_TRUE(b.kbc.a20());
  EXPECT_EQ(b.a20, (std::vector<bool>{false, true}));
  b.cmd(0xDD);
  b.cmd(0xDF);
  EXPECT_EQ(b.a20.size(), 4u);
  EXPECT_EQ(b.resets, 0);
  b.cmd(0xFE);  // pulse the reset line
  EXPECT_EQ(b.resets, 1);
  b.cmd(0xFF);  // pulses nothing
  EXPECT_EQ(b.resets, 1);
  b.cmd(0xD1);
  b.data(0x02);  // reset line low
  EXPECT_EQ(b.resets, 2);
}

TEST(I8042, MouseDetectionAndPackets) {
  KbcBoard b;
  b.cmd(0x60);
  b.data(0x43);  // both interrupts, translation
  b.cmd(0xA8);
  b.cmd(0xD4);
  b.data(0xFF);
  EXPECT_TRUE(b.irq12);
  EXPECT_FALSE(b.irq1);
  EXPECT_EQ(b.status() & 0x21, 0x21);  // aux data in the output buffer
  EXPECT_EQ(b.drain(), (KbcBoard::Bytes{0xFA, 0xAA, 0x00}));
  b.cmd(0xD4);
  b.data(0xF2);
  EXPECT_EQ(b.drain(), (KbcBoard::Bytes{0xFA, 0x00}));
  b.cmd(0xD4);
  b.data(0xF3);
  b.cmd(0xD4);
  b.data(200);
  EXPECT_EQ(b.drain(), (KbcBoard::Bytes{0xFA, 0xFA}));
  b.cmd(0xD4);
  b.data(0xE9);
  EXPECT_EQ(b.drain(), (KbcBoard::Bytes{0xFA, 0x00, 0x02, 200}));
  b.kbc.mouse_event(5, -3, 1);  // not streaming yet: nothing
  EXPECT_EQ(b.status() & 0x01, 0);
  b.cmd(0xD4);
  b.data(0xF4);
  EXPECT_EQ(b.drain(), KbcBoard::Bytes{0xFA});
  b.kbc.mouse_event(5, -3, 1);
  EXPECT_EQ(b.drain(), (KbcBoard::Bytes{0x29, 0x05, 0xFD}));
  // Aux port disabled: data waits.
  b.cmd(0xA7);
  b.kbc.mouse_event(1, 1, 0);
  EXPECT_EQ(b.status() & 0x01, 0);
  b.cmd(0xA8);
  EXPECT_EQ(b.drain().size(), 3u);
  // Controller loopback to the aux buffer (Linux's AUX port probe), with IRQ 12...
  b.cmd(0xD3);
  b.data(0x5A);
  EXPECT_EQ(b.status() & 0x20, 0x20);
  EXPECT_TRUE(b.irq12);
  EXPECT_EQ(b.drain(), KbcBoard::Bytes{0x5A});
  // ...also while the aux port is disabled, as after SeaBIOS: the byte does not wait for it.
  b.cmd(0xA7);
  b.cmd(0xD3);
  b.data(0xA5);
  EXPECT_EQ(b.status() & 0x21, 0x21);
  EXPECT_TRUE(b.irq12);
  EXPECT_EQ(b.drain(), KbcBoard::Bytes{0xA5});
  b.cmd(0xA8);
  EXPECT_EQ(b.status() & 0x01, 0);
}

// Microsoft's IntelliMouse: sample rates 200, 100, 80 in a row turn on the wheel (ID 3, a fourth
// packet byte holding the wheel's 4-bit signed count); any other sequence keeps ID 0, and a reset
// turns the wheel off again.
TEST(I8042, IntelliMouseWheel) {
  KbcBoard b;
  b.cmd(0x60);
  b.data(0x43);
  b.cmd(0xA8);
  auto aux = [&b](std::initializer_list<uint8_t> bytes) {
    for (uint8_t x : bytes) {
      b.cmd(0xD4);
      b.data(x);
    }
    return b.drain();
  };
  auto set_rates = [&](std::initializer_list<uint8_t> rates) {
    for (uint8_t r : rates) aux({0xF3, r});
  };
  set_rates({200, 100, 60});
  EXPECT_EQ(aux({0xF2}), (KbcBoard::Bytes{0xFA, 0x00}));
  set_rates({200, 100, 80});
  EXPECT_EQ(aux({0xF2}), (KbcBoard::Bytes{0xFA, 0x03}));
  EXPECT_EQ(b.kbc.mouse_id(), 3);
  aux({0xF4});
  b.kbc.mouse_event(-2, 4, 2, 1);
  b.kbc.mouse_event(0, 0, 0, -3);
  b.kbc.mouse_event(0, 0, 0, 40);  // clamped to the 4-bit range
  EXPECT_EQ(b.drain(),
            (KbcBoard::Bytes{0x1A, 0xFE, 0x04, 0x01, 0x08, 0x00, 0x00, 0xFD, 0x08, 0x00, 0x00, 0x07}));
  EXPECT_EQ(aux({0xFF}), (KbcBoard::Bytes{0xFA, 0xAA, 0x00}));
  EXPECT_EQ(aux({0xF2}), (KbcBoard::Bytes{0xFA, 0x00}));
  aux({0xF4});
  b.kbc.mouse_event(1, 1, 0, 1);
  EXPECT_EQ(b.drain(), (KbcBoard::Bytes{0x08, 0x01, 0x01}));
}

// Print Screen and Pause: their multi-byte sequences in set 2 (what the keyboard sends), in set 1
// through the controller's translation, and in set 1 from the keyboard itself.
TEST(I8042, PrintScreenAndPause) {
  KbcBoard b;
  b.kbc.key(I8042::kPrintScreen, true);
  b.kbc.key(I8042::kPrintScreen, false);
  b.kbc.key(I8042::kPause, true);
  b.kbc.key(I8042::kPause, false);  // no break code
  const KbcBoard::Bytes set1{0xE0, 0x2A, 0xE0, 0x37, 0xE0, 0xB7, 0xE0,
                             0xAA, 0xE1, 0x1D, 0x45, 0xE1, 0x9D, 0xC5};
  EXPECT_EQ(b.drain(), set1);
  b.cmd(0x60);
  b.data(0x01);  // translation off: raw set 2
  b.kbc.key(I8042::kPrintScreen, true);
  b.kbc.key(I8042::kPrintScreen, false);
  b.kbc.key(I8042::kPause, true);
  EXPECT_EQ(b.drain(), (KbcBoard::Bytes{0xE0, 0x12, 0xE0, 0x7C, 0xE0, 0xF0, 0x7C, 0xE0, 0xF0, 0x12, 0xE1,
                                        0x14, 0x77, 0xE1, 0xF0, 0x14, 0xF0, 0x77}));
  b.data(0xF0);
  b.data(0x01);
  b.drain();
  b.kbc.key(I8042::kPrintScreen, true);
  b.kbc.key(I8042::kPrintScreen, false);
  b.kbc.key(I8042::kPause, true);
  EXPECT_EQ(b.drain(), set1);
}

TEST(I8042, SnapshotRoundTrip) {
  KbcBoard a;
  a.data(0xED);  // mid-command
  a.kbc.key(0x1E, true);
  a.kbc.key(0x1F, true);
  a.cmd(0xD1);
  std::vector<uint8_t> s1;
  SnapshotWriter w(s1);
  a.kbc.save(w);

  KbcBoard b;
  SnapshotReader r(s1);
  b.kbc.load(r);
  std::vector<uint8_t> s2;
  SnapshotWriter w2(s2);
  b.kbc.save(w2);
  EXPECT_EQ(s1, s2);
  EXPECT_TRUE(b.irq1);
  b.data(0xDF);  // completes the 0xD1
  EXPECT_TRUE(b.kbc.a20());
}
