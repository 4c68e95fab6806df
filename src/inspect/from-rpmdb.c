/* SPDX-License-Identifier: MIT */

/* The packages of an rpmdb.sqlite (rpm 4.16+'s sqlite backend,
 * lib/backend/sqlite.c; docs/notes/rpmdb.md): table Packages(hnum, blob),
 * one installed header per row. The database comes from an untrusted image,
 * so it is opened from memory, read-only, in sqlite's defensive mode without
 * trusting its schema, and every query has a bounded number of steps. */

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/inspect.h"
#include "rpm/header.h"

/* Virtual machine steps, in units of the progress handler's period, after
 * which a query is stopped: 10^8, far beyond what listing 100 000 packages
 * takes (some 10^6). */
#define PROGRESS_PERIOD 1000
#define PROGRESS_MAX_CALLS 100000

static int progress(void *userdata) {
        unsigned *calls = userdata;
        return ++*calls > PROGRESS_MAX_CALLS;
}

static void sqlite3_closep(sqlite3 **db) {
        if (*db)
                sqlite3_close(*db);
}

static void sqlite3_finalizep(sqlite3_stmt **s) {
        if (*s)
                sqlite3_finalize(*s);
}

typedef struct InvRead {
        Inventory *inv;
        Diagnostics *d;
} InvRead;

static int add_package(void *userdata, int64_t hnum, const void *blob, size_t size) {
        Inventory *inv = ((InvRead *) userdata)->inv;
        Diagnostics *d = ((InvRead *) userdata)->d;
        _cleanup_(rpm_header_freep) RpmHeader *h = NULL;
        int r = rpm_header_parse_installed(blob, size, &h);
        if (r == -ENOMEM)
                return r;
        const char *name = r >= 0 ? rpm_header_get_string(h, RPMTAG_NAME) : NULL;
        const char *version = r >= 0 ? rpm_header_get_string(h, RPMTAG_VERSION) : NULL;
        const char *release = r >= 0 ? rpm_header_get_string(h, RPMTAG_RELEASE) : NULL;
        if (!name || !version || !release) {
                diag_warning(d, NULL, "rpm database: package %lld has a malformed header, skipped", (long long) hnum);
                return 0;
        }
        const char *arch = rpm_header_get_string(h, RPMTAG_ARCH); /* gpg-pubkey has none */
        InvPackage *p = inventory_add_package(inv);
        if (!p)
                return -ENOMEM;
        p->name = strdup(name);
        p->version = strdup(version);
        p->release = strdup(release);
        p->arch = arch ? strdup(arch) : NULL;
        if (!p->name || !p->version || !p->release || (arch && !p->arch))
                return -ENOMEM;
        uint64_t epoch;
        if (rpm_header_get_number(h, RPMTAG_EPOCH, &epoch) >= 0) {
                p->has_epoch = true;
                p->epoch = (uint32_t) epoch;
        }
        return 0;
}

int rpmdb_read_memory(void *data, size_t size, RpmdbRowFn fn, void *userdata, Diagnostics *d) {
        _cleanup_(sqlite3_closep) sqlite3 *db = NULL;
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL;
        uint8_t *b = data;
        unsigned calls = 0;
        int rc;

        /* The smallest database is one 512-byte page; the header is 100 bytes
         * ("SQLite format 3\0", file format section 1.3). */
        if (size < 512 || memcmp(b, "SQLite format 3", 16) != 0) {
                diag_warning(d, NULL, "rpm database: not an SQLite database");
                return -EBADMSG;
        }
        /* Read and write versions 2 mean WAL: a deserialized database cannot
         * have a -wal file, so read it as a rollback-journal one. What rpm left
         * in an un-checkpointed -wal is not seen. */
        if (b[18] == 2)
                b[18] = 1;
        if (b[19] == 2)
                b[19] = 1;

        if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_MEMORY, NULL) != SQLITE_OK)
                return -ENOMEM;
        sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
        sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
        sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, NULL);
        sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, NULL);
        sqlite3_limit(db, SQLITE_LIMIT_LENGTH, RPM_HEADER_MAX_DATA);
        sqlite3_progress_handler(db, PROGRESS_PERIOD, progress, &calls);
        rc = sqlite3_deserialize(db, "main", data, (sqlite3_int64) size, (sqlite3_int64) size,
                                 SQLITE_DESERIALIZE_READONLY);
        if (rc != SQLITE_OK) {
                diag_warning(d, NULL, "rpm database: cannot open it: %s", sqlite3_errstr(rc));
                return rc == SQLITE_NOMEM ? -ENOMEM : -EBADMSG;
        }

        /* Packages must be a real table (not a view the file defines). */
        rc = sqlite3_prepare_v2(db, "SELECT type FROM sqlite_master WHERE name = 'Packages'", -1, &st, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        if (rc != SQLITE_ROW || sqlite3_column_type(st, 0) != SQLITE_TEXT ||
            strcmp((const char *) sqlite3_column_text(st, 0), "table") != 0) {
                diag_warning(d, NULL, "rpm database: no Packages table%s%s", rc == SQLITE_ROW || rc == SQLITE_DONE ? "" : ": ",
                             rc == SQLITE_ROW || rc == SQLITE_DONE ? "" : sqlite3_errmsg(db));
                return -EBADMSG;
        }
        sqlite3_finalize(TAKE_PTR(st));

        rc = sqlite3_prepare_v2(db, "SELECT hnum, blob FROM Packages ORDER BY hnum", -1, &st, NULL);
        if (rc != SQLITE_OK) {
                diag_warning(d, NULL, "rpm database: cannot read table Packages: %s", sqlite3_errmsg(db));
                return -EBADMSG;
        }
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                int64_t hnum = sqlite3_column_int64(st, 0);
                const void *blob = sqlite3_column_blob(st, 1);
                int n = sqlite3_column_bytes(st, 1);
                if (!blob || n <= 0) {
                        diag_warning(d, NULL, "rpm database: package %lld has no header, skipped", (long long) hnum);
                        continue;
                }
                int r = fn(userdata, hnum, blob, (size_t) n);
                if (r < 0)
                        return r;
        }
        if (rc != SQLITE_DONE) {
                diag_warning(d, NULL, "rpm database: reading table Packages failed: %s", sqlite3_errmsg(db));
                return rc == SQLITE_NOMEM ? -ENOMEM : -EBADMSG;
        }
        return 0;
}

int inspect_rpmdb_memory(void *data, size_t size, Inventory *inv, Diagnostics *d) {
        InvRead x = { .inv = inv, .d = d };
        return rpmdb_read_memory(data, size, add_package, &x, d);
}
