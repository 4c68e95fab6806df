#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`slipway package` in buildroot mode: spec components built by the
buildroot's own rpmbuild in the rootless sandbox, from a buildroot installed
from the distribution's packages (issue 14).

The buildroot repository is this machine's Debian toolchain repackaged as
RPMs by tests/toolchain/make-repo.py (signed; checked on the way in). The
specs are in tests/e2e/buildroot/ (each says what it checks). The results
are read with rpm itself; the same project is built again as nobody in
another directory and must give the same bytes; the example's C components
build in buildroot mode.

Usage: buildroot_test.py SLIPWAY SOURCE_ROOT [TEST...]   (names: only those tests)"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import RecordingServer, check, finish, run_test, show, write

SLIPWAY, ROOT = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
ONLY = sys.argv[3:]
FIXTURES = os.path.join(ROOT, "tests", "e2e", "buildroot")

for needed in ["rpm", "rpm2cpio", "cpio", "strings", "gcc", "setpriv"]:
    if not shutil.which(needed):
        print(f"SKIP: {needed} missing")
        sys.exit(77)
if os.geteuid() != 0:
    # The toolchain repository is made from every file of the host's
    # toolchain packages, and the unprivileged run needs another user.
    print("SKIP: needs root (the toolchain repository; the run as nobody)")
    sys.exit(77)

SDE = 1700000000
NOBODY = 65534
BASE = tempfile.mkdtemp(prefix="slipway-buildroot-test-")
os.chmod(BASE, 0o755)
CANARY = os.path.join(BASE, "host-canary")
BUILDROOT = ["bash", "coreutils", "gcc", "make", "rpm-build", "sed", "grep", "gzip", "tar", "findutils",
             "diffutils", "patch", "glibc-devel", "file", "brtest-rpm-config"]
COMPONENTS = ["hello-br", "needs-zlib", "with-zlib", "netread", "escape", "dynreq", "libfeatures", "twin-a", "twin-b"]


SERVER = RecordingServer()
PORT = SERVER.port


def run(*args, user=None, **kw):
    cmd = list(args)
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", "--"] + cmd
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def toolchain():
    """The buildroot repository (made once) and its key."""
    p = run(os.path.join(ROOT, "tests", "toolchain", "make-repo.py"), SLIPWAY, os.path.join(BASE, "toolchain"))
    if p.returncode != 0:
        raise RuntimeError("make-repo.py failed: " + show(p))
    repo = p.stdout.strip().splitlines()[-1]
    return repo, glob.glob(os.path.join(repo, "RPM-GPG-KEY-*"))[0]


REPO, REPO_KEY = toolchain()
REPOS_TOML = f"""
[repos.toolchain]
url = "file://{REPO}"
gpg-key = "{REPO_KEY}"
"""

MACROS = """%_libdir %{_prefix}/lib64
%_dbpath /usr/lib/sysimage/rpm
%_docdir_fmt %%{NAME}
%brtest_distribution brtest
%brtest_version 2.5
%brtest_zlib zlib-devel
"""


def make_project(d):
    """The test distribution: its macro package and every fixture."""
    os.makedirs(d)
    comps = "".join(f'\n[components.{c}]\nspec = "{c}/{c}.spec"\n' for c in COMPONENTS)
    comps = comps.replace('spec = "netread/netread.spec"\n',
                          f'spec = "netread/netread.spec"\ndefines = {{ netport = "{PORT}" }}\n')
    comps = comps.replace('spec = "escape/escape.spec"\n',
                          f'spec = "escape/escape.spec"\ndefines = {{ hostcanary = "{CANARY}" }}\n')
    write(os.path.join(d, "slipway.toml"), f"""[project]
name = "brtest"
version = "1"
dist = ".brt1"
source-date-epoch = {SDE}

[build]
mode = "buildroot"
buildroot = {json.dumps(BUILDROOT)}
{REPOS_TOML}
[components.brtest-rpm-config]
version = "1"
summary = "The test distribution's rpm macros"
license = "MIT"
arch = "noarch"

[[components.brtest-rpm-config.files]]
source = "macros.brtest"
path = "/usr/lib/rpm/macros.d/macros.brtest"
mode = "0644"
{comps}
[components.missing-source]
spec = "missing-source/missing-source.spec"

[components.missing-br]
spec = "missing-br/missing-br.spec"

[components.distmacro]
spec = "distmacro/distmacro.spec"
""")
    write(os.path.join(d, "macros.brtest"), MACROS)
    for c in COMPONENTS:
        shutil.copytree(os.path.join(FIXTURES, c), os.path.join(d, c))
    lf = os.path.join(d, "libfeatures")
    p = run(os.path.join(lf, "make-tarball.sh"), lf)
    if p.returncode != 0:
        raise RuntimeError("make-tarball.sh failed: " + show(p))
    shutil.rmtree(os.path.join(lf, "libfeat-1.0"))
    small = """Name: %s
Version: 1
Release: 1%%{?dist}
Summary: s
License: MIT
BuildArch: noarch
%s
%%description
d
%%install
mkdir -p %%{buildroot}/usr/share/%s
%%files
/usr/share/%s
"""
    write(os.path.join(d, "missing-source", "missing-source.spec"),
          small % ("missing-source", "Source0: present.txt\nSource1: absent.tar.gz\nPatch0: absent.patch",
                   "missing-source", "missing-source"))
    write(os.path.join(d, "missing-source", "present.txt"), "here\n")
    # Its version and a BuildRequires come from the distribution's macro
    # package: the host's rpmspec cannot read it, the buildroot's can.
    write(os.path.join(d, "distmacro", "distmacro.spec"), """Name: distmacro
Version: %{brtest_version}
Release: 1%{?dist}
Summary: s
License: MIT
BuildArch: noarch
BuildRequires: %{brtest_zlib}
%description
d
%build
test -e /usr/include/zlib.h
%install
mkdir -p %{buildroot}/usr/share/distmacro
%files
/usr/share/distmacro
""")
    write(os.path.join(d, "missing-br", "missing-br.spec"),
          small % ("missing-br", "BuildRequires: no-such-capability >= 3", "missing-br", "missing-br"))


def rpm_q(path, qf):
    return run("rpm", "-qp", "--nosignature", "--qf", qf, path).stdout


def payload_file(path, name):
    """One file of an RPM's payload, as rpm2cpio and cpio read it."""
    p = subprocess.run(f"rpm2cpio '{path}' | cpio -i --quiet --to-stdout '.{name}'", shell=True,
                       capture_output=True)
    return p.stdout


PROJ = os.path.join(BASE, "proj")
make_project(PROJ)
OUT = os.path.join(PROJ, "out")
FIRST = run(SLIPWAY, "-C", PROJ, "-j2", "--json", "package")
try:
    REPORT = json.loads(FIRST.stdout)
except ValueError:
    REPORT = {"components": []}
BY_NAME = {c["name"]: c for c in REPORT.get("components", [])}


def rpms(out=OUT):
    return sorted(os.listdir(os.path.join(out, "repo", "Packages")))


def rpm_path(name, out=OUT):
    found = [f for f in rpms(out) if re.match(re.escape(name) + r"-\d", f)]
    return os.path.join(out, "repo", "Packages", found[0]) if found else ""


def status(name):
    return BY_NAME.get(name, {}).get("status")


def reason(name):
    return BY_NAME.get(name, {}).get("reason") or ""


def log(name, out=OUT):
    path = os.path.join(out, "logs", name + ".log")
    return open(path, errors="replace").read() if os.path.exists(path) else ""


def test_report():
    check("report: exit 1 (some components fail)", FIRST.returncode == 1, show(FIRST))
    for c in ["hello-br", "with-zlib", "escape", "dynreq", "libfeatures", "twin-a", "twin-b", "brtest-rpm-config"]:
        check(f"report: {c} built", status(c) == "built", f"{status(c)}: {reason(c)}\n{log(c)[-2000:]}")
    for c in ["needs-zlib", "netread", "missing-source", "missing-br"]:
        check(f"report: {c} failed", status(c) == "failed", f"{status(c)}")
    check("report: each component's mode", BY_NAME.get("hello-br", {}).get("mode") == "buildroot" and
          BY_NAME.get("brtest-rpm-config", {}).get("mode", "absent") is None, BY_NAME.get("hello-br"))
    check("report: buildroots made and reused are counted",
          REPORT.get("buildroots_made", 0) >= 2 and REPORT.get("buildroots_reused", 0) >= 5,
          {k: v for k, v in REPORT.items() if k.startswith("buildroots")})


def test_hello():
    path = rpm_path("hello-br")
    check("hello: BUILDHOST is the project's name", rpm_q(path, "%{BUILDHOST}") == "brtest", rpm_q(path, "%{BUILDHOST}"))
    binary = payload_file(path, "/usr/bin/hello-br")
    check("hello: the binary is in the package", len(binary) > 1000, len(binary))
    check("hello: the binary names the buildroot's build directory", b"/builddir/build/BUILD" in binary, "")
    for host in [BASE.encode(), b"/tmp/slipway-run", b"x86_64-linux-gnu/12"]:
        check(f"hello: nothing of the host in the binary ({host.decode()})", host not in binary, "")
    srpm = os.path.join(OUT, "srpms", BY_NAME.get("hello-br", {}).get("srpm") or "none")
    check("hello: the source RPM was built in the buildroot first",
          os.path.exists(srpm) and rpm_q(srpm, "%{BUILDHOST}") == "brtest" and "rpmbuild -bs" in log("hello-br")
          and "--rebuild" in log("hello-br"), log("hello-br")[:2000])
    check("hello: the log names the buildroot",
          re.search(r"slipway: buildroot [0-9a-f]{64}: \d+ packages, (made|reused)", log("hello-br")) is not None,
          log("hello-br")[:500])


def test_missing_header():
    check("needs-zlib: the host has the header", os.path.exists("/usr/include/zlib.h"), "")
    r = reason("needs-zlib")
    check("needs-zlib: fails in %build with the compiler's first error",
          "%build" in r and "zlib.h: No such file or directory" in r, r)
    check("needs-zlib: no binary RPM", not rpm_path("needs-zlib"), rpms())
    check("with-zlib: the same with BuildRequires: zlib-devel builds", bool(rpm_path("with-zlib")), rpms())


def test_network():
    check("netread: no connection reached the host's server", SERVER.hits == [], SERVER.hits)
    check("netread: the build saw the network unreachable",
          "network unreachable" in log("netread") and "NETWORK REACHED" not in log("netread"), log("netread")[-1500:])
    check("netread: fails in %build", "%build" in reason("netread"), reason("netread"))


def test_escape():
    path = rpm_path("escape")
    report = payload_file(path, "/usr/share/escape/report.txt").decode()
    for line in ["write /usr/bin: refused", "write /etc: refused", "write hostcanary: refused",
                 "write /builddir: allowed", "write /tmp: allowed", "write /var/tmp: allowed", "HOME: /builddir"]:
        check(f"escape: {line}", line in report, report)
    check("escape: the host's canary was not written", not os.path.exists(CANARY), CANARY)
    roots = [d for d in glob.glob(os.path.join(OUT, "cache", "buildroots", "*")) if os.path.isdir(d)]
    check("escape: no buildroot in the cache was changed",
          roots and not any(os.path.exists(os.path.join(d, "usr/bin/escaped")) or
                            os.path.exists(os.path.join(d, "etc/escaped")) for d in roots), roots)


def test_dynamic():
    check("dynreq: built with the generated BuildRequires",
          bool(rpm_path("dynreq")) and "%generate_buildrequires round 1: " in log("dynreq"), log("dynreq")[-2000:])
    keys = re.findall(r"slipway: buildroot ([0-9a-f]{64})", log("dynreq"))
    check("dynreq: a second buildroot, with zlib-devel, for the next round", len(set(keys)) == 2, keys)
    srpm = os.path.join(OUT, "srpms", BY_NAME.get("dynreq", {}).get("srpm") or "none")
    check("dynreq: the source RPM requires rpmlib(DynamicBuildRequires)",
          "rpmlib(DynamicBuildRequires)" in rpm_q(srpm, "[%{REQUIRENAME}\n]"), rpm_q(srpm, "[%{REQUIRENAME}\n]"))


def test_libfeatures():
    main, devel = rpm_path("libfeatures"), rpm_path("libfeatures-devel")
    check("libfeatures: a subpackage", bool(main) and bool(devel), rpms())
    files = rpm_q(main, "[%{FILENAMES}\n]").split()
    check("libfeatures: the library in the distribution's %_libdir",
          "/usr/lib64/libfeat.so.1" in files and "/usr/lib64/libfeat.so.1.0" in files, files)
    check("libfeatures: the distribution's macro package was read (Fedora's %_docdir_fmt)",
          any(f.startswith("/usr/share/doc/libfeatures/") for f in files), files)
    check("libfeatures: %autosetup -p1 applied the patch and %check ran",
          "Executing(%check)" in log("libfeatures") and "libfeat-fix.patch" in log("libfeatures"),
          log("libfeatures")[-2000:])
    dfiles = rpm_q(devel, "[%{FILENAMES}\n]").split()
    check("libfeatures-devel: the header and the .so link", "/usr/include/feat.h" in dfiles, dfiles)


def test_distribution_macros():
    check("distmacro: the host's rpmspec cannot read it",
          run("rpmspec", "-q", os.path.join(PROJ, "distmacro", "distmacro.spec")).returncode != 0, "")
    check("distmacro: queried in the buildroot: version and BuildRequires from the distribution's macros",
          status("distmacro") == "built" and os.path.basename(rpm_path("distmacro")) == "distmacro-2.5-1.brt1.noarch.rpm",
          (status("distmacro"), reason("distmacro"), rpms()))


def twin_project(name, buildroot, components=""):
    """A project of twin-a alone, with this base set and components."""
    d = os.path.join(BASE, name)
    os.makedirs(d)
    shutil.copytree(os.path.join(FIXTURES, "twin-a"), os.path.join(d, "twin-a"))
    write(os.path.join(d, "slipway.toml"), f"""[project]
name = "{name}"
version = "1"
source-date-epoch = {SDE}

[build]
mode = "buildroot"
buildroot = {json.dumps(buildroot)}
{REPOS_TOML}{components}
[components.twin-a]
spec = "twin-a/twin-a.spec"
""")
    return d


def test_base_set_unresolvable():
    """A base set nothing provides yet: the specs are queried on the host
    (a warning says why), and each component fails alone, naming it."""
    d = twin_project("unresolvable", ["bash", "no-such-rpm-config"])
    p = run(SLIPWAY, "-C", d, "package")
    check("base set unresolvable: a warning, the host's rpmspec",
          "queried with the host's rpmspec" in p.stderr and "no-such-rpm-config" in p.stderr, p.stderr)
    check("base set unresolvable: the component fails, naming it",
          p.returncode == 1 and re.search(r"FAILED\s+twin-a\s.*'no-such-rpm-config' \(in \[build\] buildroot\)",
                                          p.stderr) is not None, p.stderr)


def test_resolved_before_build():
    """A buildroot that cannot be resolved (a base-set package requires what
    nothing provides) fails each component before any build, in libsolv's
    words, with the chain."""
    d = twin_project("broken-base", BUILDROOT[:-1] + ["broken-config"], """
[components.broken-config]
version = "1"
summary = "A macro package that needs what nothing provides"
license = "MIT"
arch = "noarch"
requires = ["nothing-provides-this >= 2"]
""")
    p = run(SLIPWAY, "-C", d, "package")
    check("unresolvable buildroot: the component fails before any build, naming the chain",
          p.returncode == 1 and re.search(r"FAILED\s+twin-a\s.*nothing provides 'nothing-provides-this >= 2' needed by "
                                          r"broken-config", p.stderr) is not None, p.stderr)
    check("unresolvable buildroot: rpmbuild never ran", not os.path.exists(os.path.join(d, "out", "logs", "twin-a.log")),
          "")


def test_twins():
    logs = log("twin-a") + log("twin-b")
    check("twins: one buildroot for both, the second reused from the cache",
          logs.count("reused from the cache") >= 1 and
          len(set(re.findall(r"slipway: buildroot ([0-9a-f]{64})", logs))) == 1, logs[:3000])


def test_checks_before_build():
    r = reason("missing-source")
    check("missing source: every absent Source and Patch named",
          "absent.tar.gz" in r and "absent.patch" in r and "present.txt" not in r, r)
    r = reason("missing-br")
    check("missing BuildRequires: named, with where it was looked for",
          "no-such-capability >= 3" in r and "[repos]" in r, r)
    check("checks: rpmbuild never ran for them (no log)",
          not log("missing-source") and not log("missing-br"), "")


def test_cached():
    p = run(SLIPWAY, "-C", PROJ, "-j2", "--json", "package")
    rep = json.loads(p.stdout) if p.stdout.startswith("{") else {}
    built = [c["name"] for c in rep.get("components", []) if c["status"] == "built"]
    check("again: nothing rebuilt (the buildroot's packages are part of the key)", built == [], built)
    # A change to one source: rebuilt in its cached buildroot, quickly.
    with open(os.path.join(PROJ, "twin-a", "twin.txt"), "a") as f:
        f.write("changed\n")
    p = run(SLIPWAY, "-C", PROJ, "--json", "package", "twin-a")
    rep = json.loads(p.stdout) if p.stdout.startswith("{") else {}
    built = [c["name"] for c in rep.get("components", []) if c["status"] == "built"]
    check("again: a changed component rebuilds in the cached buildroot",
          built == ["twin-a"] and rep.get("buildroots_made") == 0 and "reused from the cache" in log("twin-a"),
          show(p))


def test_prune():
    """Buildroots no build used for 14 days go, with the files only they had."""
    broots = os.path.join(OUT, "cache", "buildroots")
    keys = sorted(e for e in os.listdir(broots) if re.fullmatch(r"[0-9a-f]{64}", e))
    old = 1000000000  # 2001
    for k in keys:
        os.utime(os.path.join(broots, k + ".lock"), (old, old))
    orphan = os.path.join(broots, "objects", "00", "00" * 32 + ".644.0")
    write(orphan, "no buildroot links to this\n")
    with open(os.path.join(PROJ, "twin-a", "twin.txt"), "a") as f:
        f.write("changed again\n")
    p = run(SLIPWAY, "-C", PROJ, "--json", "package", "twin-a")
    rep = json.loads(p.stdout) if p.stdout.startswith("{") else {}
    used = re.findall(r"slipway: buildroot ([0-9a-f]{64})", log("twin-a"))
    left = sorted(e for e in os.listdir(broots) if re.fullmatch(r"[0-9a-f]{64}", e))
    check("prune: the buildroot used now stays, the old ones go",
          p.returncode == 0 and used and left == sorted(set(used)) and len(keys) > len(left), (keys, left, used))
    check("prune: counted", rep.get("buildroots_pruned") == len(keys) - len(left), rep.get("buildroots_pruned"))
    check("prune: objects no buildroot links to are removed", not os.path.exists(orphan), orphan)
    rpmbuild = os.path.join(broots, left[0], "usr/bin/rpmbuild") if left else ""
    check("prune: the files of the one kept are intact", rpmbuild and os.path.exists(rpmbuild) and
          os.stat(rpmbuild).st_nlink >= 2, rpmbuild)


def test_nobody_elsewhere():
    """The same project as nobody, in another directory: the same bytes."""
    other = os.path.join(BASE, "elsewhere", "deeper", "copy")
    make_project(other)
    subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", os.path.join(BASE, "elsewhere")], check=True)
    p = run(SLIPWAY, "-C", other, "-j2", "--json", "package", user=NOBODY)
    check("nobody: exit 1 for the same failures", p.returncode == 1, show(p))
    oout = os.path.join(other, "out")
    for f in rpms():
        if f.startswith("twin-a"):
            continue  # changed by test_cached
        a, b = os.path.join(OUT, "repo", "Packages", f), os.path.join(oout, "repo", "Packages", f)
        same = os.path.exists(b) and open(a, "rb").read() == open(b, "rb").read()
        check(f"nobody elsewhere: {f} byte-identical", same, "")
    for f in sorted(os.listdir(os.path.join(OUT, "srpms"))):
        if f.startswith("twin-a"):
            continue
        a, b = os.path.join(OUT, "srpms", f), os.path.join(oout, "srpms", f)
        check(f"nobody elsewhere: {f} byte-identical",
              os.path.exists(b) and open(a, "rb").read() == open(b, "rb").read(), "")


def test_interrupt():
    """SIGTERM or SIGKILL while a buildroot is being made: never a half-made
    buildroot at its final path; what a killed run left, the next removes."""
    import signal
    import time
    d = os.path.join(BASE, "interrupted")
    make_project(d)
    broots = os.path.join(d, "out", "cache", "buildroots")
    for sig, delay, code in [(signal.SIGTERM, 0.8, 143), (signal.SIGKILL, 1.2, 137)]:
        shutil.rmtree(broots, ignore_errors=True)
        proc = subprocess.Popen([SLIPWAY, "-C", d, "package", "hello-br"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(sig)
        rc = proc.wait()
        check(f"interrupt {sig.name}: exit {code}", rc in (code, -sig), rc)
        entries = os.listdir(broots) if os.path.isdir(broots) else []
        whole = [e for e in entries if re.fullmatch(r"[0-9a-f]{64}", e)]
        check(f"interrupt {sig.name}: no half-made buildroot at a final path",
              all(os.path.exists(os.path.join(broots, e, "usr/bin/rpmbuild")) for e in whole), entries)
        if sig == signal.SIGTERM:
            check("interrupt SIGTERM: its temporaries removed", not any(".tmp." in e for e in entries), entries)
    p = run(SLIPWAY, "-C", d, "package", "hello-br")
    entries = os.listdir(broots)
    check("interrupt: the next run builds and removes what the killed one left",
          p.returncode == 0 and not any(".tmp." in e for e in entries), (show(p), entries))


def test_example():
    """The example's C components (hello, slipway-init) in buildroot mode."""
    ex = os.path.join(BASE, "example")
    shutil.copytree(os.path.join(ROOT, "examples", "minimal"), ex, ignore=shutil.ignore_patterns("out"))
    toml = open(os.path.join(ex, "slipway.toml")).read()
    base = [b for b in BUILDROOT if b != "brtest-rpm-config"] + ["azl-mini-rpm-config"]
    toml = toml.replace("[build]\n", f"[build]\nmode = \"buildroot\"\nbuildroot = {json.dumps(base)}\n", 1)
    toml += REPOS_TOML
    write(os.path.join(ex, "slipway.toml"), toml)
    p = run(SLIPWAY, "-C", ex, "--json", "package", "hello", "slipway-init")
    out = os.path.join(ex, "out")
    check("example: hello and slipway-init build in buildroot mode", p.returncode == 0, show(p))
    for name, binary in [("hello", "/usr/bin/hello"), ("slipway-init", "/usr/lib/slipway/init")]:
        path = rpm_path(name, out)
        check(f"example: {name} built in a buildroot", "slipway: buildroot " in log(name, out), log(name, out)[:500])
        check(f"example: {name}'s BUILDHOST", rpm_q(path, "%{BUILDHOST}") == "azl-mini", rpm_q(path, "%{BUILDHOST}"))
        data = payload_file(path, binary)
        check(f"example: {name}'s binary has nothing of the host", len(data) > 1000 and BASE.encode() not in data,
              len(data))


TESTS = [test_report, test_hello, test_missing_header, test_network, test_escape, test_dynamic, test_libfeatures,
         test_distribution_macros, test_base_set_unresolvable, test_resolved_before_build, test_twins, test_checks_before_build, test_cached, test_prune, test_nobody_elsewhere, test_interrupt, test_example]
for t in TESTS:
    if not ONLY or t.__name__.removeprefix("test_") in ONLY or t.__name__ in ONLY:
        run_test(t)
SERVER.stop()
shutil.rmtree(BASE, ignore_errors=True)
finish("buildroot")
