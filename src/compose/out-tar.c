/* SPDX-License-Identifier: MIT */

/* tar: NAME.tar.zst, the root filesystem as a pax tar (tree/archive.c),
 * streamed through the parallel compressor and never held whole. */

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "basic/compress.h"
#include "compose/writer.h"
#include "tree/archive.h"

static int stream_sink(void *userdata, const void *data, size_t n) {
        return chunked_writer_write(userdata, data, n);
}

int writer_stream_tar(const Tree *t, const char *path, bool gzip, unsigned jobs, uint64_t *ret_size) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        ChunkedWriter *w = NULL;
        int r = chunked_writer_new(fd, gzip, 3, COMPRESS_CHUNK, jobs, &w);
        if (r >= 0) {
                r = tree_archive_stream(t, TREE_ARCHIVE_TAR, stream_sink, w);
                int k = chunked_writer_finish(w, ret_size);
                if (r >= 0)
                        r = k;
        }
        /* No fsync: the final name appears only by rename, after the data
         * is written; flushing hundreds of MiB would double a run's time. */
        if (close(fd) < 0 && r >= 0)
                r = -errno;
        return r;
}

int writer_tar(const WriterContext *c, WriterSlot *slots, size_t n) {
        int k = tree_archive_check(c->tree, TREE_ARCHIVE_TAR, c->im->name, c->d);
        if (k < 0)
                return k;
        for (size_t i = 0; i < n; i++) {
                int r = writer_stream_tar(c->tree, slots[i].tmp, false, c->o->jobs, &slots[i].size);
                if (r < 0)
                        return r;
        }
        return 0;
}
