#include "frontend/qmp_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "devices/snapshot.h"
#include "frontend/session.h"

namespace vx86 {

using nlohmann::json;

namespace {

json error(const std::string& cls, const std::string& desc) {
  return json{{"error", {{"class", cls}, {"desc", desc}}}};
}

const char* const kCommands[] = {
    "qmp_capabilities", "query-status",     "query-version", "query-commands", "stop",       "cont",
    "system_reset",     "system_powerdown", "savevm",        "loadvm",         "screendump", "quit"};

// The end of the first JSON object in `buf` (one past its closing brace), 0 if it is not complete
// yet, or npos if `buf` does not start with one (after whitespace).
size_t object_end(const std::string& buf, size_t& begin) {
  size_t i = 0;
  while (i < buf.size() && std::isspace(static_cast<unsigned char>(buf[i]))) ++i;
  begin = i;
  if (i == buf.size()) return 0;
  if (buf[i] != '{') return std::string::npos;
  int depth = 0;
  bool in_string = false, escape = false;
  for (; i < buf.size(); ++i) {
    const char c = buf[i];
    if (in_string) {
      if (escape)
        escape = false;
      else if (c == '\\')
        escape = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '{' || c == '[')
      ++depth;
    else if ((c == '}' || c == ']') && --depth == 0)
      return i + 1;
  }
  return 0;
}

}  // namespace

QmpServer::QmpServer(Session& session, const std::string& spec) : session_(session) {
  // unix:PATH,server[,nowait|,wait=on|off]
  if (spec.rfind("unix:", 0) != 0)
    throw std::runtime_error("-qmp: only unix:PATH,server[,nowait] is supported");
  std::string rest = spec.substr(5);
  const size_t comma = rest.find(',');
  path_ = rest.substr(0, comma);
  bool server = false;
  for (size_t at = comma; at != std::string::npos;) {
    const size_t next = rest.find(',', at + 1);
    const std::string opt =
        rest.substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1);
    if (opt == "server" || opt == "server=on")
      server = true;
    else if (opt == "nowait" || opt == "wait=off")
      wait_ = false;
    else if (opt == "wait" || opt == "wait=on")
      wait_ = true;
    else
      throw std::runtime_error("-qmp: unknown option '" + opt + "' (server, nowait, wait=on|off)");
    at = next;
  }
  if (!server) throw std::runtime_error("-qmp: vx86 listens only: add ',server' (unix:PATH,server,nowait)");
  sockaddr_un addr{};
  if (path_.empty() || path_.size() >= sizeof addr.sun_path)
    throw std::runtime_error("-qmp: socket path '" + path_ + "' is empty or too long");
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ::unlink(path_.c_str());  // (a stale socket file from an earlier run)
  if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listen_fd_, 4) != 0) {
    const int e = errno;
    if (listen_fd_ >= 0) close(listen_fd_);
    throw std::runtime_error("-qmp: cannot listen on '" + path_ + "': " + std::strerror(e));
  }
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

QmpServer::~QmpServer() {
  const uint64_t one = 1;
  if (stop_fd_ >= 0) [[maybe_unused]]
    ssize_t n = write(stop_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  if (pending_client_ >= 0) close(pending_client_);
  if (listen_fd_ >= 0) close(listen_fd_);
  if (stop_fd_ >= 0) close(stop_fd_);
  ::unlink(path_.c_str());
}

void QmpServer::start() {
  if (wait_) {
    pending_client_ = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  }
  thread_ = std::thread([this] { serve(); });
}

void QmpServer::send(int fd, const json& j) {
  const std::string s = j.dump() + "\r\n";
  size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // (the client went away: its reader sees it)
    off += static_cast<size_t>(n);
  }
}

void QmpServer::event(const std::string& name, const json& data) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
  json e{{"event", name}, {"timestamp", {{"seconds", us / 1000000}, {"microseconds", us % 1000000}}}};
  if (!data.empty()) e["data"] = data;
  std::lock_guard lk(send_mu_);
  if (client_fd_ >= 0 && negotiated_) send(client_fd_, e);
}

void QmpServer::shutdown_event(bool guest, const std::string& reason) {
  event("SHUTDOWN", {{"guest", guest}, {"reason", reason}});
}

void QmpServer::serve() {
  for (;;) {
    int fd = pending_client_;
    pending_client_ = -1;
    if (fd < 0) {
      pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
      if (poll(p, 2, -1) < 0 && errno != EINTR) return;
      if (p[1].revents) return;
      if (!(p[0].revents & POLLIN)) continue;
      fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
    }
    const bool go_on = serve_client(fd);
    {
      std::lock_guard lk(send_mu_);
      client_fd_ = -1;
      negotiated_ = false;
    }
    close(fd);
    if (!go_on) return;
  }
}

// One client until it hangs up; false if the server is shutting down.
bool QmpServer::serve_client(int fd) {
  {
    std::lock_guard lk(send_mu_);
    client_fd_ = fd;
    negotiated_ = false;
    send(fd, json{{"QMP",
                   {{"version", {{"qemu", {{"major", 0}, {"minor", 1}, {"micro", 0}}}, {"package", "vx86"}}},
                    {"capabilities", json::array()}}}});
  }
  std::string buf;
  char chunk[4096];
  for (;;) {
    pollfd p[2] = {{fd, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return true;
    }
    if (p[1].revents) return false;
    const ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    buf.append(chunk, static_cast<size_t>(n));
    for (;;) {
      size_t begin = 0;
      const size_t end = object_end(buf, begin);
      if (end == std::string::npos) {
        // Not an object: one error for the garbage up to the end of its line, then go on after it.
        const size_t nl = buf.find('\n', begin);
        std::lock_guard lk(send_mu_);
        send(fd, error("GenericError", "JSON parse error: a request must be a JSON object"));
        buf.erase(0, nl == std::string::npos ? buf.size() : nl + 1);
        continue;
      }
      if (end == 0) break;
      const std::optional<json> reply = handle(buf.substr(begin, end - begin));
      buf.erase(0, end);
      if (reply) {
        std::lock_guard lk(send_mu_);
        send(fd, *reply);
      }
    }
    if (buf.size() > kMaxRequest) {
      std::lock_guard lk(send_mu_);
      send(fd, error("GenericError", "request larger than " + std::to_string(kMaxRequest) + " bytes"));
      return true;  // (this client is dropped; the server listens on)
    }
  }
}

std::optional<json> QmpServer::handle(const std::string& text) {
  const json req = json::parse(text, nullptr, false);
  if (req.is_discarded() || !req.is_object()) return error("GenericError", "JSON parse error");
  json reply;
  const auto exec = req.find("execute");
  const auto args = req.find("arguments");
  if (exec == req.end() || !exec->is_string()) {
    reply = error("GenericError", "QMP input must have an 'execute' member naming the command");
  } else if (args != req.end() && !args->is_object()) {
    reply = error("GenericError", "Invalid parameter type for 'arguments', expected: object");
  } else {
    const std::string cmd = exec->get<std::string>();
    bool negotiated;
    {
      std::lock_guard lk(send_mu_);
      negotiated = negotiated_;
    }
    if (!negotiated && cmd != "qmp_capabilities")
      reply = error("CommandNotFound", "Expecting capabilities negotiation with 'qmp_capabilities'");
    else if (negotiated && cmd == "qmp_capabilities")
      reply = error("CommandNotFound", "Capabilities negotiation is already complete, command ignored");
    else
      reply = run(cmd, args != req.end() ? *args : json::object());
  }
  if (const auto id = req.find("id"); id != req.end()) reply["id"] = *id;
  return reply;
}

json QmpServer::run(const std::string& cmd, const json& args) {
  const json ok{{"return", json::object()}};
  // A string argument the command needs.
  auto str_arg = [&](const char* name) -> std::optional<std::string> {
    const auto it = args.find(name);
    if (it == args.end() || !it->is_string() || it->get<std::string>().empty()) return std::nullopt;
    return it->get<std::string>();
  };
  try {
    if (cmd == "qmp_capabilities") {
      std::lock_guard lk(send_mu_);
      negotiated_ = true;
      return ok;
    }
    if (cmd == "query-status") {
      const bool ended = session_.ended(), paused = session_.paused();
      const char* status = ended ? "shutdown" : paused ? "paused" : "running";
      return json{{"return", {{"running", !ended && !paused}, {"singlestep", false}, {"status", status}}}};
    }
    if (cmd == "query-version")
      return json{{"return", {{"qemu", {{"major", 0}, {"minor", 1}, {"micro", 0}}}, {"package", "vx86"}}}};
    if (cmd == "query-commands") {
      json list = json::array();
      for (const char* c : kCommands) list.push_back({{"name", c}});
      return json{{"return", list}};
    }
    if (cmd == "stop") {
      session_.request_pause();
      return ok;
    }
    if (cmd == "cont") {
      session_.request_resume();
      return ok;
    }
    if (cmd == "system_reset") {
      session_.request_reset();
      return ok;
    }
    if (cmd == "system_powerdown") {
      if (!session_.machine().pm()) return error("GenericError", "the machine has no ACPI (-acpi off)");
      session_.request_powerdown();
      event("POWERDOWN");
      return ok;
    }
    if (cmd == "savevm" || cmd == "loadvm") {
      const auto file = str_arg("filename");
      if (!file) return error("GenericError", "Parameter 'filename' is missing");
      if (cmd == "savevm")
        session_.save_snapshot(*file);
      else
        session_.load_snapshot(*file);
      return ok;
    }
    if (cmd == "screendump") {
      const auto file = str_arg("filename");
      if (!file) return error("GenericError", "Parameter 'filename' is missing");
      const auto format = args.find("format");
      const std::string fmt =
          format == args.end() || !format->is_string() ? "ppm" : format->get<std::string>();
      if (format != args.end() && (!format->is_string() || (fmt != "ppm" && fmt != "png")))
        return error("GenericError", "screendump: format must be 'ppm' or 'png'");
      session_.screendump(*file, fmt == "png");
      return ok;
    }
    if (cmd == "quit") {
      quit_.store(true);
      session_.request_stop();
      return ok;
    }
  } catch (const std::exception& e) {
    return error("GenericError", e.what());
  }
  return error("CommandNotFound", "The command " + cmd + " has not been found");
}

}  // namespace vx86
