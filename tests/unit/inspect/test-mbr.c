/* SPDX-License-Identifier: MIT */
/* Unit tests of src/inspect/mbr-read.c and fs_identify() (src/inspect/fs.c):
 *  - an MBR built here (a bootable primary, an extended partition with two
 *    logical partitions, a primary after it) reads back entry by entry;
 *  - its malformed variants: no signature, a protective MBR, a boot sector
 *    (boot indicator not 0x00/0x80), an entry past the disk, overlapping
 *    primaries, two extended partitions, a logical partition outside its
 *    extended one, overlapping logicals, a chain that loops, a chain of 129
 *    logical partitions;
 *  - a disk sfdisk labels dos with logical partitions reads as sfdisk -J
 *    reports it (skipped without sfdisk);
 *  - fs_identify() on each magic number, and on file systems the real tools
 *    make where they are installed (mkswap, mkfs.xfs, mkfs.btrfs,
 *    mksquashfs, mkfs.ext4, mkfs.vfat, pvcreate needs root: not used). */

#include <endian.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/macro.h"
#include "inspect/disk.h"
#include "../unit.h"

#define DISK_SECTORS 65536u /* 32 MiB */

static void rec(uint8_t *sector, unsigned slot, uint8_t boot, uint8_t type, uint32_t lba, uint32_t n) {
        uint8_t *r = sector + 446 + 16 * slot;
        memset(r, 0, 16);
        r[0] = boot;
        r[4] = type;
        uint32_t a = htole32(lba), b = htole32(n);
        memcpy(r + 8, &a, 4);
        memcpy(r + 12, &b, 4);
        sector[510] = 0x55;
        sector[511] = 0xAA;
}

/* p1 FAT32 bootable 2048+4096; p2 extended 8192+16384 with EBRs at 8192
 * (logical 5 at +63, 1000 sectors; next at +2048) and 10240 (logical 6 at
 * +63, 2000 sectors); p3 Linux 24576+4096. */
static uint8_t *make_mbr(void) {
        uint8_t *d = calloc(DISK_SECTORS, 512);
        uint32_t sig = htole32(0x12345678);
        memcpy(d + 440, &sig, 4);
        rec(d, 0, 0x80, 0x0C, 2048, 4096);
        rec(d, 1, 0x00, 0x0F, 8192, 16384);
        rec(d, 2, 0x00, 0x83, 24576, 4096);
        rec(d + 8192 * 512, 0, 0, 0x83, 63, 1000);
        rec(d + 8192 * 512, 1, 0, 0x05, 2048, 4096);
        rec(d + 10240 * 512, 0, 0, 0x82, 63, 2000);
        return d;
}

static int read_mbr(const uint8_t *d, size_t size, MbrTable **ret, Diagnostics *diag) {
        BlockSource *s = NULL;
        CHECK(block_source_from_memory(d, size, &s) == 0);
        int r = mbr_read(s, ret, diag);
        block_source_free(s);
        return r;
}

static bool diag_has(const Diagnostics *d, const char *s) {
        for (size_t i = 0; i < d->n; i++)
                if (strstr(d->items[i].message, s))
                        return true;
        return false;
}

/* mbr_read() of d must fail with r and, for -EBADMSG, an error holding what. */
static void expect_error(const uint8_t *d, int r, const char *what) {
        Diagnostics diag = {};
        MbrTable *t = NULL;
        int k = read_mbr(d, (size_t) DISK_SECTORS * 512, &t, &diag);
        CHECK(k == r);
        CHECK(!t);
        if (r == -EBADMSG) {
                CHECK(diag.n_errors == 1);
                CHECK(diag_has(&diag, what));
                if (!diag_has(&diag, what))
                        fprintf(stderr, "  wanted '%s' in: %s\n", what, diag.n ? diag.items[0].message : "(none)");
        } else
                CHECK(diag.n == 0);
        diagnostics_release(&diag);
        mbr_table_free(t);
}

static void test_mbr(void) {
        _cleanup_free_ uint8_t *d = make_mbr();
        _cleanup_(mbr_table_freep) MbrTable *t = NULL;
        Diagnostics diag = {};
        CHECK(read_mbr(d, (size_t) DISK_SECTORS * 512, &t, &diag) == 0);
        CHECK(diag.n == 0);
        diagnostics_release(&diag);
        if (!t)
                return;
        CHECK(t->disk_signature == 0x12345678);
        CHECK(t->n_entries == 5);
        if (t->n_entries != 5)
                return;
        static const MbrEntry want[] = {
                { 1, true, false, 0x0C, 2048, 4096 },     { 2, false, false, 0x0F, 8192, 16384 },
                { 3, false, false, 0x83, 24576, 4096 },   { 5, false, true, 0x83, 8192 + 63, 1000 },
                { 6, false, true, 0x82, 10240 + 63, 2000 },
        };
        for (size_t i = 0; i < 5; i++) {
                const MbrEntry *e = &t->entries[i];
                CHECK(e->number == want[i].number && e->bootable == want[i].bootable &&
                      e->logical == want[i].logical && e->type == want[i].type &&
                      e->first_lba == want[i].first_lba && e->sectors == want[i].sectors);
        }
        CHECK(mbr_type_is_extended(0x05) && mbr_type_is_extended(0x0F) && mbr_type_is_extended(0x85) &&
              !mbr_type_is_extended(0x83));
}

static void test_mbr_errors(void) {
        const size_t size = (size_t) DISK_SECTORS * 512;
        _cleanup_free_ uint8_t *d = malloc(size);
        _cleanup_free_ uint8_t *good = make_mbr();

        memcpy(d, good, size);
        d[511] = 0;
        expect_error(d, -EMEDIUMTYPE, NULL);

        memcpy(d, good, size);
        rec(d, 3, 0, 0xEE, 1, DISK_SECTORS - 1);
        expect_error(d, -EMEDIUMTYPE, NULL);

        memcpy(d, good, size);
        d[446 + 16] = 0x12; /* a boot sector's code, not a boot indicator */
        expect_error(d, -EMEDIUMTYPE, NULL);

        memcpy(d, good, size);
        rec(d, 3, 0, 0x83, DISK_SECTORS - 10, 11);
        expect_error(d, -EBADMSG, "outside the disk");

        memcpy(d, good, size);
        rec(d, 3, 0, 0x83, 4000, 100);
        expect_error(d, -EBADMSG, "partitions 1 and 4 overlap");

        memcpy(d, good, size);
        rec(d, 3, 0, 0x05, 40000, 1000);
        expect_error(d, -EBADMSG, "both extended");

        memcpy(d, good, size);
        rec(d + 10240 * 512, 0, 0, 0x83, 63, 20000);
        expect_error(d, -EBADMSG, "outside extended partition 2");

        memcpy(d, good, size);
        rec(d + 10240 * 512, 0, 0, 0x83, (uint32_t) (8192 + 500 - 10240), 100); /* negative: wraps */
        expect_error(d, -EBADMSG, "outside extended partition 2");

        memcpy(d, good, size);
        rec(d + 8192 * 512, 1, 0, 0x05, 100, 4096); /* EBR at 8292, its logical at 8355, inside logical 5 */
        rec(d + 8292 * 512, 0, 0, 0x83, 63, 10);
        expect_error(d, -EBADMSG, "logical partitions 5 and 6 overlap");

        memcpy(d, good, size);
        rec(d + 10240 * 512, 1, 0, 0x05, 0, 4096); /* back to the first EBR */
        expect_error(d, -EBADMSG, "comes back");

        memcpy(d, good, size);
        rec(d + 10240 * 512, 1, 0, 0x05, 10000, 4096);
        expect_error(d, -EBADMSG, "no 0x55AA");

        /* 129 logical partitions, one EBR every 64 sectors. */
        memcpy(d, good, size);
        rec(d, 2, 0, 0, 0, 0);
        rec(d, 1, 0, 0x0F, 8192, 129 * 64 + 64);
        for (unsigned i = 0; i < 129; i++) {
                uint8_t *ebr = d + (size_t) (8192 + i * 64) * 512;
                memset(ebr, 0, 512);
                rec(ebr, 0, 0, 0x83, 1, 63);
                if (i < 128)
                        rec(ebr, 1, 0, 0x05, (i + 1) * 64, 64);
        }
        expect_error(d, -EBADMSG, "more than 128");
        /* 128 of them are fine. */
        memset(d + (size_t) (8192 + 127 * 64) * 512 + 446 + 16, 0, 16);
        MbrTable *t = NULL;
        Diagnostics diag = {};
        CHECK(read_mbr(d, size, &t, &diag) == 0 && t && t->n_entries == 2 + 128);
        CHECK(t && t->entries[t->n_entries - 1].number == 4 + 128);
        mbr_table_free(t);
        diagnostics_release(&diag);
}

/* sfdisk's dos label with logical partitions, against sfdisk -J. */
static void test_mbr_sfdisk(void) {
        if (system("sfdisk --version >/dev/null 2>&1") != 0) {
                fprintf(stderr, "SKIP sfdisk: not installed\n");
                return;
        }
        char dir[] = "/tmp/test-mbr.XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        char cmd[4096], path[256];
        snprintf(path, sizeof path, "%s/dos.img", dir);
        snprintf(cmd, sizeof cmd,
                 "truncate -s 64M %s && printf 'label: dos\\n,8M,c,*\\n,40M,E\\n,10M,L\\n,5M,82\\n,,83\\n' | "
                 "sfdisk -q %s && sfdisk -J %s | python3 -c 'import json,sys; "
                 "[print(p[\"node\"][len(sys.argv[1]):], p[\"start\"], p[\"size\"], p[\"type\"], "
                 "int(p.get(\"bootable\", False))) for p in json.load(sys.stdin)[\"partitiontable\"][\"partitions\"]]' %s",
                 path, path, path, path);
        _cleanup_free_ char *out = NULL;
        CHECK(unit_run(cmd, &out, NULL) == 0);

        int fd = open(path, O_RDONLY | O_CLOEXEC);
        BlockSource *s = NULL;
        CHECK(fd >= 0 && block_source_from_fd(fd, &s) == 0);
        close(fd);
        MbrTable *t = NULL;
        Diagnostics diag = {};
        CHECK(s && mbr_read(s, &t, &diag) == 0);
        char got[4096] = "";
        for (size_t i = 0; t && i < t->n_entries; i++) {
                char line[128];
                snprintf(line, sizeof line, "%u %llu %llu %x %d\n", t->entries[i].number,
                         (unsigned long long) t->entries[i].first_lba, (unsigned long long) t->entries[i].sectors,
                         t->entries[i].type, t->entries[i].bootable);
                strncat(got, line, sizeof got - strlen(got) - 1);
        }
        CHECK_STREQ(got, out);
        CHECK(t && t->n_entries == 5);
        mbr_table_free(t);
        diagnostics_release(&diag);
        block_source_free(s);
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        CHECK(system(cmd) == 0);
}

static const char *identify(const uint8_t *d, size_t n) {
        BlockSource *s = NULL;
        CHECK(block_source_from_memory(d, n, &s) == 0);
        const char *name = fs_identify(s);
        block_source_free(s);
        return name;
}

static void test_identify_magic(void) {
        const size_t n = 128 * 1024;
        _cleanup_free_ uint8_t *d = calloc(1, n);
        CHECK(identify(d, n) == NULL);
        static const struct {
                size_t offset;
                const char *magic;
                size_t len;
                const char *name;
        } cases[] = {
                { 0, "XFSB", 4, "xfs" },
                { 0x10040, "_BHRfS_M", 8, "btrfs" },
                { 0, "LUKS\xba\xbe", 6, "luks" },
                { 0, "hsqs", 4, "squashfs" },
                { 3, "NTFS    ", 8, "ntfs" },
                { 4086, "SWAPSPACE2", 10, "swap" },
                { 65526, "SWAP-SPACE", 10, "swap" },
                { 1024, "\xe2\xe1\xf5\xe0", 4, "erofs" },
                { 1024 + 0x38, "\x53\xef", 2, "ext4" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                memset(d, 0, n);
                memcpy(d + cases[i].offset, cases[i].magic, cases[i].len);
                CHECK_STREQ(identify(d, n), cases[i].name);
        }
        /* LVM2: the label in sector 1, its type at 24; without the type,
         * nothing. */
        memset(d, 0, n);
        memcpy(d + 512, "LABELONE", 8);
        CHECK(identify(d, n) == NULL);
        memcpy(d + 512 + 24, "LVM2 001", 8);
        CHECK_STREQ(identify(d, n), "lvm2");
        /* Too small to hold the swap page: nothing, no read past the end. */
        memset(d, 0, n);
        CHECK(identify(d, 100) == NULL);
}

/* File systems the real tools make, where they are installed. */
static void test_identify_tools(void) {
        static const struct {
                const char *tool, *args, *name; /* runs "TOOL ARGS IMAGE" */
        } cases[] = {
                { "mkswap", "", "swap" },
                { "mkfs.xfs", "-q", "xfs" },
                { "mkfs.btrfs", "-q", "btrfs" },
                { "mkfs.ext4", "-q", "ext4" },
                { "mkfs.vfat", "", "vfat" },
                { "mkfs.ntfs", "-q -F -f", "ntfs" },
        };
        char dir[] = "/tmp/test-identify.XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char cmd[1024], path[256];
                snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", cases[i].tool);
                if (system(cmd) != 0) {
                        fprintf(stderr, "SKIP %s: not installed\n", cases[i].tool);
                        continue;
                }
                snprintf(path, sizeof path, "%s/%s.img", dir, cases[i].name);
                snprintf(cmd, sizeof cmd, "truncate -s 320M %s && %s %s %s >/dev/null 2>&1", path, cases[i].tool,
                         cases[i].args, path);
                if (system(cmd) != 0) {
                        fprintf(stderr, "SKIP %s: it failed here\n", cases[i].tool);
                        continue;
                }
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                BlockSource *s = NULL;
                CHECK(fd >= 0 && block_source_from_fd(fd, &s) == 0);
                close(fd);
                CHECK_STREQ(s ? fs_identify(s) : NULL, cases[i].name);
                block_source_free(s);
                unlink(path);
        }
        if (system("command -v mksquashfs >/dev/null 2>&1") == 0) {
                char cmd[1024], path[256];
                snprintf(path, sizeof path, "%s/sq.img", dir);
                snprintf(cmd, sizeof cmd, "mkdir -p %s/t && echo hi > %s/t/f && mksquashfs %s/t %s -quiet -no-progress >/dev/null", dir,
                         dir, dir, path);
                CHECK(system(cmd) == 0);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                BlockSource *s = NULL;
                CHECK(fd >= 0 && block_source_from_fd(fd, &s) == 0);
                close(fd);
                CHECK_STREQ(s ? fs_identify(s) : NULL, "squashfs");
                block_source_free(s);
        }
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        CHECK(system(cmd) == 0);
}

UNIT_MAIN(test_mbr, test_mbr_errors, test_mbr_sfdisk, test_identify_magic, test_identify_tools)
