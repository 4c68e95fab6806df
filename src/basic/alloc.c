/* SPDX-License-Identifier: MIT */
#include "alloc.h"

bool greedy_realloc(void **p, size_t *allocated, size_t need, size_t sz) {
        if (need <= *allocated)
                return true;

        size_t n = need < 8 ? 8 : need;
        if (n > SIZE_MAX / 2 / sz)
                return false;
        n *= 2;

        void *q = realloc(*p, n * sz);
        if (!q)
                return false;
        memset((char *) q + *allocated * sz, 0, (n - *allocated) * sz);
        *p = q;
        *allocated = n;
        return true;
}

char *strndup_nul(const char *s, size_t n) {
        char *r = malloc(n + 1);
        if (!r)
                return NULL;
        if (n > 0)
                memcpy(r, s, n);
        r[n] = 0;
        return r;
}
