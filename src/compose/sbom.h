/* SPDX-License-Identifier: MIT */
#pragma once

/* An image's software bill of materials: what its rpm database says is
 * installed (one model, Sbom, read from the headers of rpmdb.sqlite by
 * sbom.c), written as a document of one format (spdx.c: SPDX 2.3 JSON).
 *
 * Both `slipway image` (OUT/images/NAME.spdx.json) and `slipway inspect
 * --sbom` build the model from the image's rpm database, so the two agree
 * on the packages by construction; a build adds what only it knows (the
 * digest of each package file as fetched, where it came from: SbomFetched).
 * Everything is sorted and nothing depends on the time or the host: the
 * same database and options give the same bytes. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/diag.h"
#include "basic/macro.h"

/* What a build knows of a package beyond its header. */
typedef struct SbomFetched {
        const char *nevra;  /* name-[epoch:]version-release.arch, as rpm -q prints it */
        const char *sha256; /* hex SHA-256 of the package file as fetched, or NULL */
        const char *url;    /* where it was downloaded from, or NULL (a local repository) */
} SbomFetched;

typedef struct SbomOptions {
        const char *name;       /* the document's and the image package's name */
        const char *version;    /* the image package's versionInfo, or NULL */
        const char *namespace_base; /* documentNamespace = BASE/DIGEST of the package set */
        const char *purl_namespace; /* for packages without a Vendor tag; NULL: none */
        const char *distro;     /* purl distro qualifier (os-release ID-VERSION_ID), or NULL */
        int64_t created;        /* SOURCE_DATE_EPOCH */
        bool files;             /* list each package's files */
        const SbomFetched *fetched; /* by NEVRA; may be NULL */
        size_t n_fetched;
} SbomOptions;

typedef struct SbomFile {
        char *path;
        const char *algo; /* SPDX algorithm name of the header's file digests ("SHA256") */
        char *digest;     /* hex */
} SbomFile;

typedef struct SbomPackage {
        char *nevra;
        char *name;
        char *evr;        /* [epoch:]version-release, as rpm prints it (no 0: epoch) */
        char *version;
        char *release;
        bool has_epoch;
        uint32_t epoch;
        char *arch;       /* NULL: none (gpg-pubkey) */
        char *license;    /* the License tag as it is */
        char *vendor;
        char *packager;
        char *url;
        char *summary;
        char *sourcerpm;
        char *header_sha256; /* the header's SHA256HEADER, or NULL */
        const SbomFetched *fetched; /* NULL: not known */
        size_t *depends;  /* indexes of the packages it requires, sorted, unique */
        size_t n_depends;
        SbomFile *files;  /* regular files with a digest, sorted by path */
        size_t n_files;
} SbomPackage;

typedef struct Sbom {
        SbomPackage *packages; /* sorted by NEVRA */
        size_t n_packages;
        char digest[65];       /* SHA-256 of the package set (NEVRAs and header digests) */
} Sbom;

Sbom *sbom_free(Sbom *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Sbom *, sbom_free);

/* The model of the rpm database data (an rpmdb.sqlite; it may be changed,
 * see rpmdb_read_memory()). Headers that cannot be read are warnings in d
 * and left out; -EBADMSG: no readable database (a warning in d). Package
 * to package dependencies: a Requires (not rpmlib(), not a scriptlet-only
 * one) that an installed package provides, by name or as a file path. */
int sbom_from_rpmdb(void *data, size_t size, const SbomOptions *o, Sbom **ret, Diagnostics *d);

/* The SPDX 2.3 JSON document of s (spdx.c), sorted keys, two-space indent,
 * a final newline. *ret is malloc'd. */
int sbom_write_spdx(const Sbom *s, const SbomOptions *o, char **ret, size_t *ret_size);

/* Both steps. */
int sbom_spdx_from_rpmdb(void *data, size_t size, const SbomOptions *o, char **ret, size_t *ret_size,
                         Diagnostics *d);
