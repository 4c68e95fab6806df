#!/bin/bash
# SPDX-License-Identifier: MIT
# Image benchmark (issue: disks and boot). Prints four figures, each slipway
# against the peer tool measured in the same run (median of 3):
#   1. ext4: slipway's ext4 writer (build/bench/bench-writers, the code behind
#      `slipway image`) making a file system of the tree of N generated
#      packages (default 300; bench/common.sh), read from the image's tar.zst
#      into memory (timed), against `mkfs.ext4 -d` of the same tree extracted
#      beforehand (not timed), at the same size; the time of `slipway image`
#      of that data disk (boot = "none", resolve, install, ext4, raw) is
#      printed too;
#   2. VHD: slipway's VHD writer (build/bench/bench-writers, the code behind
#      `slipway image`) making a fixed VHD of slipway's raw disk, against
#      `qemu-img convert -O vpc -o subformat=fixed,force_size=on` of the same
#      raw disk; the time of `slipway image` of that disk as a VHD from the
#      repository is printed too;
#   3. ISO: slipway's ISO writer making the live hybrid ISO of examples/minimal
#      from its files (the kernel, the initrd, ISOLINUX and the ESP image,
#      extracted from slipway's own ISO), against `xorriso -as mkisofs` making
#      a hybrid ISO of the same files, El Torito records, isohybrid MBR and
#      ESP (xorriso appends the ESP after the volume, slipway stores it inside
#      it: docs/notes/iso.md says why); the time of `slipway image live`
#      (resolve, install, the initrd cpio, the ESP, the ISO) is printed too;
#   4. the whole example: `slipway build` of examples/minimal from nothing
#      (every package through rpmbuild or natively, the repository, every
#      image), against the goal of 60 s.
# Needs build/slipway, build/bench/bench-writers, mkfs.ext4,
# qemu-img, xorriso, osirrox, rpm2cpio, tar, zstd.
#
#   bench/image.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-300}
RUNS=3
SLIPWAY=$PWD/build/slipway
work=$(mktemp -d /tmp/slipway-bench-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
export SOURCE_DATE_EPOCH=1767225600
# shellcheck source=bench/common.sh
. bench/common.sh

proj=$work/proj
nfiles=$(gen "$proj" "$N")
cat >> "$proj/slipway.toml" <<EOF

[images.disk]
formats = ["raw"]
boot = "none"
packages = [
$(cat "$proj/packages.list")
]

[[images.disk.partitions]]
type = "root"
size = "grow"

[images.vhd]
formats = ["vhd"]
boot = "none"
packages = [
$(cat "$proj/packages.list")
]

[[images.vhd.partitions]]
type = "root"
size = "grow"
EOF
"$SLIPWAY" -q -C "$proj" package
"$SLIPWAY" -q -C "$proj" image all disk
echo "bench/image.sh: $N packages ($nfiles files), $(nproc) CPUs, $(mkfs.ext4 -V 2>&1 | head -1), $(qemu-img --version | head -1), $(xorriso -version 2>/dev/null | head -1)"

# 1. ext4. The peer gets the tree slipway installed, extracted as root would
# (owners, modes), and the same partition size.
mkdir "$work/tree"
tar --zstd -C "$work/tree" -xpf "$proj/out/images/all.tar.zst"
size=$(sfdisk -J "$proj/out/images/disk.raw" | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][0]["size"] * 512)')
WRITERS=$PWD/build/bench/bench-writers
ts_slip=() ts_peer=()
for _ in $(seq 1 "$RUNS"); do
        rm -f "$work/slip.ext4" "$work/peer.ext4"
        sync
        mark; "$WRITERS" ext4 "$proj/out/images/all.tar.zst" "$work/slip.ext4" "$size"; took t; ts_slip+=("$t")
        sync
        mark
        mkfs.ext4 -q -F -d "$work/tree" -E root_owner=0:0 "$work/peer.ext4" "$((size / 1024))k"
        took t; ts_peer+=("$t")
done
e2fsck -fn "$work/slip.ext4" >/dev/null 2>&1 || echo "warning: slipway's ext4 is not clean"
e2fsck -fn "$work/peer.ext4" >/dev/null 2>&1 || echo "warning: the peer's ext4 is not clean"
t1s=$(median "${ts_slip[@]}") t1p=$(median "${ts_peer[@]}")
rm -f "$proj/out/images/disk.raw"
mark; "$SLIPWAY" -q -C "$proj" image disk; took t1full
printf 'ext4 (%d packages, %d files, %d MiB):  slipway (the tree read from its tar.zst, then ext4) %6.2f s, mkfs.ext4 -d (the tree extracted beforehand) %6.2f s: %sx (goal >= 1x)\n' \
        "$N" "$nfiles" "$((size >> 20))" "$t1s" "$t1p" "$(ratio "$t1p" "$t1s")"
printf '  (slipway image of the disk from the repository, resolve+install+ext4+raw: %6.2f s)\n' "$t1full"

# 2. VHD: slipway's VHD writer against qemu-img, both from slipway's raw disk.
ts_slip=() ts_peer=()
for _ in $(seq 1 "$RUNS"); do
        rm -f "$work/slip.vhd" "$work/peer.vhd"
        sync
        mark; "$WRITERS" vhd "$proj/out/images/disk.raw" "$work/slip.vhd"; took t; ts_slip+=("$t")
        sync
        mark
        qemu-img convert -f raw -O vpc -o subformat=fixed,force_size=on "$proj/out/images/disk.raw" "$work/peer.vhd"
        took t; ts_peer+=("$t")
done
qemu-img compare -q -f vpc -F vpc "$work/slip.vhd" "$work/peer.vhd" || echo "warning: the two VHDs differ in content"
t2s=$(median "${ts_slip[@]}") t2p=$(median "${ts_peer[@]}")
mark; "$SLIPWAY" -q -C "$proj" image vhd; took t2full
printf 'VHD (%d MiB disk, from the raw disk):  slipway %6.2f s, qemu-img convert -O vpc -o subformat=fixed,force_size=on %6.2f s: %sx (goal >= 1x)\n' \
        "$(($(stat -c %s "$proj/out/images/disk.raw") >> 20))" "$t2s" "$t2p" "$(ratio "$t2p" "$t2s")"
printf '  (slipway image of the same disk as a VHD from the repository, resolve+install+ext4+vhd: %6.2f s)\n' "$t2full"

# 4 first (it makes the example's repository for 3): the whole example.
ex=$work/example
cp -r examples/minimal "$ex"
rm -rf "$ex/out"
sync
mark; "$SLIPWAY" -q -C "$ex" build 2>/dev/null; took t4

# 3. ISO: the peer makes the same layout from the same pieces.
iso=$ex/out/images/live.iso
mkdir -p "$work/isofiles"
osirrox -indev "$iso" -extract / "$work/isofiles" 2>/dev/null
chmod -R u+w "$work/isofiles"
rm -f "$work/isofiles/isolinux/boot.cat"
start=$(sfdisk -J "$iso" | python3 -c 'import json,sys; p=[q for q in json.load(sys.stdin)["partitiontable"]["partitions"] if q["type"].startswith("C12A7328")][0]; print(p["start"], p["size"])')
dd if="$iso" of="$work/efiboot.img" bs=512 skip="${start% *}" count="${start#* }" status=none
cp "$ex/out/repo/Packages/"syslinux-*.rpm "$work/syslinux.rpm"
(cd "$work" && rpm2cpio syslinux.rpm | cpio -idm --quiet ./usr/share/syslinux/isohdpfx.bin)
ts_slip=() ts_peer=()
for _ in $(seq 1 "$RUNS"); do
        rm -f "$work/slip.iso" "$work/peer.iso"
        sync
        mark
        "$WRITERS" iso "$work/slip.iso" "$work/isofiles" "$work/usr/share/syslinux/isohdpfx.bin" "$work/efiboot.img"
        took t; ts_slip+=("$t")
        sync
        mark
        xorriso -as mkisofs -quiet -R -J -V AZL_MINI_4_0 -o "$work/peer.iso" \
                -b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot -boot-load-size 4 -boot-info-table \
                -isohybrid-mbr "$work/usr/share/syslinux/isohdpfx.bin" \
                -append_partition 2 0xef "$work/efiboot.img" -appended_part_as_gpt \
                -eltorito-alt-boot -e --interval:appended_partition_2:all:: -no-emul-boot \
                "$work/isofiles" 2>/dev/null
        took t; ts_peer+=("$t")
done
t3s=$(median "${ts_slip[@]}") t3p=$(median "${ts_peer[@]}")
rm -f "$iso"
mark; "$SLIPWAY" -q -C "$ex" image live 2>/dev/null; took t3full
printf 'ISO (%d MiB, from the same files):  slipway %6.2f s, xorriso -as mkisofs %6.2f s: %sx (goal >= 1x)\n' \
        "$(($(stat -c %s "$iso") >> 20))" "$t3s" "$t3p" "$(ratio "$t3p" "$t3s")"
printf '  (slipway image live from the repository, resolve+install+initrd+ESP+iso: %6.2f s)\n' "$t3full"
printf 'example: slipway build of examples/minimal from nothing (packages, repository, 5 images): %6.2f s (goal < 60 s)\n' "$t4"
