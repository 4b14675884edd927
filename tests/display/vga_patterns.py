#!/usr/bin/env python3
"""Our test ROMs (roms/tests/vga_draw_*.asm) draw known patterns in text mode, mode 12h, mode 13h,
mode X and VBE 1024x768x32 with no VGA BIOS; vx86 writes the screen as a PNG when the ROM exits
(-screendump). Each picture must equal the one this script computes from the pattern's definition
(roms/tests/vga_draw.inc) and the VGA's: the IBM BIOS's attribute palettes, the DAC's 6-bit
components widened to 8 bits, the font in plane 2, the CRTC's layout.

usage: vga_patterns.py VX86 ROM_DIR WORKDIR"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import images  # noqa: E402

vx86, roms, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)


def dac(i):
    i &= 0xFF
    widen = lambda c: (c << 2 | c >> 4) & 0xFF  # noqa: E731
    return widen(i & 63) << 16 | widen((i * 5 + 7) & 63) << 8 | widen(63 - (i & 63))


MODE3_AC = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F]
MODE12_AC = MODE3_AC  # (the same palette)


def text_pixel(x, y):
    col, row, line, dot = x // 9, y // 16, y % 16, x % 9
    cell = row * 80 + col
    ch, at = (cell * 11) & 0xFF, (cell * 29 + 3) & 0xFF
    bits = ((ch * 7 + line * 13) ^ (ch >> 3)) & 0xFF
    fg, bg = dac(MODE3_AC[at & 15]), dac(MODE3_AC[(at >> 4) & 7])  # blink on: 3 background bits
    if (row, col) == (3, 5) and 13 <= line <= 14:  # the cursor: scan lines 0Dh-0Eh of mode 3
        return fg
    if dot == 8:  # the ninth column repeats the eighth for the line-drawing characters only
        return fg if 0xC0 <= ch <= 0xDF and bits & 1 else bg
    return fg if bits & (0x80 >> dot) else bg


def pixel_12h(x, y):
    xb, bit = x // 8, 7 - x % 8
    colour = sum((((xb * 3 + y * (p + 1) + p * 50) & 0xFF) >> bit & 1) << p for p in range(4))
    return dac(MODE12_AC[colour])


CASES = [
    ("vga_draw_text", 720, 400, text_pixel),
    ("vga_draw_12h", 640, 480, pixel_12h),
    ("vga_draw_13h", 320, 200, lambda x, y: dac(x + 2 * y)),
    ("vga_draw_modex", 320, 200, lambda x, y: dac(x * 3 + y)),
    ("vga_draw_vbe32", 1024, 768,
     lambda x, y: ((x * 3) & 0xFF) << 16 | ((y * 5) & 0xFF) << 8 | ((x + y) & 0xFF)),
]

failures = 0
for name, w, h, want in CASES:
    shot = os.path.join(work, name + ".png")
    if os.path.exists(shot):
        os.unlink(shot)
    r = subprocess.run([vx86, "-bios", os.path.join(roms, name + ".bin"), "-display", "none", "-nic", "none",
                        "-vga", "std", "-timeout", "30", "-screendump", shot], capture_output=True, text=True)
    if r.returncode != 1 or (name + ": PASS") not in r.stdout:  # PASS: isa-debug-exit code 0
        print("FAIL: %s: status %d, %s%s" % (name, r.returncode, r.stdout[-300:], r.stderr[-300:]))
        failures += 1
        continue
    gw, gh, got = images.read_png(shot)
    if (gw, gh) != (w, h):
        print("FAIL: %s: %dx%d, want %dx%d" % (name, gw, gh, w, h))
        failures += 1
        continue
    bad = [(x, y) for y in range(h) for x in range(w) if got[y][x] != want(x, y)]
    if bad:
        x, y = bad[0]
        print("FAIL: %s: %d pixels differ, first (%d,%d): %06x, want %06x" % (name, len(bad), x, y, got[y][x], want(x, y)))
        failures += 1
    else:
        print("%s: %dx%d equals the pattern" % (name, w, h))
sys.exit(1 if failures else 0)
