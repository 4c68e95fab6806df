/* SPDX-License-Identifier: MIT */

/* libFuzzer target: the ELF reader of the hardening check
 * (elf_parse_info()). A package's files are untrusted: any bytes, any
 * length, offsets and counts pointing anywhere. */

#include <stddef.h>
#include <stdint.h>

#include "package/elf.h"
#include "package/hardening.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ElfInfo info;
        if (elf_parse_info(data, size, &info) > 0) {
                uint8_t status[_HARDENING_CHECK_MAX];
                hardening_evaluate(&info, status);
        }
        return 0;
}
