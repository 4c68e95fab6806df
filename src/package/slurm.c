/* SPDX-License-Identifier: MIT */

/* The Slurm engine (slurm.h): sbatch, squeue and scancel, as a user runs
 * them, so that any Slurm cluster the user can submit to will do. */

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/process.h"
#include "basic/run.h"
#include "basic/strbuf.h"
#include "package/remote.h"
#include "package/slurm.h"

extern char **environ;

/* ids per squeue or scancel call: the command line stays short. */
#define IDS_PER_CALL 400
/* sbatch processes at once while submitting. */
#define SUBMITTERS 4

typedef struct Engine {
        SlurmRequest *req;
        const BuildReport *plan;
        SlurmJob *jobs;
        size_t n;
        bool *submit;      /* gets a job */
        size_t **deps;     /* of those: the submitted results it needs */
        size_t *n_deps;
        size_t **rdeps;
        size_t *n_rdeps;
        double *level;     /* the longest path from it to the end, in (last known) build seconds */
        size_t *order;     /* submission order */
        size_t n_order;
        bool *ended;
        /* submission */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        size_t next;       /* in order */
        char *error;       /* the first sbatch failure */
} Engine;

static void engine_release(Engine *e) {
        for (size_t i = 0; i < e->n; i++) {
                if (e->deps)
                        free(e->deps[i]);
                if (e->rdeps)
                        free(e->rdeps[i]);
        }
        free(e->submit);
        free(e->deps);
        free(e->n_deps);
        free(e->rdeps);
        free(e->n_rdeps);
        free(e->level);
        free(e->order);
        free(e->ended);
        free(e->error);
}

void slurm_jobs_free(SlurmJob *jobs, size_t n) {
        for (size_t i = 0; jobs && i < n; i++) {
                free(jobs[i].id);
                free(jobs[i].reason);
                free(jobs[i].log);
                free(jobs[i].key);
        }
        free(jobs);
}

/* Single quotes for sh. */
static void sh_quote(StrBuf *sb, const char *s) {
        strbuf_putc(sb, '\'');
        for (; *s; s++)
                if (*s == '\'')
                        strbuf_puts(sb, "'\\''");
                else
                        strbuf_putc(sb, *s);
        strbuf_putc(sb, '\'');
}

static size_t result_index(const Engine *e, const Component *c) {
        for (size_t i = 0; i < e->n; i++)
                if (e->plan->results[i].component == c)
                        return i;
        return SIZE_MAX;
}

static bool push_index(size_t **v, size_t *n, size_t x) {
        size_t *nv = reallocarray(*v, *n + 1, sizeof(size_t));
        if (!nv)
                return false;
        nv[(*n)++] = x;
        *v = nv;
        return true;
}

static int by_level(const void *a, const void *b, void *userdata) {
        const Engine *e = userdata;
        size_t x = *(const size_t *) a, y = *(const size_t *) b;
        if (e->level[x] != e->level[y])
                return e->level[x] > e->level[y] ? -1 : 1;
        return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

/* What gets a job, its edges, and the submission order: longest path to
 * the end first, weighted by each component's last build time (the median
 * of the known ones where unknown; bench/slurm-sim.py compares the orders),
 * then the project's order. A dependency's path is always longer than its
 * dependents', so this is also an order in which every job's dependencies
 * come first. Slurm starts eligible jobs of equal priority in the order of
 * their ids: the critical chains start first. */
static int engine_plan(Engine *e) {
        size_t n = e->n;
        e->submit = new0(bool, n);
        e->deps = new0(size_t *, n);
        e->n_deps = new0(size_t, n);
        e->rdeps = new0(size_t *, n);
        e->n_rdeps = new0(size_t, n);
        e->level = new0(double, n);
        e->order = new0(size_t, n);
        e->ended = new0(bool, n);
        if (!e->submit || !e->deps || !e->n_deps || !e->rdeps || !e->n_rdeps || !e->level || !e->order || !e->ended)
                return -ENOMEM;

        /* Missing ones get a job; a skipped one too when everything it
         * needs is cached or gets a job (until nothing changes). */
        for (size_t i = 0; i < n; i++)
                e->submit[i] = e->plan->results[i].status == BUILD_MISSING;
        bool changed = true;
        while (changed) {
                changed = false;
                for (size_t i = 0; i < n; i++) {
                        const BuildResult *r = &e->plan->results[i];
                        if (e->submit[i] || r->status != BUILD_SKIPPED)
                                continue;
                        bool ok = true;
                        for (size_t k = 0; k < r->n_needs && ok; k++) {
                                size_t j = result_index(e, r->needs[k]);
                                ok = j != SIZE_MAX &&
                                     (e->submit[j] || e->plan->results[j].status == BUILD_CACHED);
                        }
                        if (ok) {
                                e->submit[i] = true;
                                changed = true;
                        }
                }
        }
        for (size_t i = 0; i < n; i++) {
                const BuildResult *r = &e->plan->results[i];
                if (!e->submit[i])
                        continue;
                for (size_t k = 0; k < r->n_needs; k++) {
                        size_t j = result_index(e, r->needs[k]);
                        if (j == SIZE_MAX || !e->submit[j])
                                continue;
                        if (!push_index(&e->deps[i], &e->n_deps[i], j) || !push_index(&e->rdeps[j], &e->n_rdeps[j], i))
                                return -ENOMEM;
                }
        }
        /* Weights: the last build's seconds; unknown ones the median. */
        _cleanup_free_ double *known = new0(double, n + 1), *w = new0(double, n + 1);
        size_t n_known = 0;
        if (!known || !w)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (e->submit[i] && e->plan->results[i].last_seconds > 0)
                        known[n_known++] = e->plan->results[i].last_seconds;
        if (n_known > 0)
                qsort(known, n_known, sizeof(double), cmp_double);
        double median = n_known ? known[n_known / 2] : 1.0;
        for (size_t i = 0; i < n; i++)
                w[i] = e->plan->results[i].last_seconds > 0 ? e->plan->results[i].last_seconds : median;
        /* Levels: relaxed until stable (the graph has no cycles). */
        for (size_t i = 0; i < n; i++)
                e->level[i] = e->submit[i] ? w[i] : 0;
        changed = true;
        while (changed) {
                changed = false;
                for (size_t i = 0; i < n; i++)
                        for (size_t k = 0; k < e->n_rdeps[i]; k++)
                                if (e->level[i] < e->level[e->rdeps[i][k]] + w[i]) {
                                        e->level[i] = e->level[e->rdeps[i][k]] + w[i];
                                        changed = true;
                                }
        }
        for (size_t i = 0; i < n; i++)
                if (e->submit[i])
                        e->order[e->n_order++] = i;
        qsort_r(e->order, e->n_order, sizeof(size_t), by_level, e);
        return 0;
}

/* Runs a Slurm command; its output (stdout and stderr) in *ret_output. */
static int slurm_command(char *const *argv, char **ret_output, int *ret_status) {
        ProcessOptions o = {
                .argv = argv,
                .envp = environ,
                .output_fd = -1,
                .capture_stderr = true,
        };
        return process_run(&o, ret_output, ret_status);
}

static char *first_line(const char *s) {
        size_t n = strcspn(s ? s : "", "\n");
        return strndup(s ? s : "", n);
}

/* sbatch of result i; its dependencies have ids. */
static int submit_one(Engine *e, size_t i, char **ret_id, char **ret_error) {
        SlurmRequest *req = e->req;
        const Project *p = req->p;
        const char *name = e->plan->results[i].component->name;
        _cleanup_strbuf_ StrBuf dep = STRBUF_INIT, wrap = STRBUF_INIT;
        _cleanup_free_ char *job_name = strprintf("slipway:%s:%s", p->project.name, name);
        _cleanup_free_ char *cpus = strprintf("--cpus-per-task=%lld", (long long) (p->slurm.cpus ? p->slurm.cpus : 1));
        _cleanup_free_ char *jobs = strprintf("%lld", (long long) (p->slurm.cpus ? p->slurm.cpus : 1));
        _cleanup_free_ char *jn = job_name ? strprintf("--job-name=%s", job_name) : NULL;
        _cleanup_free_ char *dep_arg = NULL, *wrap_arg = NULL, *out = NULL;
        int status = 0;

        pthread_mutex_lock(&e->lock);
        for (size_t k = 0; k < e->n_deps[i]; k++)
                strbuf_printf(&dep, "%s%s", k ? ":" : "--dependency=afterok:", e->jobs[e->deps[i][k]].id);
        pthread_mutex_unlock(&e->lock);

        /* The job: slipway's one-component mode, its output beside its work. */
        strbuf_puts(&wrap, "mkdir -p ");
        sh_quote(&wrap, req->work_dir);
        strbuf_puts(&wrap, "/jobs && exec ");
        sh_quote(&wrap, req->slipway);
        strbuf_puts(&wrap, " -q -C ");
        sh_quote(&wrap, req->project_dir);
        strbuf_puts(&wrap, " --out ");
        sh_quote(&wrap, req->work_dir);
        strbuf_printf(&wrap, " -j %s package --one --locked --run %s ", jobs ? jobs : "1", req->run);
        sh_quote(&wrap, name);
        strbuf_puts(&wrap, " >");
        sh_quote(&wrap, req->work_dir);
        strbuf_puts(&wrap, "/jobs/");
        sh_quote(&wrap, name);
        strbuf_puts(&wrap, ".out 2>&1");
        dep_arg = dep.len ? strbuf_detach(&dep, NULL) : NULL;
        wrap_arg = strbuf_detach(&wrap, NULL);
        if (!job_name || !cpus || !jobs || !jn || !wrap_arg)
                return -ENOMEM;

        const char *argv[64];
        size_t k = 0;
        argv[k++] = "sbatch";
        argv[k++] = "--parsable";
        argv[k++] = jn;
        argv[k++] = "--chdir=/";
        argv[k++] = "--output=/dev/null";
        argv[k++] = "--kill-on-invalid-dep=yes";
        argv[k++] = cpus;
        if (dep_arg)
                argv[k++] = dep_arg;
        for (size_t m = 0; m < p->slurm.options.n && k < ELEMENTSOF(argv) - 4; m++)
                argv[k++] = p->slurm.options.items[m];
        argv[k++] = "--wrap";
        argv[k++] = wrap_arg;
        argv[k] = NULL;
        int r = slurm_command((char *const *) argv, &out, &status);
        if (r == -ENOENT) {
                *ret_error = strprintf("cannot run sbatch: it is not installed (Debian: slurm-client)");
                return -EINVAL;
        }
        if (r < 0) {
                *ret_error = strprintf("cannot run sbatch: %s", strerror(-r));
                return -EINVAL;
        }
        _cleanup_free_ char *line = first_line(out);
        if (status != 0 || !line || !*line || strspn(line, "0123456789") == 0) {
                *ret_error = strprintf("sbatch refused the job of '%s': %s", name, line && *line ? line : "(no output)");
                return -EINVAL;
        }
        line[strspn(line, "0123456789")] = 0; /* "ID;cluster" */
        *ret_id = TAKE_PTR(line);
        return 0;
}

static void *submitter(void *arg) {
        Engine *e = arg;
        pthread_mutex_lock(&e->lock);
        for (;;) {
                if (e->next >= e->n_order || e->error)
                        break;
                size_t i = e->order[e->next++];
                /* Its dependencies come earlier in the order: wait for their ids. */
                for (;;) {
                        bool ready = true;
                        for (size_t k = 0; k < e->n_deps[i] && ready; k++)
                                ready = e->jobs[e->deps[i][k]].id != NULL;
                        if (ready || e->error)
                                break;
                        pthread_cond_wait(&e->cond, &e->lock);
                }
                if (e->error)
                        break;
                pthread_mutex_unlock(&e->lock);
                char *id = NULL, *error = NULL;
                int r = submit_one(e, i, &id, &error);
                pthread_mutex_lock(&e->lock);
                if (r < 0) {
                        if (!e->error)
                                e->error = error ? error : strprintf("cannot submit: %s", strerror(-r));
                        else
                                free(error);
                } else
                        e->jobs[i].id = id;
                pthread_cond_broadcast(&e->cond);
        }
        pthread_cond_broadcast(&e->cond);
        pthread_mutex_unlock(&e->lock);
        return NULL;
}

/* scancel of the given results' jobs. */
static void cancel_jobs(Engine *e, const size_t *which, size_t n) {
        for (size_t at = 0; at < n; at += IDS_PER_CALL) {
                const char *argv[IDS_PER_CALL + 2];
                size_t k = 0;
                argv[k++] = "scancel";
                for (size_t m = at; m < n && m < at + IDS_PER_CALL; m++)
                        if (e->jobs[which[m]].id)
                                argv[k++] = e->jobs[which[m]].id;
                argv[k] = NULL;
                if (k == 1)
                        continue;
                _cleanup_free_ char *out = NULL;
                int status;
                (void) slurm_command((char *const *) argv, &out, &status);
        }
}

/* On SIGINT/SIGTERM: every job not ended is cancelled. */
static void cancel_all(void *userdata) {
        Engine *e = userdata;
        _cleanup_free_ size_t *which = new0(size_t, e->n + 1);
        size_t n = 0;
        if (!which)
                return;
        for (size_t i = 0; i < e->n; i++)
                if (e->submit[i] && !e->ended[i] && e->jobs[i].id)
                        which[n++] = i;
        cancel_jobs(e, which, n);
}

typedef enum JobState {
        JOB_QUEUED,
        JOB_RUNNING,
        JOB_DONE,      /* it ended: its report (or the cache) tells how */
        JOB_FAILED,    /* Slurm says it failed */
        JOB_CANCELLED,
        JOB_DEP_NEVER, /* pending on a dependency that will never be met */
} JobState;

static JobState parse_state(const char *state, const char *reason) {
        if (strcmp(state, "PENDING") == 0 || strcmp(state, "REQUEUED") == 0 || strcmp(state, "REQUEUE_HOLD") == 0 ||
            strcmp(state, "REQUEUE_FED") == 0 || strcmp(state, "CONFIGURING") == 0 ||
            strcmp(state, "SUSPENDED") == 0 || strcmp(state, "RESV_DEL_HOLD") == 0 ||
            strcmp(state, "SPECIAL_EXIT") == 0)
                return reason && strcmp(reason, "DependencyNeverSatisfied") == 0 ? JOB_DEP_NEVER : JOB_QUEUED;
        if (strcmp(state, "RUNNING") == 0 || strcmp(state, "COMPLETING") == 0 || strcmp(state, "RESIZING") == 0 ||
            strcmp(state, "STAGE_OUT") == 0 || strcmp(state, "SIGNALING") == 0 || strcmp(state, "STOPPED") == 0)
                return JOB_RUNNING;
        if (strcmp(state, "COMPLETED") == 0)
                return JOB_DONE;
        if (strcmp(state, "CANCELLED") == 0)
                return reason && strcmp(reason, "DependencyNeverSatisfied") == 0 ? JOB_DEP_NEVER : JOB_CANCELLED;
        return JOB_FAILED; /* FAILED, TIMEOUT, NODE_FAIL, OUT_OF_MEMORY, BOOT_FAIL, DEADLINE, PREEMPTED, REVOKED */
}

/* The states of the jobs not ended yet: state[i] set for those squeue
 * lists; others are left as JOB_DONE (gone from the queue). */
static int look_at_queue(Engine *e, JobState *state, char **ret_error) {
        _cleanup_free_ size_t *which = new0(size_t, e->n + 1);
        size_t n = 0;
        if (!which)
                return -ENOMEM;
        for (size_t i = 0; i < e->n; i++)
                if (e->submit[i] && !e->ended[i] && e->jobs[i].id) {
                        which[n++] = i;
                        state[i] = JOB_DONE;
                }
        for (size_t at = 0; at < n; at += IDS_PER_CALL) {
                _cleanup_strbuf_ StrBuf ids = STRBUF_INIT;
                for (size_t m = at; m < n && m < at + IDS_PER_CALL; m++)
                        strbuf_printf(&ids, "%s%s", m > at ? "," : "", e->jobs[which[m]].id);
                _cleanup_free_ char *list = strbuf_detach(&ids, NULL), *out = NULL;
                if (!list)
                        return -ENOMEM;
                const char *argv[] = { "squeue", "--noheader", "--states=all", "--format=%i|%T|%r", "--jobs", list,
                                       NULL };
                int status = 0;
                int r = slurm_command((char *const *) argv, &out, &status);
                if (r < 0) {
                        *ret_error = strprintf("cannot run squeue: %s", strerror(-r));
                        return -EIO;
                }
                /* squeue fails when none of the ids is known any more (all
                 * ended long ago): they are all gone then. Another failure
                 * (the controller down) is a look that saw nothing. */
                if (status != 0) {
                        if (out && strstr(out, "Invalid job id"))
                                continue;
                        *ret_error = first_line(out);
                        return -EAGAIN;
                }
                for (char *line = out, *next; line && *line; line = next) {
                        next = strchr(line, '\n');
                        if (next)
                                *next++ = 0;
                        char *st = strchr(line, '|');
                        char *reason = st ? strchr(st + 1, '|') : NULL;
                        if (!st || !reason)
                                continue;
                        *st++ = 0;
                        *reason++ = 0;
                        for (size_t m = at; m < n && m < at + IDS_PER_CALL; m++)
                                if (strcmp(e->jobs[which[m]].id, line) == 0)
                                        state[which[m]] = parse_state(st, reason);
                }
        }
        return 0;
}

/* The report the job put in the cache (runs/RUN/NAME.json), if any. */
static void read_report(Engine *e, size_t i) {
        SlurmJob *j = &e->jobs[i];
        _cleanup_free_ char *text = NULL, *error = NULL;
        if (remote_get_status(e->req->remote, e->req->run, j->component->name, &text, &error) < 0)
                return;
        json_t *doc = json_loads(text, 0, NULL);
        const char *status = json_string_value(json_object_get(doc, "status"));
        const char *reason = json_string_value(json_object_get(doc, "reason"));
        const char *log = json_string_value(json_object_get(doc, "log"));
        if (status && strcmp(status, "built") == 0)
                j->status = BUILD_BUILT;
        else if (status && strcmp(status, "cached") == 0) {
                j->status = BUILD_BUILT;
                j->was_cached = true;
        }
        else if (status) {
                j->status = BUILD_FAILED;
                free(j->reason);
                j->reason = reason ? strdup(reason) : strprintf("its job says '%s'", status);
        }
        j->seconds = json_real_value(json_object_get(doc, "seconds"));
        const char *key = json_string_value(json_object_get(doc, "key"));
        if (key) {
                free(j->key);
                j->key = strdup(key);
        }
        if (log) {
                free(j->log);
                j->log = strdup(log);
        }
        json_decref(doc);
}

static void count(const Engine *e, const JobState *state, SlurmCounts *c) {
        *c = (SlurmCounts) {};
        for (size_t i = 0; i < e->n; i++) {
                if (!e->submit[i])
                        continue;
                c->total++;
                if (e->ended[i]) {
                        if (e->jobs[i].status == BUILD_BUILT)
                                c->built++;
                        else if (e->jobs[i].status == BUILD_SKIPPED)
                                c->skipped++;
                        else
                                c->failed++;
                } else if (state[i] == JOB_RUNNING)
                        c->running++;
                else
                        c->queued++;
        }
}

/* Result i failed or will never run: everything after it is skipped, its
 * jobs cancelled. */
static void skip_after(Engine *e, size_t i, size_t *cancel, size_t *n_cancel) {
        for (size_t k = 0; k < e->n_rdeps[i]; k++) {
                size_t d = e->rdeps[i][k];
                if (e->ended[d])
                        continue;
                e->ended[d] = true;
                e->jobs[d].status = BUILD_SKIPPED;
                free(e->jobs[d].reason);
                e->jobs[d].reason = strprintf("needs '%s', which %s", e->jobs[i].component->name,
                                              e->jobs[i].status == BUILD_FAILED ? "failed" : "was skipped");
                cancel[(*n_cancel)++] = d;
                skip_after(e, d, cancel, n_cancel);
        }
}

static void wait_a_while(unsigned seconds) {
        struct timespec ts = { .tv_sec = seconds };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

int slurm_run(SlurmRequest *req, const BuildReport *plan, Diagnostics *d, SlurmJob **ret) {
        Engine e = { .req = req, .plan = plan, .n = plan->n, .lock = PTHREAD_MUTEX_INITIALIZER,
                     .cond = PTHREAD_COND_INITIALIZER };
        _cleanup_free_ JobState *state = NULL;
        int r;

        e.jobs = new0(SlurmJob, plan->n + 1);
        state = new0(JobState, plan->n + 1);
        if (!e.jobs || !state)
                return -ENOMEM;
        for (size_t i = 0; i < e.n; i++) {
                e.jobs[i].component = plan->results[i].component;
                e.jobs[i].status = BUILD_CACHED;
        }
        r = engine_plan(&e);
        if (r < 0)
                goto fail;
        for (size_t i = 0; i < e.n; i++)
                if (e.submit[i])
                        e.jobs[i].status = BUILD_MISSING;
                else
                        e.ended[i] = true;

        /* Submitting, from a few threads: sbatch waits on the controller. */
        run_on_signal(cancel_all, &e);
        {
                struct timespec t0, t1;
                clock_gettime(CLOCK_MONOTONIC, &t0);
                pthread_t threads[SUBMITTERS];
                size_t started = 0;
                for (size_t t = 0; t + 1 < SUBMITTERS && t + 1 < e.n_order; t++)
                        if (pthread_create(&threads[t], NULL, submitter, &e) == 0)
                                started++;
                submitter(&e);
                for (size_t t = 0; t < started; t++)
                        pthread_join(threads[t], NULL);
                clock_gettime(CLOCK_MONOTONIC, &t1);
                req->submit_seconds = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
                for (size_t i = 0; i < e.n; i++)
                        req->submitted += e.jobs[i].id != NULL;
        }
        if (e.error) {
                /* All or nothing: what was submitted is cancelled. */
                cancel_all(&e);
                diag_error(d, NULL, "%s", e.error);
                r = -EINVAL;
                goto fail;
        }

        if (req->submitted_fn)
                req->submitted_fn(req->submitted, req->submit_seconds, req->userdata);

        /* Watching, until every job has ended. */
        SlurmCounts last = { .total = SIZE_MAX };
        unsigned poll = (unsigned) (req->p->slurm.poll ? req->p->slurm.poll : 2);
        for (;;) {
                _cleanup_free_ char *error = NULL;
                r = look_at_queue(&e, state, &error);
                if (r == -ENOMEM)
                        goto fail;
                if (r < 0) {
                        /* The controller may be restarting: look again later. */
                        wait_a_while(poll);
                        continue;
                }
                _cleanup_free_ size_t *cancel = new0(size_t, e.n + 1);
                size_t n_cancel = 0;
                if (!cancel) {
                        r = -ENOMEM;
                        goto fail;
                }
                for (size_t i = 0; i < e.n; i++) {
                        if (e.ended[i] || !e.submit[i])
                                continue;
                        SlurmJob *j = &e.jobs[i];
                        switch (state[i]) {
                        case JOB_QUEUED:
                        case JOB_RUNNING:
                                continue;
                        case JOB_DEP_NEVER: {
                                /* Slurm keeps it (kill-on-invalid-dep is
                                 * off there): the failure that caused it
                                 * is reported by its dependency. */
                                j->status = BUILD_SKIPPED;
                                for (size_t k = 0; k < e.n_deps[i] && !j->reason; k++)
                                        if (e.jobs[e.deps[i][k]].status == BUILD_FAILED ||
                                            e.jobs[e.deps[i][k]].status == BUILD_SKIPPED)
                                                j->reason = strprintf("needs '%s', which %s",
                                                                      e.jobs[e.deps[i][k]].component->name,
                                                                      e.jobs[e.deps[i][k]].status == BUILD_FAILED
                                                                              ? "failed"
                                                                              : "was skipped");
                                if (!j->reason)
                                        j->reason = strprintf("Slurm will never start its job %s (a dependency failed)",
                                                              j->id);
                                cancel_jobs(&e, &i, 1);
                                break;
                        }
                        case JOB_DONE:
                                j->status = BUILD_BUILT;
                                read_report(&e, i);
                                break;
                        case JOB_FAILED:
                        case JOB_CANCELLED:
                                j->status = BUILD_FAILED;
                                read_report(&e, i);
                                if (j->status != BUILD_FAILED)
                                        j->status = BUILD_FAILED; /* Slurm's word: it did not end well */
                                if (!j->reason)
                                        j->reason = strprintf("its Slurm job %s %s (its output: %s/jobs/%s.out on the node)",
                                                              j->id, state[i] == JOB_CANCELLED ? "was cancelled" : "failed",
                                                              req->work_dir, j->component->name);
                                break;
                        }
                        e.ended[i] = true;
                        if (j->status != BUILD_BUILT)
                                skip_after(&e, i, cancel, &n_cancel);
                        if (req->progress) {
                                SlurmCounts c;
                                count(&e, state, &c);
                                req->progress(&c, j, req->userdata);
                        }
                }
                for (size_t k = 0; k < n_cancel && req->progress; k++) {
                        SlurmCounts c;
                        count(&e, state, &c);
                        req->progress(&c, &e.jobs[cancel[k]], req->userdata);
                }
                cancel_jobs(&e, cancel, n_cancel);

                SlurmCounts c;
                count(&e, state, &c);
                if (req->progress && memcmp(&c, &last, sizeof c) != 0)
                        req->progress(&c, NULL, req->userdata);
                last = c;
                if (c.queued + c.running == 0)
                        break;
                wait_a_while(poll);
        }
        run_on_signal(NULL, NULL);
        engine_release(&e);
        *ret = e.jobs;
        return 0;

fail:
        run_on_signal(NULL, NULL);
        slurm_jobs_free(e.jobs, e.n);
        engine_release(&e);
        return r;
}
