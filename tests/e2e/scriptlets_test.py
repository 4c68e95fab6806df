#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`slipway image` runs the packages' scriptlets as rpm does, in the sandbox.

The test packages are built from the specs in tests/e2e/scriptlets/ by the
suite: a filesystem package with a Lua %pretrans, the build host's glibc
(%post -p /sbin/ldconfig), useradd and groupadd, busybox, a library, a
daemon whose %pre makes its system user, file triggers, a trigger, a
%posttrans, a scriptlet that tries to leave the sandbox, a failing %pre and
a failing %post; and two native components (written by slipway, not
rpmbuild) with /bin/sh, ash and Lua file triggers. The image is checked
with the real tools: tar, ldconfig -p
run in the unpacked image, and, as root, rpm itself installing the same
packages into a root of its own (its file trigger log must be ours).
The same image is made as root and as nobody, byte for byte.

Usage: scriptlets_test.py SLIPWAY SOURCE_ROOT"""
import glob
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import RecordingServer, check, finish, read, run_test, show, write

SLIPWAY, ROOT = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
SPECS = os.path.join(ROOT, "tests", "e2e", "scriptlets")

for needed in ["rpmbuild", "rpm", "tar", "zstd", "gcc", "setpriv", "unshare"]:
    if not shutil.which(needed):
        print(f"SKIP: {needed} missing")
        sys.exit(77)
if not os.path.exists("/bin/busybox"):
    print("SKIP: /bin/busybox missing (busybox-static)")
    sys.exit(77)

SDE = 1700000000
BASE = tempfile.mkdtemp(prefix="slipway-scriptlets-test-")
os.chmod(BASE, 0o755)
IS_ROOT = os.geteuid() == 0
CANARY_DIR = os.path.join(BASE, "host")
CANARY = os.path.join(CANARY_DIR, "canary")
NOBODY = 65534

PACKAGES = ["filesystem", "busybox", "glibc", "shadow-utils", "libdemo", "demo-server", "indexer", "docs-a", "nosy",
            "bad-pre", "flaky-post", "slow-post"]
FULL = ["filesystem", "glibc", "busybox", "shadow-utils", "libdemo", "demo-server", "indexer", "docs-a", "nosy"]


SERVER = None


def slipway(*args, user=None, timeout=600, env=None):
    cmd = [SLIPWAY, *args]
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    e = dict(os.environ, TMPDIR=os.path.join(BASE, "tmp" if user is None else "tmp-nobody"), **(env or {}))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e)


def project_toml(images):
    comps = "\n".join(f'[components.{n}]\nspec = "components/{n}/{n}.spec"\n' for n in PACKAGES)
    return f"""[project]
name = "scriptlets"
version = "1"
source-date-epoch = {SDE}

[build]
host-provides = ["gcc"]

{comps}
{images}"""


IMAGES = f"""[images.full]
formats = ["tar"]
packages = {json.dumps(FULL)}

[images.bad]
formats = ["tar"]
packages = ["filesystem", "busybox", "bad-pre"]

[images.flaky]
formats = ["tar"]
packages = ["filesystem", "busybox", "flaky-post"]

[images.flaky-strict]
formats = ["tar"]
packages = ["filesystem", "busybox", "flaky-post"]
scriptlets = "strict"

[images.skipped]
formats = ["tar"]
packages = ["filesystem", "busybox", "flaky-post"]
scriptlets = "skip"

[images.old-key]
formats = ["tar"]
packages = ["filesystem", "busybox", "flaky-post"]
scriptlets = "fail"

[images.slow]
formats = ["tar"]
packages = ["filesystem", "busybox", "slow-post"]
scriptlet-timeout = 1

[images.none]
formats = ["tar"]
packages = ["docs-plain"]

[images.native-triggers]
formats = ["tar"]
packages = ["filesystem", "busybox", "trig-data"]
"""

# Native components with file triggers (slipway writes their headers, not
# rpmbuild): trig-native watches /usr/lib/trig.d/ with a %transfiletriggerin
# (/bin/sh), a %filetriggerin run by another program (busybox's ash) and a
# Lua %filetriggerin, and ships a file there itself; trig-data puts two
# files there and one elsewhere. Each trigger appends what it saw to a log.
NATIVE = ["trig-native", "trig-data"]
NATIVE_LOG = "/var/lib/trig-native.log"
NATIVE_TOML = f"""
[components.trig-native]
version = "1"
summary = "Watches /usr/lib/trig.d"
license = "MIT"
arch = "noarch"
requires = ["busybox"]

[[components.trig-native.files]]
source = "native/own.conf"
path = "/usr/lib/trig.d/own.conf"

[[components.trig-native.file-triggers]]
when = "transfiletriggerin"
paths = ["/usr/lib/trig.d/"]
body = \"\"\"
echo "transfiletriggerin args:$*" >> {NATIVE_LOG}
cat >> {NATIVE_LOG}
\"\"\"

[[components.trig-native.file-triggers]]
when = "filetriggerin"
priority = 20000
program = "/usr/bin/ash"
paths = ["/usr/lib/trig.d/"]
body = \"\"\"
echo "filetriggerin ash args:$*" >> {NATIVE_LOG}
cat >> {NATIVE_LOG}
\"\"\"

[[components.trig-native.file-triggers]]
when = "filetriggerin"
priority = 100
program = "<lua>"
paths = ["/usr/lib/trig.d/", "/usr/share/nothing-here"]
body = \"\"\"
local log = assert(io.open("{NATIVE_LOG}", "a"))
log:write("filetriggerin lua arg:", tostring(arg[2]), "\\\\n")
local f = rpm.next_file()
while f do
  log:write("lua ", f, "\\\\n")
  f = rpm.next_file()
end
log:close()
\"\"\"

[components.trig-data]
version = "1"
summary = "Files under /usr/lib/trig.d"
license = "MIT"
arch = "noarch"
requires = ["trig-native"]

[[components.trig-data.files]]
source = "native/a.conf"
path = "/usr/lib/trig.d/a.conf"

[[components.trig-data.files]]
source = "native/b.conf"
path = "/usr/lib/trig.d/b.conf"

[[components.trig-data.files]]
source = "native/readme"
path = "/usr/share/trig-data/readme"
"""

PROJ = None
PORT = None


def setup():
    global PROJ, PORT
    os.makedirs(os.path.join(BASE, "tmp"))
    os.makedirs(os.path.join(BASE, "tmp-nobody"))
    os.chown(os.path.join(BASE, "tmp-nobody"), NOBODY, NOBODY) if IS_ROOT else None
    os.makedirs(CANARY_DIR)
    write(CANARY, "the host's canary\n")
    global SERVER
    SERVER = RecordingServer()
    PORT = SERVER.port

    d = os.path.join(BASE, "proj")
    for n in PACKAGES:
        os.makedirs(os.path.join(d, "components", n))
        shutil.copyfile(os.path.join(SPECS, n + ".spec"), os.path.join(d, "components", n, n + ".spec"))
    write(os.path.join(d, "components", "nosy", "nosy.conf"), f"port={PORT}\ncanary={CANARY}\n")
    # A package without scriptlets, for the image that must not stage anything.
    write(os.path.join(d, "components", "docs-plain", "docs-plain.spec"), """Name: docs-plain
Version: 1
Release: 1
Summary: No scriptlets
License: MIT
BuildArch: noarch

%description
docs-plain.

%install
mkdir -p %{buildroot}/usr/share/plain
echo plain > %{buildroot}/usr/share/plain/file

%files
/usr/share/plain
""")
    for f in ["own.conf", "a.conf", "b.conf", "readme"]:
        write(os.path.join(d, "native", f), f + "\n")
    write(os.path.join(d, "slipway.toml"), project_toml(IMAGES) +
          '\n[components.docs-plain]\nspec = "components/docs-plain/docs-plain.spec"\n' + NATIVE_TOML)
    p = slipway("-C", d, "package", timeout=1200)
    if not check("setup: slipway package builds the test packages", p.returncode == 0, show(p)):
        return False
    PROJ = d
    return True


def image_tar(proj, image, name=None):
    """The image's tar.zst, decompressed beside the test's files."""
    out = os.path.join(BASE, f"{name or image}.tar")
    subprocess.run(["zstd", "-q", "-d", "-f", "-o", out, os.path.join(proj, "out", "images", image + ".tar.zst")],
                   check=True)
    return out


def members(tar_path):
    with tarfile.open(tar_path) as t:
        return {m.name.lstrip("./").rstrip("/"): m for m in t.getmembers()}


def member_text(tar_path, name):
    with tarfile.open(tar_path) as t:
        for m in t.getmembers():
            if m.name.lstrip("./") == name:
                return t.extractfile(m).read().decode()
    return None


def unpack(tar_path, dest):
    os.makedirs(dest)
    # --no-same-owner: any user can unpack it; ldconfig reads, it needs no owners.
    subprocess.run(["tar", "-xf", tar_path, "-C", dest, "--no-same-owner", "--no-same-permissions"], check=True,
                   capture_output=True)
    for dirpath, dirnames, filenames in os.walk(dest):
        for n in dirnames:
            os.chmod(os.path.join(dirpath, n), 0o755)


def test_full():
    p = slipway("-C", PROJ, "--json", "image", "full")
    if not check("full: exit 0", p.returncode == 0, show(p)):
        return
    img = json.loads(p.stdout)["images"][0]
    check("full: scriptlets ran (json scriptlets_run)", img.get("scriptlets_run", 0) >= 8, img)
    check("full: what a scriptlet printed is shown, as rpm shows it",
          re.search(r"note: .*package indexer-1-1\.noarch: %posttrans printed:\n\s+indexer: index rebuilt", p.stderr)
          is not None, p.stderr)
    check("full: nothing left unrun", img.get("scriptlets_not_run") == [], img)
    tar = image_tar(PROJ, "full")
    m = members(tar)

    # The Lua %pretrans ran in the empty root.
    text = member_text(tar, "etc/pretrans-lua") or ""
    check("lua %pretrans: wrote its file with rpm.expand and posix.mkdir",
          text.startswith("lua pretrans ran in /etc with arg"), repr(text))

    # %post -p /sbin/ldconfig: the cache, read by ldconfig -p in the unpacked image.
    check("ldconfig: /etc/ld.so.cache made", "etc/ld.so.cache" in m, sorted(m)[:20])
    check("ldconfig: the soname link it makes", "usr/lib64/libdemo.so.1" in m and m["usr/lib64/libdemo.so.1"].issym(),
          [k for k in m if "libdemo" in k])
    u = os.path.join(BASE, "unpacked-full")
    unpack(tar, u)
    q = subprocess.run(["unshare", "-r", "chroot", u, "/usr/sbin/ldconfig", "-p"], capture_output=True, text=True)
    check("ldconfig -p in the image lists libdemo.so.1 and libc.so.6", q.returncode == 0 and
          re.search(r"libdemo\.so\.1 .*=> /usr/lib64/libdemo\.so\.1", q.stdout) is not None and
          "libc.so.6" in q.stdout, show(q))

    # %pre made the system user and group; %post chowned to them; the file the
    # package owns by name was mapped after %pre.
    passwd = member_text(tar, "etc/passwd") or ""
    group = member_text(tar, "etc/group") or ""
    mu = re.search(r"^demo:x:(\d+):(\d+):Demo server:/var/lib/demo:/sbin/nologin$", passwd, re.M)
    mg = re.search(r"^demo:x:(\d+):", group, re.M)
    if check("%pre: useradd/groupadd made demo", mu is not None and mg is not None, passwd + group):
        uid, gid = int(mu.group(1)), int(mg.group(1))
        check("%pre: a system id (below 1000)", 0 < uid < 1000 and gid == int(mu.group(2)), (uid, gid))
        data = m.get("var/lib/demo/data")
        check("%post: chown demo:demo and chmod 0750 reached the image", data is not None and data.uid == uid and
              data.gid == gid and (data.mode & 0o7777) == 0o750, data and (data.uid, data.gid, oct(data.mode)))
        owned = m.get("var/lib/demo/owned.conf")
        check("unpack after %pre: %attr(,demo,demo) maps to the new user", owned is not None and owned.uid == uid and
              owned.gid == gid, owned and (owned.uid, owned.gid))
        q = subprocess.run(["tar", "-tvf", tar, "--numeric-owner", "./var/lib/demo/data"], capture_output=True,
                           text=True)
        check("tar tv shows the owner", f"{uid}/{gid}" in q.stdout, show(q))
    shadow = m.get("etc/shadow")
    check("/etc/shadow keeps mode 0000 and has demo", shadow is not None and (shadow.mode & 0o7777) == 0 and
          re.search(r"^demo:", member_text(tar, "etc/shadow") or "", re.M) is not None, shadow and oct(shadow.mode))

    # File triggers, the trigger and %posttrans, in rpm's order.
    log = member_text(tar, "var/lib/indexer/log") or ""
    lines = log.splitlines()
    check("file trigger: set off by docs-a with exactly its files under the prefix",
          "filetriggerin" in log and "/usr/share/demo-docs/a1.txt\n/usr/share/demo-docs/a2.txt\n" in log and
          "docs-a/readme" not in log, log)
    order = [ln.split()[0] for ln in lines if not ln.startswith("/")]
    check("order: %filetriggerin, %triggerin, %posttrans, %transfiletriggerin",
          order == ["filetriggerin", "triggerin", "posttrans", "transfiletriggerin"], order)
    check("%triggerin gets $1 $2 = 1 1", "triggerin docs-a args:1 1" in log, log)
    check("%posttrans saw every package's files", re.search(r"^posttrans args:\S* docs:a1\.txt a2\.txt", log, re.M)
          is not None, log)

    # The sandbox held.
    res = member_text(tar, "var/lib/nosy/results") or ""
    check("sandbox: no network (the host's loopback unreachable)", "net: unreachable" in res and not SERVER.hits,
          (res, SERVER.hits))
    check("sandbox: host file not readable, not found by any path", "read: no" in res and "found:" not in res, res)
    check("sandbox: host file not writable", "write: no" in res and "write via proc: no" in res, res)
    check("sandbox: the canary is untouched", read(CANARY) == b"the host's canary\n" and
          os.listdir(CANARY_DIR) == ["canary"], os.listdir(CANARY_DIR))
    check("sandbox: no interface up", "links up: 0" in res, res)
    check("sandbox: its own hostname", re.search(r"^hostname: localhost$", res, re.M) is not None, res)
    check("sandbox: its own PID namespace (a handful of processes)", "processes: fewer than 10" in res, res)
    check("sandbox: uid 0 inside", "uid: 0" in res, res)
    check("sandbox: nothing of it is left in the image", not any(k.startswith(("proc/", "dev/")) for k in m),
          [k for k in m if k.startswith(("proc/", "dev/"))])

    # Times: what scriptlets made is clamped to SOURCE_DATE_EPOCH.
    late = [k for k, v in m.items() if v.mtime > SDE]
    check("times: nothing after SOURCE_DATE_EPOCH", not late, late[:10])
    check("times: files the scriptlets made have SOURCE_DATE_EPOCH", m["etc/ld.so.cache"].mtime == SDE,
          m["etc/ld.so.cache"].mtime)


def test_same_as_rpm():
    """rpm itself installs the same packages into a root of its own (as root:
    rpm chroots to run scriptlets): the indexer's log, which records the
    order, arguments and file lists of the triggers, must be ours."""
    if not IS_ROOT:
        print("skip same_as_rpm: rpm --root needs root")
        return
    rpms = []
    for n in FULL:
        rpms += glob.glob(os.path.join(PROJ, "out", "repo", "Packages", f"{n}-1-1.*.rpm"))
    r = os.path.join(BASE, "rpm-root")
    os.makedirs(r)
    q = subprocess.run(["rpm", "--root", r, "--dbpath", "/usr/lib/sysimage/rpm", "--nosignature", "--noplugins",
                        "--nodeps", "-i", *sorted(rpms, key=lambda p: FULL.index(os.path.basename(p).rsplit("-1-1.", 1)[0]))],
                       capture_output=True, text=True, timeout=300, env=dict(os.environ, SOURCE_DATE_EPOCH=str(SDE)))
    if not check("rpm --root installs the packages", q.returncode == 0, show(q)):
        return
    ours = member_text(image_tar(PROJ, "full"), "var/lib/indexer/log")
    with open(os.path.join(r, "var/lib/indexer/log")) as f:
        theirs = f.read()
    check("the trigger log is rpm's, line for line", ours == theirs, f"ours:\n{ours}\nrpm's:\n{theirs}")
    tar = image_tar(PROJ, "full", "full-vs-rpm")
    u = os.path.join(BASE, "unpacked-vs-rpm")
    unpack(tar, u)

    def cache(root):
        q = subprocess.run(["ldconfig", "-p", "-C", os.path.join(root, "etc/ld.so.cache")], capture_output=True,
                           text=True)
        # Without the first line, which names the cache file.
        return q.stdout.split("\n", 1)[1] if q.returncode == 0 else f"exit {q.returncode}: {q.stderr}"
    check("ld.so.cache: the same entries as rpm's", cache(u) == cache(r), f"ours:\n{cache(u)}\nrpm's:\n{cache(r)}")
    for f in ["etc/passwd", "etc/group", "etc/pretrans-lua", "var/lib/nosy/results"]:
        with open(os.path.join(r, f)) as a, open(os.path.join(u, f)) as b:
            theirs, ours = a.read(), b.read()
        if f == "var/lib/nosy/results":
            # rpm runs it as root on the host: it reaches the network and sees
            # more; only the lines that say who ran it are alike.
            theirs = "".join(ln for ln in theirs.splitlines(True) if ln.startswith("uid:"))
            ours = "".join(ln for ln in ours.splitlines(True) if ln.startswith("uid:"))
        check(f"{f}: as rpm makes it", ours == theirs, f"ours:\n{ours}\nrpm's:\n{theirs}")
    st = os.stat(os.path.join(r, "var/lib/demo/data"))
    m = members(tar)
    check("var/lib/demo/data: the owner and mode rpm gives it", (m["var/lib/demo/data"].uid, m["var/lib/demo/data"].gid,
          m["var/lib/demo/data"].mode & 0o7777) == (st.st_uid, st.st_gid, st.st_mode & 0o7777),
          (m["var/lib/demo/data"].uid, st.st_uid))


def test_native_file_triggers():
    """The file triggers slipway writes into native packages run in the
    image: each sees exactly the files under its prefix, the Lua one too,
    and the one with another program runs with it. As root, rpm itself
    installing the same packages must write the same log."""
    p = slipway("-C", PROJ, "--json", "image", "native-triggers")
    if not check("native triggers: exit 0", p.returncode == 0, show(p)):
        return
    img = json.loads(p.stdout)["images"][0]
    check("native triggers: nothing left unrun", img.get("scriptlets_not_run") == [], img)
    ours = member_text(image_tar(PROJ, "native-triggers"), NATIVE_LOG.lstrip("/")) or ""
    check("native %transfiletriggerin: ran once, with every file under the prefix and none elsewhere",
          ours.count("transfiletriggerin args:") == 1 and
          "/usr/lib/trig.d/a.conf\n/usr/lib/trig.d/b.conf\n" in ours and "/usr/lib/trig.d/own.conf\n" in ours and
          "readme" not in ours, ours)
    check("native %filetriggerin -p /usr/bin/ash: ran, with trig-data's files on its input",
          "filetriggerin ash args:0\n/usr/lib/trig.d/a.conf\n/usr/lib/trig.d/b.conf\n" in ours, ours)
    check("native %filetriggerin -p <lua>: ran, rpm.next_file() gave the files",
          "filetriggerin lua arg:0\nlua /usr/lib/trig.d/a.conf\nlua /usr/lib/trig.d/b.conf\n" in ours, ours)
    if not IS_ROOT:
        print("skip native triggers as rpm: rpm --root needs root")
        return
    order = ["filesystem", "busybox", *NATIVE]
    rpms = []
    for n in order:
        rpms += glob.glob(os.path.join(PROJ, "out", "repo", "Packages", f"{n}-1-1.*.rpm"))
    r = os.path.join(BASE, "rpm-root-native")
    os.makedirs(r)
    q = subprocess.run(["rpm", "--root", r, "--dbpath", "/usr/lib/sysimage/rpm", "--nosignature", "--noplugins",
                        "--nodeps", "-i", *rpms], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, SOURCE_DATE_EPOCH=str(SDE)))
    if not check("native triggers: rpm --root installs the packages", q.returncode == 0 and len(rpms) == 4,
                  show(q) + repr(rpms)):
        return
    with open(os.path.join(r, NATIVE_LOG.lstrip("/"))) as f:
        theirs = f.read()
    check("native triggers: the log is rpm's, line for line", ours == theirs,
          f"ours:\n{ours}\nrpm's:\n{theirs}")


def test_root_and_nobody():
    """The same image as root and as nobody, byte for byte, from another
    directory; the host is untouched."""
    if not IS_ROOT:
        print("skip root_and_nobody: needs root to become nobody")
        return
    other = os.path.join(BASE, "elsewhere", "copy")
    shutil.copytree(PROJ, other, symlinks=True)
    shutil.rmtree(os.path.join(other, "out", "images"), ignore_errors=True)
    for dirpath, dirnames, filenames in os.walk(os.path.join(BASE, "elsewhere")):
        os.chown(dirpath, NOBODY, NOBODY)
        for f in filenames:
            os.lchown(os.path.join(dirpath, f), NOBODY, NOBODY)
    before = sorted(os.listdir(CANARY_DIR))
    p = slipway("-C", other, "image", "full", user=NOBODY)
    if not check("nobody: exit 0", p.returncode == 0, show(p)):
        return
    a = read(os.path.join(PROJ, "out", "images", "full.tar.zst"))
    b = read(os.path.join(other, "out", "images", "full.tar.zst"))
    check("root and nobody: byte-identical tar", a == b, f"{len(a)} vs {len(b)} bytes")
    check("nobody: the host is untouched", sorted(os.listdir(CANARY_DIR)) == before and
          read(CANARY) == b"the host's canary\n")
    left = glob.glob(os.path.join(BASE, "tmp-nobody", "*")) + glob.glob(os.path.join(BASE, "tmp", "*"))
    check("no scratch left behind (staging directories removed)", not left, left)


def no_outputs(label, image):
    left = glob.glob(os.path.join(PROJ, "out", "images", image + ".*"))
    check(f"{label}: no output written", not left, left)


def test_failures():
    p = slipway("-C", PROJ, "image", "bad")
    check("failing %pre: exit 1", p.returncode == 1, show(p))
    check("failing %pre: one error naming package, scriptlet, exit status and output",
          re.search(r"error: .*package bad-pre-1-1\.noarch: %prein scriptlet failed, exit status 3; its output:\n"
                    r"\s+bad-pre refuses: the disk is not what it expects", p.stderr) is not None, p.stderr)
    no_outputs("failing %pre", "bad")

    p = slipway("-C", PROJ, "image", "flaky")
    check("failing %post: a warning, the image is written", p.returncode == 0 and
          re.search(r"warning: .*flaky-post-1-1\.noarch: %post scriptlet failed, exit status 2; its output:\n"
                    r"\s+flaky post gives up", p.stderr) is not None and
          os.path.exists(os.path.join(PROJ, "out", "images", "flaky.tar.zst")), show(p))
    p = slipway("-C", PROJ, "image", "flaky-strict")
    check("failing %post with scriptlets = \"strict\": an error, nothing written", p.returncode == 1 and
          re.search(r"error: .*flaky-post-1-1\.noarch: %post scriptlet failed, exit status 2", p.stderr) is not None,
          show(p))
    no_outputs("strict", "flaky-strict")
    p = slipway("-C", PROJ, "image", "old-key")
    check("scriptlets = \"fail\" (before scriptlets ran): loads, read as \"strict\" with a warning",
          p.returncode == 1 and re.search(r"warning: .*\"fail\" is from before slipway ran scriptlets.*\"strict\"",
                                          p.stderr) is not None and "%post scriptlet failed" in p.stderr, show(p))
    t0 = time.monotonic()
    p = slipway("-C", PROJ, "image", "slow")
    took = time.monotonic() - t0
    check("scriptlet-timeout: the hanging %post is killed with what it started, a warning",
          p.returncode == 0 and took < 20 and re.search(r"warning: .*slow-post-1-1\.noarch: %post scriptlet failed: "
                                                        r"killed after 1 s \(scriptlet-timeout\); its output:\n"
                                                        r"\s+slow post starts waiting", p.stderr) is not None,
          f"{took:.1f}s\n{show(p)}")
    p = slipway("-C", PROJ, "--json", "image", "skipped")
    img = json.loads(p.stdout)["images"][0] if p.returncode == 0 else {}
    check("scriptlets = \"skip\": a warning names the packages, nothing runs", p.returncode == 0 and
          re.search(r"warning: .*not run \(scriptlets = \"skip\"\): .*flaky-post-1-1\.noarch", p.stderr) is not None
          and img.get("scriptlets_run") == 0 and "flaky-post-1-1.noarch" in img.get("scriptlets_not_run", []), show(p))


def test_no_scriptlets():
    """An image whose packages have no scriptlet stages nothing: no sandbox."""
    p = slipway("-C", PROJ, "--json", "image", "none")
    img = json.loads(p.stdout)["images"][0] if p.returncode == 0 else {}
    check("no scriptlets: exit 0, nothing ran", p.returncode == 0 and img.get("scriptlets_run") == 0 and
          img.get("scriptlets_not_run") == [], show(p))


def test_foreign_arch():
    """An image for another architecture whose packages have scriptlets: one
    clear error, unless binfmt_misc runs that architecture's programs (then
    this machine can run them and the check does not apply)."""
    if glob.glob("/proc/sys/fs/binfmt_misc/qemu-aarch64*"):
        print("skip foreign_arch: a binfmt_misc handler runs aarch64 programs here")
        return
    d = os.path.join(BASE, "arm")
    write(os.path.join(d, "slipway.toml"), f"""[project]
name = "arm"
version = "1"
arch = "aarch64"
source-date-epoch = {SDE}

[repos.x]
url = "file://{PROJ}/out/repo"
gpgcheck = false

[images.a]
formats = ["tar"]
packages = ["filesystem"]
""")
    p = slipway("-C", d, "image", "a")
    check("foreign architecture: one error naming both and binfmt_misc, nothing written", p.returncode == 1 and
          re.search(r"error: image 'a': its packages have scriptlets, which cannot run: the image is for aarch64, "
                    r"this machine is x86_64, and no binfmt_misc handler runs aarch64 programs", p.stderr) is not None
          and not glob.glob(os.path.join(d, "out", "images", "a.*")), show(p))


start = time.monotonic()
try:
    if setup():
        for t in [test_full, test_same_as_rpm, test_native_file_triggers, test_root_and_nobody, test_failures,
                  test_no_scriptlets, test_foreign_arch]:
            t0 = time.monotonic()
            run_test(t)
            print(f"time {t.__name__}: {time.monotonic() - t0:.2f}s")
finally:
    shutil.rmtree(BASE, ignore_errors=True)

finish("scriptlets", f" ({time.monotonic() - start:.1f}s)")
