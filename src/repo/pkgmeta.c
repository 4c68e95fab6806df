/* SPDX-License-Identifier: MIT */

/* One package's primary, filelists and other entries, from its headers.
 * Which dependencies are listed, and how, follows createrepo_c (src/parsehdr.c
 * cr_package_from_header(), src/xml_dump_*.c); docs/notes/repodata.md. */

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/hash.h"
#include "basic/strbuf.h"
#include "repo/repo.h"
#include "rpm/files.h"
#include "rpm/package.h"
#include "rpm/version.h"

/* Tags only the repository writer reads. */
enum {
        RPMTAG_CHANGELOGTIME = 1080,
        RPMTAG_CHANGELOGNAME = 1081,
        RPMTAG_CHANGELOGTEXT = 1082,
        RPMTAG_SUGGESTNAME = 5049,
        RPMTAG_SUGGESTVERSION = 5050,
        RPMTAG_SUGGESTFLAGS = 5051,
        RPMTAG_ENHANCENAME = 5055,
        RPMTAG_ENHANCEVERSION = 5056,
        RPMTAG_ENHANCEFLAGS = 5057,
        RPMTAG_RECOMMENDNAME = 5046,
        RPMTAG_RECOMMENDVERSION = 5047,
        RPMTAG_RECOMMENDFLAGS = 5048,
        RPMTAG_SUPPLEMENTNAME = 5052,
        RPMTAG_SUPPLEMENTVERSION = 5053,
        RPMTAG_SUPPLEMENTFLAGS = 5054,
};

/* rpmds.h PREREQ, SCRIPT_PRE, SCRIPT_POST: what makes pre="1" in
 * createrepo_c 0.17.3, Debian 12's (1.1.1 adds PRETRANS and POSTTRANS). */
#define RPMSENSE_PRE_ANY ((1u << 6) | (1u << 9) | (1u << 10))

#define CHANGELOG_LIMIT 10 /* createrepo_c's default --changelog-limit */

void repo_package_release(RepoPackage *p) {
        free(p->href);
        free(p->primary);
        free(p->filelists);
        free(p->other);
        *p = (RepoPackage) {};
}

static bool valid_utf8(const unsigned char *s) {
        while (*s) {
                size_t n = *s < 0x80 ? 1 : (*s >> 5) == 0x6 ? 2 : (*s >> 4) == 0xE ? 3 : (*s >> 3) == 0x1E ? 4 : 0;
                if (n == 0)
                        return false;
                for (size_t i = 1; i < n; i++)
                        if ((s[i] & 0xC0) != 0x80)
                                return false;
                s += n;
        }
        return true;
}

/* Escapes s as XML text (attr false: & < > and CR, as libxml2 does) or as
 * an attribute value (also " TAB LF). Control characters XML forbids are
 * dropped. A string that is not UTF-8 is read as Latin-1 the way
 * createrepo_c does it: bytes 0x80-0xBF dropped, 0xC0-0xFF converted
 * (docs/notes/repodata.md 2.4). */
static void xml_escape(StrBuf *sb, const char *s, bool attr) {
        if (!s)
                return;
        bool latin1 = !valid_utf8((const unsigned char *) s);
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;
                if (latin1 && c >= 0x80) {
                        if (c >= 0xC0)
                                strbuf_put_utf8(sb, c);
                        continue;
                }
                switch (c) {
                case '&': strbuf_puts(sb, "&amp;"); break;
                case '<': strbuf_puts(sb, "&lt;"); break;
                case '>': strbuf_puts(sb, "&gt;"); break;
                case '\r': strbuf_puts(sb, "&#13;"); break;
                case '"':
                        strbuf_puts(sb, attr ? "&quot;" : "\"");
                        break;
                case '\t':
                        strbuf_puts(sb, attr ? "&#9;" : "\t");
                        break;
                case '\n':
                        strbuf_puts(sb, attr ? "&#10;" : "\n");
                        break;
                default:
                        if (c < 0x20)
                                break;
                        strbuf_putc(sb, (char) c);
                }
        }
}

static void xml_text(StrBuf *sb, const char *s) {
        xml_escape(sb, s, false);
}

static void xml_attr_value(StrBuf *sb, const char *s) {
        xml_escape(sb, s, true);
}

static void elem(StrBuf *sb, const char *indent, const char *name, const char *text) {
        strbuf_printf(sb, "%s<%s>", indent, name);
        xml_text(sb, text);
        strbuf_printf(sb, "</%s>\n", name);
}

static const char *flags_str(uint32_t f) {
        switch (f & 0xF) {
        case 2: return "LT";
        case 4: return "GT";
        case 8: return "EQ";
        case 10: return "LE";
        case 12: return "GE";
        default: return NULL;
        }
}

/* False if the version has an epoch that is not a number: createrepo_c drops
 * such a dependency. */
static bool evr_ok(const char *evr) {
        const char *colon = strchr(evr, ':');
        char *end;
        if (!colon)
                return true;
        (void) strtol(evr, &end, 10);
        return end == colon;
}

/* "E:V-R" split as createrepo_c does (epoch "0" when absent). */
static void evr_attrs(StrBuf *sb, const char *evr) {
        if (!evr[0])
                return;
        const char *colon = strchr(evr, ':');
        const char *v = evr;
        char *end = NULL;
        if (colon) {
                (void) strtol(evr, &end, 10);
                if (end == colon && colon > evr)
                        strbuf_printf(sb, " epoch=\"%.*s\"", (int) (colon - evr), evr);
                else
                        strbuf_puts(sb, " epoch=\"0\"");
                v = colon + 1;
        } else
                strbuf_puts(sb, " epoch=\"0\"");
        const char *dash = strchr(v, '-');
        _cleanup_free_ char *ver = strndup_nul(v, dash ? (size_t) (dash - v) : strlen(v));
        if (ver && ver[0]) {
                strbuf_puts(sb, " ver=\"");
                xml_attr_value(sb, ver);
                strbuf_putc(sb, '"');
        }
        if (dash && dash[1]) {
                strbuf_puts(sb, " rel=\"");
                xml_attr_value(sb, dash + 1);
                strbuf_putc(sb, '"');
        }
}

typedef struct Deps {
        const char **names;
        uint32_t *flags;
        const char **evrs;
        size_t n;
} Deps;

static void deps_release(Deps *d) {
        free(d->names);
        free(d->flags);
        free(d->evrs);
        *d = (Deps) {};
}

static int deps_get(const RpmHeader *h, uint32_t name_tag, uint32_t flags_tag, uint32_t version_tag, Deps *ret) {
        size_t n1 = 0, n2 = 0, n3 = 0;
        *ret = (Deps) {};
        int r = rpm_header_get_strings(h, name_tag, &ret->names, &n1);
        if (r == -ENOENT)
                return 0; /* none */
        if (r >= 0)
                r = rpm_header_get_u32s(h, flags_tag, &ret->flags, &n2);
        if (r >= 0)
                r = rpm_header_get_strings(h, version_tag, &ret->evrs, &n3);
        if (r >= 0 && (n1 != n2 || n1 != n3))
                r = -EBADMSG;
        if (r < 0) {
                deps_release(ret);
                return r == -ENOMEM ? r : -EBADMSG; /* absent or of the wrong type: malformed */
        }
        ret->n = n1;
        return 0;
}

/* The dependency lists of a header: DEPS_BASIC first (what a solver needs),
 * then the weak ones. */
enum { DEP_PROVIDES, DEP_REQUIRES, DEP_CONFLICTS, DEP_OBSOLETES, DEPS_BASIC,
       DEP_RECOMMENDS = DEPS_BASIC, DEP_SUGGESTS, DEP_SUPPLEMENTS, DEP_ENHANCES, DEPS_ALL };

static const uint32_t dep_tags[DEPS_ALL][3] = {
        [DEP_PROVIDES] = { RPMTAG_PROVIDENAME, RPMTAG_PROVIDEFLAGS, RPMTAG_PROVIDEVERSION },
        [DEP_REQUIRES] = { RPMTAG_REQUIRENAME, RPMTAG_REQUIREFLAGS, RPMTAG_REQUIREVERSION },
        [DEP_CONFLICTS] = { RPMTAG_CONFLICTNAME, RPMTAG_CONFLICTFLAGS, RPMTAG_CONFLICTVERSION },
        [DEP_OBSOLETES] = { RPMTAG_OBSOLETENAME, RPMTAG_OBSOLETEFLAGS, RPMTAG_OBSOLETEVERSION },
        [DEP_RECOMMENDS] = { RPMTAG_RECOMMENDNAME, RPMTAG_RECOMMENDFLAGS, RPMTAG_RECOMMENDVERSION },
        [DEP_SUGGESTS] = { RPMTAG_SUGGESTNAME, RPMTAG_SUGGESTFLAGS, RPMTAG_SUGGESTVERSION },
        [DEP_SUPPLEMENTS] = { RPMTAG_SUPPLEMENTNAME, RPMTAG_SUPPLEMENTFLAGS, RPMTAG_SUPPLEMENTVERSION },
        [DEP_ENHANCES] = { RPMTAG_ENHANCENAME, RPMTAG_ENHANCEFLAGS, RPMTAG_ENHANCEVERSION },
};

/* The first n lists of dep_tags into ret (all of them empty on failure). */
static int deps_get_lists(const RpmHeader *h, size_t n, Deps *ret) {
        int r = 0;
        for (size_t i = 0; i < n && r >= 0; i++)
                r = deps_get(h, dep_tags[i][0], dep_tags[i][1], dep_tags[i][2], &ret[i]);
        if (r < 0)
                for (size_t i = 0; i < n; i++)
                        deps_release(&ret[i]);
        return r;
}

static void deps_release_lists(Deps *d, size_t n) {
        for (size_t i = 0; i < n; i++)
                deps_release(&d[i]);
}

static bool is_primary_file(const char *f) {
        return strncmp(f, "/etc/", 5) == 0 || strcmp(f, "/usr/lib/sendmail") == 0 || strstr(f, "bin/") != NULL;
}

/* Orders "libc.so.6(GLIBC_2.34)(64bit)" names by the version in the first
 * parentheses, from its first digit (createrepo_c cr_compare_dependency()). */
static int libc_cmp(const char *a, const char *b) {
        const char *pa = strchr(a, '('), *pb = strchr(b, '(');
        if (!pa || !pb)
                return pa ? 1 : pb ? -1 : 0;
        pa++;
        pb++;
        size_t la = strcspn(pa, ")"), lb = strcspn(pb, ")");
        if (la == 0 || lb == 0)
                return la ? 1 : lb ? -1 : 0;
        while (la > 0 && !(*pa >= '0' && *pa <= '9')) {
                pa++;
                la--;
        }
        while (lb > 0 && !(*pb >= '0' && *pb <= '9')) {
                pb++;
                lb--;
        }
        if (la == 0 || lb == 0)
                return la ? 1 : lb ? -1 : 0;
        _cleanup_free_ char *va = strndup_nul(pa, la), *vb = strndup_nul(pb, lb);
        if (!va || !vb)
                return 0;
        return rpm_vercmp(va, vb);
}

static void dep_entry(StrBuf *sb, const char *name, uint32_t flags, const char *evr, bool pre) {
        strbuf_puts(sb, "      <rpm:entry name=\"");
        xml_attr_value(sb, name);
        strbuf_putc(sb, '"');
        const char *fs = flags_str(flags);
        if (fs) {
                strbuf_printf(sb, " flags=\"%s\"", fs);
                evr_attrs(sb, evr);
        }
        if (pre)
                strbuf_puts(sb, " pre=\"1\"");
        strbuf_puts(sb, "/>\n");
}

static void file_elem(StrBuf *sb, const char *indent, const RpmFileList *fi, size_t i) {
        strbuf_printf(sb, "%s<file", indent);
        if (S_ISDIR(fi->files[i].mode))
                strbuf_puts(sb, " type=\"dir\"");
        else if (fi->files[i].flags & RPMFILE_GHOST)
                strbuf_puts(sb, " type=\"ghost\"");
        strbuf_putc(sb, '>');
        xml_text(sb, fi->files[i].path);
        strbuf_puts(sb, "</file>\n");
}

/* Provides, conflicts, obsoletes, weak deps: listed as they are. */
static void pco(StrBuf *sb, const char *elem_name, const Deps *d) {
        if (d->n == 0)
                return;
        strbuf_printf(sb, "    <rpm:%s>\n", elem_name);
        for (size_t i = 0; i < d->n; i++)
                if (d->names[i][0] && evr_ok(d->evrs[i]))
                        dep_entry(sb, d->names[i], d->flags[i], d->evrs[i], false);
        strbuf_printf(sb, "    </rpm:%s>\n", elem_name);
}

/* Requires, filtered as createrepo_c does. */
static void requires_elem(StrBuf *sb, const Deps *req, const Deps *prov, const RpmFileList *fi) {
        _cleanup_strbuf_ StrBuf out = STRBUF_INIT;
        size_t libc = SIZE_MAX;
        _cleanup_free_ bool *keep = new0(bool, req->n ? req->n : 1);
        if (!keep) {
                sb->oom = true;
                return;
        }
        for (size_t i = 0; i < req->n; i++) {
                const char *name = req->names[i];
                bool pre = (req->flags[i] & RPMSENSE_PRE_ANY) != 0;
                if (!name[0] || strncmp(name, "rpmlib(", 7) == 0 || !evr_ok(req->evrs[i]))
                        continue;
                if (name[0] == '/' && is_primary_file(name)) {
                        bool own = false;
                        for (size_t k = 0; k < fi->n && !own; k++)
                                own = strcmp(fi->files[k].path, name) == 0;
                        if (own)
                                continue;
                }
                /* Exactly what the package itself provides. */
                bool provided = false;
                for (size_t k = 0; k < prov->n && !provided; k++)
                        provided = strcmp(prov->names[k], name) == 0 &&
                                   flags_str(prov->flags[k]) == flags_str(req->flags[i]) &&
                                   strcmp(prov->evrs[k], req->evrs[i]) == 0;
                if (provided)
                        continue;
                /* The same as the last kept requirement of that name. */
                size_t last = SIZE_MAX;
                for (size_t k = 0; k < i; k++)
                        if (keep[k] && k != libc && strcmp(req->names[k], name) == 0)
                                last = k;
                if (last != SIZE_MAX && flags_str(req->flags[last]) == flags_str(req->flags[i]) &&
                    strcmp(req->evrs[last], req->evrs[i]) == 0 && ((req->flags[last] & RPMSENSE_PRE_ANY) != 0) == pre)
                        continue;
                /* Of the libc.so.6 symbol versions, only the highest. */
                if (strncmp(name, "libc.so.6", 9) == 0) {
                        if (libc == SIZE_MAX || libc_cmp(req->names[libc], name) < 0) {
                                if (libc != SIZE_MAX)
                                        keep[libc] = false;
                                libc = i;
                                keep[i] = true;
                        }
                        continue;
                }
                keep[i] = true;
        }
        size_t n = 0;
        for (size_t i = 0; i < req->n; i++)
                if (keep[i] && i != libc) {
                        dep_entry(&out, req->names[i], req->flags[i], req->evrs[i],
                                  (req->flags[i] & RPMSENSE_PRE_ANY) != 0);
                        n++;
                }
        if (libc != SIZE_MAX) {
                dep_entry(&out, req->names[libc], req->flags[libc], req->evrs[libc],
                          (req->flags[libc] & RPMSENSE_PRE_ANY) != 0);
                n++;
        }
        if (n == 0)
                return;
        strbuf_puts(sb, "    <rpm:requires>\n");
        strbuf_put(sb, out.buf, out.len);
        strbuf_puts(sb, "    </rpm:requires>\n");
}

static const char *hstr(const RpmHeader *h, uint32_t tag) {
        const char *s = rpm_header_get_string(h, tag);
        return s ? s : "";
}

#define REPO_READ_WHOLE_MAX (8 * 1024 * 1024)

int repo_package_read(const char *dir, const char *href, uint64_t max_time, RepoPackage *ret, const char **ret_reason) {
        _cleanup_free_ char *path = path_join(dir, href);
        _cleanup_(rpm_package_freep) RpmPackage *p = NULL;
        _cleanup_strbuf_ StrBuf pri = STRBUF_INIT, fl = STRBUF_INIT, oth = STRBUF_INIT, vers = STRBUF_INIT;
        _cleanup_(rpm_file_list_releasep) RpmFileList fi = {};
        Deps deps[DEPS_ALL] = {};
        struct stat st;
        uint8_t md[32];
        int r;


        *ret = (RepoPackage) {};
        *ret_reason = NULL;
        if (!path)
                return -ENOMEM;
        if (stat(path, &st) < 0)
                return negative_errno();
        /* Small packages (most): one read serves the digest and the headers.
         * Larger ones are streamed, so that reading packages on every core
         * holds a few MiB each, not whole payloads. */
        _cleanup_free_ char *whole = NULL;
        size_t whole_len = 0;
        if (st.st_size <= REPO_READ_WHOLE_MAX && read_full_file(path, &whole, &whole_len) >= 0) {
                r = rpm_package_parse(whole, whole_len, &p);
                if (r >= 0)
                        hash_buffer(HASH_SHA256, whole, whole_len, md);
        } else {
                r = rpm_package_read(path, &p);
                if (r >= 0)
                        r = hash_file(HASH_SHA256, path, md, NULL);
        }
        if (r == -EBADMSG || r == -ENODATA) {
                *ret_reason = "not a valid RPM package (bad lead or header)";
                return -EBADMSG;
        }
        if (r < 0)
                return r;
        const RpmHeader *h = p->header;
        /* The signature header records the size of header + payload: a
         * truncated (or extended) file is caught here, cheaply. */
        uint64_t recorded;
        if ((rpm_header_get_number(p->signature, RPMSIGTAG_LONGSIZE, &recorded) >= 0 ||
             rpm_header_get_number(p->signature, RPMSIGTAG_SIZE, &recorded) >= 0) &&
            recorded != (uint64_t) st.st_size - p->header_offset) {
                *ret_reason = "the file size does not match the size its signature header records (truncated?)";
                r = -EBADMSG;
                return r;
        }
        if (!rpm_header_get_string(h, RPMTAG_NAME) || !rpm_header_get_string(h, RPMTAG_VERSION) ||
            !rpm_header_get_string(h, RPMTAG_RELEASE)) {
                *ret_reason = "the header has no name, version or release";
                return -EBADMSG;
        }
        if (!rpm_header_get_string(h, RPMTAG_SOURCERPM)) {
                *ret_reason = "a source package: source RPMs do not belong in a binary repository";
                return -EBADMSG;
        }
        hex_encode(md, 32, ret->pkgid);

        r = rpm_header_files(h, &fi, ret_reason); /* -EBADMSG: *ret_reason names the rule */
        if (r < 0)
                goto out;
        r = deps_get_lists(h, DEPS_ALL, deps);
        if (r < 0) {
                *ret_reason = r == -EBADMSG ? "inconsistent dependency lists in the header" : NULL;
                goto out;
        }

        const char *name = hstr(h, RPMTAG_NAME), *arch = hstr(h, RPMTAG_ARCH);
        uint64_t epoch = 0, buildtime = 0, installed = 0, archive = 0;
        (void) rpm_header_get_number(h, RPMTAG_EPOCH, &epoch);
        (void) rpm_header_get_number(h, RPMTAG_BUILDTIME, &buildtime);
        if (rpm_header_get_number(h, RPMTAG_LONGSIZE, &installed) < 0)
                (void) rpm_header_get_number(h, RPMTAG_SIZE, &installed);
        if (rpm_header_get_number(p->signature, RPMSIGTAG_LONGARCHIVESIZE, &archive) < 0)
                (void) rpm_header_get_number(p->signature, RPMSIGTAG_PAYLOADSIZE, &archive);

        strbuf_printf(&vers, "<version epoch=\"%" PRIu64 "\" ver=\"", epoch);
        xml_attr_value(&vers, hstr(h, RPMTAG_VERSION));
        strbuf_puts(&vers, "\" rel=\"");
        xml_attr_value(&vers, hstr(h, RPMTAG_RELEASE));
        strbuf_puts(&vers, "\"/>\n");

        /* primary */
        strbuf_puts(&pri, "<package type=\"rpm\">\n");
        elem(&pri, "  ", "name", name);
        elem(&pri, "  ", "arch", arch);
        strbuf_printf(&pri, "  %s", vers.buf);
        strbuf_printf(&pri, "  <checksum type=\"sha256\" pkgid=\"YES\">%s</checksum>\n", ret->pkgid);
        elem(&pri, "  ", "summary", hstr(h, RPMTAG_SUMMARY));
        elem(&pri, "  ", "description", hstr(h, RPMTAG_DESCRIPTION));
        elem(&pri, "  ", "packager", hstr(h, RPMTAG_PACKAGER));
        elem(&pri, "  ", "url", hstr(h, RPMTAG_URL));
        /* Clamped as rpmbuild clamps file times: a copy of the same package
         * made later (another checkout, another build) gives the same entry. */
        strbuf_printf(&pri, "  <time file=\"%" PRIu64 "\" build=\"%" PRIu64 "\"/>\n",
                      MIN((uint64_t) MAX(st.st_mtime, (time_t) 0), max_time), buildtime);
        strbuf_printf(&pri, "  <size package=\"%lld\" installed=\"%" PRIu64 "\" archive=\"%" PRIu64 "\"/>\n",
                      (long long) st.st_size, installed, archive);
        strbuf_puts(&pri, "  <location href=\"");
        xml_attr_value(&pri, href);
        strbuf_puts(&pri, "\"/>\n  <format>\n");
        elem(&pri, "    ", "rpm:license", hstr(h, RPMTAG_LICENSE));
        elem(&pri, "    ", "rpm:vendor", hstr(h, RPMTAG_VENDOR));
        elem(&pri, "    ", "rpm:group", hstr(h, RPMTAG_GROUP));
        elem(&pri, "    ", "rpm:buildhost", hstr(h, RPMTAG_BUILDHOST));
        elem(&pri, "    ", "rpm:sourcerpm", hstr(h, RPMTAG_SOURCERPM));
        strbuf_printf(&pri, "    <rpm:header-range start=\"%" PRIu64 "\" end=\"%" PRIu64 "\"/>\n", p->header_offset,
                      p->payload_offset);
        pco(&pri, "provides", &deps[DEP_PROVIDES]);
        requires_elem(&pri, &deps[DEP_REQUIRES], &deps[DEP_PROVIDES], &fi);
        pco(&pri, "conflicts", &deps[DEP_CONFLICTS]);
        pco(&pri, "obsoletes", &deps[DEP_OBSOLETES]);
        pco(&pri, "suggests", &deps[DEP_SUGGESTS]);
        pco(&pri, "enhances", &deps[DEP_ENHANCES]);
        pco(&pri, "recommends", &deps[DEP_RECOMMENDS]);
        pco(&pri, "supplements", &deps[DEP_SUPPLEMENTS]);
        for (size_t i = 0; i < fi.n; i++)
                if (is_primary_file(fi.files[i].path))
                        file_elem(&pri, "    ", &fi, i);
        strbuf_puts(&pri, "  </format>\n</package>\n");

        /* filelists */
        strbuf_printf(&fl, "<package pkgid=\"%s\" name=\"", ret->pkgid);
        xml_attr_value(&fl, name);
        strbuf_puts(&fl, "\" arch=\"");
        xml_attr_value(&fl, arch);
        strbuf_printf(&fl, "\">\n  %s", vers.buf);
        for (size_t i = 0; i < fi.n; i++)
                file_elem(&fl, "  ", &fi, i);
        strbuf_puts(&fl, "</package>\n");

        /* other: the newest changelog entries */
        strbuf_printf(&oth, "<package pkgid=\"%s\" name=\"", ret->pkgid);
        xml_attr_value(&oth, name);
        strbuf_puts(&oth, "\" arch=\"");
        xml_attr_value(&oth, arch);
        strbuf_printf(&oth, "\">\n  %s", vers.buf);
        {
                _cleanup_free_ uint32_t *times = NULL;
                _cleanup_free_ const char **authors = NULL, **texts = NULL;
                size_t nt = 0, na = 0, nx = 0;
                if (rpm_header_get_u32s(h, RPMTAG_CHANGELOGTIME, &times, &nt) >= 0 &&
                    rpm_header_get_strings(h, RPMTAG_CHANGELOGNAME, &authors, &na) >= 0 &&
                    rpm_header_get_strings(h, RPMTAG_CHANGELOGTEXT, &texts, &nx) >= 0 && nt == na && na == nx) {
                        size_t n = MIN(nt, (size_t) CHANGELOG_LIMIT);
                        /* createrepo_c takes the newest n in header order; an entry
                         * with the time of the last distinct time seen bumps the run
                         * of entries taken just before it (t, t+1, ...). Written
                         * oldest first. */
                        _cleanup_free_ uint64_t *dates = new0(uint64_t, n ? n : 1);
                        if (!dates) {
                                r = -ENOMEM;
                                goto out;
                        }
                        uint64_t last = 0;
                        for (size_t i = 0; i < n; i++) {
                                dates[i] = times[i];
                                if (i > 0 && times[i] == last) {
                                        uint64_t t = times[i];
                                        for (size_t j = i; j > 0 && dates[j - 1] == t; j--, t++)
                                                dates[j - 1]++;
                                } else
                                        last = times[i];
                        }
                        for (size_t k = n; k > 0; k--) {
                                size_t al = strlen(authors[k - 1]);
                                while (al > 1 && authors[k - 1][al - 1] == ' ')
                                        al--;
                                _cleanup_free_ char *author = strndup_nul(authors[k - 1], al);
                                strbuf_puts(&oth, "  <changelog author=\"");
                                xml_attr_value(&oth, author ? author : "");
                                strbuf_printf(&oth, "\" date=\"%" PRIu64 "\">", dates[k - 1]);
                                xml_text(&oth, texts[k - 1]);
                                strbuf_puts(&oth, "</changelog>\n");
                        }
                }
        }
        strbuf_puts(&oth, "</package>\n");

        if (pri.oom || fl.oom || oth.oom) {
                r = -ENOMEM;
                goto out;
        }
        ret->href = strdup(href);
        ret->primary = strbuf_detach(&pri, NULL);
        ret->filelists = strbuf_detach(&fl, NULL);
        ret->other = strbuf_detach(&oth, NULL);
        ret->size = (uint64_t) st.st_size;
        ret->mtime_ns = (int64_t) st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        ret->ino = (uint64_t) st.st_ino;
        if (!ret->href || !ret->primary || !ret->filelists || !ret->other) {
                repo_package_release(ret);
                r = -ENOMEM;
        }
out:
        deps_release_lists(deps, DEPS_ALL);
        if (r == -EBADMSG && !*ret_reason)
                *ret_reason = "malformed header";
        return r;
}

int repo_installed_primary(const RpmHeader *h, size_t index, char **ret) {
        _cleanup_strbuf_ StrBuf pri = STRBUF_INIT;
        _cleanup_(rpm_file_list_releasep) RpmFileList fi = {};
        Deps deps[DEPS_BASIC] = {};
        const char *why = NULL;
        int r;

        if (!rpm_header_get_string(h, RPMTAG_NAME) || !rpm_header_get_string(h, RPMTAG_VERSION) ||
            !rpm_header_get_string(h, RPMTAG_RELEASE))
                return -EBADMSG;
        r = rpm_header_files(h, &fi, &why);
        if (r == -ENOENT)
                r = 0;
        if (r >= 0)
                r = deps_get_lists(h, DEPS_BASIC, deps);
        if (r >= 0) {
                uint64_t epoch = 0;
                (void) rpm_header_get_number(h, RPMTAG_EPOCH, &epoch);
                strbuf_puts(&pri, "<package type=\"rpm\">\n");
                elem(&pri, "  ", "name", hstr(h, RPMTAG_NAME));
                /* gpg-pubkey headers have no arch: noarch to libsolv. */
                elem(&pri, "  ", "arch", rpm_header_get_string(h, RPMTAG_ARCH) ? hstr(h, RPMTAG_ARCH) : "noarch");
                strbuf_printf(&pri, "  <version epoch=\"%" PRIu64 "\" ver=\"", epoch);
                xml_attr_value(&pri, hstr(h, RPMTAG_VERSION));
                strbuf_puts(&pri, "\" rel=\"");
                xml_attr_value(&pri, hstr(h, RPMTAG_RELEASE));
                strbuf_puts(&pri, "\"/>\n");
                strbuf_printf(&pri, "  <checksum type=\"sha256\" pkgid=\"YES\">%064zx</checksum>\n", index);
                strbuf_printf(&pri, "  <location href=\"installed/%zu\"/>\n  <format>\n", index);
                pco(&pri, "provides", &deps[DEP_PROVIDES]);
                requires_elem(&pri, &deps[DEP_REQUIRES], &deps[DEP_PROVIDES], &fi);
                pco(&pri, "conflicts", &deps[DEP_CONFLICTS]);
                pco(&pri, "obsoletes", &deps[DEP_OBSOLETES]);
                /* Every file: what is installed provides its paths for file
                 * dependencies whatever directory they are in. */
                for (size_t i = 0; i < fi.n; i++)
                        file_elem(&pri, "    ", &fi, i);
                strbuf_puts(&pri, "  </format>\n</package>\n");
                if (pri.oom)
                        r = -ENOMEM;
        }
        deps_release_lists(deps, DEPS_BASIC);
        if (r < 0)
                return r == -ENOMEM ? r : -EBADMSG;
        *ret = strbuf_detach(&pri, NULL);
        return *ret ? 0 : -ENOMEM;
}
