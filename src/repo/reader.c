/* SPDX-License-Identifier: MIT */

/* What `slipway verify` needs from repository metadata: the files repomd.xml
 * lists with their checksums, and the packages primary lists with theirs. */

#include <stdlib.h>
#include <string.h>

#include "basic/alloc.h"
#include "repo/repo.h"
#include "repo/xml.h"

void repomd_free_array(RepoMdData *a, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(a[i].type);
                free(a[i].href);
                free(a[i].checksum_type);
                free(a[i].checksum);
        }
        free(a);
}

void primary_free_array(RepoPrimaryPackage *a, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(a[i].name);
                free(a[i].href);
                free(a[i].checksum_type);
                free(a[i].pkgid);
                free(a[i].arch);
                free(a[i].epoch);
                free(a[i].version);
                free(a[i].release);
        }
        free(a);
}

/* Collects the text of the current element until its end. */
static int read_text(XmlReader *r, char **ret) {
        XmlEvent ev;
        char *acc = strdup("");
        if (!acc)
                return -ENOMEM;
        for (;;) {
                int k = xml_next(r, &ev);
                if (k < 0) {
                        free(acc);
                        return k;
                }
                if (ev.type == XML_END)
                        break;
                if (ev.type != XML_TEXT) {
                        free(acc);
                        return -EBADMSG;
                }
                char *t = ev.cdata ? strndup_nul(ev.text.p, ev.text.n) : xml_unescape(ev.text);
                char *j = NULL;
                if (!t || asprintf(&j, "%s%s", acc, t) < 0) {
                        free(t);
                        free(acc);
                        return t ? -ENOMEM : -EBADMSG;
                }
                free(t);
                free(acc);
                acc = j;
        }
        /* Trim surrounding white space (checksums are often on their own line). */
        size_t l = strlen(acc), s = strspn(acc, " \t\r\n");
        while (l > s && strchr(" \t\r\n", acc[l - 1]))
                l--;
        memmove(acc, acc + s, l - s);
        acc[l - s] = 0;
        *ret = acc;
        return 0;
}

int repomd_parse(const char *data, size_t n, RepoMdData **ret, size_t *ret_n) {
        XmlReader r;
        XmlEvent ev;
        RepoMdData *a = NULL, *cur = NULL;
        size_t na = 0, allocated = 0;
        int k;

        xml_reader_init(&r, data, n);
        while ((k = xml_next(&r, &ev)) >= 0 && ev.type != XML_EOF) {
                if (ev.type == XML_START && xml_name_is(ev.name, "data")) {
                        if (!GREEDY_REALLOC(a, allocated, na + 1)) {
                                k = -ENOMEM;
                                break;
                        }
                        cur = &a[na++];
                        *cur = (RepoMdData) { .type = xml_attr(&ev, "type") };
                } else if (ev.type == XML_END && xml_name_is(ev.name, "data"))
                        cur = NULL;
                else if (cur && ev.type == XML_START && xml_name_is(ev.name, "location") && !cur->href)
                        cur->href = xml_attr(&ev, "href");
                else if (cur && ev.type == XML_START && xml_name_is(ev.name, "checksum") && !cur->checksum) {
                        cur->checksum_type = xml_attr(&ev, "type");
                        k = read_text(&r, &cur->checksum);
                        if (k < 0)
                                break;
                } else if (cur && ev.type == XML_START &&
                           (xml_name_is(ev.name, "size") || xml_name_is(ev.name, "open-size"))) {
                        uint64_t *v = xml_name_is(ev.name, "size") ? &cur->size : &cur->open_size;
                        _cleanup_free_ char *t = NULL;
                        k = read_text(&r, &t);
                        if (k < 0)
                                break;
                        /* A size that is not a plain decimal number is taken as not given. */
                        uint64_t x = 0;
                        bool ok = t && *t;
                        for (const char *c = t; ok && *c; c++) {
                                ok = *c >= '0' && *c <= '9' && x <= (UINT64_MAX - 9) / 10;
                                x = x * 10 + (uint64_t) (*c - '0');
                        }
                        *v = ok ? x : 0;
                }
        }
        if (k >= 0)
                for (size_t i = 0; i < na; i++)
                        if (!a[i].type || !a[i].href || !a[i].checksum || !a[i].checksum_type)
                                k = -EBADMSG;
        if (k < 0) {
                repomd_free_array(a, na);
                return k;
        }
        *ret = a;
        *ret_n = na;
        return 0;
}

int primary_parse(const char *data, size_t n, RepoPrimaryPackage **ret, size_t *ret_n) {
        XmlReader r;
        XmlEvent ev;
        RepoPrimaryPackage *a = NULL, *cur = NULL;
        size_t na = 0, allocated = 0;
        unsigned in_format = 0;
        int k;

        xml_reader_init(&r, data, n);
        while ((k = xml_next(&r, &ev)) >= 0 && ev.type != XML_EOF) {
                if (ev.type == XML_START && xml_name_is(ev.name, "package")) {
                        if (cur) {
                                k = -EBADMSG;
                                break;
                        }
                        if (!GREEDY_REALLOC(a, allocated, na + 1)) {
                                k = -ENOMEM;
                                break;
                        }
                        cur = &a[na++];
                        *cur = (RepoPrimaryPackage) {};
                } else if (ev.type == XML_END && xml_name_is(ev.name, "package"))
                        cur = NULL;
                else if (ev.type == XML_START && xml_name_is(ev.name, "format"))
                        in_format++;
                else if (ev.type == XML_END && xml_name_is(ev.name, "format"))
                        in_format = in_format ? in_format - 1 : 0;
                else if (cur && !in_format && ev.type == XML_START) {
                        if (xml_name_is(ev.name, "location") && !cur->href)
                                cur->href = xml_attr(&ev, "href");
                        else if (xml_name_is(ev.name, "name") && !cur->name)
                                k = read_text(&r, &cur->name);
                        else if (xml_name_is(ev.name, "checksum") && !cur->pkgid) {
                                cur->checksum_type = xml_attr(&ev, "type");
                                k = read_text(&r, &cur->pkgid);
                        } else if (xml_name_is(ev.name, "arch") && !cur->arch)
                                k = read_text(&r, &cur->arch);
                        else if (xml_name_is(ev.name, "version") && !cur->version && !cur->epoch &&
                                 !cur->release) {
                                cur->epoch = xml_attr(&ev, "epoch");
                                cur->version = xml_attr(&ev, "ver");
                                cur->release = xml_attr(&ev, "rel");
                        }
                        if (k < 0)
                                break;
                }
        }
        if (k >= 0)
                for (size_t i = 0; i < na; i++)
                        if (!a[i].href || !a[i].pkgid || !a[i].checksum_type)
                                k = -EBADMSG;
        if (k < 0) {
                primary_free_array(a, na);
                return k;
        }
        *ret = a;
        *ret_n = na;
        return 0;
}

bool repo_href_safe(const char *h) {
        if (!h || !*h || h[0] == '/' || strstr(h, "://") || strchr(h, '\\'))
                return false;
        for (const char *p = h; (p = strstr(p, "..")); p += 2)
                if ((p == h || p[-1] == '/') && (p[2] == 0 || p[2] == '/'))
                        return false;
        return true;
}
