/* SPDX-License-Identifier: MIT */

/* An upstream component's effective settings: each key from the component,
 * else from its [groups.NAME], else from [distro] (docs/upstream.md). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "upstream/upstream.h"

/* tmpl with every "$pkg" replaced by pkg. */
static char *expand_pkg(const char *tmpl, const char *pkg) {
        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
        for (const char *s = tmpl; *s;) {
                if (strncmp(s, "$pkg", 4) == 0) {
                        strbuf_puts(&sb, pkg);
                        s += 4;
                } else
                        strbuf_putc(&sb, *s++);
        }
        return strbuf_detach(&sb, NULL);
}

int upstream_settings(const Project *p, const Component *c, UpstreamSettings *ret) {
        const UpstreamDefaults *g = c->group, *dd = &p->distro;
        UpstreamSettings s = { .pkg = c->upstream_name ? c->upstream_name : c->name };
        const char *tmpl;

        if (c->dist_git) {
                tmpl = c->dist_git;
                s.url_pos = cfg_pos(&c->obj, "dist-git");
        } else if (g && g->dist_git) {
                tmpl = g->dist_git;
                s.url_pos = cfg_pos(&g->obj, "dist-git");
        } else if (dd->dist_git) {
                tmpl = dd->dist_git;
                s.url_pos = cfg_pos(&dd->obj, "dist-git");
        } else
                return -ENOENT;
        s.lookaside = c->lookaside ? c->lookaside : g && g->lookaside ? g->lookaside : dd->lookaside;
        s.commit = c->commit;
        /* A pinned commit follows no branch. */
        if (!s.commit)
                s.branch = c->branch ? c->branch : g && g->branch ? g->branch : dd->branch;
        if (cfg_has(&c->obj, "release-mode"))
                s.release_mode = c->release_mode;
        else if (g && cfg_has(&g->obj, "release-mode"))
                s.release_mode = g->release_mode;
        else if (cfg_has(&dd->obj, "release-mode"))
                s.release_mode = dd->release_mode;
        else
                s.release_mode = RELEASE_BUMP;
        s.release_suffix = c->release_suffix ? c->release_suffix
                           : g && g->release_suffix ? g->release_suffix
                                                    : dd->release_suffix;
        s.url = expand_pkg(tmpl, s.pkg);
        if (!s.url)
                return -ENOMEM;
        *ret = s;
        return 0;
}

void upstream_settings_release(UpstreamSettings *s) {
        free(s->url);
        s->url = NULL;
}
