/* SPDX-License-Identifier: MIT */

/* Reading an ELF file's hardening properties (elf.h). The file's own byte
 * order (EI_DATA) is that of every multi-byte field: the structures below
 * hold them as read, and elf16/32/64() convert. */

#include <byteswap.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "package/elf.h"

/* The file's byte order; fields of the structures below are in it. */
typedef uint16_t elf_half_t;
typedef uint32_t elf_word_t;
typedef uint64_t elf_xword_t;

/* gABI 4.1 "ELF Header", Figure 4-3 (e_ident: "ELF Identification",
 * Figure 4-4). */
#define EI_NIDENT 16
#define EI_CLASS 4
#define EI_DATA 5
#define ELFCLASS32 1
#define ELFCLASS64 2
#define ELFDATA2LSB 1
#define ELFDATA2MSB 2
#define ET_EXEC 2
#define ET_DYN 3

struct elf64_ehdr {
        uint8_t e_ident[EI_NIDENT];
        elf_half_t e_type;
        elf_half_t e_machine;
        elf_word_t e_version;
        elf_xword_t e_entry;
        elf_xword_t e_phoff;
        elf_xword_t e_shoff;
        elf_word_t e_flags;
        elf_half_t e_ehsize;
        elf_half_t e_phentsize;
        elf_half_t e_phnum;
        elf_half_t e_shentsize;
        elf_half_t e_shnum;
        elf_half_t e_shstrndx;
} _packed_;
static_assert(sizeof(struct elf64_ehdr) == 64, "Elf64_Ehdr");

struct elf32_ehdr {
        uint8_t e_ident[EI_NIDENT];
        elf_half_t e_type;
        elf_half_t e_machine;
        elf_word_t e_version;
        elf_word_t e_entry;
        elf_word_t e_phoff;
        elf_word_t e_shoff;
        elf_word_t e_flags;
        elf_half_t e_ehsize;
        elf_half_t e_phentsize;
        elf_half_t e_phnum;
        elf_half_t e_shentsize;
        elf_half_t e_shnum;
        elf_half_t e_shstrndx;
} _packed_;
static_assert(sizeof(struct elf32_ehdr) == 52, "Elf32_Ehdr");

/* gABI 5 "Program Header", Figure 5-1; segment types Figure 5-2, the GNU
 * ones from the LSB Core "Program Header" (PT_GNU_STACK, PT_GNU_RELRO) and
 * binutils (PT_GNU_PROPERTY). */
#define PT_DYNAMIC 2
#define PT_INTERP 3
#define PT_NOTE 4
#define PT_PHDR 6
#define PT_GNU_STACK 0x6474e551u
#define PT_GNU_RELRO 0x6474e552u
#define PF_X 0x1
#define PN_XNUM 0xffff /* gABI 4 "Sections": the count is in section 0's sh_info */

struct elf64_phdr {
        elf_word_t p_type;
        elf_word_t p_flags;
        elf_xword_t p_offset;
        elf_xword_t p_vaddr;
        elf_xword_t p_paddr;
        elf_xword_t p_filesz;
        elf_xword_t p_memsz;
        elf_xword_t p_align;
} _packed_;
static_assert(sizeof(struct elf64_phdr) == 56, "Elf64_Phdr");

struct elf32_phdr {
        elf_word_t p_type;
        elf_word_t p_offset;
        elf_word_t p_vaddr;
        elf_word_t p_paddr;
        elf_word_t p_filesz;
        elf_word_t p_memsz;
        elf_word_t p_flags;
        elf_word_t p_align;
} _packed_;
static_assert(sizeof(struct elf32_phdr) == 32, "Elf32_Phdr");

/* gABI 4 "Sections", Figure 4-8 (Section Header) and 4-9 (types). */
#define SHT_SYMTAB 2
#define SHT_NOTE 7
#define SHT_DYNSYM 11

struct elf64_shdr {
        elf_word_t sh_name;
        elf_word_t sh_type;
        elf_xword_t sh_flags;
        elf_xword_t sh_addr;
        elf_xword_t sh_offset;
        elf_xword_t sh_size;
        elf_word_t sh_link;
        elf_word_t sh_info;
        elf_xword_t sh_addralign;
        elf_xword_t sh_entsize;
} _packed_;
static_assert(sizeof(struct elf64_shdr) == 64, "Elf64_Shdr");

struct elf32_shdr {
        elf_word_t sh_name;
        elf_word_t sh_type;
        elf_word_t sh_flags;
        elf_word_t sh_addr;
        elf_word_t sh_offset;
        elf_word_t sh_size;
        elf_word_t sh_link;
        elf_word_t sh_info;
        elf_word_t sh_addralign;
        elf_word_t sh_entsize;
} _packed_;
static_assert(sizeof(struct elf32_shdr) == 40, "Elf32_Shdr");

/* gABI 4 "Symbol Table", Figure 4-15; types Figure 4-17 (STT_GNU_IFUNC: the
 * LSB); SHN_UNDEF Figure 4-7. */
#define STT_NOTYPE 0
#define STT_FUNC 2
#define STT_GNU_IFUNC 10
#define SHN_UNDEF 0

struct elf64_sym {
        elf_word_t st_name;
        uint8_t st_info;
        uint8_t st_other;
        elf_half_t st_shndx;
        elf_xword_t st_value;
        elf_xword_t st_size;
} _packed_;
static_assert(sizeof(struct elf64_sym) == 24, "Elf64_Sym");

struct elf32_sym {
        elf_word_t st_name;
        elf_word_t st_value;
        elf_word_t st_size;
        uint8_t st_info;
        uint8_t st_other;
        elf_half_t st_shndx;
} _packed_;
static_assert(sizeof(struct elf32_sym) == 16, "Elf32_Sym");

/* gABI 5 "Dynamic Section", Figure 5-9 (Dynamic Structure) and 5-10
 * (tags); DT_FLAGS values Figure 5-11; DT_FLAGS_1 and its DF_1_* (Solaris
 * and GNU extensions) from binutils' include/elf/common.h. */
#define DT_NULL 0
#define DT_BIND_NOW 24
#define DT_FLAGS 30
#define DT_FLAGS_1 0x6ffffffbu
#define DF_BIND_NOW 0x8
#define DF_1_NOW 0x1
#define DF_1_PIE 0x08000000u

struct elf64_dyn {
        elf_xword_t d_tag;
        elf_xword_t d_val;
} _packed_;
static_assert(sizeof(struct elf64_dyn) == 16, "Elf64_Dyn");

struct elf32_dyn {
        elf_word_t d_tag;
        elf_word_t d_val;
} _packed_;
static_assert(sizeof(struct elf32_dyn) == 8, "Elf32_Dyn");

/* gABI 5 "Note Section", Figure 5-3; the GNU property note (the "Linux
 * Extensions to gABI", 2.1 "Program Property"): name "GNU", type
 * NT_GNU_PROPERTY_TYPE_0, a list of (pr_type, pr_datasz, data padded to 8
 * bytes in ELFCLASS64, 4 in ELFCLASS32); x86's feature bits from the x86-64
 * psABI, "Program Property". */
#define NT_GNU_PROPERTY_TYPE_0 5
#define GNU_PROPERTY_X86_FEATURE_1_AND 0xc0000002u
#define GNU_PROPERTY_X86_FEATURE_1_IBT 0x1
#define GNU_PROPERTY_X86_FEATURE_1_SHSTK 0x2

struct elf_nhdr {
        elf_word_t n_namesz;
        elf_word_t n_descsz;
        elf_word_t n_type;
} _packed_;
static_assert(sizeof(struct elf_nhdr) == 12, "Elf_Nhdr");

/* hardening-check's %libc: the functions glibc has a __NAME_chk of. */
const char *const elf_fortifiable[] = {
        "asprintf",        "confstr",         "dprintf",         "fdelt",           "fgets",
        "fgets_unlocked",  "fgetws",          "fgetws_unlocked", "fprintf",         "fread",
        "fread_unlocked",  "fwprintf",        "getcwd",          "getdomainname",   "getgroups",
        "gethostname",     "getlogin_r",      "gets",            "getwd",           "longjmp",
        "mbsnrtowcs",      "mbsrtowcs",       "mbstowcs",        "memcpy",          "memmove",
        "mempcpy",         "memset",          "obstack_printf",  "obstack_vprintf", "poll",
        "ppoll",           "pread",           "pread64",         "printf",          "ptsname_r",
        "read",            "readlink",        "readlinkat",      "realpath",        "recv",
        "recvfrom",        "snprintf",        "sprintf",         "stpcpy",          "stpncpy",
        "strcat",          "strcpy",          "strncat",         "strncpy",         "swprintf",
        "syslog",          "ttyname_r",       "vasprintf",       "vdprintf",        "vfprintf",
        "vfwprintf",       "vprintf",         "vsnprintf",       "vsprintf",        "vswprintf",
        "vsyslog",         "vwprintf",        "wcpcpy",          "wcpncpy",         "wcrtomb",
        "wcscat",          "wcscpy",          "wcsncat",         "wcsncpy",         "wcsnrtombs",
        "wcsrtombs",       "wcstombs",        "wctomb",          "wmemcpy",         "wmemmove",
        "wmempcpy",        "wmemset",         "wprintf",
};
const size_t elf_n_fortifiable = ELEMENTSOF(elf_fortifiable);

/* Sections and segments as the checks use them, whatever the class. */
typedef struct Seg {
        uint32_t type, flags;
        uint64_t offset, filesz, align;
} Seg;

typedef struct Sec {
        uint32_t type, link;
        uint64_t offset, size, entsize, addralign;
} Sec;

typedef struct Elf {
        ElfReadFn read;
        void *userdata;
        uint64_t size;
        bool swap; /* the file's byte order is not the host's */
        bool is_64;
} Elf;

static uint16_t e16(const Elf *e, uint16_t v) {
        return e->swap ? bswap_16(v) : v;
}
static uint32_t e32(const Elf *e, uint32_t v) {
        return e->swap ? bswap_32(v) : v;
}
static uint64_t e64(const Elf *e, uint64_t v) {
        return e->swap ? bswap_64(v) : v;
}

/* n bytes at off, if they lie in the file. */
static int elf_pread(const Elf *e, uint64_t off, void *buf, size_t n) {
        if (off > e->size || n > e->size - off)
                return -EBADMSG;
        return e->read(e->userdata, off, buf, n);
}

/* count items of size bytes at off, within the file: a malloc'd copy. */
static int elf_read_array(const Elf *e, uint64_t off, uint64_t count, size_t size, void **ret) {
        if (count == 0) {
                *ret = NULL;
                return 0;
        }
        if (count > e->size / size)
                return -EBADMSG;
        void *p = malloc((size_t) count * size);
        if (!p)
                return -ENOMEM;
        int r = elf_pread(e, off, p, (size_t) count * size);
        if (r < 0) {
                free(p);
                return r;
        }
        *ret = p;
        return 0;
}

static int cmp_name(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static bool fortifiable(const char *name, size_t len) {
        char buf[64];
        if (len == 0 || len >= sizeof buf)
                return false;
        memcpy(buf, name, len);
        buf[len] = 0;
        const char *key = buf;
        return bsearch(&key, elf_fortifiable, elf_n_fortifiable, sizeof(char *), cmp_name) != NULL;
}

/* One undefined function's name, as readelf prints it less its version
 * ("memcpy@GLIBC_2.14"). */
static void note_symbol(ElfInfo *info, const char *name, size_t len) {
        const char *at = memchr(name, '@', len);
        if (at)
                len = (size_t) (at - name);
        if (len == 16 && memcmp(name, "__stack_chk_fail", 16) == 0)
                info->stack_chk_fail = true;
        if (len > 6 && memcmp(name, "__", 2) == 0 && memcmp(name + len - 4, "_chk", 4) == 0 &&
            fortifiable(name + 2, len - 6))
                info->fortify_chk = true;
        if (fortifiable(name, len))
                info->fortify_plain = true;
}

#define SYM_BATCH 1024

/* The undefined NOTYPE, FUNC and IFUNC symbols of symbol table s (its
 * string table: section strtab). */
static int read_symbols(const Elf *e, const Sec *s, const Sec *strtab, ElfInfo *info) {
        size_t esize = e->is_64 ? sizeof(struct elf64_sym) : sizeof(struct elf32_sym);
        /* readelf skips a table whose entry size is not the symbol's. */
        if (s->entsize != esize)
                return 0;
        uint64_t count = s->size / esize;
        if (count == 0)
                return 0;
        if (s->offset > e->size || count > (e->size - s->offset) / esize)
                return -EBADMSG;
        _cleanup_free_ char *strings = NULL;
        uint64_t n_strings = 0;
        if (strtab && strtab->size > 0) {
                if (strtab->offset > e->size || strtab->size > e->size - strtab->offset)
                        return -EBADMSG;
                int r = elf_read_array(e, strtab->offset, strtab->size, 1, (void **) &strings);
                if (r < 0)
                        return r;
                n_strings = strtab->size;
        }
        _cleanup_free_ uint8_t *batch = malloc(SYM_BATCH * esize);
        if (!batch)
                return -ENOMEM;
        for (uint64_t at = 0; at < count; at += SYM_BATCH) {
                size_t n = (size_t) MIN((uint64_t) SYM_BATCH, count - at);
                int r = elf_pread(e, s->offset + at * esize, batch, n * esize);
                if (r < 0)
                        return r;
                for (size_t k = 0; k < n; k++) {
                        uint32_t name;
                        uint8_t stt;
                        uint16_t shndx;
                        if (e->is_64) {
                                struct elf64_sym sym;
                                memcpy(&sym, batch + k * esize, sizeof sym);
                                name = e32(e, sym.st_name);
                                stt = sym.st_info & 0xf;
                                shndx = e16(e, sym.st_shndx);
                        } else {
                                struct elf32_sym sym;
                                memcpy(&sym, batch + k * esize, sizeof sym);
                                name = e32(e, sym.st_name);
                                stt = sym.st_info & 0xf;
                                shndx = e16(e, sym.st_shndx);
                        }
                        if (shndx != SHN_UNDEF || (stt != STT_NOTYPE && stt != STT_FUNC && stt != STT_GNU_IFUNC))
                                continue;
                        info->n_undefined++;
                        if (name >= n_strings)
                                continue;
                        const char *p = strings + name;
                        const char *end = memchr(p, 0, (size_t) (n_strings - name));
                        if (end)
                                note_symbol(info, p, (size_t) (end - p));
                }
        }
        return 0;
}

/* The dynamic section (segment d): BIND_NOW and the flags. */
static int read_dynamic(const Elf *e, const Seg *d, ElfInfo *info) {
        size_t esize = e->is_64 ? sizeof(struct elf64_dyn) : sizeof(struct elf32_dyn);
        uint64_t count = d->filesz / esize;
        _cleanup_free_ uint8_t *dyn = NULL;
        int r = elf_read_array(e, d->offset, count, esize, (void **) &dyn);
        if (r < 0)
                return r;
        for (uint64_t k = 0; k < count; k++) {
                uint64_t tag, val;
                if (e->is_64) {
                        struct elf64_dyn x;
                        memcpy(&x, dyn + k * esize, sizeof x);
                        tag = e64(e, x.d_tag);
                        val = e64(e, x.d_val);
                } else {
                        struct elf32_dyn x;
                        memcpy(&x, dyn + k * esize, sizeof x);
                        tag = e32(e, x.d_tag);
                        val = e32(e, x.d_val);
                }
                if (tag == DT_NULL)
                        break;
                if (tag == DT_BIND_NOW || (tag == DT_FLAGS && (val & DF_BIND_NOW)) ||
                    (tag == DT_FLAGS_1 && (val & DF_1_NOW)))
                        info->bind_now = true;
                if (tag == DT_FLAGS_1 && (val & DF_1_PIE))
                        info->df1_pie = true;
        }
        return 0;
}

#define NOTES_MAX ((uint64_t) 1 << 20) /* more note bytes than any file has: not read */

static uint64_t align_up(uint64_t v, uint64_t a) {
        return (v + a - 1) / a * a;
}

/* The notes of one section or segment: the GNU property note's x86
 * feature bits. align: the notes' alignment (4, or 8 for ELFCLASS64
 * property notes), as readelf takes it from sh_addralign / p_align. */
static int read_notes(const Elf *e, uint64_t offset, uint64_t size, uint64_t align, ElfInfo *info) {
        if (size == 0 || size > NOTES_MAX)
                return 0;
        align = align == 8 ? 8 : 4;
        _cleanup_free_ uint8_t *buf = NULL;
        int r = elf_read_array(e, offset, size, 1, (void **) &buf);
        if (r < 0)
                return r;
        /* The padding after a note or a property may take the position
         * past the end: compared before subtracting. */
        for (uint64_t at = 0; at <= size && size - at >= sizeof(struct elf_nhdr);) {
                struct elf_nhdr nh;
                memcpy(&nh, buf + at, sizeof nh);
                uint64_t namesz = e32(e, nh.n_namesz), descsz = e32(e, nh.n_descsz);
                uint64_t name_at = at + sizeof nh, desc_at = at + align_up(sizeof nh + namesz, align);
                if (namesz > size || desc_at > size || descsz > size - desc_at)
                        break; /* readelf stops at a note that does not fit */
                if (namesz == 4 && memcmp(buf + name_at, "GNU", 4) == 0 &&
                    e32(e, nh.n_type) == NT_GNU_PROPERTY_TYPE_0) {
                        uint64_t pad = e->is_64 ? 8 : 4;
                        for (uint64_t p = 0; p <= descsz && descsz - p >= 8;) {
                                uint32_t pr_type, pr_datasz;
                                memcpy(&pr_type, buf + desc_at + p, 4);
                                memcpy(&pr_datasz, buf + desc_at + p + 4, 4);
                                pr_type = e32(e, pr_type);
                                pr_datasz = e32(e, pr_datasz);
                                if (pr_datasz > descsz - p - 8)
                                        break;
                                if (pr_type == GNU_PROPERTY_X86_FEATURE_1_AND && pr_datasz == 4) {
                                        uint32_t bits;
                                        memcpy(&bits, buf + desc_at + p + 8, 4);
                                        bits = e32(e, bits);
                                        info->ibt |= (bits & GNU_PROPERTY_X86_FEATURE_1_IBT) != 0;
                                        info->shstk |= (bits & GNU_PROPERTY_X86_FEATURE_1_SHSTK) != 0;
                                }
                                p += align_up(8 + (uint64_t) pr_datasz, pad);
                        }
                }
                at = desc_at + align_up(descsz, align);
        }
        return 0;
}

int elf_read_info(ElfReadFn read, void *userdata, uint64_t size, ElfInfo *ret) {
        Elf e = { .read = read, .userdata = userdata, .size = size };
        uint8_t ident[EI_NIDENT];
        ElfInfo info = {};
        uint64_t phoff, shoff;
        size_t phnum, shnum, phentsize, shentsize;
        int r;

        if (size < EI_NIDENT)
                return 0;
        r = elf_pread(&e, 0, ident, sizeof ident);
        if (r < 0)
                return r;
        if (memcmp(ident, ELF_MAGIC, 4) != 0)
                return 0;
        if ((ident[EI_CLASS] != ELFCLASS32 && ident[EI_CLASS] != ELFCLASS64) ||
            (ident[EI_DATA] != ELFDATA2LSB && ident[EI_DATA] != ELFDATA2MSB))
                return -EBADMSG;
        e.is_64 = ident[EI_CLASS] == ELFCLASS64;
        e.swap = (ident[EI_DATA] == ELFDATA2MSB) != (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__);
        info.is_64 = e.is_64;

        if (e.is_64) {
                struct elf64_ehdr h;
                r = elf_pread(&e, 0, &h, sizeof h);
                if (r < 0)
                        return r;
                info.type = e16(&e, h.e_type);
                info.machine = e16(&e, h.e_machine);
                phoff = e64(&e, h.e_phoff);
                shoff = e64(&e, h.e_shoff);
                phnum = e16(&e, h.e_phnum);
                shnum = e16(&e, h.e_shnum);
                phentsize = e16(&e, h.e_phentsize);
                shentsize = e16(&e, h.e_shentsize);
        } else {
                struct elf32_ehdr h;
                r = elf_pread(&e, 0, &h, sizeof h);
                if (r < 0)
                        return r;
                info.type = e16(&e, h.e_type);
                info.machine = e16(&e, h.e_machine);
                phoff = e32(&e, h.e_phoff);
                shoff = e32(&e, h.e_shoff);
                phnum = e16(&e, h.e_phnum);
                shnum = e16(&e, h.e_shnum);
                phentsize = e16(&e, h.e_phentsize);
                shentsize = e16(&e, h.e_shentsize);
        }
        if (info.type != ET_EXEC && info.type != ET_DYN)
                return 0;

        /* Section headers (gABI 4 "Sections": with e_shoff set and e_shnum
         * 0, the count is section 0's sh_size; PN_XNUM phnum is its sh_info). */
        size_t sh_size = e.is_64 ? sizeof(struct elf64_shdr) : sizeof(struct elf32_shdr);
        _cleanup_free_ Sec *secs = NULL;
        size_t n_secs = 0;
        if (shoff != 0) {
                if (shentsize != sh_size)
                        return -EBADMSG;
                uint8_t raw[sizeof(struct elf64_shdr)];
                r = elf_pread(&e, shoff, raw, sh_size);
                if (r < 0)
                        return r;
                uint64_t first_size, first_info;
                if (e.is_64) {
                        struct elf64_shdr s;
                        memcpy(&s, raw, sizeof s);
                        first_size = e64(&e, s.sh_size);
                        first_info = e32(&e, s.sh_info);
                } else {
                        struct elf32_shdr s;
                        memcpy(&s, raw, sizeof s);
                        first_size = e32(&e, s.sh_size);
                        first_info = e32(&e, s.sh_info);
                }
                uint64_t count = shnum ? shnum : first_size;
                if (phnum == PN_XNUM)
                        phnum = (size_t) MIN(first_info, (uint64_t) SIZE_MAX);
                _cleanup_free_ uint8_t *table = NULL;
                r = elf_read_array(&e, shoff, count, sh_size, (void **) &table);
                if (r < 0)
                        return r;
                secs = new0(Sec, count ? count : 1);
                if (!secs)
                        return -ENOMEM;
                for (uint64_t k = 0; k < count; k++) {
                        Sec *x = &secs[n_secs++];
                        if (e.is_64) {
                                struct elf64_shdr s;
                                memcpy(&s, table + k * sh_size, sizeof s);
                                *x = (Sec) { .type = e32(&e, s.sh_type), .link = e32(&e, s.sh_link),
                                             .offset = e64(&e, s.sh_offset), .size = e64(&e, s.sh_size),
                                             .entsize = e64(&e, s.sh_entsize), .addralign = e64(&e, s.sh_addralign) };
                        } else {
                                struct elf32_shdr s;
                                memcpy(&s, table + k * sh_size, sizeof s);
                                *x = (Sec) { .type = e32(&e, s.sh_type), .link = e32(&e, s.sh_link),
                                             .offset = e32(&e, s.sh_offset), .size = e32(&e, s.sh_size),
                                             .entsize = e32(&e, s.sh_entsize), .addralign = e32(&e, s.sh_addralign) };
                        }
                }
        }

        /* Program headers. */
        size_t ph_size = e.is_64 ? sizeof(struct elf64_phdr) : sizeof(struct elf32_phdr);
        _cleanup_free_ Seg *segs = NULL;
        size_t n_segs = 0;
        if (phoff != 0 && phnum > 0) {
                if (phentsize != ph_size)
                        return -EBADMSG;
                _cleanup_free_ uint8_t *table = NULL;
                r = elf_read_array(&e, phoff, phnum, ph_size, (void **) &table);
                if (r < 0)
                        return r;
                segs = new0(Seg, phnum);
                if (!segs)
                        return -ENOMEM;
                for (size_t k = 0; k < phnum; k++) {
                        Seg *x = &segs[n_segs++];
                        if (e.is_64) {
                                struct elf64_phdr p;
                                memcpy(&p, table + k * ph_size, sizeof p);
                                *x = (Seg) { .type = e32(&e, p.p_type), .flags = e32(&e, p.p_flags),
                                             .offset = e64(&e, p.p_offset), .filesz = e64(&e, p.p_filesz),
                                             .align = e64(&e, p.p_align) };
                        } else {
                                struct elf32_phdr p;
                                memcpy(&p, table + k * ph_size, sizeof p);
                                *x = (Seg) { .type = e32(&e, p.p_type), .flags = e32(&e, p.p_flags),
                                             .offset = e32(&e, p.p_offset), .filesz = e32(&e, p.p_filesz),
                                             .align = e32(&e, p.p_align) };
                        }
                }
        }

        const Seg *dynamic = NULL;
        for (size_t k = 0; k < n_segs; k++) {
                const Seg *s = &segs[k];
                switch (s->type) {
                case PT_PHDR: info.has_phdr = true; break;
                case PT_INTERP: info.has_interp = true; break;
                case PT_GNU_RELRO: info.has_relro = true; break;
                case PT_GNU_STACK:
                        info.has_gnu_stack = true;
                        info.stack_exec = (s->flags & PF_X) != 0;
                        break;
                case PT_DYNAMIC:
                        if (!dynamic)
                                dynamic = s;
                        break;
                default: break;
                }
        }
        if (dynamic) {
                r = read_dynamic(&e, dynamic, &info);
                if (r < 0)
                        return r;
        }

        /* Symbols from the section headers (as `readelf -s`); notes from
         * the note sections, else from the note segments (as `readelf -n`). */
        for (size_t k = 0; k < n_secs; k++) {
                const Sec *s = &secs[k];
                if (s->type == SHT_SYMTAB || s->type == SHT_DYNSYM) {
                        r = read_symbols(&e, s, s->link < n_secs ? &secs[s->link] : NULL, &info);
                        if (r < 0)
                                return r;
                } else if (s->type == SHT_NOTE) {
                        r = read_notes(&e, s->offset, s->size, s->addralign, &info);
                        if (r < 0)
                                return r;
                }
        }
        if (n_secs == 0)
                for (size_t k = 0; k < n_segs; k++)
                        if (segs[k].type == PT_NOTE) {
                                r = read_notes(&e, segs[k].offset, segs[k].filesz, segs[k].align, &info);
                                if (r < 0)
                                        return r;
                        }

        *ret = info;
        return 1;
}

typedef struct Mem {
        const uint8_t *data;
} Mem;

static int mem_read(void *userdata, uint64_t off, void *buf, size_t n) {
        const Mem *m = userdata;
        memcpy(buf, m->data + off, n);
        return 0;
}

int elf_parse_info(const void *data, size_t size, ElfInfo *ret) {
        Mem m = { .data = data };
        return elf_read_info(mem_read, &m, size, ret);
}
