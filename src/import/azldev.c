/* SPDX-License-Identifier: MIT */

/* `slipway import azldev` (azldev.h; the mapping is docs/azldev.md).
 *
 * azldev's documents are read with slipway's TOML parser and kept whole, so
 * every value read keeps its place for messages. Four steps:
 *   1. load: azldev.toml and its includes, depth first (a file before what
 *      it includes, so that what it includes overrides it), each file once;
 *   2. walk: every table against azldev's format (types, enumerations);
 *      after the conversion, again to list the keys slipway cannot hold;
 *   3. convert: the merged distros, groups and components, each component's
 *      settings through azldev's layers (the project distro's version, the
 *      project, its groups in name order, its own), written out as the
 *      differences from what [distro] and its [groups.NAME] give;
 *   4. write: slipway.toml, components/NAME.toml and the copied files, then load
 *      the result as `slipway check` does. */

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/strbuf.h"
#include "config/project.h"
#include "config/toml.h"
#include "import/azldev.h"
#include "import/pathglob.h"

/* ---- azldev's format (docs/user/reference/config/ of azldev) ----------------- */

typedef enum AzType {
        AZ_STRING,
        AZ_BOOL,
        AZ_STRINGS, /* an array of strings */
        AZ_STRMAP,  /* a table of strings */
        AZ_TABLE,
        AZ_TABLES,  /* an array of tables */
        AZ_NAMED,   /* a table of tables: [key.NAME] */
        AZ_ANY,
        _AZ_TYPE_MAX,
} AzType;

/* Which subtrees' keys are reported: distros only if the project uses them,
 * a distro's versions only the project's own (its mock configuration and
 * inputs mean nothing for a distro specs only come from), resources only
 * where a repository is written (the conversion reports those). */
typedef enum AzRole {
        ROLE_NONE,
        ROLE_DISTROS,
        ROLE_VERSIONS,
        ROLE_QUIET,
} AzRole;

enum {
        DROP_IF_TRUE = 1 << 0,  /* reported only when the boolean is true */
        DROP_IF_FALSE = 1 << 1, /* reported only when the boolean is false */
        DROP_EACH = 1 << 2,     /* reported once for each entry of the table */
};

typedef struct AzKey {
        const char *key;
        AzType type;
        const struct AzKey *sub;    /* AZ_TABLE, AZ_TABLES, AZ_NAMED */
        const char *const *values;  /* AZ_STRING: the values allowed */
        const char *dropped;        /* not carried over: why */
        unsigned flags;
        AzRole role;
} AzKey;

static const char *const overlay_types[] = {
        "spec-add-tag",        "spec-insert-tag",     "spec-set-tag",           "spec-update-tag",
        "spec-remove-tag",     "spec-prepend-lines",  "spec-append-lines",      "spec-search-replace",
        "spec-remove-section", "spec-remove-subpackage", "patch-add",           "patch-remove",
        "file-prepend-lines",  "file-search-replace", "file-add",               "file-remove",
        "file-rename",         NULL,
};
static const char *const overlay_categories[] = {
        "upstream-backport",       "azl-pruning",           "azl-compatibility",          "azl-temp-workaround",
        "azl-branding-policy",     "azl-disable-flaky-tests", "azl-disable-unsupported-tests",
        "azl-security-compliance", "azl-release-management", "azl-platform-adaptation",    NULL,
};
static const char *const upstream_statuses[] = { "upstreamed", "upstreamable", "needs-upstream-hook", "inapplicable",
                                                  "unknown", NULL };
static const char *const spec_types[] = { "local", "upstream", "", NULL };
static const char *const release_calculations[] = { "auto", "autorelease", "static", "manual", NULL };
static const char *const repo_types[] = { "rpm-md", NULL };
static const char *const subrepo_kinds[] = { "binary", "debug", "source", NULL };

#define WHY_CHANNELS "slipway has no publish channels"
#define WHY_OUTPUT_DIRS "slipway writes builds, logs and outputs below its output directory (--out, default PROJECT/out)"
#define WHY_MOCK "slipway builds with rpmbuild, on the host or in its own buildroots ([build] mode, [repos]); it reads no mock configuration"
#define WHY_SNAPSHOT \
        "slipway follows the branch and records the commit it resolved in slipway.lock (`slipway update`); pin a commit with 'commit'"

static const AzKey url_keys[] = {
        { .key = "url", .type = AZ_STRING },
        {},
};
static const AzKey metadata_keys[] = {
        { .key = "category", .type = AZ_STRING, .values = overlay_categories },
        { .key = "upstream-status", .type = AZ_STRING, .values = upstream_statuses },
        { .key = "commits", .type = AZ_TABLES, .sub = url_keys },
        { .key = "bugs", .type = AZ_TABLES, .sub = url_keys },
        {},
};
static const AzKey overlay_keys[] = {
        { .key = "type", .type = AZ_STRING, .values = overlay_types },
        { .key = "description", .type = AZ_STRING },
        { .key = "file", .type = AZ_STRING },
        { .key = "archive", .type = AZ_STRING },
        { .key = "section", .type = AZ_STRING },
        { .key = "package", .type = AZ_STRING },
        { .key = "tag", .type = AZ_STRING },
        { .key = "value", .type = AZ_STRING },
        { .key = "regex", .type = AZ_STRING },
        { .key = "replacement", .type = AZ_STRING },
        { .key = "lines", .type = AZ_STRINGS },
        { .key = "source", .type = AZ_STRING },
        { .key = "metadata", .type = AZ_TABLE, .sub = metadata_keys },
        {},
};
static const AzKey distro_ref_keys[] = {
        { .key = "name", .type = AZ_STRING },
        { .key = "version", .type = AZ_STRING },
        { .key = "snapshot", .type = AZ_ANY, .dropped = WHY_SNAPSHOT },
        {},
};
static const AzKey spec_keys[] = {
        { .key = "type", .type = AZ_STRING, .values = spec_types },
        { .key = "path", .type = AZ_STRING },
        { .key = "upstream-distro", .type = AZ_TABLE, .sub = distro_ref_keys },
        { .key = "upstream-name", .type = AZ_STRING },
        { .key = "upstream-commit", .type = AZ_STRING },
        {},
};
static const AzKey release_keys[] = {
        { .key = "calculation", .type = AZ_STRING, .values = release_calculations },
        {},
};
static const AzKey check_keys[] = {
        { .key = "skip", .type = AZ_BOOL },
        { .key = "skip_reason", .type = AZ_STRING },
        {},
};
static const AzKey build_keys[] = {
        { .key = "with", .type = AZ_STRINGS },
        { .key = "without", .type = AZ_STRINGS },
        { .key = "defines", .type = AZ_STRMAP },
        { .key = "undefines", .type = AZ_ANY, .dropped = "slipway passes no --undefine to rpmbuild" },
        { .key = "emit-upstream-provenance", .type = AZ_BOOL, .flags = DROP_IF_TRUE,
          .dropped = "slipway does not define %fedora_upstream_version and %fedora_upstream_release" },
        { .key = "check", .type = AZ_TABLE, .sub = check_keys },
        { .key = "failure", .type = AZ_ANY, .dropped = "slipway has no expected failures: a build that fails is a failure" },
        { .key = "hints", .type = AZ_ANY, .dropped = "slipway has no scheduling hints" },
        {},
};
static const AzKey render_keys[] = {
        { .key = "skip-file-filter", .type = AZ_BOOL, .flags = DROP_IF_FALSE,
          .dropped = "slipway builds from every file of the dist-git tree; it removes none that the spec does not name" },
        {},
};
static const AzKey component_keys[] = {
        { .key = "spec", .type = AZ_TABLE, .sub = spec_keys },
        { .key = "release", .type = AZ_TABLE, .sub = release_keys },
        { .key = "overlays", .type = AZ_TABLES, .sub = overlay_keys },
        { .key = "overlay-files", .type = AZ_STRINGS },
        { .key = "build", .type = AZ_TABLE, .sub = build_keys },
        { .key = "render", .type = AZ_TABLE, .sub = render_keys },
        { .key = "source-files", .type = AZ_ANY,
          .dropped = "slipway takes an upstream component's sources from its dist-git tree and the lookaside cache only "
                     "(a file-add overlay adds a file of the project)" },
        { .key = "packages", .type = AZ_ANY, .dropped = WHY_CHANNELS },
        { .key = "publish", .type = AZ_ANY, .dropped = WHY_CHANNELS },
        {},
};
static const AzKey group_keys[] = {
        { .key = "description", .type = AZ_STRING },
        { .key = "metadata", .type = AZ_ANY, .dropped = "slipway's groups carry no metadata" },
        { .key = "components", .type = AZ_STRINGS },
        { .key = "specs", .type = AZ_STRINGS },
        { .key = "excluded-paths", .type = AZ_STRINGS },
        { .key = "default-component-config", .type = AZ_TABLE, .sub = component_keys },
        {},
};
static const AzKey input_keys[] = {
        { .key = "repo", .type = AZ_STRING },
        { .key = "set", .type = AZ_STRING },
        {},
};
static const AzKey inputs_keys[] = {
        { .key = "rpm-build", .type = AZ_TABLES, .sub = input_keys },
        { .key = "image-build", .type = AZ_TABLES, .sub = input_keys },
        {},
};
static const AzKey version_keys[] = {
        { .key = "description", .type = AZ_STRING },
        { .key = "release-ver", .type = AZ_STRING },
        { .key = "dist-git-branch", .type = AZ_STRING },
        { .key = "default-component-config", .type = AZ_TABLE, .sub = component_keys },
        { .key = "mock-config", .type = AZ_ANY, .dropped = WHY_MOCK },
        { .key = "mock-config-x86_64", .type = AZ_ANY, .dropped = WHY_MOCK },
        { .key = "mock-config-aarch64", .type = AZ_ANY, .dropped = WHY_MOCK },
        { .key = "inputs", .type = AZ_TABLE, .sub = inputs_keys },
        {},
};
static const AzKey distro_keys[] = {
        { .key = "description", .type = AZ_STRING },
        { .key = "default-version", .type = AZ_STRING },
        { .key = "dist-git-base-uri", .type = AZ_STRING },
        { .key = "lookaside-base-uri", .type = AZ_STRING },
        { .key = "repos", .type = AZ_ANY,
          .dropped = "slipway reads no distro package repositories; its [repos.NAME] come from resources.rpm-repos "
                     "and the project distro's inputs" },
        { .key = "disable-origins", .type = AZ_BOOL, .flags = DROP_IF_FALSE,
          .dropped = "slipway takes sources only from dist-git and the lookaside cache, never from their origins" },
        { .key = "versions", .type = AZ_NAMED, .sub = version_keys, .role = ROLE_VERSIONS },
        {},
};
static const AzKey project_keys[] = {
        { .key = "description", .type = AZ_STRING },
        { .key = "log-dir", .type = AZ_ANY, .dropped = WHY_OUTPUT_DIRS },
        { .key = "work-dir", .type = AZ_ANY, .dropped = WHY_OUTPUT_DIRS },
        { .key = "output-dir", .type = AZ_ANY, .dropped = WHY_OUTPUT_DIRS },
        { .key = "rendered-specs-dir", .type = AZ_ANY, .dropped = WHY_OUTPUT_DIRS },
        { .key = "lock-dir", .type = AZ_ANY,
          .dropped = "slipway records the resolved commits in slipway.lock beside slipway.toml (`slipway update`)" },
        { .key = "default-distro", .type = AZ_TABLE, .sub = distro_ref_keys },
        { .key = "default-author-email", .type = AZ_ANY, .dropped = "slipway writes no synthetic changelog entries or commits" },
        {},
};
static const AzKey repo_keys[] = {
        { .key = "description", .type = AZ_STRING },
        { .key = "type", .type = AZ_STRING, .values = repo_types },
        { .key = "base-uri", .type = AZ_STRING },
        { .key = "metalink", .type = AZ_STRING },
        { .key = "disable-gpg-check", .type = AZ_BOOL },
        { .key = "gpg-key", .type = AZ_STRING },
        { .key = "arches", .type = AZ_STRINGS },
        {},
};
static const AzKey subrepo_keys[] = {
        { .key = "name", .type = AZ_STRING },
        { .key = "subpath", .type = AZ_STRING },
        { .key = "kind", .type = AZ_STRING, .values = subrepo_kinds },
        {},
};
static const AzKey template_keys[] = {
        { .key = "description", .type = AZ_STRING },
        { .key = "subrepos", .type = AZ_TABLES, .sub = subrepo_keys },
        {},
};
static const AzKey set_keys[] = {
        { .key = "description", .type = AZ_STRING },
        { .key = "template", .type = AZ_STRING },
        { .key = "base-uri", .type = AZ_STRING },
        { .key = "name-prefix", .type = AZ_STRING },
        { .key = "gpg-key", .type = AZ_STRING },
        { .key = "disable-gpg-check", .type = AZ_BOOL },
        { .key = "arches", .type = AZ_STRINGS },
        { .key = "subrepos", .type = AZ_STRINGS },
        {},
};
static const AzKey resources_keys[] = {
        { .key = "rpm-repos", .type = AZ_NAMED, .sub = repo_keys },
        { .key = "rpm-repo-set-templates", .type = AZ_NAMED, .sub = template_keys },
        { .key = "rpm-repo-sets", .type = AZ_NAMED, .sub = set_keys },
        {},
};
static const AzKey file_keys[] = {
        { .key = "$schema", .type = AZ_STRING },
        { .key = "includes", .type = AZ_STRINGS },
        { .key = "project", .type = AZ_TABLE, .sub = project_keys },
        { .key = "distros", .type = AZ_NAMED, .sub = distro_keys, .role = ROLE_DISTROS },
        { .key = "resources", .type = AZ_TABLE, .sub = resources_keys, .role = ROLE_QUIET },
        { .key = "component-groups", .type = AZ_NAMED, .sub = group_keys },
        { .key = "components", .type = AZ_NAMED, .sub = component_keys },
        { .key = "images", .type = AZ_ANY, .flags = DROP_EACH,
          .dropped = "slipway's images are [images.NAME] tables (formats, packages, partitions); kiwi definitions are "
                     "not converted" },
        { .key = "test-suites", .type = AZ_ANY, .flags = DROP_EACH, .dropped = "slipway runs no image test suites" },
        { .key = "tools", .type = AZ_ANY, .dropped = "slipway runs no external image tools" },
        { .key = "default-component-config", .type = AZ_TABLE, .sub = component_keys },
        { .key = "default-package-config", .type = AZ_ANY, .dropped = WHY_CHANNELS },
        { .key = "package-groups", .type = AZ_ANY, .flags = DROP_EACH, .dropped = WHY_CHANNELS },
        {},
};
/* A file of overlay-files: one [metadata] for all of its [[overlays]]. */
static const AzKey overlay_file_keys[] = {
        { .key = "metadata", .type = AZ_TABLE, .sub = metadata_keys },
        { .key = "overlays", .type = AZ_TABLES, .sub = overlay_keys },
        {},
};

/* The repository set templates azldev ships (its defaultconfigs), which a
 * project's rpm-repo-sets may name without defining them. */
typedef struct BuiltinSubrepo {
        const char *template, *name, *subpath;
} BuiltinSubrepo;
static const BuiltinSubrepo builtin_subrepos[] = {
        { "azl-standard", "base", "base/$basearch" },
        { "azl-standard", "base-debug", "base/debuginfo/$basearch" },
        { "azl-standard", "base-src", "base/srpms" },
        { "azl-standard", "sdk", "sdk/$basearch" },
        { "azl-standard", "sdk-debug", "sdk/debuginfo/$basearch" },
        { "azl-standard", "sdk-src", "sdk/srpms" },
        { "koji-dist-repo", "binary", "$basearch" },
        { "koji-dist-repo", "debug", "$basearch/debug" },
        { "koji-dist-repo", "src", "src" },
};

/* ---- the importer's state ----------------------------------------------------- */

typedef struct AzFile {
        char *path; /* as opened: the project directory joined with its path */
        char *real;
        TomlDocument *doc;
        bool walked; /* overlay files: checked and reported once */
} AzFile;

/* One file's piece of a table that several files may set (a distro, [project]). */
typedef struct Part {
        const TomlValue *t;
        const char *file;
} Part;

typedef struct PartList {
        Part *items;
        size_t n, allocated;
} PartList;

typedef struct Distro {
        char *name;
        PartList parts;
        bool used;
} Distro;

/* A table of component settings, with the file its relative paths start
 * from and its key path for messages. */
typedef struct Layer {
        const TomlValue *t;
        const char *file;
        const char *path;
} Layer;

typedef struct Group {
        char *name;
        const TomlValue *t;
        const char *file;
        SourcePos pos;
        bool written; /* as a [groups.NAME] */
        /* What [groups.NAME] sets (NULL: not set, [distro]'s applies). */
        const char *dist_git, *lookaside, *branch, *release_mode;
} Group;

typedef struct Comp {
        char *name;
        const TomlValue *t; /* its [components.NAME]; NULL for one a group's specs found */
        const char *file;   /* where relative paths start: its table's file, or the spec found */
        SourcePos pos;
        const char *found_spec;
        size_t *groups; /* the azldev groups it is in, in name order (indexes into groups) */
        size_t n_groups;
        bool skip;      /* not imported (its name is not one slipway takes) */
} Comp;

/* A repository of resources: a [resources.rpm-repos.NAME], a set, a template. */
typedef struct Named {
        const char *name;
        const TomlValue *t;
        const char *file;
} Named;

typedef struct NamedList {
        Named *items;
        size_t n, allocated;
} NamedList;

/* Where an upstream distro reference leads. */
typedef struct Upstream {
        Distro *distro;
        const char *version;
        const char *dist_git, *lookaside, *branch;
} Upstream;

typedef struct RefCache {
        const TomlValue *ref;
        int r;
        Upstream u;
} RefCache;

typedef struct Copy {
        char *src;  /* as opened */
        char *dest; /* relative to the output directory */
} Copy;

typedef struct OutFile {
        char *path; /* relative to the output directory */
        StrBuf text;
} OutFile;

typedef struct Importer {
        const char *dir;
        const char *root_dir; /* dir, normalised: the prefix of the paths of its files */
        Diagnostics *d;
        bool oom;

        AzFile *files;
        size_t n_files, a_files;

        PartList project, defaults;
        Distro *distros;
        size_t n_distros, a_distros;
        Group *groups;
        size_t n_groups, a_groups;
        Comp *comps;
        size_t n_comps, a_comps;
        NamedList repos, sets, templates;

        /* The project's distro (project.default-distro) and its version. */
        Distro *target;
        const char *target_version;
        /* [distro]: what an upstream component without settings of its own gets. */
        Upstream def;
        bool have_def;
        const char *def_release_mode;
        /* [build] defines: those of the default layers. */
        const char **build_def_k, **build_def_v;
        size_t n_build_def;

        RefCache *refs;
        size_t n_refs, a_refs;
        Copy *copies;
        size_t n_copies, a_copies;
        OutFile *out;
        size_t n_out, a_out;

        AzldevDropped *dropped;
        size_t n_dropped, a_dropped;
        char **keep; /* strings freed at the end */
        size_t n_keep, a_keep;
} Importer;

/* s, freed with the importer; NULL (and oom set) when s is NULL. */
static char *keep(Importer *x, char *s) {
        if (!s || !GREEDY_REALLOC(x->keep, x->a_keep, x->n_keep + 1)) {
                free(s);
                x->oom = true;
                return NULL;
        }
        return x->keep[x->n_keep++] = s;
}

_printf_(2, 3) static char *kprintf(Importer *x, const char *fmt, ...) {
        va_list ap;
        char *s = NULL;
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        return keep(x, s);
}

/* qsort(3), which must not be given NULL, also for nothing to sort. */
static void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *)) {
        if (n > 1)
                qsort(base, n, size, cmp);
}

static bool streq_ptr(const char *a, const char *b) {
        return a == b || (a && b && strcmp(a, b) == 0);
}

static bool is_bare_key(const char *k) {
        if (!k[0])
                return false;
        for (const char *s = k; *s; s++)
                if (!(isalnum((unsigned char) *s) && (unsigned char) *s < 0x80) && *s != '_' && *s != '-')
                        return false;
        return true;
}

/* ---- TOML output ---------------------------------------------------------------- */

static void put_string(StrBuf *b, const char *s) {
        strbuf_putc(b, '"');
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;
                switch (c) {
                case '"':
                        strbuf_puts(b, "\\\"");
                        break;
                case '\\':
                        strbuf_puts(b, "\\\\");
                        break;
                case '\b':
                        strbuf_puts(b, "\\b");
                        break;
                case '\t':
                        strbuf_puts(b, "\\t");
                        break;
                case '\n':
                        strbuf_puts(b, "\\n");
                        break;
                case '\f':
                        strbuf_puts(b, "\\f");
                        break;
                case '\r':
                        strbuf_puts(b, "\\r");
                        break;
                default:
                        if (c < 0x20 || c == 0x7f)
                                strbuf_printf(b, "\\u%04X", c);
                        else
                                strbuf_putc(b, (char) c);
                }
        }
        strbuf_putc(b, '"');
}

static void put_key(StrBuf *b, const char *k) {
        if (is_bare_key(k))
                strbuf_puts(b, k);
        else
                put_string(b, k);
}

static void put_kv(StrBuf *b, const char *k, const char *v) {
        put_key(b, k);
        strbuf_puts(b, " = ");
        put_string(b, v);
        strbuf_putc(b, '\n');
}

/* An array of strings: on one line if it fits in 100 columns, else one item a line. */
static void put_list(StrBuf *b, const char *k, const char *const *items, size_t n) {
        size_t width = strlen(k) + 5;
        for (size_t i = 0; i < n; i++)
                width += strlen(items[i]) + 4;
        bool wrap = width > 100;
        put_key(b, k);
        strbuf_puts(b, " = [");
        for (size_t i = 0; i < n; i++) {
                strbuf_puts(b, wrap ? "\n    " : i > 0 ? ", " : "");
                put_string(b, items[i]);
                if (wrap)
                        strbuf_putc(b, ',');
        }
        strbuf_puts(b, wrap && n > 0 ? "\n]\n" : "]\n");
}

/* Text as comment lines; a control character other than a tab, which a
 * TOML comment must not hold, is written as \uXXXX. */
static void put_comment(StrBuf *b, const char *text) {
        bool start = true;
        for (const char *s = text; *s; s++) {
                unsigned char c = (unsigned char) *s;
                if (start)
                        strbuf_puts(b, *s == '\n' ? "#" : "# ");
                start = c == '\n';
                if (c == '\n' || c == '\t' || (c >= 0x20 && c != 0x7f))
                        strbuf_putc(b, (char) c);
                else
                        strbuf_printf(b, "\\u%04X", c);
        }
        if (!start)
                strbuf_putc(b, '\n');
}

/* "[a.NAME]" or "[[a.NAME.sub]]". */
static void put_header(StrBuf *b, bool array, const char *table, const char *name, const char *sub) {
        strbuf_puts(b, array ? "[[" : "[");
        strbuf_puts(b, table);
        strbuf_putc(b, '.');
        put_key(b, name);
        if (sub) {
                strbuf_putc(b, '.');
                strbuf_puts(b, sub);
        }
        strbuf_puts(b, array ? "]]\n" : "]\n");
}

/* ---- messages ------------------------------------------------------------------ */

/* "parent.key", the key quoted where TOML needs it. */
static char *keypath(Importer *x, const char *parent, const char *key) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        if (parent && parent[0]) {
                strbuf_puts(&b, parent);
                strbuf_putc(&b, '.');
        }
        put_key(&b, key);
        return keep(x, strbuf_detach(&b, NULL));
}

static char *indexpath(Importer *x, const char *parent, size_t i) {
        return kprintf(x, "%s[%zu]", parent, i);
}

_printf_(4, 5) static void drop(Importer *x, const SourcePos *pos, const char *key, const char *fmt, ...) {
        va_list ap;
        char *reason = NULL;
        va_start(ap, fmt);
        if (vasprintf(&reason, fmt, ap) < 0)
                reason = NULL;
        va_end(ap);
        char *file = strdup(pos && pos->file ? pos->file : "");
        char *k = strdup(key ? key : "");
        if (!reason || !file || !k || !GREEDY_REALLOC(x->dropped, x->a_dropped, x->n_dropped + 1)) {
                free(reason);
                free(file);
                free(k);
                x->oom = true;
                return;
        }
        x->dropped[x->n_dropped++] = (AzldevDropped) {
                .file = file,
                .line = pos ? pos->line : 0,
                .column = pos ? pos->column : 0,
                .key = k,
                .reason = reason,
        };
}

static int cmp_dropped(const void *a, const void *b) {
        const AzldevDropped *p = a, *q = b;
        int c = strcmp(p->file, q->file);
        if (c != 0)
                return c;
        if (p->line != q->line)
                return p->line < q->line ? -1 : 1;
        if (p->column != q->column)
                return p->column < q->column ? -1 : 1;
        c = strcmp(p->key, q->key);
        return c != 0 ? c : strcmp(p->reason, q->reason);
}

/* ---- reading TOML values ------------------------------------------------------- */

static const TomlEntry *entry(const TomlValue *t, const char *key) {
        return t && t->type == TOML_TABLE ? toml_table_entry(t, key) : NULL;
}

static const TomlValue *get(const TomlValue *t, const char *key) {
        const TomlEntry *e = entry(t, key);
        return e ? e->value : NULL;
}

static const TomlValue *get_table(const TomlValue *t, const char *key) {
        const TomlValue *v = get(t, key);
        return v && v->type == TOML_TABLE ? v : NULL;
}

static const char *get_str(const TomlValue *t, const char *key) {
        const TomlValue *v = get(t, key);
        return v && v->type == TOML_STRING ? v->string.s : NULL;
}

/* A string that is set and not empty, else NULL. */
static const char *get_nonempty(const TomlValue *t, const char *key) {
        const char *s = get_str(t, key);
        return s && s[0] ? s : NULL;
}

static bool get_bool(const TomlValue *t, const char *key, bool def) {
        const TomlValue *v = get(t, key);
        return v && v->type == TOML_BOOL ? v->boolean : def;
}

static const TomlValue *get_array(const TomlValue *t, const char *key) {
        const TomlValue *v = get(t, key);
        return v && v->type == TOML_ARRAY ? v : NULL;
}

static SourcePos key_pos(const TomlValue *t, const char *key) {
        const TomlEntry *e = entry(t, key);
        return e ? e->key_pos : t ? t->pos : (SourcePos) {};
}

/* ---- 1. loading ----------------------------------------------------------------- */

static bool is_regular(const char *path) {
        struct stat st;
        return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static char *base_name(const char *p) {
        const char *s = strrchr(p, '/');
        return (char *) (s ? s + 1 : p);
}

/* path relative to the directory of file (or absolute), normalised. */
static char *beside(Importer *x, const char *file, const char *path) {
        _cleanup_free_ char *dir = path_dirname(file);
        _cleanup_free_ char *joined = dir ? path_join(dir, path) : NULL;
        return keep(x, joined ? path_normalize(joined) : NULL);
}

/* The file at path, parsed (once: a file read before is returned as it is). */
static int parse_file(Importer *x, const char *path, AzFile **ret) {
        _cleanup_free_ char *real = realpath(path, NULL);
        for (size_t i = 0; real && i < x->n_files; i++)
                if (x->files[i].real && strcmp(x->files[i].real, real) == 0) {
                        *ret = &x->files[i];
                        return 0;
                }
        TomlDocument *doc = NULL;
        int r = toml_parse_file(path, NULL, x->d, &doc);
        if (r < 0)
                return r == -ENOMEM ? r : -EINVAL;
        char *p = strdup(path);
        if (!p || !GREEDY_REALLOC(x->files, x->a_files, x->n_files + 1)) {
                free(p);
                toml_document_free(doc);
                return -ENOMEM;
        }
        x->files[x->n_files] = (AzFile) { .path = p, .real = TAKE_PTR(real), .doc = doc };
        *ret = &x->files[x->n_files++];
        return 1;
}

static int load_file(Importer *x, const char *path, unsigned depth) {
        AzFile *f;
        if (depth > 64) {
                SourcePos pos = { .file = path };
                diag_error(x->d, &pos, "includes nest more than 64 deep");
                return -EINVAL;
        }
        int r = parse_file(x, path, &f);
        if (r <= 0)
                return r;
        /* f may move when files are added: keep what is needed. */
        const char *fpath = f->path;
        const TomlEntry *inc = entry(f->doc->root, "includes");
        if (!inc)
                return 0;
        const TomlValue *v = inc->value;
        if (v->type != TOML_ARRAY) {
                diag_error(x->d, &v->pos, "key 'includes' must be an array of strings");
                return -EINVAL;
        }
        for (size_t i = 0; i < v->array.n; i++) {
                const TomlValue *item = v->array.items[i];
                if (item->type != TOML_STRING) {
                        diag_error(x->d, &item->pos, "key 'includes[%zu]' must be a string", i);
                        return -EINVAL;
                }
                const char *full = beside(x, fpath, item->string.s);
                if (!full)
                        return -ENOMEM;
                if (glob_has_magic(item->string.s)) {
                        char **m = NULL;
                        size_t n;
                        r = glob_expand(full, &m, &n);
                        for (size_t k = 0; r >= 0 && k < n; k++)
                                r = load_file(x, m[k], depth + 1);
                        pathv_free(m);
                        if (r < 0)
                                return r;
                } else if (!is_regular(full)) {
                        diag_error(x->d, &item->pos, "included file '%s' does not exist", item->string.s);
                        return -EINVAL;
                } else if ((r = load_file(x, full, depth + 1)) < 0)
                        return r;
        }
        return 0;
}

/* ---- 2. the walk ---------------------------------------------------------------- */

static const char *const type_names[_AZ_TYPE_MAX] = {
        [AZ_STRING] = "a string",        [AZ_BOOL] = "a boolean",          [AZ_STRINGS] = "an array of strings",
        [AZ_STRMAP] = "a table of strings", [AZ_TABLE] = "a table",        [AZ_TABLES] = "an array of tables",
        [AZ_NAMED] = "a table of tables", [AZ_ANY] = "anything",
};

static bool type_ok(AzType t, const TomlValue *v) {
        switch (t) {
        case AZ_STRING:
                return v->type == TOML_STRING;
        case AZ_BOOL:
                return v->type == TOML_BOOL;
        case AZ_STRINGS:
        case AZ_TABLES:
                if (v->type != TOML_ARRAY)
                        return false;
                for (size_t i = 0; i < v->array.n; i++)
                        if (v->array.items[i]->type != (t == AZ_STRINGS ? TOML_STRING : TOML_TABLE))
                                return false;
                return true;
        case AZ_STRMAP:
        case AZ_NAMED:
                if (v->type != TOML_TABLE)
                        return false;
                for (size_t i = 0; i < v->table.n; i++)
                        if (v->table.entries[i].value->type != (t == AZ_STRMAP ? TOML_STRING : TOML_TABLE))
                                return false;
                return true;
        case AZ_TABLE:
                return v->type == TOML_TABLE;
        default:
                return true;
        }
}

static const char *article(const char *noun) {
        return strchr("aeiou", noun[0]) ? "an" : "a";
}

/* The value, or the item of an array or table, that is not of type t. */
static void type_error(Importer *x, AzType t, const TomlValue *v, const char *path) {
        AzType item = t == AZ_STRINGS || t == AZ_STRMAP ? AZ_STRING : t == AZ_TABLES || t == AZ_NAMED ? AZ_TABLE : t;
        if (item != t && v->type == (t == AZ_STRINGS || t == AZ_TABLES ? TOML_ARRAY : TOML_TABLE)) {
                size_t n = v->type == TOML_ARRAY ? v->array.n : v->table.n;
                for (size_t i = 0; i < n; i++) {
                        const TomlValue *e = v->type == TOML_ARRAY ? v->array.items[i] : v->table.entries[i].value;
                        if (type_ok(item, e))
                                continue;
                        const char *t_name = toml_type_to_string(e->type);
                        if (v->type == TOML_ARRAY)
                                diag_error(x->d, &e->pos, "key '%s[%zu]' must be %s, not %s %s", path, i,
                                           type_names[item], article(t_name), t_name);
                        else
                                diag_error(x->d, &e->pos, "key '%s' must be %s, not %s %s",
                                           keypath(x, path, v->table.entries[i].key), type_names[item],
                                           article(t_name), t_name);
                        return;
                }
        }
        const char *t_name = toml_type_to_string(v->type);
        diag_error(x->d, &v->pos, "key '%s' must be %s, not %s %s", path, type_names[t], article(t_name), t_name);
}

static Distro *find_distro(Importer *x, const char *name) {
        for (size_t i = 0; i < x->n_distros; i++)
                if (strcmp(x->distros[i].name, name) == 0)
                        return &x->distros[i];
        return NULL;
}

/* Checks t against schema (check: types and values, as errors), or reports
 * the keys slipway does not carry over (report). */
static void walk(Importer *x, const TomlValue *t, const AzKey *schema, const char *path, bool check, bool report,
                 const char *distro) {
        for (size_t i = 0; i < t->table.n; i++) {
                const TomlEntry *e = &t->table.entries[i];
                const TomlValue *v = e->value;
                const char *p = keypath(x, path, e->key);
                const AzKey *k = schema;
                while (k->key && strcmp(k->key, e->key) != 0)
                        k++;
                if (!p)
                        return;
                if (!k->key) {
                        if (report)
                                drop(x, &e->key_pos, p, "azldev has no such key (in the format slipway knows)");
                        continue;
                }
                if (!type_ok(k->type, v)) {
                        if (check)
                                type_error(x, k->type, v, p);
                        continue;
                }
                if (k->values && check) {
                        const char *const *s = k->values;
                        while (*s && strcmp(*s, v->string.s) != 0)
                                s++;
                        if (!*s) {
                                _cleanup_strbuf_ StrBuf all = STRBUF_INIT;
                                for (s = k->values; *s; s++)
                                        strbuf_printf(&all, "%s\"%s\"", s == k->values ? "" : ", ", *s);
                                diag_error(x->d, &v->pos, "key '%s': '%s' is not valid: expected one of %s", p,
                                           v->string.s, all.buf ? all.buf : "");
                        }
                }
                if (k->dropped) {
                        bool applies = !(k->flags & DROP_IF_TRUE && !v->boolean) && !(k->flags & DROP_IF_FALSE && v->boolean);
                        if (!report || !applies)
                                continue;
                        if (k->flags & DROP_EACH && v->type == TOML_TABLE && v->table.n > 0)
                                for (size_t j = 0; j < v->table.n; j++)
                                        drop(x, &v->table.entries[j].key_pos, keypath(x, p, v->table.entries[j].key),
                                             "%s", k->dropped);
                        else
                                drop(x, &e->key_pos, p, "%s", k->dropped);
                        continue;
                }
                switch (k->type) {
                case AZ_TABLE:
                        walk(x, v, k->sub, p, check, report && k->role != ROLE_QUIET, distro);
                        break;
                case AZ_TABLES:
                        for (size_t j = 0; j < v->array.n; j++)
                                walk(x, v->array.items[j], k->sub, indexpath(x, p, j), check, report, distro);
                        break;
                case AZ_NAMED:
                        for (size_t j = 0; j < v->table.n; j++) {
                                const TomlEntry *n = &v->table.entries[j];
                                bool rep = report;
                                if (k->role == ROLE_DISTROS) {
                                        Distro *dd = find_distro(x, n->key);
                                        rep = rep && dd && dd->used;
                                } else if (k->role == ROLE_VERSIONS)
                                        rep = rep && x->target && distro && strcmp(x->target->name, distro) == 0 &&
                                              strcmp(x->target_version, n->key) == 0;
                                walk(x, n->value, k->sub, keypath(x, p, n->key), check, rep,
                                     k->role == ROLE_DISTROS ? n->key : distro);
                        }
                        break;
                default:
                        break;
                }
        }
}

/* ---- 3. the model ---------------------------------------------------------------- */

static int parts_add(PartList *l, const TomlValue *t, const char *file) {
        if (!GREEDY_REALLOC(l->items, l->allocated, l->n + 1))
                return -ENOMEM;
        l->items[l->n++] = (Part) { t, file };
        return 0;
}

/* The last value of key among the parts (later files override earlier ones). */
static const TomlValue *parts_get(const PartList *l, const char *key, const Part **ret_part) {
        for (size_t i = l->n; i > 0; i--) {
                const TomlValue *v = get(l->items[i - 1].t, key);
                if (v) {
                        if (ret_part)
                                *ret_part = &l->items[i - 1];
                        return v;
                }
        }
        return NULL;
}

static const char *parts_str(const PartList *l, const char *key) {
        const TomlValue *v = parts_get(l, key, NULL);
        return v && v->type == TOML_STRING && v->string.s[0] ? v->string.s : NULL;
}

/* A key of version ver of distro d, from the last file that sets it. */
static const TomlValue *version_get(const Distro *d, const char *ver, const char *key) {
        for (size_t i = d->parts.n; i > 0; i--) {
                const TomlValue *v = get(get_table(get_table(d->parts.items[i - 1].t, "versions"), ver), key);
                if (v)
                        return v;
        }
        return NULL;
}

static bool version_exists(const Distro *d, const char *ver) {
        for (size_t i = 0; i < d->parts.n; i++)
                if (get_table(get_table(d->parts.items[i].t, "versions"), ver))
                        return true;
        return false;
}

static int named_set(NamedList *l, const char *name, const TomlValue *t, const char *file) {
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->items[i].name, name) == 0) {
                        l->items[i] = (Named) { name, t, file }; /* replaced whole, as azldev does */
                        return 0;
                }
        if (!GREEDY_REALLOC(l->items, l->allocated, l->n + 1))
                return -ENOMEM;
        l->items[l->n++] = (Named) { name, t, file };
        return 0;
}

static const Named *named_find(const NamedList *l, const char *name) {
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->items[i].name, name) == 0)
                        return &l->items[i];
        return NULL;
}

static Comp *find_comp(Importer *x, const char *name) {
        for (size_t i = 0; i < x->n_comps; i++)
                if (strcmp(x->comps[i].name, name) == 0)
                        return &x->comps[i];
        return NULL;
}

static int add_comp(Importer *x, const char *name, const TomlValue *t, const char *file, SourcePos pos) {
        char *n = strdup(name);
        if (!n || !GREEDY_REALLOC(x->comps, x->a_comps, x->n_comps + 1)) {
                free(n);
                return -ENOMEM;
        }
        x->comps[x->n_comps++] = (Comp) { .name = n, .t = t, .file = file, .pos = pos };
        return 0;
}

/* Gathers the tables of every file, in load order. */
static int collect(Importer *x) {
        int r;
        for (size_t i = 0; i < x->n_files; i++) {
                const TomlValue *root = x->files[i].doc->root;
                const char *file = x->files[i].path;
                const TomlValue *v;
                if ((v = get_table(root, "project")) && (r = parts_add(&x->project, v, file)) < 0)
                        return r;
                if ((v = get_table(root, "default-component-config")) && (r = parts_add(&x->defaults, v, file)) < 0)
                        return r;
                if ((v = get_table(root, "distros")))
                        for (size_t k = 0; k < v->table.n; k++) {
                                const TomlEntry *e = &v->table.entries[k];
                                Distro *dd = find_distro(x, e->key);
                                if (!dd) {
                                        char *n = strdup(e->key);
                                        if (!n || !GREEDY_REALLOC(x->distros, x->a_distros, x->n_distros + 1)) {
                                                free(n);
                                                return -ENOMEM;
                                        }
                                        dd = &x->distros[x->n_distros++];
                                        *dd = (Distro) { .name = n };
                                }
                                if ((r = parts_add(&dd->parts, e->value, file)) < 0)
                                        return r;
                        }
                if ((v = get_table(root, "component-groups")))
                        for (size_t k = 0; k < v->table.n; k++) {
                                const TomlEntry *e = &v->table.entries[k];
                                const Group *first = NULL;
                                for (size_t g = 0; g < x->n_groups && !first; g++)
                                        if (strcmp(x->groups[g].name, e->key) == 0)
                                                first = &x->groups[g];
                                if (first) {
                                        diag_error(x->d, &e->key_pos, "component group '%s' is defined twice, first at %s:%u:%u",
                                                   e->key, first->pos.file, first->pos.line, first->pos.column);
                                        continue;
                                }
                                char *n = strdup(e->key);
                                if (!n || !GREEDY_REALLOC(x->groups, x->a_groups, x->n_groups + 1)) {
                                        free(n);
                                        return -ENOMEM;
                                }
                                x->groups[x->n_groups++] = (Group) { .name = n, .t = e->value, .file = file, .pos = e->key_pos };
                        }
                if ((v = get_table(root, "components")))
                        for (size_t k = 0; k < v->table.n; k++) {
                                const TomlEntry *e = &v->table.entries[k];
                                const Comp *first = find_comp(x, e->key);
                                if (first) {
                                        diag_error(x->d, &e->key_pos, "component '%s' is defined twice, first at %s:%u:%u",
                                                   e->key, first->pos.file, first->pos.line, first->pos.column);
                                        continue;
                                }
                                if ((r = add_comp(x, e->key, e->value, file, e->key_pos)) < 0)
                                        return r;
                        }
                const TomlValue *res = get_table(root, "resources");
                struct {
                        const char *key;
                        NamedList *list;
                } lists[] = { { "rpm-repos", &x->repos }, { "rpm-repo-sets", &x->sets },
                              { "rpm-repo-set-templates", &x->templates } };
                for (size_t l = 0; l < ELEMENTSOF(lists); l++)
                        if ((v = get_table(res, lists[l].key)))
                                for (size_t k = 0; k < v->table.n; k++)
                                        if ((r = named_set(lists[l].list, v->table.entries[k].key, v->table.entries[k].value,
                                                           file)) < 0)
                                                return r;
        }
        return 0;
}

static int cmp_group(const void *a, const void *b) {
        return strcmp(((const Group *) a)->name, ((const Group *) b)->name);
}

static int cmp_comp(const void *a, const void *b) {
        return strcmp(((const Comp *) a)->name, ((const Comp *) b)->name);
}

static int comp_add_group(Comp *c, size_t g) {
        for (size_t i = 0; i < c->n_groups; i++)
                if (c->groups[i] == g)
                        return 0;
        size_t *n = realloc(c->groups, (c->n_groups + 1) * sizeof(size_t));
        if (!n)
                return -ENOMEM;
        c->groups = n;
        c->groups[c->n_groups++] = g;
        return 0;
}

static bool excluded(Importer *x, const Group *g, const char *spec) {
        const TomlValue *ex = get_array(g->t, "excluded-paths");
        for (size_t i = 0; ex && i < ex->array.n; i++) {
                const char *pat = beside(x, g->file, ex->array.items[i]->string.s);
                if (pat && glob_match_path(pat, spec))
                        return true;
        }
        return false;
}

/* The members of the groups: those they name, and the specs their `specs`
 * patterns find, which become components of their own. */
static int membership(Importer *x) {
        int r;
        sort(x->groups, x->n_groups, sizeof(Group), cmp_group);
        for (size_t g = 0; g < x->n_groups; g++) {
                const Group *grp = &x->groups[g];
                const char *gpath = keypath(x, "component-groups", grp->name);
                const TomlValue *specs = get_array(grp->t, "specs");
                size_t found = 0;
                for (size_t i = 0; specs && i < specs->array.n; i++) {
                        const TomlValue *item = specs->array.items[i];
                        const char *full = beside(x, grp->file, item->string.s);
                        char **m = NULL;
                        size_t n = 0;
                        if (!full)
                                return -ENOMEM;
                        if (glob_has_magic(full)) {
                                if ((r = glob_expand(full, &m, &n)) < 0)
                                        return r;
                        } else if (!is_regular(full)) {
                                diag_error(x->d, &item->pos, "spec '%s' does not exist", item->string.s);
                                continue;
                        } else {
                                m = new0(char *, 2);
                                if (!m || !(m[0] = strdup(full))) {
                                        pathv_free(m);
                                        return -ENOMEM;
                                }
                                n = 1;
                        }
                        for (size_t k = 0; k < n; k++) {
                                if (excluded(x, grp, m[k]))
                                        continue;
                                const char *spec = keep(x, strdup(m[k]));
                                char *name = keep(x, strdup(base_name(m[k])));
                                if (!spec || !name) {
                                        pathv_free(m);
                                        return -ENOMEM;
                                }
                                size_t l = strlen(name);
                                if (l > 5 && strcmp(name + l - 5, ".spec") == 0)
                                        name[l - 5] = 0;
                                Comp *c = find_comp(x, name);
                                if (!c) {
                                        if ((r = add_comp(x, name, NULL, spec, item->pos)) < 0) {
                                                pathv_free(m);
                                                return r;
                                        }
                                        c = &x->comps[x->n_comps - 1];
                                }
                                if (!c->found_spec)
                                        c->found_spec = spec;
                                if ((r = comp_add_group(c, g)) < 0) {
                                        pathv_free(m);
                                        return r;
                                }
                                found++;
                        }
                        pathv_free(m);
                }
                if (specs) {
                        SourcePos pos = key_pos(grp->t, "specs");
                        drop(x, &pos, keypath(x, gpath, "specs"),
                             "slipway does not look for specs: the %zu it finds now are written as components of "
                             "their own, and specs added later are not found",
                             found);
                }
        }
        /* Then the members named, which may be components specs found. */
        for (size_t g = 0; g < x->n_groups; g++) {
                const Group *grp = &x->groups[g];
                const char *gpath = keypath(x, "component-groups", grp->name);
                const TomlValue *list = get_array(grp->t, "components");
                for (size_t i = 0; list && i < list->array.n; i++) {
                        const TomlValue *item = list->array.items[i];
                        Comp *c = find_comp(x, item->string.s);
                        if (!c) {
                                drop(x, &item->pos, indexpath(x, keypath(x, gpath, "components"), i),
                                     "component '%s' is not defined", item->string.s);
                                continue;
                        }
                        if ((r = comp_add_group(c, g)) < 0)
                                return r;
                }
        }
        /* Each component's groups in name order, the order azldev applies them in. */
        for (size_t i = 0; i < x->n_comps; i++) {
                Comp *c = &x->comps[i];
                for (size_t a = 1; a < c->n_groups; a++)
                        for (size_t b = a; b > 0 && c->groups[b - 1] > c->groups[b]; b--) {
                                size_t t = c->groups[b];
                                c->groups[b] = c->groups[b - 1];
                                c->groups[b - 1] = t;
                        }
        }
        sort(x->comps, x->n_comps, sizeof(Comp), cmp_comp);
        return 0;
}

/* A distro reference ({ name, version }) resolved; errors once per reference. */
static int resolve_ref(Importer *x, const TomlValue *ref, const char *path, Upstream *ret) {
        for (size_t i = 0; i < x->n_refs; i++)
                if (x->refs[i].ref == ref) {
                        *ret = x->refs[i].u;
                        return x->refs[i].r;
                }
        Upstream u = {};
        int r = 0;
        const char *name = get_nonempty(ref, "name");
        const char *ver = get_nonempty(ref, "version");
        if (!name) {
                diag_error(x->d, &ref->pos, "key '%s' names no distro: 'name' is missing", path);
                r = -EINVAL;
        } else if (!(u.distro = find_distro(x, name))) {
                SourcePos pos = key_pos(ref, "name");
                diag_error(x->d, &pos, "key '%s.name': distro '%s' is not defined", path, name);
                r = -EINVAL;
        } else {
                if (!ver)
                        ver = parts_str(&u.distro->parts, "default-version");
                if (!ver) {
                        diag_error(x->d, &ref->pos, "key '%s': distro '%s' has no default-version; name a version", path,
                                   name);
                        r = -EINVAL;
                } else if (!version_exists(u.distro, ver)) {
                        SourcePos pos = key_pos(ref, get(ref, "version") ? "version" : "name");
                        diag_error(x->d, &pos, "key '%s': distro '%s' has no version '%s'", path, name, ver);
                        r = -EINVAL;
                } else {
                        const TomlValue *b = version_get(u.distro, ver, "dist-git-branch");
                        u.version = ver;
                        u.dist_git = parts_str(&u.distro->parts, "dist-git-base-uri");
                        u.lookaside = parts_str(&u.distro->parts, "lookaside-base-uri");
                        u.branch = b && b->type == TOML_STRING && b->string.s[0] ? b->string.s : NULL;
                        u.distro->used = true;
                }
        }
        if (!GREEDY_REALLOC(x->refs, x->a_refs, x->n_refs + 1))
                return -ENOMEM;
        x->refs[x->n_refs++] = (RefCache) { ref, r, u };
        *ret = u;
        return r;
}

/* ---- a component's settings through the layers ----------------------------------- */

typedef struct LayerVal {
        const TomlValue *v;
        const Layer *l;
        SourcePos pos; /* the key's */
        const char *path;
} LayerVal;

typedef struct OverlayUse {
        const TomlValue *t;
        const char *file;     /* its source is relative to this file's directory */
        const char *path;     /* for messages */
        const TomlValue *metadata; /* an overlay file's [metadata] */
} OverlayUse;

typedef struct Effective {
        LayerVal spec_type, spec_path, udistro, upstream_name, upstream_commit, release, overlay_files, skip,
                skip_reason;
        OverlayUse *overlays;
        size_t n_overlays, a_overlays;
        const TomlValue **with, **without;
        const char **with_path, **without_path;
        size_t n_with, n_without;
        const char **def_k, **def_v;
        size_t n_def;
} Effective;

static void effective_release(Effective *e) {
        free(e->overlays);
        free(e->with);
        free(e->without);
        free(e->with_path);
        free(e->without_path);
        free(e->def_k);
        free(e->def_v);
        *e = (Effective) {};
}

static void take(Importer *x, LayerVal *lv, const TomlValue *t, const char *key, const Layer *l, const char *parent) {
        const TomlEntry *e = entry(t, key);
        if (!e)
                return;
        *lv = (LayerVal) { .v = e->value, .l = l, .pos = e->key_pos, .path = keypath(x, parent, key) };
}

static int append_values(const TomlValue *a, const char *path, const TomlValue ***items, const char ***paths,
                         size_t *n) {
        for (size_t i = 0; a && i < a->array.n; i++) {
                const TomlValue *v = a->array.items[i];
                bool dup = false;
                for (size_t k = 0; k < *n && !dup; k++)
                        dup = strcmp((*items)[k]->string.s, v->string.s) == 0;
                if (dup)
                        continue;
                const TomlValue **ni = realloc(*items, (*n + 1) * sizeof(*ni));
                if (ni)
                        *items = ni;
                const char **np = realloc(*paths, (*n + 1) * sizeof(*np));
                if (np)
                        *paths = np;
                if (!ni || !np)
                        return -ENOMEM;
                (*items)[*n] = v;
                (*paths)[(*n)++] = path;
        }
        return 0;
}

/* Later layers override scalars, append to arrays (overlays, with, without)
 * and add to maps (defines); overlay-files is replaced whole. */
static int effective(Importer *x, const Layer *layers, size_t n, Effective *e) {
        int r;
        for (size_t i = 0; i < n; i++) {
                const Layer *l = &layers[i];
                const char *lp = l->path;
                const TomlValue *spec = get_table(l->t, "spec");
                const char *sp = keypath(x, lp, "spec");
                const char *type = get_str(spec, "type");
                if (type && type[0])
                        take(x, &e->spec_type, spec, "type", l, sp);
                take(x, &e->spec_path, spec, "path", l, sp);
                take(x, &e->udistro, spec, "upstream-distro", l, sp);
                take(x, &e->upstream_name, spec, "upstream-name", l, sp);
                take(x, &e->upstream_commit, spec, "upstream-commit", l, sp);
                take(x, &e->release, get_table(l->t, "release"), "calculation", l, keypath(x, lp, "release"));
                take(x, &e->overlay_files, l->t, "overlay-files", l, lp);
                const TomlValue *ov = get_array(l->t, "overlays");
                for (size_t k = 0; ov && k < ov->array.n; k++) {
                        if (!GREEDY_REALLOC(e->overlays, e->a_overlays, e->n_overlays + 1))
                                return -ENOMEM;
                        e->overlays[e->n_overlays++] = (OverlayUse) {
                                .t = ov->array.items[k],
                                .file = l->file,
                                .path = indexpath(x, keypath(x, lp, "overlays"), k),
                        };
                }
                const TomlValue *build = get_table(l->t, "build");
                const char *bp = keypath(x, lp, "build");
                if ((r = append_values(get_array(build, "with"), keypath(x, bp, "with"), &e->with, &e->with_path,
                                       &e->n_with)) < 0 ||
                    (r = append_values(get_array(build, "without"), keypath(x, bp, "without"), &e->without,
                                       &e->without_path, &e->n_without)) < 0)
                        return r;
                const TomlValue *defs = get_table(build, "defines");
                for (size_t k = 0; defs && k < defs->table.n; k++) {
                        const TomlEntry *d = &defs->table.entries[k];
                        size_t j = 0;
                        while (j < e->n_def && strcmp(e->def_k[j], d->key) != 0)
                                j++;
                        if (j == e->n_def) {
                                const char **nk = realloc(e->def_k, (j + 1) * sizeof(*nk));
                                if (nk)
                                        e->def_k = nk;
                                const char **nv = realloc(e->def_v, (j + 1) * sizeof(*nv));
                                if (nv)
                                        e->def_v = nv;
                                if (!nk || !nv)
                                        return -ENOMEM;
                                e->n_def++;
                        }
                        e->def_k[j] = d->key;
                        e->def_v[j] = d->value->string.s;
                }
                const TomlValue *chk = get_table(build, "check");
                const char *cp = keypath(x, bp, "check");
                take(x, &e->skip, chk, "skip", l, cp);
                take(x, &e->skip_reason, chk, "skip_reason", l, cp);
        }
        return x->oom ? -ENOMEM : 0;
}

/* Sorts names (and their values with them) bytewise. */
static void sort_pairs(const char **k, const char **v, size_t n) {
        for (size_t a = 1; a < n; a++)
                for (size_t i = a; i > 0 && strcmp(k[i - 1], k[i]) > 0; i--) {
                        const char *t = k[i];
                        k[i] = k[i - 1];
                        k[i - 1] = t;
                        t = v[i];
                        v[i] = v[i - 1];
                        v[i - 1] = t;
                }
}

static const char *release_mode_of(const LayerVal *calc) {
        const char *c = calc->v ? calc->v->string.s : "auto";
        return strcmp(c, "manual") == 0 || strcmp(c, "autorelease") == 0 ? "none" : "bump";
}

/* The layers below every component: the project distro version's
 * default-component-config, then the project's. */
static int default_layers(Importer *x, Layer **ret, size_t *ret_n) {
        size_t n = 0;
        Layer *l = new0(Layer, (x->target ? x->target->parts.n : 0) + x->defaults.n + 1);
        if (!l)
                return -ENOMEM;
        if (x->target) {
                const char *vp = keypath(x, keypath(x, keypath(x, "distros", x->target->name), "versions"),
                                         x->target_version);
                for (size_t i = 0; i < x->target->parts.n; i++) {
                        const TomlValue *t = get_table(get_table(get_table(x->target->parts.items[i].t, "versions"),
                                                                 x->target_version),
                                                       "default-component-config");
                        if (t)
                                l[n++] = (Layer) { t, x->target->parts.items[i].file,
                                                   keypath(x, vp, "default-component-config") };
                }
        }
        for (size_t i = 0; i < x->defaults.n; i++)
                l[n++] = (Layer) { x->defaults.items[i].t, x->defaults.items[i].file, "default-component-config" };
        *ret = l;
        *ret_n = n;
        return x->oom ? -ENOMEM : 0;
}

/* ---- copies ------------------------------------------------------------------------ */

/* Copies src to want (relative to the output directory), or, if another
 * file is there already, to the same name one directory "2", "3", ... deeper.
 * Returns the destination. */
static const char *copy_add(Importer *x, const char *src, const char *want) {
        _cleanup_free_ char *real = realpath(src, NULL);
        for (unsigned k = 1; k < 10000; k++) {
                const char *dest = want;
                if (k > 1) {
                        _cleanup_free_ char *dir = path_dirname(want);
                        dest = dir ? kprintf(x, "%s/%u/%s", dir, k, base_name(want)) : NULL;
                }
                if (!dest)
                        return NULL;
                bool taken = false;
                for (size_t i = 0; i < x->n_copies; i++) {
                        if (strcmp(x->copies[i].dest, dest) != 0)
                                continue;
                        _cleanup_free_ char *other = realpath(x->copies[i].src, NULL);
                        if (real && other && strcmp(real, other) == 0)
                                return x->copies[i].dest;
                        taken = true;
                }
                if (taken)
                        continue;
                char *s = strdup(src), *dd = strdup(dest);
                if (!s || !dd || !GREEDY_REALLOC(x->copies, x->a_copies, x->n_copies + 1)) {
                        free(s);
                        free(dd);
                        x->oom = true;
                        return NULL;
                }
                x->copies[x->n_copies++] = (Copy) { s, dd };
                return dd;
        }
        x->oom = true;
        return NULL;
}

/* ---- overlays --------------------------------------------------------------------- */

/* The keys of an overlay in the order slipway documents them. */
static const char *const overlay_string_keys[] = { "type",  "description", "tag",  "value",   "section", "package",
                                                   "regex", "replacement", NULL };
static const char *const overlay_string_keys2[] = { "file", "archive", NULL };

static void put_refs(StrBuf *b, const char *key, const TomlValue *a) {
        if (!a)
                return;
        put_key(b, key);
        strbuf_puts(b, " = [");
        for (size_t i = 0; i < a->array.n; i++) {
                strbuf_puts(b, i > 0 ? ", { url = " : "{ url = ");
                const char *u = get_str(a->array.items[i], "url");
                put_string(b, u ? u : "");
                strbuf_puts(b, " }");
        }
        strbuf_puts(b, "]\n");
}

/* path as shown relative to the azldev project (for comments, which must
 * not depend on where the project lies). */
static const char *project_relative(const Importer *x, const char *path) {
        size_t n = strlen(x->root_dir);
        if (strcmp(x->root_dir, ".") != 0 && strncmp(path, x->root_dir, n) == 0 && path[n] == '/')
                return path + n + 1;
        return path;
}

static int put_overlay(Importer *x, StrBuf *b, const Comp *c, const OverlayUse *o) {
        put_header(b, true, "components", c->name, "overlays");
        /* Where an overlay that is not the component's own inline one came from. */
        if (strcmp(o->file, c->file) != 0)
                put_comment(b, kprintf(x, "from %s", project_relative(x, o->file)));
        for (const char *const *k = overlay_string_keys; *k; k++) {
                const char *s = get_str(o->t, *k);
                if (s)
                        put_kv(b, *k, s);
        }
        const TomlValue *lines = get_array(o->t, "lines");
        if (lines) {
                const char **items = new0(const char *, lines->array.n);
                if (!items)
                        return -ENOMEM;
                for (size_t i = 0; i < lines->array.n; i++)
                        items[i] = lines->array.items[i]->string.s;
                put_list(b, "lines", items, lines->array.n);
                free(items);
        }
        for (const char *const *k = overlay_string_keys2; *k; k++) {
                const char *s = get_str(o->t, *k);
                if (s)
                        put_kv(b, *k, s);
        }
        const char *src = get_str(o->t, "source");
        if (src) {
                /* azldev: relative to the file the overlay is in; slipway:
                 * relative to the project directory. The file is copied
                 * beside the component, where it stood relative to that file
                 * (or under its own name if it stood outside). */
                const char *full = beside(x, o->file, src);
                _cleanup_free_ char *rel = path_normalize(src);
                if (!full || !rel)
                        return -ENOMEM;
                if (!is_regular(full)) {
                        SourcePos pos = key_pos(o->t, "source");
                        diag_error(x->d, &pos, "key '%s.source': overlay source '%s' does not exist", o->path, full);
                        return 0;
                }
                bool inside = src[0] != '/' && strcmp(rel, "..") != 0 && strncmp(rel, "../", 3) != 0;
                const char *dest = copy_add(x, full, kprintf(x, "components/%s/%s", c->name, inside ? rel : base_name(rel)));
                if (!dest)
                        return -ENOMEM;
                put_kv(b, "source", dest);
        }
        const TomlValue *m = o->metadata ? o->metadata : get_table(o->t, "metadata");
        if (m) {
                strbuf_putc(b, '\n');
                put_header(b, false, "components", c->name, "overlays.metadata");
                const char *s;
                if ((s = get_str(m, "category")))
                        put_kv(b, "category", s);
                if ((s = get_str(m, "upstream-status")))
                        put_kv(b, "upstream-status", s);
                put_refs(b, "commits", get_array(m, "commits"));
                put_refs(b, "bugs", get_array(m, "bugs"));
        }
        return 0;
}

static int cmp_by_basename(const void *a, const void *b) {
        const char *p = *(char *const *) a, *q = *(char *const *) b;
        int c = strcmp(base_name(p), base_name(q));
        return c != 0 ? c : strcmp(p, q);
}

/* The overlays of c's overlay-files, after its inline ones: each pattern's
 * files by file name, the patterns in their order, each file once. */
static int overlay_files(Importer *x, const Comp *c, const Effective *e, OverlayUse **ret, size_t *ret_n) {
        OverlayUse *list = NULL;
        size_t n = 0, a = 0;
        const TomlValue *pats = e->overlay_files.v;
        const char **seen = NULL;
        size_t n_seen = 0;
        int r = 0;
        for (size_t i = 0; pats && i < pats->array.n && r >= 0; i++) {
                const TomlValue *item = pats->array.items[i];
                /* Inherited patterns too start at the component's own file. */
                const char *full = beside(x, c->file, item->string.s);
                char **m = NULL;
                size_t nm = 0;
                if (!full) {
                        r = -ENOMEM;
                        break;
                }
                if (glob_has_magic(full)) {
                        if ((r = glob_expand(full, &m, &nm)) < 0)
                                break;
                        sort(m, nm, sizeof(char *), cmp_by_basename);
                } else if (!is_regular(full)) {
                        diag_error(x->d, &item->pos, "key '%s[%zu]': overlay file '%s' does not exist",
                                   e->overlay_files.path, i, full);
                        continue;
                } else if (!(m = new0(char *, 2)) || !(m[0] = strdup(full)))
                        r = -ENOMEM;
                else
                        nm = 1;
                for (size_t k = 0; k < nm && r >= 0; k++) {
                        bool dup = false;
                        for (size_t s = 0; s < n_seen && !dup; s++)
                                dup = strcmp(seen[s], m[k]) == 0;
                        if (dup)
                                continue;
                        const char **ns = realloc(seen, (n_seen + 1) * sizeof(*ns));
                        if (!ns) {
                                r = -ENOMEM;
                                break;
                        }
                        seen = ns;
                        if (!(seen[n_seen++] = keep(x, strdup(m[k])))) {
                                r = -ENOMEM;
                                break;
                        }
                        AzFile *f;
                        r = parse_file(x, m[k], &f);
                        if (r < 0)
                                break;
                        const TomlValue *root = f->doc->root;
                        const char *fpath = f->path;
                        if (!f->walked) {
                                f->walked = true;
                                size_t before = x->d->n_errors;
                                walk(x, root, overlay_file_keys, "", true, false, NULL);
                                if (x->d->n_errors > before) {
                                        r = -EINVAL;
                                        break;
                                }
                                walk(x, root, overlay_file_keys, "", false, true, NULL);
                        }
                        const TomlValue *meta = get_table(root, "metadata");
                        const TomlValue *ov = get_array(root, "overlays");
                        for (size_t j = 0; ov && j < ov->array.n; j++) {
                                const TomlValue *o = ov->array.items[j];
                                if (get(o, "metadata")) {
                                        SourcePos pos = key_pos(o, "metadata");
                                        diag_error(x->d, &pos,
                                                   "key 'overlays[%zu].metadata': an overlay file's overlays take their "
                                                   "metadata from its [metadata]",
                                                   j);
                                        r = -EINVAL;
                                        break;
                                }
                                if (!GREEDY_REALLOC(list, a, n + 1)) {
                                        r = -ENOMEM;
                                        break;
                                }
                                list[n++] = (OverlayUse) { .t = o, .file = fpath, .path = kprintf(x, "overlays[%zu]", j),
                                                           .metadata = meta };
                        }
                }
                pathv_free(m);
        }
        free(seen);
        if (r < 0) {
                free(list);
                return r;
        }
        *ret = list;
        *ret_n = n;
        return 0;
}

/* ---- components ------------------------------------------------------------------ */

/* The [groups.NAME] c is in: the first of its groups (by name) that is
 * written; a slipway component is in one group. */
static const Group *slip_group(const Importer *x, const Comp *c) {
        for (size_t i = 0; i < c->n_groups; i++)
                if (x->groups[c->groups[i]].written)
                        return &x->groups[c->groups[i]];
        return NULL;
}

static bool is_rpm_name(const char *s) {
        if (!s[0] || s[0] == '-' || s[0] == '.' || strlen(s) > 200)
                return false;
        for (; *s; s++)
                if (!(isalnum((unsigned char) *s) && (unsigned char) *s < 0x80) && !strchr("._+-", *s))
                        return false;
        return true;
}

static const char *azldev_key_of(const char *slipway_key) {
        return strcmp(slipway_key, "dist-git") == 0    ? "dist-git-base-uri"
               : strcmp(slipway_key, "lookaside") == 0 ? "lookaside-base-uri"
                                                       : "dist-git-branch";
}

/* Writes key = e if it differs from what slipway would take anyway
 * (inherited, from the group or [distro]). */
static void put_unless_inherited(Importer *x, StrBuf *b, const char *key, const char *e, const char *inherited,
                                 const LayerVal *from, const char *what) {
        if (streq_ptr(e, inherited))
                return;
        if (e) {
                put_kv(b, key, e);
                return;
        }
        drop(x, from->v ? &from->pos : NULL, from->path,
             "its distro has no %s for %s, which inherits '%s' in slipway (a component cannot clear it)",
             azldev_key_of(key), what, inherited);
}

/* The local spec of c and the files beside it, copied to components/NAME/;
 * returns the spec's new path. */
static const char *copy_local_spec(Importer *x, const Comp *c, const char *spec) {
        _cleanup_free_ char *dir = path_dirname(spec);
        const char *base = base_name(spec);
        const char *dest = copy_add(x, spec, kprintf(x, "components/%s/%s", c->name, base));
        if (!dir || !dest)
                return NULL;
        _cleanup_(closedirp) DIR *d = opendir(dir);
        if (!d)
                return dest;
        char **names = NULL;
        size_t n = 0;
        for (struct dirent *de; (de = readdir(d));) {
                const char *nm = de->d_name;
                size_t l = strlen(nm);
                /* Not the configuration (.comp.toml, overlay files), not other
                 * specs, not hidden files. */
                if (nm[0] == '.' || strcmp(nm, base) == 0 || (l > 5 && strcmp(nm + l - 5, ".toml") == 0) ||
                    (l > 5 && strcmp(nm + l - 5, ".spec") == 0))
                        continue;
                _cleanup_free_ char *p = path_join(dir, nm);
                if (!p)
                        break;
                if (!is_regular(p))
                        continue;
                char **nn = realloc(names, (n + 1) * sizeof(char *));
                if (!nn)
                        break;
                names = nn;
                if (!(names[n] = strdup(nm)))
                        break;
                n++;
        }
        sort(names, n, sizeof(char *), cmp_by_basename);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *p = path_join(dir, names[i]);
                if (!p || !copy_add(x, p, kprintf(x, "components/%s/%s", c->name, names[i])))
                        x->oom = true;
                free(names[i]);
        }
        free(names);
        return dest;
}

typedef struct CompOut {
        bool bare;
        size_t overlays;
} CompOut;

static int component_toml(Importer *x, Comp *c, StrBuf *b, CompOut *ret) {
        _cleanup_free_ Layer *layers = NULL;
        _cleanup_(effective_release) Effective e = {};
        _cleanup_free_ OverlayUse *from_files = NULL;
        _cleanup_strbuf_ StrBuf keys = STRBUF_INIT, ovl = STRBUF_INIT;
        size_t n_layers, n_files = 0;
        const char *cpath = keypath(x, "components", c->name);
        int r;

        r = default_layers(x, &layers, &n_layers);
        if (r < 0)
                return r;
        Layer *more = realloc(layers, (n_layers + c->n_groups + 1) * sizeof(Layer));
        if (!more)
                return -ENOMEM;
        layers = more;
        for (size_t i = 0; i < c->n_groups; i++) {
                const Group *g = &x->groups[c->groups[i]];
                const TomlValue *dcc = get_table(g->t, "default-component-config");
                if (dcc)
                        layers[n_layers++] = (Layer) { dcc, g->file,
                                                       keypath(x, keypath(x, "component-groups", g->name),
                                                               "default-component-config") };
        }
        const Layer *own = NULL;
        if (c->t) {
                layers[n_layers] = (Layer) { c->t, c->file, cpath };
                own = &layers[n_layers++];
        }
        r = effective(x, layers, n_layers, &e);
        if (r < 0)
                return r;

        bool local = (e.spec_type.v && strcmp(e.spec_type.v->string.s, "local") == 0) ||
                     (c->found_spec && !(e.spec_type.v && e.spec_type.l == own));
        if (local) {
                const char *spec = NULL;
                if (c->found_spec && !(e.spec_path.v && e.spec_path.l == own))
                        spec = c->found_spec;
                else if (e.spec_path.v && e.spec_path.v->string.s[0])
                        spec = beside(x, e.spec_path.l->file, e.spec_path.v->string.s);
                else {
                        SourcePos pos = e.spec_type.v ? e.spec_type.pos : c->pos;
                        diag_error(x->d, &pos, "component '%s' has a local spec without 'path'", c->name);
                        return 0;
                }
                if (!spec)
                        return -ENOMEM;
                if (!is_regular(spec)) {
                        diag_error(x->d, &e.spec_path.pos, "key '%s': local spec '%s' does not exist", e.spec_path.path,
                                   spec);
                        return 0;
                }
                const char *dest = copy_local_spec(x, c, spec);
                if (!dest)
                        return -ENOMEM;
                put_kv(&keys, "spec", dest);
                for (size_t i = 0; i < e.n_overlays; i++) {
                        SourcePos pos = e.overlays[i].t->pos;
                        drop(x, &pos, e.overlays[i].path,
                             "component '%s' builds from a local spec; slipway applies overlays to upstream components "
                             "only (change the spec itself)",
                             c->name);
                }
                if (e.overlay_files.v && e.overlay_files.v->array.n > 0)
                        drop(x, &e.overlay_files.pos, e.overlay_files.path,
                             "component '%s' builds from a local spec; slipway applies overlays to upstream components "
                             "only (change the spec itself)",
                             c->name);
                if (own && e.release.v && e.release.l == own)
                        drop(x, &e.release.pos, e.release.path,
                             "component '%s' builds from a local spec, whose Release slipway does not change", c->name);
        } else {
                const Group *g = slip_group(x, c);
                const char *un = e.upstream_name.v ? e.upstream_name.v->string.s : NULL;
                if (un && un[0] && strcmp(un, c->name) != 0)
                        put_kv(&keys, "upstream-name", un);
                Upstream u = {};
                if (e.udistro.v) {
                        r = resolve_ref(x, e.udistro.v, e.udistro.path, &u);
                        if (r < 0)
                                return r == -ENOMEM ? r : 0;
                } else if (x->target) {
                        u = x->def;
                } else {
                        diag_error(x->d, &c->pos,
                                   "component '%s' has no upstream distro: the project has no default-distro and the "
                                   "component no spec.upstream-distro",
                                   c->name);
                        return 0;
                }
                if (!u.dist_git) {
                        SourcePos pos = e.udistro.v ? e.udistro.pos : c->pos;
                        diag_error(x->d, &pos, "component '%s': distro '%s' has no dist-git-base-uri", c->name,
                                   u.distro ? u.distro->name : "?");
                        return 0;
                }
                const char *what = kprintf(x, "component '%s'", c->name);
                const char *base[] = { "dist-git", "lookaside", "branch" };
                const char *mine[] = { u.dist_git, u.lookaside, u.branch };
                const char *distro[] = { x->have_def ? x->def.dist_git : NULL, x->have_def ? x->def.lookaside : NULL,
                                         x->have_def ? x->def.branch : NULL };
                const char *grp[] = { g ? g->dist_git : NULL, g ? g->lookaside : NULL, g ? g->branch : NULL };
                for (size_t i = 0; i < ELEMENTSOF(base); i++) {
                        LayerVal at = e.udistro;
                        if (!at.v)
                                at.path = azldev_key_of(base[i]);
                        put_unless_inherited(x, &keys, base[i], mine[i], grp[i] ? grp[i] : distro[i], &at, what);
                }
                if (e.upstream_commit.v) {
                        char *commit = keep(x, strdup(e.upstream_commit.v->string.s));
                        if (!commit)
                                return -ENOMEM;
                        for (char *s = commit; *s; s++)
                                *s = (char) tolower((unsigned char) *s);
                        put_kv(&keys, "commit", commit);
                }
                const char *mode = release_mode_of(&e.release);
                const char *inherited = g && g->release_mode ? g->release_mode : x->def_release_mode;
                if (!streq_ptr(mode, inherited))
                        put_kv(&keys, "release-mode", mode);

                /* Overlays: inline ones (the layers' in order), then overlay-files. */
                r = overlay_files(x, c, &e, &from_files, &n_files);
                if (r < 0)
                        return r == -ENOMEM ? r : 0;
                for (size_t i = 0; i < e.n_overlays + n_files; i++) {
                        const OverlayUse *o = i < e.n_overlays ? &e.overlays[i] : &from_files[i - e.n_overlays];
                        strbuf_putc(&ovl, '\n');
                        if ((r = put_overlay(x, &ovl, c, o)) < 0)
                                return r;
                }
                ret->overlays = e.n_overlays + n_files;
        }

        /* What spec and upstream components share: rpmbuild's settings. */
        const char **with = new0(const char *, e.n_with + 1), **without = new0(const char *, e.n_without + 1);
        size_t nw = 0, nwo = 0;
        if (!with || !without) {
                free(with);
                free(without);
                return -ENOMEM;
        }
        for (size_t i = 0; i < e.n_with; i++)
                with[nw++] = e.with[i]->string.s;
        for (size_t i = 0; i < e.n_without; i++) {
                bool both = false;
                for (size_t k = 0; k < e.n_with && !both; k++)
                        both = strcmp(e.with[k]->string.s, e.without[i]->string.s) == 0;
                if (both)
                        drop(x, &e.without[i]->pos, e.without_path[i],
                             "'%s' is also in 'with'; a slipway condition is either on or off, and it stays on",
                             e.without[i]->string.s);
                else
                        without[nwo++] = e.without[i]->string.s;
        }
        if (nw > 0)
                put_list(&keys, "with", with, nw);
        if (nwo > 0)
                put_list(&keys, "without", without, nwo);
        free(with);
        free(without);

        /* defines, in name order (azldev's maps have none of their own), but
         * not those [build] defines already, the same. */
        sort_pairs(e.def_k, e.def_v, e.n_def);
        size_t nd = 0;
        for (size_t i = 0; i < e.n_def; i++) {
                bool inherited = false;
                for (size_t k = 0; k < x->n_build_def && !inherited; k++)
                        inherited = strcmp(x->build_def_k[k], e.def_k[i]) == 0 &&
                                    strcmp(x->build_def_v[k], e.def_v[i]) == 0;
                if (inherited)
                        continue;
                strbuf_puts(&keys, nd++ == 0 ? "defines = { " : ", ");
                put_key(&keys, e.def_k[i]);
                strbuf_puts(&keys, " = ");
                put_string(&keys, e.def_v[i]);
        }
        if (nd > 0)
                strbuf_puts(&keys, " }\n");

        bool skip = e.skip.v && e.skip.v->boolean;
        if (skip) {
                if (!e.skip_reason.v || !e.skip_reason.v->string.s[0]) {
                        diag_error(x->d, &e.skip.pos, "key '%s': tests are skipped without a 'skip_reason' (azldev needs one)",
                                   e.skip.path);
                        return 0;
                }
                strbuf_puts(&keys, "check-skip = true\n");
                put_kv(&keys, "check-skip-reason", e.skip_reason.v->string.s);
        } else if (e.skip_reason.v)
                drop(x, &e.skip_reason.pos, e.skip_reason.path,
                     "slipway takes a reason only with check-skip = true, and component '%s' runs its tests", c->name);

        put_header(b, false, "components", c->name, NULL);
        if (keys.buf)
                strbuf_puts(b, keys.buf);
        if (ovl.buf)
                strbuf_puts(b, ovl.buf);
        ret->bare = keys.len == 0 && ovl.len == 0;
        return x->oom || keys.oom || ovl.oom ? -ENOMEM : 0;
}

/* ---- repositories ------------------------------------------------------------------ */

typedef struct RepoPlan {
        const char *name;
        const char *url;         /* with $releasever replaced */
        const TomlValue *url_at; /* the value it came from */
        const char *url_path;
        const TomlValue *t;      /* the table with gpg-key, disable-gpg-check, arches, description */
        const char *file;
        const char *path;
} RepoPlan;

static char *replace_all(Importer *x, const char *s, const char *what, const char *with) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        size_t wl = strlen(what);
        for (const char *p = s; *p;) {
                if (strncmp(p, what, wl) == 0) {
                        strbuf_puts(&b, with);
                        p += wl;
                } else
                        strbuf_putc(&b, *p++);
        }
        return keep(x, strbuf_detach(&b, NULL));
}

static int plan_add(RepoPlan **plans, size_t *n, size_t *a, RepoPlan p) {
        for (size_t i = 0; i < *n; i++)
                if (strcmp((*plans)[i].name, p.name) == 0)
                        return 0;
        if (!greedy_realloc((void **) plans, a, *n + 1, sizeof(RepoPlan)))
                return -ENOMEM;
        (*plans)[(*n)++] = p;
        return 0;
}

/* The repositories of the project distro's inputs (rpm-build, then
 * image-build), a set expanded into its sub-repositories. */
static int repo_plans(Importer *x, RepoPlan **ret, size_t *ret_n) {
        RepoPlan *plans = NULL;
        size_t n = 0, a = 0;
        int r = 0;
        const TomlValue *inputs = x->target ? version_get(x->target, x->target_version, "inputs") : NULL;
        const char *ipath = x->target ? keypath(x, keypath(x, keypath(x, keypath(x, "distros", x->target->name),
                                                                           "versions"),
                                                                x->target_version),
                                                "inputs")
                                      : NULL;
        const char *const uses[] = { "rpm-build", "image-build" };
        for (size_t u = 0; u < ELEMENTSOF(uses) && inputs && inputs->type == TOML_TABLE && r >= 0; u++) {
                const TomlValue *list = get_array(inputs, uses[u]);
                for (size_t i = 0; list && i < list->array.n && r >= 0; i++) {
                        const TomlValue *in = list->array.items[i];
                        const char *repo = get_nonempty(in, "repo"), *set = get_nonempty(in, "set");
                        const char *ip = indexpath(x, keypath(x, ipath, uses[u]), i);
                        if (!!repo == !!set) {
                                diag_error(x->d, &in->pos, "key '%s': an input names either a 'repo' or a 'set'", ip);
                                continue;
                        }
                        if (repo) {
                                const Named *nr = named_find(&x->repos, repo);
                                if (!nr) {
                                        SourcePos pos = key_pos(in, "repo");
                                        diag_error(x->d, &pos, "key '%s.repo': repository '%s' is not defined in "
                                                               "resources.rpm-repos", ip, repo);
                                        continue;
                                }
                                const char *rp = keypath(x, "resources.rpm-repos", nr->name);
                                const TomlValue *bu = get(nr->t, "base-uri");
                                r = plan_add(&plans, &n, &a,
                                             (RepoPlan) { .name = nr->name,
                                                          .url = bu ? bu->string.s : NULL,
                                                          .url_at = bu,
                                                          .url_path = keypath(x, rp, "base-uri"),
                                                          .t = nr->t,
                                                          .file = nr->file,
                                                          .path = rp });
                                continue;
                        }
                        const Named *ns = named_find(&x->sets, set);
                        if (!ns) {
                                SourcePos pos = key_pos(in, "set");
                                diag_error(x->d, &pos, "key '%s.set': repository set '%s' is not defined in "
                                                       "resources.rpm-repo-sets", ip, set);
                                continue;
                        }
                        const char *sp = keypath(x, "resources.rpm-repo-sets", ns->name);
                        const char *tname = get_nonempty(ns->t, "template");
                        const char *prefix = get_str(ns->t, "name-prefix");
                        const TomlValue *bu = get(ns->t, "base-uri");
                        const TomlValue *allow = get_array(ns->t, "subrepos");
                        const Named *tp = tname ? named_find(&x->templates, tname) : NULL;
                        bool builtin = false;
                        for (size_t k = 0; tname && !tp && k < ELEMENTSOF(builtin_subrepos); k++)
                                builtin = builtin || strcmp(builtin_subrepos[k].template, tname) == 0;
                        if (!tp && !builtin) {
                                SourcePos pos = key_pos(ns->t, "template");
                                diag_error(x->d, &pos, "key '%s.template': template '%s' is not defined", sp,
                                           tname ? tname : "");
                                continue;
                        }
                        if (!bu || !bu->string.s[0]) {
                                diag_error(x->d, &ns->t->pos, "key '%s': a repository set needs 'base-uri'", sp);
                                continue;
                        }
                        const TomlValue *subs = tp ? get_array(tp->t, "subrepos") : NULL;
                        size_t count = tp ? (subs ? subs->array.n : 0) : ELEMENTSOF(builtin_subrepos);
                        for (size_t k = 0; k < count && r >= 0; k++) {
                                const char *sname, *subpath;
                                if (tp) {
                                        sname = get_str(subs->array.items[k], "name");
                                        subpath = get_str(subs->array.items[k], "subpath");
                                } else {
                                        if (strcmp(builtin_subrepos[k].template, tname) != 0)
                                                continue;
                                        sname = builtin_subrepos[k].name;
                                        subpath = builtin_subrepos[k].subpath;
                                }
                                if (!sname || !subpath)
                                        continue;
                                bool wanted = !allow || allow->array.n == 0;
                                for (size_t j = 0; allow && j < allow->array.n && !wanted; j++)
                                        wanted = strcmp(allow->array.items[j]->string.s, sname) == 0;
                                if (!wanted)
                                        continue;
                                size_t bl = strlen(bu->string.s);
                                const char *url = kprintf(x, "%s%s%s", bu->string.s,
                                                          bl > 0 && bu->string.s[bl - 1] == '/' ? "" : "/", subpath);
                                r = plan_add(&plans, &n, &a,
                                             (RepoPlan) { .name = kprintf(x, "%s%s", prefix ? prefix : "", sname),
                                                          .url = url,
                                                          .url_at = bu,
                                                          .url_path = keypath(x, sp, "base-uri"),
                                                          .t = ns->t,
                                                          .file = ns->file,
                                                          .path = sp });
                        }
                }
        }
        if (r < 0 || x->oom) {
                free(plans);
                return r < 0 ? r : -ENOMEM;
        }
        *ret = plans;
        *ret_n = n;
        return 0;
}

static int cmp_plan(const void *a, const void *b) {
        return strcmp(((const RepoPlan *) a)->name, ((const RepoPlan *) b)->name);
}

static bool is_repo_name(const char *s) {
        if (!(isalnum((unsigned char) s[0]) && (unsigned char) s[0] < 0x80) || strlen(s) > 100)
                return false;
        for (; *s; s++)
                if (!(isalnum((unsigned char) *s) && (unsigned char) *s < 0x80) && !strchr("._:-", *s))
                        return false;
        return true;
}

static int repos_toml(Importer *x, StrBuf *b, size_t *ret_n) {
        _cleanup_free_ RepoPlan *plans = NULL;
        size_t n, written = 0;
        int r = repo_plans(x, &plans, &n);
        if (r < 0)
                return r;
        sort(plans, n, sizeof(RepoPlan), cmp_plan);
        const TomlValue *rv = x->target ? version_get(x->target, x->target_version, "release-ver") : NULL;
        for (size_t i = 0; i < n; i++) {
                const RepoPlan *p = &plans[i];
                SourcePos upos = p->url_at ? p->url_at->pos : p->t->pos;
                if (!is_repo_name(p->name)) {
                        drop(x, &p->t->pos, p->path, "'%s' is not a name slipway takes for a repository", p->name);
                        continue;
                }
                if (!p->url || !p->url[0]) {
                        bool ml = get(p->t, "metalink");
                        SourcePos pos = key_pos(p->t, ml ? "metalink" : "base-uri");
                        drop(x, &pos, keypath(x, p->path, ml ? "metalink" : "base-uri"),
                             ml ? "slipway reads a repository from its base URL, not a metalink: repository '%s' is "
                                  "not carried over"
                                : "repository '%s' has no base-uri",
                             p->name);
                        continue;
                }
                const char *url = p->url;
                if (rv && rv->type == TOML_STRING)
                        url = replace_all(x, url, "$releasever", rv->string.s);
                if (!url)
                        return -ENOMEM;
                if (strstr(url, "$basearch")) {
                        drop(x, &upos, p->url_path,
                             "slipway does not expand '$basearch' in a repository URL: repository '%s' is not carried "
                             "over (add [repos.%s] with the URL for your architecture)",
                             p->name, p->name);
                        continue;
                }
                if (!(strncmp(url, "file:///", 8) == 0 || strncmp(url, "http://", 7) == 0 ||
                      strncmp(url, "https://", 8) == 0)) {
                        drop(x, &upos, p->url_path,
                             "slipway reads repositories over http://, https:// or file:///: repository '%s' is not "
                             "carried over", p->name);
                        continue;
                }
                bool gpgcheck = !get_bool(p->t, "disable-gpg-check", false);
                const char *key = get_nonempty(p->t, "gpg-key");
                const char *key_out = NULL;
                if (key) {
                        if (strncmp(key, "http://", 7) == 0 || strncmp(key, "https://", 8) == 0)
                                key_out = key;
                        else {
                                /* A file: copied into keys/ of the new project. */
                                const char *src = strncmp(key, "file://", 7) == 0 ? key + 7 : beside(x, p->file, key);
                                if (!src)
                                        return -ENOMEM;
                                if (!is_regular(src)) {
                                        SourcePos pos = key_pos(p->t, "gpg-key");
                                        diag_error(x->d, &pos, "key '%s.gpg-key': key file '%s' does not exist", p->path,
                                                   src);
                                        continue;
                                }
                                if (!(key_out = copy_add(x, src, kprintf(x, "keys/%s", base_name(src)))))
                                        return -ENOMEM;
                        }
                } else if (gpgcheck) {
                        drop(x, &p->t->pos, p->path,
                             "repository '%s' has no gpg-key and does not set disable-gpg-check; slipway checks "
                             "packages against a key: it is not carried over",
                             p->name);
                        continue;
                }
                const TomlValue *arches = get_array(p->t, "arches");
                if (arches && arches->array.n > 0) {
                        SourcePos pos = key_pos(p->t, "arches");
                        drop(x, &pos, keypath(x, p->path, "arches"),
                             "slipway uses a repository for every architecture: repository '%s' is written for all",
                             p->name);
                }
                strbuf_putc(b, '\n');
                put_header(b, false, "repos", p->name, NULL);
                const char *desc = get_nonempty(p->t, "description");
                if (desc)
                        put_comment(b, desc);
                put_kv(b, "url", url);
                if (key_out)
                        put_kv(b, "gpg-key", key_out);
                if (!gpgcheck)
                        strbuf_puts(b, "gpgcheck = false\n");
                written++;
        }
        *ret_n = written;
        return x->oom ? -ENOMEM : 0;
}

/* ---- the project --------------------------------------------------------------- */

static bool is_project_name(const char *s) {
        if (!s[0] || s[0] == '-' || strlen(s) > 64)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
                        return false;
        return true;
}

static bool is_version(const char *s) {
        if (!s[0] || strlen(s) > 64)
                return false;
        for (; *s; s++)
                if (!(isalnum((unsigned char) *s) && (unsigned char) *s < 0x80) && !strchr("._+~^", *s))
                        return false;
        return true;
}

/* A project name from s: lower case, other characters '-'. */
static char *name_from(Importer *x, const char *s) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        for (; *s && b.len < 64; s++) {
                char c = (char) tolower((unsigned char) *s);
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
                        c = '-';
                if (b.len == 0 && c == '-')
                        continue;
                strbuf_putc(&b, c);
        }
        if (b.len == 0)
                strbuf_puts(&b, "imported");
        return keep(x, strbuf_detach(&b, NULL));
}

static OutFile *out_file(Importer *x, const char *path) {
        for (size_t i = 0; i < x->n_out; i++)
                if (strcmp(x->out[i].path, path) == 0)
                        return &x->out[i];
        char *p = strdup(path);
        if (!p || !GREEDY_REALLOC(x->out, x->a_out, x->n_out + 1)) {
                free(p);
                x->oom = true;
                return NULL;
        }
        x->out[x->n_out] = (OutFile) { .path = p };
        return &x->out[x->n_out++];
}

static int convert(Importer *x, AzldevImport *res) {
        _cleanup_free_ Layer *dl = NULL;
        _cleanup_(effective_release) Effective de = {};
        size_t n_dl;
        int r;

        /* The project distro: the distribution being built. */
        const Part *dpart = NULL;
        const TomlValue *dref = parts_get(&x->project, "default-distro", &dpart);
        Upstream tu = {};
        if (dref) {
                r = resolve_ref(x, dref, "project.default-distro", &tu);
                if (r < 0)
                        return r;
                x->target = tu.distro;
                x->target_version = tu.version;
        }

        /* [distro] and [build] defines: what every component inherits. */
        if ((r = default_layers(x, &dl, &n_dl)) < 0 || (r = effective(x, dl, n_dl, &de)) < 0)
                return r;
        if (de.udistro.v) {
                r = resolve_ref(x, de.udistro.v, de.udistro.path, &x->def);
                if (r < 0)
                        return r;
                x->have_def = true;
        } else if (x->target) {
                x->def = tu;
                x->have_def = true;
        }
        x->def_release_mode = release_mode_of(&de.release);
        x->build_def_k = de.def_k;
        x->build_def_v = de.def_v;
        x->n_build_def = de.n_def;
        if (!x->have_def || !x->def.dist_git)
                x->have_def = false;

        /* [project] */
        const char *desc = parts_str(&x->project, "description");
        const char *name, *version = NULL;
        if (x->target && is_project_name(x->target->name))
                name = x->target->name;
        else if (x->target)
                name = name_from(x, x->target->name);
        else {
                _cleanup_free_ char *abs = realpath(x->dir, NULL);
                name = name_from(x, abs ? base_name(abs) : x->dir);
        }
        if (x->target) {
                const TomlValue *rv = version_get(x->target, x->target_version, "release-ver");
                version = rv && rv->type == TOML_STRING && is_version(rv->string.s) ? rv->string.s
                          : is_version(x->target_version)                          ? x->target_version
                                                                                   : NULL;
        }
        if (!version)
                version = "0.1";
        if (!name)
                return -ENOMEM;
        res->name = strdup(name);
        res->version = strdup(version);
        if (!res->name || !res->version)
                return -ENOMEM;

        OutFile *top = out_file(x, "slipway.toml");
        if (!top)
                return -ENOMEM;
        StrBuf *b = &top->text;
        strbuf_puts(b, "# Imported from an azldev project by `slipway import azldev` (docs/azldev.md).\n\n[project]\n");
        if (desc)
                put_comment(b, desc);
        put_kv(b, "name", name);
        put_kv(b, "version", version);
        strbuf_puts(b, "includes = [\"components/*.toml\"]\n");

        if (x->have_def) {
                strbuf_puts(b, "\n[distro]\n");
                const char *dd = parts_str(&x->def.distro->parts, "description");
                const TomlValue *vd = version_get(x->def.distro, x->def.version, "description");
                put_comment(b, kprintf(x, "azldev distro '%s', version '%s'%s%s", x->def.distro->name, x->def.version,
                                       dd || (vd && vd->type == TOML_STRING) ? ": " : "",
                                       vd && vd->type == TOML_STRING ? vd->string.s : dd ? dd : ""));
                put_kv(b, "dist-git", x->def.dist_git);
                if (x->def.lookaside)
                        put_kv(b, "lookaside", x->def.lookaside);
                if (x->def.branch)
                        put_kv(b, "branch", x->def.branch);
                put_kv(b, "release-mode", x->def_release_mode);
        }
        if (x->n_build_def > 0) {
                sort_pairs(x->build_def_k, x->build_def_v, x->n_build_def);
                strbuf_puts(b, "\n[build]\n# every component's defines (the project's and its distro's default-component-config)\n"
                               "defines = { ");
                for (size_t i = 0; i < x->n_build_def; i++) {
                        if (i > 0)
                                strbuf_puts(b, ", ");
                        put_key(b, x->build_def_k[i]);
                        strbuf_puts(b, " = ");
                        put_string(b, x->build_def_v[i]);
                }
                strbuf_puts(b, " }\n");
        }

        r = repos_toml(x, b, &res->repos);
        if (r < 0)
                return r;

        /* [groups.NAME]: what slipway's groups hold (members, where their
         * specs come from, the Release); the rest of a group's
         * default-component-config is written on its members. */
        for (size_t g = 0; g < x->n_groups; g++) {
                Group *grp = &x->groups[g];
                grp->written = is_rpm_name(grp->name);
                if (!grp->written) {
                        drop(x, &grp->pos, keypath(x, "component-groups", grp->name),
                             "'%s' is not a name slipway takes for a group; its settings are written on its members",
                             grp->name);
                        continue;
                }
                const TomlValue *dcc = get_table(grp->t, "default-component-config");
                Layer l = { dcc, grp->file, keypath(x, keypath(x, "component-groups", grp->name), "default-component-config") };
                _cleanup_(effective_release) Effective ge = {};
                if (dcc && (r = effective(x, &l, 1, &ge)) < 0)
                        return r;
                if (ge.udistro.v) {
                        Upstream gu;
                        r = resolve_ref(x, ge.udistro.v, ge.udistro.path, &gu);
                        if (r == -ENOMEM)
                                return r;
                        if (r >= 0) {
                                grp->dist_git = gu.dist_git;
                                grp->lookaside = gu.lookaside;
                                grp->branch = gu.branch;
                        }
                }
                if (ge.release.v)
                        grp->release_mode = release_mode_of(&ge.release);
        }
        for (size_t i = 0; i < x->n_comps; i++) {
                Comp *c = &x->comps[i];
                c->skip = !is_rpm_name(c->name);
                if (c->skip)
                        drop(x, &c->pos, keypath(x, "components", c->name),
                             "'%s' is not a name slipway takes for a component", c->name);
                const Group *first = c->skip ? NULL : slip_group(x, c);
                for (size_t k = 0; first && k < c->n_groups; k++) {
                        const Group *other = &x->groups[c->groups[k]];
                        if (other == first || !other->written)
                                continue;
                        const char *gp = keypath(x, "component-groups", other->name);
                        const TomlValue *list = get_array(other->t, "components");
                        const char *key = "specs";
                        SourcePos pos = key_pos(other->t, "specs");
                        for (size_t j = 0; list && j < list->array.n; j++)
                                if (strcmp(list->array.items[j]->string.s, c->name) == 0) {
                                        pos = list->array.items[j]->pos;
                                        key = "components";
                                }
                        drop(x, &pos, keypath(x, gp, key),
                             "component '%s' is in group '%s' already; a slipway component is in one group "
                             "(what '%s' sets is written on the component)",
                             c->name, first->name, other->name);
                }
        }
        for (size_t g = 0; g < x->n_groups; g++) {
                const Group *grp = &x->groups[g];
                if (!grp->written)
                        continue;
                const char **members = new0(const char *, x->n_comps + 1);
                size_t nm = 0;
                if (!members)
                        return -ENOMEM;
                for (size_t i = 0; i < x->n_comps; i++)
                        if (!x->comps[i].skip && slip_group(x, &x->comps[i]) == grp)
                                members[nm++] = x->comps[i].name;
                strbuf_putc(b, '\n');
                put_header(b, false, "groups", grp->name, NULL);
                const char *gd = get_nonempty(grp->t, "description");
                if (gd)
                        put_comment(b, gd);
                put_list(b, "components", members, nm);
                free(members);
                const char *base[] = { "dist-git", "lookaside", "branch" };
                const char *mine[] = { grp->dist_git, grp->lookaside, grp->branch };
                const char *distro[] = { x->have_def ? x->def.dist_git : NULL, x->have_def ? x->def.lookaside : NULL,
                                         x->have_def ? x->def.branch : NULL };
                for (size_t i = 0; i < ELEMENTSOF(base); i++)
                        if (mine[i] && !streq_ptr(mine[i], distro[i]))
                                put_kv(b, base[i], mine[i]);
                if (grp->release_mode && !streq_ptr(grp->release_mode, x->def_release_mode))
                        put_kv(b, "release-mode", grp->release_mode);
                res->groups++;
        }
        /* Settings a group cannot clear are each component's to say. */
        for (size_t g = 0; g < x->n_groups; g++) {
                Group *grp = &x->groups[g];
                const char *distro[] = { x->have_def ? x->def.dist_git : NULL, x->have_def ? x->def.lookaside : NULL,
                                         x->have_def ? x->def.branch : NULL };
                if (grp->dist_git && streq_ptr(grp->dist_git, distro[0]))
                        grp->dist_git = NULL;
                if (grp->lookaside && streq_ptr(grp->lookaside, distro[1]))
                        grp->lookaside = NULL;
                if (grp->branch && streq_ptr(grp->branch, distro[2]))
                        grp->branch = NULL;
                if (grp->release_mode && streq_ptr(grp->release_mode, x->def_release_mode))
                        grp->release_mode = NULL;
        }

        /* Components, in name order. */
        OutFile *bare = NULL;
        for (size_t i = 0; i < x->n_comps; i++) {
                Comp *c = &x->comps[i];
                if (c->skip)
                        continue;
                _cleanup_strbuf_ StrBuf cb = STRBUF_INIT;
                CompOut co = {};
                size_t before = x->d->n_errors;
                r = component_toml(x, c, &cb, &co);
                if (r < 0)
                        return r;
                if (x->d->n_errors > before)
                        continue;
                res->components++;
                res->overlays += co.overlays;
                if (co.overlays > 0)
                        res->components_with_overlays++;
                OutFile *f;
                if (co.bare || strcmp(c->name, "upstream") == 0) {
                        if (!bare) {
                                if (!(bare = out_file(x, "components/upstream.toml")))
                                        return -ENOMEM;
                                strbuf_puts(&bare->text,
                                            "# Upstream components with no settings of their own: each is built from its\n"
                                            "# group's or [distro]'s dist-git, at the commit slipway.lock records.\n");
                        }
                        f = bare;
                } else if (!(f = out_file(x, kprintf(x, "components/%s.toml", c->name))))
                        return -ENOMEM;
                if (f->text.len > 0)
                        strbuf_putc(&f->text, '\n');
                strbuf_puts(&f->text, cb.buf ? cb.buf : "");
        }
        return x->oom ? -ENOMEM : 0;
}

/* ---- 4. writing ---------------------------------------------------------------------- */

static int write_out(const char *out_dir, const char *rel, const void *data, size_t size, mode_t mode) {
        _cleanup_free_ char *p = path_join(out_dir, rel);
        _cleanup_free_ char *dir = p ? path_dirname(p) : NULL;
        if (!dir)
                return -ENOMEM;
        int r = mkdir_parents(dir, 0755);
        if (r < 0)
                return r;
        struct iovec iov = { (void *) data, size };
        return write_file_atomic_iov(p, &iov, 1, mode, false);
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int write_all(Importer *x, const char *out_dir, AzldevImport *res) {
        int r;
        res->files = new0(char *, x->n_out + x->n_copies + 1);
        if (!res->files)
                return -ENOMEM;
        for (size_t i = 0; i < x->n_out; i++) {
                OutFile *f = &x->out[i];
                if (f->text.oom)
                        return -ENOMEM;
                r = write_out(out_dir, f->path, f->text.buf ? f->text.buf : "", f->text.len, 0644);
                if (r < 0) {
                        diag_error(x->d, NULL, "cannot write '%s' in '%s': %s", f->path, out_dir, strerror(-r));
                        return -EINVAL;
                }
                if (!(res->files[res->n_files++] = strdup(f->path)))
                        return -ENOMEM;
        }
        for (size_t i = 0; i < x->n_copies; i++) {
                const Copy *c = &x->copies[i];
                _cleanup_free_ char *data = NULL;
                size_t size;
                struct stat st;
                r = read_full_file(c->src, &data, &size);
                if (r >= 0 && stat(c->src, &st) < 0)
                        r = negative_errno();
                if (r < 0) {
                        SourcePos pos = { .file = c->src };
                        diag_error(x->d, &pos, "cannot read the file: %s", strerror(-r));
                        return -EINVAL;
                }
                r = write_out(out_dir, c->dest, data, size, st.st_mode & 0111 ? 0755 : 0644);
                if (r < 0) {
                        diag_error(x->d, NULL, "cannot write '%s' in '%s': %s", c->dest, out_dir, strerror(-r));
                        return -EINVAL;
                }
                if (!(res->files[res->n_files++] = strdup(c->dest)))
                        return -ENOMEM;
        }
        sort(res->files, res->n_files, sizeof(char *), cmp_str);
        return 0;
}

/* The result loaded as `slipway check` loads a project: an error there is
 * the importer's (or something slipway refuses that azldev takes, such as a
 * regular expression PCRE2 does not read). Positions are shown relative to
 * the new project. */
static int verify(Importer *x, const char *out_dir) {
        _cleanup_(diagnostics_releasep) Diagnostics vd = {};
        _cleanup_(project_freep) Project *p = NULL;
        int r = project_load(out_dir, &vd, &p);
        if (r == -ENOMEM)
                return r;
        if (vd.n_errors == 0 && r >= 0)
                return 0;
        diag_error(x->d, NULL, "the slipway project made from it does not pass `slipway check` (nothing was written):");
        size_t skip = strlen(out_dir);
        for (size_t i = 0; i < vd.n; i++) {
                const Diagnostic *e = &vd.items[i];
                if (e->level != DIAG_ERROR)
                        continue;
                const char *f = e->file;
                if (f && strncmp(f, out_dir, skip) == 0 && f[skip] == '/')
                        f += skip + 1;
                SourcePos pos = { .file = f, .line = e->line, .column = e->column };
                diag_error(x->d, f ? &pos : NULL, "%s", e->message);
        }
        return -EINVAL;
}

/* ---- the entry point ----------------------------------------------------------------- */

static void importer_release(Importer *x) {
        for (size_t i = 0; i < x->n_files; i++) {
                free(x->files[i].path);
                free(x->files[i].real);
                toml_document_free(x->files[i].doc);
        }
        free(x->files);
        free(x->project.items);
        free(x->defaults.items);
        for (size_t i = 0; i < x->n_distros; i++) {
                free(x->distros[i].name);
                free(x->distros[i].parts.items);
        }
        free(x->distros);
        for (size_t i = 0; i < x->n_groups; i++)
                free(x->groups[i].name);
        free(x->groups);
        for (size_t i = 0; i < x->n_comps; i++) {
                free(x->comps[i].name);
                free(x->comps[i].groups);
        }
        free(x->comps);
        free(x->repos.items);
        free(x->sets.items);
        free(x->templates.items);
        free(x->refs);
        for (size_t i = 0; i < x->n_copies; i++) {
                free(x->copies[i].src);
                free(x->copies[i].dest);
        }
        free(x->copies);
        for (size_t i = 0; i < x->n_out; i++) {
                free(x->out[i].path);
                strbuf_release(&x->out[i].text);
        }
        free(x->out);
        for (size_t i = 0; i < x->n_dropped; i++) {
                free(x->dropped[i].file);
                free(x->dropped[i].key);
                free(x->dropped[i].reason);
        }
        free(x->dropped);
        for (size_t i = 0; i < x->n_keep; i++)
                free(x->keep[i]);
        free(x->keep);
}

void azldev_import_release(AzldevImport *r) {
        free(r->name);
        free(r->version);
        for (size_t i = 0; i < r->n_dropped; i++) {
                free(r->dropped[i].file);
                free(r->dropped[i].key);
                free(r->dropped[i].reason);
        }
        free(r->dropped);
        for (size_t i = 0; i < r->n_files; i++)
                free(r->files[i]);
        free(r->files);
        *r = (AzldevImport) {};
}

int azldev_import(const char *dir, const char *out_dir, AzldevImport *ret, Diagnostics *d) {
        _cleanup_(importer_release) Importer x = { .dir = dir, .d = d };
        _cleanup_(azldev_import_release) AzldevImport res = {};
        _cleanup_free_ char *root = NULL;
        int r;

        _cleanup_free_ char *joined = path_join(dir, "azldev.toml");
        root = joined ? path_normalize(joined) : NULL;
        if (!root || !(x.root_dir = keep(&x, path_dirname(root))))
                return -ENOMEM;
        if (!is_regular(root)) {
                diag_error(d, NULL, "'%s' is not an azldev project: it has no azldev.toml", dir);
                return -EINVAL;
        }
        size_t errors = d->n_errors;
        r = load_file(&x, root, 0);
        if (r < 0)
                return r;
        for (size_t i = 0; i < x.n_files; i++)
                walk(&x, x.files[i].doc->root, file_keys, "", true, false, NULL);
        if (d->n_errors > errors)
                return -EINVAL;
        if ((r = collect(&x)) < 0 || (r = membership(&x)) < 0)
                return r;
        if (d->n_errors > errors)
                return -EINVAL;
        r = convert(&x, &res);
        if (r < 0 && r != -EINVAL)
                return r;
        if (d->n_errors > errors)
                return -EINVAL;
        /* The keys slipway has no place for, now that the distros used are known. */
        for (size_t i = 0; i < x.n_files; i++)
                if (!x.files[i].walked)
                        walk(&x, x.files[i].doc->root, file_keys, "", false, true, NULL);
        if (x.oom)
                return -ENOMEM;

        r = write_all(&x, out_dir, &res);
        if (r < 0)
                return r;
        r = verify(&x, out_dir);
        if (r < 0)
                return r;

        sort(x.dropped, x.n_dropped, sizeof(AzldevDropped), cmp_dropped);
        /* One report for a key, also when several components inherit it. */
        size_t k = 0;
        for (size_t i = 0; i < x.n_dropped; i++) {
                AzldevDropped *p = &x.dropped[i];
                if (k > 0 && strcmp(x.dropped[k - 1].file, p->file) == 0 && x.dropped[k - 1].line == p->line &&
                    x.dropped[k - 1].column == p->column && strcmp(x.dropped[k - 1].key, p->key) == 0) {
                        free(p->file);
                        free(p->key);
                        free(p->reason);
                        continue;
                }
                x.dropped[k++] = *p;
        }
        res.dropped = TAKE_PTR(x.dropped);
        res.n_dropped = k;
        x.n_dropped = 0;
        *ret = res;
        res = (AzldevImport) {};
        return 0;
}
