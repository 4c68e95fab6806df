#!/bin/bash
# SPDX-License-Identifier: MIT
# One command for a fresh Debian 12 machine (as root): install every Debian
# package slipway and its tests need, build slipway into build/, and run its
# main job on the bundled example project.
#
#   scripts/setup.sh [--no-install]
set -euo pipefail
cd "$(dirname "$0")/.."

install=1
[ "${1:-}" = "--no-install" ] && install=0

if [ "$install" = 1 ]; then
        if [ "$(id -u)" != 0 ]; then
                echo "setup: installing Debian packages needs root (or pass --no-install)" >&2
                exit 1
        fi
        echo "setup: installing Debian packages"
        apt-get update -qq
        # Packages are installed, not started: openssh-server's postinst
        # would start sshd on this machine (policy-rc.d(8), as in containers).
        own_policy=0
        if [ ! -e /usr/sbin/policy-rc.d ]; then
                printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
                chmod 755 /usr/sbin/policy-rc.d
                own_policy=1
        fi
        # shellcheck disable=SC2046
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                $(grep -v '^#' scripts/debian-packages.txt | grep -v '^$') >/dev/null
        [ "$own_policy" = 0 ] || rm -f /usr/sbin/policy-rc.d
fi

echo "setup: building slipway"
if [ -d build ] && [ -f build/build.ninja ]; then
        meson setup --reconfigure build >/dev/null
else
        meson setup build >/dev/null
fi
ninja -C build

echo "setup: main job on examples/minimal"
build/slipway -C examples/minimal check
# The whole pipeline: every component (the kernel, busybox, systemd-boot and
# ISOLINUX repackaged from this machine's Debian packages, the rest from specs
# and native components), the repository, and every image: vm (raw, vhd, vhdx,
# qcow2), live (iso), container (oci), wsl and initrd (cpio).
build/slipway -C examples/minimal build
