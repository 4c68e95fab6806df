/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <sys/mman.h>

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

static void *map_huge(size_t n) {
        void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                return NULL;
        (void) madvise(p, n, MADV_HUGEPAGE); /* advice: fine if the kernel says no */
        return p;
}

void *huge_alloc(size_t n) {
        if (n < HUGE_ALLOC_MIN)
                return malloc(n ? n : 1);
        return map_huge(n);
}

void huge_free(void *p, size_t n) {
        if (!p)
                return;
        if (n < HUGE_ALLOC_MIN)
                free(p);
        else
                munmap(p, n);
}

void *huge_realloc(void *p, size_t old_n, size_t new_n) {
        if (!p)
                return huge_alloc(new_n);
        if (old_n < HUGE_ALLOC_MIN && new_n < HUGE_ALLOC_MIN)
                return realloc(p, new_n ? new_n : 1);
        if (old_n >= HUGE_ALLOC_MIN && new_n >= HUGE_ALLOC_MIN) {
                void *q = mremap(p, old_n, new_n, MREMAP_MAYMOVE);
                if (q == MAP_FAILED)
                        return NULL;
                if (new_n > old_n)
                        (void) madvise(q, new_n, MADV_HUGEPAGE);
                return q;
        }
        void *q = huge_alloc(new_n);
        if (!q)
                return NULL;
        memcpy(q, p, old_n < new_n ? old_n : new_n);
        huge_free(p, old_n);
        return q;
}

int huge_buf_reserve(HugeBuf *b, size_t cap) {
        if (cap <= b->cap)
                return 0;
        uint8_t *d = huge_realloc(b->data, b->cap, cap);
        if (!d)
                return -ENOMEM;
        b->data = d;
        b->cap = cap;
        return 0;
}

int huge_buf_append(HugeBuf *b, const void *data, size_t n) {
        if (n == 0)
                return 0;
        if (n > b->cap - b->len) {
                size_t cap = b->cap ? b->cap : 65536;
                while (cap - b->len < n) {
                        if (cap > SIZE_MAX / 2)
                                return -ENOMEM;
                        cap *= 2;
                }
                int r = huge_buf_reserve(b, cap);
                if (r < 0)
                        return r;
        }
        memcpy(b->data + b->len, data, n);
        b->len += n;
        return 0;
}

void huge_buf_release(HugeBuf *b) {
        huge_free(b->data, b->cap);
        *b = (HugeBuf) {};
}
