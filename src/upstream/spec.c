/* SPDX-License-Identifier: MIT */

/* A spec file as lines, sections and tags (spec.h). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "basic/alloc.h"
#include "upstream/spec.h"

static const struct {
        const char *name;
        SpecSectionType type;
} section_names[] = {
        { "%package", SPEC_SECTION_PACKAGE },
        { "%description", SPEC_SECTION_DESCRIPTION },
        { "%files", SPEC_SECTION_FILES },
        { "%changelog", SPEC_SECTION_CHANGELOG },
        { "%patchlist", SPEC_SECTION_FILE_LIST },
        { "%sourcelist", SPEC_SECTION_FILE_LIST },
        { "%prep", SPEC_SECTION_SCRIPT },
        { "%conf", SPEC_SECTION_SCRIPT },
        { "%generate_buildrequires", SPEC_SECTION_SCRIPT },
        { "%build", SPEC_SECTION_SCRIPT },
        { "%install", SPEC_SECTION_SCRIPT },
        { "%check", SPEC_SECTION_SCRIPT },
        { "%clean", SPEC_SECTION_SCRIPT },
        { "%pre", SPEC_SECTION_SCRIPT },
        { "%post", SPEC_SECTION_SCRIPT },
        { "%preun", SPEC_SECTION_SCRIPT },
        { "%postun", SPEC_SECTION_SCRIPT },
        { "%pretrans", SPEC_SECTION_SCRIPT },
        { "%posttrans", SPEC_SECTION_SCRIPT },
        { "%preuntrans", SPEC_SECTION_SCRIPT },
        { "%postuntrans", SPEC_SECTION_SCRIPT },
        { "%verify", SPEC_SECTION_SCRIPT },
        { "%triggerprein", SPEC_SECTION_SCRIPT },
        { "%triggerin", SPEC_SECTION_SCRIPT },
        { "%triggerun", SPEC_SECTION_SCRIPT },
        { "%triggerpostun", SPEC_SECTION_SCRIPT },
        { "%filetriggerin", SPEC_SECTION_SCRIPT },
        { "%filetriggerun", SPEC_SECTION_SCRIPT },
        { "%filetriggerpostun", SPEC_SECTION_SCRIPT },
        { "%transfiletriggerin", SPEC_SECTION_SCRIPT },
        { "%transfiletriggerun", SPEC_SECTION_SCRIPT },
        { "%transfiletriggerpostun", SPEC_SECTION_SCRIPT },
};

static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_alpha(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static size_t skip_blanks(const char *s, size_t i, size_t n) {
        while (i < n && is_blank(s[i]))
                i++;
        return i;
}

static size_t word_end(const char *s, size_t i, size_t n) {
        while (i < n && !is_blank(s[i]))
                i++;
        return i;
}

static bool line_is_comment(const SpecLine *l) {
        size_t i = skip_blanks(l->text, 0, l->len);
        return i < l->len && l->text[i] == '#';
}

static bool line_is_blank(const SpecLine *l) {
        return skip_blanks(l->text, 0, l->len) == l->len;
}

/* Whether the line ends in an odd number of backslashes: rpm reads the next
 * line as its continuation. */
static bool line_continues(const SpecLine *l) {
        size_t k = 0;
        while (k < l->len && l->text[l->len - 1 - k] == '\\')
                k++;
        return k % 2 == 1;
}

/* The first word of the line, unless it is a comment. */
static bool first_word(const SpecLine *l, size_t *ret_start, size_t *ret_len) {
        size_t i = skip_blanks(l->text, 0, l->len);
        if (i == l->len || l->text[i] == '#')
                return false;
        *ret_start = i;
        *ret_len = word_end(l->text, i, l->len) - i;
        return true;
}

static bool word_is(const char *w, size_t len, const char *name) {
        return strlen(name) == len && strncasecmp(w, name, len) == 0;
}

SpecSectionType spec_section_type_from_name(const char *name, size_t len) {
        for (size_t i = 0; i < ELEMENTSOF(section_names); i++)
                if (word_is(name, len, section_names[i].name))
                        return section_names[i].type;
        return _SPEC_SECTION_TYPE_INVALID;
}

int spec_parse_section_header(const char *text, size_t len, SpecSectionType *ret_type, char **ret_name,
                              char **ret_package) {
        size_t i = skip_blanks(text, 0, len), e = word_end(text, i, len);
        SpecSectionType type = spec_section_type_from_name(text + i, e - i);
        if (type < 0)
                return -EINVAL;

        /* The sub-package: "-n NAME" (a whole name) or the first word that is
         * not an option (a suffix); options with an argument skip it; "--"
         * ends it (a trigger's condition follows). */
        const char *full = NULL, *suffix = NULL;
        size_t full_len = 0, suffix_len = 0;
        bool skip_next = false, want_name = false;
        for (size_t p = skip_blanks(text, e, len); p < len; p = skip_blanks(text, p, len)) {
                size_t q = word_end(text, p, len), n = q - p;
                const char *w = text + p;
                p = q;
                if (want_name) {
                        full = w;
                        full_len = n;
                        want_name = false;
                } else if (skip_next)
                        skip_next = false;
                else if (n == 2 && w[0] == '-' && w[1] == '-')
                        break;
                else if (n == 2 && w[0] == '-' && w[1] == 'n')
                        want_name = true;
                else if (n == 2 && w[0] == '-' && w[1] && strchr("fplP", w[1]))
                        skip_next = true;
                else if (w[0] == '-')
                        continue;
                else if (!suffix) {
                        suffix = w;
                        suffix_len = n;
                }
        }

        _cleanup_free_ char *name = strndup_nul(text + i, e - i), *package = NULL;
        if (!name)
                return -ENOMEM;
        if (type != SPEC_SECTION_CHANGELOG && type != SPEC_SECTION_FILE_LIST && (full || suffix)) {
                package = full ? strndup_nul(full, full_len) : strndup_nul(suffix, suffix_len);
                if (!package)
                        return -ENOMEM;
        }
        if (ret_type)
                *ret_type = type;
        if (ret_name)
                *ret_name = TAKE_PTR(name);
        if (ret_package)
                *ret_package = TAKE_PTR(package);
        return 0;
}

static void sections_free(Spec *s) {
        for (size_t i = 0; i < s->n_sections; i++) {
                free(s->sections[i].name);
                free(s->sections[i].package);
        }
        free(s->sections);
        s->sections = NULL;
        s->n_sections = 0;
}

/* A tag line: a letter, then no blank or colon up to a colon. */
static bool parse_tag(const SpecLine *l, SpecTag *t) {
        size_t i = skip_blanks(l->text, 0, l->len);
        if (i == l->len || !is_alpha(l->text[i]))
                return false;
        size_t j = i;
        while (j < l->len && l->text[j] != ':' && !is_blank(l->text[j]))
                j++;
        if (j == l->len || l->text[j] != ':')
                return false;
        size_t v = skip_blanks(l->text, j + 1, l->len), ve = l->len;
        while (ve > v && is_blank(l->text[ve - 1]))
                ve--;
        t->name_start = i;
        t->name_len = j - i;
        t->value_start = v;
        t->value_len = ve - v;
        return true;
}

int spec_reindex(Spec *s) {
        sections_free(s);
        free(s->tags);
        s->tags = NULL;
        s->n_tags = 0;
        free(s->line_section);
        s->line_section = NULL;

        size_t n_sections = 1, sections_allocated = 0, tags_allocated = 0;
        SpecSection *sections = NULL;
        if (!GREEDY_REALLOC(sections, sections_allocated, 1))
                return -ENOMEM;
        sections[0] = (SpecSection) { .type = SPEC_SECTION_PREAMBLE };
        s->sections = sections;
        s->n_sections = 1;
        s->line_section = new0(size_t, s->n_lines);
        if (!s->line_section)
                return -ENOMEM;

        for (size_t i = 0; i < s->n_lines; i++) {
                const SpecLine *l = &s->lines[i];
                bool continued = i > 0 && line_continues(&s->lines[i - 1]);
                size_t ws, wl;
                if (!continued && first_word(l, &ws, &wl) && l->text[ws] == '%' &&
                    spec_section_type_from_name(l->text + ws, wl) >= 0) {
                        SpecSection sec = { .header = i, .begin = i + 1 };
                        int r = spec_parse_section_header(l->text, l->len, &sec.type, &sec.name, &sec.package);
                        if (r < 0)
                                return r;
                        if (!GREEDY_REALLOC(s->sections, sections_allocated, n_sections + 1)) {
                                free(sec.name);
                                free(sec.package);
                                return -ENOMEM;
                        }
                        s->sections[n_sections - 1].end = i;
                        s->sections[n_sections++] = sec;
                        s->n_sections = n_sections;
                } else if (!continued && !line_is_comment(l)) {
                        SpecSectionType t = s->sections[n_sections - 1].type;
                        SpecTag tag = { .line = i, .section = n_sections - 1 };
                        if ((t == SPEC_SECTION_PREAMBLE || t == SPEC_SECTION_PACKAGE) && parse_tag(l, &tag)) {
                                if (!GREEDY_REALLOC(s->tags, tags_allocated, s->n_tags + 1))
                                        return -ENOMEM;
                                s->tags[s->n_tags++] = tag;
                        }
                }
                s->line_section[i] = n_sections - 1;
        }
        s->sections[n_sections - 1].end = s->n_lines;
        return 0;
}

Spec *spec_free(Spec *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_lines; i++)
                free(s->lines[i].text);
        free(s->lines);
        sections_free(s);
        free(s->tags);
        free(s->line_section);
        free(s);
        return NULL;
}

static int line_set(SpecLine *l, const char *text, size_t len) {
        char *t = strndup_nul(text, len);
        if (!t)
                return -ENOMEM;
        free(l->text);
        l->text = t;
        l->len = len;
        return 0;
}

int spec_parse(const char *data, size_t size, Spec **ret) {
        _cleanup_(spec_freep) Spec *s = new0(Spec, 1);
        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < size;) {
                const char *nl = memchr(data + i, '\n', size - i);
                size_t e = nl ? (size_t) (nl - data) : size;
                if (!GREEDY_REALLOC(s->lines, s->allocated, s->n_lines + 1))
                        return -ENOMEM;
                s->lines[s->n_lines] = (SpecLine) {};
                if (line_set(&s->lines[s->n_lines], data + i, e - i) < 0)
                        return -ENOMEM;
                s->n_lines++;
                s->final_newline = nl != NULL;
                i = nl ? e + 1 : size;
        }
        int r = spec_reindex(s);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

int spec_render(const Spec *s, StrBuf *out) {
        for (size_t i = 0; i < s->n_lines; i++) {
                strbuf_put(out, s->lines[i].text, s->lines[i].len);
                if (i + 1 < s->n_lines || s->final_newline)
                        strbuf_putc(out, '\n');
        }
        return out->oom ? -ENOMEM : 0;
}

/* Inserts n texts at line at, each split at its '\n' into lines. */
static int insert(Spec *s, size_t at, const char *const *texts, const size_t *lens, size_t n) {
        if (at > s->n_lines)
                return -EINVAL;
        if (n == 0)
                return 0;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                size_t len = lens ? lens[i] : strlen(texts[i]);
                k++;
                for (const char *p = texts[i]; (p = memchr(p, '\n', len - (size_t) (p - texts[i]))); p++)
                        k++;
        }
        if (s->n_lines + k < k || !GREEDY_REALLOC(s->lines, s->allocated, s->n_lines + k))
                return -ENOMEM;
        SpecLine *fresh = new0(SpecLine, k);
        if (!fresh)
                return -ENOMEM;
        size_t j = 0;
        for (size_t i = 0; i < n; i++) {
                const char *t = texts[i];
                size_t len = lens ? lens[i] : strlen(t);
                for (;;) {
                        const char *nl = memchr(t, '\n', len);
                        size_t piece = nl ? (size_t) (nl - t) : len;
                        if (line_set(&fresh[j++], t, piece) < 0) {
                                for (size_t m = 0; m < j; m++)
                                        free(fresh[m].text);
                                free(fresh);
                                return -ENOMEM;
                        }
                        if (!nl)
                                break;
                        t = nl + 1;
                        len -= piece + 1;
                }
        }
        memmove(s->lines + at + k, s->lines + at, (s->n_lines - at) * sizeof(SpecLine));
        memcpy(s->lines + at, fresh, k * sizeof(SpecLine));
        free(fresh);
        /* Lines added at the end are ours, and end in a newline; the one that
         * was last gets its separator from the join. */
        if (at == s->n_lines)
                s->final_newline = true;
        s->n_lines += k;
        return spec_reindex(s);
}

int spec_insert_lines(Spec *s, size_t at, const char *const *lines, size_t n) {
        return insert(s, at, lines, NULL, n);
}

int spec_insert_line(Spec *s, size_t at, const char *text, size_t len) {
        return insert(s, at, &text, &len, 1);
}

int spec_replace_line(Spec *s, size_t i, const char *text, size_t len) {
        if (i >= s->n_lines)
                return -EINVAL;
        if (memchr(text, '\n', len)) {
                /* Becomes several lines: the old one goes, the pieces come in. */
                bool was_last_open = i + 1 == s->n_lines && !s->final_newline;
                int r = insert(s, i + 1, &text, &len, 1);
                if (r < 0)
                        return r;
                free(s->lines[i].text);
                memmove(s->lines + i, s->lines + i + 1, (s->n_lines - i - 1) * sizeof(SpecLine));
                s->n_lines--;
                if (was_last_open)
                        s->final_newline = false;
                return spec_reindex(s);
        }
        int r = line_set(&s->lines[i], text, len);
        if (r < 0)
                return r;
        return spec_reindex(s);
}

int spec_remove_lines(Spec *s, const bool *remove) {
        size_t k = 0;
        for (size_t i = 0; i < s->n_lines; i++) {
                if (remove[i])
                        free(s->lines[i].text);
                else
                        s->lines[k++] = s->lines[i];
        }
        s->n_lines = k;
        return spec_reindex(s);
}

bool spec_section_is(const Spec *s, size_t k, const char *name, const char *package) {
        const SpecSection *sec = &s->sections[k];
        if (!name != !sec->name)
                return false;
        if (name && strcasecmp(name, sec->name) != 0)
                return false;
        if (!package != !sec->package)
                return false;
        return !package || strcmp(package, sec->package) == 0;
}

bool spec_tag_is(const Spec *s, const SpecTag *t, const char *name) {
        return word_is(s->lines[t->line].text + t->name_start, t->name_len, name);
}

int spec_cond_change(const SpecLine *l) {
        size_t ws, wl;
        if (!first_word(l, &ws, &wl))
                return 0;
        const char *w = l->text + ws;
        if (word_is(w, wl, "%endif"))
                return -1;
        if (word_is(w, wl, "%if") || word_is(w, wl, "%ifarch") || word_is(w, wl, "%ifnarch") ||
            word_is(w, wl, "%ifos") || word_is(w, wl, "%ifnos"))
                return 1;
        return 0;
}

static bool line_is_cond_branch(const SpecLine *l) {
        size_t ws, wl;
        if (!first_word(l, &ws, &wl))
                return false;
        const char *w = l->text + ws;
        return word_is(w, wl, "%else") || word_is(w, wl, "%elif") || word_is(w, wl, "%elifarch") ||
               word_is(w, wl, "%elifnarch") || word_is(w, wl, "%elifos") || word_is(w, wl, "%elifnos");
}

int spec_cond_depth_after(const Spec *s, size_t i) {
        int depth = 0;
        for (size_t j = 0; j <= i && j < s->n_lines; j++)
                depth += spec_cond_change(&s->lines[j]);
        return depth;
}

/* The %endif that closes the block opened at line i, or n_lines. */
static size_t cond_match(const Spec *s, size_t i) {
        int depth = 0;
        for (size_t j = i; j < s->n_lines; j++) {
                depth += spec_cond_change(&s->lines[j]);
                if (depth <= 0)
                        return j;
        }
        return s->n_lines;
}

/* The %if whose block line i is in (or closes, for an %endif), or
 * SIZE_MAX. */
static size_t cond_opener(const Spec *s, size_t i) {
        size_t inner = 0; /* blocks closed between line i and here */
        for (size_t k = i; k > 0; k--) {
                int c = spec_cond_change(&s->lines[k - 1]);
                if (c < 0)
                        inner++;
                else if (c > 0) {
                        if (inner == 0)
                                return k - 1;
                        inner--;
                }
        }
        return SIZE_MAX;
}

static bool line_is_cond_branch(const SpecLine *l);

/* Whether line i of section sec is a %if, %else or %endif of a block that
 * reaches past the section: it belongs to the structure around it. */
static bool cond_straddles(const Spec *s, const SpecSection *sec, size_t i) {
        int c = spec_cond_change(&s->lines[i]);
        if (c > 0)
                return cond_match(s, i) >= sec->end;
        if (c < 0 || line_is_cond_branch(&s->lines[i])) {
                size_t open = cond_opener(s, i);
                return open == SIZE_MAX || open < sec->begin || (c == 0 && cond_match(s, open) >= sec->end);
        }
        return false;
}

size_t spec_section_append_point(const Spec *s, size_t k) {
        const SpecSection *sec = &s->sections[k];
        size_t j = sec->end;
        while (j > sec->begin) {
                const SpecLine *l = &s->lines[j - 1];
                if (line_is_blank(l) || cond_straddles(s, sec, j - 1))
                        j--;
                else
                        break;
        }
        return j;
}

typedef struct CondPair {
        size_t open, close;
} CondPair;

/* Every %if with its %endif, in the order of the %endif lines (so the
 * first pair around a line is the innermost). */
static int cond_pairs(const Spec *s, CondPair **ret, size_t *ret_n, char **ret_reason) {
        _cleanup_free_ size_t *stack = new0(size_t, s->n_lines);
        _cleanup_free_ CondPair *pairs = new0(CondPair, s->n_lines);
        size_t depth = 0, n = 0;
        if (!stack || !pairs)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_lines; i++) {
                int c = spec_cond_change(&s->lines[i]);
                if (c > 0)
                        stack[depth++] = i;
                else if (c < 0) {
                        if (depth == 0) {
                                *ret_reason = strprintf("the %%endif at line %zu closes no %%if", i + 1);
                                return -EBADMSG;
                        }
                        pairs[n++] = (CondPair) { stack[--depth], i };
                }
        }
        if (depth > 0) {
                *ret_reason = strprintf("the %%if at line %zu has no %%endif", stack[0] + 1);
                return -EBADMSG;
        }
        *ret = TAKE_PTR(pairs);
        *ret_n = n;
        return 0;
}

/* Whether lines (from, to) hold only blanks, comments and %if/%endif. */
static bool only_conditionals(const Spec *s, size_t from, size_t to, size_t *ret_line) {
        for (size_t i = from + 1; i < to; i++) {
                const SpecLine *l = &s->lines[i];
                if (!line_is_blank(l) && !line_is_comment(l) && spec_cond_change(l) == 0) {
                        *ret_line = i;
                        return false;
                }
        }
        return true;
}

int spec_section_removal_range(const Spec *s, size_t k, size_t *ret_begin, size_t *ret_end, char **ret_reason) {
        const SpecSection *sec = &s->sections[k];
        size_t begin = sec->header, end = sec->end, trimmed = end, bad;
        _cleanup_free_ CondPair *pairs = NULL;
        size_t n = 0;

        if (k == 0)
                return -EINVAL;
        int r = cond_pairs(s, &pairs, &n, ret_reason);
        if (r < 0)
                return r;

        for (size_t i = 0; i < n; i++) {
                bool open_in = pairs[i].open >= begin && pairs[i].open < end;
                bool close_in = pairs[i].close >= begin && pairs[i].close < end;
                if (open_in == close_in)
                        continue;
                /* The half inside stays: the block is around this section
                 * and others. Nothing of the section may follow an %if
                 * that is closed after it. */
                size_t inside = open_in ? pairs[i].open : pairs[i].close;
                trimmed = MIN(trimmed, inside);
                if (open_in && !only_conditionals(s, pairs[i].open, end, &bad)) {
                        *ret_reason = strprintf("line %zu of section %s is inside the %%if of line %zu, which "
                                                "ends after the section",
                                                bad + 1, sec->name, pairs[i].open + 1);
                        return -EBADMSG;
                }
        }

        /* An %else inside, of a block that is not wholly inside, would
         * change what the rest of the block means. */
        for (size_t i = begin; i < end; i++) {
                if (!line_is_cond_branch(&s->lines[i]))
                        continue;
                for (size_t j = 0; j < n; j++)
                        if (pairs[j].open <= i && pairs[j].close >= i) {
                                if (pairs[j].open < begin || pairs[j].close >= end) {
                                        *ret_reason = strprintf("section %s holds the %%else of line %zu, whose "
                                                                "%%if (line %zu) is outside it",
                                                                sec->name, i + 1, pairs[j].open + 1);
                                        return -EBADMSG;
                                }
                                break;
                        }
        }

        if (trimmed < end && !only_conditionals(s, trimmed - 1, end, &bad)) {
                *ret_reason = strprintf("line %zu of section %s follows the %s of line %zu, which belongs to a "
                                        "block around the section",
                                        bad + 1, sec->name, spec_cond_change(&s->lines[trimmed]) < 0 ? "%endif" : "%if",
                                        trimmed + 1);
                return -EBADMSG;
        }
        *ret_begin = begin;
        *ret_end = trimmed;
        return 0;
}
