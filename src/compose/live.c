/* SPDX-License-Identifier: MIT */

/* The live ISO (live.h): the kernel and the image as an initrd, in ISO 9660
 * for ISOLINUX and in an ESP image for systemd-boot; iso9660_write() puts
 * them together with the El Torito records, the isohybrid MBR and the GPT. */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
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
#include "fs/vfat.h"
#include "tree/archive.h"

#define SYSLINUX_DIR "/usr/share/syslinux/"

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

/* The ESP image of the ISO: systemd-boot, kernel, initrd, the entry. */
static int make_esp(const Project *p, const Image *im, const BootInputs *b, const char *cmdline, const uint8_t seed[32],
                    const char *tmp, TreeBlob **ret) {
        const int64_t when = (int64_t) p->source_date_epoch;
        _cleanup_(tree_freep) Tree *esp = tree_new(when);
        if (!esp)
                return -ENOMEM;
        int r = boot_add_uefi(esp, p, im, "/", b, cmdline);
        if (r < 0)
                return r;
        /* Room for the files (each rounded to a 4 KiB cluster), the
         * directories and FAT's own tables, in whole MiB. */
        uint64_t need = b->kernel->size + b->sdboot->size * 2 + (b->initrd ? b->initrd->size : 0);
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
        r = boot_inputs_find(t, im, images_dir, cpio_gzip, uefi, d, &b);
        if (r < 0)
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
        TreeBlob *initrd = NULL;
        if ((r = tree_archive_check(t, TREE_ARCHIVE_CPIO, im->name, d)) < 0 ||
            (r = live_initrd(t, b.initrd, cpio_gzip, jobs, tmp, &initrd)) < 0)
                return r;
        tree_blob_unref(b.initrd);
        b.initrd = initrd;

        _cleanup_free_ char *cmdline = boot_cmdline(im, NULL);
        if (!cmdline)
                return -ENOMEM;
        if ((r = image_seed(p, im, seed)) < 0)
                return r;
        if (uefi && (r = make_esp(p, im, &b, cmdline, seed, tmp, &esp)) < 0)
                return r;

        /* ISOLINUX: the kernel and the initrd from ISO 9660. TIMEOUT 0 and
         * PROMPT 0 boot the one entry at once. */
        if (asprintf(&cfg, "DEFAULT live\nPROMPT 0\nTIMEOUT 0\nLABEL live\n  KERNEL /boot/vmlinuz\n"
                           "  APPEND initrd=/boot/initrd%s%s\n",
                     cmdline[0] ? " " : "", cmdline) < 0)
                return -ENOMEM;
        Iso9660File files[6];
        size_t n = 0;
        /* Every file as a blob, read as the image is written. */
        _cleanup_(tree_blob_unrefp) TreeBlob *cfg_b = tree_blob_new(cfg, strlen(cfg));
        if (!cfg_b)
                return -ENOMEM;
        files[n++] = (Iso9660File) { "/boot/vmlinuz", b.kernel, b.kernel->size };
        files[n++] = (Iso9660File) { "/boot/initrd", b.initrd, b.initrd->size };
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
