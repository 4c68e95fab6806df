/* SPDX-License-Identifier: MIT */

/* OpenPGP packets (RFC 4880; RFC 9580 for EdDSALegacy). Section numbers below
 * are RFC 4880's unless marked. */

#include <endian.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "basic/hash.h"
#include "basic/strbuf.h"
#include "sign/pgp.h"

enum {
        PKT_SIGNATURE = 2,
        PKT_SECRET_KEY = 5,
        PKT_PUBLIC_KEY = 6,
        PKT_SECRET_SUBKEY = 7,
        PKT_USER_ID = 13,
        PKT_PUBLIC_SUBKEY = 14,
};

enum {
        SUB_CREATION_TIME = 2,
        SUB_PREF_SYMMETRIC = 11,
        SUB_ISSUER = 16,
        SUB_PREF_HASH = 21,
        SUB_PREF_COMPRESSION = 22,
        SUB_KEY_FLAGS = 27,
        SUB_FEATURES = 30,
        SUB_ISSUER_FINGERPRINT = 33,
};

/* Ed25519's curve OID 1.3.6.1.4.1.11591.15.1 (RFC 9580 9.2). */
static const uint8_t ed25519_oid[] = { 0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01 };

struct PgpKey {
        PgpAlgo algo;
        uint32_t created;
        uint8_t *pub; /* public key packet body (5.5.2) */
        size_t pub_len;
        uint8_t *sec; /* the secret part of a secret key packet (5.5.3), unprotected */
        size_t sec_len;
        uint8_t fpr[20];
        char *uid;
        uint8_t *selfsig; /* the whole signature packet certifying uid */
        size_t selfsig_len;
        EVP_PKEY *pkey;
};

PgpKey *pgp_key_free(PgpKey *k) {
        if (!k)
                return NULL;
        free(k->pub);
        if (k->sec) {
                OPENSSL_cleanse(k->sec, k->sec_len);
                free(k->sec);
        }
        free(k->uid);
        free(k->selfsig);
        EVP_PKEY_free(k->pkey);
        free(k);
        return NULL;
}

/* The key flags (RFC 4880 5.2.3.21) of the user ID self-signature; -1 if it
 * states none. */
static int selfsig_key_flags(const PgpKey *k);

bool pgp_key_can_sign(const PgpKey *k) {
        int f = selfsig_key_flags(k);
        return f < 0 || (f & 0x02);
}

bool pgp_key_is_secret(const PgpKey *k) {
        return k->sec != NULL;
}

PgpAlgo pgp_key_algo(const PgpKey *k) {
        return k->algo;
}

const char *pgp_key_uid(const PgpKey *k) {
        return k->uid;
}

const uint8_t *pgp_key_fingerprint(const PgpKey *k) {
        return k->fpr;
}

void pgp_key_id_hex(const PgpKey *k, char out[17]) {
        static const char hex[] = "0123456789ABCDEF";
        for (int i = 0; i < 8; i++) {
                out[2 * i] = hex[k->fpr[12 + i] >> 4];
                out[2 * i + 1] = hex[k->fpr[12 + i] & 15];
        }
        out[16] = 0;
}

/* ---- writing helpers -------------------------------------------------------- */

static void put_u16(StrBuf *sb, uint32_t v) {
        uint8_t b[2] = { (uint8_t) (v >> 8), (uint8_t) v };
        strbuf_put(sb, b, 2);
}

/* A multiprecision integer (3.2): bit count, then the big-endian bytes
 * without leading zeros. */
static void put_mpi(StrBuf *sb, const uint8_t *p, size_t n) {
        while (n > 0 && *p == 0) {
                p++;
                n--;
        }
        unsigned bits = 0;
        if (n > 0) {
                bits = (unsigned) (n - 1) * 8;
                for (uint8_t top = p[0]; top; top >>= 1)
                        bits++;
        }
        put_u16(sb, bits);
        strbuf_put(sb, p, n);
}

static int put_bn(StrBuf *sb, const BIGNUM *bn) {
        int n = BN_num_bytes(bn);
        uint8_t *b = malloc((size_t) n + 1);
        if (!b)
                return -ENOMEM;
        BN_bn2bin(bn, b);
        put_mpi(sb, b, (size_t) n);
        OPENSSL_cleanse(b, (size_t) n);
        free(b);
        return 0;
}

/* A new-format packet header (4.2.2). */
static void put_packet_header(StrBuf *sb, unsigned tag, size_t len) {
        uint8_t b[6];
        b[0] = (uint8_t) (0xC0 | tag);
        if (len < 192) {
                b[1] = (uint8_t) len;
                strbuf_put(sb, b, 2);
        } else if (len < 8384) {
                b[1] = (uint8_t) (((len - 192) >> 8) + 192);
                b[2] = (uint8_t) ((len - 192) & 0xFF);
                strbuf_put(sb, b, 3);
        } else {
                b[1] = 0xFF;
                b[2] = (uint8_t) (len >> 24);
                b[3] = (uint8_t) (len >> 16);
                b[4] = (uint8_t) (len >> 8);
                b[5] = (uint8_t) len;
                strbuf_put(sb, b, 6);
        }
}

static void put_packet(StrBuf *sb, unsigned tag, const void *body, size_t len) {
        put_packet_header(sb, tag, len);
        strbuf_put(sb, body, len);
}

/* ---- reading helpers -------------------------------------------------------- */

typedef struct Cursor {
        const uint8_t *p;
        const uint8_t *end;
} Cursor;

static bool take(Cursor *c, size_t n, const uint8_t **ret) {
        if ((size_t) (c->end - c->p) < n)
                return false;
        *ret = c->p;
        c->p += n;
        return true;
}

static bool take_u8(Cursor *c, unsigned *v) {
        const uint8_t *p;
        if (!take(c, 1, &p))
                return false;
        *v = p[0];
        return true;
}

static bool take_u16(Cursor *c, unsigned *v) {
        const uint8_t *p;
        if (!take(c, 2, &p))
                return false;
        *v = (unsigned) (p[0] << 8 | p[1]);
        return true;
}

static bool take_u32(Cursor *c, uint32_t *v) {
        const uint8_t *p;
        if (!take(c, 4, &p))
                return false;
        *v = (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
        return true;
}

static bool take_mpi(Cursor *c, const uint8_t **ret, size_t *ret_n) {
        unsigned bits;
        if (!take_u16(c, &bits))
                return false;
        size_t n = (bits + 7) / 8;
        if (!take(c, n, ret))
                return false;
        *ret_n = n;
        return true;
}

/* One packet (4.2): old or new format, no partial lengths. */
static int next_packet(Cursor *c, unsigned *ret_tag, Cursor *ret_body) {
        unsigned ctb;
        size_t len;
        if (!take_u8(c, &ctb) || !(ctb & 0x80))
                return -EBADMSG;
        if (ctb & 0x40) {
                unsigned l0;
                *ret_tag = ctb & 0x3F;
                if (!take_u8(c, &l0))
                        return -EBADMSG;
                if (l0 < 192)
                        len = l0;
                else if (l0 < 224) {
                        unsigned l1;
                        if (!take_u8(c, &l1))
                                return -EBADMSG;
                        len = ((size_t) (l0 - 192) << 8) + l1 + 192;
                } else if (l0 == 255) {
                        uint32_t l;
                        if (!take_u32(c, &l))
                                return -EBADMSG;
                        len = l;
                } else
                        return -EBADMSG; /* partial body lengths: not in keys or signatures */
        } else {
                *ret_tag = (ctb >> 2) & 0x0F;
                unsigned lt = ctb & 3, v;
                uint32_t l;
                switch (lt) {
                case 0:
                        if (!take_u8(c, &v))
                                return -EBADMSG;
                        len = v;
                        break;
                case 1:
                        if (!take_u16(c, &v))
                                return -EBADMSG;
                        len = v;
                        break;
                case 2:
                        if (!take_u32(c, &l))
                                return -EBADMSG;
                        len = l;
                        break;
                default:
                        return -EBADMSG; /* indeterminate length */
                }
        }
        const uint8_t *body;
        if (!take(c, len, &body))
                return -EBADMSG;
        *ret_body = (Cursor) { body, body + len };
        return 0;
}

/* ---- keys ------------------------------------------------------------------- */

static int fingerprint(PgpKey *k) {
        _cleanup_(hash_freep) HashCtx *h = hash_new(HASH_SHA1);
        uint8_t pre[3] = { 0x99, (uint8_t) (k->pub_len >> 8), (uint8_t) k->pub_len };
        if (!h)
                return -ENOMEM;
        hash_update(h, pre, 3);
        hash_update(h, k->pub, k->pub_len);
        return hash_final(h, k->fpr);
}

static void bn_freep(BIGNUM **b) {
        BN_clear_free(*b);
}

static void bn_ctx_freep(BN_CTX **c) {
        BN_CTX_free(*c);
}

static void param_bld_freep(OSSL_PARAM_BLD **b) {
        OSSL_PARAM_BLD_free(*b);
}

static void params_freep(OSSL_PARAM **p) {
        OSSL_PARAM_free(*p);
}

static void pkey_ctx_freep(EVP_PKEY_CTX **c) {
        EVP_PKEY_CTX_free(*c);
}

/* An RSA EVP_PKEY from OpenPGP's numbers; secret if d, p, q are given. CRT
 * values are derived so signing is fast. */
static int rsa_pkey(const BIGNUM *n, const BIGNUM *e, const BIGNUM *d, const BIGNUM *p, const BIGNUM *q,
                    EVP_PKEY **ret) {
        _cleanup_(param_bld_freep) OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        _cleanup_(params_freep) OSSL_PARAM *params = NULL;
        _cleanup_(pkey_ctx_freep) EVP_PKEY_CTX *ctx = NULL;
        _cleanup_(bn_freep) BIGNUM *dp = NULL, *dq = NULL, *qinv = NULL, *pm1 = NULL, *qm1 = NULL;
        _cleanup_(bn_ctx_freep) BN_CTX *bctx = BN_CTX_new();

        if (!bld || !bctx)
                return -ENOMEM;
        if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
                return -ENOMEM;
        if (d) {
                dp = BN_new();
                dq = BN_new();
                pm1 = BN_dup(p);
                qm1 = BN_dup(q);
                if (!dp || !dq || !pm1 || !qm1 || !BN_sub_word(pm1, 1) || !BN_sub_word(qm1, 1) ||
                    !BN_mod(dp, d, pm1, bctx) || !BN_mod(dq, d, qm1, bctx))
                        return -EBADMSG;
                qinv = BN_mod_inverse(NULL, q, p, bctx);
                if (!qinv)
                        return -EBADMSG;
                if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d) ||
                    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, p) ||
                    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, q) ||
                    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, dp) ||
                    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, dq) ||
                    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qinv))
                        return -ENOMEM;
        }
        params = OSSL_PARAM_BLD_to_param(bld);
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
        if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
            EVP_PKEY_fromdata(ctx, ret, d ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) <= 0)
                return -EBADMSG;
        return 0;
}

/* Parses the public part at c into k (and k->pkey for a public key). */
static int parse_public(Cursor *c, PgpKey *k, const uint8_t **ret_n, size_t *ret_nl, const uint8_t **ret_e,
                        size_t *ret_el, const uint8_t **ret_q, size_t *ret_ql) {
        unsigned version, algo;
        if (!take_u8(c, &version) || !take_u32(c, &k->created) || !take_u8(c, &algo))
                return -EBADMSG;
        if (version != 4)
                return -ENOPKG;
        k->algo = (PgpAlgo) algo;
        if (algo == PGP_ALGO_RSA || algo == 3 /* RSA sign-only */) {
                k->algo = PGP_ALGO_RSA;
                if (!take_mpi(c, ret_n, ret_nl) || !take_mpi(c, ret_e, ret_el))
                        return -EBADMSG;
                return 0;
        }
        if (algo == PGP_ALGO_EDDSA) {
                unsigned ol;
                const uint8_t *oid;
                if (!take_u8(c, &ol) || !take(c, ol, &oid))
                        return -EBADMSG;
                if (ol != sizeof ed25519_oid || memcmp(oid, ed25519_oid, ol) != 0)
                        return -ENOPKG;
                if (!take_mpi(c, ret_q, ret_ql) || *ret_ql != 33 || (*ret_q)[0] != 0x40)
                        return -EBADMSG;
                return 0;
        }
        return -ENOPKG;
}

/* Left-pads an MPI to n bytes. */
static bool pad_to(const uint8_t *p, size_t len, uint8_t *out, size_t n) {
        if (len > n)
                return false;
        memset(out, 0, n - len);
        memcpy(out + n - len, p, len);
        return true;
}

static int key_from_packet(unsigned tag, Cursor body, PgpKey **ret) {
        _cleanup_(pgp_key_freep) PgpKey *k = new0(PgpKey, 1);
        const uint8_t *n = NULL, *e = NULL, *q = NULL;
        size_t nl = 0, el = 0, ql = 0;
        const uint8_t *start = body.p;
        int r;

        if (!k)
                return -ENOMEM;
        r = parse_public(&body, k, &n, &nl, &e, &el, &q, &ql);
        if (r < 0)
                return r;
        k->pub_len = (size_t) (body.p - start);
        k->pub = malloc(k->pub_len);
        if (!k->pub)
                return -ENOMEM;
        memcpy(k->pub, start, k->pub_len);
        r = fingerprint(k);
        if (r < 0)
                return r;

        if (tag == PKT_PUBLIC_KEY) {
                if (k->algo == PGP_ALGO_RSA) {
                        _cleanup_(bn_freep) BIGNUM *bn = BN_bin2bn(n, (int) nl, NULL), *be = BN_bin2bn(e, (int) el, NULL);
                        if (!bn || !be)
                                return -ENOMEM;
                        r = rsa_pkey(bn, be, NULL, NULL, NULL, &k->pkey);
                } else {
                        k->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, q + 1, 32);
                        r = k->pkey ? 0 : -EBADMSG;
                }
                if (r < 0)
                        return r;
                *ret = TAKE_PTR(k);
                return 0;
        }

        /* 5.5.3: string-to-key usage 0 means the secret MPIs follow in clear. */
        const uint8_t *sec_start = body.p;
        unsigned usage;
        if (!take_u8(&body, &usage))
                return -EBADMSG;
        if (usage != 0)
                return -EKEYREJECTED;
        const uint8_t *mpis = body.p;
        const uint8_t *d = NULL, *p = NULL, *qq = NULL, *u = NULL, *seed = NULL;
        size_t dl = 0, pl = 0, qql = 0, ul = 0, sl = 0;
        if (k->algo == PGP_ALGO_RSA) {
                if (!take_mpi(&body, &d, &dl) || !take_mpi(&body, &p, &pl) || !take_mpi(&body, &qq, &qql) ||
                    !take_mpi(&body, &u, &ul))
                        return -EBADMSG;
        } else if (!take_mpi(&body, &seed, &sl))
                return -EBADMSG;
        unsigned sum = 0, want;
        for (const uint8_t *x = mpis; x < body.p; x++)
                sum += *x;
        if (!take_u16(&body, &want) || (sum & 0xFFFF) != want)
                return -EBADMSG;
        k->sec_len = (size_t) (body.p - sec_start);
        k->sec = malloc(k->sec_len);
        if (!k->sec)
                return -ENOMEM;
        memcpy(k->sec, sec_start, k->sec_len);

        if (k->algo == PGP_ALGO_RSA) {
                _cleanup_(bn_freep) BIGNUM *bn = BN_bin2bn(n, (int) nl, NULL), *be = BN_bin2bn(e, (int) el, NULL),
                                           *bd = BN_bin2bn(d, (int) dl, NULL), *bp = BN_bin2bn(p, (int) pl, NULL),
                                           *bq = BN_bin2bn(qq, (int) qql, NULL);
                if (!bn || !be || !bd || !bp || !bq)
                        return -ENOMEM;
                r = rsa_pkey(bn, be, bd, bp, bq, &k->pkey);
                if (r < 0)
                        return r;
        } else {
                uint8_t raw[32];
                if (!pad_to(seed, sl, raw, 32))
                        return -EBADMSG;
                k->pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, raw, 32);
                OPENSSL_cleanse(raw, 32);
                if (!k->pkey)
                        return -EBADMSG;
                /* The public point must belong to this secret. */
                uint8_t pubraw[32];
                size_t publ = 32;
                if (EVP_PKEY_get_raw_public_key(k->pkey, pubraw, &publ) != 1 || memcmp(pubraw, q + 1, 32) != 0)
                        return -EBADMSG;
        }
        *ret = TAKE_PTR(k);
        return 0;
}

int pgp_key_parse(const void *data, size_t size, PgpKey **ret) {
        _cleanup_free_ uint8_t *bin = NULL;
        size_t len = size;
        const uint8_t *p = data;
        int r;

        /* Armored? */
        if (size >= 10 && memmem(data, size, "-----BEGIN PGP", 14)) {
                r = pgp_dearmor(data, size, &bin, &len);
                if (r < 0)
                        return r;
                p = bin;
        }

        Cursor c = { p, p + len };
        _cleanup_(pgp_key_freep) PgpKey *k = NULL;
        bool in_primary = true;
        while (c.p < c.end) {
                unsigned tag;
                Cursor body;
                const uint8_t *pkt_start = c.p;
                r = next_packet(&c, &tag, &body);
                if (r < 0)
                        return r;
                if (!k) {
                        if (tag != PKT_SECRET_KEY && tag != PKT_PUBLIC_KEY)
                                return -EBADMSG;
                        r = key_from_packet(tag, body, &k);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (tag == PKT_SECRET_SUBKEY || tag == PKT_PUBLIC_SUBKEY || tag == PKT_SECRET_KEY || tag == PKT_PUBLIC_KEY)
                        in_primary = false; /* subkeys and further keys: not ours */
                if (!in_primary)
                        continue;
                if (tag == PKT_USER_ID && !k->uid) {
                        k->uid = strndup_nul((const char *) body.p, (size_t) (body.end - body.p));
                        if (!k->uid)
                                return -ENOMEM;
                } else if (tag == PKT_SIGNATURE && k->uid && !k->selfsig) {
                        k->selfsig_len = (size_t) (c.p - pkt_start);
                        k->selfsig = malloc(k->selfsig_len);
                        if (!k->selfsig)
                                return -ENOMEM;
                        memcpy(k->selfsig, pkt_start, k->selfsig_len);
                }
        }
        if (!k)
                return -EBADMSG;
        *ret = TAKE_PTR(k);
        return 0;
}

/* ---- signatures --------------------------------------------------------------- */

static void put_subpacket(StrBuf *sb, unsigned type, const void *data, size_t n) {
        uint8_t h[2] = { (uint8_t) (n + 1), (uint8_t) type };
        strbuf_put(sb, h, 2);
        strbuf_put(sb, data, n);
}

/* Hashes prefix || the signature's hashed part || trailer (5.2.4), returning
 * the digest and the hashed part (for the packet). */
static int sign_digest(const PgpKey *k, unsigned sigtype, const StrBuf *hashed, const void *prefix, size_t prefix_len,
                       const void *data, size_t n, uint8_t md[32]) {
        _cleanup_(hash_freep) HashCtx *h = hash_new(HASH_SHA256);
        uint8_t head[6] = { 4, (uint8_t) sigtype, (uint8_t) k->algo, PGP_HASH_SHA256, (uint8_t) (hashed->len >> 8),
                            (uint8_t) hashed->len };
        uint32_t total = (uint32_t) (6 + hashed->len);
        uint8_t trailer[6] = { 4, 0xFF, (uint8_t) (total >> 24), (uint8_t) (total >> 16), (uint8_t) (total >> 8),
                               (uint8_t) total };
        if (!h)
                return -ENOMEM;
        if (prefix_len)
                hash_update(h, prefix, prefix_len);
        if (n)
                hash_update(h, data, n);
        hash_update(h, head, 6);
        hash_update(h, hashed->buf, hashed->len);
        hash_update(h, trailer, 6);
        return hash_final(h, md);
}

static int raw_sign(const PgpKey *k, const uint8_t md[32], StrBuf *mpis) {
        if (k->algo == PGP_ALGO_RSA) {
                _cleanup_(pkey_ctx_freep) EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k->pkey, NULL);
                size_t len = 0;
                if (!ctx || EVP_PKEY_sign_init(ctx) <= 0 || EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0 ||
                    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) <= 0 || EVP_PKEY_sign(ctx, NULL, &len, md, 32) <= 0)
                        return -EIO;
                _cleanup_free_ uint8_t *sig = malloc(len);
                if (!sig || EVP_PKEY_sign(ctx, sig, &len, md, 32) <= 0)
                        return -EIO;
                put_mpi(mpis, sig, len);
                return 0;
        }
        /* EdDSA signs the digest itself (RFC 9580 5.2.3.3). */
        EVP_MD_CTX *mctx = EVP_MD_CTX_new();
        uint8_t sig[64];
        size_t len = sizeof sig;
        int ok = mctx && EVP_DigestSignInit(mctx, NULL, NULL, NULL, k->pkey) == 1 &&
                 EVP_DigestSign(mctx, sig, &len, md, 32) == 1 && len == 64;
        EVP_MD_CTX_free(mctx);
        if (!ok)
                return -EIO;
        put_mpi(mpis, sig, 32);
        put_mpi(mpis, sig + 32, 32);
        return 0;
}

/* A signature packet: hashed subpackets given, the issuer key ID unhashed. */
static int make_signature(const PgpKey *k, unsigned sigtype, const StrBuf *hashed, const void *prefix, size_t prefix_len,
                          const void *data, size_t n, uint8_t **ret, size_t *ret_len) {
        _cleanup_strbuf_ StrBuf body = STRBUF_INIT, unhashed = STRBUF_INIT, mpis = STRBUF_INIT, out = STRBUF_INIT;
        uint8_t md[32];
        int r;

        if (!k->sec)
                return -ENOKEY;
        r = sign_digest(k, sigtype, hashed, prefix, prefix_len, data, n, md);
        if (r < 0)
                return r;
        r = raw_sign(k, md, &mpis);
        if (r < 0)
                return r;
        put_subpacket(&unhashed, SUB_ISSUER, k->fpr + 12, 8);

        uint8_t head[4] = { 4, (uint8_t) sigtype, (uint8_t) k->algo, PGP_HASH_SHA256 };
        strbuf_put(&body, head, 4);
        put_u16(&body, (uint32_t) hashed->len);
        strbuf_put(&body, hashed->buf, hashed->len);
        put_u16(&body, (uint32_t) unhashed.len);
        strbuf_put(&body, unhashed.buf, unhashed.len);
        strbuf_put(&body, md, 2); /* the left 16 bits of the digest */
        strbuf_put(&body, mpis.buf, mpis.len);
        if (body.oom)
                return -ENOMEM;
        put_packet(&out, PKT_SIGNATURE, body.buf, body.len);
        size_t len;
        uint8_t *p = (uint8_t *) strbuf_detach(&out, &len);
        if (!p)
                return -ENOMEM;
        *ret = p;
        *ret_len = len;
        return 0;
}

static void hashed_common(StrBuf *sb, const PgpKey *k, uint32_t created) {
        uint8_t t[4] = { (uint8_t) (created >> 24), (uint8_t) (created >> 16), (uint8_t) (created >> 8), (uint8_t) created };
        uint8_t fp[21];
        put_subpacket(sb, SUB_CREATION_TIME, t, 4);
        fp[0] = 4;
        memcpy(fp + 1, k->fpr, 20);
        put_subpacket(sb, SUB_ISSUER_FINGERPRINT, fp, 21);
}

int pgp_sign(const PgpKey *k, const void *data, size_t n, uint32_t created, uint8_t **ret, size_t *ret_len) {
        _cleanup_strbuf_ StrBuf hashed = STRBUF_INIT;
        /* A signature older than its key is refused by gpg ("time conflict"):
         * SOURCE_DATE_EPOCH before the key was made gives the key's time. */
        created = MAX(created, k->created);
        hashed_common(&hashed, k, created);
        if (hashed.oom)
                return -ENOMEM;
        return make_signature(k, PGP_SIG_BINARY, &hashed, NULL, 0, data, n, ret, ret_len);
}

/* The prefix a certification hashes: the key and the user ID (5.2.4). */
static int cert_prefix(const PgpKey *k, StrBuf *sb) {
        uint8_t pre[3] = { 0x99, (uint8_t) (k->pub_len >> 8), (uint8_t) k->pub_len };
        size_t ul = strlen(k->uid);
        uint8_t upre[5] = { 0xB4, (uint8_t) (ul >> 24), (uint8_t) (ul >> 16), (uint8_t) (ul >> 8), (uint8_t) ul };
        strbuf_put(sb, pre, 3);
        strbuf_put(sb, k->pub, k->pub_len);
        strbuf_put(sb, upre, 5);
        strbuf_put(sb, k->uid, ul);
        return sb->oom ? -ENOMEM : 0;
}

int pgp_key_generate(PgpAlgo algo, unsigned bits, const char *uid, uint32_t created, PgpKey **ret) {
        _cleanup_(pgp_key_freep) PgpKey *k = new0(PgpKey, 1);
        _cleanup_strbuf_ StrBuf pub = STRBUF_INIT, sec = STRBUF_INIT;
        int r;

        if (!k)
                return -ENOMEM;
        k->algo = algo;
        k->created = created;
        k->uid = strdup(uid);
        if (!k->uid)
                return -ENOMEM;

        uint8_t head[6] = { 4, (uint8_t) (created >> 24), (uint8_t) (created >> 16), (uint8_t) (created >> 8),
                            (uint8_t) created, (uint8_t) algo };
        strbuf_put(&pub, head, 6);
        strbuf_putc(&sec, 0); /* S2K usage 0: not protected */
        size_t mpi_start = sec.len;

        if (algo == PGP_ALGO_RSA) {
                if (bits < 2048 || bits > 8192)
                        return -EINVAL;
                k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) bits);
                if (!k->pkey)
                        return -EIO;
                _cleanup_(bn_freep) BIGNUM *n = NULL, *e = NULL, *d = NULL, *p = NULL, *q = NULL, *u = NULL;
                _cleanup_(bn_ctx_freep) BN_CTX *bctx = BN_CTX_new();
                if (!bctx || !EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_N, &n) ||
                    !EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_E, &e) ||
                    !EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_D, &d) ||
                    !EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_FACTOR1, &p) ||
                    !EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_FACTOR2, &q))
                        return -EIO;
                /* OpenPGP wants p < q and u = p^-1 mod q (5.5.3). */
                if (BN_cmp(p, q) > 0) {
                        BIGNUM *t = p;
                        p = q;
                        q = t;
                }
                u = BN_mod_inverse(NULL, p, q, bctx);
                if (!u)
                        return -EIO;
                put_bn(&pub, n);
                put_bn(&pub, e);
                put_bn(&sec, d);
                put_bn(&sec, p);
                put_bn(&sec, q);
                put_bn(&sec, u);
        } else if (algo == PGP_ALGO_EDDSA) {
                k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
                if (!k->pkey)
                        return -EIO;
                uint8_t raw[33], seed[32];
                size_t l = 32;
                raw[0] = 0x40; /* native point encoding (RFC 9580 11.2.1) */
                if (EVP_PKEY_get_raw_public_key(k->pkey, raw + 1, &l) != 1 || l != 32)
                        return -EIO;
                l = 32;
                if (EVP_PKEY_get_raw_private_key(k->pkey, seed, &l) != 1 || l != 32)
                        return -EIO;
                strbuf_putc(&pub, (char) sizeof ed25519_oid);
                strbuf_put(&pub, ed25519_oid, sizeof ed25519_oid);
                put_mpi(&pub, raw, 33);
                put_mpi(&sec, seed, 32);
                OPENSSL_cleanse(seed, 32);
        } else
                return -ENOPKG;

        unsigned sum = 0;
        for (size_t i = mpi_start; i < sec.len; i++)
                sum += (uint8_t) sec.buf[i];
        put_u16(&sec, sum & 0xFFFF);
        if (pub.oom || sec.oom)
                return -ENOMEM;
        k->pub = (uint8_t *) strbuf_detach(&pub, &k->pub_len);
        k->sec = (uint8_t *) strbuf_detach(&sec, &k->sec_len);
        if (!k->pub || !k->sec)
                return -ENOMEM;
        r = fingerprint(k);
        if (r < 0)
                return r;

        /* The self-signature: a positive certification of the user ID. */
        _cleanup_strbuf_ StrBuf hashed = STRBUF_INIT, prefix = STRBUF_INIT;
        static const uint8_t flags = 0x03;                       /* certify, sign */
        static const uint8_t hashes[] = { PGP_HASH_SHA256, PGP_HASH_SHA512 };
        static const uint8_t ciphers[] = { 9, 7 };               /* AES-256, AES-128 */
        static const uint8_t compress[] = { 2, 1, 0 };           /* ZLIB, ZIP, none */
        static const uint8_t features = 0x01;                    /* MDC */
        hashed_common(&hashed, k, created);
        put_subpacket(&hashed, SUB_KEY_FLAGS, &flags, 1);
        put_subpacket(&hashed, SUB_PREF_SYMMETRIC, ciphers, sizeof ciphers);
        put_subpacket(&hashed, SUB_PREF_HASH, hashes, sizeof hashes);
        put_subpacket(&hashed, SUB_PREF_COMPRESSION, compress, sizeof compress);
        put_subpacket(&hashed, SUB_FEATURES, &features, 1);
        r = cert_prefix(k, &prefix);
        if (r < 0 || hashed.oom)
                return -ENOMEM;
        r = make_signature(k, PGP_SIG_POSITIVE_CERT, &hashed, prefix.buf, prefix.len, NULL, 0, &k->selfsig,
                           &k->selfsig_len);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(k);
        return 0;
}

static int export(const PgpKey *k, bool secret, char **ret) {
        _cleanup_strbuf_ StrBuf out = STRBUF_INIT;
        if (secret) {
                if (!k->sec)
                        return -ENOKEY;
                put_packet_header(&out, PKT_SECRET_KEY, k->pub_len + k->sec_len);
                strbuf_put(&out, k->pub, k->pub_len);
                strbuf_put(&out, k->sec, k->sec_len);
        } else
                put_packet(&out, PKT_PUBLIC_KEY, k->pub, k->pub_len);
        if (k->uid) {
                put_packet(&out, PKT_USER_ID, k->uid, strlen(k->uid));
                if (k->selfsig)
                        strbuf_put(&out, k->selfsig, k->selfsig_len);
        }
        if (out.oom)
                return -ENOMEM;
        char *a = pgp_armor(secret ? "PGP PRIVATE KEY BLOCK" : "PGP PUBLIC KEY BLOCK", (const uint8_t *) out.buf, out.len);
        if (secret)
                OPENSSL_cleanse(out.buf, out.len);
        if (!a)
                return -ENOMEM;
        *ret = a;
        return 0;
}

int pgp_key_export_public(const PgpKey *k, char **ret) {
        return export(k, false, ret);
}

int pgp_key_export_secret(const PgpKey *k, char **ret) {
        return export(k, true, ret);
}

/* ---- verification -------------------------------------------------------------- */

typedef struct ParsedSig {
        unsigned type, algo, hash;
        const uint8_t *hashed;
        size_t hashed_len;
        uint8_t left16[2];
        uint8_t issuer[8];
        bool has_issuer, issuer_conflict;
        bool has_key_id; /* an issuer key ID subpacket (16), not only a fingerprint */
        const uint8_t *m1, *m2; /* RSA: m1; EdDSA: r, s */
        size_t m1l, m2l;
} ParsedSig;

/* Reads the subpackets' issuers (RFC 4880 5.2.3.1); false if the area is
 * not a well-formed sequence of subpackets (rpm refuses such a signature).
 * Every issuer key ID and fingerprint must name one key: rpm looks the key
 * up by the unhashed issuer, so one that disagrees is a signature by
 * another key. */
static bool scan_subpackets(const uint8_t *p, size_t n, ParsedSig *s) {
        Cursor c = { p, p + n };
        while (c.p < c.end) {
                unsigned l0;
                size_t len;
                if (!take_u8(&c, &l0))
                        return false;
                if (l0 < 192)
                        len = l0;
                else if (l0 < 255) {
                        unsigned l1;
                        if (!take_u8(&c, &l1))
                                return false;
                        len = ((size_t) (l0 - 192) << 8) + l1 + 192;
                } else {
                        uint32_t l;
                        if (!take_u32(&c, &l))
                                return false;
                        len = l;
                }
                const uint8_t *sp;
                if (len == 0 || !take(&c, len, &sp))
                        return false;
                unsigned type = sp[0] & 0x7F;
                /* A critical subpacket the reader does not know voids the
                 * signature (RFC 4880 5.2.3.1); these are the ones rpm knows. */
                if ((sp[0] & 0x80) && type != SUB_CREATION_TIME && type != 3 && type != 9 && type != SUB_ISSUER &&
                    type != SUB_KEY_FLAGS && type != SUB_ISSUER_FINGERPRINT)
                        return false;
                if (type == SUB_ISSUER && len == 9)
                        s->has_key_id = true;
                const uint8_t *id = type == SUB_ISSUER && len == 9                                     ? sp + 1
                                    : type == SUB_ISSUER_FINGERPRINT && len == 22 && sp[1] == 4 ? sp + 2 + 12
                                                                                                 : NULL;
                if (!id)
                        continue;
                if (s->has_issuer && memcmp(s->issuer, id, 8) != 0)
                        s->issuer_conflict = true;
                memcpy(s->issuer, id, 8);
                s->has_issuer = true;
        }
        return true;
}

static int parse_sig(const void *data, size_t size, ParsedSig *s, uint8_t **ret_buf) {
        const uint8_t *p = data;
        size_t len = size;
        *ret_buf = NULL;
        if (size >= 10 && memmem(data, size, "-----BEGIN PGP", 14)) {
                int r = pgp_dearmor(data, size, ret_buf, &len);
                if (r < 0)
                        return r;
                p = *ret_buf;
        }
        Cursor c = { p, p + len }, b;
        unsigned tag, version, hl, ul;
        const uint8_t *unhashed, *l16;
        if (next_packet(&c, &tag, &b) < 0 || tag != PKT_SIGNATURE)
                return -EBADMSG;
        *s = (ParsedSig) {};
        if (!take_u8(&b, &version) || version != 4 || !take_u8(&b, &s->type) || !take_u8(&b, &s->algo) ||
            !take_u8(&b, &s->hash) || !take_u16(&b, &hl) || !take(&b, hl, &s->hashed) || !take_u16(&b, &ul) ||
            !take(&b, ul, &unhashed) || !take(&b, 2, &l16))
                return -EBADMSG;
        s->hashed_len = hl;
        memcpy(s->left16, l16, 2);
        if (!scan_subpackets(s->hashed, hl, s) || !scan_subpackets(unhashed, ul, s))
                return -EBADMSG;
        if (!take_mpi(&b, &s->m1, &s->m1l))
                return -EBADMSG;
        if (s->algo == PGP_ALGO_EDDSA && !take_mpi(&b, &s->m2, &s->m2l))
                return -EBADMSG;
        return 0;
}

int pgp_signature_issuer(const void *sig, size_t sig_len, uint8_t ret_keyid[8]) {
        ParsedSig s;
        _cleanup_free_ uint8_t *buf = NULL;
        int r = parse_sig(sig, sig_len, &s, &buf);
        if (r < 0)
                return r;
        if (!s.has_issuer)
                return -ENOENT;
        memcpy(ret_keyid, s.issuer, 8);
        return 0;
}

const char *pgp_hash_name(unsigned algo) {
        /* RFC 4880 9.4, RFC 9580 9.5 */
        static const char *const names[] = {
                [1] = "MD5",        [2] = "SHA-1",    [3] = "RIPEMD-160", [8] = "SHA-256",
                [9] = "SHA-384",    [10] = "SHA-512", [11] = "SHA-224",   [12] = "SHA3-256",
                [14] = "SHA3-512",
        };
        return algo < ELEMENTSOF(names) ? names[algo] : NULL;
}

int pgp_signature_has_key_id(const void *sig, size_t sig_len) {
        ParsedSig s;
        _cleanup_free_ uint8_t *buf = NULL;
        int r = parse_sig(sig, sig_len, &s, &buf);
        return r < 0 ? r : s.has_key_id;
}

int pgp_signature_hash(const void *sig, size_t sig_len, unsigned *ret_algo) {
        ParsedSig s;
        _cleanup_free_ uint8_t *buf = NULL;
        int r = parse_sig(sig, sig_len, &s, &buf);
        if (r < 0)
                return r;
        *ret_algo = s.hash;
        return 0;
}

int pgp_verify(const PgpKey *k, const void *sig, size_t sig_len, const void *data, size_t n) {
        ParsedSig s;
        _cleanup_free_ uint8_t *buf = NULL;
        int r = parse_sig(sig, sig_len, &s, &buf);
        if (r < 0)
                return r;
        if (s.issuer_conflict || (s.has_issuer && memcmp(s.issuer, k->fpr + 12, 8) != 0))
                return -ENOKEY;
        if (s.algo != (unsigned) k->algo)
                return -ENOKEY;

        HashAlgo ha = s.hash == PGP_HASH_SHA256 ? HASH_SHA256 : s.hash == PGP_HASH_SHA512 ? HASH_SHA512
                     : s.hash == PGP_HASH_SHA1   ? HASH_SHA1
                                                 : _HASH_ALGO_INVALID;
        if (ha < 0)
                return -ENOPKG;
        _cleanup_(hash_freep) HashCtx *h = hash_new(ha);
        uint8_t md[HASH_MAX_SIZE];
        uint8_t head[6] = { 4, (uint8_t) s.type, (uint8_t) s.algo, (uint8_t) s.hash, (uint8_t) (s.hashed_len >> 8),
                            (uint8_t) s.hashed_len };
        uint32_t total = (uint32_t) (6 + s.hashed_len);
        uint8_t trailer[6] = { 4, 0xFF, (uint8_t) (total >> 24), (uint8_t) (total >> 16), (uint8_t) (total >> 8),
                               (uint8_t) total };
        if (!h)
                return -ENOMEM;
        hash_update(h, data, n);
        hash_update(h, head, 6);
        hash_update(h, s.hashed, s.hashed_len);
        hash_update(h, trailer, 6);
        r = hash_final(h, md);
        if (r < 0)
                return r;
        if (memcmp(md, s.left16, 2) != 0)
                return -EKEYREJECTED;
        size_t mdlen = hash_size(ha);

        if (k->algo == PGP_ALGO_RSA) {
                _cleanup_(pkey_ctx_freep) EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k->pkey, NULL);
                const EVP_MD *md_type = ha == HASH_SHA256 ? EVP_sha256() : ha == HASH_SHA512 ? EVP_sha512() : EVP_sha1();
                size_t klen = (size_t) EVP_PKEY_get_size(k->pkey);
                _cleanup_free_ uint8_t *sigbuf = malloc(klen);
                if (!ctx || !sigbuf || !pad_to(s.m1, s.m1l, sigbuf, klen))
                        return -EKEYREJECTED;
                if (EVP_PKEY_verify_init(ctx) <= 0 || EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0 ||
                    EVP_PKEY_CTX_set_signature_md(ctx, md_type) <= 0)
                        return -EIO;
                return EVP_PKEY_verify(ctx, sigbuf, klen, md, mdlen) == 1 ? 0 : -EKEYREJECTED;
        }
        uint8_t rs[64];
        if (!s.m2 || !pad_to(s.m1, s.m1l, rs, 32) || !pad_to(s.m2, s.m2l, rs + 32, 32))
                return -EKEYREJECTED;
        EVP_MD_CTX *mctx = EVP_MD_CTX_new();
        int ok = mctx && EVP_DigestVerifyInit(mctx, NULL, NULL, NULL, k->pkey) == 1 &&
                 EVP_DigestVerify(mctx, rs, 64, md, mdlen) == 1;
        EVP_MD_CTX_free(mctx);
        return ok ? 0 : -EKEYREJECTED;
}

/* ---- armor (6.2) -------------------------------------------------------------- */

static uint32_t crc24(const uint8_t *p, size_t n) {
        uint32_t crc = 0xB704CEu;
        for (size_t i = 0; i < n; i++) {
                crc ^= (uint32_t) p[i] << 16;
                for (int b = 0; b < 8; b++) {
                        crc <<= 1;
                        if (crc & 0x1000000u)
                                crc ^= 0x1864CFBu;
                }
        }
        return crc & 0xFFFFFFu;
}

char *pgp_armor(const char *type, const uint8_t *data, size_t n) {
        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
        size_t b64len = 4 * ((n + 2) / 3);
        _cleanup_free_ char *b64 = malloc(b64len + 1);
        if (!b64)
                return NULL;
        EVP_EncodeBlock((unsigned char *) b64, data, (int) n);
        strbuf_printf(&sb, "-----BEGIN %s-----\n\n", type);
        for (size_t i = 0; i < b64len; i += 64)
                strbuf_printf(&sb, "%.*s\n", (int) MIN((size_t) 64, b64len - i), b64 + i);
        uint32_t crc = crc24(data, n);
        uint8_t c[3] = { (uint8_t) (crc >> 16), (uint8_t) (crc >> 8), (uint8_t) crc };
        char cb[5];
        EVP_EncodeBlock((unsigned char *) cb, c, 3);
        strbuf_printf(&sb, "=%s\n-----END %s-----\n", cb, type);
        return strbuf_detach(&sb, NULL);
}

static int b64val(int c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

int pgp_dearmor(const char *text, size_t n, uint8_t **ret, size_t *ret_len) {
        const char *end = text + n;
        const char *p = memmem(text, n, "-----BEGIN PGP", 14);
        if (!p)
                return -EBADMSG;
        /* Skip the BEGIN line and the headers up to the blank line. */
        p = memchr(p, '\n', (size_t) (end - p));
        if (!p)
                return -EBADMSG;
        p++;
        const char *q = p;
        bool blank = false;
        while (q < end) {
                const char *e = memchr(q, '\n', (size_t) (end - q));
                size_t l = e ? (size_t) (e - q) : (size_t) (end - q);
                while (l > 0 && (q[l - 1] == '\r' || q[l - 1] == ' ' || q[l - 1] == '\t'))
                        l--;
                if (l == 0) {
                        blank = true;
                        p = e ? e + 1 : end;
                        break;
                }
                if (!memchr(q, ':', l))
                        break; /* no headers and no blank line: tolerated */
                q = e ? e + 1 : end;
        }
        if (!blank)
                p = q;

        _cleanup_free_ uint8_t *out = malloc((size_t) (end - p) * 3 / 4 + 3);
        size_t o = 0;
        uint32_t acc = 0;
        int bits = 0;
        const char *crc_at = NULL;
        if (!out)
                return -ENOMEM;
        while (p < end) {
                if (*p == '-')
                        break; /* END line */
                if (*p == '=' && (p == text || p[-1] == '\n')) {
                        crc_at = p + 1;
                        break;
                }
                int v = b64val((unsigned char) *p);
                if (v >= 0) {
                        acc = (acc << 6) | (uint32_t) v;
                        bits += 6;
                        if (bits >= 8) {
                                bits -= 8;
                                out[o++] = (uint8_t) (acc >> bits);
                        }
                } else if (*p != '=' && *p != '\n' && *p != '\r' && *p != ' ' && *p != '\t')
                        return -EBADMSG;
                p++;
        }
        if (crc_at && end - crc_at >= 4) {
                int v[4];
                for (int i = 0; i < 4; i++)
                        if ((v[i] = b64val((unsigned char) crc_at[i])) < 0)
                                return -EBADMSG;
                uint32_t want = (uint32_t) v[0] << 18 | (uint32_t) v[1] << 12 | (uint32_t) v[2] << 6 | (uint32_t) v[3];
                if (want != crc24(out, o))
                        return -EBADMSG;
        }
        if (o == 0)
                return -EBADMSG;
        *ret = TAKE_PTR(out);
        *ret_len = o;
        return 0;
}

static int selfsig_key_flags(const PgpKey *k) {
        if (!k->selfsig)
                return -1;
        Cursor c = { k->selfsig, k->selfsig + k->selfsig_len }, b;
        unsigned tag, version, type, algo, hash, hl;
        const uint8_t *hashed;
        if (next_packet(&c, &tag, &b) < 0 || tag != PKT_SIGNATURE || !take_u8(&b, &version) || version != 4 ||
            !take_u8(&b, &type) || !take_u8(&b, &algo) || !take_u8(&b, &hash) || !take_u16(&b, &hl) ||
            !take(&b, hl, &hashed))
                return -1;
        Cursor s = { hashed, hashed + hl };
        while (s.p < s.end) {
                unsigned l0;
                size_t len;
                if (!take_u8(&s, &l0))
                        return -1;
                if (l0 < 192)
                        len = l0;
                else if (l0 < 255) {
                        unsigned l1;
                        if (!take_u8(&s, &l1))
                                return -1;
                        len = ((size_t) (l0 - 192) << 8) + l1 + 192;
                } else {
                        uint32_t l;
                        if (!take_u32(&s, &l))
                                return -1;
                        len = l;
                }
                const uint8_t *sp;
                if (len == 0 || !take(&s, len, &sp))
                        return -1;
                if ((sp[0] & 0x7F) == SUB_KEY_FLAGS && len >= 2)
                        return sp[1];
        }
        return -1;
}
