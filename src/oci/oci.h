/* SPDX-License-Identifier: MIT */
#pragma once

/* OCI images (OCI image-spec v1.0: image layout, manifest, config, index),
 * written from one uncompressed layer tarball. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct OciConfig {
        const char *const *entrypoint; /* NULL-terminated or NULL */
        const char *const *cmd;
        const char *const *env;        /* "NAME=VALUE" */
        const char *const *label_keys; /* parallel to label_values */
        const char *const *label_values;
        size_t n_labels;
        const char *user;    /* NULL: not set */
        const char *workdir; /* NULL: not set */
        const char *architecture; /* OCI/Go name: amd64, arm64, ... */
        const char *tag;     /* org.opencontainers.image.ref.name of the manifest */
        int64_t created;     /* SOURCE_DATE_EPOCH: config "created" and history */
        unsigned jobs;       /* threads compressing the layer (the bytes do not depend on it) */
} OciConfig;

/* Writes an OCI image layout directory at dir (oci-layout, index.json,
 * blobs/sha256/...) and, if archive is not NULL, the same layout as an
 * oci-archive tarball at archive; dir may be NULL when only the archive is
 * wanted. The layer is layer_tar (an uncompressed tar of the root filesystem)
 * compressed with gzip (members of 4 MiB of input each, made in parallel); its diff_id is the digest of layer_tar. Both outputs
 * are written beside their final paths and renamed into place (a failure
 * leaves neither a partial dir nor archive, and previous ones as they were).
 * An existing dir is replaced only if it is an image layout (has an
 * oci-layout file) or empty: else -ENOTEMPTY, or -ENOTDIR for a non-directory.
 * -EINVAL: no architecture, a tag outside the ref grammar of annotations.md,
 * an Env entry without NAME=, duplicate label keys, invalid UTF-8. -ERANGE:
 * created negative or after 9999. The bytes depend only on the inputs. */
int oci_write(const char *dir, const char *archive, const OciConfig *c, const void *layer_tar, size_t layer_len);
/* The same with the layer tar in a file: layer_len bytes from the start of
 * layer_fd, read in pieces (its digest, then its compression into a private
 * temporary file beside the outputs), so that the layer is never whole in
 * memory. The bytes are oci_write()'s. */
int oci_write_fd(const char *dir, const char *archive, const OciConfig *c, int layer_fd, uint64_t layer_len);

/* True if s is a reference name in the grammar of annotations.md
 * ("org.opencontainers.image.ref.name"), which oci_write() takes as a tag:
 * components of letters and digits joined by one of - . _ : @ + (or "--"),
 * separated by '/'. The project loader checks image tags with it. */
bool oci_ref_name_valid(const char *s);

