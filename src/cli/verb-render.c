/* SPDX-License-Identifier: MIT */

/* `slipway render COMPONENT` and `slipway diff COMPONENT`: an upstream
 * component's tree as it is built, and its changes against upstream. */

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/fileio.h"
#include "basic/hash.h"
#include "basic/run.h"
#include "cli.h"
#include "upstream/upstream.h"

typedef struct Target {
        Project *p;
        const Component *c;
        Lock *lock;
        const LockEntry *e;
        char *git, *lookaside;
        UpstreamCaches caches;
} Target;

static void target_release(Target *t) {
        lock_free(t->lock);
        project_free(t->p);
        free(t->git);
        free(t->lookaside);
}

/* The project, the component (which must be upstream) and its lock entry. */
static int target_load(const Context *ctx, const char *name, Target *t) {
        _cleanup_(diagnostics_releasep) Diagnostics diag = {};
        int r = project_load(ctx->dir, &diag, &t->p);
        if (r < 0) {
                log_diagnostics(&diag);
                if (r == -ENOMEM)
                        log_error_errno(r, "cannot load the project in '%s'", ctx->dir);
                return EXIT_FAILURE_USER;
        }
        log_diagnostics(&diag);
        t->c = project_find_component(t->p, name);
        if (!t->c) {
                log_error("no component '%s' in the project", name);
                return EXIT_FAILURE_USER;
        }
        if (t->c->kind != COMPONENT_UPSTREAM) {
                log_error("component '%s' is a %s component: only upstream (dist-git) components are rendered", name,
                          component_kind_to_string(t->c->kind));
                return EXIT_FAILURE_USER;
        }
        r = cli_lock_sync(ctx, t->p, NULL, 0, false, &t->lock, NULL);
        if (r != EXIT_OK)
                return r;
        t->e = lock_find(t->lock, name);
        _cleanup_free_ char *out = ctx->out_dir ? strdup(ctx->out_dir) : project_path(t->p, "out");
        t->git = out ? path_join(out, "cache/upstream/git") : NULL;
        t->lookaside = out ? path_join(out, "cache/upstream/lookaside") : NULL;
        if (!t->e || !t->git || !t->lookaside)
                return exit_status_from(log_error_errno(-ENOMEM, "cannot render '%s'", name));
        t->caches = (UpstreamCaches) { .git = t->git, .lookaside = t->lookaside };
        return EXIT_OK;
}

/* Every regular file and link below dir, sorted, with its SHA-256. */
static int list_files(const char *root, const char *rel, json_t *a) {
        _cleanup_free_ char *dir = rel[0] ? path_join(root, rel) : strdup(root);
        if (!dir)
                return -ENOMEM;
        struct dirent **names = NULL;
        int n = scandir(dir, &names, NULL, alphasort);
        if (n < 0)
                return negative_errno();
        int r = 0;
        for (int i = 0; i < n; i++) {
                const char *nm = names[i]->d_name;
                if (r >= 0 && strcmp(nm, ".") != 0 && strcmp(nm, "..") != 0) {
                        _cleanup_free_ char *sub = rel[0] ? strprintf("%s/%s", rel, nm) : strdup(nm);
                        _cleanup_free_ char *full = sub ? path_join(root, sub) : NULL;
                        struct stat st;
                        if (!full)
                                r = -ENOMEM;
                        else if (lstat(full, &st) < 0)
                                r = negative_errno();
                        else if (S_ISDIR(st.st_mode))
                                r = list_files(root, sub, a);
                        else if (S_ISREG(st.st_mode)) {
                                uint8_t d[32];
                                char hex[65];
                                r = hash_file(HASH_SHA256, full, d, NULL);
                                if (r >= 0) {
                                        hex_encode(d, 32, hex);
                                        json_array_append_new(a, json_pack("{s:o, s:s, s:I}", "path", cli_json_string(sub),
                                                                           "sha256", hex, "size", (json_int_t) st.st_size));
                                }
                        } else
                                json_array_append_new(a, json_pack("{s:o, s:n, s:I}", "path", cli_json_string(sub),
                                                                   "sha256", "size", (json_int_t) st.st_size));
                }
                free(names[i]);
        }
        free(names);
        return r;
}

int verb_render(const Context *ctx, int argc, char **argv) {
        _cleanup_(target_release) Target t = {};
        _cleanup_(diagnostics_releasep) Diagnostics diag = {};
        int r = target_load(ctx, argv[0], &t);
        if (r != EXIT_OK)
                return r;
        _cleanup_free_ char *out = ctx->out_dir ? strdup(ctx->out_dir) : project_path(t.p, "out");
        _cleanup_free_ char *dest = ctx->output ? strdup(ctx->output) : out ? strprintf("%s/render/%s", out, t.c->name) : NULL;
        _cleanup_free_ char *spec = upstream_spec_name(t.c);
        if (!dest || !spec)
                return exit_status_from(log_error_errno(-ENOMEM, "cannot render '%s'", argv[0]));
        r = upstream_render(t.p, t.c, t.e, &t.caches, dest, &diag);
        log_diagnostics(&diag);
        if (r < 0) {
                if (r != -EINVAL)
                        log_error_errno(r, "cannot render '%s' into '%s'", t.c->name, dest);
                return EXIT_FAILURE_USER;
        }
        json_t *files = json_array();
        r = list_files(dest, "", files);
        if (r < 0) {
                json_decref(files);
                return exit_status_from(log_error_errno(r, "cannot list '%s'", dest));
        }
        if (!ctx->json && log_get_level() >= LOG_NORMAL) {
                printf("rendered %s (%s at %.12s, %zu overlay%s) into %s\n", t.c->name, t.e->url, t.e->commit,
                       t.c->overlays.n, t.c->overlays.n == 1 ? "" : "s", dest);
                for (size_t i = 0; i < json_array_size(files); i++) {
                        json_t *f = json_array_get(files, i);
                        printf("  %s\n", json_string_value(json_object_get(f, "path")));
                }
        }
        cli_result_set(json_pack("{s:s, s:o, s:s, s:s, s:o, s:I, s:o}", "component", t.c->name, "directory",
                                 cli_json_string(dest), "url", t.e->url, "commit", t.e->commit, "spec",
                                 cli_json_string(spec), "overlays", (json_int_t) t.c->overlays.n, "files", files));
        return EXIT_OK;
}

static void scratch_removep(char **dir) {
        if (*dir)
                (void) rm_rf(*dir);
        free(*dir);
}

int verb_diff(const Context *ctx, int argc, char **argv) {
        _cleanup_(target_release) Target t = {};
        _cleanup_(diagnostics_releasep) Diagnostics diag = {};
        _cleanup_(scratch_removep) char *scratch = NULL;
        TreeDiffEntry *entries = NULL;
        size_t n = 0;
        int r = target_load(ctx, argv[0], &t);
        if (r != EXIT_OK)
                return r;
        r = run_mkdtemp("diff", &scratch);
        if (r < 0)
                return exit_status_from(log_error_errno(r, "cannot make a scratch directory"));
        _cleanup_free_ char *a = path_join(scratch, "a"), *b = path_join(scratch, "b");
        if (!a || !b)
                return exit_status_from(log_error_errno(-ENOMEM, "cannot diff '%s'", argv[0]));
        r = upstream_render_pristine(t.p, t.c, t.e, &t.caches, a, &diag);
        if (r >= 0)
                r = upstream_render(t.p, t.c, t.e, &t.caches, b, &diag);
        log_diagnostics(&diag);
        if (r < 0) {
                if (r != -EINVAL)
                        log_error_errno(r, "cannot render '%s'", t.c->name);
                return EXIT_FAILURE_USER;
        }
        r = tree_diff(a, b, 3, &entries, &n);
        if (r < 0)
                return exit_status_from(log_error_errno(r, "cannot compare the trees of '%s'", t.c->name));
        json_t *files = json_array();
        for (size_t i = 0; i < n; i++) {
                const TreeDiffEntry *e = &entries[i];
                if (!ctx->json) {
                        if (e->diff)
                                fputs(e->diff, stdout);
                        else
                                printf("Binary files a/%s and b/%s differ\n", e->path, e->path);
                }
                json_array_append_new(files, json_pack("{s:o, s:s, s:b, s:o}", "path", cli_json_string(e->path), "change",
                                                       tree_change_to_string(e->change), "binary", e->binary, "diff",
                                                       cli_json_string(e->diff)));
        }
        tree_diff_free(entries, n);
        if (!ctx->json && log_get_level() >= LOG_NORMAL)
                fprintf(stderr, "%s: %zu file%s changed against %s at %.12s\n", t.c->name, n, n == 1 ? "" : "s",
                        t.e->url, t.e->commit);
        cli_result_set(json_pack("{s:s, s:s, s:s, s:o}", "component", t.c->name, "url", t.e->url, "commit", t.e->commit,
                                 "files", files));
        return EXIT_OK;
}
