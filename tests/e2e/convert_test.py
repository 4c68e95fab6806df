#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`slipway convert IN OUT`: a 64 MiB GPT disk with an ESP (mkfs.vfat +
mcopy) and an ext4 root (mkfs.ext4 -d), made without privileges as a raw
file and turned by qemu-img into a fixed VPC, dynamic VPCs (MiB-sized and
CHS-rounded), a VHDX and qcow2 (plain and compressed). Every input is
converted by slipway into raw, vhd, vhdx and qcow2, and each output is
checked with the real tools: `qemu-img compare` against the input says
identical, the virtual sizes agree, `qemu-img check` is clean for qcow2 and
VHDX, the VHD footer is valid (cookie, checksum, fixed type, size). Two runs
give the same bytes; the input's SHA-256 does not change; --json describes
the conversion; only what the input allocated is read. Bad inputs
(truncated qcow2, VHDX and dynamic VHD, a corrupted qcow2 header, a qcow2
with a backing file, a differencing VHD, a non-MiB size for a VHD, unknown
output formats) each give exit 1, one error naming the file, and no output
file. As root, one conversion also runs as nobody (setpriv).

Everything happens in a temporary directory. Usage: convert_test.py SLIPWAY SOURCE_ROOT"""
import hashlib
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import check, finish, read, run_test, show, write

SLIPWAY = os.path.abspath(sys.argv[1])

for needed in ["qemu-img", "sfdisk", "mkfs.ext4", "mkfs.vfat", "mcopy"]:
    if not shutil.which(needed):
        print(f"SKIP: {needed} missing")
        sys.exit(77)

SDE = 1700000000
MiB = 1 << 20
BASE = tempfile.mkdtemp(prefix="slipway-convert-test-")
QEMU_FMT = {"raw": "raw", "vhd": "vpc", "vhdx": "vhdx", "qcow2": "qcow2"}
INPUTS = {}  # name -> (path, qemu format)


def path(*parts):
    return os.path.join(BASE, *parts)


def slipway(*args, env=None, user=None):
    e = dict(os.environ, LC_ALL="C", SOURCE_DATE_EPOCH=str(SDE))
    if env:
        e.update(env)
    cmd = [SLIPWAY, *args]
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    return subprocess.run(cmd, capture_output=True, encoding="utf-8", errors="replace", env=e, timeout=300)


def tool(*args, check_rc=True):
    p = subprocess.run(list(args), capture_output=True, encoding="utf-8", errors="replace", timeout=300,
                       env=dict(os.environ, LC_ALL="C"))
    if check_rc and p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {p.returncode}: {p.stderr[-1000:]}")
    return p


def sha256(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def virtual_size(p, fmt):
    return json.loads(tool("qemu-img", "info", "--output=json", "-f", fmt, p).stdout)["virtual-size"]


def write_sparse(dst, offset, src):
    """Copies the file src into dst at offset, leaving zero 4 KiB blocks out."""
    with open(src, "rb") as f, open(dst, "r+b") as g:
        at = offset
        while True:
            b = f.read(4096)
            if not b:
                break
            if b.count(0) != len(b):
                g.seek(at)
                g.write(b)
            at += len(b)


def setup():
    rnd = random.Random(15)
    tree = path("tree")
    for i in range(40):
        d = os.path.join(tree, f"dir{i % 5}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"file{i}"), "wb") as f:
            if i % 2:
                f.write(rnd.randbytes(rnd.randint(1, 300000)))
            else:
                f.write((f"line {i} of text\n" * rnd.randint(1, 20000)).encode())
    write(os.path.join(tree, "etc", "hostname"), "convert-test\n")
    tool("mkfs.ext4", "-q", "-F", "-E", "root_owner=0:0", "-U", "6a1f9c1e-5d27-4e0b-9e3a-0b1c2d3e4f50",
         "-d", tree, path("root.img"), "30M")
    tool("mkfs.vfat", "-C", "-i", "12345678", path("esp.img"), str(16 * 1024))
    tool("mcopy", "-i", path("esp.img"), "-s", os.path.join(tree, "dir1"), os.path.join(tree, "etc"), "::/")
    raw = path("disk.raw")
    with open(raw, "wb") as f:
        f.truncate(64 * MiB)
    script = ("label: gpt\nlabel-id: 0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0\n"
              "start=2048, size=32768, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, "
              "uuid=11111111-2222-3333-4444-555555555555\n"
              "start=34816, size=61440, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, "
              "uuid=66666666-7777-8888-9999-AAAAAAAAAAAA\n")
    p = subprocess.run(["sfdisk", "-q", raw], input=script, capture_output=True, encoding="utf-8")
    if not check("setup: sfdisk", p.returncode == 0, p.stderr):
        return False
    write_sparse(raw, 2048 * 512, path("esp.img"))
    write_sparse(raw, 34816 * 512, path("root.img"))
    INPUTS["raw"] = (raw, "raw")
    for name, fmt, args in [("fixed.vhd", "vpc", ["-o", "subformat=fixed,force_size=on"]),
                            ("dynamic.vhd", "vpc", ["-o", "subformat=dynamic,force_size=on"]),
                            ("disk.vhdx", "vhdx", []),
                            ("disk.qcow2", "qcow2", []),
                            ("compressed.qcow2", "qcow2", ["-c"])]:
        dst = path(name)
        tool("qemu-img", "convert", "-f", "raw", "-O", fmt, *args, raw, dst)
        INPUTS[name] = (dst, fmt)
    # qemu's own rounding to a CHS geometry: not a whole MiB.
    tool("qemu-img", "convert", "-f", "raw", "-O", "vpc", "-o", "subformat=dynamic", raw, path("chs.vhd"))
    return True


def vhd_footer_ok(p, size):
    with open(p, "rb") as f:
        f.seek(-512, 2)
        footer = f.read(512)
        file_size = f.tell()
    cookie, disk_type = footer[:8], struct.unpack(">I", footer[60:64])[0]
    current = struct.unpack(">Q", footer[48:56])[0]
    want = struct.unpack(">I", footer[64:68])[0]
    got = ~(sum(footer[:64]) + sum(footer[68:])) & 0xFFFFFFFF
    return (cookie == b"conectix" and disk_type == 2 and current == size and want == got
            and file_size == size + 512), f"cookie {cookie!r} type {disk_type} size {current} checksum {want:x}/{got:x}"


def no_leftovers(d, name):
    """Nothing named like name (the output or its temporary file) in d."""
    return [f for f in os.listdir(d) if f.startswith(name)]


def test_matrix():
    before = {n: sha256(p) for n, (p, _) in INPUTS.items()}
    os.makedirs(path("out"), exist_ok=True)
    for name, (src, sfmt) in INPUTS.items():
        vsize = virtual_size(src, sfmt)
        for ofmt in ("raw", "vhd", "vhdx", "qcow2"):
            out = path("out", f"{name}.{ofmt}")
            again = path("out", f"{name}.again.{ofmt}")
            p = slipway("convert", src, out)
            if not check(f"{name} -> {ofmt}: exit 0", p.returncode == 0 and os.path.isfile(out), show(p)):
                continue
            q = tool("qemu-img", "compare", "-f", sfmt, "-F", QEMU_FMT[ofmt], src, out, check_rc=False)
            check(f"{name} -> {ofmt}: qemu-img compare says identical", q.returncode == 0, q.stdout + q.stderr)
            check(f"{name} -> {ofmt}: the same virtual size",
                  virtual_size(out, QEMU_FMT[ofmt]) == vsize, f"{virtual_size(out, QEMU_FMT[ofmt])} vs {vsize}")
            if ofmt in ("qcow2", "vhdx"):
                c = tool("qemu-img", "check", "-f", ofmt, out, check_rc=False)
                check(f"{name} -> {ofmt}: qemu-img check is clean", c.returncode == 0 and "No errors" in c.stdout,
                      c.stdout + c.stderr)
            if ofmt == "vhd":
                ok, detail = vhd_footer_ok(out, vsize)
                check(f"{name} -> vhd: the footer is valid", ok, detail)
            p2 = slipway("convert", src, again)
            check(f"{name} -> {ofmt}: a second run gives the same bytes",
                  p2.returncode == 0 and sha256(out) == sha256(again), show(p2))
            os.unlink(again)
            if ofmt != "raw":
                os.unlink(out)
    after = {n: sha256(p) for n, (p, _) in INPUTS.items()}
    check("the inputs' SHA-256 did not change", before == after)


def test_json_and_map():
    src = INPUTS["compressed.qcow2"][0]
    out = path("json.vhdx")
    p = slipway("--json", "convert", src, out)
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        doc = None
    check("--json: one document", p.returncode == 0 and doc is not None, show(p))
    if not doc:
        return
    size = virtual_size(src, "qcow2")
    check("--json: formats, size, paths",
          doc.get("input") == src and doc.get("output") == out and doc.get("input_format") == "qcow2"
          and doc.get("output_format") == "vhdx" and doc.get("virtual_size") == size
          and doc.get("file_size") == os.path.getsize(out), doc)
    check("--json: bytes_written is what the output holds",
          doc.get("bytes_written") == os.stat(out).st_blocks * 512, doc)
    # The disk holds about 24 MiB of data in 64 MiB: the rest is never read.
    check("only the allocated clusters are read", 0 < doc.get("data_bytes", 0) < size // 2, doc)
    # A raw output is sparse: the zeros are holes.
    raw_out = path("out", "disk.vhdx.raw")
    check("a raw output is sparse", os.stat(raw_out).st_blocks * 512 < 40 * MiB, os.stat(raw_out).st_blocks)
    # --output-image-format, qemu's name for VHD, with an extension that says nothing.
    p = slipway("--output-image-format", "vpc", "convert", src, path("named.bin"))
    check("--output-image-format vpc writes a VHD",
          p.returncode == 0 and vhd_footer_ok(path("named.bin"), size)[0], show(p))
    p = slipway("--output-image-format", "qcow2", "convert", INPUTS["raw"][0], path("named.img"))
    check("--output-image-format wins over the extension",
          p.returncode == 0 and read(path("named.img"))[:4] == b"QFI\xfb", show(p))
    # SOURCE_DATE_EPOCH is the VHD footer's time stamp (seconds since 2000).
    p = slipway("convert", src, path("sde.vhd"), env={"SOURCE_DATE_EPOCH": str(946684800 + 1234)})
    footer = read(path("sde.vhd"))[-512:]
    check("SOURCE_DATE_EPOCH is the VHD time stamp",
          p.returncode == 0 and struct.unpack(">I", footer[24:28])[0] == 1234, show(p))
    # A dynamic VHD of CHS size converts to the others.
    p = slipway("convert", path("chs.vhd"), path("chs.qcow2"))
    q = tool("qemu-img", "compare", "-f", "vpc", "-F", "qcow2", path("chs.vhd"), path("chs.qcow2"), check_rc=False)
    check("a CHS-sized dynamic VHD converts to qcow2", p.returncode == 0 and q.returncode == 0, show(p) + q.stdout)


def refused(name, args, out, want, env=None):
    d = os.path.dirname(out)
    before = set(os.listdir(d))
    had = sha256(out) if os.path.exists(out) else None
    p = slipway("convert", *args, env=env)
    errors = [line for line in p.stderr.splitlines() if "error:" in line]
    check(f"refused: {name}: exit 1, one error naming the file and saying '{want}'",
          p.returncode == 1 and len(errors) == 1 and want in errors[0]
          and (args[0] in errors[0] or out in errors[0] or "SOURCE_DATE_EPOCH" in errors[0]), show(p))
    check(f"refused: {name}: no output file left (an existing one untouched)",
          set(os.listdir(d)) == before and (sha256(out) == had if had else not os.path.exists(out)),
          sorted(set(os.listdir(d)) - before))
    print("     " + "".join(errors))


def cut(src, dst, n):
    with open(src, "rb") as f, open(dst, "wb") as g:
        g.write(f.read(n))
    return dst


def test_bad_inputs():
    bad = path("bad")
    os.makedirs(bad)
    out = os.path.join(bad, "out.raw")
    # qcow2 keeps its tables at the start: cut in half, the read of a data
    # cluster past the end fails; VHDX and VHD are refused when opened.
    for name in ("disk.qcow2", "disk.vhdx", "dynamic.vhd"):
        src = INPUTS[name][0]
        n = os.path.getsize(src) // 2
        refused(f"{name} cut at {n}", [cut(src, os.path.join(bad, "cut-" + name), n), out], out,
                "truncated")
    q = read(INPUTS["disk.qcow2"][0])
    with open(os.path.join(bad, "bits.qcow2"), "wb") as f:
        f.write(q[:20] + (30).to_bytes(4, "big") + q[24:])
    refused("qcow2 with cluster_bits 30", [os.path.join(bad, "bits.qcow2"), out], out, "cluster_bits")
    with open(os.path.join(bad, "magic.qcow2"), "wb") as f:
        f.write(q[:4] + (7).to_bytes(4, "big") + q[8:])
    refused("qcow2 of version 7", [os.path.join(bad, "magic.qcow2"), out], out, "version 7")
    tool("qemu-img", "create", "-q", "-f", "qcow2", "-b", INPUTS["disk.qcow2"][0], "-F", "qcow2",
         os.path.join(bad, "overlay.qcow2"))
    refused("qcow2 with a backing file", [os.path.join(bad, "overlay.qcow2"), out], out, "backing file")
    # A qcow2 whose L1 entries all name the same L2 table: more tables
    # than the file has clusters, refused before a byte is copied.
    if shutil.which("qemu-io"):
        same = os.path.join(bad, "same-l2.qcow2")
        tool("qemu-img", "create", "-q", "-f", "qcow2", same, "100G")
        tool("qemu-io", "-f", "qcow2", "-c", "write -P 1 0 64k", same)
        b = bytearray(read(same))
        l1_size, l1_at = struct.unpack(">I", b[36:40])[0], struct.unpack(">Q", b[40:48])[0]
        first = b[l1_at:l1_at + 8]
        for i in range(l1_size):
            b[l1_at + 8 * i:l1_at + 8 * i + 8] = first
        with open(same, "wb") as f:
            f.write(b)
        refused("qcow2 with one L2 table for every L1 entry", [same, os.path.join(bad, "o.qcow2")],
                os.path.join(bad, "o.qcow2"), "allocation tables are malformed")
    else:
        print("SKIP qcow2 with one L2 table: no qemu-io")
    # A differencing VHD: the dynamic one with disk type 4 in both footers.
    v = bytearray(read(INPUTS["dynamic.vhd"][0]))
    for at in (0, len(v) - 512):
        v[at + 60:at + 64] = (4).to_bytes(4, "big")
        v[at + 64:at + 68] = b"\0\0\0\0"
        v[at + 64:at + 68] = (~sum(v[at:at + 512]) & 0xFFFFFFFF).to_bytes(4, "big")
    with open(os.path.join(bad, "diff.vhd"), "wb") as f:
        f.write(v)
    refused("a differencing VHD", [os.path.join(bad, "diff.vhd"), out], out, "differencing")
    refused("a VHD of a size that is not whole MiB", [path("chs.vhd"), os.path.join(bad, "o.vhd")],
            os.path.join(bad, "o.vhd"), "whole number of MiB")
    refused("an unknown extension", [INPUTS["raw"][0], os.path.join(bad, "o.bin")], os.path.join(bad, "o.bin"),
            "output format")
    p = slipway("--output-image-format", "vmdk", "convert", INPUTS["raw"][0], os.path.join(bad, "o.raw"))
    check("refused: --output-image-format vmdk", p.returncode == 1 and "vmdk" in p.stderr
          and not os.path.exists(os.path.join(bad, "o.raw")), show(p))
    refused("a missing input", [os.path.join(bad, "nothing.qcow2"), out], out, "nothing.qcow2")
    refused("the input as output", [INPUTS["raw"][0], INPUTS["raw"][0]], INPUTS["raw"][0], "input file")
    refused("a bad SOURCE_DATE_EPOCH", [INPUTS["raw"][0], out], out, "SOURCE_DATE_EPOCH",
            env={"SOURCE_DATE_EPOCH": "yesterday"})
    # An old output stays as it was when a conversion fails.
    write(out, "old\n")
    p = slipway("convert", os.path.join(bad, "overlay.qcow2"), out)
    check("a failed conversion leaves an older output as it was", p.returncode == 1 and read(out) == b"old\n",
          show(p))


def test_unprivileged():
    if os.getuid() != 0:
        print("ok   (already unprivileged: every conversion above ran as this user)")
        return
    if not shutil.which("setpriv"):
        print("SKIP unprivileged: no setpriv")
        return
    d = path("nobody")
    os.makedirs(d)
    os.chown(d, 65534, 65534)
    os.chmod(BASE, 0o755)
    src = INPUTS["disk.vhdx"][0]
    out = os.path.join(d, "disk.qcow2")
    p = slipway("convert", src, out, user=65534)
    q = tool("qemu-img", "compare", "-f", "vhdx", "-F", "qcow2", src, out, check_rc=False)
    check("as nobody: vhdx -> qcow2", p.returncode == 0 and q.returncode == 0 and os.stat(out).st_uid == 65534,
          show(p))


start = time.monotonic()
try:
    try:
        ready = setup()
    except Exception as e:
        import traceback
        ready = check("setup", False, f"exception: {e!r}\n{traceback.format_exc()[-1500:]}")
    if ready:
        for t in [test_matrix, test_json_and_map, test_bad_inputs, test_unprivileged]:
            run_test(t)
finally:
    shutil.rmtree(BASE, ignore_errors=True)

finish("convert", f" ({time.monotonic() - start:.1f}s)")
