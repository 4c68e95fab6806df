/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "basic/compress.h"
#include "basic/macro.h"
#include "basic/strbuf.h"

#define DECOMPRESS_MAX (1024u * 1024 * 1024)

int gzip_compress(const void *data, size_t n, uint8_t **ret, size_t *ret_len) {
        z_stream z = {};
        /* windowBits 15 + 16: a gzip wrapper with zlib's fixed header (mtime 0). */
        if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
                return -ENOMEM;
        size_t bound = deflateBound(&z, (uLong) n) + 32;
        uint8_t *out = malloc(bound);
        if (!out) {
                deflateEnd(&z);
                return -ENOMEM;
        }
        z.next_in = (Bytef *) data;
        z.avail_in = (uInt) n;
        z.next_out = out;
        z.avail_out = (uInt) bound;
        int r = deflate(&z, Z_FINISH);
        size_t len = bound - z.avail_out;
        deflateEnd(&z);
        if (r != Z_STREAM_END) {
                free(out);
                return -EIO;
        }
        *ret = out;
        *ret_len = len;
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
