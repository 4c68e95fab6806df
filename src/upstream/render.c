/* SPDX-License-Identifier: MIT */

/* A component's tree as it is built: the locked commit's files, the
 * lookaside sources the lock names (checked against their hashes), then the
 * overlays, check-skip and the Release change. The build cache key of an
 * upstream component is made of the same inputs (upstream_key_inputs()), so
 * anything render reads must be in it. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/hash.h"
#include "upstream/upstream.h"

static void key_field(StrBuf *sb, const char *label, const char *v) {
        /* Length-prefixed: no value can imitate another field. */
        if (v)
                strbuf_printf(sb, "%s %zu:%s\n", label, strlen(v), v);
        else
                strbuf_printf(sb, "%s -\n", label);
}

int upstream_key_inputs(const Project *p, const Component *c, const LockEntry *e, StrBuf *sb) {
        _cleanup_(upstream_settings_release) UpstreamSettings s = {};
        int r = upstream_settings(p, c, &s);
        if (r < 0)
                return r;
        strbuf_printf(sb, "upstream-1\n");
        key_field(sb, "pkg", s.pkg);
        key_field(sb, "url", e->url);
        key_field(sb, "commit", e->commit);
        for (size_t i = 0; i < e->n_sources; i++) {
                key_field(sb, "source", e->sources[i].file);
                key_field(sb, "hashtype", e->sources[i].hashtype);
                key_field(sb, "hash", e->sources[i].hash);
        }
        strbuf_printf(sb, "release %s\n", release_mode_to_string(s.release_mode));
        key_field(sb, "release-suffix", s.release_mode == RELEASE_SUFFIX ? s.release_suffix : NULL);
        strbuf_printf(sb, "check-skip %d\n", c->check_skip);
        /* What each overlay does; its description and metadata change nothing. */
        for (size_t i = 0; i < c->overlays.n; i++) {
                const Overlay *o = &c->overlays.items[i];
                strbuf_printf(sb, "overlay %zu %s\n", i, overlay_type_to_string(o->type));
                key_field(sb, "tag", o->tag);
                key_field(sb, "value", o->value);
                key_field(sb, "section", o->section);
                key_field(sb, "package", o->package);
                key_field(sb, "regex", o->regex);
                key_field(sb, "replacement", o->replacement);
                key_field(sb, "file", o->file);
                key_field(sb, "archive", o->archive);
                for (size_t k = 0; k < o->lines.n; k++)
                        key_field(sb, "line", o->lines.items[k]);
                if (o->source) {
                        _cleanup_free_ char *path = project_path(p, o->source);
                        uint8_t digest[32];
                        char hex[65];
                        if (!path)
                                return -ENOMEM;
                        r = hash_file(HASH_SHA256, path, digest, NULL);
                        if (r < 0)
                                return r;
                        hex_encode(digest, 32, hex);
                        strbuf_printf(sb, "source-sha256 %s\n", hex);
                }
        }
        return sb->oom ? -ENOMEM : 0;
}

char *upstream_spec_name(const Component *c) {
        return strprintf("%s.spec", c->upstream_name ? c->upstream_name : c->name);
}

char *upstream_rendered_spec(const char *out_dir, const Component *c) {
        return strprintf("%s/cache/upstream/render/%s/%s.spec", out_dir, c->name,
                         c->upstream_name ? c->upstream_name : c->name);
}

/* Every file's times set to t (links not followed): the source package
 * records them, and they should not say when the tree was made. */
static int set_times(const char *dir, uint64_t t) {
        _cleanup_(closedirp) DIR *d = opendir(dir);
        struct dirent *de;
        struct timespec ts[2] = { { .tv_sec = (time_t) t }, { .tv_sec = (time_t) t } };
        if (!d)
                return negative_errno();
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                _cleanup_free_ char *sub = path_join(dir, de->d_name);
                struct stat st;
                if (!sub)
                        return -ENOMEM;
                if (lstat(sub, &st) < 0)
                        return negative_errno();
                if (S_ISDIR(st.st_mode)) {
                        int r = set_times(sub, t);
                        if (r < 0)
                                return r;
                }
                if (utimensat(AT_FDCWD, sub, ts, AT_SYMLINK_NOFOLLOW) < 0)
                        return negative_errno();
        }
        if (utimensat(AT_FDCWD, dir, ts, AT_SYMLINK_NOFOLLOW) < 0)
                return negative_errno();
        return 0;
}

static int copy_file_to(const char *src, const char *dst) {
        _cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
        if (in < 0)
                return negative_errno();
        _cleanup_close_ int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (out < 0)
                return negative_errno();
        for (;;) {
                ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
                if (n < 0) {
                        if (errno == EXDEV || errno == EINVAL || errno == ENOSYS)
                                break;
                        return negative_errno();
                }
                if (n == 0)
                        return 0;
        }
        /* A plain copy where copy_file_range cannot. */
        char buf[1 << 16];
        if (lseek(in, 0, SEEK_SET) < 0 || ftruncate(out, 0) < 0 || lseek(out, 0, SEEK_SET) < 0)
                return negative_errno();
        for (;;) {
                ssize_t n = read(in, buf, sizeof buf);
                if (n < 0)
                        return negative_errno();
                if (n == 0)
                        return 0;
                int r = loop_write(out, buf, (size_t) n);
                if (r < 0)
                        return r;
        }
}

/* The commit's files and the lookaside sources in dir. */
static int render_pristine_into(const Project *p, const Component *c, const LockEntry *e, const UpstreamCaches *caches,
                                const char *dir, Diagnostics *d) {
        _cleanup_(upstream_settings_release) UpstreamSettings s = {};
        _cleanup_(distgit_freep) DistGit *g = NULL;
        _cleanup_free_ char *error = NULL, *data = NULL;
        size_t size = 0;
        SourcePos lpos = e->pos;
        int r;

        r = upstream_settings(p, c, &s);
        if (r < 0)
                return r;
        r = distgit_open(caches->git, e->url, false, &g, &error);
        if (r == -ENOMEM)
                return r;
        if (r >= 0) {
                free(error);
                error = NULL;
                r = distgit_export(g, e->commit, dir, &error);
        }
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                diag_error(d, &s.url_pos, "component '%s': cannot check out commit %.12s of '%s': %s", c->name, e->commit,
                           e->url, error ? error : strerror(-r));
                return -EINVAL;
        }

        /* The lock's source hashes are what is checked; they must be the
         * sources file's at that commit, or the lock was edited. */
        _cleanup_free_ char *sources_path = path_join(dir, "sources");
        if (!sources_path)
                return -ENOMEM;
        LockSource *have = NULL;
        size_t n_have = 0;
        if (path_exists(sources_path)) {
                r = read_full_file(sources_path, &data, &size);
                if (r < 0)
                        return r;
                free(error);
                error = NULL;
                r = sources_parse(data, size, &have, &n_have, &error);
                if (r < 0 && r != -EBADMSG)
                        return r;
                if (r == -EBADMSG) {
                        diag_error(d, &s.url_pos, "component '%s': the sources file of '%s' at commit %.12s: %s", c->name,
                                   e->url, e->commit, error);
                        return -EINVAL;
                }
        }
        bool same = n_have == e->n_sources;
        for (size_t i = 0; same && i < n_have; i++)
                same = strcmp(have[i].file, e->sources[i].file) == 0 && strcmp(have[i].hash, e->sources[i].hash) == 0 &&
                       strcmp(have[i].hashtype, e->sources[i].hashtype) == 0;
        lock_sources_free(have, n_have);
        if (!same) {
                diag_error(d, lpos.file ? &lpos : NULL,
                           "component '%s': slipway.lock's sources differ from the sources file at commit %.12s; "
                           "run 'slipway update %s'",
                           c->name, e->commit, c->name);
                return -EINVAL;
        }

        if (e->n_sources > 0 && !s.lookaside) {
                diag_error(d, &s.url_pos,
                           "component '%s': its sources file names %zu file(s) but no 'lookaside' is set (of its own, "
                           "its group's or [distro]'s)",
                           c->name, e->n_sources);
                return -EINVAL;
        }
        bool failed = false;
        for (size_t i = 0; i < e->n_sources; i++) {
                const LockSource *src = &e->sources[i];
                _cleanup_free_ char *path = NULL, *dst = path_join(dir, src->file);
                free(error);
                error = NULL;
                if (!dst)
                        return -ENOMEM;
                r = lookaside_get(caches->lookaside, s.lookaside, s.pkg, src, &path, &error);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        SourcePos pos = cfg_has(&c->obj, "lookaside")                         ? cfg_pos(&c->obj, "lookaside")
                                        : c->group && cfg_has(&c->group->obj, "lookaside")    ? cfg_pos(&c->group->obj, "lookaside")
                                        : cfg_has(&p->distro.obj, "lookaside")                ? cfg_pos(&p->distro.obj, "lookaside")
                                                                                              : s.url_pos;
                        diag_error(d, &pos, "component '%s': %s", c->name, error ? error : strerror(-r));
                        failed = true;
                        continue;
                }
                (void) unlink(dst); /* a file of the same name in git loses to the checked source */
                r = copy_file_to(path, dst);
                if (r < 0)
                        return r;
        }
        return failed ? -EINVAL : 0;
}

/* Makes dest from a fresh directory beside it, filled by fill(). */
static int render_atomically(const Project *p, const Component *c, const LockEntry *e, const UpstreamCaches *caches,
                             const char *dest, bool overlaid, Diagnostics *d) {
        _cleanup_free_ char *parent = path_dirname(dest), *tmp = NULL, *spec_name = upstream_spec_name(c);
        int r;

        if (!parent || !spec_name)
                return -ENOMEM;
        r = mkdir_parents(parent, 0755);
        if (r < 0)
                return r;
        r = tmpdir_beside(dest, "render", &tmp);
        if (r < 0)
                return r;
        (void) chmod(tmp, 0755);

        r = render_pristine_into(p, c, e, caches, tmp, d);
        if (r >= 0 && overlaid) {
                _cleanup_free_ char *spec = path_join(tmp, spec_name);
                if (!spec)
                        r = -ENOMEM;
                else if (!path_exists(spec)) {
                        _cleanup_(upstream_settings_release) UpstreamSettings s = {};
                        r = upstream_settings(p, c, &s);
                        if (r >= 0) {
                                diag_error(d, &s.url_pos, "component '%s': '%s' at commit %.12s has no '%s'", c->name,
                                           e->url, e->commit, spec_name);
                                r = -EINVAL;
                        }
                }
                if (r >= 0)
                        r = overlays_apply(p, c, tmp, spec_name, d);
                if (r >= 0 && (c->overlays.n > 0 || c->check_skip)) {
                        _cleanup_(upstream_settings_release) UpstreamSettings s = {};
                        _cleanup_free_ char *data = NULL, *error = NULL;
                        _cleanup_strbuf_ StrBuf sb = STRBUF_INIT;
                        size_t size;
                        r = upstream_settings(p, c, &s);
                        if (r >= 0)
                                r = read_full_file(spec, &data, &size);
                        if (r >= 0) {
                                strbuf_put(&sb, data, size);
                                r = spec_release_apply(&sb, s.release_mode, s.release_suffix, &error);
                                if (r == -EBADMSG) {
                                        SourcePos pos = cfg_has(&c->obj, "release-mode") ? cfg_pos(&c->obj, "release-mode")
                                                                                         : c->obj.pos;
                                        diag_error(d, &pos, "component '%s': %s", c->name, error);
                                        r = -EINVAL;
                                }
                        }
                        if (r >= 0)
                                r = sb.oom ? -ENOMEM : write_file_atomic(spec, sb.buf, sb.len, 0644);
                }
        }
        if (r >= 0)
                r = set_times(tmp, p->source_date_epoch);
        if (r >= 0) {
                (void) rm_rf(dest);
                if (rename(tmp, dest) < 0)
                        r = negative_errno();
        }
        if (r < 0)
                (void) rm_rf(tmp);
        return r;
}

int upstream_render(const Project *p, const Component *c, const LockEntry *e, const UpstreamCaches *caches,
                    const char *dest, Diagnostics *d) {
        return render_atomically(p, c, e, caches, dest, true, d);
}

int upstream_render_pristine(const Project *p, const Component *c, const LockEntry *e, const UpstreamCaches *caches,
                             const char *dest, Diagnostics *d) {
        return render_atomically(p, c, e, caches, dest, false, d);
}
