#include "devices/uart16550.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>

#include "devices/snapshot.h"

namespace vx86 {

namespace {
enum : uint8_t { LSR_DR = 0x01, LSR_OE = 0x02, LSR_ERRORS = 0x1E, LSR_THRE = 0x20, LSR_TEMT = 0x40 };
enum : uint8_t { IER_RDI = 0x01, IER_THRI = 0x02, IER_RLSI = 0x04, IER_MSI = 0x08 };
enum : uint8_t { MCR_DTR = 0x01, MCR_RTS = 0x02, MCR_OUT1 = 0x04, MCR_OUT2 = 0x08, MCR_LOOP = 0x10 };
constexpr uint8_t kHostModemInputs = 0xB0;  // DCD, DSR, CTS asserted: a host is connected
constexpr size_t kMaxHostQueue = 16 * 1024 * 1024;
}  // namespace

void FileCharBackend::write(const uint8_t* data, size_t n) {
  if (!out_) return;
  std::fwrite(data, 1, n, out_);
  std::fflush(out_);
}

size_t StdioCharBackend::poll_input(uint8_t* buf, size_t max) {
  if (eof_ || max == 0) return 0;
  pollfd p{in_fd_, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return 0;
  if (p.revents & (POLLIN | POLLHUP)) {
    ssize_t n = ::read(in_fd_, buf, max);
    if (n > 0) return static_cast<size_t>(n);
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) eof_ = true;
  } else if (p.revents & (POLLERR | POLLNVAL)) {
    eof_ = true;
  }
  return 0;
}

Uart16550::~Uart16550() { clock_.cancel(timeout_event_); }

void Uart16550::reset() {
  ier_ = lcr_ = mcr_ = fcr_ = 0;
  lsr_ = LSR_THRE | LSR_TEMT;
  msr_ = kHostModemInputs;
  rx_fifo_.clear();
  thre_pending_ = false;
  timeout_pending_ = false;
  clock_.cancel(timeout_event_);
  timeout_event_ = 0;
  timeout_deadline_ = 0;
  refill_rx();
  update_irq();
}

unsigned Uart16550::rx_trigger() const {
  static constexpr unsigned levels[4] = {1, 4, 8, 14};
  return (fcr_ & 1) ? levels[fcr_ >> 6] : 1;
}

uint64_t Uart16550::char_time_ns() const {
  const uint64_t div = divisor_ ? divisor_ : 0x10000;
  const uint64_t bits = 1 + 5 + (lcr_ & 3) + ((lcr_ & 0x08) ? 1 : 0) + ((lcr_ & 0x04) ? 2 : 1);
  return bits * div * 16 * 1000000000ull / kInputClockHz;
}

uint8_t Uart16550::iir() const {
  uint8_t id = 0x01;
  const bool data_ready = !rx_fifo_.empty();
  const bool over_trigger = rx_fifo_.size() >= rx_trigger();
  if ((ier_ & IER_RLSI) && (lsr_ & LSR_ERRORS))
    id = 0x06;
  else if ((ier_ & IER_RDI) && data_ready && (over_trigger || !(fcr_ & 1)))
    id = 0x04;
  else if ((ier_ & IER_RDI) && data_ready && timeout_pending_)
    id = 0x0C;
  else if ((ier_ & IER_THRI) && thre_pending_)
    id = 0x02;
  else if ((ier_ & IER_MSI) && (msr_ & 0x0F))
    id = 0x00;
  return static_cast<uint8_t>(id | ((fcr_ & 1) ? 0xC0 : 0));
}

void Uart16550::update_irq() {
  const bool level = !(iir() & 1) && (mcr_ & MCR_OUT2);
  if (level != irq_level_) {
    irq_level_ = level;
    if (irq) irq(level);
  }
}

void Uart16550::rx_activity() {
  clock_.cancel(timeout_event_);
  timeout_event_ = 0;
  timeout_deadline_ = 0;
  timeout_pending_ = false;
  if (!(fcr_ & 1) || rx_fifo_.empty()) return;
  timeout_deadline_ = clock_.now() + 4 * char_time_ns();
  timeout_event_ = clock_.schedule(timeout_deadline_, [this] { timeout_fire(); });
}

void Uart16550::timeout_fire() {
  timeout_event_ = 0;
  timeout_deadline_ = 0;
  timeout_pending_ = !rx_fifo_.empty();
  update_irq();
}

void Uart16550::push_rx(uint8_t b) {
  const size_t cap = (fcr_ & 1) ? kFifoSize : 1;
  if (rx_fifo_.size() >= cap) {
    lsr_ |= LSR_OE;  // overrun: the new character is lost
    return;
  }
  rx_fifo_.push_back(b);
  lsr_ |= LSR_DR;
}

void Uart16550::refill_rx() {
  if (mcr_ & MCR_LOOP) return;  // in loopback the serial input is disconnected
  const size_t cap = (fcr_ & 1) ? kFifoSize : 1;
  bool moved = false;
  while (!host_queue_.empty() && rx_fifo_.size() < cap) {
    push_rx(host_queue_.front());
    host_queue_.pop_front();
    moved = true;
  }
  if (moved) rx_activity();
}

void Uart16550::receive(const uint8_t* data, size_t n) {
  if (host_queue_.size() + n > kMaxHostQueue) n = kMaxHostQueue - host_queue_.size();
  host_queue_.insert(host_queue_.end(), data, data + n);
  refill_rx();
  update_irq();
}

void Uart16550::poll_backend() {
  if (!backend_) return;
  uint8_t buf[256];
  size_t n;
  while ((n = backend_->poll_input(buf, sizeof buf)) > 0) receive(buf, n);
}

void Uart16550::transmit(uint8_t b) {
  if (mcr_ & MCR_LOOP) {
    push_rx(b);
    rx_activity();
  } else if (backend_) {
    backend_->write(&b, 1);
  }
}

void Uart16550::msr_from_inputs(uint8_t inputs) {
  const uint8_t old = msr_ & 0xF0;
  const uint8_t changed = old ^ inputs;
  uint8_t delta = msr_ & 0x0F;
  if (changed & 0x10) delta |= 0x01;                          // DCTS
  if (changed & 0x20) delta |= 0x02;                          // DDSR
  if ((old & 0x40) && !(inputs & 0x40)) delta |= 0x04;        // TERI: RI trailing edge
  if (changed & 0x80) delta |= 0x08;                          // DDCD
  msr_ = static_cast<uint8_t>(inputs | delta);
}

uint8_t Uart16550::read_reg(unsigned reg) {
  const bool dlab = lcr_ & 0x80;
  switch (reg) {
    case 0: {
      if (dlab) return static_cast<uint8_t>(divisor_);
      uint8_t b = 0;
      if (!rx_fifo_.empty()) {
        b = rx_fifo_.front();
        rx_fifo_.pop_front();
      }
      if (rx_fifo_.empty()) lsr_ &= static_cast<uint8_t>(~LSR_DR);
      refill_rx();
      rx_activity();
      update_irq();
      return b;
    }
    case 1:
      return dlab ? static_cast<uint8_t>(divisor_ >> 8) : ier_;
    case 2: {
      const uint8_t v = iir();
      if ((v & 0x0F) == 0x02) {
        thre_pending_ = false;  // reading IIR with THRE as the source clears it
        update_irq();
      }
      return v;
    }
    case 3:
      return lcr_;
    case 4:
      return mcr_;
    case 5: {
      uint8_t v = lsr_ | LSR_THRE | LSR_TEMT;
      lsr_ &= static_cast<uint8_t>(~LSR_ERRORS);
      update_irq();
      return v;
    }
    case 6: {
      const uint8_t v = msr_;
      msr_ &= 0xF0;
      update_irq();
      return v;
    }
    default:
      return scr_;
  }
}

void Uart16550::write_reg(unsigned reg, uint8_t v) {
  const bool dlab = lcr_ & 0x80;
  switch (reg) {
    case 0:
      if (dlab) {
        divisor_ = static_cast<uint16_t>((divisor_ & 0xFF00) | v);
        return;
      }
      thre_pending_ = false;
      update_irq();  // the THRE interrupt drops on the write...
      transmit(v);
      thre_pending_ = true;  // ...and returns when the byte has gone (at once here)
      break;
    case 1:
      if (dlab) {
        divisor_ = static_cast<uint16_t>((divisor_ & 0x00FF) | (v << 8));
        return;
      }
      // Enabling the THRE interrupt while THR is empty raises it at once (the Linux driver's
      // UART_BUG_THRE probe depends on this).
      if ((v & IER_THRI) && !(ier_ & IER_THRI)) thre_pending_ = true;
      ier_ = v & 0x0F;
      break;
    case 2: {
      const bool enable = v & 1;
      if (enable != bool(fcr_ & 1)) rx_fifo_.clear();
      if (v & 0x02) rx_fifo_.clear();
      fcr_ = enable ? static_cast<uint8_t>(v & 0xC9) : 0;  // bits 1 and 2 self-clear
      if (rx_fifo_.empty()) lsr_ &= static_cast<uint8_t>(~LSR_DR);
      refill_rx();
      rx_activity();
      break;
    }
    case 3:
      lcr_ = v;
      return;
    case 4: {
      mcr_ = v & 0x1F;
      uint8_t inputs = kHostModemInputs;
      if (mcr_ & MCR_LOOP) {
        inputs = static_cast<uint8_t>(((mcr_ & MCR_RTS) ? 0x10 : 0) | ((mcr_ & MCR_DTR) ? 0x20 : 0) |
                                      ((mcr_ & MCR_OUT1) ? 0x40 : 0) | ((mcr_ & MCR_OUT2) ? 0x80 : 0));
      }
      msr_from_inputs(inputs);
      refill_rx();
      break;
    }
    case 5:
    case 6:
      return;  // LSR and MSR writes are factory-test only
    default:
      scr_ = v;
      return;
  }
  update_irq();
}

uint32_t Uart16550::io_read(uint16_t port, unsigned size) {
  return read_reg((port - base_) & 7u) | open_bus_upper(size);
}

void Uart16550::io_write(uint16_t port, uint32_t value, unsigned) {
  write_reg((port - base_) & 7u, static_cast<uint8_t>(value));
}

void Uart16550::save(SnapshotWriter& w) const {
  w.begin_section("UART", 1);
  w.u16(base_);
  w.u8(ier_);
  w.u8(lcr_);
  w.u8(mcr_);
  w.u8(lsr_);
  w.u8(msr_);
  w.u8(scr_);
  w.u8(fcr_);
  w.u16(divisor_);
  w.blob(std::vector<uint8_t>(rx_fifo_.begin(), rx_fifo_.end()));
  w.boolean(thre_pending_);
  w.boolean(timeout_pending_);
  w.boolean(irq_level_);
  w.u64(timeout_deadline_);
  w.blob(std::vector<uint8_t>(host_queue_.begin(), host_queue_.end()));
  w.end_section();
}

void Uart16550::load(SnapshotReader& r) {
  r.begin_section("UART", 1);
  const uint16_t base = r.u16();
  r.check(base == base_, "UART snapshot is for another port base");
  const uint8_t ier = r.u8_max(0x0F, "UART IER out of range");
  const uint8_t lcr = r.u8();
  const uint8_t mcr = r.u8_max(0x1F, "UART MCR out of range");
  const uint8_t lsr = r.u8();
  const uint8_t msr = r.u8();
  const uint8_t scr = r.u8();
  const uint8_t fcr = r.u8();
  r.check((fcr & ~0xC9) == 0 && (fcr == 0 || (fcr & 1)), "UART FCR malformed");
  const uint16_t divisor = r.u16();
  std::vector<uint8_t> fifo = r.blob(kFifoSize);
  r.check((fcr & 1) || fifo.size() <= 1, "UART receive buffer too full for non-FIFO mode");
  const bool thre = r.boolean(), timeout = r.boolean(), level = r.boolean();
  const uint64_t deadline = r.u64();
  std::vector<uint8_t> host = r.blob(kMaxHostQueue);
  r.end_section();

  ier_ = ier, lcr_ = lcr, mcr_ = mcr, lsr_ = lsr, msr_ = msr, scr_ = scr, fcr_ = fcr;
  divisor_ = divisor;
  rx_fifo_.assign(fifo.begin(), fifo.end());
  thre_pending_ = thre;
  timeout_pending_ = timeout;
  host_queue_.assign(host.begin(), host.end());
  clock_.cancel(timeout_event_);
  timeout_event_ = 0;
  timeout_deadline_ = deadline;
  if (deadline) {
    timeout_event_ = clock_.schedule(deadline, [this] { timeout_fire(); });
  }
  irq_level_ = level;
  if (irq) irq(level);
  update_irq();
}

}  // namespace vx86
