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
 *   scripts.c    the customization's scripts, run in the sandbox
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
        size_t n_scripts[_SCRIPT_STAGE_MAX]; /* scripts run, per stage */
        char *selinux_policy;
        uint64_t sizes[8];     /* bytes written, per output */
        /* The packages installed, for the SBOM: NEVRA, the SHA-256 of the
         * file as fetched and its URL (NULL where not known). */
        char **fetched_nevra;
        char **fetched_sha256;
        char **fetched_url;
        size_t n_fetched;
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

/* Runs the scripts of c of that stage (a script without a stage is
 * "post-customization"), in their order, in the sandbox (sandbox.h) whose
 * root is the tree staged once for them all: each as INTERPRETER /dev/fd/3
 * ARGS..., its text (content, or the file path of the project directory) on
 * descriptor 3, in /, with PATH, HOME, LANG and SOURCE_DATE_EPOCH unless its
 * env sets them, under c's scriptlet-timeout. Then the staged tree, with
 * the owners, devices and security.* xattrs the scripts set, replaces *t
 * (files they did not touch keep their contents; times they changed are
 * clamped to p's SOURCE_DATE_EPOCH). What a script prints is a note in d; a
 * script that cannot run, fails or runs out of time is one error naming it,
 * with its status and the last lines it printed, and the scripts after it
 * do not run: -EINVAL, *t untouched. No script of the stage: nothing is
 * staged. */
int customize_run_scripts(const Project *p, const Customization *c, ScriptStage stage, Tree **t, Diagnostics *d,
                          size_t *ret_n_run);

/* New partition GUIDs, disk GUID and file system UUIDs for l (from seed),
 * written into l, and every mention of the old ones in t's /etc/fstab, boot
 * loader entries, grub.cfg and /etc/kernel/cmdline changed to the new. */
int customize_uuids(LoadedImage *l, Tree *t, const uint8_t seed[32], int64_t mtime);
