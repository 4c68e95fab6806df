#!/bin/bash
# SPDX-License-Identifier: MIT
# Repository and signing benchmark (issue: trust and repositories). Generates N
# RPMs (default 2000, native components built by slipway) and measures in one
# run:
#   1. cold indexing: slipway repo vs createrepo_c --workers 2
#   2. after adding 10 packages: slipway repo vs createrepo_c --workers 2 --update
#      (median of five rounds)
#   3. signing all N: slipway sign -j2 vs rpmsign --addsign (gpg), Ed25519 and RSA-4096
# and prints the ratios. Needs build/slipway, createrepo_c, rpmsign, gpg.
#
#   bench/repo.sh [N]          (SIGN=0 bench/repo.sh: indexing only)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000}
SLIPWAY=$PWD/build/slipway
work=$(mktemp -d /tmp/slipway-bench-repo.XXXXXX)
export GNUPGHOME=$work/gnupg
cleanup() { gpgconf --kill gpg-agent 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
export SOURCE_DATE_EPOCH=1767225600

# shellcheck source=bench/common.sh
. bench/common.sh

# N + 10 packages from one project of native components.
gen() { # dir first last
        mkdir -p "$1/components" "$1/files"
        printf '[project]\nname = "bench"\nversion = "1"\nsource-date-epoch = 1767225600\nincludes = ["components/*.toml"]\n' > "$1/slipway.toml"
        for i in $(seq "$2" "$3"); do
                printf 'file %d\n' "$i" > "$1/files/f$i"
                printf '[components.bench-%d]\nversion = "1.0"\nsummary = "package %d"\nlicense = "MIT"\narch = "noarch"\nrequires = ["bench-%d"]\n[[components.bench-%d.files]]\nsource = "files/f%d"\npath = "/usr/share/bench/f%d"\n' \
                        "$i" "$i" "$(( i > 1 ? i - 1 : 1 ))" "$i" "$i" "$i" > "$1/components/c$i.toml"
        done
}
gen "$work/p1" 1 "$N"
gen "$work/p2" $((N + 1)) $((N + 10))
"$SLIPWAY" -q -C "$work/p1" package
"$SLIPWAY" -q -C "$work/p2" package
echo "bench/repo.sh: $N packages, $(nproc) CPUs, createrepo_c $(createrepo_c --version | head -1 | awk '{print $2}')"

# 1. Cold indexing.
for d in slip cr crnodb; do mkdir -p "$work/$d"; cp "$work"/p1/out/repo/Packages/*.rpm "$work/$d/"; done
sync
mark; "$SLIPWAY" -q repo "$work/slip"; took t_slip
mark; createrepo_c -q --workers 2 "$work/cr" >/dev/null; took t_cr
mark; createrepo_c -q --workers 2 --no-database "$work/crnodb" >/dev/null; took t_crnodb

# 2. Ten packages added, five times over (the ten are removed and the
# repositories re-indexed between rounds); the median of each is reported.
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
us_slip=() us_cr=() us_crnodb=()
for round in 1 2 3 4 5; do
        if [ "$round" -gt 1 ]; then
                for d in slip cr crnodb; do
                        for f in "$work"/p2/out/repo/Packages/*.rpm; do rm -f "$work/$d/$(basename "$f")"; done
                done
                "$SLIPWAY" -q repo "$work/slip"
                createrepo_c -q --workers 2 --update "$work/cr" >/dev/null
                createrepo_c -q --workers 2 --update --no-database "$work/crnodb" >/dev/null
        fi
        for d in slip cr crnodb; do cp "$work"/p2/out/repo/Packages/*.rpm "$work/$d/"; done
        sync
        mark; "$SLIPWAY" -q repo "$work/slip"; took t; us_slip+=("$t")
        mark; createrepo_c -q --workers 2 --update "$work/cr" >/dev/null; took t; us_cr+=("$t")
        mark; createrepo_c -q --workers 2 --update --no-database "$work/crnodb" >/dev/null; took t; us_crnodb+=("$t")
done
u_slip=$(median "${us_slip[@]}") u_cr=$(median "${us_cr[@]}") u_crnodb=$(median "${us_crnodb[@]}")

# 3. Signing, with keys made by gpg and used by both.
if [ "${SIGN:-1}" != 0 ]; then
mkdir -p "$GNUPGHOME" && chmod 700 "$GNUPGHOME"
gpg -q --batch --pinentry-mode loopback --passphrase '' --quick-gen-key "Bench Ed <ed@example.com>" ed25519 sign never 2>/dev/null
gpg -q --batch --pinentry-mode loopback --passphrase '' --quick-gen-key "Bench RSA <rsa@example.com>" rsa4096 sign never 2>/dev/null
gpg -q --batch --pinentry-mode loopback --passphrase '' --export-secret-keys --armor "Bench Ed" > "$work/ed.asc"
gpg -q --batch --pinentry-mode loopback --passphrase '' --export-secret-keys --armor "Bench RSA" > "$work/rsa.asc"
fi
sign_bench() { # name uid key
        mkdir -p "$work/s-$1" "$work/r-$1"
        cp "$work"/p1/out/repo/Packages/*.rpm "$work/s-$1/"
        cp "$work"/p1/out/repo/Packages/*.rpm "$work/r-$1/"
        mark; "$SLIPWAY" -q -j2 sign --key "$3" "$work/s-$1"/*.rpm; took "s_$1"
        mark
        rpmsign --addsign --define '__gpg /usr/bin/gpg' --define "_gpg_name $2" "$work/r-$1"/*.rpm >/dev/null 2>&1
        took "r_$1"
}
if [ "${SIGN:-1}" != 0 ]; then
        sign_bench ed "Bench Ed" "$work/ed.asc"
        sign_bench rsa "Bench RSA" "$work/rsa.asc"
fi

printf 'cold index:       slipway %6.3f s, createrepo_c --workers 2 %6.3f s (%sx), --no-database %6.3f s (%sx)\n' \
        "$t_slip" "$t_cr" "$(ratio "$t_cr" "$t_slip")" "$t_crnodb" "$(ratio "$t_crnodb" "$t_slip")"
printf 'add 10 packages:  slipway %6.3f s, createrepo_c --update    %6.3f s (%sx), --no-database %6.3f s (%sx) (median of 5)\n' \
        "$u_slip" "$u_cr" "$(ratio "$u_cr" "$u_slip")" "$u_crnodb" "$(ratio "$u_crnodb" "$u_slip")"
[ "${SIGN:-1}" != 0 ] || exit 0
printf 'sign Ed25519:     slipway %6.2f s, rpmsign --addsign       %6.2f s (%sx)\n' "$s_ed" "$r_ed" "$(ratio "$r_ed" "$s_ed")"
printf 'sign RSA-4096:    slipway %6.2f s, rpmsign --addsign       %6.2f s (%sx)\n' "$s_rsa" "$r_rsa" "$(ratio "$r_rsa" "$s_rsa")"
