/* SPDX-License-Identifier: MIT */
#pragma once

/* The iso format: a live, hybrid ISO of an image (docs/images.md). */

#include <stdbool.h>
#include <stdint.h>

#include "basic/diag.h"
#include "config/project.h"
#include "tree/tree.h"

/* Writes im's ISO to tmp (renamed to NAME.iso by the caller). The live
 * system's root is its initrd: the image's tree (without the kernel file)
 * as a zstd cpio, after the `initrd` image's cpio when there is one. It
 * boots:
 *   - with boot = "uefi" or "hybrid": from an El Torito UEFI image and a
 *     GPT partition, an ESP holding systemd-boot, the kernel, the initrd and
 *     a Boot Loader Specification entry (boot.h);
 *   - with boot = "bios" or "hybrid": from ISOLINUX (El Torito BIOS, and the
 *     isohybrid MBR for a USB stick), which the image's packages must
 *     install in /usr/share/syslinux (isolinux.bin, ldlinux.c32,
 *     isohdpfx.bin);
 *   - with boot = "none": not at all (the same files, no boot records).
 * The kernel command line is the image's kernel-cmdline (nothing adds
 * root=: the root is the initrd). The tree loses its kernel node. Input
 * problems go to d (-EINVAL). */
int image_write_iso(Tree *t, const Project *p, const Image *im, const char *images_dir, bool cpio_gzip,
                    const char *tmp, uint64_t *ret_size, Diagnostics *d);
