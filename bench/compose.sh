#!/bin/bash
# SPDX-License-Identifier: MIT
# Compose benchmark (issue: compose). Generates a repository of N interdependent
# packages (default 300, native components built by slipway, not timed) and
# measures composing one root filesystem of all of them into a zstd-compressed
# tarball:
#   1. slipway image all (an image with formats = ["tar"] listing every package)
#   2. the peer: dnf --installroot ... install of the same names into an empty
#      root, then tar -C root -cf - . | zstd -T0
# and prints the time ratio (goal: slipway 5x faster). Each side runs three
# times from scratch (slipway: out/images removed; dnf: a fresh root and an
# empty cache directory) and the median is reported. dnf's time includes
# loading the repository metadata into its empty cache (file://, so no network):
# that is part of what a user of `dnf --installroot` waits for, and an empty
# cache each run keeps the runs alike (slipway reads out/repo on every run too).
# dnf reads no host configuration (-c of an empty file, reposdir=/dev/null, no
# plugins), installs no weak dependencies and, as on Fedora, keeps its rpmdb in
# /usr/lib/sysimage/rpm (Debian's rpm defaults to ~/.rpmdb). Both outputs are
# checked: the same payload files, and N packages in each rpmdb.
# Needs build/slipway, dnf, rpm, tar, zstd; dnf needs root.
#
#   bench/compose.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-300}
[ "$(id -u)" = 0 ] || { echo "bench/compose.sh: dnf --installroot needs root" >&2; exit 1; }
RUNS=3
SLIPWAY=$PWD/build/slipway
work=$(mktemp -d /tmp/slipway-bench-compose.XXXXXX)
trap 'rm -rf "$work"' EXIT
export SOURCE_DATE_EPOCH=1767225600

# shellcheck source=bench/common.sh
. bench/common.sh

proj=$work/proj
nfiles=$(gen "$proj" "$N")
"$SLIPWAY" -q -C "$proj" package
names=()
for i in $(seq 1 "$N"); do names+=("bench-$i"); done
echo "bench/compose.sh: $N packages ($nfiles files, $(du -sm "$proj/out/repo/Packages" | cut -f1) MiB of RPMs), $(nproc) CPUs, $(dnf --version | head -1 | sed 's/^/dnf /')"

# The peer's fixed inputs: no host configuration, rpmdb where Fedora keeps it.
: > "$work/dnf.conf"
mkdir -p "$work/home"
printf '%%_dbpath /usr/lib/sysimage/rpm\n' > "$work/home/.rpmmacros"
dnf_install() { # root cachedir
        HOME=$work/home dnf -q -y -c "$work/dnf.conf" --noplugins --installroot="$1" \
                --setopt=reposdir=/dev/null --setopt=cachedir="$2" --setopt=install_weak_deps=False \
                --repofrompath=bench,"file://$proj/out/repo" --repo=bench --nogpgcheck --releasever=1 \
                install "${names[@]}" >/dev/null
}

ts_slip=() ts_peer=()
for _ in $(seq 1 "$RUNS"); do
        rm -rf "$proj/out/images" "$work/root" "$work/cache" "$work/peer.tar.zst"
        sync
        mark; "$SLIPWAY" -q -C "$proj" image all; took t; ts_slip+=("$t")
        sync
        mark
        dnf_install "$work/root" "$work/cache"
        tar -C "$work/root" -cf - . | zstd -q -T0 -o "$work/peer.tar.zst"
        took t; ts_peer+=("$t")
done
t_slip=$(median "${ts_slip[@]}") t_peer=$(median "${ts_peer[@]}")

# Sanity: the same payload files in both tarballs (mode, size and path of the
# regular files the packages ship, whatever else each tool adds), and N
# packages in each rpmdb.
payload() { # tarball output
        tar -tvf "$1" | awk '/^-/ { p = $NF; sub(/^\.\//, "", p)
                if (p ~ /^(usr\/bin\/bench-|usr\/lib\/bench\/|usr\/share\/(doc\/)?bench-|etc\/bench\/)/) print $1, $3, p }' |
                sort > "$2"
}
installed() { rpm --root="$1" --dbpath=/usr/lib/sysimage/rpm -qa | wc -l; }
mkdir -p "$work/slip-root"
tar -C "$work/slip-root" -xf "$proj/out/images/all.tar.zst"
payload "$proj/out/images/all.tar.zst" "$work/slip.files"
payload "$work/peer.tar.zst" "$work/peer.files"
f_slip=$(wc -l < "$work/slip.files") f_peer=$(wc -l < "$work/peer.files")
q_slip=$(installed "$work/slip-root") q_peer=$(installed "$work/root")
[ -f "$work/slip-root/usr/lib/sysimage/rpm/rpmdb.sqlite" ] || echo "warning: slipway's tarball has no usr/lib/sysimage/rpm/rpmdb.sqlite"
[ "$f_slip" = "$nfiles" ] && [ "$f_peer" = "$nfiles" ] ||
        echo "warning: payload files differ: slipway $f_slip, dnf $f_peer, packaged $nfiles"
cmp -s "$work/slip.files" "$work/peer.files" || echo "warning: the payload files' modes or sizes differ between the two tarballs"
[ "$q_slip" = "$N" ] && [ "$q_peer" = "$N" ] ||
        echo "warning: installed packages differ: slipway $q_slip, dnf $q_peer, expected $N"

printf 'compose %d packages to tar.zst:  slipway %6.2f s (%s MiB), dnf --installroot + tar | zstd %6.2f s (%s MiB): %sx (goal 5x; median of %d)\n' \
        "$N" "$t_slip" "$(du -m "$proj/out/images/all.tar.zst" | cut -f1)" "$t_peer" "$(du -m "$work/peer.tar.zst" | cut -f1)" \
        "$(ratio "$t_peer" "$t_slip")" "$RUNS"
printf '  runs: slipway %s; peer %s\n' "${ts_slip[*]}" "${ts_peer[*]}"
