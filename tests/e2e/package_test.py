#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`slipway package`: RPMs from spec and native components, checked with the
real tools (rpm, rpmkeys, createrepo_c, dnf): headers, payload listings,
native/rpmbuild equivalence, installs, build order, cycles, missing
BuildRequires, failures, the cache, reproducibility and bad native inputs.

Every project is generated here, in temporary directories.
Usage: package_test.py SLIPWAY SOURCE_ROOT [TEST...]   (names: only those tests)"""
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import check, finish, run_test, show, write

SLIPWAY, ROOT = os.path.abspath(sys.argv[1]), sys.argv[2]

NEEDED = ["rpm", "rpmbuild", "rpmspec", "rpmkeys", "createrepo_c", "dnf", "gcc"]
for needed in NEEDED:
    if not shutil.which(needed):
        print(f"SKIP: {needed} missing")
        sys.exit(77)

SDE = 1700000000
BASE = tempfile.mkdtemp(prefix="slipway-package-test-")
TMPDIR = os.path.join(BASE, "tmp")  # rpmbuild scratch directories are made in $TMPDIR
os.makedirs(TMPDIR)


def slipway(*args, timeout=120):
    e = dict(os.environ, LC_ALL="C", TMPDIR=TMPDIR)
    e.pop("SOURCE_DATE_EPOCH", None)
    return subprocess.run([SLIPWAY, *args], capture_output=True, text=True, env=e, timeout=timeout)


def tool(*args, check_rc=False, **kw):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=120, **kw)
    if check_rc and p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {p.returncode}: {p.stderr[-1000:]}")
    return p


def make_project(files):
    """A new project directory holding files (relative path -> text)."""
    d = tempfile.mkdtemp(dir=BASE, prefix="proj-")
    for rel, text in files.items():
        write(os.path.join(d, rel), text)
    return d


def packages(out):
    d = os.path.join(out, "repo", "Packages")
    return sorted(f for f in os.listdir(d) if f.endswith(".rpm")) if os.path.isdir(d) else []


def rpm_path(out, name):
    return os.path.join(out, "repo", "Packages", name)


def snapshot(out):
    """name -> (mtime_ns, bytes) of every binary RPM."""
    r = {}
    for f in packages(out):
        p = rpm_path(out, f)
        with open(p, "rb") as fh:
            r[f] = (os.stat(p).st_mtime_ns, fh.read())
    return r


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def qp(path, *args):
    return tool("rpm", "-qp", *args, path, check_rc=True).stdout


def lines(path, *args):
    return sorted(l for l in qp(path, *args).splitlines() if l)


def dump(path):
    """rpm --dump as {path: [size, mtime, digest, mode, owner, group, isconfig, isdoc, rdev, symlink]}."""
    r = {}
    for l in qp(path, "--dump").splitlines():
        f = l.split(" ")
        r[f[0]] = f[1:]
    return r


def statuses(report):
    return {c["name"]: c["status"] for c in report["components"]}


def package_json(*args):
    p = slipway("--json", *args, "package")
    try:
        return p, json.loads(p.stdout)
    except ValueError:
        return p, None


def spec(name, version="1.0", release="1", extra="", build="", install="", files="", arch="noarch"):
    """A small spec packaging SOURCE0 ({name}.txt) in /usr/share/NAME/."""
    t = f"""Name: {name}
Version: {version}
Release: {release}
Summary: Test package {name}
License: MIT
{"BuildArch: " + arch if arch else ""}
Source0: {name}.txt
{extra}

%description
Test package {name}.

%prep

%build
echo "STARTED $(date +%%s.%%N)"
{build}

%install
install -D -m 0644 %{{SOURCE0}} %{{buildroot}}/usr/share/{name}/{name}.txt
{install}

%files
/usr/share/{name}/{name}.txt
{files}
"""
    return t


def started(log):
    m = re.search(r"^STARTED (\d+\.\d+)$", open(log).read(), re.M)
    return float(m.group(1)) if m else None


def progress_order(stdout):
    return [l.split()[1] for l in stdout.splitlines() if l.startswith("built ")]


# ---------------------------------------------------------------------------
# The main project: a full-featured native component, two minimal natives that
# satisfy its requires, and a compiled spec component.

MAIN_TOML = f"""[project]
name = "pkgmain"
version = "1"
vendor = "Test Vendor"
dist = ".t1"
source-date-epoch = {SDE}

[build]
host-provides = ["gcc"]

[components.motd]
version = "2.0"
release = "3"
epoch = 1
summary = "Message of the day"
license = "MIT"
arch = "noarch"
requires = ["filesystem", "bash >= 5.0"]
provides = ["motd-data = 2.0"]
conflicts = ["oldmotd < 1.0"]
obsoletes = ["motd-legacy <= 1.5"]

[[components.motd.files]]
source = "files/motd"
path = "/etc/motd"
mode = "0644"
config = true

[[components.motd.files]]
source = "files/data"
path = "/usr/share/motd"

[[components.motd.files]]
source = "files/state"
path = "/var/lib/motd/state"
mode = "0640"
user = "games"
group = "man"

[components.filesystem]
version = "3.18"
summary = "Minimal filesystem package for the dnf test"
license = "MIT"
arch = "noarch"

[components.bash]
version = "5.2.15"
summary = "Minimal bash package for the dnf test"
license = "GPL-3.0-or-later"

[components.tools]
spec = "components/tools/tools.spec"
"""

TOOLS_SPEC = r"""Name: tools
Version: 1.2
Release: 1%{?dist}
Summary: Small tools
License: MIT
Source0: hello.c
Source1: tools.conf
BuildRequires: gcc
AutoReq: no
Provides: libtools = 1.2

%description
Small tools.

%prep
cp %{SOURCE0} %{SOURCE1} .

%build
gcc -O2 -o tools-hello hello.c

%install
install -D -m 0755 tools-hello %{buildroot}/usr/bin/tools-hello
install -D -m 0644 tools.conf %{buildroot}/etc/tools.conf
%files
%attr(0755,root,root) /usr/bin/tools-hello
%config(noreplace) /etc/tools.conf
"""


def data_tree(d):
    """files/data: a.txt, sub/b.txt, link -> a.txt."""
    write(os.path.join(d, "a.txt"), "alpha\n", 0o644)
    write(os.path.join(d, "sub", "b.txt"), "beta\n", 0o644)
    os.symlink("a.txt", os.path.join(d, "link"))
    os.chmod(os.path.join(d, "sub"), 0o755)
    os.chmod(d, 0o755)


def make_main():
    d = make_project({
        "slipway.toml": MAIN_TOML,
        "files/motd": "Welcome to the test distribution\n",
        "files/state": "state 1\n",
        "components/tools/tools.spec": TOOLS_SPEC,
        "components/tools/hello.c": '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n',
        "components/tools/tools.conf": "verbose = 0\n",
    })
    data_tree(os.path.join(d, "files", "data"))
    return d


MAIN = make_main()
MAIN_OUT = os.path.join(BASE, "main-out-a")
MAIN_OUT_B = os.path.join(BASE, "main-out-b")
ARCH = json.loads(slipway("-C", MAIN, "check", "--json").stdout)["project"]["arch"]
ISA = {"x86_64": "x86-64", "aarch64": "aarch-64", "ppc64le": "ppc-64", "s390x": "s390-64",
       "riscv64": "riscv-64", "i686": "x86-32"}[ARCH]


def test_headers_and_payloads():
    p, j = package_json("-C", MAIN, "--out", MAIN_OUT)
    if not check("main: package exit 0", p.returncode == 0 and j is not None, show(p)):
        return
    st = statuses(j)
    check("main: all built", st == {"motd": "built", "filesystem": "built", "bash": "built", "tools": "built"}, st)
    check("main: rpmbuild ran once", j["rpmbuild_runs"] == 1, j["rpmbuild_runs"])
    tools = next(c for c in j["components"] if c["name"] == "tools")
    check("main: spec srpm", tools["srpm"] == "tools-1.2-1.t1.src.rpm" and
          os.path.isfile(os.path.join(MAIN_OUT, "srpms", tools["srpm"])), tools)
    for c in j["components"]:
        check(f"main: log of {c['name']}", c["log"] == os.path.join(MAIN_OUT, "logs", c["name"] + ".log") and
              os.path.isfile(c["log"]), c["log"])
    want = sorted(["motd-2.0-3.noarch.rpm", "filesystem-3.18-1.noarch.rpm", f"bash-5.2.15-1.{ARCH}.rpm",
                   f"tools-1.2-1.t1.{ARCH}.rpm"])
    check("main: rpm files", packages(MAIN_OUT) == want, packages(MAIN_OUT))
    for f in packages(MAIN_OUT):
        k = tool("rpmkeys", "-K", "--nosignature", rpm_path(MAIN_OUT, f))
        check(f"rpmkeys -K {f}", k.returncode == 0 and "digests OK" in k.stdout, show(k))

    # Native: NEVRA, dependencies with versions and flags.
    motd = rpm_path(MAIN_OUT, "motd-2.0-3.noarch.rpm")
    nevra = qp(motd, "--qf", "%{NAME}|%{EPOCH}|%{VERSION}|%{RELEASE}|%{ARCH}|%{NEVRA}|%{SUMMARY}|%{LICENSE}|%{VENDOR}|%{BUILDTIME}")
    check("native: NEVRA and tags", nevra == f"motd|1|2.0|3|noarch|motd-1:2.0-3.noarch|Message of the day|MIT|Test Vendor|{SDE}",
          nevra)
    req = [l for l in lines(motd, "--requires") if not l.startswith("rpmlib(")]
    check("native: requires", req == ["bash >= 5.0", "config(motd) = 1:2.0-3", "filesystem"], req)
    flags = qp(motd, "--qf", "[%{REQUIRENAME}:%{REQUIREFLAGS}\n]")
    check("native: requires flags", "bash:12\n" in flags and "filesystem:0\n" in flags, flags)
    check("native: rpmlib requires", {"rpmlib(CompressedFileNames) <= 3.0.4-1", "rpmlib(FileDigests) <= 4.6.0-1",
                                      "rpmlib(PayloadFilesHavePrefix) <= 4.0-1"} <= set(lines(motd, "--requires")),
          lines(motd, "--requires"))
    prov = lines(motd, "--provides")
    check("native: provides", prov == ["config(motd) = 1:2.0-3", "motd = 1:2.0-3", "motd-data = 2.0"], prov)
    check("native: conflicts", lines(motd, "--conflicts") == ["oldmotd < 1.0"], lines(motd, "--conflicts"))
    check("native: obsoletes", lines(motd, "--obsoletes") == ["motd-legacy <= 1.5"], lines(motd, "--obsoletes"))
    bash = rpm_path(MAIN_OUT, f"bash-5.2.15-1.{ARCH}.rpm")
    prov = lines(bash, "--provides")
    check("native: arch package provides its ISA", prov == sorted(["bash = 5.2.15-1", f"bash({ISA}) = 5.2.15-1"]), prov)
    check("native: no files", qp(bash, "--qf", "[%{FILENAMES}\n]") == "", qp(bash, "--dump"))

    # Native: the payload listing.
    dm = dump(motd)
    src = os.path.join(MAIN, "files")
    S = str(SDE)
    want = {
        "/etc/motd": [str(os.path.getsize(f"{src}/motd")), S, sha256(f"{src}/motd"), "0100644", "root", "root",
                      "1", "0", "0", "X"],
        "/usr/share/motd": ["0", S, "0" * 64, "040755", "root", "root", "0", "0", "0", "X"],
        "/usr/share/motd/a.txt": ["6", S, sha256(f"{src}/data/a.txt"), "0100644", "root", "root", "0", "0", "0", "X"],
        "/usr/share/motd/link": ["5", S, "0" * 64, "0120777", "root", "root", "0", "0", "0", "a.txt"],
        "/usr/share/motd/sub": ["0", S, "0" * 64, "040755", "root", "root", "0", "0", "0", "X"],
        "/usr/share/motd/sub/b.txt": ["5", S, sha256(f"{src}/data/sub/b.txt"), "0100644", "root", "root", "0", "0",
                                      "0", "X"],
        "/var/lib/motd/state": ["8", S, sha256(f"{src}/state"), "0100640", "games", "man", "0", "0", "0", "X"],
    }
    check("native: --dump", dm == want, "\n".join(f"{k}: {dm.get(k)} (want {want.get(k)})"
                                                  for k in sorted(set(dm) | set(want)) if dm.get(k) != want.get(k)))
    ff = qp(motd, "--qf", "[%{FILENAMES} %{FILEFLAGS:fflags}\n]")
    check("native: %config(noreplace) flag", "/etc/motd cn\n" in ff and "/usr/share/motd/a.txt \n" in ff, ff)

    # Spec: NEVRA with %dist, provides, config, payload.
    t = rpm_path(MAIN_OUT, f"tools-1.2-1.t1.{ARCH}.rpm")
    nevra = qp(t, "--qf", "%{NEVRA}|%{EPOCH}|%{BUILDTIME}|%{BUILDHOST}|%{VENDOR}|%{PAYLOADCOMPRESSOR}")
    check("spec: NEVRA and tags", nevra == f"tools-1.2-1.t1.{ARCH}|(none)|{SDE}|pkgmain|Test Vendor|zstd", nevra)
    prov = lines(t, "--provides")
    check("spec: provides", prov == sorted(["config(tools) = 1.2-1.t1", "libtools = 1.2", "tools = 1.2-1.t1",
                                            f"tools({ISA}) = 1.2-1.t1"]), prov)
    req = [l for l in lines(t, "--requires") if not l.startswith("rpmlib(")]
    # AutoReq: no (so dnf needs no libc) also drops rpmbuild's config(tools) requires.
    check("spec: requires", req == [], req)
    dt = dump(t)
    conf = dt.get("/etc/tools.conf", [])
    check("spec: --dump config file", conf[:1] + conf[2:] == ["12", sha256(f"{MAIN}/components/tools/tools.conf"),
                                                              "0100644", "root", "root", "1", "0", "0", "X"]
          and conf[1] == S, conf)
    binf = dt.get("/usr/bin/tools-hello", [])
    check("spec: --dump binary", binf[3:6] == ["0100755", "root", "root"] and binf[1] == S, binf)
    ff = qp(t, "--qf", "[%{FILENAMES} %{FILEFLAGS:fflags}\n]")
    check("spec: %config(noreplace) flag", "/etc/tools.conf cn\n" in ff, ff)


def test_reproducible():
    if not packages(MAIN_OUT):
        check("reproducible: first build exists", False, "no RPMs in " + MAIN_OUT)
        return
    p = slipway("-C", MAIN, "--out", MAIN_OUT_B, "package")
    if not check("reproducible: second build exit 0", p.returncode == 0, show(p)):
        return
    a, b = snapshot(MAIN_OUT), snapshot(MAIN_OUT_B)
    check("reproducible: same RPM names", sorted(a) == sorted(b), f"{sorted(a)} vs {sorted(b)}")
    for f in sorted(set(a) & set(b)):
        check(f"reproducible: {f} byte-identical", a[f][1] == b[f][1],
              f"{len(a[f][1])} vs {len(b[f][1])} bytes")
    sa, sb = (os.path.join(o, "srpms", "tools-1.2-1.t1.src.rpm") for o in (MAIN_OUT, MAIN_OUT_B))
    check("reproducible: source RPM byte-identical", os.path.isfile(sa) and os.path.isfile(sb) and
          open(sa, "rb").read() == open(sb, "rb").read(), "")


def find_dbpath(root):
    for d, _, fs in os.walk(root):
        if "rpmdb.sqlite" in fs or ("Packages" in fs and "Basenames" in fs):
            return "/" + os.path.relpath(d, root)
    return None


def test_dnf_install():
    if os.geteuid() != 0:
        print("skip dnf install: an --installroot install needs root")
        return
    if not packages(MAIN_OUT):
        check("dnf: packages exist", False, "no RPMs in " + MAIN_OUT)
        return
    repo = os.path.join(MAIN_OUT, "repo")
    c = tool("createrepo_c", "-q", repo)
    if not check("dnf: createrepo_c", c.returncode == 0, show(c)):
        return
    root = os.path.join(BASE, "installroot")
    # Users and groups the packages name, so files get their owners.
    write(f"{root}/etc/passwd", "root:x:0:0:root:/root:/bin/sh\ngames:x:5:60:games:/usr/games:/bin/sh\n")
    write(f"{root}/etc/group", "root:x:0:\ngames:x:60:\nman:x:12:\n")
    conf = os.path.join(BASE, "dnf.conf")
    write(conf, "[main]\ngpgcheck=0\ninstall_weak_deps=0\nreposdir=/nonexistent\n")
    try:
        p = tool("dnf", "-y", f"--installroot={root}", f"--config={conf}", "--releasever=1",
                 f"--repofrompath=r,file://{repo}", "--repo=r", "--setopt=r.gpgcheck=0", "--nogpgcheck",
                 "install", "motd", "tools")
        if not check("dnf: install motd tools", p.returncode == 0, show(p)):
            return
        db = find_dbpath(root)
        if not check("dnf: rpm database in the root", db is not None, str(db)):
            return
        q = tool("rpm", "--root", root, "--dbpath", db, "-qa", "--qf", "%{NEVRA}\n")
        installed = sorted(q.stdout.split())
        want = sorted(["motd-1:2.0-3.noarch", "filesystem-3.18-1.noarch", f"bash-5.2.15-1.{ARCH}",
                       f"tools-1.2-1.t1.{ARCH}"])
        check("dnf: installed set (requires resolved)", installed == want, show(q))
        for n in ["motd", "filesystem", "bash", "tools"]:
            v = tool("rpm", "--root", root, "--dbpath", db, "-V", n)
            check(f"dnf: rpm -V {n}", v.returncode == 0 and v.stdout == "" and v.stderr == "", show(v))
        s = os.lstat(f"{root}/var/lib/motd/state")
        check("dnf: owner games:man", (s.st_uid, s.st_gid, stat.S_IMODE(s.st_mode)) == (5, 12, 0o640),
              (s.st_uid, s.st_gid, oct(s.st_mode)))
        check("dnf: symlink", os.readlink(f"{root}/usr/share/motd/link") == "a.txt", "")
        with open(f"{root}/etc/motd") as f:
            check("dnf: /etc/motd content", f.read() == "Welcome to the test distribution\n", "")
    finally:
        cache = os.path.join(root, "var", "cache", "dnf")
        for d, dirs, _ in os.walk(cache):
            if os.path.basename(d) == "pubring":
                tool("gpgconf", "--homedir", d, "--kill", "gpg-agent")


# ---------------------------------------------------------------------------
# The same package from the native writer and from rpmbuild.

CMP_NATIVE = f"""[project]
name = "pkgcmp"
version = "1"
source-date-epoch = {SDE}

[components.motd]
version = "2.0"
release = "3"
summary = "Message of the day"
license = "MIT"
arch = "noarch"

[[components.motd.files]]
source = "files/motd"
path = "/etc/motd"
mode = "0644"
config = true

[[components.motd.files]]
source = "files/data"
path = "/usr/share/motd"

[[components.motd.files]]
source = "files/state"
path = "/var/lib/motd/state"
mode = "0640"
user = "games"
group = "man"
"""

CMP_SPEC_TOML = f"""[project]
name = "pkgcmp"
version = "1"
source-date-epoch = {SDE}

[components.motd]
spec = "motd/motd.spec"
"""

CMP_SPEC = r"""Name: motd
Version: 2.0
Release: 3
Summary: Message of the day
License: MIT
BuildArch: noarch

%description
Message of the day

%install
install -D -m 0644 %{_sourcedir}/motd %{buildroot}/etc/motd
mkdir -p %{buildroot}/usr/share
cp -a %{_sourcedir}/data %{buildroot}/usr/share/motd
install -D -m 0640 %{_sourcedir}/state %{buildroot}/var/lib/motd/state

%files
%config(noreplace) %attr(0644,root,root) /etc/motd
/usr/share/motd
%attr(0640,games,man) /var/lib/motd/state
"""


def test_native_equals_rpmbuild():
    nat = make_project({"slipway.toml": CMP_NATIVE, "files/motd": "Hello\n", "files/state": "st\n"})
    data_tree(os.path.join(nat, "files", "data"))
    spc = make_project({"slipway.toml": CMP_SPEC_TOML, "motd/motd.spec": CMP_SPEC, "motd/motd": "Hello\n",
                        "motd/state": "st\n"})
    data_tree(os.path.join(spc, "motd", "data"))
    p1 = slipway("-C", nat, "package")
    p2 = slipway("-C", spc, "package")
    if not (check("compare: native build", p1.returncode == 0, show(p1)) &
            check("compare: spec build", p2.returncode == 0, show(p2))):
        return
    a = rpm_path(os.path.join(nat, "out"), "motd-2.0-3.noarch.rpm")
    b = rpm_path(os.path.join(spc, "out"), "motd-2.0-3.noarch.rpm")
    da, db = qp(a, "--dump"), qp(b, "--dump")
    check("compare: --dump identical", da == db, f"native:\n{da}rpmbuild:\n{db}")
    for q in ["--requires", "--provides", "--conflicts", "--obsoletes"]:
        la, lb = lines(a, q), lines(b, q)
        check(f"compare: {q} identical", la == lb, f"native {la} rpmbuild {lb}")
    qf = "%{NEVRA}|%{SUMMARY}|%{LICENSE}|%{SIZE}|%{BUILDTIME}|%{BUILDHOST}|%{PAYLOADFORMAT}|%{PAYLOADCOMPRESSOR}|%{FILEDIGESTALGO}"
    ta, tb = qp(a, "--qf", qf), qp(b, "--qf", qf)
    check("compare: main tags identical", ta == tb, f"native {ta}\nrpmbuild {tb}")
    fa = qp(a, "--qf", "[%{FILENAMES} %{FILEFLAGS:fflags} %{FILEVERIFYFLAGS}\n]")
    fb = qp(b, "--qf", "[%{FILENAMES} %{FILEFLAGS:fflags} %{FILEVERIFYFLAGS}\n]")
    check("compare: file flags identical", fa == fb, f"native:\n{fa}rpmbuild:\n{fb}")


# File triggers: the native writer's tags against rpmbuild's, for every kind,
# glibc's "-p /sbin/ldconfig" without a body, systemd's sysusers.d and
# tmpfiles.d triggers, a Lua one, one path in two triggers of a kind (their
# index order), priorities, and a %post beside them (Requires(post) and the
# triggers' plain Requires(interp) of /bin/sh are two entries).

TRIG_NATIVE = f"""[project]
name = "pkgtrig"
version = "1"
source-date-epoch = {SDE}

[components.trig]
version = "1.0"
summary = "File triggers"
license = "MIT"
arch = "noarch"

[[components.trig.files]]
source = "files/a"
path = "/usr/share/trig/a"

[components.trig.scripts]
post = "echo post"

[[components.trig.file-triggers]]
when = "transfiletriggerin"
priority = 2000000
program = "/sbin/ldconfig"
paths = ["/lib", "/usr/lib", "/lib64", "/usr/lib64"]

[[components.trig.file-triggers]]
when = "transfiletriggerin"
priority = 900900
paths = ["/usr/lib/sysusers.d/"]
body = "systemd-sysusers || :"

[[components.trig.file-triggers]]
when = "transfiletriggerin"
priority = 900895
paths = ["/usr/lib/tmpfiles.d/"]
body = "systemd-tmpfiles --create || :"

[[components.trig.file-triggers]]
when = "filetriggerin"
paths = ["/usr/share/fonts", "/usr/lib"]
body = "fc-cache -s\\nexit 0"

[[components.trig.file-triggers]]
when = "filetriggerin"
priority = 5
paths = ["/usr/lib"]
body = "echo second"

[[components.trig.file-triggers]]
when = "filetriggerun"
program = "<lua>"
paths = ["/usr/share/fonts"]
body = "print('un')"

[[components.trig.file-triggers]]
when = "filetriggerpostun"
priority = 0
program = "/usr/bin/true"
paths = ["/opt/x"]

[[components.trig.file-triggers]]
when = "transfiletriggerun"
paths = ["/usr/lib/sysusers.d/"]
body = "echo un"

[[components.trig.file-triggers]]
when = "transfiletriggerpostun"
priority = 2147483647
paths = ["/usr/share/icons/", "/usr/lib"]
body = "echo postun $1"
"""

TRIG_SPEC = r"""Name: trig
Version: 1.0
Release: 1
Summary: File triggers
License: MIT
BuildArch: noarch

%description
File triggers

%install
install -D -m 0644 %{_sourcedir}/a %{buildroot}/usr/share/trig/a

%post
echo post

%transfiletriggerin -P 2000000 -p /sbin/ldconfig -- /lib /usr/lib /lib64 /usr/lib64

%transfiletriggerin -P 900900 -- /usr/lib/sysusers.d/
systemd-sysusers || :

%transfiletriggerin -P 900895 -- /usr/lib/tmpfiles.d/
systemd-tmpfiles --create || :

%filetriggerin -- /usr/share/fonts /usr/lib
fc-cache -s
exit 0

%filetriggerin -P 5 -- /usr/lib
echo second

%filetriggerun -p <lua> -- /usr/share/fonts
print('un')

%filetriggerpostun -P 0 -p /usr/bin/true -- /opt/x

%transfiletriggerun -- /usr/lib/sysusers.d/
echo un

%transfiletriggerpostun -P 2147483647 -- /usr/share/icons/ /usr/lib
echo postun $1

%files
/usr/share/trig/a
"""

TRIG_QF = ("[fn %{FILETRIGGERNAME} %{FILETRIGGERVERSION} %{FILETRIGGERFLAGS} %{FILETRIGGERINDEX}\n]"
           "[fs %{FILETRIGGERSCRIPTPROG} %{FILETRIGGERPRIORITIES} %{FILETRIGGERSCRIPTS}\n]"
           "[ff %{FILETRIGGERSCRIPTFLAGS}\n]"
           "[tn %{TRANSFILETRIGGERNAME} %{TRANSFILETRIGGERVERSION} %{TRANSFILETRIGGERFLAGS} %{TRANSFILETRIGGERINDEX}\n]"
           "[ts %{TRANSFILETRIGGERSCRIPTPROG} %{TRANSFILETRIGGERPRIORITIES} %{TRANSFILETRIGGERSCRIPTS}\n]"
           "[tf %{TRANSFILETRIGGERSCRIPTFLAGS}\n]"
           "[req %{REQUIRENAME} %{REQUIREFLAGS} %{REQUIREFLAGS:deptype} %{REQUIREVERSION}\n]"
           "post %{POSTINPROG} %{POSTIN}\n")


def test_file_triggers_equal_rpmbuild():
    nat = make_project({"slipway.toml": TRIG_NATIVE, "files/a": "a\n"})
    spc = make_project({"slipway.toml": CMP_SPEC_TOML.replace("pkgcmp", "pkgtrig").replace("motd", "trig"),
                        "trig/trig.spec": TRIG_SPEC, "trig/a": "a\n"})
    p1 = slipway("-C", nat, "package")
    p2 = slipway("-C", spc, "package")
    if not (check("file triggers: native build", p1.returncode == 0, show(p1)) &
            check("file triggers: spec build", p2.returncode == 0, show(p2))):
        return
    a = rpm_path(os.path.join(nat, "out"), "trig-1.0-1.noarch.rpm")
    b = rpm_path(os.path.join(spc, "out"), "trig-1.0-1.noarch.rpm")
    fa, fb = qp(a, "--filetriggers"), qp(b, "--filetriggers")
    check("file triggers: rpm -qp --filetriggers identical", fa == fb and fa.count("scriptlet (using") == 9,
          f"native:\n{fa}rpmbuild:\n{fb}")
    ta, tb = qp(a, "--qf", TRIG_QF), qp(b, "--qf", TRIG_QF)
    check("file triggers: the raw tags and requires identical, in order", ta == tb, f"native:\n{ta}rpmbuild:\n{tb}")
    # What rpm makes of the tags, whatever either writer did: the four
    # transfiletriggerin, and /usr/lib in both filetriggerin (indexes 0 and 1).
    check("file triggers: glibc's ldconfig trigger as rpm reads it",
          "transfiletriggerin scriptlet (using /sbin/ldconfig) -- /lib, /lib64, /usr/lib, /usr/lib64\n" in fa, fa)
    check("file triggers: /usr/lib in two filetriggerin", "fn /usr/lib  65536 0\nfn /usr/lib  65536 1\n" in ta, ta)
    check("file triggers: Requires(interp) of each program, rpmlib(BuiltinLuaScripts) for Lua",
          all(x in ta for x in ["req /sbin/ldconfig 256 interp \n", "req /usr/bin/true 256 interp \n",
                                "req /bin/sh 256 interp \n", "req /bin/sh 1280 post,interp \n",
                                "req rpmlib(BuiltinLuaScripts) 16777226 rpmlib 4.2.2-1\n"]), ta)
    check("file triggers: no SCRIPTFLAGS (no trigger has -e or -q)", "\nff " not in ta and "\ntf " not in ta, ta)

    # The cache key holds the triggers and the scripts: a changed body is a
    # new package, an unchanged project is not rebuilt.
    p = slipway("-C", nat, "package")
    check("file triggers: unchanged, cached", p.returncode == 0 and "1 component unchanged" in p.stdout, show(p))
    for old, new in [('body = "echo second"', 'body = "echo changed"'), ('post = "echo post"', 'post = "echo again"')]:
        write(os.path.join(nat, "slipway.toml"), TRIG_NATIVE.replace(old, new))
        p = slipway("-C", nat, "package")
        got = qp(a, "--qf", TRIG_QF) if p.returncode == 0 else ""
        check(f"file triggers: {new} rebuilds the package", "1 built, 0 cached" in p.stdout and
              new.split('"')[1] in got, show(p) + got)


# ---------------------------------------------------------------------------
# Build order, selection, the cache.

ORDER_TOML = """[project]
name = "pkgorder"
version = "1"
source-date-epoch = %d

[components.a]
spec = "comp/a/a.spec"

[components.c]
spec = "comp/c/c.spec"

[components.b]
spec = "comp/b/b.spec"

[components.n]
version = "3"
summary = "Native provider"
license = "MIT"
arch = "noarch"
provides = ["n-cap = 3"]

[[components.n.files]]
source = "files/n.txt"
path = "/usr/share/n/n.txt"

[components.n2]
version = "1"
summary = "Independent native"
license = "MIT"
arch = "noarch"

[[components.n2.files]]
source = "files/n2.txt"
path = "/usr/share/n2/n2.txt"
""" % SDE


def make_order():
    return make_project({
        "slipway.toml": ORDER_TOML,
        # Each %build logs "STARTED <time>": compared with the providers' RPM mtimes.
        "comp/a/a.spec": spec("a", extra="BuildRequires: libb-devel >= 1.0"),
        "comp/a/a.txt": "a 1\n",
        "comp/b/b.spec": spec("b", extra="Provides: libb-devel = 1.0"),
        "comp/b/b.txt": "b 1\n",
        "comp/c/c.spec": spec("c", extra="BuildRequires: n-cap"),
        "comp/c/c.txt": "c 1\n",
        "files/n.txt": "n 1\n",
        "files/n2.txt": "n2 1\n",
    })


ORDER = make_order()
ORDER_COPY = shutil.copytree(ORDER, os.path.join(BASE, "order-copy"), symlinks=True)


def check_after(name, out, first, rpm, second):
    t0 = os.stat(rpm_path(out, rpm)).st_mtime if os.path.exists(rpm_path(out, rpm)) else None
    s = started(os.path.join(out, "logs", second + ".log"))
    check(name, t0 is not None and s is not None and s >= t0,
          f"{first}'s RPM written at {t0}, {second}'s %build started at {s}")


def test_order():
    out = os.path.join(ORDER, "out")
    p = slipway("-C", ORDER, "-j2", "package")
    if not check("order -j2: exit 0", p.returncode == 0, show(p)):
        return
    order = progress_order(p.stdout)
    check("order -j2: all built", sorted(order) == ["a", "b", "c", "n", "n2"], p.stdout)
    check("order -j2: b before a", "a" in order and "b" in order and order.index("b") < order.index("a"), order)
    check("order -j2: n before c", "c" in order and "n" in order and order.index("n") < order.index("c"), order)
    check_after("order -j2: a's build started after b's RPM", out, "b", "b-1.0-1.noarch.rpm", "a")
    check_after("order -j2: c's build started after n's RPM", out, "n", "n-3-1.noarch.rpm", "c")

    # -j1, and only a named: b comes too, nothing else.
    out = os.path.join(ORDER_COPY, "out")
    p = slipway("-C", ORDER_COPY, "-j1", "package", "a")
    if not check("order -j1 package a: exit 0", p.returncode == 0, show(p)):
        return
    order = progress_order(p.stdout)
    check("order -j1 package a: builds b then a only", order == ["b", "a"], p.stdout)
    check("order -j1 package a: RPMs", packages(out) == ["a-1.0-1.noarch.rpm", "b-1.0-1.noarch.rpm"], packages(out))
    check_after("order -j1: a's build started after b's RPM", out, "b", "b-1.0-1.noarch.rpm", "a")


def test_cache():
    out = os.path.join(ORDER, "out")
    if len(packages(out)) != 5:
        check("cache: first build present", False, packages(out))
        return
    before = snapshot(out)
    p, j = package_json("-C", ORDER, "-j2")
    if not check("cache: unchanged run exit 0", p.returncode == 0 and j is not None, show(p)):
        return
    check("cache: unchanged: all cached", set(statuses(j).values()) == {"cached"} and j["cached"] == 5 and
          j["built"] == 0, statuses(j))
    check("cache: unchanged: rpmbuild_runs 0", j["rpmbuild_runs"] == 0, j["rpmbuild_runs"])
    p = slipway("-C", ORDER, "-j2", "package")
    check("cache: unchanged: stdout says nothing was rebuilt", p.returncode == 0 and "nothing to do" in p.stdout and
          "rpmbuild not run" in p.stdout and "built " not in p.stdout, show(p))
    check("cache: unchanged: RPMs untouched", snapshot(out) == before,
          [f for f in before if snapshot(out).get(f) != before[f]])

    # Touch every input (mtime only): nothing rebuilds.
    now = time.time() + 5
    for d, _, fs in os.walk(ORDER):
        if "/out" in d[len(ORDER):] or d == os.path.join(ORDER, "out"):
            continue
        for f in fs:
            os.utime(os.path.join(d, f), (now, now))
    p, j = package_json("-C", ORDER, "-j2")
    check("cache: touched: nothing rebuilt", j is not None and set(statuses(j).values()) == {"cached"} and
          j["rpmbuild_runs"] == 0, show(p))
    check("cache: touched: RPMs untouched", snapshot(out) == before, "")

    # A source of spec component b: b and a (BuildRequires libb-devel) only.
    write(os.path.join(ORDER, "comp/b/b.txt"), "b 2\n")
    p, j = package_json("-C", ORDER, "-j2")
    st = statuses(j) if j else None
    check("cache: b's source changed: b and a rebuilt, others cached",
          st == {"a": "built", "b": "built", "c": "cached", "n": "cached", "n2": "cached"} and j["rpmbuild_runs"] == 2,
          show(p))
    after = snapshot(out)
    check("cache: b's source changed: other RPMs untouched",
          all(after.get(f) == before[f] for f in before if f[0] in "cn"),
          [f for f in before if after.get(f) != before[f]])
    check("cache: b's source changed: b's RPM has the new content",
          dump(rpm_path(out, "b-1.0-1.noarch.rpm"))["/usr/share/b/b.txt"][2] == sha256(os.path.join(ORDER, "comp/b/b.txt")),
          "")

    # An independent native component's source: just it.
    before = snapshot(out)
    write(os.path.join(ORDER, "files/n2.txt"), "n2 2\n")
    p, j = package_json("-C", ORDER, "-j2")
    st = statuses(j) if j else None
    check("cache: n2's source changed: only n2 rebuilt",
          st == {"a": "cached", "b": "cached", "c": "cached", "n": "cached", "n2": "built"} and j["rpmbuild_runs"] == 0,
          show(p))
    after = snapshot(out)
    check("cache: n2's source changed: other RPMs untouched",
          all(after.get(f) == before[f] for f in before if not f.startswith("n2-")), "")

    # A native provider's source: it and the spec that BuildRequires it.
    write(os.path.join(ORDER, "files/n.txt"), "n 2\n")
    p, j = package_json("-C", ORDER, "-j2")
    st = statuses(j) if j else None
    check("cache: n's source changed: n and c rebuilt",
          st == {"a": "cached", "b": "cached", "c": "built", "n": "built", "n2": "cached"} and j["rpmbuild_runs"] == 1,
          show(p))

    # A new version of a native component replaces its old RPM.
    t = open(os.path.join(ORDER, "slipway.toml")).read()
    write(os.path.join(ORDER, "slipway.toml"), t.replace('version = "1"\nsummary = "Independent native"',
                                                         'version = "1.1"\nsummary = "Independent native"'))
    p, j = package_json("-C", ORDER, "-j2")
    check("cache: new version: old RPM removed, new one written",
          p.returncode == 0 and "n2-1.1-1.noarch.rpm" in packages(out) and "n2-1-1.noarch.rpm" not in packages(out),
          packages(out))


def test_native_touch_unclamped():
    """With SOURCE_DATE_EPOCH later than the inputs, mtimes are not clamped and
    are part of the package: changing the mtime of a file inside a directory
    source must rebuild (the cached RPM would differ from a fresh build)."""
    future = 4000000000
    d = make_project({"slipway.toml": f"""[project]
name = "pkgtouch"
version = "1"
source-date-epoch = {future}

[components.tree]
version = "1"
summary = "Tree"
license = "MIT"
arch = "noarch"

[[components.tree.files]]
source = "files/tree"
path = "/usr/share/tree"
""", "files/tree/x.txt": "x\n"})
    x = os.path.join(d, "files/tree/x.txt")
    os.utime(x, (1600000000, 1600000000))
    p = slipway("-C", d, "package")
    if not check("unclamped: first build", p.returncode == 0, show(p)):
        return
    rpm = rpm_path(os.path.join(d, "out"), "tree-1-1.noarch.rpm")
    check("unclamped: mtime kept", dump(rpm)["/usr/share/tree/x.txt"][1] == "1600000000", dump(rpm))
    os.utime(x, (1650000000, 1650000000))
    p, j = package_json("-C", d)
    check("unclamped: mtime of a file in a directory source changed: rebuilt",
          j is not None and statuses(j) == {"tree": "built"}, show(p))
    check("unclamped: the RPM has the new mtime", dump(rpm)["/usr/share/tree/x.txt"][1] == "1650000000",
          dump(rpm).get("/usr/share/tree/x.txt"))


def test_native_dir_chmod():
    """The mode of a directory source (no 'mode' key) goes into the package:
    changing it must rebuild."""
    d = make_project({"slipway.toml": f"""[project]
name = "pkgchmod"
version = "1"
source-date-epoch = {SDE}

[components.tree]
version = "1"
summary = "Tree"
license = "MIT"
arch = "noarch"

[[components.tree.files]]
source = "files/tree"
path = "/usr/share/tree"
""", "files/tree/x.txt": "x\n"})
    top = os.path.join(d, "files/tree")
    os.chmod(top, 0o755)
    p = slipway("-C", d, "package")
    if not check("dir chmod: first build", p.returncode == 0, show(p)):
        return
    rpm = rpm_path(os.path.join(d, "out"), "tree-1-1.noarch.rpm")
    check("dir chmod: mode 0755 packaged", dump(rpm)["/usr/share/tree"][3] == "040755", dump(rpm))
    os.chmod(top, 0o700)
    p, j = package_json("-C", d)
    check("dir chmod: mode of a directory source changed: rebuilt",
          j is not None and statuses(j) == {"tree": "built"}, show(p))
    check("dir chmod: the RPM has the new mode", dump(rpm)["/usr/share/tree"][3] == "040700",
          dump(rpm).get("/usr/share/tree"))


# ---------------------------------------------------------------------------
# Errors before any build: cycles, missing BuildRequires.

def test_cycle():
    d = make_project({
        "slipway.toml": """[project]
name = "pkgcycle"
version = "1"
source-date-epoch = %d

[components.alpha]
spec = "alpha/alpha.spec"

[components.beta]
spec = "beta/beta.spec"

[components.gamma]
version = "1"
summary = "Independent"
license = "MIT"
""" % SDE,
        "alpha/alpha.spec": spec("alpha", extra="Provides: a-cap\nBuildRequires: b-cap"),
        "alpha/alpha.txt": "a\n",
        "beta/beta.spec": spec("beta", extra="Provides: b-cap = 2\nBuildRequires: a-cap"),
        "beta/beta.txt": "b\n",
    })
    p = slipway("-C", d, "package")
    check("cycle: exit 1", p.returncode == 1, show(p))
    check("cycle: names both components and says cycle",
          "cycle" in p.stderr and "'alpha'" in p.stderr and "'beta'" in p.stderr, p.stderr)
    out = os.path.join(d, "out")
    check("cycle: nothing built", packages(out) == [] and not any(
        os.listdir(os.path.join(out, s)) for s in ["logs", "srpms"] if os.path.isdir(os.path.join(out, s))),
        packages(out))


def test_missing_buildrequires():
    d = make_project({
        "slipway.toml": """[project]
name = "pkgmissing"
version = "1"
source-date-epoch = %d

[build]
host-provides = ["gcc", "make >= 4"]

[components.needy]
spec = "needy/needy.spec"

[components.fine]
version = "1"
summary = "Fine"
license = "MIT"
provides = ["fine-cap = 1"]
""" % SDE,
        "needy/needy.spec": spec("needy", extra="BuildRequires: gcc make\nBuildRequires: missing-one >= 2\n"
                                 "BuildRequires: missing-two\nBuildRequires: fine-cap >= 2"),
        "needy/needy.txt": "n\n",
    })
    p = slipway("-C", d, "package")
    check("missing BR: exit 1", p.returncode == 1, show(p))
    err = p.stderr
    check("missing BR: names the component and every missing capability",
          "needy" in err and "missing-one >= 2" in err and "missing-two" in err and "fine-cap >= 2" in err, err)
    missing_line = next((l for l in err.splitlines() if "missing-one" in l), "")
    check("missing BR: satisfied ones not listed", "'gcc'" not in missing_line and "'make'" not in missing_line,
          missing_line)
    # 'fine' provides fine-cap = 1: the message must not claim that nothing
    # provides fine-cap, but say which version the project has.
    check("missing BR: a version mismatch names what the project provides",
          "fine-cap = 1" in err, err)
    out = os.path.join(d, "out")
    # The component fails alone, before any build (rpmbuild never ran for
    # it: no log, no RPM); 'fine', which does not need it, still builds.
    check("missing BR: rpmbuild never ran for it (no log, no RPM)",
          not os.path.exists(os.path.join(out, "logs", "needy.log")) and
          not any(f.startswith("needy") for f in packages(out)), packages(out))
    check("missing BR: an unrelated component still builds", packages(out) == ["fine-1-1.x86_64.rpm"], packages(out))
    check("missing BR: reported as a failure of the component", re.search(r"FAILED\s+needy\s", err) is not None, err)


# ---------------------------------------------------------------------------
# A failing build.

FAIL_TOML = """[project]
name = "pkgfail"
version = "1"
source-date-epoch = %d

[components.dep]
spec = "dep/dep.spec"

[components.fail]
spec = "fail/fail.spec"

[components.indep]
spec = "indep/indep.spec"

[components.nat]
version = "1"
summary = "Native"
license = "MIT"
arch = "noarch"
""" % SDE


def test_failing_build():
    d = make_project({
        "slipway.toml": FAIL_TOML,
        "dep/dep.spec": spec("dep", extra="BuildRequires: fail-devel"),
        "dep/dep.txt": "d\n",
        "fail/fail.spec": spec("fail", extra="Provides: fail-devel = 1"),
        "fail/fail.txt": "f\n",
        "indep/indep.spec": spec("indep"),
        "indep/indep.txt": "i 1\n",
    })
    out = os.path.join(d, "out")
    p = slipway("-C", d, "-j2", "package")
    if not check("failing: first (good) build", p.returncode == 0 and len(packages(out)) == 4, show(p)):
        return
    before = snapshot(out)
    write(os.path.join(d, "fail/fail.spec"),
          spec("fail", extra="Provides: fail-devel = 1",
               build="echo line-before-the-failure\necho FAIL-MARKER-42 >&2\nexit 1"))
    write(os.path.join(d, "indep/indep.txt"), "i 2\n")
    p = slipway("-C", d, "-j2", "package")
    check("failing: exit 1", p.returncode == 1, show(p))
    check("failing: independent component built", "indep" in progress_order(p.stdout), p.stdout)
    check("failing: independent RPM rewritten",
          dump(rpm_path(out, "indep-1.0-1.noarch.rpm"))["/usr/share/indep/indep.txt"][2] ==
          sha256(os.path.join(d, "indep/indep.txt")), "")
    log = os.path.join(out, "logs", "fail.log")
    check("failing: log kept", os.path.isfile(log) and "FAIL-MARKER-42" in open(log).read(), log)
    err = p.stderr
    check("failing: stderr reports the failure", re.search(r"^FAILED\s+fail\b", err, re.M) is not None, err)
    check("failing: stderr shows the log's last lines", "FAIL-MARKER-42" in err and "line-before-the-failure" in err
          and log in err, err)
    check("failing: dependent skipped", re.search(r"^skipped\s+dep\b.*'fail'", err, re.M) is not None, err)
    summary = [l for l in err.splitlines() if l.startswith("slipway: failed:")]
    check("failing: summary names failed and skipped",
          summary == ["slipway: failed: fail; skipped: dep"], summary)
    check("failing: count line", "1 built, 1 cached, 1 failed, 1 skipped" in p.stdout, p.stdout)
    after = snapshot(out)
    for f in ["fail-1.0-1.noarch.rpm", "dep-1.0-1.noarch.rpm", "nat-1-1.noarch.rpm"]:
        check(f"failing: earlier {f} kept intact", after.get(f) == before.get(f), f in after)
    # JSON statuses of the same situation.
    p, j = package_json("-C", d, "-j2")
    st = statuses(j) if j else None
    check("failing: --json statuses", p.returncode == 1 and st == {"dep": "skipped", "fail": "failed",
                                                                 "indep": "cached", "nat": "cached"}
          and j["failed"] == 1 and j["skipped"] == 1, show(p))


# ---------------------------------------------------------------------------
# Bad native inputs.

def test_native_bad_inputs():
    d = make_project({
        "slipway.toml": """[project]
name = "pkgbad"
version = "1"
source-date-epoch = %d

[components.overlap]
version = "1"
summary = "Overlapping sources"
license = "MIT"
arch = "noarch"

[[components.overlap.files]]
source = "d1"
path = "/usr/share/ov"

[[components.overlap.files]]
source = "d2/x"
path = "/usr/share/ov/x"
""" % SDE,
        "d1/x/f": "one\n",
        "d2/x/f": "two\n",
    })
    p, j = package_json("-C", d)
    check("overlap: exit 1", p.returncode == 1, show(p))
    res = j["components"][0] if j and j.get("components") else {}
    check("overlap: --json status failed", res.get("status") == "failed", res)
    check("overlap: --json 'log' names an existing file (or null)",
          res.get("log") is None or os.path.isfile(res["log"]), res.get("log"))
    p = slipway("-C", d, "package")
    check("overlap: message names the component and the path packaged twice",
          "overlap" in p.stderr and ("'/usr/share/ov/x'" in p.stderr or "'/usr/share/ov/x/f'" in p.stderr), p.stderr)
    check("overlap: no RPM written", packages(os.path.join(d, "out")) == [], packages(os.path.join(d, "out")))


def test_native_dir_mode():
    """'mode' on a directory source applies to the files in it; the directories
    stay traversable (their own mode)."""
    d = make_project({
        "slipway.toml": """[project]
name = "pkgmode"
version = "1"
source-date-epoch = %d

[components.tree]
version = "1"
summary = "Tree"
license = "MIT"
arch = "noarch"

[[components.tree.files]]
source = "tree"
path = "/usr/share/tree"
mode = "0600"
""" % SDE,
        "tree/a.txt": "a\n",
        "tree/sub/b.txt": "b\n",
    })
    os.chmod(os.path.join(d, "tree"), 0o755)
    os.chmod(os.path.join(d, "tree", "sub"), 0o755)
    p = slipway("-C", d, "package")
    if not check("dir mode: build", p.returncode == 0, show(p)):
        return
    dm = dump(rpm_path(os.path.join(d, "out"), "tree-1-1.noarch.rpm"))
    modes = {k: v[3] for k, v in dm.items()}
    check("dir mode: files get the mode, directories keep theirs",
          modes == {"/usr/share/tree": "040755", "/usr/share/tree/a.txt": "0100600",
                    "/usr/share/tree/sub": "040755", "/usr/share/tree/sub/b.txt": "0100600"}, modes)


def test_host_inputs():
    """`host-inputs`: build-host files a spec reads are part of its cache key (a
    changed file rebuilds, an unchanged or only touched one does not); the key is
    checked (absolute patterns, spec components only)."""
    # Not below /tmp: a build has a private /tmp and does not see the host's.
    host = tempfile.mkdtemp(dir="/var/tmp", prefix="slipway-package-test-host-")
    try:
        host_inputs_in(host)
    finally:
        shutil.rmtree(host, ignore_errors=True)


def host_inputs_in(host):
    write(os.path.join(host, "data.txt"), "one\n")
    d = make_project({
        "slipway.toml": f"""[project]
name = "hosted"
version = "1"
source-date-epoch = {SDE}

[components.hostdata]
spec = "c/hostdata.spec"
host-inputs = ["{host}/*.txt", "{host}/missing-*"]
""",
        "c/hostdata.spec": spec("hostdata", install=f"install -D -m 0644 {host}/data.txt %{{buildroot}}/usr/share/from-host",
                                files="/usr/share/from-host"),
        "c/hostdata.txt": "source\n",
    })
    out = os.path.join(d, "out")

    def content():
        rpms = packages(out)
        if not rpms:
            return None
        p = subprocess.run(f"rpm2cpio {os.path.join(out, 'repo', 'Packages', rpms[0])} | cpio -i --to-stdout --quiet "
                           "./usr/share/from-host", shell=True, capture_output=True)
        return p.stdout

    p = slipway("-C", d, "package")
    check("host-inputs: first build", p.returncode == 0 and content() == b"one\n", f"{show(p)}\ncontent: {content()!r}")
    now = time.time() + 5
    os.utime(os.path.join(host, "data.txt"), (now, now))
    p = slipway("-C", d, "package")
    check("host-inputs: a touched host file rebuilds nothing", p.returncode == 0 and "nothing to do" in p.stdout, show(p))
    write(os.path.join(host, "data.txt"), "two\n")
    p = slipway("-C", d, "package")
    check("host-inputs: a changed host file rebuilds the component",
          p.returncode == 0 and "built " in p.stdout and content() == b"two\n", show(p))
    write(os.path.join(host, "more.txt"), "new\n")
    p = slipway("-C", d, "package")
    check("host-inputs: a new match of a pattern rebuilds it", p.returncode == 0 and "built " in p.stdout, show(p))

    bad = make_project({
        "slipway.toml": f"""[project]
name = "badhosted"
version = "1"

[components.rel]
spec = "c/hostdata.spec"
host-inputs = ["relative/*.txt"]

[components.nat]
version = "1"
summary = "n"
license = "MIT"
host-inputs = ["/etc/hostname"]
""",
        "c/hostdata.spec": spec("rel"),
    })
    p = slipway("-C", bad, "check")
    check("host-inputs: a relative pattern is refused with its position",
          p.returncode == 1 and "slipway.toml:7:16: error: key 'components.rel.host-inputs[0]'" in p.stderr
          and "absolute" in p.stderr, show(p))
    check("host-inputs: refused in a native component",
          "key 'components.nat.host-inputs': component 'nat' has no spec" in p.stderr, show(p))


def test_sandbox():
    """What a spec build sees: a private /tmp (the host's, where this test's
    files are, is hidden) with the topdir at /tmp/rpmbuild, and its own
    directory read-only at /tmp/rpmbuild/SOURCES; the scratch directory is gone
    afterwards, after a failure too."""
    probe = ("if touch %{_sourcedir}/written 2>/dev/null; then echo 'SOURCES writable'; exit 1; fi\n"
             f"if test -e {BASE}; then echo 'host /tmp visible'; exit 1; fi\n"
             "echo \"%{_topdir} %{_sourcedir} %{SOURCE0} $TMPDIR $HOME\" > where.txt\n"
             "touch $TMPDIR/mine")
    d = make_project({
        "slipway.toml": f"""[project]
name = "sandboxed"
version = "1"
source-date-epoch = {SDE}

[components.probe]
spec = "c/probe.spec"

[components.fails]
spec = "f/fails.spec"
""",
        "c/probe.spec": spec("probe", build=probe,
                             install="install -D -m 0644 where.txt %{buildroot}/usr/share/where.txt",
                             files="/usr/share/where.txt"),
        "c/probe.txt": "probe\n",
        "f/fails.spec": spec("fails", build="exit 3"),
        "f/fails.txt": "fails\n",
    })
    before = set(os.listdir(TMPDIR))
    p = slipway("-C", d, "package")
    out = os.path.join(d, "out")
    rpm = [f for f in packages(out) if f.startswith("probe-")]
    check("sandbox: the probe builds, the other fails", p.returncode == 1 and len(rpm) == 1 and
          "FAILED   fails" in p.stderr, show(p))
    if rpm:
        c = subprocess.run(f"rpm2cpio {rpm_path(out, rpm[0])} | cpio -i --to-stdout --quiet ./usr/share/where.txt",
                           shell=True, capture_output=True, text=True).stdout
        check("sandbox: fixed paths inside the build",
              c == "/tmp/rpmbuild /tmp/rpmbuild/SOURCES /tmp/rpmbuild/SOURCES/probe.txt /tmp /tmp/home\n", repr(c))
    check("sandbox: nothing written into the spec's directory",
          sorted(os.listdir(os.path.join(d, "c"))) == ["probe.spec", "probe.txt"], os.listdir(os.path.join(d, "c")))
    left = set(os.listdir(TMPDIR)) - before
    check("sandbox: no scratch directory left in $TMPDIR", not left, sorted(left))


# ---------------------------------------------------------------------------
# The payload: codecs and levels, streamed in bounded memory, the same bytes
# whatever -j is.

def payload_project(name, payload, data, extra_toml="", files=None):
    """A native component 'big' shipping data (name -> bytes) in /usr/share/big."""
    toml = f"""[project]
name = "{name}"
version = "1"
source-date-epoch = {SDE}
{f'payload = "{payload}"' if payload else ""}
{extra_toml}
[components.big]
version = "1"
summary = "payload test"
license = "MIT"
arch = "noarch"

[[components.big.files]]
source = "files/data"
path = "/usr/share/big"
"""
    d = make_project({"slipway.toml": toml, **(files or {})})
    os.makedirs(os.path.join(d, "files", "data"))
    for n, b in data.items():
        with open(os.path.join(d, "files", "data", n), "wb") as f:
            f.write(b)
    return d


def peak_mib(*args):
    """Runs slipway in a fresh interpreter; its result and peak RSS (MiB) from
    getrusage(RUSAGE_CHILDREN), which holds that one child only."""
    code = ("import resource, subprocess, sys\n"
            "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
            "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
            "sys.stderr.write(p.stderr)\n")
    e = dict(os.environ, LC_ALL="C", TMPDIR=TMPDIR)
    e.pop("SOURCE_DATE_EPOCH", None)
    p = subprocess.run([sys.executable, "-c", code, SLIPWAY, *args], capture_output=True, text=True, env=e,
                       timeout=600)
    rc, kib = p.stdout.split() if p.stdout.strip() else ("-1", "0")
    return int(rc), int(kib) / 1024, p.stderr


def test_payload_codecs():
    """Each payload rpm 4.18 reads: the header names it as rpmbuild does, rpm
    reads the archive, the digests hold, and -j1 and -j2 give the same bytes.
    6 MiB of random data make two zstd jobs of 4 MiB."""
    rnd = random_bytes(6 << 20)
    data = {"random.bin": rnd, "text.txt": b"slipway payload test\n" * 5000, "empty": b""}
    keys = make_project({})
    p = slipway("keygen", "--uid", "Payload Test <payload@example.com>", "-o", os.path.join(keys, "k"))
    if not check("payload: keygen", p.returncode == 0, show(p)):
        return
    dbpath = os.path.join(keys, "rpmdb")
    tool("rpmkeys", "--dbpath", dbpath, "--import", os.path.join(keys, "k.pub.asc"), check_rc=True)
    for payload, compressor, flags, rpmlib in [(None, "zstd", "19", "rpmlib(PayloadIsZstd)"),
                                               ("w3.zstdio", "zstd", "3", "rpmlib(PayloadIsZstd)"),
                                               ("w9.gzdio", "gzip", "9", None),
                                               ("w2.xzdio", "xz", "2", "rpmlib(PayloadIsXz)"),
                                               ("w.ufdio", "(none)", "", None)]:
        name = payload or "default"
        d = payload_project("payload", payload, data, f'[signing]\nkey = "{os.path.join(keys, "k.asc")}"\n')
        outs = []
        for j in ("1", "2"):
            out = os.path.join(d, "out-j" + j)
            p = slipway("-C", d, "-j", j, "--out", out, "package")
            if not check(f"payload {name}: package -j{j}", p.returncode == 0, show(p)):
                break
            outs.append(rpm_path(out, "big-1-1.noarch.rpm"))
        if len(outs) != 2:
            continue
        a, b = outs
        check(f"payload {name}: -j1 and -j2 give the same bytes", open(a, "rb").read() == open(b, "rb").read(),
              (sha256(a), sha256(b)))
        got = qp(a, "--qf", "%{PAYLOADCOMPRESSOR}|%{PAYLOADFLAGS}")
        check(f"payload {name}: compressor and flags as rpmbuild writes them", got == f"{compressor}|{flags}", got)
        req = lines(a, "--requires")
        payload_reqs = sorted(r.split()[0] for r in req if r.startswith("rpmlib(PayloadIs"))
        check(f"payload {name}: rpmlib requirement", payload_reqs == ([rpmlib] if rpmlib else []), req)
        listing = subprocess.run(f"rpm2cpio '{a}' | cpio -it --quiet", shell=True, capture_output=True, text=True)
        check(f"payload {name}: rpm2cpio | cpio -t", listing.returncode == 0 and sorted(listing.stdout.split()) ==
              ["./usr/share/big", "./usr/share/big/empty", "./usr/share/big/random.bin", "./usr/share/big/text.txt"],
              show(listing))
        x = os.path.join(d, "x")
        os.makedirs(x)
        ex = subprocess.run(f"rpm2cpio '{a}' | cpio -idm --quiet", shell=True, cwd=x, capture_output=True, text=True)
        back = os.path.join(x, "usr", "share", "big", "random.bin")
        check(f"payload {name}: the data comes back", ex.returncode == 0 and os.path.isfile(back) and
              open(back, "rb").read() == rnd, show(ex))
        k = tool("rpmkeys", "--dbpath", dbpath, "-Kv", a)
        check(f"payload {name}: rpmkeys -K with the signing key", k.returncode == 0 and "Signature" in k.stdout and
              "NOT OK" not in k.stdout, show(k))
        k = tool("rpm", "--dbpath", dbpath, "-K", a)
        check(f"payload {name}: rpm -K", k.returncode == 0 and "digests signatures OK" in k.stdout, show(k))
        c = tool("rpm", "-qp", "--dump", a)
        check(f"payload {name}: file digests", hashlib.sha256(rnd).hexdigest() in c.stdout, show(c))


def random_bytes(n):
    return os.urandom(n)


def test_payload_memory():
    """Random data in one file, packaged with zstd (w3: fast enough for the
    suite): the payload is streamed and the repository reads large packages
    in pieces, so the memory the data costs stays well below its size
    (holding the archive or the compressed payload alone would take all of
    it), and -j1 and -j2 give the same bytes (32 jobs of 4 MiB). What the
    data costs is the peak less the same binary's peak for an empty file
    (libraries and, in the sanitizer build, the sanitizer's runtime)."""
    base = {}
    d = payload_project("memory-empty", "w3.zstdio", {"big.bin": b""})
    for j in ("1", "2"):
        rc, mib, err = peak_mib("-C", d, "-j", j, "--out", os.path.join(d, "out-j" + j), "package")
        if not check(f"memory: an empty file -j{j}", rc == 0, err):
            return
        base[j] = mib
    # 32 MiB: a package the repository once read whole; 128 MiB: the payload.
    for size, runs in ((32, (("1", 50),)), (128, (("1", 50), ("2", 82)))):
        d = payload_project(f"memory-{size}", "w3.zstdio", {})
        with open(os.path.join(d, "files", "data", "big.bin"), "wb") as f:
            for _ in range(size // 4):
                f.write(os.urandom(4 << 20))
        outs = []
        for j, limit in runs:
            out = os.path.join(d, "out-j" + j)
            rc, mib, err = peak_mib("-C", d, "-j", j, "--out", out, "package")
            if not check(f"memory: {size} MiB -j{j}: package", rc == 0, err):
                return
            cost = mib - base[j]
            check(f"memory: {size} MiB -j{j}: the data costs {cost:.0f} MiB (peak {mib:.0f} MiB less "
                  f"{base[j]:.0f} MiB; limit {limit} MiB)", cost < limit, (mib, base[j]))
            outs.append(rpm_path(out, "big-1-1.noarch.rpm"))
        if len(outs) == 2:
            check(f"memory: {size} MiB: -j1 and -j2 give the same bytes", sha256(outs[0]) == sha256(outs[1]))
        k = tool("rpmkeys", "-K", "--nosignature", outs[0])
        check(f"memory: {size} MiB: rpmkeys -K", k.returncode == 0 and "digests OK" in k.stdout, show(k))
        n = subprocess.run(f"rpm2cpio '{outs[0]}' | wc -c", shell=True, capture_output=True, text=True)
        check(f"memory: {size} MiB: rpm2cpio gives the whole archive",
              n.returncode == 0 and int(n.stdout) > size << 20, show(n))


def test_payload_cache_key():
    """The payload is part of the cache key: changing it rebuilds."""
    d = payload_project("cachepl", "w3.zstdio", {"a.txt": b"a\n"})
    p = slipway("-C", d, "package")
    check("payload cache: first build", p.returncode == 0 and "built " in p.stdout, show(p))
    p = slipway("-C", d, "package")
    check("payload cache: unchanged is cached", p.returncode == 0 and "nothing to do" in p.stdout, show(p))
    toml = os.path.join(d, "slipway.toml")
    write(toml, open(toml).read().replace('payload = "w3.zstdio"', 'payload = "w9.gzdio"'))
    p = slipway("-C", d, "package")
    rpm = rpm_path(os.path.join(d, "out"), "big-1-1.noarch.rpm")
    check("payload cache: a new payload rebuilds", p.returncode == 0 and "built " in p.stdout and
          qp(rpm, "--qf", "%{PAYLOADCOMPRESSOR}") == "gzip", show(p))


def test_payload_spec():
    """A spec component gets the payload as rpmbuild's _binary_payload."""
    d = make_project({
        "slipway.toml": f"""[project]
name = "specpl"
version = "1"
source-date-epoch = {SDE}
payload = "w9.gzdio"

[components.s1]
spec = "c/s1.spec"

[components.s2]
spec = "c/s2.spec"
payload = "w2.xzdio"
""",
        "c/s1.spec": spec("s1"), "c/s1.txt": "one\n",
        "c/s2.spec": spec("s2"), "c/s2.txt": "two\n",
    })
    p = slipway("-C", d, "package")
    if not check("payload spec: package", p.returncode == 0, show(p)):
        return
    out = os.path.join(d, "out")
    got = [qp(rpm_path(out, f), "--qf", "%{PAYLOADCOMPRESSOR}|%{PAYLOADFLAGS}") for f in packages(out)]
    check("payload spec: the project's and the component's payloads", got == ["gzip|9", "xz|2"], got)


def test_same_file():
    """Two components that make the same package file: an error naming both and
    the file, before anything is built (issue 12: one silently overwrote the
    other and the build exited 0)."""
    same = spec("twin")
    toml = """[project]
name = "pkgsame"
version = "1"
source-date-epoch = %d

[components.first]
spec = "first/twin.spec"
""" % SDE
    d = make_project({"slipway.toml": toml, "first/twin.spec": same, "first/twin.txt": "first\n",
                      "second/twin.spec": same, "second/twin.txt": "second\n"})
    out = os.path.join(d, "out")
    p = slipway("-C", d, "package")
    if not check("same file: the first component alone builds", p.returncode == 0, show(p)):
        return
    before = snapshot(out)
    write(os.path.join(d, "slipway.toml"), toml + '\n[components.second]\nspec = "second/twin.spec"\n')
    p = slipway("-C", d, "package")
    check("same file: two specs making twin-1.0-1.noarch.rpm: exit 1", p.returncode == 1, show(p))
    check("same file: the error names both components and the file",
          "'first'" in p.stderr and "'second'" in p.stderr and "'twin-1.0-1.noarch.rpm'" in p.stderr, p.stderr)
    check("same file: and the source package", "'twin-1.0-1.src.rpm'" in p.stderr, p.stderr)
    check("same file: nothing built, the first's packages untouched", snapshot(out) == before and
          not os.path.exists(os.path.join(out, "logs", "second.log")), f"{sorted(snapshot(out))}")

    # A native component making a spec component's file.
    d = make_project({"slipway.toml": """[project]
name = "pkgsame2"
version = "1"
source-date-epoch = %d

[components.twin]
version = "1.0"
release = "1"
arch = "noarch"
summary = "Native twin"
license = "MIT"

[components.spec-twin]
spec = "t/twin.spec"
""" % SDE, "t/twin.spec": same, "t/twin.txt": "spec\n"})
    p = slipway("-C", d, "package")
    check("same file: native and spec: exit 1, both named", p.returncode == 1 and "'twin'" in p.stderr and
          "'spec-twin'" in p.stderr and "'twin-1.0-1.noarch.rpm'" in p.stderr, show(p))
    check("same file: native and spec: nothing built", packages(os.path.join(d, "out")) == [],
          packages(os.path.join(d, "out")))


    # A spec whose file rpmspec cannot foresee (its Release differs between
    # the query and the build): caught when the build's files are claimed,
    # before any is moved into the output.
    sly = ('%global rel %{lua: print(rpm.expand("%{_topdir}") == "/nonexistent" and "9" or "1")}\n' +
           spec("twin", release="%{rel}"))
    d = make_project({"slipway.toml": """[project]
name = "pkgsame3"
version = "1"
source-date-epoch = %d

[components.plain]
spec = "p/twin.spec"

[components.sly]
spec = "s/twin.spec"
""" % SDE, "p/twin.spec": same, "p/twin.txt": "plain\n", "s/twin.spec": sly, "s/twin.txt": "sly\n"})
    out = os.path.join(d, "out")
    p = slipway("-C", d, "-j", "1", "package", "sly")
    check("same file: a file rpmspec did not foresee: exit 1, both named", p.returncode == 1 and "not overwritten" in p.stderr and
          "'plain'" in p.stderr and "'sly'" in p.stderr and "twin-1.0-1.noarch.rpm" in p.stderr, show(p))
    check("same file: a file rpmspec did not foresee: not published", packages(out) == [], packages(out))

def test_host_claims():
    """Host mode checks [build] host-provides against the host."""
    d = make_project({
        "slipway.toml": """[project]
name = "pkgclaims"
version = "1"
source-date-epoch = %d

[build]
host-provides = ["gcc", "glibc-static", "pkgconfig(zlib)", "no-such-tool-here", "pkgconfig(zlib) >= 99",
                 "/nonexistent/file", "pkgconfig-less"]
host-evidence = { glibc-static = "/usr/include/stdio.h", pkgconfig-less = "/nonexistent/evidence" }

[components.needy]
spec = "needy/needy.spec"
""" % SDE,
        "needy/needy.spec": spec("needy", extra="BuildRequires: gcc\n"),
        "needy/needy.txt": "n\n",
    })
    p = slipway("-C", d, "package")
    check("host claims: exit 1, nothing built", p.returncode == 1 and "nothing was built" in p.stderr and
          packages(os.path.join(d, "out")) == [], show(p))
    for bad in ["'no-such-tool-here'", "'pkgconfig(zlib) >= 99'", "'/nonexistent/file'", "'/nonexistent/evidence'"]:
        check(f"host claims: {bad} does not hold", bad in p.stderr, p.stderr)
    for good in ["'gcc'", "'glibc-static'", "'pkgconfig(zlib)' "]:
        check(f"host claims: {good} holds (no error)", good not in p.stderr, p.stderr)
    check("host claims: each error at the key (file:line:column)",
          all(re.match(re.escape(os.path.join(d, "slipway.toml")) + r":7:17: error: ", l)
              for l in p.stderr.splitlines() if "does not hold" in l), p.stderr)


start = time.monotonic()
try:
    for t in [test_headers_and_payloads, test_reproducible, test_sandbox, test_dnf_install, test_native_equals_rpmbuild,
              test_file_triggers_equal_rpmbuild,
              test_order, test_cache, test_native_touch_unclamped, test_native_dir_chmod, test_cycle, test_missing_buildrequires,
              test_failing_build, test_native_bad_inputs, test_native_dir_mode, test_host_inputs,
              test_payload_codecs, test_payload_memory, test_payload_cache_key, test_payload_spec, test_same_file,
              test_host_claims]:
        if len(sys.argv) <= 3 or t.__name__ in sys.argv[3:]:  # names: only those tests
            run_test(t)
finally:
    shutil.rmtree(BASE, ignore_errors=True)

finish("package", f" ({time.monotonic() - start:.1f}s)")
