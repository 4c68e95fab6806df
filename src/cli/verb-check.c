/* SPDX-License-Identifier: MIT */

/* `slipway check`: validate the project and print a summary. The summary is
 * built once as a JSON value; --json prints it, otherwise it is rendered as
 * text from the same value, so the two never disagree. */

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config/project.h"
#include "upstream/upstream.h"

static json_t *strlist_json(const StrList *l) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < l->n; i++)
                json_array_append_new(a, json_string(l->items[i]));
        return a;
}

static json_t *str_or_null(const char *s) {
        return s ? json_string(s) : json_null();
}

static json_t *diag_json(const Diagnostics *d, DiagLevel level) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < d->n; i++) {
                const Diagnostic *x = &d->items[i];
                if (x->level != level)
                        continue;
                json_array_append_new(a, json_pack("{s:o, s:I, s:I, s:s}", "file", str_or_null(x->file), "line",
                                                   (json_int_t) x->line, "column", (json_int_t) x->column, "message",
                                                   x->message));
        }
        return a;
}

static json_t *summary_json(const Project *p, const Lock *lock, const Diagnostics *d) {
        json_t *files = json_array(), *repos = json_array(), *components = json_array(), *images = json_array();

        for (size_t i = 0; i < p->n_docs; i++)
                json_array_append_new(files, json_string(p->docs[i]->filename));

        for (size_t i = 0; i < p->repos.n; i++) {
                const Repo *r = &p->repos.items[i];
                json_array_append_new(repos, json_pack("{s:s, s:s, s:b, s:o}", "name", r->name, "url", r->url,
                                                       "gpgcheck", r->gpgcheck, "gpg_key", str_or_null(r->gpg_key)));
        }

        for (size_t i = 0; i < p->components.n; i++) {
                const Component *c = &p->components.items[i];
                json_t *o = json_pack("{s:s, s:s, s:s}", "name", c->name, "kind", component_kind_to_string(c->kind),
                                      "defined_at", c->obj.pos.file);
                if (c->kind == COMPONENT_UPSTREAM) {
                        UpstreamSettings us = {};
                        if (upstream_settings(p, c, &us) >= 0) {
                                const LockEntry *e = lock_find(lock, c->name);
                                json_object_set_new(o, "upstream_name", json_string(us.pkg));
                                json_object_set_new(o, "dist_git", json_string(us.url));
                                json_object_set_new(o, "branch", str_or_null(us.branch));
                                json_object_set_new(o, "commit", str_or_null(us.commit));
                                json_object_set_new(o, "group", c->group ? json_string(c->group->name) : json_null());
                                json_object_set_new(o, "locked", e ? json_string(e->commit) : json_null());
                                upstream_settings_release(&us);
                        }
                        json_object_set_new(o, "overlays", json_integer((json_int_t) c->overlays.n));
                        json_object_set_new(o, "mode", json_string(build_mode_to_string(component_build_mode(p, c))));
                } else if (c->kind == COMPONENT_SPEC) {
                        json_object_set_new(o, "spec", json_string(c->spec));
                        json_object_set_new(o, "mode", json_string(build_mode_to_string(component_build_mode(p, c))));
                        json_t *defs = json_object();
                        for (size_t k = 0; k < c->defines.n; k++)
                                json_object_set_new(defs, c->defines.keys[k], json_string(c->defines.values[k]));
                        json_object_set_new(o, "defines", defs);
                } else {
                        if (cfg_has(&c->obj, "epoch"))
                                json_object_set_new(o, "epoch", json_integer(c->epoch));
                        json_object_set_new(o, "version", str_or_null(c->version));
                        json_object_set_new(o, "release", str_or_null(c->release));
                        json_object_set_new(o, "arch", str_or_null(c->arch));
                        json_object_set_new(o, "summary", str_or_null(c->summary));
                        json_object_set_new(o, "license", str_or_null(c->license));
                        json_object_set_new(o, "requires", strlist_json(&c->requires));
                        json_object_set_new(o, "provides", strlist_json(&c->provides));
                        json_object_set_new(o, "conflicts", strlist_json(&c->conflicts));
                        json_object_set_new(o, "obsoletes", strlist_json(&c->obsoletes));
                        json_t *fl = json_array();
                        for (size_t k = 0; k < c->files.n; k++) {
                                const FileSpec *f = &c->files.items[k];
                                json_t *fo = json_pack("{s:s, s:s, s:s, s:s, s:b}", "source", f->source, "path", f->path,
                                                       "user", f->user, "group", f->group, "config", f->config);
                                if (f->mode >= 0) {
                                        char m[16];
                                        snprintf(m, sizeof m, "%04o", (unsigned) f->mode);
                                        json_object_set_new(fo, "mode", json_string(m));
                                }
                                json_array_append_new(fl, fo);
                        }
                        json_object_set_new(o, "files", fl);
                }
                json_array_append_new(components, o);
        }

        for (size_t i = 0; i < p->images.n; i++) {
                const Image *im = &p->images.items[i];
                json_t *o = json_pack("{s:s, s:o, s:o, s:o, s:s, s:s, s:o, s:o, s:o}", "name", im->name, "description",
                                      str_or_null(im->description), "formats", strlist_json(&im->formats), "packages",
                                      strlist_json(&im->packages), "boot", boot_mode_to_string(im->boot), "selinux",
                                      selinux_mode_to_string(im->selinux), "size",
                                      im->size ? json_integer((json_int_t) im->size) : json_null(), "hostname",
                                      str_or_null(im->hostname), "initrd", str_or_null(im->initrd));
                json_object_set_new(o, "platform", json_string(image_platform_to_string(im->platform)));
                json_t *parts = json_array();
                for (size_t k = 0; k < im->partitions.n; k++) {
                        const Partition *pt = &im->partitions.items[k];
                        json_array_append_new(parts,
                                              json_pack("{s:o, s:s, s:o, s:s, s:o}", "label", str_or_null(pt->label),
                                                        "type", partition_type_to_string(pt->type), "size",
                                                        pt->size == CFG_SIZE_GROW ? json_string("grow")
                                                                                  : json_integer((json_int_t) pt->size),
                                                        "fs", fs_type_to_string(pt->fs), "mount", str_or_null(pt->mount)));
                }
                json_object_set_new(o, "partitions", parts);
                json_t *users = json_array();
                for (size_t k = 0; k < im->users.n; k++)
                        json_array_append_new(users, json_string(im->users.items[k].name));
                json_object_set_new(o, "users", users);
                json_array_append_new(images, o);
        }

        return json_pack("{s:{s:s, s:s, s:o, s:o, s:s, s:I, s:s, s:o, s:s, s:o}, s:o, s:o, s:o, s:o, s:o, s:o}",
                         "project",
                         "name", p->project.name, "version", p->project.version, "vendor", str_or_null(p->project.vendor),
                         "dist", str_or_null(p->project.dist), "arch", p->arch, "source_date_epoch",
                         (json_int_t) p->source_date_epoch, "source_date_epoch_from", sde_origin_to_string(p->sde_origin),
                         "signing_key", str_or_null(p->signing.key), "engine", build_engine_to_string(p->build.engine),
                         "cache", p->cache.url ? json_pack("{s:s, s:b, s:b, s:I}", "url", p->cache.url, "push",
                                                           p->cache.push, "signs", p->cache.key != NULL,
                                                           "trusted_keys", (json_int_t) p->cache.trusted_keys.n)
                                               : json_null(),
                         "files", files, "repos", repos, "components", components, "images", images, "warnings",
                         diag_json(d, DIAG_WARNING), "errors", json_array());
}

/* Text rendering of the summary value. */
static const char *js(const json_t *o, const char *key) {
        const char *s = json_string_value(json_object_get(o, key));
        return s ? s : "-";
}

static void join_array(const json_t *a, char *buf, size_t size) {
        size_t i, off = 0;
        json_t *v;
        buf[0] = 0;
        json_array_foreach(a, i, v) {
                int n = snprintf(buf + off, size - off, "%s%s", i ? ", " : "", json_string_value(v));
                if (n < 0 || (size_t) n >= size - off) {
                        if (size > 4)
                                strcpy(buf + size - 4, "...");
                        return;
                }
                off += (size_t) n;
        }
}

static void render_text(const json_t *s) {
        const json_t *pr = json_object_get(s, "project");
        const json_t *a, *v;
        size_t i;
        char buf[256];

        printf("project    %s %s (%s)\n", js(pr, "name"), js(pr, "version"), js(pr, "arch"));
        if (json_is_string(json_object_get(pr, "vendor")))
                printf("vendor     %s\n", js(pr, "vendor"));
        if (json_is_string(json_object_get(pr, "dist")))
                printf("dist       %s\n", js(pr, "dist"));
        printf("date       SOURCE_DATE_EPOCH=%lld (from %s)\n",
               (long long) json_integer_value(json_object_get(pr, "source_date_epoch")), js(pr, "source_date_epoch_from"));
        printf("signing    %s\n", json_is_string(json_object_get(pr, "signing_key")) ? js(pr, "signing_key")
                                                                                  : "none (outputs are unsigned)");
        const json_t *cache = json_object_get(pr, "cache");
        if (json_is_object(cache))
                printf("cache      %s (%s%s, %lld trusted key%s)\n", js(cache, "url"),
                       json_is_true(json_object_get(cache, "push")) ? "builds put their packages there" : "read only",
                       json_is_true(json_object_get(cache, "signs")) ? ", signed" : "",
                       (long long) json_integer_value(json_object_get(cache, "trusted_keys")),
                       json_integer_value(json_object_get(cache, "trusted_keys")) == 1 ? "" : "s");
        if (strcmp(js(pr, "engine"), "local") != 0)
                printf("engine     %s\n", js(pr, "engine"));
        a = json_object_get(s, "files");
        if (json_array_size(a) > 1)
                printf("files      %s and %zu included file%s\n", json_string_value(json_array_get(a, 0)),
                       json_array_size(a) - 1, json_array_size(a) == 2 ? "" : "s");
        else
                printf("files      %s\n", json_string_value(json_array_get(a, 0)));

        a = json_object_get(s, "repos");
        json_array_foreach(a, i, v)
                printf("repo       %s  %s%s\n", js(v, "name"), js(v, "url"),
                       json_is_true(json_object_get(v, "gpgcheck")) ? "" : "  (gpgcheck off)");

        a = json_object_get(s, "components");
        printf("\ncomponents (%zu)\n", json_array_size(a));
        json_array_foreach(a, i, v) {
                if (strcmp(js(v, "kind"), "spec") == 0)
                        printf("  %-20s spec    %-48s %s\n", js(v, "name"), js(v, "spec"), js(v, "mode"));
                else if (strcmp(js(v, "kind"), "upstream") == 0) {
                        json_int_t no = json_integer_value(json_object_get(v, "overlays"));
                        char at[64];
                        if (json_is_string(json_object_get(v, "locked")))
                                snprintf(at, sizeof at, "at %.12s", js(v, "locked"));
                        else
                                snprintf(at, sizeof at, "not locked");
                        printf("  %-20s upstream %-47s %s, %lld overlay%s\n", js(v, "name"), js(v, "dist_git"), at,
                               (long long) no, no == 1 ? "" : "s");
                }
                else {
                        char evr[128];
                        size_t nf = json_array_size(json_object_get(v, "files"));
                        snprintf(evr, sizeof evr, "%s-%s.%s", js(v, "version"), js(v, "release"), js(v, "arch"));
                        printf("  %-20s native  %-24s %zu file%s\n", js(v, "name"), evr, nf, nf == 1 ? "" : "s");
                }
        }

        a = json_object_get(s, "images");
        printf("\nimages (%zu)\n", json_array_size(a));
        json_array_foreach(a, i, v) {
                char formats[128];
                join_array(json_object_get(v, "formats"), formats, sizeof formats);
                join_array(json_object_get(v, "packages"), buf, sizeof buf);
                printf("  %-20s %-24s %s\n", js(v, "name"), formats, buf);
        }
}

int verb_check(const Context *ctx, int argc, char **argv) {
        _cleanup_(diagnostics_releasep) Diagnostics diag = {};
        _cleanup_(project_freep) Project *p = NULL;
        int r;

        (void) argc;
        (void) argv;

        r = project_load(ctx->dir, &diag, &p);
        log_diagnostics(&diag);
        if (r < 0) {
                if (r == -ENOMEM)
                        log_error_errno(r, "cannot load the project in '%s'", ctx->dir);
                /* main() fills "errors" with the errors logged above. */
                cli_result_set(json_pack("{s:[], s:I, s:o}", "errors", "errors_not_shown", (json_int_t) diag.dropped,
                                         "warnings", diag_json(&diag, DIAG_WARNING)));
                if (!ctx->json && diag.n_errors > 0)
                        fprintf(stderr, "slipway: %zu error%s in the project\n", diag.n_errors + diag.dropped,
                                diag.n_errors + diag.dropped == 1 ? "" : "s");
                return EXIT_FAILURE_USER;
        }

        /* The lock is read too: a broken one is an error of the project. */
        _cleanup_(lock_freep) Lock *lock = NULL;
        _cleanup_(diagnostics_releasep) Diagnostics ldiag = {};
        _cleanup_free_ char *lock_path = project_path(p, "slipway.lock");
        r = lock_path ? lock_load(lock_path, &lock, &ldiag) : -ENOMEM;
        log_diagnostics(&ldiag);
        if (r < 0) {
                if (r != -EINVAL)
                        log_error_errno(r, "cannot read '%s'", lock_path ? lock_path : "slipway.lock");
                cli_result_set(json_pack("{s:[]}", "errors"));
                return EXIT_FAILURE_USER;
        }
        json_t *s = summary_json(p, lock, &diag);
        if (!s) {
                log_error_errno(-ENOMEM, "cannot build the summary");
                return EXIT_FAILURE_USER;
        }
        if (!ctx->json)
                render_text(s);
        cli_result_set(s);

        if (fflush(stdout) != 0) {
                log_error("cannot write to standard output");
                return EXIT_FAILURE_USER;
        }
        return EXIT_OK;
}
