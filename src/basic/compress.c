/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

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

int zstd_compress(const void *data, size_t n, int level, uint8_t **ret, size_t *ret_len) {
        size_t bound = ZSTD_compressBound(n);
        uint8_t *out = malloc(bound ? bound : 1);
        if (!out)
                return -ENOMEM;
        size_t len = ZSTD_compress(out, bound, data, n, level);
        if (ZSTD_isError(len)) {
                free(out);
                return -EIO;
        }
        *ret = out;
        *ret_len = len;
        return 0;
}

int decompress_any(const void *data, size_t n, uint8_t **ret, size_t *ret_len) {
        const uint8_t *p = data;
        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;

        if (n >= 2 && p[0] == 0x1F && p[1] == 0x8B) {
                z_stream z = {};
                if (inflateInit2(&z, 15 + 32) != Z_OK)
                        return -ENOMEM;
                z.next_in = (Bytef *) data;
                z.avail_in = (uInt) n;
                uint8_t buf[65536];
                int r;
                do {
                        z.next_out = buf;
                        z.avail_out = sizeof buf;
                        r = inflate(&z, Z_NO_FLUSH);
                        if (r != Z_OK && r != Z_STREAM_END) {
                                inflateEnd(&z);
                                return -EBADMSG;
                        }
                        strbuf_put(&sb, buf, sizeof buf - z.avail_out);
                        if (sb.len > DECOMPRESS_MAX) {
                                inflateEnd(&z);
                                return -EFBIG;
                        }
                } while (r != Z_STREAM_END && (z.avail_in > 0 || z.avail_out == 0));
                inflateEnd(&z);
                if (r != Z_STREAM_END)
                        return -EBADMSG;
        } else if (n >= 4 && p[0] == 0x28 && p[1] == 0xB5 && p[2] == 0x2F && p[3] == 0xFD) {
                ZSTD_DStream *ds = ZSTD_createDStream();
                if (!ds)
                        return -ENOMEM;
                ZSTD_inBuffer in = { data, n, 0 };
                uint8_t buf[65536];
                size_t r = 1;
                while (in.pos < in.size) {
                        ZSTD_outBuffer out = { buf, sizeof buf, 0 };
                        r = ZSTD_decompressStream(ds, &out, &in);
                        if (ZSTD_isError(r)) {
                                ZSTD_freeDStream(ds);
                                return -EBADMSG;
                        }
                        strbuf_put(&sb, buf, out.pos);
                        if (sb.len > DECOMPRESS_MAX) {
                                ZSTD_freeDStream(ds);
                                return -EFBIG;
                        }
                }
                ZSTD_freeDStream(ds);
                if (r != 0)
                        return -EBADMSG;
        } else
                strbuf_put(&sb, data, n);

        size_t len;
        char *s = strbuf_detach(&sb, &len);
        if (!s)
                return -ENOMEM;
        *ret = (uint8_t *) s;
        *ret_len = len;
        return 0;
}
