#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`--json` on every verb: standard output is exactly one JSON
document, an object with the verb's fields, whatever the exit status;
progress and messages go to standard error, also with -v and -q. A failure
(exit 1, or 2 for a usage error) prints the verb's partial result, or {},
with "errors": a non-empty list of {"file", "line", "column", "message"}
naming what standard error names (docs/cli.md).

One small signed project (a native component, a tar image) goes through
keygen, init, check, toml-json, package, sign, repo, verify, image, build
and inspect. Usage: json_test.py SLIPWAY SOURCE_ROOT"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import check, finish, run_test, show, write

SLIPWAY = os.path.abspath(sys.argv[1])
SDE = 1700000000
BASE = tempfile.mkdtemp(prefix="slipway-json-test-")
TMPDIR = os.path.join(BASE, "tmp")
os.makedirs(TMPDIR)
PROJ = os.path.join(BASE, "proj")
KEY = os.path.join(PROJ, "keys", "release")
ERROR_FIELDS = {"file", "line", "column", "message"}


def slipway(*args, stdin=None, timeout=300):
    e = dict(os.environ, LC_ALL="C", TMPDIR=TMPDIR, SOURCE_DATE_EPOCH=str(SDE))
    return subprocess.run([SLIPWAY, *args], input=stdin, capture_output=True, text=True, env=e, timeout=timeout)


def document(name, p):
    """stdout as the one JSON document it must be (an object), or None."""
    try:
        doc = json.loads(p.stdout)  # "Extra data" for anything after the document
    except ValueError as e:
        check(f"{name}: stdout is one JSON document", False, f"{e}\n{show(p)}")
        return None
    check(f"{name}: stdout is one JSON object", isinstance(doc, dict) and p.stdout.startswith("{") and
          p.stdout.endswith("}\n"), show(p))
    return doc if isinstance(doc, dict) else None


def ok_run(name, *args, fields, stdin=None):
    """Runs a verb with --json, as is, with -v and with -q: exit 0, one document
    with fields; returns the first run's (process, document)."""
    first = None
    for extra in [(), ("-v",), ("-q",)]:
        label = f"{name}{' ' + extra[0] if extra else ''}"
        p = slipway("--json", *extra, *args, stdin=stdin)
        if not check(f"{label}: exit 0", p.returncode == 0, show(p)):
            return p, None
        doc = document(label, p)
        if doc is not None:
            missing = [f for f in fields if f not in doc]
            check(f"{label}: has {', '.join(fields)}", not missing, f"missing {missing}: {doc}")
            check(f"{label}: no errors", not doc.get("errors"), doc.get("errors"))
        if first is None:
            first = (p, doc)
        if extra == ("-q",):
            check(f"{label}: stderr quiet", "warning" not in p.stderr, p.stderr)
        if not repeatable(args):
            break
    return first


def repeatable(args):
    """Verbs that write things once (init, keygen) run once."""
    return not any(a in ("init", "keygen") for a in args)


def failed_run(name, *args, status=1, stdin=None, err=None, json_last=False):
    """A failing run with --json (first, or last with json_last): the exit
    status, text diagnostics on stderr, and one document whose "errors" name
    them."""
    p = slipway(*args, "--json", stdin=stdin) if json_last else slipway("--json", *args, stdin=stdin)
    check(f"{name}: exit {status}", p.returncode == status, show(p))
    check(f"{name}: stderr names the error", "error" in p.stderr and (err is None or err in p.stderr), show(p))
    doc = document(name, p)
    if doc is None:
        return None
    errs = doc.get("errors")
    good = isinstance(errs, list) and errs and all(isinstance(e, dict) and set(e) == ERROR_FIELDS for e in errs)
    check(f"{name}: \"errors\" lists the errors", good, doc)
    if good:
        check(f"{name}: each error is on stderr", all(e["message"] in p.stderr for e in errs), show(p))
        if err:
            check(f"{name}: the errors name '{err}'", any(err in f"{e['file']}: {e['message']}" for e in errs), errs)
    return doc


def main_rpm():
    rpms = sorted(glob.glob(os.path.join(PROJ, "out", "repo", "Packages", "*.rpm")))
    return rpms[0] if rpms else None


# ---------------------------------------------------------------------------

def test_keygen():
    os.makedirs(PROJ)
    p, doc = ok_run("keygen", "keygen", "--uid", "Json Test <json@example.com>", "-o", KEY,
                    fields=["secret", "public", "key_id", "algorithm"])
    if doc:
        check("keygen: the files named exist", os.path.isfile(doc["secret"]) and os.path.isfile(doc["public"]), doc)
        check("keygen: message on stderr", doc["key_id"] in p.stderr, show(p))
    failed_run("keygen refuses to overwrite", "keygen", "--uid", "J <j@example.com>", "-o", KEY, err="already exists")
    failed_run("keygen without --uid", "keygen", "-o", os.path.join(BASE, "k2"), status=2, err="--uid")


def test_init():
    d = os.path.join(BASE, "started")
    p, doc = ok_run("init", "init", d, fields=["created", "name", "files"])
    if doc:
        check("init: created and name", doc["created"] == d and doc["name"] == "started", doc)
        check("init: every file listed exists", doc["files"] and
              all(os.path.isfile(os.path.join(d, f)) for f in doc["files"]), doc["files"])
        check("init: message on stderr", "starter project" in p.stderr, show(p))
    failed_run("init over a project", "init", d, err="already exists")


def make_project():
    write(os.path.join(PROJ, "slipway.toml"), f"""[project]
name = "jsonproj"
version = "1.0"
source-date-epoch = {SDE}

[signing]
key = "keys/release.asc"

[components.note]
version = "1.0"
release = "1"
summary = "a note"
license = "MIT"
arch = "noarch"

[[components.note.files]]
source = "files/note"
path = "/usr/share/note"

[images.box]
formats = ["tar"]
packages = ["note"]
""")
    write(os.path.join(PROJ, "files", "note"), "json\n")


def test_check():
    make_project()
    p, doc = ok_run("check", "-C", PROJ, "check",
                    fields=["project", "files", "repos", "components", "images", "warnings", "errors"])
    if doc:
        check("check: the project", doc["project"]["name"] == "jsonproj" and
              [c["name"] for c in doc["components"]] == ["note"] and [i["name"] for i in doc["images"]] == ["box"], doc)
    bad = os.path.join(BASE, "bad")
    write(os.path.join(bad, "slipway.toml"), '[project]\nname = "bad"\nversion = "1"\nbogus = 1\n')
    doc = failed_run("check of a bad project", "-C", bad, "check", err="bogus")
    if doc:
        e = doc["errors"][0]
        check("check failure: file, line and column", e["file"] == os.path.join(bad, "slipway.toml") and e["line"] == 4 and
              e["column"] == 1, e)
        check("check failure: keeps warnings and errors_not_shown", "warnings" in doc and
              doc.get("errors_not_shown") == 0, doc)
        p = slipway("--json", "-C", bad, "check")
        check("check failure: stderr has file:line:column", f"{bad}/slipway.toml:4:1: error:" in p.stderr, show(p))


def test_toml_json():
    p, doc = ok_run("toml-json", "toml-json", os.path.join(PROJ, "slipway.toml"), fields=["project", "components"])
    if doc:
        check("toml-json: tagged values", doc["project"]["name"] == {"type": "string", "value": "jsonproj"},
              doc["project"])
    doc = failed_run("toml-json syntax error", "toml-json", "-", stdin="x = \n", err="expected a value")
    if doc:
        e = doc["errors"][0]
        check("toml-json failure: the place", (e["file"], e["line"], e["column"]) == ("<stdin>", 1, 5), e)
    p = slipway("toml-json", "-", stdin="x = \n")
    check("toml-json failure without --json: stdout empty", p.returncode == 1 and p.stdout == "", show(p))


def test_package():
    p, doc = ok_run("package", "-C", PROJ, "package",
                    fields=["components", "built", "cached", "failed", "skipped", "rpmbuild_runs", "repository"])
    if doc:
        check("package: note built", [(c["name"], c["status"]) for c in doc["components"]] == [("note", "built")], doc)
        check("package: the repository summary", isinstance(doc["repository"], dict) and
              doc["repository"].get("packages") == 1 and doc["repository"].get("signed") is True, doc["repository"])
        check("package: progress on stderr, not stdout", "built    note" in p.stderr and "built " not in p.stdout,
              show(p))
    # The -v and -q runs found it cached: progress still on stderr (not with -q).
    p = slipway("--json", "-v", "-C", PROJ, "package")
    check("package -v: progress on stderr", "cached   note" in p.stderr and "cached " not in p.stdout, show(p))
    failed_run("package of an unknown component", "-C", PROJ, "package", "nosuch", err="nosuch")
    make_badkey()
    doc = failed_run("package with a bad key", "-C", os.path.join(BASE, "badkey"), "package", err="signing key")
    if doc:
        e = doc["errors"][0]
        check("package failure: the key's place", (e["file"], e["line"], e["column"]) ==
              (os.path.join(BASE, "badkey", "slipway.toml"), 7, 7), e)


def make_badkey():
    d = os.path.join(BASE, "badkey")
    shutil.copytree(PROJ, d, ignore=shutil.ignore_patterns("out"))
    write(os.path.join(d, "keys", "release.asc"), "not a key\n")


def test_sign():
    rpm = main_rpm()
    if not check("sign: a package to sign", rpm, "no RPM"):
        return
    p, doc = ok_run("sign", "sign", "--key", KEY + ".asc", rpm, fields=["key_id", "signed", "failed"])
    if doc:
        check("sign: signed the package", doc["signed"] == [rpm] and doc["failed"] == [], doc)
        check("sign: message on stderr", "signed 1 package" in p.stderr, show(p))
    notrpm = os.path.join(BASE, "not.rpm")
    write(notrpm, "no rpm\n")
    doc = failed_run("sign of a file that is no RPM", "sign", "--key", KEY + ".asc", rpm, notrpm,
                     err="not a valid RPM")
    if doc:
        check("sign failure: the partial result", doc.get("signed") == [rpm] and doc.get("failed") == [notrpm], doc)


def test_repo():
    p, doc = ok_run("repo", "-C", PROJ, "repo", fields=["repository", "packages", "read", "reused", "changed",
                                                      "signed"])
    if doc:
        check("repo: one package, signed", doc["packages"] == 1 and doc["signed"] is True, doc)
    d = os.path.join(BASE, "plainrepo")
    os.makedirs(d)
    shutil.copy(main_rpm(), d)
    p, doc = ok_run("repo DIR", "repo", d, fields=["repository", "packages", "signed"])
    if doc:
        check("repo DIR: unsigned", doc["repository"] == d and doc["signed"] is False, doc)
    write(os.path.join(d, "broken.rpm"), "broken\n")
    failed_run("repo with a bad package", "repo", d, err="broken.rpm")


def test_verify():
    pub = KEY + ".pub.asc"
    repo = os.path.join(PROJ, "out", "repo")
    p, doc = ok_run("verify", "verify", "--key", pub, repo, fields=["checks", "checked", "failed"])
    if doc:
        check("verify: every check passed", doc["failed"] == 0 and doc["checked"] >= 3 and
              all(c["ok"] and c["error"] is None for c in doc["checks"]), doc)
    d = os.path.join(BASE, "unsigned-verify")
    os.makedirs(d)
    shutil.copy(main_rpm(), d)
    p = slipway("repo", d)
    check("verify: setup of an unsigned repository", p.returncode == 0, show(p))
    doc = failed_run("verify of an unsigned repository", "verify", "--key", pub, d, err="not signed")
    if doc:
        check("verify failure: the failed check in the result",
              doc.get("failed", 0) >= 1 and any(not c["ok"] and "not signed" in c["error"] for c in doc["checks"]),
              doc)
    p, doc = ok_run("verify --allow-unsigned", "verify", "--allow-unsigned", "--key", pub, d,
                    fields=["checks", "failed"])
    if doc:
        check("verify --allow-unsigned: repomd.xml passes as unsigned",
              any(c["unsigned"] and c["path"].endswith("repomd.xml") for c in doc["checks"]), doc)


def test_image():
    p, doc = ok_run("image", "-C", PROJ, "image", fields=["images", "failed"])
    if doc:
        im = (doc["images"] or [{}])[0]
        outs = im.get("outputs") or [{}]
        check("image: box, one tar and its SBOM", im.get("name") == "box" and doc["failed"] == 0 and
              [o.get("format") for o in outs] == ["tar", "sbom"] and os.path.isfile(outs[0].get("path", "")) and
              outs[1].get("path", "").endswith("/box.spdx.json") and os.path.isfile(outs[1]["path"]), doc)
        check("image: the SBOM's seconds, the tar has none", len(outs) == 2 and
              isinstance(outs[1].get("seconds"), float) and 0 <= outs[1]["seconds"] < 60 and "seconds" not in outs[0],
              outs)
    failed_run("image of an unknown image", "-C", PROJ, "image", "nosuch", err="no image 'nosuch'")


def test_build():
    p, doc = ok_run("build", "-C", PROJ, "build", fields=["package", "image"])
    if doc:
        check("build: both stages", isinstance(doc["package"], dict) and "components" in doc["package"] and
              isinstance(doc["image"], dict) and [i["name"] for i in doc["image"]["images"]] == ["box"], doc)
    doc = failed_run("build of an unknown image", "-C", PROJ, "build", "nosuch", err="nosuch")
    if doc:
        check("build failure in image: the package stage's result, image null",
              isinstance(doc.get("package"), dict) and doc.get("image", 0) is None, doc)
    doc = failed_run("build with a bad key", "-C", os.path.join(BASE, "badkey"), "build", err="did not build")
    if doc:
        check("build failure in package: no image", doc.get("image", 0) is None, doc)


def test_inspect():
    rpm = main_rpm()
    for name, target, kind in [("rpm", rpm, "rpm"), ("repository", os.path.join(PROJ, "out", "repo"), "repository"),
                               ("image", os.path.join(PROJ, "out", "images", "box.tar.zst"), "image")]:
        p, doc = ok_run(f"inspect {name}", "inspect", target, fields=["kind", "path", "format", "packages",
                                                                     "warnings"])
        if doc:
            check(f"inspect {name}: kind", doc["kind"] == kind, doc["kind"])
    failed_run("inspect of a missing file", "inspect", os.path.join(BASE, "nope"), err="nope")


def test_usage():
    p, doc = ok_run("--version", "--version", fields=["version"])
    failed_run("unknown verb", "frobnicate", status=2, err="unknown verb 'frobnicate'")
    failed_run("unknown option before --json", "--frobnicate", "check", status=2, err="--frobnicate", json_last=True)
    failed_run("too many arguments", "check", "extra", status=2, err="takes no arguments")
    failed_run("option the verb does not take", "check", "--key", "k", status=2, err="does not take")
    p = slipway("--json", "check", "--help")
    check("--help stays text", p.returncode == 0 and p.stdout.startswith("Usage:"), show(p))


start_tests = [test_keygen, test_init, test_check, test_toml_json, test_package, test_sign, test_repo, test_verify,
               test_image,
               test_build, test_inspect, test_usage]
try:
    for t in start_tests:
        run_test(t)
finally:
    shutil.rmtree(BASE, ignore_errors=True)
finish("json")
