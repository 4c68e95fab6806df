/* SPDX-License-Identifier: MIT */
/* Unit tests of src/disk/verity.c: the tree's size arithmetic, and hash
 * devices compared byte for byte with what `veritysetup format` writes for
 * the same data, salt and UUID, at the sizes where the tree changes shape
 * (skipped, and said so, without veritysetup). */

#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/hash.h"
#include "basic/macro.h"
#include "disk/verity.h"
#include "unit.h"

static bool have(const char *tool) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1 || test -x /usr/sbin/%s || test -x /sbin/%s", tool,
                 tool, tool);
        return system(cmd) == 0;
}

static void test_size(void) {
        const uint64_t B = VERITY_BLOCK_SIZE;
        CHECK(verity_hash_size(0) == 0);
        CHECK(verity_hash_size(1) == 1 * B);     /* the superblock only: the root is the data block's digest */
        CHECK(verity_hash_size(2) == 2 * B);     /* one level of one block */
        CHECK(verity_hash_size(128) == 2 * B);
        CHECK(verity_hash_size(129) == 4 * B);   /* two blocks at level 0, one above */
        CHECK(verity_hash_size(128 * 128) == (1 + 1 + 128) * B);
        CHECK(verity_hash_size(128 * 128 + 1) == (1 + 1 + 2 + 129) * B);
}

/* Data of n blocks (a pattern that differs per block), hashed by us and by
 * veritysetup with the same parameters: the devices and root hashes agree. */
static void compare(uint64_t n, unsigned jobs) {
        char data[] = "/tmp/test-verity-data-XXXXXX", ours[] = "/tmp/test-verity-ours-XXXXXX",
             theirs[] = "/tmp/test-verity-theirs-XXXXXX";
        int dfd = mkstemp(data), hfd = mkstemp(ours), tfd = mkstemp(theirs);
        CHECK(dfd >= 0 && hfd >= 0 && tfd >= 0);
        if (dfd < 0 || hfd < 0 || tfd < 0)
                return;
        close(tfd);
        uint8_t *block = malloc(VERITY_BLOCK_SIZE);
        for (uint64_t b = 0; b < n; b++) {
                for (size_t k = 0; k < VERITY_BLOCK_SIZE; k++)
                        block[k] = (uint8_t) ((b * 131 + k * 7 + (b >> 8)) & 0xff);
                if (b % 5 == 3)
                        memset(block, 0, VERITY_BLOCK_SIZE); /* some zero blocks, as file systems have */
                CHECK(pwrite(dfd, block, VERITY_BLOCK_SIZE, (off_t) (b * VERITY_BLOCK_SIZE)) == VERITY_BLOCK_SIZE);
        }
        free(block);

        VerityParams p = { .data_blocks = n };
        CHECK(hash_buffer(HASH_SHA256, "salt", 4, p.salt) == 0);
        static const uint8_t uuid[16] = { 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0x4d, 0xef,
                                          0x80, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77 };
        memcpy(p.uuid, uuid, 16);
        uint8_t root[VERITY_DIGEST_SIZE];
        CHECK(verity_build(dfd, hfd, &p, jobs, root) == 0);
        CHECK((uint64_t) lseek(hfd, 0, SEEK_END) == verity_hash_size(n));
        char root_hex[2 * VERITY_DIGEST_SIZE + 1], salt_hex[2 * VERITY_SALT_SIZE + 1];
        hex_encode(root, sizeof root, root_hex);
        hex_encode(p.salt, sizeof p.salt, salt_hex);

        char cmd[1024], *out = NULL;
        snprintf(cmd, sizeof cmd,
                 "veritysetup format --hash=sha256 --data-block-size=4096 --hash-block-size=4096 --salt=%s "
                 "--uuid=12345678-9abc-4def-8011-223344556677 %s %s 2>&1",
                 salt_hex, data, theirs);
        CHECK(unit_run(cmd, &out, NULL) == 0);
        bool found = out && strstr(out, root_hex) != NULL;
        CHECK(found);
        if (!found)
                fprintf(stderr, "%" PRIu64 " blocks: ours %s, veritysetup said:\n%s\n", n, root_hex, out ? out : "");
        free(out);
        CHECK(unit_files_equal(ours, theirs));
        /* And veritysetup accepts ours. */
        snprintf(cmd, sizeof cmd, "veritysetup verify %s %s %s 2>&1", data, ours, root_hex);
        CHECK(unit_run(cmd, &out, NULL) == 0);
        free(out);
        close(dfd);
        close(hfd);
        unlink(data);
        unlink(ours);
        unlink(theirs);
}

static void test_veritysetup(void) {
        if (!have("veritysetup")) {
                printf("SKIP: veritysetup missing (cryptsetup-bin), hash devices not compared\n");
                return;
        }
        compare(1, 1);
        compare(2, 1);
        compare(128, 2);
        compare(129, 2);
        compare(128 * 64 * 2 + 5, 3); /* more than one piece of the lowest level */
        compare(128 * 128 + 1, 2);    /* three levels */
}

/* A data device shorter than data_blocks says so. */
static void test_short(void) {
        char data[] = "/tmp/test-verity-short-XXXXXX", hash[] = "/tmp/test-verity-hash-XXXXXX";
        int dfd = mkstemp(data), hfd = mkstemp(hash);
        CHECK(dfd >= 0 && hfd >= 0);
        if (dfd < 0 || hfd < 0)
                return;
        CHECK(ftruncate(dfd, 3 * VERITY_BLOCK_SIZE) == 0);
        VerityParams p = { .data_blocks = 4 };
        uint8_t root[VERITY_DIGEST_SIZE];
        CHECK(verity_build(dfd, hfd, &p, 1, root) == -EIO);
        p.data_blocks = 0;
        CHECK(verity_build(dfd, hfd, &p, 1, root) == -EINVAL);
        close(dfd);
        close(hfd);
        unlink(data);
        unlink(hash);
}

UNIT_MAIN(test_size, test_veritysetup, test_short)
