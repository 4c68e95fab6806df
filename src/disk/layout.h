/* SPDX-License-Identifier: MIT */
#pragma once

/* A virtual disk put together from pieces for disk_write() (container.h):
 * buffers (partition tables, boot code), sparse files (file systems made in
 * a scratch directory: only their runs of data), and ranges of another
 * source (partitions of an input disk copied as they are, through its
 * allocation map). Pieces are added in increasing offset and do not
 * overlap; everything else reads as zeros. */

#include <stddef.h>
#include <stdint.h>

#include "disk/block.h"
#include "disk/container.h"

typedef struct DiskPiece {
        uint64_t offset, length;
        const uint8_t *data;  /* a buffer the caller keeps alive, or */
        int fd;               /* a file (>= 0), or */
        BlockSource *source;  /* a source the caller keeps alive */
        uint64_t src_offset;  /* where the piece starts in fd or source */
} DiskPiece;

typedef struct DiskLayout {
        DiskPiece *pieces;
        size_t n, allocated;
        DiskExtent *extents; /* made by disk_layout_source() */
} DiskLayout;

void disk_layout_release(DiskLayout *l);

int disk_layout_add_data(DiskLayout *l, uint64_t offset, const uint8_t *data, uint64_t length);
/* length bytes of the sparse file fd from its start, at offset: one piece
 * per run of data (SEEK_DATA/SEEK_HOLE widened to whole sectors), so that
 * the holes of a large, mostly empty file system are never read. */
int disk_layout_add_file(DiskLayout *l, uint64_t offset, uint64_t length, int fd);
/* length bytes of s from src_offset, at offset: one piece per range of
 * block_map(s) that holds data. */
int disk_layout_add_source(DiskLayout *l, uint64_t offset, BlockSource *s, uint64_t src_offset, uint64_t length);

/* The layout as a DiskSource of size bytes (its extents are the pieces,
 * widened to whole sectors); l must outlive it. */
int disk_layout_source(DiskLayout *l, uint64_t size, DiskSource *ret);
