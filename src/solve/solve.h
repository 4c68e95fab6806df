/* SPDX-License-Identifier: MIT */
#pragma once

/* Dependency resolution for images, through libsolv (the only module that
 * includes libsolv's headers). */

#include <stdbool.h>
#include <stddef.h>

#include "basic/diag.h"

/* One repository's package list: its primary.xml, decompressed. */
typedef struct SolveRepo {
        const char *name;    /* "project" or a [repos.NAME] name, for messages */
        const char *primary; /* primary.xml (not NUL-terminated necessarily) */
        size_t primary_len;
        int priority;        /* a higher priority wins when both offer a package */
} SolveRepo;

typedef struct SolveRequest {
        const char *image;          /* the image's name, for messages */
        const char *subject;        /* what messages start with ("buildroot of component 'hello'");
                                     * NULL: "image 'NAME'" */
        const char *const *specs;   /* the image's `packages`: dependency strings */
        size_t n_specs;
        const char *arch;           /* the project's architecture (x86_64, aarch64):
                                     * packages of that arch and noarch are installable */
        /* Changing what an image has installed (customize): its packages
         * (repo_installed_primary() fragments; NULL for a new image), the
         * names to erase and to update, and whether to update everything.
         * `specs` are then installed unless they are already. */
        const SolveRepo *installed;
        const char *const *erase;
        size_t n_erase;
        const char *const *update;
        size_t n_update;
        bool update_all;
} SolveRequest;

/* One package of the result. */
typedef struct SolvedPackage {
        char *name;
        char *evr;       /* [epoch:]version-release */
        char *arch;
        size_t repo;     /* index into the repos given */
        char *location;  /* <location href>, relative to the repository */
        char *checksum_type; /* "sha256" */
        char *checksum;      /* the package file's digest (pkgid), hex */
        uint64_t size;       /* <size package>: the file's size; 0 if not given */
        /* With SolveRequest.installed: an installed package that leaves (erased,
         * or replaced by a newer one of the result): its index among the
         * installed ones; the other fields but name, evr and arch are NULL. */
        bool erase;
        size_t installed;
} SolvedPackage;

/* Resolves req against the repositories. On success *ret holds every package
 * to install (with req->installed, then every installed package that
 * leaves, after them), in install order (a package after what it requires, as an rpm
 * transaction orders them; cycles broken as libsolv breaks them), and 0 is
 * returned. When the request cannot be met, each problem is reported to d as
 * one error and -EINVAL is returned:
 *   - a spec that nothing provides: "image 'vm': no package provides 'foo'";
 *   - a missing dependency: "image 'vm': nothing provides 'libfoo >= 2' needed by
 *     bar-1.0-1.x86_64 (required by baz-2-1.noarch, which 'baz' in packages brings in)"
 *     -- the chain runs from the package back to the image's list;
 *   - a conflict: naming both packages and the conflicting capability.
 * Other failures: -errno. */
int solve_image(const SolveRepo *repos, size_t n_repos, const SolveRequest *req, Diagnostics *d,
                SolvedPackage **ret, size_t *ret_n);

void solved_packages_free(SolvedPackage *p, size_t n);

/* Whether anything in the repositories provides each spec (by name,
 * provides or file list, with the version if the spec has one), for checks
 * before a solve: ret_provided[i] for specs[i]. Problems reading the
 * repositories go to d. */
int solve_provided(const SolveRepo *repos, size_t n_repos, const char *arch, const char *const *specs, size_t n_specs,
                   Diagnostics *d, bool *ret_provided);
