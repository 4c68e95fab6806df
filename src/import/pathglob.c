/* SPDX-License-Identifier: MIT */

/* '**' globs over the file system (pathglob.h). */

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/strbuf.h"
#include "import/pathglob.h"

bool glob_has_magic(const char *p) {
        return strpbrk(p, "*?[") != NULL;
}

char **pathv_free(char **v) {
        if (v)
                for (char **p = v; *p; p++)
                        free(*p);
        free(v);
        return NULL;
}

/* The segments of p (empty ones and "." left out), pointing into the
 * malloc'd copy *ret_buf. */
static int split(const char *p, char **ret_buf, char ***ret_segs, size_t *ret_n) {
        char *buf = strdup(p);
        size_t n = 0;
        char **segs = new0(char *, strlen(p) / 2 + 2);
        if (!buf || !segs) {
                free(buf);
                free(segs);
                return -ENOMEM;
        }
        char *save = NULL;
        for (char *s = strtok_r(buf, "/", &save); s; s = strtok_r(NULL, "/", &save))
                if (strcmp(s, ".") != 0)
                        segs[n++] = s;
        *ret_buf = buf;
        *ret_segs = segs;
        *ret_n = n;
        return 0;
}

char *path_normalize(const char *p) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_free_ char **segs = NULL;
        size_t n, k = 0;
        if (split(p, &buf, &segs, &n) < 0)
                return NULL;
        bool absolute = p[0] == '/';
        for (size_t i = 0; i < n; i++) {
                if (strcmp(segs[i], "..") == 0) {
                        if (k > 0 && strcmp(segs[k - 1], "..") != 0) {
                                k--;
                                continue;
                        }
                        if (absolute) /* "/.." is "/" */
                                continue;
                }
                segs[k++] = segs[i];
        }
        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
        if (absolute)
                strbuf_putc(&sb, '/');
        for (size_t i = 0; i < k; i++) {
                if (i > 0)
                        strbuf_putc(&sb, '/');
                strbuf_puts(&sb, segs[i]);
        }
        if (k == 0 && !absolute)
                strbuf_putc(&sb, '.');
        return strbuf_detach(&sb, NULL);
}

static bool match_segs(char **pat, size_t np, char **path, size_t n) {
        if (np == 0)
                return n == 0;
        if (strcmp(pat[0], "**") == 0) {
                for (size_t skip = 0; skip <= n; skip++)
                        if (match_segs(pat + 1, np - 1, path + skip, n - skip))
                                return true;
                return false;
        }
        if (n == 0 || fnmatch(pat[0], path[0], 0) != 0)
                return false;
        return match_segs(pat + 1, np - 1, path + 1, n - 1);
}

bool glob_match_path(const char *pattern, const char *path) {
        _cleanup_free_ char *pb = NULL, *sb = NULL;
        _cleanup_free_ char **ps = NULL, **ss = NULL;
        size_t np, n;
        if (split(pattern, &pb, &ps, &np) < 0 || split(path, &sb, &ss, &n) < 0)
                return false;
        if ((pattern[0] == '/') != (path[0] == '/'))
                return false;
        return match_segs(ps, np, ss, n);
}

typedef struct Found {
        char **items;
        size_t n, allocated;
} Found;

static int found_add(Found *f, const char *path) {
        if (!GREEDY_REALLOC(f->items, f->allocated, f->n + 2))
                return -ENOMEM;
        if (!(f->items[f->n] = strdup(path)))
                return -ENOMEM;
        f->items[++f->n] = NULL;
        return 0;
}

static bool is_regular(const char *path) {
        struct stat st;
        return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* A directory entry's path below dir ("" is the current directory). */
static char *below(const char *dir, const char *name) {
        return dir[0] ? path_join(dir, name) : strdup(name);
}

static int expand_at(const char *dir, char **segs, size_t n, unsigned depth, Found *out) {
        if (depth > 128)
                return 0;
        if (n == 0)
                return dir[0] && is_regular(dir) ? found_add(out, dir) : 0;

        bool dstar = strcmp(segs[0], "**") == 0;
        if (!dstar && !glob_has_magic(segs[0])) {
                _cleanup_free_ char *p = below(dir, segs[0]);
                return p ? expand_at(p, segs + 1, n - 1, depth + 1, out) : -ENOMEM;
        }
        if (dstar) { /* zero directories */
                int r = expand_at(dir, segs + 1, n - 1, depth + 1, out);
                if (r < 0)
                        return r;
        }
        _cleanup_(closedirp) DIR *d = opendir(dir[0] ? dir : ".");
        if (!d)
                return 0;
        for (struct dirent *e; (e = readdir(d));) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                        continue;
                _cleanup_free_ char *p = below(dir, e->d_name);
                if (!p)
                        return -ENOMEM;
                int r = 0;
                if (dstar) {
                        struct stat st;
                        if (lstat(p, &st) < 0)
                                continue;
                        if (S_ISDIR(st.st_mode))
                                r = expand_at(p, segs, n, depth + 1, out); /* one more directory */
                        else if (n == 1 && is_regular(p))
                                r = found_add(out, p); /* a trailing '**' matches the files too */
                } else if (fnmatch(segs[0], e->d_name, 0) == 0)
                        r = expand_at(p, segs + 1, n - 1, depth + 1, out);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int glob_expand(const char *pattern, char ***ret, size_t *ret_n) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_free_ char **segs = NULL;
        Found f = {};
        size_t n;
        int r = split(pattern, &buf, &segs, &n);
        if (r < 0)
                return r;
        r = expand_at(pattern[0] == '/' ? "/" : "", segs, n, 0, &f);
        if (r < 0 || (!f.items && !(f.items = new0(char *, 1)))) {
                pathv_free(f.items);
                return r < 0 ? r : -ENOMEM;
        }
        qsort(f.items, f.n, sizeof(char *), cmp_str);
        size_t k = 0;
        for (size_t i = 0; i < f.n; i++) {
                if (k > 0 && strcmp(f.items[k - 1], f.items[i]) == 0) {
                        free(f.items[i]);
                        continue;
                }
                f.items[k++] = f.items[i];
        }
        f.items[k] = NULL;
        *ret = f.items;
        *ret_n = k;
        return 0;
}
