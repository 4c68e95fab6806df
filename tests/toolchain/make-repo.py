#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The test suite's buildroot repository, made from this Debian 12 machine.

slipway's buildroot mode (issue 14, item 7) builds spec components with
rpmbuild inside a sandbox whose root is installed from repository packages, as
mock does. Its tests need such a repository: a compiler, libc, rpmbuild and
the usual build tools as RPMs. Nothing may be downloaded and no binaries may be
committed, so this script repackages the toolchain already installed on the
Debian machine that runs the tests.

It reads dpkg's database (/var/lib/dpkg/status, info/*.list, the diversions
and the alternatives), takes a root set of build tools and the closure of their
Depends and Pre-Depends, and writes a slipway project with one *native
component* per Debian package (slipway writes those RPMs itself, from the
installed files, with no rpmbuild), plus `filesystem` (the merged-/usr
symbolic links and the basic directories) and `buildsys-build` (a meta-package
that requires the root set). Then it runs `slipway package`, which builds,
signs and indexes the repository, and prints the repository's path as the
last line of standard output.

    tests/toolchain/make-repo.py SLIPWAY OUTDIR

OUTDIR/project is the generated project, OUTDIR/out the output; the
repository is OUTDIR/out/repo, its public key OUTDIR/out/repo/RPM-GPG-KEY-*.
Files whose content did not change are not rewritten, and slipway's cache
skips unchanged components, so a second run is quick. Notes on what was left
out or resolved are printed to standard error and kept in OUTDIR/notes.txt.

On the Debian 12 test machine: 131 packages, 5365 files, 345 MB of files,
121 MB of RPMs (zstd level 1); 2.6 s for a first run, 0.7 s for a second.
rpm pulls in perl (7 packages, 60 MB); rpmbuild's dependency generators use
it, so it stays. tests/toolchain/check-chroot.sh checks the result with rpm,
gcc and rpmbuild in a chroot. Debian's rpm keeps its database in ~/.rpmdb
(`%_dbpath`), in a root installed from this repository too.
"""
import os
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from debrepack import (DEB_ARCH, DPKG, MERGED, NATIVE_ARCH, closure, component_toml, note, notes,  # noqa: E402
                       parse_status, repack, rpm_part, stage_dir, stage_symlink, toml_str, write_if_changed)

# The build tools the buildroot needs (Debian names); the repository holds
# these and the closure of their Depends and Pre-Depends. A name that is not
# installed is skipped with a note; for awk the first installed one is taken.
ROOTS = [
    "bash", "coreutils", "gcc", "gcc-12", "cpp", "binutils", "libc6", "libc6-dev", "linux-libc-dev", "make",
    "rpm", "rpm-common", "debugedit", "sed", "grep", ("gawk", "mawk"), "findutils", "tar", "gzip", "xz-utils",
    "bzip2", "patch", "diffutils", "cpio", "util-linux", "zlib1g-dev", "pkgconf", "pkg-config",
    # Not named by any of the above, which take Debian's Essential packages
    # for granted: ldconfig, ldd and getconf (Fedora's glibc has them).
    "libc-bin",
    # rpmbuild's brp-strip scripts run file(1) (without it nothing is
    # stripped), and find-debuginfo runs eu-strip from elfutils.
    "file", "elfutils",
]

# What Fedora calls these packages, so that specs written for Fedora find
# them (BuildRequires: glibc-devel, zlib-devel, /bin/sh, ...). Each alias is
# provided with the package's own version, file paths without one. Keep this
# table small: it is the only place Debian and Fedora names meet.
FEDORA_ALIASES = {
    "bash": ["/bin/sh", "/usr/bin/sh", "/bin/bash"],
    "gawk": ["awk"],
    "mawk": ["awk"],
    "libc6": ["glibc", "rtld(GNU_HASH)"],
    "libc-bin": ["/sbin/ldconfig", "ldconfig"],
    "libc6-dev": ["glibc-devel", "glibc-headers", "glibc-static"],
    "linux-libc-dev": ["kernel-headers"],
    "pkgconf": ["pkgconfig", "pkg-config"],
    "rpm": ["rpm-build"],
    "xz-utils": ["xz"],
    "zlib1g": ["zlib"],
    "zlib1g-dev": ["zlib-devel"],
}
# /bin/sh is bash in the distribution this repository stands for, whatever
# dash's diversion says on Debian.
SH_PATHS = ("/usr/bin/sh",)

PROJECT = "debian-toolchain"
DIST = ".deb12"
SOURCE_DATE_EPOCH = 1735689600  # 2025-01-01: fixed, so the repository is reproducible
PAYLOAD = "w1.zstdio"  # speed over size


def main():
    if len(sys.argv) != 3:
        print(__doc__.split("\n\n")[3], file=sys.stderr)
        return 2
    slipway, outdir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    project = os.path.join(outdir, "project")
    stage = os.path.join(project, "stage")
    t0 = time.monotonic()

    pkgs = parse_status(os.path.join(DPKG, "status"))
    roots = []
    for r in ROOTS:
        choices = r if isinstance(r, tuple) else (r,)
        found = next((c for c in choices if c in pkgs), None)
        if found:
            roots.append(found)
        else:
            note("root not installed", f"root {' or '.join(choices)}: not installed, skipped")
    order, deb_requires = closure(pkgs, roots)
    names = sorted(order)

    comps, owner, n_doc = repack(pkgs, names, deb_requires, stage, FEDORA_ALIASES, DIST, SH_PATHS)

    # filesystem: merged /usr and the directories a root needs, from a
    # staging tree (a directory source packages the directory itself, with
    # its mode, and everything below it).
    fsroot = os.path.join(stage, "filesystem")
    fs_dirs = {"etc": 0o755, "home": 0o755, "root": 0o700, "tmp": 0o1777, "dev": 0o755, "proc": 0o555,
               "sys": 0o555, "run": 0o755, "mnt": 0o755, "opt": 0o755, "srv": 0o755, "usr": 0o755,
               "usr/bin": 0o755, "usr/sbin": 0o755, "usr/lib": 0o755, "usr/lib64": 0o755,
               "usr/include": 0o755, "usr/share": 0o755, "usr/libexec": 0o755, "usr/local": 0o755,
               "var": 0o755, "var/tmp": 0o1777, "var/lib": 0o755, "var/log": 0o755, "var/cache": 0o755}
    for d, mode in sorted(fs_dirs.items()):
        stage_dir(os.path.join(fsroot, d), mode)
    os.chmod(fsroot, 0o755)
    write_if_changed(os.path.join(fsroot, "etc/passwd"),
                     "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:Kernel Overflow User:/:/sbin/nologin\n")
    write_if_changed(os.path.join(fsroot, "etc/group"), "root:x:0:\nnobody:x:65534:\n")
    write_if_changed(os.path.join(fsroot, "etc/hosts"), "127.0.0.1 localhost\n::1 localhost\n")
    for link, target in sorted(MERGED.items()):
        stage_symlink(fsroot + link, target[1:])  # a link into the staged usr/
    fs_files = []
    for top in sorted(os.listdir(fsroot)):
        fs_files.append({"source": os.path.join(fsroot, top), "path": "/" + top})
    for x in fs_files:
        if x["path"] in owner:
            note("in two packages", f"filesystem: {x['path']} is also in {owner[x['path']]}")
    comps["filesystem"] = {
        "version": "1", "release": "1" + DIST, "arch": "noarch", "summary": "The basic directory layout",
        "description": "Merged /usr (/bin, /sbin, /lib and /lib64 are links into /usr), the top-level "
                       "directories, and /etc/passwd, /etc/group and /etc/hosts with root and nobody.",
        "license": "Public Domain", "files": fs_files,
    }
    comps["buildsys-build"] = {
        "version": "1", "release": "1" + DIST, "arch": "noarch",
        "summary": "The build tools of the buildroot (the root set of tests/toolchain/make-repo.py)",
        "description": "Installing this installs every root package: " + ", ".join(roots) + ".",
        "license": "Public Domain", "requires": ["filesystem"] + roots, "files": [],
    }

    # The project: one file per component (each is rewritten only when it
    # changes), and those of packages no longer in the set removed.
    for c in comps.values():
        for f in c["files"]:
            for k in ("source", "path"):
                if f[k].startswith(project + "/"):
                    f[k] = os.path.relpath(f[k], project)
    keydir = os.path.join(project, "keys")
    key = os.path.join(keydir, "signing.asc")
    if not os.path.exists(key):
        os.makedirs(keydir, exist_ok=True)
        subprocess.run([slipway, "keygen", "--uid", "debian-toolchain test repository (throwaway)",
                        "-o", os.path.join(keydir, "signing")], check=True, stdout=sys.stderr)
    version = open("/etc/debian_version").read().strip()
    write_if_changed(os.path.join(project, "slipway.toml"), f"""\
# Generated by tests/toolchain/make-repo.py from this machine's dpkg database.
[project]
name = "{PROJECT}"
version = {toml_str(rpm_part(version))}
vendor = "Debian (repackaged for the slipway test suite)"
dist = "{DIST}"
arch = "{DEB_ARCH[NATIVE_ARCH]}"
source-date-epoch = {SOURCE_DATE_EPOCH}
payload = "{PAYLOAD}"
includes = ["components/*.toml"]

[signing]
key = "keys/signing.asc"
""")
    compdir = os.path.join(project, "components")
    os.makedirs(compdir, exist_ok=True)
    wanted = set()
    written = 0
    for n, c in sorted(comps.items()):
        fname = n + ".toml"
        wanted.add(fname)
        written += write_if_changed(os.path.join(compdir, fname), component_toml(n, c))
    for fname in sorted(os.listdir(compdir)):
        if fname not in wanted:
            os.unlink(os.path.join(compdir, fname))
            note("component removed", f"{fname}: no longer in the set, removed")

    n_files = sum(len(c["files"]) for c in comps.values())
    size = 0
    for n in names:
        for f in comps[n]["files"]:
            st = os.lstat(f["source"] if os.path.isabs(f["source"]) else os.path.join(project, f["source"]))
            size += st.st_size if stat.S_ISREG(st.st_mode) else 0
    t1 = time.monotonic()

    write_if_changed(os.path.join(outdir, "notes.txt"), "".join(f"{k}: {m}\n" for k, m in notes))
    kinds = {}
    for k, m in notes:
        kinds.setdefault(k, []).append(m)
    for k, msgs in kinds.items():
        more = f" (and {len(msgs) - 3} more)" if len(msgs) > 3 else ""
        print(f"make-repo: {len(msgs)} x {k}: {'; '.join(msgs[:3])}{more}", file=sys.stderr)
    print(f"make-repo: {len(comps)} packages ({len(roots)} roots, {len(names)} from Debian), {n_files} files, "
          f"{size / 1e6:.1f} MB ({n_doc} documentation files left out); {written} component files written; "
          f"{t1 - t0:.1f} s "
          f"(notes: {os.path.join(outdir, 'notes.txt')})", file=sys.stderr)

    r = subprocess.run([slipway, "-C", project, "--out", os.path.join(outdir, "out"), "package", "--prune"],
                       stdout=sys.stderr)
    if r.returncode != 0:
        print(f"make-repo: slipway package failed (status {r.returncode})", file=sys.stderr)
        return 1
    print(f"make-repo: slipway package: {time.monotonic() - t1:.1f} s; the repository's key is "
          f"{os.path.join(outdir, 'out', 'repo', 'RPM-GPG-KEY-' + PROJECT)}", file=sys.stderr)
    print(os.path.join(outdir, "out", "repo"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
