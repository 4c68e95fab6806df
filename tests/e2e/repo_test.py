#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`slipway repo` and `slipway verify`, checked with the real tools:
createrepo_c equivalence (primary, filelists, other, repomd.xml; gzip and
zstd), gpg on repomd.xml.asc, dnf installs from signed repositories over
file:// and http:// (and refusals with the wrong key), incremental runs on
1000 packages, bad packages that must leave the old metadata alone, verify on
good and tampered repositories and packages, and `slipway package` with a
[signing] key.

Everything happens in a temporary directory with throwaway GNUPGHOMEs, rpm
databases and dnf installroots. Usage: repo_test.py SLIPWAY SOURCE_ROOT"""
import glob
import gzip
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import check, finish, read, run_test, show, write

SLIPWAY, ROOT = os.path.abspath(sys.argv[1]), sys.argv[2]

for needed in ["createrepo_c", "dnf", "rpm", "rpmbuild", "rpmkeys", "gpg", "gpgconf", "zstd"]:
    if not shutil.which(needed):
        print(f"SKIP: {needed} missing")
        sys.exit(77)

SDE = 1700000000
BASE = tempfile.mkdtemp(prefix="slipway-repo-test-")
TMPDIR = os.path.join(BASE, "tmp")
os.makedirs(TMPDIR)
GNUPGHOMES = []
INSTALLROOTS = []
TIMINGS = []

NS = {"c": "http://linux.duke.edu/metadata/common", "rpm": "http://linux.duke.edu/metadata/rpm",
      "f": "http://linux.duke.edu/metadata/filelists", "o": "http://linux.duke.edu/metadata/other",
      "r": "http://linux.duke.edu/metadata/repo"}
DEP_KINDS = ["provides", "requires", "conflicts", "obsoletes", "suggests", "enhances", "recommends", "supplements"]


def slipway(*args, env=None, timeout=120):
    e = dict(os.environ, LC_ALL="C", TMPDIR=TMPDIR, SOURCE_DATE_EPOCH=str(SDE))
    if env:
        e.update(env)
    return subprocess.run([SLIPWAY, *args], capture_output=True, encoding="utf-8", errors="replace", env=e,
                          timeout=timeout)


def slipway_json(*args):
    p = slipway("--json", *args)
    try:
        return p, json.loads(p.stdout)
    except ValueError:
        return p, None


def tool(*args, env=None, check_rc=False, timeout=120, **kw):
    e = dict(os.environ, LC_ALL="C", TZ="UTC")
    if env:
        e.update(env)
    p = subprocess.run(list(args), capture_output=True, encoding="utf-8", errors="replace", timeout=timeout, env=e,
                       **kw)
    if check_rc and p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {p.returncode}: {p.stderr[-1000:]}")
    return p


def mkdir(*parts, mode=0o755):
    d = os.path.join(BASE, *parts)
    os.makedirs(d, mode=mode, exist_ok=True)
    return d


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def rpms_in(d):
    return sorted(f for f in os.listdir(d) if f.endswith(".rpm"))


def copy_rpms(src, dst):
    """cp -p of the RPMs of src into dst (mtimes kept: primary's time@file is the mtime)."""
    os.makedirs(dst, exist_ok=True)
    for f in rpms_in(src):
        shutil.copy2(os.path.join(src, f), os.path.join(dst, f))
    return dst


def flip(path, offset, mask=0x01):
    b = bytearray(read(path))
    b[offset] ^= mask
    with open(path, "wb") as f:
        f.write(b)


def header_layout(b):
    """(start, hil, hdl, payload offset) of the main header of RPM bytes b."""
    sil, sdl = struct.unpack(">II", b[104:112])
    ss = 16 * sil + sdl
    start = 112 + ss + (8 - ss % 8) % 8
    hil, hdl = struct.unpack(">II", b[start + 8:start + 16])
    return start, hil, hdl, start + 16 + 16 * hil + hdl


def tree_state(d):
    """name -> (bytes, mtime_ns, inode) of every file directly in d."""
    r = {}
    for f in sorted(os.listdir(d)):
        p = os.path.join(d, f)
        st = os.stat(p)
        r[f] = (read(p), st.st_mtime_ns, st.st_ino)
    return r


def tree_bytes(d):
    return {k: v[0] for k, v in tree_state(d).items()}


def gnupghome(name):
    d = mkdir("gnupg", name, mode=0o700)
    os.chmod(d, 0o700)
    GNUPGHOMES.append(d)
    return d


def gpg(home, *args, **kw):
    return tool("gpg", "--homedir", home, "--batch", "--status-fd", "1", *args, **kw)


def timed(label, t0):
    dt = time.monotonic() - t0
    TIMINGS.append((label, dt))
    print(f"time {label}: {dt:.2f}s")
    return dt


# ---------------------------------------------------------------------------
# Reading repository metadata

def decompress(path):
    data = read(path)
    if path.endswith(".gz"):
        return gzip.decompress(data)
    if path.endswith(".zst"):
        p = subprocess.run(["zstd", "-dc", "-q"], input=data, capture_output=True, timeout=60)
        if p.returncode != 0:
            raise RuntimeError(f"zstd -dc {path}: {p.stderr.decode(errors='replace')}")
        return p.stdout
    return data


def repomd(repo):
    """type -> record dict from repo/repodata/repomd.xml."""
    root = ET.fromstring(read(os.path.join(repo, "repodata", "repomd.xml")))
    r = {}
    for d in root.findall("r:data", NS):
        rec = {"type": d.get("type")}
        for tag in ["checksum", "open-checksum"]:
            e = d.find(f"r:{tag}", NS)
            rec[tag] = (e.get("type"), e.text) if e is not None else None
        loc = d.find("r:location", NS)
        rec["href"] = loc.get("href") if loc is not None else None
        for tag in ["timestamp", "size", "open-size"]:
            e = d.find(f"r:{tag}", NS)
            rec[tag] = int(e.text) if e is not None else None
        r[rec["type"]] = rec
    rev = root.find("r:revision", NS)
    return r, (rev.text if rev is not None else None)


def metadata_xml(repo, kind):
    """The decompressed bytes of the primary/filelists/other file repomd.xml lists."""
    recs, _ = repomd(repo)
    return decompress(os.path.join(repo, recs[kind]["href"]))


def text(e):
    return "" if e is None or e.text is None else e.text


def entry(e):
    return tuple(e.get(a) for a in ["name", "flags", "epoch", "ver", "rel", "pre"])


def parse_primary(data):
    root = ET.fromstring(data)
    pkgs = {}
    order = []
    for p in root.findall("c:package", NS):
        fmt = p.find("c:format", NS)
        d = {
            "type": p.get("type"),
            "layout": [c.tag for c in p],
            "format layout": [c.tag for c in fmt] if fmt is not None else None,
            "name": text(p.find("c:name", NS)),
            "arch": text(p.find("c:arch", NS)),
            "version": dict(p.find("c:version", NS).attrib),
            "checksum": (dict(p.find("c:checksum", NS).attrib), text(p.find("c:checksum", NS))),
        }
        for t in ["summary", "description", "packager", "url"]:
            d[t] = text(p.find(f"c:{t}", NS))
        for t in ["time", "size", "location"]:
            e = p.find(f"c:{t}", NS)
            d[t] = dict(e.attrib) if e is not None else None
        if fmt is not None:
            for t in ["license", "vendor", "group", "buildhost", "sourcerpm"]:
                e = fmt.find(f"rpm:{t}", NS)
                d[t] = None if e is None else text(e)
            hr = fmt.find("rpm:header-range", NS)
            d["header-range"] = dict(hr.attrib) if hr is not None else None
            for k in DEP_KINDS:
                blk = fmt.find(f"rpm:{k}", NS)
                d[k] = None if blk is None else [entry(x) for x in blk.findall("rpm:entry", NS)]
            d["files"] = [(text(f), f.get("type")) for f in fmt.findall("c:file", NS)]
        pkgid = d["checksum"][1]
        order.append(pkgid)
        pkgs[pkgid] = d
    return root.get("packages"), order, pkgs


def parse_filelists(data):
    root = ET.fromstring(data)
    pkgs = {}
    for p in root.findall("f:package", NS):
        pkgs[p.get("pkgid")] = {
            "name": p.get("name"), "arch": p.get("arch"), "layout": [c.tag for c in p],
            "version": dict(p.find("f:version", NS).attrib),
            "files": [(text(f), f.get("type")) for f in p.findall("f:file", NS)],
        }
    return root.get("packages"), [p.get("pkgid") for p in root.findall("f:package", NS)], pkgs


def parse_other(data):
    root = ET.fromstring(data)
    pkgs = {}
    for p in root.findall("o:package", NS):
        pkgs[p.get("pkgid")] = {
            "name": p.get("name"), "arch": p.get("arch"), "layout": [c.tag for c in p],
            "version": dict(p.find("o:version", NS).attrib),
            "changelogs": [(c.get("author"), c.get("date"), text(c)) for c in p.findall("o:changelog", NS)],
        }
    return root.get("packages"), [p.get("pkgid") for p in root.findall("o:package", NS)], pkgs


PARSERS = {"primary": parse_primary, "filelists": parse_filelists, "other": parse_other}


def parsed(repo):
    return {k: PARSERS[k](metadata_xml(repo, k)) for k in PARSERS}


def primary_hrefs(repo):
    _, _, pk = parse_primary(metadata_xml(repo, "primary"))
    return sorted(p["location"]["href"] for p in pk.values())


def check_repomd(label, repo, ext):
    """Every record: the file exists, its checksum and size match, and the decompressed
    file matches open-size and open-checksum. Returns the records."""
    recs, rev = repomd(repo)
    check(f"{label}: repomd.xml lists primary, filelists, other", sorted(recs) == ["filelists", "other", "primary"],
          sorted(recs))
    for t, rec in sorted(recs.items()):
        href = rec["href"] or ""
        path = os.path.join(repo, href)
        check(f"{label}: {t} href", re.fullmatch(rf"repodata/[0-9a-f]{{64}}-{t}\.xml\.{ext}", href) is not None, href)
        if not check(f"{label}: {t} file exists", os.path.isfile(path), href):
            continue
        data = read(path)
        check(f"{label}: {t} checksum", rec["checksum"] == ("sha256", sha256(data)), (rec["checksum"], sha256(data)))
        check(f"{label}: {t} size", rec["size"] == len(data), (rec["size"], len(data)))
        try:
            plain = decompress(path)
        except Exception as e:
            check(f"{label}: {t} decompresses", False, repr(e))
            continue
        check(f"{label}: {t} open-checksum", rec["open-checksum"] == ("sha256", sha256(plain)),
              (rec["open-checksum"], sha256(plain)))
        check(f"{label}: {t} open-size", rec["open-size"] == len(plain), (rec["open-size"], len(plain)))
    return recs, rev


# ---------------------------------------------------------------------------
# Test RPMs

HELLO_SPEC = r"""Name:           hello
Version:        1.2.3
Release:        4
Summary:        A "hello" <test> & package
Summary(de):    Ein Hallo-Paket
License:        MIT
URL:            https://example.org/hello
Vendor:         Slipway Test
Packager:       Test Packager <test@example.org>
Group:          Applications/Misc
Provides:       hello-api = 1.0
Provides:       hello-virtual
Requires(pre):  /bin/sh
Requires(post): /bin/sh
Requires(postun): /bin/sh
Requires:       coreutils
Requires:       coreutils >= 8.0
Requires:       hello-api = 1.0
Requires:       hello = 1.2.3-4
Requires:       /usr/bin/hello
Requires:       /etc/hello.conf
Requires:       /usr/share/doc/hello/README
Requires:       /usr/lib/sendmail
Requires:       bash >= 1:5.0-1
Requires:       (foo or bar)
Requires:       rpmlib(Dummy) <= 1.0
Conflicts:      oldhello < 0.5
Obsoletes:      hello-legacy <= 1:0.9-1
Recommends:     rec-pkg
Suggests:       sug-pkg >= 2
Supplements:    (hello-plugin and baz)
Enhances:       enh-pkg
%description
Hello is a test package.
It has <xml> & "special" chars; and UTF-8: é ü ✓.

%description -l de
Deutsche Beschreibung.

%prep
%build
@BUILD@
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/etc %{buildroot}/usr/share/doc/hello %{buildroot}/usr/share/hello/data %{buildroot}/var/log %{buildroot}/usr/lib
install -m755 hello %{buildroot}/usr/bin/hello
ln -s hello %{buildroot}/usr/bin/hello-link
echo conf > %{buildroot}/etc/hello.conf
echo readme > %{buildroot}/usr/share/doc/hello/README
echo data > %{buildroot}/usr/share/hello/data/x.txt
touch %{buildroot}/var/log/hello.log
mkdir -p %{buildroot}/etc/hello.d
echo sm > %{buildroot}/usr/lib/sendmail
%pre
true
%post
true
%postun
true
%files
/usr/bin/hello
/usr/bin/hello-link
%config(noreplace) /etc/hello.conf
%dir /etc/hello.d
%doc /usr/share/doc/hello/README
%dir /usr/share/hello
/usr/share/hello/data
%ghost /var/log/hello.log
/usr/lib/sendmail
%changelog
* Wed Jan 03 2024 Alice <alice@example.org>   - 1.2.3-4
- Newest entry with trailing spaces in author
* Wed Jan 03 2024 Bob <bob@example.org> - 1.2.3-3
- Same day as newest
* Wed Jan 03 2024 Carol <carol@example.org> - 1.2.3-2
- Same day again
* Tue Jan 02 2024 Dave <dave@example.org> - 1.2.3-1
- entry 4 & <escaped>
* Mon Jan 01 2024 Eve <eve@example.org> - 1.2.2-1
- entry 5
* Sun Dec 31 2023 Eve <eve@example.org> - 1.2.1-1
- entry 6
* Sat Dec 30 2023 Eve <eve@example.org> - 1.2.0-1
- entry 7
* Fri Dec 29 2023 Eve <eve@example.org> - 1.1.0-1
- entry 8
* Thu Dec 28 2023 Eve <eve@example.org> - 1.0.0-1
- entry 9
* Wed Dec 27 2023 Eve <eve@example.org> - 0.9.0-1
- entry 10
* Tue Dec 26 2023 Eve <eve@example.org> - 0.8.0-1
- entry 11
* Mon Dec 25 2023 Eve <eve@example.org> - 0.7.0-1
- entry 12 (should be dropped by default limit)
"""

HELLO_C = r"""#include <stdio.h>
#include <string.h>
int main(int argc, char **argv){ char b[64]; strncpy(b, argc>1?argv[1]:"world", 63); b[63]=0; printf("hello %s\n", b); return 0; }
"""

TINY_SPEC = r"""Name: tiny
Epoch: 3
Version: 0.1
Release: 1.el9
Summary: Tiny noarch package
License: GPL-2.0-or-later AND MIT
BuildArch: noarch
Provides: tiny-cap(x)
Requires: foo < 2:3
Requires: foo2 >= 1.0
Requires: foo3 > 1.0-0
Requires: foo4 <= 4
Requires: hello >= 1.2
Obsoletes: tinyold < 3:0.1
%description
Tiny.
%install
mkdir -p %{buildroot}/opt/tiny/bin %{buildroot}/usr/sbin
echo t > %{buildroot}/opt/tiny/bin/tool
echo r > %{buildroot}/opt/tiny/readme
echo d > %{buildroot}/usr/sbin/tinyd
%files
%dir /opt/tiny
%dir /opt/tiny/bin
/opt/tiny/bin/tool
/opt/tiny/readme
/usr/sbin/tinyd
"""

EMPTY_SPEC = r"""Name: empty
Version: 1
Release: 0
Summary: No files
License: Public Domain
%description
%files
"""

EDGE_SPEC = r"""Name: edge
Epoch: 0
Version: 2.0
Release: 1
Summary:   Leading spaces in the summary
License: GPL-2.0-only
URL: https://example.org/edge?a=1&b=<2>
BuildArch: noarch
Requires(pre): /bin/sh
Requires(pre): both-dep
Requires: both-dep
Requires(pretrans): pt-dep
Requires: pt-dep
Requires(post): /bin/sh
Requires(preun): /bin/sh
Requires: selfprov > 1
Provides: selfprov >= 2
Provides: café-cap
Provides: edge-virt = 2:3.0-4
Requires: /usr/share/cabin/x
Requires: /opt/edge/readme
Requires: /etc/edge/ghost.conf
Requires: /usr/bin/edge-tool
Requires: libc.so.6
Requires: libc.so.6(GLIBC_2.17)
Requires: libc.so.6(GLIBC_2.3)
Conflicts: c1 > 1
Conflicts: c2
Obsoletes: o1 < 1.0-1
Recommends: r1 >= 1
Suggests: s1
Supplements: sp1 > 2
Enhances: e1 = 3
%description
  Indented description line
	tab line

with a blank line inside and "quotes" & 'apostrophes'.
%pre
true
%post
true
%preun
true
%install
mkdir -p %{buildroot}/etc/edge %{buildroot}/usr/share/cabin %{buildroot}/opt/edge/bin %{buildroot}/usr/bin %{buildroot}/var/lib/edge-ghostdir
touch %{buildroot}/etc/edge/ghost.conf
echo x > %{buildroot}/usr/share/cabin/x
echo r > %{buildroot}/opt/edge/readme
echo '#!/bin/sh' > %{buildroot}/usr/bin/edge-tool
echo run > %{buildroot}/opt/edge/bin/run
ln -s ../../usr/bin/edge-tool %{buildroot}/opt/edge/bin/link
%files
%dir /etc/edge
%ghost /etc/edge/ghost.conf
%ghost %dir /var/lib/edge-ghostdir
/usr/share/cabin/x
/opt/edge/readme
%attr(0755,root,root) /usr/bin/edge-tool
%dir /opt/edge/bin
/opt/edge/bin/run
/opt/edge/bin/link
%changelog
* Fri Mar 01 2024 José "Q" <j@example.org> - 2.0-1
- Non-ASCII author, quotes & <brackets>
  continued line
* Thu Feb 01 2024 Zoë <z@example.org> - 1.0-1
- Older
"""

# Changelog times one second apart and equal: [t+1, t, t] in the header
# (newest first). createrepo_c bumps the whole chain: t, t+1, t+2 (notes §8).
CLOG_SPEC = r"""Name: clog
Version: 1
Release: 1
Summary: Changelog times in a chain
License: MIT
BuildArch: noarch
%description
Changelog entries one second apart and equal.
%files
%changelog
* Wed Jan 03 12:00:01 UTC 2024 Alice <a@example.org> - 1-3
- one second after noon
* Wed Jan 03 2024 Bob <b@example.org> - 1-2
- noon
* Wed Jan 03 2024 Carol <c@example.org> - 1-1
- noon again
"""

# Characters an XML writer must escape to keep them: TAB in an attribute (a
# changelog author; createrepo_c keeps a trailing TAB, it strips only spaces),
# CR in text (description, changelog). Markup characters in file names and
# dependency names; a zstd payload.
CTL_SPEC = b"""Name: ctl
Version: 1
Release: 1
Summary: Control characters
License: MIT
BuildArch: noarch
%define _binary_payload w19.zstdio
Provides: amp&cap
Provides: quote"cap = 1
Requires: epoch-only >= 5:
%description
Line with a CR\r
and a tab\there.
%install
mkdir -p "%{buildroot}/usr/share/ctl"
echo a > "%{buildroot}/usr/share/ctl/a&b <c>.txt"
echo b > "%{buildroot}/usr/share/ctl/sp ace.txt"
echo c > "%{buildroot}/usr/share/ctl/\xc3\xa9t\xc3\xa9 \xe2\x9c\x93.txt"
%files
/usr/share/ctl
%changelog
* Fri Mar 01 2024 Tab\tAuthor <t@example.org>\t
- changelog text with a CR\r
- and a tab\there
* Thu Feb 01 2024 Trailing <x@example.org>   
- Older
"""

# Invalid UTF-8 (ISO-8859-1) in summary, description and a changelog author:
# createrepo_c converts such strings to UTF-8, dropping bytes 0x80-0xBF (notes
# §2.4). rpmbuild makes it with _invalid_encoding_terminates_build 0.
LATIN1_SPEC = b"""Name: latin1
Version: 1
Release: 1
Summary: Caf\xe9 latin1 summary \xa9
License: MIT
BuildArch: noarch
%description
Latin-1 description: \xe9t\xe9 \xb0 end.
%install
mkdir -p %{buildroot}/usr/share/latin1
echo l > %{buildroot}/usr/share/latin1/l.txt
%files
/usr/share/latin1/l.txt
%changelog
* Fri Mar 01 2024 Jos\xe9 <j@example.org> - 1-1
- Entr\xe9e
"""


PROJECT_TOML = f"""[project]
name = "repotest"
version = "1"
source-date-epoch = {SDE}
includes = ["components/*.toml"]

[signing]
key = "keys/repo.asc"
"""

COMPONENTS_TOML = """[components.app]
version = "1.0"
summary = "The application"
license = "MIT"
arch = "noarch"
requires = ["applib >= 1.0", "/usr/bin/app"]

[[components.app.files]]
source = "files/app"
path = "/usr/bin/app"
mode = "0755"

[components.applib]
version = "1.2"
summary = "The application's library"
license = "MIT"
arch = "noarch"
provides = ["applib-api = 2", "applib-virtual"]

[[components.applib.files]]
source = "files/lib.conf"
path = "/etc/applib.conf"
config = true

[[components.applib.files]]
source = "files/data"
path = "/usr/share/applib"

[components.extras]
version = "3.1"
release = "2"
epoch = 2
summary = "Extras: epoch, conflicts, obsoletes, owners"
license = "MIT OR Apache-2.0"
url = "https://example.org/extras"
arch = "noarch"
provides = ["extras-cap = 1.0-1"]
conflicts = ["oldextras < 2.0"]
obsoletes = ["extras-legacy <= 1:3.0"]
requires = ["applib"]

[[components.extras.files]]
source = "files/app"
path = "/usr/sbin/extras"
mode = "0750"
user = "daemon"
group = "daemon"
"""


def write_project(d, key):
    write(os.path.join(d, "slipway.toml"), PROJECT_TOML)
    write(os.path.join(d, "components", "all.toml"), COMPONENTS_TOML)
    write(os.path.join(d, "files", "app"), "#!/bin/sh\necho app\n", mode=0o755)
    write(os.path.join(d, "files", "lib.conf"), "setting = 1\n")
    write(os.path.join(d, "files", "data", "a.txt"), "a\n")
    write(os.path.join(d, "files", "data", "sub", "b.txt"), "b\n")
    os.makedirs(os.path.join(d, "keys"), exist_ok=True)
    shutil.copyfile(key, os.path.join(d, "keys", "repo.asc"))
    return d


KEYS = {}      # "A"/"B" -> (secret, public)
SPEC_RPMS = {}  # name -> path of a pristine rpmbuild RPM
PROJ = None    # the signed project (key A), after `slipway package`
PROJ_REPO = None
RSA_HELLO = [None]
MAIN_SPECS = ["hello", "tiny", "empty", "edge", "clog"]


def setup():
    global PROJ, PROJ_REPO
    kd = mkdir("keys")
    for name in ["A", "B", "R"]:
        prefix = os.path.join(kd, name)
        algo = ["--algo", "rsa3072"] if name == "R" else []
        p = slipway("keygen", "--uid", f"Repo Test {name} <{name.lower()}@example.org>", "-o", prefix, *algo)
        if not check(f"setup: keygen {name}", p.returncode == 0, show(p)):
            return False
        KEYS[name] = (prefix + ".asc", prefix + ".pub.asc")

    top = mkdir("rpmbuild")
    have_gcc = shutil.which("gcc") is not None
    write(os.path.join(top, "src", "hello.c"), HELLO_C)
    build = "gcc -O2 -o hello %{_topdir}/src/hello.c" if have_gcc else "printf '#!/bin/sh\\necho hello\\n' > hello"
    if not have_gcc:
        print("note: gcc missing, hello is a shell script (no libc.so.6 requires)")
    specs = {"hello": HELLO_SPEC.replace("@BUILD@", build), "tiny": TINY_SPEC, "empty": EMPTY_SPEC,
             "edge": EDGE_SPEC, "clog": CLOG_SPEC, "ctl": CTL_SPEC, "latin1": LATIN1_SPEC}
    paths = []
    for n, text_ in specs.items():
        f = os.path.join(top, "SPECS", n + ".spec")
        os.makedirs(os.path.dirname(f), exist_ok=True)
        with open(f, "wb") as fh:
            fh.write(text_ if isinstance(text_, bytes) else text_.encode())
        paths.append(f)
    t0 = time.monotonic()
    p = tool("rpmbuild", "--define", f"_topdir {top}", "--define", "_buildhost repotest",
             "--define", "_invalid_encoding_terminates_build 0", "-bb", *paths,
             env={"SOURCE_DATE_EPOCH": str(SDE)}, timeout=300)
    timed(f"rpmbuild of {len(specs)} specs", t0)
    if not check("setup: rpmbuild", p.returncode == 0, show(p)):
        return False
    for f in glob.glob(os.path.join(top, "RPMS", "*", "*.rpm")):
        SPEC_RPMS[os.path.basename(f).split("-")[0]] = f
    if not check(f"setup: {len(specs)} spec RPMs", sorted(SPEC_RPMS) == sorted(specs), sorted(SPEC_RPMS)):
        return False
    # hello signed with an RSA key, to sit in zz/ under the same basename as hello.
    RSA_HELLO[0] = os.path.join(top, "rsa", os.path.basename(SPEC_RPMS["hello"]))
    os.makedirs(os.path.dirname(RSA_HELLO[0]))
    shutil.copy2(SPEC_RPMS["hello"], RSA_HELLO[0])
    p = slipway("sign", "--key", KEYS["R"][0], RSA_HELLO[0])
    if not check("setup: sign hello with RSA", p.returncode == 0, show(p)):
        return False

    PROJ = write_project(mkdir("proj"), KEYS["A"][0])
    t0 = time.monotonic()
    p = slipway("-C", PROJ, "package")
    timed("package (3 native, signed)", t0)
    if not check("setup: package", p.returncode == 0, show(p)):
        return False
    PROJ_REPO = os.path.join(PROJ, "out", "repo")
    check("setup: 3 RPMs", len(rpms_in(os.path.join(PROJ_REPO, "Packages"))) == 3,
          rpms_in(os.path.join(PROJ_REPO, "Packages")))
    return True


def equivalence_set(d):
    """The RPM set of the equivalence test, copied with their mtimes into d: the
    spec RPMs (tiny in a subdirectory), hello signed with RSA in zz/ (same
    basename: ordered by directory), and the project's signed native RPMs."""
    os.makedirs(os.path.join(d, "sub"), exist_ok=True)
    os.makedirs(os.path.join(d, "zz"), exist_ok=True)
    for n in MAIN_SPECS:
        f = SPEC_RPMS[n]
        shutil.copy2(f, os.path.join(d, "sub" if n == "tiny" else "", os.path.basename(f)))
    shutil.copy2(RSA_HELLO[0], os.path.join(d, "zz", os.path.basename(RSA_HELLO[0])))
    copy_rpms(os.path.join(PROJ_REPO, "Packages"), os.path.join(d, "Packages"))
    # Older than SOURCE_DATE_EPOCH: slipway's <time file> (the mtime clamped to
    # it) then equals createrepo_c's (the mtime), and every field compares.
    for dirpath, _, files in os.walk(d):
        for f in files:
            if f.endswith(".rpm"):
                os.utime(os.path.join(dirpath, f), (SDE - 3600, SDE - 3600))
    return d


EQ_COUNT = 9  # packages in equivalence_set()


# ---------------------------------------------------------------------------
# 1. createrepo_c equivalence

def compare(label, want, got):
    """Per package (matched by pkgid), every parsed field of primary, filelists
    and other; the package order; the packages attribute."""
    for kind in ["primary", "filelists", "other"]:
        wn, worder, wp = want[kind]
        gn, gorder, gp = got[kind]
        check(f"{label}{kind}: packages attribute", gn == wn, (gn, wn))
        check(f"{label}{kind}: same pkgids", sorted(gp) == sorted(wp), (sorted(gp), sorted(wp)))
        check(f"{label}{kind}: same package order", gorder == worder, (gorder, worder))
        for pkgid, w in sorted(wp.items(), key=lambda kv: (kv[1]["name"], kv[0])):
            g = gp.get(pkgid)
            if g is None:
                continue
            for field in w:
                check(f"{label}{kind} {w['name']}: {field}", g.get(field) == w[field],
                      f"\n  slipway:      {g.get(field)!r}\n  createrepo_c: {w[field]!r}")
            extra = sorted(set(g) - set(w))
            check(f"{label}{kind} {w['name']}: no extra fields", not extra, extra)


def parsed_or_fail(label, repo):
    try:
        return parsed(repo)
    except ET.ParseError as e:
        check(f"{label}: metadata is well-formed XML", False, repr(e))
        return None


def test_equivalence():
    cr = equivalence_set(mkdir("eq", "createrepo"))
    gz = equivalence_set(mkdir("eq", "gzip"))
    zs = equivalence_set(mkdir("eq", "zstd"))
    t0 = time.monotonic()
    p = tool("createrepo_c", "--no-database", cr)
    timed(f"createrepo_c ({EQ_COUNT} packages)", t0)
    if not check("createrepo_c", p.returncode == 0, show(p)):
        return
    t0 = time.monotonic()
    p = slipway("repo", "--compress", "gzip", gz)
    timed(f"slipway repo --compress gzip ({EQ_COUNT} packages)", t0)
    if not check("slipway repo --compress gzip", p.returncode == 0, show(p)):
        return
    p = slipway("repo", zs)
    if not check("slipway repo (default zstd)", p.returncode == 0, show(p)):
        return

    check_repomd("createrepo_c repomd", cr, "gz")
    _, rev = check_repomd("gzip repomd", gz, "gz")
    check("gzip repomd: revision is SOURCE_DATE_EPOCH", rev == str(SDE), rev)
    zrecs, _ = check_repomd("zstd repomd", zs, "zst")
    listed = {os.path.basename(r["href"]) for r in zrecs.values()}
    extra = {f for f in os.listdir(os.path.join(zs, "repodata")) if not f.startswith(".slipway-cache")} - listed - \
        {"repomd.xml"}
    check("zstd repodata: nothing but the listed files", not extra, sorted(extra))

    want, got, zgot = parsed(cr), parsed(gz), parsed(zs)
    check("createrepo_c: all packages", want["primary"][0] == str(EQ_COUNT), want["primary"][0])
    compare("", want, got)
    for kind in ["primary", "filelists", "other"]:
        check(f"zstd {kind} parses as the gzip one", zgot[kind] == got[kind], "differs")
        check(f"zstd and gzip {kind} decompress to the same bytes",
              metadata_xml(zs, kind) == metadata_xml(gz, kind), "differs")

    # Spot checks of rules that the comparison depends on, so that a createrepo_c
    # change would show here and not pass silently.
    _, _, wp = want["primary"]
    byname = {}
    for x in wp.values():
        byname.setdefault(x["name"], []).append(x)
    check("createrepo_c: hello summary untranslated under LC_ALL=C",
          [x["summary"] for x in byname.get("hello", [])] == ['A "hello" <test> & package'] * 2, byname.get("hello"))
    check("createrepo_c: tiny href in sub/", [x["location"]["href"] for x in byname.get("tiny", [])] ==
          ["sub/" + os.path.basename(SPEC_RPMS["tiny"])], byname.get("tiny"))
    _, _, wo = want["other"]
    hello_other = [x for x in wo.values() if x["name"] == "hello"]
    check("createrepo_c: 10 changelog entries for hello", [len(x["changelogs"]) for x in hello_other] == [10, 10],
          [len(x["changelogs"]) for x in hello_other])
    clog = [x["changelogs"] for x in wo.values() if x["name"] == "clog"]
    check("createrepo_c: clog changelog dates t, t+1, t+2",
          [[c[1] for c in x] for x in clog] == [["1704283200", "1704283201", "1704283202"]], clog)

    # The one difference: a package file newer than SOURCE_DATE_EPOCH. Its
    # <time file> is clamped to it (createrepo_c writes the mtime), so a copy
    # of the same packages made later gives the same metadata.
    cl = equivalence_set(mkdir("eq", "clamped"))
    newer = os.path.join(cl, "zz", os.path.basename(RSA_HELLO[0]))
    os.utime(newer, (SDE + 86400, SDE + 86400))
    p = slipway("repo", cl)
    if check("clamped: slipway repo", p.returncode == 0, show(p)):
        _, _, cp = parse_primary(metadata_xml(cl, "primary"))
        times = sorted((x["location"]["href"], x["time"]["file"]) for x in cp.values())
        check("clamped: a newer file's time@file is SOURCE_DATE_EPOCH, the others' their mtime",
              times == sorted((x["location"]["href"], str(SDE) if x["location"]["href"].startswith("zz/")
                               else str(SDE - 3600)) for x in cp.values()) and
              any(t == str(SDE) for _, t in times), times)

    # Over a repository createrepo_c made (with sqlite databases): slipway's
    # metadata replaces it, and nothing of the old remains.
    d = equivalence_set(mkdir("eq", "over-createrepo"))
    tool("createrepo_c", d, check_rc=True)
    p = slipway("repo", d)
    check("over createrepo_c's repodata", p.returncode == 0, show(p))
    recs, _ = check_repomd("over createrepo_c's repodata", d, "zst")
    left = {f for f in os.listdir(os.path.join(d, "repodata")) if not f.startswith(".slipway-cache")} - \
        {os.path.basename(r["href"]) for r in recs.values()} - {"repomd.xml"}
    check("over createrepo_c's repodata: old files removed", not left, sorted(left))


def test_equivalence_encoding():
    """Strings that need escaping (TAB, CR) and strings that are not UTF-8: each
    in a repository of its own, so that one broken document does not hide the rest."""
    for name in ["ctl", "latin1"]:
        cr, gz = mkdir("enc", name, "createrepo"), mkdir("enc", name, "gzip")
        for d in [cr, gz]:
            for f in [SPEC_RPMS[name], SPEC_RPMS["tiny"]]:
                shutil.copy2(f, d)
                # Older than SOURCE_DATE_EPOCH, as in equivalence_set().
                os.utime(os.path.join(d, os.path.basename(f)), (SDE - 3600, SDE - 3600))
        tool("createrepo_c", "--no-database", cr, check_rc=True)
        p = slipway("repo", "--compress", "gzip", gz)
        if not check(f"{name}: slipway repo", p.returncode == 0, show(p)):
            continue
        want = parsed(cr)
        got = parsed_or_fail(f"{name}", gz)
        if got is not None:
            compare(f"{name}: ", want, got)
        for kind in PARSERS:
            data = metadata_xml(gz, kind)
            try:
                data.decode("utf-8")
                ok = True
            except UnicodeDecodeError as e:
                ok = e
            check(f"{name}: {kind} is valid UTF-8", ok is True, repr(ok))

    # dnf reads a repository holding the Latin-1 package (gpgcheck off: only the
    # metadata matters here).
    d = mkdir("enc", "dnf-repo")
    shutil.copy2(SPEC_RPMS["latin1"], d)
    shutil.copy2(SPEC_RPMS["empty"], d)
    p = slipway("repo", d)
    if check("latin1: slipway repo (zstd)", p.returncode == 0, show(p)):
        root = mkdir("dnf", "latin1", "root")
        INSTALLROOTS.append(root)
        conf = os.path.join(BASE, "dnf", "latin1", "dnf.conf")
        write(conf, "[main]\ngpgcheck=0\ninstall_weak_deps=0\nreposdir=/nonexistent\n")
        p = subprocess.run(["dnf", "-y", f"--installroot={root}", f"--config={conf}", "--releasever=1",
                            f"--repofrompath=r,file://{d}", "--repo=r", "--setopt=r.gpgcheck=0", "install", "empty"],
                           capture_output=True, encoding="utf-8", errors="replace", timeout=180, env=dnf_env())
        check("latin1: dnf loads the repository and installs from it", p.returncode == 0, show(p))


# ---------------------------------------------------------------------------
# 2. gpg on repomd.xml.asc

def test_gpg():
    d = equivalence_set(mkdir("gpg", "repo"))
    p = slipway("repo", "--key", KEYS["A"][0], d)
    if not check("gpg: slipway repo --key", p.returncode == 0, show(p)):
        return
    md, asc = os.path.join(d, "repodata", "repomd.xml"), os.path.join(d, "repodata", "repomd.xml.asc")
    keyfile = os.path.join(d, "RPM-GPG-KEY-repo")
    check("gpg: repomd.xml.asc and RPM-GPG-KEY-repo written", os.path.isfile(asc) and os.path.isfile(keyfile),
          sorted(os.listdir(d)) + sorted(os.listdir(os.path.join(d, "repodata"))))
    home = gnupghome("gpg")
    p = gpg(home, "--import", keyfile)
    check("gpg: RPM-GPG-KEY-repo imports", p.returncode == 0 and "IMPORT_OK" in p.stdout, show(p))
    p = gpg(home, "--verify", asc, md)
    check("gpg: good signature", p.returncode == 0 and "GOODSIG" in p.stdout and "VALIDSIG" in p.stdout, show(p))
    # The project repository too (RPM-GPG-KEY-<project name>).
    home2 = gnupghome("gpg-project")
    p = gpg(home2, "--import", os.path.join(PROJ_REPO, "RPM-GPG-KEY-repotest"))
    check("gpg: RPM-GPG-KEY-repotest imports", p.returncode == 0, show(p))
    p = gpg(home2, "--verify", os.path.join(PROJ_REPO, "repodata", "repomd.xml.asc"),
            os.path.join(PROJ_REPO, "repodata", "repomd.xml"))
    check("gpg: project repository: good signature", p.returncode == 0 and "GOODSIG" in p.stdout, show(p))

    # One byte of repomd.xml changed.
    bad = os.path.join(BASE, "gpg", "repomd-edited.xml")
    b = bytearray(read(md))
    i = b.index(b"<revision>") + len(b"<revision>")
    b[i] = ord("9") if b[i] != ord("9") else ord("8")
    with open(bad, "wb") as f:
        f.write(b)
    p = gpg(home, "--verify", asc, bad)
    check("gpg: edited repomd.xml: bad signature", p.returncode != 0 and "BADSIG" in p.stdout, show(p))
    # Another key only: not verifiable.
    home3 = gnupghome("gpg-other")
    gpg(home3, "--import", KEYS["B"][1], check_rc=True)
    p = gpg(home3, "--verify", asc, md)
    check("gpg: only another key imported: not good", p.returncode != 0 and "GOODSIG" not in p.stdout, show(p))


# ---------------------------------------------------------------------------
# 3. dnf

def dnf_env():
    e = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    e["LC_ALL"] = "C"
    e["no_proxy"] = "127.0.0.1,localhost"
    return e


def dnf_install(name, url, gpgkey, pkg="app"):
    root = mkdir("dnf", name, "root")
    INSTALLROOTS.append(root)
    conf = os.path.join(BASE, "dnf", name, "dnf.conf")
    write(conf, "[main]\ngpgcheck=1\ninstall_weak_deps=0\nreposdir=/nonexistent\n")
    args = ["dnf", "-y", f"--installroot={root}", f"--config={conf}", "--releasever=1",
            f"--repofrompath=r,{url}", "--repo=r", "--setopt=r.gpgcheck=1", "--setopt=r.repo_gpgcheck=1",
            f"--setopt=r.gpgkey={gpgkey}", "install", pkg]
    t0 = time.monotonic()
    p = subprocess.run(args, capture_output=True, encoding="utf-8", errors="replace", timeout=180, env=dnf_env())
    timed(f"dnf install ({name})", t0)
    return root, p


def installed(root):
    """rpm -qa in root, with the database dnf used (found in the tree)."""
    dbs = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs  # rpm 4.18 on Debian: ~/.rpmdb
           if f in ("rpmdb.sqlite", "Packages.db", "Packages") and "/var/cache/" not in d]
    if not dbs:
        return None, []
    dbpath = "/" + os.path.relpath(os.path.dirname(dbs[0]), root)
    p = tool("rpm", "--root", root, "--dbpath", dbpath, "-qa", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}\n")
    return dbpath, sorted(l for l in p.stdout.splitlines() if l and not l.startswith("gpg-pubkey"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_dnf():
    key = "file://" + os.path.join(PROJ_REPO, "RPM-GPG-KEY-repotest")
    want = ["app-1.0-1", "applib-1.2-1"]

    root, p = dnf_install("file", "file://" + PROJ_REPO, key)
    check("dnf file://: install app (signed repo and packages)", p.returncode == 0, show(p))
    dbpath, pk = installed(root)
    check("dnf file://: rpm -qa lists app and its dependency", pk == want, f"dbpath {dbpath}: {pk}")

    # http:// from python3 -m http.server
    port = free_port()
    srv = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port),
                            "--directory", PROJ_REPO], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        up = False
        for _ in range(100):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/repodata/repomd.xml")
                up = c.getresponse().status == 200
                c.close()
                if up:
                    break
            except OSError:
                time.sleep(0.05)
        if check("http server up", up, f"port {port}"):
            root, p = dnf_install("http", f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{port}/RPM-GPG-KEY-repotest")
            check("dnf http://: install app", p.returncode == 0, show(p))
            dbpath, pk = installed(root)
            check("dnf http://: rpm -qa lists app and its dependency", pk == want, f"dbpath {dbpath}: {pk}")
    finally:
        srv.terminate()
        try:
            srv.wait(timeout=10)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()

    # Another key as gpgkey: repomd.xml.asc does not verify.
    root, p = dnf_install("wrongkey", "file://" + PROJ_REPO, "file://" + KEYS["B"][1])
    check("dnf: another key: refused (repo_gpgcheck)", p.returncode != 0 and "Bad GPG signature" in (p.stdout + p.stderr),
          show(p))
    check("dnf: another key: nothing installed", installed(root)[1] == [], installed(root))

    # Repository signed with A, packages signed with B, gpgkey A.
    d = mkdir("dnf", "mixed-repo")
    copy_rpms(os.path.join(PROJ_REPO, "Packages"), os.path.join(d, "Packages"))
    pks = [os.path.join(d, "Packages", f) for f in rpms_in(os.path.join(d, "Packages"))]
    p = slipway("sign", "--key", KEYS["B"][0], *pks)
    check("mixed: packages re-signed with B", p.returncode == 0, show(p))
    p = slipway("repo", "--key", KEYS["A"][0], d)
    check("mixed: repository signed with A", p.returncode == 0, show(p))
    root, p = dnf_install("mixed", "file://" + d, "file://" + os.path.join(d, "RPM-GPG-KEY-repo"))
    out = p.stdout + p.stderr
    check("dnf: packages signed by another key: refused (gpgcheck)", p.returncode != 0 and "GPG check FAILED" in out
          and "Bad GPG signature" not in out, show(p))
    check("dnf: packages signed by another key: nothing installed", installed(root)[1] == [], installed(root))
    # The same repository with B as gpgkey: the repository signature (A) is refused.
    root, p = dnf_install("mixed-b", "file://" + d, "file://" + KEYS["B"][1])
    check("dnf: repository signed by another key than the packages' key: refused", p.returncode != 0 and
          "Bad GPG signature" in p.stdout + p.stderr, show(p))


# ---------------------------------------------------------------------------
# 4. Incremental runs on 1000 packages

BIG_N = 1000


def doc_checksums(repo):
    """type -> checksum of primary, filelists and other in repo's repomd.xml."""
    return {k: v["checksum"] for k, v in repomd(repo)[0].items() if k in PARSERS}


def corrupt_cache_frames(path):
    """Flips a byte in the middle of every compressed frame in a repodata/.slipway-cache
    (format in src/repo/repo.c: header lines, "P ..." records each followed by its
    location, "C count", then "H key packages z1 z2 z3" each followed by three frames).
    Returns the number of frames changed."""
    b = bytearray(open(path, "rb").read())
    pos = 0

    def line():
        nonlocal pos
        e = b.index(b"\n", pos)
        ln = bytes(b[pos:e]).decode()
        pos = e + 1
        return ln

    for _ in range(2):
        line()                                  # magic, V
    count = int(line().split()[3])              # R revision compression count
    line(); line()                              # K, F
    for _ in range(count):
        f = line().split()                      # P size mtime ino pkgid hreflen l1 l2 l3
        pos += int(f[5])
    changed = 0
    for _ in range(int(line().split()[1])):     # C count
        f = line().split()                      # H key packages z1 z2 z3
        for z in map(int, f[3:6]):
            if z > 8:
                b[pos + z // 2] ^= 0x55
                changed += 1
            pos += z
    open(path, "wb").write(bytes(b))
    return changed


def test_incremental():
    proj = mkdir("big")
    write(os.path.join(proj, "slipway.toml"),
          f'[project]\nname = "big"\nversion = "1"\nsource-date-epoch = {SDE}\nincludes = ["components/*.toml"]\n')
    write(os.path.join(proj, "files", "f"), "x\n")
    parts = []
    for i in range(BIG_N + 1):
        n = f"pkg{i:04d}"
        parts.append(f'[components.{n}]\nversion = "1.{i}"\nsummary = "Package {i}"\nlicense = "MIT"\n'
                     f'arch = "noarch"\nrequires = ["pkg{(i + 1) % BIG_N:04d}"]\n\n'
                     f'[[components.{n}.files]]\nsource = "files/f"\npath = "/usr/share/{n}/f"\n\n')
    write(os.path.join(proj, "components", "all.toml"), "".join(parts))
    t0 = time.monotonic()
    p = slipway("-q", "-C", proj, "package", timeout=300)
    timed(f"package ({BIG_N + 1} native components)", t0)
    if not check("incremental: package 1001 components", p.returncode == 0, show(p)):
        return
    built = os.path.join(proj, "out", "repo", "Packages")
    repo = mkdir("inc")
    os.makedirs(os.path.join(repo, "Packages"))
    extra = f"pkg{BIG_N:04d}-1.{BIG_N}-1.noarch.rpm"
    for f in rpms_in(built):
        if f != extra:
            os.rename(os.path.join(built, f), os.path.join(repo, "Packages", f))
    check("incremental: 1000 RPMs", len(rpms_in(os.path.join(repo, "Packages"))) == BIG_N,
          len(rpms_in(os.path.join(repo, "Packages"))))

    t0 = time.monotonic()
    p, j = slipway_json("repo", repo)
    timed(f"repo, first run ({BIG_N} packages)", t0)
    check("incremental: first run", p.returncode == 0 and j and j["packages"] == BIG_N and j["read"] == BIG_N and
          j["reused"] == 0 and j["changed"] is True and j["signed"] is False, show(p))

    # One more RPM.
    os.rename(os.path.join(built, extra), os.path.join(repo, "Packages", extra))
    t0 = time.monotonic()
    p, j = slipway_json("repo", repo)
    timed(f"repo, one package added ({BIG_N + 1})", t0)
    check("incremental: add one: read 1, reused 1000", p.returncode == 0 and j and j["read"] == 1 and
          j["reused"] == BIG_N and j["packages"] == BIG_N + 1 and j["changed"] is True and j["removed"] == 0, show(p))
    hrefs = primary_hrefs(repo)
    check("incremental: primary lists 1001 packages", len(hrefs) == BIG_N + 1 and f"Packages/{extra}" in hrefs,
          len(hrefs))
    check_repomd("incremental repomd", repo, "zst")
    # Only the chunk the new package falls into (two, should it split one)
    # is compressed again; the others' frames come from the cache.
    check("incremental: add one: at most 2 of the chunks compressed again",
          j is not None and j["chunks"] >= 8 and 1 <= j["chunks-compressed"] <= 2,
          j and (j["chunks"], j["chunks-compressed"]))

    # The incremental result equals a run from scratch, to the byte.
    saved = {k: metadata_xml(repo, k) for k in PARSERS}
    scratch = mkdir("inc-scratch")
    shutil.copytree(os.path.join(repo, "Packages"), os.path.join(scratch, "Packages"), copy_function=shutil.copy2)
    p = slipway("repo", scratch)
    if check("incremental: scratch run", p.returncode == 0, show(p)):
        for k in PARSERS:
            check(f"incremental: {k} equals a run from scratch", metadata_xml(scratch, k) == saved[k], "differs")
        check("incremental: compressed files identical to a run from scratch",
              doc_checksums(repo) == doc_checksums(scratch), (doc_checksums(repo), doc_checksums(scratch)))

    # Nothing changed: nothing rewritten.
    before = tree_state(os.path.join(repo, "repodata"))
    time.sleep(0.02)
    t0 = time.monotonic()
    p, j = slipway_json("repo", repo)
    timed(f"repo, nothing changed ({BIG_N + 1})", t0)
    check("incremental: unchanged: changed false, read 0", p.returncode == 0 and j and j["changed"] is False and
          j["read"] == 0 and j["reused"] == BIG_N + 1 and j["removed"] == 0, show(p))
    check("incremental: unchanged: repodata untouched (bytes, mtimes, inodes)",
          tree_state(os.path.join(repo, "repodata")) == before,
          sorted(set(tree_state(os.path.join(repo, "repodata")).items()) ^ set(before.items()))[:4])

    # A touched package is read again.
    victim = os.path.join(repo, "Packages", "pkg0500-1.500-1.noarch.rpm")
    os.utime(victim, (SDE - 5, SDE - 5))
    p, j = slipway_json("repo", repo)
    check("incremental: touched package read again", p.returncode == 0 and j and j["read"] == 1 and
          j["reused"] == BIG_N and j["changed"] is True, show(p))
    check("incremental: touched package is not counted as removed", j is not None and j["removed"] == 0 and
          j["packages"] == BIG_N + 1, show(p))
    _, _, pk = parse_primary(metadata_xml(repo, "primary"))
    tf = [x["time"]["file"] for x in pk.values() if x["name"] == "pkg0500"]
    check("incremental: touched package's time@file updated", tf == [str(SDE - 5)], tf)

    # One RPM removed.
    gone = "pkg0123-1.123-1.noarch.rpm"
    os.remove(os.path.join(repo, "Packages", gone))
    t0 = time.monotonic()
    p, j = slipway_json("repo", repo)
    timed(f"repo, one package removed ({BIG_N})", t0)
    check("incremental: remove one: removed >= 1", p.returncode == 0 and j and j["removed"] >= 1 and
          j["packages"] == BIG_N and j["read"] == 0 and j["changed"] is True, show(p))
    hrefs = primary_hrefs(repo)
    check("incremental: removed package not in primary", f"Packages/{gone}" not in hrefs and len(hrefs) == BIG_N,
          len(hrefs))
    for k in ["filelists", "other"]:
        n, order, _ = PARSERS[k](metadata_xml(repo, k))
        check(f"incremental: {k} has {BIG_N} packages", n == str(BIG_N) and len(order) == BIG_N, (n, len(order)))
    check_repomd("incremental repomd after removal", repo, "zst")

    # A damaged cache (every compressed frame in it corrupted) is noticed:
    # the run reads every package again and writes what a run from scratch
    # writes; the next run is incremental again.
    cache = os.path.join(repo, "repodata", ".slipway-cache")
    n_frames = corrupt_cache_frames(cache)
    check("incremental: damaged cache: frames corrupted", n_frames >= 24, n_frames)
    os.utime(os.path.join(repo, "Packages", "pkg0700-1.700-1.noarch.rpm"), (SDE + 7, SDE + 7))
    p, j = slipway_json("repo", repo)
    check("incremental: damaged cache: run succeeds, every package read again",
          p.returncode == 0 and j and j["read"] == BIG_N and j["reused"] == 0 and j["changed"] is True, show(p))
    check_repomd("incremental repomd after a damaged cache", repo, "zst")
    scratch2 = mkdir("inc-scratch2")
    shutil.copytree(os.path.join(repo, "Packages"), os.path.join(scratch2, "Packages"), copy_function=shutil.copy2)
    p = slipway("repo", scratch2)
    check("incremental: damaged cache: output identical to a run from scratch",
          p.returncode == 0 and doc_checksums(repo) == doc_checksums(scratch2), show(p))
    p, j = slipway_json("repo", repo)
    check("incremental: after the damaged cache, nothing changed",
          p.returncode == 0 and j and j["changed"] is False and j["read"] == 0, show(p))


# ---------------------------------------------------------------------------
# 4b. What a run with the same packages must still notice: another key, another
# compression, and output files that went missing since the last run.

def gpg_verifies(repo, pub, label):
    home = gnupghome(label)
    gpg(home, "--import", pub, check_rc=True)
    md = os.path.join(repo, "repodata", "repomd.xml")
    p = gpg(home, "--verify", md + ".asc", md)
    return p.returncode == 0 and "GOODSIG" in p.stdout, p


def state_repo(name, *args):
    """A repository of the project's three RPMs after one run of `slipway repo ARGS`."""
    d = mkdir("state", name)
    copy_rpms(os.path.join(PROJ_REPO, "Packages"), d)
    p = slipway("repo", *args, d)
    check(f"state {name}: first run", p.returncode == 0, show(p))
    return d, os.path.join(d, "repodata"), os.path.join(d, "RPM-GPG-KEY-repo")


def test_state_changes():
    signA = ["--compress", "gzip", "--key", KEYS["A"][0]]

    # zstd -> gzip, same packages.
    d, rd, keyfile = state_repo("compress")
    p, j = slipway_json("repo", "--compress", "gzip", d)
    check("state: zstd -> gzip: changed", p.returncode == 0 and j and j["changed"] is True, show(p))
    check_repomd("state: zstd -> gzip", d, "gz")
    check("state: zstd -> gzip: no .zst left", not [f for f in os.listdir(rd) if f.endswith(".zst")], os.listdir(rd))

    # unsigned -> key A.
    p, j = slipway_json("repo", *signA, d)
    check("state: unsigned -> signed: changed", p.returncode == 0 and j and j["changed"] is True and j["signed"],
          show(p))
    ok, gp = gpg_verifies(d, KEYS["A"][1], "state-a")
    check("state: unsigned -> signed: repomd.xml.asc verifies with A", ok, show(gp))
    check("state: RPM-GPG-KEY-repo is A", os.path.isfile(keyfile) and read(keyfile) == read(KEYS["A"][1]), "differs")

    # key A -> no key: no signature is left behind.
    p, j = slipway_json("repo", "--compress", "gzip", d)
    check("state: signed -> unsigned: changed, no repomd.xml.asc", p.returncode == 0 and j and j["changed"] is True
          and not os.path.exists(os.path.join(rd, "repomd.xml.asc")), show(p))

    # key A -> key B, same packages: the repository must end up signed by B.
    d, rd, keyfile = state_repo("key", *signA)
    p, j = slipway_json("repo", "--compress", "gzip", "--key", KEYS["B"][0], d)
    check("state: key A -> key B: exit 0", p.returncode == 0 and j and j["signed"] is True, show(p))
    check("state: key A -> key B: changed", j is not None and j["changed"] is True, show(p))
    ok, gp = gpg_verifies(d, KEYS["B"][1], "state-b")
    check("state: key A -> key B: repomd.xml.asc verifies with B", ok, show(gp))
    check("state: key A -> key B: RPM-GPG-KEY-repo is B", read(keyfile) == read(KEYS["B"][1]), "still A")
    p2 = slipway("verify", "--key", KEYS["B"][1], d)  # (the packages are signed by A: only repomd.xml.asc matters)
    check("state: key A -> key B: slipway verify --key B: repomd.xml.asc accepted",
          "repomd.xml.asc: FAILED" not in p2.stderr + p2.stdout, show(p2))

    # Output files removed by hand: the next run puts them back.
    d, rd, keyfile = state_repo("asc", *signA)
    os.remove(os.path.join(rd, "repomd.xml.asc"))
    p, j = slipway_json("repo", *signA, d)
    check("state: repomd.xml.asc removed: exit 0", p.returncode == 0, show(p))
    check("state: repomd.xml.asc removed: written again", os.path.isfile(os.path.join(rd, "repomd.xml.asc")),
          sorted(os.listdir(rd)))
    p = slipway("verify", "--key", KEYS["A"][1], d)
    check("state: repomd.xml.asc removed: the repository verifies after the run", p.returncode == 0, show(p))

    d, rd, keyfile = state_repo("keyfile", *signA)
    os.remove(keyfile)
    p, j = slipway_json("repo", *signA, d)
    check("state: RPM-GPG-KEY-repo removed: written again", p.returncode == 0 and os.path.isfile(keyfile) and
          read(keyfile) == read(KEYS["A"][1]), sorted(os.listdir(d)))

    d, rd, keyfile = state_repo("primary", *signA)
    recs, _ = repomd(d)
    os.remove(os.path.join(d, recs["primary"]["href"]))
    p, j = slipway_json("repo", *signA, d)
    check("state: primary removed: exit 0", p.returncode == 0, show(p))
    recs, _ = repomd(d)
    check("state: primary removed: written again", os.path.isfile(os.path.join(d, recs["primary"]["href"])),
          sorted(os.listdir(rd)))
    p = slipway("verify", "--key", KEYS["A"][1], d)
    check("state: primary removed: the repository verifies after the run", p.returncode == 0, show(p))

    # Output files that exist but are not what this run would write: a
    # repomd.xml.asc from another repository (another key), a public key file
    # of another key, a repomd.xml.asc left over in a now unsigned repository.
    other, _, _ = state_repo("other-asc", "--compress", "gzip", "--key", KEYS["B"][0])
    d, rd, keyfile = state_repo("stale-asc", *signA)
    shutil.copyfile(os.path.join(other, "repodata", "repomd.xml.asc"), os.path.join(rd, "repomd.xml.asc"))
    p = slipway("verify", "--key", KEYS["A"][1], d)
    check("state: foreign repomd.xml.asc: verify fails before the run", p.returncode == 1, show(p))
    p, j = slipway_json("repo", *signA, d)
    check("state: foreign repomd.xml.asc: exit 0, changed", p.returncode == 0 and j and j["changed"] is True, show(p))
    ok, g = gpg_verifies(d, KEYS["A"][1], "stale-asc")
    check("state: foreign repomd.xml.asc: remade, gpg verifies it", ok, show(g))
    p = slipway("verify", "--key", KEYS["A"][1], d)
    check("state: foreign repomd.xml.asc: the repository verifies after the run", p.returncode == 0, show(p))
    p, j = slipway_json("repo", *signA, d)
    check("state: foreign repomd.xml.asc: then nothing changed", p.returncode == 0 and j and j["changed"] is False,
          show(p))

    d, rd, keyfile = state_repo("stale-keyfile", *signA)
    shutil.copyfile(KEYS["B"][1], keyfile)
    p, j = slipway_json("repo", *signA, d)
    check("state: RPM-GPG-KEY-repo of another key: written again", p.returncode == 0 and j and j["changed"] is True
          and read(keyfile) == read(KEYS["A"][1]), show(p))

    d, rd, keyfile = state_repo("stale-unsigned", "--compress", "gzip")
    shutil.copyfile(os.path.join(other, "repodata", "repomd.xml.asc"), os.path.join(rd, "repomd.xml.asc"))
    p, j = slipway_json("repo", "--compress", "gzip", d)
    check("state: unsigned repository with a repomd.xml.asc: removed", p.returncode == 0 and j and
          j["changed"] is True and not os.path.exists(os.path.join(rd, "repomd.xml.asc")), show(p))

    # The project's own repository: `slipway repo` and `slipway package`
    # remake a repomd.xml.asc that the project's key does not verify.
    proj = mkdir("state", "proj-asc")
    shutil.rmtree(proj)
    shutil.copytree(PROJ, proj, symlinks=True)
    prd = os.path.join(proj, "out", "repo", "repodata")
    p = slipway("-C", proj, "repo")  # the copy's cache made current (inodes differ)
    check("state: project copy: slipway repo", p.returncode == 0, show(p))
    for verb in ["repo", "package"]:
        shutil.copyfile(os.path.join(other, "repodata", "repomd.xml.asc"), os.path.join(prd, "repomd.xml.asc"))
        p = slipway("-C", proj, verb)
        check(f"state: project, foreign repomd.xml.asc: `slipway {verb}` exit 0, remade", p.returncode == 0 and
              "nothing changed" not in p.stderr, show(p))
        p = slipway("verify", "--key", KEYS["A"][1], os.path.join(proj, "out", "repo"))
        check(f"state: project, foreign repomd.xml.asc: verifies after `slipway {verb}`", p.returncode == 0, show(p))

    # A damaged cache: everything is read again, same metadata.
    d, rd, keyfile = state_repo("cache", *signA)
    before = tree_bytes(rd)
    caches = [f for f in os.listdir(rd) if f.startswith(".slipway-cache")]
    for f in caches:
        with open(os.path.join(rd, f), "wb") as fh:
            fh.write(b"garbage\n")
    p, j = slipway_json("repo", *signA, d)
    check("state: damaged cache: everything read again", p.returncode == 0 and j and j["read"] == 3, show(p))
    after = tree_bytes(rd)
    check("state: damaged cache: same metadata", {k: v for k, v in after.items() if k not in caches} ==
          {k: v for k, v in before.items() if k not in caches}, "differs")


# ---------------------------------------------------------------------------
# 5. Bad input leaves the old metadata alone

def test_bad_input():
    d = equivalence_set(mkdir("bad", "repo"))
    # Sign the spec RPMs with A too, so that verify passes on the whole repository.
    all_rpms = sorted(os.path.join(r, f) for r, _, fs in os.walk(d) for f in fs if f.endswith(".rpm"))
    p = slipway("sign", "--key", KEYS["A"][0], *all_rpms)
    check("bad: sign the spec RPMs", p.returncode == 0, show(p))
    p = slipway("repo", "--key", KEYS["A"][0], d)
    if not check("bad: good run first", p.returncode == 0, show(p)):
        return
    p = slipway("verify", "--key", KEYS["A"][1], d)
    check("bad: verify after the good run", p.returncode == 0, show(p))
    before = tree_bytes(os.path.join(d, "repodata"))
    key_before = read(os.path.join(d, "RPM-GPG-KEY-repo"))

    hello = read(SPEC_RPMS["hello"])
    truncated = hello[:len(hello) // 2]
    start, hil, hdl, _ = header_layout(hello)
    corrupt = bytearray(read(os.path.join(PROJ_REPO, "Packages", "applib-1.2-1.noarch.rpm")))
    cs, chil, chdl, _ = header_layout(corrupt)
    for i in range(chil):  # the offset of the NAME (1000) entry now points far outside the data
        tag = struct.unpack(">I", corrupt[cs + 16 + 16 * i:cs + 20 + 16 * i])[0]
        if tag == 1000:
            corrupt[cs + 16 + 16 * i + 8] ^= 0x7F
            break
    cases = [("truncated RPM", "trunc-1-1.noarch.rpm", truncated),
             ("non-RPM file", "x.rpm", b"this is not an RPM package\n" * 10),
             ("empty file", "zero.rpm", b""),
             ("corrupt header index", "corrupt-1-1.noarch.rpm", bytes(corrupt))]
    for label, name, data in cases:
        path = os.path.join(d, "Packages", name)
        with open(path, "wb") as f:
            f.write(data)
        for args in [["repo", "--key", KEYS["A"][0], d], ["repo", "--key", KEYS["A"][0], "--compress", "gzip", d]]:
            p = slipway(*args)
            check(f"bad: {label} ({args[-2]}): exit 1, named in stderr",
                  p.returncode == 1 and name in p.stderr, show(p))
        check(f"bad: {label}: repodata unchanged", tree_bytes(os.path.join(d, "repodata")) == before,
              sorted(set(tree_bytes(os.path.join(d, "repodata"))) ^ set(before)))
        check(f"bad: {label}: RPM-GPG-KEY-repo unchanged", read(os.path.join(d, "RPM-GPG-KEY-repo")) == key_before,
              "changed")
        os.remove(path)
        p = slipway("verify", "--key", KEYS["A"][1], d)
        check(f"bad: {label}: old metadata still verifies", p.returncode == 0, show(p))
    # A bad package next to a new good one: still nothing written.
    shutil.copy2(SPEC_RPMS["ctl"], os.path.join(d, "Packages"))
    with open(os.path.join(d, "Packages", "x.rpm"), "wb") as f:
        f.write(b"junk")
    p = slipway("repo", "--key", KEYS["A"][0], d)
    check("bad: with a new good package: exit 1, named", p.returncode == 1 and "x.rpm" in p.stderr, show(p))
    check("bad: with a new good package: repodata unchanged", tree_bytes(os.path.join(d, "repodata")) == before,
          "changed")
    os.remove(os.path.join(d, "Packages", "x.rpm"))
    os.remove(os.path.join(d, "Packages", os.path.basename(SPEC_RPMS["ctl"])))

    # An indexed package truncated in place: inside its header, then only its
    # payload (the signature header's SIZE tag, header + payload, tells).
    victim = os.path.join(d, "Packages", "app-1.0-1.noarch.rpm")
    saved = read(victim)
    st = os.stat(victim)
    vs, vhil, vhdl, vpayload = header_layout(saved)
    for label, keep in [("inside the header", vs + 16 + 16 * vhil + vhdl // 2),
                        ("payload cut short", len(saved) - 100)]:
        with open(victim, "r+b") as f:
            f.truncate(keep)
        p = slipway("repo", "--key", KEYS["A"][0], d)
        check(f"bad: indexed package truncated ({label}): exit 1, named",
              p.returncode == 1 and "app-1.0-1.noarch.rpm" in p.stderr, show(p))
        check(f"bad: indexed package truncated ({label}): repodata unchanged",
              tree_bytes(os.path.join(d, "repodata")) == before, "changed")
        with open(victim, "wb") as f:
            f.write(saved)
        os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
        if tree_bytes(os.path.join(d, "repodata")) != before:  # start the next case from the good state
            p = slipway("repo", "--key", KEYS["A"][0], d)
            before = tree_bytes(os.path.join(d, "repodata"))

    # With the bad files gone, a run finds nothing to do (the restored package
    # is read again: it was rewritten, so its inode or mtime may differ).
    p, j = slipway_json("repo", "--key", KEYS["A"][0], d)
    check("bad: afterwards a good run", p.returncode == 0 and j and j["packages"] == EQ_COUNT and j["read"] <= 1,
          show(p))
    check("bad: afterwards the same metadata", tree_bytes(os.path.join(d, "repodata")) == before, "changed")

    # A bad package on the first run: nothing written at all.
    d = mkdir("bad", "first")
    shutil.copy2(SPEC_RPMS["tiny"], d)
    with open(os.path.join(d, "zero.rpm"), "wb") as f:
        f.write(b"\xed\xab\xee\xdb" + b"\0" * 200)
    p = slipway("repo", "--key", KEYS["A"][0], d)
    check("bad: first run: exit 1, named", p.returncode == 1 and "zero.rpm" in p.stderr, show(p))
    check("bad: first run: no repomd.xml", not os.path.exists(os.path.join(d, "repodata", "repomd.xml")),
          os.listdir(d))
    check("bad: first run: no RPM-GPG-KEY-repo", not os.path.exists(os.path.join(d, "RPM-GPG-KEY-repo")),
          os.listdir(d))


# ---------------------------------------------------------------------------
# 6. verify

def verify(*args):
    p = slipway("verify", *args)
    return p, p.stdout + p.stderr


def test_verify():
    pubA, pubB = KEYS["A"][1], KEYS["B"][1]
    good = mkdir("verify", "good")
    copy_rpms(os.path.join(PROJ_REPO, "Packages"), os.path.join(good, "Packages"))
    p = slipway("repo", "--key", KEYS["A"][0], good)
    check("verify: setup repo", p.returncode == 0, show(p))
    p, out = verify("--key", pubA, good)
    check("verify: good signed repo: exit 0", p.returncode == 0 and "FAILED" not in out, show(p))
    p, out = verify("--key", KEYS["A"][0], good)
    check("verify: the secret key works as well", p.returncode == 0, show(p))
    p, out = verify("--key", pubA, PROJ_REPO)
    check("verify: project repository: exit 0", p.returncode == 0, show(p))

    def fresh(name):
        d = mkdir("verify", name)
        shutil.rmtree(d)
        shutil.copytree(good, d, copy_function=shutil.copy2)
        return d

    # A package modified after indexing (one payload byte).
    d = fresh("pkg-modified")
    victim = os.path.join(d, "Packages", "applib-1.2-1.noarch.rpm")
    flip(victim, os.path.getsize(victim) - 30)
    p, out = verify("--key", pubA, d)
    check("verify: package modified after indexing: exit 1 naming it",
          p.returncode == 1 and re.search(r"applib-1\.2-1\.noarch\.rpm: FAILED", out) is not None, show(p))
    check("verify: only the modified package fails", "app-1.0-1" not in "".join(
        l for l in out.splitlines() if "FAILED" in l), show(p))

    # A package replaced by another valid, signed build: only the primary checksum tells.
    d = fresh("pkg-replaced")
    victim = os.path.join(d, "Packages", "app-1.0-1.noarch.rpm")
    # (a signature time after the key's creation, so that it is not clamped to it)
    p = slipway("sign", "--key", KEYS["A"][0], victim, env={"SOURCE_DATE_EPOCH": str(int(time.time()) + 3600)})
    check("verify: re-signed package differs", p.returncode == 0 and read(victim) != read(
        os.path.join(good, "Packages", "app-1.0-1.noarch.rpm")), show(p))
    p, out = verify("--key", pubA, victim)
    check("verify: the replacement on its own is fine", p.returncode == 0, show(p))
    p, out = verify("--key", pubA, d)
    check("verify: package replaced after indexing: exit 1 naming it",
          p.returncode == 1 and re.search(r"app-1\.0-1\.noarch\.rpm: FAILED", out) is not None, show(p))

    # A listed package missing.
    d = fresh("pkg-missing")
    os.remove(os.path.join(d, "Packages", "extras-3.1-2.noarch.rpm"))
    p, out = verify("--key", pubA, d)
    check("verify: missing package: exit 1 naming it", p.returncode == 1 and "extras-3.1-2.noarch.rpm" in out,
          show(p))

    # repomd.xml changed.
    d = fresh("repomd-changed")
    md = os.path.join(d, "repodata", "repomd.xml")
    write(md, read(md).decode().replace(f"<revision>{SDE}</revision>", f"<revision>{SDE + 1}</revision>"))
    p, out = verify("--key", pubA, d)
    check("verify: repomd.xml changed: exit 1", p.returncode == 1 and "repomd.xml" in out, show(p))

    # A metadata file changed (its repomd checksum no longer matches).
    d = fresh("primary-changed")
    recs, _ = repomd(d)
    prim = os.path.join(d, recs["primary"]["href"])
    with open(prim, "ab") as f:
        f.write(b"\0")
    p, out = verify("--key", pubA, d)
    check("verify: primary changed: exit 1 naming it",
          p.returncode == 1 and os.path.basename(prim) in out, show(p))

    # repomd.xml.asc removed: unsigned.
    d = fresh("asc-removed")
    os.remove(os.path.join(d, "repodata", "repomd.xml.asc"))
    p, out = verify("--key", pubA, d)
    check("verify: repomd.xml.asc removed: exit 1", p.returncode == 1, show(p))

    # Unsigned repository.
    d = mkdir("verify", "unsigned")
    copy_rpms(os.path.join(PROJ_REPO, "Packages"), os.path.join(d, "Packages"))
    p = slipway("repo", d)
    check("verify: unsigned repo written", p.returncode == 0 and not os.path.exists(
        os.path.join(d, "repodata", "repomd.xml.asc")), show(p))
    p, out = verify("--key", pubA, d)
    check("verify: unsigned repo: exit 1", p.returncode == 1 and "repomd.xml" in out, show(p))
    p, out = verify("--key", pubA, "--allow-unsigned", d)
    check("verify: unsigned repo with --allow-unsigned: exit 0", p.returncode == 0, show(p))
    # Unsigned packages in an unsigned repository.
    d2 = mkdir("verify", "unsigned-pkgs")
    shutil.copy2(SPEC_RPMS["tiny"], d2)
    p = slipway("repo", d2)
    p, out = verify("--key", pubA, d2)
    check("verify: unsigned packages: exit 1", p.returncode == 1 and "tiny-0.1-1.el9.noarch.rpm" in out, show(p))
    p, out = verify("--key", pubA, "--allow-unsigned", d2)
    check("verify: unsigned packages with --allow-unsigned: exit 0", p.returncode == 0, show(p))

    # One flipped payload byte in an RPM.
    f = os.path.join(BASE, "verify", "flipped.rpm")
    shutil.copyfile(os.path.join(good, "Packages", "app-1.0-1.noarch.rpm"), f)
    _, _, _, payload = header_layout(read(f))
    flip(f, payload + (os.path.getsize(f) - payload) // 2)
    p, out = verify("--key", pubA, f)
    check("verify: flipped payload byte: exit 1 naming the payload digest",
          p.returncode == 1 and "flipped.rpm" in out and re.search(r"payload[^\n]*digest", out, re.I) is not None,
          show(p))
    p, out = verify("--key", pubA, "--allow-unsigned", f)
    check("verify: flipped payload byte: --allow-unsigned does not help", p.returncode == 1, show(p))

    # A changed header (one byte of a string in the header data store).
    f = os.path.join(BASE, "verify", "header.rpm")
    b = bytearray(read(os.path.join(good, "Packages", "app-1.0-1.noarch.rpm")))
    start, hil, hdl, payload = header_layout(bytes(b))
    i = b.index(b"The application", start + 16 + 16 * hil)
    b[i] ^= 0x20
    with open(f, "wb") as fh:
        fh.write(b)
    p, out = verify("--key", pubA, f)
    check("verify: changed header byte: exit 1 naming the header", p.returncode == 1 and "header.rpm" in out and
          re.search(r"header|signature", out.split("header.rpm", 1)[-1], re.I) is not None, show(p))

    # A gzip repository.
    d = mkdir("verify", "gzip")
    copy_rpms(os.path.join(PROJ_REPO, "Packages"), os.path.join(d, "Packages"))
    p = slipway("repo", "--compress", "gzip", "--key", KEYS["A"][0], d)
    p, out = verify("--key", pubA, d)
    check("verify: gzip repository: exit 0", p.returncode == 0, show(p))

    # --allow-unsigned accepts no signature, not a bad one.
    d = fresh("repomd-changed-allow")
    md = os.path.join(d, "repodata", "repomd.xml")
    write(md, read(md).decode().replace(f"<revision>{SDE}</revision>", f"<revision>{SDE + 1}</revision>"))
    p, out = verify("--key", pubA, "--allow-unsigned", d)
    check("verify: repomd.xml changed, --allow-unsigned: still exit 1", p.returncode == 1 and "repomd.xml" in out,
          show(p))

    # Another key.
    p, out = verify("--key", pubB, good)
    check("verify: another key: exit 1", p.returncode == 1 and "repomd.xml" in out, show(p))
    p, out = verify("--key", pubB, os.path.join(good, "Packages", "app-1.0-1.noarch.rpm"))
    check("verify: another key on a package: exit 1", p.returncode == 1, show(p))
    p, out = verify("--key", pubB, "--allow-unsigned", good)
    check("verify: another key with --allow-unsigned: still exit 1", p.returncode == 1, show(p))


# ---------------------------------------------------------------------------
# 7. slipway package with a [signing] key

def test_package():
    pk = os.path.join(PROJ_REPO, "Packages")
    db = mkdir("rpmdb", "package")
    tool("rpmkeys", "--dbpath", db, "--import", KEYS["A"][1], check_rc=True)
    for f in rpms_in(pk):
        p = tool("rpmkeys", "--dbpath", db, "-Kv", os.path.join(pk, f))
        check(f"package: rpmkeys -Kv {f}", p.returncode == 0 and re.search(r"Header V4 \S+ Signature, key ID [0-9a-f]+: OK",
              p.stdout) is not None and "NOT OK" not in p.stdout and "BAD" not in p.stdout, show(p))
    p = slipway("verify", "--key", KEYS["A"][1], PROJ_REPO)
    check("package: slipway verify OUT/repo", p.returncode == 0, show(p))
    md = os.path.join(PROJ_REPO, "repodata")
    check("package: repomd.xml.asc and RPM-GPG-KEY-repotest", os.path.isfile(os.path.join(md, "repomd.xml.asc")) and
          os.path.isfile(os.path.join(PROJ_REPO, "RPM-GPG-KEY-repotest")), sorted(os.listdir(PROJ_REPO)))
    check("package: RPM-GPG-KEY-repotest is the public key",
          read(os.path.join(PROJ_REPO, "RPM-GPG-KEY-repotest")) == read(KEYS["A"][1]), "differs")
    check("package: primary lists the three RPMs",
          primary_hrefs(PROJ_REPO) == [f"Packages/{f}" for f in rpms_in(pk)], primary_hrefs(PROJ_REPO))

    before = tree_state(md)
    rpms_before = tree_state(pk)
    time.sleep(0.02)
    p = slipway("-C", PROJ, "package")
    check("package: second run", p.returncode == 0, show(p))
    check("package: second run leaves repodata untouched", tree_state(md) == before, "changed")
    check("package: second run leaves the RPMs untouched", tree_state(pk) == rpms_before, "changed")
    p, j = slipway_json("-C", PROJ, "repo")
    check("package: then `slipway --json repo`: nothing changed", p.returncode == 0 and j and j["changed"] is False
          and j["read"] == 0 and j["signed"] is True and j["packages"] == 3, show(p))
    p = slipway("-C", PROJ, "repo")
    check("package: then `slipway repo` says nothing changed", p.returncode == 0 and "nothing changed" in p.stderr,
          show(p))
    check("package: repodata still untouched", tree_state(md) == before, "changed")


# ---------------------------------------------------------------------------
# 8. The project's repository holds what the project built, nothing else

def test_foreign_packages():
    proj = mkdir("foreign", "proj")
    shutil.rmtree(proj)
    shutil.copytree(PROJ, proj, symlinks=True)
    repo = os.path.join(proj, "out", "repo")
    pk = os.path.join(repo, "Packages")
    p = slipway("-C", proj, "repo")
    check("foreign: the project's repository as built: exit 0", p.returncode == 0, show(p))
    md = os.path.join(repo, "repodata")
    before = tree_bytes(md)
    ours = rpms_in(pk)

    # An unsigned RPM, and one signed by another key, dropped in.
    unsigned = os.path.join(pk, os.path.basename(SPEC_RPMS["tiny"]))
    shutil.copy2(SPEC_RPMS["tiny"], unsigned)
    other = os.path.join(pk, "sub", "other-1-1.noarch.rpm")
    os.makedirs(os.path.dirname(other))
    shutil.copy2(SPEC_RPMS["empty"], other)
    p = slipway("sign", "--key", KEYS["B"][0], other)
    check("foreign: an RPM signed with B", p.returncode == 0, show(p))
    for verb in ["repo", "package"]:
        p = slipway("-C", proj, verb)
        check(f"foreign: `slipway {verb}`: exit 1, each foreign file named as not built by the project",
              p.returncode == 1 and all(f"{f}: error: not built by this project" in p.stderr for f in [unsigned, other])
              and "--prune" in p.stderr, show(p))
        check(f"foreign: `slipway {verb}`: the signed metadata is left as it was", tree_bytes(md) == before,
              "changed")
    p = slipway("--json", "-C", proj, "build")
    check("foreign: `slipway build`: exit 1 before any image", p.returncode == 1 and
          f"{unsigned}: error: not built by this project" in p.stderr, show(p))

    # One of the project's own packages changed since the build (re-signed with B).
    mine = os.path.join(pk, ours[0])
    p = slipway("sign", "--key", KEYS["B"][0], mine)
    check("foreign: the project's own RPM re-signed with B", p.returncode == 0, show(p))
    p = slipway("-C", proj, "repo")
    check("foreign: a changed package is named too", p.returncode == 1 and
          f"{mine}: error: changed since the project built it" in p.stderr, show(p))

    # `slipway verify` of the repository names the files its metadata does not list.
    p, out = verify("--key", KEYS["A"][1], repo)
    check("foreign: slipway verify names each unlisted RPM", p.returncode == 1 and
          f"{unsigned}: FAILED: not listed in the repository metadata" in out and
          f"{other}: FAILED: not listed in the repository metadata" in out, show(p))

    p = slipway("repo", "--prune", repo)
    check("foreign: --prune with DIR: a usage error", p.returncode == 2 and "--prune" in p.stderr, show(p))

    # --prune: the foreign files and the changed one are removed, and said so.
    p, j = slipway_json("-C", proj, "repo", "--prune")
    check("foreign: `slipway repo --prune`: exit 0, three pruned, each named", p.returncode == 0 and j and
          j["pruned"] == 3 and j["packages"] == len(ours) - 1 and
          all(f"{f}: note: removed: " in p.stderr for f in [unsigned, other, mine]), show(p))
    check("foreign: --prune: the files are gone", not any(os.path.exists(f) for f in [unsigned, other, mine]),
          rpms_in(pk))
    p, _ = verify("--key", KEYS["A"][1], repo)
    check("foreign: after --prune the repository verifies", p.returncode == 0, show(p))
    # The build makes the removed package again; all is as built.
    p = slipway("-C", proj, "package")
    check("foreign: then `slipway package` rebuilds what was removed", p.returncode == 0 and
          sorted(rpms_in(pk)) == sorted(ours), show(p))
    p, _ = verify("--key", KEYS["A"][1], repo)
    check("foreign: and the repository verifies", p.returncode == 0, show(p))


# ---------------------------------------------------------------------------

def kill_agents():
    homes = list(GNUPGHOMES)
    for r in INSTALLROOTS:
        homes += glob.glob(os.path.join(r, "var", "cache", "dnf", "*", "pubring"))
        homes += glob.glob(os.path.join(r, "var", "lib", "dnf", "*", "pubring"))
    for h in homes:
        subprocess.run(["gpgconf", "--homedir", h, "--kill", "gpg-agent"], capture_output=True, timeout=30)


start = time.monotonic()
try:
    try:
        ready = setup()
    except Exception as e:
        import traceback
        ready = check("setup", False, f"exception: {e!r}\n{traceback.format_exc()[-1500:]}")
    if ready:
        for t in [test_equivalence, test_equivalence_encoding, test_gpg, test_dnf, test_incremental,
                  test_state_changes, test_bad_input, test_verify, test_package, test_foreign_packages]:
            t0 = time.monotonic()
            run_test(t)
            timed(t.__name__, t0)
finally:
    kill_agents()
    shutil.rmtree(BASE, ignore_errors=True)

finish("repo", f" ({time.monotonic() - start:.1f}s)")
