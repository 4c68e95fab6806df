#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Golden dumps of the images `slipway build` writes.

Usage: image.py SLIPWAY CASES_DIR [--regenerate] [NAME...]

Every directory CASES_DIR/NAME is one case: a project (slipway.toml, which
must set [project] source-date-epoch, and the files it needs) plus
NAME/expected/, one file per dump. The project is copied (without expected/)
into a temporary directory (modes made 0755 or 0644, as git stores them)
and built there with `SLIPWAY -j 2 build`
(LC_ALL=C, TZ=UTC, SOURCE_DATE_EPOCH unset). Then every output in
out/images/ is read back with the real tools into normalised text dumps,
named after the output file:

  outputs                   the names and sizes of the files in out/images/
  X.raw.sfdisk              `sfdisk -d` (run on the bare file name)
  X.raw.pN.ext4             a partition's ext4 file system (`e2fsck -fn` must
                            pass): `debugfs` stat of every path (type, mode,
                            owner, size, links, mtime, xattrs, symlink target),
                            a SHA-256 of every regular file (read with
                            `debugfs rdump`), and the text of small text files
  X.raw.pN.vfat             a FAT partition (`fsck.vfat -n` must pass):
                            `mdir -/`, then hashes and small texts (`mcopy`)
  X.raw.rpm-qa              `rpm -qa` over the rpmdb found in a partition
  X.{vhd,vhdx,qcow2}.qemu-img-info
                            `qemu-img info --output=json` without filename and
                            actual-size; `qemu-img compare` against X.raw must
                            say identical (`qemu-img check` must pass for vhdx
                            and qcow2)
  X.oci.manifest            `skopeo inspect --raw` and `--config` (after
                            `umoci unpack --rootless` succeeded)
  X.oci.layerN              `tar -tv` of each layer, hashes, small texts
  X.oci.tar.list            `tar -tv` of the oci-archive (skopeo must read it)
  X.tar*.list               `tar -tv` of a tarball, hashes, small texts
  X.tar*.rpm-qa, X.oci.layerN.rpm-qa
                            `rpm -qa` over the rpmdb in the tarball or layer
  X.iso.el-torito           `xorriso -report_el_torito plain`
  X.iso.find                `xorriso -find / -exec lsdl`, hashes and small
                            texts (`osirrox -extract`)
  X.iso.initrd*             `cpio -itv` of each initrd* file in the ISO
  X.iso.sfdisk, X.iso.pN.*  a hybrid ISO's partitions, as for a raw disk
  X.spdx.json               the SBOM as written, the creator's slipway version
                            normalised (outputs lists it without its size)

A dump that cannot be made (a tool fails, e2fsck finds errors) fails the
case. Every expected file must match byte for byte, and no dump may be
missing or extra. --regenerate rewrites NAME/expected/ (only for the NAMEs,
if given): read every diff before committing it.

Prints "ok NAME" or "FAIL NAME" plus unified diffs, then
"golden: N passed, N failed"; exits 1 if a case failed or none was found.
"""
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
from runner import diff, read_text, write_text
import runner

TIMEOUT = 120       # seconds for one tool or slipway run
TEXT_MAX = 2048     # regular files up to this size that are text are shown whole
DBPATH = "/usr/lib/sysimage/rpm"
ESP_GUID = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
TOOLS = ["sfdisk", "debugfs", "e2fsck", "mdir", "mcopy", "fsck.vfat", "rpm", "qemu-img", "umoci", "skopeo",
         "xorriso", "osirrox", "tar", "zstd", "cpio"]


class DumpError(Exception):
    pass


def env():
    e = dict(os.environ, LC_ALL="C", TZ="UTC", MTOOLS_SKIP_CHECK="1")
    e.pop("SOURCE_DATE_EPOCH", None)
    return e


def tool(args, cwd=None, ok=(0,), data=None):
    """Runs a tool; returns stdout as text. Another exit status is a DumpError."""
    try:
        p = subprocess.run(args, cwd=cwd, env=env(), input=data, capture_output=True, timeout=TIMEOUT,
                           stdin=None if data is not None else subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise DumpError(f"{' '.join(args)}: {e}")
    if p.returncode not in ok:
        raise DumpError(f"{' '.join(args)}: exit {p.returncode}\n"
                        + p.stdout.decode("utf-8", "replace")[-1500:] + p.stderr.decode("utf-8", "replace")[-1500:])
    return p.stdout.decode("utf-8", "surrogateescape")


def sha(data):
    return hashlib.sha256(data).hexdigest()


def is_text(data):
    if len(data) > TEXT_MAX or b"\0" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def texts_section(contents):
    """'== PATH' and the text of each small text file, in path order."""
    out = []
    for p in sorted(contents):
        data = contents[p]
        if is_text(data):
            t = data.decode("utf-8")
            out.append(f"== {p}\n{t}" + ("" if t.endswith("\n") or t == "" else "\n\\ no newline at end\n"))
    return "".join(out)


def tree_contents(top):
    """Regular files under an extracted tree: {'/rel/path': bytes}; makes them readable first."""
    res = {}
    for d, dirs, files in os.walk(top):
        for n in dirs:
            p = os.path.join(d, n)
            if not os.path.islink(p):
                os.chmod(p, 0o700)
        for n in files:
            p = os.path.join(d, n)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            os.chmod(p, 0o600)
            with open(p, "rb") as f:
                res["/" + os.path.relpath(p, top)] = f.read()
    return res


# --- disks ----------------------------------------------------------------

def dump_sfdisk(images, name):
    out = tool(["sfdisk", "-d", name], cwd=images)
    lines = [l for l in out.splitlines() if not l.startswith("device:")]
    parts = json.loads(tool(["sfdisk", "-J", name], cwd=images))["partitiontable"].get("partitions", [])
    return "\n".join(lines) + "\n", parts


def extract(image, part, dst):
    with open(image, "rb") as f, open(dst, "wb") as g:
        f.seek(part["start"] * 512)
        left = part["size"] * 512
        while left:
            b = f.read(min(left, 1 << 22))
            if not b:
                break
            g.write(b)
            left -= len(b)
    return dst


def fs_kind(img):
    with open(img, "rb") as f:
        head = f.read(2048)
    if len(head) >= 1082 and head[1080:1082] == b"\x53\xef":
        return "ext4"
    if head[510:512] == b"\x55\xaa" and (head[54:59] == b"FAT12" or head[54:59] == b"FAT16" or head[82:87] == b"FAT32"):
        return "vfat"
    return None


def debugfs_batch(img, cmds, tmp):
    cmdfile = os.path.join(tmp, "debugfs.cmds")
    write_text(cmdfile, "".join(c + "\n" for c in cmds))
    out = tool(["debugfs", "-f", cmdfile, img])
    # The output of each command follows its echo "debugfs: CMD".
    res, cur = [], None
    for line in out.splitlines():
        if line.startswith("debugfs: "):
            cur = []
            res.append(cur)
        elif cur is not None:
            cur.append(line)
    if len(res) != len(cmds):
        raise DumpError(f"debugfs: {len(cmds)} commands, {len(res)} answers")
    return res


def q(path):
    return '"' + path.replace('"', '\\"') + '"'


def ext4_paths(img, tmp):
    """Every path, level by level with 'ls -p' (/inode/mode/uid/gid/name/size/)."""
    paths, level = ["/"], ["/"]
    while level:
        nxt = []
        for d, out in zip(level, debugfs_batch(img, [f"ls -p {q(d)}" for d in level], tmp)):
            for line in out:
                f = line.split("/")
                if len(f) < 7 or f[5] in ("", ".", ".."):   # "": unused slots (lost+found)
                    continue
                full = d.rstrip("/") + "/" + "/".join(f[5:-2])
                paths.append(full)
                if stat.S_ISDIR(int(f[2], 8)):
                    nxt.append(full)
        level = nxt
    return sorted(paths)


def dump_ext4(img, tmp):
    tool(["e2fsck", "-fn", img])
    head = []
    sb = tool(["dumpe2fs", "-h", img])
    keep = ("Filesystem volume name", "Filesystem UUID", "Filesystem features", "Inode count", "Block count",
            "Block size", "Inode size", "Filesystem created", "Last write time", "Default mount options",
            "Reserved block count", "Filesystem flags")
    for line in sb.splitlines():
        k = line.split(":", 1)[0]
        if k in keep:
            head.append(re.sub(r"\s+", " ", line.strip()))
    paths = ext4_paths(img, tmp)
    rd = os.path.join(tmp, "rdump")
    os.makedirs(rd)
    tool(["debugfs", "-R", f"rdump / {rd}", img])
    contents = tree_contents(rd)
    seen_inode = {}
    lines = []
    for path, out in zip(paths, debugfs_batch(img, [f"stat {q(p)}" for p in paths], tmp)):
        text = "\n".join(out)
        m = re.search(r"Inode: (\d+)\s+Type: (\S+)\s+Mode:\s+(\d+)", text)
        u = re.search(r"User:\s+(\d+)\s+Group:\s+(\d+).*Size: (\d+)", text)
        links = re.search(r"Links: (\d+)", text)
        mt = re.search(r"mtime: 0x([0-9a-f]+)", text)
        if not (m and u and links and mt):
            raise DumpError(f"debugfs stat {path}: cannot parse:\n{text}")
        ino, typ, mode = m.group(1), m.group(2), m.group(3)
        size = u.group(3) if typ != "directory" else "-"
        line = f"{path} {typ} {int(mode, 8):04o} {u.group(1)}:{u.group(2)} size={size} links={links.group(1)} " \
               f"mtime={int(mt.group(1), 16)}"
        if ino in seen_inode:
            line += f" hardlink={seen_inode[ino]}"
        else:
            seen_inode[ino] = path
        if typ == "symlink":
            line += f" -> {os.readlink(os.path.join(rd, path.lstrip('/')))}"
        elif typ == "regular" and path in contents:
            line += f" sha256={sha(contents[path])}"
        xa = text.split("Extended attributes:\n", 1)
        if len(xa) == 2:
            for x in xa[1].splitlines():
                if not x.startswith("  "):
                    break
                line += f"\n    xattr {x.strip()}"
        lines.append(line)
    return "\n".join(head) + "\n\n" + "\n".join(lines) + "\n\n" + texts_section(contents), contents


def dump_vfat(img, tmp):
    tool(["fsck.vfat", "-n", img])
    listing = tool(["mdir", "-/", "-i", img, "::/"])
    out = os.path.join(tmp, "mcopy")
    os.makedirs(out)
    tool(["mcopy", "-s", "-p", "-m", "-n", "-i", img, "::/*", out + "/"])
    contents = tree_contents(out)
    hashes = "".join(f"{p} sha256={sha(d)}\n" for p, d in sorted(contents.items()))
    return listing + "\n" + hashes + "\n" + texts_section(contents)


def dump_rpmdb(contents, tmp):
    db = contents.get(DBPATH + "/rpmdb.sqlite")
    if db is None:
        return None
    root = os.path.join(tmp, "rpmroot")
    os.makedirs(root + DBPATH)
    with open(root + DBPATH + "/rpmdb.sqlite", "wb") as f:
        f.write(db)
    out = tool(["rpm", "--root", root, "--dbpath", DBPATH, "-qa", "--qf", "%{NEVRA}\n"])
    return "".join(sorted(l + "\n" for l in out.splitlines() if l))


def dump_raw(images, name, tmp, dumps, prefix=None):
    prefix = prefix or name
    text, parts = dump_sfdisk(images, name)
    dumps[prefix + ".sfdisk"] = text
    rpmdbs = []
    for i, part in enumerate(parts, 1):
        ptmp = os.path.join(tmp, f"{prefix}.p{i}")
        os.makedirs(ptmp)
        img = extract(os.path.join(images, name), part, os.path.join(ptmp, "part.img"))
        kind = fs_kind(img)
        if kind == "ext4":
            dumps[f"{prefix}.p{i}.ext4"], contents = dump_ext4(img, ptmp)
            r = dump_rpmdb(contents, ptmp)
            if r is not None:
                rpmdbs.append(r)
        elif kind == "vfat":
            dumps[f"{prefix}.p{i}.vfat"] = dump_vfat(img, ptmp)
        elif part["type"].upper() == ESP_GUID:
            raise DumpError(f"{name}: partition {i} is an ESP without a FAT file system")
        os.unlink(img)
    if len(rpmdbs) > 1:
        raise DumpError(f"{name}: {len(rpmdbs)} partitions hold an rpmdb")
    if rpmdbs:
        dumps[prefix + ".rpm-qa"] = rpmdbs[0]


QEMU_FMT = {"vhd": "vpc", "vhdx": "vhdx", "qcow2": "qcow2"}


def dump_container(images, name, tmp, dumps):
    ext = name.rsplit(".", 1)[1]
    fmt = QEMU_FMT[ext]
    info = json.loads(tool(["qemu-img", "info", "--output=json", "-f", fmt, name], cwd=images))
    for k in ("filename", "actual-size"):
        info.pop(k, None)
    dumps[name + ".qemu-img-info"] = json.dumps(info, indent=2, sort_keys=True) + "\n"
    if fmt != "vpc":
        tool(["qemu-img", "check", "-f", fmt, name], cwd=images)
    raw = name[:-len(ext)] + "raw"
    if os.path.exists(os.path.join(images, raw)):
        out = tool(["qemu-img", "compare", "-f", "raw", "-F", fmt, raw, name], cwd=images)
        if "Images are identical" not in out:
            raise DumpError(f"qemu-img compare {raw} {name}: {out}")
    else:
        # No raw beside it: read the disk through qemu's conversion.
        conv = os.path.join(tmp, name + ".raw")
        tool(["qemu-img", "convert", "-f", fmt, "-O", "raw", name, conv], cwd=images)
        os.makedirs(os.path.join(tmp, name + ".d"))
        dump_raw(tmp, name + ".raw", os.path.join(tmp, name + ".d"), dumps, prefix=name)
        os.unlink(conv)


# --- archives -------------------------------------------------------------

def tar_listing(data, label):
    """`tar -tv` of an uncompressed tar stream, hashes and small texts (tarfile)."""
    listing = tool(["tar", "--numeric-owner", "--full-time", "-tvf", "-"], data=data)
    contents = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as t:
            for m in t:
                if m.isreg():
                    n = m.name[2:] if m.name.startswith("./") else m.name
                    contents["/" + n.lstrip("/")] = t.extractfile(m).read()
    except tarfile.TarError as e:
        raise DumpError(f"{label}: {e}")
    hashes = "".join(f"{p} sha256={sha(d)}\n" for p, d in sorted(contents.items()))
    return listing + "\n" + hashes + "\n" + texts_section(contents), contents


def decompress(path):
    with open(path, "rb") as f:
        return decompress_bytes(f.read())


def decompress_bytes(data):
    if data[:4] == b"\x28\xb5\x2f\xfd":
        return subprocess.run(["zstd", "-dc"], input=data, capture_output=True, check=True).stdout
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:6] == b"\xfd7zXZ\0":
        return subprocess.run(["xz", "-dc"], input=data, capture_output=True, check=True).stdout
    return data


def dump_oci(images, name, tmp, dumps):
    ref = None
    with open(os.path.join(images, name, "index.json")) as f:
        index = json.load(f)
    tags = [m.get("annotations", {}).get("org.opencontainers.image.ref.name") for m in index.get("manifests", [])]
    if len(tags) != 1 or not tags[0]:
        raise DumpError(f"{name}/index.json: expected one tagged manifest, got {tags}")
    ref = f"{name}:{tags[0]}"
    tool(["umoci", "unpack", "--rootless", "--image", ref, os.path.join(tmp, "bundle")], cwd=images)
    manifest = json.loads(tool(["skopeo", "inspect", "--raw", "oci:" + ref], cwd=images))
    config = json.loads(tool(["skopeo", "inspect", "--config", "oci:" + ref], cwd=images))
    dumps[name + ".manifest"] = ("index.json\n" + json.dumps(index, indent=2, sort_keys=True) + "\n\nmanifest\n"
                                 + json.dumps(manifest, indent=2, sort_keys=True) + "\n\nconfig\n"
                                 + json.dumps(config, indent=2, sort_keys=True) + "\n")
    for i, layer in enumerate(manifest.get("layers", []), 1):
        algo, hexd = layer["digest"].split(":", 1)
        data = decompress(os.path.join(images, name, "blobs", algo, hexd))
        dumps[f"{name}.layer{i}"], contents = tar_listing(data, f"{name} layer {i}")
        r = dump_rpmdb(contents, os.path.join(tmp, f"layer{i}"))
        if r is not None:
            dumps[f"{name}.layer{i}.rpm-qa"] = r


def dump_oci_archive(images, name, dumps):
    tool(["skopeo", "inspect", "--raw", "oci-archive:" + name], cwd=images)
    dumps[name + ".list"] = tool(["tar", "--numeric-owner", "--full-time", "-tvf", name], cwd=images)


LS_DATE = re.compile(r" +[A-Z][a-z]{2} +\d{1,2} +(\d{4}|\d\d:\d\d) ")


def no_ls_date(text):
    """ls -l style lines without the date: it shows a year or a time of day
    depending on how far it lies from today. The hashes catch a change."""
    return "".join(LS_DATE.sub(" ", l, count=1) + "\n" for l in text.splitlines())


def dump_sbom(images, name):
    """The SBOM as written (sorted keys, indented), its creator's version normalised."""
    with open(os.path.join(images, name), encoding="utf-8") as f:
        text = f.read()
    json.loads(text)
    return re.sub(r'"Tool: slipway-[^"]*"', '"Tool: slipway-VERSION"', text)


def dump_iso(images, name, tmp, dumps):
    dumps[name + ".el-torito"] = tool(["xorriso", "-indev", name, "-report_el_torito", "plain"], cwd=images)
    find = tool(["xorriso", "-indev", name, "-find", "/", "-exec", "lsdl"], cwd=images)
    tree = os.path.join(tmp, "tree")
    tool(["osirrox", "-indev", name, "-extract", "/", tree], cwd=images)
    contents = tree_contents(tree)
    hashes = "".join(f"{p} mtime={int(os.lstat(tree + p).st_mtime)} sha256={sha(d)}\n"
                     for p, d in sorted(contents.items()))
    find = no_ls_date("\n".join(sorted(find.splitlines(), key=lambda l: l.split("'", 1)[-1])))
    dumps[name + ".find"] = (find + "\n"
                             + hashes + "\n" + texts_section(contents))
    for p in sorted(contents):
        if os.path.basename(p).startswith("initrd"):
            data = decompress_bytes(contents[p])
            listing = tool(["cpio", "-itv", "--numeric-uid-gid", "--quiet"], data=data)
            dumps[f"{name}.{os.path.basename(p)}"] = no_ls_date(listing)
    # A hybrid ISO carries a partition table (the ESP of a UEFI ISO among
    # them): dump it as a disk's when there is one.
    if subprocess.run(["sfdisk", "-d", name], cwd=images, env=env(), capture_output=True).returncode == 0:
        dump_raw(images, name, os.path.join(tmp, "disk"), dumps)


# --- cases ----------------------------------------------------------------

def make_dumps(slipway, case_dir, tmp):
    """Returns ({dump name: text}, None) or (None, error text)."""
    toml = read_text(os.path.join(case_dir, "slipway.toml"))
    if not re.search(r"^\s*source-date-epoch\s*=", toml, re.M):
        return None, "slipway.toml must set [project] source-date-epoch\n"
    proj = os.path.join(tmp, "project")
    shutil.copytree(case_dir, proj, symlinks=True, ignore=shutil.ignore_patterns("expected", "out"))
    # Sources without a `mode` keep theirs: make them what git stores (0755 or
    # 0644, directories 0755), whatever the checkout's umask was.
    for d, dirs, files in os.walk(proj):
        for n in dirs + files:
            p = os.path.join(d, n)
            if not os.path.islink(p):
                st = os.stat(p)
                os.chmod(p, 0o755 if stat.S_ISDIR(st.st_mode) or st.st_mode & 0o111 else 0o644)
    try:
        p = subprocess.run([slipway, "-j", "2", "build"], cwd=proj, env=env(), stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"slipway build: {e}\n"
    if p.returncode != 0:
        return None, f"slipway build: exit {p.returncode}\n" + p.stderr.decode("utf-8", "replace")
    images = os.path.join(proj, "out", "images")
    dumps = {}
    names = sorted(os.listdir(images))
    outputs = []
    for n in names:
        full = os.path.join(images, n)
        # An SBOM's size follows slipway's version (its creator): see X.spdx.json.
        outputs.append(f"{n}/" if os.path.isdir(full) else n if n.endswith(".spdx.json") else
                       f"{n} {os.path.getsize(full)}")
    dumps["outputs"] = "".join(l + "\n" for l in outputs)
    try:
        for n in names:
            ntmp = os.path.join(tmp, "dump", n)
            os.makedirs(ntmp)
            if n.endswith(".raw"):
                dump_raw(images, n, ntmp, dumps)
            elif n.rsplit(".", 1)[-1] in QEMU_FMT:
                dump_container(images, n, ntmp, dumps)
            elif n.endswith(".oci") and os.path.isdir(os.path.join(images, n)):
                dump_oci(images, n, ntmp, dumps)
            elif n.endswith(".oci.tar"):
                dump_oci_archive(images, n, dumps)
            elif n.endswith(".iso"):
                dump_iso(images, n, ntmp, dumps)
            elif n.endswith(".spdx.json"):
                dumps[n] = dump_sbom(images, n)
            elif re.search(r"\.(tar|tar\.zst|tar\.gz|tar\.xz|wsl)$", n):
                dumps[n + ".list"], contents = tar_listing(decompress(os.path.join(images, n)), n)
                r = dump_rpmdb(contents, ntmp)
                if r is not None:
                    dumps[n + ".rpm-qa"] = r
            else:
                return None, f"out/images/{n}: no dump for this kind of output (teach image.py)\n"
    except DumpError as e:
        return None, f"{e}\n"
    for k, v in dumps.items():
        if tmp in v:
            return None, f"dump {k} holds the temporary path '{tmp}': normalise it\n"
    return dumps, None


def check_case(slipway, cases_dir, name, regenerate):
    case_dir = os.path.join(cases_dir, name)
    exp_dir = os.path.join(case_dir, "expected")
    tmp = tempfile.mkdtemp(prefix=f"slipway-golden-{name}-")
    try:
        dumps, err = make_dumps(slipway, case_dir, tmp)
    finally:
        for d, dirs, _ in os.walk(tmp):   # rdump and umoci may leave unwritable directories
            for n in dirs:
                p = os.path.join(d, n)
                if not os.path.islink(p):
                    os.chmod(p, 0o700)
        shutil.rmtree(tmp, ignore_errors=True)
    if err:
        return False, f"FAIL {name}\n  " + err.replace("\n", "\n  ").rstrip(" ") + "\n"
    have = sorted(os.listdir(exp_dir)) if os.path.isdir(exp_dir) else []

    if regenerate:
        os.makedirs(exp_dir, exist_ok=True)
        changed = []
        for k, v in sorted(dumps.items()):
            p = os.path.join(exp_dir, k)
            if not os.path.exists(p) or read_text(p) != v:
                write_text(p, v)
                changed.append(k)
        for k in have:
            if k not in dumps:
                os.unlink(os.path.join(exp_dir, k))
                changed.append(f"-{k}")
        return True, (f"regenerated {name} ({', '.join(changed)})\n" if changed else f"ok {name}\n")

    problems = []
    for k in sorted(set(dumps) | set(have)):
        if k not in have:
            problems.append(f"  no file '{name}/expected/{k}' (create it with --regenerate, then read it)\n")
        elif k not in dumps:
            problems.append(f"  '{name}/expected/{k}' exists, but no such dump was made\n")
        else:
            want = read_text(os.path.join(exp_dir, k))
            if want != dumps[k]:
                problems.append(diff(want, dumps[k], f"{name}/expected/{k}", f"{name} {k} (actual)"))
    if problems:
        return False, f"FAIL {name}\n" + "".join(problems)
    return True, f"ok {name}\n"


def prepare():
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        print(f"SKIP: missing {', '.join(missing)} (scripts/debian-packages.txt)")
        return 77
    return None


if __name__ == "__main__":
    sys.exit(runner.main(sys.argv, "image.py", __doc__, check_case, 2, prepare))
