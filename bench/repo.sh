#!/bin/bash
# SPDX-License-Identifier: MIT
# Repository and signing benchmark (issue: trust and repositories). Generates N
# RPMs (default 2000, native components built by slipway) and measures in one
# run:
#   1. cold indexing: slipway repo vs createrepo_c --workers 2
#   2. after adding 10 packages: slipway repo vs createrepo_c --workers 2 --update
#   3. signing all N: slipway sign -j2 vs rpmsign --addsign (gpg), Ed25519 and RSA-4096
# and prints the ratios. Needs build/slipway, createrepo_c, rpmsign, gpg.
#
#   bench/repo.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000}
SLIPWAY=$PWD/build/slipway
work=$(mktemp -d /tmp/slipway-bench-repo.XXXXXX)
export GNUPGHOME=$work/gnupg
cleanup() { gpgconf --kill gpg-agent 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
export SOURCE_DATE_EPOCH=1767225600

now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$(now)"; }
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.1f}')" "$1" "$2"; }

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
t0=$(now); "$SLIPWAY" -q repo "$work/slip"; t_slip=$(elapsed "$t0")
t0=$(now); createrepo_c -q --workers 2 "$work/cr" >/dev/null; t_cr=$(elapsed "$t0")
t0=$(now); createrepo_c -q --workers 2 --no-database "$work/crnodb" >/dev/null; t_crnodb=$(elapsed "$t0")

# 2. Ten packages added.
for d in slip cr crnodb; do cp "$work"/p2/out/repo/Packages/*.rpm "$work/$d/"; done
sync
t0=$(now); "$SLIPWAY" -q repo "$work/slip"; u_slip=$(elapsed "$t0")
t0=$(now); createrepo_c -q --workers 2 --update "$work/cr" >/dev/null; u_cr=$(elapsed "$t0")
t0=$(now); createrepo_c -q --workers 2 --update --no-database "$work/crnodb" >/dev/null; u_crnodb=$(elapsed "$t0")

# 3. Signing, with keys made by gpg and used by both.
mkdir -p "$GNUPGHOME" && chmod 700 "$GNUPGHOME"
gpg -q --batch --pinentry-mode loopback --passphrase '' --quick-gen-key "Bench Ed <ed@example.com>" ed25519 sign never 2>/dev/null
gpg -q --batch --pinentry-mode loopback --passphrase '' --quick-gen-key "Bench RSA <rsa@example.com>" rsa4096 sign never 2>/dev/null
gpg -q --batch --pinentry-mode loopback --passphrase '' --export-secret-keys --armor "Bench Ed" > "$work/ed.asc"
gpg -q --batch --pinentry-mode loopback --passphrase '' --export-secret-keys --armor "Bench RSA" > "$work/rsa.asc"
sign_bench() { # name uid key
        mkdir -p "$work/s-$1" "$work/r-$1"
        cp "$work"/p1/out/repo/Packages/*.rpm "$work/s-$1/"
        cp "$work"/p1/out/repo/Packages/*.rpm "$work/r-$1/"
        local t0
        t0=$(now); "$SLIPWAY" -q -j2 sign --key "$3" "$work/s-$1"/*.rpm; eval "s_$1=$(elapsed "$t0")"
        t0=$(now)
        rpmsign --addsign --define '__gpg /usr/bin/gpg' --define "_gpg_name $2" "$work/r-$1"/*.rpm >/dev/null 2>&1
        eval "r_$1=$(elapsed "$t0")"
}
sign_bench ed "Bench Ed" "$work/ed.asc"
sign_bench rsa "Bench RSA" "$work/rsa.asc"

printf 'cold index:       slipway %6.2f s, createrepo_c --workers 2 %6.2f s (%sx), --no-database %6.2f s (%sx)\n' \
        "$t_slip" "$t_cr" "$(ratio "$t_cr" "$t_slip")" "$t_crnodb" "$(ratio "$t_crnodb" "$t_slip")"
printf 'add 10 packages:  slipway %6.2f s, createrepo_c --update    %6.2f s (%sx), --no-database %6.2f s (%sx)\n' \
        "$u_slip" "$u_cr" "$(ratio "$u_cr" "$u_slip")" "$u_crnodb" "$(ratio "$u_crnodb" "$u_slip")"
printf 'sign Ed25519:     slipway %6.2f s, rpmsign --addsign       %6.2f s (%sx)\n' "$s_ed" "$r_ed" "$(ratio "$r_ed" "$s_ed")"
printf 'sign RSA-4096:    slipway %6.2f s, rpmsign --addsign       %6.2f s (%sx)\n' "$s_rsa" "$r_rsa" "$(ratio "$r_rsa" "$s_rsa")"
