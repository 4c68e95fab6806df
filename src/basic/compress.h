/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Deterministic compression of a buffer: gzip (zlib, level 6, no name, mtime
 * 0) or zstd (one shot, the given level). *ret is malloc'd. */
int gzip_compress(const void *data, size_t n, uint8_t **ret, size_t *ret_len);
int zstd_compress(const void *data, size_t n, int level, uint8_t **ret, size_t *ret_len);

/* Decompression of gzip or zstd data, detected by its magic; data that is
 * neither is returned as it is. At most 1 GiB out. */
int decompress_any(const void *data, size_t n, uint8_t **ret, size_t *ret_len);
