#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The bundled example (examples/minimal) built from nothing with `slipway build`,
and its bootable images checked with the real tools and booted under QEMU:

- the vm disks (raw, vhd, vhdx, qcow2; boot = "hybrid"): GPT (sfdisk, sgdisk), the
  ESP (fsck.vfat, mtools: systemd-boot, the Boot Loader Specification entry with
  root=PARTUUID= of the root partition, the kernel and the initrd image, GRUB's
  grub.cfg), GRUB's boot.img and core.img before the first partition, the root
  (e2fsck, debugfs), the containers (qemu-img info/check/compare, the VHD footer);
  each boots under OVMF (systemd-boot) to the marker line the example's init
  prints, and powers off; raw and vhd also under SeaBIOS (GRUB);
- the live ISO (xorriso, osirrox, sfdisk) boots as a CD under SeaBIOS and OVMF and as
  a disk (hybrid MBR and GPT) under both;
- the verity disk (a dm-verity root): veritysetup verify accepts its partitions with
  the root hash `slipway build` printed; it boots under OVMF with / on
  /dev/mapper/root's device, read-only, and a copy with one byte of the init program changed
  stops in the initrd with the "verity: " message and powers off;
- a second build from nothing (in the same directory) gives the same bytes.

Usage: boot_test.py SLIPWAY SOURCE_ROOT"""
import concurrent.futures
import glob
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import check, extract_partition, finish, partition_table, read, run_test, show

SLIPWAY, ROOT = os.path.abspath(sys.argv[1]), sys.argv[2]
for needed in ["rpmbuild", "rpmkeys", "qemu-system-x86_64", "xorriso", "osirrox", "cpio", "qemu-img", "sfdisk", "sgdisk",
               "mcopy", "fsck.vfat", "e2fsck", "debugfs"]:
    if not shutil.which(needed):
        print(f"SKIP: {needed} missing")
        sys.exit(77)
OVMF_CODE, OVMF_VARS = "/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"
MARKER = b"SLIPWAY-BOOT-OK azl-mini"
BASE = tempfile.mkdtemp(prefix="slipway-boot-test-")
ESP_TYPE = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
ROOT_X86_64_TYPE = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"


def run(*args, timeout=300, **kw):
    e = dict(os.environ, LC_ALL="C", TZ="UTC", TMPDIR=BASE)
    e.pop("SOURCE_DATE_EPOCH", None)
    return subprocess.run(list(args), capture_output=True, timeout=timeout, env=e, **kw)


def text(p):
    return f"exit {p.returncode}\nstdout: {p.stdout[-1500:]!r}\nstderr: {p.stderr[-2500:]!r}"


def build(name):
    """Copies the example (without outputs) and runs `slipway build` in it."""
    proj = os.path.join(BASE, name)
    shutil.copytree(os.path.join(ROOT, "examples", "minimal"), proj, ignore=shutil.ignore_patterns("out"))
    t = time.monotonic()
    p = run(SLIPWAY, "-C", proj, "build", timeout=600)
    return proj, p, time.monotonic() - t


def mtype(esp, path):
    p = run("mtype", "-i", esp, "::" + path)
    return p.stdout if p.returncode == 0 else None


def boot(disk, fmt, log, firmware="ovmf", how="disk"):
    """Boots a disk (or, with how="cdrom", a CD) under OVMF or SeaBIOS (TCG); returns
    (qemu's exit status, serial log, seconds)."""
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
    t = time.monotonic()
    try:
        p = run(*args, timeout=240)
        rc, out = p.returncode, p.stdout
    except subprocess.TimeoutExpired as e:
        rc, out = "timeout", e.stdout or b""
    with open(log, "wb") as f:
        f.write(out)
    return rc, out, time.monotonic() - t


def unsigned_pe(pe):
    """A PE32+ image without its Authenticode signature (the certificate table
    and the padding to 8 bytes before it), CheckSum and Certificate Table entry
    zeroed: the same for an image and its signed copy."""
    if not pe or len(pe) < 0x40:
        return None
    pe = bytearray(pe)
    lfanew = struct.unpack_from("<I", pe, 0x3C)[0]
    opt = lfanew + 24
    cert = opt + 112 + 4 * 8
    off, size = struct.unpack_from("<II", pe, cert)
    if size:
        del pe[off:]
    pe[opt + 64:opt + 68] = bytes(4)
    pe[cert:cert + 8] = bytes(8)
    return bytes(pe).rstrip(b"\0")


def vhd_footer_ok(path, size):
    """The fixed VHD footer, per Microsoft's VHD specification (Hard Disk Footer Format)."""
    with open(path, "rb") as f:
        f.seek(-512, os.SEEK_END)
        ft = f.read(512)
    cookie, cur_size, disk_type, csum = ft[0:8], struct.unpack(">Q", ft[48:56])[0], struct.unpack(">I", ft[60:64])[0], \
        struct.unpack(">I", ft[64:68])[0]
    calc = (~sum(ft[:64] + b"\0\0\0\0" + ft[68:])) & 0xffffffff
    return cookie == b"conectix" and cur_size == size and disk_type == 2 and csum == calc and size % (1 << 20) == 0, \
        (cookie, cur_size, disk_type, csum, calc)


STATE = {}


def test_build():
    proj, p, secs = build("one")
    STATE["proj"], STATE["build_secs"], STATE["build_out"] = proj, secs, p.stdout
    check("build: slipway build of the example exits 0", p.returncode == 0, text(p))
    print(f"     (slipway build of the example from nothing: {secs:.1f} s)")
    out = os.path.join(proj, "out", "images")
    for f in ["vm.raw", "vm.vhd", "vm.vhdx", "vm.qcow2", "live.iso", "initrd.cpio.zst", "wsl.wsl",
              "container.oci.tar", "verity.raw"]:
        check(f"build: out/images/{f} written", os.path.isfile(os.path.join(out, f)), sorted(os.listdir(out))
              if os.path.isdir(out) else "no out/images")
    check("build: the repository metadata is signed", b"metadata written and signed" in p.stderr + p.stdout,
          p.stderr[-1500:])
    db = os.path.join(BASE, "rpmdb")
    os.makedirs(db, exist_ok=True)
    imp = run("rpmkeys", "--dbpath", db, "--import", os.path.join(proj, "keys", "release.pub.asc"))
    rpms = sorted(glob.glob(os.path.join(proj, "out", "repo", "Packages", "*.rpm")))
    k = run("rpmkeys", "--dbpath", db, "-K", *rpms) if rpms else None
    check("build: rpmkeys -K verifies every package with the example's public key",
          imp.returncode == 0 and k is not None and k.returncode == 0 and len(rpms) >= 12
          and k.stdout.count(b"digests signatures OK") == len(rpms), text(k) if k else "no packages")
    check("build: no 'do not boot' warning for the UEFI vm", b"vm" not in p.stderr or b"do not boot" not in p.stderr,
          p.stderr)


def test_disk_layout():
    if "proj" not in STATE:
        return
    out = os.path.join(STATE["proj"], "out", "images")
    raw = os.path.join(out, "vm.raw")
    pt = partition_table(raw)
    if not check("vm.raw: sfdisk reads a GPT", pt is not None and pt["label"] == "gpt", pt):
        return
    parts = pt["partitions"]
    check("vm.raw: two partitions, ESP then x86-64 root",
          [q["type"] for q in parts] == [ESP_TYPE, ROOT_X86_64_TYPE], parts)
    check("vm.raw: 512 MiB as configured", os.path.getsize(raw) == 512 << 20, os.path.getsize(raw))
    v = run("sgdisk", "-v", raw)
    check("vm.raw: sgdisk -v finds no problems", v.returncode == 0 and b"No problems found" in v.stdout, text(v))
    esp, root = os.path.join(BASE, "esp.img"), os.path.join(BASE, "root.img")
    extract_partition(raw, parts[0], esp)
    extract_partition(raw, parts[1], root)
    f = run("fsck.vfat", "-n", esp)
    check("ESP: fsck.vfat -n clean", f.returncode == 0, text(f))
    e = run("e2fsck", "-fn", root)
    check("root: e2fsck -fn clean", e.returncode == 0, text(e))

    root_uuid = parts[1]["uuid"].lower()
    kernels = sorted(glob.glob("/boot/vmlinuz-*"))
    kver = os.path.basename(kernels[-1])[len("vmlinuz-"):] if kernels else "?"
    entry = mtype(esp, f"/loader/entries/azl-mini-{kver}.conf")
    check("ESP: a BLS entry for the kernel", entry is not None, run("mdir", "-/", "-i", esp, "::/").stdout)
    if entry is not None:
        lines = dict(l.split(" ", 1) for l in entry.decode().splitlines() if " " in l)
        check("ESP: entry: linux and initrd below the entry token",
              lines.get("linux") == f"/azl-mini/{kver}/linux" and lines.get("initrd") == f"/azl-mini/{kver}/initrd",
              entry)
        check("ESP: entry: options = root=PARTUUID=<the root partition> + the image's kernel-cmdline",
              lines.get("options") == f"root=PARTUUID={root_uuid} console=ttyS0 init=/usr/lib/slipway/init", entry)
    check("ESP: loader.conf picks the entry", mtype(esp, "/loader/loader.conf") ==
          f"timeout 0\ndefault azl-mini-{kver}.conf\n".encode(), mtype(esp, "/loader/loader.conf"))
    sdboot = read("/usr/lib/systemd/boot/efi/systemd-bootx64.efi")
    check("ESP: EFI/BOOT/BOOTX64.EFI is systemd-boot, signed for Secure Boot (the example's [signing])",
          unsigned_pe(mtype(esp, "/EFI/BOOT/BOOTX64.EFI")) == unsigned_pe(sdboot), "differs")
    check("ESP: the kernel is the host's Debian kernel",
          kernels and mtype(esp, f"/azl-mini/{kver}/linux") == read(kernels[-1]), "differs")
    check("ESP: the initrd is the initrd image's output",
          mtype(esp, f"/azl-mini/{kver}/initrd") == read(os.path.join(out, "initrd.cpio.zst")), "differs")

    grub = mtype(esp, "/boot/grub/grub.cfg")
    check("ESP: GRUB's grub.cfg boots the same kernel, initrd and command line",
          grub is not None and f"linux /azl-mini/{kver}/linux root=PARTUUID={root_uuid} console=ttyS0 "
          f"init=/usr/lib/slipway/init".encode() in grub and f"initrd /azl-mini/{kver}/initrd".encode() in grub, grub)
    with open(raw, "rb") as f:
        head = f.read(2048 * 512)
    bootimg = read("/usr/lib/grub/i386-pc/boot.img")
    check("vm.raw: the MBR holds GRUB's boot.img code (up to the partition table) pointing at LBA 34",
          head[0x5c:0x64] == struct.pack("<Q", 34) and head[:0x5c] == bootimg[:0x5c]
          and head[0x68:0x1b8] == bootimg[0x68:0x1b8] and head[0x1fe:0x200] == b"\x55\xaa", head[:0x70].hex())
    check("vm.raw: GRUB's core.img at LBA 34 lists the rest of itself from LBA 35",
          struct.unpack("<Q", head[34 * 512 + 500:34 * 512 + 508])[0] == 35, head[34 * 512 + 500:34 * 512 + 512].hex())
    check("vm.raw: the GPT's first usable LBA is 2048 (core.img's sectors belong to nobody)",
          pt.get("firstlba") == 2048, pt)

    d = run("debugfs", "-R", "stat /usr/lib/slipway/init", root)
    check("root: debugfs: /usr/lib/slipway/init is 0755 root:root",
          b"Mode:  0755" in d.stdout and b"User:     0   Group:     0" in d.stdout, text(d))
    d = run("debugfs", "-R", "cat /etc/fstab", root)
    check("root: /etc/fstab mounts / by the root's PARTUUID",
          f"PARTUUID={root_uuid} / ext4".encode() in d.stdout.lower().replace(b"partuuid", b"PARTUUID"), text(d))
    d = run("debugfs", "-R", "ls -l /boot/efi", root)
    check("root: /boot/efi is an empty mount point (the ESP's files are on the ESP)",
          d.returncode == 0 and b"loader" not in d.stdout and b"EFI" not in d.stdout, text(d))

    size = os.path.getsize(raw)
    for fmt, f in (("vpc", "vm.vhd"), ("vhdx", "vm.vhdx"), ("qcow2", "vm.qcow2")):
        path = os.path.join(out, f)
        i = run("qemu-img", "info", "-f", fmt, "--output=json", path)
        import json
        vs = json.loads(i.stdout).get("virtual-size") if i.returncode == 0 else None
        check(f"{f}: qemu-img info -f {fmt}: virtual size = the raw disk's", vs == size, text(i))
        c = run("qemu-img", "compare", "-f", "raw", "-F", fmt, raw, path)
        check(f"{f}: qemu-img compare with vm.raw: identical", c.returncode == 0, text(c))
        if fmt != "vpc":
            c = run("qemu-img", "check", "-f", fmt, path)
            check(f"{f}: qemu-img check clean", c.returncode == 0, text(c))
    ok, detail = vhd_footer_ok(os.path.join(out, "vm.vhd"), size)
    check("vm.vhd: footer cookie, fixed type, size (whole MiB) and checksum", ok, detail)


def test_boot_disks():
    if "proj" not in STATE:
        return
    out = os.path.join(STATE["proj"], "out", "images")
    jobs = [("vm.raw", "raw", "ovmf"), ("vm.vhd", "vpc", "ovmf"), ("vm.vhdx", "vhdx", "ovmf"),
            ("vm.qcow2", "qcow2", "ovmf"), ("vm.raw", "raw", "seabios"), ("vm.vhd", "vpc", "seabios")]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
        futs = [ex.submit(boot, os.path.join(out, f), fmt, os.path.join(BASE, f"{f}.{fw}.log"), fw)
                for f, fmt, fw in jobs]
        for (f, fmt, fw), fut in zip(jobs, futs):
            rc, log, secs = fut.result()
            how = "OVMF, systemd-boot, -drive if=virtio" if fw == "ovmf" else "SeaBIOS, GRUB, -drive if=ide"
            check(f"boot {f} ({how}, format={fmt}): the init's marker on the serial console, "
                  f"then power-off ({secs:.0f} s)", rc == 0 and MARKER in log,
                  f"qemu exit {rc}; serial log tail: {log[-2500:]!r}")


def test_iso():
    """The live ISO: El Torito BIOS and UEFI images, the hybrid MBR and GPT, what the
    ISO 9660 tree holds; it boots as a CD under SeaBIOS and OVMF and as a disk."""
    if "proj" not in STATE:
        return
    iso = os.path.join(STATE["proj"], "out", "images", "live.iso")
    if not check("live.iso written", os.path.isfile(iso), "missing"):
        return
    x = run("xorriso", "-indev", iso, "-report_el_torito", "plain")
    rep = (x.stdout + x.stderr).decode(errors="replace")  # "Boot record" goes to stderr
    check("live.iso: xorriso lists a BIOS boot image (isolinux.bin, boot info table)",
          any("BIOS" in l and "none" in l for l in rep.splitlines() if l.startswith("El Torito boot img"))
          and "/isolinux/isolinux.bin" in rep and "boot-info-table" in rep, rep)
    check("live.iso: xorriso lists a UEFI boot image",
          any("UEFI" in l for l in rep.splitlines() if l.startswith("El Torito boot img")), rep)
    check("live.iso: MBR isohybrid and GPT", "MBR isohybrid" in rep and "GPT" in rep, rep)
    pt = partition_table(iso)
    check("live.iso: sfdisk reads a GPT with an EFI System partition",
          pt is not None and pt["label"] == "gpt" and any(q["type"] == ESP_TYPE for q in pt["partitions"]), pt)
    ex = os.path.join(BASE, "iso-x")
    o = run("osirrox", "-indev", iso, "-extract", "/", ex)
    check("live.iso: osirrox extracts it", o.returncode == 0, text(o))
    kernels = sorted(glob.glob("/boot/vmlinuz-*"))
    check("live.iso: /boot/vmlinuz is the kernel", kernels and os.path.isfile(os.path.join(ex, "boot", "vmlinuz"))
          and read(os.path.join(ex, "boot", "vmlinuz")) == read(kernels[-1]), "differs")
    cfg = os.path.join(ex, "isolinux", "isolinux.cfg")
    check("live.iso: isolinux.cfg boots /boot/vmlinuz with the initrd and kernel-cmdline",
          os.path.isfile(cfg) and "APPEND initrd=/boot/initrd console=ttyS0 rdinit=/usr/lib/slipway/init"
          in read(cfg).decode(), read(cfg) if os.path.isfile(cfg) else "missing")
    ini = os.path.join(ex, "boot", "initrd")
    if os.path.isfile(ini):
        lst = subprocess.run("zstd -dc | cpio -it --quiet", shell=True, input=read(ini), capture_output=True)
        names = lst.stdout.decode().split()
        check("live.iso: the initrd is the image's tree (init, hello, rpmdb) without the kernel file",
              "usr/lib/slipway/init" in names and "usr/bin/hello" in names
              and "usr/lib/sysimage/rpm/rpmdb.sqlite" in names and not any(n.endswith("/vmlinuz") for n in names),
              names[:40])
    jobs = [("CD, SeaBIOS (-cdrom)", "seabios", "cdrom"), ("CD, OVMF (-cdrom)", "ovmf", "cdrom"),
            ("disk, SeaBIOS (-drive)", "seabios", "disk"), ("disk, OVMF (-drive if=virtio)", "ovmf", "disk")]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex_:
        futs = [ex_.submit(boot, iso, "raw", os.path.join(BASE, f"iso-{i}.log"), fw, how)
                for i, (_, fw, how) in enumerate(jobs)]
        for (name, _, _), fut in zip(jobs, futs):
            rc, log, secs = fut.result()
            check(f"boot live.iso as a {name}: the init's marker, then power-off ({secs:.0f} s)",
                  rc == 0 and MARKER in log, f"qemu exit {rc}; serial log tail: {log[-2500:]!r}")


def test_verity():
    """The verity image: its root checked by veritysetup, booted as it is and with one
    byte of the init program flipped on the data partition."""
    if "proj" not in STATE:
        return
    import re
    disk = os.path.join(STATE["proj"], "out", "images", "verity.raw")
    m = re.search(rb"image verity:.*\n(?:.*\n)*?  verity /: root hash ([0-9a-f]{64}) \(data partition 2, hash partition 3\)",
                  STATE.get("build_out", b""))
    if not check("verity: slipway build printed the root hash of the root (partitions 2 and 3)", m is not None,
                 STATE.get("build_out", b"")[-1500:]):
        return
    root_hash = m.group(1).decode()
    t = partition_table(disk)
    if not check("verity: ESP, root, root-verity", t and [p.get("name") for p in t["partitions"]] ==
                 ["esp", "root", "root-verity"], t):
        return
    data, hashp = os.path.join(BASE, "verity.root"), os.path.join(BASE, "verity.hash")
    extract_partition(disk, t["partitions"][1], data)
    extract_partition(disk, t["partitions"][2], hashp)
    if shutil.which("veritysetup"):
        p = run("veritysetup", "verify", data, hashp, root_hash)
        check("verity: veritysetup verify accepts the root with the printed root hash", p.returncode == 0, text(p))
    else:
        print("SKIP: veritysetup missing (cryptsetup-bin): the verity partitions are not checked")
    esp = os.path.join(BASE, "verity.esp")
    extract_partition(disk, t["partitions"][0], esp)
    entry = (mtype(esp, "/loader/entries/azl-mini-*.conf") or b"").decode(errors="replace")
    check("verity: the BLS entry has root=/dev/mapper/root and the root hash",
          f"root=/dev/mapper/root roothash={root_hash} " in entry, entry)

    # One byte of the init program (read through dm-verity before switch_root) flipped.
    p = run("debugfs", "-R", "blocks /usr/lib/slipway/init", data)
    blocks = p.stdout.split()
    if not check("verity: debugfs lists the init program's blocks", blocks and blocks[0].isdigit(), text(p)):
        return
    bad = os.path.join(BASE, "verity-bad.raw")
    shutil.copy(disk, bad)
    off = t["partitions"][1]["start"] * 512 + int(blocks[len(blocks) // 2]) * 4096 + 100
    with open(bad, "r+b") as f:
        f.seek(off)
        b = f.read(1)
        f.seek(off)
        f.write(bytes([b[0] ^ 0xff]))
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
        good = ex.submit(boot, disk, "raw", os.path.join(BASE, "verity.ovmf.log"), "ovmf")
        broken = ex.submit(boot, bad, "raw", os.path.join(BASE, "verity-bad.ovmf.log"), "ovmf")
        rc, log, secs = good.result()
        check(f"boot verity.raw (OVMF): the initrd opens /dev/mapper/root, the init's marker ({secs:.0f} s)",
              rc == 0 and MARKER in log and b"verity: /dev/mapper/root (" in log,
              f"qemu exit {rc}; serial log tail: {log[-2500:]!r}")
        # verity-open names the device it made; the init, after switch_root, the one / is on.
        dm = re.search(rb"verity: /dev/mapper/root is device (\d+:\d+), read-only", log)
        check("boot verity.raw: / is on /dev/mapper/root's device, mounted read-only",
              dm is not None and re.search(rb"SLIPWAY-EVIDENCE root=" + dm.group(1) + rb" ro\r?\n", log) is not None,
              [l for l in log.split(b"\n") if b"EVIDENCE" in l or b"verity:" in l])
        rc, log, secs = broken.result()
        check(f"boot verity.raw with one byte of the init flipped: the verity error on the console, no marker, "
              f"power-off ({secs:.0f} s)",
              rc == 0 and MARKER not in log and b"verity: /dev/mapper/root met a corrupted block" in log
              and b"not booting it" in log, f"qemu exit {rc}; serial log tail: {log[-2500:]!r}")
        check("boot verity.raw with one byte flipped: the kernel names the corrupted block",
              re.search(rb"device-mapper: verity: [0-9:]+: data block \d+ is corrupted", log) is not None,
              [l for l in log.split(b"\n") if b"verity" in l][-8:])


def test_reproducible():
    """A second build from nothing in the same place gives the same bytes. (The
    project's path is part of what rpmbuild records: the source RPM's Spec tag holds
    the expanded %prep with the absolute source path, and the binary RPMs point at
    the source RPM by its digest.)"""
    if "proj" not in STATE:
        return
    proj = STATE["proj"]
    first = os.path.join(BASE, "first-out")
    os.rename(os.path.join(proj, "out"), first)
    p = run(SLIPWAY, "-C", proj, "build", timeout=600)
    if not check("second build from nothing exits 0", p.returncode == 0, text(p)):
        return
    for f in ["vm.raw", "vm.vhd", "vm.vhdx", "vm.qcow2", "live.iso", "initrd.cpio.zst", "wsl.wsl",
              "container.oci.tar", "verity.raw"]:
        a, b = os.path.join(first, "images", f), os.path.join(proj, "out", "images", f)
        same = os.path.isfile(a) and os.path.isfile(b) and run("cmp", a, b).returncode == 0
        check(f"two builds from nothing: {f} byte-identical", same, "differ")


def test_boot_errors():
    """A UEFI image without systemd-boot, or without a kernel: one error naming what to add, no outputs."""
    if "proj" not in STATE:
        return
    proj = STATE["proj"]
    vm = os.path.join(proj, "images", "vm.toml")
    orig = read(vm).decode()
    try:
        for drop, says in (('"systemd-boot", ', "systemd-boot"), ('"kernel", ', "kernel")):
            with open(vm, "w") as f:
                f.write(orig.replace(drop, ""))
            out = os.path.join(BASE, "bad-" + says)
            shutil.copytree(os.path.join(proj, "out", "repo"), os.path.join(out, "repo"))
            p = run(SLIPWAY, "-C", proj, "--out", out, "image", "vm")
            check(f"vm without {says}: exit 1 with an error naming {says}",
                  p.returncode == 1 and says.encode() in p.stderr and b"error" in p.stderr, text(p))
            check(f"vm without {says}: no disk written",
                  not glob.glob(os.path.join(out, "images", "vm.*")), os.listdir(os.path.join(out, "images"))
                  if os.path.isdir(os.path.join(out, "images")) else [])
    finally:
        with open(vm, "w") as f:
            f.write(orig)
    live = os.path.join(proj, "images", "live.toml")
    orig = read(live).decode()
    try:
        with open(live, "w") as f:
            f.write(orig.replace('"syslinux", ', ""))
        out = os.path.join(BASE, "bad-syslinux")
        shutil.copytree(os.path.join(proj, "out", "repo"), os.path.join(out, "repo"))
        p = run(SLIPWAY, "-C", proj, "--out", out, "image", "live")
        check("live (hybrid) without ISOLINUX: exit 1 with an error naming isolinux.bin",
              p.returncode == 1 and b"isolinux.bin" in p.stderr, text(p))
        check("live without ISOLINUX: no ISO written", not glob.glob(os.path.join(out, "images", "live.*")),
              os.listdir(os.path.join(out, "images")) if os.path.isdir(os.path.join(out, "images")) else [])
    finally:
        with open(live, "w") as f:
            f.write(orig)


for t in [test_build, test_disk_layout, test_boot_disks, test_iso, test_verity, test_boot_errors, test_reproducible]:
    run_test(t)
shutil.rmtree(BASE, ignore_errors=True)
finish("boot")
