/* SPDX-License-Identifier: MIT */
#pragma once

/* Hybrid bootable ISO 9660 images (ECMA-119 4th edition, with Rock Ridge
 * (RRIP 1.12) and Joliet names), written through libisofs. One file boots
 * four ways:
 *
 *  - as a CD/DVD on BIOS: the El Torito (El Torito Bootable CD-ROM Format
 *    Specification 1.0) default entry, platform 0x00, no emulation:
 *    isolinux.bin, its boot info table patched;
 *  - as a CD/DVD on UEFI: a section entry for platform 0xef whose image is
 *    the ESP (a FAT image);
 *  - as a disk (USB stick) on BIOS: the boot code of the caller's isohybrid
 *    MBR template (syslinux's isohdpfx.bin), which loads isolinux.bin from
 *    the 512-byte address at byte 432;
 *  - as a disk on UEFI: a GPT (UEFI 2.10 chapter 5) whose partition 2 "EFI
 *    boot partition" (type EFI System) is the same ESP bytes, under a
 *    protective MBR.
 *
 * The ESP is stored once, as the first data of the ISO 9660 volume (block
 * 32), in no directory. The layout is that of xorriso -as mkisofs
 * "-G isohdpfx.bin -b isolinux/isolinux.bin -c isolinux/boot.cat
 * -no-emul-boot -boot-load-size 4 -boot-info-table -eltorito-alt-boot
 * -e efiboot.img -no-emul-boot -efi-boot-part --efi-boot-image" with the
 * boot image's address written at byte 432; without an ESP it is the
 * classic isohybrid one (-isohybrid-mbr): an MBR partition of type 0x17,
 * active, over the whole image, padded to a whole MiB. See
 * docs/notes/iso.md. */

#include <stddef.h>
#include <stdint.h>

#include "fs/fs.h"

/* One regular file of the image. */
typedef struct Iso9660File {
        const char *path; /* absolute, e.g. "/boot/vmlinuz"; parent directories are made */
        const void *data; /* the contents, kept alive by the caller until iso9660_write() returns */
        size_t size;      /* data may be NULL when size is 0 */
} Iso9660File;

typedef struct Iso9660Spec {
        /* Of the file system options: label, the volume id, 1 to 32
         * d-characters (ECMA-119 7.4.1: A-Z, 0-9, '_'), e.g. "AZL_MINI_4_0",
         * also the Joliet volume id; time, SOURCE_DATE_EPOCH (>= 0, before
         * 2156): every time in the image; uuid, the GPT disk GUID (libisofs
         * derives the partition GUIDs from it; without an ESP there is no GPT
         * and it is not used). The others must be zero: the files are listed
         * below, and the image is as large as they make it. */
        FsOptions fs;

        const Iso9660File *files;
        size_t n_files;
        /* Optional: the files' contents (and the ESP's, efi_image) are read
         * through this as the image is written, in pieces, instead of from
         * memory: a file's data is then the caller's handle, passed as is;
         * read_file fills buf with the n bytes at off and returns 0 or
         * -errno. So no file need be in memory. */
        int (*read_file)(const void *data, uint64_t off, void *buf, size_t n);

        /* BIOS boot (optional, NULL = none): the path of isolinux.bin among
         * files (its boot info table is patched in the image's copy; the
         * caller's bytes are not changed), and the isohybrid MBR template of
         * 432 to 512 bytes (syslinux's isohdpfx.bin, whose isolinux.bin must
         * be of the same syslinux version; optional, NULL = no BIOS boot from
         * a disk; needs bios_boot_path). Only its first 432 bytes, the boot
         * code, are used. */
        const char *bios_boot_path;
        const void *bios_mbr;
        size_t bios_mbr_size;

        /* UEFI boot (optional, NULL = none): an ESP, a FAT image holding
         * EFI/BOOT/BOOTX64.EFI and whatever that loads (systemd-boot reads
         * only its own partition, so the kernel and initrd go in here too).
         * Any size: above 32 MiB the El Torito sector count is 0, which EDK II
         * reads as "to the end of the ISO 9660 volume", and the ESP lies
         * inside the volume. */
        const void *efi_image;
        size_t efi_image_size;
} Iso9660Spec;

/* Writes the image to path: a temporary file beside it (not fsync'd, like
 * the other image outputs), renamed into place, so a failure leaves nothing
 * at path and an older file there stays as it was.
 *
 * The bytes depend only on spec (and the libisofs version): the time stamp
 * is every node's, every directory record's and the volume descriptors'
 * creation, modification and effective time (in UTC; expiration is unset;
 * with timestamp 0 the effective time is unset too), GUIDs come from the
 * seed, and the data is laid out as the ESP, the boot catalog, the BIOS
 * boot image, then the files in the (byte-wise) order of their paths. Files are read-only (0444, directories 0555)
 * and owned by root. The boot catalog is the visible file "boot.cat" in the
 * BIOS boot image's directory, or "/boot.cat"; the ESP's (hidden) node is
 * "/efiboot.img".
 *
 * Errors: -EINVAL for a bad spec (a path not absolute, with an empty, "." or
 * ".." component, not UTF-8, or named twice; a file where another needs a
 * directory; a volume id that is not 1..32 d-characters; a time stamp out of
 * range; bios_boot_path not among files or shorter than 64 bytes; bios_mbr
 * without bios_boot_path or of the wrong size; an empty efi_image),
 * -ENAMETOOLONG for a path component over 255 bytes, -EEXIST when a file
 * takes the boot catalog's path or "/efiboot.img", -ENOMEM, and -EIO when
 * libisofs fails. */
int iso9660_write(const Iso9660Spec *spec, const char *path);
