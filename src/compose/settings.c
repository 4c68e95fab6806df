/* SPDX-License-Identifier: MIT */

/* Image settings applied to a tree, one file per concern:
 *   settings.c           the order, hostname, /usr/lib/os-release (os-release(5)),
 *                        and reading and writing the tree's text files;
 *   settings-accounts.c  users and groups;
 *   settings-files.c     files copied from the project;
 *   settings-units.c     services enabled and disabled;
 *   settings-selinux.c   /etc/selinux/config and labels. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/strbuf.h"
#include "compose/settings-internal.h"

int tree_read_text(const Tree *t, const char *path, char **ret) {
        const TreeNode *n = tree_get(t, path);
        if (!n || n->type != TREE_REG)
                return -ENOENT;
        uint8_t *s = NULL;
        int r = tree_blob_load(n->blob, SIZE_MAX - 1, &s, NULL);
        if (r < 0)
                return r;
        *ret = (char *) s;
        return 0;
}

int tree_write_text(Tree *t, const char *path, const char *text, uint32_t mode, int64_t mtime) {
        const TreeNode *old = tree_get(t, path);
        uint32_t uid = 0, gid = 0;
        if (old && old->type == TREE_REG) {
                mode = old->mode;
                uid = old->uid;
                gid = old->gid;
        }
        TreeNode *n;
        int r = tree_add_file(t, path, text, strlen(text), mode, uid, gid, &n);
        if (r < 0)
                return r;
        n->mtime = mtime;
        return 0;
}

/* ---- hostname and os-release ---- */

static int apply_hostname(Tree *t, const Image *im, int64_t mtime) {
        if (!im->hostname)
                return 0;
        _cleanup_free_ char *s = NULL;
        if (asprintf(&s, "%s\n", im->hostname) < 0)
                return -ENOMEM;
        return tree_write_text(t, "/etc/hostname", s, 0644, mtime);
}

static int apply_os_release(Tree *t, const Project *p, const Image *im, int64_t mtime) {
        /* A package that ships os-release (a release package) has the last word. */
        if (tree_get(t, "/usr/lib/os-release") || tree_get(t, "/etc/os-release"))
                return 0;
        _cleanup_(strbuf_releasep) StrBuf sb = STRBUF_INIT;
        strbuf_printf(&sb, "NAME=\"%s\"\nID=%s\nVERSION=\"%s\"\nVERSION_ID=%s\nPRETTY_NAME=\"%s %s\"\n", p->project.name,
                      p->project.name, p->project.version, p->project.version, p->project.name, p->project.version);
        if (p->project.vendor) {
                strbuf_puts(&sb, "VENDOR_NAME=\"");
                for (const char *c = p->project.vendor; *c; c++) {
                        if (strchr("\"\\`$", *c))
                                strbuf_putc(&sb, '\\');
                        strbuf_putc(&sb, *c);
                }
                strbuf_puts(&sb, "\"\n");
        }
        strbuf_printf(&sb, "IMAGE_ID=%s\nIMAGE_VERSION=%s\n", im->name, p->project.version);
        if (sb.oom)
                return -ENOMEM;
        int r = tree_write_text(t, "/usr/lib/os-release", sb.buf, 0644, mtime);
        if (r < 0)
                return r;
        TreeNode *n;
        r = tree_add_symlink(t, "/etc/os-release", "../usr/lib/os-release", &n);
        if (r < 0)
                return r;
        n->mtime = mtime;
        return 0;
}

/* machine-id(5): an image with systemd and no /etc/machine-id gets one
 * that says "uninitialized", so that its first boot makes the machine's
 * own ID (and runs the first-boot units: presets, ConditionFirstBoot=)
 * even with a read-only /etc; every copy of the image gets another ID, and
 * the image stays the same bytes from build to build. An empty file is
 * what a package would ship; it is kept. */
static int apply_machine_id(Tree *t, int64_t mtime) {
        _cleanup_free_ char *target = NULL;
        if (tree_get(t, "/etc/machine-id") || tree_resolve(t, "/usr/lib/systemd/systemd", &target) < 0 ||
            !tree_get(t, target))
                return 0;
        return tree_write_text(t, "/etc/machine-id", "uninitialized\n", 0444, mtime);
}

static int apply(Tree *t, const Project *p, const Image *im, bool change, Diagnostics *d) {
        int64_t mtime = (int64_t) p->source_date_epoch;
        size_t errors_before = d->n_errors + d->dropped;
        int r, ret = 0;

        if ((r = apply_hostname(t, im, mtime)) < 0 || (!change && (r = apply_os_release(t, p, im, mtime)) < 0) ||
            (!change && (r = apply_machine_id(t, mtime)) < 0))
                return r;
        r = apply_users(t, p, im, mtime, d);
        if (r < 0)
                return r;
        r = apply_files(t, p, im, mtime, d);
        if (r == -EINVAL)
                ret = r;
        else if (r < 0)
                return r;
        r = apply_services(t, im, mtime, d);
        if (r == -EINVAL)
                ret = r;
        else if (r < 0)
                return r;
        if ((!change || cfg_has(&im->obj, "selinux")) && (r = apply_selinux_config(t, im, mtime)) < 0)
                return r;
        /* Problems reported without failing the step (users) count too;
         * only this image's, not those of images composed before it. */
        if (ret == 0 && d->n_errors + d->dropped > errors_before)
                ret = -EINVAL;
        return ret;
}

int settings_apply(Tree *t, const Project *p, const Image *im, Diagnostics *d) {
        return apply(t, p, im, false, d);
}

int settings_apply_changes(Tree *t, const Project *p, const Image *im, Diagnostics *d) {
        return apply(t, p, im, true, d);
}
