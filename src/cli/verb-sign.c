/* SPDX-License-Identifier: MIT */

/* `slipway sign --key KEY RPM...`: header signatures, in place, in parallel. */

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "basic/parallel.h"
#include "basic/sde.h"
#include "cli.h"
#include "sign/keyfile.h"
#include "sign/rpmsign.h"

/* SOURCE_DATE_EPOCH if set (reproducible signatures), else now. An invalid
 * value is an error, as everywhere else; so is a valid one past the 32-bit
 * time of an OpenPGP v4 signature (RFC 4880 5.2.3.4). */
int signature_time(uint32_t *ret) {
        _cleanup_(diagnostics_releasep) Diagnostics diag = {};
        uint64_t v;
        int r = source_date_epoch_from_env(&diag, &v);
        log_diagnostics(&diag);
        if (r < 0)
                return r;
        if (r == 0) {
                *ret = (uint32_t) time(NULL);
                return 0;
        }
        if (v > UINT32_MAX) {
                log_error("environment variable SOURCE_DATE_EPOCH='%llu' is later than an OpenPGP signature time "
                          "can be: at most 4294967295",
                          (unsigned long long) v);
                return -ERANGE;
        }
        *ret = (uint32_t) v;
        return 0;
}

typedef struct SignJob {
        const PgpKey *key;
        char **files;
        int *results;
        uint32_t created;
} SignJob;

static void sign_one(void *ctx, size_t i) {
        SignJob *j = ctx;
        j->results[i] = rpm_sign_file(j->key, j->files[i], j->created);
}

int verb_sign(const Context *ctx, int argc, char **argv) {
        _cleanup_(pgp_key_freep) PgpKey *k = NULL;
        const char *why = NULL;
        int r;

        if (!ctx->key) {
                log_error("sign needs --key KEY (an OpenPGP secret key)");
                return EXIT_USAGE;
        }
        r = key_load_signing(ctx->key, &k, &why);
        if (r < 0) {
                log_error("cannot sign with key '%s': %s", ctx->key, why);
                return EXIT_FAILURE_USER;
        }
        uint32_t created;
        if (signature_time(&created) < 0)
                return EXIT_FAILURE_USER;

        /* Each file once, however it was named: two jobs on one file race. */
        _cleanup_free_ int *results = calloc((size_t) argc, sizeof(int));
        _cleanup_free_ char **files = calloc((size_t) argc, sizeof(char *));
        _cleanup_free_ int *index = calloc((size_t) argc, sizeof(int)); /* argv -> files, or -1 */
        char **real = calloc((size_t) argc, sizeof(char *));
        size_t nfiles = 0;
        if (!results || !files || !index || !real) {
                free(real);
                return exit_status_from(log_error_errno(-ENOMEM, "cannot sign"));
        }
        for (int i = 0; i < argc; i++) {
                real[i] = realpath(argv[i], NULL);
                index[i] = -1;
                if (!real[i])
                        continue;
                for (int j = 0; j < i && index[i] < 0; j++)
                        if (real[j] && strcmp(real[j], real[i]) == 0)
                                index[i] = index[j];
                if (index[i] < 0) {
                        index[i] = (int) nfiles;
                        files[nfiles++] = argv[i];
                }
        }
        SignJob job = { .key = k, .files = files, .results = results, .created = created };
        parallel_for(nfiles, ctx->jobs, sign_one, &job);

        int failed = 0;
        json_t *signed_files = json_array(), *failures = json_array();
        for (int i = 0; i < argc; i++) {
                int rr = index[i] < 0 ? -ENOENT : results[index[i]];
                bool first = index[i] < 0 || files[index[i]] == argv[i];
                free(real[i]);
                if (!first)
                        continue; /* the same file, named again */
                if (rr == -EBADMSG) /* rpm_sign_file()'s one meaning of it */
                        log_error("'%s' is not a valid RPM package", argv[i]);
                else if (rr < 0)
                        log_error_errno(rr, "cannot sign '%s'", argv[i]);
                json_array_append_new(rr < 0 ? failures : signed_files, cli_json_string(argv[i]));
                failed += rr < 0;
        }
        free(real);
        char id[17];
        pgp_key_id_hex(k, id);
        cli_result_set(json_pack("{s:s, s:o, s:o}", "key_id", id, "signed", signed_files, "failed", failures));
        if (failed) {
                fprintf(stderr, "slipway: %zu of %zu package%s signed, %d failed\n", nfiles - (size_t) failed, nfiles,
                        nfiles == 1 ? "" : "s", failed);
                return EXIT_FAILURE_USER;
        }
        log_info("signed %zu package%s with key %s", nfiles, nfiles == 1 ? "" : "s", id);
        return EXIT_OK;
}
