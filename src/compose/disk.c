/* SPDX-License-Identifier: MIT */

/* The disk formats of an image (raw, vhd, vhdx, qcow2): a GPT disk whose
 * partitions hold file systems made from the tree (ext4 through libext2fs,
 * vfat in process), written once per container format from one DiskSource.
 * With boot = "uefi" or "hybrid", systemd-boot, the kernel, the initrd and
 * a Boot Loader Specification entry go on the ESP (boot.c); with "bios" or
 * "hybrid", GRUB's boot.img and core.img go before the first partition and
 * a grub.cfg with the same kernel, initrd and command line beside them. */

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/process.h"
#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/hash.h"
#include "basic/run.h"
#include "basic/strbuf.h"
#include "compose/boot.h"
#include "compose/disk.h"
#include "compose/settings.h"
#include "compose/writer.h"
#include "disk/container.h"
#include "disk/gpt.h"
#include "disk/layout.h"
#include "disk/verity.h"
#include "fs/ext4.h"
#include "fs/vfat.h"

typedef struct Part {
        const Partition *cfg;  /* a hash partition's is a made-up one (fs "none", no mount) */
        size_t cfg_index;      /* in the image's partitions: its data partition's for a hash partition */
        const char *type_name;
        /* dm-verity: a data partition's hash partition (its index), a hash
         * partition's data partition; SIZE_MAX otherwise. */
        size_t verity_hash, verity_data;
        uint8_t root_hash[VERITY_DIGEST_SIZE];
        double verity_seconds; /* the hash tree's computation */
        uint64_t size;       /* bytes; 0 while it grows and is not known */
        uint64_t first, last; /* LBAs */
        uint8_t guid[16];
        /* The file system, a (sparse) file in the scratch directory; none for
         * fs = "none". */
        char *fs_path;
        int fs_fd;
        uint64_t fs_size;
        uint64_t fs_used; /* bytes of it from the start that may be other than zeros */
} Part;

static const char *type_name(PartitionType t) {
        return partition_type_to_string(t);
}

/* The device-mapper name of a verity partition: "root" or "usr", as
 * systemd-veritysetup-generator and the example's initrd name them. */
static const char *verity_name(const Partition *c) {
        return strcmp(c->mount, "/") == 0 ? "root" : "usr";
}

/* /etc/fstab for what the image mounts (the root too, as systemd's
 * generators and fsck expect). */
static int write_fstab(Tree *t, const Part *parts, size_t n, int64_t mtime) {
        _cleanup_(strbuf_releasep) StrBuf sb = STRBUF_INIT;
        strbuf_puts(&sb, "# /etc/fstab, written by slipway from the image's partitions.\n");
        /* In mount order: a mount point after the one it lies on (by path,
         * so "/" first and "/boot" before "/boot/efi"), swap last. */
        _cleanup_free_ size_t *order = new0(size_t, n);
        if (!order)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                order[i] = i;
        for (size_t i = 1; i < n; i++)
                for (size_t k = i; k > 0; k--) {
                        const Partition *a = parts[order[k - 1]].cfg, *b = parts[order[k]].cfg;
                        const char *ma = a->mount ? a->mount : "\xff", *mb = b->mount ? b->mount : "\xff";
                        if (strcmp(ma, mb) <= 0)
                                break;
                        size_t tmp = order[k - 1];
                        order[k - 1] = order[k];
                        order[k] = tmp;
                }
        for (size_t j = 0; j < n; j++) {
                size_t i = order[j];
                const Partition *c = parts[i].cfg;
                char g[GUID_STRING_MAX];
                guid_to_string(parts[i].guid, g);
                if (c->type == PARTITION_SWAP)
                        strbuf_printf(&sb, "PARTUUID=%s none swap defaults 0 0\n", g);
                else if (c->fs == FS_EXT4 && c->mount && c->verity)
                        /* The device the initrd opens; never written, never checked. */
                        strbuf_printf(&sb, "/dev/mapper/%s %s ext4 ro 0 0\n", verity_name(c), c->mount);
                else if (c->fs == FS_EXT4 && c->mount)
                        strbuf_printf(&sb, "PARTUUID=%s %s ext4 defaults 0 %d\n", g, c->mount,
                                      strcmp(c->mount, "/") == 0 ? 1 : 2);
                else if (c->fs == FS_VFAT && c->mount)
                        strbuf_printf(&sb, "PARTUUID=%s %s vfat umask=0077 0 2\n", g, c->mount);
        }
        if (sb.oom)
                return -ENOMEM;
        return tree_write_text(t, "/etc/fstab", sb.buf, 0644, mtime);
}

int disk_partition_guid(const Project *p, const Image *im, size_t i, uint8_t ret[16]) {
        uint8_t seed[32];
        PartitionType t = im->partitions.n ? im->partitions.items[i].type : i == 0 ? PARTITION_ESP : PARTITION_ROOT;
        _cleanup_free_ char *l = NULL;
        int r = image_seed(p, im, seed);
        if (r < 0)
                return r;
        if (asprintf(&l, "partition:%zu:%s", i, type_name(t)) < 0)
                return -ENOMEM;
        return gpt_guid_derive(seed, l, ret);
}

static bool below(const char *path, const char *mount) {
        size_t l = strlen(mount);
        if (strcmp(mount, "/") == 0)
                return strcmp(path, "/") != 0;
        return strncmp(path, mount, l) == 0 && path[l] == '/';
}

static void part_fs_drop(Part *pt) {
        if (pt->fs_fd >= 0)
                close(pt->fs_fd);
        pt->fs_fd = -1;
        if (pt->fs_path) {
                (void) unlink(pt->fs_path);
                free(pt->fs_path);
                pt->fs_path = NULL;
        }
}

/* What ext4_build()'s -ENAMETOOLONG was about, named: a name over 255
 * bytes (ext4's limit), a path the writer cannot take (PATH_MAX, counted
 * from the partition's mount point) or a symlink target of 4 KiB or more. */
static int report_too_long(const Tree *t, const Image *im, const char *mount, Diagnostics *d) {
        _cleanup_free_ TreeNode **nodes = NULL;
        size_t n;
        int r = tree_list(t, &nodes, &n);
        if (r < 0)
                return r;
        size_t ml = strcmp(mount, "/") == 0 ? 0 : strlen(mount);
        for (size_t i = 0; i < n; i++) {
                const char *p = nodes[i]->path;
                if (ml && (strncmp(p, mount, ml) != 0 || (p[ml] && p[ml] != '/')))
                        continue;
                const char *name = strrchr(p, '/') + 1;
                size_t len = strlen(p);
                const char *why = NULL;
                if (strlen(name) > 255)
                        why = "a name of more than 255 bytes, which ext4 cannot hold";
                else if (len - ml >= PATH_MAX)
                        why = "a path of 4096 bytes or more in its file system, more than the ext4 writer takes (PATH_MAX)";
                else if (nodes[i]->type == TREE_SYMLINK && strlen(nodes[i]->target) >= 4096)
                        why = "a symlink target of 4096 bytes or more, which ext4 cannot hold";
                if (why) {
                        diag_error(d, NULL, "image '%s': '%.200s%s' (%zu bytes) has %s", im->name, p, len > 200 ? "..." : "",
                                   len, why);
                        return -EINVAL;
                }
        }
        return -ENAMETOOLONG;
}

/* Builds partition i's file system with the given size (0: ext4's smallest)
 * into a file of the scratch directory. */
static int build_fs(Tree *t, const Image *im, Part *parts, size_t n, size_t i, const uint8_t seed[32],
                    const char *tmpdir, int64_t when, Diagnostics *d) {
        Part *pt = &parts[i];
        const Partition *c = pt->cfg;
        int r;

        if (c->fs != FS_EXT4 && c->fs != FS_VFAT)
                return 0;
        part_fs_drop(pt);
        if (asprintf(&pt->fs_path, "%s/part%zu.%s", tmpdir, i, c->fs == FS_EXT4 ? "ext4" : "vfat") < 0) {
                pt->fs_path = NULL;
                return -ENOMEM;
        }
        FsOptions o = { .time = when, .size = pt->size, .root = c->mount };
        _cleanup_free_ char *l1 = NULL, *l2 = NULL;
        if (c->fs == FS_EXT4) {
                _cleanup_free_ const char **ex = new0(const char *, n);
                size_t n_ex = 0;
                if (!ex)
                        return -ENOMEM;
                for (size_t k = 0; k < n; k++)
                        if (k != i && parts[k].cfg->mount && parts[k].cfg->fs != FS_NONE &&
                            below(parts[k].cfg->mount, c->mount))
                                ex[n_ex++] = parts[k].cfg->mount;
                o.label = c->label;
                o.exclude = ex;
                o.n_exclude = n_ex;
                uint8_t h[32];
                if (asprintf(&l1, "ext4-uuid:%zu", pt->cfg_index) < 0 ||
                    asprintf(&l2, "ext4-hash:%zu", pt->cfg_index) < 0)
                        return -ENOMEM;
                if ((r = gpt_guid_derive(seed, l1, o.uuid)) < 0 || (r = gpt_guid_derive(seed, l2, h)) < 0)
                        return r;
                memcpy(o.hash_seed, h, 16);
                r = ext4_build(t, &o, pt->fs_path, &pt->fs_size);
                if (r == -ENAMETOOLONG)
                        return report_too_long(t, im, c->mount, d);
                pt->fs_used = pt->fs_size;
        } else {
                if (asprintf(&l1, "vfat-id:%zu", pt->cfg_index) < 0)
                        return -ENOMEM;
                if ((r = gpt_guid_derive(seed, l1, o.uuid)) < 0)
                        return r;
                r = vfat_build(t, &o, pt->fs_path, &pt->fs_used);
                pt->fs_size = pt->size;
        }
        if (r == -ENOSPC) {
                SourcePos pos = cfg_pos(&c->obj, "size");
                diag_error(d, &pos, "image '%s': the files for '%s' do not fit in its partition", im->name, c->mount);
                return -EINVAL;
        }
        if (c->fs == FS_VFAT && (r == -EOPNOTSUPP || r == -EEXIST || r == -EINVAL)) {
                diag_error(d, NULL, "image '%s': '%s' holds what FAT cannot store (symlinks, special files, "
                           "names that differ only in case, or characters FAT refuses)",
                           im->name, c->mount);
                return -EINVAL;
        }
        if (r < 0)
                return r;
        pt->fs_fd = open(pt->fs_path, O_RDONLY | O_CLOEXEC);
        return pt->fs_fd < 0 ? -errno : 0;
}

/* The ESP (the first "esp" partition with vfat and a mount point) and the
 * partition mounted at /, or NULL. */
static void boot_parts(const Part *parts, size_t n, const Part **ret_esp, const Part **ret_root) {
        *ret_esp = *ret_root = NULL;
        for (size_t i = 0; i < n; i++) {
                const Partition *c = parts[i].cfg;
                if (c->type == PARTITION_ESP && c->fs == FS_VFAT && c->mount && !*ret_esp)
                        *ret_esp = &parts[i];
                if (c->mount && strcmp(c->mount, "/") == 0)
                        *ret_root = &parts[i];
        }
}

/* root=PARTUUID=<the root partition> and the image's kernel-cmdline; for a
 * verity root, root=/dev/mapper/root with its root hash and the two
 * partitions (systemd-veritysetup-generator's keys, which the example's
 * initrd reads too), and the same for a verity /usr with mount.usr=. */
static char *root_cmdline(const Image *im, const Part *parts, size_t n, const Part *root) {
        _cleanup_(strbuf_releasep) StrBuf sb = STRBUF_INIT;
        char g[GUID_STRING_MAX], h[GUID_STRING_MAX], hex[2 * VERITY_DIGEST_SIZE + 1];
        if (!root->cfg->verity)
                strbuf_printf(&sb, "PARTUUID=%s", guid_to_string(root->guid, g));
        for (int pass = 0; pass < 2; pass++) /* the root's first: it is root= */
                for (size_t i = 0; i < n; i++) {
                        const Part *pt = &parts[i];
                        if (pt->verity_hash == SIZE_MAX)
                                continue;
                        const char *name = verity_name(pt->cfg);
                        bool is_root = strcmp(name, "root") == 0;
                        if (is_root != (pass == 0))
                                continue;
                        hex_encode(pt->root_hash, VERITY_DIGEST_SIZE, hex);
                        guid_to_string(pt->guid, g);
                        guid_to_string(parts[pt->verity_hash].guid, h);
                        if (is_root)
                                strbuf_puts(&sb, "/dev/mapper/root");
                        else
                                strbuf_puts(&sb, " mount.usr=/dev/mapper/usr mount.usrfstype=ext4 mount.usrflags=ro");
                        strbuf_printf(&sb, " %s=%s systemd.verity_%s_data=PARTUUID=%s systemd.verity_%s_hash=PARTUUID=%s",
                                      is_root ? "roothash" : "usrhash", hex, name, g, name, h);
                }
        if (sb.oom)
                return NULL;
        return boot_cmdline(im, sb.buf);
}

/* The partition that path lies on: the one with the longest mount point
 * above it (or at it), or NULL. */
static const Part *part_of(const Part *parts, size_t n, const char *path) {
        const Part *best = NULL;
        for (size_t i = 0; i < n; i++) {
                const char *m = parts[i].cfg->mount;
                if (!m || parts[i].cfg->fs == FS_NONE || (strcmp(m, path) != 0 && !below(path, m)))
                        continue;
                if (!best || strlen(m) > strlen(best->cfg->mount))
                        best = &parts[i];
        }
        return best;
}

/* BIOS boot through GRUB (the image's packages install boot.img and a
 * core.img, see examples/minimal/components/grub): the kernel, the initrd
 * and grub.cfg go to the ESP (or to /boot on the root without one). The
 * caller puts core.img at CORE_LBA, in the sectors the GPT keeps free before
 * RESERVED_LBA, and boot.img's code into the protective MBR (patch_mbr()). */
#define GRUB_DIR "/usr/lib/grub/i386-pc/"
#define CORE_LBA 34
#define RESERVED_LBA 2048

static int install_bios(Tree *t, const Project *p, const Image *im, const Part *parts, size_t n, const Part *esp,
                        const BootInputs *b, const char *cmdline, Diagnostics *d, TreeBlob **ret_boot,
                        TreeBlob **ret_core) {
        SourcePos pos = cfg_pos(&im->obj, "packages");
        /* A verity file system is made before the boot files (their command
         * line names its root hash): they cannot go onto it
         * (project_check_images() says so first). */
        const Part *boot = esp ? NULL : part_of(parts, n, "/boot/grub");
        if (boot && boot->cfg->verity) {
                SourcePos vpos = cfg_pos(&boot->cfg->obj, "verity");
                diag_error(d, &vpos, "image '%s': GRUB's files would go to /boot on the verity-protected '%s'; add an ESP",
                           im->name, boot->cfg->mount);
                return -EINVAL;
        }
        const TreeNode *bimg = tree_get(t, GRUB_DIR "boot.img"), *cimg = tree_get(t, GRUB_DIR "core.img");
        if (!bimg || !cimg || bimg->type != TREE_REG || cimg->type != TREE_REG || !bimg->blob || !cimg->blob) {
                diag_error(d, &pos,
                           "image '%s' boots with BIOS, but no package installs GRUB's " GRUB_DIR "boot.img and "
                           "core.img; add it to 'packages'",
                           im->name);
                return -EINVAL;
        }
        if (bimg->blob->size != 512 || cimg->blob->size < 512 ||
            cimg->blob->size > (uint64_t) (RESERVED_LBA - CORE_LBA) * GPT_SECTOR_SIZE) {
                diag_error(d, &pos,
                           "image '%s': GRUB's boot.img must be 512 bytes and its core.img from 512 bytes to %u KiB "
                           "(they are %zu and %zu bytes)",
                           im->name, (RESERVED_LBA - CORE_LBA) / 2, bimg->blob->size, cimg->blob->size);
                return -EINVAL;
        }
        int r = esp ? boot_add_grub(t, p, im, esp->cfg->mount, "", b, cmdline)
                    : boot_add_grub(t, p, im, "/", "/boot", b, cmdline);
        if (r < 0)
                return r;
        *ret_boot = tree_blob_ref(bimg->blob);
        *ret_core = tree_blob_ref(cimg->blob);
        return 0;
}

/* The boot files of im, as `boot` says: the inputs (kernel, systemd-boot,
 * initrd) are found once and the command line (root=PARTUUID= of the
 * partition mounted at /, then kernel-cmdline) made once for both loaders.
 * UEFI: systemd-boot and a BLS entry on the ESP; BIOS: GRUB (install_bios). */
static int install_boot(Tree *t, const Project *p, const Image *im, const Part *parts, size_t n,
                        const char *images_dir, const DiskOutputOptions *o, Diagnostics *d, TreeBlob **ret_boot,
                        TreeBlob **ret_core) {
        const bool uefi = im->boot == BOOT_UEFI || im->boot == BOOT_HYBRID;
        const bool bios = im->boot == BOOT_BIOS || im->boot == BOOT_HYBRID;
        const Part *esp, *root;
        boot_parts(parts, n, &esp, &root);
        /* The project loader holds partitions to both (project_check_images()). */
        if ((uefi && !esp) || !root)
                return -EINVAL;
        _cleanup_(boot_inputs_release) BootInputs b = {};
        int r = boot_inputs_find(t, im, images_dir, o->cpio_gzip, uefi, d, &b);
        if (r < 0)
                return r;
        _cleanup_free_ char *cmdline = root_cmdline(im, parts, n, root);
        if (!cmdline)
                return -ENOMEM;
        if (uefi && (r = boot_add_esp(t, p, im, esp->cfg->mount, &b, cmdline, images_dir, d)) < 0)
                return r;
        if (bios && (r = install_bios(t, p, im, parts, n, esp, &b, cmdline, d, ret_boot, ret_core)) < 0)
                return r;
        return 0;
}

/* grub-bios-setup's work on the disk's first sectors: boot.img's code in
 * the protective MBR (its partition table and signature stay), pointing at
 * core.img in LBA CORE_LBA; core.img's first sector (diskboot) lists where
 * the rest of it is. Offsets are GRUB's (include/grub/i386/pc/boot.h):
 * the kernel sector at 0x5c, the drive check at 0x66 (turned into NOPs for a
 * hard disk, as grub-bios-setup does), the partition table from 0x1b8;
 * diskboot's first block list entry in its last 12 bytes (start LBA, 64 bits;
 * sector count, 16 bits; load segment, 16 bits, kept). */
static int patch_mbr(uint8_t *mbr, const TreeBlob *boot, uint8_t *core, size_t core_len) {
        int r = tree_blob_read(boot, 0, mbr, 0x1b8);
        if (r < 0)
                return r;
        uint64_t lba = htole64(CORE_LBA);
        memcpy(mbr + 0x5c, &lba, 8);
        mbr[0x66] = 0x90;
        mbr[0x67] = 0x90;
        uint64_t start = htole64(CORE_LBA + 1);
        uint16_t count = htole16((uint16_t) (core_len / GPT_SECTOR_SIZE - 1));
        memcpy(core + GPT_SECTOR_SIZE - 12, &start, 8);
        memcpy(core + GPT_SECTOR_SIZE - 4, &count, 2);
        return 0;
}

/* The hash device of verity partition pt (its file system built) in the
 * scratch directory, as its hash partition hp's contents; its root hash,
 * and the two partitions' GUIDs from it as the Discoverable Partitions
 * Specification asks (the data partition's the root hash's first 128 bits,
 * the hash partition's its last 128), so that roothash= alone finds them. */
static int build_verity(Part *pt, Part *hp, size_t i, const uint8_t seed[32], const char *tmpdir, unsigned jobs) {
        _cleanup_free_ char *l_salt = NULL, *l_uuid = NULL;
        VerityParams vp = { .data_blocks = pt->fs_size / VERITY_BLOCK_SIZE };
        uint8_t g[16];
        char text[GUID_STRING_MAX];
        int r;

        if (asprintf(&l_salt, "verity-salt:%zu", pt->cfg_index) < 0 || asprintf(&l_uuid, "verity-uuid:%zu", pt->cfg_index) < 0)
                return -ENOMEM;
        /* The salt: SHA-256 of the seed and a label; the superblock's UUID
         * a derived one, in text order there (as uuid_parse() gives it). */
        _cleanup_free_ uint8_t *buf = malloc(32 + strlen(l_salt));
        if (!buf)
                return -ENOMEM;
        memcpy(buf, seed, 32);
        memcpy(buf + 32, l_salt, strlen(l_salt));
        if ((r = hash_buffer(HASH_SHA256, buf, 32 + strlen(l_salt), vp.salt)) < 0)
                return r;
        if ((r = gpt_guid_derive(seed, l_uuid, g)) < 0)
                return r;
        guid_to_string(g, text);
        for (size_t k = 0, o = 0; k < 16; k++, o += 2) {
                if (text[o] == '-')
                        o++;
                unsigned v;
                if (sscanf(text + o, "%2x", &v) != 1)
                        return -EINVAL;
                vp.uuid[k] = (uint8_t) v;
        }

        part_fs_drop(hp);
        if (asprintf(&hp->fs_path, "%s/part%zu.verity", tmpdir, i) < 0) {
                hp->fs_path = NULL;
                return -ENOMEM;
        }
        hp->fs_fd = open(hp->fs_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (hp->fs_fd < 0)
                return -errno;
        double t0 = monotonic_seconds();
        r = verity_build(pt->fs_fd, hp->fs_fd, &vp, jobs, pt->root_hash);
        if (r < 0)
                return r;
        pt->verity_seconds = monotonic_seconds() - t0;
        hp->fs_size = hp->fs_used = verity_hash_size(vp.data_blocks);
        if (hp->fs_size > hp->size)
                return -EFBIG; /* sized for the partition's span above: cannot happen */
        memcpy(hp->root_hash, pt->root_hash, VERITY_DIGEST_SIZE);

        /* Text order in the UUIDs' string form, as systemd reads them. */
        char hex[2 * VERITY_DIGEST_SIZE + 1];
        hex_encode(pt->root_hash, VERITY_DIGEST_SIZE, hex);
        for (int half = 0; half < 2; half++) {
                const char *x = hex + 32 * half;
                snprintf(text, sizeof text, "%.8s-%.4s-%.4s-%.4s-%.12s", x, x + 8, x + 12, x + 16, x + 20);
                if ((r = guid_from_string(text, half ? hp->guid : pt->guid)) < 0)
                        return r;
        }
        return 0;
}

/* The disk formats of c's image into its slots, from one layout and one
 * set of file systems, made in a copy of the tree (fstab, boot files and
 * mount points are the disk's, not the image's). With verity partitions
 * the order is: their file systems, their hash trees, then the boot files
 * (whose command line has the root hashes), then the other file systems. */
int writer_disk(const WriterContext *c, WriterSlot *slots, size_t n_slots) {
        const Project *p = c->p;
        const Image *im = c->im;
        const char *images_dir = c->images_dir;
        const DiskOutputOptions dopt = { .jobs = c->o->jobs, .cpio_gzip = c->o->cpio_gzip };
        const DiskOutputOptions *o = &dopt;
        Diagnostics *d = c->d;
        static const Partition default_parts[2] = {
                { .type = PARTITION_ESP, .size = IMAGE_DEFAULT_ESP_SIZE, .fs = FS_VFAT, .mount = (char *) "/boot/efi" },
                { .type = PARTITION_ROOT, .size = CFG_SIZE_GROW, .fs = FS_EXT4, .mount = (char *) "/" },
        };
        /* What a hash partition is to the code that walks partitions: no
         * file system, no mount point. */
        static const Partition hash_cfg[2] = {
                { .type = PARTITION_LINUX, .fs = FS_NONE, .label = (char *) "root-verity" },
                { .type = PARTITION_LINUX, .fs = FS_NONE, .label = (char *) "usr-verity" },
        };
        const int64_t when = (int64_t) p->source_date_epoch;
        size_t n_cfg = im->partitions.n ? im->partitions.n : 2, n = n_cfg, n_verity = 0;
        const Partition *cfgs = im->partitions.n ? im->partitions.items : default_parts;
        for (size_t i = 0; i < n_cfg; i++)
                n_verity += cfgs[i].verity;
        n += n_verity;
        _cleanup_free_ Part *parts = new0(Part, n);
        _cleanup_free_ char *tmpdir = NULL;
        uint8_t seed[32];
        size_t grow = SIZE_MAX;
        uint8_t *head = NULL, *tail = NULL, *core = NULL;
        size_t head_len = 0, tail_len = 0, core_len = 0;
        _cleanup_(tree_blob_unrefp) TreeBlob *grub_boot = NULL, *grub_core = NULL;
        DiskLayout lay = {};
        int r;

        _cleanup_(tree_freep) Tree *t = tree_clone(c->tree);
        if (!parts || !t)
                return -ENOMEM;
        for (size_t i = 0, k = 0; i < n_cfg; i++) {
                parts[k] = (Part) { .cfg = &cfgs[i], .cfg_index = i, .type_name = type_name(cfgs[i].type),
                                    .fs_fd = -1, .verity_hash = SIZE_MAX, .verity_data = SIZE_MAX };
                if (cfgs[i].size == CFG_SIZE_GROW)
                        grow = k;
                else
                        parts[k].size = cfgs[i].size;
                k++;
                if (cfgs[i].verity) {
                        bool usr = strcmp(cfgs[i].mount, "/usr") == 0;
                        parts[k - 1].verity_hash = k;
                        parts[k] = (Part) { .cfg = &hash_cfg[usr], .cfg_index = i,
                                            .type_name = usr ? "usr-verity" : "root-verity", .fs_fd = -1,
                                            .verity_hash = SIZE_MAX, .verity_data = k - 1 };
                        k++;
                }
        }
        if ((r = image_seed(p, im, seed)) < 0)
                return r;
        /* A verity pair's GUIDs come from its root hash (build_verity()). */
        for (size_t i = 0; i < n; i++)
                if (parts[i].verity_hash == SIZE_MAX && parts[i].verity_data == SIZE_MAX &&
                    (r = disk_partition_guid(p, im, parts[i].cfg_index, parts[i].guid)) < 0)
                        return r;
        r = write_fstab(t, parts, n, when);
        if (r < 0)
                return r;
        const DiskBootKeep *keep = c->o->keep_boot;
        if (keep && keep->gap && keep->gap_size > (size_t) (RESERVED_LBA - CORE_LBA) * GPT_SECTOR_SIZE) {
                diag_error(d, NULL, "%s: the boot code before the first partition (%zu bytes) does not fit before "
                                    "LBA %u",
                           IMAGE_WHAT(im), keep->gap_size, RESERVED_LBA);
                return -EINVAL;
        }
        if (keep && n_verity) {
                /* The kept boot files' command line cannot know the new root hash. */
                for (size_t i = 0; i < n_cfg; i++)
                        if (cfgs[i].verity) {
                                SourcePos pos = cfg_pos(&cfgs[i].obj, "verity");
                                diag_error(d, &pos, "%s: a verity partition needs the boot files slipway writes, "
                                                    "not the input's",
                                           IMAGE_WHAT(im));
                                return -EINVAL;
                        }
        }
        const bool boot = im->boot != BOOT_NONE && !keep;
        if (boot && !n_verity) {
                r = install_boot(t, p, im, parts, n, images_dir, o, d, &grub_boot, &grub_core);
                if (r < 0)
                        return r;
        }
        /* Every mount point exists in every file system it lies on. */
        for (size_t i = 0; i < n_cfg; i++)
                if (cfgs[i].mount && cfgs[i].fs != FS_NONE && !tree_get(t, cfgs[i].mount) &&
                    (r = tree_add_dir(t, cfgs[i].mount, 0755, 0, 0, NULL)) < 0)
                        return r;
        /* In a labelled tree, what the disk added gets its SELinux label too:
         * fstab, the mount points, and each ext4 file system's lost+found
         * (which the ext4 writer takes for the one mke2fs makes). */
        const TreeNode *top = tree_get(t, "/");
        bool labelled = false;
        for (size_t i = 0; top && i < top->n_xattrs; i++)
                labelled |= strcmp(top->xattrs[i].name, "security.selinux") == 0;
        if (labelled) {
                for (size_t i = 0; i < n_cfg; i++) {
                        _cleanup_free_ char *lpf = NULL;
                        if (cfgs[i].fs != FS_EXT4 || !cfgs[i].mount)
                                continue;
                        lpf = path_join(cfgs[i].mount, "lost+found");
                        if (!lpf)
                                return -ENOMEM;
                        if (!tree_get(t, lpf) && (r = tree_add_dir(t, lpf, 0700, 0, 0, NULL)) < 0)
                                return r;
                }
                r = settings_label_new(t, im, d);
                if (r < 0)
                        return r;
        }
        r = tmpdir_beside(images_dir, "disk", &tmpdir);
        if (r < 0)
                return r;

        /* Sizes: fixed ones as given; a growing partition fills a fixed disk,
         * or else is its file system's smallest size. A hash partition is
         * what its data partition's tree needs. */
        uint64_t *sizes = new0(uint64_t, n), *first = new0(uint64_t, n), *last = new0(uint64_t, n);
        uint64_t disk_size = 0;
        if (!sizes || !first || !last) {
                r = -ENOMEM;
                goto finish;
        }
        if (grow != SIZE_MAX && im->size == 0) {
                if (parts[grow].cfg->fs == FS_EXT4) {
                        r = build_fs(t, im, parts, n, grow, seed, tmpdir, when, d);
                        if (r < 0)
                                goto finish;
                        parts[grow].size = parts[grow].fs_size;
                } else
                        parts[grow].size = (uint64_t) 1 << 20;
        }
        /* For the data partition's span: its size rounded up as gpt_layout() will. */
        for (size_t i = 0; i < n; i++)
                if (parts[i].verity_data != SIZE_MAX) {
                        uint64_t ds = parts[parts[i].verity_data].size;
                        parts[i].size = ds ? verity_partition_size((ds + GPT_ALIGN - 1) / GPT_ALIGN * GPT_ALIGN)
                                           : (uint64_t) 1 << 20;
                }
        for (int pass = 0; pass < 2; pass++) {
                for (size_t i = 0; i < n; i++)
                        sizes[i] = i == grow && im->size ? 0 : parts[i].size;
                /* The loader checked this layout against `size` (image_check_layout()). */
                r = gpt_layout(im->size, sizes, n, &disk_size, first, last);
                if (r < 0)
                        goto finish;
                /* A verity partition that grows on a fixed disk: its hash
                 * partition sized for its span with a 1 MiB hash partition,
                 * then laid out again (it only shrinks). */
                if (pass == 1 || grow == SIZE_MAX || !im->size || parts[grow].verity_hash == SIZE_MAX)
                        break;
                uint64_t span = (last[grow] - first[grow] + 1) * GPT_SECTOR_SIZE;
                parts[parts[grow].verity_hash].size = verity_partition_size(span);
        }
        for (size_t i = 0; i < n; i++) {
                parts[i].first = first[i];
                parts[i].last = last[i];
                uint64_t span = (last[i] - first[i] + 1) * GPT_SECTOR_SIZE;
                if (parts[i].size == 0 || i == grow)
                        parts[i].size = span;
        }

        /* The file systems at their final sizes: the verity ones and their
         * hash trees first, then the boot files, then the others. */
        for (int pass = 0; pass < 2; pass++) {
                for (size_t i = 0; i < n; i++) {
                        if (parts[i].cfg->fs == FS_NONE || (parts[i].verity_hash != SIZE_MAX) != (pass == 0))
                                continue;
                        if (!(i == grow && parts[i].fs_path && parts[i].fs_size == parts[i].size)) {
                                r = build_fs(t, im, parts, n, i, seed, tmpdir, when, d);
                                if (r < 0)
                                        goto finish;
                        }
                        if (pass == 0) {
                                r = build_verity(&parts[i], &parts[parts[i].verity_hash], i, seed, tmpdir, o->jobs);
                                if (r < 0)
                                        goto finish;
                        }
                }
                if (pass == 0 && boot && n_verity) {
                        r = install_boot(t, p, im, parts, n, images_dir, o, d, &grub_boot, &grub_core);
                        if (r >= 0 && labelled)
                                r = settings_label_new(t, im, d);
                        if (r < 0)
                                goto finish;
                }
        }

        GptPartition *gp = new0(GptPartition, n);
        if (!gp) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < n; i++) {
                r = gpt_type_from_name(parts[i].type_name, p->arch, gp[i].type_guid);
                if (r < 0)
                        break;
                memcpy(gp[i].part_guid, parts[i].guid, 16);
                gp[i].first_lba = first[i];
                gp[i].last_lba = last[i];
                snprintf(gp[i].name, sizeof gp[i].name, "%s", parts[i].cfg->label ? parts[i].cfg->label
                                                                                     : parts[i].type_name);
                /* Discoverable Partitions Specification, "Partition Attribute Flags". */
                if (parts[i].verity_hash != SIZE_MAX || parts[i].verity_data != SIZE_MAX)
                        gp[i].attributes = GPT_ATTR_READ_ONLY;
        }
        uint8_t disk_guid[16];
        if (r >= 0)
                r = gpt_guid_derive(seed, "disk", disk_guid);
        if (r >= 0)
                r = gpt_build_reserved(disk_size, disk_guid, gp, n,
                                       grub_core || (keep && keep->gap) ? RESERVED_LBA : 34, &head, &head_len, &tail,
                                       &tail_len);
        if (r >= 0 && keep && keep->mbr_code)
                memcpy(head, keep->mbr_code, 440);
        free(gp);
        if (r < 0)
                goto finish;
        if (grub_core) {
                core_len = (grub_core->size + GPT_SECTOR_SIZE - 1) & ~(size_t) (GPT_SECTOR_SIZE - 1);
                core = calloc(1, core_len);
                if (!core) {
                        r = -ENOMEM;
                        goto finish;
                }
                r = tree_blob_read(grub_core, 0, core, grub_core->size);
                if (r >= 0)
                        r = patch_mbr(head, grub_boot, core, core_len);
                if (r < 0)
                        goto finish;
        }

        /* The disk: GPT head, the partitions' data, GPT tail. */
        r = disk_layout_add_data(&lay, 0, head, head_len);
        if (r >= 0 && core)
                r = disk_layout_add_data(&lay, (uint64_t) CORE_LBA * GPT_SECTOR_SIZE, core, core_len);
        if (r >= 0 && keep && keep->gap)
                r = disk_layout_add_data(&lay, (uint64_t) CORE_LBA * GPT_SECTOR_SIZE, keep->gap, keep->gap_size);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                uint64_t off = parts[i].first * GPT_SECTOR_SIZE;
                uint64_t len = MIN(parts[i].fs_size, parts[i].size);
                if (parts[i].fs_fd >= 0)
                        r = disk_layout_add_file(&lay, off, MIN(len, parts[i].fs_used), parts[i].fs_fd);
        }
        if (r >= 0)
                r = disk_layout_add_data(&lay, disk_size - tail_len, tail, tail_len);
        DiskSource src;
        if (r >= 0)
                r = disk_layout_source(&lay, disk_size, &src);
        if (r < 0)
                goto finish;
        DiskWriteOptions wo = { .timestamp = when };
        memcpy(wo.seed, seed, 32);

        /* What `slipway image` reports of the verity partitions. */
        ImageVerity iv[IMAGE_VERITY_MAX] = {};
        size_t n_iv = 0;
        for (size_t i = 0; i < n && n_iv < IMAGE_VERITY_MAX; i++) {
                size_t h = parts[i].verity_hash;
                if (h == SIZE_MAX)
                        continue;
                iv[n_iv] = (ImageVerity) { .mount = parts[i].cfg->mount, .data_partition = (unsigned) i + 1,
                                           .hash_partition = (unsigned) h + 1,
                                           .seconds = parts[i].verity_seconds };
                hex_encode(parts[i].root_hash, VERITY_DIGEST_SIZE, iv[n_iv].root_hash);
                guid_to_string(parts[i].guid, iv[n_iv].data_partuuid);
                guid_to_string(parts[h].guid, iv[n_iv].hash_partuuid);
                n_iv++;
        }

        for (size_t k = 0; k < n_slots; k++) {
                static const DiskFormat kinds[_IMAGE_FORMAT_MAX] = {
                        [IMAGE_FORMAT_RAW] = DISK_FORMAT_RAW,
                        [IMAGE_FORMAT_VHD] = DISK_FORMAT_VHD,
                        [IMAGE_FORMAT_VHDX] = DISK_FORMAT_VHDX,
                        [IMAGE_FORMAT_QCOW2] = DISK_FORMAT_QCOW2,
                };
                slots[k].size = disk_size;
                memcpy(slots[k].verity, iv, sizeof iv);
                slots[k].n_verity = n_iv;
                /* Whole MiB for VHD: the loader checks `size`, gpt_layout() rounds the rest. */
                r = disk_write(&src, kinds[slots[k].format], &wo, slots[k].tmp);
                if (r == -EFBIG) {
                        /* The host's file system, not the format: ext4 holds files of at most 16 TiB - 4 KiB. */
                        diag_error(d, NULL,
                                   "image '%s': the file system under '%s' cannot hold the %s disk, a file of "
                                   "%" PRIu64 " bytes (ext4 holds at most 16 TiB - 4 KiB in one file)",
                                   im->name, c->images_dir, image_format_to_string(slots[k].format), disk_size);
                        r = -EINVAL;
                }
                if (r < 0)
                        goto finish;
        }
        r = 0;
finish:
        for (size_t i = 0; i < n; i++)
                part_fs_drop(&parts[i]);
        if (tmpdir) {
                (void) rm_rf(tmpdir);
                run_untrack(tmpdir);
        }
        free(head);
        free(tail);
        free(core);
        disk_layout_release(&lay);
        free(sizes);
        free(first);
        free(last);
        return r;
}
