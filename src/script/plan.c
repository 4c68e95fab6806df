/* SPDX-License-Identifier: MIT */
/* A transaction's scriptlets in rpm 4.18's order. Every rule here is rpm's,
 * read from its sources (rpm-4.18.0, unchanged in 4.18.1): the function that
 * does the same in rpm is named where it matters. rpm works on its database
 * as it changes during the transaction (a package is in it from just after
 * its files are unpacked until just after its %postun), so this file keeps a
 * model of that database (Builder.db) and asks it the same questions. */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "basic/macro.h"
#include "basic/strbuf.h"
#include "rpm/files.h"
#include "rpm/version.h"
#include "script/plan.h"

/* File triggers of this priority or more run before %post (and %preun,
 * %postun), the others after (lib/rpmtriggers.c TRIGGER_PRIORITY_BOUND;
 * docs/manual/file_triggers.md says 100000, the code says 10000). */
#define TRIGGER_PRIORITY_BOUND 10000u

#define STATE_MISSING (-1) /* rpm's RPMFILE_STATE_MISSING: no state known */

static bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

static const char *const script_kind_table[_SCRIPT_KIND_MAX] = {
        /* rpm's names in its messages (lib/rpmscript.c scriptInfo[] and
         * rpmScriptNew(): "%" + "file"/"transfile" + the name). */
        [SCRIPT_PRETRANS] = "%pretrans",
        [SCRIPT_PRE] = "%prein",
        [SCRIPT_POST] = "%post",
        [SCRIPT_POSTTRANS] = "%posttrans",
        [SCRIPT_PREUN] = "%preun",
        [SCRIPT_POSTUN] = "%postun",
        [SCRIPT_TRIGGERPREIN] = "%triggerprein",
        [SCRIPT_TRIGGERIN] = "%triggerin",
        [SCRIPT_TRIGGERUN] = "%triggerun",
        [SCRIPT_TRIGGERPOSTUN] = "%triggerpostun",
        [SCRIPT_FILETRIGGERIN] = "%filetriggerin",
        [SCRIPT_FILETRIGGERUN] = "%filetriggerun",
        [SCRIPT_FILETRIGGERPOSTUN] = "%filetriggerpostun",
        [SCRIPT_TRANSFILETRIGGERIN] = "%transfiletriggerin",
        [SCRIPT_TRANSFILETRIGGERUN] = "%transfiletriggerun",
        [SCRIPT_TRANSFILETRIGGERPOSTUN] = "%transfiletriggerpostun",
};

const char *script_kind_to_string(ScriptKind k) {
        if (k < 0 || k >= _SCRIPT_KIND_MAX)
                return NULL;
        return script_kind_table[k];
}

/* ---- the scriptlets of a header -------------------------------------------- */

typedef struct InstScript {
        ScriptKind kind;
        const char *prog_tag_name;
        uint32_t tag, prog_tag, flags_tag;
        uint32_t default_flags; /* lib/rpmscript.c scriptInfo[].deflags */
} InstScript;

static const InstScript inst_scripts[] = {
        { SCRIPT_PRETRANS, "PRETRANSPROG", RPMTAG_PRETRANS, RPMTAG_PRETRANSPROG, RPMTAG_PRETRANSFLAGS, RPMSCRIPT_FLAG_CRITICAL },
        { SCRIPT_PRE, "PREINPROG", RPMTAG_PREIN, RPMTAG_PREINPROG, RPMTAG_PREINFLAGS, RPMSCRIPT_FLAG_CRITICAL },
        { SCRIPT_POST, "POSTINPROG", RPMTAG_POSTIN, RPMTAG_POSTINPROG, RPMTAG_POSTINFLAGS, 0 },
        { SCRIPT_POSTTRANS, "POSTTRANSPROG", RPMTAG_POSTTRANS, RPMTAG_POSTTRANSPROG, RPMTAG_POSTTRANSFLAGS, 0 },
        { SCRIPT_PREUN, "PREUNPROG", RPMTAG_PREUN, RPMTAG_PREUNPROG, RPMTAG_PREUNFLAGS, RPMSCRIPT_FLAG_CRITICAL },
        { SCRIPT_POSTUN, "POSTUNPROG", RPMTAG_POSTUN, RPMTAG_POSTUNPROG, RPMTAG_POSTUNFLAGS, 0 },
};

typedef enum TrigMode {
        TRIG_NORMAL,    /* %trigger*: on package names */
        TRIG_FILE,      /* %filetrigger*: on path prefixes, per package */
        TRIG_TRANS,     /* %transfiletrigger*: on path prefixes, per transaction */
        _TRIG_MODE_MAX,
} TrigMode;

typedef struct TrigTags {
        const char *prefix; /* tag names in messages */
        uint32_t name, version, flags, index, scripts, prog, script_flags, priorities;
} TrigTags;

static const TrigTags trig_tags[_TRIG_MODE_MAX] = {
        [TRIG_NORMAL] = { "TRIGGER", RPMTAG_TRIGGERNAME, RPMTAG_TRIGGERVERSION, RPMTAG_TRIGGERFLAGS,
                          RPMTAG_TRIGGERINDEX, RPMTAG_TRIGGERSCRIPTS, RPMTAG_TRIGGERSCRIPTPROG,
                          RPMTAG_TRIGGERSCRIPTFLAGS, 0 },
        [TRIG_FILE] = { "FILETRIGGER", RPMTAG_FILETRIGGERNAME, RPMTAG_FILETRIGGERVERSION,
                        RPMTAG_FILETRIGGERFLAGS, RPMTAG_FILETRIGGERINDEX, RPMTAG_FILETRIGGERSCRIPTS,
                        RPMTAG_FILETRIGGERSCRIPTPROG, RPMTAG_FILETRIGGERSCRIPTFLAGS,
                        RPMTAG_FILETRIGGERPRIORITIES },
        [TRIG_TRANS] = { "TRANSFILETRIGGER", RPMTAG_TRANSFILETRIGGERNAME, RPMTAG_TRANSFILETRIGGERVERSION,
                         RPMTAG_TRANSFILETRIGGERFLAGS, RPMTAG_TRANSFILETRIGGERINDEX,
                         RPMTAG_TRANSFILETRIGGERSCRIPTS, RPMTAG_TRANSFILETRIGGERSCRIPTPROG,
                         RPMTAG_TRANSFILETRIGGERSCRIPTFLAGS, RPMTAG_TRANSFILETRIGGERPRIORITIES },
};

bool header_has_scriptlets(const RpmHeader *h) {
        RpmEntry e;
        for (size_t i = 0; i < ELEMENTSOF(inst_scripts); i++)
                if (rpm_header_get(h, inst_scripts[i].tag, &e) >= 0 ||
                    rpm_header_get(h, inst_scripts[i].prog_tag, &e) >= 0)
                        return true;
        for (size_t m = 0; m < _TRIG_MODE_MAX; m++)
                if (rpm_header_get(h, trig_tags[m].scripts, &e) >= 0 || rpm_header_get(h, trig_tags[m].prog, &e) >= 0)
                        return true;
        return false;
}

/* One entry of a *TRIGGERNAME array: a trigger has one or more (several
 * names or path prefixes), tied to its script by the index. */
typedef struct TrigEntry {
        const char *name;
        uint32_t flags;
        const char *evr;
        uint32_t index;
} TrigEntry;

typedef struct TrigSet {
        TrigEntry *entries;
        size_t n_entries;
        const char **scripts; /* per trigger (index) */
        size_t n_scripts;
        const char **progs;
        uint32_t *flags;      /* NULL if absent */
        uint32_t *priorities; /* file triggers */
} TrigSet;

typedef enum FileAction {
        ACT_UNKNOWN,
        ACT_CREATE,
        ACT_SKIP,
        ACT_ERASE,
} FileAction;

typedef struct Pkg {
        const RpmHeader *h;
        bool installed; /* PlanInput.installed, else .packages */
        size_t index;
        const char *name;
        char *nevra;
        const char **prov_names, **prov_evrs;
        uint32_t *prov_flags;
        size_t n_prov;
        TrigSet trig[_TRIG_MODE_MAX];
        RpmFileList files;
        const int8_t *states; /* installed: FILESTATES, NULL if absent */
        const char **dirnames;
        size_t n_dirnames;
        bool relocatable;

        /* The transaction's model of rpm's database and elements. */
        unsigned instance; /* rpmdb header number: the order rpm's indexes give */
        bool in_db;
        bool added;    /* ts->members->installedPackages: put in the db by this transaction */
        bool removing; /* ts->members->removedPackages: erased by this transaction */
        bool replaces; /* an install that erases an older instance (isUpdate()) */
        bool replaced; /* installed, erased as the older instance of an upgrade */
        size_t element;
        FileAction *actions; /* per file, for elements (rpmfs actions) */
} Pkg;

static void trig_set_release(TrigSet *t) {
        free(t->entries);
        free(t->scripts);
        free(t->progs);
        free(t->flags);
        free(t->priorities);
}

static void pkg_release(Pkg *p) {
        free(p->nevra);
        free(p->prov_names);
        free(p->prov_evrs);
        free(p->prov_flags);
        for (size_t m = 0; m < _TRIG_MODE_MAX; m++)
                trig_set_release(&p->trig[m]);
        rpm_file_list_release(&p->files);
        free(p->dirnames);
        free(p->actions);
}

typedef struct PostunTrig {
        uint32_t priority;
        Pkg *pkg;
        uint32_t index;
} PostunTrig;

typedef struct Builder {
        Pkg *pkgs; /* installed, then packages */
        size_t n_pkgs;
        Pkg **db; /* in instance order; entries stay when erased (in_db false) */
        size_t n_db;
        unsigned last_instance;
        Pkg *open_install; /* the element rpm has open for PKG_INSTALL */
        Pkg **installs, **erases;
        size_t n_installs, n_erases;
        PostunTrig *postun; /* ts->trigs2run */
        size_t n_postun, allocated_postun;
        Plan plan;
        size_t allocated_steps, allocated_warnings;
        char *error;
} Builder;

static int fail(Builder *b, int r, const char *fmt, ...) _printf_(3, 4);
static int fail(Builder *b, int r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        free(b->error);
        if (vasprintf(&b->error, fmt, ap) < 0)
                b->error = NULL;
        va_end(ap);
        return b->error ? r : -ENOMEM;
}

/* ---- reading headers ------------------------------------------------------ */

/* The strings of tag; absent: none. */
static int get_strings(Builder *b, const Pkg *p, uint32_t tag, const char *tag_name, const char ***ret, size_t *ret_n) {
        int r = rpm_header_get_strings(p->h, tag, ret, ret_n);
        if (r == -ENOENT) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (r == -EBADMSG)
                return fail(b, r, "package %s: %s is not a string array", p->nevra, tag_name);
        return r;
}

static int get_u32s(Builder *b, const Pkg *p, uint32_t tag, const char *tag_name, uint32_t **ret, size_t *ret_n) {
        int r = rpm_header_get_u32s(p->h, tag, ret, ret_n);
        if (r == -ENOENT) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (r == -EBADMSG)
                return fail(b, r, "package %s: %s is not an integer array", p->nevra, tag_name);
        return r;
}

static int load_triggers(Builder *b, Pkg *p, TrigMode m) {
        const TrigTags *t = &trig_tags[m];
        TrigSet *s = &p->trig[m];
        _cleanup_free_ const char **names = NULL, **versions = NULL;
        _cleanup_free_ uint32_t *flags = NULL, *index = NULL;
        size_t n, n_versions, n_flags, n_index, n_progs, n_script_flags, n_prio = 0;
        char tn[64];
        int r;

#define TAG_NAME(suffix) (snprintf(tn, sizeof tn, "%s%s", t->prefix, suffix), tn)
        if ((r = get_strings(b, p, t->name, TAG_NAME("NAME"), &names, &n)) < 0 ||
            (r = get_strings(b, p, t->version, TAG_NAME("VERSION"), &versions, &n_versions)) < 0 ||
            (r = get_u32s(b, p, t->flags, TAG_NAME("FLAGS"), &flags, &n_flags)) < 0 ||
            (r = get_u32s(b, p, t->index, TAG_NAME("INDEX"), &index, &n_index)) < 0 ||
            (r = get_strings(b, p, t->scripts, TAG_NAME("SCRIPTS"), &s->scripts, &s->n_scripts)) < 0 ||
            (r = get_strings(b, p, t->prog, TAG_NAME("SCRIPTPROG"), &s->progs, &n_progs)) < 0 ||
            (r = get_u32s(b, p, t->script_flags, TAG_NAME("SCRIPTFLAGS"), &s->flags, &n_script_flags)) < 0)
                return r;
        if (t->priorities && (r = get_u32s(b, p, t->priorities, TAG_NAME("PRIORITIES"), &s->priorities, &n_prio)) < 0)
                return r;

        /* rpm reads these as parallel arrays (lib/rpmds.c rpmdsNew(),
         * lib/rpmscript.c rpmScriptFromTriggerTag(), lib/rpmtriggers.c):
         * any that disagree in length, or an index past the scripts, is a
         * header rpmbuild never writes (build/parseScript.c, build/pack.c). */
        const struct {
                const char *what, *base;
                bool present;
                size_t n, want;
        } lengths[] = {
                { "FLAGS", "NAME", true, n_flags, n },
                { "INDEX", "NAME", true, n_index, n },
                { "VERSION", "NAME", versions, n_versions, n },
                { "SCRIPTPROG", "SCRIPTS", true, n_progs, s->n_scripts },
                { "SCRIPTFLAGS", "SCRIPTS", s->flags, n_script_flags, s->n_scripts },
                { "PRIORITIES", "SCRIPTS", t->priorities && (n || s->n_scripts), s->priorities ? n_prio : 0, s->n_scripts },
        };
        for (size_t i = 0; i < ELEMENTSOF(lengths); i++)
                if (lengths[i].present && lengths[i].n != lengths[i].want) {
                        char base[64];
                        snprintf(base, sizeof base, "%s%s", t->prefix, lengths[i].base);
                        return fail(b, -EBADMSG, "package %s: %s has %zu entries but its %s has %zu", p->nevra, base,
                                    lengths[i].want, lengths[i].what, lengths[i].n);
                }
        if (n == 0)
                return 0;
        s->entries = new0(TrigEntry, n);
        if (!s->entries)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (index[i] >= s->n_scripts)
                        return fail(b, -EBADMSG, "package %s: %s %" PRIu32 " is out of range (%zu scripts)", p->nevra,
                                    TAG_NAME("INDEX"), index[i], s->n_scripts);
                s->entries[i] = (TrigEntry) { names[i], flags[i], versions ? versions[i] : "", index[i] };
        }
        s->n_entries = n;
        return 0;
#undef TAG_NAME
}

static int load_pkg(Builder *b, Pkg *p) {
        const RpmHeader *h = p->h;
        const char *ver = rpm_header_get_string(h, RPMTAG_VERSION), *rel = rpm_header_get_string(h, RPMTAG_RELEASE),
                   *arch = rpm_header_get_string(h, RPMTAG_ARCH);
        uint64_t epoch;
        bool has_epoch = rpm_header_get_number(h, RPMTAG_EPOCH, &epoch) >= 0;
        int r;

        p->name = rpm_header_get_string(h, RPMTAG_NAME);
        if (!p->name || !ver || !rel)
                return fail(b, -EBADMSG, "%s package %zu has no name, version or release",
                            p->installed ? "installed" : "new", p->index);
        if ((has_epoch ? asprintf(&p->nevra, "%s-%" PRIu64 ":%s-%s%s%s", p->name, epoch, ver, rel, arch ? "." : "",
                                  arch ?: "")
                       : asprintf(&p->nevra, "%s-%s-%s%s%s", p->name, ver, rel, arch ? "." : "", arch ?: "")) < 0) {
                p->nevra = NULL;
                return -ENOMEM;
        }

        size_t n_flags, n_evrs;
        if ((r = get_strings(b, p, RPMTAG_PROVIDENAME, "PROVIDENAME", &p->prov_names, &p->n_prov)) < 0 ||
            (r = get_strings(b, p, RPMTAG_PROVIDEVERSION, "PROVIDEVERSION", &p->prov_evrs, &n_evrs)) < 0 ||
            (r = get_u32s(b, p, RPMTAG_PROVIDEFLAGS, "PROVIDEFLAGS", &p->prov_flags, &n_flags)) < 0)
                return r;
        if ((p->prov_evrs && n_evrs != p->n_prov) || (p->prov_flags && n_flags != p->n_prov))
                return fail(b, -EBADMSG, "package %s: PROVIDENAME has %zu entries but %s has %zu", p->nevra, p->n_prov,
                            p->prov_evrs && n_evrs != p->n_prov ? "PROVIDEVERSION" : "PROVIDEFLAGS",
                            p->prov_evrs && n_evrs != p->n_prov ? n_evrs : n_flags);

        for (TrigMode m = 0; m < _TRIG_MODE_MAX; m++)
                if ((r = load_triggers(b, p, m)) < 0)
                        return r;

        const char *why = NULL;
        r = rpm_header_files(h, &p->files, &why);
        if (r == -EBADMSG)
                return fail(b, r, "package %s: %s", p->nevra, why ?: "bad file list");
        if (r < 0)
                return r;
        if ((r = get_strings(b, p, RPMTAG_DIRNAMES, "DIRNAMES", &p->dirnames, &p->n_dirnames)) < 0)
                return r;
        if (p->installed) {
                RpmEntry e;
                if (rpm_header_get(h, RPMTAG_FILESTATES, &e) >= 0) {
                        if ((e.type != RPM_CHAR_TYPE && e.type != RPM_INT8_TYPE) || e.count != p->files.n)
                                return fail(b, -EBADMSG, "package %s: FILESTATES has %" PRIu32 " entries for %zu files",
                                            p->nevra, e.count, p->files.n);
                        p->states = (const int8_t *) e.data;
                }
        }

        /* A relocatable package's scriptlets get RPM_INSTALL_PREFIX0... in
         * their environment (lib/rpmscript.c doScriptExec(), from
         * INSTPREFIXES, which installation sets from PREFIXES). */
        RpmEntry e;
        p->relocatable = rpm_header_get(h, RPMTAG_PREFIXES, &e) >= 0 || rpm_header_get(h, RPMTAG_INSTPREFIXES, &e) >= 0;
        return 0;
}

/* ---- the plan's output ---------------------------------------------------- */

static int add_warning(Builder *b, const Pkg *owner, ScriptKind kind, const char *what) {
        _cleanup_free_ char *w = strprintf("package %s: %s: %s", owner->nevra, script_kind_to_string(kind), what);
        if (!w)
                return -ENOMEM;
        for (size_t i = 0; i < b->plan.n_warnings; i++)
                if (streq(b->plan.warnings[i], w))
                        return 0;
        if (!GREEDY_REALLOC(b->plan.warnings, b->allocated_warnings, b->plan.n_warnings + 1))
                return -ENOMEM;
        b->plan.warnings[b->plan.n_warnings++] = TAKE_PTR(w);
        return 0;
}

static int add_step(Builder *b, const PlanStep *s) {
        if (!GREEDY_REALLOC(b->plan.steps, b->allocated_steps, b->plan.n_steps + 1))
                return -ENOMEM;
        b->plan.steps[b->plan.n_steps++] = *s;
        return 0;
}

static void strv_free(char **v) {
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

/* One scriptlet run, as lib/rpmscript.c rpmScriptRun() makes it: the program
 * tag's words, or /bin/sh; a body is written to a file whose path follows
 * them, then $1 and $2 when not -1 (runExtScript()). A program without a
 * body gets no arguments at all. Lua gets $1/$2 in any case
 * (runLuaScript()). input (taken) is what rpm writes to its standard
 * input, one path a line. */
static int emit_script(Builder *b, size_t element, ScriptKind kind, const Pkg *owner, const char *const *prog,
                       size_t n_prog, const char *body, uint32_t flags, int arg1, int arg2, char *input,
                       size_t input_size, size_t trigger_index, size_t cause) {
        _cleanup_free_ char *in = input;
        char **argv = new0(char *, (n_prog ? n_prog : 1) + 1);
        int r;

        if (!argv)
                return -ENOMEM;
        for (size_t i = 0; i < (n_prog ? n_prog : 1); i++)
                if (!(argv[i] = strdup(n_prog ? prog[i] : "/bin/sh"))) {
                        strv_free(argv);
                        return -ENOMEM;
                }
        bool lua = streq(argv[0], "<lua>");
        if (!lua && !body)
                arg1 = arg2 = -1;

        PlanStep s = {
                .type = PLAN_STEP_SCRIPT,
                .element = element,
                .package = SIZE_MAX,
                .script = {
                        .kind = kind,
                        .owner_installed = owner->installed,
                        .owner = owner->index,
                        .argv = argv,
                        .body = body,
                        .lua = lua,
                        .flags = flags,
                        .arg1 = arg1,
                        .arg2 = arg2,
                        .input = in,
                        .input_size = in ? input_size : 0,
                        .trigger_index = trigger_index,
                        .cause = cause,
                },
        };
        if ((r = add_step(b, &s)) < 0) {
                strv_free(argv);
                return r;
        }
        TAKE_PTR(in);

        /* What rpm would do that this plan cannot: expanding the body when
         * it runs (rpmScriptNew(): rpmExpand() and headerFormat()), the
         * relocation prefixes in the environment. */
        if ((flags & RPMSCRIPT_FLAG_EXPAND) &&
            (r = add_warning(b, owner, kind, "macro expansion at install time (-e) is not implemented: the body runs as written")) < 0)
                return r;
        if ((flags & RPMSCRIPT_FLAG_QFORMAT) &&
            (r = add_warning(b, owner, kind, "query format expansion (-q) is not implemented: the body runs as written")) < 0)
                return r;
        if (owner->relocatable &&
            (r = add_warning(b, owner, kind, "relocatable package: RPM_INSTALL_PREFIX is not set for its scriptlets")) < 0)
                return r;
        return 0;
}

/* lib/psm.c runInstScript() with lib/rpmscript.c rpmScriptFromTag(): the
 * scriptlet exists if its body or its program does. */
static int inst_script(Builder *b, size_t element, const Pkg *p, ScriptKind kind, int arg) {
        const InstScript *is = NULL;
        for (size_t i = 0; i < ELEMENTSOF(inst_scripts); i++)
                if (inst_scripts[i].kind == kind)
                        is = &inst_scripts[i];
        assert(is);

        const char *body = rpm_header_get_string(p->h, is->tag);
        _cleanup_free_ const char **prog = NULL;
        size_t n_prog;
        uint64_t flags = 0;
        int r;

        if ((r = get_strings(b, p, is->prog_tag, is->prog_tag_name, &prog, &n_prog)) < 0)
                return r;
        if (!body && n_prog == 0)
                return 0;
        (void) rpm_header_get_number(p->h, is->flags_tag, &flags);
        return emit_script(b, element, kind, p, prog, n_prog, body, is->default_flags | (uint32_t) flags, arg, -1, NULL,
                           0, SIZE_MAX, SIZE_MAX);
}

/* ---- the database --------------------------------------------------------- */

/* rpmdbCountPackages(): instances of name in the database now. */
static int count_name(const Builder *b, const char *name) {
        int n = 0;
        for (size_t i = 0; i < b->n_db; i++)
                if (b->db[i]->in_db && streq(b->db[i]->name, name))
                        n++;
        return n;
}

static bool has_prefix(const char *s, const char *pfx) {
        return strncmp(s, pfx, strlen(pfx)) == 0;
}

/* A file's state as rpm sees it when it reads the package's files from the
 * database: FILESTATES of an installed header (every file "missing" when it
 * has none), normal for what this transaction installed, and "missing" for
 * the package rpm is installing right now: it reads that one's files from
 * memory, where they have no state yet (lib/rpmtriggers.c rpmtsNextFiles(),
 * lib/rpmfi.c rpmfilesFState()). So a package's own %filetriggerin does not
 * see its own files when it runs against the database. */
static int file_state(const Builder *b, const Pkg *p, size_t i) {
        if (p == b->open_install)
                return STATE_MISSING;
        if (!p->installed)
                return RPMFILE_STATE_NORMAL;
        return p->states ? p->states[i] : STATE_MISSING;
}

static bool state_installed(int s) {
        return s == RPMFILE_STATE_NORMAL || s == RPMFILE_STATE_NETSHARED; /* RPMFILE_IS_INSTALLED() */
}

/* rpmdbInitPrefixIterator(RPMDBI_DIRNAMES, pfx): rpm finds the packages a
 * prefix concerns through their directory names, so a package is looked at
 * only if one of its DIRNAMES starts with the prefix ("/usr/lib" finds
 * "/usr/lib64/"; a prefix naming a file finds nothing). Then every file of
 * it whose whole path starts with the prefix counts, "/usr/libexec" too. */
static bool has_dirname_prefix(const Pkg *p, const char *pfx) {
        for (size_t i = 0; i < p->n_dirnames; i++)
                if (has_prefix(p->dirnames[i], pfx))
                        return true;
        return false;
}

static bool has_file_prefix(const Pkg *p, const char *pfx) {
        for (size_t i = 0; i < p->files.n; i++)
                if (has_prefix(p->files.files[i].path, pfx))
                        return true;
        return false;
}

/* ---- normal triggers ------------------------------------------------------ */

static ScriptKind trigger_kind(TrigMode m, uint32_t sense) {
        static const ScriptKind kinds[_TRIG_MODE_MAX][4] = {
                [TRIG_NORMAL] = { SCRIPT_TRIGGERPREIN, SCRIPT_TRIGGERIN, SCRIPT_TRIGGERUN, SCRIPT_TRIGGERPOSTUN },
                [TRIG_FILE] = { _SCRIPT_KIND_INVALID, SCRIPT_FILETRIGGERIN, SCRIPT_FILETRIGGERUN,
                                SCRIPT_FILETRIGGERPOSTUN },
                [TRIG_TRANS] = { _SCRIPT_KIND_INVALID, SCRIPT_TRANSFILETRIGGERIN, SCRIPT_TRANSFILETRIGGERUN,
                                 SCRIPT_TRANSFILETRIGGERPOSTUN },
        };
        size_t i = sense == RPMSENSE_TRIGGERPREIN ? 0 : sense == RPMSENSE_TRIGGERIN ? 1 : sense == RPMSENSE_TRIGGERUN ? 2 : 3;
        return kinds[m][i];
}

static int emit_trigger(Builder *b, size_t element, TrigMode m, uint32_t sense, const Pkg *owner, uint32_t tix,
                        int arg1, int arg2, char *input, size_t input_size, size_t cause) {
        const TrigSet *s = &owner->trig[m];
        /* A trigger's program is one word (build/parseScript.c refuses
         * arguments) and its body is always there, "" for "-p PROGRAM"
         * alone, so rpm runs PROGRAM with an empty file, $1 and $2
         * (lib/rpmscript.c rpmScriptFromTriggerTag()). */
        return emit_script(b, element, trigger_kind(m, sense), owner, &s->progs[tix], 1, s->scripts[tix],
                           s->flags ? s->flags[tix] : 0, arg1, arg2, input, input_size, tix, cause);
}

/* The element whose own package p is, for PlanScript.cause: not the
 * upgrade that erases it. */
static size_t cause_of(const Pkg *p) {
        return p->replaced ? SIZE_MAX : p->element;
}

/* lib/psm.c handleOneTrigger(): the first of target's triggers of this sense
 * on source's name that one of source's provides satisfies runs, once per
 * (source, target) pair; already (per trigger index) stops a trigger from
 * running twice in one runImmedTriggers(). */
static int handle_one_trigger(Builder *b, size_t element, uint32_t sense, const Pkg *source, const Pkg *target,
                              int correction, int arg2, bool *already) {
        const TrigSet *s = &target->trig[TRIG_NORMAL];
        for (size_t i = 0; i < s->n_entries; i++) {
                const TrigEntry *e = &s->entries[i];
                if (!(e->flags & sense) || !streq(e->name, source->name))
                        continue;

                /* rpmdsAnyMatchesDep(): any provide of source, by rpmdsCompare()
                 * (a side without versions matches any). */
                RpmDep want = { (char *) e->name, e->flags, (char *) e->evr };
                bool match = false;
                for (size_t k = 0; k < source->n_prov && !match; k++) {
                        RpmDep have = { (char *) source->prov_names[k], source->prov_flags ? source->prov_flags[k] : 0,
                                        (char *) (source->prov_evrs ? source->prov_evrs[k] : "") };
                        match = rpm_dep_matches(&have, &want);
                }
                if (!match)
                        continue;

                if (!already || !already[e->index]) {
                        int arg1 = count_name(b, target->name) + correction;
                        int r = emit_trigger(b, element, TRIG_NORMAL, sense, target, e->index, arg1, arg2, NULL, 0,
                                             cause_of(source));
                        if (r < 0)
                                return r;
                        if (already)
                                already[e->index] = true;
                }
                break;
        }
        return 0;
}

/* lib/psm.c runTriggers(): the triggers of packages in the database that te
 * sets off, in database order; $1 the count of the trigger's package, $2
 * te's count (after the erase: -1). */
static int run_triggers(Builder *b, size_t element, Pkg *te, uint32_t sense, int correction) {
        int arg2 = count_name(b, te->name) + correction;
        for (size_t i = 0; i < b->n_db; i++) {
                const Pkg *p = b->db[i];
                bool names_te = false;
                if (!p->in_db)
                        continue;
                for (size_t k = 0; k < p->trig[TRIG_NORMAL].n_entries && !names_te; k++)
                        names_te = streq(p->trig[TRIG_NORMAL].entries[k].name, te->name);
                if (!names_te)
                        continue;
                int r = handle_one_trigger(b, element, sense, te, p, 0, arg2, NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* lib/psm.c runImmedTriggers(): te's own triggers that packages in the
 * database set off; $1 te's count (after the erase: -1), $2 the count of
 * the package named. */
static int run_immed_triggers(Builder *b, size_t element, Pkg *te, uint32_t sense, int correction) {
        const TrigSet *s = &te->trig[TRIG_NORMAL];
        if (s->n_entries == 0)
                return 0;
        _cleanup_free_ bool *already = new0(bool, MAX(s->n_entries, s->n_scripts));
        if (!already)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_entries; i++) {
                const TrigEntry *e = &s->entries[i];
                if (already[e->index])
                        continue;
                int n = count_name(b, e->name);
                for (size_t k = 0; k < b->n_db; k++) {
                        const Pkg *src = b->db[k];
                        if (!src->in_db || !streq(src->name, e->name))
                                continue;
                        int r = handle_one_trigger(b, element, sense, src, te, correction, n, already);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* ---- file triggers -------------------------------------------------------- */

typedef enum SearchMode {
        SEARCH_ELEMENT,     /* te's files that the element does not skip */
        SEARCH_TRANSACTION, /* the database's files of packages this transaction installs or erases */
        SEARCH_DB,          /* every file in the database */
} SearchMode;

/* lib/rpmtriggers.c runHandleTriggersInPkg() with matchFilesNext(): owner's
 * trigger tix runs if its first prefix's flags have the sense and some file
 * matches one of its prefixes; the matching files go to its standard input,
 * prefix by prefix (a file matching two prefixes comes twice), then package
 * by package in database order, in each package's file order. */
static int handle_file_trigger(Builder *b, size_t element, const Pkg *te, const Pkg *owner, uint32_t sense, TrigMode m,
                               SearchMode mode, uint32_t tix, size_t cause) {
        const TrigSet *s = &owner->trig[m];
        const TrigEntry *first = NULL;
        _cleanup_strbuf_ StrBuf in = STRBUF_INIT;

        for (size_t i = 0; i < s->n_entries && !first; i++)
                if (s->entries[i].index == tix)
                        first = &s->entries[i];
        if (!first || !(first->flags & sense))
                return 0;

        for (size_t i = 0; i < s->n_entries; i++) {
                const char *pfx = s->entries[i].name;
                if (s->entries[i].index != tix)
                        continue;
                if (mode == SEARCH_ELEMENT) {
                        for (size_t f = 0; f < te->files.n; f++)
                                if (has_prefix(te->files.files[f].path, pfx) && te->actions[f] != ACT_SKIP) {
                                        strbuf_puts(&in, te->files.files[f].path);
                                        strbuf_putc(&in, '\n');
                                }
                        continue;
                }
                /* matchDBFilesIterator(): the transaction's packages are
                 * the installed ones for an "in" trigger, else the erased. */
                bool want_added = first->flags & RPMSENSE_TRIGGERIN;
                for (size_t k = 0; k < b->n_db; k++) {
                        const Pkg *q = b->db[k];
                        if (!q->in_db || (mode == SEARCH_TRANSACTION && !(want_added ? q->added : q->removing)) ||
                            !has_dirname_prefix(q, pfx))
                                continue;
                        for (size_t f = 0; f < q->files.n; f++)
                                if (has_prefix(q->files.files[f].path, pfx) && state_installed(file_state(b, q, f))) {
                                        strbuf_puts(&in, q->files.files[f].path);
                                        strbuf_putc(&in, '\n');
                                }
                }
        }
        if (in.oom)
                return -ENOMEM;
        if (in.len == 0)
                return 0;
        size_t len;
        char *input = strbuf_detach(&in, &len);
        if (!input)
                return -ENOMEM;
        /* File triggers get $1 = 0 and no $2 (runHandleTriggersInPkg()). */
        return emit_trigger(b, element, m, sense, owner, tix, 0, -1, input, len, cause);
}

typedef struct TrigRef {
        uint32_t priority;
        unsigned instance;
        uint32_t index;
        Pkg *pkg;
} TrigRef;

/* rpmtriggers.c trigCmp(): higher priority first, then database order,
 * then trigger index. */
static int trig_ref_cmp(const void *x, const void *y) {
        const TrigRef *a = x, *b = y;
        if (a->priority != b->priority)
                return a->priority > b->priority ? -1 : 1;
        if (a->instance != b->instance)
                return a->instance < b->instance ? -1 : 1;
        return a->index < b->index ? -1 : a->index > b->index ? 1 : 0;
}

/* rpmtriggersSortAndUniq() */
static size_t trig_refs_sort_uniq(TrigRef *v, size_t n) {
        size_t to = 0;
        if (n > 1) /* v may be NULL when n is 0 */
                qsort(v, n, sizeof *v, trig_ref_cmp);
        for (size_t i = 0; i < n; i++)
                if (to == 0 || trig_ref_cmp(&v[to - 1], &v[i]) != 0)
                        v[to++] = v[i];
        return to;
}

/* priority class: 0 all, 1 the high ones (before the scriptlet), 2 the low. */
static bool in_class(uint32_t priority, int class) {
        return class == 0 || (class == 1) == (priority >= TRIGGER_PRIORITY_BOUND);
}

/* Whether te (FILE) or the transaction (TRANS) sets off a trigger on pfx:
 * lib/rpmtriggers.c matchFilesInPkg() (any file of te, skipped or not) and
 * matchFilesInTran() (a package the transaction installed, for "in", or
 * erases, otherwise, with a directory under pfx). */
static bool key_matches(const Builder *b, const Pkg *te, TrigMode m, const char *pfx, uint32_t sense) {
        if (m == TRIG_FILE)
                return has_file_prefix(te, pfx);
        for (size_t k = 0; k < b->n_db; k++) {
                const Pkg *q = b->db[k];
                if (q->in_db && ((sense & RPMSENSE_TRIGGERIN) ? q->added : q->removing) && has_dirname_prefix(q, pfx))
                        return true;
        }
        return false;
}

/* lib/rpmtriggers.c runFileTriggers(): the file triggers of packages in the
 * database set off by te's files (FILE) or by the transaction's (TRANS, te
 * NULL), by priority. The transaction file triggers of the transaction's
 * own packages are left to run_immed_file_triggers(). */
static int run_file_triggers(Builder *b, size_t element, const Pkg *te, uint32_t sense, TrigMode m, int class) {
        _cleanup_free_ TrigRef *refs = NULL;
        size_t n = 0, allocated = 0;
        int r;

        for (size_t i = 0; i < b->n_db; i++) {
                Pkg *p = b->db[i];
                const TrigSet *s = &p->trig[m];
                if (!p->in_db || (m == TRIG_TRANS && (p->removing || p->added)))
                        continue;
                for (size_t k = 0; k < s->n_entries; k++) {
                        if (!key_matches(b, te, m, s->entries[k].name, sense))
                                continue;
                        if (!GREEDY_REALLOC(refs, allocated, n + 1))
                                return -ENOMEM;
                        refs[n++] = (TrigRef) { s->priorities[s->entries[k].index], p->instance, s->entries[k].index, p };
                }
        }
        n = trig_refs_sort_uniq(refs, n);
        for (size_t i = 0; i < n; i++) {
                if (!in_class(refs[i].priority, class))
                        continue;
                r = handle_file_trigger(b, element, te, refs[i].pkg, sense, m,
                                        m == TRIG_FILE ? SEARCH_ELEMENT : SEARCH_TRANSACTION, refs[i].index,
                                        m == TRIG_FILE ? element : SIZE_MAX);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* lib/rpmtriggers.c runImmedFileTriggers(): te's own file triggers, against
 * every file in the database, by priority. */
static int run_immed_file_triggers(Builder *b, size_t element, Pkg *te, uint32_t sense, TrigMode m, int class) {
        const TrigSet *s = &te->trig[m];
        if (s->n_scripts == 0)
                return 0;
        _cleanup_free_ TrigRef *refs = new0(TrigRef, s->n_scripts);
        if (!refs)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_scripts; i++)
                refs[i] = (TrigRef) { s->priorities[i], 0, (uint32_t) i, te };
        size_t n = trig_refs_sort_uniq(refs, s->n_scripts);
        for (size_t i = 0; i < n; i++) {
                if (!in_class(refs[i].priority, class))
                        continue;
                int r = handle_file_trigger(b, element, te, te, sense, m, SEARCH_DB, refs[i].index, SIZE_MAX);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* lib/rpmtriggers.c rpmtriggersPrepPostUnTransFileTrigs(), as te is erased:
 * the %transfiletriggerpostun of packages in the database whose first
 * prefix (only the first: addTriggers()) matches an installed file of te
 * are remembered for the transaction's end. */
static int prep_postun_trans(Builder *b, const Pkg *te) {
        for (size_t i = 0; i < b->n_db; i++) {
                Pkg *p = b->db[i];
                const TrigSet *s = &p->trig[TRIG_TRANS];
                if (!p->in_db)
                        continue;
                for (uint32_t tix = 0; tix < s->n_scripts; tix++) {
                        const TrigEntry *first = NULL;
                        for (size_t k = 0; k < s->n_entries && !first; k++)
                                if (s->entries[k].index == tix)
                                        first = &s->entries[k];
                        if (!first || !(first->flags & RPMSENSE_TRIGGERPOSTUN))
                                continue;
                        bool match = false;
                        for (size_t f = 0; f < te->files.n && !match; f++)
                                match = has_prefix(te->files.files[f].path, first->name) &&
                                        state_installed(file_state(b, te, f));
                        if (!match)
                                continue;
                        if (!GREEDY_REALLOC(b->postun, b->allocated_postun, b->n_postun + 1))
                                return -ENOMEM;
                        b->postun[b->n_postun++] = (PostunTrig) { s->priorities[tix], p, tix };
                }
        }
        return 0;
}

/* lib/rpmtriggers.c runPostUnTransFileTrigs(): those whose package is still
 * installed, by priority, with no standard input. */
static int run_postun_trans(Builder *b) {
        _cleanup_free_ TrigRef *refs = new0(TrigRef, b->n_postun);
        if (!refs)
                return -ENOMEM;
        for (size_t i = 0; i < b->n_postun; i++)
                refs[i] = (TrigRef) { b->postun[i].priority, b->postun[i].pkg->instance, b->postun[i].index, b->postun[i].pkg };
        size_t n = trig_refs_sort_uniq(refs, b->n_postun);
        for (size_t i = 0; i < n; i++) {
                if (!refs[i].pkg->in_db)
                        continue;
                int r = emit_trigger(b, SIZE_MAX, TRIG_TRANS, RPMSENSE_TRIGGERPOSTUN, refs[i].pkg, refs[i].index, 0, -1,
                                     NULL, 0, SIZE_MAX);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- which files the elements skip ---------------------------------------- */

typedef struct PathRec {
        const char *path;
        size_t order; /* elements: position in processing; others: SIZE_MAX */
        Pkg *pkg;
        size_t file;
} PathRec;

static int path_rec_cmp(const void *x, const void *y) {
        const PathRec *a = x, *b = y;
        int c = strcmp(a->path, b->path);
        if (c != 0)
                return c;
        return a->order < b->order ? -1 : a->order > b->order ? 1 : 0;
}

/* The file actions rpm decides before it runs anything (lib/transaction.c
 * checkInstalledFiles() then handleOverlappedFiles()), as far as they
 * decide which files a file trigger is given (XFA_SKIPPING()):
 *   - a file an earlier installed element has too (shared and identical)
 *     is skipped, unless that one skipped it or it is a ghost there;
 *   - a %ghost %config file that an installed package has too is skipped;
 *   - an erased file that a package installed by the transaction has, or
 *     that an installed package which stays has in state normal, is
 *     skipped; of erased elements sharing a file only the last erases it;
 *     a file not in state normal is not erased.
 * Files are compared by path (rpm compares fingerprints, which also
 * follow symbolic links to directories on disk). */
static int decide_actions(Builder *b) {
        _cleanup_free_ PathRec *recs = NULL;
        size_t n = 0, allocated = 0, order = 0;

        for (size_t e = 0; e < b->n_installs + b->n_erases; e++) {
                Pkg *p = e < b->n_installs ? b->installs[e] : b->erases[e - b->n_installs];
                if (!(p->actions = new0(FileAction, p->files.n)))
                        return -ENOMEM;
                for (size_t f = 0; f < p->files.n; f++) {
                        if (!GREEDY_REALLOC(recs, allocated, n + 1))
                                return -ENOMEM;
                        recs[n++] = (PathRec) { p->files.files[f].path, order++, p, f };
                }
        }
        for (size_t i = 0; i < b->n_pkgs; i++) {
                Pkg *p = &b->pkgs[i];
                if (!p->installed || p->removing)
                        continue;
                for (size_t f = 0; f < p->files.n; f++) {
                        if (!GREEDY_REALLOC(recs, allocated, n + 1))
                                return -ENOMEM;
                        recs[n++] = (PathRec) { p->files.files[f].path, SIZE_MAX, p, f };
                }
        }
        if (n > 1)
                qsort(recs, n, sizeof *recs, path_rec_cmp);

        for (size_t start = 0, end; start < n; start = end) {
                bool kept_normal = false; /* an installed package that stays has it, state normal */
                for (end = start; end < n && streq(recs[end].path, recs[start].path); end++)
                        if (recs[end].order == SIZE_MAX && file_state(b, recs[end].pkg, recs[end].file) == RPMFILE_STATE_NORMAL)
                                kept_normal = true;

                PathRec *prev = NULL;
                for (size_t i = start; i < end && recs[i].order != SIZE_MAX; i++) {
                        PathRec *r = &recs[i];
                        const RpmHeaderFile *f = &r->pkg->files.files[r->file];
                        FileAction *act = &r->pkg->actions[r->file];
                        if (!r->pkg->removing) {
                                /* handleInstInstalledFile(): rpmfilesDecideFate() skips a
                                 * new %ghost of a %config file an installed package has. */
                                bool ghost_cfg = false;
                                for (size_t k = start; k < end && (f->flags & RPMFILE_GHOST); k++) {
                                        const PathRec *o = &recs[k];
                                        if (!o->pkg->installed || file_state(b, o->pkg, o->file) == RPMFILE_STATE_NOTINSTALLED)
                                                continue;
                                        if ((f->flags | o->pkg->files.files[o->file].flags) & RPMFILE_CONFIG)
                                                ghost_cfg = true;
                                }
                                if (ghost_cfg)
                                        *act = ACT_SKIP;
                                else if (prev && prev->pkg->actions[prev->file] != ACT_SKIP &&
                                         !(prev->pkg->files.files[prev->file].flags & RPMFILE_GHOST))
                                        *act = ACT_SKIP;
                                else
                                        *act = ACT_CREATE;
                        } else if (kept_normal)
                                *act = ACT_SKIP;
                        else if (prev && prev->pkg->actions[prev->file] != ACT_ERASE)
                                *act = ACT_SKIP;
                        else {
                                if (prev)
                                        prev->pkg->actions[prev->file] = ACT_SKIP;
                                *act = file_state(b, r->pkg, r->file) == RPMFILE_STATE_NORMAL ? ACT_ERASE : ACT_SKIP;
                        }
                        prev = r;
                }
        }
        return 0;
}

/* ---- the transaction ------------------------------------------------------ */

/* lib/psm.c rpmPackageInstall() */
static int process_install(Builder *b, Pkg *te) {
        size_t el = te->element;
        int arg = count_name(b, te->name) + 1; /* rpmpsmNew(): instances after */
        int r;

        if ((r = run_triggers(b, el, te, RPMSENSE_TRIGGERPREIN, 0)) < 0 ||
            (r = run_immed_triggers(b, el, te, RPMSENSE_TRIGGERPREIN, 0)) < 0 ||
            (r = inst_script(b, el, te, SCRIPT_PRE, arg)) < 0)
                return r;
        if ((r = add_step(b, &(PlanStep) { .type = PLAN_STEP_UNPACK, .element = el, .package = te->index })) < 0)
                return r;

        /* dbAdd() */
        te->instance = ++b->last_instance;
        te->in_db = te->added = true;
        b->db[b->n_db++] = te;
        b->open_install = te;

        if ((r = run_file_triggers(b, el, te, RPMSENSE_TRIGGERIN, TRIG_FILE, 1)) < 0 ||
            (r = run_immed_file_triggers(b, el, te, RPMSENSE_TRIGGERIN, TRIG_FILE, 1)) < 0 ||
            (r = inst_script(b, el, te, SCRIPT_POST, arg)) < 0 ||
            (r = run_triggers(b, el, te, RPMSENSE_TRIGGERIN, 0)) < 0 ||
            (r = run_immed_triggers(b, el, te, RPMSENSE_TRIGGERIN, 0)) < 0 ||
            (r = run_file_triggers(b, el, te, RPMSENSE_TRIGGERIN, TRIG_FILE, 2)) < 0 ||
            (r = run_immed_file_triggers(b, el, te, RPMSENSE_TRIGGERIN, TRIG_FILE, 2)) < 0)
                return r;
        b->open_install = NULL;
        return 0;
}

/* lib/psm.c rpmPackageErase() */
static int process_erase(Builder *b, Pkg *te) {
        size_t el = te->element;
        int arg = count_name(b, te->name) - 1; /* rpmpsmNew(): instances after */
        int r;

        if ((r = run_immed_file_triggers(b, el, te, RPMSENSE_TRIGGERUN, TRIG_FILE, 1)) < 0 ||
            (r = run_file_triggers(b, el, te, RPMSENSE_TRIGGERUN, TRIG_FILE, 1)) < 0 ||
            (r = run_immed_triggers(b, el, te, RPMSENSE_TRIGGERUN, -1)) < 0 ||
            (r = run_triggers(b, el, te, RPMSENSE_TRIGGERUN, -1)) < 0 ||
            (r = inst_script(b, el, te, SCRIPT_PREUN, arg)) < 0 ||
            (r = run_immed_file_triggers(b, el, te, RPMSENSE_TRIGGERUN, TRIG_FILE, 2)) < 0 ||
            (r = run_file_triggers(b, el, te, RPMSENSE_TRIGGERUN, TRIG_FILE, 2)) < 0)
                return r;
        if ((r = add_step(b, &(PlanStep) { .type = PLAN_STEP_REMOVE, .element = el, .package = te->index })) < 0)
                return r;
        if ((r = run_file_triggers(b, el, te, RPMSENSE_TRIGGERPOSTUN, TRIG_FILE, 1)) < 0 ||
            (r = inst_script(b, el, te, SCRIPT_POSTUN, arg)) < 0 ||
            (r = run_triggers(b, el, te, RPMSENSE_TRIGGERPOSTUN, -1)) < 0 ||
            (r = run_file_triggers(b, el, te, RPMSENSE_TRIGGERPOSTUN, TRIG_FILE, 2)) < 0 ||
            (r = prep_postun_trans(b, te)) < 0)
                return r;
        te->in_db = false; /* dbRemove() */
        return 0;
}

/* lib/transaction.c rpmtsRun() */
static int run_transaction(Builder *b) {
        int r;

        /* runTransScripts(PKG_PRETRANS): $1 as for %pre. */
        for (size_t i = 0; i < b->n_installs; i++)
                if ((r = inst_script(b, b->installs[i]->element, b->installs[i], SCRIPT_PRETRANS,
                                     count_name(b, b->installs[i]->name) + 1)) < 0)
                        return r;

        if ((r = decide_actions(b)) < 0)
                return r;

        if ((r = run_file_triggers(b, SIZE_MAX, NULL, RPMSENSE_TRIGGERUN, TRIG_TRANS, 0)) < 0)
                return r;
        for (size_t i = 0; i < b->n_erases; i++)
                if ((r = run_immed_file_triggers(b, b->erases[i]->element, b->erases[i], RPMSENSE_TRIGGERUN, TRIG_TRANS, 0)) < 0)
                        return r;

        /* rpmtsProcess(): lib/order.c rpmtsOrder() puts every install before
         * every erase. */
        for (size_t i = 0; i < b->n_installs; i++)
                if ((r = process_install(b, b->installs[i])) < 0)
                        return r;
        for (size_t i = 0; i < b->n_erases; i++)
                if ((r = process_erase(b, b->erases[i])) < 0)
                        return r;

        /* runTransScripts(PKG_POSTTRANS): rpmpsmNew() gives the count now,
         * plus one for an upgrade (isUpdate()). */
        for (size_t i = 0; i < b->n_installs; i++) {
                Pkg *p = b->installs[i];
                if ((r = inst_script(b, p->element, p, SCRIPT_POSTTRANS, count_name(b, p->name) + p->replaces)) < 0)
                        return r;
        }
        if ((r = run_file_triggers(b, SIZE_MAX, NULL, RPMSENSE_TRIGGERIN, TRIG_TRANS, 0)) < 0 ||
            (r = run_postun_trans(b)) < 0)
                return r;
        for (size_t i = 0; i < b->n_installs; i++)
                if ((r = run_immed_file_triggers(b, b->installs[i]->element, b->installs[i], RPMSENSE_TRIGGERIN, TRIG_TRANS, 0)) < 0)
                        return r;
        return 0;
}

void plan_release(Plan *p) {
        if (!p)
                return;
        for (size_t i = 0; i < p->n_steps; i++) {
                strv_free((char **) p->steps[i].script.argv);
                free(p->steps[i].script.input);
        }
        free(p->steps);
        for (size_t i = 0; i < p->n_warnings; i++)
                free(p->warnings[i]);
        free(p->warnings);
        *p = (Plan) {};
}

static void builder_release(Builder *b) {
        for (size_t i = 0; i < b->n_pkgs; i++)
                pkg_release(&b->pkgs[i]);
        free(b->pkgs);
        free(b->db);
        free(b->installs);
        free(b->erases);
        free(b->postun);
        plan_release(&b->plan);
        free(b->error);
}

static void add_erase(Builder *b, Pkg *p, size_t element, bool upgrade) {
        if (p->removing)
                return; /* lib/depends.c removePackage(): once */
        p->removing = true;
        p->replaced = upgrade;
        p->element = element;
        b->erases[b->n_erases++] = p;
}

static int setup(Builder *b, const PlanInput *in) {
        int r;

        b->n_pkgs = in->n_installed + in->n_packages;
        b->pkgs = new0(Pkg, b->n_pkgs);
        b->db = new0(Pkg *, b->n_pkgs);
        b->installs = new0(Pkg *, in->n_packages);
        b->erases = new0(Pkg *, in->n_installed);
        if (!b->pkgs || !b->db || !b->installs || !b->erases)
                return -ENOMEM;
        for (size_t i = 0; i < b->n_pkgs; i++) {
                Pkg *p = &b->pkgs[i];
                p->installed = i < in->n_installed;
                p->index = p->installed ? i : i - in->n_installed;
                p->h = p->installed ? in->installed[i].header : in->packages[p->index].header;
                p->element = SIZE_MAX;
                if (!p->h)
                        return fail(b, -EINVAL, "%s package %zu has no header", p->installed ? "installed" : "new", p->index);
                if ((r = load_pkg(b, p)) < 0)
                        return r;
                if (p->installed) {
                        /* The database as it was, in PlanInput.installed's order. */
                        p->instance = ++b->last_instance;
                        p->in_db = true;
                        b->db[b->n_db++] = p;
                }
        }

        Pkg *inst = b->pkgs, *pkgs = b->pkgs + in->n_installed;
        _cleanup_free_ bool *explicit = new0(bool, in->n_installed);
        if (!explicit)
                return -ENOMEM;
        for (size_t e = 0; e < in->n_elements; e++)
                if (in->elements[e].op == PLAN_ERASE && in->elements[e].package < in->n_installed)
                        explicit[in->elements[e].package] = true;

        for (size_t e = 0; e < in->n_elements; e++) {
                const PlanElement *el = &in->elements[e];
                if (el->op == PLAN_INSTALL) {
                        if (el->package >= in->n_packages)
                                return fail(b, -EINVAL, "element %zu: no new package %zu", e, el->package);
                        Pkg *p = &pkgs[el->package];
                        if (p->element != SIZE_MAX)
                                return fail(b, -EINVAL, "element %zu: package %s is installed twice", e, p->nevra);
                        p->element = e;
                        b->installs[b->n_installs++] = p;
                        /* lib/depends.c addSelfErasures(): an install erases
                         * every installed instance of its name (colors and
                         * Obsoletes are not followed). One the elements
                         * erase explicitly is erased at that element's
                         * place: that is how a caller orders the erasures
                         * as rpm's ordering would. */
                        for (size_t i = 0; i < in->n_installed; i++)
                                if (streq(inst[i].name, p->name)) {
                                        p->replaces = true;
                                        if (!explicit[i])
                                                add_erase(b, &inst[i], e, true);
                                }
                } else if (el->op == PLAN_ERASE) {
                        if (el->package >= in->n_installed)
                                return fail(b, -EINVAL, "element %zu: no installed package %zu", e, el->package);
                        add_erase(b, &inst[el->package], e, false);
                } else
                        return fail(b, -EINVAL, "element %zu: unknown operation", e);
        }
        return 0;
}

int plan_build(const PlanInput *in, Plan *ret, char **ret_error) {
        _cleanup_(builder_release) Builder b = {};
        int r;

        assert(in && ret);
        if ((r = setup(&b, in)) < 0 || (r = run_transaction(&b)) < 0) {
                if (ret_error && r != -ENOMEM)
                        *ret_error = TAKE_PTR(b.error);
                return r;
        }
        *ret = b.plan;
        b.plan = (Plan) {};
        return 0;
}
