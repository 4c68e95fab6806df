/* SPDX-License-Identifier: MIT */
#pragma once

/* Composing an image: its packages resolved against the sources, fetched
 * and checked, installed into a tree in dependency order with an rpmdb, the
 * image's settings applied, SELinux labels set; then the tree written in
 * every format of the image (output.c). */

#include <stdbool.h>
#include <stddef.h>

#include "basic/diag.h"
#include "compose/sbom.h"
#include "compose/source.h"
#include "solve/solve.h"
#include "config/project.h"
#include "tree/install.h"
#include "tree/rpmdb.h"
#include "tree/tree.h"

typedef struct ComposeResult {
        Tree *tree;
        char **packages;        /* NEVRAs, in install order */
        size_t n_packages;
        /* Per package, as packages: the hex SHA-256 of its file as fetched
         * and the URL it was downloaded from; NULL where unknown. */
        char **package_sha256;
        char **package_url;
        char **scriptlets;      /* NEVRAs of packages whose scriptlets were not run (scriptlets = "skip") */
        size_t n_scriptlets;
        size_t n_scriptlets_run; /* scriptlets, triggers and file triggers that ran */
        char *selinux_policy;   /* the policy the tree was labelled with, or NULL */
        size_t n_labelled;
} ComposeResult;

void compose_result_release(ComposeResult *r);

/* Builds the tree of image im from the (opened) sources; jobs: parallel
 * fetches. Problems go to d as errors naming the package, capability or
 * configuration key; -EINVAL then. */
int compose_image(const Project *p, const Image *im, const Source *sources, size_t n_sources, unsigned jobs,
                  Diagnostics *d, ComposeResult *ret);

/* The part of compose_image() after the solve: pkgs (solved against
 * sources, in install order) fetched, checked, installed with their
 * scriptlets run as im->scriptlets says, and the rpmdb written; no image
 * settings, no labels. For buildroots. */
int compose_packages(const Project *p, const Image *im, const Source *sources, const SolvedPackage *pkgs, size_t n,
                     unsigned jobs, Diagnostics *d, ComposeResult *ret);

/* Writes the rpm database of pkgs (tree/rpmdb.h rpmdb_write(), made on the
 * host and read in) to path in t: a file there keeps its mode and owner,
 * else it is 0644 in a 0755 directory, root's; mtime when. */
int tree_put_rpmdb(Tree *t, const char *path, const RpmdbPackage *pkgs, size_t n, int64_t when,
                   RpmdbFailure *ret_failure);

/* Fetches pkgs (solved against sources) in parallel, checks each (checksum,
 * signature as the source says) and unpacks it (rpm_unpack()): *ret holds
 * n unpacked packages (free each with rpm_unpacked_free(), then the array).
 * A package that fails is an error in d naming it and its repository
 * (-EINVAL); nothing is returned then. */
int compose_fetch(const Image *im, const Source *sources, const SolvedPackage *pkgs, size_t n, unsigned jobs,
                  Diagnostics *d, RpmUnpacked ***ret);

/* What an SBOM says of the package file pkg (solved against sources):
 * *ret_sha256 its hex SHA-256 if primary gave one (compose_fetch() checked
 * the file against it), *ret_url where a remote repository has it; each NULL
 * when not known. */
int compose_package_fetched(const Source *sources, const SolvedPackage *pkg, char **ret_sha256, char **ret_url);

/* A verity-protected partition of a disk output (partitions' verity = true):
 * what `veritysetup verify DATA HASH ROOTHASH` and the command line take. */
typedef struct ImageVerity {
        const char *mount;           /* "/" or "/usr" (the configuration's) */
        char root_hash[65];          /* SHA-256, lower-case hex */
        unsigned data_partition;     /* partition numbers, from 1 */
        unsigned hash_partition;
        char data_partuuid[37], hash_partuuid[37];
        double seconds;              /* the hash tree's computation */
} ImageVerity;
#define IMAGE_VERITY_MAX 2 /* "/" and "/usr" */

/* The output files of an image, OUT_DIR/images/NAME.EXT. */
typedef struct ImageOutput {
        ImageFormat format;
        char *path;   /* the file (or, for oci, the layout directory) */
        char *path2;  /* oci: the oci-archive; NULL otherwise */
        uint64_t size; /* bytes written (oci: the archive) */
        bool sbom;     /* the SBOM (NAME.spdx.json), not a format's output; format is then unset */
        double seconds; /* the SBOM: the time it took */
        ImageVerity verity[IMAGE_VERITY_MAX]; /* disks: their verity partitions */
        size_t n_verity;
} ImageOutput;

/* A disk whose boot files are in the tree already (`slipway customize`
 * repartitioning an image): the disk writer installs no boot loader and
 * writes the input's boot code instead. */
typedef struct DiskBootKeep {
        const uint8_t *mbr_code;  /* LBA 0's first 440 bytes (boot.img), or NULL */
        const uint8_t *gap;       /* the sectors from LBA 34 (GRUB's core.img), or NULL */
        size_t gap_size;
} DiskBootKeep;

typedef struct ImageOutputOptions {
        bool cpio_gzip; /* cpio: .cpio.gz rather than .cpio.zst */
        unsigned jobs;  /* compression threads (the bytes do not depend on it) */
        const DiskBootKeep *keep_boot; /* disks: the boot as it is (see above); NULL: installed from the tree */
        const SbomFetched *sbom_fetched; /* the SBOM: what the build knows of each package file */
        size_t n_sbom_fetched;
} ImageOutputOptions;

/* Writes every format of im from its finished tree t, which no writer
 * changes (compose/writer.h): each output is the same whatever else the
 * image lists. Every output is written under a temporary name beside its
 * final path (images_dir/NAME.EXT; the SBOM, unless im->sbom is "none",
 * images_dir/NAME.spdx.json, listed last in *ret) and all are renamed into place only when
 * all succeeded; on failure no new file is left at any final path of the
 * image and earlier outputs are as they were. *ret holds what was written. */
int image_write_outputs(const Tree *t, const Project *p, const Image *im, const char *images_dir,
                        const ImageOutputOptions *o, Diagnostics *d, ImageOutput **ret, size_t *ret_n);

void image_outputs_free(ImageOutput *o, size_t n);
