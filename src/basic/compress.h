/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Deterministic compression of a buffer: gzip (zlib, level 6, no name, mtime
 * 0) or zstd (one shot, the given level). *ret is malloc'd. */
int gzip_compress(const void *data, size_t n, uint8_t **ret, size_t *ret_len);
int zstd_compress(const void *data, size_t n, int level, uint8_t **ret, size_t *ret_len);
/* zstd_compress() with the match finder's hash and chain tables capped at
 * 2^table_log entries, for many small frames (whose fresh tables would cost
 * more to clear than to use), and with the frame's content checksum, so that
 * a damaged frame fails to decompress. table_log 0: plain zstd_compress(). */
int zstd_compress_tables(const void *data, size_t n, int level, unsigned table_log, uint8_t **ret, size_t *ret_len);

/* Decompression of gzip (concatenated members) or zstd (concatenated
 * frames) data, detected by its magic, handed to sink in pieces; data that is
 * neither is handed over as it is. More than max bytes out: -EFBIG. Corrupt
 * or truncated data: -EBADMSG (after the sink has seen part of it). */
typedef void (*DecompressSink)(void *userdata, const void *data, size_t n);
int decompress_stream(const void *data, size_t n, uint64_t max, DecompressSink sink, void *userdata);

/* Decompresses gzip or zstd data (or copies other data) into buf, which
 * holds cap bytes; more: -EFBIG. zstd goes straight into buf. */
int decompress_into(const void *data, size_t n, void *buf, size_t cap, size_t *ret_len);

/* Decompression of gzip or zstd data, detected by its magic; data that is
 * neither is returned as it is. At most 1 GiB out. */
int decompress_any(const void *data, size_t n, uint8_t **ret, size_t *ret_len);
