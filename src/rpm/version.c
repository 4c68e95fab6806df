/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "rpm/version.h"

static bool rpm_isalnum(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int rpm_vercmp(const char *a, const char *b) {
        if (strcmp(a, b) == 0)
                return 0;

        const char *one = a, *two = b;
        while (*one || *two) {
                while (*one && !rpm_isalnum(*one) && *one != '~' && *one != '^')
                        one++;
                while (*two && !rpm_isalnum(*two) && *two != '~' && *two != '^')
                        two++;

                /* '~' sorts before everything, even the end of the string. */
                if (*one == '~' || *two == '~') {
                        if (*one != '~')
                                return 1;
                        if (*two != '~')
                                return -1;
                        one++;
                        two++;
                        continue;
                }
                /* '^' sorts after the end of the string but before anything else. */
                if (*one == '^' || *two == '^') {
                        if (!*one)
                                return -1;
                        if (!*two)
                                return 1;
                        if (*one != '^')
                                return 1;
                        if (*two != '^')
                                return -1;
                        one++;
                        two++;
                        continue;
                }
                if (!*one || !*two)
                        break;

                const char *s1 = one, *s2 = two;
                bool numeric = isdigit((unsigned char) *s1);
                if (numeric) {
                        while (isdigit((unsigned char) *one))
                                one++;
                        while (isdigit((unsigned char) *two))
                                two++;
                } else {
                        while (isalpha((unsigned char) *one))
                                one++;
                        while (isalpha((unsigned char) *two))
                                two++;
                }
                /* A numeric segment is newer than an alphabetic one. */
                if (s2 == two)
                        return numeric ? 1 : -1;

                size_t l1 = (size_t) (one - s1), l2 = (size_t) (two - s2);
                if (numeric) {
                        while (l1 > 0 && *s1 == '0') {
                                s1++;
                                l1--;
                        }
                        while (l2 > 0 && *s2 == '0') {
                                s2++;
                                l2--;
                        }
                        if (l1 != l2)
                                return l1 > l2 ? 1 : -1;
                }
                int c = strncmp(s1, s2, MIN(l1, l2));
                if (c != 0)
                        return c < 0 ? -1 : 1;
                if (l1 != l2)
                        return l1 > l2 ? 1 : -1;
        }
        if (!*one && !*two)
                return 0;
        return *one ? 1 : -1;
}

typedef struct Evr {
        unsigned long epoch;
        char *version;
        const char *release; /* NULL when absent; points into version's buffer */
} Evr;

static int evr_parse(const char *s, Evr *ret) {
        const char *colon = strchr(s, ':');
        unsigned long epoch = 0;
        if (colon) {
                char *end;
                epoch = strtoul(s, &end, 10);
                if (end != colon)
                        epoch = 0;
                s = colon + 1;
        }
        char *v = strdup(s);
        if (!v)
                return -ENOMEM;
        char *dash = strrchr(v, '-');
        if (dash)
                *dash = 0;
        *ret = (Evr) { .epoch = epoch, .version = v, .release = dash ? dash + 1 : NULL };
        return 0;
}

int rpm_evrcmp(const char *a, const char *b) {
        Evr x, y;
        if (evr_parse(a, &x) < 0)
                return 0;
        if (evr_parse(b, &y) < 0) {
                free(x.version);
                return 0;
        }
        int c = x.epoch < y.epoch ? -1 : x.epoch > y.epoch ? 1 : 0;
        if (c == 0)
                c = rpm_vercmp(x.version, y.version);
        if (c == 0 && x.release && y.release)
                c = rpm_vercmp(x.release, y.release);
        free(x.version);
        free(y.version);
        return c;
}

#define SENSE_MASK (RPMSENSE_LESS | RPMSENSE_GREATER | RPMSENSE_EQUAL)

bool rpm_dep_matches(const RpmDep *provide, const RpmDep *require) {
        if (strcmp(provide->name, require->name) != 0)
                return false;
        uint32_t pf = provide->flags & SENSE_MASK, rf = require->flags & SENSE_MASK;
        if (!pf || !rf || !provide->evr[0] || !require->evr[0])
                return true;

        int c = rpm_evrcmp(provide->evr, require->evr);
        /* Two ranges overlap (rpmdsCompare's logic). */
        if (c < 0)
                return (pf & RPMSENSE_GREATER) || (rf & RPMSENSE_LESS);
        if (c > 0)
                return (pf & RPMSENSE_LESS) || (rf & RPMSENSE_GREATER);
        return ((pf & RPMSENSE_EQUAL) && (rf & RPMSENSE_EQUAL)) || ((pf & RPMSENSE_LESS) && (rf & RPMSENSE_LESS)) ||
               ((pf & RPMSENSE_GREATER) && (rf & RPMSENSE_GREATER));
}
