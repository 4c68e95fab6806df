/* SPDX-License-Identifier: MIT */

/* `slipway package [NAME...]`: build components into RPMs. */

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "basic/fileio.h"
#include "basic/run.h"
#include "package/build.h"
#include "package/hardening.h"
#include "package/remote.h"
#include "package/slurm.h"
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

/* The project being built, for progress() (whose userdata is the
 * Context, as the Slurm engine's callbacks have it too). */
static const Project *progress_project;

/* The hardening check's "warn" findings of a component built in this run:
 * one warning per check, naming the first file (cached components are
 * counted in the summary, not warned about again). */
static void hardening_warnings(const Project *p, const BuildResult *r) {
        for (int check = 0; check < _HARDENING_CHECK_MAX; check++) {
                if (hardening_action(p, r->component, check) != HARDENING_WARN)
                        continue;
                const HardeningPackage *first_pkg = NULL;
                const char *first = NULL;
                size_t n = 0;
                for (size_t k = 0; k < r->n_hardening; k++)
                        for (size_t i = 0; i < r->hardening[k].n_files; i++)
                                if (r->hardening[k].files[i].status[check] == HARDENING_MISSING && n++ == 0) {
                                        first_pkg = &r->hardening[k];
                                        first = r->hardening[k].files[i].path;
                                }
                if (n == 0)
                        continue;
                size_t l = strlen(first_pkg->rpm);
                int pl = (int) (l > 4 ? l - 4 : l);
                if (n == 1)
                        log_warning("component '%s': package %.*s: %s: %s (hardening check '%s' is \"warn\")",
                                    r->component->name, pl, first_pkg->rpm, first, hardening_missing_to_string(check),
                                    hardening_check_to_string(check));
                else
                        log_warning("component '%s': package %.*s: %s: %s, and %zu more file%s (hardening check '%s' "
                                    "is \"warn\")",
                                    r->component->name, pl, first_pkg->rpm, first, hardening_missing_to_string(check),
                                    n - 1, n > 2 ? "s" : "", hardening_check_to_string(check));
        }
}

/* Each component as it finishes: on stdout, or on stderr with --json
 * (stdout is the document then); failures always on stderr. */
static void progress(const BuildResult *r, void *userdata) {
        const Context *ctx = userdata;
        FILE *f = ctx->json ? stderr : stdout;
        if (r->warning)
                log_warning("component '%s': %s", r->component->name, r->warning);
        if (r->status == BUILD_BUILT && progress_project)
                hardening_warnings(progress_project, r);
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
                        fprintf(f, "cached   %-24s (%s)\n", r->component->name,
                                r->fetched ? "from the shared cache" : "inputs unchanged");
                break;
        case BUILD_MISSING:
                fprintf(stderr, "missing  %-24s %s\n", r->component->name, r->reason ? r->reason : "");
                log_record_error("component '%s' is missing: %s", r->component->name, r->reason ? r->reason : "");
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

/* A component's hardening results: its packages' ELF files and what each
 * check found, and its exceptions; null when nothing was checked. */
static json_t *hardening_component_json(const BuildResult *r) {
        const Component *c = r->component;
        json_t *exceptions = json_object();
        for (int check = 0; check < _HARDENING_CHECK_MAX; check++)
                if (c->hardening_exceptions.reason[check])
                        json_object_set_new(exceptions, hardening_check_to_string(check),
                                            json_string(c->hardening_exceptions.reason[check]));
        if (!r->hardening)
                return json_pack("{s:n, s:o}", "packages", "exceptions", exceptions);
        json_t *pkgs = json_array();
        for (size_t k = 0; k < r->n_hardening; k++)
                json_array_append_new(pkgs, hardening_package_to_json(&r->hardening[k]));
        return json_pack("{s:o, s:o, s:f}", "packages", pkgs, "exceptions", exceptions, "seconds",
                         r->hardening_seconds);
}

/* Per check, over every component checked: the files that have the
 * property, miss it, for which it does not apply, and those of components
 * excepted from it; and what the check does. */
typedef struct HardeningTotals {
        size_t files, packages;
        size_t n[_HARDENING_CHECK_MAX][_HARDENING_STATUS_MAX];
        size_t excepted[_HARDENING_CHECK_MAX];
        double seconds;
} HardeningTotals;

static void hardening_totals(const BuildReport *rep, HardeningTotals *t) {
        *t = (HardeningTotals) {};
        for (size_t i = 0; i < rep->n; i++) {
                const BuildResult *r = &rep->results[i];
                t->seconds += r->hardening_seconds;
                for (size_t k = 0; k < r->n_hardening; k++) {
                        t->packages++;
                        for (size_t f = 0; f < r->hardening[k].n_files; f++) {
                                t->files++;
                                for (int c = 0; c < _HARDENING_CHECK_MAX; c++) {
                                        if (r->component->hardening_exceptions.reason[c])
                                                t->excepted[c]++;
                                        else
                                                t->n[c][r->hardening[k].files[f].status[c]]++;
                                }
                        }
                }
        }
}

static json_t *hardening_json(const Project *p, const BuildReport *rep) {
        HardeningTotals t;
        hardening_totals(rep, &t);
        json_t *checks = json_object();
        for (int c = 0; c < _HARDENING_CHECK_MAX; c++)
                json_object_set_new(checks, hardening_check_to_string(c),
                                    json_pack("{s:s, s:I, s:I, s:I, s:I}", "action",
                                              hardening_action_to_string(p->hardening.action[c]), "pass",
                                              (json_int_t) t.n[c][HARDENING_PASS], "missing",
                                              (json_int_t) t.n[c][HARDENING_MISSING], "n/a",
                                              (json_int_t) t.n[c][HARDENING_NA], "excepted",
                                              (json_int_t) t.excepted[c]));
        return json_pack("{s:I, s:I, s:o, s:f}", "packages", (json_int_t) t.packages, "files", (json_int_t) t.files,
                         "checks", checks, "seconds", t.seconds);
}

/* The summary's hardening line: the files checked, and per check the
 * files missing its property (with what the check does), then the
 * components excepted. */
static void hardening_summary(const Project *p, const BuildReport *rep) {
        HardeningTotals t;
        hardening_totals(rep, &t);
        if (t.packages == 0)
                return;
        printf("hardening: %zu ELF file%s in %zu package%s", t.files, t.files == 1 ? "" : "s", t.packages,
               t.packages == 1 ? "" : "s");
        bool any = false;
        for (int c = 0; c < _HARDENING_CHECK_MAX; c++) {
                size_t m = t.n[c][HARDENING_MISSING];
                if (m == 0)
                        continue;
                printf("%s %s %zu (%s)", any ? "," : "; missing:", hardening_check_to_string(c), m,
                       hardening_action_to_string(p->hardening.action[c]));
                any = true;
        }
        if (!any && t.files > 0)
                printf("; nothing missing");
        /* What reading the packages took (summed over the parallel
         * builds; cached components' results come from their records). */
        printf(" (%.2fs)\n", t.seconds);
        for (size_t i = 0; i < rep->n; i++) {
                const Component *c = rep->results[i].component;
                for (int k = 0; k < _HARDENING_CHECK_MAX; k++)
                        if (c->hardening_exceptions.reason[k])
                                printf("hardening: component '%s' is excepted from '%s': %s\n", c->name,
                                       hardening_check_to_string(k), c->hardening_exceptions.reason[k]);
        }
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
                json_object_set_new(json_array_get(a, json_array_size(a) - 1), "hardening",
                                    hardening_component_json(r));
        }
        return json_pack("{s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "components", a, "built",
                         (json_int_t) rep->n_built, "cached", (json_int_t) rep->n_cached, "fetched",
                         (json_int_t) rep->n_fetched, "missing", (json_int_t) rep->n_missing, "failed",
                         (json_int_t) rep->n_failed, "skipped", (json_int_t) rep->n_skipped, "rpmbuild_runs",
                         (json_int_t) rep->n_rpmbuild, "buildroots_made", (json_int_t) rep->n_buildroots_made,
                         "buildroots_reused", (json_int_t) rep->n_buildroots_reused, "buildroots_pruned",
                         (json_int_t) rep->n_buildroots_pruned);
}

/* The plan's progress: what the caches have is told; what they lack is
 * the Slurm run's to tell. */
static void plan_progress(const BuildResult *r, void *userdata) {
        if (r->status == BUILD_CACHED || r->status == BUILD_FAILED)
                progress(r, userdata);
        else if (r->warning)
                log_warning("component '%s': %s", r->component->name, r->warning);
}

static void slurm_progress(const SlurmCounts *c, const SlurmJob *ended, void *userdata) {
        const Context *ctx = userdata;
        FILE *f = ctx->json ? stderr : stdout;
        if (ended) {
                if (ended->status == BUILD_BUILT) {
                        if (log_get_level() >= LOG_NORMAL && ended->was_cached)
                                fprintf(f, "built    %-24s (Slurm job %s found it built: a run of it before a "
                                        "requeue, or another run's)\n", ended->component->name,
                                        ended->id ? ended->id : "");
                        else if (log_get_level() >= LOG_NORMAL)
                                fprintf(f, "built    %-24s %6.2fs  (Slurm job %s)\n", ended->component->name,
                                        ended->seconds, ended->id ? ended->id : "");
                } else {
                        fprintf(stderr, "%s %-24s %s\n", ended->status == BUILD_FAILED ? "FAILED  " : "skipped ",
                                ended->component->name, ended->reason ? ended->reason : "");
                        if (ended->log) {
                                for (const char *p = ended->log; *p;) {
                                        size_t l = strcspn(p, "\n");
                                        fprintf(stderr, "    | %.*s\n", (int) l, p);
                                        p += l + (p[l] ? 1 : 0);
                                }
                        }
                }
        } else if (log_get_level() >= LOG_NORMAL)
                fprintf(f, "slurm: %zu built, %zu running, %zu queued, %zu failed, %zu skipped (of %zu)\n", c->built,
                        c->running, c->queued, c->failed, c->skipped, c->total);
        fflush(f);
}

static void slurm_submitted(size_t n, double seconds, void *userdata) {
        const Context *ctx = userdata;
        if (log_get_level() >= LOG_NORMAL) {
                FILE *f = ctx->json ? stderr : stdout;
                fprintf(f, "slurm: %zu job%s submitted in %.2fs (%.1f ms a job)\n", n, n == 1 ? "" : "s", seconds,
                        n ? seconds * 1000 / (double) n : 0.0);
                fflush(f);
        }
}

/* A job's report for the submitter, in the shared cache. */
static void put_job_report(const Context *ctx, RemoteCache *remote, const BuildReport *rep, const char *name) {
        const BuildResult *r = NULL;
        for (size_t i = 0; rep && i < rep->n; i++)
                if (strcmp(rep->results[i].component->name, name) == 0)
                        r = &rep->results[i];
        _cleanup_strbuf_ StrBuf tail = STRBUF_INIT;
        if (r && r->status == BUILD_FAILED && r->log_path) {
                _cleanup_free_ char *data = NULL;
                size_t size = 0;
                if (read_full_file(r->log_path, &data, &size) >= 0) {
                        size_t lines = 0, at = size;
                        while (at > 0 && lines < 25)
                                if (data[--at] == '\n' && at + 1 < size)
                                        lines++;
                        strbuf_put(&tail, data + at + (data[at] == '\n'), size - at - (data[at] == '\n'));
                }
        }
        const char *status = r ? build_status_to_string(r->status) : "failed";
        json_t *j = json_pack("{s:s, s:s, s:o, s:o, s:f, s:o}", "component", name, "status", status, "reason",
                              cli_json_string(r ? r->reason : "the build did not start (see the job's output)"),
                              "key", cli_json_string(r ? r->key : NULL), "seconds", r ? r->seconds : 0.0, "log",
                              tail.len ? json_string(tail.buf) : json_null());
        char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        json_decref(j);
        _cleanup_free_ char *error = NULL;
        if (!text || remote_put_status(remote, ctx->run, name, text, &error) < 0)
                log_warning("cannot put the job's report in the shared cache: %s", error ? error : "out of memory");
        free(text);
}

static bool run_id_ok(const char *s) {
        return s && *s && strlen(s) < 100 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-_.") == strlen(s) &&
               s[0] != '.';
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

        BuildEngine engine = p->build.engine;
        if (ctx->engine) {
                engine = strcmp(ctx->engine, "local") == 0   ? BUILD_ENGINE_LOCAL
                         : strcmp(ctx->engine, "slurm") == 0 ? BUILD_ENGINE_SLURM
                                                             : _BUILD_ENGINE_INVALID;
                if (engine < 0) {
                        log_error("--engine '%s': expected 'local' or 'slurm'", ctx->engine);
                        return EXIT_USAGE;
                }
        }
        if (ctx->one) {
                if (argc != 1) {
                        log_error("--one takes exactly one component");
                        return EXIT_USAGE;
                }
                engine = BUILD_ENGINE_LOCAL; /* a job builds here */
        } else if (ctx->run) {
                log_error("--run is for --one");
                return EXIT_USAGE;
        }
        if (ctx->run && !run_id_ok(ctx->run)) {
                log_error("--run '%s': expected lower-case letters, digits, '-', '_' and '.'", ctx->run);
                return EXIT_USAGE;
        }

        _cleanup_(remote_cache_freep) RemoteCache *remote = NULL;
        r = remote_cache_new(p, &diag, &remote);
        if (r < 0) {
                log_diagnostics(&diag);
                return r == -ENOMEM ? exit_status_from(log_error_errno(r, "cannot open the shared cache"))
                                    : EXIT_FAILURE_USER;
        }
        if (!remote && (ctx->one || engine == BUILD_ENGINE_SLURM)) {
                log_error("%s needs a shared cache: set [cache] url (docs/cluster.md)",
                          ctx->one ? "--one" : "the Slurm engine");
                return EXIT_FAILURE_USER;
        }

        /* The project's signing key signs everything built; a job signs
         * nothing (the submitting machine does). */
        _cleanup_(pgp_key_freep) PgpKey *key = NULL;
        _cleanup_free_ char *key_path = NULL;
        if (p->signing.key && !ctx->one) {
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
        _cleanup_free_ char *out = ctx->out_dir ? strdup(ctx->out_dir) : project_path(p, "out");
        r = out ? run_lock_output(out) : -ENOMEM;
        if (r < 0)
                return exit_status_from(log_error_errno(r, "cannot lock the output directory '%s'", out ? out : ""));
        if (r > 0)
                log_debug("removed %d temporary file%s that interrupted runs left in '%s'", r, r == 1 ? "" : "s", out);

        /* Upstream components build from the lock; what it lacks is locked
         * first (or, with --locked, refused). */
        _cleanup_(lock_freep) Lock *lock = NULL;
        json_t *lock_changes = NULL;
        r = cli_lock_sync(ctx, p, NULL, 0, false, &lock, &lock_changes);
        if (r != EXIT_OK)
                return r;
        _cleanup_(json_decrefp) json_t *changes = lock_changes;

        progress_project = p;
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
                .remote = remote,
                .one = ctx->one ? argv[0] : NULL,
                .cache_only = engine == BUILD_ENGINE_SLURM,
        };
        if (engine == BUILD_ENGINE_SLURM)
                o.progress = plan_progress;
        r = build_packages(p, &o, &diag, &rep);
        log_diagnostics(&diag);
        diagnostics_release(&diag);
        if (r < 0) {
                if (ctx->one && ctx->run)
                        put_job_report(ctx, remote, NULL, argv[0]);
                if (r != -EINVAL)
                        log_error_errno(r, "cannot build the packages");
                else
                        fprintf(stderr, "slipway: nothing was built\n");
                return EXIT_FAILURE_USER;
        }

        /* A job: its report, and no repository (the submitter makes it). */
        if (ctx->one) {
                if (ctx->run)
                        put_job_report(ctx, remote, rep, argv[0]);
                _cleanup_(json_decrefp) json_t *j = report_json(rep);
                if (!j)
                        return exit_status_from(log_error_errno(-ENOMEM, "cannot describe the build"));
                cli_result_set(TAKE_PTR(j));
                return rep->n_failed + rep->n_skipped + rep->n_missing > 0 ? EXIT_FAILURE_USER : EXIT_OK;
        }

        /* The Slurm engine: what the caches lack is built as jobs, then the
         * whole is taken from the caches (fetched, checked, signed). */
        SlurmJob *jobs = NULL;
        size_t n_jobs = 0;
        double submit_seconds = 0;
        size_t n_submitted = 0;
        if (engine == BUILD_ENGINE_SLURM && rep->n_missing > 0) {
                _cleanup_free_ char *proj = realpath(ctx->dir, NULL);
                _cleanup_free_ char *out_abs = realpath(out, NULL);
                _cleanup_free_ char *work = NULL, *self = NULL;
                char run[64];
                if (!proj || !out_abs)
                        return exit_status_from(log_error_errno(-errno, "cannot resolve the project's directories"));
                if (p->slurm.work_dir)
                        work = p->slurm.work_dir[0] == '/' ? strdup(p->slurm.work_dir) : path_join(proj, p->slurm.work_dir);
                else
                        work = path_join(out_abs, "slurm/work");
                self = p->slurm.slipway ? strdup(p->slurm.slipway) : realpath("/proc/self/exe", NULL);
                if (!work || !self)
                        return exit_status_from(log_error_errno(-ENOMEM, "cannot prepare the Slurm run"));
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                snprintf(run, sizeof run, "%lld-%ld-%d", (long long) ts.tv_sec, ts.tv_nsec / 1000, (int) getpid());
                SlurmRequest req = {
                        .p = p,
                        .project_dir = proj,
                        .work_dir = work,
                        .slipway = self,
                        .run = run,
                        .remote = remote,
                        .progress = slurm_progress,
                        .submitted_fn = slurm_submitted,
                        .userdata = (void *) ctx,
                };
                r = slurm_run(&req, rep, &diag, &jobs);
                log_diagnostics(&diag);
                diagnostics_release(&diag);
                if (r < 0) {
                        if (r != -EINVAL)
                                log_error_errno(r, "cannot run the Slurm jobs");
                        fprintf(stderr, "slipway: nothing was built\n");
                        return EXIT_FAILURE_USER;
                }
                n_jobs = rep->n;
                submit_seconds = req.submit_seconds;
                n_submitted = req.submitted;

                /* Assembly: everything from the caches now. */
                rep = build_report_free(rep);
                o.progress = NULL;
                r = build_packages(p, &o, &diag, &rep);
                log_diagnostics(&diag);
                if (r < 0) {
                        slurm_jobs_free(jobs, n_jobs);
                        log_error_errno(r, "cannot assemble the packages");
                        return EXIT_FAILURE_USER;
                }
                /* What the jobs said stands for what they built. */
                for (size_t i = 0; i < rep->n; i++) {
                        BuildResult *res = &rep->results[i];
                        const SlurmJob *j = NULL;
                        for (size_t k = 0; k < n_jobs && !j; k++)
                                if (jobs[k].component == res->component)
                                        j = &jobs[k];
                        if (!j || (!j->id && j->status != BUILD_SKIPPED))
                                continue;
                        if (j->status == BUILD_BUILT && res->status == BUILD_CACHED) {
                                res->status = BUILD_BUILT;
                                res->seconds = j->seconds;
                                rep->n_cached--;
                                rep->n_fetched--;
                                rep->n_built++;
                                continue;
                        }
                        if (res->status == BUILD_CACHED)
                                continue; /* a job that failed after putting it (its report) */
                        if (res->status == BUILD_MISSING)
                                rep->n_missing--;
                        else if (res->status == BUILD_SKIPPED)
                                rep->n_skipped--;
                        else if (res->status == BUILD_FAILED)
                                rep->n_failed--;
                        if (j->status == BUILD_SKIPPED) {
                                res->status = BUILD_SKIPPED;
                                rep->n_skipped++;
                        } else {
                                res->status = BUILD_FAILED;
                                rep->n_failed++;
                        }
                        free(res->reason);
                        if (j->status == BUILD_BUILT && j->key && res->key && strcmp(j->key, res->key) != 0)
                                res->reason = strprintf("its job built it from other inputs (key %.12s, here %.12s): "
                                                        "is the project on the nodes the same as here?",
                                                        j->key, res->key);
                        else
                                res->reason = j->reason ? strdup(j->reason)
                                                        : strdup(j->status == BUILD_BUILT
                                                                         ? "its job ended, but its packages are not "
                                                                           "in the shared cache"
                                                                         : "its job did not build it");
                        /* The jobs' own failures were told as they ended. */
                        if (j->status == BUILD_BUILT)
                                progress(res, (void *) ctx);
                }
                for (size_t i = 0; i < rep->n; i++)
                        if (rep->results[i].status == BUILD_MISSING) {
                                progress(&rep->results[i], (void *) ctx);
                        }
                slurm_jobs_free(jobs, n_jobs);
        }

        _cleanup_(json_decrefp) json_t *j = report_json(rep);
        if (!j)
                return exit_status_from(log_error_errno(-ENOMEM, "cannot describe the build"));
        json_object_set(j, "lock", changes ? changes : json_null());
        json_object_set_new(j, "hardening", hardening_json(p, rep));
        json_object_set_new(j, "engine", json_string(build_engine_to_string(engine)));
        if (engine == BUILD_ENGINE_SLURM)
                json_object_set_new(j, "slurm", json_pack("{s:I, s:f}", "submitted", (json_int_t) n_submitted,
                                                          "submit_seconds", submit_seconds));
        if (!ctx->json && log_get_level() >= LOG_NORMAL) {
                if (rep->n_built == 0 && rep->n_failed == 0 && rep->n_skipped == 0 && rep->n_missing == 0 &&
                    rep->n_fetched == 0)
                        printf("nothing to do: %zu component%s unchanged, rpmbuild not run\n", rep->n_cached,
                               rep->n_cached == 1 ? "" : "s");
                else {
                        printf("%zu built, %zu cached", rep->n_built, rep->n_cached);
                        if (rep->n_fetched > 0)
                                printf(" (%zu from the shared cache)", rep->n_fetched);
                        printf(", %zu failed, %zu skipped", rep->n_failed, rep->n_skipped);
                        if (rep->n_missing > 0)
                                printf(", %zu missing", rep->n_missing);
                        printf(" (rpmbuild ran %zu time%s", rep->n_rpmbuild, rep->n_rpmbuild == 1 ? "" : "s");
                        if (rep->n_buildroots_made + rep->n_buildroots_reused > 0)
                                printf("; buildroots: %zu made, %zu reused", rep->n_buildroots_made,
                                       rep->n_buildroots_reused);
                        printf(")\n");
                }
                hardening_summary(p, rep);
        }
        /* Then the repository, with what was built: its summary is the
         * report's "repository" (null if it failed). */
        {
                _cleanup_free_ char *repo = path_join(out, "repo");
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

        if (rep->n_failed > 0 || rep->n_skipped > 0 || rep->n_missing > 0) {
                fprintf(stderr, "slipway: failed:");
                for (size_t i = 0; i < rep->n; i++)
                        if (rep->results[i].status == BUILD_FAILED || rep->results[i].status == BUILD_MISSING)
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
