/* SPDX-License-Identifier: MIT */
#pragma once

/* A minimal unit-test harness: each TEST() is a function; CHECK() records a
 * failure with its line and carries on, so one run reports every failure. */

#include <stdio.h>
#include <string.h>

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

#define UNIT_MAIN(...)                                                               \
        int unit_failures, unit_checks;                                              \
        int main(void) {                                                             \
                void (*tests[])(void) = { __VA_ARGS__ };                             \
                for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)          \
                        tests[i]();                                                  \
                printf("%d checks, %d failed\n", unit_checks, unit_failures);        \
                return unit_failures ? 1 : 0;                                        \
        }
