/* SPDX-License-Identifier: MIT */
#pragma once

/* The one verification of repositories and packages, and its one policy,
 * used by `slipway verify` and by the sources of `slipway image`:
 *   - checksums (repomd.xml's of the metadata, primary's of each package)
 *     must be sha256 or sha512; sha1, md5 and anything else are refused;
 *   - repomd.xml.asc must be a good signature by the trusted key;
 *   - a package's header and payload digests must match, and its header
 *     signature must be good and by the trusted key.
 * Each check returns 0, or -EINVAL with *ret_error (malloc'd) saying what is
 * wrong with the file, without naming it ("not signed", "missing"): the
 * caller says which file; other -errno: out of memory. */

#include <stdbool.h>
#include <stddef.h>

#include "basic/hash.h"
#include "sign/pgp.h"

/* The digest of a metadata checksum type: sha256 or sha512; -EOPNOTSUPP
 * for any other (sha1, sha, md5, unknown). */
int repo_checksum_algo(const char *type, HashAlgo *ret);

/* Decompresses a metadata file (gzip, zstd, or plain) into a NUL-terminated
 * buffer: with open_size (repomd.xml's <open-size>, 0: not given) of at most
 * 1 GiB, into a buffer of that size and no more (-EFBIG if the data holds
 * more); otherwise as decompress_any() does (at most 1 GiB). -EBADMSG:
 * corrupt. */
int repo_metadata_decompress(const void *data, size_t n, uint64_t open_size, uint8_t **ret, size_t *ret_len);

/* The file at path has checksum want of type. A missing file is -EINVAL
 * ("missing"). */
int repo_check_file(const char *path, const char *type, const char *want, char **ret_error);

/* The signature sig (armored or binary; NULL: there is none) of repomd.
 * With sig NULL: -ENODATA and a message (callers that allow unsigned
 * metadata treat it as a pass). */
int repo_check_repomd(const PgpKey *key, const void *repomd, size_t n, const void *sig, size_t sig_len,
                      char **ret_error);

/* The package file's digests and its signature by key. An unsigned package
 * is -ENODATA with a message (a pass where unsigned packages are allowed).
 * repo names the repository in messages, or NULL. */
int repo_check_package(const PgpKey *key, const char *path, const char *repo, char **ret_error);

/* ---- a local repository, checked whole (slipway verify) ---- */

typedef struct RepoCheck {
        char *path;   /* the file the result is about */
        char *error;  /* NULL: it passed */
        bool unsigned_allowed; /* passed without a signature (allow_unsigned) */
} RepoCheck;

typedef struct RepoVerifyResult {
        RepoCheck *checks; /* in the order checked: repomd.xml, its signature, metadata files, packages */
        size_t n;
        size_t n_failed;
} RepoVerifyResult;

void repo_verify_result_release(RepoVerifyResult *r);

/* Checks the repository in dir: repomd.xml and its signature, every
 * metadata file's checksum, every package primary lists (checksum,
 * digests, signature), and that every package file below dir is listed
 * (repo_scan_packages()). allow_unsigned: a missing repomd.xml.asc or an
 * unsigned package passes (marked so). Results are appended to *r; -ENOMEM
 * is the only failure (problems are results). */
int repo_verify_dir(const PgpKey *key, const char *dir, bool allow_unsigned, RepoVerifyResult *r);

/* Checks one package file the same way, appending to *r. */
int repo_verify_package(const PgpKey *key, const char *path, bool allow_unsigned, RepoVerifyResult *r);
