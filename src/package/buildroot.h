/* SPDX-License-Identifier: MIT */
#pragma once

/* Buildroots: the clean roots spec components build in (buildroot mode,
 * docs/packaging.md), as mock makes them for Fedora and Azure Linux.
 *
 * A buildroot holds [build] buildroot (the base set: a shell, coreutils,
 * gcc, make, rpm-build, the distribution's macro package, ...) and the
 * component's BuildRequires, with everything they require, resolved with
 * libsolv against the project's own packages (those of the components the
 * build needs, which win over the same from elsewhere) and the [repos];
 * installed as an image is (scriptlets run in the sandbox, an rpm database
 * written), and staged into a directory of the output's cache:
 * OUT/cache/buildroots/KEY, where KEY is the SHA-256 of the exact packages
 * (their checksums, in install order), SOURCE_DATE_EPOCH and slipway's
 * version. A second build with the same packages reuses the directory
 * (mock's root cache, without unpacking anything): builds see it read-only,
 * with their own /builddir, /tmp and /var/tmp bound over it. */

#include <stdbool.h>
#include <stddef.h>

#include "basic/diag.h"
#include "config/project.h"
#include "solve/solve.h"

typedef struct Buildroots Buildroots;

/* For one `slipway package` run: opens the [repos] (their problems go to d,
 * -EINVAL). out_dir: absolute. */
int buildroots_new(const Project *p, const char *out_dir, unsigned jobs, Diagnostics *d, Buildroots **ret);
Buildroots *buildroots_free(Buildroots *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(Buildroots *, buildroots_free);

/* What this run did: buildroots made, and reused from the cache. */
void buildroots_counts(const Buildroots *b, size_t *ret_made, size_t *ret_reused);

/* Whether the [repos] provide each spec (ret_provided[i]): the check of
 * BuildRequires before any build. */
int buildroots_repos_provide(Buildroots *b, const char *const *specs, size_t n, bool *ret_provided);

/* One buildroot's packages, resolved. */
typedef struct Buildroot {
        SolvedPackage *pkgs; /* in install order */
        size_t n;
        char key[65];        /* its cache key */
} Buildroot;

void buildroot_release(Buildroot *b);

/* Resolves specs (dependency strings: the base set, then BuildRequires)
 * against project_rpms (file names in OUT/repo/Packages that this build may
 * use) and the [repos]. -EINVAL with *ret_error (one line per problem,
 * naming the capability and the package that needs it) when they cannot be
 * met. component: for messages. Thread-safe. */
int buildroot_resolve(Buildroots *b, const char *component, char *const *project_rpms, size_t n_project_rpms,
                      const char *const *specs, size_t n_specs, Buildroot *ret, char **ret_error);

/* The directory of the buildroot br (in the cache), made now if it is not
 * there: packages fetched and checked, installed, scriptlets run, staged.
 * *ret_made tells which. project_rpms: as given to buildroot_resolve().
 * Failures: -errno with *ret_error saying why. Thread-safe: two builds
 * that need one buildroot make it once. */
int buildroot_open(Buildroots *b, const char *component, char *const *project_rpms, size_t n_project_rpms,
                   const Buildroot *br, char **ret_dir, bool *ret_made, char **ret_error);

/* Removes the buildroots in the cache that no build used for
 * BUILDROOT_KEEP_DAYS days (and not in use by another run), then the
 * shared file objects no buildroot links to any more. */
#define BUILDROOT_KEEP_DAYS 14
int buildroots_prune(Buildroots *b, size_t *ret_removed);

/* Mount points every buildroot has, for the build's own directories. */
#define BUILDROOT_BUILDDIR "/builddir"
