/* SPDX-License-Identifier: MIT */
#pragma once

/* Image Customizer's YAML configuration (its v1 API: input, storage, os,
 * scripts, ...), read with libyaml and translated into the TomlDocument a
 * standalone customization file in TOML would give, so that the same schema
 * (config/project.c) reads either.
 *
 * Every value and key of the result points at the line:column (1-based,
 * columns in code points) of the YAML node it came from, so the schema's
 * messages name the YAML file's lines. What slipway does not support is
 * refused here, one error per key naming its full path ("'os.overlays' is an
 * Image Customizer setting slipway does not support yet"); a key Image
 * Customizer does not know is an error with the closest known key.
 *
 * The input is untrusted: nesting, size and the number of nodes are bounded,
 * and aliases (*name) are refused rather than expanded. docs/customize.md
 * has the table of keys. */

#include <stddef.h>

#include "basic/diag.h"
#include "config/toml.h"

/* Files and buffers larger than this are refused. */
#define IC_YAML_MAX_SIZE ((size_t) 1 << 20)

/* Parses size bytes of YAML (need not be NUL-terminated); filename is the name
 * positions use. On any error (syntax, an unsupported or unknown key, a value
 * of the wrong shape) the errors go to d and -EINVAL is returned; -ENOMEM
 * when memory runs out. *ret is set (the caller's, free with
 * toml_document_free()) only on success. */
int ic_yaml_parse(const char *data, size_t size, const char *filename, Diagnostics *d, TomlDocument **ret);

/* Reads and parses the file at path (path is the name positions use). I/O
 * errors are returned as -errno and also recorded in d. */
int ic_yaml_parse_file(const char *path, Diagnostics *d, TomlDocument **ret);
