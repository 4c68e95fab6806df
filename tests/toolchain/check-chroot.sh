#!/bin/sh
# SPDX-License-Identifier: MIT
# Checks a repository that make-repo.py wrote, with the real tools and as
# root: installs every package into a new root with rpm (signatures and
# dependencies checked, scriptlets off: the packages have none), then in a
# chroot runs gcc and rpmbuild, compiles and links a program against zlib
# (dynamically and statically), and builds a spec with rpmbuild -bb (in a
# private mount namespace with /dev and /proc, gone when it ends). The RPM
# built there is then installed into the root as well, so its automatic
# requires (libc.so.6(GLIBC_2.34)(64bit), libz.so.1()(64bit), rtld(GNU_HASH))
# must be provided by the repository.
#
#   tests/toolchain/check-chroot.sh REPO     (REPO: OUTDIR/out/repo)
# The sh -c scripts below take their arguments as $1, $2: single quotes on purpose.
# shellcheck disable=SC2016
set -eu
[ $# -eq 1 ] || { echo "usage: $0 REPO" >&2; exit 2; }
repo=$(cd "$1" && pwd)
root=$(mktemp -d /tmp/toolchain-root.XXXXXX)
trap 'rm -rf "$root"' EXIT
trap 'exit 1' HUP INT PIPE TERM
fail=0
pass=0
check() {
        name=$1
        shift
        if out=$("$@" 2>&1); then
                pass=$((pass + 1))
                echo "ok   $name: $(printf '%s\n' "$out" | tail -n 1)"
        else
                fail=$((fail + 1))
                echo "FAIL $name:"
                printf '%s\n' "$out" | tail -n 20 | sed 's/^/    /'
        fi
}
# Debian's rpm keeps its database in ~/.rpmdb: HOME=/root outside and inside.
export HOME=/root
rpm --root "$root" --initdb
rpmkeys --root "$root" --import "$repo"/RPM-GPG-KEY-*
# --force-debian: Debian's rpm otherwise warns that it is not dpkg.
check "install every package" sh -c 'rpm --root "$1" -i --force-debian --noscripts "$2"/Packages/*.rpm &&
        echo "$(rpm --root "$1" -qa | grep -vc ^gpg-pubkey) packages installed"' sh "$root" "$repo"
check "gcc --version" chroot "$root" /usr/bin/gcc --version
check "rpmbuild --version" chroot "$root" /usr/bin/rpmbuild --version
check "/bin/sh is bash" chroot "$root" /bin/sh -c 'test -n "$BASH_VERSION" && readlink /usr/bin/sh'

mkdir -p "$root/tmp/src"
cat > "$root/tmp/src/hello.c" <<'EOF'
#include <stdio.h>
#include <zlib.h>
int main(void) {
        printf("hello, zlib %s\n", zlibVersion());
        return 0;
}
EOF
check "cc, dynamic" chroot "$root" sh -c 'cd /tmp/src &&
        cc -O2 -o hello hello.c $(pkg-config --libs zlib) && ./hello && ldd ./hello | grep -q libz.so.1'
check "gcc -static" chroot "$root" sh -c 'cd /tmp/src &&
        gcc -static -o hello-static hello.c -lz && ./hello-static && ! ldd ./hello-static >/dev/null 2>&1'

cp "$root/tmp/src/hello.c" "$root/tmp/src/hello.spec.c"
cat > "$root/tmp/src/hello.spec" <<'EOF'
Name: hello
Version: 1.0
Release: 1
Summary: A program that says hello
License: MIT
Source0: hello.spec.c
BuildRequires: gcc, make, glibc-devel, glibc-static, zlib-devel, pkgconfig(zlib), rpm-build, /bin/sh, awk

%description
A program that says hello, linked with zlib.

%prep
%setup -c -T
cp %{SOURCE0} hello.c

%build
gcc %{optflags} -o hello hello.c $(pkg-config --libs zlib)
gcc %{optflags} -static -o hello-static hello.c -lz
./hello
./hello-static

%install
install -D -m 0755 hello %{buildroot}%{_bindir}/hello
install -D -m 0755 hello-static %{buildroot}%{_bindir}/hello-static

%files
%{_bindir}/hello
%{_bindir}/hello-static
EOF
check "rpmbuild -bb" unshare -m sh -c '
        mount --rbind /dev "$1/dev" && mount -t proc proc "$1/proc" &&
        chroot "$1" env -i PATH=/usr/bin:/usr/sbin HOME=/root rpmbuild -bb \
                --define "_topdir /tmp/rpmbuild" --define "_sourcedir /tmp/src" /tmp/src/hello.spec' sh "$root"
built="$root/tmp/rpmbuild/RPMS/x86_64/hello-1.0-1.x86_64.rpm"
check "the built RPM requires libz.so.1()(64bit)" \
        sh -c 'rpm -qp --requires "$1" | grep -Fx "libz.so.1()(64bit)"' sh "$built"
check "the built RPM installs (its requires are provided)" sh -c 'rpm --root "$1" -i --force-debian "$2" &&
        rpm --root "$1" -q hello' sh "$root" "$built"
check "it runs" chroot "$root" /usr/bin/hello
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
