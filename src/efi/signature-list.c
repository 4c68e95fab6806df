/* SPDX-License-Identifier: MIT */

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "efi/signature-list.h"

/* UEFI 2.10, 32.4.1: EFI_SIGNATURE_LIST, then SignatureHeaderSize bytes of
 * header (none for X.509), then EFI_SIGNATURE_DATA entries of SignatureSize
 * bytes each: the owner's GUID and the signature (here the certificate). */
struct efi_signature_list {
        uint8_t signature_type[16];
        uint32_t signature_list_size;
        uint32_t signature_header_size;
        uint32_t signature_size;
} _packed_;
static_assert(sizeof(struct efi_signature_list) == 28, "EFI_SIGNATURE_LIST");

const uint8_t efi_cert_x509_guid[16] = { 0xa1, 0x59, 0xc0, 0xa5, 0xe4, 0x94, 0xa7, 0x4a,
                                         0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72 };

int efi_signature_list_x509(const uint8_t *der, size_t der_size, const uint8_t owner[16], uint8_t **ret,
                            size_t *ret_size) {
        size_t size = sizeof(struct efi_signature_list) + 16 + der_size;
        if (der_size == 0 || size > UINT32_MAX)
                return -EINVAL;
        uint8_t *b = malloc(size);
        if (!b)
                return -ENOMEM;
        struct efi_signature_list h = {
                .signature_list_size = htole32((uint32_t) size),
                .signature_header_size = 0,
                .signature_size = htole32((uint32_t) (16 + der_size)),
        };
        memcpy(h.signature_type, efi_cert_x509_guid, 16);
        memcpy(b, &h, sizeof h);
        memcpy(b + sizeof h, owner, 16);
        memcpy(b + sizeof h + 16, der, der_size);
        *ret = b;
        *ret_size = size;
        return 0;
}
