#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The hardening check of `slipway package`: small C programs and shared
libraries compiled with gcc with and without each flag, packaged by a native
component and by a spec component; slipway's verdicts (--json) compared
property by property with Debian's hardening-check (devscripts) and, for the
non-executable stack that hardening-check does not check, with readelf's
GNU_STACK flags. Then the policy: "fail" stops the build naming the package,
the file and the property, and nothing of the component is published;
exceptions need a reason; "warn" only warns; the summary and the cache.

Usage: hardening_test.py SLIPWAY SOURCE_ROOT [TEST...]   (names: only those tests)"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import check, finish, run_test, show, write

SLIPWAY, ROOT = os.path.abspath(sys.argv[1]), sys.argv[2]

for needed in ["gcc", "readelf", "hardening-check", "rpm", "rpmbuild", "rpmspec"]:
    if not shutil.which(needed):
        print(f"SKIP: {needed} missing")
        sys.exit(77)

BASE = tempfile.mkdtemp(prefix="slipway-hardening-test-")
TMPDIR = os.path.join(BASE, "tmp")
os.makedirs(TMPDIR)
CHECKS = ["pie", "relro", "bindnow", "nx-stack", "stack-protector", "fortify", "cet"]


def slipway(*args, timeout=300):
    e = dict(os.environ, LC_ALL="C", TMPDIR=TMPDIR)
    e.pop("SOURCE_DATE_EPOCH", None)
    return subprocess.run([SLIPWAY, *args], capture_output=True, text=True, env=e, timeout=timeout)


def package_json(d, *args):
    p = slipway("-C", d, "--json", "package", *args)
    try:
        return p, json.loads(p.stdout)
    except ValueError:
        return p, None


# A program with a stack array and a fortifiable call whose size gcc knows
# (strcpy into buf: __strcpy_chk with _FORTIFY_SOURCE), one with no
# fortifiable function and no array, and a library with the same call.
PROG = r"""#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
        char buf[64];
        strcpy(buf, argv[argc - 1]);
        printf("%s\n", buf);
        return 0;
}
"""
PLAIN = "int main(void) { return 0; }\n"
LIB = r"""#include <string.h>
int copy(char *out, const char *in) {
        char buf[32];
        strcpy(buf, in);
        strcpy(out, buf);
        return (int) strlen(buf);
}
"""
ALL = ["-O2", "-D_FORTIFY_SOURCE=2", "-fstack-protector-strong", "-fcf-protection=full", "-Wl,-z,relro",
       "-Wl,-z,now", "-Wl,-z,noexecstack", "-Wl,-z,ibt", "-Wl,-z,shstk"]
# name -> (source, flags): each flag off once, against ALL.
VARIANTS = {
    "all": (PROG, ALL + ["-fPIE", "-pie"]),
    "nopie": (PROG, ALL + ["-fno-PIE", "-no-pie"]),
    "norelro": (PROG, ALL + ["-fPIE", "-pie", "-Wl,-z,norelro"]),
    "lazy": (PROG, ALL + ["-fPIE", "-pie", "-Wl,-z,lazy"]),
    "execstack": (PROG, ALL + ["-fPIE", "-pie", "-Wl,-z,execstack"]),
    "nossp": (PROG, ALL + ["-fPIE", "-pie", "-fno-stack-protector"]),
    "nofortify": (PROG, [f for f in ALL if f != "-D_FORTIFY_SOURCE=2"] + ["-fPIE", "-pie", "-U_FORTIFY_SOURCE"]),
    "nocet": (PROG, [f for f in ALL if f not in ("-Wl,-z,ibt", "-Wl,-z,shstk")] + ["-fPIE", "-pie",
                                                                                 "-fcf-protection=none"]),
    "plain": (PLAIN, ["-O2", "-fPIE", "-pie", "-Wl,-z,relro,-z,now"]),
    "bare": (PROG, ["-O0", "-fno-PIE", "-no-pie", "-fno-stack-protector", "-fcf-protection=none", "-Wl,-z,norelro",
                    "-Wl,-z,lazy", "-Wl,-z,execstack"]),
    "libgood.so": (LIB, ALL + ["-fPIC", "-shared"]),
    "libbad.so": (LIB, ["-O0", "-fPIC", "-shared", "-fno-stack-protector", "-Wl,-z,norelro", "-Wl,-z,lazy"]),
}


def build_binaries(dest):
    os.makedirs(dest, exist_ok=True)
    for name, (src, flags) in VARIANTS.items():
        c = os.path.join(BASE, name + ".c")
        write(c, src)
        subprocess.run(["gcc", *flags, "-o", os.path.join(dest, name), c], check=True, capture_output=True)


def hardening_check(path):
    """hardening-check's verdicts as slipway names them: pass, missing or n/a."""
    out = subprocess.run(["hardening-check", path], capture_output=True, text=True).stdout
    names = {"Position Independent Executable": "pie", "Read-only relocations": "relro",
             "Immediate binding": "bindnow", "Stack protected": "stack-protector",
             "Fortify Source functions": "fortify", "Control flow integrity": "cet"}
    r = {}
    for line in out.splitlines():
        m = re.match(r"^ (.+?): (.*)$", line)
        if not m or m.group(1) not in names:
            continue
        v = m.group(2)
        r[names[m.group(1)]] = ("pass" if v.startswith("yes") else
                                "n/a" if v.startswith("unknown") or v.startswith("no, regular shared library")
                                else "missing")
    return r


def gnu_stack(path):
    out = subprocess.run(["readelf", "-lW", path], capture_output=True, text=True).stdout
    m = re.search(r"^\s*GNU_STACK\s.*\s(R?W?E?)\s+0x[0-9a-f]+$", out, re.M)
    return "missing" if not m or "E" in m.group(1) else "pass"


def native_toml(name, files, extra="", keys=""):
    entries = "".join(f'[[components.{name}.files]]\nsource = "bin/{f}"\npath = "{dest}"\nmode = "0755"\n\n'
                      for f, dest in files)
    return f"""[components.{name}]
version = "1.0"
summary = "Hardening test binaries"
license = "MIT"
{keys}
{entries}{extra}"""


PROJECT = """[project]
name = "hard"
version = "1"
source-date-epoch = 1700000000

"""


def dest_of(name):
    return f"/usr/lib64/{name}" if name.endswith(".so") else f"/usr/bin/{name}"


def project(body, hardening=""):
    d = tempfile.mkdtemp(dir=BASE, prefix="proj-")
    build_binaries(os.path.join(d, "bin"))
    write(os.path.join(d, "slipway.toml"), PROJECT + hardening + "\n" + body)
    return d


def files_of(report, component):
    """path -> {check: status} of a component's ELF files in a --json report."""
    r = {}
    for c in report["components"]:
        if c["name"] != component or not c["hardening"]["packages"]:
            continue
        for pkg in c["hardening"]["packages"]:
            for f in pkg["files"]:
                r[f["path"]] = {k: f[k] for k in CHECKS}
    return r


def test_agrees_with_hardening_check():
    d = project(native_toml("bins", [(n, dest_of(n)) for n in VARIANTS]))
    p, rep = package_json(d)
    if not check("agree: package builds (warnings only)", p.returncode == 0 and rep, show(p)):
        return
    got = files_of(rep, "bins")
    check("agree: every binary checked", sorted(got) == sorted(dest_of(n) for n in VARIANTS), sorted(got))
    for name in VARIANTS:
        path = os.path.join(d, "bin", name)
        want = hardening_check(path)
        want["nx-stack"] = gnu_stack(path)
        mine = got.get(dest_of(name), {})
        for k in CHECKS:
            check(f"agree: {name}: {k}", mine.get(k) == want.get(k),
                  f"slipway {mine.get(k)}, hardening-check/readelf {want.get(k)}")
    # The variants do switch each property: a test that cannot fail is no test.
    flips = {"nopie": "pie", "norelro": "relro", "lazy": "bindnow", "execstack": "nx-stack",
             "nossp": "stack-protector", "nofortify": "fortify", "nocet": "cet"}
    for name, k in flips.items():
        check(f"agree: 'all' has {k}, '{name}' lacks it",
              got.get(dest_of("all"), {}).get(k) == "pass" and got.get(dest_of(name), {}).get(k) == "missing",
              f"all {got.get(dest_of('all'))} {name} {got.get(dest_of(name))}")
    check("agree: a library is not PIE, not applicable", got.get("/usr/lib64/libgood.so", {}).get("pie") == "n/a",
          got.get("/usr/lib64/libgood.so"))
    check("agree: no fortifiable function: fortify not applicable", got.get("/usr/bin/plain", {}).get("fortify") == "n/a",
          got.get("/usr/bin/plain"))
    # warn (the default) only warns, and the summary counts per check.
    p2 = slipway("-C", d, "package")
    check("warn: exit 0", p2.returncode == 0, show(p2))
    check("warn: summary line", re.search(r"^hardening: 12 ELF files in 1 package; missing: .*bindnow 3 \(warn\).* \(\d+\.\d\ds\)$",
                                          p2.stdout, re.M), p2.stdout)
    total = rep["hardening"]["checks"]
    check("warn: json totals", total["bindnow"] == {"action": "warn", "pass": 9, "missing": 3, "n/a": 0,
                                                    "excepted": 0}, total["bindnow"])


def test_warnings_on_build():
    d = project(native_toml("bins", [("lazy", "/usr/bin/lazy"), ("bare", "/usr/bin/bare")]))
    p = slipway("-C", d, "package")
    check("warn: built", p.returncode == 0, show(p))
    check("warn: one warning per check, naming package, file and property",
          "warning: component 'bins': package bins-1.0-1." in p.stderr and
          ": /usr/bin/bare: no BIND_NOW, and 1 more file (hardening check 'bindnow' is \"warn\")" in p.stderr,
          p.stderr)
    p2 = slipway("-C", d, "--json", "package")
    rep = json.loads(p2.stdout) if p2.returncode == 0 else None
    c = rep and [x for x in rep["components"] if x["name"] == "bins"][0]
    check("cache: cached component still reported", c and c["status"] == "cached" and
          files_of(rep, "bins").get("/usr/bin/lazy", {}).get("bindnow") == "missing", p2.stdout[-2000:])
    check("cache: record keeps the results", "hardening" in json.load(open(os.path.join(d, "out", "cache",
                                                                                        "packages", "bins.json"))))


def test_fail_policy():
    body = native_toml("good", [("all", "/usr/bin/all")]) + "\n" + native_toml("foo", [("lazy", "/usr/bin/foo")])
    d = project(body, '[hardening]\nbindnow = "fail"\ncet = "off"\n')
    p = slipway("-C", d, "package")
    check("fail: exit status 1", p.returncode == 1, show(p))
    check("fail: one error naming package, file and property",
          re.search(r"^FAILED +foo +package foo-1\.0-1\.[a-z0-9_]+: /usr/bin/foo: no BIND_NOW "
                    r"\(hardening check 'bindnow' is \"fail\"\)$", p.stderr, re.M), p.stderr)
    pk = sorted(os.listdir(os.path.join(d, "out", "repo", "Packages")))
    check("fail: nothing of foo in repo/Packages", not any(f.startswith("foo-") for f in pk), pk)
    check("fail: the other component is there", any(f.startswith("good-") for f in pk), pk)
    prim = subprocess.run(f"zstd -dcf {d}/out/repo/repodata/*primary.xml*", shell=True,
                          capture_output=True, text=True).stdout
    check("fail: foo not in the repository metadata", "<name>foo</name>" not in prim and "<name>good</name>" in prim,
          prim[-800:])
    # Once more: the failure again (no record, nothing cached).
    p = slipway("-C", d, "package")
    check("fail: fails again", p.returncode == 1 and "no BIND_NOW" in p.stderr, show(p))
    # An exception with its reason: the build goes through, the reason shown.
    write(os.path.join(d, "slipway.toml"), PROJECT + '[hardening]\nbindnow = "fail"\ncet = "off"\n\n' + body +
          '\n[components.foo.hardening-exceptions]\nbindnow = "the plugin loader needs lazy binding"\n')
    p, rep = package_json(d)
    check("exception: builds", p.returncode == 0 and rep, show(p))
    if rep:
        c = [x for x in rep["components"] if x["name"] == "foo"][0]
        check("exception: in the json", c["hardening"]["exceptions"] == {
            "bindnow": "the plugin loader needs lazy binding"}, c["hardening"])
        check("exception: counted as excepted", rep["hardening"]["checks"]["bindnow"]["excepted"] == 1,
              rep["hardening"]["checks"]["bindnow"])
    p = slipway("-C", d, "package")
    check("exception: in the summary",
          "hardening: component 'foo' is excepted from 'bindnow': the plugin loader needs lazy binding" in p.stdout,
          p.stdout)
    # A fail policy now on what is cached: the cached component fails and is withdrawn.
    write(os.path.join(d, "slipway.toml"), PROJECT + '[hardening]\nbindnow = "fail"\nrelro = "fail"\ncet = "off"\n\n'
          + body)
    p = slipway("-C", d, "package")
    check("fail: a cached component is checked by the new policy", p.returncode == 1 and
          ": /usr/bin/foo: no BIND_NOW (hardening check 'bindnow' is \"fail\")" in p.stderr, show(p))
    pk = sorted(os.listdir(os.path.join(d, "out", "repo", "Packages")))
    check("fail: and withdrawn", not any(f.startswith("foo-") for f in pk), pk)


def test_config_errors():
    body = native_toml("foo", [("lazy", "/usr/bin/foo")])
    cases = [
        ("empty reason", body + '\n[components.foo.hardening-exceptions]\nbindnow = ""\n', "",
         r":\d+:11: error: .*empty"),
        ("unknown exception key", body + '\n[components.foo.hardening-exceptions]\nbind-now = "x"\n', "",
         r":\d+:1: error: .*bind-now"),
        ("unknown policy key", body, '[hardening]\nstackprotector = "fail"\n', r":\d+:1: error: .*stackprotector"),
        ("bad action", body, '[hardening]\npie = "error"\n', r":\d+:7: error: .*'error'"),
    ]
    for name, b, h, pat in cases:
        d = project(b, h)
        p = slipway("-C", d, "check")
        check(f"config: {name}: refused at file:line:column", p.returncode == 1 and
              re.search(re.escape(os.path.join(d, "slipway.toml")) + pat, p.stderr), show(p))


SPEC = r"""Name: lazyprog
Version: 2
Release: 1
Summary: A spec-built program
License: MIT
Source0: prog.c
%global debug_package %{nil}

%description
Built without BIND_NOW.

%build
gcc -O2 -fPIE -pie -Wl,-z,relro,-z,lazy -o prog %{SOURCE0}

%install
install -D -m 0755 prog %{buildroot}/usr/bin/lazyprog

%files
/usr/bin/lazyprog
"""


def test_spec_component():
    d = project('[components.lazyprog]\nspec = "lazyprog/lazyprog.spec"\n', '[hardening]\nbindnow = "fail"\n')
    write(os.path.join(d, "lazyprog", "lazyprog.spec"), SPEC)
    write(os.path.join(d, "lazyprog", "prog.c"), PROG)
    p = slipway("-C", d, "package")
    check("spec: fails on BIND_NOW", p.returncode == 1 and
          "package lazyprog-2-1." in p.stderr and
          ": /usr/bin/lazyprog: no BIND_NOW (hardening check 'bindnow' is \"fail\")" in p.stderr, show(p))
    pk = os.listdir(os.path.join(d, "out", "repo", "Packages"))
    check("spec: nothing published", pk == [], pk)
    srpms = os.listdir(os.path.join(d, "out", "srpms"))
    check("spec: no source package either", srpms == [], srpms)


def test_payload_codecs():
    """The check reads zstd and gzip payloads as they are decompressed, xz ones unpacked whole."""
    body = "".join(native_toml(f"p{codec}", [("lazy", "/usr/bin/lazy"), ("libgood.so", "/usr/lib64/libgood.so")],
                               keys=f'payload = "{payload}"\n') + "\n"
                   for codec, payload in [("zstd", "w19.zstdio"), ("gzip", "w9.gzdio"), ("xz", "w6.xzdio"),
                                          ("none", "w.ufdio")])
    d = project(body)
    p, rep = package_json(d)
    if not check("codecs: builds", p.returncode == 0 and rep, show(p)):
        return
    for codec in ["zstd", "gzip", "xz", "none"]:
        got = files_of(rep, f"p{codec}")
        check(f"codecs: {codec}: both files, lazy without BIND_NOW",
              sorted(got) == ["/usr/bin/lazy", "/usr/lib64/libgood.so"] and got["/usr/bin/lazy"]["bindnow"] == "missing"
              and got["/usr/lib64/libgood.so"]["bindnow"] == "pass", got)


start = time.monotonic()
try:
    for t in [test_agrees_with_hardening_check, test_warnings_on_build, test_fail_policy, test_config_errors,
              test_spec_component, test_payload_codecs]:
        if len(sys.argv) <= 3 or t.__name__ in sys.argv[3:]:
            run_test(t)
finally:
    shutil.rmtree(BASE, ignore_errors=True)

finish("hardening", f" ({time.monotonic() - start:.1f}s)")
