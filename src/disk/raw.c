/* SPDX-License-Identifier: MIT */

/* raw: the virtual disk as a sparse file of its size; only non-zero 4 KiB
 * blocks are written. A raw file is read as it is (block.h). */

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "basic/alloc.h"
#include "basic/macro.h"
#include "disk/container-internal.h"
#include "disk/gpt.h"

typedef struct RawWriter {
        int fd;
} RawWriter;

static int raw_piece(void *userdata, uint64_t offset, const uint8_t *data, size_t n) {
        RawWriter *w = userdata;
        return write_sparse(w->fd, offset, data, n);
}

int write_raw(const DiskSource *s, const DiskWriteOptions *o, int fd) {
        if (ftruncate(fd, (off_t) s->size) < 0)
                return negative_errno();
        RawWriter w = { .fd = fd };
        return source_walk(s, raw_piece, &w);
}
