#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""How long `slipway package --engine slurm` would take on N builders, by
simulation, for a build graph shaped like a real RPM distribution, and the
order in which to submit its jobs (issue 17). bench/slurm.sh runs it and also
measures the submission cost against a real one-node Slurm cluster.

    bench/slurm-sim.py [sim] [-n 7500] [--seed 17] [--builders 8,16,32,64,128]
                       [--submit-ms 10] [--submitters 1] [--overhead 0]
    bench/slurm-sim.py submit [-P 1] [--jobs M] [--budget 300] [--dir DIR]
                       (sbatch --hold of the graph's jobs into the cluster that
                       SLURM_CONF names; prints the figures and scancels them)

THE GRAPH (a model: it is generated, not read from Fedora or Azure Linux)

Python 3's standard library only; every draw comes from random.Random(seed),
so the same -n and --seed give the same graph, durations and names. Three
parts, bottom to top:

  1. A bootstrap core of 112 named components in chains, each member
     BuildRequiring the one before it (and the chains' tips before it): the
     toolchain (filesystem, kernel-headers, glibc, zlib, binutils, gmp, mpfr,
     libmpc, gcc, ..., rpm, redhat-rpm-config, rpm-build: 30 levels), then
     autotools (12), perl (24), python with its packaging and test stack (26),
     cmake/meson (6), llvm/clang/rust (10), go (4). A real bootstrap is no
     clean chain (it has cycles broken by stage builds), but it is that deep:
     building Fedora's kernel needed 1,806 packages' build requirements in the
     closure Harald Hoyer charted ("Self Hosting Fedora Base", 2014), and every
     Fedora build starts from a buildroot (rpm-build, redhat-rpm-config, bash,
     coreutils, ...), so everything waits for this core.
  2. Ten middle layers of libraries (44% of the components, fewer in each
     layer up). Each BuildRequires the buildroot (rpm-build), its ecosystem's
     base (gcc and a build system for C/C++; python3 and the pyproject macros;
     perl-generators; the rust or go macros; ...), one library of the layer
     just below (so the layers are real levels), and a few more (about two on
     average, a long tail) from any lower layer, drawn by preferential
     attachment: weight = a prior (1; 3 to 100 for the well-known hubs such as
     zlib, openssl, glib2, libxml2, systemd, qt, gtk) + the in-degree so far.
     Preferential attachment grows a power-law in-degree, which is what
     dependency networks of distributions show: Debian's packages ranked by
     incoming dependencies follow Zipf's law over 12 years of releases
     (Maillart et al., Phys. Rev. Lett. 101, 218701, 2008), with the richest
     nodes saturating below the power law (Nair, Nagarjuna and Ray,
     arXiv:0901.4904). Packages of an ecosystem (python-*, perl-*, rust-*,
     golang-*, rubygem-*) take 60% of their extra requirements from their own
     ecosystem, as they do in Fedora.
  3. A wide top of leaf applications (the other ~54%): the same rule, about
     three extra requirements, no one requiring them; and the giants of the top
     (chromium, firefox, thunderbird, libreoffice, qt6-qtwebengine,
     webkitgtk, ceph) requiring many hubs.

The ecosystem mix follows the prefixes of bench/gen-upstream.py (the project's
model of Azure Linux 4.0's 7,500 components): about 40% C/C++ without a
prefix or lib*, 18% python-, 10% perl-, 9% rust-, 8% golang-, 4% rubygem-,
and texlive-, nodejs-, ghc-, php-, R-, mingw- for the rest.

Build times: log-normal with sigma 1.0 around a median per ecosystem (90 s for
C/C++ libraries, 75 s for C/C++ applications, 25 to 60 s for the scripting
ecosystems and rust crates), so the whole median is about a minute and the
mean about 1.6 minutes, clipped to [5 s, 15 min]; and fixed times for the
giants: gcc 75 min, llvm 60, glibc 25, rust 50, kernel 45, python3 20,
chromium 90, qt6-qtwebengine 80, libreoffice 75, firefox 70, ... (the long
builds of Fedora's build system, from memory of their order of magnitude on
one builder; not measured). What the figures do not show: real build times
vary between runs, builders are not identical, a bootstrap has cycles, and the
true fan-in of Fedora's packages was not counted here.

THE SIMULATION

N identical builders, one job each. Jobs are submitted one after another in a
given order; with P submitters, a free submitter takes the first job in that
order whose dependencies already have job ids, and each sbatch call takes
--submit-ms. Job ids follow the time the calls finish. A job is eligible once
it exists and every dependency has finished (afterok); a free builder takes
the eligible job with the lowest id (Slurm at equal priority: FIFO). Each job
runs its duration plus --overhead. Compared orders (all topological, as
sbatch needs the dependencies' ids first):

  name        among the components whose dependencies are submitted, the
              first by name (the project's own component order)
  bl-edges    the longest path to a sink counted in components, first
              (build times unknown)
  bl-time     the longest path to a sink weighted by build time, first
              (this run's build times known exactly)
  bl-stale    as bl-time, weighted by the last known build time: this run's
              time times a log-normal error (sigma 0.3), and 10% of the
              components (new ones) with no time, counted as 1 s
  bl-stale-m  as bl-stale, with the unknown counted as the median known time

The lower bound of a makespan is max(critical path, total work / N).
"""

import argparse
import json
import bisect
import heapq
import math
import os
import random
import statistics
import subprocess
import sys
import threading
import time

# ---- the graph ----------------------------------------------------------------------------

# The bootstrap core: (chain, requires of its first member, members). Each
# member requires the member before it.
CORE = [
    ("toolchain", [], [
        "filesystem", "kernel-headers", "glibc", "zlib", "xz", "binutils", "gmp", "mpfr", "libmpc",
        "isl", "gcc", "ncurses", "readline", "bash", "coreutils", "gawk", "make", "m4", "pkgconf",
        "elfutils", "file", "zstd", "libarchive", "openssl", "sqlite", "lua", "rpm", "debugedit",
        "redhat-rpm-config", "rpm-build"]),
    ("autotools", ["rpm-build"], [
        "autoconf", "automake", "libtool", "texinfo", "help2man", "gettext", "flex", "bison",
        "gperf", "intltool", "libtool-ltdl", "autoconf-archive"]),
    ("perl", ["rpm-build"], [
        "perl", "perl-Carp", "perl-Exporter", "perl-constant", "perl-parent", "perl-Scalar-List-Utils",
        "perl-PathTools", "perl-File-Path", "perl-File-Temp", "perl-Getopt-Long", "perl-Pod-Usage",
        "perl-Pod-Simple", "perl-podlators", "perl-Test-Simple", "perl-ExtUtils-MakeMaker",
        "perl-ExtUtils-Manifest", "perl-ExtUtils-Install", "perl-Module-Build", "perl-Encode",
        "perl-Storable", "perl-Data-Dumper", "perl-Time-Local", "perl-srpm-macros", "perl-generators"]),
    ("python", ["autoconf-archive"], [
        "expat", "libffi", "python3", "python-rpm-macros", "python-setuptools", "python-wheel",
        "python-flit-core", "python-packaging", "python-pip", "pyproject-rpm-macros",
        "python-iniconfig", "python-pluggy", "python-attrs", "python-pytest", "python-six",
        "python-markupsafe", "python-jinja2", "python-pygments", "python-docutils", "python-babel",
        "python-imagesize", "python-snowballstemmer", "python-alabaster", "python-requests",
        "python-sphinx", "python-sphinx_rtd_theme"]),
    ("build-systems", ["python-setuptools"], [
        "cmake", "ninja-build", "meson", "extra-cmake-modules", "cmake-rpm-macros", "meson-rpm-macros"]),
    ("llvm", ["cmake"], [
        "llvm", "clang", "lld", "compiler-rt", "libcxx", "rust", "cargo", "rust-srpm-macros",
        "cargo-rpm-macros", "rust-packaging"]),
    ("go", ["rpm-build"], ["golang", "go-srpm-macros", "go-rpm-macros", "golist"]),
]

# Named libraries of the middle layers: (name, layer, prior weight, ecosystem).
HUBS = [
    ("util-linux", 1, 30, "c"), ("libxml2", 1, 50, "c"), ("pcre2", 1, 25, "c"), ("libpng", 1, 25, "c"),
    ("libjpeg-turbo", 1, 20, "c"), ("libselinux", 1, 20, "c"), ("nettle", 1, 10, "c"),
    ("libgpg-error", 1, 10, "c"), ("json-c", 1, 10, "c"), ("libyaml", 1, 10, "c"), ("icu", 1, 20, "c"),
    ("libgcrypt", 2, 15, "c"), ("gnutls", 2, 20, "c"), ("krb5", 2, 15, "c"), ("glib2", 2, 100, "c"),
    ("boost", 2, 20, "c"), ("libX11", 2, 25, "c"), ("wayland", 2, 15, "c"), ("freetype", 2, 20, "c"),
    ("curl", 3, 40, "c"), ("systemd", 3, 40, "c"), ("dbus", 3, 20, "c"), ("fontconfig", 3, 20, "c"),
    ("mesa", 3, 20, "c"), ("libxslt", 2, 10, "c"), ("harfbuzz", 3, 15, "c"), ("openldap", 3, 8, "c"),
    ("cairo", 4, 20, "c"), ("gstreamer1", 4, 10, "c"), ("gobject-introspection", 3, 20, "c"),
    ("pango", 5, 15, "c"), ("gdk-pixbuf2", 4, 12, "c"), ("ffmpeg-free", 5, 10, "c"),
    ("qt5-qtbase", 5, 40, "c"), ("qt6-qtbase", 5, 40, "c"), ("gtk3", 6, 60, "c"), ("gtk4", 7, 10, "c"),
    ("poppler", 6, 8, "c"), ("nodejs", 3, 10, "nodejs"), ("ghc", 2, 10, "ghc"), ("php", 3, 5, "php"),
    ("R", 4, 5, "R"), ("mingw-gcc", 2, 5, "mingw"), ("texlive-base", 3, 10, "texlive"),
    ("ruby", 2, 10, "ruby"), ("rubygem-rake", 3, 10, "ruby"), ("python-numpy", 3, 20, "python"),
    ("python-cryptography", 4, 10, "python"), ("python-cffi", 3, 10, "python"),
    ("rust-serde", 1, 40, "rust"), ("rust-libc", 1, 40, "rust"), ("rust-syn", 1, 35, "rust"),
    ("golang-x-sys", 1, 30, "golang"), ("golang-x-net", 2, 25, "golang"),
    ("qt6-qtwebengine", 8, 3, "c"), ("webkitgtk", 8, 3, "c"),
]
# Leaf giants and how many extra requirements they draw.
TOP_GIANTS = [("chromium", 25), ("firefox", 20), ("thunderbird", 20), ("libreoffice", 30), ("ceph", 20),
              ("kernel", 8), ("texlive", 10)]

# Fixed build times in minutes (the rest is drawn).
GIANTS = {
    "gcc": 75, "llvm": 60, "glibc": 25, "rust": 50, "kernel": 45, "python3": 15, "binutils": 12,
    "perl": 8, "openssl": 8, "cmake": 10, "clang": 30, "golang": 12, "boost": 18, "qt5-qtbase": 18,
    "qt6-qtbase": 18, "mesa": 15, "systemd": 10, "ghc": 30, "nodejs": 15, "icu": 8,
    "mingw-gcc": 15, "texlive-base": 10, "chromium": 90, "qt6-qtwebengine": 80, "libreoffice": 75,
    "firefox": 70, "thunderbird": 60, "webkitgtk": 55, "ceph": 50, "texlive": 40,
}

# Ecosystems: (share of the middle layers, share of the top, name prefix,
# the core or hub components every member requires, median build time s).
ECOSYSTEMS = {
    "c":       (0.46, 0.37, "", ["gcc"], 90),
    "python":  (0.18, 0.18, "python-", ["python3", "pyproject-rpm-macros"], 40),
    "perl":    (0.11, 0.09, "perl-", ["perl", "perl-generators"], 30),
    "rust":    (0.11, 0.08, "rust-", ["rust", "cargo-rpm-macros"], 25),
    "golang":  (0.08, 0.08, "golang-", ["golang", "go-rpm-macros"], 45),
    "ruby":    (0.03, 0.05, "rubygem-", ["ruby"], 30),
    "texlive": (0.01, 0.05, "texlive-", ["texlive-base"], 20),
    "nodejs":  (0.01, 0.03, "nodejs-", ["nodejs"], 30),
    "ghc":     (0.005, 0.02, "ghc-", ["ghc"], 90),
    "php":     (0.005, 0.02, "php-", ["php"], 40),
    "R":       (0.0, 0.01, "R-", ["R"], 60),
    "mingw":   (0.0, 0.02, "mingw-", ["mingw-gcc"], 120),
}
BUILD_SYSTEMS = [(["automake", "libtool"], 0.45), (["cmake", "cmake-rpm-macros"], 0.3),
                 (["meson", "meson-rpm-macros"], 0.25)]
# Core components that are not drawn as extra requirements: the buildroot,
# the compilers and build systems (every member of an ecosystem requires
# those as its base), and what no spec names in BuildRequires.
NOT_DRAWN = {"filesystem", "kernel-headers", "glibc", "binutils", "gmp", "mpfr", "libmpc", "isl", "gcc",
             "bash", "coreutils", "gawk", "make", "m4", "file", "lua", "rpm", "debugedit",
             "redhat-rpm-config", "rpm-build", "autoconf", "automake", "libtool", "autoconf-archive",
             "intltool", "perl", "perl-srpm-macros", "perl-generators", "python3", "python-rpm-macros",
             "pyproject-rpm-macros", "cmake", "ninja-build", "meson", "cmake-rpm-macros",
             "meson-rpm-macros", "llvm", "lld", "compiler-rt", "libcxx", "rust", "cargo",
             "rust-srpm-macros", "cargo-rpm-macros", "rust-packaging", "golang", "go-srpm-macros",
             "go-rpm-macros", "golist"}
MIDDLE_LAYERS = 10
MIDDLE_SHARE = 0.44
SYLLABLES = ["ar", "bel", "cor", "dan", "em", "fis", "gor", "hal", "ix", "jun", "kel", "lum", "mar",
             "nor", "ost", "pax", "qua", "ral", "sen", "tor", "ul", "ven", "wex", "yal", "zor", "bri",
             "cla", "dro", "fen", "gla", "mip", "tis"]


class Fenwick:
    """Weighted draws with weights that change: a Fenwick tree of weights."""

    def __init__(self):
        self.tree = [0.0]
        self.items = []
        self.total = 0.0

    def add(self, item, w):
        """Appends item with weight w; returns its slot."""
        self.items.append(item)
        self.tree.append(0.0)
        i = len(self.items)
        # The new node covers (i - lowbit(i), i]: sum what it covers.
        low = i - (i & -i)
        j = i - 1
        s = 0.0
        while j > low:
            s += self.tree[j]
            j -= j & -j
        self.tree[i] = s
        self.bump(i - 1, w)
        return i - 1

    def bump(self, slot, w):
        self.total += w
        i = slot + 1
        while i < len(self.tree):
            self.tree[i] += w
            i += i & -i

    def draw(self, rng):
        x = rng.random() * self.total
        i, step = 0, 1 << (len(self.tree).bit_length())
        while step:
            j = i + step
            if j < len(self.tree) and self.tree[j] <= x:
                x -= self.tree[j]
                i = j
            step >>= 1
        return self.items[min(i, len(self.items) - 1)]


class Graph:
    def __init__(self):
        self.names = []
        self.deps = []
        self.dur = []
        self.eco = []
        self.index = {}

    def add(self, name, deps, dur, eco):
        i = len(self.names)
        self.index[name] = i
        self.names.append(name)
        self.deps.append(sorted(set(deps)))
        self.dur.append(dur)
        self.eco.append(eco)
        return i

    def __len__(self):
        return len(self.names)


def generate(n, seed):
    rng = random.Random(seed)

    def duration(name, median):
        if name in GIANTS:
            return GIANTS[name] * 60.0
        return min(900.0, max(5.0, median * math.exp(rng.gauss(0.0, 1.0))))

    g = Graph()
    # 1. The core.
    for _chain, first, members in CORE:
        prev = [g.index[x] for x in first]
        for name in members:
            extra = []
            if name != "filesystem" and len(g) > 3 and rng.random() < 0.5:
                extra.append(rng.randrange(len(g)))      # a cross-link inside the core
            i = g.add(name, prev + extra, duration(name, 90), "core")
            prev = [i]
    core = len(g)
    buildroot = g.index["rpm-build"]

    # Per-ecosystem urns of the components placed so far (a layer joins
    # them once it is complete, so no component requires its own layer).
    urns = {e: Fenwick() for e in ECOSYSTEMS}
    slots = {}
    prior = {name: w for name, _l, w, _e in HUBS}
    prior.update({"zlib": 60, "openssl": 50, "ncurses": 20, "xz": 10, "zstd": 10, "sqlite": 15,
                  "readline": 10, "libarchive": 5, "elfutils": 5, "expat": 10, "libffi": 5,
                  "gettext": 25, "pkgconf": 20, "python-pytest": 30, "python-setuptools": 30,
                  "python-sphinx": 15, "perl-Test-Simple": 20, "perl-ExtUtils-MakeMaker": 20,
                  "python-requests": 10, "bison": 5, "flex": 5, "texinfo": 3, "help2man": 3})
    core_eco = {"python": lambda s: s.startswith("python"), "perl": lambda s: s.startswith("perl"),
                "rust": lambda s: s.startswith(("rust", "cargo"))}

    def join(i):
        name = g.names[i]
        e = g.eco[i]
        if e == "core":
            e = next((k for k, f in core_eco.items() if f(name)), "c")
        slots[i] = (e, urns[e].add(i, float(prior.get(name, 1))))

    for i in range(core):
        if g.names[i] not in NOT_DRAWN:
            join(i)

    def requires(dep):
        e, slot = slots[dep]
        urns[e].bump(slot, 1.0)

    counter = [0]

    def fresh_name(prefix, eco):
        while True:
            counter[0] += 1
            k = 2 + rng.random() * 2
            base = "".join(rng.choice(SYLLABLES) for _ in range(int(k)))
            if eco == "c" and rng.random() < 0.25:
                base = "lib" + base
            name = prefix + base
            if name not in g.index:
                return name

    def pick_eco(share_index):
        x = rng.random() * sum(v[share_index] for v in ECOSYSTEMS.values())
        for e, v in ECOSYSTEMS.items():
            x -= v[share_index]
            if x < 0:
                return e
        return "c"

    def draw(eco, own_share):
        if eco != "c" and urns[eco].items and rng.random() < own_share:
            return urns[eco].draw(rng)
        return urns["c"].draw(rng)

    def base_deps(eco):
        d = [buildroot] + [g.index[x] for x in ECOSYSTEMS[eco][3] if x in g.index]
        if eco == "c" or rng.random() < 0.2:
            x = rng.random()
            for tools, p in BUILD_SYSTEMS:
                x -= p
                if x < 0:
                    d += [g.index[t] for t in tools]
                    break
            if eco != "c":
                d.append(g.index["gcc"])
        return d

    # 2. The middle layers.
    middle = int(n * MIDDLE_SHARE)
    weights = [0.85 ** k for k in range(MIDDLE_LAYERS)]
    sizes = [int(middle * w / sum(weights)) for w in weights]
    sizes[0] += middle - sum(sizes)
    hubs_at = {}
    for name, layer, _w, eco in HUBS:
        hubs_at.setdefault(layer, []).append((name, eco))
    layers = [list(range(core))]
    for k in range(MIDDLE_LAYERS):
        layer = []
        planned = [(name, eco) for name, eco in hubs_at.get(k + 1, [])]
        while len(planned) < sizes[k]:
            eco = pick_eco(0)
            planned.append((fresh_name(ECOSYSTEMS[eco][2], eco), eco))
        below = layers[-1]
        below_by_eco = {}
        for j in below:
            if j in slots:
                below_by_eco.setdefault(slots[j][0], []).append(j)
        for name, eco in planned:
            own = below_by_eco.get(eco)
            if eco != "c" and own and rng.random() < 0.7:
                libs = [rng.choice(own)]
            else:
                libs = [rng.choice(below_by_eco.get("c") or below)]
            extra = min(12, int(rng.lognormvariate(math.log(2.0), 0.8)))
            if name in prior:
                extra += 4
            libs += [draw(eco, 0.6) for _ in range(extra)]
            i = g.add(name, base_deps(eco) + libs, duration(name, ECOSYSTEMS[eco][4]), eco)
            layer.append((i, set(libs)))
        # Only the libraries drawn feed the attachment (the ecosystem's base
        # and the buildroot are required by every member anyway).
        for i, libs in layer:
            for dep in libs:
                requires(dep)
            join(i)
        layer = [i for i, _l in layer]
        layers.append(layer)

    # 3. The top: applications nothing requires.
    giants = dict(TOP_GIANTS)
    top = [(name, "c") for name in giants]
    while len(g) + len(top) < n:
        eco = pick_eco(1)
        top.append((fresh_name(ECOSYSTEMS[eco][2], eco), eco))
    for name, eco in top:
        d = base_deps(eco)
        if name in giants:
            extra = giants[name]
            if name == "kernel":
                d += [g.index[x] for x in ("perl-generators", "python3", "openssl", "elfutils", "bison",
                                           "flex", "rust", "clang")]
            if name in ("chromium", "firefox", "thunderbird"):
                d += [g.index[x] for x in ("rust", "clang", "gtk3", "nodejs", "python3")]
            if name == "libreoffice":
                d += [g.index[x] for x in ("gtk3", "qt6-qtbase", "boost", "icu", "poppler")]
        else:
            anchor = layers[rng.randint(1, MIDDLE_LAYERS)]
            d.append(rng.choice(anchor))
            extra = min(20, int(rng.lognormvariate(math.log(3.0), 0.8)))
        for _ in range(extra):
            lib = draw(eco, 0.6)
            d.append(lib)
            requires(lib)
        g.add(name, d, duration(name, 75 if eco == "c" else ECOSYSTEMS[eco][4]), eco)
    return g


# ---- graph measures -----------------------------------------------------------------------

def reverse(g):
    rdeps = [[] for _ in range(len(g))]
    for i, ds in enumerate(g.deps):
        for d in ds:
            rdeps[d].append(i)
    return rdeps


def bottom_levels(g, rdeps, weight):
    """The longest path from each component to a sink, its own weight included
    (components are added after their dependencies, so index order is a
    topological order)."""
    bl = [0.0] * len(g)
    for i in range(len(g) - 1, -1, -1):
        bl[i] = weight[i] + max((bl[r] for r in rdeps[i]), default=0.0)
    return bl


def top_levels(g):
    tl = [0.0] * len(g)
    for i in range(len(g)):
        tl[i] = max((tl[d] for d in g.deps[i]), default=0.0) + g.dur[i]
    return tl


def critical_path(g):
    tl = top_levels(g)
    i = max(range(len(g)), key=lambda k: tl[k])
    path = [i]
    while g.deps[i]:
        i = max(g.deps[i], key=lambda k: tl[k])
        path.append(i)
    return max(tl), path[::-1]


def following_work(g, rdeps):
    """[(v, work of every component that needs v, directly or not)] for the
    components that at least 5% of the graph needs (the others give no useful
    bound)."""
    below = [0] * len(g)        # bit sets of the components that need each one
    for i in range(len(g) - 1, -1, -1):
        b = 0
        for r in rdeps[i]:
            b |= below[r] | (1 << r)
        below[i] = b
    out = []
    for i in range(len(g)):
        if below[i].bit_count() * 20 >= len(g):
            bits = bin(below[i])[:1:-1]
            out.append((i, sum(g.dur[k] for k, c in enumerate(bits) if c == "1")))
    return out


def closure_size(rdeps, i):
    seen, todo = {i}, [i]
    while todo:
        for r in rdeps[todo.pop()]:
            if r not in seen:
                seen.add(r)
                todo.append(r)
    return len(seen) - 1


def topo_order(g, rdeps, key):
    """Kahn's algorithm: among the components whose dependencies are placed,
    the one with the smallest key next."""
    pending = [len(ds) for ds in g.deps]
    ready = [(key(i), i) for i in range(len(g)) if not pending[i]]
    heapq.heapify(ready)
    order = []
    while ready:
        _k, i = heapq.heappop(ready)
        order.append(i)
        for r in rdeps[i]:
            pending[r] -= 1
            if not pending[r]:
                heapq.heappush(ready, (key(r), r))
    assert len(order) == len(g), "the graph has a cycle"
    return order


def orders(g, rdeps, seed):
    rng = random.Random(seed + 1)
    bl_edges = bottom_levels(g, rdeps, [1.0] * len(g))
    bl_time = bottom_levels(g, rdeps, g.dur)
    stale = [d * math.exp(rng.gauss(0.0, 0.3)) for d in g.dur]
    unknown = [rng.random() < 0.10 for _ in g.dur]
    median_known = statistics.median(s for s, u in zip(stale, unknown) if not u)
    bl_stale = bottom_levels(g, rdeps, [1.0 if u else s for s, u in zip(stale, unknown)])
    bl_stale_m = bottom_levels(g, rdeps, [median_known if u else s for s, u in zip(stale, unknown)])
    names = g.names
    return {
        "name": topo_order(g, rdeps, lambda i: names[i]),
        "bl-edges": topo_order(g, rdeps, lambda i: (-bl_edges[i], names[i])),
        "bl-time": topo_order(g, rdeps, lambda i: (-bl_time[i], names[i])),
        "bl-stale": topo_order(g, rdeps, lambda i: (-bl_stale[i], names[i])),
        "bl-stale-m": topo_order(g, rdeps, lambda i: (-bl_stale_m[i], names[i])),
    }


# ---- the simulation -----------------------------------------------------------------------

def submit_times(g, order, cost, submitters):
    """When each job's sbatch call returns: submitters take, each as soon as
    it is free, the first job in order whose dependencies have ids."""
    pos = {v: k for k, v in enumerate(order)}
    rdeps = {}
    missing = {}
    for v in order:
        missing[v] = len(g.deps[v])
        for d in g.deps[v]:
            rdeps.setdefault(d, []).append(v)
    done = {}
    ready = [pos[v] for v in order if not missing[v]]
    heapq.heapify(ready)
    running = []            # (finish time, job)
    free = submitters
    t = 0.0
    while ready or running:
        while free and ready:
            v = order[heapq.heappop(ready)]
            heapq.heappush(running, (t + cost, v))
            free -= 1
        t, v = heapq.heappop(running)
        free += 1
        done[v] = t
        for r in rdeps.get(v, ()):
            missing[r] -= 1
            if not missing[r]:
                heapq.heappush(ready, pos[r])
    return done


def simulate(g, rdeps, order, builders, cost, submitters, overhead=0.0):
    """The makespan of the run and when the last job was submitted."""
    sub = submit_times(g, order, cost, submitters)
    pos = {v: k for k, v in enumerate(order)}
    rank = sorted(order, key=lambda v: (sub[v], pos[v]))
    jobid = {v: k for k, v in enumerate(rank)}
    pending = [len(ds) for ds in g.deps]
    exists = [False] * len(g)
    events = []             # (time, 0 = a job ends | 1 = a job is submitted, job)
    for v, t in sub.items():
        events.append((t, 1, v))
    heapq.heapify(events)
    eligible = []
    free = builders
    end = 0.0
    while events:
        t = events[0][0]
        while events and events[0][0] == t:
            _t, kind, v = heapq.heappop(events)
            if kind == 1:
                exists[v] = True
                if not pending[v]:
                    heapq.heappush(eligible, (jobid[v], v))
            else:
                free += 1
                end = t
                for r in rdeps[v]:
                    pending[r] -= 1
                    if not pending[r] and exists[r]:
                        heapq.heappush(eligible, (jobid[r], r))
        while free and eligible:
            _id, v = heapq.heappop(eligible)
            free -= 1
            heapq.heappush(events, (t + g.dur[v] + overhead, 0, v))
    return end, max(sub.values())


# ---- output ------------------------------------------------------------------------------

def hms(s):
    s = int(round(s))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


def describe(g, rdeps):
    edges = sum(len(d) for d in g.deps)
    fanin = [len(r) for r in rdeps]
    fanout = [len(d) for d in g.deps]
    depth = max(bottom_levels(g, rdeps, [1.0] * len(g)))
    cp, path = critical_path(g)
    work = sum(g.dur)
    giants = sum(1 for d in g.dur if d >= 20 * 60)
    print(f"graph: {len(g)} components, {edges} edges (BuildRequires), depth {int(depth)} levels, "
          f"{sum(1 for f in fanin if not f)} leaves")
    print(f"build times: median {statistics.median(g.dur):.0f} s, mean {work / len(g):.0f} s, "
          f"p90 {pct(g.dur, 0.9):.0f} s, p99 {pct(g.dur, 0.99):.0f} s, {giants} of 20 min or more, "
          f"max {max(g.dur) / 60:.0f} min")
    print(f"total work: {work:.0f} s ({hms(work)}, {work / 3600:.1f} builder-hours)")
    print(f"critical path: {cp:.0f} s ({hms(cp)}), {len(path)} components: "
          + " > ".join(g.names[i] for i in path[:6]) + (" > ..." if len(path) > 8 else "")
          + "".join(" > " + g.names[i] for i in path[max(6, len(path) - 2):]))
    print(f"fan-in (required by): mean {statistics.mean(fanin):.1f}, median {statistics.median(fanin):.0f}, "
          f"p99 {pct(fanin, 0.99)}, max {max(fanin)}")
    print(f"fan-out (BuildRequires): mean {statistics.mean(fanout):.1f}, "
          f"median {statistics.median(fanout):.0f}, p99 {pct(fanout, 0.99)}, max {max(fanout)}")
    most = sorted(range(len(g)), key=lambda i: -fanin[i])
    show = [i for i in most if g.names[i] not in ("rpm-build",)][:12]
    print("most required (direct / transitive): " + ", ".join(
        f"{g.names[i]} {fanin[i]}/{closure_size(rdeps, i)}" for i in show))
    for name in ("zlib", "openssl", "glib2"):
        i = g.index[name]
        print(f"  {name}: required directly by {fanin[i]}, transitively by {closure_size(rdeps, i)}")
    return cp, work


def sim_main(a):
    g = generate(a.n, a.seed)
    rdeps = reverse(g)
    print(f"slurm-sim: seed {a.seed}, submit {a.submit_ms:g} ms per sbatch call, "
          f"{a.submitters} submitter(s), overhead {a.overhead:g} s per job")
    if a.brief:
        cp, _path = critical_path(g)
        work = sum(g.dur)
    else:
        cp, work = describe(g, rdeps)
    ords = orders(g, rdeps, a.seed)
    tl = top_levels(g)
    follow = following_work(g, rdeps)
    builders = [int(x) for x in a.builders.split(",")]
    print()
    print("makespan (h:mm:ss) and makespan / lower bound, lower bound = max(critical path, work / N):")
    print(f"{'N':>4}  {'bound':>8}  " + "  ".join(f"{k:>17}" for k in ords))
    results = {}
    tight = {}
    last_sub = 0.0
    for n in builders:
        lb = max(cp, work / n)
        # No component that needs v starts before v ends (at tl[v] at the
        # earliest), and N builders share their work.
        v, w = max(follow, key=lambda x: tl[x[0]] + x[1] / n)
        tight[n] = (tl[v] + w / n, g.names[v]) if tl[v] + w / n > lb else (lb, "(the bound above)")
        cells = []
        for k, order in ords.items():
            mk, last_sub = simulate(g, rdeps, order, n, a.submit_ms / 1000.0, a.submitters, a.overhead)
            results[(n, k)] = mk
            assert mk >= lb * (1 - 1e-9), f"makespan {mk} under the lower bound {lb}"
            cells.append(f"{hms(mk):>9} {mk / lb:5.3f}x")
        print(f"{n:>4}  {hms(lb):>8}  " + "  ".join(f"{c:>17}" for c in cells))
    print()
    print("makespan / a tighter lower bound, max(the bound above, max over v of earliest end of v")
    print("+ work of all that needs v / N) (v: the component that gives the maximum):")
    print(f"{'N':>4}  {'bound':>8}  {'v':>18}  " + "  ".join(f"{k:>10}" for k in ords))
    for n in builders:
        lb2, who = tight[n]
        print(f"{n:>4}  {hms(lb2):>8}  {who:>18}  "
              + "  ".join(f"{results[(n, k)] / lb2:9.3f}x" for k in ords))
    print(f"(the last sbatch call returns at {last_sub:.1f} s after the first starts)")
    if 64 in builders:
        lb = max(cp, work / 64)
        r = results[(64, "bl-time")] / lb
        print(f"goal, within 10% of max(critical path, work / N) at N = 64: bl-time {r:.3f}x "
              f"({'met' if r <= 1.10 else 'NOT met'}), bl-stale {results[(64, 'bl-stale')] / lb:.3f}x, "
              f"bl-edges {results[(64, 'bl-edges')] / lb:.3f}x, name {results[(64, 'name')] / lb:.3f}x")
    return 0


# ---- submission to a real Slurm ------------------------------------------------------------

def submit_graph(g, order, jobs, submitters, outdir):
    """sbatch --hold of order[:jobs] (a prefix of a topological order is closed
    under requirements) with `submitters` concurrent callers. Returns the
    job ids by component, the wall time and the time of each call's end."""
    order = order[:jobs]
    pos = {v: k for k, v in enumerate(order)}
    users = {}
    missing = {}
    for v in order:
        missing[v] = len(g.deps[v])
        for d in g.deps[v]:
            users.setdefault(d, []).append(v)
    ready = [pos[v] for v in order if not missing[v]]
    heapq.heapify(ready)
    ids = {}
    finished = []
    lock = threading.Condition()
    state = {"running": 0, "error": None}

    def one(v):
        argv = ["sbatch", "--parsable", "--hold", f"--job-name=slipway-{g.names[v]}",
                f"--output={outdir}/%j.log", "--kill-on-invalid-dep=yes"]
        if g.deps[v]:
            argv.append("--dependency=afterok:" + ":".join(ids[d] for d in g.deps[v]))
        argv += ["--wrap", "true"]
        p = subprocess.run(argv, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"sbatch for {g.names[v]} failed ({p.returncode}): {p.stderr.strip()}")
        return p.stdout.strip().split(";")[0]

    def worker():
        while True:
            with lock:
                while not ready and state["running"] and state["error"] is None:
                    lock.wait()
                if state["error"] is not None or (not ready and not state["running"]):
                    lock.notify_all()
                    return
                v = order[heapq.heappop(ready)]
                state["running"] += 1
                args = [v]
            try:
                jid = one(*args)
            except Exception as e:                      # noqa: BLE001 - reported below
                with lock:
                    state["error"] = e
                    state["running"] -= 1
                    lock.notify_all()
                return
            with lock:
                ids[v] = jid
                finished.append(time.monotonic())
                state["running"] -= 1
                for u in users.get(v, ()):
                    missing[u] -= 1
                    if not missing[u]:
                        heapq.heappush(ready, pos[u])
                lock.notify_all()

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(submitters)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    return ids, wall, [t - t0 for t in finished], state["error"]


def cancel(ids):
    jobs = list(ids.values())
    t0 = time.monotonic()
    for k in range(0, len(jobs), 500):
        subprocess.run(["scancel"] + jobs[k:k + 500], check=False)
    return time.monotonic() - t0


def submit_main(a):
    g = generate(a.n, a.seed)
    rdeps = reverse(g)
    order = orders(g, rdeps, a.seed)["bl-time"]
    os.makedirs(a.dir, exist_ok=True)
    jobs = a.jobs or len(g)
    note = ""
    if not a.jobs:
        # A probe, then the whole graph only if it fits the budget.
        ids, wall, _f, err = submit_graph(g, order, 200, a.submitters, a.dir)
        cancel(ids)
        if err:
            print(f"slurm-sim submit: {err}", file=sys.stderr)
            return 1
        projected = wall / 200 * len(g)
        if projected > a.budget:
            jobs = 1500
            note = (f" (the probe of 200 projected {projected:.0f} s for {len(g)}, over the "
                    f"{a.budget:g} s budget: {jobs} submitted, the rest extrapolated)")
    ids, wall, finished, err = submit_graph(g, order, jobs, a.submitters, a.dir)
    if err:
        cancel(ids)
        print(f"slurm-sim submit: after {len(ids)} jobs: {err}", file=sys.stderr)
        return 1
    q = subprocess.run(["squeue", "-h", "-t", "PENDING", "-o", "%i %r"], capture_output=True, text=True)
    mine = set(ids.values())
    held = sum(1 for line in q.stdout.splitlines() if line.split()[0] in mine)
    t_cancel = cancel(ids)
    n = len(ids)
    per = wall / n
    edges = sum(len(g.deps[v]) for v in ids)
    # The rate at the start and at the end: does a fuller queue slow sbatch?
    k = max(1, n // 10)
    first = finished[k - 1] / k
    last = (finished[-1] - finished[-k - 1]) / k if n > k else per
    print(f"submit, {a.submitters} submitter(s): {n} jobs ({edges} dependencies) in {wall:.2f} s: "
          f"{n / wall:.0f} jobs/s, {per * 1000:.1f} ms per job; projected for {len(g)}: "
          f"{per * len(g):.0f} s ({'under' if per * len(g) < 120 else 'OVER'} the 2 min goal){note}")
    print(f"  first {k} jobs {first * 1000:.1f} ms each, last {k} {last * 1000:.1f} ms each; "
          f"{held} pending in squeue before scancel; scancel of all: {t_cancel:.1f} s")
    if a.result:
        with open(a.result, "w") as f:
            # The cost of one sbatch call as a submitter sees it.
            f.write(f"{per * a.submitters * 1000:.3f} {per * 1000:.3f}\n")
    return 0


def project_main(a):
    """Writes the graph as a slipway project: one tiny noarch spec per
    component, BuildRequiring its dependencies, and a [cache] and [slurm]
    for `slipway package --engine slurm` (bench/slurm.sh)."""
    g = generate(a.n, a.seed)
    os.makedirs(a.dir, exist_ok=True)
    # The model may give two components one name: the later ones get a number.
    names, seen = [], set()
    for i, name in enumerate(g.names):
        if name in seen:
            name = f"{name}-{i}"
        seen.add(name)
        names.append(name)
    lines = ["[project]", 'name = "model"', 'version = "1"', 'vendor = "bench"', 'dist = ".m1"',
             "source-date-epoch = 1700000000", "", "[cache]", f'url = "{a.cache_url}"', "", "[slurm]"]
    if a.sbatch_option:
        lines.append(f"options = {json.dumps(a.sbatch_option)}")
    lines.append("")
    for i, name in enumerate(names):
        d = os.path.join(a.dir, "specs", name)
        os.makedirs(d, exist_ok=True)
        brs = "".join(f"BuildRequires: {names[j]}\n" for j in g.deps[i])
        with open(os.path.join(d, name + ".spec"), "w") as f:
            f.write(f"Name: {name}\nVersion: 1\nRelease: 1\nSummary: {name}\nLicense: MIT\nBuildArch: noarch\n"
                    f"{brs}\n%description\n{name}\n\n%install\nmkdir -p %{{buildroot}}/usr/share/{name}\n"
                    f"touch %{{buildroot}}/usr/share/{name}/f\n\n%files\n/usr/share/{name}/f\n")
        lines += [f"[components.{json.dumps(name)}]", f'spec = "specs/{name}/{name}.spec"', ""]
    with open(os.path.join(a.dir, "slipway.toml"), "w") as f:
        f.write("\n".join(lines))
    print(f"{len(g)} components written to {a.dir}")


def main():
    argv = sys.argv[1:]
    mode = "sim"
    if argv and argv[0] in ("sim", "submit", "project"):
        mode = argv.pop(0)
    p = argparse.ArgumentParser(prog="slurm-sim.py " + mode, description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=7500, help="components (default 7500)")
    p.add_argument("--seed", type=int, default=17, help="the random seed (default 17)")
    if mode == "sim":
        p.add_argument("--builders", default="8,16,32,64,128", help="N values (default 8,16,32,64,128)")
        p.add_argument("--submit-ms", type=float, default=10.0,
                       help="ms per sbatch call (default 10; bench/slurm.sh measures it)")
        p.add_argument("--submitters", type=int, default=1, help="concurrent sbatch callers (default 1)")
        p.add_argument("--overhead", type=float, default=0.0, help="seconds added to every job (default 0)")
        p.add_argument("--brief", action="store_true", help="the tables only, not the graph's figures")
        return sim_main(p.parse_args(argv))
    if mode == "project":
        p.add_argument("--dir", required=True, help="where to write the project")
        p.add_argument("--cache-url", required=True, help="[cache] url")
        p.add_argument("--sbatch-option", action="append", default=[], help="[slurm] options (repeatable)")
        return project_main(p.parse_args(argv))
    p.add_argument("-P", "--submitters", type=int, default=1, help="concurrent sbatch callers (default 1)")
    p.add_argument("--jobs", type=int, default=0,
                   help="submit only the first M jobs (default: all, or 1500 if a probe projects "
                        "more than --budget)")
    p.add_argument("--budget", type=float, default=300.0, help="seconds (default 300)")
    p.add_argument("--dir", default="/tmp/slurm-sim-out", help="the jobs' --output directory")
    p.add_argument("--result", help="write 'ms per call, ms per job' here")
    return submit_main(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
