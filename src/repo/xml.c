/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basic/strbuf.h"
#include "repo/xml.h"

#define XML_MAX_DEPTH 64

void xml_reader_init(XmlReader *r, const char *data, size_t n) {
        *r = (XmlReader) { .p = data, .end = data + n };
}

bool xml_name_is(XmlSpan s, const char *name) {
        return strlen(name) == s.n && memcmp(s.p, name, s.n) == 0;
}

static bool is_name_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
               c == '.' || c == ':' || (unsigned char) c >= 0x80;
}

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const char *find(const char *p, const char *end, const char *s) {
        size_t n = strlen(s);
        while ((size_t) (end - p) >= n) {
                if (memcmp(p, s, n) == 0)
                        return p;
                p++;
        }
        return NULL;
}

int xml_next(XmlReader *r, XmlEvent *ev) {
        *ev = (XmlEvent) {};
        if (r->pending_end) {
                r->pending_end = false;
                ev->type = XML_END;
                ev->name = r->pending_name;
                return 0;
        }
        for (;;) {
                if (r->p >= r->end) {
                        if (r->depth != 0)
                                return -EBADMSG;
                        ev->type = XML_EOF;
                        return 0;
                }
                if (*r->p != '<') {
                        const char *lt = memchr(r->p, '<', (size_t) (r->end - r->p));
                        const char *e = lt ? lt : r->end;
                        ev->type = XML_TEXT;
                        ev->text = (XmlSpan) { r->p, (size_t) (e - r->p) };
                        r->p = e;
                        return 0;
                }
                size_t left = (size_t) (r->end - r->p);
                if (left >= 4 && memcmp(r->p, "<!--", 4) == 0) {
                        const char *e = find(r->p + 4, r->end, "-->");
                        if (!e)
                                return -EBADMSG;
                        r->p = e + 3;
                        continue;
                }
                if (left >= 9 && memcmp(r->p, "<![CDATA[", 9) == 0) {
                        const char *e = find(r->p + 9, r->end, "]]>");
                        if (!e)
                                return -EBADMSG;
                        ev->type = XML_TEXT;
                        ev->cdata = true;
                        ev->text = (XmlSpan) { r->p + 9, (size_t) (e - r->p - 9) };
                        r->p = e + 3;
                        return 0;
                }
                if (left >= 2 && (r->p[1] == '?' || r->p[1] == '!')) {
                        const char *e = memchr(r->p, '>', left);
                        if (!e)
                                return -EBADMSG;
                        r->p = e + 1;
                        continue;
                }
                break;
        }

        const char *p = r->p + 1;
        bool end_tag = p < r->end && *p == '/';
        if (end_tag)
                p++;
        const char *ns = p;
        while (p < r->end && is_name_char(*p))
                p++;
        if (p == ns)
                return -EBADMSG;
        ev->name = (XmlSpan) { ns, (size_t) (p - ns) };

        if (end_tag) {
                while (p < r->end && is_space(*p))
                        p++;
                if (p >= r->end || *p != '>' || r->depth == 0)
                        return -EBADMSG;
                r->depth--;
                r->p = p + 1;
                ev->type = XML_END;
                return 0;
        }

        for (;;) {
                while (p < r->end && is_space(*p))
                        p++;
                if (p >= r->end)
                        return -EBADMSG;
                if (*p == '>' || *p == '/')
                        break;
                const char *an = p;
                while (p < r->end && is_name_char(*p))
                        p++;
                if (p == an || ev->n_attrs >= XML_MAX_ATTRS)
                        return -EBADMSG;
                XmlSpan name = { an, (size_t) (p - an) };
                while (p < r->end && is_space(*p))
                        p++;
                if (p >= r->end || *p != '=')
                        return -EBADMSG;
                p++;
                while (p < r->end && is_space(*p))
                        p++;
                if (p >= r->end || (*p != '"' && *p != '\''))
                        return -EBADMSG;
                char q = *p++;
                const char *v = p;
                const char *ve = memchr(p, q, (size_t) (r->end - p));
                if (!ve)
                        return -EBADMSG;
                ev->attr_names[ev->n_attrs] = name;
                ev->attr_values[ev->n_attrs] = (XmlSpan) { v, (size_t) (ve - v) };
                ev->n_attrs++;
                p = ve + 1;
        }
        ev->type = XML_START;
        if (*p == '/') {
                if (p + 1 >= r->end || p[1] != '>')
                        return -EBADMSG;
                r->pending_end = true;
                r->pending_name = ev->name;
                r->p = p + 2;
                return 0;
        }
        if (++r->depth > XML_MAX_DEPTH)
                return -EBADMSG;
        r->p = p + 1;
        return 0;
}

char *xml_unescape(XmlSpan s) {
        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
        const char *p = s.p, *end = s.p + s.n;
        while (p < end) {
                if (*p != '&') {
                        strbuf_putc(&sb, *p++);
                        continue;
                }
                const char *semi = memchr(p, ';', (size_t) (end - p));
                if (!semi || semi - p > 12)
                        return NULL;
                size_t n = (size_t) (semi - p - 1);
                const char *e = p + 1;
                if (n == 3 && memcmp(e, "amp", 3) == 0)
                        strbuf_putc(&sb, '&');
                else if (n == 2 && memcmp(e, "lt", 2) == 0)
                        strbuf_putc(&sb, '<');
                else if (n == 2 && memcmp(e, "gt", 2) == 0)
                        strbuf_putc(&sb, '>');
                else if (n == 4 && memcmp(e, "quot", 4) == 0)
                        strbuf_putc(&sb, '"');
                else if (n == 4 && memcmp(e, "apos", 4) == 0)
                        strbuf_putc(&sb, '\'');
                else if (n >= 2 && e[0] == '#') {
                        char *x;
                        unsigned long cp = e[1] == 'x' ? strtoul(e + 2, &x, 16) : strtoul(e + 1, &x, 10);
                        if (x != semi || cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                                return NULL;
                        strbuf_put_utf8(&sb, (unsigned) cp);
                } else
                        return NULL;
                p = semi + 1;
        }
        return strbuf_detach(&sb, NULL);
}

char *xml_attr(const XmlEvent *ev, const char *name) {
        for (size_t i = 0; i < ev->n_attrs; i++)
                if (xml_name_is(ev->attr_names[i], name))
                        return xml_unescape(ev->attr_values[i]);
        return NULL;
}
