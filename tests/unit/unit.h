/* SPDX-License-Identifier: MIT */
#pragma once

/* A minimal unit-test harness: each TEST() is a function; CHECK() records a
 * failure with its line and carries on, so one run reports every failure. */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <string.h>

#include "basic/fileio.h"

extern int unit_failures;
extern int unit_checks;

#define CHECK(cond)                                                                  \
        do {                                                                         \
                unit_checks++;                                                       \
                if (!(cond)) {                                                       \
                        unit_failures++;                                             \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
                }                                                                    \
        } while (0)

#define CHECK_STREQ(a, b)                                                            \
        do {                                                                         \
                const char *_a_ = (a), *_b_ = (b);                                   \
                unit_checks++;                                                       \
                if (!_a_ || !_b_ || strcmp(_a_, _b_) != 0) {                         \
                        unit_failures++;                                             \
                        fprintf(stderr, "%s:%d: '%s' != '%s'\n", __FILE__, __LINE__, \
                                _a_ ? _a_ : "(null)", _b_ ? _b_ : "(null)");         \
                }                                                                    \
        } while (0)

/* Runs a shell command and captures its standard output (up to 4 MiB) in
 * *ret_out (malloc'd, NUL-terminated); *ret_len if given. Returns the exit
 * status, or -1 if it did not exit normally. */
static inline int unit_run(const char *cmd, char **ret_out, size_t *ret_len) {
        FILE *f = popen(cmd, "r");
        *ret_out = NULL;
        if (ret_len)
                *ret_len = 0;
        if (!f)
                return -1;
        size_t cap = (size_t) 1 << 22, len = 0, k;
        char *buf = malloc(cap);
        while (buf && (k = fread(buf + len, 1, cap - 1 - len, f)) > 0)
                len += k;
        int status = pclose(f);
        if (buf)
                buf[len] = 0;
        *ret_out = buf;
        if (ret_len)
                *ret_len = len;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Whether two files hold the same bytes (false if either cannot be read). */
static inline bool unit_files_equal(const char *a, const char *b) {
        void *pa = NULL, *pb = NULL;
        size_t la = 0, lb = 0;
        bool eq = map_file(a, &pa, &la) >= 0 && map_file(b, &pb, &lb) >= 0 && la == lb &&
                  (la == 0 || memcmp(pa, pb, la) == 0);
        if (pa)
                munmap(pa, la);
        if (pb)
                munmap(pb, lb);
        return eq;
}

#define UNIT_MAIN(...)                                                               \
        int unit_failures, unit_checks;                                              \
        int main(void) {                                                             \
                void (*tests[])(void) = { __VA_ARGS__ };                             \
                for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)          \
                        tests[i]();                                                  \
                printf("%d checks, %d failed\n", unit_checks, unit_failures);        \
                return unit_failures ? 1 : 0;                                        \
        }
