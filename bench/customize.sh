#!/bin/bash
# SPDX-License-Identifier: MIT
# Customize benchmark (issue 15): the same edits to an existing disk image
# with `slipway customize` and with virt-customize (libguestfs, which boots an
# appliance VM), in the same run, median of RUNS (default 3):
#   - the hostname set to "slipbench";
#   - a user "bench" (uid and gid 1001) added, with its home directory;
#   - a file added, /etc/bench/motd.extra (0644);
#   - a package installed, bench-extra (a noarch RPM made here by rpmbuild,
#     one file), recorded in the image's rpm database.
# Then bench/convert.sh (the format conversion against qemu-img), if present.
#
# The input: IMAGE (default the example's out/images/vm.qcow2; the example
# is built in a copy under /tmp when it has not been built). Both tools get
# the same input and write a new qcow2 (virt-customize edits in place, so its
# figure includes copying the input first).
#
# What virt-customize can do with the example's image, and so what its side
# does (docs/notes/customize-bench.md says how this was established):
#   - libguestfs recognizes a Linux root only with a /bin (a directory or a
#     link to usr/bin); the example's root has /usr/bin alone, so the input
#     both tools get has a /bin -> usr/bin link added here (not timed);
#   - the guest has no shell, no rpm and no dnf, and libguestfs finds no
#     guest architecture (it reads it from programs in /bin), so
#     --run-command, --install and --hostname (unknown distribution: it warns
#     and sets nothing) do not work; the edits are made with --write,
#     --append-line, --mkdir, --chmod, --upload and --copy-in;
#   - virt-customize has no way to change an owner, so /home/bench stays
#     owned by root (slipway's side owns it as the user: one difference);
#   - the package: its payload is unpacked on the host (rpm2cpio) and copied
#     in, and the rpm database is copied out (virt-copy-out, a second
#     appliance boot), the package recorded in it by the host's rpm
#     (--justdb, no scriptlets) and uploaded back. All of that is timed.
# Without a usable KVM (here /dev/kvm is a paravirtual KVM that a stock
# kernel does not boot on: qemu aborts setting MSR 0x10a), libguestfs must be
# told LIBGUESTFS_BACKEND_SETTINGS=force_tcg: this script checks once (one
# appliance launch with KVM allowed, not timed) unless that variable is set.
# Needs build/slipway (or $SLIPWAY), libguestfs-tools (virt-customize,
# virt-copy-out, guestfish, virt-filesystems), rpm, rpmbuild, rpm2cpio,
# cpio, qemu-img.
#
#   bench/customize.sh [IMAGE]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
SLIPWAY=${SLIPWAY:-$PWD/build/slipway}
work=$(mktemp -d /tmp/slipway-bench-customize.XXXXXX)
trap 'rm -rf "$work"' EXIT
export SOURCE_DATE_EPOCH=1767225600
# shellcheck source=bench/common.sh
. bench/common.sh

image=${1:-}
if [ -z "$image" ]; then
        for f in examples/minimal/out/images/vm.qcow2 examples/minimal/out/images/vm.raw; do
                if [ -f "$f" ]; then image=$f; break; fi
        done
fi
if [ -z "$image" ]; then
        cp -r examples/minimal "$work/example"
        rm -rf "$work/example/out"
        "$SLIPWAY" -q -C "$work/example" build
        image=$work/example/out/images/vm.qcow2
fi
fmt=$(qemu-img info --output=json "$image" | python3 -c 'import json,sys; print(json.load(sys.stdin)["format"])')

# libguestfs: KVM when it works, else TCG.
if [ -z "${LIBGUESTFS_BACKEND_SETTINGS+set}" ]; then
        if ! timeout 300 guestfish -a /dev/null run >/dev/null 2>&1; then
                export LIBGUESTFS_BACKEND_SETTINGS=force_tcg
        fi
fi
accel=kvm
case ${LIBGUESTFS_BACKEND_SETTINGS:-} in *force_tcg*) accel="tcg (no usable KVM)" ;; esac

# The input of both: the image as qcow2, with /bin when it has none.
qemu-img convert -f "$fmt" -O qcow2 "$image" "$work/in.qcow2"
root=$(virt-filesystems -a "$work/in.qcow2" --filesystems --long --csv | python3 -c '
import csv, sys
rows = [r for r in csv.DictReader(sys.stdin) if r["VFS"] in ("ext4", "xfs", "ext3", "ext2", "btrfs")]
named = [r for r in rows if r["Label"] == "root"]
print((named or sorted(rows, key=lambda r: -int(r["Size"])))[0]["Name"])')
bin=$(guestfish --ro -a "$work/in.qcow2" run : mount "$root" / : exists /bin)
note=
if [ "$bin" = false ]; then
        guestfish -a "$work/in.qcow2" run : mount "$root" / : ln-s usr/bin /bin
        note=" (a /bin -> usr/bin link added to it: libguestfs finds no Linux root without /bin)"
fi

# The edits' inputs: the file and the package.
printf 'added by bench/customize.sh\n' > "$work/motd.extra"
mkdir -p "$work/rpm"
cat > "$work/rpm/bench-extra.spec" <<'EOF'
Name: bench-extra
Version: 1.0
Release: 1
Summary: the package bench/customize.sh installs
License: MIT
BuildArch: noarch
%description
One file, for the customize benchmark.
%install
mkdir -p %{buildroot}/usr/share/bench-extra
echo "installed by bench/customize.sh" > %{buildroot}/usr/share/bench-extra/README
%files
/usr/share/bench-extra/README
EOF
rpmbuild -bb --define "_topdir $work/rpm/top" "$work/rpm/bench-extra.spec" >/dev/null 2>&1
pkg=$work/rpm/top/RPMS/noarch/bench-extra-1.0-1.noarch.rpm
mkdir -p "$work/repo"
cp "$pkg" "$work/repo/"
createrepo_c -q "$work/repo" 2>/dev/null || true
DBPATH=/usr/lib/sysimage/rpm

# virt-customize's side: the whole edit of a copy of the input ($1 is the
# output). The days since 1970 in /etc/shadow are SOURCE_DATE_EPOCH's.
peer() {
        local out=$1 d=$work/peer-tmp
        rm -rf "$d" "$out"
        mkdir -p "$d/root/usr/lib/sysimage" "$d/payload"
        cp "$work/in.qcow2" "$out"
        virt-copy-out -a "$out" "$DBPATH" "$d/root/usr/lib/sysimage/"
        rpm -i --justdb --nodeps --noscripts --root "$d/root" --dbpath "$DBPATH" "$pkg" 2>/dev/null
        (cd "$d/payload" && rpm2cpio "$pkg" | cpio -idm --quiet)
        virt-customize -q -a "$out" \
                --write /etc/hostname:slipbench \
                --append-line '/etc/passwd:bench:x:1001:1001::/home/bench:/bin/sh' \
                --append-line '/etc/group:bench:x:1001:' \
                --append-line "/etc/shadow:bench:!:$((SOURCE_DATE_EPOCH / 86400))::::::" \
                --mkdir /home/bench --chmod 0700:/home/bench \
                --mkdir /etc/bench --upload "$work/motd.extra:/etc/bench/motd.extra" \
                --chmod 0644:/etc/bench/motd.extra \
                --copy-in "$d/payload/usr:/" \
                --upload "$d/root$DBPATH/rpmdb.sqlite:$DBPATH/rpmdb.sqlite"
}

# ---- slipway's side -------------------------------------------------------
# `slipway customize` with a configuration doing the same edits (docs/customize.md).
# Returns 2 when the command does not exist.
slipway_customize() { # output
        cat > "$work/customize.toml" <<EOF
hostname = "slipbench"
packages = ["bench-extra"]

[[users]]
name = "bench"
uid = 1001

[[files]]
source = "$work/motd.extra"
path = "/etc/bench/motd.extra"
mode = "0644"

[repos.bench]
url = "file://$work/repo"
gpgcheck = false
EOF
        rm -f "$1"
        local rc=0 msg
        msg=$("$SLIPWAY" -q customize --image-file "$work/in.qcow2" --config "$work/customize.toml" \
                --output-image-file "$1" --output-image-format qcow2 2>&1) || rc=$?
        if [ "$rc" -ne 0 ]; then
                case $rc:$msg in
                2:* | *"unknown verb"* | *"unknown command"*) return 2 ;;
                esac
                printf '%s\n' "$msg" >&2
                return 1
        fi
}
# ---------------------------------------------------------------------------

# What an output holds of the edits: one line a check, read back through
# libguestfs (for both outputs, so neither tool checks itself).
check() { # image
        local d=$work/check
        rm -rf "$d"
        mkdir -p "$d/root/usr/lib/sysimage"
        guestfish --ro -a "$1" run : mount "$root" / \
                : cat /etc/hostname : cat /etc/passwd : cat /etc/group \
                : stat /home/bench : cat /etc/bench/motd.extra : cat /usr/share/bench-extra/README \
                : copy-out "$DBPATH" "$d/root/usr/lib/sysimage" > "$d/out" 2>&1 || true
        grep -qx slipbench "$d/out" && echo "  hostname slipbench" || echo "  MISSING: hostname"
        grep -q '^bench:x:1001:1001:' "$d/out" && echo "  user bench in /etc/passwd" || echo "  MISSING: user bench"
        grep -qx 'bench:x:1001:' "$d/out" && echo "  group bench in /etc/group" || echo "  MISSING: group bench"
        grep -qx 'added by bench/customize.sh' "$d/out" && echo "  /etc/bench/motd.extra" || echo "  MISSING: the file"
        grep -qx 'installed by bench/customize.sh' "$d/out" && echo "  bench-extra's file" || echo "  MISSING: bench-extra's file"
        echo "  /home/bench owner uid $(sed -n 's/^uid: //p' "$d/out" | head -1)"
        rpm -q --root "$d/root" --dbpath "$DBPATH" bench-extra >/dev/null 2>&1 \
                && echo "  bench-extra in the rpm database" || echo "  MISSING: bench-extra in the rpm database"
}

echo "bench/customize.sh: $(basename "$image") ($fmt, $(($(stat -c %s "$image") >> 20)) MiB file), $(nproc) CPUs, $(virt-customize --version), libguestfs accel $accel, $(qemu-img --version | head -1)"
echo "  input of both: that image as qcow2$note"

ts_peer=() ts_slip=() have_slip=1
[ -x "$SLIPWAY" ] || have_slip=0
for _ in $(seq 1 "$RUNS"); do
        sync
        mark; peer "$work/peer.qcow2"; took t; ts_peer+=("$t")
        if [ "$have_slip" = 1 ]; then
                sync
                rc=0
                mark; slipway_customize "$work/slip.qcow2" || rc=$?; took t
                case $rc in
                0) ts_slip+=("$t") ;;
                2) have_slip=0 ;;
                *) echo "slipway customize failed" >&2; exit 1 ;;
                esac
        fi
done
tp=$(median "${ts_peer[@]}")
echo "virt-customize's output:"
check "$work/peer.qcow2"
printf 'customize (hostname, a user, a file, a package):  virt-customize (copy-out of the rpmdb + virt-customize) median %6.2f s of %s\n' \
        "$tp" "${ts_peer[*]}"
if [ "$have_slip" = 1 ]; then
        ts=$(median "${ts_slip[@]}")
        echo "slipway's output:"
        check "$work/slip.qcow2"
        printf 'customize:  slipway customize %6.2f s, virt-customize %6.2f s: %sx (goal >= 10x)\n' \
                "$ts" "$tp" "$(ratio "$tp" "$ts")"
else
        echo "customize:  slipway customize is not available ($SLIPWAY: no such program, or no customize verb): virt-customize's figures only"
fi

if [ -x bench/convert.sh ]; then
        bench/convert.sh
fi
