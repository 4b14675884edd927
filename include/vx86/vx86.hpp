// vx86: the embedding API (C++). A thin header-only layer over the C API (vx86.h): RAII handles,
// std::string arguments, std::function callbacks, and a Status (code + message) from every call
// that can fail. Nothing throws.
//
//   vx86::Engine engine;
//   std::unique_ptr<vx86::Vm> vm;
//   if (auto st = engine.create_vm(vm); !st) { std::cerr << st.message; return 1; }
//   vm->set_cpu(1, vx86::CpuMode::Bits32);
//   vm->set_mem(256);
//   vm->set_drive("ide-hd", "qcow2:virtual-disk.img");
//   vm->set_net("e1000", "hostfwd=tcp::1234-:22");
//   vm->start();
//   int status = 0;
//   vm->wait_exit(status);
//
// A Vm must be destroyed before the Engine that created it.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "vx86/vx86.h"

namespace vx86 {

struct Status {
  vx86_status code = VX86_OK;
  std::string message;
  bool ok() const { return code == VX86_OK; }
  explicit operator bool() const { return ok(); }
};

enum class CpuMode { Bits32 = VX86_CPU_32BIT, Bits64 = VX86_CPU_64BIT };
enum class VmState {
  Created = VX86_VM_CREATED,
  Running = VX86_VM_RUNNING,
  Paused = VX86_VM_PAUSED,
  Exited = VX86_VM_EXITED
};

namespace detail {
inline Status status(vx86_status s) { return s == VX86_OK ? Status{} : Status{s, vx86_last_error()}; }
}  // namespace detail

class Vm {
 public:
  ~Vm() { vx86_vm_destroy(vm_); }
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;

  Status set_cpu(unsigned count, CpuMode mode = CpuMode::Bits32) {
    return detail::status(vx86_vm_set_cpu(vm_, count, static_cast<vx86_cpu_mode>(mode)));
  }
  Status set_mem(uint64_t mib) { return detail::status(vx86_vm_set_mem(vm_, mib)); }
  Status set_drive(const std::string& device, const std::string& image) {
    return detail::status(vx86_vm_set_drive(vm_, device.c_str(), image.c_str()));
  }
  Status set_net(const std::string& device, const std::string& options = "") {
    return detail::status(vx86_vm_set_net(vm_, device.c_str(), options.c_str()));
  }
  // Any vx86 command-line option; an empty value for options without one ("-snapshot").
  Status set_option(const std::string& name, const std::string& value = "") {
    return detail::status(vx86_vm_set_option(vm_, name.c_str(), value.empty() ? nullptr : value.c_str()));
  }
  // Called on the VM's thread with what the guest writes to its serial port.
  Status on_serial(std::function<void(std::string_view)> fn) {
    serial_ = std::make_unique<std::function<void(std::string_view)>>(std::move(fn));
    return detail::status(vx86_vm_set_serial_callback(
        vm_,
        [](void* u, const char* d, size_t n) {
          (*static_cast<std::function<void(std::string_view)>*>(u))({d, n});
        },
        serial_.get()));
  }
  // Called (on the VM's thread or the controlling one) when the state changes.
  Status on_state(std::function<void(VmState, int)> fn) {
    state_ = std::make_unique<std::function<void(VmState, int)>>(std::move(fn));
    return detail::status(vx86_vm_set_state_callback(
        vm_,
        [](void* u, vx86_vm_state s, int st) {
          (*static_cast<std::function<void(VmState, int)>*>(u))(static_cast<VmState>(s), st);
        },
        state_.get()));
  }

  Status start() { return detail::status(vx86_vm_start(vm_)); }
  Status pause() { return detail::status(vx86_vm_pause(vm_)); }
  Status resume() { return detail::status(vx86_vm_resume(vm_)); }
  Status save(const std::string& path) { return detail::status(vx86_vm_save(vm_, path.c_str())); }
  // Stops the VM, saving it to `snapshot_path` first unless that is empty.
  Status stop(const std::string& snapshot_path = "") {
    return detail::status(vx86_vm_stop(vm_, snapshot_path.empty() ? nullptr : snapshot_path.c_str()));
  }
  Status restore(const std::string& path) { return detail::status(vx86_vm_restore(vm_, path.c_str())); }
  Status wait_exit(int& exit_status, int timeout_ms = -1) {
    return detail::status(vx86_vm_wait_exit(vm_, timeout_ms, &exit_status));
  }
  VmState state() const { return static_cast<VmState>(vx86_vm_get_state(vm_)); }

 private:
  friend class Engine;
  explicit Vm(vx86_vm* vm) : vm_(vm) {}
  vx86_vm* vm_;
  // The callbacks outlive the VM: the destructor's body destroys it (and stops its thread) before
  // the members go.
  std::unique_ptr<std::function<void(std::string_view)>> serial_;
  std::unique_ptr<std::function<void(VmState, int)>> state_;
};

class Engine {
 public:
  Engine() { init_ = detail::status(vx86_init(&engine_)); }
  ~Engine() { vx86_destroy(engine_); }
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // How creating the engine went.
  const Status& status() const { return init_; }
  Status create_vm(std::unique_ptr<Vm>& out) {
    if (!engine_) return init_;
    vx86_vm* vm = nullptr;
    Status st = detail::status(vx86_create_vm(engine_, &vm));
    if (st) out.reset(new Vm(vm));
    return st;
  }

 private:
  vx86_engine* engine_ = nullptr;
  Status init_;
};

}  // namespace vx86
