/* SPDX-License-Identifier: MIT */
#pragma once

/* `slipway customize`: a prebuilt disk image read into a tree (inspect/
 * load.h), changed as a customization says (the settings of an image, the
 * kernel command line, kernel modules, the image's history), and written
 * again in the input's layout: the same partitions in the same places with
 * the same GUIDs (or new ones), the same file system UUIDs and labels, the
 * boot code before the first partition as it was, the root partition grown
 * to a larger disk. Nothing is mounted and nothing runs as root.
 *
 *   customize.c  the order of the steps, the changes to the tree
 *   disk.c       the disk written from the changed tree */

#include <stdint.h>

#include "basic/diag.h"
#include "config/project.h"
#include "disk/container.h"
#include "inspect/load.h"

typedef struct CustomizeOutput {
        const char *path;    /* the file written */
        ImageFormat format;  /* a disk format (raw, vhd, vhdx, qcow2), tar or oci */
} CustomizeOutput;

typedef struct CustomizeOptions {
        const char *input;   /* the image file customized (never written) */
        const char *out_dir; /* the project's output directory (its repository, the [repos]' caches); NULL:
                              * a standalone configuration (remote repositories are fetched into a
                              * temporary directory) */
        const CustomizeOutput *outputs;
        size_t n_outputs;
        unsigned jobs;
} CustomizeOptions;

typedef struct CustomizeResult {
        const char *input_format;
        uint64_t input_size;   /* the input's virtual disk */
        uint64_t output_size;  /* the output's virtual disk */
        size_t n_partitions;
        size_t n_loaded;       /* partitions whose file systems were read and written again */
        size_t n_entries;      /* files, directories, ... read */
        size_t n_cmdline_files; /* boot loader files whose command line changed */
        size_t n_labelled;
        size_t n_installed;    /* packages installed (new or newer versions) */
        size_t n_removed;      /* installed packages that left (removed or replaced) */
        size_t n_scriptlets_run;
        char *selinux_policy;
        uint64_t sizes[8];     /* bytes written, per output */
} CustomizeResult;

void customize_result_release(CustomizeResult *r);

/* Customizes o->input as c says (p: its project, whose source_date_epoch
 * times everything changed; when it came from no configuration and no
 * SOURCE_DATE_EPOCH, it becomes the newest mtime of the input's files, so
 * the same input and configuration give the same bytes) and writes every
 * output, all or none. Problems
 * are errors in d naming the file, partition or configuration key; -EINVAL
 * then. */
int customize_image(Project *p, const Customization *c, const CustomizeOptions *o, Diagnostics *d,
                    CustomizeResult *ret);

/* The customization's package changes applied to *t (packages.c): see
 * there. cache_dir: where the project's repository (cache_dir/repo) and the
 * remote repositories' caches are. */
int customize_packages(Project *p, const Customization *c, Tree **t, const char *cache_dir, unsigned jobs,
                       Diagnostics *d, CustomizeResult *res);

/* The disk of l written from tree t to path in format f (customize/disk.c).
 * size: the new virtual size (0: the input's; larger: the last partition,
 * when it holds a file system read into t, grows to fill it). reset_uuids:
 * new partition GUIDs, disk GUID and file system UUIDs derived from seed
 * (the tree's references to the old ones, in /etc/fstab and the boot
 * loader's files, must have been changed by the caller: customize_uuids()). */
typedef struct CustomizeDiskOptions {
        uint64_t size;
        uint8_t seed[32];
        int64_t time;
        unsigned jobs;
} CustomizeDiskOptions;

int customize_write_disk(const LoadedImage *l, const Tree *t, const CustomizeDiskOptions *o, DiskFormat f,
                         const char *path, const char *tmpdir, Diagnostics *d);

/* New partition GUIDs, disk GUID and file system UUIDs for l (from seed),
 * written into l, and every mention of the old ones in t's /etc/fstab, boot
 * loader entries, grub.cfg and /etc/kernel/cmdline changed to the new. */
int customize_uuids(LoadedImage *l, Tree *t, const uint8_t seed[32], int64_t mtime);
