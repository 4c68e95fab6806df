#!/bin/bash
# SPDX-License-Identifier: MIT
# Upstream-components benchmark (issue 16): a project laid out like Azure Linux
# 4.0, N upstream components (default 7500) from local dist-git repositories
# with 250 overlays (bench/gen-upstream.py), and the time slipway takes to:
#   1. check it (median of three runs);
#   2. update: lock all N, cold (the dist-git mirrors made) and again (all
#      fetched, nothing moves);
#   3. package it cold (no build cache; the mirrors and lookaside store that
#      update filled are kept), then with nothing to do, twice.
# Steps whose verb this slipway lacks are skipped with a message.
#
# The project is generated once into $UPSTREAM_BENCH_DIR (default bench/.cache)
# as upstream-N, and reused while bench/gen-upstream.py is unchanged. The
# generator writes about 100,000 small files: on a tmpfs that takes seconds,
# on a busy ext4 it can take tens of seconds (UPSTREAM_BENCH_DIR=/dev/shm/...).
#
#   bench/upstream.sh [N]          (SLIPWAY=path/to/slipway, default build/slipway)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-7500}
SLIPWAY=${SLIPWAY:-$PWD/build/slipway}
base=${UPSTREAM_BENCH_DIR:-$PWD/bench/.cache}
mkdir -p "$base"
base=$(cd "$base" && pwd)
proj=$base/upstream-$N
export SOURCE_DATE_EPOCH=1767225600

# shellcheck source=bench/common.sh
. bench/common.sh

[ -x "$SLIPWAY" ] || { echo "bench/upstream.sh: no slipway at $SLIPWAY (ninja -C build, or SLIPWAY=...)" >&2; exit 1; }
has_verb() { "$SLIPWAY" --help 2>&1 | grep -qE "^  $1( |\$)"; }

# 0. The project, made again only when the generator changed (its URLs are
# absolute paths into the directory, so it is written in place, and a stamp
# written last marks it whole).
stamp=$(sha256sum bench/gen-upstream.py | cut -d' ' -f1)
if [ "$(cat "$proj/.generated" 2>/dev/null)" != "$stamp" ]; then
        rm -rf "$proj"
        python3 bench/gen-upstream.py "$proj" -n "$N"
        echo "$stamp" > "$proj/.generated"
else
        echo "bench/upstream.sh: reusing $proj"
fi
echo "bench/upstream.sh: $N upstream components, $(nproc) CPUs, $("$SLIPWAY" --version)"

# 1. check.
ts=()
for _ in 1 2 3; do
        mark; "$SLIPWAY" -q -C "$proj" check >/dev/null; took t; ts+=("$t")
done
t_check=$(median "${ts[@]}")
printf 'check:             %7.3f s (median of 3)\n' "$t_check"

# 2. update.
if ! has_verb update; then
        echo "update:            skipped: slipway has no 'update' verb yet"
        echo "package:           skipped: slipway has no 'update' verb yet (upstream components cannot be locked)"
        exit 0
fi
rm -rf "$proj/slipway.lock" "$proj/out"
mark; "$SLIPWAY" -q -C "$proj" update >/dev/null; took t_update
locked=$(grep -c '^\[components\.' "$proj/slipway.lock" || true)
mark; "$SLIPWAY" -q -C "$proj" update >/dev/null; took t_update2
printf 'update, cold:      %7.3f s (%s components locked, mirrors made)\n' "$t_update" "$locked"
printf 'update, again:     %7.3f s (every repository fetched, nothing moved)\n' "$t_update2"
[ "$locked" = "$N" ] || { echo "bench/upstream.sh: update locked $locked of $N components" >&2; exit 1; }

# 3. package: cold, then twice with nothing to do.
if ! has_verb package; then
        echo "package:           skipped: slipway has no 'package' verb"
        exit 0
fi
keep=$base/keep-$N
rm -rf "$keep" && mkdir -p "$keep"
for d in git lookaside; do
        [ ! -d "$proj/out/cache/upstream/$d" ] || mv "$proj/out/cache/upstream/$d" "$keep/$d"
done
rm -rf "$proj/out"
mkdir -p "$proj/out/cache/upstream"
for d in git lookaside; do
        [ ! -d "$keep/$d" ] || mv "$keep/$d" "$proj/out/cache/upstream/$d"
done
rmdir "$keep"
status=0
mark; "$SLIPWAY" -q -C "$proj" package --locked > "$base/package-$N.log" 2>&1 || status=$?; took t_cold
if [ "$status" != 0 ]; then
        tail -n 20 "$base/package-$N.log"
        echo "bench/upstream.sh: package failed (exit status $status); the log is $base/package-$N.log" >&2
        exit 1
fi
rpms=$(find "$proj/out/repo" -name '*.rpm' | wc -l)
mark; "$SLIPWAY" -q -C "$proj" package --locked >/dev/null; took t_noop1
mark; "$SLIPWAY" -q -C "$proj" package --locked >/dev/null; took t_noop2
printf 'package, cold:     %7.3f s (%s RPMs)\n' "$t_cold" "$rpms"
printf 'package, no-op:    %7.3f s, then %.3f s\n' "$t_noop1" "$t_noop2"
