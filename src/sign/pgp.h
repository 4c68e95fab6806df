/* SPDX-License-Identifier: MIT */
#pragma once

/* OpenPGP, the subset slipway needs (RFC 4880 and RFC 9580, version 4 keys
 * and signatures, in the form rpm 4.18 and gpg 2.2 read): RSA and Ed25519
 * (EdDSA, algorithm 22) keys; certification and binary-document signatures
 * with SHA-256; ASCII armor. OpenSSL provides the primitives (RSA, Ed25519,
 * SHA-1, SHA-256, random numbers); the packets are ours. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/macro.h"

typedef enum PgpAlgo {
        PGP_ALGO_RSA = 1,    /* RFC 4880 9.1 */
        PGP_ALGO_EDDSA = 22, /* RFC 9580 9.1 (EdDSALegacy) */
} PgpAlgo;

enum {
        PGP_SIG_BINARY = 0x00,       /* signature of a binary document */
        PGP_SIG_POSITIVE_CERT = 0x13 /* user ID self-signature */
};

enum {
        PGP_HASH_SHA1 = 2,
        PGP_HASH_SHA256 = 8,
        PGP_HASH_SHA512 = 10,
};

typedef struct PgpKey PgpKey;

/* A new key: RSA of the given bits (2048 to 8192), or Ed25519 (bits ignored),
 * with one user ID and its self-signature, made at time `created`. */
int pgp_key_generate(PgpAlgo algo, unsigned bits, const char *uid, uint32_t created, PgpKey **ret);

/* Reads the primary key of an OpenPGP key block (armored or binary, public or
 * unprotected secret). Returns -EBADMSG for a malformed block, -ENOPKG for an
 * algorithm or version we do not handle, -EKEYREJECTED for a protected
 * (passphrase) secret key. */
int pgp_key_parse(const void *data, size_t size, PgpKey **ret);

PgpKey *pgp_key_free(PgpKey *k);
DEFINE_TRIVIAL_CLEANUP_FUNC(PgpKey *, pgp_key_free);

bool pgp_key_is_secret(const PgpKey *k);
/* False if the key's self-signature allows it to certify but not to sign
 * (then a subkey signs, which slipway does not support). */
bool pgp_key_can_sign(const PgpKey *k);
PgpAlgo pgp_key_algo(const PgpKey *k);
const char *pgp_key_uid(const PgpKey *k); /* NULL if the block had none */
const uint8_t *pgp_key_fingerprint(const PgpKey *k); /* 20 bytes */
/* The 16 hex digits of the key ID, upper case as gpg and rpm print it. */
void pgp_key_id_hex(const PgpKey *k, char out[17]);

/* Armored key blocks, malloc'd: the secret one only for a secret key. */
int pgp_key_export_public(const PgpKey *k, char **ret);
int pgp_key_export_secret(const PgpKey *k, char **ret);

/* A version 4 signature packet (binary, with its packet header) over data,
 * of type PGP_SIG_BINARY, SHA-256, made at `created` (or at the key's
 * creation time if that is later: a signature never predates its key). */
int pgp_sign(const PgpKey *k, const void *data, size_t n, uint32_t created, uint8_t **ret, size_t *ret_len);

/* Checks a signature packet (binary or armored) over data with key k (public
 * or secret). 0: good; -EBADMSG: malformed; -ENOKEY: made by another key
 * (or its issuer subpackets name different keys); -ENOPKG: a hash
 * algorithm that is refused (only SHA-1, SHA-256 and SHA-512 are taken);
 * -EKEYREJECTED: bad signature. */
int pgp_verify(const PgpKey *k, const void *sig, size_t sig_len, const void *data, size_t n);

/* The hash algorithm id of a signature packet (binary or armored); -EBADMSG
 * if it is malformed. pgp_hash_name(): "MD5", "SHA-224", ... or NULL for an
 * id without a name. */
int pgp_signature_hash(const void *sig, size_t sig_len, unsigned *ret_algo);
const char *pgp_hash_name(unsigned algo);
/* 1 if the signature has an issuer key ID subpacket (rpm 4.18 finds the key
 * by it alone, not by an issuer fingerprint), 0 if not, -EBADMSG. */
int pgp_signature_has_key_id(const void *sig, size_t sig_len);

/* The issuer key ID (8 bytes) of a signature packet, from its subpackets. */
int pgp_signature_issuer(const void *sig, size_t sig_len, uint8_t ret_keyid[8]);

/* ASCII armor (RFC 4880 6.2): type is "PGP SIGNATURE", "PGP PUBLIC KEY BLOCK", ... */
char *pgp_armor(const char *type, const uint8_t *data, size_t n);
/* Decodes the first armored block in text; checks the CRC-24 if present. */
int pgp_dearmor(const char *text, size_t n, uint8_t **ret, size_t *ret_len);
