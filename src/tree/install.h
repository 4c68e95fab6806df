/* SPDX-License-Identifier: MIT */
#pragma once

/* Installing RPM packages into a tree, as rpm would into an empty root, without
 * running anything: the payload (cpio newc, gzip/zstd/xz) is unpacked with the
 * header's modes, owners (names mapped through the tree's /etc/passwd and
 * /etc/group, unknown names becoming root as rpm does), mtimes, symlinks,
 * hard links and device nodes. %ghost files are not created (rpm only
 * records them). */

#include <stdbool.h>

#include "basic/diag.h"
#include "rpm/files.h"
#include "rpm/package.h"
#include "tree/tree.h"

typedef struct InstallResult {
        RpmPackage *pkg;     /* the package's headers (for the rpmdb) */
        char *nevra;         /* name-[epoch:]version-release.arch */
        bool has_scriptlets; /* %pre, %post, triggers ...: header_has_scriptlets() */
        size_t n_files;      /* nodes written */
} InstallResult;

void install_result_release(InstallResult *r);

/* Installs the package at path. Conflicts (a path another package installed
 * with different contents, type, mode or owner) and payload paths that would
 * leave the root are errors reported to d, naming the package(s), and give
 * -EINVAL; a malformed package gives -EBADMSG (reported too). The tree is
 * left with whatever was installed before the failing file. */
int tree_install_rpm(Tree *t, const char *path, Diagnostics *d, InstallResult *ret);

/* The same in two steps, so that the expensive one (reading, checking and
 * decompressing the package, parsing its payload) can run for many packages
 * at once: rpm_unpack() touches no tree and is safe to call from several
 * threads; it always gives *ret (free it with rpm_unpacked_free()), whose
 * failure tree_install_unpacked() reports (then returns the same error).
 * File contents are slices of the decompressed payload, not copies. */
typedef struct RpmUnpacked RpmUnpacked;
int rpm_unpack(const char *path, RpmUnpacked **ret);
const char *rpm_unpacked_error(const RpmUnpacked *u); /* NULL if none */
int tree_install_unpacked(Tree *t, RpmUnpacked *u, Diagnostics *d, InstallResult *ret);
RpmUnpacked *rpm_unpacked_free(RpmUnpacked *u);
/* For readers of a package's contents (the hardening check): its files,
 * in header order, and the contents of file i (NULL: none, or not a
 * regular file); both live as long as u. Only after rpm_unpack() succeeded. */
const RpmFileList *rpm_unpacked_files(const RpmUnpacked *u);
const TreeBlob *rpm_unpacked_content(const RpmUnpacked *u, size_t i);

/* Payloads whose stated uncompressed size is above this (64 MiB by
 * default), or unknown, are decompressed into a private unlinked file in
 * $TMPDIR (or /var/tmp), read in pieces, and the files' contents stay there
 * (blobs in a file, tree.h): memory does not grow with a package's size.
 * Smaller ones go into memory, which is faster. For tests and benchmarks;
 * not thread-safe with rpm_unpack(). */
void rpm_unpack_set_spool_min(uint64_t bytes);
