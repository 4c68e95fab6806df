/* SPDX-License-Identifier: MIT */
#pragma once

/* A growable byte buffer, always NUL-terminated (the terminator is not counted
 * in len). Ownership: the StrBuf owns buf until strbuf_detach(), after which
 * the caller owns it and must free() it. strbuf_release() frees the contents
 * and leaves an empty buffer that may be reused. */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

typedef struct StrBuf {
        char *buf;
        size_t len;
        size_t allocated;
        bool oom; /* set once an append failed; all later appends are no-ops */
} StrBuf;

#define STRBUF_INIT ((StrBuf) {})

void strbuf_release(StrBuf *sb);
static inline void strbuf_releasep(StrBuf *sb) {
        strbuf_release(sb);
}
#define _cleanup_strbuf_ _cleanup_(strbuf_releasep)

/* Each append returns 0 or -ENOMEM. After a failure the buffer keeps what it
 * had, and every later call fails too, so a sequence of appends can be checked
 * once at the end through strbuf_detach() or sb->oom. */
/* Makes room for extra more bytes (and the terminator) at once. */
int strbuf_reserve(StrBuf *sb, size_t extra);
int strbuf_putc(StrBuf *sb, char c);
int strbuf_put(StrBuf *sb, const void *p, size_t n);
int strbuf_puts(StrBuf *sb, const char *s);
int strbuf_printf(StrBuf *sb, const char *fmt, ...) _printf_(2, 3);
/* A malloc'd formatted string, NULL when out of memory (for error messages
 * handed to a caller). */
char *strprintf(const char *fmt, ...) _printf_(1, 2);
int strbuf_vprintf(StrBuf *sb, const char *fmt, va_list ap) _printf_(2, 0);
/* Appends the UTF-8 encoding of code point cp (which must be a scalar value). */
int strbuf_put_utf8(StrBuf *sb, unsigned cp);

/* Returns the buffer (an empty string if nothing was appended) and resets sb;
 * NULL if an append ran out of memory. */
char *strbuf_detach(StrBuf *sb, size_t *ret_len);
