#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""UEFI Secure Boot of the example's unified kernel images (issue 19, items 4
and 5), under OVMF with Secure Boot enforced (OVMF_CODE_4M.secboot.fd, SMM,
TCG) and a variable store made here: Debian's snakeoil store
(OVMF_VARS_4M.snakeoil.fd: PK, KEK and db enrolled, Secure Boot on) whose db
is replaced by an EFI_SIGNATURE_LIST holding the project's certificate
(out/secure-boot/db.esl, exported by slipway), written offline into the
firmware volume's authenticated variable store.

- the uki image (systemd-boot, then EFI/Linux/azl-mini-KVER.efi, both signed)
  boots to the init's marker, and the kernel says Secure Boot is on; its root
  is the dm-verity device the UKI's command line names, read-only;
- the same image with one byte of the UKI's .linux section changed does not
  boot: systemd-boot reports the firmware's refusal;
- the image signed with another key does not boot: the firmware refuses
  systemd-boot;
- uki = "firmware" (the UKI itself as EFI/BOOT/BOOTX64.EFI) boots.

Usage: secureboot_test.py SLIPWAY SOURCE_ROOT"""
import concurrent.futures
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import check, finish, partition_table, run_test, write
from vmconsole import VM, Timeout

SLIPWAY, ROOT = os.path.abspath(sys.argv[1]), sys.argv[2]
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd"
for needed in ["rpmbuild", "qemu-system-x86_64", "mcopy", "sfdisk", "objdump"]:
    if not shutil.which(needed):
        print(f"SKIP: {needed} missing")
        sys.exit(77)
for f in [OVMF_CODE, OVMF_VARS]:
    if not os.path.exists(f):
        print(f"SKIP: {f} missing (ovmf)")
        sys.exit(77)
MARKER = b"SLIPWAY-BOOT-OK azl-mini"
BASE = tempfile.mkdtemp(prefix="slipway-secureboot-test-")
MTOOLS = dict(os.environ, MTOOLS_SKIP_CHECK="1")

# The variable store (EDK2 MdeModulePkg/Include/Guid/VariableFormat.h,
# PI Specification vol. 3, EFI_FIRMWARE_VOLUME_HEADER).
AUTH_VARIABLE_GUID = uuid.UUID("aaf32c78-947b-439a-a180-2e144ec37792")
IMAGE_SECURITY_DATABASE_GUID = uuid.UUID("d719b2cb-3d3a-4596-a3bc-dad00e67656f")
# StartId, State, Reserved, Attributes, MonotonicCount, TimeStamp (EFI_TIME),
# PubKeyIndex, NameSize, DataSize, VendorGuid.
AUTH_VAR_HEADER = struct.Struct("<HBBIQ16sIII16s")
VAR_ADDED, VAR_DELETED, VAR_IN_DELETED_TRANSITION = 0x3F, 0xFD, 0xFE
# NV | BS | RT | TIME_BASED_AUTHENTICATED_WRITE_ACCESS
DB_ATTRIBUTES = 0x01 | 0x02 | 0x04 | 0x20


def variables(fd):
    """The variable records of an OVMF_VARS image: (offset, state, name,
    vendor GUID), the offset where free space begins and where the store ends."""
    if fd[40:44] != b"_FVH":
        raise ValueError("not a firmware volume")
    header_length = struct.unpack_from("<H", fd, 48)[0]
    sig = uuid.UUID(bytes_le=bytes(fd[header_length:header_length + 16]))
    size = struct.unpack_from("<I", fd, header_length + 16)[0]
    if sig != AUTH_VARIABLE_GUID:
        raise ValueError(f"variable store {sig}, not the authenticated format")
    off, end, out = header_length + 28, header_length + size, []
    while off + AUTH_VAR_HEADER.size <= end:
        start, state, _, attrs, _, _, _, ns, ds, guid = AUTH_VAR_HEADER.unpack_from(fd, off)
        if start != 0x55AA:
            break
        name = bytes(fd[off + AUTH_VAR_HEADER.size:off + AUTH_VAR_HEADER.size + ns]).decode("utf-16-le").rstrip("\0")
        out.append((off, state, attrs, name, uuid.UUID(bytes_le=guid)))
        off = (off + AUTH_VAR_HEADER.size + ns + ds + 3) & ~3
    return out, off, end


def live(state):
    return state in (VAR_ADDED, VAR_ADDED & VAR_IN_DELETED_TRANSITION)


def vars_with_db(esl):
    """The snakeoil store with db holding esl alone: the old record marked
    deleted, the new one appended in the free space (offline, so no
    authentication descriptor is needed)."""
    fd = bytearray(open(OVMF_VARS, "rb").read())
    recs, free, end = variables(fd)
    dbs = [r for r in recs if r[3] == "db" and r[4] == IMAGE_SECURITY_DATABASE_GUID and live(r[1])]
    if len(dbs) != 1:
        raise ValueError(f"{len(dbs)} live db variables in {OVMF_VARS}")
    off = dbs[0][0]
    _, state, _, attrs, count, stamp, key_index, _, _, guid = AUTH_VAR_HEADER.unpack_from(fd, off)
    if attrs != DB_ATTRIBUTES:
        raise ValueError(f"db has attributes {attrs:#x}")
    fd[off + 2] = state & VAR_DELETED
    name = "db\0".encode("utf-16-le")
    rec = AUTH_VAR_HEADER.pack(0x55AA, VAR_ADDED, 0, attrs, count, stamp, key_index, len(name), len(esl), guid) \
        + name + esl
    if free + len(rec) > end or any(b != 0xFF for b in fd[free:free + len(rec)]):
        raise ValueError("no free space for db")
    fd[free:free + len(rec)] = rec
    return bytes(fd)


def run(*args, timeout=600, **kw):
    e = dict(os.environ, LC_ALL="C", TZ="UTC", TMPDIR=BASE)
    e.pop("SOURCE_DATE_EPOCH", None)
    return subprocess.run(list(args), capture_output=True, timeout=timeout, env=e, **kw)


def text(p):
    return f"exit {p.returncode}\nstdout: {p.stdout[-1500:]!r}\nstderr: {p.stderr[-2500:]!r}"


def boot(disk, log, until, timeout):
    """Boots disk under OVMF with Secure Boot and the project's db until the
    console shows one of the byte strings in until, or timeout seconds pass
    (TCG: SMM is not available under every KVM); returns the console output."""
    vars_fd = log + ".vars.fd"
    with open(vars_fd, "wb") as f:
        f.write(STATE["vars"])
    extra = ["-machine", "q35,smm=on", "-global", "driver=cfi.pflash01,property=secure,value=on",
             "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
             "-drive", f"if=pflash,format=raw,unit=1,file={vars_fd}"]
    vm = VM(disk, fmt="raw", firmware=None, log=log, memory=1024, extra=extra)
    try:
        vm.expect(b"|".join(re.escape(u) for u in until), timeout=timeout)
        time.sleep(3)  # what the console prints next
    except Timeout:
        pass
    finally:
        vm.stop()
    return vm.output


STATE = {}


def esp_of(disk):
    t = partition_table(disk)
    return f"{disk}@@{t['partitions'][0]['start'] * 512}"


def test_build():
    proj = os.path.join(BASE, "example")
    shutil.copytree(os.path.join(ROOT, "examples", "minimal"), proj, ignore=shutil.ignore_patterns("out"))
    uki = open(os.path.join(proj, "images", "uki.toml")).read()
    write(os.path.join(proj, "images", "uki-firmware.toml"),
          uki.replace("images.uki", "images.uki-firmware").replace('uki = "systemd-boot"', 'uki = "firmware"'))
    t = time.monotonic()
    p = run(SLIPWAY, "-C", proj, "build")
    if not check("build: slipway build of the example exits 0", p.returncode == 0, text(p)):
        return
    print(f"     (slipway build: {time.monotonic() - t:.1f} s)")
    STATE["proj"] = proj
    esl = open(os.path.join(proj, "out", "secure-boot", "db.esl"), "rb").read()
    STATE["vars"] = vars_with_db(esl)
    recs, _, _ = variables(STATE["vars"])
    dbs = [r for r in recs if r[3] == "db" and live(r[1])]
    check("vars: one live db, with the project's EFI_SIGNATURE_LIST", len(dbs) == 1 and dbs[0][2] == DB_ATTRIBUTES, dbs)

    # The same image signed with another key (the image step alone, into another output directory).
    other = os.path.join(BASE, "other-out")
    shutil.copytree(os.path.join(proj, "out", "repo"), os.path.join(other, "repo"))
    k = run(SLIPWAY, "keygen", "--secure-boot", "--uid", "Another key", "-o", os.path.join(BASE, "other"))
    toml = os.path.join(proj, "slipway.toml")
    orig = open(toml).read()
    try:
        write(toml, orig.replace('"keys/secureboot.key"', f'"{BASE}/other.key"')
              .replace('"keys/secureboot.crt"', f'"{BASE}/other.crt"'))
        p = run(SLIPWAY, "-C", proj, "--out", other, "image", "initrd", "uki")
        check("build: uki signed with another key", k.returncode == 0 and p.returncode == 0, text(p))
    finally:
        write(toml, orig)
    STATE["other"] = os.path.join(other, "images", "uki.raw")

    # One byte of the signed UKI's kernel changed, on a copy of the disk.
    disk = os.path.join(proj, "out", "images", "uki.raw")
    altered = os.path.join(BASE, "altered.raw")
    shutil.copy(disk, altered)
    esp = esp_of(altered)
    ls = subprocess.run(["mdir", "-b", "-i", esp, "::/EFI/Linux"], capture_output=True, text=True, env=MTOOLS)
    names = [x.split("/")[-1] for x in ls.stdout.split() if x.lower().endswith(".efi")]
    if not check("altered: one UKI in EFI/Linux", len(names) == 1, ls.stdout + ls.stderr):
        return
    src = os.path.join(BASE, "uki.efi")
    subprocess.run(["mcopy", "-n", "-i", esp, "::/EFI/Linux/" + names[0], src], check=True, env=MTOOLS)
    data = bytearray(open(src, "rb").read())
    hdr = subprocess.run(["objdump", "-h", src], capture_output=True, text=True).stdout
    linux = [l.split() for l in hdr.splitlines() if " .linux " in l]
    off = int(linux[0][5], 16) + int(linux[0][2], 16) // 2
    data[off] ^= 0x01
    open(src, "wb").write(data)
    subprocess.run(["mcopy", "-o", "-i", esp, src, "::/EFI/Linux/" + names[0]], check=True, env=MTOOLS)
    STATE["altered"] = altered


def log_path(name):
    return os.path.join(BASE, re.sub(r"[^a-z0-9]+", "-", name.lower()) + ".log")


def expect_boot(name, disk):
    out = boot(disk, log_path(name), [MARKER], 900)
    check(f"{name}: boots under Secure Boot to the init's marker", MARKER in out, out[-2500:])
    check(f"{name}: the kernel reports Secure Boot enabled", b"Secure boot enabled" in out, out[-2500:])
    # The root hash in the signed UKI's command line: the initrd opens the
    # verity root with it, and / is that device, read-only.
    dm = re.search(rb"verity: /dev/mapper/root is device (\d+:\d+), read-only", out)
    check(f"{name}: / is the dm-verity root the UKI's command line names, read-only",
          dm is not None and re.search(rb"SLIPWAY-EVIDENCE root=" + dm.group(1) + rb" ro\r?\n", out) is not None,
          [l for l in out.split(b"\n") if b"EVIDENCE root" in l or b"verity:" in l])


def expect_refused(name, disk, says):
    """No boot: the console shows the refusal, and never the marker."""
    out = boot(disk, log_path(name), [MARKER, b"Linux version"] + says, 600)
    check(f"{name}: refused ({' or '.join(s.decode() for s in says)} on the console)",
          any(s in out for s in says), out[-2500:])
    for line in out.splitlines():
        if any(s in line for s in says):
            print(f"     ({name}: {line.decode('utf-8', 'replace').strip()[:160]})")
            break
    check(f"{name}: the kernel never starts", MARKER not in out and b"Linux version" not in out, out[-2500:])


def test_boots():
    if "proj" not in STATE:
        return
    images = os.path.join(STATE["proj"], "out", "images")
    jobs = [(expect_boot, "uki (systemd-boot, signed)", os.path.join(images, "uki.raw")),
            (expect_boot, "uki-firmware (UKI as BOOTX64.EFI, signed)", os.path.join(images, "uki-firmware.raw"))]
    if "altered" in STATE:
        # systemd-boot 252: "Failed to load image ...: Security Violation" (or Access Denied).
        jobs.append((expect_refused, "uki altered by one byte", STATE["altered"],
                     [b"Security Violation", b"Access Denied"]))
    if os.path.exists(STATE.get("other", "")):
        # OVMF's boot manager: "BdsDxe: failed to load Boot0001 ...: Access Denied".
        jobs.append((expect_refused, "uki signed with another key", STATE["other"],
                     [b"Access Denied", b"Security Violation"]))
    # Two at a time, as the other boot tests.
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        for f in [ex.submit(*job) for job in jobs]:
            f.result()


for t in [test_build, test_boots]:
    run_test(t)
shutil.rmtree(BASE, ignore_errors=True)
finish("secureboot")
