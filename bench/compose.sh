#!/bin/bash
# SPDX-License-Identifier: MIT
# Compose benchmark (issue: compose). Generates a repository of N interdependent
# packages (default 300, native components built by slipway, not timed) and
# measures composing one root filesystem of all of them into a zstd-compressed
# tarball:
#   1. slipway image all (an image with formats = ["tar"] listing every package)
#   2. the peer: dnf --installroot ... install of the same names into an empty
#      root, then tar -C root -cf - . | zstd -T0
# and prints the time ratio (goal: slipway 5x faster). A second case gives
# every package a %post (a /bin/sh body) and adds busybox for /bin/sh: slipway
# runs each in its rootless sandbox, dnf (rpm) in a chroot as root (goal:
# slipway 2x faster; docs/images.md, "Scriptlets"). Each side runs three
# times from scratch (slipway: out/images removed; dnf: a fresh root and an
# empty cache directory) and the median is reported. dnf's time includes
# loading the repository metadata into its empty cache (file://, so no network):
# that is part of what a user of `dnf --installroot` waits for, and an empty
# cache each run keeps the runs alike (slipway reads out/repo on every run too).
# dnf reads no host configuration (-c of an empty file, reposdir=/dev/null, no
# plugins), installs no weak dependencies and, as on Fedora, keeps its rpmdb in
# /usr/lib/sysimage/rpm (Debian's rpm defaults to ~/.rpmdb). Both outputs are
# checked: the same payload files, and N packages in each rpmdb.
# Needs build/slipway, dnf, rpm, tar, zstd, /bin/busybox (busybox-static);
# dnf needs root.
#
#   bench/compose.sh [N] [plain|post|both]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-300}
CASES=${2:-both}
[ "$(id -u)" = 0 ] || { echo "bench/compose.sh: dnf --installroot needs root" >&2; exit 1; }
RUNS=3
SLIPWAY=$PWD/build/slipway
work=$(mktemp -d /tmp/slipway-bench-compose.XXXXXX)
trap 'rm -rf "$work"' EXIT
export SOURCE_DATE_EPOCH=1767225600

# shellcheck source=bench/common.sh
. bench/common.sh

# The peer's fixed inputs: no host configuration, rpmdb where Fedora keeps it.
: > "$work/dnf.conf"
mkdir -p "$work/home"
printf '%%_dbpath /usr/lib/sysimage/rpm\n' > "$work/home/.rpmmacros"
dnf_install() { # proj root cachedir names...
        local proj=$1 root=$2 cache=$3
        shift 3
        HOME=$work/home dnf -q -y -c "$work/dnf.conf" --noplugins --installroot="$root" \
                --setopt=reposdir=/dev/null --setopt=cachedir="$cache" --setopt=install_weak_deps=False \
                --repofrompath=bench,"file://$proj/out/repo" --repo=bench --nogpgcheck --releasever=1 \
                install "$@" >/dev/null
}

# Sanity: the same payload files in both tarballs (mode, size and path of the
# regular files the packages ship, whatever else each tool adds), and every
# package in each rpmdb.
payload() { # tarball output
        tar -tvf "$1" | awk '/^-/ { p = $NF; sub(/^\.\//, "", p)
                if (p ~ /^(usr\/bin\/bench-|usr\/lib\/bench\/|usr\/share\/(doc\/)?bench-|etc\/bench\/)/) print $1, $3, p }' |
                sort > "$2"
}
installed() { rpm --root="$1" --dbpath=/usr/lib/sysimage/rpm -qa | wc -l; }

run_case() { # label post|""
        local label=$1 post=$2 proj=$work/proj-$1 nfiles npkg t_slip t_peer t
        local -a names=() ts_slip=() ts_peer=()
        nfiles=$(gen "$proj" "$N" "$post")
        "$SLIPWAY" -q -C "$proj" package
        for i in $(seq 1 "$N"); do names+=("bench-$i"); done
        npkg=$N
        [ -n "$post" ] && npkg=$((N + 1)) # busybox
        for _ in $(seq 1 "$RUNS"); do
                rm -rf "$proj/out/images" "$work/root" "$work/cache" "$work/peer.tar.zst"
                sync
                mark; "$SLIPWAY" -q -C "$proj" image all; took t; ts_slip+=("$t")
                sync
                mark
                dnf_install "$proj" "$work/root" "$work/cache" "${names[@]}"
                tar -C "$work/root" -cf - . | zstd -q -T0 -o "$work/peer.tar.zst"
                took t; ts_peer+=("$t")
        done
        t_slip=$(median "${ts_slip[@]}") t_peer=$(median "${ts_peer[@]}")

        rm -rf "$work/slip-root"
        mkdir -p "$work/slip-root"
        tar -C "$work/slip-root" -xf "$proj/out/images/all.tar.zst"
        payload "$proj/out/images/all.tar.zst" "$work/slip.files"
        payload "$work/peer.tar.zst" "$work/peer.files"
        local f_slip f_peer q_slip q_peer
        f_slip=$(wc -l < "$work/slip.files") f_peer=$(wc -l < "$work/peer.files")
        q_slip=$(installed "$work/slip-root") q_peer=$(installed "$work/root")
        [ -f "$work/slip-root/usr/lib/sysimage/rpm/rpmdb.sqlite" ] || echo "warning: slipway's tarball has no usr/lib/sysimage/rpm/rpmdb.sqlite"
        [ "$f_slip" = "$nfiles" ] && [ "$f_peer" = "$nfiles" ] ||
                echo "warning: payload files differ: slipway $f_slip, dnf $f_peer, packaged $nfiles"
        cmp -s "$work/slip.files" "$work/peer.files" || echo "warning: the payload files' modes or sizes differ between the two tarballs"
        [ "$q_slip" = "$npkg" ] && [ "$q_peer" = "$npkg" ] ||
                echo "warning: installed packages differ: slipway $q_slip, dnf $q_peer, expected $npkg"
        local goal=5
        if [ -n "$post" ]; then
                goal=2
                # Every %post ran, in both: its state file, with $1 = 1.
                local s_slip s_peer
                s_slip=$(grep -l 'installed (1)' "$work/slip-root"/var/lib/bench/*.state 2>/dev/null | wc -l)
                s_peer=$(grep -l 'installed (1)' "$work/root"/var/lib/bench/*.state 2>/dev/null | wc -l)
                [ "$s_slip" = "$N" ] && [ "$s_peer" = "$N" ] ||
                        echo "warning: %post state files: slipway $s_slip, dnf $s_peer, expected $N"
        fi
        printf 'compose %d packages%s to tar.zst:  slipway %6.2f s (%s MiB), dnf --installroot + tar | zstd %6.2f s (%s MiB): %sx (goal %dx; median of %d)\n' \
                "$N" "${post:+, each with a %post,}" "$t_slip" "$(du -m "$proj/out/images/all.tar.zst" | cut -f1)" "$t_peer" \
                "$(du -m "$work/peer.tar.zst" | cut -f1)" "$(ratio "$t_peer" "$t_slip")" "$goal" "$RUNS"
        printf '  runs: slipway %s; peer %s\n' "${ts_slip[*]}" "${ts_peer[*]}"
}

echo "bench/compose.sh: $N packages, $(nproc) CPUs, $(dnf --version | head -1 | sed 's/^/dnf /')"
case "$CASES" in
plain) run_case plain "" ;;
post) run_case post post ;;
both) run_case plain "" && run_case post post ;;
*) echo "bench/compose.sh: the case is plain, post or both" >&2; exit 1 ;;
esac
