/* SPDX-License-Identifier: MIT */
#pragma once

/* The shared build cache ([cache] url, docs/cluster.md): the local cache's
 * keys (build.c cache_key()) over plain HTTP, as sccache and bazel-remote
 * use one. Under the URL:
 *   ac/XX/KEY        the manifest of a build: what the component with that
 *                    cache key made (JSON, MANIFEST_FORMAT)
 *   ac/XX/KEY.sig    its OpenPGP signature, by [cache] key (optional)
 *   cas/XX/SHA256    a built file (RPM or SRPM, unsigned), by its SHA-256
 *   runs/RUN/NAME.json  what a Slurm job of run RUN said of component NAME
 * (XX: the first two hex digits.) Read with HEAD/GET, written with PUT.
 *
 * Nothing fetched is used unchecked: a manifest must name the key and the
 * component it was asked for, every file's SHA-256 and size are checked as
 * it arrives, and with [cache] trusted-keys a manifest is used only when
 * one of those keys signed it. Anything else is a miss (the component is
 * built), with the reason for the log. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/diag.h"
#include "config/project.h"

#define MANIFEST_FORMAT "slipway-cache-manifest-1"

typedef struct RemoteCache RemoteCache;

/* From [cache]: *ret NULL when the project has no url. The keys are loaded
 * now (their problems go to d at the key's position, -EINVAL). */
int remote_cache_new(const Project *p, Diagnostics *d, RemoteCache **ret);
RemoteCache *remote_cache_free(RemoteCache *rc);
DEFINE_TRIVIAL_CLEANUP_FUNC(RemoteCache *, remote_cache_free);

/* Whether builds put their results in ([cache] push). */
bool remote_cache_push(const RemoteCache *rc);
const char *remote_cache_url(const RemoteCache *rc);

typedef struct CachedFile {
        char *file;        /* its name in repo/Packages or srpms */
        char sha256[65];   /* of the file as built (unsigned) */
        uint64_t size;
} CachedFile;

typedef struct Manifest {
        CachedFile *rpms;
        size_t n_rpms;
        CachedFile srpm;   /* .file NULL: none */
        double seconds;    /* how long the build took (0: not said): the Slurm engine's order */
} Manifest;

void manifest_release(Manifest *m);

/* The manifest's text: what is signed and stored, the same bytes for the
 * same manifest. NULL: out of memory. */
char *remote_manifest_text(const char *key, const char *component, const Manifest *m);

/* Reads a manifest's text, which must be for key and component: -EBADMSG
 * with *ret_why (malloc'd) when it is not sound, -ENOMEM. */
int remote_manifest_parse(const char *text, const char *key, const char *component, Manifest *ret, char **ret_why);

/* The manifest of key for component. 1: found and sound; 0: a miss, with
 * *ret_why (malloc'd) set when something was there but refused (damaged,
 * for another key, unsigned); -EIO with *ret_why: the cache cannot be
 * reached. */
int remote_lookup(RemoteCache *rc, const char *key, const char *component, Manifest *ret, char **ret_why);

/* Downloads f to path (atomically), checked: -EBADMSG with *ret_error when
 * its size or SHA-256 differ (nothing is written), -ENOENT when the cache
 * lacks it, -EIO otherwise. */
int remote_fetch(RemoteCache *rc, const CachedFile *f, const char *path, char **ret_error);

/* Puts the files (paths[i] for m->rpms[i], then the SRPM's) and then the
 * manifest of key (signed with [cache] key if set): a reader never sees a
 * manifest before its files. Files the cache has (HEAD) are not sent again
 * unless overwrite (a copy found damaged). */
int remote_store(RemoteCache *rc, const char *key, const char *component, const Manifest *m,
                 const char *const *paths, bool overwrite, char **ret_error);

/* runs/RUN/NAME.json: put, and got (-ENOENT: not there). */
int remote_put_status(RemoteCache *rc, const char *run, const char *name, const char *json, char **ret_error);
int remote_get_status(RemoteCache *rc, const char *run, const char *name, char **ret, char **ret_error);
