#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`slipway build`: the same project in two directories gives the same bytes.

examples/minimal is copied to two directories of different depths and names
and built in each with the same SOURCE_DATE_EPOCH (and a different $TMPDIR);
every RPM and source RPM, the repository (repodata and key) and every image
output (raw, vhd, vhdx, qcow2, iso, oci.tar and the oci/ layout, wsl, cpio)
must be byte-identical. As root, the same again as an unprivileged user
(setpriv), whose builds go through a user namespace.

Then interrupted runs and shared temporary directories (issue 12), with small
generated projects: kill -9 and SIGTERM during rpmbuild (no process of the
build survives; the next run succeeds), SIGTERM and kill -9 during a disk
write (exit 143 and nothing left; the next run removes what kill -9 left), a
live run's temporaries kept by concurrent runs, and a 1777 $TMPDIR with
names planted by another user as links to a victim directory (as root and as
nobody).

Usage: build_test.py SLIPWAY SOURCE_ROOT [TEST...]   (names: only those tests)"""
import glob
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import check, finish, run_test, show, write

SLIPWAY, ROOT = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
EXAMPLE = os.path.join(ROOT, "examples", "minimal")
SDE = 1767225600

# What examples/minimal needs from the build host (scripts/debian-packages.txt).
for needed in ["rpm", "rpmbuild", "rpmspec", "gcc"]:
    if not shutil.which(needed):
        print(f"SKIP: {needed} missing")
        sys.exit(77)
for pattern in ["/bin/busybox", "/boot/vmlinuz-*", "/usr/lib/grub/i386-pc/boot.img",
                "/usr/lib/systemd/boot/efi/systemd-bootx64.efi", "/usr/lib/ISOLINUX/isolinux.bin"]:
    if not glob.glob(pattern):
        print(f"SKIP: {pattern} missing (scripts/setup.sh installs it)")
        sys.exit(77)

BASE = tempfile.mkdtemp(prefix="slipway-build-test-")
# Every image format the example makes, by how an output's name ends.
FORMATS = [".raw", ".vhd", ".vhdx", ".qcow2", ".iso", ".oci.tar", ".wsl", ".cpio.zst"]


def copy_example(*parts):
    d = os.path.join(BASE, *parts)
    shutil.copytree(EXAMPLE, d, symlinks=True, ignore=shutil.ignore_patterns("out"))
    return d


def build(proj, tmpdir, user=None):
    os.makedirs(tmpdir, exist_ok=True)
    e = dict(os.environ, LC_ALL="C", TMPDIR=tmpdir, SOURCE_DATE_EPOCH=str(SDE))
    argv = [SLIPWAY, "-C", proj, "build"]
    if user is not None:
        argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *argv]
        e["HOME"] = "/nonexistent"
    return subprocess.run(argv, capture_output=True, text=True, env=e, timeout=600)


def outputs(proj):
    """Relative path -> bytes of everything a user takes away: packages,
    source packages, the repository and the images (not logs or caches)."""
    out = os.path.join(proj, "out")
    r = {}
    for top in ["repo", "srpms", "images"]:
        for dirpath, _, files in os.walk(os.path.join(out, top)):
            for f in files:
                if f.startswith(".slipway-cache"):
                    continue  # the repository's cache: inodes and mtimes
                p = os.path.join(dirpath, f)
                with open(p, "rb") as fh:
                    r[os.path.relpath(p, out)] = fh.read()
    return r


def rpm_dump(path):
    p = subprocess.run(["rpm", "-qp", "--xml", path], capture_output=True, text=True)
    return p.stdout.splitlines()


def explain(name, a_proj, b_proj):
    """For a differing RPM, the header lines that differ."""
    if not name.endswith(".rpm"):
        return ""
    a = rpm_dump(os.path.join(a_proj, "out", name))
    b = rpm_dump(os.path.join(b_proj, "out", name))
    lines = [f"-{x}\n+{y}" for x, y in zip(a, b) if x != y][:6]
    return "\n" + "\n".join(lines)


def compare(label, a_proj, b_proj):
    a, b = outputs(a_proj), outputs(b_proj)
    check(f"{label}: same output files", sorted(a) == sorted(b),
          f"only in the first: {sorted(set(a) - set(b))[:10]}, only in the second: {sorted(set(b) - set(a))[:10]}")
    names = sorted(a)
    check(f"{label}: binary and source RPMs were built",
          any(n.startswith("repo/Packages/") and n.endswith(".rpm") for n in names) and
          any(n.startswith("srpms/") and n.endswith(".src.rpm") for n in names), f"{names[:20]}")
    check(f"{label}: repodata was written", "repo/repodata/repomd.xml" in a and "repo/repodata/repomd.xml.asc" in a,
          f"{names[:20]}")
    for suffix in FORMATS:
        check(f"{label}: a {suffix} image was written", any(n.endswith(suffix) for n in names), f"{names}")
    check(f"{label}: an OCI layout with blobs was written",
          any("/blobs/sha256/" in n for n in names) and any(n.endswith(".oci/index.json") for n in names),
          f"{names}")
    differ = [n for n in names if n in b and a[n] != b[n]]
    check(f"{label}: every output byte-identical ({len(names)} files)", not differ,
          f"{len(differ)} differ: {differ[:12]}" + "".join(explain(n, a_proj, b_proj) for n in differ[:3]))


def no_path_in_specs(label, proj, path):
    """The expanded spec a source RPM records names no directory of the build host."""
    bad = []
    for s in glob.glob(os.path.join(proj, "out", "srpms", "*.src.rpm")):
        p = subprocess.run(["rpm", "-qp", "--qf", "%{SPEC}", s], capture_output=True, text=True)
        if path in p.stdout or p.returncode != 0:
            bad.append(os.path.basename(s))
    check(f"{label}: no source RPM records '{path}'", not bad, f"{bad}")


def no_scratch_left(label, tmpdir):
    left = os.listdir(tmpdir)
    check(f"{label}: no scratch directory left in $TMPDIR", not left, f"{left}")


ROOT_BUILD = None  # test_two_directories' second project, built as root


def test_two_directories():
    a = copy_example("a", "x")
    b = copy_example("bb", "yy", "zz", "another-name")
    ta, tb = os.path.join(BASE, "tmp-a"), os.path.join(BASE, "t", "mp", "b")
    for label, proj, tmp in [("first", a, ta), ("second", b, tb)]:
        p = build(proj, tmp)
        if not check(f"build in the {label} directory", p.returncode == 0, show(p)):
            return
        no_scratch_left(f"{label} build", tmp)
        no_path_in_specs(f"{label} build", proj, BASE)
    compare("two directories", a, b)
    global ROOT_BUILD
    ROOT_BUILD = b
    metadata_from_scratch(a, b)


def repodata(proj):
    d = os.path.join(proj, "out", "repo", "repodata")
    r = {}
    for f in sorted(os.listdir(d)):
        if not f.startswith(".slipway-cache"):
            with open(os.path.join(d, f), "rb") as fh:
                r[f] = fh.read()
    return r


def metadata_from_scratch(a, b):
    """The repository metadata depends on the packages and SOURCE_DATE_EPOCH,
    not on when their files were written: a's repodata made again from
    nothing, its RPMs' mtimes set apart (each later than SOURCE_DATE_EPOCH,
    as a build's are), gives b's bytes: repomd.xml, primary, filelists,
    other and the Ed25519 repomd.xml.asc."""
    want = repodata(b)
    shutil.rmtree(os.path.join(a, "out", "repo", "repodata"))
    pk = os.path.join(a, "out", "repo", "Packages")
    for i, f in enumerate(sorted(os.listdir(pk))):
        t = SDE + 86400 * (i + 1) + 17 * i
        os.utime(os.path.join(pk, f), (t, t))
    e = dict(os.environ, LC_ALL="C", SOURCE_DATE_EPOCH=str(SDE))
    p = subprocess.run([SLIPWAY, "-C", a, "repo"], capture_output=True, text=True, env=e, timeout=120)
    if not check("repodata from scratch, other mtimes: slipway repo", p.returncode == 0, show(p)):
        return
    got = repodata(a)
    check("repodata from scratch: repomd.xml, its signature and the three documents",
          "repomd.xml.asc" in got and sum(1 for f in got if ".xml." in f and f != "repomd.xml.asc") == 3,
          sorted(got))
    differ = sorted(f for f in set(got) | set(want) if got.get(f) != want.get(f))
    check("repodata from scratch, other mtimes: byte-identical to the other build's", not differ, f"differ: {differ}")


def test_unprivileged():
    """As nobody, rpmbuild's namespaces are made inside a user namespace."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        print("SKIP test_unprivileged: needs root and setpriv")
        return
    nobody = 65534
    top = os.path.join(BASE, "nobody")
    os.makedirs(top)
    os.chmod(BASE, 0o755)
    a = copy_example("nobody", "one", "x")
    b = copy_example("nobody", "t", "w", "o", "y")
    ta, tb = os.path.join(top, "tmp-a"), os.path.join(top, "tmp-b")
    os.makedirs(ta)
    os.makedirs(tb)
    for dirpath, dirs, files in os.walk(top):
        for n in [dirpath] + [os.path.join(dirpath, f) for f in files]:
            os.lchown(n, nobody, nobody)
    for label, proj, tmp in [("first", a, ta), ("second", b, tb)]:
        p = build(proj, tmp, user=nobody)
        if not check(f"unprivileged build in the {label} directory", p.returncode == 0, show(p)):
            return
        no_scratch_left(f"unprivileged {label} build", tmp)
    compare("unprivileged, two directories", a, b)
    # Who builds does not matter either: the build sees its files owned by
    # root whoever runs it (a source RPM records their owners).
    if ROOT_BUILD:
        compare("as root and as nobody", ROOT_BUILD, a)


# ---- interrupted runs and shared temporary directories (issue 12) ----------

TOKEN = str(random.randrange(100000, 999999))
SLEEP = f"300.{TOKEN}"  # the sleeping build's `sleep` argument: its processes are found by it


def robust_project(name, big_mib=0, where=None):
    """A spec component that sleeps while its `slow` file exists (the file is
    in the spec's directory, which the build sees), a native one (with a file
    of big_mib MiB of random data when asked, stored uncompressed) and images:
    a tar of both, and with big_mib a raw and a qcow2 disk of the big file."""
    d = where or os.path.join(BASE, name)
    spec = f"""Name: sleeper
Version: 1
Release: 1
Summary: Sleeps when asked
License: MIT
BuildArch: noarch
Source0: sleeper.txt

%description
Sleeps when asked.

%build
if [ -e %{{_sourcedir}}/slow ]; then echo SLEEPING; sleep {SLEEP} || echo WOKEN; fi

%install
install -D -m 0644 %{{SOURCE0}} %{{buildroot}}/usr/share/sleeper/sleeper.txt

%files
/usr/share/sleeper/sleeper.txt
"""
    toml = f"""[project]
name = "{name}"
version = "1"
source-date-epoch = {SDE}
payload = "w.ufdio"

[components.sleeper]
spec = "sleeper/sleeper-{TOKEN}.spec"

[components.data]
version = "1"
summary = "Data"
license = "MIT"
arch = "noarch"

[[components.data.files]]
source = "files"
path = "/srv/data"
mode = "0644"

[images.box]
formats = ["tar"]
packages = ["sleeper", "data"]
"""
    if big_mib:
        toml += f"""
[images.disk]
formats = ["raw", "qcow2"]
packages = ["data"]
boot = "none"
size = "{big_mib + 64}M"

[[images.disk.partitions]]
label = "root"
type = "root"
size = "grow"
"""
    write(os.path.join(d, "slipway.toml"), toml)
    write(os.path.join(d, "sleeper", f"sleeper-{TOKEN}.spec"), spec)
    write(os.path.join(d, "sleeper", "sleeper.txt"), "zzz\n")
    write(os.path.join(d, "files", "small.txt"), "small\n")
    if big_mib:
        with open(os.path.join(d, "files", "big.bin"), "wb") as f:
            for _ in range(big_mib):
                f.write(os.urandom(1 << 20))
    return d


def start(proj, tmpdir, *args, user=None):
    os.makedirs(tmpdir, exist_ok=True)
    e = dict(os.environ, LC_ALL="C", TMPDIR=tmpdir, SOURCE_DATE_EPOCH=str(SDE))
    argv = [SLIPWAY, "-C", proj, *(args or ("build",))]
    if user is not None:
        # setpriv execs slipway: the pid is slipway's.
        argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *argv]
        e["HOME"] = "/nonexistent"
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)


def run(proj, tmpdir, *args):
    p = start(proj, tmpdir, *args)
    out, err = p.communicate(timeout=600)
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def wait_for(what, timeout=120):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = what()
        if v:
            return v
        time.sleep(0.01)
    return None


def sleeping(proj):
    log = os.path.join(proj, "out", "logs", "sleeper.log")
    return os.path.exists(log) and "SLEEPING" in open(log, errors="replace").read()


def build_processes():
    """pids of processes of the sleeping build: rpmbuild (its spec's name) and
    the sleep (its argument)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if SLEEP in argv or any(f"sleeper-{TOKEN}.spec" in a for a in argv):
            found.append(int(pid))
    return found


def debris(proj, tmpdir):
    """Temporaries left in the output directory and in $TMPDIR."""
    left = [os.path.relpath(os.path.join(dp, n), proj)
            for dp, dirs, files in os.walk(os.path.join(proj, "out"))
            for n in dirs + files if re.search(r"\.(tmp|disk)\.[A-Za-z0-9]{6}$|^\.slipway-tmp-", n)]
    return left + [os.path.join("$TMPDIR", n) for n in os.listdir(tmpdir)]


def test_kill9_during_rpmbuild(user=None):
    """kill -9 of slipway while rpmbuild runs: nothing of that build lives on,
    and the next run succeeds and leaves nothing behind."""
    label = "" if user is None else "as nobody, "
    proj = robust_project("kill9-rpmbuild" + ("" if user is None else "-nobody"))
    tmp = os.path.join(BASE, "tmp-kill9-rpmbuild" + ("" if user is None else "-nobody"))
    write(os.path.join(proj, "sleeper", "slow"), "")
    if user is not None:
        os.makedirs(tmp)
        os.chmod(BASE, 0o755)
        for top in [proj, tmp]:
            for dp, dirs, files in os.walk(top):
                for n in [dp] + [os.path.join(dp, f) for f in files]:
                    os.lchown(n, user, user)
    p = start(proj, tmp, user=user)
    try:
        if not check(f"kill -9 during rpmbuild: {label}the build sleeps", wait_for(lambda: sleeping(proj)), "no SLEEPING"):
            return
        check(f"kill -9 during rpmbuild: {label}its processes are seen", build_processes(), "none found")
        p.kill()
        p.wait()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    left = wait_for(lambda: not build_processes(), timeout=10)
    check(f"kill -9 during rpmbuild: {label}no process of the killed build survives", left, f"{build_processes()}")
    for pid in build_processes():
        os.kill(pid, signal.SIGKILL)
    os.remove(os.path.join(proj, "sleeper", "slow"))
    p = start(proj, tmp, user=user)
    out, err = p.communicate(timeout=600)
    r = subprocess.CompletedProcess(p.args, p.returncode, out, err)
    check(f"kill -9 during rpmbuild: {label}the next run succeeds", r.returncode == 0, show(r))
    check(f"kill -9 during rpmbuild: {label}no debris after the next run", not debris(proj, tmp), f"{debris(proj, tmp)}")


def test_kill9_during_rpmbuild_unprivileged():
    """The same as nobody: rpmbuild's namespaces are then made in a user
    namespace, and its parent-death signals must survive that."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        print("SKIP test_kill9_during_rpmbuild_unprivileged: needs root and setpriv")
        return
    test_kill9_during_rpmbuild(user=65534)


def test_sigterm_during_rpmbuild():
    """SIGTERM while rpmbuild runs: slipway stops the build (all of its PID
    namespace) before it exits 143, and removes its scratch directory."""
    proj = robust_project("sigterm-rpmbuild")
    tmp = os.path.join(BASE, "tmp-sigterm-rpmbuild")
    write(os.path.join(proj, "sleeper", "slow"), "")
    p = start(proj, tmp)
    try:
        if not check("SIGTERM during rpmbuild: the build sleeps", wait_for(lambda: sleeping(proj)), "no SLEEPING"):
            return
        p.terminate()
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    check("SIGTERM during rpmbuild: exit 143", p.returncode == 143, f"exit {p.returncode}: {err[-800:]}")
    check("SIGTERM during rpmbuild: no process of the build is left when slipway exits", not build_processes(),
          f"{build_processes()}")
    check("SIGTERM during rpmbuild: nothing left in $TMPDIR or the output", not debris(proj, tmp),
          f"{debris(proj, tmp)}")
    os.remove(os.path.join(proj, "sleeper", "slow"))
    r = run(proj, tmp)
    check("SIGTERM during rpmbuild: the next run succeeds", r.returncode == 0, show(r))


def disk_writing(proj):
    out = os.path.join(proj, "out")
    images = os.path.join(out, "images")
    names = os.listdir(out) + (os.listdir(images) if os.path.isdir(images) else [])
    return any(re.search(r"\.(disk|tmp)\.[A-Za-z0-9]{6}$", n) and (".disk." in n or ".raw." in n or ".qcow2." in n)
               for n in names)


def interrupt_disk_write(label, sig):
    proj = robust_project(f"{label}-disk", big_mib=160)
    tmp = os.path.join(BASE, f"tmp-{label}-disk")
    r = run(proj, tmp, "package")
    if not check(f"{label} during a disk write: the packages build", r.returncode == 0, show(r)):
        return None
    p = start(proj, tmp, "image", "disk")
    try:
        caught = wait_for(lambda: disk_writing(proj) or p.poll() is not None)
        check(f"{label} during a disk write: caught it writing", caught and p.poll() is None,
              f"exit {p.poll()}; out: {os.listdir(os.path.join(proj, 'out'))}")
        os.kill(p.pid, sig)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return proj, tmp, p, err


def test_sigterm_during_disk_write():
    """SIGTERM while a disk image is written: slipway removes its temporaries
    and exits 143; the next run succeeds and nothing is left."""
    got = interrupt_disk_write("sigterm", signal.SIGTERM)
    if not got:
        return
    proj, tmp, p, err = got
    check("SIGTERM during a disk write: exit 143 (128 + SIGTERM)", p.returncode == 143, f"exit {p.returncode}: {err}")
    check("SIGTERM during a disk write: says so", "interrupted by SIGTERM" in err, err)
    check("SIGTERM during a disk write: its temporaries are removed", not debris(proj, tmp), f"{debris(proj, tmp)}")
    r = run(proj, tmp, "image", "disk")
    check("SIGTERM during a disk write: the next run succeeds", r.returncode == 0, show(r))
    check("SIGTERM during a disk write: no debris after the next run", not debris(proj, tmp), f"{debris(proj, tmp)}")


def test_kill9_during_disk_write():
    """kill -9 while a disk image is written: the next run removes what it left."""
    got = interrupt_disk_write("kill9", signal.SIGKILL)
    if not got:
        return
    proj, tmp, p, err = got
    left = debris(proj, tmp)
    check("kill -9 during a disk write: temporaries were left (the case this tests)", left, "none")
    r = run(proj, tmp, "image", "disk")
    check("kill -9 during a disk write: the next run succeeds", r.returncode == 0, show(r))
    check("kill -9 during a disk write: no debris after the next run", not debris(proj, tmp), f"{debris(proj, tmp)}")


def test_live_run_kept():
    """A run removes nothing of a live run: not its private directory in the
    shared $TMPDIR, not the temporaries in the output directory it is using."""
    proj = robust_project("live")
    other = robust_project("live-other")
    tmp = os.path.join(BASE, "tmp-live")
    write(os.path.join(proj, "sleeper", "slow"), "")
    p = start(proj, tmp)
    try:
        if not check("live run: the build sleeps", wait_for(lambda: sleeping(proj)), "no SLEEPING"):
            return
        mine = os.listdir(tmp)
        check("live run: one private directory in $TMPDIR", len(mine) == 1 and mine[0].startswith("slipway-run."),
              f"{mine}")
        # A temporary in the live run's output directory (its own would be
        # like this one: a name beside a final path).
        planted = os.path.join(proj, "out", "images", "box.tar.zst.tmp.AbC123")
        write(planted, "in progress\n")
        r = run(other, tmp)  # another project, the same $TMPDIR
        check("live run: another project builds meanwhile", r.returncode == 0, show(r))
        r = run(proj, tmp, "image", "box")  # the same output directory
        check("live run: the live run's directory in $TMPDIR is kept", all(os.path.isdir(os.path.join(tmp, m))
                                                                         for m in mine), f"{os.listdir(tmp)}")
        check("live run: the temporary in its output directory is kept", os.path.exists(planted), "removed")
        os.remove(os.path.join(proj, "sleeper", "slow"))
        for pid in build_processes():
            if open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[0] == b"sleep":
                os.kill(pid, signal.SIGTERM)  # wakes the build: it then finishes
        out, err = p.communicate(timeout=300)
        check("live run: it finishes", p.returncode == 0, f"exit {p.returncode}: {err[-1500:]}")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    r = run(proj, tmp)
    check("live run: a run alone in the output directory removes the leftover", r.returncode == 0 and
          not os.path.exists(planted), show(r))
    check("live run: no debris", not debris(proj, tmp) and not debris(other, tmp),
          f"{debris(proj, tmp)} {debris(other, tmp)}")


def test_planted_tmpdir():
    """A shared $TMPDIR (mode 1777) in which another user planted the names
    slipway once used (slipway-UID/PROJECT, predictable) and ones like its
    own, as symbolic links to a victim directory and as directories of
    theirs: builds succeed and touch none of it."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        print("SKIP test_planted_tmpdir: needs root and setpriv (to plant as another user)")
        return
    nobody = 65534

    def plant(top, owner, victim_owner):
        shared = os.path.join(top, "shared")
        victim = os.path.join(top, "victim")
        os.makedirs(shared)
        os.chmod(shared, 0o1777)
        for rel, text in [("sleeper/keep.txt", "victim\n"), ("data/keep.txt", "victim\n"), ("lock", ""),
                          ("rpmbuild/SOURCES/keep.txt", "victim\n"), ("keep.txt", "victim\n")]:
            write(os.path.join(victim, rel), text)
        for uid in sorted({0, nobody}):
            os.symlink(victim, os.path.join(shared, f"slipway-{uid}"))
        os.makedirs(os.path.join(shared, "theirs", "x"))
        for name in ["slipway-run.AAAAAA", "slipway-build.AAAAAA", "slipway-rpmdb.AAAAAA"]:
            os.symlink(victim, os.path.join(shared, name))
        theirs = os.path.join(shared, "slipway-run.BBBBBB")
        write(os.path.join(theirs, "lock"), "")
        write(os.path.join(theirs, "build.CCCCCC", "keep.txt"), "theirs\n")
        for dp, dirs, files in os.walk(shared):
            for n in [dp] + [os.path.join(dp, f) for f in dirs + files]:
                if n != shared:
                    os.lchown(n, owner, owner)
        for dp, dirs, files in os.walk(victim):
            for n in [dp] + [os.path.join(dp, f) for f in dirs + files]:
                os.lchown(n, victim_owner, victim_owner)
        return shared, victim

    def state(d):
        r = {}
        for dp, dirs, files in os.walk(d):
            for n in dirs + files:
                p = os.path.join(dp, n)
                st = os.lstat(p)
                r[os.path.relpath(p, d)] = (st.st_mode, st.st_uid, os.readlink(p) if os.path.islink(p) else
                                            open(p, "rb").read() if os.path.isfile(p) else None)
        return r

    for label, builder, planter in [("as root, planted by nobody", None, nobody),
                                    ("as nobody, planted by root", nobody, 0)]:
        top = os.path.join(BASE, "planted-" + ("root" if builder is None else "nobody"))
        os.makedirs(top)
        os.chmod(BASE, 0o755)
        shared, victim = plant(top, planter, 0)
        proj = robust_project("planted", where=os.path.join(top, "proj"))
        if builder is not None:
            for dp, dirs, files in os.walk(proj):
                for n in [dp] + [os.path.join(dp, f) for f in files]:
                    os.lchown(n, builder, builder)
        before_victim, before_shared = state(victim), state(shared)
        p = build(proj, shared, user=builder)
        check(f"planted $TMPDIR, {label}: the build succeeds", p.returncode == 0, show(p))
        check(f"planted $TMPDIR, {label}: the victim directory is untouched", state(victim) == before_victim,
              f"{sorted(state(victim))}")
        check(f"planted $TMPDIR, {label}: the planted names are untouched", state(shared) == before_shared,
              f"now {sorted(state(shared))}, was {sorted(before_shared)}")


try:
    tests = [test_two_directories, test_unprivileged, test_planted_tmpdir, test_kill9_during_rpmbuild,
             test_kill9_during_rpmbuild_unprivileged, test_sigterm_during_rpmbuild,
             test_sigterm_during_disk_write, test_kill9_during_disk_write, test_live_run_kept]
    for t in tests:
        if len(sys.argv) <= 3 or t.__name__ in sys.argv[3:]:  # names: only those tests
            run_test(t)
finally:
    shutil.rmtree(BASE, ignore_errors=True)
finish("build")
