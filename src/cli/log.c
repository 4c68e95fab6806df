/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"

static LogLevel level = LOG_NORMAL;

/* --json: the mode, the verb's result, and every error logged (log.h). */
static bool json_mode;
static json_t *result;
static bool result_printed;
static pthread_mutex_t errors_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *errors;
static bool errors_oom;

json_t *cli_json_string(const char *s) {
        if (!s)
                return json_null();
        json_t *j = json_string(s);
        if (j)
                return j;
        _cleanup_free_ char *t = strdup(s);
        if (!t)
                return NULL;
        for (char *p = t; *p; p++)
                if ((unsigned char) *p >= 0x80)
                        *p = '?';
        return json_string(t);
}

static void record_error(const char *file, unsigned line, unsigned column, const char *message) {
        pthread_mutex_lock(&errors_lock);
        if (!errors)
                errors = json_array();
        json_t *e = json_pack("{s:o, s:I, s:I, s:o}", "file", cli_json_string(file), "line",
                              (json_int_t) line, "column", (json_int_t) column, "message", cli_json_string(message));
        if (!errors || json_array_append_new(errors, e) < 0)
                errors_oom = true;
        pthread_mutex_unlock(&errors_lock);
}

void log_set_level(LogLevel l) {
        level = l;
}

LogLevel log_get_level(void) {
        return level;
}

/* Prints "slipway: PREFIX MESSAGE[: strerror]"; an error is recorded too. */
_printf_(4, 0) static void vlog(const char *prefix, int error, bool is_error, const char *fmt, va_list ap) {
        _cleanup_free_ char *msg = NULL, *full = NULL;
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        if (msg && error != 0 && asprintf(&full, "%s: %s", msg, strerror(error < 0 ? -error : error)) < 0)
                full = NULL;
        const char *m = error != 0 ? full : msg;
        if (!m) {
                fputs("slipway: error: out of memory while printing a message\n", stderr);
                if (is_error)
                        errors_oom = true;
                return;
        }
        fprintf(stderr, "slipway: %s%s\n", prefix ? prefix : "", m);
        if (is_error)
                record_error(NULL, 0, 0, m);
}

int log_error_errno(int error, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vlog("error: ", error, true, fmt, ap);
        va_end(ap);
        return error < 0 ? error : -error;
}

void log_error(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vlog("error: ", 0, true, fmt, ap);
        va_end(ap);
}

void log_record_error(const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (msg)
                record_error(NULL, 0, 0, msg);
        else
                errors_oom = true;
}

void log_warning(const char *fmt, ...) {
        if (level < LOG_NORMAL)
                return;
        va_list ap;
        va_start(ap, fmt);
        vlog("warning: ", 0, false, fmt, ap);
        va_end(ap);
}

void log_info(const char *fmt, ...) {
        if (level < LOG_NORMAL)
                return;
        va_list ap;
        va_start(ap, fmt);
        vlog(NULL, 0, false, fmt, ap);
        va_end(ap);
}

void log_debug(const char *fmt, ...) {
        if (level < LOG_VERBOSE)
                return;
        va_list ap;
        va_start(ap, fmt);
        vlog(NULL, 0, false, fmt, ap);
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
                if (x->level == DIAG_ERROR)
                        record_error(x->file, x->file ? x->line : 0, x->file ? x->column : 0, x->message);
        }
        if (d->dropped > 0)
                fprintf(stderr, "slipway: %zu more error%s not shown (the limit is %d)\n", d->dropped,
                        d->dropped == 1 ? "" : "s", DIAG_MAX_ERRORS_DEFAULT);
        if (d->oom) {
                fputs("slipway: error: out of memory while recording errors\n", stderr);
                record_error(NULL, 0, 0, "out of memory while recording errors");
        }
}

void log_set_json(bool on) {
        json_mode = on;
}

bool log_json(void) {
        return json_mode;
}

void cli_result_set(json_t *doc) {
        json_decref(result);
        result = doc;
}

json_t *cli_result_take(void) {
        return TAKE_PTR(result);
}

void cli_result_printed(void) {
        result_printed = true;
}

int cli_result_finish(int status) {
        _cleanup_(json_decrefp) json_t *doc = TAKE_PTR(result);
        if (!json_mode || result_printed) {
                json_decref(TAKE_PTR(errors));
                return status;
        }
        if (!doc)
                doc = json_object();
        if (doc && status != EXIT_OK) {
                /* Replacing a member keeps its place (check puts "errors" first). */
                json_t *e = errors ? json_incref(errors) : json_array();
                if (e && (json_array_size(e) == 0 || errors_oom)) {
                        char m[64];
                        if (errors_oom)
                                snprintf(m, sizeof m, "out of memory while recording errors");
                        else
                                snprintf(m, sizeof m, "failed with exit status %d", status);
                        json_array_append_new(e, json_pack("{s:n, s:i, s:i, s:s}", "file", "line", 0, "column", 0,
                                                           "message", m));
                }
                if (!e || json_object_set_new(doc, "errors", e) < 0) {
                        json_decref(doc);
                        doc = NULL;
                }
        }
        int r = doc ? json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER)
                    : (fputs("{\"errors\": [{\"file\": null, \"line\": 0, \"column\": 0, \"message\": \"out of memory\"}]}",
                             stdout) == EOF ? -1 : 0);
        json_decref(TAKE_PTR(errors));
        if (r < 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0) {
                log_error("cannot write to standard output");
                return EXIT_FAILURE_USER;
        }
        return status;
}
