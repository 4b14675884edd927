#!/usr/bin/env python3
"""Side-by-side guest benchmark: the same Debian guest (scripts/build-guest.sh) in vx86 and in
Debian's qemu-system-i386 with TCG, one after the other in one run. Times, from the host, the
seconds to the guest's first marker line and the seconds of each in-guest workload (lines
VX86-BENCH-BEGIN/END NAME printed by the guest's /init when the command line has vx86.bench), and
prints a table with the ratio vx86/QEMU (below 1: vx86 is faster). vx86 runs with its JIT (the
default) and, as a third column, with -jit off (the interpreter).

Usage: scripts/bench-guest.py [--runs N] [--vx86 PATH] [--qemu PATH]
       scripts/bench-guest.py --net [--runs N] [--vx86 PATH] [--qemu PATH]
       scripts/bench-guest.py --io [--runs N] [--vx86 PATH] [--qemu PATH]
       scripts/bench-guest.py --idle [--runs N] [--vx86 PATH]
       scripts/bench-guest.py --ab OLD_VX86 [--runs N] [--vx86 PATH] [--new-args ARGS]
       scripts/bench-guest.py --smp [--runs N] [--vx86 PATH] [--qemu PATH]
       scripts/bench-guest.py --mmu [--runs N] [--vx86 PATH] [--qemu PATH]
       scripts/bench-guest.py --check-cost [--runs N] [--vx86 PATH]
With --ab, two vx86 builds instead (OLD_VX86 and --vx86, alternately, both with the JIT): the
minimum and median per row of each, for changes smaller than this machine's noise. --new-args
gives --vx86 more arguments (the same binary twice with --new-args '-smp 2': the cost of the
time-sliced CPUs).
With --smp, several CPUs: vx86 with -smp 1, -smp 2 (time-sliced) and -smp 2,threads=on, and QEMU
with -smp 1 and -smp 2 with multi-threaded TCG (-accel tcg,thread=multi), all alternately; the
ratios are the speed-up of the threaded CPUs on two processes at once (sha256x2, -smp 1 / threads)
and the cost of time-slicing on the rest (-smp 2 / -smp 1).
With --mmu, the MMU schemes: vx86 with -mmu tlb, shadow and host beside QEMU, alternately (pipe:
100,000 round trips between two processes; fault64: 64 MiB of fresh memory touched, twice).
With --check-cost, what the JIT's inline TLB checks cost: vx86 -mmu tlb with each check emitted
once, twice and three times (-jit-tlb-checks 1-3), and -mmu host, alternately. The copies change
nothing but time, so the slope (seconds per added copy, (t3 - t1) / 2) is the checks' cost, and
t1 / (t1 - slope) is the most any scheme that made guest memory accesses free could gain over
-mmu tlb from the checks (walks and fills come on top: see a profile).
With --net, networking: the guest on an e1000 with user networking and two forwarded ports (as
QEMU's -nic user,model=e1000), vx86 and QEMU alternately; the host fetches 64 MiB from the guest's
httpd (guest to host) and sends 64 MiB to a guest nc that counts it (host to guest). MB/s of each
direction, and the emulator process's host CPU seconds per MB (utime + stime from /proc).
With --io, virtio against the emulated devices (issue 12): sequential dd of 256 MiB written
(flushed) and read (page cache dropped) on a fresh 1 GiB raw scratch disk on IDE and on virtio-blk,
the same pair with O_DIRECT (the device's path without the guest's page cache), and the --net transfers (64 MiB each way through hostfwd) on the e1000 and on virtio-net, in vx86
and in QEMU TCG with virtio, alternately in one run; MB/s and the ratios virtio/emulated and
vx86/QEMU (above 1: vx86's virtio is faster).
With --idle, the CPU an idle guest (at its shell) costs over 10 s, with the default NIC and with
-nic none.
"""
import argparse
import socket
import os
import subprocess
import sys
import tempfile
import time

from guest_args import ROOT, guest_args, run_marked as run

APPEND = "console=ttyS0 vx86.bench"
WORKLOADS = ["sha256", "sha256x2", "gzip", "spawn1000", "pipe", "fault64"]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


NET_BYTES = 64 << 20


def run_net(cmd_for, timeout, model="e1000"):
    """One emulator on the network benchmark: {'tx MB/s': .., 'tx cpu s/MB': .., 'rx ...'} where tx
    is guest to host and rx host to guest."""
    web, sink = free_port(), free_port()
    cmd = cmd_for(f"user,model={model},hostfwd=tcp:127.0.0.1:{web}-:80,hostfwd=tcp:127.0.0.1:{sink}-:5002")
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = {}
    lines = iter(p.stdout)

    def wait_line(prefix):
        t_end = time.monotonic() + timeout
        for raw in lines:
            line = raw.decode(errors="replace").strip()
            if prefix in line:
                return line.split(prefix, 1)[1].strip()
            if time.monotonic() > t_end:
                break
        return None

    try:
        if wait_line("VX86-NET-READY") is None:
            return out
        time.sleep(1)
        c0, t0 = cpu_seconds(p.pid), time.monotonic()
        got = 0
        with socket.create_connection(("127.0.0.1", web), timeout=timeout) as s:
            s.sendall(b"GET /big HTTP/1.0\r\n\r\n")
            while chunk := s.recv(1 << 20):
                got += len(chunk)
        t1, c1 = time.monotonic(), cpu_seconds(p.pid)
        if got >= NET_BYTES:
            out["guest to host MB/s"] = NET_BYTES / (1 << 20) / (t1 - t0)
            out["guest to host CPU ms/MB"] = (c1 - c0) * 1000 / (NET_BYTES / (1 << 20))
        block = bytes(1 << 20)
        c0, t0 = cpu_seconds(p.pid), time.monotonic()
        with socket.create_connection(("127.0.0.1", sink), timeout=timeout) as s:
            for _ in range(NET_BYTES // len(block)):
                s.sendall(block)
            s.shutdown(socket.SHUT_WR)
            n = wait_line("VX86-RECV ")
        t1, c1 = time.monotonic(), cpu_seconds(p.pid)
        if n == str(NET_BYTES):
            out["host to guest MB/s"] = NET_BYTES / (1 << 20) / (t1 - t0)
            out["host to guest CPU ms/MB"] = (c1 - c0) * 1000 / (NET_BYTES / (1 << 20))
    finally:
        p.kill()
        p.wait()
    return out


def idle_main(a):
    """CPU of an idle guest (at its shell) over 10 s: the default NIC against -nic none."""
    base = guest_args("console=ttyS0 vx86.shell", "bench-guest")
    results = {"-nic none": [], "default NIC": []}
    for _ in range(a.runs):
        for name in results:
            cmd = [a.vx86] + base + (["-nic", "none"] if name == "-nic none" else [])
            p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            try:
                for raw in p.stdout:
                    if b"VX86-GUEST-DONE" in raw:
                        break
                time.sleep(3)
                c0 = cpu_seconds(p.pid)
                time.sleep(10)
                results[name].append((cpu_seconds(p.pid) - c0) * 10)  # percent of a core
            finally:
                p.kill()
                p.wait()
    for name, xs in results.items():
        print(f"| idle guest, {name} | {median(xs):.1f}% of a core (runs: {', '.join(f'{x:.1f}' for x in xs)}) |")


def net_main(a):
    base = guest_args("console=ttyS0 vx86.net vx86.netbench", "bench-guest")
    cmds = {
        "vx86": lambda nic: [a.vx86] + base + ["-nic", nic],
        "qemu": lambda nic: [a.qemu, "-accel", "tcg"] + base + ["-nic", nic],
    }
    rows = ["guest to host MB/s", "host to guest MB/s", "guest to host CPU ms/MB", "host to guest CPU ms/MB"]
    results = {n: [] for n in cmds}
    for r in range(a.runs):
        for name, cmd in cmds.items():
            m = run_net(cmd, a.timeout)
            results[name].append(m)
            print(f"run {r + 1} {name}: " + ", ".join(f"{k} {v:.1f}" for k, v in m.items()), file=sys.stderr)
    print(f"| measure (median of {a.runs}, 64 MiB) | vx86 | QEMU TCG | vx86/QEMU |")
    print("|---|---|---|---|")
    for row in rows:
        v, q = (median([m[row] for m in results[n] if row in m]) for n in cmds)
        ratio = f"{v / q:.2f}" if v and q else "n/a"
        f = lambda x: f"{x:.1f}" if x is not None else "n/a"
        print(f"| {row} | {f(v)} | {f(q)} | {ratio} |")


DISK_MB = 256


def io_main(a):
    """virtio against IDE and the e1000, in vx86, and QEMU with virtio: disk dd and network MB/s."""
    disk_base = guest_args(f"console=ttyS0 vx86.diskbench vx86.diskseq vx86.diskmb={DISK_MB}", "bench-guest")
    net_base = guest_args("console=ttyS0 vx86.net vx86.netbench", "bench-guest")
    qemu = [a.qemu, "-accel", "tcg"]
    disks = {  # name: (command, drive interface, guest device)
        "vx86 IDE / e1000": ([a.vx86], "ide", "sda"),
        "vx86 virtio": ([a.vx86], "virtio", "vda"),
        "QEMU virtio": (qemu, "virtio", "vda"),
    }
    nics = {"vx86 IDE / e1000": "e1000", "vx86 virtio": "virtio-net-pci", "QEMU virtio": "virtio-net-pci"}
    results = {n: [] for n in disks}
    with tempfile.TemporaryDirectory() as work:
        img = os.path.join(work, "scratch.img")
        for r in range(a.runs):
            for name, (emu, iface, dev) in disks.items():
                if os.path.exists(img):
                    os.unlink(img)
                subprocess.run(["qemu-img", "create", "-q", "-f", "raw", img, "1G"], check=True)
                base = [x.replace("vx86.diskmb", f"vx86.diskdev={dev} vx86.diskmb") for x in disk_base]
                m = run(emu + base + ["-nic", "none", "-drive", f"file={img},format=raw,if={iface}"], a.timeout)
                row = {}
                for k, label in (("seqwrite", "disk write MB/s"), ("seqread", "disk read MB/s")):
                    if k in m:
                        row[label] = DISK_MB * 1.048576 / m[k]
                # The same with O_DIRECT: the device's own path, without the guest's page cache.
                direct = [x.replace("vx86.diskseq", "vx86.diskseq vx86.diskdirect") for x in base]
                m = run(emu + direct + ["-nic", "none", "-drive", f"file={img},format=raw,if={iface}"], a.timeout)
                for k, label in (("seqwrite", "disk write O_DIRECT MB/s"), ("seqread", "disk read O_DIRECT MB/s")):
                    if k in m:
                        row[label] = DISK_MB * 1.048576 / m[k]
                row.update(run_net(lambda nic: emu + net_base + ["-nic", nic], a.timeout, nics[name]))
                results[name].append(row)
                print(f"run {r + 1} {name}: " + ", ".join(f"{k} {v:.1f}" for k, v in row.items()), file=sys.stderr)
    rows = ["disk write MB/s", "disk read MB/s", "disk write O_DIRECT MB/s", "disk read O_DIRECT MB/s",
            "guest to host MB/s", "host to guest MB/s",
            "guest to host CPU ms/MB", "host to guest CPU ms/MB"]
    names = list(disks)
    print(f"| measure (median of {a.runs}; dd {DISK_MB} MiB, net 64 MiB) | " + " | ".join(names) +
          " | virtio/emulated | vx86/QEMU virtio |")
    print("|---" * (len(names) + 3) + "|")
    for row in rows:
        med = {n: median([m[row] for m in results[n] if row in m]) for n in names}
        f = lambda x: f"{x:.1f}" if x is not None else "n/a"
        r = lambda x, y: f"{med[x] / med[y]:.2f}" if med[x] and med[y] else "n/a"
        print(f"| {row} | " + " | ".join(f(med[n]) for n in names) +
              f" | {r('vx86 virtio', 'vx86 IDE / e1000')} | {r('vx86 virtio', 'QEMU virtio')} |")


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--vx86", default=os.path.join(ROOT, "build", "vx86"))
    ap.add_argument("--qemu", default="qemu-system-i386")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--ab", metavar="OLD_VX86", help="compare OLD_VX86 with --vx86 instead of QEMU")
    ap.add_argument("--new-args", default="", help="more arguments for --vx86 in an A/B run, e.g. '-smp 2'")
    ap.add_argument("--smp", action="store_true", help="one CPU, two time-sliced, two on threads (and QEMU's)")
    ap.add_argument("--mmu", action="store_true", help="-mmu tlb, shadow and host beside QEMU")
    ap.add_argument("--check-cost", action="store_true", help="the inline TLB checks' cost (-jit-tlb-checks 1-3)")
    ap.add_argument("--net", action="store_true", help="64 MiB each way through hostfwd on the e1000")
    ap.add_argument("--idle", action="store_true", help="CPU of an idle guest with and without its NIC")
    ap.add_argument("--io", action="store_true", help="virtio-blk/-net against IDE/e1000 and QEMU's virtio")
    a = ap.parse_args()
    if a.io:
        return io_main(a)
    if a.idle:
        return idle_main(a)
    if a.net:
        return net_main(a)
    kernel = guest_args(APPEND, "bench-guest")
    if a.smp:
        cmds = {
            "smp1": [a.vx86] + kernel,
            "smp2": [a.vx86] + kernel + ["-smp", "2"],
            "threads2": [a.vx86] + kernel + ["-smp", "2,threads=on"],
            "qemu1": [a.qemu, "-accel", "tcg"] + kernel,
            "qemu2": [a.qemu, "-accel", "tcg,thread=multi", "-smp", "2"] + kernel,
        }
    elif a.mmu:
        cmds = {
            "tlb": [a.vx86] + kernel + ["-mmu", "tlb"],
            "shadow": [a.vx86] + kernel + ["-mmu", "shadow"],
            "host": [a.vx86] + kernel + ["-mmu", "host"],
            "qemu": [a.qemu, "-accel", "tcg"] + kernel,
        }
    elif a.check_cost:
        cmds = {f"x{n}": [a.vx86] + kernel + ["-mmu", "tlb", "-jit-tlb-checks", str(n)] for n in (1, 2, 3)}
        cmds["host"] = [a.vx86] + kernel + ["-mmu", "host"]
    elif a.ab:
        cmds = {"old": [a.ab] + kernel, "new": [a.vx86] + kernel + a.new_args.split()}
    else:
        cmds = {
            "vx86": [a.vx86] + kernel,
            "qemu": [a.qemu, "-accel", "tcg"] + kernel,
            "interp": [a.vx86] + kernel + ["-jit", "off"],
        }
    results = {name: [] for name in cmds}
    for r in range(a.runs):
        for name, cmd in cmds.items():
            m = run(cmd, a.timeout)
            results[name].append(m)
            print(f"run {r + 1} {name}: " + ", ".join(f"{k} {v:.2f} s" for k, v in m.items()), file=sys.stderr)
    rows = ["boot"] + WORKLOADS + ["total"]
    label = {"boot": "seconds to VX86-GUEST-UP", "total": "seconds to the end (all of it)"}
    fmt = lambda x: f"{x:.2f}" if x is not None else "n/a"

    def table(columns, cells):
        """A Markdown table: a row per measure, `cells(medians by command, samples by command)` after its title."""
        print(f"| measure ({a.runs} runs, median unless named) | " + " | ".join(columns) + " |")
        print("|---" * (len(columns) + 1) + "|")
        for row in rows:
            samples = {n: [m[row] for m in results[n] if row in m] for n in cmds}
            med = {n: median(v) for n, v in samples.items()}
            print(f"| {label.get(row, row + ' (s)')} | " + " | ".join(cells(med, samples)) + " |")

    def ratio(med, x, y):
        return f"{med[x] / med[y]:.2f}" if med[x] and med[y] else "n/a"

    if a.smp:
        names = list(cmds)
        table(names + ["smp2/smp1", "smp1/threads2", "qemu1/qemu2", "threads2/qemu2"],
              lambda med, _: [fmt(med[n]) for n in names] +
              [ratio(med, x, y) for x, y in (("smp2", "smp1"), ("smp1", "threads2"), ("qemu1", "qemu2"),
                                              ("threads2", "qemu2"))])
    elif a.mmu:
        def mmu_cells(med, _):
            mine = [med[n] for n in ("tlb", "shadow", "host") if med[n]]
            best = f"{min(mine) / med['qemu']:.2f}" if mine and med["qemu"] else "n/a"
            return ([fmt(med[n]) for n in ("tlb", "shadow", "host", "qemu")] +
                    [ratio(med, "shadow", "tlb"), ratio(med, "host", "tlb"), best])
        table(["-mmu tlb", "-mmu shadow", "-mmu host", "QEMU TCG", "shadow/tlb", "host/tlb", "best/QEMU"], mmu_cells)
    elif a.check_cost:
        def cost_cells(med, _):
            if None in med.values():
                return ["n/a"] * 7
            slope = (med["x3"] - med["x1"]) / 2
            ceiling = f"{med['x1'] / (med['x1'] - slope):.2f}" if med["x1"] > slope > 0 else "n/a"
            return [fmt(med[n]) for n in ("x1", "x2", "x3")] + [f"{slope:.2f}", ceiling, fmt(med["host"]),
                                                                ratio(med, "x1", "host")]
        table(["tlb", "tlb, checks x2", "tlb, checks x3", "slope (s/copy)", "tlb/(tlb - slope)", "host", "tlb/host"],
              cost_cells)
    elif a.ab:
        def ab_cells(_, samples):
            o, n = samples["old"], samples["new"]
            return [fmt(min(o) if o else None), fmt(median(o)), fmt(min(n) if n else None), fmt(median(n)),
                    f"{min(n) / min(o):.2f}" if o and n else "n/a"]
        table(["old min", "old median", "new min", "new median", "new/old (min)"], ab_cells)
    else:
        table(["vx86 (JIT)", "QEMU TCG", "vx86/QEMU", "vx86 -jit off"],
              lambda med, _: [fmt(med["vx86"]), fmt(med["qemu"]), ratio(med, "vx86", "qemu"), fmt(med["interp"])])

if __name__ == "__main__":
    main()
