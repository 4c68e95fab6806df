/* SPDX-License-Identifier: MIT */
#pragma once

/* A transaction's scriptlets in rpm's order (rpm 4.18: lib/transaction.c,
 * lib/psm.c, lib/rpmtriggers.c, lib/rpmscript.c): which scriptlet of which
 * package runs when, with which interpreter, arguments ($1, $2) and standard
 * input, and where each package's files are unpacked or erased between them.
 * Pure logic over package headers: nothing is run or written here.
 *
 * A transaction has elements: packages to install (or to upgrade: an install
 * whose name is already installed, every installed instance of that name
 * erased as part of it) and installed packages to erase, in the order they
 * are to be processed (the caller orders them by dependencies, as rpm's
 * ordering does). rpm 4.18 processes every install before every erase
 * (lib/order.c rpmtsOrder()), and so does the plan: the installs in the
 * elements' order, then the erasures in the elements' order. The instances
 * an upgrade replaces are erased at the place of its install element,
 * unless an element erases them explicitly: then at that element's place,
 * so a caller can order every erasure as rpm's ordering would (reversed
 * dependencies). An installed package erased twice is erased at its first
 * place. The packages
 * installed before the transaction are given too, in the order of their
 * rpmdb instance numbers (rpm's indexes give packages in that order, which
 * decides the order of triggers and of file triggers' input): their
 * triggers and file triggers fire on the transaction's packages, and they
 * count for $1/$2; an installed header is expected to carry FILESTATES, as
 * one read from an rpmdb does (without it rpm counts none of its files).
 *
 * Not followed: Obsoletes (an obsoleted package is not erased), multilib
 * colors (an upgrade erases every instance of its name), file conflicts and
 * the file dispositions that depend on what is on disk (modified %config
 * files, paths reached through symbolic links to directories: files are
 * compared by path), install options (--excludedocs, --nodocs, netshared
 * paths: every file is installed).
 */

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

/* "%prein", "%post", "%triggerin", "%transfiletriggerpostun", ...: as rpm
 * names them in its messages (lib/rpmscript.c: "%prein(foo-1-1.noarch)
 * scriptlet failed"), which is not always the spec's name (%pre). */
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
        const char *body;       /* the script text, into the owner's header (NULL: the program alone,
                                 * "-p /sbin/ldconfig"). rpm writes it to a file and runs argv, that file's
                                 * path, then arg1 and arg2 when not -1 (lib/rpmscript.c runExtScript());
                                 * a trigger's body is never NULL, "" for a program alone, and rpm still
                                 * passes the (empty) file */
        bool lua;               /* argv[0] is "<lua>" */
        uint32_t flags;         /* RPMSCRIPT_FLAG_* of the scriptlet (expand, qformat, critical), rpm's
                                 * default (critical for %prein, %preun, %pretrans) included */
        int arg1, arg2;         /* $1 and $2; -1: not passed (a program without a body gets neither) */
        char *input;            /* file triggers: the matching paths, one a line, sorted as rpm gives them; else NULL */
        size_t input_size;
        /* Triggers and file triggers: the index of the trigger within its
         * package's TRIGGER* (FILETRIGGER*, TRANSFILETRIGGER*) arrays, else
         * SIZE_MAX; the element whose own package set it off (not the
         * upgrade erasing an installed instance), or SIZE_MAX: an installed
         * package outside the transaction, several packages (file triggers
         * over the database or the transaction), or no trigger. For messages. */
        size_t trigger_index;
        size_t cause;
} PlanScript;

typedef struct PlanStep {
        PlanStepType type;
        size_t element;         /* the element the step is part of (SIZE_MAX: the transaction's start or end);
                                 * the erasure of an instance an upgrade replaces is part of the upgrade's
                                 * install element */
        size_t package;         /* PLAN_STEP_UNPACK: index into PlanInput.packages; PLAN_STEP_REMOVE: into
                                 * .installed (which instance: an upgrade may replace several); else SIZE_MAX */
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
