/* SPDX-License-Identifier: MIT */

/* Image settings: [[images.NAME.files]] copied from the project into the
 * tree, with their modes and owners, as install(1) would. */

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/strbuf.h"
#include "compose/settings-internal.h"

/* ---- files ---- */

/* One owner of an image file: the name's id in the tree's account files
 * (root is 0 even without them); an unknown name is an error at its key. */
static int owner_id(const Tree *t, const FileSpec *f, const Image *im, const char *key, const char *name,
                    int (*lookup)(const Tree *t, const char *name, uint32_t *ret), uint32_t *ret, Diagnostics *d) {
        if (lookup(t, name, ret) >= 0)
                return 0;
        if (strcmp(name, "root") == 0) {
                *ret = 0;
                return 0;
        }
        SourcePos pos = cfg_pos(&f->obj, key);
        diag_error(d, &pos, "image '%s': file '%s': %s '%s' does not exist in the image", im->name, f->path, key, name);
        return -EINVAL;
}

static int owner_ids(const Tree *t, const FileSpec *f, const Image *im, uint32_t *uid, uint32_t *gid, Diagnostics *d) {
        int r = owner_id(t, f, im, "user", f->user, tree_lookup_user, uid, d);
        int k = owner_id(t, f, im, "group", f->group, tree_lookup_group, gid, d);
        return r < 0 ? r : k;
}

static int cmp_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* A node that cannot be added where the configuration puts it. */
static int placement_error(int r, const FileSpec *f, const char *dst, Diagnostics *d) {
        if (r == -ENOTDIR || r == -EPERM) {
                SourcePos pos = cfg_pos(&f->obj, "path");
                diag_error(d, &pos, "cannot put '%s' into the image: %s", dst,
                           r == -ENOTDIR ? "a parent is not a directory" : "the path leaves the root");
                return -EINVAL;
        }
        return r;
}

static int copy_in(Tree *t, const char *src, const char *dst, int mode, uint32_t uid, uint32_t gid, int64_t mtime,
                   bool top, const FileSpec *f, Diagnostics *d) {
        struct stat st;
        TreeNode *n = NULL;
        int r;

        if (lstat(src, &st) < 0) {
                SourcePos pos = cfg_pos(&f->obj, "source");
                diag_error(d, &pos, "cannot read '%s': %s", src, strerror(errno));
                return -EINVAL;
        }
        uint32_t m = top && mode >= 0 ? (uint32_t) mode : st.st_mode & 07777;
        if (S_ISDIR(st.st_mode)) {
                r = tree_add_dir(t, dst, m, uid, gid, &n);
                if (r < 0)
                        return placement_error(r, f, dst, d);
                n->mtime = mtime;
                _cleanup_(closedirp) DIR *dir = opendir(src);
                if (!dir) {
                        SourcePos pos = cfg_pos(&f->obj, "source");
                        diag_error(d, &pos, "cannot read directory '%s': %s", src, strerror(errno));
                        return -EINVAL;
                }
                /* Sorted, so that the order (and link ids) do not depend on the
                 * host's directory order. */
                char **names = NULL;
                size_t nn = 0, alloc = 0;
                struct dirent *de;
                r = 0;
                while ((de = readdir(dir))) {
                        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                                continue;
                        char *s = strdup(de->d_name);
                        if (!s || !greedy_realloc((void **) &names, &alloc, nn + 1, sizeof(char *))) {
                                free(s);
                                r = -ENOMEM;
                                break;
                        }
                        names[nn++] = s;
                }
                if (r >= 0 && nn > 1)
                        qsort(names, nn, sizeof(char *), cmp_names);
                for (size_t i = 0; i < nn; i++) {
                        if (r >= 0) {
                                _cleanup_free_ char *s = path_join(src, names[i]), *dd = path_join(dst, names[i]);
                                r = s && dd ? copy_in(t, s, dd, mode, uid, gid, mtime, false, f, d) : -ENOMEM;
                        }
                        free(names[i]);
                }
                free(names);
                return r;
        }
        if (S_ISLNK(st.st_mode)) {
                _cleanup_free_ char *target = malloc((size_t) st.st_size + 1);
                if (!target)
                        return -ENOMEM;
                ssize_t l = readlink(src, target, (size_t) st.st_size + 1);
                if (l < 0 || l > st.st_size) {
                        SourcePos pos = cfg_pos(&f->obj, "source");
                        diag_error(d, &pos, "cannot read link '%s'", src);
                        return -EINVAL;
                }
                target[l] = 0;
                r = tree_add_symlink(t, dst, target, &n);
                if (r < 0)
                        return placement_error(r, f, dst, d);
                n->uid = uid;
                n->gid = gid;
                n->mtime = mtime;
                return 0;
        }
        if (!S_ISREG(st.st_mode)) {
                SourcePos pos = cfg_pos(&f->obj, "source");
                diag_error(d, &pos, "'%s' is not a regular file, directory or symlink", src);
                return -EINVAL;
        }
        _cleanup_free_ char *data = NULL;
        size_t len;
        r = read_full_file(src, &data, &len);
        if (r < 0) {
                SourcePos pos = cfg_pos(&f->obj, "source");
                diag_error(d, &pos, "cannot read '%s': %s", src, strerror(-r));
                return -EINVAL;
        }
        const TreeNode *old = tree_get(t, dst);
        if (old && old->type == TREE_DIR) {
                SourcePos pos = cfg_pos(&f->obj, "path");
                diag_error(d, &pos, "'%s' is a directory in the image; a file cannot replace it", dst);
                return -EINVAL;
        }
        r = tree_add_file(t, dst, data, len, m, uid, gid, &n);
        if (r < 0)
                return placement_error(r, f, dst, d);
        n->mtime = mtime;
        return 0;
}

int apply_files(Tree *t, const Project *p, const Image *im, int64_t mtime, Diagnostics *d) {
        int ret = 0;
        for (size_t i = 0; i < im->files.n; i++) {
                const FileSpec *f = &im->files.items[i];
                uint32_t uid = 0, gid = 0;
                if (owner_ids(t, f, im, &uid, &gid, d) < 0) {
                        ret = -EINVAL;
                        continue;
                }
                _cleanup_free_ char *src = project_path(p, f->source), *where = NULL;
                if (!src)
                        return -ENOMEM;
                /* Symlinked directories on the way are followed inside the tree. */
                int r = tree_resolve(t, f->path, &where);
                if (r < 0) {
                        SourcePos pos = cfg_pos(&f->obj, "path");
                        diag_error(d, &pos, "cannot put '%s' into the image: %s", f->path,
                                   r == -ENOTDIR ? "a parent is not a directory" : strerror(-r));
                        ret = -EINVAL;
                        continue;
                }
                r = copy_in(t, src, where, f->mode, uid, gid, mtime, true, f, d);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        ret = -EINVAL;
        }
        return ret;
}
