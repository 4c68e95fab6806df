/* SPDX-License-Identifier: MIT */

/* `slipway keygen --uid "Name <email>" [--algo ed25519|rsa4096] -o PREFIX`:
 * PREFIX.asc (secret key, mode 0600) and PREFIX.pub.asc (public key). */

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "cli.h"
#include "sign/pgp.h"

int verb_keygen(const Context *ctx, int argc, char **argv) {
        _cleanup_(pgp_key_freep) PgpKey *k = NULL;
        _cleanup_free_ char *sec = NULL, *pub = NULL, *sec_path = NULL, *pub_path = NULL, *dir = NULL;
        PgpAlgo algo;
        unsigned bits = 0;
        int r;

        (void) argc;
        (void) argv;
        if (!ctx->uid || !ctx->output) {
                log_error("keygen needs --uid \"Name <email>\" and -o PREFIX");
                return EXIT_USAGE;
        }
        if (!ctx->algo || strcmp(ctx->algo, "ed25519") == 0)
                algo = PGP_ALGO_EDDSA;
        else if (strcmp(ctx->algo, "rsa4096") == 0) {
                algo = PGP_ALGO_RSA;
                bits = 4096;
        } else if (strcmp(ctx->algo, "rsa3072") == 0) {
                algo = PGP_ALGO_RSA;
                bits = 3072;
        } else {
                log_error("unknown key algorithm '%s': expected ed25519, rsa4096 or rsa3072", ctx->algo);
                return EXIT_USAGE;
        }
        if (!ctx->uid[0] || strchr(ctx->uid, '\n')) {
                log_error("--uid must be one non-empty line, such as \"Example Release <release@example.com>\"");
                return EXIT_USAGE;
        }

        if (asprintf(&sec_path, "%s.asc", ctx->output) < 0 || asprintf(&pub_path, "%s.pub.asc", ctx->output) < 0)
                return exit_status_from(log_error_errno(-ENOMEM, "cannot make a key"));
        if (path_exists(sec_path) || path_exists(pub_path)) {
                log_error("'%s' or '%s' already exists: not overwriting a key", sec_path, pub_path);
                return EXIT_FAILURE_USER;
        }

        r = pgp_key_generate(algo, bits, ctx->uid, (uint32_t) time(NULL), &k);
        if (r < 0)
                return exit_status_from(log_error_errno(r, "cannot generate the key"));
        r = pgp_key_export_secret(k, &sec);
        if (r >= 0)
                r = pgp_key_export_public(k, &pub);
        if (r < 0)
                return exit_status_from(log_error_errno(r, "cannot export the key"));

        dir = path_dirname(sec_path);
        if (dir && strcmp(dir, ".") != 0) {
                r = mkdir_parents(dir, 0755);
                if (r < 0)
                        return exit_status_from(log_error_errno(r, "cannot create '%s'", dir));
        }
        r = write_file_atomic(sec_path, sec, strlen(sec), 0600);
        if (r < 0)
                return exit_status_from(log_error_errno(r, "cannot write '%s'", sec_path));
        r = write_file_atomic(pub_path, pub, strlen(pub), 0644);
        if (r < 0) {
                (void) unlink(sec_path);
                return exit_status_from(log_error_errno(r, "cannot write '%s'", pub_path));
        }

        char id[17];
        pgp_key_id_hex(k, id);
        json_t *res = json_pack("{s:o, s:o, s:s, s:s}", "secret", cli_json_string(sec_path), "public",
                                cli_json_string(pub_path), "key_id", id, "algorithm",
                                algo == PGP_ALGO_RSA ? "rsa" : "ed25519");
        if (!res)
                return exit_status_from(log_error_errno(-ENOMEM, "cannot describe the key"));
        log_info("wrote %s (secret, mode 0600) and %s; key ID %s (%s)", sec_path, pub_path, id,
                 algo == PGP_ALGO_RSA ? "RSA" : "Ed25519");
        cli_result_set(res);
        return EXIT_OK;
}
