// ApiVm: what a vx86_vm handle is. It collects the configuration as command-line arguments (so
// the library and the vx86 program accept exactly the same things, parsed by the same code),
// builds a Session from them at start, and runs it on a thread of its own. Control calls come
// from any thread and are serialised by `control_`.
#pragma once
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "frontend/session.h"
#include "include/vx86/vx86.h"

namespace vx86 {

// An error for the C API: a status code and its message.
struct ApiError {
  vx86_status code;
  std::string message;
};

class ApiVm {
 public:
  ApiVm();
  ~ApiVm();  // stops the VM if it runs

  // Configuration (CREATED or EXITED only). Each returns an error or nothing.
  std::optional<ApiError> set_cpu(unsigned count, vx86_cpu_mode mode);
  std::optional<ApiError> set_mem(uint64_t mib);
  std::optional<ApiError> set_drive(const std::string& device, const std::string& image);
  std::optional<ApiError> set_net(const std::string& device, const std::string& options);
  std::optional<ApiError> set_option(const std::string& name, const char* value);
  std::optional<ApiError> set_serial(vx86_output_fn fn, void* user);
  std::optional<ApiError> set_state_callback(vx86_state_fn fn, void* user);

  std::optional<ApiError> start(const std::string& loadvm = "");
  std::optional<ApiError> pause();
  std::optional<ApiError> resume();
  std::optional<ApiError> save(const std::string& path);
  std::optional<ApiError> stop(const char* snapshot_path);
  std::optional<ApiError> restore(const std::string& path);
  std::optional<ApiError> wait_exit(int timeout_ms, int* status);
  vx86_vm_state state() const;

 private:
  // The serial port's host side: the user's callback.
  struct Serial : CharBackend {
    vx86_output_fn fn = nullptr;
    void* user = nullptr;
    void write(const uint8_t* data, size_t n) override {
      if (fn) fn(user, reinterpret_cast<const char*>(data), n);
    }
  };

  std::optional<ApiError> configurable() const;
  // The arguments so far plus `more`, parsed as the command line parses them.
  std::optional<ApiError> add_args(std::vector<std::string> more);
  void set_state(vx86_vm_state s, int status = 0);  // (mu_ held by nobody)
  void thread_main();
  void join();

  std::mutex control_;  // one control call at a time
  mutable std::mutex mu_;
  std::condition_variable cv_;
  vx86_vm_state state_ = VX86_VM_CREATED;
  int exit_status_ = 0;
  std::vector<std::string> args_;
  bool has_net_ = false;
  Serial serial_;
  vx86_state_fn state_fn_ = nullptr;
  void* state_user_ = nullptr;
  std::unique_ptr<Session> session_;
  std::thread thread_;
};

}  // namespace vx86
