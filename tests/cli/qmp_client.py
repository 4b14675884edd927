#!/usr/bin/env python3
"""The QMP control socket, driven by a test client: vx86 runs a ROM that spins forever with
-qmp unix:SOCK,server,nowait; the client checks the greeting, capabilities negotiation, replies
with ids, malformed requests (the VM keeps running), stop/cont with their events, savevm/loadvm
to files, system_reset, and quit with its SHUTDOWN event and vx86's exit status 0.

usage: qmp_client.py VX86 ROM WORKDIR"""
import json
import os
import socket
import subprocess
import sys
import time

vx86, rom, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
sock_path = os.path.join(work, "qmp.sock")
snap = os.path.join(work, "qmp-snap.vxs")
for p in (sock_path, snap):
    if os.path.exists(p):
        os.unlink(p)

proc = subprocess.Popen([vx86, "-bios", rom, "-m", "4", "-nic", "none", "-debugcon", "none",
                         "-qmp", "unix:" + sock_path + ",server,nowait", "-timeout", "120"],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


deadline = time.time() + 20
while not os.path.exists(sock_path):
    if time.time() > deadline or proc.poll() is not None:
        print("vx86 did not create the socket", proc.communicate())
        sys.exit(1)
    time.sleep(0.05)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sock_path)
f = s.makefile("rwb", buffering=0)
events = []


def read_msg():
    line = f.readline()
    if not line:
        raise SystemExit("vx86 closed the QMP socket")
    return json.loads(line)


def reply():
    """The next reply (events seen on the way are kept)."""
    while True:
        m = read_msg()
        if "event" in m:
            events.append(m)
            continue
        return m


def cmd(name, args=None, id_=None, raw=None):
    if raw is not None:
        f.write(raw)
    else:
        req = {"execute": name}
        if args is not None:
            req["arguments"] = args
        if id_ is not None:
            req["id"] = id_
        f.write((json.dumps(req) + "\n").encode())
    return reply()


def wait_event(name, timeout=10):
    end = time.time() + timeout
    s.settimeout(timeout)
    while time.time() < end:
        for e in events:
            if e["event"] == name:
                events.remove(e)
                return e
        events.append(read_msg())
    return None


greeting = read_msg()
check("QMP" in greeting and "version" in greeting["QMP"], "greeting has QMP.version: %r" % greeting)
r = cmd("query-status")
check(r.get("error", {}).get("class") == "CommandNotFound", "commands before qmp_capabilities refused: %r" % r)
check(cmd("qmp_capabilities", id_="neg") == {"return": {}, "id": "neg"}, "qmp_capabilities with id")
r = cmd("qmp_capabilities")
check(r.get("error", {}).get("class") == "CommandNotFound", "second negotiation refused")
r = cmd("query-status", id_=7)
check(r == {"return": {"running": True, "singlestep": False, "status": "running"}, "id": 7}, "running: %r" % r)
# Malformed requests: errors, and the VM keeps running.
check(cmd(None, raw=b"this is not json\n").get("error", {}).get("class") == "GenericError", "garbage line")
check(cmd(None, raw=b'{"execute": "query-status", \n"arguments": [1,2]}\n').get("error", {}).get("class")
      == "GenericError", "arguments not an object")
check(cmd(None, raw=b'{"no-execute": 1}\n').get("error", {}).get("class") == "GenericError", "no execute")
check(cmd("frobnicate").get("error", {}).get("class") == "CommandNotFound", "unknown command")
check(cmd("savevm", {}).get("error", {}).get("desc") == "Parameter 'filename' is missing", "savevm without a file")
check("error" in cmd("loadvm", {"filename": "/nonexistent/x.vxs"}), "loadvm of a missing file")
check(cmd("query-status")["return"]["status"] == "running", "still running after the bad requests")
# Two requests in one write, one split over two writes.
f.write(b'{"execute":"query-version","id":1}{"execute":"query-version","id":2}\n')
check(reply().get("id") == 1 and reply().get("id") == 2, "two requests in one write")
f.write(b'{"execute":"query-')
time.sleep(0.1)
f.write(b'status","id":3}\n')
check(reply().get("id") == 3, "a request split over two writes")

# stop / cont with their events; a snapshot saved while stopped, loaded again.
check(cmd("stop") == {"return": {}}, "stop")
check(wait_event("STOP") is not None, "STOP event")
check(cmd("query-status")["return"] == {"running": False, "singlestep": False, "status": "paused"}, "paused")
check(cmd("savevm", {"filename": snap}) == {"return": {}}, "savevm to a file")
check(os.path.getsize(snap) > 64, "the snapshot file exists")
check(cmd("cont") == {"return": {}}, "cont")
check(wait_event("RESUME") is not None, "RESUME event")
time.sleep(0.2)
check(cmd("loadvm", {"filename": snap}) == {"return": {}}, "loadvm from the file while running")
check(cmd("query-status")["return"]["status"] == "running", "running after loadvm")
with open(snap, "r+b") as g:
    g.seek(100)
    b = g.read(1)
    g.seek(100)
    g.write(bytes([b[0] ^ 0xFF]))
r = cmd("loadvm", {"filename": snap})
check("checksum" in r.get("error", {}).get("desc", ""), "a damaged snapshot is refused: %r" % r)
check(cmd("system_reset") == {"return": {}}, "system_reset")
check(wait_event("RESET") is not None, "RESET event")
# screendump: the VGA as reset leaves it (mode 3, 80x25 of 9x16 cells) as a binary PPM.
shot = os.path.join(work, "screen.ppm")
check(cmd("screendump", {"filename": shot}) == {"return": {}}, "screendump")
data = open(shot, "rb").read() if os.path.exists(shot) else b""
check(data.startswith(b"P6\n720 400\n255\n") and len(data) == len(b"P6\n720 400\n255\n") + 720 * 400 * 3,
      "screendump wrote a 720x400 PPM (%r...)" % data[:20])
png = os.path.join(work, "screen.png")
check(cmd("screendump", {"filename": png, "format": "png"}) == {"return": {}}, "screendump as PNG")
data = open(png, "rb").read() if os.path.exists(png) else b""
check(data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and data[16:24] == (720).to_bytes(4, "big") +
      (400).to_bytes(4, "big"), "screendump wrote a 720x400 PNG")
check("error" in cmd("screendump", {"filename": shot, "format": "jpeg"}), "screendump in an unknown format")
check("error" in cmd("screendump", {"filename": "/nonexistent/dir/s.ppm"}), "screendump to an unwritable path")
check(cmd("quit") == {"return": {}}, "quit")
e = wait_event("SHUTDOWN")
check(e is not None and e["data"] == {"guest": False, "reason": "host-qmp-quit"}, "SHUTDOWN event: %r" % e)
try:
    out, err = proc.communicate(timeout=20)
except subprocess.TimeoutExpired:
    proc.kill()
    out, err = proc.communicate()
check(proc.returncode == 0, "vx86 exits with 0 after quit (got %r, stderr %r)" % (proc.returncode, err))
# -screendump FILE: the screen written when vx86 exits (PNG for *.png).
at_exit = os.path.join(work, "exit.png")
if os.path.exists(at_exit):
    os.unlink(at_exit)
r = subprocess.run([vx86, "-bios", rom, "-m", "4", "-nic", "none", "-debugcon", "none", "-timeout", "0.5",
                    "-screendump", at_exit], capture_output=True)
data = open(at_exit, "rb").read() if os.path.exists(at_exit) else b""
check(r.returncode == 124 and data[:8] == b"\x89PNG\r\n\x1a\n" and data[16:24] == (720).to_bytes(4, "big") +
      (400).to_bytes(4, "big"), "-screendump wrote a 720x400 PNG at exit (status %r)" % r.returncode)
if failures:
    print("%d failure(s)" % len(failures))
    sys.exit(1)
print("qmp: all checks passed")
