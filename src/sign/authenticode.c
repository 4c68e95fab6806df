/* SPDX-License-Identifier: MIT */

/* Authenticode (see authenticode.h). The structures are those of
 * Microsoft's "Windows Authenticode Portable Executable Signature Format"
 * (version 1.0, 2008), section "Authenticode-Specific Structures", encoded
 * through OpenSSL's ASN.1 templates; the signature is a PKCS#7 (RFC 2315)
 * SignedData made with OpenSSL's PKCS7 functions. */

#include <endian.h>
#include <errno.h>
#include <openssl/asn1t.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/hash.h"
#include "efi/pe-format.h"
#include "sign/authenticode.h"

#define OID_SPC_INDIRECT_DATA "1.3.6.1.4.1.311.2.1.4"
#define OID_SPC_PE_IMAGE_DATA "1.3.6.1.4.1.311.2.1.15"
#define OID_SPC_SP_OPUS_INFO "1.3.6.1.4.1.311.2.1.12"

struct SbKey {
        EVP_PKEY *key;
        X509 *cert;
};

SbKey *sb_key_free(SbKey *k) {
        if (!k)
                return NULL;
        EVP_PKEY_free(k->key);
        X509_free(k->cert);
        free(k);
        return NULL;
}

/* The templates. SpcString and SpcLink are CHOICEs of which Authenticode
 * signers use one alternative: SpcPeImageData's file is the link
 * "<<<Obsolete>>>" in a BMPString. */
typedef struct {
        int type;
        union {
                ASN1_BMPSTRING *unicode;
                ASN1_IA5STRING *ascii;
        } value;
} SpcString;

ASN1_CHOICE(SpcString) = {
        ASN1_IMP(SpcString, value.unicode, ASN1_BMPSTRING, 0),
        ASN1_IMP(SpcString, value.ascii, ASN1_IA5STRING, 1),
} static_ASN1_CHOICE_END(SpcString)

typedef struct {
        int type;
        union {
                ASN1_IA5STRING *url;
                SpcString *file;
        } value;
} SpcLink;

ASN1_CHOICE(SpcLink) = {
        ASN1_IMP(SpcLink, value.url, ASN1_IA5STRING, 0),
        ASN1_EXP(SpcLink, value.file, SpcString, 2),
} static_ASN1_CHOICE_END(SpcLink)

typedef struct {
        ASN1_BIT_STRING *flags;
        SpcLink *file;
} SpcPeImageData;

ASN1_SEQUENCE(SpcPeImageData) = {
        ASN1_SIMPLE(SpcPeImageData, flags, ASN1_BIT_STRING),
        ASN1_EXP_OPT(SpcPeImageData, file, SpcLink, 0),
} static_ASN1_SEQUENCE_END(SpcPeImageData)

/* SpcAttributeTypeAndOptionalValue, its value always an SpcPeImageData. */
typedef struct {
        ASN1_OBJECT *type;
        SpcPeImageData *value;
} SpcAttributePeImage;

ASN1_SEQUENCE(SpcAttributePeImage) = {
        ASN1_SIMPLE(SpcAttributePeImage, type, ASN1_OBJECT),
        ASN1_SIMPLE(SpcAttributePeImage, value, SpcPeImageData),
} static_ASN1_SEQUENCE_END(SpcAttributePeImage)

typedef struct {
        X509_ALGOR *algorithm;
        ASN1_OCTET_STRING *digest;
} DigestInfo;

ASN1_SEQUENCE(DigestInfo) = {
        ASN1_SIMPLE(DigestInfo, algorithm, X509_ALGOR),
        ASN1_SIMPLE(DigestInfo, digest, ASN1_OCTET_STRING),
} static_ASN1_SEQUENCE_END(DigestInfo)

typedef struct {
        SpcAttributePeImage *data;
        DigestInfo *message_digest;
} SpcIndirectDataContent;

ASN1_SEQUENCE(SpcIndirectDataContent) = {
        ASN1_SIMPLE(SpcIndirectDataContent, data, SpcAttributePeImage),
        ASN1_SIMPLE(SpcIndirectDataContent, message_digest, DigestInfo),
} static_ASN1_SEQUENCE_END(SpcIndirectDataContent)

/* OpenSSL asks for a passphrase on the terminal unless told otherwise. */
static int no_passphrase(char *buf, int size, int rwflag, void *u) {
        (void) buf;
        (void) size;
        (void) rwflag;
        (void) u;
        return -1;
}

static int read_bio(const char *path, BIO **ret) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r = read_full_file(path, &data, &size);
        if (r < 0)
                return r;
        if (size > INT32_MAX)
                return -EFBIG;
        BIO *b = BIO_new(BIO_s_mem());
        if (!b)
                return -ENOMEM;
        if (BIO_write(b, data, (int) size) != (int) size) {
                BIO_free(b);
                return -ENOMEM;
        }
        *ret = b;
        return 0;
}

int sb_key_load(const char *key_path, const char *cert_path, SbKey **ret, int *ret_which, const char **ret_reason) {
        BIO *b = NULL;
        int r;

        _cleanup_(sb_key_freep) SbKey *k = new0(SbKey, 1);
        if (!k)
                return -ENOMEM;
        *ret_which = 0;
        if ((r = read_bio(key_path, &b)) < 0) {
                *ret_reason = strerror(-r);
                return r;
        }
        k->key = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
        BIO_free(b);
        if (!k->key) {
                *ret_reason = "not a PEM private key without a passphrase";
                return -EBADMSG;
        }
        if (EVP_PKEY_get_base_id(k->key) != EVP_PKEY_RSA) {
                *ret_reason = "not an RSA key: UEFI Secure Boot verifies RSA signatures only";
                return -ENOPKG;
        }
        if (EVP_PKEY_get_bits(k->key) < 2048) {
                *ret_reason = "an RSA key of fewer than 2048 bits, which firmware refuses";
                return -ENOPKG;
        }

        *ret_which = 1;
        if ((r = read_bio(cert_path, &b)) < 0) {
                *ret_reason = strerror(-r);
                return r;
        }
        k->cert = PEM_read_bio_X509(b, NULL, no_passphrase, NULL);
        BIO_free(b);
        if (!k->cert) {
                *ret_reason = "not a PEM X.509 certificate";
                return -EBADMSG;
        }
        if (X509_check_private_key(k->cert, k->key) != 1) {
                *ret_reason = "the certificate is not secure-boot-key's: its public key is another";
                return -EKEYREJECTED;
        }
        *ret = TAKE_PTR(k);
        return 0;
}

int sb_key_cert_der(const SbKey *k, uint8_t **ret, size_t *ret_size) {
        uint8_t *der = NULL;
        int n = i2d_X509(k->cert, &der);
        if (n <= 0)
                return -ENOMEM;
        uint8_t *copy = malloc((size_t) n);
        if (!copy) {
                OPENSSL_free(der);
                return -ENOMEM;
        }
        memcpy(copy, der, (size_t) n);
        OPENSSL_free(der);
        *ret = copy;
        *ret_size = (size_t) n;
        return 0;
}

static int add_ext(X509 *x, int nid, const char *value) {
        X509V3_CTX ctx;
        X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
        X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
        if (!e)
                return -ENOMEM;
        int ok = X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
        return ok ? 0 : -ENOMEM;
}

static char *bio_string(BIO *b) {
        char *p;
        long n = BIO_get_mem_data(b, &p);
        return n >= 0 ? strndup_nul(p, (size_t) n) : NULL;
}

int sb_keygen(const char *cn, int64_t not_before, char **ret_key_pem, char **ret_cert_pem) {
        EVP_PKEY *key = EVP_RSA_gen(2048);
        X509 *x = X509_new();
        BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
        uint8_t *spki = NULL;
        BIGNUM *bn = NULL;
        char *kp = NULL, *cp = NULL;
        int r = -ENOMEM;

        if (!key || !x || !kb || !cb)
                goto finish;
        /* The serial number: 16 bytes of the SHA-256 of the public key
         * (RFC 5280 4.1.2.2: positive, at most 20 bytes). */
        int n = i2d_PUBKEY(key, &spki);
        uint8_t h[32];
        if (n <= 0 || hash_buffer(HASH_SHA256, spki, (size_t) n, h) < 0)
                goto finish;
        h[0] &= 0x7f;
        h[0] |= 0x40;
        bn = BN_bin2bn(h, 16, NULL);
        X509_NAME *name = X509_get_subject_name(x);
        /* Valid for 30 years (Secure Boot firmware does not check times). */
        const int64_t span = (int64_t) 30 * 36525 / 100 * 86400;
        if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) || !X509_set_version(x, X509_VERSION_3) ||
            !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *) cn, -1, -1, 0) ||
            !X509_set_issuer_name(x, name) || !ASN1_TIME_set(X509_getm_notBefore(x), (time_t) not_before) ||
            !ASN1_TIME_set(X509_getm_notAfter(x), (time_t) (not_before + span)) || !X509_set_pubkey(x, key))
                goto finish;
        /* No keyUsage: with one lacking keyCertSign OpenSSL would not take
         * the certificate for self-signed, and sbverify and the firmware
         * trust it as a self-signed root (db). */
        if ((r = add_ext(x, NID_basic_constraints, "critical,CA:FALSE")) < 0 ||
            (r = add_ext(x, NID_ext_key_usage, "codeSigning")) < 0 ||
            (r = add_ext(x, NID_subject_key_identifier, "hash")) < 0)
                goto finish;
        r = -ENOMEM;
        if (!X509_sign(x, key, EVP_sha256()))
                goto finish;
        if (!PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) || !PEM_write_bio_X509(cb, x))
                goto finish;
        kp = bio_string(kb);
        cp = bio_string(cb);
        if (!kp || !cp)
                goto finish;
        *ret_key_pem = TAKE_PTR(kp);
        *ret_cert_pem = TAKE_PTR(cp);
        r = 0;
finish:
        free(kp);
        free(cp);
        OPENSSL_free(spki);
        BN_free(bn);
        BIO_free(kb);
        BIO_free(cb);
        X509_free(x);
        EVP_PKEY_free(key);
        return r;
}

int authenticode_digest(const PeImage *pe, uint8_t ret[32]) {
        size_t ck = pe_image_checksum_offset(pe), cd = pe_image_cert_dir_offset(pe);
        if (cd == SIZE_MAX)
                return -ENOSPC;
        _cleanup_(hash_freep) HashCtx *h = hash_new(HASH_SHA256);
        _cleanup_free_ size_t *order = new0(size_t, pe->n_sections);
        if (!h || !order)
                return -ENOMEM;
        hash_update(h, pe->data, ck);
        hash_update(h, pe->data + ck + 4, cd - (ck + 4));
        hash_update(h, pe->data + cd + 8, pe->size_of_headers - (cd + 8));
        /* The sections with raw data, by their offset in the file. */
        size_t n = 0;
        for (size_t i = 0; i < pe->n_sections; i++) {
                if (!pe->sections[i].raw_size)
                        continue;
                size_t k = n++;
                for (; k > 0 && pe->sections[order[k - 1]].raw_offset > pe->sections[i].raw_offset; k--)
                        order[k] = order[k - 1];
                order[k] = i;
        }
        uint64_t hashed = pe->size_of_headers;
        for (size_t k = 0; k < n; k++) {
                const PeSection *s = &pe->sections[order[k]];
                hash_update(h, pe->data + s->raw_offset, s->raw_size);
                hashed += s->raw_size;
        }
        /* What follows, up to the certificate table (at the end), counted
         * as EDK2 counts: from the sum of the bytes hashed so far. */
        uint64_t end = pe->size - pe->cert_size;
        if (end > hashed)
                hash_update(h, pe->data + hashed, end - hashed);
        return hash_final(h, ret);
}

/* The DER of the SpcIndirectDataContent for an image digest. */
static int indirect_data(const uint8_t digest[32], uint8_t **ret, int *ret_len) {
        static const unsigned char obsolete[] = { 0, '<', 0, '<', 0, '<', 0, 'O', 0, 'b', 0, 's', 0, 'o', 0,
                                                  'l', 0, 'e', 0, 't', 0, 'e', 0, '>', 0, '>', 0, '>' };
        ASN1_BMPSTRING *bmp = ASN1_BMPSTRING_new();
        ASN1_BIT_STRING *flags = ASN1_BIT_STRING_new();
        ASN1_OBJECT *pe_oid = OBJ_txt2obj(OID_SPC_PE_IMAGE_DATA, 1);
        X509_ALGOR *alg = X509_ALGOR_new();
        ASN1_OCTET_STRING *md = ASN1_OCTET_STRING_new();
        int r = -ENOMEM;

        if (bmp && flags && pe_oid && alg && md && ASN1_STRING_set(bmp, obsolete, sizeof obsolete) &&
            ASN1_BIT_STRING_set(flags, (unsigned char *) "", 0) &&
            X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL) && ASN1_OCTET_STRING_set(md, digest, 32)) {
                SpcString str = { .type = 0, .value.unicode = bmp };
                SpcLink link = { .type = 1, .value.file = &str };
                SpcPeImageData pid = { .flags = flags, .file = &link };
                SpcAttributePeImage attr = { .type = pe_oid, .value = &pid };
                DigestInfo di = { .algorithm = alg, .digest = md };
                SpcIndirectDataContent idc = { .data = &attr, .message_digest = &di };
                uint8_t *der = NULL;
                int n = ASN1_item_i2d((ASN1_VALUE *) &idc, &der, ASN1_ITEM_rptr(SpcIndirectDataContent));
                if (n > 0) {
                        *ret = der;
                        *ret_len = n;
                        r = 0;
                }
        }
        ASN1_BMPSTRING_free(bmp);
        ASN1_BIT_STRING_free(flags);
        ASN1_OBJECT_free(pe_oid);
        X509_ALGOR_free(alg);
        ASN1_OCTET_STRING_free(md);
        return r;
}

typedef struct {
        X509_ATTRIBUTE *attr;
        unsigned char *der;
        int len;
} SortedAttr;

static int attr_cmp(const void *a, const void *b) {
        const SortedAttr *x = a, *y = b;
        int c = memcmp(x->der, y->der, (size_t) MIN(x->len, y->len));
        return c ? c : x->len - y->len;
}

/* Puts the authenticated attributes in DER order (X.690 11.6, SET OF): the
 * signature is over that order, and OpenSSL's verifier (EDK2's too)
 * re-encodes them in the order they are stored in. */
static int sort_attributes(PKCS7_SIGNER_INFO *si) {
        int n = sk_X509_ATTRIBUTE_num(si->auth_attr);
        _cleanup_free_ SortedAttr *a = new0(SortedAttr, (size_t) n);
        int r = 0;
        if (!a)
                return -ENOMEM;
        for (int i = 0; i < n; i++) {
                a[i].attr = sk_X509_ATTRIBUTE_value(si->auth_attr, i);
                a[i].len = i2d_X509_ATTRIBUTE(a[i].attr, &a[i].der);
                if (a[i].len <= 0)
                        r = -ENOMEM;
        }
        if (r >= 0) {
                qsort(a, (size_t) n, sizeof *a, attr_cmp);
                for (int i = 0; i < n; i++)
                        (void) sk_X509_ATTRIBUTE_set(si->auth_attr, i, a[i].attr);
        }
        for (int i = 0; i < n; i++)
                OPENSSL_free(a[i].der);
        return r;
}

/* The PKCS#7 SignedData over an image digest, DER (OPENSSL_malloc'd). */
static int signed_data(const SbKey *k, const uint8_t digest[32], uint8_t **ret, int *ret_len) {
        uint8_t *idc = NULL, *out = NULL;
        int idc_len = 0;
        PKCS7 *p7 = NULL, *inner = NULL;
        ASN1_STRING *seq = NULL;
        ASN1_TYPE *any = NULL;
        int r = indirect_data(digest, &idc, &idc_len);
        if (r < 0)
                return r;
        r = -ENOMEM;

        /* messageDigest is over the content's value: the SEQUENCE's
         * contents without its tag and length (Authenticode, "Signed
         * Attributes"). */
        const unsigned char *p = idc;
        long len;
        int tag, cls;
        uint8_t md[32];
        if (ASN1_get_object(&p, &len, &tag, &cls, idc_len) & 0x80 || tag != V_ASN1_SEQUENCE ||
            p + len != idc + idc_len) {
                r = -EINVAL;
                goto finish;
        }
        if (hash_buffer(HASH_SHA256, p, (size_t) len, md) < 0)
                goto finish;

        p7 = PKCS7_new();
        inner = PKCS7_new();
        seq = ASN1_STRING_new();
        any = ASN1_TYPE_new();
        if (!p7 || !inner || !seq || !any || !PKCS7_set_type(p7, NID_pkcs7_signed) || !ASN1_STRING_set(seq, idc, idc_len))
                goto finish;
        ASN1_TYPE_set(any, V_ASN1_SEQUENCE, TAKE_PTR(seq));
        inner->type = OBJ_txt2obj(OID_SPC_INDIRECT_DATA, 1);
        if (!inner->type)
                goto finish;
        inner->d.other = TAKE_PTR(any);
        if (!PKCS7_set_content(p7, inner))
                goto finish;
        inner = NULL;
        if (!PKCS7_add_certificate(p7, k->cert))
                goto finish;
        PKCS7_SIGNER_INFO *si = PKCS7_add_signature(p7, k->cert, k->key, EVP_sha256());
        if (!si)
                goto finish;
        ASN1_OBJECT *ct = OBJ_txt2obj(OID_SPC_INDIRECT_DATA, 1);
        if (!ct || !PKCS7_add_signed_attribute(si, NID_pkcs9_contentType, V_ASN1_OBJECT, ct)) {
                ASN1_OBJECT_free(ct);
                goto finish;
        }
        ASN1_OBJECT *opus = OBJ_txt2obj(OID_SPC_SP_OPUS_INFO, 1);
        static const unsigned char empty_seq[] = { 0x30, 0x00 }; /* SpcSpOpusInfo without program name or URL */
        bool ok = opus && X509at_add1_attr_by_OBJ(&si->auth_attr, opus, V_ASN1_SEQUENCE, empty_seq, sizeof empty_seq);
        ASN1_OBJECT_free(opus);
        if (!ok)
                goto finish;
        ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
        if (!os || !ASN1_OCTET_STRING_set(os, md, 32) ||
            !PKCS7_add_signed_attribute(si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING, os)) {
                ASN1_OCTET_STRING_free(os);
                goto finish;
        }
        if ((r = sort_attributes(si)) < 0)
                goto finish;
        r = -ENOMEM;
        /* Signs the attributes alone; no signingTime is added (unlike
         * PKCS7_dataFinal()), so the result is reproducible. */
        if (PKCS7_SIGNER_INFO_sign(si) <= 0) {
                r = -EKEYREJECTED;
                goto finish;
        }
        int n = i2d_PKCS7(p7, &out);
        if (n <= 0)
                goto finish;
        *ret = out;
        *ret_len = n;
        r = 0;
finish:
        OPENSSL_free(idc);
        PKCS7_free(p7);
        PKCS7_free(inner);
        ASN1_STRING_free(seq);
        ASN1_TYPE_free(any);
        return r;
}

int authenticode_sign(PeImage *pe, const SbKey *k) {
        uint8_t digest[32], *sig = NULL;
        int sig_len = 0;
        int r = pe_image_strip_signature(pe);
        if (r >= 0)
                r = pe_image_pad8(pe);
        if (r >= 0 && pe_image_cert_dir_offset(pe) == SIZE_MAX)
                r = -ENOSPC;
        if (r >= 0)
                r = authenticode_digest(pe, digest);
        if (r >= 0)
                r = signed_data(k, digest, &sig, &sig_len);
        if (r < 0)
                return r;
        size_t size = sizeof(struct pe_win_certificate) + (size_t) sig_len;
        _cleanup_free_ struct pe_win_certificate *wc = malloc(size);
        if (!wc) {
                OPENSSL_free(sig);
                return -ENOMEM;
        }
        wc->length = htole32((uint32_t) size);
        wc->revision = htole16(PE_WIN_CERT_REVISION_2_0);
        wc->certificate_type = htole16(PE_WIN_CERT_TYPE_PKCS_SIGNED_DATA);
        memcpy(wc->certificate, sig, (size_t) sig_len);
        OPENSSL_free(sig);
        r = pe_image_set_certificate_table(pe, wc, size);
        if (r < 0)
                return r;
        pe_image_update_checksum(pe);
        return 0;
}
