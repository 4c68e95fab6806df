/* SPDX-License-Identifier: MIT */

/* Image settings: /etc/selinux/config (selinux_config(5)) and the labels
 * (security.selinux: the context string with its terminating NUL, as
 * setfiles(8) writes it) from the policy's file_contexts, through
 * libselinux (dlopen'd). */

#include <dlfcn.h>
#include <pthread.h>
#include <selinux/label.h>
#include <selinux/selinux.h>
#include <sys/stat.h>
#include <unistd.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/run.h"
#include "basic/strbuf.h"
#include "compose/settings-internal.h"

/* ---- SELinux ---- */

/* The policy type: SELINUXTYPE= of the tree's config, else the one policy
 * directory present with file contexts; NULL if the tree has no policy. */
static int selinux_policy(const Tree *t, char **ret) {
        _cleanup_free_ char *cfg = NULL;
        *ret = NULL;
        if (tree_read_text(t, "/etc/selinux/config", &cfg) >= 0) {
                for (const char *l = cfg; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                        l += strspn(l, " \t");
                        if (strncmp(l, "SELINUXTYPE=", 12) == 0) {
                                size_t len = strcspn(l + 12, " \t\r\n#");
                                if (len == 0)
                                        break;
                                *ret = strndup(l + 12, len);
                                return *ret ? 0 : -ENOMEM;
                        }
                }
        }
        _cleanup_free_ TreeNode **all = NULL;
        size_t n;
        int r = tree_list(t, &all, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                const char *p = all[i]->path, *pfx = "/etc/selinux/";
                if (strncmp(p, pfx, 13) != 0)
                        continue;
                const char *slash = strchr(p + 13, '/');
                if (slash && strcmp(slash, "/contexts/files/file_contexts") == 0 && all[i]->type == TREE_REG) {
                        *ret = strndup(p + 13, (size_t) (slash - (p + 13)));
                        return *ret ? 0 : -ENOMEM;
                }
        }
        return 0;
}

int apply_selinux_config(Tree *t, const Image *im, int64_t mtime) {
        _cleanup_free_ char *policy = NULL, *old = NULL;
        int r = selinux_policy(t, &policy);
        if (r < 0)
                return r;
        bool have = tree_get(t, "/etc/selinux") != NULL;
        if (!policy && !have && !cfg_has(&im->obj, "selinux"))
                return 0; /* no SELinux in the image and none asked for */
        const char *mode = selinux_mode_to_string(im->selinux);
        _cleanup_(strbuf_releasep) StrBuf sb = STRBUF_INIT;
        if (tree_read_text(t, "/etc/selinux/config", &old) >= 0) {
                /* Keep the package's file; only SELINUX= changes. */
                bool done = false;
                for (const char *l = old, *e; *l; l = e) {
                        e = strchrnul(l, '\n');
                        const char *k = l + strspn(l, " \t");
                        if (strncmp(k, "SELINUX=", 8) == 0) {
                                strbuf_printf(&sb, "SELINUX=%s", mode);
                                done = true;
                        } else
                                strbuf_put(&sb, l, (size_t) (e - l));
                        if (*e) {
                                strbuf_putc(&sb, '\n');
                                e++;
                        }
                }
                if (!done)
                        strbuf_printf(&sb, "%sSELINUX=%s\n", sb.len && sb.buf[sb.len - 1] != '\n' ? "\n" : "", mode);
        } else
                strbuf_printf(&sb,
                              "# This file controls the state of SELinux on the system (selinux_config(5)).\n"
                              "SELINUX=%s\nSELINUXTYPE=%s\n",
                              mode, policy ? policy : "targeted");
        if (sb.oom)
                return -ENOMEM;
        return tree_write_text(t, "/etc/selinux/config", sb.buf, 0644, mtime);
}

/* libselinux, opened when a tree has a policy (see meson.build). */
static struct {
        struct selabel_handle *(*open)(unsigned backend, const struct selinux_opt *opts, unsigned nopts);
        int (*lookup_raw)(struct selabel_handle *h, char **con, const char *key, int type);
        void (*close)(struct selabel_handle *h);
        void (*freecon)(char *con);
} sel;
static pthread_once_t sel_once = PTHREAD_ONCE_INIT;

static void sel_load(void) {
        void *h = dlopen("libselinux.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!h)
                return;
        *(void **) &sel.open = dlsym(h, "selabel_open");
        *(void **) &sel.lookup_raw = dlsym(h, "selabel_lookup_raw");
        *(void **) &sel.close = dlsym(h, "selabel_close");
        *(void **) &sel.freecon = dlsym(h, "freecon");
        if (!sel.lookup_raw || !sel.close || !sel.freecon)
                sel.open = NULL;
}

static bool has_label(const TreeNode *n) {
        for (size_t i = 0; i < n->n_xattrs; i++)
                if (strcmp(n->xattrs[i].name, "security.selinux") == 0)
                        return true;
        return false;
}

static int label_tree(Tree *t, const Image *im, bool only_new, Diagnostics *d, char **ret_policy,
                      size_t *ret_labelled) {
        _cleanup_free_ char *policy = NULL, *dir = NULL, *fc = NULL;
        _cleanup_free_ TreeNode **all = NULL;
        size_t n, labelled = 0;
        int r;

        *ret_policy = NULL;
        *ret_labelled = 0;
        r = selinux_policy(t, &policy);
        if (r < 0)
                return r;
        if (!policy)
                return 0;
        if (asprintf(&fc, "/etc/selinux/%s/contexts/files/file_contexts", policy) < 0)
                return -ENOMEM;
        if (!tree_get(t, fc)) {
                /* With SELinux disabled, a missing policy is expected. */
                if (im->selinux != SELINUX_DISABLED)
                        diag_warning(d, NULL, "image '%s': SELinux policy '%s' has no %s; files are not labelled",
                                     im->name, policy, fc);
                return 0;
        }
        /* libselinux reads file contexts from the host's file system: the
         * policy's files go to a private directory first. */
        r = run_mkdtemp("file-contexts", &dir);
        if (r < 0)
                return r;
        static const char *const suffixes[] = { "", ".homedirs", ".local", ".subs", ".subs_dist" };
        _cleanup_free_ char *local = path_join(dir, "file_contexts");
        if (!local) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                _cleanup_free_ char *src = NULL, *dst = NULL;
                if (asprintf(&src, "%s%s", fc, suffixes[i]) < 0 || asprintf(&dst, "%s%s", local, suffixes[i]) < 0) {
                        r = -ENOMEM;
                        goto finish;
                }
                char *rp = NULL;
                if (tree_resolve(t, src, &rp) < 0)
                        continue;
                const TreeNode *node = tree_get(t, rp);
                free(rp);
                if (!node || node->type != TREE_REG)
                        continue;
                _cleanup_free_ uint8_t *fc_data = NULL;
                size_t fc_size = 0;
                r = tree_blob_load(node->blob, SIZE_MAX - 1, &fc_data, &fc_size);
                if (r >= 0)
                        r = write_file_atomic(dst, fc_data, fc_size, 0600);
                if (r < 0)
                        goto finish;
        }
        pthread_once(&sel_once, sel_load);
        if (!sel.open) {
                diag_error(d, NULL, "image '%s': libselinux.so.1 cannot be loaded to label files (Debian package libselinux1)",
                           im->name);
                r = -EINVAL;
                goto finish;
        }
        struct selinux_opt opts[] = { { SELABEL_OPT_PATH, local } };
        struct selabel_handle *h = sel.open(SELABEL_CTX_FILE, opts, ELEMENTSOF(opts));
        if (!h) {
                diag_error(d, NULL, "image '%s': the file contexts of SELinux policy '%s' cannot be loaded: %s",
                           im->name, policy, strerror(errno));
                r = -EINVAL;
                goto finish;
        }
        r = tree_list(t, &all, &n);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                char *con = NULL;
                uint32_t mode = tree_type_to_mode(all[i]->type) | all[i]->mode;
                if (only_new && has_label(all[i]))
                        continue;
                if (sel.lookup_raw(h, &con, all[i]->path, (int) mode) < 0) {
                        if (errno == ENOENT)
                                continue; /* no context: left unlabelled, as setfiles does */
                        r = -errno;
                        break;
                }
                if (strcmp(con, "<<none>>") != 0) {
                        r = tree_node_set_xattr(all[i], "security.selinux", con, strlen(con) + 1);
                        labelled++;
                }
                sel.freecon(con);
        }
        sel.close(h);
        if (r >= 0) {
                *ret_policy = TAKE_PTR(policy);
                *ret_labelled = labelled;
                r = 0;
        }
finish:
        (void) rm_rf(dir);
        return r;
}

int settings_label(Tree *t, const Image *im, Diagnostics *d, char **ret_policy, size_t *ret_labelled) {
        return label_tree(t, im, false, d, ret_policy, ret_labelled);
}

int settings_label_new(Tree *t, const Image *im, Diagnostics *d) {
        _cleanup_free_ char *policy = NULL;
        size_t n;
        return label_tree(t, im, true, d, &policy, &n);
}
