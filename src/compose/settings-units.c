/* SPDX-License-Identifier: MIT */

/* Image settings: services enabled and disabled as `systemctl enable` and
 * `disable` do, from each unit's [Install] section (systemd.unit(5),
 * "[Install] Section Options": WantedBy=, RequiredBy=, Alias=, Also=,
 * DefaultInstance=): symlinks below /etc/systemd/system. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/strbuf.h"
#include "compose/settings-internal.h"

/* ---- services ---- */

static const char *const unit_dirs[] = {
        "/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system", NULL,
};

/* The unit file for name (a template's for an instance "a@b.service"), as
 * an absolute path the way systemctl links it. */
static int find_unit(const Tree *t, const char *name, char **ret_path, char **ret_template) {
        _cleanup_free_ char *tmpl = NULL;
        const char *at = strchr(name, '@'), *dot = strrchr(name, '.');
        if (at && dot && at + 1 < dot) {
                if (asprintf(&tmpl, "%.*s%s", (int) (at - name + 1), name, dot) < 0)
                        return -ENOMEM;
        }
        for (size_t i = 0; unit_dirs[i]; i++)
                for (int k = 0; k < 2; k++) {
                        const char *n = k == 0 ? name : tmpl;
                        if (!n)
                                continue;
                        _cleanup_free_ char *p = path_join(unit_dirs[i], n), *rp = NULL;
                        if (!p)
                                return -ENOMEM;
                        if (tree_resolve(t, p, &rp) < 0)
                                continue;
                        const TreeNode *node = tree_get(t, rp);
                        /* A symlink in /etc/systemd/system may be an alias or a mask. */
                        if (!node || (node->type != TREE_REG && node->type != TREE_SYMLINK))
                                continue;
                        if (node->type == TREE_SYMLINK && strcmp(node->target, "/dev/null") == 0)
                                return -ESHUTDOWN; /* masked */
                        *ret_path = TAKE_PTR(p);
                        *ret_template = k == 1 ? TAKE_PTR(tmpl) : NULL;
                        return 0;
                }
        return -ENOENT;
}

typedef struct InstallSection {
        StrBuf wanted_by, required_by, alias, also; /* space-separated */
        char *default_instance;
} InstallSection;

static void install_section_release(InstallSection *s) {
        strbuf_release(&s->wanted_by);
        strbuf_release(&s->required_by);
        strbuf_release(&s->alias);
        strbuf_release(&s->also);
        free(s->default_instance);
}

static int parse_install(const char *text, InstallSection *s) {
        bool in = false;
        for (const char *l = text, *e; *l; l = e) {
                e = strchrnul(l, '\n');
                size_t len = (size_t) (e - l);
                if (*e)
                        e++;
                while (len && (l[0] == ' ' || l[0] == '\t'))
                        l++, len--;
                while (len && (l[len - 1] == ' ' || l[len - 1] == '\t' || l[len - 1] == '\r'))
                        len--;
                if (len == 0 || l[0] == '#' || l[0] == ';')
                        continue;
                if (l[0] == '[') {
                        in = len == 9 && strncmp(l, "[Install]", 9) == 0;
                        continue;
                }
                if (!in)
                        continue;
                const char *eq = memchr(l, '=', len);
                if (!eq)
                        continue;
                size_t kl = (size_t) (eq - l);
                while (kl && (l[kl - 1] == ' ' || l[kl - 1] == '\t'))
                        kl--;
                const char *v = eq + 1;
                size_t vl = len - (size_t) (v - l);
                while (vl && (*v == ' ' || *v == '\t'))
                        v++, vl--;
                StrBuf *dst = NULL;
                if (kl == 8 && strncmp(l, "WantedBy", 8) == 0)
                        dst = &s->wanted_by;
                else if (kl == 10 && strncmp(l, "RequiredBy", 10) == 0)
                        dst = &s->required_by;
                else if (kl == 5 && strncmp(l, "Alias", 5) == 0)
                        dst = &s->alias;
                else if (kl == 4 && strncmp(l, "Also", 4) == 0)
                        dst = &s->also;
                else if (kl == 15 && strncmp(l, "DefaultInstance", 15) == 0) {
                        free(s->default_instance);
                        s->default_instance = strndup(v, vl);
                        if (!s->default_instance)
                                return -ENOMEM;
                        continue;
                } else
                        continue;
                if (vl == 0) { /* an empty assignment resets the list */
                        strbuf_release(dst);
                        continue;
                }
                strbuf_putc(dst, ' ');
                strbuf_put(dst, v, vl);
                if (dst->oom)
                        return -ENOMEM;
        }
        return 0;
}

/* Calls fn for each space-separated word. */
static int for_words(const StrBuf *sb, int (*fn)(void *ud, const char *w), void *ud) {
        if (!sb->buf)
                return 0;
        const char *s = sb->buf;
        while (*s) {
                s += strspn(s, " \t");
                size_t l = strcspn(s, " \t");
                if (l == 0)
                        break;
                _cleanup_free_ char *w = strndup(s, l);
                if (!w)
                        return -ENOMEM;
                int r = fn(ud, w);
                if (r < 0)
                        return r;
                s += l;
        }
        return 0;
}

typedef struct EnableCtx {
        Tree *t;
        const char *unit;   /* the name enabled (an instance for templates) */
        const char *target; /* the unit file the links point at */
        const char *suffix; /* ".wants" / ".requires" */
        int64_t mtime;
} EnableCtx;

static int link_into(void *ud, const char *dep) {
        EnableCtx *c = ud;
        _cleanup_free_ char *p = NULL;
        if (strchr(dep, '/'))
                return 0; /* not a unit name */
        if (asprintf(&p, "/etc/systemd/system/%s%s/%s", dep, c->suffix, c->unit) < 0)
                return -ENOMEM;
        TreeNode *n;
        int r = tree_add_symlink(c->t, p, c->target, &n);
        if (r < 0)
                return r;
        n->mtime = c->mtime;
        return 0;
}

static int link_alias(void *ud, const char *alias) {
        EnableCtx *c = ud;
        _cleanup_free_ char *p = NULL;
        if (strchr(alias, '/'))
                return 0;
        if (asprintf(&p, "/etc/systemd/system/%s", alias) < 0)
                return -ENOMEM;
        TreeNode *n;
        int r = tree_add_symlink(c->t, p, c->target, &n);
        if (r < 0)
                return r;
        n->mtime = c->mtime;
        return 0;
}

typedef struct ServiceRun {
        Tree *t;
        const Image *im;
        Diagnostics *d;
        int64_t mtime;
        const SourcePos *pos;
        unsigned depth;
} ServiceRun;

static int enable_unit(ServiceRun *s, const char *name);

static int enable_also(void *ud, const char *w) {
        ServiceRun *s = ud;
        if (s->depth > 8)
                return 0;
        s->depth++;
        int r = enable_unit(s, w);
        s->depth--;
        return r;
}

static int enable_unit(ServiceRun *s, const char *name) {
        _cleanup_free_ char *path = NULL, *tmpl = NULL, *text = NULL, *rp = NULL, *inst = NULL;
        _cleanup_(install_section_release) InstallSection is = {};
        int r = find_unit(s->t, name, &path, &tmpl);
        if (r == -ESHUTDOWN) {
                diag_error(s->d, s->pos, "image '%s': service '%s' is masked in the image; it cannot be enabled",
                           s->im->name, name);
                return -EINVAL;
        }
        if (r == -ENOENT) {
                diag_error(s->d, s->pos,
                           "image '%s': cannot enable '%s': no package installs it (no unit file in "
                           "/usr/lib/systemd/system or /etc/systemd/system)",
                           s->im->name, name);
                return -EINVAL;
        }
        if (r < 0)
                return r;
        if ((r = tree_resolve(s->t, path, &rp)) < 0)
                return r;
        const TreeNode *node = tree_get(s->t, rp);
        /* A symlinked unit (an alias) is read where it leads. */
        for (unsigned hops = 0; node && node->type == TREE_SYMLINK && hops < 8; hops++) {
                _cleanup_free_ char *tgt = NULL, *dir = NULL;
                if (node->target[0] == '/')
                        tgt = strdup(node->target);
                else {
                        dir = path_dirname(rp);
                        tgt = dir ? path_join(dir, node->target) : NULL;
                }
                free(rp);
                rp = NULL;
                if (!tgt || tree_resolve(s->t, tgt, &rp) < 0)
                        break;
                node = tree_get(s->t, rp);
        }
        if (!rp || tree_read_text(s->t, rp, &text) < 0) {
                diag_error(s->d, s->pos, "image '%s': cannot read the unit file of '%s'", s->im->name, name);
                return -EINVAL;
        }
        if ((r = parse_install(text, &is)) < 0)
                return r;
        if (!is.wanted_by.len && !is.required_by.len && !is.alias.len && !is.also.len) {
                diag_warning(s->d, s->pos,
                             "image '%s': '%s' has no [Install] section with WantedBy=, RequiredBy=, Alias= or Also=; "
                             "enabling it does nothing (as with systemctl enable)",
                             s->im->name, name);
                return 0;
        }
        /* A template enabled by its own name takes DefaultInstance=. */
        const char *unit = name;
        const char *at = strchr(name, '@'), *dot = strrchr(name, '.');
        if (at && dot && at + 1 == dot) {
                if (!is.default_instance) {
                        if (is.wanted_by.len || is.required_by.len) {
                                diag_error(s->d, s->pos,
                                           "image '%s': '%s' is a template without DefaultInstance=; enable an "
                                           "instance such as '%.*s@NAME%s'",
                                           s->im->name, name, (int) (at - name), name, dot);
                                return -EINVAL;
                        }
                } else {
                        if (asprintf(&inst, "%.*s@%s%s", (int) (at - name), name, is.default_instance, dot) < 0)
                                return -ENOMEM;
                        unit = inst;
                }
        }
        EnableCtx c = { .t = s->t, .unit = unit, .target = path, .suffix = ".wants", .mtime = s->mtime };
        if ((r = for_words(&is.wanted_by, link_into, &c)) < 0)
                return r;
        c.suffix = ".requires";
        if ((r = for_words(&is.required_by, link_into, &c)) < 0)
                return r;
        if (!tmpl && (r = for_words(&is.alias, link_alias, &c)) < 0)
                return r;
        return for_words(&is.also, enable_also, s);
}

/* `systemctl disable`: every symlink in /etc/systemd/system (and its .wants,
 * .requires directories) named after the unit or pointing at its file. */
static int disable_unit(Tree *t, const char *name) {
        _cleanup_free_ TreeNode **all = NULL;
        size_t n;
        int r = tree_list(t, &all, &n);
        if (r < 0)
                return r;
        const char *pfx = "/etc/systemd/system/";
        size_t pl = strlen(pfx);
        char **doomed = new0(char *, n + 1);
        size_t nd = 0;
        if (!doomed)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const TreeNode *x = all[i];
                if (x->type != TREE_SYMLINK || strncmp(x->path, pfx, pl) != 0)
                        continue;
                const char *base = strrchr(x->path, '/') + 1;
                const char *tb = strrchr(x->target, '/');
                tb = tb ? tb + 1 : x->target;
                if (strcmp(x->target, "/dev/null") == 0)
                        continue; /* a mask is not an enablement */
                if (strcmp(base, name) == 0 || strcmp(tb, name) == 0)
                        doomed[nd++] = x->path;
        }
        for (size_t i = 0; i < nd && r >= 0; i++) {
                _cleanup_free_ char *p = strdup(doomed[i]);
                r = p ? tree_remove(t, p) : -ENOMEM;
        }
        free(doomed);
        return r;
}

int apply_services(Tree *t, const Image *im, int64_t mtime, Diagnostics *d) {
        int ret = 0, r;
        for (size_t i = 0; i < im->services.disable.n; i++) {
                r = disable_unit(t, im->services.disable.items[i]);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < im->services.enable.n; i++) {
                ServiceRun s = { .t = t, .im = im, .d = d, .mtime = mtime, .pos = &im->services.enable.pos[i] };
                r = enable_unit(&s, im->services.enable.items[i]);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        if (r != -EINVAL)
                                diag_error(d, s.pos, "image '%s': cannot enable '%s': %s", im->name,
                                           im->services.enable.items[i],
                                           r == -ENOTDIR ? "a path in /etc/systemd/system is not a directory"
                                                         : strerror(-r));
                        ret = -EINVAL;
                }
        }
        return ret;
}
