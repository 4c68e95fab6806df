/* SPDX-License-Identifier: MIT */
#pragma once

/* A squashfs 4.0 image from a tree, through libsquashfs (squashfs-tools-ng
 * 1.2): the read-only, compressed root of live media, mounted by the
 * kernel's squashfs driver (fs/squashfs, Documentation/filesystems/
 * squashfs.rst).
 *
 * zstd at level 15 (mksquashfs's and libsquashfs's default level, so no
 * compressor options block is written), data blocks of 128 KiB (the
 * default of mksquashfs and of the format: a random 4 KiB read decompresses
 * at most one block, and the kernel's fragment cache of 3 blocks stays
 * small), tails of files and files under a block packed into fragment
 * blocks, blocks of zeros stored as sparse, identical blocks and fragments
 * stored once (compared byte for byte, not by hash alone), an NFS export
 * table (as mksquashfs by default). Regular files, directories, symlinks,
 * character and block devices, fifos and sockets; hard links are one inode;
 * 32-bit owners through the id table (at most 65536 distinct ids); xattrs
 * in the user., trusted. and security. namespaces (the only ones the format
 * has). The image is padded to a multiple of 4 KiB, as mksquashfs does, so
 * that a loop device or a CD sees all of it.
 *
 * Reproducible: the same tree and options give the same bytes, whatever
 * the number of compressor threads (libsquashfs's block processor writes
 * blocks in the order they were submitted). Every inode time is
 * min(its mtime, o->time) clamped to 0 .. 2^32-1 (squashfs times are
 * unsigned 32-bit seconds); the superblock's mkfs time is o->time. */

#include <stdint.h>

#include "fs/fs.h"
#include "tree/tree.h"

/* Uses of FsOptions: root (a directory of the tree; -ENOENT/-ENOTDIR if it
 * is missing or not one), exclude (what is below those paths is left out,
 * the directories stay), time. size must be 0 (squashfs has no free space:
 * the image is as big as its contents), else -EINVAL; label, uuid and
 * hash_seed are not used (squashfs has none).
 *
 * Writes the image to path, which must not exist (-EEXIST); on failure it
 * is removed again. File contents go from the tree to the image in pieces
 * (tree_blob_foreach), never whole. *ret_size (optional): the image's size
 * in bytes. Errors: -ENAMETOOLONG for a name over 256 bytes or a symlink
 * target of 4 KiB or more (the kernel refuses them), -EOVERFLOW for a device
 * number over 12 bits major / 20 bits minor or more than 65536 distinct
 * owner ids, -EOPNOTSUPP for an xattr outside user., trusted., security.,
 * -ENOMEM, other -errno from I/O. */
int squashfs_build(const Tree *t, const FsOptions *o, const char *path, uint64_t *ret_size);

/* The same with n_threads compressor threads (0: one per CPU available),
 * for tests that check the bytes do not depend on it. */
int squashfs_build_threads(const Tree *t, const FsOptions *o, const char *path, unsigned n_threads,
                           uint64_t *ret_size);
