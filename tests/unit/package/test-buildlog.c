/* SPDX-License-Identifier: MIT */

/* Reading a failed rpmbuild log for its cause: the phase and the first
 * error line, from logs as rpm 4.18 writes them. */

#include <stdlib.h>
#include <string.h>

#include "package/build.h"
#include "../unit.h"

static void diagnose(const char *log, char **phase, char **error) {
        *phase = *error = NULL;
        CHECK(build_log_diagnose(log, strlen(log), phase, error) == 0);
}

static void test_compile_error(void) {
        char *phase, *error;
        diagnose("slipway: building component 'x'\n"
                 "Executing(%prep): /bin/sh -e /var/tmp/rpm-tmp.a\n"
                 "+ echo error\n"
                 "error\n"
                 "Executing(%build): /bin/sh -e /var/tmp/rpm-tmp.b\n"
                 "+ gcc -Werror=format-security -o x x.c\n"
                 "x.c:1:10: fatal error: zlib.h: No such file or directory\n"
                 "x.c:9:1: error: expected ';'\n"
                 "error: Bad exit status from /var/tmp/rpm-tmp.b (%build)\n"
                 "\n"
                 "RPM build errors:\n"
                 "    Bad exit status from /var/tmp/rpm-tmp.b (%build)\n",
                 &phase, &error);
        CHECK_STREQ(phase, "%build");
        CHECK_STREQ(error, "x.c:1:10: fatal error: zlib.h: No such file or directory");
        free(phase);
        free(error);
}

static void test_make_and_check(void) {
        char *phase, *error;
        diagnose("Executing(%build): /bin/sh -e /var/tmp/rpm-tmp.b\n"
                 "Executing(%install): /bin/sh -e /var/tmp/rpm-tmp.c\n"
                 "Executing(%check): /bin/sh -e /var/tmp/rpm-tmp.d\n"
                 "make: *** [Makefile:3: check] Error 1\n"
                 "error: Bad exit status from /var/tmp/rpm-tmp.d (%check)\n",
                 &phase, &error);
        CHECK_STREQ(phase, "%check");
        CHECK_STREQ(error, "make: *** [Makefile:3: check] Error 1");
        free(phase);
        free(error);
}

static void test_file_list(void) {
        char *phase, *error;
        diagnose("Executing(%install): /bin/sh -e /var/tmp/rpm-tmp.c\n"
                 "Processing files: x-1-1.noarch\n"
                 "error: File not found: /builddir/build/BUILDROOT/x-1-1.noarch/usr/bin/x\n"
                 "\n"
                 "RPM build errors:\n"
                 "    File not found: /builddir/build/BUILDROOT/x-1-1.noarch/usr/bin/x\n",
                 &phase, &error);
        CHECK_STREQ(phase, "file list");
        CHECK_STREQ(error, "error: File not found: /builddir/build/BUILDROOT/x-1-1.noarch/usr/bin/x");
        free(phase);
        free(error);
}

static void test_nothing_known(void) {
        char *phase, *error;
        /* A phase with no error line: the phase alone. */
        diagnose("Executing(%prep): /bin/sh -e /var/tmp/rpm-tmp.a\n+ true\n", &phase, &error);
        CHECK_STREQ(phase, "%prep");
        CHECK(!error);
        free(phase);
        /* rpmbuild refusing the spec: its error, no phase. */
        diagnose("error: line 3: Unknown tag: Nmae: x\n", &phase, &error);
        CHECK(!phase);
        CHECK_STREQ(error, "error: line 3: Unknown tag: Nmae: x");
        free(error);
        diagnose("", &phase, &error);
        CHECK(!phase && !error);
        /* A shell's complaint, not traced; no newline at the end. */
        diagnose("Executing(%build): /bin/sh -e /var/tmp/rpm-tmp.b\n/var/tmp/rpm-tmp.b: line 3: cmake: command not found",
                 &phase, &error);
        CHECK_STREQ(phase, "%build");
        CHECK_STREQ(error, "/var/tmp/rpm-tmp.b: line 3: cmake: command not found");
        free(phase);
        free(error);
}

UNIT_MAIN(test_compile_error, test_make_and_check, test_file_list, test_nothing_known)
