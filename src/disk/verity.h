/* SPDX-License-Identifier: MIT */
#pragma once

/* dm-verity hash devices as `veritysetup format` writes them (cryptsetup's
 * lib/verity; the kernel's Documentation/admin-guide/device-mapper/
 * verity.rst), computed in process: hash type 1 (each digest is
 * SHA-256(salt || block)), SHA-256, 4096-byte data and hash blocks.
 *
 * The hash device holds the 512-byte superblock in its first hash block
 * (the rest of that block zero), then the hash tree from block 1: the level
 * nearest the root first, the level over the data blocks last. Each hash
 * block holds 128 digests (4096 / 32), the unused end of a level's last
 * block is zeros, and the root hash is the digest of the top level's one
 * block (or of the data block itself when there is only one). The kernel's
 * table takes hash_start_block = 1 (VERITY_HASH_START_BLOCK). */

#include <stddef.h>
#include <stdint.h>

#define VERITY_BLOCK_SIZE 4096u
#define VERITY_DIGEST_SIZE 32u
#define VERITY_SALT_SIZE 32u
#define VERITY_HASH_START_BLOCK 1u
#define VERITY_ALGORITHM "sha256"

typedef struct VerityParams {
        uint64_t data_blocks;          /* of VERITY_BLOCK_SIZE, from the data device's start */
        uint8_t salt[VERITY_SALT_SIZE];
        uint8_t uuid[16];              /* the superblock's UUID, in text order (RFC 9562, as uuid_parse() gives) */
} VerityParams;

/* The bytes the hash device needs for data_blocks data blocks: the
 * superblock's block and every level of the tree. 0 for 0 blocks. */
uint64_t verity_hash_size(uint64_t data_blocks);

/* The size of a hash partition for a data partition of data_bytes: the hash
 * device its whole blocks need, rounded up to whole MiB (as partitions are
 * sized). */
uint64_t verity_partition_size(uint64_t data_bytes);

/* Reads the data_blocks blocks of data_fd from offset 0, in pieces of a few
 * MiB (bounded memory whatever the size), hashing the lowest level on up to
 * `jobs` threads, and writes the whole hash device to hash_fd from offset 0
 * (verity_hash_size() bytes; hash_fd must be open for reading too: the upper
 * levels are read back from it). ret_root_hash: VERITY_DIGEST_SIZE bytes.
 * -EIO when data_fd is shorter than data_blocks blocks. */
int verity_build(int data_fd, int hash_fd, const VerityParams *p, unsigned jobs, uint8_t ret_root_hash[VERITY_DIGEST_SIZE]);
