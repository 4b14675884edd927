#!/usr/bin/env python3
"""Networking of the Debian guest (scripts/build-guest.sh, booted with vx86.net) on vx86's e1000.

  linux_net.py VX86 GUEST_DIR user
    (First: a forwarded port that is already taken is a one-line error, status 2.)
    -nic user with two forwarded ports. The guest gets its address by DHCP, fetches a random file
    from an HTTP server this script runs on the host's 127.0.0.1 (as 10.0.2.2) and prints its
    sha256, which must match; the host then fetches the guest's random file from busybox httpd
    through hostfwd on 127.0.0.1 (sha256 against the one the guest printed), runs commands in a
    guest shell through a second forwarded port (output checked both ways), and powers the guest
    off through it: vx86 must exit with status 0.
  linux_net.py VX86 GUEST_DIR user -smp 2,threads=on
    The same with more vx86 arguments (here: two CPUs on host threads).
  linux_net.py VX86 GUEST_DIR vde
    Two vx86 processes on one Debian vde_switch, static addresses. Guest B pings guest A and
    fetches A's random file with nc; its sha256 must be A's. A's traffic is captured with
    -netdev ...,dump=FILE and the capture must parse with Debian's tcpdump and show the ICMP echo
    request/reply and the TCP stream on port 5000.

Loopback only. Exit status 77 (CTest: skipped) when the guest is not built or a tool is missing.
"""
import hashlib
import http.server
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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Guest:
    """One vx86 process; its serial console collected by a reader thread."""

    extra = []  # more vx86 arguments from the command line

    def __init__(self, vx86, guest_dir, append, net_args, name):
        self.name = name
        self.lines = []
        self.cond = threading.Condition()
        cmd = [vx86, "-kernel", os.path.join(guest_dir, "vmlinuz"), "-initrd",
               os.path.join(guest_dir, "initramfs.cpio.gz"), "-append", "console=ttyS0 vx86.net " + append,
               "-m", "128", "-nographic", "-no-reboot", "-timeout", str(BOOT_TIMEOUT + 60)] + net_args + Guest.extra
        self.p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.p.stdout:
            with self.cond:
                self.lines.append(raw.decode(errors="replace").rstrip("\r\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)  # EOF
            self.cond.notify_all()

    def wait_for(self, prefix, timeout=BOOT_TIMEOUT):
        """The rest of the first console line starting with `prefix`, or None."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    if line is not None and line.startswith(prefix):
                        return line[len(prefix):].strip()
                if self.lines and self.lines[-1] is None:
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def tail(self, n=30):
        with self.cond:
            return "\n".join(l for l in self.lines[-n:] if l is not None)

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()


def fail(msg, *guests):
    print("FAIL: " + msg)
    for g in guests:
        print(f"--- {g.name}: last console lines ---")
        print(g.tail())
    return 1


def sha(data):
    return hashlib.sha256(data).hexdigest()


def test_port_in_use(vx86, guest_dir):
    """A forwarded port that is taken: a one-line error and status 2 before the guest starts."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = subprocess.run([vx86, "-kernel", os.path.join(guest_dir, "vmlinuz"), "-nographic",
                            "-nic", f"user,hostfwd=tcp::{port}-:80"], capture_output=True, text=True, timeout=60)
    err = r.stderr.strip().splitlines()
    if r.returncode != 2 or len(err) != 1 or f"hostfwd=tcp::{port}-:80" not in err[0]:
        print(f"FAIL: a forwarded port in use gave status {r.returncode}, stderr {r.stderr!r}")
        return 1
    print(f"port in use: {err[0]}")
    return 0


def test_user(vx86, guest_dir):
    if test_port_in_use(vx86, guest_dir):
        return 1
    srv = tempfile.mkdtemp(prefix="vx86-net-")
    blob = os.urandom(300 * 1024)
    with open(os.path.join(srv, "blob"), "wb") as f:
        f.write(blob)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=srv, **k)

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    web, shell = free_port(), free_port()
    g = Guest(vx86, guest_dir, f"vx86.fetch=http://10.0.2.2:{httpd.server_port}/blob",
              ["-nic", f"user,hostfwd=tcp::{web}-:80,hostfwd=tcp:127.0.0.1:{shell}-:2323"], "guest")
    try:
        addr = g.wait_for("VX86-NET ")
        if not addr or not addr.startswith("10.0.2.15/24 via 10.0.2.2"):
            return fail(f"DHCP: the guest's address is {addr!r} (want 10.0.2.15/24 via 10.0.2.2)", g)
        got = g.wait_for("VX86-FETCH ")
        if got != sha(blob):
            return fail(f"the guest's sha256 of the host's file is {got!r}, want {sha(blob)}", g)
        served = g.wait_for("VX86-SERVE ")
        if g.wait_for("VX86-NET-READY") is None:
            return fail("the guest's servers did not come up", g)
        # The forwarded ports listen on 127.0.0.1 only.
        lst = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout if shutil.which("ss") else ""
        for port in (web, shell):
            if lst and f"127.0.0.1:{port} " not in lst:
                return fail(f"forwarded port {port} is not listening on 127.0.0.1 only:\n{lst}", g)
        with socket.create_connection(("127.0.0.1", web), timeout=30) as s:
            s.sendall(b"GET /blob HTTP/1.0\r\nHost: guest\r\n\r\n")
            resp = b""
            while chunk := s.recv(65536):
                resp += chunk
        head, _, body = resp.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.") or sha(body) != served:
            return fail(f"hostfwd HTTP: got {len(body)} bytes, sha256 {sha(body)}, the guest served {served}", g)
        print(f"guest fetched {len(blob)} bytes from the host, host fetched {len(body)} bytes from the guest: sha256 ok")
        # A shell through the second forward: a command in, its output back.
        with socket.create_connection(("127.0.0.1", shell), timeout=30) as s:
            s.sendall(b"echo vx86-$((6 * 7)); cat /sys/class/net/eth0/address\n")
            out = b""
            s.settimeout(30)
            while b"52:54:00:12:34:56" not in out:
                chunk = s.recv(4096)
                if not chunk:
                    break
                out += chunk
            if b"vx86-42" not in out or b"52:54:00:12:34:56" not in out:
                return fail(f"the shell through hostfwd answered {out!r}", g)
            print(f"shell through hostfwd: {out.decode().split()}")
            s.sendall(b"poweroff -f\n")
        try:
            status = g.p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            return fail("the guest did not power off", g)
        if status != 0:
            return fail(f"vx86 exited with status {status} after the guest's power-off", g)
        return 0
    finally:
        g.kill()
        httpd.shutdown()
        shutil.rmtree(srv, ignore_errors=True)


def test_vde(vx86, guest_dir):
    if not shutil.which("vde_switch") or not shutil.which("tcpdump"):
        print("SKIP: vde_switch or tcpdump is not installed (Debian's vde2, tcpdump)")
        return 77
    work = tempfile.mkdtemp(prefix="vx86-vde-")
    sock = os.path.join(work, "switch")
    pcap = os.path.join(work, "a.pcap")
    sw = subprocess.Popen(["vde_switch", "-s", sock, "-M", os.path.join(work, "mgmt")],
                          stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    guests = []
    try:
        for _ in range(100):
            if os.path.exists(os.path.join(sock, "ctl")):
                break
            time.sleep(0.05)
        a = Guest(vx86, guest_dir, "vx86.ip=192.168.77.1/24 vx86.blobkb=200",
                  ["-netdev", f"vde,id=n0,sock={sock},dump={pcap}", "-device", "e1000,netdev=n0,mac=52:54:00:00:77:01"], "A")
        guests.append(a)
        b = Guest(vx86, guest_dir, "vx86.ip=192.168.77.2/24 vx86.peer=192.168.77.1",
                  ["-netdev", f"vde,id=n0,sock={sock}", "-device", "e1000,netdev=n0,mac=52:54:00:00:77:02"], "B")
        guests.append(b)
        served = a.wait_for("VX86-SERVE ")
        if not served:
            return fail("guest A did not come up", *guests)
        ping = b.wait_for("VX86-PING ")
        if ping != "ok":
            return fail(f"guest B's ping of A: {ping!r}", *guests)
        got = b.wait_for("VX86-PEER ")
        if got != served:
            return fail(f"guest B's sha256 of A's file is {got!r}, A served {served}", *guests)
        print(f"guest B pinged A and fetched A's file through nc: sha256 {got}")
        out = subprocess.run(["tcpdump", "-n", "-r", pcap], capture_output=True, text=True)
        if out.returncode != 0:
            return fail(f"tcpdump could not read the capture: {out.stderr.strip()}", *guests)
        text = out.stdout
        need = ["192.168.77.2 > 192.168.77.1: ICMP echo request", "192.168.77.1 > 192.168.77.2: ICMP echo reply",
                "192.168.77.1.5000 > 192.168.77.2."]
        missing = [n for n in need if n not in text]
        if missing:
            return fail(f"the capture lacks {missing}; tcpdump printed:\n" + "\n".join(text.splitlines()[:40]), *guests)
        print(f"capture: {len(text.splitlines())} packets parsed by tcpdump, ICMP and the port-5000 stream in it")
        return 0
    finally:
        for g in guests:
            g.kill()
        sw.kill()
        sw.wait()
        shutil.rmtree(work, ignore_errors=True)


def main():
    vx86, guest_dir, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    Guest.extra = sys.argv[4:]
    for f in ("vmlinuz", "initramfs.cpio.gz"):
        if not os.path.exists(os.path.join(guest_dir, f)):
            print(f"SKIP: {guest_dir}/{f} is missing: run scripts/build-guest.sh")
            return 77
    return test_user(vx86, guest_dir) if mode == "user" else test_vde(vx86, guest_dir)


if __name__ == "__main__":
    sys.exit(main())
