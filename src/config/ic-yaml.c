/* SPDX-License-Identifier: MIT */

/* Image Customizer's YAML in two steps. libyaml's event stream becomes a small
 * tree of YNodes (a scalar keeps its text and whether it was plain, a
 * collection its items), with aliases refused and nesting, node count and
 * mapping sizes bounded. Then the tree is walked with tables of Image
 * Customizer's keys (docs/imagecustomizer/api/configuration in
 * microsoft/azure-linux-image-tools, the v1 API) and written into a
 * TomlDocument with slipway's keys (docs/config.md, "[customizations.NAME]").
 *
 * Scalars are read the way Image Customizer's Go YAML decoder reads them into
 * typed fields: a string field takes any scalar's text (so `hostname: 123` is
 * "123"), a bool or an integer field takes only an unquoted scalar, and a null
 * (an empty value, ~ or null) leaves the field unset. */

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/strbuf.h"
#include "config/schema.h"
#include "ic-yaml.h"

/* Bounds for untrusted input: an Image Customizer configuration nests some
 * six levels and holds a few hundred nodes. */
#define YAML_MAX_DEPTH 64
#define YAML_MAX_NODES 100000
#define YAML_MAX_PAIRS 4096 /* keys of one mapping (they are checked for repeats pairwise) */
#define PATH_MAX_LEN 256    /* key paths in messages are cut there */

/* ---- the YAML tree ------------------------------------------------------------ */

typedef enum YKind {
        Y_SCALAR,
        Y_SEQUENCE,
        Y_MAPPING,
} YKind;

typedef struct YNode YNode;
struct YNode {
        YKind kind;
        SourcePos pos;  /* where the node starts */
        char *text;     /* Y_SCALAR: NUL-terminated, may contain NUL: use len */
        size_t len;
        bool plain;     /* Y_SCALAR: unquoted and untagged (null, true, 42 mean what they say) */
        YNode **items;  /* Y_SEQUENCE: the items; Y_MAPPING: key, value, key, value, ... */
        size_t n;
        size_t allocated;
};

/* Recursion is bounded by YAML_MAX_DEPTH. */
static YNode *ynode_free(YNode *y) {
        if (!y)
                return NULL;
        for (size_t i = 0; i < y->n; i++)
                ynode_free(y->items[i]);
        free(y->items);
        free(y->text);
        free(y);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(YNode *, ynode_free);

static const char *ynode_what(const YNode *y) {
        switch (y->kind) {
        case Y_SCALAR:
                return "a scalar";
        case Y_SEQUENCE:
                return "a list";
        default:
                return "a mapping";
        }
}

/* YAML 1.2's core schema nulls; an empty plain scalar is what `key:` gives. */
static bool ynode_is_null(const YNode *y) {
        if (y->kind != Y_SCALAR || !y->plain)
                return false;
        return y->len == 0 || strcmp(y->text, "~") == 0 || strcmp(y->text, "null") == 0 ||
               strcmp(y->text, "Null") == 0 || strcmp(y->text, "NULL") == 0;
}

static bool ynode_is(const YNode *y, const char *s) {
        return y->kind == Y_SCALAR && y->len == strlen(s) && memcmp(y->text, s, y->len) == 0;
}

typedef struct Loader {
        const char *file;
        const char *data;
        size_t size;
        Diagnostics *d;
        YNode *stack[YAML_MAX_DEPTH]; /* open collections, not yet in their parent */
        size_t depth;
        size_t n_nodes;
        unsigned n_documents;
        YNode *root;
} Loader;

static SourcePos mark_pos(const Loader *l, yaml_mark_t m) {
        return (SourcePos) { .file = l->file, .line = (unsigned) m.line + 1, .column = (unsigned) m.column + 1 };
}

/* The line and column of a byte offset (libyaml's reader errors give only
 * that); columns count code points like libyaml's marks. */
static SourcePos offset_pos(const Loader *l, size_t offset) {
        SourcePos pos = { .file = l->file, .line = 1, .column = 1 };
        for (size_t i = 0; i < offset && i < l->size; i++) {
                unsigned char c = (unsigned char) l->data[i];
                if (c == '\n') {
                        pos.line++;
                        pos.column = 1;
                } else if ((c & 0xc0) != 0x80)
                        pos.column++;
        }
        return pos;
}

static int syntax_error(const Loader *l, const yaml_parser_t *p) {
        if (p->error == YAML_MEMORY_ERROR)
                return -ENOMEM;
        const char *problem = p->problem ? p->problem : "cannot be parsed";
        if (p->error == YAML_READER_ERROR) {
                SourcePos pos = offset_pos(l, p->problem_offset);
                diag_error(l->d, &pos, "not valid YAML: %s", problem);
        } else {
                SourcePos pos = mark_pos(l, p->problem_mark);
                if (p->context)
                        diag_error(l->d, &pos, "not valid YAML: %s (%s at %zu:%zu)", problem, p->context,
                                   p->context_mark.line + 1, p->context_mark.column + 1);
                else
                        diag_error(l->d, &pos, "not valid YAML: %s", problem);
        }
        return -EINVAL;
}

/* A complete node goes into the open collection, or becomes the root. Takes
 * ownership of y. */
static int loader_add(Loader *l, YNode *y) {
        _cleanup_(ynode_freep) YNode *node = y;
        if (++l->n_nodes > YAML_MAX_NODES) {
                diag_error(l->d, &node->pos, "more than %d YAML nodes: this is not a configuration", YAML_MAX_NODES);
                return -EINVAL;
        }
        if (l->depth == 0) {
                l->root = TAKE_PTR(node);
                return 0;
        }
        YNode *parent = l->stack[l->depth - 1];
        if (parent->kind == Y_MAPPING && parent->n / 2 >= YAML_MAX_PAIRS) {
                diag_error(l->d, &node->pos, "more than %d keys in one mapping", YAML_MAX_PAIRS);
                return -EINVAL;
        }
        if (!GREEDY_REALLOC(parent->items, parent->allocated, parent->n + 1))
                return -ENOMEM;
        parent->items[parent->n++] = TAKE_PTR(node);
        return 0;
}

/* YAML forbids a key twice in one mapping (Image Customizer's decoder refuses
 * it too); a key that is not a scalar is refused here as well, since no key
 * of Image Customizer's is one. */
static int check_mapping_keys(Loader *l, const YNode *m) {
        int r = 0;
        for (size_t i = 0; i + 1 < m->n; i += 2) {
                const YNode *k = m->items[i];
                if (k->kind != Y_SCALAR) {
                        diag_error(l->d, &k->pos, "a key must be a string, not %s", ynode_what(k));
                        r = -EINVAL;
                        continue;
                }
                for (size_t j = 0; j < i; j += 2) {
                        const YNode *o = m->items[j];
                        if (o->kind == Y_SCALAR && o->len == k->len && memcmp(o->text, k->text, k->len) == 0) {
                                diag_error(l->d, &k->pos, "key '%.64s' is given twice, first at %u:%u", k->text,
                                           o->pos.line, o->pos.column);
                                r = -EINVAL;
                                break;
                        }
                }
        }
        return r;
}

/* Returns 1 at the end of the stream, 0 to go on, or a negative errno. */
static int loader_event(Loader *l, const yaml_event_t *e) {
        SourcePos pos = mark_pos(l, e->start_mark);
        _cleanup_(ynode_freep) YNode *y = NULL;

        switch (e->type) {
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_END_EVENT:
                return 0;
        case YAML_STREAM_END_EVENT:
                return 1;
        case YAML_DOCUMENT_START_EVENT:
                if (l->n_documents++ > 0) {
                        diag_error(l->d, &pos, "a second YAML document starts here: a configuration is one document");
                        return -EINVAL;
                }
                return 0;
        case YAML_ALIAS_EVENT:
                diag_error(l->d, &pos, "YAML aliases ('*%.64s') are not supported: write the value out",
                           (const char *) e->data.alias.anchor);
                return -EINVAL;
        case YAML_SCALAR_EVENT:
                y = new0(YNode, 1);
                if (!y)
                        return -ENOMEM;
                y->kind = Y_SCALAR;
                y->pos = pos;
                y->text = strndup_nul((const char *) e->data.scalar.value, e->data.scalar.length);
                if (!y->text)
                        return -ENOMEM;
                y->len = e->data.scalar.length;
                y->plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !e->data.scalar.tag;
                return loader_add(l, TAKE_PTR(y));
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
                if (l->depth >= YAML_MAX_DEPTH) {
                        diag_error(l->d, &pos, "YAML nested deeper than %d levels", YAML_MAX_DEPTH);
                        return -EINVAL;
                }
                y = new0(YNode, 1);
                if (!y)
                        return -ENOMEM;
                y->kind = e->type == YAML_MAPPING_START_EVENT ? Y_MAPPING : Y_SEQUENCE;
                y->pos = pos;
                l->stack[l->depth++] = TAKE_PTR(y);
                return 0;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: {
                if (l->depth == 0) /* libyaml pairs them; be safe */
                        return -EINVAL;
                y = l->stack[--l->depth];
                if (y->kind == Y_MAPPING) {
                        int r = check_mapping_keys(l, y);
                        if (r < 0)
                                return r;
                }
                return loader_add(l, TAKE_PTR(y));
        }
        default:
                return 0;
        }
}

static int yaml_load(const char *data, size_t size, const char *file, Diagnostics *d, YNode **ret) {
        Loader l = { .file = file, .data = data, .size = size, .d = d };
        yaml_parser_t parser;
        int r;

        if (!yaml_parser_initialize(&parser))
                return -ENOMEM;
        yaml_parser_set_input_string(&parser, (const unsigned char *) data, size);
        for (;;) {
                yaml_event_t e;
                if (!yaml_parser_parse(&parser, &e)) {
                        r = syntax_error(&l, &parser);
                        break;
                }
                r = loader_event(&l, &e);
                yaml_event_delete(&e);
                if (r != 0)
                        break;
        }
        yaml_parser_delete(&parser);
        for (size_t i = 0; i < l.depth; i++)
                ynode_free(l.stack[i]);
        if (r < 0) {
                ynode_free(l.root);
                return r;
        }
        *ret = l.root; /* NULL for an empty stream */
        return 0;
}

/* ---- the translation ---------------------------------------------------------- */

typedef struct Tr {
        Diagnostics *d;
        unsigned errors; /* the errors this translation recorded */
} Tr;

static void tr_error(Tr *t, const SourcePos *pos, const char *fmt, ...) _printf_(3, 4);
static void tr_error(Tr *t, const SourcePos *pos, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        diag_addv(t->d, DIAG_ERROR, pos, fmt, ap);
        va_end(ap);
        t->errors++;
}

typedef struct IcKey IcKey;

/* Converts the value v of Image Customizer's key k (at key_pos, its full path
 * is path) into out, a table of slipway's keys. Returns 0 or -ENOMEM; input
 * errors go through tr_error(). v is never null. */
typedef int (*IcConvert)(Tr *t, const IcKey *k, const YNode *v, const SourcePos *key_pos, const char *path,
                         TomlValue *out);

struct IcKey {
        const char *name;  /* Image Customizer's key */
        IcConvert convert; /* NULL: a setting slipway does not support yet */
        const char *key;   /* slipway's key the value becomes (ic_section: NULL for out itself) */
        const IcKey *sub;  /* ic_section, ic_list: the keys of the mapping (or of each item) */
        const char *arg;   /* ic_scripts: the stage; unsupported keys: what to do instead */
};

#define KEY(n, f, k, ...) { .name = (n), .convert = (f), .key = (k), __VA_ARGS__ }
#define UNSUPPORTED(n) { .name = (n) }
#define UNSUPPORTED_HINT(n, hint) { .name = (n), .arg = (hint) }

static void join_path(char buf[static PATH_MAX_LEN], const char *path, const char *name) {
        snprintf(buf, PATH_MAX_LEN, "%s%s%.64s", path, *path ? "." : "", name);
}

static int walk(Tr *t, const IcKey *keys, const YNode *m, const char *path, TomlValue *out);

static int add_string(TomlValue *out, const char *key, const SourcePos *key_pos, const char *s, size_t len,
                      const SourcePos *pos) {
        TomlValue *v = toml_string_new(s, len, pos);
        if (!v)
                return -ENOMEM;
        return toml_table_add(out, key, key_pos, v);
}

/* The array out[key], made at pos if it is not there yet (two of Image
 * Customizer's lists may feed one of slipway's). */
static TomlValue *out_array(TomlValue *out, const char *key, const SourcePos *key_pos, const SourcePos *pos) {
        for (size_t i = 0; i < out->table.n; i++)
                if (strcmp(out->table.entries[i].key, key) == 0)
                        return out->table.entries[i].value->type == TOML_ARRAY ? out->table.entries[i].value : NULL;
        TomlValue *a = toml_value_new(TOML_ARRAY, pos);
        if (!a || toml_table_add(out, key, key_pos, a) < 0)
                return NULL;
        return a;
}

static bool expect_scalar(Tr *t, const YNode *v, const char *path, const char *what) {
        if (v->kind == Y_SCALAR)
                return true;
        tr_error(t, &v->pos, "'%s': expected %s, found %s", path, what, ynode_what(v));
        return false;
}

static int ic_string(Tr *t, const IcKey *k, const YNode *v, const SourcePos *key_pos, const char *path, TomlValue *out) {
        if (!expect_scalar(t, v, path, "a string"))
                return 0;
        return add_string(out, k->key, key_pos, v->text, v->len, &v->pos);
}

static int ic_strings(Tr *t, const IcKey *k, const YNode *v, const SourcePos *key_pos, const char *path, TomlValue *out) {
        if (v->kind != Y_SEQUENCE) {
                tr_error(t, &v->pos, "'%s': expected a list of strings, found %s", path, ynode_what(v));
                return 0;
        }
        _cleanup_(toml_value_freep) TomlValue *a = toml_value_new(TOML_ARRAY, &v->pos);
        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < v->n; i++) {
                const YNode *item = v->items[i];
                if (item->kind != Y_SCALAR || ynode_is_null(item) || item->len == 0) {
                        tr_error(t, &item->pos, "'%s[%zu]': expected a non-empty string, found %s", path, i,
                                 item->kind != Y_SCALAR ? ynode_what(item) : "nothing");
                        continue;
                }
                TomlValue *s = toml_string_new(item->text, item->len, &item->pos);
                if (!s || toml_array_add(a, s) < 0)
                        return -ENOMEM;
        }
        return toml_table_add(out, k->key, key_pos, TAKE_PTR(a));
}

static int ic_bool(Tr *t, const IcKey *k, const YNode *v, const SourcePos *key_pos, const char *path, TomlValue *out) {
        /* YAML 1.2's booleans, and YAML 1.1's that Go's decoder still takes
         * for a bool field. */
        static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON" };
        static const char *const no[] = { "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF" };
        int b = -1;
        for (size_t i = 0; v->kind == Y_SCALAR && v->plain && i < ELEMENTSOF(yes); i++) {
                if (ynode_is(v, yes[i]))
                        b = 1;
                if (ynode_is(v, no[i]))
                        b = 0;
        }
        if (b < 0) {
                if (v->kind == Y_SCALAR)
                        tr_error(t, &v->pos, "'%s': expected true or false, found '%.64s'", path, v->text);
                else
                        tr_error(t, &v->pos, "'%s': expected true or false, found %s", path, ynode_what(v));
                return 0;
        }
        TomlValue *b_v = toml_value_new(TOML_BOOL, &v->pos);
        if (!b_v)
                return -ENOMEM;
        b_v->boolean = b;
        return toml_table_add(out, k->key, key_pos, b_v);
}

/* Decimal, 0x hexadecimal or 0o octal, as YAML 1.2's core schema has them. */
static bool parse_integer(const YNode *v, int64_t *ret) {
        if (v->kind != Y_SCALAR || !v->plain || v->len == 0 || v->len > 24 || memchr(v->text, 0, v->len))
                return false;
        const char *s = v->text;
        bool neg = *s == '-';
        if (*s == '-' || *s == '+')
                s++;
        int base = 10;
        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
                base = s[1] == 'x' ? 16 : 8;
                s += 2;
        }
        if (!isxdigit((unsigned char) *s)) /* strtoull() would skip blanks and take a sign */
                return false;
        char *end;
        errno = 0;
        unsigned long long u = strtoull(s, &end, base);
        if (errno != 0 || *end || u > (unsigned long long) INT64_MAX)
                return false;
        *ret = neg ? -(int64_t) u : (int64_t) u;
        return true;
}

static int ic_integer(Tr *t, const IcKey *k, const YNode *v, const SourcePos *key_pos, const char *path, TomlValue *out) {
        int64_t n;
        if (!parse_integer(v, &n)) {
                if (v->kind == Y_SCALAR)
                        tr_error(t, &v->pos, "'%s': expected an integer, found '%.64s'", path, v->text);
                else
                        tr_error(t, &v->pos, "'%s': expected an integer, found %s", path, ynode_what(v));
                return 0;
        }
        TomlValue *i = toml_value_new(TOML_INTEGER, &v->pos);
        if (!i)
                return -ENOMEM;
        i->integer = n;
        return toml_table_add(out, k->key, key_pos, i);
}

/* A mapping of Image Customizer's whose keys go into out itself (k->key NULL:
 * os.packages, os.selinux) or into a table of slipway's (os.services). */
static int ic_section(Tr *t, const IcKey *k, const YNode *v, const SourcePos *key_pos, const char *path, TomlValue *out) {
        if (!k->key)
                return walk(t, k->sub, v, path, out);
        _cleanup_(toml_value_freep) TomlValue *table = toml_value_new(TOML_TABLE, &v->pos);
        if (!table)
                return -ENOMEM;
        int r = walk(t, k->sub, v, path, table);
        if (r < 0)
                return r;
        return toml_table_add(out, k->key, key_pos, TAKE_PTR(table));
}

/* Called for each item of a list of mappings once its keys are in table. */
typedef int (*ItemFinish)(Tr *t, const IcKey *k, const YNode *item, TomlValue *table);

/* A list of mappings (os.users, os.additionalFiles, ...): each item, read
 * with k->sub, becomes a table of slipway's array k->key. */
static int convert_list(Tr *t, const IcKey *k, const YNode *v, const SourcePos *key_pos, const char *path,
                        TomlValue *out, ItemFinish finish) {
        if (v->kind != Y_SEQUENCE) {
                tr_error(t, &v->pos, "'%s': expected a list, found %s", path, ynode_what(v));
                return 0;
        }
        TomlValue *a = out_array(out, k->key, key_pos, &v->pos);
        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < v->n; i++) {
                const YNode *item = v->items[i];
                char ipath[PATH_MAX_LEN];
                snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
                if (item->kind != Y_MAPPING) {
                        tr_error(t, &item->pos, "'%s': expected a mapping, found %s", ipath, ynode_what(item));
                        continue;
                }
                _cleanup_(toml_value_freep) TomlValue *table = toml_value_new(TOML_TABLE, &item->pos);
                if (!table)
                        return -ENOMEM;
                int r = walk(t, k->sub, item, ipath, table);
                if (r >= 0 && finish)
                        r = finish(t, k, item, table);
                if (r >= 0)
                        r = toml_array_add(a, TAKE_PTR(table));
                if (r < 0)
                        return r;
        }
        return 0;
}

static int ic_list(Tr *t, const IcKey *k, const YNode *v, const SourcePos *key_pos, const char *path, TomlValue *out) {
        return convert_list(t, k, v, key_pos, path, out, NULL);
}

/* A module's load defaults to "always" in slipway, to "inherit" in Image
 * Customizer. */
static int module_finish(Tr *t, const IcKey *k, const YNode *item, TomlValue *table) {
        if (toml_table_get(table, "load"))
                return 0;
        return add_string(table, "load", &item->pos, "inherit", strlen("inherit"), &item->pos);
}

static int ic_modules(Tr *t, const IcKey *k, const YNode *v, const SourcePos *key_pos, const char *path, TomlValue *out) {
        return convert_list(t, k, v, key_pos, path, out, module_finish);
}

static int script_finish(Tr *t, const IcKey *k, const YNode *item, TomlValue *table) {
        return add_string(table, "stage", &item->pos, k->arg, strlen(k->arg), &item->pos);
}

/* scripts.postCustomization and scripts.finalizeCustomization: both go to
 * [[scripts]], with the stage (k->arg). */
static int ic_scripts(Tr *t, const IcKey *k, const YNode *v, const SourcePos *key_pos, const char *path, TomlValue *out) {
        return convert_list(t, k, v, key_pos, path, out, script_finish);
}

/* os.kernelCommandLine.extraCommandLine: a list of arguments (a string before
 * Image Customizer 0.3's list), appended with spaces between them. */
static int ic_cmdline(Tr *t, const IcKey *k, const YNode *v, const SourcePos *key_pos, const char *path, TomlValue *out) {
        if (v->kind == Y_SCALAR)
                return v->len ? add_string(out, k->key, key_pos, v->text, v->len, &v->pos) : 0;
        if (v->kind != Y_SEQUENCE) {
                tr_error(t, &v->pos, "'%s': expected a list of strings, found %s", path, ynode_what(v));
                return 0;
        }
        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
        for (size_t i = 0; i < v->n; i++) {
                const YNode *item = v->items[i];
                if (item->kind != Y_SCALAR || ynode_is_null(item) || item->len == 0) {
                        tr_error(t, &item->pos, "'%s[%zu]': expected a non-empty string, found %s", path, i,
                                 item->kind != Y_SCALAR ? ynode_what(item) : "nothing");
                        continue;
                }
                if (sb.len)
                        strbuf_putc(&sb, ' ');
                strbuf_put(&sb, item->text, item->len);
        }
        if (sb.oom)
                return -ENOMEM;
        return sb.len ? add_string(out, k->key, key_pos, sb.buf, sb.len, &v->pos) : 0;
}

/* One of values, or "" (Image Customizer's default: the key is left out).
 * Returns the index, -1 for "", -2 after an error. */
static int expect_choice(Tr *t, const YNode *v, const char *path, const char *const *values) {
        if (!expect_scalar(t, v, path, "a string"))
                return -2;
        if (v->len == 0)
                return -1;
        for (int i = 0; values[i]; i++)
                if (ynode_is(v, values[i]))
                        return i;
        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
        for (size_t i = 0; values[i]; i++)
                strbuf_printf(&sb, "%s'%s'", i == 0 ? "" : values[i + 1] ? ", " : " or ", values[i]);
        tr_error(t, &v->pos, "'%s': '%.64s' is not valid: expected %s", path, v->text, sb.buf ? sb.buf : "?");
        return -2;
}

static int ic_selinux_mode(Tr *t, const IcKey *k, const YNode *v, const SourcePos *key_pos, const char *path,
                           TomlValue *out) {
        static const char *const modes[] = { "disabled", "enforcing", "permissive", "force-enforcing", NULL };
        int i = expect_choice(t, v, path, modes);
        if (i < 0)
                return 0;
        if (i == 3) {
                tr_error(t, &v->pos,
                         "'%s': 'force-enforcing' is an Image Customizer setting slipway does not support yet "
                         "(SELinux enforcing from the kernel command line): use 'enforcing'",
                         path);
                return 0;
        }
        return add_string(out, k->key, key_pos, v->text, v->len, &v->pos);
}

static int ic_load_mode(Tr *t, const IcKey *k, const YNode *v, const SourcePos *key_pos, const char *path,
                        TomlValue *out) {
        static const char *const modes[] = { "always", "auto", "disable", "inherit", NULL };
        if (expect_choice(t, v, path, modes) < 0)
                return 0;
        return add_string(out, k->key, key_pos, v->text, v->len, &v->pos);
}

/* os.imageHistory: "none" leaves the history out. */
static int ic_history(Tr *t, const IcKey *k, const YNode *v, const SourcePos *key_pos, const char *path,
                      TomlValue *out) {
        static const char *const values[] = { "none", NULL };
        if (expect_choice(t, v, path, values) < 0)
                return 0;
        TomlValue *b = toml_value_new(TOML_BOOL, &v->pos);
        if (!b)
                return -ENOMEM;
        b->boolean = false;
        return toml_table_add(out, k->key, key_pos, b);
}

/* permissions: "644" or "0644" (an unquoted 644 is the same to Image
 * Customizer's decoder); slipway's mode is the four-digit form. */
static int ic_permissions(Tr *t, const IcKey *k, const YNode *v, const SourcePos *key_pos, const char *path,
                          TomlValue *out) {
        if (!expect_scalar(t, v, path, "an octal mode such as \"644\""))
                return 0;
        if ((v->len != 3 && v->len != 4) || strspn(v->text, "01234567") != v->len) {
                tr_error(t, &v->pos, "'%s': '%.64s' is not valid: expected an octal mode such as \"644\"", path, v->text);
                return 0;
        }
        char mode[5];
        snprintf(mode, sizeof mode, "%s%s", v->len == 3 ? "0" : "", v->text);
        return add_string(out, k->key, key_pos, mode, strlen(mode), &v->pos);
}

/* A mapping of strings to strings, pair by pair ("name", "value"), for
 * modules' options and scripts' environment. Returns 0, -ENOMEM, or 1 after
 * an input error. */
typedef int (*PairFunc)(Tr *t, const YNode *key, const YNode *value, const char *path, void *userdata);

static int for_each_pair(Tr *t, const YNode *v, const char *path, PairFunc f, void *userdata) {
        if (v->kind != Y_MAPPING) {
                tr_error(t, &v->pos, "'%s': expected a mapping of strings, found %s", path, ynode_what(v));
                return 1;
        }
        int ret = 0;
        for (size_t i = 0; i + 1 < v->n; i += 2) {
                const YNode *key = v->items[i], *value = v->items[i + 1];
                char kpath[PATH_MAX_LEN];
                join_path(kpath, path, key->text);
                if (value->kind != Y_SCALAR) {
                        tr_error(t, &value->pos, "'%s': expected a string, found %s", kpath, ynode_what(value));
                        ret = 1;
                        continue;
                }
                int r = f(t, key, value, kpath, userdata);
                if (r < 0)
                        return r;
                if (r > 0)
                        ret = 1;
        }
        return ret;
}

static int option_pair(Tr *t, const YNode *key, const YNode *value, const char *path, void *userdata) {
        StrBuf *sb = userdata;
        /* Image Customizer's rules: neither may be empty or hold a blank. */
        const YNode *bad = key->len == 0 || strcspn(key->text, " \t\n") != key->len ? key
                           : ynode_is_null(value) || value->len == 0 || strcspn(value->text, " \t\n") != value->len
                                   ? value
                                   : NULL;
        if (bad) {
                tr_error(t, &bad->pos, "'%s': an option's name and value must be non-empty and without blanks", path);
                return 1;
        }
        strbuf_printf(sb, "%s%s=%s", sb->len ? " " : "", key->text, value->text);
        return 0;
}

/* os.modules[].options: { name: value, ... } becomes "name=value ...". */
static int ic_options(Tr *t, const IcKey *k, const YNode *v, const SourcePos *key_pos, const char *path, TomlValue *out) {
        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
        int r = for_each_pair(t, v, path, option_pair, &sb);
        if (r != 0)
                return r < 0 ? r : 0;
        if (sb.oom)
                return -ENOMEM;
        return sb.len ? add_string(out, k->key, key_pos, sb.buf, sb.len, &v->pos) : 0;
}

static int env_pair(Tr *t, const YNode *key, const YNode *value, const char *path, void *userdata) {
        TomlValue *a = userdata;
        _cleanup_free_ char *s = NULL;
        /* The schema checks the name (check_env); a NUL would hide part of it. */
        if (memchr(key->text, 0, key->len) || memchr(value->text, 0, value->len)) {
                tr_error(t, &key->pos, "'%s': a NUL character is not allowed here", path);
                return 1;
        }
        if (asprintf(&s, "%s=%s", key->text, ynode_is_null(value) ? "" : value->text) < 0)
                return -ENOMEM;
        TomlValue *sv = toml_string_new(s, strlen(s), &key->pos);
        if (!sv)
                return -ENOMEM;
        return toml_array_add(a, sv);
}

/* scripts[].environmentVariables: { NAME: value } becomes ["NAME=value"]. */
static int ic_env(Tr *t, const IcKey *k, const YNode *v, const SourcePos *key_pos, const char *path, TomlValue *out) {
        _cleanup_(toml_value_freep) TomlValue *a = toml_value_new(TOML_ARRAY, &v->pos);
        if (!a)
                return -ENOMEM;
        int r = for_each_pair(t, v, path, env_pair, a);
        if (r != 0)
                return r < 0 ? r : 0;
        return toml_table_add(out, k->key, key_pos, TAKE_PTR(a));
}

/* os.users[].password: { type, value }. slipway stores a hash or locks the
 * account; it never hashes a password itself. */
static const IcKey password_keys[] = {
        KEY("type", ic_string, "type"),
        KEY("value", ic_string, "value"),
        {},
};

static int ic_password(Tr *t, const IcKey *k, const YNode *v, const SourcePos *key_pos, const char *path,
                       TomlValue *out) {
        static const char *const types[] = { "locked", "hashed", "plain-text", "plain-text-file", "hashed-file", NULL };
        _cleanup_(toml_value_freep) TomlValue *p = toml_value_new(TOML_TABLE, &v->pos);
        if (!p)
                return -ENOMEM;
        unsigned errors = t->errors;
        int r = walk(t, password_keys, v, path, p);
        if (r < 0 || t->errors != errors)
                return r;
        const TomlEntry *type = toml_table_entry(p, "type"), *value = toml_table_entry(p, "value");
        int i = 0; /* locked, the default */
        if (type) {
                char tpath[PATH_MAX_LEN];
                join_path(tpath, path, "type");
                for (i = 0; types[i] && strcmp(types[i], type->value->string.s) != 0; i++)
                        ;
                if (!types[i]) {
                        tr_error(t, &type->value->pos,
                                 "'%s': '%.64s' is not valid: expected 'locked', 'hashed', 'plain-text', "
                                 "'plain-text-file' or 'hashed-file'",
                                 tpath, type->value->string.s);
                        return 0;
                }
                if (i >= 2) {
                        tr_error(t, &type->value->pos,
                                 "'%s': '%s' is an Image Customizer setting slipway does not support yet: slipway "
                                 "takes a password hash only (type: hashed, the value from 'openssl passwd -6')",
                                 tpath, types[i]);
                        return 0;
                }
        }
        if (i == 0) {
                if (value && value->value->string.len > 0)
                        tr_error(t, &value->key_pos, "'%s.value': a locked password takes no value", path);
                return 0;
        }
        if (!value || value->value->string.len == 0) {
                tr_error(t, &v->pos, "'%s': a hashed password needs its 'value'", path);
                return 0;
        }
        return add_string(out, k->key, &value->key_pos, value->value->string.s, value->value->string.len,
                          &value->value->pos);
}

/* ---- the keys ------------------------------------------------------------------- */

static const IcKey packages_keys[] = {
        KEY("install", ic_strings, "packages"),
        KEY("remove", ic_strings, "remove"),
        KEY("update", ic_strings, "update"),
        KEY("updateExistingPackages", ic_bool, "update-existing"),
        UNSUPPORTED_HINT("installLists", "name the packages in 'install'"),
        UNSUPPORTED_HINT("removeLists", "name the packages in 'remove'"),
        UNSUPPORTED_HINT("updateLists", "name the packages in 'update'"),
        UNSUPPORTED("snapshotTime"),
        UNSUPPORTED("removePackageManager"),
        {},
};

static const IcKey selinux_keys[] = {
        KEY("mode", ic_selinux_mode, "selinux"),
        {},
};

static const IcKey cmdline_keys[] = {
        KEY("extraCommandLine", ic_cmdline, "kernel-cmdline"),
        {},
};

static const IcKey file_keys[] = {
        KEY("source", ic_string, "source"),
        KEY("destination", ic_string, "path"),
        KEY("permissions", ic_permissions, "mode"),
        UNSUPPORTED_HINT("content", "write the text to a file beside the configuration and name it in 'source'"),
        {},
};

static const IcKey user_keys[] = {
        KEY("name", ic_string, "name"),
        KEY("uid", ic_integer, "uid"),
        KEY("password", ic_password, "password-hash"),
        UNSUPPORTED("passwordExpiresDays"),
        KEY("sshPublicKeyPaths", ic_strings, "ssh-keys"),
        UNSUPPORTED_HINT("sshPublicKeys", "write the keys to a file and name it in 'sshPublicKeyPaths'"),
        UNSUPPORTED_HINT("primaryGroup", "a new user's primary group is a new group of its own name"),
        KEY("secondaryGroups", ic_strings, "groups"),
        KEY("startupCommand", ic_string, "shell"),
        KEY("homeDirectory", ic_string, "home"),
        {},
};

static const IcKey services_keys[] = {
        KEY("enable", ic_strings, "enable"),
        KEY("disable", ic_strings, "disable"),
        {},
};

static const IcKey module_keys[] = {
        KEY("name", ic_string, "name"),
        KEY("loadMode", ic_load_mode, "load"),
        KEY("options", ic_options, "options"),
        {},
};

static const IcKey os_keys[] = {
        KEY("hostname", ic_string, "hostname"),
        KEY("packages", ic_section, NULL, .sub = packages_keys),
        KEY("selinux", ic_section, NULL, .sub = selinux_keys),
        KEY("kernelCommandLine", ic_section, NULL, .sub = cmdline_keys),
        KEY("additionalFiles", ic_list, "files", .sub = file_keys),
        UNSUPPORTED("additionalDirs"),
        UNSUPPORTED("groups"),
        KEY("users", ic_list, "users", .sub = user_keys),
        KEY("services", ic_section, "services", .sub = services_keys),
        KEY("modules", ic_modules, "modules", .sub = module_keys),
        UNSUPPORTED("overlays"),
        UNSUPPORTED("bootloader"),
        UNSUPPORTED("uki"),
        KEY("imageHistory", ic_history, "history"),
        /* Keys of earlier versions of the API. */
        UNSUPPORTED("verity"),
        UNSUPPORTED("resetBootLoaderType"),
        {},
};

static const IcKey script_keys[] = {
        KEY("path", ic_string, "path"),
        KEY("content", ic_string, "content"),
        KEY("interpreter", ic_string, "interpreter"),
        KEY("arguments", ic_strings, "args"),
        KEY("environmentVariables", ic_env, "env"),
        KEY("name", ic_string, "name"),
        {},
};

static const IcKey scripts_keys[] = {
        KEY("postCustomization", ic_scripts, "scripts", .sub = script_keys, .arg = "post-customization"),
        KEY("finalizeCustomization", ic_scripts, "scripts", .sub = script_keys, .arg = "finalize"),
        {},
};

static const IcKey config_keys[] = {
        UNSUPPORTED_HINT("input", "give the image with --image-file"),
        UNSUPPORTED("storage"),
        UNSUPPORTED("iso"),
        UNSUPPORTED("pxe"),
        KEY("os", ic_section, NULL, .sub = os_keys),
        KEY("scripts", ic_section, NULL, .sub = scripts_keys),
        UNSUPPORTED("previewFeatures"),
        UNSUPPORTED_HINT("output", "give it with --output-image-file and --output-image-format"),
        UNSUPPORTED("baseConfigs"),
        {},
};

static const IcKey *closest_key(const IcKey *keys, const char *name) {
        const IcKey *best = NULL;
        size_t best_d = SIZE_MAX, limit = MAX(strlen(name) / 3, (size_t) 2);
        for (const IcKey *k = keys; k->name; k++) {
                size_t dist = string_distance(name, k->name);
                if (dist < best_d) {
                        best_d = dist;
                        best = k;
                }
        }
        return best_d <= limit ? best : NULL;
}

static int walk(Tr *t, const IcKey *keys, const YNode *m, const char *path, TomlValue *out) {
        if (m->kind != Y_MAPPING) {
                tr_error(t, &m->pos, "'%s': expected a mapping, found %s", path, ynode_what(m));
                return 0;
        }
        /* Keys are scalars and not repeated (check_mapping_keys()). */
        for (size_t i = 0; i + 1 < m->n; i += 2) {
                const YNode *key = m->items[i], *value = m->items[i + 1];
                char kpath[PATH_MAX_LEN];
                join_path(kpath, path, key->text);
                const IcKey *k = keys;
                while (k->name && !ynode_is(key, k->name))
                        k++;
                if (!k->name) {
                        const IcKey *near = closest_key(keys, key->text);
                        if (near) {
                                char npath[PATH_MAX_LEN];
                                join_path(npath, path, near->name);
                                tr_error(t, &key->pos, "unknown key '%s'; did you mean '%s'?", kpath, npath);
                        } else
                                tr_error(t, &key->pos, "unknown key '%s': Image Customizer has no such setting", kpath);
                        continue;
                }
                /* A null is what the key's absence would be. */
                if (ynode_is_null(value))
                        continue;
                if (!k->convert) {
                        tr_error(t, &key->pos, "'%s' is an Image Customizer setting slipway does not support yet%s%s",
                                 kpath, k->arg ? ": " : "", k->arg ? k->arg : "");
                        continue;
                }
                int r = k->convert(t, k, value, &key->pos, kpath, out);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- entry points --------------------------------------------------------------- */

int ic_yaml_parse(const char *data, size_t size, const char *filename, Diagnostics *d, TomlDocument **ret) {
        _cleanup_(toml_document_freep) TomlDocument *doc = new0(TomlDocument, 1);
        _cleanup_(ynode_freep) YNode *root = NULL;
        int r;

        if (!doc || !(doc->filename = strdup(filename)))
                return -ENOMEM;
        SourcePos start = { .file = doc->filename, .line = 1, .column = 1 };
        if (size > IC_YAML_MAX_SIZE) {
                diag_error(d, &start, "the configuration is larger than %zu MiB", IC_YAML_MAX_SIZE >> 20);
                return -EINVAL;
        }
        r = yaml_load(data, size, doc->filename, d, &root);
        if (r < 0)
                return r;
        doc->root = toml_value_new(TOML_TABLE, root ? &root->pos : &start);
        if (!doc->root)
                return -ENOMEM;
        Tr t = { .d = d };
        if (root && !ynode_is_null(root)) {
                if (root->kind != Y_MAPPING) {
                        tr_error(&t, &root->pos,
                                 "expected a mapping of Image Customizer's keys (os, scripts, ...), found %s",
                                 ynode_what(root));
                        return -EINVAL;
                }
                r = walk(&t, config_keys, root, "", doc->root);
                if (r < 0)
                        return r;
        }
        if (t.errors > 0)
                return -EINVAL;
        *ret = TAKE_PTR(doc);
        return 0;
}

int ic_yaml_parse_file(const char *path, Diagnostics *d, TomlDocument **ret) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r = read_full_file(path, &data, &size);
        if (r < 0) {
                SourcePos pos = { .file = path };
                diag_error(d, &pos, "cannot read file: %s", strerror(-r));
                return r;
        }
        return ic_yaml_parse(data, size, path, d, ret);
}
