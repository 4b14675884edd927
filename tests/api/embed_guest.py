#!/usr/bin/env python3
"""The embedding example (frontend/api/examples/embed.c or embed.cpp) boots the Debian guest from a
10 GiB qcow2 image made with `qemu-img create -f qcow2` over the guest's raw disk, with
hostfwd=tcp:127.0.0.1:PORT-:22 set; the forwarded port listens on 127.0.0.1 while the guest runs;
the guest prints its markers and powers off; the program exits 0; `qemu-img check` finds the
overlay clean.

usage: embed_guest.py EMBED GUEST_DIR WORKDIR     (exit 77: skipped, no guest or qemu-img)"""
import os
import shutil
import socket
import subprocess
import sys
import time

embed, guest, work = sys.argv[1:4]
base = os.path.join(guest, "disk.img")
if not os.path.exists(base) or not shutil.which("qemu-img"):
    print("SKIP: no guest/disk.img or qemu-img (scripts/build-guest.sh, setup.sh)")
    sys.exit(77)
os.makedirs(work, exist_ok=True)
image = os.path.join(work, "virtual-disk.img")
if os.path.exists(image):
    os.unlink(image)
subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", os.path.abspath(base), "-F", "raw", image, "10G"],
               check=True)

with socket.socket() as s:  # a free port for the forward
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]

out_path = os.path.join(work, "console.txt")
with open(out_path, "wb") as out:
    proc = subprocess.Popen([embed, "qcow2:" + image, "hostfwd=tcp:127.0.0.1:%d-:22" % port], stdout=out,
                            stderr=subprocess.PIPE)
    listening = False
    deadline = time.time() + 300
    while proc.poll() is None and time.time() < deadline:
        if not listening:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                listening = True
            except OSError:
                pass
        time.sleep(0.2)
    if proc.poll() is None:
        proc.kill()
    err = proc.communicate()[1].decode(errors="replace")
console = open(out_path, "rb").read().decode(errors="replace")
failures = []
for want in ("VX86-GUEST-UP", "VX86-SHA256", "VX86-DISK", "VX86-GUEST-DONE", "reboot: Power down"):
    if want not in console:
        failures.append("the console lacks %r" % want)
if not listening:
    failures.append("nothing listened on the forwarded port 127.0.0.1:%d while the guest ran" % port)
if proc.returncode != 0:
    failures.append("exit status %r (stderr: %s)" % (proc.returncode, err.strip()))
if "the VM exited with status 0" not in err:
    failures.append("the program did not report the VM's exit: %r" % err)
check = subprocess.run(["qemu-img", "check", image], capture_output=True, text=True)
if check.returncode != 0:
    failures.append("qemu-img check: status %d: %s" % (check.returncode, check.stdout + check.stderr))
for f in failures:
    print("FAIL:", f)
if failures:
    print(console[-3000:])
    sys.exit(1)
print("embed: the guest booted from the qcow2 overlay, port %d was forwarded, clean exit" % port)
