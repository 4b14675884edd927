#!/usr/bin/env python3
"""SSH into the Debian guest (scripts/build-guest.sh, booted with vx86.sshd) on vx86's e1000.

  linux_ssh.py VX86 GUEST_DIR [--virtio] [more vx86 arguments]

Boots the guest with -kernel, guest/disk.img on IDE (-snapshot; --virtio: on virtio-blk, /dev/vda,
with a virtio-net card instead of the e1000) and user-mode networking that
forwards a free port on 127.0.0.1 to the guest's port 22, waits for VX86-SSHD-READY (dropbear up),
then with Debian's OpenSSH client and the key pair the build made (guest/ssh/id_ed25519):
  - runs `sha256sum /dev/sda; uname -a`: the sha256 must be the host's of guest/disk.img, the
    kernel release the one the build packed (guest/expected.txt), the machine i686;
  - runs `tty` on a pseudo-terminal (-tt): the guest's devpts gives /dev/pts/N;
  - checks that the server accepts nothing but keys: without one, the login is refused with
    "Permission denied (publickey)" (no password method offered), and another key is refused;
  - runs `poweroff` (busybox's, which signals the guest's init): the SSH command exits 0 and vx86
    exits with status 0.
Everything is bounded by timeouts. Loopback only. Exit status 77 (CTest: skipped) when the guest
is not built or the ssh client is missing.
"""
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

BOOT_TIMEOUT = 240
SSH_TIMEOUT = 180


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Console:
    """The guest's serial console (vx86's stdout), collected by a reader thread."""

    def __init__(self, p):
        self.lines, self.cond = [], threading.Condition()
        self.p = p
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.p.stdout:
            with self.cond:
                self.lines.append(raw.decode(errors="replace").rstrip("\r\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)  # EOF
            self.cond.notify_all()

    def wait_for(self, prefixes, timeout):
        """The first console line starting with one of `prefixes`, or None (EOF, timeout)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    if line is not None and line.startswith(prefixes):
                        return line
                if self.lines and self.lines[-1] is None:
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def tail(self, n=40):
        with self.cond:
            return "\n".join(l for l in self.lines[-n:] if l is not None)


def main():
    vx86, guest_dir = sys.argv[1], sys.argv[2]
    extra = sys.argv[3:]
    # --virtio: the disk on virtio-blk (/dev/vda) and the card virtio-net instead of IDE and e1000.
    virtio = "--virtio" in extra
    extra = [a for a in extra if a != "--virtio"]
    dev = "/dev/vda" if virtio else "/dev/sda"
    key = os.path.join(guest_dir, "ssh", "id_ed25519")
    disk = os.path.join(guest_dir, "disk.img")
    for f in ("vmlinuz", "initramfs.cpio.gz", "disk.img", "expected.txt", "ssh/id_ed25519"):
        if not os.path.exists(os.path.join(guest_dir, f)):
            print(f"SKIP: {guest_dir}/{f} is missing: run scripts/build-guest.sh")
            return 77
    if not shutil.which("ssh") or not shutil.which("ssh-keygen"):
        print("SKIP: no ssh client (Debian's openssh-client)")
        return 77
    with open(os.path.join(guest_dir, "expected.txt")) as f:
        kpkg = re.search(r"^kernel=linux-image-(\S+)$", f.read(), re.M)
    if not kpkg:
        print(f"FAIL: no kernel= line in {guest_dir}/expected.txt")
        return 1
    release = kpkg.group(1)
    h = hashlib.sha256()
    with open(disk, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    disk_sha = h.hexdigest()

    port = free_port()
    cmd = [vx86, "-kernel", os.path.join(guest_dir, "vmlinuz"), "-initrd", os.path.join(guest_dir, "initramfs.cpio.gz"),
           "-append", "console=ttyS0 vx86.sshd", "-m", "256", "-snapshot",
           *(["-drive", f"file={disk},format=raw,if=virtio"] if virtio else ["-hda", disk]),
           "-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{port}-:22",
           "-device", ("virtio-net-pci" if virtio else "e1000") + ",netdev=n0",
           "-nographic", "-no-reboot", "-timeout", str(BOOT_TIMEOUT + 3 * SSH_TIMEOUT)] + extra
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    con = Console(p)
    work = tempfile.mkdtemp(prefix="vx86-ssh-")

    def fail(msg):
        print("FAIL: " + msg)
        print("--- last console lines ---")
        print(con.tail())
        return 1

    base = ["ssh", "-F", "/dev/null", "-p", str(port), "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes",
            "-o", "ConnectTimeout=60", "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=8"]
    with_key = base + ["-i", key, "-o", "IdentitiesOnly=yes"]

    def ssh(args, command, timeout=SSH_TIMEOUT):
        r = subprocess.run(args + ["root@127.0.0.1", command], stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=timeout)
        print(f"$ ssh ... {command!r}: status {r.returncode}")
        return r

    try:
        t0 = time.monotonic()
        net = con.wait_for(("VX86-NET ",), BOOT_TIMEOUT)
        if not net or not net.startswith("VX86-NET 10.0.2.15/24 via 10.0.2.2"):
            return fail(f"the guest's network: {net!r} (want 10.0.2.15/24 via 10.0.2.2)")
        ready = con.wait_for(("VX86-SSHD-READY", "VX86-SSHD-FAILED"), BOOT_TIMEOUT)
        if ready != "VX86-SSHD-READY":
            return fail(f"dropbear did not come up ({ready!r})")
        print(f"{net}; dropbear up after {time.monotonic() - t0:.1f} s")

        # The command of the issue: the disk's sha256 and the kernel, through the forwarded port.
        t1 = time.monotonic()
        r = ssh(with_key, f"sha256sum {dev}; uname -a")
        lines = r.stdout.splitlines()
        if r.returncode != 0 or len(lines) != 2:
            return fail(f"ssh exited {r.returncode}: stdout {r.stdout!r}, stderr {r.stderr!r}")
        if lines[0].split() != [disk_sha, dev]:
            return fail(f"the guest's sha256sum {dev} is {lines[0]!r}, the host's of {disk} is {disk_sha}")
        uname = lines[1].split()
        if uname[0] != "Linux" or uname[2] != release or "i686" not in uname:
            return fail(f"uname -a in the guest: {lines[1]!r} (want Linux {release} ... i686)")
        print(f"sha256sum {dev} = the host's ({disk_sha}); {lines[1]} ({time.monotonic() - t1:.1f} s)")

        # A session on a pseudo-terminal (devpts).
        r = ssh(with_key + ["-tt"], "tty")
        if r.returncode != 0 or not re.fullmatch(r"/dev/pts/\d+", r.stdout.strip()):
            return fail(f"tty on a pseudo-terminal: status {r.returncode}, {r.stdout!r}, {r.stderr!r}")
        print(f"tty: {r.stdout.strip()}")

        # Keys only: without one the server offers no other method; a key it does not know is refused.
        r = ssh(base + ["-o", "PubkeyAuthentication=no"], "true", timeout=120)
        if r.returncode != 255 or "Permission denied (publickey)" not in r.stderr:
            return fail(f"a login without a key: status {r.returncode}, stderr {r.stderr!r}")
        other = os.path.join(work, "other")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other], check=True, timeout=60)
        r = ssh(base + ["-i", other, "-o", "IdentitiesOnly=yes"], "true", timeout=120)
        if r.returncode != 255 or "Permission denied (publickey)" not in r.stderr:
            return fail(f"a login with an unknown key: status {r.returncode}, stderr {r.stderr!r}")
        print("without a key and with an unknown key: Permission denied (publickey)")

        # busybox poweroff from the session: the command returns, then the guest powers off.
        r = ssh(with_key, "poweroff")
        if r.returncode != 0:
            return fail(f"ssh poweroff exited {r.returncode}: stderr {r.stderr!r}")
        try:
            status = p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            return fail("the guest did not power off within 60 s of `poweroff`")
        if status != 0:
            return fail(f"vx86 exited with status {status} after the guest's power-off")
        if con.wait_for(("VX86-POWEROFF",), 5) is None:
            return fail("the guest's init did not print VX86-POWEROFF")
        print("poweroff over SSH: vx86 exited with status 0")
        return 0
    except subprocess.TimeoutExpired as e:
        return fail(f"timed out: {e}")
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
