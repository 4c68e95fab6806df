/* SPDX-License-Identifier: MIT */
/* Unit tests of src/disk/gpt.c: layout arithmetic, GUIDs, and a table read
 * back by sfdisk and checked by sgdisk (skipped, and said so, when missing). */

#include <ctype.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/macro.h"
#include "disk/gpt.h"
#include "../unit.h"

#define MiB (UINT64_C(1) << 20)

static void test_layout(void) {
        uint64_t first[4], last[4], size;

        /* ESP 16 MiB + root growing, on 64 MiB. */
        uint64_t sizes[] = { 16 * MiB, 0 };
        CHECK(gpt_layout(64 * MiB, sizes, 2, &size, first, last) == 0);
        CHECK(size == 64 * MiB);
        CHECK(first[0] == 2048 && last[0] == 2048 + 32768 - 1);
        CHECK(first[1] == 2048 + 32768);
        /* The backup takes the last 33 sectors, so the growing partition ends
         * at the last 1 MiB boundary before them: 63 MiB. */
        CHECK(last[1] == 63 * 2048 - 1);

        /* Sizes are rounded up to 1 MiB; every start is aligned. */
        uint64_t odd[] = { 1, MiB + 512, 3 * MiB };
        CHECK(gpt_layout(0, odd, 3, &size, first, last) == 0);
        CHECK(first[0] == 2048 && last[0] == 4095);
        CHECK(first[1] == 4096 && last[1] == 8191);
        CHECK(first[2] == 8192 && last[2] == 8192 + 6144 - 1);
        /* Smallest that fits: 1 MiB head, 6 MiB of partitions, 1 MiB for the backup. */
        CHECK(size == 8 * MiB);
        for (size_t i = 0; i < 3; i++)
                CHECK(first[i] % 2048 == 0);

        /* Smallest that fits with a growing partition in the middle: it gets 1 MiB. */
        uint64_t mid[] = { 2 * MiB, 0, 4 * MiB };
        CHECK(gpt_layout(0, mid, 3, &size, first, last) == 0);
        CHECK(size == 9 * MiB);
        CHECK(last[1] - first[1] + 1 == 2048);
        CHECK(first[2] == first[1] + 2048 && last[2] == 8 * 2048 - 1);

        /* The same layout on a bigger, odd-sized disk: the middle one grows. */
        CHECK(gpt_layout(100 * MiB + 512 * 7, mid, 3, &size, first, last) == 0);
        CHECK(size == 100 * MiB + 512 * 7);
        CHECK(first[2] % 2048 == 0 && last[2] == 99 * 2048 - 1);
        CHECK(last[1] + 1 == first[2]);

        /* Too small, two growing, not a sector multiple, too many. */
        CHECK(gpt_layout(8 * MiB, mid, 3, &size, first, last) == -ENOSPC);
        CHECK(gpt_layout(9 * MiB, mid, 3, &size, first, last) == 0);
        uint64_t two_grow[] = { 0, 0 };
        CHECK(gpt_layout(64 * MiB, two_grow, 2, &size, first, last) == -EINVAL);
        CHECK(gpt_layout(64 * MiB + 1, sizes, 2, &size, first, last) == -EINVAL);
        CHECK(gpt_layout(64 * MiB, sizes, 129, &size, first, last) == -E2BIG);
        /* No partitions at all: just the tables. */
        CHECK(gpt_layout(0, NULL, 0, &size, NULL, NULL) == 0);
        CHECK(size == 2 * MiB);
}

static void test_guids(void) {
        uint8_t g[16], h[16];
        char s[GUID_STRING_MAX];

        CHECK(gpt_type_from_name("esp", NULL, g) == 0);
        CHECK_STREQ(guid_to_string(g, s), "c12a7328-f81f-11d2-ba4b-00a0c93ec93b");
        /* Mixed-endian on disk: the first field little-endian. */
        CHECK(g[0] == 0x28 && g[3] == 0xc1 && g[4] == 0x1f && g[6] == 0xd2 && g[8] == 0xba && g[15] == 0x3b);
        CHECK(gpt_type_from_name("root", "x86_64", g) == 0);
        CHECK_STREQ(guid_to_string(g, s), "4f68bce3-e8cd-4db1-96e7-fbcaf984b709");
        CHECK(gpt_type_from_name("root", "aarch64", g) == 0);
        CHECK_STREQ(guid_to_string(g, s), "b921b045-1df0-41c3-af44-4c6f280d3fae");
        CHECK(gpt_type_from_name("usr", "x86_64", g) == 0);
        CHECK_STREQ(guid_to_string(g, s), "8484680c-9521-48c6-9c11-b0720656f69e");
        CHECK(gpt_type_from_name("usr", "aarch64", g) == 0);
        CHECK_STREQ(guid_to_string(g, s), "b0e01050-ee5f-4390-949a-9101b17104e9");
        CHECK(gpt_type_from_name("xbootldr", "x86_64", g) == 0);
        CHECK_STREQ(guid_to_string(g, s), "bc13c2ff-59e6-4262-a352-b275fd6f7172");
        CHECK(gpt_type_from_name("linux", NULL, g) == 0);
        CHECK_STREQ(guid_to_string(g, s), "0fc63daf-8483-4772-8e79-3d69d8477de4");
        CHECK(gpt_type_from_name("swap", NULL, g) == 0);
        CHECK_STREQ(guid_to_string(g, s), "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f");
        CHECK(gpt_type_from_name("home", NULL, g) == 0);
        CHECK(gpt_type_from_name("srv", NULL, g) == 0);
        CHECK(gpt_type_from_name("var", NULL, g) == 0);
        CHECK(gpt_type_from_name("tmp", NULL, g) == 0);
        CHECK(gpt_type_from_name("bogus", "x86_64", g) == -EINVAL);
        CHECK(gpt_type_from_name("root", "pdp11", g) == -EOPNOTSUPP);

        CHECK(guid_from_string("C12A7328-F81F-11D2-BA4B-00A0C93EC93B", h) == 0);
        CHECK(gpt_type_from_name("esp", NULL, g) == 0 && memcmp(g, h, 16) == 0);
        CHECK(guid_from_string("c12a7328-f81f-11d2-ba4b-00a0c93ec93", h) == -EINVAL);
        CHECK(guid_from_string("c12a7328+f81f-11d2-ba4b-00a0c93ec93b", h) == -EINVAL);

        /* Derived GUIDs: stable, version 4 variant 1, different per label and seed. */
        uint8_t seed[32] = { 1, 2, 3 };
        CHECK(gpt_guid_derive(seed, "root", g) == 0);
        CHECK(gpt_guid_derive(seed, "root", h) == 0);
        CHECK(memcmp(g, h, 16) == 0);
        guid_to_string(g, s);
        CHECK(s[14] == '4');
        CHECK(strchr("89ab", s[19]) != NULL);
        CHECK(gpt_guid_derive(seed, "esp", h) == 0 && memcmp(g, h, 16) != 0);
        seed[31] = 1;
        CHECK(gpt_guid_derive(seed, "root", h) == 0 && memcmp(g, h, 16) != 0);
}

static bool have(const char *tool) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
        return system(cmd) == 0;
}

static void build_disk(const uint8_t seed[32], uint8_t **ret_head, uint8_t **ret_tail, size_t *hl, size_t *tl,
                       GptPartition p[2]) {
        uint64_t sizes[] = { 16 * MiB, 0 }, first[2], last[2], size;
        CHECK(gpt_layout(64 * MiB, sizes, 2, &size, first, last) == 0);
        memset(p, 0, 2 * sizeof(GptPartition));
        CHECK(gpt_type_from_name("esp", "x86_64", p[0].type_guid) == 0);
        CHECK(gpt_type_from_name("root", "x86_64", p[1].type_guid) == 0);
        CHECK(gpt_guid_derive(seed, "esp", p[0].part_guid) == 0);
        CHECK(gpt_guid_derive(seed, "root-x86-64", p[1].part_guid) == 0);
        strcpy(p[0].name, "ESP");
        strcpy(p[1].name, "root-x86-64 Wurzel \xc3\xa4"); /* a non-ASCII name */
        p[1].attributes = GPT_ATTR_GROWFS;
        for (size_t i = 0; i < 2; i++) {
                p[i].first_lba = first[i];
                p[i].last_lba = last[i];
        }
        uint8_t disk_guid[16];
        CHECK(gpt_guid_derive(seed, "disk", disk_guid) == 0);
        CHECK(gpt_build(size, disk_guid, p, 2, ret_head, hl, ret_tail, tl) == 0);
}

static void test_build(void) {
        uint8_t seed[32];
        for (size_t i = 0; i < 32; i++)
                seed[i] = (uint8_t) i;
        _cleanup_free_ uint8_t *head = NULL, *tail = NULL, *head2 = NULL, *tail2 = NULL;
        size_t hl, tl, hl2, tl2;
        GptPartition p[2];
        build_disk(seed, &head, &tail, &hl, &tl, p);
        CHECK(hl == 34 * 512 && tl == 33 * 512);
        CHECK(head[510] == 0x55 && head[511] == 0xaa && head[446 + 4] == 0xee);
        CHECK(memcmp(head + 512, "EFI PART", 8) == 0);
        CHECK(memcmp(tail + tl - 512, "EFI PART", 8) == 0);

        /* Deterministic. */
        build_disk(seed, &head2, &tail2, &hl2, &tl2, p);
        CHECK(hl == hl2 && tl == tl2 && memcmp(head, head2, hl) == 0 && memcmp(tail, tail2, tl) == 0);

        /* Invalid inputs. */
        GptPartition bad[2];
        memcpy(bad, p, sizeof bad);
        uint8_t *h3, *t3;
        size_t l3, m3;
        bad[1].first_lba = bad[0].last_lba; /* overlap */
        CHECK(gpt_build(64 * MiB, p[0].part_guid, bad, 2, &h3, &l3, &t3, &m3) == -EINVAL);
        memcpy(bad, p, sizeof bad);
        bad[1].last_lba = 64 * 2048 - 34 + 1; /* into the backup entries */
        CHECK(gpt_build(64 * MiB, p[0].part_guid, bad, 2, &h3, &l3, &t3, &m3) == -EINVAL);
        memcpy(bad, p, sizeof bad);
        memset(bad[0].name, 'x', 37);
        bad[0].name[37] = 0; /* 37 UTF-16 units */
        CHECK(gpt_build(64 * MiB, p[0].part_guid, bad, 2, &h3, &l3, &t3, &m3) == -EINVAL);
        bad[0].name[36] = 0; /* 36: fits */
        CHECK(gpt_build(64 * MiB, p[0].part_guid, bad, 2, &h3, &l3, &t3, &m3) == 0);
        free(h3);
        free(t3);
        /* 36 units of three UTF-8 bytes each (U+20AC): 108 bytes, the most a name holds. */
        for (size_t i = 0; i < 36; i++)
                memcpy(bad[0].name + 3 * i, "\xe2\x82\xac", 3);
        bad[0].name[108] = 0;
        CHECK(sizeof bad[0].name == 109);
        CHECK(gpt_build(64 * MiB, p[0].part_guid, bad, 2, &h3, &l3, &t3, &m3) == 0);
        free(h3);
        free(t3);
        strcpy(bad[0].name, "\xc3"); /* truncated UTF-8 */
        CHECK(gpt_build(64 * MiB, p[0].part_guid, bad, 2, &h3, &l3, &t3, &m3) == -EINVAL);

        if (!have("sfdisk") || !have("sgdisk")) {
                printf("SKIP: sfdisk or sgdisk missing, GPT not read back\n");
                return;
        }
        char path[] = "/tmp/test-gpt-XXXXXX";
        int fd = mkstemp(path);
        CHECK(fd >= 0);
        if (fd < 0)
                return;
        CHECK(ftruncate(fd, 64 * MiB) == 0);
        CHECK(pwrite(fd, head, hl, 0) == (ssize_t) hl);
        CHECK(pwrite(fd, tail, tl, 64 * MiB - tl) == (ssize_t) tl);
        close(fd);

        char cmd[512], *out = NULL;
        snprintf(cmd, sizeof cmd, "sfdisk -d %s 2>&1", path);
        CHECK(unit_run(cmd, &out, NULL) == 0);
        if (out) {
                char g0[GUID_STRING_MAX], g1[GUID_STRING_MAX], line[512];
                guid_to_string(p[0].part_guid, g0);
                guid_to_string(p[1].part_guid, g1);
                /* sfdisk prints the GUIDs upper-case, and escapes non-ASCII bytes as \xNN. */
                for (char *c = g0; *c; c++)
                        *c = (char) toupper((unsigned char) *c);
                for (char *c = g1; *c; c++)
                        *c = (char) toupper((unsigned char) *c);
                CHECK(strstr(out, "label: gpt\n") != NULL);
                uint8_t disk_guid[16];
                char dg[GUID_STRING_MAX];
                CHECK(gpt_guid_derive(seed, "disk", disk_guid) == 0);
                guid_to_string(disk_guid, dg);
                for (char *c = dg; *c; c++)
                        *c = (char) toupper((unsigned char) *c);
                snprintf(line, sizeof line, "label-id: %s\n", dg);
                CHECK(strstr(out, line) != NULL);
                CHECK(strstr(out, "first-lba: 34\n") != NULL);
                CHECK(strstr(out, "last-lba: 131038\n") != NULL);
                snprintf(line, sizeof line,
                         "start=        2048, size=       32768, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=%s, name=\"ESP\"\n",
                         g0);
                CHECK(strstr(out, line) != NULL);
                snprintf(line, sizeof line,
                         "start=       34816, size=       94208, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, uuid=%s, name=\"root-x86-64 Wurzel \\xc3\\xa4\", attrs=\"GUID:59\"\n",
                         g1);
                CHECK(strstr(out, line) != NULL);
                if (unit_failures)
                        fputs(out, stderr);
        }
        free(out);

        snprintf(cmd, sizeof cmd, "sgdisk -v %s 2>&1", path);
        CHECK(unit_run(cmd, &out, NULL) == 0);
        CHECK(out && strstr(out, "No problems found") != NULL);
        if (out && !strstr(out, "No problems found"))
                fputs(out, stderr);
        free(out);
        unlink(path);
}

/* gpt_build_reserved(): the headers' first usable LBA moves (for a BIOS
 * boot loader's core before the first partition); a partition below it, or
 * a first usable LBA below 34, is refused; sfdisk and sgdisk accept it. */
static void test_reserved(void) {
        uint8_t seed[32] = { 7 };
        _cleanup_free_ uint8_t *head = NULL, *tail = NULL;
        size_t hl, tl;
        GptPartition p[2];
        build_disk(seed, &head, &tail, &hl, &tl, p);
        uint8_t *h, *t;
        size_t lh, lt;
        CHECK(gpt_build_reserved(64 * MiB, p[0].part_guid, p, 2, 33, &h, &lh, &t, &lt) == -EINVAL);
        GptPartition low[2];
        memcpy(low, p, sizeof low);
        low[0].first_lba = 2047;
        CHECK(gpt_build_reserved(64 * MiB, p[0].part_guid, low, 2, 2048, &h, &lh, &t, &lt) == -EINVAL);
        CHECK(gpt_build_reserved(64 * MiB, p[0].part_guid, low, 2, 34, &h, &lh, &t, &lt) == 0);
        free(h);
        free(t);
        CHECK(gpt_build_reserved(64 * MiB, p[0].part_guid, p, 2, 2048, &h, &lh, &t, &lt) == 0);
        /* Only the headers (and so their CRCs) differ from gpt_build()'s. */
        CHECK(lh == hl && memcmp(h, head, 512) == 0 && memcmp(h + 1024, head + 1024, hl - 1024) == 0 &&
              memcmp(h + 512, head + 512, 512) != 0);
        if (!have("sfdisk") || !have("sgdisk")) {
                printf("SKIP: sfdisk or sgdisk missing, GPT not read back\n");
                free(h);
                free(t);
                return;
        }
        char path[] = "/tmp/test-gpt-XXXXXX";
        int fd = mkstemp(path);
        CHECK(fd >= 0);
        if (fd >= 0) {
                CHECK(ftruncate(fd, 64 * MiB) == 0);
                CHECK(pwrite(fd, h, lh, 0) == (ssize_t) lh);
                CHECK(pwrite(fd, t, lt, 64 * MiB - lt) == (ssize_t) lt);
                close(fd);
                char cmd[512], *out = NULL;
                snprintf(cmd, sizeof cmd, "sfdisk -d %s 2>&1", path);
                CHECK(unit_run(cmd, &out, NULL) == 0);
                CHECK(out && strstr(out, "first-lba: 2048\n") != NULL);
                free(out);
                snprintf(cmd, sizeof cmd, "sgdisk -v %s 2>&1", path);
                CHECK(unit_run(cmd, &out, NULL) == 0);
                CHECK(out && strstr(out, "No problems found") != NULL);
                free(out);
                unlink(path);
        }
        free(h);
        free(t);
}

UNIT_MAIN(test_layout, test_guids, test_build, test_reserved)
