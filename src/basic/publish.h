/* SPDX-License-Identifier: MIT */
#pragma once

/* Publishing a set of outputs all or none (DESIGN.md, "fail clearly, lose
 * nothing"). Each output is written under a temporary name beside its final
 * path; publish_commit() puts every one in place, or, if one cannot be put
 * in place, puts back what the earlier ones replaced, so that the final
 * paths hold either every new output or every previous one.
 *
 *   Publish *p = publish_new();
 *   publish_add_file(p, "out/x.raw", &tmp);   -> write tmp
 *   publish_add_dir(p, "out/x.oci", "oci-layout", &tmp2);  -> fill tmp2
 *   publish_commit(p);
 *   publish_free(p);   -> removes what was not published (and what was replaced)
 *
 * A final path that exists is replaced only if it is of the same kind (a
 * regular file for a file; for a directory, an empty one or one holding the
 * marker file): a mistyped output path must not remove someone's files. */

#include <stdbool.h>
#include <stddef.h>

#include "basic/macro.h"

typedef struct Publish Publish;

Publish *publish_new(void);
/* Removes every temporary output that was not published. */
Publish *publish_free(Publish *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Publish *, publish_free);

/* Reserves a temporary file (created empty, mode 0600) beside final;
 * *ret_tmp stays valid as long as p. -EEXIST: final exists and may not be
 * replaced (see above); -errno otherwise. mode is set at commit. */
int publish_add_file(Publish *p, const char *final, unsigned mode, const char **ret_tmp);
/* The same for a directory (created empty, mode 0755). marker: the name of a
 * file that marks a directory of this kind, or NULL (only an empty one). */
int publish_add_dir(Publish *p, const char *final, const char *marker, const char **ret_tmp);

/* Puts every reserved output in place, in the order added; all or none.
 * After success the replaced outputs are removed. */
int publish_commit(Publish *p);

/* The final path of the i-th output that failed at commit, for messages
 * (NULL before a failed commit). */
const char *publish_failed_path(const Publish *p);
