/* SPDX-License-Identifier: MIT */

/* The dependency grammar; the rules are in rpm/dep.h. */

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "basic/macro.h"
#include "rpm/dep.h"

/* ---- rich dependencies ----------------------------------------------------- */

#define RICH_NO_WITH (1 << 1) /* rpm's RICHPARSE_NO_WITH; the others need RICHPARSE_CHECK */

static bool rich_space(char c) {
        /* risspace() */
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static const char *rich_skip_white(const char *p) {
        while (*p && (rich_space(*p) || *p == ','))
                p++;
        return p;
}

/* SKIPNONWHITEX: up to white space, a comma or an unbalanced ')'. */
static const char *rich_skip_nonwhite(const char *p) {
        int bl = 0;
        while (*p && !(rich_space(*p) || *p == ',' || (*p == ')' && bl-- <= 0)))
                if (*p++ == '(')
                        bl++;
        return p;
}

/* rpmParseDSFlags()'s ReqComparisons */
static const char *const sense_ops[] = { "<=", "=<", "<", "==", "=", ">=", "=>", ">" };

static bool is_sense(const char *p, size_t n) {
        for (size_t i = 0; i < ELEMENTSOF(sense_ops); i++)
                if (strlen(sense_ops[i]) == n && strncmp(p, sense_ops[i], n) == 0)
                        return true;
        return false;
}

static int rich_parse_simple(const char **pp, const RpmRichVisitor *v) {
        const char *p = *pp, *n = p, *e = NULL;
        p = rich_skip_nonwhite(p);
        size_t nl = (size_t) (p - n), el = 0;
        if (nl == 0)
                return -EINVAL;
        p = rich_skip_white(p);
        if (*p) {
                const char *pe = rich_skip_nonwhite(p);
                if (is_sense(p, (size_t) (pe - p))) {
                        p = rich_skip_white(pe);
                        e = p;
                        p = rich_skip_nonwhite(p);
                        el = (size_t) (p - e);
                }
        }
        if (e && el == 0)
                return -EINVAL;
        if (v && v->simple)
                v->simple(v->userdata, n, nl);
        *pp = p;
        return 0;
}

static int rich_parse_op(const char **pp, RpmRichOp *ret) {
        static const struct {
                const char *token;
                RpmRichOp op;
        } ops[] = {
                { "and", RPM_RICH_AND },   { "or", RPM_RICH_OR },     { "if", RPM_RICH_IF },
                { "unless", RPM_RICH_UNLESS }, { "else", RPM_RICH_ELSE }, { "with", RPM_RICH_WITH },
                { "without", RPM_RICH_WITHOUT },
        };
        const char *p = *pp, *pe = p;
        while (*pe && !rich_space(*pe) && *pe != ')')
                pe++;
        for (size_t i = 0; i < ELEMENTSOF(ops); i++)
                if ((size_t) (pe - p) == strlen(ops[i].token) && strncmp(p, ops[i].token, (size_t) (pe - p)) == 0) {
                        *ret = ops[i].op;
                        *pp = pe;
                        return 0;
                }
        return -EINVAL;
}

static int rich_parse(const char **pp, const RpmRichVisitor *v, int *checkp, unsigned depth) {
        const char *p = *pp;
        RpmRichOp op = RPM_RICH_SINGLE, firstop = RPM_RICH_SINGLE, chainop = RPM_RICH_SINGLE;
        int check = checkp ? *checkp : 0;
        int r;

        /* rpm recurses without a bound; a dependency string is short. */
        if (depth > 256)
                return -EINVAL;
        if (v && v->enter)
                v->enter(v->userdata);
        if (*p++ != '(')
                return -EINVAL;
        for (;;) {
                p = rich_skip_white(p);
                if (*p == ')')
                        return -EINVAL;
                if (*p == '(') {
                        int subcheck = 0;
                        r = rich_parse(&p, v, &subcheck, depth + 1);
                        if (r < 0)
                                return r;
                        check |= subcheck;
                } else {
                        r = rich_parse_simple(&p, v);
                        if (r < 0)
                                return r;
                }
                p = rich_skip_white(p);
                if (!*p)
                        return -EINVAL;
                if (*p == ')')
                        break;
                const char *pe = p;
                r = rich_parse_op(&pe, &op);
                if (r < 0)
                        return r;
                if (firstop == RPM_RICH_SINGLE)
                        firstop = op;
                if (op == RPM_RICH_ELSE && (chainop == RPM_RICH_IF || chainop == RPM_RICH_UNLESS))
                        chainop = RPM_RICH_SINGLE;
                if (chainop != RPM_RICH_SINGLE && op != chainop)
                        return -EINVAL;
                if (chainop != RPM_RICH_SINGLE && op != RPM_RICH_AND && op != RPM_RICH_OR && op != RPM_RICH_WITH)
                        return -EINVAL;
                if (v && v->op)
                        v->op(v->userdata, op);
                chainop = op;
                p = pe;
        }
        /* rpmrichParseCheck() without RICHPARSE_CHECK: only with/without
         * around and/if/... is refused. */
        if ((firstop == RPM_RICH_WITH || firstop == RPM_RICH_WITHOUT) && (check & RICH_NO_WITH))
                return -EINVAL;
        if (op != RPM_RICH_SINGLE && op != RPM_RICH_WITH && op != RPM_RICH_WITHOUT && op != RPM_RICH_OR)
                check |= RICH_NO_WITH;
        p++;
        if (v && v->leave)
                v->leave(v->userdata, op);
        *pp = p;
        if (checkp)
                *checkp |= check;
        return 0;
}

int rpm_rich_parse(const char *s, const RpmRichVisitor *v, const char **ret_end) {
        const char *p = s;
        int r = rich_parse(&p, v, NULL, 0);
        if (r < 0)
                return r;
        if (ret_end)
                *ret_end = p;
        return 0;
}

/* ---- the whole grammar ----------------------------------------------------- */

static bool is_blank(char c) {
        return c == ' ' || c == '\t';
}

int rpm_dependency_parse(const char *s, RpmDep *ret) {
        if (!s || !*s)
                return -EINVAL;
        if (s[0] == '(') {
                const char *end;
                if (rpm_rich_parse(s, NULL, &end) < 0 || *end)
                        return -EINVAL;
                if (!ret)
                        return 0;
                RpmDep d = { .name = strdup(s), .evr = strdup("") };
                if (!d.name || !d.evr) {
                        free(d.name);
                        free(d.evr);
                        return -ENOMEM;
                }
                *ret = d;
                return 0;
        }

        /* NAME: up to white space, or to an operator outside parentheses. */
        const char *p = s;
        int depth = 0;
        for (; *p && !is_blank(*p); p++) {
                unsigned char c = (unsigned char) *p;
                if (c < 0x21 || c == 0x7f || c == ',')
                        return -EINVAL;
                if (c == '(')
                        depth++;
                else if (c == ')' && depth > 0)
                        depth--;
                else if (depth == 0 && (c == '<' || c == '>' || c == '='))
                        break;
        }
        size_t nl = (size_t) (p - s);
        if (nl == 0)
                return -EINVAL;
        while (is_blank(*p))
                p++;

        uint32_t flags = 0;
        const char *evr = p;
        size_t el = 0;
        if (*p) {
                size_t ol = strspn(p, "<>=");
                if (!is_sense(p, ol))
                        return -EINVAL;
                for (size_t i = 0; i < ol; i++)
                        flags |= p[i] == '<' ? RPMSENSE_LESS : p[i] == '>' ? RPMSENSE_GREATER : RPMSENSE_EQUAL;
                p += ol;
                while (is_blank(*p))
                        p++;
                evr = p;
                el = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._+~^:-");
                if (el == 0 || p[el] != 0)
                        return -EINVAL;
        } else if (p != s + nl)
                return -EINVAL; /* white space after the name, then nothing */

        if (!ret)
                return 0;
        RpmDep d = { .name = strndup(s, nl), .flags = flags, .evr = strndup(evr, el) };
        if (!d.name || !d.evr) {
                free(d.name);
                free(d.evr);
                return -ENOMEM;
        }
        *ret = d;
        return 0;
}

void rpm_dep_format(const RpmDep *d, char *buf, size_t size) {
        const char *op = "";
        uint32_t f = d->flags & (RPMSENSE_LESS | RPMSENSE_GREATER | RPMSENSE_EQUAL);
        if (f == RPMSENSE_EQUAL)
                op = "=";
        else if (f == (RPMSENSE_LESS | RPMSENSE_EQUAL))
                op = "<=";
        else if (f == (RPMSENSE_GREATER | RPMSENSE_EQUAL))
                op = ">=";
        else if (f == RPMSENSE_LESS)
                op = "<";
        else if (f == RPMSENSE_GREATER)
                op = ">";
        if (*op && d->evr[0])
                snprintf(buf, size, "%s %s %s", d->name, op, d->evr);
        else
                snprintf(buf, size, "%s", d->name);
}
