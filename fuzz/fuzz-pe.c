/* SPDX-License-Identifier: MIT */

/* libFuzzer target: PE32+ images as slipway reads them, from a package it
 * does not trust (systemd-stub, systemd-boot): pe_image_parse(), then what
 * the UKI writer and the signer do with a parsed image: the Authenticode
 * digest, dropping a trailing symbol table, removing a signature, adding a
 * section, padding and appending a certificate table, and the checksum.
 * Every offset they use must have been checked by the parser: AddressSanitizer
 * finds the ones that were not. A changed image must parse again. */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "efi/pe-format.h"
#include "efi/pe.h"
#include "sign/authenticode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        PeImage pe;
        uint8_t digest[32];
        if (size > (64u << 20) || pe_image_parse_copy(data, size, &pe) < 0)
                return 0;
        for (size_t i = 0; i < pe.n_sections; i++)
                (void) pe_image_find_section(&pe, pe.sections[i].name);
        (void) pe_image_checksum(&pe);
        (void) authenticode_digest(&pe, digest);
        int r = pe_image_strip_signature(&pe);
        if (r >= 0)
                r = pe_image_strip_symbols(&pe);
        if (r >= 0)
                r = pe_image_add_section(&pe, ".fuzz", "slipway", 7, PE_SCN_CNT_INITIALIZED_DATA | PE_SCN_MEM_READ);
        if (r >= 0)
                r = pe_image_pad8(&pe);
        if (r >= 0) {
                static const uint8_t cert[12] = { 12, 0, 0, 0, 0, 2, 2, 0, 1, 2, 3, 4 };
                r = pe_image_set_certificate_table(&pe, cert, sizeof cert);
        }
        if (r >= 0) {
                pe_image_update_checksum(&pe);
                (void) authenticode_digest(&pe, digest);
                PeImage again;
                if (pe_image_parse_copy(pe.data, pe.size, &again) < 0)
                        abort();
                pe_image_release(&again);
        }
        pe_image_release(&pe);
        return 0;
}
