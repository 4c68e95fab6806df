/* SPDX-License-Identifier: MIT */

#include <errno.h>
#include <stdlib.h>

#include "sde.h"

int source_date_epoch_parse(const char *s, uint64_t *ret) {
        if (!s || !*s)
                return -EINVAL;
        uint64_t v = 0;
        for (const char *c = s; *c; c++) {
                if (*c < '0' || *c > '9')
                        return -EINVAL;
                /* v <= MAX < UINT64_MAX / 10 here, so no overflow. */
                v = v * 10 + (uint64_t) (*c - '0');
                if (v > SOURCE_DATE_EPOCH_MAX)
                        return -EINVAL;
        }
        *ret = v;
        return 0;
}

int source_date_epoch_from_env(Diagnostics *d, uint64_t *ret) {
        const char *e = getenv("SOURCE_DATE_EPOCH");
        if (!e || !*e)
                return 0;
        uint64_t v;
        if (source_date_epoch_parse(e, &v) < 0) {
                diag_error(d, NULL,
                           "environment variable SOURCE_DATE_EPOCH='%s' is not valid: expected seconds since 1970 "
                           "as decimal digits, at most %llu",
                           e, (unsigned long long) SOURCE_DATE_EPOCH_MAX);
                return -EINVAL;
        }
        *ret = v;
        return 1;
}
