/* SPDX-License-Identifier: MIT */
#pragma once

/* Message digests through OpenSSL's EVP interface (never our own primitives). */

#include <stddef.h>
#include <stdint.h>

#include "basic/macro.h"

typedef enum HashAlgo {
        HASH_MD5,
        HASH_SHA1,
        HASH_SHA256,
        HASH_SHA512,
        _HASH_ALGO_MAX,
        _HASH_ALGO_INVALID = -EINVAL,
} HashAlgo;

#define HASH_MAX_SIZE 64

size_t hash_size(HashAlgo a) _pure_;

typedef struct HashCtx HashCtx;

HashCtx *hash_new(HashAlgo a);
void hash_update(HashCtx *h, const void *data, size_t n);
/* Writes hash_size() bytes to out; the context may not be used afterwards. */
int hash_final(HashCtx *h, uint8_t *out);
HashCtx *hash_free(HashCtx *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(HashCtx *, hash_free);

/* One-shot digest of a buffer. */
int hash_buffer(HashAlgo a, const void *data, size_t n, uint8_t *out);
/* Digest of a whole file's contents. */
int hash_file(HashAlgo a, const char *path, uint8_t *out, uint64_t *ret_size);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void hex_encode(const uint8_t *in, size_t n, char *out);
