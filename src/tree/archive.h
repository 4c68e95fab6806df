/* SPDX-License-Identifier: MIT */
#pragma once

/* A tree as an archive, through libarchive: tar (POSIX pax, numeric owners,
 * xattrs as SCHILY.xattr records) for rootfs tarballs, WSL and OCI layers;
 * cpio "newc" for initrds. Entries are in path order, with the tree's times
 * and no host-dependent field, so the bytes depend only on the tree. */

#include <stddef.h>
#include <stdint.h>

#include "basic/alloc.h"
#include "basic/diag.h"
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

/* newc's size field is 8 hex digits (cpio(5)): 4 GiB - 1 per file. */
#define TREE_CPIO_FILE_MAX UINT64_C(0xffffffff)

/* Whether format f can hold every node of t, before anything is written:
 * a socket cannot be archived (libarchive's tar refuses it, and images do
 * not hold them), a newc cpio file holds at most TREE_CPIO_FILE_MAX bytes,
 * and a pax tar's names are UTF-8. Each node that cannot be held is
 * reported to d, naming the image and the path (bytes that are not
 * printable ASCII as \xHH); -EINVAL if any. tree_archive_stream() refuses
 * the same nodes (-EOPNOTSUPP, -EFBIG, -EILSEQ) without saying which. */
int tree_archive_check(const Tree *t, TreeArchiveFormat f, const char *image, Diagnostics *d);
