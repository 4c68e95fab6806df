/* SPDX-License-Identifier: MIT */

/* Copying a block source into a container (block.h, block_write()): the
 * reader's map becomes the DiskSource's extents, so a conversion reads and
 * writes only what the input has allocated. */

#include <errno.h>
#include <stdlib.h>

#include "basic/alloc.h"
#include "disk/block.h"

typedef struct Copy {
        BlockSource *s;
        BlockWriteStats *stats;
} Copy;

static int copy_read(void *userdata, uint64_t offset, void *buf, size_t n) {
        Copy *c = userdata;
        int r = block_read(c->s, offset, buf, n);
        if (r < 0) {
                c->stats->read_failed = true;
                c->stats->failed_at = offset;
        }
        return r;
}

int block_write(BlockSource *s, DiskFormat f, const DiskWriteOptions *o, const char *path,
                BlockWriteStats *ret_stats) {
        BlockWriteStats stats = {};
        _cleanup_free_ DiskExtent *extents = NULL;
        size_t n = 0;
        int r = block_map(s, &extents, &n);
        if (r < 0)
                stats.map_failed = true;
        else {
                for (size_t i = 0; i < n; i++)
                        stats.mapped += extents[i].length;
                Copy c = { .s = s, .stats = &stats };
                const DiskSource src = {
                        .size = s->size,
                        .extents = extents,
                        .n_extents = n,
                        .read = copy_read,
                        .userdata = &c,
                };
                r = disk_write(&src, f, o, path);
        }
        if (ret_stats)
                *ret_stats = stats;
        return r;
}
