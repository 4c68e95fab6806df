/* SPDX-License-Identifier: MIT */
#pragma once

/* EFI_SIGNATURE_LIST (UEFI Specification 2.10, 32.4.1 "Signature
 * Database"): what the db, KEK and PK variables hold, the format firmware
 * setup menus and efi-updatevar enrol. */

#include <stddef.h>
#include <stdint.h>

/* EFI_CERT_X509_GUID a5c059a1-94e4-4aa7-87b5-ab155c2bf072, in the byte
 * order of an EFI_GUID in memory (the first three fields little-endian). */
extern const uint8_t efi_cert_x509_guid[16];

/* One list holding one X.509 certificate (DER, der_size bytes) with the
 * given SignatureOwner (an EFI_GUID's 16 bytes as stored). malloc'd. */
int efi_signature_list_x509(const uint8_t *der, size_t der_size, const uint8_t owner[16], uint8_t **ret,
                            size_t *ret_size);
