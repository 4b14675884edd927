#include "frontend/api/api_vm.h"

#include <chrono>
#include <cstring>

namespace vx86 {

namespace {

ApiError invalid(std::string m) { return {VX86_E_INVALID, std::move(m)}; }
ApiError wrong_state(std::string m) { return {VX86_E_STATE, std::move(m)}; }

const char* state_name(vx86_vm_state s) {
  switch (s) {
    case VX86_VM_CREATED:
      return "created";
    case VX86_VM_RUNNING:
      return "running";
    case VX86_VM_PAUSED:
      return "paused";
    case VX86_VM_EXITED:
      return "exited";
  }
  return "?";
}

ApiError from_setup(const SetupError& e) {
  switch (e.kind) {
    case SetupError::Kind::Io:
      return {VX86_E_IO, e.what()};
    case SetupError::Kind::Snapshot:
      return {VX86_E_SNAPSHOT, e.what()};
    case SetupError::Kind::Invalid:
      break;
  }
  return {VX86_E_INVALID, e.what()};
}

}  // namespace

// Library VMs: no debug console on stdout and no network card unless asked for.
ApiVm::ApiVm() : args_{"-debugcon", "none"} {}

ApiVm::~ApiVm() {
  if (session_) session_->request_stop();
  join();
}

vx86_vm_state ApiVm::state() const {
  std::lock_guard lk(mu_);
  return state_;
}

void ApiVm::set_state(vx86_vm_state s, int status) {
  vx86_state_fn fn;
  void* user;
  {
    std::lock_guard lk(mu_);
    if (state_ == s && s != VX86_VM_EXITED) return;
    state_ = s;
    if (s == VX86_VM_EXITED) exit_status_ = status;
    fn = state_fn_;
    user = state_user_;
    cv_.notify_all();
  }
  if (fn) fn(user, s, status);
}

std::optional<ApiError> ApiVm::configurable() const {
  const vx86_vm_state s = state();
  if (s == VX86_VM_CREATED || s == VX86_VM_EXITED) return std::nullopt;
  return wrong_state(std::string("the VM is ") + state_name(s) + "; configure it before it starts");
}

std::optional<ApiError> ApiVm::add_args(std::vector<std::string> more) {
  if (auto e = configurable()) return e;
  std::vector<std::string> all = args_;
  all.insert(all.end(), more.begin(), more.end());
  CliOptions o;
  if (auto err = parse_cli(all, o)) return invalid(*err);
  if (o.help || o.version || o.debug_help) return invalid("--help, --version and -d help are not VM options");
  args_ = std::move(all);
  return std::nullopt;
}

std::optional<ApiError> ApiVm::set_cpu(unsigned count, vx86_cpu_mode mode) {
  if (mode == VX86_CPU_64BIT)
    return ApiError{VX86_E_UNSUPPORTED, "64-bit CPUs are not supported yet (vx86 models a 32-bit P6)"};
  if (mode != VX86_CPU_32BIT) return invalid("CPU mode must be VX86_CPU_32BIT");
  if (count < 1 || count > Machine::kMaxCpus)
    return invalid("CPU count " + std::to_string(count) + " out of range (1-" +
                   std::to_string(Machine::kMaxCpus) + ")");
  return add_args({"-smp", std::to_string(count)});
}

std::optional<ApiError> ApiVm::set_mem(uint64_t mib) {
  if (mib < 1 || mib > 3072)
    return invalid("memory size " + std::to_string(mib) + " MiB out of range (1-3072)");
  return add_args({"-m", std::to_string(mib)});
}

std::optional<ApiError> ApiVm::set_drive(const std::string& device, const std::string& image) {
  std::string media;
  const bool virtio = device == "virtio-blk-device" || device == "virtio-blk-pci";
  if (device == "ide-hd")
    media = "disk";
  else if (device == "ide-cd")
    media = "cdrom";
  else if (!virtio)
    return invalid("unknown drive device '" + device + "' (ide-hd, ide-cd, virtio-blk-device)");
  std::string file = image, format;
  for (const char* f : {"qcow2:", "raw:"})
    if (image.rfind(f, 0) == 0) {
      format = std::string(f, std::strlen(f) - 1);
      file = image.substr(std::strlen(f));
    }
  if (file.empty()) return invalid("drive image name is empty");
  if (file.find(',') != std::string::npos) return invalid("drive image name '" + file + "' contains a comma");
  std::string spec = virtio ? "file=" + file + ",if=virtio" : "file=" + file + ",if=ide,media=" + media;
  if (!format.empty()) spec += ",format=" + format;
  return add_args({"-drive", spec});
}

std::optional<ApiError> ApiVm::set_net(const std::string& device, const std::string& options) {
  const bool virtio = device == "virtio-net-device" || device == "virtio-net-pci";
  if (device != "e1000" && !virtio)
    return invalid("unknown network device '" + device + "' (e1000, virtio-net-device)");
  std::string spec = virtio ? "user,model=virtio-net-pci" : "user,model=e1000";
  if (!options.empty()) spec += "," + options;
  if (auto e = add_args({"-nic", spec})) return e;
  has_net_ = true;
  return std::nullopt;
}

std::optional<ApiError> ApiVm::set_option(const std::string& name, const char* value) {
  if (name.empty() || name[0] != '-') return invalid("option name '" + name + "' does not start with '-'");
  if (name == "-loadvm") return invalid("-loadvm: use vx86_vm_restore");
  std::vector<std::string> more{name};
  if (value) more.emplace_back(value);
  return add_args(std::move(more));
}

std::optional<ApiError> ApiVm::set_serial(vx86_output_fn fn, void* user) {
  if (auto e = configurable()) return e;
  serial_.fn = fn;
  serial_.user = user;
  return std::nullopt;
}

std::optional<ApiError> ApiVm::set_state_callback(vx86_state_fn fn, void* user) {
  std::lock_guard lk(mu_);
  state_fn_ = fn;
  state_user_ = user;
  return std::nullopt;
}

// ---- lifecycle ----

std::optional<ApiError> ApiVm::start(const std::string& loadvm) {
  std::lock_guard c(control_);
  if (auto e = configurable()) return e;
  join();  // (an exited VM's thread)
  session_.reset();
  std::vector<std::string> args = args_;
  if (!has_net_) args.insert(args.end(), {"-nic", "none"});
  if (!loadvm.empty()) args.insert(args.end(), {"-loadvm", loadvm});
  CliOptions o;
  if (auto err = parse_cli(args, o)) return invalid(*err);
  try {
    session_ = std::make_unique<Session>(o, &serial_);
  } catch (const SetupError& e) {
    return from_setup(e);
  } catch (const std::exception& e) {
    return ApiError{VX86_E_INTERNAL, e.what()};
  }
  set_state(VX86_VM_RUNNING);
  thread_ = std::thread([this] { thread_main(); });
  return std::nullopt;
}

void ApiVm::thread_main() {
  RunResult r;
  try {
    r = session_->run();
  } catch (const std::exception& e) {
    // (a reset's kernel reload failing, an internal error): the VM ends, the process goes on
    r = {RunResult::Reason::Quit, Session::kExitError, e.what()};
  }
  set_state(VX86_VM_EXITED, r.status);
}

void ApiVm::join() {
  if (thread_.joinable()) thread_.join();
}

std::optional<ApiError> ApiVm::pause() {
  std::lock_guard c(control_);
  const vx86_vm_state s = state();
  if (s == VX86_VM_PAUSED) return std::nullopt;
  if (s != VX86_VM_RUNNING) return wrong_state(std::string("cannot pause a VM that is ") + state_name(s));
  session_->request_pause();
  if (!session_->paused()) return wrong_state("the VM exited before it could be paused");
  set_state(VX86_VM_PAUSED);
  return std::nullopt;
}

std::optional<ApiError> ApiVm::resume() {
  std::lock_guard c(control_);
  const vx86_vm_state s = state();
  if (s == VX86_VM_RUNNING) return std::nullopt;
  if (s != VX86_VM_PAUSED) return wrong_state(std::string("cannot resume a VM that is ") + state_name(s));
  set_state(VX86_VM_RUNNING);
  session_->request_resume();
  return std::nullopt;
}

std::optional<ApiError> ApiVm::save(const std::string& path) {
  std::lock_guard c(control_);
  const vx86_vm_state s = state();
  if (s != VX86_VM_RUNNING && s != VX86_VM_PAUSED)
    return wrong_state(std::string("cannot save a VM that is ") + state_name(s));
  try {
    session_->save_snapshot(path);
  } catch (const std::exception& e) {
    return ApiError{VX86_E_IO, e.what()};
  }
  return std::nullopt;
}

std::optional<ApiError> ApiVm::stop(const char* snapshot_path) {
  std::lock_guard c(control_);
  const vx86_vm_state s = state();
  if (s != VX86_VM_RUNNING && s != VX86_VM_PAUSED)
    return wrong_state(std::string("cannot stop a VM that is ") + state_name(s));
  if (snapshot_path) {
    try {
      session_->request_pause();  // (stays paused: nothing runs between the save and the stop)
      session_->save_snapshot(snapshot_path);
    } catch (const std::exception& e) {
      if (s == VX86_VM_RUNNING) session_->request_resume();  // not saved: the VM goes on as it was
      return ApiError{VX86_E_IO, e.what()};
    }
  }
  session_->request_stop();
  join();  // (the VM's thread reports EXITED as it ends)
  return std::nullopt;
}

std::optional<ApiError> ApiVm::restore(const std::string& path) {
  const vx86_vm_state s = state();
  if (s == VX86_VM_CREATED || s == VX86_VM_EXITED) return start(path);
  std::lock_guard c(control_);
  try {
    session_->load_snapshot(path);
  } catch (const SnapshotError& e) {
    return ApiError{VX86_E_SNAPSHOT, e.what()};  // (refused by its checks: nothing changed)
  } catch (const std::exception& e) {
    return ApiError{VX86_E_IO, e.what()};
  }
  return std::nullopt;
}

std::optional<ApiError> ApiVm::wait_exit(int timeout_ms, int* status) {
  std::unique_lock lk(mu_);
  if (state_ == VX86_VM_CREATED) return wrong_state("the VM has not been started");
  auto done = [this] { return state_ == VX86_VM_EXITED; };
  if (timeout_ms < 0) {
    cv_.wait(lk, done);
  } else if (!cv_.wait_for(lk, std::chrono::milliseconds(timeout_ms), done)) {
    return ApiError{VX86_E_TIMEOUT, "the VM is still running after " + std::to_string(timeout_ms) + " ms"};
  }
  if (status) *status = exit_status_;
  return std::nullopt;
}

}  // namespace vx86
