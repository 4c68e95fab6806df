/* SPDX-License-Identifier: MIT */

/* `slipway keygen --uid "Name <email>" [--algo ed25519|rsa4096] -o PREFIX`:
 * PREFIX.asc (secret key, mode 0600) and PREFIX.pub.asc (public key).
 * With --secure-boot: PREFIX.key and PREFIX.crt, an RSA key and its
 * self-signed certificate for Authenticode (sign/authenticode.h). */

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/sde.h"
#include "cli.h"
#include "sign/authenticode.h"
#include "sign/pgp.h"

/* The certificate's notBefore when SOURCE_DATE_EPOCH is unset: a fixed
 * date (2026-01-01), so that keygen does not record when it ran. */
#define SECURE_BOOT_NOT_BEFORE 1767225600

static int keygen_secure_boot(const Context *ctx) {
        _cleanup_free_ char *key = NULL, *crt = NULL, *key_path = NULL, *crt_path = NULL, *dir = NULL;
        uint64_t when = SECURE_BOOT_NOT_BEFORE;
        int r;

        if (ctx->algo) {
                log_error("--algo is for OpenPGP keys: Secure Boot keys are RSA 2048");
                return EXIT_USAGE;
        }
        if (!ctx->uid[0] || strchr(ctx->uid, '\n') || strlen(ctx->uid) > 64) {
                log_error("--uid must be one non-empty line of at most 64 bytes (the certificate's CN), "
                          "such as \"Example Secure Boot\"");
                return EXIT_USAGE;
        }
        _cleanup_(diagnostics_releasep) Diagnostics d = {};
        r = source_date_epoch_from_env(&d, &when);
        log_diagnostics(&d);
        if (r < 0)
                return EXIT_USAGE;
        if (asprintf(&key_path, "%s.key", ctx->output) < 0 || asprintf(&crt_path, "%s.crt", ctx->output) < 0)
                return exit_status_from(log_error_errno(-ENOMEM, "cannot make a key"));
        if (path_exists(key_path) || path_exists(crt_path)) {
                log_error("'%s' or '%s' already exists: not overwriting a key", key_path, crt_path);
                return EXIT_FAILURE_USER;
        }
        r = sb_keygen(ctx->uid, (int64_t) when, &key, &crt);
        if (r < 0)
                return exit_status_from(log_error_errno(r, "cannot generate the key"));
        dir = path_dirname(key_path);
        if (dir && strcmp(dir, ".") != 0) {
                r = mkdir_parents(dir, 0755);
                if (r < 0)
                        return exit_status_from(log_error_errno(r, "cannot create '%s'", dir));
        }
        r = write_file_atomic(key_path, key, strlen(key), 0600);
        if (r < 0)
                return exit_status_from(log_error_errno(r, "cannot write '%s'", key_path));
        r = write_file_atomic(crt_path, crt, strlen(crt), 0644);
        if (r < 0) {
                (void) unlink(key_path);
                return exit_status_from(log_error_errno(r, "cannot write '%s'", crt_path));
        }
        json_t *res = json_pack("{s:o, s:o, s:s}", "key", cli_json_string(key_path), "certificate",
                                cli_json_string(crt_path), "algorithm", "rsa2048");
        if (!res)
                return exit_status_from(log_error_errno(-ENOMEM, "cannot describe the key"));
        log_info("wrote %s (secret, mode 0600) and %s (self-signed X.509, CN=%s)", key_path, crt_path, ctx->uid);
        cli_result_set(res);
        return EXIT_OK;
}

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
        if (ctx->secure_boot)
                return keygen_secure_boot(ctx);
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
