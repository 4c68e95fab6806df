/* SPDX-License-Identifier: MIT */

/* slipway's disk and ISO writers on their own, for bench/image.sh: the same
 * inputs the peer tools get, so the comparison is writer against writer.
 *
 *   bench-writers vhd RAW OUT       a fixed VHD of the raw disk (its data
 *                                   extents found with SEEK_DATA/SEEK_HOLE,
 *                                   as qemu-img finds them)
 *   bench-writers ext4 TAR OUT SIZE an ext4 file system of SIZE bytes holding
 *                                   the tree in TAR (a tar, compressed or
 *                                   not, e.g. an image's NAME.tar.zst), read
 *                                   into memory first (that is timed too)
 *   bench-writers iso OUT DIR MBR EFI
 *                                   a hybrid ISO of the files below DIR,
 *                                   booting DIR/isolinux/isolinux.bin with
 *                                   the isohybrid MBR template MBR, and the
 *                                   ESP image EFI
 *   bench-writers squashfs TAR OUT  a squashfs image of the tree in TAR (read
 *                                   into memory first, timed too), against
 *                                   mksquashfs of the tree extracted
 *   bench-writers verity DATA HASH JOBS
 *                                   the dm-verity hash device of DATA (its
 *                                   whole 4 KiB blocks) on JOBS threads;
 *                                   prints the seconds it took and the
 *                                   root hash (veritysetup format's peer) */

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "disk/container.h"
#include "disk/verity.h"
#include "basic/hash.h"
#include "fs/iso9660.h"
#include "fs/ext4.h"
#include "fs/squashfs.h"
#include "tree/tree.h"

typedef struct Raw {
        int fd;
} Raw;

static int raw_read(void *userdata, uint64_t offset, void *buf, size_t n) {
        const Raw *r = userdata;
        ssize_t k = pread(r->fd, buf, n, (off_t) offset);
        return k == (ssize_t) n ? 0 : k < 0 ? -errno : -EIO;
}

static int vhd(const char *raw, const char *out) {
        Raw r = { .fd = open(raw, O_RDONLY | O_CLOEXEC) };
        struct stat st;
        if (r.fd < 0 || fstat(r.fd, &st) < 0)
                return -errno;
        DiskExtent *ext = NULL;
        size_t n = 0;
        for (off_t at = 0;;) {
                off_t data = lseek(r.fd, at, SEEK_DATA);
                if (data < 0)
                        break;
                off_t hole = lseek(r.fd, data, SEEK_HOLE);
                if (hole < 0)
                        hole = st.st_size;
                uint64_t a = (uint64_t) data & ~(uint64_t) 511, b = ((uint64_t) hole + 511) & ~(uint64_t) 511;
                if (n > 0 && ext[n - 1].offset + ext[n - 1].length >= a)
                        ext[n - 1].length = b - ext[n - 1].offset;
                else {
                        ext = reallocarray(ext, n + 1, sizeof(*ext));
                        if (!ext)
                                return -ENOMEM;
                        ext[n++] = (DiskExtent) { a, b - a };
                }
                at = hole;
        }
        DiskSource src = { .size = (uint64_t) st.st_size, .extents = ext, .n_extents = n, .read = raw_read,
                           .userdata = &r };
        int ret = disk_write(&src, DISK_FORMAT_VHD, NULL, out);
        free(ext);
        close(r.fd);
        return ret;
}

typedef struct Files {
        Iso9660File *v;
        size_t n;
} Files;

static int collect(const char *root, const char *rel, Files *f) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s%s", root, rel);
        DIR *d = opendir(dir);
        if (!d)
                return -errno;
        struct dirent *de;
        int r = 0;
        while (r >= 0 && (de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                char sub[4096], full[4096];
                snprintf(sub, sizeof sub, "%s/%s", rel, de->d_name);
                snprintf(full, sizeof full, "%s%s", root, sub);
                struct stat st;
                if (lstat(full, &st) < 0)
                        r = -errno;
                else if (S_ISDIR(st.st_mode))
                        r = collect(root, sub, f);
                else if (S_ISREG(st.st_mode)) {
                        char *data = NULL;
                        size_t size = 0;
                        r = read_full_file(full, &data, &size);
                        Iso9660File *v = r >= 0 ? reallocarray(f->v, f->n + 1, sizeof(*v)) : NULL;
                        if (r >= 0 && !v)
                                r = -ENOMEM;
                        if (r >= 0) {
                                f->v = v;
                                f->v[f->n++] = (Iso9660File) { strdup(sub), data, size };
                        }
                }
        }
        closedir(d);
        return r;
}

static int iso(const char *out, const char *dir, const char *mbr_path, const char *efi_path) {
        Files f = {};
        char *mbr = NULL, *efi = NULL;
        size_t mbr_size = 0, efi_size = 0;
        int r = collect(dir, "", &f);
        if (r >= 0)
                r = read_full_file(mbr_path, &mbr, &mbr_size);
        if (r >= 0)
                r = read_full_file(efi_path, &efi, &efi_size);
        if (r >= 0) {
                Iso9660Spec s = {
                        .fs = { .label = "AZL_MINI_4_0", .time = 1767225600 }, .files = f.v, .n_files = f.n,
                        .bios_boot_path = "/isolinux/isolinux.bin", .bios_mbr = mbr, .bios_mbr_size = mbr_size,
                        .efi_image = efi, .efi_image_size = efi_size,
                };
                r = iso9660_write(&s, out);
        }
        for (size_t i = 0; i < f.n; i++) {
                free((char *) f.v[i].path);
                free((void *) f.v[i].data);
        }
        free(f.v);
        free(mbr);
        free(efi);
        return r;
}

/* The tree a tar holds: directories, files, symlinks, hard links, owners,
 * modes, times and xattrs. */
static int tree_from_tar(const char *path, Tree **ret) {
        struct archive *a = archive_read_new();
        Tree *t = tree_new(0);
        int r = 0;
        if (!a || !t)
                return -ENOMEM;
        archive_read_support_filter_zstd(a);
        archive_read_support_filter_gzip(a);
        archive_read_support_format_tar(a);
        if (archive_read_open_filename(a, path, 1 << 20) != ARCHIVE_OK)
                r = -EIO;
        struct archive_entry *e;
        while (r >= 0 && archive_read_next_header(a, &e) == ARCHIVE_OK) {
                const char *name = archive_entry_pathname(e);
                char p[4096];
                snprintf(p, sizeof p, "/%s", name[0] == '.' && name[1] == '/' ? name + 2 : name);
                size_t l = strlen(p);
                while (l > 1 && p[l - 1] == '/')
                        p[--l] = 0;
                mode_t m = archive_entry_mode(e);
                TreeNode *n = NULL;
                const char *hl = archive_entry_hardlink(e);
                if (strcmp(p, "/") == 0)
                        n = tree_get(t, "/");
                else if (hl) {
                        char target[4096];
                        snprintf(target, sizeof target, "/%s", hl[0] == '.' && hl[1] == '/' ? hl + 2 : hl);
                        TreeNode *o = tree_get(t, target);
                        if (!o)
                                continue;
                        if (!o->link_id)
                                o->link_id = tree_new_link_id(t);
                        r = tree_add_blob(t, p, o->blob, o->mode, o->uid, o->gid, &n);
                        if (r >= 0)
                                n->link_id = o->link_id;
                } else if (S_ISDIR(m))
                        r = tree_add_dir(t, p, m & 07777, 0, 0, &n);
                else if (S_ISLNK(m))
                        r = tree_add_symlink(t, p, archive_entry_symlink(e), &n);
                else if (S_ISREG(m)) {
                        size_t size = (size_t) archive_entry_size(e);
                        uint8_t *data = malloc(size ? size : 1);
                        if (!data || archive_read_data(a, data, size) != (la_ssize_t) size) {
                                free(data);
                                r = -EIO;
                                break;
                        }
                        TreeBlob *b = tree_blob_take(data, size);
                        r = b ? tree_add_blob(t, p, b, m & 07777, 0, 0, &n) : -ENOMEM;
                        tree_blob_unref(b);
                } else
                        continue;
                if (r < 0 || !n)
                        break;
                n->mode = m & 07777;
                n->uid = (uint32_t) archive_entry_uid(e);
                n->gid = (uint32_t) archive_entry_gid(e);
                n->mtime = archive_entry_mtime(e);
                const char *xn;
                const void *xv;
                size_t xs;
                archive_entry_xattr_reset(e);
                while (r >= 0 && archive_entry_xattr_next(e, &xn, &xv, &xs) == ARCHIVE_OK)
                        r = tree_node_set_xattr(n, xn, xv, xs);
        }
        archive_read_free(a);
        if (r < 0) {
                tree_free(t);
                return r;
        }
        *ret = t;
        return 0;
}

static int ext4(const char *tar, const char *out, const char *size) {
        Tree *t = NULL;
        int r = tree_from_tar(tar, &t);
        if (r < 0)
                return r;
        FsOptions o = { .time = 1767225600, .size = strtoull(size, NULL, 10), .root = "/" };
        uint64_t got = 0;
        r = ext4_build(t, &o, out, &got);
        tree_free(t);
        return r;
}

static int squashfs(const char *tar, const char *out) {
        Tree *t = NULL;
        int r = tree_from_tar(tar, &t);
        if (r < 0)
                return r;
        FsOptions o = { .time = 1767225600, .root = "/" };
        r = squashfs_build(t, &o, out, NULL);
        tree_free(t);
        return r;
}

static int verity(const char *data, const char *hash, const char *jobs) {
        struct timespec a, b;
        struct stat st;
        int dfd = open(data, O_RDONLY | O_CLOEXEC);
        int hfd = open(hash, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (dfd < 0 || hfd < 0 || fstat(dfd, &st) < 0)
                return -errno;
        VerityParams p = { .data_blocks = (uint64_t) st.st_size / VERITY_BLOCK_SIZE };
        memset(p.salt, 0x5a, sizeof p.salt);
        uint8_t root[VERITY_DIGEST_SIZE];
        char hex[2 * VERITY_DIGEST_SIZE + 1];
        clock_gettime(CLOCK_MONOTONIC, &a);
        int r = verity_build(dfd, hfd, &p, (unsigned) atoi(jobs), root);
        clock_gettime(CLOCK_MONOTONIC, &b);
        close(dfd);
        close(hfd);
        if (r < 0)
                return r;
        hex_encode(root, sizeof root, hex);
        double secs = (double) (b.tv_sec - a.tv_sec) + (double) (b.tv_nsec - a.tv_nsec) / 1e9;
        printf("verity: %.3f s for %.1f MiB (%.0f MiB/s), root hash %s\n", secs, (double) st.st_size / (1 << 20),
               (double) st.st_size / (1 << 20) / (secs > 0 ? secs : 1e-9), hex);
        return 0;
}

int main(int argc, char **argv) {
        int r;
        if (argc == 4 && strcmp(argv[1], "vhd") == 0)
                r = vhd(argv[2], argv[3]);
        else if (argc == 5 && strcmp(argv[1], "ext4") == 0)
                r = ext4(argv[2], argv[3], argv[4]);
        else if (argc == 6 && strcmp(argv[1], "iso") == 0)
                r = iso(argv[2], argv[3], argv[4], argv[5]);
        else if (argc == 4 && strcmp(argv[1], "squashfs") == 0)
                r = squashfs(argv[2], argv[3]);
        else if (argc == 5 && strcmp(argv[1], "verity") == 0)
                r = verity(argv[2], argv[3], argv[4]);
        else {
                fprintf(stderr, "usage: bench-writers vhd RAW OUT | ext4 TAR OUT SIZE | iso OUT DIR MBR EFI | squashfs TAR OUT | verity DATA HASH JOBS\n");
                return 2;
        }
        if (r < 0) {
                fprintf(stderr, "bench-writers: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}
