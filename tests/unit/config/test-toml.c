/* SPDX-License-Identifier: MIT */

/* The parser's API beyond what toml-test covers: source positions of keys and
 * values, error positions and messages, limits. */

#include <stdlib.h>
#include <string.h>

#include "config/toml.h"
#include "../unit.h"

static TomlDocument *parse(const char *s, Diagnostics *d) {
        TomlDocument *doc = NULL;
        if (toml_parse(s, strlen(s), "t.toml", d, &doc) < 0)
                return NULL;
        return doc;
}

/* The single error of a failed parse as "line:col: message". */
static char *parse_error(const char *s) {
        Diagnostics d = {};
        TomlDocument *doc = parse(s, &d);
        char *r = NULL;
        if (doc)
                r = strdup("(parsed)");
        else if (d.n == 1 && asprintf(&r, "%u:%u: %s", d.items[0].line, d.items[0].column, d.items[0].message) < 0)
                r = NULL;
        toml_document_free(doc);
        diagnostics_release(&d);
        return r;
}

static void test_positions(void) {
        Diagnostics d = {};
        TomlDocument *doc = parse("# c\n"
                                  "a = 1\n"
                                  "[t]\n"
                                  "  \"é\" = \"x\"\n"
                                  "  b.c = [1,\r\n  2]\n"
                                  "[[arr]]\n"
                                  "k = 1979-05-27 07:32:00Z\n",
                                  &d);
        CHECK(doc);
        if (!doc)
                return;
        const TomlEntry *a = toml_table_entry(doc->root, "a");
        CHECK(a && a->key_pos.line == 2 && a->key_pos.column == 1);
        CHECK(a && a->value->pos.line == 2 && a->value->pos.column == 5);
        CHECK_STREQ(a ? a->key_pos.file : NULL, "t.toml");

        const TomlValue *t = toml_table_get(doc->root, "t");
        CHECK(t && t->type == TOML_TABLE && t->pos.line == 3 && t->pos.column == 1);
        const TomlEntry *e = toml_table_entry(t, "é");
        /* Columns count characters: the value after "é" = starts at column 9. */
        CHECK(e && e->key_pos.column == 3 && e->value->pos.column == 9);
        const TomlValue *b = toml_table_get(t, "b");
        CHECK(b && b->type == TOML_TABLE && b->pos.line == 5 && b->pos.column == 3);
        const TomlValue *c = toml_table_get(b, "c");
        CHECK(c && c->type == TOML_ARRAY && c->array.n == 2);
        CHECK(c && c->array.n == 2 && c->array.items[1]->pos.line == 6 && c->array.items[1]->pos.column == 3);

        const TomlValue *arr = toml_table_get(doc->root, "arr");
        CHECK(arr && arr->type == TOML_ARRAY && arr->array.n == 1);
        const TomlValue *k = arr && arr->array.n ? toml_table_get(arr->array.items[0], "k") : NULL;
        CHECK(k && k->type == TOML_DATETIME);
        CHECK_STREQ(k ? k->datetime.text : NULL, "1979-05-27T07:32:00Z");
        CHECK(k && k->datetime.year == 1979 && k->datetime.hour == 7 && k->datetime.offset_minutes == 0);

        toml_document_free(doc);
        diagnostics_release(&d);
}

static void test_errors(void) {
        struct {
                const char *in, *want;
        } cases[] = {
                { "a = \"x\n", "1:5: unterminated string" },
                { "a = 1\nb = \n", "2:5: expected a value, found end of line" },
                { "a = 1\na = 2\n", "2:1: duplicate key 'a', first defined at t.toml:1:1" },
                { "[t]\n[t]\n", "2:2: table 't' is defined twice, first at t.toml:1:1" },
                { "a = 01\n", "1:5: leading zeros are not allowed in '01'" },
                { "a = 1 2\n", "1:7: expected end of line after value, found '2'" },
                { "a = \"\\q\"\n", "1:7: invalid escape sequence: backslash followed by 'q'" },
                { "key\n", "1:4: expected '=' after key 'key', found end of line" },
                { "a = { b = 1, }\n", "1:14: trailing comma is not allowed in an inline table" },
                { "a = 9223372036854775808\n", "1:5: integer '9223372036854775808' does not fit in 64 bits" },
                { "d = 2023-02-29\n", "1:5: day 29 is out of range in '2023-02-29'" },
                { "a = yes\n", "1:5: invalid value 'yes' (strings must be quoted)" },
                { "a = 1\r\n\rb = 2\n", "2:1: carriage return not followed by a line feed" },
                { "a = 1 # \x01\n", "1:9: control character 0x01 is not allowed in a comment" },
                { "x = [1, 2\n", "2:1: expected ',' or ']' in array, found end of file" },
                { "a.b = 1\n[a]\n", "2:2: table 'a' is defined twice, first at t.toml:1:1" },
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                char *got = parse_error(cases[i].in);
                CHECK_STREQ(got, cases[i].want);
                free(got);
        }
}

static void test_depth_limit(void) {
        size_t n = 100000;
        char *s = malloc(n * 2 + 8);
        strcpy(s, "a = ");
        memset(s + 4, '[', n);
        s[4 + n] = 0;
        char *got = parse_error(s);
        CHECK(got && strstr(got, "nest deeper than"));
        free(got);
        free(s);
}

static void test_strings_with_nul(void) {
        Diagnostics d = {};
        TomlDocument *doc = parse("\"k\\u0000x\" = \"a\\u0000b\"\n", &d);
        CHECK(doc);
        if (doc) {
                CHECK(doc->root->table.n == 1);
                const TomlEntry *e = &doc->root->table.entries[0];
                CHECK(e->key_len == 3 && memcmp(e->key, "k\0x", 3) == 0);
                CHECK(e->value->string.len == 3 && memcmp(e->value->string.s, "a\0b", 3) == 0);
                /* Look-ups by C string cannot match a key with a NUL. */
                CHECK(!toml_table_get(doc->root, "k"));
        }
        toml_document_free(doc);
        diagnostics_release(&d);
}

static void test_bom_and_empty(void) {
        Diagnostics d = {};
        TomlDocument *doc = parse("\xEF\xBB\xBF" "a = 1\n", &d);
        CHECK(doc && toml_table_get(doc->root, "a"));
        toml_document_free(doc);
        doc = parse("", &d);
        CHECK(doc && doc->root->table.n == 0);
        toml_document_free(doc);
        diagnostics_release(&d);
}

static void test_file_errors(void) {
        Diagnostics d = {};
        TomlDocument *doc = NULL;
        int r = toml_parse_file("/nonexistent/x.toml", "x.toml", &d, &doc);
        CHECK(r == -ENOENT && !doc);
        CHECK(d.n == 1 && d.items[0].file && strcmp(d.items[0].file, "x.toml") == 0);
        diagnostics_release(&d);
}

UNIT_MAIN(test_positions, test_errors, test_depth_limit, test_strings_with_nul, test_bom_and_empty, test_file_errors)
