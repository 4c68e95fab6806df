#!/bin/sh
# make-tarball.sh DIR: writes DIR/libfeat-1.0.tar.gz, libfeatures.spec's
# Source0, from the committed directory libfeat-1.0/ next to this script.
# The tarball is not committed; the test makes it at test time (into a copy
# of this directory, or into this directory itself, where .gitignore keeps it
# out of git).
#
# Deterministic: the same bytes whatever the checkout's times, owners,
# umask or locale (entries sorted by name, mtime 0, owner and group 0,
# modes 0644/0755, GNU format, gzip without name or time).
set -eu

if [ "$#" -ne 1 ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
out=$1
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -d "$out" ]; then
	echo "$0: $out: not a directory" >&2
	exit 1
fi

tmp="$out/libfeat-1.0.tar.gz.tmp"
LC_ALL=C tar -C "$here" --sort=name --format=gnu --mtime=@0 \
	--owner=0 --group=0 --numeric-owner --mode='u=rwX,go=rX' \
	-cf - libfeat-1.0 | gzip -n -9 > "$tmp"
mv "$tmp" "$out/libfeat-1.0.tar.gz"
