/* SPDX-License-Identifier: MIT */

/* Image dependency resolution: every decision is libsolv's. This file loads
 * the repositories into a pool, turns the image's `packages` into install
 * jobs, and translates libsolv's answer (a transaction, or problems) into
 * slipway's terms. The only analysis of its own is the "required by" chain in
 * a missing-dependency message, which libsolv does not provide in a form a
 * user can follow back to the image's list. */

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <solv/chksum.h>
#include <solv/pool.h>
#include <solv/poolarch.h>
#include <solv/problems.h>
#include <solv/repo.h>
#include <solv/repo_rpmmd.h>
#include <solv/rules.h>
#include <solv/selection.h>
#include <solv/solver.h>
#include <solv/transaction.h>

#include "basic/alloc.h"
#include "basic/strbuf.h"
#include "solve/solve.h"

/* libsolvext is opened on first use: in Debian it is linked with librpm (and
 * through it libgcrypt, lua, popt ...), whose loading every slipway command
 * would otherwise pay for at start. Only its primary.xml reader is used;
 * libsolv itself needs nothing but libc. */
static int (*solvext_add_rpmmd)(Repo *repo, FILE *fp, const char *language, int flags);
static pthread_once_t solvext_once = PTHREAD_ONCE_INIT;

static void solvext_open(void) {
        void *h = dlopen("libsolvext.so.1", RTLD_NOW | RTLD_LOCAL);
        if (h)
                *(void **) &solvext_add_rpmmd = dlsym(h, "repo_add_rpmmd");
}

static void pool_freep(Pool **p) {
        if (*p)
                pool_free(*p);
}

static void solver_freep(Solver **s) {
        if (*s)
                solver_free(*s);
}

static void transaction_freep(Transaction **t) {
        if (*t)
                transaction_free(*t);
}

/* The pool's state for one call, plus what maps libsolv's ids back to the
 * request: the selection of each spec and the spec of each job entry. */
typedef struct SolveContext {
        char subject[512];      /* the messages' prefix */
        Pool *pool;
        const SolveRequest *req;
        Queue *selections; /* req->n_specs selections (empty: nothing provides the spec) */
        size_t *job_spec;  /* spec index of each (how, what) pair of the job */
        size_t n_jobs;     /* pairs in the job */
} SolveContext;

static void solve_context_release(SolveContext *c) {
        if (c->selections)
                for (size_t i = 0; i < c->req->n_specs; i++)
                        queue_free(&c->selections[i]);
        free(c->selections);
        free(c->job_spec);
        c->selections = NULL;
        c->job_spec = NULL;
}

/* libsolv writes errors to stderr unless told otherwise; library code does
 * not print, and failures reach the caller through return values. */
static void debug_ignore(Pool *pool, void *data, int type, const char *str) {
}

static const char *solve_repo_name(const SolveRepo *repo) {
        return repo->name ? repo->name : "";
}

static int load_repos(Pool *pool, const SolveRepo *repos, size_t n_repos, Diagnostics *d) {
        for (size_t i = 0; i < n_repos; i++) {
                Repo *repo = repo_create(pool, solve_repo_name(&repos[i]));
                repo->appdata = (void *) (uintptr_t) i;
                repo->priority = repos[i].priority;

                /* fmemopen() of an empty buffer is not portable, and an empty
                 * repository needs no parsing. */
                if (repos[i].primary_len == 0)
                        continue;
                _cleanup_fclose_ FILE *f = fmemopen((void *) repos[i].primary, repos[i].primary_len, "r");
                if (!f)
                        return negative_errno();
                pthread_once(&solvext_once, solvext_open);
                if (!solvext_add_rpmmd) {
                        diag_error(d, NULL, "libsolvext.so.1 cannot be loaded (Debian package libsolvext1)");
                        return -ELIBACC;
                }
                if (solvext_add_rpmmd(repo, f, NULL, 0) != 0) {
                        diag_error(d, NULL, "repository '%s': cannot read primary.xml: %s",
                                   solve_repo_name(&repos[i]), pool_errstr(pool));
                        return -EBADMSG;
                }
        }
        return 0;
}

/* Turns each spec into libsolv selections and install jobs. A spec that
 * selects nothing is reported here, and gets no job: libsolv would only
 * report it again in less precise words. */
static int make_jobs(SolveContext *c, Diagnostics *d, Queue *job, bool *ret_missing) {
        const SolveRequest *req = c->req;
        bool missing = false;
        size_t allocated = 0;

        c->selections = new0(Queue, req->n_specs);
        if (!c->selections)
                return -ENOMEM;
        for (size_t i = 0; i < req->n_specs; i++)
                queue_init(&c->selections[i]);

        for (size_t i = 0; i < req->n_specs; i++) {
                Queue *sel = &c->selections[i];

                selection_make(c->pool, sel, req->specs[i],
                               SELECTION_NAME | SELECTION_PROVIDES | SELECTION_FILELIST | SELECTION_REL);
                if (sel->count == 0) {
                        diag_error(d, NULL, "%s: no package provides '%s'", c->subject, req->specs[i]);
                        missing = true;
                        continue;
                }
                for (int k = 0; k < sel->count; k += 2) {
                        if (!GREEDY_REALLOC(c->job_spec, allocated, c->n_jobs + 1))
                                return -ENOMEM;
                        c->job_spec[c->n_jobs++] = i;
                        queue_push2(job, SOLVER_INSTALL | sel->elements[k], sel->elements[k + 1]);
                }
        }
        /* Changes to what is installed: names that must be installed now. */
        if (req->installed && c->pool->installed) {
                for (size_t i = 0; i < req->n_erase + req->n_update; i++) {
                        bool erase = i < req->n_erase;
                        const char *name = erase ? req->erase[i] : req->update[i - req->n_erase];
                        _cleanup_(queue_free) Queue sel;
                        queue_init(&sel);
                        selection_make(c->pool, &sel, name, SELECTION_NAME | SELECTION_INSTALLED_ONLY);
                        if (sel.count == 0) {
                                diag_error(d, NULL, "%s: '%s' is not installed, so it cannot be %s", c->subject, name,
                                           erase ? "removed" : "updated");
                                missing = true;
                                continue;
                        }
                        for (int k = 0; k < sel.count; k += 2) {
                                if (!GREEDY_REALLOC(c->job_spec, allocated, c->n_jobs + 1))
                                        return -ENOMEM;
                                c->job_spec[c->n_jobs++] = SIZE_MAX;
                                queue_push2(job, (erase ? SOLVER_ERASE : SOLVER_UPDATE) | sel.elements[k],
                                            sel.elements[k + 1]);
                        }
                }
                if (req->update_all) {
                        if (!GREEDY_REALLOC(c->job_spec, allocated, c->n_jobs + 1))
                                return -ENOMEM;
                        c->job_spec[c->n_jobs++] = SIZE_MAX;
                        queue_push2(job, SOLVER_UPDATE | SOLVER_SOLVABLE_ALL, 0);
                }
        }
        *ret_missing = missing;
        return 0;
}

/* The suffix of a missing-dependency message: how target is reached from the
 * image's list. A breadth-first walk over the requires of every candidate
 * provider, starting from what the problem's specs select, so the chain
 * shown is a shortest one, and the same one on every run. in_problem marks
 * the specs whose jobs take part in the problem. */
static int chain_suffix(SolveContext *c, const bool *in_problem, Id target, StrBuf *sb) {
        Pool *pool = c->pool;
        const SolveRequest *req = c->req;
        _cleanup_free_ Id *parent = NULL; /* 0: not reached; < 0: -1 - spec index; else the requirer */
        _cleanup_(queue_free) Queue frontier, pkgs, reqs;
        Id p, pp;

        queue_init(&frontier);
        queue_init(&pkgs);
        queue_init(&reqs);
        if (req->n_specs >= INT_MAX)
                return -E2BIG;
        parent = new0(Id, pool->nsolvables);
        if (!parent)
                return -ENOMEM;

        for (size_t i = 0; i < req->n_specs; i++) {
                if (!in_problem[i])
                        continue;
                selection_solvables(pool, &c->selections[i], &pkgs);
                for (int k = 0; k < pkgs.count; k++) {
                        p = pkgs.elements[k];
                        if (parent[p] != 0)
                                continue;
                        parent[p] = -1 - (Id) i;
                        queue_push(&frontier, p);
                }
        }
        for (int head = 0; head < frontier.count && parent[target] == 0; head++) {
                Solvable *s = pool_id2solvable(pool, frontier.elements[head]);

                solvable_lookup_idarray(s, SOLVABLE_REQUIRES, &reqs);
                for (int k = 0; k < reqs.count; k++) {
                        Id dep = reqs.elements[k];
                        if (dep == SOLVABLE_PREREQMARKER)
                                continue;
                        FOR_PROVIDES(p, pp, dep) {
                                if (p <= SYSTEMSOLVABLE || parent[p] != 0)
                                        continue;
                                parent[p] = frontier.elements[head];
                                queue_push(&frontier, p);
                        }
                }
        }

        p = parent[target];
        if (p == 0)
                return 0; /* not reached: say nothing rather than something wrong */
        if (p < 0)
                return strbuf_printf(sb, " (which '%s' in packages asks for)", req->specs[-1 - p]);
        strbuf_puts(sb, " (required by ");
        for (;;) {
                strbuf_puts(sb, pool_solvid2str(pool, p));
                if (parent[p] < 0)
                        break;
                strbuf_puts(sb, ", required by ");
                p = parent[p];
        }
        return strbuf_printf(sb, ", which '%s' in packages brings in)", req->specs[-1 - parent[p]]);
}

/* How well a rule of a problem explains it to a user: lower is better; -1
 * for rules that explain nothing on their own (a job, a requires whose
 * providers all fail for other reasons). */
static int rule_rank(SolverRuleinfo type) {
        switch (type) {
        case SOLVER_RULE_PKG_NOTHING_PROVIDES_DEP:
                return 0;
        case SOLVER_RULE_PKG_CONFLICTS:
                return 1;
        case SOLVER_RULE_PKG_SELF_CONFLICT:
        case SOLVER_RULE_PKG_SAME_NAME:
        case SOLVER_RULE_PKG_OBSOLETES:
        case SOLVER_RULE_PKG_IMPLICIT_OBSOLETES:
        case SOLVER_RULE_PKG_INSTALLED_OBSOLETES:
        case SOLVER_RULE_PKG_CONSTRAINS:
        case SOLVER_RULE_PKG_NOT_INSTALLABLE:
                return 2;
        default:
                return -1;
        }
}

/* One message for one problem, without the "image" prefix; *ret_spec is the
 * first spec of the image's list the problem is about. */
static int describe_problem(SolveContext *c, Solver *solv, Id problem, StrBuf *sb, size_t *ret_spec) {
        Pool *pool = c->pool;
        const SolveRequest *req = c->req;
        _cleanup_(queue_free) Queue rules;
        _cleanup_free_ bool *in_problem = NULL;
        Id best = 0, source, target, dep;
        int best_rank = INT_MAX;
        bool any_spec = false;

        queue_init(&rules);
        in_problem = new0(bool, req->n_specs);
        if (!in_problem)
                return -ENOMEM;

        /* The rule libsolv itself would pick goes first, so that among rules of
         * equal rank its choice wins. */
        Id chosen = solver_findproblemrule(solv, problem);
        solver_findallproblemrules(solv, problem, &rules);
        queue_unshift(&rules, chosen);
        for (int k = 0; k < rules.count; k++) {
                SolverRuleinfo type = solver_ruleinfo(solv, rules.elements[k], &source, &target, &dep);
                int rank = rule_rank(type);

                if ((type & SOLVER_RULE_TYPEMASK) == SOLVER_RULE_JOB && source >= 0 &&
                    (size_t) source / 2 < c->n_jobs && c->job_spec[source / 2] != SIZE_MAX) {
                        in_problem[c->job_spec[source / 2]] = true;
                        any_spec = true;
                }
                if (rank >= 0 && rank < best_rank) {
                        best = rules.elements[k];
                        best_rank = rank;
                }
        }
        if (!any_spec)
                for (size_t i = 0; i < req->n_specs; i++)
                        in_problem[i] = true;
        *ret_spec = 0;
        while (*ret_spec < req->n_specs && !in_problem[*ret_spec])
                (*ret_spec)++;
        if (best == 0)
                best = chosen;

        SolverRuleinfo type = solver_ruleinfo(solv, best, &source, &target, &dep);
        switch (type) {
        case SOLVER_RULE_PKG_NOTHING_PROVIDES_DEP:
                strbuf_printf(sb, "nothing provides '%s' needed by %s", pool_dep2str(pool, dep),
                              pool_solvid2str(pool, source));
                return chain_suffix(c, in_problem, source, sb);
        case SOLVER_RULE_PKG_CONFLICTS:
                strbuf_printf(sb, "%s conflicts with '%s' provided by %s", pool_solvid2str(pool, source),
                              pool_dep2str(pool, dep), pool_solvid2str(pool, target));
                return 0;
        case SOLVER_RULE_JOB_NOTHING_PROVIDES_DEP:
        case SOLVER_RULE_JOB_UNKNOWN_PACKAGE:
                /* Not expected (make_jobs drops such specs), but worded alike. */
                if (source >= 0 && (size_t) source / 2 < c->n_jobs && c->job_spec[source / 2] != SIZE_MAX)
                        return strbuf_printf(sb, "no package provides '%s'", req->specs[c->job_spec[source / 2]]);
                return strbuf_printf(sb, "no package provides '%s'", pool_dep2str(pool, dep));
        default:
                return strbuf_puts(sb, solver_problemruleinfo2str(solv, type, source, target, dep));
        }
}

typedef struct ProblemMessage {
        size_t spec;
        unsigned problem;
        char *text;
} ProblemMessage;

static int problem_message_cmp(const void *a, const void *b) {
        const ProblemMessage *x = a, *y = b;
        if (x->spec != y->spec)
                return x->spec < y->spec ? -1 : 1;
        return x->problem < y->problem ? -1 : x->problem > y->problem;
}

/* Reports every problem once, in the order of the image's list (libsolv's
 * own order follows its rule numbering, which means nothing to a user). */
static int report_problems(SolveContext *c, Solver *solv, Diagnostics *d) {
        unsigned n = solver_problem_count(solv);
        _cleanup_free_ ProblemMessage *msgs = NULL;
        size_t n_msgs = 0;
        int r = 0;

        msgs = new0(ProblemMessage, n);
        if (!msgs)
                return -ENOMEM;
        for (unsigned problem = 1; problem <= n; problem++) {
                _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
                size_t spec;

                r = describe_problem(c, solv, (Id) problem, &sb, &spec);
                if (r < 0)
                        break;
                char *text = strbuf_detach(&sb, NULL);
                if (!text) {
                        r = -ENOMEM;
                        break;
                }
                msgs[n_msgs++] = (ProblemMessage) { .spec = spec, .problem = problem, .text = text };
        }
        if (r >= 0 && n_msgs > 0) {
                qsort(msgs, n_msgs, sizeof(msgs[0]), problem_message_cmp);
                for (size_t i = 0; i < n_msgs; i++) {
                        bool dup = false;
                        for (size_t j = 0; j < i && !dup; j++)
                                dup = strcmp(msgs[j].text, msgs[i].text) == 0;
                        if (!dup)
                                diag_error(d, NULL, "%s: %s", c->subject, msgs[i].text);
                }
        }
        for (size_t i = 0; i < n_msgs; i++)
                free(msgs[i].text);
        return r;
}

static char *strdup_or_null(const char *s) {
        return s ? strdup(s) : NULL;
}

static int collect_transaction(SolveContext *c, Solver *solv, const SolveRepo *repos, Diagnostics *d,
                               SolvedPackage **ret, size_t *ret_n) {
        Pool *pool = c->pool;
        _cleanup_(transaction_freep) Transaction *trans = NULL;
        SolvedPackage *a = NULL;
        size_t n = 0;
        int r = 0;

        trans = solver_create_transaction(solv);
        transaction_order(trans, 0);

        a = new0(SolvedPackage, (size_t) trans->steps.count);
        if (!a)
                return -ENOMEM;
        for (int k = 0; k < trans->steps.count; k++) {
                Id p = trans->steps.elements[k];
                Solvable *s = pool_id2solvable(pool, p);
                SolvedPackage *out = &a[n];
                Id chktype = 0;

                if (s->repo == pool->installed) {
                        /* Leaving: erased, or replaced by what the transaction installs. */
                        out->erase = true;
                        out->installed = (size_t) (p - s->repo->start);
                        out->name = strdup(pool_id2str(pool, s->name));
                        out->evr = strdup(pool_id2str(pool, s->evr));
                        out->arch = strdup(pool_id2str(pool, s->arch));
                        n++;
                        if (!out->name || !out->evr || !out->arch) {
                                r = -ENOMEM;
                                break;
                        }
                        continue;
                }
                n++;
                out->name = strdup(pool_id2str(pool, s->name));
                out->evr = strdup(pool_id2str(pool, s->evr));
                out->arch = strdup(pool_id2str(pool, s->arch));
                out->repo = (size_t) (uintptr_t) s->repo->appdata;
                out->location = strdup_or_null(solvable_lookup_location(s, NULL));
                out->checksum = strdup_or_null(solvable_lookup_checksum(s, SOLVABLE_CHECKSUM, &chktype));
                out->checksum_type = strdup_or_null(chktype ? solv_chksum_type2str(chktype) : NULL);
                out->size = solvable_lookup_num(s, SOLVABLE_DOWNLOADSIZE, 0);
                if (!out->name || !out->evr || !out->arch) {
                        r = -ENOMEM;
                        break;
                }
                /* The caller downloads and verifies each package, so a
                 * location and a checksum are required (createrepo always
                 * writes both). */
                if (!out->location || !out->checksum || !out->checksum_type) {
                        diag_error(d, NULL, "repository '%s': package %s has no %s",
                                   solve_repo_name(&repos[out->repo]), pool_solvid2str(pool, p),
                                   out->location ? "checksum" : "location");
                        r = -EBADMSG;
                }
        }
        if (r < 0) {
                solved_packages_free(a, n);
                return r;
        }
        *ret = a;
        *ret_n = n;
        return 0;
}

int solve_image(const SolveRepo *repos, size_t n_repos, const SolveRequest *req, Diagnostics *d,
                SolvedPackage **ret, size_t *ret_n) {
        _cleanup_(pool_freep) Pool *pool = NULL;
        _cleanup_(solver_freep) Solver *solv = NULL;
        _cleanup_(queue_free) Queue job;
        _cleanup_(solve_context_release) SolveContext c = { .req = req };
        bool missing = false;
        int r;

        queue_init(&job);
        if (!req || !req->arch || !*req->arch || !req->image || (req->n_specs > 0 && !req->specs) ||
            (n_repos > 0 && !repos) || !d || !ret || !ret_n)
                return -EINVAL;

        if (req->subject)
                snprintf(c.subject, sizeof c.subject, "%s", req->subject);
        else
                snprintf(c.subject, sizeof c.subject, "image '%s'", req->image);
        pool = pool_create();
        c.pool = pool;
        pool_setdebugmask(pool, 0);
        pool_setdebugcallback(pool, debug_ignore, NULL);
        /* Debian builds libsolv with Debian semantics by default (noarch is
         * "all", versions compare as dpkg does); rpm's must be asked for. */
        if (pool_setdisttype(pool, DISTTYPE_RPM) < 0)
                return -EOPNOTSUPP;
        /* Exactly the project's architecture and noarch: pool_setarch() would
         * also admit the compatible ones (i686 on x86_64), and an image is
         * built for one architecture. */
        pool_setarchpolicy(pool, req->arch);

        r = load_repos(pool, repos, n_repos, d);
        if (r < 0)
                return r;
        if (req->installed) {
                /* After the others: its appdata is n_repos. */
                Repo *inst = repo_create(pool, "@System");
                inst->appdata = (void *) (uintptr_t) n_repos;
                pthread_once(&solvext_once, solvext_open);
                if (req->installed->primary_len > 0 && !solvext_add_rpmmd) {
                        diag_error(d, NULL, "libsolvext.so.1 cannot be loaded (Debian package libsolvext1)");
                        return -ELIBACC;
                }
                if (req->installed->primary_len > 0) {
                        _cleanup_fclose_ FILE *f = fmemopen((void *) req->installed->primary,
                                                            req->installed->primary_len, "r");
                        if (!f)
                                return negative_errno();
                        if (solvext_add_rpmmd(inst, f, NULL, 0) != 0) {
                                diag_error(d, NULL, "%s: cannot read its installed packages: %s", c.subject,
                                           pool_errstr(pool));
                                return -EBADMSG;
                        }
                }
                pool_set_installed(pool, inst);
        }
        pool_addfileprovides(pool);
        pool_createwhatprovides(pool);

        r = make_jobs(&c, d, &job, &missing);
        if (r < 0)
                return r;

        solv = solver_create(pool);
        solver_set_flag(solv, SOLVER_FLAG_IGNORE_RECOMMENDED, 1);
        if (solver_solve(solv, &job) != 0) {
                r = report_problems(&c, solv, d);
                return r < 0 ? r : -EINVAL;
        }
        if (missing)
                return -EINVAL;

        return collect_transaction(&c, solv, repos, d, ret, ret_n);
}

int solve_provided(const SolveRepo *repos, size_t n_repos, const char *arch, const char *const *specs, size_t n_specs,
                   Diagnostics *d, bool *ret_provided) {
        _cleanup_(pool_freep) Pool *pool = NULL;
        int r;

        if (!arch || (n_repos > 0 && !repos) || (n_specs > 0 && (!specs || !ret_provided)))
                return -EINVAL;
        pool = pool_create();
        pool_setdebugmask(pool, 0);
        pool_setdebugcallback(pool, debug_ignore, NULL);
        if (pool_setdisttype(pool, DISTTYPE_RPM) < 0)
                return -EOPNOTSUPP;
        pool_setarchpolicy(pool, arch);
        r = load_repos(pool, repos, n_repos, d);
        if (r < 0)
                return r;
        pool_addfileprovides(pool);
        pool_createwhatprovides(pool);
        for (size_t i = 0; i < n_specs; i++) {
                _cleanup_(queue_free) Queue sel;
                queue_init(&sel);
                selection_make(pool, &sel, specs[i], SELECTION_NAME | SELECTION_PROVIDES | SELECTION_FILELIST | SELECTION_REL);
                ret_provided[i] = sel.count > 0;
        }
        return 0;
}

void solved_packages_free(SolvedPackage *p, size_t n) {
        if (!p)
                return;
        for (size_t i = 0; i < n; i++) {
                free(p[i].name);
                free(p[i].evr);
                free(p[i].arch);
                free(p[i].location);
                free(p[i].checksum_type);
                free(p[i].checksum);
        }
        free(p);
}
