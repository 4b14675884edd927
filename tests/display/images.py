"""Images for the display tests, without libraries: X window dumps (xwd's XWD format, 24/32-bit
TrueColor ZPixmap) and binary PPM (P6), each read into (width, height, rows of 0xRRGGBB ints)."""
import struct


def read_xwd(path):
    data = open(path, "rb").read()
    (header_size, _version, pixmap_format, depth, width, height, _xoff, byte_order, _unit, _bit_order,
     _pad, bpp, bytes_per_line, _visual, red_mask, green_mask, blue_mask, _bits_rgb, _cmap,
     ncolors) = struct.unpack(">20I", data[:80])
    if pixmap_format != 2 or bpp not in (24, 32) or depth < 24:
        raise ValueError("%s: unsupported XWD (format %d, depth %d, %d bpp)" % (path, pixmap_format, depth, bpp))
    off = header_size + ncolors * 12
    step = bpp // 8
    order = "<" if byte_order == 0 else ">"
    rows = []
    for y in range(height):
        line = data[off + y * bytes_per_line:off + y * bytes_per_line + width * step]
        row = []
        for x in range(width):
            px = line[x * step:x * step + step]
            v = struct.unpack(order + "I", px + b"\0")[0] if step == 3 else struct.unpack(order + "I", px)[0]
            row.append(channel(v, red_mask) << 16 | channel(v, green_mask) << 8 | channel(v, blue_mask))
        rows.append(row)
    return width, height, rows


def channel(v, mask):
    shift = (mask & -mask).bit_length() - 1
    c = (v & mask) >> shift
    bits = bin(mask).count("1")
    return c << (8 - bits) if bits < 8 else c >> (bits - 8)


def read_ppm(path):
    data = open(path, "rb").read()
    fields, pos = [], 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos)
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    pos += 1
    if fields[0] != b"P6" or fields[3] != b"255":
        raise ValueError(path + ": not an 8-bit P6 PPM")
    w, h = int(fields[1]), int(fields[2])
    px = data[pos:pos + w * h * 3]
    return w, h, [[px[(y * w + x) * 3] << 16 | px[(y * w + x) * 3 + 1] << 8 | px[(y * w + x) * 3 + 2]
                   for x in range(w)] for y in range(h)]


def read_png(path):
    """8-bit RGB or RGBA, non-interlaced PNG (what vx86's screendumps write), with zlib alone."""
    import zlib
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(path + ": not a PNG")
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, colour, _comp, _filt, interlace = ihdr
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError("%s: unsupported PNG (depth %d, colour type %d)" % (path, depth, colour))
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append([line[x * bpp] << 16 | line[x * bpp + 1] << 8 | line[x * bpp + 2] for x in range(w)])
        prev = line
    return w, h, rows
