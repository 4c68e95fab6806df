/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "log.h"

typedef struct Project Project;

/* Exit statuses (docs/cli.md). */
enum {
        EXIT_OK = 0,
        EXIT_FAILURE_USER = 1, /* bad input, failed build: the user can fix it */
        EXIT_USAGE = 2,        /* bad command line */
};

typedef struct Context {
        const char *dir; /* -C: the project directory */
        unsigned jobs;   /* -j: parallel jobs (default: online CPUs) */
        bool json;       /* --json: one JSON document on stdout */
        const char *out_dir; /* --out: the output directory (NULL: PROJECT/out) */
        /* Options of particular verbs (main.c checks which verb takes which). */
        const char *key;     /* --key */
        const char *uid;     /* --uid */
        const char *algo;    /* --algo */
        const char *output;  /* -o, --output */
        bool allow_unsigned; /* --allow-unsigned */
        const char *compress; /* --compress */
        bool prune;           /* --prune */
        const char *output_image_format; /* --output-image-format */
        const char *image_file;          /* --image-file */
        const char *config_file;         /* --config */
        const char *output_image_file;   /* --output-image-file */
        const char *rpm_sources[16];     /* --rpm-source, in the order given */
        unsigned n_rpm_sources;
        bool locked;                     /* --locked: slipway.lock must not change */
        const char *engine;              /* --engine: local or slurm (NULL: [build] engine) */
        bool one;                        /* --one: the one-component mode (a Slurm job) */
        const char *run;                 /* --run: the Slurm run a --one job belongs to */
        const char *sbom;                /* --sbom[=packages|files] (inspect): NULL if not given */
        bool secure_boot;                /* --secure-boot: keygen makes an X.509 pair for Secure Boot */
} Context;

enum {
        VERB_OPT_KEY = 1u << 0,
        VERB_OPT_UID = 1u << 1,
        VERB_OPT_ALGO = 1u << 2,
        VERB_OPT_OUTPUT = 1u << 3,
        VERB_OPT_ALLOW_UNSIGNED = 1u << 4,
        VERB_OPT_COMPRESS = 1u << 5,
        VERB_OPT_PRUNE = 1u << 6,
        VERB_OPT_OUTPUT_IMAGE_FORMAT = 1u << 7,
        VERB_OPT_IMAGE_FILE = 1u << 8,
        VERB_OPT_CONFIG = 1u << 9,
        VERB_OPT_OUTPUT_IMAGE_FILE = 1u << 10,
        VERB_OPT_RPM_SOURCE = 1u << 11,
        VERB_OPT_LOCKED = 1u << 12,
        VERB_OPT_ENGINE = 1u << 13,
        VERB_OPT_ONE = 1u << 14,
        VERB_OPT_RUN = 1u << 15,
        VERB_OPT_SBOM = 1u << 16,
        VERB_OPT_SECURE_BOOT = 1u << 17,
};

typedef struct Verb {
        const char *name;
        const char *args;    /* synopsis of the arguments, "" if none */
        const char *summary; /* one line for `slipway --help` */
        const char *help;    /* the rest of `slipway VERB --help` */
        unsigned options;    /* VERB_OPT_* this verb takes */
        unsigned min_args;
        unsigned max_args;
        int (*run)(const Context *ctx, int argc, char **argv); /* returns an exit status */
} Verb;

int verb_check(const Context *ctx, int argc, char **argv);
int verb_customize(const Context *ctx, int argc, char **argv);
int verb_init(const Context *ctx, int argc, char **argv);
int verb_toml_json(const Context *ctx, int argc, char **argv);
int verb_package(const Context *ctx, int argc, char **argv);
int verb_update(const Context *ctx, int argc, char **argv);
int verb_render(const Context *ctx, int argc, char **argv);
int verb_diff(const Context *ctx, int argc, char **argv);

struct Lock;
struct Project;
/* slipway.lock for p, brought up to date (upstream_lock_sync(): with
 * update, the named upstream components, or all, are resolved again) and
 * saved if it changed; each change is printed (on stderr with --json) and,
 * if ret_changes, returned as a JSON array. Returns an exit status; *ret
 * is set on EXIT_OK. */
int cli_lock_sync(const Context *ctx, const struct Project *p, char *const *names, size_t n_names, bool update,
                  struct Lock **ret, json_t **ret_changes);
int verb_keygen(const Context *ctx, int argc, char **argv);
int verb_sign(const Context *ctx, int argc, char **argv);
int verb_repo(const Context *ctx, int argc, char **argv);
int verb_verify(const Context *ctx, int argc, char **argv);
int verb_image(const Context *ctx, int argc, char **argv);
int verb_build(const Context *ctx, int argc, char **argv);
int verb_inspect(const Context *ctx, int argc, char **argv);
int verb_convert(const Context *ctx, int argc, char **argv);
int verb_import(const Context *ctx, int argc, char **argv);

/* Indexes (and with key_path signs) the repository in dir; verb-repo.c.
 * With a project, dir is its repository: it may hold only what the project's
 * build recorded (anything else is an error, or removed with --prune).
 * Without --json the summary is logged (with quiet_summary only if the
 * metadata changed); on success *ret_stats (if not NULL) is set to the
 * summary as a JSON object (docs/cli.md, `repo`). */
int repo_index(const Context *ctx, const Project *project, const char *dir, const char *key_path,
               const char *key_name, uint64_t revision, bool quiet_summary, json_t **ret_stats);

/* The creation time of signatures: $SOURCE_DATE_EPOCH if set, else now.
 * Logs and returns -EINVAL for an invalid value. */
int signature_time(uint32_t *ret);

/* Maps a library result to an exit status: -EINVAL and friends (input the user
 * can fix) and everything else alike become EXIT_FAILURE_USER; this exists so
 * that verbs say what they mean. */
static inline int exit_status_from(int r) {
        return r < 0 ? EXIT_FAILURE_USER : EXIT_OK;
}
