/* SPDX-License-Identifier: MIT */

/* The SBOM as an SPDX 2.3 JSON document (https://spdx.github.io/spdx-spec/v2.3/;
 * the JSON schema tests/data/spdx-2.3-schema.json). Section numbers below
 * are the specification's. */

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "basic/alloc.h"
#include "basic/hash.h"
#include "basic/strbuf.h"
#include "compose/sbom.h"

#ifndef SLIPWAY_VERSION
#define SLIPWAY_VERSION "0"
#endif

typedef struct Doc {
        json_t *root;
        json_t *packages;
        json_t *files;
        json_t *relationships;
        json_t *licenses; /* licenseId -> hasExtractedLicensingInfos element */
        bool oom;
} Doc;

/* A JSON string of s; bytes that are not UTF-8 (old headers in Latin-1)
 * become '?', so that the document stays valid. */
static json_t *jstr(Doc *doc, const char *s) {
        json_t *j = json_string(s);
        if (!j && s) {
                _cleanup_free_ char *c = strdup(s);
                if (c) {
                        for (unsigned char *p = (unsigned char *) c; *p; p++)
                                if (*p >= 0x80)
                                        *p = '?';
                        j = json_string(c);
                }
        }
        if (!j)
                doc->oom = true;
        return j;
}

static void set(Doc *doc, json_t *o, const char *key, json_t *v) {
        if (!v || json_object_set_new(o, key, v) < 0)
                doc->oom = true;
}

static void append(Doc *doc, json_t *a, json_t *v) {
        if (!v || json_array_append_new(a, v) < 0)
                doc->oom = true;
}

static void relate(Doc *doc, const char *from, const char *type, const char *to) {
        json_t *r = json_object();
        if (!r) {
                doc->oom = true;
                return;
        }
        set(doc, r, "spdxElementId", jstr(doc, from));
        set(doc, r, "relationshipType", jstr(doc, type));
        set(doc, r, "relatedSpdxElement", jstr(doc, to));
        append(doc, doc->relationships, r);
}

/* s with every byte outside [A-Za-z0-9.-] turned into '-', and, if any
 * was, "-" and the first 8 hex digits of s's SHA-256 (idstring, 3.2, so
 * distinct names stay distinct). */
static char *idstring(const char *s) {
        StrBuf b = STRBUF_INIT;
        bool changed = false;
        for (const char *p = s; *p; p++) {
                bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                          *p == '.' || *p == '-';
                strbuf_putc(&b, ok ? *p : '-');
                changed = changed || !ok;
        }
        if (changed) {
                uint8_t md[HASH_MAX_SIZE];
                char hex[2 * HASH_MAX_SIZE + 1];
                if (hash_buffer(HASH_SHA256, s, strlen(s), md) < 0) {
                        strbuf_release(&b);
                        return NULL;
                }
                hex_encode(md, 4, hex);
                strbuf_printf(&b, "-%s", hex);
        }
        if (b.oom) {
                strbuf_release(&b);
                return NULL;
        }
        return strbuf_detach(&b, NULL);
}

/* ---- license expressions (Annex D) ---------------------------------------- */

/* The SPDX license list's identifiers without a '-' (as spdx-license-ids
 * 3.0.12, Debian 12's node-spdx-license-ids, has them, deprecated too): an
 * RPM License tag of the old Fedora style ("GPLv2+", "BSD", "ASL 2.0") is
 * not an SPDX expression, and a hyphen-less word is taken for an SPDX
 * identifier only if it is one of these. Hyphenated words are taken as
 * identifiers without a check (the list's other 400 are not kept here): a
 * tag like "GPL-2" passes as an expression though it is none. */
static const char *const plain_ids[] = {
        "0BSD", "AAL", "ADSL", "AMDPLPA", "AML", "AMPAS", "APAFML", "Abstyles", "Afmparse", "Aladdin", "Baekmuk",
        "Bahyph", "Barr", "Beerware", "Borceux", "Caldera", "ClArtistic", "Crossword", "CrystalStacker", "Cube",
        "DOC", "DSDP", "Dotseqn", "EPICS", "EUDatagrid", "Entessa", "Eurosym", "FSFAP", "FSFUL", "FSFULLR", "FTL",
        "Fair", "FreeImage", "GD", "GL2PS", "GLWTPL", "Giftware", "Glide", "Glulxe", "HPND", "HTMLTIDY",
        "HaskellReport", "ICU", "IJG", "IPA", "ISC", "ImageMagick", "Imlib2", "Intel", "JPNIC", "JSON", "Jam",
        "LGPLLR", "Latex2e", "Leptonica", "Libpng", "MIT", "MITNFA", "MTLL", "MakeIndex", "Minpack", "MirOS",
        "Motosoto", "Multics", "Mup", "NCSA", "NGPL", "NLPL", "NOSL", "NRL", "NTP", "Naumen", "NetCDF", "Newsletr",
        "Nokia", "Noweb", "Nunit", "OGTSL", "OML", "OpenSSL", "Plexus", "PostgreSQL", "Qhull", "RSCPL", "Rdisc",
        "Ruby", "SCEA", "SISSL", "SMLNJ", "SMPPL", "SNIA", "SWL", "Saxpath", "SchemeReport", "Sendmail",
        "Sleepycat", "TCL", "TMate", "TOSL", "Unlicense", "VOSTROM", "Vim", "W3C", "WTFPL", "Wsuipa", "X11",
        "XSkat", "Xerox", "Xnet", "Zed", "Zlib", "blessing", "curl", "diffmark", "dvipdfm", "eGenix", "gnuplot",
        "iMatix", "libtiff", "mpich2", "mplus", "psfrag", "psutils", "wxWindows", "xinetd", "xpp",
};

typedef struct Lexer {
        const char *p;
        char word[256];
} Lexer;

/* The next token: "(", ")", a word, or "" at the end; NULL: not a token. */
static const char *next(Lexer *l) {
        while (*l->p == ' ')
                l->p++;
        if (*l->p == '(' || *l->p == ')') {
                l->word[0] = *l->p++;
                l->word[1] = 0;
                return l->word;
        }
        size_t n = 0;
        while (*l->p && *l->p != ' ' && *l->p != '(' && *l->p != ')') {
                if (n + 1 >= sizeof(l->word))
                        return NULL;
                l->word[n++] = *l->p++;
        }
        l->word[n] = 0;
        return l->word;
}

static bool id_chars(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' ||
                      *s == '-'))
                        return false;
        return true;
}

static bool license_id(const char *w) {
        char id[256];
        snprintf(id, sizeof(id), "%s", w);
        size_t n = strlen(id);
        if (n > 0 && id[n - 1] == '+')
                id[--n] = 0;
        if (strncmp(id, "LicenseRef-", 11) == 0)
                return id_chars(id + 11);
        if (!id_chars(id) || strcmp(id, "AND") == 0 || strcmp(id, "OR") == 0 || strcmp(id, "WITH") == 0)
                return false;
        if (strchr(id, '-'))
                return true;
        for (size_t i = 0; i < ELEMENTSOF(plain_ids); i++)
                if (strcmp(plain_ids[i], id) == 0)
                        return true;
        return false;
}

static bool parse_or(Lexer *l, const char **tok, unsigned depth);

/* simple [WITH exception] | "(" or ")" */
static bool parse_term(Lexer *l, const char **tok, unsigned depth) {
        if (!*tok || depth > 32)
                return false;
        if (strcmp(*tok, "(") == 0) {
                *tok = next(l);
                if (!parse_or(l, tok, depth + 1) || !*tok || strcmp(*tok, ")") != 0)
                        return false;
                *tok = next(l);
                return true;
        }
        if (!license_id(*tok))
                return false;
        *tok = next(l);
        if (*tok && strcmp(*tok, "WITH") == 0) {
                *tok = next(l);
                if (!*tok || !id_chars(*tok) || !strchr(*tok, '-'))
                        return false;
                *tok = next(l);
        }
        return true;
}

static bool parse_and(Lexer *l, const char **tok, unsigned depth) {
        if (!parse_term(l, tok, depth))
                return false;
        while (*tok && strcmp(*tok, "AND") == 0) {
                *tok = next(l);
                if (!parse_term(l, tok, depth))
                        return false;
        }
        return true;
}

static bool parse_or(Lexer *l, const char **tok, unsigned depth) {
        if (!parse_and(l, tok, depth))
                return false;
        while (*tok && strcmp(*tok, "OR") == 0) {
                *tok = next(l);
                if (!parse_and(l, tok, depth))
                        return false;
        }
        return true;
}

/* Whether s reads as an SPDX license expression (see plain_ids). */
static bool license_expression(const char *s) {
        Lexer l = { .p = s };
        const char *tok = next(&l);
        return tok && *tok && parse_or(&l, &tok, 0) && tok && !*tok;
}

/* licenseDeclared of an RPM License tag: the tag if it is an SPDX
 * expression, else a LicenseRef- whose extracted text is the tag (10.1),
 * recorded once in doc->licenses. */
static json_t *declared(Doc *doc, const char *license) {
        if (!license || !*license)
                return jstr(doc, "NOASSERTION");
        if (license_expression(license))
                return jstr(doc, license);
        _cleanup_free_ char *id = idstring(license);
        _cleanup_free_ char *ref = id ? strprintf("LicenseRef-%s", id) : NULL;
        if (!ref) {
                doc->oom = true;
                return NULL;
        }
        if (!json_object_get(doc->licenses, ref)) {
                json_t *e = json_object();
                if (!e) {
                        doc->oom = true;
                        return NULL;
                }
                set(doc, e, "licenseId", jstr(doc, ref));
                set(doc, e, "name", jstr(doc, license));
                set(doc, e, "extractedText", jstr(doc, license));
                set(doc, e, "comment",
                    jstr(doc, "the License tag of an RPM package, which is not an SPDX license expression"));
                set(doc, doc->licenses, ref, e);
        }
        return jstr(doc, ref);
}

/* ---- package URLs (https://github.com/package-url/purl-spec, type rpm) ---- */

static void pct(StrBuf *b, const char *s, bool lower) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                unsigned char c = lower && *p >= 'A' && *p <= 'Z' ? *p + 32 : *p;
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '-' || c == '_' || c == '~')
                        strbuf_putc(b, (char) c);
                else
                        strbuf_printf(b, "%%%02X", c);
        }
}

/* pkg:rpm/NAMESPACE/NAME@VERSION-RELEASE?arch=A&distro=D&epoch=E, the
 * namespace (the vendor, lower case) left out when unknown, qualifiers in
 * key order. */
static char *purl(const SbomPackage *p, const SbomOptions *o) {
        StrBuf b = STRBUF_INIT;
        const char *ns = p->vendor && *p->vendor ? p->vendor : o->purl_namespace;
        strbuf_puts(&b, "pkg:rpm/");
        if (ns && *ns) {
                pct(&b, ns, true);
                strbuf_putc(&b, '/');
        }
        pct(&b, p->name, false);
        strbuf_putc(&b, '@');
        pct(&b, p->version, false);
        strbuf_putc(&b, '-');
        pct(&b, p->release, false);
        char sep = '?';
        if (p->arch) {
                strbuf_printf(&b, "%carch=", sep);
                pct(&b, p->arch, false);
                sep = '&';
        }
        if (o->distro && *o->distro) {
                strbuf_printf(&b, "%cdistro=", sep);
                pct(&b, o->distro, false);
                sep = '&';
        }
        if (p->has_epoch && p->epoch > 0)
                strbuf_printf(&b, "%cepoch=%u", sep, p->epoch);
        if (b.oom) {
                strbuf_release(&b);
                return NULL;
        }
        return strbuf_detach(&b, NULL);
}

/* "Organization: NAME" of a Vendor or Packager tag; "Name <mail>" becomes
 * "Name (mail)" as 7.5 writes contacts. */
static char *supplier(const SbomPackage *p) {
        const char *s = p->vendor && *p->vendor ? p->vendor : p->packager && *p->packager ? p->packager : NULL;
        if (!s)
                return strdup("NOASSERTION");
        const char *lt = strchr(s, '<');
        size_t n = strlen(s);
        if (lt && n > 0 && s[n - 1] == '>' && lt < s + n - 1) {
                size_t name_len = (size_t) (lt - s);
                while (name_len > 0 && s[name_len - 1] == ' ')
                        name_len--;
                return strprintf("Organization: %.*s (%.*s)", (int) name_len, s, (int) (s + n - 1 - lt - 1), lt + 1);
        }
        return strprintf("Organization: %s", s);
}

static json_t *checksum(Doc *doc, const char *algo, const char *hex) {
        json_t *c = json_object();
        if (!c) {
                doc->oom = true;
                return NULL;
        }
        set(doc, c, "algorithm", jstr(doc, algo));
        set(doc, c, "checksumValue", jstr(doc, hex));
        return c;
}

static void add_package(Doc *doc, const Sbom *s, size_t i, const SbomOptions *o, char **ids) {
        const SbomPackage *p = &s->packages[i];
        json_t *j = json_object();
        if (!j) {
                doc->oom = true;
                return;
        }
        set(doc, j, "SPDXID", jstr(doc, ids[i]));
        set(doc, j, "name", jstr(doc, p->name));
        set(doc, j, "versionInfo", jstr(doc, p->evr));
        if (p->arch) {
                _cleanup_free_ char *file = strprintf("%s-%s-%s.%s.rpm", p->name, p->version, p->release, p->arch);
                set(doc, j, "packageFileName", file ? jstr(doc, file) : NULL);
        }
        _cleanup_free_ char *sup = supplier(p);
        set(doc, j, "supplier", sup ? jstr(doc, sup) : NULL);
        set(doc, j, "downloadLocation",
            jstr(doc, p->fetched && p->fetched->url ? p->fetched->url : "NOASSERTION"));
        set(doc, j, "filesAnalyzed", json_boolean(o->files && p->n_files > 0));
        set(doc, j, "licenseDeclared", declared(doc, p->license));
        set(doc, j, "licenseConcluded", jstr(doc, "NOASSERTION"));
        set(doc, j, "copyrightText", jstr(doc, "NOASSERTION"));
        if (p->summary)
                set(doc, j, "summary", jstr(doc, p->summary));
        if (p->url && (strncmp(p->url, "http://", 7) == 0 || strncmp(p->url, "https://", 8) == 0))
                set(doc, j, "homepage", jstr(doc, p->url));
        if (p->sourcerpm) {
                _cleanup_free_ char *src = strprintf("built from the source RPM %s", p->sourcerpm);
                set(doc, j, "sourceInfo", src ? jstr(doc, src) : NULL);
        }
        if (p->fetched && p->fetched->sha256) {
                json_t *sums = json_array();
                if (!sums)
                        doc->oom = true;
                else
                        append(doc, sums, checksum(doc, "SHA256", p->fetched->sha256));
                set(doc, j, "checksums", sums);
        }
        json_t *refs = json_array();
        _cleanup_free_ char *url = purl(p, o);
        json_t *ref = json_pack("{s:s, s:s}", "referenceCategory", "PACKAGE-MANAGER", "referenceType", "purl");
        if (!refs || !ref || !url) {
                json_decref(refs);
                json_decref(ref);
                doc->oom = true;
                return;
        }
        set(doc, ref, "referenceLocator", jstr(doc, url));
        append(doc, refs, ref);
        /* The header's digest identifies the package (its signature covers
         * it) whether or not the package file is known: an inspected
         * image's database has it, not the file's digest. */
        if (p->header_sha256) {
                ref = json_pack("{s:s, s:s, s:s}", "referenceCategory", "OTHER", "referenceType", "rpm-header-sha256",
                                "comment", "SHA-256 of the RPM main header (rpm's SHA256HEADER)");
                if (ref)
                        set(doc, ref, "referenceLocator", jstr(doc, p->header_sha256));
                append(doc, refs, ref);
        }
        set(doc, j, "externalRefs", refs);
        append(doc, doc->packages, j);
}

static int key_cmp(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static char *iso_time(int64_t t) {
        struct tm tm;
        time_t tt = (time_t) t;
        char buf[64];
        if (!gmtime_r(&tt, &tm) || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                return NULL;
        return strdup(buf);
}

int sbom_write_spdx(const Sbom *s, const SbomOptions *o, char **ret, size_t *ret_size) {
        Doc doc = {
                .root = json_object(),
                .packages = json_array(),
                .files = json_array(),
                .relationships = json_array(),
                .licenses = json_object(),
        };
        char **ids = new0(char *, s->n_packages + 1);
        _cleanup_free_ char *ns_name = NULL, *ns = NULL, *created = NULL;
        int r = -ENOMEM;

        if (!doc.root || !doc.packages || !doc.files || !doc.relationships || !doc.licenses || !ids)
                goto finish;

        /* 6: document creation information */
        ns_name = idstring(o->name);
        ns = ns_name ? strprintf("%s/%s-%s", o->namespace_base, ns_name, s->digest) : NULL;
        created = iso_time(o->created);
        if (!ns || !created)
                goto finish;
        set(&doc, doc.root, "spdxVersion", jstr(&doc, "SPDX-2.3"));
        set(&doc, doc.root, "dataLicense", jstr(&doc, "CC0-1.0"));
        set(&doc, doc.root, "SPDXID", jstr(&doc, "SPDXRef-DOCUMENT"));
        set(&doc, doc.root, "name", jstr(&doc, o->name));
        set(&doc, doc.root, "documentNamespace", jstr(&doc, ns));
        set(&doc, doc.root, "creationInfo",
            json_pack("{s:s, s:[s]}", "created", created, "creators", "Tool: slipway-" SLIPWAY_VERSION));

        /* 7: the image, then its packages */
        json_t *image = json_pack("{s:s, s:s, s:b, s:s, s:s, s:s, s:s, s:s}", "SPDXID", "SPDXRef-Image",
                                  "downloadLocation", "NOASSERTION", "filesAnalyzed", 0, "primaryPackagePurpose",
                                  "OPERATING_SYSTEM", "supplier", "NOASSERTION", "licenseConcluded", "NOASSERTION",
                                  "licenseDeclared", "NOASSERTION", "copyrightText", "NOASSERTION");
        if (!image)
                goto finish;
        set(&doc, image, "name", jstr(&doc, o->name));
        if (o->version)
                set(&doc, image, "versionInfo", jstr(&doc, o->version));
        append(&doc, doc.packages, image);
        relate(&doc, "SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image");

        for (size_t i = 0; i < s->n_packages; i++) {
                _cleanup_free_ char *id = idstring(s->packages[i].nevra);
                ids[i] = id ? strprintf("SPDXRef-RPM-%s", id) : NULL;
                if (!ids[i])
                        goto finish;
        }
        for (size_t i = 0; i < s->n_packages; i++) {
                add_package(&doc, s, i, o, ids);
                relate(&doc, "SPDXRef-Image", "CONTAINS", ids[i]);
        }
        for (size_t i = 0; i < s->n_packages; i++)
                for (size_t k = 0; k < s->packages[i].n_depends; k++)
                        relate(&doc, ids[i], "DEPENDS_ON", ids[s->packages[i].depends[k]]);

        /* 8: files, SPDXRef-File-PACKAGE-N by the package's sorted list */
        for (size_t i = 0; o->files && i < s->n_packages; i++) {
                const SbomPackage *p = &s->packages[i];
                for (size_t k = 0; k < p->n_files; k++) {
                        _cleanup_free_ char *id = strprintf("SPDXRef-File-%s-%zu", ids[i] + strlen("SPDXRef-RPM-"), k + 1);
                        _cleanup_free_ char *name = strprintf(".%s", p->files[k].path);
                        json_t *f = json_object(), *sums = json_array();
                        if (!id || !name || !f || !sums) {
                                json_decref(f);
                                json_decref(sums);
                                goto finish;
                        }
                        set(&doc, f, "SPDXID", jstr(&doc, id));
                        set(&doc, f, "fileName", jstr(&doc, name));
                        append(&doc, sums, checksum(&doc, p->files[k].algo, p->files[k].digest));
                        set(&doc, f, "checksums", sums);
                        append(&doc, doc.files, f);
                        relate(&doc, ids[i], "CONTAINS", id);
                }
        }

        set(&doc, doc.root, "packages", json_incref(doc.packages));
        if (o->files)
                set(&doc, doc.root, "files", json_incref(doc.files));
        if (json_object_size(doc.licenses) > 0) {
                /* 10: sorted by licenseId (the object's keys, sorted) */
                json_t *infos = json_array();
                const char **keys = infos ? new0(const char *, json_object_size(doc.licenses)) : NULL;
                size_t n = 0;
                const char *key;
                json_t *v;
                if (!keys) {
                        json_decref(infos);
                        goto finish;
                }
                json_object_foreach(doc.licenses, key, v)
                        keys[n++] = key;
                qsort(keys, n, sizeof(*keys), key_cmp);
                for (size_t i = 0; i < n; i++)
                        append(&doc, infos, json_incref(json_object_get(doc.licenses, keys[i])));
                free(keys);
                set(&doc, doc.root, "hasExtractedLicensingInfos", infos);
        }
        /* 11 */
        set(&doc, doc.root, "relationships", json_incref(doc.relationships));
        if (doc.oom)
                goto finish;

        char *text = json_dumps(doc.root, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (!text)
                goto finish;
        size_t n = strlen(text);
        char *t = realloc(text, n + 2);
        if (!t) {
                free(text);
                goto finish;
        }
        t[n] = '\n';
        t[n + 1] = 0;
        *ret = t;
        if (ret_size)
                *ret_size = n + 1;
        r = 0;
finish:
        for (size_t i = 0; ids && i < s->n_packages; i++)
                free(ids[i]);
        free(ids);
        json_decref(doc.root);
        json_decref(doc.packages);
        json_decref(doc.files);
        json_decref(doc.relationships);
        json_decref(doc.licenses);
        return r;
}
