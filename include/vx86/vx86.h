/* vx86: the embedding API (C). Link with `pkg-config --cflags --libs vx86`.
 *
 * The lifecycle:
 *
 *   vx86_engine* e;  vx86_vm* vm;
 *   vx86_init(&e);
 *   vx86_create_vm(e, &vm);
 *   vx86_vm_set_cpu(vm, 1, VX86_CPU_32BIT);
 *   vx86_vm_set_mem(vm, 256);
 *   vx86_vm_set_drive(vm, "ide-hd", "qcow2:virtual-disk.img");
 *   vx86_vm_set_net(vm, "e1000", "hostfwd=tcp::1234-:22");
 *   vx86_vm_start(vm);               -- the VM runs on a thread of its own
 *   vx86_vm_wait_exit(vm, -1, &status);
 *   vx86_vm_destroy(vm);
 *   vx86_destroy(e);
 *
 * Every function that can fail returns a vx86_status; on failure vx86_last_error() holds a
 * one-line message (per calling thread, until its next failing call). Nothing aborts the process
 * on a bad argument, a missing file or a damaged snapshot. Several VMs may run in one process;
 * each VM's functions may be called from any thread (calls on one VM are serialised). Callbacks
 * run on the VM's own thread: they must not call back into the same VM's control functions.
 */
#ifndef VX86_VX86_H
#define VX86_VX86_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VX86_API_VERSION 1

typedef struct vx86_engine vx86_engine;
typedef struct vx86_vm vx86_vm;

typedef enum vx86_status {
  VX86_OK = 0,
  VX86_E_INVALID = 1,     /* a bad argument or option value */
  VX86_E_STATE = 2,       /* not allowed in the VM's current state (e.g. set_mem while running) */
  VX86_E_IO = 3,          /* a file could not be opened, read or written */
  VX86_E_SNAPSHOT = 4,    /* a snapshot refused: damaged, another version, another machine */
  VX86_E_UNSUPPORTED = 5, /* valid, but not something this vx86 can do (yet) */
  VX86_E_TIMEOUT = 6,     /* vx86_vm_wait_exit's timeout passed */
  VX86_E_INTERNAL = 7
} vx86_status;

typedef enum vx86_vm_state {
  VX86_VM_CREATED = 0, /* being configured; not started */
  VX86_VM_RUNNING = 1,
  VX86_VM_PAUSED = 2,
  VX86_VM_EXITED = 3 /* the guest powered off or exited, or the VM was stopped */
} vx86_vm_state;

typedef enum vx86_cpu_mode { VX86_CPU_32BIT = 32, VX86_CPU_64BIT = 64 } vx86_cpu_mode;

/* Bytes the guest wrote to its first serial port. */
typedef void (*vx86_output_fn)(void* user, const char* data, size_t size);
/* The VM's state changed; `exit_status` is meaningful for VX86_VM_EXITED (as vx86_vm_wait_exit). */
typedef void (*vx86_state_fn)(void* user, vx86_vm_state state, int exit_status);

/* The message of this thread's last failing call ("" if none). */
const char* vx86_last_error(void);
const char* vx86_version(void);

vx86_status vx86_init(vx86_engine** engine);
/* Destroys the engine and every VM of it that is still alive (stopping those that run). */
void vx86_destroy(vx86_engine* engine);

vx86_status vx86_create_vm(vx86_engine* engine, vx86_vm** vm);
/* Stops the VM if it runs (no snapshot) and frees it. */
void vx86_vm_destroy(vx86_vm* vm);

/* ---- configuration: before vx86_vm_start (or vx86_vm_restore of a created VM) ---- */
/* `count` CPUs (1-8) in `mode` (VX86_CPU_32BIT; 64-bit guests are not supported yet). */
vx86_status vx86_vm_set_cpu(vx86_vm* vm, unsigned count, vx86_cpu_mode mode);
vx86_status vx86_vm_set_mem(vx86_vm* vm, uint64_t mib);
/* A drive: `device` "ide-hd" or "ide-cd" (IDE slots are taken in order, primary master first),
 * or "virtio-blk-device" (a virtio-blk disk on PCI, after the network cards, in call order);
 * `image` "qcow2:FILE", "raw:FILE" or "FILE" (format probed). */
vx86_status vx86_vm_set_drive(vx86_vm* vm, const char* device, const char* image);
/* A network card: `device` "e1000" on user-mode networking with `options` as QEMU's -nic user
 * takes them ("hostfwd=tcp::1234-:22,hostfwd=..."; forwarded ports listen on 127.0.0.1 unless
 * an address is given), or NULL/"". Without any vx86_vm_set_net the VM has no network card. */
vx86_status vx86_vm_set_net(vx86_vm* vm, const char* device, const char* options);
/* Any vx86 command-line option (docs/cli.md), e.g. ("-kernel", "vmlinuz"), ("-append", "..."),
 * ("-icount", "shift=0"), ("-snapshot", NULL). */
vx86_status vx86_vm_set_option(vx86_vm* vm, const char* name, const char* value);
vx86_status vx86_vm_set_serial_callback(vx86_vm* vm, vx86_output_fn fn, void* user);
vx86_status vx86_vm_set_state_callback(vx86_vm* vm, vx86_state_fn fn, void* user);

/* ---- lifecycle ---- */
vx86_status vx86_vm_start(vx86_vm* vm);
/* Returns once the VM is paused (its guest time stands still). */
vx86_status vx86_vm_pause(vx86_vm* vm);
vx86_status vx86_vm_resume(vx86_vm* vm);
/* Saves the whole machine to a snapshot file; a running VM is paused for it and goes on after. */
vx86_status vx86_vm_save(vx86_vm* vm, const char* path);
/* Stops a running or paused VM, first saving a snapshot to `snapshot_path` unless it is NULL.
 * The VM is then EXITED (exit status 0); vx86_vm_restore can bring it back. */
vx86_status vx86_vm_stop(vx86_vm* vm, const char* snapshot_path);
/* Continues from a snapshot file: a created or exited VM starts from it (with its configuration,
 * which must describe the same machine), a running or paused one is replaced by it in place and
 * keeps its running or paused state. */
vx86_status vx86_vm_restore(vx86_vm* vm, const char* path);
/* Waits until the VM has exited (timeout_ms < 0: for ever) and gives its exit status: 0 for a
 * power-off or a stop, the guest's isa-debug-exit status, or the vx86 program's status for the
 * other ends (docs/cli.md). */
vx86_status vx86_vm_wait_exit(vx86_vm* vm, int timeout_ms, int* exit_status);
vx86_vm_state vx86_vm_get_state(vx86_vm* vm);

#ifdef __cplusplus
}
#endif

#endif /* VX86_VX86_H */
