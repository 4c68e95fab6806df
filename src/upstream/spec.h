/* SPDX-License-Identifier: MIT */
#pragma once

/* A spec file as lines, sections and tags, for overlays (overlay.c).
 *
 * The text is kept as its lines, byte for byte: rendering a spec nobody
 * edited gives back the input, and an edit changes only the lines it names.
 * What the lines mean (which section each belongs to, which are tags) is
 * derived from them again after every edit (spec_reindex(), called by the
 * editing functions), so it never goes stale.
 *
 * The reading follows rpm's where it matters for editing and is otherwise
 * plain: a section starts at a line whose first word is a section name
 * (%build, %files, %post ...; any case) and runs to the next one; a line
 * continued from one ending in a backslash starts nothing; in the preamble
 * and %package sections a line "Name: value" (the name starting with a
 * letter, no blank before the colon) is a tag, also inside %if blocks;
 * a line starting with '#' is a comment. Macros are not expanded. */

#include <stdbool.h>
#include <stddef.h>

#include "basic/strbuf.h"

typedef enum SpecSectionType {
        SPEC_SECTION_PREAMBLE,    /* the main package's tags, before any section header */
        SPEC_SECTION_PACKAGE,     /* %package */
        SPEC_SECTION_SCRIPT,      /* %prep %build ... %check, scriptlets, triggers */
        SPEC_SECTION_DESCRIPTION, /* %description */
        SPEC_SECTION_FILES,       /* %files */
        SPEC_SECTION_CHANGELOG,   /* %changelog */
        SPEC_SECTION_FILE_LIST,   /* %patchlist, %sourcelist */
        _SPEC_SECTION_TYPE_MAX,
        _SPEC_SECTION_TYPE_INVALID = -EINVAL,
} SpecSectionType;

typedef struct SpecLine {
        char *text; /* without its '\n'; may hold any byte */
        size_t len;
} SpecLine;

typedef struct SpecSection {
        SpecSectionType type;
        char *name;    /* as written ("%files"); NULL for the preamble */
        char *package; /* the sub-package: "devel" (%files devel) or "other" (%files -n other); NULL: the main one */
        size_t header; /* its header line; for the preamble, which has none, 0 */
        size_t begin;  /* the first line after the header (0 for the preamble) */
        size_t end;    /* one past its last line: the next header, or the end of the file */
} SpecSection;

typedef struct SpecTag {
        size_t line;
        size_t section;                 /* index in sections */
        size_t name_start, name_len;    /* in the line: "BuildRequires", "Requires(post)" */
        size_t value_start, value_len;  /* after the colon and blanks, without trailing blanks */
} SpecTag;

typedef struct Spec {
        SpecLine *lines;
        size_t n_lines, allocated;
        bool final_newline; /* the last line ends with '\n' (always, once a line was added at the end) */

        /* Derived from the lines by spec_reindex(). */
        SpecSection *sections; /* in order; sections[0] is the preamble */
        size_t n_sections;
        SpecTag *tags;         /* in line order */
        size_t n_tags;
        size_t *line_section;  /* the section of each line */
} Spec;

/* Splits data into lines (a final '\n' ends the last line, it does not
 * start an empty one) and indexes them. -ENOMEM only. */
int spec_parse(const char *data, size_t size, Spec **ret);
Spec *spec_free(Spec *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Spec *, spec_free);

/* The text: the lines joined with '\n', and a final '\n' if final_newline. */
int spec_render(const Spec *s, StrBuf *out);

/* Edits; each indexes the spec again. lines[i] are NUL-terminated. */
int spec_insert_lines(Spec *s, size_t at, const char *const *lines, size_t n);
int spec_insert_line(Spec *s, size_t at, const char *text, size_t len);
int spec_replace_line(Spec *s, size_t i, const char *text, size_t len);
/* Removes the lines for which remove[i] is true (n_lines entries). */
int spec_remove_lines(Spec *s, const bool *remove);
/* Indexes the lines again (the edits do it; only needed after changing
 * lines[] directly). */
int spec_reindex(Spec *s);

/* The section type a header word names ("%files", any case), or
 * _SPEC_SECTION_TYPE_INVALID. */
SpecSectionType spec_section_type_from_name(const char *name, size_t len);
/* Reads a section header written as in a spec ("%files -f list devel",
 * "%package -n foo"): its name and sub-package (NULL: the main one, and
 * always for %changelog, %patchlist and %sourcelist). -EINVAL if the first
 * word is not a section name. */
int spec_parse_section_header(const char *text, size_t len, SpecSectionType *ret_type, char **ret_name,
                              char **ret_package);

/* Whether section k is named name (any case; NULL: the preamble) for
 * package (NULL: the main package). */
bool spec_section_is(const Spec *s, size_t k, const char *name, const char *package);

/* Whether a tag's name is name, any case. */
bool spec_tag_is(const Spec *s, const SpecTag *t, const char *name);

/* Where lines appended to section k go: after its last line that is not
 * blank nor a %if, %else or %endif of a block that reaches past the section
 * (a %if around the next section, the %else between two branches, the
 * %endif of a block around this one); right after the header if the body
 * has nothing else. */
size_t spec_section_append_point(const Spec *s, size_t k);

/* The %if nesting (%if %ifarch %ifnarch %ifos %ifnos ... %endif) just after
 * line i, counted from the start of the file; comments do not count. */
int spec_cond_depth_after(const Spec *s, size_t i);
/* +1 for a line that opens a conditional block, -1 for %endif, else 0. */
int spec_cond_change(const SpecLine *l);

/* The lines of section k to remove it without breaking the %if structure
 * of the spec (azldev's rules): a %endif or %if at its end that belongs to
 * a block around it or around the next section stays. -EBADMSG with
 * *ret_reason (malloc'd, one line) when a block mixes the section's lines
 * with others, or the %if structure of the file does not balance. */
int spec_section_removal_range(const Spec *s, size_t k, size_t *ret_begin, size_t *ret_end, char **ret_reason);
