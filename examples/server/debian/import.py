#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes examples/server/components/debian/: this machine's Debian packages
as native components of the server example.

A real distribution takes systemd, bash, OpenSSH and the SELinux policy from
its upstream's repositories (Azure Linux from Fedora, with overlays) or builds
them from their specs. This example has to build from a clean checkout on a
Debian 12 machine without downloading anything, so it repackages what Debian
installed: scripts/debrepack.py reads dpkg's database and describes one native
component per Debian package (the closure of ROOTS below), whose files are the
installed files, documentation left out. Debian's maintainer scripts are not
carried over (they call Debian's tools: deb-systemd-helper, adduser, ucf);
instead each package gets the scriptlets and file triggers its Fedora
counterpart has (EXTRA below): ldconfig, systemd-sysusers, systemd-tmpfiles,
the hwdb, presets. Files that Debian's maintainer scripts *generate* on the
machine, and that Fedora's packages ship as built, are packaged as Fedora
ships them (GENERATED below: the compiled SELinux policy and its store).

    examples/server/debian/import.py

Run it again after Debian updates the packages (`slipway check` says when a
listed file has gone); it rewrites only what changed. Notes on what was left
out go to standard error.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(EXAMPLE, "..", "..", "scripts"))
from debrepack import (DPKG, closure, component_toml, notes, parse_status, repack,  # noqa: E402
                       toml_str, write_if_changed)

# What the server is made of (Debian names); the closure of their Depends and
# Pre-Depends comes along.
ROOTS = [
    "bash", "coreutils", "util-linux", "login", "passwd", "sed", "grep", "findutils", "less", "gawk", "libc-bin",
    "ncurses-base", "systemd", "systemd-sysv", "udev", "dbus", "kmod", "iproute2", "procps",
    "libpam-modules", "libpam-runtime", "libpam-systemd", "libnss-systemd",
    "openssh-server", "selinux-policy-default", "policycoreutils", "selinux-utils", "tzdata",
    # the installer ISO's live root
    "fdisk", "e2fsprogs", "zstd", "attr",
]

# Fedora's names for Debian's, so that Fedora-style dependencies resolve.
ALIASES = {
    "bash": ["/bin/sh", "/usr/bin/sh", "/bin/bash"],
    "libc6": ["glibc", "rtld(GNU_HASH)"],
    "libc-bin": ["/sbin/ldconfig", "ldconfig"],
    "systemd": ["systemd-udev"],
    "selinux-policy-default": ["selinux-policy", "selinux-policy-targeted"],
    "util-linux": ["util-linux-core"],
}

DIST = ".deb12"

# Paths a package lists that the distribution's own packages provide instead:
# os-release and the like are the project's (slipway writes os-release).
SKIP = {
    "base-files": ("/etc/os-release", "/usr/lib/os-release", "/etc/issue", "/etc/issue.net", "/etc/motd",
                   "/etc/debian_version", "/etc/dpkg/origins/debian", "/etc/update-motd.d/10-uname"),
}

# Generated on this machine by Debian's maintainer scripts; Fedora's
# selinux-policy-targeted ships the same files as built (the policy compiled
# at rpmbuild time, its file contexts and the module store semodule uses).
GENERATED = {
    "selinux-policy-default": ["/etc/selinux/default", "/var/lib/selinux/default"],
    # Debian's postinst writes sshd_config from /usr/share/openssh (ucf);
    # Fedora's openssh-server ships it.
    "openssh-server": ["/etc/ssh/sshd_config"],
}

# The scriptlets and file triggers of each package's Fedora counterpart.
LIBDIRS = ["/lib", "/usr/lib", "/lib64", "/usr/lib64"]
EXTRA = {
    # The hardening check ([hardening] in slipway.toml): Debian 12's own builds.
    "gawk": {"hardening-exceptions": {"pie": "Debian 12 links gawk as a fixed-address executable (no PIE)"}},
    # glibc: the linker cache, once per transaction, after every library.
    # Fedora runs ldconfig bare (-p /sbin/ldconfig); here its auxiliary
    # cache, which records the inode numbers and change times of this one
    # run (so no two images would be the same bytes), is removed after:
    # ldconfig makes it again on its next run.
    "libc-bin": {
        "file-triggers": [{"when": "transfiletriggerin", "priority": 2000000, "paths": LIBDIRS,
                           "body": "/sbin/ldconfig\nrm -f /var/cache/ldconfig/aux-cache\n"},
                          {"when": "transfiletriggerpostun", "priority": 2000000, "paths": LIBDIRS,
                           "body": "/sbin/ldconfig\nrm -f /var/cache/ldconfig/aux-cache\n"}],
    },
    # systemd: accounts (sysusers.d), runtime files (tmpfiles.d), presets on
    # first install.
    "systemd": {
        "scripts": {
            "post": "if [ $1 -eq 1 ]; then\n"
                    "    /usr/bin/systemctl preset-all >/dev/null 2>&1 || :\n"
                    "    /usr/bin/systemctl --global preset-all >/dev/null 2>&1 || :\n"
                    "fi\n",
        },
        "file-triggers": [{"when": "transfiletriggerin", "priority": 900900, "paths": ["/usr/lib/sysusers.d/"],
                           "body": "/usr/bin/systemd-sysusers || :\n"},
                          {"when": "transfiletriggerin", "priority": 900895, "paths": ["/usr/lib/tmpfiles.d/"],
                           "body": "/usr/bin/systemd-tmpfiles --create >/dev/null 2>&1 || :\n"}],
    },
    # systemd-udev: the hardware database.
    "udev": {
        "file-triggers": [{"when": "transfiletriggerin", "priority": 1000000, "paths": ["/usr/lib/udev/hwdb.d/"],
                           "body": "/usr/bin/systemd-hwdb update || :\n"}],
    },
    # openssh-server: the privilege separation account (a sysusers.d file,
    # made by the systemd trigger) and the unit's preset.
    "openssh-server": {
        "files": [{"source": "files/sysusers.d/openssh-server.conf", "path": "/usr/lib/sysusers.d/openssh-server.conf",
                   "mode": "0644"}],
        "scripts": {"post": "if [ $1 -eq 1 ]; then\n"
                            "    /usr/bin/systemctl --no-reload preset ssh.service >/dev/null 2>&1 || :\n"
                            "fi\n"},
    },
    # shadow-utils: /etc/shadow and /etc/gshadow from passwd and group.
    "passwd": {
        "scripts": {"post": "/usr/sbin/pwconv 2>/dev/null || :\n/usr/sbin/grpconv 2>/dev/null || :\n"},
    },
}


def extra_toml(name, x):
    out = []
    if x.get("hardening-exceptions"):
        out.append(f"\n[components.{toml_str(name)}.hardening-exceptions]")
        for k, v in sorted(x["hardening-exceptions"].items()):
            out.append(f"{k} = {toml_str(v)}")
    if x.get("scripts"):
        out.append(f"\n[components.{toml_str(name)}.scripts]")
        for k, v in x["scripts"].items():
            out.append(f"{k} = {toml_str(v)}")
    for t in x.get("file-triggers", []):
        out.append(f"\n[[components.{toml_str(name)}.file-triggers]]")
        out.append(f"when = {toml_str(t['when'])}")
        out.append("paths = [" + ", ".join(toml_str(p) for p in t["paths"]) + "]")
        if "priority" in t:
            out.append(f"priority = {t['priority']}")
        if "program" in t:
            out.append(f"program = {toml_str(t['program'])}")
        if "body" in t:
            out.append(f"body = {toml_str(t['body'])}")
    return "\n".join(out) + ("\n" if out else "")


def main():
    pkgs = parse_status(os.path.join(DPKG, "status"))
    missing = [r for r in ROOTS if r not in pkgs]
    if missing:
        print("import: not installed: " + " ".join(missing) + " (scripts/setup.sh installs them)", file=sys.stderr)
        return 1
    order, deb_requires = closure(pkgs, ROOTS)
    names = sorted(order)
    stage = os.path.join(HERE, "stage")

    def skip(n, path):
        return path in SKIP.get(n, ())

    comps, owner, _ = repack(pkgs, names, deb_requires, stage, ALIASES, DIST, skip=skip)
    for n, dirs in GENERATED.items():
        for d in dirs:
            if os.path.isfile(d):
                owner[d] = n
                comps[n]["files"].append({"source": d, "path": d, "config": True})
                continue
            for root, subdirs, files in os.walk(d):
                subdirs.sort()
                for f in sorted(files):
                    p = os.path.join(root, f)
                    if p in owner or os.path.islink(p):
                        continue
                    owner[p] = n
                    comps[n]["files"].append({"source": p, "path": p})
        comps[n]["files"].sort(key=lambda x: x["path"])

    compdir = os.path.join(EXAMPLE, "components", "debian")
    os.makedirs(compdir, exist_ok=True)
    wanted, written = set(), 0
    head = ("# Generated by examples/server/debian/import.py from this machine's dpkg database:\n"
            "# a Debian package repackaged as a native component (see examples/server/README.md).\n")
    for n, c in sorted(comps.items()):
        # The filesystem package (merged /usr, the top-level directories) is
        # the example's own: every repackaged package needs it.
        c["requires"] = ["filesystem"] + [d for d in c["requires"] if d != "filesystem"]
        c["files"] = sorted(c["files"] + EXTRA.get(n, {}).get("files", []), key=lambda x: x["path"])
        for f in c["files"]:
            if f["source"].startswith(EXAMPLE + "/"):
                f["source"] = os.path.relpath(f["source"], EXAMPLE)
        fname = n + ".toml"
        wanted.add(fname)
        text = head + component_toml(n, c) + extra_toml(n, EXTRA.get(n, {}))
        written += write_if_changed(os.path.join(compdir, fname), text)
    for fname in sorted(os.listdir(compdir)):
        if fname.endswith(".toml") and fname not in wanted:
            os.unlink(os.path.join(compdir, fname))
    kinds = {}
    for k, m in notes:
        kinds.setdefault(k, []).append(m)
    for k, msgs in kinds.items():
        more = f" (and {len(msgs) - 3} more)" if len(msgs) > 3 else ""
        print(f"import: {len(msgs)} x {k}: {'; '.join(msgs[:3])}{more}", file=sys.stderr)
    nfiles = sum(len(c["files"]) for c in comps.values())
    print(f"import: {len(comps)} packages, {nfiles} files; {written} component files written", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
