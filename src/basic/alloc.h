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

/* Large buffers (payloads, archives): from 1 MiB up, each in its own mapping
 * advised to use transparent huge pages, where a first touch of 2 MiB costs
 * about one 4 KiB page fault (page faults dominate large runs on VMs);
 * smaller ones come from malloc. The size given to huge_free() and
 * huge_realloc() must be the one the buffer was allocated with. Contents
 * start zeroed only for mappings; do not rely on it. */
#define HUGE_ALLOC_MIN ((size_t) 1 << 20)
void *huge_alloc(size_t n);
void huge_free(void *p, size_t n);
void *huge_realloc(void *p, size_t old_n, size_t new_n); /* NULL: failed, p untouched */

/* A buffer from huge_alloc() that grows by doubling (moved by mremap, not
 * copied). */
typedef struct HugeBuf {
        uint8_t *data;
        size_t len, cap;
} HugeBuf;

int huge_buf_reserve(HugeBuf *b, size_t cap); /* at least cap bytes in all; -ENOMEM */
int huge_buf_append(HugeBuf *b, const void *data, size_t n); /* -ENOMEM, b untouched */
void huge_buf_release(HugeBuf *b);
