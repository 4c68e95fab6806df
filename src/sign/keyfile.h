/* SPDX-License-Identifier: MIT */
#pragma once

#include "sign/pgp.h"

/* Reads an OpenPGP key file. On failure *ret_reason says why in words a user
 * can act on ("it is protected by a passphrase", ...); static string. */
int key_load(const char *path, PgpKey **ret, const char **ret_reason);

/* The same, and the key must be a secret key allowed to sign. */
int key_load_signing(const char *path, PgpKey **ret, const char **ret_reason);
