#!/usr/bin/env python3
"""Debian's gdb against vx86 running the Debian kernel (issue 14), started with -S:

0. The symbols: Debian's System.map is a stub (the real one is in the -dbg package), so the test
   boots the guest once with `nokaslr` (the kernel then always lands at the same address) and
   reads start_kernel and rest_init from its /proc/kallsyms.
1. A gdb session, deterministic (-icount shift=0) and with the same `nokaslr`: a breakpoint at
   start_kernel stops there; gdb reads the registers (and `monitor info registers` the
   instruction count), memory, and single-steps ten instructions; in start_kernel's code it finds
   `early_boot_irqs_disabled = true` (the first `movb $0x1,ADDR`: the kernel's own code, not
   vx86's) and sets a hardware watchpoint on that variable, which must stop right after the
   writing instruction with the old and new value; a breakpoint at rest_init is the marker that
   continue reaches; `monitor info mem` shows the kernel's mapping; then gdb detaches and the
   guest boots on to its shell's marker.
2. The session runs under -jit on and -jit off: the same stops, registers and counts.
3. A -d exec trace of a run without gdb: the instruction at the count gdb reported for
   start_kernel is start_kernel's first, and the next ten are the ten single steps.

Usage: gdb_linux.py VX86 GUEST_DIR. Exit status 77 (skipped) without gdb or the guest images.
"""
import os
import re
import shutil
import subprocess
import sys
import threading
import time

from gdb_client import free_port, registers as gdb_registers, run_gdb

APPEND = "console=ttyS0 nokaslr"


def guest_cmd(vx86, guest, append, extra):
    return [vx86, "-kernel", os.path.join(guest, "vmlinuz"), "-initrd", os.path.join(guest, "initramfs.cpio.gz"),
            "-append", append, "-m", "256", "-nographic", "-no-reboot"] + extra


def kallsyms(vx86, guest, names):
    """Boots the guest to its shell and reads `names` from /proc/kallsyms."""
    p = subprocess.Popen(guest_cmd(vx86, guest, APPEND + " vx86.shell", ["-timeout", "150"]),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = bytearray()
    done = threading.Event()

    def reader():
        while True:
            chunk = p.stdout.read1(4096)
            if not chunk:
                break
            out.extend(chunk)
        done.set()

    threading.Thread(target=reader, daemon=True).start()
    deadline = time.monotonic() + 150
    sent = False
    symbols = {}
    while time.monotonic() < deadline and not done.is_set():
        text = out.decode(errors="replace")
        if not sent and re.search(r"VX86-GUEST-DONE.*# ", text, re.S):
            pattern = "|".join(names)
            p.stdin.write(f"grep -E ' ({pattern})$' /proc/kallsyms; echo KALLSYMS-END\n".encode())
            p.stdin.flush()
            sent = True
        if sent and re.search(r"^KALLSYMS-END", text, re.M):
            symbols = {n: int(a, 16) for a, n in re.findall(r"^([0-9a-f]{8}) [TtWw] (\w+)\r?$", text, re.M)}
            break
        time.sleep(0.2)
    p.kill()
    p.wait()
    if not all(n in symbols for n in names):
        print("the guest's /proc/kallsyms did not give " + ", ".join(names) + "; its output ended with:")
        print(out.decode(errors="replace")[-2000:])
        return None
    return symbols


def start_vx86(vx86, guest, jit, port, log):
    p = subprocess.Popen(guest_cmd(vx86, guest, APPEND, ["-S", "-gdb", f"tcp::{port}", "-jit", jit, "-icount",
                                                         "shift=0", "-timeout", "400"]),
                         stdin=subprocess.DEVNULL, stdout=open(log, "wb"), stderr=subprocess.PIPE)
    p.stderr.readline()  # "vx86: waiting for gdb on ...": it listens
    return p


def gdb_session(vx86, guest, jit, symbols):
    """Two gdb sessions, each on a fresh vx86: the first stops at start_kernel, reads it and
    finds the variable in its code (batch gdb cannot use what it read without Python), the second
    steps, watches, reaches the marker and detaches."""
    sk, marker = symbols["start_kernel"], symbols["rest_init"]
    log = f"gdb_linux_serial_jit_{jit}.txt"
    port = free_port()
    p = start_vx86(vx86, guest, jit, port, log)
    out1 = run_gdb(port, [f"break *{sk:#x}", "continue", "p/x $eip", "monitor info registers", "info registers",
                          f"x/1xb {sk:#x}", "x/60i $eip", "kill"], timeout=400)
    p.wait(timeout=60)
    m = re.search(r"^\s*(0x[0-9a-f]+):\s+movb\s+\$0x1,(0x[0-9a-f]+)\s*\n\s*(0x[0-9a-f]+):", out1, re.M)
    watch = (int(m.group(2), 16), int(m.group(1), 16), int(m.group(3), 16)) if m else None

    p = start_vx86(vx86, guest, jit, port, log)
    cmds = [f"break *{sk:#x}", "continue", "p/x $eip", "monitor info registers"]
    cmds += ["stepi", "p/x $eip"] * 10
    cmds += ["delete"]
    if watch:
        cmds += [f"watch *(char *){watch[0]:#x}", "continue", "p/x $eip", "delete"]
    cmds += [f"break *{marker:#x}", "continue", "p/x $eip", "monitor info mem", "delete", "detach"]
    out2 = run_gdb(port, cmds, timeout=400)
    try:
        p.wait(timeout=300)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    with open(log, errors="replace") as f:
        serial_text = f.read()
    os.unlink(log)
    return out1, out2, watch, p.returncode, serial_text


def main():
    vx86, guest = sys.argv[1:3]
    if not shutil.which("gdb"):
        print("SKIP: gdb is not installed (scripts/setup.sh installs it)")
        return 77
    for f in ("vmlinuz", "initramfs.cpio.gz"):
        if not os.path.exists(os.path.join(guest, f)):
            print(f"SKIP: {guest}/{f} is missing: run scripts/build-guest.sh")
            return 77
    ok = True

    def check(cond, what):
        nonlocal ok
        print(("ok: " if cond else "FAIL: ") + what)
        ok &= bool(cond)

    symbols = kallsyms(vx86, guest, ["start_kernel", "rest_init"])
    if not symbols:
        return 1
    sk, marker = symbols["start_kernel"], symbols["rest_init"]
    print(f"start_kernel {sk:#x}, rest_init {marker:#x}")
    results = {}
    for jit in ("on", "off"):
        out1, out2, watch, status, serial = gdb_session(vx86, guest, jit, symbols)
        eips = [int(v, 16) for v in re.findall(r"^\$\d+ = (0x[0-9a-f]+)", out2, re.M)]
        icount = re.search(r"icount=(\d+)", out2)
        regs = gdb_registers(out1)
        check(re.search(rf"^\$1 = {sk:#x}$", out1, re.M) is not None, f"jit {jit}: the breakpoint stopped at start_kernel")
        check(regs.get("eip") == hex(sk) and regs.get("cs") == "0x60", f"jit {jit}: gdb's registers there (CS 0x60)")
        check(re.search(r"CR0=8[0-9a-f]{7}", out1) is not None, f"jit {jit}: monitor info registers: paging on")
        check(re.search(rf"^{sk:#x}:\s+0xe8$", out1, re.M) is not None, f"jit {jit}: memory at start_kernel (a call)")
        check(watch is not None, f"jit {jit}: early_boot_irqs_disabled's store found in start_kernel's code")
        check(len(eips) >= 12 and eips[0] == sk and len(set(eips[:11])) == 11, f"jit {jit}: ten single steps")
        steps = eips[1:11]
        if watch:
            check(len(eips) >= 13 and eips[11] == watch[2],
                  f"jit {jit}: the watchpoint stopped right after the store at {watch[1]:#x}")
            check(re.search(r"Old value = 0 '\\000'\s*\nNew value = 1 '\\001'", out2) is not None,
                  f"jit {jit}: gdb saw the variable go from 0 to 1")
        check(len(eips) >= 1 and eips[-1] == marker, f"jit {jit}: continue reached the marker (rest_init)")
        check(re.search(r"^c0000000-[0-9a-f]{8} [0-9a-f]{8} -rw", out2, re.M) is not None,
              f"jit {jit}: monitor info mem shows the kernel's mapping")
        check("VX86-GUEST-DONE" in serial, f"jit {jit}: after detach the guest booted on (status {status})")
        results[jit] = (eips, regs, icount.group(1) if icount else None)
    check(results["on"] == results["off"], "jit on and jit off: the same stops, registers and counts")

    # 3. The -d exec trace of a run without gdb, to just past start_kernel's first instructions.
    eips, _, count = results["on"]
    if count:
        k = int(count)
        trace = "gdb_linux_exec.log"
        subprocess.run(guest_cmd(vx86, guest, APPEND, ["-icount", "shift=0", "-d", "exec", "-dfilter",
                                                       "0xc0000000..0xffffffff", "-D", trace, "-insn-limit",
                                                       str(k + 64), "-timeout", "200"]),
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        lines = {}
        with open(trace) as f:
            for line in f:
                parts = line.split()
                if len(parts) > 2 and parts[0] == "E" and k <= int(parts[1]) <= k + 10:
                    lines[int(parts[1])] = int(parts[2].split(":")[1], 16)
        traced = [lines.get(k + j) for j in range(11)]
        check(traced[0] == sk, f"jit on: the -d exec trace has start_kernel at count {k}, where gdb stopped")
        check(traced[1:] == eips[1:11], "the ten single steps are the next ten instructions of the trace")
        os.unlink(trace)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
