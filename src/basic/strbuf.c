/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "strbuf.h"

void strbuf_release(StrBuf *sb) {
        free(sb->buf);
        *sb = STRBUF_INIT;
}

int strbuf_reserve(StrBuf *sb, size_t extra) {
        if (sb->oom)
                return -ENOMEM;
        if (extra > SIZE_MAX - sb->len - 1) {
                sb->oom = true;
                return -ENOMEM;
        }
        size_t need = sb->len + extra + 1;
        if (need <= sb->allocated)
                return 0;
        /* Doubling, without zeroing: only [0, len] is ever read. */
        size_t n = MAX(need, sb->allocated * 2);
        n = MAX(n, (size_t) 64);
        char *p = realloc(sb->buf, n);
        if (!p) {
                sb->oom = true;
                return -ENOMEM;
        }
        sb->buf = p;
        sb->allocated = n;
        return 0;
}

int strbuf_put(StrBuf *sb, const void *p, size_t n) {
        int r = strbuf_reserve(sb, n);
        if (r < 0)
                return r;
        if (n > 0)
                memcpy(sb->buf + sb->len, p, n);
        sb->len += n;
        sb->buf[sb->len] = 0;
        return 0;
}

int strbuf_putc(StrBuf *sb, char c) {
        return strbuf_put(sb, &c, 1);
}

int strbuf_puts(StrBuf *sb, const char *s) {
        return strbuf_put(sb, s, strlen(s));
}

int strbuf_vprintf(StrBuf *sb, const char *fmt, va_list ap) {
        va_list aq;
        va_copy(aq, ap);
        int n = vsnprintf(NULL, 0, fmt, aq);
        va_end(aq);
        if (n < 0)
                return -EINVAL;

        int r = strbuf_reserve(sb, (size_t) n);
        if (r < 0)
                return r;
        vsnprintf(sb->buf + sb->len, (size_t) n + 1, fmt, ap);
        sb->len += (size_t) n;
        return 0;
}

int strbuf_printf(StrBuf *sb, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = strbuf_vprintf(sb, fmt, ap);
        va_end(ap);
        return r;
}

int strbuf_put_utf8(StrBuf *sb, unsigned cp) {
        char b[4];
        size_t n;

        if (cp < 0x80) {
                b[0] = (char) cp;
                n = 1;
        } else if (cp < 0x800) {
                b[0] = (char) (0xC0 | (cp >> 6));
                b[1] = (char) (0x80 | (cp & 0x3F));
                n = 2;
        } else if (cp < 0x10000) {
                b[0] = (char) (0xE0 | (cp >> 12));
                b[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
                b[2] = (char) (0x80 | (cp & 0x3F));
                n = 3;
        } else {
                b[0] = (char) (0xF0 | (cp >> 18));
                b[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
                b[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
                b[3] = (char) (0x80 | (cp & 0x3F));
                n = 4;
        }
        return strbuf_put(sb, b, n);
}

char *strbuf_detach(StrBuf *sb, size_t *ret_len) {
        if (sb->oom) {
                strbuf_release(sb);
                return NULL;
        }
        char *r = sb->buf ? sb->buf : strdup("");
        if (r && ret_len)
                *ret_len = sb->len;
        *sb = STRBUF_INIT;
        return r;
}

char *strprintf(const char *fmt, ...) {
        va_list ap;
        char *s;
        va_start(ap, fmt);
        int r = vasprintf(&s, fmt, ap);
        va_end(ap);
        return r < 0 ? NULL : s;
}
