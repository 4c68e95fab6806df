/* SPDX-License-Identifier: MIT */
#pragma once

/* A tree staged in a directory of the host, for code that must see real
 * files (the sandbox, sandbox.h), and folded back into a tree afterwards.
 *
 * stage_put() writes nodes of a tree into the directory: directories, files
 * with their contents, symlinks, FIFOs, hard links (one inode a link id),
 * modes and mtimes. What the host cannot make as an unprivileged user is
 * represented: device nodes are empty regular files, owners and xattrs are
 * not written (every file is the caller's). Each file made is remembered by
 * its inode, with the node it was made from and its ctime.
 *
 * stage_fold() reads the directory back into a new tree: the staged
 * directory is the truth for which paths exist and what they are. A file
 * whose inode was made from a node keeps that node's owner, xattrs, flags
 * and package (renames and new hard links too), and, if untouched (the same
 * ctime, mtime, size and mode), its contents and mtime without reading
 * them. What the sandbox's recorder says (record.h) wins: owners, device
 * nodes, security.* xattrs. Times that changed are clamped: an mtime at or
 * after the staging's start, or after SOURCE_DATE_EPOCH, becomes
 * SOURCE_DATE_EPOCH; so the bytes do not depend on when or where it ran.
 *
 * The directory must be used by nothing else while stage_put() and
 * stage_fold() run. Paths are resolved within it (openat2 RESOLVE_IN_ROOT):
 * a symlink made by code in the sandbox never leads outside. */

#include <stdint.h>

#include "basic/macro.h"
#include "sandbox/record.h"
#include "tree/tree.h"

typedef struct Stage Stage;

/* dir: an existing empty directory of the caller. now: the staging's start
 * (seconds since the epoch), sde: SOURCE_DATE_EPOCH. */
int stage_new(const char *dir, int64_t now, int64_t sde, Stage **ret);
Stage *stage_free(Stage *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Stage *, stage_free);

/* Regular files are then not written but hard-linked from objects in the
 * directory dir (a content store: one object per contents, mode and mtime,
 * made on first use), so that stagings of mostly the same files share them
 * (buildroots). Files of equal contents, mode and mtime become one inode:
 * only for a staging nobody folds back nor changes (stage_fold() would see
 * hard links the tree does not have). */
int stage_set_store(Stage *s, const char *dir);

/* Writes the node n of t (and its parent directories, from t, where they are
 * missing) into the directory, replacing what is at its path unless both are
 * directories (a directory that exists keeps its attributes, as rpm keeps
 * what is on disk). t must outlive the stage. */
int stage_put(Stage *s, const Tree *t, const TreeNode *n);
/* Removes what is at path (and below it), if anything. */
int stage_remove(Stage *s, const char *path);

/* The contents of the regular file at path (symlinks followed within the
 * directory), at most max bytes (-EFBIG beyond): for what scriptlets wrote
 * that the rest of the transaction reads (rpm maps file owners through the
 * /etc/passwd a %pre changed). *ret is malloc'd with a NUL after the data. */
int stage_read_file(Stage *s, const char *path, size_t max, char **ret, size_t *ret_size);

/* Reads the directory into a new tree (see above). Paths in skip (and what
 * is below them) are left out: the sandbox's mount points that the tree did
 * not have. rec may be NULL. */
int stage_fold(Stage *s, const Recorder *rec, const char *const *skip, size_t n_skip, Tree **ret);

/* A new empty stage for a sandbox's root: a directory of the run (in memory
 * when t's contents fit, run_mkdtemp_memory()) and its Stage, with the mount
 * points the sandbox adds that t does not have (/proc, /dev), which
 * stage_fold() is then to skip. Nothing of t is staged yet. */
typedef struct StageRoot {
        char *dir;
        Stage *stage;
        const char *skip[2];
        size_t n_skip;
} StageRoot;

int stage_for_sandbox(const Tree *t, const char *prefix, int64_t sde, StageRoot *ret);
/* Frees the stage and removes its directory. */
void stage_root_release(StageRoot *s);
