/* SPDX-License-Identifier: MIT */
/* GUID Partition Tables: layout and on-disk bytes (UEFI Specification 2.10,
 * chapter 5), partition type GUIDs (UAPI Discoverable Partitions
 * Specification), GUIDs derived from a seed. */

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <zlib.h>

#include "basic/hash.h"
#include "basic/macro.h"
#include "disk/gpt-format.h"
#include "disk/gpt.h"

typedef uint16_t le16_t;
typedef uint32_t le32_t;
typedef uint64_t le64_t;

#define SECTORS_PER_ALIGN (GPT_ALIGN / GPT_SECTOR_SIZE)
#define ENTRY_ARRAY_SECTORS (GPT_ENTRIES * sizeof(struct gpt_entry) / GPT_SECTOR_SIZE)
#define FIRST_USABLE_LBA (2 + ENTRY_ARRAY_SECTORS)

static uint64_t round_up(uint64_t v, uint64_t m) {
        return (v + m - 1) / m * m;
}

int gpt_layout(uint64_t disk_size, const uint64_t *sizes, size_t n, uint64_t *ret_disk_size,
               uint64_t *ret_first_lba, uint64_t *ret_last_lba) {
        if (n > GPT_ENTRIES)
                return -E2BIG;
        if (disk_size % GPT_SECTOR_SIZE != 0)
                return -EINVAL;

        /* Sectors of the partitions of fixed size, and which one grows. */
        size_t grow = SIZE_MAX;
        uint64_t fixed = 0;
        for (size_t i = 0; i < n; i++) {
                if (sizes[i] == 0) {
                        if (grow != SIZE_MAX)
                                return -EINVAL;
                        grow = i;
                        continue;
                }
                if (sizes[i] > UINT64_MAX / 2)
                        return -EFBIG;
                uint64_t s = round_up(sizes[i], GPT_ALIGN) / GPT_SECTOR_SIZE;
                if (fixed > UINT64_MAX / 4 - s)
                        return -EFBIG;
                fixed += s;
        }

        uint64_t first = SECTORS_PER_ALIGN; /* FIRST_USABLE_LBA aligned up */
        uint64_t sectors, end;
        if (disk_size == 0) {
                /* The backup table (33 sectors) rounds the disk up by 1 MiB. */
                end = first + fixed + (grow != SIZE_MAX ? SECTORS_PER_ALIGN : 0);
                sectors = end + SECTORS_PER_ALIGN;
        } else {
                sectors = disk_size / GPT_SECTOR_SIZE;
                if (sectors < FIRST_USABLE_LBA + ENTRY_ARRAY_SECTORS + 1)
                        return -ENOSPC;
                /* One past the last usable LBA, aligned down. */
                end = (sectors - 1 - ENTRY_ARRAY_SECTORS) / SECTORS_PER_ALIGN * SECTORS_PER_ALIGN;
                uint64_t need = fixed + (grow != SIZE_MAX ? SECTORS_PER_ALIGN : 0);
                if (end < first || end - first < need)
                        return -ENOSPC;
        }

        uint64_t grow_sectors = end - first - fixed;
        uint64_t lba = first;
        for (size_t i = 0; i < n; i++) {
                uint64_t s = i == grow ? grow_sectors : round_up(sizes[i], GPT_ALIGN) / GPT_SECTOR_SIZE;
                ret_first_lba[i] = lba;
                ret_last_lba[i] = lba + s - 1;
                lba += s;
        }
        if (ret_disk_size)
                *ret_disk_size = sectors * GPT_SECTOR_SIZE;
        return 0;
}

/* UTF-8 to UTF-16LE into out (36 code units, zero-padded). */
static int name_to_utf16(const char *s, le16_t out[36]) {
        size_t k = 0;
        const uint8_t *p = (const uint8_t *) s;
        memset(out, 0, 36 * sizeof(le16_t));
        while (*p) {
                uint32_t c;
                size_t len;
                if (*p < 0x80) {
                        c = *p;
                        len = 1;
                } else if ((*p & 0xe0) == 0xc0) {
                        c = *p & 0x1f;
                        len = 2;
                } else if ((*p & 0xf0) == 0xe0) {
                        c = *p & 0x0f;
                        len = 3;
                } else if ((*p & 0xf8) == 0xf0) {
                        c = *p & 0x07;
                        len = 4;
                } else
                        return -EINVAL;
                for (size_t j = 1; j < len; j++) {
                        if ((p[j] & 0xc0) != 0x80)
                                return -EINVAL;
                        c = c << 6 | (p[j] & 0x3f);
                }
                /* Overlong forms, surrogates and values past U+10FFFF. */
                if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
                    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
                        return -EINVAL;
                p += len;
                if (c >= 0x10000) {
                        if (k + 2 > 36)
                                return -EINVAL;
                        c -= 0x10000;
                        out[k++] = htole16(0xd800 | (c >> 10));
                        out[k++] = htole16(0xdc00 | (c & 0x3ff));
                } else {
                        if (k + 1 > 36)
                                return -EINVAL;
                        out[k++] = htole16(c);
                }
        }
        return 0;
}

static void header_fill(struct gpt_header *h, const uint8_t disk_guid[16], uint64_t my_lba, uint64_t alternate_lba,
                        uint64_t first_usable, uint64_t last_usable, uint64_t entry_lba, uint32_t entries_crc) {
        *h = (struct gpt_header) {
                .signature = "EFI PART",
                .revision = htole32(0x00010000),
                .header_size = htole32(sizeof(struct gpt_header)),
                .my_lba = htole64(my_lba),
                .alternate_lba = htole64(alternate_lba),
                .first_usable_lba = htole64(first_usable),
                .last_usable_lba = htole64(last_usable),
                .partition_entry_lba = htole64(entry_lba),
                .number_of_partition_entries = htole32(GPT_ENTRIES),
                .size_of_partition_entry = htole32(sizeof(struct gpt_entry)),
                .partition_entry_array_crc32 = htole32(entries_crc),
        };
        memcpy(h->disk_guid, disk_guid, 16);
        /* UEFI 5.3.2: the CRC32 of the header_size bytes with this field zero. */
        h->header_crc32 = htole32(crc32(0, (const Bytef *) h, sizeof(*h)));
}

int gpt_build(uint64_t disk_size, const uint8_t disk_guid[16], const GptPartition *parts, size_t n,
              uint8_t **ret_head, size_t *ret_head_len, uint8_t **ret_tail, size_t *ret_tail_len) {
        return gpt_build_reserved(disk_size, disk_guid, parts, n, FIRST_USABLE_LBA, ret_head, ret_head_len, ret_tail,
                                  ret_tail_len);
}

int gpt_build_reserved(uint64_t disk_size, const uint8_t disk_guid[16], const GptPartition *parts, size_t n,
                       uint64_t first_usable, uint8_t **ret_head, size_t *ret_head_len, uint8_t **ret_tail,
                       size_t *ret_tail_len) {
        if (n > GPT_ENTRIES)
                return -E2BIG;
        if (first_usable < FIRST_USABLE_LBA)
                return -EINVAL;
        if (disk_size % GPT_SECTOR_SIZE != 0)
                return -EINVAL;
        uint64_t sectors = disk_size / GPT_SECTOR_SIZE;
        if (sectors < FIRST_USABLE_LBA + ENTRY_ARRAY_SECTORS + 2)
                return -ENOSPC;
        uint64_t last_usable = sectors - 2 - ENTRY_ARRAY_SECTORS;

        for (size_t i = 0; i < n; i++) {
                if (parts[i].first_lba < first_usable || parts[i].last_lba > last_usable ||
                    parts[i].first_lba > parts[i].last_lba)
                        return -EINVAL;
                if (memchr(parts[i].name, 0, sizeof(parts[i].name)) == NULL)
                        return -EINVAL;
                /* An all-zero type GUID marks an unused entry (UEFI 5.3.3). */
                static const uint8_t zero[16];
                if (memcmp(parts[i].type_guid, zero, 16) == 0)
                        return -EINVAL;
                for (size_t j = 0; j < i; j++)
                        if (parts[i].first_lba <= parts[j].last_lba && parts[j].first_lba <= parts[i].last_lba)
                                return -EINVAL;
        }

        _cleanup_free_ uint8_t *head = calloc(1, GPT_HEAD_SIZE);
        _cleanup_free_ uint8_t *tail = calloc(1, GPT_TAIL_SIZE);
        if (!head || !tail)
                return -ENOMEM;

        struct gpt_entry *entries = (struct gpt_entry *) (head + 2 * GPT_SECTOR_SIZE);
        for (size_t i = 0; i < n; i++) {
                struct gpt_entry *e = &entries[i];
                memcpy(e->partition_type_guid, parts[i].type_guid, 16);
                memcpy(e->unique_partition_guid, parts[i].part_guid, 16);
                e->starting_lba = htole64(parts[i].first_lba);
                e->ending_lba = htole64(parts[i].last_lba);
                e->attributes = htole64(parts[i].attributes);
                le16_t name[36];
                int r = name_to_utf16(parts[i].name, name);
                if (r < 0)
                        return r;
                memcpy(e->partition_name, name, sizeof(name));
        }
        size_t array_size = GPT_ENTRIES * sizeof(struct gpt_entry);
        uint32_t entries_crc = crc32(0, (const Bytef *) entries, array_size);

        /* UEFI 5.2.3: one record of type 0xEE covering the disk from LBA 1,
         * its size clamped to 32 bits. The CHS fields are meaningless for an
         * image without a geometry: the start is the conventional 0x000200,
         * the end 0xFFFFFF ("not representable"). */
        struct mbr *mbr = (struct mbr *) head;
        mbr->partition_record[0] = (struct mbr_partition_record) {
                .starting_chs = { 0x00, 0x02, 0x00 },
                .os_type = 0xee,
                .ending_chs = { 0xff, 0xff, 0xff },
                .starting_lba = htole32(1),
                .size_in_lba = htole32(MIN(sectors - 1, (uint64_t) UINT32_MAX)),
        };
        mbr->signature = htole16(0xaa55);

        struct gpt_header h;
        header_fill(&h, disk_guid, 1, sectors - 1, first_usable, last_usable, 2, entries_crc);
        memcpy(head + GPT_SECTOR_SIZE, &h, sizeof(h));

        /* The backup: the same entries right before the backup header in the last LBA. */
        memcpy(tail, entries, array_size);
        header_fill(&h, disk_guid, sectors - 1, 1, first_usable, last_usable, sectors - 1 - ENTRY_ARRAY_SECTORS,
                    entries_crc);
        memcpy(tail + array_size, &h, sizeof(h));

        *ret_head = TAKE_PTR(head);
        *ret_head_len = GPT_HEAD_SIZE;
        *ret_tail = TAKE_PTR(tail);
        *ret_tail_len = GPT_TAIL_SIZE;
        return 0;
}

/* Discoverable Partitions Specification, "Defined Partition Type UUIDs":
 * root, usr, and their Verity partitions (dm-verity hash data). */
static const struct {
        const char *arch;
        const char *root;
        const char *usr;
        const char *root_verity;
        const char *usr_verity;
} arch_types[] = {
        { "x86_64", "4f68bce3-e8cd-4db1-96e7-fbcaf984b709", "8484680c-9521-48c6-9c11-b0720656f69e",
          "2c7357ed-ebd2-46d9-aec1-23d437ec2bf5", "77ff5f63-e7b6-4633-acf4-1565b864c0e6" },
        { "aarch64", "b921b045-1df0-41c3-af44-4c6f280d3fae", "b0e01050-ee5f-4390-949a-9101b17104e9",
          "df3300ce-d69f-4c92-978c-9bfb0f38d820", "6e11a4e7-fbca-4ded-b9e9-e1a512bb664e" },
        { "i686", "44479540-f297-41b2-9af7-d131d5f0458a", "75250d76-8cc6-458e-bd66-bd47cc81a812",
          "d13c5d3b-b5d1-422a-b29f-9454fdc89d76", "8f461b0d-14ee-4e81-9aa9-049b6fb97abd" },
        { "armv7hl", "69dad710-2ce4-4e3c-b16c-21a1d49abed3", "7d0359a3-02b3-4f0a-865c-654403e70625",
          "7386cdf2-203c-47a9-a498-f2ecce45a2d6", "c215d751-7bcd-4649-be90-6627490a4c05" },
        { "ppc64le", "c31c45e6-3f39-412e-80fb-4809c4980599", "15bb03af-77e7-4d4a-b12b-c0d084f7491c",
          "906bd944-4589-4aae-a4e4-dd983917446a", "ee2b9983-21e8-4153-86d9-b6901a54d1ce" },
        { "s390x", "5eead9a9-fe09-4a1e-a1d7-520d00531306", "8a4f5770-50aa-4ed3-874a-99b710db6fea",
          "b325bfbe-c7be-4ab8-8357-139e652d2f6b", "31741cc4-1a2a-4111-a581-e00b447d2d06" },
        { "riscv64", "72ec70a6-cf74-40e6-bd49-4bda08e8f224", "beaec34b-8442-439b-a40b-984381ed097d",
          "b6ed5582-440b-4209-b8da-5ff7c419ea3d", "8f1056be-9b05-47c4-81d6-be53128e5b54" },
        { "loongarch64", "77055800-792c-4f94-b39a-98c91b762bb6", "e611c702-575c-4cbe-9a46-434fa0bf7e3f",
          "f3393b22-e9af-4613-a948-9d3bfbd0c535", "f46b2c26-59ae-48f0-9106-c50ed47f673d" },
};

static const struct {
        const char *name;
        const char *guid;
} fixed_types[] = {
        { "esp", "c12a7328-f81f-11d2-ba4b-00a0c93ec93b" },      /* UEFI 5.3.3, table 5.7 */
        { "xbootldr", "bc13c2ff-59e6-4262-a352-b275fd6f7172" },
        { "swap", "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f" },
        { "home", "933ac7e1-2eb4-4f13-b844-0e14e2aef915" },
        { "srv", "3b8f8425-20e0-4f3b-907f-1a25a76f98e8" },
        { "var", "4d21b016-b534-45c2-a9fb-5c16e091fd2d" },
        { "tmp", "7ec6f557-3bc5-4aca-b293-16ef5df639d1" },
        { "linux", "0fc63daf-8483-4772-8e79-3d69d8477de4" },
};

int gpt_type_from_name(const char *name, const char *arch, uint8_t ret[16]) {
        if (!name)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(fixed_types); i++)
                if (strcmp(name, fixed_types[i].name) == 0)
                        return guid_from_string(fixed_types[i].guid, ret);

        static const char *const per_arch[] = { "root", "usr", "root-verity", "usr-verity" };
        size_t kind = ELEMENTSOF(per_arch);
        for (size_t i = 0; i < ELEMENTSOF(per_arch); i++)
                if (strcmp(name, per_arch[i]) == 0)
                        kind = i;
        if (kind == ELEMENTSOF(per_arch))
                return -EINVAL;
        if (!arch)
                return -EOPNOTSUPP;
        /* The names uname -m gives for the same architectures. */
        if (strcmp(arch, "i386") == 0 || strcmp(arch, "i586") == 0 || strcmp(arch, "x86") == 0)
                arch = "i686";
        else if (strcmp(arch, "arm64") == 0)
                arch = "aarch64";
        else if (strcmp(arch, "amd64") == 0)
                arch = "x86_64";
        else if (strcmp(arch, "armv7l") == 0)
                arch = "armv7hl";
        for (size_t i = 0; i < ELEMENTSOF(arch_types); i++)
                if (strcmp(arch, arch_types[i].arch) == 0) {
                        const char *g[] = { arch_types[i].root, arch_types[i].usr, arch_types[i].root_verity,
                                            arch_types[i].usr_verity };
                        return guid_from_string(g[kind], ret);
                }
        return -EOPNOTSUPP;
}

int gpt_type_to_name(const uint8_t guid[16], const char **ret_name, const char **ret_arch) {
        char s[GUID_STRING_MAX];
        guid_to_string(guid, s);
        for (size_t i = 0; i < ELEMENTSOF(fixed_types); i++)
                if (strcmp(s, fixed_types[i].guid) == 0) {
                        *ret_name = fixed_types[i].name;
                        *ret_arch = NULL;
                        return 0;
                }
        for (size_t i = 0; i < ELEMENTSOF(arch_types); i++) {
                const char *g[] = { arch_types[i].root, arch_types[i].usr, arch_types[i].root_verity,
                                    arch_types[i].usr_verity };
                static const char *const names[] = { "root", "usr", "root-verity", "usr-verity" };
                for (size_t k = 0; k < ELEMENTSOF(g); k++)
                        if (strcmp(s, g[k]) == 0) {
                                *ret_name = names[k];
                                *ret_arch = arch_types[i].arch;
                                return 0;
                        }
        }
        return -ENOENT;
}

/* The three leading fields of an EFI_GUID are little-endian on disk
 * (UEFI appendix A, "GUID and Time Formats"); this swaps between that and
 * the big-endian order of the text form, in either direction. */
static void guid_swap(const uint8_t in[16], uint8_t out[16]) {
        static const uint8_t order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
        for (size_t i = 0; i < 16; i++)
                out[i] = in[order[i]];
}

int gpt_guid_derive(const uint8_t seed[32], const char *label, uint8_t ret[16]) {
        size_t l = strlen(label);
        _cleanup_free_ uint8_t *buf = malloc(32 + l);
        if (!buf)
                return -ENOMEM;
        memcpy(buf, seed, 32);
        memcpy(buf + 32, label, l);
        uint8_t md[HASH_MAX_SIZE];
        int r = hash_buffer(HASH_SHA256, buf, 32 + l, md);
        if (r < 0)
                return r;
        /* RFC 9562 section 4: version in the high nibble of octet 6, variant
         * 0b10 in the top bits of octet 8 (octets in text order). */
        md[6] = (md[6] & 0x0f) | 0x40;
        md[8] = (md[8] & 0x3f) | 0x80;
        guid_swap(md, ret);
        return 0;
}

char *guid_to_string(const uint8_t guid[16], char out[static GUID_STRING_MAX]) {
        static const char hex[] = "0123456789abcdef";
        uint8_t b[16];
        guid_swap(guid, b);
        size_t k = 0;
        for (size_t i = 0; i < 16; i++) {
                if (i == 4 || i == 6 || i == 8 || i == 10)
                        out[k++] = '-';
                out[k++] = hex[b[i] >> 4];
                out[k++] = hex[b[i] & 15];
        }
        out[k] = 0;
        return out;
}

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -EINVAL;
}

int guid_from_string(const char *s, uint8_t ret[16]) {
        uint8_t b[16];
        size_t k = 0;
        if (!s || strlen(s) != 36)
                return -EINVAL;
        for (size_t i = 0; i < 36;) {
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (s[i] != '-')
                                return -EINVAL;
                        i++;
                        continue;
                }
                int hi = unhex(s[i]), lo = unhex(s[i + 1]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                b[k++] = (uint8_t) (hi << 4 | lo);
                i += 2;
        }
        guid_swap(b, ret);
        return 0;
}
