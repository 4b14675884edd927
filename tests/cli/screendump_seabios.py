#!/usr/bin/env python3
"""The SeaBIOS boot screen, rendered: vx86 boots Debian's SeaBIOS with its VGA BIOS and no disk,
and writes at exit both the text screen as text (-vga-dump, decoded from VGA memory) and as an
image (-screendump, PPM). Every text cell of the image must be the glyph the VGA BIOS's own 8x16
font has for the character the text dump has there (the font is found in
/usr/share/seabios/vgabios-stdvga.bin by the IBM 8x16 glyph of 'A'): glyph bits in one colour,
the rest in another, the 9th column in the background colour (one blank cell may hold the cursor's bar). The banner
says "SeaBIOS".

usage: screendump_seabios.py VX86 WORKDIR      (exit 77: SeaBIOS or its VGA BIOS not installed)"""
import os
import subprocess
import sys

vx86, work = sys.argv[1:3]
vgabios = "/usr/share/seabios/vgabios-stdvga.bin"
if not os.path.exists(vgabios) or not os.path.exists("/usr/share/seabios/bios.bin"):
    print("SKIP: Debian's seabios package is not installed")
    sys.exit(77)
os.makedirs(work, exist_ok=True)
shot, text = os.path.join(work, "seabios.ppm"), os.path.join(work, "seabios.txt")
for p in (shot, text):
    if os.path.exists(p):
        os.unlink(p)
r = subprocess.run([vx86, "-m", "32", "-nic", "none", "-debugcon", "none", "-timeout", "8",
                    "-screendump", shot, "-vga-dump", text], capture_output=True)
rom = open(vgabios, "rb").read()
glyph_a = bytes([0, 0, 0x10, 0x38, 0x6C, 0xC6, 0xC6, 0xFE, 0xC6, 0xC6, 0xC6, 0xC6, 0, 0, 0, 0])
at = rom.find(glyph_a)
if at < 0x41 * 16:
    print("FAIL: no 8x16 font in", vgabios)
    sys.exit(1)
font = rom[at - 0x41 * 16: at - 0x41 * 16 + 256 * 16]

data = open(shot, "rb").read()
header = b"P6\n720 400\n255\n"
failures = []
if not data.startswith(header) or len(data) != len(header) + 720 * 400 * 3:
    print("FAIL: not a 720x400 PPM: %r (vx86 status %d, %s)" % (data[:20], r.returncode, r.stderr.decode()))
    sys.exit(1)
px = data[len(header):]
lines = open(text, encoding="utf-8").read().split("\n")
if not any("SeaBIOS" in l for l in lines):
    failures.append("the text screen has no SeaBIOS banner")


def pixel(x, y):
    i = (y * 720 + x) * 3
    return px[i:i + 3]


checked = 0
cursor_seen = False
for row in range(25):
    line = lines[row] if row < len(lines) else ""
    for col in range(80):
        ch = line[col] if col < len(line) else " "
        if not (0x20 <= ord(ch) < 0x7F):
            continue  # (only ASCII: the dump shows the others as Unicode)
        glyph = font[ord(ch) * 16: ord(ch) * 16 + 16]
        on, off = set(), set()
        for y in range(16):
            for x in range(9):
                bit = x < 8 and (glyph[y] >> (7 - x)) & 1
                (on if bit else off).add(pixel(col * 9 + x, row * 16 + y))
        ok = len(off) == 1 and (not on or (len(on) == 1 and on != off))
        if not ok and ch == " " and not cursor_seen:
            # The cursor: a bar over whole scan lines of one blank cell, once.
            rows_ = [{pixel(col * 9 + x, row * 16 + y) for x in range(9)} for y in range(16)]
            bar = [y for y in range(16) if rows_[y] != rows_[0]]
            if bar and all(len(rows_[y]) == 1 for y in range(16)) and bar == list(range(bar[0], bar[-1] + 1)):
                cursor_seen = ok = True
        if not ok and len(failures) < 5:
            failures.append("cell (%d,%d) %r: glyph colours %r, background %r" % (row, col, ch, on, off))
        checked += ok
for f in failures:
    print("FAIL:", f)
if failures:
    sys.exit(1)
print("screendump: %d text cells match the VGA BIOS font; the banner says SeaBIOS" % checked)
