/* SPDX-License-Identifier: MIT */

/* slipway.lock: for every upstream component, the dist-git URL, branch and
 * commit it was resolved to and the sources that commit's `sources` file
 * names. Read with the project's TOML parser; written by hand in one fixed
 * layout, so that the same entries always give the same bytes (the file is
 * committed, and its diffs are reviewed). */

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/strbuf.h"
#include "config/toml.h"
#include "upstream/source-check.h"
#include "upstream/upstream.h"

#define LOCK_VERSION 1

void lock_entry_release(LockEntry *e) {
        free(e->name);
        free(e->url);
        free(e->branch);
        free(e->commit);
        lock_sources_free(e->sources, e->n_sources);
        *e = (LockEntry) {};
}

Lock *lock_free(Lock *l) {
        if (!l)
                return NULL;
        for (size_t i = 0; i < l->n; i++)
                lock_entry_release(&l->items[i]);
        free(l->items);
        free(l->path);
        free(l);
        return NULL;
}

static int strdup_or_null(const char *s, char **ret) {
        if (!s) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int lock_entry_copy(const LockEntry *e, LockEntry *ret) {
        LockEntry c = { .pos = e->pos };
        int r = 0;

        if (strdup_or_null(e->name, &c.name) < 0 || strdup_or_null(e->url, &c.url) < 0 ||
            strdup_or_null(e->branch, &c.branch) < 0 || strdup_or_null(e->commit, &c.commit) < 0)
                r = -ENOMEM;
        if (r >= 0 && e->n_sources > 0) {
                c.sources = new0(LockSource, e->n_sources);
                if (!c.sources)
                        r = -ENOMEM;
        }
        for (size_t i = 0; r >= 0 && i < e->n_sources; i++) {
                c.n_sources++;
                if (strdup_or_null(e->sources[i].file, &c.sources[i].file) < 0 ||
                    strdup_or_null(e->sources[i].hashtype, &c.sources[i].hashtype) < 0 ||
                    strdup_or_null(e->sources[i].hash, &c.sources[i].hash) < 0)
                        r = -ENOMEM;
        }
        if (r < 0) {
                lock_entry_release(&c);
                return r;
        }
        *ret = c;
        return 0;
}

/* The index of name in l, or where it would go (*found false). */
static size_t lock_index(const Lock *l, const char *name, bool *found) {
        size_t lo = 0, hi = l->n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(l->items[mid].name, name);
                if (c == 0) {
                        *found = true;
                        return mid;
                }
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *found = false;
        return lo;
}

LockEntry *lock_find(const Lock *l, const char *name) {
        bool found;
        size_t i = lock_index(l, name, &found);
        return found ? &l->items[i] : NULL;
}

int lock_set(Lock *l, LockEntry *e) {
        bool found;
        size_t i = lock_index(l, e->name, &found);

        if (found) {
                lock_entry_release(&l->items[i]);
        } else {
                LockEntry *items = realloc(l->items, (l->n + 1) * sizeof *items);
                if (!items)
                        return -ENOMEM;
                l->items = items;
                memmove(&l->items[i + 1], &l->items[i], (l->n - i) * sizeof *items);
                l->n++;
        }
        l->items[i] = *e;
        *e = (LockEntry) {};
        return 0;
}

void lock_remove(Lock *l, const char *name) {
        bool found;
        size_t i = lock_index(l, name, &found);
        if (!found)
                return;
        lock_entry_release(&l->items[i]);
        memmove(&l->items[i], &l->items[i + 1], (l->n - i - 1) * sizeof l->items[0]);
        l->n--;
}

/* ---- reading ---- */

typedef struct Reader {
        Diagnostics *d;
        const char *path; /* the Lock's, which outlives the document */
} Reader;

static bool is_lower_hex(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

static bool has_nul(const TomlValue *v) {
        return memchr(v->string.s, 0, v->string.len) != NULL;
}

/* A string value, or NULL after an error at its place. */
static const char *get_string(Reader *rd, const TomlValue *v, const char *path) {
        if (v->type != TOML_STRING) {
                diag_error(rd->d, &v->pos, "key '%s': expected a string, found a %s", path, toml_type_to_string(v->type));
                return NULL;
        }
        if (v->string.len == 0 || has_nul(v)) {
                diag_error(rd->d, &v->pos, "key '%s': expected a non-empty string without NUL characters", path);
                return NULL;
        }
        return v->string.s;
}

static bool check_url(const char *s) {
        return strncmp(s, "file:///", 8) == 0 || (strncmp(s, "http://", 7) == 0 && s[7]) ||
               (strncmp(s, "https://", 8) == 0 && s[8]);
}

/* A string the checks passed, copied into *ret: 1; 0 after an error at v; -ENOMEM. */
static int take_string(Reader *rd, const TomlValue *v, const char *path, char **ret) {
        const char *s = get_string(rd, v, path);
        if (!s)
                return 0;
        free(*ret);
        *ret = strdup(s);
        return *ret ? 1 : -ENOMEM;
}

static int read_source(Reader *rd, const TomlValue *v, const char *path, LockSource *ret) {
        const TomlValue *file = NULL, *type = NULL, *hash = NULL;
        bool bad = false;
        int r;

        if (v->type != TOML_TABLE) {
                diag_error(rd->d, &v->pos, "key '%s': expected a table { file, hashtype, hash }, found a %s", path,
                           toml_type_to_string(v->type));
                return 0;
        }
        for (size_t i = 0; i < v->table.n; i++) {
                const TomlEntry *e = &v->table.entries[i];
                if (strcmp(e->key, "file") == 0 && e->key_len == 4)
                        file = e->value;
                else if (strcmp(e->key, "hashtype") == 0 && e->key_len == 8)
                        type = e->value;
                else if (strcmp(e->key, "hash") == 0 && e->key_len == 4)
                        hash = e->value;
                else {
                        diag_error(rd->d, &e->key_pos, "unknown key in '%s' (expected file, hashtype, hash)", path);
                        bad = true;
                }
        }
        if (!file || !type || !hash) {
                diag_error(rd->d, &v->pos, "key '%s': a source needs file, hashtype and hash", path);
                return 0;
        }

        const char *f = get_string(rd, file, path), *t = get_string(rd, type, path), *h = get_string(rd, hash, path);
        HashAlgo a = _HASH_ALGO_INVALID;
        if (f) {
                const char *why = source_file_name_check(f, file->string.len);
                if (why) {
                        diag_error(rd->d, &file->pos, "key '%s.file': not a file name for a source: %s", path, why);
                        bad = true;
                }
        }
        if (t) {
                a = source_hash_algo(t);
                if (a < 0) {
                        diag_error(rd->d, &type->pos,
                                   "key '%s.hashtype': expected \"md5\", \"sha1\", \"sha256\" or \"sha512\"", path);
                        bad = true;
                }
        }
        if (h && a >= 0 && (hash->string.len != 2 * hash_size(a) || !is_lower_hex(h, hash->string.len))) {
                diag_error(rd->d, &hash->pos, "key '%s.hash': expected %zu lower-case hexadecimal digits (a %s hash)",
                           path, 2 * hash_size(a), t);
                bad = true;
        }
        if (!f || !t || !h || bad)
                return 0;

        LockSource s = {};
        r = take_string(rd, file, path, &s.file);
        if (r > 0)
                r = take_string(rd, type, path, &s.hashtype);
        if (r > 0)
                r = take_string(rd, hash, path, &s.hash);
        if (r <= 0) {
                free(s.file);
                free(s.hashtype);
                free(s.hash);
                return r;
        }
        *ret = s;
        return 1;
}

static int read_sources(Reader *rd, const TomlValue *v, const char *path, LockEntry *e) {
        if (v->type != TOML_ARRAY) {
                diag_error(rd->d, &v->pos, "key '%s': expected an array, found a %s", path, toml_type_to_string(v->type));
                return 0;
        }
        if (v->array.n > 0) {
                e->sources = new0(LockSource, v->array.n);
                if (!e->sources)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < v->array.n; i++) {
                _cleanup_free_ char *p = strprintf("%s[%zu]", path, i + 1);
                if (!p)
                        return -ENOMEM;
                int r = read_source(rd, v->array.items[i], p, &e->sources[e->n_sources]);
                if (r < 0)
                        return r;
                if (r > 0)
                        e->n_sources++;
        }
        return 1;
}

/* One [components.NAME] table; 1 with *ret filled, 0 after errors. */
static int read_entry(Reader *rd, const TomlEntry *te, LockEntry *ret) {
        _cleanup_(lock_entry_release) LockEntry e = { .pos = te->value->pos };
        _cleanup_free_ char *path = NULL;
        const TomlValue *v = te->value;
        bool bad = false, have_sources = false;
        int r;

        e.pos.file = rd->path;
        if (memchr(te->key, 0, te->key_len) || te->key_len == 0) {
                diag_error(rd->d, &te->key_pos, "a component's name must be non-empty and without NUL characters");
                return 0;
        }
        path = strprintf("components.%s", te->key);
        e.name = strdup(te->key);
        if (!path || !e.name)
                return -ENOMEM;
        if (v->type != TOML_TABLE) {
                diag_error(rd->d, &v->pos, "key '%s': expected a table, found a %s", path, toml_type_to_string(v->type));
                return 0;
        }

        for (size_t i = 0; i < v->table.n; i++) {
                const TomlEntry *k = &v->table.entries[i];
                const TomlValue *kv = k->value;
                bool nul = memchr(k->key, 0, k->key_len) != NULL;
                _cleanup_free_ char *kp = strprintf("%s.%s", path, nul ? "?" : k->key);
                if (!kp)
                        return -ENOMEM;
                r = 1;
                if (!nul && strcmp(k->key, "url") == 0) {
                        r = take_string(rd, kv, kp, &e.url);
                        if (r > 0 && !check_url(e.url)) {
                                diag_error(rd->d, &kv->pos, "key '%s': expected a file:///, http:// or https:// URL", kp);
                                r = 0;
                        }
                } else if (!nul && strcmp(k->key, "branch") == 0) {
                        r = take_string(rd, kv, kp, &e.branch);
                        if (r > 0 && strpbrk(e.branch, " \t\n\r")) {
                                diag_error(rd->d, &kv->pos, "key '%s': expected a git branch name", kp);
                                r = 0;
                        }
                } else if (!nul && strcmp(k->key, "commit") == 0) {
                        r = take_string(rd, kv, kp, &e.commit);
                        if (r > 0 && (strlen(e.commit) != 40 || !is_lower_hex(e.commit, 40))) {
                                diag_error(rd->d, &kv->pos, "key '%s': expected a commit: 40 lower-case hexadecimal digits",
                                           kp);
                                r = 0;
                        }
                } else if (!nul && strcmp(k->key, "sources") == 0) {
                        have_sources = true;
                        r = read_sources(rd, kv, kp, &e);
                } else {
                        diag_error(rd->d, &k->key_pos, "unknown key '%s' (expected url, branch, commit, sources)", kp);
                        r = 0;
                }
                if (r < 0)
                        return r;
                if (r == 0)
                        bad = true;
        }
        if (!e.url || !e.commit || !have_sources) {
                if (!bad)
                        diag_error(rd->d, &e.pos, "component '%s' in the lock needs url, commit and sources", e.name);
                return 0;
        }
        if (bad)
                return 0;
        *ret = e;
        e = (LockEntry) {};
        return 1;
}

static int entry_cmp(const void *a, const void *b) {
        return strcmp(((const LockEntry *) a)->name, ((const LockEntry *) b)->name);
}

static int read_document(Reader *rd, const TomlValue *root, Lock *l) {
        const TomlValue *version = NULL;
        int r;

        for (size_t i = 0; i < root->table.n; i++) {
                const TomlEntry *te = &root->table.entries[i];
                const TomlValue *v = te->value;
                bool nul = memchr(te->key, 0, te->key_len) != NULL;
                if (!nul && strcmp(te->key, "version") == 0) {
                        version = v;
                        if (v->type != TOML_INTEGER)
                                diag_error(rd->d, &v->pos, "key 'version': expected an integer, found a %s",
                                           toml_type_to_string(v->type));
                        else if (v->integer != LOCK_VERSION)
                                diag_error(rd->d, &v->pos,
                                           "key 'version': this slipway reads version %d of slipway.lock, not %lld",
                                           LOCK_VERSION, (long long) v->integer);
                } else if (!nul && strcmp(te->key, "components") == 0) {
                        if (v->type != TOML_TABLE) {
                                diag_error(rd->d, &v->pos, "key 'components': expected a table, found a %s",
                                           toml_type_to_string(v->type));
                                continue;
                        }
                        if (v->table.n > 0) {
                                l->items = new0(LockEntry, v->table.n);
                                if (!l->items)
                                        return -ENOMEM;
                        }
                        for (size_t j = 0; j < v->table.n; j++) {
                                r = read_entry(rd, &v->table.entries[j], &l->items[l->n]);
                                if (r < 0)
                                        return r;
                                if (r > 0)
                                        l->n++;
                        }
                } else
                        diag_error(rd->d, &te->key_pos, "unknown key '%s' (expected version, components)",
                                   nul ? "?" : te->key);
        }
        if (!version) {
                SourcePos start = { .file = rd->path, .line = 1, .column = 1 };
                diag_error(rd->d, &start, "slipway.lock has no 'version = %d'", LOCK_VERSION);
        }

        /* The parser refuses a table defined twice, so names are unique. */
        if (l->n > 1)
                qsort(l->items, l->n, sizeof l->items[0], entry_cmp);
        return 0;
}

int lock_load(const char *path, Lock **ret, Diagnostics *d) {
        _cleanup_(lock_freep) Lock *l = new0(Lock, 1);
        _cleanup_(toml_document_freep) TomlDocument *doc = NULL;
        _cleanup_free_ char *data = NULL;
        size_t size, errors = d->n_errors + d->dropped;
        int r;

        if (!l)
                return -ENOMEM;
        l->path = strdup(path);
        if (!l->path)
                return -ENOMEM;
        r = read_full_file(path, &data, &size);
        if (r == -ENOENT) {
                *ret = TAKE_PTR(l);
                return 0;
        }
        if (r < 0) {
                diag_error(d, NULL, "cannot read '%s': %s", path, strerror(-r));
                return r;
        }
        r = toml_parse(data, size, path, d, &doc);
        if (r < 0)
                return r;

        Reader rd = { .d = d, .path = l->path };
        r = read_document(&rd, doc->root, l);
        if (r < 0)
                return r;
        if (d->n_errors + d->dropped > errors)
                return -EINVAL;
        *ret = TAKE_PTR(l);
        return 0;
}

/* ---- writing ---- */

/* A TOML basic string (toml.io, "String"): '"' and '\' escaped, control
 * characters as escapes; everything else is copied (it is UTF-8). */
static void put_string(StrBuf *sb, const char *s) {
        strbuf_putc(sb, '"');
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                switch (*p) {
                case '"': strbuf_puts(sb, "\\\""); break;
                case '\\': strbuf_puts(sb, "\\\\"); break;
                case '\n': strbuf_puts(sb, "\\n"); break;
                case '\t': strbuf_puts(sb, "\\t"); break;
                case '\r': strbuf_puts(sb, "\\r"); break;
                case '\b': strbuf_puts(sb, "\\b"); break;
                case '\f': strbuf_puts(sb, "\\f"); break;
                default:
                        if (*p < 0x20 || *p == 0x7f)
                                strbuf_printf(sb, "\\u%04X", *p);
                        else
                                strbuf_putc(sb, (char) *p);
                }
        strbuf_putc(sb, '"');
}

/* A key: bare if TOML allows it bare, else quoted. */
static void put_key(StrBuf *sb, const char *s) {
        size_t n = strlen(s);
        if (n > 0 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n)
                strbuf_puts(sb, s);
        else
                put_string(sb, s);
}

int lock_save(const Lock *l) {
        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;

        strbuf_puts(&sb, "# slipway.lock: the exact upstream inputs of every upstream component.\n"
                         "# Written by slipway (`slipway update` moves it); commit it with the project.\n");
        strbuf_printf(&sb, "version = %d\n", LOCK_VERSION);
        for (size_t i = 0; i < l->n; i++) {
                const LockEntry *e = &l->items[i];
                if (!e->name || !e->url || !e->commit)
                        return -EINVAL;
                strbuf_puts(&sb, "\n[components.");
                put_key(&sb, e->name);
                strbuf_puts(&sb, "]\nurl = ");
                put_string(&sb, e->url);
                if (e->branch) {
                        strbuf_puts(&sb, "\nbranch = ");
                        put_string(&sb, e->branch);
                }
                strbuf_puts(&sb, "\ncommit = ");
                put_string(&sb, e->commit);
                strbuf_puts(&sb, e->n_sources > 0 ? "\nsources = [\n" : "\nsources = []\n");
                for (size_t j = 0; j < e->n_sources; j++) {
                        const LockSource *s = &e->sources[j];
                        strbuf_puts(&sb, "  { file = ");
                        put_string(&sb, s->file);
                        strbuf_puts(&sb, ", hashtype = ");
                        put_string(&sb, s->hashtype);
                        strbuf_puts(&sb, ", hash = ");
                        put_string(&sb, s->hash);
                        strbuf_puts(&sb, " },\n");
                }
                if (e->n_sources > 0)
                        strbuf_puts(&sb, "]\n");
        }
        if (sb.oom)
                return -ENOMEM;
        return write_file_atomic(l->path, sb.buf, sb.len, 0644);
}
