/* SPDX-License-Identifier: MIT */

/* cpio: NAME.cpio.zst or NAME.cpio.gz, newc, for initrds. The kernel's
 * initramfs unpacker reads both (CONFIG_RD_ZSTD, CONFIG_RD_GZIP) as streams,
 * so the archive is compressed as it is made and never held whole: one zstd
 * frame at level 19 from the multi-threaded compressor (its bytes do not
 * depend on the number of threads), or one gzip member at level 6. */

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "basic/compress.h"
#include "basic/fileio.h"
#include "compose/writer.h"
#include "tree/archive.h"

typedef struct CpioOut {
        int fd;
        uint64_t written;
} CpioOut;

static int out_fd(void *userdata, const void *data, size_t n) {
        CpioOut *o = userdata;
        int r = loop_write(o->fd, data, n);
        if (r < 0)
                return r;
        o->written += n;
        return 0;
}

static int to_compressor(void *userdata, const void *data, size_t n) {
        return compress_stream_write(userdata, data, n);
}

int writer_stream_cpio(const Tree *t, int fd, bool gzip, unsigned jobs, uint64_t *ret_size) {
        CpioOut o = { .fd = fd };
        CompressStream *s = NULL;
        int r = compress_stream_new(gzip ? COMPRESS_GZIP : COMPRESS_ZSTD, gzip ? 6 : 19, jobs, UINT64_MAX, out_fd, &o,
                                    &s);
        if (r < 0)
                return r;
        r = tree_archive_stream(t, TREE_ARCHIVE_CPIO, to_compressor, s);
        if (r < 0) {
                compress_stream_free(s);
                return r;
        }
        r = compress_stream_finish(s);
        if (r < 0)
                return r;
        if (ret_size)
                *ret_size = o.written;
        return 0;
}

int writer_cpio(const WriterContext *c, WriterSlot *slots, size_t n) {
        /* What newc cannot hold is named before anything is written. */
        int k = tree_archive_check(c->tree, TREE_ARCHIVE_CPIO, c->im->name, c->d);
        if (k < 0)
                return k;
        for (size_t i = 0; i < n; i++) {
                int fd = open(slots[i].tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd < 0)
                        return -errno;
                int r = writer_stream_cpio(c->tree, fd, c->o->cpio_gzip, c->o->jobs, &slots[i].size);
                /* No fsync, as for every image output (out-tar.c). */
                if (close(fd) < 0 && r >= 0)
                        r = -errno;
                if (r < 0)
                        return r;
        }
        return 0;
}
