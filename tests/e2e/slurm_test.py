#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Builds on a Slurm cluster through a shared HTTP cache (issue 17): a real
one-node Slurm (munged, slurmctld, slurmd) and nginx with WebDAV PUT on
127.0.0.1 (tests/services/cluster.py), started here and stopped by pid.

- examples/minimal and a generated 100-component graph build through Slurm;
  packages, source packages and repository metadata equal a local build's
  byte for byte, and the signatures check with rpmkeys;
- a second run submits nothing;
- a component that fails: its dependents are cancelled and named; once it is
  fixed the rerun submits only it and what needs it;
- slurmd killed during a build and started again: the rerun finishes with
  the same bytes;
- a package altered in the cache is detected and rebuilt, never used; with
  trusted-keys, an altered manifest is refused;
- the one-component mode refuses to build when what it needs is missing;
- as an unprivileged user too.

Usage: slurm_test.py SLIPWAY SOURCE_ROOT"""
import glob
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "services"))
from harness import check, finish, run_test, show, write  # noqa: E402
import cluster  # noqa: E402

SLIPWAY, ROOT = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
for needed in ["rpm", "rpmbuild", "rpmspec", "rpmkeys"]:
    if not shutil.which(needed):
        print(f"SKIP: {needed} missing")
        sys.exit(77)
ok, why = cluster.available()
if not ok:
    print(f"SKIP: {why}")
    sys.exit(77)

SDE = 1700000000
BASE = tempfile.mkdtemp(prefix="slipway-slurm-test-")
os.chmod(BASE, 0o755)
CLUSTER = cluster.Cluster(os.path.join(BASE, "cluster"))
EXAMPLE = os.path.join(ROOT, "examples", "minimal")


def slipway(proj, *args, env=None, user=None, timeout=900):
    e = dict(CLUSTER.env, LC_ALL="C", SOURCE_DATE_EPOCH=str(SDE), TMPDIR=os.path.join(BASE, "tmp"))
    e.update(env or {})
    argv = [SLIPWAY, "-C", proj, *args]
    if user is not None:
        argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *argv]
        e["HOME"] = "/nonexistent"
        e["TMPDIR"] = os.path.join(BASE, "tmp-nobody")
    return subprocess.run(argv, capture_output=True, text=True, env=e, timeout=timeout)


def add_cache(proj, extra=""):
    with open(os.path.join(proj, "slipway.toml"), "a") as f:
        f.write(f'\n[cache]\nurl = "{CLUSTER.cache_url}"\n{extra}\n[slurm]\npoll = 1\n')


def outputs(proj):
    """Relative path -> SHA-256 of what a user takes away: packages, source
    packages and the repository's metadata (not its private cache)."""
    out = os.path.join(proj, "out")
    r = {}
    for top in ["repo", "srpms"]:
        for dirpath, _, files in os.walk(os.path.join(out, top)):
            for f in files:
                if f.startswith(".slipway-cache"):
                    continue
                path = os.path.join(dirpath, f)
                with open(path, "rb") as fh:
                    r[os.path.relpath(path, out)] = hashlib.sha256(fh.read()).hexdigest()
    return r


def same_outputs(label, a, b):
    oa, ob = outputs(a), outputs(b)
    differ = sorted(f for f in set(oa) | set(ob) if oa.get(f) != ob.get(f))
    return check(f"{label}: byte-identical to the local build ({len(oa)} files)", oa and not differ,
                 f"differ: {differ[:10]}")


def submitted(p):
    m = re.search(r"^slurm: (\d+) jobs? submitted", p.stdout, re.M)
    return int(m.group(1)) if m else 0


# ---- a generated graph ------------------------------------------------------

GEN_N = 100


def gen_graph(seed=7):
    """A layered graph: a chain through the first ten (a toolchain), then
    components needing one to three of the earlier ones."""
    rnd = random.Random(seed)
    deps = {}
    for i in range(GEN_N):
        name = f"c{i:03d}"
        if i == 0:
            deps[name] = []
        elif i < 10:
            deps[name] = [f"c{i - 1:03d}"]
        else:
            k = rnd.randint(1, 3)
            deps[name] = sorted({f"c{rnd.randrange(max(0, i - 30), i):03d}" for _ in range(k)})
    return deps


def gen_spec(name, deps, version="1.0", install_extra="", build_extra=""):
    br = "".join(f"BuildRequires: {d}\n" for d in deps)
    return f"""Name: {name}
Version: {version}
Release: 1%{{?dist}}
Summary: generated component {name}
License: MIT
BuildArch: noarch
{br}
%description
Component {name} of a generated graph.

%build
{build_extra}

%install
mkdir -p %{{buildroot}}/usr/share/{name}
echo '{name} {version}' > %{{buildroot}}/usr/share/{name}/data
{install_extra}

%files
/usr/share/{name}/data
"""


def write_project(dest, name, dist, deps):
    """A signed project of generated spec components (deps: name -> needs)."""
    toml = f"""[project]
name = "{name}"
version = "1"
vendor = "Slurm Test"
dist = "{dist}"
source-date-epoch = {SDE}

[signing]
key = "keys/release.asc"
"""
    for comp, d in deps.items():
        write(os.path.join(dest, "specs", comp, f"{comp}.spec"), gen_spec(comp, d))
        toml += f'\n[components.{comp}]\nspec = "specs/{comp}/{comp}.spec"\n'
    write(os.path.join(dest, "slipway.toml"), toml)
    shutil.copytree(STATE["keys"], os.path.join(dest, "keys"))


def make_gen(dest):
    deps = gen_graph()
    write_project(dest, "gen", ".g1", deps)
    return deps


def descendants(deps, name):
    out = set()
    changed = True
    while changed:
        changed = False
        for n, ds in deps.items():
            if n not in out and (name in ds or out.intersection(ds)):
                out.add(n)
                changed = True
    return out


def set_spec(proj, deps, name, **kw):
    write(os.path.join(proj, "specs", name, f"{name}.spec"), gen_spec(name, deps[name], **kw))


STATE = {}


def setup():
    keys = os.path.join(BASE, "keys")
    os.makedirs(keys)
    p = subprocess.run([SLIPWAY, "keygen", "--uid", "Gen Test <gen@example.org>", "-o", os.path.join(keys, "release")],
                       capture_output=True, text=True)
    check("keygen", p.returncode == 0, show(p))
    p = subprocess.run([SLIPWAY, "keygen", "--uid", "Cache <cache@example.org>", "-o", os.path.join(keys, "cache")],
                       capture_output=True, text=True)
    check("keygen for the cache", p.returncode == 0, show(p))
    STATE["keys"] = keys
    STATE["rpmdb"] = os.path.join(BASE, "rpmdb")
    os.makedirs(STATE["rpmdb"])
    subprocess.run(["rpmkeys", "--dbpath", STATE["rpmdb"], "--import", os.path.join(keys, "release.pub.asc")],
                   check=True)


# ---- tests -------------------------------------------------------------------

def test_example():
    local = os.path.join(BASE, "example-local")
    slurm = os.path.join(BASE, "example-slurm")
    for d in (local, slurm):
        shutil.copytree(EXAMPLE, d, symlinks=True, ignore=shutil.ignore_patterns("out"))
    add_cache(slurm)
    p = slipway(local, "package")
    if not check("example: local build", p.returncode == 0, show(p)):
        return
    p = slipway(slurm, "package", "--engine", "slurm")
    if not check("example: Slurm build exits 0", p.returncode == 0, show(p)):
        return
    n = len(glob.glob(os.path.join(local, "out/repo/Packages/*.rpm")))
    # The example's components (a table [components.NAME] each); the kernel
    # spec makes three packages (kernel, kernel-modules-boot, kernel-modules).
    components = sum(len(re.findall(r"^\[components\.[A-Za-z0-9_+-]+\]\s*$", open(f).read(), re.M))
                     for f in glob.glob(os.path.join(local, "**", "*.toml"), recursive=True))
    check(f"example: one job per component ({components})", components >= 12 and submitted(p) == components and
          n == components + 2 and len(glob.glob(os.path.join(slurm, "out/repo/Packages/*.rpm"))) == n, p.stdout)
    check("example: progress while waiting", re.search(r"^slurm: \d+ built, \d+ running, \d+ queued", p.stdout, re.M),
          p.stdout)
    check("example: the jobs' packages went through the shared cache",
          len(glob.glob(os.path.join(CLUSTER.cache_dir, "ac", "*", "*"))) >= 12, os.listdir(CLUSTER.cache_dir))
    same_outputs("example", slurm, local)
    rpms = sorted(glob.glob(os.path.join(slurm, "out/repo/Packages/*.rpm")))
    k = subprocess.run(["rpmkeys", "--dbpath", STATE["rpmdb"], "--checksig", *rpms], capture_output=True, text=True)
    # The example signs with its own key: imported for this check.
    subprocess.run(["rpmkeys", "--dbpath", STATE["rpmdb"], "--import", os.path.join(slurm, "keys/release.pub.asc")],
                   check=True)
    k = subprocess.run(["rpmkeys", "--dbpath", STATE["rpmdb"], "--checksig", *rpms], capture_output=True, text=True)
    check("example: rpmkeys checks every signature", k.returncode == 0 and k.stdout.count("signatures OK") == len(rpms),
          k.stdout + k.stderr)
    p = slipway(slurm, "package", "--engine", "slurm", "--json")
    j = json.loads(p.stdout) if p.returncode == 0 else {}
    check("example: a second run submits nothing", p.returncode == 0 and j.get("slurm", {}).get("submitted") == 0 and
          j.get("built") == 0, show(p))


def test_generated():
    local = os.path.join(BASE, "gen-local")
    slurm = os.path.join(BASE, "gen-slurm")
    deps = make_gen(local)
    make_gen(slurm)
    add_cache(slurm)
    STATE["deps"] = deps
    t = time.monotonic()
    p = slipway(local, "package")
    tl = time.monotonic() - t
    if not check(f"generated: local build of {GEN_N} ({tl:.0f}s)", p.returncode == 0, show(p)):
        return
    t = time.monotonic()
    p = slipway(slurm, "package", "--engine", "slurm")
    ts = time.monotonic() - t
    if not check(f"generated: Slurm build of {GEN_N} ({ts:.0f}s)", p.returncode == 0, show(p)):
        return
    check("generated: one job per component", submitted(p) == GEN_N, p.stdout[-2000:])
    if same_outputs("generated", slurm, local):
        STATE["gen"] = (local, slurm)
    # A job started with what it needs missing from the caches refuses to
    # build it (Slurm counts a dependency on an unknown job id as met).
    lonely = os.path.join(BASE, "gen-lonely")
    shutil.copytree(slurm, lonely, ignore=shutil.ignore_patterns("out"))
    set_spec(lonely, deps, "c000", version="9.0")
    p = slipway(lonely, "package", "--one", "--locked", "c001", "--out", os.path.join(BASE, "lonely-out"))
    check("one-component mode: refused when what it needs is not in the cache",
          p.returncode == 1 and re.search(r"c000.*not in the shared cache", p.stderr) and
          re.search(r"^skipped\s+c001\b.*needs 'c000'", p.stderr, re.M) and
          not glob.glob(os.path.join(BASE, "lonely-out/repo/Packages/c001-*")), show(p))


def test_failure():
    if "gen" not in STATE:
        return
    local, slurm = STATE["gen"]
    deps = STATE["deps"]
    victim = "c012"
    after = descendants(deps, victim)
    set_spec(slurm, deps, victim, version="2.0", install_extra="echo FAIL-MARKER-17 >&2\nexit 1")
    p = slipway(slurm, "package", "--engine", "slurm")
    check("failure: exit status 1", p.returncode == 1, show(p))
    check("failure: jobs for it and what needs it", submitted(p) == 1 + len(after), p.stdout[-1500:])
    check("failure: named, with its log's end", re.search(rf"^FAILED\s+{victim}\b", p.stderr, re.M) and
          "FAIL-MARKER-17" in p.stderr, p.stderr[-3000:])
    skipped = set(re.findall(r"^skipped\s+(\S+)", p.stderr, re.M))
    check(f"failure: its {len(after)} dependents skipped and named", skipped == after and len(after) >= 3,
          f"skipped {sorted(skipped)}, want {sorted(after)}")
    summary = [line for line in p.stderr.splitlines() if line.startswith("slipway: failed:")]
    check("failure: the summary names them", summary and victim in summary[0] and
          all(re.search(rf"\b{d}\b", summary[0]) for d in after), summary)
    # The newest job of each name: this run's (the earlier runs' are still
    # listed for MinJobAge).
    q = CLUSTER.run("squeue", "--noheader", "--states=all", "--format=%i|%j|%T")
    states = {}
    for line in sorted(q.stdout.split(), key=lambda x: int(x.split("|")[0])):
        i, name, state = line.split("|")
        states[name] = state
    never_ran = [d for d in after if states.get(f"slipway:gen:{d}") not in ("CANCELLED", None)]
    check("failure: the dependents' jobs were cancelled, never run", not never_ran,
          f"{never_ran}: {[states.get('slipway:gen:' + d) for d in never_ran]}")
    # Fixed: only it and what needs it are built.
    set_spec(slurm, deps, victim, version="2.0")
    set_spec(local, deps, victim, version="2.0")
    p = slipway(slurm, "package", "--engine", "slurm")
    if not check("failure fixed: exit 0", p.returncode == 0, show(p)):
        return
    check("failure fixed: only what was missing submitted", submitted(p) == 1 + len(after), p.stdout[-1500:])
    p = slipway(local, "package")
    check("failure fixed: local build", p.returncode == 0, show(p))
    same_outputs("failure fixed", slurm, local)


def wait_running(name, timeout=120):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        q = CLUSTER.run("squeue", "--noheader", "--format=%j|%T")
        if f"slipway:gen:{name}|RUNNING" in q.stdout:
            return True
        time.sleep(0.2)
    return False


def test_slurmd_killed():
    if "gen" not in STATE:
        return
    local, slurm = STATE["gen"]
    deps = STATE["deps"]
    slow = "c020"
    for proj in (local, slurm):
        set_spec(proj, deps, slow, version="3.0", build_extra="sleep 8")
    e = dict(CLUSTER.env, LC_ALL="C", SOURCE_DATE_EPOCH=str(SDE), TMPDIR=os.path.join(BASE, "tmp"))
    proc = subprocess.Popen([SLIPWAY, "-C", slurm, "package", "--engine", "slurm"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=e)
    running = wait_running(slow)
    check("slurmd killed: the slow job runs", running, "")
    CLUSTER.stop_slurmd()
    time.sleep(3)
    CLUSTER.start_slurmd()
    try:
        out, err = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    print(f"slurmd killed: the first run ended with {proc.returncode}")
    p = slipway(slurm, "package", "--engine", "slurm")
    if not check("slurmd killed: the rerun exits 0", p.returncode == 0, show(p) + f"\nfirst run: {out[-800:]}\n{err[-800:]}"):
        return
    p = slipway(local, "package")
    check("slurmd killed: local build", p.returncode == 0, show(p))
    same_outputs("slurmd killed", slurm, local)


def test_interrupt():
    """SIGTERM while jobs wait: every job of the run is cancelled."""
    proj = os.path.join(BASE, "small-interrupt")
    write_project(proj, "intr", ".i1", {"s1": [], "s2": ["s1"], "s3": ["s2"]})
    deps = {"s1": [], "s2": ["s1"], "s3": ["s2"]}
    set_spec(proj, deps, "s1", build_extra="sleep 30")
    add_cache(proj)
    e = dict(CLUSTER.env, LC_ALL="C", SOURCE_DATE_EPOCH=str(SDE), TMPDIR=os.path.join(BASE, "tmp"))
    proc = subprocess.Popen([SLIPWAY, "-C", proj, "package", "--engine", "slurm"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=e)
    end = time.monotonic() + 120
    running = False
    while time.monotonic() < end and not running:
        q = CLUSTER.run("squeue", "--noheader", "--format=%j|%T")
        running = "slipway:intr:s1|RUNNING" in q.stdout
        time.sleep(0.2)
    check("interrupt: the first job runs", running, "")
    proc.send_signal(15)
    out, err = proc.communicate(timeout=120)
    check("interrupt: exit status 143", proc.returncode == 143, f"{proc.returncode}\n{out[-500:]}\n{err[-500:]}")
    time.sleep(1)
    q = CLUSTER.run("squeue", "--noheader", "--format=%j|%T")
    left = [line for line in q.stdout.split() if line.startswith("slipway:intr:")]
    check("interrupt: no job of the run is left queued or running", not left, left)


def test_other_inputs():
    """Jobs that see other inputs than the submitting machine (here another
    SOURCE_DATE_EPOCH in their environment) build something else: it is
    never taken for this project's packages, and the message says why."""
    proj = os.path.join(BASE, "small-other")
    write_project(proj, "other", ".o1", {"s1": []})
    toml = os.path.join(proj, "slipway.toml")
    with open(toml) as f:
        text = f.read().replace(f"source-date-epoch = {SDE}\n", "")
    write(toml, text + '\n[cache]\nurl = "%s"\n[slurm]\npoll = 1\noptions = ["--export=ALL,SOURCE_DATE_EPOCH=1600000000"]\n'
          % CLUSTER.cache_url)
    p = slipway(proj, "package", "--engine", "slurm")
    check("other inputs: not taken, and said why", p.returncode == 1 and submitted(p) == 1 and
          re.search(r"s1 .*from other inputs.*same as here", p.stderr) and
          not glob.glob(os.path.join(proj, "out/repo/Packages/*.rpm")), show(p))


def cas_path(sha):
    return os.path.join(CLUSTER.cache_dir, "cas", sha[:2], sha)


def test_altered_object():
    if "gen" not in STATE:
        return
    local, slurm = STATE["gen"]
    deps = STATE["deps"]
    victim = "c050"
    with open(os.path.join(slurm, "out/cache/packages", f"{victim}.json")) as f:
        built = json.load(f)["rpms"][0]["built"]
    blob = cas_path(built)
    if not check("altered: the package is in the cache", os.path.exists(blob), blob):
        return
    with open(blob, "r+b") as f:
        f.seek(200)
        b = f.read(1)
        f.seek(200)
        f.write(bytes([b[0] ^ 0xFF]))
    shutil.rmtree(os.path.join(slurm, "out"))
    p = slipway(slurm, "package", "--engine", "slurm")
    if not check("altered: exit 0", p.returncode == 0, show(p)):
        return
    check("altered: the damage is reported", re.search(rf"'{victim}'.*damaged", p.stderr), p.stderr[-2000:])
    check("altered: it was rebuilt", submitted(p) == 1 + len(descendants(deps, victim)) and
          re.search(rf"^built\s+{victim}\b", p.stdout, re.M), p.stdout[-1500:])
    with open(blob, "rb") as f:
        check("altered: the cache's copy was replaced", hashlib.sha256(f.read()).hexdigest() == built, blob)
    same_outputs("altered", slurm, local)


def small_project(dest, extra_cache=""):
    write_project(dest, "small", ".s1", {"s1": [], "s2": ["s1"], "s3": ["s2"]})
    add_cache(dest, extra_cache)


def test_local_layers():
    """A local build with the shared cache: push, fetch, push = false, and a
    cache that cannot be reached."""
    proj = os.path.join(BASE, "small-local")
    write_project(proj, "small", ".l1", {"s1": [], "s2": ["s1"], "s3": ["s2"]})
    toml = os.path.join(proj, "slipway.toml")
    with open(toml) as f:
        base = f.read()
    write(toml, base + f'\n[cache]\nurl = "{CLUSTER.cache_url}"\npush = false\n')
    p = slipway(proj, "package")
    keys = []
    for n in ("s1", "s2", "s3"):
        with open(os.path.join(proj, "out/cache/packages", f"{n}.json")) as f:
            keys.append(json.load(f)["key"])
    check("push = false: built, nothing put in the cache", p.returncode == 0 and
          not any(os.path.exists(os.path.join(CLUSTER.cache_dir, "ac", k[:2], k)) for k in keys), show(p))
    write(toml, base + f'\n[cache]\nurl = "{CLUSTER.cache_url}"\n')
    shutil.rmtree(os.path.join(proj, "out"))
    p = slipway(proj, "package")
    check("push: built and put in the cache", p.returncode == 0 and "3 built" in p.stdout and
          all(os.path.exists(os.path.join(CLUSTER.cache_dir, "ac", k[:2], k)) for k in keys), show(p))
    before = outputs(proj)
    shutil.rmtree(os.path.join(proj, "out"))
    p = slipway(proj, "package")
    check("fetch: all three from the shared cache, rpmbuild not run",
          p.returncode == 0 and "3 cached (3 from the shared cache)" in p.stdout and "rpmbuild ran 0 times" in p.stdout,
          show(p))
    check("fetch: the same bytes as built", outputs(proj) == before, "")
    write(toml, base + '\n[cache]\nurl = "http://127.0.0.1:9/nothing"\n')
    shutil.rmtree(os.path.join(proj, "out"))
    p = slipway(proj, "package")
    check("unreachable: built anyway, one warning", p.returncode == 0 and "3 built" in p.stdout and
          p.stderr.count("cannot be reached") == 1, show(p))


def test_buildroot():
    """Buildroot mode on the cluster: each job's buildroot holds what its
    component needs, from the shared cache (unsigned there, signed in a local
    build), and the keys agree with a local build's."""
    if os.geteuid() != 0:
        print("SKIP test_buildroot: the toolchain repository needs root (tests/toolchain/make-repo.py)")
        return
    p = subprocess.run([os.path.join(ROOT, "tests", "toolchain", "make-repo.py"), SLIPWAY,
                        os.path.join(BASE, "toolchain")], capture_output=True, text=True, timeout=900)
    if not check("buildroot: the toolchain repository", p.returncode == 0, show(p)):
        return
    repo = p.stdout.strip().splitlines()[-1]
    repo_key = glob.glob(os.path.join(repo, "RPM-GPG-KEY-*"))[0]
    deps = {"b1": [], "b2": ["b1"], "b3": ["b2"]}
    local = os.path.join(BASE, "br-local")
    slurm = os.path.join(BASE, "br-slurm")
    for proj in (local, slurm):
        write_project(proj, "brs", ".b1", deps)
        # b2 and b3 check that what they need is in their buildroot.
        for name, need in (("b2", "b1"), ("b3", "b2")):
            set_spec(proj, deps, name, build_extra=f"test -f /usr/share/{need}/data")
        write(os.path.join(proj, "macros.brs"), "%_dbpath /usr/lib/sysimage/rpm\n")
        with open(os.path.join(proj, "slipway.toml"), "a") as f:
            f.write(f"""
[build]
mode = "buildroot"
buildroot = ["bash", "coreutils", "rpm-build", "sed", "grep", "findutils", "brs-rpm-config"]

[repos.toolchain]
url = "file://{repo}"
gpg-key = "{repo_key}"

[components.brs-rpm-config]
version = "1"
summary = "macros"
license = "MIT"
arch = "noarch"

[[components.brs-rpm-config.files]]
source = "macros.brs"
path = "/usr/lib/rpm/macros.d/macros.brs"
mode = "0644"
""")
    add_cache(slurm)
    p = slipway(local, "package")
    if not check("buildroot: local build", p.returncode == 0, show(p)):
        return
    p = slipway(slurm, "package", "--engine", "slurm")
    if not check("buildroot: Slurm build", p.returncode == 0 and submitted(p) == 4, show(p)):
        return
    same_outputs("buildroot", slurm, local)
    # A local build with the shared cache computes the same keys from its
    # signed packages as the nodes did from unsigned ones: all fetched.
    again = os.path.join(BASE, "br-again")
    shutil.copytree(slurm, again, ignore=shutil.ignore_patterns("out"))
    p = slipway(again, "package")
    check("buildroot: a local build takes everything from the shared cache",
          p.returncode == 0 and "4 cached (4 from the shared cache)" in p.stdout, show(p))


def test_trusted_keys():
    proj = os.path.join(BASE, "small-signed")
    small_project(proj, 'key = "keys/cache.asc"\ntrusted-keys = ["keys/cache.pub.asc"]\n')
    p = slipway(proj, "package", "--engine", "slurm")
    if not check("trusted keys: Slurm build", p.returncode == 0 and submitted(p) == 3, show(p)):
        return
    with open(os.path.join(proj, "out/cache/packages/s3.json")) as f:
        key = json.load(f)["key"]
    manifest = os.path.join(CLUSTER.cache_dir, "ac", key[:2], key)
    check("trusted keys: the manifest is signed", os.path.exists(manifest + ".sig"), manifest)
    # A forged manifest: s3 made of s2's package (in the cache, right digest).
    with open(os.path.join(proj, "out/cache/packages/s2.json")) as f:
        s2 = json.load(f)["rpms"][0]
    with open(manifest) as f:
        m = json.load(f)
    m["rpms"][0]["sha256"] = s2["built"]
    m["rpms"][0]["size"] = os.path.getsize(cas_path(s2["built"]))
    with open(manifest, "w") as f:
        json.dump(m, f, indent=2)
    shutil.rmtree(os.path.join(proj, "out"))
    p = slipway(proj, "package")
    check("trusted keys: the forged manifest is refused and s3 built here",
          p.returncode == 0 and re.search(r"'s3'.*signature", p.stderr) and re.search(r"^built\s+s3\b", p.stdout, re.M),
          show(p))
    files = sorted(os.path.basename(f) for f in glob.glob(os.path.join(proj, "out/repo/Packages/*.rpm")))
    check("trusted keys: the repository holds s3's own package", files == [
        "s1-1.0-1.s1.noarch.rpm", "s2-1.0-1.s1.noarch.rpm", "s3-1.0-1.s1.noarch.rpm"], files)
    q = subprocess.run(["rpm", "-qp", "--qf", "%{NAME}", os.path.join(proj, "out/repo/Packages/s3-1.0-1.s1.noarch.rpm")],
                       capture_output=True, text=True)
    check("trusted keys: s3's package is s3", q.stdout == "s3", q.stdout + q.stderr)
    # A machine that only reads: the same project without the cache's
    # secret key takes what was signed, and puts nothing.
    reader = os.path.join(BASE, "small-reader")
    shutil.copytree(proj, reader, ignore=shutil.ignore_patterns("out", "cache.asc"))
    set_spec(reader, {"s1": [], "s2": ["s1"], "s3": ["s2"]}, "s3", version="7.0")
    p = slipway(reader, "package")
    with open(os.path.join(reader, "out/cache/packages/s3.json")) as f:
        key = json.load(f)["key"]
    check("reader: warned, s1 and s2 fetched, s3 built and not put in the cache",
          p.returncode == 0 and "is not on this machine" in p.stderr and
          "1 built, 2 cached (2 from the shared cache)" in p.stdout and
          not os.path.exists(os.path.join(CLUSTER.cache_dir, "ac", key[:2], key)), show(p))


def test_unprivileged():
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        print("SKIP test_unprivileged: needs root and setpriv")
        return
    nobody = 65534
    top = os.path.join(BASE, "nobody")
    proj = os.path.join(top, "small")
    small_project(proj)
    # Another dist: nothing of it is in the cache yet.
    with open(os.path.join(proj, "slipway.toml")) as f:
        text = f.read().replace('dist = ".s1"', 'dist = ".n1"')
    write(os.path.join(proj, "slipway.toml"), text)
    os.makedirs(os.path.join(BASE, "tmp-nobody"), exist_ok=True)
    for d in (top, os.path.join(BASE, "tmp-nobody")):
        for dirpath, _, files in os.walk(d):
            for n in [dirpath] + [os.path.join(dirpath, f) for f in files]:
                os.lchown(n, nobody, nobody)
    p = slipway(proj, "package", "--engine", "slurm", user=nobody)
    if not check("unprivileged: Slurm build as nobody", p.returncode == 0 and submitted(p) == 3, show(p)):
        return
    owners = {os.stat(f).st_uid for f in glob.glob(os.path.join(proj, "out/slurm/work/repo/Packages/*.rpm"))}
    check("unprivileged: the jobs ran as nobody", owners == {nobody}, owners)


def main():
    os.makedirs(os.path.join(BASE, "tmp"))
    CLUSTER.start()
    try:
        setup()
        tests = [test_example, test_generated, test_failure, test_slurmd_killed, test_interrupt, test_other_inputs,
                 test_altered_object,
                 test_local_layers, test_buildroot, test_trusted_keys, test_unprivileged]
        # SLURM_TEST_ONLY=name,name: a subset, while working on one.
        only = [n for n in os.environ.get("SLURM_TEST_ONLY", "").split(",") if n]
        for t in tests:
            if not only or t.__name__ in only:
                run_test(t)
    finally:
        CLUSTER.stop()
    shutil.rmtree(BASE, ignore_errors=True)
    finish("slurm")


main()
