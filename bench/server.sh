#!/bin/bash
# SPDX-License-Identifier: MIT
# The server example's build from nothing (issue 18): `slipway build` of
# examples/server in a fresh copy (131 Debian packages repackaged as native
# components, the kernel, boot loaders and filesystem through rpmbuild, the
# repository, and the server disk (raw, vhd), container and WSL images with
# their scriptlets: sysusers, tmpfiles, hwdb, ldconfig, presets, the local
# SELinux module), three times, against the goal of 180 s on 2 cores. There
# is no peer that builds the same distribution from the same inputs; the
# figure to compare is the goal. Also prints the time of a no-op build (all
# cached, images made again).
#
#   bench/server.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SLIPWAY=${SLIPWAY:-$PWD/build/slipway}
[ -x "$SLIPWAY" ] || { echo "bench/server.sh: no $SLIPWAY (run scripts/setup.sh)" >&2; exit 1; }
work=$(mktemp -d /var/tmp/slipway-bench-server.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "bench/server.sh: $(nproc) CPUs; slipway $SLIPWAY"
times=()
for i in 1 2 3; do
        rm -rf "$work/examples" "$work/scripts"
        cp -r examples "$work/examples"
        cp -r scripts "$work/scripts"
        rm -rf "$work/examples/server/out" "$work/examples/minimal/out"
        start=$EPOCHREALTIME
        "$SLIPWAY" -C "$work/examples/server" build >"$work/build.log" 2>&1 ||
                { tail -20 "$work/build.log"; exit 1; }
        end=$EPOCHREALTIME
        t=$(awk "BEGIN{print $end - $start}")
        times+=("$t")
        printf 'build from nothing #%d: %.1f s\n' "$i" "$t"
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p)
start=$EPOCHREALTIME
"$SLIPWAY" -C "$work/examples/server" build >"$work/build.log" 2>&1
noop=$(awk "BEGIN{print $EPOCHREALTIME - $start}")
printf 'median %.1f s against the goal of 180 s: %.2fx of the goal\n' "$median" "$(awk "BEGIN{print $median / 180}")"
printf 'no-op build (packages cached, images made again): %.1f s\n' "$noop"
du -sh "$work/examples/server/out/images"/* | sed 's/^/  /'
