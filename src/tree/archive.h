/* SPDX-License-Identifier: MIT */
#pragma once

/* A tree as an archive, through libarchive: tar (POSIX pax, numeric owners,
 * xattrs as SCHILY.xattr records) for rootfs tarballs, WSL and OCI layers;
 * cpio "newc" for initrds. Entries are in path order, with the tree's times
 * and no host-dependent field, so the bytes depend only on the tree. */

#include <stddef.h>
#include <stdint.h>

#include "basic/alloc.h"
#include "tree/tree.h"

typedef enum TreeArchiveFormat {
        TREE_ARCHIVE_TAR,
        TREE_ARCHIVE_CPIO,
        _TREE_ARCHIVE_MAX,
        _TREE_ARCHIVE_INVALID = -EINVAL,
} TreeArchiveFormat;

/* The whole archive, uncompressed, in a buffer from huge_alloc() (cap
 * bytes; release with tree_archive_release()). */
typedef HugeBuf TreeArchive;

int tree_archive(const Tree *t, TreeArchiveFormat f, TreeArchive *ret);

/* The same archive handed to sink in pieces, as it is written (a sink's
 * -errno stops the writing and is returned). */
typedef int (*TreeArchiveSink)(void *userdata, const void *data, size_t n);
int tree_archive_stream(const Tree *t, TreeArchiveFormat f, TreeArchiveSink sink, void *userdata);
void tree_archive_release(TreeArchive *a);
