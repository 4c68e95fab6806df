/* SPDX-License-Identifier: MIT */

/* The shared build cache over HTTP (remote.h). */

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/hash.h"
#include "basic/http.h"
#include "basic/strbuf.h"
#include "package/remote.h"
#include "sign/keyfile.h"
#include "sign/pgp.h"

#define MANIFEST_MAX ((uint64_t) 1 << 20)
#define SIGNATURE_MAX ((uint64_t) 64 << 10)
#define STATUS_MAX ((uint64_t) 1 << 20)
/* The most a cached file may be (a package of the distribution). */
#define FILE_MAX ((uint64_t) 16 << 30)

struct RemoteCache {
        char *url;    /* without a trailing slash */
        bool push;
        PgpKey *key;  /* signs manifests; NULL: unsigned */
        uint32_t sign_time;
        PgpKey **trusted;
        size_t n_trusted;
};

RemoteCache *remote_cache_free(RemoteCache *rc) {
        if (!rc)
                return NULL;
        free(rc->url);
        pgp_key_free(rc->key);
        for (size_t i = 0; i < rc->n_trusted; i++)
                pgp_key_free(rc->trusted[i]);
        free(rc->trusted);
        free(rc);
        return NULL;
}

bool remote_cache_push(const RemoteCache *rc) {
        return rc->push;
}

const char *remote_cache_url(const RemoteCache *rc) {
        return rc->url;
}

int remote_cache_new(const Project *p, Diagnostics *d, RemoteCache **ret) {
        const CacheSettings *cs = &p->cache;
        *ret = NULL;
        if (!cs->url)
                return 0;
        _cleanup_(remote_cache_freep) RemoteCache *rc = new0(RemoteCache, 1);
        if (!rc || !(rc->url = strdup(cs->url)))
                return -ENOMEM;
        size_t n = strlen(rc->url);
        while (n > 0 && rc->url[n - 1] == '/')
                rc->url[--n] = 0;
        rc->push = cs->push;
        rc->sign_time = (uint32_t) MIN(p->source_date_epoch, (uint64_t) UINT32_MAX);
        if (cs->key) {
                _cleanup_free_ char *path = project_path(p, cs->key);
                const char *why = NULL;
                if (!path)
                        return -ENOMEM;
                int r = key_load_signing(path, &rc->key, &why);
                SourcePos pos = cfg_pos(&cs->obj, "key");
                if (r == -ENOENT)
                        /* The project is shared by the machines that build
                         * (and hold the key) and those that only read. */
                        diag_warning(d, &pos, "cache key '%s' is not on this machine: what it builds is not put in "
                                     "the shared cache", cs->key);
                else if (r < 0) {
                        diag_error(d, &pos, "cache key '%s': %s", cs->key, why ? why : strerror(-r));
                        return -EINVAL;
                }
        }
        rc->trusted = new0(PgpKey *, cs->trusted_keys.n + 1);
        if (!rc->trusted)
                return -ENOMEM;
        for (size_t i = 0; i < cs->trusted_keys.n; i++) {
                _cleanup_free_ char *path = project_path(p, cs->trusted_keys.items[i]);
                const char *why = NULL;
                if (!path)
                        return -ENOMEM;
                if (key_load(path, &rc->trusted[rc->n_trusted], &why) < 0) {
                        SourcePos pos = cfg_pos(&cs->obj, "trusted-keys");
                        diag_error(d, &pos, "cache trusted key '%s': %s", cs->trusted_keys.items[i], why);
                        return -EINVAL;
                }
                rc->n_trusted++;
        }
        /* A machine without the cache key only reads when manifests must be
         * signed: an unsigned one is of no use to anyone (and would replace
         * a signed one). */
        if ((cs->key || rc->n_trusted > 0) && !rc->key)
                rc->push = false;
        *ret = TAKE_PTR(rc);
        return 0;
}

void manifest_release(Manifest *m) {
        for (size_t i = 0; i < m->n_rpms; i++)
                free(m->rpms[i].file);
        free(m->rpms);
        free(m->srpm.file);
        *m = (Manifest) {};
}

/* URL of an object: base/kind/XX/name. */
static char *object_url(const RemoteCache *rc, const char *kind, const char *name, const char *suffix) {
        return strprintf("%s/%s/%.2s/%s%s", rc->url, kind, name, name, suffix);
}

static bool is_hex64(const char *s) {
        return s && strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

static bool file_name_ok(const char *s) {
        size_t n = s ? strlen(s) : 0;
        return n > 4 && n < 256 && !strchr(s, '/') && s[0] != '.' && strcmp(s + n - 4, ".rpm") == 0;
}

static int cached_file_from_json(json_t *e, CachedFile *ret) {
        const char *file = json_string_value(json_object_get(e, "file"));
        const char *sum = json_string_value(json_object_get(e, "sha256"));
        json_t *size = json_object_get(e, "size");
        if (!file_name_ok(file) || !is_hex64(sum) || !json_is_integer(size) || json_integer_value(size) <= 0)
                return -EBADMSG;
        if (!(ret->file = strdup(file)))
                return -ENOMEM;
        memcpy(ret->sha256, sum, 65);
        ret->size = (uint64_t) json_integer_value(size);
        return 0;
}

char *remote_manifest_text(const char *key, const char *component, const Manifest *m) {
        json_t *rpms = json_array();
        for (size_t i = 0; rpms && i < m->n_rpms; i++)
                json_array_append_new(rpms, json_pack("{s:s, s:s, s:I}", "file", m->rpms[i].file, "sha256",
                                                      m->rpms[i].sha256, "size", (json_int_t) m->rpms[i].size));
        json_t *srpm = m->srpm.file ? json_pack("{s:s, s:s, s:I}", "file", m->srpm.file, "sha256", m->srpm.sha256,
                                                "size", (json_int_t) m->srpm.size)
                                    : json_null();
        json_t *j = rpms && srpm ? json_pack("{s:s, s:s, s:s, s:o, s:o, s:f}", "format", MANIFEST_FORMAT, "key", key,
                                             "component", component, "rpms", rpms, "srpm", srpm, "seconds",
                                             m->seconds)
                                 : NULL;
        if (!j)
                return NULL;
        char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(j);
        return s;
}

int remote_manifest_parse(const char *text, const char *key, const char *component, Manifest *ret, char **ret_why) {
        json_error_t e;
        json_t *j = json_loads(text, 0, &e);
        Manifest m = {};
        int r = -EBADMSG;
        if (!j) {
                *ret_why = strprintf("its manifest is not JSON: %s", e.text);
                return -EBADMSG;
        }
        const char *fmt = json_string_value(json_object_get(j, "format"));
        const char *k = json_string_value(json_object_get(j, "key"));
        const char *c = json_string_value(json_object_get(j, "component"));
        json_t *rpms = json_object_get(j, "rpms"), *srpm = json_object_get(j, "srpm");
        if (!fmt || strcmp(fmt, MANIFEST_FORMAT) != 0)
                *ret_why = strprintf("its manifest is of another format ('%s')", fmt ? fmt : "");
        else if (!k || strcmp(k, key) != 0)
                *ret_why = strprintf("its manifest is for another key");
        else if (!c || strcmp(c, component) != 0)
                *ret_why = strprintf("its manifest is for another component ('%s')", c ? c : "");
        else if (!json_is_array(rpms) || json_array_size(rpms) == 0 || json_array_size(rpms) > 10000)
                *ret_why = strprintf("its manifest names no packages");
        else {
                m.rpms = new0(CachedFile, json_array_size(rpms));
                if (!m.rpms) {
                        r = -ENOMEM;
                        goto out;
                }
                for (size_t i = 0; i < json_array_size(rpms); i++) {
                        r = cached_file_from_json(json_array_get(rpms, i), &m.rpms[i]);
                        if (r < 0)
                                break;
                        m.n_rpms++;
                }
                if (r >= 0 && !json_is_null(srpm))
                        r = cached_file_from_json(srpm, &m.srpm);
                if (r == -EBADMSG)
                        *ret_why = strprintf("its manifest names a file badly");
                double sec = json_number_value(json_object_get(j, "seconds"));
                m.seconds = sec > 0 && sec < 1e7 ? sec : 0;
        }
out:
        json_decref(j);
        if (r < 0) {
                manifest_release(&m);
                return r;
        }
        *ret = m;
        return 0;
}

int remote_lookup(RemoteCache *rc, const char *key, const char *component, Manifest *ret, char **ret_why) {
        _cleanup_free_ char *url = object_url(rc, "ac", key, ""), *text = NULL, *err = NULL;
        size_t size;
        *ret_why = NULL;
        if (!url)
                return -ENOMEM;
        int r = http_get(url, MANIFEST_MAX, &text, &size, &err);
        if (r == -ENOENT)
                return 0;
        if (r == -EFBIG) {
                *ret_why = strprintf("its manifest is too large");
                return 0;
        }
        if (r < 0) {
                *ret_why = TAKE_PTR(err);
                return -EIO;
        }
        if (strlen(text) != size) {
                *ret_why = strprintf("its manifest is not text");
                return 0;
        }
        if (rc->n_trusted > 0) {
                _cleanup_free_ char *surl = object_url(rc, "ac", key, ".sig"), *sig = NULL;
                size_t sig_size;
                if (!surl)
                        return -ENOMEM;
                free(err);
                err = NULL;
                r = http_get(surl, SIGNATURE_MAX, &sig, &sig_size, &err);
                if (r == -ENOENT || r == -EFBIG) {
                        *ret_why = strprintf("its manifest is not signed (a trusted key is required)");
                        return 0;
                }
                if (r < 0) {
                        *ret_why = TAKE_PTR(err);
                        return -EIO;
                }
                bool good = false;
                for (size_t i = 0; i < rc->n_trusted && !good; i++)
                        good = pgp_verify(rc->trusted[i], sig, sig_size, text, size) == 0;
                if (!good) {
                        *ret_why = strprintf("its manifest's signature is not a good one by a trusted key");
                        return 0;
                }
        }
        r = remote_manifest_parse(text, key, component, ret, ret_why);
        if (r == -ENOMEM)
                return r;
        return r < 0 ? 0 : 1;
}

int remote_fetch(RemoteCache *rc, const CachedFile *f, const char *path, char **ret_error) {
        _cleanup_free_ char *url = object_url(rc, "cas", f->sha256, "");
        *ret_error = NULL;
        if (!url)
                return -ENOMEM;
        int r = http_download(url, path, f->size, ret_error);
        if (r == -EFBIG) {
                free(*ret_error);
                *ret_error = strprintf("'%s' in the cache is larger than its manifest says", f->file);
                return -EBADMSG;
        }
        if (r < 0)
                return r;
        uint8_t md[32];
        char hex[65];
        uint64_t size = 0;
        r = hash_file(HASH_SHA256, path, md, &size);
        if (r < 0) {
                (void) unlink(path);
                *ret_error = strprintf("cannot read '%s': %s", path, strerror(-r));
                return -EIO;
        }
        hex_encode(md, 32, hex);
        if (size != f->size || strcmp(hex, f->sha256) != 0) {
                (void) unlink(path);
                *ret_error = strprintf("'%s' in the cache is damaged: its SHA-256 is %s, not %s", f->file, hex,
                                       f->sha256);
                return -EBADMSG;
        }
        return 0;
}

static int put_file(RemoteCache *rc, const CachedFile *f, const char *path, bool overwrite, char **ret_error) {
        _cleanup_free_ char *url = object_url(rc, "cas", f->sha256, "");
        if (!url)
                return -ENOMEM;
        /* Content-addressed: what is there under this name is this file (a
         * damaged one is caught by every reader and replaced by the next
         * build that misses). */
        int r = overwrite ? 0 : http_exists(url, ret_error);
        if (r > 0)
                return 0;
        free(*ret_error);
        *ret_error = NULL;
        return http_put(url, path, NULL, 0, ret_error);
}

int remote_store(RemoteCache *rc, const char *key, const char *component, const Manifest *m,
                 const char *const *paths, bool overwrite, char **ret_error) {
        *ret_error = NULL;
        if (!rc->key && rc->n_trusted > 0) {
                *ret_error = strprintf("this machine has no cache key ([cache] key), and the cache's readers take "
                                       "only signed manifests");
                return -ENOKEY;
        }
        for (size_t i = 0; i < m->n_rpms; i++) {
                int r = put_file(rc, &m->rpms[i], paths[i], overwrite, ret_error);
                if (r < 0)
                        return r;
        }
        if (m->srpm.file) {
                int r = put_file(rc, &m->srpm, paths[m->n_rpms], overwrite, ret_error);
                if (r < 0)
                        return r;
        }
        _cleanup_free_ char *text = remote_manifest_text(key, component, m);
        _cleanup_free_ char *url = object_url(rc, "ac", key, "");
        if (!text || !url)
                return -ENOMEM;
        if (rc->key) {
                _cleanup_free_ uint8_t *sig = NULL;
                _cleanup_free_ char *surl = object_url(rc, "ac", key, ".sig");
                size_t sig_len;
                if (!surl)
                        return -ENOMEM;
                int r = pgp_sign(rc->key, text, strlen(text), rc->sign_time, &sig, &sig_len);
                if (r < 0) {
                        *ret_error = strprintf("cannot sign the manifest: %s", strerror(-r));
                        return r;
                }
                r = http_put(surl, NULL, sig, sig_len, ret_error);
                if (r < 0)
                        return r;
        }
        return http_put(url, NULL, text, strlen(text), ret_error);
}

static char *status_url(const RemoteCache *rc, const char *run, const char *name) {
        return strprintf("%s/runs/%s/%s.json", rc->url, run, name);
}

int remote_put_status(RemoteCache *rc, const char *run, const char *name, const char *json, char **ret_error) {
        _cleanup_free_ char *url = status_url(rc, run, name);
        *ret_error = NULL;
        if (!url)
                return -ENOMEM;
        return http_put(url, NULL, json, strlen(json), ret_error);
}

int remote_get_status(RemoteCache *rc, const char *run, const char *name, char **ret, char **ret_error) {
        _cleanup_free_ char *url = status_url(rc, run, name);
        size_t size;
        *ret_error = NULL;
        if (!url)
                return -ENOMEM;
        return http_get(url, STATUS_MAX, ret, &size, ret_error);
}
