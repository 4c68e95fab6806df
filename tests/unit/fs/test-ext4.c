/* SPDX-License-Identifier: MIT */
/* Unit tests of the ext4 writer (src/fs/ext4.c): images read back by
 * e2fsck and debugfs (e2fsprogs), built twice for reproducibility. */

#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "fs/ext4.h"
#include "tree/tree.h"
#include "../unit.h"

#define BIG_SIZE (6u * 1024 * 1024 + 123)
#define HOLE_START (2u * 1024 * 1024)
#define HOLE_END (3u * 1024 * 1024)
#define NOW 1700000000

static const char long_target[] =
        "../../some/very/long/target/path/that/does/not/fit/into/the/inode/i_block/area/at/all";
static const char selinux[] = "system_u:object_r:etc_t:s0"; /* stored with its NUL */
static const uint8_t capability[20] = { 0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00,
                                        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };

static bool have_tools(void) {
        return system("command -v e2fsck >/dev/null 2>&1 && command -v debugfs >/dev/null 2>&1") == 0;
}

/* Runs a shell command, returns its exit status and (optional) its output. */
static int run(char **ret_out, const char *fmt, ...) _printf_(2, 3);
static int run(char **ret_out, const char *fmt, ...) {
        _cleanup_free_ char *cmd = NULL;
        va_list ap;
        va_start(ap, fmt);
        int k = vasprintf(&cmd, fmt, ap);
        va_end(ap);
        if (k < 0)
                return -1;
        FILE *f = popen(cmd, "r");
        if (!f)
                return -1;
        char *out = NULL;
        size_t n = 0;
        FILE *m = open_memstream(&out, &n);
        char buf[4096];
        size_t got;
        while ((got = fread(buf, 1, sizeof buf, f)) > 0)
                fwrite(buf, 1, got, m);
        fclose(m);
        int st = pclose(f);
        if (ret_out)
                *ret_out = out;
        else
                free(out);
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static uint8_t *big_contents(void) {
        uint8_t *d = malloc(BIG_SIZE);
        uint32_t x = 12345;
        for (size_t i = 0; i < BIG_SIZE; i++) {
                x = x * 1103515245 + 12345;
                d[i] = (uint8_t) (x >> 16);
        }
        memset(d + HOLE_START, 0, HOLE_END - HOLE_START);
        return d;
}

static TreeNode *add_special(Tree *t, const char *path, TreeType type, uint32_t major, uint32_t minor) {
        TreeNode *n = calloc(1, sizeof(TreeNode)), *ret = NULL;
        n->path = strdup(path);
        n->type = type;
        n->mode = 0600;
        n->mtime = 100;
        n->rdev_major = major;
        n->rdev_minor = minor;
        CHECK(tree_add(t, n, &ret) == 0);
        return ret;
}

static Tree *make_tree(void) {
        Tree *t = tree_new(NOW + 1000); /* later than SOURCE_DATE_EPOCH: clamped */
        TreeNode *n = NULL, *h = NULL;

        CHECK(tree_add_dir(t, "/etc/deep/er/still", 0750, 0, 0, NULL) == 0);
        CHECK(tree_add_file(t, "/etc/deep/er/still/file", "nested\n", 7, 0644, 0, 0, NULL) == 0);
        CHECK(tree_add_file(t, "/etc/labelled", "x\n", 2, 0644, 0, 0, &n) == 0);
        CHECK(tree_node_set_xattr(n, "security.selinux", selinux, sizeof selinux) == 0);
        CHECK(tree_node_set_xattr(n, "security.capability", capability, sizeof capability) == 0);
        CHECK(tree_node_set_xattr(n, "user.comment", "hello", 5) == 0);

        CHECK(tree_add_dir(t, "/many", 0755, 0, 0, NULL) == 0);
        for (int i = 0; i < 1000; i++) {
                char p[64], c[32];
                snprintf(p, sizeof p, "/many/entry-with-a-longish-name-%04d", i);
                int l = snprintf(c, sizeof c, "%d\n", i);
                CHECK(tree_add_file(t, p, c, (size_t) l, 0644, 0, 0, NULL) == 0);
        }

        _cleanup_free_ uint8_t *big = big_contents();
        CHECK(tree_add_file(t, "/big", big, BIG_SIZE, 0644, 0, 0, &n) == 0);
        n->mtime = 500;

        CHECK(tree_add_symlink(t, "/short", "etc/labelled", NULL) == 0);
        CHECK(tree_add_symlink(t, "/long", long_target, NULL) == 0);

        uint64_t id = tree_new_link_id(t);
        CHECK(tree_add_file(t, "/usr/bin/hard1", "same\n", 5, 0755, 0, 0, &h) == 0);
        h->link_id = id;
        CHECK(tree_add_file(t, "/usr/bin/hard2", "same\n", 5, 0755, 0, 0, &h) == 0);
        h->link_id = id;
        CHECK(tree_add_file(t, "/usr/bin/suid", "#!/bin/sh\n", 10, 04755, 1000, 1000, NULL) == 0);

        add_special(t, "/dev/null", TREE_CHR, 1, 3);
        add_special(t, "/dev/bigdev", TREE_BLK, 259, 300000);
        add_special(t, "/dev/fifo", TREE_FIFO, 0, 0);

        CHECK(tree_add_dir(t, "/home/alice", 0700, 1000, 1000, NULL) == 0);
        CHECK(tree_add_file(t, "/home/alice/notes", "n\n", 2, 0600, 1000, 1000, NULL) == 0);
        return t;
}

static FsOptions options(void) {
        FsOptions o = {
                .uuid = { 0x12, 0x34, 0x56, 0x78, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 },
                .hash_seed = { 0xaa, 0xbb, 0xcc, 0xdd, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 },
                .time = NOW,
                .label = "root",
        };
        return o;
}

static bool files_equal(const char *a, const char *b) {
        return run(NULL, "cmp -s %s %s", a, b) == 0;
}

static void test_build(void) {
        if (!have_tools()) {
                printf("test_build: e2fsck/debugfs missing, skipped\n");
                return;
        }
        char dir[] = "/tmp/test-ext4-XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        _cleanup_free_ char *img = path_join(dir, "a.img"), *img2 = path_join(dir, "b.img"),
                            *dumped = path_join(dir, "big.out");
        char *out = NULL;
        _cleanup_(tree_freep) Tree *t = make_tree();
        FsOptions o = options();
        uint64_t size = 0;

        int rb = ext4_build(t, &o, img, &size);
        if (rb < 0)
                fprintf(stderr, "ext4_build: %s\n", strerror(-rb));
        CHECK(rb == 0);
        struct stat st;
        CHECK(stat(img, &st) == 0 && (uint64_t) st.st_size == size);
        CHECK(size >= 16 * 1024 * 1024 && size % (1024 * 1024) == 0);
        CHECK((uint64_t) st.st_blocks * 512 < size); /* sparse */
        CHECK(ext4_build(t, &o, img, NULL) == -EEXIST);

        int k = run(&out, "e2fsck -fn %s 2>&1", img);
        CHECK(k == 0);
        if (k != 0)
                fprintf(stderr, "%s", out);
        free(out);

        CHECK(run(&out, "dumpe2fs -h %s 2>/dev/null", img) == 0);
        CHECK(strstr(out, "has_journal ext_attr resize_inode dir_index filetype extent 64bit flex_bg sparse_super "
                          "large_file huge_file dir_nlink extra_isize metadata_csum") != NULL);
        CHECK(strstr(out, "Filesystem UUID:          12345678-0102-0304-0506-0708090a0b0c") != NULL);
        CHECK(strstr(out, "Filesystem volume name:   root\n") != NULL);
        CHECK(strstr(out, "Inode size:	          256") != NULL);
        CHECK(strstr(out, "Block size:               4096") != NULL);
        CHECK(strstr(out, "Directory Hash Seed:      aabbccdd-0102-0304-0506-0708090a0b0c") != NULL);
        CHECK(strstr(out, "Filesystem created:       Tue Nov 14 22:13:20 2023") != NULL);
        CHECK(strstr(out, "Last write time:          Tue Nov 14 22:13:20 2023") != NULL);
        free(out);

        CHECK(run(&out, "TZ=UTC debugfs -R 'stat /usr/bin/suid' %s 2>/dev/null", img) == 0);
        CHECK(strstr(out, "Mode:  04755") != NULL);
        CHECK(strstr(out, "User:  1000   Group:  1000") != NULL);
        CHECK(strstr(out, "Links: 1") != NULL);
        CHECK(strstr(out, "mtime: 0x6553f100") != NULL); /* clamped to NOW */
        free(out);

        CHECK(run(&out, "debugfs -R 'stat /usr/bin/hard2' %s 2>/dev/null", img) == 0);
        CHECK(strstr(out, "Links: 2") != NULL);
        free(out);
        _cleanup_free_ char *i1 = NULL, *i2 = NULL;
        CHECK(run(&i1, "debugfs -R 'ls -l /usr/bin/hard1' %s 2>/dev/null | awk '{print $1}'", img) == 0);
        CHECK(run(&i2, "debugfs -R 'ls -l /usr/bin/hard2' %s 2>/dev/null | awk '{print $1}'", img) == 0);
        CHECK_STREQ(i1, i2);

        CHECK(run(&out, "debugfs -R 'stat /big' %s 2>/dev/null", img) == 0);
        CHECK(strstr(out, "Size: 6291579") != NULL);
        CHECK(strstr(out, "mtime: 0x000001f4") != NULL); /* 500: kept */
        free(out);
        CHECK(run(NULL, "debugfs -R 'dump /big %s' %s >/dev/null 2>&1", dumped, img) == 0);
        _cleanup_free_ char *got = NULL;
        _cleanup_free_ uint8_t *want = big_contents();
        size_t got_size = 0;
        CHECK(read_full_file(dumped, &got, &got_size) == 0);
        CHECK(got_size == BIG_SIZE && memcmp(got, want, BIG_SIZE) == 0);
        /* The zeros are a hole: 6 MiB of data less 1 MiB, in 4 KiB blocks. */
        CHECK(run(&out, "debugfs -R 'blocks /big' %s 2>/dev/null | wc -w", img) == 0);
        CHECK(atoi(out) == (BIG_SIZE - (HOLE_END - HOLE_START) + 4095) / 4096);
        free(out);

        CHECK(run(&out, "debugfs -R 'ea_list /etc/labelled' %s 2>/dev/null", img) == 0);
        CHECK(strstr(out, "security.selinux (27) = \"system_u:object_r:etc_t:s0\\000\"") != NULL);
        CHECK(strstr(out, "security.capability (20)") != NULL);
        CHECK(strstr(out, "user.comment (5) = \"hello\"") != NULL);
        free(out);
        CHECK(run(&out, "debugfs -R 'ea_get -x /etc/labelled security.capability' %s 2>/dev/null", img) == 0);
        CHECK(strstr(out, "01 00 00 02 00 04 00 00") != NULL);
        free(out);

        CHECK(run(&out, "debugfs -R 'stat /short' %s 2>/dev/null", img) == 0);
        CHECK(strstr(out, "Fast link dest: \"etc/labelled\"") != NULL);
        free(out);
        CHECK(run(&out, "debugfs -R 'stat /long' %s 2>/dev/null", img) == 0);
        CHECK(strstr(out, "Type: symlink") != NULL && strstr(out, "EXTENTS:") != NULL);
        free(out);
        CHECK(run(&out, "debugfs -R 'dump /long %s' %s >/dev/null 2>&1; cat %s", dumped, img, dumped) == 0);
        CHECK_STREQ(out, long_target);
        free(out);

        CHECK(run(&out, "debugfs -R 'stat /dev/null' %s 2>/dev/null", img) == 0);
        CHECK(strstr(out, "Type: character special") != NULL && strstr(out, "Device major/minor number: 01:03") != NULL);
        free(out);
        CHECK(run(&out, "debugfs -R 'stat /dev/bigdev' %s 2>/dev/null", img) == 0);
        CHECK(strstr(out, "Type: block special") != NULL && strstr(out, "major/minor number: 259:300000") != NULL);
        free(out);
        CHECK(run(&out, "debugfs -R 'stat /dev/fifo' %s 2>/dev/null", img) == 0);
        CHECK(strstr(out, "Type: FIFO") != NULL);
        free(out);

        /* The 1000-entry directory is an htree. */
        CHECK(run(&out, "debugfs -R 'htree /many' %s 2>/dev/null | head -3", img) == 0);
        CHECK(strstr(out, "Root node dump:") != NULL);
        free(out);
        CHECK(run(&out, "debugfs -R 'ls /many' %s 2>/dev/null | grep -o 'entry-with-a-longish-name-[0-9]*' | sort -u | wc -l", img) == 0);
        CHECK(atoi(out) == 1000);
        free(out);
        CHECK(run(&out, "debugfs -R 'cat /many/entry-with-a-longish-name-0777' %s 2>/dev/null", img) == 0);
        CHECK_STREQ(out, "777\n");
        free(out);
        CHECK(run(&out, "debugfs -R 'cat /etc/deep/er/still/file' %s 2>/dev/null", img) == 0);
        CHECK_STREQ(out, "nested\n");
        free(out);
        CHECK(run(&out, "debugfs -R 'stat /etc/deep/er/still' %s 2>/dev/null", img) == 0);
        CHECK(strstr(out, "Mode:  0750") != NULL && strstr(out, "Links: 2") != NULL);
        free(out);

        /* Reproducible, also with malloc'd memory filled differently. */
        mallopt(M_PERTURB, 0xa5);
        CHECK(ext4_build(t, &o, img2, NULL) == 0);
        mallopt(M_PERTURB, 0);
        CHECK(files_equal(img, img2));
        unlink(img2);

        /* Another UUID: another image. */
        o.uuid[0] ^= 1;
        CHECK(ext4_build(t, &o, img2, NULL) == 0);
        CHECK(!files_equal(img, img2));
        unlink(img2);
        o = options();

        /* A fixed size too small for the tree. */
        o.size = 16 * 1024 * 1024;
        CHECK(tree_add_file(t, "/big2", want, BIG_SIZE, 0644, 0, 0, NULL) == 0);
        CHECK(tree_add_file(t, "/big3", want, BIG_SIZE, 0644, 0, 0, NULL) == 0);
        CHECK(ext4_build(t, &o, img2, NULL) == -ENOSPC);
        CHECK(!path_exists(img2));
        o.size = 64 * 1024 * 1024 + 4095;
        CHECK(ext4_build(t, &o, img2, &size) == 0);
        CHECK(size == 64 * 1024 * 1024);
        CHECK(run(NULL, "e2fsck -fn %s >/dev/null 2>&1", img2) == 0);
        unlink(img2);

        CHECK(rm_rf(dir) == 0);
}

/* A partition of a subtree, other mount points left empty; time 0. */
static void test_subtree(void) {
        if (!have_tools())
                return;
        char dir[] = "/tmp/test-ext4-XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        _cleanup_free_ char *img = path_join(dir, "home.img"), *img2 = path_join(dir, "home2.img");
        char *out = NULL;
        _cleanup_(tree_freep) Tree *t = make_tree();
        CHECK(tree_add_file(t, "/home/bob/mnt/data/x", "x", 1, 0644, 0, 0, NULL) == 0);
        const char *ex[] = { "/home/bob/mnt" };
        FsOptions o = options();
        o.root = "/home";
        o.exclude = ex;
        o.n_exclude = 1;
        o.time = 0;
        o.label = NULL;
        uint64_t size;

        CHECK(ext4_build(t, &o, img, &size) == 0);
        CHECK(size == 16 * 1024 * 1024);
        CHECK(run(&out, "e2fsck -fn %s 2>&1", img) == 0);
        free(out);
        CHECK(run(&out, "debugfs -R 'ls -p /' %s 2>/dev/null", img) == 0);
        CHECK(strstr(out, "/alice/") != NULL && strstr(out, "/bob/") != NULL && strstr(out, "/lost+found/") != NULL);
        CHECK(strstr(out, "/etc/") == NULL);
        free(out);
        CHECK(run(&out, "debugfs -R 'ls -p /bob/mnt' %s 2>/dev/null", img) == 0);
        CHECK(strstr(out, "/data/") == NULL);
        free(out);
        CHECK(run(&out, "debugfs -R 'stat /alice/notes' %s 2>/dev/null", img) == 0);
        CHECK(strstr(out, "ctime: 0x00000000") != NULL && strstr(out, "crtime: 0x00000000") != NULL);
        free(out);
        CHECK(run(&out, "dumpe2fs -h %s 2>/dev/null | grep -E '^(Last write time|Filesystem created)'", img) == 0);
        CHECK(strstr(out, "Thu Jan  1 00:00:00 1970") != NULL);
        CHECK(strstr(out, "2023") == NULL && strstr(out, "2024") == NULL && strstr(out, "2025") == NULL &&
              strstr(out, "2026") == NULL);
        free(out);
        sleep(1); /* a second later: no current time may leak in */
        CHECK(ext4_build(t, &o, img2, NULL) == 0);
        CHECK(files_equal(img, img2));

        o.root = "/nonexistent";
        CHECK(ext4_build(t, &o, img2, NULL) == -ENOENT);
        o.root = "/big";
        CHECK(ext4_build(t, &o, img2, NULL) == -ENOTDIR);
        CHECK(rm_rf(dir) == 0);
}

/* Size 0: grows with the contents. */
static void test_auto_size(void) {
        if (!have_tools())
                return;
        char dir[] = "/tmp/test-ext4-XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        _cleanup_free_ char *img = path_join(dir, "a.img");
        _cleanup_(tree_freep) Tree *t = tree_new(NOW);
        size_t sz = 48u * 1024 * 1024;
        uint8_t *d = malloc(sz);
        for (size_t i = 0; i < sz; i++)
                d[i] = (uint8_t) (i * 7 + (i >> 12));
        CHECK(tree_add_file(t, "/data", d, sz, 0644, 0, 0, NULL) == 0);
        free(d);
        for (int i = 0; i < 3000; i++) {
                char p[64];
                snprintf(p, sizeof p, "/d%d/f%d", i % 7, i);
                CHECK(tree_add_file(t, p, p, strlen(p), 0644, 0, 0, NULL) == 0);
        }
        FsOptions o = options();
        uint64_t size = 0;
        CHECK(ext4_build(t, &o, img, &size) == 0);
        printf("auto size for 48 MiB + 3000 files: %llu MiB\n", (unsigned long long) (size >> 20));
        CHECK(size > sz && size < 2 * sz);
        CHECK(run(NULL, "e2fsck -fn %s >/dev/null 2>&1", img) == 0);
        CHECK(rm_rf(dir) == 0);
}

UNIT_MAIN(test_build, test_subtree, test_auto_size)
