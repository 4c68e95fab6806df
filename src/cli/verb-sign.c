/* SPDX-License-Identifier: MIT */

/* `slipway sign --key KEY RPM...`: header signatures, in place, in parallel. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "basic/parallel.h"
#include "cli.h"
#include "sign/keyfile.h"
#include "sign/rpmsign.h"

/* SOURCE_DATE_EPOCH if set (reproducible signatures), else now. */
uint32_t signature_time(void) {
        const char *e = getenv("SOURCE_DATE_EPOCH");
        if (e && *e) {
                char *end;
                unsigned long long v = strtoull(e, &end, 10);
                if (!*end && v <= UINT32_MAX)
                        return (uint32_t) v;
        }
        return (uint32_t) time(NULL);
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
        r = key_load(ctx->key, &k, &why);
        if (r < 0) {
                log_error("cannot use key '%s': %s", ctx->key, why);
                return EXIT_FAILURE_USER;
        }
        if (!pgp_key_is_secret(k)) {
                log_error("key '%s' is a public key: signing needs the secret key", ctx->key);
                return EXIT_FAILURE_USER;
        }

        _cleanup_free_ int *results = calloc((size_t) argc, sizeof(int));
        if (!results)
                return exit_status_from(log_error_errno(-ENOMEM, "cannot sign"));
        SignJob job = { .key = k, .files = argv, .results = results, .created = signature_time() };
        parallel_for((size_t) argc, ctx->jobs, sign_one, &job);

        int failed = 0;
        for (int i = 0; i < argc; i++) {
                if (results[i] == -EBADMSG || results[i] == -ENODATA)
                        log_error("'%s' is not a valid RPM package", argv[i]);
                else if (results[i] < 0)
                        log_error_errno(results[i], "cannot sign '%s'", argv[i]);
                failed += results[i] < 0;
        }
        char id[17];
        pgp_key_id_hex(k, id);
        if (failed)
                return EXIT_FAILURE_USER;
        log_info("signed %d package%s with key %s", argc, argc == 1 ? "" : "s", id);
        return EXIT_OK;
}
