/* SPDX-License-Identifier: MIT */

/* libFuzzer target: OpenPGP input, which comes from users (signing keys,
 * trusted public keys) and from remote repositories (repomd.xml.asc, RPM
 * header signatures): keys and signatures, armored and binary. Every input
 * goes to the armor decoder, the key parser (a parsed key is exported again
 * and its ID printed) and the signature readers, and is verified as a
 * signature over a fixed text by two fixed keys (EdDSA and RSA) and, if it
 * parses as a key, checks a fixed signature by it. */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sign/pgp.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char text[] = "slipway fuzz-openpgp\n";
static PgpKey *keys[2];
static uint8_t *sigs[2];
static size_t sig_lens[2];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        /* Fixed times: the same keys and signatures in every run. */
        if (pgp_key_generate(PGP_ALGO_EDDSA, 0, "Fuzz <fuzz@example.com>", 1700000000, &keys[0]) < 0 ||
            pgp_key_generate(PGP_ALGO_RSA, 2048, "Fuzz <fuzz@example.com>", 1700000000, &keys[1]) < 0)
                abort();
        for (size_t i = 0; i < 2; i++)
                if (pgp_sign(keys[i], text, strlen(text), 1700000000, &sigs[i], &sig_lens[i]) < 0)
                        abort();
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint8_t *bin = NULL;
        size_t bin_len = 0;
        if (pgp_dearmor((const char *) data, size, &bin, &bin_len) >= 0)
                free(bin);

        PgpKey *k = NULL;
        if (pgp_key_parse(data, size, &k) >= 0) {
                char id[17], *pub = NULL, *sec = NULL;
                pgp_key_id_hex(k, id);
                (void) pgp_key_is_secret(k);
                (void) pgp_key_can_sign(k);
                (void) pgp_key_uid(k);
                if (pgp_key_export_public(k, &pub) >= 0)
                        free(pub);
                if (pgp_key_export_secret(k, &sec) >= 0)
                        free(sec);
                for (size_t i = 0; i < 2; i++)
                        (void) pgp_verify(k, sigs[i], sig_lens[i], text, strlen(text));
                pgp_key_free(k);
        }

        unsigned algo;
        uint8_t keyid[8];
        (void) pgp_signature_hash(data, size, &algo);
        (void) pgp_signature_has_key_id(data, size);
        (void) pgp_signature_issuer(data, size, keyid);
        for (size_t i = 0; i < 2; i++)
                (void) pgp_verify(keys[i], data, size, text, strlen(text));
        return 0;
}
