/* SPDX-License-Identifier: MIT */
#pragma once

/* Diagnostics: errors and warnings about user input, each with the place in a
 * file it is about. Library code collects them here; only the CLI prints
 * them. A run collects up to max_errors errors so the user sees every problem
 * at once, not one per run. */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

/* A place in an input file. file points at a string owned by whoever parsed
 * the file (a TomlDocument, a Project) and lives as long as it. line and
 * column are 1-based; column counts characters, not bytes; 0 means unknown. */
typedef struct SourcePos {
        const char *file;
        unsigned line;
        unsigned column;
} SourcePos;

typedef enum DiagLevel {
        DIAG_ERROR,
        DIAG_WARNING,
        DIAG_NOTE,
        _DIAG_LEVEL_MAX,
        _DIAG_LEVEL_INVALID = -EINVAL,
} DiagLevel;

const char *diag_level_to_string(DiagLevel l) _pure_;

typedef struct Diagnostic {
        DiagLevel level;
        char *file; /* NULL: not about a file */
        unsigned line;
        unsigned column;
        char *message; /* lower case, no trailing period */
} Diagnostic;

typedef struct Diagnostics {
        Diagnostic *items;
        size_t n;
        size_t allocated;
        size_t n_errors;
        size_t max_errors; /* 0: DIAG_MAX_ERRORS_DEFAULT */
        size_t dropped;    /* errors not recorded because max_errors was reached */
        bool oom;
} Diagnostics;

#define DIAG_MAX_ERRORS_DEFAULT 20

void diagnostics_release(Diagnostics *d);
static inline void diagnostics_releasep(Diagnostics *d) {
        diagnostics_release(d);
}

/* Records a diagnostic at pos (pos may be NULL). Always returns 0: running out
 * of memory is remembered in d->oom and reported by diagnostics_status(). */
int diag_add(Diagnostics *d, DiagLevel level, const SourcePos *pos, const char *fmt, ...) _printf_(4, 5);
int diag_addv(Diagnostics *d, DiagLevel level, const SourcePos *pos, const char *fmt, va_list ap) _printf_(4, 0);

#define diag_error(d, pos, ...) diag_add((d), DIAG_ERROR, (pos), __VA_ARGS__)
#define diag_warning(d, pos, ...) diag_add((d), DIAG_WARNING, (pos), __VA_ARGS__)
#define diag_note(d, pos, ...) diag_add((d), DIAG_NOTE, (pos), __VA_ARGS__)

/* -ENOMEM if a diagnostic was lost to memory, -EINVAL if any error was
 * recorded, else 0. */
int diagnostics_status(const Diagnostics *d);

/* True once max_errors errors were recorded: callers may stop early. */
bool diagnostics_full(const Diagnostics *d);

/* Sort by file, line, column, keeping the order of equal places. */
void diagnostics_sort(Diagnostics *d);
