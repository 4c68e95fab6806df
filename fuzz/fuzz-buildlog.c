/* SPDX-License-Identifier: MIT */

/* libFuzzer target: reading a failed build's log for its cause
 * (build_log_diagnose()). The log is what code from a spec printed:
 * untrusted, any bytes, any length. */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "package/build.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *phase = NULL, *error = NULL;
        (void) build_log_diagnose((const char *) data, size, &phase, &error);
        free(phase);
        free(error);
        return 0;
}
