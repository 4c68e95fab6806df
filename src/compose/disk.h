/* SPDX-License-Identifier: MIT */
#pragma once

/* The disk formats of an image: a GPT disk (the image's [[partitions]], or a
 * 256 MiB ESP and a root that grows) whose file systems are made from the
 * tree, written as raw, vhd, vhdx and qcow2. With boot = "uefi" or "hybrid"
 * they boot through systemd-boot on the ESP, with "bios" or "hybrid"
 * through GRUB (boot.img in the MBR, core.img before the first partition). */

#include "basic/diag.h"
#include "config/project.h"
#include "tree/tree.h"

typedef struct DiskOutput {
        ImageFormat format;
        char *tmp;     /* written here ... */
        char *final;   /* ... to be renamed to this by the caller */
        uint64_t size; /* the virtual disk size */
} DiskOutput;

typedef struct DiskOutputOptions {
        unsigned jobs;
        bool cpio_gzip; /* the initrd image was written as .cpio.gz, not .cpio.zst */
} DiskOutputOptions;

/* Writes every disk format in `formats` (1 << ImageFormat) of im. /etc/fstab
 * is written into the tree first (PARTUUID= lines), and the boot files
 * (boot.h; the initrd image must be in images_dir already). ret has room for four;
 * on success *ret_n of them are written under their tmp names. Identifiers
 * (partition and disk GUIDs, file system UUIDs, volume ids) derive from the
 * project's name and version and the image's name. Input problems (files
 * that do not fit, a VHD size that is not whole MiB) go to d; -EINVAL. */
int image_write_disks(Tree *t, const Project *p, const Image *im, const char *images_dir, unsigned formats,
                      const DiskOutputOptions *o, Diagnostics *d, DiskOutput *ret, size_t *ret_n);
