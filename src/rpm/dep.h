/* SPDX-License-Identifier: MIT */
#pragma once

/* The dependency grammar: one parser for every dependency string slipway
 * reads, whether a user wrote it in slipway.toml (requires, provides,
 * host-provides, image packages) or rpmspec printed it (PROVIDENEVRS,
 * REQUIRENEVRS), and for the names rpm's database indexes inside rich
 * dependencies (tree/rpmdb.c).
 *
 * A dependency is one of:
 *   - a capability with an optional version: NAME [OP VERSION], where
 *       NAME is printable characters (no space, tab or ','); '<', '>' and
 *            '=' end it, except inside parentheses ("font(:lang=en)"); it
 *            does not start with '(';
 *       OP is <, >, =, <=, >=, =<, => or == (rpm's rpmParseDSFlags()), with
 *            white space (space or tab) around it or not;
 *       VERSION is letters, digits and . _ + ~ ^ : - (an [epoch:]version
 *            [-release]);
 *   - a rich dependency (rpm 4.13+): "(" ... ")" by rpm's grammar
 *     (rpmrichParseInternal() and parseSimpleDep() in lib/rpmds.c): simple
 *     dependencies and nested rich ones joined by and, or, if, unless, else,
 *     with, without; one kind of operator per level, except that if/unless
 *     may take one else; with/without not around and/if/unless/else.
 * Nothing may come before or after it, white space included. */

#include <stddef.h>

#include "rpm/package.h"

typedef enum RpmRichOp {
        RPM_RICH_SINGLE,
        RPM_RICH_AND,
        RPM_RICH_OR,
        RPM_RICH_IF,
        RPM_RICH_UNLESS,
        RPM_RICH_ELSE,
        RPM_RICH_WITH,
        RPM_RICH_WITHOUT,
} RpmRichOp;

/* What the rich parser reports as it goes (every member may be NULL):
 * enter and leave around each parenthesised level, op after each operator,
 * simple for each simple dependency's name. */
typedef struct RpmRichVisitor {
        void (*enter)(void *userdata);
        void (*simple)(void *userdata, const char *name, size_t len);
        void (*op)(void *userdata, RpmRichOp op);
        void (*leave)(void *userdata, RpmRichOp op);
        void *userdata;
} RpmRichVisitor;

/* Parses the rich dependency at s (which must start with '('), calling v
 * (may be NULL). 0 and *ret_end (if given) after its closing ')', or
 * -EINVAL. What follows is not looked at (rpm's rpmrichParse() does not). */
int rpm_rich_parse(const char *s, const RpmRichVisitor *v, const char **ret_end);

/* Parses s by the grammar above. With ret NULL it only checks. -EINVAL if s
 * is not a dependency (*ret untouched), -ENOMEM. A rich dependency is kept
 * whole as the name, with no flags and an empty evr. */
int rpm_dependency_parse(const char *s, RpmDep *ret);

/* d as a dependency string: "name", or "name >= evr" (rich dependencies are
 * kept whole in name); truncated to size. */
void rpm_dep_format(const RpmDep *d, char *buf, size_t size);
