#!/bin/bash
# SPDX-License-Identifier: MIT
# Memory that does not grow with the data (issue 11): each case builds a
# large input, runs one slipway verb on it, and prints the wall time and the
# peak resident memory (GNU time's "Maximum resident set size", the
# getrusage() ru_maxrss of the process) against the case's limit. Exit 1 if
# a case goes over its limit. Needs a built build/slipway and /usr/bin/time.
#
#   bench/memory.sh [CASE...]        cases: package, compose, archives (default: all)
#
# Environment: MIB (the data size of the package case, default 1024),
# PAYLOAD (its [project] payload, default slipway's w19.zstdio), JOBS (-j,
# default: CPUs).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
SLIPWAY=$PWD/build/slipway
MIB=${MIB:-1024}
JOBS=${JOBS:-$(nproc)}
work=$(mktemp -d /tmp/slipway-bench-memory.XXXXXX)
trap 'rm -rf "$work"' EXIT
failed=0

# Runs a command under /usr/bin/time -v; prints NAME, seconds and peak MiB
# against LIMIT MiB.
measure() { # name limit-mib command...
        local name=$1 limit=$2 secs
        shift 2
        mark
        /usr/bin/time -v -o "$work/time.txt" "$@" > "$work/out.txt" 2>&1 || {
                echo "$name: failed:"; tail -5 "$work/out.txt"; failed=1; return; }
        took secs
        local kib mib
        kib=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time.txt")
        mib=$((kib / 1024))
        printf '%-10s %8.1f s   peak %5d MiB   limit %5d MiB   %s\n' "$name" "$secs" "$mib" "$limit" \
                "$([ "$mib" -lt "$limit" ] && echo ok || echo OVER)"
        [ "$mib" -lt "$limit" ] || failed=1
}

# Case 1: a native component of MIB MiB of incompressible data (four files
# from /dev/urandom) packaged with `slipway package`: the RPM writer streams
# the payload, so memory stays at the compressor's.
case_package() {
        local d=$work/package per=$((MIB / 4))
        mkdir -p "$d/files/data"
        for i in 1 2 3 4; do
                head -c "${per}M" /dev/urandom > "$d/files/data/part-$i.bin"
        done
        cat > "$d/slipway.toml" <<TOML
[project]
name = "memory"
version = "1"
source-date-epoch = 1767225600
${PAYLOAD:+payload = \"$PAYLOAD\"}

[components.big]
version = "1"
summary = "incompressible data"
license = "MIT"
arch = "noarch"

[[components.big.files]]
source = "files/data"
path = "/usr/share/big"
TOML
        echo "package: $MIB MiB in 4 files, payload ${PAYLOAD:-w19.zstdio (default)}, -j$JOBS"
        measure package 256 "$SLIPWAY" -C "$d" -j "$JOBS" package
        local rpm=$d/out/repo/Packages/big-1-1.noarch.rpm
        [ -f "$rpm" ] && echo "           rpm $(($(stat -c %s "$rpm") / 1048576)) MiB," \
                "$(rpmkeys -K --nosignature "$rpm" 2>&1 | sed 's/.*: //')"
}

# Case 2: the package of case 1 composed into a disk image in every disk
# format (raw, vhd, vhdx, qcow2): file contents are read from where the
# payload was spooled and streamed to the ext4 writer. Limit 512 MiB (issue
# 11 sets it for 4 GiB of contents: bench/memory-compose.sh GIB measures
# that size, with data that packages faster).
case_compose() {
        local d=$work/package
        [ -f "$d/out/repo/Packages/big-1-1.noarch.rpm" ] || case_package
        cat >> "$d/slipway.toml" <<TOML

[images.disk]
formats = ["raw", "vhd", "vhdx", "qcow2"]
packages = ["big"]
boot = "none"
selinux = "disabled"
TOML
        echo "compose: the $MIB MiB package into raw, vhd, vhdx and qcow2, -j$JOBS"
        TMPDIR=$work measure compose 512 "$SLIPWAY" -C "$d" -j "$JOBS" image disk
}

# Case 3: the same package composed into the archive formats (cpio, tar,
# oci), which compress as they write: cpio as one multi-threaded zstd frame
# at level 19, tar and the OCI layer in parallel chunks. Limit 512 MiB.
case_archives() {
        local d=$work/package
        [ -f "$d/out/repo/Packages/big-1-1.noarch.rpm" ] || case_package
        cat >> "$d/slipway.toml" <<TOML

[images.archives]
formats = ["cpio", "tar", "oci"]
packages = ["big"]
selinux = "disabled"
TOML
        echo "archives: the $MIB MiB package into cpio, tar and oci, -j$JOBS"
        TMPDIR=$work measure archives 512 "$SLIPWAY" -C "$d" -j "$JOBS" image archives
}

CASES=(package compose archives)
selected=("$@")
[ ${#selected[@]} -gt 0 ] || selected=("${CASES[@]}")
for c in "${selected[@]}"; do
        "case_$c"
done
exit $failed
