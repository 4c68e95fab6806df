#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""examples/server (issue 18): the server distribution, built from nothing
and booted under QEMU (TCG).

- two builds from nothing, in two directories, give the same bytes;
- the server's vhd under OVMF (virtio disk) and its raw disk under SeaBIOS
  (IDE disk) boot to a login on the serial console; the test logs in with the
  password the TOML configures and checks that systemd is running with no
  failed unit, SELinux is enforcing with the policy's label on /etc/shadow
  and no AVC denial in the boot's journal, and that sshd lets azureuser in
  with the configured key on a forwarded port;
- the container image runs `bash -c` under runc, unpacked by umoci, both
  rootless as the user nobody;
- the WSL image follows Microsoft's documented format (tests/e2e/wsl_format.py)
  and has bash and its default user.

Usage: server_test.py SLIPWAY SOURCE_ROOT"""
import concurrent.futures
import filecmp
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish, run_test  # noqa: E402
from vmconsole import VM, Timeout  # noqa: E402
from wsl_format import check_wsl  # noqa: E402

SLIPWAY, ROOT = os.path.abspath(sys.argv[1]), sys.argv[2]
BASE = tempfile.mkdtemp(prefix="slipway-server-test-")
PASSWORD = "azl-server"  # examples/server/images/server.toml: the hash of this
built = {}


def run(*args, timeout=900, **kw):
    e = dict(os.environ, LC_ALL="C", TZ="UTC", TMPDIR=BASE)
    e.pop("SOURCE_DATE_EPOCH", None)
    return subprocess.run(list(args), capture_output=True, timeout=timeout, env=e, **kw)


def text(p):
    return f"exit {p.returncode}\nstdout: {p.stdout[-1500:]!r}\nstderr: {p.stderr[-2500:]!r}"


def build(name):
    """Copies examples/ (the server uses the minimal example's boot specs)
    without outputs and runs `slipway build` in examples/server there."""
    top = os.path.join(BASE, name, "examples")
    shutil.copytree(os.path.join(ROOT, "examples"), top, symlinks=True, ignore=shutil.ignore_patterns("out"))
    shutil.copytree(os.path.join(ROOT, "scripts"), os.path.join(BASE, name, "scripts"))
    proj = os.path.join(top, "server")
    # The Debian components describe this machine's installed packages: a
    # machine with other versions rewrites them (nothing changes here).
    p = run(sys.executable, os.path.join(proj, "debian", "import.py"))
    if p.returncode:
        return proj, p, 0
    t = time.monotonic()
    p = run(SLIPWAY, "-C", proj, "build")
    return proj, p, time.monotonic() - t


def same_tree(a, b):
    """The relative paths whose contents differ between two output trees."""
    diff = []
    for root, dirs, files in os.walk(a):
        dirs.sort()
        for f in sorted(files):
            pa = os.path.join(root, f)
            rel = os.path.relpath(pa, a)
            # cache/ and the build logs (times, paths) are the machine's;
            # repodata's .slipway-cache is the indexer's own state.
            if rel.startswith(("cache" + os.sep, "logs" + os.sep)) or rel.endswith(".slipway-cache") or \
                    os.path.islink(pa):
                continue
            pb = os.path.join(b, rel)
            if not os.path.exists(pb) or not filecmp.cmp(pa, pb, shallow=False):
                diff.append(rel)
    return diff


def test_build():
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        one, two = ex.map(build, ["one", "two"])
    for (proj, p, secs), name in [(one, "first"), (two, "second")]:
        check(f"the {name} build of examples/server from nothing succeeds ({secs:.0f} s)", p.returncode == 0,
              text(p))
    if one[1].returncode or two[1].returncode:
        return
    built["proj"] = one[0]
    out1, out2 = os.path.join(one[0], "out"), os.path.join(two[0], "out")
    diff = same_tree(out1, out2)
    check("two builds from nothing in two directories give the same bytes (packages, repository, images)",
          not diff, diff[:20])
    images = os.path.join(out1, "images")
    for f in ["server.raw", "server.vhd", "container.oci.tar", "wsl.wsl", "initrd.cpio.zst"]:
        check(f"the build wrote {f}", os.path.exists(os.path.join(images, f)), sorted(os.listdir(images)))
    # The hardening policy (slipway.toml [hardening]): every ELF file of the
    # 131 Debian packages is PIE with RELRO and a non-executable stack, but
    # for the excepted components.
    out = one[1].stdout + one[1].stderr
    out = out.decode("utf-8", "replace") if isinstance(out, bytes) else out
    m = re.search(r"hardening: (\d+) ELF files in \d+ packages; missing: (.*) \(", out)
    check("the hardening check read the ELF files; none misses PIE, RELRO or a non-executable stack",
          m is not None and int(m.group(1)) > 500 and not re.search(r"\b(pie|relro|nx-stack) \d", m.group(2)),
          m.group(0) if m else out[-2000:])
    check("the hardening exceptions are in the summary with their reasons",
          all(f"component '{c}' is excepted from '{k}': " in out
              for c, k in [("busybox", "pie"), ("gawk", "pie"), ("syslinux", "relro"), ("syslinux", "nx-stack")]),
          [l for l in out.splitlines() if "excepted" in l])
    check("each SBOM of the server's images is there",
          all(os.path.exists(os.path.join(images, f + ".spdx.json")) for f in ["server", "container", "wsl", "initrd"]),
          sorted(os.listdir(images)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def boot_and_check(disk, fmt, firmware, drive_if, how=None, hostname="azl-server", extra=()):
    """Boots, logs in, runs the checks; returns a list of (name, ok, detail).
    `extra` is (name, command, predicate on the output) run as root."""
    results = []
    port = free_port()
    log = os.path.join(BASE, f"boot-{firmware}-{fmt}-{port}.log")
    vm = VM(disk, fmt, firmware=firmware, log=log, ssh_port=port, drive_if=drive_if, memory=1024)
    how = how or f"{fmt} under {'OVMF' if firmware == 'ovmf' else 'SeaBIOS'}"
    try:
        try:
            vm.expect(rf"{hostname} login: ", timeout=600)
        except Timeout as e:
            return [(f"{how}: boots to a login prompt on the serial console", False, str(e))]
        results.append((f"{how}: boots to a login prompt on the serial console ({vm.seconds():.0f} s)", True, ""))
        vm.send("root")
        vm.expect(r"Password: ", 60)
        vm.send(PASSWORD)
        try:
            vm.expect(r"\]# |# $", 120)
            ok = True
        except Timeout as e:
            ok = False
            detail = str(e)
        results.append((f"{how}: root logs in with the password the TOML configures", ok, "" if ok else detail))
        if not ok:
            return results
        vm.send("export SYSTEMD_PAGER= PAGER=cat TERM=dumb SYSTEMD_COLORS=0")
        # systemd may still be starting units: wait until it has decided.
        st, out = vm.run("systemctl is-system-running --wait", 300)
        results.append((f"{how}: systemctl is-system-running says running", out.strip() == "running", out))
        st, out = vm.run("systemctl --failed --no-legend --plain", 60)
        results.append((f"{how}: no failed unit", st == 0 and out.strip() == "", out))
        st, out = vm.run("systemctl is-active multi-user.target", 60)
        results.append((f"{how}: multi-user.target is active", out.strip() == "active", out))
        st, out = vm.run("getenforce", 60)
        results.append((f"{how}: getenforce says Enforcing", out.strip() == "Enforcing", out))
        st, out = vm.run("ls -Z /etc/shadow", 60)
        results.append((f"{how}: /etc/shadow has the policy's label (shadow_t)",
                        "system_u:object_r:shadow_t:s0 /etc/shadow" in out, out))
        st, out = vm.run("journalctl -b --no-pager -o cat | grep -c 'avc:  denied'", 60)
        results.append((f"{how}: no AVC denial in the boot's journal", out.strip() == "0", out))
        if out.strip() != "0":
            st, more = vm.run("journalctl -b --no-pager -o cat | grep 'avc:  denied' | head -5", 60)
            results[-1] = (results[-1][0], False, more)
        # SSH with the configured key, from the host through the forwarded port.
        key = os.path.join(BASE, f"key-{port}")
        shutil.copy(os.path.join(built["proj"], "keys", "azureuser"), key)
        os.chmod(key, 0o600)
        ssh = ["ssh", "-i", key, "-p", str(port), "-o", "StrictHostKeyChecking=no", "-o",
               "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "ConnectTimeout=20",
               "azureuser@127.0.0.1"]
        end, p = time.monotonic() + 180, None
        while time.monotonic() < end:
            p = subprocess.run(ssh + ["id -un; id -Z; cat /etc/hostname"], capture_output=True, timeout=120)
            if p.returncode == 0:
                break
            time.sleep(5)
        results.append((f"{how}: sshd lets azureuser in with the configured key",
                        p is not None and p.returncode == 0 and p.stdout.split(b"\n")[0] == b"azureuser"
                        and hostname.encode() in p.stdout, text(p) if p else "no attempt"))
        other = os.path.join(BASE, f"other-{port}")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other], check=True)
        p2 = subprocess.run([other if a == key else a for a in ssh] + ["-o", "IdentitiesOnly=yes", "true"],
                            capture_output=True, timeout=120)
        results.append((f"{how}: sshd refuses another key", p2.returncode != 0, text(p2)))
        for name, command, ok in extra:
            st, out = vm.run(command, 60)
            results.append((f"{how}: {name}", ok(out), out))
        vm.send("systemctl poweroff")
        try:
            vm.expect(r"reboot: Power down", 180)
            results.append((f"{how}: shuts down cleanly", True, ""))
        except Timeout as e:
            results.append((f"{how}: shuts down cleanly", False, str(e)))
    finally:
        vm.stop()
    return results


def test_boot():
    if "proj" not in built:
        check("boot: the example was built", False, "see test_build")
        return
    images = os.path.join(built["proj"], "out", "images")
    jobs = [(os.path.join(images, "server.vhd"), "vpc", "ovmf", "virtio"),
            (os.path.join(images, "server.raw"), "raw", "seabios", "ide")]
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        for res in ex.map(lambda j: boot_and_check(*j), jobs):
            for name, ok, detail in res:
                check(name, ok, detail)


def test_container():
    """umoci unpacks the image and runc runs its bash, both rootless, as the
    unprivileged user nobody (as root when the test is not root)."""
    if "proj" not in built:
        check("container: the example was built", False, "see test_build")
        return
    work = os.path.join(BASE, "container")
    os.makedirs(work)
    shutil.copytree(os.path.join(built["proj"], "out", "images", "container.oci"), os.path.join(work, "oci"))
    drop = []
    if os.geteuid() == 0:
        for root, dirs, files in os.walk(work):
            for n in dirs + files + ["."]:
                os.chown(os.path.join(root, n), 65534, 65534)
        drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        os.chmod(BASE, 0o711)  # nobody passes through to its own directory
    env = ["env", f"HOME={work}", f"XDG_RUNTIME_DIR={work}", f"TMPDIR={work}"]
    bundle = os.path.join(work, "bundle")
    p = run(*drop, *env, "umoci", "unpack", "--rootless", "--image", os.path.join(work, "oci") + ":4.0", bundle)
    check("umoci unpacks the container image rootless", p.returncode == 0, text(p))
    if p.returncode:
        return
    cfg_path = os.path.join(bundle, "config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["/usr/bin/bash", "-c", ". /etc/os-release; echo \"hello from $NAME, uid $(id -u)\""]
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)
    p = run(*drop, *env, "runc", "--root", os.path.join(work, "state"), "run", "-b", bundle, "server-test")
    check("runc runs the container's `bash -c` rootless (as nobody)",
          p.returncode == 0 and b"hello from azl-server, uid 0" in p.stdout, text(p))


def test_wsl():
    if "proj" not in built:
        check("wsl: the example was built", False, "see test_build")
        return
    wsl = os.path.join(built["proj"], "out", "images", "wsl.wsl")
    problems = check_wsl(wsl)
    check("the WSL image follows Microsoft's documented format", not problems, problems)
    with tarfile.open(wsl, "r:gz") as tf:
        names = set(m.name.lstrip("./").lstrip("/") for m in tf.getmembers())
        passwd = tf.extractfile("./etc/passwd").read().decode()
        conf = tf.extractfile("./etc/wsl.conf").read().decode()
    check("the WSL image has bash", "usr/bin/bash" in names, "")
    check("the WSL image has its default user azl with bash as shell",
          any(line.startswith("azl:x:1000:") and line.endswith(":/bin/bash") for line in passwd.splitlines()),
          passwd)
    check("wsl.conf names azl as the default user and turns systemd on",
          "default=azl" in conf.replace(" ", "") and "systemd=true" in conf.replace(" ", ""), conf)


def install(iso, firmware, target, log):
    """Boots the installer ISO as a CD with a blank virtio disk; returns
    (ok, detail) once QEMU has exited after the installer's reboot."""
    vm = VM(target, "raw", firmware=firmware, log=log, drive_if="virtio", cdrom=iso, boot="d", snapshot=False,
            memory=1024)
    try:
        vm.expect(r"installer: installed .* onto /dev/vda; rebooting", timeout=900)
        end = time.monotonic() + 120
        while vm.proc.poll() is None and time.monotonic() < end:
            time.sleep(1)
        return vm.proc.poll() is not None, f"{vm.seconds():.0f} s"
    except Timeout as e:
        return False, str(e)
    finally:
        vm.stop()


def installer_job(iso, firmware):
    name = "OVMF" if firmware == "ovmf" else "SeaBIOS"
    target = os.path.join(BASE, f"target-{firmware}.raw")
    with open(target, "wb") as f:
        f.truncate(4 << 30)
    ok, detail = install(iso, firmware, target, os.path.join(BASE, f"install-{firmware}.log"))
    res = [(f"installer ISO as a CD under {name}: installs unattended onto a blank 4 GiB virtio disk and "
            f"reboots ({detail})", ok, detail)]
    if not ok:
        return res
    table = subprocess.run(["sfdisk", "-d", target], capture_output=True, text=True).stdout
    last = [line for line in table.splitlines() if line.startswith(target)][-1]
    start = int(last.split("start=")[1].split(",")[0])
    size = int(last.split("size=")[1].split(",")[0])
    res.append((f"installed under {name}: the root partition ends at the end of the disk",
                (start + size) * 512 >= (4 << 30) - (2 << 20), table))
    extra = [("the installed root file system fills the disk (df)", "df -B1M --output=size / | tail -n 1",
              lambda out: out.strip().isdigit() and int(out.strip()) > 3500),
             ("the installer made the account alice", "getent passwd alice",
              lambda out: out.startswith("alice:x:") and "/home/alice" in out),
             ("alice's home has the policy's label", "ls -Zd /home/alice",
              lambda out: "user_home_dir_t" in out)]
    res += boot_and_check(target, "raw", firmware, "virtio", how=f"the disk installed under {name}",
                          hostname="installed-host", extra=extra)
    return res


def interactive_job(iso):
    """The example's ISO as it is (no disk given) boots as a USB stick under
    SeaBIOS and asks; the answers go in on the serial console."""
    target = os.path.join(BASE, "target-interactive.raw")
    with open(target, "wb") as f:
        f.truncate(4 << 30)
    usb = ["-drive", f"if=none,id=stick,file={iso},format=raw,readonly=on", "-device", "qemu-xhci",
           "-device", "usb-storage,drive=stick,bootindex=0"]
    vm = VM(target, "raw", firmware="seabios", log=os.path.join(BASE, "install-interactive.log"), drive_if="virtio",
            snapshot=False, extra=usb, memory=1024)
    name = "installer ISO as a USB stick under SeaBIOS, interactive"
    try:
        vm.expect(r"Disk to install onto \(its contents are erased\): ", 600)
        vm.send("/dev/vda")
        vm.expect(r"Host name \(empty: keep the image's\): ", 60)
        vm.send("asked-host")
        vm.expect(r"Type yes to erase /dev/vda: ", 60)
        vm.send("yes")
        vm.expect(r"installer: installed .* onto /dev/vda; rebooting", 600)
        end = time.monotonic() + 120
        while vm.proc.poll() is None and time.monotonic() < end:
            time.sleep(1)
        ok, detail = vm.proc.poll() is not None, f"{vm.seconds():.0f} s"
    except Timeout as e:
        ok, detail = False, str(e)
    finally:
        vm.stop()
    res = [(f"{name}: asks for the disk, the host name and a confirmation, installs and reboots ({detail})",
            ok, detail)]
    if ok:
        conf = os.path.join(BASE, "interactive-root.img")
        table = subprocess.run(["sfdisk", "-J", target], capture_output=True, text=True)
        parts = json.loads(table.stdout)["partitiontable"]["partitions"] if table.returncode == 0 else []
        root = parts[-1] if parts else None
        ok = False
        if root:
            subprocess.run(["dd", f"if={target}", f"of={conf}", "bs=512", f"skip={root['start']}",
                            f"count={root['size']}", "status=none"], check=True)
            p = subprocess.run(["debugfs", "-R", "cat /etc/hostname", conf], capture_output=True, text=True)
            ok = p.stdout.strip() == "asked-host"
            os.unlink(conf)
        res.append((f"{name}: the installed disk has the host name given", ok, table.stdout))
    return res


def test_installer():
    if "proj" not in built:
        check("installer: the example was built", False, "see test_build")
        return
    proj = built["proj"]
    iso = os.path.join(proj, "out", "images", "installer.iso")
    check("the build wrote the installer ISO", os.path.exists(iso), "")
    ls = run("osirrox", "-indev", iso, "-find", "/", "-type", "f")
    for f in ["/live/root.squashfs", "/install/server.raw.zst", "/install/image.conf", "/boot/vmlinuz",
              "/boot/initrd"]:
        check(f"the installer ISO holds {f}", f"'{f}'".encode() in ls.stdout, text(ls))
    # The kernel and initrd are stored once: the ESP (GPT partition 2 of the
    # hybrid ISO) holds GRUB alone, which reads them from ISO 9660.
    table = run("sfdisk", "-J", iso)
    esp = None
    if table.returncode == 0:
        for part in json.loads(table.stdout)["partitiontable"]["partitions"]:
            if part["type"].upper() == "C12A7328-F81F-11D2-BA4B-00A0C93EC93B":
                esp = part["start"] * 512
    listing = run("mdir", "-/", "-b", "-i", f"{iso}@@{esp}", "::/") if esp else None
    files = sorted(x for x in (listing.stdout.decode().split() if listing else []) if not x.endswith("/"))
    check("the installer ISO's ESP holds GRUB alone (kernel and initrd stored once, in ISO 9660)",
          files == ["::/EFI/BOOT/BOOTX64.EFI"], f"{files} {text(listing) if listing else text(table)}")
    interactive_iso = os.path.join(BASE, "interactive.iso")
    shutil.copy(iso, interactive_iso)
    # Unattended: the same ISO with the settings on its kernel command line.
    conf = os.path.join(proj, "images", "installer.toml")
    text_ = open(conf).read()
    hash_ = "$6$azlserverexample$Rq5iHl7ldcWOVBNzUitUpX/DMFxBeiEQEvpkz5i3cfGqkL1dv7RYga.o5iL01DrwtcVQSoGk7uM7dho25ZW3d1"
    with open(conf, "w") as f:
        f.write(text_.replace('init=/usr/lib/slipway/install"',
                              'init=/usr/lib/slipway/install slipway.install.disk=/dev/vda '
                              'slipway.install.hostname=installed-host slipway.install.user=alice '
                              f'slipway.install.password-hash={hash_}"'))
    p = run(SLIPWAY, "-C", proj, "image", "installer")
    check("the unattended installer ISO is composed", p.returncode == 0, text(p))
    if p.returncode:
        return
    with concurrent.futures.ThreadPoolExecutor(3) as ex:
        jobs = [ex.submit(installer_job, iso, "ovmf"), ex.submit(installer_job, iso, "seabios"),
                ex.submit(interactive_job, interactive_iso)]
        for job in jobs:
            for name, ok, detail in job.result():
                check(name, ok, detail)


for t in [test_build, test_boot, test_container, test_wsl, test_installer]:
    run_test(t)
shutil.rmtree(BASE, ignore_errors=True)
finish("server")
