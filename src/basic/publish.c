/* SPDX-License-Identifier: MIT */

/* All-or-none publishing of several outputs (publish.h). An existing final
 * path is swapped with its replacement by renameat2(RENAME_EXCHANGE) (Linux
 * 3.15), so the final path never disappears and the swap can be undone;
 * file systems without it get rename-aside-then-rename. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/publish.h"
#include "basic/run.h"

typedef enum ItemState {
        ITEM_RESERVED,  /* tmp holds the new output */
        ITEM_RENAMED,   /* final holds it; nothing was there before */
        ITEM_EXCHANGED, /* final holds it; tmp holds the previous one */
        ITEM_ASIDE,     /* final holds it; old holds the previous one */
} ItemState;

typedef struct Item {
        char *final, *tmp, *old;
        bool dir;
        unsigned mode;
        ItemState state;
} Item;

struct Publish {
        Item *items;
        size_t n;
        const char *failed;
        bool committed;
};

Publish *publish_new(void) {
        return new0(Publish, 1);
}

static void remove_path(const char *path, bool dir) {
        if (dir)
                (void) rm_rf(path);
        else
                (void) unlink(path);
}

Publish *publish_free(Publish *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n; i++) {
                Item *it = &p->items[i];
                /* Reserved: the unpublished output; exchanged or aside: the
                 * replaced one (publish_commit() succeeded). */
                if (it->state == ITEM_RESERVED || (p->committed && it->state == ITEM_EXCHANGED))
                        remove_path(it->tmp, it->dir);
                else if (p->committed && it->state == ITEM_ASIDE)
                        remove_path(it->old, it->dir);
                run_untrack(it->tmp);
                free(it->final);
                free(it->tmp);
                free(it->old);
        }
        free(p->items);
        free(p);
        return NULL;
}

static int dir_is_replaceable(const char *path, const char *marker) {
        if (marker) {
                _cleanup_free_ char *m = path_join(path, marker);
                if (!m)
                        return -ENOMEM;
                if (path_exists(m))
                        return 1;
        }
        _cleanup_(closedirp) DIR *d = opendir(path);
        if (!d)
                return -errno;
        for (struct dirent *de; (errno = 0, de = readdir(d));)
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        return 0;
        return errno ? -errno : 1;
}

static int check_final(const char *final, bool dir, const char *marker) {
        struct stat st;
        if (lstat(final, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (dir) {
                if (!S_ISDIR(st.st_mode))
                        return -EEXIST;
                int r = dir_is_replaceable(final, marker);
                return r < 0 ? r : r ? 0 : -EEXIST;
        }
        return S_ISREG(st.st_mode) ? 0 : -EEXIST;
}

static int add(Publish *p, const char *final, bool dir, const char *marker, unsigned mode, const char **ret_tmp) {
        int r = check_final(final, dir, marker);
        if (r < 0)
                return r;
        Item *items = reallocarray(p->items, p->n + 1, sizeof(Item));
        if (!items)
                return -ENOMEM;
        p->items = items;
        Item it = { .dir = dir, .mode = mode, .final = strdup(final) };
        if (!it.final)
                return -ENOMEM;
        if (dir)
                r = tmpdir_beside(final, "tmp", &it.tmp);
        else {
                r = tmpfile_open(final, &it.tmp);
                if (r >= 0)
                        (void) close(r);
        }
        if (r < 0) {
                free(it.final);
                return r;
        }
        p->items[p->n++] = it;
        *ret_tmp = it.tmp;
        return 0;
}

int publish_add_file(Publish *p, const char *final, unsigned mode, const char **ret_tmp) {
        return add(p, final, false, NULL, mode, ret_tmp);
}

int publish_add_dir(Publish *p, const char *final, const char *marker, const char **ret_tmp) {
        return add(p, final, true, marker, 0755, ret_tmp);
}

static int install(Item *it) {
        if (!it->dir && chmod(it->tmp, it->mode) < 0)
                return -errno;
        if (it->dir && chmod(it->tmp, 0755) < 0)
                return -errno;
        if (!path_exists(it->final)) {
                if (rename(it->tmp, it->final) < 0)
                        return -errno;
                it->state = ITEM_RENAMED;
                return 0;
        }
        if (renameat2(AT_FDCWD, it->tmp, AT_FDCWD, it->final, RENAME_EXCHANGE) == 0) {
                it->state = ITEM_EXCHANGED;
                return 0;
        }
        if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
                return -errno;
        /* No exchange here: the previous output goes aside first. */
        char *old;
        if (asprintf(&old, "%s.old.%d", it->final, (int) getpid()) < 0)
                return -ENOMEM;
        if (rename(it->final, old) < 0) {
                int r = -errno;
                free(old);
                return r;
        }
        if (rename(it->tmp, it->final) < 0) {
                int r = -errno;
                (void) rename(old, it->final);
                free(old);
                return r;
        }
        it->old = old;
        it->state = ITEM_ASIDE;
        return 0;
}

/* Puts the previous output back; the new one is at tmp again. */
static void undo(Item *it) {
        switch (it->state) {
        case ITEM_RENAMED:
                if (rename(it->final, it->tmp) == 0)
                        it->state = ITEM_RESERVED;
                break;
        case ITEM_EXCHANGED:
                if (renameat2(AT_FDCWD, it->tmp, AT_FDCWD, it->final, RENAME_EXCHANGE) == 0)
                        it->state = ITEM_RESERVED;
                break;
        case ITEM_ASIDE:
                if (rename(it->final, it->tmp) == 0 && rename(it->old, it->final) == 0) {
                        free(it->old);
                        it->old = NULL;
                        it->state = ITEM_RESERVED;
                }
                break;
        case ITEM_RESERVED:
                break;
        }
}

int publish_commit(Publish *p) {
        /* A signal's cleanup waits for this: all or none holds then too. */
        run_critical_enter();
        for (size_t i = 0; i < p->n; i++) {
                int r = install(&p->items[i]);
                if (r < 0) {
                        p->failed = p->items[i].final;
                        for (size_t k = i; k > 0; k--)
                                undo(&p->items[k - 1]);
                        run_critical_leave();
                        return r;
                }
        }
        p->committed = true;
        run_critical_leave();
        return 0;
}

const char *publish_failed_path(const Publish *p) {
        return p->failed;
}
