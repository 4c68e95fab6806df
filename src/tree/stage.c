/* SPDX-License-Identifier: MIT */

/* A tree staged in a directory and folded back (stage.h).
 *
 * Every path is opened below the stage's root descriptor with openat2()
 * RESOLVE_IN_ROOT, so a symlink that code in the sandbox planted (an
 * absolute one, or "../../..") resolves inside the staging directory as it
 * would inside the sandbox, never to the host.
 *
 * The host side may be an unprivileged user: a directory of the image that
 * its owner may not write (/root is 0550, /proc 0555) is made writable for
 * the moment something is created in it. Directory and file times are set
 * from the tree after every change made here, and the ctime the kernel gives
 * afterwards is what "untouched" is measured against. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/hash.h"
#include "basic/run.h"
#include "tree/stage.h"

/* Files up to this size that changed are read into memory; larger ones stay
 * in the staging directory's file, which the blob keeps open. */
#define STAGE_READ_MAX ((size_t) 1 << 20)

typedef struct StageRec {
        uint64_t ino;
        const TreeNode *node;
        struct timespec ctime, mtime;
        off_t size;
        mode_t mode;
} StageRec;

typedef struct StageLink {
        uint64_t link_id;
        char *path; /* the first staged path of the link group */
} StageLink;

struct Stage {
        int root_fd;
        int store_fd; /* stage_set_store(): regular files are links to its objects; -1: none */
        int64_t now, sde;
        StageRec *recs; /* open addressing on ino; ino 0 is empty */
        size_t n_recs, cap_recs;
        StageLink *links; /* few: a plain array */
        size_t n_links;
};

static uint64_t mix(uint64_t x) {
        x ^= x >> 33;
        x *= UINT64_C(0xff51afd7ed558ccd);
        x ^= x >> 33;
        return x;
}

static StageRec *rec_slot(const Stage *s, uint64_t ino) {
        size_t mask = s->cap_recs - 1;
        for (size_t i = mix(ino) & mask;; i = (i + 1) & mask)
                if (s->recs[i].ino == ino || s->recs[i].ino == 0)
                        return &s->recs[i];
}

static StageRec *rec_find(const Stage *s, uint64_t ino) {
        if (s->cap_recs == 0 || ino == 0)
                return NULL;
        StageRec *r = rec_slot(s, ino);
        return r->ino == ino ? r : NULL;
}

static int rec_set(Stage *s, const struct stat *st, const TreeNode *n) {
        if (st->st_ino == 0)
                return 0;
        if ((s->n_recs + 1) * 2 > s->cap_recs) {
                size_t cap = s->cap_recs ? s->cap_recs * 2 : 1024;
                StageRec *old = s->recs;
                size_t old_cap = s->cap_recs;
                s->recs = new0(StageRec, cap);
                if (!s->recs) {
                        s->recs = old;
                        return -ENOMEM;
                }
                s->cap_recs = cap;
                for (size_t i = 0; i < old_cap; i++)
                        if (old[i].ino)
                                *rec_slot(s, old[i].ino) = old[i];
                free(old);
        }
        StageRec *r = rec_slot(s, st->st_ino);
        if (r->ino == 0)
                s->n_recs++;
        *r = (StageRec) {
                .ino = st->st_ino,
                .node = n,
                .ctime = st->st_ctim,
                .mtime = st->st_mtim,
                .size = st->st_size,
                .mode = st->st_mode,
        };
        return 0;
}

static bool rec_untouched(const StageRec *r, const struct stat *st) {
        return r->ctime.tv_sec == st->st_ctim.tv_sec && r->ctime.tv_nsec == st->st_ctim.tv_nsec &&
               r->mtime.tv_sec == st->st_mtim.tv_sec && r->mtime.tv_nsec == st->st_mtim.tv_nsec &&
               r->size == st->st_size && r->mode == st->st_mode;
}

int stage_new(const char *dir, int64_t now, int64_t sde, Stage **ret) {
        _cleanup_free_ Stage *s = new0(Stage, 1);
        if (!s)
                return -ENOMEM;
        s->store_fd = -EBADF;
        s->root_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (s->root_fd < 0)
                return negative_errno();
        s->now = now;
        s->sde = sde;
        *ret = TAKE_PTR(s);
        return 0;
}

Stage *stage_free(Stage *s) {
        if (!s)
                return NULL;
        if (s->root_fd >= 0)
                close(s->root_fd);
        if (s->store_fd >= 0)
                close(s->store_fd);
        for (size_t i = 0; i < s->n_links; i++)
                free(s->links[i].path);
        free(s->links);
        free(s->recs);
        free(s);
        return NULL;
}

int stage_set_store(Stage *s, const char *dir) {
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (s->store_fd >= 0)
                close(s->store_fd);
        s->store_fd = fd;
        return 0;
}

static int write_piece(void *userdata, uint64_t off, const void *data, size_t n) {
        return pwrite_all(*(int *) userdata, data, n, off);
}

static int hash_piece(void *userdata, uint64_t off, const void *data, size_t n) {
        hash_update(userdata, data, n);
        return 0;
}

/* The store's object for n's contents, mode and mtime (made now if it is
 * not there): "XX/DIGEST.MODE.MTIME", relative to the store. */
static int store_object(Stage *s, const TreeNode *n, char ret[static 128]) {
        _cleanup_(hash_freep) HashCtx *h = hash_new(HASH_SHA256);
        uint8_t md[32];
        char hex[65];
        if (!h)
                return -ENOMEM;
        int r = n->blob ? tree_blob_foreach(n->blob, hash_piece, h) : 0;
        if (r < 0)
                return r;
        hash_final(h, md);
        hex_encode(md, 32, hex);
        snprintf(ret, 128, "%.2s/%s.%o.%lld", hex, hex, (unsigned) n->mode, (long long) n->mtime);
        if (faccessat(s->store_fd, ret, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                return 0;

        char sub[3] = { hex[0], hex[1], 0 }, tmp[160];
        if (mkdirat(s->store_fd, sub, 0755) < 0 && errno != EEXIST)
                return negative_errno();
        /* Written under a name of its own, then renamed: an object is whole
         * or absent, whoever else writes the same one. */
        snprintf(tmp, sizeof tmp, "%s.tmp.%d.%lx", ret, getpid(), (unsigned long) pthread_self());
        int fd = openat(s->store_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return negative_errno();
        r = n->blob ? tree_blob_foreach(n->blob, write_piece, &fd) : 0;
        struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_sec = n->mtime } };
        if (r >= 0 && (fchmod(fd, n->mode) < 0 || futimens(fd, ts) < 0))
                r = negative_errno();
        close(fd);
        if (r >= 0 && renameat(s->store_fd, tmp, s->store_fd, ret) < 0)
                r = negative_errno();
        if (r < 0)
                (void) unlinkat(s->store_fd, tmp, 0);
        return r;
}

/* path is absolute and normalised; "" or "." for the root itself. */
static int open_in_root(const Stage *s, const char *path, uint64_t flags) {
        struct open_how how = {
                .flags = flags | O_CLOEXEC,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        const char *rel = path[0] == '/' ? path + 1 : path;
        long fd = syscall(SYS_openat2, s->root_fd, *rel ? rel : ".", &how, sizeof how);
        return fd < 0 ? negative_errno() : (int) fd;
}

static void fd_proc_path(int fd, char buf[static 32]) {
        snprintf(buf, 32, "/proc/self/fd/%d", fd);
}

/* Whether the directory is as this stage last left it: then what is made
 * in it now is the tree's doing, and dir_settle() puts its time back. */
static bool dir_untouched(Stage *s, int dirfd) {
        struct stat st;
        if (fstat(dirfd, &st) < 0)
                return false;
        const StageRec *r = rec_find(s, st.st_ino);
        return r && r->node && rec_untouched(r, &st);
}

/* Sets a directory's mtime back to its node's after something was made in
 * it, and remembers the ctime that gives. A directory that code in the
 * sandbox changed stays changed (its time is clamped when folded). */
static int dir_settle(Stage *s, int dirfd, bool untouched) {
        struct stat st;
        char p[32];
        if (!untouched)
                return 0;
        if (fstat(dirfd, &st) < 0)
                return negative_errno();
        StageRec *r = rec_find(s, st.st_ino);
        if (!r || !r->node)
                return 0;
        fd_proc_path(dirfd, p);
        struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_sec = r->node->mtime } };
        if (utimensat(AT_FDCWD, p, ts, 0) < 0 || fstat(dirfd, &st) < 0)
                return negative_errno();
        return rec_set(s, &st, r->node);
}

/* Runs fn in dirfd; if the directory's mode keeps its owner out, with the
 * owner's rwx for the moment. */
typedef int (*DirOp)(int dirfd, const char *name, void *userdata);
static int in_dir(int dirfd, const char *name, DirOp fn, void *userdata) {
        int r = fn(dirfd, name, userdata);
        if (r != -EACCES)
                return r;
        struct stat st;
        char p[32];
        if (fstat(dirfd, &st) < 0)
                return negative_errno();
        fd_proc_path(dirfd, p);
        if (chmod(p, (st.st_mode & 07777) | 0700) < 0)
                return -EACCES;
        r = fn(dirfd, name, userdata);
        if (chmod(p, st.st_mode & 07777) < 0 && r >= 0)
                r = negative_errno();
        return r;
}

static int op_clear(int dirfd, const char *name, void *userdata) {
        bool keep_dir = *(bool *) userdata;
        struct stat st;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        if (S_ISDIR(st.st_mode))
                return keep_dir ? 1 : rm_rf_at(dirfd, name);
        return unlinkat(dirfd, name, 0) < 0 ? negative_errno() : 0;
}

static int split_path(const char *path, char **ret_parent, const char **ret_name) {
        const char *slash = strrchr(path, '/');
        if (!slash || !slash[1])
                return -EINVAL;
        *ret_parent = strndup(path, slash == path ? 1 : (size_t) (slash - path));
        *ret_name = slash + 1;
        return *ret_parent ? 0 : -ENOMEM;
}

static int put_node(Stage *s, const TreeNode *n, bool implicit, int dirfd, const char *name);

/* A descriptor of the directory at path, made (from t's node, or 0755 with
 * the tree's time) where it is missing. */
static int open_dir(Stage *s, const Tree *t, const char *path) {
        int fd = open_in_root(s, path, O_RDONLY | O_DIRECTORY);
        if (fd != -ENOENT && fd != -EACCES)
                return fd;
        if (fd == -EACCES)
                return open_in_root(s, path, O_PATH | O_DIRECTORY);

        _cleanup_free_ char *parent = NULL;
        const char *name;
        int r = split_path(path, &parent, &name);
        if (r < 0)
                return r;
        int pfd = open_dir(s, t, parent);
        if (pfd < 0)
                return pfd;
        const TreeNode *n = tree_get(t, path);
        TreeNode implicit = { .path = (char *) path, .type = TREE_DIR, .mode = 0755, .mtime = tree_mtime(t) };
        bool use_tree = n && n->type == TREE_DIR;
        r = put_node(s, use_tree ? n : &implicit, !use_tree, pfd, name);
        close(pfd);
        if (r < 0)
                return r;
        fd = open_in_root(s, path, O_RDONLY | O_DIRECTORY);
        return fd == -EACCES ? open_in_root(s, path, O_PATH | O_DIRECTORY) : fd;
}

typedef struct PutCtx {
        Stage *s;
        const TreeNode *n;
        const char *link_parent; /* hard link: the group's first path, split */
        const char *link_name;
        int link_fd;
        bool implicit;
} PutCtx;

static int op_put(int dirfd, const char *name, void *userdata) {
        PutCtx *c = userdata;
        const TreeNode *n = c->n;
        struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_sec = n->mtime } };
        struct stat st;
        int r;

        switch (n->type) {
        case TREE_DIR:
                if (mkdirat(dirfd, name, 0700) < 0)
                        return negative_errno();
                if (fchmodat(dirfd, name, n->mode, 0) < 0)
                        return negative_errno();
                break;
        case TREE_SYMLINK:
                if (symlinkat(n->target, dirfd, name) < 0)
                        return negative_errno();
                break;
        case TREE_FIFO:
                if (mkfifoat(dirfd, name, 0600) < 0 || fchmodat(dirfd, name, n->mode, 0) < 0)
                        return negative_errno();
                break;
        case TREE_REG:
                if (c->link_fd >= 0 && linkat(c->link_fd, c->link_name, dirfd, name, 0) == 0) {
                        /* The inode is staged already; a new link changes its ctime. */
                        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                                return negative_errno();
                        return rec_set(c->s, &st, n);
                }
                if (c->s->store_fd >= 0) {
                        char obj[128];
                        r = store_object(c->s, n, obj);
                        if (r < 0)
                                return r;
                        if (linkat(c->s->store_fd, obj, dirfd, name, 0) < 0)
                                return negative_errno();
                        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                                return negative_errno();
                        return rec_set(c->s, &st, n);
                }
                __attribute__((fallthrough));
        case TREE_CHR:
        case TREE_BLK: {
                /* Device nodes are empty files here (stage.h). */
                int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (fd < 0)
                        return negative_errno();
                r = n->type == TREE_REG && n->blob ? tree_blob_foreach(n->blob, write_piece, &fd) : 0;
                if (r >= 0 && fchmod(fd, n->mode) < 0)
                        r = negative_errno();
                close(fd);
                if (r < 0)
                        return r;
                break;
        }
        default:
                return 0; /* sockets: no image holds one (install.c) */
        }
        if (utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0 || fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return negative_errno();
        /* A directory the tree does not have gets no node: nothing to keep. */
        return rec_set(c->s, &st, c->implicit ? NULL : n);
}

static StageLink *link_find(Stage *s, uint64_t id) {
        for (size_t i = 0; i < s->n_links; i++)
                if (s->links[i].link_id == id)
                        return &s->links[i];
        return NULL;
}

/* A directory there already that no node of ours made (the sandbox's
 * mount points, or one made as a parent without a node) takes the node's
 * mode and time: the package's directory is what the image gets. */
static int adopt_dir(Stage *s, const TreeNode *n, int dirfd, const char *name) {
        struct stat st;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return negative_errno();
        const StageRec *r = rec_find(s, st.st_ino);
        if (r && r->node)
                return 0;
        struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_sec = n->mtime } };
        if (fchmodat(dirfd, name, n->mode, 0) < 0 || utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0 ||
            fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return negative_errno();
        return rec_set(s, &st, n);
}

static int put_node(Stage *s, const TreeNode *n, bool implicit, int dirfd, const char *name) {
        PutCtx c = { .s = s, .n = n, .link_fd = -1, .implicit = implicit };
        _cleanup_free_ char *link_parent = NULL;
        bool keep_dir = n->type == TREE_DIR, untouched = dir_untouched(s, dirfd);
        int r;

        r = in_dir(dirfd, name, op_clear, &keep_dir);
        if (r < 0)
                return r;
        if (r > 0) /* a directory that is there already keeps its attributes */
                return implicit ? 0 : adopt_dir(s, n, dirfd, name);
        StageLink *l = n->type == TREE_REG && n->link_id ? link_find(s, n->link_id) : NULL;
        if (l && split_path(l->path, &link_parent, &c.link_name) >= 0)
                c.link_fd = open_in_root(s, link_parent, O_PATH | O_DIRECTORY);
        r = in_dir(dirfd, name, op_put, &c);
        if (c.link_fd >= 0)
                close(c.link_fd);
        if (r < 0)
                return r;
        if (n->type == TREE_REG && n->link_id && !l) {
                StageLink *nl = realloc(s->links, (s->n_links + 1) * sizeof *nl);
                if (!nl)
                        return -ENOMEM;
                s->links = nl;
                nl[s->n_links] = (StageLink) { .link_id = n->link_id, .path = strdup(n->path) };
                if (!nl[s->n_links++].path)
                        return -ENOMEM;
        }
        return dir_settle(s, dirfd, untouched);
}

int stage_put(Stage *s, const Tree *t, const TreeNode *n) {
        if (strcmp(n->path, "/") == 0) {
                struct stat st;
                char p[32];
                fd_proc_path(s->root_fd, p);
                struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_sec = n->mtime } };
                if (chmod(p, n->mode) < 0 || utimensat(AT_FDCWD, p, ts, 0) < 0 || fstat(s->root_fd, &st) < 0)
                        return negative_errno();
                return rec_set(s, &st, n);
        }
        _cleanup_free_ char *parent = NULL;
        const char *name;
        int r = split_path(n->path, &parent, &name);
        if (r < 0)
                return r;
        int dirfd = open_dir(s, t, parent);
        if (dirfd < 0)
                return dirfd;
        r = put_node(s, n, false, dirfd, name);
        close(dirfd);
        return r;
}

int stage_remove(Stage *s, const char *path) {
        _cleanup_free_ char *parent = NULL;
        const char *name;
        bool keep_dir = false;
        int r = split_path(path, &parent, &name);
        if (r < 0)
                return r;
        int dirfd = open_in_root(s, parent, O_RDONLY | O_DIRECTORY);
        if (dirfd == -EACCES)
                dirfd = open_in_root(s, parent, O_PATH | O_DIRECTORY);
        if (dirfd == -ENOENT || dirfd == -ENOTDIR)
                return 0;
        if (dirfd < 0)
                return dirfd;
        bool untouched = dir_untouched(s, dirfd);
        r = in_dir(dirfd, name, op_clear, &keep_dir);
        if (r >= 0)
                r = dir_settle(s, dirfd, untouched);
        close(dirfd);
        return r;
}

int stage_read_file(Stage *s, const char *path, size_t max, char **ret, size_t *ret_size) {
        int fd = open_in_root(s, path, O_RDONLY);
        if (fd < 0)
                return fd;
        struct stat st;
        int r = 0;
        if (fstat(fd, &st) < 0)
                r = negative_errno();
        else if (!S_ISREG(st.st_mode))
                r = -EISDIR;
        else if ((uint64_t) st.st_size > max)
                r = -EFBIG;
        _cleanup_free_ char *buf = r < 0 ? NULL : malloc((size_t) st.st_size + 1);
        if (r >= 0 && !buf)
                r = -ENOMEM;
        size_t got = 0;
        while (r >= 0 && got < (size_t) st.st_size) {
                ssize_t k = read(fd, buf + got, (size_t) st.st_size - got);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        r = k < 0 ? negative_errno() : -EIO;
                else
                        got += (size_t) k;
        }
        close(fd);
        if (r < 0)
                return r;
        buf[got] = 0;
        *ret = TAKE_PTR(buf);
        *ret_size = got;
        return 0;
}

/* ---- folding ---------------------------------------------------------------- */

typedef struct FoldLink {
        uint64_t ino;
        uint64_t link_id;
} FoldLink;

typedef struct Fold {
        Stage *s;
        const Recorder *rec;
        const char *const *skip;
        size_t n_skip;
        Tree *t;
        FoldLink *links;
        size_t n_links;
} Fold;

static int name_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int64_t fold_time(const Fold *f, const struct stat *st) {
        int64_t m = st->st_mtim.tv_sec;
        return m >= f->s->now || m > f->s->sde ? f->s->sde : m;
}

/* Opens name in dirfd for reading, giving its owner read access for the
 * moment if its mode keeps it out (/etc/shadow is 0000). */
static int open_read(int dirfd, const char *name, int flags) {
        int fd = openat(dirfd, name, flags | O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0 || errno != EACCES)
                return fd < 0 ? negative_errno() : fd;
        struct stat st;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return negative_errno();
        if (fchmodat(dirfd, name, (st.st_mode & 07777) | 0500, 0) < 0)
                return -EACCES;
        fd = openat(dirfd, name, flags | O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        int r = fd < 0 ? negative_errno() : fd;
        (void) fchmodat(dirfd, name, st.st_mode & 07777, 0);
        return r;
}

static int read_contents(int dirfd, const char *name, const struct stat *st, TreeBlob **ret) {
        if (st->st_size == 0) {
                *ret = NULL;
                return 0;
        }
        int fd = open_read(dirfd, name, 0);
        if (fd < 0)
                return fd;
        if ((uint64_t) st->st_size > STAGE_READ_MAX) {
                /* The staging directory goes, the open file stays. */
                *ret = tree_blob_take_fd(fd, 0, (size_t) st->st_size);
                return *ret ? 0 : -ENOMEM;
        }
        uint8_t *buf = malloc((size_t) st->st_size);
        if (!buf) {
                close(fd);
                return -ENOMEM;
        }
        size_t got = 0;
        while (got < (size_t) st->st_size) {
                ssize_t k = pread(fd, buf + got, (size_t) st->st_size - got, (off_t) got);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        int r = k < 0 ? negative_errno() : -EIO; /* changed while read */
                        close(fd);
                        free(buf);
                        return r;
                }
                got += (size_t) k;
        }
        close(fd);
        *ret = tree_blob_take(buf, got);
        return *ret ? 0 : -ENOMEM;
}

static int fold_xattrs(TreeNode *n, const TreeNode *from, const RecordEntry *e) {
        int r;
        for (size_t i = 0; from && i < from->n_xattrs; i++) {
                bool changed = false;
                for (size_t j = 0; e && j < e->n_xattrs; j++)
                        if (strcmp(e->xattrs[j].name, from->xattrs[i].name) == 0)
                                changed = true;
                if (changed)
                        continue;
                r = tree_node_set_xattr(n, from->xattrs[i].name, from->xattrs[i].value, from->xattrs[i].size);
                if (r < 0)
                        return r;
        }
        for (size_t j = 0; e && j < e->n_xattrs; j++) {
                if (e->xattrs[j].removed)
                        continue;
                r = tree_node_set_xattr(n, e->xattrs[j].name, e->xattrs[j].value, e->xattrs[j].size);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int fold_link_id(Fold *f, uint64_t ino, uint64_t *ret) {
        for (size_t i = 0; i < f->n_links; i++)
                if (f->links[i].ino == ino) {
                        *ret = f->links[i].link_id;
                        return 0;
                }
        FoldLink *nl = realloc(f->links, (f->n_links + 1) * sizeof *nl);
        if (!nl)
                return -ENOMEM;
        f->links = nl;
        nl[f->n_links++] = (FoldLink) { .ino = ino, .link_id = tree_new_link_id(f->t) };
        *ret = nl[f->n_links - 1].link_id;
        return 0;
}

/* Fills n (path set) from the staged file name in dirfd. */
static int fold_node(Fold *f, int dirfd, const char *name, const struct stat *st, TreeNode *n) {
        const StageRec *sr = rec_find(f->s, st->st_ino);
        const TreeNode *from = sr ? sr->node : NULL;
        const RecordEntry *e = f->rec ? recorder_find(f->rec, st->st_dev, st->st_ino) : NULL;
        bool untouched = sr && from && rec_untouched(sr, st);
        int r;

        n->type = tree_type_from_mode(st->st_mode);
        n->mode = st->st_mode & 07777;
        n->mtime = untouched ? from->mtime : fold_time(f, st);
        if (from) {
                n->uid = from->uid;
                n->gid = from->gid;
                n->flags = from->flags;
                if (from->owner && !(n->owner = strdup(from->owner)))
                        return -ENOMEM;
        }
        if (e && e->has_owner && e->uid_set)
                n->uid = e->uid;
        if (e && e->has_owner && e->gid_set)
                n->gid = e->gid;
        if (e && e->is_device && S_ISREG(st->st_mode)) {
                n->type = tree_type_from_mode(e->mode);
                n->rdev_major = e->rdev_major;
                n->rdev_minor = e->rdev_minor;
        } else if (from && (from->type == TREE_CHR || from->type == TREE_BLK) && S_ISREG(st->st_mode) &&
                   st->st_size == 0) {
                n->type = from->type;
                n->rdev_major = from->rdev_major;
                n->rdev_minor = from->rdev_minor;
        }
        switch (n->type) {
        case TREE_REG:
                if (untouched && from->type == TREE_REG)
                        n->blob = from->blob ? tree_blob_ref(from->blob) : NULL;
                else {
                        r = read_contents(dirfd, name, st, &n->blob);
                        if (r < 0)
                                return r;
                }
                if (st->st_nlink > 1) {
                        r = fold_link_id(f, st->st_ino, &n->link_id);
                        if (r < 0)
                                return r;
                }
                break;
        case TREE_SYMLINK:
                if (untouched && from->type == TREE_SYMLINK)
                        n->target = strdup(from->target);
                else {
                        _cleanup_free_ char *buf = malloc((size_t) PATH_MAX + 1);
                        ssize_t k = buf ? readlinkat(dirfd, name, buf, PATH_MAX) : -1;
                        if (!buf)
                                return -ENOMEM;
                        if (k < 0)
                                return negative_errno();
                        buf[k] = 0;
                        n->target = strdup(buf);
                }
                if (!n->target)
                        return -ENOMEM;
                break;
        default:
                break;
        }
        return fold_xattrs(n, from, e);
}

static bool skipped(const Fold *f, const char *path) {
        for (size_t i = 0; i < f->n_skip; i++)
                if (strcmp(f->skip[i], path) == 0)
                        return true;
        return false;
}

static int fold_dir(Fold *f, int dirfd, const char *path) {
        _cleanup_free_ char **names = NULL;
        size_t n_names = 0, cap = 0;
        int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return negative_errno();
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -ENOMEM;
        }
        int r = 0;
        for (struct dirent *de; (errno = 0, de = readdir(d));) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (n_names == cap) {
                        char **nn = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof *nn);
                        if (!nn) {
                                r = -ENOMEM;
                                break;
                        }
                        names = nn;
                }
                if (!(names[n_names++] = strdup(de->d_name))) {
                        r = -ENOMEM;
                        break;
                }
        }
        if (r >= 0 && errno != 0)
                r = negative_errno();
        closedir(d);
        if (r >= 0)
                if (n_names > 1)
                        qsort(names, n_names, sizeof *names, name_cmp);

        for (size_t i = 0; r >= 0 && i < n_names; i++) {
                _cleanup_free_ char *child = NULL;
                struct stat st;
                if (asprintf(&child, "%s/%s", strcmp(path, "/") == 0 ? "" : path, names[i]) < 0) {
                        child = NULL;
                        r = -ENOMEM;
                        break;
                }
                if (skipped(f, child))
                        continue;
                if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = negative_errno();
                        break;
                }
                if (S_ISSOCK(st.st_mode))
                        continue; /* a socket a daemon left: no image holds one */
                TreeNode *n = new0(TreeNode, 1);
                if (!n) {
                        r = -ENOMEM;
                        break;
                }
                n->path = TAKE_PTR(child);
                r = fold_node(f, dirfd, names[i], &st, n);
                if (r < 0) {
                        tree_node_free(n);
                        break;
                }
                bool is_dir = n->type == TREE_DIR;
                r = tree_add(f->t, n, &n);
                if (r < 0 || !is_dir)
                        continue;
                const char *p = n->path;
                int sub = open_read(dirfd, names[i], O_DIRECTORY);
                if (sub < 0) {
                        r = sub;
                        break;
                }
                r = fold_dir(f, sub, p);
                close(sub);
        }
        for (size_t i = 0; i < n_names; i++)
                free(names[i]);
        return r;
}

int stage_fold(Stage *s, const Recorder *rec, const char *const *skip, size_t n_skip, Tree **ret) {
        Fold f = { .s = s, .rec = rec, .skip = skip, .n_skip = n_skip };
        struct stat st;
        int r;

        int rootfd = open_in_root(s, "/", O_RDONLY | O_DIRECTORY);
        if (rootfd < 0)
                return rootfd;
        if (fstat(rootfd, &st) < 0) {
                r = negative_errno();
                close(rootfd);
                return r;
        }
        f.t = tree_new(s->sde);
        TreeNode *root = f.t ? tree_get(f.t, "/") : NULL;
        if (!root) {
                close(rootfd);
                tree_free(f.t);
                return -ENOMEM;
        }
        /* The root's node, filled like any other, then copied into the new
         * tree's root. */
        TreeNode *tmp = new0(TreeNode, 1);
        r = tmp ? fold_node(&f, rootfd, ".", &st, tmp) : -ENOMEM;
        if (r >= 0) {
                root->mode = tmp->mode;
                root->uid = tmp->uid;
                root->gid = tmp->gid;
                root->mtime = tmp->mtime;
                for (size_t i = 0; r >= 0 && i < tmp->n_xattrs; i++)
                        r = tree_node_set_xattr(root, tmp->xattrs[i].name, tmp->xattrs[i].value, tmp->xattrs[i].size);
        }
        tree_node_free(tmp);
        if (r >= 0)
                r = fold_dir(&f, rootfd, "/");
        close(rootfd);
        free(f.links);
        if (r < 0) {
                tree_free(f.t);
                return r;
        }
        *ret = f.t;
        return 0;
}

int stage_for_sandbox(const Tree *t, const char *prefix, int64_t sde, StageRoot *ret) {
        _cleanup_free_ TreeNode **nodes = NULL;
        size_t n = 0;
        *ret = (StageRoot) {};
        /* The sandbox makes /proc and /dev in its root; the tree keeps them
         * only if it had them. */
        if (!tree_get(t, "/proc"))
                ret->skip[ret->n_skip++] = "/proc";
        if (!tree_get(t, "/dev"))
                ret->skip[ret->n_skip++] = "/dev";
        /* In memory where there is room: creating thousands of files on a
         * disk costs more than what runs on them. */
        uint64_t bytes = 0;
        int r = tree_list(t, &nodes, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                bytes += (nodes[i]->blob ? nodes[i]->blob->size : 0) + 4096;
        r = run_mkdtemp_memory(prefix, bytes, &ret->dir);
        if (r >= 0)
                r = stage_new(ret->dir, (int64_t) time(NULL) - 1, sde, &ret->stage);
        if (r < 0)
                stage_root_release(ret);
        return r;
}

void stage_root_release(StageRoot *s) {
        s->stage = stage_free(s->stage);
        if (s->dir) {
                (void) rm_rf(s->dir);
                run_untrack(s->dir);
                free(s->dir);
                s->dir = NULL;
        }
}
