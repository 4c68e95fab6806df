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
