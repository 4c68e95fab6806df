/* SPDX-License-Identifier: MIT */
#pragma once

/* Running an image's scriptlets (scriptlets.c). */

#include <stdbool.h>
#include <stddef.h>

#include "basic/diag.h"
#include "config/project.h"
#include "tree/install.h"
#include "tree/tree.h"

/* Runs the scriptlets of the packages inst (installed into *t in this order)
 * as rpm would installing them into an empty root, in the sandbox, and
 * replaces *t with the tree they leave. Failures are reported to d as rpm
 * treats them (im->scriptlets: "run" or "strict"); -EINVAL when one is an
 * error. *ret_n_run: how many scriptlets ran. */
int compose_scriptlets(const Project *p, const Image *im, Tree **t, const InstallResult *inst, size_t n,
                       Diagnostics *d, size_t *ret_n_run);

/* An installed package of a root being changed (`slipway customize`). */
typedef struct ScriptletInstalled {
        const RpmHeader *header; /* as the rpm database holds it (with FILESTATES) */
        const char *nevra;
        bool erase;              /* it leaves: erased, or replaced by a package of inst of its name */
        char *const *removed;    /* the paths that go when it leaves (nothing that stays has them) */
        size_t n_removed;
} ScriptletInstalled;

/* The same for a transaction on an installed root: before is the root as it
 * was (staged whole first), *t the root after it (installed packages that
 * stay, the new packages of inst installed, the leaving ones' removed paths
 * gone), installed the packages that were installed, in rpm database
 * order. The plan's steps unpack inst's files from *t and remove the
 * leaving packages' paths, running %pre/%post, %preun/%postun, triggers and
 * file triggers of both sides as rpm would; *t is then replaced with the
 * result. */
int scriptlets_run_transaction(const Project *p, const Image *im, Tree **t, const Tree *before,
                               const InstallResult *inst, size_t n, const ScriptletInstalled *installed,
                               size_t n_installed, Diagnostics *d, size_t *ret_n_run);
