/* SPDX-License-Identifier: MIT */

/* Unified diffs of texts and trees, for `slipway diff` (upstream.h).
 *
 * The line diff is Myers' O(ND) algorithm in its linear-space form ("An
 * O(ND) Difference Algorithm and Its Variations", E. Myers, Algorithmica
 * 1986, section 4b): the middle snake of a bidirectional search splits the
 * problem in two, recursively. Before it runs:
 *   - every line gets an equivalence class (equal bytes, equal class,
 *     through one hash table for both texts), so lines compare as integers;
 *   - the common head and tail are set aside;
 *   - lines whose class does not occur in the other text at all are marked
 *     changed and left out: no common subsequence can hold them, so the
 *     result stays minimal, and a file rewritten with fresh lines costs
 *     next to nothing.
 * A search that passes a cost limit (edit scripts of more than a couple of
 * thousand lines, that is heavy rewrites of large files) splits at the
 * furthest point it reached instead: the diff stays correct but may be
 * longer than the shortest, and time stays near O((N+M) * limit).
 *
 * The changes found are then slid along runs of equal lines the way GNU
 * diff does (a run as far down as it goes, unless a position higher up
 * lines it up with a change in the other text), so that outputs match
 * `diff -u` byte for byte: always when the shortest script is unique, and
 * in all but a few in a thousand random cases where it is not (there GNU's
 * search chose another shortest script, describing the same change). */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "upstream/upstream.h"

/* ---- texts as lines ----------------------------------------------------------------- */

typedef struct Text {
        const char *data;
        size_t size;
        size_t n;         /* lines; the last one may lack its newline */
        size_t *start;    /* n + 1 offsets: line i is data[start[i] .. start[i + 1]) */
        uint32_t *cls;    /* each line's equivalence class */
        uint8_t *changed; /* 1: the line is deleted (first text) or inserted (second) */
        size_t head, tail; /* lines the same in both texts at the start and at the end */
} Text;

static void text_release(Text *t) {
        free(t->start);
        free(t->cls);
        free(t->changed);
}

static int text_split(Text *t, const char *data, size_t size) {
        size_t n = 0;
        for (const char *p = data, *end = data + size; p < end; n++) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                p = nl ? nl + 1 : end;
        }
        *t = (Text) { .data = data, .size = size, .n = n };
        /* Indexes are ptrdiff_t in the search. */
        if (n >= (size_t) PTRDIFF_MAX / sizeof(size_t))
                return -EFBIG;
        t->start = new0(size_t, n + 1);
        t->cls = new0(uint32_t, n);
        t->changed = new0(uint8_t, n);
        if (!t->start || !t->cls || !t->changed)
                return -ENOMEM;
        size_t i = 0;
        for (const char *p = data, *end = data + size; p < end; i++) {
                t->start[i] = (size_t) (p - data);
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                p = nl ? nl + 1 : end;
        }
        t->start[n] = size;
        return 0;
}

static inline const char *line_ptr(const Text *t, size_t i) {
        return t->data + t->start[i];
}

static inline size_t line_len(const Text *t, size_t i) {
        return t->start[i + 1] - t->start[i];
}

/* ---- equivalence classes --------------------------------------------------------------- */

typedef struct LineClass {
        uint64_t hash;
        const char *p;
        size_t len;
        size_t count[2]; /* lines of this class in each text */
} LineClass;

typedef struct Classes {
        uint32_t *slots; /* class + 1; 0 is an empty slot */
        size_t mask;
        LineClass *items;
        size_t n;
} Classes;

static uint64_t line_hash(const char *p, size_t len) {
        /* FNV-1a over 8-byte words, then a final mix: the table needs spread,
         * not strength. */
        uint64_t h = 0xcbf29ce484222325u ^ len;
        size_t i = 0;
        for (; i + 8 <= len; i += 8) {
                uint64_t w;
                memcpy(&w, p + i, 8);
                h = (h ^ w) * 0x100000001b3u;
                h ^= h >> 29;
        }
        for (; i < len; i++)
                h = (h ^ (uint8_t) p[i]) * 0x100000001b3u;
        h ^= h >> 32;
        h *= 0xd6e8feb86659fd93u;
        h ^= h >> 32;
        return h;
}

static int classes_init(Classes *c, size_t lines) {
        size_t cap = 16;
        while (cap < 2 * lines)
                cap *= 2;
        *c = (Classes) { .mask = cap - 1 };
        c->slots = new0(uint32_t, cap);
        c->items = new0(LineClass, lines);
        return c->slots && c->items ? 0 : -ENOMEM;
}

static void classes_release(Classes *c) {
        free(c->slots);
        free(c->items);
}

/* Gives every line of t its class; side is 0 for the first text, 1 for the second. */
static void classes_assign(Classes *c, Text *t, int side) {
        for (size_t i = 0; i < t->n; i++) {
                const char *p = line_ptr(t, i);
                size_t len = line_len(t, i);
                uint64_t h = line_hash(p, len);
                size_t s = (size_t) h & c->mask;
                for (;; s = (s + 1) & c->mask) {
                        uint32_t k = c->slots[s];
                        if (k == 0) {
                                c->items[c->n] = (LineClass) { .hash = h, .p = p, .len = len };
                                c->slots[s] = (uint32_t) ++c->n;
                                k = (uint32_t) c->n;
                        } else {
                                const LineClass *e = &c->items[k - 1];
                                if (e->hash != h || e->len != len || memcmp(e->p, p, len) != 0)
                                        continue;
                        }
                        t->cls[i] = k - 1;
                        c->items[k - 1].count[side]++;
                        break;
                }
        }
}

/* ---- Myers' algorithm ---------------------------------------------------------------- */

typedef struct Myers {
        const uint32_t *xv, *yv; /* the classes of the lines taken into the search */
        uint8_t *xc, *yc;        /* their changed marks */
        ptrdiff_t *fd, *bd;      /* the furthest x reached on each diagonal k = x - y, forward and backward */
        ptrdiff_t limit;         /* the cost (per direction) after which a search stops */
} Myers;

/* Values no reached x can lose to: forward searches keep the largest x,
 * backward ones the smallest. */
#define FORWARD_NONE (PTRDIFF_MIN / 2)
#define BACKWARD_NONE (PTRDIFF_MAX / 2)

/* A point (*ret_x, *ret_y) on a shortest edit path from (xoff, yoff) to
 * (xlim, ylim), strictly between the two; both ranges are non-empty and
 * their first and last lines differ. Forward, the furthest x reached with d
 * edits is kept per diagonal, and backward from the end the same; when the
 * two meet on a diagonal, the point reached there lies on a shortest path
 * (Myers' lemma 3). Returns false if no such point was found (which the
 * lemma rules out; the caller then takes the whole range as changed). */
static bool myers_split(Myers *c, ptrdiff_t xoff, ptrdiff_t xlim, ptrdiff_t yoff, ptrdiff_t ylim, ptrdiff_t *ret_x,
                        ptrdiff_t *ret_y) {
        ptrdiff_t *fd = c->fd, *bd = c->bd;
        const uint32_t *xv = c->xv, *yv = c->yv;
        const ptrdiff_t kmin = xoff - ylim, kmax = xlim - yoff; /* the diagonals that cross the range */
        const ptrdiff_t fmid = xoff - yoff, bmid = xlim - ylim;
        const bool odd = (bmid - fmid) & 1;
        ptrdiff_t flo = fmid, fhi = fmid, blo = bmid, bhi = bmid;

        fd[fmid] = xoff;
        bd[bmid] = xlim;
        for (ptrdiff_t d = 1;; d++) {
                /* The diagonals reached with d edits: one further each way,
                 * within the range (and of d's parity). The neighbour a new
                 * end diagonal would read was not reached with d - 1. */
                if (flo > kmin)
                        fd[--flo - 1] = FORWARD_NONE;
                else
                        flo++;
                if (fhi < kmax)
                        fd[++fhi + 1] = FORWARD_NONE;
                else
                        fhi--;
                for (ptrdiff_t k = fhi; k >= flo; k -= 2) {
                        /* A deletion from diagonal k - 1 or an insertion from
                         * k + 1, whichever gets further, then the snake. */
                        ptrdiff_t from_left = fd[k - 1] + 1, from_above = fd[k + 1];
                        ptrdiff_t x = from_left > from_above ? from_left : from_above, y = x - k;
                        while (x < xlim && y < ylim && xv[x] == yv[y])
                                x++, y++;
                        fd[k] = x;
                        if (odd && k >= blo && k <= bhi && bd[k] <= x) {
                                *ret_x = x;
                                *ret_y = x - k;
                                return true;
                        }
                }

                if (blo > kmin)
                        bd[--blo - 1] = BACKWARD_NONE;
                else
                        blo++;
                if (bhi < kmax)
                        bd[++bhi + 1] = BACKWARD_NONE;
                else
                        bhi--;
                for (ptrdiff_t k = bhi; k >= blo; k -= 2) {
                        ptrdiff_t from_below = bd[k - 1], from_right = bd[k + 1] - 1;
                        ptrdiff_t x = from_below < from_right ? from_below : from_right, y = x - k;
                        while (x > xoff && y > yoff && xv[x - 1] == yv[y - 1])
                                x--, y--;
                        bd[k] = x;
                        if (!odd && k >= flo && k <= fhi && x <= fd[k]) {
                                *ret_x = x;
                                *ret_y = x - k;
                                return true;
                        }
                }

                if (d < c->limit)
                        continue;

                /* Too expensive: split at the point either search got
                 * furthest to (a correct, perhaps longer, edit script). */
                ptrdiff_t best_fx = -1, best_fy = -1, best_f = 0;
                for (ptrdiff_t k = fhi; k >= flo; k -= 2) {
                        ptrdiff_t x = fd[k], y = x - k;
                        if (x <= xlim && y <= ylim && x + y - xoff - yoff > best_f) {
                                best_f = x + y - xoff - yoff;
                                best_fx = x;
                                best_fy = y;
                        }
                }
                ptrdiff_t best_bx = -1, best_by = -1, best_b = 0;
                for (ptrdiff_t k = bhi; k >= blo; k -= 2) {
                        ptrdiff_t x = bd[k], y = x - k;
                        if (x >= xoff && y >= yoff && xlim + ylim - x - y > best_b) {
                                best_b = xlim + ylim - x - y;
                                best_bx = x;
                                best_by = y;
                        }
                }
                ptrdiff_t x = best_f >= best_b ? best_fx : best_bx, y = best_f >= best_b ? best_fy : best_by;
                if (x + y <= xoff + yoff || x + y >= xlim + ylim)
                        return false;
                *ret_x = x;
                *ret_y = y;
                return true;
        }
}

static void myers_compare(Myers *c, ptrdiff_t xoff, ptrdiff_t xlim, ptrdiff_t yoff, ptrdiff_t ylim) {
        for (;;) {
                while (xoff < xlim && yoff < ylim && c->xv[xoff] == c->yv[yoff])
                        xoff++, yoff++;
                while (xlim > xoff && ylim > yoff && c->xv[xlim - 1] == c->yv[ylim - 1])
                        xlim--, ylim--;
                if (xoff == xlim || yoff == ylim) {
                        memset(c->xc + xoff, 1, (size_t) (xlim - xoff));
                        memset(c->yc + yoff, 1, (size_t) (ylim - yoff));
                        return;
                }
                ptrdiff_t x, y;
                if (!myers_split(c, xoff, xlim, yoff, ylim, &x, &y)) {
                        memset(c->xc + xoff, 1, (size_t) (xlim - xoff));
                        memset(c->yc + yoff, 1, (size_t) (ylim - yoff));
                        return;
                }
                /* Recurse into the smaller half and loop on the larger, so the
                 * stack stays shallow also when the cost limit made the split
                 * lopsided. */
                if ((x - xoff) + (y - yoff) <= (xlim - x) + (ylim - y)) {
                        myers_compare(c, xoff, x, yoff, y);
                        xoff = x;
                        yoff = y;
                } else {
                        myers_compare(c, x, xlim, y, ylim);
                        xlim = x;
                        ylim = y;
                }
        }
}

/* Marks the changed lines of a and b (a->changed, b->changed), whose classes
 * are set: a shortest edit script, or close to one when the cost limit was
 * reached. */
static int diff_classes(Text *a, Text *b, const Classes *cl) {
        size_t head = 0, tail = 0;
        while (head < a->n && head < b->n && a->cls[head] == b->cls[head])
                head++;
        while (tail < a->n - head && tail < b->n - head && a->cls[a->n - 1 - tail] == b->cls[b->n - 1 - tail])
                tail++;
        a->head = b->head = head;
        a->tail = b->tail = tail;
        size_t an = a->n - head - tail, bn = b->n - head - tail;
        if (an == 0 || bn == 0) {
                memset(a->changed + head, 1, an);
                memset(b->changed + head, 1, bn);
                return 0;
        }

        _cleanup_free_ uint32_t *xv = new0(uint32_t, an), *yv = new0(uint32_t, bn);
        _cleanup_free_ size_t *xi = new0(size_t, an), *yi = new0(size_t, bn);
        _cleanup_free_ uint8_t *xc = new0(uint8_t, an), *yc = new0(uint8_t, bn);
        if (!xv || !yv || !xi || !yi || !xc || !yc)
                return -ENOMEM;

        /* Lines the other side lacks are changes whatever the alignment. */
        size_t nx = 0, ny = 0;
        for (size_t i = head; i < head + an; i++) {
                if (cl->items[a->cls[i]].count[1] == 0)
                        a->changed[i] = 1;
                else {
                        xv[nx] = a->cls[i];
                        xi[nx++] = i;
                }
        }
        for (size_t j = head; j < head + bn; j++) {
                if (cl->items[b->cls[j]].count[0] == 0)
                        b->changed[j] = 1;
                else {
                        yv[ny] = b->cls[j];
                        yi[ny++] = j;
                }
        }
        if (nx > 0 && ny > 0) {
                /* Diagonals run from -ny - 1 to nx + 1 (the ends' neighbours). */
                _cleanup_free_ ptrdiff_t *fbuf = new0(ptrdiff_t, nx + ny + 3), *bbuf = new0(ptrdiff_t, nx + ny + 3);
                if (!fbuf || !bbuf)
                        return -ENOMEM;
                size_t total = nx + ny, root = 1;
                while (root * root < total)
                        root++;
                Myers m = {
                        .xv = xv,
                        .yv = yv,
                        .xc = xc,
                        .yc = yc,
                        .fd = fbuf + ny + 1,
                        .bd = bbuf + ny + 1,
                        .limit = (ptrdiff_t) MAX((size_t) 1024, 4 * root),
                };
                myers_compare(&m, 0, (ptrdiff_t) nx, 0, (ptrdiff_t) ny);
        } else {
                memset(xc, 1, nx);
                memset(yc, 1, ny);
        }
        for (size_t i = 0; i < nx; i++)
                if (xc[i])
                        a->changed[xi[i]] = 1;
        for (size_t j = 0; j < ny; j++)
                if (yc[j])
                        b->changed[yi[j]] = 1;
        return 0;
}

static int diff_lines(Text *a, Text *b) {
        /* Every line gets its class, the common head and tail too: compact()
         * may slide changes into their edges. */
        Classes cl;
        int r = classes_init(&cl, a->n + b->n);
        if (r < 0) {
                classes_release(&cl);
                return r;
        }
        classes_assign(&cl, a, 0);
        classes_assign(&cl, b, 1);
        r = diff_classes(a, b, &cl);
        classes_release(&cl);
        return r;
}

/* ---- sliding changes into place ------------------------------------------------------ */

/* Moves the runs of changed lines of x along runs of equal lines, as GNU
 * diff does: each run first up and then down as far as equal lines allow
 * (runs that touch merge, and the sliding starts over until none does);
 * then back up to the lowest position where it faces changed lines of y,
 * so that a deletion and an insertion of the same place show as one
 * change. Only equal lines trade places, so the script stays as short.
 * GNU diff leaves the common head and tail out of its analysis but for
 * `horizon` lines next to the middle (as many as the context), so runs do
 * not slide further into them; doing the same makes the outputs agree. */
static int compact(Text *x, const Text *y, size_t horizon) {
        /* faces[u]: whether y has changed lines just before its unchanged
         * line u (u counted among unchanged lines; the last index is the end). */
        size_t uy = 0;
        for (size_t j = 0; j < y->n; j++)
                uy += !y->changed[j];
        _cleanup_free_ uint8_t *faces = new0(uint8_t, uy + 1);
        if (!faces)
                return -ENOMEM;
        for (size_t j = 0, u = 0; j < y->n; j++) {
                if (y->changed[j])
                        faces[u] = 1;
                else
                        u++;
        }

        uint8_t *ch = x->changed;
        const uint32_t *cls = x->cls;
        const size_t lo = x->head - MIN(horizon, x->head), hi = x->n - x->tail + MIN(horizon, x->tail);
        size_t u = 0; /* unchanged lines of x before i */
        for (size_t i = 0; i < x->n;) {
                if (!ch[i]) {
                        i++;
                        u++;
                        continue;
                }
                size_t s = i, e = i;
                while (e < x->n && ch[e])
                        e++;
                size_t best, len;
                do {
                        len = e - s;
                        while (s > lo && cls[s - 1] == cls[e - 1]) {
                                ch[--s] = 1;
                                ch[--e] = 0;
                                u--;
                                while (s > 0 && ch[s - 1])
                                        s--;
                        }
                        best = SIZE_MAX;
                        if (faces[MIN(u, uy)])
                                best = e;
                        while (e < hi && cls[s] == cls[e]) {
                                ch[s++] = 0;
                                ch[e++] = 1;
                                u++;
                                while (e < x->n && ch[e])
                                        e++;
                                if (faces[MIN(u, uy)])
                                        best = e;
                        }
                } while (len != e - s);
                if (best != SIZE_MAX)
                        while (e > best) {
                                ch[--s] = 1;
                                ch[--e] = 0;
                                u--;
                        }
                i = e;
        }
        return 0;
}

/* ---- the unified format ---------------------------------------------------------------- */

typedef struct Change {
        size_t a0, a1, b0, b1; /* lines [a0, a1) of a became lines [b0, b1) of b */
} Change;

static void put_range(StrBuf *out, size_t start, size_t count) {
        /* diff -u: "l" for one line, "l,0" naming the line before an empty
         * range, "l,s" otherwise. */
        if (count == 1)
                strbuf_printf(out, "%zu", start + 1);
        else if (count == 0)
                strbuf_printf(out, "%zu,0", start);
        else
                strbuf_printf(out, "%zu,%zu", start + 1, count);
}

static void put_line(StrBuf *out, char prefix, const Text *t, size_t i) {
        size_t len = line_len(t, i);
        const char *p = line_ptr(t, i);
        strbuf_putc(out, prefix);
        strbuf_put(out, p, len);
        if (len == 0 || p[len - 1] != '\n')
                strbuf_puts(out, "\n\\ No newline at end of file\n");
}

static int put_hunks(const Text *a, const Text *b, unsigned context, const char *a_name, const char *b_name,
                     StrBuf *out) {
        _cleanup_free_ Change *changes = NULL;
        size_t n = 0, allocated = 0;
        for (size_t i = 0, j = 0; i < a->n || j < b->n;) {
                if ((i < a->n && a->changed[i]) || (j < b->n && b->changed[j])) {
                        Change c = { .a0 = i, .b0 = j };
                        while (i < a->n && a->changed[i])
                                i++;
                        while (j < b->n && b->changed[j])
                                j++;
                        c.a1 = i;
                        c.b1 = j;
                        if (!GREEDY_REALLOC(changes, allocated, n + 1))
                                return -ENOMEM;
                        changes[n++] = c;
                } else {
                        /* Unchanged lines pair up in order. */
                        i++;
                        j++;
                }
        }
        if (n == 0)
                return 0;

        strbuf_printf(out, "--- %s\n+++ %s\n", a_name, b_name);
        size_t ctx = context;
        for (size_t first = 0; first < n;) {
                /* Changes whose context would touch or overlap share a hunk. */
                size_t last = first;
                while (last + 1 < n && changes[last + 1].a0 - changes[last].a1 <= 2 * ctx)
                        last++;
                const Change *f = &changes[first], *l = &changes[last];
                size_t before = MIN(ctx, f->a0), after = MIN(ctx, a->n - l->a1);
                size_t a0 = f->a0 - before, a1 = l->a1 + after, b0 = f->b0 - before, b1 = l->b1 + after;

                strbuf_puts(out, "@@ -");
                put_range(out, a0, a1 - a0);
                strbuf_puts(out, " +");
                put_range(out, b0, b1 - b0);
                strbuf_puts(out, " @@\n");

                size_t i = a0;
                for (size_t k = first; k <= last; k++) {
                        const Change *c = &changes[k];
                        for (; i < c->a0; i++)
                                put_line(out, ' ', a, i);
                        for (; i < c->a1; i++)
                                put_line(out, '-', a, i);
                        for (size_t j = c->b0; j < c->b1; j++)
                                put_line(out, '+', b, j);
                }
                for (; i < a1; i++)
                        put_line(out, ' ', a, i);
                first = last + 1;
        }
        return out->oom ? -ENOMEM : 0;
}

int text_diff_unified(const char *a_name, const char *a, size_t a_size, const char *b_name, const char *b,
                      size_t b_size, unsigned context, StrBuf *out) {
        if (a_size == b_size && (a_size == 0 || memcmp(a, b, a_size) == 0))
                return 0;

        Text ta = {}, tb = {};
        int r = text_split(&ta, a, a_size);
        if (r >= 0)
                r = text_split(&tb, b, b_size);
        if (r >= 0)
                r = diff_lines(&ta, &tb);
        if (r >= 0)
                r = compact(&ta, &tb, context);
        if (r >= 0)
                r = compact(&tb, &ta, context);
        size_t had = out->len;
        if (r >= 0)
                r = put_hunks(&ta, &tb, context, a_name, b_name, out);
        if (r < 0 && out->len > had) {
                /* Nothing of a diff that failed halfway. */
                out->len = had;
                out->buf[had] = 0;
        }
        text_release(&ta);
        text_release(&tb);
        return r;
}

/* ---- trees --------------------------------------------------------------------------- */

static const char *const tree_change_table[_TREE_CHANGE_MAX] = {
        [TREE_ADDED] = "added",
        [TREE_REMOVED] = "removed",
        [TREE_MODIFIED] = "modified",
};

const char *tree_change_to_string(TreeChange c) {
        if (c < 0 || c >= _TREE_CHANGE_MAX)
                return NULL;
        return tree_change_table[c];
}

typedef struct TreeFile {
        char *path;   /* relative to the tree's top */
        bool symlink; /* else a regular file */
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

/* Adds the regular files and symbolic links below the directory dfd (whose
 * path in the tree is prefix, "" at the top) to l. Directories are opened
 * with O_NOFOLLOW: a link to a directory is a link, not a subtree. Other
 * file types (sockets, devices, FIFOs) are not in a source tree and are
 * left out. */
static int tree_list_at(int dfd, const char *prefix, TreeList *l, unsigned depth) {
        if (depth > 256)
                return -ELOOP;
        int dup_fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
        if (dup_fd < 0)
                return negative_errno();
        _cleanup_(closedirp) DIR *d = fdopendir(dup_fd);
        if (!d) {
                close(dup_fd);
                return negative_errno();
        }
        struct dirent *de;
        while ((errno = 0, de = readdir(d))) {
                const char *name = de->d_name;
                struct stat st;
                if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                        continue;
                if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return negative_errno();
                if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
                        continue;
                _cleanup_free_ char *path = *prefix ? strprintf("%s/%s", prefix, name) : strdup(name);
                if (!path)
                        return -ENOMEM;
                if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub < 0)
                                return negative_errno();
                        int r = tree_list_at(sub, path, l, depth + 1);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (!GREEDY_REALLOC(l->items, l->allocated, l->n + 1))
                        return -ENOMEM;
                l->items[l->n++] = (TreeFile) { .path = TAKE_PTR(path), .symlink = S_ISLNK(st.st_mode) };
        }
        return errno ? negative_errno() : 0;
}

static int tree_file_compare(const void *x, const void *y) {
        return strcmp(((const TreeFile *) x)->path, ((const TreeFile *) y)->path);
}

static int tree_list(const char *dir, TreeList *ret) {
        TreeList l = {};
        if (dir) {
                _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        return negative_errno();
                int r = tree_list_at(fd, "", &l, 0);
                if (r < 0) {
                        tree_list_release(&l);
                        return r;
                }
                qsort(l.items, l.n, sizeof l.items[0], tree_file_compare);
        }
        *ret = l;
        return 0;
}

/* A file's contents, or a link's target with a newline (so that a changed
 * target reads as a one-line diff). */
typedef struct Blob {
        char *data;
        size_t size;
        bool mapped;
} Blob;

static void blob_release(Blob *b) {
        if (b->mapped && b->size > 0)
                munmap(b->data, b->size);
        else if (!b->mapped)
                free(b->data);
        *b = (Blob) {};
}

static int blob_read(const char *top, const TreeFile *f, Blob *ret) {
        _cleanup_close_ int dfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return negative_errno();
        if (f->symlink) {
                char target[PATH_MAX + 1];
                ssize_t n = readlinkat(dfd, f->path, target, sizeof target - 1);
                if (n < 0)
                        return negative_errno();
                target[n++] = '\n';
                char *data = strndup_nul(target, (size_t) n);
                if (!data)
                        return -ENOMEM;
                *ret = (Blob) { .data = data, .size = (size_t) n };
                return 0;
        }
        _cleanup_close_ int fd = openat(dfd, f->path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if ((uint64_t) st.st_size > SIZE_MAX)
                return -EFBIG;
        *ret = (Blob) { .mapped = true };
        if (st.st_size == 0)
                return 0;
        void *p = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED)
                return negative_errno();
        *ret = (Blob) { .data = p, .size = (size_t) st.st_size, .mapped = true };
        return 0;
}

/* git's and diff's test: a NUL byte near the start. */
#define BINARY_PROBE 8192

static bool blob_binary(const Blob *b) {
        return b->size > 0 && memchr(b->data, 0, MIN(b->size, (size_t) BINARY_PROBE));
}

typedef struct TreeDiffList {
        TreeDiffEntry *items;
        size_t n, allocated;
} TreeDiffList;

/* Adds the entry for path; a or b is NULL for an added or removed file. */
static int tree_diff_add(TreeDiffList *l, const char *path, TreeChange change, const Blob *a, const Blob *b,
                         unsigned context) {
        static const Blob none = { .data = (char *) "" };
        const Blob *x = a ? a : &none, *y = b ? b : &none;
        TreeDiffEntry e = { .change = change, .binary = blob_binary(x) || blob_binary(y) };
        e.path = strdup(path);
        if (!e.path)
                return -ENOMEM;
        if (!e.binary) {
                _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
                _cleanup_free_ char *an = strprintf("a/%s", path), *bn = strprintf("b/%s", path);
                int r = an && bn ? text_diff_unified(an, x->data, x->size, bn, y->data, y->size, context, &sb) : -ENOMEM;
                if (r >= 0) {
                        e.diff = strbuf_detach(&sb, NULL);
                        if (!e.diff)
                                r = -ENOMEM;
                }
                if (r < 0) {
                        free(e.path);
                        return r;
                }
        }
        if (!GREEDY_REALLOC(l->items, l->allocated, l->n + 1)) {
                free(e.path);
                free(e.diff);
                return -ENOMEM;
        }
        l->items[l->n++] = e;
        return 0;
}

static int tree_diff_one(TreeDiffList *l, const char *a_dir, const TreeFile *fa, const char *b_dir,
                         const TreeFile *fb, unsigned context) {
        Blob ba = {}, bb = {};
        int r = 0;
        if (fa)
                r = blob_read(a_dir, fa, &ba);
        if (r >= 0 && fb)
                r = blob_read(b_dir, fb, &bb);
        if (r < 0)
                goto finish;
        if (fa && fb && fa->symlink == fb->symlink) {
                if (ba.size != bb.size || (ba.size > 0 && memcmp(ba.data, bb.data, ba.size) != 0))
                        r = tree_diff_add(l, fa->path, TREE_MODIFIED, &ba, &bb, context);
        } else {
                /* A file that became a link, or the reverse, is one removed
                 * and one added, as a file that became a directory is. */
                if (fa)
                        r = tree_diff_add(l, fa->path, TREE_REMOVED, &ba, NULL, context);
                if (r >= 0 && fb)
                        r = tree_diff_add(l, fb->path, TREE_ADDED, NULL, &bb, context);
        }
finish:
        blob_release(&ba);
        blob_release(&bb);
        return r;
}

int tree_diff(const char *a, const char *b, unsigned context, TreeDiffEntry **ret, size_t *ret_n) {
        TreeList la = {}, lb = {};
        TreeDiffList out = {};
        int r = tree_list(a, &la);
        if (r >= 0)
                r = tree_list(b, &lb);
        for (size_t i = 0, j = 0; r >= 0 && (i < la.n || j < lb.n);) {
                int c = i == la.n ? 1 : j == lb.n ? -1 : strcmp(la.items[i].path, lb.items[j].path);
                if (c < 0)
                        r = tree_diff_one(&out, a, &la.items[i++], b, NULL, context);
                else if (c > 0)
                        r = tree_diff_one(&out, a, NULL, b, &lb.items[j++], context);
                else
                        r = tree_diff_one(&out, a, &la.items[i++], b, &lb.items[j++], context);
        }
        tree_list_release(&la);
        tree_list_release(&lb);
        if (r < 0) {
                tree_diff_free(out.items, out.n);
                return r;
        }
        *ret = out.items;
        *ret_n = out.n;
        return 0;
}

void tree_diff_free(TreeDiffEntry *e, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(e[i].path);
                free(e[i].diff);
        }
        free(e);
}
