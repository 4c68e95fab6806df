/* SPDX-License-Identifier: MIT */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/macro.h"

/* Deterministic compression of a buffer: gzip (zlib, level 6, no name, mtime
 * 0) or zstd (one shot, the given level). *ret is malloc'd. */
int gzip_compress(const void *data, size_t n, uint8_t **ret, size_t *ret_len);
int zstd_compress(const void *data, size_t n, int level, uint8_t **ret, size_t *ret_len);
/* zstd_compress() with the match finder's hash and chain tables capped at
 * 2^table_log entries, for many small frames (whose fresh tables would cost
 * more to clear than to use), and with the frame's content checksum, so that
 * a damaged frame fails to decompress. table_log 0: plain zstd_compress(). */
int zstd_compress_tables(const void *data, size_t n, int level, unsigned table_log, uint8_t **ret, size_t *ret_len);

/* Large buffers: the input cut into pieces of `chunk` bytes, each
 * compressed on its own (up to `jobs` at a time) as one zstd frame (level)
 * or gzip member (level 6), and the results concatenated: a stream every
 * decoder reads as one (zstd -d, gzip -d, tar, Go's gzip reader). The bytes
 * depend on the data, level and chunk only, not on jobs. *ret is from
 * huge_alloc(*ret_cap): release it with huge_free(*ret, *ret_cap). */
#define COMPRESS_CHUNK ((size_t) 4 << 20) /* the piece size image outputs use */
int zstd_compress_chunked(const void *data, size_t n, int level, size_t chunk, unsigned jobs, uint8_t **ret,
                          size_t *ret_len, size_t *ret_cap);
int gzip_compress_chunked(const void *data, size_t n, size_t chunk, unsigned jobs, uint8_t **ret, size_t *ret_len,
                          size_t *ret_cap);

/* The same, streamed: data written in any pieces is cut into chunks, up to
 * 2 x jobs chunks are compressed at once, and the results are written to fd
 * in order. The bytes are those zstd/gzip_compress_chunked() give for the
 * whole data; memory stays at a few chunks whatever the size. */
typedef struct ChunkedWriter ChunkedWriter;
int chunked_writer_new(int fd, bool gzip, int level, size_t chunk, unsigned jobs, ChunkedWriter **ret);
int chunked_writer_write(ChunkedWriter *w, const void *data, size_t n);
/* Compresses and writes what is left, and frees w (also on failure, and
 * when w had failed before); *ret_written: the bytes written to fd. */
int chunked_writer_finish(ChunkedWriter *w, uint64_t *ret_written);
void chunked_writer_free(ChunkedWriter *w);

/* Decompression of gzip (concatenated members) or zstd (concatenated
 * frames) data, detected by its magic, handed to sink in pieces; data that is
 * neither is handed over as it is. More than max bytes out: -EFBIG. Corrupt
 * or truncated data: -EBADMSG (after the sink has seen part of it). */
typedef void (*DecompressSink)(void *userdata, const void *data, size_t n);
int decompress_stream(const void *data, size_t n, uint64_t max, DecompressSink sink, void *userdata);

/* decompress_stream() of the len bytes at off of the file fd (len
 * UINT64_MAX: to its end), read in pieces of 1 MiB, so that neither the
 * input nor the output is ever whole in memory. The sink may refuse a piece
 * with a negative errno, which stops the decompression and is returned. */
typedef int (*DecompressFdSink)(void *userdata, const void *data, size_t n);
int decompress_fd(int fd, uint64_t off, uint64_t len, uint64_t max, DecompressFdSink sink, void *userdata);
/* Decompresses gzip or zstd data (or copies other data) into buf, which
 * holds cap bytes; more: -EFBIG. zstd goes straight into buf. */
int decompress_into(const void *data, size_t n, void *buf, size_t cap, size_t *ret_len);

/* Decompression of gzip or zstd data, detected by its magic; data that is
 * neither is returned as it is. At most 1 GiB out. */
int decompress_any(const void *data, size_t n, uint8_t **ret, size_t *ret_len);

/* Streamed compression of data of any size in bounded memory, the output
 * handed to a callback in pieces. zstd runs in its multi-threaded mode with
 * `threads` workers (>= 1): its bytes depend on the data, the level and
 * pledged_size, never on the number of workers. gzip (zlib) and xz (liblzma)
 * run on one thread; none passes the data through. pledged_size is the exact
 * number of bytes that will be written (UINT64_MAX: unknown): zstd records
 * it in the frame and sizes its tables to it; a different count fails. */
typedef enum CompressCodec {
        COMPRESS_ZSTD,
        COMPRESS_GZIP,
        COMPRESS_XZ,
        COMPRESS_NONE,
        _COMPRESS_CODEC_MAX,
        _COMPRESS_CODEC_INVALID = -EINVAL,
} CompressCodec;

/* Receives compressed bytes; a negative return stops the stream with it. */
typedef int (*CompressOutFn)(void *userdata, const void *data, size_t n);
typedef struct CompressStream CompressStream;
int compress_stream_new(CompressCodec codec, int level, unsigned threads, uint64_t pledged_size, CompressOutFn out,
                        void *userdata, CompressStream **ret);
int compress_stream_write(CompressStream *s, const void *data, size_t n);
/* Ends the stream (flushing the rest to the callback) and frees s, also on
 * failure. */
int compress_stream_finish(CompressStream *s);
CompressStream *compress_stream_free(CompressStream *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(CompressStream *, compress_stream_free);
