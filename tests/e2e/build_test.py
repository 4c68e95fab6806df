#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`slipway build`: the same project in two directories gives the same bytes.

examples/minimal is copied to two directories of different depths and names
and built in each with the same SOURCE_DATE_EPOCH (and a different $TMPDIR);
every RPM and source RPM, the repository (repodata and key) and every image
output (raw, vhd, vhdx, qcow2, iso, oci.tar and the oci/ layout, wsl, cpio)
must be byte-identical. As root, the same again as an unprivileged user
(setpriv), whose builds go through a user namespace.

Usage: build_test.py SLIPWAY SOURCE_ROOT"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import check, finish, run_test, show

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


try:
    run_test(test_two_directories)
    run_test(test_unprivileged)
finally:
    shutil.rmtree(BASE, ignore_errors=True)
finish("build")
