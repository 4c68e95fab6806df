/* SPDX-License-Identifier: MIT */
#pragma once

/* RPM version comparison (rpm's rpmvercmp() algorithm, lib/rpmvercmp.c) and
 * whether a provided capability satisfies a required one (rpmdsCompare). */

#include <stdbool.h>
#include <stdint.h>

#include "rpm/package.h"

/* <0, 0, >0 as a is older than, equal to, newer than b. */
int rpm_vercmp(const char *a, const char *b);

/* Compares [epoch:]version[-release] strings; a missing release on either
 * side matches any release, as rpm does for dependency ranges. */
int rpm_evrcmp(const char *a, const char *b);

/* True if a package providing `provide` satisfies `require`: names equal and
 * version ranges overlap (an unversioned side matches everything). */
bool rpm_dep_matches(const RpmDep *provide, const RpmDep *require);
