/* SPDX-License-Identifier: MIT */

/* dm-verity hash devices (see verity.h). */

#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/macro.h"
#include "basic/parallel.h"
#include "disk/verity.h"

typedef uint16_t verity_le16_t;
typedef uint32_t verity_le32_t;
typedef uint64_t verity_le64_t;

/* The verity superblock, version 1: cryptsetup's "DMVerity" wiki page,
 * "Verity superblock format" (struct verity_sb in lib/verity/verity.c);
 * every integer little-endian. It lies at the start of the hash device. */
struct verity_sb {
        uint8_t signature[8];          /* "verity\0\0" */
        verity_le32_t version;         /* 1 */
        verity_le32_t hash_type;       /* 0: Chrome OS (digest of block || salt), 1: normal (salt || block) */
        uint8_t uuid[16];              /* of the hash device, in text order */
        char algorithm[32];            /* "sha256", NUL-padded */
        verity_le32_t data_block_size;
        verity_le32_t hash_block_size;
        verity_le64_t data_blocks;
        verity_le16_t salt_size;
        uint8_t pad1[6];
        uint8_t salt[256];
        uint8_t pad2[168];
} _packed_;
static_assert(sizeof(struct verity_sb) == 512, "verity superblock");

/* Digests per hash block: 4096 / 32. Type 1 pads each digest to a power of
 * two, which 32 bytes is already. */
#define PER_BLOCK (VERITY_BLOCK_SIZE / VERITY_DIGEST_SIZE)
#define PER_BLOCK_BITS 7u
static_assert(PER_BLOCK == 1u << PER_BLOCK_BITS, "digests per hash block");
/* The kernel allows at most 63 levels; 64-bit block counts need 10. */
#define MAX_LEVELS 10u
/* Hash blocks made per piece of the input: 64 of them cover 32 MiB of data. */
#define PIECE_HASH_BLOCKS 64u

/* The tree's shape for data_blocks blocks (cryptsetup's and the kernel's
 * arithmetic): levels until one block covers everything; level 0 is the one
 * over the data. Its blocks on the hash device: level_block[i] (in hash
 * blocks, from the device's start) for level_size[i] blocks, the highest
 * level first, from VERITY_HASH_START_BLOCK. Returns the blocks in all. */
static uint64_t tree_shape(uint64_t data_blocks, unsigned *ret_levels, uint64_t level_block[MAX_LEVELS],
                           uint64_t level_size[MAX_LEVELS]) {
        unsigned levels = 0;
        while (PER_BLOCK_BITS * levels < 64 && ((data_blocks - 1) >> (PER_BLOCK_BITS * levels)) != 0)
                levels++;
        uint64_t s = data_blocks;
        for (unsigned i = 0; i < levels; i++) {
                s = (s + PER_BLOCK - 1) / PER_BLOCK;
                level_size[i] = s;
        }
        uint64_t pos = VERITY_HASH_START_BLOCK;
        for (unsigned i = levels; i-- > 0;) {
                level_block[i] = pos;
                pos += level_size[i];
        }
        *ret_levels = levels;
        return pos;
}

uint64_t verity_hash_size(uint64_t data_blocks) {
        uint64_t lb[MAX_LEVELS], ls[MAX_LEVELS];
        unsigned levels;
        if (data_blocks == 0)
                return 0;
        return tree_shape(data_blocks, &levels, lb, ls) * VERITY_BLOCK_SIZE;
}

/* Fetched once: OpenSSL 3 looks an unfetched EVP_MD up on every init. The
 * contexts are OpenSSL's own rather than basic/hash.h's so that a thread
 * reuses one for its 128 digests per hash block instead of allocating two
 * objects per 4 KiB. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void) {
        sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

uint64_t verity_partition_size(uint64_t data_bytes) {
        const uint64_t mib = UINT64_C(1) << 20;
        uint64_t h = verity_hash_size(data_bytes / VERITY_BLOCK_SIZE);
        return (h + mib - 1) / mib * mib;
}

static const EVP_MD *sha256(void) {
        pthread_once(&sha256_once, sha256_fetch);
        return sha256_md ? sha256_md : EVP_sha256();
}

/* SHA-256(salt || block): hash type 1. ctx is reused (one per thread). */
static int digest(EVP_MD_CTX *ctx, const uint8_t *salt, const uint8_t *block, uint8_t out[VERITY_DIGEST_SIZE]) {
        unsigned len = 0;
        if (EVP_DigestInit_ex(ctx, sha256(), NULL) != 1 || EVP_DigestUpdate(ctx, salt, VERITY_SALT_SIZE) != 1 ||
            EVP_DigestUpdate(ctx, block, VERITY_BLOCK_SIZE) != 1 || EVP_DigestFinal_ex(ctx, out, &len) != 1 ||
            len != VERITY_DIGEST_SIZE)
                return -EIO;
        return 0;
}

static int pread_all(int fd, void *buf, size_t n, uint64_t off) {
        uint8_t *p = buf;
        while (n > 0) {
                ssize_t k = pread(fd, p, n, (off_t) off);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return -EIO; /* shorter than it should be */
                p += k;
                n -= (size_t) k;
                off += (uint64_t) k;
        }
        return 0;
}

static int pwrite_all(int fd, const void *buf, size_t n, uint64_t off) {
        const uint8_t *p = buf;
        while (n > 0) {
                ssize_t k = pwrite(fd, p, n, (off_t) off);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                p += k;
                n -= (size_t) k;
                off += (uint64_t) k;
        }
        return 0;
}

/* One piece of a level: in_blocks input blocks in `in`, their digests
 * into out (a hash block per PER_BLOCK inputs, the last one zero-padded). */
typedef struct Piece {
        const uint8_t *salt;
        const uint8_t *zero_digest; /* of an all-zero block: what most of a growing file system holds */
        const uint8_t *in;
        uint64_t in_blocks;
        uint8_t *out;
        int failed;
} Piece;

static bool block_is_zero(const uint8_t *b) {
        return b[0] == 0 && memcmp(b, b + 1, VERITY_BLOCK_SIZE - 1) == 0;
}

static void hash_one_block(void *ctx, size_t i) {
        Piece *pc = ctx;
        uint8_t *out = pc->out + i * VERITY_BLOCK_SIZE;
        uint64_t first = (uint64_t) i * PER_BLOCK, n = MIN((uint64_t) PER_BLOCK, pc->in_blocks - first);
        EVP_MD_CTX *mc = EVP_MD_CTX_new();
        memset(out, 0, VERITY_BLOCK_SIZE);
        if (!mc) {
                __atomic_store_n(&pc->failed, 1, __ATOMIC_RELAXED);
                return;
        }
        for (uint64_t k = 0; k < n; k++) {
                const uint8_t *b = pc->in + (first + k) * VERITY_BLOCK_SIZE;
                if (block_is_zero(b))
                        memcpy(out + k * VERITY_DIGEST_SIZE, pc->zero_digest, VERITY_DIGEST_SIZE);
                else if (digest(mc, pc->salt, b, out + k * VERITY_DIGEST_SIZE) < 0) {
                        __atomic_store_n(&pc->failed, 1, __ATOMIC_RELAXED);
                        break;
                }
        }
        EVP_MD_CTX_free(mc);
}

/* Hashes n_in blocks of in_fd from in_off into the level that starts at
 * out_off of out_fd, a piece at a time. */
static int hash_level(int in_fd, uint64_t in_off, uint64_t n_in, int out_fd, uint64_t out_off, const uint8_t *salt,
                      const uint8_t *zero_digest, unsigned jobs, uint8_t *in_buf, uint8_t *out_buf) {
        const uint64_t piece_in = (uint64_t) PIECE_HASH_BLOCKS * PER_BLOCK;
        for (uint64_t done = 0; done < n_in;) {
                uint64_t n = MIN(piece_in, n_in - done);
                size_t n_out = (size_t) ((n + PER_BLOCK - 1) / PER_BLOCK);
                int r = pread_all(in_fd, in_buf, (size_t) n * VERITY_BLOCK_SIZE, in_off + done * VERITY_BLOCK_SIZE);
                if (r < 0)
                        return r;
                Piece pc = { .salt = salt, .zero_digest = zero_digest, .in = in_buf, .in_blocks = n, .out = out_buf };
                parallel_for(n_out, jobs ? jobs : 1, hash_one_block, &pc);
                if (pc.failed)
                        return -EIO;
                r = pwrite_all(out_fd, out_buf, n_out * VERITY_BLOCK_SIZE,
                               out_off + (done / PER_BLOCK) * VERITY_BLOCK_SIZE);
                if (r < 0)
                        return r;
                done += n;
        }
        return 0;
}

int verity_build(int data_fd, int hash_fd, const VerityParams *p, unsigned jobs, uint8_t ret_root_hash[VERITY_DIGEST_SIZE]) {
        uint64_t level_block[MAX_LEVELS], level_size[MAX_LEVELS];
        unsigned levels;
        int r;

        if (p->data_blocks == 0)
                return -EINVAL;
        uint64_t total = tree_shape(p->data_blocks, &levels, level_block, level_size);

        struct verity_sb sb = {
                .signature = "verity",
                .version = htole32(1),
                .hash_type = htole32(1),
                .algorithm = VERITY_ALGORITHM,
                .data_block_size = htole32(VERITY_BLOCK_SIZE),
                .hash_block_size = htole32(VERITY_BLOCK_SIZE),
                .data_blocks = htole64(p->data_blocks),
                .salt_size = htole16(VERITY_SALT_SIZE),
        };
        memcpy(sb.uuid, p->uuid, sizeof sb.uuid);
        memcpy(sb.salt, p->salt, VERITY_SALT_SIZE);

        /* The device at its size, all zeros: the superblock block's rest and
         * the levels' padding stay so. */
        if (ftruncate(hash_fd, 0) < 0 || ftruncate(hash_fd, (off_t) (total * VERITY_BLOCK_SIZE)) < 0)
                return -errno;
        r = pwrite_all(hash_fd, &sb, sizeof sb, 0);
        if (r < 0)
                return r;

        _cleanup_free_ uint8_t *in_buf = malloc((size_t) PIECE_HASH_BLOCKS * PER_BLOCK * VERITY_BLOCK_SIZE);
        _cleanup_free_ uint8_t *out_buf = malloc((size_t) PIECE_HASH_BLOCKS * VERITY_BLOCK_SIZE);
        if (!in_buf || !out_buf)
                return -ENOMEM;

        /* The digest of a zero block, once: a file system that grows to fill
         * its partition is mostly zeros, which are compared, not hashed. */
        uint8_t zero_digest[VERITY_DIGEST_SIZE];
        EVP_MD_CTX *zc = EVP_MD_CTX_new();
        if (!zc)
                return -ENOMEM;
        memset(in_buf, 0, VERITY_BLOCK_SIZE);
        r = digest(zc, p->salt, in_buf, zero_digest);
        EVP_MD_CTX_free(zc);
        if (r < 0)
                return r;

        /* Level 0 from the data, each level above from the one below. */
        for (unsigned i = 0; i < levels; i++) {
                r = i == 0 ? hash_level(data_fd, 0, p->data_blocks, hash_fd, level_block[0] * VERITY_BLOCK_SIZE,
                                        p->salt, zero_digest, jobs, in_buf, out_buf)
                           : hash_level(hash_fd, level_block[i - 1] * VERITY_BLOCK_SIZE, level_size[i - 1], hash_fd,
                                        level_block[i] * VERITY_BLOCK_SIZE, p->salt, zero_digest, jobs, in_buf,
                                        out_buf);
                if (r < 0)
                        return r;
        }

        /* The root: the digest of the top level's single block, or of the
         * only data block. */
        uint64_t top = levels ? level_block[levels - 1] * VERITY_BLOCK_SIZE : 0;
        r = pread_all(levels ? hash_fd : data_fd, in_buf, VERITY_BLOCK_SIZE, top);
        if (r < 0)
                return r;
        EVP_MD_CTX *mc = EVP_MD_CTX_new();
        if (!mc)
                return -ENOMEM;
        uint8_t root[VERITY_DIGEST_SIZE];
        r = digest(mc, p->salt, in_buf, root);
        EVP_MD_CTX_free(mc);
        if (r < 0)
                return r;
        memcpy(ret_root_hash, root, VERITY_DIGEST_SIZE);
        return 0;
}
