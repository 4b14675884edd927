#!/usr/bin/env python3
"""The SDL window under a real X server (Debian's Xvfb), driven with xdotool as a person would:
- the window shows the guest's screen: a capture of the window (xwd) equals the screen vx86
  renders for QMP screendump, and the guest's banner is on it;
- keys typed into the window reach the guest, which echoes the line on the serial port, the
  extended keys (Left arrow, keypad Enter) too;
- a click grabs the mouse, and relative motion reaches the guest's /dev/input/mice as PS/2 packets
  with the right directions (the guest's psmouse finds an IntelliMouse);
- Caps Lock typed into the window lights the guest's LED, which the title shows;
- Ctrl+Alt+F makes the window full screen with the picture scaled, its aspect ratio kept;
- the title shows the state: running (or halted, idle in HLT) with the MIPS, then paused after
  QMP stop.

usage: window_test.py VX86 GUEST_DIR WORKDIR     (exit 77: skipped: no guest, Xvfb or xdotool)"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import images  # noqa: E402

vx86, guest, work = sys.argv[1:4]
kernel, initrd = os.path.join(guest, "vmlinuz"), os.path.join(guest, "initramfs.cpio.gz")
if not os.path.exists(kernel) or not os.path.exists(initrd):
    print("SKIP: no guest (scripts/build-guest.sh)")
    sys.exit(77)
for tool in ("Xvfb", "xdotool", "xwd"):
    if not shutil.which(tool):
        print("SKIP: %s is not installed (scripts/setup.sh installs it)" % tool)
        sys.exit(77)
os.makedirs(work, exist_ok=True)
sock_path, console = os.path.join(work, "qmp.sock"), os.path.join(work, "console.txt")
dump = os.path.join(work, "screen.ppm")
for p in (sock_path, console, dump):
    if os.path.exists(p):
        os.unlink(p)
failures = []


def fail(what):
    failures.append(what)
    print("FAIL:", what)


# An X server on a free display number (Xvfb writes the number it took to the pipe).
rfd, wfd = os.pipe()
xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(wfd), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
                        pass_fds=(wfd,), stderr=subprocess.DEVNULL)
os.close(wfd)
display = ":" + os.read(rfd, 16).decode().strip()
env = dict(os.environ, DISPLAY=display)
env.pop("WAYLAND_DISPLAY", None)

# (With a window vx86 boots -kernel through SeaBIOS: its VGA BIOS loads the text console's font.)
proc = subprocess.Popen([vx86, "-display", "sdl", "-m", "128", "-nic", "none", "-kernel", kernel, "-initrd", initrd,
                         "-append", "console=ttyS0 vx86.input", "-serial", "file:" + console,
                         "-qmp", "unix:%s,server,nowait" % sock_path, "-timeout", "240"],
                        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def xdo(*args):
    return subprocess.run(["xdotool"] + [str(a) for a in args], env=env, capture_output=True, text=True).stdout.strip()


def text():
    return open(console, errors="replace").read() if os.path.exists(console) else ""


def wait_console(s, timeout):
    end = time.time() + timeout
    while time.time() < end and proc.poll() is None:
        if s in text():
            return True
        time.sleep(0.1)
    return s in text()


class Qmp:
    def __init__(self, path):
        end = time.time() + 20
        while not os.path.exists(path) and time.time() < end:
            time.sleep(0.05)
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.f = self.s.makefile("rwb", buffering=0)
        json.loads(self.f.readline())
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        self.f.write(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
        while True:
            m = json.loads(self.f.readline())
            if "return" in m or "error" in m:
                return m


def until(check, timeout):
    """Polls check() until it returns something true or `timeout` seconds pass (a loaded machine
    may take a while to redraw or to resize a window); returns its last value."""
    end = time.monotonic() + timeout
    while True:
        v = check()
        if v or time.monotonic() > end:
            return v
        time.sleep(0.2)


def capture(win):
    path = os.path.join(work, "window.xwd")
    subprocess.run(["xwd", "-id", win, "-silent", "-out", path], env=env, check=True)
    return images.read_xwd(path)


try:
    qmp = Qmp(sock_path)
    if not wait_console("VX86-INPUT-READY", 180):
        raise SystemExit("the guest did not start its input test")
    win = ""
    end = time.time() + 10
    while not win and time.time() < end:
        win = xdo("search", "--name", "^vx86").split("\n")[0]
        time.sleep(0.2)
    if not win:
        raise SystemExit("no vx86 window on the X server")

    # 1. The window shows the screen: its pixels equal the rendered screen (text mode, 720x400
    # shown 1:1; the guest hid the cursor so nothing blinks).
    time.sleep(1.0)
    match = False
    for attempt in range(20):
        qmp.cmd("screendump", filename=dump)
        sw, sh, screen = images.read_ppm(dump)
        ww, wh, shot = capture(win)
        if (ww, wh) == (sw, sh) and shot == screen:
            match = True
            break
        time.sleep(0.25)
    if not match:
        fail("the window (%dx%d) does not show the screen (%dx%d)" % (ww, wh, sw, sh))
    if (sw, sh) != (720, 400):
        fail("the screen is %dx%d, not 80x25 text's 720x400" % (sw, sh))
    # The banner's first character cell ('V') has foreground pixels; the last row is blank.
    bg = screen[399][0]
    if not any(p != bg for row in screen[0:16] for p in row[0:9]):
        fail("the banner is not on the screen")

    # 2. Keys: typed into the window, echoed by the guest.
    xdo("mousemove", "--window", win, 200, 200)
    xdo("type", "--window", win, "--delay", 40, "hello vx86")
    xdo("key", "--window", win, "Return")
    if not wait_console("VX86-KEY hello vx86", 20):
        fail("typed keys did not reach the guest: " + repr(text()[-300:]))
    # Extended keys (E0-prefixed): Left arrow reaches Linux's console as ESC [ D, and the keypad's
    # Enter ends the line.
    xdo("type", "--window", win, "ab")
    xdo("key", "--window", win, "Left")
    xdo("type", "--window", win, "X")
    xdo("key", "--window", win, "KP_Enter")
    if not wait_console("VX86-KEY ab\x1b[DX", 20):
        fail("extended keys did not reach the guest: " + repr(text()[-300:]))

    # 3. The mouse: a click grabs it, then four moves right and down.
    xdo("click", "--window", win, 1)
    if not until(lambda: "releases the mouse" in xdo("getwindowname", win), 10):
        fail("a click did not grab the mouse: title " + xdo("getwindowname", win))
    for _ in range(6):
        xdo("mousemove_relative", "--", 12, 9)
        time.sleep(0.3)
    if not wait_console("VX86-MOUSE", 20):
        fail("no mouse packets reached the guest")
    else:
        line = [l for l in text().splitlines() if l.startswith("VX86-MOUSE")][0]
        b = [int(x, 16) for x in line.split()[1:]]
        packets = [b[i:i + 3] for i in range(0, len(b), 3)]
        if len(packets) != 4:
            fail("expected 4 mouse packets: " + line)
        for p in packets:
            dx = p[1] - 256 if p[0] & 0x10 else p[1]
            dy = p[2] - 256 if p[0] & 0x20 else p[2]
            if not (p[0] & 0x08) or dx <= 0 or dy >= 0:  # right is +x, down is -y in PS/2
                fail("mouse packet %s: want sync bit, dx > 0, dy < 0" % p)
    xdo("key", "ctrl+alt+g")  # (XTEST: the grab holds the keyboard)
    until(lambda: "releases the mouse" not in xdo("getwindowname", win), 10)
    title = xdo("getwindowname", win)
    if "releases the mouse" in title:
        fail("Ctrl+Alt+G did not release the mouse: " + title)

    # 4. The guest's keyboard LEDs in the title: Caps Lock pressed in the window, Linux lights it.
    xdo("key", "Caps_Lock")
    if not until(lambda: "[Caps]" in xdo("getwindowname", win), 10):
        fail("Caps Lock's LED is not in the title: " + xdo("getwindowname", win))
    xdo("key", "Caps_Lock")
    if not until(lambda: "[Caps]" not in xdo("getwindowname", win), 10):
        fail("Caps Lock's LED stayed in the title: " + xdo("getwindowname", win))

    # 5. Ctrl+Alt+F: full screen (the X screen is 1280x1024), the 720x400 picture scaled to the
    # width with its aspect ratio kept: 1280x711, black bars above and below.
    # (No window manager: the keyboard follows the pointer, which the grab's release may have left
    # outside the window. Put it back first.)
    xdo("mousemove", "--window", win, 100, 100)
    xdo("windowfocus", "--sync", win)
    xdo("key", "ctrl+alt+f")
    until(lambda: capture(win)[:2] == (1280, 1024), 10)
    time.sleep(0.5)  # (one more frame drawn at the new size)
    fw, fh, full = capture(win)
    if (fw, fh) != (1280, 1024):
        fail("full screen window is %dx%d, not the screen's 1280x1024" % (fw, fh))
    else:
        lit = [y for y in range(fh) if any(p != 0 for p in full[y])]
        top_bar = (1024 - 1280 * 400 // 720) // 2
        if not lit or lit[0] < top_bar - 2 or lit[-1] > 1024 - top_bar + 2:
            fail("full screen: the picture is not letterboxed (lit rows %s..%s, bars of %d rows expected)"
                 % (lit[0] if lit else None, lit[-1] if lit else None, top_bar))
        elif lit[0] > top_bar + 4:  # the banner is on the first text row: right below the top bar
            fail("full screen: the banner starts at row %d, not near %d" % (lit[0], top_bar))
    xdo("key", "ctrl+alt+f")

    # 6. The title follows the state.
    if not ("running" in title or "halted" in title) or "MIPS" not in title:  # (halted: idle in HLT)
        fail("title while running: " + title)
    qmp.cmd("stop")
    time.sleep(1.2)
    title = xdo("getwindowname", win)
    if "paused" not in title:
        fail("title while paused: " + title)
    qmp.cmd("cont")
    qmp.cmd("quit")
    status = proc.wait(timeout=30)
    if status != 0:
        fail("vx86 exited with %d: %s" % (status, proc.stderr.read().decode(errors="replace")))
finally:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    xvfb.terminate()
    xvfb.wait()

if failures:
    print("%d failure(s)" % len(failures))
    sys.exit(1)
print("ok: the window shows the screen; keys and mouse reach the guest; the title follows the state")
