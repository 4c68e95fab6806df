#!/bin/bash
# SPDX-License-Identifier: MIT
# Compose memory benchmark (issue 11, "Memory that does not grow with the
# data"): a native component with GIB GiB of incompressible data (files of
# 256 MiB from /dev/urandom), packaged (not measured: printed for
# information; slipway package compresses with zstd -19, which takes tens of
# minutes per GiB of random bytes: BENCH_DATA=blocks makes data that
# compresses well but has no hole for ext4, every 4 KiB block a counter and
# a random salt), then composed into a disk image in every disk format (raw,
# vhd, vhdx, qcow2). Prints the compose's wall time and peak RSS
# (/usr/bin/time -v, "Maximum resident set size") against the limit of
# 512 MiB, and exits 1 above it. Needs build/slipway, /usr/bin/time and
# about 8 x GIB GiB of free disk under $BENCH_DIR (default /var/tmp).
#
#   [BENCH_DATA=random|blocks] bench/memory-compose.sh [GIB]     (default 4, random)
set -euo pipefail
cd "$(dirname "$0")/.."
GIB=${1:-4}
LIMIT_KIB=$((512 * 1024))
SLIPWAY=$PWD/build/slipway
work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/slipway-bench-memory.XXXXXX")
trap 'rm -rf "$work"' EXIT
export SOURCE_DATE_EPOCH=1767225600

# shellcheck source=bench/common.sh
. bench/common.sh

proj=$work/proj
mkdir -p "$proj/files" "$work/tmp"
nfiles=$((GIB * 4))
{
        printf '[project]\nname = "membench"\nversion = "1"\nsource-date-epoch = %s\n\n' "$SOURCE_DATE_EPOCH"
        printf '[components.bulk]\nversion = "1.0"\nsummary = "incompressible data"\nlicense = "MIT"\narch = "noarch"\n\n'
        for i in $(seq 1 "$nfiles"); do
                printf '[[components.bulk.files]]\nsource = "files/data-%s"\npath = "/srv/data/data-%s"\n\n' "$i" "$i"
        done
        printf '[images.disk]\nformats = ["raw", "vhd", "vhdx", "qcow2"]\npackages = ["bulk"]\nboot = "none"\n\n'
        printf '[[images.disk.partitions]]\ntype = "root"\nsize = "grow"\n'
} > "$proj/slipway.toml"
DATA=${BENCH_DATA:-random}
blocks_py='
import os, struct, sys
salt = os.urandom(8)
base = int(sys.argv[2]) << 32
with open(sys.argv[1], "wb") as f:
    for m in range(256):
        f.write(b"".join(struct.pack("<Q", base + m * 256 + k) + salt + bytes(4080) for k in range(256)))
'

for i in $(seq 1 "$nfiles"); do
        case $DATA in
        random) head -c 256M /dev/urandom > "$proj/files/data-$i" ;;
        blocks) python3 -c "$blocks_py" "$proj/files/data-$i" "$i" ;;
        *) echo "BENCH_DATA: random or blocks" >&2; exit 2 ;;
        esac
done

peak() { sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$1"; }

mark
TMPDIR=$work/tmp /usr/bin/time -v -o "$work/package.time" "$SLIPWAY" -q -C "$proj" package
took t_pkg
sync
mark
TMPDIR=$work/tmp /usr/bin/time -v -o "$work/image.time" "$SLIPWAY" -q -C "$proj" image
took t_img
rss=$(peak "$work/image.time")
echo "bench/memory-compose.sh: $GIB GiB of file contents ($nfiles x 256 MiB, $DATA), $(nproc) CPUs"
echo "  package: ${t_pkg}s, peak RSS $(($(peak "$work/package.time") / 1024)) MiB (not measured against the limit)"
echo "  image (raw, vhd, vhdx, qcow2): ${t_img}s, peak RSS $((rss / 1024)) MiB (limit $((LIMIT_KIB / 1024)) MiB)"
ls -ls "$proj/out/images" | sed 's/^/    /'
[ -n "$rss" ] && [ "$rss" -le "$LIMIT_KIB" ] || { echo "  over the limit" >&2; exit 1; }
