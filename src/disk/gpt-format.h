/* SPDX-License-Identifier: MIT */
#pragma once

/* The GPT's and the MBR's on-disk structures (UEFI Specification 2.10,
 * chapter 5), shared by the writer (gpt.c) and the readers
 * (inspect/gpt-read.c, inspect/mbr-read.c). */

#include <assert.h>
#include <stdint.h>

#include "basic/macro.h"

typedef uint16_t gpt_le16_t;
typedef uint32_t gpt_le32_t;
typedef uint64_t gpt_le64_t;

/* UEFI 5.2.1 "Legacy MBR Partition Record", table 5.2 (a protective MBR's,
 * 5.2.3 table 5.4, has the same layout). */
struct mbr_partition_record {
        uint8_t boot_indicator; /* 0x80: bootable; 0x00 otherwise */
        uint8_t starting_chs[3];
        uint8_t os_type;
        uint8_t ending_chs[3];
        gpt_le32_t starting_lba;
        gpt_le32_t size_in_lba;
} _packed_;
static_assert(sizeof(struct mbr_partition_record) == 16, "MBR partition record");

/* UEFI 5.2.1 "Legacy MBR", table 5.1; the protective MBR in LBA 0 of a GPT
 * disk (5.2.3, table 5.3) has the same layout. */
struct mbr {
        uint8_t boot_code[440];
        gpt_le32_t unique_mbr_disk_signature;
        gpt_le16_t unknown;
        struct mbr_partition_record partition_record[4];
        gpt_le16_t signature; /* 0xAA55: the bytes 0x55, 0xAA */
} _packed_;
static_assert(sizeof(struct mbr) == 512, "MBR");

/* UEFI 5.3.2 "GPT Header", table 5.5. */
struct gpt_header {
        uint8_t signature[8];
        gpt_le32_t revision;
        gpt_le32_t header_size;
        gpt_le32_t header_crc32;
        gpt_le32_t reserved;
        gpt_le64_t my_lba;
        gpt_le64_t alternate_lba;
        gpt_le64_t first_usable_lba;
        gpt_le64_t last_usable_lba;
        uint8_t disk_guid[16];
        gpt_le64_t partition_entry_lba;
        gpt_le32_t number_of_partition_entries;
        gpt_le32_t size_of_partition_entry;
        gpt_le32_t partition_entry_array_crc32;
} _packed_;
static_assert(sizeof(struct gpt_header) == 92, "GPT header");

/* UEFI 5.3.3 "GPT Partition Entry Array", table 5.6. */
struct gpt_entry {
        uint8_t partition_type_guid[16];
        uint8_t unique_partition_guid[16];
        gpt_le64_t starting_lba;
        gpt_le64_t ending_lba;
        gpt_le64_t attributes;
        gpt_le16_t partition_name[36];
} _packed_;
static_assert(sizeof(struct gpt_entry) == 128, "GPT entry");
