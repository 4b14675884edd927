#!/usr/bin/env python3
"""The gdb stub against Debian's gdb in batch mode (issue 14), on our Multiboot test kernel
(roms/tests/multiboot_kernel.asm, flat protected mode at 1 MiB), started with -S:

1. gdb connects, single-steps ten instructions (each stop's EIP recorded), reads the registers
   (CR0 among them) and the Multiboot header from memory, writes memory and reads it back
   (also with `monitor xp`), and detaches.
2. In a new run, a breakpoint at the tenth step's address, continue: the stop is there, with the
   registers the stepping run had there; then continue to the guest's exit (gdb sees it exit with
   the guest's status). Runs 1 and 2 go under -jit on and -jit off: the same EIPs and registers.
3. Garbage on the socket (bad checksums, overlong and unterminated packets, non-hex fields, a
   client that vanishes mid-packet) leaves vx86 serving: with a ROM that loops forever, a real
   gdb attaches afterwards, finds it stopped, reads it and kills it.

Usage: gdb_session.py VX86 DEMO_ROM MULTIBOOT_KERNEL LOOP_ROM. Exit status 77 (skipped) without gdb.
"""
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import sys
import time

from gdb_client import free_port, registers, run_gdb as gdb


def start_vx86(vx86, rom, kernel, jit, port):
    cmd = [vx86, "-bios", rom] + (["-kernel", kernel] if kernel else []) + [
        "-nographic", "-S", "-gdb", f"tcp::{port}", "-jit", jit, "-timeout", "60"]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    p.stderr.readline()  # "vx86: waiting for gdb on ...": it listens (a probe connection would be gdb)
    return p


def main():
    vx86, rom, kernel, loop_rom = sys.argv[1:5]
    if not shutil.which("gdb"):
        print("SKIP: gdb is not installed (scripts/setup.sh installs it)")
        return 77
    with open(kernel, "rb") as f:
        entry = struct.unpack_from("<I", f.read(32), 28)[0]  # the Multiboot header's entry_addr
    ok = True

    def check(cond, what):
        nonlocal ok
        print(("ok: " if cond else "FAIL: ") + what)
        ok &= bool(cond)

    results = {}
    for jit in ("on", "off"):
        # 1. Ten single steps, registers, memory, detach.
        port = free_port()
        p = start_vx86(vx86, rom, kernel, jit, port)
        out = gdb(port, ["p/x $eip"] + ["stepi", "p/x $eip"] * 10 + ["x/2xw 0x100000", "info registers", "info registers cr0",
                                                                     "set {int}0x200000 = 0x12345678", "x/xw 0x200000",
                                                                     "monitor xp /1xw 0x200000", "detach"])
        p.wait(timeout=60)
        eips = [int(v, 16) for v in re.findall(r"^\$\d+ = (0x[0-9a-f]+)", out, re.M)]
        check(len(eips) == 11 and eips[0] == entry, f"jit {jit}: stopped at the entry {entry:#x}, then ten steps")
        check(len(set(eips)) == len(eips), f"jit {jit}: each step moved EIP")
        check("0x1badb002" in out, f"jit {jit}: memory at 0x100000 holds the Multiboot magic")
        check(re.search(r"^cr0\s+0x11\s", out, re.M) is not None, f"jit {jit}: CR0 from the target description")
        check(re.search(r"^0x200000:\s+0x12345678$", out, re.M) is not None and "00200000: 0x12345678" in out,
              f"jit {jit}: a memory write (X packet) read back by gdb and by monitor xp")
        regs = registers(out)
        check(regs.get("eip") == (hex(eips[-1]) if eips else None), f"jit {jit}: info registers after the steps")
        check(p.returncode in (1, 3, 5), f"jit {jit}: the guest ran on to its exit after detach (status {p.returncode})")
        # 2. A breakpoint at the tenth step's address from the start; continue to the exit.
        port = free_port()
        p = start_vx86(vx86, rom, kernel, jit, port)
        target = eips[-1] if eips else entry
        out2 = gdb(port, [f"break *{target:#x}", "continue", "info registers", "delete", "continue"])
        p.wait(timeout=60)
        regs2 = registers(out2)
        check(regs2.get("eip") == hex(target), f"jit {jit}: the breakpoint stopped at {target:#x}")
        check(regs2 == regs, f"jit {jit}: the same registers as after ten steps")
        check(re.search(r"exited with code 0?5", out2) is not None, f"jit {jit}: gdb saw the guest exit (status 5)")
        results[jit] = (eips, regs)
    check(results["on"] == results["off"], "jit on and jit off: the same steps and registers")

    # 3. Garbage, then a real session.
    port = free_port()
    p = start_vx86(vx86, loop_rom, None, "on", port)
    rng = random.Random(7)
    junk = [b"$g#00", b"$" + b"m" * 70000, b"$m100000,zz#00", b"$m1000000000,10#" + b"%02x" % (
        sum(b"m1000000000,10") & 0xFF), b"$Z0,notanumber,1#00", b"$qXfer:features:read:target.xml:ffffffff,1#00",
        b"\x03\x03+-", b"$P99=00#00", b"$M100000,ffffffff:00#00",
        b"$X100000,4:\x7d#00", b"$X100000,ffffffff:ab#00"]
    junk += [bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 400))) for _ in range(30)]
    for j in junk:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(j)
        try:
            s.recv(4096)
        except OSError:
            pass
        s.close()  # vanishes, maybe mid-packet
    # A well-formed packet with hostile fields, checksummed: the reply is an error, not a crash.
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    monitor = b"qRcmd," + b"xp /99999999xg 0xfffffff0".hex().encode()
    for pkt in [b"m100000,ffffffff", b"Gzz", b"p99", b"Z5,0,0", b"qXfer:features:read:target.xml:0,ffffffff",
                b"Z2,ffffffff,ffff", b"Z3,0,0", b"Z4,1000,ffffffff", b"qRcmd,zz", b"qRcmd," + b"ab" * 5000, monitor,
                b"qRcmd," + b"info tlb".hex().encode(), b"qRcmd," + b"x /4xw 0xfffffffe".hex().encode(),
                b"X100000,4:\x7d", b"X100000,2:abc", b"Xfec00000,1:a", b"X0,ffffffff:"]:
        s.sendall(b"$" + pkt + b"#" + b"%02x" % (sum(pkt) & 0xFF))
        time.sleep(0.05)
    reply = s.recv(65536)
    s.close()
    check(reply.startswith(b"+"), "hostile but well-formed packets answered")
    out3 = gdb(port, ["info registers eip cs", "x/4xb 0xffff0", "kill"])
    p.wait(timeout=60)
    check(re.search(r"^cs\s+0xf000", out3, re.M) is not None and "0xffff0:" in out3,
          "after the garbage, gdb attaches to the running guest and reads it")
    check(p.returncode == 0, f"gdb's kill ends vx86 (status {p.returncode})")

    # 4. A Unix socket (-gdb unix:PATH): gdb connects to the path; the socket is gone afterwards.
    path = os.path.abspath(f"gdb_session_{os.getpid()}.sock")
    p = subprocess.Popen([vx86, "-bios", loop_rom, "-nographic", "-S", "-gdb", f"unix:{path}", "-timeout", "60"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    p.stderr.readline()
    args = ["gdb", "-batch", "-nx", "-ex", "set architecture i8086", "-ex", f"target remote {path}",
            "-ex", "monitor info registers", "-ex", "kill"]
    r4 = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    out4 = r4.stdout + r4.stderr
    p.wait(timeout=60)
    check(re.search(r"EIP=0000fff0 .*\nES =0000", out4) is not None, "gdb on a Unix socket: monitor info registers")
    check(p.returncode == 0 and not os.path.exists(path), "the Unix socket is removed at exit")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
