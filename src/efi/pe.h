/* SPDX-License-Identifier: MIT */
#pragma once

/* Reading and changing PE32+ images (EFI applications): the stub a unified
 * kernel image is made from, the boot loaders slipway signs. The input comes
 * from packages and is untrusted: pe_image_parse() checks every offset it
 * later uses (fuzz/fuzz-pe.c). Formats in efi/pe-format.h. */

#include <stddef.h>
#include <stdint.h>

#include "basic/macro.h"

typedef struct PeSection {
        char name[9]; /* NUL-terminated */
        uint32_t virtual_size, virtual_address;
        uint32_t raw_size, raw_offset;
        uint32_t characteristics;
} PeSection;

/* An image in memory, owned: data (malloc'd) holds the whole file. The
 * other fields are derived by pe_image_parse() and kept current by the
 * functions below; callers read them and change nothing directly. */
typedef struct PeImage {
        uint8_t *data;
        size_t size;
        size_t coff_offset;     /* the COFF header, after "PE\0\0" */
        size_t opt_offset;      /* the optional header */
        size_t sections_offset; /* the section table */
        uint16_t machine;
        uint16_t n_sections;
        uint32_t n_directories; /* NumberOfRvaAndSizes */
        uint32_t section_alignment, file_alignment, size_of_headers;
        uint32_t cert_offset, cert_size; /* the Certificate Table; 0, 0 when unsigned */
        PeSection *sections;    /* in section table order */
} PeImage;

/* Takes data (malloc'd, size bytes) into ret when it is a well-formed
 * PE32+ image: headers within SizeOfHeaders, every section's raw data within
 * the file, the certificate table (if any) after them and within the file.
 * -EBADMSG otherwise (data is freed then too); -ENOMEM. */
int pe_image_parse(uint8_t *data, size_t size, PeImage *ret);
/* The same with a copy of data. */
int pe_image_parse_copy(const void *data, size_t size, PeImage *ret);
void pe_image_release(PeImage *pe);

const PeSection *pe_image_find_section(const PeImage *pe, const char *name);

/* Removes the certificate table (the image becomes unsigned): the file
 * ends where it began. -EBADMSG if it is not at the end of the file. */
int pe_image_strip_signature(PeImage *pe);

/* Drops a COFF symbol table and string table left at the end of the file
 * by the linker (image files should have none, and sections appended after
 * it would leave it in the middle), as systemd's ukify does. Nothing when
 * there is none or it is not at the end. */
int pe_image_strip_symbols(PeImage *pe);

/* Appends a section: its header after the last one in the section table
 * (-ENOSPC if SizeOfHeaders has no room for it), its data at the end of the
 * file aligned to FileAlignment (raw size rounded up, padded with zeros),
 * its virtual address the next SectionAlignment boundary after the last
 * section's. SizeOfImage and SizeOfInitializedData (or SizeOfCode for a
 * code section) grow accordingly. The image must be unsigned (-EBUSY). */
int pe_image_add_section(PeImage *pe, const char *name, const void *data, size_t size, uint32_t characteristics);

/* Sets the optional header's CheckSum to the image's checksum (the
 * algorithm of Windows' CheckSumMappedFile: 16-bit one's complement sum
 * of the file without the CheckSum field, plus the file's length). */
void pe_image_update_checksum(PeImage *pe);
uint32_t pe_image_checksum(const PeImage *pe);

/* Offsets of the CheckSum field and of the Certificate Table's data
 * directory entry (SIZE_MAX when the image has fewer than 5 directories),
 * which the Authenticode hash skips. */
size_t pe_image_checksum_offset(const PeImage *pe);
size_t pe_image_cert_dir_offset(const PeImage *pe);

/* Pads the file with zeros to a multiple of 8 bytes, where a certificate
 * table may begin. The image must be unsigned (-EBUSY). */
int pe_image_pad8(PeImage *pe);

/* Appends cert (a WIN_CERTIFICATE, padded here to 8 bytes) as the
 * certificate table and points the data directory at it. The image must be
 * unsigned and padded (pe_image_pad8()); -EBUSY, -ENOSPC without a
 * Certificate Table directory. */
int pe_image_set_certificate_table(PeImage *pe, const void *cert, size_t size);
