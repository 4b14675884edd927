"""The Debian guest (scripts/build-guest.sh) as emulator arguments, shared by the scripts that boot
it (bench-guest.py, perf-phase.py); vx86 and qemu-system-i386 take the same ones."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUEST = os.path.join(ROOT, "guest")


def guest_args(append, tool):
    """-kernel/-initrd/-append/-m 256 for the guest; exits naming the missing file if it is not built."""
    for f in ("vmlinuz", "initramfs.cpio.gz"):
        if not os.path.exists(os.path.join(GUEST, f)):
            sys.exit(f"{tool}: guest/{f} is missing: run scripts/build-guest.sh")
    return ["-kernel", os.path.join(GUEST, "vmlinuz"), "-initrd", os.path.join(GUEST, "initramfs.cpio.gz"),
            "-append", append, "-m", "256", "-nographic", "-no-reboot"]
