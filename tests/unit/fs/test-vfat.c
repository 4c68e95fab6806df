/* SPDX-License-Identifier: MIT */
/* Unit tests of src/fs/vfat.c: FAT16 and FAT32 images from a tree, checked
 * by fsck.fat and read back with mtools (skipped, and said so, when
 * missing); determinism; refusals. */

#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/macro.h"
#include "fs/vfat.h"
#include "tree/tree.h"
#include "../unit.h"

#define MiB (UINT64_C(1) << 20)
#define EPOCH INT64_C(1700000000) /* 2023-11-14 22:13:20 UTC */

static const char conf[] = "title slipway\nlinux /vmlinuz\ninitrd /initrd\noptions root=PARTLABEL=root quiet\n";

static uint8_t *pattern(size_t n, unsigned seed) {
        uint8_t *b = malloc(n);
        for (size_t i = 0; i < n; i++)
                b[i] = (uint8_t) ((i * 31 + seed) ^ (i >> 9));
        return b;
}

static Tree *make_tree(void) {
        Tree *t = tree_new(EPOCH);
        CHECK(t);
        _cleanup_free_ uint8_t *efi = pattern(40 * 1024 + 17, 1), *big = pattern(3 * 1024 * 1024 + 5, 2);
        CHECK(tree_add_dir(t, "/boot/efi", 0755, 0, 0, NULL) == 0);
        CHECK(tree_add_file(t, "/boot/efi/EFI/BOOT/BOOTX64.EFI", efi, 40 * 1024 + 17, 0644, 0, 0, NULL) == 0);
        CHECK(tree_add_file(t, "/boot/efi/loader/entries/slipway.conf", conf, strlen(conf), 0644, 0, 0, NULL) == 0);
        CHECK(tree_add_file(t, "/boot/efi/loader/loader.conf", "timeout 3\n", 10, 0644, 0, 0, NULL) == 0);
        CHECK(tree_add_dir(t, "/boot/efi/a/deeply/nested/Directory With Spaces", 0755, 0, 0, NULL) == 0);
        CHECK(tree_add_file(t, "/boot/efi/a/deeply/nested/Directory With Spaces/empty", "", 0, 0644, 0, 0, NULL) == 0);
        CHECK(tree_add_file(t, "/boot/efi/EMPTY.TXT", "", 0, 0644, 0, 0, NULL) == 0);
        CHECK(tree_add_file(t, "/boot/efi/big.bin", big, 3 * 1024 * 1024 + 5, 0644, 0, 0, NULL) == 0);
        /* Many long names with the same basis in one directory: several
         * clusters of directory entries and short names beyond ~9. */
        for (unsigned i = 0; i < 300; i++) {
                char p[128], c[32];
                snprintf(p, sizeof p, "/boot/efi/many/a-rather-long-file-name-%03u.conf", i);
                int l = snprintf(c, sizeof c, "file %u\n", i);
                CHECK(tree_add_file(t, p, c, (size_t) l, 0644, 0, 0, NULL) == 0);
        }
        /* Outside the subtree: must not appear. */
        CHECK(tree_add_file(t, "/boot/efi-other/x", "x", 1, 0644, 0, 0, NULL) == 0);
        CHECK(tree_add_file(t, "/etc/os-release", "ID=x\n", 5, 0644, 0, 0, NULL) == 0);
        return t;
}

static bool have(const char *tool) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
        return system(cmd) == 0;
}

/* Writes the image, leaving all-zero 4 KiB blocks as holes. */
static int write_sparse(const char *path, const uint8_t *img, uint64_t size) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        static const uint8_t zero[4096];
        for (uint64_t off = 0; off < size; off += 4096) {
                size_t n = (size_t) MIN((uint64_t) 4096, size - off);
                if (memcmp(img + off, zero, n) == 0)
                        continue;
                if (pwrite(fd, img + off, n, (off_t) off) != (ssize_t) n) {
                        close(fd);
                        return -EIO;
                }
        }
        int r = ftruncate(fd, (off_t) size) < 0 ? -errno : 0;
        close(fd);
        return r;
}

/* vfat_build() into a file of the test directory, read back into memory
 * (size bytes, calloc'd) for the checks; the file is removed again. */
static char build_dir[] = "/tmp/test-vfat-build-XXXXXX";

static int build_mem(const Tree *t, const char *root, uint64_t size, const FsOptions *o0, uint8_t **ret,
                     uint64_t *ret_used) {
        static bool made;
        if (!made)
                made = mkdtemp(build_dir) != NULL;
        CHECK(made);
        FsOptions o = *o0;
        o.root = root;
        o.size = size;
        char path[sizeof build_dir + 16];
        snprintf(path, sizeof path, "%s/fs.img", build_dir);
        int r = vfat_build(t, &o, path, ret_used);
        if (r < 0) {
                CHECK(access(path, F_OK) < 0 && errno == ENOENT); /* nothing left behind */
                return r;
        }
        struct stat st;
        CHECK(stat(path, &st) == 0 && (uint64_t) st.st_size == size);
        /* Sparse: nothing written past what is used. */
        if (ret_used)
                CHECK((uint64_t) st.st_blocks * 512 <= *ret_used + 65536);
        uint8_t *img = calloc(1, size);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        CHECK(img && fd >= 0);
        if (img && fd >= 0)
                CHECK(pread(fd, img, size, 0) == (ssize_t) size);
        if (fd >= 0)
                close(fd);
        /* A path that exists is refused. */
        CHECK(vfat_build(t, &o, path, NULL) == -EEXIST);
        unlink(path);
        *ret = img;
        return img ? 0 : -ENOMEM;
}

static void check_image(uint64_t size, bool fat32) {
        _cleanup_(tree_freep) Tree *t = make_tree();
        FsOptions o = { .uuid = { 0x78, 0x56, 0x34, 0x12 }, .label = "ESP", .time = EPOCH };
        _cleanup_free_ uint8_t *img = NULL, *img2 = NULL;
        CHECK(build_mem(t, "/boot/efi", size, &o, &img, NULL) == 0);
        if (!img)
                return;
        CHECK(memcmp(img + (fat32 ? 82 : 54), fat32 ? "FAT32   " : "FAT16   ", 8) == 0);
        CHECK(img[510] == 0x55 && img[511] == 0xaa);

        /* Deterministic; and what lies past the used size is all zeros
         * (callers skip reading it). */
        uint64_t used = 0;
        CHECK(build_mem(t, "/boot/efi", size, &o, &img2, &used) == 0);
        CHECK(img2 && memcmp(img, img2, size) == 0);
        CHECK(used > 0 && used < size);
        bool zeros = true;
        for (uint64_t i = used; img2 && i < size && zeros; i++)
                zeros = img2[i] == 0;
        CHECK(zeros);

        if (!have("fsck.vfat") || !have("mdir") || !have("mcopy")) {
                printf("SKIP: fsck.vfat or mtools missing, image not read back\n");
                return;
        }
        char path[] = "/tmp/test-vfat-XXXXXX";
        int fd = mkstemp(path);
        CHECK(fd >= 0);
        if (fd < 0)
                return;
        close(fd);
        CHECK(write_sparse(path, img, size) == 0);
        setenv("MTOOLS_SKIP_CHECK", "1", 1);

        char cmd[512], *out = NULL;
        size_t len;
        snprintf(cmd, sizeof cmd, "fsck.vfat -n %s 2>&1", path);
        int r = unit_run(cmd, &out, NULL);
        CHECK(r == 0);
        /* fsck.fat prints only its banner and the summary line when all is well. */
        size_t lines = 0;
        for (const char *c = out; c && *c; c++)
                lines += *c == '\n';
        CHECK(out && lines == 2 && strstr(out, "316 files, ") != NULL);
        if (r != 0 || unit_failures)
                fprintf(stderr, "%s", out);
        free(out);

        snprintf(cmd, sizeof cmd, "mdir -i %s -/ :: 2>&1", path);
        CHECK(unit_run(cmd, &out, NULL) == 0);
        if (out) {
                CHECK(strstr(out, "BOOTX64  EFI     40977") != NULL);
                CHECK(strstr(out, "slipway.conf") != NULL);
                CHECK(strstr(out, "loader.conf") != NULL);
                CHECK(strstr(out, "Directory With Spaces") != NULL);
                CHECK(strstr(out, "EMPTY    TXT         0") != NULL);
                CHECK(strstr(out, "big.bin") != NULL);
                CHECK(strstr(out, "a-rather-long-file-name-000.conf") != NULL);
                CHECK(strstr(out, "a-rather-long-file-name-299.conf") != NULL);
                CHECK(strstr(out, "A-RATH~1 CON") != NULL);
                CHECK(strstr(out, "A-RA~300 CON") != NULL);
                CHECK(strstr(out, "Volume in drive : is ESP") != NULL);
                CHECK(strstr(out, "os-release") == NULL && strstr(out, "efi-other") == NULL);
        }
        free(out);

        snprintf(cmd, sizeof cmd, "mcopy -i %s ::/loader/entries/slipway.conf - 2>&1", path);
        CHECK(unit_run(cmd, &out, &len) == 0);
        CHECK(out && len == strlen(conf) && memcmp(out, conf, len) == 0);
        free(out);

        snprintf(cmd, sizeof cmd, "mcopy -i %s ::/big.bin - 2>/dev/null", path);
        CHECK(unit_run(cmd, &out, &len) == 0);
        _cleanup_free_ uint8_t *big = pattern(3 * 1024 * 1024 + 5, 2);
        CHECK(out && len == 3 * 1024 * 1024 + 5 && memcmp(out, big, len) == 0);
        free(out);

        snprintf(cmd, sizeof cmd, "mcopy -i %s ::/many/a-rather-long-file-name-123.conf - 2>&1", path);
        CHECK(unit_run(cmd, &out, &len) == 0);
        CHECK(out && strcmp(out, "file 123\n") == 0);
        free(out);

        /* The time: mdir prints the local time; with TZ=UTC it is the epoch's. */
        snprintf(cmd, sizeof cmd, "TZ=UTC mdir -i %s ::/loader/entries 2>&1", path);
        CHECK(unit_run(cmd, &out, &len) == 0);
        CHECK(out && strstr(out, "2023-11-14  22:13") != NULL);
        if (out && !strstr(out, "2023-11-14  22:13"))
                fputs(out, stderr);
        free(out);

        unlink(path);
}

/* A FAT16 root directory beyond its usual 512 entries grows. */
static void test_big_root(void) {
        _cleanup_(tree_freep) Tree *t = tree_new(EPOCH);
        for (unsigned i = 0; i < 600; i++) {
                char p[64];
                snprintf(p, sizeof p, "/File-%u.txt", i);
                CHECK(tree_add_file(t, p, "x", 1, 0644, 0, 0, NULL) == 0);
        }
        FsOptions o = { .time = EPOCH };
        _cleanup_free_ uint8_t *img = NULL;
        CHECK(build_mem(t, "/", 16 * MiB, &o, &img, NULL) == 0);
        if (!img)
                return;
        CHECK(img[17] + (img[18] << 8) == 1200); /* BPB_RootEntCnt: 600 x (1 long + 1 short) */
        if (!have("fsck.vfat") || !have("mdir")) {
                printf("SKIP: fsck.vfat or mtools missing, image not read back\n");
                return;
        }
        char path[] = "/tmp/test-vfat-XXXXXX";
        int fd = mkstemp(path);
        CHECK(fd >= 0);
        if (fd < 0)
                return;
        close(fd);
        CHECK(write_sparse(path, img, 16 * MiB) == 0);
        char cmd[512], *out = NULL;
        snprintf(cmd, sizeof cmd, "fsck.vfat -n %s >/dev/null 2>&1", path);
        CHECK(unit_run(cmd, &out, NULL) == 0);
        free(out);
        setenv("MTOOLS_SKIP_CHECK", "1", 1);
        snprintf(cmd, sizeof cmd, "mdir -i %s -b :: 2>&1 | grep -c '^::/File-'", path);
        CHECK(unit_run(cmd, &out, NULL) == 0);
        CHECK(out && strcmp(out, "600\n") == 0);
        free(out);
        unlink(path);
}

static void test_fat16(void) {
        check_image(32 * MiB, false);
}

static void test_fat32(void) {
        check_image(300 * MiB, true);
}

static void test_refusals(void) {
        _cleanup_(tree_freep) Tree *t = make_tree();
        FsOptions o = { .time = EPOCH };
        uint8_t *img = NULL;
        /* The content (over 3 MiB) does not fit in 3 MiB. */
        CHECK(build_mem(t, "/boot/efi", 3 * MiB, &o, &img, NULL) == -ENOSPC);
        /* Too small for FAT16. */
        CHECK(build_mem(t, "/boot/efi/EFI", 1 * MiB, &o, &img, NULL) == -ENOSPC);
        CHECK(build_mem(t, "/boot/efi", 32 * MiB + 1, &o, &img, NULL) == -EINVAL);
        CHECK(build_mem(t, "/nonexistent", 32 * MiB, &o, &img, NULL) == -ENOENT);
        CHECK(build_mem(t, "/etc/os-release", 32 * MiB, &o, &img, NULL) == -ENOTDIR);
        o.label = "much too long label";
        CHECK(build_mem(t, "/boot/efi", 32 * MiB, &o, &img, NULL) == -EINVAL);
        o.label = NULL;

        /* Names equal but for case collide on FAT. */
        CHECK(tree_add_file(t, "/boot/efi/Big.bin", "x", 1, 0644, 0, 0, NULL) == 0);
        CHECK(build_mem(t, "/boot/efi", 32 * MiB, &o, &img, NULL) == -EEXIST);
        CHECK(tree_remove(t, "/boot/efi/Big.bin") == 0);
        /* A name Windows could not hold. */
        CHECK(tree_add_file(t, "/boot/efi/what?", "x", 1, 0644, 0, 0, NULL) == 0);
        CHECK(build_mem(t, "/boot/efi", 32 * MiB, &o, &img, NULL) == -EINVAL);
        CHECK(tree_remove(t, "/boot/efi/what?") == 0);
        /* Symlinks are not for FAT. */
        CHECK(tree_add_symlink(t, "/boot/efi/link", "big.bin", NULL) == 0);
        CHECK(build_mem(t, "/boot/efi", 32 * MiB, &o, &img, NULL) == -EOPNOTSUPP);
        CHECK(tree_remove(t, "/boot/efi/link") == 0);

        /* Without a label, and from the whole tree (no /boot/efi-other clash). */
        CHECK(build_mem(t, "/", 32 * MiB, &o, &img, NULL) == 0);
        CHECK(img && memcmp(img + 43, "NO NAME    ", 11) == 0);
        free(img);
        img = NULL;

        /* A small FAT16 (512-byte clusters) and the smallest FAT32 sizes. */
        _cleanup_(tree_freep) Tree *s = tree_new(0); /* before 1980: clamped */
        CHECK(tree_add_file(s, "/hello.txt", "hi\n", 3, 0644, 0, 0, NULL) == 0);
        CHECK(build_mem(s, "/", 3 * MiB, &o, &img, NULL) == 0);
        CHECK(img && img[13] == 1 && memcmp(img + 54, "FAT16", 5) == 0);
        free(img);
        img = NULL;
        CHECK(build_mem(s, "/", 260 * MiB, &o, &img, NULL) == 0);
        CHECK(img && memcmp(img + 82, "FAT32", 5) == 0);
        free(img);
        img = NULL;
        CHECK(build_mem(s, "/", 250 * MiB, &o, &img, NULL) == 0);
        CHECK(img && memcmp(img + 54, "FAT16", 5) == 0);
        free(img);
}

static void test_cleanup(void) {
        CHECK(rmdir(build_dir) == 0);
}

UNIT_MAIN(test_fat16, test_fat32, test_big_root, test_refusals, test_cleanup)
