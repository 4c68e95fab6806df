/* SPDX-License-Identifier: MIT */
#pragma once

/* Building the project's components into RPMs: the build graph (spec
 * BuildRequires against every component's Provides), the cache, and the
 * parallel scheduler. Spec components go through rpmbuild (specbuild.c);
 * native components through slipway's own writer (native.c).
 *
 * Outputs under the output directory (default PROJECT/out):
 *   repo/Packages/   binary RPMs
 *   srpms/           source RPMs of spec components
 *   logs/NAME.log    one build log per component
 *   cache/           what the cache needs to skip unchanged components */

#include <stdbool.h>
#include <stddef.h>

#include "basic/diag.h"
#include "config/project.h"
#include "rpm/package.h"

typedef enum BuildStatus {
        BUILD_BUILT,   /* built in this run */
        BUILD_CACHED,  /* inputs unchanged: the earlier RPMs were kept */
        BUILD_FAILED,
        BUILD_SKIPPED, /* a component it needs failed */
        BUILD_MISSING, /* not built, and not in the caches (BuildOptions.cache_only, .one) */
        _BUILD_STATUS_MAX,
        _BUILD_STATUS_INVALID = -EINVAL,
} BuildStatus;

const char *build_status_to_string(BuildStatus s) _pure_;

typedef struct BuildResult {
        const Component *component;
        BuildStatus status;
        char **rpms;        /* file names in repo/Packages */
        size_t n_rpms;
        char *srpm;         /* file name in srpms/, spec components */
        char *log_path;
        char *reason;       /* failed or skipped: why, one line */
        double seconds;
        BuildMode mode;     /* spec components: where it builds; native: _BUILD_MODE_INVALID */
        bool fetched;       /* BUILD_CACHED: taken from the shared cache */
        char *warning;      /* something to tell that did not fail it (the shared cache's problems); NULL: none */
        char *key;          /* its cache key (computed once what it needs was done) */
        double last_seconds; /* how long its last build took, as recorded (0: unknown) */
        const Component **needs; /* the components that provide its BuildRequires */
        size_t n_needs;
        /* The hardening check of its packages (package/hardening.h), one
         * per RPM: built or cached, and failed by the check; NULL: not
         * checked (not built, or its packages are not here). */
        struct HardeningPackage *hardening;
        size_t n_hardening;
        double hardening_seconds; /* what the check took in this run */
} BuildResult;

typedef struct BuildReport {
        BuildResult *results; /* in the project's component order */
        size_t n;
        size_t n_built, n_cached, n_failed, n_skipped, n_missing;
        size_t n_fetched;     /* of n_cached: from the shared cache */
        size_t n_rpmbuild;    /* rpmbuild runs started */
        size_t n_buildroots_made, n_buildroots_reused; /* buildroot mode */
        size_t n_buildroots_pruned; /* unused for BUILDROOT_KEEP_DAYS: removed from the cache */
} BuildReport;

BuildReport *build_report_free(BuildReport *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(BuildReport *, build_report_free);

/* Called as each component finishes, from worker threads, one call at a time. */
typedef void (*BuildProgressFn)(const BuildResult *r, void *userdata);

typedef struct BuildOptions {
        const char *out_dir;       /* NULL: PROJECT/out */
        unsigned jobs;             /* parallel builds, >= 1 */
        char *const *only;         /* names to build (with what they need); NULL: all */
        size_t n_only;
        BuildProgressFn progress;
        void *userdata;
        /* Sign every RPM and SRPM built (NULL: unsigned). The key's
         * fingerprint is part of every cache key, so a new key re-signs. */
        const struct PgpKey *sign_key;
        uint32_t sign_time;
        /* slipway.lock: every upstream component's entry (the caller brings
         * it up to date first, upstream_lock_sync()). */
        const struct Lock *lock;
        /* The shared cache (remote.h): searched after the local one, and
         * (with [cache] push) given what is built. NULL: none. */
        struct RemoteCache *remote;
        /* Nothing is built: what the caches lack is BUILD_MISSING (and what
         * needs it BUILD_SKIPPED). The Slurm engine's plan and assembly. */
        bool cache_only;
        /* The one-component mode (a Slurm job): only this component may be
         * built; what it needs must be in the caches (else it is skipped),
         * and what it makes must reach the shared cache (else it fails). */
        const char *one;
} BuildOptions;

/* Builds the components. Problems found before any build starts (an unknown
 * name, a BuildRequires nothing provides, a dependency cycle, a spec rpmspec
 * cannot read) go to d and return -EINVAL without building. Otherwise returns
 * 0 with *ret filled, failures or not: see the report. */
int build_packages(const Project *p, const BuildOptions *o, Diagnostics *d, BuildReport **ret);

/* An RPM the project built: its file name in repo/Packages and the SHA-256
 * of the file as the build left it (signed). */
typedef struct BuiltRpm {
        char *file;
        char sha256[65];
} BuiltRpm;

/* What the project's repository may hold: the RPMs the last build of each
 * of the project's components made, as the build recorded them (in
 * OUT/cache/packages/NAME.json; a component never built, or removed from
 * the project, has none). out_dir NULL: PROJECT/out. Sorted by file name. */
int build_record_load(const Project *p, const char *out_dir, BuiltRpm **ret, size_t *ret_n);
void built_rpms_free(BuiltRpm *a, size_t n);

/* ---- internal interfaces between the build files ----------------------- */

/* Seconds on the monotonic clock, for durations. */
double build_clock(void);

typedef struct SpecInfo {
        char **packages;      /* binary package names */
        char **files;         /* their file names (NAME-VERSION-RELEASE.ARCH.rpm), n_packages of them */
        size_t n_packages;
        char *srpm;           /* the source package's file name */
        RpmDep *provides;
        size_t n_provides;
        RpmDep *buildrequires;
        size_t n_buildrequires;
        char **sources;       /* the file names of its Source and Patch tags */
        size_t n_sources;
} SpecInfo;

void spec_info_release(SpecInfo *s);

/* The build environment and macros common to rpmspec and rpmbuild. */
typedef struct BuildEnv {
        const Project *project;
        const char *out_dir;     /* absolute */
        char *const *envp;       /* fixed environment; HOME set per build */
        unsigned jobs;           /* threads a build may use (payload compression), >= 1 */
        struct Graph *graph;     /* the build's graph, for build_claim_output(); NULL: no claims */
        struct Buildroots *buildroots; /* buildroot mode: the run's buildroots (buildroot.h) */
} BuildEnv;

/* Before a component's built file is moved into the output: claims file
 * (a name in repo/Packages, or in srpms with srpm) for c. -EEXIST with
 * *ret_reason set when another component of the project makes that file, as
 * predicted by rpmspec or as built in this run: it is not to be overwritten. */
int build_claim_output(const BuildEnv *env, const Component *c, const char *file, bool srpm, char **ret_reason);

/* Queries the spec's packages, provides, BuildRequires and sources with
 * rpmspec: the host's, or with root (a buildroot's directory) the
 * buildroot's, in the sandbox, with the distribution's macros. */
int spec_query(const BuildEnv *env, const Component *c, const char *root, SpecInfo *ret, char **ret_error);

/* Runs rpmbuild -ba for c; on success the RPMs are moved into place and
 * their names returned. Failures: -errno, with a one-line reason. */
int spec_build(const BuildEnv *env, const Component *c, const char *log_path, char ***ret_rpms, size_t *ret_n,
               char **ret_srpm, char **ret_reason);

/* What a failed rpmbuild log says: the phase it failed in ("%prep",
 * "%build", "%install", "%check", "%generate_buildrequires", "file list"
 * for the %files checks; NULL if it cannot tell) and its first error line
 * (a compiler's, make's, rpmbuild's; NULL if none). Both malloc'd. */
int build_log_diagnose(const char *log, size_t size, char **ret_phase, char **ret_error);

/* What a buildroot-mode build may use: the project's packages (file names
 * in repo/Packages) of the components it needs, and what the buildroot
 * holds (the base set and the BuildRequires, as dependency strings); br:
 * those resolved (buildroot.h). */
typedef struct BuildrootInput {
        char *const *project_rpms;
        size_t n_project_rpms;
        const char *const *specs;
        size_t n_specs;
        const struct Buildroot *br;
} BuildrootInput;

/* As spec_build(), in buildroot mode: the SRPM built with rpmbuild -bs in
 * the buildroot, %generate_buildrequires resolved in rounds (each round's
 * new BuildRequires make a new buildroot), then the binary RPMs with
 * rpmbuild --rebuild of that SRPM. The log says which buildroot each step
 * used and whether it was made or reused. */
int spec_build_buildroot(const BuildEnv *env, const Component *c, const BuildrootInput *in, const char *log_path,
                         char ***ret_rpms, size_t *ret_n, char **ret_srpm, char **ret_reason);

/* Writes c's RPM with the native writer into repo/Packages. */
int native_build(const BuildEnv *env, const Component *c, const char *log_path, char ***ret_rpms, size_t *ret_n,
                 char **ret_reason);

/* What a native component provides: itself and its provides. */
int native_provides(const Project *p, const Component *c, RpmDep **ret, size_t *ret_n);
