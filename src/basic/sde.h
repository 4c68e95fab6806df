/* SPDX-License-Identifier: MIT */
#pragma once

/* SOURCE_DATE_EPOCH (https://reproducible-builds.org/specs/source-date-epoch/):
 * the one parser of its value, whether it comes from the environment or from
 * a command line. The rules: decimal digits only (no sign, no spaces, no
 * "0x"), at most SOURCE_DATE_EPOCH_MAX. The [project] source-date-epoch key is
 * a TOML integer with the same range (config/project.c). */

#include <stdint.h>

#include "diag.h"

/* The end of 9999-12-31 UTC: the last second every output format we write can
 * still name (docs/config.md). */
#define SOURCE_DATE_EPOCH_MAX UINT64_C(253402300799)

/* Parses s by the rules above. -EINVAL for anything else (NULL and "" too);
 * *ret is untouched then. */
int source_date_epoch_parse(const char *s, uint64_t *ret);

/* $SOURCE_DATE_EPOCH: 0 if it is unset or empty (*ret untouched), 1 with *ret
 * set if it is valid, -EINVAL with an error recorded in d if it is not. */
int source_date_epoch_from_env(Diagnostics *d, uint64_t *ret);
