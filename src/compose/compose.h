/* SPDX-License-Identifier: MIT */
#pragma once

/* Composing an image: its packages resolved against the sources, fetched
 * and checked, installed into a tree in dependency order with an rpmdb, the
 * image's settings applied, SELinux labels set; then the tree written in the
 * image's archive formats (oci, tar, wsl, cpio). */

#include <stdbool.h>
#include <stddef.h>

#include "basic/diag.h"
#include "compose/source.h"
#include "config/project.h"
#include "tree/tree.h"

typedef struct ComposeResult {
        Tree *tree;
        char **packages;        /* NEVRAs, in install order */
        size_t n_packages;
        char **scriptlets;      /* NEVRAs of packages whose scriptlets were not run */
        size_t n_scriptlets;
        char *selinux_policy;   /* the policy the tree was labelled with, or NULL */
        size_t n_labelled;
} ComposeResult;

void compose_result_release(ComposeResult *r);

/* Builds the tree of image im from the (opened) sources; jobs: parallel
 * fetches. Problems go to d as errors naming the package, capability or
 * configuration key; -EINVAL then. */
int compose_image(const Project *p, const Image *im, const Source *sources, size_t n_sources, unsigned jobs,
                  Diagnostics *d, ComposeResult *ret);

/* The output files of an image's archive formats, OUT_DIR/images/NAME.EXT. */
typedef struct ImageOutput {
        ImageFormat format;
        char *path;   /* the file (or, for oci, the layout directory) */
        char *path2;  /* oci: the oci-archive; NULL otherwise */
        uint64_t size; /* bytes written (oci: the archive) */
} ImageOutput;

typedef struct ImageOutputOptions {
        bool cpio_gzip; /* cpio: .cpio.gz rather than .cpio.zst */
        unsigned jobs;  /* compression threads (the bytes do not depend on it) */
} ImageOutputOptions;

/* Writes every format of im (oci, tar, wsl, cpio, the disks raw, vhd, vhdx,
 * qcow2, and iso; the disks and the ISO with their boot files) from the tree into
 * images_dir. Each
 * output is written to a temporary name and renamed; on failure no output
 * of this call is left at its final path (earlier ones were not touched).
 * *ret holds what was written. The tree may be changed for a format and
 * restored (wsl adds /etc/wsl.conf and /etc/wsl-distribution.conf). */
int image_write_archives(Tree *t, const Project *p, const Image *im, const char *images_dir,
                         const ImageOutputOptions *o, Diagnostics *d, ImageOutput **ret, size_t *ret_n);

void image_outputs_free(ImageOutput *o, size_t n);
