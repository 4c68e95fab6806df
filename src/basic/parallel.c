/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <stdlib.h>

#include "basic/alloc.h"
#include "basic/macro.h"
#include "basic/parallel.h"

typedef struct ParallelFor {
        pthread_mutex_t lock;
        size_t next;
        size_t n;
        void (*fn)(void *ctx, size_t i);
        void *ctx;
} ParallelFor;

static void *parallel_worker(void *arg) {
        ParallelFor *pf = arg;
        for (;;) {
                pthread_mutex_lock(&pf->lock);
                size_t i = pf->next++;
                pthread_mutex_unlock(&pf->lock);
                if (i >= pf->n)
                        return NULL;
                pf->fn(pf->ctx, i);
        }
}

void parallel_for(size_t n, unsigned jobs, void (*fn)(void *ctx, size_t i), void *ctx) {
        ParallelFor pf = { .lock = PTHREAD_MUTEX_INITIALIZER, .n = n, .fn = fn, .ctx = ctx };
        size_t nt = MIN((size_t) MAX(jobs, 1u), n);
        pthread_t *t = nt > 1 ? new0(pthread_t, nt) : NULL;
        size_t started = 0;
        for (size_t i = 0; t && i + 1 < nt; i++)
                if (pthread_create(&t[started], NULL, parallel_worker, &pf) == 0)
                        started++;
        parallel_worker(&pf);
        for (size_t i = 0; i < started; i++)
                pthread_join(t[i], NULL);
        free(t);
}
