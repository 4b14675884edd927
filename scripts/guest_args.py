"""The Debian guest (scripts/build-guest.sh) as emulator arguments, shared by the scripts that boot
it (bench-guest.py, bench-snapshot.py, perf-phase.py); vx86 and qemu-system-i386 take the same
ones; and the run that times the guest's marker lines."""
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUEST = os.path.join(ROOT, "guest")


def guest_args(append, tool):
    """-kernel/-initrd/-append/-m 256 for the guest; exits naming the missing file if it is not built."""
    for f in ("vmlinuz", "initramfs.cpio.gz"):
        if not os.path.exists(os.path.join(GUEST, f)):
            sys.exit(f"{tool}: guest/{f} is missing: run scripts/build-guest.sh")
    return ["-kernel", os.path.join(GUEST, "vmlinuz"), "-initrd", os.path.join(GUEST, "initramfs.cpio.gz"),
            "-append", append, "-m", "256", "-nographic", "-no-reboot"]


def run_marked(cmd, timeout):
    """Runs one emulator on the guest; returns {'boot': s, workload: s, ..., 'total': s}: the
    seconds to VX86-GUEST-UP, between each VX86-BENCH-BEGIN/END NAME pair, and to VX86-GUEST-DONE,
    timed from the host."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    marks, begin = {}, {}
    try:
        for raw in p.stdout:
            now = time.monotonic() - t0
            line = raw.decode(errors="replace").strip()
            if line.endswith("VX86-GUEST-UP") and "boot" not in marks:
                marks["boot"] = now
            elif "VX86-BENCH-BEGIN " in line:
                begin[line.split()[-1]] = now
            elif "VX86-BENCH-END " in line:
                name = line.split()[-1]
                marks[name] = now - begin.get(name, now)
            elif "VX86-GUEST-DONE" in line:
                marks["total"] = now
                break
            if now > timeout:
                break
    finally:
        p.kill()
        p.wait()
    return marks
