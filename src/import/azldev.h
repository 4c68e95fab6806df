/* SPDX-License-Identifier: MIT */
#pragma once

/* `slipway import azldev`: an azldev project (Microsoft's tool for Azure
 * Linux: azldev.toml and the files its includes pull in) turned into a
 * slipway project. The mapping, key by key, is docs/azldev.md.
 *
 * What has no counterpart in slipway is not guessed at: each such key is
 * listed, with where it was written and why it is not carried over, in the
 * result (the CLI prints it). */

#include <stddef.h>

#include "basic/diag.h"

/* One key of the azldev project that the slipway project does not hold. */
typedef struct AzldevDropped {
        char *file; /* as the azldev file was opened: DIR joined with its path */
        unsigned line, column;
        char *key;    /* the key's path: "components.foo.build.hints" */
        char *reason; /* why: "slipway has no scheduling hints" */
} AzldevDropped;

typedef struct AzldevImport {
        char *name, *version;  /* the slipway project's */
        AzldevDropped *dropped; /* sorted by file and position */
        size_t n_dropped;
        char **files; /* written, relative to the output directory, sorted */
        size_t n_files;
        size_t components, components_with_overlays, overlays, groups, repos;
} AzldevImport;

/* Reads the azldev project in dir (dir/azldev.toml and its includes) and
 * writes the slipway project into out_dir, an existing empty directory:
 * slipway.toml, components/NAME.toml for each component with settings of
 * its own, components/upstream.toml for the others, and copies of the files
 * the project names (local specs with their sources, overlay sources,
 * repository keys). The same input gives the same bytes. The result is then
 * loaded as `slipway check` does; an error there is an error here.
 *
 * Errors in the input (TOML syntax, a value of the wrong type, a distro or
 * file that is named but missing) go to d with their file:line:column and
 * -EINVAL is returned; out_dir may then hold some files (the caller writes
 * into a temporary directory). -errno for failures of the system. */
int azldev_import(const char *dir, const char *out_dir, AzldevImport *ret, Diagnostics *d);

void azldev_import_release(AzldevImport *r);
