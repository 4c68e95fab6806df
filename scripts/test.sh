#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs every test: the suite on build/, the same suite under AddressSanitizer
# and UndefinedBehaviorSanitizer on build-asan/, and each libFuzzer target on
# build-fuzz/. Ends with "N passed, N failed".
#
#   scripts/test.sh [--quick] [--fuzz-seconds N]
#     --quick            the plain suite only
#     --fuzz-seconds N   how long each fuzz target runs (default 60)
set -uo pipefail
cd "$(dirname "$0")/.."

quick=0
fuzz_seconds=60
while [ $# -gt 0 ]; do
        case "$1" in
        --quick) quick=1 ;;
        --fuzz-seconds) fuzz_seconds="$2"; shift ;;
        *) echo "test: unknown option '$1'" >&2; exit 2 ;;
        esac
        shift
done

passed=0
failed=0
skipped=0

# Adds the results of a meson test run (its testlog.json) to the totals.
count_meson() {
        local log="$1/meson-logs/testlog.json"
        [ -f "$log" ] || { failed=$((failed + 1)); return; }
        read -r p f s < <(python3 - "$log" <<'PY'
import json, sys
p = f = s = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"):
        p += 1
    elif r == "SKIP":
        s += 1
    else:
        f += 1
print(p, f, s)
PY
)
        passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
}

setup_dir() { # dir, meson args...
        local dir="$1"; shift
        if [ -f "$dir/build.ninja" ]; then
                meson setup --reconfigure "$dir" "$@" >/dev/null
        else
                meson setup "$dir" "$@" >/dev/null
        fi
}

echo "== test suite (build/)"
setup_dir build && ninja -C build >/dev/null || { echo "build failed"; exit 1; }
meson test -C build --print-errorlogs
count_meson build

if [ "$quick" = 0 ]; then
        echo "== test suite under ASan+UBSan (build-asan/)"
        export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
        export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
        if setup_dir build-asan -Db_sanitize=address,undefined -Dc_args=-fno-sanitize-recover=all &&
           ninja -C build-asan >/dev/null; then
                meson test -C build-asan --print-errorlogs --timeout-multiplier 3
                count_meson build-asan
        else
                echo "sanitizer build failed"; failed=$((failed + 1))
        fi

        echo "== fuzzing, ${fuzz_seconds}s per target (build-fuzz/)"
        if CC=clang setup_dir build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false \
                        -Dc_args=-fno-sanitize-recover=all &&
           ninja -C build-fuzz >/dev/null; then
                # Seeds: what the pipeline makes of every example (packages
                # signed and not, repository metadata, keys, signatures,
                # archives: scripts/fuzz-seeds.sh), small disk images made
                # with the real tools (scripts/disk-seeds.sh) and the TOML
                # conformance suite.
                rm -rf build-fuzz/seeds
                scripts/fuzz-seeds.sh build/slipway build-fuzz/seeds >/dev/null 2>&1 || true
                scripts/disk-seeds.sh build-fuzz/seeds/disk >/dev/null 2>&1 || true
                for target in build-fuzz/fuzz/fuzz-*; do
                        [ -f "$target" ] && [ -x "$target" ] || continue
                        name=$(basename "$target")
                        corpus="build-fuzz/corpus/$name"
                        mkdir -p "$corpus"
                        # Every target reads every seed once, whatever its kind: a
                        # reader must not crash on another format's real files.
                        # (The first directory is where libFuzzer would add inputs.)
                        rm -rf "build-fuzz/scratch-$name" && mkdir -p "build-fuzz/scratch-$name"
                        if ! "$target" -runs=0 -timeout=10 -rss_limit_mb=2048 "build-fuzz/scratch-$name" build-fuzz/seeds/* \
                                        >"build-fuzz/$name.seeds.log" 2>&1; then
                                echo "FAIL $name on the seeds: see build-fuzz/$name.seeds.log"
                                tail -40 "build-fuzz/$name.seeds.log"
                                failed=$((failed + 1))
                                continue
                        fi
                        case "$name" in
                        fuzz-toml) seeds=$(find build-fuzz/seeds/toml ../shared/toml-test/tests -name '*.toml' -size -64k 2>/dev/null | head -2000) ;;
                        fuzz-rpm|fuzz-install) seeds=$(find build-fuzz/seeds/rpm -type f) ;;
                        fuzz-repo) seeds=$(find build-fuzz/seeds/xml -type f) ;;
                        fuzz-inspect) seeds=$(find build-fuzz/seeds/rpm build-fuzz/seeds/archive -type f -size -512k) ;;
                        fuzz-disk|fuzz-customize) seeds=$(find build-fuzz/seeds/disk -type f) ;;
                        fuzz-openpgp) seeds=$(find build-fuzz/seeds/pgp -type f) ;;
                        fuzz-yaml) seeds=$(find fuzz/yaml -name '*.yaml') ;;
                        fuzz-sources) seeds=$(find fuzz/sources -type f) ;;
                        fuzz-spec) seeds=$(find examples tests -name '*.spec' -size -64k) ;;
                        fuzz-manifest) seeds=$(find fuzz/manifest -type f) ;;
                        fuzz-elf) seeds=$(find /usr/bin /usr/lib/x86_64-linux-gnu -maxdepth 1 -type f -size -64k 2>/dev/null | head -300) ;;
                        fuzz-pe) seeds=$(find /usr/lib/systemd/boot/efi -name '*.efi*' -size -512k 2>/dev/null) ;;
                        *) seeds= ;;
                        esac
                        for f in $seeds; do cp "$f" "$corpus/$(echo "$f" | md5sum | cut -c1-16)"; done
                        if "$target" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
                                        -print_final_stats=1 "$corpus" >"build-fuzz/$name.log" 2>&1; then
                                echo "ok   $name: $(grep -a 'stat::number_of_executed_units' "build-fuzz/$name.log" | awk '{print $2}') runs, nothing found"
                                passed=$((passed + 1))
                        else
                                echo "FAIL $name: see build-fuzz/$name.log"; tail -40 "build-fuzz/$name.log"
                                failed=$((failed + 1))
                        fi
                done
        else
                echo "fuzz build failed"; failed=$((failed + 1))
        fi
fi

if [ "$skipped" -gt 0 ]; then
        echo "$passed passed, $failed failed, $skipped skipped"
else
        echo "$passed passed, $failed failed"
fi
[ "$failed" = 0 ]
