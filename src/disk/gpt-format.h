/* SPDX-License-Identifier: MIT */
#pragma once

/* The GPT's on-disk structures (UEFI Specification 2.10, chapter 5), shared
 * by the writer (gpt.c) and the reader (inspect/gpt-read.c). */

#include <assert.h>
#include <stdint.h>

#include "basic/macro.h"

typedef uint16_t gpt_le16_t;
typedef uint32_t gpt_le32_t;
typedef uint64_t gpt_le64_t;

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
