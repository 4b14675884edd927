// The C API (include/vx86/vx86.h): argument checks, the thread's last error, and the handles.
// Every entry point catches everything: no C++ exception crosses into the caller.
#include <algorithm>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "frontend/api/api_vm.h"
#include "include/vx86/vx86.h"

struct vx86_engine {
  std::mutex mu;
  std::vector<vx86_vm*> vms;
};

struct vx86_vm {
  vx86_engine* engine;
  vx86::ApiVm impl;
};

namespace {

thread_local std::string t_last_error;

vx86_status fail(vx86_status code, std::string message) {
  t_last_error = std::move(message);
  return code;
}

vx86_status result(const std::optional<vx86::ApiError>& e) { return e ? fail(e->code, e->message) : VX86_OK; }

// Runs `f` (returning an optional ApiError) with every exception turned into a status.
template <class F>
vx86_status guarded(F&& f) {
  try {
    return result(f());
  } catch (const std::bad_alloc&) {
    return fail(VX86_E_INTERNAL, "out of memory");
  } catch (const std::exception& e) {
    return fail(VX86_E_INTERNAL, e.what());
  } catch (...) {
    return fail(VX86_E_INTERNAL, "unknown internal error");
  }
}

#define VX86_NEED(p, what) \
  if (!(p)) return fail(VX86_E_INVALID, what " is NULL")

}  // namespace

extern "C" {

const char* vx86_last_error(void) { return t_last_error.c_str(); }

const char* vx86_version(void) { return VX86_VERSION_STRING; }

vx86_status vx86_init(vx86_engine** engine) {
  VX86_NEED(engine, "engine pointer");
  *engine = new (std::nothrow) vx86_engine;
  return *engine ? VX86_OK : fail(VX86_E_INTERNAL, "out of memory");
}

void vx86_destroy(vx86_engine* engine) {
  if (!engine) return;
  std::vector<vx86_vm*> vms;
  {
    std::lock_guard lk(engine->mu);
    vms.swap(engine->vms);
  }
  for (vx86_vm* vm : vms) delete vm;  // (stops each)
  delete engine;
}

vx86_status vx86_create_vm(vx86_engine* engine, vx86_vm** vm) {
  VX86_NEED(engine, "engine");
  VX86_NEED(vm, "VM pointer");
  *vm = nullptr;
  return guarded([&]() -> std::optional<vx86::ApiError> {
    auto* v = new vx86_vm{engine, {}};
    std::lock_guard lk(engine->mu);
    engine->vms.push_back(v);
    *vm = v;
    return std::nullopt;
  });
}

void vx86_vm_destroy(vx86_vm* vm) {
  if (!vm) return;
  {
    std::lock_guard lk(vm->engine->mu);
    auto& v = vm->engine->vms;
    v.erase(std::remove(v.begin(), v.end(), vm), v.end());
  }
  delete vm;
}

vx86_status vx86_vm_set_cpu(vx86_vm* vm, unsigned count, vx86_cpu_mode mode) {
  VX86_NEED(vm, "VM");
  return guarded([&] { return vm->impl.set_cpu(count, mode); });
}

vx86_status vx86_vm_set_mem(vx86_vm* vm, uint64_t mib) {
  VX86_NEED(vm, "VM");
  return guarded([&] { return vm->impl.set_mem(mib); });
}

vx86_status vx86_vm_set_drive(vx86_vm* vm, const char* device, const char* image) {
  VX86_NEED(vm, "VM");
  VX86_NEED(device, "drive device");
  VX86_NEED(image, "drive image");
  return guarded([&] { return vm->impl.set_drive(device, image); });
}

vx86_status vx86_vm_set_net(vx86_vm* vm, const char* device, const char* options) {
  VX86_NEED(vm, "VM");
  VX86_NEED(device, "network device");
  return guarded([&] { return vm->impl.set_net(device, options ? options : ""); });
}

vx86_status vx86_vm_set_option(vx86_vm* vm, const char* name, const char* value) {
  VX86_NEED(vm, "VM");
  VX86_NEED(name, "option name");
  return guarded([&] { return vm->impl.set_option(name, value); });
}

vx86_status vx86_vm_set_serial_callback(vx86_vm* vm, vx86_output_fn fn, void* user) {
  VX86_NEED(vm, "VM");
  return guarded([&] { return vm->impl.set_serial(fn, user); });
}

vx86_status vx86_vm_set_state_callback(vx86_vm* vm, vx86_state_fn fn, void* user) {
  VX86_NEED(vm, "VM");
  return guarded([&] { return vm->impl.set_state_callback(fn, user); });
}

vx86_status vx86_vm_start(vx86_vm* vm) {
  VX86_NEED(vm, "VM");
  return guarded([&] { return vm->impl.start(); });
}

vx86_status vx86_vm_pause(vx86_vm* vm) {
  VX86_NEED(vm, "VM");
  return guarded([&] { return vm->impl.pause(); });
}

vx86_status vx86_vm_resume(vx86_vm* vm) {
  VX86_NEED(vm, "VM");
  return guarded([&] { return vm->impl.resume(); });
}

vx86_status vx86_vm_save(vx86_vm* vm, const char* path) {
  VX86_NEED(vm, "VM");
  VX86_NEED(path, "snapshot path");
  return guarded([&] { return vm->impl.save(path); });
}

vx86_status vx86_vm_stop(vx86_vm* vm, const char* snapshot_path) {
  VX86_NEED(vm, "VM");
  return guarded([&] { return vm->impl.stop(snapshot_path); });
}

vx86_status vx86_vm_restore(vx86_vm* vm, const char* path) {
  VX86_NEED(vm, "VM");
  VX86_NEED(path, "snapshot path");
  if (!*path) return fail(VX86_E_INVALID, "snapshot path is empty");
  return guarded([&] { return vm->impl.restore(path); });
}

vx86_status vx86_vm_wait_exit(vx86_vm* vm, int timeout_ms, int* exit_status) {
  VX86_NEED(vm, "VM");
  return guarded([&] { return vm->impl.wait_exit(timeout_ms, exit_status); });
}

vx86_vm_state vx86_vm_get_state(vx86_vm* vm) { return vm ? vm->impl.state() : VX86_VM_EXITED; }

}  // extern "C"
