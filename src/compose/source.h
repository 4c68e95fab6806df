/* SPDX-License-Identifier: MIT */
#pragma once

/* Where an image's packages come from: the project's own repository (OUT/repo)
 * and the [repos.NAME] repositories, local (file://) or remote (http(s)://,
 * fetched with libcurl into a cache directory). A source checks what it
 * hands out: repomd.xml against its signature (repomd.xml.asc) when a key
 * is given, every metadata file and package against the checksums that
 * signed repomd.xml lists, and, with gpgcheck, every package's header
 * signature against the key. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/diag.h"
#include "config/project.h"
#include "sign/pgp.h"

typedef struct Source {
        char *name;       /* "project" or the [repos.NAME] name, for messages */
        char *url;        /* as configured (messages) */
        char *dir;        /* a local repository: its directory; NULL for remote */
        char *base;       /* a remote repository: its URL, ending in '/' */
        char *cache;      /* a remote repository: OUT/cache/NAME */
        const PgpKey *key; /* the key to check against; NULL: nothing is checked */
        bool gpgcheck;    /* package signatures are checked (requires key) */
        bool signed_md;   /* repomd.xml must carry a good repomd.xml.asc (requires key) */
        const char *remedy; /* static: appended to a failed signature check's error (how to fix it) */
        /* Filled by source_open(): */
        uint8_t *primary; /* primary.xml, decompressed */
        size_t primary_len;
} Source;

void source_release(Source *s);

/* Reads (or downloads) repomd.xml, checks its signature if signed_md, then
 * the primary metadata and its checksum. Problems are reported to d as one
 * error naming the repository and what is wrong; -EINVAL then. */
int source_open(Source *s, Diagnostics *d);

/* The most that is downloaded of a file fetched before anything checks it:
 * repomd.xml, repomd.xml.asc, a repository's key (they are some kB). */
#define SOURCE_UNVERIFIED_MAX ((uint64_t) 4 << 20)
/* The most that is downloaded of a metadata file or package whose size the
 * metadata does not state. */
#define SOURCE_UNSIZED_MAX ((uint64_t) 1 << 30)

/* A package of the source, by its location and the checksum and size (0:
 * unknown) primary gives: a local path (in the repository, or downloaded into the cache; a cached
 * copy with the right checksum is not downloaded again). The file's
 * checksum is checked, and with gpgcheck its signature and digests. *ret
 * is malloc'd. On -EINVAL, *ret_error (malloc'd) says what is wrong, without
 * naming the package (the caller does). Safe to call from several threads
 * for one source. */
int source_fetch(const Source *s, const char *href, const char *checksum_type, const char *checksum, uint64_t size,
                 char **ret, char **ret_error);

/* A project's sources, opened, with the keys they check against. */
typedef struct SourceSet {
        Source *items;
        size_t n;
        PgpKey **keys;
        size_t n_keys;
} SourceSet;

void source_set_release(SourceSet *s);

/* Opens the project's repository (OUT/repo, checked against [signing] key)
 * when with_project, then the [repos] in configuration order (their
 * caches in OUT/cache/NAME). Problems go to d, all of them; -EINVAL then. */
int source_set_open(const Project *p, const char *out, bool with_project, SourceSet *s, Diagnostics *d);
