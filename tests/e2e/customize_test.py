#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`slipway customize` and `slipway convert` on the bundled example's disk
(examples/minimal, built here with `slipway build`), checked with the real
tools:

- a TOML customization (host name, a user with an SSH key, a file replacing a
  packaged one, kernel command line) of vm.vhdx written as vhd and qcow2:
  qemu-img check, the VHD footer, sfdisk (the same partitions, GUIDs and
  places as the input), e2fsck and fsck.vfat clean, debugfs (the changed files
  and the user's home; every file nothing touched byte-identical to the
  input's, with the same mode and owner), the BLS entry and grub.cfg; both boot
  under OVMF and the qcow2 under SeaBIOS, and the example's init prints the host
  name, the file and the user on the serial console, the kernel the command
  line; the input's SHA-256 is unchanged; the same customization from another
  directory gives the same bytes; the SBOM beside each output (OUTPUT.spdx.json)
  validates against the SPDX 2.3 schema, lists what rpm -qa lists in the output
  (busybox installed, with the SHA-256 of its file as fetched; motd gone) and the
  packages inspect --sbom lists; sbom = "none" writes none;
- Image Customizer's YAML (host name, user, file, kernel command line, a
  service, a package removed) gives the bytes the same changes in TOML give; an unknown key in it
  is one error at file:line:column;
- reset-uuids (new GUIDs everywhere, fstab and the boot entries follow; boots)
  and a larger size (the root grows; e2fsck clean);
- bad input, each one error, exit 1 and no output: a truncated image, a
  corrupt GPT (both copies), an xfs root, an unknown key (file:line:column), a
  service no package installs, an unsigned package with gpgcheck on, a removal of what is not installed;
- [[scripts]] in the sandbox: a post-customization script (a file, with
  arguments and env) writes a file, chowns it, removes another and prints; a
  finalize script (inline) sees what it did; debugfs shows the changes with
  their owner and everything else as it was; the scripts reach neither the
  test's HTTP server on 127.0.0.1 nor the host's files; a failing script is
  one error with its status and output, and no output; as nobody, the same
  bytes;
- as an unprivileged user (setpriv) when run as root.

Usage: customize_test.py SLIPWAY SOURCE_ROOT"""
import concurrent.futures
import hashlib
import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import RecordingServer, check, extract_partition, finish, partition_table, read, run_test, write

SLIPWAY, ROOT = os.path.abspath(sys.argv[1]), sys.argv[2]
for needed in ["rpmbuild", "qemu-system-x86_64", "qemu-img", "sfdisk", "e2fsck", "debugfs", "fsck.vfat", "mtype", "xorriso"]:
    if not shutil.which(needed):
        print(f"SKIP: {needed} missing")
        sys.exit(77)
OVMF_CODE, OVMF_VARS = "/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"
try:
    import jsonschema
except ImportError:
    jsonschema = None
BASE = tempfile.mkdtemp(prefix="slipway-customize-test-")
os.chmod(BASE, 0o755)
SDE = "1700000000"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHNsaXB3YXktY3VzdG9taXplLXRlc3Qta2V5 alice@test"
STATE = {}


def run(*args, timeout=600, cwd=None, user=None, env=None):
    e = dict(os.environ, LC_ALL="C", TZ="UTC", TMPDIR=BASE, SOURCE_DATE_EPOCH=SDE)
    if env:
        e.update(env)
    argv = list(args)
    if user:
        argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *argv]
    return subprocess.run(argv, capture_output=True, timeout=timeout, env=e, cwd=cwd)


def text(p):
    return f"exit {p.returncode}\nstdout: {p.stdout[-1500:]!r}\nstderr: {p.stderr[-2500:]!r}"


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def to_raw(img, fmt, dest):
    p = run("qemu-img", "convert", "-f", fmt, "-O", "raw", img, dest)
    return p.returncode == 0


def parts_of(raw, tag):
    """The ESP and root of a raw disk, each extracted to a file."""
    t = partition_table(raw)
    esp, root = os.path.join(BASE, tag + ".esp"), os.path.join(BASE, tag + ".root")
    extract_partition(raw, t["partitions"][0], esp)
    extract_partition(raw, t["partitions"][1], root)
    return t, esp, root


def debugfs(img, cmd):
    p = run("debugfs", "-R", cmd, img)
    return p.stdout.decode("utf-8", "replace")


def rdump(img, dest):
    os.makedirs(dest, exist_ok=True)
    run("debugfs", "-R", f"rdump / {dest}", img)


def listing(img):
    """path -> (mode, uid, gid, contents sha256 or link target) of every file, through debugfs."""
    out = {}
    d = os.path.join(BASE, "dump-" + os.path.basename(img))
    shutil.rmtree(d, ignore_errors=True)
    rdump(img, d)
    for top, dirs, files in os.walk(d):
        for n in dirs + files:
            full = os.path.join(top, n)
            rel = "/" + os.path.relpath(full, d)
            st = os.lstat(full)
            if os.path.islink(full):
                what = "-> " + os.readlink(full)
            elif os.path.isfile(full):
                what = sha256(full)
            else:
                what = "dir"
            out[rel] = (st.st_mode, what)
    return out


def boot(disk, fmt, log, firmware="ovmf", how="disk"):
    args = ["qemu-system-x86_64", "-m", "512", "-nographic", "-no-reboot", "-nic", "none"]
    if firmware == "ovmf":
        vars_fd = log + ".vars.fd"
        shutil.copy(OVMF_VARS, vars_fd)
        args += ["-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
                 "-drive", f"if=pflash,format=raw,file={vars_fd}"]
    if how == "cdrom":
        args += ["-cdrom", disk, "-boot", "d"]
    else:
        args += ["-drive", f"file={disk},format={fmt},if={'virtio' if firmware == 'ovmf' else 'ide'},snapshot=on"]
    try:
        p = run(*args, timeout=300)
        out = p.stdout
    except subprocess.TimeoutExpired as e:
        out = e.stdout or b""
    with open(log, "wb") as f:
        f.write(out)
    return out


def customize(cfg, image, out, *extra, cwd=None, user=None, env=None):
    return run(SLIPWAY, "customize", "--image-file", image, "--config", cfg, "--output-image-file", out, *extra,
               cwd=cwd, user=user, env=env)


CONFIG = """\
hostname = "customized-host"
kernel-cmdline = "slipway.customized=1"
packages = ["busybox"]
remove = ["motd"]

[[users]]
name = "alice"
ssh-keys = ["alice.pub"]

[[files]]
source = "motd"
path = "/etc/motd"
mode = "0644"

[services]
enable = ["hello.service"]

[repos.example]
url = "file://@PROJ@/out/repo"
gpg-key = "@PROJ@/out/repo/RPM-GPG-KEY-azl-mini"
"""


def rpm_qa(root_img):
    """The packages of a root file system image's rpm database, as rpm lists them."""
    d = os.path.join(BASE, "rpmdb-" + os.path.basename(root_img))
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    run("debugfs", "-R", f"rdump /usr/lib/sysimage/rpm {d}", root_img)
    p = run("rpm", "-qa", "--dbpath", os.path.join(d, "rpm"), "--qf", "%{NAME}\\n")
    return sorted(p.stdout.decode().split()) if p.returncode == 0 else None


def test_build():
    proj = os.path.join(BASE, "example")
    shutil.copytree(os.path.join(ROOT, "examples", "minimal"), proj, ignore=shutil.ignore_patterns("out"))
    p = run(SLIPWAY, "-C", proj, "build", timeout=900)
    check("build: slipway build of the example exits 0", p.returncode == 0, text(p))
    vhdx = os.path.join(proj, "out", "images", "vm.vhdx")
    check("build: vm.vhdx written", os.path.isfile(vhdx))
    STATE["vhdx"] = vhdx
    STATE["vhdx_sha"] = sha256(vhdx)
    cfgdir = os.path.join(BASE, "cfg")
    os.makedirs(cfgdir)
    write(os.path.join(cfgdir, "custom.toml"), CONFIG.replace("@PROJ@", proj))
    STATE["proj"] = proj
    write(os.path.join(cfgdir, "alice.pub"), KEY + "\n")
    write(os.path.join(cfgdir, "motd"), "customized by slipway\n")
    for n in os.listdir(cfgdir):
        os.chmod(os.path.join(cfgdir, n), 0o644)
    os.chmod(cfgdir, 0o755)
    STATE["cfgdir"] = cfgdir
    orig = os.path.join(BASE, "orig.raw")
    to_raw(vhdx, "vhdx", orig)
    STATE["orig_table"], STATE["orig_esp"], STATE["orig_root"] = parts_of(orig, "orig")
    STATE["orig_pkgs"] = rpm_qa(STATE["orig_root"])
    check("build: rpm lists the example vm's packages", STATE["orig_pkgs"] and "motd" in STATE["orig_pkgs"],
          STATE["orig_pkgs"])


def test_customize():
    cfg = os.path.join(STATE["cfgdir"], "custom.toml")
    outs = {}
    for fmt, ext in (("vpc", "vhd"), ("qcow2", "qcow2")):
        out = os.path.join(BASE, f"custom.{ext}")
        t = time.monotonic()
        p = customize(cfg, STATE["vhdx"], out)
        print(f"     (customize to {ext}: {time.monotonic() - t:.2f} s)")
        check(f"customize: to {ext} exits 0", p.returncode == 0, text(p))
        outs[ext] = out
    STATE["outs"] = outs
    check("customize: the input's SHA-256 is unchanged", sha256(STATE["vhdx"]) == STATE["vhdx_sha"])
    p = run("qemu-img", "check", "-f", "qcow2", outs["qcow2"])
    check("customize: qemu-img check of the qcow2 is clean", p.returncode == 0, text(p))
    with open(outs["vhd"], "rb") as f:
        f.seek(-512, os.SEEK_END)
        ft = f.read(512)
    size = struct.unpack(">Q", ft[48:56])[0]
    check("customize: the VHD has a fixed-disk footer of a whole MiB", ft[:8] == b"conectix" and
          struct.unpack(">I", ft[60:64])[0] == 2 and size % (1 << 20) == 0, ft[:64])

    raw = os.path.join(BASE, "custom.raw")
    check("customize: qemu-img reads the vhd", to_raw(outs["vhd"], "vpc", raw))
    raw2 = os.path.join(BASE, "custom2.raw")
    to_raw(outs["qcow2"], "qcow2", raw2)
    check("customize: vhd and qcow2 hold the same disk", run("cmp", raw, raw2).returncode == 0)
    table, esp, root = parts_of(raw, "custom")
    o = STATE["orig_table"]
    same = [(a["start"], a["size"], a["type"], a["uuid"], a.get("name")) for a in table["partitions"]] == \
           [(a["start"], a["size"], a["type"], a["uuid"], a.get("name")) for a in o["partitions"]]
    check("customize: partitions, types, GUIDs and names as in the input (sfdisk)", same and
          table["id"] == o["id"], (table, o))
    p = run("e2fsck", "-fn", root)
    check("customize: e2fsck finds the root clean", p.returncode == 0, text(p))
    p = run("fsck.vfat", "-n", esp)
    check("customize: fsck.vfat finds the ESP clean", p.returncode == 0, text(p))
    check("customize: /etc/hostname", debugfs(root, "cat /etc/hostname") == "customized-host\n")
    check("customize: /etc/motd replaced", debugfs(root, "cat /etc/motd") == "customized by slipway\n")
    check("customize: alice in /etc/passwd", "\nalice:x:" in debugfs(root, "cat /etc/passwd"))
    ak = debugfs(root, "cat /home/alice/.ssh/authorized_keys")
    check("customize: alice's authorized_keys holds the key", KEY in ak, ak)
    st = debugfs(root, "stat /home/alice/.ssh/authorized_keys")
    check("customize: authorized_keys is 0600 and alice's", "Mode:  0600" in st and "User:  1000" not in st, st[:300])
    want = sorted([x for x in STATE["orig_pkgs"] if x != "motd"] + ["busybox"])
    check("customize: rpm -qa lists busybox installed and motd removed", rpm_qa(root) == want, (rpm_qa(root), want))
    check("customize: busybox's files are there", "busybox" in debugfs(root, "ls /usr/bin"))

    # The SBOM beside each output: valid SPDX 2.3, the customized rpm database's packages, as inspect --sbom says.
    for ext, out in outs.items():
        check(f"customize: the SBOM {os.path.basename(out)}.spdx.json is beside the {ext}",
              os.path.isfile(out + ".spdx.json"))
    doc = json.load(open(outs["qcow2"] + ".spdx.json"))
    if jsonschema:
        v = jsonschema.Draft7Validator(json.load(open(os.path.join(ROOT, "tests", "data", "spdx-2.3-schema.json"))),
                                       format_checker=jsonschema.FormatChecker())
        errors = sorted(v.iter_errors(doc), key=lambda e: list(e.path))
        check("customize: the SBOM is valid SPDX 2.3 (JSON schema)", not errors,
              "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10]))
    else:
        print("     (no python3-jsonschema: the SBOM's schema not checked)")
    names = sorted(x["name"] for x in doc["packages"] if x["SPDXID"] != "SPDXRef-Image")
    check("customize: the SBOM lists the rpm database's packages (busybox, no motd)", names == want and
          "busybox" in names, (names, want))
    check("customize: the SBOM is named after the output, created at SOURCE_DATE_EPOCH",
          doc["name"] == "custom.qcow2" and doc["creationInfo"]["created"] == "2023-11-14T22:13:20Z",
          (doc["name"], doc["creationInfo"]))
    rpms = [os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(STATE["proj"], "out", "repo")) for f in fs
            if f.startswith("busybox-") and f.endswith(".rpm")]
    sums = {x["name"]: x.get("checksums") for x in doc["packages"] if x["SPDXID"] != "SPDXRef-Image"}
    check("customize: the SBOM has the SHA-256 of the busybox package as fetched, none for what was installed",
          len(rpms) == 1 and sums.get("busybox") == [{"algorithm": "SHA256", "checksumValue": sha256(rpms[0])}] and
          not any(v for k, v in sums.items() if k != "busybox"), (rpms, sums.get("busybox")))
    p = run(SLIPWAY, "inspect", "--sbom", outs["qcow2"])
    ins = json.loads(p.stdout) if p.returncode == 0 else {"packages": []}
    check("customize: inspect --sbom of the output lists the same packages, the same versions",
          p.returncode == 0 and sorted((x["name"], x.get("versionInfo")) for x in ins["packages"]
                                       if x["SPDXID"] != "SPDXRef-Image") ==
          sorted((x["name"], x.get("versionInfo")) for x in doc["packages"] if x["SPDXID"] != "SPDXRef-Image"),
          text(p))
    link = debugfs(root, "stat /etc/systemd/system/multi-user.target.wants/hello.service")
    check("customize: hello.service enabled (the symlink systemctl makes)", "Type: symlink" in link, link[:300])
    hist = debugfs(root, "cat /usr/share/slipway/history.json")
    check("customize: the history records the customization", '"customization": "custom"' in hist, hist)
    rel = debugfs(root, "cat /etc/slipway-release")
    check("customize: /etc/slipway-release names it (os-release form)", "IMAGE_CUSTOMIZATION=custom\n" in rel and
          "IMAGE_UUID=" in rel and "CUSTOMIZATIONS=1\n" in rel, rel)

    # Everything nothing touched: the same bytes, mode and type (debugfs rdump of both).
    a, b = listing(STATE["orig_root"]), listing(root)
    changed = {"/etc/hostname", "/etc/motd", "/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow", "/home",
               "/home/alice", "/home/alice/.ssh", "/home/alice/.ssh/authorized_keys", "/usr/share/slipway",
               "/usr/share/slipway/history.json", "/usr/share", "/etc/slipway-release", "/usr/bin/busybox", "/usr/bin/sh",
               "/usr/lib/sysimage/rpm/rpmdb.sqlite", "/etc/systemd", "/etc/systemd/system",
               "/etc/systemd/system/multi-user.target.wants",
               "/etc/systemd/system/multi-user.target.wants/hello.service"}
    diff = [k for k in sorted(set(a) | set(b)) if k not in changed and not k.startswith("/usr/lib/.build-id")
            and a.get(k) != b.get(k)]
    check(f"customize: the {len(a)} files nothing touched are identical to the input's (debugfs)", not diff and
          len(a) > 20, diff[:10])

    bls = run("mtype", "-i", esp, "::/loader/entries/*.conf").stdout.decode()
    check("customize: the BLS entry's options end with the new argument",
          any(l.startswith("options ") and l.endswith(" slipway.customized=1") for l in bls.splitlines()), bls)
    grub = run("mtype", "-i", esp, "::/boot/grub/grub.cfg").stdout.decode()
    check("customize: grub.cfg's linux line has the new argument", "slipway.customized=1" in grub, grub)

    # The same customization from another directory (a copy of the config): the same bytes.
    other = os.path.join(BASE, "other")
    shutil.copytree(STATE["cfgdir"], other)
    out = os.path.join(BASE, "again.qcow2")
    p = customize("custom.toml", STATE["vhdx"], out, cwd=other)
    check("customize: again from another directory: the same bytes", p.returncode == 0 and
          run("cmp", out, outs["qcow2"]).returncode == 0, text(p))
    check("customize: again: the same SBOM but its name", p.returncode == 0 and
          read(out + ".spdx.json").replace(b"again.qcow2", b"custom.qcow2") == read(outs["qcow2"] + ".spdx.json"))

    # The same customization as a live ISO (booted in test_boot): xorriso reads it.
    iso = os.path.join(BASE, "custom.iso")
    p = customize(cfg, STATE["vhdx"], iso)
    check("customize: to a live ISO exits 0", p.returncode == 0, text(p))
    p = run("xorriso", "-indev", iso, "-find", "/")
    check("customize: xorriso lists the ISO's kernel and initrd", p.returncode == 0 and b"/boot/vmlinuz" in p.stdout
          and b"/boot/initrd" in p.stdout, text(p))
    outs["iso"] = iso

    # The same customization as an oci-archive: skopeo reads it, umoci unpacks it.
    if shutil.which("skopeo") and shutil.which("umoci"):
        oci = os.path.join(BASE, "custom.oci.tar")
        p = customize(cfg, STATE["vhdx"], oci)
        check("customize: to an oci-archive exits 0", p.returncode == 0, text(p))
        p = run("skopeo", "inspect", f"oci-archive:{oci}")
        check("customize: skopeo inspects the oci-archive", p.returncode == 0, text(p))
        lay = os.path.join(BASE, "oci-layout")
        os.makedirs(lay)
        run("tar", "-xf", oci, "-C", lay)
        p = run("umoci", "unpack", "--rootless", "--image", f"{lay}:0", os.path.join(BASE, "bundle"))
        host = os.path.join(BASE, "bundle", "rootfs", "etc", "hostname")
        check("customize: umoci unpacks it, with the new host name", p.returncode == 0 and os.path.isfile(host) and
              open(host).read() == "customized-host\n", text(p))


# Image Customizer's own YAML for what IC_TOML says. IC's configuration has no
# repositories (its CLI takes them), so the comparison is with a TOML of the
# same changes without packages, not with CONFIG. Both files have the stem
# "custom": the customization is named after its file, and the name is in the
# history.
IC_YAML = """\
os:
  hostname: customized-host
  kernelCommandLine:
    extraCommandLine:
    - slipway.customized=1
  packages:
    install: [busybox]
    remove: [motd]
  users:
  - name: alice
    sshPublicKeyPaths:
    - alice.pub
  additionalFiles:
  - source: motd
    destination: /etc/motd
    permissions: "644"
  services:
    enable: [hello.service]
"""
def test_image_customizer_yaml():
    d = os.path.join(BASE, "ic")
    os.makedirs(d)
    for n in ("alice.pub", "motd"):
        shutil.copy(os.path.join(STATE["cfgdir"], n), d)
    write(os.path.join(d, "custom.yaml"), IC_YAML)
    # The same changes as the TOML configuration of test_customize (named "custom" too), with the
    # package source on the command line as Image Customizer takes it.
    outs = {"toml": STATE["outs"]["qcow2"], "yaml": os.path.join(d, "yaml.qcow2")}
    p = customize(os.path.join(d, "custom.yaml"), STATE["vhdx"], outs["yaml"], "--rpm-source",
                  os.path.join(STATE["proj"], "out", "repo"))
    check("yaml: customize with the YAML configuration and --rpm-source exits 0", p.returncode == 0, text(p))
    check("yaml: Image Customizer's YAML gives the TOML's bytes",
          run("cmp", outs["toml"], outs["yaml"]).returncode == 0)
    unsigned = os.path.join(d, "plain-repo")
    os.makedirs(os.path.join(unsigned, "repodata"))
    write(os.path.join(unsigned, "repodata", "repomd.xml"), "<repomd/>\n")
    p = customize(os.path.join(d, "custom.yaml"), STATE["vhdx"], os.path.join(d, "nokey.qcow2"), "--rpm-source",
                  unsigned)
    check("yaml: --rpm-source of a repository without a key: exit 1 naming it",
          p.returncode == 1 and b"RPM-GPG-KEY" in p.stderr and not os.path.exists(os.path.join(d, "nokey.qcow2")),
          text(p))
    raw = os.path.join(d, "yaml.raw")
    to_raw(outs["yaml"], "qcow2", raw)
    _, _, root = parts_of(raw, "yaml")
    check("yaml: its changes are in the image (debugfs)",
          debugfs(root, "cat /etc/hostname") == "customized-host\n" and
          KEY in debugfs(root, "cat /home/alice/.ssh/authorized_keys") and
          "hello.service" in debugfs(root, "ls -l /etc/systemd/system/multi-user.target.wants"))
    qa = rpm_qa(root)
    check("yaml: the package removed is gone from the rpm database, the one installed is there",
          qa and "motd" not in qa and "busybox" in qa, qa)
    bad_cfg = os.path.join(d, "bad.yaml")
    write(bad_cfg, "os:\n  hostname: x\n  users:\n  - name: bob\n    sshPublicKeyPath: [alice.pub]\n")
    bad_out = os.path.join(d, "bad.qcow2")
    p = customize(bad_cfg, STATE["vhdx"], bad_out)
    err = p.stderr.decode("utf-8", "replace")
    errors = [l for l in err.splitlines() if "error" in l]
    check("yaml: an unknown key: exit 1, one error at file:line:column naming it, no output",
          p.returncode == 1 and len(errors) == 1 and "bad.yaml:5:5:" in err and
          "'os.users[0].sshPublicKeyPath'" in err and "sshPublicKeyPaths" in err and
          not os.path.exists(bad_out), text(p))


def test_boot():
    o = STATE["outs"]
    jobs = [(o["vhd"], "vpc", "ovmf"), (o["qcow2"], "qcow2", "ovmf"), (o["qcow2"], "qcow2", "seabios")]
    if "iso" in o:
        jobs.append((o["iso"], "raw", "ovmf"))
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex:
        futs = {ex.submit(boot, d, f, os.path.join(BASE, f"boot-{f}-{fw}.log"), fw,
                          "cdrom" if d.endswith(".iso") else "disk"): (d, f, fw) for d, f, fw in jobs}
        for fut in concurrent.futures.as_completed(futs):
            d, f, fw = futs[fut]
            out = fut.result()
            name = f"boot: {os.path.basename(d)} under {fw}"
            check(f"{name}: the init ran", b"SLIPWAY-BOOT-OK azl-mini" in out, out[-2000:])
            check(f"{name}: the kernel's command line has the new argument",
                  b"Command line:" in out and b"slipway.customized=1" in out.split(b"Command line:")[1][:400],
                  out[-2000:])
            for ev in (b"SLIPWAY-EVIDENCE hostname=customized-host", b"SLIPWAY-EVIDENCE motd=customized by slipway",
                       b"SLIPWAY-EVIDENCE user=alice",
                       b"SLIPWAY-EVIDENCE wants=multi-user.target.wants/hello.service"):
                check(f"{name}: {ev.decode()}", ev in out, out[-2000:])


def test_reset_and_grow():
    cfg = os.path.join(STATE["cfgdir"], "reset.toml")
    write(cfg, 'reset-uuids = true\nsize = "1G"\n')
    out = os.path.join(BASE, "reset.qcow2")
    p = customize(cfg, STATE["vhdx"], out)
    check("reset: customize exits 0", p.returncode == 0, text(p))
    raw = os.path.join(BASE, "reset.raw")
    to_raw(out, "qcow2", raw)
    t, esp, root = parts_of(raw, "reset")
    o = STATE["orig_table"]
    check("reset: a new disk GUID and new partition GUIDs", t["id"] != o["id"] and
          all(a["uuid"] != b["uuid"] for a, b in zip(t["partitions"], o["partitions"])), (t, o))
    check("reset: the disk is 1 GiB and the root grew", os.path.getsize(raw) == 1 << 30 and
          t["partitions"][1]["size"] > o["partitions"][1]["size"], t)
    p = run("e2fsck", "-fn", root)
    check("reset: e2fsck finds the grown root clean", p.returncode == 0, text(p))
    bls = run("mtype", "-i", esp, "::/loader/entries/*.conf").stdout.decode()
    check("reset: the BLS entry names the new root PARTUUID", t["partitions"][1]["uuid"].lower() in bls.lower(), bls)
    out_ = boot(out, "qcow2", os.path.join(BASE, "boot-reset.log"))
    check("reset: boots under OVMF", b"SLIPWAY-BOOT-OK azl-mini" in out_, out_[-2000:])


def test_repartition():
    """[[partitions]]: the files spread over a new layout (ESP, root, /home); still boots both ways."""
    cfg = os.path.join(STATE["cfgdir"], "repart.toml")
    write(cfg, 'hostname = "repart"\nsize = "1G"\n[[partitions]]\ntype = "esp"\nsize = "128M"\n'
               '[[partitions]]\ntype = "root"\nsize = "512M"\n[[partitions]]\ntype = "home"\nsize = "grow"\n')
    out = os.path.join(BASE, "repart.qcow2")
    p = customize(cfg, STATE["vhdx"], out)
    check("repartition: customize exits 0", p.returncode == 0, text(p))
    raw = os.path.join(BASE, "repart.raw")
    to_raw(out, "qcow2", raw)
    t = partition_table(raw)
    types = [x["type"] for x in t["partitions"]] if t else []
    check("repartition: ESP, root and home (sfdisk)", types == ["C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
                                                             "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709",
                                                             "933AC7E1-2EB4-4F13-B844-0E14E2AEF915"], t)
    root, home = os.path.join(BASE, "repart.root"), os.path.join(BASE, "repart.home")
    extract_partition(raw, t["partitions"][1], root)
    extract_partition(raw, t["partitions"][2], home)
    check("repartition: e2fsck finds root and home clean",
          run("e2fsck", "-fn", root).returncode == 0 and run("e2fsck", "-fn", home).returncode == 0)
    check("repartition: /home's files moved to the home partition", "azureuser" in debugfs(home, "ls /") and
          "azureuser" not in debugfs(root, "ls /home"))
    fstab = debugfs(root, "cat /etc/fstab")
    check("repartition: fstab mounts the new home partition", t["partitions"][2]["uuid"].lower() in fstab.lower(),
          fstab)
    jobs = [("ovmf", "repart-ovmf"), ("seabios", "repart-bios")]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
        outs = list(ex.map(lambda j: boot(out, "qcow2", os.path.join(BASE, j[1] + ".log"), j[0]), jobs))
    for (fw, _), o in zip(jobs, outs):
        check(f"repartition: boots under {fw}", b"SLIPWAY-BOOT-OK azl-mini" in o and
              b"SLIPWAY-EVIDENCE hostname=repart" in o, o[-2000:])


def test_metadata():
    """What an ext4 file keeps through customize: owners, modes, hard links, device nodes, a FIFO,
    xattrs (security.capability, security.selinux, user.*), a sparse file (debugfs on both sides)."""
    if os.geteuid() != 0:
        print("     (not root: no device nodes to make; skipped)")
        return
    d = os.path.join(BASE, "meta")
    tree = os.path.join(d, "tree")
    os.makedirs(os.path.join(tree, "etc"))
    os.makedirs(os.path.join(tree, "data"))
    write(os.path.join(tree, "etc", "os-release"), "ID=meta\n")
    write(os.path.join(tree, "data", "a"), "hello\n")
    os.link(os.path.join(tree, "data", "a"), os.path.join(tree, "data", "a-link"))
    os.chown(os.path.join(tree, "data", "a"), 1234, 5678)
    os.chmod(os.path.join(tree, "data", "a"), 0o4751)
    os.mknod(os.path.join(tree, "data", "null"), 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(os.path.join(tree, "data", "loop"), 0o660 | stat.S_IFBLK, os.makedev(259, 70000))
    os.mkfifo(os.path.join(tree, "data", "fifo"))
    os.symlink("a", os.path.join(tree, "data", "sym"))
    with open(os.path.join(tree, "data", "sparse"), "wb") as f:
        f.truncate(64 << 20)
        f.seek(32 << 20)
        f.write(b"x")
    fs = os.path.join(d, "root.ext4")
    p = run("mkfs.ext4", "-q", "-d", tree, "-L", "root", fs, "256M")
    check("metadata: mkfs.ext4 -d makes the file system", p.returncode == 0, text(p))
    for path, name, value in (("/data/a", "security.capability", "0x0100000200200000000000000000000000000000"),
                              ("/etc/os-release", "security.selinux", "system_u:object_r:etc_t:s0"),
                              ("/data/a", "user.note", "kept")):
        run("debugfs", "-w", "-R", f"ea_set {path} {name} {value}", fs)
    disk = os.path.join(d, "disk.raw")
    with open(disk, "wb") as f:
        f.truncate((256 << 20) + (2 << 20))
    p = subprocess.run(["sfdisk", "-q", disk], input=b"label: gpt\nstart=2048, size=524288, "
                       b"type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709\n", capture_output=True)
    with open(fs, "rb") as src, open(disk, "r+b") as dst:
        dst.seek(2048 * 512)
        shutil.copyfileobj(src, dst)
    cfg = os.path.join(STATE["cfgdir"], "meta.toml")
    write(cfg, 'hostname = "meta"\n')
    out = os.path.join(d, "out.raw")
    p = customize(cfg, disk, out)
    check("metadata: customize exits 0", p.returncode == 0, text(p))
    t = partition_table(out)
    got = os.path.join(d, "out.ext4")
    extract_partition(out, t["partitions"][0], got)
    check("metadata: e2fsck finds it clean", run("e2fsck", "-fn", got).returncode == 0)

    def facts(img, path):
        """What must be kept of a file (not its inode number or block count: the file system is made anew)."""
        st = debugfs(img, f"stat {path}")
        keep = []
        for line in st.splitlines():
            words = line.split()
            for key in ("Type:", "Mode:", "User:", "Group:", "Links:", "Size:"):
                if key in words and words.index(key) + 1 < len(words):
                    keep.append((key, words[words.index(key) + 1]))
            if "Device major/minor number:" in line:
                keep.append(("dev", line.strip()))
        data = ""
        if ("Type:", "regular") in keep:
            dump = os.path.join(BASE, "meta-dump")
            run("debugfs", "-R", f"dump {path} {dump}", img)
            data = sha256(dump)
        return keep, debugfs(img, f"ea_list {path}").strip(), data

    for path in ("/data/a", "/data/a-link", "/data/null", "/data/loop", "/data/fifo", "/data/sym", "/data/sparse",
                 "/etc/os-release"):
        a, b = facts(fs, path), facts(got, path)
        check(f"metadata: {path}: type, mode, owner, links, size, device, xattrs and contents kept", a == b, (a, b))
    ino_a = debugfs(got, "stat /data/a").split()[1]
    ino_l = debugfs(got, "stat /data/a-link").split()[1]
    check("metadata: the hard link is one inode", ino_a == ino_l, (ino_a, ino_l))
    blocks = [l for l in debugfs(got, "stat /data/sparse").splitlines() if "Blockcount:" in l]
    check("metadata: the 64 MiB sparse file stays sparse", blocks and int(blocks[0].split("Blockcount:")[1].split()[0])
          < 1024, blocks)


def oci_tag(layout):
    import json
    with open(os.path.join(layout, "index.json")) as f:
        return json.load(f)["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]


def test_archives():
    """OCI (archive and layout, and an image of two layers with a whiteout) and tar inputs, written as
    oci and tar: umoci, tar and rpm read them back."""
    if not shutil.which("umoci"):
        print("     (no umoci: skipped)")
        return
    images = os.path.join(STATE["proj"], "out", "images")
    cfg = os.path.join(STATE["cfgdir"], "ctr.toml")
    write(cfg, 'hostname = "ctr"\nremove = ["motd"]\n[[files]]\nsource = "motd"\npath = "/etc/issue"\n')
    outs = {}
    for name in ("container.oci.tar", "container.oci"):
        out = os.path.join(BASE, f"ctr-{name}.oci.tar")
        p = customize(cfg, os.path.join(images, name), out)
        check(f"archives: {name} customized to an oci-archive", p.returncode == 0, text(p))
        outs[name] = out
    check("archives: the oci-archive and the layout give the same bytes",
          run("cmp", outs["container.oci.tar"], outs["container.oci"]).returncode == 0)
    lay = os.path.join(BASE, "ctr-layout")
    os.makedirs(lay)
    run("tar", "-xf", outs["container.oci.tar"], "-C", lay)
    bundle = os.path.join(BASE, "ctr-bundle")
    p = run("umoci", "unpack", "--rootless", "--image", f"{lay}:{oci_tag(lay)}", bundle)
    rootfs = os.path.join(bundle, "rootfs")
    check("archives: umoci unpacks the result", p.returncode == 0, text(p))
    check("archives: host name and file changed, motd's file gone",
          read(os.path.join(rootfs, "etc", "hostname")) == b"ctr\n" and
          read(os.path.join(rootfs, "etc", "issue")) == b"customized by slipway\n" and
          not os.path.exists(os.path.join(rootfs, "etc", "motd")))
    p = run("rpm", "-qa", "--dbpath", os.path.join(rootfs, "usr", "lib", "sysimage", "rpm"), "--qf", "%{NAME}\\n")
    check("archives: rpm lists no motd", p.returncode == 0 and b"hello" in p.stdout and b"motd" not in p.stdout,
          text(p))

    # A second layer that deletes a file (umoci writes its whiteout).
    two = os.path.join(BASE, "two-layers")
    os.makedirs(two)
    run("tar", "-xf", os.path.join(images, "container.oci.tar"), "-C", two)
    tag = oci_tag(two)
    b2 = os.path.join(BASE, "two-bundle")
    run("umoci", "unpack", "--rootless", "--image", f"{two}:{tag}", b2)
    os.remove(os.path.join(b2, "rootfs", "usr", "bin", "hello"))
    p = run("umoci", "repack", "--image", f"{two}:{tag}", b2)
    check("archives: umoci makes an image of two layers", p.returncode == 0, text(p))
    tarout = os.path.join(BASE, "two.tar.zst")
    p = customize(cfg, two, tarout)
    check("archives: the two-layer layout customized to a tar", p.returncode == 0, text(p))
    listing_ = run("tar", "-tf", tarout).stdout.decode()
    check("archives: the whiteout removed the file of the lower layer", "usr/bin/hello" not in listing_ and
          "etc/hostname" in listing_, listing_[:500])

    # A tarball (the WSL image) in, a tar out; a disk output is refused.
    check("archives: an SBOM beside the oci-archive", os.path.isfile(outs["container.oci.tar"] + ".spdx.json"))
    wsl_out = os.path.join(BASE, "wsl.tar.zst")
    nosbom = os.path.join(STATE["cfgdir"], "ctr-nosbom.toml")
    write(nosbom, 'sbom = "none"\n' + read(cfg).decode())
    p = customize(nosbom, os.path.join(images, "wsl.wsl"), wsl_out)
    check("archives: a tar input customized to a tar", p.returncode == 0 and
          run("tar", "-xOf", wsl_out, "./etc/hostname").stdout == b"ctr\n", text(p))
    check("archives: sbom = \"none\": no SBOM beside it", not os.path.exists(wsl_out + ".spdx.json"))
    bad_out = os.path.join(BASE, "wsl.qcow2")
    p = customize(cfg, os.path.join(images, "wsl.wsl"), bad_out)
    check("archives: a tar input written as a disk: exit 1, one error, no output",
          p.returncode == 1 and b"tar or oci" in p.stderr and not os.path.exists(bad_out), text(p))


def test_mbr():
    """A disk with an MBR partition table (sfdisk's dos label): the example's root file system in
    partition 1 of 2; customized, the table and the other partition are as they were."""
    mbr = os.path.join(BASE, "mbr.raw")
    size = os.path.getsize(STATE["orig_root"])
    with open(mbr, "wb") as f:
        f.truncate(size + (8 << 20) + (1 << 20))
    sectors = size // 512
    p = subprocess.run(["sfdisk", "-q", mbr], input=f"label: dos\nlabel-id: 0x12345678\nstart=2048, size={sectors}, "
                       f"type=83, bootable\nstart={2048 + sectors}, size=16384, type=82\n".encode(), capture_output=True)
    check("mbr: sfdisk makes a dos label", p.returncode == 0, p.stderr)
    with open(STATE["orig_root"], "rb") as src, open(mbr, "r+b") as dst:
        dst.seek(2048 * 512)
        shutil.copyfileobj(src, dst)
        dst.seek((2048 + sectors) * 512)
        dst.write(b"swap data kept as it is" * 100)
    cfg = os.path.join(STATE["cfgdir"], "mbr.toml")
    write(cfg, 'hostname = "mbr-host"\n')
    out = os.path.join(BASE, "mbr-out.raw")
    p = customize(cfg, mbr, out)
    check("mbr: customize exits 0", p.returncode == 0, text(p))
    a, b = partition_table(mbr), partition_table(out)
    check("mbr: the same dos table (sfdisk)", a and b and b["label"] == "dos" and b["id"] == a["id"] and
          [(x["start"], x["size"], x["type"], x.get("bootable")) for x in a["partitions"]] ==
          [(x["start"], x["size"], x["type"], x.get("bootable")) for x in b["partitions"]], (a, b))
    root = os.path.join(BASE, "mbr-out.root")
    extract_partition(out, b["partitions"][0], root)
    check("mbr: the host name changed", debugfs(root, "cat /etc/hostname") == "mbr-host\n")
    check("mbr: e2fsck finds the root clean", run("e2fsck", "-fn", root).returncode == 0)
    with open(out, "rb") as f:
        f.seek((2048 + sectors) * 512)
        kept = f.read(23)
    check("mbr: the partition slipway does not read is copied", kept == b"swap data kept as it is", kept)


def bad(name, cfg_text, image, expect, *extra):
    cfg = os.path.join(STATE["cfgdir"], f"bad-{name}.toml")
    write(cfg, cfg_text)
    out = os.path.join(BASE, f"bad-{name}.qcow2")
    p = customize(cfg, image, out, *extra)
    err = p.stderr.decode("utf-8", "replace")
    errors = [l for l in err.splitlines() if "error" in l]
    check(f"bad input: {name}: exit 1, one error naming it, no output", p.returncode == 1 and len(errors) == 1 and
          expect in err and not os.path.exists(out), text(p))


def test_bad_inputs():
    vhdx = STATE["vhdx"]
    trunc = os.path.join(BASE, "truncated.qcow2")
    run("qemu-img", "convert", "-O", "qcow2", vhdx, trunc)
    with open(trunc, "r+b") as f:
        f.truncate(os.path.getsize(trunc) // 3)
    bad("truncated", "hostname = \"x\"\n", trunc, "truncated.qcow2")
    gpt = os.path.join(BASE, "badgpt.raw")
    shutil.copy(os.path.join(BASE, "orig.raw"), gpt)
    with open(gpt, "r+b") as f:
        f.seek(512 + 16)
        f.write(b"\xff\xff\xff\xff")
        f.seek(-512 + 16, os.SEEK_END)
        f.write(b"\xff\xff\xff\xff")
    bad("corrupt GPT", "hostname = \"x\"\n", gpt, "GPT")
    xfs = os.path.join(BASE, "xfs.raw")
    shutil.copy(os.path.join(BASE, "orig.raw"), xfs)
    root = STATE["orig_table"]["partitions"][1]
    with open(xfs, "r+b") as f:
        # An xfs superblock's magic where the root file system starts (and no ext4 magic left).
        f.seek(root["start"] * 512)
        f.write(b"XFSB" + b"\0" * 2044)
    bad("xfs root", "hostname = \"x\"\n", xfs, "xfs")
    bad("unknown key", "hostname = \"x\"\nhostnmae = \"y\"\n", vhdx, "bad-unknown key.toml:2:1")
    bad("service no package installs", "[services]\nenable = [\"nothere.service\"]\n", vhdx, "nothere.service")
    # A repository whose metadata is signed but whose package is not: gpgcheck refuses it.
    unsigned = os.path.join(BASE, "unsigned-repo")
    os.makedirs(unsigned)
    shutil.copy(STATE["scripted"]["1"], unsigned)
    p = run(SLIPWAY, "repo", "--key", os.path.join(STATE["proj"], "keys", "release.asc"), unsigned)
    check("bad input: the unsigned package's repository is made", p.returncode == 0, text(p))
    bad("unsigned package", f"packages = [\"scripted\"]\n[repos.u]\nurl = \"file://{unsigned}\"\n"
        f"gpg-key = \"{STATE['proj']}/out/repo/RPM-GPG-KEY-azl-mini\"\n", vhdx, "scripted")
    bad("removing what is not installed", "remove = [\"nothere\"]\n", vhdx, "nothere")


SPEC = """\
Name: scripted
Version: @V@
Release: 1
Summary: leaves evidence of its scriptlets
License: MIT
BuildArch: noarch
%description
Leaves evidence of its scriptlets.
%install
mkdir -p %{buildroot}/usr/share/scripted
echo @V@ > %{buildroot}/usr/share/scripted/version-@V@
%files
/usr/share/scripted/version-@V@
%pre -p /usr/bin/sh
mkdir -p /var/log; echo "pre @V@ $1" >> /var/log/scripted.log
%post -p /usr/bin/sh
mkdir -p /var/log; echo "post @V@ $1" >> /var/log/scripted.log
%preun -p /usr/bin/sh
mkdir -p /var/log; echo "preun @V@ $1" >> /var/log/scripted.log
%postun -p /usr/bin/sh
mkdir -p /var/log; echo "postun @V@ $1" >> /var/log/scripted.log
"""


def test_packages_scriptlets():
    """Install, upgrade and remove a package whose scriptlets leave evidence: rpm's order and $1."""
    top = os.path.join(BASE, "rpmbuild")
    key = os.path.join(STATE["proj"], "keys", "release.asc")
    pub = os.path.join(STATE["proj"], "out", "repo", "RPM-GPG-KEY-azl-mini")
    rpms = {}
    for v in ("1", "2"):
        spec = os.path.join(BASE, f"scripted-{v}.spec")
        write(spec, SPEC.replace("@V@", v))
        p = run("rpmbuild", "-bb", "--define", f"_topdir {top}", spec)
        rpms[v] = os.path.join(top, "RPMS", "noarch", f"scripted-{v}-1.noarch.rpm")
        check(f"scriptlets: rpmbuild makes scripted-{v}", p.returncode == 0 and os.path.isfile(rpms[v]), text(p))
    STATE["scripted"] = rpms
    repos = {}
    for v in ("1", "2"):
        d = os.path.join(BASE, f"repo{v}")
        os.makedirs(d)
        shutil.copy(rpms[v], d)
        p1 = run(SLIPWAY, "sign", "--key", key, os.path.join(d, os.path.basename(rpms[v])))
        p2 = run(SLIPWAY, "repo", "--key", key, d)
        check(f"scriptlets: repository {v} signed", p1.returncode == 0 and p2.returncode == 0, text(p1) + text(p2))
        repos[v] = d
    cfgs = {
        "s1": f"packages = [\"busybox\", \"scripted\"]\n[repos.example]\nurl = \"file://{STATE['proj']}/out/repo\"\n"
              f"gpg-key = \"{pub}\"\n[repos.r1]\nurl = \"file://{repos['1']}\"\ngpg-key = \"{pub}\"\n",
        "s2": f"update = [\"scripted\"]\n[repos.r2]\nurl = \"file://{repos['2']}\"\ngpg-key = \"{pub}\"\n",
        "s3": "remove = [\"scripted\"]\n",
    }
    image, logs = STATE["vhdx"], {}
    for name, text_ in cfgs.items():
        cfg = os.path.join(STATE["cfgdir"], f"{name}.toml")
        write(cfg, text_)
        out = os.path.join(BASE, f"{name}.raw")
        p = customize(cfg, image, out)
        check(f"scriptlets: {name} exits 0", p.returncode == 0, text(p))
        if p.returncode != 0:
            return
        _, _, root = parts_of(out, name)
        logs[name] = debugfs(root, "cat /var/log/scripted.log").split("\n")
        STATE[name + "_pkgs"] = rpm_qa(root)
        STATE[name + "_files"] = debugfs(root, "ls /usr/share/scripted")
        image = out
    check("scriptlets: install runs %pre and %post with $1 = 1", logs["s1"][:2] == ["pre 1 1", "post 1 1"], logs["s1"])
    check("scriptlets: the upgrade runs the new %pre/%post with $1 = 2, then the old %preun/%postun with $1 = 1",
          logs["s2"][2:6] == ["pre 2 2", "post 2 2", "preun 1 1", "postun 1 1"], logs["s2"])
    check("scriptlets: the removal runs %preun and %postun with $1 = 0",
          logs["s3"][6:8] == ["preun 2 0", "postun 2 0"], logs["s3"])
    check("scriptlets: rpm lists scripted-1, then scripted-2, then none",
          "scripted" in STATE["s1_pkgs"] and "scripted" in STATE["s2_pkgs"] and "scripted" not in STATE["s3_pkgs"],
          (STATE["s1_pkgs"], STATE["s2_pkgs"], STATE["s3_pkgs"]))
    check("scriptlets: the upgrade replaced version-1 by version-2, the removal took it",
          "version-1" in STATE["s1_files"] and "version-2" in STATE["s2_files"] and
          "version-1" not in STATE["s2_files"] and "version-" not in STATE["s3_files"],
          (STATE["s1_files"], STATE["s2_files"], STATE["s3_files"]))


SCRIPT_POST = """\
echo "post: uid $(id -u), $# arguments: $*, GREETING=$GREETING, in $(pwd)"
echo "written by a script" > /etc/scripted
chown 4242:4343 /etc/scripted
rm /etc/issue
if printf 'GET /from-script HTTP/1.0\\r\\n\\r\\n' | nc -w 3 127.0.0.1 {port}; then
        echo "net: REACHED"
else
        echo "net: unreachable"
fi
if cat {secret} 2>/dev/null; then echo "host: VISIBLE"; else echo "host: not visible"; fi
"""

SCRIPTS_CONFIG = """\
history = false

[[files]]
source = "busybox"
path = "/bin/sh"
mode = "0755"

[[scripts]]
stage = "finalize"
name = "check"
content = "test -f /etc/scripted && test ! -e /etc/issue && echo finalize: saw what the post script did"

[[scripts]]
path = "post.sh"
args = ["one", "two"]
env = ["GREETING=hello"]
"""


def test_scripts():
    """The image has no shell of its own: the customization puts the host's
    static busybox at /bin/sh (its applets: nc, chown, rm, id)."""
    bb = shutil.which("busybox")
    if not bb or b"statically linked" not in run("file", "-L", bb).stdout:
        print("     SKIP: no static busybox (busybox-static)")
        return
    cfgdir = STATE["cfgdir"]
    shutil.copy(bb, os.path.join(cfgdir, "busybox"))
    os.chmod(os.path.join(cfgdir, "busybox"), 0o755)
    secret = os.path.join(BASE, "host-secret.txt")
    write(secret, "the host's secret\n")
    os.chmod(secret, 0o644)
    server = RecordingServer()
    try:
        # The probe reaches the server from the host: a hit would show.
        p = run(bb, "sh", "-c", f"printf 'GET /from-host HTTP/1.0\\r\\n\\r\\n' | nc -w 3 127.0.0.1 {server.port}")
        check("scripts: nc on the host reaches the test's server", server.hits == ["/from-host"], (server.hits, text(p)))
        write(os.path.join(cfgdir, "post.sh"), SCRIPT_POST.format(port=server.port, secret=secret))
        os.chmod(os.path.join(cfgdir, "post.sh"), 0o644)
        cfg = os.path.join(cfgdir, "scripts.toml")
        write(cfg, SCRIPTS_CONFIG)
        os.chmod(cfg, 0o644)
        out = os.path.join(BASE, "scripts.qcow2")
        t = time.monotonic()
        p = customize(cfg, STATE["vhdx"], out)
        print(f"     (customize with two scripts: {time.monotonic() - t:.2f} s)")
        err = p.stderr.decode("utf-8", "replace")
        check("scripts: customize exits 0", p.returncode == 0, text(p))
        check("scripts: the post script ran as root in / with its arguments and env, and its output is shown",
              "post: uid 0, 2 arguments: one two, GREETING=hello, in /" in err, err)
        # Given first, it runs last: it finds what the post script did.
        check("scripts: the finalize script ran after it and saw its work",
              "finalize: saw what the post script did" in err, err)
        check("scripts: the script cannot reach the test's server on 127.0.0.1",
              "net: unreachable" in err and "REACHED" not in err and server.hits == ["/from-host"],
              (server.hits, err))
        check("scripts: the host's files are not visible", "host: not visible" in err and "secret" not in err, err)
    finally:
        server.stop()
    if p.returncode != 0:
        return

    raw = os.path.join(BASE, "scripts.raw")
    check("scripts: qemu-img reads the output", to_raw(out, "qcow2", raw))
    _, _, root = parts_of(raw, "scripts")
    p = run("e2fsck", "-fn", root)
    check("scripts: e2fsck finds the root clean", p.returncode == 0, text(p))
    check("scripts: the file the script wrote", debugfs(root, "cat /etc/scripted") == "written by a script\n")
    st = debugfs(root, "stat /etc/scripted")
    check("scripts: the owner it chowned to (4242:4343)", "User:  4242   Group:  4343" in st, st[:300])
    check("scripts: the file it removed is gone", "not found" in run("debugfs", "-R", "stat /etc/issue", root)
          .stderr.decode(), "")
    st = debugfs(root, "stat /home/azureuser")
    check("scripts: an untouched directory keeps its owner (1000)", "User:  1000   Group:  1000" in st, st[:300])
    a, b = listing(STATE["orig_root"]), listing(root)
    changed = {"/etc/scripted", "/etc/issue", "/bin", "/bin/sh"}
    diff = [k for k in sorted(set(a) | set(b)) if k not in changed and a.get(k) != b.get(k)]
    check(f"scripts: the {len(a)} files the scripts did not touch are identical (no /proc, /dev left behind)",
          not diff and len(a) > 20, diff[:10])

    # A failing script: one error naming it, its status and its last lines; no output.
    fail = os.path.join(cfgdir, "failing.toml")
    write(fail, SCRIPTS_CONFIG.replace('[[scripts]]\npath = "post.sh"',
                                       '[[scripts]]\nname = "fails"\ncontent = "echo about to fail; echo last words; '
                                       'exit 7"\n\n[[scripts]]\npath = "post.sh"'))
    out_fail = os.path.join(BASE, "failing.qcow2")
    p = customize(fail, STATE["vhdx"], out_fail)
    err = p.stderr.decode("utf-8", "replace")
    errors = [l for l in err.splitlines() if "error" in l]
    check("scripts: a failing script: exit 1, one error naming it with its exit status and output, no output file",
          p.returncode == 1 and len(errors) == 1 and "script 'fails' failed: exit status 7" in errors[0] and
          "last words" in err and "post: uid" not in err and not os.path.exists(out_fail), text(p))

    # The same as nobody: the same bytes.
    if os.geteuid() == 0 and shutil.which("setpriv"):
        tmp = os.path.join(BASE, "scripts-nobody")
        os.makedirs(tmp)
        os.chown(tmp, 65534, 65534)
        os.chmod(STATE["vhdx"], 0o644)
        d = os.path.dirname(STATE["vhdx"])
        while d != "/" and d.startswith(BASE):
            os.chmod(d, 0o755)
            d = os.path.dirname(d)
        out2 = os.path.join(tmp, "scripts.qcow2")
        p = customize(cfg, STATE["vhdx"], out2, user="65534", env={"TMPDIR": tmp})
        check("scripts: as nobody: exit 0 and the same bytes as root's", p.returncode == 0 and
              run("cmp", out, out2).returncode == 0, text(p))


def test_unprivileged():
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        print("     (not root: the whole test ran unprivileged)")
        return
    out = os.path.join(BASE, "nobody", "custom.qcow2")
    os.makedirs(os.path.dirname(out))
    os.chown(os.path.dirname(out), 65534, 65534)
    os.chmod(STATE["vhdx"], 0o644)
    d = os.path.dirname(STATE["vhdx"])
    while d != "/" and d.startswith(BASE):
        os.chmod(d, 0o755)
        d = os.path.dirname(d)
    p = customize(os.path.join(STATE["cfgdir"], "custom.toml"), STATE["vhdx"], out, user="65534",
                  env={"TMPDIR": os.path.dirname(out)})
    check("unprivileged: customize as nobody exits 0", p.returncode == 0, text(p))
    check("unprivileged: the same bytes as root's", run("cmp", out, STATE["outs"]["qcow2"]).returncode == 0)


if __name__ == "__main__":
    try:
        for t in (test_build, test_customize, test_image_customizer_yaml, test_boot, test_reset_and_grow,
                  test_repartition, test_packages_scriptlets, test_metadata, test_archives, test_mbr, test_bad_inputs,
                  test_scripts,
                  test_unprivileged):
            run_test(t)
    finally:
        shutil.rmtree(BASE, ignore_errors=True)
    finish("customize")
