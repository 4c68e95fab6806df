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

static void test_fortifiable_sorted(void) {
        for (size_t i = 1; i < elf_n_fortifiable; i++)
                CHECK(strcmp(elf_fortifiable[i - 1], elf_fortifiable[i]) < 0);
        CHECK(elf_n_fortifiable == 78);
}

UNIT_MAIN(test_self, test_not_elf, test_truncated_and_corrupt, test_fortifiable_sorted)
