/* SPDX-License-Identifier: MIT */

/* `slipway verify --key PUB [--allow-unsigned] FILE|DIR...`: every digest and
 * signature of RPMs, and of repositories down to each package, through the
 * one verification that `slipway image` uses too (repo/verify.h). */

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "repo/verify.h"
#include "sign/keyfile.h"

int verb_verify(const Context *ctx, int argc, char **argv) {
        _cleanup_(pgp_key_freep) PgpKey *k = NULL;
        _cleanup_(repo_verify_result_release) RepoVerifyResult res = {};
        const char *why = NULL;
        int r = 0;

        if (!ctx->key) {
                log_error("verify needs --key KEY (the public key to trust)");
                return EXIT_USAGE;
        }
        if (key_load(ctx->key, &k, &why) < 0) {
                log_error("cannot use key '%s': %s", ctx->key, why);
                return EXIT_FAILURE_USER;
        }
        for (int i = 0; r >= 0 && i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0) {
                        RepoCheck *c = reallocarray(res.checks, res.n + 1, sizeof(RepoCheck));
                        if (!c)
                                return exit_status_from(log_error_errno(-ENOMEM, "cannot verify"));
                        res.checks = c;
                        c[res.n] = (RepoCheck) { .path = strdup(argv[i]), .error = strdup("does not exist") };
                        res.n++;
                        res.n_failed++;
                        if (!c[res.n - 1].path || !c[res.n - 1].error)
                                return exit_status_from(log_error_errno(-ENOMEM, "cannot verify"));
                } else if (S_ISDIR(st.st_mode))
                        r = repo_verify_dir(k, argv[i], ctx->allow_unsigned, &res);
                else
                        r = repo_verify_package(k, argv[i], ctx->allow_unsigned, &res);
        }
        if (r < 0)
                return exit_status_from(log_error_errno(r, "cannot verify"));

        json_t *checks = json_array();
        for (size_t i = 0; i < res.n; i++) {
                const RepoCheck *c = &res.checks[i];
                json_array_append_new(checks, json_pack("{s:o, s:b, s:b, s:o}", "path", cli_json_string(c->path), "ok",
                                                        !c->error, "unsigned", c->unsigned_allowed, "error",
                                                        c->error ? cli_json_string(c->error) : json_null()));
                if (c->error) {
                        fprintf(stderr, "%s: FAILED: %s\n", c->path, c->error);
                        log_record_error("%s: FAILED: %s", c->path, c->error);
                } else if (!log_json() && log_get_level() >= LOG_NORMAL)
                        printf("%s: OK%s\n", c->path, c->unsigned_allowed ? ", not signed (allowed)" : "");
        }
        cli_result_set(json_pack("{s:o, s:I, s:I}", "checks", checks, "checked", (json_int_t) res.n, "failed",
                                 (json_int_t) res.n_failed));
        if (res.n_failed > 0) {
                log_error("verification failed: %zu problem%s", res.n_failed, res.n_failed == 1 ? "" : "s");
                return EXIT_FAILURE_USER;
        }
        return EXIT_OK;
}
