#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
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
  streams.7z      a 7z (about 100 bytes) whose header declares 3 folders of
                  10^8 substreams each: libarchive callocs 3e8 x (8+1+4)
                  bytes and zeroes them (the fuzz-scan finding: 0x700010001
                  bytes at 301 folders); its packed area holds the text
                  BULWARK-RAW-7Z-MARKER for the raw-bytes check
  lha-loop.lzh    128 bytes found by fuzz-scan: an lh1 member on which
                  libarchive's data reads answer ARCHIVE_WARN with no bytes
                  and no end, forever (the unpacker must give up)

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


def u7z(n):
    """7z NUMBER: the first byte's leading 1 bits count the extra bytes."""
    for extra in range(8):
        if n < 1 << (7 * (extra + 1)):
            hi = n >> (8 * extra)
            return bytes([(0xFF00 >> extra) & 0xFF | hi]) + (n & ((1 << (8 * extra)) - 1)).to_bytes(extra, "little")
    return b"\xff" + n.to_bytes(8, "little")


def sevenzip_streams(folders, per_folder=100000000, packed=b"BULWARK-RAW-7Z-MARKER"):
    """An encoded-header 7z whose StreamsInfo declares `folders` Copy folders
    with `per_folder` substreams each (7zFormat.txt: kEncodedHeader,
    kPackInfo, kUnPackInfo, kSubStreamsInfo).  libarchive allocates the
    substream tables before it reads anything more."""
    hdr = b"\x17"                                             # kEncodedHeader
    hdr += b"\x06" + u7z(0) + u7z(folders) + b"\x09"           # kPackInfo, pos, n, kSize
    hdr += u7z(len(packed)) + u7z(0) * (folders - 1) + b"\x00"  # sizes, kEnd
    hdr += b"\x07\x0b" + u7z(folders) + b"\x00"                # kUnPackInfo kFolder n external=0
    hdr += b"\x01\x01\x00" * folders                           # 1 simple coder: Copy
    hdr += b"\x0c" + u7z(1) * folders + b"\x00"                # kCodersUnPackSize, kEnd
    hdr += b"\x08\x0d" + u7z(per_folder) * folders             # kSubStreamsInfo kNumUnPackStream
    hdr += b"\x00\x00"                                         # kEnd (substreams), kEnd
    tail = struct.pack("<QQI", len(packed), len(hdr), zlib.crc32(hdr))
    start = b"7z\xbc\xaf\x27\x1c\x00\x04" + struct.pack("<I", zlib.crc32(tail)) + tail
    return start + packed + hdr


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

    write(outdir, "streams.7z", sevenzip_streams(3))
    write(outdir, "lha-loop.lzh", bytes.fromhex(
        "2b002d6c68312d44000062bb000000800092651e001305000a504bffffffffffffffffffffffff"
        "ffffffffffffffffffffffffffff03043f00003ccf5168440000004400000013410000000000"
        "000000000000a481000000002e2e2f2e2e2f6574632fb3b30000120000000a00000072656164"
        "6d652e747874090405005d0000"))


if __name__ == "__main__":
    main()
