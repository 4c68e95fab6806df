/* SPDX-License-Identifier: MIT */
#pragma once

/* Messages to the user. Only the CLI prints; library code returns -errno and
 * fills Diagnostics. log_*_errno() return the negative errno they were given
 * so a verb can log and return in one statement. %m is not used: pass the
 * error explicitly and it is appended as ": <strerror>". */

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
