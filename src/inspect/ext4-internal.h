/* SPDX-License-Identifier: MIT */
#pragma once

/* ext4 over a BlockSource, shared by the lister (fs-ext4.c) and the tree
 * loader (load-ext4.c). */

#include <ext2fs/ext2fs.h>

#include "basic/diag.h"
#include "disk/block.h"

#define EXT4_MAX_DEPTH 256   /* directories nested deeper are refused */
#define EXT4_SYMLINK_MAX 4096

/* Opens the ext2/3/4 file system on s read-only through an io_manager that
 * reads s (s must outlive the handle). The size the superblock claims is
 * checked against s before libext2fs allocates for it. -EBADMSG with an
 * error in d. */
int ext4_open_source(BlockSource *s, ext2_filsys *ret, Diagnostics *d);

/* The device number of a character or block special inode, as the kernel
 * stores it (old 16-bit format in i_block[0], else the new one in i_block[1]). */
static inline void ext4_inode_rdev(const struct ext2_inode *in, uint32_t *major, uint32_t *minor) {
        if (in->i_block[0]) {
                *major = (in->i_block[0] >> 8) & 0xff;
                *minor = in->i_block[0] & 0xff;
        } else {
                *major = (in->i_block[1] & 0xfff00) >> 8;
                *minor = (in->i_block[1] & 0xff) | ((in->i_block[1] >> 12) & 0xfff00);
        }
}
