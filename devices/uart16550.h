// National Semiconductor 16550A UART (COM1 = 0x3F8/IRQ4, COM2 = 0x2F8/IRQ3, ...).
//
// Transmission is instantaneous: a byte written to THR goes straight to the host backend and THR is
// empty again at once (no baud-rate pacing), which keeps serial output independent of timing.
// Received bytes come from the frontend through receive(); they wait in an unbounded host-side
// queue and enter the 16-byte receive FIFO as it has room, so pasting never overruns the guest.
// The receiver's character-timeout interrupt uses clock events (4 character times at the
// programmed baud rate).
#pragma once
#include <cstdint>
#include <cstdio>
#include <deque>
#include <string>

#include "devices/io_util.h"
#include "devices/port_bus.h"
#include "emu/clock.h"

namespace vx86 {

class SnapshotWriter;
class SnapshotReader;

// The host end of a serial line.
class CharBackend {
 public:
  virtual ~CharBackend() = default;
  // Bytes the guest transmitted.
  virtual void write(const uint8_t* data, size_t n) = 0;
  // Non-blocking: copies up to `max` bytes of pending host input into `buf`, returns the count.
  // The frontend calls it and feeds the bytes to Uart16550::receive(). Default: no input.
  virtual size_t poll_input(uint8_t* buf, size_t max) {
    (void)buf;
    (void)max;
    return 0;
  }
};

// Output to a FILE* (stdout, or a log file); no input. Flushes after every write so an interactive
// console and a crash both see everything.
class FileCharBackend : public CharBackend {
 public:
  explicit FileCharBackend(FILE* out) : out_(out) {}
  void write(const uint8_t* data, size_t n) override;

 private:
  FILE* out_;
};

// Output to a FILE*, input from a file descriptor (stdin) read without blocking (poll(2) before
// read(2); the descriptor's flags are left alone). Putting the terminal in raw mode is the
// frontend's job.
class StdioCharBackend : public FileCharBackend {
 public:
  explicit StdioCharBackend(FILE* out = stdout, int in_fd = 0) : FileCharBackend(out), in_fd_(in_fd) {}
  size_t poll_input(uint8_t* buf, size_t max) override;
  bool input_closed() const { return eof_; }

 private:
  int in_fd_;
  bool eof_ = false;
};

// Collects output in memory; for tests and for a board that inspects the console.
class BufferCharBackend : public CharBackend {
 public:
  void write(const uint8_t* data, size_t n) override { out.append(reinterpret_cast<const char*>(data), n); }
  std::string out;
};

class Uart16550 : public IoDevice {
 public:
  static constexpr size_t kFifoSize = 16;
  static constexpr uint32_t kInputClockHz = 1843200;

  Uart16550(Clock& clock, uint16_t base, CharBackend* backend)
      : clock_(clock), base_(base), backend_(backend) {
    reset();
  }
  ~Uart16550() override;
  void attach(PortBus& bus) { bus.attach(base_, 8, this); }
  void reset();  // registers to their reset values, FIFOs emptied (the host queue is kept)
  void set_backend(CharBackend* b) { backend_ = b; }

  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, uint32_t value, unsigned size) override;

  // Host -> guest bytes.
  void receive(const uint8_t* data, size_t n);
  void receive(const std::string& s) { receive(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }
  // Pulls whatever the backend has (CharBackend::poll_input) into the receiver.
  void poll_backend();
  size_t host_queue_size() const { return host_queue_.size(); }

  // The IRQ pin as the ISA bus sees it: on a PC the interrupt is gated by MCR OUT2.
  IrqOutput irq;

  void save(SnapshotWriter& w) const;
  void load(SnapshotReader& r);  // needs the clock already loaded

 private:
  uint8_t read_reg(unsigned reg);
  void write_reg(unsigned reg, uint8_t v);
  void push_rx(uint8_t b);    // into the receive FIFO (overrun if full)
  void refill_rx();           // host queue -> FIFO
  void transmit(uint8_t b);
  uint8_t iir() const;
  unsigned rx_trigger() const;
  uint64_t char_time_ns() const;
  void rx_activity();         // restart the character-timeout timer
  void timeout_fire();
  void update_irq();
  void msr_from_inputs(uint8_t inputs);  // sets MSR status bits 7:4 and the delta bits

  Clock& clock_;
  uint16_t base_;
  CharBackend* backend_;

  uint8_t ier_ = 0, lcr_ = 0, mcr_ = 0, lsr_ = 0, msr_ = 0, scr_ = 0, fcr_ = 0;
  uint16_t divisor_ = 12;  // 9600 baud
  std::deque<uint8_t> rx_fifo_;  // at most kFifoSize (1 with FIFOs off)
  bool thre_pending_ = false;    // THR-empty interrupt condition (cleared by reading IIR or writing THR)
  bool timeout_pending_ = false; // character timeout
  bool irq_level_ = false;
  Clock::EventId timeout_event_ = 0;
  uint64_t timeout_deadline_ = 0;  // 0 = not armed
  std::deque<uint8_t> host_queue_;
};

}  // namespace vx86
