#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Unified kernel images and Secure Boot signatures (issue 19, items 4 and 5),
checked with the real tools: `slipway keygen --secure-boot` (openssl x509),
the example's uki image (examples/minimal/images/uki.toml) and a variant with
uki = "firmware": the UKI's sections (objdump -h, objcopy --only-section)
against the kernel, initrd, os-release and command line they come from,
Authenticode signatures (sbverify --cert, --list) on the UKI and on
systemd-boot taken from the ESP (mtools), a wrong certificate and an altered
image refused, the exported db.cer and db.esl, the same bytes from a second
run, and configuration errors with file:line:column.

Usage: uki_test.py SLIPWAY SOURCE_ROOT"""
import hashlib
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import check, extract_partition, finish, partition_table, read, run_test, show, write

SLIPWAY, ROOT = os.path.abspath(sys.argv[1]), sys.argv[2]
for needed in ["rpmbuild", "openssl", "objdump", "objcopy", "sbverify", "mcopy", "sfdisk", "debugfs"]:
    if not shutil.which(needed):
        print(f"SKIP: {needed} missing")
        sys.exit(77)

BASE = tempfile.mkdtemp(prefix="slipway-uki-test-")
TMPDIR = os.path.join(BASE, "tmp")
os.makedirs(TMPDIR)
MTOOLS = dict(os.environ, MTOOLS_SKIP_CHECK="1")
EFI_CERT_X509_GUID = uuid.UUID("a5c059a1-94e4-4aa7-87b5-ab155c2bf072")


def slipway(*args, env=None, timeout=600):
    e = dict(os.environ, LC_ALL="C", TMPDIR=TMPDIR)
    e.pop("SOURCE_DATE_EPOCH", None)
    if env:
        e.update(env)
    return subprocess.run([SLIPWAY, *args], capture_output=True, text=True, env=e, timeout=timeout)


def tool(*args, **kw):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, LC_ALL="C", TZ="UTC"), **kw)


def path(*parts):
    return os.path.join(BASE, *parts)


def test_keygen():
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    p = slipway("keygen", "--secure-boot", "--uid", "Test Secure Boot", "-o", path("keys", "sb"), env=env)
    if not check("keygen --secure-boot: exit 0", p.returncode == 0, show(p)):
        return
    key, crt = path("keys", "sb.key"), path("keys", "sb.crt")
    check("keygen: the key is mode 0600", stat.S_IMODE(os.stat(key).st_mode) == 0o600, oct(os.stat(key).st_mode))
    x = tool("openssl", "x509", "-in", crt, "-noout", "-text")
    check("keygen: openssl x509 reads the certificate", x.returncode == 0, x.stderr)
    t = x.stdout
    check("keygen: X.509 v3, self-signed, CN from --uid",
          "Version: 3 (0x2)" in t and "Issuer: CN = Test Secure Boot" in t and "Subject: CN = Test Secure Boot" in t, t)
    check("keygen: RSA 2048, SHA-256", "Public-Key: (2048 bit)" in t and "sha256WithRSAEncryption" in t, t)
    check("keygen: for code signing", re.search(r"Extended Key Usage:\s*\n\s*Code Signing", t) is not None, t)
    check("keygen: notBefore is SOURCE_DATE_EPOCH", "Not Before: Nov 14 22:13:20 2023 GMT" in t, t)
    v = tool("openssl", "verify", "-CAfile", crt, crt)
    check("keygen: the certificate verifies against itself", v.returncode == 0, v.stdout + v.stderr)
    pub = subprocess.run(f"openssl x509 -in {crt} -noout -pubkey | openssl pkey -pubin -outform DER", shell=True,
                         capture_output=True)
    serial = tool("openssl", "x509", "-in", crt, "-noout", "-serial").stdout.strip().split("=")[1]
    h = bytearray(hashlib.sha256(pub.stdout).digest()[:16])
    h[0] = (h[0] & 0x7F) | 0x40
    check("keygen: the serial number is derived from the public key", serial.lower() == h.hex(), (serial, h.hex()))
    m = tool("openssl", "rsa", "-in", key, "-noout", "-modulus").stdout
    m2 = tool("openssl", "x509", "-in", crt, "-noout", "-modulus").stdout
    check("keygen: the key and the certificate match", m == m2 and m.startswith("Modulus="), (m[:40], m2[:40]))
    p = slipway("keygen", "--secure-boot", "--uid", "Again", "-o", path("keys", "sb"))
    check("keygen: refuses to overwrite", p.returncode != 0 and "already exists" in p.stderr, show(p))
    p = slipway("keygen", "--secure-boot", "--uid", "Other", "-o", path("keys", "other"))
    check("keygen: a second pair", p.returncode == 0, show(p))


STATE = {}


def esp_file(disk, name, dest):
    t = partition_table(disk)
    esp = f"{disk}@@{t['partitions'][0]['start'] * 512}"
    p = subprocess.run(["mcopy", "-n", "-i", esp, "::" + name, dest], capture_output=True, env=MTOOLS)
    return p.returncode == 0


def section(efi, name):
    out = path("section.bin")
    if os.path.exists(out):
        os.unlink(out)
    p = tool("objcopy", "-O", "binary", f"--only-section={name}", efi, out)
    return open(out, "rb").read() if p.returncode == 0 and os.path.exists(out) else None


def test_build():
    proj = path("example")
    shutil.copytree(os.path.join(ROOT, "examples", "minimal"), proj, ignore=shutil.ignore_patterns("out"))
    uki = read(os.path.join(proj, "images", "uki.toml")).decode()
    write(os.path.join(proj, "images", "uki-firmware.toml"),
          uki.replace("images.uki", "images.uki-firmware").replace('uki = "systemd-boot"', 'uki = "firmware"'))
    p = slipway("-C", proj, "build", timeout=900)
    if check("build: slipway build of the example exits 0", p.returncode == 0, show(p)):
        STATE["proj"] = proj
        out = p.stdout if isinstance(p.stdout, str) else p.stdout.decode()
        m = re.search(r"image uki:.*\n(?:.*\n)*?  verity /: root hash ([0-9a-f]{64}) \(data partition 2, hash "
                      r"partition 3\)", out)
        if check("build: the uki image's root hash printed (its root is verity's)", m is not None, out[-3000:]):
            STATE["root_hash"] = m.group(1)


def test_uki():
    if "proj" not in STATE:
        return
    proj = STATE["proj"]
    out = os.path.join(proj, "out")
    disk = os.path.join(out, "images", "uki.raw")
    t = partition_table(disk)
    parts = t["partitions"]
    ls = subprocess.run(["mdir", "-b", "-i", f"{disk}@@{parts[0]['start'] * 512}", "::/EFI/Linux"],
                        capture_output=True, text=True, env=MTOOLS)
    names = [x.split("/")[-1] for x in ls.stdout.split() if x.endswith(".efi")]
    if not check("uki: one UKI in ESP/EFI/Linux named PROJECT-KVER.efi",
                 len(names) == 1 and re.fullmatch(r"azl-mini-.+\.efi", names[0]), ls.stdout + ls.stderr):
        return
    kver = names[0][len("azl-mini-"):-4]
    efi, sdboot = path("uki.efi"), path("BOOTX64.EFI")
    check("uki: mcopy extracts the UKI and EFI/BOOT/BOOTX64.EFI",
          esp_file(disk, "/EFI/Linux/" + names[0], efi) and esp_file(disk, "/EFI/BOOT/BOOTX64.EFI", sdboot), "")
    h = tool("objdump", "-h", efi)
    found = re.findall(r"^\s*\d+\s+(\.\w+)\s+([0-9a-f]+)\s+([0-9a-f]+)", h.stdout, re.M)
    order = [n for n, _, _ in found]
    check("uki: objdump -h reads it, the stub's sections then .osrel .cmdline .uname .initrd .linux",
          h.returncode == 0 and order[-5:] == [".osrel", ".cmdline", ".uname", ".initrd", ".linux"]
          and order[0] == ".text", h.stdout + h.stderr)
    vmas = [int(v, 16) for _, _, v in found[-5:]]
    check("uki: the added sections at increasing 512-byte aligned addresses",
          all(v % 512 == 0 for v in vmas) and vmas == sorted(vmas), vmas)
    data_uuid, hash_uuid = parts[1]["uuid"].lower(), parts[2]["uuid"].lower()
    cmdline = section(efi, ".cmdline")
    rh = STATE.get("root_hash", "?")
    check("uki: .cmdline is the BLS entry's command line, with the verity root's hash and partitions",
          cmdline == (f"root=/dev/mapper/root roothash={rh} systemd.verity_root_data=PARTUUID={data_uuid} "
                      f"systemd.verity_root_hash=PARTUUID={hash_uuid} console=ttyS0 "
                      "init=/usr/lib/slipway/init").encode(), cmdline)
    check("uki: the partitions' GUIDs are the root hash's halves (DPS)",
          data_uuid.replace("-", "") == rh[:32] and hash_uuid.replace("-", "") == rh[32:], (data_uuid, hash_uuid, rh))
    check("uki: .uname is the kernel's version", section(efi, ".uname") == kver.encode(), section(efi, ".uname"))
    rootfs = path("root.img")
    extract_partition(disk, parts[1], rootfs)
    osrel = subprocess.run(["debugfs", "-R", "cat /usr/lib/os-release", rootfs], capture_output=True).stdout
    check("uki: .osrel is the image's /usr/lib/os-release", osrel and section(efi, ".osrel") == osrel, osrel[:200])
    kernel = path("vmlinuz")
    subprocess.run(["debugfs", "-R", f"dump /usr/lib/modules/{kver}/vmlinuz {kernel}", rootfs], capture_output=True)
    check("uki: .linux is the image's kernel", os.path.exists(kernel) and section(efi, ".linux") ==
          open(kernel, "rb").read(), "differs")
    initrd = open(os.path.join(out, "images", "initrd.cpio.zst"), "rb").read()
    check("uki: .initrd is the initrd image", section(efi, ".initrd") == initrd, "differs")

    crt = os.path.join(proj, "keys", "secureboot.crt")
    for name, f in (("the UKI", efi), ("systemd-boot (EFI/BOOT/BOOTX64.EFI)", sdboot)):
        v = tool("sbverify", "--cert", crt, f)
        check(f"sbverify --cert accepts {name}", v.returncode == 0 and "Signature verification OK" in v.stdout,
              v.stdout + v.stderr)
        v = tool("sbverify", "--cert", path("keys", "other.crt"), f)
        check(f"sbverify refuses {name} with another certificate", v.returncode != 0, v.stdout + v.stderr)
    lst = tool("sbverify", "--list", efi)
    check("sbverify --list: one signature by the project's certificate",
          lst.returncode == 0 and "signature 1" in lst.stdout and "signature 2" not in lst.stdout
          and "CN=azl-mini Secure Boot" in lst.stdout, lst.stdout + lst.stderr)
    sd = read("/usr/lib/systemd/boot/efi/systemd-bootx64.efi")
    check("systemd-boot on the ESP is the package's, signed", sd[:0x80] == open(sdboot, "rb").read()[:0x80]
          and len(open(sdboot, "rb").read()) > len(sd), "differs")
    data = bytearray(open(efi, "rb").read())
    lin = [x for x in found if x[0] == ".linux"][0]
    offs = re.search(r"\.linux\s+\S+\s+\S+\s+\S+\s+([0-9a-f]+)", h.stdout)
    data[int(offs.group(1), 16) + int(lin[1], 16) // 2] ^= 0x80
    with open(path("altered.efi"), "wb") as f:
        f.write(bytes(data))
    v = tool("sbverify", "--cert", crt, path("altered.efi"))
    check("sbverify refuses the UKI with one byte of .linux changed", v.returncode != 0, v.stdout + v.stderr)

    # The certificate for enrolment.
    cer = open(os.path.join(out, "secure-boot", "db.cer"), "rb").read()
    der = subprocess.run(["openssl", "x509", "-in", crt, "-outform", "DER"], capture_output=True).stdout
    check("out/secure-boot/db.cer is the certificate, DER", cer == der and len(der) > 500, len(cer))
    esl = open(os.path.join(out, "secure-boot", "db.esl"), "rb").read()
    typ, list_size, hdr_size, sig_size = uuid.UUID(bytes_le=esl[:16]), *struct.unpack_from("<III", esl, 16)
    check("db.esl: one EFI_SIGNATURE_LIST of EFI_CERT_X509_GUID holding db.cer",
          typ == EFI_CERT_X509_GUID and list_size == len(esl) and hdr_size == 0 and sig_size == 16 + len(der)
          and esl[44:] == der, (typ, list_size, hdr_size, sig_size))
    if shutil.which("sig-list-to-certs"):
        s = tool("sig-list-to-certs", os.path.join(out, "secure-boot", "db.esl"), path("esl-out"))
        check("efitools' sig-list-to-certs reads db.esl", s.returncode == 0 and
              open(path("esl-out-0.der"), "rb").read() == der, s.stdout + s.stderr)

    # uki = "firmware": the UKI is what the firmware starts.
    fw = os.path.join(out, "images", "uki-firmware.raw")
    boot = path("fw-BOOTX64.EFI")
    check("uki-firmware: EFI/BOOT/BOOTX64.EFI is a signed UKI",
          esp_file(fw, "/EFI/BOOT/BOOTX64.EFI", boot) and section(boot, ".linux") == open(kernel, "rb").read()
          and tool("sbverify", "--cert", crt, boot).returncode == 0, "")
    check("uki-firmware: no systemd-boot, no loader entries",
          not esp_file(fw, "/EFI/systemd/systemd-bootx64.efi", path("x.efi"))
          and not esp_file(fw, "/loader/loader.conf", path("x.conf")), "")

    # The live ISO's ESP (El Torito's EFI image) holds systemd-boot, signed too.
    iso = os.path.join(out, "images", "live.iso")
    rep = tool("xorriso", "-indev", iso, "-report_el_torito", "plain") if shutil.which("xorriso") else None
    m = re.search(r"EFI image start and size: (\d+) \* 2048", (rep.stdout + rep.stderr) if rep else "")
    if m:
        isoboot = path("iso-BOOTX64.EFI")
        c = subprocess.run(["mcopy", "-n", "-i", f"{iso}@@{int(m.group(1)) * 2048}", "::/EFI/BOOT/BOOTX64.EFI",
                            isoboot], capture_output=True, env=MTOOLS)
        v = tool("sbverify", "--cert", crt, isoboot)
        check("live ISO: sbverify --cert accepts the ESP's systemd-boot", c.returncode == 0 and v.returncode == 0,
              v.stdout + v.stderr)
    else:
        print("skipped live ISO check: no xorriso or no EFI image")

    # The same bytes again (the image step, into another output directory).
    again = path("again")
    shutil.copytree(os.path.join(out, "repo"), os.path.join(again, "repo"))
    p = slipway("-C", proj, "--out", again, "image", "initrd", "uki")
    check("second run: exit 0", p.returncode == 0, show(p))
    same = subprocess.run(["cmp", disk, os.path.join(again, "images", "uki.raw")], capture_output=True)
    check("second run: the same uki.raw, byte for byte", same.returncode == 0, same.stdout)
    check("second run: the same db.esl", open(os.path.join(again, "secure-boot", "db.esl"), "rb").read() == esl, "")


def test_config_errors():
    if "proj" not in STATE:
        return
    proj = STATE["proj"]
    toml = os.path.join(proj, "slipway.toml")
    orig = read(toml).decode()
    uki = os.path.join(proj, "images", "uki.toml")
    uki_orig = read(uki).decode()
    weak = path("weak.key")
    tool("openssl", "genrsa", "-out", weak, "1024")

    def line_col(text, what):
        for i, l in enumerate(text.splitlines(), 1):
            if l.startswith(what):
                return f"{i}:{l.index('=') + 3}"
        return "?"

    cases = [
        ("key without cert", orig.replace('secure-boot-cert = "keys/secureboot.crt"\n', ""),
         "secure-boot-key", "secure-boot-key is set but secure-boot-cert is not"),
        ("cert without key", orig.replace('secure-boot-key = "keys/secureboot.key"\n', ""),
         "secure-boot-cert", "secure-boot-cert is set but secure-boot-key is not"),
        ("mismatched pair", orig.replace('"keys/secureboot.crt"', f'"{BASE}/keys/other.crt"'),
         "secure-boot-cert", "is not secure-boot-key's"),
        ("RSA 1024", orig.replace('"keys/secureboot.key"', f'"{weak}"'),
         "secure-boot-key", "fewer than 2048 bits"),
        ("a certificate as the key", orig.replace('"keys/secureboot.key"', '"keys/secureboot.crt"'),
         "secure-boot-key", "not a PEM private key"),
        ("missing key file", orig.replace('"keys/secureboot.key"', '"keys/nope.key"'),
         "secure-boot-key", "does not exist"),
    ]
    try:
        for name, text, key, says in cases:
            write(toml, text)
            p = slipway("-C", proj, "check")
            where = f"slipway.toml:{line_col(text, key)}:"
            check(f"config: {name}: exit 1, '{says}' at {where}",
                  p.returncode == 1 and any(where in l and says in l and "error" in l for l in p.stderr.splitlines()),
                  show(p))
        write(toml, orig)
        for name, text, says in [
                ("uki with boot = bios", uki_orig.replace('boot = "uefi"', 'boot = "bios"'), "boots through UEFI"),
                ("uki = unknown", uki_orig.replace('uki = "systemd-boot"', 'uki = "grub"'), "uki")]:
            write(uki, text)
            p = slipway("-C", proj, "check")
            where = f"images/uki.toml:{line_col(text, 'uki =')}:"
            check(f"config: {name}: exit 1, an error at {where}",
                  p.returncode == 1 and any(where in l and says in l for l in p.stderr.splitlines()), show(p))
        # No systemd-stub in the image: an error naming it, no disk.
        write(uki, uki_orig.replace('"systemd-boot", ', '').replace('uki = "systemd-boot"', 'uki = "firmware"'))
        out = path("nostub")
        shutil.copytree(os.path.join(proj, "out", "repo"), os.path.join(out, "repo"))
        p = slipway("-C", proj, "--out", out, "image", "initrd", "uki")
        check("no systemd-stub: exit 1 naming linuxx64.efi.stub",
              p.returncode == 1 and "linuxx64.efi.stub" in p.stderr, show(p))
        check("no systemd-stub: no disk written", not os.path.exists(os.path.join(out, "images", "uki.raw")), "")
    finally:
        write(toml, orig)
        write(uki, uki_orig)


for t in [test_keygen, test_build, test_uki, test_config_errors]:
    run_test(t)
shutil.rmtree(BASE, ignore_errors=True)
finish("uki")
