/* SPDX-License-Identifier: MIT */
#pragma once

/* TOML 1.0.0 (https://toml.io/en/v1.0.0) parser.
 *
 * The result is a tree of TomlValue nodes. Every node remembers where its
 * value starts in the source (and every table entry where its key starts), so
 * the project model can point at file:line:column of a bad value. Tables keep
 * their keys in source order.
 *
 * Ownership: a TomlDocument owns its whole tree and the file name every
 * SourcePos in it points at; toml_document_free() releases everything. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/diag.h"
#include "basic/macro.h"

typedef enum TomlType {
        TOML_TABLE,
        TOML_ARRAY,
        TOML_STRING,
        TOML_INTEGER,
        TOML_FLOAT,
        TOML_BOOL,
        TOML_DATETIME,       /* offset date-time: 1979-05-27T07:32:00Z */
        TOML_DATETIME_LOCAL, /* 1979-05-27T07:32:00 */
        TOML_DATE_LOCAL,     /* 1979-05-27 */
        TOML_TIME_LOCAL,     /* 07:32:00 */
        _TOML_TYPE_MAX,
        _TOML_TYPE_INVALID = -EINVAL,
} TomlType;

/* Human name of a type, for messages ("string", "array", "local date"). */
const char *toml_type_to_string(TomlType t) _pure_;
/* The type tag toml-test's JSON encoding uses ("datetime-local", ...). */
const char *toml_type_to_tag(TomlType t) _pure_;

typedef struct TomlValue TomlValue;

typedef struct TomlEntry {
        char *key; /* may contain NUL bytes (quoted keys): use key_len */
        size_t key_len;
        SourcePos key_pos;
        TomlValue *value;
} TomlEntry;

typedef struct TomlDatetime {
        int year, month, day;             /* 0 for a local time */
        int hour, minute, second;         /* 0 for a local date */
        uint32_t nanosecond;              /* digits past the ninth are dropped */
        int offset_minutes;               /* TOML_DATETIME only */
        char text[64];                    /* RFC 3339 form: 'T' and 'Z' upper case */
} TomlDatetime;

struct TomlValue {
        TomlType type;
        SourcePos pos;   /* where the value starts; for tables defined by a
                          * header, the header; for implicit tables, the first
                          * key that created them */
        unsigned flags;  /* parser bookkeeping, see toml.c */
        union {
                struct {
                        char *s; /* NUL-terminated, may contain NUL: use len */
                        size_t len;
                } string;
                int64_t integer;
                double floating;
                bool boolean;
                TomlDatetime datetime;
                struct {
                        TomlValue **items;
                        size_t n;
                        size_t allocated;
                } array;
                struct {
                        TomlEntry *entries;
                        size_t n;
                        size_t allocated;
                } table;
        };
};

typedef struct TomlDocument {
        char *filename; /* as given to the parser; every SourcePos points here */
        TomlValue *root;
} TomlDocument;

/* Parses data (size bytes, need not be NUL-terminated). On a syntax error, one
 * error naming filename:line:column and what was expected is added to diag
 * and -EINVAL is returned. *ret is set only on success. */
int toml_parse(const char *data, size_t size, const char *filename, Diagnostics *diag, TomlDocument **ret);

/* Reads and parses the file at path; display_name (or path when NULL) is the
 * name positions and messages use. I/O errors are returned as -errno and also
 * recorded in diag. */
int toml_parse_file(const char *path, const char *display_name, Diagnostics *diag, TomlDocument **ret);

TomlDocument *toml_document_free(TomlDocument *doc);

/* Constructors for other front ends that produce the same tree (the YAML
 * reader, config/ic-yaml.h); the TOML parser's own rules (which tables may be
 * extended) do not apply to them. A new value has no children; pos is copied
 * (its file must be the document's filename). toml_value_free() frees a value
 * and everything below it; once a value is added to a table or an array it is
 * the parent's. */
TomlValue *toml_value_new(TomlType type, const SourcePos *pos);
TomlValue *toml_value_free(TomlValue *v);
DEFINE_TRIVIAL_CLEANUP_FUNC(TomlValue *, toml_value_free);
/* A string of len bytes (copied, NUL-terminated). */
TomlValue *toml_string_new(const char *s, size_t len, const SourcePos *pos);
/* Appends key = value to a table, or value to an array. Both take ownership of
 * value, also on failure (-ENOMEM). Neither checks for a key given twice. */
int toml_table_add(TomlValue *table, const char *key, const SourcePos *key_pos, TomlValue *value);
int toml_array_add(TomlValue *array, TomlValue *value);
DEFINE_TRIVIAL_CLEANUP_FUNC(TomlDocument *, toml_document_free);

/* Table look-ups; NULL when absent or when v is not a table. */
const TomlEntry *toml_table_entry(const TomlValue *table, const char *key);
const TomlValue *toml_table_get(const TomlValue *table, const char *key);
