#!/usr/bin/env python3
"""The embedding example of issue 12 (frontend/api/examples/embed_virtio.c), run as its users would:
a qcow2 `virtual-disk.img` over the guest's raw disk (qemu-img create -f qcow2 -b disk.img -F raw)
on virtio-blk, virtio-net with hostfwd=tcp::1234-:22 (127.0.0.1; another free port if 1234 is
taken, said in the output), the guest booted with vx86.sshd. Once dropbear is up, Debian's OpenSSH
client runs `sha256sum /dev/vda; uname -a`: the sum must be the host's over what the guest sees
(disk.img, then zeros up to the virtual size), uname the kernel the build packed, i686. Then
`poweroff` over SSH: the program's wait returns, it destroys the VM and exits 0.

usage: embed_ssh.py EMBED_VIRTIO GUEST_DIR WORKDIR [SIZE]    (SIZE for qemu-img, default 10G)
Exit 77 (skipped): no guest, qemu-img or ssh client."""
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

BOOT_TIMEOUT = 240
SSH_TIMEOUT = 420  # the sha256 of the whole disk inside the emulated guest


def port_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def qemu_size(text):
    m = re.fullmatch(r"(\d+)([KMGT]?)", text)
    if not m:
        sys.exit(f"bad size {text!r}")
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}[m.group(2)]


def main():
    embed, guest, work = sys.argv[1:4]
    size_text = sys.argv[4] if len(sys.argv) > 4 else "10G"
    base = os.path.join(guest, "disk.img")
    key = os.path.join(guest, "ssh", "id_ed25519")
    for f in (base, key, os.path.join(guest, "vmlinuz"), os.path.join(guest, "initramfs.cpio.gz")):
        if not os.path.exists(f):
            print(f"SKIP: {f} is missing (scripts/build-guest.sh)")
            return 77
    if not shutil.which("qemu-img") or not shutil.which("ssh"):
        print("SKIP: no qemu-img or ssh client")
        return 77
    with open(os.path.join(guest, "expected.txt")) as f:
        release = re.search(r"^kernel=linux-image-(\S+)$", f.read(), re.M).group(1)
    os.makedirs(work, exist_ok=True)
    image = os.path.join(work, "virtual-disk.img")
    if os.path.exists(image):
        os.unlink(image)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", os.path.abspath(base), "-F", "raw", image,
                    size_text], check=True)

    # What the guest's /dev/vda holds: the raw disk, then zeros to the virtual size (computed on a
    # thread while the guest boots).
    size = qemu_size(size_text)
    host_sum = {}

    def hash_disk():
        h = hashlib.sha256()
        n = 0
        with open(base, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
                n += len(chunk)
        zeros = bytes(1 << 20)
        while n < size:
            k = min(len(zeros), size - n)
            h.update(zeros[:k] if k < len(zeros) else zeros)
            n += k
        host_sum["sha"] = h.hexdigest()

    hasher = threading.Thread(target=hash_disk)
    hasher.start()

    port = 1234
    if not port_free(port):
        port = free_port()
        print(f"NOTE: port 1234 is taken on this machine: forwarding 127.0.0.1:{port} instead")
    net = f"hostfwd=tcp::{port}-:22"
    cmd = [embed, "qcow2:" + image, net, os.path.join(guest, "vmlinuz"), os.path.join(guest, "initramfs.cpio.gz"),
           "console=ttyS0 vx86.sshd"]
    print("$", " ".join(cmd))
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines, err = [], []
    ready = threading.Event()

    def read_console():
        for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip("\r\n")
            lines.append(line)
            if "VX86-SSHD-READY" in line or "VX86-SSHD-FAILED" in line:
                ready.set()
        ready.set()

    threading.Thread(target=read_console, daemon=True).start()
    threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True).start()

    def fail(msg):
        print("FAIL: " + msg)
        print("--- last console lines ---")
        print("\n".join(lines[-30:]))
        print("--- stderr ---")
        print(b"".join(err).decode(errors="replace"))
        return 1

    ssh = ["ssh", "-F", "/dev/null", "-p", str(port), "-i", key, "-o", "IdentitiesOnly=yes", "-o",
           "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o",
           "BatchMode=yes", "-o", "ConnectTimeout=60", "root@127.0.0.1"]
    try:
        t0 = time.monotonic()
        if not ready.wait(BOOT_TIMEOUT) or not any("VX86-SSHD-READY" in x for x in lines):
            return fail("dropbear did not come up")
        print(f"dropbear up after {time.monotonic() - t0:.1f} s")
        t1 = time.monotonic()
        r = subprocess.run(ssh + ["sha256sum /dev/vda; uname -a"], stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=SSH_TIMEOUT)
        took = time.monotonic() - t1
        out = r.stdout.splitlines()
        if r.returncode != 0 or len(out) != 2:
            return fail(f"ssh exited {r.returncode}: stdout {r.stdout!r}, stderr {r.stderr!r}")
        hasher.join()
        if out[0].split() != [host_sum["sha"], "/dev/vda"]:
            return fail(f"the guest's {out[0]!r}, the host's sum of the {size_text} disk {host_sum['sha']}")
        uname = out[1].split()
        if uname[0] != "Linux" or uname[2] != release or "i686" not in uname:
            return fail(f"uname -a: {out[1]!r} (want Linux {release} ... i686)")
        print(f"sha256sum /dev/vda ({size_text}) = the host's {host_sum['sha']} in {took:.1f} s "
              f"({size / took / 1e6:.0f} MB/s); {out[1]}")
        r = subprocess.run(ssh + ["poweroff"], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            return fail(f"ssh poweroff exited {r.returncode}: {r.stderr!r}")
        try:
            status = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            return fail("the program did not return within 60 s of the guest's poweroff")
        time.sleep(0.2)
        stderr = b"".join(err).decode(errors="replace")
        if status != 0 or "the VM exited with status 0" not in stderr:
            return fail(f"the program exited with status {status}")
        print("poweroff over SSH: the wait returned, the VM was destroyed, status 0")
        return 0
    except subprocess.TimeoutExpired as e:
        return fail(f"timed out: {e}")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        hasher.join()


if __name__ == "__main__":
    sys.exit(main())
