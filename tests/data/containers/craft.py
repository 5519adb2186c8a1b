#!/usr/bin/env python3
"""Crafts the container fixtures that no Debian tool can write.

    craft.py OUTDIR PAYLOAD

Debian 12 has no writer for RAR (v4 or v5) or LHA, and Python's zipfile
cannot write xz (method 95) or zstd (method 93) members, so this script
writes those byte by byte, following the published formats:

  rar4.rar   RAR 1.5-4.x: marker, archive header, one stored (method 0x30)
             file header "dir/eicar.com", end block.  Header CRCs are the low
             16 bits of CRC-32 over the header from HEAD_TYPE on.
             (technote.txt from RARLAB's unrar sources)
  rar5.rar   RAR 5.0: signature, main header, one stored (method 0) file
             header, end header; each header is CRC-32 over "size + body",
             sizes are vints.  (www.rarlab.com/technote.htm)
  lha0.lzh   LHA level-0 header, method "-lh0-" (stored), CRC-16/ARC of the
             data, end marker 0.
  lha2.lzh   the same with a level-2 header (CRC-16 over the whole header).
  zip-xz.zip, zip-zstd.zip
             a zip with one member compressed by xz (method 95, an .xz
             stream) or zstd (method 93, a zstd frame; needs the zstd CLI).

and the hostile inputs:

  traversal.zip   member named "../../etc/eicar.com" (plus "/abs/eicar2.com")
  absurd.zip      header claims 2^32-1 bytes / a bogus 64 KiB name length
  absurd.tar      ustar header with size 077777777777 and 68 bytes of data
  bomb.zip        1 GiB of zeros deflated to ~1 MB (one member)
  ratio.zip       16 MiB of zeros, deflated: over the ratio bound, under
                  the file-size limit
  nested42.zip    42.zip style: 3 levels of 16, 16 x 16 MiB of zeros in
                  each of the 256 leaf zips (64 GiB unpacked, ~5 MB packed)

Every file is written into OUTDIR; nothing here needs network or root.
"""
import io
import os
import struct
import subprocess
import sys
import zipfile
import zlib
import lzma

DOS_TIME = (((2024 - 1980) << 25) | (1 << 21) | (1 << 16)) & 0xFFFFFFFF  # 2024-01-01 00:00


def crc16_arc(data, crc=0):
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def rar4(payload, name=b"dir\\eicar.com"):
    def block(htype, flags, body):
        size = 7 + len(body)
        tail = struct.pack("<BHH", htype, flags, size) + body
        return struct.pack("<H", zlib.crc32(tail) & 0xFFFF) + tail

    out = b"Rar!\x1a\x07\x00"
    out += block(0x73, 0, struct.pack("<HI", 0, 0))
    fh = struct.pack("<IIBIIBBHI", len(payload), len(payload), 0,  # pack, unp, host MS-DOS
                     zlib.crc32(payload), DOS_TIME, 20, 0x30, len(name), 0x20) + name
    out += block(0x74, 0x8000, fh) + payload
    out += block(0x7B, 0x4000, b"")
    return out


def vint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def rar5(payload, name=b"dir/eicar.com"):
    def header(body):
        data = vint(len(body)) + body
        return struct.pack("<I", zlib.crc32(data)) + data

    out = b"Rar!\x1a\x07\x01\x00"
    out += header(vint(1) + vint(0) + vint(0))            # main: type, flags, archive flags
    fbody = (vint(2) + vint(0x2) + vint(len(payload))      # file: type, flags (data), data size
             + vint(0x4)                                   # file flags: CRC32 present
             + vint(len(payload)) + vint(0x20)             # unpacked size, attributes
             + struct.pack("<I", zlib.crc32(payload))
             + vint(0)                                     # compression: v0, store
             + vint(0)                                     # host OS: Windows
             + vint(len(name)) + name)
    out += header(fbody) + payload
    out += header(vint(5) + vint(0) + vint(0))             # end of archive
    return out


def lha0(payload, name=b"eicar.com"):
    body = (b"-lh0-" + struct.pack("<IIIBBB", len(payload), len(payload), DOS_TIME, 0x20, 0,
                                   len(name)) + name + struct.pack("<H", crc16_arc(payload)))
    return bytes([len(body), sum(body) & 0xFF]) + body + payload + b"\0"


def lha2(payload, name=b"eicar.com"):
    # level 2: total header size (2), method, sizes, unix time, reserved 0x20,
    # level 2, crc16 of data, OS id 'U', then extended headers: each
    # (size u16, type, data), ending with a size-0 one.
    ext = b""
    ext += struct.pack("<HB", 3 + 2, 0x00) + b"\0\0"       # common header, CRC patched below
    ext += struct.pack("<HB", 3 + len(name), 0x01) + name  # file name
    ext += struct.pack("<H", 0)
    fixed = (b"-lh0-" + struct.pack("<IIIBB", len(payload), len(payload), 1704067200, 0x20, 2)
             + struct.pack("<H", crc16_arc(payload)) + b"U")
    total = 2 + len(fixed) + len(ext)
    hdr = bytearray(struct.pack("<H", total) + fixed + ext)
    pos = 2 + len(fixed) + 3  # data of the common extended header
    crc = crc16_arc(bytes(hdr))
    hdr[pos:pos + 2] = struct.pack("<H", crc)
    return bytes(hdr) + payload + b"\0"


class ZipW:
    """Minimal zip writer: members given already compressed."""

    def __init__(self):
        self.out = io.BytesIO()
        self.cd = []

    def add(self, name, method, comp, crc, usize, version=20, lh_usize=None, lh_name_len=None):
        off = self.out.tell()
        nlen = len(name) if lh_name_len is None else lh_name_len
        self.out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, version, 0, method, 0, 0x21,
                                   crc, len(comp), usize if lh_usize is None else lh_usize,
                                   nlen, 0) + name + comp)
        self.cd.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x031E, version, 0, method, 0,
                                   0x21, crc, len(comp), usize, len(name), 0, 0, 0, 0,
                                   0o100644 << 16, off) + name)

    def bytes(self):
        cdoff = self.out.tell()
        cd = b"".join(self.cd)
        self.out.write(cd)
        self.out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(self.cd), len(self.cd),
                                   len(cd), cdoff, 0))
        return self.out.getvalue()


def zeros_deflated(mib):
    """A raw deflate stream of mib MiB of zeros, built from one full-flushed
    block repeated (each block decodes without history), plus its CRC."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    z = b"\0" * (1 << 20)
    blk = c.compress(z) + c.flush(zlib.Z_FULL_FLUSH)
    final = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(z, crc)
    return blk * mib + final, crc


def write(outdir, name, data):
    with open(os.path.join(outdir, name), "wb") as f:
        f.write(data)


def main():
    outdir, payload_path = sys.argv[1], sys.argv[2]
    payload = open(payload_path, "rb").read()
    crc = zlib.crc32(payload)

    write(outdir, "rar4.rar", rar4(payload))
    write(outdir, "rar5.rar", rar5(payload))
    write(outdir, "lha0.lzh", lha0(payload))
    write(outdir, "lha2.lzh", lha2(payload))

    z = ZipW()
    z.add(b"dir/eicar.com", 95, lzma.compress(payload, format=lzma.FORMAT_XZ), crc, len(payload), 63)
    write(outdir, "zip-xz.zip", z.bytes())
    try:
        zst = subprocess.run(["zstd", "-q", "-c", payload_path], check=True,
                             stdout=subprocess.PIPE).stdout
        z = ZipW()
        z.add(b"dir/eicar.com", 93, zst, crc, len(payload), 63)
        write(outdir, "zip-zstd.zip", z.bytes())
    except (OSError, subprocess.CalledProcessError) as e:
        print("craft.py: no zstd member: %s" % e, file=sys.stderr)

    z = ZipW()
    z.add(b"../../etc/eicar.com", 0, payload, crc, len(payload))
    z.add(b"/abs/eicar2.com", 0, payload, crc, len(payload))
    write(outdir, "traversal.zip", z.bytes())

    z = ZipW()
    z.add(b"huge.bin", 0, payload, crc, 0xFFFFFFFF, lh_usize=0xFFFFFFFF)
    z.add(b"longname.bin", 0, payload, crc, len(payload), lh_name_len=0xFFFF)
    write(outdir, "absurd.zip", z.bytes())

    hdr = bytearray(512)
    hdr[0:9] = b"eicar.com"
    hdr[100:108] = b"0000644\0"
    hdr[108:116] = b"0000000\0"
    hdr[116:124] = b"0000000\0"
    hdr[124:136] = b"77777777777\0"
    hdr[136:148] = b"00000000000\0"
    hdr[156] = ord("0")
    hdr[257:265] = b"ustar\x0000"
    hdr[148:156] = b"        "
    hdr[148:156] = b"%06o\0 " % sum(hdr)
    write(outdir, "absurd.tar", bytes(hdr) + payload + b"\0" * (512 - len(payload)))

    comp, zcrc = zeros_deflated(1024)
    z = ZipW()
    z.add(b"zeros.bin", 8, comp, zcrc, 1 << 30)
    write(outdir, "bomb.zip", z.bytes())

    comp, zcrc = zeros_deflated(16)
    z = ZipW()
    z.add(b"zeros.bin", 8, comp, zcrc, 16 << 20)
    write(outdir, "ratio.zip", z.bytes())

    # 42.zip style: leaf = 16 x 16 MiB of zeros; two more levels of 16 copies.
    comp, zcrc = zeros_deflated(16)
    z = ZipW()
    for i in range(16):
        z.add(b"zeros%02d.bin" % i, 8, comp, zcrc, 16 << 20)
    level = z.bytes()
    for _ in range(2):
        lc = zlib.crc32(level)
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        packed = c.compress(level) + c.flush()
        z = ZipW()
        for i in range(16):
            z.add(b"lib%02d.zip" % i, 8, packed, lc, len(level))
        level = z.bytes()
    write(outdir, "nested42.zip", level)


if __name__ == "__main__":
    main()
