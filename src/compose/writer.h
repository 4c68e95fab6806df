/* SPDX-License-Identifier: MIT */
#pragma once

/* The image writers behind `slipway image` (compose/output.c holds the one
 * table of them and the one publishing step). A writer reads the image's
 * frozen tree and writes its output(s) to the temporary paths it is given;
 * it never changes the tree: one that needs more (a disk's /etc/fstab and
 * boot files, the ISO's live root, WSL's two files) works on its own
 * tree_clone(). Adding a format = one file with its writer + one row in
 * output.c's table + its tests. */

#include <stdbool.h>
#include <stdint.h>

#include "basic/diag.h"
#include "compose/compose.h"
#include "config/project.h"
#include "tree/tree.h"

typedef struct WriterContext {
        const Tree *tree; /* frozen */
        const Project *p;
        const Image *im;
        const char *images_dir;
        const ImageOutputOptions *o;
        Diagnostics *d;
} WriterContext;

/* One output of a format: where to write it, and what was written. */
typedef struct WriterSlot {
        ImageFormat format;
        const char *tmp;  /* the file, or the directory (created empty) */
        const char *tmp2; /* the second file of a format with two (oci: the archive) */
        uint64_t size;    /* set by the writer: bytes written (disks: the virtual size) */
        ImageVerity verity[IMAGE_VERITY_MAX]; /* set by the disk writer: its verity partitions */
        size_t n_verity;
} WriterSlot;

typedef struct ImageWriter {
        ImageFormat format;
        const char *extension;  /* NAME.EXTENSION */
        bool directory;         /* the output is a directory ... */
        const char *marker;     /* ... which an existing one is replaced only if it holds this file */
        const char *extension2; /* a second file, or NULL */
        /* Writes every slot given (the rows sharing one function are called
         * once, with all of theirs: the disk formats share their file
         * systems). Input problems go to c->d (-EINVAL). */
        int (*write)(const WriterContext *c, WriterSlot *slots, size_t n);
} ImageWriter;

/* The compressed tar of tree t written to path (zstd, or gzip with gzip);
 * *ret_size: bytes written. Shared by tar and wsl. */
int writer_stream_tar(const Tree *t, const char *path, bool gzip, unsigned jobs, uint64_t *ret_size);

/* The tree as a newc cpio, compressed for an initrd (zstd level 19, or gzip),
 * appended to fd as it is made; *ret_size (optional): bytes written. */
int writer_stream_cpio(const Tree *t, int fd, bool gzip, unsigned jobs, uint64_t *ret_size);

int writer_tar(const WriterContext *c, WriterSlot *slots, size_t n);
int writer_wsl(const WriterContext *c, WriterSlot *slots, size_t n);
int writer_cpio(const WriterContext *c, WriterSlot *slots, size_t n);
int writer_oci(const WriterContext *c, WriterSlot *slots, size_t n);
int writer_disk(const WriterContext *c, WriterSlot *slots, size_t n); /* compose/disk.c */
int writer_iso(const WriterContext *c, WriterSlot *slots, size_t n);  /* compose/live.c */

/* The image's SBOM (im->sbom not "none") as SPDX 2.3 JSON to path, from the
 * rpm database in c->tree (compose/out-sbom.c); *ret_size: bytes written.
 * Not a format: every image has one beside its formats' outputs. */
int image_write_sbom(const WriterContext *c, const char *path, uint64_t *ret_size);

/* The rpm database of t (inspect_rpmdb_paths' first regular file), or NULL. */
const TreeNode *tree_sbom_rpmdb(const Tree *t);

/* The SPDX 2.3 JSON of t's rpm database, as o says (o->distro, when NULL,
 * from t's os-release), to path; *ret_size: bytes written. The SBOM's
 * warnings go to d, prefixed by what (an unreadable database: an error
 * there, -EINVAL). No rpm database: -ENOENT, nothing written or said. Both
 * image_write_sbom() and `slipway customize` write theirs with it. */
int tree_write_sbom(const Tree *t, const SbomOptions *o, const char *what, const char *path, uint64_t *ret_size,
                    Diagnostics *d);
