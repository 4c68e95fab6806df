/* SPDX-License-Identifier: MIT */
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "rpm/header.h"

static const uint8_t header_magic[8] = { 0x8E, 0xAD, 0xE8, 0x01, 0, 0, 0, 0 };

/* One index entry as stored (LSB: "Index Record"), big-endian. */
typedef struct _packed_ RpmIndexEntry {
        uint32_t tag;
        uint32_t type;
        int32_t offset;
        uint32_t count;
} RpmIndexEntry;
static_assert(sizeof(RpmIndexEntry) == 16, "index entry");

/* Size and alignment of one item of each fixed-size type (0: variable). */
static const uint8_t type_size[_RPM_TYPE_MAX] = {
        [RPM_CHAR_TYPE] = 1, [RPM_INT8_TYPE] = 1, [RPM_INT16_TYPE] = 2,
        [RPM_INT32_TYPE] = 4, [RPM_INT64_TYPE] = 8, [RPM_BIN_TYPE] = 1,
};

/* ---- building ------------------------------------------------------------- */

typedef struct BuilderEntry {
        uint32_t tag;
        RpmType type;
        uint32_t count;
        uint8_t *data; /* serialised: big-endian integers, NUL-terminated strings */
        size_t size;
} BuilderEntry;

struct RpmHeaderBuilder {
        BuilderEntry *entries;
        size_t n;
        size_t allocated;
        bool oom;
};

RpmHeaderBuilder *rpm_header_builder_new(void) {
        return new0(RpmHeaderBuilder, 1);
}

RpmHeaderBuilder *rpm_header_builder_free(RpmHeaderBuilder *b) {
        if (!b)
                return NULL;
        for (size_t i = 0; i < b->n; i++)
                free(b->entries[i].data);
        free(b->entries);
        free(b);
        return NULL;
}

/* Takes ownership of data. */
static void builder_put(RpmHeaderBuilder *b, uint32_t tag, RpmType type, uint32_t count, uint8_t *data, size_t size) {
        if (!data) {
                b->oom = true;
                return;
        }
        for (size_t i = 0; i < b->n; i++)
                if (b->entries[i].tag == tag) {
                        free(b->entries[i].data);
                        b->entries[i] = (BuilderEntry) { tag, type, count, data, size };
                        return;
                }
        if (!GREEDY_REALLOC(b->entries, b->allocated, b->n + 1)) {
                free(data);
                b->oom = true;
                return;
        }
        b->entries[b->n++] = (BuilderEntry) { tag, type, count, data, size };
}

static uint8_t *memdup_or_null(const void *p, size_t n) {
        uint8_t *r = malloc(n ? n : 1);
        if (r && n)
                memcpy(r, p, n);
        return r;
}

void rpm_header_add_string(RpmHeaderBuilder *b, uint32_t tag, const char *s) {
        builder_put(b, tag, RPM_STRING_TYPE, 1, memdup_or_null(s, strlen(s) + 1), strlen(s) + 1);
}

void rpm_header_add_i18n(RpmHeaderBuilder *b, uint32_t tag, const char *s) {
        builder_put(b, tag, RPM_I18NSTRING_TYPE, 1, memdup_or_null(s, strlen(s) + 1), strlen(s) + 1);
}

void rpm_header_add_strings(RpmHeaderBuilder *b, uint32_t tag, const char *const *v, size_t n) {
        size_t size = 0;
        for (size_t i = 0; i < n; i++)
                size += strlen(v[i]) + 1;
        uint8_t *d = malloc(size ? size : 1), *p = d;
        for (size_t i = 0; d && i < n; i++) {
                size_t l = strlen(v[i]) + 1;
                memcpy(p, v[i], l);
                p += l;
        }
        builder_put(b, tag, RPM_STRING_ARRAY_TYPE, (uint32_t) n, d, size);
}

void rpm_header_add_int16(RpmHeaderBuilder *b, uint32_t tag, const uint16_t *v, size_t n) {
        uint16_t *d = malloc(n ? n * 2 : 1);
        for (size_t i = 0; d && i < n; i++)
                d[i] = htobe16(v[i]);
        builder_put(b, tag, RPM_INT16_TYPE, (uint32_t) n, (uint8_t *) d, n * 2);
}

void rpm_header_add_int32(RpmHeaderBuilder *b, uint32_t tag, const uint32_t *v, size_t n) {
        uint32_t *d = malloc(n ? n * 4 : 1);
        for (size_t i = 0; d && i < n; i++)
                d[i] = htobe32(v[i]);
        builder_put(b, tag, RPM_INT32_TYPE, (uint32_t) n, (uint8_t *) d, n * 4);
}

void rpm_header_add_int64(RpmHeaderBuilder *b, uint32_t tag, const uint64_t *v, size_t n) {
        uint64_t *d = malloc(n ? n * 8 : 1);
        for (size_t i = 0; d && i < n; i++)
                d[i] = htobe64(v[i]);
        builder_put(b, tag, RPM_INT64_TYPE, (uint32_t) n, (uint8_t *) d, n * 8);
}

void rpm_header_add_bin(RpmHeaderBuilder *b, uint32_t tag, const void *data, size_t n) {
        builder_put(b, tag, RPM_BIN_TYPE, (uint32_t) n, memdup_or_null(data, n), n);
}

static int entry_cmp(const void *a, const void *b) {
        const BuilderEntry *x = a, *y = b;
        return x->tag < y->tag ? -1 : x->tag > y->tag;
}

/* Places the builder's entries in a store that already holds `start` bytes,
 * in index order, each aligned to its type's size (rpm's doExport()); their
 * offsets go to offsets[], and the store's new length is returned. */
static size_t layout_store(const RpmHeaderBuilder *b, size_t start, size_t *offsets) {
        size_t dl = start;
        for (size_t i = 0; i < b->n; i++) {
                size_t align = b->entries[i].type < _RPM_TYPE_MAX && type_size[b->entries[i].type] > 1
                                       ? type_size[b->entries[i].type]
                                       : 1;
                dl = (dl + align - 1) & ~(align - 1);
                offsets[i] = dl;
                dl += b->entries[i].size;
        }
        return dl;
}

int rpm_header_build(RpmHeaderBuilder *b, uint32_t region_tag, uint8_t **ret, size_t *ret_size) {
        if (b->oom)
                return -ENOMEM;
        if (b->n > 0)
                qsort(b->entries, b->n, sizeof(BuilderEntry), entry_cmp);

        size_t il = b->n + (region_tag ? 1 : 0);
        if (il > RPM_HEADER_MAX_ENTRIES)
                return -E2BIG;

        /* Lay out the store in index order, aligning each entry to its type. */
        size_t dl = 0;
        size_t *offsets = new0(size_t, b->n);
        if (!offsets)
                return -ENOMEM;
        dl = layout_store(b, dl, offsets);
        size_t trailer = dl;
        if (region_tag)
                dl += sizeof(RpmIndexEntry);
        if (dl > RPM_HEADER_MAX_DATA) {
                free(offsets);
                return -E2BIG;
        }

        size_t size = RPM_HEADER_INTRO_SIZE + il * sizeof(RpmIndexEntry) + dl;
        uint8_t *blob = calloc(1, size);
        if (!blob) {
                free(offsets);
                return -ENOMEM;
        }
        memcpy(blob, header_magic, 8);
        uint32_t be = htobe32((uint32_t) il);
        memcpy(blob + 8, &be, 4);
        be = htobe32((uint32_t) dl);
        memcpy(blob + 12, &be, 4);

        RpmIndexEntry *index = (RpmIndexEntry *) (blob + RPM_HEADER_INTRO_SIZE);
        uint8_t *store = blob + RPM_HEADER_INTRO_SIZE + il * sizeof(RpmIndexEntry);
        size_t k = 0;
        if (region_tag) {
                /* The region entry sorts first (62/63 are below every data tag). */
                index[k++] = (RpmIndexEntry) {
                        .tag = htobe32(region_tag),
                        .type = htobe32(RPM_BIN_TYPE),
                        .offset = (int32_t) htobe32((uint32_t) trailer),
                        .count = htobe32(16),
                };
                RpmIndexEntry t = {
                        .tag = htobe32(region_tag),
                        .type = htobe32(RPM_BIN_TYPE),
                        .offset = (int32_t) htobe32((uint32_t) -(int32_t) (il * sizeof(RpmIndexEntry))),
                        .count = htobe32(16),
                };
                memcpy(store + trailer, &t, sizeof t);
        }
        for (size_t i = 0; i < b->n; i++) {
                const BuilderEntry *e = &b->entries[i];
                index[k++] = (RpmIndexEntry) {
                        .tag = htobe32(e->tag),
                        .type = htobe32(e->type),
                        .offset = (int32_t) htobe32((uint32_t) offsets[i]),
                        .count = htobe32(e->count),
                };
                if (e->size)
                        memcpy(store + offsets[i], e->data, e->size);
        }
        free(offsets);

        *ret = blob;
        *ret_size = size;
        return 0;
}

int rpm_header_build_appended(RpmHeaderBuilder *b, const RpmHeader *base, uint8_t **ret, size_t *ret_size) {
        if (b->oom)
                return -ENOMEM;

        /* The region: entry 0 is the region tag with its trailer as the last
         * 16 bytes of the store, and the trailer's negative offset spans the
         * whole index (rpm's hdrblobVerifyRegion() with exact_size). */
        if (base->n_entries < 1 || base->data_size < sizeof(RpmIndexEntry))
                return -EBADMSG;
        RpmIndexEntry region, trailer;
        memcpy(&region, base->index, sizeof region);
        uint32_t region_tag = be32toh(region.tag);
        uint32_t trailer_off = base->data_size - (uint32_t) sizeof(RpmIndexEntry);
        if ((region_tag != RPMTAG_HEADERSIGNATURES && region_tag != RPMTAG_HEADERIMMUTABLE) ||
            be32toh(region.type) != RPM_BIN_TYPE || be32toh(region.count) != sizeof(RpmIndexEntry) ||
            be32toh((uint32_t) region.offset) != trailer_off)
                return -EBADMSG;
        memcpy(&trailer, base->data + trailer_off, sizeof trailer);
        if (be32toh(trailer.tag) != region_tag || be32toh(trailer.type) != RPM_BIN_TYPE ||
            be32toh(trailer.count) != sizeof(RpmIndexEntry) ||
            (int64_t) (int32_t) be32toh((uint32_t) trailer.offset) != -(int64_t) base->n_entries * (int64_t) sizeof(RpmIndexEntry))
                return -EBADMSG;

        if (b->n > 0)
                qsort(b->entries, b->n, sizeof(BuilderEntry), entry_cmp);
        for (size_t i = 0; i < b->n; i++) {
                RpmEntry e;
                if (rpm_header_get(base, b->entries[i].tag, &e) != -ENOENT)
                        return -EEXIST;
        }

        size_t il = base->n_entries + b->n;
        if (il > RPM_HEADER_MAX_ENTRIES)
                return -E2BIG;

        /* Added data follows the trailer, aligned from the store's start
         * (doExport()'s alignDiff() on the running data length). */
        size_t dl = base->data_size;
        _cleanup_free_ size_t *offsets = new0(size_t, b->n);
        if (!offsets)
                return -ENOMEM;
        dl = layout_store(b, dl, offsets);
        if (dl > RPM_HEADER_MAX_DATA)
                return -E2BIG;

        size_t size = RPM_HEADER_INTRO_SIZE + il * sizeof(RpmIndexEntry) + dl;
        uint8_t *blob = calloc(1, size);
        if (!blob)
                return -ENOMEM;
        memcpy(blob, header_magic, 8);
        uint32_t be = htobe32((uint32_t) il);
        memcpy(blob + 8, &be, 4);
        be = htobe32((uint32_t) dl);
        memcpy(blob + 12, &be, 4);

        uint8_t *index = blob + RPM_HEADER_INTRO_SIZE;
        uint8_t *store = index + il * sizeof(RpmIndexEntry);
        memcpy(index, base->index, (size_t) base->n_entries * sizeof(RpmIndexEntry));
        memcpy(store, base->data, base->data_size);
        for (size_t i = 0; i < b->n; i++) {
                const BuilderEntry *e = &b->entries[i];
                RpmIndexEntry x = {
                        .tag = htobe32(e->tag),
                        .type = htobe32(e->type),
                        .offset = (int32_t) htobe32((uint32_t) offsets[i]),
                        .count = htobe32(e->count),
                };
                memcpy(index + (base->n_entries + i) * sizeof(RpmIndexEntry), &x, sizeof x);
                if (e->size)
                        memcpy(store + offsets[i], e->data, e->size);
        }

        *ret = blob;
        *ret_size = size;
        return 0;
}

/* ---- reading -------------------------------------------------------------- */

RpmHeader *rpm_header_free(RpmHeader *h) {
        if (!h)
                return NULL;
        free(h->blob);
        free(h);
        return NULL;
}

static uint32_t be32_at(const uint8_t *p) {
        uint32_t v;
        memcpy(&v, p, 4);
        return be32toh(v);
}

/* Validates one entry against the store; fills *ret. */
static int entry_at(const RpmHeader *h, uint32_t i, RpmEntry *ret) {
        const uint8_t *e = h->index + (size_t) i * sizeof(RpmIndexEntry);
        uint32_t tag = be32_at(e), type = be32_at(e + 4), off = be32_at(e + 8), count = be32_at(e + 12);

        if (type == RPM_NULL_TYPE || type >= _RPM_TYPE_MAX || count == 0)
                return -EBADMSG;

        /* A region entry's data is its 16-byte trailer, which may sit at the
         * very end of the store. */
        if (off >= h->data_size)
                return -EBADMSG;
        size_t avail = h->data_size - off, size;

        switch (type) {
        case RPM_STRING_TYPE:
        case RPM_I18NSTRING_TYPE:
        case RPM_STRING_ARRAY_TYPE: {
                if (type == RPM_STRING_TYPE && count != 1)
                        return -EBADMSG;
                const uint8_t *p = h->data + off, *end = h->data + h->data_size;
                for (uint32_t c = 0; c < count; c++) {
                        const uint8_t *z = memchr(p, 0, (size_t) (end - p));
                        if (!z)
                                return -EBADMSG;
                        p = z + 1;
                        if (c + 1 < count && p >= end)
                                return -EBADMSG;
                }
                size = (size_t) (p - (h->data + off));
                break;
        }
        default: {
                size_t sz = type_size[type];
                if (count > avail / sz)
                        return -EBADMSG;
                if (sz > 1 && off % sz != 0)
                        return -EBADMSG;
                size = (size_t) count * sz;
                break;
        }
        }

        *ret = (RpmEntry) { .tag = tag, .type = (RpmType) type, .count = count, .data = h->data + off, .size = size };
        return 0;
}

int rpm_header_parse(const void *buf, size_t avail, RpmHeader **ret, size_t *ret_size) {
        const uint8_t *p = buf;

        if (avail < RPM_HEADER_INTRO_SIZE)
                return -ENODATA;
        if (memcmp(p, header_magic, 3) != 0 || p[3] != 0x01)
                return -EBADMSG;
        uint32_t il = be32_at(p + 8), dl = be32_at(p + 12);
        if (il == 0 || il > RPM_HEADER_MAX_ENTRIES || dl > RPM_HEADER_MAX_DATA)
                return -EBADMSG;
        size_t size = RPM_HEADER_INTRO_SIZE + (size_t) il * sizeof(RpmIndexEntry) + dl;
        if (avail < size)
                return -ENODATA;

        _cleanup_(rpm_header_freep) RpmHeader *h = new0(RpmHeader, 1);
        if (!h)
                return -ENOMEM;
        h->blob = memdup_or_null(p, size);
        if (!h->blob)
                return -ENOMEM;
        h->size = size;
        h->n_entries = il;
        h->data_size = dl;
        h->index = h->blob + RPM_HEADER_INTRO_SIZE;
        h->data = h->index + (size_t) il * sizeof(RpmIndexEntry);

        uint32_t prev = 0;
        for (uint32_t i = 0; i < il; i++) {
                RpmEntry e;
                int r = entry_at(h, i, &e);
                if (r < 0)
                        return r;
                /* rpm looks tags up by binary search: they must be sorted. */
                if (i > 0 && e.tag < prev)
                        return -EBADMSG;
                prev = e.tag;
        }

        *ret = TAKE_PTR(h);
        if (ret_size)
                *ret_size = size;
        return 0;
}

int rpm_header_check_package(const RpmHeader *h, uint32_t region_tag) {
        /* The intro's four reserved bytes are part of rpm's 8-byte magic. */
        if (memcmp(h->blob, header_magic, sizeof header_magic) != 0)
                return -EBADMSG;
        /* hdrblobVerifyRegion() with exact_size: entry 0 is the region, its
         * trailer the store's last 16 bytes, spanning the whole index. */
        if (h->n_entries < 1 || h->data_size < sizeof(RpmIndexEntry))
                return -EBADMSG;
        RpmIndexEntry region, trailer;
        memcpy(&region, h->index, sizeof region);
        uint32_t trailer_off = h->data_size - (uint32_t) sizeof(RpmIndexEntry);
        if (be32toh(region.tag) != region_tag || be32toh(region.type) != RPM_BIN_TYPE ||
            be32toh(region.count) != sizeof(RpmIndexEntry) || be32toh((uint32_t) region.offset) != trailer_off)
                return -EBADMSG;
        memcpy(&trailer, h->data + trailer_off, sizeof trailer);
        uint32_t ttag = be32toh(trailer.tag);
        /* Old packages have HEADERIMAGE in the signature's trailer; rpm takes it. */
        if (!(ttag == region_tag || (region_tag == RPMTAG_HEADERSIGNATURES && ttag == RPMTAG_HEADERIMAGE)) ||
            be32toh(trailer.type) != RPM_BIN_TYPE || be32toh(trailer.count) != sizeof(RpmIndexEntry) ||
            (int64_t) (int32_t) be32toh((uint32_t) trailer.offset) != -(int64_t) h->n_entries * (int64_t) sizeof(RpmIndexEntry))
                return -EBADMSG;
        /* hdrblobVerifyInfo(): no other tag below 100 (HEADER_I18NTABLE, as
         * a signed number), and each entry's data after the previous one's,
         * none reaching into the trailer. */
        uint64_t end = 0;
        for (uint32_t i = 1; i < h->n_entries; i++) {
                RpmEntry e;
                int r = entry_at(h, i, &e);
                if (r < 0)
                        return r;
                if ((int32_t) e.tag < 100)
                        return -EBADMSG;
                uint64_t off = (uint64_t) (e.data - h->data);
                if (off < end || off + e.size > trailer_off)
                        return -EBADMSG;
                end = off + e.size;
        }
        return 0;
}

int rpm_header_parse_installed(const void *buf, size_t size, RpmHeader **ret) {
        const uint8_t *p = buf;

        if (size < 8)
                return -EBADMSG;
        uint32_t il = be32_at(p), dl = be32_at(p + 4);
        if (il == 0 || il > RPM_HEADER_MAX_ENTRIES || dl > RPM_HEADER_MAX_DATA)
                return -EBADMSG;
        if (size != 8 + (size_t) il * sizeof(RpmIndexEntry) + dl)
                return -EBADMSG;

        _cleanup_(rpm_header_freep) RpmHeader *h = new0(RpmHeader, 1);
        if (!h)
                return -ENOMEM;
        h->size = sizeof(header_magic) + size;
        h->blob = malloc(h->size);
        if (!h->blob)
                return -ENOMEM;
        memcpy(h->blob, header_magic, sizeof(header_magic));
        memcpy(h->blob + sizeof(header_magic), p, size);
        h->n_entries = il;
        h->data_size = dl;
        h->index = h->blob + RPM_HEADER_INTRO_SIZE;
        h->data = h->index + (size_t) il * sizeof(RpmIndexEntry);

        for (uint32_t i = 0; i < il; i++) {
                RpmEntry e;
                int r = entry_at(h, i, &e);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(h);
        return 0;
}

int rpm_header_get(const RpmHeader *h, uint32_t tag, RpmEntry *ret) {
        /* Linear: headers have tens of entries and lookups are few. */
        for (uint32_t i = 0; i < h->n_entries; i++)
                if (be32_at(h->index + (size_t) i * sizeof(RpmIndexEntry)) == tag)
                        return entry_at(h, i, ret);
        return -ENOENT;
}

const char *rpm_header_get_string(const RpmHeader *h, uint32_t tag) {
        RpmEntry e;
        if (rpm_header_get(h, tag, &e) < 0)
                return NULL;
        if (e.type != RPM_STRING_TYPE && e.type != RPM_I18NSTRING_TYPE && e.type != RPM_STRING_ARRAY_TYPE)
                return NULL;
        return (const char *) e.data;
}

int rpm_header_get_number(const RpmHeader *h, uint32_t tag, uint64_t *ret) {
        RpmEntry e;
        int r = rpm_header_get(h, tag, &e);
        if (r < 0)
                return r;
        switch (e.type) {
        case RPM_CHAR_TYPE:
        case RPM_INT8_TYPE:
                *ret = e.data[0];
                return 0;
        case RPM_INT16_TYPE:
                *ret = (uint64_t) ((e.data[0] << 8) | e.data[1]);
                return 0;
        case RPM_INT32_TYPE:
                *ret = be32_at(e.data);
                return 0;
        case RPM_INT64_TYPE: {
                uint64_t v;
                memcpy(&v, e.data, 8);
                *ret = be64toh(v);
                return 0;
        }
        default:
                return -EBADMSG;
        }
}

int rpm_header_get_strings(const RpmHeader *h, uint32_t tag, const char ***ret, size_t *ret_n) {
        RpmEntry e;
        int r = rpm_header_get(h, tag, &e);
        if (r < 0)
                return r;
        if (e.type != RPM_STRING_ARRAY_TYPE && e.type != RPM_STRING_TYPE && e.type != RPM_I18NSTRING_TYPE)
                return -EBADMSG;
        const char **v = new0(const char *, e.count);
        if (!v)
                return -ENOMEM;
        const char *p = (const char *) e.data;
        for (uint32_t i = 0; i < e.count; i++) {
                v[i] = p;
                p += strlen(p) + 1;
        }
        *ret = v;
        *ret_n = e.count;
        return 0;
}

int rpm_header_get_u32s(const RpmHeader *h, uint32_t tag, uint32_t **ret, size_t *ret_n) {
        RpmEntry e;
        int r = rpm_header_get(h, tag, &e);
        if (r < 0)
                return r;
        if (e.type != RPM_INT16_TYPE && e.type != RPM_INT32_TYPE)
                return -EBADMSG;
        uint32_t *v = new0(uint32_t, e.count);
        if (!v)
                return -ENOMEM;
        for (uint32_t i = 0; i < e.count; i++)
                v[i] = e.type == RPM_INT16_TYPE ? (uint32_t) ((e.data[2 * i] << 8) | e.data[2 * i + 1])
                                                : be32_at(e.data + 4 * i);
        *ret = v;
        *ret_n = e.count;
        return 0;
}

int rpm_header_entry_at(const RpmHeader *h, uint32_t i, RpmEntry *ret) {
        if (i >= h->n_entries)
                return -ERANGE;
        return entry_at(h, i, ret);
}

void rpm_header_add_raw(RpmHeaderBuilder *b, const RpmEntry *e) {
        builder_put(b, e->tag, e->type, e->count, memdup_or_null(e->data, e->size), e->size);
}
