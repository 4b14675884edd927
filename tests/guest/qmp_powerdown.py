#!/usr/bin/env python3
"""QMP with the Debian guest: system_powerdown presses the ACPI power button; Linux's button driver
reports it, the guest's acpid runs its power-button action (VX86-POWER-BUTTON, poweroff), Linux
enters S5, and the client sees POWERDOWN, then SHUTDOWN with "guest": true; vx86 exits 0. Also
savevm of the running guest and query-status on the way.

usage: qmp_powerdown.py VX86 GUEST_DIR WORKDIR     (exit 77: skipped)"""
import json
import os
import socket
import subprocess
import sys
import time

vx86, guest, work = sys.argv[1:4]
kernel, initrd = os.path.join(guest, "vmlinuz"), os.path.join(guest, "initramfs.cpio.gz")
if not os.path.exists(kernel) or not os.path.exists(initrd):
    print("SKIP: no guest (scripts/build-guest.sh)")
    sys.exit(77)
os.makedirs(work, exist_ok=True)
sock_path, console, snap = (os.path.join(work, n) for n in ("qmp.sock", "console.txt", "running.vxs"))
for p in (sock_path, console, snap):
    if os.path.exists(p):
        os.unlink(p)
proc = subprocess.Popen([vx86, "-m", "128", "-nic", "none", "-kernel", kernel, "-initrd", initrd,
                         "-append", "console=ttyS0 vx86.shell vx86.acpid", "-serial", "file:" + console,
                         "-qmp", "unix:%s,server,nowait" % sock_path, "-timeout", "300"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
failures = []


def fail(what):
    failures.append(what)
    print("FAIL:", what)


def text():
    return open(console, errors="replace").read() if os.path.exists(console) else ""


def wait_console(s, timeout):
    end = time.time() + timeout
    while time.time() < end and proc.poll() is None:
        if s in text():
            return True
        time.sleep(0.1)
    return s in text()


end = time.time() + 20
while not os.path.exists(sock_path) and time.time() < end:
    time.sleep(0.05)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sock_path)
f = s.makefile("rwb", buffering=0)
msgs = []


def read():
    line = f.readline()
    if not line:
        return None
    m = json.loads(line)
    msgs.append(m)
    return m


def cmd(name, args=None):
    f.write((json.dumps({"execute": name, "arguments": args or {}}) + "\n").encode())
    while True:
        m = read()
        if m is None or "event" not in m:
            return m


read()  # greeting
cmd("qmp_capabilities")
if not wait_console("VX86-ACPID", 200) or not wait_console("VX86-GUEST-DONE", 60):
    fail("the guest did not come up with acpid: " + text()[-2000:])
else:
    st = cmd("query-status")
    if st != {"return": {"running": True, "singlestep": False, "status": "running"}}:
        fail("query-status: %r" % st)
    if cmd("savevm", {"filename": snap}) != {"return": {}} or os.path.getsize(snap) < 1 << 20:
        fail("savevm of the running guest")
    if cmd("system_powerdown") != {"return": {}}:
        fail("system_powerdown")
    s.settimeout(120)
    events = []
    while True:
        m = read()
        if m is None:
            break
        if "event" in m:
            events.append(m["event"])
            if m["event"] == "SHUTDOWN":
                if m.get("data") != {"guest": True, "reason": "guest-shutdown"}:
                    fail("SHUTDOWN data %r" % m.get("data"))
                break
    names = [m["event"] for m in msgs if "event" in m]
    if "POWERDOWN" not in names or "SHUTDOWN" not in names or names.index("POWERDOWN") > names.index("SHUTDOWN"):
        fail("events %r (want POWERDOWN ... SHUTDOWN)" % names)
    for want in ("VX86-POWER-BUTTON", "reboot: Power down"):
        if want not in text():
            fail("the console lacks %r" % want)
try:
    proc.wait(timeout=60)
except subprocess.TimeoutExpired:
    proc.kill()
    proc.wait()
if proc.returncode != 0:
    fail("vx86 exit status %r: %s" % (proc.returncode, proc.stderr.read().decode()))
if failures:
    print(text()[-3000:])
    sys.exit(1)
print("qmp: system_powerdown shut the guest down through its ACPI power button")
