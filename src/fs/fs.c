/* SPDX-License-Identifier: MIT */

/* What every file system writer shares (fs.h): which nodes of the tree it
 * holds. */

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "fs/fs.h"

/* Whether path lies below prefix (not prefix itself). */
static bool path_under(const char *path, const char *prefix) {
        size_t l = strlen(prefix);
        if (l == 1) /* "/" */
                return path[1] != 0;
        return strncmp(path, prefix, l) == 0 && path[l] == '/';
}

int fs_select(const Tree *t, const FsOptions *o, FsNode **ret, size_t *ret_n) {
        _cleanup_free_ TreeNode **nodes = NULL;
        _cleanup_free_ char *root = NULL;
        _cleanup_free_ FsNode *v = NULL;
        char **ex = NULL;
        size_t n_nodes = 0, n_ex = 0, n = 0;
        int r;

        r = tree_path_normalize(o->root ? o->root : "/", &root);
        if (r < 0)
                return r;
        size_t root_len = strcmp(root, "/") == 0 ? 0 : strlen(root);

        ex = calloc(o->n_exclude + 1, sizeof(char *));
        if (!ex)
                return -ENOMEM;
        for (; n_ex < o->n_exclude; n_ex++) {
                r = tree_path_normalize(o->exclude[n_ex], &ex[n_ex]);
                if (r < 0)
                        goto finish;
        }
        r = tree_list(t, &nodes, &n_nodes);
        if (r < 0)
                goto finish;
        v = calloc(n_nodes ? n_nodes : 1, sizeof(FsNode));
        if (!v) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < n_nodes; i++) {
                const char *path = nodes[i]->path, *fspath;

                if (root_len > 0) {
                        if (strncmp(path, root, root_len) != 0 || (path[root_len] != 0 && path[root_len] != '/'))
                                continue;
                        fspath = path[root_len] ? path + root_len : "/";
                } else
                        fspath = path;

                bool skip = false;
                for (size_t j = 0; j < n_ex && !skip; j++)
                        skip = path_under(path, ex[j]);
                if (skip)
                        continue;

                if (n == 0 && strcmp(fspath, "/") != 0) {
                        r = -ENOENT; /* the root is missing: it would sort first */
                        goto finish;
                }
                v[n++] = (FsNode) { .node = nodes[i], .path = fspath };
        }
        if (n == 0)
                r = -ENOENT;
        else if (v[0].node->type != TREE_DIR)
                r = -ENOTDIR;
        else {
                *ret = TAKE_PTR(v);
                *ret_n = n;
                r = 0;
        }
finish:
        for (size_t j = 0; j < n_ex; j++)
                free(ex[j]);
        free(ex);
        return r;
}
