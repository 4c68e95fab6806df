/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "basic/strbuf.h"
#include "schema.h"

SourcePos cfg_pos(const CfgObject *o, const char *key) {
        for (size_t i = 0; i < o->n_tables; i++) {
                const TomlValue *v = toml_table_get(o->tables[i], key);
                if (v)
                        return v->pos;
        }
        return o->pos;
}

bool cfg_has(const CfgObject *o, const char *key) {
        for (size_t i = 0; i < o->n_tables; i++)
                if (toml_table_get(o->tables[i], key))
                        return true;
        return false;
}

size_t string_distance(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        if (la > 64 || lb > 64)
                return SIZE_MAX;
        size_t d[65][65];
        for (size_t i = 0; i <= la; i++)
                d[i][0] = i;
        for (size_t j = 0; j <= lb; j++)
                d[0][j] = j;
        for (size_t i = 1; i <= la; i++)
                for (size_t j = 1; j <= lb; j++) {
                        size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
                        size_t v = MIN(d[i - 1][j] + 1, d[i][j - 1] + 1);
                        v = MIN(v, d[i - 1][j - 1] + cost);
                        if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                                v = MIN(v, d[i - 2][j - 2] + 1);
                        d[i][j] = v;
                }
        return d[la][lb];
}

const char *schema_suggest(const Schema *schema, const char *key) {
        const char *best = NULL;
        size_t best_d = SIZE_MAX;
        size_t limit = MAX(strlen(key) / 3, (size_t) 2);

        for (const SchemaField *f = schema->fields; f->key; f++) {
                size_t dist = string_distance(key, f->key);
                if (dist < best_d) {
                        best_d = dist;
                        best = f->key;
                }
        }
        return best_d <= limit ? best : NULL;
}

int parse_size(const char *s, uint64_t *ret) {
        char *e;
        if (!s[0] || s[0] < '0' || s[0] > '9')
                return -EINVAL;
        errno = 0;
        unsigned long long v = strtoull(s, &e, 10);
        if (errno != 0)
                return -ERANGE;
        unsigned shift = 0;
        if (*e) {
                switch (*e) {
                case 'K': shift = 10; break;
                case 'M': shift = 20; break;
                case 'G': shift = 30; break;
                case 'T': shift = 40; break;
                default: return -EINVAL;
                }
                e++;
                if (*e == 'i')
                        e++;
                if (*e == 'B')
                        e++;
                if (*e)
                        return -EINVAL;
        }
        if (v > (UINT64_MAX >> shift) / 2)
                return -ERANGE;
        *ret = (uint64_t) v << shift;
        return 0;
}

/* ---- helpers ------------------------------------------------------------- */

static char *key_path(const char *path, const char *key) {
        char *r;
        if (!path || !path[0])
                return strdup(key);
        if (asprintf(&r, "%s.%s", path, key) < 0)
                return NULL;
        return r;
}

static const char *article(TomlType t) {
        return t == TOML_ARRAY || t == TOML_INTEGER || t == TOML_DATETIME ? "an" : "a";
}

/* "an integer (42)", "a table", "a string ("x")" for messages. */
static void describe_value(StrBuf *sb, const TomlValue *v) {
        strbuf_printf(sb, "%s %s", article(v->type), toml_type_to_string(v->type));
        switch (v->type) {
        case TOML_INTEGER:
                strbuf_printf(sb, " (%" PRId64 ")", v->integer);
                break;
        case TOML_BOOL:
                strbuf_printf(sb, " (%s)", v->boolean ? "true" : "false");
                break;
        case TOML_STRING:
                strbuf_printf(sb, " (\"%.*s%s\")", (int) MIN(v->string.len, 40u), v->string.s,
                              v->string.len > 40 ? "..." : "");
                break;
        default:
                break;
        }
}

static void type_error(Diagnostics *d, const TomlValue *v, const char *path, const char *expected) {
        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
        describe_value(&sb, v);
        diag_error(d, &v->pos, "key '%s': expected %s, found %s", path, expected, sb.buf ? sb.buf : "?");
}

static bool string_has_nul(const TomlValue *v) {
        return memchr(v->string.s, 0, v->string.len) != NULL;
}

static int read_string(const TomlValue *v, const char *path, SchemaStringCheck check, bool non_empty, Diagnostics *d,
                       char **ret) {
        if (v->type != TOML_STRING) {
                type_error(d, v, path, "a string");
                return 0;
        }
        if (string_has_nul(v)) {
                diag_error(d, &v->pos, "key '%s': a NUL character is not allowed here", path);
                return 0;
        }
        if (non_empty && v->string.len == 0) {
                diag_error(d, &v->pos, "key '%s': must not be empty", path);
                return 0;
        }
        if (check) {
                const char *allowed = check(v->string.s);
                if (allowed) {
                        diag_error(d, &v->pos, "key '%s': '%s' is not valid: expected %s", path, v->string.s, allowed);
                        return 0;
                }
        }
        char *s = strdup(v->string.s);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 1;
}

static void strlist_release(StrList *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->items[i]);
        free(l->items);
        free(l->pos);
        *l = (StrList) {};
}

static void strmap_release(StrMap *m) {
        for (size_t i = 0; i < m->n; i++) {
                free(m->keys[i]);
                free(m->values[i]);
        }
        free(m->keys);
        free(m->values);
        *m = (StrMap) {};
}

static int cfg_object_add_table(CfgObject *o, const TomlValue *table) {
        const TomlValue **t = realloc(o->tables, (o->n_tables + 1) * sizeof *t);
        if (!t)
                return -ENOMEM;
        t[o->n_tables++] = table;
        o->tables = t;
        if (o->n_tables == 1)
                o->pos = table->pos;
        return 0;
}

static int apply_field(const SchemaField *f, void *obj, const TomlValue *v, const char *path, Diagnostics *d);

/* Reads one element struct of a SCHEMA_TABLE_ARRAY / SCHEMA_NAMED_TABLES. */
static int array_append(const Schema *sub, CfgArray *arr, void **ret) {
        void *items = realloc(arr->items, (arr->n + 1) * sub->size);
        if (!items)
                return -ENOMEM;
        arr->items = items;
        void *e = (char *) items + arr->n * sub->size;
        memset(e, 0, sub->size);
        arr->n++;
        *ret = e;
        return 0;
}

static int apply_field(const SchemaField *f, void *obj, const TomlValue *v, const char *path, Diagnostics *d) {
        void *field = (char *) obj + f->offset;
        int r;

        switch (f->type) {
        case SCHEMA_STRING: {
                char *s = NULL;
                r = read_string(v, path, f->check, f->non_empty, d, &s);
                if (r > 0) {
                        free(*(char **) field);
                        *(char **) field = s;
                }
                return r < 0 ? r : 0;
        }
        case SCHEMA_INTEGER:
                if (v->type != TOML_INTEGER) {
                        type_error(d, v, path, "an integer");
                        return 0;
                }
                if (v->integer < f->min || v->integer > f->max) {
                        diag_error(d, &v->pos, "key '%s': %" PRId64 " is out of range: expected %" PRId64 " to %" PRId64,
                                   path, v->integer, f->min, f->max);
                        return 0;
                }
                *(int64_t *) field = v->integer;
                return 0;

        case SCHEMA_BOOL:
                if (v->type != TOML_BOOL) {
                        type_error(d, v, path, "true or false");
                        return 0;
                }
                *(bool *) field = v->boolean;
                return 0;

        case SCHEMA_ENUM: {
                _cleanup_strbuf_ StrBuf allowed = STRBUF_INIT;
                for (size_t i = 0; f->values[i]; i++)
                        strbuf_printf(&allowed, "%s\"%s\"", i == 0 ? "" : f->values[i + 1] ? ", " : " or ",
                                      f->values[i]);
                if (v->type != TOML_STRING) {
                        type_error(d, v, path, allowed.buf);
                        return 0;
                }
                for (size_t i = 0; f->values[i]; i++)
                        if (strlen(f->values[i]) == v->string.len && strcmp(f->values[i], v->string.s) == 0) {
                                *(int *) field = (int) i;
                                return 0;
                        }
                diag_error(d, &v->pos, "key '%s': '%s' is not valid: expected %s", path, v->string.s, allowed.buf);
                return 0;
        }
        case SCHEMA_SIZE: {
                uint64_t sz;
                const char *expected = f->allow_grow ? "a size such as \"256M\" or \"2G\", or \"grow\""
                                                     : "a size such as \"256M\" or \"2G\"";
                if (v->type == TOML_INTEGER) {
                        if (v->integer <= 0) {
                                diag_error(d, &v->pos, "key '%s': size must be positive", path);
                                return 0;
                        }
                        *(uint64_t *) field = (uint64_t) v->integer;
                        return 0;
                }
                if (v->type != TOML_STRING) {
                        type_error(d, v, path, expected);
                        return 0;
                }
                if (f->allow_grow && strcmp(v->string.s, "grow") == 0) {
                        *(uint64_t *) field = CFG_SIZE_GROW;
                        return 0;
                }
                r = parse_size(v->string.s, &sz);
                if (r < 0 || sz == 0 || string_has_nul(v)) {
                        diag_error(d, &v->pos, "key '%s': '%s' is not valid: expected %s", path, v->string.s, expected);
                        return 0;
                }
                *(uint64_t *) field = sz;
                return 0;
        }
        case SCHEMA_MODE: {
                if (v->type != TOML_STRING) {
                        type_error(d, v, path, "an octal mode string such as \"0644\"");
                        return 0;
                }
                const char *s = v->string.s;
                size_t n = strspn(s, "01234567");
                if (n == 0 || n != v->string.len || n > 5 || strtoul(s, NULL, 8) > 07777) {
                        diag_error(d, &v->pos, "key '%s': '%s' is not valid: expected an octal mode from \"0000\" to \"7777\"",
                                   path, s);
                        return 0;
                }
                *(int *) field = (int) strtoul(s, NULL, 8);
                return 0;
        }
        case SCHEMA_STRING_ARRAY: {
                StrList *l = field;
                if (v->type != TOML_ARRAY) {
                        type_error(d, v, path, "an array of strings");
                        return 0;
                }
                if (f->non_empty && v->array.n == 0) {
                        diag_error(d, &v->pos, "key '%s': must not be empty", path);
                        return 0;
                }
                strlist_release(l);
                l->items = new0(char *, v->array.n);
                l->pos = new0(SourcePos, v->array.n);
                if (!l->items || !l->pos)
                        return -ENOMEM;
                for (size_t i = 0; i < v->array.n; i++) {
                        char ipath[512];
                        char *s = NULL;
                        snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
                        r = read_string(v->array.items[i], ipath, f->check, true, d, &s);
                        if (r < 0)
                                return r;
                        if (r > 0) {
                                l->pos[l->n] = v->array.items[i]->pos;
                                l->items[l->n++] = s;
                        }
                }
                return 0;
        }
        case SCHEMA_STRING_MAP: {
                StrMap *m = field;
                if (v->type != TOML_TABLE) {
                        type_error(d, v, path, "a table of strings");
                        return 0;
                }
                strmap_release(m);
                m->keys = new0(char *, v->table.n);
                m->values = new0(char *, v->table.n);
                if (!m->keys || !m->values)
                        return -ENOMEM;
                for (size_t i = 0; i < v->table.n; i++) {
                        const TomlEntry *e = &v->table.entries[i];
                        _cleanup_free_ char *kpath = NULL;
                        char *s = NULL;
                        if (memchr(e->key, 0, e->key_len)) {
                                diag_error(d, &e->key_pos, "key '%s': a NUL character is not allowed in a key", path);
                                continue;
                        }
                        kpath = key_path(path, e->key);
                        if (!kpath)
                                return -ENOMEM;
                        r = read_string(e->value, kpath, NULL, false, d, &s);
                        if (r < 0)
                                return r;
                        if (r == 0)
                                continue;
                        m->keys[m->n] = strdup(e->key);
                        m->values[m->n] = s;
                        if (!m->keys[m->n]) {
                                free(s);
                                return -ENOMEM;
                        }
                        m->n++;
                }
                return 0;
        }
        case SCHEMA_TABLE:
                if (v->type != TOML_TABLE) {
                        type_error(d, v, path, "a table");
                        return 0;
                }
                return schema_apply(f->sub, field, v, path, d);

        case SCHEMA_TABLE_ARRAY: {
                CfgArray *arr = field;
                if (v->type != TOML_ARRAY) {
                        type_error(d, v, path, "an array of tables");
                        return 0;
                }
                for (size_t i = 0; i < v->array.n; i++) {
                        const TomlValue *item = v->array.items[i];
                        char ipath[512];
                        snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
                        if (item->type != TOML_TABLE) {
                                type_error(d, item, ipath, "a table");
                                continue;
                        }
                        void *e;
                        r = array_append(f->sub, arr, &e);
                        if (r < 0)
                                return r;
                        r = schema_apply(f->sub, e, item, ipath, d);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        case SCHEMA_NAMED_TABLES: {
                CfgArray *arr = field;
                const Schema *sub = f->sub;
                if (v->type != TOML_TABLE) {
                        type_error(d, v, path, "a table");
                        return 0;
                }
                for (size_t i = 0; i < v->table.n; i++) {
                        const TomlEntry *te = &v->table.entries[i];
                        _cleanup_free_ char *ipath = NULL;

                        if (memchr(te->key, 0, te->key_len)) {
                                diag_error(d, &te->key_pos, "%s name in '%s' has a NUL character", sub->what, path);
                                continue;
                        }
                        ipath = key_path(path, te->key);
                        if (!ipath)
                                return -ENOMEM;
                        if (te->value->type != TOML_TABLE) {
                                type_error(d, te->value, ipath, "a table");
                                continue;
                        }
                        if (sub->name_check) {
                                const char *allowed = sub->name_check(te->key);
                                if (allowed) {
                                        diag_error(d, &te->key_pos, "%s name '%s' is not valid: expected %s", sub->what,
                                                   te->key, allowed);
                                        continue;
                                }
                        }

                        /* Defined twice (in another included file)? */
                        bool dup = false;
                        for (size_t j = 0; j < arr->n; j++) {
                                const void *o = (const char *) arr->items + j * sub->size;
                                const char *name = *(char *const *) ((const char *) o + sub->name_offset);
                                if (strcmp(name, te->key) == 0) {
                                        const CfgObject *co = o;
                                        diag_error(d, &te->value->pos, "%s '%s' is defined twice, first at %s:%u:%u",
                                                   sub->what, te->key, co->pos.file, co->pos.line, co->pos.column);
                                        dup = true;
                                        break;
                                }
                        }
                        if (dup)
                                continue;

                        void *e;
                        r = array_append(sub, arr, &e);
                        if (r < 0)
                                return r;
                        char *name = strdup(te->key);
                        if (!name)
                                return -ENOMEM;
                        *(char **) ((char *) e + sub->name_offset) = name;
                        r = schema_apply(sub, e, te->value, ipath, d);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        default:
                return -EINVAL;
        }
}

int schema_apply(const Schema *schema, void *obj, const TomlValue *table, const char *path, Diagnostics *d) {
        CfgObject *co = obj;
        int r;

        /* A key given both here and in a table read earlier (another file). The
         * nested kinds merge key by key, so only their scalars clash. */
        for (size_t i = 0; i < table->table.n; i++) {
                const TomlEntry *e = &table->table.entries[i];
                for (const SchemaField *f = schema->fields; f->key; f++) {
                        if (strlen(f->key) != e->key_len || strcmp(f->key, e->key) != 0)
                                continue;
                        if (f->type == SCHEMA_TABLE || f->type == SCHEMA_NAMED_TABLES || f->type == SCHEMA_TABLE_ARRAY)
                                break;
                        for (size_t t = 0; t < co->n_tables; t++) {
                                const TomlEntry *prev = toml_table_entry(co->tables[t], f->key);
                                if (prev) {
                                        _cleanup_free_ char *kp = key_path(path, f->key);
                                        diag_error(d, &e->key_pos, "key '%s' is set twice, first at %s:%u:%u",
                                                   kp ? kp : f->key, prev->key_pos.file, prev->key_pos.line,
                                                   prev->key_pos.column);
                                }
                        }
                        break;
                }
        }

        /* Defaults that are not zero: modes and enums start unset. */
        if (co->n_tables == 0) {
                for (const SchemaField *f = schema->fields; f->key; f++)
                        if (f->type == SCHEMA_MODE || f->type == SCHEMA_ENUM)
                                *(int *) ((char *) obj + f->offset) = -1;
                co->path = strdup(path ? path : "");
                if (!co->path)
                        return -ENOMEM;
        }

        r = cfg_object_add_table(co, table);
        if (r < 0)
                return r;

        for (size_t i = 0; i < table->table.n; i++) {
                const TomlEntry *e = &table->table.entries[i];
                const SchemaField *f;
                _cleanup_free_ char *kp = NULL;

                if (memchr(e->key, 0, e->key_len)) {
                        diag_error(d, &e->key_pos, "unknown key with a NUL character in '%s'", path && *path ? path : "the document");
                        continue;
                }
                kp = key_path(path, e->key);
                if (!kp)
                        return -ENOMEM;

                for (f = schema->fields; f->key; f++)
                        if (strcmp(f->key, e->key) == 0)
                                break;
                if (!f->key) {
                        const char *s = schema_suggest(schema, e->key);
                        const char *what = e->value->type == TOML_TABLE ? "table" : "key";
                        if (s)
                                diag_error(d, &e->key_pos, "unknown %s '%s'; did you mean '%s'?", what, kp, s);
                        else
                                diag_error(d, &e->key_pos, "unknown %s '%s'", what, kp);
                        continue;
                }
                r = apply_field(f, obj, e->value, kp, d);
                if (r < 0)
                        return r;
        }

        return 0;
}

int schema_finish(const Schema *schema, void *obj, Diagnostics *d) {
        CfgObject *co = obj;
        const char *path = co->path ? co->path : "";

        for (const SchemaField *f = schema->fields; f->key; f++) {
                void *field = (char *) obj + f->offset;
                _cleanup_free_ char *kp = key_path(path, f->key);
                if (!kp)
                        return -ENOMEM;

                if (f->required && !cfg_has(co, f->key)) {
                        if (f->type == SCHEMA_TABLE)
                                diag_error(d, &co->pos, "missing table [%s]", kp);
                        else if (!path[0])
                                diag_error(d, &co->pos, "missing required key '%s'", kp);
                        else
                                diag_error(d, &co->pos, "'%s' is missing the required key '%s'", path, f->key);
                        continue;
                }

                switch (f->type) {
                case SCHEMA_ENUM:
                        /* Absent: the first value. Given but invalid: stays -1,
                         * and finish() checks skip it (the error is out). */
                        if (!cfg_has(co, f->key))
                                *(int *) field = 0;
                        break;
                case SCHEMA_MODE:
                        break;
                case SCHEMA_TABLE:
                        if (((const CfgObject *) field)->n_tables > 0) {
                                int r = schema_finish(f->sub, field, d);
                                if (r < 0)
                                        return r;
                        }
                        break;
                case SCHEMA_TABLE_ARRAY:
                case SCHEMA_NAMED_TABLES: {
                        CfgArray *arr = field;
                        for (size_t i = 0; i < arr->n; i++) {
                                int r = schema_finish(f->sub, (char *) arr->items + i * f->sub->size, d);
                                if (r < 0)
                                        return r;
                        }
                        break;
                }
                default:
                        break;
                }
        }

        if (schema->finish && co->n_tables > 0)
                schema->finish(obj, d);
        return 0;
}

void schema_release(const Schema *schema, void *obj) {
        if (!obj)
                return;
        if (schema->release)
                schema->release(obj);
        for (const SchemaField *f = schema->fields; f->key; f++) {
                void *field = (char *) obj + f->offset;
                switch (f->type) {
                case SCHEMA_STRING:
                        free(*(char **) field);
                        break;
                case SCHEMA_STRING_ARRAY:
                        strlist_release(field);
                        break;
                case SCHEMA_STRING_MAP:
                        strmap_release(field);
                        break;
                case SCHEMA_TABLE:
                        schema_release(f->sub, field);
                        break;
                case SCHEMA_TABLE_ARRAY:
                case SCHEMA_NAMED_TABLES: {
                        CfgArray *arr = field;
                        for (size_t i = 0; i < arr->n; i++) {
                                void *e = (char *) arr->items + i * f->sub->size;
                                if (f->type == SCHEMA_NAMED_TABLES)
                                        free(*(char **) ((char *) e + f->sub->name_offset));
                                schema_release(f->sub, e);
                        }
                        free(arr->items);
                        break;
                }
                default:
                        break;
                }
        }
        free(((CfgObject *) obj)->tables);
        free(((CfgObject *) obj)->path);
}
