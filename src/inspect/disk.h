/* SPDX-License-Identifier: MIT */
#pragma once

/* Reading disk images back, for `slipway inspect` (from-disk.c puts it
 * together): the partition table of a virtual disk (gpt-read.c), one lister
 * per file system behind one interface (fs-ext4.c, fs-vfat.c,
 * fs-iso9660.c), and the boot loader files (boot-entries.c). Everything
 * reads untrusted bytes through a BlockSource (block.h). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/diag.h"
#include "disk/block.h"
#include "inspect/inspect.h"

/* ---- GPT (UEFI 2.10 chapter 5) ---- */

typedef struct GptEntry {
        unsigned number; /* the entry's index in the array, from 1 (as sfdisk and the kernel number them) */
        uint8_t type_guid[16];
        uint8_t guid[16];
        uint64_t first_lba, last_lba; /* inclusive, within the disk */
        uint64_t attributes;
        char name[4 * 36 + 1]; /* UTF-8 */
} GptEntry;

typedef struct GptTable {
        uint8_t disk_guid[16];
        bool from_backup; /* the primary header or array was bad, the backup was used */
        GptEntry *entries;
        size_t n_entries;
} GptTable;

GptTable *gpt_table_free(GptTable *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(GptTable *, gpt_table_free);

/* Reads the GPT of a disk of 512-byte sectors: the primary header (LBA 1)
 * and entry array, each checked against its CRC32, or, if either is bad,
 * the backup that the primary's AlternateLBA or the last sector names. The
 * used entries (type GUID not zero) are returned in index order; an entry
 * that lies outside the usable LBAs or overlaps another is an error.
 * -EMEDIUMTYPE: no "EFI PART" signature anywhere (nothing in d); -EBADMSG:
 * a GPT, but neither copy is valid (an error in d). */
int gpt_read(BlockSource *disk, GptTable **ret, Diagnostics *d);

/* ---- MBR (UEFI 2.10 section 5.2.1 "Legacy Master Boot Record"; the
 * extended partitions' chain of Extended Boot Records as DOS and Linux
 * (block/partitions/msdos.c) lay it out) ---- */

typedef struct MbrEntry {
        unsigned number; /* 1-4: the primary slot; 5 and up: logical partitions in chain order (Linux's numbers) */
        bool bootable;   /* boot indicator 0x80 */
        bool logical;    /* inside the extended partition */
        uint8_t type;    /* OSType: 0x83 Linux, 0x0C FAT32 LBA, 0xEF EFI system, 0x05/0x0F/0x85 extended... */
        uint64_t first_lba, sectors; /* absolute; within the disk */
} MbrEntry;

typedef struct MbrTable {
        uint32_t disk_signature; /* UniqueMBRDiskSignature */
        MbrEntry *entries;       /* used entries: primaries (extended ones included) by slot, then logicals */
        size_t n_entries;
} MbrTable;

MbrTable *mbr_table_free(MbrTable *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(MbrTable *, mbr_table_free);

/* Whether an MBR partition type is an extended partition's (0x05, 0x0F,
 * 0x85). */
bool mbr_type_is_extended(uint8_t type);

/* Reads the MBR partition table of a disk of 512-byte sectors: the four
 * primary entries (empty ones, type 0 or no sectors, left out) and the
 * logical partitions of an extended one, following its chain of EBRs (at
 * most 128 logical partitions; a chain that comes back to an EBR is an
 * error). -EMEDIUMTYPE (nothing in d): no 0x55AA signature, a boot
 * indicator other than 0x00/0x80 (a file system's boot sector, not a
 * partition table), or a protective MBR (an entry of type 0xEE: the disk is
 * GPT, read it with gpt_read()). -EBADMSG with an error in d: an entry
 * outside the disk, two partitions that overlap (a logical one outside its
 * extended partition too), more than one extended partition, a broken or
 * looping chain. */
int mbr_read(BlockSource *disk, MbrTable **ret, Diagnostics *d);

/* ---- file systems ---- */

/* What a lister is asked to do: append every entry of the file system to
 * inv (paths absolute within the file system, the root "/" first), and hand
 * over the contents of the regular files want() asks for. */
typedef struct FsWalk {
        Inventory *inv;
        size_t max_entries; /* the most files inv may hold in all; more: -EFBIG */
        /* Called for each regular file: whether its contents are wanted
         * (then at most size bytes are read, the file's whole size). */
        bool (*want)(void *userdata, const char *path, uint64_t size);
        /* The contents asked for, malloc'd and owned by the callee from then
         * on; a negative return stops the walk with it. */
        int (*contents)(void *userdata, const char *path, uint8_t *data, size_t size);
        void *userdata;
} FsWalk;

typedef struct FsType {
        const char *name; /* "ext4", "vfat", "iso9660" */
        /* Whether s holds this file system (its magic numbers). */
        bool (*probe)(BlockSource *s);
        /* Lists it. *ret_label and *ret_uuid (malloc'd, NULL when there is
         * none) are set on success. Malformed file systems give -EBADMSG with
         * an error in d; what was listed before stays in inv. */
        int (*walk)(BlockSource *s, FsWalk *w, char **ret_label, char **ret_uuid, Diagnostics *d);
} FsType;

extern const FsType fs_type_ext4;
extern const FsType fs_type_vfat;
extern const FsType fs_type_iso9660;

/* The file system on s, or NULL. */
const FsType *fs_probe(BlockSource *s);

/* What s holds, by magic numbers, readable by slipway or not: "ext4" (ext2
 * and ext3 too), "vfat", "iso9660" (fs_probe()), or "xfs", "btrfs", "lvm2"
 * (an LVM2 physical volume), "luks" (LUKS1 or LUKS2), "swap", "squashfs",
 * "erofs", "ntfs"; NULL if none. For messages such as "partition 2 holds
 * xfs, which slipway cannot read". */
const char *fs_identify(BlockSource *s);

/* Appends a file to w->inv, checking w->max_entries: -EFBIG past it (with
 * an error in d), -ENOMEM. path is copied. */
int fs_add_file(FsWalk *w, const char *path, InvFile **ret, Diagnostics *d);

/* A set of non-zero 32-bit numbers (directory inodes or clusters listed
 * already, so that a loop is followed once). */
typedef struct U32Set {
        uint32_t *slots;
        size_t n, allocated;
} U32Set;

/* 1: added, 0: was there already; -ENOMEM, -EINVAL for 0. */
int u32_set_add(U32Set *s, uint32_t v);
void u32_set_release(U32Set *s);

/* ---- boot loader files ---- */

/* Whether path (within a file system) is a boot loader file read here:
 * loader/loader.conf and loader/entries/NAME.conf (systemd-boot, Boot
 * Loader Specification type #1), boot/grub/grub.cfg, grub/grub.cfg,
 * boot/grub2/grub.cfg, grub2/grub.cfg. */
bool boot_file_wanted(const char *path);

/* Parses one such file (data, size bytes: any bytes) into inv's boot
 * entries and loader settings. Entries and settings are bounded in number
 * and length; lines it does not know are ignored. -ENOMEM only. */
int boot_file_parse(Inventory *inv, int partition, const char *path, const uint8_t *data, size_t size);
