/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "basic/fileio.h"
#include "sign/keyfile.h"

int key_load(const char *path, PgpKey **ret, const char **ret_reason) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r = read_full_file(path, &data, &size);
        if (r < 0) {
                *ret_reason = strerror(-r);
                return r;
        }
        r = pgp_key_parse(data, size, ret);
        switch (r) {
        case 0:
                return 0;
        case -EKEYREJECTED:
                *ret_reason = "the secret key is protected by a passphrase; export it without one "
                              "(gpg --export-secret-keys with an empty passphrase) or make one with slipway keygen";
                break;
        case -ENOPKG:
                *ret_reason = "unsupported key: slipway reads version 4 RSA and Ed25519 keys";
                break;
        default:
                *ret_reason = "not an OpenPGP key block";
                break;
        }
        return r;
}

int key_load_signing(const char *path, PgpKey **ret, const char **ret_reason) {
        _cleanup_(pgp_key_freep) PgpKey *k = NULL;
        int r = key_load(path, &k, ret_reason);
        if (r < 0)
                return r;
        if (!pgp_key_is_secret(k)) {
                *ret_reason = "it is a public key: signing needs the secret key";
                return -ENOKEY;
        }
        if (!pgp_key_can_sign(k)) {
                *ret_reason = "its primary key may only certify, and slipway signs with primary keys, not "
                              "subkeys: make a signing key with slipway keygen, or with gpg --quick-gen-key "
                              "NAME ed25519 sign";
                return -EKEYREJECTED;
        }
        *ret = TAKE_PTR(k);
        return 0;
}
