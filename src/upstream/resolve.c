/* SPDX-License-Identifier: MIT */

/* Settings into lock entries: a component's branch (or pinned commit) is
 * resolved in its dist-git repository to a commit, and the `sources` file
 * at that commit gives the source hashes. Builds read only the lock; this is
 * what moves it (docs/upstream.md, "The lock"). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "basic/parallel.h"
#include "upstream/upstream.h"

void lock_changes_free(LockChange *c, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(c[i].name);
                free(c[i].old_commit);
                free(c[i].new_commit);
                free(c[i].branch);
        }
        free(c);
}

/* Does e still say what c's settings ask for? (Not: is it the newest.) */
static bool entry_matches(const UpstreamSettings *s, const LockEntry *e) {
        if (strcmp(e->url, s->url) != 0)
                return false;
        if (s->commit)
                return !e->branch && strncmp(e->commit, s->commit, strlen(s->commit)) == 0;
        return e->branch && strcmp(e->branch, s->branch ? s->branch : LOCK_DEFAULT_BRANCH) == 0;
}

int upstream_resolve(const Project *p, const Component *c, const UpstreamCaches *caches, bool fetch, LockEntry *ret,
                     Diagnostics *d) {
        _cleanup_(upstream_settings_release) UpstreamSettings s = {};
        _cleanup_(distgit_freep) DistGit *g = NULL;
        _cleanup_free_ char *error = NULL, *data = NULL;
        char commit[41];
        size_t size = 0;
        int r;

        r = upstream_settings(p, c, &s);
        if (r < 0)
                return r;
        r = distgit_open(caches->git, s.url, fetch, &g, &error);
        if (r < 0) {
                if (r == -ENOMEM)
                        return r;
                diag_error(d, &s.url_pos, "component '%s': cannot fetch dist-git repository '%s': %s", c->name, s.url,
                           error ? error : strerror(-r));
                return -EINVAL;
        }
        if (s.commit) {
                r = distgit_resolve_commit(g, s.commit, commit, &error);
                if (r < 0 && r != -ENOMEM) {
                        SourcePos pos = cfg_pos(&c->obj, "commit");
                        diag_error(d, &pos, "component '%s': %s", c->name, error ? error : strerror(-r));
                        return -EINVAL;
                }
        } else {
                r = distgit_resolve_branch(g, s.branch, commit, &error);
                if (r < 0 && r != -ENOMEM) {
                        SourcePos pos = cfg_has(&c->obj, "branch")                         ? cfg_pos(&c->obj, "branch")
                                        : c->group && cfg_has(&c->group->obj, "branch")    ? cfg_pos(&c->group->obj, "branch")
                                        : cfg_has(&p->distro.obj, "branch")                ? cfg_pos(&p->distro.obj, "branch")
                                                                                           : s.url_pos;
                        diag_error(d, &pos, "component '%s': %s", c->name, error ? error : strerror(-r));
                        return -EINVAL;
                }
        }
        if (r < 0)
                return r;

        LockEntry e = {};
        r = distgit_read(g, commit, "sources", &data, &size, &error);
        if (r == -ENOENT)
                r = 0; /* a package without lookaside sources */
        else if (r >= 0) {
                free(error);
                error = NULL;
                r = sources_parse(data, size, &e.sources, &e.n_sources, &error);
                if (r == -EBADMSG) {
                        diag_error(d, &s.url_pos, "component '%s': the sources file of '%s' at commit %.12s: %s", c->name,
                                   s.url, commit, error);
                        return -EINVAL;
                }
        } else if (r != -ENOMEM) {
                diag_error(d, &s.url_pos, "component '%s': cannot read '%s' at commit %.12s: %s", c->name, s.url, commit,
                           error ? error : strerror(-r));
                return -EINVAL;
        }
        if (r < 0)
                return r;
        e.name = strdup(c->name);
        e.url = strdup(s.url);
        e.commit = strdup(commit);
        e.branch = s.commit ? NULL : strdup(s.branch ? s.branch : LOCK_DEFAULT_BRANCH);
        if (!e.name || !e.url || !e.commit || (!s.commit && !e.branch)) {
                lock_entry_release(&e);
                return -ENOMEM;
        }
        *ret = e;
        return 0;
}

typedef struct SyncCtx {
        const Project *p;
        const UpstreamCaches *caches;
        const Component **wanted;
        bool fetch;
        LockEntry *entries;
        Diagnostics *diags; /* one per item: parallel workers do not share one */
        int *rs;
} SyncCtx;

static void sync_one(void *userdata, size_t i) {
        SyncCtx *x = userdata;
        x->rs[i] = upstream_resolve(x->p, x->wanted[i], x->caches, x->fetch, &x->entries[i], &x->diags[i]);
}

static bool name_listed(const char *name, char *const *names, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(names[i], name) == 0)
                        return true;
        return false;
}

static bool sources_equal(const LockEntry *a, const LockEntry *b) {
        if (a->n_sources != b->n_sources)
                return false;
        for (size_t i = 0; i < a->n_sources; i++)
                if (strcmp(a->sources[i].file, b->sources[i].file) != 0 ||
                    strcmp(a->sources[i].hashtype, b->sources[i].hashtype) != 0 ||
                    strcmp(a->sources[i].hash, b->sources[i].hash) != 0)
                        return false;
        return true;
}

int upstream_lock_sync(const Project *p, Lock *l, const UpstreamCaches *caches, char *const *names, size_t n_names,
                       bool update, bool locked, unsigned jobs, LockChange **ret, size_t *ret_n, Diagnostics *d) {
        _cleanup_free_ const Component **wanted = new0(const Component *, p->components.n + 1);
        LockChange *changes = NULL;
        size_t n_wanted = 0, n_changes = 0, allocated = 0;
        int r = 0;

        if (!wanted)
                return -ENOMEM;
        for (size_t i = 0; i < n_names; i++) {
                const Component *c = project_find_component(p, names[i]);
                if (!c)
                        diag_error(d, NULL, "no component '%s' in the project", names[i]);
                else if (c->kind != COMPONENT_UPSTREAM) {
                        SourcePos pos = c->obj.pos;
                        diag_error(d, &pos, "component '%s' is not an upstream component: it has nothing to lock",
                                   names[i]);
                }
        }
        if (diagnostics_status(d) < 0)
                return -EINVAL;

        for (size_t i = 0; i < p->components.n; i++) {
                const Component *c = &p->components.items[i];
                if (c->kind != COMPONENT_UPSTREAM)
                        continue;
                const LockEntry *e = lock_find(l, c->name);
                bool want;
                if (update)
                        want = n_names == 0 || name_listed(c->name, names, n_names);
                else {
                        _cleanup_(upstream_settings_release) UpstreamSettings s = {};
                        r = upstream_settings(p, c, &s);
                        if (r < 0)
                                return r;
                        want = !e || !entry_matches(&s, e);
                }
                if (!want)
                        continue;
                if (locked && !update) {
                        diag_error(d, &c->obj.pos,
                                   "component '%s' %s slipway.lock, and --locked forbids changing it: run "
                                   "'slipway update %s'",
                                   c->name, e ? "no longer matches its settings in" : "is not in", c->name);
                        continue;
                }
                wanted[n_wanted++] = c;
        }
        if (diagnostics_status(d) < 0)
                return -EINVAL;

        /* Entries of components that are gone (or no longer upstream). */
        if (!locked && (update ? n_names == 0 : true))
                for (size_t i = 0; i < l->n;) {
                        const Component *c = project_find_component(p, l->items[i].name);
                        if (c && c->kind == COMPONENT_UPSTREAM) {
                                i++;
                                continue;
                        }
                        if (!GREEDY_REALLOC(changes, allocated, n_changes + 1))
                                return -ENOMEM;
                        changes[n_changes++] = (LockChange) { .name = strdup(l->items[i].name),
                                                              .old_commit = strdup(l->items[i].commit),
                                                              .removed = true };
                        lock_remove(l, l->items[i].name);
                }

        _cleanup_free_ LockEntry *entries = new0(LockEntry, n_wanted + 1);
        _cleanup_free_ Diagnostics *diags = new0(Diagnostics, n_wanted + 1);
        _cleanup_free_ int *rs = new0(int, n_wanted + 1);
        if (!entries || !diags || !rs) {
                lock_changes_free(changes, n_changes);
                return -ENOMEM;
        }
        SyncCtx x = { .p = p, .caches = caches, .wanted = wanted, .fetch = update, .entries = entries, .diags = diags, .rs = rs };
        parallel_for(n_wanted, jobs, sync_one, &x);

        for (size_t i = 0; i < n_wanted; i++) {
                for (size_t k = 0; k < diags[i].n; k++) {
                        const Diagnostic *g = &diags[i].items[k];
                        SourcePos pos = { .file = g->file, .line = g->line, .column = g->column };
                        diag_add(d, g->level, g->file ? &pos : NULL, "%s", g->message);
                }
                diagnostics_release(&diags[i]);
                if (rs[i] < 0) {
                        if (rs[i] != -EINVAL)
                                r = rs[i];
                        continue;
                }
                LockEntry *old = lock_find(l, wanted[i]->name);
                bool same = old && strcmp(old->url, entries[i].url) == 0 && strcmp(old->commit, entries[i].commit) == 0 &&
                            !!old->branch == !!entries[i].branch &&
                            (!old->branch || strcmp(old->branch, entries[i].branch) == 0) && sources_equal(old, &entries[i]);
                if (!same) {
                        if (!GREEDY_REALLOC(changes, allocated, n_changes + 1)) {
                                r = -ENOMEM;
                                lock_entry_release(&entries[i]);
                                continue;
                        }
                        LockChange ch = { .name = strdup(wanted[i]->name),
                                          .old_commit = old ? strdup(old->commit) : NULL,
                                          .new_commit = strdup(entries[i].commit),
                                          .branch = entries[i].branch ? strdup(entries[i].branch) : NULL,
                                          .sources_changed = !old || !sources_equal(old, &entries[i]) };
                        changes[n_changes++] = ch;
                        r = r < 0 ? r : lock_set(l, &entries[i]);
                }
                lock_entry_release(&entries[i]);
        }
        if (r < 0) {
                lock_changes_free(changes, n_changes);
                return r;
        }
        if (diagnostics_status(d) < 0) {
                lock_changes_free(changes, n_changes);
                return -EINVAL;
        }
        *ret = changes;
        *ret_n = n_changes;
        return 0;
}
