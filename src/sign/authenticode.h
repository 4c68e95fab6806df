/* SPDX-License-Identifier: MIT */
#pragma once

/* Authenticode signatures of PE images for UEFI Secure Boot (Microsoft's
 * "Windows Authenticode Portable Executable Signature Format"), and the
 * X.509 key pair they are made with ([signing] secure-boot-key and
 * secure-boot-cert, `slipway keygen --secure-boot`). All cryptography is
 * OpenSSL's. */

#include <stddef.h>
#include <stdint.h>

#include "basic/macro.h"
#include "efi/pe.h"

typedef struct SbKey SbKey; /* an RSA private key and its certificate */

SbKey *sb_key_free(SbKey *k);
DEFINE_TRIVIAL_CLEANUP_FUNC(SbKey *, sb_key_free);

/* Reads the PEM private key at key_path and the PEM certificate at
 * cert_path. On failure *ret_which says which file is at fault (0: the key,
 * 1: the certificate) and *ret_reason why, in words (static string):
 * -EBADMSG: not PEM of that kind; -ENOPKG: not RSA, or fewer than 2048 bits;
 * -EKEYREJECTED: the certificate's public key is not the key's; or the
 * errno of reading. */
int sb_key_load(const char *key_path, const char *cert_path, SbKey **ret, int *ret_which, const char **ret_reason);

/* The certificate, DER-encoded (malloc'd). */
int sb_key_cert_der(const SbKey *k, uint8_t **ret, size_t *ret_size);

/* A new key pair for Secure Boot: an RSA 2048 key (PEM, PKCS#8) and a
 * self-signed X.509 v3 certificate (PEM, SHA-256) with subject and issuer
 * CN=cn, its serial number derived from the public key, valid from
 * not_before for 30 years, for code signing. Strings malloc'd. */
int sb_keygen(const char *cn, int64_t not_before, char **ret_key_pem, char **ret_cert_pem);

/* The image's Authenticode hash (SHA-256): the headers less the CheckSum
 * field and the Certificate Table's directory entry, each section's raw
 * data in file order, then what follows them up to the certificate table,
 * as the firmware (EDK2's DxeImageVerificationLib) computes it. */
int authenticode_digest(const PeImage *pe, uint8_t ret[32]);

/* Signs pe in place with k, replacing an earlier signature: the file is
 * padded to 8 bytes, its digest signed in a PKCS#7 SignedData (version 1)
 * whose content is an SpcIndirectDataContent, with the authenticated
 * attributes contentType, messageDigest and an empty SpcSpOpusInfo but no
 * signing time, the certificate included; that goes into the Certificate
 * Table as one WIN_CERTIFICATE, and the checksum is updated. RSA PKCS#1
 * v1.5 is deterministic: the same image and key give the same bytes.
 * -ENOSPC: the image has no Certificate Table directory entry. */
int authenticode_sign(PeImage *pe, const SbKey *k);
