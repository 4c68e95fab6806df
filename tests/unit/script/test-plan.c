/* SPDX-License-Identifier: MIT */
#include "script/plan.h"
#include "../unit.h"

static void test_nothing(void) {
        CHECK(script_kind_to_string(SCRIPT_PRE) != NULL);
}

UNIT_MAIN(test_nothing)
