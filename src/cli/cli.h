/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "log.h"

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
} Context;

typedef struct Verb {
        const char *name;
        const char *args;    /* synopsis of the arguments, "" if none */
        const char *summary; /* one line for `slipway --help` */
        const char *help;    /* the rest of `slipway VERB --help` */
        unsigned min_args;
        unsigned max_args;
        int (*run)(const Context *ctx, int argc, char **argv); /* returns an exit status */
} Verb;

int verb_check(const Context *ctx, int argc, char **argv);
int verb_init(const Context *ctx, int argc, char **argv);
int verb_toml_json(const Context *ctx, int argc, char **argv);
int verb_package(const Context *ctx, int argc, char **argv);

/* Maps a library result to an exit status: -EINVAL and friends (input the user
 * can fix) and everything else alike become EXIT_FAILURE_USER; this exists so
 * that verbs say what they mean. */
static inline int exit_status_from(int r) {
        return r < 0 ? EXIT_FAILURE_USER : EXIT_OK;
}
