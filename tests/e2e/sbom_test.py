#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The SBOM of an image (OUT/images/NAME.spdx.json) and `slipway inspect
--sbom`: validated against the official SPDX 2.3 JSON schema
(tests/data/spdx-2.3-schema.json) with python3-jsonschema, and checked
against rpm itself run on the image's rpm database: the same packages as
`rpm -qa`, their licenses, sources, epochs, the dependencies rpm resolves
(--whatprovides), the files and their SHA-256 against the image's files,
the package files' SHA-256 against the repository. Also: the same bytes on
two builds, sbom = "none", publication with the other outputs (all or
none), a bad value named with file:line:column.

Usage: sbom_test.py SLIPWAY SOURCE_ROOT"""
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import check, finish, read, run_test, show, write

SLIPWAY, ROOT = os.path.abspath(sys.argv[1]), sys.argv[2]

for needed in ["rpm", "zstd", "tar"]:
    if not shutil.which(needed):
        print(f"SKIP: {needed} missing")
        sys.exit(77)
try:
    import jsonschema
except ImportError:
    print("SKIP: python3-jsonschema missing")
    sys.exit(77)

SDE = 1700000000
BASE = tempfile.mkdtemp(prefix="slipway-sbom-test-")
SCHEMA = json.load(open(os.path.join(ROOT, "tests", "data", "spdx-2.3-schema.json")))
DBPATH = "/usr/lib/sysimage/rpm"

PROJECT = f"""[project]
name = "sbomdemo"
version = "2.1"
vendor = "Example Corp"
source-date-epoch = {SDE}

[components.base]
version = "1.0"
summary = "base files"
license = "MIT"
arch = "noarch"
provides = ["base-layout"]

[[components.base.files]]
source = "files/hello"
path = "/usr/share/base/hello"

[[components.base.files]]
source = "files/tool"
path = "/usr/bin/basetool"
mode = "0755"

[components.tools]
epoch = 2
version = "3.1"
summary = "tools"
license = "GPLv2+ and BSD"
arch = "x86_64"
requires = ["base-layout", "/usr/bin/basetool"]
url = "https://example.org/tools"

[[components.tools.files]]
source = "files/tool"
path = "/usr/bin/tool"
mode = "0755"

[[components.tools.files]]
source = "files/big"
path = "/usr/share/tools/big.dat"

[components.lib]
version = "0.9"
summary = "a lib"
license = "(MIT OR Apache-2.0) AND LGPL-2.1-or-later WITH LLVM-exception"
arch = "noarch"
requires = ["tools >= 2:3"]

[[components.lib.files]]
source = "files/hello"
path = "/usr/share/lib/data"

[components.loner]
version = "5"
summary = "needs nothing"
license = "BSD"
arch = "noarch"

[[components.loner.files]]
source = "files/hello"
path = "/usr/share/loner/hello"

[images.x]
formats = ["tar", "oci", "raw"]
packages = ["lib"]
boot = "none"
sbom = "files"

[images.plain]
formats = ["tar", "cpio"]
packages = ["lib", "loner"]

[images.nosbom]
formats = ["tar"]
packages = ["loner"]
sbom = "none"
"""


def slipway(*args, env=None, timeout=300):
    e = dict(os.environ, LC_ALL="C")
    e.pop("SOURCE_DATE_EPOCH", None)
    e.pop("SLIPWAY_TEST_FAIL_FORMAT", None)
    e.update(env or {})
    return subprocess.run([SLIPWAY, *args], capture_output=True, text=True, env=e, timeout=timeout)


def tool(*args, **kw):
    return subprocess.run(list(args), capture_output=True, text=True, env=dict(os.environ, LC_ALL="C"),
                          timeout=120, **kw)


def make_project(name, toml):
    d = os.path.join(BASE, name)
    write(os.path.join(d, "slipway.toml"), toml)
    write(os.path.join(d, "files", "hello"), "hello\n")
    write(os.path.join(d, "files", "tool"), "#!/bin/sh\necho tool\n")
    write(os.path.join(d, "files", "big"), "".join(f"line {i}\n" for i in range(20000)))
    return d


def validate(label, doc):
    """Schema validation (formats too: date-time, uri where a checker exists)."""
    v = jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    errors = sorted(v.iter_errors(doc), key=lambda e: list(e.path))
    return check(f"{label}: valid SPDX 2.3 (JSON schema)", not errors,
                 "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10]))


def rpm_packages(doc):
    """{SPDXID: package} of the document's RPM packages (not the image)."""
    return {p["SPDXID"]: p for p in doc["packages"] if p["SPDXID"] != "SPDXRef-Image"}


def purl_of(p):
    return next(r["referenceLocator"] for r in p.get("externalRefs", []) if r["referenceType"] == "purl")


def arch_of(p):
    m = re.search(r"[?&]arch=([^&]+)", purl_of(p))
    return m.group(1) if m else None


def package_set(doc):
    return sorted(f"{p['name']}-{p['versionInfo']}.{arch_of(p)}" for p in rpm_packages(doc).values())


def extract_root(tarball, dest):
    """The image's rpm database and files, from its tar (as a user can, without root)."""
    os.makedirs(dest)
    p = tool("tar", "--zstd", "-xf", tarball, "-C", dest, "--no-same-owner", "--no-same-permissions")
    return p


def rpmq(root, *args):
    return tool("rpm", "--root", root, "--dbpath", DBPATH, *args)


PROJ = None
DOC = None
ROOTDIR = None


def setup():
    global PROJ, DOC, ROOTDIR
    PROJ = make_project("demo", PROJECT)
    p = slipway("-C", PROJ, "package")
    if not check("setup: slipway package", p.returncode == 0, show(p)):
        return False
    p = slipway("-C", PROJ, "--json", "image")
    if not check("setup: slipway image", p.returncode == 0, show(p)):
        return False
    outs = {i["name"]: i["outputs"] for i in json.loads(p.stdout)["images"]}
    sb = [o for o in outs["x"] if o["format"] == "sbom"]
    check("image --json lists the SBOM among x's outputs",
          len(sb) == 1 and sb[0]["path"].endswith("/x.spdx.json") and sb[0]["size"] > 0, outs["x"])
    DOC = json.load(open(os.path.join(PROJ, "out", "images", "x.spdx.json")))
    ROOTDIR = os.path.join(BASE, "root-x")
    q = extract_root(os.path.join(PROJ, "out", "images", "x.tar.zst"), ROOTDIR)
    return check("setup: extract x.tar.zst", q.returncode == 0, show(q))


def test_schema_and_document():
    validate("x.spdx.json", DOC)
    check("spdxVersion SPDX-2.3, dataLicense CC0-1.0, SPDXRef-DOCUMENT",
          (DOC["spdxVersion"], DOC["dataLicense"], DOC["SPDXID"]) == ("SPDX-2.3", "CC0-1.0", "SPDXRef-DOCUMENT"))
    check("created = SOURCE_DATE_EPOCH in UTC", DOC["creationInfo"]["created"] == "2023-11-14T22:13:20Z",
          DOC["creationInfo"])
    check("creator is slipway", re.fullmatch(r"Tool: slipway-\S+", DOC["creationInfo"]["creators"][0]) is not None,
          DOC["creationInfo"])
    check("documentNamespace from project, version, image and the package set",
          re.fullmatch(r"https://slipway\.invalid/spdx/sbomdemo/2\.1/x-[0-9a-f]{64}", DOC["documentNamespace"])
          is not None, DOC["documentNamespace"])
    rels = DOC["relationships"]
    check("DOCUMENT DESCRIBES the image", {"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                                           "relatedSpdxElement": "SPDXRef-Image"} in rels)
    contained = sorted(r["relatedSpdxElement"] for r in rels
                       if r["spdxElementId"] == "SPDXRef-Image" and r["relationshipType"] == "CONTAINS")
    check("the image CONTAINS every package", contained == sorted(rpm_packages(DOC)), contained)
    ids = [p["SPDXID"] for p in DOC["packages"]] + [f["SPDXID"] for f in DOC.get("files", [])]
    check("SPDX ids unique", len(ids) == len(set(ids)))
    check("packages sorted by NEVRA", [p["SPDXID"] for p in DOC["packages"][1:]] ==
          sorted(p["SPDXID"] for p in DOC["packages"][1:]))


def test_rpm_agrees():
    q = rpmq(ROOTDIR, "-qa", "--qf", "%{NAME}-%{EVR}.%{ARCH}\n")
    want = sorted(q.stdout.split())
    check("rpm -qa on the image", q.returncode == 0 and len(want) == 3, show(q))
    check("SBOM packages == rpm -qa", package_set(DOC) == want, f"{package_set(DOC)} vs {want}")
    pk = {p["name"]: p for p in rpm_packages(DOC).values()}
    for name in want:
        n = name.split("-")[0]
        q = rpmq(ROOTDIR, "-q", "--qf", "%{LICENSE}|%{SOURCERPM}|%{VENDOR}|%{VERSION}-%{RELEASE}|%{ARCH}", n)
        lic, srpm, vendor, vr, arch = q.stdout.split("|")
        p = pk[n]
        if p["licenseDeclared"].startswith("LicenseRef-"):
            info = {i["licenseId"]: i for i in DOC.get("hasExtractedLicensingInfos", [])}.get(p["licenseDeclared"])
            check(f"{n}: License tag kept as LicenseRef with its text", info and info["extractedText"] == lic, info)
        else:
            check(f"{n}: licenseDeclared is the License tag", p["licenseDeclared"] == lic, (p["licenseDeclared"], lic))
        check(f"{n}: sourceInfo names the source RPM", srpm in p.get("sourceInfo", ""), (p.get("sourceInfo"), srpm))
        check(f"{n}: supplier from Vendor", p["supplier"] == f"Organization: {vendor}", p["supplier"])
        check(f"{n}: purl", purl_of(p).startswith(f"pkg:rpm/example%20corp/{n}@{vr}?arch={arch}&distro="),
              purl_of(p))
        rpmfile = os.path.join(PROJ, "out", "repo", "Packages", f"{n}-{vr}.{arch}.rpm")
        digest = hashlib.sha256(read(rpmfile)).hexdigest()
        check(f"{n}: checksum is the package file's SHA-256",
              p.get("checksums") == [{"algorithm": "SHA256", "checksumValue": digest}], p.get("checksums"))
        q = rpmq(ROOTDIR, "-q", "--qf", "%{SHA256HEADER}", n)
        refs = {r["referenceType"]: r["referenceLocator"] for r in p["externalRefs"]}
        check(f"{n}: header SHA-256 as rpm has it", refs.get("rpm-header-sha256") == q.stdout, (refs, q.stdout))
    check("tools: versionInfo carries the epoch as rpm writes it", pk["tools"]["versionInfo"] == "2:3.1-1",
          pk["tools"]["versionInfo"])
    check("tools: purl epoch qualifier", purl_of(pk["tools"]).endswith("&epoch=2"), purl_of(pk["tools"]))
    check("GPLv2+ and BSD is not taken for an SPDX expression",
          pk["tools"]["licenseDeclared"].startswith("LicenseRef-"), pk["tools"]["licenseDeclared"])
    check("an SPDX expression is kept as it is",
          pk["lib"]["licenseDeclared"] == "(MIT OR Apache-2.0) AND LGPL-2.1-or-later WITH LLVM-exception",
          pk["lib"]["licenseDeclared"])

    # DEPENDS_ON: what rpm says provides each package's requirements.
    by_nevra = {f"{p['name']}-{p['versionInfo']}.{arch_of(p)}": p["SPDXID"] for p in rpm_packages(DOC).values()}
    want_deps = set()
    for nevra in by_nevra:
        n = nevra.split("-")[0]
        q = rpmq(ROOTDIR, "-q", "--requires", n)
        for req in q.stdout.splitlines():
            cap = req.split(" ")[0]
            if cap.startswith("rpmlib("):
                continue
            w = rpmq(ROOTDIR, "-q", "--whatprovides", cap, "--qf", "%{NAME}-%{EVR}.%{ARCH}\n")
            for prov in w.stdout.split() if w.returncode == 0 else []:
                if prov != nevra:
                    want_deps.add((by_nevra[nevra], by_nevra[prov]))
    got_deps = {(r["spdxElementId"], r["relatedSpdxElement"]) for r in DOC["relationships"]
                if r["relationshipType"] == "DEPENDS_ON"}
    check("DEPENDS_ON == rpm --requires resolved by --whatprovides", got_deps == want_deps and len(want_deps) == 2,
          f"{sorted(got_deps)} vs {sorted(want_deps)}")


def test_files():
    files = {f["SPDXID"]: f for f in DOC.get("files", [])}
    tools_id = next(p["SPDXID"] for p in rpm_packages(DOC).values() if p["name"] == "tools")
    listed = sorted(files[r["relatedSpdxElement"]]["fileName"] for r in DOC["relationships"]
                    if r["spdxElementId"] == tools_id and r["relationshipType"] == "CONTAINS")
    q = rpmq(ROOTDIR, "-ql", "tools")
    want = sorted("." + f for f in q.stdout.split() if os.path.isfile(os.path.join(ROOTDIR, f.lstrip("/"))))
    check("sbom = files: tools' files == rpm -ql (regular files)", listed == want and len(want) == 2,
          f"{listed} vs {want}")
    ok = True
    for f in files.values():
        data = read(os.path.join(ROOTDIR, f["fileName"][2:]))
        if f["checksums"] != [{"algorithm": "SHA256", "checksumValue": hashlib.sha256(data).hexdigest()}]:
            ok = check(f"file {f['fileName']}: SHA-256 of the image's file", False, f["checksums"])
    check("every listed file's SHA-256 is that of the file in the image", ok and len(files) == 5, len(files))


LICENSE_IDS = "/usr/share/nodejs/spdx-license-ids"  # Debian's node-spdx-license-ids
EXCEPTION_IDS = "/usr/share/nodejs/spdx-exceptions/index.json"  # node-spdx-exceptions


def test_license_list():
    """Every identifier slipway takes for an SPDX license is on the SPDX list."""
    if not os.path.isdir(LICENSE_IDS) or not os.path.isfile(EXCEPTION_IDS):
        print("skip the license list checks: node-spdx-license-ids or node-spdx-exceptions missing")
        return
    ids = set(json.load(open(os.path.join(LICENSE_IDS, "index.json"))))
    ids |= set(json.load(open(os.path.join(LICENSE_IDS, "deprecated.json"))))
    exceptions = set(json.load(open(EXCEPTION_IDS)))
    src = open(os.path.join(ROOT, "src", "compose", "spdx.c")).read()
    block = src[src.index("plain_ids[] = {"):]
    plain = re.findall(r'"([^"]+)"', block[:block.index("};")])
    check("spdx.c's hyphen-less identifiers are all on the SPDX list", plain and set(plain) <= ids,
          sorted(set(plain) - ids))
    check("spdx.c has every hyphen-less identifier of the list", set(plain) == {i for i in ids if "-" not in i},
          sorted({i for i in ids if "-" not in i} - set(plain)))
    words = []
    for p in rpm_packages(DOC).values():
        for w in re.split(r"[\s()]+", p["licenseDeclared"]):
            if w and w not in ("AND", "OR", "WITH") and not w.startswith("LicenseRef-"):
                words.append(w.rstrip("+"))
    check("every licenseDeclared identifier is an SPDX license or exception",
          words and all(w in ids or w in exceptions for w in words), words)


def test_other_images():
    images = os.path.join(PROJ, "out", "images")
    plain = json.load(open(os.path.join(images, "plain.spdx.json")))
    validate("plain.spdx.json (tar, cpio; default sbom)", plain)
    check("default sbom = packages: no files", "files" not in plain and
          all(not p.get("filesAnalyzed") for p in plain["packages"]))
    check("plain: four packages", len(rpm_packages(plain)) == 4, package_set(plain))
    check("sbom = none: no nosbom.spdx.json", not os.path.exists(os.path.join(images, "nosbom.spdx.json")) and
          os.path.exists(os.path.join(images, "nosbom.tar.zst")), sorted(os.listdir(images)))


def test_reproducible():
    out2 = os.path.join(BASE, "out2")
    shutil.copytree(os.path.join(PROJ, "out", "repo"), os.path.join(out2, "repo"))
    p = slipway("-C", PROJ, "--out", out2, "image", "x", "plain")
    if not check("second build into another output directory", p.returncode == 0, show(p)):
        return
    for name in ["x", "plain"]:
        a = read(os.path.join(PROJ, "out", "images", f"{name}.spdx.json"))
        b = read(os.path.join(out2, "images", f"{name}.spdx.json"))
        check(f"{name}.spdx.json: the same bytes on two builds", a == b)


def test_inspect():
    images = os.path.join(PROJ, "out", "images")
    env = {"SOURCE_DATE_EPOCH": str(SDE)}
    docs = {}
    for f in ["x.raw", "x.tar.zst", "x.oci", "x.oci.tar", "plain.cpio.zst"]:
        p = slipway("inspect", "--sbom=files", os.path.join(images, f), env=env)
        if not check(f"inspect --sbom=files {f}: exit 0", p.returncode == 0, show(p)):
            continue
        docs[f] = d = json.loads(p.stdout)
        validate(f"inspect --sbom {f}", d)
        if f.startswith("x."):
            check(f"inspect --sbom {f}: the build's packages", package_set(d) == package_set(DOC),
                  f"{package_set(d)} vs {package_set(DOC)}")
            check(f"inspect --sbom {f}: the build's files",
                  sorted((x["fileName"], x["checksums"][0]["checksumValue"]) for x in d["files"]) ==
                  sorted((x["fileName"], x["checksums"][0]["checksumValue"]) for x in DOC["files"]))
            check(f"inspect --sbom {f}: the build's relationships",
                  sorted(map(json.dumps, d["relationships"])) == sorted(map(json.dumps, DOC["relationships"])))
            # What only a build knows: the package file's digest and the distro.
            strip = lambda doc: [{k: v for k, v in p.items() if k not in ("checksums", "externalRefs", "versionInfo")}
                                 for p in doc["packages"]]
            check(f"inspect --sbom {f}: packages as the build's but for the file digest", strip(d) == strip(DOC))
    xs = [read_bytes for read_bytes in (json.dumps(docs.get(f), sort_keys=True) for f in
                                        ["x.raw", "x.tar.zst", "x.oci", "x.oci.tar"])]
    check("inspect --sbom: the same document from every format of x", len(set(xs)) == 1)
    if "plain.cpio.zst" in docs:
        plain = json.load(open(os.path.join(images, "plain.spdx.json")))
        check("inspect --sbom plain.cpio.zst: the build's packages",
              package_set(docs["plain.cpio.zst"]) == package_set(plain))
    p1 = slipway("inspect", "--sbom", os.path.join(images, "x.raw"), env=env)
    p2 = slipway("inspect", "--sbom", os.path.join(images, "x.raw"), env=env)
    check("inspect --sbom: the same bytes twice", p1.returncode == 0 and p1.stdout == p2.stdout, show(p1))
    check("inspect --sbom (packages): no files", p1.returncode == 0 and "files" not in json.loads(p1.stdout))
    rpm = os.path.join(PROJ, "out", "repo", "Packages", "loner-5-1.noarch.rpm")
    p = slipway("inspect", "--sbom", rpm)
    check("inspect --sbom on an RPM (no rpm database): exit 1, named",
          p.returncode == 1 and "no rpm database" in p.stderr and p.stdout == "", show(p))
    p = slipway("inspect", "--sbom=none", os.path.join(images, "x.raw"))
    check("inspect --sbom=none: a usage error", p.returncode == 2 and "--sbom" in p.stderr, show(p))
    p = slipway("repo", "--sbom", os.path.join(PROJ, "out", "repo"))
    check("--sbom on another verb: a usage error", p.returncode == 2 and "--sbom" in p.stderr, show(p))


def test_all_or_none():
    """A failing format leaves no new SBOM and the earlier one as it was."""
    images = os.path.join(PROJ, "out", "images")
    before = read(os.path.join(images, "x.spdx.json"))
    os.utime(os.path.join(images, "x.spdx.json"), (1, 1))
    p = slipway("-C", PROJ, "image", "x", env={"SLIPWAY_TEST_FAIL_FORMAT": "raw"})
    check("injected raw failure: exit 1", p.returncode == 1, show(p))
    check("the SBOM is not replaced when a format fails", read(os.path.join(images, "x.spdx.json")) == before and
          os.stat(os.path.join(images, "x.spdx.json")).st_mtime == 1)
    check("no temporary file is left", sorted(f for f in os.listdir(images) if f.startswith("x.")) ==
          ["x.oci", "x.oci.tar", "x.raw", "x.spdx.json", "x.tar.zst"], sorted(os.listdir(images)))
    d = make_project("fresh", PROJECT)
    shutil.copytree(os.path.join(PROJ, "out", "repo"), os.path.join(d, "out", "repo"))
    p = slipway("-C", d, "image", "x", env={"SLIPWAY_TEST_FAIL_FORMAT": "tar"})
    check("a first build that fails writes no SBOM", p.returncode == 1 and
          not os.path.exists(os.path.join(d, "out", "images", "x.spdx.json")), show(p))


def test_bad_value():
    toml = PROJECT.replace('sbom = "files"', 'sbom = "everything"')
    d = make_project("bad", toml)
    line = next(i for i, l in enumerate(toml.splitlines(), 1) if l.startswith("sbom = \"everything\""))
    for verb in ["check", "image"]:
        p = slipway("-C", d, verb)
        check(f"sbom = \"everything\": {verb} exits 1 naming slipway.toml:{line}:8",
              p.returncode == 1 and f"slipway.toml:{line}:8" in p.stderr and "sbom" in p.stderr, show(p))
    check("nothing written", not os.path.exists(os.path.join(d, "out", "images")))
    d = make_project("badtype", PROJECT.replace('sbom = "files"', 'sbom = true'))
    p = slipway("-C", d, "check")
    check("sbom = true: exit 1, file:line:column", p.returncode == 1 and re.search(r"slipway\.toml:\d+:\d+", p.stderr)
          is not None, show(p))


if setup():
    for t in [test_schema_and_document, test_rpm_agrees, test_files, test_license_list, test_other_images, test_reproducible,
              test_inspect, test_all_or_none, test_bad_value]:
        run_test(t)
shutil.rmtree(BASE, ignore_errors=True)
finish("sbom")
