#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`slipway image`: images composed from the project's repository and from
[repos] (file://, http://, signed and unsigned), checked with the real tools
(tar, rpm, umoci, skopeo): the tree and its settings (os-release, hostname,
users, files, services, SELinux labels, file capabilities), the rpm database
(rpm -qa, rpm -Va), the oci, tar, wsl and cpio outputs, determinism, and bad
input that must fail cleanly and leave earlier outputs alone.

One main project (signed, with a spec component) holds most images; small
projects without components use repositories made here. Everything happens
in a temporary directory. Usage: image_test.py SLIPWAY SOURCE_ROOT"""
import base64
import glob
import gzip
import hashlib
import http.server
import io
import json
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import check, finish, read, run_test, show, write
from wsl_format import check_wsl

SLIPWAY, ROOT = os.path.abspath(sys.argv[1]), sys.argv[2]

for needed in ["rpm", "rpmbuild", "zstd", "tar", "umoci", "skopeo"]:
    if not shutil.which(needed):
        print(f"SKIP: {needed} missing")
        sys.exit(77)

SDE = 1700000000
BASE = tempfile.mkdtemp(prefix="slipway-image-test-")
TMPDIR = os.path.join(BASE, "tmp")
os.makedirs(TMPDIR)
IS_ROOT = os.geteuid() == 0
CAP_NET_RAW = 13


def slipway(*args, timeout=180):
    e = dict(os.environ, LC_ALL="C", TMPDIR=TMPDIR)
    e.pop("SOURCE_DATE_EPOCH", None)
    return subprocess.run([SLIPWAY, *args], capture_output=True, text=True, env=e, timeout=timeout)


def tool(*args, check_rc=False, timeout=120, **kw):
    e = dict(os.environ, LC_ALL="C", TZ="UTC")
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, env=e, **kw)
    if check_rc and p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {p.returncode}: {p.stderr[-1000:]}")
    return p


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def zstd_d(data):
    p = subprocess.run(["zstd", "-dc", "-q"], input=data, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"zstd -dc: {p.stderr.decode(errors='replace')}")
    return p.stdout


def zstd_c(data):
    p = subprocess.run(["zstd", "-c", "-q", "-19"], input=data, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"zstd -c: {p.stderr.decode(errors='replace')}")
    return p.stdout


def make_project(name, files):
    d = os.path.join(BASE, name)
    os.makedirs(d)
    for rel, text in files.items():
        write(os.path.join(d, rel), text)
    return d


def images_dir(proj):
    return os.path.join(proj, "out", "images")


def outputs_of(proj, image):
    """Every path at out/images/IMAGE.* (final or temporary)."""
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(images_dir(proj), glob.escape(image) + ".*")))


def tree_snapshot(path):
    """A file's bytes, or a directory's files as {relpath: bytes}."""
    if os.path.isdir(path):
        r = {}
        for d, _, fs in os.walk(path):
            for f in fs:
                p = os.path.join(d, f)
                r[os.path.relpath(p, path)] = read(p)
        return r
    return read(path) if os.path.exists(path) else None


def snapshot_outputs(proj, image):
    return {n: tree_snapshot(os.path.join(images_dir(proj), n)) for n in outputs_of(proj, image)}


def xattr(member, name):
    """The value of a SCHILY.xattr.NAME pax record of a tar member, as bytes (or None)."""
    v = member.pax_headers.get("SCHILY.xattr." + name)
    return None if v is None else v.encode("utf-8", "surrogateescape")


def open_tar(data):
    """{name: (TarInfo, bytes or None)} of a tar archive in data."""
    r = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as t:
        for m in t.getmembers():
            content = t.extractfile(m).read() if m.isfile() else None
            r[m.name] = (m, content)
    return r


def norm(name):
    """An archive member name as an absolute path ("./etc/x" -> "/etc/x", "./" -> "/")."""
    n = name[1:] if name.startswith(".") else name
    n = "/" + n.strip("/")
    return n


def by_path(members):
    return {norm(k): v for k, v in members.items()}


def parse_cpio(data):
    """{path: (mode, uid, gid, bytes)} of a newc cpio archive."""
    r = {}
    off = 0
    while off + 110 <= len(data):
        magic = data[off:off + 6]
        if magic not in (b"070701", b"070702"):
            raise ValueError(f"bad cpio magic {magic!r} at {off}")
        f = [int(data[off + 6 + 8 * i:off + 14 + 8 * i], 16) for i in range(13)]
        mode, uid, gid, filesize, namesize = f[1], f[2], f[3], f[6], f[11]
        name = data[off + 110:off + 110 + namesize - 1].decode("utf-8", "surrogateescape")
        off += 110 + namesize
        off += (4 - off % 4) % 4
        content = data[off:off + filesize]
        off += filesize
        off += (4 - off % 4) % 4
        if name == "TRAILER!!!":
            break
        r[norm(name)] = (mode, uid, gid, content)
    return r


def vfs_cap_data(permitted, effective):
    """struct vfs_cap_data, revision 2 (linux/capability.h), little-endian."""
    magic = 0x02000000 | (0x000001 if effective else 0)
    return struct.pack("<5I", magic, permitted & 0xFFFFFFFF, 0, permitted >> 32, 0)


def varints(b):
    """Field -> value of a protobuf message with varint fields only."""
    r, i = {}, 0
    while i < len(b):
        key, shift = 0, 0
        while True:
            c = b[i]
            i += 1
            key |= (c & 0x7F) << shift
            shift += 7
            if not c & 0x80:
                break
        val, shift = 0, 0
        while True:
            c = b[i]
            i += 1
            val |= (c & 0x7F) << shift
            shift += 7
            if not c & 0x80:
                break
        r[key >> 3] = val
    return r


# ---------------------------------------------------------------------------
# RPM surgery (for the payload with "../" paths)

def header_at(b, off):
    """(index entries [(tag, type, offset, count)], data store start, end) of the header at off."""
    if b[off:off + 3] != b"\x8e\xad\xe8":
        raise ValueError(f"no header magic at {off}")
    il, dl = struct.unpack(">II", b[off + 8:off + 16])
    entries = [struct.unpack(">iIiI", b[off + 16 + 16 * i:off + 32 + 16 * i]) for i in range(il)]
    store = off + 16 + 16 * il
    return entries, store, store + dl


def rpm_layout(b):
    """(sig entries, sig store, main header start, main entries, main store, payload start)."""
    sent, sstore, send = header_at(b, 96)
    main = send + (8 - (send - 96) % 8) % 8
    ment, mstore, mend = header_at(b, main)
    return sent, sstore, main, ment, mstore, mend


def set_string(b, entries, store, tag, value):
    """Overwrites the (first) string of a STRING/STRING_ARRAY tag with a value of the same length."""
    for t, ty, o, c in entries:
        if t == tag:
            start = store + o
            end = b.index(b"\0", start)
            if end - start != len(value):
                raise ValueError(f"tag {tag}: length {end - start} != {len(value)}")
            b[start:end] = value
            return True
    return False


def set_bin(b, entries, store, tag, value):
    for t, ty, o, c in entries:
        if t == tag:
            if c != len(value):
                raise ValueError(f"tag {tag}: count {c} != {len(value)}")
            b[store + o:store + o + c] = value
            return True
    return False


def set_int32(b, entries, store, tag, value):
    for t, ty, o, c in entries:
        if t == tag:
            b[store + o:store + o + 4] = struct.pack(">I", value)
            return True
    return False


def craft_escape(src_rpm, old, new):
    """The bytes of src_rpm with old replaced by new (same length) in the main
    header and in the (zstd) cpio payload, payload recompressed, and every
    digest and size the signature and main headers carry recomputed."""
    assert len(old) == len(new)
    b = bytearray(read(src_rpm))
    sent, sstore, main, ment, mstore, pstart = rpm_layout(bytes(b))
    head = bytes(b[main:pstart])
    if old not in head:
        raise ValueError("the directory name is not in the header")
    payload = zstd_d(bytes(b[pstart:]))
    if old not in payload:
        raise ValueError("the directory name is not in the payload")
    payload = payload.replace(old, new)
    comp = zstd_c(payload)
    head = bytearray(head.replace(old, new))
    ment2, mstore2, _ = header_at(bytes(head), 0)
    # Main header: PAYLOADDIGEST (5092) and PAYLOADDIGESTALT (5097), sha256 hex.
    set_string(head, ment2, mstore2, 5092, sha256(comp).encode())
    set_string(head, ment2, mstore2, 5097, sha256(payload).encode())
    head = bytes(head)
    sig = bytearray(b[:main])
    # Signature header: SHA256 (273), SHA1 (269) of the header; MD5 (1004) of
    # header + payload; SIZE (1000) header + payload; PAYLOADSIZE (1007).
    set_string(sig, sent, sstore, 273, hashlib.sha256(head).hexdigest().encode())
    set_string(sig, sent, sstore, 269, hashlib.sha1(head).hexdigest().encode())
    set_bin(sig, sent, sstore, 1004, hashlib.md5(head + comp).digest())
    set_int32(sig, sent, sstore, 1000, len(head) + len(comp))
    set_int32(sig, sent, sstore, 1007, len(payload))
    return bytes(sig) + head + comp


# ---------------------------------------------------------------------------
# Keys, projects and repositories

KEYS = {}  # "A"/"B" -> (secret, public)

BASETOOL = "#!/bin/sh\necho base\n"
DEMO_UNIT = """[Unit]
Description=Demo

[Service]
ExecStart=/usr/bin/basetool

[Install]
WantedBy=multi-user.target
Alias=demo-alias.service
"""
OTHER_UNIT = """[Unit]
Description=Other

[Service]
ExecStart=/usr/bin/basetool

[Install]
WantedBy=multi-user.target
"""
FILE_CONTEXTS = """/.* system_u:object_r:default_t:s0
/etc(/.*)? system_u:object_r:etc_t:s0
/usr/bin(/.*)? system_u:object_r:bin_t:s0
"""
RELEASE_OS_RELEASE = 'NAME="Packaged Release"\nID=pkgrel\nVERSION_ID=9\n'
SSH_A1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA1 alice@one\n"
SSH_A2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA2 alice@two\n"
SETUP_PASSWD = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:2:2:daemon:/sbin:/sbin/nologin\nold:x:1000:1000::/home/old:/bin/bash\n"
SETUP_GROUP = "root:x:0:\nwheel:x:10:daemon\nold:x:1000:\n"
MOTD = "Welcome to the full image\n"
ALICE_HASH = "$6$saltsalt$0123456789abcdefABCDEF"

TOOLS_SPEC = r"""Name: tools
Version: 1.2
Release: 1
Summary: Tools with a capability, a scriptlet and an xz payload
License: MIT
BuildArch: noarch
%define _binary_payload w2.xzdio

%description
Tools.

%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/usr/share/tools
printf '#!/bin/sh\necho ping\n' > %{buildroot}/usr/bin/pingish
chmod 0755 %{buildroot}/usr/bin/pingish
echo tools-data > %{buildroot}/usr/share/tools/data.txt

%post
echo post-install

%files
%caps(cap_net_raw=ep) /usr/bin/pingish
/usr/share/tools
"""

MAIN_TOML = f"""[project]
name = "imgtest"
version = "2.5"
source-date-epoch = {SDE}

[signing]
key = "keys/A.asc"

[components.base]
version = "1.0"
summary = "Base files"
license = "MIT"
arch = "noarch"
provides = ["/bin/sh"]

[[components.base.files]]
source = "files/basetool"
path = "/usr/bin/basetool"
mode = "0755"

[[components.base.files]]
source = "files/units"
path = "/usr/lib/systemd/system"

[[components.base.files]]
source = "files/wants"
path = "/etc/systemd/system/multi-user.target.wants"

[components.tools]
spec = "components/tools/tools.spec"

[components.policy]
version = "1"
summary = "A tiny SELinux policy: file contexts only"
license = "MIT"
arch = "noarch"

[[components.policy.files]]
source = "files/file_contexts"
path = "/etc/selinux/mini/contexts/files/file_contexts"

[components.release]
version = "9"
summary = "Ships its own os-release"
license = "MIT"
arch = "noarch"

[[components.release.files]]
source = "files/os-release"
path = "/usr/lib/os-release"

[components.setup]
version = "2"
summary = "Account files"
license = "MIT"
arch = "noarch"

[[components.setup.files]]
source = "files/passwd"
path = "/etc/passwd"
config = true

[[components.setup.files]]
source = "files/group"
path = "/etc/group"
config = true

[components.needy]
version = "1"
summary = "Requires what nothing provides"
license = "MIT"
arch = "noarch"
requires = ["libmissing >= 2"]

[components.clash-a]
version = "1"
summary = "Clashes with clash-b"
license = "MIT"
arch = "noarch"

[[components.clash-a.files]]
source = "files/clash-a"
path = "/usr/share/clash/file"

[components.clash-b]
version = "1"
summary = "Clashes with clash-a"
license = "MIT"
arch = "noarch"

[[components.clash-b.files]]
source = "files/clash-b"
path = "/usr/share/clash/file"

[images.full]
formats = ["oci", "tar", "wsl", "cpio"]
packages = ["base", "tools", "policy"]
hostname = "fullhost"
selinux = "permissive"

[[images.full.users]]
name = "alice"
uid = 1001
groups = ["wheel"]
password-hash = "{ALICE_HASH}"
ssh-keys = ["keys/a1.pub", "keys/a2.pub"]

[[images.full.users]]
name = "bob"
groups = ["wheel"]

[[images.full.files]]
source = "files/motd"
path = "/etc/motd"
mode = "0640"
user = "alice"
group = "wheel"

[[images.full.files]]
source = "files/full.d"
path = "/etc/full.d"

[images.full.services]
enable = ["demo.service"]

[images.full.container]
entrypoint = ["/usr/bin/basetool"]
cmd = ["--flag", "x"]
env = ["FOO=bar", "PATH=/usr/bin:/bin"]
labels = {{ "org.example.key" = "value", "org.example.other" = "2" }}
tag = "t1"

[images.mini]
formats = ["tar", "cpio"]
packages = ["base", "release"]

[images.mini.services]
disable = ["other.service"]

[images.acct]
formats = ["tar"]
packages = ["base", "setup"]

[[images.acct.users]]
name = "carol"
groups = ["wheel"]

[images.seldisabled]
formats = ["tar"]
packages = ["base"]
selinux = "disabled"

[images.poldefault]
formats = ["tar"]
packages = ["base", "policy"]

[images.plainoci]
formats = ["oci"]
packages = ["base"]

[images.strict]
formats = ["tar"]
packages = ["base", "tools"]
scriptlets = "strict"

[images.bad-missing]
formats = ["tar", "oci"]
packages = ["base", "nope"]

[images.bad-dep]
formats = ["tar"]
packages = ["needy"]

[images.bad-conflict]
formats = ["tar"]
packages = ["clash-a", "clash-b"]

[images.bad-unit]
formats = ["tar"]
packages = ["base"]

[images.bad-unit.services]
enable = ["ghost.service"]
"""

MAIN = None
NEVRAS = {}  # name -> NEVRA of the main project's packages


def keygen():
    kd = os.path.join(BASE, "keys")
    os.makedirs(kd)
    for name in ["A", "B"]:
        prefix = os.path.join(kd, name)
        p = slipway("keygen", "--uid", f"Image Test {name} <{name.lower()}@example.org>", "-o", prefix)
        if not check(f"setup: keygen {name}", p.returncode == 0 and os.path.isfile(prefix + ".asc") and
                     os.path.isfile(prefix + ".pub.asc"), show(p)):
            return False
        KEYS[name] = (prefix + ".asc", prefix + ".pub.asc")
    return True


def make_main():
    global MAIN
    d = make_project("main", {
        "slipway.toml": MAIN_TOML,
        "files/basetool": BASETOOL,
        "files/units/demo.service": DEMO_UNIT,
        "files/units/other.service": OTHER_UNIT,
        "files/file_contexts": FILE_CONTEXTS,
        "files/os-release": RELEASE_OS_RELEASE,
        "files/passwd": SETUP_PASSWD,
        "files/group": SETUP_GROUP,
        "files/clash-a": "a\n",
        "files/clash-b": "b\n",
        "files/motd": MOTD,
        "files/full.d/one.conf": "one\n",
        "files/full.d/sub/two.conf": "two\n",
        "keys/a1.pub": SSH_A1,
        "keys/a2.pub": SSH_A2,
        "components/tools/tools.spec": TOOLS_SPEC,
    })
    for sub in ["files/units", "files/full.d", "files/full.d/sub"]:
        os.chmod(os.path.join(d, sub), 0o755)
    for f in ["files/units/demo.service", "files/units/other.service", "files/full.d/one.conf",
              "files/full.d/sub/two.conf"]:
        os.chmod(os.path.join(d, f), 0o644)
    os.makedirs(os.path.join(d, "files/wants"), mode=0o755)
    os.chmod(os.path.join(d, "files/wants"), 0o755)
    os.symlink("/usr/lib/systemd/system/other.service", os.path.join(d, "files/wants/other.service"))
    shutil.copyfile(KEYS["A"][0], os.path.join(d, "keys/A.asc"))
    p = slipway("-C", d, "package")
    if not check("setup: main project: slipway package", p.returncode == 0, show(p)):
        return False
    pk = os.path.join(d, "out", "repo", "Packages")
    for f in sorted(os.listdir(pk)):
        q = tool("rpm", "-qp", "--qf", "%{NAME} %{NEVRA}", os.path.join(pk, f), check_rc=True).stdout.split()
        NEVRAS[q[0]] = q[1]
    check("setup: main project: signed repository", os.path.isfile(os.path.join(d, "out/repo/repodata/repomd.xml.asc")),
          os.listdir(os.path.join(d, "out/repo/repodata")))
    tools = os.path.join(pk, NEVRAS.get("tools", "tools") + ".rpm")
    q = tool("rpm", "-qp", "--qf", "%{PAYLOADCOMPRESSOR} [%{FILENAMES}=%{FILECAPS} ]", tools)
    check("setup: tools RPM: xz payload and cap_net_raw=ep on pingish",
          q.returncode == 0 and q.stdout.startswith("xz ") and "/usr/bin/pingish=cap_net_raw=ep" in q.stdout, show(q))
    MAIN = d
    return True


def image(proj, *args):
    return slipway("-C", proj, *args)


# ---------------------------------------------------------------------------
# The full image: tar

FULL = {}  # filled by test_full: "tar" -> members by path, etc.


def test_full():
    p = image(MAIN, "image", "full")
    if not check("full: exit 0", p.returncode == 0, show(p)):
        return
    # tools' %post needs /bin/sh, which the image does not have: rpm warns
    # and goes on, and so does slipway.
    check("full: the failing %post of tools is a warning", re.search(
        r"warning:.*package tools-1\.2-1\.noarch: %post scriptlet failed: .*/bin/sh", p.stderr) is not None, p.stderr)
    check("full: the missing group 'wheel' is warned about", re.search(r"warning:.*'wheel'", p.stderr) is not None,
          p.stderr)
    outs = outputs_of(MAIN, "full")
    check("full: outputs",
          outs == ["full.cpio.zst", "full.oci", "full.oci.tar", "full.spdx.json", "full.tar.zst", "full.wsl"], outs)

    data = read(os.path.join(images_dir(MAIN), "full.tar.zst"))
    check("full.tar.zst: zstd magic", data[:4] == b"\x28\xb5\x2f\xfd", data[:4])
    raw = zstd_d(data)
    members = open_tar(raw)
    names = list(members)
    # (tarfile drops the trailing '/' of directories: "./" reads as ".")
    check("full.tar: every name is ./PATH", all(n in ("./", ".") or n.startswith("./") for n in names),
          [n for n in names if not n.startswith("./")][:10])
    check("full.tar: pax format (ustar magic and pax records)", raw[257:262] == b"ustar" and any(
        m.pax_headers for m, _ in members.values()), raw[257:265])
    check("full.tar: numeric owners (no user or group names)",
          all(m.uname == "" and m.gname == "" for m, _ in members.values()),
          [(n, m.uname, m.gname) for n, (m, _) in members.items() if m.uname or m.gname][:5])
    t = by_path(members)
    FULL["tar"] = t

    def entry(path):
        return t.get(path, (None, None))

    def is_file(path, mode, uid=0, gid=0, content=None):
        m, c = entry(path)
        ok = m is not None and m.isfile() and stat.S_IMODE(m.mode) == mode and m.uid == uid and m.gid == gid
        if content is not None:
            ok = ok and c == content
        check(f"full.tar: {path} {oct(mode)} {uid}:{gid}" + (" with its content" if content is not None else ""), ok,
              None if m is None else (m.type, oct(m.mode), m.uid, m.gid, c[:200] if c else c))

    def is_link(path, target):
        m, _ = entry(path)
        check(f"full.tar: {path} -> {target}", m is not None and m.issym() and m.linkname == target,
              None if m is None else (m.type, m.linkname))

    def is_dir(path, mode, uid=0, gid=0):
        m, _ = entry(path)
        check(f"full.tar: {path}/ {oct(mode)} {uid}:{gid}", m is not None and m.isdir() and
              stat.S_IMODE(m.mode) == mode and m.uid == uid and m.gid == gid,
              None if m is None else (m.type, oct(m.mode), m.uid, m.gid))

    # Packages' files.
    is_file("/usr/bin/basetool", 0o755, content=BASETOOL.encode())
    is_file("/usr/bin/pingish", 0o755, content=b"#!/bin/sh\necho ping\n")
    is_file("/usr/share/tools/data.txt", 0o644, content=b"tools-data\n")
    is_file("/usr/lib/systemd/system/demo.service", 0o644, content=DEMO_UNIT.encode())
    is_file("/etc/selinux/mini/contexts/files/file_contexts", 0o644, content=FILE_CONTEXTS.encode())
    is_file("/usr/lib/sysimage/rpm/rpmdb.sqlite", 0o644)
    m, c = entry("/usr/lib/sysimage/rpm/rpmdb.sqlite")
    check("full.tar: rpmdb.sqlite is an SQLite database", c is not None and c.startswith(b"SQLite format 3\0"),
          c[:16] if c else None)

    # hostname, os-release.
    is_file("/etc/hostname", 0o644, content=b"fullhost\n")
    m, c = entry("/usr/lib/os-release")
    osr = dict(l.split("=", 1) for l in (c or b"").decode().splitlines() if "=" in l)
    unq = {k: v.strip('"') for k, v in osr.items()}
    check("full.tar: /usr/lib/os-release: NAME, ID, VERSION_ID, IMAGE_ID",
          unq.get("ID") == "imgtest" and unq.get("VERSION_ID") == "2.5" and unq.get("IMAGE_ID") == "full" and
          "NAME" in unq and unq["NAME"] != "", c)
    is_link("/etc/os-release", "../usr/lib/os-release")

    # Users.
    m, c = entry("/etc/passwd")
    pw = {l.split(":")[0]: l.split(":") for l in (c or b"").decode().splitlines()}
    check("full.tar: /etc/passwd has root", pw.get("root", [None] * 3)[2] == "0", c)
    check("full.tar: /etc/passwd: alice uid 1001, gid 1001, /home/alice, /bin/bash",
          pw.get("alice") == ["alice", "x", "1001", "1001", "", "/home/alice", "/bin/bash"], pw.get("alice"))
    check("full.tar: /etc/passwd: bob gets uid 1000 (the first free from 1000)",
          pw.get("bob") == ["bob", "x", "1000", "1000", "", "/home/bob", "/bin/bash"], pw.get("bob"))
    m, c = entry("/etc/group")
    gr = {l.split(":")[0]: l.split(":") for l in (c or b"").decode().splitlines()}
    check("full.tar: /etc/group: user private groups",
          gr.get("alice", [None] * 3)[2] == "1001" and gr.get("bob", [None] * 3)[2] == "1000", c)
    check("full.tar: /etc/group: wheel created, with alice and bob as members",
          "wheel" in gr and sorted(gr["wheel"][3].split(",")) == ["alice", "bob"], gr.get("wheel"))
    wheel_gid = int(gr["wheel"][2]) if "wheel" in gr and gr["wheel"][2].isdigit() else -1
    m, c = entry("/etc/shadow")
    check("full.tar: /etc/shadow mode 0000", m is not None and m.isfile() and stat.S_IMODE(m.mode) == 0,
          None if m is None else oct(m.mode))
    sh = {l.split(":")[0]: l.split(":") for l in (c or b"").decode().splitlines()}
    check("full.tar: /etc/shadow: alice has her password hash", sh.get("alice", [None] * 2)[1] == ALICE_HASH,
          sh.get("alice"))
    check("full.tar: /etc/shadow: bob is locked ('!')", sh.get("bob", [None] * 2)[1] == "!", sh.get("bob"))
    is_dir("/home/alice", 0o700, 1001, 1001)
    is_dir("/home/bob", 0o700, 1000, 1000)
    is_dir("/home/alice/.ssh", 0o700, 1001, 1001)
    is_file("/home/alice/.ssh/authorized_keys", 0o600, 1001, 1001, content=(SSH_A1 + SSH_A2).encode())
    check("full.tar: bob has no ~/.ssh (no ssh-keys)", "/home/bob/.ssh" not in t, "present")

    # Files.
    is_file("/etc/motd", 0o640, 1001, wheel_gid, content=MOTD.encode())
    is_file("/etc/full.d/one.conf", 0o644, content=b"one\n")
    is_file("/etc/full.d/sub/two.conf", 0o644, content=b"two\n")
    is_dir("/etc/full.d/sub", 0o755)

    # Services.
    is_link("/etc/systemd/system/multi-user.target.wants/demo.service", "/usr/lib/systemd/system/demo.service")
    is_link("/etc/systemd/system/demo-alias.service", "/usr/lib/systemd/system/demo.service")
    is_link("/etc/systemd/system/multi-user.target.wants/other.service", "/usr/lib/systemd/system/other.service")

    # SELinux.
    m, c = entry("/etc/selinux/config")
    check("full.tar: /etc/selinux/config says SELINUX=permissive",
          c is not None and re.search(rb"^SELINUX=permissive$", c, re.M) is not None, c)
    want_labels = {
        "/etc/motd": "etc_t", "/etc/passwd": "etc_t", "/etc/shadow": "etc_t", "/etc/hostname": "etc_t",
        "/etc/selinux/config": "etc_t", "/etc/full.d/sub/two.conf": "etc_t",
        "/usr/bin/basetool": "bin_t", "/usr/bin/pingish": "bin_t",
        "/usr/share/tools/data.txt": "default_t", "/usr/lib/systemd/system/demo.service": "default_t",
        "/usr/lib/sysimage/rpm/rpmdb.sqlite": "default_t", "/home/alice": "default_t",
        "/home/alice/.ssh/authorized_keys": "default_t", "/usr/lib/os-release": "default_t",
    }
    bad = {}
    for path, typ in want_labels.items():
        m, _ = entry(path)
        got = xattr(m, "security.selinux") if m is not None else None
        if got != f"system_u:object_r:{typ}:s0".encode() + b"\0":
            bad[path] = got
    check("full.tar: security.selinux labels from file_contexts (with the trailing NUL)", not bad, bad)
    unlabelled = [p for p, (m, _) in t.items() if p != "/" and xattr(m, "security.selinux") is None]
    check("full.tar: every file is labelled", not unlabelled, unlabelled[:10])

    # File capabilities.
    m, _ = entry("/usr/bin/pingish")
    cap = xattr(m, "security.capability") if m is not None else None
    check("full.tar: /usr/bin/pingish security.capability = vfs_cap_data rev 2, cap_net_raw effective+permitted",
          cap == vfs_cap_data(1 << CAP_NET_RAW, True), cap)
    m, _ = entry("/usr/bin/basetool")
    check("full.tar: no capability on basetool", m is not None and xattr(m, "security.capability") is None,
          None if m is None else m.pax_headers)

    # tar -tv: owners as tar shows them.
    p = tool("tar", "--zstd", "--xattrs", "-tvf", os.path.join(images_dir(MAIN), "full.tar.zst"))
    own = {}
    for l in p.stdout.splitlines():
        f = l.split()
        if len(f) >= 6:
            own[norm(f[5])] = f[1]
    check("tar -tvf: exit 0", p.returncode == 0, show(p))
    check("tar -tvf: system files owned by 0/0",
          all(own.get(x) == "0/0" for x in ["/etc/passwd", "/usr/bin/basetool", "/usr/bin/pingish", "/etc/hostname"]),
          {x: own.get(x) for x in ["/etc/passwd", "/usr/bin/basetool", "/usr/bin/pingish"]})
    check("tar -tvf: alice's home owned by 1001/1001", own.get("/home/alice") == "1001/1001", own.get("/home/alice"))
    check("tar -tvf: /etc/motd owned by alice's uid", own.get("/etc/motd") == f"1001/{wheel_gid}", own.get("/etc/motd"))


def test_full_rpmdb():
    if not IS_ROOT:
        print("skip rpm -qa/-Va on the extracted tree: extracting owners and xattrs needs root")
        return
    root = os.path.join(BASE, "extract-full")
    os.makedirs(root)
    # GNU tar restores only user.* xattrs unless told otherwise (--xattrs-include).
    p = tool("tar", "--zstd", "--xattrs", "--xattrs-include=*", "-xpf", os.path.join(images_dir(MAIN), "full.tar.zst"),
             "-C", root)
    if not check("extract full.tar.zst as root", p.returncode == 0, show(p)):
        return
    st = os.lstat(os.path.join(root, "home/alice"))
    check("extracted: /home/alice owned by 1001:1001, 0700",
          (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1001, 1001, 0o700),
          (st.st_uid, st.st_gid, oct(st.st_mode)))
    try:
        cap = os.getxattr(os.path.join(root, "usr/bin/pingish"), "security.capability")
    except OSError as e:
        cap = repr(e)
    check("extracted: pingish has its capability", cap == vfs_cap_data(1 << CAP_NET_RAW, True), cap)
    q = tool("rpm", "--root", root, "--dbpath", "/usr/lib/sysimage/rpm", "-qa", "--qf", "%{NEVRA}\n")
    got = sorted(q.stdout.split())
    want = sorted(NEVRAS[n] for n in ["base", "tools", "policy"])
    check("rpm -qa: exactly the image's packages", q.returncode == 0 and got == want, f"{got} vs {want}\n{show(q)}")
    q = tool("rpm", "--root", root, "--dbpath", "/usr/lib/sysimage/rpm", "-q", "--qf", "[%{FILENAMES}\n]", "tools")
    check("rpm -q tools: its files", q.returncode == 0 and "/usr/bin/pingish" in q.stdout.split(), show(q))
    v = tool("rpm", "--root", root, "--dbpath", "/usr/lib/sysimage/rpm", "-Va")
    check("rpm -Va: prints nothing, exit 0", v.returncode == 0 and v.stdout.strip() == "" and v.stderr.strip() == "",
          show(v))


# ---------------------------------------------------------------------------
# The full image: wsl, cpio, oci

def test_full_wsl():
    path = os.path.join(images_dir(MAIN), "full.wsl")
    if not check("full.wsl exists", os.path.isfile(path), outputs_of(MAIN, "full")):
        return
    data = read(path)
    check("full.wsl: gzip", data[:2] == b"\x1f\x8b", data[:2])
    t = by_path(open_tar(gzip.decompress(data)))
    conf = (t.get("/etc/wsl.conf") or (None, b""))[1] or b""
    check("full.wsl: /etc/wsl.conf [user] default=alice",
          re.search(rb"^\[user\]\s*\ndefault=alice$", conf, re.M) is not None, conf)
    dist = (t.get("/etc/wsl-distribution.conf") or (None, b""))[1] or b""
    check("full.wsl: /etc/wsl-distribution.conf [oobe] defaultName=imgtest-full",
          re.search(rb"^\[oobe\]", dist, re.M) is not None and
          re.search(rb"^defaultName=imgtest-full$", dist, re.M) is not None, dist)
    check("full.wsl: defaultUid=1001", re.search(rb"^defaultUid=1001$", dist, re.M) is not None, dist)
    tar = FULL.get("tar", {})
    extra = sorted(set(t) - set(tar))
    check("full.wsl: the tar's files plus the two WSL files",
          extra == ["/etc/wsl-distribution.conf", "/etc/wsl.conf"] and not set(tar) - set(t), (extra, sorted(set(tar) - set(t))))
    check("full.tar: no WSL files", "/etc/wsl.conf" not in tar, "present")
    m = t.get("/home/alice", (None,))[0]
    check("full.wsl: alice's home 1001:1001", m is not None and (m.uid, m.gid) == (1001, 1001), m)
    shadow = (t.get("/etc/shadow") or (None, b""))[1] or b""
    check("full.tar: alice's password hash in /etc/shadow", ALICE_HASH.encode() in ((tar.get("/etc/shadow") or
                                                                                   (None, b""))[1] or b""), "absent")
    check("full.wsl: no password hash in /etc/shadow, alice locked",
          ALICE_HASH.encode() not in shadow and re.search(rb"^alice:!:", shadow, re.M) is not None, shadow)
    problems = check_wsl(path)
    # The test packages have no bash: the only problem is alice's shell.
    check("full.wsl: wsl_format finds nothing but alice's missing shell",
          problems and all("user 'alice' (uid 1001) has the shell '/bin/bash', which is not a program" in x
                           for x in problems), problems)


def test_full_cpio():
    path = os.path.join(images_dir(MAIN), "full.cpio.zst")
    if not check("full.cpio.zst exists", os.path.isfile(path), outputs_of(MAIN, "full")):
        return
    data = read(path)
    check("full.cpio.zst: zstd", data[:4] == b"\x28\xb5\x2f\xfd", data[:4])
    c = parse_cpio(zstd_d(data))
    tar = FULL.get("tar", {})
    check("full.cpio: the same paths as the tar", sorted(c) == sorted(tar),
          (sorted(set(c) - set(tar))[:10], sorted(set(tar) - set(c))[:10]))
    e = c.get("/usr/bin/basetool")
    check("full.cpio: /usr/bin/basetool regular 0755 root", e is not None and e[0] == 0o100755 and e[1:3] == (0, 0) and
          e[3] == BASETOOL.encode(), e)
    e = c.get("/home/alice")
    check("full.cpio: /home/alice dir 0700 1001:1001", e is not None and e[0] == 0o040700 and e[1:3] == (1001, 1001), e)
    e = c.get("/etc/os-release")
    check("full.cpio: /etc/os-release symlink", e is not None and stat.S_ISLNK(e[0]) and e[3] == b"../usr/lib/os-release",
          e)


def test_full_oci():
    layout = os.path.join(images_dir(MAIN), "full.oci")
    archive = os.path.join(images_dir(MAIN), "full.oci.tar")
    if not check("full.oci and full.oci.tar exist", os.path.isdir(layout) and os.path.isfile(archive),
                 outputs_of(MAIN, "full")):
        return
    check("full.oci: oci-layout and index.json", os.path.isfile(os.path.join(layout, "oci-layout")) and
          os.path.isfile(os.path.join(layout, "index.json")), os.listdir(layout))
    bundle = os.path.join(BASE, "bundle-full")
    p = tool("umoci", "unpack", "--rootless", "--image", f"{layout}:t1", bundle)
    if check("umoci unpack --rootless full.oci:t1", p.returncode == 0, show(p)):
        rf = os.path.join(bundle, "rootfs")

        def mode_of(rel):
            try:
                return stat.S_IMODE(os.lstat(os.path.join(rf, rel)).st_mode)
            except OSError:
                return None

        check("umoci rootfs: /usr/bin/basetool 0755 with its content", mode_of("usr/bin/basetool") == 0o755 and
              read(os.path.join(rf, "usr/bin/basetool")) == BASETOOL.encode(), mode_of("usr/bin/basetool"))
        check("umoci rootfs: /etc/motd 0640 with its content", mode_of("etc/motd") == 0o640 and
              read(os.path.join(rf, "etc/motd")) == MOTD.encode(), mode_of("etc/motd"))
        check("umoci rootfs: /home/alice 0700", mode_of("home/alice") == 0o700, mode_of("home/alice"))
        check("umoci rootfs: /etc/shadow 0000", mode_of("etc/shadow") == 0, mode_of("etc/shadow"))
        check("umoci rootfs: rpmdb", os.path.isfile(os.path.join(rf, "usr/lib/sysimage/rpm/rpmdb.sqlite")), "")
        check("umoci rootfs: os-release symlink",
              os.path.islink(os.path.join(rf, "etc/os-release")) and
              os.readlink(os.path.join(rf, "etc/os-release")) == "../usr/lib/os-release", "")
        check("umoci rootfs: no WSL files", not os.path.exists(os.path.join(rf, "etc/wsl.conf")), "")
        # umoci --rootless records owners it cannot set in user.rootlesscontainers (a protobuf: 1 uid, 2 gid).
        mtrees = glob.glob(os.path.join(bundle, "*.mtree"))
        owners = {}
        if mtrees:
            text = open(mtrees[0]).read()
            m = re.search(r"^# home/alice\n(alice .*)$", text, re.M)
            if m:
                x = re.search(r"xattr\.user\.rootlesscontainers=(\S+)", m.group(1))
                if x:
                    owners = varints(base64.b64decode(x.group(1) + "=" * (-len(x.group(1)) % 4)))
        check("umoci .mtree: /home/alice owned by uid 1001, gid 1001", owners.get(1) == 1001 and owners.get(2) == 1001,
              owners or (mtrees and open(mtrees[0]).read()[:2000]))
        cfg = os.path.join(bundle, "config.json")
        check("umoci bundle: config.json", os.path.isfile(cfg), os.listdir(bundle))

    p = tool("skopeo", "inspect", f"oci:{layout}:t1")
    j = json.loads(p.stdout) if p.returncode == 0 else {}
    check("skopeo inspect oci:full.oci:t1", p.returncode == 0, show(p))
    check("skopeo inspect: Labels", j.get("Labels") == {"org.example.key": "value", "org.example.other": "2"},
          j.get("Labels"))
    check("skopeo inspect: Architecture", j.get("Architecture") == {"x86_64": "amd64", "aarch64": "arm64"}.get(
        os.uname().machine, os.uname().machine) and j.get("Os") == "linux", (j.get("Architecture"), j.get("Os")))
    check("skopeo inspect: Env", j.get("Env") == ["FOO=bar", "PATH=/usr/bin:/bin"], j.get("Env"))
    check("skopeo inspect: Created from source-date-epoch", str(j.get("Created", "")).startswith("2023-11-14T22:13:20"),
          j.get("Created"))
    p = tool("skopeo", "inspect", "--config", f"oci:{layout}:t1")
    c = json.loads(p.stdout).get("config", {}) if p.returncode == 0 else {}
    check("skopeo inspect --config: Entrypoint and Cmd",
          c.get("Entrypoint") == ["/usr/bin/basetool"] and c.get("Cmd") == ["--flag", "x"], show(p))
    check("skopeo inspect --config: Env and Labels",
          c.get("Env") == ["FOO=bar", "PATH=/usr/bin:/bin"] and c.get("Labels", {}).get("org.example.key") == "value",
          c)
    p = tool("skopeo", "inspect", f"oci-archive:{archive}")
    ja = json.loads(p.stdout) if p.returncode == 0 else {}
    check("skopeo inspect oci-archive:full.oci.tar: the same image", p.returncode == 0 and ja.get("Digest") and
          ja.get("Digest") == j.get("Digest") and ja.get("Labels") == j.get("Labels"), show(p))
    dest = os.path.join(BASE, "full-docker.tar")
    p = tool("skopeo", "copy", f"oci:{layout}:t1", f"docker-archive:{dest}:imgtest/full:t1")
    check("skopeo copy oci:full.oci:t1 docker-archive:", p.returncode == 0 and os.path.getsize(dest) > 0, show(p))
    if p.returncode == 0:
        with tarfile.open(dest) as t:
            man = json.loads(t.extractfile("manifest.json").read())
        check("docker-archive: tagged imgtest/full:t1", man and man[0].get("RepoTags") in (["imgtest/full:t1"], ["docker.io/imgtest/full:t1"]), man)
    p = tool("skopeo", "inspect", f"oci:{layout}:2.5")
    check("skopeo inspect full.oci:2.5 fails (the tag is t1)", p.returncode != 0, show(p))

    # An image without [container]: the tag is the project version.
    p = image(MAIN, "image", "plainoci")
    if check("plainoci: exit 0", p.returncode == 0, show(p)):
        lo = os.path.join(images_dir(MAIN), "plainoci.oci")
        p = tool("skopeo", "inspect", f"oci:{lo}:2.5")
        check("plainoci: tagged with the project version 2.5", p.returncode == 0, show(p))
        check("plainoci: outputs",
              outputs_of(MAIN, "plainoci") == ["plainoci.oci", "plainoci.oci.tar", "plainoci.spdx.json"],
              outputs_of(MAIN, "plainoci"))
        p = tool("skopeo", "inspect", f"oci-archive:{os.path.join(images_dir(MAIN), 'plainoci.oci.tar')}")
        check("plainoci: skopeo inspect oci-archive:", p.returncode == 0, show(p))


# ---------------------------------------------------------------------------
# mini: a package's os-release, disable, no SELinux, cpio gzip

def test_mini():
    p = image(MAIN, "image", "mini")
    if not check("mini: exit 0", p.returncode == 0, show(p)):
        return
    check("mini: outputs", outputs_of(MAIN, "mini") == ["mini.cpio.zst", "mini.spdx.json", "mini.tar.zst"],
          outputs_of(MAIN, "mini"))
    t = by_path(open_tar(zstd_d(read(os.path.join(images_dir(MAIN), "mini.tar.zst")))))
    c = (t.get("/usr/lib/os-release") or (None, None))[1]
    check("mini: the package's /usr/lib/os-release is kept", c == RELEASE_OS_RELEASE.encode(), c)
    check("mini: disable removed multi-user.target.wants/other.service",
          "/etc/systemd/system/multi-user.target.wants/other.service" not in t, sorted(x for x in t if "systemd" in x))
    check("mini: the unit file itself stays", "/usr/lib/systemd/system/other.service" in t, "")
    check("mini: no /etc/selinux/config (no policy, no 'selinux')", "/etc/selinux/config" not in t, "present")
    check("mini: no /etc/hostname (no 'hostname')", "/etc/hostname" not in t, "present")
    check("mini: no labels", all(xattr(m, "security.selinux") is None for m, _ in t.values()), "labelled")
    check("mini: no scriptlet warning", "scriptlet" not in p.stderr, p.stderr)

    p = image(MAIN, "image", "--compress", "gzip", "mini")
    if check("mini --compress gzip: exit 0", p.returncode == 0, show(p)):
        gz = os.path.join(images_dir(MAIN), "mini.cpio.gz")
        check("mini --compress gzip: mini.cpio.gz written", os.path.isfile(gz), outputs_of(MAIN, "mini"))
        if os.path.isfile(gz):
            data = read(gz)
            cz = parse_cpio(gzip.decompress(data)) if data[:2] == b"\x1f\x8b" else {}
            check("mini.cpio.gz: gzip'd newc with the tree's paths", sorted(cz) == sorted(t), sorted(cz)[:10])
            cs = parse_cpio(zstd_d(read(os.path.join(images_dir(MAIN), "mini.cpio.zst"))))
            check("mini.cpio.zst: the same paths", sorted(cs) == sorted(t), sorted(cs)[:10])
    p = image(MAIN, "image", "--compress", "lz4", "mini")
    check("--compress lz4: refused", p.returncode != 0 and "lz4" in p.stderr, show(p))


def test_small_images():
    p = image(MAIN, "image", "acct", "seldisabled", "poldefault")
    if not check("acct, seldisabled, poldefault: exit 0", p.returncode == 0, show(p)):
        return
    check("acct: no warning about 'wheel' (setup makes it)", "'wheel'" not in p.stderr, p.stderr)
    t = tar_paths(MAIN, "acct")
    pw = (t.get("/etc/passwd") or (None, b""))[1] or b""
    check("acct: the package's accounts kept, carol gets the first free uid (1001: 1000 is taken)",
          pw.decode().splitlines() == SETUP_PASSWD.splitlines() + ["carol:x:1001:1001::/home/carol:/bin/bash"],
          pw)
    gr = (t.get("/etc/group") or (None, b""))[1] or b""
    check("acct: carol joins the existing wheel group, and gets her own group",
          gr.decode().splitlines() == ["root:x:0:", "wheel:x:10:daemon,carol", "old:x:1000:", "carol:x:1001:"], gr)
    m = t.get("/home/carol", (None,))[0]
    check("acct: /home/carol 0700 1001:1001", m is not None and m.isdir() and stat.S_IMODE(m.mode) == 0o700 and
          (m.uid, m.gid) == (1001, 1001), m and (oct(m.mode), m.uid, m.gid))

    t = tar_paths(MAIN, "seldisabled")
    c = (t.get("/etc/selinux/config") or (None, None))[1]
    check("seldisabled: selinux = disabled without a policy: /etc/selinux/config has SELINUX=disabled",
          c is not None and re.search(rb"^SELINUX=disabled$", c, re.M) is not None, c)
    check("seldisabled: nothing labelled (no policy)",
          all(xattr(m, "security.selinux") is None for m, _ in t.values()), "labelled")

    t = tar_paths(MAIN, "poldefault")
    c = (t.get("/etc/selinux/config") or (None, None))[1]
    check("poldefault: a policy without 'selinux': SELINUX=enforcing (the default)",
          c is not None and re.search(rb"^SELINUX=enforcing$", c, re.M) is not None, c)
    m = t.get("/usr/bin/basetool", (None,))[0]
    check("poldefault: labelled", m is not None and xattr(m, "security.selinux") == b"system_u:object_r:bin_t:s0\0",
          m and m.pax_headers)


# ---------------------------------------------------------------------------
# Determinism

DET_FILES = ["full.oci.tar", "full.tar.zst", "full.wsl", "full.cpio.zst", "mini.tar.zst", "mini.cpio.zst"]


def test_determinism():
    d = images_dir(MAIN)
    first = {f: tree_snapshot(os.path.join(d, f)) for f in DET_FILES}
    check("determinism: first outputs exist", all(v is not None for v in first.values()),
          [f for f, v in first.items() if v is None])
    layout = tree_snapshot(os.path.join(d, "full.oci"))
    shutil.rmtree(d)
    p = image(MAIN, "-j", "1", "image", "full", "mini")
    if not check("determinism: -j 1 run after removing out/images", p.returncode == 0, show(p)):
        return
    for f in DET_FILES:
        check(f"determinism: {f} byte-identical (-j 1, fresh)", tree_snapshot(os.path.join(d, f)) == first[f], "differs")
    check("determinism: full.oci/ identical", tree_snapshot(os.path.join(d, "full.oci")) == layout, "differs")
    p = image(MAIN, "-j", "3", "image", "mini", "full")
    if not check("determinism: -j 3 run over existing outputs, other order", p.returncode == 0, show(p)):
        return
    for f in DET_FILES:
        check(f"determinism: {f} byte-identical (-j 3, rewritten)", tree_snapshot(os.path.join(d, f)) == first[f],
              "differs")
    left = [f for f in os.listdir(d) if ".tmp" in f or f.startswith(".")]
    check("determinism: no temporary files left in out/images", not left, left)


# ---------------------------------------------------------------------------
# Failures in the main project

def no_outputs(label, proj, name):
    outs = outputs_of(proj, name)
    check(f"{label}: nothing at out/images/{name}.*", outs == [], outs)


def test_failures():
    p = image(MAIN, "image", "strict")
    check("scriptlets = strict: exit 1 naming tools' %post", p.returncode == 1 and
          re.search(r"error:.*tools-1\.2-1\.noarch: %post scriptlet failed", p.stderr) is not None, show(p))
    no_outputs("scriptlets = strict", MAIN, "strict")

    p = image(MAIN, "image", "bad-missing")
    check("missing package: exit 1, names 'nope'", p.returncode == 1 and "nope" in p.stderr and "error" in p.stderr,
          show(p))
    no_outputs("missing package", MAIN, "bad-missing")

    p = image(MAIN, "image", "bad-dep")
    check("missing dependency: exit 1, names libmissing and the requiring package needy",
          p.returncode == 1 and "libmissing" in p.stderr and "needy" in p.stderr, show(p))
    no_outputs("missing dependency", MAIN, "bad-dep")

    p = image(MAIN, "image", "bad-conflict")
    check("conflicting files: exit 1, names the path and both packages",
          p.returncode == 1 and "/usr/share/clash/file" in p.stderr and "clash-a" in p.stderr and
          "clash-b" in p.stderr, show(p))
    no_outputs("conflicting files", MAIN, "bad-conflict")

    p = image(MAIN, "image", "bad-unit")
    check("enable a unit no package ships: exit 1, names it", p.returncode == 1 and "ghost.service" in p.stderr, show(p))
    no_outputs("enable a unit no package ships", MAIN, "bad-unit")

    p = image(MAIN, "image", "no-such-image")
    check("unknown image name: exit 1, names it", p.returncode == 1 and "no-such-image" in p.stderr, show(p))
    no_outputs("unknown image name", MAIN, "no-such-image")

    # A failing image among good ones: the good one is written, the run fails
    # (in either order on the command line).
    for f in outputs_of(MAIN, "plainoci"):
        shutil.rmtree(os.path.join(images_dir(MAIN), f), ignore_errors=True)
        if os.path.exists(os.path.join(images_dir(MAIN), f)):
            os.remove(os.path.join(images_dir(MAIN), f))
    p = image(MAIN, "image", "plainoci", "bad-missing")
    check("a good and a bad image: exit 1", p.returncode == 1 and "nope" in p.stderr, show(p))
    check("a good and a bad image: the good one is written",
          outputs_of(MAIN, "plainoci") == ["plainoci.oci", "plainoci.oci.tar", "plainoci.spdx.json"],
          outputs_of(MAIN, "plainoci"))
    shutil.rmtree(os.path.join(images_dir(MAIN), "plainoci.oci"), ignore_errors=True)
    for f in outputs_of(MAIN, "plainoci"):
        os.remove(os.path.join(images_dir(MAIN), f))
    p = image(MAIN, "image", "bad-missing", "plainoci")
    check("a bad and a good image: exit 1", p.returncode == 1 and "nope" in p.stderr, show(p))
    check("a bad and a good image: no error about the good one", "'plainoci'" not in p.stderr, p.stderr)
    check("a bad and a good image: the good one is written",
          outputs_of(MAIN, "plainoci") == ["plainoci.oci", "plainoci.oci.tar", "plainoci.spdx.json"],
          outputs_of(MAIN, "plainoci"))
    no_outputs("a bad and a good image", MAIN, "bad-missing")


def test_failure_keeps_outputs():
    """An image that fails leaves its earlier outputs byte-identical."""
    toml = os.path.join(MAIN, "slipway.toml")
    orig = read(toml).decode()
    cases = [
        ("mini", "missing package", orig.replace('packages = ["base", "release"]', 'packages = ["base", "release", "nope"]'),
         "nope"),
        ("mini", "unknown unit", orig.replace('disable = ["other.service"]',
                                              'disable = ["other.service"]\nenable = ["ghost.service"]'), "ghost.service"),
        ("full", "unknown unit", orig.replace('enable = ["demo.service"]', 'enable = ["demo.service", "ghost.service"]'),
         "ghost.service"),
        ("full", "conflicting files", orig.replace('packages = ["base", "tools", "policy"]',
                                                   'packages = ["base", "tools", "policy", "clash-a", "clash-b"]'),
         "/usr/share/clash/file"),
    ]
    try:
        for name, label, text, needle in cases:
            if text == orig:
                check(f"keeps outputs: {name}, {label}: the configuration was changed", False, "replace failed")
                continue
            before = snapshot_outputs(MAIN, name)
            if not check(f"keeps outputs: {name} has outputs before", len(before) >= 2, sorted(before)):
                continue
            write(toml, text)
            p = image(MAIN, "image", name)
            check(f"keeps outputs: {name}, {label}: exit 1 naming {needle}", p.returncode == 1 and needle in p.stderr,
                  show(p))
            after = snapshot_outputs(MAIN, name)
            check(f"keeps outputs: {name}, {label}: the same files", sorted(after) == sorted(before),
                  (sorted(before), sorted(after)))
            check(f"keeps outputs: {name}, {label}: byte-identical", after == before,
                  [k for k in before if after.get(k) != before[k]])
            write(toml, orig)
    finally:
        write(toml, orig)


def test_project_repo_signature():
    """The project's own repository is checked against [signing] key."""
    d = os.path.join(BASE, "main-copy")
    shutil.copytree(MAIN, d, symlinks=True)
    shutil.rmtree(os.path.join(d, "out", "images"), ignore_errors=True)
    os.remove(os.path.join(d, "out", "repo", "repodata", "repomd.xml.asc"))
    p = image(d, "image", "mini")
    check("project repo without repomd.xml.asc: exit 1, says not signed",
          p.returncode == 1 and "not signed" in p.stderr, show(p))
    no_outputs("project repo without repomd.xml.asc", d, "mini")
    # A repomd.xml.asc from another repository (another key): `slipway build`
    # remakes it rather than failing on "bad signature" until it is deleted.
    other = os.path.join(BASE, "other-key-repo")
    shutil.copytree(os.path.join(d, "out", "repo"), other)
    p = slipway("repo", "--key", KEYS["B"][0], other)
    check("project repo, foreign repomd.xml.asc: another repository signed with B", p.returncode == 0, show(p))
    shutil.copyfile(os.path.join(other, "repodata", "repomd.xml.asc"),
                    os.path.join(d, "out", "repo", "repodata", "repomd.xml.asc"))
    p = image(d, "image", "mini")
    check("project repo, foreign repomd.xml.asc: slipway image fails, says to run slipway repo",
          p.returncode == 1 and "another key" in p.stderr and "run 'slipway repo'" in p.stderr, show(p))
    p = image(d, "build", "mini")
    check("project repo, foreign repomd.xml.asc: slipway build remakes it, exit 0", p.returncode == 0, show(p))
    p = slipway("verify", "--key", KEYS["A"][1], os.path.join(d, "out", "repo"))
    check("project repo, foreign repomd.xml.asc: verifies with the project's key after build", p.returncode == 0,
          show(p))
    shutil.rmtree(other)
    shutil.rmtree(d)


# ---------------------------------------------------------------------------
# [repos]: file://, signatures, unsigned packages, "../" payloads, http://

PLAIN = None
REPOS = {}  # "unsigned" (signed metadata, unsigned packages), "signed", "evil"


def plain_project():
    """Unsigned native packages, to fill the external repositories."""
    global PLAIN
    d = make_project("plain", {
        "slipway.toml": f"""[project]
name = "plain"
version = "1"
source-date-epoch = {SDE}

[components.plain-hello]
version = "3.0"
summary = "Hello from another repository"
license = "MIT"
arch = "noarch"

[[components.plain-hello.files]]
source = "files/hello.txt"
path = "/usr/share/plain/hello.txt"

[components.evil]
version = "1"
summary = "To be made evil"
license = "MIT"
arch = "noarch"

[[components.evil.files]]
source = "files/f"
path = "/usr/share/XXXXXXXX/f"
""",
        "files/hello.txt": "hello from plain\n",
        "files/f": "escaped\n",
    })
    p = slipway("-C", d, "package")
    if not check("setup: plain project: slipway package", p.returncode == 0, show(p)):
        return False
    PLAIN = os.path.join(d, "out", "repo", "Packages")
    return True


def plain_rpm(name):
    return next(os.path.join(PLAIN, f) for f in os.listdir(PLAIN) if f.startswith(name + "-"))


def make_repos():
    # Signed metadata (key A), unsigned packages.
    d = os.path.join(BASE, "repo-unsigned")
    os.makedirs(os.path.join(d, "Packages"))
    shutil.copy2(plain_rpm("plain-hello"), os.path.join(d, "Packages"))
    p = slipway("repo", "--key", KEYS["A"][0], d)
    if not check("setup: repo-unsigned indexed (metadata signed)", p.returncode == 0 and
                 os.path.isfile(os.path.join(d, "repodata", "repomd.xml.asc")), show(p)):
        return False
    REPOS["unsigned"] = d
    # Everything signed with key A.
    d = os.path.join(BASE, "repo-signed")
    os.makedirs(os.path.join(d, "Packages"))
    rpm = os.path.join(d, "Packages", os.path.basename(plain_rpm("plain-hello")))
    shutil.copy2(plain_rpm("plain-hello"), rpm)
    p = slipway("sign", "--key", KEYS["A"][0], rpm)
    if not check("setup: repo-signed: package signed", p.returncode == 0, show(p)):
        return False
    p = slipway("repo", "--key", KEYS["A"][0], d)
    if not check("setup: repo-signed indexed", p.returncode == 0, show(p)):
        return False
    REPOS["signed"] = d
    # A payload with "../" paths (and a good package beside it), unsigned.
    d = os.path.join(BASE, "repo-evil")
    os.makedirs(os.path.join(d, "Packages"))
    shutil.copy2(plain_rpm("plain-hello"), os.path.join(d, "Packages"))
    evil = craft_escape(plain_rpm("evil"), b"/usr/share/XXXXXXXX/", b"/usr/share/../../../")
    ep = os.path.join(d, "Packages", "evil-1-1.noarch.rpm")
    with open(ep, "wb") as f:
        f.write(evil)
    q = tool("rpm", "-qlp", ep)
    check("setup: the crafted RPM lists /usr/share/../../../f", q.returncode == 0 and
          "/usr/share/../../../f" in q.stdout.split(), show(q))
    q = tool("rpm", "-K", "--nosignature", ep)
    check("setup: the crafted RPM's digests are right", q.returncode == 0 and "digests OK" in q.stdout, show(q))
    p = slipway("repo", d)
    if not check("setup: repo-evil indexed", p.returncode == 0, show(p)):
        return False
    REPOS["evil"] = d
    return True


def repo_project(name, repo_toml, packages=("plain-hello",), formats=("tar",), image_name="x", extra=""):
    fm = ", ".join(f'"{f}"' for f in formats)
    pk = ", ".join(f'"{x}"' for x in packages)
    return make_project(name, {"slipway.toml": f"""[project]
name = "{name}"
version = "1"
source-date-epoch = {SDE}

{repo_toml}

[images.{image_name}]
formats = [{fm}]
packages = [{pk}]
{extra}"""})


def tar_paths(proj, image_name):
    return by_path(open_tar(zstd_d(read(os.path.join(images_dir(proj), image_name + ".tar.zst")))))


def test_repos_file():
    # A signed repository (metadata and packages) with the right key: works.
    d = repo_project("ext-ok", f"""[repos.ext]
url = "file://{REPOS['signed']}"
gpg-key = "{KEYS['A'][1]}"
""")
    p = image(d, "image", "x")
    if check("[repos] signed, right key: exit 0", p.returncode == 0, show(p)):
        t = tar_paths(d, "x")
        c = (t.get("/usr/share/plain/hello.txt") or (None, None))[1]
        check("[repos] signed, right key: the package's file is in the image", c == b"hello from plain\n", c)
        check("[repos] signed, right key: rpmdb present", "/usr/lib/sysimage/rpm/rpmdb.sqlite" in t, "")

    # The same repository with another key: repomd.xml.asc does not verify.
    d = repo_project("ext-wrongkey", f"""[repos.ext]
url = "file://{REPOS['signed']}/"
gpg-key = "{KEYS['B'][1]}"
""")
    p = image(d, "image", "x")
    check("[repos] repomd.xml.asc from another key: exit 1, names the repository",
          p.returncode == 1 and "'ext'" in p.stderr and "error" in p.stderr, show(p))
    no_outputs("[repos] another key", d, "x")

    # Signed metadata, unsigned packages, gpgcheck on: refused.
    d = repo_project("ext-unsigned", f"""[repos.ext]
url = "file://{REPOS['unsigned']}"
gpg-key = "{KEYS['A'][1]}"
""")
    p = image(d, "image", "x")
    check("[repos] unsigned package with gpgcheck: exit 1, says not signed, names the package",
          p.returncode == 1 and "not signed" in p.stderr and "plain-hello" in p.stderr, show(p))
    no_outputs("[repos] unsigned package", d, "x")

    # The same with gpgcheck = false: taken.
    d = repo_project("ext-nocheck", f"""[repos.ext]
url = "file://{REPOS['unsigned']}"
gpgcheck = false
""")
    p = image(d, "image", "x")
    check("[repos] unsigned package, gpgcheck = false: exit 0", p.returncode == 0 and
          "/usr/share/plain/hello.txt" in tar_paths(d, "x"), show(p))

    # A payload that leaves the root.
    d = repo_project("ext-evil", f"""[repos.evil]
url = "file://{REPOS['evil']}"
gpgcheck = false
""", packages=("evil",), image_name="evil", extra="""
[images.ok]
formats = ["tar"]
packages = ["plain-hello"]
""")
    p = image(d, "image", "ok")
    check("[repos] evil repository: its good package works", p.returncode == 0, show(p))
    p = image(d, "image", "evil")
    check("[repos] payload with ../ paths: exit 1, refused (leaves the root)",
          p.returncode == 1 and re.search(r"leav|outside|refus|escap", p.stderr, re.I) is not None and
          "evil" in p.stderr, show(p))
    no_outputs("[repos] payload with ../ paths", d, "evil")
    check("[repos] payload with ../ paths: nothing written beside the project",
          not os.path.exists(os.path.join(BASE, "f")) and not os.path.exists(os.path.join(d, "f")) and
          not os.path.exists(os.path.join(d, "out", "f")), "")

    # gpgcheck (the default) without gpg-key.
    d = repo_project("ext-nokey", f"""[repos.ext]
url = "file://{REPOS['signed']}"
""")
    p = image(d, "image", "x")
    check("[repos] gpgcheck without gpg-key: exit 1, asks for gpg-key",
          p.returncode == 1 and "gpg-key" in p.stderr and "'ext'" in p.stderr, show(p))
    no_outputs("[repos] gpgcheck without gpg-key", d, "x")

    # A file:// URL that is not a repository.
    d = repo_project("ext-nothing", f"""[repos.ext]
url = "file://{BASE}/no-such-repo"
gpgcheck = false
""")
    p = image(d, "image", "x")
    check("[repos] file:// URL that does not exist: exit 1, names the repository",
          p.returncode == 1 and "'ext'" in p.stderr, show(p))


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    log = []

    def log_message(self, fmt, *args):
        QuietHandler.log.append(self.path)


def test_checksum_policy():
    """`slipway verify` and `slipway image` check repositories with one policy:
    a checksum given as sha1 (of the primary metadata, or of a package) is
    refused by both, with the same words."""
    base = os.path.join(BASE, "repo-sha1")
    os.makedirs(os.path.join(base, "Packages"))
    shutil.copy2(plain_rpm("plain-hello"), os.path.join(base, "Packages"))
    p = slipway("repo", "--compress", "gzip", base)
    if not check("setup: repo-sha1 indexed", p.returncode == 0, show(p)):
        return
    md_path = os.path.join(base, "repodata", "repomd.xml")
    md = read(md_path).decode()

    def sha(kind, path):
        return hashlib.new(kind, read(path)).hexdigest()

    cases = {}
    # 1. repomd.xml gives primary's checksum as sha1 (the right sha1).
    d = os.path.join(BASE, "repo-sha1-primary")
    shutil.copytree(base, d)
    m = re.search(r'(<data type="primary">.*?<checksum type=")sha256(">)([0-9a-f]+)(</checksum>.*?<location href="([^"]+)")',
                  md, re.S)
    prim = os.path.join(d, m.group(5))
    write(os.path.join(d, "repodata", "repomd.xml"),
          md[:m.start()] + m.group(1) + "sha1" + m.group(2) + sha("sha1", prim) + m.group(4) + md[m.end():])
    cases["primary"] = d
    # 2. primary gives the package's checksum as sha1.
    d = os.path.join(BASE, "repo-sha1-package")
    shutil.copytree(base, d)
    prim = os.path.join(d, m.group(5))
    rpm = glob.glob(os.path.join(d, "Packages", "*.rpm"))[0]
    xml = gzip.decompress(read(prim)).decode()
    xml2 = re.sub(r'<checksum type="sha256" pkgid="YES">[0-9a-f]+</checksum>',
                  f'<checksum type="sha1" pkgid="YES">{sha("sha1", rpm)}</checksum>', xml)
    check("setup: primary edited to a sha1 package checksum", xml2 != xml, xml[:400])
    with open(prim, "wb") as f:
        f.write(gzip.compress(xml2.encode(), mtime=0))
    md2 = md[:m.start()] + m.group(1) + "sha256" + m.group(2) + sha("sha256", prim) + m.group(4) + md[m.end():]
    write(os.path.join(d, "repodata", "repomd.xml"), md2)
    cases["package"] = d

    for what, d in cases.items():
        v = slipway("verify", "--allow-unsigned", "--key", KEYS["A"][1], d)
        check(f"sha1 {what} checksum: verify exits 1 refusing sha1",
              v.returncode == 1 and "checksum type 'sha1' is not accepted" in v.stderr, show(v))
        proj = repo_project(f"sha1-{what}", f"""[repos.ext]
url = "file://{d}"
gpgcheck = false
""")
        p = image(proj, "image", "x")
        check(f"sha1 {what} checksum: image exits 1 refusing sha1, as verify does",
              p.returncode == 1 and "checksum type 'sha1' is not accepted" in p.stderr, show(p))
        no_outputs(f"sha1 {what} checksum", proj, "x")
    # The unedited repository passes both.
    v = slipway("verify", "--allow-unsigned", "--key", KEYS["A"][1], base)
    check("sha256 throughout: verify exits 0", v.returncode == 0, show(v))
    proj = repo_project("sha256-ok", f"""[repos.ext]
url = "file://{base}"
gpgcheck = false
""")
    p = image(proj, "image", "x")
    check("sha256 throughout: image exits 0", p.returncode == 0, show(p))


def test_repos_http():
    handler = lambda *a, **k: QuietHandler(*a, directory=REPOS["signed"], **k)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    port = srv.server_address[1]
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        d = repo_project("web", f"""[repos.web]
url = "http://127.0.0.1:{port}/"
gpg-key = "{KEYS['A'][1]}"
""")
        QuietHandler.log.clear()
        p = image(d, "image", "x")
        if check("http: exit 0", p.returncode == 0, show(p)):
            t = tar_paths(d, "x")
            check("http: the package's file is in the image", (t.get("/usr/share/plain/hello.txt") or (0, 0))[1] ==
                  b"hello from plain\n", sorted(t)[:20])
        cache = os.path.join(d, "out", "cache", "web")
        rpm = os.path.basename(plain_rpm("plain-hello"))
        check("http: repomd.xml cached in out/cache/web/repodata",
              os.path.isfile(os.path.join(cache, "repodata", "repomd.xml")) and
              read(os.path.join(cache, "repodata", "repomd.xml")) ==
              read(os.path.join(REPOS["signed"], "repodata", "repomd.xml")),
              os.listdir(cache) if os.path.isdir(cache) else "no cache")
        cached = os.path.join(cache, "Packages", rpm)
        check("http: the package cached in out/cache/web/Packages", os.path.isfile(cached) and
              read(cached) == read(os.path.join(REPOS["signed"], "Packages", rpm)), glob.glob(cache + "/**", recursive=True))
        check("http: the package was fetched over http", any(x.endswith(".rpm") for x in QuietHandler.log),
              QuietHandler.log)
        first = read(os.path.join(images_dir(d), "x.tar.zst")) if os.path.isfile(
            os.path.join(images_dir(d), "x.tar.zst")) else None
        QuietHandler.log.clear()
        p = image(d, "image", "x")
        check("http: second run: exit 0", p.returncode == 0, show(p))
        check("http: second run: the same image", os.path.isfile(os.path.join(images_dir(d), "x.tar.zst")) and
              read(os.path.join(images_dir(d), "x.tar.zst")) == first, "differs")
        check("http: second run: the cached package is not fetched again",
              not any(x.endswith(".rpm") for x in QuietHandler.log), QuietHandler.log)

        # A cached package that was tampered with is fetched again (its checksum is wrong).
        if os.path.isfile(cached):
            with open(cached, "r+b") as f:
                f.seek(200)
                f.write(b"\0\0\0\0")
            QuietHandler.log.clear()
            p = image(d, "image", "x")
            check("http: a corrupted cached package is fetched again", p.returncode == 0 and
                  read(cached) == read(os.path.join(REPOS["signed"], "Packages", rpm)) and
                  any(x.endswith(".rpm") for x in QuietHandler.log), show(p))

        # Another key, over http.
        d2 = repo_project("web-wrongkey", f"""[repos.web]
url = "http://127.0.0.1:{port}/"
gpg-key = "{KEYS['B'][1]}"
""")
        p = image(d2, "image", "x")
        check("http: another key: exit 1, names the repository", p.returncode == 1 and "'web'" in p.stderr, show(p))
        no_outputs("http: another key", d2, "x")

        # A URL where the server answers 404.
        d3 = repo_project("web404", f"""[repos.web]
url = "http://127.0.0.1:{port}/no/such/repo/"
gpgcheck = false
""")
        p = image(d3, "image", "x")
        check("http: 404: exit 1, a clear message (404, the repository)",
              p.returncode == 1 and "404" in p.stderr and "'web'" in p.stderr, show(p))
        no_outputs("http: 404", d3, "x")
    finally:
        srv.shutdown()
        srv.server_close()


# A server that serves a repository's files, except where the path says
# otherwise: under /endless/ repodata/repomd.xml never ends; under /announce/
# it announces 300 MB; under /endless-asc/ repomd.xml.asc never ends; under
# /endless-rpm/ every package never ends. Run as its own process, stopped by pid.
HOSTILE_SERVER = r"""
import http.server, os, sys
ROOT = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def log_message(self, *a):
        pass
    def endless(self, length=None):
        self.send_response(200)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()
        chunk = b"<!-- " + b"x" * 65530 + b"\n"
        try:
            while True:
                self.wfile.write(chunk)
        except OSError:
            pass
    def do_GET(self):
        mode, _, rest = self.path.lstrip("/").partition("/")
        if (mode == "endless" and rest == "repodata/repomd.xml") or \
           (mode == "endless-asc" and rest == "repodata/repomd.xml.asc") or \
           (mode == "endless-rpm" and rest.endswith(".rpm")):
            return self.endless()
        if mode == "announce" and rest == "repodata/repomd.xml":
            return self.endless(300 * 1000 * 1000)
        f = os.path.join(ROOT, rest)
        if ".." in rest.split("/") or not os.path.isfile(f):
            self.send_error(404)
            return
        with open(f, "rb") as fh:
            data = fh.read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"""


def files_under(d):
    return sorted(os.path.relpath(os.path.join(dp, f), d) for dp, _, fs in os.walk(d) for f in fs)


def test_download_caps():
    """What is downloaded before its signature is checked is capped at 4 MiB,
    and a package at the size the signed metadata gives: a server that
    streams without end makes `slipway image` fail at once with one error
    naming the URL and the cap, and nothing is left in out/cache."""
    srv = subprocess.Popen([sys.executable, "-c", HOSTILE_SERVER, REPOS["signed"]], stdout=subprocess.PIPE,
                           text=True)
    try:
        port = int(srv.stdout.readline())
        rpm = os.path.basename(plain_rpm("plain-hello"))
        size = os.path.getsize(os.path.join(REPOS["signed"], "Packages", rpm))
        cases = [
            ("endless repomd.xml", "endless", "repodata/repomd.xml", "4 MiB"),
            ("repomd.xml announcing 300 MB", "announce", "repodata/repomd.xml", "4 MiB"),
            ("endless repomd.xml.asc", "endless-asc", "repodata/repomd.xml.asc", "4 MiB"),
            ("endless package", "endless-rpm", "Packages/" + rpm, f"{size} bytes"),
        ]
        for label, mode, path, cap in cases:
            d = repo_project("cap-" + mode, f"""[repos.web]
url = "http://127.0.0.1:{port}/{mode}/"
gpg-key = "{KEYS['A'][1]}"
""")
            t0 = time.monotonic()
            p = image(d, "image", "x")
            took = time.monotonic() - t0
            url = f"http://127.0.0.1:{port}/{mode}/{path}"
            errors = [x for x in p.stderr.splitlines() if "error:" in x]
            check(f"download cap, {label}: exit 1, one error naming the URL and the cap ({cap})",
                  p.returncode == 1 and len(errors) == 1 and f"'{url}'" in errors[0] and
                  f"larger than the {cap} allowed" in errors[0], show(p))
            check(f"download cap, {label}: fails quickly ({took:.1f}s)", took < 20, "")
            cache = os.path.join(d, "out", "cache")
            left = files_under(cache) if os.path.isdir(cache) else []
            if mode == "endless-rpm":  # the verified metadata stays cached; no package file does
                left = [f for f in left if not f.startswith("web/repodata/")]
            check(f"download cap, {label}: nothing left in out/cache", not left, left)
            no_outputs(f"download cap, {label}", d, "x")
            shutil.rmtree(d, ignore_errors=True)
    finally:
        srv.kill()
        srv.wait()
        srv.stdout.close()


def run_tool(*args):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120)


def test_disks():
    """The disk formats of a data disk (boot = "none"): GPT with an ESP, a root that grows and a
    /srv partition; ext4 and vfat made from the tree; the four containers the same
    disk."""
    d = make_project("disks", {
        "slipway.toml": f"""[project]
name = "disks"
version = "1"
source-date-epoch = {SDE}

[components.payload]
version = "1.0"
summary = "files for every partition"
license = "MIT"
arch = "noarch"

[[components.payload.files]]
source = "files/data"
path = "/srv/www/index.html"

[[components.payload.files]]
source = "files/loader.conf"
path = "/boot/efi/loader/loader.conf"

[[components.payload.files]]
source = "files/tool"
path = "/usr/bin/tool"
mode = "04755"

[images.vm]
formats = ["raw", "vhd", "vhdx", "qcow2"]
packages = ["payload"]
boot = "none"

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

[[images.vm.users]]
name = "web"
uid = 1500
""",
        "files/data": "<h1>hello</h1>\n",
        "files/loader.conf": "timeout 3\n",
        "files/tool": "#!/bin/sh\n",
    })
    p = slipway("-C", d, "package")
    if not check("disks: package", p.returncode == 0, show(p)):
        return
    p = slipway("-C", d, "image")
    if not check("disks: image exit 0", p.returncode == 0, show(p)):
        return
    check("disks: boot = none: no boot warning or error", "boot" not in p.stderr, p.stderr)
    out = images_dir(d)
    check("disks: four outputs and the SBOM",
          outputs_of(d, "vm") == ["vm.qcow2", "vm.raw", "vm.spdx.json", "vm.vhd", "vm.vhdx"], outputs_of(d, "vm"))
    raw = os.path.join(out, "vm.raw")
    sf = run_tool("sfdisk", "-J", raw)
    if not check("disks: sfdisk reads the GPT", sf.returncode == 0, sf.stderr):
        return
    parts = json.loads(sf.stdout)["partitiontable"]["partitions"]
    types = [x["type"].upper() for x in parts]
    check("disks: ESP, root (x86-64 or the host's), srv type GUIDs",
          len(parts) == 3 and types[0] == "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
          and types[2] == "3B8F8425-20E0-4F3B-907F-1A25A76F98E8", types)
    check("disks: 1 MiB alignment, sizes as configured",
          all(x["start"] % 2048 == 0 for x in parts) and parts[0]["size"] == 64 * 2048 and parts[2]["size"] == 32 * 2048,
          parts)
    check("disks: the GPT name from the label", parts[2].get("name") == "srv-data", parts[2])
    sg = run_tool("sgdisk", "-v", raw)
    check("disks: sgdisk -v finds no problems", sg.returncode == 0 and "No problems found" in sg.stdout, sg.stdout)

    def extract(i, name):
        x = parts[i]
        path = os.path.join(d, name)
        with open(raw, "rb") as f, open(path, "wb") as g:
            f.seek(x["start"] * 512)
            g.write(f.read(x["size"] * 512))
        return path

    esp, root, srv = extract(0, "esp.img"), extract(1, "root.img"), extract(2, "srv.img")
    fs = run_tool("fsck.vfat", "-n", esp)
    check("disks: fsck.vfat -n on the ESP", fs.returncode == 0, fs.stdout + fs.stderr)
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    mc = subprocess.run(["mcopy", "-i", esp, "::/loader/loader.conf", "-"], capture_output=True, env=env)
    check("disks: the ESP holds /boot/efi's files", mc.returncode == 0 and mc.stdout == b"timeout 3\n", mc)
    for name, img in (("root", root), ("srv", srv)):
        e = run_tool("e2fsck", "-fn", img)
        check(f"disks: e2fsck -fn on {name}", e.returncode == 0, e.stdout + e.stderr)
    st = run_tool("debugfs", "-R", "stat /usr/bin/tool", root)
    check("disks: root: /usr/bin/tool 04755 root", "Mode:  04755" in st.stdout and "User:     0" in st.stdout, st.stdout)
    home = run_tool("debugfs", "-R", "stat /home/web", root)
    check("disks: root: the user's home owned by 1500", "User:  1500" in home.stdout, home.stdout)
    fstab = run_tool("debugfs", "-R", "cat /etc/fstab", root).stdout
    lines = [l.split() for l in fstab.splitlines() if l and not l.startswith("#")]
    check("disks: fstab: /, /boot/efi, /srv by PARTUUID in mount order",
          [l[1] for l in lines] == ["/", "/boot/efi", "/srv"]
          and [l[0] for l in lines] == ["PARTUUID=" + parts[i]["uuid"].lower() for i in (1, 0, 2)], fstab)
    ls = run_tool("debugfs", "-R", "ls /srv", root).stdout
    check("disks: root: /srv is an empty mount point", "www" not in ls, ls)
    cat = run_tool("debugfs", "-R", "cat /www/index.html", srv)
    check("disks: srv holds /srv's files", cat.stdout == "<h1>hello</h1>\n", cat.stdout + cat.stderr)
    size = os.path.getsize(raw)
    for fmt, f in (("vpc", "vm.vhd"), ("vhdx", "vm.vhdx"), ("qcow2", "vm.qcow2")):
        info = run_tool("qemu-img", "info", "-f", fmt, "--output=json", os.path.join(out, f))
        vs = json.loads(info.stdout).get("virtual-size") if info.returncode == 0 else None
        check(f"disks: qemu-img info -f {fmt}: the raw disk's size", vs == size, info.stdout + info.stderr)
        cmp = run_tool("qemu-img", "compare", "-f", "raw", "-F", fmt, raw, os.path.join(out, f))
        check(f"disks: qemu-img compare raw {f}: identical", cmp.returncode == 0, cmp.stdout + cmp.stderr)
    for fmt, f in (("vhdx", "vm.vhdx"), ("qcow2", "vm.qcow2")):
        c = run_tool("qemu-img", "check", "-f", fmt, os.path.join(out, f))
        check(f"disks: qemu-img check {f}", c.returncode == 0, c.stdout + c.stderr)
    check("disks: the size is a whole number of MiB (VHD, Azure)", size % (1 << 20) == 0, size)
    before = {f: sha256(read(os.path.join(out, f))) for f in ("vm.raw", "vm.vhd", "vm.vhdx", "vm.qcow2")}
    shutil.rmtree(out)
    p = slipway("-C", d, "-j", "1", "image")
    after = {f: sha256(read(os.path.join(out, f))) for f in before if os.path.exists(os.path.join(out, f))}
    check("disks: a second build is byte-identical", p.returncode == 0 and before == after, show(p))
    # Files that do not fit: an error, nothing at the final paths.
    write(os.path.join(d, "files", "data"), "x" * (40 << 20))
    p = slipway("-C", d, "package")
    p = slipway("-C", d, "image")
    check("disks: /srv's files do not fit: exit 1 naming /srv", p.returncode == 1 and "/srv" in p.stderr, show(p))
    check("disks: ... and the earlier disks are untouched",
          {f: sha256(read(os.path.join(out, f))) for f in before} == before, "changed")
    check("disks: ... and no temporary file is left", not glob.glob(os.path.join(out, "*.tmp.*")),
          glob.glob(os.path.join(out, "*")))
    # A disk size the partitions do not fit in (64 + 32 MiB, 1 MiB for the root that
    # grows, 2 for the GPT): an error of the project, at its key, before anything is
    # composed; `slipway check` says the same.
    toml = os.path.join(d, "slipway.toml")
    write(toml, read(toml).decode().replace('boot = "none"\n', 'boot = "none"\nsize = "64M"\n'))
    want = re.compile(r"slipway\.toml:\d+:\d+: error: image 'vm': size = 64 MiB is too small for its partitions: "
                      r"they need 99 MiB")
    p = slipway("-C", d, "image")
    check("disks: size too small: exit 1 at the 'size' key, when the project loads",
          p.returncode == 1 and want.search(p.stderr) is not None, show(p))
    check("disks: ... and the earlier disks are untouched",
          {f: sha256(read(os.path.join(out, f))) for f in before} == before, "changed")
    c = slipway("-C", d, "check")
    check("disks: size too small: slipway check exit 1, the same error", c.returncode == 1 and want.search(c.stderr),
          show(c))


def test_build():
    """`slipway build`: package, repository and images from a project with no out/."""
    d = make_project("buildall", {
        "slipway.toml": f"""[project]
name = "buildall"
version = "2"
source-date-epoch = {SDE}

[components.note]
version = "1.0"
summary = "a note"
license = "MIT"
arch = "noarch"

[[components.note.files]]
source = "files/note"
path = "/usr/share/note"

[images.box]
formats = ["tar"]
packages = ["note"]
""",
        "files/note": "built in one go\n",
    })
    p = slipway("-C", d, "build")
    check("build: exit 0 from nothing", p.returncode == 0, show(p))
    check("build: the repository is indexed", os.path.isfile(os.path.join(d, "out", "repo", "repodata", "repomd.xml")),
          "no repomd.xml")
    tarball = os.path.join(images_dir(d), "box.tar.zst")
    if check("build: the image is written", os.path.isfile(tarball), outputs_of(d, "box")):
        t = by_path(open_tar(zstd_d(read(tarball))))
        c = (t.get("/usr/share/note") or (None, None))[1]
        check("build: the image holds the component's file", c == b"built in one go\n", c)
    p = slipway("-C", d, "build", "nosuch")
    check("build: an unknown image: exit 1", p.returncode == 1 and "nosuch" in p.stderr, show(p))
    write(os.path.join(d, "slipway.toml"), read(os.path.join(d, "slipway.toml")).decode().replace(
        'source = "files/note"', 'source = "files/gone"'))
    p = slipway("-C", d, "build")
    check("build: a bad project: exit 1, no image composed", p.returncode == 1, show(p))


def test_json():
    """`image --json`: one document on stdout naming the packages and outputs."""
    p = image(MAIN, "-q", "image", "--json", "mini")
    if not check("--json: exit 0", p.returncode == 0, show(p)):
        return
    try:
        doc = json.loads(p.stdout)
    except ValueError as e:
        check("--json: stdout is one JSON document", False, f"{e}: {p.stdout[:500]}")
        return
    imgs = doc.get("images") or []
    check("--json: one image, none failed", len(imgs) == 1 and doc.get("failed") == 0, doc)
    if not imgs:
        return
    im = imgs[0]
    check("--json: the image's name", im.get("name") == "mini", im.get("name"))
    check("--json: packages are NEVRAs", im.get("packages") and all(re.match(r"^[^ ]+-[^-]+-[^-]+\.[a-z0-9_]+$", x)
                                                                   for x in im["packages"]), im.get("packages"))
    outs = {o.get("format"): o for o in im.get("outputs") or []}
    check("--json: tar and cpio outputs, and the SBOM", sorted(outs) == ["cpio", "sbom", "tar"], sorted(outs))
    for fmt, o in outs.items():
        path = o.get("path") or ""
        full = path if os.path.isabs(path) else os.path.join(MAIN, path)
        check(f"--json: {fmt} output exists with the stated size",
              os.path.isfile(full) and os.path.getsize(full) == o.get("size"), o)


# ---------------------------------------------------------------------------
# One image of the bundled example listing every format: each output must be
# the same as that format's alone, and a failure in any writer publishes none.

EVERY_FORMAT = ["raw", "vhd", "vhdx", "qcow2", "iso", "oci", "tar", "wsl", "cpio"]
EXT = {"raw": ["raw"], "vhd": ["vhd"], "vhdx": ["vhdx"], "qcow2": ["qcow2"], "iso": ["iso"],
       "oci": ["oci", "oci.tar"], "tar": ["tar.zst"], "wsl": ["wsl"], "cpio": ["cpio.zst"]}
ALL_TOML = """[images.all]
formats = [%s]
packages = ["kernel", "systemd-boot", "grub-bios", "syslinux", "slipway-init", "hello", "motd"]
hostname = "azl"
kernel-cmdline = "console=ttyS0 init=/usr/lib/slipway/init"
selinux = "disabled"
boot = "hybrid"
size = "128M"
initrd = "initrd"

[[images.all.partitions]]
type = "esp"
size = "40M"

[[images.all.partitions]]
type = "root"
size = "grow"

[[images.all.users]]
name = "azureuser"
uid = 1000
"""
EXAMPLE = {}


def example():
    """A copy of examples/minimal, built once (packages, repository and images)."""
    if "proj" not in EXAMPLE:
        proj = os.path.join(BASE, "example")
        shutil.copytree(os.path.join(ROOT, "examples", "minimal"), proj, ignore=shutil.ignore_patterns("out"))
        p = slipway("-C", proj, "build", timeout=600)
        EXAMPLE["proj"] = proj if check("example: slipway build exits 0", p.returncode == 0, show(p)) else None
    return EXAMPLE["proj"]


def image_all(proj, formats, out, fail=None):
    """`slipway image initrd all` with image 'all' listing formats, into out."""
    write(os.path.join(proj, "images", "all.toml"), ALL_TOML % ", ".join(f'"{f}"' for f in formats))
    if not os.path.isdir(os.path.join(out, "repo")):
        shutil.copytree(os.path.join(proj, "out", "repo"), os.path.join(out, "repo"))
    e = dict(os.environ, LC_ALL="C", TMPDIR=TMPDIR)
    e.pop("SOURCE_DATE_EPOCH", None)
    e.pop("SLIPWAY_TEST_FAIL_FORMAT", None)
    if fail:
        e["SLIPWAY_TEST_FAIL_FORMAT"] = fail
    return subprocess.run([SLIPWAY, "-C", proj, "--out", out, "image", "initrd", "all"], capture_output=True,
                          text=True, env=e, timeout=300)


def file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def digest_snapshot(path):
    """A file's SHA-256, or a directory's files as {relpath: SHA-256} (disks are
    too large to hold several in memory)."""
    if os.path.isdir(path):
        return {os.path.relpath(os.path.join(d, f), path): file_digest(os.path.join(d, f))
                for d, _, fs in os.walk(path) for f in fs}
    return file_digest(path)


def all_outputs(out):
    """{name: digests} of every entry of out/images that belongs to image 'all'."""
    d = os.path.join(out, "images")
    return {n: digest_snapshot(os.path.join(d, n)) for n in sorted(os.listdir(d)) if n.startswith("all.")} \
        if os.path.isdir(d) else {}


def test_formats_independent():
    """Every output of an image listing every format is byte-identical to that
    format written alone (no writer changes what another one sees)."""
    proj = example()
    if not proj:
        return
    together = os.path.join(BASE, "all-together")
    p = image_all(proj, EVERY_FORMAT, together)
    if not check("image with every format exits 0", p.returncode == 0, show(p)):
        return
    every = all_outputs(together)
    check("image with every format: every output and the SBOM", sorted(every) == sorted(
        ["all.spdx.json"] + ["all." + e for f in EVERY_FORMAT for e in EXT[f]]), sorted(every))
    for f in EVERY_FORMAT:
        alone = os.path.join(BASE, "all-alone-" + f)
        p = image_all(proj, [f], alone)
        if not check(f"image with {f} alone exits 0", p.returncode == 0, show(p)):
            continue
        one = all_outputs(alone)
        for e in EXT[f] + ["spdx.json"]:
            name = "all." + e
            check(f"{name}: the same bytes alone as beside every other format",
                  name in one and one.get(name) == every.get(name),
                  "differ" if name in one else sorted(one))
    # The live ISO's root is the image's tree: the disk's /etc/fstab and ESP
    # files must not be in it (they were, when the disks wrote into the tree).
    iso = os.path.join(together, "images", "all.iso")
    x = tool("osirrox", "-indev", iso, "-extract", "/boot/initrd", os.path.join(BASE, "all-initrd"))
    if check("osirrox extracts the ISO's initrd", x.returncode == 0, x.stderr[-800:]):
        # The initrd image's cpio, then the live root's, each zstd: cpio names
        # end in NUL, so a name is found as itself plus NUL.
        data = zstd_d(read(os.path.join(BASE, "all-initrd")))
        found = [n for n in (b"written by slipway from the image's partitions", b"boot/efi/loader/loader.conf\0")
                 if n in data]
        check("the ISO's live root has no disk /etc/fstab and no ESP files", not found, found)
        check("the ISO's live root has the image's files", b"usr/bin/hello\0" in data, "no usr/bin/hello")


def test_all_or_none():
    """A failure injected in any one writer leaves no new file at any final path
    of the image, no temporary file, and the earlier outputs as they were."""
    proj = example()
    if not proj:
        return
    # One format of each writer (cpio's is like tar's and slow at zstd -19).
    formats = ["oci", "tar", "wsl", "raw", "vhd", "iso"]
    fresh_base = os.path.join(BASE, "none-fresh")
    for f in formats:
        out = fresh_base + "-" + f
        p = image_all(proj, formats, out, fail=f)
        check(f"{f} fails: exit 1 with one error naming it",
              p.returncode == 1 and f"{f}: failure injected" in p.stderr, show(p))
        left = all_outputs(out)
        check(f"{f} fails in a new directory: nothing of the image is left", not left, sorted(left))
    old = os.path.join(BASE, "none-old")
    p = image_all(proj, formats, old)
    if not check("image with six formats exits 0", p.returncode == 0, show(p)):
        return
    before = all_outputs(old)
    # Other bytes for every output (another hostname), then a failure: the
    # earlier outputs must survive, untouched.
    orig = ALL_TOML
    globals()["ALL_TOML"] = orig.replace('hostname = "azl"', 'hostname = "other"')
    try:
        for f in formats:
            p = image_all(proj, formats, old, fail=f)
            check(f"{f} fails over earlier outputs: exit 1", p.returncode == 1, show(p))
            after = all_outputs(old)
            check(f"{f} fails over earlier outputs: every earlier output as it was, nothing else",
                  after == before, sorted(set(after) ^ set(before)) or "contents differ")
        p = image_all(proj, formats, old)
        check("then without a failure: exit 0", p.returncode == 0, show(p))
        after = all_outputs(old)
        # The SBOM lists the same packages: its bytes stay (the hostname is not in it).
        check("then without a failure: every output replaced, nothing else left",
              sorted(after) == sorted(before) and
              all(after[n] != before[n] for n in before if not n.endswith(".spdx.json")) and
              after.get("all.spdx.json") == before.get("all.spdx.json"),
              [n for n in before if (after.get(n) == before[n]) != n.endswith(".spdx.json")])
    finally:
        globals()["ALL_TOML"] = orig
    # A final path that is something else (a directory where a file goes):
    # refused before anything is written.
    blocked = os.path.join(BASE, "none-blocked")
    os.makedirs(os.path.join(blocked, "images", "all.raw"))
    write(os.path.join(blocked, "images", "all.raw", "precious"), "keep me")
    p = image_all(proj, formats, blocked)
    check("a directory at all.raw: exit 1 naming it", p.returncode == 1 and "all.raw" in p.stderr, show(p))
    check("a directory at all.raw: it is kept, nothing else written",
          all_outputs(blocked) == {"all.raw": {"precious": hashlib.sha256(b"keep me").hexdigest()}},
          sorted(all_outputs(blocked)))


BIG_MIB = 300


def test_large_file_memory():
    """A package with a file of 300 MiB: composing it into a tar and a raw disk keeps
    slipway's peak memory well under the file's size (the payload is spooled to a file
    in $TMPDIR and the writers read it in pieces), and the file is whole and right in
    both. The data is no hole for ext4 (every 4 KiB block has a counter and a random
    salt) but compresses well: the package's zstd -19 of 300 MiB of random bytes would
    take minutes."""
    d = make_project("bigfile", {
        "slipway.toml": f"""[project]
name = "bigfile"
version = "1"
source-date-epoch = {SDE}

[components.big]
version = "1.0"
summary = "one large file"
license = "MIT"
arch = "noarch"

[[components.big.files]]
source = "files/big.bin"
path = "/data/big.bin"

[images.big]
formats = ["tar", "raw"]
packages = ["big"]
boot = "none"

[[images.big.partitions]]
type = "root"
size = "grow"
""",
    })
    src = os.path.join(d, "files", "big.bin")
    os.makedirs(os.path.dirname(src))
    h = hashlib.sha256()
    salt = os.urandom(8)
    with open(src, "wb") as f:
        for m in range(BIG_MIB):
            chunk = b"".join(struct.pack("<Q", m * 256 + k) + salt + bytes(4096 - 16) for k in range(256))
            h.update(chunk)
            f.write(chunk)
    want = h.hexdigest()
    p = slipway("-C", d, "package", timeout=600)
    if not check("large file: package", p.returncode == 0, show(p)):
        return
    tmp_before = sorted(os.listdir(TMPDIR))
    # A fresh process whose only child is slipway: its RUSAGE_CHILDREN peak is slipway's.
    e = dict(os.environ, LC_ALL="C", TMPDIR=TMPDIR)
    e.pop("SOURCE_DATE_EPOCH", None)
    meter = ("import resource, subprocess, sys\n"
             "r = subprocess.run(sys.argv[1:]).returncode\n"
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
             "sys.exit(r)\n")
    p = subprocess.run([sys.executable, "-c", meter, SLIPWAY, "-C", d, "image"], capture_output=True, text=True,
                       env=e, timeout=600)
    if not check("large file: image exit 0", p.returncode == 0, show(p)):
        return
    peak_mib = int(p.stdout.split()[-1]) / 1024
    print(f"large file: compose peak RSS {peak_mib:.0f} MiB for a {BIG_MIB} MiB file")
    # AddressSanitizer's shadow memory and its quarantine of freed blocks count
    # in the RSS of a sanitizer build: the bound is the plain build's to check.
    with open(SLIPWAY, "rb") as f:
        sanitized = b"__asan_init" in f.read()
    if sanitized:
        print(f"note: large file: peak RSS {peak_mib:.0f} MiB not checked in a sanitizer build")
    else:
        check(f"large file: peak RSS under a third of the file ({peak_mib:.0f} MiB < {BIG_MIB // 3} MiB)",
              peak_mib < BIG_MIB / 3, p.stdout)
    check("large file: no spool file left in $TMPDIR", sorted(os.listdir(TMPDIR)) == tmp_before, os.listdir(TMPDIR))
    out = images_dir(d)

    # The tar: the member's bytes, streamed through zstd and tar.
    t = subprocess.run(f"zstd -dc -q '{out}/big.tar.zst' | tar -xOf - ./data/big.bin | sha256sum", shell=True,
                       capture_output=True, text=True, timeout=300)
    check("large file: tar holds the file's bytes", t.returncode == 0 and t.stdout.split()[:1] == [want],
          t.stdout + t.stderr)

    # The raw disk: debugfs dumps the file from the root file system.
    raw = os.path.join(out, "big.raw")
    sf = run_tool("sfdisk", "-J", raw)
    if not check("large file: sfdisk reads the GPT", sf.returncode == 0, sf.stderr):
        return
    part = json.loads(sf.stdout)["partitiontable"]["partitions"][0]
    root = os.path.join(d, "root.img")
    with open(raw, "rb") as f, open(root, "wb") as g:
        f.seek(part["start"] * 512)
        left = part["size"] * 512
        while left > 0:
            b = f.read(min(left, 16 << 20))
            if not b:
                break
            g.write(b)
            left -= len(b)
    os.remove(raw)
    fsck = run_tool("e2fsck", "-fn", root)
    check("large file: e2fsck -fn on the root", fsck.returncode == 0, fsck.stdout + fsck.stderr)
    dumped = os.path.join(d, "big.dumped")
    dm = run_tool("debugfs", "-R", f"dump /data/big.bin {dumped}", root)
    h = hashlib.sha256()
    size = 0
    if os.path.exists(dumped):
        with open(dumped, "rb") as f:
            for b in iter(lambda: f.read(1 << 20), b""):
                h.update(b)
                size += len(b)
    check("large file: debugfs dumps the file's bytes from the raw disk",
          size == BIG_MIB << 20 and h.hexdigest() == want, f"{size} bytes; {dm.stderr}")
    shutil.rmtree(d, ignore_errors=True)


def craft_bomb(src_rpm, inflate_mib, payload_size=None):
    """src_rpm with its payload followed by inflate_mib MiB of zeros (a zstd
    frame of 64 MiB of zeros, repeated: some kB), while its headers keep
    claiming the small file list (and PAYLOADSIZE, or payload_size). The
    digests of the compressed payload and of the header are made right; the
    uncompressed payload's (PAYLOADDIGESTALT) is not: nothing checks it
    before unpacking."""
    b = bytearray(read(src_rpm))
    sent, sstore, main, ment, mstore, pstart = rpm_layout(bytes(b))
    head = bytearray(b[main:pstart])
    cpio = zstd_d(bytes(b[pstart:]))
    comp = zstd_c(cpio) + zstd_c(bytes(64 << 20)) * (inflate_mib // 64)
    ment2, mstore2, _ = header_at(bytes(head), 0)
    set_string(head, ment2, mstore2, 5092, sha256(comp).encode())
    head = bytes(head)
    sig = bytearray(b[:main])
    set_string(sig, sent, sstore, 273, hashlib.sha256(head).hexdigest().encode())
    set_string(sig, sent, sstore, 269, hashlib.sha1(head).hexdigest().encode())
    set_bin(sig, sent, sstore, 1004, hashlib.md5(head + comp).digest())
    set_int32(sig, sent, sstore, 1000, len(head) + len(comp))
    set_int32(sig, sent, sstore, 1007, len(cpio) if payload_size is None else payload_size)
    return bytes(sig) + head + comp


def measured(*args):
    """slipway ARGS in a fresh process whose only child is slipway: (the
    completed process, slipway's peak RSS in MiB)."""
    e = dict(os.environ, LC_ALL="C", TMPDIR=TMPDIR)
    meter = ("import resource, subprocess, sys\n"
             "r = subprocess.run(sys.argv[1:]).returncode\n"
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
             "sys.exit(r)\n")
    p = subprocess.run([sys.executable, "-c", meter, SLIPWAY, *args], capture_output=True, text=True, env=e,
                       timeout=600)
    return p, int(p.stdout.split()[-1]) / 1024 if p.stdout.split() else -1


def test_metadata_open_size():
    """The primary metadata is decompressed into a buffer of the <open-size>
    repomd.xml states and no more: one that holds more is refused, named."""
    d = os.path.join(BASE, "repo-open-size")
    shutil.copytree(REPOS["unsigned"], d)
    md = os.path.join(d, "repodata", "repomd.xml")
    text = read(md).decode()
    i = text.index('<data type="primary">')
    j = text.index("<open-size>", i)
    k = text.index("</open-size>", j)
    write(md, text[:j] + "<open-size>100" + text[k:])
    proj = repo_project("open-size", f"""[repos.o]
url = "file://{d}"
gpgcheck = false
""")
    p = image(proj, "image", "x")
    check("open-size: primary larger than repomd.xml states: exit 1, named", p.returncode == 1 and
          "decompresses to more than the 100 bytes repomd.xml states" in p.stderr and "'o'" in p.stderr, show(p))
    no_outputs("open-size", proj, "x")
    p = slipway("verify", "--allow-unsigned", "--key", KEYS["A"][1], d)
    check("open-size: slipway verify: the primary metadata fails", p.returncode == 1 and
          "FAILED: malformed primary metadata" in p.stderr, show(p))


def test_decompression_bomb():
    """A package of some kB whose payload inflates to 2 GiB of zeros while its
    header states a few hundred bytes: `slipway image` refuses it, naming the
    package, as soon as the payload goes past what the header states; it
    neither holds the 2 GiB in memory nor writes them to $TMPDIR. Twice: with
    an honest small PAYLOADSIZE (the payload decompressed into memory) and with
    a PAYLOADSIZE of almost 4 GiB (spooled to $TMPDIR: the file list's sizes
    bound it)."""
    with open(SLIPWAY, "rb") as f:
        sanitized = b"__asan_init" in f.read()
    for label, tag, claim in [("small PAYLOADSIZE", "small", None), ("PAYLOADSIZE of 4 GiB", "large", 0xFFFFFFF0)]:
        d = os.path.join(BASE, "repo-bomb-" + tag)
        os.makedirs(os.path.join(d, "Packages"))
        bomb = craft_bomb(plain_rpm("plain-hello"), 2048, claim)
        path = os.path.join(d, "Packages", os.path.basename(plain_rpm("plain-hello")))
        with open(path, "wb") as f:
            f.write(bomb)
        check(f"bomb, {label}: the package is small ({len(bomb)} bytes)", len(bomb) < 512 * 1024, len(bomb))
        p = slipway("repo", d)
        if not check(f"bomb, {label}: indexed", p.returncode == 0, show(p)):
            continue
        proj = repo_project("bomb-" + tag, f"""[repos.bomb]
url = "file://{d}"
gpgcheck = false
""")
        tmp_before = sorted(os.listdir(TMPDIR))
        t0 = time.monotonic()
        p, peak = measured("-C", proj, "image", "x")
        took = time.monotonic() - t0
        check(f"bomb, {label}: exit 1, the package named, the payload refused", p.returncode == 1 and
              "plain-hello-3.0" in p.stderr and re.search(r"payload decompresses to more than the \d+ bytes its header states",
                                                          p.stderr) is not None, show(p))
        print(f"bomb, {label}: {took:.1f}s, peak RSS {peak:.0f} MiB")
        if sanitized:
            print(f"note: bomb: peak RSS {peak:.0f} MiB not checked in a sanitizer build")
        else:
            check(f"bomb, {label}: peak RSS small ({peak:.0f} MiB < 200 MiB)", 0 < peak < 200, p.stdout)
        check(f"bomb, {label}: refused within 20 s ({took:.1f}s)", took < 20, "")
        check(f"bomb, {label}: nothing left in $TMPDIR", sorted(os.listdir(TMPDIR)) == tmp_before,
              os.listdir(TMPDIR))
        no_outputs(f"bomb, {label}", proj, "x")
        shutil.rmtree(proj, ignore_errors=True)


def test_payload_codec():
    """A package whose payload is compressed with a codec slipway does not read
    (bzip2, which rpm still writes on request) is refused with that codec named,
    not with a guess at what went wrong."""
    top = os.path.join(BASE, "bz2-build")
    os.makedirs(os.path.join(top, "SPECS"))
    spec = os.path.join(top, "SPECS", "bz.spec")
    with open(spec, "w") as f:
        f.write("""Name: bz
Version: 1
Release: 1
Summary: A bzip2 payload
License: MIT
BuildArch: noarch
%define _binary_payload w9.bzdio

%description
bz.

%install
mkdir -p %{buildroot}/usr/share/bz
echo bz > %{buildroot}/usr/share/bz/data

%files
/usr/share/bz
""")
    q = tool("rpmbuild", "-bb", "--define", f"_topdir {top}", "--define", f"source_date_epoch_from_changelog 0",
             spec)
    if not check("bzip2 payload: rpmbuild", q.returncode == 0, show(q)):
        return
    rpm = os.path.join(top, "RPMS", "noarch", "bz-1-1.noarch.rpm")
    q = tool("rpm", "-qp", "--qf", "%{PAYLOADCOMPRESSOR}", rpm)
    check("bzip2 payload: rpm says bzip2", q.stdout == "bzip2", show(q))
    d = os.path.join(BASE, "repo-bz2")
    os.makedirs(os.path.join(d, "Packages"))
    shutil.copy2(rpm, os.path.join(d, "Packages"))
    p = slipway("repo", d)
    if not check("bzip2 payload: indexed", p.returncode == 0, show(p)):
        return
    proj = repo_project("bz2", f"""[repos.bz]
url = "file://{d}"
gpgcheck = false
""", packages=("bz",))
    p = slipway("-C", proj, "image", "x")
    check("bzip2 payload: exit 1, the package and the codec named", p.returncode == 1 and
          "bz-1-1.noarch: its payload is compressed with 'bzip2', which slipway does not read" in p.stderr and
          "corrupt" not in p.stderr, show(p))
    no_outputs("bzip2 payload", proj, "x")
    shutil.rmtree(proj, ignore_errors=True)


def one_file_project(name, path, contents, images_toml):
    """A project of one native component, `data`, holding one file at path,
    and the images images_toml describes."""
    return make_project(name, {
        "slipway.toml": f"""[project]
name = "{name}"
version = "1"
source-date-epoch = {SDE}

[components.data]
version = "1"
summary = "data"
license = "MIT"
arch = "noarch"

[[components.data.files]]
source = "files/f"
path = "{path}"

{images_toml}""",
        "files/f": contents,
    })


# Issue 12: a disk of terabytes took minutes (and "16T" longer): the writers
# read every hole of the partition's sparse ext4 image. Now only its data is
# read; a 4 TiB raw disk is written in seconds, and stays sparse.
def test_big_sparse_disk():
    d = one_file_project("bigdisk", "/srv/f", "big disk\n", """[images.big]
formats = ["raw"]
packages = ["data"]
boot = "none"
size = "4T"

[[images.big.partitions]]
type = "root"
size = "16M"

[[images.big.partitions]]
type = "srv"
size = "grow"
""")
    p = slipway("-C", d, "package")
    if not check("big disk: package", p.returncode == 0, show(p)):
        return
    t0 = time.monotonic()
    p = slipway("-C", d, "image", timeout=300)
    secs = time.monotonic() - t0
    raw = os.path.join(images_dir(d), "big.raw")
    if not check("big disk: 4 TiB raw written", p.returncode == 0 and os.path.getsize(raw) == 4 << 40, show(p)):
        return
    check("big disk: in well under a minute", secs < 60, f"{secs:.1f}s")
    check("big disk: sparse (under 1 GiB allocated)", os.stat(raw).st_blocks * 512 < 1 << 30,
          f"{os.stat(raw).st_blocks * 512} bytes")
    q = tool("sfdisk", "-J", raw)
    parts = json.loads(q.stdout)["partitiontable"]["partitions"] if q.returncode == 0 else []
    if check("big disk: sfdisk reads two partitions", len(parts) == 2, show(q)):
        off = parts[1]["start"] * 512
        q = tool("debugfs", "-R", "cat /f", f"{raw}?offset={off}")
        check("big disk: debugfs reads the file on the grown ext4", q.stdout == "big disk\n", show(q))
    shutil.rmtree(d, ignore_errors=True)


# Issue 12: what ext4 cannot hold (a name over 255 bytes) failed with "File
# name too long", naming nothing; the error names the path and why.
def test_ext4_name_too_long():
    name = "n" * 300
    d = one_file_project("longname", f"/srv/{name}", "x\n", """[images.d]
formats = ["raw"]
packages = ["data"]
boot = "none"
""")
    p = slipway("-C", d, "package")
    if not check("long name: package", p.returncode == 0, show(p)):
        return
    p = slipway("-C", d, "image")
    check("long name: refused, naming the path and ext4's limit", p.returncode == 1 and
          "'/srv/nnnn" in p.stderr and "(305 bytes) has a name of more than 255 bytes, which ext4 cannot hold" in p.stderr,
          show(p))
    check("long name: no output", not glob.glob(os.path.join(images_dir(d), "d.raw*")), outputs_of(d, "d"))
    shutil.rmtree(d, ignore_errors=True)


def test_program_only_scriptlet():
    """A scriptlet given only as a program (`%post -p /sbin/ldconfig`: the
    POSTINPROG tag, no body) is a scriptlet too: it is run, its failure is
    a warning naming the package, and scriptlets = "strict" makes it an
    error."""
    top = os.path.join(BASE, "ldc-build")
    os.makedirs(os.path.join(top, "SPECS"))
    spec = os.path.join(top, "SPECS", "ldc.spec")
    with open(spec, "w") as f:
        f.write("""Name: ldc
Version: 1
Release: 1
Summary: A library package's ldconfig scriptlet
License: MIT
BuildArch: noarch

%description
ldc.

%install
mkdir -p %{buildroot}/sbin
# no #! line: nothing else is required (the scriptlet's program is its own file)
echo placeholder > %{buildroot}/sbin/ldconfig
chmod 0755 %{buildroot}/sbin/ldconfig

%post -p /sbin/ldconfig

%files
/sbin/ldconfig
""")
    q = tool("rpmbuild", "-bb", "--define", f"_topdir {top}", "--define", "source_date_epoch_from_changelog 0", spec)
    if not check("program-only scriptlet: rpmbuild", q.returncode == 0, show(q)):
        return
    rpm = os.path.join(top, "RPMS", "noarch", "ldc-1-1.noarch.rpm")
    q = tool("rpm", "-qp", "--qf", "[%{POSTINPROG}]|%{POSTIN}", rpm)
    check("program-only scriptlet: rpm records the program and no body", q.stdout == "/sbin/ldconfig|(none)", show(q))
    d = os.path.join(BASE, "repo-ldc")
    os.makedirs(os.path.join(d, "Packages"))
    shutil.copy2(rpm, os.path.join(d, "Packages"))
    p = slipway("repo", d)
    if not check("program-only scriptlet: indexed", p.returncode == 0, show(p)):
        return
    repo = f"""[repos.ldc]
url = "file://{d}"
gpgcheck = false
"""
    proj = repo_project("ldc-warn", repo, packages=("ldc",))
    p = slipway("-C", proj, "image", "x")
    # The program is not one the kernel can run (no #! line): the %post
    # fails, which rpm and slipway warn about.
    check("program-only scriptlet: it runs, and its failure is a warning naming the package", p.returncode == 0 and
          re.search(r"warning:.*package ldc-1-1\.noarch: %post scriptlet failed: .*/sbin/ldconfig", p.stderr) is not None,
          show(p))
    shutil.rmtree(proj, ignore_errors=True)
    proj = repo_project("ldc-fail", repo, packages=("ldc",), extra='scriptlets = "strict"\n')
    p = slipway("-C", proj, "image", "x")
    check("program-only scriptlet: scriptlets = \"strict\" makes it an error", p.returncode == 1 and
          re.search(r"error:.*package ldc-1-1\.noarch: %post scriptlet failed", p.stderr) is not None, show(p))
    no_outputs("program-only scriptlet", proj, "x")
    shutil.rmtree(proj, ignore_errors=True)


# ---------------------------------------------------------------------------
# WSL: the format of Microsoft's "Build a Custom Linux Distribution for WSL"
# (tests/e2e/wsl_format.py), and what the wsl writer changes for it.

def test_example_wsl():
    """examples/minimal's wsl image follows the documented format in every point wsl_format checks."""
    proj = example()
    if not proj:
        return
    path = os.path.join(proj, "out", "images", "wsl.wsl")
    if not check("example wsl: written", os.path.isfile(path), os.listdir(os.path.dirname(path))):
        return
    problems = check_wsl(path)
    check("example wsl: no problem against Microsoft's format", problems == [], "\n".join(problems))


def _gz_tar(members):
    """A gzip'd tar of [(name, kind, data_or_target, mode, uid, gid, uname)]."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, data, mode, uid, gid, uname in members:
            ti = tarfile.TarInfo(name)
            ti.mode, ti.uid, ti.gid, ti.uname, ti.gname = mode, uid, gid, uname, uname
            if kind == "dir":
                ti.type = tarfile.DIRTYPE
                t.addfile(ti)
            elif kind == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, data
                t.addfile(ti)
            else:
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
    return gzip.compress(buf.getvalue())


def test_wsl_format_checker():
    """wsl_format.check_wsl finds each kind of problem it claims to (it is not a test that cannot fail)."""
    d = os.path.join(BASE, "wslcheck")
    os.makedirs(d, exist_ok=True)
    good = [
        (".", "dir", None, 0o755, 0, 0, ""),
        ("./etc", "dir", None, 0o755, 0, 0, ""),
        ("./usr", "dir", None, 0o755, 0, 0, ""),
        ("./usr/bin", "dir", None, 0o755, 0, 0, ""),
        ("./bin", "sym", "usr/bin", 0o777, 0, 0, ""),
        ("./usr/bin/sh", "file", b"#!\n", 0o755, 0, 0, ""),
        ("./home", "dir", None, 0o755, 0, 0, ""),
        ("./home/u", "dir", None, 0o700, 1000, 1000, ""),
        ("./etc/passwd", "file", b"root:x:0:0:root:/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n", 0o644, 0, 0, ""),
        ("./etc/shadow", "file", b"root:!:1::::::\nu:!!:1::::::\n", 0, 0, 0, ""),
        ("./etc/wsl.conf", "file", b"[boot]\nsystemd=false\n[user]\ndefault = u\n", 0o644, 0, 0, ""),
        ("./etc/wsl-distribution.conf", "file", b"[oobe]\ndefaultName = my.distro_1\ndefaultUid=1000\n", 0o644, 0, 0, ""),
    ]
    path = os.path.join(d, "good.wsl")
    with open(path, "wb") as f:
        f.write(_gz_tar(good))
    problems = check_wsl(path)
    check("wsl_format: a hand-made good tar has no problem", problems == [], problems)

    bad = [m for m in good if m[0] not in ("./etc/wsl.conf", "./etc/wsl-distribution.conf", "./etc/shadow")] + [
        ("./etc/shadow", "file", b"root:$6$x$y:1::::::\n", 0, 0, 0, ""),
        ("./etc/resolv.conf", "file", b"nameserver 1.1.1.1\n", 0o644, 0, 0, ""),
        ("./boot", "dir", None, 0o755, 0, 0, ""),
        ("./boot/vmlinuz-6.1", "file", b"k", 0o644, 0, 0, ""),
        ("./etc/wsl.conf", "file", b"[boot]\nsystemd=yes\nfoo=1\n[bogus]\n[user]\ndefault=nobody\n", 0o600, 0, 0, "root"),
        ("./etc/wsl-distribution.conf", "file", b"[oobe]\ndefaultUid=4242\n[shortcut]\nicon=/x.png\n", 0o644, 0, 0, ""),
    ]
    path = os.path.join(d, "bad.wsl")
    with open(path, "wb") as f:
        f.write(_gz_tar(bad))
    problems = check_wsl(path)
    for what, needle in [("resolv.conf", "/etc/resolv.conf is in the tar"),
                         ("password hash", "user 'root' has a password hash"),
                         ("kernel", "'/boot/vmlinuz-6.1': a kernel"),
                         ("conf mode", "/etc/wsl.conf: not a regular file 0644 root:root"),
                         ("owner names", "owner names 'root:root'"),
                         ("bad boolean", "boot.systemd = 'yes' is not a boolean"),
                         ("unknown key", "unknown key 'foo' in [boot]"),
                         ("unknown section", "unknown section [bogus]"),
                         ("no defaultName", "no oobe.defaultName"),
                         ("defaultUid not a user", "oobe.defaultUid 4242 is no user"),
                         ("user.default not a user", "user.default 'nobody' is no user"),
                         ("icon not .ico", "shortcut.icon '/x.png' is not an .ico file")]:
        check(f"wsl_format: finds {what}", any(needle in x for x in problems), problems)

    # systemd = true without systemd; a home and shell that are not there.
    worse = [m for m in good if m[0] not in ("./etc/wsl.conf", "./home/u", "./usr/bin/sh")] + [
        ("./etc/wsl.conf", "file", b"[boot]\nsystemd=true\n", 0o644, 0, 0, "")]
    with open(path, "wb") as f:
        f.write(_gz_tar(worse))
    problems = check_wsl(path)
    check("wsl_format: finds systemd=true without /usr/lib/systemd/systemd",
          any("boot.systemd = true, but there is no /usr/lib/systemd/systemd" in x for x in problems), problems)
    check("wsl_format: finds the default user's missing shell and home",
          any("the shell '/bin/sh', which is not a program" in x for x in problems) and
          any("the home '/home/u', which is not a directory" in x for x in problems), problems)
    with open(path, "wb") as f:
        f.write(zstd_c(b"not a tar"))
    problems = check_wsl(path)
    check("wsl_format: finds a tar that is not gzip'd", len(problems) == 1 and "not gzip" in problems[0], problems)
    shutil.rmtree(d, ignore_errors=True)


def test_wsl_writer():
    """What the wsl writer changes in its copy of the tree for WSL: /etc/resolv.conf left out, password
    hashes locked, boot.systemd = true with systemd, its troublesome units masked; a kernel in the
    image is a warning. The tar output keeps all of it."""
    unit = "[Unit]\nDescription=r\n[Service]\nExecStart=/usr/bin/sh\n[Install]\nWantedBy=multi-user.target\n"
    d = make_project("wslw", {"slipway.toml": f"""[project]
name = "wslw"
version = "1"
source-date-epoch = {SDE}

[components.sysd]
version = "1"
summary = "a systemd of sorts"
license = "MIT"
arch = "noarch"

[[components.sysd.files]]
source = "files/sh"
path = "/usr/bin/sh"
mode = "0755"

[[components.sysd.files]]
source = "files/sh"
path = "/usr/lib/systemd/systemd"
mode = "0755"

[[components.sysd.files]]
source = "files/resolved.service"
path = "/usr/lib/systemd/system/systemd-resolved.service"

[[components.sysd.files]]
source = "files/resolved.service"
path = "/usr/lib/systemd/system/tmp.mount"

[[components.sysd.files]]
source = "files/resolv.conf"
path = "/etc/resolv.conf"

[[components.sysd.files]]
source = "files/sh"
path = "/boot/vmlinuz-6.1"

[images.w]
formats = ["wsl", "tar"]
packages = ["sysd"]

[[images.w.users]]
name = "dev"
shell = "/usr/bin/sh"
password-hash = "{ALICE_HASH}"

[images.w.services]
enable = ["systemd-resolved.service"]
""", "files/sh": "#!/bin/false\n", "files/resolved.service": unit, "files/resolv.conf": "nameserver 192.0.2.1\n"})
    p = slipway("-C", d, "build")
    if not check("wsl writer: build", p.returncode == 0, show(p)):
        return
    check("wsl writer: the kernel in the image is a warning naming it",
          "image 'w': its wsl output holds a kernel or an initramfs ('/boot/vmlinuz-6.1')" in p.stderr, show(p))
    check("wsl writer: the password-hash warning (slipway check's)",
          "user 'dev': the wsl output leaves out its password-hash" in p.stderr, show(p))
    path = os.path.join(images_dir(d), "w.wsl")
    t = by_path(open_tar(gzip.decompress(read(path))))
    tar = tar_paths(d, "w")
    check("wsl writer: no /etc/resolv.conf (the tar has it)", "/etc/resolv.conf" not in t and "/etc/resolv.conf" in tar,
          sorted(t)[:40])
    conf = (t.get("/etc/wsl.conf") or (None, b""))[1] or b""
    check("wsl writer: boot.systemd = true", re.search(rb"^\[boot\]\nsystemd=true$", conf, re.M) is not None, conf)
    for u in ["systemd-resolved.service", "tmp.mount"]:
        m = t.get("/etc/systemd/system/" + u, (None,))[0]
        check(f"wsl writer: {u} masked", m is not None and m.issym() and m.linkname == "/dev/null", m)
        check(f"wsl writer: {u} not masked in the tar", "/etc/systemd/system/" + u not in tar, "masked")
    shadow = (t.get("/etc/shadow") or (None, b""))[1] or b""
    check("wsl writer: dev's password hash locked", re.search(rb"^dev:!:", shadow, re.M) is not None and
          ALICE_HASH.encode() not in shadow, shadow)
    problems = check_wsl(path)
    check("wsl writer: wsl_format finds the kernel, and nothing else", len(problems) == 1 and
          "'/boot/vmlinuz-6.1': a kernel" in problems[0], problems)
    shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------------------
# platform = "azure": when composed, its initrd must carry the Hyper-V drivers
# (Microsoft's "Prepare Linux for imaging in Azure") and it needs a
# provisioning agent.

def test_azure_drivers():
    kver, other = "6.1.0-test", "6.2.0-other"
    comps = {
        # modules.builtin: hv_vmbus is built into the image's kernel.
        "kernel": [(f"/usr/lib/modules/{kver}/vmlinuz", "k"),
                   (f"/usr/lib/modules/{kver}/modules.builtin", "kernel/fs/ext4/ext4.ko\\nkernel/drivers/hv/hv_vmbus.ko\\n")],
        "mods-storvsc": [(f"/usr/lib/modules/{kver}/kernel/drivers/scsi/hv_storvsc.ko.xz", "m")],
        "mods-netvsc": [(f"/usr/lib/modules/{kver}/kernel/drivers/net/hyperv/hv_netvsc.ko.zst", "m")],
        "mods-other": [(f"/lib/modules/{other}/kernel/drivers/scsi/hv_storvsc.ko", "m"),
                       (f"/lib/modules/{other}/kernel/drivers/net/hyperv/hv_netvsc.ko", "m")],
        "agent": [("/usr/bin/cloud-init", "#!/bin/false\\n")],
    }
    toml = f'[project]\nname = "az"\nversion = "1"\nsource-date-epoch = {SDE}\n'
    files = {}
    for c, fl in comps.items():
        toml += f'\n[components.{c}]\nversion = "1"\nsummary = "{c}"\nlicense = "MIT"\narch = "noarch"\n'
        for i, (path, text) in enumerate(fl):
            toml += f'\n[[components.{c}.files]]\nsource = "files/{c}-{i}"\npath = "{path}"\n'
            files[f"files/{c}-{i}"] = text.replace("\\n", "\n")
    images = [("initrd-part", None, ["mods-storvsc"], None), ("initrd-full", None, ["mods-storvsc", "mods-netvsc"], None),
              ("initrd-other", None, ["mods-other"], None),
              ("vm-part", "initrd-part", ["kernel"], "azure"), ("vm-full", "initrd-full", ["kernel", "agent"], "azure"),
              ("vm-other", "initrd-other", ["kernel", "agent"], "azure"), ("plain", "initrd-part", ["kernel"], None)]
    for name, initrd, pk, platform in images:
        toml += f'\n[images.{name}]\nformats = ["{"tar" if initrd else "cpio"}"]\npackages = [{", ".join(chr(34) + x + chr(34) for x in pk)}]\n'
        if initrd:
            toml += f'initrd = "{initrd}"\nkernel-cmdline = "console=ttyS0"\n'
        if platform:
            toml += f'platform = "{platform}"\n'
    files["slipway.toml"] = toml
    d = make_project("azure", files)
    p = slipway("-C", d, "build")
    if not check("azure: build exits 0 (warnings only)", p.returncode == 0, show(p)):
        return
    # Distinct lines: `build` loads the project twice (package, image), so its warnings show twice.
    lines = sorted(set(x for x in p.stderr.splitlines() if "warning:" in x))

    def warned(image, text):
        return [x for x in lines if f"image '{image}' is for Azure" in x and text in x]
    w = warned("vm-part", "initrd 'initrd-part' lacks")
    check("azure: vm-part: its initrd lacks hv_netvsc only (hv_vmbus built in, hv_storvsc a .ko.xz)",
          len(w) == 1 and f"lacks hv_netvsc for kernel {kver} (" in w[0], lines)
    lines_of = toml.split("\n")
    at = lines_of.index("[images.vm-part]")
    initrd_line = next(i for i in range(at, len(lines_of)) if lines_of[i].startswith("initrd = ")) + 1
    check("azure: the warning is at vm-part's initrd key (slipway.toml:LINE:COLUMN)",
          len(w) == 1 and w[0].startswith(f"{d}/slipway.toml:{initrd_line}:10: warning: "), (initrd_line, w))
    check("azure: vm-part: no provisioning agent", len(warned("vm-part", "neither is installed")) == 1, lines)
    check("azure: vm-full: no driver or agent warning",
          not warned("vm-full", "lacks") and not warned("vm-full", "neither is installed"), lines)
    w = warned("vm-other", "lacks")
    check("azure: vm-other: modules for another kernel do not count",
          len(w) == 1 and f"lacks hv_storvsc, hv_netvsc for kernel {kver}" in w[0], lines)
    check("azure: an image without platform gets no Azure warning", not [x for x in lines if "'plain'" in x], lines)
    check("azure: slipway check says what needs no packages (formats without vhd)",
          len(warned("vm-full", 'formats has no "vhd"')) == 1, lines)
    shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------------------

start = time.monotonic()
try:
    try:
        ready = keygen() and make_main()
    except Exception as e:
        import traceback
        ready = check("setup", False, f"exception: {e!r}\n{traceback.format_exc()[-1500:]}")
    if ready:
        for t in [test_full, test_full_rpmdb, test_full_wsl, test_full_cpio, test_full_oci, test_mini, test_small_images,
                  test_determinism, test_failures, test_failure_keeps_outputs, test_project_repo_signature, test_json, test_disks, test_build]:
            t0 = time.monotonic()
            run_test(t)
            print(f"time {t.__name__}: {time.monotonic() - t0:.2f}s")
        try:
            repos_ready = plain_project() and make_repos()
        except Exception as e:
            import traceback
            repos_ready = check("setup: repositories", False, f"exception: {e!r}\n{traceback.format_exc()[-1500:]}")
        if repos_ready:
            for t in [test_repos_file, test_repos_http, test_checksum_policy, test_download_caps,
                      test_metadata_open_size, test_decompression_bomb, test_payload_codec,
                      test_program_only_scriptlet]:
                t0 = time.monotonic()
                run_test(t)
                print(f"time {t.__name__}: {time.monotonic() - t0:.2f}s")
    for t in [test_formats_independent, test_all_or_none, test_large_file_memory, test_big_sparse_disk,
              test_ext4_name_too_long, test_example_wsl, test_wsl_format_checker, test_wsl_writer, test_azure_drivers]:
        t0 = time.monotonic()
        run_test(t)
        print(f"time {t.__name__}: {time.monotonic() - t0:.2f}s")
finally:
    shutil.rmtree(BASE, ignore_errors=True)

finish("image", f" ({time.monotonic() - start:.1f}s)")
