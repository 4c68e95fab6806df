/* SPDX-License-Identifier: MIT */

/* rpmdb.sqlite: packages written by slipway's own writer are "installed" by
 * unpacking their payloads into a root and writing the database with
 * rpmdb_write(); rpm itself must then list them (-qa, -q, -qf,
 * --whatprovides, --whatrequires), verify their files without complaint
 * (-V), notice a changed file, and find the database sound (rpmdb
 * --verifydb). The same packages installed by rpm (--justdb, one
 * transaction each) must give the same rows in every table, the headers
 * byte for byte. Needs root, rpm, rpm2cpio and cpio; skipped (77) without
 * them. KEEP=1 keeps the temporary directory. */

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/strbuf.h"
#include "rpm/package.h"
#include "tree/rpmdb.h"
#include "../unit.h"

#define DBPATH "/usr/lib/sysimage/rpm"
#define MTIME 1700000000u
#define INSTALL_TIME 1700000100u

static char tmpdir[] = "/tmp/test-rpmdb-XXXXXX";

/* Runs a shell command; returns its exit status and, if out is given, its
 * standard output and error together (malloc'd). */
static int run(char **out, const char *fmt, ...) _printf_(2, 3);
static int run(char **out, const char *fmt, ...) {
        _cleanup_free_ char *cmd = NULL;
        va_list ap;
        va_start(ap, fmt);
        int k = vasprintf(&cmd, fmt, ap);
        va_end(ap);
        if (k < 0)
                return -1;
        _cleanup_free_ char *full = NULL;
        if (asprintf(&full, "%s 2>&1", cmd) < 0)
                return -1;
        FILE *f = popen(full, "r");
        if (!f)
                return -1;
        StrBuf sb = STRBUF_INIT;
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
                strbuf_put(&sb, buf, n);
        int status = pclose(f);
        char *s = strbuf_detach(&sb, NULL);
        if (out)
                *out = s;
        else
                free(s);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool have(const char *tool) {
        return run(NULL, "command -v %s >/dev/null", tool) == 0;
}

static char *tmp_path(const char *name) {
        return path_join(tmpdir, name);
}

/* ---- the packages ------------------------------------------------------------- */

typedef struct TestPackage {
        char *file;
        RpmPackage *pkg;
        const char *name;
        const char *nevra;
} TestPackage;

static char *write_source(const char *name, const char *content) {
        char *p = tmp_path(name);
        CHECK(p && write_file_atomic(p, content, strlen(content), 0644) == 0);
        return p;
}

static int write_packages(TestPackage pkgs[3]) {
        _cleanup_free_ char *data = write_source("src-data", "some data\n");
        _cleanup_free_ char *conf = write_source("src-conf", "key = value\n");
        _cleanup_free_ char *bin = write_source("src-bin", "#!/bin/sh\necho alpha\n");
        _cleanup_free_ char *readme = write_source("src-readme", "read me\n");
        int r;

        /* alpha: a directory, a file in it, a symlink, a %config file, an
         * executable; requires beta, plainly and in a rich dependency. */
        RpmFile alpha_files[] = {
                { .path = "/usr/share/alpha", .mode = S_IFDIR | 0755, .user = "root", .group = "root", .mtime = MTIME },
                { .path = "/usr/share/alpha/data.txt", .mode = S_IFREG | 0644, .user = "root", .group = "root",
                  .mtime = MTIME + 1, .source = data },
                { .path = "/usr/share/alpha/link", .mode = S_IFLNK | 0777, .user = "root", .group = "root",
                  .mtime = MTIME + 2, .link_target = "data.txt" },
                { .path = "/etc/alpha.conf", .mode = S_IFREG | 0640, .user = "root", .group = "root", .mtime = MTIME + 3,
                  .flags = RPMFILE_CONFIG | RPMFILE_NOREPLACE, .source = conf },
                { .path = "/usr/bin/alpha", .mode = S_IFREG | 0755, .user = "root", .group = "root", .mtime = MTIME + 4,
                  .source = bin },
        };
        RpmDep alpha_requires[] = {
                { .name = "beta", .flags = RPMSENSE_GREATER | RPMSENSE_EQUAL, .evr = "2:2.0" },
                { .name = "(beta if gamma else gamma-data)", .evr = "" },
        };
        RpmDep alpha_provides[] = { { .name = "alpha-tools", .flags = RPMSENSE_EQUAL, .evr = "1.0" } };
        RpmPackageSpec alpha = {
                .name = "alpha", .version = "1.0", .release = "1", .arch = "x86_64", .summary = "Alpha",
                .description = "The alpha package.", .license = "MIT", .buildhost = "build.example", .buildtime = MTIME,
                .requires = alpha_requires, .n_requires = ELEMENTSOF(alpha_requires),
                .provides = alpha_provides, .n_provides = ELEMENTSOF(alpha_provides),
                .files = alpha_files, .n_files = ELEMENTSOF(alpha_files),
        };

        /* beta: an epoch, a %doc file, obsoletes and conflicts. */
        RpmFile beta_files[] = {
                { .path = "/usr/share/beta", .mode = S_IFDIR | 0755, .user = "root", .group = "root", .mtime = MTIME },
                { .path = "/usr/share/beta/README", .mode = S_IFREG | 0644, .user = "root", .group = "root", .mtime = MTIME,
                  .flags = RPMFILE_DOC, .source = readme },
        };
        RpmDep beta_obsoletes[] = { { .name = "oldbeta", .flags = RPMSENSE_LESS, .evr = "2" } };
        /* Rich conflicts on packages that do not exist: the names inside
         * are indexed with rpm's rules (negation, else, rpmlib() left out,
         * nesting, with). */
        RpmDep beta_conflicts[] = {
                { .name = "gamma", .flags = RPMSENSE_LESS, .evr = "0.1" },
                { .name = "((nothere-a or nothere-b >= 2) and (nothere-c if nothere-l))", .evr = "" },
                { .name = "(nothere-d unless (nothere-e and nothere-f) else rpmlib(Nothing))", .evr = "" },
                { .name = "(nothere-g with nothere-h)", .evr = "" },
                { .name = "(nothere-i and nothere-j or nothere-k)", .evr = "" },
        };
        RpmPackageSpec beta = {
                .name = "beta", .has_epoch = true, .epoch = 2, .version = "2.5", .release = "3", .arch = "noarch",
                .summary = "Beta", .description = "The beta package.", .license = "GPL-2.0-or-later",
                .buildhost = "build.example", .buildtime = MTIME,
                .obsoletes = beta_obsoletes, .n_obsoletes = ELEMENTSOF(beta_obsoletes),
                .conflicts = beta_conflicts, .n_conflicts = ELEMENTSOF(beta_conflicts),
                .files = beta_files, .n_files = ELEMENTSOF(beta_files),
        };

        /* gamma: no files at all (no FILESTATES). */
        RpmPackageSpec gamma = {
                .name = "gamma", .version = "0.1", .release = "1", .arch = "x86_64", .summary = "Gamma",
                .description = "The gamma package.", .license = "MIT", .buildhost = "build.example", .buildtime = MTIME,
        };

        RpmPackageSpec *specs[] = { &beta, &alpha, &gamma };
        static const char *const nevras[] = { "beta-2:2.5-3.noarch", "alpha-1.0-1.x86_64", "gamma-0.1-1.x86_64" };
        for (size_t i = 0; i < 3; i++) {
                _cleanup_free_ char *fn = rpm_package_filename(specs[i]->name, specs[i]->version, specs[i]->release,
                                                               specs[i]->arch);
                pkgs[i].file = tmp_path(fn);
                pkgs[i].name = specs[i]->name;
                pkgs[i].nevra = nevras[i];
                r = rpm_package_write(specs[i], pkgs[i].file, NULL);
                if (r < 0)
                        return r;
                r = rpm_package_read(pkgs[i].file, &pkgs[i].pkg);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- comparing databases ---------------------------------------------------------- */

/* Every table's rows in rowid order as text (blobs in hex), and the schema.
 * sqlite_stat1 is left out: rpm's "PRAGMA optimize" on close fills it from
 * the queries it happened to run (sqlite.c sqlite_fini()). */
static char *dump_db(const char *file) {
        sqlite3 *db = NULL;
        if (sqlite3_open_v2(file, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
                sqlite3_close(db);
                return NULL;
        }
        StrBuf sb = STRBUF_INIT;
        sqlite3_stmt *tables = NULL;
        sqlite3_prepare_v2(db, "SELECT type, name, sql FROM sqlite_master ORDER BY rowid", -1, &tables, NULL);
        while (tables && sqlite3_step(tables) == SQLITE_ROW) {
                const char *type = (const char *) sqlite3_column_text(tables, 0);
                const char *name = (const char *) sqlite3_column_text(tables, 1);
                if (strcmp(name, "sqlite_stat1") == 0)
                        continue;
                strbuf_printf(&sb, "%s %s: %s\n", type, name, (const char *) sqlite3_column_text(tables, 2));
                if (strcmp(type, "table") != 0 || strcmp(name, "sqlite_sequence") == 0)
                        continue;
                _cleanup_free_ char *sql = NULL;
                if (asprintf(&sql, "SELECT * FROM '%s' ORDER BY rowid", name) < 0)
                        break;
                sqlite3_stmt *rows = NULL;
                sqlite3_prepare_v2(db, sql, -1, &rows, NULL);
                while (rows && sqlite3_step(rows) == SQLITE_ROW) {
                        strbuf_puts(&sb, " ");
                        for (int c = 0; c < sqlite3_column_count(rows); c++) {
                                int t = sqlite3_column_type(rows, c);
                                if (t == SQLITE_BLOB) {
                                        const uint8_t *p = sqlite3_column_blob(rows, c);
                                        int n = sqlite3_column_bytes(rows, c);
                                        strbuf_puts(&sb, " x'");
                                        for (int k = 0; k < n; k++)
                                                strbuf_printf(&sb, "%02x", p[k]);
                                        strbuf_puts(&sb, "'");
                                } else if (t == SQLITE_TEXT)
                                        strbuf_printf(&sb, " '%s'", (const char *) sqlite3_column_text(rows, c));
                                else
                                        strbuf_printf(&sb, " %lld", (long long) sqlite3_column_int64(rows, c));
                        }
                        strbuf_puts(&sb, "\n");
                }
                sqlite3_finalize(rows);
        }
        sqlite3_finalize(tables);
        sqlite3_close(db);
        return strbuf_detach(&sb, NULL);
}

/* ---- the test ---------------------------------------------------------------------- */

static bool only_entry(const char *dir, const char *name) {
        DIR *d = opendir(dir);
        if (!d)
                return false;
        bool ok = true;
        struct dirent *de;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 && strcmp(de->d_name, name) != 0) {
                        fprintf(stderr, "unexpected file beside the database: %s\n", de->d_name);
                        ok = false;
                }
        closedir(d);
        return ok;
}

static void test_rpmdb(void) {
        TestPackage pkgs[3] = {};
        CHECK(write_packages(pkgs) == 0);
        if (!pkgs[2].pkg)
                return;

        _cleanup_free_ char *root = tmp_path("root"), *ref = tmp_path("ref"), *other = tmp_path("other/rpmdb.sqlite");
        /* Not path_join(): it would take the absolute DBPATH as it is. */
        _cleanup_free_ char *dbdir = NULL, *refdir = NULL;
        CHECK(asprintf(&dbdir, "%s" DBPATH, root) > 0 && asprintf(&refdir, "%s" DBPATH, ref) > 0);
        if (!dbdir || !refdir || strncmp(dbdir, tmpdir, strlen(tmpdir)) != 0 || strncmp(refdir, tmpdir, strlen(tmpdir)) != 0)
                return;
        _cleanup_free_ char *dbfile = path_join(dbdir, "rpmdb.sqlite"), *reffile = path_join(refdir, "rpmdb.sqlite");
        char *out = NULL;

        /* The reference: rpm installs each package in a transaction of its
         * own (so the order is ours), recording only the database. */
        CHECK(mkdir_parents(ref, 0755) == 0);
        for (size_t i = 0; i < 3; i++) {
                int rc = run(&out, "rpm --root %s --dbpath " DBPATH " -i --justdb --nodeps --noscripts --notriggers %s",
                             ref, pkgs[i].file);
                CHECK(rc == 0);
                if (rc != 0)
                        fprintf(stderr, "rpm -i %s: %s", pkgs[i].file, out);
                free(out);
        }
        /* rpm's install times, to be given to rpmdb_write(). */
        RpmdbPackage in[3];
        for (size_t i = 0; i < 3; i++) {
                unsigned tid = 0, itime = 0;
                CHECK(run(&out, "rpm --root %s --dbpath " DBPATH " -q --qf '%%{INSTALLTID} %%{INSTALLTIME}' %s", ref,
                          pkgs[i].name) == 0);
                CHECK(out && sscanf(out, "%u %u", &tid, &itime) == 2);
                free(out);
                in[i] = (RpmdbPackage) {
                        .header = pkgs[i].pkg->header,
                        .signature = pkgs[i].pkg->signature,
                        .install_time = itime,
                        .install_tid = tid,
                };
        }
        CHECK(rpmdb_write(dbfile, in, 3, NULL) == 0);
        _cleanup_free_ char *ours = dump_db(dbfile), *theirs = dump_db(reffile);
        CHECK(ours && theirs);
        if (ours && theirs && strcmp(ours, theirs) != 0) {
                CHECK_STREQ(ours, theirs);
                (void) write_file_atomic("/tmp/test-rpmdb.ours", ours, strlen(ours), 0644);
                (void) write_file_atomic("/tmp/test-rpmdb.theirs", theirs, strlen(theirs), 0644);
                fprintf(stderr, "dumps differ: diff /tmp/test-rpmdb.ours /tmp/test-rpmdb.theirs\n");
        }

        /* Fixed times from here on; the same inputs give the same bytes,
         * whether the file is new or replaced. */
        for (size_t i = 0; i < 3; i++)
                in[i].install_time = in[i].install_tid = INSTALL_TIME;
        CHECK(rpmdb_write(dbfile, in, 3, NULL) == 0);
        CHECK(rpmdb_write(other, in, 3, NULL) == 0);
        _cleanup_free_ char *a = NULL, *b = NULL;
        size_t na = 0, nb = 0;
        CHECK(read_full_file(dbfile, &a, &na) == 0);
        CHECK(read_full_file(other, &b, &nb) == 0);
        CHECK(a && b && na == nb && memcmp(a, b, na) == 0);
        CHECK(na > 100 && memcmp(a, "SQLite format 3", 16) == 0);
        /* A rollback-journal database (file format bytes 18/19 = 1, WAL
         * would be 2) with nothing beside it. */
        CHECK(na > 100 && a[18] == 1 && a[19] == 1);
        CHECK(only_entry(dbdir, "rpmdb.sqlite"));
        /* File states as given (RPMFILE_STATE_NOTINSTALLED = 2 here). */
        static const uint8_t states[] = { 0, 0, 2, 0, 0 };
        in[1].file_states = states;
        CHECK(rpmdb_write(other, in, 3, NULL) == 0);
        _cleanup_free_ char *otherdir = path_dirname(other);
        CHECK(run(&out, "rpm --dbpath %s -q --qf '[%%{FILESTATES} ]' alpha", otherdir) == 0);
        CHECK_STREQ(out, "0 0 2 0 0 ");
        free(out);
        in[1].file_states = NULL;
        struct stat st;
        CHECK(stat(dbfile, &st) == 0 && (st.st_mode & 07777) == 0644);

        /* Materialise the files as rpm would have (in the reference too,
         * as -qf looks at the file before it asks the database). */
        for (size_t i = 0; i < 3; i++) {
                CHECK(run(NULL, "rpm2cpio %s | (cd %s && cpio -idmu --quiet)", pkgs[i].file, root) == 0);
                CHECK(run(NULL, "rpm2cpio %s | (cd %s && cpio -idmu --quiet)", pkgs[i].file, ref) == 0);
        }

        CHECK(run(&out, "rpm --root %s --dbpath " DBPATH " -qa --qf '%%{NEVRA}\\n'", root) == 0);
        CHECK_STREQ(out, "beta-2:2.5-3.noarch\nalpha-1.0-1.x86_64\ngamma-0.1-1.x86_64\n");
        free(out);
        for (size_t i = 0; i < 3; i++) {
                CHECK(run(&out, "rpm --root %s --dbpath " DBPATH " -q --qf '%%{NEVRA} %%{INSTALLTIME} %%{INSTALLCOLOR}' %s",
                          root, pkgs[i].name) == 0);
                _cleanup_free_ char *want = NULL;
                CHECK(asprintf(&want, "%s %u 3", pkgs[i].nevra, INSTALL_TIME) > 0);
                CHECK_STREQ(out, want);
                free(out);
        }
        CHECK(run(&out, "rpm --root %s --dbpath " DBPATH " -q nothere", root) != 0);
        free(out);

        /* The indexes: Basenames (+ Dirnames), Providename, Requirename
         * (also the names inside the rich dependency), Obsoletename,
         * Conflictname, Installtid (--last sorts by it), Sigmd5
         * (--pkgid) and Sha1header (--hdrid). rpm answers the same from its
         * own database (--whatrequires beta lists alpha twice there too: a
         * plain and a rich dependency name it). */
        static const struct {
                const char *query, *want;
        } queries[] = {
                { "-qf /usr/share/alpha/data.txt", "alpha-1.0-1.x86_64\n" },
                { "-qf /usr/share/alpha", "alpha-1.0-1.x86_64\n" },
                { "-qf /etc/alpha.conf", "alpha-1.0-1.x86_64\n" },
                { "-qf /usr/share/beta/README", "beta-2.5-3.noarch\n" },
                { "-q --whatprovides alpha-tools", "alpha-1.0-1.x86_64\n" },
                { "-q --whatprovides 'config(alpha)'", "alpha-1.0-1.x86_64\n" },
                { "-q --whatrequires beta", "alpha-1.0-1.x86_64\n" },
                { "-q --whatrequires gamma-data", "alpha-1.0-1.x86_64\n" },
                { "-q --whatobsoletes oldbeta", "beta-2.5-3.noarch\n" },
                { "-q --whatconflicts gamma", "beta-2.5-3.noarch\n" },
                { "-qc alpha", "/etc/alpha.conf\n" },
                { "-qd beta", "/usr/share/beta/README\n" },
        };
        for (size_t i = 0; i < ELEMENTSOF(queries); i++) {
                _cleanup_free_ char *want = NULL;
                CHECK(run(&want, "rpm --root %s --dbpath " DBPATH " %s", ref, queries[i].query) == 0);
                CHECK(run(&out, "rpm --root %s --dbpath " DBPATH " %s", root, queries[i].query) == 0);
                if (!out || !want || strcmp(out, want) != 0 || strncmp(out, queries[i].want, strlen(queries[i].want)) != 0)
                        fprintf(stderr, "rpm %s\n", queries[i].query);
                CHECK_STREQ(out, want);
                CHECK(out && strncmp(out, queries[i].want, strlen(queries[i].want)) == 0);
                free(out);
        }
        for (size_t i = 0; i < 3; i++) {
                _cleanup_free_ char *id = NULL;
                CHECK(run(&id, "rpm --root %s --dbpath " DBPATH " -q --qf '%%{SIGMD5}' %s", root, pkgs[i].name) == 0);
                CHECK(run(&out, "rpm --root %s --dbpath " DBPATH " -q --qf '%%{NAME}' --pkgid %s", root, id) == 0);
                CHECK_STREQ(out, pkgs[i].name);
                free(out);
                free(TAKE_PTR(id));
                CHECK(run(&id, "rpm --root %s --dbpath " DBPATH " -q --qf '%%{SHA1HEADER}' %s", root, pkgs[i].name) == 0);
                CHECK(run(&out, "rpm --root %s --dbpath " DBPATH " -q --qf '%%{NAME}' --hdrid %s", root, id) == 0);
                CHECK_STREQ(out, pkgs[i].name);
                free(out);
        }
        CHECK(run(&out, "rpm --root %s --dbpath " DBPATH " -qa --qf '%%{NAME}\\n' --last", root) == 0);
        CHECK(out && strstr(out, "alpha") && strstr(out, "beta") && strstr(out, "gamma"));
        free(out);

        /* rpm -V: nothing to report, for each package and for all. */
        for (size_t i = 0; i < 3; i++) {
                CHECK(run(&out, "rpm --root %s --dbpath " DBPATH " -V %s", root, pkgs[i].name) == 0);
                CHECK_STREQ(out, "");
                free(out);
        }
        CHECK(run(&out, "rpm --root %s --dbpath " DBPATH " -Va", root) == 0);
        CHECK_STREQ(out, "");
        free(out);
        /* Reading must not have needed to leave files behind. */
        CHECK(only_entry(dbdir, "rpmdb.sqlite"));
        /* sqlite's integrity_check and foreign_key_check (sqlite_Verify());
         * this one takes rpm's lock file. */
        if (have("rpmdb")) {
                CHECK(run(&out, "rpmdb --root %s --dbpath " DBPATH " --verifydb", root) == 0);
                CHECK_STREQ(out, "");
                free(out);
        }

        /* The check can fail: a changed file is reported. */
        CHECK(run(NULL, "echo more >> %s/usr/share/alpha/data.txt", root) == 0);
        CHECK(run(&out, "rpm --root %s --dbpath " DBPATH " -V alpha", root) != 0);
        CHECK(out && strstr(out, "S.5") && strstr(out, "/usr/share/alpha/data.txt"));
        free(out);
        CHECK(run(NULL, "chmod 600 %s/usr/share/beta/README", root) == 0);
        CHECK(run(&out, "rpm --root %s --dbpath " DBPATH " -V beta", root) != 0);
        CHECK(out && strstr(out, ".M.") && strstr(out, "/usr/share/beta/README"));
        free(out);

        for (size_t i = 0; i < 3; i++) {
                free(pkgs[i].file);
                rpm_package_free(pkgs[i].pkg);
        }
}

/* What the installed header keeps and adds, checked on our own. */
static void test_rpmdb_errors(void) {
        _cleanup_free_ char *dbfile = tmp_path("errors/rpmdb.sqlite");
        RpmdbPackage none[1] = { { .header = NULL } };
        CHECK(rpmdb_write(dbfile, none, 1, NULL) == -EINVAL);
        CHECK(!path_exists(dbfile));

        /* A header without a region is refused, and leaves nothing behind. */
        RpmHeaderBuilder *b = rpm_header_builder_new();
        rpm_header_add_string(b, RPMTAG_NAME, "x");
        uint8_t *blob = NULL;
        size_t size = 0;
        CHECK(rpm_header_build(b, 0, &blob, &size) == 0);
        rpm_header_builder_free(b);
        RpmHeader *h = NULL;
        CHECK(blob && rpm_header_parse(blob, size, &h, NULL) == 0);
        free(blob);
        /* Before it, a good one: one immutable region over the whole header. */
        b = rpm_header_builder_new();
        rpm_header_add_string(b, RPMTAG_NAME, "y");
        CHECK(rpm_header_build(b, RPMTAG_HEADERIMMUTABLE, &blob, &size) == 0);
        rpm_header_builder_free(b);
        RpmHeader *good = NULL;
        CHECK(blob && rpm_header_parse(blob, size, &good, NULL) == 0);
        free(blob);
        RpmdbPackage bad[2] = { { .header = good }, { .header = h } };
        RpmdbFailure why = {};
        CHECK(rpmdb_write(dbfile, bad, 2, &why) == -EBADMSG);
        /* The package and the reason are named, not left to be guessed. */
        CHECK(why.package == 1 && why.why && strstr(why.why, "immutable region"));
        CHECK(!path_exists(dbfile));
        _cleanup_free_ char *dir = tmp_path("errors");
        CHECK(only_entry(dir, ""));
        rpm_header_free(h);
        rpm_header_free(good);

        /* An empty database is fine. */
        CHECK(rpmdb_write(dbfile, NULL, 0, NULL) == 0);
        CHECK(path_exists(dbfile));
}

static void test_header_appended(void) {
        RpmHeaderBuilder *b = rpm_header_builder_new();
        rpm_header_add_string(b, RPMTAG_NAME, "n");
        rpm_header_add_string(b, RPMTAG_VERSION, "1");
        uint8_t *blob = NULL;
        size_t size = 0;
        CHECK(rpm_header_build(b, RPMTAG_HEADERIMMUTABLE, &blob, &size) == 0);
        rpm_header_builder_free(b);
        RpmHeader *base = NULL;
        CHECK(blob && rpm_header_parse(blob, size, &base, NULL) == 0);
        free(blob);
        if (!base)
                return;

        b = rpm_header_builder_new();
        uint64_t big = 7;
        rpm_header_add_int64(b, RPMTAG_LONGSIZE, &big, 1);
        rpm_header_add_u32(b, 1008, 42);
        CHECK(rpm_header_build_appended(b, base, &blob, &size) == 0);
        if (blob) {
                /* The region verbatim, then 1008 and 5009, the int64
                 * aligned to 8 from the store's start. */
                uint32_t il = be32toh(*(uint32_t *) (blob + 8)), dl = be32toh(*(uint32_t *) (blob + 12));
                CHECK(il == base->n_entries + 2);
                CHECK(memcmp(blob + 16, base->index, base->n_entries * 16) == 0);
                const uint8_t *store = blob + 16 + il * 16;
                CHECK(memcmp(store, base->data, base->data_size) == 0);
                const uint8_t *e1 = blob + 16 + base->n_entries * 16, *e2 = e1 + 16;
                CHECK(be32toh(*(uint32_t *) e1) == 1008 && be32toh(*(uint32_t *) e2) == RPMTAG_LONGSIZE);
                uint32_t o1 = be32toh(*(uint32_t *) (e1 + 8)), o2 = be32toh(*(uint32_t *) (e2 + 8));
                CHECK(o1 == ((base->data_size + 3) & ~3u) && o2 == ((o1 + 4 + 7) & ~7u) && dl == o2 + 8);
                CHECK(be32toh(*(uint32_t *) (store + o1)) == 42 && be64toh(*(uint64_t *) (store + o2)) == 7);
                free(blob);
        }
        /* A tag the region has already is refused. */
        rpm_header_add_string(b, RPMTAG_VERSION, "2");
        CHECK(rpm_header_build_appended(b, base, &blob, &size) == -EEXIST);
        rpm_header_builder_free(b);
        rpm_header_free(base);
}

int unit_failures, unit_checks;

int main(void) {
        if (!have("rpm") || !have("rpm2cpio") || !have("cpio")) {
                printf("rpm, rpm2cpio or cpio missing: skipping\n");
                return 77;
        }
        /* rpm --root chroots (-i, -V) and cpio restores owners only as root. */
        if (geteuid() != 0) {
                printf("not root: skipping\n");
                return 77;
        }
        if (!mkdtemp(tmpdir))
                return 1;
        test_header_appended();
        test_rpmdb_errors();
        test_rpmdb();
        if (unit_failures == 0 && !getenv("KEEP"))
                (void) rm_rf(tmpdir);
        else
                fprintf(stderr, "left %s for inspection\n", tmpdir);
        printf("%d checks, %d failed\n", unit_checks, unit_failures);
        return unit_failures ? 1 : 0;
}
