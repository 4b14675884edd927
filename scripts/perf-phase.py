#!/usr/bin/env python3
"""Profiles one phase of the guest benchmark: boots the Debian guest (scripts/build-guest.sh) in
vx86 with -perfmap and attaches `perf record` only between the guest's VX86-BENCH-BEGIN and
VX86-BENCH-END lines for that workload, so the profile holds that workload alone.

Usage: scripts/perf-phase.py WORKLOAD [--vx86 PATH] [--out perf.data] [-- EXTRA VX86 ARGS]
WORKLOAD: sha256, sha256x2, gzip, spawn1000, pipe or fault64. Then: perf report -i perf.data --sort sym
(`-- -d in_asm,out_asm -D FILE` also logs the host code of each block, to read a hot one.)
"""
import argparse
import os
import signal
import subprocess
import sys
import time

from guest_args import ROOT, guest_args



def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workload", choices=["sha256", "sha256x2", "gzip", "spawn1000", "pipe", "fault64"])
    ap.add_argument("--vx86", default=os.path.join(ROOT, "build", "vx86"))
    ap.add_argument("--out", default="perf.data")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("extra", nargs="*", help="more vx86 arguments (after --)")
    args = ap.parse_args()
    cmd = ([args.vx86, "-perfmap", "-timeout", str(int(args.timeout))] +
           guest_args("console=ttyS0 vx86.bench nokaslr", "perf-phase") + args.extra)
    vm = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    perf, t0 = None, 0.0
    try:
        for raw in vm.stdout:
            line = raw.decode(errors="replace")
            if perf is None and "VX86-BENCH-BEGIN " + args.workload in line:
                perf = subprocess.Popen(["perf", "record", "-F", "4000", "-o", args.out, "-p", str(vm.pid)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                t0 = time.monotonic()
            elif perf is not None and "VX86-BENCH-END " + args.workload in line:
                perf.send_signal(signal.SIGINT)
                perf.wait()
                print(f"perf-phase: {args.workload} recorded for {time.monotonic() - t0:.2f} s into {args.out}")
                return 0
    finally:
        vm.kill()
        vm.wait()
        if perf is not None and perf.poll() is None:
            perf.kill()
    sys.exit(f"perf-phase: the guest never finished {args.workload}")


if __name__ == "__main__":
    sys.exit(main())
