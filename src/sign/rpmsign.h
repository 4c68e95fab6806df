/* SPDX-License-Identifier: MIT */
#pragma once

/* Signing RPM packages in place, as rpmsign 4.18 does: a version 4 OpenPGP
 * signature over the main header, stored in the signature header as
 * RSAHEADER (RSA keys) or DSAHEADER (EdDSA keys). */

#include <stdint.h>

#include "sign/pgp.h"

/* Signs the package at path with k (a secret key), replacing any earlier
 * header signature. The file is rewritten to a temporary name and renamed.
 * The signature's creation time is `created`, so signing is reproducible.
 * -EBADMSG: not a valid RPM. */
int rpm_sign_file(const PgpKey *k, const char *path, uint32_t created);

/* Checks the header signature of the package at path against k. 0: good;
 * -ENODATA: unsigned; -ENOKEY: signed by another key; -EKEYREJECTED: bad;
 * -ENOPKG: a refused hash algorithm (rpm_signature_hash() says which);
 * -ENOMSG: no issuer key ID subpacket, by which rpm finds the key;
 * -EBADMSG: malformed (also a legacy PGP or GPG tag that is not a
 * signature, which `rpm -K` fails on). */
int rpm_verify_signature(const PgpKey *k, const char *path);

/* The hash algorithm (an OpenPGP id) of the package's header signature:
 * what rpm_verify_signature()'s -ENOPKG names. -ENODATA if unsigned. */
int rpm_signature_hash(const char *path, unsigned *ret_algo);
