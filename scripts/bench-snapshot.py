#!/usr/bin/env python3
"""Lifecycle benchmarks (issue 11), measured from the host in one run.

--snapshot (default): whole-machine snapshots of a 256 MiB Debian guest at its shell, through the
  QMP socket: seconds for savevm and loadvm and the file size, for the idle guest and again after
  the guest filled 100 MiB of its tmpfs with random (incompressible) data.
--disk: disk I/O inside the guest (vx86.diskbench: dd of 64 MiB sequential write and read, and 256
  random 4 KiB O_DIRECT writes and reads, one dd process each) on a fresh 1 GiB scratch disk, raw
  and qcow2 (qemu-img create), in vx86 and in Debian's qemu-system-i386 (TCG), alternately. The
  random rows subtract the same loop without the disk (the dd processes' own cost, which differs
  between emulators) and report 4 KiB operations per second.

Usage: scripts/bench-snapshot.py [--snapshot | --disk] [--runs N] [--vx86 PATH] [--qemu PATH]
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

from guest_args import GUEST, ROOT, run_marked

KERNEL, INITRD = os.path.join(GUEST, "vmlinuz"), os.path.join(GUEST, "initramfs.cpio.gz")


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else float("nan")


class Qmp:
    def __init__(self, path, timeout=60):
        end = time.time() + timeout
        while not os.path.exists(path):
            if time.time() > end:
                raise RuntimeError("no QMP socket")
            time.sleep(0.05)
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.f = self.s.makefile("rwb", buffering=0)
        self.f.readline()
        self.cmd("qmp_capabilities")

    def cmd(self, name, args=None):
        self.f.write((json.dumps({"execute": name, "arguments": args or {}}) + "\n").encode())
        while True:
            m = json.loads(self.f.readline())
            if "event" not in m:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (name, m["error"]))
                return m


def wait_for(proc_out, marker, timeout):
    """Reads the console file until `marker` appears."""
    end = time.time() + timeout
    while time.time() < end:
        if marker in open(proc_out, errors="replace").read():
            return True
        time.sleep(0.05)
    return False


def snapshot_run(vx86, work):
    sock, console = os.path.join(work, "qmp.sock"), os.path.join(work, "console.txt")
    for p in (sock, console):
        if os.path.exists(p):
            os.unlink(p)
    open(console, "w").close()
    with open(console, "wb") as out:
        proc = subprocess.Popen([vx86, "-m", "256", "-nic", "none", "-kernel", KERNEL, "-initrd", INITRD,
                                 "-append", "console=ttyS0 vx86.shell", "-nographic",
                                 "-qmp", "unix:%s,server,nowait" % sock],
                                stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT)
    row = {}
    try:
        q = Qmp(sock)
        if not wait_for(console, "VX86-GUEST-DONE", 300):
            raise RuntimeError("the guest did not come up")
        time.sleep(1)
        for state in ("idle", "100 MiB random"):
            if state != "idle":
                proc.stdin.write(b"dd if=/dev/urandom of=/tmp/fill bs=1M count=100 2>/dev/null; echo VX86-FI''LLED\n")
                proc.stdin.flush()
                if not wait_for(console, "VX86-FILLED", 300):
                    raise RuntimeError("the guest did not fill its memory")
            snap = os.path.join(work, "s.vxs")
            t0 = time.monotonic()
            q.cmd("savevm", {"filename": snap})
            t1 = time.monotonic()
            q.cmd("loadvm", {"filename": snap})
            t2 = time.monotonic()
            row[state] = (t1 - t0, t2 - t1, os.path.getsize(snap))
            os.unlink(snap)
        q.cmd("quit")
    finally:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return row


def snapshot_main(a):
    results = {}
    with tempfile.TemporaryDirectory() as work:
        for r in range(a.runs):
            for state, v in snapshot_run(a.vx86, work).items():
                results.setdefault(state, []).append(v)
            print("run %d done" % (r + 1), file=sys.stderr)
    print("| 256 MiB guest | savevm s | loadvm s | file MiB |")
    print("|---|---|---|---|")
    for state, vs in results.items():
        print("| %s | %.3f | %.3f | %.1f |" % (state, median([v[0] for v in vs]), median([v[1] for v in vs]),
                                                median([v[2] for v in vs]) / 2**20))


DISK_ROWS = ["seqwrite", "seqread", "randwrite", "randread", "randnone"]


def disk_main(a):
    base = ["-m", "256", "-kernel", KERNEL, "-initrd", INITRD, "-append", "console=ttyS0 vx86.diskbench"]
    configs = [("vx86 raw", "vx86", "raw"), ("vx86 qcow2", "vx86", "qcow2"),
               ("QEMU raw", "qemu", "raw"), ("QEMU qcow2", "qemu", "qcow2")]
    results = {name: {} for name, _, _ in configs}
    with tempfile.TemporaryDirectory() as work:
        img = os.path.join(work, "scratch")
        for r in range(a.runs):
            for name, emu, fmt in configs:
                if os.path.exists(img):
                    os.unlink(img)
                subprocess.run(["qemu-img", "create", "-q", "-f", fmt, img, "1G"], check=True)
                drive = "file=%s,format=%s,if=ide,index=0,media=disk" % (img, fmt)
                if emu == "vx86":
                    cmd = [a.vx86] + base + ["-nic", "none", "-drive", drive, "-nographic"]
                else:
                    cmd = [a.qemu, "-accel", "tcg", "-display", "none", "-serial", "stdio",
                           "-nic", "none", "-no-reboot", "-drive", drive] + base
                for k, v in run_marked(cmd, a.timeout).items():
                    results[name].setdefault(k, []).append(v)
                print("run %d: %s done" % (r + 1, name), file=sys.stderr)
    print("| in-guest dd | " + " | ".join(n for n, _, _ in configs) + " |")
    print("|---|" + "---|" * len(configs))

    def cell(name, row):
        m = results[name]
        if row in ("seqwrite", "seqread"):
            return "%.1f MB/s" % (64 * 1.048576 / median(m.get(row, [float("nan")])))
        extra = median(m.get(row, [float("nan")])) - median(m.get("randnone", [float("nan")]))
        return "%.0f op/s" % (256 / extra) if extra > 0 else "n/a"
    for row, label in (("seqwrite", "64 MiB sequential write"), ("seqread", "64 MiB sequential read"),
                       ("randwrite", "random 4 KiB writes (O_DIRECT)"), ("randread", "random 4 KiB reads (O_DIRECT)")):
        print("| %s | %s |" % (label, " | ".join(cell(n, row) for n, _, _ in configs)))
    print("| (256 dd processes without the disk, s) | %s |" %
          " | ".join("%.2f" % median(results[n].get("randnone", [float("nan")])) for n, _, _ in configs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--snapshot", action="store_true")
    ap.add_argument("--disk", action="store_true")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--vx86", default=os.path.join(ROOT, "build", "vx86"))
    ap.add_argument("--qemu", default="qemu-system-i386")
    ap.add_argument("--timeout", type=float, default=600)
    a = ap.parse_args()
    if a.disk:
        disk_main(a)
    else:
        snapshot_main(a)


if __name__ == "__main__":
    main()
