/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "diag.h"
#include "strbuf.h"

static const char *const diag_level_table[_DIAG_LEVEL_MAX] = {
        [DIAG_ERROR] = "error",
        [DIAG_WARNING] = "warning",
        [DIAG_NOTE] = "note",
};

const char *diag_level_to_string(DiagLevel l) {
        if (l < 0 || l >= _DIAG_LEVEL_MAX)
                return NULL;
        return diag_level_table[l];
}

void diagnostics_release(Diagnostics *d) {
        for (size_t i = 0; i < d->n; i++) {
                free(d->items[i].file);
                free(d->items[i].message);
        }
        free(d->items);
        size_t max = d->max_errors;
        *d = (Diagnostics) { .max_errors = max };
}

static size_t max_errors(const Diagnostics *d) {
        return d->max_errors > 0 ? d->max_errors : DIAG_MAX_ERRORS_DEFAULT;
}

bool diagnostics_full(const Diagnostics *d) {
        return d->n_errors >= max_errors(d);
}

int diag_addv(Diagnostics *d, DiagLevel level, const SourcePos *pos, const char *fmt, va_list ap) {
        if (level == DIAG_ERROR && diagnostics_full(d)) {
                d->dropped++;
                return 0;
        }

        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
        strbuf_vprintf(&sb, fmt, ap);
        _cleanup_free_ char *msg = strbuf_detach(&sb, NULL);
        _cleanup_free_ char *file = NULL;
        if (pos && pos->file) {
                file = strdup(pos->file);
                if (!file)
                        goto oom;
        }
        if (!msg || !GREEDY_REALLOC(d->items, d->allocated, d->n + 1))
                goto oom;

        d->items[d->n++] = (Diagnostic) {
                .level = level,
                .file = TAKE_PTR(file),
                .line = pos ? pos->line : 0,
                .column = pos ? pos->column : 0,
                .message = TAKE_PTR(msg),
        };
        if (level == DIAG_ERROR)
                d->n_errors++;
        return 0;

oom:
        d->oom = true;
        if (level == DIAG_ERROR)
                d->n_errors++;
        return 0;
}

int diag_add(Diagnostics *d, DiagLevel level, const SourcePos *pos, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = diag_addv(d, level, pos, fmt, ap);
        va_end(ap);
        return r;
}

int diagnostics_status(const Diagnostics *d) {
        if (d->oom)
                return -ENOMEM;
        return d->n_errors > 0 ? -EINVAL : 0;
}

static int diag_cmp(const Diagnostic *a, const Diagnostic *b) {
        int c = strcmp(a->file ? a->file : "", b->file ? b->file : "");
        if (c != 0)
                return c;
        if (a->line != b->line)
                return a->line < b->line ? -1 : 1;
        if (a->column != b->column)
                return a->column < b->column ? -1 : 1;
        return 0;
}

void diagnostics_sort(Diagnostics *d) {
        /* Insertion sort: stable, and lists are short (tens of entries). */
        for (size_t i = 1; i < d->n; i++) {
                Diagnostic t = d->items[i];
                size_t j = i;
                while (j > 0 && diag_cmp(&d->items[j - 1], &t) > 0) {
                        d->items[j] = d->items[j - 1];
                        j--;
                }
                d->items[j] = t;
        }
}
