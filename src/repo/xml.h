/* SPDX-License-Identifier: MIT */
#pragma once

/* A small pull reader for the XML of repository metadata: elements with
 * attributes, text, comments, processing instructions, CDATA. No DTDs, no
 * namespaces (prefixes stay part of names), no external entities: only the
 * five predefined entities and character references. Input is untrusted. */

#include <stdbool.h>
#include <stddef.h>

typedef enum XmlEventType {
        XML_START, /* <name attrs...> (self_closing for <name/>) */
        XML_END,   /* </name>, also sent after a self-closing start */
        XML_TEXT,  /* character data between tags (raw, unescape it) */
        XML_EOF,
} XmlEventType;

#define XML_MAX_ATTRS 32

typedef struct XmlSpan {
        const char *p;
        size_t n;
} XmlSpan;

typedef struct XmlEvent {
        XmlEventType type;
        XmlSpan name;
        XmlSpan attr_names[XML_MAX_ATTRS];
        XmlSpan attr_values[XML_MAX_ATTRS]; /* raw, unescape them */
        size_t n_attrs;
        XmlSpan text;
        bool cdata; /* text is CDATA: not escaped */
} XmlEvent;

typedef struct XmlReader {
        const char *p;
        const char *end;
        unsigned depth;
        bool pending_end; /* a self-closing element's end event is due */
        XmlSpan pending_name;
} XmlReader;

void xml_reader_init(XmlReader *r, const char *data, size_t n);
/* 0 and *ev filled, or -EBADMSG for malformed input. */
int xml_next(XmlReader *r, XmlEvent *ev);

bool xml_name_is(XmlSpan s, const char *name);
/* The unescaped value of attribute name, malloc'd; NULL if absent (or bad). */
char *xml_attr(const XmlEvent *ev, const char *name);
/* Unescapes text (entities and character references) into a malloc'd string. */
char *xml_unescape(XmlSpan s);
