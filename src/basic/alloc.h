/* SPDX-License-Identifier: MIT */
#pragma once

/* Allocation helpers. Out of memory is reported as -ENOMEM by callers; these
 * helpers only make the overflow checks impossible to forget. */

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define new0(t, n) ((t *) calloc((n) ? (n) : 1, sizeof(t)))

/* Grow *p (an array of elements of size sz) so that it holds at least need
 * elements; *allocated tracks its capacity. Returns false when out of memory
 * or when the size would overflow; *p is untouched then. */
bool greedy_realloc(void **p, size_t *allocated, size_t need, size_t sz);

#define GREEDY_REALLOC(array, allocated, need) \
        greedy_realloc((void **) &(array), &(allocated), (need), sizeof((array)[0]))

char *strndup_nul(const char *s, size_t n); /* copies n bytes and terminates */
