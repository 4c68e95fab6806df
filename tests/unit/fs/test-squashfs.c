/* SPDX-License-Identifier: MIT */
/* Unit tests of the squashfs writer (src/fs/squashfs.c): images read back
 * by squashfs-tools (unsquashfs, the reference reader), by squashfs-tools-ng
 * (rdsquashfs, sqfsdiff) and, where the running kernel lets us mount them,
 * by the kernel's squashfs driver; extracted or mounted trees are compared
 * node by node with the tree (type, mode, owner, time, contents, link
 * target, device number, xattrs, hard links). Built twice, with one and two
 * compressor threads, for reproducibility. */

#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "fs/squashfs.h"
#include "tree/tree.h"
#include "../unit.h"

#define BIG_SIZE (6u * 1024 * 1024 + 123)
#define HOLE_START (2u * 1024 * 1024)
#define HOLE_END (3u * 1024 * 1024)
#define BLOCK (128u * 1024)
#define NOW 1700000000
#define DEEP_LEVELS 120

static const char selinux[] = "system_u:object_r:etc_t:s0"; /* stored with its NUL */
static const char root_label[] = "system_u:object_r:root_t:s0";
static const uint8_t capability[20] = { 0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00,
                                        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };

/* Whether haystack holds needle; prints both if not. */
#define CHECK_CONTAINS(haystack, needle)                                                          \
        do {                                                                                      \
                const char *_h_ = (haystack), *_n_ = (needle);                                    \
                CHECK(_h_ && strstr(_h_, _n_));                                                   \
                if (!_h_ || !strstr(_h_, _n_))                                                    \
                        fprintf(stderr, "'%s' not in:\n%s\n", _n_, _h_ ? _h_ : "(null)");         \
        } while (0)

static bool have_tools(void) {
        return system("command -v unsquashfs >/dev/null 2>&1 && command -v rdsquashfs >/dev/null 2>&1 && "
                      "command -v sqfsdiff >/dev/null 2>&1") == 0;
}

/* Runs a shell command, returns its exit status and (optional) its output. */
static int run(char **ret_out, const char *fmt, ...) _printf_(2, 3);
static int run(char **ret_out, const char *fmt, ...) {
        _cleanup_free_ char *cmd = NULL, *out = NULL;
        va_list ap;
        va_start(ap, fmt);
        int k = vasprintf(&cmd, fmt, ap);
        va_end(ap);
        if (k < 0)
                return -1;
        int st = unit_run(cmd, &out, NULL);
        if (ret_out)
                *ret_out = TAKE_PTR(out);
        return st;
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

static char deep_path[DEEP_LEVELS * 4 + 16];
static char long_name[256];

static Tree *make_tree(void) {
        Tree *t = tree_new(NOW + 1000); /* later than SOURCE_DATE_EPOCH: clamped */
        TreeNode *n = NULL;

        CHECK(tree_node_set_xattr(tree_get(t, "/"), "security.selinux", root_label, sizeof root_label) == 0);
        CHECK(tree_add_dir(t, "/etc/deep/er/still", 0750, 0, 0, NULL) == 0);
        CHECK(tree_add_file(t, "/etc/deep/er/still/file", "nested\n", 7, 0644, 0, 0, NULL) == 0);
        CHECK(tree_add_file(t, "/etc/labelled", "x\n", 2, 0644, 0, 0, &n) == 0);
        CHECK(tree_node_set_xattr(n, "security.selinux", selinux, sizeof selinux) == 0);
        CHECK(tree_node_set_xattr(n, "security.capability", capability, sizeof capability) == 0);
        CHECK(tree_node_set_xattr(n, "user.comment", "hello", 5) == 0);
        CHECK(tree_add_file(t, "/etc/same-label", "y\n", 2, 0644, 0, 0, &n) == 0);
        CHECK(tree_node_set_xattr(n, "security.selinux", selinux, sizeof selinux) == 0);
        CHECK(tree_add_dir(t, "/etc/labelled-dir", 0755, 0, 0, &n) == 0);
        CHECK(tree_node_set_xattr(n, "security.selinux", selinux, sizeof selinux) == 0);
        CHECK(tree_add_file(t, "/etc/empty", NULL, 0, 0644, 0, 0, NULL) == 0);

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
        /* The same contents again, as another blob: stored once. */
        CHECK(tree_add_file(t, "/big-copy", big, BIG_SIZE, 0644, 0, 0, NULL) == 0);
        CHECK(tree_add_file(t, "/one-block", big, BLOCK, 0644, 0, 0, NULL) == 0);
        CHECK(tree_add_file(t, "/block-and-one", big + 7, BLOCK + 1, 0644, 0, 0, NULL) == 0);

        CHECK(tree_add_symlink(t, "/short", "etc/labelled", NULL) == 0);
        char target[4001];
        memset(target, 'x', sizeof target - 1);
        target[sizeof target - 1] = 0;
        for (size_t i = 50; i < sizeof target - 1; i += 50)
                target[i] = '/';
        CHECK(tree_add_symlink(t, "/long", target, NULL) == 0);

        uint64_t id = tree_new_link_id(t);
        CHECK(tree_add_file(t, "/usr/bin/hard1", "same\n", 5, 0755, 0, 0, &n) == 0);
        n->link_id = id;
        CHECK(tree_add_file(t, "/usr/bin/hard2", "same\n", 5, 0755, 0, 0, &n) == 0);
        n->link_id = id;
        CHECK(tree_add_file(t, "/usr/sbin/hard3", "same\n", 5, 0755, 0, 0, &n) == 0);
        n->link_id = id;
        CHECK(tree_add_file(t, "/usr/bin/suid", "#!/bin/sh\n", 10, 04755, 1000, 1000, NULL) == 0);
        CHECK(tree_add_file(t, "/usr/bin/bigid", "z", 1, 02711, 100000, 4000000000u, NULL) == 0);

        add_special(t, "/dev/null", TREE_CHR, 1, 3);
        add_special(t, "/dev/bigdev", TREE_BLK, 259, 300000);
        add_special(t, "/dev/fifo", TREE_FIFO, 0, 0);
        add_special(t, "/run/sock", TREE_SOCK, 0, 0);

        CHECK(tree_add_dir(t, "/home/alice", 0700, 1000, 1000, NULL) == 0);
        CHECK(tree_add_file(t, "/home/alice/notes", "n\n", 2, 0600, 1000, 1000, NULL) == 0);
        CHECK(tree_add_dir(t, "/srv/empty", 01777, 0, 0, NULL) == 0);

        char *p = deep_path;
        p += sprintf(p, "/deep");
        for (int i = 0; i < DEEP_LEVELS; i++)
                p += sprintf(p, "/d%02d", i % 100);
        CHECK(tree_add_dir(t, deep_path, 0755, 0, 0, NULL) == 0);
        memset(long_name, 'n', 255);
        long_name[255] = 0;
        char lp[sizeof deep_path + 300];
        snprintf(lp, sizeof lp, "%s/%s", deep_path, long_name);
        CHECK(tree_add_file(t, lp, "deep\n", 5, 0644, 0, 0, NULL) == 0);
        return t;
}

static FsOptions options(void) {
        FsOptions o = { .time = NOW };
        return o;
}

static bool excluded(const char *path, const char *const *ex, size_t n_ex) {
        for (size_t i = 0; i < n_ex; i++) {
                size_t l = strlen(ex[i]);
                if (strncmp(path, ex[i], l) == 0 && path[l] == '/')
                        return true;
        }
        return false;
}

/* The xattrs of path as "name=hex\n" lines in name order ("" for none). */
static char *path_xattrs(const char *path) {
        char names[4096], *out = NULL;
        size_t n = 0;
        ssize_t k = llistxattr(path, names, sizeof names);
        FILE *m = open_memstream(&out, &n);
        if (k < 0)
                k = 0;
        /* llistxattr lists in the file system's order: sort them. */
        const char *sorted[64];
        size_t ns = 0;
        for (ssize_t i = 0; i < k && ns < 64; i += (ssize_t) strlen(names + i) + 1)
                sorted[ns++] = names + i;
        for (size_t i = 1; i < ns; i++)
                for (size_t j = i; j > 0 && strcmp(sorted[j - 1], sorted[j]) > 0; j--) {
                        const char *x = sorted[j];
                        sorted[j] = sorted[j - 1];
                        sorted[j - 1] = x;
                }
        for (size_t i = 0; i < ns; i++) {
                uint8_t v[4096];
                ssize_t vl = lgetxattr(path, sorted[i], v, sizeof v);
                fprintf(m, "%s=", sorted[i]);
                for (ssize_t j = 0; j < vl; j++)
                        fprintf(m, "%02x", v[j]);
                fputc('\n', m);
        }
        fclose(m);
        return out;
}

static char *node_xattrs(const TreeNode *nd) {
        char *out = NULL;
        size_t n = 0;
        FILE *m = open_memstream(&out, &n);
        for (size_t i = 0; i < nd->n_xattrs; i++) {
                fprintf(m, "%s=", nd->xattrs[i].name);
                for (size_t j = 0; j < nd->xattrs[i].size; j++)
                        fprintf(m, "%02x", nd->xattrs[i].value[j]);
                fputc('\n', m);
        }
        fclose(m);
        return out;
}

/* Compares dir (an extracted or mounted image) with the tree's nodes under
 * root, except what is below ex: every node there, nothing more. Returns
 * the number of differences, each printed. */
static int compare_dir(const Tree *t, const char *root, const char *const *ex, size_t n_ex, const char *dir,
                       int64_t time, bool xattrs) {
        _cleanup_free_ TreeNode **nodes = NULL;
        size_t n_nodes = 0, root_len = strcmp(root, "/") == 0 ? 0 : strlen(root), n_seen = 0;
        int bad = 0;

        if (tree_list(t, &nodes, &n_nodes) < 0)
                return 1;
        for (size_t i = 0; i < n_nodes; i++) {
                const TreeNode *nd = nodes[i];
                if (strncmp(nd->path, root, root_len) != 0 || (nd->path[root_len] && nd->path[root_len] != '/'))
                        continue;
                if (excluded(nd->path, ex, n_ex))
                        continue;
                n_seen++;
                _cleanup_free_ char *p = NULL;
                CHECK(asprintf(&p, "%s%s", dir, nd->path[root_len] ? nd->path + root_len : "/") > 0);
                struct stat st;
                if (lstat(p, &st) < 0) {
                        fprintf(stderr, "%s: missing\n", nd->path);
                        bad++;
                        continue;
                }
                int64_t want_time = MIN(nd->mtime, time);
#define DIFF(cond, ...)                                               \
        do {                                                          \
                if (!(cond)) {                                        \
                        fprintf(stderr, "%s: ", nd->path);            \
                        fprintf(stderr, __VA_ARGS__);                 \
                        fputc('\n', stderr);                          \
                        bad++;                                        \
                }                                                     \
        } while (0)
                DIFF((st.st_mode & S_IFMT) == tree_type_to_mode(nd->type), "type %o", st.st_mode & S_IFMT);
                if (nd->type != TREE_SYMLINK)
                        DIFF((st.st_mode & 07777) == (nd->mode & 07777), "mode %o, not %o", st.st_mode & 07777,
                             nd->mode & 07777);
                DIFF(st.st_uid == nd->uid && st.st_gid == nd->gid, "owner %u:%u, not %u:%u", st.st_uid, st.st_gid,
                     nd->uid, nd->gid);
                DIFF(st.st_mtime == want_time, "mtime %lld, not %lld", (long long) st.st_mtime, (long long) want_time);
                if (nd->type == TREE_REG) {
                        size_t size = nd->blob ? nd->blob->size : 0;
                        DIFF((uint64_t) st.st_size == size, "size %lld, not %zu", (long long) st.st_size, size);
                        _cleanup_free_ char *got = NULL;
                        _cleanup_free_ uint8_t *want = NULL;
                        size_t got_size = 0, want_size = 0;
                        CHECK(read_full_file(p, &got, &got_size) == 0);
                        CHECK(tree_blob_load(nd->blob, SIZE_MAX, &want, &want_size) == 0);
                        DIFF(got && got_size == want_size && memcmp(got, want, want_size) == 0, "contents differ");
                }
                if (nd->type == TREE_SYMLINK) {
                        char buf[8192];
                        ssize_t k = readlink(p, buf, sizeof buf - 1);
                        buf[k < 0 ? 0 : k] = 0;
                        DIFF(strcmp(buf, nd->target) == 0, "target '%.40s...'", buf);
                }
                if (nd->type == TREE_CHR || nd->type == TREE_BLK)
                        DIFF(major(st.st_rdev) == nd->rdev_major && minor(st.st_rdev) == nd->rdev_minor,
                             "device %u:%u", major(st.st_rdev), minor(st.st_rdev));
                if (xattrs) {
                        _cleanup_free_ char *got = path_xattrs(p), *want = node_xattrs(nd);
                        DIFF(strcmp(got, want) == 0, "xattrs\n%s, not\n%s", got, want);
                }
#undef DIFF
        }
        printf("%s: %zu nodes compared\n", dir, n_seen);
        /* Nothing more: as many entries as nodes. */
        _cleanup_free_ char *out = NULL;
        CHECK(run(&out, "find %s | wc -l", dir) == 0);
        if ((size_t) atol(out) != n_seen) {
                fprintf(stderr, "%s: %ld entries, the tree has %zu\n", dir, atol(out), n_seen);
                bad++;
        }
        return bad;
}

/* Mounts the image with the running kernel's squashfs (root, a kernel
 * with squashfs and a loop device): false if it cannot. */
static bool kernel_mount(const char *img, const char *mnt) {
        if (geteuid() != 0 || mkdir(mnt, 0755) < 0)
                return false;
        if (run(NULL, "mount -t squashfs -o ro,loop %s %s 2>/dev/null", img, mnt) != 0) {
                rmdir(mnt);
                return false;
        }
        return true;
}

static void kernel_umount(const char *mnt) {
        CHECK(umount(mnt) == 0);
        rmdir(mnt);
}

static void test_build(void) {
        if (!have_tools()) {
                printf("test_build: unsquashfs/rdsquashfs/sqfsdiff missing (squashfs-tools, squashfs-tools-ng), skipped\n");
                return;
        }
        char dir[] = "/tmp/test-squashfs-XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        _cleanup_free_ char *img = path_join(dir, "a.sqfs"), *img2 = path_join(dir, "b.sqfs"),
                            *img3 = path_join(dir, "c.sqfs"), *x = path_join(dir, "x"), *mnt = path_join(dir, "mnt"),
                            *ref = path_join(dir, "ref.sqfs");
        char *out = NULL;
        _cleanup_(tree_freep) Tree *t = make_tree();
        FsOptions o = options();
        uint64_t size = 0;

        int rb = squashfs_build_threads(t, &o, img, 1, &size);
        if (rb < 0)
                fprintf(stderr, "squashfs_build: %s\n", strerror(-rb));
        CHECK(rb == 0);
        struct stat st;
        CHECK(stat(img, &st) == 0 && (uint64_t) st.st_size == size);
        CHECK(size % 4096 == 0);
        /* /big-copy's blocks are /big's, the 1 MiB of zeros is sparse. */
        printf("image of %llu bytes for %u bytes of file data\n", (unsigned long long) size,
               2 * BIG_SIZE + BLOCK + BLOCK + 1);
        CHECK(size < BIG_SIZE - (HOLE_END - HOLE_START) + 3 * BLOCK);
        CHECK(squashfs_build(t, &o, img, NULL) == -EEXIST);
        CHECK(stat(img, &st) == 0 && (uint64_t) st.st_size == size);

        CHECK(run(&out, "unsquashfs -s %s", img) == 0);
        CHECK_CONTAINS(out, "Compression zstd");
        CHECK_CONTAINS(out, "Block size 131072");
        CHECK_CONTAINS(out, "Filesystem is exportable via NFS");
        CHECK_CONTAINS(out, "Xattrs are compressed");
        CHECK_CONTAINS(out, "Fragments are compressed");
        CHECK_CONTAINS(out, "Duplicates are removed");
        CHECK_CONTAINS(out, "Number of ids 4"); /* 0, 1000, 100000, 4000000000 */
        free(out);
        CHECK(run(&out, "unsquashfs -mkfs-time %s", img) == 0);
        CHECK(atoll(out) == NOW);
        free(out);

        /* The reference reader's listing: modes, owners, sizes, times, targets, devices. */
        CHECK(run(&out, "unsquashfs -lln -UTC %s | tr -s ' '", img) == 0);
        CHECK_CONTAINS(out, "-rwsr-xr-x 1000/1000 10 2023-11-14 22:13 squashfs-root/usr/bin/suid\n");
        CHECK_CONTAINS(out, "-rwx--s--x 100000/4000000000 1 2023-11-14 22:13 squashfs-root/usr/bin/bigid\n");
        CHECK_CONTAINS(out, "-rw-r--r-- 0/0 6291579 1970-01-01 00:08 squashfs-root/big\n");
        CHECK_CONTAINS(out, "crw------- 0/0 1, 3 1970-01-01 00:01 squashfs-root/dev/null\n");
        /* Not /dev/bigdev: unsquashfs 4.5 lists a device as major = rdev >> 8,
         * minor = rdev & 0xff, which is right only for minors below 256; the
         * extraction and the kernel check it below. */
        CHECK_CONTAINS(out, "prw------- 0/0 0 1970-01-01 00:01 squashfs-root/dev/fifo\n");
        CHECK_CONTAINS(out, "srw------- 0/0 0 1970-01-01 00:01 squashfs-root/run/sock\n");
        CHECK_CONTAINS(out, "lrwxrwxrwx 0/0 12 2023-11-14 22:13 squashfs-root/short -> etc/labelled\n");
        CHECK_CONTAINS(out, "drwxrwxrwt 0/0 3 2023-11-14 22:13 squashfs-root/srv/empty\n");
        CHECK_CONTAINS(out, "-rw-r--r-- 0/0 0 2023-11-14 22:13 squashfs-root/etc/empty\n");
        CHECK(strstr(out, long_name) != NULL);
        free(out);

        /* squashfs-tools-ng: xattrs, the hard-link group's one inode. */
        CHECK(run(&out, "rdsquashfs -x /etc/labelled %s", img) == 0);
        CHECK_CONTAINS(out, "security.selinux=system_u:object_r:etc_t:s0");
        CHECK_CONTAINS(out, "security.capability=");
        CHECK_CONTAINS(out, "user.comment=hello");
        free(out);
        CHECK(run(&out, "rdsquashfs -x / %s", img) == 0);
        CHECK_CONTAINS(out, "security.selinux=system_u:object_r:root_t:s0");
        free(out);
        _cleanup_free_ char *s1 = NULL, *s2 = NULL;
        CHECK(run(&s1, "rdsquashfs -s /usr/bin/hard1 %s | grep -E '^(Inode number|Link count|Hard link count)'", img) == 0);
        CHECK(run(&s2, "rdsquashfs -s /usr/sbin/hard3 %s | grep -E '^(Inode number|Link count|Hard link count)'", img) == 0);
        CHECK(s1 && s2 && strlen(s1) > 0);
        CHECK_STREQ(s1, s2);
        CHECK(s1 && strstr(s1, "3") != NULL);
        {
                _cleanup_free_ char *dumped = path_join(dir, "big.out"), *got = NULL;
                _cleanup_free_ uint8_t *want = big_contents();
                size_t got_size = 0;
                CHECK(run(NULL, "rdsquashfs -c /big-copy %s > %s", img, dumped) == 0);
                CHECK(read_full_file(dumped, &got, &got_size) == 0);
                CHECK(got && got_size == BIG_SIZE && memcmp(got, want, BIG_SIZE) == 0);
                unlink(dumped);
        }

        /* Extracted by unsquashfs (as root: owners, devices, xattrs) and
         * compared with the tree node by node. */
        if (geteuid() == 0) {
                CHECK(run(&out, "unsquashfs -q -n -d %s %s 2>&1", x, img) == 0);
                free(out);
                CHECK(compare_dir(t, "/", NULL, 0, x, NOW, true) == 0);
                struct stat h1, h3;
                _cleanup_free_ char *p1 = path_join(x, "usr/bin/hard1"), *p3 = path_join(x, "usr/sbin/hard3");
                CHECK(stat(p1, &h1) == 0 && stat(p3, &h3) == 0 && h1.st_ino == h3.st_ino && h1.st_nlink == 3);

                /* mksquashfs packs the extracted tree into what sqfsdiff
                 * finds equal to ours, times and owners included. */
                if (system("command -v mksquashfs >/dev/null 2>&1") == 0) {
                        CHECK(run(&out, "mksquashfs %s %s -comp zstd -quiet -no-progress 2>&1", x, ref) == 0);
                        free(out);
                        int k = run(&out, "sqfsdiff -T -a %s -b %s", ref, img);
                        CHECK(k == 0);
                        if (k != 0)
                                fprintf(stderr, "%s", out);
                        free(out);
                }
        } else
                printf("test_build: not root, extraction with owners and devices skipped\n");

        /* The kernel's reader. */
        if (kernel_mount(img, mnt)) {
                CHECK(compare_dir(t, "/", NULL, 0, mnt, NOW, true) == 0);
                _cleanup_free_ char *p1 = path_join(mnt, "usr/bin/hard2"), *p3 = path_join(mnt, "usr/sbin/hard3");
                struct stat h1, h3;
                CHECK(stat(p1, &h1) == 0 && stat(p3, &h3) == 0 && h1.st_ino == h3.st_ino && h1.st_nlink == 3);
                kernel_umount(mnt);
        } else
                printf("test_build: the running kernel cannot mount it here (not root, no loop device), skipped\n");

        /* Reproducible: two threads give the same bytes as one, also with
         * malloc'd memory filled differently. */
        mallopt(M_PERTURB, 0xa5);
        CHECK(squashfs_build_threads(t, &o, img2, 2, NULL) == 0);
        mallopt(M_PERTURB, 0);
        CHECK(unit_files_equal(img, img2));
        CHECK(squashfs_build(t, &o, img3, NULL) == 0);
        CHECK(unit_files_equal(img, img3));
        unlink(img2);
        unlink(img3);

        /* Another time: another image. */
        o.time = NOW + 1;
        CHECK(squashfs_build(t, &o, img2, NULL) == 0);
        CHECK(!unit_files_equal(img, img2));
        unlink(img2);
        o = options();

        CHECK(rm_rf(dir) == 0);
}

/* A subtree, with a mount point left empty; time 0. */
static void test_subtree(void) {
        if (!have_tools())
                return;
        char dir[] = "/tmp/test-squashfs-XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        _cleanup_free_ char *img = path_join(dir, "home.sqfs"), *img2 = path_join(dir, "home2.sqfs"),
                            *x = path_join(dir, "x");
        char *out = NULL;
        _cleanup_(tree_freep) Tree *t = make_tree();
        CHECK(tree_add_file(t, "/home/bob/mnt/data/x", "x", 1, 0644, 0, 0, NULL) == 0);
        const char *ex[] = { "/home/bob/mnt" };
        FsOptions o = options();
        o.root = "/home";
        o.exclude = ex;
        o.n_exclude = 1;
        o.time = 0;

        CHECK(squashfs_build(t, &o, img, NULL) == 0);
        CHECK(run(&out, "unsquashfs -lc %s", img) == 0);
        CHECK_STREQ(out, "squashfs-root/alice/notes\nsquashfs-root/bob/mnt\n");
        free(out);
        CHECK(run(&out, "unsquashfs -mkfs-time %s", img) == 0);
        CHECK(atoll(out) == 0);
        free(out);
        CHECK(run(&out, "unsquashfs -lln -UTC %s | grep -c ' 1970-01-01 00:00 '", img) == 0);
        CHECK(atoi(out) == 5); /* ., alice, alice/notes, bob, bob/mnt */
        free(out);
        if (geteuid() == 0) {
                CHECK(run(NULL, "unsquashfs -q -n -d %s %s >/dev/null 2>&1", x, img) == 0);
                CHECK(compare_dir(t, "/home", ex, 1, x, 0, true) == 0);
        }
        sleep(1); /* a second later: no current time may leak in */
        CHECK(squashfs_build(t, &o, img2, NULL) == 0);
        CHECK(unit_files_equal(img, img2));
        unlink(img2);

        o.root = "/nonexistent";
        CHECK(squashfs_build(t, &o, img2, NULL) == -ENOENT);
        o.root = "/big";
        CHECK(squashfs_build(t, &o, img2, NULL) == -ENOTDIR);
        CHECK(!path_exists(img2));
        CHECK(rm_rf(dir) == 0);
}

static int failing_read(void *data, uint64_t off, void *buf, size_t n) {
        if (off >= TREE_BLOB_CHUNK) /* the second piece */
                return -EIO;
        memset(buf, 0x5a, n);
        return 0;
}

static const TreeBlobReader failing_reader = { .read = failing_read };

/* What is refused, and that a failure leaves no file behind. */
static void test_errors(void) {
        char dir[] = "/tmp/test-squashfs-XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        _cleanup_free_ char *img = path_join(dir, "a.sqfs");
        TreeNode *n = NULL;
        FsOptions o = options();

        {
                _cleanup_(tree_freep) Tree *t = make_tree();
                o.size = 1024 * 1024;
                CHECK(squashfs_build(t, &o, img, NULL) == -EINVAL);
                CHECK(!path_exists(img));
                o.size = 0;
        }
        {
                /* Contents that cannot be read, after a few blocks went out. */
                _cleanup_(tree_freep) Tree *t = make_tree();
                TreeBlob *b = tree_blob_new_reader(&failing_reader, NULL, 3 * TREE_BLOB_CHUNK);
                CHECK(tree_add_blob(t, "/zz-unreadable", b, 0644, 0, 0, NULL) == 0);
                tree_blob_unref(b);
                CHECK(squashfs_build(t, &o, img, NULL) == -EIO);
                CHECK(!path_exists(img));
        }
        {
                /* An xattr namespace squashfs does not have. */
                _cleanup_(tree_freep) Tree *t = make_tree();
                CHECK(tree_add_file(t, "/zz-acl", "a", 1, 0644, 0, 0, &n) == 0);
                CHECK(tree_node_set_xattr(n, "system.posix_acl_access", "\x02\0\0\0", 4) == 0);
                CHECK(squashfs_build(t, &o, img, NULL) == -EOPNOTSUPP);
                CHECK(!path_exists(img));
        }
        {
                _cleanup_(tree_freep) Tree *t = tree_new(NOW);
                char name[300];
                memset(name, 'a', sizeof name);
                name[0] = '/';
                name[258] = 0; /* 257 bytes */
                CHECK(tree_add_file(t, name, "a", 1, 0644, 0, 0, NULL) == 0);
                CHECK(squashfs_build(t, &o, img, NULL) == -ENAMETOOLONG);
                CHECK(!path_exists(img));
        }
        {
                _cleanup_(tree_freep) Tree *t = tree_new(NOW);
                add_special(t, "/dev/huge", TREE_CHR, 4096, 0);
                CHECK(squashfs_build(t, &o, img, NULL) == -EOVERFLOW);
                CHECK(!path_exists(img));
        }
        {
                /* An empty tree: just the root. */
                _cleanup_(tree_freep) Tree *t = tree_new(NOW);
                uint64_t size = 0;
                CHECK(squashfs_build(t, &o, img, &size) == 0);
                CHECK(size == 4096);
                if (have_tools()) {
                        char *out = NULL;
                        CHECK(run(&out, "unsquashfs -lln %s", img) == 0);
                        CHECK(strstr(out, "drwxr-xr-x 0/0") != NULL && strstr(out, "squashfs-root\n") != NULL);
                        free(out);
                }
        }
        CHECK(rm_rf(dir) == 0);
}

UNIT_MAIN(test_build, test_subtree, test_errors)
