#!/usr/bin/env python3
"""Several CPUs under Debian's gdb: vx86 -smp 2 runs roms/tests/smp.asm (the BSP starts the AP
with INIT and STARTUP vector 40h); the CPUs are gdb's threads 1 and 2.

1. Before anything runs: `info threads` lists two threads (CPU 0 the BSP, CPU 1 an AP waiting for
   a STARTUP IPI).
2. A breakpoint at the AP's first instruction (linear 40000h): `continue` stops in thread 2, with
   CS = 4000h and EIP = 0 (real mode, where the STARTUP vector puts it); `thread 1` shows the BSP
   elsewhere, in protected mode.
3. After `delete` and `continue` the ROM runs to its exit (the test passes: status 1).

Usage: gdb_smp.py VX86 SMP_ROM. Exit status 77 (skipped) without gdb."""
import re
import shutil
import subprocess
import sys

from gdb_client import free_port, registers, run_gdb as gdb


def main():
    vx86, rom = sys.argv[1:3]
    if not shutil.which("gdb"):
        print("SKIP: gdb is not installed")
        return 77
    ok = True

    def check(cond, what):
        nonlocal ok
        print(("ok: " if cond else "FAIL: ") + what)
        ok &= bool(cond)

    port = free_port()
    p = subprocess.Popen([vx86, "-bios", rom, "-smp", "2", "-nographic", "-S", "-gdb", f"tcp::{port}",
                          "-timeout", "60"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stderr.readline()  # "waiting for gdb"
    out = gdb(port, ["info threads", "break *0x40000", "continue", "info threads", "info registers",
                     "thread 1", "info registers", "delete", "continue"])
    p.communicate(timeout=60)
    print(out)
    first = out.split("Breakpoint 1 at")[0]
    check(re.search(r"Thread 1 \(CPU 0 \(BSP\)\)", first) and re.search(r"Thread 2 \(CPU 1 \(AP\) waiting for SIPI\)",
                                                                        first), "two threads before the start")
    check("[Switching to Thread 2]" in out and re.search(r"^\* 2\s+Thread 2 \(CPU 1 \(AP\)\)\s+0x00000000", out, re.M)
          is not None, "the breakpoint stopped thread 2, now the current one")
    parts = out.split("[Switching to thread 1")
    ap = registers(parts[0].split("[Switching to Thread 2]")[-1]) if len(parts) > 1 else {}
    bsp = registers(parts[1]) if len(parts) > 1 else {}
    check(ap.get("cs") == "0x4000" and ap.get("eip") == "0x0", "the AP stopped at 4000:0000 (%r)" % ap)
    check(bsp.get("cs") not in (None, "0x4000") and bsp.get("eip") not in (None, "0x0"),
          "thread 1 shows the BSP elsewhere (%r)" % bsp)
    check(p.returncode == 1 and "exited with code 01" in out,
          "the ROM ran to its end and passed after continue (status %r)" % p.returncode)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
