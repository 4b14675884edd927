// The control socket (-qmp unix:PATH,server[,wait=off|nowait]): a subset of QEMU's QMP, JSON
// objects over a Unix stream socket, one client at a time, served on a thread of its own.
//
// After the greeting the client must send qmp_capabilities; then: query-status, query-version,
// query-commands, stop, cont, system_reset, system_powerdown, savevm / loadvm (to and from a
// snapshot file: {"filename": F}), screendump, quit. Events: STOP, RESUME, RESET, SHUTDOWN.
// Replies carry the request's "id". A malformed request gets a QMP error object and the VM runs
// on; input is hostile: a request larger than kMaxRequest bytes is an error and the connection is
// closed.
#pragma once
#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

namespace vx86 {

class Session;

class QmpServer {
 public:
  static constexpr size_t kMaxRequest = 1 << 20;

  // `spec` as -qmp takes it: "unix:PATH,server,nowait" (QEMU's forms wait=off and nowait; without
  // them vx86, like QEMU, waits for the first client before the VM starts). Throws
  // std::runtime_error with a one-line message on a bad spec or a socket error.
  QmpServer(Session& session, const std::string& spec);
  ~QmpServer();  // closes the socket (and removes its file)
  QmpServer(const QmpServer&) = delete;
  QmpServer& operator=(const QmpServer&) = delete;

  // Blocks until a client has connected (the "wait" form), then serves on the thread.
  void start();
  // Events, from any thread (sent to the client if one is connected and past negotiation).
  void event(const std::string& name, const nlohmann::json& data = nlohmann::json::object());
  // The VM's run ended: SHUTDOWN (reason: "guest-shutdown", "host-qmp-quit", ...).
  void shutdown_event(bool guest, const std::string& reason);
  // Set by the quit command: the frontend exits with status 0.
  bool quit_requested() const { return quit_.load(); }

  // Parses and runs one request (exposed for the unit tests). Returns the reply, or nullopt for
  // none.
  std::optional<nlohmann::json> handle(const std::string& text);

 private:
  void serve();
  bool serve_client(int fd);
  void send(int fd, const nlohmann::json& j);
  nlohmann::json run(const std::string& cmd, const nlohmann::json& args);

  Session& session_;
  std::string path_;
  bool wait_ = true;
  int listen_fd_ = -1;
  int stop_fd_ = -1;  // eventfd: the destructor ends the thread
  std::thread thread_;
  std::mutex send_mu_;
  int client_fd_ = -1;       // under send_mu_
  bool negotiated_ = false;  // under send_mu_ (qmp_capabilities was sent)
  int pending_client_ = -1;  // accepted by start() before the thread runs
  std::atomic<bool> quit_{false};
};

}  // namespace vx86
