/* SPDX-License-Identifier: MIT */

/* `slipway package [NAME...]`: build components into RPMs. */

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "basic/fileio.h"
#include "basic/run.h"
#include "package/build.h"
#include "cli.h"
#include "sign/keyfile.h"
#include "upstream/upstream.h"

/* The last n lines of a log, for a failed build. */
static void print_log_tail(const char *path, size_t n) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        if (read_full_file(path, &data, &size) < 0 || size == 0)
                return;
        const char *p = data + size;
        while (p > data && p[-1] == '\n')
                p--;
        const char *end = p;
        size_t lines = 0;
        while (p > data && lines < n) {
                p--;
                if (*p == '\n')
                        lines++;
        }
        if (*p == '\n')
                p++;
        while (p < end) {
                const char *e = memchr(p, '\n', (size_t) (end - p));
                size_t l = e ? (size_t) (e - p) : (size_t) (end - p);
                fprintf(stderr, "    | %.*s\n", (int) l, p);
                p += l + 1;
        }
}

/* Each component as it finishes: on stdout, or on stderr with --json
 * (stdout is the document then); failures always on stderr. */
static void progress(const BuildResult *r, void *userdata) {
        const Context *ctx = userdata;
        FILE *f = ctx->json ? stderr : stdout;
        switch (r->status) {
        case BUILD_BUILT:
                if (log_get_level() >= LOG_NORMAL) {
                        fprintf(f, "built    %-24s %6.2fs ", r->component->name, r->seconds);
                        for (size_t i = 0; i < r->n_rpms; i++)
                                fprintf(f, " %s", r->rpms[i]);
                        fprintf(f, "\n");
                }
                break;
        case BUILD_CACHED:
                if (log_get_level() >= LOG_NORMAL)
                        fprintf(f, "cached   %-24s (inputs unchanged)\n", r->component->name);
                break;
        case BUILD_FAILED:
                fprintf(stderr, "FAILED   %-24s %s\n", r->component->name, r->reason ? r->reason : "");
                log_record_error("component '%s' failed: %s", r->component->name, r->reason ? r->reason : "");
                if (r->log_path && path_exists(r->log_path)) {
                        print_log_tail(r->log_path, 15);
                        fprintf(stderr, "    log: %s\n", r->log_path);
                }
                break;
        case BUILD_SKIPPED:
                fprintf(stderr, "skipped  %-24s %s\n", r->component->name, r->reason ? r->reason : "");
                log_record_error("component '%s' skipped: %s", r->component->name, r->reason ? r->reason : "");
                break;
        default:
                break;
        }
        fflush(f);
}

static json_t *report_json(const BuildReport *rep) {
        json_t *a = json_array();
        for (size_t i = 0; i < rep->n; i++) {
                const BuildResult *r = &rep->results[i];
                json_t *rpms = json_array();
                for (size_t k = 0; k < r->n_rpms; k++)
                        json_array_append_new(rpms, cli_json_string(r->rpms[k]));
                json_array_append_new(a, json_pack("{s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:o, s:f}", "name",
                                                   r->component->name, "kind",
                                                   component_kind_to_string(r->component->kind), "mode",
                                                   cli_json_string(build_mode_to_string(r->mode)), "status",
                                                   build_status_to_string(r->status), "rpms", rpms, "srpm",
                                                   cli_json_string(r->srpm), "log",
                                                   cli_json_string(r->log_path), "reason",
                                                   cli_json_string(r->reason), "seconds",
                                                   r->seconds));
        }
        return json_pack("{s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "components", a, "built",
                         (json_int_t) rep->n_built, "cached", (json_int_t) rep->n_cached, "failed",
                         (json_int_t) rep->n_failed, "skipped", (json_int_t) rep->n_skipped, "rpmbuild_runs",
                         (json_int_t) rep->n_rpmbuild, "buildroots_made", (json_int_t) rep->n_buildroots_made,
                         "buildroots_reused", (json_int_t) rep->n_buildroots_reused, "buildroots_pruned",
                         (json_int_t) rep->n_buildroots_pruned);
}

int verb_package(const Context *ctx, int argc, char **argv) {
        _cleanup_(diagnostics_releasep) Diagnostics diag = {};
        _cleanup_(project_freep) Project *p = NULL;
        _cleanup_(build_report_freep) BuildReport *rep = NULL;
        int r;

        r = project_load(ctx->dir, &diag, &p);
        if (r < 0) {
                log_diagnostics(&diag);
                if (r == -ENOMEM)
                        log_error_errno(r, "cannot load the project in '%s'", ctx->dir);
                return EXIT_FAILURE_USER;
        }

        /* The project's signing key signs everything built. */
        _cleanup_(pgp_key_freep) PgpKey *key = NULL;
        _cleanup_free_ char *key_path = NULL;
        if (p->signing.key) {
                const char *why = NULL;
                key_path = project_path(p, p->signing.key);
                if (!key_path)
                        return exit_status_from(log_error_errno(-ENOMEM, "cannot load the signing key"));
                r = key_load_signing(key_path, &key, &why);
                if (r < 0) {
                        SourcePos pos = cfg_pos(&p->signing.obj, "key");
                        diag_error(&diag, &pos, "signing key '%s': %s", p->signing.key, why);
                        log_diagnostics(&diag);
                        return EXIT_FAILURE_USER;
                }
        }

        /* The output directory is this run's (basic/run.h): what killed
         * runs left there is removed if no other run is using it. */
        {
                _cleanup_free_ char *out = ctx->out_dir ? strdup(ctx->out_dir) : project_path(p, "out");
                r = out ? run_lock_output(out) : -ENOMEM;
                if (r < 0)
                        return exit_status_from(log_error_errno(r, "cannot lock the output directory '%s'",
                                                                out ? out : ""));
                if (r > 0)
                        log_debug("removed %d temporary file%s that interrupted runs left in '%s'", r, r == 1 ? "" : "s", out);
        }

        /* Upstream components build from the lock; what it lacks is locked
         * first (or, with --locked, refused). */
        _cleanup_(lock_freep) Lock *lock = NULL;
        json_t *lock_changes = NULL;
        r = cli_lock_sync(ctx, p, NULL, 0, false, &lock, &lock_changes);
        if (r != EXIT_OK)
                return r;

        BuildOptions o = {
                .lock = lock,
                .sign_key = key,
                .sign_time = (uint32_t) MIN(p->source_date_epoch, (uint64_t) UINT32_MAX),
                .out_dir = ctx->out_dir,
                .jobs = ctx->jobs,
                .only = argv,
                .n_only = (size_t) argc,
                .progress = progress,
                .userdata = (void *) ctx,
        };
        r = build_packages(p, &o, &diag, &rep);
        log_diagnostics(&diag);
        if (r < 0) {
                json_decref(lock_changes);
                if (r != -EINVAL)
                        log_error_errno(r, "cannot build the packages");
                else
                        fprintf(stderr, "slipway: nothing was built\n");
                return EXIT_FAILURE_USER;
        }

        _cleanup_(json_decrefp) json_t *j = report_json(rep);
        if (!j) {
                json_decref(lock_changes);
                return exit_status_from(log_error_errno(-ENOMEM, "cannot describe the build"));
        }
        json_object_set_new(j, "lock", lock_changes);
        if (!ctx->json && log_get_level() >= LOG_NORMAL) {
                if (rep->n_built == 0 && rep->n_failed == 0 && rep->n_skipped == 0)
                        printf("nothing to do: %zu component%s unchanged, rpmbuild not run\n", rep->n_cached,
                               rep->n_cached == 1 ? "" : "s");
                else if (rep->n_buildroots_made + rep->n_buildroots_reused > 0)
                        printf("%zu built, %zu cached, %zu failed, %zu skipped (rpmbuild ran %zu time%s; buildroots: "
                               "%zu made, %zu reused)\n",
                               rep->n_built, rep->n_cached, rep->n_failed, rep->n_skipped, rep->n_rpmbuild,
                               rep->n_rpmbuild == 1 ? "" : "s", rep->n_buildroots_made, rep->n_buildroots_reused);
                else
                        printf("%zu built, %zu cached, %zu failed, %zu skipped (rpmbuild ran %zu time%s)\n", rep->n_built,
                               rep->n_cached, rep->n_failed, rep->n_skipped, rep->n_rpmbuild,
                               rep->n_rpmbuild == 1 ? "" : "s");
        }
        /* Then the repository, with what was built: its summary is the
         * report's "repository" (null if it failed). */
        {
                _cleanup_free_ char *out = ctx->out_dir ? strdup(ctx->out_dir) : project_path(p, "out");
                _cleanup_free_ char *repo = out ? path_join(out, "repo") : NULL;
                if (!repo)
                        return exit_status_from(log_error_errno(-ENOMEM, "cannot index the repository"));
                json_t *stats = NULL;
                int k = repo_index(ctx, p, repo, key_path, p->project.name, p->source_date_epoch, true, &stats);
                json_object_set_new(j, "repository", stats ? stats : json_null());
                if (k != EXIT_OK) {
                        cli_result_set(TAKE_PTR(j));
                        return k;
                }
        }
        cli_result_set(TAKE_PTR(j));

        if (rep->n_failed > 0 || rep->n_skipped > 0) {
                fprintf(stderr, "slipway: failed:");
                for (size_t i = 0; i < rep->n; i++)
                        if (rep->results[i].status == BUILD_FAILED)
                                fprintf(stderr, " %s", rep->results[i].component->name);
                if (rep->n_skipped > 0) {
                        fprintf(stderr, "; skipped:");
                        for (size_t i = 0; i < rep->n; i++)
                                if (rep->results[i].status == BUILD_SKIPPED)
                                        fprintf(stderr, " %s", rep->results[i].component->name);
                }
                fputc('\n', stderr);
                return EXIT_FAILURE_USER;
        }
        return EXIT_OK;
}
