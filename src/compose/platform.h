/* SPDX-License-Identifier: MIT */
#pragma once

/* What an image's platform (`platform` in [images.NAME]) requires of its
 * packages, checked once the image is composed: the configuration's side is
 * checked when the project loads (config/project.c). Only warnings: the image
 * is written all the same. */

#include <stdbool.h>

#include "basic/diag.h"
#include "config/project.h"
#include "tree/tree.h"

/* The Hyper-V drivers Azure's "Prepare Linux for imaging in Azure" asks an
 * initrd to carry (dracut --add-drivers "hv_vmbus hv_netvsc hv_storvsc"). */
typedef enum HypervDriver {
        HYPERV_VMBUS,
        HYPERV_STORVSC,
        HYPERV_NETVSC,
        _HYPERV_DRIVER_MAX,
} HypervDriver;

const char *hyperv_driver_to_string(HypervDriver h) _pure_;

/* Which of the Hyper-V drivers t holds, as a mask of 1 << HypervDriver: a
 * module NAME.ko, NAME.ko.xz or NAME.ko.zst anywhere below
 * /lib/modules/KVER/ or /usr/lib/modules/KVER/ (unless builtin_only), or a
 * line ending in "/NAME.ko" in KVER's modules.builtin (built into the
 * kernel). kver NULL: any KVER. */
int platform_hyperv_drivers(const Tree *t, const char *kver, bool builtin_only, unsigned *ret_mask);

/* The newest KVER of t's kernels (/usr/lib/modules/KVER/vmlinuz), as the
 * disk and ISO writers choose it; *ret NULL when t has none. */
int platform_kernel_version(const Tree *t, char **ret);

/* The checks of im's platform against its composed tree t and the tree of
 * its initrd image (NULL when it has none or it was not composed): warnings
 * in d at the keys concerned. -ENOMEM, else 0. */
int platform_check_composed(const Image *im, const Tree *t, const Tree *initrd, Diagnostics *d);
