# SPDX-License-Identifier: MIT
"""A checker of .wsl files (WSL distributions as WSL 2.4.4 and later install
them) against Microsoft's documentation of the format:

  "Build a Custom Linux Distribution for WSL"
      https://learn.microsoft.com/windows/wsl/build-custom-distro
      (the tar, /etc/wsl-distribution.conf, the configuration file and
      systemd recommendations)
  "Advanced settings configuration in WSL"
      https://learn.microsoft.com/windows/wsl/wsl-config (/etc/wsl.conf)
  microsoft/WSL-DistroLauncher, DistributionInfo.h (the older launcher the
      first page points to): a distribution's name is letters, digits, '.',
      '_' and '-'.

Usage: check_wsl(path) -> list of problems (strings); [] when the file
follows the documents. Nothing is extracted to disk."""
import gzip
import io
import json
import posixpath
import re
import tarfile

# [section] -> {key (lower case): type}; types: "bool", "int", "str".
DISTRIBUTION_CONF = {
    "oobe": {"command": "str", "defaultuid": "int", "defaultname": "str"},
    "shortcut": {"enabled": "bool", "icon": "str"},
    "windowsterminal": {"enabled": "bool", "profiletemplate": "str"},
}
WSL_CONF = {
    "automount": {"enabled": "bool", "mountfstab": "bool", "root": "str", "options": "str"},
    "network": {"generatehosts": "bool", "generateresolvconf": "bool", "hostname": "str"},
    "interop": {"enabled": "bool", "appendwindowspath": "bool"},
    "user": {"default": "str"},
    "boot": {"systemd": "bool", "command": "str", "protectbinfmt": "bool"},
    "gpu": {"enabled": "bool"},
    "time": {"usewindowstimezone": "bool"},
}
# "Systemd recommendations": units that cause problems in WSL, to be
# disabled or masked when systemd runs.
TROUBLESOME_UNITS = [
    "systemd-resolved.service", "systemd-networkd.service", "NetworkManager.service",
    "systemd-tmpfiles-setup.service", "systemd-tmpfiles-clean.service", "systemd-tmpfiles-clean.timer",
    "systemd-tmpfiles-setup-dev-early.service", "systemd-tmpfiles-setup-dev.service", "tmp.mount",
]
NAME_RE = re.compile(r"^[A-Za-z0-9._-]+$")
ICON_MAX = 10 * 1024 * 1024


class _Root:
    """The tar's members by absolute path, with symlinks resolved inside it."""

    def __init__(self, tar):
        self.tar = tar
        self.members = {}
        for m in tar.getmembers():
            self.members[_abspath(m.name)] = m

    def resolve(self, path, depth=0):
        """The member a path names, symlinks followed (in every component), or None."""
        if depth > 40:
            return None
        parts = [p for p in path.split("/") if p]
        cur = "/"
        for i, part in enumerate(parts):
            nxt = posixpath.normpath(posixpath.join(cur, part))
            m = self.members.get(nxt)
            if m is None:
                return None
            if m.issym():
                target = m.linkname if m.linkname.startswith("/") else posixpath.join(cur, m.linkname)
                rest = "/".join(parts[i + 1:])
                return self.resolve(posixpath.normpath(target) + ("/" + rest if rest else ""), depth + 1)
            cur = nxt
        return self.members.get(cur) if cur != "/" else self.members.get("/")

    def read(self, path):
        m = self.resolve(path)
        if m is None or not (m.isfile() or m.islnk()):
            return None
        f = self.tar.extractfile(m)
        return f.read() if f else None


def _abspath(name):
    """A member name as an absolute path: "./etc/x" and "etc/x" -> "/etc/x", "." and "./" -> "/"."""
    n = name[2:] if name.startswith("./") else name
    if n in (".", ""):
        return "/"
    return posixpath.normpath("/" + n)


def _parse_ini(text, schema, what, problems):
    """{section: {key: value}} of a WSL configuration file, each line checked
    against schema; what names the file in problems."""
    out = {}
    section = None
    for no, raw in enumerate(text.split("\n"), 1):
        line = raw.strip()
        if not line or line.startswith("#") or line.startswith(";"):
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                problems.append(f"{what}:{no}: malformed section header '{line}'")
                continue
            section = line[1:-1].strip()
            if section.lower() not in schema:
                problems.append(f"{what}:{no}: unknown section [{section}] (known: {', '.join(schema)})")
            out.setdefault(section.lower(), {})
            continue
        if "=" not in line:
            problems.append(f"{what}:{no}: not 'key = value': '{line}'")
            continue
        key, value = (s.strip() for s in line.split("=", 1))
        if section is None:
            problems.append(f"{what}:{no}: key '{key}' outside any section")
            continue
        keys = schema.get(section.lower())
        if keys is None:
            continue
        kind = keys.get(key.lower())
        if kind is None:
            problems.append(f"{what}:{no}: unknown key '{key}' in [{section}] (known: {', '.join(keys)})")
            continue
        if key.lower() in out[section.lower()]:
            problems.append(f"{what}:{no}: key '{key}' of [{section}] given twice")
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if kind == "bool" and value not in ("true", "false"):
            problems.append(f"{what}:{no}: {section}.{key} = '{value}' is not a boolean (true or false)")
        elif kind == "int" and not re.fullmatch(r"[0-9]+", value):
            problems.append(f"{what}:{no}: {section}.{key} = '{value}' is not an integer")
        elif kind == "str" and value == "":
            problems.append(f"{what}:{no}: {section}.{key} is empty")
        out[section.lower()][key.lower()] = value
    return out


def _passwd(root):
    """[(name, uid, gid, home, shell)] of /etc/passwd."""
    data = root.read("/etc/passwd")
    users = []
    for line in (data or b"").decode("utf-8", "replace").splitlines():
        f = line.split(":")
        if len(f) >= 7 and f[2].isdigit():
            users.append((f[0], int(f[2]), f[3], f[5], f[6]))
    return users


def _check_user(root, user, what, problems):
    name, uid, _, home, shell = user
    sm = root.resolve(shell) if shell else None
    if sm is None or not (sm.isfile() or sm.islnk()) or not sm.mode & 0o111:
        problems.append(f"{what}: user '{name}' (uid {uid}) has the shell '{shell}', which is not a program in the tar")
    hm = root.resolve(home) if home else None
    if hm is None or not hm.isdir():
        problems.append(f"{what}: user '{name}' (uid {uid}) has the home '{home}', which is not a directory in the tar")


def _enabled_links(root, unit):
    """Paths of /etc/systemd/{system,user}/*.wants|*.requires/UNIT links."""
    out = []
    for p, m in root.members.items():
        d, base = posixpath.split(p)
        if base == unit and m.issym() and re.fullmatch(r"/etc/systemd/(system|user)/[^/]+\.(wants|requires)", d):
            out.append(p)
    return out


def check_wsl(path):
    problems = []
    with open(path, "rb") as f:
        data = f.read()
    # The tar: gzip ("Create the tar file": other compressions risk older WSL versions).
    if data[:2] != b"\x1f\x8b":
        return [f"{path}: not gzip-compressed (WSL's recommended format is a gzip'd tar)"]
    try:
        tar = tarfile.open(fileobj=io.BytesIO(gzip.decompress(data)), mode="r:")
        members = tar.getmembers()
    except (OSError, EOFError, tarfile.TarError) as e:
        return [f"{path}: not a gzip'd tar: {e}"]
    root = _Root(tar)

    # Names: the tar's root is the file system's root, nothing leaves it.
    for m in members:
        n = m.name[2:] if m.name.startswith("./") else m.name
        if m.name.startswith("/"):
            problems.append(f"member '{m.name}': an absolute name")
        if ".." in n.split("/"):
            problems.append(f"member '{m.name}': a '..' component")
        if m.uname or m.gname:
            problems.append(f"member '{m.name}': owner names '{m.uname}:{m.gname}' (numeric owners expected, "
                            f"as tar --numeric-owner writes)")
    for top in ("etc", "usr"):
        m = root.members.get("/" + top)
        if m is None or not (m.isdir() or m.issym()):
            problems.append(f"no /{top} at the tar's root: the root of the tar must be the root of the file system")
    rm = root.members.get("/")
    if rm is not None and (not rm.isdir() or rm.uid != 0 or rm.gid != 0 or rm.mode & 0o7777 != 0o755):
        problems.append(f"the root directory entry '{rm.name}' is not a directory 0755 root:root "
                        f"({oct(rm.mode)} {rm.uid}:{rm.gid})")
    for p in root.members:
        parent = posixpath.dirname(p)
        if p != "/" and parent != "/" and parent not in root.members:
            problems.append(f"'{p}': its parent directory is not in the tar")

    # "Configuration file recommendations".
    confs = {}
    for conf, schema in (("/etc/wsl.conf", WSL_CONF), ("/etc/wsl-distribution.conf", DISTRIBUTION_CONF)):
        m = root.members.get(conf)
        if m is None:
            problems.append(f"no {conf}")
            confs[conf] = {}
            continue
        if not m.isfile() or m.mode & 0o7777 != 0o644 or m.uid != 0 or m.gid != 0:
            problems.append(f"{conf}: not a regular file 0644 root:root ({oct(m.mode & 0o7777)} {m.uid}:{m.gid})")
        text = (root.read(conf) or b"").decode("utf-8", "replace")
        confs[conf] = _parse_ini(text, schema, conf, problems)
    wsl, dist = confs["/etc/wsl.conf"], confs["/etc/wsl-distribution.conf"]

    if "/etc/resolv.conf" in root.members:
        problems.append("/etc/resolv.conf is in the tar (WSL generates it)")
    users = _passwd(root)
    if not any(u[0] == "root" and u[1] == 0 for u in users):
        problems.append("/etc/passwd has no root user of uid 0")
    shadow = root.read("/etc/shadow")
    for line in (shadow or b"").decode("utf-8", "replace").splitlines():
        f = line.split(":")
        if len(f) >= 2 and f[1].strip("!*") != "":
            problems.append(f"/etc/shadow: user '{f[0]}' has a password hash")
    for p, m in root.members.items():
        base = posixpath.basename(p)
        if (p.startswith("/boot/") and (base.startswith("vmlinuz") or base.startswith("initr"))) or \
                (re.fullmatch(r"/usr/lib/modules/[^/]+/[^/]+", p) and (base == "vmlinuz" or base.startswith("initr"))):
            problems.append(f"'{p}': a kernel or initramfs (WSL boots its own)")

    # [oobe].
    oobe = dist.get("oobe", {})
    name = oobe.get("defaultname")
    if name is None:
        problems.append("/etc/wsl-distribution.conf: no oobe.defaultName (double-click install needs it)")
    elif not NAME_RE.match(name):
        problems.append(f"/etc/wsl-distribution.conf: oobe.defaultName '{name}' is not letters, digits, '.', '_', '-'")
    uid_user = None
    if "defaultuid" in oobe and oobe["defaultuid"].isdigit():
        uid = int(oobe["defaultuid"])
        match = [u for u in users if u[1] == uid]
        if not match and "command" not in oobe:
            problems.append(f"/etc/wsl-distribution.conf: oobe.defaultUid {uid} is no user of /etc/passwd "
                            f"(and no oobe.command makes one)")
        elif match:
            uid_user = match[0]
            _check_user(root, uid_user, "/etc/wsl-distribution.conf: oobe.defaultUid", problems)
    if "command" in oobe:
        prog = oobe["command"].split()[0]
        pm = root.resolve(prog)
        if pm is None or not pm.mode & 0o111:
            problems.append(f"/etc/wsl-distribution.conf: oobe.command '{prog}' is not a program in the tar")

    # [shortcut] and [windowsterminal].
    icon = dist.get("shortcut", {}).get("icon")
    if icon is not None:
        im = root.resolve(icon)
        if not icon.lower().endswith(".ico"):
            problems.append(f"/etc/wsl-distribution.conf: shortcut.icon '{icon}' is not an .ico file")
        if im is None or not im.isfile():
            problems.append(f"/etc/wsl-distribution.conf: shortcut.icon '{icon}' is not in the tar")
        elif im.size > ICON_MAX:
            problems.append(f"/etc/wsl-distribution.conf: shortcut.icon '{icon}' is over 10 MB")
    template = dist.get("windowsterminal", {}).get("profiletemplate")
    if template is not None:
        raw = root.read(template)
        if raw is None:
            problems.append(f"/etc/wsl-distribution.conf: windowsterminal.profileTemplate '{template}' is not in the tar")
        else:
            try:
                json.loads(raw)
            except ValueError as e:
                problems.append(f"/etc/wsl-distribution.conf: windowsterminal.profileTemplate '{template}' is not JSON: {e}")

    # wsl.conf: [user] default, [boot] systemd.
    default = wsl.get("user", {}).get("default")
    if default is not None:
        match = [u for u in users if u[0] == default]
        if not match:
            problems.append(f"/etc/wsl.conf: user.default '{default}' is no user of /etc/passwd")
        else:
            _check_user(root, match[0], "/etc/wsl.conf: user.default", problems)
            if uid_user is not None and uid_user[0] != default:
                problems.append(f"/etc/wsl.conf: user.default '{default}' is not oobe.defaultUid's user "
                                f"'{uid_user[0]}'")
    systemd = wsl.get("boot", {}).get("systemd")
    if systemd == "true":
        sm = root.resolve("/usr/lib/systemd/systemd")
        if sm is None or not sm.isfile():
            problems.append("/etc/wsl.conf: boot.systemd = true, but there is no /usr/lib/systemd/systemd")
        for unit in TROUBLESOME_UNITS:
            for kind in ("system", "user"):
                if root.resolve(f"/usr/lib/systemd/{kind}/{unit}") is None:
                    continue
                mask = root.members.get(f"/etc/systemd/{kind}/{unit}")
                masked = mask is not None and mask.issym() and mask.linkname == "/dev/null"
                links = _enabled_links(root, unit)
                if not masked and links:
                    problems.append(f"{kind} unit {unit} is enabled ({links[0]}); WSL wants it masked or disabled")
    return problems
