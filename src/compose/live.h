/* SPDX-License-Identifier: MIT */
#pragma once

/* The iso format: a live, hybrid ISO of an image (docs/images.md). */

#include <stdbool.h>
#include <stdint.h>

#include "basic/diag.h"
#include "config/project.h"
#include "tree/tree.h"

/* The ISO of an image, written to its slot (published as NAME.iso). The live
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
 * root=: the root is the initrd). The live root is a copy of the tree
 * without its kernel node. Input problems go to d (-EINVAL). This is
 * writer_iso (writer.h). */
