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

typedef struct DiskOutputOptions {
        unsigned jobs;
        bool cpio_gzip; /* the initrd image was written as .cpio.gz, not .cpio.zst */
} DiskOutputOptions;

/* The disk writer (writer.h: writer_disk) makes, in its own copy of the
 * tree, /etc/fstab (PARTUUID= lines), the boot files (boot.h; the initrd
 * image must be in images_dir already) and the mount points, then the
 * file systems once for every disk format listed. Identifiers (partition
 * and disk GUIDs, file system UUIDs, volume ids) derive from the project's
 * name and version and the image's name. Input problems (files that do not
 * fit, a VHD size that is not whole MiB) go to d; -EINVAL. */

/* The GUID the disk writer gives partition i of im (of n, the image's
 * [[partitions]] or the default two): derived from image_seed(). */
int disk_partition_guid(const Project *p, const Image *im, size_t i, uint8_t ret[16]);
