/* SPDX-License-Identifier: MIT */

/* The hardening check's ELF reader: this test program itself (built by
 * meson with Debian's PIE default, -fstack-protector-strong, RELRO), the
 * same bytes byte-swapped in the header (not read as this file), and every
 * truncation and a corrupted copy read without a crash. hardening_test.py
 * compares the verdicts with hardening-check on gcc's outputs. */

#include <stdlib.h>
#include <string.h>

#include "basic/fileio.h"
#include "package/elf.h"
#include "package/hardening.h"
#include "../unit.h"

static char *self;
static size_t self_size;

static void load_self(void) {
        if (!self)
                CHECK(read_full_file("/proc/self/exe", &self, &self_size) == 0);
}

static void test_self(void) {
        load_self();
        ElfInfo info;
        CHECK(elf_parse_info(self, self_size, &info) == 1);
        CHECK(info.type == 3); /* ET_DYN: Debian's gcc links PIE */
        CHECK(info.has_phdr && info.has_interp);
        CHECK(info.has_relro);
        CHECK(info.has_gnu_stack && !info.stack_exec);
        CHECK(info.stack_chk_fail);
        CHECK(info.n_undefined > 0);
        uint8_t st[_HARDENING_CHECK_MAX];
        hardening_evaluate(&info, st);
        CHECK(st[HARDENING_PIE] == HARDENING_PASS);
        CHECK(st[HARDENING_RELRO] == HARDENING_PASS);
        CHECK(st[HARDENING_NX_STACK] == HARDENING_PASS);
        CHECK(st[HARDENING_STACK_PROTECTOR] == HARDENING_PASS);
}

static void test_not_elf(void) {
        ElfInfo info;
        CHECK(elf_parse_info("#!/bin/sh\n", 10, &info) == 0);
        CHECK(elf_parse_info("\177EL", 3, &info) == 0);
        /* A relocatable object: ELF, but not checked. */
        load_self();
        char *copy = malloc(self_size);
        CHECK(copy);
        memcpy(copy, self, self_size);
        copy[16] = 1; /* e_type ET_REL, little-endian */
        copy[17] = 0;
        CHECK(elf_parse_info(copy, self_size, &info) == 0);
        /* A bad class. */
        memcpy(copy, self, 64);
        copy[4] = 7;
        CHECK(elf_parse_info(copy, self_size, &info) == -EBADMSG);
        free(copy);
}

static void test_truncated_and_corrupt(void) {
        load_self();
        ElfInfo info;
        /* Every cut in the first 8 KiB and a few beyond: never a crash,
         * never a read outside the bytes given (ASan builds check that). */
        for (size_t n = 0; n < self_size && n < 8192; n++) {
                int r = elf_parse_info(self, n, &info);
                CHECK(r == 0 || r == 1 || r == -EBADMSG);
        }
        for (size_t n = 8192; n < self_size; n += self_size / 97 + 1) {
                int r = elf_parse_info(self, n, &info);
                CHECK(r == 1 || r == -EBADMSG);
        }
        /* Byte-swapped (big-endian) header fields point anywhere. */
        char *copy = malloc(self_size);
        CHECK(copy);
        memcpy(copy, self, self_size);
        copy[5] = 2; /* ELFDATA2MSB */
        int r = elf_parse_info(copy, self_size, &info);
        CHECK(r == 0 || r == 1 || r == -EBADMSG);
        /* Pseudo-random bytes over the headers. */
        unsigned seed = 1;
        for (int round = 0; round < 200; round++) {
                memcpy(copy, self, self_size);
                for (int k = 0; k < 16; k++) {
                        seed = seed * 1103515245 + 12345;
                        size_t at = 18 + (seed >> 8) % 4096;
                        if (at < self_size)
                                copy[at] = (char) (seed >> 3);
                }
                r = elf_parse_info(copy, self_size, &info);
                CHECK(r == 0 || r == 1 || r == -EBADMSG || r == -ENOMEM);
        }
        free(copy);
}

/* A small ELF file made here: the header, one note section (the bytes of
 * note), its section header table; 64-bit or 32-bit, either byte order. */
static size_t put(uint8_t *b, size_t at, uint64_t v, size_t n, bool be) {
        for (size_t i = 0; i < n; i++)
                b[at + i] = (uint8_t) (v >> (8 * (be ? n - 1 - i : i)));
        return at + n;
}

static size_t make_elf(uint8_t *b, bool is_64, bool be, const uint8_t *note, size_t note_size) {
        size_t eh = is_64 ? 64 : 52, sh = is_64 ? 64 : 40, w = is_64 ? 8 : 4;
        size_t shoff = eh + ((note_size + 7) & ~(size_t) 7);
        memset(b, 0, shoff + 2 * sh);
        memcpy(b, "\177ELF", 4);
        b[4] = is_64 ? 2 : 1;
        b[5] = be ? 2 : 1;
        b[6] = 1;
        size_t at = put(b, 16, 3, 2, be); /* ET_DYN */
        at = put(b, at, is_64 ? 62 : 3, 2, be);
        at = put(b, at, 1, 4, be);
        at = put(b, at, 0, w, be);     /* e_entry */
        at = put(b, at, 0, w, be);     /* e_phoff */
        at = put(b, at, shoff, w, be); /* e_shoff */
        at = put(b, at, 0, 4, be);
        at = put(b, at, eh, 2, be);
        at = put(b, at, is_64 ? 56 : 32, 2, be);
        at = put(b, at, 0, 2, be);
        at = put(b, at, sh, 2, be);
        at = put(b, at, 2, 2, be);
        put(b, at, 0, 2, be);
        memcpy(b + eh, note, note_size);
        /* Section 1: SHT_NOTE at eh. */
        at = shoff + sh;
        at = put(b, at, 0, 4, be);
        at = put(b, at, 7, 4, be);
        at = put(b, at, 0, w, be); /* flags */
        at = put(b, at, 0, w, be); /* addr */
        at = put(b, at, eh, w, be);
        at = put(b, at, note_size, w, be);
        at = put(b, at, 0, 4, be);
        at = put(b, at, 0, 4, be);
        at = put(b, at, is_64 ? 8 : 4, w, be);
        put(b, at, 0, w, be);
        return shoff + 2 * sh;
}

/* An NT_GNU_PROPERTY_TYPE_0 note with GNU_PROPERTY_X86_FEATURE_1_AND = bits. */
static size_t make_property_note(uint8_t *n, bool is_64, bool be, uint32_t bits) {
        size_t pad = is_64 ? 8 : 4, data = (8 + 4 + pad - 1) / pad * pad;
        size_t at = put(n, 0, 4, 4, be);
        at = put(n, at, data, 4, be);
        at = put(n, at, 5, 4, be);
        memcpy(n + at, "GNU", 4);
        at += 4;
        at = put(n, at, 0xc0000002u, 4, be);
        at = put(n, at, 4, 4, be);
        at = put(n, at, bits, 4, be);
        while (at % pad)
                n[at++] = 0;
        return at;
}

static void test_property_notes(void) {
        uint8_t b[1024], note[64];
        ElfInfo info;
        for (int k = 0; k < 4; k++) {
                bool is_64 = k & 1, be = k & 2;
                size_t n = make_property_note(note, is_64, be, 3);
                size_t size = make_elf(b, is_64, be, note, n);
                CHECK(elf_parse_info(b, size, &info) == 1);
                CHECK(info.is_64 == is_64 && info.type == 3 && info.ibt && info.shstk);
                CHECK(!info.has_phdr && info.n_undefined == 0);
                uint8_t st[_HARDENING_CHECK_MAX];
                hardening_evaluate(&info, st);
                CHECK(st[HARDENING_CET] == HARDENING_PASS);
                CHECK(st[HARDENING_PIE] == HARDENING_NA);
                CHECK(st[HARDENING_STACK_PROTECTOR] == HARDENING_NA);
                CHECK(st[HARDENING_FORTIFY] == HARDENING_NA);
                CHECK(st[HARDENING_NX_STACK] == HARDENING_MISSING); /* no PT_GNU_STACK */
                n = make_property_note(note, is_64, be, 2);
                size = make_elf(b, is_64, be, note, n);
                CHECK(elf_parse_info(b, size, &info) == 1 && !info.ibt && info.shstk);
        }
        /* A note whose padding runs past the section's end (the fuzzer's
         * first find: the position was subtracted from the size). */
        static const uint8_t short_note[] = { 4, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 'G', 'N', 'U', 0, 9 };
        size_t size = make_elf(b, true, false, short_note, sizeof short_note);
        CHECK(elf_parse_info(b, size, &info) == 1 && !info.ibt && !info.shstk);
        /* A property whose padding runs past the note's descriptor. */
        static const uint8_t short_prop[] = { 4, 0, 0, 0, 12, 0, 0, 0, 5, 0, 0, 0, 'G', 'N', 'U', 0,
                                              2, 0, 0, 0xc0, 4, 0, 0, 0, 3, 0, 0, 0 };
        size = make_elf(b, true, false, short_prop, sizeof short_prop);
        CHECK(elf_parse_info(b, size, &info) == 1 && info.ibt && info.shstk);
}

static void test_fortifiable_sorted(void) {
        for (size_t i = 1; i < elf_n_fortifiable; i++)
                CHECK(strcmp(elf_fortifiable[i - 1], elf_fortifiable[i]) < 0);
        CHECK(elf_n_fortifiable == 78);
}

UNIT_MAIN(test_self, test_not_elf, test_truncated_and_corrupt, test_property_notes, test_fortifiable_sorted)
