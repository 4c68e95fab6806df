#!/bin/bash
# SPDX-License-Identifier: MIT
# The supply chain's costs on the examples (issue 19): `slipway build --json`
# of an example from nothing, then what its own document says the three
# checks took:
#   - hardening: the ELF check of every package (package.hardening.seconds,
#     summed over the components: with -j above 1 they overlap, so their
#     share of the wall time is an upper bound);
#   - SBOM: every image's NAME.spdx.json (the outputs' "seconds");
#   - verity: every hash tree (the images' verity[].seconds).
# Their sum against the build's wall time; the goal is under 10%. Each is
# also set against its peer tool on the same input, in the same run:
#   - hardening-check (devscripts) on every ELF file of the built packages;
#   - `veritysetup format` on the verity image's data partition.
# No SPDX generator is packaged in Debian 12, so the SBOM has no peer here.
#
#   bench/supply.sh [minimal|server ...]     (default: minimal server)
set -euo pipefail
cd "$(dirname "$0")/.."
SLIPWAY=${SLIPWAY:-$PWD/build/slipway}
[ -x "$SLIPWAY" ] || { echo "bench/supply.sh: no $SLIPWAY (run scripts/setup.sh)" >&2; exit 1; }
command -v hardening-check >/dev/null || { echo "bench/supply.sh: no hardening-check (devscripts)" >&2; exit 1; }
examples=("$@")
[ ${#examples[@]} -gt 0 ] || examples=(minimal server)
work=$(mktemp -d /var/tmp/slipway-bench-supply.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "bench/supply.sh: $(nproc) CPUs; slipway $SLIPWAY"

for ex in "${examples[@]}"; do
        rm -rf "$work/examples" "$work/scripts"
        cp -r examples "$work/examples"
        cp -r scripts "$work/scripts"
        rm -rf "$work/examples/$ex/out"
        if [ "$ex" = server ]; then
                rm -rf "$work/examples/minimal/out"
                python3 "$work/examples/server/debian/import.py" >/dev/null 2>&1
        fi
        start=$EPOCHREALTIME
        "$SLIPWAY" -C "$work/examples/$ex" --json build >"$work/build.json" 2>"$work/build.log" ||
                { tail -20 "$work/build.log"; exit 1; }
        wall=$(awk "BEGIN{print $EPOCHREALTIME - $start}")
        read -r hard sbom verity nfiles nimages <<<"$(python3 - "$work/build.json" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
pkg, img = doc["package"], doc["image"] or {"images": []}
hard = (pkg.get("hardening") or {}).get("seconds", 0.0)
sbom = sum(o.get("seconds", 0.0) for i in img["images"] for o in i["outputs"] if o["format"] == "sbom")
verity = sum(v.get("seconds", 0.0) for i in img["images"] for v in i.get("verity") or [])
print(hard, sbom, verity, (pkg.get("hardening") or {}).get("files", 0), len(img["images"]))
EOF
)"
        total=$(awk "BEGIN{print $hard + $sbom + $verity}")
        echo "== examples/$ex: slipway build from nothing: $(printf %.1f "$wall") s, $nimages images"
        printf '  hardening check (%s ELF files): %.3f s  %.2f%%\n' "$nfiles" "$hard" "$(awk "BEGIN{print 100 * $hard / $wall}")"
        printf '  SBOMs:                         %.3f s  %.2f%%\n' "$sbom" "$(awk "BEGIN{print 100 * $sbom / $wall}")"
        printf '  verity hash trees:             %.3f s  %.2f%%\n' "$verity" "$(awk "BEGIN{print 100 * $verity / $wall}")"
        printf '  together:                      %.3f s  %.2f%% of the build (goal: under 10%%)\n' "$total" \
                "$(awk "BEGIN{print 100 * $total / $wall}")"

        # The peer of the hardening check: hardening-check on the same ELF files.
        x="$work/x"
        rm -rf "$x" && mkdir -p "$x"
        for rpm in "$work/examples/$ex/out/repo/Packages"/*.rpm; do
                (cd "$x" && rpm2cpio "$rpm" | cpio -idm --quiet 2>/dev/null) || true
        done
        find "$x" -type f -print0 | xargs -0 -r file -N --mime-type 2>/dev/null |
                awk -F': ' '$2 ~ /application\/x-(executable|sharedlib|pie-executable)/ {print $1}' >"$work/elves"
        n=$(wc -l <"$work/elves")
        start=$EPOCHREALTIME
        tr '\n' '\0' <"$work/elves" | xargs -0 -r -n 64 hardening-check >/dev/null 2>&1 || true
        peer=$(awk "BEGIN{print $EPOCHREALTIME - $start}")
        printf '  hardening-check on the same %s ELF files: %.3f s; slipway %.3f s: peer/slipway %.2f\n' "$n" "$peer" \
                "$hard" "$(awk "BEGIN{print ($hard > 0) ? $peer / $hard : 0}")"

        # The peer of the hash tree: veritysetup format on the same data partition.
        raw=
        for f in "$work/examples/$ex/out/images"/*.raw; do
                [ -f "$f" ] && [ "$(sfdisk -J "$f" 2>/dev/null | grep -c '"name": "root-verity"')" -gt 0 ] &&
                        { raw=$f; break; }
        done
        if [ -n "$raw" ]; then
                read -r start_s size_s <<<"$(sfdisk -J "$raw" | python3 -c '
import json, sys
t = json.load(sys.stdin)["partitiontable"]["partitions"]
for i, p in enumerate(t):
    if i + 1 < len(t) and t[i + 1].get("name") == "root-verity":
        print(p["start"], p["size"])
        break')"
                dd if="$raw" of="$work/data" bs=512 skip="$start_s" count="$size_s" status=none
                start=$EPOCHREALTIME
                veritysetup format "$work/data" "$work/hash" >/dev/null
                peer=$(awk "BEGIN{print $EPOCHREALTIME - $start}")
                printf '  veritysetup format on the same %s MiB: %.3f s; slipway %.3f s: peer/slipway %.2f\n' \
                        "$((size_s / 2048))" "$peer" "$verity" "$(awk "BEGIN{print ($verity > 0) ? $peer / $verity : 0}")"
                rm -f "$work/data" "$work/hash"
        fi
done
