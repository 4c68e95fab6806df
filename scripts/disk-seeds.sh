#!/bin/sh
# SPDX-License-Identifier: MIT
# Small disk images (each under 1 MiB) for fuzz-disk's corpus, made with the
# real tools: a GPT disk with a vfat, an ext4 (files, a symlink, a
# directory tree) and an empty partition, as raw, fixed VHD and compressed
# qcow2 (qemu-img), and an ISO 9660 with Rock Ridge (xorriso).
# Usage: disk-seeds.sh DIR
set -eu
out=$1
mkdir -p "$out"
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT

mkdir -p "$w/tree/etc" "$w/tree/usr/lib/sysimage/rpm" "$w/tree/boot/grub"
echo hello > "$w/tree/etc/motd"
# A root file system for fuzz-customize: an os-release, and an fstab that
# mounts the FAT partition (number 1) at /boot/efi.
echo 'ID=seed' > "$w/tree/etc/os-release"
printf '/dev/sda1 /boot/efi vfat umask=0077 0 2\n' > "$w/tree/etc/fstab"
mkdir -p "$w/tree/boot/efi"
ln -s motd "$w/tree/etc/link"
printf "menuentry 'x' {\n\tlinux /vmlinuz ro\n\tinitrd /initrd\n}\n" > "$w/tree/boot/grub/grub.cfg"
# ext4 of 256 KiB (1 KiB blocks, 32 inodes, no journal).
mke2fs -q -F -t ext4 -O ^has_journal -b 1024 -N 32 -L root -d "$w/tree" "$w/ext4.img" 256 >/dev/null 2>&1
# FAT12 of 200 KiB with a long name and a BLS entry.
mkfs.vfat -C "$w/vfat.img" 200 >/dev/null
export MTOOLS_SKIP_CHECK=1
mmd -i "$w/vfat.img" ::/loader ::/loader/entries
printf 'timeout 3\ndefault a.conf\n' > "$w/loader.conf"
printf 'title A\nlinux /vmlinuz\ninitrd /initrd\noptions quiet\n' > "$w/a.conf"
mcopy -i "$w/vfat.img" "$w/loader.conf" ::/loader/loader.conf
mcopy -i "$w/vfat.img" "$w/a.conf" "::/loader/entries/A Long Entry Name.conf"

# GPT: 34 sectors of table, the partitions, 33 of backup.
truncate -s 600K "$w/disk.raw"
printf 'label: gpt\nfirst-lba: 34\nstart=40, size=400, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\nstart=440, size=512, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\nstart=952, size=100, type=3B8F8425-20E0-4F3B-907F-1A25A76F98E8\n' |
        sfdisk -q "$w/disk.raw" >/dev/null
dd if="$w/vfat.img" of="$w/disk.raw" bs=512 seek=40 conv=notrunc status=none
dd if="$w/ext4.img" of="$w/disk.raw" bs=512 seek=440 conv=notrunc status=none
cp "$w/disk.raw" "$out/disk.raw"
cp "$w/vfat.img" "$out/vfat.img"
cp "$w/ext4.img" "$out/ext4.img"
# The same tree as a tar, for fuzz-customize's tar input.
tar -cf "$out/tree.tar" -C "$w/tree" .
if command -v qemu-img >/dev/null; then
        qemu-img convert -f raw -O qcow2 -c -o cluster_size=4096 "$w/disk.raw" "$out/disk.qcow2"
        qemu-img convert -f raw -O vpc -o subformat=fixed,force_size=on "$w/disk.raw" "$out/disk.vhd"
fi
if command -v xorriso >/dev/null; then
        xorriso -as mkisofs -quiet -R -J -V SEED -o "$out/tree.iso" "$w/tree" >/dev/null 2>&1
fi
