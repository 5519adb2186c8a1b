#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Containers and compressed streams through the CLI: every format finds
# EICAR (or clam.exe) at the right member path; broken, encrypted and
# hostile archives end with the right status and write nothing to disk.
source "$(dirname "$0")/lib.sh"

FX="$TMP/fx"
if ! "$ROOT/tests/data/mk-containers.sh" "$FX" > "$TMP/mk.log" 2>&1; then
    notok "mk-containers.sh builds the fixtures"
    sed 's/^/    /' "$TMP/mk.log"
    exit 1
fi
ok "mk-containers.sh builds the fixtures"

# scan FILE [OPTS...]: sets OUT (text lines) and RC
scan() {
    local f=$1; shift
    OUT=$(cd "$FX" && timeout 60 "$BULWARK" scan --no-summary --no-cache -d "$TESTDB" "$@" "$f" 2>&1)
    RC=$?
}

# found NAME FILE MEMBERPATH [SIG]: FILE is reported as SIG (EICAR) at FILE/MEMBERPATH
found() {
    local n=$1 f=$2 member=$3 sig=${4:-EICAR-Test-File}
    scan "$f"
    local re="^$(printf '%s' "$f" | sed 's/[.[\*^$()+?{|]/\\&/g'): $sig FOUND \[([^]]*/)?$(printf '%s' "$(basename "$f")/$member" | sed 's/[.[\*^$()+?{|]/\\&/g')\]\$"
    if printf '%s\n' "$OUT" | grep -qE -- "$re" && [ "$RC" = 1 ]; then
        ok "$n"
    else
        notok "$n"; echo "    rc=$RC output: $OUT"; echo "    want: $re"
    fi
}

# zip: every member method libarchive 3.6 decodes
found "zip stored"             zip-stored.zip  dir/eicar.com
found "zip deflate"            zip-deflate.zip dir/eicar.com
found "zip bzip2 member"       zip-bzip2.zip   dir/eicar.com
found "zip lzma member"        zip-lzma.zip    dir/eicar.com
found "zip xz member"          zip-xz.zip      dir/eicar.com
if [ -f "$FX/zip-zstd.zip" ]; then found "zip zstd member" zip-zstd.zip dir/eicar.com; fi
found "zip written by bsdtar (data descriptors)" zip-bsdtar.zip dir/eicar.com
found "7z lzma2"               7z-lzma2.7z     dir/eicar.com
found "7z written by bsdtar"   7z-bsdtar.7z    dir/eicar.com
found "rar v4 (stored)"        rar4.rar        dir/eicar.com
found "rar v5 (stored)"        rar5.rar        dir/eicar.com
found "cab (none)"             cab.cab         dir/eicar.com
found "cab (mszip)"            cab-mszip.cab   dir/eicar.com
found "tar ustar"              tar-ustar.tar   dir/eicar.com
found "tar gnu"                tar-gnu.tar     dir/eicar.com
found "tar pax"                tar-pax.tar     dir/eicar.com
found "tar v7 (no magic)"      tar-v7.tar      dir/eicar.com
found "cpio newc"              cpio-newc.cpio  dir/eicar.com
found "cpio crc"               cpio-crc.cpio   dir/eicar.com
found "cpio odc"               cpio-odc.cpio   dir/eicar.com
found "cpio binary"            cpio-bin.cpio   dir/eicar.com
found "iso9660"                iso.iso         dir/eicar.com
found "ar"                     ar.a            eicar.com
found "lha level 0 (-lh0-)"    lha0.lzh        eicar.com
found "lha level 2 (-lh0-)"    lha2.lzh        eicar.com
found "xar"                    xar.xar         dir/eicar.com
# single compressed streams: named by the gzip header, else "(format)"
found "gzip, original name"    eicar.com.gz    eicar.com
found "gzip, no name"          noname.gz       "(gzip)"
found "bzip2"                  eicar.com.bz2   "(bzip2)"
found "xz"                     eicar.com.xz    "(xz)"
found "lzma alone"             eicar.com.lzma  "(lzma)"
found "zstd"                   eicar.com.zst   "(zstd)"
# filter + archive in one open
found "tar.gz"                 tar.tar.gz      dir/eicar.com
found "tar.bz2"                tar.tar.bz2     dir/eicar.com
found "tar.xz"                 tar.tar.xz      dir/eicar.com
found "tar.zst"                tar.tar.zst     dir/eicar.com
found "cpio.gz"                cpio.cpio.gz    dir/eicar.com
found "zip in tar.gz in 7z"    nest.7z         mid.tar.gz/inner.zip/dir/eicar.com
found "member after 40 clean ones" many.zip    many/z-eicar.com

# ClamAV's own test archives (clamav-testfiles), clam.exe inside
CT=/usr/share/clamav-testfiles
if [ -d "$CT" ]; then
    for f in clam.zip clam.bz2.zip clam.7z clam.cab clam.tar.gz clam.newc.cpio clam.odc.cpio \
             clam.bin-le.cpio clam.bin-be.cpio; do
        cp "$CT/$f" "$FX/ct-$f"
        found "clamav-testfiles $f" "ct-$f" clam.exe ClamAV-Test-File
    done
    cp "$CT/clam.exe.bz2" "$FX/ct-clam.exe.bz2"
    found "clamav-testfiles clam.exe.bz2" ct-clam.exe.bz2 "(bzip2)" ClamAV-Test-File
    # implode / deflate64 are not in libarchive: an ERROR, never a silent OK
    cp "$CT/clam.impl.zip" "$FX/ct-impl.zip"
    scan ct-impl.zip
    expect_match "zip implode member: unsupported is ERROR" "$OUT" \
        '^ct-impl\.zip: ERROR Unsupported\.Container: zip: .*implode.*\[ct-impl\.zip/CLAM\.EXE\]'
fi

# clean containers stay clean
scan clean.zip
expect_eq "clean zip is OK" "$OUT/$RC" "clean.zip: OK/0"
scan clean.tar.gz
expect_eq "clean tar.gz is OK" "$OUT/$RC" "clean.tar.gz: OK/0"
scan empty.zip
expect_eq "empty zip (end record only) is OK" "$OUT/$RC" "empty.zip: OK/0"
scan weak-lzma.bin
expect_eq "weak magic that is no container: no finding" "$OUT/$RC" "weak-lzma.bin: OK/0"
scan zip-deflate.zip --no-archive
expect_eq "--no-archive leaves the zip closed" "$OUT/$RC" "zip-deflate.zip: OK/0"

# broken containers
ALL=""
scan trunc.zip; ALL="$ALL$OUT"$'\n'
expect_match "truncated zip is CORRUPTED" "$OUT" '^trunc\.zip: CORRUPTED Broken\.Container: zip: '
scan trunc.gz; ALL="$ALL$OUT"$'\n'
expect_match "truncated gzip is CORRUPTED" "$OUT" '^trunc\.gz: CORRUPTED Broken\.Container: gzip: '
scan trunc.7z; ALL="$ALL$OUT"$'\n'
expect_match "truncated 7z is CORRUPTED" "$OUT" '^trunc\.7z: CORRUPTED Broken\.Container: 7z'
scan trunc.tar; ALL="$ALL$OUT"$'\n'
expect_match "truncated tar is CORRUPTED" "$OUT" '^trunc\.tar: CORRUPTED Broken\.Container: tar: '
check "truncated containers are never also OK" test -z "$(printf '%s\n' "$ALL" | grep ': OK$')"

# encrypted
scan enc.zip
expect_match "encrypted zip is PROTECTED" "$OUT" \
    '^enc\.zip: PROTECTED Heuristics\.Encrypted\.Zip \[enc\.zip/dir/eicar\.com\]$'
scan enc.7z
expect_match "encrypted 7z is PROTECTED" "$OUT" '^enc\.7z: PROTECTED Heuristics\.Encrypted\.7Zip'
scan enc-hdr.7z
expect_match "7z with encrypted headers is PROTECTED" "$OUT" '^enc-hdr\.7z: PROTECTED Heuristics\.Encrypted\.7Zip'

# hostile names and headers
touch "$FX/.stamp"
scan traversal.zip --all-match
expect_match "path traversal member reported literally" "$OUT" \
    '^traversal\.zip: EICAR-Test-File FOUND \[traversal\.zip/\.\./\.\./etc/eicar\.com\]$'
expect_match "absolute member path loses its leading /" "$OUT" \
    '^traversal\.zip: EICAR-Test-File FOUND \[traversal\.zip/abs/eicar2\.com\]$'
check "nothing is extracted to disk" test -z "$(find "$TMP" /etc /abs -newer "$FX/.stamp" -name 'eicar*.com' 2>/dev/null)"
scan absurd.zip
expect_match "zip with absurd sizes ends with a status" "$OUT" '^absurd\.zip: (CORRUPTED|TOO_LARGE) '
scan absurd.tar
expect_match "tar claiming 8 GiB ends with a status" "$OUT" '^absurd\.tar: (CORRUPTED|TOO_LARGE) '

# A 96-byte 7z whose header declares 3 x 10^8 substreams: libarchive would
# calloc 3.9 GB and zero it (the fuzz-scan finding).  The unpack memory bound
# refuses it: TOO_LARGE, and the process stays small.  ulimit -v protects
# the machine should the bound ever be lost (the test then fails on status);
# AddressSanitizer reserves terabytes of shadow, so not under SAN=1.
vlimit=6000000
if ldd "$BULWARK" 2>/dev/null | grep -q libasan; then vlimit=unlimited; fi
RSS_OUT=$(cd "$FX" && ulimit -v $vlimit && /usr/bin/time -f 'maxrss=%M' \
    "$BULWARK" scan --no-summary --no-cache -d "$TESTDB" streams.7z 2>&1)
expect_match "7z declaring 3e8 substreams is TOO_LARGE (unpack memory)" "$RSS_OUT" \
    '^streams\.7z: TOO_LARGE limits exceeded: max unpack memory$'
rss=$(printf '%s\n' "$RSS_OUT" | sed -n 's/^maxrss=//p')
check "7z substream bomb: peak RSS under 200 MB (was 1.5 GB; got ${rss:-?} kB)" \
    test "${rss:-999999999}" -lt 204800
# The container's raw bytes are scanned although it cannot be opened: a
# signature for text in its packed area finds it.
mkdir -p "$TMP/rawdb" && cp "$TESTDB"/* "$TMP/rawdb/"
echo "Bulwark-Raw-7z-Marker:0:*:$(printf 'BULWARK-RAW-7Z-MARKER' | od -An -tx1 | tr -d ' \n')" > "$TMP/rawdb/raw.ndb"
OUT=$(cd "$FX" && "$BULWARK" scan --no-summary --no-cache --all-match -d "$TMP/rawdb" streams.7z 2>&1)
expect_match "7z refused for memory: its raw bytes are still scanned" "$OUT" \
    '^streams\.7z: Bulwark-Raw-7z-Marker FOUND'
expect_match "7z refused for memory: the limit is reported with it" "$OUT" \
    '^streams\.7z: TOO_LARGE limits exceeded: max unpack memory$'

# An lha member whose reads bring nothing, forever (a fuzz-scan timeout):
# the unpacker gives up after a run of empty reads.
scan lha-loop.lzh
expect_match "lha whose data reads make no progress ends CORRUPTED (no hang)" "$RC:$OUT" \
    '^1:lha-loop\.lzh: CORRUPTED Broken\.Container: lha: '

# A compressed-stream magic that no libarchive filter accepts: the raw
# reader would return the same bytes, detected again, down to the depth cap.
# A weak magic (lzma with a 192 MiB dictionary: libarchive's bidder stops at
# 128 MiB) is no container; a strong one (gzip with a bad flags byte) is
# CORRUPTED.  Neither recurses.
printf 'X5O!P%%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' > "$TMP/e.com"
xz --format=lzma --lzma1=dict=192MiB -c "$TMP/e.com" > "$FX/dict192.lzma"
scan dict192.lzma
expect_eq "lzma no filter accepts: not unpacked in a loop" "$OUT/$RC" "dict192.lzma: OK/0"
printf '\x1f\x8b\x08\xff\x00\x00\x00\x00\x00\x03garbage-after-a-bad-gzip-header' > "$FX/badflags.gz"
scan badflags.gz
expect_match "gzip whose header no filter accepts is CORRUPTED, not a recursion" "$OUT" \
    "^badflags\.gz: CORRUPTED Broken\.Container: gzip: no decoder accepts the stream's header$"

# A stream that starts with zeros is no empty tar: all of it is scanned
# (libarchive's tar reader would stop at the first zero block).
OUT=$(cd "$FX" && "$BULWARK" scan --no-summary --no-cache -d "$TESTDB" --json --max-ratio=0 zeros4m.gz 2>&1)
expect_match "gzip of 4 MiB zeros: every byte reaches the scanner" "$OUT" '"bytes_scanned":(419[4-9]|4[2-9][0-9]{2})[0-9]{3}[,}]'

# A container above the 16 MiB memory bound is spooled to an unlinked
# temporary file and unpacked from there (pread, zip central directory).
head -c $((20 << 20)) /dev/urandom > "$TMP/random.bin"
cp "$FX/zip-stored.zip" "$TMP/z.zip"
(cd "$TMP" && zip -q -0 z.zip random.bin && mv z.zip "$FX/big.zip")
scan big.zip
expect_match "20 MiB zip unpacked from the file spool" "$OUT" \
    '^big\.zip: EICAR-Test-File FOUND \[big\.zip/dir/eicar\.com\]$'
