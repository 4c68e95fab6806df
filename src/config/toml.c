/* SPDX-License-Identifier: MIT */

/* TOML 1.0.0 parser. Section names in comments refer to https://toml.io/en/v1.0.0.
 *
 * The parser is a hand-written recursive descent over bytes. It tracks line
 * and column as it advances (columns count code points), validates UTF-8
 * wherever non-ASCII text is allowed (comments and strings), and applies the
 * table definition rules of "Table", "Inline Table" and "Array of Tables"
 * through per-table flags:
 *
 *   T_IMPLICIT  created as a parent by a [header]; may later be defined once by
 *               its own [header]
 *   T_EXPLICIT  defined by a [header] (or an element made by [[header]]):
 *               never again by a header, never extended by dotted keys
 *   T_DOTTED    defined by dotted keys: never by a [header], though a header
 *               may still pass through it to define a sub-table
 *   T_INLINE    an inline table: closed to any later addition
 *
 * Arrays carry A_TABLES when they were made by [[header]] (they may be
 * appended to) and not otherwise (static arrays from value syntax). */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/strbuf.h"
#include "toml.h"

enum {
        T_IMPLICIT = 1u << 0,
        T_EXPLICIT = 1u << 1,
        T_DOTTED = 1u << 2,
        T_INLINE = 1u << 3,
        A_TABLES = 1u << 4,
};

/* Arrays and inline tables nest by recursion; bound it so hostile input
 * cannot exhaust the stack. */
#define TOML_MAX_DEPTH 128

static const char *const toml_type_table[_TOML_TYPE_MAX] = {
        [TOML_TABLE] = "table",
        [TOML_ARRAY] = "array",
        [TOML_STRING] = "string",
        [TOML_INTEGER] = "integer",
        [TOML_FLOAT] = "float",
        [TOML_BOOL] = "boolean",
        [TOML_DATETIME] = "offset date-time",
        [TOML_DATETIME_LOCAL] = "local date-time",
        [TOML_DATE_LOCAL] = "local date",
        [TOML_TIME_LOCAL] = "local time",
};

static const char *const toml_tag_table[_TOML_TYPE_MAX] = {
        [TOML_TABLE] = "table",
        [TOML_ARRAY] = "array",
        [TOML_STRING] = "string",
        [TOML_INTEGER] = "integer",
        [TOML_FLOAT] = "float",
        [TOML_BOOL] = "bool",
        [TOML_DATETIME] = "datetime",
        [TOML_DATETIME_LOCAL] = "datetime-local",
        [TOML_DATE_LOCAL] = "date-local",
        [TOML_TIME_LOCAL] = "time-local",
};

const char *toml_type_to_string(TomlType t) {
        return t >= 0 && t < _TOML_TYPE_MAX ? toml_type_table[t] : NULL;
}

const char *toml_type_to_tag(TomlType t) {
        return t >= 0 && t < _TOML_TYPE_MAX ? toml_tag_table[t] : NULL;
}

/* ---- values ---------------------------------------------------------------- */

TomlValue *toml_value_free(TomlValue *v) {
        if (!v)
                return NULL;
        switch (v->type) {
        case TOML_STRING:
                free(v->string.s);
                break;
        case TOML_ARRAY:
                for (size_t i = 0; i < v->array.n; i++)
                        toml_value_free(v->array.items[i]);
                free(v->array.items);
                break;
        case TOML_TABLE:
                for (size_t i = 0; i < v->table.n; i++) {
                        free(v->table.entries[i].key);
                        toml_value_free(v->table.entries[i].value);
                }
                free(v->table.entries);
                break;
        default:
                break;
        }
        free(v);
        return NULL;
}
TomlValue *toml_value_new(TomlType type, const SourcePos *pos) {
        TomlValue *v = new0(TomlValue, 1);
        if (!v)
                return NULL;
        v->type = type;
        v->pos = *pos;
        return v;
}

TomlDocument *toml_document_free(TomlDocument *doc) {
        if (!doc)
                return NULL;
        toml_value_free(doc->root);
        free(doc->filename);
        free(doc);
        return NULL;
}

static TomlEntry *table_find(const TomlValue *t, const char *key, size_t len) {
        for (size_t i = 0; i < t->table.n; i++) {
                TomlEntry *e = &t->table.entries[i];
                if (e->key_len == len && memcmp(e->key, key, len) == 0)
                        return e;
        }
        return NULL;
}

const TomlEntry *toml_table_entry(const TomlValue *table, const char *key) {
        if (!table || table->type != TOML_TABLE)
                return NULL;
        return table_find(table, key, strlen(key));
}

const TomlValue *toml_table_get(const TomlValue *table, const char *key) {
        const TomlEntry *e = toml_table_entry(table, key);
        return e ? e->value : NULL;
}

TomlValue *toml_string_new(const char *s, size_t len, const SourcePos *pos) {
        _cleanup_(toml_value_freep) TomlValue *v = toml_value_new(TOML_STRING, pos);
        if (!v || !(v->string.s = strndup_nul(s, len)))
                return NULL;
        v->string.len = len;
        return TAKE_PTR(v);
}

/* Takes ownership of value, also on failure. */
static int table_add(TomlValue *t, const char *key, size_t len, const SourcePos *key_pos, TomlValue *value) {
        _cleanup_(toml_value_freep) TomlValue *v = value;
        _cleanup_free_ char *k = strndup_nul(key, len);
        if (!k || !GREEDY_REALLOC(t->table.entries, t->table.allocated, t->table.n + 1))
                return -ENOMEM;
        t->table.entries[t->table.n++] = (TomlEntry) {
                .key = TAKE_PTR(k),
                .key_len = len,
                .key_pos = *key_pos,
                .value = TAKE_PTR(v),
        };
        return 0;
}

/* Takes ownership of value, also on failure. */
static int array_add(TomlValue *a, TomlValue *value) {
        if (!GREEDY_REALLOC(a->array.items, a->array.allocated, a->array.n + 1)) {
                toml_value_free(value);
                return -ENOMEM;
        }
        a->array.items[a->array.n++] = value;
        return 0;
}

int toml_table_add(TomlValue *table, const char *key, const SourcePos *key_pos, TomlValue *value) {
        assert(table->type == TOML_TABLE);
        return table_add(table, key, strlen(key), key_pos, value);
}

int toml_array_add(TomlValue *array, TomlValue *value) {
        assert(array->type == TOML_ARRAY);
        return array_add(array, value);
}

/* ---- the cursor ------------------------------------------------------------ */

typedef struct Parser {
        const char *p;
        const char *end;
        unsigned line;
        unsigned column;
        const char *filename;
        Diagnostics *diag;
        TomlValue *root;
        TomlValue *current; /* the table key/value pairs go into */
        unsigned depth;
} Parser;

typedef struct KeyPart {
        char *s;
        size_t len;
        SourcePos pos;
} KeyPart;

typedef struct Key {
        KeyPart *parts;
        size_t n;
        size_t allocated;
} Key;

static void key_release(Key *k) {
        for (size_t i = 0; i < k->n; i++)
                free(k->parts[i].s);
        free(k->parts);
        *k = (Key) {};
}

static SourcePos here(const Parser *ps) {
        return (SourcePos) { .file = ps->filename, .line = ps->line, .column = ps->column };
}

static bool eof(const Parser *ps) {
        return ps->p >= ps->end;
}

static int peek(const Parser *ps) {
        return eof(ps) ? -1 : (unsigned char) *ps->p;
}

static int peek_at(const Parser *ps, size_t off) {
        return (size_t) (ps->end - ps->p) > off ? (unsigned char) ps->p[off] : -1;
}

static void advance(Parser *ps) {
        if (eof(ps))
                return;
        unsigned char c = (unsigned char) *ps->p++;
        if (c == '\n') {
                ps->line++;
                ps->column = 1;
        } else if ((c & 0xC0) != 0x80)
                ps->column++;
}

static void advance_n(Parser *ps, size_t n) {
        while (n-- > 0)
                advance(ps);
}

static int errorf_at(Parser *ps, const SourcePos *pos, const char *fmt, ...) _printf_(3, 4);
static int errorf_at(Parser *ps, const SourcePos *pos, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        diag_addv(ps->diag, DIAG_ERROR, pos, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

#define errorf(ps, ...)                                   \
        ({                                                \
                SourcePos _pos_ = here(ps);               \
                errorf_at((ps), &_pos_, __VA_ARGS__);     \
        })

/* Describes the character at the cursor for messages: 'x', newline, end of file. */
static const char *describe_here(const Parser *ps, char buf[static 16]) {
        int c = peek(ps);
        if (c < 0)
                return "end of file";
        if (c == '\n')
                return "end of line";
        if (c == '\r')
                return "carriage return";
        if (c == '\t')
                return "tab";
        if (c < 0x20 || c == 0x7F) {
                snprintf(buf, 16, "byte 0x%02X", (unsigned) c);
                return buf;
        }
        if (c >= 0x80)
                return "non-ASCII character";
        snprintf(buf, 16, "'%c'", c);
        return buf;
}

static int unexpected(Parser *ps, const char *expected) {
        char buf[16];
        return errorf(ps, "expected %s, found %s", expected, describe_here(ps, buf));
}

/* Decodes one UTF-8 sequence at the cursor (RFC 3629: no overlongs, no
 * surrogates, at most U+10FFFF). Returns its length or 0 if invalid. */
static size_t utf8_decode(const char *s, const char *end, unsigned *ret_cp) {
        const unsigned char *u = (const unsigned char *) s;
        size_t avail = (size_t) (end - s);
        unsigned cp;
        size_t n;

        if (avail == 0)
                return 0;
        if (u[0] < 0x80) {
                *ret_cp = u[0];
                return 1;
        }
        if (u[0] >= 0xC2 && u[0] <= 0xDF) {
                n = 2;
                cp = u[0] & 0x1F;
        } else if (u[0] >= 0xE0 && u[0] <= 0xEF) {
                n = 3;
                cp = u[0] & 0x0F;
        } else if (u[0] >= 0xF0 && u[0] <= 0xF4) {
                n = 4;
                cp = u[0] & 0x07;
        } else
                return 0;
        if (avail < n)
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((u[i] & 0xC0) != 0x80)
                        return 0;
                cp = (cp << 6) | (u[i] & 0x3F);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
                return 0;
        *ret_cp = cp;
        return n;
}

static bool is_ws(int c) {
        return c == ' ' || c == '\t';
}

static bool is_bare_key_char(int c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static void skip_ws(Parser *ps) {
        while (is_ws(peek(ps)))
                advance(ps);
}

/* "Comment": a hash to the end of the line; control characters other than tab
 * are not permitted in it. */
static int skip_comment(Parser *ps) {
        if (peek(ps) != '#')
                return 0;
        advance(ps);
        while (!eof(ps)) {
                int c = peek(ps);
                if (c == '\n' || (c == '\r' && peek_at(ps, 1) == '\n'))
                        return 0;
                if ((c < 0x20 && c != '\t') || c == 0x7F)
                        return errorf(ps, "control character 0x%02X is not allowed in a comment", (unsigned) c);
                if (c >= 0x80) {
                        unsigned cp;
                        size_t n = utf8_decode(ps->p, ps->end, &cp);
                        if (n == 0)
                                return errorf(ps, "invalid UTF-8 in comment");
                        advance_n(ps, n);
                } else
                        advance(ps);
        }
        return 0;
}

/* Consumes a newline (LF or CRLF) if one is at the cursor. Returns 1 if one
 * was consumed, 0 if none, -EINVAL for a lone CR. */
static int eat_newline(Parser *ps) {
        int c = peek(ps);
        if (c == '\n') {
                advance(ps);
                return 1;
        }
        if (c == '\r') {
                if (peek_at(ps, 1) == '\n') {
                        advance_n(ps, 2);
                        return 1;
                }
                return errorf(ps, "carriage return not followed by a line feed");
        }
        return 0;
}

/* Skips white space, newlines and comments (inside arrays). */
static int skip_ws_nl_comments(Parser *ps) {
        for (;;) {
                skip_ws(ps);
                int r = skip_comment(ps);
                if (r < 0)
                        return r;
                r = eat_newline(ps);
                if (r < 0)
                        return r;
                if (r == 0)
                        return 0;
        }
}

/* After a key/value pair or a header: white space, an optional comment, and a
 * newline or the end of the file. */
static int expect_line_end(Parser *ps, const char *what) {
        skip_ws(ps);
        int r = skip_comment(ps);
        if (r < 0)
                return r;
        if (eof(ps))
                return 0;
        r = eat_newline(ps);
        if (r < 0)
                return r;
        if (r == 0) {
                char buf[16], exp[96];
                snprintf(exp, sizeof exp, "end of line after %s", what);
                return errorf(ps, "expected %s, found %s", exp, describe_here(ps, buf));
        }
        return 0;
}

/* ---- strings ("String") ---------------------------------------------------- */

static int parse_hex_escape(Parser *ps, StrBuf *sb, unsigned digits) {
        SourcePos pos = here(ps);
        unsigned cp = 0;

        advance(ps); /* the u or U */
        for (unsigned i = 0; i < digits; i++) {
                int c = peek(ps);
                unsigned d;
                if (c >= '0' && c <= '9')
                        d = (unsigned) (c - '0');
                else if (c >= 'a' && c <= 'f')
                        d = (unsigned) (c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        d = (unsigned) (c - 'A' + 10);
                else
                        return errorf(ps, "expected %u hexadecimal digits in unicode escape", digits);
                cp = cp * 16 + d;
                advance(ps);
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                return errorf_at(ps, &pos, "escape U+%04X is not a Unicode scalar value", cp);
        return strbuf_put_utf8(sb, cp);
}

/* One escape sequence after the backslash (already consumed). */
static int parse_escape(Parser *ps, StrBuf *sb) {
        int c = peek(ps);
        char out;

        switch (c) {
        case 'b': out = '\b'; break;
        case 't': out = '\t'; break;
        case 'n': out = '\n'; break;
        case 'f': out = '\f'; break;
        case 'r': out = '\r'; break;
        case '"': out = '"'; break;
        case '\\': out = '\\'; break;
        case 'u': return parse_hex_escape(ps, sb, 4);
        case 'U': return parse_hex_escape(ps, sb, 8);
        default: {
                char buf[16];
                return errorf(ps, "invalid escape sequence: backslash followed by %s", describe_here(ps, buf));
        }
        }
        advance(ps);
        return strbuf_putc(sb, out);
}

/* Copies one character of string content at the cursor, rejecting the control
 * characters no string may hold (tab excepted) and invalid UTF-8. */
static int copy_string_char(Parser *ps, StrBuf *sb) {
        int c = peek(ps);
        if ((c < 0x20 && c != '\t') || c == 0x7F)
                return errorf(ps, "control character 0x%02X must be escaped in a string", (unsigned) c);
        if (c < 0x80) {
                advance(ps);
                return strbuf_putc(sb, (char) c);
        }
        unsigned cp;
        size_t n = utf8_decode(ps->p, ps->end, &cp);
        if (n == 0)
                return errorf(ps, "invalid UTF-8 in string");
        int r = strbuf_put(sb, ps->p, n);
        advance_n(ps, n);
        return r;
}

/* Counts the quotes q at the cursor. */
static size_t count_quotes(const Parser *ps, char q) {
        size_t n = 0;
        while (peek_at(ps, n) == q)
                n++;
        return n;
}

/* Parses any of the four string forms at the cursor. quote is '"' or '\''. */
static int parse_string(Parser *ps, bool allow_multiline, char **ret, size_t *ret_len) {
        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
        SourcePos start = here(ps);
        char q = (char) peek(ps);
        bool basic = q == '"';
        int r;

        if (count_quotes(ps, q) >= 3) {
                if (!allow_multiline)
                        return errorf(ps, "a key cannot be a multi-line string");
                advance_n(ps, 3);
                /* A newline right after the opening delimiter is trimmed. */
                r = eat_newline(ps);
                if (r < 0)
                        return r;
                for (;;) {
                        if (eof(ps))
                                return errorf_at(ps, &start, "unterminated multi-line string");
                        int c = peek(ps);
                        if (c == q) {
                                size_t n = count_quotes(ps, q);
                                if (n >= 3) {
                                        /* Up to two quotes may stand right before the delimiter. */
                                        if (n > 5)
                                                return errorf(ps, "too many quotes at the end of a multi-line string");
                                        strbuf_put(&sb, ps->p, n - 3);
                                        advance_n(ps, n);
                                        break;
                                }
                                strbuf_put(&sb, ps->p, n);
                                advance_n(ps, n);
                                continue;
                        }
                        if (c == '\n' || c == '\r') {
                                r = eat_newline(ps);
                                if (r < 0)
                                        return r;
                                strbuf_putc(&sb, '\n');
                                continue;
                        }
                        if (basic && c == '\\') {
                                advance(ps);
                                /* A line ending backslash trims all white space and
                                 * newlines up to the next other character. */
                                const char *save = ps->p;
                                unsigned sl = ps->line, sc = ps->column;
                                skip_ws(ps);
                                if (peek(ps) == '\n' || peek(ps) == '\r') {
                                        for (;;) {
                                                skip_ws(ps);
                                                r = eat_newline(ps);
                                                if (r < 0)
                                                        return r;
                                                if (r == 0)
                                                        break;
                                        }
                                        continue;
                                }
                                ps->p = save;
                                ps->line = sl;
                                ps->column = sc;
                                r = parse_escape(ps, &sb);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                        r = copy_string_char(ps, &sb);
                        if (r < 0)
                                return r;
                }
        } else {
                advance(ps);
                for (;;) {
                        int c = peek(ps);
                        if (c < 0 || c == '\n' || c == '\r')
                                return errorf_at(ps, &start, "unterminated string");
                        if (c == q) {
                                advance(ps);
                                break;
                        }
                        if (basic && c == '\\') {
                                advance(ps);
                                r = parse_escape(ps, &sb);
                        } else
                                r = copy_string_char(ps, &sb);
                        if (r < 0)
                                return r;
                }
        }

        size_t len;
        char *s = strbuf_detach(&sb, &len);
        if (!s)
                return -ENOMEM;
        *ret = s;
        *ret_len = len;
        return 0;
}

/* ---- keys ("Keys") --------------------------------------------------------- */

static int parse_key(Parser *ps, Key *key) {
        for (;;) {
                KeyPart part = { .pos = here(ps) };
                int c = peek(ps);
                int r;

                if (c == '"' || c == '\'') {
                        r = parse_string(ps, false, &part.s, &part.len);
                        if (r < 0)
                                return r;
                } else if (is_bare_key_char(c)) {
                        const char *s = ps->p;
                        while (is_bare_key_char(peek(ps)))
                                advance(ps);
                        part.len = (size_t) (ps->p - s);
                        part.s = strndup_nul(s, part.len);
                        if (!part.s)
                                return -ENOMEM;
                } else
                        return unexpected(ps, "a key");

                if (!GREEDY_REALLOC(key->parts, key->allocated, key->n + 1)) {
                        free(part.s);
                        return -ENOMEM;
                }
                key->parts[key->n++] = part;

                skip_ws(ps);
                if (peek(ps) != '.')
                        return 0;
                advance(ps);
                skip_ws(ps);
        }
}

/* Renders key parts 0..n-1 for messages, quoting parts that need it. */
static char *key_to_string(const Key *k, size_t n) {
        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
        for (size_t i = 0; i < n; i++) {
                const KeyPart *p = &k->parts[i];
                bool bare = p->len > 0;
                for (size_t j = 0; j < p->len; j++)
                        if (!is_bare_key_char((unsigned char) p->s[j]))
                                bare = false;
                if (i > 0)
                        strbuf_putc(&sb, '.');
                if (bare)
                        strbuf_put(&sb, p->s, p->len);
                else {
                        strbuf_putc(&sb, '"');
                        for (size_t j = 0; j < p->len; j++) {
                                unsigned char c = (unsigned char) p->s[j];
                                if (c == '"' || c == '\\')
                                        strbuf_printf(&sb, "\\%c", c);
                                else if (c < 0x20 || c == 0x7F)
                                        strbuf_printf(&sb, "\\u%04X", c);
                                else
                                        strbuf_putc(&sb, (char) c);
                        }
                        strbuf_putc(&sb, '"');
                }
        }
        return strbuf_detach(&sb, NULL);
}

/* ---- numbers and date-times ------------------------------------------------ */

/* Checks the digits of s[0..n) in the given base with TOML's underscore rule
 * (each underscore between two digits) and copies them without underscores to
 * out. Returns false if the rule is broken or there are no digits. */
static bool digits_ok(const char *s, size_t n, int base, char *out, size_t *out_len) {
        size_t o = 0;
        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (c == '_') {
                        if (i == 0 || i == n - 1 || s[i + 1] == '_')
                                return false;
                        continue;
                }
                bool ok;
                switch (base) {
                case 2: ok = c == '0' || c == '1'; break;
                case 8: ok = c >= '0' && c <= '7'; break;
                case 16: ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); break;
                default: ok = c >= '0' && c <= '9'; break;
                }
                if (!ok)
                        return false;
                out[o++] = c;
        }
        out[o] = 0;
        *out_len = o;
        return true;
}

/* "Integer" and "Float" for a token that holds no date or time. */
static int parse_number(Parser *ps, const SourcePos *pos, const char *tok, size_t n, TomlValue **ret) {
        _cleanup_free_ char *buf = malloc(n + 2);
        size_t blen;
        const char *s = tok;
        size_t len = n;
        bool neg = false, sign = false;

        if (!buf)
                return -ENOMEM;

        if (len > 0 && (s[0] == '+' || s[0] == '-')) {
                neg = s[0] == '-';
                sign = true;
                s++;
                len--;
        }

        /* inf and nan ("Float", special float values) */
        if ((len == 3 && memcmp(s, "inf", 3) == 0) || (len == 3 && memcmp(s, "nan", 3) == 0)) {
                TomlValue *v = toml_value_new(TOML_FLOAT, pos);
                if (!v)
                        return -ENOMEM;
                v->floating = s[0] == 'i' ? (neg ? -INFINITY : INFINITY) : (neg ? -NAN : NAN);
                *ret = v;
                return 0;
        }

        /* Prefixed integers: 0x, 0o, 0b; no sign allowed. */
        if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b')) {
                int base = s[1] == 'x' ? 16 : s[1] == 'o' ? 8 : 2;
                if (sign)
                        return errorf_at(ps, pos, "a sign is not allowed on a %s integer",
                                         base == 16 ? "hexadecimal" : base == 8 ? "octal" : "binary");
                if (!digits_ok(s + 2, len - 2, base, buf, &blen))
                        return errorf_at(ps, pos, "invalid %s integer '%.*s'",
                                         base == 16 ? "hexadecimal" : base == 8 ? "octal" : "binary", (int) n, tok);
                uint64_t u = 0;
                for (size_t i = 0; i < blen; i++) {
                        char c = buf[i];
                        unsigned d = c <= '9' ? (unsigned) (c - '0') : (unsigned) ((c | 0x20) - 'a' + 10);
                        if (u > (UINT64_MAX - d) / (unsigned) base || u * (unsigned) base + d > INT64_MAX)
                                return errorf_at(ps, pos, "integer '%.*s' does not fit in 64 bits", (int) n, tok);
                        u = u * (unsigned) base + d;
                }
                TomlValue *v = toml_value_new(TOML_INTEGER, pos);
                if (!v)
                        return -ENOMEM;
                v->integer = (int64_t) u;
                *ret = v;
                return 0;
        }

        /* Decimal: int-part [ '.' frac ] [ e exp ] */
        size_t i = 0;
        while (i < len && s[i] != '.' && s[i] != 'e' && s[i] != 'E')
                i++;
        const char *ip = s;
        size_t ilen = i;
        const char *fp = NULL, *ep = NULL;
        size_t flen = 0, elen = 0;
        if (i < len && s[i] == '.') {
                size_t j = ++i;
                while (i < len && s[i] != 'e' && s[i] != 'E')
                        i++;
                fp = s + j;
                flen = i - j;
        }
        if (i < len && (s[i] == 'e' || s[i] == 'E')) {
                ep = s + i + 1;
                elen = len - i - 1;
        }

        char *o = buf;
        size_t k;
        if (neg)
                *o++ = '-';
        if (!digits_ok(ip, ilen, 10, o, &k))
                return errorf_at(ps, pos, "invalid number '%.*s'", (int) n, tok);
        if (k > 1 && o[0] == '0')
                return errorf_at(ps, pos, "leading zeros are not allowed in '%.*s'", (int) n, tok);

        if (!fp && !ep) {
                errno = 0;
                char *e;
                long long x = strtoll(buf, &e, 10);
                if (errno == ERANGE || *e)
                        return errorf_at(ps, pos, "integer '%.*s' does not fit in 64 bits", (int) n, tok);
                TomlValue *v = toml_value_new(TOML_INTEGER, pos);
                if (!v)
                        return -ENOMEM;
                v->integer = (int64_t) x;
                *ret = v;
                return 0;
        }

        /* Build a strtod-ready copy: sign, int, '.', frac, 'e', exp. */
        _cleanup_free_ char *f = malloc(n + 4);
        if (!f)
                return -ENOMEM;
        size_t fl = 0;
        memcpy(f, buf, (size_t) (o - buf) + k);
        fl = (size_t) (o - buf) + k;
        if (fp) {
                if (!digits_ok(fp, flen, 10, f + fl + 1, &k))
                        return errorf_at(ps, pos, "invalid fraction in '%.*s': a digit must follow the '.'", (int) n, tok);
                f[fl] = '.';
                fl += 1 + k;
        }
        if (ep) {
                f[fl++] = 'e';
                const char *x = ep;
                size_t xl = elen;
                if (xl > 0 && (x[0] == '+' || x[0] == '-')) {
                        f[fl++] = x[0];
                        x++;
                        xl--;
                }
                if (!digits_ok(x, xl, 10, f + fl, &k))
                        return errorf_at(ps, pos, "invalid exponent in '%.*s'", (int) n, tok);
                fl += k;
        }
        f[fl] = 0;

        char *e;
        double d = strtod(f, &e);
        if (*e)
                return errorf_at(ps, pos, "invalid float '%.*s'", (int) n, tok);
        TomlValue *v = toml_value_new(TOML_FLOAT, pos);
        if (!v)
                return -ENOMEM;
        v->floating = d;
        *ret = v;
        return 0;
}

static bool take_digits(const char **s, const char *end, unsigned count, int *ret) {
        int v = 0;
        for (unsigned i = 0; i < count; i++) {
                if (*s >= end || **s < '0' || **s > '9')
                        return false;
                v = v * 10 + (**s - '0');
                (*s)++;
        }
        *ret = v;
        return true;
}

static bool is_leap(int y) {
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m) {
        static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* "Offset Date-Time", "Local Date-Time", "Local Date", "Local Time" (RFC 3339
 * with the space delimiter TOML allows; seconds are required in 1.0.0). */
static int parse_datetime(Parser *ps, const SourcePos *pos, const char *tok, size_t n, TomlValue **ret) {
        const char *s = tok, *end = tok + n;
        TomlDatetime dt = {};
        bool has_date = false, has_time = false, has_offset = false;
        char frac[10] = "";

        if (n >= 10 && tok[4] == '-') {
                if (!take_digits(&s, end, 4, &dt.year) || s >= end || *s++ != '-' ||
                    !take_digits(&s, end, 2, &dt.month) || s >= end || *s++ != '-' ||
                    !take_digits(&s, end, 2, &dt.day))
                        goto invalid;
                if (dt.month < 1 || dt.month > 12)
                        return errorf_at(ps, pos, "month %02d is out of range in '%.*s'", dt.month, (int) n, tok);
                if (dt.day < 1 || dt.day > days_in_month(dt.year, dt.month))
                        return errorf_at(ps, pos, "day %02d is out of range in '%.*s'", dt.day, (int) n, tok);
                has_date = true;
                if (s < end) {
                        if (*s != 'T' && *s != 't' && *s != ' ')
                                goto invalid;
                        s++;
                        if (s >= end)
                                return errorf_at(ps, pos, "a time must follow the 'T' in '%.*s'", (int) n, tok);
                }
        }
        if (s < end || !has_date) {
                if (!take_digits(&s, end, 2, &dt.hour) || s >= end || *s++ != ':' ||
                    !take_digits(&s, end, 2, &dt.minute))
                        goto invalid;
                if (s >= end || *s != ':')
                        return errorf_at(ps, pos, "seconds are required in '%.*s' (TOML 1.0)", (int) n, tok);
                s++;
                if (!take_digits(&s, end, 2, &dt.second))
                        goto invalid;
                if (dt.hour > 23 || dt.minute > 59 || dt.second > 60)
                        return errorf_at(ps, pos, "time out of range in '%.*s'", (int) n, tok);
                if (s < end && *s == '.') {
                        s++;
                        size_t fd = 0;
                        uint32_t ns = 0;
                        while (s < end && *s >= '0' && *s <= '9') {
                                if (fd < 9) {
                                        ns = ns * 10 + (uint32_t) (*s - '0');
                                        frac[fd] = *s;
                                }
                                fd++;
                                s++;
                        }
                        if (fd == 0)
                                goto invalid;
                        for (size_t k = fd; k < 9; k++)
                                ns *= 10;
                        frac[MIN(fd, 9u)] = 0;
                        dt.nanosecond = ns;
                }
                has_time = true;
                if (has_date && s < end) {
                        if (*s == 'Z' || *s == 'z') {
                                s++;
                                has_offset = true;
                        } else if (*s == '+' || *s == '-') {
                                int sign = *s++ == '-' ? -1 : 1, oh, om;
                                if (!take_digits(&s, end, 2, &oh) || s >= end || *s++ != ':' ||
                                    !take_digits(&s, end, 2, &om))
                                        goto invalid;
                                if (oh > 23 || om > 59)
                                        return errorf_at(ps, pos, "time zone offset out of range in '%.*s'", (int) n, tok);
                                dt.offset_minutes = sign * (oh * 60 + om);
                                has_offset = true;
                        }
                }
        }
        if (s != end)
                goto invalid;

        TomlType type = has_date && has_time ? (has_offset ? TOML_DATETIME : TOML_DATETIME_LOCAL)
                        : has_date           ? TOML_DATE_LOCAL
                                             : TOML_TIME_LOCAL;

        /* Canonical text: upper case T and Z, T as the delimiter. */
        int off = 0;
        size_t sz = sizeof dt.text;
        if (has_date)
                off += snprintf(dt.text + off, sz - (size_t) off, "%04d-%02d-%02d", dt.year, dt.month, dt.day);
        if (has_date && has_time)
                dt.text[off++] = 'T';
        if (has_time) {
                off += snprintf(dt.text + off, sz - (size_t) off, "%02d:%02d:%02d", dt.hour, dt.minute, dt.second);
                if (frac[0])
                        off += snprintf(dt.text + off, sz - (size_t) off, ".%s", frac);
        }
        if (has_offset) {
                if (dt.offset_minutes == 0 && (tok[n - 1] == 'Z' || tok[n - 1] == 'z'))
                        snprintf(dt.text + off, sz - (size_t) off, "Z");
                else {
                        int a = abs(dt.offset_minutes);
                        snprintf(dt.text + off, sz - (size_t) off, "%c%02d:%02d",
                                 dt.offset_minutes < 0 || (a == 0 && tok[n - 6] == '-') ? '-' : '+', a / 60, a % 60);
                }
        }

        TomlValue *v = toml_value_new(type, pos);
        if (!v)
                return -ENOMEM;
        v->datetime = dt;
        *ret = v;
        return 0;

invalid:
        return errorf_at(ps, pos, "invalid date or time '%.*s'", (int) n, tok);
}

static bool is_token_char(int c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               c == '_' || c == '+' || c == '-' || c == '.' || c == ':';
}

/* Numbers, booleans, and date-times: a run of token characters, where a date
 * may be followed by a space and a time. */
static int parse_scalar_token(Parser *ps, TomlValue **ret) {
        SourcePos pos = here(ps);
        const char *start = ps->p;

        while (is_token_char(peek(ps)))
                advance(ps);
        size_t n = (size_t) (ps->p - start);

        /* "1979-05-27 07:32:00": the space delimiter joins a date and a time. */
        if (n == 10 && start[4] == '-' && start[7] == '-' && peek(ps) == ' ' &&
            peek_at(ps, 1) >= '0' && peek_at(ps, 1) <= '9' && peek_at(ps, 2) >= '0' && peek_at(ps, 2) <= '9' &&
            peek_at(ps, 3) == ':') {
                advance(ps);
                while (is_token_char(peek(ps)))
                        advance(ps);
                n = (size_t) (ps->p - start);
        }

        if (n == 0)
                return unexpected(ps, "a value");

        if ((n == 4 && memcmp(start, "true", 4) == 0) || (n == 5 && memcmp(start, "false", 5) == 0)) {
                TomlValue *v = toml_value_new(TOML_BOOL, &pos);
                if (!v)
                        return -ENOMEM;
                v->boolean = n == 4;
                *ret = v;
                return 0;
        }

        bool dt = (n >= 10 && start[4] == '-' && start[0] >= '0' && start[0] <= '9') ||
                  (n >= 3 && start[2] == ':' && start[0] >= '0' && start[0] <= '9');
        if (dt)
                return parse_datetime(ps, &pos, start, n, ret);

        char c = start[0];
        if (!((c >= '0' && c <= '9') || c == '+' || c == '-' || c == 'i' || c == 'n'))
                return errorf_at(ps, &pos, "invalid value '%.*s' (strings must be quoted)", (int) MIN(n, 40u), start);
        return parse_number(ps, &pos, start, n, ret);
}

/* ---- arrays, inline tables, key/value pairs -------------------------------- */

static int parse_value(Parser *ps, TomlValue **ret);
static int parse_keyval(Parser *ps, TomlValue *table);

/* "Array" */
static int parse_array(Parser *ps, TomlValue **ret) {
        _cleanup_(toml_value_freep) TomlValue *a = NULL;
        SourcePos pos = here(ps);
        int r;

        a = toml_value_new(TOML_ARRAY, &pos);
        if (!a)
                return -ENOMEM;
        advance(ps); /* [ */

        for (;;) {
                r = skip_ws_nl_comments(ps);
                if (r < 0)
                        return r;
                if (peek(ps) == ']')
                        break;

                TomlValue *item = NULL;
                r = parse_value(ps, &item);
                if (r < 0)
                        return r;
                r = array_add(a, item);
                if (r < 0)
                        return r;

                r = skip_ws_nl_comments(ps);
                if (r < 0)
                        return r;
                if (peek(ps) == ',') {
                        advance(ps);
                        continue;
                }
                if (peek(ps) == ']')
                        break;
                return unexpected(ps, "',' or ']' in array");
        }
        advance(ps); /* ] */
        *ret = TAKE_PTR(a);
        return 0;
}

/* "Inline Table": one line, no trailing comma, closed once parsed. */
static int parse_inline_table(Parser *ps, TomlValue **ret) {
        _cleanup_(toml_value_freep) TomlValue *t = NULL;
        SourcePos pos = here(ps);
        int r;

        t = toml_value_new(TOML_TABLE, &pos);
        if (!t)
                return -ENOMEM;
        advance(ps); /* { */

        skip_ws(ps);
        if (peek(ps) == '}') {
                advance(ps);
                t->flags |= T_INLINE;
                *ret = TAKE_PTR(t);
                return 0;
        }
        for (;;) {
                skip_ws(ps);
                r = parse_keyval(ps, t);
                if (r < 0)
                        return r;
                skip_ws(ps);
                if (peek(ps) == ',') {
                        advance(ps);
                        skip_ws(ps);
                        if (peek(ps) == '}')
                                return errorf(ps, "trailing comma is not allowed in an inline table");
                        continue;
                }
                if (peek(ps) == '}')
                        break;
                if (peek(ps) == '\n' || peek(ps) == '\r')
                        return errorf(ps, "newline is not allowed in an inline table");
                return unexpected(ps, "',' or '}' in inline table");
        }
        advance(ps); /* } */
        t->flags |= T_INLINE;
        *ret = TAKE_PTR(t);
        return 0;
}

static int parse_value(Parser *ps, TomlValue **ret) {
        int c = peek(ps);
        int r;

        if (ps->depth >= TOML_MAX_DEPTH)
                return errorf(ps, "arrays and inline tables nest deeper than %d levels", TOML_MAX_DEPTH);

        if (c == '"' || c == '\'') {
                SourcePos pos = here(ps);
                _cleanup_free_ char *s = NULL;
                size_t len;
                r = parse_string(ps, true, &s, &len);
                if (r < 0)
                        return r;
                TomlValue *v = toml_value_new(TOML_STRING, &pos);
                if (!v)
                        return -ENOMEM;
                v->string.s = TAKE_PTR(s);
                v->string.len = len;
                *ret = v;
                return 0;
        }
        if (c == '[' || c == '{') {
                ps->depth++;
                r = c == '[' ? parse_array(ps, ret) : parse_inline_table(ps, ret);
                ps->depth--;
                return r;
        }
        if (c < 0 || c == '\n' || c == '\r' || c == '#' || c == ',' || c == ']' || c == '}')
                return unexpected(ps, "a value");
        return parse_scalar_token(ps, ret);
}

static bool is_table(const TomlValue *v) {
        return v->type == TOML_TABLE;
}

/* Creates the table for key part p under t, with flags; *ret is the new table. */
static int add_subtable(TomlValue *t, const KeyPart *p, unsigned flags, TomlValue **ret) {
        TomlValue *sub = toml_value_new(TOML_TABLE, &p->pos);
        if (!sub)
                return -ENOMEM;
        sub->flags |= flags;
        int r = table_add(t, p->s, p->len, &p->pos, sub);
        if (r < 0)
                return r;
        *ret = sub;
        return 0;
}

/* key = value, into table. Dotted keys create tables on the way, which count
 * as defined by dotted keys ("Keys", "Table"). */
static int parse_keyval(Parser *ps, TomlValue *table) {
        _cleanup_(key_release) Key key = {};
        TomlValue *t = table;
        int r;

        r = parse_key(ps, &key);
        if (r < 0)
                return r;
        skip_ws(ps);
        if (peek(ps) != '=') {
                _cleanup_free_ char *name = key_to_string(&key, key.n);
                char buf[16];
                return errorf(ps, "expected '=' after key '%s', found %s", name ? name : "?", describe_here(ps, buf));
        }
        advance(ps);
        skip_ws(ps);

        for (size_t i = 0; i + 1 < key.n; i++) {
                KeyPart *p = &key.parts[i];
                TomlEntry *e = table_find(t, p->s, p->len);
                if (!e) {
                        r = add_subtable(t, p, T_DOTTED, &t);
                        if (r < 0)
                                return r;
                        continue;
                }
                _cleanup_free_ char *name = key_to_string(&key, i + 1);
                if (!is_table(e->value))
                        return errorf_at(ps, &p->pos, "cannot add keys to '%s': it is already %s %s (%s:%u:%u)",
                                         name ? name : "?", e->value->type == TOML_ARRAY ? "an" : "a",
                                         toml_type_to_string(e->value->type), ps->filename, e->key_pos.line,
                                         e->key_pos.column);
                if (e->value->flags & T_INLINE)
                        return errorf_at(ps, &p->pos, "cannot add keys to inline table '%s' (%s:%u:%u)",
                                         name ? name : "?", ps->filename, e->key_pos.line, e->key_pos.column);
                if (e->value->flags & T_EXPLICIT)
                        return errorf_at(ps, &p->pos,
                                         "cannot add keys to table '%s' with dotted keys: it is defined by a header at %s:%u:%u",
                                         name ? name : "?", ps->filename, e->value->pos.line, e->value->pos.column);
                e->value->flags = (e->value->flags & ~T_IMPLICIT) | T_DOTTED;
                t = e->value;
        }

        KeyPart *last = &key.parts[key.n - 1];
        TomlEntry *e = table_find(t, last->s, last->len);
        if (e) {
                _cleanup_free_ char *name = key_to_string(&key, key.n);
                return errorf_at(ps, &last->pos, "duplicate key '%s', first defined at %s:%u:%u", name ? name : "?",
                                 ps->filename, e->key_pos.line, e->key_pos.column);
        }

        TomlValue *v = NULL;
        r = parse_value(ps, &v);
        if (r < 0)
                return r;
        return table_add(t, last->s, last->len, &last->pos, v);
}

/* [table] and [[array of tables]] headers. */
static int parse_header(Parser *ps) {
        _cleanup_(key_release) Key key = {};
        SourcePos pos = here(ps);
        bool aot = peek_at(ps, 1) == '[';
        TomlValue *t = ps->root;
        int r;

        advance_n(ps, aot ? 2 : 1);
        skip_ws(ps);
        r = parse_key(ps, &key);
        if (r < 0)
                return r;
        skip_ws(ps);
        if (aot) {
                if (peek(ps) != ']' || peek_at(ps, 1) != ']')
                        return unexpected(ps, "']]' to close the array of tables header");
                advance_n(ps, 2);
        } else {
                if (peek(ps) != ']')
                        return unexpected(ps, "']' to close the table header");
                advance(ps);
        }

        for (size_t i = 0; i + 1 < key.n; i++) {
                KeyPart *p = &key.parts[i];
                TomlEntry *e = table_find(t, p->s, p->len);
                if (!e) {
                        r = add_subtable(t, p, T_IMPLICIT, &t);
                        if (r < 0)
                                return r;
                        continue;
                }
                TomlValue *v = e->value;
                _cleanup_free_ char *name = key_to_string(&key, i + 1);
                if (v->type == TOML_ARRAY && (v->flags & A_TABLES)) {
                        t = v->array.items[v->array.n - 1];
                        continue;
                }
                if (!is_table(v))
                        return errorf_at(ps, &p->pos, "cannot define a table under '%s': it is %s %s (%s:%u:%u)",
                                         name ? name : "?", v->type == TOML_ARRAY ? "an" : "a",
                                         toml_type_to_string(v->type), ps->filename, e->key_pos.line, e->key_pos.column);
                if (v->flags & T_INLINE)
                        return errorf_at(ps, &p->pos, "cannot extend inline table '%s' (%s:%u:%u)", name ? name : "?",
                                         ps->filename, e->key_pos.line, e->key_pos.column);
                t = v;
        }

        KeyPart *last = &key.parts[key.n - 1];
        TomlEntry *e = table_find(t, last->s, last->len);
        _cleanup_free_ char *name = key_to_string(&key, key.n);

        if (aot) {
                TomlValue *arr;
                if (!e) {
                        arr = toml_value_new(TOML_ARRAY, &pos);
                        if (!arr)
                                return -ENOMEM;
                        arr->flags |= A_TABLES;
                        r = table_add(t, last->s, last->len, &last->pos, arr);
                        if (r < 0)
                                return r;
                } else {
                        arr = e->value;
                        if (arr->type != TOML_ARRAY || !(arr->flags & A_TABLES))
                                return errorf_at(ps, &last->pos,
                                                 "cannot define array of tables '%s': it is already %s %s (%s:%u:%u)",
                                                 name ? name : "?",
                                                 arr->type == TOML_ARRAY ? "a static" : "a",
                                                 toml_type_to_string(arr->type), ps->filename, e->key_pos.line,
                                                 e->key_pos.column);
                }
                TomlValue *elem = toml_value_new(TOML_TABLE, &pos);
                if (!elem)
                        return -ENOMEM;
                elem->flags |= T_EXPLICIT;
                r = array_add(arr, elem);
                if (r < 0)
                        return r;
                ps->current = elem;
        } else {
                if (!e) {
                        TomlValue *sub = toml_value_new(TOML_TABLE, &pos);
                        if (!sub)
                                return -ENOMEM;
                        sub->flags |= T_EXPLICIT;
                        r = table_add(t, last->s, last->len, &last->pos, sub);
                        if (r < 0)
                                return r;
                        ps->current = sub;
                } else {
                        TomlValue *v = e->value;
                        if (!is_table(v))
                                return errorf_at(ps, &last->pos, "cannot define table '%s': it is already %s %s (%s:%u:%u)",
                                                 name ? name : "?", v->type == TOML_ARRAY ? "an" : "a",
                                                 toml_type_to_string(v->type), ps->filename, e->key_pos.line,
                                                 e->key_pos.column);
                        if (v->flags & (T_EXPLICIT | T_DOTTED | T_INLINE))
                                return errorf_at(ps, &last->pos, "table '%s' is defined twice, first at %s:%u:%u",
                                                 name ? name : "?", ps->filename, v->pos.line, v->pos.column);
                        v->flags = (v->flags & ~T_IMPLICIT) | T_EXPLICIT;
                        v->pos = pos;
                        ps->current = v;
                }
        }
        return expect_line_end(ps, aot ? "array of tables header" : "table header");
}

static int parse_document(Parser *ps) {
        int r;

        /* A UTF-8 byte order mark may start the document. */
        if (ps->end - ps->p >= 3 && memcmp(ps->p, "\xEF\xBB\xBF", 3) == 0)
                ps->p += 3;

        for (;;) {
                skip_ws(ps);
                if (eof(ps))
                        return 0;
                int c = peek(ps);
                if (c == '#') {
                        r = expect_line_end(ps, "comment");
                        if (r < 0)
                                return r;
                        continue;
                }
                r = eat_newline(ps);
                if (r < 0)
                        return r;
                if (r > 0)
                        continue;
                if (c == '[') {
                        r = parse_header(ps);
                        if (r < 0)
                                return r;
                        continue;
                }
                r = parse_keyval(ps, ps->current);
                if (r < 0)
                        return r;
                r = expect_line_end(ps, "value");
                if (r < 0)
                        return r;
        }
}

int toml_parse(const char *data, size_t size, const char *filename, Diagnostics *diag, TomlDocument **ret) {
        _cleanup_(toml_document_freep) TomlDocument *doc = NULL;
        int r;

        doc = new0(TomlDocument, 1);
        if (!doc)
                return -ENOMEM;
        doc->filename = strdup(filename);
        if (!doc->filename)
                return -ENOMEM;
        SourcePos pos = { .file = doc->filename, .line = 1, .column = 1 };
        doc->root = toml_value_new(TOML_TABLE, &pos);
        if (!doc->root)
                return -ENOMEM;
        doc->root->flags |= T_EXPLICIT;

        Parser ps = {
                .p = data,
                .end = data + size,
                .line = 1,
                .column = 1,
                .filename = doc->filename,
                .diag = diag,
                .root = doc->root,
                .current = doc->root,
        };
        r = parse_document(&ps);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(doc);
        return 0;
}

int toml_parse_file(const char *path, const char *display_name, Diagnostics *diag, TomlDocument **ret) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r;

        if (!display_name)
                display_name = path;
        r = read_full_file(path, &data, &size);
        if (r < 0) {
                SourcePos pos = { .file = display_name };
                diag_error(diag, &pos, "cannot read file: %s", strerror(-r));
                return r;
        }
        return toml_parse(data, size, display_name, diag, ret);
}
