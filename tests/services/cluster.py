#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A real one-node Slurm cluster and a WebDAV-writable nginx on 127.0.0.1,
for the tests and benchmarks of builds run as Slurm jobs (issue 17).

Everything lives under one base directory: configurations, the munge key and
socket, Slurm's state and spool, logs, pid files and the cache nginx serves.
Nothing is written to /etc, /run or /var, and no daemon goes through systemd:
each runs in the foreground in its own session, and stop() ends it by pid.

    c = Cluster(base); c.start()
    subprocess.run(["sbatch", ...], env=c.env)
    urllib.request.urlopen(c.cache_url + "/some/object")
    c.stop()

As a command, for a human or a benchmark script:

    cluster.py start BASE    starts the daemons, prints `export` lines and the
                             cache URL, and leaves the daemons running
    cluster.py stop BASE     stops them by the pid files under BASE
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

DAEMONS = ("munged", "slurmctld", "slurmd", "nginx")
BINARIES = {
    "munged": "munged", "slurmctld": "slurmctld", "slurmd": "slurmd",
    "sbatch": "sbatch", "squeue": "squeue", "scancel": "scancel",
    "sinfo": "sinfo", "scontrol": "scontrol", "nginx": "nginx",
}
SBIN = ("/usr/sbin", "/sbin", "/usr/local/sbin")
START_TIMEOUT = 30.0
# How long slurmctld waits for a silent slurmd before it sets the node DOWN
# (it pings every third of this).
SLURMD_TIMEOUT = 10


def _which(name):
    path = shutil.which(name)
    if path:
        return path
    for d in SBIN:
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return None


def available():
    """(True, "") when a cluster can be started here, else (False, why)."""
    missing = [n for n, b in BINARIES.items() if _which(b) is None]
    if missing:
        return False, ("missing " + ", ".join(missing)
                       + " (Debian packages munge slurmctld slurmd slurm-client nginx-core)")
    if not sys.platform.startswith("linux"):
        return False, "needs Linux"
    return True, ""


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path, n=25):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError as e:
        return f"({path}: {e.strerror})"
    return "\n".join(lines[-n:])


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return None


def _alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2:][:1] != b"Z"


def _kill(pid, marker, grace=5.0, popen=None):
    """Ends pid if it is still the process whose command line names marker
    (so a reused pid is never hit): SIGTERM, then SIGKILL after grace."""
    cmd = _cmdline(pid)
    if cmd is None or marker not in cmd:
        if popen is not None:
            popen.poll()
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        end = time.monotonic() + wait
        while time.monotonic() < end:
            if popen is not None and popen.poll() is not None:
                return
            if not _alive(pid):
                if popen is not None:
                    popen.wait()
                return
            time.sleep(0.05)
    if popen is not None:
        popen.wait(timeout=5)


def _children():
    """{ppid: [pid, ...]} for every process readable in /proc."""
    tree = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        tree.setdefault(ppid, []).append(int(name))
    return tree


class Cluster:
    """One node's Slurm (munged, slurmctld, slurmd) and an nginx with WebDAV
    PUT, all on 127.0.0.1 and all under base."""

    def __init__(self, base):
        self.base = os.path.abspath(base)
        self.conf = os.path.join(self.base, "slurm.conf")
        self.munge_socket = os.path.join(self.base, "munge", "munge.socket")
        self.cache_dir = os.path.join(self.base, "cache")
        self.node = socket.gethostname().split(".")[0]
        self._procs = {}
        self._ports = None
        env = dict(os.environ)
        env.update({"SLURM_CONF": self.conf})
        # Client settings from the caller's environment would override ours.
        for k in list(env):
            if k.startswith(("SBATCH_", "SQUEUE_", "SINFO_", "SCANCEL_")):
                del env[k]
        self.env = env
        self.cache_url = None
        self._load_ports()

    # ---- paths ---------------------------------------------------------

    def _p(self, *parts):
        return os.path.join(self.base, *parts)

    def _pidfile(self, name):
        return self._p("run", name + ".pid")

    def _log(self, name):
        return self._p("log", name + ".log")

    def _load_ports(self):
        """The ports of a cluster started earlier in base (for `stop BASE`
        and for a Cluster made again over a running one)."""
        try:
            with open(self._p("run", "ports")) as f:
                slurmctld, slurmd, http = (int(x) for x in f.read().split())
        except (OSError, ValueError):
            return
        self._ports = (slurmctld, slurmd, http)
        self.cache_url = f"http://127.0.0.1:{http}/cache"

    # ---- configuration -------------------------------------------------

    def _write(self, rel, text, mode=0o644):
        path = self._p(rel)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def _configure(self):
        for d in ("munge", "run", "log", "state", "spool", "cache", "nginx", "nginx/tmp"):
            os.makedirs(self._p(d), exist_ok=True)
        # munged refuses directories others can write to; the key must be
        # private to its owner.
        os.chmod(self.base, 0o755)
        # (The socket must be reachable by everyone: jobs are clients too.)
        os.chmod(self._p("munge"), 0o755)
        key = self._p("munge", "munge.key")
        if not os.path.exists(key):
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
            with os.fdopen(fd, "wb") as f:
                f.write(os.urandom(1024))
        os.chmod(key, 0o400)

        slurmctld_port, slurmd_port, http_port = (_free_port(), _free_port(), _free_port())
        while len({slurmctld_port, slurmd_port, http_port}) < 3:
            slurmd_port, http_port = _free_port(), _free_port()
        self._ports = (slurmctld_port, slurmd_port, http_port)
        with open(self._p("run", "ports"), "w") as f:
            f.write(f"{slurmctld_port} {slurmd_port} {http_port}\n")
        self.cache_url = f"http://127.0.0.1:{http_port}/cache"

        user = _user_name()
        hw = _hardware()
        # Leave the machine some memory; RealMemory above what slurmd finds
        # would drain the node.
        mem = max(1, _mem_mb() - 256)
        plugstack = self._write("plugstack.conf", "")
        self._write("slurm.conf", f"""\
# Written by tests/services/cluster.py: one node, everything under {self.base}.
ClusterName=slipway-test
SlurmctldHost={self.node}(127.0.0.1)
SlurmctldPort={slurmctld_port}
SlurmdPort={slurmd_port}
SlurmUser={user}
SlurmdUser={user}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
StateSaveLocation={self._p("state")}
SlurmdSpoolDir={self._p("spool")}
SlurmctldPidFile={self._p("run", "slurmctld.own.pid")}
SlurmdPidFile={self._p("run", "slurmd.own.pid")}
SlurmctldLogFile={self._log("slurmctld")}
SlurmdLogFile={self._log("slurmd")}
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig={plugstack}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmdTimeout={SLURMD_TIMEOUT}
SlurmctldTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=300
# slipway submits thousands of jobs at once; finished ones stay MinJobAge.
MaxJobCount=100000
NodeName={self.node} NodeAddr=127.0.0.1 {hw} RealMemory={mem} State=UNKNOWN
PartitionName=main Nodes={self.node} Default=YES MaxTime=INFINITE State=UP
""")
        root = os.geteuid() == 0
        n = self._p("nginx")
        self._write("nginx.conf", f"""\
# Written by tests/services/cluster.py.
{"user root;" if root else ""}
daemon off;
master_process on;
worker_processes 1;
pid {n}/nginx.pid;
error_log {n}/error.log info;
events {{ worker_connections 512; }}
http {{
    default_type application/octet-stream;
    access_log {n}/access.log;
    client_body_temp_path {n}/tmp/body;
    proxy_temp_path {n}/tmp/proxy;
    fastcgi_temp_path {n}/tmp/fastcgi;
    uwsgi_temp_path {n}/tmp/uwsgi;
    scgi_temp_path {n}/tmp/scgi;
    sendfile on;
    server {{
        listen 127.0.0.1:{http_port};
        server_name localhost;
        location /cache/ {{
            root {self.base};
            dav_methods PUT DELETE MKCOL;
            create_full_put_path on;
            client_max_body_size 0;
            dav_access user:rw group:rw all:r;
            log_not_found off;
        }}
    }}
}}
""")

    # ---- processes -----------------------------------------------------

    def _marker(self):
        return self.base + "/"

    def _spawn(self, name, argv):
        log = open(self._log(name + ".stdio"), "ab")
        try:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                 env=self.env, cwd=self.base, start_new_session=True)
        finally:
            log.close()
        self._procs[name] = p
        with open(self._pidfile(name), "w") as f:
            f.write(f"{p.pid}\n")
        return p

    def _argv(self, name):
        if name == "munged":
            return [_which("munged"), "-F", "--force",
                    f"--socket={self.munge_socket}",
                    f"--key-file={self._p('munge', 'munge.key')}",
                    f"--pid-file={self._p('munge', 'munged.pid')}",
                    f"--log-file={self._log('munged')}",
                    f"--seed-file={self._p('munge', 'munged.seed')}"]
        if name == "slurmctld":
            return [_which("slurmctld"), "-D", "-c", "-i", "-f", self.conf]
        if name == "slurmd":
            return [_which("slurmd"), "-D", "-N", self.node, "-f", self.conf]
        if name == "nginx":
            return [_which("nginx"), "-e", self._p("nginx", "error.log"),
                    "-c", self._p("nginx.conf"), "-p", self._p("nginx") + "/"]
        raise ValueError(name)

    def _fail(self, what):
        logs = []
        for name, path in (("munged", self._log("munged")),
                           ("slurmctld", self._log("slurmctld")),
                           ("slurmd", self._log("slurmd")),
                           ("nginx", self._p("nginx", "error.log"))):
            logs.append(f"--- {name} ({path}) ---\n{_tail(path)}")
            stdio = self._log(name + ".stdio")
            if os.path.exists(stdio) and os.path.getsize(stdio):
                logs.append(f"--- {name} stdout/stderr ---\n{_tail(stdio)}")
        self.stop()
        raise RuntimeError(f"cluster: {what}\n" + "\n".join(logs))

    def _wait(self, what, cond, names, timeout=START_TIMEOUT):
        end = time.monotonic() + timeout
        while True:
            for n in names:
                p = self._procs.get(n)
                if p is not None and p.poll() is not None:
                    self._fail(f"{n} exited with {p.returncode} while waiting for {what}")
            if cond():
                return
            if time.monotonic() > end:
                self._fail(f"{what}: not within {timeout:.0f} s")
            time.sleep(0.1)

    def run(self, *argv, check=False, timeout=60):
        """A Slurm client command with this cluster's environment."""
        return subprocess.run(list(argv), env=self.env, capture_output=True, text=True,
                              check=check, timeout=timeout)

    def node_state(self):
        """The node's state as sinfo prints it ("idle", "down*", ...), or None."""
        try:
            p = self.run("sinfo", "-h", "-N", "-o", "%T", timeout=10)
        except subprocess.TimeoutExpired:
            return None
        if p.returncode != 0:
            return None
        return p.stdout.strip() or None

    def wait_node(self, states=("idle", "mixed", "allocated"), timeout=START_TIMEOUT):
        """Waits until the node is in one of states (as sinfo prints them)."""
        self._wait(f"node in {'/'.join(states)} (is {self.node_state()})",
                   lambda: self.node_state() in states, ("slurmctld", "slurmd"), timeout)

    def _http_up(self):
        try:
            urllib.request.urlopen(urllib.request.Request(
                self.cache_url + "/.probe-of-a-missing-object", method="HEAD"), timeout=2)
        except urllib.error.HTTPError as e:
            return e.code == 404
        except OSError:
            return False
        return False

    def start(self):
        ok, why = available()
        if not ok:
            raise RuntimeError("cluster: unavailable: " + why)
        os.makedirs(self.base, exist_ok=True)
        self._configure()
        try:
            self._spawn("munged", self._argv("munged"))
            self._wait("munged's socket", lambda: os.path.exists(self.munge_socket), ("munged",))
            self._spawn("nginx", self._argv("nginx"))
            self._spawn("slurmctld", self._argv("slurmctld"))
            self._wait("slurmctld answering",
                       lambda: self.run("scontrol", "ping", timeout=10).stdout.find("UP") >= 0,
                       ("slurmctld",))
            self._spawn("slurmd", self._argv("slurmd"))
            self.wait_node(("idle",))
            self._wait("nginx answering", self._http_up, ("nginx",))
        except BaseException:
            self.stop()
            raise
        return self

    def start_slurmd(self):
        """Starts slurmd again (after stop_slurmd) and waits until the node
        is usable (idle, mixed or allocated)."""
        self._spawn("slurmd", self._argv("slurmd"))
        self.wait_node(timeout=START_TIMEOUT + 2 * SLURMD_TIMEOUT)

    def stop_slurmd(self):
        """Kills slurmd with SIGKILL, as a crash would (the job steps'
        slurmstepd processes are left running, as after a real crash)."""
        pid = self._pid("slurmd")
        if pid is None:
            return
        p = self._procs.pop("slurmd", None)
        if _cmdline(pid) and self._marker() in _cmdline(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if p is not None:
            p.wait(timeout=10)
        else:
            end = time.monotonic() + 10
            while _alive(pid) and time.monotonic() < end:
                time.sleep(0.05)
        try:
            os.unlink(self._pidfile("slurmd"))
        except FileNotFoundError:
            pass

    def _pid(self, name):
        p = self._procs.get(name)
        if p is not None:
            return p.pid
        try:
            with open(self._pidfile(name)) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def _stepds(self):
        """slurmstepd processes (and their descendants) of this cluster: the
        ones whose environment names this slurm.conf."""
        mark = f"SLURM_CONF={self.conf}\0".encode()
        found = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/comm", "rb") as f:
                    if not f.read().startswith(b"slurmstepd"):
                        continue
                with open(f"/proc/{name}/environ", "rb") as f:
                    if mark not in f.read() + b"\0":
                        continue
            except OSError:
                continue
            found.append(int(name))
        if not found:
            return []
        tree = _children()
        out, todo = [], list(found)
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo.extend(tree.get(pid, []))
        return out

    def stop(self):
        """Stops everything this cluster started, by pid: jobs first (through
        scancel while slurmctld is up), then the daemons (SIGTERM, SIGKILL
        after a few seconds), then any job step left behind. Idempotent."""
        if self._pid("slurmctld") is not None and _alive(self._pid("slurmctld")):
            try:
                q = self.run("squeue", "-h", "-o", "%i", timeout=10)
                ids = q.stdout.split() if q.returncode == 0 else []
                if ids:
                    self.run("scancel", *ids, timeout=20)
                    end = time.monotonic() + 8
                    while time.monotonic() < end:
                        q = self.run("squeue", "-h", "-t", "RUNNING,COMPLETING", "-o", "%i",
                                     timeout=10)
                        if q.returncode != 0 or not q.stdout.strip():
                            break
                        time.sleep(0.2)
            except (OSError, subprocess.SubprocessError):
                pass
        for name in ("slurmd", "slurmctld", "nginx", "munged"):
            pid = self._pid(name)
            if pid is not None:
                _kill(pid, self._marker(), popen=self._procs.get(name))
            self._procs.pop(name, None)
            try:
                os.unlink(self._pidfile(name))
            except FileNotFoundError:
                pass
        # nginx's worker normally leaves with its master; slurmstepd outlives
        # a killed slurmd by design.
        for pid in self._stepds():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _user_name():
    import pwd
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def _hardware():
    """The node's CPUs and their layout as `slurmd -C` reports them (so
    slurmd does not find the configuration at odds with the machine)."""
    keys = ("CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore")
    try:
        out = subprocess.run([_which("slurmd"), "-C"], capture_output=True, text=True,
                             timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    found = dict(re.findall(r"(\w+)=(\S+)", out.splitlines()[0] if out else ""))
    if all(k in found for k in keys):
        return " ".join(f"{k}={found[k]}" for k in keys)
    return f"CPUs={os.cpu_count() or 1}"


def _mem_mb():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return 1024


def main(argv):
    if len(argv) != 3 or argv[1] not in ("start", "stop"):
        print(f"usage: {argv[0]} start|stop BASE", file=sys.stderr)
        return 2
    c = Cluster(argv[2])
    if argv[1] == "stop":
        c.stop()
        return 0
    ok, why = available()
    if not ok:
        print(f"cluster: unavailable: {why}", file=sys.stderr)
        return 77
    try:
        c.start()
    except RuntimeError as e:
        print(e, file=sys.stderr)
        return 1
    print(f"export SLURM_CONF={c.conf}")
    print(f"export SLIPWAY_TEST_CACHE_URL={c.cache_url}")
    print(f"# cache_url {c.cache_url}")
    print(f"# cache_dir {c.cache_dir}")
    print(f"# stop with: {argv[0]} stop {c.base}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
