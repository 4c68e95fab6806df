/* SPDX-License-Identifier: MIT */
#pragma once

/* The one HTTP client: libcurl, opened with dlopen() on first use (see
 * meson.build for why). Every function is safe to call from several
 * threads at once. URLs may be http, https or (for downloads) file. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Downloads url to path, written atomically; at most max bytes: a server
 * that announces or sends more is cut off there, nothing is written and
 * -EFBIG returned. -ENOENT: the server answered 404 (with *ret_error).
 * -EIO: it failed otherwise. Errors with *ret_error (malloc'd) saying why. */
int http_download(const char *url, const char *path, uint64_t max, char **ret_error);

/* Downloads url into memory (at most max bytes; -EFBIG past it). As
 * http_download(), -ENOENT for a 404. *ret is NUL-terminated. */
int http_get(const char *url, uint64_t max, char **ret, size_t *ret_size, char **ret_error);

/* HEAD url: 1 when the server has it (2xx), 0 when it answers 404, -EIO
 * with *ret_error otherwise. */
int http_exists(const char *url, char **ret_error);

/* PUT of the file at path (or of data, size when path is NULL) to url, as
 * a WebDAV server or an object store takes it. -EIO with *ret_error when the
 * server does not answer 2xx. */
int http_put(const char *url, const char *path, const void *data, size_t size, char **ret_error);
