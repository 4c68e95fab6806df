/* SPDX-License-Identifier: MIT */
#pragma once

/* Reading a disk image into a tree, for `slipway customize`: the container
 * (block.h), the partition table, and the file systems slipway reads (ext4,
 * vfat), each put into one tree at its mount point (from the root file
 * system's /etc/fstab), with everything needed to write the disk again the
 * way it was: partition types, GUIDs, names and places, file system UUIDs
 * and labels, the boot code before the first partition. Nothing is
 * mounted and the input is never written: regular files of ext4 stay in
 * the image (blobs that read it on demand). */

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/diag.h"
#include "disk/block.h"
#include "tree/tree.h"

/* The image's virtual disk, shared by every blob that reads from it (so it
 * lives as long as the last of them). Reads are serialised: the container
 * readers keep state. */
typedef struct ImageDisk {
        BlockSource *source;
        pthread_mutex_t lock;
        unsigned ref;
} ImageDisk;

ImageDisk *image_disk_ref(ImageDisk *d);
ImageDisk *image_disk_unref(ImageDisk *d);
int image_disk_read(ImageDisk *d, uint64_t offset, void *buf, size_t n);

/* What a file system loader found besides the files. */
typedef struct LoadedFs {
        const char *type;      /* static: "ext4", "vfat" */
        char *label;           /* NULL: none */
        uint8_t uuid[16];      /* ext4: s_uuid; vfat: the volume id in the first 4 bytes (little-endian) */
        uint8_t hash_seed[16]; /* ext4: s_hash_seed */
        size_t n_entries;
} LoadedFs;

/* The ext2/3/4 file system at offset (size bytes) of the disk into t below
 * prefix ("/" or a mount point): at most max_entries entries. -EBADMSG with
 * an error in d for a malformed file system; -EFBIG past max_entries. */
int ext4_load_tree(ImageDisk *disk, uint64_t offset, uint64_t size, Tree *t, const char *prefix, size_t max_entries,
                   LoadedFs *ret, Diagnostics *d);
/* The FAT file system there, its files read into memory. */
int vfat_load_tree(ImageDisk *disk, uint64_t offset, uint64_t size, Tree *t, const char *prefix, size_t max_entries,
                   int64_t mtime, LoadedFs *ret, Diagnostics *d);

typedef struct LoadedPartition {
        unsigned number;        /* the GPT entry's index or the MBR partition's number, from 1 */
        uint8_t type_guid[16];  /* GPT */
        uint8_t mbr_type;       /* MBR: the type byte */
        bool bootable;          /* MBR: the active flag */
        uint8_t guid[16];       /* GPT: the partition's GUID */
        uint64_t first_lba, last_lba; /* inclusive, 512-byte sectors */
        uint64_t attributes;    /* GPT */
        char *name;             /* GPT: the partition name (UTF-8), "" if none */
        const char *type_name;  /* slipway's name of the type ("esp", "root", "swap", "linux", ...) or NULL */
        const char *found;      /* what it holds, from its magic numbers ("ext4", "xfs", ...), or NULL */
        LoadedFs fs;            /* fs.type set: loaded into the tree */
        char *mount;            /* where (from fstab or the type); NULL: not loaded, kept as bytes */
} LoadedPartition;

typedef struct LoadedImage {
        ImageDisk *disk;
        const char *format; /* the container: "raw", "vhd", "vhdx", "qcow2"; "tar", "oci" (no disk) */
        uint64_t size;      /* the virtual disk's size */
        bool gpt;           /* else MBR */
        uint8_t disk_guid[16];
        uint32_t mbr_signature;
        uint8_t mbr[512];       /* LBA 0 as it was (boot code, table) */
        uint8_t *boot_gap;      /* GPT: the bytes from LBA 34 to the first partition (GRUB's core.img), NULL when zeros */
        size_t boot_gap_size;
        LoadedPartition *parts;
        size_t n_parts;
        size_t root;            /* index of the partition mounted at "/" */
        Tree *tree;
} LoadedImage;

LoadedImage *loaded_image_free(LoadedImage *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(LoadedImage *, loaded_image_free);

/* Reads the disk image at path (raw, vhd, vhdx or qcow2) into a tree: its
 * root file system (the partition of a root type, else the first ext4 one
 * with /etc/os-release) and every partition its /etc/fstab mounts. Partitions it cannot read
 * (xfs, btrfs, LVM, LUKS) are an error naming what was found when fstab
 * mounts them or they are the root; others are kept as bytes. Directories
 * that are only mount points get mtime. Every problem is one error in d
 * naming the file (and partition); -EINVAL then. */
int image_load(const char *path, int64_t mtime, LoadedImage **ret, Diagnostics *d);
/* The same from an open file (dup'ed; the caller keeps fd), named path in messages. */
int image_load_fd(int fd, const char *path, int64_t mtime, LoadedImage **ret, Diagnostics *d);

/* Reads a tar file (plain or compressed), an oci-archive or an OCI image
 * layout directory into a tree (load-archive.c): a LoadedImage without disk
 * or partitions, format "tar" or "oci". Errors as image_load(). */
int archive_load(const char *path, int64_t mtime, LoadedImage **ret, Diagnostics *d);
/* Whether path is such an input (a directory, or a file that starts like a
 * tar or a compressed stream) rather than a disk image. */
bool archive_input(const char *path);
