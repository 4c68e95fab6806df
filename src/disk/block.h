/* SPDX-License-Identifier: MIT */
#pragma once

/* Block sources: random read access to a virtual disk, for `slipway inspect`
 * of disk images. One interface (BlockSourceOps); each container format's
 * reader lives in the format's file beside its writer (container.h):
 *
 *   block.c   the interface; a file (pread), memory, and a slice of
 *             another source (a partition); picking the container
 *   vhd.c     VHD, fixed (a raw disk and a footer at the end) and dynamic
 *             (a header, a BAT and blocks with sector bitmaps)
 *   vhdx.c    VHDX: headers, region table, metadata, BAT ([MS-VHDX])
 *   qcow2.c   qcow2 (versions 2 and 3): L1/L2 tables, deflate clusters
 *
 * Everything here reads untrusted bytes: every offset and size from the file
 * is checked against the file's size before use, tables are read only as far
 * as the virtual size needs them, and what is allocated is bounded by the
 * file's size (never by a size the file claims). A read past a source's end
 * is -EIO; a container whose structure is malformed gives -EBADMSG from its
 * open function with an error in the Diagnostics, or -EBADMSG from a later
 * read (a table entry pointing outside the file). */

#include <stddef.h>
#include <stdint.h>

#include "basic/diag.h"
#include "basic/macro.h"
#include "disk/container.h"

typedef struct BlockSource BlockSource;

typedef struct BlockSourceOps {
        /* Reads n bytes at offset, which the caller (block_read()) has
         * checked lie within [0, size). -errno on failure. */
        int (*read_at)(BlockSource *s, uint64_t offset, void *buf, size_t n);
        /* Releases what the source owns (not the struct itself). */
        void (*release)(BlockSource *s);
        /* Optional (block_map()): the ranges that may hold data, as
         * block_map() returns them. NULL: everything may. */
        int (*map)(BlockSource *s, DiskExtent **ret, size_t *ret_n);
} BlockSourceOps;

struct BlockSource {
        const BlockSourceOps *ops;
        uint64_t size;     /* virtual size in bytes */
        const char *format; /* static: "raw", "vhd", "vhdx", "qcow2" */
};

/* Reads n bytes at offset; -EIO if they do not lie within the source. */
int block_read(BlockSource *s, uint64_t offset, void *buf, size_t n);

/* Where s may hold data: *ret (malloc'd, the caller frees it; NULL when
 * *ret_n is 0) holds sorted, non-overlapping ranges within [0, size), each
 * starting at a multiple of 512 and ending at one or at the source's end.
 * Everything outside them reads as zeros; inside they may hold zeros too (a
 * map is as fine as the format's allocation unit: a file system's block for
 * a raw file (SEEK_DATA/SEEK_HOLE), a cluster for qcow2 (zero-flagged
 * clusters are holes), a block for VHDX (fully or partially present) and
 * dynamic VHD (allocated in the BAT)). A fixed VHD is its file's map without
 * the footer, a slice its base's map clipped and shifted; memory and
 * sources without a map op are all data. The number of ranges is bounded by
 * the size of the file underneath (past that, ranges are merged, with the
 * zeros between them), so a small malformed file cannot make a huge list.
 * -errno on failure (-EBADMSG: a table a container reads for it is
 * malformed). */
int block_map(BlockSource *s, DiskExtent **ret, size_t *ret_n);

BlockSource *block_source_free(BlockSource *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(BlockSource *, block_source_free);

/* A file, read with pread(); fd is dup'ed (the caller keeps its own). */
int block_source_from_fd(int fd, BlockSource **ret);
/* Memory the caller keeps alive for the source's lifetime. */
int block_source_from_memory(const void *data, size_t size, BlockSource **ret);
/* size bytes of base from offset (which must lie within base, else
 * -EINVAL). base is borrowed and must outlive the slice. */
int block_source_slice(BlockSource *base, uint64_t offset, uint64_t size, BlockSource **ret);

/* The container readers. Each takes the file as a source and, on success,
 * owns it (it is freed with the container's source); on failure the caller
 * still owns it. -EMEDIUMTYPE: not this format (nothing in d); -EBADMSG:
 * this format but malformed (a VHD whose footer at the end is missing but
 * whose copy at the start is there: truncated), -EOPNOTSUPP: a variant
 * slipway cannot read (a differencing VHD, a VHDX with a log to replay or a
 * parent, an encrypted qcow2 or one with a backing file), both with an
 * error in d; -ENOMEM. */
int block_open_vhd(BlockSource *file, BlockSource **ret, Diagnostics *d);
int block_open_vhdx(BlockSource *file, BlockSource **ret, Diagnostics *d);
int block_open_qcow2(BlockSource *file, BlockSource **ret, Diagnostics *d);

/* Recognises the container of file (qcow2, VHDX, VHD, else raw) and opens
 * it as the functions above do; a raw file is returned as it is. */
int block_open_container(BlockSource *file, BlockSource **ret, Diagnostics *d);

/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as [MS-VHDX] 2.2.2
 * requires for its headers and region tables. */
uint32_t block_crc32c(const void *data, size_t n);

/* ---- copying a source into a container (`slipway convert`) ---- */

typedef struct BlockWriteStats {
        uint64_t mapped;      /* bytes inside block_map()'s ranges: what was read */
        bool map_failed;      /* the failure was block_map(s) */
        bool read_failed;     /* the failure was reading s ... */
        uint64_t failed_at;   /* ... at this offset */
} BlockWriteStats;

/* Writes s as disk_write() does (format f, options o, to path: a temporary
 * file renamed into place), with the extents from block_map(s): what the
 * map leaves out is neither read nor written. s->size must suit f
 * (disk_write()'s -EINVAL otherwise). *ret_stats (may be NULL) is filled on
 * success and on failure. Errors of block_map() and of reading s (-EBADMSG:
 * a container's table points outside its file) are returned as they are. */
int block_write(BlockSource *s, DiskFormat f, const DiskWriteOptions *o, const char *path,
                BlockWriteStats *ret_stats);
