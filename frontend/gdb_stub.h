// GdbStub: the GDB remote serial protocol, so Debian's gdb can debug the guest (`target remote`):
// `-s` / `-gdb tcp:HOST:PORT` (127.0.0.1 unless HOST is given) or `-gdb unix:PATH`, `-S` to start
// paused.
//
// What it serves (docs/debugging.md): the i386 registers with a target description (general,
// segment and x87 registers), memory at linear addresses (the guest's page tables read without
// side effects), software and hardware breakpoints that do not change guest memory (Z0/Z1), continue,
// single-step, Ctrl-C, detach and kill. Several CPUs (-smp N) are gdb's threads 1..N, as in
// QEMU: the stop reply names the CPU that stopped, `info threads` lists them (qThreadExtraInfo:
// BSP/AP, halted, waiting for a STARTUP IPI), `thread N` (Hg) picks the CPU whose registers and
// address space gdb reads, and breakpoints and watchpoints are set in every CPU. Packets come from
// the network: every length, hex digit
// and checksum is checked; a malformed packet gets an error reply or a NAK, never a crash.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace vx86 {

class Machine;
class Cpu;

class GdbStub {
 public:
  // Listens on host:port; throws std::runtime_error naming the problem.
  GdbStub(Machine& m, const std::string& host, uint16_t port);
  // Listens on a Unix socket at `path` (replacing a stale socket there, removed again at exit).
  GdbStub(Machine& m, const std::string& path);
  ~GdbStub();
  GdbStub(const GdbStub&) = delete;
  GdbStub& operator=(const GdbStub&) = delete;

  // Waits for gdb to connect.
  void accept_client();
  bool connected() const { return client_ >= 0; }

  enum class Resume { Continue, Step, Detach, Kill };
  // The guest is stopped (a breakpoint, a step, -S, Ctrl-C, a new connection): reports the stop
  // with `signal` (5 = SIGTRAP, 2 = SIGINT) unless `report` is false or gdb just connected (it
  // asks with '?'), then
  // serves gdb's requests until it resumes, detaches or kills. A vanished client counts as detach.
  Resume stopped(int signal, bool report = true);
  // While the guest runs: true if gdb sent Ctrl-C, or connected (never blocks).
  bool interrupt_requested();
  // The guest exited with `status`: tells gdb (W packet) and closes the connection.
  void guest_exited(int status);

  // One packet's payload in, the reply payload out (for the packet layer and the tests);
  // `resume` is set when the packet resumes the guest (or detaches, or kills).
  std::string handle(const std::string& payload, std::optional<Resume>& resume);

 private:
  bool read_packet(std::string& payload);  // false: the client is gone
  void send_packet(const std::string& payload);
  void close_client();
  bool read_memory(uint32_t lin, uint32_t len, std::string& hex);
  bool write_memory(uint32_t lin, const std::string& bytes);
  std::string read_registers();
  std::string read_register(unsigned n);
  bool write_register(unsigned n, const std::string& bytes);
  std::string stop_reply(int signal) const;  // S or T packet for the CPU that stopped
  Cpu& sel();                                // the CPU gdb's register and memory packets address (Hg)

  Machine& m_;
  size_t sel_ = 0;  // that CPU's index (thread sel_ + 1)
  int listen_ = -1, client_ = -1;
  std::string unix_path_;  // the Unix socket to remove at exit
  bool fresh_ = false;  // connected, no stop reported yet
  std::string in_;      // bytes received and not yet parsed
};

}  // namespace vx86
