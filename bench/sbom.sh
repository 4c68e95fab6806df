#!/bin/bash
# SPDX-License-Identifier: MIT
# SBOM benchmark (issue 19): what writing an image's SBOM
# (OUT/images/NAME.spdx.json) costs. The SBOM step is timed on its own
# (build/bench/bench-sbom: the code behind it, from the image's rpm
# database to the document; median of RUNS), because a whole `slipway image`
# varies more from run to run than the SBOM takes:
#   1. examples/minimal: `slipway build` from nothing (timed once), then the
#      SBOM of each of its images from the rpm database in an output, with
#      sbom = "packages" (the default) and "files"; their sum against the
#      build (the issue's goal: SBOM, hardening and verity together under
#      10% of it);
#   2. a tar image of N generated packages (default 300; bench/common.sh):
#      the same, and `slipway inspect --sbom=files` of the tar (reading the
#      archive included) against `slipway inspect --json` of it.
# Needs build/slipway and build/bench/bench-sbom (or BUILD=DIR).
#
#   bench/sbom.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-300}
RUNS=${RUNS:-5}
BUILD=${BUILD:-$PWD/build}
SLIPWAY=$BUILD/slipway
BENCH=$BUILD/bench/bench-sbom
work=$(mktemp -d /tmp/slipway-bench-sbom.XXXXXX)
trap 'rm -rf "$work"' EXIT
export SOURCE_DATE_EPOCH=1767225600
# shellcheck source=bench/common.sh
. bench/common.sh

# The median seconds of RUNS runs of "$@".
timed() { # variable command...
        local var=$1 ts=() t
        shift
        for _ in $(seq "$RUNS"); do
                mark; "$@" >/dev/null 2>&1; took t
                ts+=("$t")
        done
        printf -v "$var" '%s' "$(median "${ts[@]}")"
}
sum() { python3 -c "import sys; print(f'{sum(map(float, sys.argv[1:])):.4f}')" "$@"; }
percent() { python3 -c "import sys; print(f'{100 * float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$1" "$2"; }

# 1. The example.
ex=$work/example
cp -r examples/minimal "$ex"
rm -rf "$ex/out"
mark; "$SLIPWAY" -q -C "$ex" build >/dev/null; took tbuild
pk=() fi=()
printf 'example (examples/minimal): slipway build %6.2f s; the SBOM of each image on its own:\n' "$tbuild"
for img in "$ex"/out/images/*.spdx.json; do
        name=$(basename "$img" .spdx.json)
        # Any output of the image: they all hold its rpm database.
        src=$(ls -d "$ex/out/images/$name".* | grep -v '\.spdx\.json$' | head -1)
        read -r tp bp < <("$BENCH" "$src" packages "$RUNS")
        read -r tf bf < <("$BENCH" "$src" files "$RUNS")
        printf '  %-10s packages %7.4f s (%d bytes), files %7.4f s (%d bytes)\n' "$name" "$tp" "$bp" "$tf" "$bf"
        pk+=("$tp") fi+=("$tf")
done
spk=$(sum "${pk[@]}") sfi=$(sum "${fi[@]}")
printf '  all images: packages %7.4f s = %s%% of slipway build; files %7.4f s = %s%% (goal: SBOM, hardening, verity together < 10%%)\n' \
        "$spk" "$(percent "$spk" "$tbuild")" "$sfi" "$(percent "$sfi" "$tbuild")"

# 2. N generated packages.
proj=$work/proj
nfiles=$(gen "$proj" "$N")
"$SLIPWAY" -q -C "$proj" package >/dev/null
mark; "$SLIPWAY" -q -C "$proj" image all >/dev/null; took timage
read -r tp bp < <("$BENCH" "$proj/out/images/all.tar.zst" packages "$RUNS")
read -r tf bf < <("$BENCH" "$proj/out/images/all.tar.zst" files "$RUNS")
printf '%d packages, %d files (slipway image of the tar: %6.2f s): SBOM packages %7.4f s (%d KiB) = %s%%, files %7.4f s (%d KiB) = %s%%\n' \
        "$N" "$nfiles" "$timage" "$tp" $((bp / 1024)) "$(percent "$tp" "$timage")" "$tf" $((bf / 1024)) \
        "$(percent "$tf" "$timage")"
timed tins "$SLIPWAY" inspect --sbom=files "$proj/out/images/all.tar.zst"
timed tls "$SLIPWAY" inspect --json "$proj/out/images/all.tar.zst"
printf '  slipway inspect --sbom=files of its tar.zst: %6.3f s (inspect --json of it: %6.3f s)\n' "$tins" "$tls"
