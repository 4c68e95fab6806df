/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <unistd.h>

#include "basic/hash.h"

struct HashCtx {
        EVP_MD_CTX *ctx;
        int failed;
};

/* Fetched once: OpenSSL 3 looks the implementation up in its providers on
 * every EVP_DigestInit_ex() given a non-fetched EVP_MD. */
static EVP_MD *fetched[_HASH_ALGO_MAX];
static pthread_once_t fetch_once[_HASH_ALGO_MAX] = { PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT,
                                                     PTHREAD_ONCE_INIT };

#define DEFINE_FETCH(algo, name) \
        static void fetch_##algo(void) { \
                fetched[algo] = EVP_MD_fetch(NULL, name, NULL); \
        }
DEFINE_FETCH(HASH_MD5, "MD5")
DEFINE_FETCH(HASH_SHA1, "SHA1")
DEFINE_FETCH(HASH_SHA256, "SHA256")
DEFINE_FETCH(HASH_SHA512, "SHA512")

static const EVP_MD *md_of(HashAlgo a) {
        static void (*const fetch[_HASH_ALGO_MAX])(void) = { fetch_HASH_MD5, fetch_HASH_SHA1, fetch_HASH_SHA256,
                                                             fetch_HASH_SHA512 };
        if (a < 0 || a >= _HASH_ALGO_MAX)
                return NULL;
        pthread_once(&fetch_once[a], fetch[a]);
        if (fetched[a])
                return fetched[a];
        switch (a) {
        case HASH_MD5: return EVP_md5();
        case HASH_SHA1: return EVP_sha1();
        case HASH_SHA256: return EVP_sha256();
        case HASH_SHA512: return EVP_sha512();
        default: return NULL;
        }
}

size_t hash_size(HashAlgo a) {
        static const size_t sizes[_HASH_ALGO_MAX] = { 16, 20, 32, 64 };
        return a >= 0 && a < _HASH_ALGO_MAX ? sizes[a] : 0;
}

HashCtx *hash_new(HashAlgo a) {
        const EVP_MD *md = md_of(a);
        if (!md)
                return NULL;
        HashCtx *h = calloc(1, sizeof *h);
        if (!h)
                return NULL;
        h->ctx = EVP_MD_CTX_new();
        if (!h->ctx || EVP_DigestInit_ex(h->ctx, md, NULL) != 1) {
                EVP_MD_CTX_free(h->ctx);
                free(h);
                return NULL;
        }
        return h;
}

void hash_update(HashCtx *h, const void *data, size_t n) {
        if (n > 0 && EVP_DigestUpdate(h->ctx, data, n) != 1)
                h->failed = 1;
}

int hash_final(HashCtx *h, uint8_t *out) {
        unsigned len;
        if (h->failed || EVP_DigestFinal_ex(h->ctx, out, &len) != 1)
                return -EIO;
        return 0;
}

HashCtx *hash_free(HashCtx *h) {
        if (!h)
                return NULL;
        EVP_MD_CTX_free(h->ctx);
        free(h);
        return NULL;
}

int hash_buffer(HashAlgo a, const void *data, size_t n, uint8_t *out) {
        _cleanup_(hash_freep) HashCtx *h = hash_new(a);
        if (!h)
                return -ENOMEM;
        hash_update(h, data, n);
        return hash_final(h, out);
}

int hash_file(HashAlgo a, const char *path, uint8_t *out, uint64_t *ret_size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        _cleanup_(hash_freep) HashCtx *h = NULL;
        uint64_t total = 0;
        uint8_t buf[65536];

        if (fd < 0)
                return negative_errno();
        h = hash_new(a);
        if (!h)
                return -ENOMEM;
        for (;;) {
                ssize_t n = read(fd, buf, sizeof buf);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                hash_update(h, buf, (size_t) n);
                total += (uint64_t) n;
        }
        if (ret_size)
                *ret_size = total;
        return hash_final(h, out);
}

void hex_encode(const uint8_t *in, size_t n, char *out) {
        static const char hex[] = "0123456789abcdef";
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = hex[in[i] >> 4];
                out[2 * i + 1] = hex[in[i] & 15];
        }
        out[2 * n] = 0;
}
