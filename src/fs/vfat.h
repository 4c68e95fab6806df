/* SPDX-License-Identifier: MIT */
#pragma once

/* FAT file systems (FAT16, FAT32, with VFAT long names) built in memory from
 * a subtree of a Tree, for ESPs and XBOOTLDR partitions (Microsoft "FAT32
 * File System Specification" 1.03, "fatgen103").
 *
 * Geometry, chosen from the size alone so that equal inputs give equal
 * images: 512-byte sectors, two FATs, media 0xF8.
 *   - FAT32 when clusters of 4 KiB (8 KiB from 8 GiB, 16 KiB from 16 GiB,
 *     32 KiB from 32 GiB) give at least 65525 clusters, i.e. from about
 *     257 MiB; 32 reserved sectors, FSInfo in sector 1, backup boot sector
 *     in 6 (FSInfo backup in 7), the root directory from cluster 2.
 *   - FAT16 below that: the smallest cluster size from 2 KiB up that gives
 *     at most 65524 clusters, or 1 KiB or 512 bytes when 2 KiB gives fewer
 *     than 4085; one reserved sector, 512 root directory entries (more when
 *     the root needs them).
 *   - FAT12 is never written: sizes too small for 4085 clusters of 512 bytes
 *     (about 2.1 MiB) are refused with -ENOSPC, as are sizes whose content
 *     does not fit. Sizes of 2 TiB and more are refused with -EFBIG.
 * Clusters are allocated contiguously in path order. Every entry gets the
 * time given in the options (UTC; clamped to 1980-01-01 .. 2107-12-31).
 * A name that is a valid upper-case 8.3 name is stored as such; any other
 * gets a long name and a short name NAME~N.EXT (the lowest N free in its
 * directory). Names that differ only in case collide on FAT: -EEXIST. */

#include <stdint.h>

#include "fs/fs.h"
#include "tree/tree.h"

/* Uses of FsOptions: root (a directory of the tree; -ENOENT/-ENOTDIR if it
 * is missing or not one), size (required: a multiple of 512, else -EINVAL),
 * time (every entry's), label (up to 11 characters valid in a short name,
 * lower case is raised; NULL: "NO NAME") and the first 4 bytes of uuid (the
 * volume id, little-endian). exclude must be empty.
 *
 * Writes the image to path, which must not exist: a sparse file of size
 * bytes, created 0644 (removed again on failure). Only the reserved
 * sectors, the FATs and the directories are built in memory; the files'
 * contents go from the tree to their clusters in pieces. Directories and
 * regular files only: any other node gives -EOPNOTSUPP. A name that is not
 * valid in a VFAT long name gives -EINVAL. *ret_used (optional): the bytes
 * from the start that hold anything, everything after being holes
 * (clusters are allocated from the front). */
int vfat_build(const Tree *t, const FsOptions *o, const char *path, uint64_t *ret_used);
/* The same into fd, an empty file open for writing (an O_TMPFILE, say). */
int vfat_build_fd(const Tree *t, const FsOptions *o, int fd, uint64_t *ret_used);
