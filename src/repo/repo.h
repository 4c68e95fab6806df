/* SPDX-License-Identifier: MIT */
#pragma once

/* dnf repositories: repodata/ with repomd.xml, primary, filelists and other,
 * as createrepo_c writes them (rules in docs/notes/repodata.md), optionally
 * signed (repomd.xml.asc), updated incrementally. */

#include <stdbool.h>
#include <stdint.h>

#include "basic/diag.h"
#include "rpm/header.h"
#include "sign/pgp.h"

/* One package's metadata: the three XML fragments and what identifies the
 * file they were made from. */
typedef struct RepoPackage {
        char *href;     /* location, relative to the repository */
        uint64_t size;
        int64_t mtime_ns;
        uint64_t ino;
        char pkgid[65]; /* SHA-256 of the file */
        char *primary;
        char *filelists;
        char *other;
} RepoPackage;

void repo_package_release(RepoPackage *p);

/* Reads the RPM at dir/href into *ret. Its primary <time file> is the file's
 * mtime clamped to max_time (the revision: SOURCE_DATE_EPOCH). A malformed
 * file: -EBADMSG with *ret_reason set (static string). */
int repo_package_read(const char *dir, const char *href, uint64_t max_time, RepoPackage *ret,
                      const char **ret_reason);

/* The primary.xml document of packages given by their primary fragments
 * (RepoPackage.primary, in this order), uncompressed, as a repository's
 * would decompress: for solving against packages that have no repository
 * metadata yet (buildroots). */
int repo_primary_document(const char *const *fragments, size_t n, char **ret, size_t *ret_len);

/* The primary fragment of an installed package (a header from an rpm
 * database), for solving against what an image has installed: name, arch,
 * version, dependencies and every file; its location is "installed/INDEX"
 * and its pkgid INDEX in hex, so the solver's answer maps back to it.
 * -EBADMSG for a header without name, version or release. */
int repo_installed_primary(const RpmHeader *h, size_t index, char **ret);

typedef enum RepoCompression {
        REPO_COMPRESS_GZIP,
        REPO_COMPRESS_ZSTD,
        _REPO_COMPRESS_MAX,
        _REPO_COMPRESS_INVALID = -EINVAL,
} RepoCompression;

/* A package the repository may hold: its location and the SHA-256 of the
 * file (64 hex digits). */
typedef struct RepoAllowed {
        const char *href;
        const char *sha256;
} RepoAllowed;

typedef struct RepoOptions {
        const char *dir;          /* the repository: *.rpm below it, repodata/ in it */
        /* With only_allowed, the repository holds these packages and nothing
         * else (a project's repository: what its build recorded). Any other
         * RPM, or one whose SHA-256 differs, is an error naming it, or with
         * prune is deleted (and named in a note). Sorted by href. */
        bool only_allowed;
        const RepoAllowed *allowed;
        size_t n_allowed;
        bool prune;
        const PgpKey *key;        /* secret key: sign repomd.xml; NULL: unsigned */
        const char *key_name;     /* the public key is written as DIR/RPM-GPG-KEY-<key_name> */
        uint64_t revision;        /* <revision>, timestamps and the most <time file> may be:
                                     SOURCE_DATE_EPOCH */
        RepoCompression compression;
        unsigned jobs;
} RepoOptions;

typedef struct RepoStats {
        size_t n_packages;
        size_t n_read;     /* parsed this run */
        size_t n_reused;   /* taken from the previous run */
        size_t n_removed;  /* in the previous metadata, gone now */
        size_t n_pruned;   /* not allowed: deleted (prune) */
        size_t n_chunks;   /* runs of packages compressed as one frame */
        size_t n_chunks_compressed; /* compressed this run (the others from the cache) */
        bool changed;      /* false: nothing was rewritten */
} RepoStats;

/* Indexes the repository. Bad packages go to d (each named) and the previous
 * metadata is left as it was. */
int repo_update(const RepoOptions *o, Diagnostics *d, RepoStats *ret);

/* The package files repo_update() indexes: *.rpm below dir (not *.src.rpm,
 * nothing in repodata/ or in hidden directories), as paths relative to dir,
 * sorted. */
int repo_scan_packages(const char *dir, char ***ret, size_t *ret_n);

/* ---- reading metadata (verify, tests, fuzzing) ---- */

typedef struct RepoMdData {
        char *type;          /* primary, filelists, other, ... */
        char *href;          /* relative to the repository */
        char *checksum_type; /* sha256, ... */
        char *checksum;      /* of the file as stored */
        uint64_t size;       /* <size>: of the file as stored; 0 if not given */
        uint64_t open_size;  /* <open-size>: decompressed; 0 if not given */
} RepoMdData;

typedef struct RepoPrimaryPackage {
        char *name;
        char *href;
        char *checksum_type;
        char *pkgid;
        char *arch;    /* optional: NULL if primary has none */
        char *epoch;   /* optional, as written: "0" */
        char *version; /* optional */
        char *release; /* optional */
} RepoPrimaryPackage;

/* A location from repository metadata that stays inside the repository:
 * relative, no ".." component, no scheme, no backslash. */
bool repo_href_safe(const char *href);

/* Parse repomd.xml / (decompressed) primary.xml. -EBADMSG: malformed. Free
 * with the _free_array functions. */
int repomd_parse(const char *data, size_t n, RepoMdData **ret, size_t *ret_n);
int primary_parse(const char *data, size_t n, RepoPrimaryPackage **ret, size_t *ret_n);
void repomd_free_array(RepoMdData *a, size_t n);
void primary_free_array(RepoPrimaryPackage *a, size_t n);
