/* SPDX-License-Identifier: MIT */

/* `slipway repo [--key KEY] [--compress zstd|gzip] [DIR]`: repodata/ for DIR
 * (default: the project's OUT/repo, signed with the project's key). */

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "cli.h"
#include "config/project.h"
#include "package/build.h"
#include "repo/repo.h"
#include "sign/keyfile.h"

/* The project's build record as the packages its repository may hold. */
static int allowed_from_record(const Context *ctx, const Project *project, BuiltRpm **ret_built, size_t *ret_n,
                               RepoAllowed **ret_allowed, char ***ret_hrefs) {
        BuiltRpm *built = NULL;
        size_t n = 0;
        int r = build_record_load(project, ctx->out_dir, &built, &n);
        if (r < 0)
                return r;
        RepoAllowed *allowed = new0(RepoAllowed, n ? n : 1);
        char **hrefs = new0(char *, n ? n : 1);
        for (size_t i = 0; allowed && hrefs && i < n; i++) {
                hrefs[i] = path_join("Packages", built[i].file);
                if (!hrefs[i])
                        break;
                allowed[i] = (RepoAllowed) { .href = hrefs[i], .sha256 = built[i].sha256 };
        }
        if (!allowed || !hrefs || (n > 0 && !hrefs[n - 1])) {
                for (size_t i = 0; hrefs && i < n; i++)
                        free(hrefs[i]);
                free(hrefs);
                free(allowed);
                built_rpms_free(built, n);
                return -ENOMEM;
        }
        *ret_built = built;
        *ret_n = n;
        *ret_allowed = allowed;
        *ret_hrefs = hrefs;
        return 0;
}

int repo_index(const Context *ctx, const Project *project, const char *dir, const char *key_path,
               const char *key_name, uint64_t revision, bool quiet_summary, json_t **ret_stats) {
        _cleanup_(diagnostics_releasep) Diagnostics diag = {};
        _cleanup_(pgp_key_freep) PgpKey *k = NULL;
        _cleanup_free_ RepoAllowed *allowed = NULL;
        BuiltRpm *built = NULL;
        char **hrefs = NULL;
        size_t n_built = 0;
        int r;

        if (project) {
                r = allowed_from_record(ctx, project, &built, &n_built, &allowed, &hrefs);
                if (r < 0)
                        return exit_status_from(log_error_errno(r, "cannot read the build record"));
        }

        if (key_path) {
                const char *why = NULL;
                r = key_load_signing(key_path, &k, &why);
                if (r < 0) {
                        log_error("cannot sign with key '%s': %s", key_path, why);
                        return EXIT_FAILURE_USER;
                }
        }
        RepoCompression comp = REPO_COMPRESS_ZSTD;
        if (ctx->compress && strcmp(ctx->compress, "gzip") == 0)
                comp = REPO_COMPRESS_GZIP;
        else if (ctx->compress && strcmp(ctx->compress, "zstd") != 0) {
                log_error("unknown compression '%s': expected zstd or gzip", ctx->compress);
                return EXIT_USAGE;
        }

        RepoOptions o = { .dir = dir, .key = k, .key_name = key_name, .revision = revision, .compression = comp,
                          .jobs = ctx->jobs, .only_allowed = project != NULL, .allowed = allowed,
                          .n_allowed = n_built, .prune = ctx->prune };
        RepoStats st = {};
        r = repo_update(&o, &diag, &st);
        for (size_t i = 0; i < n_built; i++)
                free(hrefs[i]);
        free(hrefs);
        built_rpms_free(built, n_built);
        log_diagnostics(&diag);
        if (r < 0) {
                if (r != -EINVAL)
                        log_error_errno(r, "cannot write the repository metadata in '%s'", dir);
                fprintf(stderr, "slipway: the repository metadata in '%s' was left as it was\n", dir);
                return EXIT_FAILURE_USER;
        }
        json_t *j = json_pack("{s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:b}", "repository",
                              cli_json_string(dir), "packages", (json_int_t) st.n_packages, "read",
                              (json_int_t) st.n_read, "reused", (json_int_t) st.n_reused, "removed",
                              (json_int_t) st.n_removed, "pruned", (json_int_t) st.n_pruned, "chunks",
                              (json_int_t) st.n_chunks, "chunks-compressed", (json_int_t) st.n_chunks_compressed,
                              "changed", st.changed, "signed", k != NULL);
        if (!j)
                return exit_status_from(log_error_errno(-ENOMEM, "cannot describe the repository '%s'", dir));
        if (!ctx->json && (!quiet_summary || st.changed))
                log_info("%s: %zu package%s (%zu read, %zu unchanged)%s", dir, st.n_packages,
                         st.n_packages == 1 ? "" : "s", st.n_read, st.n_reused,
                         st.changed ? (k ? ", metadata written and signed" : ", metadata written (unsigned)")
                                    : ", nothing changed");
        if (ret_stats)
                *ret_stats = j;
        else
                json_decref(j);
        return EXIT_OK;
}

int verb_repo(const Context *ctx, int argc, char **argv) {
        json_t *stats = NULL;
        int r;

        if (argc == 1) {
                /* A directory of RPMs, independent of any project. */
                uint32_t t;
                if (signature_time(&t) < 0)
                        return EXIT_FAILURE_USER;
                if (ctx->prune) {
                        log_error("--prune is for the project's repository (without DIR)");
                        return EXIT_USAGE;
                }
                r = repo_index(ctx, NULL, argv[0], ctx->key, "repo", t, false, &stats);
                cli_result_set(stats);
                return r;
        }

        _cleanup_(diagnostics_releasep) Diagnostics diag = {};
        _cleanup_(project_freep) Project *p = NULL;
        r = project_load(ctx->dir, &diag, &p);
        log_diagnostics(&diag);
        if (r < 0)
                return EXIT_FAILURE_USER;
        _cleanup_free_ char *out = ctx->out_dir ? strdup(ctx->out_dir) : project_path(p, "out");
        _cleanup_free_ char *repo = out ? path_join(out, "repo") : NULL;
        _cleanup_free_ char *key = ctx->key ? strdup(ctx->key) : p->signing.key ? project_path(p, p->signing.key) : NULL;
        if (!repo || ((ctx->key || p->signing.key) && !key))
                return exit_status_from(log_error_errno(-ENOMEM, "cannot index the repository"));
        r = repo_index(ctx, p, repo, key, p->project.name, p->source_date_epoch, false, &stats);
        cli_result_set(stats);
        return r;
}
