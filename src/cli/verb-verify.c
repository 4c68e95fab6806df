/* SPDX-License-Identifier: MIT */

/* `slipway verify --key PUB [--allow-unsigned] FILE|DIR...`: every digest and
 * signature of RPMs, and of repositories down to each package. */

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/compress.h"
#include "basic/fileio.h"
#include "basic/hash.h"
#include "cli.h"
#include "repo/repo.h"
#include "rpm/package.h"
#include "sign/keyfile.h"
#include "sign/rpmsign.h"

typedef struct Verifier {
        const Context *ctx;
        const PgpKey *key;
        size_t failures;
        size_t checked;
} Verifier;

static void fail(Verifier *v, const char *file, const char *what) {
        fprintf(stderr, "%s: FAILED: %s\n", file, what);
        v->failures++;
}

static void verify_rpm(Verifier *v, const char *path) {
        const char *what = NULL;
        int r = rpm_package_check_digests(path, &what);
        v->checked++;
        if (r < 0) {
                fail(v, path, what ? what : strerror(-r));
                return;
        }
        r = rpm_verify_signature(v->key, path);
        switch (r) {
        case 0:
                if (log_get_level() >= LOG_NORMAL)
                        printf("%s: digests and signature OK\n", path);
                return;
        case -ENODATA:
                if (v->ctx->allow_unsigned) {
                        if (log_get_level() >= LOG_NORMAL)
                                printf("%s: digests OK, not signed (allowed)\n", path);
                        return;
                }
                fail(v, path, "not signed (use --allow-unsigned to accept unsigned packages)");
                return;
        case -ENOKEY:
                fail(v, path, "signed by another key");
                return;
        case -EKEYREJECTED:
                fail(v, path, "bad signature: the header does not match its signature");
                return;
        default:
                fail(v, path, "malformed signature");
                return;
        }
}

static bool file_checksum_ok(const char *path, const char *type, const char *want) {
        uint8_t md[HASH_MAX_SIZE];
        char hex[2 * HASH_MAX_SIZE + 1];
        HashAlgo a = strcmp(type, "sha256") == 0 ? HASH_SHA256 : strcmp(type, "sha512") == 0 ? HASH_SHA512
                    : strcmp(type, "sha1") == 0 || strcmp(type, "sha") == 0 ? HASH_SHA1
                                                                             : _HASH_ALGO_INVALID;
        if (a < 0 || hash_file(a, path, md, NULL) < 0)
                return false;
        hex_encode(md, hash_size(a), hex);
        return strcasecmp(hex, want) == 0;
}

static void verify_repo(Verifier *v, const char *dir) {
        _cleanup_free_ char *repomd = path_join(dir, "repodata/repomd.xml");
        _cleanup_free_ char *asc = path_join(dir, "repodata/repomd.xml.asc");
        _cleanup_free_ char *data = NULL, *sig = NULL;
        size_t n, sn;
        int r;

        if (!repomd || !asc || read_full_file(repomd, &data, &n) < 0) {
                fail(v, dir, "no repodata/repomd.xml");
                return;
        }
        if (read_full_file(asc, &sig, &sn) < 0) {
                if (!v->ctx->allow_unsigned)
                        fail(v, repomd, "not signed: no repomd.xml.asc (use --allow-unsigned to accept it)");
        } else {
                r = pgp_verify(v->key, sig, sn, data, n);
                if (r == -ENOKEY)
                        fail(v, asc, "repomd.xml is signed by another key");
                else if (r < 0)
                        fail(v, asc, "bad signature: repomd.xml does not match repomd.xml.asc");
                else if (log_get_level() >= LOG_NORMAL)
                        printf("%s: signature OK\n", repomd);
        }

        RepoMdData *md = NULL;
        size_t nmd = 0;
        if (repomd_parse(data, n, &md, &nmd) < 0) {
                fail(v, repomd, "malformed repomd.xml");
                return;
        }
        const RepoMdData *primary = NULL;
        for (size_t i = 0; i < nmd; i++) {
                _cleanup_free_ char *f = repo_href_safe(md[i].href) ? path_join(dir, md[i].href) : NULL;
                if (!f) {
                        fail(v, repomd, "a location points outside the repository");
                        continue;
                }
                if (!path_exists(f))
                        fail(v, f, "listed in repomd.xml but missing");
                else if (!file_checksum_ok(f, md[i].checksum_type, md[i].checksum))
                        fail(v, f, "checksum does not match repomd.xml");
                else if (strcmp(md[i].type, "primary") == 0)
                        primary = &md[i];
        }
        if (!primary) {
                if (v->failures == 0)
                        fail(v, repomd, "no primary metadata");
                repomd_free_array(md, nmd);
                return;
        }

        _cleanup_free_ char *pf = path_join(dir, primary->href), *raw = NULL;
        _cleanup_free_ uint8_t *xml = NULL;
        size_t rl, xl;
        RepoPrimaryPackage *pk = NULL;
        size_t npk = 0;
        if (!pf || read_full_file(pf, &raw, &rl) < 0 || decompress_any(raw, rl, &xml, &xl) < 0 ||
            primary_parse((const char *) xml, xl, &pk, &npk) < 0) {
                fail(v, pf ? pf : dir, "malformed primary metadata");
                repomd_free_array(md, nmd);
                return;
        }
        for (size_t i = 0; i < npk; i++) {
                _cleanup_free_ char *f = repo_href_safe(pk[i].href) ? path_join(dir, pk[i].href) : NULL;
                if (!f) {
                        fail(v, pf, "a package location points outside the repository");
                        continue;
                }
                if (!path_exists(f)) {
                        fail(v, f, "listed in the metadata but missing");
                        continue;
                }
                if (!file_checksum_ok(f, pk[i].checksum_type, pk[i].pkgid)) {
                        fail(v, f, "checksum does not match the repository metadata");
                        continue;
                }
                verify_rpm(v, f);
        }
        primary_free_array(pk, npk);
        repomd_free_array(md, nmd);
}

int verb_verify(const Context *ctx, int argc, char **argv) {
        _cleanup_(pgp_key_freep) PgpKey *k = NULL;
        const char *why = NULL;

        if (!ctx->key) {
                log_error("verify needs --key KEY (the public key to trust)");
                return EXIT_USAGE;
        }
        if (key_load(ctx->key, &k, &why) < 0) {
                log_error("cannot use key '%s': %s", ctx->key, why);
                return EXIT_FAILURE_USER;
        }
        Verifier v = { .ctx = ctx, .key = k };
        for (int i = 0; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0) {
                        fail(&v, argv[i], "does not exist");
                        continue;
                }
                if (S_ISDIR(st.st_mode))
                        verify_repo(&v, argv[i]);
                else
                        verify_rpm(&v, argv[i]);
        }
        if (v.failures > 0) {
                fprintf(stderr, "slipway: verification failed: %zu problem%s\n", v.failures, v.failures == 1 ? "" : "s");
                return EXIT_FAILURE_USER;
        }
        return EXIT_OK;
}
