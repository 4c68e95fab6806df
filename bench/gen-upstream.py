#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Generates a slipway project of N upstream components laid out the way Azure
Linux 4.0 is (bench/upstream.sh times slipway on it):

  DIR/slipway.toml            [project], [distro] (dist-git, lookaside, branch
                              "f43", all file:// URLs into DIR), a few [groups.NAME]
  DIR/components.toml         bare [components.NAME] entries, most components
  DIR/comps/NAME.comp.toml    the components with overlays (250 overlays over
                              about 150 components), each wholly in its own file
  DIR/patches/NAME-azl.patch  the patches of the patch-add overlays
  DIR/git/NAME.git            a bare dist-git repository per component, branch f43:
                              NAME.spec, and a `sources` file for about one in ten
  DIR/lookaside/...           their tarballs, at $pkg/$filename/sha512/$hash/$filename

Every spec builds a tiny noarch package fast (no compiling, no debuginfo, no
brp scripts): one file, a sub-package for some, BuildRequires on components of
the layer below for some, so that the build graph is several levels deep.
Every overlay applies to its spec as generated.

The repositories are written directly, without the git program: one pack and
its index per repository (git's pack format, version 2; documented in git's
Documentation/gitformat-pack.txt), with HEAD, config and refs/heads/f43.
Everything is derived from a fixed seed: the same N gives the same bytes.

    bench/gen-upstream.py DIR [-n N] [--overlays K]
"""

import argparse
import hashlib
import io
import os
import random
import struct
import sys
import tarfile
import time
import zlib

SDE = 1767225600
AUTHOR = b"Fedora Packager <packager@example.org> 1700000000 +0000"

PREFIXES = [("", 30), ("python-", 18), ("perl-", 10), ("rubygem-", 5), ("golang-github-", 8), ("rust-", 9),
            ("lib", 6), ("nodejs-", 3), ("texlive-", 4), ("ghc-", 2), ("php-", 2), ("R-", 1), ("mingw-", 2)]
SYLLABLES = ["ab", "ac", "al", "an", "ar", "ba", "be", "bo", "ca", "ce", "co", "da", "de", "di", "el", "en", "er",
             "fa", "fi", "fo", "ga", "ge", "gi", "ha", "he", "in", "is", "ka", "ke", "la", "le", "li", "lo", "ma",
             "me", "mi", "mo", "na", "ne", "no", "or", "pa", "pe", "po", "ra", "re", "ri", "ro", "sa", "se", "si",
             "so", "ta", "te", "ti", "to", "ul", "un", "va", "ve", "xa", "yo", "za", "zo"]

# The lines every spec has for spec-search-replace overlays to find:
# (regex, replacement, section or None).
HOOKS = [
    (r"example\.org", "example.net", None),
    (r"generated for the benchmark", "curated for the benchmark", "%description"),
    (r"build-flags-default", "build-flags-azl", "%build"),
    (r"^# upstream-config: on$", "# upstream-config: off", None),
    (r"shipped by upstream", "shipped by Azure Linux", "%install"),
    (r"- Upstream release", "- Upstream release, curated", "%changelog"),
]

SPEC = """%global debug_package %{{nil}}
%global __os_install_post %{{nil}}
%global __brp_mangle_shebangs %{{nil}}

Name:           {name}
Version:        {version}
Release:        {release}%{{?dist}}
Summary:        Generated component {name}
License:        MIT
URL:            https://example.org/{name}
BuildArch:      noarch
{sources}{buildrequires}
# upstream-config: on

%description
{name}, generated for the benchmark.
{subpackage}
%prep
{prep}
%build
# build-flags-default

%install
mkdir -p %{{buildroot}}%{{_datadir}}/{name}
echo "{name} shipped by upstream" > %{{buildroot}}%{{_datadir}}/{name}/{name}.txt
{install}
%files
%{{_datadir}}/{name}/{name}.txt
{files}
%changelog
* Tue Nov 14 2023 Fedora Packager <packager@example.org> - {version}-{release}
- Upstream release
"""

SUBPACKAGE = """
%package extras
Summary:        Extras of {name}

%description extras
The extras of {name}.
"""


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dir", help="where to write the project (must not exist, or be empty)")
    p.add_argument("-n", type=int, default=7500, help="upstream components (default 7500)")
    p.add_argument("--overlays", type=int, default=250, help="overlays in all (default 250)")
    p.add_argument("--seed", type=int, default=4, help="the random seed (default 4)")
    return p.parse_args()


# ---- git objects and packs ---------------------------------------------------------------

OBJ_COMMIT, OBJ_TREE, OBJ_BLOB = 1, 2, 3
TYPE_NAMES = {OBJ_COMMIT: b"commit", OBJ_TREE: b"tree", OBJ_BLOB: b"blob"}


def object_id(kind, data):
    return hashlib.sha1(TYPE_NAMES[kind] + b" %d\0" % len(data) + data).digest()


def tree(entries):
    """A tree of regular files: entries is {name: blob id}; git sorts them by name."""
    return b"".join(b"100644 " + name.encode() + b"\0" + oid for name, oid in sorted(entries.items()))


def commit(tree_id, message):
    return (b"tree " + tree_id.hex().encode() + b"\nauthor " + AUTHOR + b"\ncommitter " + AUTHOR + b"\n\n" +
            message.encode())


def pack_header(kind, size):
    """The pack entry header: type and size, seven bits at a time after the first four."""
    byte = (kind << 4) | (size & 0x0F)
    size >>= 4
    out = bytearray()
    while size:
        out.append(byte | 0x80)
        byte = size & 0x7F
        size >>= 7
    out.append(byte)
    return bytes(out)


def write_repo(path, objects, branch, head_id):
    """A bare repository at path holding objects [(kind, data)] in one pack,
    with refs/heads/BRANCH at head_id and HEAD naming the branch."""
    os.makedirs(os.path.join(path, "objects", "pack"))
    os.makedirs(os.path.join(path, "refs", "heads"))
    with open(os.path.join(path, "HEAD"), "w") as f:
        f.write(f"ref: refs/heads/{branch}\n")
    with open(os.path.join(path, "config"), "w") as f:
        f.write("[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n")
    with open(os.path.join(path, "refs", "heads", branch), "w") as f:
        f.write(head_id.hex() + "\n")

    body = bytearray(b"PACK" + struct.pack(">II", 2, len(objects)))
    index = []  # (id, crc32, offset)
    for kind, data in objects:
        offset = len(body)
        entry = pack_header(kind, len(data)) + zlib.compress(data, 1)
        body += entry
        index.append((object_id(kind, data), zlib.crc32(entry) & 0xFFFFFFFF, offset))
    pack_sum = hashlib.sha1(body).digest()
    body += pack_sum

    index.sort()
    idx = bytearray(b"\377tOc" + struct.pack(">I", 2))
    fanout, k = [], 0
    for b in range(256):
        while k < len(index) and index[k][0][0] <= b:
            k += 1
        fanout.append(k)
    idx += struct.pack(">256I", *fanout)
    idx += b"".join(oid for oid, _, _ in index)
    idx += b"".join(struct.pack(">I", crc) for _, crc, _ in index)
    idx += b"".join(struct.pack(">I", off) for _, _, off in index)
    idx += pack_sum
    idx += hashlib.sha1(idx).digest()

    name = os.path.join(path, "objects", "pack", "pack-" + pack_sum.hex())
    with open(name + ".pack", "wb") as f:
        f.write(body)
    with open(name + ".idx", "wb") as f:
        f.write(idx)


# ---- the distribution ----------------------------------------------------------------------

def make_names(rng, n):
    weights = [w for _, w in PREFIXES]
    names, seen = [], set()
    while len(names) < n:
        prefix = rng.choices([p for p, _ in PREFIXES], weights)[0]
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if rng.random() < 0.3:
            word += "-" + "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3)))
        name = prefix + word
        if name in seen:
            continue
        seen.add(name)
        names.append(name)
    return names


def tarball(name, version):
    """NAME-VERSION.tar.gz with a README, fixed metadata (the same bytes every run)."""
    buf = io.BytesIO()
    data = f"{name} {version}: the upstream sources.\n".encode()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        info = tarfile.TarInfo(f"{name}-{version}/README")
        info.size, info.mtime, info.mode = len(data), SDE, 0o644
        t.addfile(info, io.BytesIO(data))
    # gzip with a fixed header (no name, mtime 0): the hash is stable.
    raw = buf.getvalue()
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    deflated = comp.compress(raw) + comp.flush()
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + deflated +
            struct.pack("<II", zlib.crc32(raw) & 0xFFFFFFFF, len(raw) & 0xFFFFFFFF))


def main():
    args = parse_args()
    t_start = time.monotonic()
    top = os.path.abspath(args.dir)
    if os.path.exists(top) and os.listdir(top):
        sys.exit(f"gen-upstream.py: '{top}' exists and is not empty")
    rng = random.Random(args.seed)
    n = args.n
    names = make_names(rng, n)

    # Layers: a component of layer L > 0 may BuildRequire components of layer L - 1.
    layers = [min(int(rng.expovariate(0.6)), 7) for _ in range(n)]
    by_layer = {}
    for i, layer in enumerate(layers):
        by_layer.setdefault(layer, []).append(i)
    has_sub = [rng.random() < 0.3 for _ in range(n)]
    has_tarball = [rng.random() < 0.1 for _ in range(n)]
    brs = []
    for i in range(n):
        below = by_layer.get(layers[i] - 1, [])
        brs.append(sorted({names[j] for j in rng.sample(below, min(len(below), rng.randint(1, 3)))})
                   if below and rng.random() < 0.25 else [])

    # Overlays: about 150 components, 250 overlays in all.
    n_overlaid = min(n, max(1, args.overlays * 3 // 5))
    overlaid = sorted(rng.sample(range(n), n_overlaid))
    counts = {i: 1 for i in overlaid}
    for _ in range(args.overlays - n_overlaid):
        # At most as many as there are spec hooks, so every overlay has its own target.
        counts[rng.choice([i for i in overlaid if counts[i] < len(HOOKS)])] += 1

    os.makedirs(os.path.join(top, "comps"), exist_ok=True)
    os.makedirs(os.path.join(top, "patches"))
    git_dir, lookaside_dir = os.path.join(top, "git"), os.path.join(top, "lookaside")
    os.makedirs(git_dir)

    t_repos = time.monotonic()
    n_sources = 0
    for i, name in enumerate(names):
        version = f"{rng.randint(0, 9)}.{rng.randint(0, 30)}"
        release = rng.randint(1, 5)
        files = {}
        sources_line, prep, install, extra_files = "", "", "", ""
        if has_tarball[i]:
            filename = f"{name}-{version}.tar.gz"
            data = tarball(name, version)
            digest = hashlib.sha512(data).hexdigest()
            dest = os.path.join(lookaside_dir, name, filename, "sha512", digest, filename)
            os.makedirs(os.path.dirname(dest))
            with open(dest, "wb") as f:
                f.write(data)
            files["sources"] = f"SHA512 ({filename}) = {digest}\n".encode()
            files[".gitignore"] = f"/{name}-*.tar.gz\n".encode()
            sources_line = f"Source0:        {filename}\n"
            prep = "%setup -q\n"
            install = f"install -m 644 README %{{buildroot}}%{{_datadir}}/{name}/README\n"
            extra_files = f"%{{_datadir}}/{name}/README\n"
            n_sources += 1
        sub = ""
        if has_sub[i]:
            sub = SUBPACKAGE.format(name=name)
            install += f"echo extras > %{{buildroot}}%{{_datadir}}/{name}/extras.txt\n"
            extra_files += f"\n%files extras\n%{{_datadir}}/{name}/extras.txt\n"
        spec = SPEC.format(name=name, version=version, release=release, sources=sources_line,
                           buildrequires="".join(f"BuildRequires:  {b}\n" for b in brs[i]), subpackage=sub,
                           prep=prep, install=install, files=extra_files)
        files[f"{name}.spec"] = spec.encode()

        objects = [(OBJ_BLOB, data) for data in files.values()]
        tree_data = tree({fname: object_id(OBJ_BLOB, data) for fname, data in files.items()})
        objects.append((OBJ_TREE, tree_data))
        commit_data = commit(object_id(OBJ_TREE, tree_data), f"{name} {version}-{release}\n")
        objects.append((OBJ_COMMIT, commit_data))
        write_repo(os.path.join(git_dir, name + ".git"), objects, "f43", object_id(OBJ_COMMIT, commit_data))
    t_repos = time.monotonic() - t_repos

    # Groups: a few, with their own release handling.
    ungrouped = [i for i in range(n)]
    rng.shuffle(ungrouped)
    groups = {
        "core": ({"release-mode": '"suffix"', "release-suffix": '".azl1"'}, ungrouped[:60]),
        "toolchain": ({"release-mode": '"none"'}, ungrouped[60:90]),
        "desktop": ({"branch": '"f43"'}, ungrouped[90:200]),
    }

    with open(os.path.join(top, "slipway.toml"), "w") as f:
        f.write('[project]\nname = "azl-bench"\nversion = "4.0"\ndist = ".azl4"\n'
                f"source-date-epoch = {SDE}\n"
                'includes = ["components.toml", "comps/*.comp.toml"]\n\n'
                "[distro]\n"
                f'dist-git = "file://{git_dir}/$pkg.git"\n'
                f'lookaside = "file://{lookaside_dir}/$pkg/$filename/$hashtype/$hash/$filename"\n'
                'branch = "f43"\n')
        for gname, (keys, members) in groups.items():
            f.write(f"\n[groups.{gname}]\n")
            for k, v in keys.items():
                f.write(f"{k} = {v}\n")
            f.write("components = [\n" + "".join(f'  "{names[m]}",\n' for m in sorted(members)) + "]\n")

    kinds = {}
    with open(os.path.join(top, "components.toml"), "w") as f:
        f.write("# Components taken from Fedora as they are.\n")
        for i, name in enumerate(names):
            if i not in counts:
                f.write(f"[components.{name}]\n")
    for i in overlaid:
        name = names[i]
        out = [f"# {name}: curated for Azure Linux.\n[components.{name}]\n"]
        if rng.random() < 0.1:
            out.append("check-skip = true\ncheck-skip-reason = \"the tests need the network\"\n")
        hooks = rng.sample(HOOKS, len(HOOKS))
        used_kinds = set()
        for k in range(counts[i]):
            r = rng.random()
            if k == 1 and "spec-remove-subpackage" in used_kinds:
                kind = "drop-extras-install"
            elif k == 0 and has_sub[i] and counts[i] >= 2 and rng.random() < 0.5:
                kind = "spec-remove-subpackage"
            elif r < 0.08 and "spec-add-tag" not in used_kinds:
                kind = "spec-add-tag"
            elif r < 0.16 and "spec-set-tag" not in used_kinds:
                kind = "spec-set-tag"
            elif r < 0.24 and "patch-add" not in used_kinds:
                kind = "patch-add"
            else:
                kind = "spec-search-replace"
            used_kinds.add(kind)
            if kind == "drop-extras-install":
                # What the removed sub-package shipped is no longer installed
                # (else rpmbuild stops at an unpackaged file).
                kinds["spec-search-replace"] = kinds.get("spec-search-replace", 0) + 1
                out.append(f"\n[[components.{name}.overlays]]\ntype = \"spec-search-replace\"\n"
                           'description = "the extras are not installed"\nsection = "%install"\n'
                           'regex = "^echo extras > .*$"\nreplacement = ""\n')
                continue
            kinds[kind] = kinds.get(kind, 0) + 1
            out.append(f"\n[[components.{name}.overlays]]\ntype = \"{kind}\"\n")
            if kind == "spec-add-tag":
                out.append('description = "where to report bugs"\ntag = "BugURL"\n'
                           f'value = "https://bugs.example.net/{name}"\n')
            elif kind == "spec-set-tag":
                out.append('description = "our summary"\ntag = "Summary"\n'
                           f'value = "{name}, as Azure Linux ships it"\n')
            elif kind == "spec-remove-subpackage":
                out.append('description = "no extras"\npackage = "extras"\n')
            elif kind == "patch-add":
                patch = f"patches/{name}-azl.patch"
                with open(os.path.join(top, patch), "w") as p:
                    p.write(f"--- a/NOTES\n+++ b/NOTES\n@@ -0,0 +1 @@\n+{name}: a note from Azure Linux\n")
                out.append(f'description = "a note"\nsource = "{patch}"\n')
            else:
                regex, replacement, section = hooks.pop()
                regex_toml = regex.replace("\\", "\\\\")
                out.append(f'description = "replace {regex_toml}"\nregex = "{regex_toml}"\n'
                           f'replacement = "{replacement}"\n')
                if section:
                    out.append(f'section = "{section}"\n')
                if rng.random() < 0.3:
                    out.append('metadata = { category = "azl-branding-policy", upstream-status = "inapplicable" }\n')
        with open(os.path.join(top, "comps", f"{name}.comp.toml"), "w") as f:
            f.write("".join(out))

    total = time.monotonic() - t_start
    depth = max(layers) + 1
    print(f"gen-upstream.py: {n} components ({len(overlaid)} with {args.overlays} overlays: "
          + ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())) + f"), {n_sources} with a lookaside tarball, "
          f"{sum(has_sub)} with a sub-package, {sum(1 for b in brs if b)} with BuildRequires ({depth} layers)")
    print(f"gen-upstream.py: {total:.2f} s in all, of which {t_repos:.2f} s for {n} git repositories "
          f"({t_repos / n * 1e3:.2f} ms each)")


if __name__ == "__main__":
    main()
