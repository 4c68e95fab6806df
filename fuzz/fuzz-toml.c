/* SPDX-License-Identifier: MIT */

/* libFuzzer target: the TOML parser and, for documents it accepts, the project
 * schema. Both read untrusted input (slipway.toml from a checkout). */

#include <stddef.h>
#include <stdint.h>

#include "config/project.h"
#include "config/toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Diagnostics d = {};
        Project *p = NULL;

        if (size > 256 * 1024)
                return 0;
        (void) project_load_buffer((const char *) data, size, "fuzz.toml", &d, &p);
        project_free(p);
        diagnostics_release(&d);
        return 0;
}
