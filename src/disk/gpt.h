/* SPDX-License-Identifier: MIT */
#pragma once

/* GUID Partition Tables (UEFI Specification 2.10, chapter 5 "GUID Partition
 * Table (GPT) Disk Layout") for disk images: the layout of partitions on a
 * disk, and the bytes of the protective MBR, the primary and the backup
 * header and entry arrays. Sectors are 512 bytes, the entry array holds 128
 * entries of 128 bytes, partitions are aligned to 1 MiB.
 *
 * GUIDs are 16 bytes in the on-disk ("mixed-endian") form of the spec's
 * EFI_GUID: the first three fields little-endian, the last eight bytes as
 * they are. guid_to_string() prints them in lower case as blkid and
 * lsblk do (sfdisk -d prints the same digits upper-case). */

#include <stddef.h>
#include <stdint.h>

#include "basic/macro.h"

#define GPT_SECTOR_SIZE 512u
#define GPT_ENTRIES 128u
#define GPT_ALIGN (UINT64_C(1) << 20)
/* LBA 0 (protective MBR), 1 (header), 2..33 (entries). */
#define GPT_HEAD_SIZE (34u * GPT_SECTOR_SIZE)
/* The backup entries and header: the disk's last 33 sectors. */
#define GPT_TAIL_SIZE (33u * GPT_SECTOR_SIZE)

#define GUID_STRING_MAX 37 /* 8-4-4-4-12 and the NUL */
/* A partition name in UTF-8 and its NUL: 36 UTF-16 code units are at most
 * 108 bytes (three for each unit of the Basic Multilingual Plane). */
#define GPT_NAME_MAX (36 * 3 + 1)

typedef struct GptPartition {
        uint8_t type_guid[16];
        uint8_t part_guid[16];
        uint64_t first_lba, last_lba; /* inclusive */
        char name[GPT_NAME_MAX];      /* UTF-8, at most 36 UTF-16 code units */
        uint64_t attributes;
} GptPartition;

/* Partition attribute bits: UEFI 5.3.3 (bit 0) and the Discoverable
 * Partitions Specification, "Partition Attribute Flags" (bits 59, 60, 63). */
#define GPT_ATTR_REQUIRED (UINT64_C(1) << 0)
#define GPT_ATTR_GROWFS (UINT64_C(1) << 59)
#define GPT_ATTR_READ_ONLY (UINT64_C(1) << 60)
#define GPT_ATTR_NO_AUTO (UINT64_C(1) << 63)

/* Computes a layout: n partitions in the given order with sizes in bytes.
 * A size of 0 means "grow to fill the disk" and is allowed for at most one
 * partition (-EINVAL otherwise); every other size is rounded up to a multiple
 * of 1 MiB. The first partition starts at 1 MiB, every partition starts on a
 * 1 MiB boundary, and the space after the last one up to the backup table is
 * left unused when it is less than 1 MiB.
 *
 * disk_size is the disk's size in bytes (a multiple of 512, else -EINVAL), or
 * 0 for the smallest disk that holds the layout, rounded up to a multiple of
 * 1 MiB (a growing partition then gets 1 MiB). -ENOSPC when the partitions
 * do not fit (a growing partition needs at least 1 MiB), -E2BIG for more
 * than 128 partitions. ret_first_lba and ret_last_lba (inclusive) are arrays
 * of n, written only on success like *ret_disk_size (optional). */
int gpt_layout(uint64_t disk_size, const uint64_t *sizes, size_t n, uint64_t *ret_disk_size,
               uint64_t *ret_first_lba, uint64_t *ret_last_lba);

/* The bytes of LBA 0..33 (protective MBR, primary header, entry array) in
 * *ret_head, and of the backup (entry array, then the backup header in the
 * last sector) in *ret_tail, to be written at disk_size - *ret_tail_len.
 * Partitions must lie within the usable LBAs, not overlap, and have names
 * that are valid UTF-8 of at most 36 UTF-16 code units (-EINVAL otherwise).
 * The entries are written in the order given. Both buffers are malloc'd and
 * owned by the caller. */
int gpt_build(uint64_t disk_size, const uint8_t disk_guid[16], const GptPartition *parts, size_t n,
              uint8_t **ret_head, size_t *ret_head_len, uint8_t **ret_tail, size_t *ret_tail_len);
/* The same with the headers' FirstUsableLBA at first_usable (>= 34) rather
 * than 34: the sectors from 34 up to it belong to no partition and no
 * partitioning tool may allocate them (a BIOS boot loader's core lives
 * there). Partitions must start at or after it. */
int gpt_build_reserved(uint64_t disk_size, const uint8_t disk_guid[16], const GptPartition *parts, size_t n,
                       uint64_t first_usable, uint8_t **ret_head, size_t *ret_head_len, uint8_t **ret_tail,
                       size_t *ret_tail_len);

/* The partition type GUID for one of slipway's partition type names ("esp",
 * "xbootldr", "root", "usr", "swap", "home", "srv", "var", "tmp", "linux", and
 * the hash partitions of dm-verity, "root-verity" and "usr-verity") on an
 * architecture (RPM names: "x86_64", "aarch64", "i686", "armv7hl",
 * "ppc64le", "s390x", "riscv64", "loongarch64"); arch matters only for
 * "root", "usr" and their "-verity" types. -EINVAL for an unknown type name, -EOPNOTSUPP for an
 * architecture the Discoverable Partitions Specification has no root or usr
 * type for here. */
int gpt_type_from_name(const char *name, const char *arch, uint8_t ret[16]);

/* The reverse: the type name of a partition type GUID, and for "root",
 * "usr" and their "-verity" types the architecture (static strings). -ENOENT for a GUID that is not
 * one of slipway's types. */
int gpt_type_to_name(const uint8_t guid[16], const char **ret_name, const char **ret_arch);

/* A GUID derived from a 32-byte seed and a label: the first 16 bytes of
 * SHA-256(seed || label), made a version 4, variant 1 (RFC 9562) UUID, in
 * on-disk form. The same seed and label always give the same GUID. */
int gpt_guid_derive(const uint8_t seed[32], const char *label, uint8_t ret[16]);

/* Lower-case 8-4-4-4-12 of an on-disk GUID into out (GUID_STRING_MAX bytes). */
char *guid_to_string(const uint8_t guid[16], char out[static GUID_STRING_MAX]);
/* Parses 8-4-4-4-12 (either case) into the on-disk form; -EINVAL if malformed. */
int guid_from_string(const char *s, uint8_t ret[16]);
