/* SPDX-License-Identifier: MIT */

/* The dist-git `sources` file: which archives of the lookaside cache a
 * commit needs, each with its hash. Fedora writes one of two formats, one
 * file a line:
 *   SHA512 (bash-5.2.tar.gz) = 0123...   (BSD style, what fedpkg writes now)
 *   0123...  bash-5.2.tar.gz             (md5sum's output, older packages) */

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "basic/strbuf.h"
#include "upstream/source-check.h"
#include "upstream/upstream.h"

static const struct {
        const char *name;
        HashAlgo algo;
} hash_types[] = {
        { "md5", HASH_MD5 },
        { "sha1", HASH_SHA1 },
        { "sha256", HASH_SHA256 },
        { "sha512", HASH_SHA512 },
};

HashAlgo source_hash_algo(const char *hashtype) {
        for (size_t i = 0; i < ELEMENTSOF(hash_types); i++)
                if (strcmp(hash_types[i].name, hashtype) == 0)
                        return hash_types[i].algo;
        return _HASH_ALGO_INVALID;
}

/* The length of the UTF-8 sequence at s (at most n bytes), 0 if it is not
 * a well-formed one (RFC 3629: no overlong forms, no surrogates, at most
 * U+10FFFF). */
static size_t utf8_sequence(const unsigned char *s, size_t n) {
        unsigned cp, need;
        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                need = 1, cp = s[0] & 0x1f;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                need = 2, cp = s[0] & 0x0f;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                need = 3, cp = s[0] & 0x07;
        else
                return 0;
        if (n < need + 1)
                return 0;
        for (unsigned i = 1; i <= need; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[i] & 0x3f);
        }
        if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)))
                return 0;
        return need + 1;
}

const char *source_file_name_check(const char *name, size_t len) {
        if (len == 0)
                return "it is empty";
        for (size_t i = 0; i < len;) {
                unsigned char c = (unsigned char) name[i];
                if (c < 0x20 || c == 0x7f)
                        return "it has a control character";
                size_t k = utf8_sequence((const unsigned char *) name + i, len - i);
                if (k == 0)
                        return "it is not valid UTF-8";
                i += k;
        }
        if (memchr(name, '/', len))
                return "it has a '/' (a source is one file beside the spec)";
        if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
                return "it is '.' or '..'";
        return NULL;
}

void lock_sources_free(LockSource *s, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(s[i].file);
                free(s[i].hashtype);
                free(s[i].hash);
        }
        free(s);
}

static bool is_hex(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!isxdigit((unsigned char) s[i]))
                        return false;
        return true;
}

static char *lower_dup(const char *s, size_t n) {
        char *r = strndup_nul(s, n);
        if (r)
                for (char *p = r; *p; p++)
                        *p = (char) tolower((unsigned char) *p);
        return r;
}

/* Finds the last occurrence of needle (m bytes) in the n bytes at s. */
static const char *memrmem(const char *s, size_t n, const char *needle, size_t m) {
        if (n < m)
                return NULL;
        for (size_t i = n - m + 1; i-- > 0;)
                if (memcmp(s + i, needle, m) == 0)
                        return s + i;
        return NULL;
}

typedef struct Line {
        const char *type; /* NULL: the old format, md5 */
        size_t type_len;
        const char *file;
        size_t file_len;
        const char *hash;
        size_t hash_len;
} Line;

/* Splits one line (without its newline, trimmed) into its parts; false if
 * it is in neither format. */
static bool split_line(const char *s, size_t n, Line *ret) {
        /* "TYPE (FILE) = HASH": the type is letters and digits, the file runs
         * to the last ") = ", so a name may itself hold ") = ". */
        size_t t = 0;
        while (t < n && isalnum((unsigned char) s[t]))
                t++;
        if (t > 0 && t + 2 <= n && s[t] == ' ' && s[t + 1] == '(') {
                const char *end = memrmem(s + t + 2, n - t - 2, ") = ", 4);
                if (!end)
                        return false;
                *ret = (Line) {
                        .type = s,
                        .type_len = t,
                        .file = s + t + 2,
                        .file_len = (size_t) (end - (s + t + 2)),
                        .hash = end + 4,
                        .hash_len = (size_t) (s + n - (end + 4)),
                };
                return true;
        }
        /* "HASH  FILE", as md5sum prints it. */
        const char *sep = memmem(s, n, "  ", 2);
        if (!sep || sep == s)
                return false;
        *ret = (Line) {
                .file = sep + 2,
                .file_len = (size_t) (s + n - (sep + 2)),
                .hash = s,
                .hash_len = (size_t) (sep - s),
        };
        return true;
}

static int parse_line(const char *s, size_t n, unsigned lineno, LockSource *ret, char **ret_error) {
        _cleanup_free_ char *type = NULL, *file = NULL, *hash = NULL;
        Line l;

        if (!split_line(s, n, &l)) {
                *ret_error = strprintf("line %u: expected 'SHA512 (FILE) = HASH' or 'MD5-HASH  FILE'", lineno);
                return -EBADMSG;
        }
        type = l.type ? lower_dup(l.type, l.type_len) : strdup("md5");
        if (!type)
                return -ENOMEM;
        HashAlgo a = source_hash_algo(type);
        if (a < 0) {
                *ret_error = strprintf("line %u: unknown hash type '%s' (expected MD5, SHA1, SHA256 or SHA512)", lineno,
                                       type);
                return -EBADMSG;
        }
        const char *why = source_file_name_check(l.file, l.file_len);
        if (why) {
                *ret_error = strprintf("line %u: not a file name for a source: %s", lineno, why);
                return -EBADMSG;
        }
        file = strndup_nul(l.file, l.file_len);
        if (!file)
                return -ENOMEM;
        size_t want = 2 * hash_size(a);
        if (!is_hex(l.hash, l.hash_len) || l.hash_len != want) {
                *ret_error = strprintf("line %u: the %s hash of '%s' must be %zu hexadecimal digits", lineno, type, file,
                                       want);
                return -EBADMSG;
        }
        hash = lower_dup(l.hash, l.hash_len);
        if (!hash)
                return -ENOMEM;
        *ret = (LockSource) { .file = TAKE_PTR(file), .hashtype = TAKE_PTR(type), .hash = TAKE_PTR(hash) };
        return 0;
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\r';
}

int sources_parse(const char *data, size_t size, LockSource **ret, size_t *ret_n, char **ret_error) {
        LockSource *items = NULL;
        size_t n = 0, allocated = 0;
        unsigned lineno = 0;
        int r = 0;

        *ret_error = NULL;
        for (size_t pos = 0; pos < size;) {
                const char *s = data + pos, *nl = memchr(s, '\n', size - pos);
                size_t len = nl ? (size_t) (nl - s) : size - pos;
                pos += len + (nl ? 1 : 0);
                lineno++;

                /* Surrounding blanks (and a CRLF's CR) are not part of either format. */
                while (len > 0 && is_blank(s[len - 1]))
                        len--;
                while (len > 0 && is_blank(s[0]))
                        s++, len--;
                if (len == 0)
                        continue;
                if (!GREEDY_REALLOC(items, allocated, n + 1)) {
                        r = -ENOMEM;
                        break;
                }
                r = parse_line(s, len, lineno, &items[n], ret_error);
                if (r < 0)
                        break;
                n++;
        }
        if (r < 0) {
                lock_sources_free(items, n);
                return r;
        }
        *ret = items;
        *ret_n = n;
        return 0;
}
