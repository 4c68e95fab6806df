/* SPDX-License-Identifier: MIT */
#pragma once

/* A tree as an archive, through libarchive: tar (POSIX pax, numeric owners,
 * xattrs as SCHILY.xattr records) for rootfs tarballs, WSL and OCI layers;
 * cpio "newc" for initrds. Entries are in path order, with the tree's times
 * and no host-dependent field, so the bytes depend only on the tree. */

#include <stddef.h>
#include <stdint.h>

#include "tree/tree.h"

typedef enum TreeArchiveFormat {
        TREE_ARCHIVE_TAR,
        TREE_ARCHIVE_CPIO,
        _TREE_ARCHIVE_MAX,
        _TREE_ARCHIVE_INVALID = -EINVAL,
} TreeArchiveFormat;

/* The whole archive, uncompressed, in a malloc'd buffer. */
int tree_archive(const Tree *t, TreeArchiveFormat f, uint8_t **ret, size_t *ret_len);
