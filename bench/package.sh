#!/bin/bash
# SPDX-License-Identifier: MIT
# Packaging benchmark (issue: packages). Generates N components (default 200)
# that each ship one file, and measures in one run:
#   1. slipway package of them as native components (slipway's RPM writer)
#   2. rpmbuild -bb of equivalent specs in a shell loop (the peer)
#   3. slipway package -j2 of the same specs as spec components
# and prints the time ratios. Needs a built build/slipway and rpmbuild.
#
# With "buildroot" (issue: clean buildroots), the same N spec components are
# built one at a time (-j1) in host mode and in buildroot mode, against a
# buildroot repository made from this machine's toolchain by
# tests/toolchain/make-repo.py (needs root), and it prints what a buildroot
# adds to each build: once to make it, then per component with the buildroot
# cached. (mock is not compared: Debian 12 has no mock package, `apt-cache
# policy mock` shows no candidate, and nothing may be downloaded from elsewhere.)
#
#   bench/package.sh [N] [buildroot]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200}
CASE=${2:-all}
SLIPWAY=$PWD/build/slipway
work=$(mktemp -d /tmp/slipway-bench-package.XXXXXX)
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }
ratio() { python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print(f'{a / b:.1f}')" "$1" "$2"; }
ms_per() { python3 -c "import sys; print(f'{float(sys.argv[1]) * 1000 / int(sys.argv[2]):.1f}')" "$1" "$2"; }

mkproject() { # dir
        mkdir -p "$1/components" "$1/files"
        cat > "$1/slipway.toml" <<TOML
[project]
name = "bench"
version = "1.0"
source-date-epoch = 1767225600
includes = ["components/*.toml"]
TOML
}

native=$work/native
specs=$work/specs
mkproject "$native"
mkproject "$specs"
mkdir -p "$work/loop/SOURCES"
for i in $(seq 1 "$N"); do
        name=bench-pkg$i
        # ~16 KiB of text per package, different for each.
        python3 -c "import sys; print(('line %d of package $i\n' * 1).join('' for _ in range(1)) if False else ''.join(f'line {k} of package $i\n' for k in range(700)), end='')" > "$native/files/$name.txt"
        cp "$native/files/$name.txt" "$work/loop/SOURCES/$name.txt"
        cat > "$native/components/$name.toml" <<TOML
[components.$name]
version = "1.0"
release = "1"
summary = "benchmark package $i"
license = "MIT"
arch = "noarch"
[[components.$name.files]]
source = "files/$name.txt"
path = "/usr/share/$name/data.txt"
mode = "0644"
TOML
        mkdir -p "$specs/components/$name"
        cp "$native/files/$name.txt" "$specs/components/$name/"
        cat > "$specs/components/$name/$name.spec" <<SPEC
Name: $name
Version: 1.0
Release: 1
Summary: benchmark package $i
License: MIT
BuildArch: noarch
Source0: $name.txt
%description
benchmark package $i
%install
install -D -m 0644 %{SOURCE0} %{buildroot}/usr/share/$name/data.txt
%files
/usr/share/$name/data.txt
SPEC
        cp "$specs/components/$name/$name.spec" "$work/loop/$name.spec"
        printf '[components.%s]\nspec = "components/%s/%s.spec"\n' "$name" "$name" "$name" > "$specs/components/$name.toml"
done

if [ "$CASE" = buildroot ]; then
        if [ "$(id -u)" != 0 ]; then
                echo "bench/package.sh buildroot: needs root (the toolchain repository reads every toolchain file)" >&2
                exit 1
        fi
        repo=$(tests/toolchain/make-repo.py "$SLIPWAY" "$work/toolchain" 2>/dev/null | tail -1)
        br=$work/specs-br
        cp -a "$specs" "$br"
        key=$(ls "$repo"/RPM-GPG-KEY-*)
        cat >> "$br/slipway.toml" <<TOML
[build]
mode = "buildroot"
buildroot = ["bash", "coreutils", "gcc", "make", "rpm-build", "sed", "grep", "gzip", "tar", "findutils", "diffutils", "patch", "glibc-devel", "file"]

[repos.toolchain]
url = "file://$repo"
gpg-key = "$key"
TOML
        echo "bench/package.sh buildroot: $N spec components, -j1, $(nproc) CPUs"
        t0=$(now)
        "$SLIPWAY" -q -j1 -C "$specs" package
        t_host=$(python3 -c "print($(now) - $t0)")
        t0=$(now)
        "$SLIPWAY" -q -j1 -C "$br" package
        t_first=$(python3 -c "print($(now) - $t0)")
        # Every component again, the buildroot cached (only the packages' cache dropped).
        rm -rf "$br/out/cache/packages"
        t0=$(now)
        "$SLIPWAY" -q -j1 -C "$br" --json package > "$work/br.json"
        t_cached=$(python3 -c "print($(now) - $t0)")
        made=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['buildroots_made'])" "$work/br.json")
        reused=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['buildroots_reused'])" "$work/br.json")
        printf 'host mode:                  %7.2f s  (%s ms/component)\n' "$t_host" "$(ms_per "$t_host" "$N")"
        printf 'buildroot, first run:       %7.2f s  (%s ms/component; one buildroot made)\n' "$t_first" \
                "$(ms_per "$t_first" "$N")"
        printf 'buildroot, cached root:     %7.2f s  (%s ms/component; %s made, %s reused)\n' "$t_cached" \
                "$(ms_per "$t_cached" "$N")" "$made" "$reused"
        printf 'buildroot overhead:         %7.0f ms per component with the buildroot cached (goal: < 500)\n' \
                "$(python3 -c "print(($t_cached - $t_host) * 1000 / $N)")"
        printf 'first run over cached run:  %7.2f s (making the buildroot, querying the specs in it)\n' \
                "$(python3 -c "print($t_first - $t_cached)")"
        exit 0
fi

echo "bench/package.sh: $N packages, $(nproc) CPUs"

t0=$(now)
"$SLIPWAY" -q -C "$native" package
t_native=$(python3 -c "print($(now) - $t0)")

t0=$(now)
for i in $(seq 1 "$N"); do
        rpmbuild -bb --quiet --define "_topdir $work/loop" --define "_sourcedir $work/loop/SOURCES" \
                --define '_binary_payload w19.zstdio' "$work/loop/bench-pkg$i.spec" >/dev/null 2>&1
done
t_loop=$(python3 -c "print($(now) - $t0)")

t0=$(now)
"$SLIPWAY" -q -j2 -C "$specs" package
t_spec=$(python3 -c "print($(now) - $t0)")

t0=$(now)
"$SLIPWAY" -q -j2 -C "$specs" package
t_cached=$(python3 -c "print($(now) - $t0)")

printf 'rpmbuild -bb loop:          %7.2f s  (%s ms/package)\n' "$t_loop" "$(ms_per "$t_loop" "$N")"
printf 'slipway native:             %7.2f s  (%s ms/package)  ratio %sx faster\n' "$t_native" \
        "$(ms_per "$t_native" "$N")" "$(ratio "$t_loop" "$t_native")"
printf 'slipway spec components -j2:%7.2f s  (%s ms/package)  ratio %sx the loop\n' "$t_spec" \
        "$(ms_per "$t_spec" "$N")" "$(ratio "$t_loop" "$t_spec")"
printf 'slipway spec, all cached:   %7.2f s\n' "$t_cached"
