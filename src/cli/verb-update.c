/* SPDX-License-Identifier: MIT */

/* `slipway update [COMPONENT...]`: move slipway.lock; and the lock as every
 * verb that builds upstream components brings it up to date. */

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "basic/fileio.h"
#include "cli.h"
#include "upstream/upstream.h"

static char *out_dir_of(const Context *ctx, const Project *p) {
        return ctx->out_dir ? strdup(ctx->out_dir) : project_path(p, "out");
}

static json_t *change_json(const LockChange *c) {
        return json_pack("{s:s, s:o, s:o, s:o, s:b, s:b}", "name", c->name, "old_commit", cli_json_string(c->old_commit),
                         "new_commit", cli_json_string(c->new_commit), "branch", cli_json_string(c->branch),
                         "sources_changed", c->sources_changed, "removed", c->removed);
}

static void print_change(FILE *f, const LockChange *c) {
        if (c->removed)
                fprintf(f, "unlocked %-24s (no longer an upstream component of the project)\n", c->name);
        else if (!c->old_commit)
                fprintf(f, "locked   %-24s %s %.12s\n", c->name, c->branch ? c->branch : "(pinned)", c->new_commit);
        else if (strcmp(c->old_commit, c->new_commit) != 0)
                fprintf(f, "moved    %-24s %s %.12s -> %.12s%s\n", c->name, c->branch ? c->branch : "(pinned)",
                        c->old_commit, c->new_commit, c->sources_changed ? " (sources changed)" : "");
        else
                fprintf(f, "relocked %-24s %s %.12s%s\n", c->name, c->branch ? c->branch : "(pinned)", c->new_commit,
                        c->sources_changed ? " (sources changed)" : "");
}

int cli_lock_sync(const Context *ctx, const Project *p, char *const *names, size_t n_names, bool update, Lock **ret,
                  json_t **ret_changes) {
        _cleanup_(diagnostics_releasep) Diagnostics diag = {};
        _cleanup_(lock_freep) Lock *l = NULL;
        _cleanup_free_ char *path = project_path(p, "slipway.lock"), *out = out_dir_of(ctx, p);
        _cleanup_free_ char *git = NULL, *lookaside = NULL;
        LockChange *changes = NULL;
        size_t n_changes = 0;
        int r;

        if (!path || !out)
                return exit_status_from(log_error_errno(-ENOMEM, "cannot read slipway.lock"));
        r = lock_load(path, &l, &diag);
        if (r < 0) {
                log_diagnostics(&diag);
                if (r != -EINVAL)
                        log_error_errno(r, "cannot read '%s'", path);
                return EXIT_FAILURE_USER;
        }
        git = path_join(out, "cache/upstream/git");
        lookaside = path_join(out, "cache/upstream/lookaside");
        if (!git || !lookaside)
                return exit_status_from(log_error_errno(-ENOMEM, "cannot read slipway.lock"));
        UpstreamCaches caches = { .git = git, .lookaside = lookaside };
        r = upstream_lock_sync(p, l, &caches, names, n_names, update, ctx->locked, ctx->jobs, &changes, &n_changes, &diag);
        log_diagnostics(&diag);
        if (r < 0) {
                if (r != -EINVAL)
                        log_error_errno(r, "cannot resolve the upstream components");
                else
                        fprintf(stderr, "slipway: slipway.lock was not changed\n");
                return EXIT_FAILURE_USER;
        }
        FILE *f = ctx->json ? stderr : stdout;
        json_t *a = json_array();
        for (size_t i = 0; i < n_changes; i++) {
                if (log_get_level() >= LOG_NORMAL)
                        print_change(f, &changes[i]);
                json_array_append_new(a, change_json(&changes[i]));
        }
        lock_changes_free(changes, n_changes);
        /* Written whenever it changed, and made if an upstream component
         * needs one: it belongs with the project. */
        bool any_upstream = false;
        for (size_t i = 0; i < p->components.n; i++)
                any_upstream |= p->components.items[i].kind == COMPONENT_UPSTREAM;
        if (n_changes > 0 || (any_upstream && !path_exists(path))) {
                r = lock_save(l);
                if (r < 0) {
                        json_decref(a);
                        return exit_status_from(log_error_errno(r, "cannot write '%s'", path));
                }
        }
        if (ret_changes)
                *ret_changes = a;
        else
                json_decref(a);
        *ret = TAKE_PTR(l);
        return EXIT_OK;
}

int verb_update(const Context *ctx, int argc, char **argv) {
        _cleanup_(diagnostics_releasep) Diagnostics diag = {};
        _cleanup_(project_freep) Project *p = NULL;
        _cleanup_(lock_freep) Lock *l = NULL;
        json_t *changes = NULL;
        int r;

        r = project_load(ctx->dir, &diag, &p);
        if (r < 0) {
                log_diagnostics(&diag);
                if (r == -ENOMEM)
                        log_error_errno(r, "cannot load the project in '%s'", ctx->dir);
                return EXIT_FAILURE_USER;
        }
        log_diagnostics(&diag);
        r = cli_lock_sync(ctx, p, argv, (size_t) argc, true, &l, &changes);
        if (r != EXIT_OK)
                return r;
        size_t n_upstream = 0, n_moved = json_array_size(changes);
        for (size_t i = 0; i < p->components.n; i++)
                n_upstream += p->components.items[i].kind == COMPONENT_UPSTREAM;
        size_t n_asked = argc > 0 ? (size_t) argc : n_upstream;
        if (!ctx->json && log_get_level() >= LOG_NORMAL)
                printf("%zu of %zu upstream component%s changed in slipway.lock\n", n_moved, n_asked,
                       n_asked == 1 ? "" : "s");
        cli_result_set(json_pack("{s:o, s:I, s:I}", "changes", changes, "components", (json_int_t) n_asked, "locked",
                                 (json_int_t) l->n));
        return EXIT_OK;
}
