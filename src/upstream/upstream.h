/* SPDX-License-Identifier: MIT */
#pragma once

/* Upstream components (docs/upstream.md): a component whose spec and sources
 * come from a dist-git repository (Fedora's layout: NAME.spec, patches, a
 * `sources` file naming the archives kept in a lookaside cache) at a commit
 * recorded in slipway.lock, changed by overlays, and then built like a
 * local spec.
 *
 * One file per concern, all behind this header:
 *   settings.c  the effective settings (component, its group, [distro])
 *   lock.c      slipway.lock
 *   sources.c   the dist-git `sources` file
 *   distgit.c   dist-git repositories through libgit2 (opened with dlopen())
 *   lookaside.c the lookaside cache: URLs, downloads, hash checks
 *   spec.c      a spec file as sections, lines and tags, for overlays
 *   overlay.c   the overlay kinds, check-skip and the Release change
 *   render.c    a component's tree as it is built
 *   diff.c      unified diffs of texts and trees (`slipway diff`) */

#include <stdbool.h>
#include <stddef.h>

#include "basic/diag.h"
#include "basic/strbuf.h"
#include "config/project.h"

/* ---- effective settings (settings.c) ----------------------------------------- */

typedef struct UpstreamSettings {
        const char *pkg;            /* the upstream name ($pkg) */
        char *url;                  /* the dist-git template with $pkg replaced */
        const char *lookaside;      /* the lookaside template, or NULL */
        const char *branch;         /* NULL: the repository's default branch (its HEAD) */
        const char *commit;         /* a pinned commit (7 to 40 hex digits), or NULL */
        ReleaseMode release_mode;
        const char *release_suffix; /* with RELEASE_SUFFIX */
        SourcePos url_pos;          /* where the dist-git setting was written */
} UpstreamSettings;

/* c's settings: each from c itself, else its group, else [distro]. */
int upstream_settings(const Project *p, const Component *c, UpstreamSettings *ret);
void upstream_settings_release(UpstreamSettings *s);

/* Where fetched things are kept (OUT/cache/upstream/git and .../lookaside). */
typedef struct UpstreamCaches {
        const char *git;       /* dist-git mirrors */
        const char *lookaside; /* the content-addressed source store */
} UpstreamCaches;

/* ---- slipway.lock (lock.c) ----------------------------------------------------- */

typedef struct LockSource {
        char *file;     /* a file name, no '/' */
        char *hashtype; /* lower case: "sha512", "sha256", "sha1", "md5" */
        char *hash;     /* lower-case hex, as long as hashtype's digest */
} LockSource;

typedef struct LockEntry {
        char *name;     /* the component */
        char *url;      /* the dist-git repository it was resolved in */
        char *branch;   /* the branch it follows, NULL when the component pins a commit */
        char *commit;   /* 40 hex digits */
        LockSource *sources; /* the `sources` file at commit, in its order */
        size_t n_sources;
        SourcePos pos;  /* where the entry stands in slipway.lock (for messages) */
} LockEntry;

/* The branch recorded for a component that follows its repository's default branch. */
#define LOCK_DEFAULT_BRANCH "HEAD"

typedef struct Lock {
        LockEntry *items; /* sorted by name */
        size_t n;
        char *path;
} Lock;

/* Reads path; a missing file is an empty lock. Errors (file:line:column)
 * go to d; returns -EINVAL if there were any. */
int lock_load(const char *path, Lock **ret, Diagnostics *d);
/* Writes the lock to its path, atomically, sorted by name: the same
 * entries always give the same bytes. */
int lock_save(const Lock *l);
LockEntry *lock_find(const Lock *l, const char *name);
/* Puts e in place of the entry of the same name (or adds it); takes its
 * contents (e is zeroed). */
int lock_set(Lock *l, LockEntry *e);
/* Drops the entry of name, if any. */
void lock_remove(Lock *l, const char *name);
void lock_entry_release(LockEntry *e);
int lock_entry_copy(const LockEntry *e, LockEntry *ret);
Lock *lock_free(Lock *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(Lock *, lock_free);

/* ---- resolving settings into the lock (resolve.c) ---------------------------- */

/* c's lock entry as its settings resolve now: the commit its branch points
 * at (fetched first with fetch, or when there is no mirror yet) or its
 * pinned commit, and the sources file there. Errors go to d at the key
 * they are about (-EINVAL). */
int upstream_resolve(const Project *p, const Component *c, const UpstreamCaches *caches, bool fetch, LockEntry *ret,
                     Diagnostics *d);

typedef struct LockChange {
        char *name;
        char *old_commit;     /* NULL: newly locked */
        char *new_commit;     /* NULL: removed */
        char *branch;
        bool sources_changed;
        bool removed;         /* the component is gone (or no longer upstream) */
} LockChange;

/* Brings l up to date with the project. With update, the upstream
 * components named (all if n_names is 0) are resolved again, their branches
 * fetched: the lock moves. Without, only components the lock lacks or whose
 * entry no longer matches their settings (another dist-git, branch or
 * pinned commit) are resolved, from the mirrors as they are; with locked
 * that is an error instead. Entries of components no longer in the project
 * are dropped (unless locked, or update names components). What changed
 * is returned (*ret, *ret_n). l is changed in memory only; the caller saves
 * it, and does not when this fails. */
int upstream_lock_sync(const Project *p, Lock *l, const UpstreamCaches *caches, char *const *names, size_t n_names,
                       bool update, bool locked, unsigned jobs, LockChange **ret, size_t *ret_n, Diagnostics *d);
void lock_changes_free(LockChange *c, size_t n);

/* ---- the dist-git `sources` file (sources.c) ---------------------------------- */

/* Both of Fedora's formats, one file per line:
 *   SHA512 (name-1.0.tar.gz) = 0123...   (hash type, file, hash)
 *   0123...  name-1.0.tar.gz             (md5, the old format)
 * Blank lines are skipped. -EBADMSG with *ret_error ("line 3: ...") on a
 * line that is neither, a bad hash length, or a file name with '/'. */
int sources_parse(const char *data, size_t size, LockSource **ret, size_t *ret_n, char **ret_error);
void lock_sources_free(LockSource *s, size_t n);

/* ---- dist-git repositories (distgit.c) ----------------------------------------- */

typedef struct DistGit DistGit;

/* The local bare mirror of url (file://, http://, https://) in cache_dir,
 * one directory per URL. With fetch, its branches are fetched first (and the
 * mirror made if it does not exist); without, an existing mirror is used as
 * it is (and made and fetched if it does not exist). Errors: -errno with
 * *ret_error naming the URL and libgit2's reason. */
int distgit_open(const char *cache_dir, const char *url, bool fetch, DistGit **ret, char **ret_error);
DistGit *distgit_free(DistGit *g);
DEFINE_TRIVIAL_CLEANUP_FUNC(DistGit *, distgit_free);

/* The commit (40 hex digits) that branch points at in the mirror (NULL: the
 * remote's default branch). -ENOENT with *ret_error if there is no such branch. */
int distgit_resolve_branch(DistGit *g, const char *branch, char ret[static 41], char **ret_error);
/* The full id of the commit a prefix (7 to 40 hex digits) names; if the
 * mirror lacks it, it is fetched once more. -ENOENT with *ret_error if the
 * repository has no such commit, -EEXIST if the prefix is ambiguous. */
int distgit_resolve_commit(DistGit *g, const char *prefix, char ret[static 41], char **ret_error);
/* The contents of path in commit's tree; -ENOENT if it has none. */
int distgit_read(DistGit *g, const char *commit, const char *path, char **ret, size_t *ret_size, char **ret_error);
/* Writes commit's tree into dir (an existing, empty directory): files 0644
 * or 0755 as git records them, symbolic links, subdirectories; files and
 * links get the commit's time. Nothing outside dir is written (a path with
 * '..' is refused, and so is a symbolic link pointing out of the tree). */
int distgit_export(DistGit *g, const char *commit, const char *dir, char **ret_error);

/* ---- the lookaside cache (lookaside.c) ----------------------------------------- */

/* tmpl with $pkg, $filename, $hashtype and $hash replaced (Fedora's
 * "https://src.fedoraproject.org/repo/pkgs/$pkg/$filename/$hashtype/$hash/$filename"). */
char *lookaside_url(const char *tmpl, const char *pkg, const LockSource *s);
/* The path of s in the local content-addressed store cache_dir
 * (cache_dir/HASHTYPE/HASH): downloaded from the URL tmpl gives if it is
 * not there yet, and checked against its hash before it is put there; a file
 * that does not match is not kept. Errors: -errno with *ret_error naming
 * the file and URL (unreachable, HTTP status, wrong hash: both hashes). */
int lookaside_get(const char *cache_dir, const char *tmpl, const char *pkg, const LockSource *s, char **ret_path,
                  char **ret_error);
/* The hex digest of the file at path with hashtype; -EOPNOTSUPP for an
 * unknown type. */
int lookaside_hash_file(const char *path, const char *hashtype, char **ret_hex);

/* ---- overlays (spec.c, overlay.c) ---------------------------------------------- */

/* Applies c's overlays to the tree in dir, whose spec is dir/spec_name, in
 * azldev's fixed order (docs/upstream.md, "Overlays"); then, if c sets
 * check-skip, 'exit 0' at the start of %check. An `source` is a file of
 * the project (project_path()). An overlay that cannot apply (a regex that
 * matches nothing, a tag or section that is not there, a file that is
 * missing) is an error at the position of its key in the project's TOML
 * (cfg_pos()), naming the component, the overlay's number and description;
 * -EINVAL if there was any. */
int overlays_apply(const Project *p, const Component *c, const char *dir, const char *spec_name, Diagnostics *d);

/* Changes the Release tag of the spec text (the main package's) as mode
 * says: RELEASE_BUMP adds one to its leading number ("3%{?dist}" ->
 * "4%{?dist}"), RELEASE_SUFFIX puts suffix right after the leading number
 * ("3%{?dist}" -> "3.azl1%{?dist}" for ".azl1"), RELEASE_NONE changes
 * nothing. -EBADMSG with *ret_error when the Release does not start with a
 * number (the message suggests release-mode = "none" or an overlay). */
int spec_release_apply(StrBuf *spec, ReleaseMode mode, const char *suffix, char **ret_error);

/* ---- rendering (render.c) ------------------------------------------------------ */

/* The spec file's name in a rendered tree: UPSTREAM-NAME.spec. */
char *upstream_spec_name(const Component *c);
/* Where the build finds c's rendered spec: OUT/cache/upstream/render/NAME/UPSTREAM-NAME.spec. */
char *upstream_rendered_spec(const char *out_dir, const Component *c);

/* Writes c's tree as it is built into dest (made beside it and renamed into
 * place, replacing what was there: whole or absent): the commit's files, the
 * lookaside sources (checked against the lock), the overlays, check-skip and
 * the Release change; every file's times are SOURCE_DATE_EPOCH. e is c's
 * lock entry. Errors go to d (-EINVAL). */
int upstream_render(const Project *p, const Component *c, const LockEntry *e, const UpstreamCaches *caches,
                    const char *dest, Diagnostics *d);
/* The same without overlays, check-skip and Release: upstream's tree. */
int upstream_render_pristine(const Project *p, const Component *c, const LockEntry *e, const UpstreamCaches *caches,
                             const char *dest, Diagnostics *d);
/* Appends to sb everything upstream_render() reads, for cache keys: the
 * lock entry, the settings, what each overlay does (not its description or
 * metadata) and the SHA-256 of each overlay's source file. */
int upstream_key_inputs(const Project *p, const Component *c, const LockEntry *e, StrBuf *sb);

/* ---- diffs (diff.c) --------------------------------------------------------------- */

/* Appends a unified diff (`diff -u` format, context lines of context) of a
 * and b to out; nothing if they are equal. Texts without a final newline
 * get diff's "\ No newline at end of file". */
int text_diff_unified(const char *a_name, const char *a, size_t a_size, const char *b_name, const char *b,
                      size_t b_size, unsigned context, StrBuf *out);

typedef enum TreeChange {
        TREE_ADDED,
        TREE_REMOVED,
        TREE_MODIFIED,
        _TREE_CHANGE_MAX,
        _TREE_CHANGE_INVALID = -EINVAL,
} TreeChange;

const char *tree_change_to_string(TreeChange c) _pure_;

typedef struct TreeDiffEntry {
        char *path;     /* relative to both trees */
        TreeChange change;
        bool binary;    /* either side has a NUL byte: no text diff */
        char *diff;     /* the unified diff of a text file (a/PATH, b/PATH); NULL for binary files */
} TreeDiffEntry;

/* The files that differ between directories a and b (either may be NULL:
 * everything added or removed), sorted by path. Symbolic links compare by
 * target. */
int tree_diff(const char *a, const char *b, unsigned context, TreeDiffEntry **ret, size_t *ret_n);
void tree_diff_free(TreeDiffEntry *e, size_t n);
