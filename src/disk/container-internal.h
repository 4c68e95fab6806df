/* SPDX-License-Identifier: MIT */
#pragma once

#include "basic/fileio.h"

/* What the container formats share (container.c): their writers walk the
 * source's data in UNIT pieces and write sparsely; one file per format
 * (raw.c, vhd.c, vhdx.c, qcow2.c) holds its on-disk structures, its writer
 * and its reader (block.h). */

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "disk/block.h"
#include "disk/container.h"

typedef uint16_t le16_t;
typedef uint32_t le32_t;
typedef uint64_t le64_t;
typedef uint16_t be16_t;
typedef uint32_t be32_t;
typedef uint64_t be64_t;

#define KiB ((uint64_t) 1024)
#define MiB (1024 * KiB)
#define TiB (1024 * 1024 * MiB)

/* The unit in which the source is read: every piece handed to a format's
 * writer is this long (the last one may be shorter) and aligned to it. */
#define UNIT (1 * MiB)
/* Zero blocks of this size inside extents become holes. */
#define HOLE_BLOCK (4 * KiB)

uint64_t round_up(uint64_t x, uint64_t a);
bool is_zero(const uint8_t *p, size_t n);
/* Writes data (n bytes, meant for file offset `offset`) but leaves out the
 * 4 KiB blocks (counted from data) that are all zeros: the file must already
 * be long enough or be extended by a later write or ftruncate(). */
int write_sparse(int fd, uint64_t offset, const uint8_t *data, size_t n);

/* Called for each UNIT-aligned piece of the virtual disk that meets an
 * extent, in order: data holds UNIT bytes (zeros outside the extents and
 * past the end), n of which are inside the disk. */
typedef int (*PieceFunc)(void *userdata, uint64_t offset, const uint8_t *data, size_t n);
int source_walk(const DiskSource *s, PieceFunc f, void *userdata);

/* Building a map (block_map()): ranges added in increasing order are
 * widened to 512-byte boundaries, clipped to size and merged with the
 * previous one when they touch it; once max ranges are held, a new range
 * is merged into the last one (zeros between them included), which keeps
 * the list a superset of the data and its memory bounded. */
typedef struct ExtentList {
        DiskExtent *extents;
        size_t n, allocated;
        uint64_t size;
        size_t max;
} ExtentList;

/* The max for a map of a file of file_size bytes: a sixty-fourth of the
 * file's size in memory (16-byte ranges), at least 4096 ranges. */
size_t extent_list_max(uint64_t file_size);
int extent_list_add(ExtentList *l, uint64_t offset, uint64_t length);
/* Hands the ranges to *ret and *ret_n; l is empty afterwards. */
void extent_list_take(ExtentList *l, DiskExtent **ret, size_t *ret_n);
void extent_list_release(ExtentList *l);

/* The writers, each to fd (positioned nowhere: they use pwrite). */
int write_raw(const DiskSource *s, const DiskWriteOptions *o, int fd);
int write_vhd(const DiskSource *s, const DiskWriteOptions *o, int fd);
int write_vhdx(const DiskSource *s, const DiskWriteOptions *o, int fd);
int write_qcow2(const DiskSource *s, const DiskWriteOptions *o, int fd);
/* qcow2's limits (write_qcow2()): the largest virtual size it writes. */
uint64_t qcow2_max_size(void);
