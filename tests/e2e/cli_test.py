#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The command line: options, exit statuses, help, init, check on the bundled
example, toml-json. Usage: cli_test.py SLIPWAY SOURCE_ROOT"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import check, finish

SLIPWAY, ROOT = sys.argv[1], sys.argv[2]


def run(*args, cwd=None, stdin=None, env=None):
    e = dict(os.environ, LC_ALL="C")
    e.pop("SOURCE_DATE_EPOCH", None)
    if env:
        e.update(env)
    return subprocess.run([SLIPWAY, *args], cwd=cwd, input=stdin, capture_output=True, text=True, env=e, timeout=60)


def expect(name, p, code, out=None, err=None):
    ok = p.returncode == code and (out is None or out in p.stdout) and (err is None or err in p.stderr)
    check(name, ok, f"exit {p.returncode} (want {code})\nstdout: {p.stdout[:500]}\nstderr: {p.stderr[:500]}")


VERBS = ["check", "init", "keygen", "package", "repo", "sign", "toml-json", "verify"]

# --version, --help, usage errors
expect("version", run("--version"), 0, out="slipway 0.")
p = run("--help")
expect("help", p, 0, out="Usage: slipway")
for v in VERBS:
    check(f"help lists {v}", f"  {v} " in p.stdout, p.stdout)
    expect(f"{v} --help", run(v, "--help"), 0, out=f"Usage: slipway [OPTIONS] {v}")
    expect(f"--help {v}", run("--help", v), 0, out=f"Usage: slipway [OPTIONS] {v}")
expect("no verb", run(), 2, err="Usage: slipway")
expect("unknown verb", run("frobnicate"), 2, err="unknown verb 'frobnicate'")
expect("unknown option", run("--frobnicate", "check"), 2, err="unknown option '--frobnicate'")
expect("unknown short option", run("-Z", "check"), 2, err="unknown option '-Z'")
expect("missing option argument", run("check", "-C"), 2, err="needs an argument")
expect("bad -j", run("-j", "0", "check"), 2, err="invalid job count '0'")
expect("bad -j text", run("-j", "many", "check"), 2, err="invalid job count 'many'")
expect("too many args", run("check", "extra"), 2, err="'check' takes no arguments")
expect("too few args", run("init"), 2, err="'init' takes the arguments DIR")

# check on the bundled example, text and JSON
example = os.path.join(ROOT, "examples", "minimal")
p = run("-C", example, "check")
expect("check example", p, 0, out="components (")
p = run("-C", example, "check", "--json")
expect("check example --json exit", p, 0)
try:
    j = json.loads(p.stdout)
    check("json project", j["project"]["name"] == "azl-mini", j.get("project"))
    names = [c["name"] for c in j["components"]]
    check("json components", len(names) >= 2 and "hello" in names, names)
    kinds = {c["kind"] for c in j["components"]}
    check("json component kinds", kinds == {"spec", "native"}, kinds)
    imgs = [i["name"] for i in j["images"]]
    check("json images", "vm" in imgs and "initrd" in imgs, imgs)
    check("json errors empty", j["errors"] == [], j["errors"])
except (ValueError, KeyError) as e:
    check("json parses", False, f"{e}: {p.stdout[:300]}")
# Global options may follow the verb; -q hides warnings.
p = run("check", "-q", "-C", example)
expect("options after verb", p, 0)
check("-q hides warnings", "warning" not in p.stderr, p.stderr)

# No project here
with tempfile.TemporaryDirectory() as d:
    expect("check without project", run("-C", d, "check"), 1, err="slipway.toml not found")
    p = run("-C", d, "check", "--json")
    check("check --json without project prints errors JSON", p.returncode == 1 and
          json.loads(p.stdout)["errors"][0]["message"].startswith("no project here"), p.stdout)

# init: writes a project check accepts, refuses to overwrite
with tempfile.TemporaryDirectory() as d:
    proj = os.path.join(d, "My Distro")
    expect("init", run("init", proj), 0)
    p = run("-C", proj, "check", "--json")
    expect("init then check", p, 0)
    if p.returncode == 0:
        j = json.loads(p.stdout)
        check("init name from dir", j["project"]["name"] == "my-distro", j["project"]["name"])
        check("init has both kinds", {c["kind"] for c in j["components"]} == {"spec", "native"}, j["components"])
    expect("init refuses existing", run("init", proj), 1, err="already exists")
    os.remove(os.path.join(proj, "slipway.toml"))
    expect("init refuses partial", run("init", proj), 1, err="already exists")
    # Unwritable location: a failure, not a crash; nothing half-written is left at the final path.
    blocker = os.path.join(d, "file")
    open(blocker, "w").close()
    expect("init under a file", run("init", os.path.join(blocker, "x")), 1, err="cannot")

# init then build: the starter builds, and its container runs its entrypoint
# (issue 12: its dynamically linked hello needed a C library no package gave).
def init_then_build():
    missing = [t for t in ["rpmbuild", "rpmspec", "gcc", "umoci", "tar", "zstd"] if not shutil.which(t)]
    if missing:
        print(f"SKIP init then build: {missing} missing")
        return
    with tempfile.TemporaryDirectory() as d:
        proj = os.path.join(d, "x")
        expect("init x", run("init", proj), 0)
        p = subprocess.run([SLIPWAY, "-C", proj, "build"], capture_output=True, text=True, timeout=300,
                           env=dict(os.environ, LC_ALL="C", TMPDIR=d))
        if not check("init then build", p.returncode == 0, f"exit {p.returncode}\nstderr: {p.stderr[-1500:]}"):
            return
        images = os.path.join(proj, "out", "images")
        check("init then build: the container's outputs",
              sorted(os.listdir(images)) == ["container.oci", "container.oci.tar", "container.spdx.json",
                                             "container.tar.zst"],
              f"{sorted(os.listdir(images))}")
        t = subprocess.run(["tar", "--zstd", "-tf", os.path.join(images, "container.tar.zst")], capture_output=True,
                           text=True)
        names = {n.lstrip("./") for n in t.stdout.split()}
        check("init then build: the tarball holds hello and motd", t.returncode == 0 and
              {"usr/bin/hello", "etc/motd"} <= names, t.stdout[-800:] + t.stderr)
        bundle = os.path.join(d, "bundle")
        u = subprocess.run(["umoci", "unpack", "--rootless", "--image", os.path.join(images, "container.oci") + ":1.0",
                            bundle], capture_output=True, text=True)
        if not check("init then build: umoci unpacks the OCI image", u.returncode == 0, u.stderr[-800:]):
            return
        with open(os.path.join(bundle, "config.json")) as fh:
            entry = json.load(fh)["process"]["args"]
        check("init then build: the entrypoint is /usr/bin/hello", entry == ["/usr/bin/hello"], f"{entry}")
        # The entrypoint runs from the image alone: nothing of the host is loaded.
        h = subprocess.run([os.path.join(bundle, "rootfs", "usr", "bin", "hello")], capture_output=True, text=True)
        check("init then build: the entrypoint runs", h.returncode == 0 and h.stdout == "Hello from slipway.\n",
              f"exit {h.returncode}: {h.stdout!r} {h.stderr!r}")
        r = subprocess.run(["sh", "-c", f"rpm -qp --requires {proj}/out/repo/Packages/hello-*.rpm"],
                           capture_output=True, text=True)
        check("init then build: hello requires nothing the image lacks", r.returncode == 0 and
              all(line.startswith("rpmlib(") for line in r.stdout.split("\n") if line), r.stdout + r.stderr)


init_then_build()

# toml-json: file, stdin, errors
with tempfile.TemporaryDirectory() as d:
    f = os.path.join(d, "a.toml")
    with open(f, "w") as fh:
        fh.write('a = 1\n[t]\nb = "x"\n')
    p = run("toml-json", f)
    expect("toml-json file", p, 0)
    check("toml-json output", json.loads(p.stdout) == {"a": {"type": "integer", "value": "1"},
                                                     "t": {"b": {"type": "string", "value": "x"}}}, p.stdout)
    p = run("toml-json", "-", stdin="x = true\n")
    expect("toml-json stdin", p, 0)
    check("toml-json stdin output", json.loads(p.stdout) == {"x": {"type": "bool", "value": "true"}}, p.stdout)
    p = run("toml-json", "-", stdin="x = \n")
    expect("toml-json stdin error", p, 1, err="<stdin>:1:5: error: expected a value")
    check("toml-json error prints nothing", p.stdout == "", p.stdout)
    expect("toml-json missing file", run("toml-json", os.path.join(d, "nope.toml")), 1, err="cannot read file")
    expect("toml-json directory", run("toml-json", d), 1, err="cannot read file")

# SOURCE_DATE_EPOCH from the environment when the project does not set it
with tempfile.TemporaryDirectory() as d:
    run("init", d)
    path = os.path.join(d, "slipway.toml")
    with open(path) as fh:
        text = fh.read().replace("source-date-epoch = 1767225600\n", "")
    with open(path, "w") as fh:
        fh.write(text)
    p = run("-C", d, "check", "--json", env={"SOURCE_DATE_EPOCH": "1234"})
    j = json.loads(p.stdout) if p.returncode == 0 else {}
    check("sde from env", j.get("project", {}).get("source_date_epoch") == 1234 and
          j["project"]["source_date_epoch_from"] == "environment", p.stdout[:300] + p.stderr)
    p = run("-C", d, "check", "--json")
    j = json.loads(p.stdout) if p.returncode == 0 else {}
    newest = max(os.stat(os.path.join(r, f)).st_mtime for r, _, fs in os.walk(d) for f in fs)
    check("sde from inputs", j.get("project", {}).get("source_date_epoch") == int(newest) and
          j["project"]["source_date_epoch_from"] == "inputs", p.stdout[:300])
    expect("sde env invalid", run("-C", d, "check", env={"SOURCE_DATE_EPOCH": "yesterday"}), 1,
           err="SOURCE_DATE_EPOCH='yesterday' is not valid")

finish("cli")
