/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <stdbool.h>
#include <errno.h>
#include <sys/types.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "basic/compress.h"
#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/parallel.h"
#include "basic/strbuf.h"

#define DECOMPRESS_MAX (1024u * 1024 * 1024)
/* The most memory an xz stream may make the decoder take (its dictionary,
 * mostly): xz -9, rpm's largest preset, needs 65 MiB; a hostile stream could
 * otherwise ask for a 4 GiB dictionary, whatever its size. More: -EBADMSG. */
#define XZ_MEMLIMIT ((uint64_t) 256 << 20)

static ssize_t gzip_into(const void *data, size_t n, uint8_t *out, size_t cap);
static size_t gzip_bound(size_t n);

int gzip_compress(const void *data, size_t n, uint8_t **ret, size_t *ret_len) {
        size_t bound = gzip_bound(n);
        uint8_t *out = malloc(bound);
        if (!out)
                return -ENOMEM;
        ssize_t len = gzip_into(data, n, out, bound);
        if (len < 0) {
                free(out);
                return (int) len;
        }
        *ret = out;
        *ret_len = (size_t) len;
        return 0;
}

/* One compression and one decompression context per thread, kept between
 * calls: a fresh context costs its tables' page faults on every call. Freed
 * when the thread exits. */
static pthread_key_t cctx_key, dctx_key;
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;

static void free_cctx(void *p) {
        ZSTD_freeCCtx(p);
}

static void free_dctx(void *p) {
        ZSTD_freeDCtx(p);
}

static void ctx_keys(void) {
        (void) pthread_key_create(&cctx_key, free_cctx);
        (void) pthread_key_create(&dctx_key, free_dctx);
}

static ZSTD_CCtx *thread_cctx(void) {
        pthread_once(&ctx_once, ctx_keys);
        ZSTD_CCtx *c = pthread_getspecific(cctx_key);
        if (!c && (c = ZSTD_createCCtx()) && pthread_setspecific(cctx_key, c) != 0) {
                ZSTD_freeCCtx(c);
                c = NULL;
        }
        return c;
}

static ZSTD_DCtx *thread_dctx(void) {
        pthread_once(&ctx_once, ctx_keys);
        ZSTD_DCtx *d = pthread_getspecific(dctx_key);
        if (!d && (d = ZSTD_createDCtx()) && pthread_setspecific(dctx_key, d) != 0) {
                ZSTD_freeDCtx(d);
                d = NULL;
        }
        return d;
}

int zstd_compress(const void *data, size_t n, int level, uint8_t **ret, size_t *ret_len) {
        return zstd_compress_tables(data, n, level, 0, ret, ret_len);
}

/* One gzip member of data into out (cap bytes); the length written or -errno.
 * windowBits 15 + 16: a gzip wrapper with zlib's fixed header (mtime 0). */
static ssize_t gzip_into(const void *data, size_t n, uint8_t *out, size_t cap) {
        z_stream z = {};
        if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
                return -ENOMEM;
        z.next_in = (Bytef *) data;
        z.avail_in = (uInt) n;
        z.next_out = out;
        z.avail_out = (uInt) cap;
        int r = deflate(&z, Z_FINISH);
        size_t len = cap - z.avail_out;
        deflateEnd(&z);
        return r == Z_STREAM_END ? (ssize_t) len : -EIO;
}

static size_t gzip_bound(size_t n) {
        /* zlib's deflateBound() for the default settings, plus the gzip wrapper. */
        return n + (n >> 12) + (n >> 14) + (n >> 25) + 13 + 18 + 64;
}

typedef struct ChunkJob {
        const uint8_t *data;
        size_t n, chunk, slot;
        int level;
        bool gzip;
        uint8_t *out;    /* slot bytes per piece */
        size_t *out_len;
        int *results;
} ChunkJob;

static void chunk_one(void *ctx, size_t i) {
        ChunkJob *j = ctx;
        size_t off = i * j->chunk, len = MIN(j->chunk, j->n - off);
        uint8_t *dst = j->out + i * j->slot;
        if (j->gzip) {
                ssize_t k = gzip_into(j->data + off, len, dst, j->slot);
                j->results[i] = k < 0 ? (int) k : 0;
                j->out_len[i] = k < 0 ? 0 : (size_t) k;
                return;
        }
        ZSTD_CCtx *cctx = thread_cctx();
        if (!cctx) {
                j->results[i] = -ENOMEM;
                return;
        }
        size_t k = ZSTD_compressCCtx(cctx, dst, j->slot, j->data + off, len, j->level);
        j->results[i] = ZSTD_isError(k) ? -EIO : 0;
        j->out_len[i] = ZSTD_isError(k) ? 0 : k;
}

/* Every piece is compressed into its own slot of one huge_alloc() buffer
 * (only the bytes written are ever touched), then the pieces are moved
 * together. */
static int compress_chunked(const void *data, size_t n, bool gzip, int level, size_t chunk, unsigned jobs,
                            uint8_t **ret, size_t *ret_len, size_t *ret_cap) {
        if (chunk == 0 || chunk > (size_t) 1 << 30)
                return -EINVAL;
        size_t pieces = n == 0 ? 1 : (n + chunk - 1) / chunk;
        size_t slot = gzip ? gzip_bound(chunk) : ZSTD_compressBound(chunk);
        if (pieces > SIZE_MAX / slot)
                return -ENOMEM;
        size_t cap = pieces * slot;
        ChunkJob j = {
                .data = data, .n = n, .chunk = chunk, .slot = slot, .level = level, .gzip = gzip,
                .out = huge_alloc(cap),
                .out_len = calloc(pieces, sizeof(size_t)),
                .results = calloc(pieces, sizeof(int)),
        };
        int r = 0;
        if (!j.out || !j.out_len || !j.results)
                r = -ENOMEM;
        else
                parallel_for(pieces, jobs ? jobs : 1, chunk_one, &j);
        size_t pos = 0;
        for (size_t i = 0; r >= 0 && i < pieces; i++) {
                if (j.results[i] < 0) {
                        r = j.results[i];
                        break;
                }
                memmove(j.out + pos, j.out + i * slot, j.out_len[i]);
                pos += j.out_len[i];
        }
        free(j.out_len);
        free(j.results);
        if (r < 0) {
                huge_free(j.out, cap);
                return r;
        }
        *ret = j.out;
        *ret_len = pos;
        *ret_cap = cap;
        return 0;
}

struct ChunkedWriter {
        int fd;
        ChunkJob job;
        size_t batch;     /* chunks per round */
        size_t filled;    /* bytes in the current round's input */
        uint8_t *in;      /* batch * chunk bytes */
        size_t in_cap, out_cap;
        unsigned jobs;
        uint64_t written;
        int error;
};

void chunked_writer_free(ChunkedWriter *w) {
        if (!w)
                return;
        huge_free(w->in, w->in_cap);
        huge_free(w->job.out, w->out_cap);
        free(w->job.out_len);
        free(w->job.results);
        free(w);
}

int chunked_writer_new(int fd, bool gzip, int level, size_t chunk, unsigned jobs, ChunkedWriter **ret) {
        if (chunk == 0 || chunk > (size_t) 1 << 30)
                return -EINVAL;
        ChunkedWriter *w = calloc(1, sizeof(ChunkedWriter));
        if (!w)
                return -ENOMEM;
        w->fd = fd;
        w->jobs = jobs ? jobs : 1;
        w->batch = 2 * (size_t) w->jobs;
        size_t slot = gzip ? gzip_bound(chunk) : ZSTD_compressBound(chunk);
        w->in_cap = w->batch * chunk;
        w->out_cap = w->batch * slot;
        w->in = huge_alloc(w->in_cap);
        w->job = (ChunkJob) {
                .chunk = chunk, .slot = slot, .level = level, .gzip = gzip,
                .out = huge_alloc(w->out_cap),
                .out_len = calloc(w->batch, sizeof(size_t)),
                .results = calloc(w->batch, sizeof(int)),
        };
        if (!w->in || !w->job.out || !w->job.out_len || !w->job.results) {
                chunked_writer_free(w);
                return -ENOMEM;
        }
        *ret = w;
        return 0;
}

/* Compresses the round's input (all of it, or what is there at the end) and
 * writes it out. An empty stream is still one (empty) frame. */
static int chunked_round(ChunkedWriter *w, bool last) {
        if (w->filled == 0 && !(last && w->written == 0))
                return 0;
        size_t pieces = w->filled == 0 ? 1 : (w->filled + w->job.chunk - 1) / w->job.chunk;
        w->job.data = w->in;
        w->job.n = w->filled;
        parallel_for(pieces, w->jobs, chunk_one, &w->job);
        for (size_t i = 0; i < pieces; i++) {
                if (w->job.results[i] < 0)
                        return w->job.results[i];
                int r = loop_write(w->fd, w->job.out + i * w->job.slot, w->job.out_len[i]);
                if (r < 0)
                        return r;
                w->written += w->job.out_len[i];
        }
        w->filled = 0;
        return 0;
}

int chunked_writer_write(ChunkedWriter *w, const void *data, size_t n) {
        const uint8_t *p = data;
        if (w->error < 0)
                return w->error;
        while (n > 0) {
                size_t k = MIN(n, w->in_cap - w->filled);
                memcpy(w->in + w->filled, p, k);
                w->filled += k;
                p += k;
                n -= k;
                if (w->filled == w->in_cap) {
                        int r = chunked_round(w, false);
                        if (r < 0)
                                return (w->error = r);
                }
        }
        return 0;
}

int chunked_writer_finish(ChunkedWriter *w, uint64_t *ret_written) {
        int r = w->error < 0 ? w->error : chunked_round(w, true);
        if (r >= 0 && ret_written)
                *ret_written = w->written;
        chunked_writer_free(w);
        return r;
}

int zstd_compress_chunked(const void *data, size_t n, int level, size_t chunk, unsigned jobs, uint8_t **ret,
                          size_t *ret_len, size_t *ret_cap) {
        return compress_chunked(data, n, false, level, chunk, jobs, ret, ret_len, ret_cap);
}

int gzip_compress_chunked(const void *data, size_t n, size_t chunk, unsigned jobs, uint8_t **ret, size_t *ret_len,
                          size_t *ret_cap) {
        return compress_chunked(data, n, true, 6, chunk, jobs, ret, ret_len, ret_cap);
}

int zstd_compress_tables(const void *data, size_t n, int level, unsigned table_log, uint8_t **ret, size_t *ret_len) {
        ZSTD_CCtx *cctx = thread_cctx();
        if (!cctx)
                return -ENOMEM;
        size_t bound = ZSTD_compressBound(n);
        uint8_t *out = malloc(bound ? bound : 1);
        if (!out)
                return -ENOMEM;
        size_t len;
        if (table_log > 0) {
                ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
                if (ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)) ||
                    ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_hashLog, (int) table_log)) ||
                    ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_chainLog, (int) table_log)) ||
                    ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1))) {
                        free(out);
                        return -EINVAL;
                }
                len = ZSTD_compress2(cctx, out, bound, data, n);
        } else
                len = ZSTD_compressCCtx(cctx, out, bound, data, n, level);
        if (ZSTD_isError(len)) {
                free(out);
                return -EIO;
        }
        *ret = out;
        *ret_len = len;
        return 0;
}

int decompress_stream(const void *data, size_t n, uint64_t max, DecompressSink sink, void *userdata) {
        const uint8_t *p = data;
        uint8_t buf[65536];
        uint64_t total = 0;

        if (n >= 2 && p[0] == 0x1F && p[1] == 0x8B) {
                z_stream z = {};
                if (inflateInit2(&z, 15 + 32) != Z_OK)
                        return -ENOMEM;
                z.next_in = (Bytef *) data;
                z.avail_in = (uInt) n;
                int r;
                /* Concatenated members are one stream, as gzip -d reads them. */
                for (;;) {
                        z.next_out = buf;
                        z.avail_out = sizeof buf;
                        r = inflate(&z, Z_NO_FLUSH);
                        if (r != Z_OK && r != Z_STREAM_END) {
                                inflateEnd(&z);
                                return -EBADMSG;
                        }
                        total += sizeof buf - z.avail_out;
                        if (total > max) {
                                inflateEnd(&z);
                                return -EFBIG;
                        }
                        sink(userdata, buf, sizeof buf - z.avail_out);
                        if (r == Z_STREAM_END) {
                                if (z.avail_in == 0 || inflateReset(&z) != Z_OK)
                                        break;
                                continue;
                        }
                        if (z.avail_in == 0 && z.avail_out != 0)
                                break;
                }
                inflateEnd(&z);
                return r == Z_STREAM_END ? 0 : -EBADMSG;
        }
        if (n >= 4 && p[0] == 0x28 && p[1] == 0xB5 && p[2] == 0x2F && p[3] == 0xFD) {
                ZSTD_DCtx *ds = thread_dctx();
                if (!ds)
                        return -ENOMEM;
                ZSTD_DCtx_reset(ds, ZSTD_reset_session_only);
                ZSTD_inBuffer in = { data, n, 0 };
                size_t r = 1;
                /* Concatenated frames are one stream; a full output buffer
                 * may hold back more output after the input is consumed
                 * (until the frame reports its end with 0). */
                bool full = false;
                while (in.pos < in.size || (full && r != 0)) {
                        ZSTD_outBuffer out = { buf, sizeof buf, 0 };
                        r = ZSTD_decompressStream(ds, &out, &in);
                        if (ZSTD_isError(r))
                                return -EBADMSG;
                        total += out.pos;
                        if (total > max)
                                return -EFBIG;
                        sink(userdata, buf, out.pos);
                        full = out.pos == out.size;
                }
                return r == 0 ? 0 : -EBADMSG;
        }
        if (n >= 6 && memcmp(p, "\xFD" "7zXZ\0", 6) == 0) {
                /* xz (rpm's w*.xzdio payloads); concatenated streams too. */
                lzma_stream x = LZMA_STREAM_INIT;
                if (lzma_stream_decoder(&x, XZ_MEMLIMIT, LZMA_CONCATENATED) != LZMA_OK)
                        return -ENOMEM;
                x.next_in = data;
                x.avail_in = n;
                lzma_ret r;
                do {
                        x.next_out = buf;
                        x.avail_out = sizeof buf;
                        r = lzma_code(&x, LZMA_FINISH);
                        total += sizeof buf - x.avail_out;
                        if (total > max) {
                                lzma_end(&x);
                                return -EFBIG;
                        }
                        if (r != LZMA_OK && r != LZMA_STREAM_END)
                                break;
                        sink(userdata, buf, sizeof buf - x.avail_out);
                } while (r == LZMA_OK);
                lzma_end(&x);
                return r == LZMA_STREAM_END ? 0 : r == LZMA_MEM_ERROR ? -ENOMEM : -EBADMSG;
        }
        if (n > max)
                return -EFBIG;
        sink(userdata, data, n);
        return 0;
}

typedef struct FixedSink {
        uint8_t *buf;
        size_t len, cap;
        bool overflow;
} FixedSink;

static void sink_fixed(void *userdata, const void *data, size_t n) {
        FixedSink *s = userdata;
        if (n > s->cap - s->len) {
                s->overflow = true;
                return;
        }
        memcpy(s->buf + s->len, data, n);
        s->len += n;
}

/* The input of decompress_fd(): the file read in pieces. */
typedef struct FdInput {
        int fd;
        uint64_t off, left;
        uint8_t *buf;
        size_t len; /* bytes in buf */
        bool eof;
} FdInput;

#define FD_INPUT_PIECE ((size_t) 1 << 20)

/* Refills buf (which the decoder has consumed). 0, or -errno. */
static int fd_input_fill(FdInput *in) {
        size_t want = (size_t) MIN((uint64_t) FD_INPUT_PIECE, in->left);
        size_t got = 0;
        while (got < want) {
                ssize_t k = pread(in->fd, in->buf + got, want - got, (off_t) in->off);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0) {
                        in->left = 0;
                        break;
                }
                got += (size_t) k;
                in->off += (uint64_t) k;
                in->left -= (uint64_t) k;
        }
        in->len = got;
        in->eof = in->left == 0;
        return 0;
}

int decompress_fd(int fd, uint64_t off, uint64_t len, uint64_t max, DecompressFdSink sink, void *userdata) {
        _cleanup_free_ uint8_t *inbuf = malloc(FD_INPUT_PIECE), *out = malloc(FD_INPUT_PIECE);
        if (!inbuf || !out)
                return -ENOMEM;
        FdInput in = { .fd = fd, .off = off, .left = len, .buf = inbuf };
        uint64_t total = 0;
        int r = fd_input_fill(&in);
        if (r < 0)
                return r;
        const uint8_t *p = in.buf;
        size_t n = in.len;

        if (n >= 2 && p[0] == 0x1F && p[1] == 0x8B) {
                z_stream z = {};
                if (inflateInit2(&z, 15 + 32) != Z_OK)
                        return -ENOMEM;
                z.next_in = in.buf;
                z.avail_in = (uInt) in.len;
                int zr = Z_OK;
                r = 0;
                /* Concatenated members are one stream, as gzip -d reads them. */
                for (;;) {
                        if (z.avail_in == 0 && !in.eof) {
                                if ((r = fd_input_fill(&in)) < 0)
                                        break;
                                z.next_in = in.buf;
                                z.avail_in = (uInt) in.len;
                        }
                        z.next_out = out;
                        z.avail_out = FD_INPUT_PIECE;
                        zr = inflate(&z, Z_NO_FLUSH);
                        if (zr != Z_OK && zr != Z_STREAM_END && !(zr == Z_BUF_ERROR && z.avail_in == 0 && !in.eof)) {
                                r = -EBADMSG;
                                break;
                        }
                        size_t k = FD_INPUT_PIECE - z.avail_out;
                        total += k;
                        if (total > max) {
                                r = -EFBIG;
                                break;
                        }
                        if (k > 0 && (r = sink(userdata, out, k)) < 0)
                                break;
                        if (zr == Z_STREAM_END) {
                                if (z.avail_in == 0 && !in.eof) {
                                        if ((r = fd_input_fill(&in)) < 0)
                                                break;
                                        z.next_in = in.buf;
                                        z.avail_in = (uInt) in.len;
                                }
                                if (z.avail_in == 0 || inflateReset(&z) != Z_OK)
                                        break;
                                continue;
                        }
                        if (z.avail_in == 0 && in.eof && z.avail_out != 0) {
                                r = -EBADMSG; /* truncated */
                                break;
                        }
                }
                inflateEnd(&z);
                return r < 0 ? r : zr == Z_STREAM_END ? 0 : -EBADMSG;
        }
        if (n >= 4 && p[0] == 0x28 && p[1] == 0xB5 && p[2] == 0x2F && p[3] == 0xFD) {
                ZSTD_DCtx *ds = thread_dctx();
                if (!ds)
                        return -ENOMEM;
                ZSTD_DCtx_reset(ds, ZSTD_reset_session_only);
                ZSTD_inBuffer zin = { in.buf, in.len, 0 };
                size_t zr = 1;
                bool full = false;
                for (;;) {
                        if (zin.pos == zin.size && !in.eof) {
                                if ((r = fd_input_fill(&in)) < 0)
                                        return r;
                                zin = (ZSTD_inBuffer) { in.buf, in.len, 0 };
                        }
                        if (!(zin.pos < zin.size || (full && zr != 0)))
                                break;
                        ZSTD_outBuffer zout = { out, FD_INPUT_PIECE, 0 };
                        zr = ZSTD_decompressStream(ds, &zout, &zin);
                        if (ZSTD_isError(zr))
                                return -EBADMSG;
                        total += zout.pos;
                        if (total > max)
                                return -EFBIG;
                        if (zout.pos > 0 && (r = sink(userdata, out, zout.pos)) < 0)
                                return r;
                        full = zout.pos == zout.size;
                }
                return zr == 0 ? 0 : -EBADMSG;
        }
        if (n >= 6 && memcmp(p, "\xFD" "7zXZ\0", 6) == 0) {
                lzma_stream x = LZMA_STREAM_INIT;
                if (lzma_stream_decoder(&x, XZ_MEMLIMIT, LZMA_CONCATENATED) != LZMA_OK)
                        return -ENOMEM;
                x.next_in = in.buf;
                x.avail_in = in.len;
                lzma_ret xr = LZMA_OK;
                r = 0;
                do {
                        if (x.avail_in == 0 && !in.eof) {
                                if ((r = fd_input_fill(&in)) < 0)
                                        break;
                                x.next_in = in.buf;
                                x.avail_in = in.len;
                        }
                        x.next_out = out;
                        x.avail_out = FD_INPUT_PIECE;
                        xr = lzma_code(&x, in.eof ? LZMA_FINISH : LZMA_RUN);
                        size_t k = FD_INPUT_PIECE - x.avail_out;
                        total += k;
                        if (total > max) {
                                r = -EFBIG;
                                break;
                        }
                        if (xr != LZMA_OK && xr != LZMA_STREAM_END)
                                break;
                        if (k > 0 && (r = sink(userdata, out, k)) < 0)
                                break;
                } while (xr == LZMA_OK);
                lzma_end(&x);
                if (r < 0)
                        return r;
                return xr == LZMA_STREAM_END ? 0 : xr == LZMA_MEM_ERROR ? -ENOMEM : -EBADMSG;
        }
        /* Neither: the bytes as they are. */
        for (;;) {
                total += in.len;
                if (total > max)
                        return -EFBIG;
                if (in.len > 0 && (r = sink(userdata, in.buf, in.len)) < 0)
                        return r;
                if (in.eof || in.len == 0)
                        return 0;
                if ((r = fd_input_fill(&in)) < 0)
                        return r;
        }
}

int decompress_into(const void *data, size_t n, void *buf, size_t cap, size_t *ret_len) {
        const uint8_t *p = data;
        if (n >= 4 && p[0] == 0x28 && p[1] == 0xB5 && p[2] == 0x2F && p[3] == 0xFD) {
                /* One shot, straight into buf: no window buffer to fill. */
                ZSTD_DCtx *ds = thread_dctx();
                if (!ds)
                        return -ENOMEM;
                size_t r = ZSTD_decompressDCtx(ds, buf, cap, data, n);
                if (ZSTD_isError(r))
                        return ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall ? -EFBIG : -EBADMSG;
                *ret_len = r;
                return 0;
        }
        FixedSink s = { .buf = buf, .cap = cap };
        int r = decompress_stream(data, n, cap, sink_fixed, &s);
        if (r < 0)
                return r;
        if (s.overflow)
                return -EFBIG;
        *ret_len = s.len;
        return 0;
}

static void sink_strbuf(void *userdata, const void *data, size_t n) {
        strbuf_put(userdata, data, n);
}

int decompress_any(const void *data, size_t n, uint8_t **ret, size_t *ret_len) {
        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
        int r = decompress_stream(data, n, DECOMPRESS_MAX, sink_strbuf, &sb);
        if (r < 0)
                return r;
        size_t len;
        char *s = strbuf_detach(&sb, &len);
        if (!s)
                return -ENOMEM;
        *ret = (uint8_t *) s;
        *ret_len = len;
        return 0;
}

/* ---- streamed compression ------------------------------------------------- */

#define STREAM_OUT_SIZE ((size_t) 256 << 10)
#define COMPRESS_STREAM_JOB ((size_t) 4 << 20)

struct CompressStream {
        CompressCodec codec;
        CompressOutFn out;
        void *userdata;
        ZSTD_CCtx *zstd;
        z_stream z;
        bool z_open;
        lzma_stream x;
        bool x_open;
        uint8_t *buf; /* STREAM_OUT_SIZE bytes of output */
        int error;
};

CompressStream *compress_stream_free(CompressStream *s) {
        if (!s)
                return NULL;
        ZSTD_freeCCtx(s->zstd);
        if (s->z_open)
                deflateEnd(&s->z);
        if (s->x_open)
                lzma_end(&s->x);
        free(s->buf);
        free(s);
        return NULL;
}

int compress_stream_new(CompressCodec codec, int level, unsigned threads, uint64_t pledged_size, CompressOutFn out,
                        void *userdata, CompressStream **ret) {
        _cleanup_(compress_stream_freep) CompressStream *s = calloc(1, sizeof(CompressStream));
        if (!s)
                return -ENOMEM;
        s->codec = codec;
        s->out = out;
        s->userdata = userdata;
        s->x = (lzma_stream) LZMA_STREAM_INIT;
        s->buf = malloc(STREAM_OUT_SIZE);
        if (!s->buf)
                return -ENOMEM;

        switch (codec) {
        case COMPRESS_ZSTD:
                s->zstd = ZSTD_createCCtx();
                if (!s->zstd)
                        return -ENOMEM;
                /* Multi-threaded mode even for one worker: its frames differ
                 * from the single-threaded mode's, but not with the count. A
                 * libzstd built without threads refuses nbWorkers: then the
                 * output would depend on the build, so fail instead. */
                if (ZSTD_isError(ZSTD_CCtx_setParameter(s->zstd, ZSTD_c_compressionLevel, level)) ||
                    ZSTD_isError(ZSTD_CCtx_setParameter(s->zstd, ZSTD_c_nbWorkers, (int) MAX(threads, 1u))))
                        return -EOPNOTSUPP;
                /* Jobs of 4 MiB, each with the last quarter of the window
                 * before it, not zstd's 4 windows with a whole window (32 +
                 * 8 MiB at level 19): some five jobs' input and four jobs'
                 * output are buffered besides each worker's tables (~80 MiB
                 * at level 19), and with the defaults two workers at level
                 * 19 held some 400 MiB. Fixed values: the bytes depend on
                 * them, not on the number of workers. */
                if (ZSTD_isError(ZSTD_CCtx_setParameter(s->zstd, ZSTD_c_jobSize, (int) COMPRESS_STREAM_JOB)) ||
                    ZSTD_isError(ZSTD_CCtx_setParameter(s->zstd, ZSTD_c_overlapLog, 7)))
                        return -EINVAL;
                if (pledged_size != UINT64_MAX &&
                    ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(s->zstd, (unsigned long long) pledged_size)))
                        return -EINVAL;
                break;
        case COMPRESS_GZIP:
                /* windowBits 15 + 16: a gzip wrapper with zlib's fixed header (mtime 0). */
                if (deflateInit2(&s->z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
                        return -EINVAL;
                s->z_open = true;
                break;
        case COMPRESS_XZ:
                if (lzma_easy_encoder(&s->x, (uint32_t) level, LZMA_CHECK_CRC64) != LZMA_OK)
                        return -EINVAL;
                s->x_open = true;
                break;
        case COMPRESS_NONE:
                break;
        default:
                return -EINVAL;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

/* Feeds data (end: the end of the stream) through the codec, handing every
 * full or final output buffer to the callback. */
static int stream_push(CompressStream *s, const void *data, size_t n, bool end) {
        int r;

        switch (s->codec) {
        case COMPRESS_ZSTD: {
                ZSTD_inBuffer in = { data, n, 0 };
                for (;;) {
                        ZSTD_outBuffer o = { s->buf, STREAM_OUT_SIZE, 0 };
                        size_t left = ZSTD_compressStream2(s->zstd, &o, &in, end ? ZSTD_e_end : ZSTD_e_continue);
                        if (ZSTD_isError(left))
                                return ZSTD_getErrorCode(left) == ZSTD_error_srcSize_wrong ? -EINVAL : -EIO;
                        if (o.pos > 0 && (r = s->out(s->userdata, s->buf, o.pos)) < 0)
                                return r;
                        if (end ? left == 0 : in.pos == in.size)
                                return 0;
                }
        }
        case COMPRESS_GZIP: {
                const uint8_t *p = data;
                while (n > 0 || end) {
                        /* avail_in is an unsigned int: feed large pieces in parts. */
                        size_t k = MIN(n, (size_t) 1 << 30);
                        s->z.next_in = (Bytef *) p;
                        s->z.avail_in = (uInt) k;
                        int flush = end && k == n ? Z_FINISH : Z_NO_FLUSH, zr;
                        do {
                                s->z.next_out = s->buf;
                                s->z.avail_out = (uInt) STREAM_OUT_SIZE;
                                zr = deflate(&s->z, flush);
                                if (zr == Z_STREAM_ERROR)
                                        return -EIO;
                                size_t got = STREAM_OUT_SIZE - s->z.avail_out;
                                if (got > 0 && (r = s->out(s->userdata, s->buf, got)) < 0)
                                        return r;
                        } while (s->z.avail_out == 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
                        if (k > 0) /* p may be NULL for an empty last piece */
                                p += k;
                        n -= k;
                        if (flush == Z_FINISH)
                                return 0;
                }
                return 0;
        }
        case COMPRESS_XZ: {
                s->x.next_in = data;
                s->x.avail_in = n;
                lzma_ret xr;
                do {
                        s->x.next_out = s->buf;
                        s->x.avail_out = STREAM_OUT_SIZE;
                        xr = lzma_code(&s->x, end ? LZMA_FINISH : LZMA_RUN);
                        if (xr != LZMA_OK && xr != LZMA_STREAM_END)
                                return xr == LZMA_MEM_ERROR ? -ENOMEM : -EIO;
                        size_t got = STREAM_OUT_SIZE - s->x.avail_out;
                        if (got > 0 && (r = s->out(s->userdata, s->buf, got)) < 0)
                                return r;
                } while (s->x.avail_out == 0 || s->x.avail_in > 0 || (end && xr != LZMA_STREAM_END));
                return 0;
        }
        case COMPRESS_NONE:
                return n > 0 ? s->out(s->userdata, data, n) : 0;
        default:
                return -EINVAL;
        }
}

int compress_stream_write(CompressStream *s, const void *data, size_t n) {
        if (s->error < 0)
                return s->error;
        if (n == 0)
                return 0;
        int r = stream_push(s, data, n, false);
        if (r < 0)
                s->error = r;
        return r;
}

int compress_stream_finish(CompressStream *s) {
        int r = s->error < 0 ? s->error : stream_push(s, NULL, 0, true);
        compress_stream_free(s);
        return r;
}
