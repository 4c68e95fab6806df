# SPDX-License-Identifier: MIT
# What the benchmarks share (sourced): a clock without forks, ratio and
# median, and the generator of N interdependent native components.

# Bash's own clock in microseconds: reading it starts no process, so a
# measured interval holds the tool's run and nothing else (a `date` or a
# command substitution would add a fork to both sides).
mark() { t0=${EPOCHREALTIME//[!0-9]/}; }
took() { # variable: set to the seconds since mark
        local t1=${EPOCHREALTIME//[!0-9]/}
        local us=$((t1 - t0))
        printf -v "$1" '%d.%06d' $((us / 1000000)) $((us % 1000000))
}
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.1f}')" "$1" "$2"; }
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }

# N native components bench-1..bench-N for the host's architecture. bench-i
# requires bench-(i/2) and bench-(i-1) >= 1.0 (a DAG) and, for i >= 3,
# libbench-(i/3).so()(64bit), which bench-(i/3) provides. Each ships 5 to 20
# files of 1 KiB to 200 KiB (log-uniform, half random bytes and half text):
# programs in /usr/bin (0755), a library in /usr/lib/bench, a README in
# /usr/share/doc, a configuration file in /etc for every tenth, data in
# /usr/share. Deterministic (seeded by i). Prints the number of files.
# With "post" as third argument, every package also has a %post (a /bin/sh
# body writing a state file, as packages record their setup), and a busybox
# package from the build host's busybox-static gives /bin/sh and
# /var/lib/bench.
gen() { # dir n [post]
        python3 - "$1" "$2" "${3:-}" <<'PY'
import os, random, shutil, sys
d, n, post = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "post"
os.makedirs(f"{d}/components")
with open(f"{d}/slipway.toml", "w") as f:
        f.write('[project]\nname = "bench"\nversion = "1"\nsource-date-epoch = 1767225600\n'
                'includes = ["components/*.toml"]\n\n[images.all]\nformats = ["tar"]\npackages = [\n')
        f.write("".join(f'  "bench-{i}",\n' for i in range(1, n + 1)))
        f.write("]\n")
if post:
        os.makedirs(f"{d}/files/busybox/bin")
        os.makedirs(f"{d}/files/busybox/var/lib/bench")
        shutil.copy2("/bin/busybox", f"{d}/files/busybox/bin/busybox")
        os.symlink("busybox", f"{d}/files/busybox/bin/sh")
        with open(f"{d}/components/busybox.toml", "w") as f:
                f.write('[components.busybox]\nversion = "1.0"\nsummary = "busybox-static of the build host"\n'
                        'license = "GPL-2.0-only"\nprovides = ["/bin/sh"]\n'
                        '[[components.busybox.files]]\nsource = "files/busybox/bin"\npath = "/bin"\n'
                        '[[components.busybox.files]]\nsource = "files/busybox/var"\npath = "/var"\n')
with open(f"{d}/packages.list", "w") as f:
        f.write("".join(f'  "bench-{i}",\n' for i in range(1, n + 1)))
total = 0
for i in range(1, n + 1):
        rng = random.Random(i)
        name = f"bench-{i}"
        req = []
        if i > 1:
                req.append(f"bench-{i // 2}")
                if i - 1 != i // 2:
                        req.append(f"bench-{i - 1} >= 1.0")
        if i >= 3:
                req.append(f"libbench-{i // 3}.so()(64bit)")
        nfiles = rng.randint(5, 20)
        paths = [(f"/usr/bin/{name}", "0755", False), (f"/usr/lib/bench/libbench-{i}.so.1", "0755", False),
                 (f"/usr/share/doc/{name}/README", "0644", False)]
        if i % 3 == 0:
                paths.append((f"/usr/bin/{name}-helper", "0755", False))
        if i % 10 == 0:
                paths.append((f"/etc/bench/{name}.conf", "0644", True))
        k = 0
        while len(paths) < nfiles:
                paths.append((f"/usr/share/{name}/data-{k}.dat", "0644", False))
                k += 1
        os.makedirs(f"{d}/files/{name}")
        toml = [f'[components.{name}]\nversion = "1.0"\nsummary = "benchmark package {i}"\nlicense = "MIT"\n'
                f'requires = [{", ".join(repr(r).replace(chr(39), chr(34)) for r in req)}]\n'
                f'provides = ["libbench-{i}.so()(64bit)"]\n']
        if post:
                toml.append(f'[components.{name}.scripts]\n'
                            f'post = "echo \\"{name} installed ($1)\\" > /var/lib/bench/{name}.state"\n')
        for j, (path, mode, config) in enumerate(paths):
                size = int(1024 * 200 ** rng.random())
                text = f"{path}: line of text {j} in package {i}\n".encode()
                out = bytearray()
                while len(out) < size:
                        out += rng.randbytes(256)
                        out += (text * (256 // len(text) + 1))[:256]
                src = f"files/{name}/{j}"
                with open(f"{d}/{src}", "wb") as f:
                        f.write(out[:size])
                os.chmod(f"{d}/{src}", int(mode, 8))
                toml.append(f'[[components.{name}.files]]\nsource = "{src}"\npath = "{path}"\nmode = "{mode}"\n'
                            + ("config = true\n" if config else ""))
        total += len(paths)
        with open(f"{d}/components/{name}.toml", "w") as f:
                f.write("".join(toml))
print(total)
PY
}
