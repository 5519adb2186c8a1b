#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages Bulwark builds and tests with, if any is missing.
# Run as root on Debian 12 (make run / make test call this first).
set -e
PKGS="build-essential pkg-config clang libclang-rt-14-dev
 libhyperscan-dev libarchive-dev libssl-dev zlib1g-dev
 clamav clamav-testfiles libarchive-tools zip unzip p7zip-full cpio genisoimage gcab
 zstd xz-utils bzip2 python3 binutils time
 libinih-dev libuv1-dev libzstd-dev libbrotli-dev squid-openssl c-icap curl
 libc-icap-mod-virus-scan libmicrohttpd-dev libcurl4-openssl-dev
 systemd groff-base man-db logrotate shellcheck
 openssl python3-pyftpdlib python3-aiosmtpd
 clamav-daemon clamdscan python3-pyclamd
 proftpd-core proftpd-mod-clamav libclamav-client-perl
 libjansson-dev libargon2-dev libsqlite3-dev sqlite3 libpq-dev postgresql
 libjs-chart.js libjs-jquery-datatables libjs-bootstrap5 chromium rsyslog rsyslog-gnutls
 libhiredis-dev redis-server
 libjs-jquery jq firefox-esr"
# Node.js and npm drive the console's browser tests.  A machine that already
# has them (NodeSource's nodejs bundles npm, and conflicts with Debian's npm)
# keeps its own; only a machine without them gets Debian's.
command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs"
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# bulwarkd's workers drop to the system user `bulwark` (User= in
# bulwark.conf); `make run` and the tests need it to exist.
if [ "$(id -u)" = 0 ] && ! getent passwd bulwark >/dev/null; then
    echo "creating the system user bulwark"
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin --comment "Bulwark anti-malware service" bulwark
fi
[ -z "$missing" ] && exit 0
echo "installing:$missing"
if [ "$(id -u)" != 0 ]; then
    echo "install-deps: need root to install:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Refresh the lists only when they are absent or older than a day.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]; then
    apt-get update -q
fi
# proftpd-core's postinst starts a system proftpd on port 21 (invoke-rc.d and
# deb-systemd-invoke) and enables it at boot.  The tests run their own
# proftpd on a free loopback port; an FTP server open to the network is not
# something a build dependency may leave behind.  A policy-rc.d that denies
# proftpd (both invokers ask it) keeps it from starting; afterwards the boot
# links are removed.  An existing policy-rc.d (containers have one) is kept.
policy=/usr/sbin/policy-rc.d
own_policy=no
case " $missing " in *" proftpd-core "*)
    if [ ! -e $policy ]; then
        # invoke-rc.d passes "proftpd", deb-systemd-invoke "proftpd.service"
        # shellcheck disable=SC2016  # the $1 is policy-rc.d's own
        printf '%s\n' '#!/bin/sh' \
            '# left by install-deps.sh while it installs proftpd, a test peer' \
            'case "$1" in proftpd|proftpd.service|proftpd.socket) exit 101;; esac' \
            'exit 0' >$policy
        chmod 755 $policy
        own_policy=yes
        trap 'rm -f $policy' EXIT
    fi;;
esac
rc=0
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing || rc=$?
if [ $own_policy = yes ]; then rm -f $policy; trap - EXIT; fi
case " $missing " in *" proftpd-core "*)
    if command -v systemctl >/dev/null; then
        systemctl disable proftpd.service proftpd.socket >/dev/null 2>&1 || true
        if [ -d /run/systemd/system ]; then systemctl stop proftpd.service >/dev/null 2>&1 || true; fi
    fi
    update-rc.d proftpd disable >/dev/null 2>&1 || true;;
esac
exit $rc
