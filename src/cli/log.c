/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static LogLevel level = LOG_NORMAL;

void log_set_level(LogLevel l) {
        level = l;
}

LogLevel log_get_level(void) {
        return level;
}

_printf_(3, 0) static void vlog(const char *prefix, int error, const char *fmt, va_list ap) {
        fputs("slipway: ", stderr);
        if (prefix)
                fputs(prefix, stderr);
        vfprintf(stderr, fmt, ap);
        if (error != 0)
                fprintf(stderr, ": %s", strerror(error < 0 ? -error : error));
        fputc('\n', stderr);
}

int log_error_errno(int error, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vlog("error: ", error, fmt, ap);
        va_end(ap);
        return error < 0 ? error : -error;
}

void log_error(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vlog("error: ", 0, fmt, ap);
        va_end(ap);
}

void log_warning(const char *fmt, ...) {
        if (level < LOG_NORMAL)
                return;
        va_list ap;
        va_start(ap, fmt);
        vlog("warning: ", 0, fmt, ap);
        va_end(ap);
}

void log_info(const char *fmt, ...) {
        if (level < LOG_NORMAL)
                return;
        va_list ap;
        va_start(ap, fmt);
        vlog(NULL, 0, fmt, ap);
        va_end(ap);
}

void log_debug(const char *fmt, ...) {
        if (level < LOG_VERBOSE)
                return;
        va_list ap;
        va_start(ap, fmt);
        vlog(NULL, 0, fmt, ap);
        va_end(ap);
}

void log_diagnostics(Diagnostics *d) {
        diagnostics_sort(d);
        for (size_t i = 0; i < d->n; i++) {
                const Diagnostic *x = &d->items[i];
                if (x->level != DIAG_ERROR && level < LOG_NORMAL)
                        continue;
                if (x->file && x->line > 0)
                        fprintf(stderr, "%s:%u:%u: ", x->file, x->line, x->column);
                else if (x->file)
                        fprintf(stderr, "%s: ", x->file);
                else
                        fputs("slipway: ", stderr);
                fprintf(stderr, "%s: %s\n", diag_level_to_string(x->level), x->message);
        }
        if (d->dropped > 0)
                fprintf(stderr, "slipway: %zu more error%s not shown (the limit is %d)\n", d->dropped,
                        d->dropped == 1 ? "" : "s", DIAG_MAX_ERRORS_DEFAULT);
        if (d->oom)
                fputs("slipway: error: out of memory while recording errors\n", stderr);
}
