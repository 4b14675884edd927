#!/usr/bin/env python3
"""Timekeeping in the Debian guest (scripts/build-guest.sh, booted with vx86.sleep): the guest's
`sleep 5` must take 5 s of host time within 2%, timed from the host by the guest's
VX86-SLEEP-BEGIN/END lines on the serial console; Linux must have measured the TSC at the
board's nominal 1000 MHz (within 1%). The clocksource it ended with is printed, not checked: with
no HPET or ACPI PM timer on this board, Linux's clocksource watchdog compares the TSC with the
jiffies-based PIT clocksource and sometimes finds a skew of one tick (issue 8's note).

Usage: linux_sleep.py VX86 GUEST_DIR. Exit status 77 (CTest: skipped) when the guest is not built.
"""
import os
import re
import subprocess
import sys
import time


def main():
    vx86, guest = sys.argv[1], sys.argv[2]
    for f in ("vmlinuz", "initramfs.cpio.gz"):
        if not os.path.exists(os.path.join(guest, f)):
            print(f"SKIP: {guest}/{f} is missing: run scripts/build-guest.sh")
            return 77
    cmd = [vx86, "-kernel", os.path.join(guest, "vmlinuz"), "-initrd", os.path.join(guest, "initramfs.cpio.gz"),
           "-append", "console=ttyS0 vx86.sleep", "-m", "256", "-nographic", "-no-reboot", "-timeout", "200"]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    begin = end = None
    clock = None
    lines = []
    deadline = time.monotonic() + 240
    try:
        for raw in p.stdout:
            now = time.monotonic()
            line = raw.decode(errors="replace").rstrip()
            lines.append(line)
            if "VX86-CLOCK " in line:
                clock = line.split("VX86-CLOCK ", 1)[1]
            elif line.endswith("VX86-SLEEP-BEGIN"):
                begin = now
            elif line.endswith("VX86-SLEEP-END"):
                end = now
                break
            if now > deadline:
                break
    finally:
        p.kill()
        p.wait()
    if begin is None or end is None or clock is None:
        print("the guest did not print its VX86-CLOCK and VX86-SLEEP lines; last output:")
        print("\n".join(lines[-40:]))
        return 1
    slept = end - begin
    m = re.search(r"cpu MHz\s*:?\s*([0-9.]+)", clock)
    mhz = float(m.group(1)) if m else None
    source = clock.split()[0]
    print(f"guest clocksource {source}, cpu MHz {mhz}, sleep 5 took {slept:.3f} s of host time")
    unstable = [l for l in lines if "Marking clocksource" in l or "unstable" in l]
    ok = True
    if not 4.9 <= slept <= 5.1:
        print(f"FAIL: sleep 5 took {slept:.3f} s (want 5 s within 2%)")
        ok = False
    if mhz is None or not 990 <= mhz <= 1010:
        print(f"FAIL: the guest measured the TSC at {mhz} MHz (want 1000 within 1%)")
        ok = False
    if unstable:
        print("note: " + "\n".join(unstable))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
