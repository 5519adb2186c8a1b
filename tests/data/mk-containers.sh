#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Builds the container fixtures for tests/integration/test-containers.sh and
# test-limits.sh into OUTDIR (created if needed):
#
#   mk-containers.sh OUTDIR
#
# Everything is generated from the 68-byte EICAR string (and clam.exe when
# clamav-testfiles is installed) with Debian tools, so no binary archive is
# committed.  Formats Debian cannot write (rar v4/v5, lha, zip members
# compressed with xz or zstd) and the hostile inputs (bombs, absurd headers,
# traversal names) are crafted byte by byte by containers/craft.py.
#
# Each archive holds the payload as "dir/eicar.com" where the format has
# directories, so the tests can assert the member path.
set -euo pipefail
out=${1:?usage: mk-containers.sh OUTDIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
src=$(mktemp -d /tmp/bw-mk.XXXXXX)
trap 'rm -rf "$src"' EXIT

# The EICAR test string, spelled so that this script itself is not EICAR.
printf '%s%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-' 'ANTIVIRUS-TEST-FILE!$H+H*' > "$src/eicar.com"
mkdir -p "$src/t/dir"
cp "$src/eicar.com" "$src/t/dir/eicar.com"
echo "just a clean file" > "$src/t/readme.txt"
CLAM=/usr/share/clamav-testfiles/clam.exe
[ -f "$CLAM" ] && cp "$CLAM" "$out/clam.exe"

cd "$src/t"
# zip: stored, deflate (Info-ZIP), bzip2 / lzma members (Python zipfile)
zip -q -0 -r "$out/zip-stored.zip" dir readme.txt
zip -q -9 -r "$out/zip-deflate.zip" dir readme.txt
python3 - "$out" <<'EOF'
import sys, zipfile
for name, method in (("zip-bzip2.zip", zipfile.ZIP_BZIP2), ("zip-lzma.zip", zipfile.ZIP_LZMA)):
    with zipfile.ZipFile(sys.argv[1] + "/" + name, "w", method) as z:
        z.write("dir/eicar.com")
        z.write("readme.txt")
EOF
bsdtar --format zip -cf "$out/zip-bsdtar.zip" dir readme.txt
# an empty zip is only the end-of-central-directory record
printf 'PK\005\006%018d' 0 | tr 0 '\0' > "$out/empty.zip"
# 7z (p7zip), and bsdtar's own 7z writer
7z a -bd -y -bso0 -bsp0 "$out/7z-lzma2.7z" dir readme.txt
bsdtar --format 7zip -cf "$out/7z-bsdtar.7z" dir readme.txt
# tar: POSIX ustar, GNU, pax, and pre-POSIX v7 (no magic: a WEAK detection)
tar --format=ustar -cf "$out/tar-ustar.tar" dir readme.txt
tar --format=gnu -cf "$out/tar-gnu.tar" dir readme.txt
tar --format=pax -cf "$out/tar-pax.tar" dir readme.txt
tar --format=v7 -cf "$out/tar-v7.tar" dir/eicar.com readme.txt
# cpio: newc, crc, odc, binary (native = little-endian here)
for f in newc crc odc bin; do
    printf 'dir/eicar.com\nreadme.txt\n' | cpio --quiet -o -H "$f" > "$out/cpio-$f.cpio"
done
# iso9660 with Rock Ridge names
genisoimage -quiet -R -o "$out/iso.iso" "$src/t"
# ar (Unix archive: flat names)
bsdtar --format ar -cf "$out/ar.a" -C dir eicar.com
# xar
bsdtar --format xar -cf "$out/xar.xar" dir readme.txt
# cab (gcab keeps the given relative path)
gcab -c "$out/cab.cab" dir/eicar.com readme.txt
gcab -c -z "$out/cab-mszip.cab" dir/eicar.com readme.txt

# single compressed streams: gzip keeps the original name in its header
cd "$src"
gzip -9 -c eicar.com > "$out/eicar.com.gz"
gzip -9 -n -c eicar.com > "$out/noname.gz"
bzip2 -9 -c eicar.com > "$out/eicar.com.bz2"
xz -c eicar.com > "$out/eicar.com.xz"
lzma -c eicar.com > "$out/eicar.com.lzma"
zstd -q -c eicar.com > "$out/eicar.com.zst"
# tar inside each filter: one libarchive open each
gzip -9 -c "$out/tar-ustar.tar" > "$out/tar.tar.gz"
bzip2 -9 -c "$out/tar-ustar.tar" > "$out/tar.tar.bz2"
xz -c "$out/tar-ustar.tar" > "$out/tar.tar.xz"
zstd -q -c "$out/tar-ustar.tar" > "$out/tar.tar.zst"
gzip -9 -c "$out/cpio-newc.cpio" > "$out/cpio.cpio.gz"

# nesting: eicar in inner.zip in mid.tar.gz in nest.7z
mkdir -p "$src/n1" "$src/n2"
(cd "$src/t" && zip -q "$src/n1/inner.zip" dir/eicar.com)
tar -C "$src/n1" -czf "$src/n2/mid.tar.gz" inner.zip
(cd "$src/n2" && 7z a -bd -y -bso0 -bsp0 "$out/nest.7z" mid.tar.gz)
# depth: eicar.com at the bottom of 6 levels of zip
cp "$src/eicar.com" "$src/deep0"
for i in 1 2 3 4 5 6; do
    (cd "$src" && cp "deep$((i - 1))" "d$i.in" && zip -q "deep$i" "d$i.in" && mv "deep$i.zip" "deep$i")
done
cp "$src/deep6" "$out/deep6.zip"

# many members: 40 small clean files and eicar last
mkdir -p "$src/many"
for i in $(seq -w 1 40); do echo "file $i" > "$src/many/f$i.txt"; done
cp "$src/eicar.com" "$src/many/z-eicar.com"
(cd "$src" && zip -q -r "$out/many.zip" many)
# a 2 MiB member (stored) followed by eicar
head -c $((2 << 20)) /dev/urandom > "$src/big.bin"
(cd "$src" && zip -q -0 "$out/bigmember.zip" big.bin eicar.com)

# clean containers (must stay OK), and 4 MiB of zeros with no size in any header
(cd "$src/t" && zip -q "$out/clean.zip" readme.txt && tar -czf "$out/clean.tar.gz" readme.txt)
head -c $((4 << 20)) /dev/zero | gzip -9 -n > "$out/zeros4m.gz"

# broken and protected
head -c 150 "$out/zip-deflate.zip" > "$out/trunc.zip"
head -c 20 "$out/eicar.com.gz" > "$out/trunc.gz"
head -c 100 "$out/7z-lzma2.7z" > "$out/trunc.7z"
head -c 600 "$out/tar-ustar.tar" > "$out/trunc.tar"
(cd "$src/t" && zip -q -P secret "$out/enc.zip" dir/eicar.com)
(cd "$src/t" && 7z a -bd -y -bso0 -bsp0 -psecret "$out/enc.7z" dir/eicar.com)
(cd "$src/t" && 7z a -bd -y -bso0 -bsp0 -psecret -mhe=on "$out/enc-hdr.7z" dir/eicar.com)
# WEAK magic that is not a container: an "lzma" header on garbage
printf '\x5d\x00\x00\x80\x00\xff\xff\xff\xff\xff\xff\xff\xffgarbage that is not lzma data' > "$out/weak-lzma.bin"

# crafted formats and hostile inputs
python3 "$here/containers/craft.py" "$out" "$src/eicar.com"
echo "fixtures in $out"
