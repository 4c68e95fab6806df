#!/bin/bash
# SPDX-License-Identifier: MIT
# Conversion benchmark (issue 15): `slipway convert` against `qemu-img
# convert` on the same inputs, in the same run, median of 3, for
#   raw -> qcow2, qcow2 -> vhdx, vhdx -> vhd (fixed), vhd -> raw.
# The disk: GPT, 512 MiB, one ext4 partition made by mkfs.ext4 -d from
# real files of this machine (the first MiB-sized share of /usr/lib and
# /usr/share, in sorted order, up to SIZE MiB, default 300), so the data is
# the mix of binaries, libraries and text a system image holds, and the rest
# of the disk is unallocated. The inputs of each step are made once by
# qemu-img (not timed); both tools read the same file. qemu-img's VHD is
# made with subformat=fixed,force_size=on, as slipway's is. Outputs are
# compared with qemu-img compare. Page cache warm (every input is read
# once before timing). Needs build/slipway (or $SLIPWAY), qemu-img, sfdisk,
# mkfs.ext4.
#
#   bench/convert.sh [SIZE_MiB]
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-300}
RUNS=3
SLIPWAY=${SLIPWAY:-$PWD/build/slipway}
work=$(mktemp -d /tmp/slipway-bench-convert.XXXXXX)
trap 'rm -rf "$work"' EXIT
export SOURCE_DATE_EPOCH=1767225600
# shellcheck source=bench/common.sh
. bench/common.sh

# The data: regular files from /usr/lib and /usr/share, sorted, up to SIZE MiB.
python3 - "$work/tree" "$SIZE" <<'PY'
import os, shutil, sys
dst, limit = sys.argv[1], int(sys.argv[2]) << 20
total = 0
for top in ("/usr/lib", "/usr/share"):
        for root, dirs, files in os.walk(top):
                dirs.sort()
                for name in sorted(files):
                        src = os.path.join(root, name)
                        if os.path.islink(src) or not os.path.isfile(src):
                                continue
                        size = os.path.getsize(src)
                        if total + size > limit:
                                continue
                        target = dst + src
                        os.makedirs(os.path.dirname(target), exist_ok=True)
                        try:
                                shutil.copyfile(src, target)
                        except OSError:
                                continue
                        total += size
                        if total >= limit - (1 << 20):
                                sys.exit(0)
PY
mkfs.ext4 -q -F -E root_owner=0:0 -d "$work/tree" "$work/root.ext4" "$((SIZE * 13 / 10 + 32))M" >/dev/null
rm -rf "$work/tree"
raw=$work/disk.raw
truncate -s 512M "$raw"
printf 'label: gpt\nstart=2048, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n' | sfdisk -q "$raw"
dd if="$work/root.ext4" of="$raw" bs=1M seek=1 conv=notrunc,sparse status=none
rm -f "$work/root.ext4"
qemu-img convert -f raw -O qcow2 "$raw" "$work/in.qcow2"
qemu-img convert -f raw -O vhdx "$raw" "$work/in.vhdx"
qemu-img convert -f raw -O vpc -o subformat=fixed,force_size=on "$raw" "$work/in.vhd"
echo "bench/convert.sh: 512 MiB GPT disk, $(($(du -k "$raw" | cut -f1) / 1024)) MiB allocated (ext4 of $SIZE MiB of /usr files), $(nproc) CPUs, $(qemu-img --version | head -1)"

# step NAME INPUT INPUT_FMT SLIPWAY_OUT QEMU_ARGS...
step() {
        local name=$1 in=$2 ifmt=$3 out=$4
        shift 4
        local ofmt=${out##*.} qfmt
        qfmt=$([ "$ofmt" = vhd ] && echo vpc || echo "$ofmt")
        cat "$in" > /dev/null
        local ts_slip=() ts_peer=() t
        for _ in $(seq 1 "$RUNS"); do
                rm -f "$work/slip.$ofmt" "$work/peer.$ofmt"
                sync
                mark; "$SLIPWAY" -q convert "$in" "$work/slip.$ofmt"; took t; ts_slip+=("$t")
                sync
                mark; qemu-img convert -f "$ifmt" "$@" "$in" "$work/peer.$ofmt"; took t; ts_peer+=("$t")
        done
        qemu-img compare -q -f "$qfmt" -F "$qfmt" "$work/slip.$ofmt" "$work/peer.$ofmt" ||
                echo "warning: $name: the two outputs differ in content"
        local s p
        s=$(median "${ts_slip[@]}") p=$(median "${ts_peer[@]}")
        printf '%-14s slipway convert %6.2f s (%4d MiB written), qemu-img convert %6.2f s (%4d MiB written): qemu-img/slipway %sx\n' \
                "$name" "$s" "$(($(du -k "$work/slip.$ofmt" | cut -f1) / 1024))" "$p" \
                "$(($(du -k "$work/peer.$ofmt" | cut -f1) / 1024))" "$(ratio "$p" "$s")"
}

step "raw -> qcow2" "$raw" raw "$work/out.qcow2" -O qcow2
step "qcow2 -> vhdx" "$work/in.qcow2" qcow2 "$work/out.vhdx" -O vhdx
step "vhdx -> vhd" "$work/in.vhdx" vhdx "$work/out.vhd" -O vpc -o subformat=fixed,force_size=on
step "vhd -> raw" "$work/in.vhd" vpc "$work/out.raw" -O raw
