/* SPDX-License-Identifier: MIT */
#pragma once

/* The on-disk structures of a PE32+ image (an x86-64 or AArch64 EFI
 * application), from Microsoft's "PE Format" specification
 * (learn.microsoft.com/windows/win32/debug/pe-format, the "PE/COFF
 * specification"). All fields are little-endian. */

#include <assert.h>
#include <stdint.h>

#include "basic/macro.h"

typedef uint16_t pe_le16_t;
typedef uint32_t pe_le32_t;
typedef uint64_t pe_le64_t;

#define PE_DOS_MAGIC 0x5a4d          /* "MZ" */
#define PE_SIGNATURE 0x00004550      /* "PE\0\0" */
#define PE_OPT_MAGIC_PE32PLUS 0x020b /* "Optional Header Standard Fields": PE32+ */
#define PE_MACHINE_AMD64 0x8664
#define PE_MACHINE_ARM64 0xaa64

/* The MS-DOS stub's header: only e_magic and e_lfanew matter ("MS-DOS
 * Stub (Image Only)"; the offset of the signature is at 0x3c). */
struct pe_dos_header {
        pe_le16_t e_magic;
        uint8_t unused[58];
        pe_le32_t e_lfanew;
} _packed_;
static_assert(sizeof(struct pe_dos_header) == 64, "DOS header");

/* "COFF File Header (Object and Image)", after the 4-byte signature. */
struct pe_coff_header {
        pe_le16_t machine;
        pe_le16_t number_of_sections;
        pe_le32_t time_date_stamp;
        pe_le32_t pointer_to_symbol_table;
        pe_le32_t number_of_symbols;
        pe_le16_t size_of_optional_header;
        pe_le16_t characteristics;
} _packed_;
static_assert(sizeof(struct pe_coff_header) == 20, "COFF header");

#define PE_FILE_LOCAL_SYMS_STRIPPED 0x0008 /* "Characteristics" */
#define PE_COFF_SYMBOL_SIZE 18             /* "COFF Symbol Table": one record */

/* "Optional Header Data Directories (Image Only)". */
struct pe_data_directory {
        pe_le32_t virtual_address; /* for the Certificate Table: a file offset */
        pe_le32_t size;
} _packed_;
static_assert(sizeof(struct pe_data_directory) == 8, "data directory");

enum {
        PE_DIR_EXPORT,
        PE_DIR_IMPORT,
        PE_DIR_RESOURCE,
        PE_DIR_EXCEPTION,
        PE_DIR_CERTIFICATE, /* "The Attribute Certificate Table (Image Only)" */
        PE_DIR_BASERELOC,
        _PE_DIR_MAX = 16,
};

/* "Optional Header Standard Fields" and "Optional Header Windows-Specific
 * Fields" of PE32+, then the data directories (NumberOfRvaAndSizes of them,
 * at most 16). */
struct pe32plus_optional_header {
        pe_le16_t magic;
        uint8_t major_linker_version;
        uint8_t minor_linker_version;
        pe_le32_t size_of_code;
        pe_le32_t size_of_initialized_data;
        pe_le32_t size_of_uninitialized_data;
        pe_le32_t address_of_entry_point;
        pe_le32_t base_of_code;
        pe_le64_t image_base;
        pe_le32_t section_alignment;
        pe_le32_t file_alignment;
        pe_le16_t major_operating_system_version;
        pe_le16_t minor_operating_system_version;
        pe_le16_t major_image_version;
        pe_le16_t minor_image_version;
        pe_le16_t major_subsystem_version;
        pe_le16_t minor_subsystem_version;
        pe_le32_t win32_version_value;
        pe_le32_t size_of_image;
        pe_le32_t size_of_headers;
        pe_le32_t checksum;
        pe_le16_t subsystem;
        pe_le16_t dll_characteristics;
        pe_le64_t size_of_stack_reserve;
        pe_le64_t size_of_stack_commit;
        pe_le64_t size_of_heap_reserve;
        pe_le64_t size_of_heap_commit;
        pe_le32_t loader_flags;
        pe_le32_t number_of_rva_and_sizes;
        struct pe_data_directory data_directory[];
} _packed_;
static_assert(sizeof(struct pe32plus_optional_header) == 112, "PE32+ optional header");

/* "Section Table (Section Headers)". */
struct pe_section_header {
        char name[8]; /* NUL-padded, not terminated when 8 long */
        pe_le32_t virtual_size;
        pe_le32_t virtual_address;
        pe_le32_t size_of_raw_data;
        pe_le32_t pointer_to_raw_data;
        pe_le32_t pointer_to_relocations;
        pe_le32_t pointer_to_linenumbers;
        pe_le16_t number_of_relocations;
        pe_le16_t number_of_linenumbers;
        pe_le32_t characteristics;
} _packed_;
static_assert(sizeof(struct pe_section_header) == 40, "section header");

/* "Section Flags". */
#define PE_SCN_CNT_CODE 0x00000020
#define PE_SCN_CNT_INITIALIZED_DATA 0x00000040
#define PE_SCN_MEM_EXECUTE 0x20000000
#define PE_SCN_MEM_READ 0x40000000

/* "The Attribute Certificate Table (Image Only)": each entry 8-byte
 * aligned, dwLength counting this header and the certificate (not the
 * padding after it). */
struct pe_win_certificate {
        pe_le32_t length;
        pe_le16_t revision;
        pe_le16_t certificate_type;
        uint8_t certificate[];
} _packed_;
static_assert(sizeof(struct pe_win_certificate) == 8, "WIN_CERTIFICATE");

#define PE_WIN_CERT_REVISION_2_0 0x0200
#define PE_WIN_CERT_TYPE_PKCS_SIGNED_DATA 0x0002
