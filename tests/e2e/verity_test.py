#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`slipway image` with partitions' verity = true (dm-verity): the data and hash
partitions read back with veritysetup (cryptsetup-bin), the real tool users
would check them with:

- `veritysetup verify DATA HASH ROOTHASH` accepts them with the root hash slipway
  printed (text and --json), and refuses them once one byte of the data changed;
- `veritysetup dump` agrees on the hash type, block sizes, data blocks, salt and
  UUID; `veritysetup format` with that salt and UUID writes the same bytes as the
  hash partition holds (the rest of the partition is zeros);
- the GPT: the DPS root-verity type after the root, the read-only attribute, the
  PARTUUIDs from the root hash; /etc/fstab names /dev/mapper/root ro; e2fsck finds
  the file system clean;
- a root that grows on a fixed disk, a verity /usr beside a verity root;
- two builds give the same bytes; customize refuses a verity image;
- bad configurations are errors with file:line:column (`slipway check` and
  `slipway image`).

Usage: verity_test.py SLIPWAY SOURCE_ROOT"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import check, extract_partition, finish, partition_table, run_test, show, write

SLIPWAY, ROOT = os.path.abspath(sys.argv[1]), sys.argv[2]
for needed in ["rpm", "veritysetup", "sfdisk", "debugfs", "e2fsck"]:
    if not shutil.which(needed):
        print(f"SKIP: {needed} missing")
        sys.exit(77)

SDE = 1700000000
BASE = tempfile.mkdtemp(prefix="slipway-verity-test-")
ROOT_VERITY_X86_64 = "2C7357ED-EBD2-46D9-AEC1-23D437EC2BF5"
USR_VERITY_X86_64 = "77FF5F63-E7B6-4633-ACF4-1565B864C0E6"
ROOT_X86_64 = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"


def slipway(*args, timeout=300):
    e = dict(os.environ, LC_ALL="C", TMPDIR=BASE)
    e.pop("SOURCE_DATE_EPOCH", None)
    return subprocess.run([SLIPWAY, *args], capture_output=True, text=True, env=e, timeout=timeout)


def tool(*args, timeout=300):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, LC_ALL="C"))


# Some megabytes of data that differ per block, so that the tree has two levels.
BLOB = b"".join(hashlib.sha256(b"block %d" % i).digest() * 128 for i in range(1500))

PROJECT = f"""[project]
name = "veritytest"
version = "1"
source-date-epoch = {SDE}

[components.data]
version = "1"
summary = "data"
license = "MIT"
arch = "noarch"

[[components.data.files]]
source = "files/blob"
path = "/usr/share/data/blob"

[[components.data.files]]
source = "files/hello"
path = "/etc/hello"

# A verity root that is as large as its files need.
[images.v]
formats = ["raw", "qcow2"]
packages = ["data"]
boot = "none"

[[images.v.partitions]]
type = "root"
size = "grow"
verity = true

# A verity root that grows to fill a fixed disk: its hash partition is sized for it.
[images.fixed]
formats = ["raw"]
packages = ["data"]
boot = "none"
size = "200M"

[[images.fixed.partitions]]
type = "root"
size = "grow"
verity = true

[[images.fixed.partitions]]
type = "var"
size = "16M"

# A verity /usr beside a verity root.
[images.usr]
formats = ["raw"]
packages = ["data"]
boot = "none"

[[images.usr.partitions]]
type = "root"
size = "32M"
verity = true

[[images.usr.partitions]]
type = "usr"
size = "grow"
verity = true
"""

STATE = {}


def make_project(name, toml):
    d = os.path.join(BASE, name)
    write(os.path.join(d, "slipway.toml"), toml)
    os.makedirs(os.path.join(d, "files"), exist_ok=True)
    with open(os.path.join(d, "files", "blob"), "wb") as f:
        f.write(BLOB)
    write(os.path.join(d, "files", "hello"), "hello\n")
    return d


def parts_of(raw, name):
    """The partitions of a raw disk, each extracted to its own file."""
    t = partition_table(raw)
    out = []
    for i, p in enumerate(t["partitions"] if t else []):
        f = os.path.join(BASE, f"{name}.p{i + 1}")
        extract_partition(raw, p, f)
        out.append((p, f))
    return out


def dump(hash_file):
    p = tool("veritysetup", "dump", hash_file)
    return {k.strip(): v.strip() for k, v in re.findall(r"^([^:\n]+):\s*(.*)$", p.stdout, re.M)}


def test_build():
    d = make_project("one", PROJECT)
    STATE["proj"] = d
    p = slipway("-C", d, "package")
    if not check("build: package", p.returncode == 0, show(p)):
        return
    t0 = time.monotonic()
    p = slipway("-C", d, "image")
    STATE["image_secs"] = time.monotonic() - t0
    if not check("image: exits 0", p.returncode == 0, show(p)):
        return
    m = re.search(r"image v:.*?\n(?:.*\n)*?  verity /: root hash ([0-9a-f]{64}) \(data partition 1, hash partition 2\)",
                  p.stdout)
    check("image: prints the root hash of v's root", m is not None, p.stdout)
    STATE["printed"] = m.group(1) if m else None
    pj = slipway("-C", d, "--json", "image", "v")
    try:
        doc = json.loads(pj.stdout)
        img = [i for i in doc["images"] if i["name"] == "v"][0]
    except (ValueError, KeyError, IndexError):
        check("image --json: parses", False, show(pj))
        return
    v = img.get("verity") or [{}]
    check("image --json: verity of v: the same root hash, partitions 1 and 2",
          len(v) == 1 and v[0].get("mount") == "/" and v[0].get("root_hash") == STATE["printed"]
          and v[0].get("data_partition") == 1 and v[0].get("hash_partition") == 2, img.get("verity"))
    check("image --json: verity of v: the hash tree's seconds", isinstance(v[0].get("seconds"), float) and
          0 <= v[0]["seconds"] < 60, v)
    STATE["json"] = v[0]


def check_pair(name, raw, data, hashp, root_hash, mount):
    """The checks of one verity pair (entries of parts_of())."""
    (dp, dfile), (hp, hfile) = data, hashp
    p = tool("veritysetup", "verify", dfile, hfile, root_hash)
    check(f"{name}: veritysetup verify accepts {mount} with the root hash printed", p.returncode == 0, show(p))
    info = dump(hfile)
    e2 = tool("dumpe2fs", "-h", dfile)
    blocks = re.search(r"^Block count:\s*(\d+)", e2.stdout, re.M)
    check(f"{name}: veritysetup dump: hash type 1, sha256, 4096-byte blocks, one data block per ext4 block",
          info.get("Hash type") == "1" and info.get("Hash algorithm") == "sha256"
          and info.get("Data block size") == "4096" and info.get("Hash block size") == "4096"
          and blocks and info.get("Data blocks") == blocks.group(1), (info, e2.stdout[:300]))
    salt, uuid = info.get("Salt", ""), info.get("UUID", "")
    check(f"{name}: a 32-byte salt", re.fullmatch(r"[0-9a-f]{64}", salt) is not None, salt)
    # The same data formatted by veritysetup with our salt and UUID: the same bytes.
    theirs = os.path.join(BASE, f"{name}.theirs")
    if os.path.exists(theirs):
        os.unlink(theirs)
    p = tool("veritysetup", "format", "--hash=sha256", "--data-block-size=4096", "--hash-block-size=4096",
             f"--salt={salt}", f"--uuid={uuid}", dfile, theirs)
    m = re.search(r"Root hash:\s*([0-9a-f]{64})", p.stdout)
    check(f"{name}: veritysetup format with that salt and UUID gives the same root hash",
          m is not None and m.group(1) == root_hash, show(p))
    with open(theirs, "rb") as f:
        t = f.read()
    with open(hfile, "rb") as f:
        ours = f.read()
    check(f"{name}: the hash partition holds veritysetup's bytes ({len(t)}), then zeros",
          len(t) > 4096 and ours[:len(t)] == t and not ours[len(t):].strip(b"\0"), (len(t), len(ours)))
    check(f"{name}: the hash partition is the tree's size in whole MiB",
          hp["size"] * 512 == (len(t) + (1 << 20) - 1) // (1 << 20) * (1 << 20), (hp["size"], len(t)))
    # The GPT: the pair's types, attributes and PARTUUIDs (DPS: the root hash's halves).
    rh = root_hash.upper()
    want_d = f"{rh[0:8]}-{rh[8:12]}-{rh[12:16]}-{rh[16:20]}-{rh[20:32]}"
    want_h = f"{rh[32:40]}-{rh[40:44]}-{rh[44:48]}-{rh[48:52]}-{rh[52:64]}"
    check(f"{name}: GPT: hash partition of type {mount}-verity right after, both read-only (bit 60), "
          f"PARTUUIDs the root hash's halves",
          hp["type"] == (ROOT_VERITY_X86_64 if mount == "/" else USR_VERITY_X86_64)
          and hp["name"] == ("root-verity" if mount == "/" else "usr-verity")
          and dp.get("attrs") == "GUID:60" and hp.get("attrs") == "GUID:60"
          and dp["uuid"] == want_d and hp["uuid"] == want_h, (dp, hp))
    p = tool("e2fsck", "-fn", dfile)
    check(f"{name}: e2fsck -fn finds {mount} clean", p.returncode == 0, show(p))
    return dfile, hfile


def test_v():
    if not STATE.get("printed"):
        return
    raw = os.path.join(STATE["proj"], "out", "images", "v.raw")
    ps = parts_of(raw, "v")
    if not check("v: two partitions", len(ps) == 2, [p for p, _ in ps]):
        return
    check("v: the data partition has the root type", ps[0][0]["type"] == ROOT_X86_64, ps[0][0])
    dfile, hfile = check_pair("v", raw, ps[0], ps[1], STATE["printed"], "/")
    j = STATE["json"]
    check("v: --json PARTUUIDs match the GPT", j.get("data_partuuid", "").upper() == ps[0][0]["uuid"]
          and j.get("hash_partuuid", "").upper() == ps[1][0]["uuid"], j)
    p = tool("debugfs", "-R", "cat /etc/fstab", dfile)
    check("v: /etc/fstab mounts /dev/mapper/root at / read-only, no fsck pass",
          re.search(r"^/dev/mapper/root / ext4 ro 0 0$", p.stdout, re.M) is not None
          and "PARTUUID" not in p.stdout, p.stdout)
    # One byte changed in the file's data: veritysetup refuses the partition.
    p = tool("debugfs", "-R", "blocks /usr/share/data/blob", dfile)
    blocks = p.stdout.split()
    if not check("v: debugfs finds the blob's blocks", blocks and blocks[0].isdigit(), show(p)):
        return
    bad = os.path.join(BASE, "v.bad")
    shutil.copy(dfile, bad)
    with open(bad, "r+b") as f:
        f.seek(int(blocks[len(blocks) // 2]) * 4096 + 1234)
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 0x01]))
    p = tool("veritysetup", "verify", bad, hfile, STATE["printed"])
    check("v: veritysetup verify refuses the data with one byte flipped", p.returncode != 0, show(p))
    check("v: and says where", "Verification failed" in p.stderr + p.stdout, show(p))
    # A flipped byte in the hash tree is refused too.
    badh = os.path.join(BASE, "v.badhash")
    shutil.copy(hfile, badh)
    with open(badh, "r+b") as f:
        f.seek(4096 + 7)
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 0x80]))
    p = tool("veritysetup", "verify", dfile, badh, STATE["printed"])
    check("v: veritysetup verify refuses a changed hash tree", p.returncode != 0, show(p))
    # customize cannot change a verity image (its tree and root hash would be stale).
    cfg = os.path.join(BASE, "customize.toml")
    write(cfg, 'hostname = "changed"\n')
    out = os.path.join(BASE, "customized.raw")
    p = slipway("customize", "--image-file", raw, "--config", cfg, "--output-image-file", out)
    check("v: customize refuses the verity image, naming the hash partition, and writes nothing",
          p.returncode == 1 and "partition 2 holds the dm-verity hash tree" in p.stderr and not os.path.exists(out),
          show(p))
    # The qcow2 holds the same disk.
    if shutil.which("qemu-img"):
        p = tool("qemu-img", "compare", "-f", "raw", "-F", "qcow2", raw, raw.replace(".raw", ".qcow2"))
        check("v: the qcow2 holds the same disk", p.returncode == 0, show(p))


def test_fixed():
    raw = os.path.join(STATE.get("proj", BASE), "out", "images", "fixed.raw")
    if not os.path.exists(raw):
        check("fixed: written", False, raw)
        return
    ps = parts_of(raw, "fixed")
    check("fixed: root, root-verity, var on a 200 MiB disk",
          len(ps) == 3 and os.path.getsize(raw) == 200 << 20 and ps[2][0]["name"] == "var", [p for p, _ in ps])
    p = slipway("-C", STATE["proj"], "--json", "image", "fixed")
    try:
        v = [i for i in json.loads(p.stdout)["images"] if i["name"] == "fixed"][0]["verity"][0]
    except (ValueError, KeyError, IndexError):
        check("fixed: --json verity", False, show(p))
        return
    check_pair("fixed", raw, ps[0], ps[1], v["root_hash"], "/")
    # The root fills what the hash partition and var leave.
    check("fixed: the root grew (over 150 MiB)", ps[0][0]["size"] * 512 > 150 << 20, ps[0][0])


def test_usr():
    raw = os.path.join(STATE.get("proj", BASE), "out", "images", "usr.raw")
    p = slipway("-C", STATE.get("proj", BASE), "--json", "image", "usr")
    try:
        vs = [i for i in json.loads(p.stdout)["images"] if i["name"] == "usr"][0]["verity"]
    except (ValueError, KeyError, IndexError):
        check("usr: --json verity", False, show(p))
        return
    check("usr: two verity partitions, / (1, 2) and /usr (3, 4)",
          [(v["mount"], v["data_partition"], v["hash_partition"]) for v in vs] == [("/", 1, 2), ("/usr", 3, 4)], vs)
    ps = parts_of(raw, "usr")
    if len(ps) != 4:
        check("usr: four partitions", False, [p for p, _ in ps])
        return
    check_pair("usr-root", raw, ps[0], ps[1], vs[0]["root_hash"], "/")
    dfile, _ = check_pair("usr-usr", raw, ps[2], ps[3], vs[1]["root_hash"], "/usr")
    p = tool("debugfs", "-R", "cat /etc/fstab", ps[0][1])
    check("usr: fstab: /dev/mapper/root and /dev/mapper/usr, ro",
          "/dev/mapper/root / ext4 ro 0 0" in p.stdout and "/dev/mapper/usr /usr ext4 ro 0 0" in p.stdout, p.stdout)
    p = tool("debugfs", "-R", "stat /share/data/blob", dfile)
    check("usr: the blob is on /usr's file system", p.returncode == 0 and "Size: %d" % len(BLOB) in p.stdout,
          p.stdout[:400])


def test_reproducible():
    d = STATE.get("proj")
    if not d:
        return
    first = {n: hashlib.sha256(open(os.path.join(d, "out", "images", n), "rb").read()).hexdigest()
             for n in ["v.raw", "v.qcow2", "fixed.raw", "usr.raw"]}
    out2 = os.path.join(BASE, "out2")
    p = slipway("-C", d, "--out", out2, "build")
    if not check("second build into another output directory", p.returncode == 0, show(p)):
        return
    second = {n: hashlib.sha256(open(os.path.join(out2, "images", n), "rb").read()).hexdigest() for n in first}
    check("two builds give byte-identical verity disks", first == second, (first, second))


def test_bad_config():
    base = """[project]
name = "bad"
version = "1"
source-date-epoch = 1700000000

[images.x]
formats = ["raw"]
packages = ["data"]
boot = "none"

[[images.x.partitions]]
type = "root"
size = "grow"
"""
    cases = [
        ("vfat", base + """
[[images.x.partitions]]
type = "linux"
fs = "vfat"
mount = "/data"
size = "8M"
verity = true
""", r"slipway\.toml:20:10: error: key 'images\.x\.partitions\[1\]\.verity': dm-verity protects an ext4 file system, "
     r"not fs = \"vfat\""),
        ("home", base + """
[[images.x.partitions]]
type = "home"
size = "8M"
verity = true
""", r"slipway\.toml:18:10: error: key 'images\.x\.partitions\[1\]\.verity': only the partition mounted at '/' or "
     r"'/usr' can be verity-protected, not '/home'"),
        ("bios", base.replace('boot = "none"', 'boot = "bios"').replace('size = "grow"\n', 'size = "grow"\nverity = true\n'),
         r"slipway\.toml:14:10: error: image 'x': boot = \"bios\" without an ESP puts GRUB's files in /boot on the "
         r"verity-protected '/'"),
        ("not-bool", base.replace('size = "grow"\n', 'size = "grow"\nverity = "yes"\n'),
         r"slipway\.toml:14:10: error: .*verity"),
    ]
    for name, toml, want in cases:
        d = os.path.join(BASE, "bad-" + name)
        write(os.path.join(d, "slipway.toml"), toml)
        for verb in ["check", "image"]:
            p = slipway("-C", d, verb)
            check(f"bad config ({name}): slipway {verb} fails with file:line:column",
                  p.returncode == 1 and re.search(want, p.stderr) is not None, show(p))


for t in [test_build, test_v, test_fixed, test_usr, test_reproducible, test_bad_config]:
    run_test(t)
if "image_secs" in STATE:
    print(f"     (slipway image of three verity images: {STATE['image_secs']:.1f} s)")
shutil.rmtree(BASE, ignore_errors=True)
finish("verity")
