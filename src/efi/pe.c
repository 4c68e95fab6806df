/* SPDX-License-Identifier: MIT */

/* PE32+ images (see pe.h); structures and section names from Microsoft's
 * PE Format specification (pe-format.h). */

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "efi/pe-format.h"
#include "efi/pe.h"

static uint64_t align_up(uint64_t v, uint64_t a) {
        return a ? (v + a - 1) / a * a : v;
}

static struct pe_coff_header *coff(const PeImage *pe) {
        return (struct pe_coff_header *) (pe->data + pe->coff_offset);
}

static struct pe32plus_optional_header *opt(const PeImage *pe) {
        return (struct pe32plus_optional_header *) (pe->data + pe->opt_offset);
}

static struct pe_section_header *section_header(const PeImage *pe, size_t i) {
        return (struct pe_section_header *) (pe->data + pe->sections_offset + i * sizeof(struct pe_section_header));
}

void pe_image_release(PeImage *pe) {
        free(pe->data);
        free(pe->sections);
        *pe = (PeImage) {};
}

static void section_from_header(const struct pe_section_header *h, PeSection *s) {
        memcpy(s->name, h->name, 8);
        s->name[8] = 0;
        s->virtual_size = le32toh(h->virtual_size);
        s->virtual_address = le32toh(h->virtual_address);
        s->raw_size = le32toh(h->size_of_raw_data);
        s->raw_offset = le32toh(h->pointer_to_raw_data);
        s->characteristics = le32toh(h->characteristics);
}

static bool power_of_two(uint32_t v) {
        return v && (v & (v - 1)) == 0;
}

/* Checks and derives everything pe.h promises; data is pe->data. */
static int parse(PeImage *pe) {
        const uint8_t *d = pe->data;
        size_t size = pe->size;

        if (size < sizeof(struct pe_dos_header))
                return -EBADMSG;
        const struct pe_dos_header *dos = (const struct pe_dos_header *) d;
        if (le16toh(dos->e_magic) != PE_DOS_MAGIC)
                return -EBADMSG;
        uint64_t lfanew = le32toh(dos->e_lfanew);
        if (lfanew < sizeof(struct pe_dos_header) || lfanew + 4 + sizeof(struct pe_coff_header) > size)
                return -EBADMSG;
        uint32_t sig;
        memcpy(&sig, d + lfanew, 4);
        if (le32toh(sig) != PE_SIGNATURE)
                return -EBADMSG;
        pe->coff_offset = lfanew + 4;
        const struct pe_coff_header *c = coff(pe);
        pe->machine = le16toh(c->machine);
        pe->n_sections = le16toh(c->number_of_sections);
        uint64_t opt_size = le16toh(c->size_of_optional_header);
        pe->opt_offset = pe->coff_offset + sizeof(struct pe_coff_header);
        if (opt_size < sizeof(struct pe32plus_optional_header) || pe->opt_offset + opt_size > size)
                return -EBADMSG;
        const struct pe32plus_optional_header *o = opt(pe);
        if (le16toh(o->magic) != PE_OPT_MAGIC_PE32PLUS)
                return -EBADMSG;
        pe->n_directories = le32toh(o->number_of_rva_and_sizes);
        if (pe->n_directories > _PE_DIR_MAX ||
            sizeof(struct pe32plus_optional_header) + pe->n_directories * sizeof(struct pe_data_directory) > opt_size)
                return -EBADMSG;
        pe->section_alignment = le32toh(o->section_alignment);
        pe->file_alignment = le32toh(o->file_alignment);
        pe->size_of_headers = le32toh(o->size_of_headers);
        /* "FileAlignment ... a power of 2 between 512 and 64 K"; EFI images
         * built by objcopy use 512 for both alignments. */
        if (!power_of_two(pe->file_alignment) || !power_of_two(pe->section_alignment) ||
            pe->section_alignment < pe->file_alignment || pe->file_alignment > 65536)
                return -EBADMSG;
        pe->sections_offset = pe->opt_offset + opt_size;
        uint64_t table_end = pe->sections_offset + (uint64_t) pe->n_sections * sizeof(struct pe_section_header);
        if (pe->size_of_headers > size || table_end > pe->size_of_headers)
                return -EBADMSG;

        pe->sections = new0(PeSection, pe->n_sections);
        if (!pe->sections)
                return -ENOMEM;
        uint64_t raw_end = pe->size_of_headers;
        for (size_t i = 0; i < pe->n_sections; i++) {
                PeSection *s = &pe->sections[i];
                section_from_header(section_header(pe, i), s);
                if (s->raw_size == 0)
                        continue;
                if (s->raw_offset < pe->size_of_headers || (uint64_t) s->raw_offset + s->raw_size > size)
                        return -EBADMSG;
                raw_end = MAX(raw_end, (uint64_t) s->raw_offset + s->raw_size);
        }

        pe->cert_offset = pe->cert_size = 0;
        if (pe->n_directories > PE_DIR_CERTIFICATE) {
                const struct pe_data_directory *dd = &o->data_directory[PE_DIR_CERTIFICATE];
                uint32_t off = le32toh(dd->virtual_address), len = le32toh(dd->size);
                if (off || len) {
                        if (off < raw_end || (uint64_t) off + len > size || off % 8 != 0 || len == 0)
                                return -EBADMSG;
                        pe->cert_offset = off;
                        pe->cert_size = len;
                }
        }
        return 0;
}

int pe_image_parse(uint8_t *data, size_t size, PeImage *ret) {
        PeImage pe = { .data = data, .size = size };
        int r = parse(&pe);
        if (r < 0) {
                pe_image_release(&pe);
                return r;
        }
        *ret = pe;
        return 0;
}

int pe_image_parse_copy(const void *data, size_t size, PeImage *ret) {
        uint8_t *copy = malloc(size ? size : 1);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, data, size);
        return pe_image_parse(copy, size, ret);
}

const PeSection *pe_image_find_section(const PeImage *pe, const char *name) {
        for (size_t i = 0; i < pe->n_sections; i++)
                if (strcmp(pe->sections[i].name, name) == 0)
                        return &pe->sections[i];
        return NULL;
}

size_t pe_image_checksum_offset(const PeImage *pe) {
        return pe->opt_offset + offsetof(struct pe32plus_optional_header, checksum);
}

size_t pe_image_cert_dir_offset(const PeImage *pe) {
        if (pe->n_directories <= PE_DIR_CERTIFICATE)
                return SIZE_MAX;
        return pe->opt_offset + sizeof(struct pe32plus_optional_header) +
               PE_DIR_CERTIFICATE * sizeof(struct pe_data_directory);
}

static void set_cert_dir(PeImage *pe, uint32_t off, uint32_t len) {
        struct pe_data_directory *dd = &opt(pe)->data_directory[PE_DIR_CERTIFICATE];
        dd->virtual_address = htole32(off);
        dd->size = htole32(len);
        pe->cert_offset = off;
        pe->cert_size = len;
}

/* Grows or shrinks the file; new bytes are zeros. */
static int resize(PeImage *pe, size_t size) {
        uint8_t *d = realloc(pe->data, size ? size : 1);
        if (!d)
                return -ENOMEM;
        if (size > pe->size)
                memset(d + pe->size, 0, size - pe->size);
        pe->data = d;
        pe->size = size;
        return 0;
}

int pe_image_strip_signature(PeImage *pe) {
        if (!pe->cert_size)
                return 0;
        if ((uint64_t) pe->cert_offset + pe->cert_size != pe->size)
                return -EBADMSG;
        size_t end = pe->cert_offset;
        set_cert_dir(pe, 0, 0);
        return resize(pe, end);
}

int pe_image_strip_symbols(PeImage *pe) {
        struct pe_coff_header *c = coff(pe);
        uint64_t sym = le32toh(c->pointer_to_symbol_table), n = le32toh(c->number_of_symbols);
        if (sym == 0 || pe->cert_size || sym < pe->size_of_headers)
                return 0;
        uint64_t end = sym + n * PE_COFF_SYMBOL_SIZE;
        /* The string table follows, its first 4 bytes its size (these included). */
        if (end + 4 <= pe->size) {
                uint32_t strsz;
                memcpy(&strsz, pe->data + end, 4);
                end += le32toh(strsz);
        }
        if (end != pe->size)
                return 0;
        /* Nothing the image maps lies there. */
        for (size_t i = 0; i < pe->n_sections; i++)
                if (pe->sections[i].raw_size && (uint64_t) pe->sections[i].raw_offset + pe->sections[i].raw_size > sym)
                        return 0;
        c->pointer_to_symbol_table = 0;
        c->number_of_symbols = 0;
        c->characteristics = htole16(le16toh(c->characteristics) | PE_FILE_LOCAL_SYMS_STRIPPED);
        return resize(pe, sym);
}

int pe_image_add_section(PeImage *pe, const char *name, const void *data, size_t size, uint32_t characteristics) {
        if (pe->cert_size)
                return -EBUSY;
        if (strlen(name) > 8 || pe->n_sections == UINT16_MAX)
                return -EINVAL;
        size_t hdr = pe->sections_offset + (size_t) pe->n_sections * sizeof(struct pe_section_header);
        /* The headers may take the space up to the first section's data,
         * SizeOfHeaders rounded up to FileAlignment (as ukify does): the
         * bytes between are unused. */
        uint64_t first_raw = pe->size;
        for (size_t i = 0; i < pe->n_sections; i++)
                if (pe->sections[i].raw_size)
                        first_raw = MIN(first_raw, pe->sections[i].raw_offset);
        uint64_t headers = align_up(pe->size_of_headers, pe->file_alignment);
        if (headers <= first_raw && headers > pe->size_of_headers) {
                pe->size_of_headers = (uint32_t) headers;
                opt(pe)->size_of_headers = htole32(pe->size_of_headers);
        }
        if (hdr + sizeof(struct pe_section_header) > pe->size_of_headers)
                return -ENOSPC;
        /* The next SectionAlignment boundary after every section (ukify
         * takes the last one's; the stubs list theirs in address order). */
        uint64_t va = align_up(pe->size_of_headers, pe->section_alignment);
        for (size_t i = 0; i < pe->n_sections; i++) {
                const PeSection *s = &pe->sections[i];
                va = MAX(va, align_up((uint64_t) s->virtual_address + s->virtual_size, pe->section_alignment));
        }
        uint64_t raw = align_up(pe->size, pe->file_alignment);
        uint64_t raw_size = align_up(size, pe->file_alignment);
        uint64_t image_end = align_up(va + size, pe->section_alignment);
        if (raw + raw_size > UINT32_MAX || image_end > UINT32_MAX)
                return -EFBIG;
        PeSection *ns = realloc(pe->sections, (pe->n_sections + 1) * sizeof(PeSection));
        if (!ns)
                return -ENOMEM;
        pe->sections = ns;
        int r = resize(pe, raw + raw_size);
        if (r < 0)
                return r;
        memcpy(pe->data + raw, data, size);

        struct pe_section_header h = {
                .virtual_size = htole32((uint32_t) size),
                .virtual_address = htole32((uint32_t) va),
                .size_of_raw_data = htole32((uint32_t) raw_size),
                .pointer_to_raw_data = htole32((uint32_t) raw),
                .characteristics = htole32(characteristics),
        };
        memcpy(h.name, name, strlen(name));
        memcpy(pe->data + hdr, &h, sizeof h);
        section_from_header(&h, &pe->sections[pe->n_sections]);
        pe->n_sections++;

        struct pe_coff_header *c = coff(pe);
        c->number_of_sections = htole16(pe->n_sections);
        struct pe32plus_optional_header *o = opt(pe);
        if (characteristics & PE_SCN_CNT_CODE)
                o->size_of_code = htole32(le32toh(o->size_of_code) + (uint32_t) raw_size);
        else
                o->size_of_initialized_data = htole32(le32toh(o->size_of_initialized_data) + (uint32_t) raw_size);
        o->size_of_image = htole32((uint32_t) MAX(le32toh(o->size_of_image), image_end));
        return 0;
}

uint32_t pe_image_checksum(const PeImage *pe) {
        size_t skip = pe_image_checksum_offset(pe);
        uint64_t sum = 0;
        /* The CheckSum field counts as zeros (wherever e_lfanew puts it). */
#define BYTE(k) ((k) >= skip && (k) < skip + 4 ? 0u : (uint32_t) pe->data[k])
        for (size_t i = 0; i < pe->size; i += 2) {
                uint32_t w = BYTE(i);
                if (i + 1 < pe->size)
                        w |= BYTE(i + 1) << 8;
                sum += w;
                sum = (sum & 0xffff) + (sum >> 16);
        }
#undef BYTE
        sum = (sum & 0xffff) + (sum >> 16);
        return (uint32_t) (sum + pe->size);
}

void pe_image_update_checksum(PeImage *pe) {
        opt(pe)->checksum = htole32(pe_image_checksum(pe));
}

int pe_image_pad8(PeImage *pe) {
        if (pe->cert_size)
                return -EBUSY;
        return resize(pe, align_up(pe->size, 8));
}

int pe_image_set_certificate_table(PeImage *pe, const void *cert, size_t size) {
        if (pe->cert_size || pe->size % 8 != 0)
                return -EBUSY;
        if (pe->n_directories <= PE_DIR_CERTIFICATE)
                return -ENOSPC;
        uint64_t len = align_up(size, 8);
        if (pe->size + len > UINT32_MAX || len == 0)
                return -EFBIG;
        size_t off = pe->size;
        int r = resize(pe, off + len);
        if (r < 0)
                return r;
        memcpy(pe->data + off, cert, size);
        set_cert_dir(pe, (uint32_t) off, (uint32_t) len);
        return 0;
}
