/* SPDX-License-Identifier: MIT */
#pragma once

/* Messages to the user. Only the CLI prints; library code returns -errno and
 * fills Diagnostics. log_*_errno() return the negative errno they were given
 * so a verb can log and return in one statement. %m is not used: pass the
 * error explicitly and it is appended as ": <strerror>". */

#include <jansson.h>
#include <stdbool.h>

#include "basic/diag.h"
#include "basic/macro.h"

typedef enum LogLevel {
        LOG_QUIET = 0, /* errors only */
        LOG_NORMAL = 1,
        LOG_VERBOSE = 2,
} LogLevel;

void log_set_level(LogLevel l);
LogLevel log_get_level(void);

int log_error_errno(int error, const char *fmt, ...) _printf_(2, 3);
void log_error(const char *fmt, ...) _printf_(1, 2);
void log_warning(const char *fmt, ...) _printf_(1, 2);
void log_info(const char *fmt, ...) _printf_(1, 2);  /* stderr, not with -q */
void log_debug(const char *fmt, ...) _printf_(1, 2); /* stderr, only with -v */

/* Prints every diagnostic as "file:line:column: level: message" to stderr,
 * sorted by place, and a line for errors that were dropped past the limit.
 * Warnings are not printed with -q. */
void log_diagnostics(Diagnostics *d);

/* ---- --json: one document on standard output (docs/cli.md) -------------
 *
 * A verb builds its result as one JSON object and hands it over with
 * cli_result_set(), whether or not --json was given; in text mode it
 * renders the same object itself. main() calls cli_result_finish() when the
 * verb returns: with --json it prints the object (or {} if the verb set
 * none) as the only thing on standard output, and when the exit status is
 * not 0 it sets the object's "errors" to every error logged in the run
 * ({"file", "line", "column", "message"}; file null and line, column 0 when
 * an error is not about a place), which is never empty. Errors are recorded
 * in every mode, so that the usage errors found before --json is parsed are
 * in the document too. These functions are called from the main thread. */

void log_set_json(bool on);
bool log_json(void);

/* s as a JSON string for a result, null for NULL: what is not UTF-8 (a
 * path is bytes) becomes '?'. NULL when out of memory. */
json_t *cli_json_string(const char *s);

/* Records an error for the document that the caller has printed to stderr
 * in its own format (a failed component's line). Safe from any thread. */
void log_record_error(const char *fmt, ...) _printf_(1, 2);

/* Takes the reference to doc (an object; NULL is allowed and clears the
 * result), replacing an earlier result. */
void cli_result_set(json_t *doc);
/* The result set so far, handed back to the caller (NULL if none): for a
 * verb that runs others and combines their results (build). */
json_t *cli_result_take(void);
/* The verb has printed its document itself (inspect streams its file list):
 * cli_result_finish() prints nothing more. */
void cli_result_printed(void);
/* Prints the document with --json (see above) and frees the result.
 * Returns status, or EXIT_FAILURE_USER when standard output could not be
 * written. */
int cli_result_finish(int status);
