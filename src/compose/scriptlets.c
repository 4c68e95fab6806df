/* SPDX-License-Identifier: MIT */

/* An image's scriptlets, run as rpm runs them in a transaction that
 * installs the image's packages into an empty root (docs/images.md,
 * "Scriptlets").
 *
 * The packages are already installed into the tree (install.c checked
 * every conflict). Here the transaction is played again on a staging
 * directory (tree/stage.h) that the sandbox (sandbox/sandbox.h) sees as its
 * root: the plan (script/plan.h) says when each package's files appear and
 * which scriptlet runs when, with which arguments. Afterwards the directory,
 * with what the sandbox's recorder saw (owners, devices, security.*
 * xattrs), is folded back into a new tree, which replaces the old one.
 *
 * Images whose packages carry no scriptlet never get here: no staging, no
 * sandbox, no cost. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/run.h"
#include "basic/strbuf.h"
#include "compose/scriptlets.h"
#include "rpm/files.h"
#include "sandbox/sandbox.h"
#include "script/lua.h"
#include "script/plan.h"
#include "tree/stage.h"

/* What a failure message quotes of a scriptlet's output. */
#define OUTPUT_QUOTED 4096

typedef struct PkgIndex {
        const char *nevra;
        size_t element;
} PkgIndex;

static int pkg_index_cmp(const void *a, const void *b) {
        return strcmp(((const PkgIndex *) a)->nevra, ((const PkgIndex *) b)->nevra);
}

/* rpm stops a package's install when a critical scriptlet fails: the plan
 * marks %prein, %preun and %pretrans so, as rpm does by default
 * (RPMSCRIPT_FLAG_CRITICAL); the others are "warn only" (lib/psm.c). */
static bool critical(const PlanScript *sc) {
        return (sc->flags & RPMSCRIPT_FLAG_CRITICAL) != 0;
}

static const char *pkg_nevra(const InstallResult *inst, const ScriptletInstalled *installed, const PlanScript *sc) {
        if (sc->owner_installed)
                return installed ? installed[sc->owner].nevra : "(installed)";
        return inst[sc->owner].nevra;
}

/* "%post", "%triggerin (set off by bar-1-1.noarch)", ... */
static void describe(StrBuf *b, const InstallResult *inst, size_t n_inst, const PlanScript *sc) {
        strbuf_printf(b, "%s", script_kind_to_string(sc->kind));
        if (sc->cause != SIZE_MAX && sc->cause < n_inst &&
            (sc->kind == SCRIPT_TRIGGERPREIN || sc->kind == SCRIPT_TRIGGERIN || sc->kind == SCRIPT_TRIGGERUN ||
             sc->kind == SCRIPT_TRIGGERPOSTUN))
                strbuf_printf(b, " (set off by %s)", inst[sc->cause].nevra);
}

/* The end of the output, indented, one line a line, without a last empty one. */
static void quote_lines(StrBuf *b, const SandboxResult *res) {
        size_t n = res->output_size, start = n > OUTPUT_QUOTED ? n - OUTPUT_QUOTED : 0;
        const char *p = res->output + start, *end = res->output + n;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t len = nl ? (size_t) (nl - p) : (size_t) (end - p);
                strbuf_printf(b, "    %.*s%s", (int) len, p, nl && nl + 1 < end ? "\n" : "");
                p += len + (nl ? 1 : 0);
        }
}

static void quote_output(StrBuf *b, const SandboxResult *res) {
        if (res->output_size == 0) {
                strbuf_printf(b, "; it printed nothing");
                return;
        }
        strbuf_printf(b, "; its output%s:\n", res->output_size > OUTPUT_QUOTED ? " ended" : "");
        quote_lines(b, res);
}

typedef struct Runner {
        const Image *im;
        const InstallResult *inst;
        size_t n_inst;
        const ScriptletInstalled *installed;
        Sandbox *sb;
        char *const *envp;
        unsigned timeout;
        Diagnostics *d;
        size_t n_run;
} Runner;

static int run_script(Runner *x, const PlanScript *sc) {
        char a1[16], a2[16];
        _cleanup_free_ char **argv = NULL;
        size_t n_argv = 0;
        const char *nevra = pkg_nevra(x->inst, x->installed, sc);
        int r;

        snprintf(a1, sizeof a1, "%d", sc->arg1);
        snprintf(a2, sizeof a2, "%d", sc->arg2);
        for (char *const *a = sc->argv; a && *a; a++)
                n_argv++;
        argv = new0(char *, n_argv + 6);
        if (!argv)
                return -ENOMEM;

        SandboxCommand cmd = {
                .argv = argv,
                .envp = x->envp,
                .input = sc->input,
                .input_size = sc->input_size,
                .timeout_sec = x->timeout,
        };
        _cleanup_(strbuf_releasep) StrBuf kind = STRBUF_INIT;
        describe(&kind, x->inst, x->n_inst, sc);
        if (kind.oom)
                return -ENOMEM;
        size_t k = 0;
        if (sc->lua) {
                /* lua.h: NEVRA, scriptlet, body, $1, [$2] */
                cmd.function = lua_scriptlet_function.name;
                argv[k++] = (char *) nevra;
                argv[k++] = kind.buf;
                argv[k++] = (char *) (sc->body ? sc->body : "");
        } else {
                /* rpm (lib/rpmscript.c, runExtScript): the interpreter and
                 * its arguments, then the body as a file and $1 and $2
                 * where the plan gives them, when there is a body. A
                 * program alone gets none: "%post -p /sbin/ldconfig" and
                 * glibc's "%transfiletriggerin -p /sbin/ldconfig" (an
                 * empty body in the header) run ldconfig bare. */
                for (size_t i = 0; i < n_argv; i++)
                        argv[k++] = sc->argv[i];
                if (sc->body && sc->body[0]) {
                        argv[k++] = (char *) "/dev/fd/3";
                        cmd.script = sc->body;
                        cmd.script_size = strlen(sc->body);
                }
        }
        if (sc->lua || (sc->body && sc->body[0])) {
                if (sc->arg1 >= 0)
                        argv[k++] = a1;
                if (sc->arg2 >= 0)
                        argv[k++] = a2;
        }

        _cleanup_(sandbox_result_release) SandboxResult res = {};
        _cleanup_free_ char *err = NULL;
        r = sandbox_run(x->sb, &cmd, &res, &err);
        if (r == -ENOMEM)
                return r;
        x->n_run++;
        if (r < 0 && r != -ENOENT && r != -EACCES && r != -ENOEXEC) {
                diag_error(x->d, NULL, "%s: package %s: %s: the sandbox failed: %s", IMAGE_WHAT(x->im), nevra,
                           kind.buf, err ? err : strerror(-r));
                return -EINVAL;
        }
        if (r >= 0 && res.status == 0) {
                /* rpm shows what a scriptlet prints; so does slipway, as a note. */
                if (res.output_size > 0) {
                        _cleanup_(strbuf_releasep) StrBuf out = STRBUF_INIT;
                        strbuf_printf(&out, "%s: package %s: %s printed%s:\n", IMAGE_WHAT(x->im), nevra, kind.buf,
                                      res.output_size > OUTPUT_QUOTED ? ", at its end" : "");
                        quote_lines(&out, &res);
                        if (out.oom)
                                return -ENOMEM;
                        diag_note(x->d, NULL, "%s", out.buf);
                }
                return 0;
        }

        bool fatal = critical(sc) || x->im->scriptlets == SCRIPTLETS_STRICT;
        _cleanup_(strbuf_releasep) StrBuf msg = STRBUF_INIT;
        strbuf_printf(&msg, "%s: package %s: %s scriptlet failed", IMAGE_WHAT(x->im), nevra, kind.buf);
        if (r < 0)
                strbuf_printf(&msg, ": %s", err ? err : strerror(-r));
        else if (res.timed_out)
                strbuf_printf(&msg, ": killed after %u s (scriptlet-timeout)", x->timeout);
        else if (res.status > 128)
                strbuf_printf(&msg, ", killed by signal %d", res.status - 128);
        else
                strbuf_printf(&msg, ", exit status %d", res.status);
        if (r >= 0)
                quote_output(&msg, &res);
        if (!fatal)
                strbuf_printf(&msg, "%s", "\n(rpm goes on after this failure; scriptlets = \"strict\" makes it an error)");
        else if (!critical(sc))
                strbuf_printf(&msg, "%s", " (scriptlets = \"strict\")");
        if (msg.oom)
                return -ENOMEM;
        SourcePos pos = cfg_pos(&x->im->obj, cfg_has(&x->im->obj, "scriptlets") ? "scriptlets" : "packages");
        diag_add(x->d, fatal ? DIAG_ERROR : DIAG_WARNING, &pos, "%s", msg.buf);
        return fatal ? -EINVAL : 0;
}

static bool is_root_name(const char *name) {
        return !name || strcmp(name, "root") == 0;
}

/* rpm maps a file's owner and group names to ids when it unpacks the file
 * (lib/fsm.c), through the /etc/passwd and /etc/group of the root as they
 * are then: a user a %pre just made owns its package's files. The tree was
 * filled before any scriptlet ran; its nodes of this package are set again
 * from the staged account files. */
static int map_owners(Stage *st, Tree *t, const InstallResult *ir) {
        _cleanup_(rpm_file_list_releasep) RpmFileList fl = {};
        _cleanup_(tree_freep) Tree *ids = NULL;
        bool any = false;
        int r;

        r = rpm_header_files(ir->pkg->header, &fl, NULL);
        if (r < 0)
                return r == -ENOMEM ? r : 0; /* install.c read the same list */
        for (size_t i = 0; i < fl.n && !any; i++)
                any = !is_root_name(fl.files[i].user) || !is_root_name(fl.files[i].group);
        if (!any)
                return 0;
        ids = tree_new(0);
        if (!ids)
                return -ENOMEM;
        static const char *const account_files[] = { "/etc/passwd", "/etc/group" };
        for (size_t k = 0; k < ELEMENTSOF(account_files); k++) {
                _cleanup_free_ char *data = NULL;
                size_t len;
                r = stage_read_file(st, account_files[k], (size_t) 64 << 20, &data, &len);
                if (r == -ENOMEM)
                        return r;
                if (r >= 0 && (r = tree_add_file(ids, account_files[k], data, len, 0644, 0, 0, NULL)) < 0)
                        return r;
        }
        for (size_t i = 0; i < fl.n; i++) {
                const RpmHeaderFile *f = &fl.files[i];
                _cleanup_free_ char *norm = NULL, *where = NULL;
                if (is_root_name(f->user) && is_root_name(f->group))
                        continue;
                if (tree_path_normalize(f->path, &norm) < 0 || tree_resolve(t, norm, &where) < 0)
                        continue;
                TreeNode *n = tree_get(t, where);
                if (!n || !n->owner || strcmp(n->owner, ir->nevra) != 0)
                        continue; /* a %ghost, or a directory another package made first */
                /* rpm: "user X does not exist - using root" */
                if (f->user && tree_lookup_user(ids, f->user, &n->uid) < 0)
                        n->uid = 0;
                if (f->group && tree_lookup_group(ids, f->group, &n->gid) < 0)
                        n->gid = 0;
        }
        return 0;
}

int scriptlets_run_transaction(const Project *p, const Image *im, Tree **t, const Tree *before,
                               const InstallResult *inst, size_t n, const ScriptletInstalled *installed,
                               size_t n_installed, Diagnostics *d, size_t *ret_n_run) {
        _cleanup_free_ PlanPackage *pkgs = new0(PlanPackage, n ? n : 1);
        _cleanup_free_ PlanPackage *ipkgs = new0(PlanPackage, n_installed ? n_installed : 1);
        _cleanup_free_ PlanElement *els = new0(PlanElement, n + n_installed + 1);
        _cleanup_free_ PkgIndex *index = new0(PkgIndex, n ? n : 1);
        _cleanup_free_ char *plan_err = NULL, *sb_err = NULL;
        _cleanup_free_ TreeNode **nodes = NULL, **by_pkg = NULL;
        _cleanup_free_ size_t *first = NULL, *owner_of = NULL, *fill = NULL;
        StageRoot root = {};
        _cleanup_(sandbox_stopp) Sandbox *sb = NULL;
        Plan plan = {};
        size_t n_nodes = 0;
        int64_t sde = (int64_t) p->source_date_epoch;
        int r;

        *ret_n_run = 0;
        if (!pkgs || !ipkgs || !els || !index)
                return -ENOMEM;
        size_t n_els = 0;
        for (size_t i = 0; i < n; i++) {
                pkgs[i] = (PlanPackage) { .header = inst[i].pkg->header };
                els[n_els++] = (PlanElement) { .op = PLAN_INSTALL, .package = i };
                index[i] = (PkgIndex) { .nevra = inst[i].nevra, .element = i };
        }
        qsort(index, n, sizeof *index, pkg_index_cmp);
        /* Installed packages that leave: erased explicitly, unless a package
         * of the same name replaces them (the plan erases those as part of
         * the upgrade, as rpm does). */
        for (size_t j = 0; j < n_installed; j++) {
                ipkgs[j] = (PlanPackage) { .header = installed[j].header };
                if (!installed[j].erase)
                        continue;
                const char *name = rpm_header_get_string(installed[j].header, RPMTAG_NAME);
                bool replaced = false;
                for (size_t i = 0; i < n && !replaced && name; i++) {
                        const char *nn = rpm_header_get_string(inst[i].pkg->header, RPMTAG_NAME);
                        replaced = nn && strcmp(nn, name) == 0;
                }
                if (!replaced)
                        els[n_els++] = (PlanElement) { .op = PLAN_ERASE, .package = j };
        }

        PlanInput in = { .installed = ipkgs, .n_installed = n_installed, .packages = pkgs, .n_packages = n,
                         .elements = els, .n_elements = n_els };
        r = plan_build(&in, &plan, &plan_err);
        if (r < 0) {
                if (r == -ENOMEM)
                        return r;
                diag_error(d, NULL, "%s: %s", IMAGE_WHAT(im), plan_err ? plan_err : strerror(-r));
                return -EINVAL;
        }
        for (size_t i = 0; i < plan.n_warnings; i++)
                diag_warning(d, NULL, "%s: %s", IMAGE_WHAT(im), plan.warnings[i]);

        r = tree_list(*t, &nodes, &n_nodes);
        if (r >= 0)
                r = stage_for_sandbox(*t, "stage", sde, &root);
        if (r < 0)
                goto finish;
        Stage *st = root.stage;
        if (r >= 0 && !before)
                r = stage_put(st, *t, tree_get(*t, "/"));
        if (r < 0)
                goto finish;
        /* Changing an installed root: all of it as it was, then the plan. */
        if (before) {
                _cleanup_free_ TreeNode **old = NULL;
                size_t n_old = 0;
                r = tree_list(before, &old, &n_old);
                for (size_t i = 0; r >= 0 && i < n_old; i++)
                        r = stage_put(st, before, old[i]);
                if (r < 0)
                        goto finish;
        }

        SandboxOptions so = {
                .root = root.dir,
                .arch = p->arch,
                .functions = &lua_scriptlet_function,
                .n_functions = 1,
                .record = true,
        };
        r = sandbox_start(&so, &sb, &sb_err);
        if (r < 0) {
                if (r != -ENOMEM) {
                        diag_error(d, NULL, "%s: its packages have scriptlets, which cannot run: %s", IMAGE_WHAT(im),
                                   sb_err ? sb_err : strerror(-r));
                        r = -EINVAL;
                }
                goto finish;
        }

        /* Each package's files, by the package that put them in the tree. */
        first = new0(size_t, n + 1); /* per element: where its nodes start in by_pkg */
        by_pkg = new0(TreeNode *, n_nodes ? n_nodes : 1);
        owner_of = new0(size_t, n_nodes ? n_nodes : 1);
        fill = new0(size_t, n ? n : 1);
        if (!first || !by_pkg || !owner_of || !fill) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < n_nodes; i++) {
                owner_of[i] = SIZE_MAX;
                if (!nodes[i]->owner)
                        continue;
                PkgIndex key = { .nevra = nodes[i]->owner };
                PkgIndex *hit = bsearch(&key, index, n, sizeof *index, pkg_index_cmp);
                if (hit) {
                        owner_of[i] = hit->element;
                        first[hit->element + 1]++;
                }
        }
        for (size_t e = 0; e < n; e++)
                first[e + 1] += first[e];
        for (size_t i = 0; i < n_nodes; i++)
                if (owner_of[i] != SIZE_MAX)
                        by_pkg[first[owner_of[i]] + fill[owner_of[i]]++] = nodes[i];

        /* rpm's scriptlet PATH (lib/rpmscript.c) with /usr first, as on a
         * merged-/usr system; SOURCE_DATE_EPOCH for tools that honour it. */
        char sde_env[64];
        snprintf(sde_env, sizeof sde_env, "SOURCE_DATE_EPOCH=%lld", (long long) sde);
        char *const env[] = { (char *) "PATH=/usr/sbin:/usr/bin:/sbin:/bin", (char *) "HOME=/root",
                              (char *) "LANG=C.UTF-8", sde_env, NULL };
        Runner x = {
                .im = im,
                .inst = inst,
                .n_inst = n,
                .installed = installed,
                .sb = sb,
                .envp = env,
                .timeout = (unsigned) (im->scriptlet_timeout > 0 ? im->scriptlet_timeout
                                                                  : IMAGE_DEFAULT_SCRIPTLET_TIMEOUT),
                .d = d,
        };
        for (size_t s = 0; s < plan.n_steps; s++) {
                const PlanStep *step = &plan.steps[s];
                switch (step->type) {
                case PLAN_STEP_UNPACK:
                        r = map_owners(st, *t, &inst[step->package]);
                        for (size_t i = first[step->package]; r >= 0 && i < first[step->package + 1]; i++) {
                                r = stage_put(st, *t, by_pkg[i]);
                                if (r < 0 && r != -ENOMEM) {
                                        /* A scriptlet made something that the
                                         * package's file cannot replace. */
                                        diag_error(d, NULL, "%s: package %s: cannot unpack '%s' after the "
                                                   "scriptlets before it: %s", IMAGE_WHAT(im), inst[step->package].nevra,
                                                   by_pkg[i]->path, strerror(-r));
                                        r = -EINVAL;
                                }
                        }
                        break;
                case PLAN_STEP_REMOVE:
                        /* What the leaving package takes with it (none when an
                         * image is composed from nothing). */
                        for (size_t i = 0; installed && step->package < n_installed &&
                                           i < installed[step->package].n_removed && r >= 0; i++)
                                r = stage_remove(st, installed[step->package].removed[i]);
                        break;
                case PLAN_STEP_SCRIPT:
                        r = run_script(&x, &step->script);
                        break;
                }
                if (r < 0)
                        goto finish;
        }
        *ret_n_run = x.n_run;

        Tree *folded = NULL;
        r = stage_fold(st, sandbox_recorder(sb), root.skip, root.n_skip, &folded);
        if (r < 0) {
                if (r != -ENOMEM) {
                        diag_error(d, NULL, "%s: cannot read back what the scriptlets made: %s", IMAGE_WHAT(im),
                                   strerror(-r));
                        r = -EINVAL;
                }
                goto finish;
        }
        tree_free(*t);
        *t = folded;
        r = 0;
finish:
        sb = sandbox_stop(sb);
        stage_root_release(&root);
        plan_release(&plan);
        return r;
}

int compose_scriptlets(const Project *p, const Image *im, Tree **t, const InstallResult *inst, size_t n,
                       Diagnostics *d, size_t *ret_n_run) {
        return scriptlets_run_transaction(p, im, t, NULL, inst, n, NULL, 0, d, ret_n_run);
}
