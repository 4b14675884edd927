#!/usr/bin/env python3
"""SIGKILL during a guest write loop leaves a consistent qcow2 image: the Debian guest (booted with
vx86.writeloop) writes random 512 KiB runs all over /dev/sda, each with fsync, on a qcow2 overlay
(2 GiB over the raw guest disk); vx86 is killed with SIGKILL at a random moment of the loop;
`qemu-img check` must find the image clean or with leaked clusters only (status 0 or 3, never 2:
corruption). Three rounds on the same image: a killed image also opens and grows again.

usage: qcow2_kill.py VX86 GUEST_DIR WORKDIR     (exit 77: skipped)"""
import os
import random
import shutil
import signal
import subprocess
import sys
import time

vx86, guest, work = sys.argv[1:4]
kernel, initrd, base = (os.path.join(guest, f) for f in ("vmlinuz", "initramfs.cpio.gz", "disk.img"))
if not all(os.path.exists(p) for p in (kernel, initrd, base)) or not shutil.which("qemu-img"):
    print("SKIP: no guest (scripts/build-guest.sh) or no qemu-img")
    sys.exit(77)
os.makedirs(work, exist_ok=True)
image = os.path.join(work, "writeloop.qcow2")
if os.path.exists(image):
    os.unlink(image)
subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", os.path.abspath(base), "-F", "raw", image, "2G"],
               check=True)
rng = random.Random(int(os.environ.get("VX86_SEED", "20261201")))
failures = []
for rnd in range(3):
    console = os.path.join(work, "console-%d.txt" % rnd)
    if os.path.exists(console):
        os.unlink(console)
    proc = subprocess.Popen([vx86, "-m", "128", "-nic", "none", "-kernel", kernel, "-initrd", initrd,
                             "-append", "console=ttyS0 vx86.writeloop", "-hda", image,
                             "-serial", "file:" + console, "-timeout", "300"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    want = 8 * rng.randint(2, 6)  # writes done before the kill (a few hundred ms of loop)
    deadline = time.time() + 240
    seen = 0
    while time.time() < deadline and proc.poll() is None:
        text = open(console, errors="replace").read() if os.path.exists(console) else ""
        counts = [int(l.split()[1]) for l in text.splitlines() if l.startswith("VX86-WRITELOOP ")]
        seen = max(counts) if counts else 0
        if seen >= want:
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        failures.append("round %d: vx86 ended (%r) before the kill: %s" % (rnd, proc.returncode,
                                                                           proc.stderr.read().decode()))
        break
    if seen < want:
        failures.append("round %d: the write loop did not get going (%d writes seen)" % (rnd, seen))
        proc.kill()
        proc.wait()
        break
    time.sleep(rng.random() * 0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    check = subprocess.run(["qemu-img", "check", image], capture_output=True, text=True)
    print("round %d: killed after %d+ writes; qemu-img check status %d: %s" %
          (rnd, seen, check.returncode, check.stdout.strip().splitlines()[-1] if check.stdout.strip() else ""))
    if check.returncode not in (0, 3):
        failures.append("round %d: qemu-img check status %d:\n%s%s" % (rnd, check.returncode, check.stdout,
                                                                        check.stderr))
        break
info = subprocess.run(["qemu-img", "info", image], capture_output=True, text=True).stdout
print(info.strip())
for f in failures:
    print("FAIL:", f)
sys.exit(1 if failures else 0)
