/* SPDX-License-Identifier: MIT */

/* A customization's [[scripts]] (customize.h), as Image Customizer's
 * scripts.postCustomization and scripts.finalizeCustomization: each runs
 * in the sandbox (sandbox/sandbox.h) whose root is the image's tree,
 * staged into a directory of the run (tree/stage.h) once for all the
 * scripts of a stage, and folded back into a new tree afterwards, with the
 * owners, devices and security.* xattrs the sandbox's recorder saw.
 *
 * The script's text reaches its interpreter as rpm gives a scriptlet's body:
 * on descriptor 3, named /dev/fd/3 in argv. Nothing of it is written into
 * the image, so nothing has to be removed before folding back.
 *
 * A stage without scripts costs nothing: no staging, no sandbox. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/run.h"
#include "basic/strbuf.h"
#include "customize/customize.h"
#include "sandbox/sandbox.h"
#include "tree/stage.h"

/* What a message quotes of a script's output: its last lines, at most. */
#define QUOTED_LINES 20
#define QUOTED_BYTES 4096

/* A script without a stage is a post-customization one (docs/config.md). */
static ScriptStage stage_of(const CustomizeScript *s) {
        return s->stage < 0 ? SCRIPT_STAGE_POST : s->stage;
}

/* "script 'NAME'", "script 'PATH'" or "script N" (N: its place among all
 * the customization's scripts, from 1). */
static int describe(const CustomizeScript *s, size_t i, char **ret) {
        const char *label = s->name ? s->name : s->path;
        int r = label ? asprintf(ret, "script '%s'", label) : asprintf(ret, "script %zu", i + 1);
        if (r < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

/* The last QUOTED_LINES lines of the output (within QUOTED_BYTES), each on
 * a line of its own, indented, without a last empty one; after what says
 * whether that is all of it. */
static void quote_tail(StrBuf *b, const SandboxResult *res, bool failed) {
        const char *out = res->output, *end = out + res->output_size;
        while (end > out && end[-1] == '\n')
                end--;
        const char *start = end;
        for (unsigned lines = 0; start > out && (size_t) (end - start) < QUOTED_BYTES; start--)
                if (start[-1] == '\n' && ++lines == QUOTED_LINES)
                        break;
        bool all = start == out && !res->output_truncated;
        if (failed)
                strbuf_puts(b, all ? "; its output:" : "; the end of its output:");
        else
                strbuf_puts(b, all ? ":" : ", at its end:");
        for (const char *p = start; p < end;) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t len = nl ? (size_t) (nl - p) : (size_t) (end - p);
                strbuf_printf(b, "\n    %.*s", (int) len, p);
                p += len + (nl ? 1 : 0);
        }
}

/* The scripts' environment: a PATH, HOME, LANG and SOURCE_DATE_EPOCH, each
 * replaced by the script's own NAME=VALUE of the same name, then the rest
 * of the script's. *ret (a NULL-terminated array of pointers into s->env
 * and sde_env) is malloc'd. */
static int make_env(const CustomizeScript *s, char *sde_env, char ***ret) {
        static const char *const defaults[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8" };
        char **env = new0(char *, ELEMENTSOF(defaults) + 1 + s->env.n + 1);
        size_t n = 0;
        if (!env)
                return -ENOMEM;
        for (size_t k = 0; k <= ELEMENTSOF(defaults); k++) {
                const char *def = k < ELEMENTSOF(defaults) ? defaults[k] : sde_env;
                size_t name = strcspn(def, "=") + 1;
                bool given = false;
                for (size_t i = 0; i < s->env.n && !given; i++)
                        given = strncmp(s->env.items[i], def, name) == 0;
                if (!given)
                        env[n++] = (char *) def;
        }
        for (size_t i = 0; i < s->env.n; i++)
                env[n++] = s->env.items[i];
        *ret = env;
        return 0;
}

typedef struct Runner {
        const Customization *c;
        Sandbox *sb;
        char *sde_env;
        unsigned timeout;
        Diagnostics *d;
} Runner;

/* Runs script i (its text: body) and waits for it. A failure is one error
 * naming it: -EINVAL. */
static int run_one(Runner *x, size_t i, const char *body, size_t body_size) {
        const CustomizeScript *s = &x->c->scripts.items[i];
        _cleanup_free_ char *what = NULL, *err = NULL;
        _cleanup_free_ char **argv = NULL, **env = NULL;
        int r;

        if ((r = describe(s, i, &what)) < 0 || (r = make_env(s, x->sde_env, &env)) < 0)
                return r;
        argv = new0(char *, s->args.n + 3);
        if (!argv)
                return -ENOMEM;
        size_t k = 0;
        argv[k++] = s->interpreter ? s->interpreter : (char *) "/bin/sh";
        argv[k++] = (char *) "/dev/fd/3";
        for (size_t a = 0; a < s->args.n; a++)
                argv[k++] = s->args.items[a];

        SandboxCommand cmd = {
                .argv = argv,
                .envp = env,
                .cwd = "/",
                .script = body,
                .script_size = body_size,
                .timeout_sec = x->timeout,
        };
        _cleanup_(sandbox_result_release) SandboxResult res = {};
        r = sandbox_run(x->sb, &cmd, &res, &err);
        if (r == -ENOMEM)
                return r;

        bool failed = r < 0 || res.status != 0;
        if (!failed && res.output_size == 0)
                return 0;
        _cleanup_(strbuf_releasep) StrBuf msg = STRBUF_INIT;
        strbuf_printf(&msg, "customization '%s': %s ", x->c->im.name, what);
        if (r < 0)
                strbuf_printf(&msg, "cannot run: %s%s", err ? err : strerror(-r),
                              r == -ENOEXEC ? " (is the image for another architecture?)" : "");
        else if (res.timed_out)
                strbuf_printf(&msg, "failed: killed after %u s (scriptlet-timeout)", x->timeout);
        else if (res.status > 128)
                strbuf_printf(&msg, "failed: killed by signal %d", res.status - 128);
        else if (res.status != 0)
                strbuf_printf(&msg, "failed: exit status %d", res.status);
        else
                strbuf_printf(&msg, "printed");
        if (r >= 0 && res.output_size == 0)
                strbuf_printf(&msg, "; it printed nothing");
        else if (r >= 0)
                quote_tail(&msg, &res, failed);
        if (msg.oom)
                return -ENOMEM;
        /* What a script prints that works is shown too, as Image Customizer
         * logs it: a note. */
        diag_add(x->d, failed ? DIAG_ERROR : DIAG_NOTE, &s->obj.pos, "%s", msg.buf);
        return failed ? -EINVAL : 0;
}

int customize_run_scripts(const Project *p, const Customization *c, ScriptStage stage, Tree **t, Diagnostics *d,
                          size_t *ret_n_run) {
        _cleanup_free_ char **bodies = NULL, *sb_err = NULL;
        _cleanup_free_ size_t *sizes = NULL;
        _cleanup_free_ TreeNode **nodes = NULL;
        StageRoot root = {};
        _cleanup_(sandbox_stopp) Sandbox *sb = NULL;
        int64_t sde = (int64_t) p->source_date_epoch;
        size_t n_nodes = 0, n_run = 0, n_stage = 0;
        int r = 0;

        for (size_t i = 0; i < c->scripts.n; i++)
                n_stage += stage_of(&c->scripts.items[i]) == stage;
        if (n_stage == 0) {
                *ret_n_run = 0;
                return 0;
        }

        /* Every script's text first: a file that went away since the
         * configuration was read fails before anything is staged. */
        bodies = new0(char *, c->scripts.n);
        sizes = new0(size_t, c->scripts.n);
        if (!bodies || !sizes)
                return -ENOMEM;
        for (size_t i = 0; i < c->scripts.n && r >= 0; i++) {
                const CustomizeScript *s = &c->scripts.items[i];
                if (stage_of(s) != stage)
                        continue;
                if (s->content) {
                        bodies[i] = strdup(s->content);
                        sizes[i] = strlen(s->content);
                        r = bodies[i] ? 0 : -ENOMEM;
                        continue;
                }
                _cleanup_free_ char *full = project_path(p, s->path);
                if (!full) {
                        r = -ENOMEM;
                        break;
                }
                r = read_full_file(full, &bodies[i], &sizes[i]);
                if (r < 0 && r != -ENOMEM) {
                        SourcePos pos = cfg_pos(&s->obj, "path");
                        diag_error(d, &pos, "customization '%s': cannot read script '%s': %s", c->im.name, s->path,
                                   strerror(-r));
                        r = -EINVAL;
                }
        }
        if (r < 0)
                goto finish;

        /* The whole image is staged. */
        r = tree_list(*t, &nodes, &n_nodes);
        if (r >= 0)
                r = stage_for_sandbox(*t, "customize", sde, &root);
        Stage *st = root.stage;
        for (size_t i = 0; r >= 0 && i < n_nodes; i++)
                r = stage_put(st, *t, nodes[i]);
        if (r < 0) {
                if (r != -ENOMEM) {
                        diag_error(d, NULL, "customization '%s': cannot stage the image for its scripts: %s",
                                   c->im.name, strerror(-r));
                        r = -EINVAL;
                }
                goto finish;
        }

        SandboxOptions so = { .root = root.dir, .arch = p->arch, .record = true };
        r = sandbox_start(&so, &sb, &sb_err);
        if (r < 0) {
                if (r != -ENOMEM) {
                        diag_error(d, NULL, "customization '%s': its scripts cannot run: %s", c->im.name,
                                   sb_err ? sb_err : strerror(-r));
                        r = -EINVAL;
                }
                goto finish;
        }

        char sde_env[64];
        snprintf(sde_env, sizeof sde_env, "SOURCE_DATE_EPOCH=%lld", (long long) sde);
        Runner x = {
                .c = c,
                .sb = sb,
                .sde_env = sde_env,
                .timeout = (unsigned) (c->im.scriptlet_timeout > 0 ? c->im.scriptlet_timeout
                                                                   : IMAGE_DEFAULT_SCRIPTLET_TIMEOUT),
                .d = d,
        };
        for (size_t i = 0; i < c->scripts.n; i++) {
                if (!bodies[i])
                        continue;
                if ((r = run_one(&x, i, bodies[i], sizes[i])) < 0)
                        goto finish;
                n_run++;
        }

        Tree *folded = NULL;
        r = stage_fold(st, sandbox_recorder(sb), root.skip, root.n_skip, &folded);
        if (r < 0) {
                if (r != -ENOMEM) {
                        diag_error(d, NULL, "customization '%s': cannot read back what its %s scripts made: %s",
                                   c->im.name, script_stage_to_string(stage), strerror(-r));
                        r = -EINVAL;
                }
                goto finish;
        }
        tree_free(*t);
        *t = folded;
        *ret_n_run = n_run;
        r = 0;
finish:
        sb = sandbox_stop(sb);
        stage_root_release(&root);
        for (size_t i = 0; bodies && i < c->scripts.n; i++)
                free(bodies[i]);
        return r;
}
