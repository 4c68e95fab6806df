/* SPDX-License-Identifier: MIT */

/* wsl: NAME.wsl, the root filesystem as WSL imports it: a gzip'd tar with
 * /etc/wsl.conf and /etc/wsl-distribution.conf (Microsoft's "Build a custom
 * Linux distribution for WSL") unless packages ship them. The two files go
 * into a copy of the tree, not the image's own. */

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "basic/strbuf.h"
#include "compose/settings.h"
#include "compose/writer.h"
#include "tree/archive.h"

/* The first configured user that is not root: WSL's default user. */
static const User *default_user(const Image *im) {
        for (size_t i = 0; i < im->users.n; i++)
                if (strcmp(im->users.items[i].name, "root") != 0)
                        return &im->users.items[i];
        return NULL;
}

static int add_wsl_files(Tree *t, const Project *p, const Image *im) {
        const int64_t when = (int64_t) p->source_date_epoch;
        const User *u = default_user(im);
        uint32_t uid = 0;
        int r;

        if (u && tree_lookup_user(t, u->name, &uid) < 0)
                uid = 0;
        if (!tree_get(t, "/etc/wsl.conf")) {
                _cleanup_(strbuf_releasep) StrBuf sb = STRBUF_INIT;
                strbuf_puts(&sb, "# WSL settings (wsl.conf), written by slipway.\n");
                if (tree_get(t, "/usr/lib/systemd/systemd") || tree_get(t, "/lib/systemd/systemd"))
                        strbuf_puts(&sb, "[boot]\nsystemd=true\n");
                if (u)
                        strbuf_printf(&sb, "[user]\ndefault=%s\n", u->name);
                if (sb.oom)
                        return -ENOMEM;
                r = tree_write_text(t, "/etc/wsl.conf", sb.buf, 0644, when);
                if (r < 0)
                        return r;
        }
        if (!tree_get(t, "/etc/wsl-distribution.conf")) {
                _cleanup_(strbuf_releasep) StrBuf sb = STRBUF_INIT;
                strbuf_printf(&sb,
                              "# WSL distribution settings (wsl-distribution.conf), written by slipway.\n"
                              "[oobe]\ndefaultName=%s-%s\n",
                              p->project.name, im->name);
                if (u)
                        strbuf_printf(&sb, "defaultUid=%" PRIu32 "\n", uid);
                strbuf_puts(&sb, "\n[shortcut]\nenabled=false\n");
                if (sb.oom)
                        return -ENOMEM;
                r = tree_write_text(t, "/etc/wsl-distribution.conf", sb.buf, 0644, when);
                if (r < 0)
                        return r;
        }
        return 0;
}

int writer_wsl(const WriterContext *c, WriterSlot *slots, size_t n) {
        _cleanup_(tree_freep) Tree *t = tree_clone(c->tree);
        if (!t)
                return -ENOMEM;
        int r = add_wsl_files(t, c->p, c->im);
        if (r >= 0)
                r = tree_archive_check(t, TREE_ARCHIVE_TAR, c->im->name, c->d);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = writer_stream_tar(t, slots[i].tmp, true, c->o->jobs, &slots[i].size);
        return r;
}
