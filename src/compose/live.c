/* SPDX-License-Identifier: MIT */

/* The live ISO (live.h): the kernel and the image as an initrd, in ISO 9660
 * for ISOLINUX and in an ESP image for systemd-boot; iso9660_write() puts
 * them together with the El Torito records, the isohybrid MBR and the GPT. */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/compress.h"
#include "basic/fileio.h"
#include "basic/strbuf.h"
#include "compose/boot.h"
#include "compose/live.h"
#include "compose/writer.h"
#include "disk/gpt.h"
#include "fs/iso9660.h"
#include "fs/squashfs.h"
#include "fs/vfat.h"
#include "tree/archive.h"

#define SYSLINUX_DIR "/usr/share/syslinux/"
/* A standalone GRUB for UEFI (grub-mkimage -O x86_64-efi with iso9660,
 * linux, search, configfile and normal built in) whose embedded config
 * finds /boot/grub/grub.cfg: with it an ISO's ESP holds GRUB alone, which
 * loads the kernel and initrd from ISO 9660, so they are stored once. */
#define GRUB_EFI_PATH "/usr/lib/grub/x86_64-efi/grubx64.efi"

/* "azl-mini" "4.0" -> "AZL_MINI_4_0": ECMA-119 d-characters, at most 32. */
static void volume_id(const Project *p, char out[33]) {
        snprintf(out, 33, "%s_%s", p->project.name, p->project.version);
        for (char *c = out; *c; c++)
                *c = isalnum((unsigned char) *c) ? (char) toupper((unsigned char) *c) : '_';
}

static int read_blob(const void *data, uint64_t off, void *buf, size_t n) {
        return tree_blob_read(data, off, buf, n);
}

static const TreeNode *syslinux_file(const Tree *t, const Image *im, const char *name, Diagnostics *d) {
        char path[128];
        snprintf(path, sizeof path, SYSLINUX_DIR "%s", name);
        const TreeNode *n = tree_get(t, path);
        if (n && n->type == TREE_REG && n->blob)
                return n;
        SourcePos pos = cfg_pos(&im->obj, "packages");
        diag_error(d, &pos,
                   "image '%s': its ISO boots with BIOS, but no package installs ISOLINUX's %s; add the package "
                   "that has " SYSLINUX_DIR "isolinux.bin, ldlinux.c32 and isohdpfx.bin",
                   im->name, path);
        return NULL;
}

/* The ESP image of the ISO: systemd-boot, kernel, initrd, the entry; or,
 * with grub (GRUB_EFI_PATH), GRUB alone. */
static int make_esp(const Project *p, const Image *im, const BootInputs *b, const TreeBlob *grub, const char *cmdline,
                    const uint8_t seed[32], const char *tmp, TreeBlob **ret) {
        const int64_t when = (int64_t) p->source_date_epoch;
        _cleanup_(tree_freep) Tree *esp = tree_new(when);
        if (!esp)
                return -ENOMEM;
        int r;
        uint64_t need;
        if (grub) {
                if ((r = tree_add_dir(esp, "/EFI", 0755, 0, 0, NULL)) < 0 ||
                    (r = tree_add_dir(esp, "/EFI/BOOT", 0755, 0, 0, NULL)) < 0 ||
                    (r = tree_add_blob(esp, "/EFI/BOOT/BOOTX64.EFI", (TreeBlob *) grub, 0644, 0, 0, NULL)) < 0)
                        return r;
                need = grub->size;
        } else {
                r = boot_add_uefi(esp, p, im, "/", b, cmdline);
                if (r < 0)
                        return r;
                need = b->kernel->size + b->sdboot->size * 2 + (b->initrd ? b->initrd->size : 0);
        }
        /* Room for the files (each rounded to a 4 KiB cluster), the
         * directories and FAT's own tables, in whole MiB. */
        uint64_t size = ((need + need / 16 + ((uint64_t) 2 << 20)) + ((uint64_t) 1 << 20) - 1) & ~(((uint64_t) 1 << 20) - 1);
        FsOptions o = { .root = "/", .label = "EFIBOOT", .time = when };
        if ((r = gpt_guid_derive(seed, "iso-esp-volume-id", o.uuid)) < 0)
                return r;
        /* Built into a private file without a name beside the output: its
         * descriptor is all there is. */
        _cleanup_free_ char *dir = path_dirname(tmp);
        if (!dir)
                return -ENOMEM;
        _cleanup_close_ int fd = -EBADF;
        for (;;) {
                if (fd >= 0)
                        close(fd);
                fd = tmpfile_anonymous(dir);
                if (fd < 0)
                        return fd;
                o.size = size;
                r = vfat_build_fd(esp, &o, fd, NULL);
                if (r != -ENOSPC)
                        break;
                size += (uint64_t) 4 << 20;
        }
        if (r < 0)
                return r;
        if (size > SIZE_MAX)
                return -EFBIG;
        TreeBlob *blob = tree_blob_take_fd(fd, 0, (size_t) size);
        if (!blob)
                return -ENOMEM;
        TAKE_FD(fd);
        *ret = blob;
        return 0;
}

static int write_piece(void *userdata, uint64_t off, const void *data, size_t n) {
        return loop_write(*(const int *) userdata, data, n);
}

/* The live initrd: the image's initrd image (when it names one) followed by
 * the live root as a compressed cpio, streamed into a private file beside
 * the output (on the file system that has room for it, and gone with its
 * fd), never whole in memory. */
static int live_initrd(const Tree *t, const TreeBlob *initrd_image, bool gzip, unsigned jobs, const char *tmp,
                       TreeBlob **ret) {
        _cleanup_free_ char *dir = path_dirname(tmp);
        if (!dir)
                return -ENOMEM;
        _cleanup_close_ int fd = tmpfile_anonymous(dir);
        if (fd < 0)
                return fd;
        uint64_t size = initrd_image ? initrd_image->size : 0, cpio_size = 0;
        int r = tree_blob_foreach(initrd_image, write_piece, &fd);
        if (r >= 0)
                r = writer_stream_cpio(t, fd, gzip, jobs, &cpio_size);
        if (r < 0)
                return r;
        size += cpio_size;
        if (size > SIZE_MAX)
                return -EFBIG;
        TreeBlob *b = tree_blob_take_fd(fd, 0, (size_t) size);
        if (!b)
                return -ENOMEM;
        TAKE_FD(fd);
        *ret = b;
        return 0;
}

/* A private file without a name beside tmp, as a blob (the fd is all there
 * is; it goes with the blob). */
static int blob_from_fd(int *fd, uint64_t size, TreeBlob **ret) {
        if (size > SIZE_MAX)
                return -EFBIG;
        TreeBlob *b = tree_blob_take_fd(*fd, 0, (size_t) size);
        if (!b)
                return -ENOMEM;
        *fd = -EBADF;
        *ret = b;
        return 0;
}

/* An installer's live root: the tree as squashfs, built at a name beside
 * tmp and unlinked at once (its fd is kept). */
static int live_squashfs(const Tree *t, const Project *p, const char *tmp, TreeBlob **ret) {
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s.live-root", tmp) < 0)
                return -ENOMEM;
        FsOptions o = { .root = "/", .time = (int64_t) p->source_date_epoch };
        uint64_t size = 0;
        (void) unlink(path);
        int r = squashfs_build(t, &o, path, &size);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        r = fd < 0 ? -errno : 0;
        (void) unlink(path);
        if (r < 0)
                return r;
        return blob_from_fd(&fd, size, ret);
}

/* The disk an installer copies: IMAGE.raw of images_dir, compressed with
 * zstd in independent frames (`zstd -d` and the installer read them as one
 * stream), into a private file beside tmp. */
static int install_disk(const Image *target, const char *images_dir, unsigned jobs, const char *tmp,
                        TreeBlob **ret, uint64_t *ret_raw_size) {
        _cleanup_free_ char *name = NULL, *raw = NULL, *dir = path_dirname(tmp);
        if (!dir || asprintf(&name, "%s.raw", target->name) < 0 || !(raw = path_join(images_dir, name)))
                return -ENOMEM;
        _cleanup_close_ int in = open(raw, O_RDONLY | O_CLOEXEC);
        if (in < 0)
                return -errno;
        struct stat st;
        if (fstat(in, &st) < 0)
                return -errno;
        _cleanup_close_ int fd = tmpfile_anonymous(dir);
        if (fd < 0)
                return fd;
        ChunkedWriter *w = NULL;
        int r = chunked_writer_new(fd, false, 3, (size_t) 4 << 20, jobs, &w);
        if (r < 0)
                return r;
        _cleanup_free_ uint8_t *buf = malloc((size_t) 4 << 20);
        if (!buf) {
                chunked_writer_free(w);
                return -ENOMEM;
        }
        for (;;) {
                ssize_t k = read(in, buf, (size_t) 4 << 20);
                if (k < 0) {
                        r = -errno;
                        break;
                }
                if (k == 0)
                        break;
                if ((r = chunked_writer_write(w, buf, (size_t) k)) < 0)
                        break;
        }
        uint64_t written = 0;
        if (r >= 0)
                r = chunked_writer_finish(w, &written); /* frees w */
        else
                chunked_writer_free(w);
        if (r < 0)
                return r;
        *ret_raw_size = (uint64_t) st.st_size;
        return blob_from_fd(&fd, written, ret);
}

static int write_iso(const Tree *image_tree, const Project *p, const Image *im, const char *images_dir,
                     bool cpio_gzip, unsigned jobs, const char *tmp, uint64_t *ret_size, Diagnostics *d) {
        const bool uefi = im->boot == BOOT_UEFI || im->boot == BOOT_HYBRID;
        const bool bios = im->boot == BOOT_BIOS || im->boot == BOOT_HYBRID;
        _cleanup_(boot_inputs_release) BootInputs b = {};
        _cleanup_free_ uint8_t *mbr_data = NULL;
        _cleanup_(tree_blob_unrefp) TreeBlob *esp = NULL;
        _cleanup_free_ char *kpath = NULL, *cfg = NULL;
        size_t mbr_size = 0;
        uint8_t seed[32];
        int r;

        /* The live root loses its kernel file: in a copy of the tree. */
        _cleanup_(tree_freep) Tree *t = tree_clone(image_tree);
        if (!t)
                return -ENOMEM;
        const TreeNode *grub = uefi ? tree_get(t, GRUB_EFI_PATH) : NULL;
        if (grub && (grub->type != TREE_REG || !grub->blob))
                grub = NULL;
        _cleanup_(tree_blob_unrefp) TreeBlob *grub_b = grub ? tree_blob_ref(grub->blob) : NULL;
        r = boot_inputs_find(t, im, images_dir, cpio_gzip, uefi && !grub, d, &b);
        if (r < 0)
                return r;
        /* Signed for Secure Boot with [signing] secure-boot-key: what goes on the ESP. */
        if ((grub_b && (r = boot_sign_efi(p, im, GRUB_EFI_PATH, &grub_b, images_dir, d)) < 0) ||
            (b.sdboot && (r = boot_sign_efi(p, im, "/usr/lib/systemd/boot/efi/systemd-bootx64.efi", &b.sdboot,
                                            images_dir, d)) < 0))
                return r;
        const TreeNode *isolinux = NULL, *ldlinux = NULL, *mbr = NULL;
        if (bios && (!(isolinux = syslinux_file(t, im, "isolinux.bin", d)) ||
                     !(ldlinux = syslinux_file(t, im, "ldlinux.c32", d)) ||
                     !(mbr = syslinux_file(t, im, "isohdpfx.bin", d))))
                return -EINVAL;
        /* Keep the boot loader files alive while the tree changes. */
        _cleanup_(tree_blob_unrefp) TreeBlob *isolinux_b = isolinux ? tree_blob_ref(isolinux->blob) : NULL;
        _cleanup_(tree_blob_unrefp) TreeBlob *ldlinux_b = ldlinux ? tree_blob_ref(ldlinux->blob) : NULL;
        _cleanup_(tree_blob_unrefp) TreeBlob *mbr_b = mbr ? tree_blob_ref(mbr->blob) : NULL;

        /* The live root: the tree without its kernel file (the boot loader
         * loads that), after the initrd image when there is one. */
        if (asprintf(&kpath, "/usr/lib/modules/%s/vmlinuz", b.kver) < 0)
                return -ENOMEM;
        if ((r = tree_remove(t, kpath)) < 0 && r != -ENOENT)
                return r;
        /* A live ISO's root is its initrd (in RAM); an installer's is a
         * squashfs on the medium, which its initrd image mounts, and the
         * medium carries the raw disk it installs. */
        _cleanup_(tree_blob_unrefp) TreeBlob *squashfs = NULL, *disk = NULL, *disk_conf = NULL;
        _cleanup_free_ char *disk_path = NULL, *conf = NULL;
        if (im->install) {
                const Image *target = project_find_image(p, im->install);
                uint64_t raw_size = 0;
                if (!target || !b.initrd)
                        return -EINVAL; /* the loader checked both */
                if ((r = live_squashfs(t, p, tmp, &squashfs)) < 0)
                        return r;
                r = install_disk(target, images_dir, jobs, tmp, &disk, &raw_size);
                if (r == -ENOENT) {
                        diag_error(d, NULL, "image '%s': the disk it installs, %s.raw, was not composed", im->name,
                                   target->name);
                        return -EINVAL;
                }
                if (r < 0)
                        return r;
                if (asprintf(&disk_path, "/install/%s.raw.zst", target->name) < 0 ||
                    asprintf(&conf, "# What the installer copies (slipway: images.%s.install)\nimage=%s\ndisk=%s\nsize=%" PRIu64 "\n",
                             im->name, target->name, disk_path, raw_size) < 0 ||
                    !(disk_conf = tree_blob_new(conf, strlen(conf))))
                        return -ENOMEM;
        } else {
                TreeBlob *initrd = NULL;
                if ((r = tree_archive_check(t, TREE_ARCHIVE_CPIO, im->name, d)) < 0 ||
                    (r = live_initrd(t, b.initrd, cpio_gzip, jobs, tmp, &initrd)) < 0)
                        return r;
                tree_blob_unref(b.initrd);
                b.initrd = initrd;
        }

        _cleanup_free_ char *cmdline = boot_cmdline(im, NULL);
        if (!cmdline)
                return -ENOMEM;
        if ((r = image_seed(p, im, seed)) < 0)
                return r;
        if (uefi && (r = make_esp(p, im, &b, grub_b, cmdline, seed, tmp, &esp)) < 0)
                return r;
        /* GRUB's configuration, read from ISO 9660 (timeout 0: the one
         * entry boots at once). */
        _cleanup_free_ char *grub_cfg = NULL;
        _cleanup_(tree_blob_unrefp) TreeBlob *grub_cfg_b = NULL;
        if (grub_b) {
                if (asprintf(&grub_cfg,
                             "set timeout=0\nset default=0\nmenuentry '%s' {\n  linux /boot/vmlinuz%s%s\n"
                             "  initrd /boot/initrd\n}\n",
                             im->name, cmdline[0] ? " " : "", cmdline) < 0 ||
                    !(grub_cfg_b = tree_blob_new(grub_cfg, strlen(grub_cfg))))
                        return -ENOMEM;
        }

        /* ISOLINUX: the kernel and the initrd from ISO 9660. TIMEOUT 0 and
         * PROMPT 0 boot the one entry at once. */
        if (asprintf(&cfg, "DEFAULT live\nPROMPT 0\nTIMEOUT 0\nLABEL live\n  KERNEL /boot/vmlinuz\n"
                           "  APPEND initrd=/boot/initrd%s%s\n",
                     cmdline[0] ? " " : "", cmdline) < 0)
                return -ENOMEM;
        Iso9660File files[10];
        size_t n = 0;
        /* Every file as a blob, read as the image is written. */
        _cleanup_(tree_blob_unrefp) TreeBlob *cfg_b = tree_blob_new(cfg, strlen(cfg));
        if (!cfg_b)
                return -ENOMEM;
        files[n++] = (Iso9660File) { "/boot/vmlinuz", b.kernel, b.kernel->size };
        files[n++] = (Iso9660File) { "/boot/initrd", b.initrd, b.initrd->size };
        if (grub_cfg_b)
                files[n++] = (Iso9660File) { "/boot/grub/grub.cfg", grub_cfg_b, grub_cfg_b->size };
        if (squashfs) {
                files[n++] = (Iso9660File) { "/live/root.squashfs", squashfs, squashfs->size };
                files[n++] = (Iso9660File) { disk_path, disk, disk->size };
                files[n++] = (Iso9660File) { "/install/image.conf", disk_conf, disk_conf->size };
        }
        if (bios) {
                files[n++] = (Iso9660File) { "/isolinux/isolinux.bin", isolinux_b, isolinux_b->size };
                files[n++] = (Iso9660File) { "/isolinux/ldlinux.c32", ldlinux_b, ldlinux_b->size };
                files[n++] = (Iso9660File) { "/isolinux/isolinux.cfg", cfg_b, cfg_b->size };
        }
        /* The MBR template is read whole: at most 512 bytes are used. */
        if (bios && (r = tree_blob_load(mbr_b, (size_t) 1 << 20, &mbr_data, &mbr_size)) < 0)
                return r;
        char vid[33];
        volume_id(p, vid);
        Iso9660Spec spec = {
                .fs = { .label = vid, .time = (int64_t) p->source_date_epoch },
                .files = files,
                .n_files = n,
                .read_file = read_blob,
                .bios_boot_path = bios ? "/isolinux/isolinux.bin" : NULL,
                .bios_mbr = mbr_data,
                .bios_mbr_size = mbr_size,
                .efi_image = esp,
                .efi_image_size = esp ? esp->size : 0,
        };
        if ((r = gpt_guid_derive(seed, "iso9660-gpt-disk", spec.fs.uuid)) < 0)
                return r;
        r = iso9660_write(&spec, tmp);
        if (r == -EINVAL) {
                diag_error(d, NULL, "image '%s': cannot write its ISO: %s", im->name,
                           bios && mbr_b->size > 512 ? "isohdpfx.bin is larger than 512 bytes"
                                                     : "ISOLINUX's files are not usable");
                return -EINVAL;
        }
        if (r < 0)
                return r;
        struct stat st;
        *ret_size = stat(tmp, &st) == 0 ? (uint64_t) st.st_size : 0;
        return 0;
}

int writer_iso(const WriterContext *c, WriterSlot *slots, size_t n) {
        for (size_t i = 0; i < n; i++) {
                int r = write_iso(c->tree, c->p, c->im, c->images_dir, c->o->cpio_gzip, c->o->jobs, slots[i].tmp,
                                  &slots[i].size, c->d);
                if (r < 0)
                        return r;
        }
        return 0;
}
