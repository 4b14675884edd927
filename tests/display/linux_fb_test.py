#!/usr/bin/env python3
"""Linux draws on the framebuffer: Debian's 686 kernel loads its bochs DRM driver (from the same
package) for vx86's VGA, fbcon takes the console, the guest writes two known lines on it, and a
PNG screendump (QMP) shows them: each 8x16 character cell holds, bit for bit, the glyph of the
character the guest wrote there in fbcon's font (font_vga_8x16, read out of the guest's own kernel
image: the bzImage's xz payload unpacked, the font found by its 'A'; independently of vx86), in one
colour over the background, and every other cell of the screen is blank.

usage: linux_fb_test.py VX86 GUEST_DIR WORKDIR     (exit 77: skipped: no guest)"""
import json
import lzma
import os
import socket
import subprocess
import struct
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import images  # noqa: E402

vx86, guest, work = sys.argv[1:4]
kernel, initrd = os.path.join(guest, "vmlinuz"), os.path.join(guest, "initramfs.cpio.gz")
if not os.path.exists(kernel) or not os.path.exists(initrd):
    print("SKIP: no guest (scripts/build-guest.sh)")
    sys.exit(77)


def kernel_font(path):
    """Linux's built-in 8x16 font from a bzImage: the payload (setup header fields payload_offset
    and payload_length) unpacked, then the 256 glyphs around the IBM glyph of 'A'."""
    d = open(path, "rb").read()
    setup_sects = d[0x1F1] or 4
    offset, length = struct.unpack("<II", d[0x248:0x250])
    payload = d[(setup_sects + 1) * 512 + offset:][:length]
    if payload[:6] == b"\xfd7zXZ\x00":
        image = lzma.LZMADecompressor().decompress(payload)
    elif payload[:2] == b"\x1f\x8b":
        image = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(payload)
    else:
        print("SKIP: the kernel's compression (%s) is not one Python unpacks" % payload[:4].hex())
        sys.exit(77)
    glyph_a = bytes([0, 0, 0x10, 0x38, 0x6C, 0xC6, 0xC6, 0xFE, 0xC6, 0xC6, 0xC6, 0xC6, 0, 0, 0, 0])
    at = image.find(glyph_a)
    if at < 0x41 * 16:
        print("FAIL: no 8x16 font in the guest kernel")
        sys.exit(1)
    return image[at - 0x41 * 16: at - 0x41 * 16 + 256 * 16]


font = kernel_font(kernel)

os.makedirs(work, exist_ok=True)
sock_path, console, shot = (os.path.join(work, n) for n in ("qmp.sock", "console.txt", "fb.png"))
for p in (sock_path, console, shot):
    if os.path.exists(p):
        os.unlink(p)
proc = subprocess.Popen([vx86, "-display", "none", "-m", "256", "-nic", "none", "-kernel", kernel, "-initrd", initrd,
                         "-append", "console=ttyS0 vx86.fb", "-serial", "file:" + console,
                         "-qmp", "unix:%s,server,nowait" % sock_path, "-timeout", "240"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def text():
    return open(console, errors="replace").read() if os.path.exists(console) else ""


failures = []
try:
    end = time.time() + 200
    while "VX86-FB-READY" not in text() and time.time() < end and proc.poll() is None:
        time.sleep(0.2)
    if "VX86-FB-READY" not in text():
        print("FAIL: the guest did not bring up its framebuffer:", text()[-800:])
        sys.exit(1)
    fb_line = [l for l in text().splitlines() if l.startswith("VX86-FB ")][0].split()
    expected = ["VX86 FRAMEBUFFER CONSOLE", "fb0: %s %s" % (fb_line[1], fb_line[2])]
    time.sleep(0.5)  # (fbcon draws from a work queue)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    f = s.makefile("rwb", buffering=0)
    json.loads(f.readline())
    for c in ({"execute": "qmp_capabilities"},
              {"execute": "screendump", "arguments": {"filename": shot, "format": "png"}},
              {"execute": "quit"}):
        f.write(json.dumps(c).encode() + b"\n")
        while True:
            m = json.loads(f.readline())
            if "return" in m or "error" in m:
                break
        if "error" in m:
            failures.append("%s: %s" % (c["execute"], m["error"]))
    proc.wait(timeout=30)
finally:
    if proc.poll() is None:
        proc.kill()
        proc.wait()

w, h, px = images.read_png(shot)
if (w, h) != tuple(int(v) for v in fb_line[2].split(",")):
    failures.append("screendump is %dx%d, the guest's framebuffer %s" % (w, h, fb_line[2]))
background = px[h - 1][w - 1]
checked = 0
for row in range(h // 16):
    line = expected[row] if row < len(expected) else ""
    for col in range(w // 8):
        ch = line[col] if col < len(line) else " "
        glyph = font[ord(ch) * 16: ord(ch) * 16 + 16]
        on, off = set(), set()
        for y in range(16):
            for x in range(8):
                (on if (glyph[y] >> (7 - x)) & 1 else off).add(px[row * 16 + y][col * 8 + x])
        ok = off == {background} and (not on or (len(on) == 1 and on != off))
        if not ok and len(failures) < 5:
            failures.append("cell (%d,%d) %r: glyph colours %r, background %r" % (row, col, ch, on, off))
        checked += ok
for fl in failures:
    print("FAIL:", fl)
if failures:
    sys.exit(1)
print("framebuffer: %d cells of %s hold the guest's text in the kernel's font" % (checked, fb_line[2]))
