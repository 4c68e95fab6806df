/* SPDX-License-Identifier: MIT */

/* parallel_for() runs on a pool of worker threads that live as long as the
 * process: a run calls it several times, and each call would otherwise
 * create threads whose per-thread state (compression contexts, allocator
 * arenas) starts cold. A call made while the pool is busy (from a worker,
 * or from another thread) gets threads of its own, as before. */

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "basic/alloc.h"
#include "basic/macro.h"
#include "basic/parallel.h"

typedef struct Task {
        size_t next, n;
        void (*fn)(void *ctx, size_t i);
        void *ctx;
} Task;

/* Takes indices until none are left. */
static void task_run(Task *t, pthread_mutex_t *lock) {
        for (;;) {
                pthread_mutex_lock(lock);
                size_t i = t->next++;
                pthread_mutex_unlock(lock);
                if (i >= t->n)
                        return;
                t->fn(t->ctx, i);
        }
}

/* ---- the pool ---- */

#define POOL_MAX 256

static struct {
        pthread_mutex_t lock;
        pthread_cond_t wake, done;
        bool busy;          /* a parallel_for owns the pool */
        Task *task;         /* the current task, NULL between tasks */
        unsigned long generation;
        unsigned wanted;    /* workers the current task may use */
        unsigned joined;    /* workers that took the current task */
        unsigned running;   /* workers still in the current task */
        unsigned n_threads;
} pool = {
        .lock = PTHREAD_MUTEX_INITIALIZER,
        .wake = PTHREAD_COND_INITIALIZER,
        .done = PTHREAD_COND_INITIALIZER,
};

static void *pool_worker(void *arg) {
        unsigned long seen = 0;
        pthread_mutex_lock(&pool.lock);
        for (;;) {
                if (pool.generation == seen) {
                        pthread_cond_wait(&pool.wake, &pool.lock);
                        continue;
                }
                seen = pool.generation;
                if (!pool.task || pool.joined >= pool.wanted)
                        continue; /* that task has the workers it wants, or is over */
                Task *t = pool.task;
                pool.joined++;
                pool.running++;
                pthread_mutex_unlock(&pool.lock);
                task_run(t, &pool.lock);
                pthread_mutex_lock(&pool.lock);
                if (--pool.running == 0)
                        pthread_cond_broadcast(&pool.done);
        }
        return NULL;
}

/* Makes sure the pool has want threads; returns how many it has. */
static unsigned pool_grow(unsigned want) {
        want = MIN(want, (unsigned) POOL_MAX);
        while (pool.n_threads < want) {
                pthread_t t;
                pthread_attr_t a;
                if (pthread_attr_init(&a) != 0)
                        break;
                (void) pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
                int r = pthread_create(&t, &a, pool_worker, NULL);
                pthread_attr_destroy(&a);
                if (r != 0)
                        break;
                pool.n_threads++;
        }
        return pool.n_threads;
}

/* ---- threads of its own (nested or concurrent calls) ---- */

typedef struct Spawned {
        Task *task;
        pthread_mutex_t *lock;
} Spawned;

static void *spawned_worker(void *arg) {
        Spawned *s = arg;
        task_run(s->task, s->lock);
        return NULL;
}

static void run_spawned(Task *t, size_t nt) {
        pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
        Spawned s = { t, &lock };
        pthread_t *th = nt > 1 ? new0(pthread_t, nt) : NULL;
        size_t started = 0;
        for (size_t i = 0; th && i + 1 < nt; i++)
                if (pthread_create(&th[started], NULL, spawned_worker, &s) == 0)
                        started++;
        task_run(t, &lock);
        for (size_t i = 0; i < started; i++)
                pthread_join(th[i], NULL);
        free(th);
}

void parallel_for(size_t n, unsigned jobs, void (*fn)(void *ctx, size_t i), void *ctx) {
        Task t = { .n = n, .fn = fn, .ctx = ctx };
        size_t nt = MIN((size_t) MAX(jobs, 1u), n);
        if (nt <= 1) {
                for (size_t i = 0; i < n; i++)
                        fn(ctx, i);
                return;
        }

        pthread_mutex_lock(&pool.lock);
        if (pool.busy) {
                pthread_mutex_unlock(&pool.lock);
                run_spawned(&t, nt);
                return;
        }
        pool.busy = true;
        unsigned workers = pool_grow((unsigned) MIN(nt - 1, (size_t) POOL_MAX));
        pool.task = &t;
        pool.wanted = workers;
        pool.joined = 0;
        pool.generation++;
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.lock);

        task_run(&t, &pool.lock);

        pthread_mutex_lock(&pool.lock);
        /* No worker may join once this thread is done with the indices; wait
         * for those that did. */
        pool.wanted = 0;
        while (pool.running > 0)
                pthread_cond_wait(&pool.done, &pool.lock);
        pool.task = NULL;
        pool.busy = false;
        pthread_mutex_unlock(&pool.lock);
}
