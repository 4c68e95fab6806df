#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Upstream components (issue 16): dist-git repositories made here with git,
a lookaside cache served over HTTP on 127.0.0.1, overlays of every kind,
slipway.lock, `slipway update`, `render` and `diff`, and the built RPMs read
back with rpm.

Usage: upstream_test.py SLIPWAY SOURCE_ROOT"""
import functools
import glob
import hashlib
import http.server
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import check, finish, read, run_test, show, write

SLIPWAY, ROOT = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
for needed in ["git", "rpm", "rpmbuild", "rpmspec", "rpm2cpio", "cpio"]:
    if not shutil.which(needed):
        print(f"SKIP: {needed} missing")
        sys.exit(77)

SDE = 1700000000
BASE = tempfile.mkdtemp(prefix="slipway-upstream-test-")
os.chmod(BASE, 0o755)
GIT = os.path.join(BASE, "git")
WORK = os.path.join(BASE, "work")
LOOKASIDE = os.path.join(BASE, "lookaside")
ENV = dict(os.environ, SOURCE_DATE_EPOCH=str(SDE), LC_ALL="C.UTF-8", GIT_AUTHOR_NAME="Fedora Packager",
           GIT_AUTHOR_EMAIL="packager@example.org", GIT_COMMITTER_NAME="Fedora Packager",
           GIT_COMMITTER_EMAIL="packager@example.org", GIT_AUTHOR_DATE="2023-11-14T22:13:20Z",
           GIT_COMMITTER_DATE="2023-11-14T22:13:20Z")


class LookasideServer:
    """Serves LOOKASIDE over HTTP on 127.0.0.1, as Fedora's lookaside is laid out."""

    def __init__(self):
        handler = functools.partial(Quiet, directory=LOOKASIDE)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


SERVER = LookasideServer()
LOOKASIDE_URL = f"http://127.0.0.1:{SERVER.port}/pkgs/$pkg/$filename/$hashtype/$hash/$filename"


def run(*args, **kw):
    return subprocess.run(list(args), capture_output=True, text=True, env=kw.pop("env", ENV), **kw)


def slipway(project, *args, **kw):
    return run(SLIPWAY, "-C", project, *args, **kw)


def git(repo, *args):
    p = run("git", "-C", repo, *args)
    assert p.returncode == 0, show(p)
    return p.stdout.strip()


def make_tarball(name, files):
    """A .tar.gz of files ({path: text}) below NAME/, with fixed metadata."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.GNU_FORMAT) as t:
        for path, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(f"{name}/{path}")
            info.size, info.mtime, info.mode = len(data), SDE, 0o644
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def put_lookaside(pkg, filename, data):
    h = hashlib.sha512(data).hexdigest()
    path = os.path.join(LOOKASIDE, "pkgs", pkg, filename, "sha512", h, filename)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return f"SHA512 ({filename}) = {h}\n"


SPEC = """Name:           {name}
Version:        {version}
Release:        1%{{?dist}}
Summary:        Upstream's {name}
License:        MIT
BuildArch:      noarch
Source0:        {name}-{version}.tar.gz
Patch0:         0001-greeting.patch
{buildrequires}
%global debug_package %{{nil}}
%global __os_install_post %{{nil}}

%description
{name} as upstream ships it.

%package docs
Summary:        Documentation of {name}

%description docs
The documentation.

%prep
%autosetup -p1

%build
echo built > build.txt

%install
mkdir -p %{{buildroot}}%{{_datadir}}/{name}
install -m 644 greeting.txt config.txt build.txt %{{buildroot}}%{{_datadir}}/{name}/
echo "installed by upstream" > %{{buildroot}}%{{_datadir}}/{name}/marker.txt

%check
test -f greeting.txt

%files
%{{_datadir}}/{name}

%files docs
%license LICENSE

%changelog
* Tue Nov 14 2023 Fedora Packager <packager@example.org> - {version}-1
- Upstream release
"""

PATCH = """--- a/greeting.txt
+++ b/greeting.txt
@@ -1 +1 @@
-hello
+hello, patched
"""


def make_distgit(name, version, buildrequires=""):
    """A bare dist-git repository GIT/NAME.git with branch f43: spec, patch,
    sources file; the tarball goes into the lookaside."""
    src = os.path.join(BASE, "src", name)
    bare = os.path.join(GIT, name + ".git")
    if not os.path.exists(bare):
        os.makedirs(GIT, exist_ok=True)
        run("git", "init", "-q", "--bare", "-b", "f43", bare)
        run("git", "clone", "-q", bare, src)
        git(src, "checkout", "-q", "-b", "f43")
    commit_version(name, version, buildrequires)
    return bare


def commit_version(name, version, buildrequires=""):
    src = os.path.join(BASE, "src", name)
    tarball = make_tarball(f"{name}-{version}", {"greeting.txt": "hello\n", "config.txt": "mode=upstream\n",
                                                  "LICENSE": "MIT\n", "vendor/bundled.c": "int bundled;\n"})
    sources = put_lookaside(name, f"{name}-{version}.tar.gz", tarball)
    write(os.path.join(src, f"{name}.spec"), SPEC.format(name=name, version=version, buildrequires=buildrequires))
    write(os.path.join(src, "0001-greeting.patch"), PATCH)
    write(os.path.join(src, "sources"), sources)
    write(os.path.join(src, ".gitignore"), f"/{name}-*.tar.gz\n")
    git(src, "add", "-A")
    git(src, "commit", "-q", "-m", f"{name} {version}")
    git(src, "push", "-q", "origin", "f43")
    return git(src, "rev-parse", "HEAD")


OVERLAYS = """
[[components.curated.overlays]]
type = "spec-add-tag"
tag = "Provides"
value = "slipway-curated = 1"
metadata = { category = "azl-branding-policy", upstream-status = "inapplicable" }

[[components.curated.overlays]]
type = "spec-set-tag"
tag = "Summary"
value = "Curated by slipway"

[[components.curated.overlays]]
type = "spec-search-replace"
description = "mark the install"
section = "%install"
regex = "installed by upstream"
replacement = "installed by slipway"

[[components.curated.overlays]]
type = "spec-remove-subpackage"
package = "docs"

[[components.curated.overlays]]
type = "patch-add"
source = "patches/0002-farewell.patch"

[[components.curated.overlays]]
type = "spec-append-lines"
section = "%install"
lines = ["install -m 644 %{SOURCE9} %{buildroot}%{_datadir}/curated/extra.txt"]

[[components.curated.overlays]]
type = "spec-insert-tag"
tag = "Source9"
value = "extra.txt"

[[components.curated.overlays]]
type = "file-add"
file = "extra.txt"
source = "files/extra.txt"

[[components.curated.overlays]]
type = "file-search-replace"
archive = "curated-1.0.tar.gz"
file = "config.txt"
regex = "mode=upstream"
replacement = "mode=curated"

[[components.curated.overlays]]
type = "file-remove"
archive = "curated-1.0.tar.gz"
file = "vendor/**"
"""

FAREWELL = """--- a/greeting.txt
+++ b/greeting.txt
@@ -1 +1,2 @@
 hello, patched
+farewell
"""


def make_project(path, extra=""):
    write(os.path.join(path, "slipway.toml"), f"""[project]
name = "upstreamtest"
version = "1.0"
dist = ".sw1"
vendor = "slipway tests"
source-date-epoch = {SDE}

[build]
host-provides = ["bash", "coreutils"]

[distro]
dist-git = "file://{GIT}/$pkg.git"
lookaside = "{LOOKASIDE_URL}"
branch = "f43"

[components.plain]

[components.curated]
{OVERLAYS}
[components.user]
check-skip = true
check-skip-reason = "tests need the network"
{extra}""")
    write(os.path.join(path, "patches", "0002-farewell.patch"), FAREWELL)
    write(os.path.join(path, "files", "extra.txt"), "added by an overlay\n")


def rpm_q(path, fmt):
    p = run("rpm", "-qp", "--nosignature", "--qf", fmt, path)
    return p.stdout


def rpm_file(path, inside):
    """The contents of one file of an RPM."""
    p = subprocess.run(f"rpm2cpio '{path}' | cpio -i --quiet --to-stdout '.{inside}'", shell=True,
                       capture_output=True)
    return p.stdout.decode(errors="replace")


def packages(out):
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(out, "repo", "Packages", "*.rpm")))


PROJECT = os.path.join(WORK, "project")
FIRST = {}


def setup():
    make_distgit("plain", "1.0")
    make_distgit("curated", "1.0")
    make_distgit("user", "1.0", "BuildRequires:  curated")
    make_project(PROJECT)


def test_build():
    p = slipway(PROJECT, "package")
    if not check("package builds the upstream components", p.returncode == 0, show(p)):
        return
    check("package locks what the lock lacked", "locked" in p.stdout and "plain" in p.stdout, p.stdout)
    lock = read(os.path.join(PROJECT, "slipway.lock")).decode()
    commit = git(os.path.join(BASE, "src", "curated"), "rev-parse", "HEAD")
    check("slipway.lock records the commit", f'commit = "{commit}"' in lock, lock)
    check("slipway.lock records the source hash", "sha512" in lock and "curated-1.0.tar.gz" in lock, lock)
    out = os.path.join(PROJECT, "out")
    names = packages(out)
    FIRST["names"] = names
    FIRST["bytes"] = {n: read(os.path.join(out, "repo", "Packages", n)) for n in names}
    check("plain builds with upstream's Release", "plain-1.0-1.sw1.noarch.rpm" in names, names)
    check("plain keeps its docs sub-package", "plain-docs-1.0-1.sw1.noarch.rpm" in names, names)
    check("curated's Release is bumped above upstream's", "curated-1.0-2.sw1.noarch.rpm" in names, names)
    check("spec-remove-subpackage: curated-docs is not built",
          not any(n.startswith("curated-docs") for n in names), names)
    rpm = os.path.join(out, "repo", "Packages", "curated-1.0-2.sw1.noarch.rpm")
    check("spec-add-tag: the Provides is in the RPM", "slipway-curated = 1" in rpm_q(rpm, "[%{PROVIDES} = %{PROVIDEVERSION}\n]"),
          rpm_q(rpm, "[%{PROVIDES}\n]"))
    check("spec-set-tag: the Summary", rpm_q(rpm, "%{SUMMARY}") == "Curated by slipway")
    check("spec-search-replace: the %install change",
          rpm_file(rpm, "/usr/share/curated/marker.txt") == "installed by slipway\n",
          rpm_file(rpm, "/usr/share/curated/marker.txt"))
    check("patch-add: the added patch is applied after upstream's",
          rpm_file(rpm, "/usr/share/curated/greeting.txt") == "hello, patched\nfarewell\n",
          rpm_file(rpm, "/usr/share/curated/greeting.txt"))
    check("file-add + spec-insert-tag + spec-append-lines: the added source is installed",
          rpm_file(rpm, "/usr/share/curated/extra.txt") == "added by an overlay\n")
    check("file-search-replace inside the archive",
          rpm_file(rpm, "/usr/share/curated/config.txt") == "mode=curated\n",
          rpm_file(rpm, "/usr/share/curated/config.txt"))
    srpm = glob.glob(os.path.join(out, "srpms", "curated-*.src.rpm"))
    check("the source RPM exists", len(srpm) == 1, srpm)
    if srpm:
        listing = run("sh", "-c", f"rpm2cpio '{srpm[0]}' | cpio -t --quiet").stdout
        check("the source RPM holds the added patch and file", "0002-farewell.patch" in listing and "extra.txt" in listing,
              listing)
        tar = subprocess.run(f"rpm2cpio '{srpm[0]}' | cpio -i --quiet --to-stdout curated-1.0.tar.gz | tar -tzf -",
                             shell=True, capture_output=True, text=True).stdout
        check("file-remove inside the archive: vendor/ is gone", "vendor" not in tar and "config.txt" in tar, tar)
    urpm = os.path.join(out, "repo", "Packages", "user-1.0-2.sw1.noarch.rpm")
    check("check-skip counts as curation (Release bumped)", os.path.exists(urpm), names)
    p = slipway(PROJECT, "package")
    check("a second run rebuilds nothing", p.returncode == 0 and "nothing to do" in p.stdout, show(p))


def test_render_and_diff():
    p = slipway(PROJECT, "render", "curated", "--json")
    if not check("render --json", p.returncode == 0, show(p)):
        return
    doc = json.loads(p.stdout)
    d = doc["directory"]
    spec = read(os.path.join(d, "curated.spec")).decode()
    check("render: the spec as built (Release, tags, no docs)",
          "Release:        2%{?dist}" in spec and "Provides: slipway-curated = 1" in spec.replace("Provides:       ", "Provides: ")
          and "%package docs" not in spec and "Patch1:" in spec and "installed by slipway" in spec, spec)
    paths = [f["path"] for f in doc["files"]]
    check("render: the sources as built", {"curated.spec", "0001-greeting.patch", "0002-farewell.patch", "extra.txt",
                                            "curated-1.0.tar.gz"} <= set(paths), paths)
    tb = [f for f in doc["files"] if f["path"] == "curated-1.0.tar.gz"][0]
    check("render: each file with its SHA-256", len(tb["sha256"]) == 64)
    p = slipway(PROJECT, "diff", "curated")
    check("diff: a unified diff of the spec", p.returncode == 0 and "--- a/curated.spec" in p.stdout
          and "+Summary:" in p.stdout and "-%package docs" in p.stdout, show(p))
    check("diff: the added files", "+++ b/extra.txt" in p.stdout and "0002-farewell.patch" in p.stdout, p.stdout[-2000:])
    p = slipway(PROJECT, "diff", "curated", "--json")
    doc = json.loads(p.stdout) if p.returncode == 0 else {}
    ch = {f["path"]: f["change"] for f in doc.get("files", [])}
    check("diff --json: changes by file", ch.get("curated.spec") == "modified" and ch.get("extra.txt") == "added"
          and ch.get("curated-1.0.tar.gz") == "modified", ch)
    p = slipway(PROJECT, "diff", "plain", "--json")
    check("diff of a component without overlays is empty", p.returncode == 0 and json.loads(p.stdout)["files"] == [],
          show(p))


def test_lock_moves_only_with_update():
    src = os.path.join(BASE, "src", "plain")
    old = git(src, "rev-parse", "HEAD")
    new = commit_version("plain", "1.1")
    lock_before = read(os.path.join(PROJECT, "slipway.lock"))
    p = slipway(PROJECT, "package")
    check("a moved branch changes nothing without update", p.returncode == 0 and "nothing to do" in p.stdout, show(p))
    check("the lock is unchanged", read(os.path.join(PROJECT, "slipway.lock")) == lock_before)
    # Another copy of the project with the same lock, built from nothing, after the branch moved.
    copy = os.path.join(WORK, "copy")
    shutil.copytree(PROJECT, copy, ignore=shutil.ignore_patterns("out"))
    p = slipway(copy, "package")
    names = packages(os.path.join(copy, "out"))
    check("a build from the same lock after the branch moved", p.returncode == 0 and names == FIRST["names"], show(p))
    same = all(read(os.path.join(copy, "out", "repo", "Packages", n)) == FIRST["bytes"][n] for n in names)
    check("... gives byte-identical RPMs", same)
    p = slipway(PROJECT, "update", "--json")
    doc = json.loads(p.stdout) if p.returncode == 0 else {}
    moved = {c["name"]: c for c in doc.get("changes", [])}
    check("update picks up the move", "plain" in moved and moved["plain"]["old_commit"] == old
          and moved["plain"]["new_commit"] == new and moved["plain"]["sources_changed"], doc)
    check("update moves only what moved", set(moved) == {"plain"}, moved)
    p = slipway(PROJECT, "update")
    check("a second update changes nothing", p.returncode == 0 and "0 of 3" in p.stdout, show(p))
    p = slipway(PROJECT, "package")
    check("package builds the new version", p.returncode == 0 and "plain-1.1-1.sw1.noarch.rpm" in p.stdout, show(p))
    check("... and only it", "curated" not in p.stdout.split("built")[-1] if "built" in p.stdout else False, p.stdout)


def test_overlay_change_rebuilds_dependents():
    toml = os.path.join(PROJECT, "slipway.toml")
    text = read(toml).decode()
    write(toml, text.replace('value = "Curated by slipway"', 'value = "Curated by slipway, again"'))
    p = slipway(PROJECT, "package", "--json")
    doc = json.loads(p.stdout) if p.returncode == 0 else {"components": []}
    st = {c["name"]: c["status"] for c in doc["components"]}
    check("an overlay change rebuilds that component and its dependents",
          st == {"plain": "cached", "curated": "built", "user": "built"}, st)
    write(toml, text)
    p = slipway(PROJECT, "package")
    check("back to the first overlays", p.returncode == 0, show(p))
    write(toml, text.replace('description = "mark the install"', 'description = "say who installed it"')
          .replace('category = "azl-branding-policy"', 'category = "azl-compatibility"'))
    p = slipway(PROJECT, "package", "--json")
    doc = json.loads(p.stdout) if p.returncode == 0 else {"components": []}
    st = {c["name"]: c["status"] for c in doc["components"]}
    check("a change of description and metadata rebuilds nothing", set(st.values()) == {"cached"}, st)
    write(toml, text)


def error_case(name, extra_toml, want, key_line=None, mutate=None, undo=None):
    proj = os.path.join(WORK, "err-" + name)
    make_project(proj, extra_toml)
    if mutate:
        mutate(proj)
    p = slipway(proj, "package")
    errors = [l for l in p.stderr.splitlines() if ": error: " in l or l.startswith("error")]
    ok = p.returncode == 1 and len(errors) == 1 and re.search(want, errors[0] if errors else "")
    check(f"error: {name}", ok, show(p))
    if key_line and errors:
        check(f"error: {name}: at file:line:column", re.match(rf".*slipway.toml:{key_line}:\d+: error: ", errors[0]),
              errors[0])
    check(f"error: {name}: nothing built", not glob.glob(os.path.join(proj, "out", "repo", "Packages", "*.rpm")))
    if undo:
        undo()


def line_of(path, needle):
    for i, l in enumerate(read(path).decode().splitlines(), 1):
        if needle in l:
            return i
    return None


def test_errors():
    # A regex that matches nothing.
    proj = os.path.join(WORK, "err-regex")
    make_project(proj)
    toml = os.path.join(proj, "slipway.toml")
    write(toml, read(toml).decode().replace('regex = "installed by upstream"', 'regex = "not in the spec"'))
    p = slipway(proj, "package")
    ln = line_of(toml, "not in the spec")
    errors = [l for l in p.stderr.splitlines() if ": error: " in l]
    check("error: a regex that matches nothing", p.returncode == 1 and len(errors) == 1
          and f"slipway.toml:{ln}:9: error: " in errors[0] and "matches nothing" in errors[0], show(p))
    check("error: regex: nothing built", not glob.glob(os.path.join(proj, "out", "repo", "Packages", "*.rpm")))

    # An unknown commit.
    proj = os.path.join(WORK, "err-commit")
    make_project(proj)
    toml = os.path.join(proj, "slipway.toml")
    write(toml, read(toml).decode().replace("[components.plain]\n", '[components.plain]\ncommit = "0123456789abcdef"\n'))
    p = slipway(proj, "package")
    errors = [l for l in p.stderr.splitlines() if ": error: " in l]
    check("error: an unknown commit", p.returncode == 1 and len(errors) == 1 and "0123456789abcdef" in errors[0]
          and f"slipway.toml:{line_of(toml, '0123456789abcdef')}:" in errors[0], show(p))
    check("error: unknown commit: no lock written", not os.path.exists(os.path.join(proj, "slipway.lock")))

    # A wrong source hash: the lookaside holds other bytes under the name.
    name = "tampered"
    make_distgit(name, "1.0")
    h = [l for l in read(os.path.join(BASE, "src", name, "sources")).decode().split() if len(l) == 128][0]
    path = os.path.join(LOOKASIDE, "pkgs", name, f"{name}-1.0.tar.gz", "sha512", h, f"{name}-1.0.tar.gz")
    with open(path, "ab") as f:
        f.write(b"tampered")
    proj = os.path.join(WORK, "err-hash")
    make_project(proj, f"[components.{name}]\n")
    p = slipway(proj, "package")
    errors = [l for l in p.stderr.splitlines() if ": error: " in l]
    check("error: a wrong source hash", p.returncode == 1 and len(errors) == 1 and "sha512" in errors[0]
          and name in errors[0], show(p))
    check("error: wrong hash: nothing kept in the lookaside cache",
          not glob.glob(os.path.join(proj, "out", "cache", "upstream", "lookaside", "sha512", h)))

    # An unreachable lookaside.
    proj = os.path.join(WORK, "err-lookaside")
    make_project(proj)
    toml = os.path.join(proj, "slipway.toml")
    write(toml, read(toml).decode().replace(f"127.0.0.1:{SERVER.port}", "127.0.0.1:9"))
    p = slipway(proj, "package")
    errors = [l for l in p.stderr.splitlines() if ": error: " in l]
    check("error: an unreachable lookaside", p.returncode == 1 and len(errors) >= 1 and "127.0.0.1:9" in p.stderr
          and all(f"slipway.toml:{line_of(toml, 'lookaside =')}:" in e for e in errors), show(p))

    # --locked with a component the lock lacks.
    proj = os.path.join(WORK, "err-locked")
    make_project(proj)
    p = slipway(proj, "package", "--locked")
    check("error: --locked refuses to lock", p.returncode == 1 and "--locked" in p.stderr
          and not os.path.exists(os.path.join(proj, "slipway.lock")), show(p))

    # A broken lock file.
    proj = os.path.join(WORK, "err-lockfile")
    make_project(proj)
    write(os.path.join(proj, "slipway.lock"), 'version = 1\n\n[components.plain]\nurl = "x"\ncommit = "abc"\n')
    p = slipway(proj, "check")
    check("error: a bad lock entry is named at its place", p.returncode == 1 and "slipway.lock:" in p.stderr, show(p))


def test_unprivileged():
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        return
    copy = os.path.join(BASE, "nobody")
    shutil.copytree(PROJECT, copy, ignore=shutil.ignore_patterns("out"))
    subprocess.run(["chown", "-R", "65534:65534", copy])
    for d in [BASE, WORK]:
        os.chmod(d, 0o755)
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", SLIPWAY, "-C", copy,
                        "package", "--locked"], capture_output=True, text=True, env=dict(ENV, HOME="/tmp"))
    check("an unprivileged user builds from the lock", p.returncode == 0, show(p))
    names = packages(os.path.join(PROJECT, "out"))
    same = all(os.path.exists(os.path.join(copy, "out", "repo", "Packages", n))
               and read(os.path.join(copy, "out", "repo", "Packages", n)) == read(os.path.join(PROJECT, "out", "repo",
                                                                                          "Packages", n))
               for n in names)
    check("... the same bytes as root", same, names)


setup()
for t in [test_build, test_render_and_diff, test_lock_moves_only_with_update, test_overlay_change_rebuilds_dependents,
          test_errors, test_unprivileged]:
    run_test(t)
SERVER.stop()
if not os.environ.get("KEEP"):
    shutil.rmtree(BASE, ignore_errors=True)
finish("upstream")
