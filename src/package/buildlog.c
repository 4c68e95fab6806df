/* SPDX-License-Identifier: MIT */

/* Reading a failed rpmbuild log for its cause (build.h, build_log_diagnose()). */

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "basic/strbuf.h"
#include "package/build.h"

static bool starts_with(const char *s, size_t n, const char *prefix) {
        size_t l = strlen(prefix);
        return n >= l && memcmp(s, prefix, l) == 0;
}

static bool contains(const char *s, size_t n, const char *needle) {
        return memmem(s, n, needle, strlen(needle)) != NULL;
}

/* A line that reports an error: a compiler's ("x.c:3:10: fatal error: ..."),
 * rpmbuild's or another tool's ("error: ..."), make's ("make: *** ...
 * Error 1"), a shell's ("...: command not found"). Traced commands (set -x,
 * "+ ...") only say what ran. */
static bool is_error_line(const char *l, size_t n) {
        if (starts_with(l, n, "+ ") || starts_with(l, n, "RPM build errors:"))
                return false;
        return starts_with(l, n, "error: ") || contains(l, n, ": error:") || contains(l, n, ": fatal error:") ||
               contains(l, n, ": Error:") || (contains(l, n, "*** ") && contains(l, n, "Error ")) ||
               contains(l, n, ": command not found") || starts_with(l, n, "Error: ") ||
               starts_with(l, n, "ERROR: ") || starts_with(l, n, "FAIL: ");
}

/* "%build" from "Executing(%build): ..." or "... (%build)"; NULL if none. */
static char *phase_in(const char *l, size_t n) {
        const char *p = memmem(l, n, "(%", 2);
        if (!p)
                return NULL;
        const char *e = memchr(p, ')', (size_t) (l + n - p));
        const char *colon = memchr(p, ':', (size_t) (l + n - p));
        if (!e || (colon && colon < e))
                return NULL;
        return strndup(p + 1, (size_t) (e - p - 1));
}

int build_log_diagnose(const char *log, size_t size, char **ret_phase, char **ret_error) {
        _cleanup_free_ char *phase = NULL, *error = NULL, *rpm_phase = NULL;
        bool in_files = false, rpm_error_seen = false;

        for (const char *l = log; l < log + size;) {
                const char *e = memchr(l, '\n', (size_t) (log + size - l));
                size_t n = e ? (size_t) (e - l) : (size_t) (log + size - l);

                if (!rpm_error_seen) {
                        if (starts_with(l, n, "Executing(%")) {
                                free(phase);
                                phase = phase_in(l, n);
                                if (!phase)
                                        return -ENOMEM;
                                in_files = false;
                        } else if (starts_with(l, n, "Processing files:") ||
                                   starts_with(l, n, "Checking for unpackaged file(s)"))
                                in_files = true;
                }
                if (!error && is_error_line(l, n) && !(error = strndup(l, n)))
                        return -ENOMEM;
                /* rpmbuild's own verdict names the phase of a failed
                 * scriptlet: "error: Bad exit status from ... (%build)". */
                if (!rpm_error_seen && starts_with(l, n, "error: ")) {
                        rpm_error_seen = true;
                        rpm_phase = starts_with(l, n, "error: Bad exit status") ? phase_in(l, n) : NULL;
                        if (!rpm_phase && in_files && !(rpm_phase = strdup("file list")))
                                return -ENOMEM;
                }
                l = e ? e + 1 : log + size;
        }
        *ret_phase = rpm_phase ? TAKE_PTR(rpm_phase) : rpm_error_seen ? NULL : TAKE_PTR(phase);
        *ret_error = TAKE_PTR(error);
        return 0;
}
