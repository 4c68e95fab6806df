/* SPDX-License-Identifier: MIT */

/* compose/spdx.c on a model made here: how an RPM License tag becomes
 * licenseDeclared (an SPDX expression kept, anything else a LicenseRef with
 * the tag as its text), the purl, the supplier, SPDX ids of names with
 * other characters, the relationships, and the same bytes twice. The
 * document as a whole is checked against the SPDX schema and rpm by
 * tests/e2e/sbom_test.py. */

#include <jansson.h>

#include "compose/sbom.h"
#include "unit.h"

static json_t *write_doc(SbomPackage *pk, size_t n, const SbomOptions *o) {
        Sbom s = { .packages = pk, .n_packages = n };
        memset(s.digest, 'a', 64);
        char *text = NULL;
        size_t size = 0;
        CHECK(sbom_write_spdx(&s, o, &text, &size) == 0);
        CHECK(text && size == strlen(text) && text[size - 1] == '\n');
        json_t *j = text ? json_loads(text, 0, NULL) : NULL;
        CHECK(j);
        free(text);
        return j;
}

static json_t *package(json_t *doc, const char *name) {
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(doc, "packages"), i, p)
                if (strcmp(json_string_value(json_object_get(p, "name")), name) == 0)
                        return p;
        return NULL;
}

static const char *declared(json_t *doc, const char *name) {
        return json_string_value(json_object_get(package(doc, name), "licenseDeclared"));
}

/* The extracted text of a LicenseRef, or NULL. */
static const char *extracted(json_t *doc, const char *id) {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(doc, "hasExtractedLicensingInfos"), i, e)
                if (id && strcmp(json_string_value(json_object_get(e, "licenseId")), id) == 0)
                        return json_string_value(json_object_get(e, "extractedText"));
        return NULL;
}

#define PKG(n, lic) { .nevra = (char *) n "-1-1.noarch", .name = (char *) n, .evr = (char *) "1-1", \
                      .version = (char *) "1", .release = (char *) "1", .arch = (char *) "noarch", \
                      .license = (char *) (lic) }

static void test_licenses(void) {
        static const struct {
                const char *tag;
                bool spdx;
        } cases[] = {
                { "MIT", true },
                { "GPL-2.0-or-later", true },
                { "GPL-2.0+", true },
                { "(MIT OR Apache-2.0) AND BSD-3-Clause", true },
                { "GPL-2.0-only WITH Classpath-exception-2.0", true },
                { "LicenseRef-Fedora-Public-Domain", true },
                { "Zlib AND ((ISC))", true },
                /* old Fedora names and broken expressions */
                { "GPLv2+", false },
                { "BSD", false },
                { "ASL 2.0", false },
                { "GPL+ or Artistic", false },
                { "MIT or GPL-2.0-only", false }, /* operators are upper case */
                { "Public Domain", false },
                { "MIT AND", false },
                { "(MIT", false },
                { "MIT)", false },
                { "MIT WITH", false },
                { "AND", false },
                { "", false },
        };
        SbomPackage pk[ELEMENTSOF(cases)];
        char names[ELEMENTSOF(cases)][16];
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                snprintf(names[i], sizeof(names[i]), "p%02zu", i);
                pk[i] = (SbomPackage) { .nevra = names[i], .name = names[i], .evr = (char *) "1-1",
                                        .version = (char *) "1", .release = (char *) "1", .arch = (char *) "noarch",
                                        .license = (char *) cases[i].tag };
        }
        SbomOptions o = { .name = "img", .namespace_base = "https://slipway.invalid/spdx/t/1", .created = 0 };
        json_t *doc = write_doc(pk, ELEMENTSOF(cases), &o);
        for (size_t i = 0; doc && i < ELEMENTSOF(cases); i++) {
                const char *d = declared(doc, names[i]);
                if (!*cases[i].tag)
                        CHECK_STREQ(d, "NOASSERTION");
                else if (cases[i].spdx)
                        CHECK_STREQ(d, cases[i].tag);
                else {
                        CHECK(d && strncmp(d, "LicenseRef-", 11) == 0);
                        CHECK_STREQ(extracted(doc, d), cases[i].tag);
                }
        }
        /* One extracted entry per distinct tag, sorted by id. */
        json_t *infos = json_object_get(doc, "hasExtractedLicensingInfos");
        CHECK(json_array_size(infos) == 11);
        for (size_t i = 1; i < json_array_size(infos); i++)
                CHECK(strcmp(json_string_value(json_object_get(json_array_get(infos, i - 1), "licenseId")),
                             json_string_value(json_object_get(json_array_get(infos, i), "licenseId"))) < 0);
        json_decref(doc);
}

static void test_package_fields(void) {
        static size_t deps_b[] = { 0 };
        SbomFetched f = { .nevra = "b-1:2.0-3.x86_64", .sha256 = "00ff", .url = "https://repo.example/b.rpm" };
        SbomPackage pk[] = {
                PKG("a", "MIT"),
                { .nevra = (char *) "b-1:2.0-3.x86_64", .name = (char *) "b", .evr = (char *) "1:2.0-3",
                  .version = (char *) "2.0", .release = (char *) "3", .has_epoch = true, .epoch = 1,
                  .arch = (char *) "x86_64", .license = (char *) "MIT", .vendor = (char *) "ACME Inc.",
                  .sourcerpm = (char *) "b-2.0-3.src.rpm", .header_sha256 = (char *) "abcd", .fetched = &f,
                  .depends = deps_b, .n_depends = 1 },
                { .nevra = (char *) "c++-1.0-1.noarch", .name = (char *) "c++", .evr = (char *) "1.0-1",
                  .version = (char *) "1.0", .release = (char *) "1", .arch = (char *) "noarch",
                  .packager = (char *) "Jane Doe <jane@example.org>" },
        };
        SbomOptions o = { .name = "img", .version = "4.0", .namespace_base = "https://slipway.invalid/spdx/p/4.0",
                          .purl_namespace = "proj", .distro = "azl-4.0", .created = 1767225600 };
        json_t *doc = write_doc(pk, ELEMENTSOF(pk), &o);
        if (!doc)
                return;
        CHECK_STREQ(json_string_value(json_object_get(doc, "documentNamespace")),
                    "https://slipway.invalid/spdx/p/4.0/img-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        CHECK_STREQ(json_string_value(json_object_get(json_object_get(doc, "creationInfo"), "created")),
                    "2026-01-01T00:00:00Z");
        json_t *a = package(doc, "a"), *b = package(doc, "b"), *c = package(doc, "c++");
        CHECK_STREQ(json_string_value(json_object_get(a, "supplier")), "NOASSERTION");
        CHECK_STREQ(json_string_value(json_object_get(b, "supplier")), "Organization: ACME Inc.");
        CHECK_STREQ(json_string_value(json_object_get(c, "supplier")), "Organization: Jane Doe (jane@example.org)");
        CHECK_STREQ(json_string_value(json_object_get(b, "versionInfo")), "1:2.0-3");
        CHECK_STREQ(json_string_value(json_object_get(b, "downloadLocation")), "https://repo.example/b.rpm");
        CHECK_STREQ(json_string_value(json_object_get(a, "downloadLocation")), "NOASSERTION");
        CHECK_STREQ(json_string_value(json_object_get(b, "sourceInfo")), "built from the source RPM b-2.0-3.src.rpm");
        CHECK_STREQ(json_string_value(json_object_get(json_array_get(json_object_get(b, "checksums"), 0),
                                                      "checksumValue")), "00ff");
        CHECK(!json_object_get(a, "checksums"));
        json_t *refs = json_object_get(b, "externalRefs");
        CHECK_STREQ(json_string_value(json_object_get(json_array_get(refs, 0), "referenceLocator")),
                    "pkg:rpm/acme%20inc./b@2.0-3?arch=x86_64&distro=azl-4.0&epoch=1");
        CHECK_STREQ(json_string_value(json_object_get(json_array_get(refs, 1), "referenceLocator")), "abcd");
        /* No vendor: the project's name; '+' percent-encoded. */
        CHECK_STREQ(json_string_value(json_object_get(json_array_get(json_object_get(c, "externalRefs"), 0),
                                                      "referenceLocator")),
                    "pkg:rpm/proj/c%2B%2B@1.0-1?arch=noarch&distro=azl-4.0");
        /* An id only of [A-Za-z0-9.-], with a digest suffix when a name had others. */
        const char *cid = json_string_value(json_object_get(c, "SPDXID"));
        CHECK(cid && strncmp(cid, "SPDXRef-RPM-c---1.0-1.noarch-", 29) == 0 && strlen(cid) == 29 + 8);
        const char *bid = json_string_value(json_object_get(b, "SPDXID"));
        CHECK(bid && strncmp(bid, "SPDXRef-RPM-b-1-2.0-3.x86-64-", 29) == 0 && strlen(bid) == 29 + 8);
        json_decref(doc);
}

static void test_relationships_and_bytes(void) {
        static size_t deps[] = { 0 };
        SbomFile files[] = { { .path = (char *) "/usr/bin/x", .algo = "SHA256", .digest = (char *) "11" } };
        SbomPackage pk[] = { PKG("a", "MIT"), PKG("b", "MIT") };
        pk[1].depends = deps;
        pk[1].n_depends = 1;
        pk[1].files = files;
        pk[1].n_files = 1;
        SbomOptions o = { .name = "img", .namespace_base = "https://slipway.invalid/spdx/r/1", .files = true };
        Sbom s = { .packages = pk, .n_packages = 2 };
        char *t1 = NULL, *t2 = NULL;
        size_t n1 = 0, n2 = 0;
        CHECK(sbom_write_spdx(&s, &o, &t1, &n1) == 0);
        CHECK(sbom_write_spdx(&s, &o, &t2, &n2) == 0);
        CHECK(t1 && t2 && n1 == n2 && memcmp(t1, t2, n1) == 0);
        json_t *doc = t1 ? json_loads(t1, 0, NULL) : NULL;
        free(t1);
        free(t2);
        CHECK(doc);
        if (!doc)
                return;
        json_t *rel = json_object_get(doc, "relationships");
        char buf[4096] = "";
        size_t i;
        json_t *r;
        json_array_foreach(rel, i, r) {
                size_t len = strlen(buf);
                snprintf(buf + len, sizeof(buf) - len, "%s %s %s\n", json_string_value(json_object_get(r, "spdxElementId")),
                         json_string_value(json_object_get(r, "relationshipType")),
                         json_string_value(json_object_get(r, "relatedSpdxElement")));
        }
        CHECK_STREQ(buf, "SPDXRef-DOCUMENT DESCRIBES SPDXRef-Image\n"
                         "SPDXRef-Image CONTAINS SPDXRef-RPM-a-1-1.noarch\n"
                         "SPDXRef-Image CONTAINS SPDXRef-RPM-b-1-1.noarch\n"
                         "SPDXRef-RPM-b-1-1.noarch DEPENDS_ON SPDXRef-RPM-a-1-1.noarch\n"
                         "SPDXRef-RPM-b-1-1.noarch CONTAINS SPDXRef-File-b-1-1.noarch-1\n");
        json_t *f = json_array_get(json_object_get(doc, "files"), 0);
        CHECK_STREQ(json_string_value(json_object_get(f, "fileName")), "./usr/bin/x");
        CHECK(json_is_true(json_object_get(package(doc, "b"), "filesAnalyzed")));
        CHECK(json_is_false(json_object_get(package(doc, "a"), "filesAnalyzed")));
        json_decref(doc);
}

UNIT_MAIN(test_licenses, test_package_fields, test_relationships_and_bytes)
