/* SPDX-License-Identifier: MIT */
#pragma once

/* Disk containers: one virtual disk, given as a size plus the extents where
 * data may be, written as raw, VHD (fixed), VHDX (dynamic) or qcow2. The
 * data is read once, in order, through the source's read callback (straight
 * from the partition writers), so no full raw image is ever made first. */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct DiskExtent {
        uint64_t offset, length;
} DiskExtent; /* sorted, non-overlapping, 512-aligned */

typedef struct DiskSource {
        uint64_t size;                               /* virtual size in bytes, a multiple of 512 */
        const DiskExtent *extents; size_t n_extents; /* where data may be; everything else reads as zeros */
        /* Reads n bytes at offset (always inside one extent, at most 1 MiB,
         * offsets increasing); -errno on failure. */
        int (*read)(void *userdata, uint64_t offset, void *buf, size_t n);
        void *userdata;
} DiskSource;

typedef enum DiskFormat {
        DISK_FORMAT_RAW,
        DISK_FORMAT_VHD,
        DISK_FORMAT_VHDX,
        DISK_FORMAT_QCOW2,
        _DISK_FORMAT_MAX,
        _DISK_FORMAT_INVALID = -EINVAL,
} DiskFormat;

const char *disk_format_to_string(DiskFormat f);
DiskFormat disk_format_from_string(const char *s);

/* The largest virtual size format f holds, in bytes: VHDX 64 TiB ([MS-VHDX]
 * 2.6.2.2), qcow2 2 PiB (qemu's 32 MiB limit on the L1 table with 64 KiB
 * clusters), VHD 2040 GiB (Microsoft's limit for VHD, which qemu's vpc
 * driver keeps too), raw 64 TiB (a sparse file: a bound that keeps a typo
 * such as "100T" from reaching the host, whose file system may hold less:
 * ext4 16 TiB - 4 KiB).
 * disk_write() refuses larger sources; the project loader checks `size`
 * against it. */
uint64_t disk_format_max_size(DiskFormat f);

typedef struct DiskWriteOptions {
        uint8_t seed[32];  /* GUIDs/unique ids are derived from it (SHA-256 of seed + a label) */
        int64_t timestamp; /* SOURCE_DATE_EPOCH: VHD footer time stamp etc. */
        bool compress;     /* qcow2: zlib-compressed clusters */
} DiskWriteOptions;

/* Writes src in format f to path: a temporary file beside it (not fsync'd,
 * like the other image outputs), renamed into place, so a failure leaves
 * nothing at path and an older file there stays as it was. The bytes depend
 * only on the inputs (and, for compressed qcow2, the zlib version). o may be
 * NULL: a zero seed and time stamp, no compression.
 *
 * The formats:
 *  raw:   a sparse file of src->size bytes; only non-zero 4 KiB blocks are
 *         written.
 *  vhd:   raw plus a fixed-disk footer. The creator application is "qem2",
 *         the value for which qemu takes the footer's size rather than the
 *         CHS geometry's (which is smaller), as Hyper-V and Azure do.
 *  vhdx:  dynamic, 32 MiB blocks, 512/4096-byte logical/physical sectors;
 *         blocks without data are PAYLOAD_BLOCK_ZERO.
 *  qcow2: version 3, 64 KiB clusters, 16-bit refcounts; only clusters with
 *         data are allocated, compressed (raw deflate) if o->compress and
 *         that is smaller.
 *
 * -EINVAL: extents not sorted, overlapping, unaligned or past the end; size 0
 * or not a multiple of 512; a size the format does not allow (VHD: not a
 * whole number of MiB, as Azure requires; over disk_format_max_size()). Errors of the
 * read callback are returned as they are. */
int disk_write(const DiskSource *src, DiskFormat f, const DiskWriteOptions *o, const char *path);
