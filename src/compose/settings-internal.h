/* SPDX-License-Identifier: MIT */
#pragma once

/* The steps of settings_apply() (settings.h), one file each. Each applies
 * its part of the image's settings to the tree; input problems are errors
 * in d with the configuration's position (-EINVAL). */

#include "compose/settings.h"

int apply_users(Tree *t, const Project *p, const Image *im, int64_t mtime, Diagnostics *d);   /* settings-accounts.c */
int apply_files(Tree *t, const Project *p, const Image *im, int64_t mtime, Diagnostics *d);   /* settings-files.c */
int apply_services(Tree *t, const Image *im, int64_t mtime, Diagnostics *d);                  /* settings-units.c */
int apply_selinux_config(Tree *t, const Image *im, int64_t mtime);                            /* settings-selinux.c */
