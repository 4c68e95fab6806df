# SPDX-License-Identifier: MIT
"""Debian packages installed on this machine, repackaged as slipway native
components.

Shared by tests/toolchain/make-repo.py (the buildroot tests' toolchain
repository) and examples/server/debian/import.py (the server example's
systemd, bash, OpenSSH and SELinux packages). It reads dpkg's database
(/var/lib/dpkg/status, info/*.list, the diversions and the alternatives),
takes the closure of a root set's Depends and Pre-Depends, and describes one
native component per Debian package whose files are the installed files
(documentation left out), with the shared objects' sonames and the .pc
files' pkgconfig() names as provides, as rpm's generators would make them.
What was left out or resolved is collected in `notes`.
"""
import os
import re
import stat
import struct
import subprocess

# Documentation is left out: the buildroot never reads it, and it is a good
# part of the size and the file count.
DROPPED_TREES = ("/usr/share/doc", "/usr/share/man", "/usr/share/info", "/usr/share/locale", "/usr/share/lintian")

# Merged /usr: the machine's /bin is a symbolic link to usr/bin and so on, and
# so is the repository's (the filesystem package). Packages list both spellings.
MERGED = {"/bin": "/usr/bin", "/sbin": "/usr/sbin", "/lib": "/usr/lib", "/lib64": "/usr/lib64"}

# Debian's architecture -> RPM's; the machine's own and "all" are taken.
NATIVE_ARCH = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                             check=True).stdout.strip()
DEB_ARCH = {NATIVE_ARCH: {"amd64": "x86_64", "arm64": "aarch64"}.get(NATIVE_ARCH, NATIVE_ARCH), "all": "noarch"}
MULTIARCH = os.uname().machine + "-linux-gnu"  # x86_64-linux-gnu, aarch64-linux-gnu
DPKG = "/var/lib/dpkg"


notes = []  # (kind, message)


def note(kind, msg):
    notes.append((kind, msg))


# ---- dpkg's database --------------------------------------------------------

def parse_status(path):
    """Installed packages of this architecture or 'all': name -> fields."""
    pkgs = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    for para in text.split("\n\n"):
        fields, key = {}, None
        for line in para.split("\n"):
            if not line:
                continue
            if line[0] in " \t" and key:
                fields[key] += "\n" + line
                continue
            key, _, val = line.partition(":")
            fields[key] = val.strip()
        if not fields.get("Package") or fields.get("Status", "").split()[-1:] != ["installed"]:
            continue
        if fields.get("Architecture") not in DEB_ARCH:
            continue
        pkgs[fields["Package"]] = fields
    return pkgs


def parse_relations(value):
    """'a | b (>= 1), c:any' -> [['a', 'b'], ['c']]."""
    groups = []
    for group in value.split(","):
        alts = []
        for alt in group.split("|"):
            m = re.match(r"\s*([a-z0-9][a-z0-9+.-]*)(?::[a-z0-9-]+)?\s*(?:\(\s*([<>=]+)\s*([^)\s]+)\s*\))?", alt)
            if m:
                alts.append((m.group(1), m.group(2), m.group(3)))
        if alts:
            groups.append(alts)
    return groups


def debian_provides(pkgs):
    """Virtual name -> sorted installed packages that provide it."""
    prov = {}
    for name, f in pkgs.items():
        for group in parse_relations(f.get("Provides", "")):
            for vname, _, _ in group:
                prov.setdefault(vname, set()).add(name)
    return {k: sorted(v) for k, v in prov.items()}


def closure(pkgs, roots):
    """The roots and everything they Depend or Pre-Depend on, breadth first.
    An alternative is the first one installed (a real package, else the
    provider of a virtual one); a virtual package is its first provider in
    the set already, else the first by name."""
    provides = debian_provides(pkgs)
    chosen, order, queue, requires = set(roots), list(roots), list(roots), {}

    def resolve(alts):
        for name, _, _ in alts:
            if name in pkgs:
                return name
            prov = provides.get(name, [])
            if prov:
                return next((p for p in prov if p in chosen), prov[0])
        return None

    while queue:
        name = queue.pop(0)
        deps = []
        for field in ("Pre-Depends", "Depends"):
            for alts in parse_relations(pkgs[name].get(field, "")):
                dep = resolve(alts)
                if dep is None:
                    alt = " | ".join(a[0] for a in alts)
                    note("unresolved dependency", f"{name}: {field} '{alt}' is not installed: dropped")
                    continue
                if dep != name and dep not in deps:
                    deps.append(dep)
                if dep not in chosen:
                    chosen.add(dep)
                    order.append(dep)
                    queue.append(dep)
        requires[name] = deps
    return order, requires


def list_file(name, fields):
    for cand in (f"{name}:{fields['Architecture']}.list", f"{name}.list"):
        path = os.path.join(DPKG, "info", cand)
        if os.path.exists(path):
            with open(path, "rb") as f:
                return [os.fsdecode(x) for x in f.read().split(b"\n") if x]
    note("no file list", f"{name}: no file list in {DPKG}/info")
    return []


def diversions():
    """Diverted path -> the package that diverted it (whose file is the one
    on disk at that path; other packages' copies live elsewhere)."""
    out = subprocess.run(["dpkg-divert", "--list"], capture_output=True, text=True, check=True).stdout
    div = {}
    for line in out.splitlines():
        m = re.match(r"(?:local )?diversion of (\S+) to (\S+)(?: by (\S+))?$", line)
        if m:
            div[canonical(m.group(1))] = m.group(3)
    return div


def alternatives():
    """(link path, current target) of every alternative and its slaves that
    is set: /usr/bin/awk -> /usr/bin/mawk. On Debian these links go through
    /etc/alternatives and belong to no package."""
    links = []
    base = os.path.join(DPKG, "alternatives")
    for name in sorted(os.listdir(base)):
        with open(os.path.join(base, name), encoding="utf-8", errors="replace") as f:
            lines = f.read().split("\n")
        if len(lines) < 2:
            continue
        group = [(name, lines[1])]
        i = 2
        while i + 1 < len(lines) and lines[i]:
            group.append((lines[i], lines[i + 1]))
            i += 2
        for gname, link in group:
            try:
                target = os.readlink(os.path.join("/etc/alternatives", gname))
                here = os.readlink(link)
            except OSError:
                continue
            if here == os.path.join("/etc/alternatives", gname):
                links.append((canonical(link), canonical(target)))
    return links


# ---- paths and versions -----------------------------------------------------

def canonical(path):
    for old, new in MERGED.items():
        if path == old or path.startswith(old + "/"):
            return new + path[len(old):]
    return path


def dropped(path):
    return any(path == t or path.startswith(t + "/") for t in DROPPED_TREES)


def rpm_part(s):
    """RPM's version and release take letters, digits and . _ + ~ ^ (slipway's
    check_version); Debian's '-' (in upstream versions) and ':' become '_'."""
    return re.sub(r"[^A-Za-z0-9._+~^]", "_", s) or "0"


def rpm_evr(debver, dist):
    """Debian [epoch:]upstream[-revision] -> (epoch or None, version, release)."""
    epoch = None
    m = re.match(r"(\d+):(.*)$", debver)
    if m:
        epoch, debver = int(m.group(1)), m.group(2)
    upstream, dash, revision = debver.rpartition("-")
    if not dash:
        upstream, revision = debver, "0"
    return epoch, rpm_part(upstream), rpm_part(revision) + dist


def evr_string(epoch, version, release):
    return (f"{epoch}:" if epoch is not None else "") + f"{version}-{release}"


# ---- what files provide -----------------------------------------------------

def elf_sonames(path):
    """rpm's elfdeps provides of a shared object: 'soname()(64bit)' and
    'soname(VERSION)(64bit)' for each version it defines. [] if it has no
    SONAME or is not little-endian ELF."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if len(head) < 52 or head[:4] != b"\x7fELF" or head[5] != 1:
                return []
            is64 = head[4] == 2
            if struct.unpack_from("<H", head, 16)[0] != 3:  # ET_DYN
                return []
            if is64:
                shoff, = struct.unpack_from("<Q", head, 0x28)
                shentsize, shnum = struct.unpack_from("<HH", head, 0x3A)
                shfmt, dynfmt = "<IIQQQQIIQQ", "<qQ"
            else:
                shoff, = struct.unpack_from("<I", head, 0x20)
                shentsize, shnum = struct.unpack_from("<HH", head, 0x2E)
                shfmt, dynfmt = "<IIIIIIIIII", "<iI"
            if not shoff or not shnum:
                return []
            f.seek(shoff)
            raw = f.read(shentsize * shnum)
            secs = [struct.unpack_from(shfmt, raw, i * shentsize) for i in range(shnum)]

            def read_sec(s):
                f.seek(s[4])
                return f.read(s[5])

            def cstr(buf, off):
                end = buf.find(b"\0", off)
                return buf[off:end].decode("ascii", "replace")

            soname, versions = None, []
            for s in secs:
                if s[1] == 6:  # SHT_DYNAMIC
                    data, strtab = read_sec(s), read_sec(secs[s[6]])
                    size = struct.calcsize(dynfmt)
                    for i in range(0, len(data) - size + 1, size):
                        tag, val = struct.unpack_from(dynfmt, data, i)
                        if tag == 0:
                            break
                        if tag == 14:  # DT_SONAME
                            soname = cstr(strtab, val)
                elif s[1] == 0x6FFFFFFD:  # SHT_GNU_verdef
                    data, strtab = read_sec(s), read_sec(secs[s[6]])
                    off = 0
                    for _ in range(s[7]):
                        _, flags, _, cnt, _, aux, nxt = struct.unpack_from("<HHHHIII", data, off)
                        if cnt and not flags & 1:  # not VER_FLG_BASE
                            versions.append(cstr(strtab, struct.unpack_from("<I", data, off + aux)[0]))
                        if not nxt:
                            break
                        off += nxt
    except (OSError, struct.error, IndexError):
        return []
    if not soname or not re.fullmatch(r"[!-~]+", soname):
        return []
    mark = "(64bit)" if is64 else ""
    return [f"{soname}(){mark}"] + [f"{soname}({v}){mark}" for v in versions if re.fullmatch(r"[!-~]+", v)]


def pc_provide(path):
    """'pkgconfig(NAME) = VERSION' for a .pc file, as rpm's pkgconfigdeps."""
    name = os.path.basename(path)[:-3]
    var, version = {}, None
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                m = re.match(r"\s*([A-Za-z0-9_.]+)\s*=\s*(.*?)\s*$", line)
                if m:
                    var[m.group(1)] = m.group(2)
                m = re.match(r"\s*Version\s*:\s*(.*?)\s*$", line)
                if m:
                    version = re.sub(r"\$\{(\w+)\}", lambda v: var.get(v.group(1), ""), m.group(1))
    except OSError:
        return None
    if version and re.fullmatch(r"[A-Za-z0-9._+~^]+", version):
        return f"pkgconfig({name}) = {version}"
    return f"pkgconfig({name})"


PC_DIRS = (f"/usr/lib/{MULTIARCH}/pkgconfig/", "/usr/lib/pkgconfig/", "/usr/share/pkgconfig/")


# ---- the generated project --------------------------------------------------

def toml_str(s):
    out = ['"']
    for c in s:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append({"\n": "\\n", "\t": "\\t"}.get(c, f"\\u{ord(c):04x}"))
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def toml_list(items):
    return "[" + ", ".join(toml_str(x) for x in items) + "]"


def write_if_changed(path, content):
    """Writes path unless it holds content already (keeping its mtime)."""
    data = content.encode("utf-8")
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return False
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return True


def stage_symlink(path, target):
    """A symbolic link in the staging tree, kept if it is already right."""
    try:
        if os.readlink(path) == target:
            return
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError:
        os.unlink(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.symlink(target, path)


def stage_dir(path, mode):
    os.makedirs(path, exist_ok=True)
    if stat.S_IMODE(os.lstat(path).st_mode) != mode:
        os.chmod(path, mode)


def license_of(name):
    """The licenses a machine-readable (DEP-5) copyright file names."""
    seen = []
    try:
        with open(f"/usr/share/doc/{name}/copyright", encoding="utf-8", errors="replace") as f:
            for line in f:
                m = re.match(r"License:\s*(\S.*?)\s*$", line)
                if m and m.group(1) not in seen:
                    seen.append(m.group(1))
    except OSError:
        pass
    text = " and ".join(seen[:6]) + (" and others" if len(seen) > 6 else "")
    return text or "see the Debian package's copyright file"


def description_of(fields):
    lines = fields.get("Description", "").split("\n")
    summary = lines[0].strip() or fields["Package"]
    body = []
    for line in lines[1:]:
        line = line[1:] if line.startswith(" ") else line
        body.append("" if line.strip() == "." else line)
    text = "\n".join(body).strip()
    origin = f"Repackaged from the Debian package {fields['Package']} {fields['Version']} ({fields['Architecture']})."
    return summary, (text + "\n\n" if text else "") + origin


def component_toml(name, c):
    out = [f"[components.{toml_str(name)}]"]
    if c.get("epoch") is not None:
        out.append(f"epoch = {c['epoch']}")
    for key in ("version", "release", "arch", "summary", "license"):
        out.append(f"{key} = {toml_str(c[key])}")
    if c.get("url"):
        out.append(f"url = {toml_str(c['url'])}")
    out.append(f"description = {toml_str(c['description'])}")
    for key in ("requires", "provides"):
        if c.get(key):
            out.append(f"{key} = {toml_list(c[key])}")
    if c["files"]:
        out.append("files = [")
        for f in c["files"]:
            extra = ", config = true" if f.get("config") else ""
            extra += f", mode = {toml_str(f['mode'])}" if f.get("mode") else ""
            out.append(f"  {{ source = {toml_str(f['source'])}, path = {toml_str(f['path'])}{extra} }},")
        out.append("]")
    return "\n".join(out) + "\n"


def repack(pkgs, names, deb_requires, stage, aliases, dist, sh_paths=("/usr/bin/sh",), skip=lambda n, path: False):
    """The native components (name -> dict) of the Debian packages `names`.
    `stage` is a directory for the symbolic links made here (/bin/sh, the
    alternatives); `aliases` maps a Debian name to extra provides (Fedora's
    names; a path or a name with '(' as it is, others at the package's
    version); `skip(name, path)` leaves a listed file out."""
    divs = diversions()
    owner = {}  # canonical path -> package
    files = {n: [] for n in names}
    n_doc = 0
    conffiles = set()
    for n in names:
        for line in pkgs[n].get("Conffiles", "").split("\n"):
            parts = line.split()
            if parts:
                conffiles.add(canonical(parts[0]))
    for n in names:
        for listed in list_file(n, pkgs[n]):
            path = canonical(listed)
            if dropped(path):
                n_doc += 1
                continue
            if skip(n, path):
                note("left out", f"{n}: {listed} left out by the caller")
                continue
            if path in sh_paths and n != "bash":
                note("/bin/sh is bash's", f"{n}: {listed} left out: /bin/sh is bash's")
                continue
            if path in divs and divs[path] != n:
                note("diverted", f"{n}: {listed} is diverted by {divs[path]}; that package's copy is kept")
                continue
            try:
                st = os.lstat(path)
            except OSError:
                note("listed but not on disk", f"{n}: {listed} does not exist on disk: left out")
                continue
            if stat.S_ISDIR(st.st_mode):
                continue  # directories are implied by what is in them
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
                note("not a file or link", f"{n}: {listed} is not a regular file or symbolic link: left out")
                continue
            if stat.S_ISLNK(st.st_mode) and not os.path.exists(path):
                # slipway follows a source to check that it exists.
                note("dangling symbolic link", f"{n}: {listed} -> {os.readlink(path)} points nowhere: left out")
                continue
            if os.path.realpath(os.path.dirname(path)) != os.path.dirname(path):
                note("below a linked directory",
                     f"{n}: {listed}: its directory is a symbolic link on this machine: left out")
                continue
            if path in owner:
                if owner[path] != n:
                    note("in two packages", f"{n}: {listed} is also in {owner[path]}, which keeps it")
                continue
            try:
                path.encode("utf-8")
            except UnicodeEncodeError:
                note("not UTF-8", f"{n}: {listed!r} is not UTF-8: left out")
                continue
            if stat.S_ISREG(st.st_mode) and not st.st_mode & stat.S_IROTH:
                note("unreadable to others",
                     f"{n}: {path} is not readable to others (mode {stat.S_IMODE(st.st_mode):04o})")
            if st.st_uid or st.st_gid:
                note("not owned by root",
                     f"{n}: {path} is owned by {st.st_uid}:{st.st_gid} here; packaged as root:root")
            owner[path] = n
            files[n].append({"source": path, "path": path, "config": path in conffiles, "st": st})

    # /bin/sh is bash, here as a relative link beside bash. (slipway checks
    # that a source exists by following it, so the staged link's target
    # exists in the staging tree too: a link to the host's bash.)
    if "bash" in files:
        sh = os.path.join(stage, "bash", "sh")
        stage_symlink(os.path.join(stage, "bash", "bash"), "/usr/bin/bash")
        stage_symlink(sh, "bash")
        for p in sh_paths:
            files["bash"].append({"source": sh, "path": p, "st": os.lstat(sh)})
            owner[p] = "bash"

    # Debian's alternatives (/usr/bin/awk, cc, lzma, which, ...) go through
    # /etc/alternatives and belong to no package: each becomes a direct link
    # in the package that owns its current target.
    for link, target in alternatives():
        pkg = owner.get(target)
        if not pkg or dropped(link):
            continue
        if link in owner:
            note("alternative owned already", f"alternative {link}: already in {owner[link]}")
            continue
        staged = os.path.join(stage, pkg) + link
        stage_symlink(staged, target)
        files[pkg].append({"source": staged, "path": link, "st": os.lstat(staged)})
        owner[link] = pkg
        note("alternative made a link", f"alternative {link} -> {target}: a symbolic link in {pkg}")

    # The components.
    comps = {}
    for n in names:
        f = pkgs[n]
        epoch, version, release = rpm_evr(f["Version"], dist)
        evr = evr_string(epoch, version, release)
        summary, description = description_of(f)
        provides = []
        for a in aliases.get(n, []):
            provides.append(a if a.startswith("/") or "(" in a else f"{a} = {evr}")
        for group in parse_relations(f.get("Provides", "")):
            for vname, op, ver in group:
                if vname == n or vname in aliases.get(n, []):
                    continue
                if op == "=" and ver:
                    e, v, r = rpm_evr(ver, dist)
                    provides.append(f"{vname} = {evr_string(e, v, r[:-len(dist)])}")
                else:
                    provides.append(vname)
        for x in files[n]:
            p = x["path"]
            if stat.S_ISREG(x["st"].st_mode):
                if p.endswith(".pc") and p.startswith(PC_DIRS):
                    provides.append(pc_provide(p))
                elif ".so" in os.path.basename(p):
                    provides.extend(elf_sonames(p))
        provides = sorted(set(provides))
        requires = ["filesystem"] + [d for d in deb_requires[n] if d != "filesystem"]
        for x in files[n]:
            x.pop("st")
        comps[n] = {
            "epoch": epoch, "version": version, "release": release, "arch": DEB_ARCH[f["Architecture"]],
            "summary": summary, "description": description, "license": license_of(n),
            "url": f.get("Homepage", ""), "requires": requires, "provides": provides,
            "files": sorted(files[n], key=lambda x: x["path"]),
        }
    return comps, owner, n_doc
