/* SPDX-License-Identifier: MIT */
#pragma once

/* A transaction's scriptlets in rpm's order (rpm 4.18: lib/transaction.c,
 * lib/psm.c, lib/rpmtriggers.c, lib/rpmscript.c): which scriptlet of which
 * package runs when, with which interpreter, arguments ($1, $2) and standard
 * input, and where each package's files are unpacked or erased between them.
 * Pure logic over package headers: nothing is run or written here.
 *
 * A transaction has elements: packages to install (or to upgrade: an install
 * whose name is already installed, the old instance erased as part of it)
 * and installed packages to erase, in the order they are to be processed
 * (the caller orders them by dependencies, as rpm's ordering does). The
 * packages installed before the transaction are given too: their triggers
 * and file triggers fire on the transaction's packages, and they count for
 * $1/$2. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpm/header.h"

typedef enum ScriptKind {
        SCRIPT_PRETRANS,
        SCRIPT_PRE,
        SCRIPT_POST,
        SCRIPT_POSTTRANS,
        SCRIPT_PREUN,
        SCRIPT_POSTUN,
        SCRIPT_TRIGGERPREIN,
        SCRIPT_TRIGGERIN,
        SCRIPT_TRIGGERUN,
        SCRIPT_TRIGGERPOSTUN,
        SCRIPT_FILETRIGGERIN,
        SCRIPT_FILETRIGGERUN,
        SCRIPT_FILETRIGGERPOSTUN,
        SCRIPT_TRANSFILETRIGGERIN,
        SCRIPT_TRANSFILETRIGGERUN,
        SCRIPT_TRANSFILETRIGGERPOSTUN,
        _SCRIPT_KIND_MAX,
        _SCRIPT_KIND_INVALID = -EINVAL,
} ScriptKind;

/* "%pre", "%triggerin", "%transfiletriggerpostun", ...: as rpm names them in
 * its messages. */
const char *script_kind_to_string(ScriptKind k);

/* One package of the transaction or of what is installed. */
typedef struct PlanPackage {
        const RpmHeader *header; /* main header */
} PlanPackage;

typedef enum PlanOp {
        PLAN_INSTALL, /* header: the new package */
        PLAN_ERASE,   /* header: an installed package (one of PlanInput.installed) */
} PlanOp;

typedef struct PlanElement {
        PlanOp op;
        size_t package; /* PLAN_INSTALL: index into PlanInput.packages; PLAN_ERASE: into .installed */
} PlanElement;

typedef struct PlanInput {
        const PlanPackage *installed; /* before the transaction */
        size_t n_installed;
        const PlanPackage *packages;  /* to install */
        size_t n_packages;
        const PlanElement *elements;  /* in processing order */
        size_t n_elements;
} PlanInput;

typedef enum PlanStepType {
        PLAN_STEP_SCRIPT,  /* run a scriptlet */
        PLAN_STEP_UNPACK,  /* element's package: its files are put in place now */
        PLAN_STEP_REMOVE,  /* element's package: its files are removed now (erase, or the old one of an upgrade) */
} PlanStepType;

typedef struct PlanScript {
        ScriptKind kind;
        bool owner_installed;   /* the scriptlet's package is one of PlanInput.installed (else .packages) */
        size_t owner;           /* index into that array */
        char *const *argv;      /* the interpreter and its arguments (SCRIPTPROG etc.): "/bin/sh" for a body
                                 * without one; "<lua>" for Lua. NULL-terminated, owned by the plan */
        const char *body;       /* the script text (NULL: the program alone, "-p /sbin/ldconfig") */
        bool lua;               /* argv[0] is "<lua>" */
        uint32_t flags;         /* RPMSCRIPT_FLAG_* of the scriptlet (expand, qformat, critical) */
        int arg1, arg2;         /* $1 and $2; -1: not passed */
        char *input;            /* file triggers: the matching paths, one a line, sorted as rpm gives them; else NULL */
        size_t input_size;
        /* Triggers: the index of the trigger within its package's TRIGGER*
         * arrays and the package that set it off (element index, or
         * SIZE_MAX for a file trigger set off by several). For messages. */
        size_t trigger_index;
        size_t cause;
} PlanScript;

typedef struct PlanStep {
        PlanStepType type;
        size_t element;         /* the element the step is part of (SIZE_MAX: the transaction's start or end) */
        PlanScript script;      /* PLAN_STEP_SCRIPT */
} PlanStep;

typedef struct Plan {
        PlanStep *steps;
        size_t n_steps;
        /* Parts of headers the plan cannot follow, e.g. a scriptlet flag it
         * does not implement: one message each, naming package and scriptlet
         * ("package foo-1-1.x86_64: %post: ..."). The plan is still complete. */
        char **warnings;
        size_t n_warnings;
} Plan;

/* Builds the plan. -EBADMSG (with *ret_error naming the package and tag):
 * a header whose scriptlet or trigger entries are inconsistent (arrays of
 * different lengths, indexes out of range). */
int plan_build(const PlanInput *in, Plan *ret, char **ret_error);
void plan_release(Plan *p);

/* True if the header carries anything plan_build() would run (scriptlets,
 * triggers, file triggers; bodies or programs alone). */
bool header_has_scriptlets(const RpmHeader *h);
