/* SPDX-License-Identifier: MIT */

/* Verification of repositories and packages: one policy (verify.h). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "basic/alloc.h"
#include "basic/compress.h"
#include "basic/fileio.h"
#include "basic/strbuf.h"
#include "repo/repo.h"
#include "repo/verify.h"
#include "rpm/package.h"
#include "sign/pgp.h"
#include "sign/rpmsign.h"

int repo_checksum_algo(const char *type, HashAlgo *ret) {
        if (type && strcmp(type, "sha256") == 0)
                *ret = HASH_SHA256;
        else if (type && strcmp(type, "sha512") == 0)
                *ret = HASH_SHA512;
        else
                return -EOPNOTSUPP; /* sha1 and md5 are not trusted */
        return 0;
}

static int fail(char **ret_error, char *msg) {
        if (!msg)
                return -ENOMEM;
        *ret_error = msg;
        return -EINVAL;
}

#define OPEN_SIZE_MAX ((uint64_t) 1 << 30)

int repo_metadata_decompress(const void *data, size_t n, uint64_t open_size, uint8_t **ret, size_t *ret_len) {
        if (open_size == 0 || open_size > OPEN_SIZE_MAX)
                return decompress_any(data, n, ret, ret_len);
        _cleanup_free_ uint8_t *buf = malloc((size_t) open_size + 1);
        size_t got = 0;
        if (!buf)
                return -ENOMEM;
        int r = decompress_into(data, n, buf, (size_t) open_size, &got);
        if (r < 0)
                return r == -ENOMEM || r == -EFBIG ? r : -EBADMSG;
        buf[got] = 0;
        *ret = TAKE_PTR(buf);
        *ret_len = got;
        return 0;
}

int repo_check_file(const char *path, const char *type, const char *want, char **ret_error) {
        uint8_t md[HASH_MAX_SIZE];
        char hex[2 * HASH_MAX_SIZE + 1];
        HashAlgo a;

        if (repo_checksum_algo(type, &a) < 0)
                return fail(ret_error, strprintf("checksum type '%s' is not accepted (sha256 or sha512)",
                                                 type ? type : ""));
        if (!want || !*want)
                return fail(ret_error, strdup("the repository metadata gives no checksum for it"));
        int r = hash_file(a, path, md, NULL);
        if (r == -ENOENT)
                return fail(ret_error, strdup("missing"));
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return fail(ret_error, strprintf("cannot read it: %s", strerror(-r)));
        hex_encode(md, hash_size(a), hex);
        if (strcasecmp(hex, want) != 0)
                return fail(ret_error, strdup("checksum does not match the repository metadata"));
        return 0;
}

/* "signature uses MD5, which is refused": what a -ENOPKG from pgp_verify() means. */
static char *refused_hash(int r, unsigned algo) {
        const char *name = r >= 0 ? pgp_hash_name(algo) : NULL;
        if (name)
                return strprintf("signature uses %s, which is refused (only SHA-1, SHA-256 and SHA-512 are taken)", name);
        if (r >= 0)
                return strprintf("signature uses hash algorithm %u, which is refused (only SHA-1, SHA-256 and SHA-512 "
                                 "are taken)", algo);
        return strdup("signature uses a hash algorithm that is refused");
}

int repo_check_repomd(const PgpKey *key, const void *repomd, size_t n, const void *sig, size_t sig_len,
                      char **ret_error) {
        if (!sig) {
                *ret_error = strdup("repomd.xml is not signed (no repodata/repomd.xml.asc)");
                return *ret_error ? -ENODATA : -ENOMEM;
        }
        int r = pgp_verify(key, sig, sig_len, repomd, n);
        if (r == -ENOKEY)
                return fail(ret_error, strdup("repomd.xml.asc is signed by another key than the one trusted"));
        if (r == -ENOMEM)
                return r;
        if (r == -ENOPKG) {
                unsigned algo = 0;
                int k = pgp_signature_hash(sig, sig_len, &algo);
                return fail(ret_error, refused_hash(k, algo));
        }
        if (r < 0)
                return fail(ret_error, strdup("bad signature: repomd.xml does not match repomd.xml.asc"));
        return 0;
}

int repo_check_package(const PgpKey *key, const char *path, const char *repo, char **ret_error) {
        const char *what = NULL;
        int r = rpm_package_check_digests(path, &what);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return fail(ret_error, strdup(what ? what : "not a valid RPM package"));
        r = rpm_verify_signature(key, path);
        switch (r) {
        case 0:
                return 0;
        case -ENOMEM:
                return r;
        case -ENODATA:
                *ret_error = repo ? strprintf("not signed, and repository '%s' requires signed packages (gpgcheck)", repo)
                                  : strdup("not signed");
                return *ret_error ? -ENODATA : -ENOMEM;
        case -ENOKEY:
                return fail(ret_error, repo ? strprintf("signed by another key than repository '%s' trusts", repo)
                                            : strdup("signed by another key than the one trusted"));
        case -EKEYREJECTED:
                return fail(ret_error, strdup("bad signature: the header does not match its signature"));
        case -ENOMSG:
                return fail(ret_error, strdup("the signature names no issuer key ID, by which rpm finds its key"));
        case -ENOPKG: {
                unsigned algo = 0;
                int k = rpm_signature_hash(path, &algo);
                return fail(ret_error, refused_hash(k, algo));
        }
        default:
                return fail(ret_error, strdup("malformed signature"));
        }
}

/* ---- whole repositories ---- */

void repo_verify_result_release(RepoVerifyResult *r) {
        for (size_t i = 0; i < r->n; i++) {
                free(r->checks[i].path);
                free(r->checks[i].error);
        }
        free(r->checks);
        *r = (RepoVerifyResult) {};
}

/* Appends a result; takes error (NULL: passed). */
static int add(RepoVerifyResult *r, const char *path, char *error, bool unsigned_allowed) {
        RepoCheck *c = reallocarray(r->checks, r->n + 1, sizeof(RepoCheck));
        if (!c) {
                free(error);
                return -ENOMEM;
        }
        r->checks = c;
        c[r->n] = (RepoCheck) { .path = strdup(path), .error = error, .unsigned_allowed = unsigned_allowed };
        if (!c[r->n].path) {
                free(error);
                return -ENOMEM;
        }
        r->n++;
        if (error)
                r->n_failed++;
        return 0;
}

/* Adds the outcome of a check that returned k with message err. */
static int add_outcome(RepoVerifyResult *r, const char *path, int k, char *err, bool allow_unsigned) {
        if (k == -ENOMEM) {
                free(err);
                return k;
        }
        if (k == -ENODATA && allow_unsigned) {
                free(err);
                return add(r, path, NULL, true);
        }
        if (k == -ENODATA) {
                char *m = strprintf("%s (use --allow-unsigned to accept it)", err);
                free(err);
                return m ? add(r, path, m, false) : -ENOMEM;
        }
        return add(r, path, k < 0 ? err : NULL, false);
}

int repo_verify_package(const PgpKey *key, const char *path, bool allow_unsigned, RepoVerifyResult *r) {
        char *err = NULL;
        int k = repo_check_package(key, path, NULL, &err);
        return add_outcome(r, path, k, err, allow_unsigned);
}

static int href_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Package files in dir that primary does not list: nothing vouches for
 * them, and a client of the repository never sees them; a repository that
 * holds them is not what its metadata says. */
static int unlisted(const char *dir, const RepoPrimaryPackage *pk, size_t npk, RepoVerifyResult *r) {
        _cleanup_free_ const char **listed = new0(const char *, npk ? npk : 1);
        char **files = NULL;
        size_t nf = 0;
        if (!listed)
                return -ENOMEM;
        for (size_t i = 0; i < npk; i++)
                listed[i] = pk[i].href;
        qsort(listed, npk, sizeof(char *), href_cmp);
        int k = repo_scan_packages(dir, &files, &nf);
        if (k < 0)
                return k == -ENOMEM ? k : add(r, dir, strprintf("cannot list the packages: %s", strerror(-k)), false);
        for (size_t i = 0; i < nf && k >= 0; i++) {
                if (bsearch(&files[i], listed, npk, sizeof(char *), href_cmp))
                        continue;
                _cleanup_free_ char *f = path_join(dir, files[i]);
                char *m = strdup("not listed in the repository metadata (primary)");
                k = f && m ? add(r, f, m, false) : (free(m), -ENOMEM);
        }
        for (size_t i = 0; i < nf; i++)
                free(files[i]);
        free(files);
        return k < 0 ? k : 0;
}

int repo_verify_dir(const PgpKey *key, const char *dir, bool allow_unsigned, RepoVerifyResult *r) {
        _cleanup_free_ char *repomd = path_join(dir, "repodata/repomd.xml");
        _cleanup_free_ char *asc = path_join(dir, "repodata/repomd.xml.asc");
        _cleanup_free_ char *data = NULL, *sig = NULL, *pf = NULL, *raw = NULL;
        _cleanup_free_ uint8_t *xml = NULL;
        size_t rl, xl;
        RepoMdData *md = NULL;
        RepoPrimaryPackage *pk = NULL;
        size_t n = 0, sn = 0, nmd = 0, npk = 0;
        char *err = NULL;
        int k;

        if (!repomd || !asc)
                return -ENOMEM;
        k = read_full_file(repomd, &data, &n);
        if (k < 0)
                return k == -ENOMEM ? k : add(r, dir, strdup("no repodata/repomd.xml: not a repository"), false);
        bool has_sig = read_full_file(asc, &sig, &sn) >= 0;
        k = repo_check_repomd(key, data, n, has_sig ? sig : NULL, sn, &err);
        if ((k = add_outcome(r, repomd, k, err, allow_unsigned)) < 0)
                return k;

        k = repomd_parse(data, n, &md, &nmd);
        if (k < 0)
                return k == -ENOMEM ? k : add(r, repomd, strdup("malformed repomd.xml"), false);
        const RepoMdData *primary = NULL;
        for (size_t i = 0; i < nmd; i++) {
                _cleanup_free_ char *f = repo_href_safe(md[i].href) ? path_join(dir, md[i].href) : NULL;
                if (!f) {
                        k = add(r, repomd, strprintf("the location '%s' leaves the repository", md[i].href), false);
                } else {
                        err = NULL;
                        k = repo_check_file(f, md[i].checksum_type, md[i].checksum, &err);
                        if (k >= 0 && strcmp(md[i].type, "primary") == 0)
                                primary = &md[i];
                        k = add_outcome(r, f, k, err, false);
                }
                if (k < 0)
                        goto finish;
        }
        if (!primary) {
                k = r->n_failed ? 0 : add(r, repomd, strdup("repomd.xml lists no primary metadata"), false);
                goto finish;
        }

        pf = path_join(dir, primary->href);
        if (!pf) {
                k = -ENOMEM;
                goto finish;
        }
        if (read_full_file(pf, &raw, &rl) < 0 ||
            repo_metadata_decompress(raw, rl, primary->open_size, &xml, &xl) < 0 ||
            primary_parse((const char *) xml, xl, &pk, &npk) < 0) {
                k = add(r, pf, strdup("malformed primary metadata"), false);
                goto finish;
        }
        for (size_t i = 0; i < npk; i++) {
                _cleanup_free_ char *f = repo_href_safe(pk[i].href) ? path_join(dir, pk[i].href) : NULL;
                if (!f) {
                        k = add(r, pf, strprintf("the package location '%s' leaves the repository", pk[i].href), false);
                        if (k < 0)
                                goto finish;
                        continue;
                }
                err = NULL;
                k = repo_check_file(f, pk[i].checksum_type, pk[i].pkgid, &err);
                if (k < 0) {
                        k = add_outcome(r, f, k, err, false);
                        if (k < 0)
                                goto finish;
                        continue;
                }
                k = repo_verify_package(key, f, allow_unsigned, r);
                if (k < 0)
                        goto finish;
        }
        k = unlisted(dir, pk, npk, r);
finish:
        primary_free_array(pk, npk);
        repomd_free_array(md, nmd);
        return k;
}
