/* SPDX-License-Identifier: MIT */
#pragma once

/* RPM v4 headers: building them and reading them.
 *
 * Layout (LSB Core, "Package File Format", Header Structure; rpm's
 * lib/header.c): an 8-byte magic (8E AD E8 01, 4 reserved bytes), the number
 * of index entries and the size of the data store (big-endian 32-bit each),
 * the index (16 bytes an entry: tag, type, offset into the store, count), then
 * the store. Entries are sorted by tag. A header written by rpm has a region
 * entry first (tag 62 for signature headers, 63 for main headers) whose
 * 16-byte trailer at the end of the store is itself an index entry with a
 * negative offset covering the whole index: signatures and digests are over
 * this "immutable region". */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/macro.h"
#include "rpm/tags.h"

#define RPM_HEADER_INTRO_SIZE 16 /* magic + reserved + il + dl */
#define RPM_HEADER_MAX_ENTRIES 65536
#define RPM_HEADER_MAX_DATA (256u * 1024 * 1024)

/* ---- building ------------------------------------------------------------- */

typedef struct RpmHeaderBuilder RpmHeaderBuilder;

RpmHeaderBuilder *rpm_header_builder_new(void);
RpmHeaderBuilder *rpm_header_builder_free(RpmHeaderBuilder *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(RpmHeaderBuilder *, rpm_header_builder_free);

/* Each add records one entry; a tag added twice replaces the earlier entry.
 * Running out of memory is remembered and reported by _build(). */
void rpm_header_add_string(RpmHeaderBuilder *b, uint32_t tag, const char *s);
void rpm_header_add_i18n(RpmHeaderBuilder *b, uint32_t tag, const char *s); /* the "C" locale only */
void rpm_header_add_strings(RpmHeaderBuilder *b, uint32_t tag, const char *const *v, size_t n);
void rpm_header_add_int16(RpmHeaderBuilder *b, uint32_t tag, const uint16_t *v, size_t n);
void rpm_header_add_int32(RpmHeaderBuilder *b, uint32_t tag, const uint32_t *v, size_t n);
void rpm_header_add_int64(RpmHeaderBuilder *b, uint32_t tag, const uint64_t *v, size_t n);
void rpm_header_add_bin(RpmHeaderBuilder *b, uint32_t tag, const void *data, size_t n);
static inline void rpm_header_add_u32(RpmHeaderBuilder *b, uint32_t tag, uint32_t v) {
        rpm_header_add_int32(b, tag, &v, 1);
}

/* Serialises the header with a region entry of region_tag (62 or 63; 0 for
 * none). *ret is a malloc'd blob starting with the magic. */
int rpm_header_build(RpmHeaderBuilder *b, uint32_t region_tag, uint8_t **ret, size_t *ret_size);

/* ---- reading -------------------------------------------------------------- */

typedef struct RpmHeader {
        uint8_t *blob; /* owned: intro + index + store */
        size_t size;
        uint32_t n_entries;
        uint32_t data_size;
        const uint8_t *index;
        const uint8_t *data;
} RpmHeader;

typedef struct RpmEntry {
        uint32_t tag;
        RpmType type;
        uint32_t count;
        const uint8_t *data; /* in the store; validated to hold count items */
        size_t size;         /* bytes those items take */
} RpmEntry;

/* Parses the header at buf (avail bytes): checks the magic, sizes, every
 * entry's type, offset, count and alignment, and that every string ends in
 * the store. Returns -EBADMSG for a malformed header, -ENODATA if avail is
 * too short; *ret_size is the number of bytes the header takes. */
int rpm_header_parse(const void *buf, size_t avail, RpmHeader **ret, size_t *ret_size);

/* What rpm requires of a header in a package file beyond parsing
 * (lib/header.c: hdrblobVerifyRegion() with exact size, hdrblobVerifyInfo()):
 * the intro's reserved bytes zero; entry 0 the region region_tag
 * (RPMTAG_HEADERSIGNATURES or RPMTAG_HEADERIMMUTABLE), BIN, count 16, its
 * trailer the store's last 16 bytes with the same tag and offset -16 * il;
 * no other tag below 100; entries' data in index order, without overlap,
 * before the trailer. -EBADMSG if not. */
int rpm_header_check_package(const RpmHeader *h, uint32_t region_tag);
/* Parses a header as rpm stores it in its database (the blob of a Packages
 * row, headerExport()'s output): il, dl, index, store, without the magic, and
 * exactly size bytes. Entries are checked as by rpm_header_parse(), but the
 * index need not be sorted: an installed header is the package's immutable
 * region followed by the entries installation added (see
 * rpm_header_build_appended()). The result's blob has the magic prepended.
 * -EBADMSG: malformed (this reads untrusted image contents). */
int rpm_header_parse_installed(const void *buf, size_t size, RpmHeader **ret);
RpmHeader *rpm_header_free(RpmHeader *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(RpmHeader *, rpm_header_free);

/* 0 and *ret filled if the header has tag, else -ENOENT. */
int rpm_header_get(const RpmHeader *h, uint32_t tag, RpmEntry *ret);

/* The first string of a STRING, I18NSTRING or STRING_ARRAY entry; NULL if absent. */
const char *rpm_header_get_string(const RpmHeader *h, uint32_t tag);
/* The first integer of an INT8/16/32/64 entry. */
int rpm_header_get_number(const RpmHeader *h, uint32_t tag, uint64_t *ret);
/* The strings of a STRING_ARRAY (or single STRING) entry as a malloc'd array
 * of pointers into the header (free the array only). */
int rpm_header_get_strings(const RpmHeader *h, uint32_t tag, const char ***ret, size_t *ret_n);
/* Integers of an INT16/INT32 entry widened to uint32_t, malloc'd. */
int rpm_header_get_u32s(const RpmHeader *h, uint32_t tag, uint32_t **ret, size_t *ret_n);

/* The i-th index entry (0 <= i < n_entries), validated. */
int rpm_header_entry_at(const RpmHeader *h, uint32_t i, RpmEntry *ret);

/* Copies an entry as it is (raw store bytes, already big-endian). */
void rpm_header_add_raw(RpmHeaderBuilder *b, const RpmEntry *e);

/* Serialises a header the way rpm stores an installed package's header: the
 * immutable region of base verbatim (its index entries in their order, its
 * store including the region trailer), then the builder's entries, sorted by
 * tag, appended to the index and to the store, each aligned to its type from
 * the store's start. This is what rpm's headerExport() (lib/header.c,
 * doExport()) gives for a header read from a package file and then extended
 * with headerPut(): added entries sort after the region, their data follows
 * the trailer, and signatures over the region stay valid.
 *
 * base must be one region that covers the whole header (region entry first,
 * trailer at the end of the store), as rpm requires of a package's main
 * header; otherwise -EBADMSG. A tag of b that base already has gives -EEXIST.
 * *ret starts with the magic, as with rpm_header_build(). The index of the
 * result is sorted within each part but not as a whole: rpm sorts on import,
 * rpm_header_parse() refuses it. */
int rpm_header_build_appended(RpmHeaderBuilder *b, const RpmHeader *base, uint8_t **ret, size_t *ret_size);
