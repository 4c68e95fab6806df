/* SPDX-License-Identifier: MIT */

/* HTTP through libcurl: downloads with a size cap, HEAD, GET into memory
 * and PUT (http.h). */

#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/http.h"
#include "basic/strbuf.h"

static struct {
        CURLcode (*global_init)(long flags);
        CURL *(*easy_init)(void);
        CURLcode (*easy_setopt)(CURL *c, CURLoption o, ...);
        CURLcode (*easy_perform)(CURL *c);
        CURLcode (*easy_getinfo)(CURL *c, CURLINFO i, ...);
        void (*easy_cleanup)(CURL *c);
        const char *(*easy_strerror)(CURLcode e);
        CURLSH *(*share_init)(void);
        CURLSHcode (*share_setopt)(CURLSH *sh, CURLSHoption o, ...);
} curl;
/* One connection cache (and DNS cache) for every request of the run, so
 * that the many small requests of the shared build cache reuse their
 * connections (and TLS sessions) instead of opening one each. Never freed:
 * it lives as long as the process. */
static CURLSH *share;
static pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

static void share_lock(CURL *c, curl_lock_data data, curl_lock_access access, void *userdata) {
        (void) c;
        (void) access;
        (void) userdata;
        if (data >= 0 && data < CURL_LOCK_DATA_LAST)
                pthread_mutex_lock(&share_locks[data]);
}

static void share_unlock(CURL *c, curl_lock_data data, void *userdata) {
        (void) c;
        (void) userdata;
        if (data >= 0 && data < CURL_LOCK_DATA_LAST)
                pthread_mutex_unlock(&share_locks[data]);
}
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static const char *curl_init_error;

static void curl_init_once(void) {
        void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                curl_init_error = "libcurl.so.4 cannot be loaded (install libcurl4)";
                return;
        }
        *(void **) &curl.global_init = dlsym(h, "curl_global_init");
        *(void **) &curl.easy_init = dlsym(h, "curl_easy_init");
        *(void **) &curl.easy_setopt = dlsym(h, "curl_easy_setopt");
        *(void **) &curl.easy_perform = dlsym(h, "curl_easy_perform");
        *(void **) &curl.easy_getinfo = dlsym(h, "curl_easy_getinfo");
        *(void **) &curl.easy_cleanup = dlsym(h, "curl_easy_cleanup");
        *(void **) &curl.easy_strerror = dlsym(h, "curl_easy_strerror");
        *(void **) &curl.share_init = dlsym(h, "curl_share_init");
        *(void **) &curl.share_setopt = dlsym(h, "curl_share_setopt");
        if (!curl.global_init || !curl.easy_init || !curl.easy_setopt || !curl.easy_perform || !curl.easy_getinfo ||
            !curl.easy_cleanup || !curl.easy_strerror || !curl.share_init || !curl.share_setopt) {
                curl_init_error = "libcurl.so.4 lacks a function slipway needs";
                return;
        }
        if (curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                curl_init_error = "libcurl cannot be initialised";
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(share_locks); i++)
                pthread_mutex_init(&share_locks[i], NULL);
        share = curl.share_init();
        if (share) {
                curl.share_setopt(share, CURLSHOPT_LOCKFUNC, share_lock);
                curl.share_setopt(share, CURLSHOPT_UNLOCKFUNC, share_unlock);
                curl.share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
                curl.share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
                curl.share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
        }
}

/* Where a response's body goes: a file (fd) or memory (buf), at most max. */
typedef struct Sink {
        int fd;
        StrBuf *buf;
        uint64_t written, max;
        bool too_large;
} Sink;

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata) {
        Sink *s = userdata;
        size_t n = size * nmemb;
        /* Cut off at the cap: the server decides how much it sends. */
        if (n > s->max - s->written) {
                s->too_large = true;
                return 0;
        }
        if (s->buf ? strbuf_put(s->buf, ptr, n) < 0 : loop_write(s->fd, ptr, n) < 0)
                return 0;
        s->written += n;
        return n;
}

/* "4 MiB" or "1234 bytes", for messages. */
static char *size_text(uint64_t v) {
        char *s;
        if (v >= (1u << 20) && v % (1u << 20) == 0)
                return asprintf(&s, "%" PRIu64 " MiB", v >> 20) < 0 ? NULL : s;
        return asprintf(&s, "%" PRIu64 " bytes", v) < 0 ? NULL : s;
}

/* A handle with the options every request shares. */
static CURL *handle_new(const char *url, char *errbuf, char **ret_error) {
        pthread_once(&curl_once, curl_init_once);
        if (curl_init_error) {
                *ret_error = strprintf("cannot reach '%s': %s", url, curl_init_error);
                return NULL;
        }
        CURL *c = curl.easy_init();
        if (!c) {
                *ret_error = strprintf("cannot reach '%s': out of memory", url);
                return NULL;
        }
        curl.easy_setopt(c, CURLOPT_URL, url);
        if (share)
                curl.easy_setopt(c, CURLOPT_SHARE, share);
        curl.easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        curl.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl.easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
        curl.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
        /* A stalled transfer (under 1 byte/s for 60 s) fails rather than hangs. */
        curl.easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl.easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
        curl.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
        curl.easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl.easy_setopt(c, CURLOPT_USERAGENT, "slipway/" SLIPWAY_VERSION);
        return c;
}

static bool is_http(const char *url) {
        return strncmp(url, "http", 4) == 0;
}

/* Runs a GET into sink; the errors of http_download(). */
static int get_into(const char *url, Sink *sink, char **ret_error) {
        char errbuf[CURL_ERROR_SIZE] = "";
        long status = 0;
        CURL *c = handle_new(url, errbuf, ret_error);
        if (!c)
                return -EIO;
        curl.easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
        curl.easy_setopt(c, CURLOPT_WRITEDATA, sink);
        /* A stated Content-Length over the cap fails before any byte. */
        curl.easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) MIN(sink->max, (uint64_t) INT64_MAX));
        CURLcode cr = curl.easy_perform(c);
        curl.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl.easy_cleanup(c);
        if (sink->too_large || cr == CURLE_FILESIZE_EXCEEDED) {
                _cleanup_free_ char *t = size_text(sink->max);
                *ret_error = strprintf("cannot download '%s': it is larger than the %s allowed for it", url,
                                       t ? t : "size");
                return -EFBIG;
        }
        if (cr == CURLE_FILE_COULDNT_READ_FILE) {
                *ret_error = strprintf("cannot download '%s': %s", url, errbuf[0] ? errbuf : curl.easy_strerror(cr));
                return -ENOENT;
        }
        if (cr != CURLE_OK) {
                *ret_error = strprintf("cannot download '%s': %s", url, errbuf[0] ? errbuf : curl.easy_strerror(cr));
                return -EIO;
        }
        if (is_http(url) && (status < 200 || status >= 300)) {
                *ret_error = strprintf("cannot download '%s': the server answered HTTP %ld", url, status);
                return status == 404 ? -ENOENT : -EIO;
        }
        return 0;
}

int http_download(const char *url, const char *path, uint64_t max, char **ret_error) {
        _cleanup_free_ char *tmp = NULL, *dir = path_dirname(path);
        int r;

        *ret_error = NULL;
        if (!dir)
                return -ENOMEM;
        r = mkdir_parents(dir, 0755);
        if (r < 0)
                return r;
        int fd = tmpfile_open(path, &tmp);
        if (fd < 0)
                return fd;
        Sink sink = { .fd = fd, .max = max };
        r = get_into(url, &sink, ret_error);
        /* No fsync: downloads are checked against checksums when used. */
        int k = tmpfile_commit_unsynced(r, fd, tmp, path, 0644);
        close(fd);
        if (r < 0)
                return r;
        if (k < 0)
                *ret_error = strprintf("cannot write '%s': %s", path, strerror(-k));
        return k < 0 ? -EIO : 0;
}

int http_get(const char *url, uint64_t max, char **ret, size_t *ret_size, char **ret_error) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        *ret_error = NULL;
        Sink sink = { .fd = -1, .buf = &b, .max = max };
        int r = get_into(url, &sink, ret_error);
        if (r < 0)
                return r;
        *ret = strbuf_detach(&b, ret_size);
        return *ret ? 0 : -ENOMEM;
}

static size_t discard_cb(char *ptr, size_t size, size_t nmemb, void *userdata) {
        (void) ptr;
        (void) userdata;
        return size * nmemb;
}

/* Runs the request and frees c: the HTTP status in *ret_status, or -EIO
 * with *ret_error ("cannot WHAT 'url': ...") when it did not complete. */
static int perform(CURL *c, const char *url, const char *what, const char *errbuf, long *ret_status,
                   char **ret_error) {
        *ret_status = 0;
        CURLcode cr = curl.easy_perform(c);
        curl.easy_getinfo(c, CURLINFO_RESPONSE_CODE, ret_status);
        curl.easy_cleanup(c);
        if (cr != CURLE_OK) {
                *ret_error = strprintf("cannot %s '%s': %s", what, url, errbuf[0] ? errbuf : curl.easy_strerror(cr));
                return -EIO;
        }
        return 0;
}

int http_exists(const char *url, char **ret_error) {
        char errbuf[CURL_ERROR_SIZE] = "";
        long status;
        *ret_error = NULL;
        CURL *c = handle_new(url, errbuf, ret_error);
        if (!c)
                return -EIO;
        curl.easy_setopt(c, CURLOPT_NOBODY, 1L);
        curl.easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_cb);
        if (perform(c, url, "reach", errbuf, &status, ret_error) < 0)
                return -EIO;
        if (status == 404)
                return 0;
        if (status < 200 || status >= 300) {
                *ret_error = strprintf("cannot reach '%s': the server answered HTTP %ld", url, status);
                return -EIO;
        }
        return 1;
}

typedef struct Source {
        int fd;
        const uint8_t *data;
        size_t size, off;
} Source;

static size_t read_cb(char *ptr, size_t size, size_t nmemb, void *userdata) {
        Source *s = userdata;
        size_t n = size * nmemb;
        if (s->fd >= 0) {
                ssize_t k = read(s->fd, ptr, n);
                return k < 0 ? CURL_READFUNC_ABORT : (size_t) k;
        }
        n = MIN(n, s->size - s->off);
        memcpy(ptr, s->data + s->off, n);
        s->off += n;
        return n;
}

int http_put(const char *url, const char *path, const void *data, size_t size, char **ret_error) {
        char errbuf[CURL_ERROR_SIZE] = "";
        long status;
        _cleanup_close_ int fd = -1;
        *ret_error = NULL;
        if (path) {
                struct stat st;
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0 || fstat(fd, &st) < 0) {
                        *ret_error = strprintf("cannot read '%s': %s", path, strerror(errno));
                        return -errno;
                }
                size = (size_t) st.st_size;
        }
        Source src = { .fd = fd, .data = data, .size = size };
        CURL *c = handle_new(url, errbuf, ret_error);
        if (!c)
                return -EIO;
        curl.easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl.easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
        curl.easy_setopt(c, CURLOPT_READDATA, &src);
        curl.easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t) size);
        curl.easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_cb);
        if (perform(c, url, "upload to", errbuf, &status, ret_error) < 0)
                return -EIO;
        if (is_http(url) && (status < 200 || status >= 300)) {
                *ret_error = strprintf("cannot upload to '%s': the server answered HTTP %ld", url, status);
                return -EIO;
        }
        return 0;
}
