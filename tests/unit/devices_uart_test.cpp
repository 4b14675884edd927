// 16550A UART: driven the way Linux's 8250 driver probes and uses it.
#include <gtest/gtest.h>

#include <string>

#include "devices/port_bus.h"
#include "devices/snapshot.h"
#include "devices/uart16550.h"

using namespace vx86;

namespace {

constexpr uint16_t COM1 = 0x3F8;
enum { RBR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

struct UartBoard {
  uint64_t icount = 0;
  Clock clock{Clock::Mode::Deterministic, &icount};
  PortBus bus;
  BufferCharBackend host;
  Uart16550 uart{clock, COM1, &host};
  bool irq = false;
  UartBoard() {
    uart.attach(bus);
    uart.irq = [this](bool l) { irq = l; };
  }
  void out(int reg, uint8_t v) { bus.write(static_cast<uint16_t>(COM1 + reg), v, 1); }
  uint8_t in(int reg) { return static_cast<uint8_t>(bus.read(static_cast<uint16_t>(COM1 + reg), 1)); }
  void run_ns(uint64_t ns) {
    const uint64_t end = icount + ns;
    while (icount < end) {
      icount += std::min<uint64_t>(clock.insns_until_next_event(end - icount), end - icount);
      clock.run_due();
    }
  }
  // 115200 8N1 with FIFOs, as Linux sets up its console.
  void setup(uint8_t fcr = 0xC7) {
    out(LCR, 0x80);
    out(0, 0x01);
    out(1, 0x00);
    out(LCR, 0x03);
    out(FCR, fcr);
    out(MCR, 0x0B);  // DTR, RTS, OUT2 (the PC's IRQ enable)
  }
};

}  // namespace

TEST(Uart16550, ResetValuesAndScratch) {
  UartBoard b;
  EXPECT_EQ(b.in(IIR), 0x01);
  EXPECT_EQ(b.in(LSR), 0x60);
  EXPECT_EQ(b.in(MSR) & 0xF0, 0xB0);
  b.out(SCR, 0xA5);
  EXPECT_EQ(b.in(SCR), 0xA5);
  // Linux's IER probe: only the low nibble exists.
  b.out(IER, 0x00);
  EXPECT_EQ(b.in(IER), 0x00);
  b.out(IER, 0xFF);
  EXPECT_EQ(b.in(IER), 0x0F);
}

TEST(Uart16550, DivisorLatch) {
  UartBoard b;
  b.out(LCR, 0x83);
  b.out(0, 0x0C);
  b.out(1, 0x00);
  EXPECT_EQ(b.in(0), 0x0C);
  EXPECT_EQ(b.in(1), 0x00);
  b.out(LCR, 0x03);
  b.out(IER, 0x05);
  EXPECT_EQ(b.in(IER), 0x05);
  b.out(LCR, 0x83);
  EXPECT_EQ(b.in(1), 0x00);  // DLM, not IER
}

TEST(Uart16550, TransmitGoesToBackend) {
  UartBoard b;
  b.setup();
  for (char c : std::string("hello\n")) b.out(RBR, static_cast<uint8_t>(c));
  EXPECT_EQ(b.host.out, "hello\n");
  EXPECT_EQ(b.in(LSR) & 0x60, 0x60);  // THR and transmitter empty at once
}

TEST(Uart16550, ThreInterruptAndOut2Gate) {
  UartBoard b;
  b.setup();
  b.out(IER, 0x02);
  EXPECT_TRUE(b.irq);
  EXPECT_EQ(b.in(IIR), 0xC2);  // FIFOs on, THRE
  EXPECT_FALSE(b.irq);         // reading IIR cleared it
  EXPECT_EQ(b.in(IIR), 0xC1);
  b.out(RBR, 'x');
  EXPECT_TRUE(b.irq);  // empty again after the byte went out
  b.out(MCR, 0x03);    // OUT2 off: the interrupt is internal only
  EXPECT_FALSE(b.irq);
  EXPECT_EQ(b.in(IIR), 0xC2);
}

TEST(Uart16550, LinuxThreRetestSeesInterruptAgain) {
  UartBoard b;
  b.setup();
  b.out(IER, 0x02);
  uint8_t iir1 = b.in(IIR);
  b.out(IER, 0x00);
  b.out(IER, 0x02);
  uint8_t iir2 = b.in(IIR);
  b.out(IER, 0x00);
  EXPECT_EQ(iir1 & 0x01, 0);
  EXPECT_EQ(iir2 & 0x01, 0);  // otherwise Linux flags UART_BUG_THRE
}

TEST(Uart16550, FifoDetectionAndReceiveOrder) {
  UartBoard b;
  b.setup();
  EXPECT_EQ(b.in(IIR) & 0xC0, 0xC0);  // 16550A: FIFOs usable
  std::string msg = "0123456789abcdefghijXYZ";
  b.uart.receive(msg);
  EXPECT_EQ(b.uart.host_queue_size(), msg.size() - 16);
  std::string got;
  while (b.in(LSR) & 0x01) got += static_cast<char>(b.in(RBR));
  EXPECT_EQ(got, msg);
  EXPECT_EQ(b.in(LSR) & 0x02, 0);  // no overrun: the host queue held the rest
}

TEST(Uart16550, ReceiveTriggerLevelAndTimeout) {
  UartBoard b;
  b.setup(0x87);  // FIFO, trigger at 8 bytes
  b.out(IER, 0x01);
  b.uart.receive(std::string("abc"));
  EXPECT_FALSE(b.irq);  // below the trigger level
  EXPECT_EQ(b.in(IIR), 0xC1);
  b.run_ns(400000);  // 4 character times at 115200 baud = ~347 us
  EXPECT_TRUE(b.irq);
  EXPECT_EQ(b.in(IIR), 0xCC);  // character timeout
  EXPECT_EQ(b.in(RBR), 'a');
  EXPECT_EQ(b.in(IIR), 0xC1);  // a read restarts the timer
  b.in(RBR);
  b.in(RBR);
  EXPECT_FALSE(b.irq);
  b.uart.receive(std::string("12345678"));
  EXPECT_TRUE(b.irq);
  EXPECT_EQ(b.in(IIR), 0xC4);  // trigger level reached
  for (int i = 0; i < 8; ++i) b.in(RBR);
  EXPECT_FALSE(b.irq);
}

TEST(Uart16550, NonFifoModeHoldsOneByte) {
  UartBoard b;
  b.setup(0x00);
  b.out(IER, 0x01);
  EXPECT_EQ(b.in(IIR), 0x01);
  b.uart.receive(std::string("xy"));
  EXPECT_TRUE(b.irq);
  EXPECT_EQ(b.in(IIR), 0x04);
  EXPECT_EQ(b.in(RBR), 'x');
  EXPECT_EQ(b.in(RBR), 'y');
  EXPECT_EQ(b.in(LSR) & 0x01, 0);
}

TEST(Uart16550, LoopbackAsLinuxProbesIt) {
  UartBoard b;
  b.setup();
  b.out(MCR, 0x1A);  // loop, RTS, OUT2
  EXPECT_EQ(b.in(MSR) & 0xF0, 0x90);
  b.out(MCR, 0x1F);
  EXPECT_EQ(b.in(MSR) & 0xF0, 0xF0);
  b.out(RBR, 0x5A);
  EXPECT_EQ(b.in(LSR) & 0x01, 0x01);
  EXPECT_EQ(b.in(RBR), 0x5A);
  EXPECT_EQ(b.host.out, "");  // nothing left the chip
  b.uart.receive(std::string("h"));
  EXPECT_EQ(b.in(LSR) & 0x01, 0);  // host input waits while in loopback
  b.out(MCR, 0x0B);
  EXPECT_EQ(b.in(MSR), 0xB4);  // back to the host's lines; RI fell (TERI)
  EXPECT_EQ(b.in(MSR), 0xB0);  // deltas clear on read
  EXPECT_EQ(b.in(RBR), 'h');
}

TEST(Uart16550, OverrunRaisesLineStatusInterrupt) {
  UartBoard b;
  b.setup(0x00);
  b.out(MCR, 0x18);  // loopback, OUT2
  b.out(IER, 0x05);
  b.out(RBR, 1);
  b.out(RBR, 2);  // overruns the one-byte buffer
  EXPECT_EQ(b.in(IIR), 0x06);
  EXPECT_EQ(b.in(LSR) & 0x03, 0x03);
  EXPECT_EQ(b.in(LSR) & 0x02, 0);  // cleared by the read
  EXPECT_EQ(b.in(IIR), 0x04);
  EXPECT_EQ(b.in(RBR), 1);
}

TEST(Uart16550, ModemStatusInterrupt) {
  UartBoard b;
  b.setup();
  b.in(MSR);
  b.out(IER, 0x08);
  b.out(MCR, 0x18);  // loopback with RTS/DTR off: CTS, DSR drop
  EXPECT_EQ(b.in(IIR), 0xC0);
  EXPECT_EQ(b.in(MSR) & 0x03, 0x03);
  EXPECT_EQ(b.in(IIR), 0xC1);
}

TEST(Uart16550, SnapshotRoundTrip) {
  UartBoard a;
  a.setup(0x47);
  a.out(IER, 0x03);
  a.out(SCR, 0x42);
  a.uart.receive(std::string("snapshot-data-longer-than-16"));
  std::vector<uint8_t> s1;
  SnapshotWriter w(s1);
  a.uart.save(w);

  UartBoard b;
  SnapshotReader r(s1);
  b.uart.load(r);
  std::vector<uint8_t> s2;
  SnapshotWriter w2(s2);
  b.uart.save(w2);
  EXPECT_EQ(s1, s2);
  EXPECT_EQ(b.in(SCR), 0x42);
  std::string got;
  while (b.in(LSR) & 0x01) got += static_cast<char>(b.in(RBR));
  EXPECT_EQ(got, "snapshot-data-longer-than-16");
}
