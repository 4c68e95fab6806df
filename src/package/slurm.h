/* SPDX-License-Identifier: MIT */
#pragma once

/* The Slurm engine (docs/cluster.md): the components a plan found missing
 * from the caches, each as one Slurm batch job that runs slipway's
 * one-component mode on a node, submitted in one pass with afterok
 * dependencies and --kill-on-invalid-dep=yes; then watched until every job
 * has ended. What the jobs build reaches the shared cache; the caller then
 * assembles the repository from it (build_packages() with cache_only). */

#include <stdbool.h>
#include <stddef.h>

#include "config/project.h"
#include "package/build.h"

struct RemoteCache;

typedef struct SlurmJob {
        const Component *component;
        char *id;          /* Slurm's job id; NULL: not submitted */
        BuildStatus status; /* BUILD_BUILT, BUILD_FAILED, BUILD_SKIPPED; BUILD_MISSING: never ran */
        char *reason;      /* failed or skipped: why */
        char *log;         /* the end of its build log, as the job sent it (NULL: none) */
        char *key;         /* the cache key the job computed (NULL: not said) */
        double seconds;    /* the build's, as the job measured it */
        bool was_cached;   /* BUILD_BUILT: the job found it built already (a requeued job's second run) */
} SlurmJob;

typedef struct SlurmCounts {
        size_t queued, running, built, failed, skipped, total;
} SlurmCounts;

typedef struct SlurmRequest {
        const Project *p;
        const char *project_dir; /* absolute: where the jobs find the project */
        const char *work_dir;    /* absolute: the jobs' output directory on the nodes */
        const char *slipway;     /* the program the jobs run */
        const char *run;         /* this run's id: names the jobs and their reports in the cache */
        struct RemoteCache *remote;
        /* Each time the counts change, and at each job's end. */
        void (*progress)(const SlurmCounts *c, const SlurmJob *ended, void *userdata);
        /* Once every job is submitted: how many, in how long. */
        void (*submitted_fn)(size_t n, double seconds, void *userdata);
        void *userdata;
        /* Filled in by slurm_run(): the jobs submitted, and how long that took. */
        size_t submitted;
        double submit_seconds;
} SlurmRequest;

/* The jobs of the components plan (a cache_only build report) lacks: those
 * BUILD_MISSING and those it skipped only because of them. *ret has one
 * SlurmJob per result of plan, in its order (status BUILD_CACHED for the
 * others, with no job). Problems that stop the whole run (sbatch missing or
 * refusing) go to d: -EINVAL. */
int slurm_run(SlurmRequest *req, const BuildReport *plan, Diagnostics *d, SlurmJob **ret);
void slurm_jobs_free(SlurmJob *jobs, size_t n);
