/* SPDX-License-Identifier: MIT */
#pragma once

/* Glob patterns with '**', as azldev's configuration writes them (includes,
 * overlay-files, a component group's specs and excluded-paths): within one
 * path segment '*', '?' and '[...]' as fnmatch(3) reads them (a leading '.'
 * is not special, as in Go's path matching); a segment that is exactly "**"
 * stands for zero or more directories. Paths are '/'-separated strings used
 * as they are (relative to the current directory, or absolute). */

#include <stdbool.h>
#include <stddef.h>

/* True if p has a wildcard ('*', '?' or '['). */
bool glob_has_magic(const char *p);

/* p with "." segments, empty segments and "DIR/.." pairs removed, by the
 * text alone (no symbolic link is looked at); leading ".." segments of a
 * relative path stay; "" and "." become ".". NULL when out of memory. */
char *path_normalize(const char *p);

/* True if path matches pattern, segment by segment. */
bool glob_match_path(const char *pattern, const char *path);

/* The regular files (or symbolic links to them) that pattern matches, as
 * paths built from the pattern's directories and the names found, sorted
 * bytewise without duplicates; *ret is a NULL-terminated array the caller
 * frees with pathv_free(). A '**' does not follow symbolic links to
 * directories (no loops). No match is not an error: *ret_n is 0. -errno on
 * failure (an unreadable directory on the way is skipped, as glob(3) does
 * without GLOB_ERR). */
int glob_expand(const char *pattern, char ***ret, size_t *ret_n);

char **pathv_free(char **v);
