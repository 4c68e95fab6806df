/* SPDX-License-Identifier: MIT */
#pragma once

/* An ext4 file system image from a tree, through libext2fs (e2fsprogs 1.47).
 *
 * The features are those of Debian 12's mkfs.ext4: has_journal, ext_attr,
 * resize_inode, dir_index, filetype, extent, 64bit, flex_bg, sparse_super,
 * large_file, huge_file, dir_nlink, extra_isize, metadata_csum; 4 KiB blocks,
 * 256-byte inodes, 5% of the blocks reserved for root, a lost+found of
 * 16 KiB. The image is clean as written (e2fsck -fn finds nothing).
 *
 * Reproducible: the same tree and options give a byte-identical image. The
 * UUID and the directory hash seed come from the options; every time stored
 * (inode times, s_mkfs_time, s_wtime, s_lastcheck) is min(its time,
 * o->time); the journal is not zeroed but left as holes of the new file, so
 * it reads as zeros. */

#include <stddef.h>
#include <stdint.h>

#include "fs/fs.h"
#include "tree/tree.h"

/* Uses every field of FsOptions: uuid is the file system UUID (the
 * journal's too), hash_seed s_hash_seed, label at most 16 bytes, and size 0
 * means the smallest that fits plus headroom: 1.2 × (file data + directory,
 * symlink and xattr blocks + inode tables + group metadata) + the journal,
 * rounded up to 1 MiB and at least 16 MiB (if that estimate turns out short
 * it grows by a quarter until the tree fits); a size is rounded down to
 * 4 KiB. */

/* Writes the file system image to path, which must not exist (it is created
 * sparse; on failure it is removed again). *ret_size (optional) is the size
 * of the image in bytes. Errors: -ENOSPC if the tree does not fit in a fixed
 * o->size, -EEXIST if path exists, -ENOENT/-ENOTDIR if o->root is not a
 * directory of the tree, -EINVAL for bad options, -ENAMETOOLONG for a name
 * over 255 bytes or a symlink target of 4 KiB or more, -E2BIG for xattrs that
 * do not fit into one block, other -errno from I/O. */
int ext4_build(const Tree *t, const FsOptions *o, const char *path, uint64_t *ret_size);
