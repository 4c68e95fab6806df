/* SPDX-License-Identifier: MIT */

/* wsl: NAME.wsl, the root filesystem as WSL 2.4.4 and later installs it, as
 * Microsoft's "Build a Custom Linux Distribution for WSL"
 * (learn.microsoft.com/windows/wsl/build-custom-distro) describes it:
 *
 *   - a gzip'd tar whose root is the root of the file system, with numeric
 *     owners (writer_stream_tar(): pax, "./etc/x", no user or group names);
 *   - /etc/wsl.conf ("Advanced settings configuration in WSL",
 *     learn.microsoft.com/windows/wsl/wsl-config) and
 *     /etc/wsl-distribution.conf, root:root 0644, unless packages ship them;
 *   - no /etc/resolv.conf (WSL writes it), no password hash in /etc/shadow;
 *   - with systemd, the units that page names as troublesome in WSL masked.
 *
 * All of it goes into a copy of the tree, not the image's own. What the
 * writer does not change (a kernel or an initramfs in the image, conf files
 * a package ships with another owner or mode) is a warning. */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "basic/strbuf.h"
#include "compose/settings.h"
#include "compose/writer.h"
#include "tree/archive.h"

#define WSL_CONF "/etc/wsl.conf"
#define WSL_DISTRIBUTION_CONF "/etc/wsl-distribution.conf"

/* The first configured user that is not root: WSL's default user. */
static const User *default_user(const Image *im) {
        for (size_t i = 0; i < im->users.n; i++)
                if (strcmp(im->users.items[i].name, "root") != 0)
                        return &im->users.items[i];
        return NULL;
}

static bool has_systemd(const Tree *t) {
        return tree_get(t, "/usr/lib/systemd/systemd") || tree_get(t, "/lib/systemd/systemd");
}

static int add_wsl_files(Tree *t, const Project *p, const Image *im, Diagnostics *d) {
        const int64_t when = (int64_t) p->source_date_epoch;
        const User *u = default_user(im);
        uint32_t uid = 0;
        bool have_uid = u && tree_lookup_user(t, u->name, &uid) >= 0;
        int r;

        if (!tree_get(t, WSL_CONF)) {
                _cleanup_(strbuf_releasep) StrBuf sb = STRBUF_INIT;
                /* boot.systemd is the distribution's choice: said either way. */
                strbuf_printf(&sb, "# WSL settings (wsl.conf), written by slipway.\n[boot]\nsystemd=%s\n",
                              has_systemd(t) ? "true" : "false");
                if (u)
                        strbuf_printf(&sb, "\n[user]\ndefault=%s\n", u->name);
                if (sb.oom)
                        return -ENOMEM;
                r = tree_write_text(t, WSL_CONF, sb.buf, 0644, when);
                if (r < 0)
                        return r;
        }
        if (!tree_get(t, WSL_DISTRIBUTION_CONF)) {
                _cleanup_(strbuf_releasep) StrBuf sb = STRBUF_INIT;
                /* defaultName: what double-clicking the .wsl file installs it
                 * as; project and image names are within WSL's characters
                 * (letters, digits, '.', '_', '-'). No icon of the
                 * distribution's own: no Start menu shortcut with another's
                 * (a distribution with an icon ships this file). */
                strbuf_printf(&sb,
                              "# WSL distribution settings (wsl-distribution.conf), written by slipway.\n"
                              "[oobe]\ndefaultName=%s-%s\n",
                              p->project.name, im->name);
                if (have_uid)
                        strbuf_printf(&sb, "defaultUid=%" PRIu32 "\n", uid);
                strbuf_puts(&sb, "\n[shortcut]\nenabled=false\n");
                if (sb.oom)
                        return -ENOMEM;
                r = tree_write_text(t, WSL_DISTRIBUTION_CONF, sb.buf, 0644, when);
                if (r < 0)
                        return r;
        }
        static const char *const confs[] = { WSL_CONF, WSL_DISTRIBUTION_CONF };
        for (size_t i = 0; i < ELEMENTSOF(confs); i++) {
                const TreeNode *n = tree_get(t, confs[i]);
                if (n && (n->type != TREE_REG || n->mode != 0644 || n->uid != 0 || n->gid != 0))
                        diag_warning(d, NULL,
                                     "%s: '%s' of its packages is not a file of mode 0644 owned by root:root, as WSL "
                                     "expects it",
                                     IMAGE_WHAT(im), confs[i]);
        }
        return 0;
}

/* A password field that holds no hash: empty, or only '!' and '*' (locked,
 * no login). */
static bool shadow_field_is_hashless(const char *f, size_t len) {
        for (size_t i = 0; i < len; i++)
                if (f[i] != '!' && f[i] != '*')
                        return false;
        return true;
}

/* /etc/shadow with every password hash replaced by "!" (locked): a WSL
 * distribution ships none; its user sets a password inside. */
static int strip_password_hashes(Tree *t, int64_t when) {
        const TreeNode *n = tree_get(t, "/etc/shadow");
        if (!n || n->type != TREE_REG)
                return 0;
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size = 0;
        int r = tree_blob_load(n->blob, 64u << 20, &buf, &size);
        if (r < 0)
                return r;
        _cleanup_(strbuf_releasep) StrBuf out = STRBUF_INIT;
        bool changed = false;
        for (const char *line = (const char *) buf, *end = (const char *) buf + size; line < end;) {
                const char *nl = memchr(line, '\n', (size_t) (end - line));
                size_t len = nl ? (size_t) (nl - line) : (size_t) (end - line);
                const char *c1 = memchr(line, ':', len);
                const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t) (c1 + 1 - line)) : NULL;
                size_t flen = c2 ? (size_t) (c2 - c1 - 1) : 0;
                if (c2 && !shadow_field_is_hashless(c1 + 1, flen)) {
                        strbuf_printf(&out, "%.*s!%.*s", (int) (c1 + 1 - line), line, (int) (line + len - c2), c2);
                        changed = true;
                } else
                        strbuf_printf(&out, "%.*s", (int) len, line);
                if (nl)
                        strbuf_puts(&out, "\n");
                line += len + 1;
        }
        if (out.oom)
                return -ENOMEM;
        return changed ? tree_write_text(t, "/etc/shadow", out.buf ? out.buf : "", 0000, when) : 0;
}

/* The units "Build a Custom Linux Distribution for WSL" (Systemd
 * recommendations) names as causing problems in WSL, system and user ones. */
static const char *const wsl_masked_units[] = {
        "systemd-resolved.service",
        "systemd-networkd.service",
        "NetworkManager.service",
        "systemd-tmpfiles-setup.service",
        "systemd-tmpfiles-clean.service",
        "systemd-tmpfiles-clean.timer",
        "systemd-tmpfiles-setup-dev-early.service",
        "systemd-tmpfiles-setup-dev.service",
        "tmp.mount",
};

/* Each of those units that the tree has is masked (a link to /dev/null in
 * /etc/systemd/{system,user}/), unless the image put something there. */
static int mask_units(Tree *t) {
        static const struct {
                const char *units, *etc;
        } dirs[] = {
                { "/usr/lib/systemd/system/", "/etc/systemd/system/" },
                { "/usr/lib/systemd/user/", "/etc/systemd/user/" },
        };
        for (size_t k = 0; k < ELEMENTSOF(dirs); k++)
                for (size_t i = 0; i < ELEMENTSOF(wsl_masked_units); i++) {
                        _cleanup_free_ char *unit = NULL, *mask = NULL;
                        if (asprintf(&unit, "%s%s", dirs[k].units, wsl_masked_units[i]) < 0) {
                                unit = NULL;
                                return -ENOMEM;
                        }
                        if (asprintf(&mask, "%s%s", dirs[k].etc, wsl_masked_units[i]) < 0) {
                                mask = NULL;
                                return -ENOMEM;
                        }
                        if (!tree_get(t, unit) || tree_get(t, mask))
                                continue;
                        int r = tree_add_symlink(t, mask, "/dev/null", NULL);
                        if (r < 0)
                                return r;
                }
        return 0;
}

/* A kernel or an initramfs: WSL boots its own. */
static bool is_boot_file(const char *path) {
        if (strncmp(path, "/boot/", 6) == 0)
                return strncmp(path + 6, "vmlinuz", 7) == 0 || strncmp(path + 6, "initr", 5) == 0;
        if (strncmp(path, "/usr/lib/modules/", 17) == 0) {
                const char *base = strrchr(path, '/') + 1;
                return strcmp(base, "vmlinuz") == 0 || strncmp(base, "initr", 5) == 0;
        }
        return false;
}

static int warn_boot_files(const Tree *t, const Image *im, Diagnostics *d) {
        _cleanup_free_ TreeNode **nodes = NULL;
        size_t n = 0, found = 0;
        const char *first = NULL;
        int r = tree_list(t, &nodes, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if (nodes[i]->type == TREE_REG && is_boot_file(nodes[i]->path) && found++ == 0)
                        first = nodes[i]->path;
        if (found > 0) {
                SourcePos pos = cfg_pos(&im->obj, "packages");
                diag_warning(d, &pos,
                             "%s: its wsl output holds a kernel or an initramfs ('%s'%s), which a WSL distribution "
                             "should not: WSL boots its own kernel",
                             IMAGE_WHAT(im), first, found > 1 ? " and more" : "");
        }
        return 0;
}

int writer_wsl(const WriterContext *c, WriterSlot *slots, size_t n) {
        _cleanup_(tree_freep) Tree *t = tree_clone(c->tree);
        if (!t)
                return -ENOMEM;
        const int64_t when = (int64_t) c->p->source_date_epoch;
        int r = add_wsl_files(t, c->p, c->im, c->d);
        if (r >= 0 && tree_get(t, "/etc/resolv.conf"))
                r = tree_remove(t, "/etc/resolv.conf");
        if (r >= 0)
                r = strip_password_hashes(t, when);
        if (r >= 0 && has_systemd(t))
                r = mask_units(t);
        if (r >= 0)
                r = warn_boot_files(t, c->im, c->d);
        if (r >= 0)
                r = tree_archive_check(t, TREE_ARCHIVE_TAR, c->im->name, c->d);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = writer_stream_tar(t, slots[i].tmp, true, c->o->jobs, &slots[i].size);
        return r;
}
