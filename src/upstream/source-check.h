/* SPDX-License-Identifier: MIT */
#pragma once

/* What a source of a dist-git `sources` file and of slipway.lock may be
 * (sources.c): the one list of hash types and the one rule for file names,
 * shared by the two readers. */

#include <stddef.h>

#include "basic/hash.h"

/* The algorithm of a lower-case hash type ("sha512"), or
 * _HASH_ALGO_INVALID for one we do not know. Its digest is
 * 2 * hash_size() hex digits. */
HashAlgo source_hash_algo(const char *hashtype);

/* NULL if the len bytes at name can be a source's file name (one path
 * component, valid UTF-8, no control character), else what is wrong with
 * it, for messages. */
const char *source_file_name_check(const char *name, size_t len);
