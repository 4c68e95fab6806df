/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

/* Calls fn(ctx, i) for every i in [0, n), on up to `jobs` threads (the
 * caller's included). Returns when all calls have returned. fn must be safe to
 * run concurrently for different i. */
void parallel_for(size_t n, unsigned jobs, void (*fn)(void *ctx, size_t i), void *ctx);
