/* SPDX-License-Identifier: MIT */

/* The overlay kinds, check-skip and the Release change (upstream.h), with
 * azldev's meaning (docs/upstream.md, "Overlays"):
 *
 *   - archive overlays (file-remove, file-search-replace with `archive`)
 *     come first, one read and one repack per archive, in the order the
 *     archives are first named; then every other overlay in its order;
 *   - an overlay that cannot apply is an error at its key, and the next
 *     one is tried, so one run reports them all;
 *   - spec overlays edit the spec as lines (spec.h): lines no overlay names
 *     keep their bytes. */

#define PCRE2_CODE_UNIT_WIDTH 8
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "upstream/spec.h"
#include "upstream/upstream.h"

/* A file inside an archive changed by file-search-replace is edited in memory. */
#define ARCHIVE_EDIT_MAX ((size_t) 256 << 20)

typedef struct Ctx {
        const Project *p;
        const Component *c;
        const char *dir;
        Diagnostics *d;
        Spec *spec;
        bool spec_changed;
        size_t n_errors;
} Ctx;

/* Records an error about overlay i at its key; returns 0, so that a caller
 * can report and go on in one statement. */
_printf_(4, 5) static int overlay_error(Ctx *x, size_t i, const char *key, const char *fmt, ...) {
        const Overlay *o = &x->c->overlays.items[i];
        SourcePos pos = cfg_pos(&o->obj, key);
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (o->description)
                diag_error(x->d, &pos, "component '%s': overlay %zu (%s, \"%s\"): %s", x->c->name, i + 1,
                           overlay_type_to_string(o->type), o->description, msg ? msg : "out of memory");
        else
                diag_error(x->d, &pos, "component '%s': overlay %zu (%s): %s", x->c->name, i + 1,
                           overlay_type_to_string(o->type), msg ? msg : "out of memory");
        x->n_errors++;
        return 0;
}

/* "the main package" / "sub-package 'devel'" */
#define PKG_FMT "%s%s%s"
#define PKG_ARGS(pkg) (pkg) ? "sub-package '" : "the main package", (pkg) ? (pkg) : "", (pkg) ? "'" : ""
/* "section %files" / "section %files of sub-package 'devel'" */
#define SECTION_FMT "section %s%s%s%s"
#define SECTION_ARGS(name, pkg) (name), (pkg) ? " of sub-package '" : "", (pkg) ? (pkg) : "", (pkg) ? "'" : ""

/* ---- regular expressions ---------------------------------------------------------- */

typedef struct Regex {
        pcre2_code *code;
        pcre2_match_data *md;
} Regex;

static void regex_release(Regex *re) {
        pcre2_match_data_free(re->md);
        pcre2_code_free(re->code);
        *re = (Regex) {};
}

/* The options the configuration checks regexes with, and bytes that are not
 * UTF-8 (a Latin-1 changelog) simply never match. */
static int regex_compile(const char *pattern, Regex *ret, char **ret_error) {
        int err;
        PCRE2_SIZE off;
        pcre2_code *code = pcre2_compile((PCRE2_SPTR) pattern, PCRE2_ZERO_TERMINATED,
                                         PCRE2_UTF | PCRE2_MULTILINE | PCRE2_MATCH_INVALID_UTF, &err, &off, NULL);
        if (!code) {
                PCRE2_UCHAR msg[256];
                pcre2_get_error_message(err, msg, sizeof msg);
                *ret_error = strprintf("regex '%s' does not compile: %s at offset %zu", pattern, (const char *) msg,
                                       (size_t) off);
                return -EINVAL;
        }
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
        if (!md) {
                pcre2_code_free(code);
                return -ENOMEM;
        }
        *ret = (Regex) { code, md };
        return 0;
}

/* The length of the character at s[i] (1 for a byte that starts none). */
static size_t utf8_len(const char *s, size_t i, size_t n) {
        unsigned char c = (unsigned char) s[i];
        size_t k = c >= 0xf0 && c < 0xf8 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
        if (c >= 0xf8)
                k = 1;
        for (size_t j = 1; j < k; j++)
                if (i + j >= n || ((unsigned char) s[i + j] & 0xc0) != 0x80)
                        return 1;
        return k;
}

/* Appends s to out with every match replaced by rep, literally ("$1" is
 * "$1"), as Go's ReplaceAllLiteral: matches do not overlap, and an empty
 * match right after a match is not one. *ret_n: how many. -E2BIG when PCRE2
 * gives up (its match limits). */
static int regex_replace(Regex *re, const char *s, size_t n, const char *rep, StrBuf *out, size_t *ret_n) {
        size_t pos = 0, count = 0, prev_end = 0, rep_len = rep ? strlen(rep) : 0;
        bool have_prev = false;

        while (pos <= n) {
                int rc = pcre2_match(re->code, (PCRE2_SPTR) s, n, pos, 0, re->md, NULL);
                if (rc == PCRE2_ERROR_NOMATCH)
                        break;
                if (rc < 0)
                        return rc == PCRE2_ERROR_NOMEMORY ? -ENOMEM : -E2BIG;
                PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
                size_t ms = ov[0], me = ov[1];
                if (me < ms) /* \K in a lookaround: no sensible replacement */
                        return -E2BIG;
                if (ms == me && have_prev && ms == prev_end) {
                        if (ms >= n)
                                break;
                        size_t k = utf8_len(s, ms, n);
                        strbuf_put(out, s + pos, ms + k - pos);
                        pos = ms + k;
                        continue;
                }
                strbuf_put(out, s + pos, ms - pos);
                strbuf_put(out, rep, rep_len);
                count++;
                have_prev = true;
                prev_end = me;
                if (ms == me) {
                        if (ms >= n) {
                                pos = n;
                                break;
                        }
                        size_t k = utf8_len(s, ms, n);
                        strbuf_put(out, s + ms, k);
                        pos = ms + k;
                } else
                        pos = me;
        }
        if (pos < n)
                strbuf_put(out, s + pos, n - pos);
        if (out->oom)
                return -ENOMEM;
        *ret_n = count;
        return 0;
}

/* ---- globs ------------------------------------------------------------------------- */

static unsigned utf8_cp(const char *s, size_t *ret_len) {
        size_t n = strlen(s), k = n ? utf8_len(s, 0, n) : 0;
        const unsigned char *u = (const unsigned char *) s;
        unsigned cp = k == 1 || k == 0 ? u[0] : k == 2 ? u[0] & 0x1f : k == 3 ? u[0] & 0x0f : u[0] & 0x07;
        for (size_t j = 1; j < k; j++)
                cp = cp << 6 | (u[j] & 0x3f);
        *ret_len = k;
        return cp;
}

/* [...] at p against the character c; *ret_end: past the ']'. False with
 * *ret_end NULL if there is no ']' (then '[' is literal). */
static bool glob_class(const char *p, unsigned c, const char **ret_end) {
        bool neg = false, hit = false;
        const char *q = p + 1;
        size_t k;

        if (*q == '!' || *q == '^') {
                neg = true;
                q++;
        }
        for (bool first = true; *q && (first || *q != ']'); first = false) {
                if (*q == '\\' && q[1])
                        q++;
                unsigned lo = utf8_cp(q, &k), hi = lo;
                q += k;
                if (q[0] == '-' && q[1] && q[1] != ']') {
                        q++;
                        if (*q == '\\' && q[1])
                                q++;
                        hi = utf8_cp(q, &k);
                        q += k;
                }
                if (c >= lo && c <= hi)
                        hit = true;
        }
        if (*q != ']') {
                *ret_end = NULL;
                return false;
        }
        *ret_end = q + 1;
        return hit != neg;
}

/* Glob matching as azldev's (doublestar): '*' and '?' stay within one path
 * component, "**" as a whole component matches any number of them, [...]
 * and {a,b} as in a shell; dot files are not special. p points into the
 * pattern that starts at p0. */
static bool glob_match_at(const char *p0, const char *p, const char *s) {
        while (*p) {
                bool component_start = p == p0 || p[-1] == '/';
                if (component_start && p[0] == '*' && p[1] == '*' && (p[2] == '/' || !p[2])) {
                        if (!p[2])
                                return *s != 0;
                        for (const char *t = s;;) {
                                if (glob_match_at(p0, p + 3, t))
                                        return true;
                                t = strchr(t, '/');
                                if (!t)
                                        return false;
                                t++;
                        }
                }
                switch (*p) {
                case '*':
                        p++;
                        for (const char *t = s;; t++) {
                                if (glob_match_at(p0, p, t))
                                        return true;
                                if (!*t || *t == '/')
                                        return false;
                        }
                case '?': {
                        size_t k;
                        if (!*s || *s == '/')
                                return false;
                        (void) utf8_cp(s, &k);
                        s += k;
                        p++;
                        break;
                }
                case '[': {
                        const char *end;
                        size_t k;
                        if (*s && *s != '/') {
                                unsigned c = utf8_cp(s, &k);
                                bool hit = glob_class(p, c, &end);
                                if (end) {
                                        if (!hit)
                                                return false;
                                        s += k;
                                        p = end;
                                        break;
                                }
                        } else {
                                (void) glob_class(p, 0, &end);
                                if (end)
                                        return false;
                        }
                        if (*s != '[')
                                return false;
                        s++;
                        p++;
                        break;
                }
                case '{': {
                        /* Each alternative in place of the braces. */
                        const char *q = p + 1, *close = NULL;
                        int depth = 1;
                        for (; *q; q++) {
                                if (*q == '\\' && q[1])
                                        q++;
                                else if (*q == '{')
                                        depth++;
                                else if (*q == '}' && --depth == 0) {
                                        close = q;
                                        break;
                                }
                        }
                        if (!close) {
                                if (*s != '{')
                                        return false;
                                s++;
                                p++;
                                break;
                        }
                        const char *alt = p + 1;
                        depth = 0;
                        for (q = p + 1; q <= close; q++) {
                                if (*q == '\\' && q < close) {
                                        q++;
                                        continue;
                                }
                                if (*q == '{')
                                        depth++;
                                else if (*q == '}' && depth > 0)
                                        depth--;
                                else if ((*q == ',' && depth == 0) || q == close) {
                                        _cleanup_free_ char *np = strprintf("%.*s%.*s%s", (int) (p - p0), p0,
                                                                            (int) (q - alt), alt, close + 1);
                                        if (np && glob_match_at(np, np + (p - p0), s))
                                                return true;
                                        alt = q + 1;
                                }
                        }
                        return false;
                }
                case '\\':
                        if (p[1])
                                p++;
                        __attribute__((fallthrough));
                default:
                        if (*p != *s)
                                return false;
                        p++;
                        s++;
                }
        }
        return !*s;
}

static bool glob_match(const char *pattern, const char *path) {
        while (pattern[0] == '.' && pattern[1] == '/')
                pattern += 2;
        return glob_match_at(pattern, pattern, path);
}

/* ---- the sources tree ---------------------------------------------------------------- */

typedef struct TreeFile {
        char *path; /* relative to the tree */
        bool regular;
} TreeFile;

typedef struct TreeList {
        TreeFile *items;
        size_t n, allocated;
} TreeList;

static void tree_list_release(TreeList *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->items[i].path);
        free(l->items);
        *l = (TreeList) {};
}

static int tree_walk(int dfd, const char *prefix, TreeList *l) {
        _cleanup_(closedirp) DIR *d = fdopendir(dfd);
        struct dirent *de;
        int r = 0;

        if (!d) {
                r = negative_errno();
                close(dfd);
                return r;
        }

        while ((errno = 0, de = readdir(d))) {
                struct stat st;
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return negative_errno();
                _cleanup_free_ char *path = prefix ? strprintf("%s/%s", prefix, de->d_name) : strdup(de->d_name);
                if (!path)
                        return -ENOMEM;
                if (S_ISDIR(st.st_mode)) {
                        /* azldev's globs never look into git's own files. */
                        if (strcmp(de->d_name, ".git") == 0)
                                continue;
                        int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub < 0)
                                return negative_errno();
                        r = tree_walk(sub, path, l);
                        if (r < 0)
                                return r;
                } else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
                        if (!GREEDY_REALLOC(l->items, l->allocated, l->n + 1))
                                return -ENOMEM;
                        l->items[l->n++] = (TreeFile) { TAKE_PTR(path), S_ISREG(st.st_mode) };
                }
        }
        return errno > 0 ? -errno : 0;
}

static int tree_file_cmp(const void *a, const void *b) {
        return strcmp(((const TreeFile *) a)->path, ((const TreeFile *) b)->path);
}

static bool is_spec_file(const char *path) {
        size_t n = strlen(path);
        return n >= 5 && strcmp(path + n - 5, ".spec") == 0;
}

/* The files of the tree that pattern matches, sorted: regular files (and
 * symbolic links unless regular_only), never a spec (spec overlays change
 * those) nor anything in .git. */
static int tree_glob(Ctx *x, const char *pattern, bool regular_only, TreeList *ret) {
        _cleanup_(tree_list_release) TreeList all = {};
        int fd = open(x->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        int r = tree_walk(fd, NULL, &all);
        if (r < 0)
                return r;
        qsort(all.items, all.n, sizeof(TreeFile), tree_file_cmp);
        TreeList l = {};
        for (size_t i = 0; i < all.n; i++) {
                TreeFile *f = &all.items[i];
                if ((regular_only && !f->regular) || is_spec_file(f->path) || !glob_match(pattern, f->path))
                        continue;
                if (!GREEDY_REALLOC(l.items, l.allocated, l.n + 1)) {
                        tree_list_release(&l);
                        return -ENOMEM;
                }
                l.items[l.n++] = (TreeFile) { TAKE_PTR(f->path), f->regular };
        }
        *ret = l;
        return 0;
}

/* A loose-file overlay must not change an archive that archive overlays
 * change (azldev refuses it too: which change wins would be arbitrary). */
static bool check_not_archive(Ctx *x, size_t i, const TreeList *l) {
        const OverlayArray *ov = &x->c->overlays;
        for (size_t k = 0; k < l->n; k++)
                for (size_t j = 0; j < ov->n; j++)
                        if (ov->items[j].archive && strcmp(ov->items[j].archive, l->items[k].path) == 0) {
                                overlay_error(x, i, "file",
                                              "'%s' is the archive that overlay %zu changes inside; a loose-file "
                                              "overlay cannot change it too",
                                              l->items[k].path, j + 1);
                                return false;
                        }
        return true;
}

static int write_keeping_mode(const char *path, const void *data, size_t size) {
        struct stat st;
        if (lstat(path, &st) < 0)
                return negative_errno();
        return write_file_atomic(path, data, size, st.st_mode & 07777);
}

/* ---- spec overlays --------------------------------------------------------------------- */

/* The sections a tag overlay works in: the preamble, or pkg's %package
 * sections (two when it is declared in both branches of a %if). */
static size_t tag_targets(const Spec *s, const char *pkg, size_t *ret) {
        size_t n = 0;
        if (!pkg)
                ret[n++] = 0;
        else
                for (size_t k = 1; k < s->n_sections; k++)
                        if (s->sections[k].type == SPEC_SECTION_PACKAGE && spec_section_is(s, k, s->sections[k].name, pkg))
                                ret[n++] = k;
        return n;
}

static bool in_targets(size_t k, const size_t *targets, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (targets[i] == k)
                        return true;
        return false;
}

static const char *trim(const char *v, size_t *ret_len) {
        while (*v == ' ' || *v == '\t')
                v++;
        size_t n = strlen(v);
        while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
                n--;
        *ret_len = n;
        return v;
}

static bool tag_value_is(const Spec *s, const SpecTag *t, const char *v, size_t vlen) {
        return t && t->value_len == vlen && strncasecmp(s->lines[t->line].text + t->value_start, v, vlen) == 0;
}

/* Tags a package may have several of, told apart by their values: adding
 * one fails only if the same value is there. Every other tag names one
 * thing (Version, License, Source1), and adding it fails if it is there. */
static bool tag_repeats(const char *tag) {
        static const char *const names[] = {
                "requires",    "buildrequires", "buildconflicts", "buildprereq",   "prereq",         "provides",
                "conflicts",   "obsoletes",     "recommends",     "suggests",      "supplements",    "enhances",
                "orderwithrequires", "exclusivearch", "excludearch", "exclusiveos", "excludeos", "buildarch",
                "source",      "patch",         "nosource",       "nopatch",
        };
        size_t n = strcspn(tag, "(");
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strlen(names[i]) == n && strncasecmp(tag, names[i], n) == 0)
                        return true;
        return false;
}

/* What spec.c reads as a tag's name. */
static bool tag_name_ok(const char *tag) {
        if (!((tag[0] >= 'a' && tag[0] <= 'z') || (tag[0] >= 'A' && tag[0] <= 'Z')))
                return false;
        return !tag[strcspn(tag, ": \t\r\n\v\f")];
}

static SpecTag *tag_at_line(Spec *s, size_t line) {
        for (size_t i = 0; i < s->n_tags; i++)
                if (s->tags[i].line == line)
                        return &s->tags[i];
        return NULL;
}

/* The lines of the tags named tag in the target sections, in order. */
static size_t find_tags(const Spec *s, const size_t *targets, size_t nt, const char *tag, size_t *ret_lines) {
        size_t n = 0;
        for (size_t i = 0; i < s->n_tags; i++)
                if (in_targets(s->tags[i].section, targets, nt) && spec_tag_is(s, &s->tags[i], tag))
                        ret_lines[n++] = s->tags[i].line;
        return n;
}

/* Gives the tag at line a new value; the rest of the line (its spelling of
 * the name, the blanks after the colon) stays. */
static int tag_set_value(Ctx *x, size_t line, const char *value, size_t vlen) {
        const SpecTag *t = tag_at_line(x->spec, line);
        if (!t)
                return -EINVAL;
        const SpecLine *l = &x->spec->lines[line];
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        strbuf_put(&b, l->text, t->value_start);
        if (t->value_len == 0 && t->value_start == t->name_start + t->name_len + 1)
                strbuf_putc(&b, ' ');
        strbuf_put(&b, value, vlen);
        strbuf_put(&b, l->text + t->value_start + t->value_len, l->len - t->value_start - t->value_len);
        if (b.oom)
                return -ENOMEM;
        x->spec_changed = true;
        return spec_replace_line(x->spec, line, b.buf, b.len);
}

/* Appends "tag: value" to each target section (last first, so that the
 * earlier ones keep their line numbers). */
static int tag_append(Ctx *x, const size_t *targets, size_t nt, const char *tag, const char *value, size_t vlen) {
        _cleanup_free_ char *text = strprintf("%s: %.*s", tag, (int) vlen, value);
        if (!text)
                return -ENOMEM;
        for (size_t i = nt; i > 0; i--) {
                size_t at = spec_section_append_point(x->spec, targets[i - 1]);
                int r = spec_insert_line(x->spec, at, text, strlen(text));
                if (r < 0)
                        return r;
        }
        x->spec_changed = true;
        return 0;
}

static size_t tag_family_len(const char *name, size_t len) {
        size_t n = len;
        while (n > 0 && name[n - 1] >= '0' && name[n - 1] <= '9')
                n--;
        return n == 0 ? len : n;
}

/* Where spec-insert-tag puts tag: after the last tag of its family (the
 * name without its digits: Source9999 goes after the last Source*), else
 * after the last tag; outside any %if block that line is in. Returns
 * false if the sections have no tag. */
static bool insert_tag_point(const Spec *s, const size_t *targets, size_t nt, const char *tag, size_t *ret) {
        size_t flen = tag_family_len(tag, strlen(tag));
        size_t last_any = SIZE_MAX, last_family = SIZE_MAX;
        for (size_t i = 0; i < s->n_tags; i++) {
                const SpecTag *t = &s->tags[i];
                if (!in_targets(t->section, targets, nt))
                        continue;
                const char *name = s->lines[t->line].text + t->name_start;
                last_any = t->line;
                if (tag_family_len(name, t->name_len) == flen && strncasecmp(name, tag, flen) == 0)
                        last_family = t->line;
        }
        size_t line = last_family != SIZE_MAX ? last_family : last_any;
        if (line == SIZE_MAX)
                return false;

        const SpecSection *sec = &s->sections[s->line_section[line]];
        int base = sec->type == SPEC_SECTION_PREAMBLE ? 0 : spec_cond_depth_after(s, sec->header);
        int depth = spec_cond_depth_after(s, line);
        for (size_t j = line + 1; depth > base && j < sec->end; j++) {
                depth += spec_cond_change(&s->lines[j]);
                if (depth <= base)
                        line = j;
        }
        *ret = line + 1;
        return true;
}

static int op_tag(Ctx *x, size_t i) {
        const Overlay *o = &x->c->overlays.items[i];
        Spec *s = x->spec;
        _cleanup_free_ size_t *targets = new0(size_t, s->n_sections), *lines = new0(size_t, s->n_lines + 1);
        size_t vlen = 0, n;
        const char *value = o->value ? trim(o->value, &vlen) : NULL;

        if (!targets || !lines)
                return -ENOMEM;
        if (!tag_name_ok(o->tag))
                return overlay_error(x, i, "tag", "'%s' is not a tag name: a letter, then no blank or ':'", o->tag);
        /* An empty value to match is none (azldev's). */
        if (o->type == OVERLAY_SPEC_REMOVE_TAG && value && vlen == 0)
                value = NULL;
        size_t nt = tag_targets(s, o->package, targets);
        if (nt == 0)
                return overlay_error(x, i, "package", "sub-package '%s' has no %%package section", o->package);

        switch (o->type) {
        case OVERLAY_SPEC_ADD_TAG:
                n = find_tags(s, targets, nt, o->tag, lines);
                for (size_t k = 0; k < n; k++) {
                        const SpecTag *t = tag_at_line(s, lines[k]);
                        if (!tag_repeats(o->tag))
                                return overlay_error(x, i, "tag", PKG_FMT " already has tag %s (line %zu: '%.*s')",
                                                     PKG_ARGS(o->package), o->tag, lines[k] + 1,
                                                     (int) s->lines[lines[k]].len, s->lines[lines[k]].text);
                        if (tag_value_is(s, t, value, vlen))
                                return overlay_error(x, i, "value", PKG_FMT " already has '%s: %.*s' (line %zu)",
                                                     PKG_ARGS(o->package), o->tag, (int) vlen, value, lines[k] + 1);
                }
                return tag_append(x, targets, nt, o->tag, value, vlen);

        case OVERLAY_SPEC_INSERT_TAG: {
                size_t at;
                if (!insert_tag_point(s, targets, nt, o->tag, &at))
                        return tag_append(x, targets, nt, o->tag, value, vlen);
                _cleanup_free_ char *text = strprintf("%s: %.*s", o->tag, (int) vlen, value);
                if (!text)
                        return -ENOMEM;
                x->spec_changed = true;
                return spec_insert_line(s, at, text, strlen(text));
        }

        case OVERLAY_SPEC_SET_TAG:
        case OVERLAY_SPEC_UPDATE_TAG:
                /* Every instance (a tag set in both branches of a %if). */
                n = find_tags(s, targets, nt, o->tag, lines);
                if (n == 0) {
                        if (o->type == OVERLAY_SPEC_SET_TAG)
                                return tag_append(x, targets, nt, o->tag, value, vlen);
                        return overlay_error(x, i, "tag", "tag %s is not in " PKG_FMT, o->tag, PKG_ARGS(o->package));
                }
                for (size_t k = n; k > 0; k--) {
                        int r = tag_set_value(x, lines[k - 1], value, vlen);
                        if (r < 0)
                                return r;
                }
                return 0;

        case OVERLAY_SPEC_REMOVE_TAG: {
                n = find_tags(s, targets, nt, o->tag, lines);
                if (n == 0)
                        return overlay_error(x, i, "tag", "tag %s is not in " PKG_FMT, o->tag, PKG_ARGS(o->package));
                _cleanup_free_ bool *remove = new0(bool, s->n_lines);
                size_t removed = 0;
                if (!remove)
                        return -ENOMEM;
                for (size_t k = 0; k < n; k++)
                        if (!value || tag_value_is(s, tag_at_line(s, lines[k]), value, vlen)) {
                                remove[lines[k]] = true;
                                removed++;
                        }
                if (removed == 0)
                        return overlay_error(x, i, "value", "no tag %s of " PKG_FMT " has the value '%.*s'", o->tag,
                                             PKG_ARGS(o->package), (int) vlen, value);
                x->spec_changed = true;
                return spec_remove_lines(s, remove);
        }

        default:
                return -EINVAL;
        }
}

/* The section an overlay names, read as a header: "%files" with package
 * "devel", or "%files devel" itself. */
static int overlay_section(Ctx *x, size_t i, char **ret_name, char **ret_package, bool *ret_ok) {
        const Overlay *o = &x->c->overlays.items[i];
        _cleanup_free_ char *name = NULL, *package = NULL;
        SpecSectionType type;

        *ret_ok = false;
        int r = spec_parse_section_header(o->section, strlen(o->section), &type, &name, &package);
        if (r == -EINVAL)
                return overlay_error(x, i, "section", "'%s' is not a spec section rpm knows", o->section);
        if (r < 0)
                return r;
        if (o->package) {
                if (package && strcmp(package, o->package) != 0)
                        return overlay_error(x, i, "package", "'%s' names sub-package '%s', and package '%s'",
                                             o->section, package, o->package);
                free(package);
                package = strdup(o->package);
                if (!package)
                        return -ENOMEM;
        }
        if (type == SPEC_SECTION_PACKAGE && !package)
                return overlay_error(x, i, "section",
                                     "the main package has no %%package section: name a sub-package with 'package', "
                                     "or change its tags with the spec-*-tag overlays");
        *ret_name = TAKE_PTR(name);
        *ret_package = TAKE_PTR(package);
        *ret_ok = true;
        return 0;
}

static size_t section_targets(const Spec *s, const char *name, const char *pkg, size_t *ret) {
        size_t n = 0;
        for (size_t k = 1; k < s->n_sections; k++)
                if (spec_section_is(s, k, name, pkg))
                        ret[n++] = k;
        return n;
}

/* A named section that is not there: the key at fault is package if the
 * section is there for another package. */
static int section_missing(Ctx *x, size_t i, const char *name, const char *pkg) {
        const Spec *s = x->spec;
        for (size_t k = 1; k < s->n_sections; k++)
                if (strcasecmp(s->sections[k].name, name) == 0)
                        return overlay_error(x, i, pkg ? "package" : "section", SECTION_FMT " is not in the spec",
                                             SECTION_ARGS(name, pkg));
        return overlay_error(x, i, "section", "section %s is not in the spec", name);
}

static int op_lines(Ctx *x, size_t i) {
        const Overlay *o = &x->c->overlays.items[i];
        const char *const *lines = (const char *const *) o->lines.items;
        _cleanup_free_ char *name = NULL, *pkg = NULL;
        bool ok;
        int r;

        if (!o->section) {
                x->spec_changed = true;
                return spec_insert_lines(x->spec, o->type == OVERLAY_SPEC_PREPEND_LINES ? 0 : x->spec->n_lines, lines,
                                         o->lines.n);
        }
        r = overlay_section(x, i, &name, &pkg, &ok);
        if (r < 0 || !ok)
                return r;
        _cleanup_free_ size_t *targets = new0(size_t, x->spec->n_sections);
        if (!targets)
                return -ENOMEM;
        size_t nt = section_targets(x->spec, name, pkg, targets);
        if (nt == 0)
                return section_missing(x, i, name, pkg);
        for (size_t k = nt; k > 0; k--) {
                const SpecSection *sec = &x->spec->sections[targets[k - 1]];
                size_t at = o->type == OVERLAY_SPEC_PREPEND_LINES ? sec->begin
                                                                  : spec_section_append_point(x->spec, targets[k - 1]);
                r = spec_insert_lines(x->spec, at, lines, o->lines.n);
                if (r < 0)
                        return r;
        }
        x->spec_changed = true;
        return 0;
}

static int regex_error(Ctx *x, size_t i, int r, const char *where) {
        const Overlay *o = &x->c->overlays.items[i];
        if (r == -ENOMEM)
                return r;
        return overlay_error(x, i, "regex", "regex '%s' gives up on %s (PCRE2's match limit)", o->regex, where);
}

/* spec-search-replace: line by line (as azldev: a match never spans lines),
 * the body of the named sections, or of every section. */
static int op_spec_search_replace(Ctx *x, size_t i) {
        const Overlay *o = &x->c->overlays.items[i];
        Spec *s = x->spec;
        _cleanup_free_ char *name = NULL, *pkg = NULL, *error = NULL;
        _cleanup_free_ bool *in = new0(bool, s->n_lines + 1);
        _cleanup_(regex_release) Regex re = {};
        size_t total = 0;
        bool ok;
        int r;

        if (!in)
                return -ENOMEM;
        if (o->section) {
                r = overlay_section(x, i, &name, &pkg, &ok);
                if (r < 0 || !ok)
                        return r;
                _cleanup_free_ size_t *targets = new0(size_t, s->n_sections);
                if (!targets)
                        return -ENOMEM;
                size_t nt = section_targets(s, name, pkg, targets);
                if (nt == 0)
                        return section_missing(x, i, name, pkg);
                for (size_t k = 0; k < nt; k++)
                        for (size_t j = s->sections[targets[k]].begin; j < s->sections[targets[k]].end; j++)
                                in[j] = true;
        } else
                /* Every line but the section headers: azldev's rule, which
                 * keeps a spec's structure out of reach of a broad regex. */
                for (size_t j = 0; j < s->n_lines; j++)
                        in[j] = s->line_section[j] == 0 || s->sections[s->line_section[j]].header != j;

        r = regex_compile(o->regex, &re, &error);
        if (r == -EINVAL)
                return overlay_error(x, i, "regex", "%s", error);
        if (r < 0)
                return r;

        _cleanup_strbuf_ StrBuf text = STRBUF_INIT;
        for (size_t j = 0; j < s->n_lines; j++) {
                size_t n = 0;
                if (in[j]) {
                        r = regex_replace(&re, s->lines[j].text, s->lines[j].len, o->replacement, &text, &n);
                        if (r < 0)
                                return regex_error(x, i, r, "the spec");
                        total += n;
                } else
                        strbuf_put(&text, s->lines[j].text, s->lines[j].len);
                if (j + 1 < s->n_lines || s->final_newline)
                        strbuf_putc(&text, '\n');
        }
        if (text.oom)
                return -ENOMEM;
        if (total == 0) {
                if (name)
                        return overlay_error(x, i, "regex", "regex '%s' matches nothing in " SECTION_FMT, o->regex,
                                             SECTION_ARGS(name, pkg));
                return overlay_error(x, i, "regex", "regex '%s' matches nothing in the spec", o->regex);
        }
        /* Parsed again: a replacement may hold a newline, or make a line a
         * section header. */
        Spec *n = NULL;
        r = spec_parse(text.buf, text.len, &n);
        if (r < 0)
                return r;
        spec_free(x->spec);
        x->spec = n;
        x->spec_changed = true;
        return 0;
}

static int remove_sections(Ctx *x, size_t i, const char *key, const size_t *targets, size_t nt) {
        Spec *s = x->spec;
        _cleanup_free_ bool *remove = new0(bool, s->n_lines + 1);
        if (!remove)
                return -ENOMEM;
        for (size_t k = 0; k < nt; k++) {
                _cleanup_free_ char *reason = NULL;
                size_t b, e;
                int r = spec_section_removal_range(s, targets[k], &b, &e, &reason);
                if (r == -EBADMSG)
                        return overlay_error(x, i, key, "%s; change the %%if lines with a spec-search-replace "
                                             "overlay first", reason ? reason : "out of memory");
                if (r < 0)
                        return r;
                for (size_t j = b; j < e; j++)
                        remove[j] = true;
        }
        x->spec_changed = true;
        return spec_remove_lines(s, remove);
}

static int op_remove_section(Ctx *x, size_t i) {
        _cleanup_free_ char *name = NULL, *pkg = NULL;
        bool ok;
        int r = overlay_section(x, i, &name, &pkg, &ok);
        if (r < 0 || !ok)
                return r;
        _cleanup_free_ size_t *targets = new0(size_t, x->spec->n_sections);
        if (!targets)
                return -ENOMEM;
        size_t nt = section_targets(x->spec, name, pkg, targets);
        if (nt == 0)
                return section_missing(x, i, name, pkg);
        return remove_sections(x, i, "section", targets, nt);
}

/* Every section of the sub-package: its %package, %description, %files,
 * scriptlets and triggers, each named as the spec names it there (suffix or
 * -n form: azldev's rule). */
static int op_remove_subpackage(Ctx *x, size_t i) {
        const Overlay *o = &x->c->overlays.items[i];
        Spec *s = x->spec;
        _cleanup_free_ size_t *targets = new0(size_t, s->n_sections);
        size_t nt = 0;
        if (!targets)
                return -ENOMEM;
        for (size_t k = 1; k < s->n_sections; k++)
                if (s->sections[k].package && strcmp(s->sections[k].package, o->package) == 0)
                        targets[nt++] = k;
        if (nt == 0)
                return overlay_error(x, i, "package", "no section of the spec belongs to sub-package '%s'", o->package);
        return remove_sections(x, i, "package", targets, nt);
}

/* ---- patches ------------------------------------------------------------------------ */

/* N of a PatchN tag; -1 for a bare Patch tag; -2 for any other tag. */
static long patch_number(const Spec *s, const SpecTag *t) {
        const char *name = s->lines[t->line].text + t->name_start;
        if (t->name_len < 5 || strncasecmp(name, "patch", 5) != 0)
                return -2;
        if (t->name_len == 5)
                return -1;
        long v = 0;
        for (size_t k = 5; k < t->name_len; k++) {
                if (name[k] < '0' || name[k] > '9' || v > 100000000)
                        return -2;
                v = v * 10 + (name[k] - '0');
        }
        return v;
}

static size_t patch_list_targets(const Spec *s, size_t *ret) {
        size_t n = 0;
        for (size_t k = 1; k < s->n_sections; k++)
                if (s->sections[k].type == SPEC_SECTION_FILE_LIST && strcasecmp(s->sections[k].name, "%patchlist") == 0)
                        ret[n++] = k;
        return n;
}

static const char *base_name(const char *p) {
        const char *slash = strrchr(p, '/');
        return slash ? slash + 1 : p;
}

/* A patch reference (a tag's value, a %patchlist line) that the glob
 * matches, as written or by its file name (a URL's last part). */
static bool patch_ref_matches(const char *pattern, const char *text, size_t len) {
        _cleanup_free_ char *v = strndup_nul(text, len);
        return v && (glob_match(pattern, v) || glob_match(pattern, base_name(v)));
}

/* patch-add: the file into the tree (as `file`, else the name of `source`),
 * then registered: at the end of %patchlist if the spec has one, else as
 * PatchN, N one above the highest, placed as spec-insert-tag places it. */
static int op_patch_add(Ctx *x, size_t i) {
        const Overlay *o = &x->c->overlays.items[i];
        const char *name = o->file ? o->file : base_name(o->source), *key = o->file ? "file" : "source";
        _cleanup_free_ char *dest = path_join(x->dir, name), *src = project_path(x->p, o->source), *data = NULL;
        struct stat st;
        size_t size;
        int r;

        if (!dest || !src)
                return -ENOMEM;
        if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return overlay_error(x, i, "source", "'%s' names no file", o->source);
        if (lstat(dest, &st) == 0)
                return overlay_error(x, i, key, "'%s' is already in the sources", name);
        r = read_full_file(src, &data, &size);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return overlay_error(x, i, "source", "cannot read '%s': %s", src, strerror(-r));
        r = write_file_atomic(dest, data, size, 0644);
        if (r < 0)
                return overlay_error(x, i, key, "cannot write '%s': %s", dest, strerror(-r));

        Spec *s = x->spec;
        _cleanup_free_ size_t *targets = new0(size_t, s->n_sections);
        if (!targets)
                return -ENOMEM;
        size_t nt = patch_list_targets(s, targets);
        x->spec_changed = true;
        if (nt > 0) {
                for (size_t k = nt; k > 0; k--) {
                        r = spec_insert_line(s, spec_section_append_point(s, targets[k - 1]), name, strlen(name));
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        /* Bare "Patch:" tags are numbered from 0 by rpm, in order. */
        long highest = -1, bare = 0;
        for (size_t k = 0; k < s->n_tags; k++) {
                long v = patch_number(s, &s->tags[k]);
                if (v >= 0)
                        highest = MAX(highest, v);
                else if (v == -1)
                        bare++;
        }
        highest = MAX(highest, bare - 1);
        char tag[32];
        snprintf(tag, sizeof tag, "Patch%ld", highest + 1);
        size_t main_only = 0, at;
        if (!insert_tag_point(s, &main_only, 1, tag, &at))
                return tag_append(x, &main_only, 1, tag, name, strlen(name));
        _cleanup_free_ char *text = strprintf("%s: %s", tag, name);
        if (!text)
                return -ENOMEM;
        return spec_insert_line(s, at, text, strlen(text));
}

static int tree_error(Ctx *x, size_t i, int r) {
        if (r == -ENOMEM)
                return r;
        return overlay_error(x, i, "file", "cannot read the sources in '%s': %s", x->dir, strerror(-r));
}

static int no_file(Ctx *x, size_t i, const char *pattern) {
        return overlay_error(x, i, "file", "no file in the sources matches '%s'%s", pattern,
                             is_spec_file(pattern) ? " (the spec changes through the spec-* overlays)" : "");
}

/* patch-remove: the PatchN tags (of every package) and %patchlist lines
 * that name a matching file, and the files. Both must match something. */
static int op_patch_remove(Ctx *x, size_t i) {
        const Overlay *o = &x->c->overlays.items[i];
        Spec *s = x->spec;
        _cleanup_free_ bool *remove = new0(bool, s->n_lines + 1);
        _cleanup_free_ size_t *targets = new0(size_t, s->n_sections);
        _cleanup_(tree_list_release) TreeList files = {};
        size_t refs = 0;
        int r;

        if (!remove || !targets)
                return -ENOMEM;
        for (size_t k = 0; k < s->n_tags; k++) {
                const SpecTag *t = &s->tags[k];
                if (patch_number(s, t) >= -1 &&
                    patch_ref_matches(o->file, s->lines[t->line].text + t->value_start, t->value_len)) {
                        remove[t->line] = true;
                        refs++;
                }
        }
        size_t nt = patch_list_targets(s, targets);
        for (size_t k = 0; k < nt; k++)
                for (size_t j = s->sections[targets[k]].begin; j < s->sections[targets[k]].end; j++) {
                        const SpecLine *l = &s->lines[j];
                        size_t a = 0, e = l->len;
                        while (a < e && (l->text[a] == ' ' || l->text[a] == '\t'))
                                a++;
                        while (e > a && (l->text[e - 1] == ' ' || l->text[e - 1] == '\t' || l->text[e - 1] == '\r'))
                                e--;
                        if (a < e && l->text[a] != '#' && patch_ref_matches(o->file, l->text + a, e - a)) {
                                remove[j] = true;
                                refs++;
                        }
                }
        if (refs == 0)
                return overlay_error(x, i, "file", "no Patch tag or %%patchlist line of the spec names a file that "
                                     "'%s' matches", o->file);
        r = tree_glob(x, o->file, false, &files);
        if (r < 0)
                return tree_error(x, i, r);
        if (files.n == 0)
                return no_file(x, i, o->file);
        if (!check_not_archive(x, i, &files))
                return 0;
        r = spec_remove_lines(s, remove);
        if (r < 0)
                return r;
        x->spec_changed = true;
        for (size_t k = 0; k < files.n; k++) {
                _cleanup_free_ char *path = path_join(x->dir, files.items[k].path);
                if (!path)
                        return -ENOMEM;
                if (unlink(path) < 0)
                        return overlay_error(x, i, "file", "cannot remove '%s': %s", path, strerror(errno));
        }
        return 0;
}

/* ---- loose files ------------------------------------------------------------------------ */

static int op_file_prepend(Ctx *x, size_t i) {
        const Overlay *o = &x->c->overlays.items[i];
        _cleanup_(tree_list_release) TreeList files = {};
        int r = tree_glob(x, o->file, true, &files);
        if (r < 0)
                return tree_error(x, i, r);
        if (files.n == 0)
                return no_file(x, i, o->file);
        if (!check_not_archive(x, i, &files))
                return 0;
        for (size_t k = 0; k < files.n; k++) {
                _cleanup_free_ char *path = path_join(x->dir, files.items[k].path), *data = NULL;
                _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
                size_t size;
                if (!path)
                        return -ENOMEM;
                r = read_full_file(path, &data, &size);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return overlay_error(x, i, "file", "cannot read '%s': %s", path, strerror(-r));
                for (size_t j = 0; j < o->lines.n; j++) {
                        strbuf_puts(&b, o->lines.items[j]);
                        strbuf_putc(&b, '\n');
                }
                strbuf_put(&b, data, size);
                if (b.oom)
                        return -ENOMEM;
                r = write_keeping_mode(path, b.buf, b.len);
                if (r < 0)
                        return overlay_error(x, i, "file", "cannot write '%s': %s", path, strerror(-r));
        }
        return 0;
}

static int op_file_search_replace(Ctx *x, size_t i) {
        const Overlay *o = &x->c->overlays.items[i];
        _cleanup_(tree_list_release) TreeList files = {};
        _cleanup_(regex_release) Regex re = {};
        _cleanup_free_ char *error = NULL;
        size_t changed = 0;
        int r;

        r = regex_compile(o->regex, &re, &error);
        if (r == -EINVAL)
                return overlay_error(x, i, "regex", "%s", error);
        if (r < 0)
                return r;
        r = tree_glob(x, o->file, true, &files);
        if (r < 0)
                return tree_error(x, i, r);
        if (files.n == 0)
                return no_file(x, i, o->file);
        if (!check_not_archive(x, i, &files))
                return 0;
        for (size_t k = 0; k < files.n; k++) {
                _cleanup_free_ char *path = path_join(x->dir, files.items[k].path), *data = NULL;
                _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
                size_t size, n = 0;
                if (!path)
                        return -ENOMEM;
                r = read_full_file(path, &data, &size);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return overlay_error(x, i, "file", "cannot read '%s': %s", path, strerror(-r));
                r = regex_replace(&re, data, size, o->replacement, &b, &n);
                if (r < 0)
                        return regex_error(x, i, r, files.items[k].path);
                if (n == 0)
                        continue;
                r = write_keeping_mode(path, b.buf ? b.buf : "", b.len);
                if (r < 0)
                        return overlay_error(x, i, "file", "cannot write '%s': %s", path, strerror(-r));
                changed++;
        }
        if (changed == 0) {
                if (files.n == 1)
                        return overlay_error(x, i, "regex", "regex '%s' matches nothing in '%s'", o->regex,
                                             files.items[0].path);
                return overlay_error(x, i, "regex", "regex '%s' matches nothing in the %zu files '%s' matches",
                                     o->regex, files.n, o->file);
        }
        return 0;
}

static int op_file_add(Ctx *x, size_t i) {
        const Overlay *o = &x->c->overlays.items[i];
        _cleanup_free_ char *dest = path_join(x->dir, o->file), *src = project_path(x->p, o->source), *data = NULL;
        struct stat st;
        size_t size;
        int r;

        if (!dest || !src)
                return -ENOMEM;
        if (lstat(dest, &st) == 0)
                return overlay_error(x, i, "file", "'%s' is already in the sources", o->file);
        if (is_spec_file(o->file))
                return overlay_error(x, i, "file", "'%s' would be a second spec", o->file);
        if (stat(src, &st) < 0)
                return overlay_error(x, i, "source", "cannot read '%s': %s", src, strerror(errno));
        r = read_full_file(src, &data, &size);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return overlay_error(x, i, "source", "cannot read '%s': %s", src, strerror(-r));
        /* Modes as git records them: what the project's checkout has does
         * not depend on its umask then. */
        r = write_file_atomic(dest, data, size, st.st_mode & 0100 ? 0755 : 0644);
        if (r < 0)
                return overlay_error(x, i, "file", "cannot write '%s': %s", dest, strerror(-r));
        return 0;
}

static int op_file_remove(Ctx *x, size_t i) {
        const Overlay *o = &x->c->overlays.items[i];
        _cleanup_(tree_list_release) TreeList files = {};
        int r = tree_glob(x, o->file, false, &files);
        if (r < 0)
                return tree_error(x, i, r);
        if (files.n == 0)
                return no_file(x, i, o->file);
        if (!check_not_archive(x, i, &files))
                return 0;
        for (size_t k = 0; k < files.n; k++) {
                _cleanup_free_ char *path = path_join(x->dir, files.items[k].path);
                if (!path)
                        return -ENOMEM;
                if (unlink(path) < 0)
                        return overlay_error(x, i, "file", "cannot remove '%s': %s", path, strerror(errno));
        }
        return 0;
}

static int op_file_rename(Ctx *x, size_t i) {
        const Overlay *o = &x->c->overlays.items[i];
        _cleanup_(tree_list_release) TreeList files = {};
        struct stat st;
        int r = tree_glob(x, o->file, false, &files);
        if (r < 0)
                return tree_error(x, i, r);
        if (files.n == 0)
                return no_file(x, i, o->file);
        if (files.n > 1)
                return overlay_error(x, i, "file", "'%s' matches %zu files ('%s', '%s'%s); file-rename renames one",
                                     o->file, files.n, files.items[0].path, files.items[1].path,
                                     files.n > 2 ? ", ..." : "");
        if (!check_not_archive(x, i, &files))
                return 0;
        const char *from_rel = files.items[0].path, *slash = strrchr(from_rel, '/');
        _cleanup_free_ char *to_rel = slash ? strprintf("%.*s/%s", (int) (slash - from_rel), from_rel, o->replacement)
                                            : strdup(o->replacement);
        if (!to_rel)
                return -ENOMEM;
        _cleanup_free_ char *from = path_join(x->dir, from_rel), *to = path_join(x->dir, to_rel);
        if (!from || !to)
                return -ENOMEM;
        if (lstat(to, &st) == 0)
                return overlay_error(x, i, "replacement", "'%s' is already in the sources", to_rel);
        if (is_spec_file(to_rel))
                return overlay_error(x, i, "replacement", "'%s' would be a second spec", to_rel);
        if (rename(from, to) < 0)
                return overlay_error(x, i, "file", "cannot rename '%s' to '%s': %s", from_rel, to_rel,
                                     strerror(errno));
        return 0;
}

/* ---- archives ----------------------------------------------------------------------------- */

typedef struct ArcEntry {
        char *path;      /* as the archive names it */
        const char *rel; /* in path: relative to the extraction root; NULL for the root itself */
        unsigned type;   /* AE_IFREG, AE_IFDIR or AE_IFLNK */
        bool removed;
        bool *edits;     /* per overlay of the batch: its file-search-replace applies here; NULL: none does */
} ArcEntry;

typedef struct ArcList {
        ArcEntry *items;
        size_t n, allocated;
        int filter;   /* ARCHIVE_FILTER_* of the compression */
        bool gnu;     /* written by GNU tar in its own format: written back so */
} ArcList;

static void arc_list_release(ArcList *l) {
        for (size_t i = 0; i < l->n; i++) {
                free(l->items[i].path);
                free(l->items[i].edits);
        }
        free(l->items);
        *l = (ArcList) {};
}

static void archive_read_freep(struct archive **a) {
        if (*a)
                archive_read_free(*a);
}

static void archive_write_freep(struct archive **a) {
        if (*a)
                archive_write_free(*a);
}

/* Tar, plain or compressed with gzip, xz, bzip2 or zstd, each named:
 * libarchive is linked statically, and support_filter_all() would pull in
 * filters whose libraries slipway does not link. */
static int arc_open(const char *path, struct archive **ret, char **ret_error) {
        struct archive *a = archive_read_new();
        if (!a)
                return -ENOMEM;
        if (archive_read_support_filter_gzip(a) < ARCHIVE_WARN || archive_read_support_filter_xz(a) < ARCHIVE_WARN ||
            archive_read_support_filter_bzip2(a) < ARCHIVE_WARN || archive_read_support_filter_zstd(a) < ARCHIVE_WARN ||
            archive_read_support_format_tar(a) != ARCHIVE_OK || archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
                *ret_error = strprintf("%s", archive_error_string(a) ? archive_error_string(a) : "cannot be opened");
                archive_read_free(a);
                return -EBADMSG;
        }
        *ret = a;
        return 0;
}

static const char *arc_norm(const char *p) {
        for (;;) {
                if (p[0] == '/')
                        p++;
                else if (p[0] == '.' && p[1] == '/')
                        p += 2;
                else
                        return p;
        }
}

/* Pass one: the entries (names and types) and the compression; and where
 * the extraction root is: the one top-level directory if there is exactly
 * one (the usual NAME-VERSION/), else the top of the archive. */
static int arc_scan(const char *path, ArcList *l, char **ret_error) {
        _cleanup_(archive_read_freep) struct archive *a = NULL;
        struct archive_entry *e;
        int r = arc_open(path, &a, ret_error);
        if (r < 0)
                return r;
        while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
                const char *p = archive_entry_pathname(e);
                unsigned t = archive_entry_filetype(e);
                if (!p) {
                        *ret_error = strprintf("entry %zu has no name slipway can read", l->n + 1);
                        return -EBADMSG;
                }
                if (archive_entry_hardlink(e)) {
                        *ret_error = strprintf("'%s' is a hard link; only regular files, directories and symbolic "
                                               "links can be repacked", p);
                        return -EBADMSG;
                }
                if (t != AE_IFREG && t != AE_IFDIR && t != AE_IFLNK) {
                        *ret_error = strprintf("'%s' is a device, FIFO or socket; only regular files, directories and "
                                               "symbolic links can be repacked", p);
                        return -EBADMSG;
                }
                if (archive_format(a) == ARCHIVE_FORMAT_TAR_GNUTAR)
                        l->gnu = true;
                if (!GREEDY_REALLOC(l->items, l->allocated, l->n + 1))
                        return -ENOMEM;
                l->items[l->n] = (ArcEntry) { .path = strdup(p), .type = t };
                if (!l->items[l->n].path)
                        return -ENOMEM;
                l->n++;
        }
        if (r != ARCHIVE_EOF) {
                *ret_error = strprintf("%s", archive_error_string(a) ? archive_error_string(a) : "cannot be read");
                return -EBADMSG;
        }
        l->filter = archive_filter_code(a, 0);
        if (archive_filter_count(a) > 2 ||
            (l->filter != ARCHIVE_FILTER_NONE && l->filter != ARCHIVE_FILTER_GZIP && l->filter != ARCHIVE_FILTER_XZ &&
             l->filter != ARCHIVE_FILTER_BZIP2 && l->filter != ARCHIVE_FILTER_ZSTD)) {
                *ret_error = strprintf("its compression (%s) is not one slipway repacks (gzip, xz, bzip2, zstd)",
                                       archive_filter_name(a, 0));
                return -EBADMSG;
        }

        const char *root = NULL;
        size_t root_len = 0;
        bool one = l->n > 0;
        for (size_t i = 0; i < l->n && one; i++) {
                const char *n = arc_norm(l->items[i].path);
                if (!*n || strcmp(n, ".") == 0)
                        continue;
                size_t k = strcspn(n, "/");
                if (!root) {
                        root = n;
                        root_len = k;
                } else if (k != root_len || strncmp(n, root, k) != 0)
                        one = false;
                /* A top-level file of that name: not a directory. */
                if (n[k] == 0 && l->items[i].type != AE_IFDIR)
                        one = false;
        }
        if (!root)
                one = false;
        for (size_t i = 0; i < l->n; i++) {
                const char *n = arc_norm(l->items[i].path);
                if (one) {
                        n += root_len;
                        while (*n == '/')
                                n++;
                }
                l->items[i].rel = *n && strcmp(n, ".") != 0 ? n : NULL;
        }
        return 0;
}

static int arc_write_open(const ArcList *l, int fd, struct archive **ret, char **ret_error) {
        _cleanup_(archive_write_freep) struct archive *w = archive_write_new();
        int r;
        if (!w)
                return -ENOMEM;
        r = l->gnu ? archive_write_set_format_gnutar(w) : archive_write_set_format_pax_restricted(w);
        if (r == ARCHIVE_OK)
                switch (l->filter) {
                case ARCHIVE_FILTER_GZIP:
                        /* No time in the gzip header: the same input gives the same bytes. */
                        r = archive_write_add_filter_gzip(w);
                        if (r == ARCHIVE_OK)
                                r = archive_write_set_filter_option(w, "gzip", "timestamp", NULL);
                        break;
                case ARCHIVE_FILTER_XZ:
                        r = archive_write_add_filter_xz(w);
                        break;
                case ARCHIVE_FILTER_BZIP2:
                        r = archive_write_add_filter_bzip2(w);
                        break;
                case ARCHIVE_FILTER_ZSTD:
                        r = archive_write_add_filter_zstd(w);
                        break;
                default:
                        break;
                }
        if (r == ARCHIVE_OK)
                r = archive_write_open_fd(w, fd);
        if (r != ARCHIVE_OK) {
                *ret_error = strprintf("cannot be written: %s",
                                       archive_error_string(w) ? archive_error_string(w) : "libarchive failed");
                return -EIO;
        }
        *ret = TAKE_PTR(w);
        return 0;
}

/* Reads the data of the current entry into b. */
static int arc_read_data(struct archive *a, StrBuf *b, char **ret_error) {
        char buf[1 << 16];
        la_ssize_t k;
        while ((k = archive_read_data(a, buf, sizeof buf)) > 0) {
                if (b->len + (size_t) k > ARCHIVE_EDIT_MAX) {
                        *ret_error = strprintf("a file to edit is larger than %zu MiB", ARCHIVE_EDIT_MAX >> 20);
                        return -EFBIG;
                }
                if (strbuf_put(b, buf, (size_t) k) < 0)
                        return -ENOMEM;
        }
        if (k < 0) {
                *ret_error = strprintf("%s", archive_error_string(a) ? archive_error_string(a) : "cannot be read");
                return -EBADMSG;
        }
        return 0;
}

/* Pass two: every entry again, in order, with its header as it was (only
 * the size of an edited file changes), but for removed ones; edited files
 * through their search-replace overlays, in order. applied[j]: overlay j
 * (of the batch) replaced something. */
static int arc_repack(const char *path, ArcList *l, Regex *res, const Overlay *const *ovs, size_t nb, bool *applied,
                      int fd, char **ret_error) {
        _cleanup_(archive_read_freep) struct archive *a = NULL;
        _cleanup_(archive_write_freep) struct archive *w = NULL;
        struct archive_entry *e;
        size_t idx = 0;
        int r;

        r = arc_open(path, &a, ret_error);
        if (r < 0)
                return r;
        r = arc_write_open(l, fd, &w, ret_error);
        if (r < 0)
                return r;
        while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
                const char *p = archive_entry_pathname(e);
                if (idx >= l->n || !p || strcmp(p, l->items[idx].path) != 0) {
                        *ret_error = strprintf("changed while it was read");
                        return -EBADMSG;
                }
                ArcEntry *ent = &l->items[idx++];
                _cleanup_strbuf_ StrBuf data = STRBUF_INIT;
                if (ent->edits) {
                        r = arc_read_data(a, &data, ret_error);
                        if (r < 0)
                                return r;
                        for (size_t j = 0; j < nb; j++) {
                                _cleanup_strbuf_ StrBuf out = STRBUF_INIT;
                                size_t n = 0;
                                if (!ent->edits[j])
                                        continue;
                                r = regex_replace(&res[j], data.buf ? data.buf : "", data.len, ovs[j]->replacement, &out,
                                                  &n);
                                if (r == -E2BIG) {
                                        *ret_error = strprintf("regex '%s' gives up on '%s' (PCRE2's match limit)",
                                                               ovs[j]->regex, ent->rel);
                                        return -EBADMSG;
                                }
                                if (r < 0)
                                        return r;
                                if (n > 0) {
                                        applied[j] = true;
                                        strbuf_release(&data);
                                        data = out;
                                        out = STRBUF_INIT;
                                }
                        }
                }
                if (ent->removed)
                        continue;
                /* Holes are read as zeros and written as data. */
                archive_entry_sparse_clear(e);
                if (ent->edits)
                        archive_entry_set_size(e, (la_int64_t) data.len);
                if (archive_write_header(w, e) != ARCHIVE_OK)
                        goto write_error;
                if (ent->edits) {
                        if (data.len > 0 && archive_write_data(w, data.buf, data.len) != (la_ssize_t) data.len)
                                goto write_error;
                } else if (ent->type == AE_IFREG) {
                        char buf[1 << 16];
                        la_ssize_t k;
                        while ((k = archive_read_data(a, buf, sizeof buf)) > 0)
                                if (archive_write_data(w, buf, (size_t) k) != k)
                                        goto write_error;
                        if (k < 0) {
                                *ret_error = strprintf("%s", archive_error_string(a) ? archive_error_string(a)
                                                                                     : "cannot be read");
                                return -EBADMSG;
                        }
                }
        }
        if (r != ARCHIVE_EOF || idx != l->n) {
                *ret_error = strprintf("%s", archive_error_string(a) ? archive_error_string(a) : "cannot be read");
                return -EBADMSG;
        }
        if (archive_write_close(w) != ARCHIVE_OK)
                goto write_error;
        return 0;

write_error:
        *ret_error = strprintf("cannot be written: %s",
                               archive_error_string(w) ? archive_error_string(w) : "libarchive failed");
        return -EIO;
}

/* The archive overlays ovl[0..nb) (file-remove and file-search-replace
 * with the same archive), in one read and one repack; res[j]: the regex of
 * overlay j, compiled here. */
static int archive_batch_regexes(Ctx *x, const size_t *ovl, size_t nb, Regex *res) {
        const char *name = x->c->overlays.items[ovl[0]].archive;
        _cleanup_(arc_list_release) ArcList l = {};
        _cleanup_free_ char *path = NULL, *error = NULL, *tmp = NULL;
        _cleanup_free_ const Overlay **ovs = new0(const Overlay *, nb);
        _cleanup_free_ bool *applied = new0(bool, nb);
        _cleanup_close_ int fd = -EBADF;
        size_t errors = x->n_errors;
        struct stat st;
        int r;

        if (!ovs || !applied)
                return -ENOMEM;
        if (name[0] == '/' || strcmp(name, "..") == 0 || strncmp(name, "../", 3) == 0 || strstr(name, "/../") ||
            (strlen(name) >= 3 && strcmp(name + strlen(name) - 3, "/..") == 0))
                return overlay_error(x, ovl[0], "archive", "'%s' must be relative to the sources, without '..'", name);
        path = path_join(x->dir, name);
        if (!path)
                return -ENOMEM;
        if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
                return overlay_error(x, ovl[0], "archive", "archive '%s' is not in the sources", name);

        r = arc_scan(path, &l, &error);
        if (r == -EBADMSG)
                return overlay_error(x, ovl[0], "archive", "archive '%s': %s", name, error ? error : "out of memory");
        if (r < 0)
                return r;

        for (size_t j = 0; j < nb; j++) {
                const Overlay *o = ovs[j] = &x->c->overlays.items[ovl[j]];
                size_t matched = 0;
                if (o->type == OVERLAY_FILE_SEARCH_REPLACE) {
                        _cleanup_free_ char *e = NULL;
                        r = regex_compile(o->regex, &res[j], &e);
                        if (r == -EINVAL) {
                                overlay_error(x, ovl[j], "regex", "%s", e);
                                continue;
                        }
                        if (r < 0)
                                return r;
                }
                for (size_t k = 0; k < l.n; k++) {
                        ArcEntry *ent = &l.items[k];
                        if (ent->removed || !ent->rel || ent->type == AE_IFDIR || !glob_match(o->file, ent->rel))
                                continue;
                        if (o->type == OVERLAY_FILE_REMOVE) {
                                ent->removed = true;
                                matched++;
                        } else if (ent->type == AE_IFREG) {
                                if (!ent->edits && !(ent->edits = new0(bool, nb)))
                                        return -ENOMEM;
                                ent->edits[j] = true;
                                matched++;
                        }
                }
                if (matched == 0)
                        overlay_error(x, ovl[j], "file", "no file in archive '%s' matches '%s'", name, o->file);
        }
        if (x->n_errors > errors)
                return 0;

        fd = tmpfile_open(path, &tmp);
        if (fd < 0)
                return fd;
        r = arc_repack(path, &l, res, ovs, nb, applied, fd, &error);
        if (r == -EBADMSG || r == -EIO || r == -EFBIG) {
                overlay_error(x, ovl[0], "archive", "archive '%s': %s", name, error ? error : "out of memory");
                r = 0;
        }
        if (r >= 0)
                for (size_t j = 0; j < nb; j++)
                        if (ovs[j]->type == OVERLAY_FILE_SEARCH_REPLACE && !applied[j])
                                overlay_error(x, ovl[j], "regex", "regex '%s' matches nothing in the files of archive "
                                              "'%s' that '%s' matches", ovs[j]->regex, name, ovs[j]->file);
        /* Only a whole success replaces the archive. */
        r = tmpfile_commit_unsynced(r < 0 ? r : x->n_errors > errors ? -ECANCELED : 0, fd, tmp, path,
                                    st.st_mode & 07777);
        if (r == -ECANCELED)
                return 0;
        if (r < 0 && r != -ENOMEM)
                return overlay_error(x, ovl[0], "archive", "archive '%s' cannot be replaced: %s", name, strerror(-r));
        return r;
}

static int archive_batch(Ctx *x, const size_t *ovl, size_t nb) {
        Regex *res = new0(Regex, nb);
        if (!res)
                return -ENOMEM;
        int r = archive_batch_regexes(x, ovl, nb, res);
        for (size_t j = 0; j < nb; j++)
                regex_release(&res[j]);
        free(res);
        return r;
}

/* ---- the whole ------------------------------------------------------------------------------- */

static int apply_one(Ctx *x, size_t i) {
        switch (x->c->overlays.items[i].type) {
        case OVERLAY_SPEC_ADD_TAG:
        case OVERLAY_SPEC_INSERT_TAG:
        case OVERLAY_SPEC_SET_TAG:
        case OVERLAY_SPEC_UPDATE_TAG:
        case OVERLAY_SPEC_REMOVE_TAG:
                return op_tag(x, i);
        case OVERLAY_SPEC_PREPEND_LINES:
        case OVERLAY_SPEC_APPEND_LINES:
                return op_lines(x, i);
        case OVERLAY_SPEC_SEARCH_REPLACE:
                return op_spec_search_replace(x, i);
        case OVERLAY_SPEC_REMOVE_SECTION:
                return op_remove_section(x, i);
        case OVERLAY_SPEC_REMOVE_SUBPACKAGE:
                return op_remove_subpackage(x, i);
        case OVERLAY_PATCH_ADD:
                return op_patch_add(x, i);
        case OVERLAY_PATCH_REMOVE:
                return op_patch_remove(x, i);
        case OVERLAY_FILE_PREPEND_LINES:
                return op_file_prepend(x, i);
        case OVERLAY_FILE_SEARCH_REPLACE:
                return op_file_search_replace(x, i);
        case OVERLAY_FILE_ADD:
                return op_file_add(x, i);
        case OVERLAY_FILE_REMOVE:
                return op_file_remove(x, i);
        case OVERLAY_FILE_RENAME:
                return op_file_rename(x, i);
        default:
                return -EINVAL;
        }
}

/* check-skip: 'exit 0' first in every %check (none is made). */
static int check_skip(Ctx *x) {
        Spec *s = x->spec;
        for (size_t k = s->n_sections; k > 1; k--) {
                const SpecSection *sec = &s->sections[k - 1];
                if (sec->type != SPEC_SECTION_SCRIPT || strcasecmp(sec->name, "%check") != 0)
                        continue;
                int r = spec_insert_line(s, sec->begin, "exit 0", 6);
                if (r < 0)
                        return r;
                x->spec_changed = true;
        }
        return 0;
}

int overlays_apply(const Project *p, const Component *c, const char *dir, const char *spec_name, Diagnostics *d) {
        const OverlayArray *ov = &c->overlays;
        Ctx x = { .p = p, .c = c, .dir = dir, .d = d };
        _cleanup_free_ char *spec_path = NULL, *data = NULL;
        _cleanup_free_ bool *done = NULL;
        _cleanup_free_ size_t *batch = NULL;
        struct stat st;
        size_t size;
        int r;

        if (ov->n == 0 && !c->check_skip)
                return 0;
        spec_path = path_join(dir, spec_name);
        done = new0(bool, ov->n);
        batch = new0(size_t, ov->n);
        if (!spec_path || !done || !batch)
                return -ENOMEM;
        r = read_full_file(spec_path, &data, &size);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || stat(spec_path, &st) < 0) {
                diag_error(d, &c->obj.pos, "component '%s': cannot read the spec '%s': %s", c->name, spec_name,
                           strerror(r < 0 ? -r : errno));
                return -EINVAL;
        }
        r = spec_parse(data, size, &x.spec);
        if (r < 0)
                return r;

        /* Archives first, each once, with its overlays in their order. */
        for (size_t i = 0; i < ov->n && r >= 0; i++) {
                size_t nb = 0;
                if (!ov->items[i].archive || done[i])
                        continue;
                for (size_t j = i; j < ov->n; j++)
                        if (ov->items[j].archive && strcmp(ov->items[j].archive, ov->items[i].archive) == 0) {
                                done[j] = true;
                                batch[nb++] = j;
                        }
                r = archive_batch(&x, batch, nb);
        }
        for (size_t i = 0; i < ov->n && r >= 0; i++)
                if (!ov->items[i].archive)
                        r = apply_one(&x, i);
        if (r >= 0 && c->check_skip)
                r = check_skip(&x);
        if (r >= 0 && x.spec_changed) {
                _cleanup_strbuf_ StrBuf out = STRBUF_INIT;
                r = spec_render(x.spec, &out);
                if (r >= 0)
                        r = write_file_atomic(spec_path, out.buf ? out.buf : "", out.len, st.st_mode & 07777);
                if (r < 0 && r != -ENOMEM) {
                        diag_error(d, &c->obj.pos, "component '%s': cannot write the spec '%s': %s", c->name,
                                   spec_path, strerror(-r));
                        x.n_errors++;
                        r = 0;
                }
        }
        spec_free(x.spec);
        if (r < 0)
                return r;
        return x.n_errors > 0 ? -EINVAL : 0;
}

/* ---- Release ------------------------------------------------------------------------------------ */

static bool uses_autorelease(const char *v, size_t n) {
        static const char word[] = "autorelease";
        for (size_t i = 0; i + sizeof word - 1 <= n; i++) {
                if (memcmp(v + i, word, sizeof word - 1) != 0)
                        continue;
                if ((i >= 1 && v[i - 1] == '%') || (i >= 2 && memcmp(v + i - 2, "%{", 2) == 0) ||
                    (i >= 3 && memcmp(v + i - 3, "%{?", 3) == 0))
                        return true;
        }
        return false;
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool is_ident(char c) {
        return is_digit(c) || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The line and span of a "%global NAME VALUE" or "%define NAME VALUE"
 * before line `before` (the last one), for a Release written as "%{NAME}..."
 * or "%NAME...". */
static bool release_macro(const Spec *s, const char *v, size_t n, size_t before, size_t *ret_line, size_t *ret_start,
                          size_t *ret_len) {
        size_t a, e;
        if (n >= 3 && v[0] == '%' && v[1] == '{') {
                a = 2;
                for (e = a; e < n && is_ident(v[e]); e++)
                        ;
                if (e == n || v[e] != '}')
                        return false;
        } else if (n >= 2 && v[0] == '%') {
                a = 1;
                for (e = a; e < n && is_ident(v[e]); e++)
                        ;
        } else
                return false;
        if (e == a)
                return false;
        for (size_t i = before; i > 0; i--) {
                const SpecLine *l = &s->lines[i - 1];
                size_t p = 0;
                while (p < l->len && (l->text[p] == ' ' || l->text[p] == '\t'))
                        p++;
                size_t w = p;
                while (w < l->len && l->text[w] != ' ' && l->text[w] != '\t')
                        w++;
                if (!((w - p == 7 && memcmp(l->text + p, "%global", 7) == 0) ||
                      (w - p == 7 && memcmp(l->text + p, "%define", 7) == 0)))
                        continue;
                while (w < l->len && (l->text[w] == ' ' || l->text[w] == '\t'))
                        w++;
                size_t ne = w;
                while (ne < l->len && is_ident(l->text[ne]))
                        ne++;
                if (ne - w != e - a || memcmp(l->text + w, v + a, e - a) != 0 ||
                    (ne < l->len && l->text[ne] != ' ' && l->text[ne] != '\t'))
                        continue;
                size_t vs = ne;
                while (vs < l->len && (l->text[vs] == ' ' || l->text[vs] == '\t'))
                        vs++;
                size_t ve = l->len;
                while (ve > vs && (l->text[ve - 1] == ' ' || l->text[ve - 1] == '\t' || l->text[ve - 1] == '\r'))
                        ve--;
                *ret_line = i - 1;
                *ret_start = vs;
                *ret_len = ve - vs;
                return true;
        }
        return false;
}

/* The line with the leading number of its span [start, start+len) changed. */
static int release_edit(const SpecLine *l, size_t start, size_t len, ReleaseMode mode, const char *suffix, StrBuf *out) {
        const char *v = l->text + start;
        size_t k = 0;
        while (k < len && is_digit(v[k]))
                k++;
        strbuf_put(out, l->text, start);
        if (mode == RELEASE_BUMP) {
                /* In decimal, so that no number is too long. */
                _cleanup_free_ char *num = strndup_nul(v, k);
                if (!num)
                        return -ENOMEM;
                size_t j = k;
                while (j > 0 && num[j - 1] == '9')
                        num[--j] = '0';
                if (j == 0)
                        strbuf_putc(out, '1');
                else
                        num[j - 1]++;
                strbuf_put(out, num, k);
        } else {
                /* After the number and its dotted parts: "0.5.rc1" -> "0.5" SUFFIX ".rc1". */
                while (k + 1 < len && v[k] == '.' && is_digit(v[k + 1])) {
                        k++;
                        while (k < len && is_digit(v[k]))
                                k++;
                }
                strbuf_put(out, v, k);
                strbuf_puts(out, suffix);
        }
        strbuf_put(out, v + k, l->len - start - k);
        return out->oom ? -ENOMEM : 0;
}

int spec_release_apply(StrBuf *spec, ReleaseMode mode, const char *suffix, char **ret_error) {
        _cleanup_(spec_freep) Spec *s = NULL;
        _cleanup_free_ size_t *lines = NULL;
        _cleanup_free_ bool *done = NULL;
        size_t n = 0;
        int r;

        if (mode == RELEASE_NONE)
                return 0;
        if ((mode != RELEASE_BUMP && mode != RELEASE_SUFFIX) ||
            (mode == RELEASE_SUFFIX && (!suffix || !*suffix || strchr(suffix, '\n'))))
                return -EINVAL;
        r = spec_parse(spec->buf ? spec->buf : "", spec->len, &s);
        if (r < 0)
                return r;
        lines = new0(size_t, s->n_tags + 1);
        done = new0(bool, s->n_lines + 1);
        if (!lines || !done)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_tags; i++)
                if (s->tags[i].section == 0 && spec_tag_is(s, &s->tags[i], "Release"))
                        lines[n++] = s->tags[i].line;
        if (n == 0) {
                *ret_error = strprintf("the spec has no Release tag: set release-mode = \"none\", or add one with a "
                                       "spec-set-tag overlay");
                return -EBADMSG;
        }

        /* Every Release of the main package (one per %if branch, if so). */
        for (size_t i = 0; i < n; i++) {
                const SpecTag *t = tag_at_line(s, lines[i]);
                if (!t)
                        return -EINVAL;
                const char *v = s->lines[t->line].text + t->value_start;
                size_t vlen = t->value_len, line = t->line, start = t->value_start, len = t->value_len;
                if (uses_autorelease(v, vlen)) {
                        *ret_error = strprintf("Release '%.*s' comes from %%autorelease, which slipway does not "
                                               "change: set release-mode = \"none\" (and set Release with a "
                                               "spec-set-tag overlay if it must differ)",
                                               (int) vlen, v);
                        return -EBADMSG;
                }
                if (vlen == 0 || !is_digit(v[0])) {
                        bool ok = release_macro(s, v, vlen, t->line, &line, &start, &len) &&
                                  len > 0 && is_digit(s->lines[line].text[start]);
                        if (!ok) {
                                *ret_error = strprintf("Release '%.*s' does not start with a number: set release-mode "
                                                       "= \"none\", or set Release with a spec-set-tag overlay",
                                                       (int) vlen, v);
                                return -EBADMSG;
                        }
                }
                if (done[line])
                        continue;
                done[line] = true;
                _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
                r = release_edit(&s->lines[line], start, len, mode, suffix, &b);
                if (r < 0)
                        return r;
                r = spec_replace_line(s, line, b.buf, b.len);
                if (r < 0)
                        return r;
        }

        StrBuf out = STRBUF_INIT;
        r = spec_render(s, &out);
        if (r < 0) {
                strbuf_release(&out);
                return r;
        }
        strbuf_release(spec);
        *spec = out;
        return 0;
}
