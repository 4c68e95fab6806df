/* SPDX-License-Identifier: MIT */
#pragma once

/* Schema tables that map TOML tables onto typed C structs.
 *
 * A Schema describes one struct: its keys, each with a type, the offset of the
 * C field that receives the value, and optional checks. schema_apply() walks a
 * TOML table with it and reports, with file:line:column, every unknown key
 * (with the closest known one), every value of the wrong type or out of range,
 * and every missing required key. It keeps going after an error so one run
 * reports them all (up to the Diagnostics limit).
 *
 * Every struct a schema fills starts with a CfgObject, which remembers where
 * the object was defined and the TOML tables it came from, so later stages can
 * point at the line of any of its keys (cfg_pos()). The TOML documents must
 * outlive the objects. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/diag.h"
#include "config/toml.h"

typedef struct CfgObject {
        SourcePos pos;              /* where the object was first defined */
        char *path;                 /* its key path: "images.vm.partitions[1]" */
        const TomlValue **tables;   /* the tables it was read from, in order */
        size_t n_tables;
} CfgObject;

/* Where key was given for o (its value), else where o was defined. */
SourcePos cfg_pos(const CfgObject *o, const char *key);
/* True if key was given for o in any of its tables. */
bool cfg_has(const CfgObject *o, const char *key);

/* Only the valid items of an array are kept; pos[i] is where items[i] stands
 * in the file, for messages about one item. */
typedef struct StrList {
        char **items;
        SourcePos *pos;
        size_t n;
} StrList;

typedef struct StrMap {
        char **keys;
        char **values;
        size_t n;
} StrMap;

/* Arrays of schema structs: a typed pointer and a count, laid out like this. */
typedef struct CfgArray {
        void *items;
        size_t n;
} CfgArray;

#define CFG_SIZE_GROW UINT64_MAX /* "grow" where SCHEMA_SIZE allows it */

typedef enum SchemaType {
        SCHEMA_STRING,       /* char * */
        SCHEMA_INTEGER,      /* int64_t, within [min, max] */
        SCHEMA_BOOL,         /* bool */
        SCHEMA_ENUM,         /* int: index into values[]; -1 while unset or invalid, 0 (the
                              * first value) when absent and not required */
        SCHEMA_SIZE,         /* uint64_t bytes: "256M", "2G", an integer, or "grow" if allow_grow */
        SCHEMA_MODE,         /* int: "0644" (octal string), -1 when absent */
        SCHEMA_STRING_ARRAY, /* StrList */
        SCHEMA_STRING_MAP,   /* StrMap: a table of strings */
        SCHEMA_TABLE,        /* an embedded struct described by sub */
        SCHEMA_TABLE_ARRAY,  /* CfgArray of sub structs: [[key]] or an array of inline tables */
        SCHEMA_NAMED_TABLES, /* CfgArray of sub structs, one per key of the table: [key.NAME] */
        _SCHEMA_TYPE_MAX,
        _SCHEMA_TYPE_INVALID = -EINVAL,
} SchemaType;

typedef struct Schema Schema;

/* Checks a string value; returns NULL if it is fine, else what is allowed
 * ("lower-case letters, digits and '-'"), for the message. */
typedef const char *(*SchemaStringCheck)(const char *s);

typedef struct SchemaField {
        const char *key;
        SchemaType type;
        size_t offset;
        bool required;
        SchemaStringCheck check;        /* SCHEMA_STRING, and each SCHEMA_STRING_ARRAY item */
        int64_t min, max;               /* SCHEMA_INTEGER */
        const char *const *values;      /* SCHEMA_ENUM: NULL-terminated */
        bool allow_grow;                /* SCHEMA_SIZE */
        bool non_empty;                 /* SCHEMA_STRING_ARRAY, SCHEMA_STRING */
        const Schema *sub;              /* SCHEMA_TABLE, SCHEMA_TABLE_ARRAY, SCHEMA_NAMED_TABLES */
} SchemaField;

struct Schema {
        const char *what;               /* "component", "image": for messages */
        size_t size;                    /* sizeof the struct, for arrays */
        size_t name_offset;             /* SCHEMA_NAMED_TABLES: char *name in the struct */
        SchemaStringCheck name_check;   /* SCHEMA_NAMED_TABLES: checks the name */
        const SchemaField *fields;      /* terminated by an entry with key NULL */
        /* Called by schema_finish() once every table was read, for checks
         * across keys, after the objects nested in this one. */
        void (*finish)(void *obj, Diagnostics *d);
        /* Frees what the struct owns beyond the schema's fields. */
        void (*release)(void *obj);
};

/* Reads table into obj (a struct described by schema, zero-initialised or
 * already filled from an earlier table: a key given in both is an error
 * naming both places). path names the table in messages ("project",
 * "components.hello"); NULL or "" for the document root. Returns 0, or
 * -ENOMEM; input errors go to d. */
int schema_apply(const Schema *schema, void *obj, const TomlValue *table, const char *path, Diagnostics *d);

/* After every table was applied: reports missing required keys, applies enum
 * defaults and runs the finish() checks, for obj and everything nested in it. */
int schema_finish(const Schema *schema, void *obj, Diagnostics *d);

/* Frees everything obj owns per schema (not obj itself). */
void schema_release(const Schema *schema, void *obj);

/* The known key closest to key among schema's keys, or NULL if none is close. */
const char *schema_suggest(const Schema *schema, const char *key);

/* Edit distance with adjacent transpositions (for "did you mean"). */
size_t string_distance(const char *a, const char *b);

/* Parses "256M", "2G", "1024" (bytes) etc.; binary units K M G T. */
int parse_size(const char *s, uint64_t *ret);
