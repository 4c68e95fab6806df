#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`slipway inspect`: RPMs from `slipway package` (checked against rpm -qp),
signed RPMs (the key ID rpm reports), repositories from `slipway repo`
(checked against repomd.xml and primary), images made with the real tools
(tar, cpio, gzip, zstd, umoci: rootfs tarballs, .wsl, initrds, OCI layouts and
oci-archives; every entry checked against Python's tarfile or the source
tree), an rpm database written by rpm itself (`rpm -i --justdb`), disk
images from `slipway image` (raw, VHD, VHDX, qcow2 and a hybrid ISO; GPT
checked against sfdisk, the ESP against mdir, ext4 against debugfs, ISO 9660
against xorriso, packages against rpm -qa; the same disk converted by
qemu-img, compressed qcow2 included, reads the same), and bad input: garbage,
empty, truncated and corrupted files must give exit status 1 with a message
naming the file, never a crash.

Everything happens in a temporary directory. Usage: inspect_test.py SLIPWAY SOURCE_ROOT"""
import gzip
import hashlib
import json
import os
import random
import shutil
import sqlite3
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import check, finish, read, run_test, show, write

SLIPWAY, ROOT = os.path.abspath(sys.argv[1]), sys.argv[2]

for needed in ["rpm", "tar", "cpio", "gzip", "zstd"]:
    if not shutil.which(needed):
        print(f"SKIP: {needed} missing")
        sys.exit(77)
HAVE_UMOCI = shutil.which("umoci") is not None

SDE = 1700000000
BASE = tempfile.mkdtemp(prefix="slipway-inspect-test-")
TMPDIR = os.path.join(BASE, "tmp")
os.makedirs(TMPDIR)
DBPATH = "/usr/lib/sysimage/rpm"
NS = {"c": "http://linux.duke.edu/metadata/common", "r": "http://linux.duke.edu/metadata/repo"}


def slipway(*args, timeout=120):
    e = dict(os.environ, LC_ALL="C", TMPDIR=TMPDIR, SOURCE_DATE_EPOCH=str(SDE))
    return subprocess.run([SLIPWAY, *args], capture_output=True, encoding="utf-8", errors="replace", env=e,
                          timeout=timeout)


def inspect_json(path):
    p = slipway("--json", "inspect", path)
    try:
        return p, json.loads(p.stdout)
    except ValueError:
        return p, None


def tool(*args, check_rc=True, **kw):
    e = dict(os.environ, LC_ALL="C", TZ="UTC")
    p = subprocess.run(list(args), capture_output=True, encoding="utf-8", errors="replace", timeout=120, env=e, **kw)
    if check_rc and p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {p.returncode}: {p.stderr[-1000:]}")
    return p


def path(*parts):
    return os.path.join(BASE, *parts)


def by_path(doc):
    return {f["path"]: f for f in doc.get("files", [])} if doc else {}


# ---------------------------------------------------------------------------
# Inputs: two native packages, a repository, a root file system with an rpm
# database, and archives of it in every format.

PROJECT_TOML = f"""[project]
name = "insp"
version = "1"
source-date-epoch = {SDE}

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

[components.extra]
version = "0.5"
release = "1"
summary = "Another package"
license = "GPL-2.0-only"
arch = "noarch"
"""

MOTD = None   # path of motd's RPM
EXTRA = None  # path of extra's RPM
REPO = None
ROOTFS = None
ARCHIVES = {}  # name -> (path, expected format, expected compression)


def setup():
    global MOTD, EXTRA, REPO, ROOTFS
    proj = path("proj")
    write(os.path.join(proj, "slipway.toml"), PROJECT_TOML)
    write(os.path.join(proj, "files", "motd"), "Welcome\n")
    write(os.path.join(proj, "files", "state"), "0\n")
    write(os.path.join(proj, "files", "data", "run.sh"), "#!/bin/sh\necho hi\n", mode=0o755)
    write(os.path.join(proj, "files", "data", "notes.txt"), "notes\n")
    os.symlink("run.sh", os.path.join(proj, "files", "data", "link"))
    p = slipway("-C", proj, "package")
    if not check("setup: slipway package", p.returncode == 0, show(p)):
        return False
    REPO = os.path.join(proj, "out", "repo")
    MOTD = os.path.join(REPO, "Packages", "motd-2.0-3.noarch.rpm")
    EXTRA = os.path.join(REPO, "Packages", "extra-0.5-1.noarch.rpm")
    if not check("setup: packages built", os.path.exists(MOTD) and os.path.exists(EXTRA), os.listdir(REPO)):
        return False

    # The root file system: a setuid binary, a symlink, a hard link, a file
    # owned by 1000:1001 (given to tar below), and an rpm database that rpm
    # itself writes.
    ROOTFS = path("rootfs")
    write(os.path.join(ROOTFS, "etc", "hostname"), "box\n")
    write(os.path.join(ROOTFS, "home", "user", "owned"), "mine\n", mode=0o600)
    write(os.path.join(ROOTFS, "usr", "bin", "tool"), "#!/bin/sh\n", mode=0o755)
    os.chmod(os.path.join(ROOTFS, "usr", "bin", "tool"), 0o4755)
    os.symlink("tool", os.path.join(ROOTFS, "usr", "bin", "tool-link"))
    os.makedirs(os.path.join(ROOTFS, "var", "empty"))
    os.chmod(os.path.join(ROOTFS, "var", "empty"), 0o711)
    for pkg in [MOTD, EXTRA]:
        tool("rpm", "--root", ROOTFS, "--dbpath", DBPATH, "-i", "--justdb", "--nodeps", "--noscripts",
             "--notriggers", pkg)
    db = os.path.join(ROOTFS, DBPATH.lstrip("/"), "rpmdb.sqlite")
    if not check("setup: rpm wrote rpmdb.sqlite", os.path.exists(db), os.listdir(os.path.dirname(db))):
        return False

    img = path("img")
    os.makedirs(img)
    tarball = os.path.join(img, "root.tar")
    # Everything as 0:0, then home/user/owned appended as 1000:1001 (rootless).
    tool("tar", "-C", ROOTFS, "--numeric-owner", "--owner=0", "--group=0", "--exclude=./home/user/owned", "-cf",
         tarball, ".")
    tool("tar", "-C", ROOTFS, "--numeric-owner", "--owner=1000", "--group=1001", "-rf", tarball, "./home/user/owned")
    tool("zstd", "-q", "-19", tarball, "-o", os.path.join(img, "root.tar.zst"))
    with open(tarball, "rb") as f, open(os.path.join(img, "root.wsl"), "wb") as g:
        g.write(gzip.compress(f.read(), mtime=0))
    shutil.copy(os.path.join(img, "root.wsl"), os.path.join(img, "root.tar.gz"))
    # Named as something else entirely: detection is by content.
    shutil.copy(os.path.join(img, "root.tar.zst"), os.path.join(img, "misnamed.cpio.gz"))
    names = tool("sh", "-c", "cd '%s' && find . | LC_ALL=C sort" % ROOTFS).stdout
    cpio = os.path.join(img, "initrd.cpio")
    with open(cpio, "wb") as f:
        subprocess.run(["cpio", "--quiet", "-o", "-H", "newc"], input=names.encode(), cwd=ROOTFS, stdout=f,
                       check=True, timeout=120)
    tool("zstd", "-q", cpio, "-o", os.path.join(img, "initrd.cpio.zst"))
    odc = os.path.join(img, "old.cpio")
    with open(odc, "wb") as f:
        subprocess.run(["cpio", "--quiet", "-o", "-H", "odc"], input=names.encode(), cwd=ROOTFS, stdout=f,
                       check=True, timeout=120)
    with open(cpio, "rb") as f, open(os.path.join(img, "initrd.cpio.gz"), "wb") as g:
        g.write(gzip.compress(f.read(), mtime=0))
    ARCHIVES.update({
        "tar": (tarball, "tar", "none"),
        "tar.zst": (os.path.join(img, "root.tar.zst"), "tar", "zstd"),
        "tar.gz": (os.path.join(img, "root.tar.gz"), "tar", "gzip"),
        "wsl": (os.path.join(img, "root.wsl"), "tar", "gzip"),
        "misnamed": (os.path.join(img, "misnamed.cpio.gz"), "tar", "zstd"),
        "cpio": (cpio, "cpio", "none"),
        "cpio.zst": (os.path.join(img, "initrd.cpio.zst"), "cpio", "zstd"),
        "cpio.gz": (os.path.join(img, "initrd.cpio.gz"), "cpio", "gzip"),
        "cpio odc": (odc, "cpio", "none"),
    })
    return True


def rpm_packages(root):
    """(name, epoch or None, version, release, arch) of every package rpm lists in root."""
    out = tool("rpm", "--root", root, "--dbpath", DBPATH, "-qa", "--qf",
               "%{NAME} %{EPOCH} %{VERSION} %{RELEASE} %{ARCH}\n").stdout
    r = []
    for line in out.splitlines():
        n, e, v, rel, a = line.split(" ")
        r.append((n, None if e == "(none)" else int(e), v, rel, a))
    return sorted(r)


def json_packages(doc):
    return sorted((p["name"], p["epoch"], p["version"], p["release"], p["arch"]) for p in doc["packages"])


# ---------------------------------------------------------------------------

def test_rpm():
    p, doc = inspect_json(MOTD)
    if not check("rpm: --json exit 0", p.returncode == 0 and doc is not None, show(p)):
        return
    check("rpm: kind and format", doc["kind"] == "rpm" and doc["format"] == "rpm", doc["kind"])
    pk = doc["packages"][0]
    q = tool("rpm", "-qp", "--qf", "%{NAME}|%{EPOCH}|%{VERSION}|%{RELEASE}|%{ARCH}|%{SUMMARY}|%{LICENSE}", MOTD).stdout
    got = f"{pk['name']}|{pk['epoch']}|{pk['version']}|{pk['release']}|{pk['arch']}|{pk['summary']}|{pk['license']}"
    check("rpm: NEVRA, summary, license as rpm -qp", got == q, f"{got} vs {q}")
    check("rpm: nevra", pk["nevra"] == "motd-1:2.0-3.noarch", pk["nevra"])
    check("rpm: unsigned", pk["signature"] is None, pk["signature"])
    req = sorted(l for l in tool("rpm", "-qp", "--requires", MOTD).stdout.splitlines() if l)
    check("rpm: requires as rpm -qpR", sorted(pk["requires"]) == req, f"{pk['requires']} vs {req}")
    prov = sorted(l for l in tool("rpm", "-qp", "--provides", MOTD).stdout.splitlines() if l)
    check("rpm: provides as rpm -qp --provides", sorted(pk["provides"]) == prov, f"{pk['provides']} vs {prov}")
    check("rpm: conflicts", pk["conflicts"] == ["oldmotd < 1.0"], pk["conflicts"])

    # Every file against rpm --dump: path size mtime digest mode owner group isconfig isdoc rdev symlink.
    dump = {}
    for line in tool("rpm", "-qp", "--dump", MOTD).stdout.splitlines():
        f = line.split(" ")
        dump[f[0]] = f
    files = by_path(doc)
    check("rpm: the files of rpm --dump", sorted(files) == sorted(dump), f"{sorted(files)} vs {sorted(dump)}")
    for fp, d in dump.items():
        f = files.get(fp)
        if not f:
            continue
        mode = int(d[4], 8)
        want = {"mode": "%04o" % (mode & 0o7777), "user": d[5], "group": d[6], "size": int(d[1]),
                "target": None if d[10] == "X" else d[10], "config": d[7] == "1"}
        have = {"mode": f["mode"], "user": f["user"], "group": f["group"], "size": f["size"], "target": f["target"],
                "config": "config" in f["flags"]}
        check(f"rpm: {fp} as rpm --dump", want == have, f"{have} vs {want}")
    check("rpm: types", files["/usr/share/motd"]["type"] == "directory" and
          files["/usr/share/motd/link"]["type"] == "symlink" and files["/etc/motd"]["type"] == "file", files)
    check("rpm: %config(noreplace) flags", files["/etc/motd"]["flags"] == ["config", "noreplace"],
          files["/etc/motd"]["flags"])

    t = slipway("inspect", MOTD)
    out = t.stdout
    check("rpm: text exit 0", t.returncode == 0, show(t))
    check("rpm: text names the package", "package      motd-1:2.0-3.noarch" in out, out)
    check("rpm: text signature", "signature    unsigned" in out, out)
    check("rpm: text requires", "bash >= 5.0" in out and "motd-data = 2.0" in out, out)
    check("rpm: text config file", any(l.startswith("-rw-r--r--") and "/etc/motd" in l and "%config(noreplace)" in l
                                       for l in out.splitlines()), out)
    check("rpm: text owner", any(l.startswith("-rw-r-----") and " games " in l and " man " in l and
                                 l.endswith("/var/lib/motd/state") for l in out.splitlines()), out)
    check("rpm: text symlink", any(l.startswith("lrwxrwxrwx") and l.endswith("/usr/share/motd/link -> run.sh")
                                   for l in out.splitlines()), out)
    check("rpm: text executable", any(l.startswith("-rwxr-xr-x") and l.endswith("/usr/share/motd/run.sh")
                                      for l in out.splitlines()), out)
    check("rpm: text directory", any(l.startswith("drwxr-xr-x") and l.endswith("/usr/share/motd")
                                     for l in out.splitlines()), out)


def test_rpm_signed():
    key = path("keys", "k")
    os.makedirs(os.path.dirname(key), exist_ok=True)
    p = slipway("keygen", "--uid", "Inspect Test <inspect@example.org>", "-o", key)
    if not check("signed: keygen", p.returncode == 0, show(p)):
        return
    signed = path("signed.rpm")
    shutil.copy(MOTD, signed)
    p = slipway("sign", "--key", key + ".asc", signed)
    if not check("signed: sign", p.returncode == 0, show(p)):
        return
    # rpm prints "..., Key ID 0123456789abcdef".
    sig = tool("rpm", "-qp", "--qf", "%{DSAHEADER:pgpsig}%{RSAHEADER:pgpsig}", signed).stdout
    want = sig.rsplit("Key ID ", 1)[-1].replace("(none)", "").strip().upper()
    p, doc = inspect_json(signed)
    got = doc and doc["packages"][0]["signature"]
    check("signed: key ID as rpm reports it", got == {"tag": "DSAHEADER", "key_id": want}, f"{got} vs {want}")
    t = slipway("inspect", signed)
    check("signed: text", f"signature    key {want} (DSAHEADER)" in t.stdout, show(t))


def test_repository():
    repo = path("repo")
    shutil.copytree(REPO, repo)
    shutil.rmtree(os.path.join(repo, "repodata"))
    p = slipway("repo", repo)
    if not check("repo: slipway repo", p.returncode == 0, show(p)):
        return
    p, doc = inspect_json(repo)
    if not check("repo: --json exit 0", p.returncode == 0 and doc is not None, show(p)):
        return
    check("repo: kind", doc["kind"] == "repository" and doc["signed"] is False, doc)
    md = ET.fromstring(read(os.path.join(repo, "repodata", "repomd.xml")))
    want_md = sorted((d.get("type"), d.find("r:location", NS).get("href"), d.find("r:checksum", NS).text)
                     for d in md.findall("r:data", NS))
    got_md = sorted((m["type"], m["href"], m["checksum"]) for m in doc["metadata"])
    check("repo: metadata as repomd.xml", got_md == want_md, f"{got_md} vs {want_md}")
    primary = [h for t, h, _ in want_md if t == "primary"][0]
    raw = tool("zstd", "-dc", os.path.join(repo, primary), check_rc=True).stdout if primary.endswith(".zst") \
        else gzip.decompress(read(os.path.join(repo, primary))).decode()
    pr = ET.fromstring(raw)
    want_pk = sorted((p.find("c:name", NS).text, p.find("c:location", NS).get("href"), p.find("c:checksum", NS).text,
                      p.find("c:arch", NS).text, p.find("c:version", NS).get("ver"))
                     for p in pr.findall("c:package", NS))
    got_pk = sorted((p["name"], p["href"], p["checksum"], p["arch"], p["version"]) for p in doc["packages"])
    check("repo: packages as primary", got_pk == want_pk, f"{got_pk} vs {want_pk}")
    check("repo: checksums are of the files",
          all(hashlib.sha256(read(os.path.join(repo, p["href"]))).hexdigest() == p["checksum"]
              for p in doc["packages"]), doc["packages"])
    check("repo: epoch", {p["name"]: p["epoch"] for p in doc["packages"]} == {"motd": 1, "extra": None},
          doc["packages"])
    t = slipway("inspect", repo)
    check("repo: text", t.returncode == 0 and "signed       no" in t.stdout and "motd-1:2.0-3.noarch" in t.stdout
          and "Packages/extra-0.5-1.noarch.rpm" in t.stdout and "primary" in t.stdout, show(t))

    # Signed: repomd.xml.asc is seen.
    p = slipway("repo", "--key", path("keys", "k.asc"), repo)
    if os.path.exists(path("keys", "k.asc")) and check("repo: signing", p.returncode == 0, show(p)):
        p, doc = inspect_json(repo)
        check("repo: signed", doc is not None and doc["signed"] is True, show(p))


def expected_from_tarfile(archive):
    """path -> (type, mode, uid, gid, size, target) read by Python's tarfile."""
    r = {}
    with tarfile.open(archive) as t:
        for m in t.getmembers():
            name = m.name[2:] if m.name.startswith("./") else m.name.lstrip("/")
            p = "/" + name.rstrip("/") if name not in ("", ".") else "/"
            typ = "directory" if m.isdir() else "symlink" if m.issym() else "file"
            r[p] = (typ, "%04o" % m.mode, m.uid, m.gid, m.size if m.isfile() else 0,
                    m.linkname if m.issym() else None)
    return r


def expected_from_tree(root):
    r = {"/": ("directory", "%04o" % stat.S_IMODE(os.lstat(root).st_mode), os.lstat(root).st_uid,
               os.lstat(root).st_gid, 0, None)}
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            full = os.path.join(d, n)
            st = os.lstat(full)
            typ = "directory" if stat.S_ISDIR(st.st_mode) else "symlink" if stat.S_ISLNK(st.st_mode) else "file"
            r["/" + os.path.relpath(full, root)] = (typ, "%04o" % stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                                                    st.st_size if typ == "file" else 0,
                                                    os.readlink(full) if typ == "symlink" else None)
    return r


def got_entries(doc):
    r = {}
    for f in doc["files"]:
        size = f["size"] if f["type"] == "file" else 0
        r[f["path"]] = (f["type"], f["mode"], f["uid"], f["gid"], size, f["target"])
    return r


def test_images():
    want_pkgs = rpm_packages(ROOTFS)
    check("images: rpm lists both packages", [p[0] for p in want_pkgs] == ["extra", "motd"], want_pkgs)
    tar_want = expected_from_tarfile(ARCHIVES["tar"][0])
    tree_want = expected_from_tree(ROOTFS)
    for name, (archive, fmt, comp) in ARCHIVES.items():
        p, doc = inspect_json(archive)
        if not check(f"image {name}: --json exit 0", p.returncode == 0 and doc is not None, show(p)):
            continue
        check(f"image {name}: kind, format, compression",
              (doc["kind"], doc["format"], doc["compression"]) == ("image", fmt, comp),
              (doc["kind"], doc["format"], doc["compression"]))
        got = got_entries(doc)
        want = tar_want if fmt == "tar" else tree_want
        diff = {k: (got.get(k), want.get(k)) for k in set(got) | set(want) if got.get(k) != want.get(k)}
        check(f"image {name}: every entry (type, mode, owner, size, target)", not diff, diff)
        check(f"image {name}: rpm database", doc["rpmdb"] == DBPATH + "/rpmdb.sqlite", doc["rpmdb"])
        check(f"image {name}: packages as rpm -qa", json_packages(doc) == want_pkgs,
              f"{json_packages(doc)} vs {want_pkgs}")
        t = slipway("inspect", archive)
        out = t.stdout.splitlines()
        check(f"image {name}: text exit 0", t.returncode == 0, show(t))
        check(f"image {name}: text packages", "  motd-1:2.0-3.noarch" in out and "  extra-0.5-1.noarch" in out,
              t.stdout[:2000])
        check(f"image {name}: text setuid", any(l.startswith("-rwsr-xr-x") and l.endswith("/usr/bin/tool")
                                               for l in out), t.stdout[-3000:])
        check(f"image {name}: text symlink", any(l.startswith("lrwxrwxrwx") and l.endswith("/usr/bin/tool-link -> tool")
                                                for l in out), t.stdout[-3000:])
        check(f"image {name}: text directory", any(l.startswith("drwx--x--x") and l.endswith("/var/empty")
                                                  for l in out), t.stdout[-3000:])
        if fmt == "tar":
            check(f"image {name}: owner 1000:1001", got.get("/home/user/owned", ())[1:4] == ("0600", 1000, 1001),
                  got.get("/home/user/owned"))
            check(f"image {name}: text owner", any(l.startswith("-rw-------  1000  1001") and
                                                  l.endswith("/home/user/owned") for l in out), t.stdout[-3000:])


def test_xattrs_and_links():
    """Extended attributes (as GNU tar --xattrs and image writers store them:
    SCHILY.xattr records), hard links and devices, made with tarfile."""
    import io
    archive = path("img", "xattrs.tar")
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as t:
        ti = tarfile.TarInfo("./usr/bin/ping")
        ti.size, ti.mode = 4, 0o755
        ti.pax_headers = {"SCHILY.xattr.security.selinux": "system_u:object_r:ping_exec_t:s0",
                          "SCHILY.xattr.security.capability": "\x01\x00\x00\x02"}
        t.addfile(ti, io.BytesIO(b"\x7fELF"))
        ti = tarfile.TarInfo("./usr/bin/ping6")
        ti.type, ti.linkname = tarfile.LNKTYPE, "./usr/bin/ping"
        t.addfile(ti)
        ti = tarfile.TarInfo("./dev/null")
        ti.type, ti.devmajor, ti.devminor, ti.mode = tarfile.CHRTYPE, 1, 3, 0o666
        t.addfile(ti)
        ti = tarfile.TarInfo("./odd\nname\x1b[31m")
        t.addfile(ti, io.BytesIO(b""))
    p, doc = inspect_json(archive)
    if not check("xattrs: exit 0", p.returncode == 0 and doc is not None, show(p)):
        return
    f = by_path(doc)
    check("xattrs: names", f["/usr/bin/ping"]["xattrs"] == ["security.capability", "security.selinux"],
          f["/usr/bin/ping"])
    check("xattrs: hard link", f["/usr/bin/ping6"]["hardlink"] == "/usr/bin/ping", f["/usr/bin/ping6"])
    check("xattrs: device", f["/dev/null"]["type"] == "char" and f["/dev/null"]["device"] == [1, 3], f["/dev/null"])
    check("xattrs: odd name kept in JSON", "/odd\nname\x1b[31m" in f, sorted(f))
    t = slipway("inspect", archive)
    check("xattrs: text", "[security.capability security.selinux]" in t.stdout and "/usr/bin/ping6 => /usr/bin/ping"
          in t.stdout and "1, 3  /dev/null" in t.stdout, t.stdout)
    check("xattrs: text escapes control characters", "/odd\\x0aname\\x1b[31m" in t.stdout and "\x1b" not in t.stdout,
          repr(t.stdout))


def test_oci():
    if not HAVE_UMOCI:
        print("SKIP oci: umoci missing")
        return
    layout = path("oci")
    tool("umoci", "init", "--layout", layout)
    tool("umoci", "new", "--image", layout + ":latest")
    tool("umoci", "insert", "--rootless", "--image", layout + ":latest", ROOTFS, "/")
    extra = path("oci-extra")
    write(os.path.join(extra, "opt", "added"), "second layer\n")
    tool("umoci", "insert", "--rootless", "--image", layout + ":latest", extra, "/")
    index = json.loads(read(os.path.join(layout, "index.json")))
    alg, hexd = index["manifests"][0]["digest"].split(":")
    manifest = json.loads(read(os.path.join(layout, "blobs", alg, hexd)))
    want_layers = [l["digest"] for l in manifest["layers"]]
    want_pkgs = rpm_packages(ROOTFS)
    archive = path("img", "image.oci.tar")
    tool("tar", "-C", layout, "-cf", archive, ".")
    for name, target, fmt in [("layout", layout, "oci-layout"), ("archive", archive, "oci-archive")]:
        p, doc = inspect_json(target)
        if not check(f"oci {name}: exit 0", p.returncode == 0 and doc is not None, show(p)):
            continue
        check(f"oci {name}: format", (doc["kind"], doc["format"]) == ("image", fmt), doc["format"])
        check(f"oci {name}: layers as the manifest", [l["digest"] for l in doc["layers"]] == want_layers and
              all(l["compression"] == "gzip" for l in doc["layers"]), doc["layers"])
        check(f"oci {name}: packages", json_packages(doc) == want_pkgs, json_packages(doc))
        f = by_path(doc)
        check(f"oci {name}: setuid file", f.get("/usr/bin/tool", {}).get("mode") == "4755", f.get("/usr/bin/tool"))
        check(f"oci {name}: symlink", f.get("/usr/bin/tool-link", {}).get("target") == "tool", f.get("/usr/bin/tool-link"))
        check(f"oci {name}: second layer", f.get("/opt/added", {}).get("layer") == 1, f.get("/opt/added"))
        check(f"oci {name}: first layer", f.get("/etc/hostname", {}).get("layer") == 0, f.get("/etc/hostname"))
        t = slipway("inspect", target)
        check(f"oci {name}: text", t.returncode == 0 and f"format       {fmt}" in t.stdout and
              "  motd-1:2.0-3.noarch" in t.stdout and want_layers[0] in t.stdout, show(t))

    # A missing layer blob and a broken index.json are named.
    broken = path("oci-broken")
    shutil.copytree(layout, broken, symlinks=True)
    alg, hexd = want_layers[-1].split(":")
    os.unlink(os.path.join(broken, "blobs", alg, hexd))
    t = slipway("inspect", broken)
    check("oci: missing blob", t.returncode == 1 and "'%s'" % broken in t.stderr and "missing" in t.stderr, show(t))
    write(os.path.join(broken, "index.json"), "{not json")
    t = slipway("inspect", broken)
    check("oci: bad index.json", t.returncode == 1 and "index.json" in t.stderr, show(t))


def test_rpmdb_damaged():
    """A package whose header blob is cut short is skipped with a warning; a
    database that is not SQLite is a warning too; the listing stays."""
    root = path("rootfs-damaged")
    shutil.copytree(ROOTFS, root, symlinks=True)
    db = os.path.join(root, DBPATH.lstrip("/"), "rpmdb.sqlite")
    for f in ["-wal", "-shm"]:
        if os.path.exists(db + f):
            os.unlink(db + f)
    c = sqlite3.connect(db)
    c.execute("UPDATE Packages SET blob = substr(blob, 1, 100) WHERE hnum = 1")
    c.commit()
    c.close()
    archive = path("img", "damaged.tar")
    tool("tar", "-C", root, "-cf", archive, ".")
    p, doc = inspect_json(archive)
    check("rpmdb damaged: exit 0", p.returncode == 0 and doc is not None, show(p))
    if doc:
        check("rpmdb damaged: the good package", [x["name"] for x in doc["packages"]] == ["extra"] or
              [x["name"] for x in doc["packages"]] == ["motd"], doc["packages"])
        check("rpmdb damaged: warning", any("malformed header" in w for w in doc["warnings"]), doc["warnings"])
        check("rpmdb damaged: warning on stderr", "warning" in p.stderr and "malformed header" in p.stderr, p.stderr)
    write(db, "not a database at all\n" * 100)
    tool("tar", "-C", root, "-cf", archive, ".")
    p, doc = inspect_json(archive)
    check("rpmdb garbage: exit 0, no packages", p.returncode == 0 and doc and doc["packages"] == [] and
          doc["files"], show(p))
    check("rpmdb garbage: warning", doc and any("not an SQLite database" in w for w in doc["warnings"]), show(p))


def bad(name, target, *, expect_in_stderr=None):
    for args in [(), ("--json",)]:
        t = slipway(*args, "inspect", target)
        ok = t.returncode == 1 and f"'{target}'" in t.stderr and "error" in t.stderr
        if expect_in_stderr:
            ok = ok and expect_in_stderr in t.stderr
        if args:
            try:
                ok = ok and bool(json.loads(t.stdout)["errors"])
            except (ValueError, KeyError):
                ok = False
        check(f"bad {name}{' --json' if args else ''}: exit 1 with a message", ok, show(t))


def cut(src, dst, n):
    with open(src, "rb") as f, open(dst, "wb") as g:
        g.write(f.read()[:n])
    return dst


def test_bad_input():
    rnd = random.Random(1)
    garbage = path("bad", "garbage.bin")
    os.makedirs(os.path.dirname(garbage), exist_ok=True)
    with open(garbage, "wb") as f:
        f.write(bytes(rnd.getrandbits(8) for _ in range(10000)))
    bad("garbage", garbage, expect_in_stderr="not an RPM package, a repository or an image")
    empty = path("bad", "empty.tar")
    open(empty, "w").close()
    bad("empty", empty, expect_in_stderr="empty")
    bad("missing", path("bad", "no-such-file"), expect_in_stderr="no such file")
    d = path("bad", "plain-dir")
    os.makedirs(d)
    bad("plain directory", d, expect_in_stderr="neither a repository")
    for name in ["tar", "tar.zst", "wsl", "cpio", "cpio.gz", "cpio.zst"]:
        src = ARCHIVES[name][0]
        bad(f"truncated {name}", cut(src, path("bad", "half-" + os.path.basename(src)), os.path.getsize(src) // 2),
            expect_in_stderr="truncated")
    for n in [50, 200, os.path.getsize(MOTD) // 2, os.path.getsize(MOTD) - 1]:
        bad(f"truncated rpm at {n}", cut(MOTD, path("bad", f"cut{n}.rpm"), n))
    # An RPM lead followed by garbage.
    with open(path("bad", "lead.rpm"), "wb") as f:
        f.write(read(MOTD)[:96] + bytes(rnd.getrandbits(8) for _ in range(4000)))
    bad("rpm with a garbage header", path("bad", "lead.rpm"), expect_in_stderr="malformed RPM package")
    # A gzip or zstd stream of garbage.
    with open(path("bad", "garbage.tar.gz"), "wb") as f:
        f.write(gzip.compress(bytes(rnd.getrandbits(8) for _ in range(5000))))
    bad("gzip of garbage", path("bad", "garbage.tar.gz"))
    # A repository whose primary is missing.
    repo = path("bad", "repo")
    shutil.copytree(REPO, repo)
    for f in os.listdir(os.path.join(repo, "repodata")):
        if "primary" in f:
            os.unlink(os.path.join(repo, "repodata", f))
    bad("repository without primary", repo, expect_in_stderr="primary")
    write(os.path.join(repo, "repodata", "repomd.xml"), "<repomd><data type=")
    bad("repository with broken repomd.xml", repo, expect_in_stderr="repomd.xml")
    t = slipway("inspect")
    check("usage: no FILE is exit 2", t.returncode == 2, show(t))


def test_mutations():
    """Flipped bytes in every kind of input: exit 0 or 1, never a crash (run
    under ASan/UBSan in build-asan)."""
    rnd = random.Random(7)
    sources = [ARCHIVES["tar.gz"][0], ARCHIVES["cpio"][0], ARCHIVES["tar.zst"][0], MOTD]
    # The rpm database alone, in a tar, mutated inside the database.
    db = read(os.path.join(ROOTFS, DBPATH.lstrip("/"), "rpmdb.sqlite"))
    crashes = []
    n = 0
    t0 = time.monotonic()
    for i in range(160):
        src = sources[i % len(sources)]
        data = bytearray(read(src))
        for _ in range(rnd.randint(1, 8)):
            off = rnd.randrange(len(data))
            data[off] ^= 1 << rnd.randrange(8)
        target = path("bad", f"mut{i}")
        with open(target, "wb") as f:
            f.write(data)
        t = slipway("--json" if i % 2 else "-q", "inspect", target, timeout=60)
        n += 1
        if t.returncode not in (0, 1) or "runtime error" in t.stderr or "Sanitizer" in t.stderr:
            crashes.append((i, src, t.returncode, t.stderr[-500:]))
    for i in range(40):
        d = bytearray(db)
        for _ in range(rnd.randint(1, 16)):
            off = rnd.randrange(100, len(d))
            d[off] = rnd.getrandbits(8)
        root = path("bad", f"dbroot{i}")
        os.makedirs(os.path.join(root, DBPATH.lstrip("/")))
        with open(os.path.join(root, DBPATH.lstrip("/"), "rpmdb.sqlite"), "wb") as f:
            f.write(d)
        target = path("bad", f"db{i}.tar")
        tool("tar", "-C", root, "-cf", target, ".")
        t = slipway("--json", "inspect", target, timeout=60)
        n += 1
        if t.returncode not in (0, 1) or "runtime error" in t.stderr or "Sanitizer" in t.stderr:
            crashes.append((f"db{i}", t.returncode, t.stderr[-500:]))
    check(f"mutations: {n} corrupted inputs, no crash ({time.monotonic() - t0:.1f}s)", not crashes, crashes[:3])


# ---------------------------------------------------------------------------
# Disk images: a small project with a stand-in kernel and systemd-boot (a
# BLS entry needs no real ones), a GPT disk in every container and a hybrid
# ISO, read back and compared with what the real tools see.

DISK_TOML = f"""[project]
name = "tiny"
version = "1"
source-date-epoch = {SDE}

[components.fakeboot]
version = "1.0"
summary = "a stand-in kernel and boot loader"
license = "MIT"
arch = "noarch"

[[components.fakeboot.files]]
source = "files/vmlinuz"
path = "/usr/lib/modules/6.1.0-test/vmlinuz"

[[components.fakeboot.files]]
source = "files/sdboot"
path = "/usr/lib/systemd/boot/efi/systemd-bootx64.efi"

[components.payload]
version = "2.0"
release = "3"
summary = "files for every partition"
license = "MIT"
arch = "noarch"

[[components.payload.files]]
source = "files/data"
path = "/srv/www/index.html"

[[components.payload.files]]
source = "files/tool"
path = "/usr/bin/tool"
mode = "04755"

[[components.payload.files]]
source = "files/long"
path = "/boot/efi/Some Long Name.txt"

[images.vm]
formats = ["raw", "vhd", "vhdx", "qcow2"]
packages = ["fakeboot", "payload"]
boot = "uefi"
kernel-cmdline = "console=ttyS0 quiet"

[[images.vm.partitions]]
type = "esp"
size = "64M"

[[images.vm.partitions]]
type = "root"
size = "grow"

[[images.vm.partitions]]
label = "srv-data"
type = "srv"
size = "32M"

[images.live]
formats = ["iso"]
packages = ["fakeboot", "payload"]
boot = "uefi"
kernel-cmdline = "console=ttyS0 rdinit=/bin/sh"
"""

DISKS = {}  # format -> path


def disk_setup():
    d = path("disk-project")
    rnd = random.Random(3)
    for rel, data in [("files/vmlinuz", bytes(rnd.getrandbits(8) for _ in range(200000))),
                      ("files/sdboot", bytes(rnd.getrandbits(8) for _ in range(30000)))]:
        os.makedirs(os.path.join(d, "files"), exist_ok=True)
        with open(os.path.join(d, rel), "wb") as f:
            f.write(data)
    write(os.path.join(d, "slipway.toml"), DISK_TOML)
    write(os.path.join(d, "files", "data"), "<h1>hello</h1>\n")
    write(os.path.join(d, "files", "tool"), "#!/bin/sh\n")
    write(os.path.join(d, "files", "long"), "a long name\n")
    for verb in ("package", "image"):
        p = slipway("-C", d, verb)
        if not check(f"disks: slipway {verb}", p.returncode == 0, show(p)):
            return False
    out = os.path.join(d, "out", "images")
    for f in ("raw", "vhd", "vhdx", "qcow2"):
        DISKS[f] = os.path.join(out, "vm." + f)
    DISKS["iso"] = os.path.join(out, "live.iso")
    return all(os.path.isfile(x) for x in DISKS.values())


def sfdisk_parts(image):
    p = tool("sfdisk", "-J", image)
    t = json.loads(p.stdout)["partitiontable"]
    return t, t["partitions"]


def ext4_listing(img):
    """Every path of an ext4 image by debugfs 'ls -p', one level per run."""
    paths, level = {"/": None}, ["/"]
    while level:
        cmds = "".join(f'ls -p "{d}"\n' for d in level)
        cmdfile = img + ".cmds"
        write(cmdfile, cmds)
        out = tool("debugfs", "-f", cmdfile, img).stdout
        nxt = []
        cur = None
        for line in out.splitlines():
            if line.startswith("debugfs:"):
                cur = line.split('"')[1] if '"' in line else None
                continue
            f = line.split("/")
            if len(f) < 7 or cur is None or f[5] in ("", ".", ".."):  # "": lost+found's empty slots
                continue
            full = (cur.rstrip("/") + "/" + f[5])
            mode = int(f[2], 8)
            paths[full] = (mode, int(f[3]), int(f[4]))
            if stat.S_ISDIR(mode):
                nxt.append(full)
        level = nxt
    return paths


def extract(image, part, dst):
    with open(image, "rb") as f, open(dst, "wb") as g:
        f.seek(part["start"] * 512)
        g.write(f.read(part["size"] * 512))
    return dst


def files_of(doc, partition):
    return {f["path"]: f for f in doc["files"] if f.get("partition") == partition}


def test_disk_raw():
    raw = DISKS["raw"]
    p, doc = inspect_json(raw)
    if not check("disk raw: --json exit 0, one JSON document", p.returncode == 0 and doc is not None, show(p)):
        return
    check("disk raw: kind disk, format raw", doc["kind"] == "disk" and doc["format"] == "raw", doc["kind"])
    table, parts = sfdisk_parts(raw)
    check("disk raw: the size", doc["disk"]["size"] == os.path.getsize(raw), doc["disk"])
    check("disk raw: the GPT disk GUID is sfdisk's label-id", doc["disk"]["partition_table"] == "gpt"
          and doc["disk"]["guid"].upper() == table["id"].upper(), (doc["disk"], table["id"]))
    got = [(x["number"], x["first_lba"], x["size"] // 512, x["type_guid"].upper(), x["guid"].upper(), x["name"])
           for x in doc["partitions"]]
    want = [(int(x["node"][len(raw):]), x["start"], x["size"], x["type"].upper(), x["uuid"].upper(), x.get("name", ""))
            for x in parts]
    check("disk raw: partitions as sfdisk -J: numbers, starts, sizes, type GUIDs, GUIDs, names", got == want,
          (got, want))
    types = [(x["type"], x["arch"]) for x in doc["partitions"]]
    check("disk raw: type names esp, root, srv", [t for t, _ in types] == ["esp", "root", "srv"], types)
    fs = [x["filesystem"] and x["filesystem"]["type"] for x in doc["partitions"]]
    check("disk raw: file systems vfat, ext4, ext4", fs == ["vfat", "ext4", "ext4"], fs)
    check("disk raw: srv's ext4 label", doc["partitions"][2]["filesystem"]["label"] == "srv-data",
          doc["partitions"][2]["filesystem"])

    # The ESP: mdir's recursive listing.
    esp = extract(raw, parts[0], path("disk-esp.img"))
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    md = subprocess.run(["mdir", "-/", "-b", "-i", esp, "::/"], capture_output=True, text=True, env=env)
    want_esp = {"/"} | {l[2:].rstrip("/") for l in md.stdout.splitlines() if l.startswith("::/")}
    got_esp = files_of(doc, 1)
    check("disk raw: ESP paths as mdir -/ lists them (long names included)", set(got_esp) == want_esp,
          sorted(set(got_esp) ^ want_esp))
    check("disk raw: ESP: the long name kept", "/Some Long Name.txt" in got_esp, sorted(got_esp))
    check("disk raw: ESP sizes", got_esp.get("/loader/loader.conf", {}).get("size") ==
          len(subprocess.run(["mtype", "-i", esp, "::/loader/loader.conf"], capture_output=True, env=env).stdout),
          got_esp.get("/loader/loader.conf"))
    blk = tool("blkid", "-p", "-o", "export", esp, check_rc=False).stdout if shutil.which("blkid") else ""
    if "UUID=" in blk:
        uuid = [l.split("=", 1)[1] for l in blk.splitlines() if l.startswith("UUID=")][0]
        check("disk raw: ESP uuid as blkid", doc["partitions"][0]["filesystem"]["uuid"] == uuid,
              (doc["partitions"][0]["filesystem"], uuid))

    # Root and srv: debugfs.
    for i, name in ((1, "root"), (2, "srv")):
        img = extract(raw, parts[i], path(f"disk-{name}.img"))
        want_fs = ext4_listing(img)
        got_fs = files_of(doc, i + 1)
        check(f"disk raw: {name}: paths as debugfs lists them", set(got_fs) == set(want_fs),
              sorted(set(got_fs) ^ set(want_fs))[:20])
        bad_modes = [k for k, v in want_fs.items() if v and k in got_fs and
                     (int(got_fs[k]["mode"], 8) != stat.S_IMODE(v[0]) or got_fs[k]["uid"] != v[1])]
        check(f"disk raw: {name}: modes and owners as debugfs", not bad_modes, bad_modes[:5])
        u = tool("debugfs", "-R", "stats", img).stdout
        m = [l.split(":", 1)[1].strip() for l in u.splitlines() if l.startswith("Filesystem UUID")]
        check(f"disk raw: {name}: uuid as debugfs stats", m and doc["partitions"][i]["filesystem"]["uuid"] == m[0],
              (m, doc["partitions"][i]["filesystem"]))
    root_files = files_of(doc, 2)
    check("disk raw: /usr/bin/tool is 04755", root_files.get("/usr/bin/tool", {}).get("mode") == "4755",
          root_files.get("/usr/bin/tool"))

    # Packages: rpm -qa over the database dumped from the root file system.
    rroot = path("disk-rpmroot")
    os.makedirs(os.path.join(rroot, DBPATH.lstrip("/")), exist_ok=True)
    tool("debugfs", "-R", f"dump {DBPATH}/rpmdb.sqlite {rroot}{DBPATH}/rpmdb.sqlite", path("disk-root.img"))
    q = tool("rpm", "--root", rroot, "--dbpath", DBPATH, "-qa", "--qf", "%{NEVRA}\n")
    want_pk = sorted(l for l in q.stdout.splitlines() if l)
    got_pk = sorted(x["nevra"] for x in doc["packages"])
    check("disk raw: packages as rpm -qa", got_pk == want_pk and len(want_pk) == 2, (got_pk, want_pk))
    check("disk raw: the rpmdb on partition 2", doc["rpmdb"] == DBPATH + "/rpmdb.sqlite"
          and doc["rpmdb_partition"] == 2, (doc["rpmdb"], doc["rpmdb_partition"]))

    # Boot: loader.conf and the BLS entry, as mtype shows them.
    conf = subprocess.run(["mtype", "-i", esp, "::/loader/loader.conf"], capture_output=True, text=True, env=env).stdout
    loader = doc["boot"]["loader"] or {}
    check("disk raw: loader.conf's default and timeout",
          f"default {loader.get('default')}" in conf and f"timeout {loader.get('timeout')}" in conf, (loader, conf))
    entries = doc["boot"]["entries"]
    if check("disk raw: one BLS entry", len(entries) == 1 and entries[0]["type"] == "bls", entries):
        e = entries[0]
        text = subprocess.run(["mtype", "-i", esp, "::" + e["path"]], capture_output=True, text=True, env=env).stdout
        kv = {}
        for l in text.splitlines():
            k, _, v = l.partition(" ")
            kv.setdefault(k, []).append(v.strip())
        check("disk raw: BLS entry's title, linux, initrd, options as in the file",
              [e["title"]] == kv.get("title") and [e["linux"]] == kv.get("linux")
              and e["initrd"] == kv.get("initrd", []) and e["options"] == " ".join(kv.get("options", [])), (e, kv))
        check("disk raw: the command line", "console=ttyS0 quiet" in (e["options"] or ""), e)
        check("disk raw: the kernel it names is on the ESP", e["linux"] in got_esp, e["linux"])

    # Text: the same facts.
    t = slipway("inspect", raw)
    check("disk raw: text exit 0", t.returncode == 0, show(t))
    for needle in ["format       raw", doc["disk"]["guid"], "partition 3", "srv-data", "title    tiny 1 (vm)",
                   "packages (2, from partition 2", "payload-2.0-3.noarch", "files        "]:
        check(f"disk raw: text shows {needle!r}", needle in t.stdout, t.stdout[-2000:])
    v = slipway("-v", "inspect", raw)
    check("disk raw: -v lists every file", v.returncode == 0 and "/usr/bin/tool" in v.stdout
          and "/EFI/BOOT/BOOTX64.EFI" in v.stdout and len(v.stdout.splitlines()) > len(doc["files"]), show(v))
    return doc


def comparable(doc):
    """A document without what differs between containers."""
    d = dict(doc)
    for k in ("path", "format"):
        d.pop(k, None)
    return d


def test_disk_containers():
    _, ref = inspect_json(DISKS["raw"])
    if not check("disk containers: raw reads", ref is not None, "no document"):
        return
    conv = {}
    if shutil.which("qemu-img"):
        # The real tool's containers: compressed qcow2 (deflate clusters),
        # VHDX with qemu's block size, a fixed VHD.
        for name, args in [("qemu.qcow2", ["-O", "qcow2", "-c"]), ("qemu.vhdx", ["-O", "vhdx"]),
                           ("qemu.vhd", ["-O", "vpc", "-o", "subformat=fixed,force_size=on"])]:
            dst = path(name)
            tool("qemu-img", "convert", "-f", "raw", *args, DISKS["raw"], dst)
            conv[name] = dst
    for name, f in [("vhd", DISKS["vhd"]), ("vhdx", DISKS["vhdx"]), ("qcow2", DISKS["qcow2"]), *conv.items()]:
        p, doc = inspect_json(f)
        if not check(f"disk {name}: --json exit 0", p.returncode == 0 and doc is not None, show(p)):
            continue
        fmt = name.split(".")[-1]
        check(f"disk {name}: format {fmt}", doc["format"] == fmt, doc["format"])
        check(f"disk {name}: everything else as the raw disk's", comparable(doc) == comparable(ref),
              [k for k in ref if ref.get(k) != doc.get(k)])


def test_disk_iso():
    iso = DISKS["iso"]
    p, doc = inspect_json(iso)
    if not check("disk iso: --json exit 0", p.returncode == 0 and doc is not None, show(p)):
        return
    check("disk iso: format iso, an ISO 9660 file system", doc["format"] == "iso"
          and (doc["filesystem"] or {}).get("type") == "iso9660", (doc["format"], doc["filesystem"]))
    x = tool("xorriso", "-indev", iso, "-find", "/")
    want = {l.strip("'") for l in x.stdout.splitlines() if l.startswith("'")}
    got = set(files_of(doc, 0))
    check("disk iso: paths as xorriso -find lists them", got == want, sorted(got ^ want))
    pvd = read(iso)[32768:34816]
    check("disk iso: the volume id", doc["filesystem"]["label"] == pvd[40:72].decode().strip(), doc["filesystem"])
    table, parts = sfdisk_parts(iso)
    got_p = [(x["first_lba"], x["size"] // 512, x["type_guid"].upper()) for x in doc["partitions"]]
    want_p = [(x["start"], x["size"], x["type"].upper()) for x in parts]
    check("disk iso: the GPT as sfdisk", got_p == want_p, (got_p, want_p))
    esp = [x for x in doc["partitions"] if x["type"] == "esp"]
    if check("disk iso: an ESP with vfat", len(esp) == 1 and (esp[0]["filesystem"] or {}).get("type") == "vfat", esp):
        n = esp[0]["number"]
        img = extract(iso, parts[n - 1], path("iso-esp.img"))
        env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
        md = subprocess.run(["mdir", "-/", "-b", "-i", img, "::/"], capture_output=True, text=True, env=env)
        want_esp = {"/"} | {l[2:].rstrip("/") for l in md.stdout.splitlines() if l.startswith("::/")}
        check("disk iso: ESP paths as mdir", set(files_of(doc, n)) == want_esp, sorted(set(files_of(doc, n)) ^ want_esp))
    e = doc["boot"]["entries"]
    check("disk iso: the BLS entry on the ESP", len(e) == 1 and e[0]["title"] == "tiny 1 (live)"
          and "rdinit=/bin/sh" in (e[0]["options"] or ""), e)
    # The live root is the initrd: its packages as rpm -qa lists them in
    # the initrd unpacked (osirrox, zstd -d, cpio -i).
    root = path("iso-initrd-root")
    os.makedirs(root, exist_ok=True)
    x = tool("osirrox", "-indev", iso, "-extract", "/boot/initrd", path("iso-initrd"))
    z = subprocess.run(["zstd", "-dc", path("iso-initrd")], capture_output=True)
    c = subprocess.run(["cpio", "-idm", "--quiet", "--no-absolute-filenames"], input=z.stdout, cwd=root,
                       capture_output=True)
    if check("disk iso: the initrd unpacked", x.returncode == 0 and z.returncode == 0 and c.returncode == 0,
             f"{x.stderr[-300:]} {z.stderr[-300:]} {c.stderr[-300:]}"):
        want_pkgs = rpm_packages(root)
        check("disk iso: the initrd's rpm database read", doc["rpmdb"] == "/boot/initrd:" + DBPATH + "/rpmdb.sqlite",
              doc["rpmdb"])
        check("disk iso: packages as rpm -qa in the unpacked initrd", want_pkgs and json_packages(doc) == want_pkgs,
              f"{json_packages(doc)} vs {want_pkgs}")


def test_disk_bad():
    raw, qcow, vhdx = DISKS["raw"], DISKS["qcow2"], DISKS["vhdx"]
    data = read(raw)
    os.makedirs(path("bad"), exist_ok=True)
    # The primary GPT header damaged: the backup is read, with a warning.
    d = bytearray(data)
    d[512 + 100] ^= 0xFF
    d[512 + 24] ^= 0x01  # MyLBA and so the CRC
    target = path("bad", "primary-gpt.raw")
    with open(target, "wb") as f:
        f.write(d)
    p, doc = inspect_json(target)
    check("bad disk: damaged primary GPT: exit 0, the backup used, a warning",
          p.returncode == 0 and doc and doc["disk"]["backup_table_used"] and len(doc["partitions"]) == 3
          and any("backup" in w for w in doc["warnings"]), show(p))
    # Both headers damaged: one error.
    d[len(d) - 512 + 24] ^= 0x01
    with open(target, "wb") as f:
        f.write(d)
    bad("both GPT headers damaged", target, expect_in_stderr="GPT")
    # Truncated containers.
    for name, src in [("raw", raw), ("qcow2", qcow), ("vhdx", vhdx)]:
        size = os.path.getsize(src)
        for n in (size // 2, 3 << 20, 300 << 10):
            if n < size:
                bad(f"truncated {name} at {n}", cut(src, path("bad", f"cut{n}.{name}"), n))
    # A garbled qcow2 header.
    q = bytearray(read(qcow))
    q[20:24] = (30).to_bytes(4, "big")  # cluster_bits
    with open(path("bad", "bits.qcow2"), "wb") as f:
        f.write(q)
    bad("qcow2 with cluster_bits 30", path("bad", "bits.qcow2"), expect_in_stderr="cluster_bits")
    # Flipped bytes anywhere in the small containers: exit 0 or 1, never a crash.
    rnd = random.Random(11)
    crashes = []
    srcs = [read(qcow), read(DISKS["iso"])]
    for i in range(40):
        b = bytearray(srcs[i % 2])
        for _ in range(rnd.randint(1, 16)):
            # Mostly in the metadata: the first 256 KiB and the last 64 KiB.
            off = rnd.randrange(256 << 10) if rnd.random() < 0.7 else len(b) - 1 - rnd.randrange(64 << 10)
            b[off] ^= 1 << rnd.randrange(8)
        target = path("bad", f"dmut{i}")
        with open(target, "wb") as f:
            f.write(b)
        t = slipway("--json" if i % 2 else "-q", "inspect", target, timeout=60)
        if t.returncode not in (0, 1) or "runtime error" in t.stderr or "Sanitizer" in t.stderr:
            crashes.append((i, t.returncode, t.stderr[-500:]))
        elif i % 2:
            try:
                json.loads(t.stdout)
            except ValueError:
                crashes.append((i, "stdout is not one JSON document", t.stdout[:300]))
    check("bad disk: 40 corrupted disks and ISOs, no crash", not crashes, crashes[:3])


def test_disks():
    if not disk_setup():
        return
    for t in (test_disk_raw, test_disk_containers, test_disk_iso, test_disk_bad):
        run_test(t)


start = time.monotonic()
try:
    try:
        ready = setup()
    except Exception as e:
        import traceback
        ready = check("setup", False, f"exception: {e!r}\n{traceback.format_exc()[-1500:]}")
    if ready:
        for t in [test_rpm, test_rpm_signed, test_repository, test_images, test_xattrs_and_links, test_oci,
                  test_rpmdb_damaged, test_bad_input, test_mutations, test_disks]:
            run_test(t)
finally:
    shutil.rmtree(BASE, ignore_errors=True)

finish("inspect", f" ({time.monotonic() - start:.1f}s)")
