// The classic embedding sequence in C++ (include/vx86/vx86.hpp): the same as embed.c.
//
//   embed_cpp [DRIVE [NET-OPTIONS]]     (defaults: qcow2:virtual-disk.img hostfwd=tcp::1234-:22)
#include <cstdio>
#include <iostream>
#include <memory>
#include <vx86/vx86.hpp>

int main(int argc, char** argv) {
  const std::string drive = argc > 1 ? argv[1] : "qcow2:virtual-disk.img";
  const std::string net = argc > 2 ? argv[2] : "hostfwd=tcp::1234-:22";
  auto check = [](const vx86::Status& st, const char* what) {
    if (!st) std::cerr << "embed_cpp: " << what << ": " << st.message << "\n";
    return st.ok();
  };
  int status = 0;
  {
    vx86::Engine engine;
    std::unique_ptr<vx86::Vm> vm;
    if (!check(engine.status(), "init") || !check(engine.create_vm(vm), "create_vm")) return 2;
    if (!check(vm->set_cpu(1, vx86::CpuMode::Bits32), "set_cpu") || !check(vm->set_mem(256), "set_mem") ||
        !check(vm->set_drive("ide-hd", drive), "set_drive") || !check(vm->set_net("e1000", net), "set_net") ||
        !check(vm->on_serial([](std::string_view s) {
          std::fwrite(s.data(), 1, s.size(), stdout);
          std::fflush(stdout);
        }),
               "on_serial") ||
        !check(vm->start(), "start") || !check(vm->wait_exit(status), "wait_exit"))
      return 2;
  }  // the VM, then the engine
  std::cerr << "embed_cpp: the VM exited with status " << status << "\n";
  return status;
}
