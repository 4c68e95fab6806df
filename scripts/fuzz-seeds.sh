#!/bin/sh
# SPDX-License-Identifier: MIT
# Seed corpora for the fuzz targets from what the pipeline really produces:
# every example project is packaged, its packages signed (with the example's
# key, or one made here) and indexed with a signed repository, and the
# outputs are sorted by kind into DIR/KIND/ (one file each, small ones only:
# a huge input slows a fuzzer down):
#   toml/     the project files of the examples and of tests/golden/check
#   rpm/      packages, unsigned and signed (native and rpmbuild-made)
#   xml/      repomd.xml, primary, filelists, other (uncompressed)
#   archive/  tar.gz and newc cpio of a repository tree
#   pgp/      keys (armored and binary, public and secret, EdDSA and RSA),
#             detached signatures (repomd.xml.asc, binary) and RPM header
#             signatures (the RSAHEADER/DSAHEADER bytes)
# Usage: scripts/fuzz-seeds.sh SLIPWAY DIR
set -u
slipway=$1
out=$2
mkdir -p "$out/toml" "$out/rpm" "$out/xml" "$out/archive" "$out/pgp"
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT

n=0
for ex in examples/*/; do
        [ -f "$ex/slipway.toml" ] || continue
        n=$((n + 1))
        o="$w/out$n"
        "$slipway" -q --out "$o" -C "$ex" package >/dev/null 2>&1 || continue
        for f in $(find "$o" -name '*.rpm' -size -1024k); do
                cp "$f" "$out/rpm/$n-unsigned-$(basename "$f")"
        done
        # The example's signing key if it has one, else one made here.
        key=$(sed -n 's/^key *= *"\(.*\)"/\1/p' "$ex/slipway.toml" | head -1)
        if [ -n "$key" ] && [ -f "$ex/$key" ]; then
                key="$ex/$key"
        else
                "$slipway" -q keygen --uid "Seed <seed@example.com>" -o "$w/key$n" >/dev/null 2>&1
                key="$w/key$n.asc"
        fi
        "$slipway" -q keygen --uid "Seed RSA <rsa@example.com>" --algo rsa3072 -o "$w/rsa$n" >/dev/null 2>&1
        for k in "$key" "${key%.asc}.pub.asc" "$w/rsa$n.asc" "$w/rsa$n.pub.asc"; do
                [ -f "$k" ] || continue
                cp "$k" "$out/pgp/$n-$(basename "$k")"
                gpg --dearmor < "$k" > "$out/pgp/$n-$(basename "$k" .asc).gpg" 2>/dev/null
        done
        mkdir -p "$w/signed$n"
        find "$o" -name '*.rpm' -size -1024k -exec cp {} "$w/signed$n/" \; 2>/dev/null
        "$slipway" -q sign --key "$key" "$w/signed$n"/*.rpm >/dev/null 2>&1
        for f in "$w/signed$n"/*.rpm; do
                [ -f "$f" ] && cp "$f" "$out/rpm/$n-signed-$(basename "$f")"
        done
        "$slipway" -q repo --key "$key" --compress gzip "$w/signed$n" >/dev/null 2>&1
        for f in "$w/signed$n"/repodata/*.xml.gz; do
                [ -f "$f" ] && zcat "$f" > "$out/xml/$n-$(basename "$f" .gz)"
        done
        cp "$w/signed$n/repodata/repomd.xml" "$out/xml/$n-repomd.xml" 2>/dev/null
        cp "$w/signed$n/repodata/repomd.xml.asc" "$out/pgp/$n-repomd.xml.asc" 2>/dev/null
        gpg --dearmor < "$w/signed$n/repodata/repomd.xml.asc" > "$out/pgp/$n-repomd.xml.sig" 2>/dev/null
        # The header signatures of the signed packages, as the RPM holds them.
        python3 - "$out/pgp" "$n" "$w/signed$n"/*.rpm <<'PY'
import os, struct, sys
dest, n = sys.argv[1], sys.argv[2]
for i, path in enumerate(sys.argv[3:]):
    b = open(path, "rb").read()
    if len(b) < 112:
        continue
    il, dl = struct.unpack(">II", b[104:112])
    store = 112 + 16 * il
    for k in range(il):
        tag, _, off, cnt = struct.unpack(">IIiI", b[112 + 16 * k:128 + 16 * k])
        if tag in (267, 268) and 0 <= off and store + off + cnt <= len(b):
            open(os.path.join(dest, f"{n}-{i}-{tag}.sig"), "wb").write(b[store + off:store + off + cnt])
PY
        # Archives of the repository's metadata and its smallest packages.
        mkdir -p "$w/arch$n"
        cp -r "$w/signed$n/repodata" "$w/arch$n/"
        for f in $(ls -S "$w/signed$n"/*.rpm 2>/dev/null | tail -3); do cp "$f" "$w/arch$n/"; done
        tar -C "$w/arch$n" -czf "$out/archive/$n-repo.tar.gz" . 2>/dev/null
        (cd "$w/arch$n" && find . | cpio --quiet -o -H newc) > "$out/archive/$n-repo.cpio" 2>/dev/null
        find "$ex" -name '*.toml' -size -64k -exec cp {} "$out/toml/" \; 2>/dev/null
done
for f in $(find tests/golden/check -name '*.toml' -size -64k 2>/dev/null); do
        cp "$f" "$out/toml/$(echo "$f" | md5sum | cut -c1-16).toml"
done
# Nothing too large for a fuzzer's input.
find "$out" -type f -size +1024k -delete
