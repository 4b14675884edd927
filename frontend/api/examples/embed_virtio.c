/* The embedding example of issue 12 in C: one VM with one 32-bit CPU, 256 MiB, a qcow2 disk on
 * virtio-blk and a virtio-net card on user networking whose guest port 22 is forwarded to the
 * host's 127.0.0.1:1234 (so `ssh -p 1234 root@127.0.0.1` reaches the guest's SSH server); start
 * it, wait until the guest powers off, destroy the VM and the engine.
 *
 *   embed_virtio [DRIVE [NET-OPTIONS [KERNEL INITRD APPEND]]]
 *     defaults: qcow2:virtual-disk.img hostfwd=tcp::1234-:22, booting the disk through the BIOS;
 *     KERNEL/INITRD/APPEND boot a Linux kernel directly instead (the disk stays /dev/vda)
 *
 * Make the disk with: qemu-img create -f qcow2 -b disk.img -F raw virtual-disk.img 10G
 * The guest's serial console goes to stdout; the exit status is the VM's (0 after a power-off).
 * Build against an installed vx86: cc embed_virtio.c $(pkg-config --cflags --libs vx86) */
#include <stdio.h>
#include <vx86/vx86.h>

static void print_serial(void* user, const char* data, size_t size) {
  (void)user;
  fwrite(data, 1, size, stdout);
  fflush(stdout);
}

#define CHECK(call)                                                        \
  do {                                                                     \
    if ((call) != VX86_OK) {                                               \
      fprintf(stderr, "embed_virtio: %s: %s\n", #call, vx86_last_error()); \
      return 2;                                                            \
    }                                                                      \
  } while (0)

int main(int argc, char** argv) {
  const char* drive = argc > 1 ? argv[1] : "qcow2:virtual-disk.img";
  const char* net = argc > 2 ? argv[2] : "hostfwd=tcp::1234-:22";
  vx86_engine* engine = NULL;
  vx86_vm* vm = NULL;
  int status = 0;

  CHECK(vx86_init(&engine));
  CHECK(vx86_create_vm(engine, &vm));
  CHECK(vx86_vm_set_cpu(vm, 1, VX86_CPU_32BIT));
  CHECK(vx86_vm_set_mem(vm, 256));
  CHECK(vx86_vm_set_drive(vm, "virtio-blk-device", drive));
  CHECK(vx86_vm_set_net(vm, "virtio-net-device", net));
  if (argc > 5) {
    CHECK(vx86_vm_set_option(vm, "-kernel", argv[3]));
    CHECK(vx86_vm_set_option(vm, "-initrd", argv[4]));
    CHECK(vx86_vm_set_option(vm, "-append", argv[5]));
  }
  CHECK(vx86_vm_set_serial_callback(vm, print_serial, NULL));
  CHECK(vx86_vm_start(vm));
  CHECK(vx86_vm_wait_exit(vm, -1, &status));
  vx86_vm_destroy(vm);
  vx86_destroy(engine);
  fprintf(stderr, "embed_virtio: the VM exited with status %d\n", status);
  return status;
}
